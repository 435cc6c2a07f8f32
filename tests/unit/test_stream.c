/* test_stream.c: file, memory and buffer streams, and the checked wrappers. */
#define _POSIX_C_SOURCE 200809L

#include "imd_test.h"
#include "imd_test_files.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers: a private folder per case, removed at the end ---- */

static bool write_plain(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        return false;
    }
    bool ok = fwrite(text, 1, strlen(text), file) == strlen(text);
    return fclose(file) == 0 && ok;
}

/* The whole content of a file as a string, or NULL. */
static char *read_plain(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    char *text = calloc(1, 4096);
    if (text != NULL) {
        size_t got = fread(text, 1, 4095, file);
        text[got] = '\0';
    }
    fclose(file);
    return text;
}

/* ---- files ---- */

IMD_TEST(file_write_close_renames)
{
    char *folder = make_folder("stream-close");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.bin");
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_file(&error, path, IMD_MODE_WRITE);
    CHECK(stream != NULL && error == NULL);
    if (stream != NULL) {
        CHECK_STR(imd_stream_name(stream), path);
        /* While writing, only the temporary exists, never the destination. */
        CHECK(access(path, F_OK) != 0);
        CHECK_INT(count_entries(folder), 1);
        CHECK_OK(error, imd_stream_write(&error, stream, "hello ", 6));
        CHECK_OK(error, imd_stream_write(&error, stream, "world", 5));
        /* Write streams seek, so writers can patch a header afterwards. */
        CHECK_INT(imd_stream_seek(&error, stream, 0, 0), 0);
        CHECK_OK(error, imd_stream_write(&error, stream, "H", 1));
        CHECK_INT(imd_stream_seek(&error, stream, 0, 2), 11);
        CHECK(imd_stream_memory(stream, NULL) == NULL);
        /* ... and read back what they wrote. */
        char back[5] = {0};
        CHECK_INT(imd_stream_seek(&error, stream, 6, 0), 6);
        CHECK_OK(error, imd_stream_read_exact(&error, stream, back, 5));
        CHECK(memcmp(back, "world", 5) == 0);
        CHECK_OK(error, imd_stream_close(&error, stream));
    }
    char *text = read_plain(path);
    CHECK_STR(text, "Hello world");
    free(text);
    CHECK_INT(count_entries(folder), 1); /* the temporary was renamed, not copied */
    free(path);
    remove_folder(folder);
}

IMD_TEST(file_write_abort_leaves_nothing)
{
    char *folder = make_folder("stream-abort");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.bin");
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_file(&error, path, IMD_MODE_WRITE);
    REQUIRE(stream != NULL);
    CHECK_OK(error, imd_stream_write(&error, stream, "partial", 7));
    imd_stream_abort(stream);
    CHECK(access(path, F_OK) != 0);
    CHECK_INT(count_entries(folder), 0);

    /* Replacing an existing file: abort keeps the old content. */
    CHECK(write_plain(path, "old"));
    stream = imd_stream_open_file(&error, path, IMD_MODE_WRITE);
    REQUIRE(stream != NULL);
    CHECK_OK(error, imd_stream_write(&error, stream, "new content", 11));
    imd_stream_abort(stream);
    char *text = read_plain(path);
    CHECK_STR(text, "old");
    free(text);
    CHECK_INT(count_entries(folder), 1);

    /* ... and close replaces it. */
    stream = imd_stream_open_file(&error, path, IMD_MODE_WRITE);
    REQUIRE(stream != NULL);
    CHECK_OK(error, imd_stream_write(&error, stream, "new", 3));
    CHECK_OK(error, imd_stream_close(&error, stream));
    text = read_plain(path);
    CHECK_STR(text, "new");
    free(text);
    CHECK_INT(count_entries(folder), 1);
    free(path);
    remove_folder(folder);
}

IMD_TEST(file_failed_write_leaves_nothing)
{
    char *folder = make_folder("stream-full");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.bin");
    CHECK(write_plain(path, "old"));
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_file(&error, path, IMD_MODE_WRITE);
    REQUIRE(stream != NULL);
    /* A file size limit makes write() fail with EFBIG, like a full disk. */
    struct rlimit saved;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    struct rlimit small = saved;
    small.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    static char block[8192];
    bool wrote = imd_stream_write(&error, stream, block, sizeof block);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);
    CHECK(!wrote);
    CHECK_INT(imd_error_code(error), IMD_ERR_IO);
    CHECK(strstr(imd_error_message(error), path) != NULL);
    imd_error_clear(&error);
    /* Later writes are refused, and close publishes nothing. */
    CHECK_FAILS(error, imd_stream_write(&error, stream, "x", 1), IMD_ERR_BAD_STATE);
    CHECK_FAILS(error, imd_stream_close(&error, stream), IMD_ERR_IO);
    char *text = read_plain(path);
    CHECK_STR(text, "old");
    free(text);
    CHECK_INT(count_entries(folder), 1);
    free(path);
    remove_folder(folder);
}

