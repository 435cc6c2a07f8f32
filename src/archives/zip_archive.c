/*
 * zip_archive.c: the "zip" archive, through libzip (when built with
 * IMD_WITH_ZIP; otherwise opening fails with IMD_ERR_UNSUPPORTED).
 *
 * Read: members are inflated into memory as far as reads need (a probe
 * inflates only its head); nothing is ever extracted to disk (the original extracted into the working
 * folder). list() yields regular members in strcmp order; names that are
 * absolute, contain "..", or are otherwise unsafe (imd_member_name_is_safe)
 * are left out (logged as IMD_LOG_SKIPPED: a partial read), and
 * open_member refuses them.
 *
 * Write: the zip is opened with ZIP_CREATE but not ZIP_TRUNCATE, so members
 * are added to an existing zip (the original truncated it), and a member of
 * the same name is replaced. A member stream collects its bytes in memory;
 * its close hands them to libzip, which frees them after zip_close(). The
 * archive's close runs zip_close(), which writes a temporary file and renames
 * it over the zip, so a failed write leaves the old zip intact; abort() drops
 * every change with zip_discard(). An existing empty file (made by `touch` or
 * mktemp) is taken as an empty zip to write into.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <stdio.h>
#include <sys/stat.h>

#ifdef IMD_WITH_ZIP
#include <zip.h>
#endif

/* A member larger than this (uncompressed) is not read into memory. */
#define IMD__ZIP_MEMBER_LIMIT ((uint64_t)4 << 30)

/* The first allocation for a member; grown as data really arrives, so a
 * directory entry that lies about the size cannot make us allocate it. */
#define IMD__ZIP_FIRST_CHUNK ((size_t)1 << 20)

#ifdef IMD_WITH_ZIP

typedef struct ZipMember ZipMember;

typedef struct ZipArchive {
    ImdArchive base;
    zip_t *zip;
    ImdMode mode;
    ZipMember *members; /* member streams being written, detached when the archive goes */
    /* A zip whose transport has no local file: held in memory (libzip buffer
     * source), read from the transport at open, written to it at close. */
    zip_source_t *memory;
    ImdTransport *transport; /* borrowed */
    char *object;            /* the zip's name in the transport */
} ZipArchive;

/* A member being written: a buffer stream that is added to the zip on close. */
struct ZipMember {
    ImdStream base;
    ImdStream *buffer;
    ZipArchive *archive; /* NULL once the archive was closed before this stream */
    char *member;
    ZipMember *previous, *next;
};

static ImdErrorCode zip_code_to_imd(int code)
{
    switch (code) {
    case ZIP_ER_NOENT:
        return IMD_ERR_NOT_FOUND;
    case ZIP_ER_MEMORY:
        return IMD_ERR_NOMEM;
    case ZIP_ER_NOZIP:
    case ZIP_ER_INCONS:
    case ZIP_ER_CRC:
    case ZIP_ER_ZLIB:
    case ZIP_ER_EOF:
    case ZIP_ER_COMPRESSED_DATA:
        return IMD_ERR_CORRUPT;
    case ZIP_ER_MULTIDISK:
    case ZIP_ER_COMPNOTSUPP:
    case ZIP_ER_ENCRNOTSUPP:
    case ZIP_ER_NOPASSWD:
    case ZIP_ER_WRONGPASSWD:
    case ZIP_ER_OPNOTSUPP:
        return IMD_ERR_UNSUPPORTED;
    case ZIP_ER_INVAL:
        return IMD_ERR_INVALID_ARG;
    case ZIP_ER_INTERNAL:
        return IMD_ERR_INTERNAL;
    default:
        return IMD_ERR_IO;
    }
}

/* "<what>: <action>: <libzip's message>" from a zip_error_t. */
static void set_zip_error(ImdError **error, zip_error_t *zip_error, const char *what,
                          const char *member, const char *action)
{
    imd_error_set(error, zip_code_to_imd(zip_error_code_zip(zip_error)), "%s%s%s: %s: %s", what,
                  member != NULL ? ":" : "", member != NULL ? member : "", action,
                  zip_error_strerror(zip_error));
}

static void set_archive_error(ImdError **error, ZipArchive *archive, const char *member,
                              const char *action)
{
    set_zip_error(error, zip_get_error(archive->zip), archive->base.name, member, action);
}

