/*
 * test_header.c: ImdHeader (include/imagedata/header.h) against
 * behaviour.md §1.2 (defaults), §1.3 (properties), §5.1 (default transform)
 * and the §12 fix for a single slice (the true normal, not unit x).
 */
#include "imd_test.h"

#include <ctype.h>

static const double tol = 1e-9;

/* ---- helpers ---------------------------------------------------------- */

/* A UID of the form 2.25.<decimal without leading zero>, at most 64 characters. */
static int is_uuid_uid(const char *uid)
{
    if (uid == NULL || strlen(uid) > 64 || strncmp(uid, "2.25.", 5) != 0) {
        return 0;
    }
    const char *digits = uid + 5;
    if (digits[0] == '\0' || (digits[0] == '0' && digits[1] != '\0')) {
        return 0;
    }
    for (const char *p = digits; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p)) {
            return 0;
        }
    }
    return 1;
}

static int has_keyword(const ImdHeader *header, const char *keyword)
{
    for (size_t i = 0; i < imd_header_attribute_count(header); i++) {
        const char *k = imd_header_attribute_keyword(header, i);
        if (k != NULL && strcmp(k, keyword) == 0) {
            return 1;
        }
    }
    return 0;
}

static void check_vec(ImdVec3 got, double x, double y, double z)
{
    CHECK_NEAR(got.x, x, tol);
    CHECK_NEAR(got.y, y, tol);
    CHECK_NEAR(got.z, z, tol);
}

/* Column `c` of the transform, rows 0..2. */
static void check_column(const ImdMat4 *m, int c, double x, double y, double z)
{
    CHECK_NEAR(m->m[0][c], x, tol);
    CHECK_NEAR(m->m[1][c], y, tol);
    CHECK_NEAR(m->m[2][c], z, tol);
}

static void check_last_row(const ImdMat4 *m)
{
    CHECK_NEAR(m->m[3][0], 0, 0);
    CHECK_NEAR(m->m[3][1], 0, 0);
    CHECK_NEAR(m->m[3][2], 0, 0);
    CHECK_NEAR(m->m[3][3], 1, 0);
}

static int mat_equal(const ImdMat4 *a, const ImdMat4 *b)
{
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            if (fabs(a->m[i][j] - b->m[i][j]) > tol) {
                return 0;
            }
        }
    }
    return 1;
}

/* An oblique orientation: row (0.6, 0.8, 0), column (0, 0, -1);
 * normal = row x column = (-0.8, 0.6, 0). */
static const ImdVec3 oblique_row = {0.6, 0.8, 0};
static const ImdVec3 oblique_col = {0, 0, -1};

/* ---- defaults ----------------------------------------------------------- */

IMD_TEST(defaults)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    CHECK(error == NULL);

    CHECK_STR(imd_header_input_order(h), "none");
    CHECK_STR(imd_header_get_string(h, "SOPClassUID"), "1.2.840.10008.5.1.4.1.1.7");

    const char *study = imd_header_get_string(h, "StudyInstanceUID");
    const char *series = imd_header_get_string(h, "SeriesInstanceUID");
    const char *frame = imd_header_get_string(h, "FrameOfReferenceUID");
    CHECK(is_uuid_uid(study));
    CHECK(is_uuid_uid(series));
    CHECK(is_uuid_uid(frame));
    REQUIRE(study != NULL && series != NULL && frame != NULL);
    CHECK(strcmp(study, series) != 0);
    CHECK(strcmp(study, frame) != 0);
    CHECK(strcmp(series, frame) != 0);
    CHECK(has_keyword(h, "SOPClassUID"));
    CHECK(has_keyword(h, "StudyInstanceUID"));
    CHECK(has_keyword(h, "SeriesInstanceUID"));
    CHECK(has_keyword(h, "FrameOfReferenceUID"));
    CHECK(imd_header_get_string(h, "PatientName") == NULL ||
          strcmp(imd_header_get_string(h, "PatientName"), "") == 0);

    /* A second header gets new UIDs. */
    ImdHeader *h2 = imd_header_create(&error);
    REQUIRE(h2 != NULL);
    CHECK(strcmp(imd_header_get_string(h2, "StudyInstanceUID"), study) != 0);
    CHECK(strcmp(imd_header_get_string(h2, "SeriesInstanceUID"), series) != 0);
    CHECK(strcmp(imd_header_get_string(h2, "FrameOfReferenceUID"), frame) != 0);
    imd_header_destroy(h2);

    double spacing[3] = {0, 0, 0};
    imd_header_spacing(h, spacing);
    CHECK_NEAR(spacing[0], 1, 0);
    CHECK_NEAR(spacing[1], 1, 0);
    CHECK_NEAR(spacing[2], 1, 0);

    ImdVec3 row, col;
    imd_header_orientation(h, &row, &col);
    check_vec(row, 1, 0, 0);
    check_vec(col, 0, 1, 0);
    check_vec(imd_header_normal(h), 0, 0, 1);

    CHECK_INT(imd_header_position_count(h), 0);
    ImdVec3 p;
    CHECK(!imd_header_image_position(h, 0, &p));
    size_t nloc = 99;
    CHECK(imd_header_slice_locations(h, &nloc) == NULL);
    CHECK_INT(nloc, 0);
    CHECK(!imd_header_geometry_defined(h));
    double c, w;
    CHECK(!imd_header_window(h, &c, &w));
    CHECK(imd_header_template(h) == NULL);
    CHECK_INT(imd_header_tag_slices(h), 0);
    CHECK_INT(imd_header_tag_ndim(h), 0);

    /* No positions, default orientation and spacing: the identity. */
    ImdMat4 m;
    imd_header_transform(h, &m);
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            CHECK_NEAR(m.m[i][j], i == j ? 1.0 : 0.0, tol);
        }
    }
    imd_header_destroy(h);
    imd_header_destroy(NULL); /* accepted */
}

