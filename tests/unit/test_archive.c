/*
 * test_archive.c: the filesystem and zip archives and the host functions
 * (imd_archive_list with patterns, safe member names, write/append/abort).
 * Zips are made and checked with libzip directly (and `unzip -l` when
 * present), so our reader and writer are not only tested against each other.
 */
#define _POSIX_C_SOURCE 200809L

#include "imd_test.h"
#include "imd_test_files.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef IMD_WITH_ZIP
#include <zip.h>
#endif

/* ---- helpers ---- */

/* Write `text` to folder/name, creating the folders of `name`. */
static bool put_file(const char *folder, const char *name, const char *text)
{
    char *path = join(folder, name);
    if (path == NULL) {
        return false;
    }
    for (char *p = path + strlen(folder) + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0777);
            *p = '/';
        }
    }
    FILE *file = fopen(path, "wb");
    free(path);
    if (file == NULL) {
        return false;
    }
    bool ok = fwrite(text, 1, strlen(text), file) == strlen(text);
    return fclose(file) == 0 && ok;
}

static char *get_file(const char *folder, const char *name)
{
    char *path = join(folder, name);
    FILE *file = path != NULL ? fopen(path, "rb") : NULL;
    free(path);
    if (file == NULL) {
        return NULL;
    }
    char *text = calloc(1, 4096);
    if (text != NULL) {
        text[fread(text, 1, 4095, file)] = '\0';
    }
    fclose(file);
    return text;
}

static bool exists(const char *folder, const char *name)
{
    char *path = join(folder, name);
    bool found = path != NULL && access(path, F_OK) == 0;
    free(path);
    return found;
}

/* Collected member names, joined by '|' for easy comparison. */
typedef struct Names {
    char text[8192];
    int count;
    int stop_after; /* 0: never stop */
} Names;

static int collect(void *user, const char *name)
{
    Names *names = user;
    size_t used = strlen(names->text);
    snprintf(names->text + used, sizeof names->text - used, "%s%s", used ? "|" : "", name);
    names->count++;
    return names->stop_after != 0 && names->count >= names->stop_after;
}

/* The members of `archive` matching `pattern` as "a|b|c", or "ERROR <code>". */
static const char *list_names(ImdArchive *archive, const char *pattern, Names *names)
{
    memset(names, 0, sizeof *names);
    ImdError *error = NULL;
    if (!imd_archive_list(&error, archive, pattern, collect, names)) {
        snprintf(names->text, sizeof names->text, "ERROR %s: %s",
                 imd_error_code_name(imd_error_code(error)), imd_error_message(error));
        imd_error_clear(&error);
    }
    return names->text;
}

/* A member's whole content as a string (NULL on error). */
static char *read_member_text(ImdArchive *archive, const char *name)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_archive_open_member(&error, archive, name, IMD_MODE_READ);
    if (stream == NULL) {
        fprintf(stderr, "  open %s: %s\n", name, imd_error_message(error));
        imd_error_clear(&error);
        return NULL;
    }
    size_t size = 0;
    char *data = imd_stream_read_all(&error, stream, 1 << 20, &size);
    char *text = NULL;
    if (data != NULL) {
        text = calloc(1, size + 1);
        if (text != NULL) {
            memcpy(text, data, size);
        }
    }
    imd_free(data);
    imd_error_clear(&error);
    if (!imd_stream_close(&error, stream)) {
        imd_error_clear(&error);
    }
    return text;
}

/* ---- filesystem ---- */

/* A tree with nested folders, a dot-file, an empty folder, a symlink loop and a temporary. */
static char *make_tree(void)
{
    char *folder = make_folder("archive-tree");
    if (folder == NULL) {
        return NULL;
    }
    bool ok = put_file(folder, "b.dcm", "B") && put_file(folder, "a/2.dcm", "A2") &&
              put_file(folder, "a/1.dcm", "A1") && put_file(folder, "a/sub/x.txt", "X") &&
              put_file(folder, "sub/y.dcm", "Y") && put_file(folder, ".hidden", "H") &&
              put_file(folder, "a.txt", "AT") && put_file(folder, "out.dcm.tmp-Ab12Z9", "T");
    char *empty = join(folder, "empty");
    char *loop = join(folder, "a/loop");
    char *link_file = join(folder, "link.dcm");
    ok = ok && empty != NULL && mkdir(empty, 0777) == 0 && loop != NULL &&
         symlink("..", loop) == 0 && link_file != NULL && symlink("b.dcm", link_file) == 0;
    free(empty);
    free(loop);
    free(link_file);
    if (!ok) {
        remove_folder(folder);
        return NULL;
    }
    return folder;
}

