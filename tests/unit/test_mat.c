/*
 * test_mat.c: the MATLAB .mat plugin (src/formats/mat/format.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"
#include "internal.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef IMD_WITH_MATIO
#include <matio.h>
#endif

static char *tmp_path(const char *name)
{
    const char *dir = getenv("IMD_TEST_TMP");
    char *path = imd__sprintf(NULL, "%s/mat_%ld_%s", dir != NULL ? dir : "/tmp", (long)getpid(),
                              name);
    return path;
}

IMD_TEST(probe)
{
    static const char v5[128] = "MATLAB 5.0 MAT-file, Platform: posix";
    static const char v73[128] = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5 schema 1.00 .";
    const uint8_t junk[32] = {1, 2, 3};
    CHECK_INT(imd__mat_format.probe((const uint8_t *)v5, sizeof v5, "a.bin"), 100);
    CHECK_INT(imd__mat_format.probe((const uint8_t *)v73, sizeof v73, "a"), 100);
    CHECK_INT(imd__mat_format.probe(junk, sizeof junk, "x.MAT"), 30);
    CHECK_INT(imd__mat_format.probe(junk, sizeof junk, "x.nii"), 0);
    CHECK_STR(imd__mat_format.name, "mat");
}

#ifdef IMD_WITH_MATIO

static const char *data_dir(void)
{
    const char *dir = getenv("IMD_TEST_DATA");
    return dir != NULL && dir[0] != '\0' ? dir : NULL;
}

static bool file_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0;
}

/* Every voxel equal (same dtype and shape). */
static bool same_voxels(const ImdSeries *a, const ImdSeries *b)
{
    if (imd_series_dtype(a) != imd_series_dtype(b) || imd_series_ndim(a) != imd_series_ndim(b) ||
        imd_series_nbytes(a) != imd_series_nbytes(b)) {
        return false;
    }
    for (size_t d = 0; d < imd_series_ndim(a); d++) {
        if (imd_series_dim(a, d) != imd_series_dim(b, d)) {
            return false;
        }
    }
    return memcmp(imd_series_const_data(a), imd_series_const_data(b), imd_series_nbytes(a)) == 0;
}

IMD_TEST(read_reference)
{
    const char *data = data_dir();
    char *mat = data != NULL ? imd__sprintf(NULL, "%s/mat/time/Image_00000.mat", data) : NULL;
    if (mat == NULL || !file_exists(mat)) {
        free(mat);
        IMD_SKIP("no reference data (IMD_TEST_DATA/mat/time)");
    }
    char *dicom = imd__sprintf(NULL, "%s/dicom/time", data);
    char *folder = imd__sprintf(NULL, "%s/mat/time", data);
    ImdError *error = NULL;
    ImdSeries *m = imd_read_one(&error, NULL, mat, NULL);
    CHECK_OK(error, m != NULL);
    ImdSeries *f = imd_read_one(&error, NULL, folder, NULL);
    CHECK_OK(error, f != NULL);
    ImdSeries *d = imd_read_one(&error, NULL, dicom, NULL);
    CHECK_OK(error, d != NULL);
    if (m != NULL && d != NULL) {
        REQUIRE(imd_series_ndim(m) == 4);
        CHECK_INT(imd_series_dim(m, 0), 3);
        CHECK_INT(imd_series_dim(m, 1), 3);
        CHECK_INT(imd_series_dim(m, 2), 192);
        CHECK_INT(imd_series_dim(m, 3), 152);
        CHECK_INT(imd_series_dtype(m), IMD_DTYPE_UINT16);
        CHECK(same_voxels(m, d));
        CHECK_STR(imd_header_input_order(imd_series_const_header(m)), "none");
        CHECK_STR(imd_axis_name(imd_series_axis(m, 0)), "none");
        CHECK_NEAR(imd_axis_number(imd_series_axis(m, 0), 2), 2, 0);
        double spacing[3];
        imd_series_spacing(m, spacing);
        CHECK_NEAR(spacing[0], 1, 0);
        CHECK_NEAR(spacing[1], 1, 0);
        CHECK_NEAR(spacing[2], 1, 0);
    }
    if (f != NULL && m != NULL) {
        CHECK(same_voxels(f, m));
    }
    /* input_order names the tag axis */
    ImdOptions *options = imd_options_create(NULL);
    REQUIRE(options != NULL);
    CHECK_OK(error, imd_options_set(&error, options, "input_order", "time"));
    ImdSeries *t = imd_read_one(&error, NULL, mat, options);
    CHECK_OK(error, t != NULL);
    if (t != NULL) {
        CHECK_STR(imd_axis_name(imd_series_axis(t, 0)), "time");
    }
    imd_series_destroy(t);
    imd_options_destroy(options);
    imd_series_destroy(m);
    imd_series_destroy(f);
    imd_series_destroy(d);
    free(mat);
    free(folder);
    free(dicom);
}