/* ---- attributes ------------------------------------------------------------ */

IMD_TEST(attributes)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    size_t n0 = imd_header_attribute_count(h);

    CHECK(imd_header_get_string(h, "PatientName") == NULL);
    CHECK(imd_header_get_string(h, "NoSuchKeyword") == NULL);

    /* The value is copied. */
    char buffer[32];
    strcpy(buffer, "Doe^John");
    CHECK_OK(error, imd_header_set_string(&error, h, "PatientName", buffer));
    buffer[0] = 'X';
    CHECK_STR(imd_header_get_string(h, "PatientName"), "Doe^John");

    CHECK_OK(error, imd_header_set_string(&error, h, "SeriesNumber", "14"));
    CHECK_OK(error, imd_header_set_string(&error, h, "ImageType", "ORIGINAL\\PRIMARY\\M"));
    CHECK_INT(imd_header_attribute_count(h), n0 + 3);
    CHECK_STR(imd_header_attribute_keyword(h, n0), "PatientName");
    CHECK_STR(imd_header_attribute_keyword(h, n0 + 1), "SeriesNumber");
    CHECK_STR(imd_header_attribute_keyword(h, n0 + 2), "ImageType");
    CHECK(imd_header_attribute_keyword(h, n0 + 3) == NULL);
    CHECK_STR(imd_header_get_string(h, "ImageType"), "ORIGINAL\\PRIMARY\\M");

    /* Replace: same place, new value, count unchanged. */
    CHECK_OK(error, imd_header_set_string(&error, h, "PatientName", "Roe^Jane"));
    CHECK_STR(imd_header_get_string(h, "PatientName"), "Roe^Jane");
    CHECK_INT(imd_header_attribute_count(h), n0 + 3);
    CHECK_STR(imd_header_attribute_keyword(h, n0), "PatientName");

    /* Setting an attribute to its own (borrowed) value. */
    CHECK_OK(error, imd_header_set_string(&error, h, "PatientName",
                                          imd_header_get_string(h, "PatientName")));
    CHECK_STR(imd_header_get_string(h, "PatientName"), "Roe^Jane");

    /* The empty string is a value, not a removal. */
    CHECK_OK(error, imd_header_set_string(&error, h, "StudyID", ""));
    CHECK_STR(imd_header_get_string(h, "StudyID"), "");
    CHECK_INT(imd_header_attribute_count(h), n0 + 4);

    /* Remove: the later ones move up, order kept. */
    CHECK_OK(error, imd_header_set_string(&error, h, "SeriesNumber", NULL));
    CHECK(imd_header_get_string(h, "SeriesNumber") == NULL);
    CHECK_INT(imd_header_attribute_count(h), n0 + 3);
    CHECK_STR(imd_header_attribute_keyword(h, n0), "PatientName");
    CHECK_STR(imd_header_attribute_keyword(h, n0 + 1), "ImageType");
    CHECK_STR(imd_header_attribute_keyword(h, n0 + 2), "StudyID");
    /* Removing what is not there is fine. */
    CHECK_OK(error, imd_header_set_string(&error, h, "SeriesNumber", NULL));
    CHECK_INT(imd_header_attribute_count(h), n0 + 3);
    /* Set again: goes to the end. */
    CHECK_OK(error, imd_header_set_string(&error, h, "SeriesNumber", "15"));
    CHECK_STR(imd_header_attribute_keyword(h, n0 + 3), "SeriesNumber");

    /* Bad keywords. */
    CHECK_FAILS(error, imd_header_set_string(&error, h, "", "x"), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_string(&error, h, NULL, "x"), IMD_ERR_INVALID_ARG);
    CHECK_INT(imd_header_attribute_count(h), n0 + 4);
    imd_header_destroy(h);
}

IMD_TEST(input_order)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    CHECK_OK(error, imd_header_set_input_order(&error, h, "time"));
    CHECK_STR(imd_header_input_order(h), "time");
    CHECK_OK(error, imd_header_set_input_order(&error, h, "b,bvector"));
    CHECK_STR(imd_header_input_order(h), "b,bvector");
    CHECK_FAILS(error, imd_header_set_input_order(&error, h, ""), IMD_ERR_INVALID_ARG);
    CHECK_STR(imd_header_input_order(h), "b,bvector");
    imd_header_destroy(h);
}