/* ---- listing ------------------------------------------------------------ */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_folder_name(const char *name)
{
    size_t length = strlen(name);
    return length > 0 && name[length - 1] == '/';
}

static bool zip_list(ImdError **error, ImdArchive *base, ImdVisitFn *visit, void *user)
{
    ZipArchive *archive = (ZipArchive *)base;
    zip_int64_t entries = zip_get_num_entries(archive->zip, 0);
    if (entries < 0) {
        imd_error_set(error, IMD_ERR_INTERNAL, "%s: no entry count", base->name);
        return false;
    }
    if ((uint64_t)entries > SIZE_MAX / sizeof(char *)) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: too many entries (%lld)", base->name,
                      (long long)entries);
        return false;
    }
    char **names = NULL;
    size_t count = 0, capacity = 0;
    bool ok = true;
    for (zip_uint64_t i = 0; i < (zip_uint64_t)entries; i++) {
        /* NULL for an entry deleted in this session; skip it. */
        const char *name = zip_get_name(archive->zip, i, 0);
        if (name == NULL || is_folder_name(name)) {
            continue;
        }
        if (!imd_member_name_is_safe(name)) {
            /* Never extracted nor read, but said: the user asked for the whole zip. */
            imd_context_log(imd__context_current(), IMD_LOG_SKIPPED,
                            "%s: member \"%s\" skipped: an unsafe name (absolute, \"..\" or "
                            "a drive)", base->name, name);
            continue;
        }
        if (!imd__grow(error, (void **)&names, &capacity, count + 1, sizeof *names)) {
            ok = false;
            break;
        }
        names[count] = imd__strdup(error, name);
        if (names[count] == NULL) {
            ok = false;
            break;
        }
        count++;
    }
    if (ok && count > 1) {
        qsort(names, count, sizeof *names, compare_names);
    }
    for (size_t i = 0; ok && i < count; i++) {
        /* A zip may repeat a name; list it once, as opening finds one entry. */
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0) {
            continue;
        }
        if (visit(user, names[i]) != 0) {
            break;
        }
    }
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
    return ok;
}

/* ---- reading a member ------------------------------------------------------- */

/*
 * A member being read: inflated lazily, only as far as reads (or seeks)
 * need, so that probing a member (512 bytes) does not inflate all of it
 * (issue 22: a zip of 1 GiB zero members took 44 s to find nothing). The
 * buffer grows with the bytes that really arrive, never beyond the size the
 * directory states; memory() inflates the rest. A member that ends early
 * or late, or fails its CRC, is corrupt when that end is reached.
 */
typedef struct ZipReader {
    ImdStream base;
    zip_file_t *file;
    const char *path; /* the archive's name, for messages (the archive outlives its streams) */
    char *member;
    uint8_t *data;
    size_t length, capacity, expected, position;
    bool done;         /* everything inflated and checked */
    ImdError *failure; /* inflating failed: every later read fails with this */
} ZipReader;

/* Inflate until `want` bytes (at most the stated size) are held, or to the end. */
static bool fill_once(ImdError **error, ZipReader *r, size_t want)
{
    want = want > r->expected ? r->expected : want;
    while (!r->done && r->length < want) {
        if (r->length == r->capacity) {
            /* Doubling from what really arrived: a stated size is not allocated up front. */
            size_t grown = r->capacity == 0 ? IMD__ZIP_FIRST_CHUNK : r->capacity * 2;
            grown = grown > r->expected ? r->expected : grown;
            uint8_t *bigger = imd__realloc(error, r->data, grown);
            if (bigger == NULL) {
                return false;
            }
            r->data = bigger;
            r->capacity = grown;
        }
        zip_int64_t got = zip_fread(r->file, r->data + r->length, r->capacity - r->length);
        if (got < 0) {
            set_zip_error(error, zip_file_get_error(r->file), r->path, r->member, "cannot read");
            return false;
        }
        if (got == 0) {
            break;
        }
        r->length += (size_t)got;
    }
    if (!r->done && (r->length == r->expected || r->length < want)) {
        /* The end: read one byte more, so libzip checks the CRC and we see extra bytes. */
        uint8_t extra;
        zip_int64_t got = r->length == r->expected ? zip_fread(r->file, &extra, 1) : 0;
        if (got < 0) {
            set_zip_error(error, zip_file_get_error(r->file), r->path, r->member, "cannot read");
        } else if (got > 0) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s:%s: longer than the directory says (%zu)",
                          r->path, r->member, r->expected);
        } else if (r->length != r->expected) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s:%s: %zu bytes where the directory says %zu",
                          r->path, r->member, r->length, r->expected);
        } else {
            r->done = true;
            return true;
        }
        return false;
    }
    return true;
}

