/*
 * test_nifti_geometry.c: the NIfTI geometry (src/formats/nifti/geometry.c,
 * behaviour.md §5.2) as pure functions: synthetic series with hand-computed
 * dcm2niix results, the qform against the sform, the voxel order, round
 * trips through a header; then the dcm2niix reference files of
 * ../shared/data/imagedata (IMD_TEST_DATA): our geometry of each DICOM series
 * against the file's header and voxels, and the file's placement against the
 * DICOM series' transform.
 */
#include "imd_test.h"

#include "formats/nifti/nifti.h"

#include <imagedata/dicom.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- helpers ---- */

static ImdVec3 vec(double x, double y, double z)
{
    return (ImdVec3){x, y, z};
}

static ImdVec3 add_scaled(ImdVec3 a, double s, ImdVec3 b)
{
    return vec(a.x + s * b.x, a.y + s * b.y, a.z + s * b.z);
}

static ImdVec3 cross(ImdVec3 a, ImdVec3 b)
{
    return vec(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}

static double distance(ImdVec3 a, ImdVec3 b)
{
    return sqrt((a.x - b.x) * (a.x - b.x) + (a.y - b.y) * (a.y - b.y) + (a.z - b.z) * (a.z - b.z));
}

/* A source: `slices` slices from `first` along `step`; 4 rows, 5 columns of 2 x 1.5 mm. */
static ImdNiftiSource make_source(ImdVec3 row, ImdVec3 column, ImdVec3 first, ImdVec3 step,
                                  size_t slices)
{
    ImdNiftiSource source;
    memset(&source, 0, sizeof source);
    source.row = row;
    source.column = column;
    source.first = first;
    source.last = add_scaled(first, (double)(slices - 1), step);
    source.slices = slices;
    source.rows = 4;
    source.columns = 5;
    source.spacing[0] = sqrt(step.x * step.x + step.y * step.y + step.z * step.z);
    source.spacing[1] = 2.0;
    source.spacing[2] = 1.5;
    return source;
}

/* The LPS position of source voxel (slice, row, column). */
static ImdVec3 source_position(const ImdNiftiSource *source, double s, double r, double c)
{
    ImdVec3 step = vec(0, 0, 0);
    if (source->slices > 1) {
        double n = (double)(source->slices - 1);
        step = vec((source->last.x - source->first.x) / n, (source->last.y - source->first.y) / n,
                   (source->last.z - source->first.z) / n);
    } else {
        step = cross(source->row, source->column);
        step = vec(step.x * source->spacing[0], step.y * source->spacing[0],
                   step.z * source->spacing[0]);
    }
    /* the cosines as unit vectors (DICOM's are unit to about 1e-6 only) */
    double rl = distance(source->row, vec(0, 0, 0)), cl = distance(source->column, vec(0, 0, 0));
    ImdVec3 p = add_scaled(source->first, c * source->spacing[2] / rl, source->row);
    p = add_scaled(p, r * source->spacing[1] / cl, source->column);
    return add_scaled(p, s, step);
}

/* The size of source axis a (0 column, 1 row, 2 slice). */
static size_t source_size(const ImdNiftiSource *source, int a)
{
    return a == 0 ? source->columns : a == 1 ? source->rows : source->slices;
}

/* The source index (slice, row, column) of NIfTI voxel ijk under `order`. */
static void source_index(const ImdNiftiVoxelOrder *order, const size_t size[3], const size_t ijk[3],
                         size_t src[3])
{
    for (int a = 0; a < 3; a++) {
        int axis = order->source[a]; /* 0 column, 1 row, 2 slice */
        size_t n = size[axis];
        size_t value = order->flip[a] ? n - 1 - ijk[a] : ijk[a];
        src[2 - axis] = value; /* (slice, row, column) */
    }
}

/* The matrix of the NIfTI qform (NIfTI-1: R from the quaternion, times pixdim, qfac on k). */
static void qform_matrix(const double quatern[6], double qfac, const double pixdim[3],
                         double out[3][4])
{
    double b = quatern[0], c = quatern[1], d = quatern[2];
    double a = sqrt(fmax(0.0, 1.0 - b * b - c * c - d * d));
    double r[3][3] = {{a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)},
                      {2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)},
                      {2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b}};
    for (int i = 0; i < 3; i++) {
        out[i][0] = r[i][0] * pixdim[0];
        out[i][1] = r[i][1] * pixdim[1];
        out[i][2] = r[i][2] * pixdim[2] * qfac;
        out[i][3] = quatern[3 + i];
    }
}

static ImdNiftiHeader header_from_geometry(const ImdNiftiSource *source,
                                           const ImdNiftiGeometry *g);

/* The checks every geometry passes: sform rows, the qform reproduces it,
 * qfac +-1, a >= 0 possible, and each NIfTI corner voxel lies where the
 * source voxel it maps to lies. */
static void check_geometry(const ImdNiftiSource *source, const ImdNiftiGeometry *g)
{
    CHECK(g->qfac == 1.0 || g->qfac == -1.0);
    CHECK(g->quatern[0] * g->quatern[0] + g->quatern[1] * g->quatern[1] +
              g->quatern[2] * g->quatern[2] <=
          1.0 + 1e-12);
    double q[3][4];
    qform_matrix(g->quatern, g->qfac, g->pixdim, q);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            CHECK_NEAR(q[i][j], g->sform[i][j], 1e-6);
        }
    }
    CHECK(g->sform[3][0] == 0 && g->sform[3][1] == 0 && g->sform[3][2] == 0 &&
          g->sform[3][3] == 1);
    /* the order is a permutation */
    CHECK(g->order.source[0] != g->order.source[1] && g->order.source[1] != g->order.source[2] &&
          g->order.source[0] != g->order.source[2]);
    size_t size[3] = {source->columns, source->rows, source->slices};
    size_t nifti_size[3];
    for (int a = 0; a < 3; a++) {
        nifti_size[a] = source_size(source, g->order.source[a]);
    }
    for (int corner = 0; corner < 8; corner++) {
        size_t ijk[3], src[3];
        for (int a = 0; a < 3; a++) {
            ijk[a] = (corner >> a & 1) ? nifti_size[a] - 1 : 0;
        }
        source_index(&g->order, size, ijk, src);
        double ras[3];
        for (int i = 0; i < 3; i++) {
            ras[i] = g->sform[i][3];
            for (int a = 0; a < 3; a++) {
                ras[i] += g->sform[i][a] * (double)ijk[a];
            }
        }
        ImdVec3 expected = source_position(source, (double)src[0], (double)src[1], (double)src[2]);
        CHECK_NEAR(-ras[0], expected.x, 1e-6);
        CHECK_NEAR(-ras[1], expected.y, 1e-6);
        CHECK_NEAR(ras[2], expected.z, 1e-6);

        /* written and read back (even reoriented): the voxel is still there */
        ImdError *error = NULL;
        ImdNiftiHeader h = header_from_geometry(source, g);
        ImdNiftiPlacement p;
        CHECK_OK(error, imd__nifti_placement_from_header(&error, &h, &p));
        size_t read[3];
        source_index(&p.order, nifti_size, ijk, read);
        ImdVec3 back = add_scaled(p.first, (double)read[2] * p.spacing[2], p.row);
        back = add_scaled(back, (double)read[1] * p.spacing[1], p.column);
        back = add_scaled(back, (double)read[0], p.slice_step);
        CHECK(distance(back, expected) < 1e-6);
    }
}

