/*
 * test_metaio.c: the ITK MetaIO plugin (src/formats/metaio/format.c).
 *
 * - The original's files itk/time/Image_0000{0,1,2}.mha (written with
 *   non-unit Direction vectors): one file is (3,192,152) uint16 equal, voxel
 *   for voxel and in geometry, to the DICOM volume dicom/time/time00; the
 *   folder and itk/time.zip stack to (3,3,192,152). Skipped loudly without
 *   IMD_TEST_DATA.
 * - Round trips through imd_write(..., "itk") and imd_read: 2D, 3D, 4D per
 *   tag and with output_sort=tag (read back with input_sort=tag), 5D (two
 *   tag axes) as one NDims = 5 file with our tag keys, bool,
 *   float (NaN -> 0), int32 -> float32, RGB, zlib-compressed .mha and .mhd
 *   with a .zraw; the written TransformMatrix holds unit vectors.
 * - Hand-made headers: big-endian data, LIST and pattern data files, and
 *   hostile headers (missing DimSize, negative or huge sizes, short data,
 *   absurd NDims, damaged zlib) give CORRUPT/LIMIT/UNSUPPORTED, never a
 *   crash.
 */
#define _XOPEN_SOURCE 700
#include "imd_test.h"
#include "imd_test_files.h"

#include "internal.h"

#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static const char *data_folder(void)
{
    const char *data = getenv("IMD_TEST_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/itk/time/Image_00000.mha", data != NULL ? data : "");
    return data != NULL && access(path, R_OK) == 0 ? data : NULL;
}

static bool write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return false;
    }
    bool ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *text = calloc(1, 65536);
    if (text != NULL) {
        size_t n = fread(text, 1, 65535, f);
        text[n] = '\0';
    }
    fclose(f);
    return text;
}

/* An oblique uint16-ish series with geometry: positions along the normal. */
static ImdSeries *make_series(ImdDType dtype, size_t ndim, const size_t *shape)
{
    ImdError *error = NULL;
    ImdSeries *series = imd_series_create(&error, dtype, ndim, shape);
    if (series == NULL) {
        imd_error_clear(&error);
        return NULL;
    }
    uint8_t *data = imd_series_data(series);
    size_t count = imd_series_count(series), size = imd_dtype_size(dtype);
    for (size_t i = 0; i < count; i++) {
        uint8_t *p = data + i * size;
        switch (dtype) {
        case IMD_DTYPE_BOOL:
            p[0] = (uint8_t)(i % 3 == 0);
            break;
        case IMD_DTYPE_UINT16: {
            uint16_t v = (uint16_t)(i * 7 + 1);
            memcpy(p, &v, 2);
            break;
        }
        case IMD_DTYPE_INT16: {
            int16_t v = (int16_t)((int)(i % 2000) - 1000);
            memcpy(p, &v, 2);
            break;
        }
        case IMD_DTYPE_INT32: {
            int32_t v = (int32_t)i - 500;
            memcpy(p, &v, 4);
            break;
        }
        case IMD_DTYPE_FLOAT64: {
            double v = i % 11 == 5 ? NAN : (double)i / 3.0;
            memcpy(p, &v, 8);
            break;
        }
        case IMD_DTYPE_RGB8:
            p[0] = (uint8_t)i;
            p[1] = (uint8_t)(i * 3);
            p[2] = (uint8_t)(255 - i);
            break;
        default:
            memset(p, (int)(i & 0x7f), size);
            break;
        }
    }
    ImdHeader *header = imd_series_header(series);
    double c = cos(0.3), s = sin(0.3);
    ImdVec3 row = {c, s, 0}, column = {0, 0, -1};
    double spacing[3] = {2.5, 0.75, 0.8};
    CHECK_OK(error, imd_series_set_spacing(&error, series, spacing));
    CHECK_OK(error, imd_header_set_orientation(&error, header, row, column));
    ImdVec3 normal = imd_header_normal(header);
    size_t slices = imd_series_slices(series);
    ImdVec3 positions[16];
    for (size_t k = 0; k < slices && k < 16; k++) {
        positions[k] = (ImdVec3){-10 + 2.5 * (double)k * normal.x, 20 + 2.5 * (double)k * normal.y,
                                 30 + 2.5 * (double)k * normal.z};
    }
    CHECK_OK(error, imd_header_set_image_positions(&error, header, positions, slices));
    return series;
}

static void check_geometry(const ImdSeries *a, const ImdSeries *b, double tol)
{
    double sa[3], sb[3];
    imd_series_spacing(a, sa);
    imd_series_spacing(b, sb);
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(sa[i], sb[i], tol);
    }
    ImdVec3 ra, ca, rb, cb, pa, pb;
    imd_header_orientation(imd_series_const_header(a), &ra, &ca);
    imd_header_orientation(imd_series_const_header(b), &rb, &cb);
    CHECK_NEAR(ra.x, rb.x, tol);
    CHECK_NEAR(ra.y, rb.y, tol);
    CHECK_NEAR(ra.z, rb.z, tol);
    CHECK_NEAR(ca.x, cb.x, tol);
    CHECK_NEAR(ca.y, cb.y, tol);
    CHECK_NEAR(ca.z, cb.z, tol);
    size_t slices = imd_series_slices(a);
    CHECK_INT(imd_series_slices(b), slices);
    for (size_t k = 0; k < slices; k++) {
        if (imd_header_image_position(imd_series_const_header(a), k, &pa) &&
            imd_header_image_position(imd_series_const_header(b), k, &pb)) {
            CHECK_NEAR(pa.x, pb.x, 1e-3);
            CHECK_NEAR(pa.y, pb.y, 1e-3);
            CHECK_NEAR(pa.z, pb.z, 1e-3);
        } else {
            IMD_FAIL_AT("slice %zu has no position", k);
        }
    }
}

