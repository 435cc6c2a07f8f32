/*
 * fuzz_dicom_parse: bytes -> imd_dicom_read_memory() with small limits.
 * Checks beyond "no crash": the result/error invariant; every text value
 * decodes to valid output; a parsed data set that has SOP UIDs re-encodes,
 * and the re-encoding parses to the same number of top-level elements.
 */
#include <imagedata/imagedata.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch_values(const ImdDicomDataSet *dataset, int depth)
{
    for (size_t i = 0; i < imd_dicom_dataset_count(dataset); i++) {
        const ImdDicomElement *e = imd_dicom_dataset_element(dataset, i);
        ImdError *error = NULL;
        char *text = imd_dicom_element_string(&error, dataset, e);
        if ((text == NULL) == (error == NULL)) {
            abort(); /* result xor error */
        }
        imd_free(text);
        imd_error_clear(&error);
        double number;
        for (size_t k = 0; k < imd_dicom_element_vm(e) && k < 4; k++) {
            (void)imd_dicom_element_number(NULL, e, k, &number);
        }
        for (size_t k = 0; k < imd_dicom_element_item_count(e); k++) {
            touch_values(imd_dicom_element_item(e, k), depth + 1);
        }
    }
}

static void round_trip(const ImdDicomDataSet *dataset)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "fuzz");
    if (stream == NULL) {
        imd_error_clear(&error);
        return;
    }
    if (imd_dicom_write(&error, dataset, stream, NULL)) {
        size_t size;
        uint8_t *bytes = imd_stream_buffer_take(stream, &size);
        ImdDicomDataSet *again = imd_dicom_read_memory(&error, bytes, size, "again", NULL);
        size_t before = 0, after = 0;
        for (size_t i = 0; i < imd_dicom_dataset_count(dataset); i++) {
            uint32_t tag = imd_dicom_element_tag(imd_dicom_dataset_element(dataset, i));
            before += (tag >> 16) != 0x0002 && (tag & 0xffffu) != 0;
        }
        for (size_t i = 0; again != NULL && i < imd_dicom_dataset_count(again); i++) {
            after += (imd_dicom_element_tag(imd_dicom_dataset_element(again, i)) & 0xffffu) != 0;
        }
        if (again == NULL || before != after) {
            abort(); /* what we write must read back */
        }
        imd_dicom_dataset_destroy(again);
        imd_free(bytes);
    }
    imd_error_clear(&error);
    imd_stream_abort(stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ImdError *error = NULL;
    ImdDicomReadOptions options = {.max_depth = 16, .max_elements = 20000};
    ImdDicomDataSet *dataset = imd_dicom_read_memory(&error, data, size, "fuzz", &options);
    if ((dataset == NULL) == (error == NULL)) {
        abort();
    }
    if (dataset != NULL) {
        touch_values(dataset, 0);
        round_trip(dataset);
    }
    imd_dicom_dataset_destroy(dataset);
    imd_error_clear(&error);
    return 0;
}