/* ---- clone --------------------------------------------------------------- */

IMD_TEST(clone_is_deep)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    CHECK_OK(error, imd_header_set_string(&error, h, "PatientName", "Doe^John"));
    CHECK_OK(error, imd_header_set_input_order(&error, h, "time"));
    const double spacing[3] = {3, 2, 1.5};
    CHECK_OK(error, imd_header_set_spacing(&error, h, spacing));
    CHECK_OK(error, imd_header_set_orientation(&error, h, oblique_row, oblique_col));
    const ImdVec3 positions[2] = {{1, 2, 3}, {4, 5, 6}};
    CHECK_OK(error, imd_header_set_image_positions(&error, h, positions, 2));
    const double locations[2] = {10, 13};
    CHECK_OK(error, imd_header_set_slice_locations(&error, h, locations, 2));
    const size_t tag_shape[1] = {3};
    CHECK_OK(error, imd_header_set_tag_shape(&error, h, 2, 1, tag_shape, 1));
    size_t idx[1] = {1};
    ImdValue v = imd_value_number(2.5);
    CHECK_OK(error, imd_header_set_tag(&error, h, 1, idx, &v));
    imd_header_set_window(h, 40, 400);
    imd_header_set_geometry_defined(h, true);

    ImdHeader *copy = imd_header_clone(&error, h);
    REQUIRE(copy != NULL);
    CHECK(imd_header_clone(&error, NULL) == NULL);
    CHECK(error != NULL);
    imd_error_clear(&error);

    /* Everything is equal ... */
    CHECK_INT(imd_header_attribute_count(copy), imd_header_attribute_count(h));
    for (size_t i = 0; i < imd_header_attribute_count(h); i++) {
        const char *k = imd_header_attribute_keyword(h, i);
        CHECK_STR(imd_header_attribute_keyword(copy, i), k);
        CHECK_STR(imd_header_get_string(copy, k), imd_header_get_string(h, k));
    }
    ImdMat4 a, b;
    imd_header_transform(h, &a);
    imd_header_transform(copy, &b);
    CHECK(mat_equal(&a, &b));

    /* ... and independent: change and then destroy the original. */
    CHECK_OK(error, imd_header_set_string(&error, h, "PatientName", "Other"));
    CHECK_OK(error, imd_header_set_string(&error, h, "SeriesInstanceUID", NULL));
    const ImdVec3 other[1] = {{9, 9, 9}};
    CHECK_OK(error, imd_header_set_image_positions(&error, h, other, 1));
    const double other_loc[1] = {99};
    CHECK_OK(error, imd_header_set_slice_locations(&error, h, other_loc, 1));
    ImdValue v2 = imd_value_number(7);
    CHECK_OK(error, imd_header_set_tag(&error, h, 1, idx, &v2));
    CHECK_OK(error, imd_header_set_input_order(&error, h, "b"));
    imd_header_clear_window(h);
    imd_header_destroy(h);

    CHECK_STR(imd_header_get_string(copy, "PatientName"), "Doe^John");
    CHECK(is_uuid_uid(imd_header_get_string(copy, "SeriesInstanceUID")));
    CHECK_STR(imd_header_input_order(copy), "time");
    double sp[3];
    imd_header_spacing(copy, sp);
    CHECK_NEAR(sp[0], 3, 0);
    CHECK_NEAR(sp[1], 2, 0);
    CHECK_NEAR(sp[2], 1.5, 0);
    ImdVec3 row, col;
    imd_header_orientation(copy, &row, &col);
    check_vec(row, 0.6, 0.8, 0);
    check_vec(col, 0, 0, -1);
    CHECK_INT(imd_header_position_count(copy), 2);
    ImdVec3 p;
    CHECK(imd_header_image_position(copy, 1, &p));
    check_vec(p, 4, 5, 6);
    size_t n;
    const double *loc = imd_header_slice_locations(copy, &n);
    CHECK_INT(n, 2);
    REQUIRE(loc != NULL);
    CHECK_NEAR(loc[0], 10, 0);
    CHECK_NEAR(loc[1], 13, 0);
    CHECK_INT(imd_header_tag_slices(copy), 2);
    CHECK_INT(imd_header_tag_ndim(copy), 1);
    CHECK_INT(imd_header_tag_shape(copy, 0), 3);
    const ImdValue *t = imd_header_tag(copy, 1, idx);
    REQUIRE(t != NULL);
    CHECK_NEAR(t->v[0], 2.5, 0);
    idx[0] = 0;
    CHECK(imd_header_tag(copy, 1, idx) == NULL);
    double c, w;
    CHECK(imd_header_window(copy, &c, &w));
    CHECK_NEAR(c, 40, 0);
    CHECK_NEAR(w, 400, 0);
    CHECK(imd_header_geometry_defined(copy));
    imd_header_destroy(copy);
}

