/*
 * geometry.c: the NIfTI geometry as pure functions (behaviour.md §5.2), in
 * the convention of dcm2niix, whose files are our reference. No I/O, no
 * global state.
 *
 * Writing (imd__nifti_geometry_from_source), in dcm2niix's order:
 *   1. dcm2niix nifti_dicom2mat: Q = [row | column | row x column] (LPS,
 *      unit columns), times diag(dc, dr, ds); translation = the first
 *      slice's position. The determinant is then always positive, so its
 *      "det < 0: negate column 2" never applies. ds is the distance between
 *      slice centres, as dcm2niix corrects SpacingBetweenSlices with the
 *      positions (it measures the first two slices; we take the mean from
 *      the first to the last, the same for uniform slices); the series'
 *      spacing[0] for one slice.
 *   2. The last slice on the wrong side (dcm2niix verify_slice_dir): along
 *      the world axis where column 2 is largest, the last slice must lie on
 *      the same side of the first as the matrix puts it. When not, dcm2niix
 *      negates column 2 and then reverses the slices (nii_flipZ), which
 *      restores column 2 and moves the origin to the last slice: k = ns-1-s.
 *   3. LPS -> RAS: negate rows 0 and 1.
 *   4. MRAcquisitionType 3D (several slices): reorient to the nearest
 *      orthogonal axes (dcm2niix nii_setOrtho) INSTEAD of the y flip, as
 *      dcm2niix does (it only does this for a single volume: the caller
 *      sets acquisition_3d for 3D data without tag dimensions).
 *      Otherwise the y flip (dcm2niix nii_flipY): j = ny-1-r.
 *   5. qform from the final sform (NIfTI-1 header documentation, method 2):
 *      unit columns, the nearest orthogonal matrix (polar decomposition),
 *      qfac = sign of its determinant (column 2 negated when -1), then the
 *      quaternion with a >= 0.
 *   6. dim_info: InPlanePhaseEncodingDirection ROW -> freq 2, phase 1,
 *      COL -> freq 1, phase 2; slice 3 (the reference files: 54 and 57).
 *
 * Reading (imd__nifti_placement_from_header), behaviour.md §5.2 "Read":
 * the sform when sform_code > 0, else the qform when qform_code > 0 (the
 * original ignored the qform, §12), else pixdim scaling only (NIfTI-1
 * method 1); spatial units m and um converted to mm (positions too); the y
 * flip undone; flip_slice=1 in descrip reverses the slices (the origin
 * moves to the last one, so the geometry stays true); RAS -> LPS. The
 * spacing is the length of the matrix's columns: pixdim for the qform and
 * for every consistent sform (dcm2niix's).
 */
#include "formats/nifti/nifti.h"

#include <float.h>
#include <math.h>

/* 3x3 matrices and 3x4 affines (columns i, j, k and the translation), in
 * structs so that they pass as const. */
typedef struct Mat3 {
    double m[3][3];
} Mat3;
typedef struct Affine {
    double m[3][4];
} Affine;

/* ---- small vector and matrix helpers ---- */

static double norm3(const double v[3])
{
    return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

static void cross3(const double a[3], const double b[3], double out[3])
{
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static bool finite3(const double v[3])
{
    return isfinite(v[0]) && isfinite(v[1]) && isfinite(v[2]);
}

static double det3(const Mat3 *a)
{
    const double(*m)[3] = a->m;
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
           m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

/* The inverse transposed (cofactors / determinant); false when singular. */
static bool inverse_transposed3(const Mat3 *a, Mat3 *out)
{
    const double(*m)[3] = a->m;
    double det = det3(a);
    if (det == 0.0 || !isfinite(det)) {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            int i1 = (i + 1) % 3, i2 = (i + 2) % 3, j1 = (j + 1) % 3, j2 = (j + 2) % 3;
            out->m[i][j] = (m[i1][j1] * m[i2][j2] - m[i1][j2] * m[i2][j1]) / det;
        }
    }
    return true;
}

/*
 * The orthogonal matrix nearest to m (the polar factor), as the NIfTI-1
 * documentation asks for a matrix whose columns are not quite orthogonal:
 * Newton's iteration X <- (X + X^-T) / 2, quadratic from near-orthogonal
 * input. A singular m is left as it is.
 */
static void nearest_orthogonal(Mat3 *x)
{
    for (int iteration = 0; iteration < 100; iteration++) {
        Mat3 inv_t;
        double change = 0.0;
        if (!inverse_transposed3(x, &inv_t)) {
            return;
        }
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                double next = 0.5 * (x->m[i][j] + inv_t.m[i][j]);
                change = fmax(change, fabs(next - x->m[i][j]));
                x->m[i][j] = next;
            }
        }
        if (change < 1e-15) {
            return;
        }
    }
}