IMD_TEST(fs_lists_sorted_and_recursive)
{
    char *folder = make_tree();
    REQUIRE(folder != NULL);
    ImdError *error = NULL;
    ImdArchive *archive = imd_archive_open(&error, NULL, folder, IMD_MODE_READ, NULL);
    REQUIRE(archive != NULL);
    CHECK_STR(imd_archive_name(archive), folder);
    Names names;
    /* strcmp order on the whole name; the link to a file is listed, the loop and
     * the temporary of an unfinished write are not, nor the empty folder. */
    CHECK_STR(list_names(archive, NULL, &names),
              ".hidden|a.txt|a/1.dcm|a/2.dcm|a/sub/x.txt|b.dcm|link.dcm|sub/y.dcm");
    CHECK_STR(list_names(archive, "", &names),
              ".hidden|a.txt|a/1.dcm|a/2.dcm|a/sub/x.txt|b.dcm|link.dcm|sub/y.dcm");
    char *text = read_member_text(archive, "a/sub/x.txt");
    CHECK_STR(text, "X");
    free(text);
    text = read_member_text(archive, "link.dcm");
    CHECK_STR(text, "B");
    free(text);

    /* The visitor can stop the walk; that is not an error. */
    memset(&names, 0, sizeof names);
    names.stop_after = 2;
    CHECK_OK(error, imd_archive_list(&error, archive, NULL, collect, &names));
    CHECK_STR(names.text, ".hidden|a.txt");
    CHECK_OK(error, imd_archive_close(&error, archive));
    remove_folder(folder);
}

IMD_TEST(fs_pattern_selection)
{
    char *folder = make_tree();
    REQUIRE(folder != NULL);
    ImdError *error = NULL;
    ImdArchive *archive = imd_archive_open(&error, NULL, folder, IMD_MODE_READ, NULL);
    REQUIRE(archive != NULL);
    Names names;
    CHECK_STR(list_names(archive, "a/*", &names), "a/1.dcm|a/2.dcm|a/sub/x.txt");
    CHECK_STR(list_names(archive, "a", &names), "a/1.dcm|a/2.dcm|a/sub/x.txt");
    CHECK_STR(list_names(archive, "*.dcm", &names), "a/1.dcm|a/2.dcm|b.dcm|link.dcm|sub/y.dcm");
    CHECK_STR(list_names(archive, "sub/", &names), "sub/y.dcm");
    CHECK_STR(list_names(archive, "a/[12].dcm", &names), "a/1.dcm|a/2.dcm");

    memset(&names, 0, sizeof names);
    CHECK_FAILS(error, imd_archive_list(&error, archive, "nothing*", collect, &names),
                IMD_ERR_NOT_FOUND);
    CHECK_INT(names.count, 0);
    CHECK(!imd_archive_list(&error, archive, "nothing*", collect, &names));
    CHECK(strstr(imd_error_message(error), folder) != NULL);
    CHECK(strstr(imd_error_message(error), "no member matches \"nothing*\"") != NULL);
    imd_error_clear(&error);
    CHECK_FAILS(error, imd_archive_list(&error, archive, NULL, NULL, NULL), IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_archive_list(&error, NULL, NULL, collect, &names),
                IMD_ERR_INVALID_ARG);

    /* A read archive refuses writes and names that leave the root. */
    CHECK_FAILS(error, imd_archive_open_member(&error, archive, "new.dcm", IMD_MODE_WRITE),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_archive_open_member(&error, archive, "../x", IMD_MODE_READ),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_archive_open_member(&error, archive, "missing.dcm", IMD_MODE_READ),
                IMD_ERR_NOT_FOUND);
    CHECK(!exists(folder, "new.dcm"));
    CHECK_OK(error, imd_archive_close(&error, archive));
    remove_folder(folder);
}

IMD_TEST(fs_single_file_and_missing)
{
    char *folder = make_tree();
    REQUIRE(folder != NULL);
    ImdError *error = NULL;
    char *path = join(folder, "a/2.dcm");
    ImdArchive *archive = imd_archive_open(&error, NULL, path, IMD_MODE_READ, NULL);
    REQUIRE(archive != NULL);
    Names names;
    CHECK_STR(list_names(archive, NULL, &names), "2.dcm");
    char *text = read_member_text(archive, "2.dcm");
    CHECK_STR(text, "A2");
    free(text);
    /* A sibling can be opened by name (a MetaIO header's data file). */
    text = read_member_text(archive, "1.dcm");
    CHECK_STR(text, "A1");
    free(text);
    imd_archive_abort(archive);
    free(path);

    /* A bare file name: the current folder is the root, names stay as given. */
    char here[4096];
    REQUIRE(getcwd(here, sizeof here) != NULL);
    REQUIRE(chdir(folder) == 0);
    archive = imd_archive_open(&error, NULL, "b.dcm", IMD_MODE_READ, NULL);
    CHECK(archive != NULL);
    if (archive != NULL) {
        CHECK_STR(list_names(archive, NULL, &names), "b.dcm");
        ImdStream *stream = imd_archive_open_member(&error, archive, "b.dcm", IMD_MODE_READ);
        CHECK(stream != NULL);
        CHECK_STR(imd_stream_name(stream), "b.dcm");
        CHECK_OK(error, imd_stream_close(&error, stream));
        CHECK_OK(error, imd_archive_close(&error, archive));
    }
    REQUIRE(chdir(here) == 0);

    path = join(folder, "nowhere");
    CHECK_FAILS(error, imd_archive_open(&error, NULL, path, IMD_MODE_READ, NULL),
                IMD_ERR_NOT_FOUND);
    CHECK(imd_archive_open(&error, NULL, path, IMD_MODE_READ, NULL) == NULL);
    CHECK(strstr(imd_error_message(error), path) != NULL);
    imd_error_clear(&error);
    free(path);
    CHECK(imd_archive_close(&error, NULL));
    imd_archive_abort(NULL);
    CHECK_STR(imd_archive_name(NULL), "");
    CHECK_STR(imd__folder_archive.name, "folder");
    CHECK_INT(imd__folder_archive.abi_version, IMD_PLUGIN_ABI_VERSION);
    CHECK_INT(imd__folder_archive.struct_size, sizeof(ImdArchivePlugin));
    remove_folder(folder);
}

