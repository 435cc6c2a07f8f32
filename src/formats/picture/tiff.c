/*
 * tiff.c: TIFF (TIFF 6.0; BigTIFF) through libtiff 4.5, from and to memory.
 *
 * Read: every image directory (page) except reduced-resolution ones
 * (NewSubfileType bit 0, TIFF 6.0 section 8) becomes a page, so a
 * multi-page TIFF is a stack. Grey (BlackIsZero, WhiteIsZero inverted to
 * BlackIsZero) of 8 or 16 bits unsigned, 16 bits signed or 32-bit float,
 * and 8-bit RGB, in strips or tiles, any compression libtiff decodes, are
 * read as they are (extra samples such as alpha dropped); other 8-bit and
 * bilevel kinds (palette, YCbCr, CMYK, separate planes, 1-bit) go through
 * TIFFReadRGBAImageOriented and come out as rgb8, or uint8 for grey ones.
 * Before a page is decoded its size is checked: the decoded raw data
 * (height x scanline) cannot exceed MAX_RATIO times the file (the
 * strongest TIFF codecs, LZW and deflate, stay far below it on real data),
 * nor the context's memory budget; libtiff's single allocation is capped.
 * libtiff's error and warning handlers are per handle (no global state, no
 * printing).
 *
 * Write: one file of one or more pages (a multi-page TIFF), uint8, uint16,
 * int16, float32 grey or rgb8, contiguous, with the chosen compression.
 */
#include "formats/picture/picture.h"

#include <stdio.h>
#include <tiffio.h>

#define MAX_RATIO 4096u
/* libtiff's largest single allocation (strip or tile buffers, directory arrays). */
#define MAX_SINGLE_ALLOC ((tmsize_t)256 << 20)

/* ---- memory I/O ---- */

typedef struct Memory {
    const uint8_t *input; /* reading */
    uint8_t *output;      /* writing */
    size_t size, capacity, at;
    bool out_of_memory;
    char message[256];
} Memory;

static tmsize_t memory_read(thandle_t handle, void *buffer, tmsize_t length)
{
    Memory *m = handle;
    const uint8_t *from = m->input != NULL ? m->input : m->output;
    if (length < 0 || m->at >= m->size) {
        return 0;
    }
    size_t n = (size_t)length < m->size - m->at ? (size_t)length : m->size - m->at;
    memcpy(buffer, from + m->at, n);
    m->at += n;
    return (tmsize_t)n;
}

static tmsize_t memory_write(thandle_t handle, void *buffer, tmsize_t length)
{
    Memory *m = handle;
    size_t end;
    if (m->input != NULL || length < 0 || !imd__add_size(m->at, (size_t)length, &end)) {
        return -1;
    }
    if (end > m->capacity) {
        size_t capacity = m->capacity > 0 ? m->capacity : 65536;
        while (capacity < end) {
            capacity = capacity > SIZE_MAX / 2 ? end : capacity * 2;
        }
        uint8_t *grown = realloc(m->output, capacity);
        if (grown == NULL) {
            m->out_of_memory = true;
            return -1;
        }
        m->output = grown;
        m->capacity = capacity;
    }
    if (m->at > m->size) {
        memset(m->output + m->size, 0, m->at - m->size); /* a seek past the end leaves a hole */
    }
    memcpy(m->output + m->at, buffer, (size_t)length);
    m->at = end;
    m->size = end > m->size ? end : m->size;
    return length;
}

static toff_t memory_seek(thandle_t handle, toff_t offset, int whence)
{
    Memory *m = handle;
    uint64_t base = whence == SEEK_CUR ? m->at : whence == SEEK_END ? m->size : 0;
    uint64_t target = base + offset;
    if (target < base || target > (uint64_t)SIZE_MAX / 2 ||
        (m->input != NULL && target > m->size)) {
        return (toff_t)-1;
    }
    m->at = (size_t)target;
    return target;
}

static int memory_close(thandle_t handle)
{
    IMD__UNUSED(handle);
    return 0;
}

static toff_t memory_size(thandle_t handle)
{
    return ((Memory *)handle)->size;
}

static int memory_map(thandle_t handle, void **base, toff_t *size)
{
    IMD__UNUSED(handle);
    IMD__UNUSED(base);
    IMD__UNUSED(size);
    return 0; /* not mapped: libtiff reads through memory_read */
}

static void memory_unmap(thandle_t handle, void *base, toff_t size)
{
    IMD__UNUSED(handle);
    IMD__UNUSED(base);
    IMD__UNUSED(size);
}