/* ---- the qform (NIfTI-1 header documentation, "METHOD 2") ---- */

/*
 * The quaternion (b, c, d) of a proper rotation r, with a >= 0. The
 * component computed first is the one that is numerically safe: a when the
 * rotation is below 120 degrees or so (4a^2 = 1 + trace > 0.5), else b, c or
 * d (the first whose 4x^2 exceeds 1, the NIfTI-1 reference's choice, which
 * decides the sign of a 180-degree rotation: that component stays positive).
 */
static void quaternion_from_rotation(const Mat3 *rotation, double *qb, double *qc, double *qd)
{
    const double(*r)[3] = rotation->m;
    double a, b, c, d;
    double four_a2 = 1.0 + r[0][0] + r[1][1] + r[2][2];
    if (four_a2 > 0.5) {
        a = 0.5 * sqrt(four_a2);
        b = (r[2][1] - r[1][2]) / (4.0 * a);
        c = (r[0][2] - r[2][0]) / (4.0 * a);
        d = (r[1][0] - r[0][1]) / (4.0 * a);
    } else {
        double four_b2 = 1.0 + r[0][0] - r[1][1] - r[2][2];
        double four_c2 = 1.0 - r[0][0] + r[1][1] - r[2][2];
        double four_d2 = 1.0 - r[0][0] - r[1][1] + r[2][2];
        if (four_b2 > 1.0) {
            b = 0.5 * sqrt(four_b2);
            c = (r[0][1] + r[1][0]) / (4.0 * b);
            d = (r[0][2] + r[2][0]) / (4.0 * b);
            a = (r[2][1] - r[1][2]) / (4.0 * b);
        } else if (four_c2 > 1.0) {
            c = 0.5 * sqrt(four_c2);
            b = (r[0][1] + r[1][0]) / (4.0 * c);
            d = (r[1][2] + r[2][1]) / (4.0 * c);
            a = (r[0][2] - r[2][0]) / (4.0 * c);
        } else {
            d = 0.5 * sqrt(fmax(four_d2, 0.0));
            if (d == 0.0) { /* cannot happen for a rotation; stay defined */
                d = 1.0;
            }
            b = (r[0][2] + r[2][0]) / (4.0 * d);
            c = (r[1][2] + r[2][1]) / (4.0 * d);
            a = (r[1][0] - r[0][1]) / (4.0 * d);
        }
        if (a < 0.0) { /* q and -q are the same rotation; NIfTI stores a >= 0 */
            b = -b;
            c = -c;
            d = -d;
        }
    }
    *qb = b;
    *qc = c;
    *qd = d;
}

/* quatern b, c, d, qoffset x, y, z and qfac of an affine (columns of any length). */
static void qform_from_affine(const Affine *affine, double quatern[6], double *qfac)
{
    const double(*s)[4] = affine->m;
    Mat3 r;
    for (int j = 0; j < 3; j++) {
        double length = sqrt(s[0][j] * s[0][j] + s[1][j] * s[1][j] + s[2][j] * s[2][j]);
        for (int i = 0; i < 3; i++) {
            r.m[i][j] = length > 0.0 ? s[i][j] / length : (i == j ? 1.0 : 0.0);
        }
    }
    nearest_orthogonal(&r);
    *qfac = 1.0;
    if (det3(&r) < 0.0) { /* improper: the qform stores k negated (pixdim[0] = -1) */
        *qfac = -1.0;
        for (int i = 0; i < 3; i++) {
            r.m[i][2] = -r.m[i][2];
        }
    }
    quaternion_from_rotation(&r, &quatern[0], &quatern[1], &quatern[2]);
    for (int i = 0; i < 3; i++) {
        quatern[3 + i] = s[i][3];
    }
}

