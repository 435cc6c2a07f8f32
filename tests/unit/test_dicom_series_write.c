/*
 * test_dicom_series_write.c: writing series as DICOM (src/formats/dicom/
 * write.c) and taking template/geometry (src/model/template.c).
 *
 * Each write goes through imd_write(..., "dicom") into a temporary folder;
 * the files are read back with the data-set parser (imd_dicom_read_file),
 * an independent path from the series reader, and the series reader where
 * the round trip is the point.
 * - pixels: float rescaled into 16 bits, rounded, error <= slope / 2 (the
 *   original truncated: error up to a whole slope); int32 in int16 range
 *   stored as is; an integer range under 65536 with slope 1 (lossless);
 *   bool as 0/1; complex refused.
 * - names (behaviour.md §4, §7.3): 2D to a new name, 3D to a folder, a
 *   printf pattern, "z.dcm" for several files numbered instead of
 *   overwritten, multi layouts and InstanceNumber restarting per folder.
 * - empty cells skipped; keep_uid reuses the header's UIDs; user orders
 *   need their attribute named; TriggerTime is written (the original could not).
 * - template rules of §1.2: 4 vs 3 tags extrapolated, slice locations cut
 *   or extended, geometry from the geometry series only.
 */
#define _XOPEN_SOURCE 700
#include "imd_test.h"
#include "imd_test_files.h"

#include "internal.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

static bool exists(const char *folder, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    return access(path, R_OK) == 0;
}

static ImdDicomDataSet *read_member(const char *folder, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    return imd_dicom_read_file(NULL, path, NULL);
}

static double number(const ImdDicomDataSet *d, uint16_t g, uint16_t e, size_t i)
{
    const ImdDicomElement *element = imd_dicom_dataset_find(d, IMD_TAG(g, e));
    double value = NAN;
    if (element != NULL) {
        (void)imd_dicom_element_number(NULL, element, i, &value);
    }
    return value;
}

static char *text(const ImdDicomDataSet *d, uint16_t g, uint16_t e)
{
    const ImdDicomElement *element = imd_dicom_dataset_find(d, IMD_TAG(g, e));
    return element != NULL ? imd_dicom_element_string(NULL, d, element) : NULL;
}

/* A series of `dtype` with ndim dims; tag axes named after `order`. */
static ImdSeries *make_series(ImdDType dtype, size_t ndim, const size_t *shape, const char *order)
{
    ImdError *error = NULL;
    ImdSeries *series = imd_series_create(&error, dtype, ndim, shape);
    if (series != NULL && order != NULL && !imd_series_set_input_order(&error, series, order)) {
        imd_series_destroy(series);
        series = NULL;
    }
    imd_error_clear(&error);
    return series;
}

static bool write_dicom(ImdSeries *series, const char *url, const char *pairs)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    char copy[512];
    snprintf(copy, sizeof copy, "%s", pairs != NULL ? pairs : "");
    for (char *p = strtok(copy, " "); p != NULL; p = strtok(NULL, " ")) {
        (void)imd_options_set_pair(&error, options, p);
    }
    bool ok = imd_write(&error, NULL, series, url, "dicom", options);
    if (!ok) {
        fprintf(stderr, "  write %s: %s\n", url, imd_error_message(error));
    }
    imd_error_clear(&error);
    imd_options_destroy(options);
    return ok;
}

/* ---- pixels ---- */

