/*
 * fuzz_metaio_files: MetaIO headers with external data: the input's parts
 * (fuzz_files.h) become h.mhd, d0.raw, d1.raw, d2.raw in a folder read with
 * imd_read(), reaching ElementDataFile names, LIST and patterns, HeaderSize
 * and compressed data files. Checks: the result/error invariant and that
 * every series' byte size agrees with its shape.
 */
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"h.mhd", "d0.raw", "d1.raw", "d2.raw"};
    const uint8_t *parts[4];
    size_t sizes[4];
    size_t count = fuzz_split(data, size, parts, sizes, 4);
    fuzz_write_files(names, 4, parts, sizes, count);
    char *url = imd__sprintf(NULL, "%s/h.mhd", fuzz_folder());
    if (url != NULL) {
        fuzz_read_checked(url, NULL);
    }
    free(url);
    return 0;
}
