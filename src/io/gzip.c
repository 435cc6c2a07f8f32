/*
 * gzip.c: streaming gzip writing on all cores, and multi-member gunzip, with zlib.
 *
 * Writing makes ONE gzip member (RFC 1952) holding one raw deflate stream
 * (RFC 1951), as pigz does: the input is cut into chunks of CHUNK bytes;
 * each chunk is deflated on its own in a worker thread, primed with the last
 * 32 KiB of the previous chunk's input (deflateSetDictionary) so that it may
 * refer back across the boundary as a serial deflate would. Every chunk but
 * the last ends with Z_SYNC_FLUSH (its output ends on a byte boundary with
 * no final block), the last with Z_FINISH, so the outputs concatenated in
 * order are one valid deflate stream. Each worker also takes its chunk's
 * CRC-32; the writer joins them in order with crc32_combine() and writes the
 * header and the trailer (CRC-32, length mod 2^32) itself.
 *
 * The caller's bytes are copied into a ring of slots (dictionary + chunk
 * input, compressed output): a full chunk is queued as a job on the
 * library's thread pool (src/base/threads.c: the context's, sized by
 * imd_context_set_threads) when more input follows, and compressed chunks
 * are written to the stream in order as they complete. The caller waits only
 * when every slot is in use, and then compresses a queued chunk itself if no
 * worker has taken it, so memory stays bounded (SLOT_BUDGET) for any input
 * size and a busy pool never stalls the writer. The chunk size is fixed, so
 * the output bytes do not depend on the number of threads. An input of one
 * chunk or less, and the last chunk, are deflated in the calling thread, as
 * is everything with one thread.
 *
 * Reading inflates every member in turn (inflate with automatic header
 * detection, reset at each member's end), checking each member's CRC and
 * length (zlib does), and refuses output beyond a limit.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <zlib.h>

#define CHUNK IMD__GZIP_CHUNK          /* input bytes per chunk */
#define WINDOW ((size_t)32 << 10)      /* deflate's history: the next chunk's dictionary */
#define SLOT_BUDGET ((size_t)48 << 20) /* most bytes held by the slots' buffers */

/* ---- one chunk ---- */

typedef struct Slot {
    uint8_t *in;   /* WINDOW + CHUNK bytes: the dictionary ends where the chunk starts */
    size_t dict;   /* dictionary bytes, at in + WINDOW - dict */
    size_t length; /* chunk bytes, at in + WINDOW */
    uint8_t *out;  /* compressed (raw deflate) bytes */
    size_t out_size, capacity;
    uLong crc;  /* CRC-32 of the chunk */
    int flush;  /* Z_SYNC_FLUSH, or Z_FINISH for the last chunk */
    int status; /* Z_OK when compressed, else the zlib error */
    struct ImdGzipWriter *writer;
    ImdJob job;  /* compressing it on the pool */
    bool queued; /* the job was started and not yet collected */
} Slot;

/* A z_stream made on first use, then reset for every chunk. */
typedef struct Deflater {
    z_stream z;
    bool ready;
    struct Deflater *next; /* the writer's spare ones */
} Deflater;

/* Room for at least 16 more output bytes (a flush needs more than 6). */
static bool grow_output(z_stream *z, Slot *slot)
{
    size_t used = (size_t)(z->next_out - slot->out);
    size_t grown = slot->capacity * 2;
    uint8_t *bigger = grown > slot->capacity && grown - used <= UINT_MAX
                          ? imd__realloc(NULL, slot->out, grown)
                          : NULL;
    if (bigger == NULL) {
        return false;
    }
    slot->out = bigger;
    slot->capacity = grown;
    z->next_out = bigger + used;
    z->avail_out = (uInt)(grown - used);
    return true;
}

