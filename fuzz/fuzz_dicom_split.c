/*
 * fuzz_dicom_split: bytes -> split keys -> imd__dicom_split_group(). The
 * first byte chooses the tolerance; each following 24 bytes make one image
 * (orientation, matrix size, position, acquisition sequence, GE field-map
 * flag), with NaN, huge values and ties. Checks: every image in a piece
 * below the piece count, labels exactly when there are several pieces, and
 * no piece left empty.
 */
#include "formats/dicom/dicom_format.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double number(const uint8_t *p)
{
    int16_t raw = (int16_t)(p[0] | (p[1] << 8));
    return raw == INT16_MIN ? NAN : raw == INT16_MAX ? 1e300 : raw / 256.0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    size_t count = (size - 1) / 24;
    if (count == 0 || count > 2048) {
        return 0;
    }
    ImdSplitKey *keys = calloc(count, sizeof *keys);
    uint32_t *cluster = calloc(count, sizeof *cluster);
    if (keys == NULL || cluster == NULL) {
        free(keys);
        free(cluster);
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = data + 1 + 24 * i;
        keys[i].row = (ImdVec3){number(p), number(p + 2), number(p + 4)};
        keys[i].column = (ImdVec3){number(p + 6), number(p + 8), number(p + 10)};
        keys[i].position = (ImdVec3){number(p + 12), number(p + 14), number(p + 16)};
        keys[i].has_orientation = (p[18] & 1) != 0;
        keys[i].ge_field_map = (p[18] & 2) != 0;
        keys[i].rows = p[19] % 4;
        keys[i].columns = p[20] % 4;
        keys[i].sequence = (p[21] & 0x80) != 0 ? NAN : p[21];
    }
    double tolerance = data[0] == 255 ? NAN : data[0] / 1000.0;
    ImdError *error = NULL;
    char **labels = NULL;
    size_t clusters = 0;
    bool ok = imd__dicom_split_group(&error, keys, count, tolerance, cluster, &labels, &clusters);
    if (ok == (error != NULL)) {
        abort();
    }
    if (ok) {
        if (clusters == 0 || clusters > count || (clusters > 1) != (labels != NULL)) {
            abort();
        }
        size_t *members = calloc(clusters, sizeof *members);
        for (size_t i = 0; members != NULL && i < count; i++) {
            if (cluster[i] >= clusters) {
                abort();
            }
            members[cluster[i]]++;
        }
        for (size_t c = 0; members != NULL && c < clusters; c++) {
            if (members[c] == 0 || (labels != NULL && labels[c] == NULL)) {
                abort();
            }
        }
        free(members);
        imd__dicom_split_labels_free(labels, clusters);
    }
    imd_error_clear(&error);
    free(keys);
    free(cluster);
    return 0;
}
