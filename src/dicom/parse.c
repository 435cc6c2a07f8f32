/*
 * parse.c: the DICOM parser. Part 10 files (preamble, "DICM", file meta
 * group, PS3.10 §7.1) and bare data sets, in Implicit VR Little Endian,
 * Explicit VR Little Endian (and the compressed syntaxes built on it),
 * Explicit VR Big Endian and Deflated Explicit VR Little Endian (PS3.5 §7,
 * §10, Annex A). Every length is checked against the bytes left; values
 * point into the source buffer except where bytes must be swapped.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED) */
#include "dicom/dicom_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define DEFAULT_MAX_DEPTH 64
#define DEFAULT_MAX_ELEMENTS (UINT64_C(1) << 24)

typedef struct Parser {
    ImdError **error;
    const char *name;
    const uint8_t *data;
    size_t size;
    ImdDicomDataSet *top;   /* receives warnings */
    ImdDicomBuffer *buffer; /* what values point into */
    bool little, implicit;
    bool warned_implicit;
    uint32_t stop_tag, max_depth;
    uint64_t max_elements, elements;
} Parser;

typedef enum Step { STEP_ELEMENT, STEP_END, STEP_STOP, STEP_FAIL } Step;

static uint16_t u16(const Parser *p, size_t at)
{
    return p->little ? imd__load_le16(p->data + at) : imd__load_be16(p->data + at);
}

static uint32_t u32(const Parser *p, size_t at)
{
    return p->little ? imd__load_le32(p->data + at) : imd__load_be32(p->data + at);
}

static bool corrupt(Parser *p, uint32_t tag, size_t at, const char *format, ...)
    IMD_PRINTF(4, 5);

static bool corrupt(Parser *p, uint32_t tag, size_t at, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *reason = imd__vsprintf(NULL, format, args);
    va_end(args);
    imd_error_set(p->error, IMD_ERR_CORRUPT, "%s: (%04X,%04X) at offset %zu: %s", p->name,
                  IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), at, reason ? reason : "corrupt");
    free(reason);
    return false;
}

static bool is_vr_letter(uint8_t c)
{
    return c >= 'A' && c <= 'Z';
}

static bool vr_at(const Parser *p, size_t at, ImdVR *vr)
{
    char name[3] = {(char)p->data[at], (char)p->data[at + 1], '\0'};
    return imd_dicom_vr_from_name(name, vr);
}

/* ---- element headers ---- */

typedef struct Header {
    uint32_t tag;
    ImdVR vr;
    uint32_t length;
    size_t start; /* offset of the tag */
} Header;

/* An element written in implicit VR inside explicit VR data: tolerated, as pydicom does. */
static void implicit_inside_explicit(Parser *p, Header *h)
{
    if (!p->warned_implicit) {
        imd__dicom_warn(p->top, "(%04X,%04X) at offset %zu: implicit VR element in explicit "
                                "VR data; read as implicit VR",
                        IMD_TAG_GROUP(h->tag), IMD_TAG_ELEMENT(h->tag), h->start);
        p->warned_implicit = true;
    }
    h->vr = imd_dicom_dictionary_vr(h->tag);
    h->length = u32(p, h->start + 4);
}

static bool read_explicit(Parser *p, Header *h, size_t *pos, size_t end)
{
    if (end - *pos < 8) {
        return corrupt(p, h->tag, *pos, "element header cut off by the end of the data");
    }
    if (vr_at(p, *pos + 4, &h->vr)) {
        if (!imd__dicom_vr_has_long_length(h->vr)) {
            h->length = u16(p, *pos + 6);
            *pos += 8;
            return true;
        }
    } else if (is_vr_letter(p->data[*pos + 4]) && is_vr_letter(p->data[*pos + 5])) {
        /* An unknown VR: PS3.5 §6.2 says read it like UN (4-byte length). */
        imd__dicom_warn(p->top, "(%04X,%04X) at offset %zu: unknown VR \"%c%c\" read as UN",
                        IMD_TAG_GROUP(h->tag), IMD_TAG_ELEMENT(h->tag), *pos, p->data[*pos + 4],
                        p->data[*pos + 5]);
        h->vr = IMD_VR_UN;
    } else {
        implicit_inside_explicit(p, h);
        *pos += 8;
        return true;
    }
    if (end - *pos < 12) {
        return corrupt(p, h->tag, *pos, "element header cut off by the end of the data");
    }
    h->length = u32(p, *pos + 8);
    *pos += 12;
    return true;
}

