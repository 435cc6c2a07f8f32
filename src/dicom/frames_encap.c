/*
 * frames_encap.c: where frame n of encapsulated pixel data is (PS3.5 A.4).
 *
 * The pixel data is a sequence of items: the Basic Offset Table, then
 * fragments. A frame is one or more whole fragments (never part of one). The
 * tables give each frame's offset from the first byte of the first fragment's
 * item tag (8 bytes of tag and length per item). In order of trust:
 *   1. the Extended Offset Table (7FE0,0001) with its lengths (7FE0,0002),
 *      8-byte offsets (A.4, "Extended Offset Table");
 *   2. the Basic Offset Table, 4-byte offsets, when not empty and consistent
 *      (one offset per frame, the first 0, increasing, each at an item);
 *   3. one fragment per frame when there are as many fragments as frames;
 *   4. all fragments when there is one frame (A.4: a frame may span fragments);
 *   5. the codestreams' start markers (JPEG SOI, J2K SOC or a JP2 box, RLE
 *      header), each of which starts a frame.
 * A table that does not match the fragments is not trusted (writers get them
 * wrong) and the next method is tried.
 */
#include "dicom/codec.h"

/* The offset of each fragment's item from the first fragment's item, in a
 * caller-sized array; false on overflow. */
static bool item_offsets(const ImdEncapInput *in, uint64_t *offsets)
{
    uint64_t at = 0;
    for (size_t i = 0; i < in->fragment_count; i++) {
        offsets[i] = at;
        uint64_t next = at + 8u + (uint64_t)in->fragments[i].size;
        if (next < at) {
            return false;
        }
        at = next;
    }
    return true;
}

/* The fragment whose item starts at `offset`, by binary search; SIZE_MAX if none. */
static size_t fragment_at(const uint64_t *offsets, size_t count, uint64_t offset)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (offsets[mid] < offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < count && offsets[lo] == offset ? lo : SIZE_MAX;
}

static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)imd__load_le32(p) | (uint64_t)imd__load_le32(p + 4) << 32;
}

/* Fragments [first, first + count) as one frame: borrowed when one, else copied. */
static bool take(ImdError **error, const ImdEncapInput *in, size_t first, size_t count,
                 uint64_t limit, ImdEncapFrame *out)
{
    out->first_fragment = first;
    out->fragment_count = count;
    out->owned = NULL;
    if (count == 1) {
        out->data = in->fragments[first].data;
        out->size = in->fragments[first].size;
        if ((uint64_t)out->size > limit) {
            out->size = (size_t)limit;
        }
        return true;
    }
    size_t total = 0;
    for (size_t i = first; i < first + count; i++) {
        if (!imd__add_size(total, in->fragments[i].size, &total)) {
            imd_error_set(error, IMD_ERR_LIMIT, "frame of %zu fragments exceeds the address space",
                          count);
            return false;
        }
    }
    if ((uint64_t)total > limit) {
        total = (size_t)limit;
    }
    if (in->locate_only) {
        out->data = NULL;
        out->size = total;
        return true;
    }
    uint8_t *buffer = imd__malloc(error, total > 0 ? total : 1);
    if (buffer == NULL) {
        return false;
    }
    size_t at = 0;
    for (size_t i = first; i < first + count && at < total; i++) {
        size_t n = in->fragments[i].size;
        if (n > total - at) {
            n = total - at;
        }
        if (n > 0) {
            memcpy(buffer + at, in->fragments[i].data, n);
        }
        at += n;
    }
    out->data = buffer;
    out->size = total;
    out->owned = buffer;
    return true;
}

/* 1. The Extended Offset Table: frame `frame` from its offset and length. */
static int by_extended(ImdError **error, const ImdEncapInput *in, const uint64_t *offsets,
                       size_t frame, ImdEncapFrame *out)
{
    if (in->extended_offsets == NULL || in->extended_size == 0) {
        return 0;
    }
    if (in->extended_size / 8 != in->frames || in->extended_size % 8 != 0 ||
        in->extended_lengths == NULL || in->extended_lengths_size != in->extended_size) {
        return 0; /* inconsistent: not used */
    }
    uint64_t offset = load_le64(in->extended_offsets + 8 * frame);
    uint64_t length = load_le64(in->extended_lengths + 8 * frame);
    size_t first = fragment_at(offsets, in->fragment_count, offset);
    if (first == SIZE_MAX) {
        return 0;
    }
    /* The fragments from `first` until `length` bytes are covered (usually one). */
    uint64_t covered = 0;
    size_t last = first;
    while (last < in->fragment_count && covered < length) {
        covered += in->fragments[last].size;
        last++;
    }
    if (covered < length || last == first) {
        return 0;
    }
    return take(error, in, first, last - first, length, out) ? 1 : -1;
}