IMD_TEST(fs_write_creates_folders)
{
    char *folder = make_folder("archive-fswrite");
    REQUIRE(folder != NULL);
    char *root = join(folder, "out/deeper");
    ImdError *error = NULL;
    ImdArchive *archive = imd_archive_open(&error, NULL, root, IMD_MODE_WRITE, NULL);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "x/y/z.bin", "zzz", 3));
    CHECK_OK(error, imd_archive_write_member(&error, archive, "top.bin", "t", 1));
    /* A member stream that is aborted leaves nothing, not even a temporary. */
    ImdStream *stream = imd_archive_open_member(&error, archive, "x/gone.bin", IMD_MODE_WRITE);
    CHECK(stream != NULL);
    if (stream != NULL) {
        CHECK_OK(error, imd_stream_write(&error, stream, "partial", 7));
        imd_stream_abort(stream);
    }
    Names names;
    CHECK_STR(list_names(archive, NULL, &names), "top.bin|x/y/z.bin");
    CHECK_OK(error, imd_archive_close(&error, archive));
    char *text = get_file(root, "x/y/z.bin");
    CHECK_STR(text, "zzz");
    free(text);
    char *x = join(root, "x");
    CHECK_INT(count_entries(x), 1); /* only y/ */
    free(x);

    /* Writing again into the existing folder is fine; a file as root is not. */
    archive = imd_archive_open(&error, NULL, root, IMD_MODE_WRITE, NULL);
    CHECK(archive != NULL);
    imd_archive_abort(archive);
    char *file = join(root, "top.bin");
    CHECK_FAILS(error, imd_archive_open(&error, NULL, file, IMD_MODE_WRITE, NULL),
                IMD_ERR_IO);
    free(file);
    free(root);
    remove_folder(folder);
}

/* An aborted write removes what it created (new files and folders), keeps what was there. */
IMD_TEST(fs_abort_removes_what_it_created)
{
    char *folder = make_folder("archive-fsabort");
    REQUIRE(folder != NULL);
    char *root = join(folder, "series");
    ImdError *error = NULL;
    ImdArchive *archive = imd_archive_open(&error, NULL, root, IMD_MODE_WRITE, NULL);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "keep.bin", "k", 1));
    CHECK_OK(error, imd_archive_close(&error, archive));
    archive = imd_archive_open(&error, NULL, root, IMD_MODE_WRITE, NULL);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "time0/Image_00000.dcm", "a", 1));
    CHECK_OK(error, imd_archive_write_member(&error, archive, "time0/Image_00001.dcm", "b", 1));
    CHECK_OK(error, imd_archive_write_member(&error, archive, "new.bin", "n", 1));
    imd_archive_abort(archive);
    CHECK_INT(count_entries(root), 1); /* only keep.bin */
    char *text = get_file(root, "keep.bin");
    CHECK_STR(text, "k");
    free(text);
    /* A new root folder goes too. */
    char *fresh = join(folder, "fresh/deeper");
    archive = imd_archive_open(&error, NULL, fresh, IMD_MODE_WRITE, NULL);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "a/b.dcm", "x", 1));
    imd_archive_abort(archive);
    CHECK_INT(count_entries(folder), 1); /* only series/ */
    free(fresh);
    free(root);
    remove_folder(folder);
}

IMD_TEST(fs_write_refuses_traversal)
{
    char *folder = make_folder("archive-fstraversal");
    REQUIRE(folder != NULL);
    char *root = join(folder, "root");
    ImdError *error = NULL;
    ImdArchive *archive = imd_archive_open(&error, NULL, root, IMD_MODE_WRITE, NULL);
    REQUIRE(archive != NULL);
    static const char *const bad[] = {"../x", "/abs", "a/../../b", "", "a//b", "./c", "a\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_FAILS(error, imd_archive_open_member(&error, archive, bad[i], IMD_MODE_WRITE),
                    IMD_ERR_INVALID_ARG);
        CHECK_FAILS(error, imd_archive_write_member(&error, archive, bad[i], "x", 1),
                    IMD_ERR_INVALID_ARG);
        /* The plugin refuses them too when called directly, without the host. */
        CHECK_FAILS(error, archive->methods->open_member(&error, archive, bad[i], IMD_MODE_WRITE),
                    IMD_ERR_INVALID_ARG);
    }
    CHECK(!imd_archive_open_member(&error, archive, "../x", IMD_MODE_WRITE));
    CHECK(strstr(imd_error_message(error), "../x") != NULL);
    imd_error_clear(&error);
    CHECK_OK(error, imd_archive_close(&error, archive));
    /* Nothing written: not even the root folder was made (it is made with
     * the first member); no x, b, abs. */
    CHECK_INT(count_entries(folder), 0);
    CHECK(access("/abs", F_OK) != 0);
    free(root);
    remove_folder(folder);
}