/* Read tag, VR and length at *pos. STEP_END for an item delimiter. */
static Step read_header(Parser *p, Header *h, size_t *pos, size_t end, int depth)
{
    h->start = *pos;
    if (end - *pos < 8) {
        if (end == p->size) {
            imd__dicom_warn(p->top, "%zu bytes at the end of the file ignored", end - *pos);
            *pos = end;
            return STEP_STOP;
        }
        corrupt(p, 0, *pos, "%zu bytes left, too few for an element header", end - *pos);
        return STEP_FAIL;
    }
    h->tag = IMD_TAG(u16(p, *pos), u16(p, *pos + 2));
    if (h->tag == IMD_TAG_ItemDelimitationItem) {
        *pos += 8;
        return STEP_END;
    }
    if (depth == 0 && p->stop_tag != 0 && h->tag >= p->stop_tag) {
        return STEP_STOP;
    }
    if (IMD_TAG_GROUP(h->tag) == IMD_GROUP_ITEMS) {
        corrupt(p, h->tag, *pos, "item tag where a data element was expected");
        return STEP_FAIL;
    }
    if (p->implicit) {
        h->vr = imd_dicom_dictionary_vr(h->tag);
        h->length = u32(p, *pos + 4);
        *pos += 8;
        return STEP_ELEMENT;
    }
    return read_explicit(p, h, pos, end) ? STEP_ELEMENT : STEP_FAIL;
}

/* ---- values ---- */

static bool parse_dataset(Parser *p, ImdDicomDataSet *dataset, size_t *pos, size_t end,
                          bool until_delimiter, int depth);

/* Swap each unit of a big-endian binary value into a new little-endian copy. */
static bool swap_value(Parser *p, ImdDicomElement *element, size_t unit)
{
    uint8_t *copy = imd__malloc(p->error, element->size);
    if (copy == NULL) {
        return false;
    }
    /* AT is two 16-bit numbers (PS3.5 §6.2), not one 32-bit number. */
    size_t swap = element->vr == IMD_VR_AT ? 2 : unit;
    for (size_t i = 0; i + swap <= element->size; i += swap) {
        for (size_t k = 0; k < swap; k++) {
            copy[i + k] = element->value[i + swap - 1 - k];
        }
    }
    element->value = copy;
    element->owned = true;
    return true;
}

static bool add_item(Parser *p, ImdDicomElement *element, ImdDicomDataSet *item)
{
    ImdDicomDataSet **items = imd__realloc(p->error, element->items,
                                           (element->item_count + 1) * sizeof *items);
    if (items == NULL) {
        return false;
    }
    element->items = items;
    items[element->item_count++] = item;
    return true;
}

/* The items of a sequence, up to `end` or its sequence delimiter. */
static bool parse_items(Parser *p, ImdDicomElement *element, ImdDicomDataSet *parent,
                        size_t *pos, size_t end, bool undefined, int depth)
{
    if (depth + 1 > (int)p->max_depth) {
        imd_error_set(p->error, IMD_ERR_LIMIT, "%s: (%04X,%04X): sequences nested deeper than %u",
                      p->name, IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag),
                      p->max_depth);
        return false;
    }
    while (*pos < end) {
        if (end - *pos < 8) {
            return corrupt(p, element->tag, *pos, "item header cut off by the end of the data");
        }
        uint32_t tag = IMD_TAG(u16(p, *pos), u16(p, *pos + 2)), length = u32(p, *pos + 4);
        size_t at = *pos;
        *pos += 8;
        if (tag == IMD_TAG_SequenceDelimitationItem) {
            if (!undefined) {
                imd__dicom_warn(p->top, "(%04X,%04X): sequence delimiter in a sequence of "
                                        "defined length", IMD_TAG_GROUP(element->tag),
                                IMD_TAG_ELEMENT(element->tag));
            }
            return true;
        }
        if (tag != IMD_TAG_Item) {
            return corrupt(p, element->tag, at, "(%04X,%04X) where a sequence item was expected",
                           IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag));
        }
        if (length != IMD_DICOM_UNDEFINED_LENGTH && length > end - *pos) {
            if (end != p->size) {
                return corrupt(p, element->tag, at, "item length %u exceeds the %zu bytes left",
                               length, end - *pos);
            }
            imd__dicom_warn(p->top, "(%04X,%04X): item cut off by the end of the file",
                            IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag));
            length = (uint32_t)(end - *pos);
        }
        ImdDicomDataSet *item = imd_dicom_dataset_create(p->error);
        if (item == NULL || !add_item(p, element, item)) {
            imd_dicom_dataset_destroy(item);
            return false;
        }
        item->parent = parent;
        item->buffer = imd__dicom_buffer_retain(p->buffer);
        bool item_undefined = length == IMD_DICOM_UNDEFINED_LENGTH;
        size_t item_end = item_undefined ? end : *pos + length;
        if (!parse_dataset(p, item, pos, item_end, item_undefined, depth + 1)) {
            return false;
        }
    }
    if (undefined) {
        imd__dicom_warn(p->top, "(%04X,%04X): sequence of undefined length ends without a "
                                "delimiter", IMD_TAG_GROUP(element->tag),
                        IMD_TAG_ELEMENT(element->tag));
    }
    return true;
}