/* The rotation of quaternion (b, c, d) (NIfTI-1: a = sqrt(1 - b^2 - c^2 - d^2)). */
static void rotation_from_quaternion(double b, double c, double d, Mat3 *rotation)
{
    double(*r)[3] = rotation->m;
    double a2 = 1.0 - (b * b + c * c + d * d);
    double a = 0.0;
    if (a2 < 1e-7) {
        /* a 180-degree rotation stored in float32: (b, c, d) is a unit vector
         * up to rounding (as the NIfTI-1 reference code treats it) */
        double length = sqrt(b * b + c * c + d * d);
        if (length > 0.0) {
            b /= length;
            c /= length;
            d /= length;
        }
    } else {
        a = sqrt(a2);
    }
    r[0][0] = a * a + b * b - c * c - d * d;
    r[0][1] = 2.0 * (b * c - a * d);
    r[0][2] = 2.0 * (b * d + a * c);
    r[1][0] = 2.0 * (b * c + a * d);
    r[1][1] = a * a + c * c - b * b - d * d;
    r[1][2] = 2.0 * (c * d - a * b);
    r[2][0] = 2.0 * (b * d - a * c);
    r[2][1] = 2.0 * (c * d + a * b);
    r[2][2] = a * a + d * d - c * c - b * b;
}

/* ---- writing ---- */

/*
 * dcm2niix verify_slice_dir, with the first and last positions: true when
 * the last slice lies against column 2 of m (LPS, before the RAS negation).
 */
static bool last_slice_on_wrong_side(const Affine *affine, const ImdNiftiSource *source,
                                     const double row[3], const double column[3])
{
    const double(*m)[4] = affine->m;
    /* the world axis where column 2 is largest (ties go to the later axis) */
    int axis = 0;
    if (fabs(m[1][2]) >= fabs(m[0][2]) && fabs(m[1][2]) >= fabs(m[2][2])) {
        axis = 1;
    }
    if (fabs(m[2][2]) >= fabs(m[0][2]) && fabs(m[2][2]) >= fabs(m[1][2])) {
        axis = 2;
    }
    const double first[3] = {source->first.x, source->first.y, source->first.z};
    const double last[3] = {source->last.x, source->last.y, source->last.z};
    if (fabs(last[axis] - first[axis]) > FLT_EPSILON) {
        double predicted = first[axis] + (double)(source->slices - 1) * m[axis][2];
        return (last[axis] > first[axis]) != (predicted > first[axis]);
    }
    /* no usable last position: dcm2niix's guess from the normal's components */
    double normal[3];
    cross3(row, column, normal);
    return normal[0] + normal[1] + normal[2] < 0.0;
}

/* dcm2niix nii_flipY: j = ny-1-r; the origin moves to the last row. */
static void flip_y(Affine *affine, size_t rows, ImdNiftiVoxelOrder *order)
{
    double(*m)[4] = affine->m;
    for (int i = 0; i < 3; i++) {
        m[i][3] += (double)(rows - 1) * m[i][1];
        m[i][1] = -m[i][1];
    }
    order->flip[1] = !order->flip[1];
}

/*
 * dcm2niix nii_setOrtho: lay the voxels out along the world axes nearest to
 * the volume's axes, so that the matrix is close to a positive diagonal.
 * Voxel 0 becomes the corner nearest the lowest (x, y, z) of all corners;
 * that corner says which axes run backwards; of the six axis permutations
 * the one whose matching matrix entries (signed) sum highest wins. Nothing
 * changes for an already canonical matrix or when the identity wins.
 */
