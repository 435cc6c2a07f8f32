/*
 * write.c: data sets to Part 10 files (PS3.10 §7.1): preamble, "DICM", the
 * file meta group (PS3.10 §7.1, Table 7.1-1), then the data set in Explicit
 * or Implicit VR Little Endian. Values are padded to even length with the
 * VR's pad byte (PS3.5 §7.1.1); sequences and items are written with
 * undefined length and delimiters, which every reader accepts.
 */
#include "dicom/codec.h"

#include <stdio.h>
#include <zlib.h>

/* A 2.25 UID made once for imagedata (PS3.5 §B.2); names our implementation. */
#define IMPLEMENTATION_CLASS_UID "2.25.145306289640711235384622394312380416533"
#define OUTPUT_CHUNK ((size_t)1 << 16)

typedef struct Writer {
    ImdError **error;
    ImdStream *stream;
    bool implicit;
    uint8_t *pending; /* small writes are gathered here */
    size_t used;
    bool failed;
    z_stream *deflate;  /* Deflated Explicit VR LE: the data set goes through it */
    uint8_t *deflated;  /* its output chunk */
    uint64_t deflated_total;
} Writer;

/* Deflate `size` bytes (or finish the stream) and write what comes out. */
static void deflate_out(Writer *w, const uint8_t *data, size_t size, bool finish)
{
    z_stream *z = w->deflate;
    z->next_in = (Bytef *)(uintptr_t)data;
    z->avail_in = (uInt)size;
    int status;
    do {
        z->next_out = w->deflated;
        z->avail_out = (uInt)OUTPUT_CHUNK;
        status = deflate(z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (status == Z_STREAM_ERROR) {
            imd_error_set(w->error, IMD_ERR_INTERNAL, "%s: deflate failed",
                          imd_stream_name(w->stream));
            w->failed = true;
            return;
        }
        size_t made = OUTPUT_CHUNK - z->avail_out;
        w->deflated_total += made;
        if (made > 0 && !imd_stream_write(w->error, w->stream, w->deflated, made)) {
            w->failed = true;
            return;
        }
    } while (z->avail_out == 0 || (finish && status != Z_STREAM_END));
}

/* Bytes to the stream, or through deflate; `size` may exceed what a uInt holds. */
static void sink(Writer *w, const uint8_t *data, size_t size)
{
    if (w->failed) {
        return;
    }
    if (w->deflate == NULL) {
        if (!imd_stream_write(w->error, w->stream, data, size)) {
            w->failed = true;
        }
        return;
    }
    while (size > 0 && !w->failed) {
        size_t n = size > ((size_t)1 << 30) ? ((size_t)1 << 30) : size;
        deflate_out(w, data, n, false);
        data += n;
        size -= n;
    }
}

static void flush(Writer *w)
{
    if (w->used > 0) {
        sink(w, w->pending, w->used);
    }
    w->used = 0;
}

static void put(Writer *w, const void *data, size_t size)
{
    if (w->failed || size == 0) {
        return;
    }
    if (size >= OUTPUT_CHUNK) {
        /* Large values (pixel data) go straight to the stream (or deflate). */
        flush(w);
        sink(w, data, size);
        return;
    }
    if (w->used + size > OUTPUT_CHUNK) {
        flush(w);
    }
    memcpy(w->pending + w->used, data, size);
    w->used += size;
}

static void put_u16(Writer *w, uint16_t value)
{
    uint8_t b[2] = {(uint8_t)value, (uint8_t)(value >> 8)};
    put(w, b, 2);
}

static void put_u32(Writer *w, uint32_t value)
{
    uint8_t b[4] = {(uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16),
                    (uint8_t)(value >> 24)};
    put(w, b, 4);
}

static void put_tag(Writer *w, uint32_t tag)
{
    put_u16(w, IMD_TAG_GROUP(tag));
    put_u16(w, IMD_TAG_ELEMENT(tag));
}

/* The VR to write: dictionary choices become their usual concrete VR. */
static ImdVR concrete_vr(const ImdDicomElement *element)
{
    switch (element->vr) {
    case IMD_VR_OB_OW:
    case IMD_VR_US_SS_OW:
        return IMD_VR_OW;
    case IMD_VR_US_SS:
        return IMD_VR_US;
    default:
        return element->item_count > 0 ? IMD_VR_SQ : element->vr;
    }
}

static bool put_header(Writer *w, uint32_t tag, ImdVR vr, uint32_t length)
{
    put_tag(w, tag);
    if (w->implicit) {
        put_u32(w, length);
        return true;
    }
    const char *name = imd_dicom_vr_name(vr);
    put(w, name, 2);
    if (imd__dicom_vr_has_long_length(vr)) {
        put_u16(w, 0);
        put_u32(w, length);
        return true;
    }
    if (length > 0xfffe) {
        imd_error_set(w->error, IMD_ERR_INVALID_ARG,
                      "(%04X,%04X): a %s value of %u bytes does not fit its 16-bit length",
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag), name, length);
        w->failed = true;
        return false;
    }
    put_u16(w, (uint16_t)length);
    return true;
}

