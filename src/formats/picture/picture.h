/*
 * picture.h: what the picture formats (PNG, JPEG, TIFF) share inside
 * src/formats/picture: decoded pages, the size checks every decoder makes
 * before it allocates, and the codecs' entry points (png.c, jpeg.c,
 * tiff.c). format.c turns pages into series and series into files.
 */
#ifndef IMAGEDATA_PICTURE_H
#define IMAGEDATA_PICTURE_H

#include "internal.h"

/* Largest width or height accepted from a file (PNG allows 2^31 - 1). */
#define IMD__PICTURE_MAX_SIDE ((size_t)1 << 18)
/* Most pages one file may hold (a multi-page TIFF). */
#define IMD__PICTURE_MAX_PAGES ((size_t)1 << 16)

/* One decoded image: height x width pixels, row-major, native byte order. */
typedef struct ImdPicturePage {
    size_t width, height;
    ImdDType dtype; /* UINT8, UINT16, INT16, FLOAT32 or RGB8 */
    uint8_t *data;
} ImdPicturePage;

typedef struct ImdPicturePages {
    ImdPicturePage *pages;
    size_t count, capacity;
} ImdPicturePages;

/* Append `page` (its data then belongs to `pages`; freed here on failure). */
bool imd__picture_pages_add(ImdError **error, ImdPicturePages *pages, ImdPicturePage page);
void imd__picture_pages_free(ImdPicturePages *pages);

/*
 * Check a claimed image before anything is allocated for it: sides 1 ..
 * IMD__PICTURE_MAX_SIDE (LIMIT beyond, CORRUPT for 0); the decoded size
 * (`pixel_bytes` per pixel) must not overflow; `raw_bytes` (the data the
 * compressed stream must produce, 0 to skip) must be reachable from the
 * `input_size` bytes of the file at `max_ratio` (CORRUPT otherwise: a
 * decompression bomb or a truncated file); and the context's memory budget.
 * *bytes is the decoded size.
 */
bool imd__picture_check_size(ImdError **error, const char *name, const char *what, size_t width,
                             size_t height, size_t pixel_bytes, uint64_t raw_bytes,
                             size_t input_size, uint64_t max_ratio, size_t *bytes);

/*
 * Decoders: append the pages of the file held in `bytes` to `pages`.
 * NOT_RECOGNIZED when the signature is not theirs; CORRUPT for damaged or
 * truncated data, UNSUPPORTED for valid kinds we do not read (CMYK, 12-bit
 * JPEG), LIMIT for sizes over the limits. Messages start with `name`.
 */
bool imd__picture_png_decode(ImdError **error, const uint8_t *bytes, size_t size,
                             const char *name, ImdPicturePages *pages);
bool imd__picture_jpeg_decode(ImdError **error, const uint8_t *bytes, size_t size,
                              const char *name, ImdPicturePages *pages);
bool imd__picture_tiff_decode(ImdError **error, const uint8_t *bytes, size_t size,
                              const char *name, ImdPicturePages *pages);

/*
 * Encoders: the file of `count` pages (PNG and JPEG: exactly one) into new
 * memory (*out, free()). Types: PNG and TIFF UINT8, UINT16, RGB8 (TIFF also
 * INT16 and FLOAT32); JPEG UINT8 and RGB8. `quality` is JPEG's (1..100),
 * `compression` TIFF's ("none", "deflate", "lzw", "packbits").
 */
bool imd__picture_png_encode(ImdError **error, const ImdPicturePage *page, const char *name,
                             uint8_t **out, size_t *out_size);
bool imd__picture_jpeg_encode(ImdError **error, const ImdPicturePage *page, int quality,
                              const char *name, uint8_t **out, size_t *out_size);
bool imd__picture_tiff_encode(ImdError **error, const ImdPicturePage *pages, size_t count,
                              const char *compression, const char *name, uint8_t **out,
                              size_t *out_size);

#endif
