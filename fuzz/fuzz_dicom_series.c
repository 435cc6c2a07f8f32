/*
 * fuzz_dicom_series: the DICOM series reader end to end (headers, sorting,
 * frame sizes, times, pixel data, series build): the input's parts
 * (fuzz_files.h) become IM0.dcm, IM1.dcm, IM2.dcm in a folder read with
 * imd_read() under a 64 MiB memory limit. Checks: the result/error
 * invariant and every series' byte size agrees with its shape.
 */
#include "fuzz_files.h"

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"IM0.dcm", "IM1.dcm", "IM2.dcm"};
    const uint8_t *parts[3];
    size_t sizes[3];
    size_t count = fuzz_split(data, size, parts, sizes, 3);
    fuzz_write_files(names, 3, parts, sizes, count);
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    ImdOptions *options = imd_options_create(&error);
    if (context == NULL || options == NULL ||
        !imd_options_set(&error, options, "input_format", "dicom")) {
        abort();
    }
    imd_context_set_memory_limit(context, (uint64_t)64 << 20);
    const char *url = fuzz_folder();
    ImdSeriesList *list = imd_read(&error, context, &url, 1, options);
    if ((list == NULL) != (error != NULL)) {
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
    imd_options_destroy(options);
    imd_error_clear(&error);
    imd_context_destroy(context);
    return 0;
}
