/*
 * test_subset.c: imd_series_subset() and imd_index_parse() against
 * behaviour.md §1.5 (numpy indexing; dropped axes and tag axes; input order;
 * positions renumbered; tags re-keyed; series UID kept) and the §12 fix:
 * an in-plane crop moves the origin to the first kept voxel.
 *
 * The fixture: 4D uint16 (time 3, slice 4, row 5, column 6), voxel value =
 * linear index, time axis values [0, 2.5, 5], spacing (3, 2, 1.5), positions
 * (x, y, z) = (-10, 20, 30 + 3s), slice locations 30 + 3s, tags one
 * component: time + 100 * slice (so re-keying is visible), cell (slice 3,
 * time 1) empty. Voxel selections are checked twice: against numpy results
 * hard-coded below (generated with numpy 1.24: shape, sum((i+1)*v), first,
 * last) and against an independent loop over every voxel.
 */
#include "imd_test.h"

#include <stdint.h>

static const double tol = 1e-9;
enum { NT = 3, NS = 4, NR = 5, NC = 6 };
static const double times[NT] = {0, 2.5, 5};

/* ---- fixture ------------------------------------------------------------ */

static ImdSeries *fixture_with(ImdVec3 row, ImdVec3 col)
{
    ImdError *error = NULL;
    const size_t shape[4] = {NT, NS, NR, NC};
    ImdSeries *s = imd_series_create(&error, IMD_DTYPE_UINT16, 4, shape);
    if (s == NULL) {
        fprintf(stderr, "fixture: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return NULL;
    }
    uint16_t *d = imd_series_data(s);
    for (size_t i = 0; i < imd_series_count(s); i++) {
        d[i] = (uint16_t)i;
    }
    ImdHeader *h = imd_series_header(s);
    const double spacing[3] = {3, 2, 1.5};
    ImdAxis *time = imd_axis_create_numbers(&error, "time", times, NT);
    bool ok = time != NULL && imd_series_set_input_order(&error, s, "time") &&
              imd_series_set_axis(&error, s, 0, time);
    if (!ok && time != NULL && imd_series_axis(s, 0) != time) {
        imd_axis_destroy(time);
    }
    ok = ok && imd_series_set_spacing(&error, s, spacing) &&
         imd_header_set_orientation(&error, h, row, col);
    /* Positions along the normal * ds (the normal is z for the default). */
    ImdVec3 n = imd_header_normal(h);
    ImdVec3 positions[NS];
    double locations[NS];
    for (int k = 0; k < NS; k++) {
        positions[k] = (ImdVec3){-10 + 3 * k * n.x, 20 + 3 * k * n.y, 30 + 3 * k * n.z};
        locations[k] = 30 + 3 * k;
    }
    const size_t tag_shape[1] = {NT};
    ok = ok && imd_header_set_image_positions(&error, h, positions, NS) &&
         imd_header_set_slice_locations(&error, h, locations, NS) &&
         imd_header_set_tag_shape(&error, h, NS, 1, tag_shape, 1);
    for (size_t k = 0; ok && k < NS; k++) {
        for (size_t t = 0; ok && t < NT; t++) {
            if (k == 3 && t == 1) {
                continue;
            }
            size_t idx[1] = {t};
            ImdValue v = imd_value_number(times[t] + 100.0 * (double)k);
            ok = imd_header_set_tag(&error, h, k, idx, &v);
        }
    }
    ok = ok && imd_header_set_string(&error, h, "PatientName", "Doe^John");
    if (!ok) {
        fprintf(stderr, "fixture: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_series_destroy(s);
        return NULL;
    }
    return s;
}

static ImdSeries *fixture(void)
{
    return fixture_with((ImdVec3){1, 0, 0}, (ImdVec3){0, 1, 0});
}

/* Row (0.6, 0.8, 0), column (0, 0, -1), normal (-0.8, 0.6, 0). */
static ImdSeries *oblique_fixture(void)
{
    return fixture_with((ImdVec3){0.6, 0.8, 0}, (ImdVec3){0, 0, -1});
}

static ImdSeries *subset_text(ImdError **error, const ImdSeries *s, const char *text)
{
    ImdIndex index[IMD_MAX_DIMS + 2];
    size_t count = 0;
    if (!imd_index_parse(error, text, index, sizeof index / sizeof index[0], &count)) {
        return NULL;
    }
    return imd_series_subset(error, s, index, count);
}

static const char *axis_name(const ImdSeries *s, size_t dim)
{
    const ImdAxis *a = imd_series_axis(s, dim);
    return a != NULL ? imd_axis_name(a) : "(none)";
}

static void apply(const ImdMat4 *m, double c, double r, double s, ImdVec3 *out)
{
    out->x = m->m[0][0] * c + m->m[0][1] * r + m->m[0][2] * s + m->m[0][3];
    out->y = m->m[1][0] * c + m->m[1][1] * r + m->m[1][2] * s + m->m[1][3];
    out->z = m->m[2][0] * c + m->m[2][1] * r + m->m[2][2] * s + m->m[2][3];
}

static void check_vec(ImdVec3 got, double x, double y, double z)
{
    CHECK_NEAR(got.x, x, tol);
    CHECK_NEAR(got.y, y, tol);
    CHECK_NEAR(got.z, z, tol);
}

/* ---- an independent model of numpy's selection --------------------------- */

typedef struct Pick {
    long start, step;
    size_t count;
    int drop;
} Pick;

/* CPython's PySlice_AdjustIndices and the length of the range. */
static int pick_of(const ImdIndex *ix, size_t length, Pick *p)
{
    long n = (long)length;
    if (ix == NULL || ix->kind == IMD_INDEX_ALL) {
        *p = (Pick){0, 1, length, 0};
        return 1;
    }
    if (ix->kind == IMD_INDEX_SINGLE) {
        long i = (long)ix->start < 0 ? (long)ix->start + n : (long)ix->start;
        if (i < 0 || i >= n) {
            return 0;
        }
        *p = (Pick){i, 1, 1, 1};
        return 1;
    }
    long step = ix->step == 0 ? 1 : (long)ix->step;
    long start = step < 0 ? n - 1 : 0, stop = step < 0 ? -1 : n;
    if (ix->has_start) {
        start = (long)ix->start;
        if (start < 0) {
            start += n;
            if (start < 0) {
                start = step < 0 ? -1 : 0;
            }
        } else if (start >= n) {
            start = step < 0 ? n - 1 : n;
        }
    }
    if (ix->has_stop) {
        stop = (long)ix->stop;
        if (stop < 0) {
            stop += n;
            if (stop < 0) {
                stop = step < 0 ? -1 : 0;
            }
        } else if (stop >= n) {
            stop = step < 0 ? n - 1 : n;
        }
    }
    size_t count = 0;
    if (step < 0 && stop < start) {
        count = (size_t)((start - stop - 1) / (-step) + 1);
    } else if (step > 0 && start < stop) {
        count = (size_t)((stop - start - 1) / step + 1);
    }
    *p = (Pick){start, step, count, 0};
    return count > 0;
}

/* Every voxel of `sub` against the source index it must come from. */
static void check_voxels(const ImdSeries *sub, const Pick p[4])
{
    const uint16_t *d = imd_series_const_data(sub);
    size_t at = 0, wrong = 0;
    for (size_t a = 0; a < p[0].count; a++) {
        for (size_t b = 0; b < p[1].count; b++) {
            for (size_t c = 0; c < p[2].count; c++) {
                for (size_t e = 0; e < p[3].count; e++) {
                    long t = p[0].start + (long)a * p[0].step;
                    long s = p[1].start + (long)b * p[1].step;
                    long r = p[2].start + (long)c * p[2].step;
                    long col = p[3].start + (long)e * p[3].step;
                    long want = ((t * NS + s) * NR + r) * NC + col;
                    if (at >= imd_series_count(sub) || d[at] != (uint16_t)want) {
                        wrong++;
                    }
                    at++;
                }
            }
        }
    }
    CHECK_INT(wrong, 0);
    CHECK_INT(at, imd_series_count(sub));
}

/* The geometry follows the voxels: M_sub (c, r, s) = M_src (c', r', s'). */
static void check_geometry(const ImdSeries *src, const ImdSeries *sub, const Pick p[4])
{
    ImdMat4 ms, mu;
    imd_header_transform(imd_series_const_header(src), &ms);
    imd_header_transform(imd_series_const_header(sub), &mu);
    size_t cs = p[1].drop ? 1 : p[1].count;
    for (size_t s = 0; s < cs; s++) {
        for (size_t r = 0; r < p[2].count; r += p[2].count > 1 ? p[2].count - 1 : 1) {
            for (size_t c = 0; c < p[3].count; c += p[3].count > 1 ? p[3].count - 1 : 1) {
                ImdVec3 want, got;
                apply(&ms, (double)(p[3].start + (long)c * p[3].step),
                      (double)(p[2].start + (long)r * p[2].step),
                      (double)(p[1].start + (long)s * p[1].step), &want);
                apply(&mu, (double)c, (double)r, (double)s, &got);
                if (fabs(want.x - got.x) > 1e-9 || fabs(want.y - got.y) > 1e-9 ||
                    fabs(want.z - got.z) > 1e-9) {
                    IMD_FAIL_AT("voxel (c%zu r%zu s%zu): (%g,%g,%g), expected (%g,%g,%g)", c, r,
                                s, got.x, got.y, got.z, want.x, want.y, want.z);
                }
            }
        }
        /* The image position of each slice is its first kept voxel. */
        ImdVec3 want, got;
        apply(&ms, (double)p[3].start, (double)p[2].start,
              (double)(p[1].start + (long)s * p[1].step), &want);
        if (!imd_header_image_position(imd_series_const_header(sub), s, &got)) {
            IMD_FAIL_AT("no image position for slice %zu", s);
        } else if (fabs(want.x - got.x) > 1e-9 || fabs(want.y - got.y) > 1e-9 ||
                   fabs(want.z - got.z) > 1e-9) {
            IMD_FAIL_AT("position %zu: (%g,%g,%g), expected (%g,%g,%g)", s, got.x, got.y, got.z,
                        want.x, want.y, want.z);
        }
    }
    /* Spacing: |step| times the source's. */
    double sp[3];
    imd_header_spacing(imd_series_const_header(sub), sp);
    CHECK_NEAR(sp[0], 3.0 * (double)labs(p[1].step), tol);
    CHECK_NEAR(sp[1], 2.0 * (double)labs(p[2].step), tol);
    CHECK_NEAR(sp[2], 1.5 * (double)labs(p[3].step), tol);
}

/* ---- voxel values, shapes and axis names ------------------------------------ */

typedef struct Case {
    const char *text;
    size_t ndim;
    size_t shape[4];
    const char *names[4];
    const char *order;
    long long hash; /* numpy: sum((i + 1) * v) over the flattened result */
    unsigned first, last;
} Case;

static const Case subset_cases[] = {
    {"1", 3, {4, 5, 6}, {"slice", "row", "column"}, "none", 1447160, 120, 239},
    {":, 1:3", 4, {3, 2, 5, 6}, {"time", "slice", "row", "column"}, "time", 3842040, 30, 329},
    {":, :, :, ::2", 4, {3, 4, 5, 3}, {"time", "slice", "row", "column"}, "time", 3887880, 0,
     358},
    {"-1, -2", 2, {5, 6}, {"row", "column"}, "none", 148490, 300, 329},
    {"::-1, 3:0:-2, :, -1", 3, {3, 2, 5}, {"time", "slice", "row"}, "time", 65715, 335, 59},
    {":, ::2, ::2, ::3", 4, {3, 2, 3, 2}, {"time", "slice", "row", "column"}, "time", 147294, 0,
     327},
    {":, :, 2:, 3:", 4, {3, 4, 3, 3}, {"time", "slice", "row", "column"}, "time", 1449540, 15,
     359},
    /* numpy gives (1, 4, 5, 6); the tag axis with one value left goes (§1.5) */
    {"1:2", 3, {4, 5, 6}, {"slice", "row", "column"}, "none", 1447160, 120, 239},
    /* a range leaving one column keeps the column axis */
    {"0:2, 1, 4:1:-1, 5:", 3, {2, 3, 1}, {"time", "row", "column"}, "time", 2889, 59, 167},
    {"-2:, -3:-1, ::-4, -100:100:5", 4, {2, 2, 2, 2}, {"time", "slice", "row", "column"},
     "time", 36720, 174, 305},
};

IMD_TEST(values_shapes_and_names)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);
    const size_t src_shape[4] = {NT, NS, NR, NC};
    for (size_t k = 0; k < sizeof subset_cases / sizeof subset_cases[0]; k++) {
        const Case *cs = &subset_cases[k];
        ImdIndex index[8];
        size_t count = 0;
        CHECK_OK(error, imd_index_parse(&error, cs->text, index, 8, &count));
        ImdSeries *sub = imd_series_subset(&error, src, index, count);
        if (sub == NULL) {
            IMD_FAIL_AT("[%s]: %s", cs->text, imd_error_message(error));
            imd_error_clear(&error);
            continue;
        }
        int before = imd_test_failures;
        CHECK_INT(imd_series_ndim(sub), cs->ndim);
        for (size_t d = 0; d < cs->ndim; d++) {
            CHECK_INT(imd_series_dim(sub, d), cs->shape[d]);
            CHECK_STR(axis_name(sub, d), cs->names[d]);
            CHECK_INT(imd_axis_length(imd_series_axis(sub, d)), cs->shape[d]);
        }
        CHECK_STR(imd_header_input_order(imd_series_const_header(sub)), cs->order);
        CHECK_INT(imd_series_dtype(sub), IMD_DTYPE_UINT16);

        /* numpy's answer */
        const uint16_t *d = imd_series_const_data(sub);
        long long hash = 0;
        for (size_t i = 0; i < imd_series_count(sub); i++) {
            hash += (long long)(i + 1) * d[i];
        }
        CHECK_INT(hash, cs->hash);
        CHECK_INT(d[0], cs->first);
        CHECK_INT(d[imd_series_count(sub) - 1], cs->last);

        /* the independent model */
        Pick p[4];
        for (size_t dim = 0; dim < 4; dim++) {
            REQUIRE(pick_of(dim < count ? &index[dim] : NULL, src_shape[dim], &p[dim]));
        }
        check_voxels(sub, p);
        check_geometry(src, sub, p);
        if (imd_test_failures != before) {
            fprintf(stderr, "  ... in case [%s]\n", cs->text);
        }
        imd_series_destroy(sub);
    }
    /* The source is untouched. */
    const uint16_t *d = imd_series_const_data(src);
    size_t wrong = 0;
    for (size_t i = 0; i < imd_series_count(src); i++) {
        wrong += d[i] != (uint16_t)i;
    }
    CHECK_INT(wrong, 0);
    imd_series_destroy(src);
}

