/*
 * internal.h: helpers shared by the library's own files; never installed.
 * Cross-file internal functions are named imd__<module>_<verb> and hidden.
 */
#ifndef IMAGEDATA_INTERNAL_H
#define IMAGEDATA_INTERNAL_H

#include <imagedata/imagedata.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define IMD__UNUSED(x) ((void)(x))

/* ---- checked arithmetic: every size product from input goes through these ---- */

static inline bool imd__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) {
        return false;
    }
    *out = a * b;
    return true;
}

static inline bool imd__add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a) {
        return false;
    }
    *out = a + b;
    return true;
}

/* ---- allocation that reports IMD_ERR_NOMEM ---- */

void *imd__malloc(ImdError **error, size_t size);
void *imd__calloc(ImdError **error, size_t count, size_t size);
void *imd__realloc(ImdError **error, void *memory, size_t size);
/* Grow *array to hold at least `needed` items of `item` bytes (doubling). */
bool imd__grow(ImdError **error, void **array, size_t *capacity, size_t needed, size_t item);
char *imd__strdup(ImdError **error, const char *text);
char *imd__strndup(ImdError **error, const char *text, size_t length);
/*
 * How many allocations have failed in this process so far. Code that looks
 * things up with a NULL error, where "absent" and "could not be copied" give
 * the same answer, compares it before and after to tell a real absence from
 * running out of memory.
 */
size_t imd__alloc_failures(void);
/* printf into a new string (NULL + NOMEM on failure). */
char *imd__sprintf(ImdError **error, const char *format, ...) IMD_PRINTF(2, 3);
char *imd__vsprintf(ImdError **error, const char *format, va_list args) IMD_PRINTF(2, 0);

/*
 * ---- fault injection (CMake option IMD_FAULT_INJECTION, test builds only) ----
 * imd__fault_alloc() is called once per allocation the library makes and is
 * true for the Nth call when the environment says IMD_FAIL_ALLOC=N; the
 * allocation then fails as if the system had no memory. imd__fault_write()
 * does the same for writes (IMD_FAIL_WRITE=N). IMD_COUNT_ALLOC=path writes
 * "allocations writes" to path at exit, so a driver can try every N
 * (tests/integration/faults.sh, docs/fuzzing.md). Without the option both
 * are constant false and cost nothing.
 */
#ifdef IMD_FAULT_INJECTION
bool imd__fault_alloc(void);
bool imd__fault_write(void);
#else
static inline bool imd__fault_alloc(void)
{
    return false;
}
static inline bool imd__fault_write(void)
{
    return false;
}
#endif

/* ---- a growing text buffer ---- */

typedef struct ImdText {
    char *data;
    size_t length, capacity;
    bool failed; /* an allocation failed: the text is incomplete */
} ImdText;

void imd__text_append(ImdText *text, const char *data, size_t length);
void imd__text_puts(ImdText *text, const char *data);
void imd__text_printf(ImdText *text, const char *format, ...) IMD_PRINTF(2, 3);
/* Take the text (NUL-terminated), or NULL + NOMEM when an append failed. */
char *imd__text_finish(ImdError **error, ImdText *text);
void imd__text_free(ImdText *text);

/* ---- JSON text (json.c) ---- */

/* A JSON string literal of UTF-8 `value` (invalid bytes become U+FFFD). */
void imd__json_string(ImdText *text, const char *value);
/* The shortest text that reads back as `value`; null for NaN and infinities. */
void imd__json_number(ImdText *text, double value);

/*
 * Finish a plugin's close(): pass on its error, or make one when it failed
 * without saying why (a plugin bug). Frees `name` (a copy taken before the
 * close, as the object frees its own); `what` names the object otherwise.
 */
bool imd__close_result(ImdError **error, bool ok, ImdError *local, char *name, const char *what);

/* ---- memory limit and cancellation (src/base/context.c) ---- */

/*
 * imd_read()/imd_write() make their context the thread's current one for
 * the call (nesting restores the previous one): enter returns what to pass
 * to leave. Code without a context pointer polls the current one.
 */
const ImdContext *imd__context_enter(const ImdContext *context);
void imd__context_leave(const ImdContext *saved);
const ImdContext *imd__context_current(void);

/*
 * Call before allocating an image-sized array (a series, a frame buffer):
 * false with IMD_ERR_LIMIT when `bytes` exceed the context's memory limit
 * (imd_context_set_memory_limit), naming `what` (the file) and both numbers;
 * false with IMD_ERR_CANCELLED when the context was cancelled. `context`
 * NULL uses the thread's current one (no limit when there is none). This
 * checks a budget, not the input: check the claimed size against the bytes
 * the input holds (IMD_ERR_CORRUPT) first.
 */
