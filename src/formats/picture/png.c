/*
 * png.c: PNG through libpng 1.6 (ISO/IEC 15948, the PNG specification).
 *
 * Read: grey 1/2/4/8 bits -> uint8 (low depths scaled to 0..255 by libpng's
 * bit replication), grey 16 -> uint16, palette and truecolour -> rgb8
 * (16-bit colour scaled to 8 bits: the model has no 16-bit RGB), alpha
 * dropped. Interlaced files are de-interlaced. The IHDR size is checked
 * against the file before any pixel memory is allocated: the filtered rows
 * (height x (1 + row bytes)) come from one deflate stream, which cannot
 * expand more than IMD__DEFLATE_MAX_RATIO times (RFC 1951 §3.2.5), so a
 * larger claim is refused as corrupt (a decompression bomb or a truncated
 * file). libpng's own limits are set too (png_set_user_limits, the chunk
 * limits). libpng reports errors by longjmp: everything that must be freed
 * after one lives in a heap-allocated job, not in automatic variables.
 *
 * Write: uint8 and uint16 grey, rgb8; one image per file.
 */
#include "formats/picture/picture.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>

typedef struct PngJob {
    const uint8_t *input;
    size_t input_size, at;
    char message[256];
    uint8_t *data;
    png_bytep *rows;
    /* writing */
    uint8_t *output;
    size_t output_size, output_capacity;
    bool out_of_memory;
} PngJob;

static void on_error(png_structp png, png_const_charp message)
{
    PngJob *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", message != NULL ? message : "error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message)
{
    /* The library never prints: warnings (bad ancillary chunks) are dropped. */
    IMD__UNUSED(png);
    IMD__UNUSED(message);
}

static void read_bytes(png_structp png, png_bytep out, size_t length)
{
    PngJob *job = png_get_io_ptr(png);
    if (length > job->input_size - job->at) {
        png_error(png, "the file ends early (truncated)");
    }
    memcpy(out, job->input + job->at, length);
    job->at += length;
}

static bool host_little_endian(void)
{
    uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Bytes the deflate stream must produce: a filter byte per row and pass (PNG §7.3, §8). */
static uint64_t filtered_size(png_uint_32 width, png_uint_32 height, int bit_depth,
                              int color_type, int interlace)
{
    unsigned channels = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE
                            ? 1u
                        : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2u
                        : color_type == PNG_COLOR_TYPE_RGB        ? 3u
                                                                  : 4u;
    uint64_t bits = (uint64_t)width * channels * (unsigned)bit_depth;
    uint64_t row = (bits + 7) / 8 + 1;
    /* Adam7 adds at most a filter byte per row of each of its 7 passes. */
    return row * height + (interlace != PNG_INTERLACE_NONE ? (uint64_t)height * 7 : 0);
}

static void free_job(PngJob *job)
{
    if (job != NULL) {
        free(job->data);
        free(job->rows);
        free(job->output);
        free(job);
    }
}

bool imd__picture_png_decode(ImdError **error, const uint8_t *bytes, size_t size,
                             const char *name, ImdPicturePages *pages)
{
    if (bytes == NULL || size < 8 || png_sig_cmp(bytes, 0, 8) != 0) {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "%s: no PNG signature", name);
        return false;
    }
    PngJob *job = imd__calloc(error, 1, sizeof *job);
    if (job == NULL) {
        return false;
    }
    job->input = bytes;
    job->input_size = size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (info == NULL) {
        png_destroy_read_struct(png != NULL ? &png : NULL, NULL, NULL);
        free_job(job);
        imd_error_set(error, IMD_ERR_NOMEM, "%s: libpng could not start", name);
        return false;
    }
    ImdPicturePage page = {0, 0, IMD_DTYPE_UINT8, NULL};
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: PNG: %s", name, job->message);
        free_job(job);
        return false;
    }
    png_set_user_limits(png, (png_uint_32)IMD__PICTURE_MAX_SIDE,
                         (png_uint_32)IMD__PICTURE_MAX_SIDE);
    png_set_chunk_cache_max(png, 1000);          /* ancillary chunks kept */
    png_set_chunk_malloc_max(png, (size_t)8 << 20); /* one chunk's memory */
    png_set_read_fn(png, job, read_bytes);
    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    uint64_t raw = filtered_size(width, height, bit_depth, color_type, interlace);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
    }
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if ((color_type & PNG_COLOR_MASK_ALPHA) != 0) {
        png_set_strip_alpha(png);
    }
    bool colour = (color_type & PNG_COLOR_MASK_COLOR) != 0;
    if (colour && bit_depth == 16) {
        png_set_scale_16(png);
    }
    if (!colour && bit_depth == 16 && host_little_endian()) {
        png_set_swap(png); /* PNG samples are big-endian (PNG §7.1) */
    }
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t channels = png_get_channels(png, info);
    int depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (channels == 1 && depth == 8) {
        page.dtype = IMD_DTYPE_UINT8;
    } else if (channels == 1 && depth == 16) {
        page.dtype = IMD_DTYPE_UINT16;
    } else if (channels == 3 && depth == 8) {
        page.dtype = IMD_DTYPE_RGB8;
    } else {
        png_destroy_read_struct(&png, &info, NULL);
        free_job(job);
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: PNG with %zu channels of %d bits", name,
                      channels, depth);
        return false;
    }
    size_t bytes_needed = 0;
    if (!imd__picture_check_size(error, name, "PNG", width, height, imd_dtype_size(page.dtype),
                                 raw, size, IMD__DEFLATE_MAX_RATIO, &bytes_needed) ||
        row_bytes != (size_t)width * imd_dtype_size(page.dtype)) {
        if (row_bytes != (size_t)width * imd_dtype_size(page.dtype)) {
            imd_error_set(error, IMD_ERR_INTERNAL, "%s: PNG rows of %zu bytes", name, row_bytes);
        }
        png_destroy_read_struct(&png, &info, NULL);
        free_job(job);
        return false;
    }
    job->data = imd__malloc(error, bytes_needed);
    job->rows = job->data != NULL ? imd__calloc(error, height, sizeof *job->rows) : NULL;
    if (job->rows == NULL) {
        png_destroy_read_struct(&png, &info, NULL);
        free_job(job);
        return false;
    }
    for (size_t y = 0; y < height; y++) {
        job->rows[y] = job->data + y * row_bytes;
    }
    png_read_image(png, job->rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    page.width = width;
    page.height = height;
    page.data = job->data;
    job->data = NULL;
    free_job(job);
    return imd__picture_pages_add(error, pages, page);
}