IMD_TEST(file_write_gets_normal_permissions)
{
    char *folder = make_folder("stream-mode");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.bin");
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_file(&error, path, IMD_MODE_WRITE);
    REQUIRE(stream != NULL);
    CHECK_OK(error, imd_stream_close(&error, stream));
    mode_t mask = umask(022);
    umask(mask);
    struct stat info;
    CHECK(stat(path, &info) == 0);
    CHECK_INT(info.st_mode & 0777, 0666 & ~mask);
    free(path);
    remove_folder(folder);
}

IMD_TEST(file_read_missing_is_not_found)
{
    char *folder = make_folder("stream-missing");
    REQUIRE(folder != NULL);
    char *path = join(folder, "absent.nii");
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_file(&error, path, IMD_MODE_READ);
    CHECK(stream == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_NOT_FOUND);
    CHECK(strstr(imd_error_message(error), path) != NULL);
    CHECK(strstr(imd_error_message(error), "cannot open") != NULL);
    CHECK(strstr(imd_error_message(error), "No such file") != NULL);
    imd_error_clear(&error);

    /* Writing into a folder that does not exist fails as IO, naming the path. */
    char *deep = join(folder, "no/such/out.nii");
    stream = imd_stream_open_file(&error, deep, IMD_MODE_WRITE);
    CHECK(stream == NULL);
    CHECK_INT(imd_error_code(error), IMD_ERR_IO);
    CHECK(strstr(imd_error_message(error), deep) != NULL);
    imd_error_clear(&error);

    /* A folder is not a file in either mode. */
    CHECK_FAILS(error, imd_stream_open_file(&error, folder, IMD_MODE_READ), IMD_ERR_IO);
    CHECK_FAILS(error, imd_stream_open_file(&error, folder, IMD_MODE_WRITE), IMD_ERR_IO);
    CHECK_FAILS(error, imd_stream_open_file(&error, "", IMD_MODE_READ), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_stream_open_file(&error, path, (ImdMode)7), IMD_ERR_INVALID_ARG);
    CHECK_INT(count_entries(folder), 0);
    free(deep);
    free(path);
    remove_folder(folder);
}

IMD_TEST(file_read_seek_and_exact)
{
    char *folder = make_folder("stream-read");
    REQUIRE(folder != NULL);
    char *path = join(folder, "in.bin");
    CHECK(write_plain(path, "0123456789"));
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_file(&error, path, IMD_MODE_READ);
    REQUIRE(stream != NULL);
    char buffer[16] = {0};
    CHECK_OK(error, imd_stream_read_exact(&error, stream, buffer, 4));
    CHECK(memcmp(buffer, "0123", 4) == 0);
    CHECK_INT(imd_stream_seek(&error, stream, 2, 1), 6);
    CHECK_INT(imd_stream_read(&error, stream, buffer, sizeof buffer), 4);
    CHECK(memcmp(buffer, "6789", 4) == 0);
    CHECK_INT(imd_stream_read(&error, stream, buffer, sizeof buffer), 0);
    CHECK_INT(imd_stream_seek(&error, stream, -3, 2), 7);
    CHECK_FAILS(error, imd_stream_read_exact(&error, stream, buffer, 5), IMD_ERR_CORRUPT);
    CHECK_FAILS(error, imd_stream_seek(&error, stream, 0, 9) >= 0, IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_stream_seek(&error, stream, -100, 0) >= 0, IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_stream_write(&error, stream, "x", 1), IMD_ERR_INVALID_ARG);
    CHECK(imd_stream_memory(stream, NULL) == NULL);

    /* read_all from the current position, without memory(): the read loop. */
    CHECK_INT(imd_stream_seek(&error, stream, 3, 0), 3);
    size_t size = 0;
    char *all = imd_stream_read_all(&error, stream, 0, &size);
    CHECK(all != NULL && size == 7 && memcmp(all, "3456789", 7) == 0);
    imd_free(all);
    CHECK_INT(imd_stream_seek(&error, stream, 0, 0), 0);
    all = imd_stream_read_all(&error, stream, 10, &size);
    CHECK(all != NULL && size == 10);
    imd_free(all);
    CHECK_INT(imd_stream_seek(&error, stream, 0, 0), 0);
    CHECK_FAILS(error, imd_stream_read_all(&error, stream, 9, &size), IMD_ERR_LIMIT);
    CHECK_INT(size, 0);
    CHECK_OK(error, imd_stream_close(&error, stream));
    free(path);
    remove_folder(folder);
}

