/*
 * test_series.c: ImdSeries and ImdSeriesList (include/imagedata/series.h)
 * against behaviour.md §1.1 (construction, default axis names), §1.3
 * (properties; the §12 fix: `slices` of (time, row, column) data is 1) and
 * the JSON description (imd_series_to_json, the original's zyx conventions).
 */
#define _POSIX_C_SOURCE 200809L /* getpid, access */
#include "imd_test.h"

#include <stdint.h>
#include <unistd.h>

static const double tol = 1e-9;

static ImdSeries *make(ImdDType dtype, size_t ndim, const size_t *shape)
{
    ImdError *error = NULL;
    ImdSeries *s = imd_series_create(&error, dtype, ndim, shape);
    if (s == NULL) {
        fprintf(stderr, "imd_series_create: %s\n", imd_error_message(error));
        imd_error_clear(&error);
    }
    return s;
}

static const char *axis_name(const ImdSeries *s, size_t dim)
{
    const ImdAxis *a = imd_series_axis(s, dim);
    return a != NULL ? imd_axis_name(a) : NULL;
}

/* ---- creation ---------------------------------------------------------- */

IMD_TEST(create_zero_filled)
{
    const size_t shape[3] = {2, 3, 4};
    ImdSeries *s = make(IMD_DTYPE_FLOAT64, 3, shape);
    REQUIRE(s != NULL);
    CHECK_INT(imd_series_dtype(s), IMD_DTYPE_FLOAT64);
    CHECK_INT(imd_series_ndim(s), 3);
    CHECK_INT(imd_series_dim(s, 0), 2);
    CHECK_INT(imd_series_dim(s, 1), 3);
    CHECK_INT(imd_series_dim(s, 2), 4);
    CHECK_INT(imd_series_dim(s, 3), 0);
    CHECK_INT(imd_series_count(s), 24);
    CHECK_INT(imd_series_nbytes(s), 24 * 8);
    CHECK(imd_series_axis(s, 3) == NULL);
    CHECK(imd_series_data(s) == imd_series_const_data(s));
    const double *d = imd_series_const_data(s);
    REQUIRE(d != NULL);
    int nonzero = 0;
    for (size_t i = 0; i < 24; i++) {
        nonzero += d[i] != 0.0;
    }
    CHECK_INT(nonzero, 0);
    CHECK_INT(imd_series_slices(s), 2);
    CHECK_INT(imd_series_rows(s), 3);
    CHECK_INT(imd_series_columns(s), 4);
    CHECK_INT(imd_series_tag_ndim(s), 0);
    CHECK_STR(imd_header_input_order(imd_series_const_header(s)), "none");
    CHECK(imd_series_header(s) == imd_series_const_header(s));
    imd_series_destroy(s);

    /* Every type, and RGB is a type (3 bytes per voxel), not a dimension. */
    const size_t shape2[2] = {5, 7};
    for (int t = IMD_DTYPE_BOOL; t <= IMD_DTYPE_RGB8; t++) {
        ImdSeries *x = make((ImdDType)t, 2, shape2);
        REQUIRE(x != NULL);
        CHECK_INT(imd_series_ndim(x), 2);
        CHECK_INT(imd_series_nbytes(x), 35 * imd_dtype_size((ImdDType)t));
        const unsigned char *bytes = imd_series_const_data(x);
        int set = 0;
        for (size_t i = 0; i < imd_series_nbytes(x); i++) {
            set += bytes[i] != 0;
        }
        CHECK_INT(set, 0);
        imd_series_destroy(x);
    }
    imd_series_destroy(NULL);
}