static int first_mat(void *user, const char *name)
{
    char **found = user;
    size_t length = strlen(name);
    if (*found == NULL && length > 4 && strcmp(name + length - 4, ".mat") == 0) {
        *found = imd__strdup(NULL, name);
    }
    return 0;
}

IMD_TEST(read_zip)
{
    const char *data = data_dir();
    char *zip = data != NULL ? imd__sprintf(NULL, "%s/mat/time.zip", data) : NULL;
    if (zip == NULL || !file_exists(zip)) {
        free(zip);
        IMD_SKIP("no reference data (IMD_TEST_DATA/mat/time.zip)");
    }
    ImdError *error = NULL;
    ImdArchive *archive = imd_archive_open(&error, NULL, zip, IMD_MODE_READ, NULL);
    CHECK_OK(error, archive != NULL);
    char *member = NULL;
    if (archive != NULL) {
        CHECK_OK(error, imd_archive_list(&error, archive, NULL, first_mat, &member));
        imd_archive_abort(archive);
    }
    if (member == NULL) {
        free(zip);
        REQUIRE(member != NULL);
    }
    char *url = imd__sprintf(NULL, "%s?%s", zip, member);
    char *file = imd__sprintf(NULL, "%s/mat/time/Image_00000.mat", data);
    ImdSeries *z = imd_read_one(&error, NULL, url, NULL);
    CHECK_OK(error, z != NULL);
    ImdSeries *whole = imd_read_one(&error, NULL, zip, NULL);
    CHECK_OK(error, whole != NULL);
    ImdSeries *m = imd_read_one(&error, NULL, file, NULL);
    CHECK_OK(error, m != NULL);
    if (z != NULL && m != NULL) {
        CHECK(same_voxels(z, m));
    }
    if (whole != NULL && m != NULL) {
        CHECK(same_voxels(whole, m));
    }
    imd_series_destroy(z);
    imd_series_destroy(whole);
    imd_series_destroy(m);
    free(url);
    free(file);
    free(member);
    free(zip);
}

/* A series with element i = i (mod the type's range), distinct values. */
static ImdSeries *make_series(ImdDType dtype, size_t ndim, const size_t *shape)
{
    ImdSeries *s = imd_series_create(NULL, dtype, ndim, shape);
    if (s == NULL) {
        return NULL;
    }
    uint8_t *p = imd_series_data(s);
    size_t n = imd_series_count(s);
    for (size_t i = 0; i < n; i++) {
        switch (dtype) {
        case IMD_DTYPE_BOOL: p[i] = (uint8_t)(i % 3 == 0); break;
        case IMD_DTYPE_INT16: ((int16_t *)(void *)p)[i] = (int16_t)((int)i - 500); break;
        case IMD_DTYPE_UINT16: ((uint16_t *)(void *)p)[i] = (uint16_t)(i * 7); break;
        case IMD_DTYPE_FLOAT32: ((float *)(void *)p)[i] = (float)i * 0.5f - 3; break;
        case IMD_DTYPE_FLOAT64: ((double *)(void *)p)[i] = (double)i / 3.0; break;
        case IMD_DTYPE_COMPLEX64:
            ((float *)(void *)p)[2 * i] = (float)i;
            ((float *)(void *)p)[2 * i + 1] = -(float)i - 0.25f;
            break;
        default: p[i] = (uint8_t)i; break;
        }
    }
    return s;
}

