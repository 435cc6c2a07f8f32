/*
 * header_scan: parse the headers of every file named on standard input
 * (one path a line), stopping before Pixel Data, and read the attributes a
 * series sorter needs. Prints the count of files parsed and failed. Used by
 * bench/header_scan.py against pydicom's dcmread(stop_before_pixels=True).
 */
#include <imagedata/imagedata.h>

#include <stdio.h>
#include <string.h>

static const uint32_t wanted[] = {
    IMD_TAG(0x0020, 0x000e), IMD_TAG(0x0020, 0x0032), IMD_TAG(0x0020, 0x0037),
    IMD_TAG(0x0008, 0x0032), IMD_TAG(0x0028, 0x0010), IMD_TAG(0x0028, 0x0011),
};

int main(void)
{
    char path[4096];
    size_t parsed = 0, failed = 0, found = 0;
    ImdDicomReadOptions options = {.stop_tag = IMD_TAG(0x7fe0, 0x0010)};
    while (fgets(path, sizeof path, stdin) != NULL) {
        path[strcspn(path, "\n")] = '\0';
        ImdError *error = NULL;
        ImdDicomDataSet *d = imd_dicom_read_file(&error, path, &options);
        if (d == NULL) {
            failed++;
            imd_error_clear(&error);
            continue;
        }
        for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
            const ImdDicomElement *e = imd_dicom_dataset_find(d, wanted[i]);
            double value;
            if (e != NULL && imd_dicom_element_number(NULL, e, 0, &value)) {
                found++;
            } else if (e != NULL) {
                char *text = imd_dicom_element_string(NULL, d, e);
                found += text != NULL;
                imd_free(text);
            }
        }
        imd_dicom_dataset_destroy(d);
        parsed++;
    }
    printf("%zu parsed, %zu failed, %zu values\n", parsed, failed, found);
    return failed > 0;
}