IMD_TEST(index_structs)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);

    /* No index at all, and zero-initialised entries: everything. */
    ImdSeries *all = imd_series_subset(&error, src, NULL, 0);
    REQUIRE(all != NULL);
    CHECK_INT(imd_series_ndim(all), 4);
    CHECK_INT(imd_series_count(all), NT * NS * NR * NC);
    CHECK(memcmp(imd_series_const_data(all), imd_series_const_data(src),
                 imd_series_nbytes(src)) == 0);
    CHECK(imd_series_const_data(all) != imd_series_const_data(src));
    CHECK_STR(imd_header_input_order(imd_series_const_header(all)), "time");
    imd_series_destroy(all);

    ImdIndex zero[4];
    memset(zero, 0, sizeof zero);
    all = imd_series_subset(&error, src, zero, 4);
    REQUIRE(all != NULL);
    CHECK_INT(imd_series_count(all), NT * NS * NR * NC);
    imd_series_destroy(all);

    /* [..., 1:5:2] written out: column range with has_start/has_stop. */
    ImdIndex ix[4];
    memset(ix, 0, sizeof ix);
    ix[3] = (ImdIndex){.kind = IMD_INDEX_RANGE, .start = 1, .stop = 5, .step = 2,
                       .has_start = true, .has_stop = true};
    ImdSeries *sub = imd_series_subset(&error, src, ix, 4);
    REQUIRE(sub != NULL);
    CHECK_INT(imd_series_dim(sub, 3), 2);
    const uint16_t *d = imd_series_const_data(sub);
    CHECK_INT(d[0], 1);
    CHECK_INT(d[1], 3);
    CHECK_INT(d[2], 7);
    imd_series_destroy(sub);

    /* A range without start/stop but with a negative step: reversed. */
    ImdIndex rev = {.kind = IMD_INDEX_RANGE, .step = -1};
    sub = imd_series_subset(&error, src, &rev, 1);
    REQUIRE(sub != NULL);
    CHECK_INT(imd_series_dim(sub, 0), 3);
    d = imd_series_const_data(sub);
    CHECK_INT(d[0], 2 * NS * NR * NC);
    CHECK_NEAR(imd_axis_number(imd_series_axis(sub, 0), 0), 5, 0);
    CHECK_NEAR(imd_axis_number(imd_series_axis(sub, 0), 2), 0, 0);
    imd_series_destroy(sub);

    /* A range with step 0 means step 1. */
    ImdIndex step0 = {.kind = IMD_INDEX_RANGE, .start = 1, .has_start = true};
    sub = imd_series_subset(&error, src, &step0, 1);
    REQUIRE(sub != NULL);
    CHECK_INT(imd_series_dim(sub, 0), 2);
    imd_series_destroy(sub);
    imd_series_destroy(src);
}