/* fill_once, remembering a failure: a later read (after memory() failed) reports the same. */
static bool reader_fill(ImdError **error, ZipReader *r, size_t want)
{
    ImdError *local = NULL;
    if (r->failure == NULL && fill_once(&local, r, want)) {
        return true;
    }
    if (r->failure == NULL) {
        if (local == NULL) {
            imd_error_set(&local, IMD_ERR_INTERNAL, "%s: inflating failed", r->base.name);
        }
        r->failure = local;
    }
    imd_error_set(error, imd_error_code(r->failure), "%s", imd_error_message(r->failure));
    return false;
}

static int64_t reader_read(ImdError **error, ImdStream *stream, void *buffer, size_t length)
{
    ZipReader *r = (ZipReader *)stream;
    size_t want;
    if (!imd__add_size(r->position, length, &want)) {
        want = SIZE_MAX;
    }
    if (!reader_fill(error, r, want)) {
        return -1;
    }
    size_t have = r->length > r->position ? r->length - r->position : 0;
    size_t count = have < length ? have : length;
    if (count > 0) {
        memcpy(buffer, r->data + r->position, count);
    }
    r->position += count;
    return (int64_t)count;
}

static int64_t reader_seek(ImdError **error, ImdStream *stream, int64_t offset, int whence)
{
    ZipReader *r = (ZipReader *)stream;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)r->position
                                                               : (int64_t)r->expected;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: bad whence %d", stream->name, whence);
        return -1;
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: seek out of range", stream->name);
        return -1;
    }
    uint64_t target = (uint64_t)(base + offset);
    /* The stated size is known without inflating; the bytes are checked when read. */
    r->position = target > r->expected ? r->expected : (size_t)target;
    return (int64_t)r->position;
}

static const uint8_t *reader_memory(ImdStream *stream, size_t *size)
{
    ZipReader *r = (ZipReader *)stream;
    if (!reader_fill(NULL, r, r->expected) || !r->done) {
        return NULL;
    }
    *size = r->length;
    return r->data != NULL ? r->data : (const uint8_t *)"";
}

static void reader_abort(ImdStream *stream)
{
    ZipReader *r = (ZipReader *)stream;
    if (r->file != NULL) {
        (void)zip_fclose(r->file);
    }
    imd_error_clear(&r->failure);
    free(r->data);
    free(r->member);
    free(r->base.name);
    free(r);
}

static bool reader_close(ImdError **error, ImdStream *stream)
{
    IMD__UNUSED(error);
    reader_abort(stream);
    return true;
}

static const ImdStreamMethods reader_methods = {
    reader_read, NULL, reader_seek, reader_memory, reader_close, reader_abort,
};

static ImdStream *read_member(ImdError **error, ZipArchive *archive, const char *name)
{
    const char *path = archive->base.name;
    zip_int64_t index = zip_name_locate(archive->zip, name, 0);
    if (index < 0) {
        imd_error_set(error, IMD_ERR_NOT_FOUND, "%s: no member \"%s\"", path, name);
        return NULL;
    }
    zip_stat_t info;
    zip_stat_init(&info);
    if (zip_stat_index(archive->zip, (zip_uint64_t)index, 0, &info) != 0) {
        set_archive_error(error, archive, name, "cannot read");
        return NULL;
    }
    if ((info.valid & ZIP_STAT_SIZE) == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s:%s: size unknown", path, name);
        return NULL;
    }
    if (info.size > IMD__ZIP_MEMBER_LIMIT || info.size > SIZE_MAX) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s:%s: %llu bytes exceed the limit of %llu", path,
                      name, (unsigned long long)info.size,
                      (unsigned long long)IMD__ZIP_MEMBER_LIMIT);
        return NULL;
    }
    /* A stored size that the compressed bytes cannot back (deflate: at most 1032:1). */
    uint64_t ratio = info.comp_method == ZIP_CM_STORE ? 1 : IMD__DEFLATE_MAX_RATIO;
    if ((info.valid & ZIP_STAT_COMP_SIZE) != 0 && (info.valid & ZIP_STAT_COMP_METHOD) != 0 &&
        (info.comp_method == ZIP_CM_STORE || info.comp_method == ZIP_CM_DEFLATE) &&
        info.comp_size < UINT64_MAX / ratio && info.size > info.comp_size * ratio + 64) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "%s:%s: %llu compressed bytes cannot hold the %llu bytes the directory "
                      "states", path, name, (unsigned long long)info.comp_size,
                      (unsigned long long)info.size);
        return NULL;
    }
    ZipReader *r = imd__calloc(error, 1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->base.methods = &reader_methods;
    r->path = path;
    r->expected = (size_t)info.size;
    r->member = imd__strdup(error, name);
    r->base.name = imd__sprintf(error, "%s:%s", path, name);
    r->file = r->member != NULL && r->base.name != NULL
                  ? zip_fopen_index(archive->zip, (zip_uint64_t)index, 0)
                  : NULL;
    if (r->file == NULL) {
        if (r->member != NULL && r->base.name != NULL) {
            set_archive_error(error, archive, name, "cannot open");
        }
        reader_abort(&r->base);
        return NULL;
    }
    return &r->base;
}