/* ---- zip ---- */

#ifdef IMD_WITH_ZIP

/* Add a member with libzip; `method` ZIP_CM_STORE or ZIP_CM_DEFLATE. */
static bool libzip_add(zip_t *zip, const char *name, const char *text, zip_int32_t method)
{
    zip_source_t *source = zip_source_buffer(zip, text, strlen(text), 0);
    if (source == NULL) {
        return false;
    }
    zip_int64_t index = zip_file_add(zip, name, source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
        zip_source_free(source);
        return false;
    }
    return zip_set_file_compression(zip, (zip_uint64_t)index, method, 0) == 0;
}

/* A member's content read with libzip, or NULL. */
static char *libzip_read(zip_t *zip, const char *name)
{
    zip_stat_t info;
    if (zip_stat(zip, name, 0, &info) != 0 || info.size > 65536) {
        return NULL;
    }
    zip_file_t *file = zip_fopen(zip, name, 0);
    char *text = file != NULL ? calloc(1, (size_t)info.size + 1) : NULL;
    if (text != NULL && zip_fread(file, text, info.size) != (zip_int64_t)info.size) {
        free(text);
        text = NULL;
    }
    if (file != NULL) {
        zip_fclose(file);
    }
    return text;
}

static zip_t *libzip_open(const char *path, int flags)
{
    int code = 0;
    return zip_open(path, flags, &code);
}

static ImdArchive *zip_open_ok(const char *path, ImdMode mode)
{
    ImdError *error = NULL;
    ImdArchive *archive = imd_archive_open(&error, NULL, path, mode, NULL);
    if (archive == NULL) {
        fprintf(stderr, "  zip open %s: %s\n", path, imd_error_message(error));
        imd_error_clear(&error);
    }
    return archive;
}

IMD_TEST(zip_reads_a_libzip_zip)
{
    char *folder = make_folder("archive-zipread");
    REQUIRE(folder != NULL);
    char *path = join(folder, "in.zip");
    zip_t *zip = libzip_open(path, ZIP_CREATE | ZIP_EXCL);
    REQUIRE(zip != NULL);
    CHECK(zip_dir_add(zip, "dir", ZIP_FL_ENC_UTF_8) >= 0);
    CHECK(zip_dir_add(zip, "a", ZIP_FL_ENC_UTF_8) >= 0);
    CHECK(libzip_add(zip, "b.txt", "bee", ZIP_CM_DEFLATE));
    CHECK(libzip_add(zip, "a/d.bin", "stored bytes", ZIP_CM_STORE));
    CHECK(libzip_add(zip, "a/c.txt", "deflated deflated deflated deflated", ZIP_CM_DEFLATE));
    CHECK(libzip_add(zip, "dir/empty", "", ZIP_CM_STORE));
    REQUIRE(zip_close(zip) == 0);

    ImdArchive *archive = zip_open_ok(path, IMD_MODE_READ);
    REQUIRE(archive != NULL);
    Names names;
    CHECK_STR(list_names(archive, NULL, &names), "a/c.txt|a/d.bin|b.txt|dir/empty");
    CHECK_STR(list_names(archive, "a/", &names), "a/c.txt|a/d.bin");
    char *text = read_member_text(archive, "a/c.txt");
    CHECK_STR(text, "deflated deflated deflated deflated");
    free(text);
    text = read_member_text(archive, "a/d.bin");
    CHECK_STR(text, "stored bytes");
    free(text);
    text = read_member_text(archive, "dir/empty");
    CHECK_STR(text, "");
    free(text);

    ImdError *error = NULL;
    ImdStream *stream = imd_archive_open_member(&error, archive, "b.txt", IMD_MODE_READ);
    REQUIRE(stream != NULL);
    char expected_name[4200];
    snprintf(expected_name, sizeof expected_name, "%s:b.txt", path);
    CHECK_STR(imd_stream_name(stream), expected_name);
    size_t size = 0;
    CHECK(imd_stream_memory(stream, &size) != NULL && size == 3);
    CHECK_OK(error, imd_stream_close(&error, stream));
    CHECK_FAILS(error, imd_archive_open_member(&error, archive, "nope", IMD_MODE_READ),
                IMD_ERR_NOT_FOUND);
    CHECK_FAILS(error, imd_archive_open_member(&error, archive, "new", IMD_MODE_WRITE),
                IMD_ERR_INVALID_ARG);
    CHECK_OK(error, imd_archive_close(&error, archive));
    /* Nothing was extracted next to the zip. */
    CHECK_INT(count_entries(folder), 1);
    free(path);
    remove_folder(folder);
}