IMD_TEST(default_axis_names)
{
    /* behaviour.md §1.1 [O]: the last min(3, ndim) are slice,row,column; the
     * others unknownN counting outwards from the slice axis (the original
     * inserts unknown0, unknown1, ... in front), the first renamed "none". */
    static const char *const expected[7][6] = {
        {NULL},
        {"column"},
        {"row", "column"},
        {"slice", "row", "column"},
        {"none", "slice", "row", "column"},
        {"none", "unknown0", "slice", "row", "column"},
        {"none", "unknown1", "unknown0", "slice", "row", "column"},
    };
    const size_t shape[6] = {2, 2, 2, 2, 2, 2};
    for (size_t ndim = 1; ndim <= 6; ndim++) {
        ImdSeries *s = make(IMD_DTYPE_UINT8, ndim, shape);
        REQUIRE(s != NULL);
        for (size_t d = 0; d < ndim; d++) {
            const ImdAxis *a = imd_series_axis(s, d);
            REQUIRE(a != NULL);
            if (strcmp(imd_axis_name(a), expected[ndim][d]) != 0) {
                IMD_FAIL_AT("%zuD axis %zu: \"%s\", expected \"%s\"", ndim, d, imd_axis_name(a),
                            expected[ndim][d]);
            }
            /* Uniform, start 0, step 1, the dimension's length. */
            CHECK_INT(imd_axis_kind(a), IMD_AXIS_UNIFORM);
            CHECK_INT(imd_axis_length(a), 2);
            CHECK_NEAR(imd_axis_start(a), 0, 0);
            double step = 0;
            CHECK(imd_axis_step(a, &step));
            CHECK_NEAR(step, 1, 0);
            CHECK_INT(imd_series_find_axis(s, expected[ndim][d]), (int)d);
        }
        CHECK_INT(imd_series_tag_ndim(s), ndim > 3 ? ndim - 3 : 0);
        CHECK_INT(imd_series_slices(s), ndim >= 3 ? 2 : 1);
        CHECK_INT(imd_series_find_axis(s, "nothing"), -1);
        imd_series_destroy(s);
    }
}

IMD_TEST(create_invalid)
{
    ImdError *error = NULL;
    const size_t shape[IMD_MAX_DIMS + 1] = {2, 2, 2, 2, 2, 2, 2, 2, 2};
    const size_t zero[3] = {2, 0, 2};
    CHECK_FAILS(error, imd_series_create(&error, IMD_DTYPE_UINT8, 0, shape), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_create(&error, IMD_DTYPE_UINT8, 9, shape), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_create(&error, IMD_DTYPE_UINT8, 3, zero), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_create(&error, (ImdDType)0, 3, shape), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_create(&error, (ImdDType)99, 3, shape), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_create(&error, IMD_DTYPE_UINT8, 3, NULL), IMD_ERR_INVALID_ARG);
    /* IMD_MAX_DIMS itself is fine. */
    ImdSeries *s = imd_series_create(&error, IMD_DTYPE_UINT8, IMD_MAX_DIMS, shape);
    CHECK(s != NULL);
    imd_error_clear(&error);
    imd_series_destroy(s);
    /* Size overflow. */
    const size_t huge[3] = {SIZE_MAX / 2, 4, 4};
    CHECK_FAILS(error, imd_series_create(&error, IMD_DTYPE_UINT16, 3, huge), IMD_ERR_LIMIT);
}

/* ---- wrap ------------------------------------------------------------------ */

static int release_calls;
static void *release_data, *release_user;

static void release_free(void *data, void *user)
{
    release_calls++;
    release_data = data;
    release_user = user;
    free(data);
}

IMD_TEST(wrap_release)
{
    ImdError *error = NULL;
    const size_t shape[2] = {3, 4};
    int user = 0;
    release_calls = 0;

    uint16_t *buffer = malloc(12 * sizeof *buffer);
    REQUIRE(buffer != NULL);
    for (uint16_t i = 0; i < 12; i++) {
        buffer[i] = (uint16_t)(i * 3);
    }
    ImdSeries *s = imd_series_wrap(&error, IMD_DTYPE_UINT16, 2, shape, buffer, release_free,
                                   &user);
    REQUIRE(s != NULL);
    CHECK(imd_series_data(s) == buffer);
    CHECK_INT(((const uint16_t *)imd_series_const_data(s))[11], 33);
    CHECK_STR(axis_name(s, 0), "row");
    CHECK_STR(axis_name(s, 1), "column");

    /* A clone owns its own copy; destroying it does not release ours. */
    ImdSeries *copy = imd_series_clone(&error, s);
    REQUIRE(copy != NULL);
    CHECK(imd_series_data(copy) != buffer);
    CHECK_INT(((const uint16_t *)imd_series_const_data(copy))[11], 33);
    imd_series_destroy(copy);
    CHECK_INT(release_calls, 0);

    imd_series_destroy(s);
    CHECK_INT(release_calls, 1);
    CHECK(release_data == buffer);
    CHECK(release_user == &user);

    /* A failed wrap does not call release: the caller still owns the data. */
    uint16_t *mine = malloc(12 * sizeof *mine);
    REQUIRE(mine != NULL);
    const size_t zero[2] = {0, 4};
    CHECK_FAILS(error, imd_series_wrap(&error, IMD_DTYPE_UINT16, 2, zero, mine, release_free,
                                       &user),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_wrap(&error, IMD_DTYPE_UINT16, 0, shape, mine, release_free,
                                       &user),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_wrap(&error, (ImdDType)77, 2, shape, mine, release_free,
                                       &user),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_wrap(&error, IMD_DTYPE_UINT16, 2, shape, NULL, release_free,
                                       &user),
                IMD_ERR_INVALID_ARG);
    CHECK_INT(release_calls, 1);

    /* release NULL: borrowed memory, written through, left alone. */
    ImdSeries *borrowed = imd_series_wrap(&error, IMD_DTYPE_UINT16, 2, shape, mine, NULL, NULL);
    REQUIRE(borrowed != NULL);
    ((uint16_t *)imd_series_data(borrowed))[5] = 4242;
    CHECK_INT(mine[5], 4242);
    imd_series_destroy(borrowed);
    CHECK_INT(release_calls, 1);
    mine[0] = 1; /* still ours (ASan would flag a free) */
    free(mine);
}

