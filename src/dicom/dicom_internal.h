/*
 * dicom_internal.h: the layout of DICOM data sets, shared by the files of
 * src/dicom. Not installed. A codec file never includes a model header.
 */
#ifndef IMAGEDATA_DICOM_INTERNAL_H
#define IMAGEDATA_DICOM_INTERNAL_H

#include "internal.h"
#include "private_tags.h"
#include "tags.h" /* IMD_TAG_<Keyword> for every keyword of the dictionary (generated) */

#include <stdatomic.h>

#define IMD_DICOM_UNDEFINED_LENGTH 0xffffffffu
/* The groups the standard reserves (PS3.5 §7.1, §7.5): the file meta group and the
 * items and delimiters' group. */
#define IMD_GROUP_FILE_META 0x0002u
#define IMD_GROUP_ITEMS 0xfffeu

/*
 * The bytes a data set was read from, shared by the data set, its items and
 * its clones, so that large values (pixel data) are never copied. Freed when
 * the last user lets go.
 */
typedef struct ImdDicomBuffer {
    atomic_size_t references;
    uint8_t *data; /* owned: freed with `release`, or free() when release is NULL */
    size_t size;
    void (*release)(void *data, void *user);
    void *user;
} ImdDicomBuffer;

ImdDicomBuffer *imd__dicom_buffer_create(ImdError **error, uint8_t *data, size_t size,
                                         void (*release)(void *data, void *user), void *user);
ImdDicomBuffer *imd__dicom_buffer_retain(ImdDicomBuffer *buffer);
void imd__dicom_buffer_release(ImdDicomBuffer *buffer);

typedef struct ImdDicomFragment {
    const uint8_t *data; /* into the data set's buffer, or owned when the element owns its bytes */
    size_t size;
} ImdDicomFragment;

struct ImdDicomElement {
    uint32_t tag;
    ImdVR vr;
    const uint8_t *value; /* little-endian bytes; NULL when empty */
    size_t size;
    bool owned; /* value was malloc'd for this element (byte-swapped, built, inflated) */
    ImdDicomDataSet **items; /* SQ */
    size_t item_count;
    ImdDicomFragment *fragments; /* encapsulated: [0] is the basic offset table */
    size_t fragment_count;
    bool encapsulated;
};

struct ImdDicomDataSet {
    ImdDicomElement *elements; /* ascending tags */
    size_t count, capacity;
    const ImdDicomDataSet *parent; /* items: the data set holding the sequence */
    const ImdDicomDataSet *fallback; /* a frame's view: where missing elements are found */
    ImdDicomBuffer *buffer;        /* keeps borrowed values alive; may be NULL */
    ImdDicomDataSet *meta;         /* file meta group, top level only */
    char transfer_syntax[65];
    size_t parsed_bytes; /* top level: bytes of the buffer parsed (a header scan stops early) */
    char **warnings; /* top level only */
    size_t warning_count, warning_capacity;
};

/* dataset.c */
/* Insert or replace an element, taking its contents (value, items, fragments). */
bool imd__dicom_dataset_put(ImdError **error, ImdDicomDataSet *dataset, ImdDicomElement *element);
/* Append in file order; imd__dicom_dataset_sort() restores ascending order after parsing. */
bool imd__dicom_dataset_append(ImdError **error, ImdDicomDataSet *dataset,
                               ImdDicomElement *element);
void imd__dicom_dataset_sort(ImdDicomDataSet *dataset);
/* The block (xx00) that `creator` reserves in private group `group` (PS3.5 §7.8.1):
 * (gggg,00xx) holds the creator, its elements are (gggg,xx10-xxFF); 0 when absent. */
uint16_t imd__dicom_private_block(const ImdDicomDataSet *dataset, uint16_t group,
                                  const char *creator);