/* ---- tag axes ------------------------------------------------------------------ */

IMD_TEST(tag_axis_dropped)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);

    ImdSeries *one = subset_text(&error, src, "1:2");
    REQUIRE(one != NULL);
    CHECK_INT(imd_series_ndim(one), 3);
    CHECK_STR(imd_header_input_order(imd_series_const_header(one)), "none");
    CHECK_INT(imd_series_find_axis(one, "time"), -1);
    CHECK_INT(imd_series_tag_ndim(one), 0);
    CHECK_INT(imd_series_slices(one), 4);
    imd_series_destroy(one);

    /* Two values left: kept, with those values. */
    ImdSeries *two = subset_text(&error, src, "0:2");
    REQUIRE(two != NULL);
    CHECK_INT(imd_series_ndim(two), 4);
    CHECK_STR(imd_header_input_order(imd_series_const_header(two)), "time");
    const ImdAxis *t = imd_series_axis(two, 0);
    CHECK_STR(imd_axis_name(t), "time");
    CHECK_INT(imd_axis_length(t), 2);
    CHECK_NEAR(imd_axis_number(t, 0), 0, 0);
    CHECK_NEAR(imd_axis_number(t, 1), 2.5, 0);
    imd_series_destroy(two);

    /* An integer index on the slice axis keeps the tag axis: (time, row, column). */
    ImdSeries *slice = subset_text(&error, src, ":, 2");
    REQUIRE(slice != NULL);
    CHECK_INT(imd_series_ndim(slice), 3);
    CHECK_STR(axis_name(slice, 0), "time");
    CHECK_STR(axis_name(slice, 1), "row");
    CHECK_STR(axis_name(slice, 2), "column");
    CHECK_STR(imd_header_input_order(imd_series_const_header(slice)), "time");
    CHECK_INT(imd_series_slices(slice), 1);
    CHECK_INT(imd_series_tag_ndim(slice), 1);
    imd_series_destroy(slice);
    imd_series_destroy(src);
}

