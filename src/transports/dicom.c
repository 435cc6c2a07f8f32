/*
 * dicom.c: the "dicom" transport, a DICOM node as an output (issue 17):
 * dicom://host:port/AET. Each data set the DICOM writer hands over
 * (put_dataset) is sent as a C-STORE on ONE association per write, opened
 * at the first data set; close() releases it and reports.
 *
 * Presentation contexts (PS3.8 §9.3.2.2, PS3.4 Annex B): the first data
 * set's SOP class with its transfer syntax (when compressed) in a context
 * of its own, and with Explicit and Implicit VR Little Endian in another,
 * then the storage classes the original proposed (CT, MR, CR, US, US
 * multi-frame, SC, XA, RF, NM, Parametric Map) with both uncompressed
 * syntaxes, so that later data sets of another class of the same series
 * find one. A data set whose class has no accepted context fails alone.
 *
 * The report: every instance's status (success, warning with its code,
 * failure with its code and Error Comment) is logged as it arrives
 * (failures at IMD_LOG_SKIPPED: the result is partial, image_data exits 8;
 * warnings at IMD_LOG_WARNING), and close() or abort() log the summary
 * "N sent, N warnings, N failed" at IMD_LOG_RESULT with the failed
 * SOPInstanceUIDs. A broken association (refused, rejected, aborted, timed
 * out) fails the write with NETWORK or PROTOCOL (exit 7); the instances
 * accepted before it are counted in the summary, the one in flight is not.
 *
 * Reading (C-FIND, C-GET, C-MOVE) is part 2 of the issue: UNSUPPORTED.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include "dicom/codec.h"
#include "net/net.h"

#include <math.h>
#include <stdio.h>

/* Storage SOP classes proposed besides the first data set's (behaviour.md §7.2). */
static const char *const storage_classes[] = {
    "1.2.840.10008.5.1.4.1.1.2",    /* CT Image Storage */
    "1.2.840.10008.5.1.4.1.1.4",    /* MR Image Storage */
    "1.2.840.10008.5.1.4.1.1.1",    /* Computed Radiography Image Storage */
    "1.2.840.10008.5.1.4.1.1.6.1",  /* Ultrasound Image Storage */
    "1.2.840.10008.5.1.4.1.1.3.1",  /* Ultrasound Multi-frame Image Storage */
    "1.2.840.10008.5.1.4.1.1.7",    /* Secondary Capture Image Storage */
    "1.2.840.10008.5.1.4.1.1.12.1", /* X-Ray Angiographic Image Storage */
    "1.2.840.10008.5.1.4.1.1.12.2", /* X-Ray Radiofluoroscopic Image Storage */
    "1.2.840.10008.5.1.4.1.1.20",   /* Nuclear Medicine Image Storage */
    "1.2.840.10008.5.1.4.1.1.30",   /* Parametric Map Storage */
};

typedef struct Failed {
    char uid[IMD_NET_UID];
} Failed;

typedef struct DicomTransport {
    ImdTransport base;
    char *host;
    int port;
    char called[17], calling[17];
    ImdNetTimeouts timeouts;
    uint32_t max_pdu;
    char *username, *password;
    ImdAssociation *association;
    bool broken; /* the association failed: no further data set is sent */
    size_t sent, warnings, failed;
    Failed *failures;
    size_t failure_capacity;
    bool reported;
} DicomTransport;

/* ---- options ---- */

static bool get_seconds(ImdError **error, const ImdOptions *options, const char *key,
                        int fallback_ms, int *ms)
{
    double seconds = 0;
    if (!imd_options_get_double(error, options, key, fallback_ms / 1000.0, &seconds)) {
        return false;
    }
    if (!(seconds > 0) || seconds > 86400) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "option \"%s\": %g is not a timeout (more than 0, at most 86400 seconds)",
                      key, seconds);
        return false;
    }
    *ms = (int)ceil(seconds * 1000);
    return true;
}

