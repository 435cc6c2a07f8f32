/*
 * test_dicom_sort.c: the DICOM slice sorter (src/formats/dicom/sort.c) on
 * synthetic keys, no files: geometry and slices (behaviour.md §3.2), auto
 * (§3.4), tag axes, the time component rule, duplicates and sparse cells
 * (§3.5), and the bugs §12 fixes. The numbers follow the spec's [O] examples
 * (time00, time, 5D, RSI).
 */
#include "imd_test.h"

#include "formats/dicom/dicom_format.h"

/* ---- building keys ---- */

#define MAX_KEYS 64

/* An axial image (normal (0, 0, 1)) at z, number `index`. */
static ImdSliceKey axial(uint32_t index, double z)
{
    ImdSliceKey key;
    memset(&key, 0, sizeof key);
    key.index = index;
    key.position = (ImdVec3){-100, -120, z};
    key.has_position = true;
    key.row = (ImdVec3){1, 0, 0};
    key.column = (ImdVec3){0, 1, 0};
    key.has_orientation = true;
    key.slice_location = z;
    key.has_slice_location = true;
    key.rows = key.columns = 4;
    return key;
}

static void set_number(ImdSliceKey *key, size_t slot, double value)
{
    key->tag[slot] = imd_value_number(value);
    key->has_tag[slot] = true;
}

static void set_vector(ImdSliceKey *key, size_t slot, const double *direction, size_t count)
{
    key->tag[slot] = imd_value_vector(direction, count);
    key->has_tag[slot] = true;
}

static ImdSortOptions order_of(const char *a, const char *b)
{
    ImdSortOptions options;
    memset(&options, 0, sizeof options);
    options.names[0] = a;
    options.names[1] = b;
    options.count = a == NULL ? 0 : (b == NULL ? 1 : 2);
    return options;
}

/* The auto candidates of §3.4, in key.tag[] order. */
static ImdSortOptions auto_options(void)
{
    ImdSortOptions options = order_of(NULL, NULL);
    static const char *const candidates[] = {"time", "triggertime", "b", "fa", "te"};
    for (size_t i = 0; i < 5; i++) {
        options.names[i] = candidates[i];
    }
    options.count = 5;
    options.auto_order = true;
    return options;
}

/* A fixed shuffle, so that the input order never helps. */
static void shuffle(ImdSliceKey *keys, size_t count)
{
    uint32_t state = 12345;
    for (size_t i = count; i > 1; i--) {
        state = state * 1103515245u + 12345u;
        size_t j = (state >> 8) % i;
        ImdSliceKey swap = keys[i - 1];
        keys[i - 1] = keys[j];
        keys[j] = swap;
    }
}

/* ---- running the sorter ---- */

static bool sorts(ImdSliceKey *keys, size_t count, const ImdSortOptions *options,
                  ImdLayout *layout)
{
    ImdError *error = NULL;
    bool ok = imd__dicom_sort(&error, keys, count, options, layout);
    if (!ok) {
        fprintf(stderr, "  sort failed: %s\n", imd_error_message(error));
    }
    imd_error_clear(&error);
    return ok;
}

/* Fails with CANNOT_SORT and a message holding each of the texts. */
static bool fails_with(ImdSliceKey *keys, size_t count, const ImdSortOptions *options,
                       const char *a, const char *b, const char *c)
{
    ImdError *error = NULL;
    ImdLayout layout;
    bool ok = imd__dicom_sort(&error, keys, count, options, &layout);
    const char *message = imd_error_message(error);
    bool good = !ok && imd_error_code(error) == IMD_ERR_CANNOT_SORT && strstr(message, a) &&
                (b == NULL || strstr(message, b)) && (c == NULL || strstr(message, c));
    if (!good) {
        fprintf(stderr, "  %s; message: %s\n", ok ? "sorted" : "wrong error", message);
    }
    if (ok) {
        imd__dicom_layout_free(&layout);
    }
    imd_error_clear(&error);
    return good;
}

static bool has_warning(const ImdLayout *layout, const char *text)
{
    for (size_t i = 0; i < layout->warning_count; i++) {
        if (strstr(layout->warnings[i], text)) {
            return true;
        }
    }
    return false;
}

/* The key (its caller's number) in tag cell `tag_cell` of `slice`; -1 when empty. */
static long cell_image(const ImdLayout *layout, const ImdSliceKey *keys, size_t tag_cell,
                       size_t slice)
{
    uint32_t at = layout->cell[tag_cell * layout->slices + slice];
    return at == UINT32_MAX ? -1 : (long)keys[at].index;
}

static const ImdSliceKey *cell_key(const ImdLayout *layout, const ImdSliceKey *keys,
                                   size_t tag_cell, size_t slice)
{
    uint32_t at = layout->cell[tag_cell * layout->slices + slice];
    return at == UINT32_MAX ? NULL : &keys[at];
}

static const ImdValue *cell_tag(const ImdLayout *layout, size_t tag_cell, size_t slice,
                                size_t d)
{
    return &layout->tags[(tag_cell * layout->slices + slice) * layout->tag_ndim + d];
}

/* ---- data sets ---- */

/* time00's three images (real IOP and IPP): distances 27.6157, 30.6157, 33.6157. */
static void time00(ImdSliceKey *keys)
{
    static const double ipp[3][3] = {{-199.79124988301, 27.014242925657, 209.17547451413},
                                     {-199.79477474807, 30.014236244405, 209.18073405683},
                                     {-199.79829961313, 33.014229563154, 209.18599359952}};
    for (uint32_t i = 0; i < 3; i++) {
        keys[i] = axial(19 + i, 0);
        keys[i].position = (ImdVec3){ipp[i][0], ipp[i][1], ipp[i][2]};
        keys[i].row = (ImdVec3){0.99999930973796, 0.00117495684895, -1.3124791e-08};
        keys[i].column = (ImdVec3){-2.07303667e-06, 0.00175317967292, -0.9999984631772};
        set_number(&keys[i], 0, 30000.0 + 3.0 * i); /* its own AcquisitionTime */
    }
}

/* time/: 3 volumes x 3 slices, AcquisitionTime per volume plus a per-slice offset. */
static size_t time_series(ImdSliceKey *keys, size_t slot)
{
    size_t n = 0;
    for (size_t t = 0; t < 3; t++) {
        for (size_t s = 0; s < 3; s++) {
            keys[n] = axial((uint32_t)n, 10.0 + 3.0 * (double)s);
            set_number(&keys[n], slot, 30000.0 + 2.99 * (double)t + 0.5 * (double)s);
            n++;
        }
    }
    return n;
}