IMD_TEST(float_rescaled_and_rounded)
{
    size_t shape[3] = {2, 4, 64};
    ImdSeries *series = make_series(IMD_DTYPE_FLOAT64, 3, shape, NULL);
    REQUIRE(series != NULL);
    double *x = imd_series_data(series);
    for (size_t i = 0; i < 512; i++) {
        x[i] = (double)i / sqrt(2.0); /* behaviour.md §11: arange(512)/sqrt(2) */
    }
    char *folder = make_folder("dcmw-float");
    REQUIRE(folder != NULL && write_dicom(series, folder, NULL));
    double max_error = 0, slope = 0, bound = 511 / sqrt(2.0) / 65535 / 2;
    for (size_t s = 0; s < 2; s++) {
        char name[32];
        snprintf(name, sizeof name, "Image_%05zu.dcm", s);
        ImdDicomDataSet *d = read_member(folder, name);
        REQUIRE(d != NULL);
        slope = number(d, 0x0028, 0x1053, 0);
        double intercept = number(d, 0x0028, 0x1052, 0);
        CHECK_NEAR(slope, 511 / sqrt(2.0) / 65535, 1e-12);
        CHECK_NEAR(intercept, 0, 1e-12);
        CHECK_NEAR(number(d, 0x0028, 0x1050, 0), 511 / sqrt(2.0) / 2, 1e-5);
        CHECK_NEAR(number(d, 0x0028, 0x1051, 0), 511 / sqrt(2.0), 1e-4);
        CHECK_INT(number(d, 0x0028, 0x0103, 0), 0);
        size_t size;
        const uint8_t *bytes = imd_dicom_element_bytes(imd_dicom_dataset_find(d, IMD_TAG(0x7fe0, 0x10)),
                                                       &size);
        REQUIRE(bytes != NULL && size == 256 * 2);
        for (size_t i = 0; i < 256; i++) {
            uint16_t stored = (uint16_t)(bytes[2 * i] | bytes[2 * i + 1] << 8);
            double error = fabs(stored * slope + intercept - x[s * 256 + i]);
            max_error = error > max_error ? error : max_error;
        }
        imd_dicom_dataset_destroy(d);
    }
    /* Rounding: within half a step (truncation would reach a whole step). */
    CHECK(max_error <= bound * (1 + 1e-9));
    CHECK(max_error > bound / 4);
    imd_series_destroy(series);
    remove_folder(folder);
}

IMD_TEST(integers_stored_without_loss)
{
    size_t shape[2] = {3, 4};
    ImdSeries *small = make_series(IMD_DTYPE_INT32, 2, shape, NULL);
    ImdSeries *offset = make_series(IMD_DTYPE_INT32, 2, shape, NULL);
    REQUIRE(small != NULL && offset != NULL);
    int32_t *a = imd_series_data(small), *b = imd_series_data(offset);
    for (int i = 0; i < 12; i++) {
        a[i] = -30000 + 5000 * i;   /* -30000..25000: fits int16 */
        b[i] = 100000 + 5000 * i;   /* 100000..155000: range 55000 < 65536 */
    }
    char *folder = make_folder("dcmw-int");
    REQUIRE(folder != NULL);
    char url[4200];
    snprintf(url, sizeof url, "%s/small", folder);
    REQUIRE(write_dicom(small, url, NULL));
    snprintf(url, sizeof url, "%s/offset", folder);
    REQUIRE(write_dicom(offset, url, NULL));
    ImdDicomDataSet *d = read_member(folder, "small.dcm");
    REQUIRE(d != NULL);
    CHECK_INT(number(d, 0x0028, 0x0103, 0), 1);
    CHECK(imd_dicom_dataset_find(d, IMD_TAG(0x0028, 0x1053)) == NULL);
    size_t size;
    const uint8_t *bytes = imd_dicom_element_bytes(imd_dicom_dataset_find(d, IMD_TAG(0x7fe0, 0x10)),
                                                   &size);
    REQUIRE(bytes != NULL && size == 24);
    for (int i = 0; i < 12; i++) {
        CHECK_INT((int16_t)(bytes[2 * i] | bytes[2 * i + 1] << 8), a[i]);
    }
    imd_dicom_dataset_destroy(d);
    d = read_member(folder, "offset.dcm");
    REQUIRE(d != NULL);
    CHECK_NEAR(number(d, 0x0028, 0x1053, 0), 1, 0);
    CHECK_NEAR(number(d, 0x0028, 0x1052, 0), 100000, 0);
    bytes = imd_dicom_element_bytes(imd_dicom_dataset_find(d, IMD_TAG(0x7fe0, 0x10)), &size);
    REQUIRE(bytes != NULL && size == 24);
    for (int i = 0; i < 12; i++) {
        CHECK_INT((bytes[2 * i] | bytes[2 * i + 1] << 8) + 100000, b[i]);
    }
    imd_dicom_dataset_destroy(d);
    imd_series_destroy(small);
    imd_series_destroy(offset);
    remove_folder(folder);
}

