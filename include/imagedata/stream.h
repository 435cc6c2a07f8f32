/**
 * @file stream.h
 * ImdStream: the only I/O that format code sees. A stream reads a file, a
 * zip member held in memory, or writes a file through a temporary name that
 * is renamed into place when the stream is closed successfully (a failed or
 * aborted write leaves nothing behind).
 *
 * Implementations embed `struct ImdStream` as their first member.
 */
#ifndef IMAGEDATA_STREAM_H
#define IMAGEDATA_STREAM_H

#include <imagedata/common.h>

IMD_BEGIN_DECLS

typedef enum ImdMode {
    IMD_MODE_READ = 1,
    IMD_MODE_WRITE = 2
} ImdMode;

typedef struct ImdStreamMethods {
    /** Read up to `length` bytes; returns the count, 0 at the end, -1 on error. */
    int64_t (*read)(ImdError **error, ImdStream *stream, void *buffer, size_t length);
    /** Write all `length` bytes; returns `length` or -1. NULL for read streams. */
    int64_t (*write)(ImdError **error, ImdStream *stream, const void *buffer, size_t length);
    /** Seek like fseek (whence 0 set, 1 current, 2 end); new offset or -1. NULL: not seekable. */
    int64_t (*seek)(ImdError **error, ImdStream *stream, int64_t offset, int whence);
    /** The whole content if the stream is memory-backed; NULL otherwise. Borrowed. */
    const uint8_t *(*memory)(ImdStream *stream, size_t *size);
    /** Finish (commit a write) and free the stream; always frees. */
    bool (*close)(ImdError **error, ImdStream *stream);
    /** Free the stream, discarding anything written. NULL: close is used. */
    void (*abort)(ImdStream *stream);
} ImdStreamMethods;

struct ImdStream {
    const ImdStreamMethods *methods;
    char *name; /**< for messages: a path or "archive.zip:member"; owned by the stream */
};

/** Open a file. Writes go to "<path>.tmp-XXXXXX" and are renamed to `path` on close. */
IMD_API IMD_NODISCARD ImdStream *imd_stream_open_file(ImdError **error, const char *path,
                                                      ImdMode mode);

/**
 * A read stream over `size` bytes of memory. With `release` the stream owns
 * the memory and calls release(data, user) when closed (only on success of
 * this call); without it the memory is borrowed and must outlive the stream.
 */
IMD_API IMD_NODISCARD ImdStream *imd_stream_open_memory(ImdError **error, const void *data,
                                                        size_t size, const char *name,
                                                        void (*release)(void *data, void *user),
                                                        void *user);

/** A write stream into a growing memory buffer; see imd_stream_buffer_take(). */
IMD_API IMD_NODISCARD ImdStream *imd_stream_open_buffer(ImdError **error, const char *name);

/**
 * Take the bytes written to a buffer stream (release them with imd_free());
 * the stream is left empty. NULL with *size 0 when nothing was written.
 */
IMD_API void *imd_stream_buffer_take(ImdStream *stream, size_t *size);

/** Call the methods, with argument checks. read/write return -1 on error. */
IMD_API int64_t imd_stream_read(ImdError **error, ImdStream *stream, void *buffer, size_t length);
/** Read exactly `length` bytes; CORRUPT ("unexpected end") when the stream ends first. */
IMD_API bool imd_stream_read_exact(ImdError **error, ImdStream *stream, void *buffer,
                                   size_t length);
IMD_API bool imd_stream_write(ImdError **error, ImdStream *stream, const void *buffer,
                              size_t length);
IMD_API int64_t imd_stream_seek(ImdError **error, ImdStream *stream, int64_t offset, int whence);
IMD_API const uint8_t *imd_stream_memory(ImdStream *stream, size_t *size);
/** Commit and free; NULL is fine (returns true). */
IMD_API bool imd_stream_close(ImdError **error, ImdStream *stream);
/** Discard and free; NULL is fine. */
IMD_API void imd_stream_abort(ImdStream *stream);
IMD_API const char *imd_stream_name(const ImdStream *stream);

/**
 * Read the rest of the stream into memory (released with imd_free()).
 * LIMIT when it exceeds `limit` bytes (0: no limit).
 */
IMD_API IMD_NODISCARD void *imd_stream_read_all(ImdError **error, ImdStream *stream,
                                                size_t limit, size_t *size);

IMD_END_DECLS

#endif