/* ---- positions, slice locations, transform ------------------------------------- */

IMD_TEST(slice_range_renumbers_positions)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);
    const ImdHeader *hs = imd_series_const_header(src);
    ImdVec3 src_pos[NS];
    for (size_t k = 0; k < NS; k++) {
        REQUIRE(imd_header_image_position(hs, k, &src_pos[k]));
    }

    ImdSeries *sub = subset_text(&error, src, ":, 1:3");
    REQUIRE(sub != NULL);
    const ImdHeader *h = imd_series_const_header(sub);
    CHECK_INT(imd_header_position_count(h), 2);
    ImdVec3 p;
    CHECK(imd_header_image_position(h, 0, &p));
    check_vec(p, src_pos[1].x, src_pos[1].y, src_pos[1].z); /* si[1:3].ipp[0] == si.ipp[1] */
    CHECK(imd_header_image_position(h, 1, &p));
    check_vec(p, -10, 20, 36);
    size_t n = 0;
    const double *loc = imd_header_slice_locations(h, &n);
    CHECK_INT(n, 2);
    if (loc != NULL && n == 2) {
        CHECK_NEAR(loc[0], 33, 0);
        CHECK_NEAR(loc[1], 36, 0);
    }
    ImdMat4 m;
    imd_header_transform(h, &m);
    CHECK_NEAR(m.m[0][3], -10, tol);
    CHECK_NEAR(m.m[1][3], 20, tol);
    CHECK_NEAR(m.m[2][3], 33, tol);
    CHECK_NEAR(m.m[2][2], 3, tol);
    CHECK_INT(imd_series_slices(sub), 2);
    imd_series_destroy(sub);

    /* Reversed slices: positions and locations reversed, slice column negated. */
    sub = subset_text(&error, src, ":, ::-1");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    CHECK_INT(imd_header_position_count(h), 4);
    for (size_t k = 0; k < NS; k++) {
        CHECK(imd_header_image_position(h, k, &p));
        check_vec(p, src_pos[NS - 1 - k].x, src_pos[NS - 1 - k].y, src_pos[NS - 1 - k].z);
    }
    loc = imd_header_slice_locations(h, &n);
    CHECK_INT(n, 4);
    if (loc != NULL && n == 4) {
        CHECK_NEAR(loc[0], 39, 0);
        CHECK_NEAR(loc[3], 30, 0);
    }
    imd_header_transform(h, &m);
    CHECK_NEAR(m.m[2][2], -3, tol);
    CHECK_NEAR(m.m[2][3], 39, tol);
    double sp[3];
    imd_series_spacing(sub, sp);
    CHECK_NEAR(sp[0], 3, tol);
    imd_series_destroy(sub);

    /* A single slice by integer: its position. */
    sub = subset_text(&error, src, ":, 2");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    CHECK(imd_header_image_position(h, 0, &p));
    check_vec(p, -10, 20, 36);
    loc = imd_header_slice_locations(h, &n);
    if (loc != NULL) { /* unset, or that slice's */
        CHECK_INT(n, 1);
        CHECK_NEAR(loc[0], 36, 0);
    }
    imd_header_transform(h, &m);
    CHECK_NEAR(m.m[2][3], 36, tol);
    imd_series_destroy(sub);
    imd_series_destroy(src);
}

IMD_TEST(in_plane_crop_moves_origin)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);
    ImdSeries *sub = subset_text(&error, src, ":, :, 2:, 3:");
    REQUIRE(sub != NULL);
    const ImdHeader *h = imd_series_const_header(sub);
    /* p0 + 2 * dr * column cosine (0,1,0) + 3 * dc * row cosine (1,0,0). */
    ImdVec3 p;
    CHECK(imd_header_image_position(h, 0, &p));
    check_vec(p, -10 + 3 * 1.5, 20 + 2 * 2, 30);
    CHECK(imd_header_image_position(h, 3, &p));
    check_vec(p, -5.5, 24, 39);
    CHECK_INT(imd_header_position_count(h), 4);
    ImdMat4 m;
    imd_header_transform(h, &m);
    CHECK_NEAR(m.m[0][3], -5.5, tol);
    CHECK_NEAR(m.m[1][3], 24, tol);
    CHECK_NEAR(m.m[2][3], 30, tol);
    CHECK_NEAR(m.m[0][0], 1.5, tol);
    CHECK_NEAR(m.m[1][1], 2, tol);
    CHECK_NEAR(m.m[2][2], 3, tol);
    /* The slice locations (along the normal) do not change. */
    size_t n = 0;
    const double *loc = imd_header_slice_locations(h, &n);
    CHECK_INT(n, 4);
    if (loc != NULL && n == 4) {
        CHECK_NEAR(loc[0], 30, 0);
        CHECK_NEAR(loc[3], 39, 0);
    }
    /* The row and column axes start further on. */
    CHECK_NEAR(imd_axis_start(imd_series_axis(sub, 2)), 2 * 2, tol);
    CHECK_NEAR(imd_axis_start(imd_series_axis(sub, 3)), 3 * 1.5, tol);
    imd_series_destroy(sub);
    imd_series_destroy(src);

    /* Oblique: along the cosines, not the patient axes. */
    src = oblique_fixture();
    REQUIRE(src != NULL);
    sub = subset_text(&error, src, ":, 1:, 2:, 3:");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    /* p1 = p0 + 3 * normal = (-12.4, 21.8, 30); + 2*2*(0,0,-1) + 3*1.5*(0.6,0.8,0). */
    CHECK(imd_header_image_position(h, 0, &p));
    check_vec(p, -12.4 + 2.7, 21.8 + 3.6, 30 - 4);
    CHECK(imd_header_image_position(h, 2, &p));
    check_vec(p, -10 - 7.2 + 2.7, 20 + 5.4 + 3.6, 30 - 4);
    imd_header_transform(h, &m);
    CHECK_NEAR(m.m[0][3], -9.7, tol);
    CHECK_NEAR(m.m[1][3], 25.4, tol);
    CHECK_NEAR(m.m[2][3], 26, tol);
    imd_series_destroy(sub);
    imd_series_destroy(src);
}