/* 2. The Basic Offset Table, when it has one consistent offset per frame. */
static int by_basic(ImdError **error, const ImdEncapInput *in, const uint64_t *offsets,
                    size_t frame, ImdEncapFrame *out)
{
    if (in->basic_offsets == NULL || in->basic_size == 0 || in->basic_size % 4 != 0 ||
        in->basic_size / 4 != in->frames) {
        return 0;
    }
    /* Every offset is checked, not only this frame's: one wrong entry means a
     * table that cannot be trusted (e.g. offsets from the BOT's own item). */
    size_t previous = SIZE_MAX, first = SIZE_MAX, end = in->fragment_count;
    for (size_t f = 0; f < in->frames; f++) {
        uint64_t offset = imd__load_le32(in->basic_offsets + 4 * f);
        size_t index = fragment_at(offsets, in->fragment_count, offset);
        if (index == SIZE_MAX || (f == 0 && index != 0) ||
            (previous != SIZE_MAX && index <= previous)) {
            return 0;
        }
        if (f == frame) {
            first = index;
        } else if (f == frame + 1) {
            end = index;
        }
        previous = index;
    }
    return take(error, in, first, end - first, UINT64_MAX, out) ? 1 : -1;
}

/* 5. Start markers: the fragment starting frame `frame`, and the next frame's. */
static int by_markers(ImdError **error, const ImdEncapInput *in, size_t frame,
                      ImdEncapFrame *out)
{
    if (in->is_frame_start == NULL) {
        return 0;
    }
    size_t starts = 0, first = SIZE_MAX, end = in->fragment_count;
    for (size_t i = 0; i < in->fragment_count; i++) {
        if (!in->is_frame_start(in->fragments[i].data, in->fragments[i].size)) {
            if (i == 0) {
                return 0; /* the first fragment must start a frame */
            }
            continue;
        }
        if (starts == frame) {
            first = i;
        } else if (starts == frame + 1) {
            end = i;
        }
        starts++;
    }
    if (starts != in->frames || first == SIZE_MAX) {
        return 0;
    }
    return take(error, in, first, end - first, UINT64_MAX, out) ? 1 : -1;
}

bool imd__encap_locate(ImdError **error, const ImdEncapInput *in, size_t frame,
                       ImdEncapFrame *out)
{
    memset(out, 0, sizeof *out);
    if (in == NULL || in->frames == 0 || frame >= in->frames) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "frame %zu of %zu", frame,
                      in != NULL ? in->frames : (size_t)0);
        return false;
    }
    if (in->fragment_count == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "encapsulated pixel data has no fragments");
        return false;
    }
    if (in->fragment_count < in->frames) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "encapsulated pixel data has %zu fragments for %zu frames",
                      in->fragment_count, in->frames);
        return false;
    }
    int found = 0;
    uint64_t *offsets = NULL;
    if ((in->extended_size > 0 || in->basic_size > 0) && in->frames > 1) {
        offsets = imd__calloc(error, in->fragment_count, sizeof *offsets);
        if (offsets == NULL) {
            return false;
        }
        if (item_offsets(in, offsets)) {
            found = by_extended(error, in, offsets, frame, out);
            if (found == 0) {
                found = by_basic(error, in, offsets, frame, out);
            }
        }
        free(offsets);
    }
    if (found == 0 && in->fragment_count == in->frames) {
        found = take(error, in, frame, 1, UINT64_MAX, out) ? 1 : -1;
    }
    if (found == 0 && in->frames == 1) {
        found = take(error, in, 0, in->fragment_count, UINT64_MAX, out) ? 1 : -1;
    }
    if (found == 0) {
        found = by_markers(error, in, frame, out);
    }
    if (found == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "cannot find frame %zu of %zu in %zu fragments: no usable offset table "
                      "and the fragments' start markers do not give %zu frames",
                      frame, in->frames, in->fragment_count, in->frames);
    }
    return found == 1;
}