IMD_TEST(zip_writes_a_libzip_readable_zip)
{
    char *folder = make_folder("archive-zipwrite");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.zip");
    ImdArchive *archive = zip_open_ok(path, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    ImdError *error = NULL;
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_OK(error, imd_archive_write_member(&error, archive, "series/IM0001.dcm", "one", 3));
    CHECK_OK(error, imd_archive_write_member(&error, archive, "series/IM0002.dcm", big,
                                             strlen(big)));
    /* A member stream can seek back and patch, like a file. */
    ImdStream *stream = imd_archive_open_member(&error, archive, "patched.bin", IMD_MODE_WRITE);
    REQUIRE(stream != NULL);
    CHECK_OK(error, imd_stream_write(&error, stream, "xxxx-tail", 9));
    CHECK_INT(imd_stream_seek(&error, stream, 0, 0), 0);
    CHECK_OK(error, imd_stream_write(&error, stream, "head", 4));
    CHECK_OK(error, imd_stream_close(&error, stream));
    /* An aborted member is not added. */
    stream = imd_archive_open_member(&error, archive, "aborted.bin", IMD_MODE_WRITE);
    REQUIRE(stream != NULL);
    CHECK_OK(error, imd_stream_write(&error, stream, "no", 2));
    imd_stream_abort(stream);
    Names names;
    CHECK_STR(list_names(archive, NULL, &names), "patched.bin|series/IM0001.dcm|series/IM0002.dcm");
    CHECK(access(path, F_OK) != 0); /* nothing is written before close */
    CHECK_OK(error, imd_archive_close(&error, archive));
    CHECK_INT(count_entries(folder), 1); /* no temporary left */

    zip_t *zip = libzip_open(path, ZIP_RDONLY | ZIP_CHECKCONS);
    REQUIRE(zip != NULL);
    CHECK_INT(zip_get_num_entries(zip, 0), 3);
    char *text = libzip_read(zip, "series/IM0001.dcm");
    CHECK_STR(text, "one");
    free(text);
    text = libzip_read(zip, "series/IM0002.dcm");
    CHECK_STR(text, big);
    free(text);
    text = libzip_read(zip, "patched.bin");
    CHECK_STR(text, "head-tail");
    free(text);
    zip_stat_t info;
    CHECK(zip_stat(zip, "series/IM0002.dcm", 0, &info) == 0);
    CHECK_INT(info.comp_method, ZIP_CM_DEFLATE);
    CHECK(info.comp_size < info.size);
    zip_discard(zip);
    free(path);
    remove_folder(folder);
}

IMD_TEST(zip_write_checked_by_unzip_program)
{
    if (access("/usr/bin/unzip", X_OK) != 0) {
        IMD_SKIP("/usr/bin/unzip is not installed: the zip writer is only checked with libzip");
    }
    char *folder = make_folder("archive-unzip");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.zip");
    ImdArchive *archive = zip_open_ok(path, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    ImdError *error = NULL;
    CHECK_OK(error, imd_archive_write_member(&error, archive, "dir/member one.txt", "1", 1));
    CHECK_OK(error, imd_archive_write_member(&error, archive, "two.txt", "22", 2));
    CHECK_OK(error, imd_archive_close(&error, archive));
    /* unzip -t tests every CRC; -l lists. */
    char command[8400];
    snprintf(command, sizeof command, "/usr/bin/unzip -tq '%s' >/dev/null 2>&1", path);
    int status = system(command);
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(command, sizeof command, "/usr/bin/unzip -l '%s'", path);
    FILE *pipe = popen(command, "r");
    REQUIRE(pipe != NULL);
    char output[4096] = {0};
    size_t got = fread(output, 1, sizeof output - 1, pipe);
    output[got] = '\0';
    CHECK(pclose(pipe) == 0);
    CHECK(strstr(output, "dir/member one.txt") != NULL);
    CHECK(strstr(output, "two.txt") != NULL);
    CHECK(strstr(output, "2 files") != NULL);
    free(path);
    remove_folder(folder);
}

IMD_TEST(zip_write_appends_and_replaces)
{
    char *folder = make_folder("archive-zipappend");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.zip");
    ImdError *error = NULL;
    ImdArchive *archive = zip_open_ok(path, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "A", "first", 5));
    CHECK_OK(error, imd_archive_close(&error, archive));

    /* Reopening for writing adds to the zip (the original truncated it). */
    archive = zip_open_ok(path, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "B", "second", 6));
    CHECK_OK(error, imd_archive_close(&error, archive));

    archive = zip_open_ok(path, IMD_MODE_READ);
    REQUIRE(archive != NULL);
    Names names;
    CHECK_STR(list_names(archive, NULL, &names), "A|B");
    char *text = read_member_text(archive, "A");
    CHECK_STR(text, "first");
    free(text);
    CHECK_OK(error, imd_archive_close(&error, archive));

    /* The same name again replaces the member, in a later session and within one. */
    archive = zip_open_ok(path, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "A", "again", 5));
    CHECK_OK(error, imd_archive_write_member(&error, archive, "C", "c1", 2));
    CHECK_OK(error, imd_archive_write_member(&error, archive, "C", "c2", 2));
    CHECK_OK(error, imd_archive_close(&error, archive));
    zip_t *zip = libzip_open(path, ZIP_RDONLY | ZIP_CHECKCONS);
    REQUIRE(zip != NULL);
    CHECK_INT(zip_get_num_entries(zip, 0), 3);
    text = libzip_read(zip, "A");
    CHECK_STR(text, "again");
    free(text);
    text = libzip_read(zip, "C");
    CHECK_STR(text, "c2");
    free(text);
    zip_discard(zip);

    /* abort drops every change: the zip is as before. */
    archive = zip_open_ok(path, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "D", "dropped", 7));
    imd_archive_abort(archive);
    archive = zip_open_ok(path, IMD_MODE_READ);
    REQUIRE(archive != NULL);
    CHECK_STR(list_names(archive, NULL, &names), "A|B|C");
    CHECK_OK(error, imd_archive_close(&error, archive));

    /* An empty file (from touch or mktemp) is written into as an empty zip. */
    CHECK(put_file(folder, "touched.zip", ""));
    char *touched = join(folder, "touched.zip");
    archive = zip_open_ok(touched, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "t", "t", 1));
    CHECK_OK(error, imd_archive_close(&error, archive));
    zip = libzip_open(touched, ZIP_RDONLY | ZIP_CHECKCONS);
    REQUIRE(zip != NULL);
    CHECK_INT(zip_get_num_entries(zip, 0), 1);
    zip_discard(zip);
    unlink(touched);
    free(touched);

    /* Aborting a new zip creates no file. */
    char *fresh = join(folder, "fresh.zip");
    archive = zip_open_ok(fresh, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    CHECK_OK(error, imd_archive_write_member(&error, archive, "x", "x", 1));
    imd_archive_abort(archive);
    CHECK(access(fresh, F_OK) != 0);
    CHECK_INT(count_entries(folder), 1);
    free(fresh);
    free(path);
    remove_folder(folder);
}

