/*
 * fuzz_nifti_files: the NIfTI image reader over several files: the input's
 * parts (fuzz_files.h) become p.hdr, p.img, p.bval and p.bvec in a folder
 * read with imd_read(), so the pair logic and the .bval/.bvec text parsers
 * are reached. Checks: the result/error invariant, and every series' byte
 * size agrees with its shape.
 */
#include "fuzz_files.h"

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"p.hdr", "p.img", "p.bval", "p.bvec"};
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
    const char *url = fuzz_folder();
    ImdSeriesList *list = imd_read(&error, context, &url, 1, NULL);
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
    imd_error_clear(&error);
    imd_context_destroy(context);
    return 0;
}