/* Deflate one chunk as raw deflate after its dictionary: Z_OK or a zlib error. */
static int compress_chunk(Deflater *d, int level, Slot *slot)
{
    z_stream *z = &d->z;
    int status;
    if (!d->ready) {
        memset(z, 0, sizeof *z);
        status = deflateInit2(z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        if (status != Z_OK) {
            return status;
        }
        d->ready = true;
    } else if ((status = deflateReset(z)) != Z_OK) {
        return status;
    }
    if (level >= 4 && level <= 7) {
        /*
         * zlib's lazy levels 4..7 stop searching at a match of 16..128
         * bytes; asking for deflate's longest (258) costs little time and
         * makes long runs (image backgrounds) much smaller. The other
         * parameters are zlib's for the level (good, lazy, chain). Reset
         * restores the level's parameters, so this is done per chunk.
         */
        static const int tuned[4][3] = {{4, 4, 16}, {8, 16, 32}, {8, 16, 128}, {8, 32, 256}};
        const int *t = tuned[level - 4];
        if ((status = deflateTune(z, t[0], t[1], 258, t[2])) != Z_OK) {
            return status;
        }
    }
    const uint8_t *data = slot->in + WINDOW;
    if (slot->dict > 0 &&
        (status = deflateSetDictionary(z, data - slot->dict, (uInt)slot->dict)) != Z_OK) {
        return status;
    }
    slot->crc = crc32(0L, data, (uInt)slot->length); /* at most CHUNK bytes */
    z->next_in = (Bytef *)(uintptr_t)data;
    z->avail_in = (uInt)slot->length;
    z->next_out = slot->out;
    z->avail_out = (uInt)slot->capacity; /* at most about 2 * CHUNK bytes */
    for (;;) {
        if (z->avail_out < 16 && !grow_output(z, slot)) {
            return Z_MEM_ERROR;
        }
        status = deflate(z, slot->flush);
        if (status == Z_STREAM_END && slot->flush == Z_FINISH) {
            break;
        }
        if (status != Z_OK) {
            return status == Z_BUF_ERROR ? Z_STREAM_ERROR : status; /* no progress */
        }
        if (slot->flush != Z_FINISH && z->avail_in == 0 && z->avail_out > 0) {
            break; /* the flush is complete */
        }
    }
    slot->out_size = (size_t)(z->next_out - slot->out);
    return Z_OK;
}

static void end_deflater(Deflater *d)
{
    if (d->ready) {
        deflateEnd(&d->z);
        d->ready = false;
    }
}

/* ---- the writer ---- */

struct ImdGzipWriter {
    ImdStream *stream;
    int level;
    Slot *slots;
    size_t slot_count;
    size_t filling; /* the chunk being filled; chunks before it are queued */
    size_t written; /* chunks written to the stream (their slots are free) */
    uLong crc;      /* CRC-32 of the written chunks */
    uint64_t total; /* input bytes of the written chunks */
    bool failed;    /* a call failed: only abort (or a failing close) is left */
    const ImdContext *context; /* the current one at open: its pool and cancel flag */
    ImdPool *pool;             /* NULL: every chunk is compressed in the calling thread */
    ImdPool *own_pool;         /* made for a writer used without a context */
    /* Deflaters not in use: one per chunk compressed at once, kept for the next. */
    pthread_mutex_t lock;
    Deflater *spare;
};

static Deflater *take_deflater(ImdGzipWriter *w)
{
    pthread_mutex_lock(&w->lock);
    Deflater *d = w->spare;
    if (d != NULL) {
        w->spare = d->next;
    }
    pthread_mutex_unlock(&w->lock);
    return d != NULL ? d : imd__calloc(NULL, 1, sizeof *d);
}

static void give_deflater(ImdGzipWriter *w, Deflater *d)
{
    pthread_mutex_lock(&w->lock);
    d->next = w->spare;
    w->spare = d;
    pthread_mutex_unlock(&w->lock);
}

/* A pool task (or a call in the writer's thread): its zlib status goes in the slot. */
static bool compress_task(ImdError **error, void *user, size_t index)
{
    IMD__UNUSED(error);
    IMD__UNUSED(index);
    Slot *slot = user;
    ImdGzipWriter *w = slot->writer;
    Deflater *d = take_deflater(w);
    slot->status = d != NULL ? compress_chunk(d, w->level, slot) : Z_MEM_ERROR;
    if (d != NULL) {
        give_deflater(w, d);
    }
    return true; /* the writer reports a zlib error, in chunk order */
}

static void set_zlib_error(ImdError **error, int status, const char *name)
{
    if (status == Z_MEM_ERROR) {
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory for gzip compression", name);
        return;
    }
    imd_error_set(error, IMD_ERR_INTERNAL, "%s: gzip compression failed (zlib %d)", name,
                  status);
}

static bool fail(ImdGzipWriter *w)
{
    w->failed = true;
    return false;
}

/* Write the queued chunks that are done, in order; with `until`, wait for those before it. */
static bool write_done(ImdError **error, ImdGzipWriter *w, size_t until)
{
    while (w->written < w->filling) {
        Slot *slot = &w->slots[w->written % w->slot_count];
        if (slot->queued) {
            if (w->written >= until && !imd__job_done(&slot->job)) {
                break;
            }
            /* Done, or needed now: compressed here when no worker has taken it yet. */
            (void)imd__job_finish(NULL, &slot->job); /* compress_task never fails */
            slot->queued = false;
        }
        if (slot->status != Z_OK) {
            set_zlib_error(error, slot->status, imd_stream_name(w->stream));
            return fail(w);
        }
        if (!imd_stream_write(error, w->stream, slot->out, slot->out_size)) {
            return fail(w);
        }
        w->crc = crc32_combine(w->crc, slot->crc, (z_off_t)slot->length);
        w->total += slot->length;
        w->written++;
    }
    return true;
}

/* Make the slot of chunk w->filling ready to fill, its dictionary taken from the previous chunk. */
static bool begin_chunk(ImdError **error, ImdGzipWriter *w)
{
    /* Its slot held chunk filling - slot_count, which must be written first. */
    if (w->filling >= w->slot_count &&
        !write_done(error, w, w->filling - w->slot_count + 1)) {
        return false;
    }
    Slot *slot = &w->slots[w->filling % w->slot_count];
    if (slot->in == NULL) {
        slot->in = imd__malloc(error, WINDOW + CHUNK);
        slot->capacity = CHUNK + CHUNK / 16 + 1024;
        slot->out = slot->in != NULL ? imd__malloc(error, slot->capacity) : NULL;
        if (slot->out == NULL) {
            return fail(w);
        }
    }
    slot->dict = slot->length = slot->out_size = 0;
    slot->writer = w;
    if (w->filling > 0) {
        /* The previous chunk is full (only the last one is shorter) and not yet reused. */
        const Slot *previous = &w->slots[(w->filling - 1) % w->slot_count];
        slot->dict = previous->length < WINDOW ? previous->length : WINDOW;
        memcpy(slot->in + WINDOW - slot->dict,
               previous->in + WINDOW + previous->length - slot->dict, slot->dict);
    }
    return true;
}

/* Queue the chunk being filled (compress it here without workers) and begin the next. */
static bool end_chunk(ImdError **error, ImdGzipWriter *w, int flush)
{
    Slot *slot = &w->slots[w->filling % w->slot_count];
    slot->flush = flush;
    if (flush != Z_FINISH && w->pool != NULL) {
        imd__job_start(&slot->job, w->pool, w->context, 1, compress_task, slot);
        slot->queued = true;
    } else {
        /* The last chunk is waited for at once: the caller would compress it anyway. */
        (void)compress_task(NULL, slot, 0);
    }
    w->filling++;
    if (!write_done(error, w, flush == Z_FINISH ? w->filling : 0)) {
        return false;
    }
    return flush == Z_FINISH || begin_chunk(error, w);
}

static void free_writer(ImdGzipWriter *w)
{
    for (size_t i = 0; w->slots != NULL && i < w->slot_count; i++) {
        if (w->slots[i].queued) {
            imd__job_cancel(&w->slots[i].job); /* waits if a worker is compressing it */
        }
    }
    imd__pool_destroy(w->own_pool);
    while (w->spare != NULL) {
        Deflater *d = w->spare;
        w->spare = d->next;
        end_deflater(d);
        free(d);
    }
    pthread_mutex_destroy(&w->lock);
    for (size_t i = 0; w->slots != NULL && i < w->slot_count; i++) {
        free(w->slots[i].in);
        free(w->slots[i].out);
    }
    free(w->slots);
    free(w);
}

ImdGzipWriter *imd__gzip_writer_open(ImdError **error, ImdStream *stream, int level)
{
    if (stream == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip: no stream");
        return NULL;
    }
    if (level < 1 || level > 9) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip level %d (1 to 9 allowed)", level);
        return NULL;
    }
    ImdGzipWriter *w = imd__calloc(error, 1, sizeof *w);
    if (w == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&w->lock, NULL) != 0) {
        free(w);
        imd_error_set(error, IMD_ERR_INTERNAL, "%s: gzip: cannot make a lock",
                      imd_stream_name(stream));
        return NULL;
    }
    w->stream = stream;
    w->level = level;
    w->crc = crc32(0L, Z_NULL, 0);
    w->context = imd__context_current();
    size_t threads = imd__threads(w->context);
    if (threads > 1) {
        /* Without a context (internal callers only: imd_write() always has one), a pool of
         * the writer's own, whose threads start only when a second chunk begins. */
        w->pool = w->context != NULL ? imd__context_pool(w->context)
                                     : (w->own_pool = imd__pool_create(NULL, (unsigned)threads));
    }
    /* Two slots per thread (one compressing, one done or being filled), within the budget. */
    size_t most = SLOT_BUDGET / (WINDOW + 2 * CHUNK + CHUNK / 16);
    size_t slots = w->pool != NULL ? 2 * threads : 2;
    w->slot_count = slots < most ? slots : most > 2 ? most : 2;
    w->slots = imd__calloc(error, w->slot_count, sizeof *w->slots);
    /* The member header: deflate, no flags, no time, extra flags as zlib sets them, Unix. */
    uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    header[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
    if (w->slots == NULL || !begin_chunk(error, w) ||
        !imd_stream_write(error, stream, header, sizeof header)) {
        free_writer(w);
        return NULL;
    }
    return w;
}