static void check_sform(const ImdNiftiGeometry *g, const double expected[3][4])
{
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            CHECK_NEAR(g->sform[i][j], expected[i][j], 1e-9);
        }
    }
}

static void check_order(const ImdNiftiVoxelOrder *order, int s0, int s1, int s2, bool f0, bool f1,
                        bool f2)
{
    CHECK_INT(order->source[0], s0);
    CHECK_INT(order->source[1], s1);
    CHECK_INT(order->source[2], s2);
    CHECK_INT(order->flip[0], f0);
    CHECK_INT(order->flip[1], f1);
    CHECK_INT(order->flip[2], f2);
}

/* A header as the writer makes it from a geometry (both codes 1, mm). */
static ImdNiftiHeader header_from_geometry(const ImdNiftiSource *source, const ImdNiftiGeometry *g)
{
    ImdNiftiHeader h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.dim[0] = 3;
    for (int a = 0; a < 3; a++) {
        h.dim[a + 1] = (int64_t)source_size(source, g->order.source[a]);
        h.pixdim[a + 1] = g->pixdim[a];
    }
    h.pixdim[0] = g->qfac;
    h.qform_code = h.sform_code = 1;
    h.quatern_b = g->quatern[0];
    h.quatern_c = g->quatern[1];
    h.quatern_d = g->quatern[2];
    h.qoffset_x = g->quatern[3];
    h.qoffset_y = g->quatern[4];
    h.qoffset_z = g->quatern[5];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            h.srow[i][j] = g->sform[i][j];
        }
    }
    h.xyzt_units = 2 | 8;
    strcpy(h.descrip, "flip_slice=0");
    return h;
}

static void check_vec(ImdVec3 a, ImdVec3 b, double tolerance)
{
    CHECK_NEAR(a.x, b.x, tolerance);
    CHECK_NEAR(a.y, b.y, tolerance);
    CHECK_NEAR(a.z, b.z, tolerance);
}

/* Read the geometry back through a header (sform, then qform only, then
 * neither for the spacing) and compare with the source; `reversed` when the
 * writer reversed the slices. */
static void check_round_trip(const ImdNiftiSource *source, const ImdNiftiGeometry *g,
                             bool reversed)
{
    ImdError *error = NULL;
    ImdNiftiHeader h = header_from_geometry(source, g);
    ImdVec3 step = vec(0, 0, 0);
    if (source->slices > 1) {
        step = vec((source->last.x - source->first.x) / (double)(source->slices - 1),
                   (source->last.y - source->first.y) / (double)(source->slices - 1),
                   (source->last.z - source->first.z) / (double)(source->slices - 1));
    } else {
        step = cross(source->row, source->column);
        step = vec(step.x * source->spacing[0], step.y * source->spacing[0],
                   step.z * source->spacing[0]);
    }
    ImdVec3 first = reversed ? source->last : source->first;
    if (reversed) {
        step = vec(-step.x, -step.y, -step.z);
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            h.sform_code = 0; /* the qform alone (the original lost this geometry) */
            memset(h.srow, 0, sizeof h.srow);
        }
        ImdNiftiPlacement p;
        CHECK_OK(error, imd__nifti_placement_from_header(&error, &h, &p));
        check_vec(p.row, source->row, 1e-6);
        check_vec(p.column, source->column, 1e-6);
        check_vec(p.first, first, 1e-6);
        check_vec(p.slice_step, step, 1e-6);
        CHECK_NEAR(p.spacing[0], source->spacing[0], 1e-6);
        CHECK_NEAR(p.spacing[1], source->spacing[1], 1e-6);
        CHECK_NEAR(p.spacing[2], source->spacing[2], 1e-6);
        check_order(&p.order, 0, 1, 2, false, true, false);
    }
}

/* ---- a. synthetic sources ---- */

IMD_TEST(axial)
{
    ImdError *error = NULL;
    ImdNiftiSource source =
        make_source(vec(1, 0, 0), vec(0, 1, 0), vec(10, 20, 30), vec(0, 0, 3), 3);
    source.phase_known = true;
    source.phase_is_row = true;
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    /* RAS = diag(-1,-1,1) * [row*dc | col*dr | n*ds | first]; then the y flip:
     * origin += 3 * column 1, column 1 negated */
    const double expected[3][4] = {{-1.5, 0, 0, -10}, {0, 2, 0, -26}, {0, 0, 3, 30}};
    check_sform(&g, expected);
    CHECK_NEAR(g.pixdim[0], 1.5, 1e-12);
    CHECK_NEAR(g.pixdim[1], 2.0, 1e-12);
    CHECK_NEAR(g.pixdim[2], 3.0, 1e-12);
    /* diag(-1, 1, 1) is improper: qfac -1, rotation diag(-1, 1, -1) = 180 deg about y */
    CHECK(g.qfac == -1.0);
    CHECK_NEAR(g.quatern[0], 0, 1e-12);
    CHECK_NEAR(g.quatern[1], 1, 1e-12);
    CHECK_NEAR(g.quatern[2], 0, 1e-12);
    CHECK_NEAR(g.quatern[3], -10, 1e-12);
    CHECK_NEAR(g.quatern[4], -26, 1e-12);
    CHECK_NEAR(g.quatern[5], 30, 1e-12);
    CHECK_INT(g.dim_info, 2 | 1 << 2 | 3 << 4); /* 54, as dcm2niix (tra_rl) */
    check_order(&g.order, 0, 1, 2, false, true, false);
    check_geometry(&source, &g);
    check_round_trip(&source, &g, false);
}

