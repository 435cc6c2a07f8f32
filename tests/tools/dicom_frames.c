/*
 * dicom_frames: a test tool. For each DICOM file, prints one JSON line with
 * the frame count and the Dimension Index Sequence, then one line per frame
 * with the classic attributes imd__dicom_frame_attributes() makes, in the
 * DICOM JSON model (PS3.18 Annex F), or the error for that frame (the walk
 * of a file stops at its first error). An independent pydicom walk of the
 * functional groups compares these (tests/integration/dicom_frames.py).
 */
#include "formats/dicom/frames.h"

#include <stdio.h>

static void json_string(const char *text)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20) {
            printf("\\u%04x", *p);
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

static int walk(const char *path)
{
    ImdError *error = NULL;
    ImdDicomReadOptions options = {.stop_tag = IMD_TAG(0x7fe0, 0x0010)};
    ImdDicomDataSet *d = imd_dicom_read_file(&error, path, &options);
    if (d == NULL) {
        fprintf(stderr, "dicom_frames: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return 2;
    }
    size_t frames = imd__dicom_frame_count(d);
    ImdDimension dimensions[16];
    size_t count = imd__dicom_dimensions(d, dimensions, 16);
    printf("{\"file\": ");
    json_string(path);
    printf(", \"frames\": %zu, \"functional_groups\": %s, \"dimensions\": [", frames,
           imd__dicom_has_functional_groups(d) ? "true" : "false");
    for (size_t i = 0; i < count && i < 16; i++) {
        printf("%s{\"index\": \"%08X\", \"group\": \"%08X\", \"label\": ", i > 0 ? ", " : "",
               dimensions[i].index_pointer, dimensions[i].group_pointer);
        json_string(dimensions[i].label);
        printf("}");
    }
    printf("]}\n");
    for (size_t frame = 0; frame < frames; frame++) {
        ImdDicomDataSet *attributes = imd__dicom_frame_attributes(&error, d, frame);
        char *json = attributes != NULL ? imd_dicom_dataset_to_json(&error, attributes, 0) : NULL;
        imd_dicom_dataset_destroy(attributes);
        if (json == NULL) {
            printf("{\"frame\": %zu, \"code\": \"%s\", \"error\": ", frame,
                   imd_error_code_name(imd_error_code(error)));
            json_string(imd_error_message(error));
            printf("}\n");
            imd_error_clear(&error);
            break;
        }
        printf("{\"frame\": %zu, \"attributes\": %s}\n", frame, json);
        imd_free(json);
    }
    imd_dicom_dataset_destroy(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: dicom_frames FILE...\n");
        return 1;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        int s = walk(argv[i]);
        status = s > status ? s : status;
    }
    return status;
}