bool imd__gzip_writer_write(ImdError **error, ImdGzipWriter *w, const void *data, size_t size)
{
    if (w == NULL || (data == NULL && size > 0)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip: no writer or no data");
        return w != NULL ? fail(w) : false;
    }
    if (w->failed) {
        imd_error_set(error, IMD_ERR_BAD_STATE, "%s: an earlier gzip write failed",
                      imd_stream_name(w->stream));
        return false;
    }
    if (!imd__check_cancel(error, w->context, imd_stream_name(w->stream))) {
        return fail(w);
    }
    const uint8_t *bytes = data;
    while (size > 0) {
        Slot *slot = &w->slots[w->filling % w->slot_count];
        if (slot->length == CHUNK && !end_chunk(error, w, Z_SYNC_FLUSH)) {
            return false;
        }
        slot = &w->slots[w->filling % w->slot_count];
        size_t take = CHUNK - slot->length < size ? CHUNK - slot->length : size;
        memcpy(slot->in + WINDOW + slot->length, bytes, take);
        slot->length += take;
        bytes += take;
        size -= take;
    }
    return true;
}

bool imd__gzip_writer_close(ImdError **error, ImdGzipWriter *w)
{
    if (w == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip: no writer");
        return false;
    }
    bool ok = !w->failed;
    if (!ok) {
        imd_error_set(error, IMD_ERR_BAD_STATE, "%s: an earlier gzip write failed",
                      imd_stream_name(w->stream));
    }
    ok = ok && end_chunk(error, w, Z_FINISH);
    if (ok) {
        uint8_t trailer[8];
        uint64_t length = w->total & 0xffffffffu; /* ISIZE: the length mod 2^32 */
        for (int i = 0; i < 4; i++) {
            trailer[i] = (uint8_t)(w->crc >> (8 * i));
            trailer[4 + i] = (uint8_t)(length >> (8 * i));
        }
        ok = imd_stream_write(error, w->stream, trailer, sizeof trailer);
    }
    free_writer(w);
    return ok;
}