/* ---- writing ---- */

static void write_bytes(png_structp png, png_bytep data, size_t length)
{
    PngJob *job = png_get_io_ptr(png);
    size_t needed;
    if (!imd__add_size(job->output_size, length, &needed)) {
        png_error(png, "output too large");
    }
    if (needed > job->output_capacity) {
        size_t capacity = job->output_capacity > 0 ? job->output_capacity : 65536;
        while (capacity < needed) {
            capacity = capacity > SIZE_MAX / 2 ? needed : capacity * 2;
        }
        uint8_t *grown = realloc(job->output, capacity);
        if (grown == NULL) {
            job->out_of_memory = true;
            png_error(png, "out of memory");
        }
        job->output = grown;
        job->output_capacity = capacity;
    }
    memcpy(job->output + job->output_size, data, length);
    job->output_size = needed;
}

static void flush_bytes(png_structp png)
{
    IMD__UNUSED(png);
}

bool imd__picture_png_encode(ImdError **error, const ImdPicturePage *page, const char *name,
                             uint8_t **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    int depth = page->dtype == IMD_DTYPE_UINT16 ? 16 : 8;
    int color = page->dtype == IMD_DTYPE_RGB8 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
    if (page->dtype != IMD_DTYPE_UINT8 && page->dtype != IMD_DTYPE_UINT16 &&
        page->dtype != IMD_DTYPE_RGB8) {
        imd_error_set(error, IMD_ERR_INTERNAL, "%s: PNG cannot hold %s", name,
                      imd_dtype_name(page->dtype));
        return false;
    }
    if (page->width > 0x7fffffffu || page->height > 0x7fffffffu) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: %zu x %zu is too large for PNG", name,
                      page->width, page->height);
        return false;
    }
    PngJob *job = imd__calloc(error, 1, sizeof *job);
    if (job != NULL) {
        job->rows = imd__calloc(error, page->height > 0 ? page->height : 1, sizeof *job->rows);
    }
    if (job == NULL || job->rows == NULL) {
        free(job);
        return false;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (info == NULL) {
        png_destroy_write_struct(png != NULL ? &png : NULL, NULL);
        free_job(job);
        imd_error_set(error, IMD_ERR_NOMEM, "%s: libpng could not start", name);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        imd_error_set(error, job->out_of_memory ? IMD_ERR_NOMEM : IMD_ERR_INTERNAL,
                      "%s: PNG: %s", name, job->message);
        free_job(job);
        return false;
    }
    png_set_write_fn(png, job, write_bytes, flush_bytes);
    png_set_IHDR(png, info, (png_uint_32)page->width, (png_uint_32)page->height, depth, color,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (depth == 16 && host_little_endian()) {
        png_set_swap(png);
    }
    size_t row_bytes = page->width * imd_dtype_size(page->dtype);
    for (size_t y = 0; y < page->height; y++) {
        job->rows[y] = page->data + y * row_bytes;
    }
    png_write_image(png, job->rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = job->output;
    *out_size = job->output_size;
    job->output = NULL;
    free_job(job);
    return true;
}
