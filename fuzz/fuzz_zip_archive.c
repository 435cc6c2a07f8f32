/*
 * fuzz_zip_archive.c: bytes -> a private temporary file (zip_open needs a
 * path) -> the zip archive plugin: list, then open and read each member.
 * Beyond "no crash": a failure always carries an error and a success never
 * does; listed names are safe and strictly increasing; a member's memory
 * equals what read_all returns.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bounds that keep one input fast. */
#define MAX_NAMES 64
#define MAX_OPENED 16
#define READ_LIMIT ((size_t)64 << 20)

typedef struct Listed {
    char *names[MAX_NAMES];
    size_t count;
    bool unordered;
} Listed;

/* Fail loudly: the fuzzer reports abort() as a crash. */
static void require(bool condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_zip_archive: invariant broken: %s\n", what);
        abort();
    }
}

/* A failed call has an error, a successful one has none; then clear it. */
static void check_result(bool ok, ImdError **error, const char *what)
{
    require(ok == (*error == NULL), what);
    if (*error != NULL) {
        require(imd_error_message(*error)[0] != '\0', "an error without a message");
    }
    imd_error_clear(error);
}

static int remember(void *user, const char *name)
{
    Listed *listed = user;
    require(imd_member_name_is_safe(name), "list() yielded an unsafe name");
    if (listed->count > 0 && strcmp(listed->names[listed->count - 1], name) >= 0) {
        listed->unordered = true;
    }
    if (listed->count == MAX_NAMES) {
        return 1;
    }
    listed->names[listed->count] = strdup(name);
    if (listed->names[listed->count] == NULL) {
        return 1;
    }
    listed->count++;
    return 0;
}

static void read_member(ImdArchive *archive, const char *name)
{
    ImdError *error = NULL;
    ImdStream *stream = imd_archive_open_member(&error, archive, name, IMD_MODE_READ);
    check_result(stream != NULL, &error, "open_member");
    if (stream == NULL) {
        return;
    }
    size_t memory_size = 0;
    const uint8_t *memory = imd_stream_memory(stream, &memory_size);
    size_t size = 0;
    uint8_t *all = imd_stream_read_all(&error, stream, READ_LIMIT, &size);
    check_result(all != NULL, &error, "read_all");
    if (all != NULL && memory != NULL) {
        require(size == memory_size && (size == 0 || memcmp(all, memory, size) == 0),
                "memory() and read_all() disagree");
    }
    imd_free(all);
    check_result(imd_stream_close(&error, stream), &error, "stream close");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/imd_fuzz_zip_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        return 0;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t wrote = write(fd, data + done, size - done);
        if (wrote <= 0) {
            break;
        }
        done += (size_t)wrote;
    }
    close(fd);
    if (done != size) {
        unlink(path);
        return 0;
    }

    ImdError *error = NULL;
    ImdArchive *archive = imd_archive_open(&error, NULL, path, IMD_MODE_READ, NULL);
    check_result(archive != NULL, &error, "open");
    if (archive != NULL) {
        Listed listed = {{NULL}, 0, false};
        check_result(imd_archive_list(&error, archive, NULL, remember, &listed), &error, "list");
        require(!listed.unordered, "list() is not strictly sorted");
        for (size_t i = 0; i < listed.count && i < MAX_OPENED; i++) {
            read_member(archive, listed.names[i]);
        }
        /* An unsafe name is refused even when the zip holds it. */
        ImdStream *none = imd_archive_open_member(&error, archive, "../evil", IMD_MODE_READ);
        check_result(none != NULL, &error, "open_member of an unsafe name");
        require(none == NULL, "an unsafe name was opened");
        for (size_t i = 0; i < listed.count; i++) {
            free(listed.names[i]);
        }
        check_result(imd_archive_close(&error, archive), &error, "close");
    }
    unlink(path);
    return 0;
}
