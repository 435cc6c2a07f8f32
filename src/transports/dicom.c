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
 * Reading (issue 17 part 2): dicom://host:port/AET/patient/study/series
 * opened for reading resolves the series with C-FIND in the Study Root
 * information model (PS3.4 C.6.2): at STUDY level by Patient ID and Study
 * Instance UID (or Accession Number when the part is not a UID), then at
 * SERIES level by Series Instance UID (or Series Number when the part is a
 * plain integer); each must match exactly one entity. It then fetches the
 * series with one C-GET at SERIES level (PS3.4 C.4.3), serving the peer's
 * C-STORE sub-operations on the same association (we propose the SCP role
 * for the storage classes, PS3.7 D.3.3.4). Each instance is kept in memory
 * as a Part 10 file (its bytes as received behind a meta group) that list()
 * names and open_read() opens, so the DICOM reader sorts them like a folder.
 * With the option move_destination the fetch is a C-MOVE (PS3.4 C.4.2) whose
 * sub-operations a short-lived Storage SCP of ours receives
 * (imd__net_move_listener_*, src/net/acceptor.c).
 *
 * TLS (issue 18 item 5, src/net/tls.c): the options tls, tls_cert, tls_key,
 * tls_ca and tls_verify make every association of the transport run over
 * TLS (PS3.15 B.12); the configuration is loaded and checked when the
 * transport opens, before any connection, so a bad certificate is a usage
 * error. The C-MOVE listener stays plain TCP (the node connects to it with
 * its own configuration for our AE).
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

typedef struct Received {
    char name[32];
    uint8_t *bytes;
    size_t size;
} Received;

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
    /* The C-STORE sent whose response is still to come (settle), if any. */
    bool outstanding;
    uint16_t outstanding_id;
    uint8_t outstanding_context;
    char outstanding_uid[IMD_NET_UID];
    size_t failure_capacity;
    bool reported;
    /* Reading: the URL's patient, study and series parts, and the instances
     * fetched with C-GET at the first list() as Part 10 files in memory. */
    bool reading, fetched;
    char *patient, *study, *series;
    Received *received;
    size_t received_count, received_capacity;
    /* C-MOVE instead of C-GET (option move_destination): our AE title as
     * the destination, and where its listener binds. */
    char move_destination[17];
    char *move_address;
    int move_port;
    ImdTls *tls; /* NULL: plain TCP */
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

/*
 * tls=true (or any tls_* file option, which implies it) makes the transport
 * use TLS; tls=false with a tls_* option is a contradiction, refused.
 * Peer verification is on unless tls_verify=false is given.
 */