/* 5D (t1_fl2d_DE_4TEs): 3 slices x 3 times x 4 echoes; each echo has its own time. */
static const double five_d_te[4] = {2.05, 9.84, 13.72, 17.26};

static size_t five_d(ImdSliceKey *keys, size_t time_slot, size_t te_slot)
{
    static const double echo_offset[4] = {0, 0.0075, 0.01, 0.015};
    static const double slice_offset[3] = {0, 0.0225, 0.0475};
    size_t n = 0;
    for (size_t s = 0; s < 3; s++) {
        for (size_t t = 0; t < 3; t++) {
            for (size_t e = 0; e < 4; e++) {
                keys[n] = axial((uint32_t)n, -7.6915664672852 + 4.8 * (double)s);
                set_number(&keys[n], time_slot,
                           31337.775 + 2.88 * (double)t + echo_offset[e] + slice_offset[s]);
                set_number(&keys[n], te_slot, five_d_te[e]);
                n++;
            }
        }
    }
    return n;
}

/* RSI: 3 slices x (b 0 + b 500 x 6 directions + b 1500 x 6 directions). */
static const double rsi_direction[6][3] = {{1, 0, 0},           {0, 1, 0},
                                           {0, 0, 1},           {0, -0.7064, -0.7078},
                                           {0.7071, 0.7071, 0}, {0.7071, 0, 0.7071}};

/* b in slot 0, bvector in slot 1, the dti pair in slot 2. */
static size_t rsi(ImdSliceKey *keys)
{
    size_t n = 0;
    for (size_t s = 0; s < 3; s++) {
        for (size_t i = 0; i < 13; i++) {
            double b = i == 0 ? 0 : (i <= 6 ? 500 : 1500);
            const double *direction = i == 0 ? NULL : rsi_direction[(i - 1) % 6];
            keys[n] = axial((uint32_t)n, 2.5 * (double)s);
            set_number(&keys[n], 0, b);
            set_vector(&keys[n], 1, direction, direction ? 3 : 0);
            keys[n].tag[2] = imd_value_b_vector(b, direction, direction ? 3 : 0);
            keys[n].has_tag[2] = true;
            n++;
        }
    }
    return n;
}

/* Three copies of every key (the duplicate tests write a series three times). */
static size_t triple(ImdSliceKey *keys, size_t n)
{
    for (size_t copy = 1; copy < 3; copy++) {
        for (size_t i = 0; i < n; i++) {
            keys[copy * n + i] = keys[i];
            keys[copy * n + i].index = (uint32_t)(copy * n + i);
        }
    }
    return 3 * n;
}

/* ---- geometry (§3.2) ---- */

IMD_TEST(sorts_time00_volume)
{
    ImdSliceKey keys[3];
    time00(keys);
    ImdSliceKey swap = keys[0]; /* input order 21, 19, 20 */
    keys[0] = keys[2];
    keys[2] = keys[1];
    keys[1] = swap;
    ImdSortOptions options = order_of("none", NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, 3, &options, &layout));
    REQUIRE(layout.slices == 3);
    REQUIRE(layout.tag_ndim == 0);
    CHECK_STR(layout.order, "none");
    CHECK_NEAR(layout.distances[0], 27.6157, 1e-4);
    CHECK_NEAR(layout.distances[1], 30.6157, 1e-4);
    CHECK_NEAR(layout.distances[2], 33.6157, 1e-4);
    CHECK_INT(cell_image(&layout, keys, 0, 0), 19);
    CHECK_INT(cell_image(&layout, keys, 0, 1), 20);
    CHECK_INT(cell_image(&layout, keys, 0, 2), 21);
    CHECK_NEAR(layout.positions[0].x, -199.79124988301, 1e-9);
    CHECK_NEAR(layout.positions[2].z, 209.18599359952, 1e-9);
    CHECK_NEAR(layout.row.x, 0.99999930973796, 1e-6);
    CHECK_NEAR(layout.column.z, -0.9999984631772, 1e-6);
    CHECK_INT(layout.warning_count, 0);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(coronal_normal_orders_by_y)
{
    /* row (1,0,0) x column (0,0,-1) = (0,1,0): the distance is y */
    ImdSliceKey keys[3];
    for (uint32_t i = 0; i < 3; i++) {
        keys[i] = axial(i, 50.0 - 10.0 * i);
        keys[i].row = (ImdVec3){1, 0, 0};
        keys[i].column = (ImdVec3){0, 0, -1};
        keys[i].position = (ImdVec3){0, 6.5 * (2 - i), 50.0 - 10.0 * i};
    }
    ImdSortOptions options = order_of(NULL, NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, 3, &options, &layout));
    REQUIRE(layout.slices == 3);
    CHECK_INT(cell_image(&layout, keys, 0, 0), 2);
    CHECK_INT(cell_image(&layout, keys, 0, 2), 0);
    CHECK_NEAR(layout.distances[1] - layout.distances[0], 6.5, 1e-12);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(groups_position_jitter_within_tolerance)
{
    /* real positions jitter by ~1e-5 mm between volumes: still one slice (§12) */
    ImdSliceKey keys[9];
    time_series(keys, 0);
    for (size_t i = 0; i < 9; i++) {
        keys[i].position.z += (double)(i % 3) * 3e-5 - 4e-5;
    }
    shuffle(keys, 9);
    ImdSortOptions options = order_of("time", NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, 9, &options, &layout));
    REQUIRE(layout.slices == 3);
    REQUIRE(layout.tag_shape[0] == 3);
    imd__dicom_layout_free(&layout);

    /* a 1 mm tolerance merges slices 3 mm apart only when asked to: not here */
    options.slice_tolerance = 0.5;
    REQUIRE(sorts(keys, 9, &options, &layout));
    REQUIRE(layout.slices == 3);
    imd__dicom_layout_free(&layout);

    /* beyond the tolerance the jittered images become slices of their own */
    keys[0].position.z += 0.01;
    options.slice_tolerance = 0;
    CHECK(fails_with(keys, 9, &options, "slice spacing varies", NULL, NULL));
}