bool imd__check_alloc(ImdError **error, const ImdContext *context, uint64_t bytes,
                      const char *what);

/*
 * Poll in long loops (decoding frames, writing chunks): false with
 * IMD_ERR_CANCELLED ("<what>: cancelled") once imd_context_cancel() was
 * called on `context` (NULL: the thread's current one). Cheap: one atomic
 * load.
 */
bool imd__check_cancel(ImdError **error, const ImdContext *context, const char *what);

/* ---- the thread pool (src/base/threads.c) ---- */

/* The most threads a context may use (imd_context_set_threads clamps to it). */
#define IMD__MAX_THREADS 256u

/* The number of online cores (1 .. IMD__MAX_THREADS): the default thread count. */
unsigned imd__default_threads(void);
/* The threads work with `context` may use: its setting (NULL: the current context's; none: the default). */
unsigned imd__threads(const ImdContext *context);

/*
 * A pool of `threads - 1` workers, started on first use; the thread that
 * waits for a job is the last one. Normally the context's (below); made
 * directly only by code that may run without a context. Destroy it after its
 * jobs have finished.
 */
typedef struct ImdPool ImdPool;
ImdPool *imd__pool_create(ImdError **error, unsigned threads);
void imd__pool_destroy(ImdPool *pool); /* NULL is fine */
/*
 * The context's pool, made on first use (the context keeps it until it is
 * destroyed or its thread count changes); NULL with one thread, a NULL
 * context, or when it cannot be made: then jobs run in the waiting thread.
 */
ImdPool *imd__context_pool(const ImdContext *context);

/*
 * A job: fn(error, user, index) for index 0 .. count-1, run by the pool's
 * workers and by the thread that waits for it. Caller storage (no allocation
 * per job); the fields are threads.c's. A task that fails sets its error and
 * returns false: no further index starts, and the job's error is that of the
 * smallest failed index (what a serial run would report). While a task runs,
 * the job's context is the thread's current one (imd__context_enter).
 */
typedef struct ImdJob {
    struct ImdPool *pool; /* NULL: run by the waiter alone */
    const ImdContext *context;
    bool (*fn)(ImdError **error, void *user, size_t index);
    void *user;
    size_t count, next, running, finished;
    bool stop, queued;
    struct ImdJob *before, *after; /* the pool's queue */
    size_t error_index;
    ImdError *error;
} ImdJob;

/*
 * Queue `job` on `pool` (NULL: nothing runs until imd__job_finish).
 * `context` NULL: the current one. Every started job must be finished or
 * cancelled before its storage goes.
 */
void imd__job_start(ImdJob *job, ImdPool *pool, const ImdContext *context, size_t count,
                    bool (*fn)(ImdError **error, void *user, size_t index), void *user);
/* Has every index that will run finished? Never blocks for long (one lock). */
bool imd__job_done(ImdJob *job);
/* Run the unclaimed indices in this thread, wait for the others; the job's error, if any. */
bool imd__job_finish(ImdError **error, ImdJob *job);
/* Start no further index, wait for the running ones, drop the error. */
void imd__job_cancel(ImdJob *job);

/*
 * fn(error, user, index) for index 0 .. count-1 on up to imd__threads(context)
 * threads, this one included (the context's pool; without any context a
 * pool made for the call). The first error by index, as imd__job_finish.
 * `stage` non-NULL: progress (imd_context_progress) from this thread only.
 */
bool imd__parallel(ImdError **error, const ImdContext *context, size_t count,
                   bool (*fn)(ImdError **error, void *user, size_t index), void *user,
                   const char *stage);

/* ---- plugins loaded from files (kept by the context; searched by src/pipeline/registry.c) ---- */

/* Put `records` ahead of those loaded before; the context dlcloses `library` (may be NULL). */
bool imd__context_add_plugins(ImdError **error, ImdContext *context, void *library,
                              const ImdPluginRecord *records, size_t count);
/* The loaded records, priority order; NULL and 0 when none. */
const ImdPluginRecord *imd__context_plugins(const ImdContext *context, size_t *count);

/* ---- diagnostics ---- */

/* A streaming read (read_write.c): imd_context_emit_series() hands series to `sink`. */
void imd__context_set_sink(ImdContext *context,
                           bool (*sink)(ImdError **error, void *user, ImdSeries *series),
                           void *user);