static int on_error(TIFF *tif, void *user, const char *module, const char *format, va_list args)
    IMD_PRINTF(4, 0);
static int on_error(TIFF *tif, void *user, const char *module, const char *format, va_list args)
{
    IMD__UNUSED(tif);
    Memory *m = user;
    if (m->message[0] == '\0') { /* the first error is the cause */
        char text[200];
        vsnprintf(text, sizeof text, format, args);
        snprintf(m->message, sizeof m->message, "%s%s%s", module != NULL ? module : "",
                 module != NULL ? ": " : "", text);
    }
    return 1; /* handled: libtiff's global handler (stderr) is not called */
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *format,
                      va_list args)
{
    IMD__UNUSED(tif);
    IMD__UNUSED(user);
    IMD__UNUSED(module);
    IMD__UNUSED(format);
    IMD__UNUSED(args);
    return 1; /* unknown tags and the like: dropped, the library never prints */
}

static TIFF *open_memory(Memory *m, const char *name, const char *mode)
{
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (options == NULL) {
        return NULL;
    }
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, MAX_SINGLE_ALLOC);
    TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, m);
    TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, m);
    TIFF *tif = TIFFClientOpenExt(name, mode, m, memory_read, memory_write, memory_seek,
                                  memory_close, memory_size, memory_map, memory_unmap, options);
    TIFFOpenOptionsFree(options);
    return tif;
}

/* ---- reading ---- */

typedef struct Layout {
    uint32_t width, height;
    uint16_t bits, samples, extra, format, photometric, planar;
    ImdDType dtype;
    bool direct; /* samples copied as they are; else through the RGBA interface */
} Layout;

static const char *photometric_name(uint16_t p)
{
    switch (p) {
    case PHOTOMETRIC_MINISWHITE: return "WhiteIsZero";
    case PHOTOMETRIC_MINISBLACK: return "BlackIsZero";
    case PHOTOMETRIC_RGB: return "RGB";
    case PHOTOMETRIC_PALETTE: return "palette";
    case PHOTOMETRIC_SEPARATED: return "CMYK";
    case PHOTOMETRIC_YCBCR: return "YCbCr";
    default: return "this photometric interpretation";
    }
}

/* What a directory holds and how it is read; false (UNSUPPORTED) when we cannot. */
static bool layout_of(ImdError **error, TIFF *tif, const char *name, Layout *l)
{
    memset(l, 0, sizeof *l);
    uint16_t *extra_types = NULL;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &l->width) ||
        !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &l->height)) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: TIFF directory without a size", name);
        return false;
    }
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &l->bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &l->samples);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &l->format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &l->planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &l->extra, &extra_types);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &l->photometric)) {
        l->photometric = l->samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    }
    bool grey = l->photometric == PHOTOMETRIC_MINISBLACK ||
                l->photometric == PHOTOMETRIC_MINISWHITE;
    size_t colours = l->samples > l->extra ? (size_t)(l->samples - l->extra) : 0;
    bool contiguous = l->planar == PLANARCONFIG_CONTIG || l->samples == 1;
    l->direct = contiguous;
    if (grey && colours == 1 && l->bits == 8 && l->format == SAMPLEFORMAT_UINT) {
        l->dtype = IMD_DTYPE_UINT8;
    } else if (grey && colours == 1 && l->bits == 16 && l->format == SAMPLEFORMAT_UINT) {
        l->dtype = IMD_DTYPE_UINT16;
    } else if (grey && colours == 1 && l->bits == 16 && l->format == SAMPLEFORMAT_INT) {
        l->dtype = IMD_DTYPE_INT16;
    } else if (grey && colours == 1 && l->bits == 32 && l->format == SAMPLEFORMAT_IEEEFP) {
        l->dtype = IMD_DTYPE_FLOAT32;
    } else if (l->photometric == PHOTOMETRIC_RGB && colours == 3 && l->bits == 8 &&
               l->format == SAMPLEFORMAT_UINT) {
        l->dtype = IMD_DTYPE_RGB8;
    } else {
        l->direct = false;
    }
    if (!l->direct) {
        /* The RGBA interface reads 1-16 bit unsigned data of the common kinds. */
        char reason[1024] = "";
        if (l->format != SAMPLEFORMAT_UINT || l->bits > 16 || !TIFFRGBAImageOK(tif, reason)) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED,
                          "%s: TIFF %s image of %u samples of %u bits (format %u) is not read%s%s",
                          name, photometric_name(l->photometric), l->samples, l->bits, l->format,
                          reason[0] != '\0' ? ": " : "", reason);
            return false;
        }
        l->dtype = grey ? IMD_DTYPE_UINT8 : IMD_DTYPE_RGB8;
    }
    return true;
}

