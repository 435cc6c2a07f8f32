/*
 * fuzz_dicom_sort: bytes -> slice keys -> imd__dicom_sort(). The first bytes
 * choose the order and options; each following 40 bytes make one key
 * (position, orientation, two tag values, possibly NaN or huge, an acquisition
 * sequence number; auto may get the reader's six candidates). Checks: the
 * result/error invariant, every key used at most once, the cells inside the
 * key range, the layout's shape within the key count.
 */
#include "formats/dicom/dicom_format.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double number(const uint8_t *p)
{
    int16_t raw = (int16_t)(p[0] | (p[1] << 8));
    if (raw == INT16_MIN) {
        return NAN;
    }
    if (raw == INT16_MAX) {
        return 1e300;
    }
    return raw / 64.0;
}

static void make_key(const uint8_t *p, uint32_t index, ImdSliceKey *key)
{
    memset(key, 0, sizeof *key);
    key->index = index;
    key->position = (ImdVec3){number(p), number(p + 2), number(p + 4)};
    key->has_position = (p[6] & 1) != 0;
    bool axial = (p[6] & 2) != 0;
    key->row = axial ? (ImdVec3){1, 0, 0} : (ImdVec3){number(p + 8), number(p + 10), number(p + 12)};
    key->column = axial ? (ImdVec3){0, 1, 0}
                        : (ImdVec3){number(p + 14), number(p + 16), number(p + 18)};
    key->has_orientation = (p[6] & 4) != 0;
    key->slice_location = number(p + 20);
    key->has_slice_location = (p[6] & 8) != 0;
    key->gantry_tilt = (p[6] & 16) != 0 ? number(p + 22) : 0;
    for (size_t t = 0; t < 2; t++) {
        const uint8_t *q = p + 24 + 8 * t;
        double v[3] = {number(q), number(q + 2), number(q + 4)};
        if ((q[6] & 3) == 0) {
            key->tag[t] = imd_value_number(v[0]);
        } else if ((q[6] & 3) == 1) {
            key->tag[t] = imd_value_vector(v, q[7] % 4);
        } else {
            key->tag[t] = imd_value_b_vector(v[0], v + 1, q[7] % 3);
        }
        key->has_tag[t] = (q[6] & 4) == 0;
    }
    key->rows = key->columns = 4;
    key->sequence = p[7]; /* acquisition sequence: ties and disorder on purpose */
    /* auto's b and dti candidates (slots 2 and 5) from the same values */
    key->tag[2] = key->tag[0];
    key->has_tag[2] = key->has_tag[0];
    key->tag[5] = key->tag[1];
    key->has_tag[5] = key->has_tag[1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"time", "b", "bvector", "dti", "te", "none"};
    if (size < 4) {
        return 0;
    }
    size_t count = (size - 4) / 40;
    if (count == 0 || count > 4096) {
        return 0;
    }
    ImdSortOptions options = {0};
    options.auto_order = (data[0] & 1) != 0;
    options.count = options.auto_order ? 2 : 1 + (data[0] >> 1) % 2;
    options.names[0] = names[data[1] % 6];
    options.names[1] = names[data[2] % 6];
    if (options.auto_order && (data[0] & 2) != 0) {
        /* the reader's auto candidates, dti last: sequence ordering and synthetic time */
        static const char *const candidates[] = {"time", "triggertime", "b", "fa", "te", "dti"};
        for (size_t i = 0; i < 6; i++) {
            options.names[i] = candidates[i];
        }
        options.count = 6;
        options.time_step = (data[0] >> 2) / 8.0;
    }
    options.accept_uneven_slices = (data[3] & 1) != 0;
    options.accept_duplicate_tag = (data[3] & 2) != 0;
    options.sort_on_slice_location = (data[3] & 4) != 0;
    options.slice_tolerance = (data[3] & 8) != 0 ? 0.5 : 0;
    ImdSliceKey *keys = calloc(count, sizeof *keys);
    if (keys == NULL) {
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        make_key(data + 4 + 40 * i, (uint32_t)i, &keys[i]);
    }
    ImdError *error = NULL;
    ImdLayout layout;
    bool ok = imd__dicom_sort(&error, keys, count, &options, &layout);
    if (ok == (error != NULL)) {
        abort();
    }
    if (ok) {
        size_t cells = layout.slices;
        for (size_t d = 0; d < layout.tag_ndim; d++) {
            cells *= layout.tag_shape[d];
        }
        uint8_t *used = calloc(count, 1);
        for (size_t c = 0; used != NULL && c < cells; c++) {
            uint32_t k = layout.cell[c];
            if (k != UINT32_MAX && (k >= count || used[k]++)) {
                abort(); /* a key outside the input, or used twice */
            }
        }
        free(used);
        if (layout.slices == 0 || layout.slices > count) {
            abort();
        }
    }
    imd__dicom_layout_free(&layout);
    imd_error_clear(&error);
    free(keys);
    return 0;
}