static bool same_shape(const ImdSeries *a, const ImdSeries *b)
{
    if (imd_series_ndim(a) != imd_series_ndim(b)) {
        return false;
    }
    for (size_t d = 0; d < imd_series_ndim(a); d++) {
        if (imd_series_dim(a, d) != imd_series_dim(b, d)) {
            return false;
        }
    }
    return true;
}

static ImdSeries *read_with(const char *path, const char *key, const char *value)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    if (key != NULL) {
        CHECK_OK(error, imd_options_set(&error, options, key, value));
    }
    ImdSeries *series = imd_read_one(&error, NULL, path, options);
    CHECK_OK(error, series != NULL);
    imd_options_destroy(options);
    return series;
}

static bool write_with(const ImdSeries *series, const char *path, const char *key,
                       const char *value)
{
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    if (key != NULL) {
        CHECK_OK(error, imd_options_set(&error, options, key, value));
    }
    bool ok = imd_write(&error, NULL, series, path, "itk", options);
    CHECK_OK(error, ok);
    imd_options_destroy(options);
    return ok;
}

/* ---- the original's files ---- */

IMD_TEST(reference_volume)
{
    const char *data = data_folder();
    if (data == NULL) {
        IMD_SKIP("the original's test data is missing (IMD_TEST_DATA=%s)",
                 getenv("IMD_TEST_DATA") ? getenv("IMD_TEST_DATA") : "(unset)");
    }
    char path[4096], dicom[4096];
    snprintf(path, sizeof path, "%s/itk/time/Image_00000.mha", data);
    snprintf(dicom, sizeof dicom, "%s/dicom/time/time00", data);
    ImdSeries *itk = read_with(path, NULL, NULL);
    ImdSeries *dcm = read_with(dicom, NULL, NULL);
    REQUIRE(itk != NULL && dcm != NULL);
    CHECK_INT(imd_series_ndim(itk), 3);
    CHECK_INT(imd_series_dim(itk, 0), 3);
    CHECK_INT(imd_series_dim(itk, 1), 192);
    CHECK_INT(imd_series_dim(itk, 2), 152);
    CHECK_INT(imd_series_dtype(itk), IMD_DTYPE_UINT16);
    double spacing[3];
    imd_series_spacing(itk, spacing);
    CHECK_NEAR(spacing[0], 3, 1e-3);
    CHECK_NEAR(spacing[1], 2.0833, 1e-3);
    CHECK_NEAR(spacing[2], 2.0833, 1e-3);
    ImdVec3 p0;
    REQUIRE(imd_header_image_position(imd_series_const_header(itk), 0, &p0));
    CHECK_NEAR(p0.x, -199.79125, 1e-4);
    CHECK_NEAR(p0.y, 27.01424, 1e-4);
    CHECK_NEAR(p0.z, 209.17547, 1e-4);
    /* Axis starts: slice = ipp0.z, row = ipp0.y, column = ipp0.x (§1.4). */
    CHECK_NEAR(imd_axis_start(imd_series_axis(itk, 0)), p0.z, 1e-9);
    CHECK_NEAR(imd_axis_start(imd_series_axis(itk, 1)), p0.y, 1e-9);
    CHECK_NEAR(imd_axis_start(imd_series_axis(itk, 2)), p0.x, 1e-9);
    REQUIRE(same_shape(itk, dcm));
    if (imd_series_dtype(dcm) == IMD_DTYPE_UINT16) {
        CHECK(memcmp(imd_series_const_data(itk), imd_series_const_data(dcm),
                     imd_series_nbytes(itk)) == 0);
    } else {
        ImdError *error = NULL;
        ImdSeries *converted = imd_series_convert(&error, dcm, IMD_DTYPE_UINT16);
        CHECK_OK(error, converted != NULL);
        CHECK(converted != NULL && memcmp(imd_series_const_data(itk),
                                          imd_series_const_data(converted),
                                          imd_series_nbytes(itk)) == 0);
        imd_series_destroy(converted);
    }
    /* The file's Direction is not unit: normalised, it is the DICOM one. */
    check_geometry(itk, dcm, 1e-3);
    ImdVec3 ri, ci, rd, cd;
    imd_header_orientation(imd_series_const_header(itk), &ri, &ci);
    imd_header_orientation(imd_series_const_header(dcm), &rd, &cd);
    CHECK_NEAR(ri.x, rd.x, 1e-4);
    CHECK_NEAR(ri.y, rd.y, 1e-4);
    CHECK_NEAR(ri.z, rd.z, 1e-4);
    CHECK_NEAR(ci.x, cd.x, 1e-4);
    CHECK_NEAR(ci.y, cd.y, 1e-4);
    CHECK_NEAR(ci.z, cd.z, 1e-4);
    imd_series_destroy(itk);
    imd_series_destroy(dcm);
}