/* Encapsulated pixel data: an offset table item, then fragments (PS3.5 §A.4). */
static bool parse_fragments(Parser *p, ImdDicomElement *element, size_t *pos, size_t end)
{
    element->encapsulated = true;
    for (;;) {
        if (end - *pos < 8) {
            return corrupt(p, element->tag, *pos, "encapsulated pixel data ends without a "
                                                  "sequence delimiter");
        }
        uint32_t tag = IMD_TAG(u16(p, *pos), u16(p, *pos + 2)), length = u32(p, *pos + 4);
        size_t at = *pos;
        *pos += 8;
        if (tag == IMD_TAG_SequenceDelimitationItem) {
            return true;
        }
        if (tag != IMD_TAG_Item || length == IMD_DICOM_UNDEFINED_LENGTH ||
            length > end - *pos) {
            return corrupt(p, element->tag, at, "bad fragment (%04X,%04X) of length %u with %zu "
                                                "bytes left", IMD_TAG_GROUP(tag),
                           IMD_TAG_ELEMENT(tag), length, end - *pos);
        }
        ImdDicomFragment *grown = imd__realloc(p->error, element->fragments,
                                               (element->fragment_count + 1) * sizeof *grown);
        if (grown == NULL) {
            return false;
        }
        element->fragments = grown;
        grown[element->fragment_count++] = (ImdDicomFragment){p->data + *pos, length};
        *pos += length;
    }
}

/*
 * A sequence in a UN element of undefined length is encoded in Implicit VR
 * Little Endian whatever the transfer syntax (PS3.5 §6.2.2).
 */
static bool parse_un_sequence(Parser *p, ImdDicomElement *element, ImdDicomDataSet *parent,
                              size_t *pos, size_t end, int depth)
{
    bool little = p->little, implicit = p->implicit;
    p->little = true;
    p->implicit = true;
    element->vr = IMD_VR_SQ;
    bool ok = parse_items(p, element, parent, pos, end, true, depth);
    p->little = little;
    p->implicit = implicit;
    return ok;
}

/*
 * An explicit UN element of a tag the dictionary knows (a converter that did
 * not know the attribute) is read with the dictionary VR, as pydicom does by
 * default; a sequence inside is Implicit VR Little Endian (PS3.5 §6.2.2).
 */
static bool known_un(const Parser *p, const Header *h)
{
    ImdVR vr = imd_dicom_dictionary_vr(h->tag);
    return !p->implicit && (IMD_TAG_GROUP(h->tag) & 1u) == 0 && vr != IMD_VR_UN &&
           vr != IMD_VR_NONE;
}

static bool parse_known_un(Parser *p, const Header *h, ImdDicomElement *element,
                           ImdDicomDataSet *dataset, size_t *pos, uint32_t length, int depth)
{
    ImdVR vr = imd_dicom_dictionary_vr(h->tag);
    size_t value_end = *pos + length;
    if (vr != IMD_VR_SQ) {
        element->vr = vr;
        element->value = length > 0 ? p->data + *pos : NULL;
        element->size = length;
        *pos = value_end;
        return true;
    }
    bool little = p->little, implicit = p->implicit;
    p->little = true;
    p->implicit = true;
    element->vr = IMD_VR_SQ;
    bool ok = parse_items(p, element, dataset, pos, value_end, false, depth);
    p->little = little;
    p->implicit = implicit;
    *pos = value_end;
    return ok;
}