static void put_dataset(Writer *w, const ImdDicomDataSet *dataset, bool top);

static void put_sequence(Writer *w, const ImdDicomElement *element)
{
    if (!put_header(w, element->tag, IMD_VR_SQ, IMD_DICOM_UNDEFINED_LENGTH)) {
        return;
    }
    for (size_t i = 0; i < element->item_count; i++) {
        put_tag(w, IMD_TAG_Item);
        put_u32(w, IMD_DICOM_UNDEFINED_LENGTH);
        put_dataset(w, element->items[i], false);
        put_tag(w, IMD_TAG_ItemDelimitationItem);
        put_u32(w, 0);
    }
    put_tag(w, IMD_TAG_SequenceDelimitationItem);
    put_u32(w, 0);
}

static void put_fragments(Writer *w, const ImdDicomElement *element)
{
    if (!put_header(w, element->tag, IMD_VR_OB, IMD_DICOM_UNDEFINED_LENGTH)) {
        return;
    }
    for (size_t i = 0; i < element->fragment_count; i++) {
        const ImdDicomFragment *f = &element->fragments[i];
        size_t padded = f->size + (f->size & 1u);
        put_tag(w, IMD_TAG_Item);
        put_u32(w, (uint32_t)padded);
        put(w, f->data, f->size);
        put(w, "\0", padded - f->size);
    }
    put_tag(w, IMD_TAG_SequenceDelimitationItem);
    put_u32(w, 0);
}

static void put_element(Writer *w, const ImdDicomElement *element)
{
    ImdVR vr = concrete_vr(element);
    if (vr == IMD_VR_SQ) {
        put_sequence(w, element);
        return;
    }
    if (element->encapsulated) {
        put_fragments(w, element);
        return;
    }
    size_t size = element->value != NULL ? element->size : 0;
    size_t padded = size + (size & 1u);
    if (padded > 0xfffffffeu) {
        imd_error_set(w->error, IMD_ERR_INVALID_ARG, "(%04X,%04X): value of %zu bytes too long",
                      IMD_TAG_GROUP(element->tag), IMD_TAG_ELEMENT(element->tag), size);
        w->failed = true;
        return;
    }
    if (!put_header(w, element->tag, vr, (uint32_t)padded)) {
        return;
    }
    put(w, element->value, size);
    if (padded != size) {
        uint8_t pad = imd__dicom_vr_pad(vr);
        put(w, &pad, 1);
    }
}

static void put_dataset(Writer *w, const ImdDicomDataSet *dataset, bool top)
{
    for (size_t i = 0; i < dataset->count && !w->failed; i++) {
        const ImdDicomElement *element = &dataset->elements[i];
        uint16_t group = IMD_TAG_GROUP(element->tag);
        /* The meta group is made anew; group lengths of a changed data set would be
         * stale and are optional (PS3.5 §7.2), so they are left out. */
        if ((top && group == IMD_GROUP_FILE_META) || IMD_TAG_ELEMENT(element->tag) == 0x0000) {
            continue;
        }
        put_element(w, element);
    }
}