IMD_TEST(detects_missing_slice_anywhere)
{
    /* 0, 3, 6, _, 12, 15, 18: the gap is not the first one (§12) */
    static const double z[] = {0, 3, 6, 12, 15, 18};
    ImdSliceKey keys[6];
    for (uint32_t i = 0; i < 6; i++) {
        keys[i] = axial(100 + i, z[i]);
    }
    shuffle(keys, 6);
    ImdSortOptions options = order_of(NULL, NULL);
    CHECK(fails_with(keys, 6, &options, "slices 2 and 3 are 6 mm apart", "the others 3 mm",
                     "1 missing slice?"));

    options.accept_uneven_slices = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, 6, &options, &layout));
    REQUIRE(layout.slices == 6);
    CHECK(has_warning(&layout, "missing slice"));
    CHECK_NEAR(layout.distances[3], 12, 1e-12);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(detects_missing_first_gap_and_irregular_spacing)
{
    /* two slices missing right after the first: 0, 9, 12, 15 */
    static const double z1[] = {0, 9, 12, 15};
    ImdSliceKey keys[4];
    for (uint32_t i = 0; i < 4; i++) {
        keys[i] = axial(i, z1[i]);
    }
    ImdSortOptions options = order_of(NULL, NULL);
    CHECK(fails_with(keys, 4, &options, "slices 0 and 1 are 9 mm apart", "2 missing slices?",
                     NULL));

    /* a gap that is no multiple: 0, 3, 7.2, 10.2 */
    static const double z2[] = {0, 3, 7.2, 10.2};
    for (uint32_t i = 0; i < 4; i++) {
        keys[i] = axial(i, z2[i]);
    }
    CHECK(fails_with(keys, 4, &options, "slice spacing varies", "slices 1 and 2 are 4.2 mm",
                     NULL));

    /* a smaller gap is caught too (the original only caught larger ones) */
    static const double z3[] = {0, 3, 6, 7, 10, 13};
    ImdSliceKey more[6];
    for (uint32_t i = 0; i < 6; i++) {
        more[i] = axial(i, z3[i]);
    }
    CHECK(fails_with(more, 6, &options, "slice spacing varies", "slices 2 and 3 are 1 mm",
                     NULL));
}

IMD_TEST(spacing_jitter_is_uniform)
{
    /* cor_oblique's gaps vary between 9.599997 and 9.600007 mm */
    ImdSliceKey keys[40];
    for (uint32_t i = 0; i < 40; i++) {
        keys[i] = axial(i, -187.2 + 9.6 * i + ((i * 7) % 5) * 2.5e-6);
    }
    ImdSortOptions options = order_of(NULL, NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, 40, &options, &layout));
    REQUIRE(layout.slices == 40);
    CHECK_INT(layout.warning_count, 0);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(single_and_two_slices)
{
    ImdSliceKey keys[2] = {axial(7, 12.5), axial(8, 20)};
    ImdSortOptions options = order_of(NULL, NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, 1, &options, &layout));
    REQUIRE(layout.slices == 1);
    REQUIRE(layout.tag_ndim == 0);
    CHECK_INT(cell_image(&layout, keys, 0, 0), 7);
    CHECK_NEAR(layout.positions[0].z, 12.5, 0);
    imd__dicom_layout_free(&layout);

    REQUIRE(sorts(keys, 2, &options, &layout));
    REQUIRE(layout.slices == 2);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(rejects_gantry_tilt)
{
    ImdSliceKey keys[9];
    time_series(keys, 0);
    keys[4].gantry_tilt = 5;
    ImdSortOptions options = order_of("time", NULL);
    CHECK(fails_with(keys, 9, &options, "image 4: gantry tilt of 5 degrees is not supported",
                     NULL, NULL));
    keys[4].gantry_tilt = -12.5;
    CHECK(fails_with(keys, 9, &options, "gantry tilt of -12.5 degrees", NULL, NULL));
    keys[4].gantry_tilt = 1e-4; /* zero as written by some scanners */
    ImdLayout layout;
    REQUIRE(sorts(keys, 9, &options, &layout));
    imd__dicom_layout_free(&layout);
}

IMD_TEST(checks_orientation_of_every_image)
{
    ImdSliceKey keys[9];
    time_series(keys, 0);
    ImdSortOptions options = order_of("time", NULL);
    /* within the default tolerance 1e-4 */
    keys[8].row.y = 5e-5;
    ImdLayout layout;
    REQUIRE(sorts(keys, 9, &options, &layout));
    imd__dicom_layout_free(&layout);

    /* beyond it, in the last image (the original checked the first only) */
    keys[8].row = (ImdVec3){0.9998477, 0.0174524, 0};
    CHECK(fails_with(keys, 9, &options, "image 0 has orientation row (1, 0, 0)",
                     "image 8 has row (0.999848, 0.0174524, 0)", "dir_cosine_tolerance"));

    /* a looser tolerance accepts it */
    options.dir_cosine_tolerance = 0.02;
    REQUIRE(sorts(keys, 9, &options, &layout));
    imd__dicom_layout_free(&layout);
}

IMD_TEST(missing_orientation_and_position_warn)
{
    ImdSliceKey keys[3];
    for (uint32_t i = 0; i < 3; i++) {
        keys[i] = axial(i, 2.0 * i);
        keys[i].has_orientation = false;
        keys[i].row = keys[i].column = (ImdVec3){0, 0, 0};
    }
    ImdSortOptions options = order_of(NULL, NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, 3, &options, &layout));
    CHECK(has_warning(&layout, "assuming row (1, 0, 0), column (0, 1, 0)"));
    CHECK_NEAR(layout.row.x, 1, 0);
    CHECK_NEAR(layout.column.y, 1, 0);
    REQUIRE(layout.slices == 3);
    imd__dicom_layout_free(&layout);

    /* one image without a position counts as (0, 0, 0): distances 0, 3, 6 */
    keys[0] = axial(0, 3);
    keys[1] = axial(1, 9);
    keys[2] = axial(2, 6);
    keys[1].has_position = false;
    keys[1].position = (ImdVec3){0, 0, 0};
    keys[2].has_orientation = false;
    REQUIRE(sorts(keys, 3, &options, &layout));
    CHECK(has_warning(&layout, "1 of 3 images have no ImagePositionPatient"));
    CHECK(has_warning(&layout, "1 of 3 images have no ImageOrientationPatient"));
    CHECK_INT(cell_image(&layout, keys, 0, 0), 1);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(degenerate_orientation_fails)
{
    ImdSliceKey keys[2] = {axial(0, 0), axial(1, 1)};
    keys[0].column = keys[1].column = (ImdVec3){1, 0, 0};
    ImdSortOptions options = order_of(NULL, NULL);
    CHECK(fails_with(keys, 2, &options, "does not define an image plane", NULL, NULL));
}

