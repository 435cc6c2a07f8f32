/*
 * fuzz_dicom_frames: bytes -> imd_dicom_read_memory() -> the functional-group
 * walker (src/formats/dicom/frames.c) over every frame, at most 64 of them
 * (the first 32 and the last 32), and the Dimension Index Sequence.
 * Checks beyond "no crash": the result/error invariant; frame numbers past
 * the count are refused; a frame's data set is in ascending tag order and
 * still readable after the source data set is destroyed (it shares the
 * source's bytes).
 * Seeds: headers of real enhanced files (Siemens XA60 DWI, Philips B0 map,
 * a DICOM SEG from pydicom), pixel data and most private elements removed,
 * cut to 3 frames.
 */
#include "formats/dicom/frames.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const ImdDicomDataSet *d, int depth)
{
    uint32_t previous = 0;
    for (size_t i = 0; i < imd_dicom_dataset_count(d); i++) {
        const ImdDicomElement *e = imd_dicom_dataset_element(d, i);
        uint32_t tag = imd_dicom_element_tag(e);
        if (i > 0 && tag <= previous) {
            abort(); /* elements must stay in ascending order */
        }
        previous = tag;
        size_t bytes;
        const uint8_t *value = imd_dicom_element_bytes(e, &bytes);
        volatile uint8_t sink = 0;
        for (size_t k = 0; value != NULL && k < bytes; k += 64) {
            sink ^= value[k];
        }
        (void)sink;
        char *text = imd_dicom_element_string(NULL, d, e);
        imd_free(text);
        double number;
        (void)imd_dicom_element_number(NULL, e, 0, &number);
        for (size_t k = 0; depth < 8 && k < imd_dicom_element_item_count(e); k++) {
            touch(imd_dicom_element_item(e, k), depth + 1);
        }
    }
}

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
    ImdDimension dimensions[4];
    size_t count = imd__dicom_dimensions(d, dimensions, 4);
    for (size_t i = 0; i < count && i < 4; i++) {
        if (memchr(dimensions[i].label, '\0', sizeof dimensions[i].label) == NULL) {
            abort();
        }
    }
    (void)imd__dicom_has_functional_groups(d);
    size_t frames = imd__dicom_frame_count(d);
    if (frames == 0) {
        abort();
    }
    ImdDicomDataSet *last = NULL;
    for (size_t k = 0; k < frames && k < 64; k++) {
        size_t frame = k < 32 ? k : frames - 64 + k;
        if (frames <= 64) {
            frame = k;
        }
        ImdDicomDataSet *f = imd__dicom_frame_attributes(&error, d, frame);
        if ((f == NULL) == (error == NULL)) {
            abort();
        }
        imd_error_clear(&error);
        if (f == NULL) {
            break;
        }
        touch(f, 0);
        imd_dicom_dataset_destroy(last);
        last = f;
    }
    if (imd__dicom_frame_attributes(&error, d, frames) != NULL ||
        imd_error_code(error) != IMD_ERR_INVALID_ARG) {
        abort(); /* past the last frame */
    }
    imd_error_clear(&error);
    imd_dicom_dataset_destroy(d);
    if (last != NULL) {
        touch(last, 0); /* after the source is gone */
    }
    imd_dicom_dataset_destroy(last);
    return 0;
}