static bool valid_aet(const char *aet)
{
    size_t n = strlen(aet);
    bool blank = true;
    for (size_t i = 0; i < n; i++) {
        if (aet[i] < 0x20 || aet[i] > 0x7e || aet[i] == '\\') {
            return false; /* PS3.5 §6.2: AE, no control characters or backslash */
        }
        blank = blank && aet[i] == ' ';
    }
    return n > 0 && n <= 16 && !blank;
}

static bool read_options(ImdError **error, DicomTransport *t, const ImdOptions *options)
{
    const char *calling = imd_options_get(options, "calling_aet", "IMAGEDATA");
    if (!valid_aet(calling)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "option \"calling_aet\": \"%s\" is not an AE title (1 to 16 characters, "
                      "no backslash or control characters, PS3.5 §6.2)",
                      calling);
        return false;
    }
    snprintf(t->calling, sizeof t->calling, "%s", calling);
    int64_t max_pdu = 0;
    if (!get_seconds(error, options, "net_connect_timeout", IMD_NET_DEFAULT_CONNECT_MS,
                     &t->timeouts.connect_ms) ||
        !get_seconds(error, options, "net_association_timeout", IMD_NET_DEFAULT_ASSOCIATION_MS,
                     &t->timeouts.association_ms) ||
        !get_seconds(error, options, "net_dimse_timeout", IMD_NET_DEFAULT_DIMSE_MS,
                     &t->timeouts.dimse_ms) ||
        !get_seconds(error, options, "net_idle_timeout", IMD_NET_DEFAULT_IDLE_MS,
                     &t->timeouts.idle_ms) ||
        !imd_options_get_int(error, options, "net_max_pdu", IMD_PDU_DEFAULT_MAX, &max_pdu)) {
        return false;
    }
    if (max_pdu < (int64_t)IMD_PDU_MIN_LENGTH || max_pdu > (int64_t)IMD_PDU_LARGEST_MAX) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "option \"net_max_pdu\": %lld is out of range (%u to %u bytes)",
                      (long long)max_pdu, IMD_PDU_MIN_LENGTH, IMD_PDU_LARGEST_MAX);
        return false;
    }
    t->max_pdu = (uint32_t)max_pdu;
    const char *user = imd_options_get(options, "net_username", NULL);
    const char *password = imd_options_get(options, "net_password", NULL);
    if (password != NULL && user == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"net_password\" needs \"net_username\"");
        return false;
    }
    if (user != NULL && (strlen(user) > 0xff00 || (password != NULL && strlen(password) > 0xff00))) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"net_username\": too long");
        return false;
    }
    t->username = user != NULL ? imd__strdup(error, user) : NULL;
    t->password = password != NULL ? imd__strdup(error, password) : NULL;
    return (user == NULL || t->username != NULL) && (password == NULL || t->password != NULL);
}

/* ---- the association ---- */

static void add_context(ImdNetAssociate *rq, const char *abstract, const char *const *syntaxes,
                        size_t count)
{
    if (rq->context_count == IMD_NET_MAX_CONTEXTS) {
        return;
    }
    ImdNetContext *pc = &rq->contexts[rq->context_count];
    pc->id = (uint8_t)(2 * rq->context_count + 1); /* odd IDs (PS3.8 §9.3.2.2) */
    snprintf(pc->abstract_syntax, sizeof pc->abstract_syntax, "%s", abstract);
    for (size_t i = 0; i < count && i < IMD_NET_MAX_SYNTAXES; i++) {
        snprintf(pc->transfer_syntaxes[i], IMD_NET_UID, "%s", syntaxes[i]);
    }
    pc->transfer_syntax_count = count;
    rq->context_count++;
}

/* The request every association of this transport makes; `sop_class` and
 * `syntax` from the first data set (NULL: only verification, for an echo). */