/* ---- transform ---------------------------------------------------------- */

IMD_TEST(transform_from_positions)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    const double spacing[3] = {3, 2, 1.5}; /* ds, dr, dc */
    CHECK_OK(error, imd_header_set_spacing(&error, h, spacing));
    CHECK_OK(error, imd_header_set_orientation(&error, h, oblique_row, oblique_col));
    /* Three slices, the middle one off the line: column 2 = (last - first) / 2. */
    const ImdVec3 positions[3] = {{-10, 20, 30}, {-12, 22.5, 31}, {-14.8, 23.6, 30}};
    CHECK_OK(error, imd_header_set_image_positions(&error, h, positions, 3));
    CHECK_INT(imd_header_position_count(h), 3);

    ImdMat4 m;
    imd_header_transform(h, &m);
    check_column(&m, 0, 0.6 * 1.5, 0.8 * 1.5, 0);   /* row cosine * dc */
    check_column(&m, 1, 0, 0, -2);                  /* column cosine * dr */
    check_column(&m, 2, -2.4, 1.8, 0);              /* (p2 - p0) / 2 */
    check_column(&m, 3, -10, 20, 30);               /* p0 */
    check_last_row(&m);

    /* Two positions: column 2 = p1 - p0. */
    CHECK_OK(error, imd_header_set_image_positions(&error, h, positions, 2));
    imd_header_transform(h, &m);
    check_column(&m, 2, -2, 2.5, 1);
    imd_header_destroy(h);
}

IMD_TEST(transform_single_slice_uses_normal)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    const double spacing[3] = {3, 2, 1.5};
    CHECK_OK(error, imd_header_set_spacing(&error, h, spacing));
    CHECK_OK(error, imd_header_set_orientation(&error, h, oblique_row, oblique_col));
    check_vec(imd_header_normal(h), -0.8, 0.6, 0);

    /* No position: normal * ds, translation at the origin. */
    ImdMat4 m;
    imd_header_transform(h, &m);
    check_column(&m, 2, -0.8 * 3, 0.6 * 3, 0);
    check_column(&m, 3, 0, 0, 0);

    /* One position: normal * ds (the original used unit x: §12). */
    const ImdVec3 p0 = {-10, 20, 30};
    CHECK_OK(error, imd_header_set_image_positions(&error, h, &p0, 1));
    imd_header_transform(h, &m);
    check_column(&m, 0, 0.9, 1.2, 0);
    check_column(&m, 1, 0, 0, -2);
    check_column(&m, 2, -2.4, 1.8, 0);
    check_column(&m, 3, -10, 20, 30);
    check_last_row(&m);
    CHECK(!(fabs(m.m[0][2] - 3) < 1e-6 && fabs(m.m[1][2]) < 1e-6)); /* not ds * unit x */
    imd_header_destroy(h);
}

IMD_TEST(set_transform_wins_until_geometry_changes)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    const ImdVec3 positions[2] = {{0, 0, 0}, {0, 0, 5}};
    CHECK_OK(error, imd_header_set_image_positions(&error, h, positions, 2));
    ImdMat4 computed;
    imd_header_transform(h, &computed);
    check_column(&computed, 2, 0, 0, 5);

    const ImdMat4 custom = {{{0.5, 0, 0, 7}, {0, 0.25, 0, 8}, {0, 0, 9, 9}, {0, 0, 0, 1}}};
    ImdMat4 m;

    /* Orientation change forgets it. */
    imd_header_set_transform(h, &custom);
    imd_header_transform(h, &m);
    CHECK(mat_equal(&m, &custom));
    /* Unrelated changes keep it. */
    CHECK_OK(error, imd_header_set_string(&error, h, "PatientName", "x"));
    imd_header_set_window(h, 1, 2);
    CHECK_OK(error, imd_header_set_input_order(&error, h, "time"));
    imd_header_transform(h, &m);
    CHECK(mat_equal(&m, &custom));
    const ImdVec3 row = {1, 0, 0}, col = {0, 1, 0};
    CHECK_OK(error, imd_header_set_orientation(&error, h, row, col));
    imd_header_transform(h, &m);
    CHECK(mat_equal(&m, &computed));

    /* Spacing change forgets it. */
    imd_header_set_transform(h, &custom);
    const double spacing[3] = {1, 1, 1};
    CHECK_OK(error, imd_header_set_spacing(&error, h, spacing));
    imd_header_transform(h, &m);
    CHECK(mat_equal(&m, &computed));

    /* Position change forgets it. */
    imd_header_set_transform(h, &custom);
    CHECK_OK(error, imd_header_set_image_positions(&error, h, positions, 2));
    imd_header_transform(h, &m);
    CHECK(mat_equal(&m, &computed));

    /* And reset forgets it. */
    imd_header_set_transform(h, &custom);
    imd_header_reset_transform(h);
    imd_header_transform(h, &m);
    CHECK(mat_equal(&m, &computed));

    /* A failed orientation change keeps it. */
    imd_header_set_transform(h, &custom);
    const ImdVec3 bad = {2, 0, 0};
    CHECK_FAILS(error, imd_header_set_orientation(&error, h, bad, col), IMD_ERR_INVALID_ARG);
    imd_header_transform(h, &m);
    CHECK(mat_equal(&m, &custom));
    imd_header_destroy(h);
}