static bool read_tls_options(ImdError **error, DicomTransport *t, const ImdOptions *options)
{
    ImdTlsConfig config = {imd_options_get(options, "tls_cert", NULL),
                           imd_options_get(options, "tls_key", NULL),
                           imd_options_get(options, "tls_ca", NULL), true};
    bool files = config.cert != NULL || config.key != NULL || config.ca != NULL;
    bool tls = false;
    if (!imd_options_get_bool(error, options, "tls", files, &tls) ||
        !imd_options_get_bool(error, options, "tls_verify", true, &config.verify)) {
        return false;
    }
    if (!tls && (files || imd_options_has(options, "tls_verify"))) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "option \"tls\" is false but TLS options (tls_cert, tls_key, tls_ca, "
                      "tls_verify) are given");
        return false;
    }
    if (!tls) {
        return true;
    }
    t->tls = imd__tls_create(error, &config, false, "TLS");
    return t->tls != NULL;
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
    const char *move = imd_options_get(options, "move_destination", NULL);
    int64_t move_port = 0;
    if (move != NULL) {
        if (!valid_aet(move)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"move_destination\": \"%s\" is "
                          "not an AE title (PS3.5 §6.2)", move);
            return false;
        }
        if (!imd_options_get_int(error, options, "move_port", 0, &move_port)) {
            return false;
        }
        if (move_port < 1 || move_port > 65535) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"move_destination\" needs "
                          "\"move_port\" (1 to 65535): the port the peer knows for %s", move);
            return false;
        }
        snprintf(t->move_destination, sizeof t->move_destination, "%s", move);
        t->move_port = (int)move_port;
        t->move_address = imd__strdup(error, imd_options_get(options, "move_address",
                                                             "127.0.0.1"));
        if (t->move_address == NULL) {
            return false;
        }
    }
    t->username = user != NULL ? imd__strdup(error, user) : NULL;
    t->password = password != NULL ? imd__strdup(error, password) : NULL;
    if ((user != NULL && t->username == NULL) || (password != NULL && t->password == NULL)) {
        return false;
    }
    return read_tls_options(error, t, options);
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
    ImdAssociation *a = imd__association_open(error, t->host, t->port, rq, &t->timeouts, t->tls,
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

/*
 * The response to the C-STORE sent last, counted and logged: success,
 * warning, or failure (recorded; the write goes on). False only when the
 * association failed (the instance is then not counted as sent).
 */
static bool settle(ImdError **error, DicomTransport *t)
{
    if (!t->outstanding) {
        return true;
    }
    t->outstanding = false;
    const char *uid = t->outstanding_uid;
    ImdDimseResult result = {0};
    if (!imd__dimse_store_wait(error, t->association, t->outstanding_context, t->outstanding_id,
                               &result)) {
        t->broken = true;
        imd_error_prefix(error, "instance %s: ", uid);
        return false;
    }
    const char *comment = result.comment;
    switch (imd__dimse_status_kind(result.status)) {
    case IMD_STATUS_SUCCESS:
        t->sent++;
        imd__log(imd__context_current(), IMD_LOG_DEBUG, "%s: %s stored", t->base.name, uid);
        return true;
    case IMD_STATUS_WARNING:
        t->sent++;
        t->warnings++;
        imd__log(imd__context_current(), IMD_LOG_WARNING,
                 "%s: instance %s stored with warning 0x%04X (%s)%s%s", t->base.name, uid,
                 result.status, imd__dimse_status_text(result.status),
                 comment[0] != '\0' ? ": " : "", comment);
        return true;
    default:
        imd__log(imd__context_current(), IMD_LOG_SKIPPED,
                 "%s: instance %s failed with status 0x%04X (%s)%s%s", t->base.name, uid,
                 result.status, imd__dimse_status_text(result.status),
                 comment[0] != '\0' ? ": " : "", comment);
        return record_failure(error, t, uid);
    }
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
    /* Sent now; its response is taken before the next request (settle), so
     * that the writer makes the next data set while the peer stores this one. */
    bool ok = settle(error, t) &&
              imd__dimse_store_send(error, t->association, context, sop_class, sop_instance,
                                    bytes, size, &t->outstanding_id);
    free(bytes);
    if (!ok) {
        t->broken = true;
        imd_error_prefix(error, "instance %s: ", sop_instance);
        return false;
    }
    t->outstanding = true;
    t->outstanding_context = context;
    snprintf(t->outstanding_uid, sizeof t->outstanding_uid, "%s", sop_instance);
    return true;
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
    for (size_t i = 0; i < t->received_count; i++) {
        free(t->received[i].bytes);
    }
    free(t->received);
    free(t->patient);
    free(t->study);
    free(t->series);
    free(t->host);
    free(t->move_address);
    free(t->username);
    free(t->password);
    free(t->failures);
    imd__tls_destroy(t->tls);
    free(t->base.name);
    free(t->base.object);
    free(t);
}

static bool dicom_close(ImdError **error, ImdTransport *base)
{
    DicomTransport *t = (DicomTransport *)base;
    bool ok = true;
    if (t->association != NULL) {
        ok = settle(error, t);
        ok = ok ? imd__association_release(error, t->association)
                : (imd__association_abort(t->association), false);
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

/* ---- reading: C-FIND then C-GET (PS3.4 Annex C) ---- */

/* Study Root Query/Retrieve Information Model (PS3.4 C.6.2.1). */
#define STUDY_ROOT_FIND "1.2.840.10008.5.1.4.1.2.2.1"
#define STUDY_ROOT_GET "1.2.840.10008.5.1.4.1.2.2.3"
#define STUDY_ROOT_MOVE "1.2.840.10008.5.1.4.1.2.2.2"

/* Storage classes we accept as C-GET sub-operations besides storage_classes[]. */
static const char *const more_storage_classes[] = {
    "1.2.840.10008.5.1.4.1.1.4.1",   /* Enhanced MR Image Storage */
    "1.2.840.10008.5.1.4.1.1.2.1",   /* Enhanced CT Image Storage */
    "1.2.840.10008.5.1.4.1.1.128",   /* Positron Emission Tomography Image Storage */
    "1.2.840.10008.5.1.4.1.1.130",   /* Enhanced PET Image Storage */
    "1.2.840.10008.5.1.4.1.1.4.2",   /* MR Spectroscopy Storage */
    "1.2.840.10008.5.1.4.1.1.4.4",   /* Legacy Converted Enhanced MR Image Storage */
    "1.2.840.10008.5.1.4.1.1.2.2",   /* Legacy Converted Enhanced CT Image Storage */
    "1.2.840.10008.5.1.4.1.1.7.2",   /* Multi-frame Grayscale Byte SC Image Storage */
    "1.2.840.10008.5.1.4.1.1.7.3",   /* Multi-frame Grayscale Word SC Image Storage */
    "1.2.840.10008.5.1.4.1.1.7.4",   /* Multi-frame True Color SC Image Storage */
    "1.2.840.10008.5.1.4.1.1.481.1", /* RT Image Storage */
};

/*
 * Compressed transfer syntaxes we take in C-GET sub-operations (the DICOM
 * reader decodes each, src/dicom/codec.c), so that a node sends what it
 * stores without transcoding it. Each is a presentation context of its own:
 * the acceptor answers one syntax per context (PS3.8 §9.3.3.2), and a C-STORE
 * sub-operation goes on a context whose syntax is the instance's (PS3.4
 * C.4.3.3, else the node must convert it).
 */
static const char *const get_compressed_syntaxes[] = {
    "1.2.840.10008.1.2.4.80", /* JPEG-LS Lossless */
    "1.2.840.10008.1.2.4.90", /* JPEG 2000 (Lossless Only) */
    "1.2.840.10008.1.2.5",    /* RLE Lossless */
    "1.2.840.10008.1.2.4.70", /* JPEG Lossless, First-Order Prediction (Process 14 SV1) */
    "1.2.840.10008.1.2.4.81", /* JPEG-LS Near-Lossless */
    "1.2.840.10008.1.2.4.91", /* JPEG 2000 */
    "1.2.840.10008.1.2.4.50", /* JPEG Baseline (Process 1) */
    "1.2.840.10008.1.2.4.51", /* JPEG Extended (Process 2 and 4) */
};
/* The classes offered the compressed contexts: 13 x 8 + 21 native + FIND,
 * GET and Verification stay within the 128 contexts of an association
 * (odd IDs 1..255, PS3.8 §9.3.2.2). The others (Parametric Map is floating
 * point; the rarer classes) come uncompressed. */
static const char *const get_compressed_classes[] = {
    "1.2.840.10008.5.1.4.1.1.2",   "1.2.840.10008.5.1.4.1.1.4",   "1.2.840.10008.5.1.4.1.1.1",
    "1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.3.1", "1.2.840.10008.5.1.4.1.1.7",
    "1.2.840.10008.5.1.4.1.1.12.1", "1.2.840.10008.5.1.4.1.1.12.2", "1.2.840.10008.5.1.4.1.1.20",
    "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.128",
    "1.2.840.10008.5.1.4.1.1.7.3",
};

static bool add_storage_scp(ImdNetAssociate *rq, const char *sop_class)
{
    static const char *const native[] = {IMD_UID_EXPLICIT_VR_LE, IMD_UID_IMPLICIT_VR_LE};
    add_context(rq, sop_class, native, 2);
    if (rq->role_count == IMD_NET_MAX_ROLES) {
        return false;
    }
    /* SCP/SCU Role Selection (PS3.7 D.3.3.4): we, the requestor, are the
     * storage SCP; the peer's C-GET sub-operations need it (PS3.4 C.4.3.1).
     * One item per SOP class, for all its contexts. */
    ImdNetRole *role = &rq->roles[rq->role_count++];
    snprintf(role->sop_class, sizeof role->sop_class, "%s", sop_class);
    role->scu = false;
    role->scp = true;
    return true;
}

/*
 * The contexts of one storage class for C-GET sub-operations: the compressed
 * ones first, then the uncompressed one. A node that matches each instance's
 * syntax to a context (PS3.4 C.4.3.3) is indifferent to the order; dcmtk's
 * dcmqrscp takes the first accepted context of the class and converts to its
 * syntax (it has no codecs for that), so it can send what it stores
 * compressed only when that context comes first. It accepts compressed
 * contexts only when told to (its +x options), and then it stores such data.
 */
static void add_get_contexts(ImdNetAssociate *rq, const char *sop_class)
{
    for (size_t i = 0; i < sizeof get_compressed_classes / sizeof get_compressed_classes[0];
         i++) {
        if (strcmp(get_compressed_classes[i], sop_class) != 0) {
            continue;
        }
        for (size_t k = 0; k < sizeof get_compressed_syntaxes / sizeof get_compressed_syntaxes[0];
             k++) {
            add_context(rq, sop_class, &get_compressed_syntaxes[k], 1);
        }
    }
    (void)add_storage_scp(rq, sop_class);
}

static ImdAssociation *associate_read(ImdError **error, const DicomTransport *t)
{
    ImdNetAssociate *rq = make_request(error, t, NULL, NULL); /* verification + identity */
    if (rq == NULL) {
        return NULL;
    }
    static const char *const native[] = {IMD_UID_EXPLICIT_VR_LE, IMD_UID_IMPLICIT_VR_LE};
    add_context(rq, STUDY_ROOT_FIND, native, 2);
    add_context(rq, STUDY_ROOT_GET, native, 2);
    if (t->move_destination[0] != '\0') {
        add_context(rq, STUDY_ROOT_MOVE, native, 2);
    }
    for (size_t i = 0; i < sizeof storage_classes / sizeof storage_classes[0]; i++) {
        add_get_contexts(rq, storage_classes[i]);
    }
    for (size_t i = 0; i < sizeof more_storage_classes / sizeof more_storage_classes[0]; i++) {
        add_get_contexts(rq, more_storage_classes[i]);
    }
    ImdAssociation *a = imd__association_open(error, t->host, t->port, rq, &t->timeouts, t->tls,
                                              t->base.name);
    free(rq);
    return a;
}

/* Append a little-endian explicit-VR element of the meta group (PS3.10 §7.1). */
static uint8_t *meta_element(uint8_t *p, uint16_t element, const char vr[2], const void *value,
                             size_t size)
{
    size_t padded = size + (size & 1u);
    p[0] = 2;
    p[1] = 0;
    p[2] = (uint8_t)element;
    p[3] = (uint8_t)(element >> 8);
    p[4] = (uint8_t)vr[0];
    p[5] = (uint8_t)vr[1];
    if (vr[0] == 'O') { /* OB: 2 reserved bytes and a 32-bit length */
        p[6] = p[7] = 0;
        p[8] = (uint8_t)padded;
        p[9] = (uint8_t)(padded >> 8);
        p[10] = (uint8_t)(padded >> 16);
        p[11] = (uint8_t)(padded >> 24);
        p += 12;
    } else {
        p[6] = (uint8_t)padded;
        p[7] = (uint8_t)(padded >> 8);
        p += 8;
    }
    memcpy(p, value, size);
    if (padded != size) {
        p[size] = vr[0] == 'U' && vr[1] == 'I' ? 0 : ' ';
    }
    return p + padded;
}

/*
 * A Part 10 file around a data set received in `syntax` (PS3.10 §7.1:
 * preamble, "DICM", the File Meta Information in Explicit VR LE), taking
 * `data`. The bytes of the data set stay exactly as the peer sent them.
 */
static uint8_t *part10(ImdError **error, const char *sop_class, const char *sop_instance,
                       const char *syntax, uint8_t *data, size_t size, size_t *total)
{
    static const uint8_t version[2] = {0, 1};
    size_t lengths[4] = {strlen(sop_class), strlen(sop_instance), strlen(syntax),
                         strlen(IMD_NET_IMPLEMENTATION_CLASS_UID)};
    size_t meta = 12 + 2; /* (0002,0001) OB */
    for (size_t i = 0; i < 4; i++) {
        meta += 8 + lengths[i] + (lengths[i] & 1u);
    }
    uint8_t *out = NULL;
    if (size <= SIZE_MAX - 132 - 12 - meta) {
        out = imd__malloc(error, 132 + 12 + meta + size);
    } else {
        imd_error_set(error, IMD_ERR_LIMIT, "a received data set of %zu bytes is too large", size);
    }
    if (out == NULL) {
        free(data);
        return NULL;
    }
    memset(out, 0, 128);
    memcpy(out + 128, "DICM", 4);
    uint32_t group = (uint32_t)meta;
    uint8_t group_length[4] = {(uint8_t)group, (uint8_t)(group >> 8), (uint8_t)(group >> 16),
                               (uint8_t)(group >> 24)};
    uint8_t *p = meta_element(out + 132, 0x0000, "UL", group_length, 4);
    p = meta_element(p, 0x0001, "OB", version, 2);
    p = meta_element(p, 0x0002, "UI", sop_class, lengths[0]);
    p = meta_element(p, 0x0003, "UI", sop_instance, lengths[1]);
    p = meta_element(p, 0x0010, "UI", syntax, lengths[2]);
    p = meta_element(p, 0x0012, "UI", IMD_NET_IMPLEMENTATION_CLASS_UID, lengths[3]);
    if (size > 0) {
        memcpy(p, data, size);
    }
    free(data);
    *total = (size_t)(p - out) + size;
    return out;
}

/* What one C-FIND collects: the values of `key` in the matches. */
typedef struct Matches {
    DicomTransport *t;
    const char *syntax;
    uint32_t key;
    char first[IMD_NET_UID];
    size_t count;
} Matches;

static bool on_match(ImdError **error, void *user, const uint8_t *identifier, size_t size)
{
    Matches *m = user;
    uint8_t *copy = imd__malloc(error, size > 0 ? size : 1);
    if (copy == NULL) {
        return false;
    }
    if (size > 0) {
        memcpy(copy, identifier, size);
    }
    size_t total = 0;
    uint8_t *file = part10(error, STUDY_ROOT_FIND, "1", m->syntax, copy, size, &total);
    if (file == NULL) {
        return false;
    }
    ImdDicomDataSet *found = imd_dicom_read_memory(error, file, total, m->t->base.name, NULL);
    free(file);
    if (found == NULL) {
        imd_error_prefix(error, "a C-FIND match: ");
        return false;
    }
    char value[IMD_NET_UID];
    if (text_of(found, m->key, value) == NULL) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: a C-FIND match without %s", m->t->base.name,
                      imd_dicom_keyword(m->key));
        imd_dicom_dataset_destroy(found);
        return false;
    }
    imd_dicom_dataset_destroy(found);
    /* Several matches with the same UID are one entity (a peer may repeat). */
    if (m->count == 0 || strcmp(m->first, value) != 0) {
        if (m->count == 0) {
            snprintf(m->first, sizeof m->first, "%s", value);
        }
        m->count++;
    }
    return true;
}

/* Is `text` a plain integer (a Series Number, IS)? */
static bool is_number(const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    return n > 0 && n <= 12; /* IS: at most 12 characters (PS3.5 Table 6.2-1) */
}

/* Is `text` a UID (PS3.5 §9.1: digits and dots, at most 64)? Anything else
 * in the study part is an Accession Number. */
static bool is_uid(const char *text)
{
    size_t n = strlen(text);
    bool dot = false;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '.') {
            dot = true;
        } else if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    return n > 0 && n < IMD_NET_UID && dot;
}

