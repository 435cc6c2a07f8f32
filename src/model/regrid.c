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

/* ---- resampling onto another grid (imd_series_resample) ---- */

static double as_double(ImdDType dtype, const uint8_t *element)
{
    double value = 0;
    (void)imd__convert_elements(dtype, element, IMD_DTYPE_FLOAT64, &value, 1);
    return value;
}

/* The nearest voxel of continuous index `at`, or NULL outside the volume. */
static const uint8_t *nearest(const uint8_t *volume, const size_t n[3], const double at[3],
                              size_t item)
{
    size_t index[3];
    for (int a = 0; a < 3; a++) {
        double r = floor(at[a] + 0.5);
        if (r < 0 || r > (double)(n[a] - 1)) {
            return NULL;
        }
        index[a] = (size_t)r;
    }
    return volume + ((index[2] * n[1] + index[1]) * n[0] + index[0]) * item;
}

/* Trilinear value at continuous index (c, r, s) of one volume, or 0 outside. */
static double linear(const ImdSeries *series, const uint8_t *volume, const size_t n[3],
                     const double at[3])
{
    size_t item = imd_dtype_size(series->dtype);
    double value = 0;
    size_t base[3];
    double frac[3];
    for (int a = 0; a < 3; a++) {
        /* A single voxel along an axis is sampled only at its centre. */
        if (at[a] < -GRID_TOLERANCE || at[a] > (double)(n[a] - 1) + GRID_TOLERANCE) {
            return 0;
        }
        double clamped = at[a] < 0 ? 0 : (at[a] > (double)(n[a] - 1) ? (double)(n[a] - 1) : at[a]);
        base[a] = (size_t)floor(clamped);
        if (base[a] + 1 >= n[a]) {
            base[a] = n[a] >= 2 ? n[a] - 2 : 0;
        }
        frac[a] = n[a] >= 2 ? clamped - (double)base[a] : 0;
    }
    for (int corner = 0; corner < 8; corner++) {
        double weight = 1;
        size_t index[3];
        for (int a = 0; a < 3; a++) {
            int up = (corner >> a) & 1;
            weight *= up ? frac[a] : 1 - frac[a];
            index[a] = base[a] + (size_t)up;
            if (index[a] >= n[a]) {
                index[a] = n[a] - 1;
            }
        }
        if (weight != 0) {
            size_t offset = (index[2] * n[1] + index[1]) * n[0] + index[0];
            value += weight * as_double(series->dtype, volume + offset * item);
        }
    }
    return value;
}

/* The 4x4 inverse of an affine voxel-to-patient transform (3x3 + translation). */
static bool invert_affine(const ImdMat4 *m, double rotation[3][3], double offset[3])
{
    double r[3][3];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            r[i][j] = m->m[i][j];
        }
    }
    if (!invert3(r, rotation)) {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        offset[i] = 0;
        for (int k = 0; k < 3; k++) {
            offset[i] -= rotation[i][k] * m->m[k][3];
        }
    }
    return true;
}

bool imd__series_resample_data(ImdError **error, ImdSeries *series, const ImdSeries *grid,
                               ImdInterpolation method)
{
    if (series->ndim < 3 || grid->ndim < 3 || imd_series_tag_ndim(series) + 3 != series->ndim ||
        !imd_header_geometry_defined(series->header) ||
        !imd_header_geometry_defined(grid->header)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "resample: both series need a slice, row and column axis and geometry");
        return false;
    }
    if (method != IMD_INTERPOLATION_NEAREST && method != IMD_INTERPOLATION_LINEAR) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "resample: unknown interpolation %d",
                      (int)method);
        return false;
    }
    if (method == IMD_INTERPOLATION_LINEAR &&
        (series->dtype == IMD_DTYPE_RGB8 || imd_dtype_is_complex(series->dtype))) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "resample: linear interpolation of %s data (use nearest)",
                      imd_dtype_name(series->dtype));
        return false;
    }
    ImdDType out_type = method == IMD_INTERPOLATION_LINEAR ? IMD_DTYPE_FLOAT64 : series->dtype;
    size_t ns[3], ng[3], volumes = 1;
    for (int j = 0; j < 3; j++) {
        ns[j] = series->shape[series->ndim - 1 - (size_t)j];
        ng[j] = grid->shape[grid->ndim - 1 - (size_t)j];
    }
    for (size_t d = 0; d + 3 < series->ndim; d++) {
        volumes *= series->shape[d];
    }
    size_t bytes = imd_dtype_size(out_type);
    if (!imd__mul_size(bytes, ng[0] * ng[1], &bytes) || !imd__mul_size(bytes, ng[2], &bytes) ||
        !imd__mul_size(bytes, volumes, &bytes) ||
        !imd__check_alloc(error, NULL, bytes, "resample")) {
        if (error != NULL && *error == NULL) {
            imd_error_set(error, IMD_ERR_LIMIT, "resample: the result is too large");
        }
        return false;
    }
    ImdMat4 to_patient, from_patient_m;
    imd_header_transform(grid->header, &to_patient);
    imd_header_transform(series->header, &from_patient_m);
    double inverse[3][3], offset[3];
    if (!invert_affine(&from_patient_m, inverse, offset)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "resample: the series' transform is singular");
        return false;
    }
    uint8_t *out = imd__malloc(error, bytes > 0 ? bytes : 1);
    if (out == NULL) {
        return false;
    }
    size_t in_item = imd_dtype_size(series->dtype), out_item = imd_dtype_size(out_type);
    size_t in_volume = ns[0] * ns[1] * ns[2] * in_item, done = 0;
    const uint8_t *in = series->data;
    for (size_t v = 0; v < volumes; v++) {
        const uint8_t *volume = in + v * in_volume;
        for (size_t s = 0; s < ng[2]; s++) {
            for (size_t r = 0; r < ng[1]; r++) {
                for (size_t c = 0; c < ng[0]; c++) {
                    double index[3] = {(double)c, (double)r, (double)s}, p[3], at[3];
                    for (int i = 0; i < 3; i++) {
                        p[i] = to_patient.m[i][3];
                        for (int k = 0; k < 3; k++) {
                            p[i] += to_patient.m[i][k] * index[k];
                        }
                    }
                    for (int i = 0; i < 3; i++) {
                        at[i] = offset[i];
                        for (int k = 0; k < 3; k++) {
                            at[i] += inverse[i][k] * p[k];
                        }
                    }
                    uint8_t *to = out + done * out_item;
                    if (method == IMD_INTERPOLATION_NEAREST) {
                        const uint8_t *from = nearest(volume, ns, at, in_item);
                        if (from != NULL) {
                            memcpy(to, from, out_item);
                        } else {
                            memset(to, 0, out_item);
                        }
                    } else {
                        double value = linear(series, volume, ns, at);
                        memcpy(to, &value, sizeof value);
                    }
                    done++;
                }
            }
        }
    }
    imd__series_replace_data(series, out);
    series->dtype = out_type;
    static const char *const names[3] = {"column", "row", "slice"};
    for (int j = 0; j < 3; j++) {
        size_t dim = series->ndim - 1 - (size_t)j;
        series->shape[dim] = ng[j];
        ImdAxis *axis = imd_axis_create_uniform(error, names[j], 0, 1, ng[j]);
        if (axis == NULL || !imd_series_set_axis(error, series, dim, axis)) {
            imd_axis_destroy(axis);
            return false;
        }
    }
    return true;
}