IMD_TEST(coronal)
{
    ImdError *error = NULL;
    /* row (1,0,0), column (0,0,-1): normal (0,1,0) */
    ImdNiftiSource source =
        make_source(vec(1, 0, 0), vec(0, 0, -1), vec(10, 20, 30), vec(0, 3, 0), 3);
    source.phase_known = true;
    source.phase_is_row = false;
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    const double expected[3][4] = {{-1.5, 0, 0, -10}, {0, 0, -3, -20}, {0, 2, 0, 24}};
    check_sform(&g, expected);
    CHECK_INT(g.dim_info, 1 | 2 << 2 | 3 << 4); /* 57, as dcm2niix (cor_hf) */
    check_order(&g.order, 0, 1, 2, false, true, false);
    check_geometry(&source, &g);
    check_round_trip(&source, &g, false);
}

IMD_TEST(sagittal)
{
    ImdError *error = NULL;
    /* row (0,1,0), column (0,0,-1): normal (-1,0,0); slices along it */
    ImdNiftiSource source =
        make_source(vec(0, 1, 0), vec(0, 0, -1), vec(10, 20, 30), vec(-3, 0, 0), 3);
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    const double expected[3][4] = {{0, 0, 3, -10}, {-1.5, 0, 0, -20}, {0, 2, 0, 24}};
    check_sform(&g, expected);
    CHECK_INT(g.dim_info, 0); /* no InPlanePhaseEncodingDirection */
    check_order(&g.order, 0, 1, 2, false, true, false);
    check_geometry(&source, &g);
    check_round_trip(&source, &g, false);
}

IMD_TEST(sagittal_last_slice_on_wrong_side)
{
    ImdError *error = NULL;
    /* the slices run against the normal (-1,0,0), as sag_ap in instance order:
     * dcm2niix reverses them, the origin is the last slice's position */
    ImdNiftiSource source =
        make_source(vec(0, 1, 0), vec(0, 0, -1), vec(10, 20, 30), vec(3, 0, 0), 3);
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    const double expected[3][4] = {{0, 0, 3, -16}, {-1.5, 0, 0, -20}, {0, 2, 0, 24}};
    check_sform(&g, expected);
    check_order(&g.order, 0, 1, 2, false, true, true);
    check_geometry(&source, &g);
    check_round_trip(&source, &g, true);

    /* no usable last position (all slices at one x): the normal's sum decides (-1 < 0) */
    source.last = source.first;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    check_order(&g.order, 0, 1, 2, false, true, true);
}

IMD_TEST(oblique)
{
    ImdError *error = NULL;
    /* row (cos 30, sin 30, 0), column (0, 0, -1): normal (-1/2, sqrt3/2, 0) */
    const double c30 = sqrt(3.0) / 2.0;
    ImdNiftiSource source = make_source(vec(c30, 0.5, 0), vec(0, 0, -1), vec(10, 20, 30),
                                        vec(-1.5, 3.0 * c30, 0), 3);
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    const double expected[3][4] = {
        {-1.5 * c30, 0, 1.5, -10}, {-0.75, 0, -3.0 * c30, -20}, {0, 2, 0, 24}};
    check_sform(&g, expected);
    check_order(&g.order, 0, 1, 2, false, true, false);
    check_geometry(&source, &g);
    check_round_trip(&source, &g, false);

    /* doubly oblique, not quite orthogonal cosines (as the DICOM of tra_oblique) */
    ImdVec3 row = vec(0.987564, 0.00309626, -0.15719);
    ImdVec3 column = vec(2.35686e-08, 0.999806, 0.0196939);
    ImdVec3 normal = cross(row, column);
    double length = distance(normal, vec(0, 0, 0)) / 6.5;
    ImdNiftiSource tilted =
        make_source(row, column, vec(-114.47, -75.611, -18.9062),
                    vec(normal.x / length, normal.y / length, normal.z / length), 3);
    REQUIRE(imd__nifti_geometry_from_source(&error, &tilted, &g));
    check_geometry(&tilted, &g);
    CHECK(g.qfac == -1.0);
}

IMD_TEST(single_slice)
{
    ImdError *error = NULL;
    ImdNiftiSource source =
        make_source(vec(1, 0, 0), vec(0, 1, 0), vec(10, 20, 30), vec(0, 0, 5), 1);
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    const double expected[3][4] = {{-1.5, 0, 0, -10}, {0, 2, 0, -26}, {0, 0, 5, 30}};
    check_sform(&g, expected);
    check_order(&g.order, 0, 1, 2, false, true, false);
    check_geometry(&source, &g);
    check_round_trip(&source, &g, false);
}

IMD_TEST(slice_distance_from_positions)
{
    ImdError *error = NULL;
    /* SpacingBetweenSlices says 16 mm, the positions 0.5 mm: dcm2niix uses the positions */
    ImdNiftiSource source =
        make_source(vec(1, 0, 0), vec(0, 1, 0), vec(10, 20, 30), vec(0, 0, 0.5), 4);
    source.spacing[0] = 16.0;
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    CHECK_NEAR(g.pixdim[2], 0.5, 1e-12);
    CHECK_NEAR(g.sform[2][2], 0.5, 1e-12);
}

IMD_TEST(acquisition_3d_axial)
{
    ImdError *error = NULL;
    ImdNiftiSource source =
        make_source(vec(1, 0, 0), vec(0, 1, 0), vec(10, 20, 30), vec(0, 0, 3), 3);
    source.acquisition_3d = true;
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    /* RAS diag(-1.5, -2, 3): x and y run backwards; voxel 0 becomes the corner
     * (4 columns, 3 rows) on: RAS (-10 - 6, -20 - 6, 30), no y flip */
    const double expected[3][4] = {{1.5, 0, 0, -16}, {0, 2, 0, -26}, {0, 0, 3, 30}};
    check_sform(&g, expected);
    check_order(&g.order, 0, 1, 2, true, true, false);
    check_geometry(&source, &g);
    CHECK(g.qfac == 1.0);
    CHECK_NEAR(g.quatern[0], 0, 1e-12);
    CHECK_NEAR(g.quatern[1], 0, 1e-12);
    CHECK_NEAR(g.quatern[2], 0, 1e-12);
}

