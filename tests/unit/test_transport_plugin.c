/*
 * test_transport_plugin.c: a transport plugin written only against the
 * public headers (plugins/example_memory) serves reads and writes through
 * the whole pipeline: NIfTI, DICOM folders, a zip held in memory, DICOM as
 * whole data sets (put_dataset), and an aborted write leaves nothing. The
 * working folder must stay empty: nothing may fall back to the disk.
 */
#define _POSIX_C_SOURCE 200809L
#include <imagedata/imagedata.h>

#include "imd_test.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

typedef void StatsFn(const char *bucket, size_t *objects, size_t *datasets);
typedef void ClearFn(void);

typedef struct Fixture {
    ImdContext *context;
    void *library; /* our own handle on the plugin file, for its test hooks */
    StatsFn *stats;
    ClearFn *clear;
    char dir[1024];
    char *cwd;
} Fixture;

static bool setup(Fixture *f)
{
    memset(f, 0, sizeof *f);
    const char *plugin = getenv("IMD_MEMORY_PLUGIN");
    const char *tmp = getenv("IMD_TEST_TMP");
    ImdError *error = NULL;
    snprintf(f->dir, sizeof f->dir, "%s/transport-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (plugin == NULL || mkdtemp(f->dir) == NULL) {
        return false;
    }
    f->context = imd_context_create(&error);
    if (f->context == NULL || !imd_context_load_plugin(&error, f->context, plugin)) {
        fprintf(stderr, "setup: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return false;
    }
    f->library = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
    void *stats = f->library != NULL ? dlsym(f->library, "memory_transport_stats") : NULL;
    void *clear = f->library != NULL ? dlsym(f->library, "memory_transport_clear") : NULL;
    if (stats == NULL || clear == NULL) {
        return false;
    }
    memcpy(&f->stats, &stats, sizeof stats);
    memcpy(&f->clear, &clear, sizeof clear);
    f->clear();
    f->cwd = getcwd(NULL, 0);
    return f->cwd != NULL && chdir(f->dir) == 0;
}

static size_t entries(const char *path)
{
    DIR *dir = opendir(path);
    size_t count = 0;
    for (struct dirent *e; dir != NULL && (e = readdir(dir)) != NULL;) {
        count += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    if (dir != NULL) {
        closedir(dir);
    }
    return count;
}

static void teardown(Fixture *f)
{
    if (f->cwd != NULL) {
        CHECK_INT(entries("."), 0); /* nothing reached the disk */
        CHECK(chdir(f->cwd) == 0);
        free(f->cwd);
    }
    if (f->clear != NULL) {
        f->clear();
    }
    imd_context_destroy(f->context);
    if (f->library != NULL) {
        dlclose(f->library);
    }
    rmdir(f->dir);
}

static size_t objects(const Fixture *f, const char *bucket)
{
    size_t count = 0, datasets = 0;
    f->stats(bucket, &count, &datasets);
    return count;
}

static size_t datasets(const Fixture *f)
{
    size_t count = 0, put = 0;
    f->stats(NULL, &count, &put);
    return put;
}

/* A 3D int16 series (5 slices), value = index - 100, spacing (2, 1, 1). */
static ImdSeries *make_series(void)
{
    ImdError *error = NULL;
    size_t shape[3] = {5, 4, 3};
    ImdSeries *series = imd_series_create(&error, IMD_DTYPE_INT16, 3, shape);
    if (series == NULL) {
        imd_error_clear(&error);
        return NULL;
    }
    int16_t *data = imd_series_data(series);
    for (size_t i = 0; i < imd_series_count(series); i++) {
        data[i] = (int16_t)((int)i - 100);
    }
    double spacing[3] = {2, 1, 1};
    if (!imd_series_set_spacing(&error, series, spacing)) {
        imd_error_clear(&error);
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

/* Read `url` back as one series and compare shape and voxels with `want`. */
static void check_reads_back(Fixture *f, const char *url, const ImdSeries *want)
{
    ImdError *error = NULL;
    ImdSeries *got = imd_read_one(&error, f->context, url, NULL);
    CHECK_OK(error, got != NULL);
    if (got == NULL) {
        return;
    }
    CHECK_INT(imd_series_ndim(got), imd_series_ndim(want));
    CHECK_INT(imd_series_count(got), imd_series_count(want));
    if (imd_series_count(got) == imd_series_count(want) &&
        imd_series_dtype(got) == imd_series_dtype(want)) {
        CHECK(memcmp(imd_series_const_data(got), imd_series_const_data(want),
                     imd_series_nbytes(want)) == 0);
    } else {
        CHECK(imd_series_dtype(got) == imd_series_dtype(want));
    }
    imd_series_destroy(got);
}

IMD_TEST(nifti_round_trip_in_memory)
{
    Fixture f;
    if (!setup(&f)) {
        teardown(&f);
        IMD_SKIP("memory transport plugin or temporary folder unavailable");
    }
    ImdSeries *series = make_series();
    REQUIRE(series != NULL);
    ImdError *error = NULL;
    CHECK_OK(error, imd_write(&error, f.context, series, "memory://b1/out", "nifti", NULL));
    CHECK_INT(objects(&f, "b1"), 1); /* out.nii.gz */
    check_reads_back(&f, "memory://b1/out.nii.gz", series);
    /* "out" does not exist, "out.nii.gz" does: the written suffix is found. */
    check_reads_back(&f, "memory://b1/out", series);
    CHECK_FAILS(error, imd_read_one(&error, f.context, "memory://b1/none", NULL),
                IMD_ERR_NOT_FOUND);
    imd_series_destroy(series);
    teardown(&f);
}

IMD_TEST(dicom_folder_and_zip_in_memory)
{
    Fixture f;
    if (!setup(&f)) {
        teardown(&f);
        IMD_SKIP("memory transport plugin or temporary folder unavailable");
    }
    ImdSeries *series = make_series();
    REQUIRE(series != NULL);
    ImdError *error = NULL;
    /* A DICOM series: one object per slice, read back as a folder. */
    CHECK_OK(error, imd_write(&error, f.context, series, "memory://b2/dcm", "dicom", NULL));
    CHECK_INT(objects(&f, "b2"), 5);
    CHECK_INT(datasets(&f), 0); /* memory:// takes bytes */
    check_reads_back(&f, "memory://b2/dcm", series);
    /* A zip that lives only in the transport (libzip works in memory). */
    CHECK_OK(error, imd_write(&error, f.context, series, "memory://b3/x.zip?s1", "nifti", NULL));
    CHECK_INT(objects(&f, "b3"), 1);
    check_reads_back(&f, "memory://b3/x.zip", series);
    check_reads_back(&f, "memory://b3/x.zip?s1*", series);
    imd_series_destroy(series);
    teardown(&f);
}

IMD_TEST(dicom_as_datasets)
{
    Fixture f;
    if (!setup(&f)) {
        teardown(&f);
        IMD_SKIP("memory transport plugin or temporary folder unavailable");
    }
    ImdSeries *series = make_series();
    REQUIRE(series != NULL);
    ImdError *error = NULL;
    /* memds:// takes whole data sets: the DICOM writer hands them over. */
    CHECK_OK(error, imd_write(&error, f.context, series, "memds://b4/dcm", "dicom", NULL));
    CHECK_INT(datasets(&f), 5);
    CHECK_INT(objects(&f, "b4"), 5);
    check_reads_back(&f, "memds://b4/dcm", series);
    /* Other formats still go through bytes. */
    CHECK_OK(error, imd_write(&error, f.context, series, "memds://b4/n", "nifti", NULL));
    CHECK_INT(datasets(&f), 5);
    imd_series_destroy(series);
    teardown(&f);
}

IMD_TEST(failed_write_leaves_nothing)
{
    Fixture f;
    if (!setup(&f)) {
        teardown(&f);
        IMD_SKIP("memory transport plugin or temporary folder unavailable");
    }
    ImdSeries *series = make_series();
    REQUIRE(series != NULL);
    ImdError *error = NULL;
    /* Cancelled before the format writes: the transport is aborted. */
    imd_context_cancel(f.context);
    CHECK_FAILS(error, imd_write(&error, f.context, series, "memory://b5/dcm", "dicom", NULL),
                IMD_ERR_CANCELLED);
    imd_context_reset_cancel(f.context);
    CHECK_INT(objects(&f, "b5"), 0);
    /* Members committed, then the archive aborted: the transport removes them. */
    ImdArchive *archive = imd_archive_open(&error, f.context, "memory://b5/s", IMD_MODE_WRITE,
                                           NULL);
    CHECK_OK(error, archive != NULL);
    if (archive != NULL) {
        CHECK_OK(error, imd_archive_write_member(&error, archive, "a.dcm", "a", 1));
        CHECK_OK(error, imd_archive_write_member(&error, archive, "b/c.dcm", "c", 1));
        CHECK_INT(objects(&f, "b5"), 2);
        imd_archive_abort(archive);
    }
    CHECK_INT(objects(&f, "b5"), 0);
    /* Closed instead, they stay, under the folder the path named. */
    archive = imd_archive_open(&error, f.context, "memory://b5/s", IMD_MODE_WRITE, NULL);
    if (archive != NULL) {
        CHECK_OK(error, imd_archive_write_member(&error, archive, "a.dcm", "a", 1));
        CHECK_OK(error, imd_archive_close(&error, archive));
    }
    CHECK_INT(objects(&f, "b5"), 1);
    archive = imd_archive_open(&error, f.context, "memory://b5/s", IMD_MODE_READ, NULL);
    CHECK_OK(error, archive != NULL);
    ImdStream *stream = archive != NULL ? imd_archive_open_member(&error, archive, "a.dcm",
                                                                  IMD_MODE_READ)
                                        : NULL;
    char byte = 0;
    CHECK(stream != NULL && imd_stream_read(&error, stream, &byte, 1) == 1 && byte == 'a');
    imd_stream_abort(stream);
    imd_archive_abort(archive);
    /* A scheme nobody serves is named. */
    CHECK_FAILS(error, imd_write(&error, f.context, series, "nowhere://h/x", "nifti", NULL),
                IMD_ERR_UNSUPPORTED);
    imd_series_destroy(series);
    teardown(&f);
}

IMD_TEST_MAIN(IMD_CASE(nifti_round_trip_in_memory), IMD_CASE(dicom_folder_and_zip_in_memory),
              IMD_CASE(dicom_as_datasets), IMD_CASE(failed_write_leaves_nothing))