static bool parse_value(Parser *p, const Header *h, ImdDicomElement *element,
                        ImdDicomDataSet *dataset, size_t *pos, size_t end, int depth)
{
    *element = (ImdDicomElement){.tag = h->tag, .vr = h->vr};
    if (h->length == IMD_DICOM_UNDEFINED_LENGTH) {
        if (h->vr == IMD_VR_SQ) {
            return parse_items(p, element, dataset, pos, end, true, depth);
        }
        if (h->tag == IMD_TAG_PixelData || h->vr == IMD_VR_OB || h->vr == IMD_VR_OW ||
            h->vr == IMD_VR_OB_OW) {
            element->vr = h->vr == IMD_VR_OW ? IMD_VR_OW : IMD_VR_OB;
            return parse_fragments(p, element, pos, end);
        }
        if (h->vr == IMD_VR_UN) {
            return parse_un_sequence(p, element, dataset, pos, end, depth);
        }
        return corrupt(p, h->tag, h->start, "undefined length for VR %s",
                       imd_dicom_vr_name(h->vr));
    }
    uint32_t length = h->length;
    if (length > end - *pos) {
        if (end != p->size) {
            return corrupt(p, h->tag, h->start, "length %u exceeds the %zu bytes left", length,
                           end - *pos);
        }
        /* Cut off by the end of the file: keep what is there, as pydicom does; whoever
         * needs the whole value (pixel data) checks its size. */
        imd__dicom_warn(p->top, "(%04X,%04X): value of %u bytes cut off at %zu by the end of "
                                "the file", IMD_TAG_GROUP(h->tag), IMD_TAG_ELEMENT(h->tag),
                        length, end - *pos);
        length = (uint32_t)(end - *pos);
    }
    if (h->vr == IMD_VR_SQ) {
        size_t sequence_end = *pos + length;
        if (!parse_items(p, element, dataset, pos, sequence_end, false, depth)) {
            return false;
        }
        *pos = sequence_end;
        return true;
    }
    if (h->vr == IMD_VR_UN && known_un(p, h)) {
        return parse_known_un(p, h, element, dataset, pos, length, depth);
    }
    if ((length & 1u) != 0) {
        imd__dicom_warn(p->top, "(%04X,%04X): odd value length %u", IMD_TAG_GROUP(h->tag),
                        IMD_TAG_ELEMENT(h->tag), length);
    }
    element->value = length > 0 ? p->data + *pos : NULL;
    element->size = length;
    *pos += length;
    size_t unit = imd__dicom_vr_unit(element->vr);
    if (!p->little && unit > 1 && length > 0) {
        return swap_value(p, element, unit);
    }
    return true;
}

static bool count_element(Parser *p, uint32_t tag)
{
    if (++p->elements > p->max_elements) {
        imd_error_set(p->error, IMD_ERR_LIMIT, "%s: (%04X,%04X): more than %llu elements",
                      p->name, IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag),
                      (unsigned long long)p->max_elements);
        return false;
    }
    return true;
}

static bool parse_dataset(Parser *p, ImdDicomDataSet *dataset, size_t *pos, size_t end,
                          bool until_delimiter, int depth)
{
    while (*pos < end) {
        Header h;
        Step step = read_header(p, &h, pos, end, depth);
        if (step == STEP_END) {
            if (!until_delimiter) {
                imd__dicom_warn(p->top, "item delimiter at offset %zu in an item of defined "
                                        "length", h.start);
            }
            imd__dicom_dataset_sort(dataset);
            return true;
        }
        if (step == STEP_STOP) {
            break;
        }
        ImdDicomElement element;
        if (step == STEP_FAIL || !count_element(p, h.tag)) {
            return false;
        }
        bool ok = parse_value(p, &h, &element, dataset, pos, end, depth);
        if (!ok || !imd__dicom_dataset_append(p->error, dataset, &element)) {
            imd__dicom_element_free(&element);
            return false;
        }
    }
    if (until_delimiter && depth > 0 && *pos >= end) {
        imd__dicom_warn(p->top, "an item of undefined length ends without a delimiter");
    }
    imd__dicom_dataset_sort(dataset);
    return true;
}

/* ---- ambiguous dictionary VRs, resolved as pydicom does (PS3.5 Annex A) ---- */

static bool find_number(const ImdDicomDataSet *dataset, uint32_t tag, int64_t *value)
{
    for (const ImdDicomDataSet *d = dataset; d != NULL; d = d->parent) {
        const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
        if (e != NULL && e->value != NULL && imd_dicom_element_int(NULL, e, 0, value)) {
            return true;
        }
    }
    return false;
}