IMD_TEST(acquisition_3d_sagittal)
{
    ImdError *error = NULL;
    ImdNiftiSource source =
        make_source(vec(0, 1, 0), vec(0, 0, -1), vec(10, 20, 30), vec(-3, 0, 0), 3);
    source.acquisition_3d = true;
    source.phase_known = true;
    source.phase_is_row = true;
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    /* RAS columns: i -> (0,-1.5,0), j -> (0,0,-2), k -> (3,0,0); the nearest
     * axes: NIfTI i = slice, j = column reversed, k = row reversed */
    const double expected[3][4] = {{3, 0, 0, -10}, {0, 1.5, 0, -26}, {0, 0, 2, 24}};
    check_sform(&g, expected);
    check_order(&g.order, 2, 0, 1, false, true, true);
    CHECK_NEAR(g.pixdim[0], 3.0, 1e-12);
    CHECK_NEAR(g.pixdim[1], 1.5, 1e-12);
    CHECK_NEAR(g.pixdim[2], 2.0, 1e-12);
    CHECK_INT(g.dim_info, 54); /* dcm2niix leaves dim_info as it was set */
    check_geometry(&source, &g);

    /* an oblique 3D volume: still a permutation that keeps the geometry */
    const double c30 = sqrt(3.0) / 2.0;
    ImdNiftiSource oblique = make_source(vec(c30, 0.5, 0), vec(0, 0, -1), vec(10, 20, 30),
                                         vec(-1.5, 3.0 * c30, 0), 3);
    oblique.acquisition_3d = true;
    REQUIRE(imd__nifti_geometry_from_source(&error, &oblique, &g));
    check_geometry(&oblique, &g);
}

IMD_TEST(acquisition_3d_canonical)
{
    ImdError *error = NULL;
    /* LPS row (-1,0,0), column (0,-1,0): RAS diag(1.5, 2, 3), already canonical:
     * dcm2niix keeps the DICOM order and does not flip y either */
    ImdNiftiSource source =
        make_source(vec(-1, 0, 0), vec(0, -1, 0), vec(10, 20, 30), vec(0, 0, 3), 3);
    source.acquisition_3d = true;
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    const double expected[3][4] = {{1.5, 0, 0, -10}, {0, 2, 0, -20}, {0, 0, 3, 30}};
    check_sform(&g, expected);
    check_order(&g.order, 0, 1, 2, false, false, false);
    check_geometry(&source, &g);

    /* a single 3D slice: the y flip as for 2D */
    source.slices = 1;
    REQUIRE(imd__nifti_geometry_from_source(&error, &source, &g));
    check_order(&g.order, 0, 1, 2, false, true, false);
}

IMD_TEST(quaternion_signs)
{
    ImdError *error = NULL;
    /* the 180-degree rotations of the reference files keep their pivot positive:
     * cor_rl (0, 0.7071, 0.7071), cor_oblique (0, 0.5, 0.8660) */
    ImdNiftiSource cor = make_source(vec(1, 0, 0), vec(0, 0, -1), vec(0, 0, 0), vec(0, 6.5, 0), 3);
    ImdNiftiGeometry g;
    REQUIRE(imd__nifti_geometry_from_source(&error, &cor, &g));
    CHECK(g.qfac == -1.0);
    CHECK_NEAR(g.quatern[0], 0, 1e-12);
    CHECK_NEAR(g.quatern[1], sqrt(0.5), 1e-12);
    CHECK_NEAR(g.quatern[2], sqrt(0.5), 1e-12);
    ImdNiftiSource tilted = make_source(vec(1, 0, 0), vec(0, -0.5, -sqrt(0.75)), vec(0, 0, 0),
                                        vec(0, sqrt(0.75) * 9.6, -0.5 * 9.6), 3);
    REQUIRE(imd__nifti_geometry_from_source(&error, &tilted, &g));
    CHECK_NEAR(g.quatern[0], 0, 1e-12);
    CHECK_NEAR(g.quatern[1], 0.5, 1e-12);
    CHECK_NEAR(g.quatern[2], sqrt(0.75), 1e-12);
    check_geometry(&tilted, &g);
}

IMD_TEST(invalid_sources)
{
    ImdError *error = NULL;
    ImdNiftiGeometry g;
    ImdNiftiSource source =
        make_source(vec(1, 0, 0), vec(0, 1, 0), vec(10, 20, 30), vec(0, 0, 3), 3);
    ImdNiftiSource bad = source;
    bad.rows = 0;
    CHECK_FAILS(error, imd__nifti_geometry_from_source(&error, &bad, &g), IMD_ERR_INVALID_ARG);
    bad = source;
    bad.column = vec(2, 0, 0); /* parallel to the row */
    CHECK_FAILS(error, imd__nifti_geometry_from_source(&error, &bad, &g), IMD_ERR_INVALID_ARG);
    bad = source;
    bad.row = vec(0, 0, 0);
    CHECK_FAILS(error, imd__nifti_geometry_from_source(&error, &bad, &g), IMD_ERR_INVALID_ARG);
    bad = source;
    bad.spacing[1] = 0.0;
    CHECK_FAILS(error, imd__nifti_geometry_from_source(&error, &bad, &g), IMD_ERR_INVALID_ARG);
    bad = source;
    bad.first.x = NAN;
    CHECK_FAILS(error, imd__nifti_geometry_from_source(&error, &bad, &g), IMD_ERR_INVALID_ARG);
    bad = source;
    bad.slices = 1;
    bad.spacing[0] = -1.0;
    CHECK_FAILS(error, imd__nifti_geometry_from_source(&error, &bad, &g), IMD_ERR_INVALID_ARG);
}

/* ---- reading rules ---- */

static ImdNiftiHeader plain_header(void)
{
    ImdNiftiHeader h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.dim[0] = 3;
    h.dim[1] = 5;
    h.dim[2] = 4;
    h.dim[3] = 3;
    h.pixdim[0] = 1;
    h.pixdim[1] = 1.5;
    h.pixdim[2] = 2;
    h.pixdim[3] = 3;
    h.xyzt_units = 2;
    return h;
}