/*
 * One C-FIND at `level` with the given keys (NULL values are left out,
 * "" are return keys) that must match exactly one entity; its `key` value
 * into `out`.
 */
static bool find_one(ImdError **error, DicomTransport *t, ImdAssociation *a, const char *level,
                     const uint32_t *tags, const char *const *values, size_t count, uint32_t key,
                     const char *what, char out[IMD_NET_UID])
{
    const char *syntax = NULL;
    uint8_t context = imd__association_find_context(a, STUDY_ROOT_FIND, NULL, &syntax);
    if (context == 0) {
        imd_error_set(error, IMD_ERR_NETWORK,
                      "%s: the peer did not accept Study Root Query/Retrieve - FIND",
                      t->base.name);
        return false;
    }
    ImdDicomDataSet *identifier = imd_dicom_dataset_create(error);
    bool ok = identifier != NULL && imd_dicom_dataset_set_string(error, identifier,
                                                                 IMD_TAG_QueryRetrieveLevel,
                                                                 IMD_VR_CS, level);
    for (size_t i = 0; ok && i < count; i++) {
        if (values[i] != NULL) {
            ok = imd_dicom_dataset_set_string(error, identifier, tags[i],
                                              imd_dicom_dictionary_vr(tags[i]), values[i]);
        }
    }
    uint8_t *bytes = NULL;
    size_t size = 0;
    ok = ok && encode(error, identifier, syntax, &bytes, &size, t->base.name);
    imd_dicom_dataset_destroy(identifier);
    Matches matches = {t, syntax, key, "", 0};
    ImdDimseResult result = {0};
    ok = ok && imd__dimse_find(error, a, context, STUDY_ROOT_FIND, bytes, size, on_match, &matches,
                               &result);
    free(bytes);
    if (!ok) {
        return false;
    }
    if (imd__dimse_status_kind(result.status) != IMD_STATUS_SUCCESS) {
        imd_error_set(error, IMD_ERR_NETWORK, "%s: C-FIND for the %s failed with status 0x%04X%s%s",
                      t->base.name, what, result.status, result.comment[0] != '\0' ? ": " : "",
                      result.comment);
        return false;
    }
    if (matches.count != 1) {
        imd_error_set(error, matches.count == 0 ? IMD_ERR_NOT_FOUND : IMD_ERR_INVALID_ARG,
                      "%s: %s %s", t->base.name, what,
                      matches.count == 0 ? "not found" : "matches several entities");
        return false;
    }
    memcpy(out, matches.first, IMD_NET_UID);
    return true;
}

