/*
 * stream.c: ImdStream over files, memory and growing buffers, and the
 * checked wrapper functions that every caller goes through.
 *
 * File writes never touch the destination until they are complete: bytes go
 * to "<path>.tmp-XXXXXX" in the same folder (so the final rename stays on one
 * file system and is atomic) and close() renames it onto the path. abort(),
 * or a close after a failed write, removes the temporary file.
 */
#define _POSIX_C_SOURCE 200809L

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* One read() or write() call moves at most this much, well below SSIZE_MAX. */
#define IMD__IO_CHUNK ((size_t)1 << 30)

/* How often to retry a temporary name that already exists. */
#define IMD__TEMP_ATTEMPTS 100

/* The suffix added to the destination path while writing; fs_archive.c skips it. */
#define IMD__TEMP_SUFFIX ".tmp-"
#define IMD__TEMP_RANDOM 6

/* strerror() may use a shared buffer; strerror_r (XSI form under POSIX) does not. */
static const char *describe_errno(int number, char *buffer, size_t size)
{
    if (strerror_r(number, buffer, size) != 0) {
        (void)snprintf(buffer, size, "error %d", number);
    }
    return buffer;
}

static void set_errno_error(ImdError **error, ImdErrorCode code, const char *name,
                            const char *action, int number)
{
    char text[256];
    imd_error_set(error, code, "%s: %s: %s", name, action,
                  describe_errno(number, text, sizeof text));
}

static ImdStream *stream_init(ImdError **error, ImdStream *stream,
                              const ImdStreamMethods *methods, const char *name)
{
    stream->methods = methods;
    stream->name = imd__strdup(error, name != NULL ? name : "");
    return stream->name != NULL ? stream : NULL;
}

/* Map fseek-style whence onto a base offset; -1 with INVALID_ARG for others. */
static int64_t seek_target(ImdError **error, const char *name, int64_t position, int64_t size,
                           int64_t offset, int whence)
{
    int64_t base;
    switch (whence) {
    case 0:
        base = 0;
        break;
    case 1:
        base = position;
        break;
    case 2:
        base = size;
        break;
    default:
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: bad seek origin %d", name, whence);
        return -1;
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: seek to %lld%+lld is out of range", name,
                      (long long)base, (long long)offset);
        return -1;
    }
    return base + offset;
}

/* ---- files ---------------------------------------------------------------- */

typedef struct FileStream {
    ImdStream base;
    int fd;
    char *temp_path; /* write mode: where the bytes go until close renames them */
    bool failed;     /* a write failed: close must not publish a partial file */
} FileStream;

static int64_t file_read(ImdError **error, ImdStream *stream, void *buffer, size_t length)
{
    FileStream *file = (FileStream *)stream;
    if (length > IMD__IO_CHUNK) {
        length = IMD__IO_CHUNK;
    }
    for (;;) {
        ssize_t got = read(file->fd, buffer, length);
        if (got >= 0) {
            return (int64_t)got;
        }
        if (errno != EINTR) {
            set_errno_error(error, IMD_ERR_IO, stream->name, "cannot read", errno);
            return -1;
        }
    }
}

static int64_t file_write(ImdError **error, ImdStream *stream, const void *buffer, size_t length)
{
    FileStream *file = (FileStream *)stream;
    if (file->failed) {
        imd_error_set(error, IMD_ERR_BAD_STATE, "%s: an earlier write failed", stream->name);
        return -1;
    }
    const uint8_t *bytes = buffer;
    size_t done = 0;
    while (done < length) {
        size_t piece = length - done < IMD__IO_CHUNK ? length - done : IMD__IO_CHUNK;
        /* A test build's injected fault looks like a full disk. */
        ssize_t wrote =
            imd__fault_write() ? (errno = ENOSPC, -1) : write(file->fd, bytes + done, piece);
        if (wrote < 0) {
            if (errno == EINTR) {
                continue;
            }
            file->failed = true;
            set_errno_error(error, IMD_ERR_IO, stream->name, "cannot write", errno);
            return -1;
        }
        done += (size_t)wrote;
    }
    return (int64_t)length;
}