IMD_TEST(read_without_transform)
{
    ImdError *error = NULL;
    /* both codes 0: NIfTI-1 method 1, x = pixdim * index, RAS */
    ImdNiftiHeader h = plain_header();
    h.srow[0][0] = 99; /* an sform with code 0 is ignored (the original used it) */
    ImdNiftiPlacement p;
    REQUIRE(imd__nifti_placement_from_header(&error, &h, &p));
    check_vec(p.row, vec(-1, 0, 0), 1e-12);
    check_vec(p.column, vec(0, 1, 0), 1e-12);   /* j negated (y flip), then RAS->LPS */
    check_vec(p.first, vec(0, -6, 0), 1e-12);   /* RAS (0, 3 * 2, 0) */
    check_vec(p.slice_step, vec(0, 0, 3), 1e-12);
    CHECK_NEAR(p.spacing[0], 3, 1e-12);
    CHECK_NEAR(p.spacing[1], 2, 1e-12);
    CHECK_NEAR(p.spacing[2], 1.5, 1e-12);
    check_order(&p.order, 0, 1, 2, false, true, false);
}

IMD_TEST(read_units)
{
    ImdError *error = NULL;
    ImdNiftiHeader h = plain_header();
    h.xyzt_units = 1; /* metres */
    h.pixdim[1] = 0.0015;
    h.pixdim[2] = 0.002;
    h.pixdim[3] = 0.003;
    ImdNiftiPlacement p;
    REQUIRE(imd__nifti_placement_from_header(&error, &h, &p));
    CHECK_NEAR(p.spacing[0], 3, 1e-9);
    CHECK_NEAR(p.spacing[1], 2, 1e-9);
    CHECK_NEAR(p.spacing[2], 1.5, 1e-9);
    check_vec(p.first, vec(0, -6, 0), 1e-9);
    h.xyzt_units = 3 | 16; /* micrometres, msec */
    h.pixdim[1] = 1500;
    h.pixdim[2] = 2000;
    h.pixdim[3] = 3000;
    REQUIRE(imd__nifti_placement_from_header(&error, &h, &p));
    CHECK_NEAR(p.spacing[0], 3, 1e-9);
    CHECK_NEAR(p.spacing[2], 1.5, 1e-9);
}

IMD_TEST(read_qform_only)
{
    ImdError *error = NULL;
    /* the qform of tra_rl as stored (float32: b = -2.4485e-12, c = 1) */
    ImdNiftiHeader h = plain_header();
    h.dim[1] = 220;
    h.dim[2] = 320;
    h.pixdim[0] = -1;
    h.pixdim[1] = h.pixdim[2] = 0.71875;
    h.pixdim[3] = 6.5;
    h.qform_code = 1;
    h.quatern_b = -2.4485e-12;
    h.quatern_c = 1.0;
    h.qoffset_x = 78.9407;
    h.qoffset_y = -117.94725;
    h.qoffset_z = -35.508;
    ImdNiftiPlacement p;
    REQUIRE(imd__nifti_placement_from_header(&error, &h, &p));
    check_vec(p.row, vec(1, 0, 0), 1e-9);
    check_vec(p.column, vec(0, 1, 0), 1e-9);
    check_vec(p.first, vec(-78.9407, -111.334, -35.508), 1e-6);
    check_vec(p.slice_step, vec(0, 0, 6.5), 1e-9);

    /* a float32 quaternion of a 180-degree rotation with |(b,c,d)| a bit above 1 */
    h.quatern_b = 0.0;
    h.quatern_c = 0.70710677f;
    h.quatern_d = 0.70710677f;
    REQUIRE(imd__nifti_placement_from_header(&error, &h, &p));
    check_vec(p.row, vec(1, 0, 0), 1e-7);
    check_vec(p.column, vec(0, 0, -1), 1e-7);
    check_vec(p.slice_step, vec(0, 6.5, 0), 1e-6);
}

IMD_TEST(read_flip_slice)
{
    ImdError *error = NULL;
    ImdNiftiHeader h = plain_header();
    h.sform_code = 1;
    const double s[3][4] = {{-1.5, 0, 0, -10}, {0, 2, 0, -26}, {0, 0, 3, 30}};
    memcpy(h.srow, s, sizeof s);
    strcpy(h.descrip, "TE=8.9;flip_slice=1");
    ImdNiftiPlacement p;
    REQUIRE(imd__nifti_placement_from_header(&error, &h, &p));
    check_order(&p.order, 0, 1, 2, false, true, true);
    check_vec(p.first, vec(10, 20, 36), 1e-12); /* NIfTI slice 2 is series slice 0 */
    check_vec(p.slice_step, vec(0, 0, -3), 1e-12);
    check_vec(p.row, vec(1, 0, 0), 1e-12);
    check_vec(p.column, vec(0, 1, 0), 1e-12);
}

IMD_TEST(read_corrupt)
{
    ImdError *error = NULL;
    ImdNiftiHeader h = plain_header();
    h.sform_code = 1; /* an all-zero sform */
    ImdNiftiPlacement p;
    CHECK_FAILS(error, imd__nifti_placement_from_header(&error, &h, &p), IMD_ERR_CORRUPT);
    h.srow[0][0] = 1;
    h.srow[1][1] = NAN;
    CHECK_FAILS(error, imd__nifti_placement_from_header(&error, &h, &p), IMD_ERR_CORRUPT);
    /* a zero slice column (2D files): the normal times pixdim[3] */
    h.srow[1][1] = 1;
    REQUIRE(imd__nifti_placement_from_header(&error, &h, &p));
    check_vec(p.slice_step, vec(0, 0, 3), 1e-12);
}

/* ---- b, c. the dcm2niix reference files ---- */