IMD_TEST(steps_scale_transform_and_spacing)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);
    ImdSeries *sub = subset_text(&error, src, ":, ::2, ::2, ::3");
    REQUIRE(sub != NULL);
    const ImdHeader *h = imd_series_const_header(sub);
    double sp[3];
    imd_series_spacing(sub, sp);
    CHECK_NEAR(sp[0], 6, tol);
    CHECK_NEAR(sp[1], 4, tol);
    CHECK_NEAR(sp[2], 4.5, tol);
    imd_header_spacing(h, sp);
    CHECK_NEAR(sp[0], 6, tol);
    CHECK_NEAR(sp[1], 4, tol);
    CHECK_NEAR(sp[2], 4.5, tol);
    ImdMat4 m;
    imd_header_transform(h, &m);
    CHECK_NEAR(m.m[0][0], 4.5, tol);
    CHECK_NEAR(m.m[1][1], 4, tol);
    CHECK_NEAR(m.m[2][2], 6, tol);
    CHECK_NEAR(m.m[0][3], -10, tol);
    CHECK_NEAR(m.m[1][3], 20, tol);
    CHECK_NEAR(m.m[2][3], 30, tol);
    CHECK_INT(imd_header_position_count(h), 2);
    ImdVec3 p;
    CHECK(imd_header_image_position(h, 1, &p));
    check_vec(p, -10, 20, 36);
    size_t n = 0;
    const double *loc = imd_header_slice_locations(h, &n);
    CHECK_INT(n, 2);
    if (loc != NULL && n == 2) {
        CHECK_NEAR(loc[1], 36, 0);
    }
    imd_series_destroy(sub);

    /* Reversed columns: the origin is the last column, the column step negated. */
    sub = subset_text(&error, src, ":, :, :, ::-1");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    imd_header_transform(h, &m);
    CHECK_NEAR(m.m[0][0], -1.5, tol);
    CHECK_NEAR(m.m[0][3], -10 + 5 * 1.5, tol);
    CHECK(imd_header_image_position(h, 0, &p));
    check_vec(p, -2.5, 20, 30);
    imd_series_spacing(sub, sp);
    CHECK_NEAR(sp[2], 1.5, tol);
    imd_series_destroy(sub);
    imd_series_destroy(src);
}

/* ---- tags ------------------------------------------------------------------------ */

static void check_tag(const ImdHeader *h, size_t slice, size_t t, double want)
{
    size_t idx[1] = {t};
    const ImdValue *v = imd_header_tag(h, slice, idx);
    if (v == NULL) {
        IMD_FAIL_AT("tag slice %zu cell %zu is empty, expected %g", slice, t, want);
        return;
    }
    CHECK_NEAR(v->v[0], want, tol);
}

static void check_empty_tag(const ImdHeader *h, size_t slice, size_t t)
{
    size_t idx[1] = {t};
    CHECK(imd_header_tag(h, slice, idx) == NULL);
}

IMD_TEST(tags_sliced_and_rekeyed)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);

    /* si[1]: 0-d tags (the time component goes with its axis), every slice. */
    ImdSeries *sub = subset_text(&error, src, "1");
    REQUIRE(sub != NULL);
    const ImdHeader *h = imd_series_const_header(sub);
    CHECK_INT(imd_header_tag_ndim(h), 0);
    CHECK_INT(imd_header_tag_slices(h), 4);
    CHECK_INT(imd_header_tag_components(h), 0);
    imd_series_destroy(sub);

    /* si[:, 2:4]: keys {0, 1} holding slices 2 and 3. */
    sub = subset_text(&error, src, ":, 2:4");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    CHECK_INT(imd_header_tag_slices(h), 2);
    CHECK_INT(imd_header_tag_ndim(h), 1);
    CHECK_INT(imd_header_tag_shape(h, 0), 3);
    CHECK_INT(imd_header_tag_components(h), 1);
    check_tag(h, 0, 0, 200);
    check_tag(h, 0, 1, 202.5);
    check_tag(h, 0, 2, 205);
    check_tag(h, 1, 0, 300);
    check_empty_tag(h, 1, 1); /* empty stays empty */
    check_tag(h, 1, 2, 305);
    check_empty_tag(h, 2, 0); /* no key 2 */
    imd_series_destroy(sub);

    /* Tag range and reversal. */
    sub = subset_text(&error, src, "::-1, 3");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    CHECK_INT(imd_header_tag_slices(h), 1);
    CHECK_INT(imd_header_tag_shape(h, 0), 3);
    check_tag(h, 0, 0, 305);
    check_empty_tag(h, 0, 1);
    check_tag(h, 0, 2, 300);
    imd_series_destroy(sub);

    sub = subset_text(&error, src, "1:, ::3");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    CHECK_INT(imd_header_tag_slices(h), 2);
    CHECK_INT(imd_header_tag_shape(h, 0), 2);
    check_tag(h, 0, 0, 2.5);
    check_tag(h, 0, 1, 5);
    check_empty_tag(h, 1, 0);
    check_tag(h, 1, 1, 305);
    imd_series_destroy(sub);

    /* An in-plane crop leaves the tags alone. */
    sub = subset_text(&error, src, ":, :, 1:3, 4");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    CHECK_INT(imd_header_tag_slices(h), 4);
    CHECK_INT(imd_header_tag_shape(h, 0), 3);
    check_tag(h, 2, 1, 202.5);
    check_empty_tag(h, 3, 1);
    imd_series_destroy(sub);
    imd_series_destroy(src);
}