IMD_TEST(bool_and_complex)
{
    size_t shape[2] = {2, 2};
    ImdSeries *mask = make_series(IMD_DTYPE_BOOL, 2, shape, NULL);
    ImdSeries *complex = make_series(IMD_DTYPE_COMPLEX64, 2, shape, NULL);
    REQUIRE(mask != NULL && complex != NULL);
    uint8_t *m = imd_series_data(mask);
    m[1] = m[2] = 1;
    char *folder = make_folder("dcmw-bool");
    REQUIRE(folder != NULL);
    char url[4200];
    snprintf(url, sizeof url, "%s/mask", folder);
    REQUIRE(write_dicom(mask, url, NULL));
    ImdSeries *back = imd_read_one(NULL, NULL, url, NULL);
    if (back == NULL) {
        snprintf(url, sizeof url, "%s/mask.dcm", folder);
        back = imd_read_one(NULL, NULL, url, NULL);
    }
    REQUIRE(back != NULL);
    CHECK_INT(imd_series_dtype(back), IMD_DTYPE_UINT16);
    const uint16_t *v = imd_series_const_data(back);
    CHECK(v[0] == 0 && v[1] == 1 && v[2] == 1 && v[3] == 0);
    imd_series_destroy(back);
    ImdError *error = NULL;
    snprintf(url, sizeof url, "%s/complex", folder);
    CHECK_FAILS(error, imd_write(&error, NULL, complex, url, "dicom", NULL), IMD_ERR_UNSUPPORTED);
    imd_series_destroy(mask);
    imd_series_destroy(complex);
    remove_folder(folder);
}

/* ---- names and layouts ---- */

IMD_TEST(names)
{
    size_t shape2[2] = {2, 2}, shape3[3] = {3, 2, 2};
    ImdSeries *image = make_series(IMD_DTYPE_UINT16, 2, shape2, NULL);
    ImdSeries *volume = make_series(IMD_DTYPE_UINT16, 3, shape3, NULL);
    REQUIRE(image != NULL && volume != NULL);
    char *folder = make_folder("dcmw-names");
    REQUIRE(folder != NULL);
    char url[4200];
    snprintf(url, sizeof url, "%s/y", folder);
    CHECK(write_dicom(image, url, NULL) && exists(folder, "y.dcm"));
    snprintf(url, sizeof url, "%s/x", folder);
    CHECK(write_dicom(volume, url, NULL) && exists(folder, "x/Image_00000.dcm") &&
          exists(folder, "x/Image_00002.dcm"));
    /* 2D into an existing folder: Image_00000.dcm (the original: "Image_{:05d}.dcm"). */
    snprintf(url, sizeof url, "%s/x", folder);
    CHECK(write_dicom(image, url, NULL) && !exists(folder, "x/Image_{:05d}.dcm") &&
          exists(folder, "x/Image_00000.dcm"));
    snprintf(url, sizeof url, "%s/w%%03d.dcm", folder);
    CHECK(write_dicom(volume, url, NULL) && exists(folder, "w000.dcm") && exists(folder, "w002.dcm"));
    /* Several slices to z.dcm: numbered, not overwritten. */
    snprintf(url, sizeof url, "%s/z.dcm", folder);
    CHECK(write_dicom(volume, url, NULL) && exists(folder, "z_00000.dcm") &&
          exists(folder, "z_00002.dcm") && !exists(folder, "z.dcm"));
    imd_series_destroy(image);
    imd_series_destroy(volume);
    remove_folder(folder);
}

IMD_TEST(multi_layouts)
{
    size_t shape[4] = {2, 3, 2, 2};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 4, shape, "time");
    REQUIRE(series != NULL);
    char *folder = make_folder("dcmw-multi");
    REQUIRE(folder != NULL);
    char url[4200];
    snprintf(url, sizeof url, "%s/slice", folder);
    REQUIRE(write_dicom(series, url, "output_dir=multi"));
    CHECK(exists(folder, "slice/time0/Image_00000.dcm") &&
          exists(folder, "slice/time1/Image_00002.dcm"));
    ImdDicomDataSet *d = read_member(folder, "slice/time1/Image_00002.dcm");
    REQUIRE(d != NULL);
    CHECK_INT(number(d, 0x0020, 0x0013, 0), 3); /* restarts per folder */
    imd_dicom_dataset_destroy(d);
    snprintf(url, sizeof url, "%s/tag", folder);
    REQUIRE(write_dicom(series, url, "output_dir=multi output_sort=tag"));
    CHECK(exists(folder, "tag/slice0/time0.dcm") && exists(folder, "tag/slice2/time1.dcm"));
    snprintf(url, sizeof url, "%s/single", folder);
    REQUIRE(write_dicom(series, url, "output_sort=tag"));
    /* slice outer: file 1 is slice 0 at time 1 */
    d = read_member(folder, "single/Image_00001.dcm");
    REQUIRE(d != NULL);
    CHECK_INT(number(d, 0x0020, 0x0013, 0), 2);
    imd_dicom_dataset_destroy(d);
    CHECK(exists(folder, "single/Image_00005.dcm") && !exists(folder, "single/Image_00006.dcm"));
    imd_series_destroy(series);
    remove_folder(folder);
}