IMD_TEST(sorts_on_slice_location)
{
    ImdSliceKey keys[3];
    for (uint32_t i = 0; i < 3; i++) {
        keys[i] = axial(i, 0); /* positions all equal: only SliceLocation tells */
        keys[i].slice_location = 27.6157 + 3.0 * (2 - i);
    }
    ImdSortOptions options = order_of(NULL, NULL);
    CHECK(fails_with(keys, 3, &options, "duplicate tag: 3 images at slice 0", NULL, NULL));
    options.sort_on_slice_location = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, 3, &options, &layout));
    REQUIRE(layout.slices == 3);
    CHECK_INT(cell_image(&layout, keys, 0, 0), 2);
    CHECK_NEAR(layout.distances[0], 27.6157, 1e-9);
    imd__dicom_layout_free(&layout);

    keys[1].has_slice_location = false;
    CHECK(fails_with(keys, 3, &options, "image 1 has no SliceLocation (0020,1041)", NULL,
                     NULL));
}

/* ---- counts per slice (§3.2) and accept_uneven_slices (§12) ---- */

IMD_TEST(uneven_counts_fail_with_numbers)
{
    ImdSliceKey keys[9];
    time_series(keys, 0);
    /* drop time point 2 of slice 1 (z 13) */
    keys[7] = keys[8];
    ImdSortOptions options = order_of("time", NULL);
    CHECK(fails_with(keys, 8, &options, "slice 1 (13.0000 mm) has 2 images, expected 3",
                     "accept_uneven_slices", NULL));

    options.accept_uneven_slices = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, 8, &options, &layout));
    CHECK(has_warning(&layout, "slice 1 (13.0000 mm) has 2 images, expected 3"));
    REQUIRE(layout.tag_shape[0] == 3);
    CHECK(cell_image(&layout, keys, 2, 1) == -1);
    CHECK(cell_image(&layout, keys, 1, 1) == 4);
    CHECK(cell_image(&layout, keys, 2, 0) == 6);
    CHECK_NEAR(layout.axis_values[0][2].v[0], 30000 + 2 * 2.99, 1e-9);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(uneven_slices_keep_values_in_their_cells)
{
    /* b 0/500/1000 in 3 slices; slice 0 lacks b 500: the lowest slice is short */
    ImdSliceKey keys[9];
    size_t n = 0;
    for (size_t s = 0; s < 3; s++) {
        for (size_t b = 0; b < 3; b++) {
            if (s == 0 && b == 1) {
                continue;
            }
            keys[n] = axial((uint32_t)n, 6.0 * (double)s);
            set_number(&keys[n], 0, 500.0 * (double)b);
            n++;
        }
    }
    ImdSortOptions options = order_of("b", NULL);
    CHECK(fails_with(keys, n, &options, "slice 0 (0.0000 mm) has 2 images, expected 3", NULL,
                     NULL));
    options.accept_uneven_slices = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout));
    REQUIRE(layout.tag_shape[0] == 3);
    CHECK_NEAR(layout.axis_values[0][1].v[0], 500, 0);
    CHECK(cell_image(&layout, keys, 0, 0) == 0);
    CHECK(cell_image(&layout, keys, 1, 0) == -1);
    CHECK(cell_image(&layout, keys, 2, 0) == 1);
    CHECK(cell_image(&layout, keys, 1, 1) == 3);
    CHECK_INT(layout.tags[1 * 3 + 0].kind, 0); /* the empty cell has no tag */
    imd__dicom_layout_free(&layout);
}

IMD_TEST(differing_tag_shape_fails)
{
    /* b,te: slice 0 is 2x2, slice 1 is 4x1, both of 4 images */
    static const double bt[2][4][2] = {{{0, 1}, {0, 2}, {500, 1}, {500, 2}},
                                       {{0, 1}, {500, 1}, {1000, 1}, {1500, 1}}};
    ImdSliceKey keys[8];
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < 4; i++) {
            keys[s * 4 + i] = axial((uint32_t)(s * 4 + i), 5.0 * (double)s);
            set_number(&keys[s * 4 + i], 0, bt[s][i][0]);
            set_number(&keys[s * 4 + i], 1, bt[s][i][1]);
        }
    }
    ImdSortOptions options = order_of("b", "te");
    CHECK(fails_with(keys, 8, &options, "slice 1 (5.0000 mm) has tag shape (4, 1)",
                     "slice 0 (0.0000 mm) has (2, 2)", NULL));
}

IMD_TEST(other_axis_values_warn)
{
    ImdSliceKey keys[6];
    for (size_t s = 0; s < 2; s++) {
        for (size_t b = 0; b < 3; b++) {
            keys[s * 3 + b] = axial((uint32_t)(s * 3 + b), 5.0 * (double)s);
            set_number(&keys[s * 3 + b], 0, s == 1 && b == 1 ? 600.0 : 500.0 * (double)b);
        }
    }
    ImdSortOptions options = order_of("b", NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, 6, &options, &layout));
    CHECK(has_warning(&layout, "slice 1 (5.0000 mm) has other b values than slice 0"));
    CHECK_NEAR(layout.axis_values[0][1].v[0], 500, 0);
    CHECK(cell_image(&layout, keys, 1, 1) == 4);
    imd__dicom_layout_free(&layout);
}

/* ---- tag axes (§3.5) ---- */

