/*
 * fuzz_index: numpy-style index text (imd_index_parse) applied to a small
 * 4-D series (imd_series_subset: 2 tags x 3 slices x 4 rows x 5 columns,
 * with its tag and slice positions). Checks: the result/error invariants,
 * at most `capacity` indices, and a sub-set no larger than the series.
 */
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ImdSeries *sample(void)
{
    static ImdSeries *series;
    if (series == NULL) {
        const size_t shape[4] = {2, 3, 4, 5};
        series = imd_series_create(NULL, IMD_DTYPE_INT16, 4, shape);
        if (series == NULL) {
            abort();
        }
        int16_t *voxels = imd_series_data(series);
        for (size_t i = 0; i < imd_series_count(series); i++) {
            voxels[i] = (int16_t)i;
        }
    }
    return series;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = imd__strndup(NULL, (const char *)data, size);
    if (text == NULL) {
        abort();
    }
    ImdIndex index[IMD_MAX_DIMS + 2];
    size_t count = 0;
    ImdError *error = NULL;
    bool ok = imd_index_parse(&error, text, index, IMD_MAX_DIMS + 2, &count);
    if (ok != (error == NULL) || (ok && count > IMD_MAX_DIMS + 2)) {
        abort();
    }
    imd_error_clear(&error);
    if (ok) {
        const ImdSeries *series = sample();
        ImdSeries *subset = imd_series_subset(&error, series, index, count);
        if ((subset == NULL) != (error != NULL) ||
            (subset != NULL && (imd_series_count(subset) > imd_series_count(series) ||
                                imd_series_ndim(subset) > imd_series_ndim(series)))) {
            abort();
        }
        imd_series_destroy(subset);
        imd_error_clear(&error);
    }
    free(text);
    return 0;
}