/* A UID (PS3.5 §9.1): 1 to 64 characters of digits and dots, padding removed. */
static bool valid_uid(const ImdDicomElement *element, char out[65])
{
    size_t n = element->size;
    while (n > 0 && (element->value[n - 1] == '\0' || element->value[n - 1] == ' ')) {
        n--;
    }
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = element->value[i];
        if (!(c == '.' || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    memcpy(out, element->value, n);
    out[n] = '\0';
    return true;
}

/* The meta group's elements, in a data set of their own. */
static ImdDicomDataSet *make_meta(ImdError **error, const ImdDicomDataSet *dataset,
                                  const char *transfer_syntax)
{
    const ImdDicomElement *sop_class = imd_dicom_dataset_find(dataset, IMD_TAG_SOPClassUID);
    const ImdDicomElement *sop_instance = imd_dicom_dataset_find(dataset, IMD_TAG_SOPInstanceUID);
    if (sop_class == NULL || sop_instance == NULL || sop_class->value == NULL ||
        sop_instance->value == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "a Part 10 file needs SOPClassUID and SOPInstanceUID in the data set");
        return NULL;
    }
    char class_uid[65], instance_uid[65];
    if (!valid_uid(sop_class, class_uid) || !valid_uid(sop_instance, instance_uid)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "SOPClassUID or SOPInstanceUID is not a valid UID (PS3.5 §9.1)");
        return NULL;
    }
    ImdDicomDataSet *meta = imd_dicom_dataset_create(error);
    static const uint8_t version[2] = {0x00, 0x01};
    bool ok = meta != NULL &&
              imd_dicom_dataset_set_bytes(error, meta, IMD_TAG_FileMetaInformationVersion,
                                          IMD_VR_OB, version, 2) &&
              imd_dicom_dataset_set_string(error, meta, IMD_TAG_MediaStorageSOPClassUID, IMD_VR_UI,
                                           class_uid) &&
              imd_dicom_dataset_set_string(error, meta, IMD_TAG_MediaStorageSOPInstanceUID,
                                           IMD_VR_UI, instance_uid) &&
              imd_dicom_dataset_set_string(error, meta, IMD_TAG_TransferSyntaxUID, IMD_VR_UI,
                                           transfer_syntax) &&
              imd_dicom_dataset_set_string(error, meta, IMD_TAG_ImplementationClassUID, IMD_VR_UI,
                                           IMPLEMENTATION_CLASS_UID) &&
              imd_dicom_dataset_set_string(error, meta, IMD_TAG_ImplementationVersionName,
                                           IMD_VR_SH, IMD_IMPLEMENTATION_VERSION_NAME);
    if (!ok) {
        imd_dicom_dataset_destroy(meta);
        return NULL;
    }
    return meta;
}

/* Group length (0002,0000): the bytes of the meta elements after it (PS3.10 §7.1). */
static uint32_t meta_length(const ImdDicomDataSet *meta)
{
    uint32_t total = 0;
    for (size_t i = 0; i < meta->count; i++) {
        const ImdDicomElement *e = &meta->elements[i];
        uint32_t padded = (uint32_t)(e->size + (e->size & 1u));
        total += (imd__dicom_vr_has_long_length(e->vr) ? 12u : 8u) + padded;
    }
    return total;
}

static void put_meta(Writer *w, const ImdDicomDataSet *meta)
{
    static const uint8_t preamble[128];
    put(w, preamble, sizeof preamble);
    put(w, "DICM", 4);
    bool implicit = w->implicit;
    w->implicit = false; /* the meta group is always explicit VR LE */
    put_header(w, IMD_TAG_FileMetaInformationGroupLength, IMD_VR_UL, 4);
    put_u32(w, meta_length(meta));
    for (size_t i = 0; i < meta->count; i++) {
        put_element(w, &meta->elements[i]);
    }
    w->implicit = implicit;
}