static void resolve_vrs(ImdDicomDataSet *dataset)
{
    for (size_t i = 0; i < dataset->count; i++) {
        ImdDicomElement *e = &dataset->elements[i];
        int64_t representation = 0;
        if (e->vr == IMD_VR_US_SS) {
            e->vr = find_number(dataset, IMD_TAG_PixelRepresentation, &representation) &&
                            representation == 1
                        ? IMD_VR_SS
                        : IMD_VR_US;
        } else if (e->vr == IMD_VR_OB_OW) {
            /* Only implicit VR leaves this choice open, and there pixel and overlay
             * data are OW whatever BitsAllocated says (PS3.5 §A.1). */
            e->vr = IMD_VR_OW;
        } else if (e->vr == IMD_VR_US_SS_OW) {
            e->vr = IMD_VR_OW;
        }
        for (size_t k = 0; k < e->item_count; k++) {
            resolve_vrs(e->items[k]);
        }
    }
}

/* ---- file structure ---- */

static void trim_uid(const ImdDicomElement *element, char out[65])
{
    size_t n = element != NULL && element->value != NULL ? element->size : 0;
    n = n > 64 ? 64 : n;
    memcpy(out, n > 0 ? (const char *)element->value : "", n);
    while (n > 0 && (out[n - 1] == '\0' || out[n - 1] == ' ')) {
        n--;
    }
    out[n] = '\0';
}

/* Parse the group 0002 elements starting at *pos (always explicit VR LE). */
static bool parse_meta(Parser *p, size_t *pos, ImdDicomDataSet **meta)
{
    *meta = imd_dicom_dataset_create(p->error);
    if (*meta == NULL) {
        return false;
    }
    (*meta)->buffer = imd__dicom_buffer_retain(p->buffer);
    p->little = true;
    p->implicit = false;
    while (p->size - *pos >= 8 && imd__load_le16(p->data + *pos) == IMD_GROUP_FILE_META) {
        Header h;
        ImdDicomElement element;
        h.start = *pos;
        h.tag = IMD_TAG(IMD_GROUP_FILE_META, imd__load_le16(p->data + *pos + 2));
        if (!count_element(p, h.tag) || !read_explicit(p, &h, pos, p->size)) {
            return false;
        }
        /* parse_value fills `element` from its start: free what it built on failure. */
        if (!parse_value(p, &h, &element, *meta, pos, p->size, 1) ||
            !imd__dicom_dataset_append(p->error, *meta, &element)) {
            imd__dicom_element_free(&element);
            return false;
        }
    }
    imd__dicom_dataset_sort(*meta);
    return true;
}

/* Guess the encoding of a data set without meta information from its first element. */
static bool detect_encoding(Parser *p, size_t at, char transfer_syntax[65])
{
    if (p->size - at < 8) {
        return false;
    }
    uint16_t little_group = imd__load_le16(p->data + at), big_group = imd__load_be16(p->data + at);
    ImdVR vr;
    bool explicit_vr = vr_at(p, at + 4, &vr);
    if (little_group <= 0x00ff && little_group != 0) {
        p->little = true;
    } else if (big_group <= 0x00ff && big_group != 0 && explicit_vr) {
        p->little = false;
    } else {
        return false;
    }
    p->implicit = !explicit_vr;
    if (p->implicit) {
        uint32_t length = imd__load_le32(p->data + at + 4);
        if (length != IMD_DICOM_UNDEFINED_LENGTH && length > p->size - at - 8) {
            return false;
        }
    }
    snprintf(transfer_syntax, 65, "%s",
             p->implicit ? IMD_UID_IMPLICIT_VR_LE
                         : p->little ? IMD_UID_EXPLICIT_VR_LE : IMD_UID_EXPLICIT_VR_BE);
    return true;
}

/* Set the encoding of a known transfer syntax; unknown ones are read as explicit VR LE. */
static void encoding_for(Parser *p, const char *uid)
{
    p->little = strcmp(uid, IMD_UID_EXPLICIT_VR_BE) != 0;
    p->implicit = strcmp(uid, IMD_UID_IMPLICIT_VR_LE) == 0;
    if (!p->implicit && p->little && strcmp(uid, IMD_UID_EXPLICIT_VR_LE) != 0 &&
        strcmp(uid, IMD_UID_DEFLATED_EXPLICIT_VR_LE) != 0 && imd_dicom_uid_name(uid) == NULL) {
        imd__dicom_warn(p->top, "unknown transfer syntax %s read as Explicit VR Little Endian",
                        uid);
    }
}