/* Does the Python oracle (scipy for v5, h5py for v7.3) see A as [rows, cols, slices, tags]? */
static int python_check(const char *path, const ImdSeries *s, bool v73)
{
    const char *python = getenv("IMD_PYTHON");
    if (python == NULL || python[0] == '\0') {
        return 77;
    }
    char *probe = imd__sprintf(NULL, "\"%s\" -c 'import numpy, %s' >/dev/null 2>&1", python,
                               v73 ? "h5py" : "scipy.io");
    int have = probe != NULL ? system(probe) : -1;
    free(probe);
    if (have != 0) {
        return 77;
    }
    /* The expected MATLAB shape and A(i,j,k,l) = series[l][k][i][j] (C order). */
    size_t ndim = imd_series_ndim(s);
    ImdText dims = {0};
    imd__text_printf(&dims, "%zu,%zu", imd_series_dim(s, ndim - 2), imd_series_dim(s, ndim - 1));
    for (size_t d = ndim - 2; d-- > 0;) {
        imd__text_printf(&dims, ",%zu", imd_series_dim(s, d));
    }
    char *shape = imd__text_finish(NULL, &dims);
    char *raw = tmp_path("series.raw");
    FILE *f = raw != NULL ? fopen(raw, "wb") : NULL;
    if (f == NULL || shape == NULL) {
        free(shape);
        free(raw);
        if (f != NULL) {
            fclose(f);
        }
        return 1;
    }
    fwrite(imd_series_const_data(s), 1, imd_series_nbytes(s), f);
    fclose(f);
    const char *np = imd_series_dtype(s) == IMD_DTYPE_BOOL ? "bool_" : imd_dtype_name(imd_series_dtype(s));
    char *script = imd__sprintf(
        NULL,
        "\"%s\" -c '\n"
        "import sys, numpy as np\n"
        "shape = (%s,)\n"
        "c = np.fromfile(\"%s\", dtype=np.%s)\n"
        "nd = len(shape)\n"
        "c = c.reshape(tuple(reversed(shape[2:])) + shape[:2])\n"
        "want = np.transpose(c, tuple([nd - 2, nd - 1] + list(range(nd - 3, -1, -1))))\n"
        "if %d:\n"
        "    import h5py\n"
        "    a = np.array(h5py.File(\"%s\", \"r\")[\"A\"])\n"
        "    a = a.T\n"
        "    if a.dtype.names: a = a[\"real\"] + 1j * a[\"imag\"]\n"
        "else:\n"
        "    import scipy.io\n"
        "    a = scipy.io.loadmat(\"%s\")[\"A\"]\n"
        "ok = a.shape == shape and np.array_equal(a.astype(want.dtype), want)\n"
        "sys.exit(0 if ok else print(a.shape, shape, a.dtype) or 1)\n"
        "'",
        python, shape, raw, np, v73 ? 1 : 0, path, path);
    int status = script != NULL ? system(script) : -1;
    free(script);
    unlink(raw);
    free(raw);
    free(shape);
    return status == 0 ? 0 : 1;
}

static int oracle_skips;

/* Write, read back, compare; the file checked by matio directly and by Python. */
static void round_trip(ImdDType dtype, size_t ndim, const size_t *shape, const char *version)
{
    ImdError *error = NULL;
    ImdSeries *s = make_series(dtype, ndim, shape);
    REQUIRE(s != NULL);
    char *dir = tmp_path("rt");
    ImdOptions *options = imd_options_create(NULL);
    REQUIRE(dir != NULL && options != NULL);
    if (version != NULL) {
        CHECK_OK(error, imd_options_set(&error, options, "mat_version", version));
    }
    (void)mkdir(dir, 0700); /* an existing folder: the default name Image.mat */
    char *url = imd__sprintf(NULL, "%s", dir);
    char *file = imd__sprintf(NULL, "%s/Image.mat", dir);
    CHECK_OK(error, imd_write(&error, NULL, s, url, "mat", options));
    CHECK(file_exists(file));
    ImdSeries *back = imd_read_one(&error, NULL, file, NULL);
    CHECK_OK(error, back != NULL);
    if (back != NULL) {
        CHECK(same_voxels(s, back));
    }
    /* matio: variable A, dims [rows, cols, slices, tags] */
    mat_t *mat = Mat_Open(file, MAT_ACC_RDONLY);
    CHECK(mat != NULL);
    if (mat != NULL) {
        CHECK_INT(Mat_GetVersion(mat), version != NULL ? MAT_FT_MAT73 : MAT_FT_MAT5);
        matvar_t *v = Mat_VarReadInfo(mat, "A");
        CHECK(v != NULL);
        if (v != NULL) {
            size_t rank = ndim >= 2 ? ndim : 2;
            CHECK_INT(v->rank, rank);
            if ((size_t)v->rank == rank && ndim >= 2) {
                CHECK_INT(v->dims[0], shape[ndim - 2]);
                CHECK_INT(v->dims[1], shape[ndim - 1]);
                for (size_t d = 2; d < rank; d++) {
                    CHECK_INT(v->dims[d], shape[ndim - 1 - d]);
                }
            }
            Mat_VarFree(v);
        }
        Mat_Close(mat);
    }
    int py = python_check(file, s, version != NULL);
    if (py == 77) {
        oracle_skips++;
    } else {
        CHECK_INT(py, 0);
    }
    unlink(file);
    rmdir(dir);
    imd_series_destroy(back);
    imd_series_destroy(s);
    imd_options_destroy(options);
    free(url);
    free(file);
    free(dir);
}