IMD_TEST(reference_folder_and_zip)
{
    const char *data = data_folder();
    if (data == NULL) {
        IMD_SKIP("the original's test data is missing (IMD_TEST_DATA=%s)",
                 getenv("IMD_TEST_DATA") ? getenv("IMD_TEST_DATA") : "(unset)");
    }
    const char *inputs[] = {"itk/time", "itk/time.zip"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", data, inputs[i]);
        ImdSeries *series = read_with(path, NULL, NULL);
        REQUIRE(series != NULL);
        CHECK_INT(imd_series_ndim(series), 4);
        CHECK_INT(imd_series_dim(series, 0), 3);
        CHECK_INT(imd_series_dim(series, 1), 3);
        CHECK_INT(imd_series_dim(series, 2), 192);
        CHECK_INT(imd_series_dim(series, 3), 152);
        CHECK_INT(imd_series_dtype(series), IMD_DTYPE_UINT16);
        if (i == 0) {
            /* Each volume equals the DICOM time point. */
            char dicom[4096];
            snprintf(dicom, sizeof dicom, "%s/dicom/time/time01", data);
            ImdSeries *dcm = read_with(dicom, NULL, NULL);
            if (dcm != NULL && imd_series_dtype(dcm) == IMD_DTYPE_UINT16) {
                size_t volume = imd_series_nbytes(dcm);
                CHECK(volume * 3 == imd_series_nbytes(series));
                CHECK(memcmp((const uint8_t *)imd_series_const_data(series) + volume,
                             imd_series_const_data(dcm), volume) == 0);
            }
            imd_series_destroy(dcm);
        }
        imd_series_destroy(series);
    }
    /* Two files give (2, 3, 192, 152). */
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/itk/time/Image_00000.mha", data);
    snprintf(b, sizeof b, "%s/itk/time/Image_00002.mha", data);
    const char *urls[] = {a, b};
    ImdError *error = NULL;
    ImdSeriesList *list = imd_read(&error, NULL, urls, 2, NULL);
    CHECK_OK(error, list != NULL);
    REQUIRE(list != NULL);
    CHECK_INT(imd_series_list_count(list), 1);
    ImdSeries *two = imd_series_list_get(list, 0);
    CHECK(two != NULL && imd_series_ndim(two) == 4 && imd_series_dim(two, 0) == 2);
    imd_series_list_destroy(list);
}

IMD_TEST(reference_dicom_round_trip)
{
    const char *data = data_folder();
    if (data == NULL) {
        IMD_SKIP("the original's test data is missing (IMD_TEST_DATA=%s)",
                 getenv("IMD_TEST_DATA") ? getenv("IMD_TEST_DATA") : "(unset)");
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/dicom/time", data);
    ImdSeries *dcm = read_with(path, "input_order", "time");
    REQUIRE(dcm != NULL);
    REQUIRE(imd_series_ndim(dcm) == 4);
    char *folder = make_folder("metaio-dicom");
    REQUIRE(folder != NULL);
    const char *sorts[] = {"slice", "tag"};
    for (size_t i = 0; i < 2; i++) {
        char target[4200];
        snprintf(target, sizeof target, "%s/%s", folder, sorts[i]);
        REQUIRE(write_with(dcm, target, "output_sort", sorts[i]));
        ImdSeries *back = read_with(target, "input_sort", sorts[i]);
        REQUIRE(back != NULL);
        REQUIRE(same_shape(dcm, back));
        CHECK_INT(imd_series_dtype(back), imd_series_dtype(dcm));
        CHECK(memcmp(imd_series_const_data(dcm), imd_series_const_data(back),
                     imd_series_nbytes(dcm)) == 0);
        check_geometry(dcm, back, 1e-4);
        imd_series_destroy(back);
    }
    remove_folder(folder);
    imd_series_destroy(dcm);
}

/* ---- round trips ---- */

IMD_TEST(round_trip_3d)
{
    char *folder = make_folder("metaio-3d");
    REQUIRE(folder != NULL);
    size_t shape[3] = {4, 5, 6};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 3, shape);
    REQUIRE(series != NULL);
    REQUIRE(write_with(series, folder, NULL, NULL));
    char path[4096];
    snprintf(path, sizeof path, "%s/Image.mha", folder);
    CHECK(access(path, R_OK) == 0);
    ImdSeries *back = read_with(path, NULL, NULL);
    REQUIRE(back != NULL);
    REQUIRE(same_shape(series, back));
    CHECK_INT(imd_series_dtype(back), IMD_DTYPE_UINT16);
    CHECK(memcmp(imd_series_const_data(series), imd_series_const_data(back),
                 imd_series_nbytes(series)) == 0);
    check_geometry(series, back, 1e-6);
    /* The written TransformMatrix holds unit vectors (§12). */
    char *text = read_text(path);
    REQUIRE(text != NULL);
    const char *line = strstr(text, "TransformMatrix =");
    REQUIRE(line != NULL);
    double m[9];
    CHECK_INT(sscanf(line, "TransformMatrix = %lf %lf %lf %lf %lf %lf %lf %lf %lf", &m[0], &m[1],
                     &m[2], &m[3], &m[4], &m[5], &m[6], &m[7], &m[8]),
              9);
    for (int k = 0; k < 3; k++) {
        CHECK_NEAR(m[3 * k] * m[3 * k] + m[3 * k + 1] * m[3 * k + 1] + m[3 * k + 2] * m[3 * k + 2],
                   1, 1e-9);
    }
    free(text);
    /* headers_only: the same shape and geometry, the voxels left zero (the
     * file is mapped, its voxels never read). */
    ImdSeries *headers = read_with(path, "headers_only", "true");
    REQUIRE(headers != NULL);
    CHECK(same_shape(series, headers));
    check_geometry(series, headers, 1e-6);
    const uint8_t *zero = imd_series_const_data(headers);
    size_t nonzero = 0;
    for (size_t i = 0; i < imd_series_nbytes(headers); i++) {
        nonzero += zero[i] != 0;
    }
    CHECK_INT(nonzero, 0);
    imd_series_destroy(headers);
    /* A named target without a suffix gets ".mha". */
    snprintf(path, sizeof path, "%s/named", folder);
    REQUIRE(write_with(series, path, NULL, NULL));
    snprintf(path, sizeof path, "%s/named.mha", folder);
    CHECK(access(path, R_OK) == 0);
    imd_series_destroy(back);
    imd_series_destroy(series);
    remove_folder(folder);
}