/* Copy `rows` rows of `width` pixels of `in_pixel` bytes, keeping the first `out_pixel` bytes. */
static void copy_rows(uint8_t *out, size_t out_stride, const uint8_t *in, size_t in_stride,
                      size_t rows, size_t width, size_t in_pixel, size_t out_pixel)
{
    for (size_t y = 0; y < rows; y++) {
        if (in_pixel == out_pixel) {
            memcpy(out + y * out_stride, in + y * in_stride, width * out_pixel);
            continue;
        }
        for (size_t x = 0; x < width; x++) {
            memcpy(out + y * out_stride + x * out_pixel, in + y * in_stride + x * in_pixel,
                   out_pixel);
        }
    }
}

static bool read_direct(ImdError **error, TIFF *tif, Memory *m, const char *name,
                        const Layout *l, uint8_t *out)
{
    size_t out_pixel = imd_dtype_size(l->dtype), in_pixel = (size_t)l->samples * (l->bits / 8);
    size_t out_stride = (size_t)l->width * out_pixel;
    bool tiled = TIFFIsTiled(tif) != 0;
    tmsize_t chunk = tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
    /* A tile may claim far more than the image (TileWidth is only bounded by 2^32). */
    if (chunk > MAX_SINGLE_ALLOC || (chunk > 0 && (uint64_t)chunk / MAX_RATIO > m->size)) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: TIFF %s of %lld bytes in a file of %zu",
                      name, tiled ? "tile" : "strip", (long long)chunk, m->size);
        return false;
    }
    if (chunk > 0 && !imd__check_alloc(error, NULL, (uint64_t)chunk, name)) {
        return false;
    }
    uint8_t *buffer = chunk > 0 ? imd__malloc(error, (size_t)chunk) : NULL;
    if (buffer == NULL) {
        if (chunk <= 0) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: TIFF: %s", name,
                          m->message[0] != '\0' ? m->message : "bad strip or tile size");
        }
        return false;
    }
    bool ok = true;
    if (tiled) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        size_t in_stride = (size_t)tw * in_pixel;
        ok = tw > 0 && th > 0 && (uint64_t)in_stride * th <= (uint64_t)chunk;
        for (uint32_t y = 0; ok && y < l->height; y += th) {
            for (uint32_t x = 0; ok && x < l->width; x += tw) {
                ok = TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x, y, 0, 0), buffer, chunk) >=
                     0;
                size_t rows = l->height - y < th ? l->height - y : th;
                size_t cols = l->width - x < tw ? l->width - x : tw;
                if (ok) {
                    copy_rows(out + (size_t)y * out_stride + (size_t)x * out_pixel, out_stride,
                              buffer, in_stride, rows, cols, in_pixel, out_pixel);
                }
            }
        }
    } else {
        uint32_t per_strip = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &per_strip);
        per_strip = per_strip == 0 || per_strip > l->height ? l->height : per_strip;
        size_t in_stride = (size_t)l->width * in_pixel;
        ok = (uint64_t)in_stride * per_strip <= (uint64_t)chunk;
        for (uint32_t y = 0; ok && y < l->height; y += per_strip) {
            size_t rows = l->height - y < per_strip ? l->height - y : per_strip;
            tmsize_t want = (tmsize_t)(rows * in_stride);
            tmsize_t got = TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, 0), buffer, want);
            ok = got >= want;
            if (ok) {
                copy_rows(out + (size_t)y * out_stride, out_stride, buffer, in_stride, rows,
                          l->width, in_pixel, out_pixel);
            }
        }
    }
    free(buffer);
    if (!ok) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: TIFF: %s", name,
                      m->message[0] != '\0' ? m->message : "short or unreadable strip or tile");
    }
    return ok;
}

static bool read_rgba(ImdError **error, TIFF *tif, Memory *m, const char *name,
                      const Layout *l, uint8_t *out)
{
    size_t count = (size_t)l->width * l->height;
    uint32_t *rgba = imd__calloc(error, count, sizeof *rgba);
    if (rgba == NULL) {
        return false;
    }
    if (!TIFFReadRGBAImageOriented(tif, l->width, l->height, rgba, ORIENTATION_TOPLEFT, 1)) {
        free(rgba);
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: TIFF: %s", name,
                      m->message[0] != '\0' ? m->message : "cannot decode the image");
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (l->dtype == IMD_DTYPE_UINT8) {
            out[i] = (uint8_t)TIFFGetR(rgba[i]);
        } else {
            out[3 * i] = (uint8_t)TIFFGetR(rgba[i]);
            out[3 * i + 1] = (uint8_t)TIFFGetG(rgba[i]);
            out[3 * i + 2] = (uint8_t)TIFFGetB(rgba[i]);
        }
    }
    free(rgba);
    return true;
}