IMD_TEST(write_read_round_trip)
{
    const size_t s3[3] = {4, 5, 6}, s4[4] = {3, 2, 5, 7}, s2[2] = {3, 4}, s5[5] = {2, 3, 2, 3, 4};
    round_trip(IMD_DTYPE_INT16, 3, s3, NULL);
    round_trip(IMD_DTYPE_UINT16, 4, s4, NULL);
    round_trip(IMD_DTYPE_BOOL, 3, s3, NULL);
    round_trip(IMD_DTYPE_FLOAT32, 4, s4, NULL);
    round_trip(IMD_DTYPE_FLOAT64, 2, s2, NULL);
    round_trip(IMD_DTYPE_COMPLEX64, 3, s3, NULL);
    round_trip(IMD_DTYPE_UINT8, 5, s5, NULL);
    round_trip(IMD_DTYPE_INT16, 4, s4, "7.3");
    round_trip(IMD_DTYPE_FLOAT64, 3, s3, "7.3");
    round_trip(IMD_DTYPE_BOOL, 3, s3, "7.3");
}

/* A known 2 x 3 x 2 array: A(i,j,k) = 100 i + 10 j + k (MATLAB order). */
IMD_TEST(layout_known_array)
{
    char *path = tmp_path("known.mat");
    REQUIRE(path != NULL);
    double a[2 * 3 * 2];
    for (size_t k = 0; k < 2; k++) {
        for (size_t j = 0; j < 3; j++) {
            for (size_t i = 0; i < 2; i++) {
                a[i + 2 * (j + 3 * k)] = 100.0 * (double)i + 10.0 * (double)j + (double)k;
            }
        }
    }
    size_t dims[3] = {2, 3, 2};
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    REQUIRE(mat != NULL);
    matvar_t *v = Mat_VarCreate("whatever", MAT_C_DOUBLE, MAT_T_DOUBLE, 3, dims, a, 0);
    CHECK(v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(v);
    Mat_Close(mat);
    ImdError *error = NULL;
    ImdSeries *s = imd_read_one(&error, NULL, path, NULL);
    CHECK_OK(error, s != NULL);
    if (s != NULL) {
        REQUIRE(imd_series_ndim(s) == 3);
        CHECK_INT(imd_series_dim(s, 0), 2); /* slices */
        CHECK_INT(imd_series_dim(s, 1), 2); /* rows */
        CHECK_INT(imd_series_dim(s, 2), 3); /* columns */
        const double *p = imd_series_const_data(s);
        for (size_t k = 0; k < 2; k++) {
            for (size_t i = 0; i < 2; i++) {
                for (size_t j = 0; j < 3; j++) {
                    CHECK_NEAR(p[(k * 2 + i) * 3 + j], 100.0 * (double)i + 10.0 * (double)j + (double)k, 0);
                }
            }
        }
    }
    imd_series_destroy(s);
    unlink(path);
    free(path);
}

IMD_TEST(several_variables)
{
    char *path = tmp_path("two.mat");
    REQUIRE(path != NULL);
    int16_t a[6] = {1, 2, 3, 4, 5, 6};
    float b[4] = {0.5f, 1.5f, 2.5f, 3.5f};
    size_t da[2] = {2, 3}, db[2] = {2, 2};
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    REQUIRE(mat != NULL);
    matvar_t *v = Mat_VarCreate("alpha", MAT_C_INT16, MAT_T_INT16, 2, da, a, 0);
    CHECK(v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_ZLIB) == 0);
    Mat_VarFree(v);
    v = Mat_VarCreate("beta", MAT_C_SINGLE, MAT_T_SINGLE, 2, db, b, 0);
    CHECK(v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_ZLIB) == 0);
    Mat_VarFree(v);
    Mat_Close(mat);
    ImdError *error = NULL;
    ImdSeries *s = imd_read_one(&error, NULL, path, NULL);
    CHECK(s == NULL);
    CHECK(error != NULL);
    if (error != NULL) {
        const char *message = imd_error_message(error);
        CHECK(strstr(message, "MultipleVariablesInMatlabFile") != NULL);
        CHECK(strstr(message, "alpha") != NULL);
        CHECK(strstr(message, "beta") != NULL);
        CHECK(strstr(message, "mat_variable") != NULL);
    }
    imd_error_clear(&error);
    imd_series_destroy(s);
    ImdOptions *options = imd_options_create(NULL);
    REQUIRE(options != NULL);
    CHECK_OK(error, imd_options_set(&error, options, "mat_variable", "beta"));
    s = imd_read_one(&error, NULL, path, options);
    CHECK_OK(error, s != NULL);
    if (s != NULL) {
        CHECK_INT(imd_series_dtype(s), IMD_DTYPE_FLOAT32);
        CHECK_INT(imd_series_ndim(s), 2);
        const float *p = imd_series_const_data(s);
        CHECK_NEAR(p[0], 0.5, 0);  /* (0,0) */
        CHECK_NEAR(p[1], 2.5, 0);  /* (0,1) = MATLAB element 2 */
        CHECK_NEAR(p[2], 1.5, 0);  /* (1,0) */
    }
    imd_series_destroy(s);
    CHECK_OK(error, imd_options_set(&error, options, "mat_variable", "gamma"));
    s = imd_read_one(&error, NULL, path, options);
    CHECK(s == NULL);
    CHECK(error != NULL && strstr(imd_error_message(error), "gamma") != NULL);
    imd_error_clear(&error);
    imd_options_destroy(options);
    unlink(path);
    free(path);
}

