/*
 * fuzz_dicom_json: DICOM bytes (imd_dicom_read) to the DICOM JSON model
 * (src/dicom/to_json.c) with the flags from the first byte (pixel data,
 * meta group). Checks: the result/error invariant, and the JSON text is one
 * object: it starts with '{', ends with '}', and its brackets and braces
 * outside strings balance.
 */
#include "internal.h"

#include <imagedata/dicom.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const char *json)
{
    size_t n = strlen(json);
    if (n < 2 || json[0] != '{' || json[n - 1] != '}') {
        abort();
    }
    long depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = json[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = false;
            } else if ((unsigned char)c < 0x20) {
                abort(); /* control characters must be escaped (RFC 8259 §7) */
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth < 0) {
                abort();
            }
        }
    }
    if (depth != 0 || in_string) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned flags = 0;
    flags |= (data[0] & 1) ? IMD_DICOM_JSON_PIXEL_DATA : 0;
    flags |= (data[0] & 2) ? IMD_DICOM_JSON_META : 0;
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_memory(&error, data + 1, size - 1, "fuzz.dcm", NULL, NULL);
    ImdDicomDataSet *dataset = stream != NULL ? imd_dicom_read(&error, stream, NULL) : NULL;
    if (stream != NULL && (dataset == NULL) != (error != NULL)) {
        abort();
    }
    imd_error_clear(&error);
    if (dataset != NULL) {
        char *json = imd_dicom_dataset_to_json(&error, dataset, flags);
        if ((json == NULL) != (error != NULL)) {
            abort();
        }
        if (json != NULL) {
            check_json(json);
        }
        imd_free(json);
        imd_error_clear(&error);
    }
    imd_dicom_dataset_destroy(dataset);
    imd_stream_close(NULL, stream);
    return 0;
}