static ImdNetAssociate *make_request(ImdError **error, const DicomTransport *t,
                                     const char *sop_class, const char *syntax)
{
    ImdNetAssociate *rq = imd__calloc(error, 1, sizeof *rq);
    if (rq == NULL) {
        return NULL;
    }
    snprintf(rq->called_aet, sizeof rq->called_aet, "%s", t->called);
    snprintf(rq->calling_aet, sizeof rq->calling_aet, "%s", t->calling);
    rq->max_length = t->max_pdu;
    static const char *const native[] = {IMD_UID_EXPLICIT_VR_LE, IMD_UID_IMPLICIT_VR_LE};
    if (sop_class != NULL) {
        if (imd__codec_is_encapsulated(syntax)) {
            add_context(rq, sop_class, &syntax, 1);
        }
        add_context(rq, sop_class, native, 2);
        for (size_t i = 0; i < sizeof storage_classes / sizeof storage_classes[0]; i++) {
            if (strcmp(storage_classes[i], sop_class) != 0) {
                add_context(rq, storage_classes[i], native, 2);
            }
        }
    }
    add_context(rq, IMD_NET_VERIFICATION_SOP_CLASS, native + 1, 1);
    if (t->username != NULL) {
        /* PS3.7 D.3.3.7: type 1 username, 2 username and passcode. */
        rq->identity_type = t->password != NULL ? 2 : 1;
        rq->identity_primary = t->username;
        rq->identity_primary_length = strlen(t->username);
        rq->identity_secondary = t->password;
        rq->identity_secondary_length = t->password != NULL ? strlen(t->password) : 0;
    }
    return rq;
}

static ImdAssociation *associate(ImdError **error, const DicomTransport *t, const char *sop_class,
                                 const char *syntax)
{
    ImdNetAssociate *rq = make_request(error, t, sop_class, syntax);
    if (rq == NULL) {
        return NULL;
    }
    ImdAssociation *a = imd__association_open(error, t->host, t->port, rq, &t->timeouts,
                                              t->base.name);
    free(rq); /* the identity strings are the transport's */
    if (a != NULL) {
        const ImdNetAssociate *ac = imd__association_accepted(a);
        imd__log(imd__context_current(), IMD_LOG_INFO,
                 "%s: association accepted (%s as %s; the peer receives PDUs of up to %u bytes, "
                 "implementation %s %s)",
                 t->base.name, t->calling, t->called, ac->max_length, ac->implementation_class_uid,
                 ac->implementation_version);
    }
    return a;
}

/* ---- sending ---- */

static const char *text_of(const ImdDicomDataSet *dataset, uint32_t tag, char out[IMD_NET_UID])
{
    const ImdDicomElement *e = imd_dicom_dataset_find(dataset, tag);
    size_t n = e != NULL && e->value != NULL ? e->size : 0;
    while (n > 0 && (e->value[n - 1] == ' ' || e->value[n - 1] == '\0')) {
        n--;
    }
    if (n == 0 || n >= IMD_NET_UID) {
        return NULL;
    }
    memcpy(out, e->value, n);
    out[n] = '\0';
    return out;
}

/* The data set's bytes in `syntax`, without the file meta group (PS3.7 §9.3.1.1). */
static bool encode(ImdError **error, const ImdDicomDataSet *dataset, const char *syntax,
                   uint8_t **bytes, size_t *size, const char *name)
{
    ImdStream *stream = imd_stream_open_buffer(error, name);
    if (stream == NULL) {
        return false;
    }
    ImdDicomWriteOptions options = {syntax, true};
    if (!imd_dicom_write(error, dataset, stream, &options)) {
        imd_stream_abort(stream);
        return false;
    }
    *bytes = imd_stream_buffer_take(stream, size);
    imd_stream_abort(stream);
    if (*bytes == NULL && *size > 0) {
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", name);
        return false;
    }
    return true;
}

/* An integer attribute of an image, `fallback` when absent. */
static bool image_int(ImdError **error, const ImdDicomDataSet *dataset, uint32_t tag,
                      int64_t fallback, int64_t low, int64_t high, int64_t *value, const char *name)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(dataset, tag);
    *value = fallback;
    if (e != NULL && imd_dicom_element_vm(e) > 0 && !imd_dicom_element_int(error, e, 0, value)) {
        return false;
    }
    if (*value < low || *value > high) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: (%04X,%04X) %s %lld out of range", name,
                      tag >> 16, tag & 0xffffu, imd_dicom_keyword(tag), (long long)*value);
        return false;
    }
    return true;
}