/* ---- tags, UIDs ---- */

IMD_TEST(tags_written_and_empty_cells_skipped)
{
    size_t shape[4] = {2, 2, 2, 2}, tag_shape[1] = {2};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 4, shape, "triggertime");
    REQUIRE(series != NULL);
    ImdError *error = NULL;
    ImdHeader *h = imd_series_header(series);
    CHECK_OK(error, imd_header_set_tag_shape(&error, h, 2, 1, tag_shape, 1));
    for (size_t s = 0; s < 2; s++) {
        for (size_t t = 0; t < 2; t++) {
            ImdValue v = imd_value_number(0.25 * (double)t);
            if (!(s == 1 && t == 1)) { /* one empty cell */
                CHECK_OK(error, imd_header_set_tag(&error, h, s, &t, &v));
            }
        }
    }
    char *folder = make_folder("dcmw-tags");
    REQUIRE(folder != NULL);
    REQUIRE(write_dicom(series, folder, NULL));
    CHECK(exists(folder, "Image_00002.dcm") && !exists(folder, "Image_00003.dcm"));
    ImdDicomDataSet *d = read_member(folder, "Image_00002.dcm"); /* time 1, slice 0 */
    REQUIRE(d != NULL);
    CHECK_NEAR(number(d, 0x0018, 0x1060, 0), 250, 1e-9); /* TriggerTime in ms */
    imd_dicom_dataset_destroy(d);
    /* A user order needs its attribute named. */
    CHECK_OK(error, imd_header_set_input_order(&error, h, "ti"));
    char url[4200];
    snprintf(url, sizeof url, "%s/ti", folder);
    CHECK_FAILS(error, imd_write(&error, NULL, series, url, "dicom", NULL), IMD_ERR_INVALID_ARG);
    snprintf(url, sizeof url, "%s/ti2", folder);
    REQUIRE(write_dicom(series, url, "ti=InversionTime"));
    d = read_member(folder, "ti2/Image_00002.dcm");
    REQUIRE(d != NULL);
    CHECK_NEAR(number(d, 0x0018, 0x0082, 0), 0.25, 1e-9);
    imd_dicom_dataset_destroy(d);
    imd_series_destroy(series);
    remove_folder(folder);
}

IMD_TEST(uids)
{
    size_t shape[3] = {2, 2, 2};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 3, shape, NULL);
    REQUIRE(series != NULL);
    ImdError *error = NULL;
    ImdHeader *h = imd_series_header(series);
    CHECK_OK(error, imd_header_set_tag_shape(&error, h, 2, 0, NULL, 1));
    ImdValue zero = imd_value_number(0);
    for (size_t s = 0; s < 2; s++) {
        CHECK_OK(error, imd_header_set_tag(&error, h, s, NULL, &zero));
        CHECK_OK(error, imd_header_set_instance_uid(&error, h, s, NULL, s == 0 ? "1.2.3.4" : "1.2.3.5"));
    }
    CHECK_OK(error, imd_header_set_string(&error, h, "SeriesInstanceUID", "1.2.3"));
    char *folder = make_folder("dcmw-uids");
    REQUIRE(folder != NULL);
    char url[4200];
    snprintf(url, sizeof url, "%s/kept", folder);
    REQUIRE(write_dicom(series, url, "keep_uid=true"));
    snprintf(url, sizeof url, "%s/new", folder);
    REQUIRE(write_dicom(series, url, NULL));
    ImdDicomDataSet *kept = read_member(folder, "kept/Image_00001.dcm");
    ImdDicomDataSet *fresh = read_member(folder, "new/Image_00001.dcm");
    REQUIRE(kept != NULL && fresh != NULL);
    char *a = text(kept, 0x0008, 0x0018), *b = text(kept, 0x0020, 0x000e);
    char *c = text(fresh, 0x0008, 0x0018), *e = text(fresh, 0x0020, 0x000e);
    CHECK_STR(a, "1.2.3.5");
    CHECK_STR(b, "1.2.3");
    CHECK(c != NULL && strcmp(c, "1.2.3.5") != 0 && strncmp(c, "2.25.", 5) == 0);
    CHECK(e != NULL && strcmp(e, "1.2.3") != 0);
    /* The series itself is not changed by a write. */
    CHECK_STR(imd_header_get_string(h, "SeriesInstanceUID"), "1.2.3");
    free(a);
    free(b);
    free(c);
    free(e);
    imd_dicom_dataset_destroy(kept);
    imd_dicom_dataset_destroy(fresh);
    imd_series_destroy(series);
    remove_folder(folder);
}