/* ---- writing a member --------------------------------------------------------- */

static void member_unlink(ZipMember *member)
{
    if (member->archive == NULL) {
        return;
    }
    if (member->previous != NULL) {
        member->previous->next = member->next;
    } else {
        member->archive->members = member->next;
    }
    if (member->next != NULL) {
        member->next->previous = member->previous;
    }
    member->archive = NULL;
    member->previous = member->next = NULL;
}

static void member_free(ZipMember *member)
{
    member_unlink(member);
    imd_stream_abort(member->buffer);
    free(member->member);
    free(member->base.name);
    free(member);
}

static int64_t member_read(ImdError **error, ImdStream *stream, void *buffer, size_t length)
{
    return imd_stream_read(error, ((ZipMember *)stream)->buffer, buffer, length);
}

static int64_t member_write(ImdError **error, ImdStream *stream, const void *buffer,
                            size_t length)
{
    if (!imd_stream_write(error, ((ZipMember *)stream)->buffer, buffer, length)) {
        return -1;
    }
    return (int64_t)length;
}

static int64_t member_seek(ImdError **error, ImdStream *stream, int64_t offset, int whence)
{
    return imd_stream_seek(error, ((ZipMember *)stream)->buffer, offset, whence);
}

static const uint8_t *member_memory(ImdStream *stream, size_t *size)
{
    return imd_stream_memory(((ZipMember *)stream)->buffer, size);
}

static bool member_close(ImdError **error, ImdStream *stream)
{
    ZipMember *member = (ZipMember *)stream;
    ZipArchive *archive = member->archive;
    if (archive == NULL) {
        imd_error_set(error, IMD_ERR_BAD_STATE, "%s: not written: the zip was closed first",
                      stream->name);
        member_free(member);
        return false;
    }
    size_t size;
    void *data = imd_stream_buffer_take(member->buffer, &size);
    /* With freep = 1 libzip owns `data` from here and frees it after zip_close. */
    zip_source_t *source = zip_source_buffer(archive->zip, data, size, 1);
    if (source == NULL) {
        free(data);
        set_archive_error(error, archive, member->member, "cannot add");
        member_free(member);
        return false;
    }
    zip_int64_t index = zip_file_add(archive->zip, member->member, source,
                                     ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8);
    if (index < 0) {
        zip_source_free(source);
        set_archive_error(error, archive, member->member, "cannot add");
        member_free(member);
        return false;
    }
    if (zip_set_file_compression(archive->zip, (zip_uint64_t)index, ZIP_CM_DEFLATE, 0) != 0) {
        set_archive_error(error, archive, member->member, "cannot compress");
        (void)zip_delete(archive->zip, (zip_uint64_t)index);
        member_free(member);
        return false;
    }
    member_free(member);
    return true;
}

static void member_abort(ImdStream *stream)
{
    member_free((ZipMember *)stream);
}

static const ImdStreamMethods member_methods = {
    member_read, member_write, member_seek, member_memory, member_close, member_abort,
};

