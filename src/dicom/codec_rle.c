/*
 * codec_rle.c: RLE Lossless (1.2.840.10008.1.2.5), PS3.5 Annex G. Our own code.
 *
 * A frame is a 64-byte header (G.5) of sixteen little-endian 32-bit values:
 * the number of segments (1-15) and the offset of each segment from the start
 * of the header (the first is 64; unused ones 0). Each segment is one byte
 * plane compressed with PackBits (G.3.1): for every sample in turn, its bytes
 * from the most significant to the least (G.2), so a 16-bit RGB frame has six
 * segments: R high, R low, G high, G low, B high, B low. A segment decodes to
 * Rows x Columns bytes; anything after that is padding and ignored.
 */
#include "dicom/codec.h"

#define RLE_HEADER 64
#define RLE_MAX_SEGMENTS 15

/*
 * PackBits (G.3.1) from src[0, size) into dst[0], dst[stride], ... for
 * `count` bytes. A header byte n of 0..127 copies the next n+1 bytes; -1..-127
 * repeats the next byte 1-n times; -128 does nothing. Returns the number of
 * bytes produced (less than count when the segment ends early).
 */
static size_t unpack(const uint8_t *src, size_t size, uint8_t *dst, size_t stride, size_t count)
{
    size_t in = 0, made = 0;
    while (in < size && made < count) {
        int n = (int8_t)src[in++];
        if (n >= 0) {
            size_t run = (size_t)n + 1;
            if (run > size - in) {
                run = size - in; /* a literal cut short by the segment's end */
            }
            if (run > count - made) {
                run = count - made;
            }
            for (size_t i = 0; i < run; i++) {
                dst[(made + i) * stride] = src[in + i];
            }
            in += (size_t)n + 1;
            made += run;
        } else if (n != -128) {
            if (in >= size) {
                break;
            }
            size_t run = (size_t)(1 - n);
            uint8_t value = src[in++];
            if (run > count - made) {
                run = count - made;
            }
            for (size_t i = 0; i < run; i++) {
                dst[(made + i) * stride] = value;
            }
            made += run;
        }
    }
    return made;
}

static bool rle_decode(ImdError **error, const uint8_t *bytes, size_t size, ImdCodecFrame *frame,
                       uint8_t *out, size_t out_size)
{
    if (!imd__codec_fits(error, frame, out_size, "RLE")) {
        return false;
    }
    if (size < RLE_HEADER) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "RLE frame of %zu bytes is shorter than its 64-byte header (PS3.5 G.5)",
                      size);
        return false;
    }
    const size_t width = frame->bits_allocated / 8u;
    const size_t samples = frame->samples_per_pixel;
    const size_t pixels = (size_t)frame->rows * frame->columns;
    const uint32_t segments = imd__load_le32(bytes);
    if (segments < 1 || segments > RLE_MAX_SEGMENTS || segments != samples * width) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "RLE header says %lu segments; %zu samples of %zu bytes need %zu "
                      "(PS3.5 G.2)",
                      (unsigned long)segments, samples, width, samples * width);
        return false;
    }
    uint32_t offsets[RLE_MAX_SEGMENTS + 1];
    for (uint32_t s = 0; s < segments; s++) {
        offsets[s] = imd__load_le32(bytes + 4 + 4 * s);
        if (offsets[s] < RLE_HEADER || offsets[s] > size ||
            (s > 0 && offsets[s] < offsets[s - 1])) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "RLE segment %lu offset %lu is outside the frame's %zu bytes or out "
                          "of order",
                          (unsigned long)s + 1, (unsigned long)offsets[s], size);
            return false;
        }
    }
    offsets[segments] = (uint32_t)(size > UINT32_MAX ? UINT32_MAX : size);
    for (uint32_t s = 0; s < segments; s++) {
        size_t sample = s / width, byte = s % width; /* byte 0 is the most significant */
        uint8_t *dst = out + sample * width + (width - 1 - byte);
        size_t made = unpack(bytes + offsets[s], offsets[s + 1] - offsets[s], dst,
                             samples * width, pixels);
        if (made < pixels) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "RLE segment %lu decodes to %zu bytes, the frame needs %zu",
                          (unsigned long)s + 1, made, pixels);
            return false;
        }
    }
    frame->planar_configuration = 0; /* written interleaved above */
    return true;
}

/* A fragment that starts a frame: a plausible header (1-15 segments, the first at 64). */
static bool rle_is_start(const uint8_t *bytes, size_t size)
{
    if (size < RLE_HEADER) {
        return false;
    }
    uint32_t segments = imd__load_le32(bytes);
    return segments >= 1 && segments <= RLE_MAX_SEGMENTS && imd__load_le32(bytes + 4) == 64;
}