/* ---- template and geometry (§1.2) ---- */

static ImdSeries *time_series(size_t times, size_t slices)
{
    size_t shape[4] = {times, slices, 2, 2}, tag_shape[1] = {times};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 4, shape, "time");
    ImdError *error = NULL;
    ImdHeader *h = series != NULL ? imd_series_header(series) : NULL;
    bool ok = h != NULL && imd_header_set_tag_shape(&error, h, slices, 1, tag_shape, 1);
    for (size_t s = 0; ok && s < slices; s++) {
        for (size_t t = 0; ok && t < times; t++) {
            ImdValue v = imd_value_number(10.0 + 2.5 * (double)t);
            ok = imd_header_set_tag(&error, h, s, &t, &v);
        }
    }
    double locations[3] = {5, 8, 11};
    ImdVec3 positions[3] = {{0, 0, 5}, {0, 0, 8}, {0, 0, 11}};
    ok = ok && imd_header_set_slice_locations(&error, h, locations, slices) &&
         imd_header_set_image_positions(&error, h, positions, slices) &&
         imd_header_set_string(&error, h, "PatientID", "P1");
    imd_error_clear(&error);
    if (!ok) {
        imd_series_destroy(series);
        return NULL;
    }
    double spacing[3] = {3, 1, 1};
    (void)imd_series_set_spacing(NULL, series, spacing);
    return series;
}

IMD_TEST(template_tags_extrapolated)
{
    ImdSeries *template = time_series(3, 3);
    size_t shape[4] = {4, 3, 2, 2};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 4, shape, NULL);
    REQUIRE(template != NULL && series != NULL);
    ImdError *error = NULL;
    CHECK_OK(error, imd_series_add_template(&error, series, template));
    const ImdHeader *h = imd_series_const_header(series);
    CHECK_STR(imd_header_get_string(h, "PatientID"), "P1");
    CHECK_STR(imd_header_input_order(h), "time");
    size_t t = 3;
    const ImdValue *v = imd_header_tag(h, 1, &t);
    REQUIRE(v != NULL);
    CHECK_NEAR(v[0].v[0], 17.5, 1e-12); /* t3 = t2 + (t2 - t1) */
    CHECK_NEAR(imd_axis_number(imd_series_axis(series, 0), 3), 17.5, 1e-12);
    /* Template only: the geometry stays the series' own (none). */
    CHECK(imd_header_position_count(h) == 0);
    imd_series_destroy(template);
    imd_series_destroy(series);
}

IMD_TEST(geometry_locations_cut_and_extended)
{
    ImdSeries *geometry = time_series(1, 3);
    size_t two[3] = {2, 2, 2}, four[3] = {4, 2, 2};
    ImdSeries *a = make_series(IMD_DTYPE_UINT16, 3, two, NULL);
    ImdSeries *b = make_series(IMD_DTYPE_UINT16, 3, four, NULL);
    REQUIRE(geometry != NULL && a != NULL && b != NULL);
    ImdError *error = NULL;
    CHECK_OK(error, imd_series_add_geometry(&error, a, geometry));
    CHECK_OK(error, imd_series_add_geometry(&error, b, geometry));
    size_t count;
    const double *l = imd_header_slice_locations(imd_series_const_header(a), &count);
    CHECK(l != NULL && count == 2 && l[1] == 8);
    l = imd_header_slice_locations(imd_series_const_header(b), &count);
    CHECK(l != NULL && count == 4 && l[3] == 14);
    ImdVec3 p;
    CHECK(imd_header_image_position(imd_series_const_header(b), 3, &p));
    CHECK_NEAR(p.z, 14, 1e-9);
    double spacing[3];
    imd_series_spacing(b, spacing);
    CHECK_NEAR(spacing[0], 3, 1e-12);
    /* Geometry only: no identity. */
    CHECK(imd_header_get_string(imd_series_const_header(b), "PatientID") == NULL);
    imd_series_destroy(geometry);
    imd_series_destroy(a);
    imd_series_destroy(b);
}

IMD_TEST_MAIN(IMD_CASE(float_rescaled_and_rounded), IMD_CASE(integers_stored_without_loss),
              IMD_CASE(bool_and_complex), IMD_CASE(names), IMD_CASE(multi_layouts),
              IMD_CASE(tags_written_and_empty_cells_skipped), IMD_CASE(uids),
              IMD_CASE(template_tags_extrapolated), IMD_CASE(geometry_locations_cut_and_extended))