/*
 * A copy of `dataset` with its encapsulated Pixel Data (in `uid`) decoded
 * to native, for a peer that accepts only uncompressed syntaxes: every
 * frame through the codec table (src/dicom/codec.c) into OB/OW (PS3.5
 * §8.1.1, §8.2), Photometric Interpretation and Planar Configuration as the
 * codec delivers them (interleaved samples).
 */
static ImdDicomDataSet *decompress(ImdError **error, const ImdDicomDataSet *dataset,
                                   const char *uid, const char *name)
{
    const ImdCodec *codec = imd__codec_find(error, uid);
    const ImdDicomElement *pixel_data = imd_dicom_dataset_find(dataset, IMD_TAG_PixelData);
    if (codec == NULL) {
        return NULL;
    }
    if (pixel_data == NULL || !pixel_data->encapsulated || pixel_data->fragment_count < 1) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: no encapsulated pixel data to decode", name);
        return NULL;
    }
    int64_t rows, columns, samples, bits, stored, sign, planar, frames;
    if (!image_int(error, dataset, IMD_TAG_Rows, 0, 1, 65535, &rows, name) ||
        !image_int(error, dataset, IMD_TAG_Columns, 0, 1, 65535, &columns, name) ||
        !image_int(error, dataset, IMD_TAG_SamplesPerPixel, 1, 1, 3, &samples, name) ||
        !image_int(error, dataset, IMD_TAG_BitsAllocated, 16, 8, 32, &bits, name) ||
        !image_int(error, dataset, IMD_TAG_BitsStored, bits, 1, bits, &stored, name) ||
        !image_int(error, dataset, IMD_TAG_PixelRepresentation, 0, 0, 1, &sign, name) ||
        !image_int(error, dataset, IMD_TAG_PlanarConfiguration, 0, 0, 1, &planar, name) ||
        !image_int(error, dataset, IMD_TAG_NumberOfFrames, 1, 1, 1 << 24, &frames, name)) {
        return NULL;
    }
    ImdCodecFrame frame = {(uint32_t)rows, (uint32_t)columns, (uint16_t)samples, (uint16_t)bits,
                           (uint16_t)stored, (uint16_t)sign, (uint16_t)planar, ""};
    char photometric[IMD_NET_UID] = "";
    (void)text_of(dataset, IMD_TAG_PhotometricInterpretation, photometric);
    snprintf(frame.photometric, sizeof frame.photometric, "%.16s", photometric);
    size_t frame_bytes = 0, total = 0;
    if (!imd__codec_frame_bytes(error, &frame, &frame_bytes) ||
        !imd__mul_size(frame_bytes, (size_t)frames, &total)) {
        imd_error_prefix(error, "%s: ", name);
        return NULL;
    }
    if (!imd__check_alloc(error, NULL, total, name)) {
        return NULL;
    }
    uint8_t *native = imd__malloc(error, total > 0 ? total : 1);
    if (native == NULL) {
        return NULL;
    }
    ImdEncapInput input = {0};
    input.fragments = pixel_data->fragments + 1;
    input.fragment_count = pixel_data->fragment_count - 1;
    input.basic_offsets = imd_dicom_element_offset_table(pixel_data, &input.basic_size);
    input.frames = (size_t)frames;
    input.is_frame_start = codec->is_frame_start;
    ImdCodecFrame decoded = frame;
    bool ok = true;
    for (size_t f = 0; ok && f < (size_t)frames; f++) {
        ImdEncapFrame located;
        decoded = frame;
        ok = imd__encap_locate(error, &input, f, &located) &&
             codec->decode(error, located.data, located.size, &decoded, native + f * frame_bytes,
                           frame_bytes);
        if (ok) {
            free(located.owned);
        }
    }
    ImdDicomDataSet *copy = ok ? imd_dicom_dataset_clone(error, dataset) : NULL;
    decoded.photometric[sizeof decoded.photometric - 1] = '\0';
    double zero = 0;
    ok = copy != NULL &&
         imd_dicom_dataset_set_bytes(error, copy, IMD_TAG_PixelData,
                                     bits > 8 ? IMD_VR_OW : IMD_VR_OB, native, total) &&
         imd_dicom_dataset_set_string(error, copy, IMD_TAG_PhotometricInterpretation, IMD_VR_CS,
                                      decoded.photometric) &&
         (samples == 1 ||
          imd_dicom_dataset_set_numbers(error, copy, IMD_TAG_PlanarConfiguration, IMD_VR_US,
                                        &zero, 1));
    free(native);
    if (!ok) {
        imd_error_prefix(error, "%s: decoding for sending: ", name);
        imd_dicom_dataset_destroy(copy);
        return NULL;
    }
    (void)imd_dicom_dataset_remove(copy, IMD_TAG_ExtendedOffsetTable);
    (void)imd_dicom_dataset_remove(copy, IMD_TAG_ExtendedOffsetTableLengths);
    return copy;
}