IMD_TEST(time_4d)
{
    ImdSliceKey keys[9];
    time_series(keys, 0);
    shuffle(keys, 9);
    ImdSortOptions options = order_of("time", NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, 9, &options, &layout));
    CHECK_STR(layout.order, "time");
    REQUIRE(layout.slices == 3);
    REQUIRE(layout.tag_ndim == 1);
    REQUIRE(layout.tag_shape[0] == 3);
    /* slice 0 names the axis; the times of other slices differ but do not warn */
    CHECK_NEAR(layout.axis_values[0][0].v[0], 30000, 1e-9);
    CHECK_NEAR(layout.axis_values[0][1].v[0], 30002.99, 1e-9);
    CHECK_NEAR(layout.axis_values[0][2].v[0], 30005.98, 1e-9);
    CHECK_INT(layout.warning_count, 0);
    for (size_t t = 0; t < 3; t++) {
        for (size_t s = 0; s < 3; s++) {
            CHECK_INT(cell_image(&layout, keys, t, s), t * 3 + s);
            CHECK_NEAR(cell_tag(&layout, t, s, 0)->v[0], 30000 + 2.99 * t + 0.5 * s, 1e-9);
        }
    }
    CHECK_NEAR(layout.distances[2], 16, 1e-12);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(five_d_time_component_rule)
{
    ImdSliceKey keys[36];
    size_t n = five_d(keys, 0, 1);
    shuffle(keys, n);
    ImdSortOptions options = order_of("time", "te");
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout));
    CHECK_STR(layout.order, "time,te");
    REQUIRE(layout.slices == 3);
    REQUIRE(layout.tag_ndim == 2);
    REQUIRE(layout.tag_shape[0] == 3);
    REQUIRE(layout.tag_shape[1] == 4);
    /* the time axis holds first-echo times of slice 0 */
    CHECK_NEAR(layout.axis_values[0][0].v[0], 31337.775, 1e-9);
    CHECK_NEAR(layout.axis_values[0][1].v[0], 31340.655, 1e-9);
    CHECK_NEAR(layout.axis_values[0][2].v[0], 31343.535, 1e-9);
    for (size_t e = 0; e < 4; e++) {
        CHECK_NEAR(layout.axis_values[1][e].v[0], five_d_te[e], 1e-12);
    }
    /* tags keep each image's own time: (31337.775, 2.05), (31337.7825, 9.84), ... */
    CHECK_NEAR(cell_tag(&layout, 0, 0, 0)->v[0], 31337.775, 1e-9);
    CHECK_NEAR(cell_tag(&layout, 0, 0, 1)->v[0], 2.05, 1e-12);
    CHECK_NEAR(cell_tag(&layout, 1, 0, 0)->v[0], 31337.7825, 1e-9);
    CHECK_NEAR(cell_tag(&layout, 1, 0, 1)->v[0], 9.84, 1e-12);
    CHECK_NEAR(cell_tag(&layout, 2 * 4 + 3, 2, 0)->v[0], 31337.775 + 5.76 + 0.015 + 0.0475,
               1e-9);
    for (size_t c = 0; c < 12; c++) {
        for (size_t s = 0; s < 3; s++) {
            CHECK_INT(cell_image(&layout, keys, c, s), s * 12 + c);
        }
    }
    CHECK_INT(layout.warning_count, 0);
    imd__dicom_layout_free(&layout);

    /* triggertime is a time component too */
    options = order_of("triggertime", "te");
    REQUIRE(sorts(keys, n, &options, &layout));
    REQUIRE(layout.tag_shape[0] == 3 && layout.tag_shape[1] == 4);
    CHECK_NEAR(layout.axis_values[0][1].v[0], 31340.655, 1e-9);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(b_bvector_sparse_cells)
{
    ImdSliceKey keys[39];
    size_t n = rsi(keys);
    shuffle(keys, n);
    ImdSortOptions options = order_of("b", "bvector");
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout));
    REQUIRE(layout.slices == 3);
    REQUIRE(layout.tag_ndim == 2);
    REQUIRE(layout.tag_shape[0] == 3);
    REQUIRE(layout.tag_shape[1] == 7);
    CHECK_NEAR(layout.axis_values[0][2].v[0], 1500, 0);
    CHECK_INT(layout.axis_values[1][0].count, 0); /* the empty b-vector first */
    /* lexicographic from z to x, as the original sorts its z,y,x vectors:
     * (0,-0.7064,-0.7078) < (1,0,0) < (0.7071,0.7071,0) < (0,1,0) < (0.7071,0,0.7071) < (0,0,1) */
    CHECK_NEAR(layout.axis_values[1][1].v[1], -0.7064, 0);
    CHECK_NEAR(layout.axis_values[1][2].v[0], 1, 0);
    CHECK_NEAR(layout.axis_values[1][4].v[1], 1, 0);
    CHECK_NEAR(layout.axis_values[1][6].v[2], 1, 0);
    for (size_t s = 0; s < 3; s++) {
        /* row b0 = [(0, []), None x 6] */
        CHECK(cell_image(&layout, keys, 0, s) == (long)(s * 13));
        CHECK_INT(cell_tag(&layout, 0, s, 1)->count, 0);
        CHECK_INT(cell_tag(&layout, 0, s, 1)->kind, IMD_VALUE_VECTOR);
        for (size_t v = 1; v < 7; v++) {
            CHECK(cell_image(&layout, keys, v, s) == -1);
            CHECK_INT(cell_tag(&layout, v, s, 0)->kind, 0);
        }
        /* rows 500 and 1500 = [None, 6 vectors] */
        for (size_t b = 1; b < 3; b++) {
            CHECK(cell_image(&layout, keys, b * 7, s) == -1);
            for (size_t v = 1; v < 7; v++) {
                const ImdSliceKey *key = cell_key(&layout, keys, b * 7 + v, s);
                REQUIRE(key != NULL);
                CHECK_NEAR(key->tag[0].v[0], b == 1 ? 500 : 1500, 0);
                CHECK_NEAR(key->tag[1].v[1], layout.axis_values[1][v].v[1], 0);
            }
        }
    }
    imd__dicom_layout_free(&layout);
}

IMD_TEST(bvector_jitter_is_one_value)
{
    ImdSliceKey keys[39];
    size_t n = rsi(keys);
    for (size_t i = 13; i < n; i++) {
        for (size_t c = 0; c < keys[i].tag[1].count; c++) {
            keys[i].tag[1].v[c] += 1e-4; /* allclose rtol 1e-3, atol 1e-2 */
        }
    }
    ImdSortOptions options = order_of("b", "bvector");
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout));
    REQUIRE(layout.tag_shape[1] == 7);
    CHECK_INT(layout.warning_count, 0);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(dti_pairs)
{
    ImdSliceKey keys[39];
    size_t n = rsi(keys);
    for (size_t i = 0; i < n; i++) {
        keys[i].tag[0] = keys[i].tag[2];
    }
    shuffle(keys, n);
    ImdSortOptions options = order_of("dti", NULL);
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout));
    REQUIRE(layout.tag_ndim == 1);
    REQUIRE(layout.tag_shape[0] == 13);
    CHECK_INT(layout.axis_values[0][0].kind, IMD_VALUE_B_VECTOR);
    CHECK_INT(layout.axis_values[0][0].count, 1); /* (0, none) */
    CHECK_NEAR(layout.axis_values[0][1].v[0], 500, 0);
    CHECK_NEAR(layout.axis_values[0][7].v[0], 1500, 0);
    for (size_t c = 0; c < 13; c++) {
        for (size_t s = 0; s < 3; s++) {
            CHECK(cell_image(&layout, keys, c, s) >= 0);
        }
    }
    imd__dicom_layout_free(&layout);
}

IMD_TEST(missing_tag_value_fails)
{
    ImdSliceKey keys[36];
    size_t n = five_d(keys, 0, 1);
    keys[5].has_tag[1] = false;
    ImdSortOptions options = order_of("time", "te");
    CHECK(fails_with(keys, n, &options, "image 5 has no te value", "time,te", NULL));
}