IMD_TEST(round_trip_2d)
{
    char *folder = make_folder("metaio-2d");
    REQUIRE(folder != NULL);
    size_t shape[2] = {7, 9};
    ImdSeries *series = make_series(IMD_DTYPE_INT16, 2, shape);
    REQUIRE(series != NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/slice.mha", folder);
    REQUIRE(write_with(series, path, NULL, NULL));
    ImdSeries *back = read_with(path, NULL, NULL);
    REQUIRE(back != NULL);
    REQUIRE(same_shape(series, back));
    CHECK_INT(imd_series_dtype(back), IMD_DTYPE_INT16);
    CHECK(memcmp(imd_series_const_data(series), imd_series_const_data(back),
                 imd_series_nbytes(series)) == 0);
    ImdVec3 pa, pb;
    CHECK(imd_header_image_position(imd_series_const_header(series), 0, &pa) &&
          imd_header_image_position(imd_series_const_header(back), 0, &pb) &&
          fabs(pa.x - pb.x) + fabs(pa.y - pb.y) + fabs(pa.z - pb.z) < 1e-6);
    imd_series_destroy(back);
    imd_series_destroy(series);
    remove_folder(folder);
}

IMD_TEST(round_trip_4d)
{
    char *folder = make_folder("metaio-4d");
    REQUIRE(folder != NULL);
    size_t shape[4] = {3, 4, 5, 6};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 4, shape);
    REQUIRE(series != NULL);
    /* Per tag: a new target "four" becomes four/Image_0000N.mha. */
    char path[4096];
    snprintf(path, sizeof path, "%s/four", folder);
    REQUIRE(write_with(series, path, NULL, NULL));
    for (int t = 0; t < 3; t++) {
        char file[4200];
        snprintf(file, sizeof file, "%s/Image_%05d.mha", path, t);
        CHECK(access(file, R_OK) == 0);
    }
    ImdSeries *back = read_with(path, NULL, NULL);
    REQUIRE(back != NULL);
    REQUIRE(same_shape(series, back));
    CHECK(memcmp(imd_series_const_data(series), imd_series_const_data(back),
                 imd_series_nbytes(series)) == 0);
    check_geometry(series, back, 1e-6);
    CHECK_INT(imd_series_tag_ndim(back), 1);
    imd_series_destroy(back);
    /* output_sort=tag: a file per slice, read back with input_sort=tag. */
    snprintf(path, sizeof path, "%s/bytag", folder);
    REQUIRE(write_with(series, path, "output_sort", "tag"));
    for (int s = 0; s < 4; s++) {
        char file[4200];
        snprintf(file, sizeof file, "%s/Image_%05d.mha", path, s);
        CHECK(access(file, R_OK) == 0);
    }
    back = read_with(path, "input_sort", "tag");
    REQUIRE(back != NULL);
    REQUIRE(same_shape(series, back));
    CHECK(memcmp(imd_series_const_data(series), imd_series_const_data(back),
                 imd_series_nbytes(series)) == 0);
    check_geometry(series, back, 1e-6);
    CHECK_INT(imd_header_tag_ndim(imd_series_const_header(back)), 1);
    imd_series_destroy(back);
    /* A 4D file read alone is 3D per volume; input_order names the tag axis. */
    snprintf(path, sizeof path, "%s/four", folder);
    back = read_with(path, "input_order", "time");
    REQUIRE(back != NULL);
    CHECK_STR(imd_axis_name(imd_series_axis(back, 0)), "time");
    CHECK_STR(imd_header_input_order(imd_series_const_header(back)), "time");
    imd_series_destroy(back);
    imd_series_destroy(series);
    remove_folder(folder);
}

