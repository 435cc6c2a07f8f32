/*
 * test_read_write.c: the read/write pipeline (URL -> archive -> format),
 * driven through the example plugin: folders, single files, zip archives
 * with member patterns, several inputs, format selection, declines versus
 * errors, output naming, and the absence of partial output.
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Fixture {
    ImdContext *context;
    char dir[1024];
} Fixture;

static bool setup(Fixture *f)
{
    const char *plugin = getenv("IMD_EXAMPLE_PLUGIN");
    const char *tmp = getenv("IMD_TEST_TMP");
    ImdError *error = NULL;
    snprintf(f->dir, sizeof f->dir, "%s/rw-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (plugin == NULL || mkdtemp(f->dir) == NULL) {
        return false;
    }
    f->context = imd_context_create(&error);
    if (f->context == NULL || !imd_context_load_plugin(&error, f->context, plugin)) {
        fprintf(stderr, "setup: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return false;
    }
    return true;
}

static void remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir == NULL) {
        remove(path);
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            char child[2048];
            snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
            remove_tree(child);
        }
    }
    closedir(dir);
    rmdir(path);
}

static void teardown(Fixture *f)
{
    imd_context_destroy(f->context);
    remove_tree(f->dir);
}

/* A 4D uint16 series, value = index + offset, order time, spacing (3, 2, 1.5). */
static ImdSeries *make_series(unsigned offset)
{
    ImdError *error = NULL;
    size_t shape[4] = {2, 3, 4, 5};
    ImdSeries *series = imd_series_create(&error, IMD_DTYPE_UINT16, 4, shape);
    if (series == NULL) {
        return NULL;
    }
    uint16_t *data = imd_series_data(series);
    for (size_t i = 0; i < imd_series_count(series); i++) {
        data[i] = (uint16_t)(i + offset);
    }
    double spacing[3] = {3, 2, 1.5};
    if (!imd_series_set_input_order(&error, series, "time") ||
        !imd_series_set_spacing(&error, series, spacing)) {
        imd_error_clear(&error);
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

static char *path_in(const Fixture *f, const char *name)
{
    static char path[2048];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    return path;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    if (file != NULL) {
        fputs(text, file);
        fclose(file);
    }
}

IMD_TEST(write_then_read_back)
{
    Fixture f;
    if (!setup(&f)) {
        IMD_SKIP("example plugin or temporary folder unavailable");
    }
    ImdError *error = NULL;
    ImdSeries *series = make_series(0);
    REQUIRE(series != NULL);
    /* A new path: written as <path>.imdraw beside it. */
    CHECK_OK(error, imd_write(&error, f.context, series, path_in(&f, "first"), "imdraw", NULL));
    CHECK(exists(path_in(&f, "first.imdraw")));
    ImdSeries *back = imd_read_one(&error, f.context, path_in(&f, "first.imdraw"), NULL);
    REQUIRE(back != NULL);
    CHECK_INT(imd_series_ndim(back), 4);
    CHECK_INT(imd_series_dim(back, 0), 2);
    CHECK_INT(imd_series_dim(back, 3), 5);
    CHECK(memcmp(imd_series_const_data(back), imd_series_const_data(series),
                 imd_series_nbytes(series)) == 0);
    CHECK_STR(imd_header_input_order(imd_series_const_header(back)), "time");
    double spacing[3];
    imd_series_spacing(back, spacing);
    CHECK_NEAR(spacing[0], 3, 0);
    CHECK_NEAR(spacing[2], 1.5, 0);
    /* An existing folder: the format's default name inside it. */
    mkdir(path_in(&f, "out"), 0755);
    CHECK_OK(error, imd_write(&error, f.context, series, path_in(&f, "out"), "imdraw", NULL));
    CHECK(exists(path_in(&f, "out/Image.imdraw")));
    /* %p becomes the format name. */
    CHECK_OK(error, imd_write(&error, f.context, series, path_in(&f, "x_%p"), "imdraw", NULL));
    CHECK(exists(path_in(&f, "x_imdraw.imdraw")));
    imd_series_destroy(back);
    imd_series_destroy(series);
    teardown(&f);
}

IMD_TEST(folder_with_several_series_and_junk)
{
    Fixture f;
    if (!setup(&f)) {
        IMD_SKIP("example plugin or temporary folder unavailable");
    }
    ImdError *error = NULL;
    ImdSeries *a = make_series(0), *b = make_series(7);
    REQUIRE(a != NULL && b != NULL);
    mkdir(path_in(&f, "in"), 0755);
    mkdir(path_in(&f, "in/sub"), 0755);
    CHECK_OK(error, imd_write(&error, f.context, a, path_in(&f, "in/a"), "imdraw", NULL));
    CHECK_OK(error, imd_write(&error, f.context, b, path_in(&f, "in/sub/b"), "imdraw", NULL));
    write_text(path_in(&f, "in/notes.txt"), "not an image\n");
    ImdSeriesList *list = imd_read(&error, f.context,
                                   (const char *const[]){path_in(&f, "in")}, 1, NULL);
    REQUIRE(list != NULL);
    CHECK_INT(imd_series_list_count(list), 2);
    /* Sorted walk: in/a.imdraw before in/sub/b.imdraw. */
    const uint16_t *first = imd_series_const_data(imd_series_list_get(list, 0));
    const uint16_t *second = imd_series_const_data(imd_series_list_get(list, 1));
    CHECK_INT(first[0], 0);
    CHECK_INT(second[0], 7);
    imd_series_list_destroy(list);
    /* Several inputs are read together. */
    char one[2048], two[2048];
    snprintf(one, sizeof one, "%s", path_in(&f, "in/a.imdraw"));
    snprintf(two, sizeof two, "%s", path_in(&f, "in/sub"));
    list = imd_read(&error, f.context, (const char *const[]){one, two}, 2, NULL);
    CHECK(list != NULL && imd_series_list_count(list) == 2);
    imd_series_list_destroy(list);
    /* imd_read_one refuses several series. */
    CHECK_FAILS(error, imd_read_one(&error, f.context, path_in(&f, "in"), NULL) != NULL,
                IMD_ERR_INVALID_ARG);
    imd_series_destroy(a);
    imd_series_destroy(b);
    teardown(&f);
}

typedef struct Consumed {
    size_t count;
    size_t dicom_shapes; /* series of 3 slices: the DICOM ones */
} Consumed;

static bool consume(ImdError **error, void *user, ImdSeries *series)
{
    (void)error;
    Consumed *c = user;
    c->count++;
    c->dicom_shapes += imd_series_ndim(series) == 4 && imd_series_dim(series, 1) == 3;
    imd_series_destroy(series); /* ours now */
    return true;
}

/* imd_read_each: every series handed over once (DICOM as each is read, the
 * others at the end), a broken file among them a failure, not an error. */
IMD_TEST(read_each_streams_series_and_failures)
{
    Fixture f;
    if (!setup(&f)) {
        IMD_SKIP("example plugin or temporary folder unavailable");
    }
    ImdError *error = NULL;
    ImdSeries *a = make_series(0), *b = make_series(7);
    REQUIRE(a != NULL && b != NULL);
    mkdir(path_in(&f, "in"), 0755);
    CHECK_OK(error, imd_write(&error, f.context, a, path_in(&f, "in/a"), "dicom", NULL));
    CHECK_OK(error, imd_write(&error, f.context, b, path_in(&f, "in/b"), "dicom", NULL));
    CHECK_OK(error, imd_write(&error, f.context, b, path_in(&f, "in/c"), "imdraw", NULL));
    /* a DICOM file cut short in its header: a failure of that file */
    char broken[160] = {0};
    memcpy(broken + 128, "DICM\x02\x00\x10\x00UI\xff\x00", 12);
    FILE *file = fopen(path_in(&f, "in/broken.dcm"), "wb");
    REQUIRE(file != NULL);
    fwrite(broken, 1, sizeof broken, file);
    fclose(file);
    Consumed consumed = {0};
    ImdSeriesList *failures = imd_read_each(&error, f.context,
                                            (const char *const[]){path_in(&f, "in")}, 1, NULL,
                                            consume, &consumed);
    REQUIRE(failures != NULL);
    CHECK_INT(consumed.count, 3);
    CHECK_INT(consumed.dicom_shapes, 3);
    CHECK_INT(imd_series_list_count(failures), 0);
    CHECK_INT(imd_series_list_failure_count(failures), 1);
    const ImdError *failure = imd_series_list_failure(failures, 0);
    CHECK(failure != NULL && strstr(imd_error_message(failure), "broken.dcm") != NULL);
    imd_series_list_destroy(failures);
    /* imd_read gives the same: three series and the failure. */
    ImdSeriesList *list = imd_read(&error, f.context, (const char *const[]){path_in(&f, "in")},
                                   1, NULL);
    REQUIRE(list != NULL);
    CHECK_INT(imd_series_list_count(list), 3);
    CHECK_INT(imd_series_list_failure_count(list), 1);
    imd_series_list_destroy(list);
    /* nothing readable: the failure is the error */
    mkdir(path_in(&f, "bad"), 0755);
    char from[2048];
    snprintf(from, sizeof from, "%s", path_in(&f, "in/broken.dcm"));
    CHECK(rename(from, path_in(&f, "bad/broken.dcm")) == 0);
    CHECK(imd_read_each(&error, f.context, (const char *const[]){path_in(&f, "bad")}, 1, NULL,
                        consume, &consumed) == NULL);
    CHECK(error != NULL && strstr(imd_error_message(error), "broken.dcm") != NULL);
    imd_error_clear(&error);
    imd_series_destroy(a);
    imd_series_destroy(b);
    teardown(&f);
}

IMD_TEST(zip_write_append_and_select)
{
    Fixture f;
    if (!setup(&f)) {
        IMD_SKIP("example plugin or temporary folder unavailable");
    }
#ifndef IMD_WITH_ZIP
    teardown(&f);
    IMD_SKIP("built without libzip");
#else
    ImdError *error = NULL;
    ImdSeries *a = make_series(0), *b = make_series(100);
    REQUIRE(a != NULL && b != NULL);
    char url[4200]; /* a path of up to 2048 bytes plus the member */
    snprintf(url, sizeof url, "%s?first.imdraw", path_in(&f, "both.zip"));
    CHECK_OK(error, imd_write(&error, f.context, a, url, "imdraw", NULL));
    snprintf(url, sizeof url, "%s?dir/second.imdraw", path_in(&f, "both.zip"));
    CHECK_OK(error, imd_write(&error, f.context, b, url, "imdraw", NULL));
    /* Both members are there: the second write added, it did not truncate. */
    ImdSeriesList *list = imd_read(&error, f.context,
                                   (const char *const[]){path_in(&f, "both.zip")}, 1, NULL);
    CHECK(list != NULL && imd_series_list_count(list) == 2);
    imd_series_list_destroy(list);
    snprintf(url, sizeof url, "%s?dir", path_in(&f, "both.zip"));
    ImdSeries *second = imd_read_one(&error, f.context, url, NULL);
    REQUIRE(second != NULL);
    CHECK_INT(((const uint16_t *)imd_series_const_data(second))[0], 100);
    imd_series_destroy(second);
    snprintf(url, sizeof url, "%s?nothing*", path_in(&f, "both.zip"));
    CHECK_FAILS(error, imd_read_one(&error, f.context, url, NULL) != NULL, IMD_ERR_NOT_FOUND);
    imd_series_destroy(a);
    imd_series_destroy(b);
    teardown(&f);
#endif
}

IMD_TEST(declines_and_errors)
{
    Fixture f;
    if (!setup(&f)) {
        IMD_SKIP("example plugin or temporary folder unavailable");
    }
    ImdError *error = NULL;
    CHECK_FAILS(error, imd_read_one(&error, f.context, path_in(&f, "missing"), NULL) != NULL,
                IMD_ERR_NOT_FOUND);
    write_text(path_in(&f, "junk.txt"), "hello\n");
    ImdSeries *none = imd_read_one(&error, f.context, path_in(&f, "junk.txt"), NULL);
    CHECK(none == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_NOT_RECOGNIZED);
    CHECK(strstr(imd_error_message(error), "imdraw") != NULL); /* lists the formats tried */
    imd_error_clear(&error);
    /* A claimed but broken file is an error, not a skip. */
    write_text(path_in(&f, "broken.imdraw"), "IMDRAW 1\ndtype uint16\nshape 2 2\ndata\nab");
    CHECK_FAILS(error, imd_read_one(&error, f.context, path_in(&f, "broken.imdraw"), NULL) != NULL,
                IMD_ERR_CORRUPT);
    ImdOptions *options = imd_options_create(&error);
    REQUIRE(options != NULL);
    CHECK_OK(error, imd_options_set(&error, options, "input_format", "nosuchformat"));
    CHECK_FAILS(error, imd_read_one(&error, f.context, path_in(&f, "junk.txt"), options) != NULL,
                IMD_ERR_INVALID_ARG);
    CHECK_OK(error, imd_options_set(&error, options, "input_format", "imdraw"));
    CHECK_FAILS(error, imd_read_one(&error, f.context, path_in(&f, "junk.txt"), options) != NULL,
                IMD_ERR_NOT_RECOGNIZED);
    imd_options_destroy(options);
    /* A scheme no transport serves; a DICOM node that is not there (port 1 refuses). */
    CHECK_FAILS(error, imd_read_one(&error, f.context, "xnat://host/project", NULL) != NULL,
                IMD_ERR_UNSUPPORTED);
    CHECK_FAILS(error, imd_read_one(&error, f.context, "dicom://127.0.0.1:1/PACS", NULL) != NULL,
                IMD_ERR_NETWORK);
    teardown(&f);
}

IMD_TEST(write_errors_leave_nothing)
{
    Fixture f;
    if (!setup(&f)) {
        IMD_SKIP("example plugin or temporary folder unavailable");
    }
    ImdError *error = NULL;
    ImdSeries *series = make_series(0);
    REQUIRE(series != NULL);
    CHECK_FAILS(error, imd_write(&error, f.context, series, path_in(&f, "o"), "nosuch", NULL),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error,
                imd_write(&error, f.context, series, "dicom://127.0.0.1:104/PACS", "imdraw",
                          NULL),
                IMD_ERR_UNSUPPORTED);
    /* Writing into a folder that cannot be created fails cleanly. */
    write_text(path_in(&f, "file"), "x");
    CHECK(!imd_write(&error, f.context, series, path_in(&f, "file/sub/x"), "imdraw", NULL));
    CHECK(error != NULL);
    imd_error_clear(&error);
    /* Nothing but the files this test made is left in the folder. */
    DIR *dir = opendir(f.dir);
    REQUIRE(dir != NULL);
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        CHECK(entry->d_name[0] == '.' || strcmp(entry->d_name, "file") == 0);
    }
    closedir(dir);
    imd_series_destroy(series);
    teardown(&f);
}

/* Issue 22: the memory limit refuses, the cancel flag stops reads and writes, nothing is left. */
IMD_TEST(memory_limit_and_cancel)
{
    Fixture f;
    if (!setup(&f)) {
        IMD_SKIP("example plugin or temporary folder unavailable");
    }
    ImdError *error = NULL;
    ImdSeries *series = make_series(0);
    REQUIRE(series != NULL);
    const char *out = path_in(&f, "a.imdraw");
    char *written = strdup(out);
    REQUIRE(imd_write(&error, f.context, series, written, "imdraw", NULL));
    CHECK_INT(imd_context_memory_limit(f.context), 0);
    /* A limit below the image: LIMIT, naming both numbers. */
    imd_context_set_memory_limit(f.context, 16);
    CHECK_FAILS(error, imd_read_one(&error, f.context, written, NULL), IMD_ERR_LIMIT);
    imd_context_set_memory_limit(f.context, 16);
    ImdSeriesList *list = imd_read(&error, f.context, (const char *const *)&written, 1, NULL);
    CHECK(list == NULL && strstr(imd_error_message(error), "more than the memory limit of 16 "
                                                           "bytes") != NULL);
    imd_error_clear(&error);
    imd_context_set_memory_limit(f.context, 0);
    /* Cancelled: reads and writes fail with CANCELLED and write nothing. */
    CHECK(!imd_context_cancelled(f.context));
    imd_context_cancel(f.context);
    CHECK(imd_context_cancelled(f.context));
    CHECK_FAILS(error, imd_read_one(&error, f.context, written, NULL), IMD_ERR_CANCELLED);
    const char *other = path_in(&f, "b.imdraw");
    char *second = strdup(other);
    CHECK_FAILS(error, imd_write(&error, f.context, series, second, "imdraw", NULL) ? series : NULL,
                IMD_ERR_CANCELLED);
    CHECK(!exists(second));
    imd_context_reset_cancel(f.context);
    CHECK(!imd_context_cancelled(f.context));
    ImdSeries *back = imd_read_one(&error, f.context, written, NULL);
    CHECK(back != NULL);
    imd_series_destroy(back);
    imd_error_clear(&error);
    CHECK_STR(imd_error_code_name(IMD_ERR_CANCELLED), "IMD_ERR_CANCELLED");
    free(written);
    free(second);
    imd_series_destroy(series);
    teardown(&f);
}

/* What a fill watch saw (events come from several threads: under `lock`). */
typedef struct Watched {
    pthread_mutex_t lock;
    ImdContext *context;
    const ImdSeries *series; /* from STARTED */
    size_t started, ended, images, first_image, late; /* late: an event after ENDED */
    size_t seen[16];         /* IMAGE events per image */
    uint16_t copy[16][20];   /* each image's pixels when it was reported */
    bool cancel_at_first;
} Watched;

static void watch(void *user, ImdFillEvent event, const ImdSeries *series, size_t image)
{
    Watched *w = user;
    pthread_mutex_lock(&w->lock);
    w->late += w->ended > 0;
    if (event == IMD_FILL_STARTED) {
        w->started++;
        w->series = series;
    } else if (event == IMD_FILL_ENDED) {
        w->ended++;
    } else if (series == w->series && image < 16) {
        if (w->images++ == 0) {
            w->first_image = image;
            if (w->cancel_at_first) {
                imd_context_cancel(w->context);
            }
        }
        w->seen[image]++;
        memcpy(w->copy[image], (const uint16_t *)imd_series_const_data(series) + image * 20,
               sizeof w->copy[image]);
    }
    pthread_mutex_unlock(&w->lock);
}

typedef struct Handed {
    Watched *watched;
    size_t count;
    bool same_pointer, same_pixels;
} Handed;

static bool take_watched(ImdError **error, void *user, ImdSeries *series)
{
    (void)error;
    Handed *h = user;
    h->count++;
    h->same_pointer = series == h->watched->series;
    h->same_pixels = imd_series_count(series) == 6 * 20;
    for (size_t k = 0; h->same_pixels && k < 6; k++) {
        h->same_pixels = memcmp(h->watched->copy[k],
                                (const uint16_t *)imd_series_const_data(series) + k * 20,
                                sizeof h->watched->copy[k]) == 0;
    }
    imd_series_destroy(series);
    return true;
}

/* imd_context_set_fill_watch: a viewer's preview. STARTED, every image once
 * with its final pixels, the middle image of the first volume first, ENDED,
 * then the same series handed over; on a failure (a cancel) ENDED, and no
 * series. */
IMD_TEST(fill_watch_reports_each_image_middle_first)
{
    Fixture f;
    if (!setup(&f)) {
        IMD_SKIP("example plugin or temporary folder unavailable");
    }
    ImdError *error = NULL;
    ImdSeries *a = make_series(11); /* 2 times x 3 slices of 4 x 5 */
    REQUIRE(a != NULL);
    CHECK_OK(error, imd_write(&error, f.context, a, path_in(&f, "a"), "dicom", NULL));
    for (int round = 0; round < 2; round++) {
        Watched w;
        memset(&w, 0, sizeof w);
        pthread_mutex_init(&w.lock, NULL);
        w.context = f.context;
        w.cancel_at_first = round == 1;
        imd_context_set_fill_watch(f.context, watch, &w);
        Handed handed = {&w, 0, false, false};
        ImdSeriesList *failures =
            imd_read_each(&error, f.context, (const char *const[]){path_in(&f, "a")}, 1, NULL,
                          take_watched, &handed);
        imd_context_set_fill_watch(f.context, NULL, NULL);
        CHECK_INT(w.started, 1);
        CHECK_INT(w.ended, 1);
        CHECK_INT(w.late, 0);
        CHECK_INT(w.first_image, 1); /* slices / 2 of time 0 */
        if (round == 0) {
            REQUIRE(failures != NULL);
            CHECK_INT(w.images, 6);
            for (size_t k = 0; k < 6; k++) {
                CHECK_INT(w.seen[k], 1);
            }
            CHECK_INT(handed.count, 1);
            CHECK(handed.same_pointer);
            CHECK(handed.same_pixels);
            imd_series_list_destroy(failures);
        } else {
            CHECK(failures == NULL);
            CHECK_INT(imd_error_code(error), IMD_ERR_CANCELLED);
            imd_error_clear(&error);
            imd_context_reset_cancel(f.context);
            CHECK_INT(handed.count, 0);
        }
        pthread_mutex_destroy(&w.lock);
    }
    imd_series_destroy(a);
    teardown(&f);
}

IMD_TEST_MAIN(IMD_CASE(write_then_read_back), IMD_CASE(folder_with_several_series_and_junk),
              IMD_CASE(read_each_streams_series_and_failures),
              IMD_CASE(zip_write_append_and_select), IMD_CASE(declines_and_errors),
              IMD_CASE(write_errors_leave_nothing), IMD_CASE(memory_limit_and_cancel),
              IMD_CASE(fill_watch_reports_each_image_middle_first))