/* ---- auto (§3.4) ---- */

IMD_TEST(auto_time_none_b)
{
    ImdSortOptions options = auto_options();
    ImdLayout layout;

    /* time/: AcquisitionTime varies within each slice -> time */
    ImdSliceKey keys[45];
    size_t n = time_series(keys, 0);
    for (size_t i = 0; i < n; i++) {
        set_number(&keys[i], 3, 15); /* a constant flip angle */
    }
    REQUIRE(sorts(keys, n, &options, &layout));
    CHECK_STR(layout.order, "time");
    REQUIRE(layout.tag_shape[0] == 3);
    imd__dicom_layout_free(&layout);

    /* time00: one image per slice, each its own time: 1:1 with slices -> none */
    time00(keys);
    REQUIRE(sorts(keys, 3, &options, &layout));
    CHECK_STR(layout.order, "none");
    REQUIRE(layout.tag_ndim == 0);
    REQUIRE(layout.slices == 3);
    imd__dicom_layout_free(&layout);

    /* dwi: b and time vary -> b replaces time */
    n = 0;
    for (size_t s = 0; s < 3; s++) {
        for (size_t b = 0; b < 3; b++) {
            keys[n] = axial((uint32_t)n, 6.0 * (double)s);
            set_number(&keys[n], 0, 40000 + (double)n);
            set_number(&keys[n], 2, b == 0 ? 50 : (b == 1 ? 400 : 800));
            set_number(&keys[n], 4, 80);
            n++;
        }
    }
    REQUIRE(sorts(keys, n, &options, &layout));
    CHECK_STR(layout.order, "b");
    REQUIRE(layout.tag_shape[0] == 3);
    CHECK_NEAR(layout.axis_values[0][1].v[0], 400, 0);
    imd__dicom_layout_free(&layout);

    /* nothing varies: none */
    for (size_t i = 0; i < 3; i++) {
        keys[i] = axial((uint32_t)i, 3.0 * (double)i);
        set_number(&keys[i], 4, 80);
    }
    REQUIRE(sorts(keys, 3, &options, &layout));
    CHECK_STR(layout.order, "none");
    imd__dicom_layout_free(&layout);
}

IMD_TEST(auto_conflicts_and_duplicates)
{
    ImdSortOptions options = auto_options();
    ImdSliceKey keys[45];

    /* time and fa both vary: no rule picks one */
    size_t n = time_series(keys, 0);
    for (size_t i = 0; i < n; i++) {
        set_number(&keys[i], 3, 10.0 + (double)(i / 3));
    }
    CHECK(fails_with(keys, n, &options, "Cannot auto-sort: both time and fa vary", NULL, NULL));

    /* 5D: te replaces time, then 3 images share each te -> Duplicate tag */
    n = five_d(keys, 0, 4);
    CHECK(fails_with(keys, n, &options, "duplicate tag: 3 images at slice 0", "te=2.05",
                     "auto chose order te"));

    /* RSI: b varies (time does not) -> 6 images share b 500 */
    ImdSliceKey rsi_keys[39];
    n = rsi(rsi_keys);
    for (size_t i = 0; i < n; i++) {
        rsi_keys[i].has_tag[1] = false; /* no triggertime */
        rsi_keys[i].tag[2] = rsi_keys[i].tag[0];
        rsi_keys[i].has_tag[2] = true;
        set_number(&rsi_keys[i], 0, 50000); /* one AcquisitionTime */
        rsi_keys[i].has_tag[3] = false;
    }
    CHECK(fails_with(rsi_keys, n, &options, "duplicate tag: 6 images at slice 0", "b=500",
                     "accept_duplicate_tag=True"));
}

/* auto with dti (slot 5) among the candidates, as the reader gives them. */
static ImdSortOptions auto_with_dti(void)
{
    ImdSortOptions options = auto_options();
    options.names[5] = "dti";
    options.count = 6;
    return options;
}

/* Volumes that no tag tells apart (GE fMRI: one AcquisitionTime for the whole
 * run) come in acquisition order, InstanceNumber, on a time axis of TR. */
IMD_TEST(auto_sequence_gives_time_of_tr)
{
    ImdSortOptions options = auto_with_dti();
    options.time_step = 2.5;
    ImdSliceKey keys[12];
    size_t n = 0;
    for (size_t volume = 0; volume < 4; volume++) {
        for (size_t slice = 0; slice < 3; slice++) {
            keys[n] = axial((uint32_t)n, 5.0 * (double)slice);
            set_number(&keys[n], 0, 41295); /* one AcquisitionTime */
            set_number(&keys[n], 4, 30);
            keys[n].sequence = (double)(volume * 3 + slice + 1);
            n++;
        }
    }
    shuffle(keys, n);
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout));
    CHECK_STR(layout.order, "time");
    REQUIRE(layout.tag_ndim == 1 && layout.tag_shape[0] == 4 && layout.slices == 3);
    for (size_t volume = 0; volume < 4; volume++) {
        CHECK_NEAR(layout.axis_values[0][volume].v[0], 2.5 * (double)volume, 1e-12);
        for (size_t slice = 0; slice < 3; slice++) {
            const ImdSliceKey *key = &keys[layout.cell[volume * 3 + slice]];
            CHECK_NEAR(key->sequence, (double)(volume * 3 + slice + 1), 0);
            CHECK_NEAR(layout.tags[volume * 3 + slice].v[0], 2.5 * (double)volume, 1e-12);
        }
    }
    imd__dicom_layout_free(&layout);
}

/* Several directions per b: dti, volumes in acquisition order, not sorted
 * by value (dcm2niix writes bval/bvec in that order). */