IMD_TEST(image_position_extrapolation)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    const double spacing[3] = {3, 2, 1.5};
    CHECK_OK(error, imd_header_set_spacing(&error, h, spacing));
    CHECK_OK(error, imd_header_set_orientation(&error, h, oblique_row, oblique_col));
    ImdVec3 p;
    CHECK(!imd_header_image_position(h, 0, &p));
    CHECK(!imd_header_image_position(h, 3, &p));

    const ImdVec3 p0 = {-10, 20, 30};
    CHECK_OK(error, imd_header_set_image_positions(&error, h, &p0, 1));
    CHECK_INT(imd_header_position_count(h), 1);
    CHECK(imd_header_image_position(h, 0, &p));
    check_vec(p, -10, 20, 30);
    /* Along the normal * ds = (-2.4, 1.8, 0). */
    CHECK(imd_header_image_position(h, 1, &p));
    check_vec(p, -12.4, 21.8, 30);
    CHECK(imd_header_image_position(h, 3, &p));
    check_vec(p, -17.2, 25.4, 30);
    CHECK_INT(imd_header_position_count(h), 1); /* reading does not store */

    /* With a set transform, along its slice column. */
    const ImdMat4 custom = {{{1, 0, 0, -10}, {0, 1, 0, 20}, {0, 0, 5, 30}, {0, 0, 0, 1}}};
    imd_header_set_transform(h, &custom);
    CHECK(imd_header_image_position(h, 2, &p));
    check_vec(p, -10, 20, 40);

    /* No array for a count: refused with an error set (result/error invariant). */
    CHECK_FAILS(error, imd_header_set_image_positions(&error, h, NULL, 2), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_slice_locations(&error, h, NULL, 2), IMD_ERR_INVALID_ARG);
    CHECK_INT(imd_header_position_count(h), 1);

    /* Clearing the positions. */
    CHECK_OK(error, imd_header_set_image_positions(&error, h, NULL, 0));
    CHECK_INT(imd_header_position_count(h), 0);
    CHECK(!imd_header_image_position(h, 0, &p));
    imd_header_destroy(h);
}

IMD_TEST(orientation_validation)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    const ImdVec3 unit_x = {1, 0, 0}, unit_y = {0, 1, 0};
    const ImdVec3 longer = {2, 0, 0}, shorter = {0, 0.5, 0}, zero = {0, 0, 0};
    const ImdVec3 nan_vec = {NAN, 0, 0}, inf_vec = {INFINITY, 0, 0};
    CHECK_FAILS(error, imd_header_set_orientation(&error, h, longer, unit_y),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_orientation(&error, h, unit_x, shorter),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_orientation(&error, h, zero, unit_y),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_orientation(&error, h, nan_vec, unit_y),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_orientation(&error, h, unit_x, inf_vec),
                IMD_ERR_INVALID_ARG);
    /* A failure leaves the orientation alone. */
    ImdVec3 row, col;
    imd_header_orientation(h, &row, &col);
    check_vec(row, 1, 0, 0);
    check_vec(col, 0, 1, 0);

    /* Within 1e-3 of unit length is accepted. */
    const ImdVec3 nearly = {1.0005, 0, 0};
    CHECK_OK(error, imd_header_set_orientation(&error, h, nearly, unit_y));
    CHECK_OK(error, imd_header_set_orientation(&error, h, oblique_row, oblique_col));
    imd_header_orientation(h, &row, &col);
    check_vec(row, 0.6, 0.8, 0);
    check_vec(col, 0, 0, -1);
    check_vec(imd_header_normal(h), -0.8, 0.6, 0);

    /* Spacing must be positive and finite. */
    const double bad_spacing[3] = {0, 1, 1}, neg_spacing[3] = {1, -1, 1},
                 nan_spacing[3] = {1, 1, NAN};
    CHECK_FAILS(error, imd_header_set_spacing(&error, h, bad_spacing), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_spacing(&error, h, neg_spacing), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_set_spacing(&error, h, nan_spacing), IMD_ERR_INVALID_ARG);
    double sp[3];
    imd_header_spacing(h, sp);
    CHECK_NEAR(sp[0], 1, 0);
    CHECK_NEAR(sp[1], 1, 0);
    CHECK_NEAR(sp[2], 1, 0);
    imd_header_destroy(h);
}