static bool record_failure(ImdError **error, DicomTransport *t, const char *uid)
{
    if (!imd__grow(error, (void **)&t->failures, &t->failure_capacity, t->failed + 1,
                   sizeof *t->failures)) {
        return false;
    }
    snprintf(t->failures[t->failed].uid, IMD_NET_UID, "%s", uid);
    t->failed++;
    return true;
}

static bool dicom_put_dataset(ImdError **error, ImdTransport *base, const char *name,
                              const ImdDicomDataSet *dataset, const char *transfer_syntax)
{
    DicomTransport *t = (DicomTransport *)base;
    char sop_class[IMD_NET_UID], sop_instance[IMD_NET_UID];
    if (text_of(dataset, IMD_TAG_SOPClassUID, sop_class) == NULL ||
        text_of(dataset, IMD_TAG_SOPInstanceUID, sop_instance) == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: %s: no SOPClassUID or SOPInstanceUID",
                      t->base.name, name);
        return false;
    }
    if (t->broken) {
        imd_error_set(error, IMD_ERR_NETWORK, "%s: the association has failed", t->base.name);
        return false;
    }
    if (t->association == NULL) {
        t->association = associate(error, t, sop_class, transfer_syntax);
        if (t->association == NULL) {
            t->broken = true;
            return false;
        }
    }
    /* The data set's own syntax when accepted, else an uncompressed one for native data. */
    const char *syntax = NULL;
    uint8_t context = imd__association_find_context(t->association, sop_class, transfer_syntax,
                                                    &syntax);
    ImdDicomDataSet *decoded = NULL;
    bool compressed = imd__codec_is_encapsulated(transfer_syntax);
    if (context == 0 && compressed) {
        /* The peer takes this class only uncompressed: decode and send it so. */
        const char *native = NULL;
        uint8_t explicit_context = imd__association_find_context(
            t->association, sop_class, IMD_UID_EXPLICIT_VR_LE, &native);
        uint8_t implicit_context = imd__association_find_context(
            t->association, sop_class, IMD_UID_IMPLICIT_VR_LE, &native);
        if (explicit_context != 0 || implicit_context != 0) {
            decoded = decompress(error, dataset, transfer_syntax, name);
            if (decoded == NULL) {
                return false;
            }
            const char *syntax_name = imd__codec_syntax_name(transfer_syntax);
            imd__log(imd__context_current(), IMD_LOG_INFO,
                     "%s: %s sent uncompressed: the peer did not accept %s (%s)", t->base.name,
                     sop_instance, syntax_name != NULL ? syntax_name : "its transfer syntax",
                     transfer_syntax);
            dataset = decoded;
            context = explicit_context != 0 ? explicit_context : implicit_context;
            syntax = explicit_context != 0 ? IMD_UID_EXPLICIT_VR_LE : IMD_UID_IMPLICIT_VR_LE;
        }
    }
    if (context == 0 && !compressed) {
        context = imd__association_find_context(t->association, sop_class, NULL, &syntax);
        if (context != 0 && imd__codec_is_encapsulated(syntax)) {
            context = 0; /* the compressed context cannot carry native pixel data */
        }
        if (context == 0) {
            context = imd__association_find_context(t->association, sop_class,
                                                    IMD_UID_EXPLICIT_VR_LE, &syntax);
        }
        if (context == 0) {
            context = imd__association_find_context(t->association, sop_class,
                                                    IMD_UID_IMPLICIT_VR_LE, &syntax);
        }
    }
    if (context == 0) {
        const char *class_name = imd_dicom_uid_name(sop_class);
        imd__log(imd__context_current(), IMD_LOG_SKIPPED,
                 "%s: instance %s not sent: the peer accepted no presentation context for %s "
                 "(%s) in %s",
                 t->base.name, sop_instance, class_name != NULL ? class_name : "its SOP class",
                 sop_class, transfer_syntax);
        return record_failure(error, t, sop_instance);
    }
    uint8_t *bytes = NULL;
    size_t size = 0;
    bool encoded = encode(error, dataset, syntax, &bytes, &size, name);
    imd_dicom_dataset_destroy(decoded);
    if (!encoded) {
        return false;
    }
    ImdDimseResult result = {0};
    bool ok = imd__dimse_store(error, t->association, context, sop_class, sop_instance, bytes,
                               size, &result);
    free(bytes);
    if (!ok) {
        t->broken = true;
        imd_error_prefix(error, "instance %s: ", sop_instance);
        return false;
    }
    const char *comment = result.comment;
    switch (imd__dimse_status_kind(result.status)) {
    case IMD_STATUS_SUCCESS:
        t->sent++;
        imd__log(imd__context_current(), IMD_LOG_DEBUG, "%s: %s stored", t->base.name, sop_instance);
        return true;
    case IMD_STATUS_WARNING:
        t->sent++;
        t->warnings++;
        imd__log(imd__context_current(), IMD_LOG_WARNING, "%s: instance %s stored with warning 0x%04X (%s)%s%s",
                 t->base.name, sop_instance, result.status, imd__dimse_status_text(result.status),
                 comment[0] != '\0' ? ": " : "", comment);
        return true;
    default:
        imd__log(imd__context_current(), IMD_LOG_SKIPPED, "%s: instance %s failed with status 0x%04X (%s)%s%s",
                 t->base.name, sop_instance, result.status, imd__dimse_status_text(result.status),
                 comment[0] != '\0' ? ": " : "", comment);
        return record_failure(error, t, sop_instance);
    }
}