IMD_TEST(corrupt_file)
{
    char *path = tmp_path("x.mat");
    REQUIRE(path != NULL);
    uint64_t state = 0x9E3779B97F4A7C15u;
    for (int round = 0; round < 20; round++) {
        FILE *f = fopen(path, "wb");
        REQUIRE(f != NULL);
        size_t size = 16 + (size_t)round * 97;
        for (size_t i = 0; i < size; i++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            uint8_t byte = (uint8_t)(state >> 56);
            if (round >= 10 && i < 124) { /* a v5 header with junk after it */
                static const char head[] = "MATLAB 5.0 MAT-file, Platform: junk";
                byte = i < sizeof head - 1 ? (uint8_t)head[i] : (uint8_t)' ';
            }
            fputc(byte, f);
        }
        if (round >= 10) {
            fputc(0, f);
            fputc(1, f);
            fputc('I', f);
            fputc('M', f);
            for (size_t i = 0; i < size; i++) {
                state = state * 6364136223846793005u + 1442695040888963407u;
                fputc((int)(state >> 56), f);
            }
        }
        fclose(f);
        ImdError *error = NULL;
        ImdSeries *s = imd_read_one(&error, NULL, path, NULL);
        if (s == NULL) {
            CHECK(error != NULL && imd_error_message(error)[0] != '\0');
        }
        imd_series_destroy(s);
        imd_error_clear(&error);
    }
    unlink(path);
    free(path);
}

/* Is the rgb8 series held as MATLAB's truecolor [rows, cols, 3, slices, tags] uint8 with
 * A_colour = 'RGB', as scipy.io.loadmat (v5) or h5py (v7.3) read it? */