IMD_TEST(zip_member_outliving_archive)
{
    char *folder = make_folder("archive-ziporphan");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.zip");
    ImdError *error = NULL;
    ImdArchive *archive = zip_open_ok(path, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    ImdStream *late = imd_archive_open_member(&error, archive, "late", IMD_MODE_WRITE);
    REQUIRE(late != NULL);
    CHECK_OK(error, imd_stream_write(&error, late, "l", 1));
    CHECK_OK(error, imd_archive_write_member(&error, archive, "kept", "k", 1));
    CHECK_OK(error, imd_archive_close(&error, archive));
    /* The archive is gone: closing the member now fails cleanly, nothing is added. */
    CHECK_FAILS(error, imd_stream_close(&error, late), IMD_ERR_BAD_STATE);
    zip_t *zip = libzip_open(path, ZIP_RDONLY);
    REQUIRE(zip != NULL);
    CHECK_INT(zip_get_num_entries(zip, 0), 1);
    zip_discard(zip);
    free(path);
    remove_folder(folder);
}

IMD_TEST(zip_write_refuses_traversal)
{
    char *folder = make_folder("archive-ziptraversal");
    REQUIRE(folder != NULL);
    char *path = join(folder, "out.zip");
    ImdError *error = NULL;
    ImdArchive *archive = zip_open_ok(path, IMD_MODE_WRITE);
    REQUIRE(archive != NULL);
    static const char *const bad[] = {"../x", "/abs", "a/../../b", "", "a\\..\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_FAILS(error, imd_archive_open_member(&error, archive, bad[i], IMD_MODE_WRITE),
                    IMD_ERR_INVALID_ARG);
        CHECK_FAILS(error, archive->methods->open_member(&error, archive, bad[i], IMD_MODE_WRITE),
                    IMD_ERR_INVALID_ARG);
    }
    CHECK_OK(error, imd_archive_write_member(&error, archive, "ok", "o", 1));
    CHECK_OK(error, imd_archive_close(&error, archive));
    zip_t *zip = libzip_open(path, ZIP_RDONLY);
    REQUIRE(zip != NULL);
    CHECK_INT(zip_get_num_entries(zip, 0), 1);
    zip_discard(zip);
    CHECK_INT(count_entries(folder), 1);
    free(path);
    remove_folder(folder);
}

IMD_TEST(zip_unsafe_entries_are_hidden)
{
    char *folder = make_folder("archive-zipevil");
    REQUIRE(folder != NULL);
    char *path = join(folder, "evil.zip");
    zip_t *zip = libzip_open(path, ZIP_CREATE | ZIP_EXCL);
    REQUIRE(zip != NULL);
    CHECK(libzip_add(zip, "../evil", "evil", ZIP_CM_STORE));
    CHECK(libzip_add(zip, "/abs", "abs", ZIP_CM_STORE));
    CHECK(libzip_add(zip, "a/../../up", "up", ZIP_CM_STORE));
    CHECK(libzip_add(zip, "ok.txt", "fine", ZIP_CM_DEFLATE));
    REQUIRE(zip_close(zip) == 0);

    ImdArchive *archive = zip_open_ok(path, IMD_MODE_READ);
    REQUIRE(archive != NULL);
    Names names;
    CHECK_STR(list_names(archive, NULL, &names), "ok.txt");
    ImdError *error = NULL;
    CHECK_FAILS(error, imd_archive_open_member(&error, archive, "../evil", IMD_MODE_READ),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_archive_open_member(&error, archive, "/abs", IMD_MODE_READ),
                IMD_ERR_INVALID_ARG);
    CHECK_FAILS(error, imd_archive_open_member(&error, archive, "a/../../up", IMD_MODE_READ),
                IMD_ERR_INVALID_ARG);
    char *text = read_member_text(archive, "ok.txt");
    CHECK_STR(text, "fine");
    free(text);
    CHECK_OK(error, imd_archive_close(&error, archive));
    CHECK_INT(count_entries(folder), 1);
    char *parent_evil = join(folder, "../evil");
    CHECK(access(parent_evil, F_OK) != 0);
    free(parent_evil);
    free(path);
    remove_folder(folder);
}