/* 5D (time, te, slice, row, column) with two tag components. */
IMD_TEST(two_tag_dims)
{
    ImdError *error = NULL;
    const size_t shape[5] = {2, 3, 2, 3, 3};
    ImdSeries *src = imd_series_create(&error, IMD_DTYPE_FLOAT32, 5, shape);
    REQUIRE(src != NULL);
    CHECK_OK(error, imd_series_set_input_order(&error, src, "time,te"));
    ImdHeader *hs = imd_series_header(src);
    const size_t tag_shape[2] = {2, 3};
    CHECK_OK(error, imd_header_set_tag_shape(&error, hs, 2, 2, tag_shape, 2));
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < 2; i++) {
            for (size_t j = 0; j < 3; j++) {
                size_t ij[2] = {i, j};
                ImdValue v[2] = {imd_value_number(10.0 * (double)i + (double)s),
                                 imd_value_number(1000.0 + (double)j)};
                CHECK_OK(error, imd_header_set_tag(&error, hs, s, ij, v));
            }
        }
    }

    /* Drop te: order "time", tuples keep the time component. */
    ImdSeries *sub = subset_text(&error, src, ":, 1");
    REQUIRE(sub != NULL);
    const ImdHeader *h = imd_series_const_header(sub);
    CHECK_INT(imd_series_ndim(sub), 4);
    CHECK_STR(axis_name(sub, 0), "time");
    CHECK_STR(axis_name(sub, 1), "slice");
    CHECK_STR(imd_header_input_order(h), "time");
    CHECK_INT(imd_header_tag_ndim(h), 1);
    CHECK_INT(imd_header_tag_shape(h, 0), 2);
    CHECK_INT(imd_header_tag_components(h), 1);
    size_t idx[1] = {1};
    const ImdValue *v = imd_header_tag(h, 1, idx);
    CHECK(v != NULL && fabs(v->v[0] - 11) < tol);
    imd_series_destroy(sub);

    /* Drop time (one value left): order "te", te components kept. */
    sub = subset_text(&error, src, "1:2, 0:2");
    REQUIRE(sub != NULL);
    h = imd_series_const_header(sub);
    CHECK_INT(imd_series_ndim(sub), 4);
    CHECK_STR(axis_name(sub, 0), "te");
    CHECK_STR(imd_header_input_order(h), "te");
    CHECK_INT(imd_series_tag_ndim(sub), 1);
    CHECK_INT(imd_header_tag_ndim(h), 1);
    CHECK_INT(imd_header_tag_shape(h, 0), 2);
    CHECK_INT(imd_header_tag_components(h), 1);
    idx[0] = 1;
    v = imd_header_tag(h, 0, idx);
    CHECK(v != NULL && fabs(v->v[0] - 1001) < tol);
    imd_series_destroy(sub);

    /* Both dropped: "none". */
    sub = subset_text(&error, src, "0, 2");
    REQUIRE(sub != NULL);
    CHECK_INT(imd_series_ndim(sub), 3);
    CHECK_STR(imd_header_input_order(imd_series_const_header(sub)), "none");
    CHECK_INT(imd_header_tag_ndim(imd_series_const_header(sub)), 0);
    imd_series_destroy(sub);
    imd_series_destroy(src);
}

/* 3D (time, row, column): no slice axis. */
IMD_TEST(time_row_column)
{
    ImdError *error = NULL;
    const size_t shape[3] = {4, 3, 2};
    ImdSeries *src = imd_series_create(&error, IMD_DTYPE_INT32, 3, shape);
    REQUIRE(src != NULL);
    int32_t *d = imd_series_data(src);
    for (size_t i = 0; i < 24; i++) {
        d[i] = (int32_t)i;
    }
    CHECK_OK(error, imd_series_set_input_order(&error, src, "time"));
    ImdSeries *sub = subset_text(&error, src, "1:3, :, 1");
    REQUIRE(sub != NULL);
    CHECK_INT(imd_series_ndim(sub), 2);
    CHECK_STR(axis_name(sub, 0), "time");
    CHECK_STR(axis_name(sub, 1), "row");
    CHECK_STR(imd_header_input_order(imd_series_const_header(sub)), "time");
    CHECK_INT(imd_series_slices(sub), 1);
    const int32_t *o = imd_series_const_data(sub);
    CHECK_INT(o[0], 7);
    CHECK_INT(o[5], 17);
    imd_series_destroy(sub);

    sub = subset_text(&error, src, "2");
    REQUIRE(sub != NULL);
    CHECK_INT(imd_series_ndim(sub), 2);
    CHECK_STR(axis_name(sub, 0), "row");
    CHECK_STR(axis_name(sub, 1), "column");
    CHECK_STR(imd_header_input_order(imd_series_const_header(sub)), "none");
    CHECK_INT(((const int32_t *)imd_series_const_data(sub))[0], 12);
    imd_series_destroy(sub);
    imd_series_destroy(src);
}

/* Default geometry (no positions), one known position, 2D and RGB. */
IMD_TEST(other_geometries_and_types)
{
    ImdError *error = NULL;

    /* No positions: the transform still moves to the first kept voxel. */
    const size_t s3[3] = {4, 5, 6};
    ImdSeries *plain = imd_series_create(&error, IMD_DTYPE_UINT8, 3, s3);
    REQUIRE(plain != NULL);
    ImdSeries *sub = subset_text(&error, plain, "1:, 2:, 3:");
    REQUIRE(sub != NULL);
    ImdMat4 m;
    imd_header_transform(imd_series_const_header(sub), &m);
    CHECK_NEAR(m.m[0][3], 3, tol);
    CHECK_NEAR(m.m[1][3], 2, tol);
    CHECK_NEAR(m.m[2][3], 1, tol);
    CHECK_NEAR(m.m[0][0], 1, tol);
    CHECK_NEAR(m.m[2][2], 1, tol);
    imd_series_destroy(sub);
    imd_series_destroy(plain);

    /* Only slice 0 known: later slices extrapolated, then renumbered. */
    ImdSeries *one = imd_series_create(&error, IMD_DTYPE_UINT8, 3, s3);
    REQUIRE(one != NULL);
    const double spacing[3] = {2.5, 1, 1};
    CHECK_OK(error, imd_series_set_spacing(&error, one, spacing));
    const ImdVec3 p0 = {5, 6, 7};
    CHECK_OK(error, imd_header_set_image_positions(&error, imd_series_header(one), &p0, 1));
    sub = subset_text(&error, one, "2:");
    REQUIRE(sub != NULL);
    ImdVec3 p;
    CHECK(imd_header_image_position(imd_series_const_header(sub), 0, &p));
    check_vec(p, 5, 6, 12);
    CHECK(imd_header_image_position(imd_series_const_header(sub), 1, &p));
    check_vec(p, 5, 6, 14.5);
    imd_series_destroy(sub);
    imd_series_destroy(one);

    /* 2D. */
    const size_t s2[2] = {5, 6};
    ImdSeries *flat = imd_series_create(&error, IMD_DTYPE_FLOAT64, 2, s2);
    REQUIRE(flat != NULL);
    double *fd = imd_series_data(flat);
    for (size_t i = 0; i < 30; i++) {
        fd[i] = (double)i + 0.5;
    }
    sub = subset_text(&error, flat, "1:4:2, -1");
    REQUIRE(sub != NULL);
    CHECK_INT(imd_series_ndim(sub), 1);
    CHECK_INT(imd_series_dim(sub, 0), 2);
    CHECK_STR(axis_name(sub, 0), "row");
    const double *od = imd_series_const_data(sub);
    CHECK_NEAR(od[0], 11.5, 0);
    CHECK_NEAR(od[1], 23.5, 0);
    imd_header_transform(imd_series_const_header(sub), &m);
    CHECK_NEAR(m.m[0][3], 5, tol); /* column 5 */
    CHECK_NEAR(m.m[1][3], 1, tol); /* row 1 */
    CHECK_NEAR(m.m[1][1], 2, tol); /* row step 2 */
    imd_series_destroy(sub);
    imd_series_destroy(flat);

    /* RGB: 3 bytes per voxel move together. */
    const size_t sr[2] = {2, 3};
    ImdSeries *rgb = imd_series_create(&error, IMD_DTYPE_RGB8, 2, sr);
    REQUIRE(rgb != NULL);
    uint8_t *rd = imd_series_data(rgb);
    for (size_t i = 0; i < 18; i++) {
        rd[i] = (uint8_t)i;
    }
    sub = subset_text(&error, rgb, ":, ::-2");
    REQUIRE(sub != NULL);
    CHECK_INT(imd_series_dtype(sub), IMD_DTYPE_RGB8);
    CHECK_INT(imd_series_dim(sub, 1), 2);
    const uint8_t *ro = imd_series_const_data(sub);
    static const uint8_t want[12] = {6, 7, 8, 0, 1, 2, 15, 16, 17, 9, 10, 11};
    CHECK(memcmp(ro, want, sizeof want) == 0);
    imd_series_destroy(sub);
    imd_series_destroy(rgb);
}