/* ---- encoding (G.3.1, G.5) ---- */

/* A growing output buffer; `failed` once memory ran out. */
typedef struct Output {
    uint8_t *data;
    size_t size, capacity;
    bool failed;
} Output;

static void emit(Output *o, const uint8_t *bytes, size_t n)
{
    if (o->failed) {
        return;
    }
    if (o->size + n > o->capacity) {
        size_t capacity = o->capacity > 0 ? o->capacity : 4096;
        while (capacity < o->size + n) {
            capacity *= 2;
        }
        uint8_t *grown = imd__realloc(NULL, o->data, capacity);
        if (grown == NULL) {
            o->failed = true;
            return;
        }
        o->data = grown;
        o->capacity = capacity;
    }
    memcpy(o->data + o->size, bytes, n);
    o->size += n;
}

/*
 * PackBits one row of `count` bytes read at src[0], src[stride], ... (G.3.1:
 * each row is encoded on its own, runs never cross a row). A run of three or
 * more equal bytes is a replicate run (header 1-n, up to 128 bytes), anything
 * else goes into literal runs of up to 128 bytes (header n-1).
 */
static void pack_row(Output *o, const uint8_t *src, size_t stride, size_t count)
{
    uint8_t literal[128];
    size_t pending = 0, i = 0;
    while (i < count) {
        uint8_t value = src[i * stride];
        size_t run = 1;
        while (i + run < count && run < 128 && src[(i + run) * stride] == value) {
            run++;
        }
        if (run >= 3) {
            if (pending > 0) {
                uint8_t header = (uint8_t)(pending - 1);
                emit(o, &header, 1);
                emit(o, literal, pending);
                pending = 0;
            }
            uint8_t replicate[2] = {(uint8_t)(int8_t)(1 - (int)run), value};
            emit(o, replicate, 2);
            i += run;
            continue;
        }
        literal[pending++] = value;
        i++;
        if (pending == 128) {
            uint8_t header = 127;
            emit(o, &header, 1);
            emit(o, literal, pending);
            pending = 0;
        }
    }
    if (pending > 0) {
        uint8_t header = (uint8_t)(pending - 1);
        emit(o, &header, 1);
        emit(o, literal, pending);
    }
}

/*
 * One frame: the 64-byte header, then one segment per byte plane, most
 * significant byte of each sample first (G.2), each padded to even length
 * (G.5). All BitsAllocated bits are kept, so the decoded frame is
 * byte-identical to `native`.
 */
static bool rle_encode(ImdError **error, const ImdCodecFrame *frame, const uint8_t *native,
                       size_t native_size, uint8_t **bytes, size_t *size)
{
    size_t expected;
    if (!imd__codec_frame_bytes(error, frame, &expected)) {
        return false;
    }
    const size_t width = frame->bits_allocated / 8u;
    const size_t samples = frame->samples_per_pixel;
    const size_t segments = width * samples;
    if (expected != native_size || segments < 1 || segments > RLE_MAX_SEGMENTS ||
        frame->planar_configuration != 0) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot RLE-encode %zu samples of %u bits (at most 15 byte planes, "
                      "colour by pixel, PS3.5 G.2)",
                      samples, (unsigned)frame->bits_allocated);
        return false;
    }
    Output o = {0};
    uint8_t header[RLE_HEADER] = {0};
    emit(&o, header, sizeof header);
    const size_t columns = frame->columns, stride = samples * width;
    for (size_t s = 0; s < segments && !o.failed; s++) {
        if (o.size > UINT32_MAX) {
            free(o.data);
            imd_error_set(error, IMD_ERR_UNSUPPORTED, "RLE frame over 4 GiB");
            return false;
        }
        imd__codec_store(o.data + 4 + 4 * s, 4, (uint32_t)o.size);
        size_t sample = s / width, byte = s % width; /* byte 0 is the most significant */
        const uint8_t *plane = native + sample * width + (width - 1 - byte);
        for (size_t y = 0; y < frame->rows; y++) {
            pack_row(&o, plane + y * columns * stride, stride, columns);
        }
        if (o.size % 2 != 0) {
            emit(&o, (const uint8_t *)"\0", 1);
        }
    }
    if (o.failed) {
        free(o.data);
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory RLE-encoding a frame");
        return false;
    }
    imd__codec_store(o.data, 4, (uint32_t)segments);
    *bytes = o.data;
    *size = o.size;
    return true;
}

const ImdCodec imd__codec_rle = {
    .name = "RLE Lossless (PS3.5 Annex G, own code)",
    .decode = rle_decode,
    .encode = rle_encode,
    .is_frame_start = rle_is_start,
};