/* Two tag axes (issue 23): one NDims = 5 file, the tags' names and values in our keys. */
IMD_TEST(round_trip_5d)
{
    char *folder = make_folder("metaio-5d");
    REQUIRE(folder != NULL);
    size_t shape[5] = {2, 3, 4, 5, 6};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 5, shape);
    REQUIRE(series != NULL);
    ImdError *error = NULL;
    CHECK_OK(error, imd_series_set_input_order(&error, series, "time,te"));
    const double te[3] = {2.05, 9.84, 13.72};
    ImdAxis *time_axis = imd_axis_create_uniform(&error, "time", 100, 2.5, 2);
    ImdAxis *te_axis = imd_axis_create_numbers(&error, "te", te, 3);
    REQUIRE(time_axis != NULL && te_axis != NULL);
    CHECK_OK(error, imd_series_set_axis(&error, series, 0, time_axis));
    CHECK_OK(error, imd_series_set_axis(&error, series, 1, te_axis));
    char path[4096];
    snprintf(path, sizeof path, "%s/five.mha", folder);
    REQUIRE(write_with(series, path, NULL, NULL));
    char *text = read_text(path);
    REQUIRE(text != NULL);
    /* MetaIO's fastest-first order: columns, rows, slices, te, time. */
    CHECK(strstr(text, "NDims = 5\n") != NULL);
    CHECK(strstr(text, "DimSize = 6 5 4 3 2\n") != NULL);
    CHECK(strstr(text, "ImagedataInputOrder = time,te\n") != NULL);
    CHECK(strstr(text, "ImagedataTagAxis0 = time 100 102.5\n") != NULL);
    CHECK(strstr(text, "ImagedataTagAxis1 = te 2.05 9.84 13.72\n") != NULL);
    /* n x n matrix, n offsets, n spacings (the tag steps: te is not uniform: 1). */
    const char *matrix = strstr(text, "TransformMatrix =");
    size_t numbers = 0;
    for (const char *p = matrix != NULL ? matrix + 17 : ""; *p != '\n' && *p != '\0'; p++) {
        numbers += p[0] == ' ' && p[1] != ' ';
    }
    CHECK_INT(numbers, 25);
    CHECK(strstr(text, "ElementSpacing = 0.80000000000000004 0.75 2.5 1 2.5\n") != NULL);
    const char *offset = strstr(text, "\nOffset = ");
    CHECK(offset != NULL && strstr(offset, " 2.0499999999999998 100\n") != NULL);
    /* Our keys come before ElementDataFile, which is last (MetaIO). */
    CHECK(strstr(text, "ImagedataTagAxis1") < strstr(text, "ElementDataFile"));
    free(text);
    /* Back as the same 5D series: voxels, geometry, order, tag axes and tags. */
    ImdSeries *back = read_with(path, NULL, NULL);
    REQUIRE(back != NULL);
    REQUIRE(same_shape(series, back));
    CHECK(memcmp(imd_series_const_data(series), imd_series_const_data(back),
                 imd_series_nbytes(series)) == 0);
    check_geometry(series, back, 1e-6);
    const ImdHeader *header = imd_series_const_header(back);
    CHECK_STR(imd_header_input_order(header), "time,te");
    CHECK_INT(imd_series_tag_ndim(back), 2);
    CHECK_STR(imd_axis_name(imd_series_axis(back, 0)), "time");
    CHECK_STR(imd_axis_name(imd_series_axis(back, 1)), "te");
    CHECK_NEAR(imd_axis_number(imd_series_axis(back, 0), 1), 102.5, 0);
    for (size_t i = 0; i < 3; i++) {
        CHECK_NEAR(imd_axis_number(imd_series_axis(back, 1), i), te[i], 0);
    }
    CHECK_INT(imd_header_tag_ndim(header), 2);
    size_t index[2] = {1, 2};
    const ImdValue *cell = imd_header_tag(header, 3, index);
    CHECK(cell != NULL && cell[0].v[0] == 102.5 && cell[1].v[0] == 13.72);
    imd_series_destroy(back);
    /* The user's order names the axes (the values stay). */
    back = read_with(path, "input_order", "a,b");
    REQUIRE(back != NULL);
    CHECK_STR(imd_axis_name(imd_series_axis(back, 1)), "b");
    CHECK_NEAR(imd_axis_number(imd_series_axis(back, 1), 2), 13.72, 0);
    imd_series_destroy(back);
    /* Compressed, and as .mhd + .zraw. */
    snprintf(path, sizeof path, "%s/five.mhd", folder);
    REQUIRE(write_with(series, path, "compress", "true"));
    back = read_with(path, NULL, NULL);
    REQUIRE(back != NULL);
    REQUIRE(same_shape(series, back));
    CHECK(memcmp(imd_series_const_data(series), imd_series_const_data(back),
                 imd_series_nbytes(series)) == 0);
    imd_series_destroy(back);
    imd_series_destroy(series);
    remove_folder(folder);
}