/* The block the creator of a private element (private_tags.h) reserves; 0 when absent. */
uint16_t imd__dicom_private_block_of(const ImdDicomDataSet *dataset, ImdPrivateTag tag);
/* The tag a private element has in this data set, (gggg,xxEE); 0 when its creator is absent. */
uint32_t imd__dicom_private_tag(const ImdDicomDataSet *dataset, ImdPrivateTag tag);
void imd__dicom_element_free(ImdDicomElement *element);
void imd__dicom_warn(ImdDicomDataSet *top, const char *format, ...) IMD_PRINTF(2, 3);
/*
 * Make `view` answer imd_dicom_dataset_find() for tags it lacks from
 * `fallback` (one frame of a multi-frame file: its own values, then the
 * file's). Iteration (count/element) sees only the view's own elements.
 * `fallback` must outlive every lookup through `view`.
 */
void imd__dicom_dataset_set_fallback(ImdDicomDataSet *view, const ImdDicomDataSet *fallback);
/* Let the pages of a mapped file go from memory (they come back when touched). */
void imd__dicom_dataset_drop_pages(const ImdDicomDataSet *dataset);
/*
 * The bytes of its buffer before the pixel data's value (those parsed
 * when it has none): the encoded header, which bounds what its parsed
 * elements hold. 0 without a buffer.
 */
size_t imd__dicom_dataset_header_bytes(const ImdDicomDataSet *dataset);
void imd__dicom_buffer_drop_pages(const ImdDicomBuffer *buffer);
/* A buffer over a file's mapping (imd__stream_take_mapping), unmapped with its
 * last reference; on failure the mapping is unmapped at once. */
ImdDicomBuffer *imd__dicom_buffer_of_mapping(ImdError **error, uint8_t *data, size_t size);
/* Parse the bytes of `buffer` (the caller keeps its reference; the data set
 * takes its own), as imd_dicom_read_file() parses a file: `name` in messages. */
ImdDicomDataSet *imd__dicom_read_buffer(ImdError **error, ImdDicomBuffer *buffer,
                                        const char *name, const ImdDicomReadOptions *options);
/* The Specific Character Set in force for a data set (from it or its parents); NULL: default. */
const ImdDicomElement *imd__dicom_charset_element(const ImdDicomDataSet *dataset);

/* charset.c */
/*
 * Decode `size` bytes of a text value of VR `vr` to UTF-8, with the Specific
 * Character Set value `charsets` (the raw text of (0008,0005), values
 * separated by '\'; NULL or "" for the default repertoire, ISO_IR 6).
 * Handles single-byte sets, ISO_IR 192, GB18030, GBK and ISO 2022 code
 * extensions with escape sequences (PS3.5 §6.1, Annex H, I, J, K); for PN the
 * component groups ('=') and for multi-valued VRs the values ('\') reset to
 * the initial code element. Bytes that cannot be decoded become U+FFFD, and
 * bytes not valid in the declared set are decoded by pydicom's fallbacks
 * (Latin-1 for stray 8-bit bytes, Shift_JIS in ISO_IR 13); in both cases
 * *replaced is set when `replaced` is given. Never fails on content; only on
 * memory. Release with free().
 */
char *imd__dicom_decode_text(ImdError **error, const uint8_t *bytes, size_t size,
                             const char *charsets, ImdVR vr, bool *replaced);

/* parse.c: parse bytes the data set takes over (free()d with it, or on failure). */
ImdDicomDataSet *imd__dicom_read_owned(ImdError **error, uint8_t *data, size_t size,
                                       const char *name, const ImdDicomReadOptions *options);

/* The VR's properties (vr.c). */
bool imd__dicom_vr_has_long_length(ImdVR vr); /* 4-byte length in explicit VR (OB OW SQ UT ...) */
uint8_t imd__dicom_vr_pad(ImdVR vr);          /* ' ' for text, '\0' for UI and binary */
size_t imd__dicom_vr_unit(ImdVR vr);          /* bytes per binary value (2 US, 8 FD...), 1 text */

#endif