IMD_TEST(auto_dti_in_acquisition_order)
{
    static const double directions[4][3] = {{0, 0, 0}, {0, 0, 1}, {1, 0, 0}, {0, 1, 0}};
    static const double b_values[4] = {0, 1000, 1000, 1000};
    ImdSortOptions options = auto_with_dti();
    ImdSliceKey keys[8];
    size_t n = 0;
    for (size_t volume = 0; volume < 4; volume++) {
        for (size_t slice = 0; slice < 2; slice++) {
            keys[n] = axial((uint32_t)n, 4.0 * (double)slice);
            set_number(&keys[n], 0, 40000 + (double)n);
            set_number(&keys[n], 2, b_values[volume]);
            keys[n].tag[5] = imd_value_b_vector(b_values[volume], directions[volume],
                                                volume == 0 ? 0 : 3);
            keys[n].has_tag[5] = true;
            keys[n].sequence = (double)(volume * 2 + slice + 1);
            n++;
        }
    }
    shuffle(keys, n);
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout));
    CHECK_STR(layout.order, "dti");
    REQUIRE(layout.tag_ndim == 1 && layout.tag_shape[0] == 4);
    for (size_t volume = 0; volume < 4; volume++) {
        const ImdValue *v = &layout.axis_values[0][volume];
        CHECK_NEAR(v->v[0], b_values[volume], 0);
        if (volume > 0) {
            CHECK_NEAR(v->v[1], directions[volume][0], 0);
            CHECK_NEAR(v->v[2], directions[volume][1], 0);
        }
    }
    imd__dicom_layout_free(&layout);

    /* slice 1 acquired its directions in another order: no order by sequence */
    for (size_t i = 0; i < n; i++) {
        if (keys[i].position.z > 1 && keys[i].sequence > 2) {
            keys[i].sequence = 20 - keys[i].sequence;
        }
    }
    CHECK(fails_with(keys, n, &options, "auto order dti in acquisition order", "slice 1", NULL));

}

/* Acquisition and trigger time both vary (a gated run): acquisition time. */
IMD_TEST(auto_time_wins_over_triggertime)
{
    ImdSortOptions options = auto_with_dti();
    ImdSliceKey keys[45];
    size_t n = time_series(keys, 0);
    for (size_t i = 0; i < n; i++) {
        set_number(&keys[i], 1, 100.0 * (double)(i % 3 + 1));
    }
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout));
    CHECK_STR(layout.order, "time");
    imd__dicom_layout_free(&layout);
}

/* ---- duplicates (§3.5; test_formats_dicom_duplicate shapes) ---- */

IMD_TEST(duplicate_2d)
{
    ImdSliceKey keys[3];
    keys[0] = axial(0, 27.6157);
    triple(keys, 1);
    ImdSortOptions options = order_of("none", NULL);
    CHECK(fails_with(keys, 3, &options, "duplicate tag: 3 images at slice 0 (27.6157 mm)",
                     "images 0 and 1", "accept_duplicate_tag=True"));

    options.accept_duplicate_tag = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, 1, &options, &layout)); /* one file: no duplicates, 2D */
    REQUIRE(layout.tag_ndim == 0);
    REQUIRE(layout.slices == 1);
    imd__dicom_layout_free(&layout);

    REQUIRE(sorts(keys, 3, &options, &layout)); /* (3, 1, rows, columns) */
    CHECK_STR(layout.order, "none");
    REQUIRE(layout.tag_ndim == 1);
    REQUIRE(layout.tag_shape[0] == 3);
    REQUIRE(layout.slices == 1);
    for (size_t i = 0; i < 3; i++) {
        CHECK_INT(cell_image(&layout, keys, i, 0), i);
        CHECK_NEAR(layout.axis_values[0][i].v[0], (double)i, 0);
    }
    imd__dicom_layout_free(&layout);
}

IMD_TEST(duplicate_3d)
{
    ImdSliceKey keys[9];
    time00(keys);
    triple(keys, 3);
    shuffle(keys, 9);
    ImdSortOptions options = order_of("none", NULL);
    CHECK(fails_with(keys, 9, &options, "3 images at slice 0", NULL, NULL));
    options.accept_duplicate_tag = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, 9, &options, &layout)); /* (3, 3, rows, columns) */
    REQUIRE(layout.tag_ndim == 1);
    REQUIRE(layout.tag_shape[0] == 3);
    REQUIRE(layout.slices == 3);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(duplicate_4d)
{
    ImdSliceKey keys[27];
    size_t n = triple(keys, time_series(keys, 0));
    shuffle(keys, n);
    ImdSortOptions options = order_of("time", NULL);
    CHECK(fails_with(keys, n, &options, "duplicate tag: 3 images at slice 0 (10.0000 mm)",
                     "time=30000", NULL));
    options.accept_duplicate_tag = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout)); /* (9, 3, ...): each time 3 times */
    REQUIRE(layout.tag_shape[0] == 9);
    REQUIRE(layout.slices == 3);
    for (size_t i = 0; i < 9; i++) {
        CHECK_NEAR(layout.axis_values[0][i].v[0], 30000 + 2.99 * (double)(i / 3), 1e-9);
        for (size_t s = 0; s < 3; s++) {
            const ImdSliceKey *key = cell_key(&layout, keys, i, s);
            REQUIRE(key != NULL);
            CHECK_NEAR(key->tag[0].v[0], 30000 + 2.99 * (double)(i / 3) + 0.5 * s, 1e-9);
        }
    }
    imd__dicom_layout_free(&layout);

    /* without duplicates the option changes nothing: (3, 3, ...) */
    n = time_series(keys, 0);
    REQUIRE(sorts(keys, n, &options, &layout));
    REQUIRE(layout.tag_shape[0] == 3);
    imd__dicom_layout_free(&layout);
}

IMD_TEST(duplicate_5d)
{
    ImdSliceKey keys[108];
    size_t n = triple(keys, five_d(keys, 0, 1));
    shuffle(keys, n);
    ImdSortOptions options = order_of("time", "te");
    CHECK(fails_with(keys, n, &options, "duplicate tag: 3 images", "time=31337.775, te=2.05",
                     NULL));
    options.accept_duplicate_tag = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout)); /* (3, 12, 3, ...) */
    REQUIRE(layout.tag_ndim == 2);
    REQUIRE(layout.tag_shape[0] == 3);
    REQUIRE(layout.tag_shape[1] == 12);
    REQUIRE(layout.slices == 3);
    for (size_t e = 0; e < 12; e++) { /* each echo time repeated three times */
        CHECK_NEAR(layout.axis_values[1][e].v[0], five_d_te[e / 3], 1e-12);
    }
    CHECK_NEAR(layout.axis_values[0][1].v[0], 31340.655, 1e-9);
    for (size_t c = 0; c < 36; c++) {
        for (size_t s = 0; s < 3; s++) {
            const ImdSliceKey *key = cell_key(&layout, keys, c, s);
            REQUIRE(key != NULL);
            CHECK_NEAR(key->tag[1].v[0], five_d_te[(c % 12) / 3], 1e-12);
            CHECK_NEAR(cell_tag(&layout, c, s, 0)->v[0], key->tag[0].v[0], 0);
        }
    }
    imd__dicom_layout_free(&layout);
}