static void reorient_to_nearest_axes(Affine *affine, const size_t dims[3],
                                     ImdNiftiVoxelOrder *order, double pixdim[3])
{
    double(*m)[4] = affine->m;
    bool canonical = true;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            if (i == j ? !(m[i][j] > 0.0) : m[i][j] != 0.0) {
                canonical = false;
            }
        }
    }
    if (canonical) {
        return;
    }
    /* the corners, and the one nearest the lowest coordinates */
    double corners[8][3], low[3] = {INFINITY, INFINITY, INFINITY};
    for (int f = 0; f < 8; f++) {
        for (int i = 0; i < 3; i++) {
            corners[f][i] = m[i][3];
            for (int a = 0; a < 3; a++) {
                if (f >> a & 1) {
                    corners[f][i] += (double)(dims[a] - 1) * m[i][a];
                }
            }
            low[i] = fmin(low[i], corners[f][i]);
        }
    }
    int nearest = 0;
    double nearest_distance = INFINITY;
    for (int f = 0; f < 8; f++) {
        double d[3] = {corners[f][0] - low[0], corners[f][1] - low[1], corners[f][2] - low[2]};
        double distance = norm3(d);
        if (distance < nearest_distance) {
            nearest_distance = distance;
            nearest = f;
        }
    }
    double sign[3];
    for (int a = 0; a < 3; a++) {
        sign[a] = (nearest >> a & 1) ? -1.0 : 1.0;
    }
    /* target[a]: the output axis (and world axis) taking input axis a */
    static const int permutations[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                           {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    int best = -1;
    double best_score = 0.0;
    for (int p = 0; p < 6; p++) {
        double score = 0.0;
        for (int a = 0; a < 3; a++) {
            score += sign[a] * m[permutations[p][a]][a];
        }
        if (score > best_score) {
            best_score = score;
            best = p;
        }
    }
    if (best < 0) {
        return; /* no permutation points the axes forward (degenerate) */
    }
    const int *target = permutations[best];
    if (best == 0 && sign[0] > 0 && sign[1] > 0 && sign[2] > 0) {
        return;
    }
    Affine out;
    ImdNiftiVoxelOrder reordered;
    double reordered_pixdim[3];
    for (int a = 0; a < 3; a++) {
        int t = target[a];
        for (int i = 0; i < 3; i++) {
            out.m[i][t] = sign[a] * m[i][a];
        }
        reordered.source[t] = order->source[a];
        reordered.flip[t] = order->flip[a] != (sign[a] < 0);
        reordered_pixdim[t] = pixdim[a];
    }
    for (int i = 0; i < 3; i++) {
        out.m[i][3] = corners[nearest][i];
    }
    *affine = out;
    *order = reordered;
    memcpy(pixdim, reordered_pixdim, sizeof reordered_pixdim);
}

bool imd__nifti_geometry_from_source(ImdError **error, const ImdNiftiSource *source,
                                     ImdNiftiGeometry *geometry)
{
    memset(geometry, 0, sizeof *geometry);
    if (source->slices == 0 || source->rows == 0 || source->columns == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "NIfTI geometry: empty volume (%zu x %zu x %zu)",
                      source->slices, source->rows, source->columns);
        return false;
    }
    double row[3] = {source->row.x, source->row.y, source->row.z};
    double column[3] = {source->column.x, source->column.y, source->column.z};
    double first[3] = {source->first.x, source->first.y, source->first.z};
    double last[3] = {source->last.x, source->last.y, source->last.z};
    double row_length = norm3(row), column_length = norm3(column);
    if (!finite3(row) || !finite3(column) || !finite3(first) ||
        (source->slices > 1 && !finite3(last)) || !(row_length > 1e-6) ||
        !(column_length > 1e-6)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "NIfTI geometry: orientation or position is not finite or zero");
        return false;
    }
    double normal[3];
    for (int i = 0; i < 3; i++) {
        row[i] /= row_length;
        column[i] /= column_length;
    }
    cross3(row, column, normal);
    double normal_length = norm3(normal);
    if (!(normal_length > 1e-6)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "NIfTI geometry: the row and column cosines are parallel");
        return false;
    }
    for (int i = 0; i < 3; i++) {
        normal[i] /= normal_length;
    }

    /* ds: the distance between slice centres (dcm2niix), else the spacing */
    double dc = source->spacing[2], dr = source->spacing[1], ds = source->spacing[0];
    if (source->slices > 1) {
        double step[3] = {last[0] - first[0], last[1] - first[1], last[2] - first[2]};
        double distance = norm3(step) / (double)(source->slices - 1);
        if (distance > 0.0) {
            ds = distance;
        }
    }
    if (!(dc > 0.0) || !(dr > 0.0) || !(ds > 0.0) || !isfinite(dc) || !isfinite(dr) ||
        !isfinite(ds)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "NIfTI geometry: bad spacing (%g, %g, %g)", ds,
                      dr, dc);
        return false;
    }

    /* 1. dcm2niix nifti_dicom2mat (LPS) */
    Affine affine;
    double(*m)[4] = affine.m;
    for (int i = 0; i < 3; i++) {
        m[i][0] = row[i] * dc;
        m[i][1] = column[i] * dr;
        m[i][2] = normal[i] * ds;
        m[i][3] = first[i];
    }
    ImdNiftiVoxelOrder order = {{0, 1, 2}, {false, false, false}};

    /* 2. the last slice on the wrong side: reverse the slices (nii_flipZ) */
    if (source->slices > 1 && last_slice_on_wrong_side(&affine, source, row, column)) {
        for (int i = 0; i < 3; i++) {
            m[i][3] -= (double)(source->slices - 1) * m[i][2];
        }
        order.flip[2] = true;
    }

    /* 3. LPS -> RAS */
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) {
            m[i][j] = -m[i][j];
        }
    }

    /* 4. 3D acquisitions: the nearest orthogonal axes; otherwise the y flip */
    double pixdim[3] = {dc, dr, ds};
    if (source->acquisition_3d && source->slices > 1) {
        const size_t dims[3] = {source->columns, source->rows, source->slices};
        reorient_to_nearest_axes(&affine, dims, &order, pixdim);
    } else {
        flip_y(&affine, source->rows, &order);
    }

    /* 5. sform and qform */
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            geometry->sform[i][j] = m[i][j];
        }
    }
    geometry->sform[3][3] = 1.0;
    qform_from_affine(&affine, geometry->quatern, &geometry->qfac);
    memcpy(geometry->pixdim, pixdim, sizeof pixdim);
    geometry->order = order;

    /* 6. dim_info: freq | phase << 2 | slice << 4 (1-based NIfTI axes) */
    if (source->phase_known) {
        int freq = source->phase_is_row ? 2 : 1, phase = source->phase_is_row ? 1 : 2;
        geometry->dim_info = (uint8_t)(freq | phase << 2 | 3 << 4);
    }
    return true;
}