/* WhiteIsZero: the largest value is black (TIFF 6.0 section 4). */
static void invert(ImdPicturePage *page)
{
    size_t n = page->width * page->height;
    if (page->dtype == IMD_DTYPE_UINT8) {
        for (size_t i = 0; i < n; i++) {
            page->data[i] = (uint8_t)(255 - page->data[i]);
        }
    } else if (page->dtype == IMD_DTYPE_UINT16) {
        uint16_t *v = (uint16_t *)(void *)page->data;
        for (size_t i = 0; i < n; i++) {
            v[i] = (uint16_t)(65535 - v[i]);
        }
    }
}

/*
 * The RGBA interface needs 4 bytes per pixel: bilevel data (1 bit a pixel,
 * and fax codes) may claim many pixels per byte of file; more than
 * RGBA_PIXELS_PER_BYTE is refused.
 */
#define RGBA_PIXELS_PER_BYTE 16384u

static bool check_rgba(ImdError **error, const char *name, const Layout *l, size_t input_size)
{
    uint64_t pixels = (uint64_t)l->width * l->height;
    if (pixels / RGBA_PIXELS_PER_BYTE > input_size) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "%s: %zu bytes of TIFF cannot hold %u x %u pixels (truncated or a "
                      "decompression bomb)", name, input_size, l->width, l->height);
        return false;
    }
    return imd__check_alloc(error, NULL, pixels * 4, "TIFF page");
}

static bool read_page(ImdError **error, TIFF *tif, Memory *m, const char *name, size_t input_size,
                      ImdPicturePages *pages)
{
    Layout l;
    if (!layout_of(error, tif, name, &l)) {
        return false;
    }
    uint64_t scanline = (uint64_t)TIFFScanlineSize64(tif);
    if (l.planar == PLANARCONFIG_SEPARATE && l.samples > 1) {
        scanline *= l.samples;
    }
    size_t bytes = 0;
    if (!imd__picture_check_size(error, name, "TIFF page", l.width, l.height,
                                 imd_dtype_size(l.dtype), scanline * l.height, input_size,
                                 MAX_RATIO, &bytes) ||
        (!l.direct && !check_rgba(error, name, &l, input_size))) {
        return false;
    }
    ImdPicturePage page = {l.width, l.height, l.dtype, imd__malloc(error, bytes)};
    if (page.data == NULL) {
        return false;
    }
    bool ok = l.direct ? read_direct(error, tif, m, name, &l, page.data)
                       : read_rgba(error, tif, m, name, &l, page.data);
    if (!ok) {
        free(page.data);
        return false;
    }
    if (l.direct && l.photometric == PHOTOMETRIC_MINISWHITE) {
        invert(&page);
    }
    return imd__picture_pages_add(error, pages, page);
}

bool imd__picture_tiff_decode(ImdError **error, const uint8_t *bytes, size_t size,
                              const char *name, ImdPicturePages *pages)
{
    bool little = size >= 4 && bytes[0] == 'I' && bytes[1] == 'I' &&
                  (bytes[2] == 42 || bytes[2] == 43) && bytes[3] == 0;
    bool big = size >= 4 && bytes[0] == 'M' && bytes[1] == 'M' && bytes[2] == 0 &&
               (bytes[3] == 42 || bytes[3] == 43);
    if (bytes == NULL || (!little && !big)) {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "%s: no TIFF header", name);
        return false;
    }
    Memory m;
    memset(&m, 0, sizeof m);
    m.input = bytes;
    m.size = size;
    TIFF *tif = open_memory(&m, name, "rm");
    if (tif == NULL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: TIFF: %s", name,
                      m.message[0] != '\0' ? m.message : "cannot open");
        return false;
    }
    size_t first = pages->count, read = 0;
    bool ok = true;
    do {
        uint32_t subfile = 0;
        TIFFGetFieldDefaulted(tif, TIFFTAG_SUBFILETYPE, &subfile);
        if ((subfile & FILETYPE_REDUCEDIMAGE) != 0) {
            continue; /* a thumbnail or a lower resolution of another page */
        }
        if (read++ >= IMD__PICTURE_MAX_PAGES) {
            imd_error_set(error, IMD_ERR_LIMIT, "%s: more than %zu TIFF pages", name,
                          IMD__PICTURE_MAX_PAGES);
            ok = false;
            break;
        }
        ok = read_page(error, tif, &m, name, size, pages);
    } while (ok && TIFFReadDirectory(tif));
    if (ok && m.message[0] != '\0') { /* a damaged later directory: not a silent short stack */
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: TIFF: %s", name, m.message);
        ok = false;
    }
    if (ok && read == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: TIFF without a full-resolution image", name);
        ok = false;
    }
    TIFFClose(tif);
    if (!ok) {
        for (size_t i = first; i < pages->count; i++) {
            free(pages->pages[i].data);
        }
        pages->count = first;
    }
    return ok;
}