static bool on_store(ImdError **error, void *user, const char *sop_class, const char *sop_instance,
                     const char *syntax, uint8_t *data, size_t size, uint16_t *status)
{
    DicomTransport *t = user;
    if (t->received_count == t->received_capacity) {
        size_t capacity = t->received_capacity > 0 ? 2 * t->received_capacity : 64;
        Received *grown = imd__realloc(error, t->received, capacity * sizeof *grown);
        if (grown == NULL) {
            free(data);
            return false;
        }
        t->received = grown;
        t->received_capacity = capacity;
    }
    Received *r = &t->received[t->received_count];
    r->bytes = part10(error, sop_class, sop_instance, syntax, data, size, &r->size);
    if (r->bytes == NULL) {
        return false;
    }
    snprintf(r->name, sizeof r->name, "%06zu.dcm", t->received_count + 1);
    t->received_count++;
    *status = 0x0000;
    const char *syntax_name = imd__codec_syntax_name(syntax);
    imd__log(imd__context_current(), IMD_LOG_DEBUG, "%s: received %s in %s", t->base.name,
             sop_instance, syntax_name != NULL ? syntax_name : syntax);
    return true;
}

static bool fetch(ImdError **error, DicomTransport *t)
{
    ImdAssociation *a = associate_read(error, t);
    if (a == NULL) {
        return false;
    }
    char study[IMD_NET_UID], series[IMD_NET_UID];
    /* A series part that is not an integer is a UID, even one that breaks
     * PS3.5 §9.1 (real files have letters in them). */
    bool study_uid = is_uid(t->study), series_uid = !is_number(t->series);
    const uint32_t study_tags[3] = {IMD_TAG_PatientID, IMD_TAG_StudyInstanceUID,
                                    IMD_TAG_AccessionNumber};
    const char *study_values[3] = {t->patient, study_uid ? t->study : "",
                                   study_uid ? NULL : t->study};
    const uint32_t series_tags[3] = {IMD_TAG_StudyInstanceUID, IMD_TAG_SeriesInstanceUID,
                                     IMD_TAG_SeriesNumber};
    const char *series_values[3] = {study, series_uid ? t->series : "",
                                    series_uid ? NULL : t->series};
    char study_what[200], series_what[200];
    snprintf(study_what, sizeof study_what, "patient %.64s: study with %s %.64s", t->patient,
             study_uid ? "Study Instance UID" : "Accession Number", t->study);
    snprintf(series_what, sizeof series_what, "series with %s %.64s",
             series_uid ? "Series Instance UID" : "Series Number", t->series);
    const char *syntax = NULL;
    uint8_t context = 0;
    bool ok = find_one(error, t, a, "STUDY", study_tags, study_values, 3,
                       IMD_TAG_StudyInstanceUID, study_what, study) &&
              find_one(error, t, a, "SERIES", series_tags, series_values, 3,
                       IMD_TAG_SeriesInstanceUID, series_what, series);
    bool move = t->move_destination[0] != '\0';
    if (ok) {
        context = imd__association_find_context(a, move ? STUDY_ROOT_MOVE : STUDY_ROOT_GET, NULL,
                                                &syntax);
        if (context == 0 && move) {
            imd_error_set(error, IMD_ERR_NETWORK,
                          "%s: the peer did not accept Study Root Query/Retrieve - MOVE",
                          t->base.name);
            ok = false;
        } else if (context == 0) {
            imd_error_set(error, IMD_ERR_NETWORK,
                          "%s: the peer did not accept Study Root Query/Retrieve - GET "
                          "(C-MOVE is not implemented)",
                          t->base.name);
            ok = false;
        }
    }
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (ok) {
        /* C-GET identifier at SERIES level: the unique keys of the levels
         * above and of the level (PS3.4 C.4.3.2.1, C.6.2.1.1). */
        ImdDicomDataSet *identifier = imd_dicom_dataset_create(error);
        ok = identifier != NULL &&
             imd_dicom_dataset_set_string(error, identifier, IMD_TAG_QueryRetrieveLevel, IMD_VR_CS,
                                          "SERIES") &&
             imd_dicom_dataset_set_string(error, identifier, IMD_TAG_StudyInstanceUID, IMD_VR_UI,
                                          study) &&
             imd_dicom_dataset_set_string(error, identifier, IMD_TAG_SeriesInstanceUID, IMD_VR_UI,
                                          series) &&
             encode(error, identifier, syntax, &bytes, &size, t->base.name);
        imd_dicom_dataset_destroy(identifier);
    }
    ImdDimseResult result = {0};
    uint16_t counts[4] = {0};
    if (ok && move) {
        /* C-MOVE (PS3.4 C.4.2): the peer sends the instances to AE
         * move_destination on associations of its own, which our listener
         * takes (the peer must know that AE at move_address:move_port). */
        char why[200] = "";
        size_t moved = 0, refused = 0;
        ImdNetMoveListener *listener = imd__net_move_listener_start(
            error, t->move_address, t->move_port, t->move_destination, &t->timeouts, t->max_pdu,
            on_store, t);
        ok = listener != NULL && imd__dimse_move(error, a, context, STUDY_ROOT_MOVE,
                                                 t->move_destination, bytes, size, &result,
                                                 counts);
        imd__net_move_listener_finish(listener, !ok, &moved, &refused, why, sizeof why);
        imd__log(imd__context_current(), IMD_LOG_INFO,
                 "%s: C-MOVE to %s: %zu instances received%s%s", t->base.name,
                 t->move_destination, moved, why[0] != '\0' ? ", " : "", why);
    } else {
        ok = ok && imd__dimse_get(error, a, context, STUDY_ROOT_GET, bytes, size, on_store, t,
                                  &result, counts);
    }
    free(bytes);
    if (!ok) {
        imd__association_abort(a);
        return false;
    }
    if (!imd__association_release(error, a)) {
        return false;
    }
    ImdDimseStatusKind kind = imd__dimse_status_kind(result.status);
    imd__log(imd__context_current(), IMD_LOG_INFO,
             "%s: %s of series %s: status 0x%04X, %zu received, %u completed, %u failed, "
             "%u warnings",
             t->base.name, move ? "C-MOVE" : "C-GET", series, result.status, t->received_count,
             counts[1], counts[2], counts[3]);
    if (kind == IMD_STATUS_FAILURE || kind == IMD_STATUS_CANCEL || counts[2] > 0) {
        imd_error_set(error, IMD_ERR_NETWORK,
                      "%s: %s of series %s failed with status 0x%04X (%s)%s%s: %u of its "
                      "instances failed",
                      t->base.name, move ? "C-MOVE" : "C-GET", series, result.status,
                      imd__dimse_status_text(result.status),
                      result.comment[0] != '\0' ? ": " : "", result.comment, counts[2]);
        return false;
    }
    if (t->received_count == 0) {
        imd_error_set(error, IMD_ERR_NOT_FOUND, "%s: %s of series %s returned no instances",
                      t->base.name, move ? "C-MOVE" : "C-GET", series);
        return false;
    }
    return true;
}