IMD_TEST(round_trip_types)
{
    char *folder = make_folder("metaio-types");
    REQUIRE(folder != NULL);
    size_t shape[3] = {2, 5, 7};
    const struct {
        ImdDType in, out;
        const char *name;
    } cases[] = {
        {IMD_DTYPE_BOOL, IMD_DTYPE_UINT8, "bool.mha"},
        {IMD_DTYPE_FLOAT64, IMD_DTYPE_FLOAT32, "float.mha"},
        {IMD_DTYPE_INT32, IMD_DTYPE_FLOAT32, "int32.mha"},
        {IMD_DTYPE_RGB8, IMD_DTYPE_RGB8, "rgb.mha"},
        {IMD_DTYPE_UINT8, IMD_DTYPE_UINT8, "u8.mha"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ImdSeries *series = make_series(cases[i].in, 3, shape);
        REQUIRE(series != NULL);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", folder, cases[i].name);
        REQUIRE(write_with(series, path, NULL, NULL));
        ImdSeries *back = read_with(path, NULL, NULL);
        REQUIRE(back != NULL);
        CHECK(same_shape(series, back));
        CHECK_INT(imd_series_dtype(back), cases[i].out);
        size_t count = imd_series_count(series);
        const uint8_t *a = imd_series_const_data(series), *b = imd_series_const_data(back);
        bool equal = true;
        for (size_t k = 0; k < count; k++) {
            if (cases[i].in == IMD_DTYPE_FLOAT64) {
                double x;
                float y;
                memcpy(&x, a + 8 * k, 8);
                memcpy(&y, b + 4 * k, 4);
                equal = equal && (isnan(x) ? y == 0 : fabs(x - y) <= 1e-4 * fabs(x) + 1e-6);
            } else if (cases[i].in == IMD_DTYPE_INT32) {
                int32_t x;
                float y;
                memcpy(&x, a + 4 * k, 4);
                memcpy(&y, b + 4 * k, 4);
                equal = equal && (float)x == y;
            } else if (cases[i].in == IMD_DTYPE_RGB8) {
                equal = equal && memcmp(a + 3 * k, b + 3 * k, 3) == 0;
            } else {
                equal = equal && a[k] == b[k];
            }
        }
        CHECK(equal);
        check_geometry(series, back, 1e-6);
        imd_series_destroy(back);
        imd_series_destroy(series);
    }
    remove_folder(folder);
}

IMD_TEST(round_trip_compressed)
{
    char *folder = make_folder("metaio-zlib");
    REQUIRE(folder != NULL);
    size_t shape[3] = {3, 16, 20};
    ImdSeries *series = make_series(IMD_DTYPE_UINT16, 3, shape);
    REQUIRE(series != NULL);
    const char *names[] = {"packed.mha", "packed.mhd"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", folder, names[i]);
        REQUIRE(write_with(series, path, "compress", "true"));
        char *text = read_text(path);
        CHECK(text != NULL && strstr(text, "CompressedData = True") != NULL);
        free(text);
        ImdSeries *back = read_with(path, NULL, NULL);
        REQUIRE(back != NULL);
        REQUIRE(same_shape(series, back));
        CHECK(memcmp(imd_series_const_data(series), imd_series_const_data(back),
                     imd_series_nbytes(series)) == 0);
        check_geometry(series, back, 1e-6);
        imd_series_destroy(back);
    }
    char raw[4096];
    snprintf(raw, sizeof raw, "%s/packed.zraw", folder);
    CHECK(access(raw, R_OK) == 0);
    imd_series_destroy(series);
    remove_folder(folder);
}

/* ---- hand-made headers ---- */

/* Read `header` + `data` through the plugin directly; returns the error code (0: read). */
static ImdErrorCode plugin_read(const char *header, const void *data, size_t size,
                                ImdSeries **out)
{
    ImdError *error = NULL;
    size_t hlen = strlen(header);
    uint8_t *bytes = malloc(hlen + size + 1);
    if (bytes == NULL) {
        return IMD_ERR_NOMEM;
    }
    memcpy(bytes, header, hlen);
    if (size > 0) {
        memcpy(bytes + hlen, data, size);
    }
    const ImdFormatPlugin *plugin = &imd__metaio_format;
    void *reader = plugin->reader_create(&error, NULL, NULL);
    ImdStream *stream = imd_stream_open_memory(&error, bytes, hlen + size, "test.mha", NULL, NULL);
    ImdSeriesList *list = NULL;
    if (reader != NULL && stream != NULL &&
        plugin->reader_add(&error, reader, NULL, "test.mha", stream)) {
        list = plugin->reader_finish(&error, reader);
    }
    imd_stream_close(NULL, stream);
    plugin->reader_destroy(reader);
    free(bytes);
    ImdErrorCode code = imd_error_code(error);
    if ((list == NULL) != (error != NULL)) {
        IMD_FAIL_AT("result/error invariant broken");
    }
    if (list != NULL && out != NULL) {
        *out = imd_series_list_take(list, 0);
    }
    imd_series_list_destroy(list);
    imd_error_clear(&error);
    return code;
}

IMD_TEST(hand_made)
{
    /* Big-endian int16, 2D, a ScaleFree header with Origin and no matrix. */
    const uint8_t be[] = {0x01, 0x02, 0xff, 0xfe, 0x00, 0x05, 0x80, 0x00};
    ImdSeries *series = NULL;
    CHECK_INT(plugin_read("ObjectType = Image\nNDims = 2\nDimSize = 2 2\n"
                          "ElementType = MET_SHORT\nBinaryDataByteOrderMSB = True\n"
                          "Origin = 1 2\nElementSpacing = 0.5 0.25\nElementDataFile = LOCAL\n",
                          be, sizeof be, &series),
              0);
    REQUIRE(series != NULL);
    CHECK_INT(imd_series_ndim(series), 2);
    const int16_t *v = imd_series_const_data(series);
    CHECK_INT(v[0], 0x0102);
    CHECK_INT(v[1], -2);
    CHECK_INT(v[2], 5);
    CHECK_INT(v[3], -32768);
    double spacing[3];
    imd_series_spacing(series, spacing);
    CHECK_NEAR(spacing[1], 0.25, 1e-12);
    CHECK_NEAR(spacing[2], 0.5, 1e-12);
    imd_series_destroy(series);
    series = NULL;
    /* 4D: a tag axis (0, nt, spacing[3]). */
    uint8_t four[2 * 2 * 1 * 3] = {0};
    CHECK_INT(plugin_read("NDims = 4\nDimSize = 2 2 1 3\nElementSpacing = 1 1 1 2.5\n"
                          "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
                          four, sizeof four, &series),
              0);
    REQUIRE(series != NULL);
    CHECK_INT(imd_series_ndim(series), 4);
    CHECK_INT(imd_series_dim(series, 0), 3);
    double step = 0;
    CHECK(imd_axis_step(imd_series_axis(series, 0), &step) && fabs(step - 2.5) < 1e-12);
    imd_series_destroy(series);
    series = NULL;
    /* 5D without our keys (as ITK writes it): two tag axes "none", steps from the spacing;
     * a size-1 slowest dimension is squeezed (6D -> 5D). */
    uint8_t five[2 * 2 * 1 * 3 * 2] = {0};
    five[12] = 7; /* (x 0, y 0, z 0, d3 0, d4 1) */
    CHECK_INT(plugin_read("NDims = 6\nDimSize = 2 2 1 3 2 1\nElementSpacing = 1 1 1 2 4 1\n"
                          "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n",
                          five, sizeof five, &series),
              0);
    REQUIRE(series != NULL);
    CHECK_INT(imd_series_ndim(series), 5);
    CHECK_INT(imd_series_dim(series, 0), 2);
    CHECK_INT(imd_series_dim(series, 1), 3);
    CHECK_INT(imd_series_tag_ndim(series), 2);
    CHECK(imd_axis_step(imd_series_axis(series, 0), &step) && fabs(step - 4) < 1e-12);
    CHECK(imd_axis_step(imd_series_axis(series, 1), &step) && fabs(step - 2) < 1e-12);
    CHECK_INT(((const uint8_t *)imd_series_const_data(series))[12], 7);
    imd_series_destroy(series);
}

IMD_TEST(data_files)
{
    char *folder = make_folder("metaio-files");
    REQUIRE(folder != NULL);
    char path[4096];
    uint8_t slice[6] = {1, 2, 3, 4, 5, 6};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/part%03d.raw", folder, k + 1);
        slice[0] = (uint8_t)(10 + k);
        REQUIRE(write_file(path, slice, sizeof slice));
    }
    const char *pattern = "NDims = 3\nDimSize = 3 2 2\nElementType = MET_UCHAR\n"
                          "ElementDataFile = part%03d.raw 1 2 1\n";
    snprintf(path, sizeof path, "%s/pattern.mhd", folder);
    REQUIRE(write_file(path, pattern, strlen(pattern)));
    ImdSeries *series = read_with(path, NULL, NULL);
    REQUIRE(series != NULL);
    CHECK_INT(imd_series_ndim(series), 3);
    const uint8_t *v = imd_series_const_data(series);
    CHECK(v[0] == 10 && v[6] == 11 && v[11] == 6);
    imd_series_destroy(series);
    remove(path);
    const char *list = "NDims = 3\nDimSize = 3 2 2\nElementType = MET_UCHAR\n"
                       "ElementDataFile = LIST\npart002.raw\npart001.raw\n";
    snprintf(path, sizeof path, "%s/list.mhd", folder);
    REQUIRE(write_file(path, list, strlen(list)));
    series = read_with(path, NULL, NULL);
    REQUIRE(series != NULL);
    v = imd_series_const_data(series);
    CHECK(v[0] == 11 && v[6] == 10);
    imd_series_destroy(series);
    remove_folder(folder);
}