/* ---- errors and identity ------------------------------------------------------------ */

IMD_TEST(invalid_indices)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);
    static const char *const bad[] = {
        "3",          /* time has 3 */
        "-4",         /* out of range from the end */
        ":, 4",       /* slice has 4 */
        ":, :, :, 6", /* column has 6 */
        ":, :, -6",   /* row has 5 */
        "2:1",        /* empty */
        "5:",         /* past the end */
        ":, -10:-5",  /* before the start */
        "0:3:-1",     /* wrong direction */
        ":, :, 3:3",  /* empty */
        "0, 0, 0, 0, 0", /* more indices than dimensions */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ImdSeries *sub = subset_text(&error, src, bad[i]);
        if (sub != NULL) {
            IMD_FAIL_AT("[%s] succeeded", bad[i]);
            imd_series_destroy(sub);
        } else if (imd_error_code(error) != IMD_ERR_INVALID_ARG) {
            IMD_FAIL_AT("[%s]: %s, expected INVALID_ARG", bad[i],
                        imd_error_code_name(imd_error_code(error)));
        }
        imd_error_clear(&error);
    }
    ImdIndex five[5];
    memset(five, 0, sizeof five);
    CHECK_FAILS(error, imd_series_subset(&error, src, five, 5), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_subset(&error, src, NULL, 1), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_subset(&error, NULL, five, 1), IMD_ERR_INVALID_ARG);
    imd_series_destroy(src);
}

IMD_TEST(identity_kept)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);
    const ImdHeader *hs = imd_series_const_header(src);
    static const char *const texts[] = {"1", ":, 1:3", ":, :, 2:, 3:", "1:2"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ImdSeries *sub = subset_text(&error, src, texts[i]);
        REQUIRE(sub != NULL);
        const ImdHeader *h = imd_series_const_header(sub);
        CHECK_STR(imd_header_get_string(h, "SeriesInstanceUID"),
                  imd_header_get_string(hs, "SeriesInstanceUID"));
        CHECK_STR(imd_header_get_string(h, "StudyInstanceUID"),
                  imd_header_get_string(hs, "StudyInstanceUID"));
        CHECK_STR(imd_header_get_string(h, "FrameOfReferenceUID"),
                  imd_header_get_string(hs, "FrameOfReferenceUID"));
        CHECK_STR(imd_header_get_string(h, "PatientName"), "Doe^John");
        ImdVec3 r, c;
        imd_header_orientation(h, &r, &c);
        check_vec(r, 1, 0, 0);
        check_vec(c, 0, 1, 0);
        imd_series_destroy(sub);
    }
    imd_series_destroy(src);
}

/* ---- imd_index_parse ------------------------------------------------------------------ */

static int selects_all(const ImdIndex *ix)
{
    return ix->kind == IMD_INDEX_ALL ||
           (ix->kind == IMD_INDEX_RANGE && !ix->has_start && !ix->has_stop &&
            (ix->step == 0 || ix->step == 1));
}

IMD_TEST(index_parse)
{
    ImdError *error = NULL;
    ImdIndex ix[8];
    size_t n = 99;

    CHECK_OK(error, imd_index_parse(&error, "1:3, :, -1", ix, 8, &n));
    CHECK_INT(n, 3);
    CHECK_INT(ix[0].kind, IMD_INDEX_RANGE);
    CHECK(ix[0].has_start && ix[0].has_stop);
    CHECK_INT(ix[0].start, 1);
    CHECK_INT(ix[0].stop, 3);
    CHECK(ix[0].step == 0 || ix[0].step == 1);
    CHECK(selects_all(&ix[1]));
    CHECK_INT(ix[2].kind, IMD_INDEX_SINGLE);
    CHECK_INT(ix[2].start, -1);

    CHECK_OK(error, imd_index_parse(&error, "::2", ix, 8, &n));
    CHECK_INT(n, 1);
    CHECK_INT(ix[0].kind, IMD_INDEX_RANGE);
    CHECK(!ix[0].has_start);
    CHECK(!ix[0].has_stop);
    CHECK_INT(ix[0].step, 2);

    CHECK_OK(error, imd_index_parse(&error, "-1", ix, 8, &n));
    CHECK_INT(n, 1);
    CHECK_INT(ix[0].kind, IMD_INDEX_SINGLE);
    CHECK_INT(ix[0].start, -1);

    CHECK_OK(error, imd_index_parse(&error, "5:1:-2", ix, 8, &n));
    CHECK_INT(n, 1);
    CHECK_INT(ix[0].kind, IMD_INDEX_RANGE);
    CHECK(ix[0].has_start && ix[0].has_stop);
    CHECK_INT(ix[0].start, 5);
    CHECK_INT(ix[0].stop, 1);
    CHECK_INT(ix[0].step, -2);

    CHECK_OK(error, imd_index_parse(&error, ":", ix, 8, &n));
    CHECK_INT(n, 1);
    CHECK(selects_all(&ix[0]));

    CHECK_OK(error, imd_index_parse(&error, " 2 : ,:-1", ix, 8, &n));
    CHECK_INT(n, 2);
    CHECK_INT(ix[0].kind, IMD_INDEX_RANGE);
    CHECK(ix[0].has_start && !ix[0].has_stop);
    CHECK_INT(ix[0].start, 2);
    CHECK_INT(ix[1].kind, IMD_INDEX_RANGE);
    CHECK(!ix[1].has_start && ix[1].has_stop);
    CHECK_INT(ix[1].stop, -1);

    static const char *const garbage[] = {"1:x", "", "x", "1,,2", "1:2:3:4", "1 2", "1.5",
                                          ",", "1,", "--1"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        if (imd_index_parse(&error, garbage[i], ix, 8, &n)) {
            IMD_FAIL_AT("imd_index_parse(\"%s\") succeeded", garbage[i]);
        } else if (imd_error_code(error) != IMD_ERR_INVALID_ARG) {
            IMD_FAIL_AT("imd_index_parse(\"%s\"): %s", garbage[i],
                        imd_error_code_name(imd_error_code(error)));
        }
        imd_error_clear(&error);
    }
    CHECK_FAILS(error, imd_index_parse(&error, NULL, ix, 8, &n), IMD_ERR_INVALID_ARG);
    /* More entries than room. */
    CHECK_FAILS(error, imd_index_parse(&error, "1,2,3", ix, 2, &n), IMD_ERR_INVALID_ARG);
}