IMD_TEST(zip_corrupt_and_missing)
{
    char *folder = make_folder("archive-zipbad");
    REQUIRE(folder != NULL);
    ImdError *error = NULL;

    /* Random bytes under a .zip name. */
    char random_bytes[512];
    uint32_t state = 12345;
    for (size_t i = 0; i < sizeof random_bytes; i++) {
        state = state * 1103515245u + 12345u;
        random_bytes[i] = (char)(state >> 24);
    }
    random_bytes[0] = 'x'; /* never a zip signature by chance */
    random_bytes[sizeof random_bytes - 1] = '\0';
    for (size_t i = 0; i + 1 < sizeof random_bytes; i++) {
        if (random_bytes[i] == '\0') {
            random_bytes[i] = 'z';
        }
    }
    CHECK(put_file(folder, "bad.zip", random_bytes));
    char *bad = join(folder, "bad.zip");
    ImdArchive *archive = imd_archive_open(&error, NULL, bad, IMD_MODE_READ, NULL);
    CHECK(archive == NULL);
    CHECK(imd_error_code(error) == IMD_ERR_CORRUPT ||
          imd_error_code(error) == IMD_ERR_NOT_RECOGNIZED);
    CHECK(strstr(imd_error_message(error), "bad.zip") != NULL);
    imd_error_clear(&error);
    /* Writing into a file that is not a zip refuses rather than replacing it. */
    CHECK_FAILS(error, imd_archive_open(&error, NULL, bad, IMD_MODE_WRITE, NULL),
                IMD_ERR_CORRUPT);
    char *text = get_file(folder, "bad.zip");
    CHECK(text != NULL && strcmp(text, random_bytes) == 0);
    free(text);

    /* A real zip cut short loses its directory. */
    char *whole = join(folder, "whole.zip");
    zip_t *zip = libzip_open(whole, ZIP_CREATE | ZIP_EXCL);
    REQUIRE(zip != NULL);
    CHECK(libzip_add(zip, "m.txt", "some member content, some member content", ZIP_CM_DEFLATE));
    REQUIRE(zip_close(zip) == 0);
    FILE *file = fopen(whole, "rb");
    REQUIRE(file != NULL);
    char bytes[4096];
    size_t size = fread(bytes, 1, sizeof bytes, file);
    fclose(file);
    char *cut = join(folder, "cut.zip");
    file = fopen(cut, "wb");
    REQUIRE(file != NULL);
    CHECK(fwrite(bytes, 1, size - 30, file) == size - 30);
    fclose(file);
    CHECK_FAILS(error, imd_archive_open(&error, NULL, cut, IMD_MODE_READ, NULL), IMD_ERR_CORRUPT);

    /* A damaged member body: the CRC check catches it when the member is read. */
    char *flipped = join(folder, "flipped.zip");
    zip = libzip_open(flipped, ZIP_CREATE | ZIP_EXCL);
    REQUIRE(zip != NULL);
    CHECK(libzip_add(zip, "s.txt", "stored content here", ZIP_CM_STORE));
    REQUIRE(zip_close(zip) == 0);
    file = fopen(flipped, "r+b");
    REQUIRE(file != NULL);
    size = fread(bytes, 1, sizeof bytes, file);
    char *body = NULL;
    for (size_t i = 0; body == NULL && i + 14 <= size; i++) {
        if (memcmp(bytes + i, "stored content", 14) == 0) {
            body = bytes + i;
        }
    }
    REQUIRE(body != NULL);
    fseek(file, (long)(body - bytes), SEEK_SET);
    fputc('S', file);
    fclose(file);
    archive = zip_open_ok(flipped, IMD_MODE_READ);
    REQUIRE(archive != NULL);
    /* Members are inflated lazily (a probe reads only its head): the CRC fails at the end. */
    ImdStream *damaged = imd_archive_open_member(&error, archive, "s.txt", IMD_MODE_READ);
    REQUIRE(damaged != NULL);
    size_t damaged_size = 0;
    CHECK_FAILS(error, imd_stream_read_all(&error, damaged, 0, &damaged_size), IMD_ERR_CORRUPT);
    imd_stream_abort(damaged);
    imd_archive_abort(archive);

    char *missing = join(folder, "missing.zip");
    CHECK_FAILS(error, imd_archive_open(&error, NULL, missing, IMD_MODE_READ, NULL),
                IMD_ERR_NOT_FOUND);
    free(missing);
    free(flipped);
    free(cut);
    free(whole);
    free(bad);
    remove_folder(folder);
}

#endif /* IMD_WITH_ZIP */

