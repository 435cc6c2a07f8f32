/*
 * gzip.c: gzip writing on all cores and multi-member gunzip, with zlib.
 *
 * Writing splits the input (the concatenation of the caller's parts, e.g. a
 * NIfTI header and its voxels) into chunks and deflates each into an
 * independent gzip member in worker threads; the members are written in
 * order as they complete. A multi-member file is standard gzip (RFC 1952
 * §2.2): zlib's gzread, gzip -d, nibabel and FSL read it. At most a window
 * of chunks is in flight, so memory stays bounded for any input size.
 * Small inputs are one member made in the calling thread.
 *
 * Reading inflates every member in turn (inflate with automatic header
 * detection, reset at each member's end), checking each member's CRC and
 * length (zlib does), and refuses output beyond a limit.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <limits.h>
#include <pthread.h>
#include <unistd.h>
#include <zlib.h>

#define SMALL_INPUT ((size_t)1 << 20) /* one member, no threads, below this */
#define MIN_CHUNK ((size_t)1 << 20)
#define MAX_CHUNK ((size_t)16 << 20)
#define MAX_THREADS 64

/* ---- compression of one chunk ---- */

typedef struct Input {
    const void *const *parts;
    const size_t *sizes;
    size_t count;
} Input;

typedef struct Chunk {
    size_t start, length; /* in the concatenated input */
    uint8_t *out;
    size_t out_size;
    int status; /* Z_OK when compressed, else the zlib error */
    bool done;
} Chunk;

/* Room for more output: the buffer doubles (deflateBound makes this rare). */
static bool grow_output(z_stream *z, Chunk *chunk, size_t *capacity)
{
    size_t used = *capacity - z->avail_out;
    size_t grown = *capacity * 2;
    uint8_t *bigger = grown > *capacity ? realloc(chunk->out, grown) : NULL;
    if (bigger == NULL) {
        return false;
    }
    chunk->out = bigger;
    *capacity = grown;
    z->next_out = bigger + used;
    size_t left = grown - used;
    z->avail_out = left > UINT_MAX ? UINT_MAX : (uInt)left;
    return true;
}

/* Feed one piece of input (flush Z_FINISH for the last); Z_OK or a zlib error. */
static int feed(z_stream *z, Chunk *chunk, size_t *capacity, int flush)
{
    for (;;) {
        if (z->avail_out == 0 && !grow_output(z, chunk, capacity)) {
            return Z_MEM_ERROR;
        }
        int status = deflate(z, flush);
        if (status == Z_STREAM_END) {
            return Z_OK;
        }
        if (status != Z_OK && status != Z_BUF_ERROR) {
            return status;
        }
        if (flush == Z_NO_FLUSH && z->avail_in == 0) {
            return Z_OK;
        }
    }
}

/* Deflate [start, start + length) of the concatenated parts as one gzip member. */
static int compress_chunk(const Input *input, int level, Chunk *chunk)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    int status = deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (status != Z_OK) {
        return status;
    }
    size_t capacity = deflateBound(&z, (uLong)chunk->length);
    capacity = capacity < 64 ? 64 : capacity;
    chunk->out = malloc(capacity);
    if (chunk->out == NULL) {
        deflateEnd(&z);
        return Z_MEM_ERROR;
    }
    z.next_out = chunk->out;
    z.avail_out = (uInt)capacity; /* chunks are at most MAX_CHUNK bytes */
    size_t offset = 0, remaining = chunk->length;
    for (size_t p = 0; p < input->count && remaining > 0 && status == Z_OK; p++) {
        size_t size = input->sizes[p];
        if (chunk->start >= offset + size) {
            offset += size;
            continue;
        }
        size_t from = chunk->start > offset ? chunk->start - offset : 0;
        size_t take = size - from < remaining ? size - from : remaining;
        z.next_in = (Bytef *)(uintptr_t)((const uint8_t *)input->parts[p] + from);
        z.avail_in = (uInt)take;
        remaining -= take;
        status = feed(&z, chunk, &capacity, remaining == 0 ? Z_FINISH : Z_NO_FLUSH);
        offset += size;
    }
    if (status == Z_OK && chunk->length == 0) {
        status = feed(&z, chunk, &capacity, Z_FINISH);
    }
    chunk->out_size = (size_t)(z.next_out - chunk->out);
    deflateEnd(&z);
    return status;
}

/* ---- the worker pool ---- */

typedef struct Pool {
    const Input *input;
    int level;
    Chunk *chunks;
    size_t count;
    size_t next;    /* next chunk to compress */
    size_t written; /* chunks written (and freed) by the writer */
    size_t window;  /* most chunks compressed ahead of the writer */
    bool stop;
    pthread_mutex_t lock;
    pthread_cond_t space; /* the writer freed a slot (or stop) */
    pthread_cond_t ready; /* a chunk is done */
} Pool;