IMD_TEST(hostile_headers)
{
    uint8_t data[64] = {0};
    const struct {
        const char *header;
        size_t size;
        ImdErrorCode code;
    } cases[] = {
        {"ObjectType = Image\nNDims = 3\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64,
         IMD_ERR_CORRUPT},
        {"NDims = 2\nDimSize = -4 4\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64,
         IMD_ERR_CORRUPT},
        {"NDims = 2\nDimSize = 8 9\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64,
         IMD_ERR_CORRUPT},
        {"NDims = 200\nDimSize = 8 8\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64,
         IMD_ERR_LIMIT},
        {"NDims = 3\nDimSize = 2000000000 2000000000 2000000000\nElementType = MET_DOUBLE\n"
         "ElementDataFile = LOCAL\n",
         64, IMD_ERR_LIMIT},
        {"NDims = 2\nDimSize = 4 4\nElementType = MET_UCHAR\nCompressedData = True\n"
         "ElementDataFile = LOCAL\n",
         64, IMD_ERR_CORRUPT},
        {"NDims = 2\nDimSize = 4 4\nElementType = MET_UCHAR\n", 0, IMD_ERR_CORRUPT},
        {"NDims = 2\nDimSize = 4 4\nElementType = MET_BOGUS\nElementDataFile = LOCAL\n", 64,
         IMD_ERR_UNSUPPORTED},
        {"NDims = 2\nDimSize = 4 4 4\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64,
         IMD_ERR_CORRUPT},
        {"NDims = 2\nDimSize = 4 x\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64,
         IMD_ERR_CORRUPT},
        {"NDims = 2\nDimSize = 4 4\nElementType = MET_UCHAR\nElementDataFile = d%d%d.raw 1 2\n",
         0, IMD_ERR_CORRUPT},
        {"NDims = 2\nDimSize = 4 4\nElementType = MET_UCHAR\nElementDataFile = ../x.raw\n", 0,
         IMD_ERR_UNSUPPORTED},
        /* More dimensions than MetaIO (10) or a series (8) holds. */
        {"NDims = 11\nDimSize = 1 1 1 1 1 1 1 1 1 1 1\nElementType = MET_UCHAR\n"
         "ElementDataFile = LOCAL\n", 64, IMD_ERR_LIMIT},
        {"NDims = 9\nDimSize = 1 1 1 1 1 1 1 1 2\nElementType = MET_UCHAR\n"
         "ElementDataFile = LOCAL\n", 64, IMD_ERR_UNSUPPORTED},
        /* Our tag keys: an unknown index, twice, a gap, values that do not fit, NDims. */
        {"NDims = 5\nDimSize = 2 2 2 2 2\nImagedataTagAxis9 = a\nElementType = MET_UCHAR\n"
         "ElementDataFile = LOCAL\n", 64, IMD_ERR_CORRUPT},
        {"NDims = 5\nDimSize = 2 2 2 2 2\nImagedataTagAxis0 = a\nImagedataTagAxis0 = a\n"
         "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64, IMD_ERR_CORRUPT},
        {"NDims = 5\nDimSize = 2 2 2 2 2\nImagedataTagAxis0 = a\nImagedataTagAxis2 = b\n"
         "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64, IMD_ERR_CORRUPT},
        {"NDims = 5\nDimSize = 2 2 2 2 2\nImagedataTagAxis0 = a 1 2 3\nImagedataTagAxis1 = b\n"
         "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64, IMD_ERR_CORRUPT},
        {"NDims = 5\nDimSize = 2 2 2 2 2\nImagedataTagAxis0 = a 1 x\nImagedataTagAxis1 = b\n"
         "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64, IMD_ERR_CORRUPT},
        {"NDims = 4\nDimSize = 2 2 2 2\nImagedataTagAxis0 = a\nImagedataTagAxis1 = b\n"
         "ElementType = MET_UCHAR\nElementDataFile = LOCAL\n", 64, IMD_ERR_CORRUPT},
        {"NDims = 5\nDimSize = 2 2 2 2 2\nImagedataTagAxis0 =\nElementType = MET_UCHAR\n"
         "ElementDataFile = LOCAL\n", 64, IMD_ERR_CORRUPT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ImdErrorCode code = plugin_read(cases[i].header, data, cases[i].size, NULL);
        if (code != cases[i].code) {
            IMD_FAIL_AT("case %zu: %s, expected %s", i, imd_error_code_name(code),
                        imd_error_code_name(cases[i].code));
        }
    }
    /* Not MetaIO at all: declined. */
    CHECK_INT(plugin_read("hello world\n", NULL, 0, NULL), IMD_ERR_NOT_RECOGNIZED);
    CHECK_INT(imd__metaio_format.probe((const uint8_t *)"NDims = 3\n", 10, "a.mha"), 90);
    CHECK_INT(imd__metaio_format.probe((const uint8_t *)"NDims = 3\n", 10, "a.raw"), 0);
    CHECK_INT(imd__metaio_format.probe((const uint8_t *)"\x01\x02", 2, "a.mha"), 0);
}

IMD_TEST_MAIN(IMD_CASE(reference_volume), IMD_CASE(reference_folder_and_zip), IMD_CASE(reference_dicom_round_trip), IMD_CASE(round_trip_3d), IMD_CASE(round_trip_2d), IMD_CASE(round_trip_4d), IMD_CASE(round_trip_5d), IMD_CASE(round_trip_types), IMD_CASE(round_trip_compressed), IMD_CASE(hand_made), IMD_CASE(data_files), IMD_CASE(hostile_headers))