/* ---- memory ---- */

static int released;

static void count_release(void *data, void *user)
{
    CHECK(user == &released);
    free(data);
    released++;
}

IMD_TEST(memory_borrowed_and_owned)
{
    static const char text[] = "abcdefgh";
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_memory(&error, text, 8, "mem", NULL, NULL);
    REQUIRE(stream != NULL);
    CHECK_STR(imd_stream_name(stream), "mem");
    size_t size = 0;
    CHECK(imd_stream_memory(stream, &size) == (const uint8_t *)text && size == 8);
    char buffer[8];
    CHECK_OK(error, imd_stream_read_exact(&error, stream, buffer, 3));
    CHECK(memcmp(buffer, "abc", 3) == 0);
    CHECK_INT(imd_stream_seek(&error, stream, -2, 2), 6);
    CHECK_FAILS(error, imd_stream_read_exact(&error, stream, buffer, 3), IMD_ERR_CORRUPT);
    /* Past the end is allowed, like lseek; reads there find the end. */
    CHECK_INT(imd_stream_seek(&error, stream, 100, 0), 100);
    CHECK_INT(imd_stream_read(&error, stream, buffer, 8), 0);
    CHECK_FAILS(error, imd_stream_seek(&error, stream, -1, 0) >= 0, IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_stream_write(&error, stream, "x", 1), IMD_ERR_INVALID_ARG);
    /* read_all through memory(): from the position to the end. */
    CHECK_INT(imd_stream_seek(&error, stream, 5, 0), 5);
    char *rest = imd_stream_read_all(&error, stream, 0, &size);
    CHECK(rest != NULL && size == 3 && memcmp(rest, "fgh", 3) == 0);
    imd_free(rest);
    CHECK_INT(imd_stream_seek(&error, stream, 0, 1), 8);
    CHECK_INT(imd_stream_seek(&error, stream, 0, 0), 0);
    CHECK_FAILS(error, imd_stream_read_all(&error, stream, 7, &size), IMD_ERR_LIMIT);
    CHECK_INT(imd_stream_seek(&error, stream, 0, 1), 0); /* a refused read moves nothing */
    rest = imd_stream_read_all(&error, stream, 8, &size);
    CHECK(rest != NULL && size == 8);
    imd_free(rest);
    CHECK_OK(error, imd_stream_close(&error, stream));

    /* Owned: release runs once, at close. */
    released = 0;
    char *copy = malloc(4);
    REQUIRE(copy != NULL);
    memcpy(copy, "wxyz", 4);
    stream = imd_stream_open_memory(&error, copy, 4, NULL, count_release, &released);
    REQUIRE(stream != NULL);
    CHECK_STR(imd_stream_name(stream), "memory");
    CHECK_INT(released, 0);
    imd_stream_abort(stream);
    CHECK_INT(released, 1);

    /* Empty memory reads nothing; NULL data with a size is refused. */
    stream = imd_stream_open_memory(&error, NULL, 0, "empty", NULL, NULL);
    REQUIRE(stream != NULL);
    CHECK_INT(imd_stream_read(&error, stream, buffer, 8), 0);
    rest = imd_stream_read_all(&error, stream, 0, &size);
    CHECK(rest != NULL && size == 0);
    imd_free(rest);
    CHECK_OK(error, imd_stream_close(&error, stream));
    CHECK_FAILS(error, imd_stream_open_memory(&error, NULL, 3, "bad", NULL, NULL),
                IMD_ERR_INVALID_ARG);
}

/* ---- buffers ---- */

