/*
 * fuzz_nifti_read: bytes -> imd__nifti_decode(), and gzip input through
 * imd__gunzip() (1 MiB limit) first. Checks beyond "no crash": the
 * result/error invariant; a decoded header has 1..7 dimensions of at least 1
 * whose voxel count (checked products) matches its datatype's size; it
 * re-encodes, and the re-encoding decodes to the same dimensions, type and
 * version; the geometry of a decoded header either fails with an error or
 * gives finite placement.
 */
#include "formats/nifti/nifti.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_header(const uint8_t *data, size_t size)
{
    ImdError *error = NULL;
    ImdNiftiHeader header;
    bool ok = imd__nifti_decode(&error, data, size, "fuzz", &header);
    if (ok == (error != NULL)) {
        abort(); /* result xor error */
    }
    if (!ok) {
        imd_error_clear(&error);
        return;
    }
    if (header.dim[0] < 1 || header.dim[0] > 7 || (header.version != 1 && header.version != 2)) {
        abort();
    }
    size_t count = 1;
    for (int i = 1; i <= header.dim[0]; i++) {
        if (header.dim[i] < 1 || !imd__mul_size(count, (size_t)header.dim[i], &count)) {
            abort(); /* decode promised sizes that multiply */
        }
    }
    ImdDType dtype;
    size_t bytes;
    if (!imd__nifti_dtype(header.datatype, &dtype) ||
        !imd__mul_size(count, imd_dtype_size(dtype), &bytes)) {
        abort();
    }
    uint8_t again[544];
    size_t length = imd__nifti_encode(&header, again);
    ImdNiftiHeader back;
    if (length != (header.version == 1 ? 352u : 544u) ||
        !imd__nifti_decode(NULL, again, length, "again", &back) || back.version != header.version ||
        back.datatype != header.datatype || back.pair != header.pair ||
        memcmp(back.dim, header.dim, sizeof back.dim) != 0) {
        abort(); /* what we decode, we encode back */
    }
    ImdNiftiPlacement placement;
    if (imd__nifti_placement_from_header(&error, &header, &placement)) {
        for (int i = 0; i < 3; i++) {
            if (placement.order.source[i] < 0 || placement.order.source[i] > 2) {
                abort();
            }
        }
    } else if (error == NULL) {
        abort();
    }
    imd_error_clear(&error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        ImdError *error = NULL;
        size_t length = 0;
        uint8_t *inflated = imd__gunzip(&error, data, size, (size_t)1 << 20, &length, "fuzz");
        if ((inflated == NULL) == (error == NULL)) {
            abort();
        }
        if (inflated != NULL) {
            check_header(inflated, length);
        }
        free(inflated);
        imd_error_clear(&error);
        return 0;
    }
    check_header(data, size);
    return 0;
}