static int64_t file_seek(ImdError **error, ImdStream *stream, int64_t offset, int whence)
{
    FileStream *file = (FileStream *)stream;
    int origin = whence == 0 ? SEEK_SET : whence == 1 ? SEEK_CUR : whence == 2 ? SEEK_END : -1;
    if (origin < 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: bad seek origin %d", stream->name, whence);
        return -1;
    }
    if ((int64_t)(off_t)offset != offset) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: seek offset %lld is out of range",
                      stream->name, (long long)offset);
        return -1;
    }
    off_t at = lseek(file->fd, (off_t)offset, origin);
    if (at < 0) {
        set_errno_error(error, errno == EINVAL ? IMD_ERR_INVALID_ARG : IMD_ERR_IO, stream->name,
                        "cannot seek", errno);
        return -1;
    }
    return (int64_t)at;
}

static void file_free(FileStream *file)
{
    free(file->temp_path);
    free(file->base.name);
    free(file);
}

static bool file_close_read(ImdError **error, ImdStream *stream)
{
    FileStream *file = (FileStream *)stream;
    IMD__UNUSED(error);
    /* Nothing was written, so an error from close() cannot lose data. */
    (void)close(file->fd);
    file_free(file);
    return true;
}

static void file_abort(ImdStream *stream)
{
    FileStream *file = (FileStream *)stream;
    (void)close(file->fd);
    if (file->temp_path != NULL) {
        (void)unlink(file->temp_path);
    }
    file_free(file);
}

static bool file_close_write(ImdError **error, ImdStream *stream)
{
    FileStream *file = (FileStream *)stream;
    if (file->failed) {
        imd_error_set(error, IMD_ERR_IO, "%s: not written: an earlier write failed",
                      stream->name);
        file_abort(stream);
        return false;
    }
    /* close() can report a delayed write error (NFS, a full disk). */
    int closed = close(file->fd);
    if (imd__fault_write()) { /* a test build's injected fault: a delayed write error */
        closed = -1;
        errno = EIO;
    }
    file->fd = -1;
    if (closed != 0 && errno != EINTR) {
        set_errno_error(error, IMD_ERR_IO, stream->name, "cannot write", errno);
        (void)unlink(file->temp_path);
        file_free(file);
        return false;
    }
    if (rename(file->temp_path, stream->name) != 0) {
        set_errno_error(error, IMD_ERR_IO, stream->name, "cannot replace", errno);
        (void)unlink(file->temp_path);
        file_free(file);
        return false;
    }
    file_free(file);
    return true;
}

static const ImdStreamMethods file_read_methods = {
    file_read, NULL, file_seek, NULL, file_close_read, file_abort,
};

static const ImdStreamMethods file_write_methods = {
    file_read, file_write, file_seek, NULL, file_close_write, file_abort,
};

/*
 * Create "<path>.tmp-XXXXXX" exclusively. Not mkstemp(): it creates mode 0600,
 * and the renamed result would then be private; open(O_EXCL, 0666) gives the
 * usual umask-derived mode with the same no-clobber guarantee.
 */
static int create_temp(ImdError **error, const char *path, char **temp_path)
{
    static const char letters[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t length = strlen(path);
    size_t total;
    if (!imd__add_size(length, sizeof IMD__TEMP_SUFFIX + IMD__TEMP_RANDOM, &total)) {
        imd_error_set(error, IMD_ERR_LIMIT, "path too long");
        return -1;
    }
    char *name = imd__malloc(error, total);
    if (name == NULL) {
        return -1;
    }
    memcpy(name, path, length);
    memcpy(name + length, IMD__TEMP_SUFFIX, sizeof IMD__TEMP_SUFFIX - 1);
    char *random_part = name + length + sizeof IMD__TEMP_SUFFIX - 1;
    random_part[IMD__TEMP_RANDOM] = '\0';

    /* Seed from the clock, the process and a stack address: collisions just retry. */
    struct timespec now;
    (void)clock_gettime(CLOCK_REALTIME, &now);
    uint64_t state = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^
                     ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&now;
    for (int attempt = 0; attempt < IMD__TEMP_ATTEMPTS; attempt++) {
        for (int i = 0; i < IMD__TEMP_RANDOM; i++) {
            /* xorshift64*: cheap, and good enough to spread names */
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            uint64_t value = state * 2685821657736338717ull;
            random_part[i] = letters[(value >> 32) % (sizeof letters - 1)];
        }
        int fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *temp_path = name;
            return fd;
        }
        if (errno != EEXIST && errno != EINTR) {
            set_errno_error(error, IMD_ERR_IO, path, "cannot open", errno);
            free(name);
            return -1;
        }
    }
    imd_error_set(error, IMD_ERR_IO, "%s: cannot open: no free temporary name", path);
    free(name);
    return -1;
}