/* ---- reading ---- */

/* The scale of the spatial unit to mm (xyzt_units bits 0-2: 1 m, 2 mm, 3 um). */
static double spatial_unit_to_mm(int32_t xyzt_units)
{
    switch (xyzt_units & 7) {
    case 1:
        return 1000.0;
    case 3:
        return 0.001;
    default:
        return 1.0; /* mm, or unknown: mm */
    }
}

/* pixdim[d] as a voxel size: its magnitude, 1 when zero or not finite. */
static double zoom(const ImdNiftiHeader *header, int d)
{
    double value = fabs(header->pixdim[d]);
    return isfinite(value) && value > 0.0 ? value : 1.0;
}

bool imd__nifti_placement_from_header(ImdError **error, const ImdNiftiHeader *header,
                                      ImdNiftiPlacement *placement)
{
    memset(placement, 0, sizeof *placement);
    int64_t n[3];
    for (int d = 0; d < 3; d++) {
        n[d] = header->dim[0] > d ? header->dim[d + 1] : 1;
        if (n[d] < 1) {
            n[d] = 1;
        }
    }

    /* the transform: sform, else qform, else pixdim only (RAS) */
    Affine affine;
    double(*s)[4] = affine.m;
    if (header->sform_code > 0) {
        memcpy(s, header->srow, sizeof affine.m);
    } else if (header->qform_code > 0) {
        Mat3 rotation;
        double qfac = header->pixdim[0] < 0.0 ? -1.0 : 1.0; /* 0 counts as 1 */
        rotation_from_quaternion(header->quatern_b, header->quatern_c, header->quatern_d,
                                 &rotation);
        for (int i = 0; i < 3; i++) {
            s[i][0] = rotation.m[i][0] * zoom(header, 1);
            s[i][1] = rotation.m[i][1] * zoom(header, 2);
            s[i][2] = rotation.m[i][2] * zoom(header, 3) * qfac;
        }
        s[0][3] = header->qoffset_x;
        s[1][3] = header->qoffset_y;
        s[2][3] = header->qoffset_z;
    } else {
        memset(&affine, 0, sizeof affine);
        for (int d = 0; d < 3; d++) {
            s[d][d] = zoom(header, d + 1);
        }
    }
    double unit = spatial_unit_to_mm(header->xyzt_units);
    double length[3];
    for (int j = 0; j < 4; j++) {
        for (int i = 0; i < 3; i++) {
            s[i][j] *= unit;
            if (!isfinite(s[i][j])) {
                imd_error_set(error, IMD_ERR_CORRUPT, "NIfTI transform is not finite");
                return false;
            }
        }
        if (j < 3) {
            const double column[3] = {s[0][j], s[1][j], s[2][j]};
            length[j] = norm3(column);
        }
    }
    if (!(length[0] > 0.0) || !(length[1] > 0.0)) {
        imd_error_set(error, IMD_ERR_CORRUPT, "NIfTI transform has a zero in-plane axis");
        return false;
    }
    if (!(length[2] > 0.0)) { /* no slice axis: the normal times the slice zoom */
        double a[3] = {s[0][0], s[1][0], s[2][0]}, b[3] = {s[0][1], s[1][1], s[2][1]}, c[3];
        cross3(a, b, c);
        double c_length = norm3(c);
        if (!(c_length > 0.0)) {
            imd_error_set(error, IMD_ERR_CORRUPT, "NIfTI transform is singular");
            return false;
        }
        length[2] = zoom(header, 3) * unit;
        for (int i = 0; i < 3; i++) {
            s[i][2] = c[i] / c_length * length[2];
        }
    }

    /* undo the y flip: series row r = NIfTI j = ny-1-r */
    for (int i = 0; i < 3; i++) {
        s[i][3] += (double)(n[1] - 1) * s[i][1];
        s[i][1] = -s[i][1];
    }
    /* flip_slice=1 (descrip): the slices are reversed too */
    char descrip[sizeof header->descrip];
    memcpy(descrip, header->descrip, sizeof descrip);
    descrip[sizeof descrip - 1] = '\0';
    bool flip_slice = strstr(descrip, "flip_slice=1") != NULL;
    if (flip_slice) {
        for (int i = 0; i < 3; i++) {
            s[i][3] += (double)(n[2] - 1) * s[i][2];
            s[i][2] = -s[i][2];
        }
    }
    /* RAS -> LPS */
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 4; j++) {
            s[i][j] = -s[i][j];
        }
    }

    placement->row = (ImdVec3){s[0][0] / length[0], s[1][0] / length[0], s[2][0] / length[0]};
    placement->column = (ImdVec3){s[0][1] / length[1], s[1][1] / length[1], s[2][1] / length[1]};
    placement->slice_step = (ImdVec3){s[0][2], s[1][2], s[2][2]};
    placement->first = (ImdVec3){s[0][3], s[1][3], s[2][3]};
    placement->spacing[0] = length[2];
    placement->spacing[1] = length[1];
    placement->spacing[2] = length[0];
    placement->order = (ImdNiftiVoxelOrder){{0, 1, 2}, {false, true, flip_slice}};
    return true;
}