IMD_TEST(buffer_write_read_take)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_stream_open_buffer(&error, "buf");
    REQUIRE(stream != NULL);
    size_t size = 99;
    CHECK(imd_stream_buffer_take(stream, &size) == NULL && size == 0);
    CHECK_OK(error, imd_stream_write(&error, stream, "hello", 5));
    const uint8_t *memory = imd_stream_memory(stream, &size);
    CHECK(memory != NULL && size == 5 && memcmp(memory, "hello", 5) == 0);
    /* Seek past the end and write: the gap reads as zeros. */
    CHECK_INT(imd_stream_seek(&error, stream, 2, 2), 7);
    CHECK_OK(error, imd_stream_write(&error, stream, "!", 1));
    CHECK_INT(imd_stream_seek(&error, stream, 0, 0), 0);
    char back[8];
    CHECK_OK(error, imd_stream_read_exact(&error, stream, back, 8));
    CHECK(memcmp(back, "hello\0\0!", 8) == 0);
    /* Overwrite in the middle keeps the size. */
    CHECK_INT(imd_stream_seek(&error, stream, 1, 0), 1);
    CHECK_OK(error, imd_stream_write(&error, stream, "E", 1));
    /* Many writes grow the buffer. */
    CHECK_INT(imd_stream_seek(&error, stream, 0, 2), 8);
    for (int i = 0; i < 10000; i++) {
        CHECK_OK(error, imd_stream_write(&error, stream, "0123456789", 10));
    }
    uint8_t *taken = imd_stream_buffer_take(stream, &size);
    CHECK(taken != NULL && size == 100008);
    if (taken != NULL) {
        CHECK(memcmp(taken, "hEllo\0\0!0123", 12) == 0);
        CHECK(memcmp(taken + 100008 - 10, "0123456789", 10) == 0);
    }
    imd_free(taken);
    /* The stream is empty after take and still usable. */
    CHECK(imd_stream_memory(stream, &size) == NULL && size == 0);
    CHECK_INT(imd_stream_read(&error, stream, back, 8), 0);
    CHECK_OK(error, imd_stream_write(&error, stream, "x", 1));
    CHECK_OK(error, imd_stream_close(&error, stream));

    /* take on another kind of stream gives nothing. */
    stream = imd_stream_open_memory(&error, "ab", 2, "mem", NULL, NULL);
    REQUIRE(stream != NULL);
    CHECK(imd_stream_buffer_take(stream, &size) == NULL && size == 0);
    CHECK_OK(error, imd_stream_close(&error, stream));
}

/* ---- wrappers on NULL and on plugin-made streams that break the contract ---- */

static int64_t lying_read(ImdError **error, ImdStream *stream, void *buffer, size_t length)
{
    (void)error;
    (void)stream;
    (void)buffer;
    (void)length;
    return -1; /* fails without setting an error */
}

static bool lying_close(ImdError **error, ImdStream *stream)
{
    (void)error;
    free(stream->name);
    free(stream);
    return false;
}

static const ImdStreamMethods lying_methods = {lying_read, NULL, NULL, NULL, lying_close, NULL};

IMD_TEST(wrappers_hold_the_contract)
{
    ImdError *error = NULL;
    CHECK(imd_stream_close(&error, NULL) && error == NULL);
    imd_stream_abort(NULL);
    CHECK_STR(imd_stream_name(NULL), "");
    char buffer[4];
    CHECK_FAILS(error, imd_stream_read(&error, NULL, buffer, 4) >= 0, IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_stream_read_all(&error, NULL, 0, NULL), IMD_ERR_INVALID_ARG);
    size_t size = 7;
    CHECK(imd_stream_memory(NULL, &size) == NULL && size == 0);

    ImdStream *stream = malloc(sizeof *stream);
    REQUIRE(stream != NULL);
    stream->methods = &lying_methods;
    stream->name = strdup("liar");
    CHECK_FAILS(error, imd_stream_read(&error, stream, buffer, 4) >= 0, IMD_ERR_INTERNAL);
    CHECK_FAILS(error, imd_stream_seek(&error, stream, 0, 0) >= 0, IMD_ERR_UNSUPPORTED);
    CHECK_FAILS(error, imd_stream_close(&error, stream), IMD_ERR_INTERNAL);

    /* error may be NULL everywhere. */
    CHECK(imd_stream_open_file(NULL, "/nonexistent/imd/file", IMD_MODE_READ) == NULL);
}

IMD_TEST_MAIN(IMD_CASE(file_write_close_renames), IMD_CASE(file_write_abort_leaves_nothing),
              IMD_CASE(file_failed_write_leaves_nothing),
              IMD_CASE(file_write_gets_normal_permissions),
              IMD_CASE(file_read_missing_is_not_found), IMD_CASE(file_read_seek_and_exact),
              IMD_CASE(memory_borrowed_and_owned), IMD_CASE(buffer_write_read_take),
              IMD_CASE(wrappers_hold_the_contract))