IMD_TEST(slice_locations)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    double locations[3] = {30, 33, 36};
    CHECK_OK(error, imd_header_set_slice_locations(&error, h, locations, 3));
    locations[0] = -1; /* copied */
    size_t n = 0;
    const double *got = imd_header_slice_locations(h, &n);
    CHECK_INT(n, 3);
    REQUIRE(got != NULL);
    CHECK_NEAR(got[0], 30, 0);
    CHECK_NEAR(got[2], 36, 0);
    CHECK_OK(error, imd_header_set_slice_locations(&error, h, NULL, 0));
    CHECK(imd_header_slice_locations(h, &n) == NULL);
    CHECK_INT(n, 0);
    imd_header_destroy(h);
}

/* ---- tags -------------------------------------------------------------- */

IMD_TEST(tag_store)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);

    /* 4 slices x 3 cells, 1 component. */
    const size_t shape1[1] = {3};
    CHECK_OK(error, imd_header_set_tag_shape(&error, h, 4, 1, shape1, 1));
    CHECK_INT(imd_header_tag_slices(h), 4);
    CHECK_INT(imd_header_tag_ndim(h), 1);
    CHECK_INT(imd_header_tag_shape(h, 0), 3);
    CHECK_INT(imd_header_tag_shape(h, 1), 0);
    CHECK_INT(imd_header_tag_components(h), 1);
    for (size_t s = 0; s < 4; s++) {
        for (size_t t = 0; t < 3; t++) {
            size_t idx[1] = {t};
            CHECK(imd_header_tag(h, s, idx) == NULL);
        }
    }
    size_t idx[1] = {1};
    ImdValue v = imd_value_number(2.5);
    CHECK_OK(error, imd_header_set_tag(&error, h, 2, idx, &v));
    const ImdValue *got = imd_header_tag(h, 2, idx);
    REQUIRE(got != NULL);
    CHECK_INT(got->kind, IMD_VALUE_NUMBER);
    CHECK_NEAR(got->v[0], 2.5, 0);
    idx[0] = 0;
    CHECK(imd_header_tag(h, 2, idx) == NULL);
    idx[0] = 1;
    CHECK(imd_header_tag(h, 1, idx) == NULL);
    CHECK(imd_header_tag(h, 3, idx) == NULL);
    /* Empty it again. */
    CHECK_OK(error, imd_header_set_tag(&error, h, 2, idx, NULL));
    CHECK(imd_header_tag(h, 2, idx) == NULL);

    /* Out of range: NULL to read, INVALID_ARG to write. */
    idx[0] = 3;
    CHECK(imd_header_tag(h, 0, idx) == NULL);
    CHECK_FAILS(error, imd_header_set_tag(&error, h, 0, idx, &v), IMD_ERR_INVALID_ARG);
    idx[0] = 0;
    CHECK(imd_header_tag(h, 4, idx) == NULL);
    CHECK(imd_header_tag(h, (size_t)-1, idx) == NULL);
    CHECK_FAILS(error, imd_header_set_tag(&error, h, 4, idx, &v), IMD_ERR_INVALID_ARG);
    CHECK(imd_header_tag(h, 0, NULL) == NULL); /* one index is needed */

    /* 2 slices x (2 x 3) cells, 2 components: every cell distinct. */
    const size_t shape2[2] = {2, 3};
    CHECK_OK(error, imd_header_set_tag_shape(&error, h, 2, 2, shape2, 2));
    CHECK_INT(imd_header_tag_ndim(h), 2);
    CHECK_INT(imd_header_tag_shape(h, 0), 2);
    CHECK_INT(imd_header_tag_shape(h, 1), 3);
    CHECK_INT(imd_header_tag_components(h), 2);
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < 2; i++) {
            for (size_t j = 0; j < 3; j++) {
                size_t ij[2] = {i, j};
                const double dir[3] = {(double)i, (double)j, (double)s};
                ImdValue values[2] = {imd_value_number((double)(100 * s + 10 * i + j)),
                                      imd_value_b_vector(500, dir, 3)};
                CHECK_OK(error, imd_header_set_tag(&error, h, s, ij, values));
            }
        }
    }
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < 2; i++) {
            for (size_t j = 0; j < 3; j++) {
                size_t ij[2] = {i, j};
                const ImdValue *cell = imd_header_tag(h, s, ij);
                REQUIRE(cell != NULL);
                CHECK_NEAR(cell[0].v[0], (double)(100 * s + 10 * i + j), 0);
                CHECK_INT(cell[1].kind, IMD_VALUE_B_VECTOR);
                CHECK_NEAR(cell[1].v[0], 500, 0);
                CHECK_NEAR(cell[1].v[1], (double)i, 0);
                CHECK_NEAR(cell[1].v[2], (double)j, 0);
                CHECK_NEAR(cell[1].v[3], (double)s, 0);
            }
        }
    }
    size_t bad[2] = {2, 0};
    CHECK(imd_header_tag(h, 0, bad) == NULL);
    bad[0] = 0;
    bad[1] = 3;
    CHECK(imd_header_tag(h, 0, bad) == NULL);

    /* No tag dimensions: one cell per slice, index may be NULL. Reshaping empties. */
    CHECK_OK(error, imd_header_set_tag_shape(&error, h, 3, 0, NULL, 1));
    CHECK_INT(imd_header_tag_ndim(h), 0);
    CHECK_INT(imd_header_tag_slices(h), 3);
    CHECK(imd_header_tag(h, 0, NULL) == NULL);
    ImdValue zero = imd_value_number(0);
    CHECK_OK(error, imd_header_set_tag(&error, h, 2, NULL, &zero));
    got = imd_header_tag(h, 2, NULL);
    REQUIRE(got != NULL);
    CHECK_NEAR(got->v[0], 0, 0);
    CHECK(imd_header_tag(h, 3, NULL) == NULL);

    /* Too many tag dimensions. */
    const size_t many[IMD_MAX_TAG_DIMS + 1] = {1, 1, 1, 1, 1, 1};
    CHECK_FAILS(error, imd_header_set_tag_shape(&error, h, 1, IMD_MAX_TAG_DIMS + 1, many, 1),
                IMD_ERR_INVALID_ARG);
    CHECK_INT(imd_header_tag_slices(h), 3); /* unchanged on failure */
    imd_header_destroy(h);
}