/* The reference data directory, or NULL (IMD_TEST_DATA). */
static const char *test_data(void)
{
    const char *data = getenv("IMD_TEST_DATA");
    struct stat st;
    if (data == NULL || stat(data, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return NULL;
    }
    return data;
}

/* A whole gzip file in memory (free()), or NULL. */
static uint8_t *read_gzip(const char *path, size_t *size)
{
    gzFile file = gzopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    size_t capacity = 1 << 20, length = 0;
    uint8_t *data = malloc(capacity);
    for (;;) {
        if (data == NULL) {
            gzclose(file);
            return NULL;
        }
        int got = gzread(file, data + length, (unsigned)(capacity - length));
        if (got < 0) {
            free(data);
            gzclose(file);
            return NULL;
        }
        length += (size_t)got;
        if (got == 0) {
            break;
        }
        if (length == capacity) {
            capacity *= 2;
            uint8_t *bigger = realloc(data, capacity);
            if (bigger == NULL) {
                free(data);
            }
            data = bigger;
        }
    }
    gzclose(file);
    *size = length;
    return data;
}

static int16_t load_i16(const uint8_t *p)
{
    return (int16_t)imd__load_le16(p);
}

static double load_f32(const uint8_t *p)
{
    uint32_t bits = imd__load_le32(p);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/*
 * The fields we compare from a little-endian NIfTI-1 header (the layout of
 * nifti1.h), parsed here too: a cross-check of disk.c's decoding.
 */
static bool parse_nifti1(const uint8_t *b, size_t size, ImdNiftiHeader *h)
{
    if (size < 348 || imd__load_le32(b) != 348) {
        return false;
    }
    memset(h, 0, sizeof *h);
    h->version = 1;
    h->dim_info = b[39];
    for (int i = 0; i < 8; i++) {
        h->dim[i] = load_i16(b + 40 + 2 * i);
        h->pixdim[i] = load_f32(b + 76 + 4 * i);
    }
    h->datatype = load_i16(b + 70);
    h->bitpix = load_i16(b + 72);
    h->vox_offset = (int64_t)load_f32(b + 108);
    h->xyzt_units = b[123];
    memcpy(h->descrip, b + 148, 80);
    h->qform_code = load_i16(b + 252);
    h->sform_code = load_i16(b + 254);
    h->quatern_b = load_f32(b + 256);
    h->quatern_c = load_f32(b + 260);
    h->quatern_d = load_f32(b + 264);
    h->qoffset_x = load_f32(b + 268);
    h->qoffset_y = load_f32(b + 272);
    h->qoffset_z = load_f32(b + 276);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            h->srow[i][j] = load_f32(b + 280 + 16 * i + 4 * j);
        }
    }
    return true;
}

/* A DICOM text attribute of the series' template, or NULL (imd_free()). */
static char *template_string(const ImdSeries *series, uint32_t tag)
{
    const ImdDicomDataSet *dataset = imd_header_template(imd_series_const_header(series));
    if (dataset == NULL) {
        return NULL;
    }
    const ImdDicomElement *element = imd_dicom_dataset_find(dataset, tag);
    if (element == NULL) {
        return NULL;
    }
    ImdError *error = NULL;
    char *text = imd_dicom_element_string(&error, dataset, element);
    imd_error_clear(&error);
    return text;
}

/* The voxel of the series at (tag t, slice, row, column) as a number. */
static double series_voxel(const ImdSeries *series, size_t t, size_t s, size_t r, size_t c)
{
    size_t ndim = imd_series_ndim(series);
    size_t slices = imd_series_dim(series, ndim - 3), rows = imd_series_dim(series, ndim - 2),
           columns = imd_series_dim(series, ndim - 1);
    size_t index = ((t * slices + s) * rows + r) * columns + c;
    const uint8_t *data = imd_series_const_data(series);
    switch (imd_series_dtype(series)) {
    case IMD_DTYPE_UINT16:
        return imd__load_le16(data + 2 * index) * 1.0;
    case IMD_DTYPE_INT16:
        return (int16_t)imd__load_le16(data + 2 * index);
    default:
        return NAN;
    }
}

/* The voxel of the NIfTI data at (i, j, k, t) as a number. */
static double nifti_voxel(const ImdNiftiHeader *h, const uint8_t *data, size_t size, size_t i,
                          size_t j, size_t k, size_t t)
{
    size_t index = ((t * (size_t)h->dim[3] + k) * (size_t)h->dim[2] + j) * (size_t)h->dim[1] + i;
    size_t offset = (size_t)h->vox_offset + 2 * index;
    if (offset + 2 > size) {
        return NAN;
    }
    if (h->datatype == IMD_NIFTI_INT16) {
        return load_i16(data + offset);
    }
    if (h->datatype == IMD_NIFTI_UINT16) {
        return imd__load_le16(data + offset);
    }
    return NAN;
}

/* The source of a series, as the NIfTI writer fills it. */
static bool source_from_series(const ImdSeries *series, ImdNiftiSource *source)
{
    const ImdHeader *header = imd_series_const_header(series);
    size_t ndim = imd_series_ndim(series);
    memset(source, 0, sizeof *source);
    imd_header_orientation(header, &source->row, &source->column);
    size_t positions = imd_header_position_count(header);
    if (ndim < 3 || positions == 0 || !imd_header_image_position(header, 0, &source->first) ||
        !imd_header_image_position(header, positions - 1, &source->last)) {
        return false;
    }
    imd_header_spacing(header, source->spacing);
    source->slices = imd_series_dim(series, ndim - 3);
    source->rows = imd_series_dim(series, ndim - 2);
    source->columns = imd_series_dim(series, ndim - 1);
    char *phase = template_string(series, 0x00181312);       /* InPlanePhaseEncodingDirection */
    char *acquisition = template_string(series, 0x00180023); /* MRAcquisitionType */
    source->phase_known = phase != NULL && (!strcmp(phase, "ROW") || !strcmp(phase, "COL"));
    source->phase_is_row = phase != NULL && !strcmp(phase, "ROW");
    /* dcm2niix reorients a 3D acquisition only when it is one volume */
    source->acquisition_3d = acquisition != NULL && !strcmp(acquisition, "3D") && ndim == 3;
    imd_free(phase);
    imd_free(acquisition);
    return true;
}

typedef struct Reference {
    const char *name;    /* dicom/<name>.zip */
    const char *nifti;   /* nifti/<nifti>.nii.gz */
} Reference;

static const Reference references[] = {
    {"tra_rl", "tra_rl"},
    {"tra_oblique", "tra_oblique"},
    {"cor_rl", "cor_rl"},
    {"cor_hf", "cor_hf"},
    {"cor_oblique", "cor_oblique"},
    {"sag_ap", "sag_ap"},
    {"sag_hf", "sag_hf"},
    {"sag_oblique", "sag_oblique"},
    /* 4D, MRAcquisitionType 3D: dcm2niix does not reorient 4D data (dim[0] < 4) */
    {"time", "time/time_all_fl3d_dynamic_20190207140517_14"},
};