/* The sink of a streaming read in progress: false when there is none. */
bool imd__context_sink(const ImdContext *context,
                       bool (**sink)(ImdError **error, void *user, ImdSeries *series), void **user);

void imd__log(const ImdContext *context, ImdLogLevel level, const char *format, ...)
    IMD_PRINTF(3, 4);

/* ---- byte order ---- */

static inline uint16_t imd__load_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t imd__load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint16_t imd__load_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t imd__load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
           (uint32_t)p[3];
}

/* ---- gzip (src/io/gzip.c) ---- */

/*
 * A streaming gzip writer: ONE gzip member whose deflate stream is made in
 * chunks on all cores, each primed with the previous chunk's last 32 KiB
 * (as pigz does), so the output is about as small as a serial deflate's.
 * Any gzip reader reads it (zlib, nibabel, FSL). The output bytes depend
 * only on the input and the level, not on the number of cores. Memory is
 * bounded (a few MiB per core, at most about 48 MiB) for any input size.
 */
typedef struct ImdGzipWriter ImdGzipWriter;
/* Input bytes per chunk (fixed, so that the output is the same on any machine). */
#define IMD__GZIP_CHUNK ((size_t)1 << 20)

/* Write the gzip header to `stream` and start a writer; `level` 1..9. */
ImdGzipWriter *imd__gzip_writer_open(ImdError **error, ImdStream *stream, int level);
/*
 * Add `size` bytes (copied: `data` may be reused at once). Full chunks are
 * compressed in worker threads and written to the stream in order; waits
 * only when every buffer is in use. After a failure the writer only aborts.
 */
bool imd__gzip_writer_write(ImdError **error, ImdGzipWriter *writer, const void *data,
                            size_t size);
/*
 * Compress and write what is left, then the trailer (CRC-32, length mod
 * 2^32); frees the writer in every case. The stream is the caller's (to
 * close, or to abort when this fails).
 */
bool imd__gzip_writer_close(ImdError **error, ImdGzipWriter *writer);
/* Stop the workers and free the writer, writing nothing more; NULL is fine. */
void imd__gzip_writer_abort(ImdGzipWriter *writer);
/* The concatenation of `count` parts as one gzip member, through a writer. */
bool imd__gzip_write(ImdError **error, ImdStream *stream, const void *const *parts,
                     const size_t *sizes, size_t count, int level);
/*
 * The most a deflate stream can expand: a 258-byte match in at least 2 bits
 * is 1032:1 (RFC 1951 §3.2.5). A claim of more decompressed bytes than
 * compressed bytes * this ratio cannot be backed by the input.
 */
#define IMD__DEFLATE_MAX_RATIO ((size_t)1032)
/* Inflate gzip data (every member) into new memory (free()); LIMIT beyond `limit` bytes. */
void *imd__gunzip(ImdError **error, const uint8_t *data, size_t size, size_t limit,
                  size_t *out_size, const char *name);

/* ---- members a format reader keeps (src/io/members.c) ---- */

/* One member a reader accepted; a format's own member record embeds it. */
typedef struct ImdMember {
    char *name;          /* the member name in its archive */
    ImdArchive *archive; /* open until reader_finish returns */
    char *path;          /* its local file (mapped, or for a library wanting a path), or NULL */
    uint8_t *bytes;      /* otherwise its bytes, when kept */
    size_t size;
} ImdMember;

typedef enum ImdMemberKeep {
    IMD__KEEP_NAME,           /* name and archive: reopened when needed */
    IMD__KEEP_LOCAL_OR_BYTES, /* the local path when there is one, else the bytes */
    IMD__KEEP_BYTES           /* the bytes */
} ImdMemberKeep;

/* Fill `member` for `name` of `archive` (the bytes from `stream`, at most
 * `limit`, 0: no limit); false with an error and nothing kept. */
bool imd__member_keep(ImdError **error, ImdMember *member, ImdArchive *archive, const char *name,
                      ImdStream *stream, ImdMemberKeep keep, size_t limit);
void imd__member_free(ImdMember *member);
/* Append `item` (`item_size` bytes, a record embedding an ImdMember) to a growing array. */
bool imd__member_push(ImdError **error, void **items, size_t *count, size_t *capacity,
                      const void *item, size_t item_size);

/* A member's bytes for reading: a private mapping of the local file (the
 * page cache, nothing copied, pages read as they are touched), or bytes read
 * (`owned`), or bytes borrowed from an ImdMember. */
typedef struct ImdBlob {
    const uint8_t *data;
    size_t size;
    void *map;      /* munmap when set */
    uint8_t *owned; /* free when set */
} ImdBlob;