/* ---- clone ---------------------------------------------------------------- */

IMD_TEST(clone_is_deep)
{
    ImdError *error = NULL;
    const size_t shape[4] = {2, 3, 4, 5};
    ImdSeries *s = make(IMD_DTYPE_INT16, 4, shape);
    REQUIRE(s != NULL);
    int16_t *d = imd_series_data(s);
    for (size_t i = 0; i < imd_series_count(s); i++) {
        d[i] = (int16_t)(i - 60);
    }
    CHECK_OK(error, imd_series_set_input_order(&error, s, "time"));
    const double times[2] = {0, 2.5};
    ImdAxis *time = imd_axis_create_numbers(&error, "time", times, 2);
    REQUIRE(time != NULL);
    CHECK_OK(error, imd_series_set_axis(&error, s, 0, time));
    ImdHeader *h = imd_series_header(s);
    CHECK_OK(error, imd_header_set_string(&error, h, "PatientName", "Doe^John"));
    const ImdVec3 positions[3] = {{0, 0, 0}, {0, 0, 2}, {0, 0, 4}};
    CHECK_OK(error, imd_header_set_image_positions(&error, h, positions, 3));

    ImdSeries *c = imd_series_clone(&error, s);
    REQUIRE(c != NULL);
    CHECK(imd_series_clone(&error, NULL) == NULL);
    CHECK(error != NULL);
    imd_error_clear(&error);

    CHECK(imd_series_data(c) != imd_series_data(s));
    CHECK(imd_series_header(c) != imd_series_header(s));
    CHECK(imd_series_axis(c, 0) != imd_series_axis(s, 0));
    CHECK_INT(imd_series_ndim(c), 4);
    CHECK_INT(imd_series_dtype(c), IMD_DTYPE_INT16);
    CHECK(memcmp(imd_series_const_data(c), imd_series_const_data(s), imd_series_nbytes(s)) ==
          0);

    /* Change the original, then destroy it: the clone keeps its own. */
    d[0] = 999;
    CHECK_OK(error, imd_header_set_string(&error, h, "PatientName", "Other"));
    CHECK_OK(error, imd_series_set_input_order(&error, s, "b"));
    imd_series_destroy(s);

    const int16_t *cd = imd_series_const_data(c);
    CHECK_INT(cd[0], -60);
    CHECK_INT(cd[119], 59);
    CHECK_STR(axis_name(c, 0), "time");
    CHECK_INT(imd_axis_kind(imd_series_axis(c, 0)), IMD_AXIS_VARIABLE);
    CHECK_NEAR(imd_axis_number(imd_series_axis(c, 0), 1), 2.5, 0);
    CHECK_STR(axis_name(c, 1), "slice");
    const ImdHeader *ch = imd_series_const_header(c);
    CHECK_STR(imd_header_input_order(ch), "time");
    CHECK_STR(imd_header_get_string(ch, "PatientName"), "Doe^John");
    CHECK_INT(imd_header_position_count(ch), 3);
    ImdVec3 p;
    CHECK(imd_header_image_position(ch, 2, &p));
    CHECK_NEAR(p.z, 4, 0);
    imd_series_destroy(c);
}

/* ---- input order ----------------------------------------------------------- */