/* The one-line summary and the failed instances (once). */
static void report(DicomTransport *t, bool complete)
{
    if (t->reported || (t->sent == 0 && t->failed == 0 && t->association == NULL && !t->broken)) {
        return;
    }
    t->reported = true;
    imd__log(imd__context_current(), IMD_LOG_RESULT, "%s: %zu sent, %zu warnings, %zu failed%s", t->base.name,
             t->sent, t->warnings, t->failed,
             complete ? "" : " (the association failed: the rest was not sent)");
    for (size_t i = 0; i < t->failed; i++) {
        imd__log(imd__context_current(), IMD_LOG_RESULT, "%s: failed: %s", t->base.name, t->failures[i].uid);
    }
}

static void transport_free(DicomTransport *t)
{
    free(t->host);
    free(t->username);
    free(t->password);
    free(t->failures);
    free(t->base.name);
    free(t->base.object);
    free(t);
}

static bool dicom_close(ImdError **error, ImdTransport *base)
{
    DicomTransport *t = (DicomTransport *)base;
    bool ok = true;
    if (t->association != NULL) {
        ok = imd__association_release(error, t->association);
        t->association = NULL;
    }
    report(t, ok && !t->broken);
    transport_free(t);
    return ok;
}

static void dicom_abort(ImdTransport *base)
{
    DicomTransport *t = (DicomTransport *)base;
    /* What was stored stays stored: a node cannot take instances back. */
    imd__association_abort(t->association);
    t->association = NULL;
    report(t, false);
    transport_free(t);
}