IMD_TEST(zip_probe_and_descriptor)
{
    static const uint8_t local[] = {'P', 'K', 3, 4, 20, 0};
    static const uint8_t end[] = {'P', 'K', 5, 6, 0, 0};
    static const uint8_t other[] = {'P', 'K', 7, 8};
    CHECK_INT(imd__zip_archive.probe(local, sizeof local, "x.zip"), 100);
    CHECK_INT(imd__zip_archive.probe(end, sizeof end, "x"), 100);
    CHECK_INT(imd__zip_archive.probe(other, sizeof other, "x.zip"), 0);
    CHECK_INT(imd__zip_archive.probe(local, 3, "x.zip"), 0);
    CHECK_INT(imd__zip_archive.probe(NULL, 0, "x.zip"), 0);
    CHECK_STR(imd__zip_archive.name, "zip");
    CHECK_STR(imd__zip_archive.suffixes[0], ".zip");
    CHECK(imd__zip_archive.suffixes[1] == NULL);
    CHECK_INT(imd__zip_archive.abi_version, IMD_PLUGIN_ABI_VERSION);
    CHECK_INT(imd__zip_archive.struct_size, sizeof(ImdArchivePlugin));
#ifndef IMD_WITH_ZIP
    ImdError *error = NULL;
    CHECK_FAILS(error, imd_archive_open(&error, NULL, "x.zip", IMD_MODE_READ, NULL),
                IMD_ERR_UNSUPPORTED);
#endif
}

/* behaviour.md §7.1: the original's own example. */
IMD_TEST(time_zip_from_shared_data)
{
#ifndef IMD_WITH_ZIP
    IMD_SKIP("built without IMD_WITH_ZIP");
#else
    const char *data = getenv("IMD_TEST_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/dicom/time.zip", data != NULL ? data : "");
    if (data == NULL || access(path, R_OK) != 0) {
        IMD_SKIP("%s is missing (set IMD_TEST_DATA to ../shared/data/imagedata)", path);
    }
    ImdArchive *archive = zip_open_ok(path, IMD_MODE_READ);
    REQUIRE(archive != NULL);
    Names names;
    list_names(archive, NULL, &names);
    CHECK_INT(names.count, 9);
    CHECK(strncmp(names.text, "time/time00/Image_00019.dcm|", 28) == 0);
    CHECK(strstr(names.text, "time/time02/Image_00021.dcm") != NULL);
    CHECK(strstr(names.text, "time/|") == NULL); /* folders are not members */
    CHECK_STR(list_names(archive, "time/time00/Image_0002[01].dcm", &names),
              "time/time00/Image_00020.dcm|time/time00/Image_00021.dcm");
    CHECK_INT(names.count, 2);
    list_names(archive, "*0[01]/Image_0002[01].dcm", &names);
    CHECK_INT(names.count, 4);
    list_names(archive, "time/time01/", &names);
    CHECK_INT(names.count, 3);
    /* A member reads whole, with its DICOM preamble and "DICM" at 128. */
    ImdError *error = NULL;
    ImdStream *stream =
        imd_archive_open_member(&error, archive, "time/time00/Image_00020.dcm", IMD_MODE_READ);
    CHECK(stream != NULL);
    if (stream != NULL) {
        size_t size = 0;
        const uint8_t *memory = imd_stream_memory(stream, &size);
        CHECK_INT(size, 179780);
        CHECK(memory != NULL && size > 132 && memcmp(memory + 128, "DICM", 4) == 0);
        CHECK_OK(error, imd_stream_close(&error, stream));
    }
    CHECK_OK(error, imd_archive_close(&error, archive));
#endif
}

/* Directives cannot sit inside a macro's arguments, hence two lists. */
#ifdef IMD_WITH_ZIP
IMD_TEST_MAIN(IMD_CASE(fs_lists_sorted_and_recursive), IMD_CASE(fs_pattern_selection),
              IMD_CASE(fs_single_file_and_missing), IMD_CASE(fs_write_creates_folders),
              IMD_CASE(fs_abort_removes_what_it_created),
              IMD_CASE(fs_write_refuses_traversal), IMD_CASE(zip_reads_a_libzip_zip),
              IMD_CASE(zip_writes_a_libzip_readable_zip),
              IMD_CASE(zip_write_checked_by_unzip_program),
              IMD_CASE(zip_write_appends_and_replaces), IMD_CASE(zip_member_outliving_archive),
              IMD_CASE(zip_write_refuses_traversal), IMD_CASE(zip_unsafe_entries_are_hidden),
              IMD_CASE(zip_corrupt_and_missing), IMD_CASE(zip_probe_and_descriptor),
              IMD_CASE(time_zip_from_shared_data))
#else
IMD_TEST_MAIN(IMD_CASE(fs_lists_sorted_and_recursive), IMD_CASE(fs_pattern_selection),
              IMD_CASE(fs_single_file_and_missing), IMD_CASE(fs_write_creates_folders),
              IMD_CASE(fs_abort_removes_what_it_created),
              IMD_CASE(fs_write_refuses_traversal), IMD_CASE(zip_probe_and_descriptor),
              IMD_CASE(time_zip_from_shared_data))
#endif