/* The first element tells whether the declared VR encoding is right (as pydicom checks). */
static void check_declared_vr(Parser *p, size_t at)
{
    if (p->size - at < 8 || u16(p, at) == IMD_GROUP_ITEMS) {
        return;
    }
    ImdVR vr;
    bool looks_explicit = vr_at(p, at + 4, &vr);
    if (!p->implicit && !looks_explicit) {
        imd__dicom_warn(p->top, "expected explicit VR, but found implicit VR; reading as "
                                "implicit VR");
        p->implicit = true;
        p->warned_implicit = true;
    } else if (p->implicit && looks_explicit && p->little) {
        imd__dicom_warn(p->top, "expected implicit VR, but found explicit VR; reading as "
                                "explicit VR");
        p->implicit = false;
    }
}

static void free_inflated(void *data, void *user)
{
    IMD__UNUSED(user);
    free(data);
}

/* Deflated Explicit VR LE: the data set after the meta group is raw deflate (PS3.5 §A.5). */
static bool inflate_rest(Parser *p, size_t at)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
        imd_error_set(p->error, IMD_ERR_NOMEM, "%s: cannot start inflating", p->name);
        return false;
    }
    size_t capacity = (p->size - at) * 4 + 4096, length = 0;
    /*
     * Deflate expands at most 1032:1 (RFC 1951): the output can never need
     * more, so the buffer never grows past what these bytes can justify.
     */
    size_t most = (p->size - at) <= (SIZE_MAX - 4096) / IMD__DEFLATE_MAX_RATIO
                      ? (p->size - at) * IMD__DEFLATE_MAX_RATIO + 4096
                      : SIZE_MAX;
    capacity = capacity > most ? most : capacity;
    uint8_t *out = NULL;
    int status = Z_OK;
    z.next_in = (Bytef *)(uintptr_t)(p->data + at);
    z.avail_in = (uInt)((p->size - at) > UINT32_MAX ? UINT32_MAX : p->size - at);
    while (status != Z_STREAM_END) {
        if (out == NULL || length == capacity) {
            bool full = out != NULL && capacity >= most;
            capacity = out == NULL ? capacity : capacity > most / 2 ? most : capacity * 2;
            if (!imd__check_cancel(p->error, NULL, p->name)) {
                free(out);
                inflateEnd(&z);
                return false;
            }
            if (full || capacity > ((size_t)1 << 34)) {
                free(out);
                inflateEnd(&z);
                imd_error_set(p->error, IMD_ERR_LIMIT, "%s: deflated data set too large", p->name);
                return false;
            }
            /* Out of memory is NOMEM, not the size limit above. */
            uint8_t *grown = imd__realloc(p->error, out, capacity);
            if (grown == NULL) {
                free(out);
                inflateEnd(&z);
                imd_error_prefix(p->error, "%s: ", p->name);
                return false;
            }
            out = grown;
        }
        z.next_out = out + length;
        z.avail_out = (uInt)(capacity - length > UINT32_MAX ? UINT32_MAX : capacity - length);
        size_t before = z.avail_out;
        status = inflate(&z, Z_NO_FLUSH);
        length += before - z.avail_out;
        if (status != Z_OK && status != Z_STREAM_END && !(status == Z_BUF_ERROR && z.avail_out == 0)) {
            free(out);
            inflateEnd(&z);
            imd_error_set(p->error, IMD_ERR_CORRUPT, "%s: deflated data set: %s", p->name,
                          z.msg != NULL ? z.msg : "inflate failed");
            return false;
        }
        if (status == Z_BUF_ERROR && z.avail_in == 0) {
            break; /* truncated stream: parse what we have */
        }
    }
    inflateEnd(&z);
    ImdDicomBuffer *buffer = imd__dicom_buffer_create(p->error, out, length, free_inflated, NULL);
    if (buffer == NULL) {
        free(out);
        return false;
    }
    imd__dicom_buffer_release(p->buffer); /* the meta group keeps its own reference */
    p->buffer = buffer;
    p->data = out;
    p->size = length;
    return true;
}