/*
 * One fstat of a file just opened for reading: a folder opens fine but fails
 * on the first read, so say so now; and only regular files are inputs: a
 * device (/dev/zero), a FIFO or a socket has no size to check a header's
 * claims against and may never end, so it is refused by name before the
 * first read.
 */
static bool check_regular(ImdError **error, int fd, const char *path)
{
    struct stat info;
    if (fstat(fd, &info) != 0) {
        set_errno_error(error, IMD_ERR_IO, path, "cannot open", errno);
        return false;
    }
    if (S_ISDIR(info.st_mode)) {
        set_errno_error(error, IMD_ERR_IO, path, "cannot open", EISDIR);
        return false;
    }
    const char *kind = S_ISCHR(info.st_mode)    ? "a character device"
                       : S_ISBLK(info.st_mode)  ? "a block device"
                       : S_ISFIFO(info.st_mode) ? "a FIFO"
                       : S_ISSOCK(info.st_mode) ? "a socket"
                       : !S_ISREG(info.st_mode) ? "a special file"
                                                : NULL;
    if (kind != NULL) {
        imd_error_set(error, IMD_ERR_IO, "%s: cannot read: %s, not a regular file", path, kind);
        return false;
    }
    return true;
}

ImdStream *imd_stream_open_file(ImdError **error, const char *path, ImdMode mode)
{
    if (path == NULL || path[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_stream_open_file: empty path");
        return NULL;
    }
    if (mode != IMD_MODE_READ && mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: bad mode %d", path, (int)mode);
        return NULL;
    }
    FileStream *file = imd__calloc(error, 1, sizeof *file);
    if (file == NULL) {
        return NULL;
    }
    file->fd = -1;
    if (stream_init(error, &file->base,
                    mode == IMD_MODE_READ ? &file_read_methods : &file_write_methods,
                    path) == NULL) {
        free(file);
        return NULL;
    }
    if (mode == IMD_MODE_READ) {
        /* O_NONBLOCK: opening a FIFO must not wait for a writer; cleared below. */
        do {
            file->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        } while (file->fd < 0 && errno == EINTR);
        if (file->fd < 0) {
            set_errno_error(error, errno == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO, path,
                            "cannot open", errno);
            file_free(file);
            return NULL;
        }
        if (!check_regular(error, file->fd, path)) {
            (void)close(file->fd);
            file_free(file);
            return NULL;
        }
        int flags = fcntl(file->fd, F_GETFL);
        if (flags >= 0) {
            (void)fcntl(file->fd, F_SETFL, flags & ~O_NONBLOCK);
        }
        return &file->base;
    }
    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode)) {
        set_errno_error(error, IMD_ERR_IO, path, "cannot open", EISDIR);
        file_free(file);
        return NULL;
    }
    file->fd = create_temp(error, path, &file->temp_path);
    if (file->fd < 0) {
        file_free(file);
        return NULL;
    }
    return &file->base;
}

/* ---- memory (read only) ---------------------------------------------------- */

typedef struct MemoryStream {
    ImdStream base;
    const uint8_t *data;
    size_t size, position;
    void (*release)(void *data, void *user);
    void *user;
} MemoryStream;

/* Read from `size` bytes held in memory at *position (memory and buffer streams). */
static int64_t read_from_memory(const uint8_t *data, size_t size, size_t *position, void *buffer,
                                size_t length)
{
    if (*position >= size) {
        return 0;
    }
    size_t left = size - *position;
    if (length > left) {
        length = left;
    }
    if (length > (size_t)INT64_MAX) {
        length = (size_t)INT64_MAX;
    }
    memcpy(buffer, data + *position, length);
    *position += length;
    return (int64_t)length;
}

static int64_t memory_read(ImdError **error, ImdStream *stream, void *buffer, size_t length)
{
    MemoryStream *memory = (MemoryStream *)stream;
    IMD__UNUSED(error);
    return read_from_memory(memory->data, memory->size, &memory->position, buffer, length);
}