IMD_TEST(duplicate_b_on_rsi)
{
    ImdSliceKey keys[39];
    size_t n = rsi(keys);
    shuffle(keys, n);
    ImdSortOptions options = order_of("b", NULL);
    CHECK(fails_with(keys, n, &options, "duplicate tag: 6 images at slice 0", "b=500", NULL));
    options.accept_duplicate_tag = true;
    ImdLayout layout;
    REQUIRE(sorts(keys, n, &options, &layout)); /* b = [0, 500 x6, 1500 x6] */
    REQUIRE(layout.tag_shape[0] == 13);
    CHECK_NEAR(layout.axis_values[0][0].v[0], 0, 0);
    for (size_t i = 1; i < 13; i++) {
        CHECK_NEAR(layout.axis_values[0][i].v[0], i <= 6 ? 500 : 1500, 0);
        for (size_t s = 0; s < 3; s++) {
            CHECK_NEAR(cell_tag(&layout, i, s, 0)->v[0], i <= 6 ? 500 : 1500, 0);
        }
    }
    imd__dicom_layout_free(&layout);
}

IMD_TEST(too_sparse_fails)
{
    /* 100 images, each its own b and b-vector: 100 x 100 cells */
    ImdSliceKey keys[100];
    for (uint32_t i = 0; i < 100; i++) {
        double direction[3] = {1, 0.05 * i, 0};
        keys[i] = axial(i, 0);
        set_number(&keys[i], 0, 10.0 * i);
        set_vector(&keys[i], 1, direction, 3);
    }
    ImdSortOptions options = order_of("b", "bvector");
    CHECK(fails_with(keys, 100, &options, "order b,bvector gives tag shape (100, 100)",
                     "too sparse for 100 images in 1 slices", NULL));
}

/* ---- arguments, freeing, size ---- */

IMD_TEST(rejects_bad_arguments)
{
    ImdSliceKey keys[2] = {axial(0, 0), axial(1, 1)};
    ImdSortOptions options = order_of("none", "time");
    ImdLayout layout;
    ImdError *error = NULL;
    CHECK_FAILS(error, imd__dicom_sort(&error, keys, 2, &options, &layout), IMD_ERR_INVALID_ARG);
    options = order_of(NULL, NULL);
    CHECK_FAILS(error, imd__dicom_sort(&error, keys, 0, &options, &layout), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd__dicom_sort(&error, NULL, 2, &options, &layout), IMD_ERR_INVALID_ARG);
    options.slice_tolerance = -1;
    CHECK_FAILS(error, imd__dicom_sort(&error, keys, 2, &options, &layout), IMD_ERR_INVALID_ARG);
    options = order_of("rsi", NULL);
    CHECK(fails_with(keys, 2, &options, "order rsi is not implemented", NULL, NULL));
    options = order_of("time", NULL);
    options.names[0] = NULL;
    CHECK_FAILS(error, imd__dicom_sort(&error, keys, 2, &options, &layout), IMD_ERR_INVALID_ARG);
    CHECK(layout.cell == NULL && layout.order == NULL); /* failure leaves it empty */

    ImdLayout zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    imd__dicom_layout_free(&zeroed);
    imd__dicom_layout_free(NULL);
}

IMD_TEST(large_series_50000_keys)
{
    /* 100 slices x 500 time points, shuffled: O(n log n) completes quickly */
    const size_t slices = 100, times = 500, n = slices * times;
    ImdSliceKey *keys = malloc(n * sizeof *keys);
    REQUIRE(keys != NULL);
    for (size_t t = 0; t < times; t++) {
        for (size_t s = 0; s < slices; s++) {
            size_t i = t * slices + s;
            keys[i] = axial((uint32_t)i, -50.0 + 1.5 * (double)s + (double)(t % 3) * 1e-5);
            set_number(&keys[i], 0, 36000.0 + 1.25 * (double)t + 0.01 * (double)s);
        }
    }
    shuffle(keys, n);
    ImdSortOptions options = order_of("time", NULL);
    ImdLayout layout;
    bool ok = sorts(keys, n, &options, &layout);
    CHECK(ok);
    if (ok) {
        REQUIRE(layout.slices == slices);
        REQUIRE(layout.tag_shape[0] == times);
        CHECK_INT(cell_image(&layout, keys, 0, 0), 0);
        CHECK_INT(cell_image(&layout, keys, 499, 99), 499 * 100 + 99);
        CHECK_INT(cell_image(&layout, keys, 250, 42), 250 * 100 + 42);
        imd__dicom_layout_free(&layout);
    }
    /* and auto over the same keys */
    options = auto_options();
    ok = sorts(keys, n, &options, &layout);
    CHECK(ok);
    if (ok) {
        CHECK_STR(layout.order, "time");
        imd__dicom_layout_free(&layout);
    }
    free(keys);
}

IMD_TEST_MAIN(IMD_CASE(sorts_time00_volume), IMD_CASE(coronal_normal_orders_by_y),
              IMD_CASE(groups_position_jitter_within_tolerance),
              IMD_CASE(detects_missing_slice_anywhere),
              IMD_CASE(detects_missing_first_gap_and_irregular_spacing),
              IMD_CASE(spacing_jitter_is_uniform), IMD_CASE(single_and_two_slices),
              IMD_CASE(rejects_gantry_tilt), IMD_CASE(checks_orientation_of_every_image),
              IMD_CASE(missing_orientation_and_position_warn),
              IMD_CASE(degenerate_orientation_fails), IMD_CASE(sorts_on_slice_location),
              IMD_CASE(uneven_counts_fail_with_numbers),
              IMD_CASE(uneven_slices_keep_values_in_their_cells),
              IMD_CASE(differing_tag_shape_fails), IMD_CASE(other_axis_values_warn),
              IMD_CASE(time_4d), IMD_CASE(five_d_time_component_rule),
              IMD_CASE(b_bvector_sparse_cells), IMD_CASE(bvector_jitter_is_one_value),
              IMD_CASE(dti_pairs), IMD_CASE(missing_tag_value_fails),
              IMD_CASE(auto_time_none_b), IMD_CASE(auto_conflicts_and_duplicates),
              IMD_CASE(auto_sequence_gives_time_of_tr), IMD_CASE(auto_dti_in_acquisition_order),
              IMD_CASE(auto_time_wins_over_triggertime),
              IMD_CASE(duplicate_2d), IMD_CASE(duplicate_3d), IMD_CASE(duplicate_4d),
              IMD_CASE(duplicate_5d), IMD_CASE(duplicate_b_on_rsi), IMD_CASE(too_sparse_fails),
              IMD_CASE(rejects_bad_arguments), IMD_CASE(large_series_50000_keys))
