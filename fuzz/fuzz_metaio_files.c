/*
 * fuzz_metaio_files: MetaIO headers with external data: the input's parts
 * (fuzz_files.h) become h.mhd, d0.raw, d1.raw, d2.raw in a folder read with
 * imd_read(), reaching ElementDataFile names, LIST and patterns, HeaderSize
 * and compressed data files. Checks: the result/error invariant and that
 * every series' byte size agrees with its shape.
 */
#include "fuzz_files.h"

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"h.mhd", "d0.raw", "d1.raw", "d2.raw"};
    const uint8_t *parts[4];
    size_t sizes[4];
    size_t count = fuzz_split(data, size, parts, sizes, 4);
    fuzz_write_files(names, 4, parts, sizes, count);
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    if (context == NULL) {
        abort();
    }
    imd_context_set_memory_limit(context, (uint64_t)64 << 20);
    char *url = imd__sprintf(NULL, "%s/h.mhd", fuzz_folder());
    const char *urls[1] = {url};
    ImdSeriesList *list = url != NULL ? imd_read(&error, context, urls, 1, NULL) : NULL;
    if (url != NULL && (list == NULL) != (error != NULL)) {
        abort();
    }
    for (size_t i = 0; list != NULL && i < imd_series_list_count(list); i++) {
        const ImdSeries *series = imd_series_list_get(list, i);
        size_t voxels = 1;
        for (size_t d = 0; d < imd_series_ndim(series); d++) {
            voxels *= imd_series_dim(series, d);
        }
        if (voxels * imd_dtype_size(imd_series_dtype(series)) != imd_series_nbytes(series)) {
            abort();
        }
    }
    imd_series_list_destroy(list);
    free(url);
    imd_error_clear(&error);
    imd_context_destroy(context);
    return 0;
}