/* ---- window and geometry flag --------------------------------------------- */

IMD_TEST(window_and_flags)
{
    ImdError *error = NULL;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    double c = -1, w = -1;
    CHECK(!imd_header_window(h, &c, &w));
    imd_header_set_window(h, 40, 400);
    CHECK(imd_header_window(h, &c, &w));
    CHECK_NEAR(c, 40, 0);
    CHECK_NEAR(w, 400, 0);
    imd_header_set_window(h, -0.5, 1);
    CHECK(imd_header_window(h, &c, &w));
    CHECK_NEAR(c, -0.5, 0);
    CHECK_NEAR(w, 1, 0);
    imd_header_clear_window(h);
    CHECK(!imd_header_window(h, &c, &w));

    imd_header_set_geometry_defined(h, true);
    CHECK(imd_header_geometry_defined(h));
    imd_header_set_geometry_defined(h, false);
    CHECK(!imd_header_geometry_defined(h));
    imd_header_destroy(h);
}

/* ---- DICOM template ------------------------------------------------------ */

typedef struct FakeDataset {
    int value;
} FakeDataset;

static int fake_clones, fake_destroys, fake_fail_clone;

static void *fake_clone(const void *dataset)
{
    fake_clones++;
    if (fake_fail_clone) {
        return NULL;
    }
    FakeDataset *copy = malloc(sizeof *copy);
    if (copy != NULL) {
        *copy = *(const FakeDataset *)dataset;
    }
    return copy;
}

static void fake_destroy(void *dataset)
{
    fake_destroys++;
    free(dataset);
}

/* The fake's one attribute: "SeriesDescription" = "fake <value>"; "Unknown!" is no keyword. */
static bool fake_get_string(ImdError **error, const void *dataset, const char *keyword,
                            char **value)
{
    *value = NULL;
    if (strcmp(keyword, "Unknown!") == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "unknown keyword %s", keyword);
        return false;
    }
    if (strcmp(keyword, "SeriesDescription") == 0) {
        char text[32];
        snprintf(text, sizeof text, "fake %d", ((const FakeDataset *)dataset)->value);
        *value = malloc(strlen(text) + 1);
        if (*value != NULL) {
            memcpy(*value, text, strlen(text) + 1);
        }
        if (*value == NULL) {
            imd_error_set(error, IMD_ERR_NOMEM, "out of memory");
            return false;
        }
    }
    return true;
}

static const ImdTemplateOps fake_ops = {fake_clone, fake_destroy, fake_get_string};

static FakeDataset *fake_new(int value)
{
    FakeDataset *d = malloc(sizeof *d);
    if (d != NULL) {
        d->value = value;
    }
    return d;
}