static void release_copy(void *data, void *user)
{
    (void)user;
    free(data);
}

static bool dicom_list(ImdError **error, ImdTransport *base, ImdVisitFn *visit, void *user)
{
    DicomTransport *t = (DicomTransport *)base;
    if (!t->reading) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: opened for writing", base->name);
        return false;
    }
    if (!t->fetched) {
        if (!fetch(error, t)) {
            return false;
        }
        t->fetched = true;
    }
    for (size_t i = 0; i < t->received_count && visit(user, t->received[i].name) == 0; i++) {
    }
    return true;
}

static ImdStream *dicom_open_read(ImdError **error, ImdTransport *base, const char *name)
{
    DicomTransport *t = (DicomTransport *)base;
    for (size_t i = 0; t->reading && i < t->received_count; i++) {
        if (strcmp(t->received[i].name, name) == 0) {
            /* A copy: a stream may outlive the transport that opened it. */
            uint8_t *copy = imd__malloc(error, t->received[i].size);
            if (copy == NULL) {
                return NULL;
            }
            memcpy(copy, t->received[i].bytes, t->received[i].size);
            ImdStream *stream = imd_stream_open_memory(error, copy, t->received[i].size, name,
                                                       release_copy, NULL);
            if (stream == NULL) {
                free(copy);
            }
            return stream;
        }
    }
    imd_error_set(error, IMD_ERR_NOT_FOUND, "%s/%s: no such instance", base->name, name);
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
    if (mode != IMD_MODE_WRITE &&
        (url->parts[0] == NULL || url->parts[1] == NULL || url->parts[2] == NULL)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "dicom://%s:%d/%s: reading from a DICOM node needs "
                      "dicom://host:port/AET/patientID/studyUID/seriesUID (image_list lists "
                      "the patients, studies and series of a node)",
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
    if (mode != IMD_MODE_WRITE) {
        t->reading = true;
        t->patient = imd__strdup(error, url->parts[0]);
        t->study = t->patient != NULL ? imd__strdup(error, url->parts[1]) : NULL;
        t->series = t->study != NULL ? imd__strdup(error, url->parts[2]) : NULL;
        if (t->series == NULL) {
            transport_free(t);
            return NULL;
        }
    }
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

/* ---- listing (imd_list, image_list) ---- */

/* The identifiers one C-FIND returned, as data sets. */
typedef struct Found {
    DicomTransport *t;
    const char *syntax;
    ImdDicomDataSet **sets;
    size_t count, capacity;
} Found;

static void found_clear(Found *f)
{
    for (size_t i = 0; i < f->count; i++) {
        imd_dicom_dataset_destroy(f->sets[i]);
    }
    free(f->sets);
    f->sets = NULL;
    f->count = f->capacity = 0;
}

static bool on_found(ImdError **error, void *user, const uint8_t *identifier, size_t size)
{
    Found *f = user;
    if (!imd__grow(error, (void **)&f->sets, &f->capacity, f->count + 1, sizeof *f->sets)) {
        return false;
    }
    uint8_t *copy = imd__malloc(error, size > 0 ? size : 1);
    if (copy == NULL) {
        return false;
    }
    if (size > 0) {
        memcpy(copy, identifier, size);
    }
    size_t total = 0;
    /* The identifier in the context's syntax behind a meta group, so that
     * the DICOM reader takes it (and its Specific Character Set) as a file. */
    uint8_t *file = part10(error, STUDY_ROOT_FIND, "1", f->syntax, copy, size, &total);
    if (file == NULL) {
        return false;
    }
    ImdDicomDataSet *found = imd_dicom_read_memory(error, file, total, f->t->base.name, NULL);
    free(file);
    if (found == NULL) {
        imd_error_prefix(error, "a C-FIND match: ");
        return false;
    }
    f->sets[f->count++] = found;
    return true;
}

/* One C-FIND at `level` (Study Root) with the given keys (NULL values left
 * out, "" are return keys); every match into `found`. */
static bool find_all(ImdError **error, DicomTransport *t, ImdAssociation *a, const char *level,
                     const uint32_t *tags, const char *const *values, size_t count,
                     const char *what, Found *found)
{
    const char *syntax = NULL;
    uint8_t context = imd__association_find_context(a, STUDY_ROOT_FIND, NULL, &syntax);
    if (context == 0) {
        imd_error_set(error, IMD_ERR_NETWORK,
                      "%s: the peer did not accept Study Root Query/Retrieve - FIND",
                      t->base.name);
        return false;
    }
    ImdDicomDataSet *identifier = imd_dicom_dataset_create(error);
    bool ok = identifier != NULL && imd_dicom_dataset_set_string(error, identifier,
                                                                 IMD_TAG_QueryRetrieveLevel,
                                                                 IMD_VR_CS, level);
    for (size_t i = 0; ok && i < count; i++) {
        if (values[i] != NULL) {
            ok = imd_dicom_dataset_set_string(error, identifier, tags[i],
                                              imd_dicom_dictionary_vr(tags[i]), values[i]);
        }
    }
    uint8_t *bytes = NULL;
    size_t size = 0;
    ok = ok && encode(error, identifier, syntax, &bytes, &size, t->base.name);
    imd_dicom_dataset_destroy(identifier);
    found->t = t;
    found->syntax = syntax;
    ImdDimseResult result = {0};
    ok = ok && imd__dimse_find(error, a, context, STUDY_ROOT_FIND, bytes, size, on_found, found,
                               &result);
    free(bytes);
    if (ok && imd__dimse_status_kind(result.status) != IMD_STATUS_SUCCESS) {
        imd_error_set(error, IMD_ERR_NETWORK, "%s: C-FIND for %s failed with status 0x%04X%s%s",
                      t->base.name, what, result.status, result.comment[0] != '\0' ? ": " : "",
                      result.comment);
        ok = false;
    }
    return ok;
}

/* An attribute of a match as UTF-8 text ("" when absent); NULL only for no memory. */
static char *match_text(ImdError **error, const ImdDicomDataSet *set, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(set, tag);
    ImdError *ignored = NULL;
    char *text = e != NULL ? imd_dicom_element_string(&ignored, set, e) : NULL;
    if (text == NULL) {
        /* Absent, empty or not text (a peer's odd VR): listed as empty. */
        imd_error_clear(&ignored);
        text = imd__strdup(error, "");
    }
    return text;
}

enum {
    L_PATIENT_ID, L_PATIENT_NAME, L_STUDY_UID, L_STUDY_DATE, L_STUDY_TIME, L_ACCESSION,
    L_STUDY_DESCRIPTION, L_SERIES_UID, L_SERIES_NUMBER, L_MODALITY, L_SERIES_DESCRIPTION,
    L_INSTANCES, L_COUNT
};
static const uint32_t list_tags[L_COUNT] = {
    IMD_TAG_PatientID,         IMD_TAG_PatientName,       IMD_TAG_StudyInstanceUID,
    IMD_TAG_StudyDate,         IMD_TAG_StudyTime,         IMD_TAG_AccessionNumber,
    IMD_TAG_StudyDescription,  IMD_TAG_SeriesInstanceUID, IMD_TAG_SeriesNumber,
    IMD_TAG_Modality,          IMD_TAG_SeriesDescription, IMD_TAG_NumberOfSeriesRelatedInstances,
};

/* One listed entry with its texts (owned). */
typedef struct Listed {
    char *text[L_COUNT];
} Listed;

static void listed_clear(Listed *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        for (size_t k = 0; k < L_COUNT; k++) {
            free(items[i].text[k]);
        }
    }
    free(items);
}

static long text_long(const char *text)
{
    char *end = NULL;
    long value = strtol(text, &end, 10);
    return end != text ? value : 0;
}

/* Patients by ID; studies by date, time, UID; series by number, UID. */
static int compare_patients(const void *pa, const void *pb)
{
    const Listed *a = pa, *b = pb;
    return strcmp(a->text[L_PATIENT_ID], b->text[L_PATIENT_ID]);
}

static int compare_studies(const void *pa, const void *pb)
{
    const Listed *a = pa, *b = pb;
    int c = strcmp(a->text[L_STUDY_DATE], b->text[L_STUDY_DATE]);
    if (c == 0) {
        c = strcmp(a->text[L_STUDY_TIME], b->text[L_STUDY_TIME]);
    }
    return c != 0 ? c : strcmp(a->text[L_STUDY_UID], b->text[L_STUDY_UID]);
}

static int compare_series(const void *pa, const void *pb)
{
    const Listed *a = pa, *b = pb;
    long na = text_long(a->text[L_SERIES_NUMBER]), nb = text_long(b->text[L_SERIES_NUMBER]);
    if (na != nb) {
        return na < nb ? -1 : 1;
    }
    return strcmp(a->text[L_SERIES_UID], b->text[L_SERIES_UID]);
}

/*
 * Query at `level` and collect the matches' texts; patients are found at
 * STUDY level (Study Root has no PATIENT level, PS3.4 C.6.2) and kept once
 * per Patient ID.
 */
static bool list_query(ImdError **error, DicomTransport *t, ImdAssociation *a, ImdListLevel level,
                       const char *patient, const char *study, const char *series,
                       Listed **out, size_t *out_count)
{
    const char *values[L_COUNT];
    for (size_t k = 0; k < L_COUNT; k++) {
        values[k] = ""; /* return keys */
    }
    values[L_PATIENT_ID] = patient != NULL ? patient : "";
    if (level == IMD_LIST_SERIES) {
        /* Series level keys: the study's unique key and series attributes
         * (PS3.4 C.6.2.1.2); patient and study attributes are not series
         * attributes, so they are left out of the query. */
        values[L_PATIENT_ID] = values[L_PATIENT_NAME] = values[L_STUDY_DATE] = NULL;
        values[L_STUDY_TIME] = values[L_ACCESSION] = values[L_STUDY_DESCRIPTION] = NULL;
        values[L_STUDY_UID] = study;
        if (series != NULL) {
            bool by_uid = !is_number(series);
            values[L_SERIES_UID] = by_uid ? series : "";
            values[L_SERIES_NUMBER] = by_uid ? "" : series;
        }
    } else {
        values[L_SERIES_UID] = values[L_SERIES_NUMBER] = values[L_MODALITY] = NULL;
        values[L_SERIES_DESCRIPTION] = values[L_INSTANCES] = NULL;
    }
    Found found = {0};
    const char *what = level == IMD_LIST_SERIES ? "the series" : level == IMD_LIST_STUDY
                                                                      ? "the studies"
                                                                      : "the patients";
    if (!find_all(error, t, a, level == IMD_LIST_SERIES ? "SERIES" : "STUDY", list_tags, values,
                  L_COUNT, what, &found)) {
        found_clear(&found);
        return false;
    }
    Listed *items = found.count > 0 ? imd__calloc(error, found.count, sizeof *items) : NULL;
    size_t n = 0;
    bool ok = found.count == 0 || items != NULL;
    for (size_t i = 0; ok && i < found.count; i++) {
        Listed *item = &items[n];
        for (size_t k = 0; ok && k < L_COUNT; k++) {
            item->text[k] = match_text(error, found.sets[i], list_tags[k]);
            ok = item->text[k] != NULL;
        }
        if (!ok) {
            n++; /* freed with the others */
            break;
        }
        bool duplicate = false;
        for (size_t j = 0; j < n && !duplicate; j++) {
            /* A peer may return an entity more than once (one response per
             * instance, for some); patients repeat once per study. */
            int key = level == IMD_LIST_PATIENT ? L_PATIENT_ID
                      : level == IMD_LIST_STUDY ? L_STUDY_UID
                                                : L_SERIES_UID;
            duplicate = strcmp(items[j].text[key], item->text[key]) == 0;
        }
        if (duplicate) {
            for (size_t k = 0; k < L_COUNT; k++) {
                free(item->text[k]);
                item->text[k] = NULL;
            }
        } else {
            n++;
        }
    }
    found_clear(&found);
    if (!ok) {
        listed_clear(items, n);
        return false;
    }
    if (n > 1) {
        qsort(items, n, sizeof *items,
              level == IMD_LIST_PATIENT ? compare_patients
              : level == IMD_LIST_STUDY ? compare_studies
                                        : compare_series);
    }
    *out = items;
    *out_count = n;
    return true;
}

bool imd__dicom_list(ImdError **error, const ImdUrl *url, const ImdOptions *options,
                     ImdListFn *fn, void *user)
{
    ImdTransport *base = dicom_open(error, url, IMD_MODE_WRITE, options);
    if (base == NULL) {
        return false;
    }
    DicomTransport *t = (DicomTransport *)base;
    /* An empty part (a trailing slash) is an absent one. */
    const char *parts[3];
    for (size_t i = 0; i < 3; i++) {
        parts[i] = url->parts[i] != NULL && url->parts[i][0] != '\0' ? url->parts[i] : NULL;
    }
    const char *patient = parts[0], *study = parts[0] != NULL ? parts[1] : NULL;
    const char *series = study != NULL ? parts[2] : NULL;
    ImdListLevel level = patient == NULL  ? IMD_LIST_PATIENT
                         : study == NULL ? IMD_LIST_STUDY
                                         : IMD_LIST_SERIES;
    ImdAssociation *a = associate_read(error, t);
    bool ok = a != NULL;
    char study_uid[IMD_NET_UID] = "";
    if (ok && study != NULL) {
        /* The study part may be an Accession Number: resolve it to one study. */
        const uint32_t tags[3] = {IMD_TAG_PatientID, IMD_TAG_StudyInstanceUID,
                                  IMD_TAG_AccessionNumber};
        bool by_uid = is_uid(study);
        const char *values[3] = {patient, by_uid ? study : "", by_uid ? NULL : study};
        char what[200];
        snprintf(what, sizeof what, "patient %.64s: study with %s %.64s", patient,
                 by_uid ? "Study Instance UID" : "Accession Number", study);
        ok = find_one(error, t, a, "STUDY", tags, values, 3, IMD_TAG_StudyInstanceUID, what,
                      study_uid);
    }
    Listed *items = NULL;
    size_t count = 0;
    ok = ok && list_query(error, t, a, level, patient, study_uid, series, &items, &count);
    if (ok) {
        ok = imd__association_release(error, a);
    } else {
        imd__association_abort(a);
    }
    for (size_t i = 0; ok && i < count; i++) {
        const char *text[L_COUNT];
        for (size_t k = 0; k < L_COUNT; k++) {
            text[k] = items[i].text[k];
        }
        if (level != IMD_LIST_PATIENT) {
            text[L_PATIENT_ID] = patient; /* series matches carry no patient keys */
        }
        char *path = level == IMD_LIST_PATIENT
                         ? imd__sprintf(error, "%s/%s", t->base.name, text[L_PATIENT_ID])
                     : level == IMD_LIST_STUDY
                         ? imd__sprintf(error, "%s/%s/%s", t->base.name, patient, text[L_STUDY_UID])
                         : imd__sprintf(error, "%s/%s/%s/%s", t->base.name, patient, study_uid,
                                        text[L_SERIES_UID]);
        if (level == IMD_LIST_SERIES) {
            text[L_STUDY_UID] = study_uid;
        }
        /* `info` is the pipeline's (imd_list), the same for every source. */
        ImdListEntry entry = {level, path != NULL ? path : "", NULL, text[L_PATIENT_ID],
                              text[L_PATIENT_NAME], text[L_STUDY_UID], text[L_STUDY_DATE],
                              text[L_STUDY_TIME], text[L_ACCESSION], text[L_STUDY_DESCRIPTION],
                              text[L_SERIES_UID], text[L_MODALITY], text[L_SERIES_DESCRIPTION],
                              text_long(text[L_SERIES_NUMBER]), text_long(text[L_INSTANCES])};
        ok = path != NULL && fn(error, user, &entry);
        free(path);
    }
    listed_clear(items, count);
    transport_free(t);
    return ok;
}
