/*
 * fuzz_dicom_series: the DICOM series reader end to end (headers, sorting,
 * frame sizes, times, pixel data, series build): the input's parts
 * (fuzz_files.h) become IM0.dcm, IM1.dcm, IM2.dcm in a folder read with
 * imd_read() under a 64 MiB memory limit. Checks: the result/error
 * invariant and every series' byte size agrees with its shape.
 */
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"IM0.dcm", "IM1.dcm", "IM2.dcm"};
    const uint8_t *parts[3];
    size_t sizes[3];
    size_t count = fuzz_split(data, size, parts, sizes, 3);
    fuzz_write_files(names, 3, parts, sizes, count);
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    if (options == NULL || !imd_options_set(&error, options, "input_format", "dicom")) {
        abort();
    }
    fuzz_read_checked(fuzz_folder(), options);
    imd_options_destroy(options);
    return 0;
}
