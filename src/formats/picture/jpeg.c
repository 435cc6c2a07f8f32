/*
 * jpeg.c: JPEG (JFIF/Exif, ITU T.81) through libjpeg-turbo's libjpeg API.
 *
 * Read: 8-bit precision, one component -> uint8, three (YCbCr or RGB) ->
 * rgb8; CMYK/YCCK and 12-bit are refused (UNSUPPORTED). Hostile files: the
 * header's size is checked before decoding (sides, the memory budget, and
 * the file size: entropy-coded data cannot describe more than
 * MAX_PIXELS_PER_BYTE pixels per byte, since every 8x8 block of every
 * component costs at least two Huffman code bits, T.81 F.1.2), libjpeg's
 * own memory is capped, progressive files with absurd numbers of scans are
 * stopped (a known CPU bomb), and a file that ends early is an error
 * (libjpeg would fill the rest with grey and only warn).
 *
 * Write: uint8 grey or rgb8 (YCbCr 4:2:0 as libjpeg's defaults), quality
 * 1..100. Errors are reported by longjmp from libjpeg's error manager:
 * memory that must be freed after one is reached through the heap job.
 */
#include "formats/picture/picture.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>
#include <jerror.h>

/* 2 bits per block per component (a DC difference of 0 and an EOB) = 32 px per byte; x16 margin. */
#define MAX_PIXELS_PER_BYTE 512u
/* Progressive files need ~10 scans; thousands are an attack (libjpeg-turbo's own advice). */
#define MAX_SCANS 1000

typedef struct JpegJob {
    struct jpeg_error_mgr manager; /* first: libjpeg hands us a pointer to it */
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
    /* The codec states live here, not on the stack: they change between setjmp and longjmp. */
    struct jpeg_decompress_struct d;
    struct jpeg_compress_struct c;
    uint8_t *data;
    unsigned char *output;
    unsigned long output_size;
} JpegJob;

static void on_error(j_common_ptr info)
{
    JpegJob *job = (JpegJob *)(void *)info->err;
    char text[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, text);
    snprintf(job->message, sizeof job->message, "%s", text);
    longjmp(job->jump, 1);
}

static void on_message(j_common_ptr info, int level)
{
    /* Warnings are dropped (the library never prints), except a file that ends early. */
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) {
        on_error(info);
    }
}

static void on_progress(j_common_ptr info)
{
    if (info->is_decompressor) {
        j_decompress_ptr d = (j_decompress_ptr)(void *)info;
        if (d->input_scan_number > MAX_SCANS) {
            JpegJob *job = (JpegJob *)(void *)info->err;
            snprintf(job->message, sizeof job->message, "more than %d scans", MAX_SCANS);
            longjmp(job->jump, 1);
        }
    }
}

static void free_job(JpegJob *job)
{
    if (job != NULL) {
        free(job->data);
        free(job->output);
        free(job);
    }
}

static JpegJob *new_job(ImdError **error)
{
    JpegJob *job = imd__calloc(error, 1, sizeof *job);
    if (job != NULL) {
        jpeg_std_error(&job->manager);
        job->manager.error_exit = on_error;
        job->manager.emit_message = on_message;
        job->progress.progress_monitor = on_progress;
    }
    return job;
}

