/*
 * fuzz_picture.h: the body shared by fuzz_png_read, fuzz_jpeg_read and
 * fuzz_tiff_read: bytes -> the picture plugin's reader (our glue around
 * libpng, libjpeg-turbo and libtiff: signature checks, size checks before
 * allocating, page stacking). Define FUZZ_PLUGIN (the descriptor),
 * FUZZ_NAME and FUZZ_ENCODE (1 when decode(encode(x)) must give x back)
 * before including it. Checks beyond "no crash": result xor error; every
 * series is 2D or 3D of a picture type with a byte size that matches its
 * shape; for PNG and TIFF the first image encoded again decodes to the same
 * pixels. A memory limit of 256 MiB is set, as a program would.
 */
#include "formats/picture/picture.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_series(const ImdSeries *series)
{
    size_t ndim = imd_series_ndim(series), count = 1;
    ImdDType dtype = imd_series_dtype(series);
    if ((ndim != 2 && ndim != 3) ||
        (dtype != IMD_DTYPE_UINT8 && dtype != IMD_DTYPE_UINT16 && dtype != IMD_DTYPE_INT16 &&
         dtype != IMD_DTYPE_FLOAT32 && dtype != IMD_DTYPE_RGB8)) {
        abort();
    }
    for (size_t d = 0; d < ndim; d++) {
        if (imd_series_dim(series, d) < 1 || !imd__mul_size(count, imd_series_dim(series, d),
                                                           &count)) {
            abort();
        }
    }
    if (count * imd_dtype_size(dtype) != imd_series_nbytes(series)) {
        abort();
    }
}

#if FUZZ_ENCODE
/* The first image written again and read back must be the same pixels. */
static void check_round_trip(const ImdSeries *series)
{
    size_t ndim = imd_series_ndim(series);
    ImdPicturePage page = {imd_series_dim(series, ndim - 1), imd_series_dim(series, ndim - 2),
                           imd_series_dtype(series), (uint8_t *)(uintptr_t)imd_series_const_data(series)};
    if (FUZZ_PLUGIN.probe == NULL || (page.dtype != IMD_DTYPE_UINT8 &&
                                      page.dtype != IMD_DTYPE_UINT16 &&
                                      page.dtype != IMD_DTYPE_RGB8)) {
        return;
    }
    uint8_t *bytes = NULL;
    size_t size = 0;
    ImdPicturePages pages = {NULL, 0, 0};
    ImdError *error = NULL;
    if (!FUZZ_ENCODE_FN(&error, &page, &bytes, &size) ||
        !FUZZ_DECODE_FN(&error, bytes, size, "again", &pages) || pages.count != 1 ||
        pages.pages[0].width != page.width || pages.pages[0].height != page.height ||
        pages.pages[0].dtype != page.dtype ||
        memcmp(pages.pages[0].data, page.data,
               page.width * page.height * imd_dtype_size(page.dtype)) != 0) {
        /* A memory limit may refuse the copy: that is not a bug. */
        if (error == NULL || imd_error_code(error) != IMD_ERR_LIMIT) {
            abort();
        }
    }
    imd__picture_pages_free(&pages);
    free(bytes);
    imd_error_clear(&error);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ImdFormatPlugin *plugin = &FUZZ_PLUGIN;
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(NULL);
    if (context == NULL) {
        return 0;
    }
    imd_context_set_memory_limit(context, (uint64_t)256 << 20);
    const ImdContext *saved = imd__context_enter(context);
    (void)plugin->probe(data, size, FUZZ_NAME);
    void *reader = plugin->reader_create(&error, NULL, context);
    ImdStream *stream = reader != NULL
                            ? imd_stream_open_memory(&error, data, size, FUZZ_NAME, NULL, NULL)
                            : NULL;
    ImdSeriesList *list = NULL;
    bool added = stream != NULL && plugin->reader_add(&error, reader, NULL, FUZZ_NAME, stream);
    if (stream != NULL && !added && error == NULL) {
        abort(); /* failed without saying why */
    }
    if (added) {
        list = plugin->reader_finish(&error, reader);
        if ((list == NULL) != (error != NULL)) {
            abort(); /* result xor error */
        }
        for (size_t i = 0; list != NULL && i < imd_series_list_count(list); i++) {
            check_series(imd_series_list_get(list, i));
#if FUZZ_ENCODE
            check_round_trip(imd_series_list_get(list, i));
#endif
        }
    }
    imd_series_list_destroy(list);
    imd_stream_close(NULL, stream);
    if (reader != NULL) {
        plugin->reader_destroy(reader);
    }
    imd__context_leave(saved);
    imd_context_destroy(context);
    imd_error_clear(&error);
    return 0;
}