static int python_colour_check(const char *path, const ImdSeries *s, bool v73)
{
    const char *python = getenv("IMD_PYTHON");
    if (python == NULL || python[0] == '\0') {
        return 77;
    }
    char *probe = imd__sprintf(NULL, "\"%s\" -c 'import numpy, %s' >/dev/null 2>&1", python,
                               v73 ? "h5py" : "scipy.io");
    int have = probe != NULL ? system(probe) : -1;
    free(probe);
    if (have != 0) {
        return 77;
    }
    size_t ndim = imd_series_ndim(s);
    ImdText dims = {0};
    for (size_t d = 0; d < ndim; d++) {
        imd__text_printf(&dims, "%zu,", imd_series_dim(s, d));
    }
    char *shape = imd__text_finish(NULL, &dims);
    char *raw = tmp_path("colour.raw");
    FILE *f = raw != NULL ? fopen(raw, "wb") : NULL;
    if (f == NULL || shape == NULL) {
        free(shape);
        free(raw);
        if (f != NULL) {
            fclose(f);
        }
        return 1;
    }
    fwrite(imd_series_const_data(s), 1, imd_series_nbytes(s), f);
    fclose(f);
    /* series [..., tags, slices, rows, cols, rgb] -> MATLAB [rows, cols, rgb, slices, tags, ...] */
    char *script = imd__sprintf(
        NULL,
        "\"%s\" -c '\n"
        "import sys, numpy as np\n"
        "shape = (%s)\n"
        "c = np.fromfile(\"%s\", dtype=np.uint8).reshape(shape + (3,))\n"
        "nd = len(shape)\n"
        "want = np.transpose(c, (nd - 2, nd - 1, nd) + tuple(range(nd - 3, -1, -1)))\n"
        "if %d:\n"
        "    import h5py\n"
        "    h = h5py.File(\"%s\", \"r\")\n"
        "    a = np.array(h[\"A\"]).T\n"
        "    marker = \"\".join(chr(x) for x in np.array(h[\"A_colour\"]).ravel())\n"
        "    cls = h[\"A_colour\"].attrs[\"MATLAB_class\"]\n"
        "    ok = cls == b\"char\"\n"
        "else:\n"
        "    import scipy.io\n"
        "    m = scipy.io.loadmat(\"%s\")\n"
        "    a, marker, ok = m[\"A\"], str(m[\"A_colour\"][0]), True\n"
        "ok = ok and a.dtype == np.uint8 and a.shape == want.shape and np.array_equal(a, want)\n"
        "ok = ok and marker == \"RGB\"\n"
        "sys.exit(0 if ok else print(a.shape, want.shape, a.dtype, marker) or 1)\n"
        "'",
        python, shape, raw, v73 ? 1 : 0, path, path);
    int status = script != NULL ? system(script) : -1;
    free(script);
    unlink(raw);
    free(raw);
    free(shape);
    return status == 0 ? 0 : 1;
}