bool imd__picture_jpeg_decode(ImdError **error, const uint8_t *bytes, size_t size,
                              const char *name, ImdPicturePages *pages)
{
    if (bytes == NULL || size < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 || bytes[2] != 0xFF) {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "%s: no JPEG start of image", name);
        return false;
    }
    if (size > ULONG_MAX) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: JPEG file too large", name);
        return false;
    }
    JpegJob *job = new_job(error);
    if (job == NULL) {
        return false;
    }
    j_decompress_ptr info = &job->d;
    info->err = &job->manager;
    if (setjmp(job->jump)) {
        jpeg_destroy_decompress(info);
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: JPEG: %s", name, job->message);
        free_job(job);
        return false;
    }
    jpeg_create_decompress(info);
    info->progress = &job->progress;
    info->mem->max_memory_to_use = 1L << 30;
    jpeg_mem_src(info, bytes, (unsigned long)size);
    (void)jpeg_read_header(info, TRUE);
    ImdPicturePage page = {info->image_width, info->image_height, IMD_DTYPE_UINT8, NULL};
    const char *refusal = NULL;
    if (info->data_precision != 8) {
        refusal = "only 8-bit JPEG is read";
    } else if (info->num_components == 1) {
        info->out_color_space = JCS_GRAYSCALE;
    } else if (info->num_components == 3) {
        info->out_color_space = JCS_RGB;
        page.dtype = IMD_DTYPE_RGB8;
    } else {
        refusal = "CMYK and YCCK JPEG are not read";
    }
    size_t needed = 0;
    if (refusal != NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: %s (%d components of %d bits)", name,
                      refusal, info->num_components, info->data_precision);
    }
    if (refusal != NULL ||
        !imd__picture_check_size(error, name, "JPEG", page.width, page.height,
                                 imd_dtype_size(page.dtype),
                                 (uint64_t)page.width * page.height, size, MAX_PIXELS_PER_BYTE,
                                 &needed)) {
        jpeg_destroy_decompress(info);
        free_job(job);
        return false;
    }
    job->data = imd__malloc(error, needed);
    if (job->data == NULL) {
        jpeg_destroy_decompress(info);
        free_job(job);
        return false;
    }
    (void)jpeg_start_decompress(info);
    size_t row_bytes = page.width * imd_dtype_size(page.dtype);
    if (info->output_width != page.width || info->output_height != page.height ||
        (size_t)info->output_components * info->output_width != row_bytes) {
        snprintf(job->message, sizeof job->message, "unexpected output layout");
        longjmp(job->jump, 1);
    }
    while (info->output_scanline < info->output_height) {
        JSAMPROW row = job->data + (size_t)info->output_scanline * row_bytes;
        if (jpeg_read_scanlines(info, &row, 1) != 1) {
            snprintf(job->message, sizeof job->message, "no more scanlines");
            longjmp(job->jump, 1);
        }
    }
    (void)jpeg_finish_decompress(info);
    jpeg_destroy_decompress(info);
    page.data = job->data;
    job->data = NULL;
    free_job(job);
    return imd__picture_pages_add(error, pages, page);
}

bool imd__picture_jpeg_encode(ImdError **error, const ImdPicturePage *page, int quality,
                              const char *name, uint8_t **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (page->dtype != IMD_DTYPE_UINT8 && page->dtype != IMD_DTYPE_RGB8) {
        imd_error_set(error, IMD_ERR_INTERNAL, "%s: JPEG cannot hold %s", name,
                      imd_dtype_name(page->dtype));
        return false;
    }
    if (page->width > JPEG_MAX_DIMENSION || page->height > JPEG_MAX_DIMENSION) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: %zu x %zu is larger than JPEG's %ld x %ld", name,
                      page->width, page->height, (long)JPEG_MAX_DIMENSION, (long)JPEG_MAX_DIMENSION);
        return false;
    }
    JpegJob *job = new_job(error);
    if (job == NULL) {
        return false;
    }
    j_compress_ptr info = &job->c;
    info->err = &job->manager;
    if (setjmp(job->jump)) {
        jpeg_destroy_compress(info);
        imd_error_set(error, IMD_ERR_INTERNAL, "%s: JPEG: %s", name, job->message);
        free_job(job);
        return false;
    }
    jpeg_create_compress(info);
    jpeg_mem_dest(info, &job->output, &job->output_size);
    info->image_width = (JDIMENSION)page->width;
    info->image_height = (JDIMENSION)page->height;
    bool rgb = page->dtype == IMD_DTYPE_RGB8;
    info->input_components = rgb ? 3 : 1;
    info->in_color_space = rgb ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(info);
    jpeg_set_quality(info, quality, TRUE);
    jpeg_start_compress(info, TRUE);
    size_t row_bytes = page->width * (rgb ? 3u : 1u);
    while (info->next_scanline < info->image_height) {
        /* libjpeg's API is not const-correct; it only reads the row. */
        JSAMPROW row = (JSAMPROW)(uintptr_t)(page->data + (size_t)info->next_scanline * row_bytes);
        (void)jpeg_write_scanlines(info, &row, 1);
    }
    jpeg_finish_compress(info);
    jpeg_destroy_compress(info);
    /* jpeg_mem_dest's buffer comes from malloc() (libjpeg-turbo jdatadst.c): ours to free. */
    *out = job->output;
    *out_size = job->output_size;
    job->output = NULL;
    free_job(job);
    return true;
}
