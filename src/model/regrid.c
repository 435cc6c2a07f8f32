/*
 * regrid.c: a series put back onto a reference's voxel grid when both grids
 * hold the same voxels in another axis order or direction: a 3D
 * acquisition reoriented to the nearest RAS axes in NIfTI (as dcm2niix's
 * nii_setOrtho does), a MetaIO or MAT volume written in another axis order.
 * Voxels are moved, never resampled: the grids must map onto each other by
 * a signed permutation of the axes, to within 1e-3 of a voxel.
 */
#include "model/model_internal.h"

#include <math.h>

/* How far from an exact permutation two grids may be: rounding in files. */
#define GRID_TOLERANCE 1e-3

/* 3x3 inverse; false when singular. */
static bool invert3(double a[3][3], double out[3][3])
{
    double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                 a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                 a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    if (fabs(det) < 1e-12) {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
            out[i][j] = (a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]) / det;
        }
    }
    return true;
}

/*
 * The map from the series' voxel index (column, row, slice) to the
 * reference's: reference axis `axis[j]` = sign[j] * series index j + offset.
 * False when it is not a signed permutation of whole voxels.
 */
typedef struct GridMap {
    int axis[3], sign[3];
} GridMap;

static bool grid_map(const ImdSeries *series, const ImdSeries *reference, GridMap *map)
{
    ImdMat4 ms, mr;
    imd_header_transform(series->header, &ms);
    imd_header_transform(reference->header, &mr);
    double rr[3][3], inverse[3][3], t[3][3], offset[3];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            rr[i][j] = mr.m[i][j];
        }
    }
    if (!invert3(rr, inverse)) {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        offset[i] = 0;
        for (int k = 0; k < 3; k++) {
            offset[i] += inverse[i][k] * (ms.m[k][3] - mr.m[k][3]);
        }
        for (int j = 0; j < 3; j++) {
            t[i][j] = 0;
            for (int k = 0; k < 3; k++) {
                t[i][j] += inverse[i][k] * ms.m[k][j];
            }
        }
    }
    /* Sizes in (column, row, slice) order: the shape's last three, reversed. */
    size_t ns[3], nr[3];
    for (int j = 0; j < 3; j++) {
        ns[j] = series->shape[series->ndim - 1 - (size_t)j];
        nr[j] = reference->shape[reference->ndim - 1 - (size_t)j];
    }
    bool used[3] = {false, false, false};
    for (int j = 0; j < 3; j++) {
        int i = 0;
        for (int k = 1; k < 3; k++) {
            i = fabs(t[k][j]) > fabs(t[i][j]) ? k : i;
        }
        int sign = t[i][j] > 0 ? 1 : -1;
        if (used[i] || fabs(fabs(t[i][j]) - 1) > GRID_TOLERANCE || ns[j] != nr[i]) {
            return false;
        }
        for (int k = 0; k < 3; k++) {
            if (k != i && fabs(t[k][j]) > GRID_TOLERANCE) {
                return false;
            }
        }
        /* Index 0 of the series lands on 0 (same direction) or on n-1 (flipped). */
        double want = sign > 0 ? 0.0 : (double)(nr[i] - 1);
        if (fabs(offset[i] - want) > GRID_TOLERANCE) {
            return false;
        }
        used[i] = true;
        map->axis[j] = i;
        map->sign[j] = sign;
    }
    return true;
}

static bool is_identity(const GridMap *map)
{
    for (int j = 0; j < 3; j++) {
        if (map->axis[j] != j || map->sign[j] != 1) {
            return false;
        }
    }
    return true;
}

/* Move every voxel: for each reference voxel, the series voxel it came from. */
static void move_voxels(const ImdSeries *series, const GridMap *map, const size_t nr[3],
                        void *out)
{
    size_t item = imd_dtype_size(series->dtype);
    size_t ns[3], stride[3] = {1, 0, 0};
    for (int j = 0; j < 3; j++) {
        ns[j] = series->shape[series->ndim - 1 - (size_t)j];
    }
    stride[1] = ns[0];
    stride[2] = ns[0] * ns[1];
    size_t volume = ns[0] * ns[1] * ns[2], volumes = 1;
    for (size_t d = 0; d + 3 < series->ndim; d++) {
        volumes *= series->shape[d];
    }
    const uint8_t *in = series->data;
    uint8_t *to = out;
    for (size_t v = 0; v < volumes; v++) {
        const uint8_t *from = in + v * volume * item;
        size_t index[3];
        for (index[2] = 0; index[2] < nr[2]; index[2]++) {
            for (index[1] = 0; index[1] < nr[1]; index[1]++) {
                for (index[0] = 0; index[0] < nr[0]; index[0]++) {
                    size_t at = 0;
                    for (int j = 0; j < 3; j++) {
                        size_t r = index[map->axis[j]];
                        size_t s = map->sign[j] > 0 ? r : ns[j] - 1 - r;
                        at += s * stride[j];
                    }
                    memcpy(to, from + at * item, item);
                    to += item;
                }
            }
        }
    }
}

bool imd__series_onto_grid(ImdError **error, ImdSeries *series, const ImdSeries *reference,
                           bool *moved)
{
    *moved = false;
    if (series->ndim < 3 || reference->ndim < 3 ||
        !imd_header_geometry_defined(series->header) ||
        !imd_header_geometry_defined(reference->header) ||
        imd_series_tag_ndim(series) + 3 != series->ndim) {
        return true;
    }
    GridMap map;
    if (!grid_map(series, reference, &map) || is_identity(&map)) {
        return true;
    }
    size_t nr[3], bytes = 0;
    for (int j = 0; j < 3; j++) {
        nr[j] = reference->shape[reference->ndim - 1 - (size_t)j];
    }
    if (!imd__shape_count(series->ndim, series->shape, &bytes) ||
        !imd__mul_size(bytes, imd_dtype_size(series->dtype), &bytes)) {
        imd_error_set(error, IMD_ERR_LIMIT, "regrid: the series is too large");
        return false;
    }
    if (!imd__check_alloc(error, NULL, bytes, "regrid")) {
        return false;
    }
    void *out = imd__malloc(error, bytes > 0 ? bytes : 1);
    if (out == NULL) {
        return false;
    }
    move_voxels(series, &map, nr, out);
    imd__series_replace_data(series, out);
    static const char *const names[3] = {"column", "row", "slice"};
    for (int j = 0; j < 3; j++) {
        size_t dim = series->ndim - 1 - (size_t)j;
        series->shape[dim] = nr[j];
        ImdAxis *axis = imd_axis_create_uniform(error, names[j], 0, 1, nr[j]);
        if (axis == NULL || !imd_series_set_axis(error, series, dim, axis)) {
            imd_axis_destroy(axis);
            return false;
        }
    }
    *moved = true;
    return true;
}
