/*
 * fuzz_dicom_seg: bytes -> imd_dicom_read_memory() -> the SEG reader
 * (src/formats/dicom/seg.c): segments, per-frame groups, the plane grid and
 * the bit-packed or 8-bit frames. Checks beyond "no crash": the result/error
 * invariant, and a series' shape is [segments, slices, rows, columns] with
 * every BINARY voxel 0 or 1 and every FRACTIONAL one in 0..1.
 * Seeds: two small SEGs as tests/integration/dicom_seg.py makes them.
 */
#include "formats/dicom/dicom_format.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ImdError *error = NULL;
    ImdDicomReadOptions options = {.max_depth = 16, .max_elements = 20000};
    ImdDicomDataSet *d = imd_dicom_read_memory(&error, data, size, "fuzz", &options);
    if ((d == NULL) == (error == NULL)) {
        abort();
    }
    imd_error_clear(&error);
    if (d == NULL) {
        return 0;
    }
    ImdSeries *series = imd__dicom_read_segmentation(&error, d);
    if ((series == NULL) == (error == NULL)) {
        abort();
    }
    imd_error_clear(&error);
    if (series != NULL) {
        if (imd_series_ndim(series) != 4) {
            abort();
        }
        size_t n = imd_series_count(series);
        if (imd_series_dtype(series) == IMD_DTYPE_UINT8) {
            const uint8_t *v = imd_series_const_data(series);
            for (size_t i = 0; i < n; i++) {
                if (v[i] > 1) {
                    abort();
                }
            }
        } else {
            const float *v = imd_series_const_data(series);
            for (size_t i = 0; i < n; i++) {
                if (!(v[i] >= 0 && v[i] <= 1)) {
                    abort();
                }
            }
        }
        imd_series_destroy(series);
    }
    imd_dicom_dataset_destroy(d);
    return 0;
}