static ImdStream *write_member(ImdError **error, ZipArchive *archive, const char *name)
{
    ZipMember *member = imd__calloc(error, 1, sizeof *member);
    if (member == NULL) {
        return NULL;
    }
    member->base.methods = &member_methods;
    member->base.name = imd__sprintf(error, "%s:%s", archive->base.name, name);
    member->member = member->base.name != NULL ? imd__strdup(error, name) : NULL;
    member->buffer = member->member != NULL ? imd_stream_open_buffer(error, member->base.name)
                                            : NULL;
    if (member->buffer == NULL) {
        member_free(member);
        return NULL;
    }
    member->archive = archive;
    member->next = archive->members;
    if (archive->members != NULL) {
        archive->members->previous = member;
    }
    archive->members = member;
    return &member->base;
}

static ImdStream *zip_open_member(ImdError **error, ImdArchive *base, const char *name,
                                  ImdMode mode)
{
    ZipArchive *archive = (ZipArchive *)base;
    if (!imd_member_name_is_safe(name)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: unsafe member name \"%s\"", base->name,
                      name);
        return NULL;
    }
    if (mode == IMD_MODE_READ) {
        return read_member(error, archive, name);
    }
    if (archive->mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: opened for reading, cannot write \"%s\"",
                      base->name, name);
        return NULL;
    }
    return write_member(error, archive, name);
}

/* ---- the archive ---------------------------------------------------------------- */

static void archive_free(ZipArchive *archive)
{
    /* Member streams still open now fail on close instead of touching freed memory. */
    while (archive->members != NULL) {
        member_unlink(archive->members);
    }
    if (archive->memory != NULL) {
        zip_source_free(archive->memory);
    }
    free(archive->object);
    free(archive->base.name);
    free(archive);
}

/* After zip_close: the bytes of the in-memory zip, written to the transport. */
static bool write_memory_zip(ImdError **error, ZipArchive *archive)
{
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_stat(archive->memory, &st) != 0 || (st.valid & ZIP_STAT_SIZE) == 0 ||
        zip_source_open(archive->memory) != 0) {
        set_zip_error(error, zip_source_error(archive->memory), archive->base.name, NULL,
                      "cannot read the zip made in memory");
        return false;
    }
    ImdStream *out = imd_transport_create(error, archive->transport, archive->object);
    uint8_t chunk[65536];
    bool ok = out != NULL;
    for (zip_uint64_t done = 0; ok && done < st.size;) {
        zip_int64_t got = zip_source_read(archive->memory, chunk, sizeof chunk);
        if (got <= 0) {
            set_zip_error(error, zip_source_error(archive->memory), archive->base.name, NULL,
                          "cannot read the zip made in memory");
            ok = false;
            break;
        }
        ok = imd_stream_write(error, out, chunk, (size_t)got);
        done += (zip_uint64_t)got;
    }
    (void)zip_source_close(archive->memory);
    if (!ok) {
        imd_stream_abort(out);
        return false;
    }
    return imd_stream_close(error, out);
}

static bool zip_archive_close(ImdError **error, ImdArchive *base)
{
    ZipArchive *archive = (ZipArchive *)base;
    bool ok = true;
    if (archive->mode == IMD_MODE_READ) {
        zip_discard(archive->zip);
    } else if (zip_close(archive->zip) != 0) {
        set_archive_error(error, archive, NULL, "cannot write");
        zip_discard(archive->zip); /* a failed zip_close leaves the handle open */
        ok = false;
    } else if (archive->memory != NULL) {
        ok = write_memory_zip(error, archive);
    }
    archive_free(archive);
    return ok;
}

static void zip_archive_abort(ImdArchive *base)
{
    ZipArchive *archive = (ZipArchive *)base;
    zip_discard(archive->zip);
    archive_free(archive);
}

static const ImdArchiveMethods zip_methods = {
    zip_list, zip_open_member, zip_archive_close, zip_archive_abort, NULL, NULL,
};

/* A zip on the local file system: libzip works on the file itself. */
static bool open_local(ImdError **error, ZipArchive *archive, const char *path, ImdMode mode)
{
    /* No ZIP_TRUNCATE: writing adds to an existing zip instead of emptying it. */
    int code = 0;
    archive->zip = zip_open(path, mode == IMD_MODE_READ ? ZIP_RDONLY : ZIP_CREATE, &code);
    struct stat info;
    if (archive->zip == NULL && mode == IMD_MODE_WRITE && code == ZIP_ER_NOZIP &&
        stat(path, &info) == 0 && S_ISREG(info.st_mode) && info.st_size == 0) {
        /* libzip refuses a 0-byte file as "not a zip"; truncating it loses nothing. */
        archive->zip = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code);
    }
    if (archive->zip == NULL) {
        zip_error_t zip_error;
        zip_error_init_with_code(&zip_error, code);
        set_zip_error(error, &zip_error, path, NULL, "cannot open");
        zip_error_fini(&zip_error);
        return false;
    }
    return true;
}