/* Preamble and meta group, or detection of a bare data set; returns the data set's offset. */
static bool read_preamble(Parser *p, ImdDicomDataSet *top, size_t *pos)
{
    *pos = 0;
    if (p->size >= 132 && memcmp(p->data + 128, "DICM", 4) == 0) {
        *pos = 132;
    } else if (p->size >= 4 && memcmp(p->data, "DICM", 4) == 0) {
        imd__dicom_warn(top, "\"DICM\" without the 128-byte preamble");
        *pos = 4;
    }
    if (p->size - *pos >= 8 && imd__load_le16(p->data + *pos) == IMD_GROUP_FILE_META) {
        if (!parse_meta(p, pos, &top->meta)) {
            return false;
        }
        trim_uid(imd_dicom_dataset_find(top->meta, IMD_TAG_TransferSyntaxUID),
                 top->transfer_syntax);
        if (top->transfer_syntax[0] != '\0') {
            encoding_for(p, top->transfer_syntax);
            return true;
        }
        imd__dicom_warn(top, "no transfer syntax in the file meta group");
    } else if (*pos > 0) {
        imd__dicom_warn(top, "no file meta group after \"DICM\"");
    }
    if (!detect_encoding(p, *pos, top->transfer_syntax)) {
        imd_error_set(p->error, IMD_ERR_NOT_RECOGNIZED, "%s: not a DICOM file", p->name);
        return false;
    }
    if (top->meta == NULL) {
        imd__dicom_warn(top, "no file meta information; read as %s",
                        imd_dicom_uid_name(top->transfer_syntax));
    }
    return true;
}

static ImdDicomDataSet *parse_buffer(ImdError **error, ImdDicomBuffer *buffer, const char *name,
                                     const ImdDicomReadOptions *options)
{
    ImdDicomDataSet *top = imd_dicom_dataset_create(error);
    if (top == NULL) {
        imd__dicom_buffer_release(buffer);
        return NULL;
    }
    Parser p = {.error = error, .name = name, .data = buffer->data, .size = buffer->size,
                .top = top, .buffer = buffer, .little = true,
                .stop_tag = options ? options->stop_tag : 0,
                .max_depth = options && options->max_depth ? options->max_depth : DEFAULT_MAX_DEPTH,
                .max_elements = options && options->max_elements ? options->max_elements
                                                                 : DEFAULT_MAX_ELEMENTS};
    size_t pos;
    bool ok = read_preamble(&p, top, &pos);
    if (ok && strcmp(top->transfer_syntax, IMD_UID_DEFLATED_EXPLICIT_VR_LE) == 0) {
        ok = inflate_rest(&p, pos);
        pos = 0;
    }
    if (ok) {
        top->buffer = imd__dicom_buffer_retain(p.buffer);
        check_declared_vr(&p, pos);
        ok = parse_dataset(&p, top, &pos, p.size, false, 0);
        top->parsed_bytes = pos;
    }
    imd__dicom_buffer_release(p.buffer);
    if (!ok) {
        imd_dicom_dataset_destroy(top);
        return NULL;
    }
    resolve_vrs(top);
    return top;
}

/* ---- entry points ---- */

/* A mapping's release: imd__unmap (src/io/stream.c), the size as `user`. */
#define release_mapping imd__unmap

void imd__dicom_buffer_drop_pages(const ImdDicomBuffer *buffer)
{
    /* Parsed: the elements point into the mapping, but its pages need not stay
     * resident. Dropped from this process (they stay in the page cache), they
     * come back on the next access (minor faults), e.g. when the pixels are
     * decoded. A folder of 50,000 files then holds only the parsed elements,
     * not every file, until its series is read. */
#ifdef MADV_DONTNEED
    if (buffer != NULL && buffer->release == release_mapping && buffer->size > 0) {
        (void)madvise(buffer->data, buffer->size, MADV_DONTNEED);
    }
#else
    (void)buffer;
#endif
}

void imd__dicom_dataset_drop_pages(const ImdDicomDataSet *dataset)
{
    imd__dicom_buffer_drop_pages(dataset != NULL ? dataset->buffer : NULL);
}