/* Map a regular file (devices and FIFOs refused). */
bool imd__blob_map_file(ImdError **error, const char *path, ImdBlob *blob);
/* Any member of an archive: mapped when local, else read (at most `limit`,
 * 0: no limit) holding `lock` (may be NULL) around the archive. */
bool imd__blob_open(ImdError **error, ImdArchive *archive, const char *name, size_t limit,
                    pthread_mutex_t *lock, ImdBlob *blob);
/* A kept member: its local path mapped, or its kept bytes borrowed. */
bool imd__blob_of_member(ImdError **error, const ImdMember *member, ImdBlob *blob);
void imd__blob_close(ImdBlob *blob);

/* ---- output names (src/base/url.c) ---- */

/* Does an output name hold a number pattern ("{...}" or "%...")? */
bool imd__name_has_number(const char *name);
/* The name with its one number pattern ("{}", "{:05d}", "%d", "%05d") replaced by `index`;
 * "%%" is a '%'. INVALID_ARG for none, several or a malformed one. */
char *imd__format_numbered_name(ImdError **error, const char *name, size_t index);

/* ---- input orders (src/base/input_order.c) ---- */

#define IMD__STRINGIFY_(x) #x
#define IMD__STRINGIFY(x) IMD__STRINGIFY_(x)

/** Longest component of an input order (an axis name, an option key). */
#define IMD_INPUT_ORDER_NAME_MAX 128

/*
 * An input order parsed: "auto" (automatic, no components), "none" (one
 * component "none", none set) or 1..IMD_MAX_TAG_DIMS distinct names.
 */
typedef struct ImdInputOrder {
    char *names[IMD_MAX_TAG_DIMS]; /* count trimmed components, owned */
    size_t count;
    bool automatic; /* "auto": the format chooses */
    bool none;      /* "none" alone: one image per slice */
} ImdInputOrder;

/*
 * Parse `text`; INVALID_ARG naming the order, the component and the reason
 * (empty, too long, not a name, repeated, too many, auto or none combined).
 * `order` is always initialised; clear it with imd__input_order_clear.
 * The _as variant starts its messages with `what` instead of "input order".
 */
bool imd__input_order_parse(ImdError **error, const char *text, ImdInputOrder *order);
bool imd__input_order_parse_as(ImdError **error, const char *what, const char *text,
                               ImdInputOrder *order);
/* The option "input_order" (default "auto"), messages naming the option. */
bool imd__input_order_from_options(ImdError **error, const ImdOptions *options,
                                   ImdInputOrder *order);
void imd__input_order_clear(ImdInputOrder *order);
/* The index of component `name`, else -1. */
int imd__input_order_find(const ImdInputOrder *order, const char *name);

/* ---- names ---- */

/* Does `name` end with `suffix` (ASCII case ignored) after at least one character? */
bool imd__has_suffix(const char *name, const char *suffix);

/* ---- option checks (src/pipeline/option_check.c) ---- */

/*
 * Every option of `options` declared by the pipeline or a format of the
 * context, or a component of the input order (option "input_order", or
 * `series_order` when writing; may be NULL), and every declared value of its
 * type; INVALID_ARG naming the option and the value otherwise.
 */
bool imd__check_options(ImdError **error, const ImdContext *context, const ImdOptions *options,
                        const char *series_order);

/* ---- built-in plugins (src/pipeline/registry.c, src/archives, src/formats) ---- */

extern const ImdArchivePlugin imd__folder_archive;
extern const ImdArchivePlugin imd__zip_archive;
extern const ImdTransportPlugin imd__file_transport;
extern const ImdTransportPlugin imd__dicom_transport;
/* C-ECHO to a dicom:// URL (src/transports/dicom.c, for imd_dicom_echo). */
bool imd__dicom_echo(ImdError **error, const ImdUrl *url, const ImdOptions *options,
                     uint16_t *status);
/* C-FIND listing of a dicom:// URL (src/transports/dicom.c, for imd_list). */
bool imd__dicom_list(ImdError **error, const ImdUrl *url, const ImdOptions *options,
                     ImdListFn *fn, void *user);
extern const ImdFormatPlugin imd__dicom_format;
extern const ImdFormatPlugin imd__nifti_format;
extern const ImdFormatPlugin imd__metaio_format;
extern const ImdFormatPlugin imd__mat_format;
extern const ImdFormatPlugin imd__png_format;
extern const ImdFormatPlugin imd__jpeg_format;
extern const ImdFormatPlugin imd__tiff_format;
extern const ImdFormatPlugin imd__postscript_format;

#endif