static bool dicom_list(ImdError **error, ImdTransport *base, ImdVisitFn *visit, void *user)
{
    (void)visit;
    (void)user;
    imd_error_set(error, IMD_ERR_UNSUPPORTED,
                  "%s: listing a DICOM node (C-FIND) is not implemented yet", base->name);
    return false;
}

static ImdStream *dicom_open_read(ImdError **error, ImdTransport *base, const char *name)
{
    imd_error_set(error, IMD_ERR_UNSUPPORTED,
                  "%s: %s: reading from a DICOM node (C-GET) is not implemented yet", base->name,
                  name);
    return NULL;
}

static ImdStream *dicom_create(ImdError **error, ImdTransport *base, const char *name)
{
    imd_error_set(error, IMD_ERR_UNSUPPORTED,
                  "%s: %s: a DICOM node takes DICOM data sets only (write with the dicom format)",
                  base->name, name);
    return NULL;
}

static const ImdTransportMethods dicom_methods = {
    dicom_list, dicom_open_read, dicom_create, dicom_put_dataset, NULL, dicom_close, dicom_abort,
};

static ImdTransport *dicom_open(ImdError **error, const ImdUrl *url, ImdMode mode,
                                const ImdOptions *options)
{
    if (mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "dicom://%s:%d/%s: reading from a DICOM node (C-FIND, C-GET) is not "
                      "implemented yet",
                      url->host, url->port != 0 ? url->port : 104, url->aet);
        return NULL;
    }
    DicomTransport *t = imd__calloc(error, 1, sizeof *t);
    if (t == NULL) {
        return NULL;
    }
    t->base.methods = &dicom_methods;
    t->port = url->port != 0 ? url->port : 104; /* the DICOM port (PS3.8 §C.1) */
    t->host = imd__strdup(error, url->host);
    /* Patient/study/series parts name a place in a file tree; a node files by UIDs. */
    t->base.name = imd__sprintf(error, "dicom://%s:%d/%s", url->host, t->port, url->aet);
    if (t->host == NULL || t->base.name == NULL) {
        transport_free(t);
        return NULL;
    }
    if (!valid_aet(url->aet)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: \"%s\" is not an AE title", t->base.name,
                      url->aet);
        transport_free(t);
        return NULL;
    }
    snprintf(t->called, sizeof t->called, "%s", url->aet);
    if (!read_options(error, t, options)) {
        imd_error_prefix(error, "%s: ", t->base.name);
        transport_free(t);
        return NULL;
    }
    return &t->base;
}

static const char *const dicom_schemes[] = {"dicom", NULL};

const ImdTransportPlugin imd__dicom_transport = {
    IMD_PLUGIN_ABI_VERSION, sizeof(ImdTransportPlugin), "dicom",
    "a DICOM node: C-STORE of every data set written (issue 17)", dicom_schemes, dicom_open,
};

/* ---- C-ECHO (imd_dicom_echo) ---- */

bool imd__dicom_echo(ImdError **error, const ImdUrl *url, const ImdOptions *options,
                     uint16_t *status)
{
    ImdTransport *base = dicom_open(error, url, IMD_MODE_WRITE, options);
    if (base == NULL) {
        return false;
    }
    DicomTransport *t = (DicomTransport *)base;
    ImdAssociation *a = associate(error, t, NULL, NULL);
    ImdDimseResult result = {0};
    bool ok = a != NULL && imd__dimse_echo(error, a, &result);
    if (ok) {
        *status = result.status;
        ok = imd__association_release(error, a);
    } else {
        imd__association_abort(a);
    }
    transport_free(t);
    return ok;
}