size_t imd__dicom_dataset_header_bytes(const ImdDicomDataSet *dataset)
{
    const ImdDicomBuffer *buffer = dataset != NULL ? dataset->buffer : NULL;
    if (buffer == NULL) {
        return 0;
    }
    static const uint32_t pixel_tags[] = {IMD_TAG_PixelData, IMD_TAG_FloatPixelData,
                                          IMD_TAG_DoubleFloatPixelData};
    for (size_t i = 0; i < sizeof pixel_tags / sizeof pixel_tags[0]; i++) {
        const ImdDicomElement *e = imd_dicom_dataset_find(dataset, pixel_tags[i]);
        const uint8_t *value = e == NULL ? NULL
                               : e->encapsulated && e->fragment_count > 0 ? e->fragments[0].data
                                                                          : e->value;
        if (value != NULL && e != NULL && !e->owned && value >= buffer->data &&
            value <= buffer->data + buffer->size) {
            return (size_t)(value - buffer->data);
        }
    }
    return dataset->parsed_bytes < buffer->size ? dataset->parsed_bytes : buffer->size;
}

ImdDicomBuffer *imd__dicom_buffer_of_mapping(ImdError **error, uint8_t *data, size_t size)
{
    ImdDicomBuffer *buffer =
        imd__dicom_buffer_create(error, data, size, release_mapping, (void *)(uintptr_t)size);
    if (buffer == NULL) {
        release_mapping(data, (void *)(uintptr_t)size);
    }
    return buffer;
}

ImdDicomDataSet *imd__dicom_read_buffer(ImdError **error, ImdDicomBuffer *buffer,
                                        const char *name, const ImdDicomReadOptions *options)
{
    return parse_buffer(error, imd__dicom_buffer_retain(buffer), name, options);
}

ImdDicomDataSet *imd_dicom_read_file(ImdError **error, const char *path,
                                     const ImdDicomReadOptions *options)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        imd_error_set(error, errno == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO, "%s: %s", path,
                      strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        imd_error_set(error, S_ISREG(st.st_mode) ? IMD_ERR_NOT_RECOGNIZED : IMD_ERR_IO,
                      "%s: %s", path, S_ISREG(st.st_mode) ? "empty file" : "not a regular file");
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        imd_error_set(error, IMD_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    if (options != NULL && options->stop_tag != 0) {
        /* A header scan touches a page or two: without this, readahead would
         * fault in the rest of the file (the pixel data) for nothing. */
        (void)posix_madvise(map, size, POSIX_MADV_RANDOM);
    }
    ImdDicomBuffer *buffer = imd__dicom_buffer_create(error, map, size, release_mapping,
                                                      (void *)(uintptr_t)size);
    if (buffer == NULL) {
        munmap(map, size);
        return NULL;
    }
    return parse_buffer(error, buffer, path, options);
}

ImdDicomDataSet *imd__dicom_read_owned(ImdError **error, uint8_t *data, size_t size,
                                       const char *name, const ImdDicomReadOptions *options)
{
    ImdDicomBuffer *buffer = imd__dicom_buffer_create(error, data, size, NULL, NULL);
    if (buffer == NULL) {
        free(data);
        return NULL;
    }
    return parse_buffer(error, buffer, name != NULL ? name : "(memory)", options);
}

ImdDicomDataSet *imd_dicom_read_memory(ImdError **error, const void *data, size_t size,
                                       const char *name, const ImdDicomReadOptions *options)
{
    if (data == NULL && size > 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "DICOM read: no data");
        return NULL;
    }
    uint8_t *copy = imd__malloc(error, size);
    if (copy == NULL) {
        return NULL;
    }
    if (size > 0) {
        memcpy(copy, data, size);
    }
    ImdDicomBuffer *buffer = imd__dicom_buffer_create(error, copy, size, NULL, NULL);
    if (buffer == NULL) {
        free(copy);
        return NULL;
    }
    return parse_buffer(error, buffer, name != NULL ? name : "(memory)", options);
}

ImdDicomDataSet *imd_dicom_read(ImdError **error, ImdStream *stream,
                                const ImdDicomReadOptions *options)
{
    if (stream == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "DICOM read: no stream");
        return NULL;
    }
    size_t size;
    const uint8_t *memory = imd_stream_memory(stream, &size);
    if (memory != NULL) {
        return imd_dicom_read_memory(error, memory, size, imd_stream_name(stream), options);
    }
    uint8_t *data = imd_stream_read_all(error, stream, 0, &size);
    if (data == NULL) {
        return NULL;
    }
    ImdDicomBuffer *buffer = imd__dicom_buffer_create(error, data, size, NULL, NULL);
    if (buffer == NULL) {
        free(data);
        return NULL;
    }
    return parse_buffer(error, buffer, imd_stream_name(stream), options);
}
