/*
 * fuzz_nifti_files: the NIfTI image reader over several files: the input's
 * parts (fuzz_files.h) become p.hdr, p.img, p.bval and p.bvec in a folder
 * read with imd_read(), so the pair logic and the .bval/.bvec text parsers
 * are reached. Checks: the result/error invariant, and every series' byte
 * size agrees with its shape.
 */
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"p.hdr", "p.img", "p.bval", "p.bvec"};
    const uint8_t *parts[4];
    size_t sizes[4];
    size_t count = fuzz_split(data, size, parts, sizes, 4);
    fuzz_write_files(names, 4, parts, sizes, count);
    fuzz_read_checked(fuzz_folder(), NULL);
    return 0;
}