void imd__gzip_writer_abort(ImdGzipWriter *w)
{
    if (w != NULL) {
        free_writer(w);
    }
}

bool imd__gzip_write(ImdError **error, ImdStream *stream, const void *const *parts,
                     const size_t *sizes, size_t count, int level)
{
    if (stream == NULL || (count > 0 && (parts == NULL || sizes == NULL))) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip: no stream or parts");
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (sizes[i] > 0 && parts[i] == NULL) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip: part %zu is invalid", i);
            return false;
        }
    }
    ImdGzipWriter *w = imd__gzip_writer_open(error, stream, level);
    bool ok = w != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        ok = imd__gzip_writer_write(error, w, parts[i], sizes[i]);
    }
    if (!ok) {
        imd__gzip_writer_abort(w);
        return false;
    }
    return imd__gzip_writer_close(error, w);
}

/* ---- gunzip ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            return false;
        }
    }
    return true;
}

void *imd__gunzip(ImdError **error, const uint8_t *data, size_t size, size_t limit,
                  size_t *out_size, const char *name)
{
    name = name != NULL ? name : "gzip data";
    *out_size = 0;
    if (data == NULL || size < 18 || data[0] != 0x1f || data[1] != 0x8b) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: not gzip data", name);
        return NULL;
    }
    limit = limit == 0 ? SIZE_MAX - 1 : limit;
    /* ISIZE of the last member (its length mod 2^32) hints at the size. */
    size_t hint = imd__load_le32(data + size - 4);
    /*
     * ISIZE is the input's word: believe it only as far as the compressed
     * bytes can justify. Deflate expands at most about 1032:1 (RFC 1951: a
     * 258-byte match costs at least 2 bits), so a 1 KB file claiming 4 GB
     * gets a small buffer that grows with what really inflates.
     */
    size_t justified = size <= SIZE_MAX / IMD__DEFLATE_MAX_RATIO ? size * IMD__DEFLATE_MAX_RATIO
                                                                 : SIZE_MAX;
    hint = hint > justified ? justified : hint;
    size_t capacity = hint > size ? hint : (size < SIZE_MAX / 4 ? size * 4 : size);
    capacity = capacity < 4096 ? 4096 : capacity;
    capacity = capacity > limit ? limit + 1 : capacity; /* room to notice a larger output */
    uint8_t *out = imd__malloc(error, capacity);
    if (out == NULL) {
        return NULL;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) {
        free(out);
        imd_error_set(error, IMD_ERR_NOMEM, "%s: cannot start inflating", name);
        return NULL;
    }
    size_t in_at = 0, length = 0, members = 0;
    bool ok = true;
    for (;;) {
        if (!imd__check_cancel(error, NULL, name)) {
            ok = false;
            break;
        }
        if (length == capacity) {
            if (capacity > limit) {
                imd_error_set(error, IMD_ERR_LIMIT, "%s: decompresses to more than %zu bytes",
                              name, limit);
                ok = false;
                break;
            }
            size_t grown = capacity <= (limit + 1) / 2 ? capacity * 2 : limit + 1;
            uint8_t *bigger = imd__realloc(error, out, grown);
            if (bigger == NULL) {
                ok = false;
                break;
            }
            out = bigger;
            capacity = grown;
        }
        size_t in_left = size - in_at, out_left = capacity - length;
        z.next_in = (Bytef *)(uintptr_t)(data + in_at);
        z.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        z.next_out = out + length;
        z.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
        uInt given_in = z.avail_in, given_out = z.avail_out;
        int status = inflate(&z, Z_NO_FLUSH);
        in_at += given_in - z.avail_in;
        length += given_out - z.avail_out;
        if (status == Z_STREAM_END) {
            members++;
            /* Another member follows, or padding zeros (tolerated, as gzip(1) does). */
            if (in_at == size || all_zero(data + in_at, size - in_at)) {
                break;
            }
            if (size - in_at < 2 || data[in_at] != 0x1f || data[in_at + 1] != 0x8b) {
                imd_error_set(error, IMD_ERR_CORRUPT,
                              "%s: %zu bytes of garbage after gzip member %zu", name,
                              size - in_at, members);
                ok = false;
                break;
            }
            if (inflateReset(&z) != Z_OK) {
                imd_error_set(error, IMD_ERR_INTERNAL, "%s: inflateReset failed", name);
                ok = false;
                break;
            }
            continue;
        }
        if (status == Z_OK || (status == Z_BUF_ERROR && length == capacity)) {
            if (status == Z_OK || z.avail_out == 0) {
                if (in_at == size && z.avail_out > 0) {
                    imd_error_set(error, IMD_ERR_CORRUPT, "%s: gzip data ends early", name);
                    ok = false;
                    break;
                }
                continue;
            }
        }
        if (status == Z_BUF_ERROR && in_at == size) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: gzip data ends early (truncated file)",
                          name);
        } else if (status == Z_MEM_ERROR) {
            imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory while inflating", name);
        } else {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: damaged gzip data: %s", name,
                          z.msg != NULL ? z.msg : "inflate failed");
        }
        ok = false;
        break;
    }
    inflateEnd(&z);
    if (ok && length > limit) {
        imd_error_set(error, IMD_ERR_LIMIT, "%s: decompresses to more than %zu bytes", name,
                      limit);
        ok = false;
    }
    if (!ok) {
        free(out);
        return NULL;
    }
    *out_size = length;
    return out;
}