/*
 * Seek within `size` bytes held in memory (memory and buffer streams). Like
 * lseek, a position past the end is allowed; reads there return 0. A memory
 * block is far below INT64_MAX bytes on every real machine.
 */
static int64_t seek_in_memory(ImdError **error, const char *name, size_t *position, size_t size,
                              int64_t offset, int whence)
{
    int64_t target = seek_target(error, name, (int64_t)*position, (int64_t)size, offset, whence);
    if (target < 0) {
        return -1;
    }
    if ((uint64_t)target > SIZE_MAX) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: seek offset %lld is out of range", name,
                      (long long)target);
        return -1;
    }
    *position = (size_t)target;
    return target;
}

static int64_t memory_seek(ImdError **error, ImdStream *stream, int64_t offset, int whence)
{
    MemoryStream *memory = (MemoryStream *)stream;
    return seek_in_memory(error, stream->name, &memory->position, memory->size, offset, whence);
}

static const uint8_t *memory_memory(ImdStream *stream, size_t *size)
{
    MemoryStream *memory = (MemoryStream *)stream;
    *size = memory->size;
    return memory->data;
}

static bool memory_close(ImdError **error, ImdStream *stream)
{
    MemoryStream *memory = (MemoryStream *)stream;
    IMD__UNUSED(error);
    if (memory->release != NULL) {
        /* The caller handed us the block; giving it back is the release's job. */
        memory->release((void *)(uintptr_t)memory->data, memory->user);
    }
    free(stream->name);
    free(memory);
    return true;
}

static void memory_abort(ImdStream *stream)
{
    (void)memory_close(NULL, stream);
}

static const ImdStreamMethods memory_methods = {
    memory_read, NULL, memory_seek, memory_memory, memory_close, memory_abort,
};

ImdStream *imd_stream_open_memory(ImdError **error, const void *data, size_t size,
                                  const char *name, void (*release)(void *data, void *user),
                                  void *user)
{
    if (data == NULL && size != 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: no data for %zu bytes",
                      name != NULL ? name : "memory", size);
        return NULL;
    }
    MemoryStream *memory = imd__calloc(error, 1, sizeof *memory);
    if (memory == NULL) {
        return NULL;
    }
    if (stream_init(error, &memory->base, &memory_methods, name != NULL ? name : "memory") ==
        NULL) {
        free(memory);
        return NULL;
    }
    memory->data = data;
    memory->size = size;
    memory->release = release;
    memory->user = user;
    return &memory->base;
}

/* ---- a local file's mapping (read only) ------------------------------------- */

void imd__unmap(void *data, void *user)
{
    (void)munmap(data, (size_t)(uintptr_t)user);
}

ImdStream *imd__stream_map_file(ImdError **error, const char *path)
{
    int fd;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below). */
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        set_errno_error(error, errno == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO, path,
                        "cannot open", errno);
        return NULL;
    }
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        /* Folders and special files: imd_stream_open_file() says what they are. */
        (void)close(fd);
        imd_error_set(error, IMD_ERR_IO, "%s: not a regular file to map", path);
        return NULL;
    }
    if ((uint64_t)info.st_size > SIZE_MAX) {
        (void)close(fd);
        imd_error_set(error, IMD_ERR_LIMIT, "%s: too large to map", path);
        return NULL;
    }
    size_t size = (size_t)info.st_size;
    void *map = NULL;
    if (size > 0) { /* an empty file has nothing to map (mmap refuses length 0) */
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    }
    (void)close(fd); /* the mapping stays valid without the descriptor (POSIX mmap) */
    if (map == MAP_FAILED) {
        set_errno_error(error, IMD_ERR_IO, path, "cannot map", errno);
        return NULL;
    }
    ImdStream *stream = imd_stream_open_memory(error, map, size, path,
                                               map != NULL ? imd__unmap : NULL,
                                               (void *)(uintptr_t)size);
    if (stream == NULL && map != NULL) {
        imd__unmap(map, (void *)(uintptr_t)size);
    }
    return stream;
}