/* Is Pixel Data (top level) encapsulated; absent counts as both. */
static bool pixel_data_is(const ImdDicomDataSet *dataset, bool encapsulated)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(dataset, IMD_TAG_PixelData);
    return e == NULL || e->encapsulated == encapsulated;
}

bool imd_dicom_write(ImdError **error, const ImdDicomDataSet *dataset, ImdStream *stream,
                     const ImdDicomWriteOptions *options)
{
    const char *syntax = options != NULL && options->transfer_syntax != NULL
                             ? options->transfer_syntax
                             : IMD_UID_EXPLICIT_VR_LE;
    if (dataset == NULL || stream == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "DICOM write: no data set or stream");
        return false;
    }
    bool deflated = strcmp(syntax, IMD_UID_DEFLATED_EXPLICIT_VR_LE) == 0;
    bool native = strcmp(syntax, IMD_UID_EXPLICIT_VR_LE) == 0 ||
                  strcmp(syntax, IMD_UID_IMPLICIT_VR_LE) == 0 || deflated;
    /* An encapsulated syntax (PS3.5 A.4) is written as Explicit VR LE around the
     * fragments the data set already holds (imd__codec_encode_pixel_data makes them). */
    if (!native && !(imd__codec_is_encapsulated(syntax) &&
                     imd__codec_syntax_name(syntax) != NULL)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "%s: writing transfer syntax %s is not supported (only %s, %s, %s and "
                      "encapsulated syntaxes)",
                      imd_stream_name(stream), syntax, IMD_UID_EXPLICIT_VR_LE,
                      IMD_UID_IMPLICIT_VR_LE, IMD_UID_DEFLATED_EXPLICIT_VR_LE);
        return false;
    }
    if (!native && !pixel_data_is(dataset, true)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "%s: transfer syntax %s needs encapsulated Pixel Data (encode it first)",
                      imd_stream_name(stream), syntax);
        return false;
    }
    bool no_meta = options != NULL && options->no_meta;
    ImdDicomDataSet *meta = no_meta ? NULL : make_meta(error, dataset, syntax);
    if (!no_meta && meta == NULL) {
        return false;
    }
    Writer w = {.error = error, .stream = stream,
                .implicit = strcmp(syntax, IMD_UID_IMPLICIT_VR_LE) == 0};
    z_stream z;
    w.pending = imd__malloc(error, OUTPUT_CHUNK);
    if (w.pending != NULL && deflated) {
        w.deflated = imd__malloc(error, OUTPUT_CHUNK);
        memset(&z, 0, sizeof z);
        /* Raw deflate, no zlib header (PS3.5 A.5, RFC 1951). */
        if (w.deflated != NULL &&
            deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            imd_error_set(error, IMD_ERR_NOMEM, "%s: cannot start deflate",
                          imd_stream_name(stream));
            free(w.deflated);
            w.deflated = NULL;
        }
    }
    if (w.pending == NULL || (deflated && w.deflated == NULL)) {
        free(w.pending);
        imd_dicom_dataset_destroy(meta);
        return false;
    }
    if (meta != NULL) {
        put_meta(&w, meta);
    }
    flush(&w); /* the meta group is never deflated */
    w.deflate = deflated ? &z : NULL;
    put_dataset(&w, dataset, true);
    flush(&w);
    if (deflated) {
        if (!w.failed) {
            deflate_out(&w, NULL, 0, true);
        }
        /* An odd deflated stream gets one trailing zero byte (PS3.5 A.5). */
        if (!w.failed && w.deflated_total % 2 != 0 &&
            !imd_stream_write(error, stream, "\0", 1)) {
            w.failed = true;
        }
        deflateEnd(&z);
        free(w.deflated);
    }
    free(w.pending);
    imd_dicom_dataset_destroy(meta);
    return !w.failed;
}
