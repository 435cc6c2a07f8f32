/*
 * members.c: what a format reader keeps of each member it accepts until
 * reader_finish: the name and archive (to reopen it there), and either the
 * member's local path (a fast path: the file is mapped or handed to a
 * library that wants a path) or its bytes. One collector for every format
 * instead of one copy each (docs/plugin-abi.md, reader_add).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void imd__member_free(ImdMember *member)
{
    if (member == NULL) {
        return;
    }
    free(member->name);
    free(member->path);
    free(member->bytes);
    memset(member, 0, sizeof *member);
}

bool imd__member_keep(ImdError **error, ImdMember *member, ImdArchive *archive, const char *name,
                      ImdStream *stream, ImdMemberKeep keep, size_t limit)
{
    memset(member, 0, sizeof *member);
    member->archive = archive;
    member->name = imd__strdup(error, name);
    if (member->name == NULL) {
        return false;
    }
    if (keep == IMD__KEEP_NAME) {
        return true;
    }
    if (keep == IMD__KEEP_LOCAL_OR_BYTES) {
        member->path = imd_archive_local_path(archive, name);
        if (member->path != NULL) {
            return true;
        }
    }
    /* An empty member is kept as 0 bytes (bytes NULL): the format decides. */
    ImdError *local = NULL;
    member->bytes = imd_stream_read_all(&local, stream, limit, &member->size);
    if (member->bytes == NULL && local != NULL) {
        imd_error_propagate(error, local);
        imd__member_free(member);
        return false;
    }
    return true;
}

bool imd__member_push(ImdError **error, void **items, size_t *count, size_t *capacity,
                      const void *item, size_t item_size)
{
    if (!imd__grow(error, items, capacity, *count + 1, item_size)) {
        return false;
    }
    memcpy((uint8_t *)*items + *count * item_size, item, item_size);
    (*count)++;
    return true;
}

/* ---- a member's bytes, mapped when it is a local file ---- */

bool imd__blob_map_file(ImdError **error, const char *path, ImdBlob *blob)
{
    memset(blob, 0, sizeof *blob);
    int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not block the open */
    if (fd < 0) {
        imd_error_set(error, errno == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO, "%s: %s", path,
                      strerror(errno));
        return false;
    }
    struct stat info;
    bool ok = fstat(fd, &info) == 0;
    if (!ok) {
        imd_error_set(error, IMD_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(info.st_mode)) {
        /* A device or FIFO has no size to check a header against (issue 22). */
        imd_error_set(error, IMD_ERR_IO, "%s: cannot read: not a regular file", path);
        ok = false;
    } else if (info.st_size == 0) {
        blob->data = (const uint8_t *)"";
    } else if ((uint64_t)info.st_size > SIZE_MAX) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: too large for this machine", path);
        ok = false;
    } else {
        void *map = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            imd_error_set(error, IMD_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
            ok = false;
        } else {
            blob->map = map;
            blob->data = map;
            blob->size = (size_t)info.st_size;
        }
    }
    close(fd);
    return ok;
}

bool imd__blob_open(ImdError **error, ImdArchive *archive, const char *name, size_t limit,
                    pthread_mutex_t *lock, ImdBlob *blob)
{
    memset(blob, 0, sizeof *blob);
    char *path = imd_archive_local_path(archive, name);
    if (path != NULL) {
        bool ok = imd__blob_map_file(error, path, blob);
        free(path);
        return ok;
    }
    if (lock != NULL) {
        pthread_mutex_lock(lock);
    }
    ImdStream *stream = imd_archive_open_member(error, archive, name, IMD_MODE_READ);
    size_t size = 0;
    uint8_t *bytes = stream != NULL ? imd_stream_read_all(error, stream, limit, &size) : NULL;
    bool ok = stream != NULL && (bytes != NULL || size == 0);
    imd_stream_abort(stream);
    if (lock != NULL) {
        pthread_mutex_unlock(lock);
    }
    if (ok) {
        blob->owned = bytes;
        blob->data = bytes != NULL ? bytes : (const uint8_t *)"";
        blob->size = size;
    }
    return ok;
}

bool imd__blob_of_member(ImdError **error, const ImdMember *member, ImdBlob *blob)
{
    memset(blob, 0, sizeof *blob);
    if (member->path != NULL) {
        return imd__blob_map_file(error, member->path, blob);
    }
    blob->data = member->bytes != NULL ? member->bytes : (const uint8_t *)"";
    blob->size = member->size; /* borrowed: the member frees its bytes */
    return true;
}

void imd__blob_close(ImdBlob *blob)
{
    if (blob->map != NULL) {
        munmap(blob->map, blob->size);
    }
    free(blob->owned);
    memset(blob, 0, sizeof *blob);
}