/* A zip elsewhere (a memory or network transport): read whole into a libzip
 * buffer source; a new zip to write starts empty there and is written out at
 * close. */
static bool open_in_memory(ImdError **error, ZipArchive *archive, ImdMode mode)
{
    void *data = NULL;
    size_t size = 0;
    if (mode == IMD_MODE_READ) {
        ImdStream *in = imd_transport_open_read(error, archive->transport, archive->object);
        data = in != NULL ? imd_stream_read_all(error, in, IMD__ZIP_MEMBER_LIMIT, &size) : NULL;
        imd_stream_abort(in);
        if (data == NULL) {
            return false;
        }
    }
    zip_error_t zip_error;
    zip_error_init(&zip_error);
    archive->memory = zip_source_buffer_create(data, size, data != NULL, &zip_error);
    if (archive->memory == NULL) {
        free(data);
    } else {
        zip_source_keep(archive->memory); /* kept past zip_close, to be written out */
        archive->zip = zip_open_from_source(
            archive->memory, mode == IMD_MODE_READ ? ZIP_RDONLY : ZIP_CREATE | ZIP_TRUNCATE,
            &zip_error);
    }
    if (archive->zip == NULL) {
        set_zip_error(error, &zip_error, archive->base.name, NULL, "cannot open");
    }
    zip_error_fini(&zip_error);
    return archive->zip != NULL;
}

static ImdArchive *zip_archive_open(ImdError **error, ImdTransport *transport,
                                    const char *object, ImdMode mode, const ImdOptions *options)
{
    IMD__UNUSED(options);
    if (transport == NULL || object == NULL || object[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "zip archive: no transport or no zip name");
        return NULL;
    }
    if (mode != IMD_MODE_READ && mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: bad mode %d", object, (int)mode);
        return NULL;
    }
    ZipArchive *archive = imd__calloc(error, 1, sizeof *archive);
    if (archive == NULL) {
        return NULL;
    }
    archive->base.methods = &zip_methods;
    archive->mode = mode;
    archive->transport = transport;
    char *path = imd_transport_local_path(transport, object);
    archive->base.name = path != NULL ? imd__strdup(error, path) : imd__strdup(error, object);
    archive->object = imd__strdup(error, object);
    bool ok = archive->base.name != NULL && archive->object != NULL &&
              (path != NULL ? open_local(error, archive, path, mode)
                            : open_in_memory(error, archive, mode));
    free(path);
    if (!ok) {
        archive_free(archive);
        return NULL;
    }
    return &archive->base;
}

#else /* !IMD_WITH_ZIP */

static ImdArchive *zip_archive_open(ImdError **error, ImdTransport *transport,
                                    const char *object, ImdMode mode, const ImdOptions *options)
{
    IMD__UNUSED(transport);
    IMD__UNUSED(mode);
    IMD__UNUSED(options);
    imd_error_set(error, IMD_ERR_UNSUPPORTED,
                  "%s: zip archives need libzip (built without IMD_WITH_ZIP)",
                  object != NULL ? object : "zip archive");
    return NULL;
}

#endif /* IMD_WITH_ZIP */

/* A local file header starts a zip with members; an end record alone, an empty zip. */
static int zip_probe(const uint8_t *head, size_t head_length, const char *name)
{
    IMD__UNUSED(name);
    if (head == NULL || head_length < 4 || head[0] != 'P' || head[1] != 'K') {
        return 0;
    }
    if ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6)) {
        return 100;
    }
    return 0;
}

static const char *const zip_suffixes[] = {".zip", NULL};

const ImdArchivePlugin imd__zip_archive = {
    IMD_PLUGIN_ABI_VERSION,
    (uint32_t)sizeof(ImdArchivePlugin),
    "zip",
    "a zip file (members read into memory, writes add to an existing zip)",
    zip_suffixes,
    zip_probe,
    zip_archive_open,
};