/* ---- imd_series_subset_wrap / imd_series_wrap_like (the Python binding) -- */

static int released;
static void count_release(void *data, void *user)
{
    (void)data;
    released += *(int *)user;
}

/* The header of the sub-set equals imd_series_subset()'s; no voxel is read. */
IMD_TEST(subset_wrap_header_only)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);
    const char *const texts[] = {"1", "1:3, 2", ":, :, 1:3", ":, 1:3, ::2", "-1, :, 0"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ImdIndex index[IMD_MAX_DIMS + 2];
        size_t count = 0;
        REQUIRE(imd_index_parse(&error, texts[i], index, IMD_MAX_DIMS + 2, &count));
        ImdSeries *copied = imd_series_subset(&error, src, index, count);
        uint8_t token = 0;
        int one = 1;
        released = 0;
        ImdSeries *wrapped =
            imd_series_subset_wrap(&error, src, index, count, &token, count_release, &one);
        REQUIRE(copied != NULL && wrapped != NULL);
        CHECK(imd_series_data(wrapped) == &token);
        CHECK_INT(imd_series_ndim(wrapped), imd_series_ndim(copied));
        for (size_t d = 0; d < imd_series_ndim(copied); d++) {
            CHECK_INT(imd_series_dim(wrapped, d), imd_series_dim(copied, d));
            CHECK_STR(axis_name(wrapped, d), axis_name(copied, d));
        }
        /* The fixture has no window: set one so that both describe it alike. */
        imd_header_set_window(imd_series_header(copied), 2, 4);
        imd_header_set_window(imd_series_header(wrapped), 2, 4);
        char *a = imd_series_to_json(&error, copied, NULL, 0);
        char *b = imd_series_to_json(&error, wrapped, NULL, IMD_JSON_HEADER_ONLY);
        REQUIRE(a != NULL && b != NULL);
        CHECK_STR(a, b);
        imd_free(a);
        imd_free(b);
        imd_series_destroy(copied);
        imd_series_destroy(wrapped);
        CHECK_INT(released, 1);
    }
    /* A failure leaves the memory with the caller: no release. */
    ImdIndex bad = {.kind = IMD_INDEX_SINGLE, .start = 99};
    uint8_t token = 0;
    int one = 1;
    released = 0;
    CHECK(imd_series_subset_wrap(&error, src, &bad, 1, &token, count_release, &one) == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_INVALID_ARG);
    imd_error_clear(&error);
    CHECK(imd_series_subset_wrap(&error, src, &bad, 1, NULL, NULL, NULL) == NULL);
    imd_error_clear(&error);
    CHECK_INT(released, 0);
    imd_series_destroy(src);
}

IMD_TEST(wrap_like_copies_header_not_voxels)
{
    ImdError *error = NULL;
    ImdSeries *src = fixture();
    REQUIRE(src != NULL);
    size_t count = imd_series_count(src);
    float *values = calloc(count, sizeof *values);
    REQUIRE(values != NULL);
    int one = 1;
    released = 0;
    ImdSeries *like = imd_series_wrap_like(&error, src, IMD_DTYPE_FLOAT32, values,
                                           count_release, &one);
    REQUIRE(like != NULL);
    CHECK(imd_series_data(like) == values);
    CHECK_INT(imd_series_dtype(like), IMD_DTYPE_FLOAT32);
    CHECK_INT(imd_series_ndim(like), imd_series_ndim(src));
    CHECK_STR(imd_header_get_string(imd_series_const_header(like), "PatientName"), "Doe^John");
    CHECK_STR(imd_header_input_order(imd_series_const_header(like)), "time");
    CHECK_STR(axis_name(like, 0), "time");
    /* A deep copy: changing it leaves the source alone. */
    REQUIRE(imd_header_set_string(&error, imd_series_header(like), "PatientName", "X"));
    CHECK_STR(imd_header_get_string(imd_series_const_header(src), "PatientName"), "Doe^John");
    imd_series_destroy(like);
    CHECK_INT(released, 1);
    free(values);
    CHECK(imd_series_wrap_like(&error, NULL, IMD_DTYPE_FLOAT32, &one, NULL, NULL) == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_INVALID_ARG);
    imd_error_clear(&error);
    imd_series_destroy(src);
}

IMD_TEST_MAIN(IMD_CASE(values_shapes_and_names), IMD_CASE(index_structs),
              IMD_CASE(tag_axis_dropped), IMD_CASE(slice_range_renumbers_positions),
              IMD_CASE(in_plane_crop_moves_origin), IMD_CASE(steps_scale_transform_and_spacing),
              IMD_CASE(tags_sliced_and_rekeyed), IMD_CASE(two_tag_dims),
              IMD_CASE(time_row_column), IMD_CASE(other_geometries_and_types),
              IMD_CASE(invalid_indices), IMD_CASE(identity_kept),
              IMD_CASE(index_parse), IMD_CASE(subset_wrap_header_only),
              IMD_CASE(wrap_like_copies_header_not_voxels))