static void *worker(void *argument)
{
    Pool *pool = argument;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stop && pool->next < pool->count &&
               pool->next >= pool->written + pool->window) {
            pthread_cond_wait(&pool->space, &pool->lock);
        }
        if (pool->stop || pool->next >= pool->count) {
            break;
        }
        Chunk *chunk = &pool->chunks[pool->next++];
        pthread_mutex_unlock(&pool->lock);
        int status = compress_chunk(pool->input, pool->level, chunk);
        pthread_mutex_lock(&pool->lock);
        chunk->status = status;
        chunk->done = true;
        pthread_cond_broadcast(&pool->ready);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

static void set_zlib_error(ImdError **error, int status, const char *name)
{
    imd_error_set(error, status == Z_MEM_ERROR ? IMD_ERR_NOMEM : IMD_ERR_INTERNAL,
                  "%s: gzip compression failed (zlib %d)", name, status);
}

static size_t core_count(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (size_t)cores;
}

/* Compress and write chunk by chunk in this thread (small inputs, or no threads). */
static bool write_serial(ImdError **error, ImdStream *stream, Pool *pool, size_t from)
{
    for (size_t i = from; i < pool->count; i++) {
        Chunk *chunk = &pool->chunks[i];
        int status = compress_chunk(pool->input, pool->level, chunk);
        bool ok = status == Z_OK;
        if (!ok) {
            set_zlib_error(error, status, imd_stream_name(stream));
        }
        ok = ok && imd_stream_write(error, stream, chunk->out, chunk->out_size);
        free(chunk->out);
        chunk->out = NULL;
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool write_parallel(ImdError **error, ImdStream *stream, Pool *pool, size_t threads)
{
    pthread_t ids[MAX_THREADS];
    size_t started = 0;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->space, NULL);
    pthread_cond_init(&pool->ready, NULL);
    for (size_t i = 0; i < threads; i++) {
        if (pthread_create(&ids[started], NULL, worker, pool) != 0) {
            break;
        }
        started++;
    }
    bool ok = true;
    if (started == 0) {
        ok = write_serial(error, stream, pool, 0);
    }
    for (size_t i = 0; ok && started > 0 && i < pool->count; i++) {
        Chunk *chunk = &pool->chunks[i];
        pthread_mutex_lock(&pool->lock);
        while (!chunk->done) {
            pthread_cond_wait(&pool->ready, &pool->lock);
        }
        pthread_mutex_unlock(&pool->lock);
        if (chunk->status != Z_OK) {
            set_zlib_error(error, chunk->status, imd_stream_name(stream));
            ok = false;
        }
        ok = ok && imd_stream_write(error, stream, chunk->out, chunk->out_size);
        free(chunk->out);
        chunk->out = NULL;
        pthread_mutex_lock(&pool->lock);
        pool->written = i + 1;
        pthread_cond_broadcast(&pool->space);
        pthread_mutex_unlock(&pool->lock);
    }
    pthread_mutex_lock(&pool->lock);
    pool->stop = true;
    pthread_cond_broadcast(&pool->space);
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < started; i++) {
        pthread_join(ids[i], NULL);
    }
    for (size_t i = 0; i < pool->count; i++) {
        free(pool->chunks[i].out); /* chunks done but not written after a failure */
        pool->chunks[i].out = NULL;
    }
    pthread_cond_destroy(&pool->ready);
    pthread_cond_destroy(&pool->space);
    pthread_mutex_destroy(&pool->lock);
    return ok;
}

bool imd__gzip_write(ImdError **error, ImdStream *stream, const void *const *parts,
                     const size_t *sizes, size_t count, int level)
{
    if (stream == NULL || (count > 0 && (parts == NULL || sizes == NULL))) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip: no stream or parts");
        return false;
    }
    if (level < 1 || level > 9) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip level %d (1 to 9 allowed)", level);
        return false;
    }
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if ((sizes[i] > 0 && parts[i] == NULL) || !imd__add_size(total, sizes[i], &total)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "gzip: part %zu is invalid", i);
            return false;
        }
    }
    size_t cores = core_count();
    size_t chunk = total / (cores * 4);
    chunk = chunk < MIN_CHUNK ? MIN_CHUNK : chunk > MAX_CHUNK ? MAX_CHUNK : chunk;
    size_t chunks = total <= SMALL_INPUT ? 1 : (total + chunk - 1) / chunk;
    if (total <= SMALL_INPUT) {
        chunk = total;
    }
    Input input = {parts, sizes, count};
    Pool pool = {.input = &input, .level = level, .count = chunks, .window = 2 * cores};
    pool.chunks = imd__calloc(error, chunks, sizeof *pool.chunks);
    if (pool.chunks == NULL) {
        return false;
    }
    for (size_t i = 0; i < chunks; i++) {
        pool.chunks[i].start = i * chunk;
        pool.chunks[i].length = i + 1 < chunks ? chunk : total - i * chunk;
    }
    size_t threads = cores < chunks ? cores : chunks;
    bool ok = threads <= 1 ? write_serial(error, stream, &pool, 0)
                           : write_parallel(error, stream, &pool, threads);
    free(pool.chunks);
    return ok;
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