bool imd__stream_take_mapping(ImdStream *stream, uint8_t **data, size_t *size)
{
    if (stream == NULL || stream->methods != &memory_methods) {
        return false;
    }
    MemoryStream *memory = (MemoryStream *)stream;
    if (memory->release != imd__unmap || memory->data == NULL) {
        return false;
    }
    *data = (uint8_t *)(uintptr_t)memory->data;
    *size = memory->size;
    memory->release = NULL; /* still readable until closed; the taker unmaps it */
    return true;
}

/* ---- growing buffer (write, and read back) ------------------------------------ */

typedef struct BufferStream {
    ImdStream base;
    uint8_t *data;
    size_t size, capacity, position;
} BufferStream;

static int64_t buffer_read(ImdError **error, ImdStream *stream, void *buffer, size_t length)
{
    BufferStream *memory = (BufferStream *)stream;
    IMD__UNUSED(error);
    return read_from_memory(memory->data, memory->size, &memory->position, buffer, length);
}

static int64_t buffer_write(ImdError **error, ImdStream *stream, const void *buffer,
                            size_t length)
{
    BufferStream *memory = (BufferStream *)stream;
    size_t end;
    if (length > (size_t)INT64_MAX || !imd__add_size(memory->position, length, &end)) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: buffer would exceed the address space",
                      stream->name);
        return -1;
    }
    if (!imd__grow(error, (void **)&memory->data, &memory->capacity, end, 1)) {
        imd_error_prefix(error, "%s: ", stream->name);
        return -1;
    }
    /* A seek past the end leaves a gap; it reads as zeros, as in a file. */
    if (memory->position > memory->size) {
        memset(memory->data + memory->size, 0, memory->position - memory->size);
    }
    if (length > 0) {
        memcpy(memory->data + memory->position, buffer, length);
    }
    memory->position = end;
    if (end > memory->size) {
        memory->size = end;
    }
    return (int64_t)length;
}

static int64_t buffer_seek(ImdError **error, ImdStream *stream, int64_t offset, int whence)
{
    BufferStream *memory = (BufferStream *)stream;
    return seek_in_memory(error, stream->name, &memory->position, memory->size, offset, whence);
}

static const uint8_t *buffer_memory(ImdStream *stream, size_t *size)
{
    BufferStream *memory = (BufferStream *)stream;
    *size = memory->size;
    return memory->data;
}

static bool buffer_close(ImdError **error, ImdStream *stream)
{
    BufferStream *memory = (BufferStream *)stream;
    IMD__UNUSED(error);
    free(memory->data);
    free(stream->name);
    free(memory);
    return true;
}

static void buffer_abort(ImdStream *stream)
{
    (void)buffer_close(NULL, stream);
}

static const ImdStreamMethods buffer_methods = {
    buffer_read, buffer_write, buffer_seek, buffer_memory, buffer_close, buffer_abort,
};

ImdStream *imd_stream_open_buffer(ImdError **error, const char *name)
{
    BufferStream *memory = imd__calloc(error, 1, sizeof *memory);
    if (memory == NULL) {
        return NULL;
    }
    if (stream_init(error, &memory->base, &buffer_methods, name != NULL ? name : "buffer") ==
        NULL) {
        free(memory);
        return NULL;
    }
    return &memory->base;
}

void *imd_stream_buffer_take(ImdStream *stream, size_t *size)
{
    size_t ignored;
    if (size == NULL) {
        size = &ignored;
    }
    *size = 0;
    if (stream == NULL || stream->methods != &buffer_methods) {
        return NULL;
    }
    BufferStream *memory = (BufferStream *)stream;
    if (memory->size == 0) {
        return NULL;
    }
    void *data = memory->data;
    *size = memory->size;
    memory->data = NULL;
    memory->size = memory->capacity = memory->position = 0;
    return data;
}

/* ---- the checked wrappers ----------------------------------------------------- */

/*
 * Streams may come from plugins; these wrappers hold them to the contract
 * (a failure always carries an error, counts stay within the request) so
 * that a faulty plugin shows up as IMD_ERR_INTERNAL rather than a crash.
 */

static bool check_stream(ImdError **error, const ImdStream *stream, const char *function)
{
    if (stream == NULL || stream->methods == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: no stream", function);
        return false;
    }
    return true;
}

const char *imd_stream_name(const ImdStream *stream)
{
    return stream != NULL && stream->name != NULL ? stream->name : "";
}