/* ---- writing ---- */

static bool compression_code(const char *name, uint16_t *code)
{
    static const struct {
        const char *name;
        uint16_t code;
    } table[] = {{"none", COMPRESSION_NONE},
                 {"deflate", COMPRESSION_ADOBE_DEFLATE},
                 {"lzw", COMPRESSION_LZW},
                 {"packbits", COMPRESSION_PACKBITS}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(name, table[i].name) == 0) {
            *code = table[i].code;
            return true;
        }
    }
    return false;
}

static bool write_page(TIFF *tif, const ImdPicturePage *page, uint16_t compression,
                       size_t index, size_t count)
{
    uint16_t samples = page->dtype == IMD_DTYPE_RGB8 ? 3 : 1;
    uint16_t bits = (uint16_t)(8 * imd_dtype_size(page->dtype) / samples);
    uint16_t format = page->dtype == IMD_DTYPE_INT16     ? SAMPLEFORMAT_INT
                      : page->dtype == IMD_DTYPE_FLOAT32 ? SAMPLEFORMAT_IEEEFP
                                                         : SAMPLEFORMAT_UINT;
    bool ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)page->width) &&
              TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)page->height) &&
              TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits) &&
              TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, samples) &&
              TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, format) &&
              TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
                           samples == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK) &&
              TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
              TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT) &&
              TIFFSetField(tif, TIFFTAG_COMPRESSION, compression) &&
              TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0)) &&
              TIFFSetField(tif, TIFFTAG_SOFTWARE, "imagedata");
    if (ok && count > 1) {
        /* A page of a multi-page file (TIFF 6.0 section 8, PageNumber). */
        ok = TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE) &&
             TIFFSetField(tif, TIFFTAG_PAGENUMBER, (uint16_t)(index < 65535 ? index : 65535),
                          (uint16_t)(count < 65535 ? count : 65535));
    }
    size_t row_bytes = page->width * imd_dtype_size(page->dtype);
    for (size_t y = 0; ok && y < page->height; y++) {
        /* TIFFWriteScanline does not change the row unless the codec works in place (not ours). */
        ok = TIFFWriteScanline(tif, (void *)(uintptr_t)(page->data + y * row_bytes),
                               (uint32_t)y, 0) == 1;
    }
    return ok && TIFFWriteDirectory(tif);
}

bool imd__picture_tiff_encode(ImdError **error, const ImdPicturePage *pages, size_t count,
                              const char *compression, const char *name, uint8_t **out,
                              size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    uint16_t code = COMPRESSION_NONE;
    if (!compression_code(compression, &code)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "tiff_compression=%s: expected none, deflate, lzw or packbits", compression);
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (pages[i].width > UINT32_MAX || pages[i].height > UINT32_MAX) {
            imd_error_set(error, IMD_ERR_LIMIT, "%s: page too large for TIFF", name);
            return false;
        }
    }
    Memory m;
    memset(&m, 0, sizeof m);
    TIFF *tif = open_memory(&m, name, "w");
    bool ok = tif != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        ok = write_page(tif, &pages[i], code, i, count);
    }
    if (tif != NULL) {
        TIFFClose(tif); /* writes what is left */
    }
    ok = ok && m.message[0] == '\0' && !m.out_of_memory;
    if (!ok) {
        imd_error_set(error, m.out_of_memory ? IMD_ERR_NOMEM : IMD_ERR_INTERNAL, "%s: TIFF: %s",
                      name, m.message[0] != '\0' ? m.message : "cannot write");
        free(m.output);
        return false;
    }
    *out = m.output;
    *out_size = m.size;
    return true;
}