/* Colour (rgb8) as MATLAB's truecolor M x N x 3 uint8 with the A_colour marker, and back. */
IMD_TEST(colour_round_trip)
{
    const size_t s2[2] = {3, 5}, s4[4] = {2, 3, 4, 5};
    const struct {
        size_t ndim;
        const size_t *shape;
        const char *version;
    } cases[] = {{2, s2, NULL}, {4, s4, NULL}, {2, s2, "7.3"}, {4, s4, "7.3"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ImdSeries *s = make_series(IMD_DTYPE_RGB8, cases[k].ndim, cases[k].shape);
        REQUIRE(s != NULL);
        uint8_t *p = imd_series_data(s);
        for (size_t i = 0; i < imd_series_nbytes(s); i++) {
            p[i] = (uint8_t)(i * 7 + i / 3); /* R, G and B of a voxel differ */
        }
        char *file = tmp_path("colour.mat");
        ImdOptions *options = imd_options_create(NULL);
        REQUIRE(file != NULL && options != NULL);
        ImdError *error = NULL;
        if (cases[k].version != NULL) {
            CHECK_OK(error, imd_options_set(&error, options, "mat_version", cases[k].version));
        }
        CHECK_OK(error, imd_write(&error, NULL, s, file, "mat", options));
        ImdSeries *back = imd_read_one(&error, NULL, file, NULL);
        CHECK_OK(error, back != NULL);
        if (back != NULL) {
            CHECK_INT(imd_series_dtype(back), IMD_DTYPE_RGB8);
            CHECK(same_voxels(s, back));
        }
        mat_t *mat = Mat_Open(file, MAT_ACC_RDONLY);
        CHECK(mat != NULL);
        if (mat != NULL) {
            matvar_t *v = Mat_VarReadInfo(mat, "A");
            CHECK(v != NULL && v->class_type == MAT_C_UINT8 &&
                  (size_t)v->rank == cases[k].ndim + 1);
            if (v != NULL && (size_t)v->rank == cases[k].ndim + 1) {
                CHECK_INT(v->dims[0], cases[k].shape[cases[k].ndim - 2]);
                CHECK_INT(v->dims[1], cases[k].shape[cases[k].ndim - 1]);
                CHECK_INT(v->dims[2], 3);
            }
            Mat_VarFree(v);
            v = Mat_VarReadInfo(mat, "A_colour");
            CHECK(v != NULL && v->class_type == MAT_C_CHAR);
            Mat_VarFree(v);
            Mat_Close(mat);
        }
        int py = python_colour_check(file, s, cases[k].version != NULL);
        if (py == 77) {
            oracle_skips++;
        } else {
            CHECK_INT(py, 0);
        }
        /* headers_only: the shape and type without the voxels */
        CHECK_OK(error, imd_options_set(&error, options, "headers_only", "true"));
        ImdSeries *head = imd_read_one(&error, NULL, file, options);
        CHECK_OK(error, head != NULL);
        if (head != NULL) {
            CHECK_INT(imd_series_dtype(head), IMD_DTYPE_RGB8);
            CHECK_INT(imd_series_ndim(head), cases[k].ndim);
        }
        imd_series_destroy(head);
        unlink(file);
        imd_series_destroy(back);
        imd_series_destroy(s);
        imd_options_destroy(options);
        free(file);
    }
}

/* Write variables (name, class) into a v5 file: uint8 2 x 2 x 3 images, char text. */
static void write_variables(const char *path, const char *const *names, const char *const *texts,
                            size_t count)
{
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    REQUIRE(mat != NULL);
    for (size_t i = 0; i < count; i++) {
        uint8_t image[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        size_t dims[3] = {2, 2, 3};
        matvar_t *v;
        if (texts[i] != NULL) {
            char text[8];
            snprintf(text, sizeof text, "%s", texts[i]);
            size_t tdims[2] = {1, strlen(text)};
            v = Mat_VarCreate(names[i], MAT_C_CHAR, MAT_T_UINT8, 2, tdims, text, 0);
        } else {
            v = Mat_VarCreate(names[i], MAT_C_UINT8, MAT_T_UINT8, 3, dims, image, 0);
        }
        CHECK(v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE) == 0);
        Mat_VarFree(v);
    }
    Mat_Close(mat);
}

/* Only a char 'RGB' named after another variable marks it; a file without is as before. */
IMD_TEST(colour_marker_rules)
{
    char *path = tmp_path("marker.mat");
    REQUIRE(path != NULL);
    ImdError *error = NULL;
    /* No marker: an M x N x 3 uint8 array is three slices, as before. */
    const char *plain[] = {"A"}, *no_text[] = {NULL, NULL};
    write_variables(path, plain, no_text, 1);
    ImdSeries *s = imd_read_one(&error, NULL, path, NULL);
    CHECK_OK(error, s != NULL);
    if (s != NULL) {
        CHECK_INT(imd_series_dtype(s), IMD_DTYPE_UINT8);
        CHECK_INT(imd_series_ndim(s), 3);
        CHECK_INT(imd_series_dim(s, 0), 3);
    }
    imd_series_destroy(s);
    /* The marker under another name, or with another text: not a marker (two variables). */
    const char *other[] = {"A", "B_colour"}, *rgb[] = {NULL, "RGB"}, *xyz[] = {NULL, "XYZ"};
    const char *named[] = {"A", "A_colour"};
    write_variables(path, other, rgb, 2);
    s = imd_read_one(&error, NULL, path, NULL);
    CHECK(s == NULL && error != NULL &&
          strstr(imd_error_message(error), "MultipleVariablesInMatlabFile") != NULL);
    imd_error_clear(&error);
    write_variables(path, named, xyz, 2);
    s = imd_read_one(&error, NULL, path, NULL);
    CHECK(s == NULL && error != NULL &&
          strstr(imd_error_message(error), "MultipleVariablesInMatlabFile") != NULL);
    imd_error_clear(&error);
    /* A variable A_colour that is an image is not a marker either. */
    write_variables(path, named, no_text, 2);
    s = imd_read_one(&error, NULL, path, NULL);
    CHECK(s == NULL && error != NULL &&
          strstr(imd_error_message(error), "MultipleVariablesInMatlabFile") != NULL);
    imd_error_clear(&error);
    /* The marker on a hand-made truecolor array: read as rgb8, MATLAB's layout. */
    write_variables(path, named, rgb, 2);
    s = imd_read_one(&error, NULL, path, NULL);
    CHECK_OK(error, s != NULL);
    if (s != NULL) {
        CHECK_INT(imd_series_dtype(s), IMD_DTYPE_RGB8);
        CHECK_INT(imd_series_ndim(s), 2);
        const uint8_t *p = imd_series_const_data(s);
        /* voxel (row 1, col 0) = A(2,1,:) = elements 2, 6, 10 (1-based) */
        CHECK_INT(p[(1 * 2 + 0) * 3 + 0], 2);
        CHECK_INT(p[(1 * 2 + 0) * 3 + 1], 6);
        CHECK_INT(p[(1 * 2 + 0) * 3 + 2], 10);
        /* voxel (row 0, col 1) = A(1,2,:) = 3, 7, 11 */
        CHECK_INT(p[(0 * 2 + 1) * 3 + 0], 3);
        CHECK_INT(p[(0 * 2 + 1) * 3 + 2], 11);
    }
    imd_series_destroy(s);
    /* A marker on an array that is not M x N x 3 uint8: a clear error. */
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    REQUIRE(mat != NULL);
    int16_t values[4] = {1, 2, 3, 4};
    size_t dims[2] = {2, 2}, tdims[2] = {1, 3};
    matvar_t *v = Mat_VarCreate("A", MAT_C_INT16, MAT_T_INT16, 2, dims, values, 0);
    CHECK(v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(v);
    char rgb_text[] = "RGB";
    v = Mat_VarCreate("A_colour", MAT_C_CHAR, MAT_T_UINT8, 2, tdims, rgb_text, 0);
    CHECK(v != NULL && Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(v);
    Mat_Close(mat);
    s = imd_read_one(&error, NULL, path, NULL);
    CHECK(s == NULL && error != NULL && strstr(imd_error_message(error), "truecolor") != NULL);
    imd_error_clear(&error);
    unlink(path);
    free(path);
}

IMD_TEST(bad_version)
{
    ImdError *error = NULL;
    char *dir = tmp_path("version");
    ImdOptions *options = imd_options_create(NULL);
    const size_t s2[2] = {2, 2};
    ImdSeries *g = imd_series_create(NULL, IMD_DTYPE_INT16, 2, s2);
    REQUIRE(dir != NULL && options != NULL && g != NULL);
    CHECK_OK(error, imd_options_set(&error, options, "mat_version", "6"));
    CHECK_FAILS(error, imd_write(&error, NULL, g, dir, "mat", options), IMD_ERR_INVALID_ARG);
    imd_options_destroy(options);
    imd_series_destroy(g);
    rmdir(dir);
    free(dir);
}

/* Into a zip: the default member Image.mat, a named member, and "x" -> x.mat. */
IMD_TEST(write_zip)
{
    const size_t shape[4] = {2, 3, 4, 5};
    ImdSeries *s = make_series(IMD_DTYPE_INT16, 4, shape);
    char *zip = tmp_path("out.zip");
    REQUIRE(s != NULL && zip != NULL);
    unlink(zip);
    ImdError *error = NULL;
    CHECK_OK(error, imd_write(&error, NULL, s, zip, "mat", NULL));
    char *url = imd__sprintf(NULL, "%s?x", zip);
    CHECK_OK(error, imd_write(&error, NULL, s, url, "mat", NULL));
    const char *members[] = {"Image.mat", "x.mat"};
    for (size_t i = 0; i < 2; i++) {
        char *member = imd__sprintf(NULL, "%s?%s", zip, members[i]);
        ImdSeries *back = imd_read_one(&error, NULL, member, NULL);
        CHECK_OK(error, back != NULL);
        if (back != NULL) {
            CHECK(same_voxels(s, back));
            CHECK_INT(imd_series_dim(back, 0), 2);
        }
        imd_series_destroy(back);
        free(member);
    }
    unlink(zip);
    free(url);
    free(zip);
    imd_series_destroy(s);
}

IMD_TEST(python_oracle)
{
    if (oracle_skips > 0) {
        IMD_SKIP("%d file(s) not checked by scipy.io.loadmat / h5py: IMD_PYTHON (%s) lacks "
                 "numpy, scipy or h5py",
                 oracle_skips, getenv("IMD_PYTHON") != NULL ? getenv("IMD_PYTHON") : "unset");
    }
}

#else

IMD_TEST(without_matio)
{
    ImdError *error = NULL;
    const size_t shape[2] = {2, 2};
    ImdSeries *s = imd_series_create(NULL, IMD_DTYPE_INT16, 2, shape);
    char *dir = tmp_path("nomatio");
    CHECK_FAILS(error, imd_write(&error, NULL, s, dir, "mat", NULL), IMD_ERR_UNSUPPORTED);
    free(dir);
    imd_series_destroy(s);
}

#endif

#ifdef IMD_WITH_MATIO
IMD_TEST_MAIN(IMD_CASE(probe), IMD_CASE(read_reference), IMD_CASE(read_zip),
              IMD_CASE(write_read_round_trip), IMD_CASE(layout_known_array),
              IMD_CASE(several_variables), IMD_CASE(corrupt_file), IMD_CASE(colour_round_trip),
              IMD_CASE(colour_marker_rules), IMD_CASE(bad_version), IMD_CASE(write_zip),
              IMD_CASE(python_oracle))
#else
IMD_TEST_MAIN(IMD_CASE(probe), IMD_CASE(without_matio))
#endif