int64_t imd_stream_read(ImdError **error, ImdStream *stream, void *buffer, size_t length)
{
    if (!check_stream(error, stream, "imd_stream_read")) {
        return -1;
    }
    if (stream->methods->read == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: not open for reading",
                      imd_stream_name(stream));
        return -1;
    }
    if (buffer == NULL && length != 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: no buffer to read into",
                      imd_stream_name(stream));
        return -1;
    }
    if (length == 0) {
        return 0;
    }
    if (length > (size_t)INT64_MAX) {
        length = (size_t)INT64_MAX;
    }
    /* Every reader and writer passes here: the one place to notice a cancel. */
    if (!imd__check_cancel(error, NULL, imd_stream_name(stream))) {
        return -1;
    }
    ImdError *local = NULL;
    int64_t got = stream->methods->read(&local, stream, buffer, length);
    if (got < 0 || (uint64_t)got > (uint64_t)length) {
        if (local == NULL) {
            imd_error_set(&local, IMD_ERR_INTERNAL, "%s: read returned %lld for %zu bytes",
                          imd_stream_name(stream), (long long)got, length);
        }
        imd_error_propagate(error, local);
        return -1;
    }
    imd_error_clear(&local);
    return got;
}

bool imd_stream_read_exact(ImdError **error, ImdStream *stream, void *buffer, size_t length)
{
    uint8_t *bytes = buffer;
    size_t done = 0;
    while (done < length) {
        int64_t got = imd_stream_read(error, stream, bytes + done, length - done);
        if (got < 0) {
            return false;
        }
        if (got == 0) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: unexpected end (%zu of %zu bytes)",
                          imd_stream_name(stream), done, length);
            return false;
        }
        done += (size_t)got;
    }
    if (length == 0 && !check_stream(error, stream, "imd_stream_read_exact")) {
        return false;
    }
    return true;
}

bool imd_stream_write(ImdError **error, ImdStream *stream, const void *buffer, size_t length)
{
    if (!check_stream(error, stream, "imd_stream_write")) {
        return false;
    }
    if (stream->methods->write == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: not open for writing",
                      imd_stream_name(stream));
        return false;
    }
    if (buffer == NULL && length != 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: no data to write",
                      imd_stream_name(stream));
        return false;
    }
    if (length > (size_t)INT64_MAX) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: %zu bytes is too much for one write",
                      imd_stream_name(stream), length);
        return false;
    }
    if (!imd__check_cancel(error, NULL, imd_stream_name(stream))) {
        return false;
    }
    /*
     * A test build's injected fault fails here, before the stream sees the
     * bytes: the stream stays usable, so only the caller's own handling of
     * the failure keeps a partial output from being committed. (A file
     * stream's write(2) counts again, above, for the stream's own handling.)
     */
    if (imd__fault_write()) {
        imd_error_set(error, IMD_ERR_IO, "%s: cannot write: injected fault",
                      imd_stream_name(stream));
        return false;
    }
    ImdError *local = NULL;
    int64_t wrote = stream->methods->write(&local, stream, buffer, length);
    if (wrote != (int64_t)length) {
        if (local == NULL) {
            imd_error_set(&local, wrote < 0 ? IMD_ERR_INTERNAL : IMD_ERR_IO,
                          "%s: wrote %lld of %zu bytes", imd_stream_name(stream),
                          (long long)wrote, length);
        }
        imd_error_propagate(error, local);
        return false;
    }
    imd_error_clear(&local);
    return true;
}

int64_t imd_stream_seek(ImdError **error, ImdStream *stream, int64_t offset, int whence)
{
    if (!check_stream(error, stream, "imd_stream_seek")) {
        return -1;
    }
    if (whence < 0 || whence > 2) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: bad seek origin %d",
                      imd_stream_name(stream), whence);
        return -1;
    }
    if (stream->methods->seek == NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: cannot seek", imd_stream_name(stream));
        return -1;
    }
    ImdError *local = NULL;
    int64_t at = stream->methods->seek(&local, stream, offset, whence);
    if (at < 0) {
        if (local == NULL) {
            imd_error_set(&local, IMD_ERR_INTERNAL, "%s: seek failed without a reason",
                          imd_stream_name(stream));
        }
        imd_error_propagate(error, local);
        return -1;
    }
    imd_error_clear(&local);
    return at;
}