IMD_TEST(template_callbacks)
{
    ImdError *error = NULL;
    fake_clones = fake_destroys = fake_fail_clone = 0;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    FakeDataset *a = fake_new(1);
    REQUIRE(a != NULL);
    CHECK_OK(error, imd_header_set_template(&error, h, a, &fake_ops));
    CHECK(imd_header_template(h) == a);
    CHECK_INT(fake_clones, 0);
    CHECK_INT(fake_destroys, 0);

    /* Clone: one clone call, an independent dataset. */
    ImdHeader *copy = imd_header_clone(&error, h);
    REQUIRE(copy != NULL);
    CHECK_INT(fake_clones, 1);
    const FakeDataset *ca = imd_header_template(copy);
    REQUIRE(ca != NULL);
    CHECK(ca != a);
    CHECK_INT(ca->value, 1);
    imd_header_destroy(copy);
    CHECK_INT(fake_destroys, 1);

    /* Replacing destroys the old one once. */
    FakeDataset *b = fake_new(2);
    REQUIRE(b != NULL);
    CHECK_OK(error, imd_header_set_template(&error, h, b, &fake_ops));
    CHECK_INT(fake_destroys, 2);
    CHECK(imd_header_template(h) == b);

    /* A failing clone fails the header clone, without leaks or extra destroys. */
    fake_fail_clone = 1;
    ImdHeader *bad = imd_header_clone(&error, h);
    CHECK(bad == NULL);
    CHECK(error != NULL);
    imd_error_clear(&error);
    CHECK_INT(fake_clones, 2);
    CHECK_INT(fake_destroys, 2);
    fake_fail_clone = 0;

    /* A dataset without operations is refused and stays the caller's. */
    FakeDataset *c = fake_new(3);
    REQUIRE(c != NULL);
    CHECK_FAILS(error, imd_header_set_template(&error, h, c, NULL), IMD_ERR_INVALID_ARG);
    const ImdTemplateOps half = {fake_clone, NULL, NULL};
    CHECK_FAILS(error, imd_header_set_template(&error, h, c, &half), IMD_ERR_INVALID_ARG);
    CHECK(imd_header_template(h) == b);
    CHECK_INT(fake_destroys, 2);
    free(c);

    /* Destroying the header destroys its dataset once. */
    imd_header_destroy(h);
    CHECK_INT(fake_destroys, 3);
    CHECK_INT(fake_clones, 2);

    /* Detaching (NULL dataset) destroys the attached one. */
    ImdHeader *h2 = imd_header_create(&error);
    REQUIRE(h2 != NULL);
    FakeDataset *d = fake_new(4);
    REQUIRE(d != NULL);
    CHECK_OK(error, imd_header_set_template(&error, h2, d, &fake_ops));
    CHECK_OK(error, imd_header_set_template(&error, h2, NULL, NULL));
    CHECK(imd_header_template(h2) == NULL);
    CHECK_INT(fake_destroys, 4);
    ImdHeader *copy2 = imd_header_clone(&error, h2); /* no template: no clone call */
    REQUIRE(copy2 != NULL);
    CHECK_INT(fake_clones, 2);
    imd_header_destroy(copy2);
    imd_header_destroy(h2);
    CHECK_INT(fake_destroys, 4);
}

/* imd_header_template_string(): through the ops' get_string, NULL without it. */
IMD_TEST(template_string)
{
    ImdError *error = NULL;
    fake_clones = fake_destroys = fake_fail_clone = 0;
    ImdHeader *h = imd_header_create(&error);
    REQUIRE(h != NULL);
    char *text = (char *)"unchanged";

    /* No template: success, no text. */
    CHECK_OK(error, imd_header_template_string(&error, h, "SeriesDescription", &text));
    CHECK(text == NULL);

    FakeDataset *a = fake_new(7);
    REQUIRE(a != NULL);
    CHECK_OK(error, imd_header_set_template(&error, h, a, &fake_ops));
    CHECK_OK(error, imd_header_template_string(&error, h, "SeriesDescription", &text));
    CHECK_STR(text, "fake 7");
    imd_free(text);
    CHECK_OK(error, imd_header_template_string(&error, h, "PatientName", &text));
    CHECK(text == NULL); /* absent */
    text = (char *)"unchanged";
    CHECK_FAILS(error, imd_header_template_string(&error, h, "Unknown!", &text),
                IMD_ERR_INVALID_ARG);
    CHECK(text == NULL);
    CHECK_FAILS(error, imd_header_template_string(&error, h, "", &text), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_template_string(&error, h, NULL, &text), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_template_string(&error, h, "PatientName", NULL),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_header_template_string(&error, NULL, "PatientName", &text),
                IMD_ERR_INVALID_ARG);

    /* A clone keeps the ops: its template answers too. */
    ImdHeader *copy = imd_header_clone(&error, h);
    REQUIRE(copy != NULL);
    CHECK_OK(error, imd_header_template_string(&error, copy, "SeriesDescription", &text));
    CHECK_STR(text, "fake 7");
    imd_free(text);
    imd_header_destroy(copy);

    /* Ops without get_string: the template cannot be queried, which is no error. */
    static const ImdTemplateOps opaque = {fake_clone, fake_destroy, NULL};
    FakeDataset *b = fake_new(8);
    REQUIRE(b != NULL);
    CHECK_OK(error, imd_header_set_template(&error, h, b, &opaque));
    text = (char *)"unchanged";
    CHECK_OK(error, imd_header_template_string(&error, h, "SeriesDescription", &text));
    CHECK(text == NULL);
    imd_header_destroy(h);
}

IMD_TEST_MAIN(IMD_CASE(defaults), IMD_CASE(attributes), IMD_CASE(input_order),
              IMD_CASE(clone_is_deep), IMD_CASE(transform_from_positions),
              IMD_CASE(transform_single_slice_uses_normal),
              IMD_CASE(set_transform_wins_until_geometry_changes),
              IMD_CASE(image_position_extrapolation), IMD_CASE(orientation_validation),
              IMD_CASE(slice_locations), IMD_CASE(tag_store), IMD_CASE(window_and_flags),
              IMD_CASE(template_callbacks), IMD_CASE(template_string))