/* Compare one reference set (b: writing, c: reading). */
static void check_reference(const char *data_dir, const Reference *ref)
{
    char path[4096];
    ImdError *error = NULL;
#ifdef IMD_WITH_ZIP
    snprintf(path, sizeof path, "%s/dicom/%s.zip", data_dir, ref->name);
#else
    struct stat st;
    snprintf(path, sizeof path, "%s/dicom/%s", data_dir, ref->name);
    if (stat(path, &st) != 0) {
        IMD_SKIP("%s: built without zip support and there is no folder %s", ref->name, path);
    }
#endif
    ImdSeries *series = imd_read_one(&error, NULL, path, NULL);
    if (series == NULL) {
        IMD_FAIL_AT("%s: %s", path, imd_error_message(error));
        imd_error_clear(&error);
        return;
    }
    snprintf(path, sizeof path, "%s/nifti/%s.nii.gz", data_dir, ref->nifti);
    size_t file_size = 0;
    uint8_t *file = read_gzip(path, &file_size);
    ImdNiftiHeader h, own;
    if (file == NULL || !imd__nifti_decode(&error, file, file_size, path, &h) ||
        !parse_nifti1(file, file_size, &own)) {
        IMD_FAIL_AT("%s: cannot read the NIfTI-1 header (%s)", path, imd_error_message(error));
        imd_error_clear(&error);
        free(file);
        imd_series_destroy(series);
        return;
    }
    /* disk.c's decoding agrees with the layout of nifti1.h on what we use */
    CHECK(memcmp(h.srow, own.srow, sizeof h.srow) == 0);
    CHECK(memcmp(h.pixdim, own.pixdim, sizeof h.pixdim) == 0);
    CHECK(memcmp(h.dim, own.dim, sizeof h.dim) == 0);
    CHECK(h.quatern_b == own.quatern_b && h.quatern_c == own.quatern_c &&
          h.quatern_d == own.quatern_d && h.qoffset_x == own.qoffset_x &&
          h.qoffset_y == own.qoffset_y && h.qoffset_z == own.qoffset_z);
    CHECK(h.dim_info == own.dim_info && h.qform_code == own.qform_code &&
          h.sform_code == own.sform_code && h.vox_offset == own.vox_offset &&
          h.datatype == own.datatype && h.xyzt_units == own.xyzt_units);

    /* the source from the series */
    const ImdHeader *header = imd_series_const_header(series);
    size_t ndim = imd_series_ndim(series);
    size_t volumes = ndim > 3 ? imd_series_dim(series, 0) : 1;
    ImdNiftiSource source;
    CHECK(source_from_series(series, &source));
    ImdNiftiGeometry g;
    if (!imd__nifti_geometry_from_source(&error, &source, &g)) {
        IMD_FAIL_AT("%s: %s", ref->name, imd_error_message(error));
        imd_error_clear(&error);
        free(file);
        imd_series_destroy(series);
        return;
    }

    /* b. the header: sform and qform to 4 decimals, pixdim to 1e-4, dim_info */
    double sform_diff = 0, qform_diff = 0, pixdim_diff = 0;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            sform_diff = fmax(sform_diff, fabs(g.sform[i][j] - h.srow[i][j]));
        }
    }
    const double file_q[6] = {h.quatern_b, h.quatern_c, h.quatern_d,
                              h.qoffset_x, h.qoffset_y, h.qoffset_z};
    double quaternion_diff = 0;
    for (int i = 0; i < 6; i++) {
        qform_diff = fmax(qform_diff, fabs(g.quatern[i] - file_q[i]));
        if (i < 3) {
            quaternion_diff = fmax(quaternion_diff, fabs(g.quatern[i] - file_q[i]));
        }
    }
    for (int a = 0; a < 3; a++) {
        pixdim_diff = fmax(pixdim_diff, fabs(g.pixdim[a] - h.pixdim[a + 1]));
    }
    fprintf(stderr,
            "  %-12s max |sform - file| %.1e, |qform - file| %.1e (b,c,d %.1e), |pixdim - file| "
            "%.1e\n",
            ref->name, sform_diff, qform_diff, quaternion_diff, pixdim_diff);
    CHECK(h.sform_code == 1 && h.qform_code == 1);
    CHECK_NEAR(sform_diff, 0, 1e-4);
    CHECK_NEAR(qform_diff, 0, 1e-4);
    CHECK_NEAR(pixdim_diff, 0, 1e-4);
    CHECK(g.qfac == h.pixdim[0]);
    CHECK_INT(g.dim_info, h.dim_info);
    size_t size[3] = {source.columns, source.rows, source.slices};
    for (int a = 0; a < 3; a++) {
        CHECK_INT(h.dim[a + 1], source_size(&source, g.order.source[a]));
    }
    CHECK_INT(h.dim[0] > 3 ? h.dim[4] : 1, volumes);

    /* b. the voxels: the corners and a spread of others, first and last volume */
    size_t n[3] = {(size_t)h.dim[1], (size_t)h.dim[2], (size_t)h.dim[3]};
    int mismatches = 0, compared = 0;
    for (size_t t = 0; t < volumes; t += (volumes > 1 ? volumes - 1 : 1)) {
        for (int probe = 0; probe < 40; probe++) {
            size_t ijk[3];
            for (int a = 0; a < 3; a++) {
                ijk[a] = probe < 8 ? ((probe >> a & 1) ? n[a] - 1 : 0)
                                   : (size_t)(probe * 7919 + a * 104729) % n[a];
            }
            size_t src[3];
            source_index(&g.order, size, ijk, src);
            double expected = series_voxel(series, t, src[0], src[1], src[2]);
            double got = nifti_voxel(&h, file, file_size, ijk[0], ijk[1], ijk[2], t);
            compared++;
            if (!(expected == got)) {
                if (mismatches++ < 5) {
                    IMD_FAIL_AT("%s: NIfTI (%zu,%zu,%zu,%zu) = %g, series (%zu,%zu,%zu,%zu) = %g",
                                ref->name, ijk[0], ijk[1], ijk[2], t, got, t, src[0], src[1],
                                src[2], expected);
                }
            }
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK(compared >= 40);

    /* c. reading: the file's placement is the DICOM series' transform (1e-2 mm) */
    ImdNiftiPlacement p;
    if (!imd__nifti_placement_from_header(&error, &h, &p)) {
        IMD_FAIL_AT("%s: %s", ref->name, imd_error_message(error));
        imd_error_clear(&error);
    } else if (!source.acquisition_3d) {
        ImdMat4 m;
        imd_header_transform(header, &m);
        const ImdVec3 columns[4] = {
            vec(p.row.x * p.spacing[2], p.row.y * p.spacing[2], p.row.z * p.spacing[2]),
            vec(p.column.x * p.spacing[1], p.column.y * p.spacing[1], p.column.z * p.spacing[1]),
            p.slice_step, p.first};
        double transform_diff = 0, orientation_diff = 0;
        for (int j = 0; j < 4; j++) {
            transform_diff = fmax(transform_diff, fabs(columns[j].x - m.m[0][j]));
            transform_diff = fmax(transform_diff, fabs(columns[j].y - m.m[1][j]));
            transform_diff = fmax(transform_diff, fabs(columns[j].z - m.m[2][j]));
        }
        double rl = sqrt(source.row.x * source.row.x + source.row.y * source.row.y +
                         source.row.z * source.row.z);
        double cl = sqrt(source.column.x * source.column.x + source.column.y * source.column.y +
                         source.column.z * source.column.z);
        orientation_diff = fmax(distance(p.row, vec(source.row.x / rl, source.row.y / rl,
                                                    source.row.z / rl)),
                                distance(p.column, vec(source.column.x / cl,
                                                       source.column.y / cl,
                                                       source.column.z / cl)));
        fprintf(stderr, "  %-12s read: max |M - DICOM M| %.2e mm, orientation %.2e\n", ref->name,
                transform_diff, orientation_diff);
        CHECK_NEAR(transform_diff, 0, 1e-2);
        CHECK_NEAR(orientation_diff, 0, 1e-6);
        CHECK_NEAR(p.spacing[0], source.spacing[0], 1e-4);
        CHECK_NEAR(p.spacing[1], source.spacing[1], 1e-4);
        CHECK_NEAR(p.spacing[2], source.spacing[2], 1e-4);
        /* reading lays the voxels out as the writer did */
        check_order(&p.order, g.order.source[0], g.order.source[1], g.order.source[2],
                    g.order.flip[0], g.order.flip[1], g.order.flip[2]);
    }
    free(file);
    imd_series_destroy(series);
}

/*
 * A single volume of a 3D acquisition (dicom/time/time00, MRAcquisitionType
 * 3D): dcm2niix reorients it to the nearest axes (nii_setOrtho). The numbers
 * are dcm2niix v1.0.20220720's ("dcm2niix -z y -b n" on that folder), as the
 * shared data has no such file: 152 x 3 x 192, NIfTI i = column reversed,
 * j = slice reversed, k = row reversed.
 */
IMD_TEST(dcm2niix_3d_volume)
{
    const char *data = test_data();
    if (data == NULL) {
        IMD_SKIP("the reference data (IMD_TEST_DATA=%s) is missing",
                 getenv("IMD_TEST_DATA") ? getenv("IMD_TEST_DATA") : "(unset)");
    }
    char path[4096];
    ImdError *error = NULL;
    snprintf(path, sizeof path, "%s/dicom/time/time00", data);
    ImdSeries *series = imd_read_one(&error, NULL, path, NULL);
    if (series == NULL) {
        IMD_FAIL_AT("%s: %s", path, imd_error_message(error));
        imd_error_clear(&error);
        return;
    }
    ImdNiftiSource source;
    ImdNiftiGeometry g;
    CHECK(source_from_series(series, &source));
    CHECK(source.acquisition_3d);
    CHECK_OK(error, imd__nifti_geometry_from_source(&error, &source, &g));
    const double sform[3][4] = {{2.08333182, -0.00352486596, -4.31882654e-06, -114.783981},
                                {0.00244782655, 2.99999404, 0.00365245761, -34.0814705},
                                {2.73433134e-08, -0.00525954412, 2.08332992, -188.730011}};
    const double quatern[6] = {-0.000876590668, -5.21540699e-07, 0.00058747828,
                               -114.783981,     -34.0814705,     -188.730011};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 4; j++) {
            CHECK_NEAR(g.sform[i][j], sform[i][j], 1e-4);
        }
    }
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(g.quatern[i], quatern[i], 1e-4);
    }
    CHECK(g.qfac == 1.0);
    CHECK_NEAR(g.pixdim[0], 2.0833333, 1e-6);
    CHECK_NEAR(g.pixdim[1], 3.0, 1e-6);
    CHECK_NEAR(g.pixdim[2], 2.0833333, 1e-6);
    CHECK_INT(g.dim_info, 0);
    check_order(&g.order, 0, 2, 1, true, true, true);
    /* voxels of dcm2niix's file, (i, j, k) = value */
    static const struct {
        size_t i, j, k;
        double value;
    } voxels[] = {{57, 2, 60, 932}, {82, 2, 37, 174},  {59, 2, 44, 1069}, {70, 2, 17, 59},
                  {78, 2, 58, 1017}, {67, 0, 64, 200}, {67, 0, 84, 75},   {80, 2, 55, 975}};
    size_t size[3] = {source.columns, source.rows, source.slices};
    for (size_t v = 0; v < sizeof voxels / sizeof voxels[0]; v++) {
        size_t ijk[3] = {voxels[v].i, voxels[v].j, voxels[v].k}, src[3];
        source_index(&g.order, size, ijk, src);
        CHECK_NEAR(series_voxel(series, 0, src[0], src[1], src[2]), voxels[v].value, 0);
    }
    check_geometry(&source, &g);
    imd_series_destroy(series);
}