const uint8_t *imd_stream_memory(ImdStream *stream, size_t *size)
{
    size_t ignored;
    if (size == NULL) {
        size = &ignored;
    }
    *size = 0;
    if (stream == NULL || stream->methods == NULL || stream->methods->memory == NULL) {
        return NULL;
    }
    const uint8_t *data = stream->methods->memory(stream, size);
    if (data == NULL) {
        *size = 0;
    }
    return data;
}

bool imd_stream_close(ImdError **error, ImdStream *stream)
{
    if (stream == NULL) {
        return true;
    }
    if (stream->methods == NULL || stream->methods->close == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_stream_close: stream without methods");
        return false;
    }
    /* The stream frees its name, so remember what to call it first. */
    char *name = imd__strdup(NULL, imd_stream_name(stream));
    ImdError *local = NULL;
    bool ok = stream->methods->close(&local, stream);
    return imd__close_result(error, ok, local, name, "stream");
}

void imd_stream_abort(ImdStream *stream)
{
    if (stream == NULL || stream->methods == NULL) {
        return;
    }
    if (stream->methods->abort != NULL) {
        stream->methods->abort(stream);
    } else if (stream->methods->close != NULL) {
        (void)stream->methods->close(NULL, stream);
    }
}

/* Start size of the read_all buffer when the stream size is unknown. */
#define IMD__READ_ALL_START ((size_t)64 * 1024)

void *imd_stream_read_all(ImdError **error, ImdStream *stream, size_t limit, size_t *size)
{
    size_t ignored;
    if (size == NULL) {
        size = &ignored;
    }
    *size = 0;
    if (!check_stream(error, stream, "imd_stream_read_all")) {
        return NULL;
    }
    if (limit == 0) {
        limit = SIZE_MAX;
    }

    /* Memory-backed: copy from the current position without a read loop. */
    size_t memory_size;
    const uint8_t *memory = imd_stream_memory(stream, &memory_size);
    if (memory != NULL && stream->methods->seek != NULL) {
        int64_t at = imd_stream_seek(error, stream, 0, 1);
        if (at < 0) {
            return NULL;
        }
        size_t start = (uint64_t)at < memory_size ? (size_t)at : memory_size;
        size_t count = memory_size - start;
        if (count > limit) {
            imd_error_set(error, IMD_ERR_LIMIT, "%s: %zu bytes exceed the limit of %zu",
                          imd_stream_name(stream), count, limit);
            return NULL;
        }
        uint8_t *copy = imd__malloc(error, count);
        if (copy == NULL) {
            return NULL;
        }
        if (count > 0) {
            memcpy(copy, memory + start, count);
        }
        if (imd_stream_seek(error, stream, (int64_t)(start + count), 0) < 0) {
            free(copy);
            return NULL;
        }
        *size = count;
        return copy;
    }

    uint8_t *data = NULL;
    size_t length = 0, capacity = 0;
    for (;;) {
        size_t wanted;
        if (!imd__add_size(length, length < IMD__READ_ALL_START ? IMD__READ_ALL_START : length,
                           &wanted)) {
            wanted = SIZE_MAX;
        }
        /* Room for one byte past the limit, to notice that it is exceeded. */
        size_t cap = limit == SIZE_MAX ? SIZE_MAX : limit + 1;
        if (wanted > cap) {
            wanted = cap;
        }
        if (length == wanted) {
            break; /* the buffer holds limit + 1 bytes: over the limit */
        }
        if (!imd__grow(error, (void **)&data, &capacity, wanted, 1)) {
            imd_error_prefix(error, "%s: ", imd_stream_name(stream));
            free(data);
            return NULL;
        }
        if (capacity > cap) {
            capacity = cap; /* never read more than the limit + 1 */
        }
        int64_t got = imd_stream_read(error, stream, data + length, capacity - length);
        if (got < 0) {
            free(data);
            return NULL;
        }
        if (got == 0) {
            break;
        }
        length += (size_t)got;
    }
    if (length > limit) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: more than the limit of %zu bytes",
                      imd_stream_name(stream), limit);
        free(data);
        return NULL;
    }
    if (data == NULL) {
        data = imd__malloc(error, 0);
        if (data == NULL) {
            return NULL;
        }
    }
    *size = length;
    return data;
}