IMD_TEST(input_order)
{
    ImdError *error = NULL;

    /* 4D: axis 0 becomes "time". */
    const size_t s4[4] = {3, 4, 5, 6};
    ImdSeries *a = make(IMD_DTYPE_UINT16, 4, s4);
    REQUIRE(a != NULL);
    CHECK_OK(error, imd_series_set_input_order(&error, a, "time"));
    CHECK_STR(imd_header_input_order(imd_series_const_header(a)), "time");
    CHECK_STR(axis_name(a, 0), "time");
    CHECK_STR(axis_name(a, 1), "slice");
    CHECK_STR(axis_name(a, 2), "row");
    CHECK_STR(axis_name(a, 3), "column");
    CHECK_INT(imd_series_find_axis(a, "none"), -1);
    CHECK_INT(imd_series_tag_ndim(a), 1);
    CHECK_INT(imd_series_slices(a), 4);
    CHECK_INT(imd_series_rows(a), 5);
    CHECK_INT(imd_series_columns(a), 6);
    /* Too many components. */
    CHECK_FAILS(error, imd_series_set_input_order(&error, a, "time,te,b"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_set_input_order(&error, a, ""), IMD_ERR_INVALID_ARG);
    CHECK_STR(imd_header_input_order(imd_series_const_header(a)), "time");
    CHECK_STR(axis_name(a, 0), "time");
    CHECK_STR(axis_name(a, 1), "slice");
    imd_series_destroy(a);

    /* 5D: "time,te" renames axes 0 and 1. */
    const size_t s5[5] = {2, 3, 4, 5, 6};
    ImdSeries *b = make(IMD_DTYPE_UINT16, 5, s5);
    REQUIRE(b != NULL);
    CHECK_OK(error, imd_series_set_input_order(&error, b, "time,te"));
    CHECK_STR(imd_header_input_order(imd_series_const_header(b)), "time,te");
    CHECK_STR(axis_name(b, 0), "time");
    CHECK_STR(axis_name(b, 1), "te");
    CHECK_STR(axis_name(b, 2), "slice");
    CHECK_STR(axis_name(b, 3), "row");
    CHECK_STR(axis_name(b, 4), "column");
    CHECK_INT(imd_series_tag_ndim(b), 2);
    CHECK_INT(imd_series_slices(b), 4);
    imd_series_destroy(b);

    /* 3D "time": (time, row, column) as the original; slices is 1 (§12 fix). */
    const size_t s3[3] = {3, 4, 5};
    ImdSeries *c = make(IMD_DTYPE_FLOAT32, 3, s3);
    REQUIRE(c != NULL);
    CHECK_OK(error, imd_series_set_input_order(&error, c, "time"));
    CHECK_STR(axis_name(c, 0), "time");
    CHECK_STR(axis_name(c, 1), "row");
    CHECK_STR(axis_name(c, 2), "column");
    CHECK_INT(imd_series_find_axis(c, "slice"), -1);
    CHECK_INT(imd_series_slices(c), 1);
    CHECK_INT(imd_series_rows(c), 4);
    CHECK_INT(imd_series_columns(c), 5);
    CHECK_INT(imd_series_tag_ndim(c), 1);
    CHECK_STR(imd_header_input_order(imd_series_const_header(c)), "time");
    /* Two components do not fit in 3D. */
    CHECK_FAILS(error, imd_series_set_input_order(&error, c, "time,te"), IMD_ERR_INVALID_ARG);
    CHECK_STR(imd_header_input_order(imd_series_const_header(c)), "time");
    CHECK_STR(axis_name(c, 1), "row");
    imd_series_destroy(c);

    /* 3D plain: "time,te" is refused and nothing changes. */
    ImdSeries *e = make(IMD_DTYPE_FLOAT32, 3, s3);
    REQUIRE(e != NULL);
    CHECK_FAILS(error, imd_series_set_input_order(&error, e, "time,te"), IMD_ERR_INVALID_ARG);
    CHECK_STR(imd_header_input_order(imd_series_const_header(e)), "none");
    CHECK_STR(axis_name(e, 0), "slice");
    CHECK_STR(axis_name(e, 1), "row");
    imd_series_destroy(e);

    /* Empty components; a user-defined name is kept whole (not truncated). */
    const size_t s4b[4] = {2, 3, 4, 5};
    ImdSeries *g = make(IMD_DTYPE_UINT8, 4, s4b);
    REQUIRE(g != NULL);
    CHECK_FAILS(error, imd_series_set_input_order(&error, g, "time,,te"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_series_set_input_order(&error, g, ","), IMD_ERR_INVALID_ARG);
    CHECK_STR(imd_header_input_order(imd_series_const_header(g)), "none");
    char long_name[101];
    memset(long_name, 'q', 100);
    long_name[100] = '\0';
    CHECK_OK(error, imd_series_set_input_order(&error, g, long_name));
    CHECK_STR(axis_name(g, 0), long_name);
    CHECK_STR(imd_header_input_order(imd_series_const_header(g)), long_name);
    imd_series_destroy(g);

    /* More components than IMD_MAX_TAG_DIMS: refused, or every one applied. */
    const size_t s8[8] = {2, 2, 2, 2, 2, 2, 2, 2};
    ImdSeries *k = make(IMD_DTYPE_UINT8, 8, s8);
    REQUIRE(k != NULL);
    if (imd_series_set_input_order(&error, k, "a,b,c,d,e,f")) {
        CHECK_STR(axis_name(k, 4), "e");
        CHECK_STR(axis_name(k, 5), "f"); /* the header says six components */
    } else {
        CHECK_INT(imd_error_code(error), IMD_ERR_INVALID_ARG);
        CHECK_STR(imd_header_input_order(imd_series_const_header(k)), "none");
        CHECK_STR(axis_name(k, 0), "none");
    }
    imd_error_clear(&error);
    imd_series_destroy(k);

    /* 2D: no room for a tag. */
    const size_t s2[2] = {4, 5};
    ImdSeries *f = make(IMD_DTYPE_FLOAT32, 2, s2);
    REQUIRE(f != NULL);
    CHECK_FAILS(error, imd_series_set_input_order(&error, f, "time"), IMD_ERR_INVALID_ARG);
    CHECK_STR(imd_header_input_order(imd_series_const_header(f)), "none");
    CHECK_STR(axis_name(f, 0), "row");
    CHECK_INT(imd_series_slices(f), 1);
    CHECK_INT(imd_series_rows(f), 4);
    CHECK_INT(imd_series_columns(f), 5);
    imd_series_destroy(f);
}

/* ---- spacing ------------------------------------------------------------------ */

IMD_TEST(spacing)
{
    ImdError *error = NULL;
    const size_t s3[3] = {4, 5, 6};
    ImdSeries *s = make(IMD_DTYPE_FLOAT32, 3, s3);
    REQUIRE(s != NULL);
    double sp[3] = {0, 0, 0};
    imd_series_spacing(s, sp);
    CHECK_NEAR(sp[0], 1, 0);
    CHECK_NEAR(sp[1], 1, 0);
    CHECK_NEAR(sp[2], 1, 0);

    /* A set transform is forgotten on a spacing change. */
    const ImdMat4 custom = {{{9, 0, 0, 1}, {0, 9, 0, 2}, {0, 0, 9, 3}, {0, 0, 0, 1}}};
    imd_header_set_transform(imd_series_header(s), &custom);

    const double want[3] = {2.5, 0.8, 0.7};
    CHECK_OK(error, imd_series_set_spacing(&error, s, want));
    imd_series_spacing(s, sp);
    CHECK_NEAR(sp[0], 2.5, tol);
    CHECK_NEAR(sp[1], 0.8, tol);
    CHECK_NEAR(sp[2], 0.7, tol);
    /* Through the axes ... */
    static const char *const names[3] = {"slice", "row", "column"};
    for (int i = 0; i < 3; i++) {
        const ImdAxis *a = imd_series_axis(s, (size_t)i);
        CHECK_STR(imd_axis_name(a), names[i]);
        double step = 0;
        CHECK(imd_axis_step(a, &step));
        CHECK_NEAR(step, want[i], tol);
        CHECK_INT(imd_axis_length(a), s3[i]);
    }
    /* ... and the header. */
    double hs[3];
    imd_header_spacing(imd_series_const_header(s), hs);
    CHECK_NEAR(hs[0], 2.5, tol);
    CHECK_NEAR(hs[1], 0.8, tol);
    CHECK_NEAR(hs[2], 0.7, tol);
    ImdMat4 m;
    imd_header_transform(imd_series_const_header(s), &m);
    CHECK_NEAR(m.m[0][0], 0.7, tol); /* row cosine (1,0,0) * dc */
    CHECK_NEAR(m.m[1][1], 0.8, tol); /* column cosine (0,1,0) * dr */
    CHECK_NEAR(m.m[2][2], 2.5, tol); /* normal * ds (no positions) */
    CHECK_NEAR(m.m[0][3], 0, tol);

    /* Invalid spacing is refused and changes nothing. */
    const double bad[3] = {0, 1, 1};
    CHECK_FAILS(error, imd_series_set_spacing(&error, s, bad), IMD_ERR_INVALID_ARG);
    imd_series_spacing(s, sp);
    CHECK_NEAR(sp[0], 2.5, tol);
    imd_series_destroy(s);

    /* 2D: ds comes from the header. */
    const size_t s2[2] = {5, 6};
    ImdSeries *t = make(IMD_DTYPE_FLOAT32, 2, s2);
    REQUIRE(t != NULL);
    const double want2[3] = {3, 0.5, 0.25};
    CHECK_OK(error, imd_series_set_spacing(&error, t, want2));
    imd_series_spacing(t, sp);
    CHECK_NEAR(sp[0], 3, tol);
    CHECK_NEAR(sp[1], 0.5, tol);
    CHECK_NEAR(sp[2], 0.25, tol);
    imd_series_destroy(t);
}

/* ---- set_axis ----------------------------------------------------------------- */

IMD_TEST(set_axis)
{
    ImdError *error = NULL;
    const size_t s4[4] = {3, 4, 5, 6};
    ImdSeries *s = make(IMD_DTYPE_UINT8, 4, s4);
    REQUIRE(s != NULL);

    /* A variable axis of the wrong length is refused and stays the caller's. */
    const double two[2] = {0, 1};
    ImdAxis *wrong = imd_axis_create_numbers(&error, "time", two, 2);
    REQUIRE(wrong != NULL);
    CHECK_FAILS(error, imd_series_set_axis(&error, s, 0, wrong), IMD_ERR_INVALID_ARG);
    CHECK_STR(axis_name(s, 0), "none");
    imd_axis_destroy(wrong);

    /* The right length is taken. */
    const double three[3] = {0, 2.5, 5};
    ImdAxis *time = imd_axis_create_numbers(&error, "time", three, 3);
    REQUIRE(time != NULL);
    CHECK_OK(error, imd_series_set_axis(&error, s, 0, time));
    CHECK(imd_series_axis(s, 0) == time);
    CHECK_INT(imd_series_find_axis(s, "time"), 0);
    CHECK_NEAR(imd_axis_number(imd_series_axis(s, 0), 2), 5, 0);

    /* A uniform axis is resized to the dimension, keeping start and step. */
    ImdAxis *slice = imd_axis_create_uniform(&error, "slice", 30, 3, 10);
    REQUIRE(slice != NULL);
    CHECK_OK(error, imd_series_set_axis(&error, s, 1, slice));
    const ImdAxis *got = imd_series_axis(s, 1);
    REQUIRE(got != NULL);
    CHECK_INT(imd_axis_length(got), 4);
    CHECK_NEAR(imd_axis_start(got), 30, 0);
    double step = 0;
    CHECK(imd_axis_step(got, &step));
    CHECK_NEAR(step, 3, 0);
    CHECK_NEAR(imd_axis_number(got, 3), 39, tol);
    double sp[3];
    imd_series_spacing(s, sp);
    CHECK_NEAR(sp[0], 3, tol);
    CHECK_INT(imd_series_slices(s), 4);

    /* Out of range, or no axis. */
    ImdAxis *extra = imd_axis_create_uniform(&error, "x", 0, 1, 4);
    REQUIRE(extra != NULL);
    CHECK_FAILS(error, imd_series_set_axis(&error, s, 4, extra), IMD_ERR_INVALID_ARG);
    imd_axis_destroy(extra);
    CHECK_FAILS(error, imd_series_set_axis(&error, s, 0, NULL), IMD_ERR_INVALID_ARG);
    imd_series_destroy(s);
}

/* ---- lists ------------------------------------------------------------------- */

IMD_TEST(series_list)
{
    ImdError *error = NULL;
    ImdSeriesList *list = imd_series_list_create(&error);
    REQUIRE(list != NULL);
    CHECK_INT(imd_series_list_count(list), 0);
    CHECK(imd_series_list_get(list, 0) == NULL);
    CHECK(imd_series_list_take(list, 0) == NULL);

    const size_t shape[2] = {2, 2};
    ImdSeries *items[3];
    for (int i = 0; i < 3; i++) {
        items[i] = make(IMD_DTYPE_UINT8, 2, shape);
        REQUIRE(items[i] != NULL);
        CHECK_OK(error, imd_series_list_add(&error, list, items[i]));
    }
    CHECK_INT(imd_series_list_count(list), 3);
    CHECK(imd_series_list_get(list, 0) == items[0]);
    CHECK(imd_series_list_get(list, 1) == items[1]);
    CHECK(imd_series_list_get(list, 2) == items[2]);
    CHECK(imd_series_list_get(list, 3) == NULL);
    CHECK_FAILS(error, imd_series_list_add(&error, list, NULL), IMD_ERR_INVALID_ARG);
    CHECK_INT(imd_series_list_count(list), 3);

    /* Take the middle one: the rest close up. */
    ImdSeries *taken = imd_series_list_take(list, 1);
    CHECK(taken == items[1]);
    CHECK_INT(imd_series_list_count(list), 2);
    CHECK(imd_series_list_get(list, 0) == items[0]);
    CHECK(imd_series_list_get(list, 1) == items[2]);
    CHECK(imd_series_list_take(list, 2) == NULL);
    imd_series_destroy(taken);

    /* Many more (growth). */
    for (int i = 0; i < 40; i++) {
        ImdSeries *x = make(IMD_DTYPE_UINT8, 2, shape);
        REQUIRE(x != NULL);
        CHECK_OK(error, imd_series_list_add(&error, list, x));
    }
    CHECK_INT(imd_series_list_count(list), 42);
    CHECK(imd_series_list_get(list, 1) == items[2]);
    CHECK(imd_series_list_get(list, 41) != NULL);
    /* The list destroys what it still holds (ASan checks for leaks). */
    imd_series_list_destroy(list);
    imd_series_list_destroy(NULL);
    CHECK_INT(imd_series_list_count(NULL), 0);
}

/* ---- JSON -------------------------------------------------------------------- */

/* A python check of the document: 4D uint16, time [0,2.5,5], spacing (3,2,1.5),
 * positions x=-10, y=20, z=30+3s, tags time + 100*s. */
static const char json_check_py[] =
    "import json, sys\n"
    "d = json.load(open(sys.argv[1]))\n"
    "def near(a, b):\n"
    "    return abs(a - b) < 1e-9\n"
    "def check(cond, what):\n"
    "    if not cond:\n"
    "        print('JSON check failed: ' + what)\n"
    "        sys.exit(1)\n"
    "check(d['shape'] == [3, 4, 5, 6], 'shape')\n"
    "check(d['dtype'] == 'uint16', 'dtype')\n"
    "check(d['input_order'] == 'time', 'input_order')\n"
    "check([a['name'] for a in d['axes']] == ['time', 'slice', 'row', 'column'], 'axis names')\n"
    "check(d['axes'][0]['values'] == [0, 2.5, 5], 'time values')\n"
    "M = d['transformationMatrix']\n"
    "want = [[3, 0, 0, 30], [0, 2, 0, 20], [0, 0, 1.5, -10], [0, 0, 0, 1]]\n"
    "check(len(M) == 4 and all(len(r) == 4 for r in M), 'matrix shape')\n"
    "check(all(near(M[i][j], want[i][j]) for i in range(4) for j in range(4)),\n"
    "      'transformationMatrix (s,r,c)->(z,y,x): %r' % (M,))\n"
    "ipp = d['imagePositions']\n"
    "check(sorted(ipp.keys()) == ['0', '1', '2', '3'], 'imagePositions keys')\n"
    "check(all(near(a, b) for a, b in zip(ipp['2'], [36, 20, -10])), 'imagePositions zyx')\n"
    "check(all(near(a, b) for a, b in zip(d['orientation'], [0, 0, 1, 0, 1, 0])), 'orientation')\n"
    "tags = d['tags']\n"
    "check(sorted(tags.keys()) == ['0', '1', '2', '3'], 'tag keys')\n"
    "check(len(tags['1']) == 3, 'tag cells')\n"
    "check(near(tags['1'][1][0], 102.5), 'tag value')\n"
    "check(tags['3'][1] is None, 'empty tag cell')\n"
    "check(all(near(a, b) for a, b in zip(d['spacing'], [3, 2, 1.5])), 'spacing')\n"
    "check(d['url'] == 'x/y.dcm', 'url')\n";

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return 0;
    }
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static ImdSeries *json_fixture(void)
{
    ImdError *error = NULL;
    const size_t shape[4] = {3, 4, 5, 6};
    ImdSeries *s = make(IMD_DTYPE_UINT16, 4, shape);
    if (s == NULL) {
        return NULL;
    }
    uint16_t *d = imd_series_data(s);
    for (size_t i = 0; i < imd_series_count(s); i++) {
        d[i] = (uint16_t)i;
    }
    const double times[3] = {0, 2.5, 5};
    const double spacing[3] = {3, 2, 1.5};
    ImdAxis *time = imd_axis_create_numbers(&error, "time", times, 3);
    ImdHeader *h = imd_series_header(s);
    ImdVec3 positions[4];
    for (int k = 0; k < 4; k++) {
        positions[k] = (ImdVec3){-10, 20, 30 + 3 * k};
    }
    const size_t tag_shape[1] = {3};
    bool ok = time != NULL && imd_series_set_input_order(&error, s, "time") &&
              imd_series_set_axis(&error, s, 0, time) &&
              imd_series_set_spacing(&error, s, spacing) &&
              imd_header_set_image_positions(&error, h, positions, 4) &&
              imd_header_set_tag_shape(&error, h, 4, 1, tag_shape, 1);
    if (!ok && time != NULL && imd_series_axis(s, 0) != time) {
        imd_axis_destroy(time);
    }
    for (size_t k = 0; ok && k < 4; k++) {
        for (size_t t = 0; ok && t < 3; t++) {
            if (k == 3 && t == 1) {
                continue; /* one empty cell */
            }
            size_t idx[1] = {t};
            ImdValue v = imd_value_number(times[t] + 100.0 * (double)k);
            ok = imd_header_set_tag(&error, h, k, idx, &v);
        }
    }
    if (!ok) {
        fprintf(stderr, "json fixture: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_series_destroy(s);
        return NULL;
    }
    return s;
}

IMD_TEST(to_json)
{
    ImdError *error = NULL;
    ImdSeries *s = json_fixture();
    REQUIRE(s != NULL);
    char *json = imd_series_to_json(&error, s, "x/y.dcm", 0);
    REQUIRE(json != NULL);
    CHECK(error == NULL);
    static const char *const keys[] = {"\"shape\"", "\"dtype\"", "\"uint16\"", "\"axes\"",
                                       "\"transformationMatrix\"", "\"imagePositions\"",
                                       "\"tags\"", "\"orientation\"", "\"seriesInstanceUID\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strstr(json, keys[i]) == NULL) {
            IMD_FAIL_AT("JSON lacks %s", keys[i]);
        }
    }
    CHECK(strstr(json, "\"stats\"") == NULL);

    char *with_stats = imd_series_to_json(&error, s, NULL, IMD_JSON_STATS);
    REQUIRE(with_stats != NULL);
    CHECK(strstr(with_stats, "\"stats\"") != NULL);
    imd_free(with_stats);
    CHECK_FAILS(error, imd_series_to_json(&error, NULL, NULL, 0), IMD_ERR_INVALID_ARG);

    /* Parse and check the values with Python's json module. */
    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "SKIP (assertion): /usr/bin/python3 is missing; the JSON document "
                        "was not parsed\n");
    } else {
        const char *dir = getenv("IMD_TEST_TMP");
        if (dir == NULL || dir[0] == '\0') {
            dir = "/tmp";
        }
        char json_path[512], py_path[512], command[1200];
        snprintf(json_path, sizeof json_path, "%s/test_series_%ld.json", dir, (long)getpid());
        snprintf(py_path, sizeof py_path, "%s/test_series_%ld.py", dir, (long)getpid());
        snprintf(command, sizeof command, "/usr/bin/python3 '%s' '%s'", py_path, json_path);
        if (!write_file(json_path, json) || !write_file(py_path, json_check_py)) {
            IMD_FAIL_AT("cannot write %s or %s", json_path, py_path);
        } else {
            int status = system(command);
            if (status != 0) {
                IMD_FAIL_AT("python JSON check failed (status %d) on:\n%s", status, json);
            }
        }
        remove(json_path);
        remove(py_path);
    }
    imd_free(json);
    imd_series_destroy(s);
}

IMD_TEST_MAIN(IMD_CASE(create_zero_filled), IMD_CASE(default_axis_names),
              IMD_CASE(create_invalid), IMD_CASE(wrap_release), IMD_CASE(clone_is_deep),
              IMD_CASE(input_order), IMD_CASE(spacing), IMD_CASE(set_axis),
              IMD_CASE(series_list), IMD_CASE(to_json))