IMD_TEST(dcm2niix_reference_files)
{
    const char *data = test_data();
    if (data == NULL) {
        IMD_SKIP("the reference data (IMD_TEST_DATA=%s) is missing",
                 getenv("IMD_TEST_DATA") ? getenv("IMD_TEST_DATA") : "(unset)");
    }
    for (size_t i = 0; i < sizeof references / sizeof references[0]; i++) {
        check_reference(data, &references[i]);
    }
}

IMD_TEST_MAIN(IMD_CASE(axial), IMD_CASE(coronal), IMD_CASE(sagittal),
              IMD_CASE(sagittal_last_slice_on_wrong_side), IMD_CASE(oblique),
              IMD_CASE(single_slice), IMD_CASE(slice_distance_from_positions),
              IMD_CASE(acquisition_3d_axial), IMD_CASE(acquisition_3d_sagittal),
              IMD_CASE(acquisition_3d_canonical), IMD_CASE(quaternion_signs),
              IMD_CASE(invalid_sources), IMD_CASE(read_without_transform), IMD_CASE(read_units),
              IMD_CASE(read_qform_only), IMD_CASE(read_flip_slice), IMD_CASE(read_corrupt),
              IMD_CASE(dcm2niix_reference_files), IMD_CASE(dcm2niix_3d_volume))
