/*
 * members.c: what a format reader keeps of each member it accepts until
 * reader_finish: the name and archive (to reopen it there), and either the
 * member's local path (a fast path: the file is mapped or handed to a
 * library that wants a path) or its bytes. One collector for every format
 * instead of one copy each (docs/plugin-abi.md, reader_add).
 */
#include "internal.h"

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
