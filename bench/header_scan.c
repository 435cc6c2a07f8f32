/*
 * header_scan: parse the headers of every file named on standard input
 * (one path a line), stopping before Pixel Data, and read the attributes a
 * series sorter needs. Prints the count of files parsed and failed, and the
 * seconds the parsing took (the paths read first: the time of the scan
 * itself, as bench/header_scan.py times pydicom's dcmread(stop_before_pixels
 * =True) loop inside its process, not the start of either process).
 */
#define _POSIX_C_SOURCE 200809L
#include <imagedata/imagedata.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint32_t wanted[] = {
    IMD_TAG(0x0020, 0x000e), IMD_TAG(0x0020, 0x0032), IMD_TAG(0x0020, 0x0037),
    IMD_TAG(0x0008, 0x0032), IMD_TAG(0x0028, 0x0010), IMD_TAG(0x0028, 0x0011),
};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
    char line[4096];
    char **paths = NULL;
    size_t count = 0, capacity = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 1024;
            char **grown = realloc(paths, capacity * sizeof *grown);
            if (grown == NULL) {
                fprintf(stderr, "header_scan: out of memory\n");
                return 2;
            }
            paths = grown;
        }
        paths[count] = strdup(line);
        if (paths[count] == NULL) {
            fprintf(stderr, "header_scan: out of memory\n");
            return 2;
        }
        count++;
    }
    size_t parsed = 0, failed = 0, found = 0;
    ImdDicomReadOptions options = {.stop_tag = IMD_TAG(0x7fe0, 0x0010)};
    double started = now();
    for (size_t k = 0; k < count; k++) {
        ImdError *error = NULL;
        ImdDicomDataSet *d = imd_dicom_read_file(&error, paths[k], &options);
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
    double elapsed = now() - started;
    printf("%zu parsed, %zu failed, %zu values, %.6f s\n", parsed, failed, found, elapsed);
    for (size_t k = 0; k < count; k++) {
        free(paths[k]);
    }
    free(paths);
    return failed > 0;
}
