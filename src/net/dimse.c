/*
 * dimse.c: DIMSE-C messages for a client (PS3.7 §9, Annex E): the command
 * set as a data set of group 0000 elements, always in Implicit VR Little
 * Endian (PS3.7 §6.3.1), C-ECHO and C-STORE with their statuses.
 */
#include "net/net.h"

#include <stdio.h>

/* ---- command sets ---- */

bool imd__dimse_encode_command(ImdError **error, const ImdDicomDataSet *command, uint8_t **bytes,
                               size_t *size)
{
    /* Each element: tag (4), 32-bit length (4), the value padded to even
     * length (PS3.5 §7.1.3); the group length (0000,0000) UL counts the bytes
     * after its own element (PS3.7 §E.1). */
    size_t body = 0, count = imd_dicom_dataset_count(command);
    for (size_t i = 0; i < count; i++) {
        const ImdDicomElement *e = imd_dicom_dataset_element(command, i);
        if ((e->tag >> 16) != 0 || e->tag == IMD_TAG_CommandGroupLength) {
            continue;
        }
        if (e->size > 0xffff || e->items != NULL || e->encapsulated) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "command element (%04X,%04X) not a short value",
                          e->tag >> 16, e->tag & 0xffffu);
            return false;
        }
        body += 8 + e->size + (e->size & 1u);
    }
    size_t total = 12 + body;
    uint8_t *out = imd__malloc(error, total);
    if (out == NULL) {
        return false;
    }
    uint8_t *p = out;
    const uint8_t group_length[12] = {0, 0, 0, 0, 4, 0, 0, 0, (uint8_t)body,
                                      (uint8_t)(body >> 8), (uint8_t)(body >> 16),
                                      (uint8_t)(body >> 24)};
    memcpy(p, group_length, 12);
    p += 12;
    for (size_t i = 0; i < count; i++) {
        const ImdDicomElement *e = imd_dicom_dataset_element(command, i);
        if ((e->tag >> 16) != 0 || e->tag == IMD_TAG_CommandGroupLength) {
            continue;
        }
        size_t padded = e->size + (e->size & 1u);
        uint8_t head[8] = {0, 0, (uint8_t)e->tag, (uint8_t)(e->tag >> 8), (uint8_t)padded,
                           (uint8_t)(padded >> 8), 0, 0};
        memcpy(p, head, 8);
        if (e->size > 0) {
            memcpy(p + 8, e->value, e->size);
        }
        if (padded != e->size) {
            p[8 + e->size] = imd__dicom_vr_pad(e->vr);
        }
        p += 8 + padded;
    }
    *bytes = out;
    *size = total;
    return true;
}

ImdDicomDataSet *imd__dimse_decode_command(ImdError **error, const uint8_t *bytes, size_t size,
                                           const char *name)
{
    ImdDicomDataSet *command = imd_dicom_dataset_create(error);
    if (command == NULL) {
        return NULL;
    }
    size_t at = 0;
    uint32_t previous = 0;
    bool first = true;
    while (at < size) {
        if (size - at < 8) {
            imd_error_set(error, IMD_ERR_PROTOCOL,
                          "%s: malformed DIMSE command: %zu stray bytes at offset %zu", name,
                          size - at, at);
            goto failed;
        }
        uint16_t group = imd__load_le16(bytes + at), element = imd__load_le16(bytes + at + 2);
        uint32_t length = imd__load_le32(bytes + at + 4);
        uint32_t tag = ((uint32_t)group << 16) | element;
        if (group != 0) {
            imd_error_set(error, IMD_ERR_PROTOCOL,
                          "%s: malformed DIMSE command: element (%04X,%04X) outside group 0000 "
                          "at offset %zu",
                          name, group, element, at);
            goto failed;
        }
        if (!first && tag <= previous) {
            imd_error_set(error, IMD_ERR_PROTOCOL,
                          "%s: malformed DIMSE command: (0000,%04X) out of order at offset %zu",
                          name, element, at);
            goto failed;
        }
        if (length > size - at - 8) {
            imd_error_set(error, IMD_ERR_PROTOCOL,
                          "%s: malformed DIMSE command: (0000,%04X) length %u exceeds the %zu "
                          "bytes left",
                          name, element, length, size - at - 8);
            goto failed;
        }
        ImdVR vr = imd_dicom_dictionary_vr(tag);
        if (vr == IMD_VR_SQ || vr >= IMD_VR_OB_OW) {
            vr = IMD_VR_UN; /* a retired or unknown command element: kept as bytes */
        }
        size_t unit = imd__dicom_vr_unit(vr);
        if (unit > 1 && length % unit != 0) {
            imd_error_set(error, IMD_ERR_PROTOCOL,
                          "%s: malformed DIMSE command: (0000,%04X) %s of length %u", name,
                          element, imd_dicom_vr_name(vr), length);
            goto failed;
        }
        if (!imd_dicom_dataset_set_bytes(error, command, tag, vr, bytes + at + 8, length)) {
            goto failed;
        }
        previous = tag;
        first = false;
        at += 8 + (size_t)length;
    }
    uint16_t field;
    if (!imd__dimse_get_us(command, IMD_TAG_CommandField, &field)) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: DIMSE command without a Command Field", name);
        goto failed;
    }
    return command;
failed:
    imd_dicom_dataset_destroy(command);
    return NULL;
}

bool imd__dimse_get_us(const ImdDicomDataSet *command, uint32_t tag, uint16_t *value)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(command, tag);
    if (e == NULL || e->size != 2 || e->value == NULL) {
        return false;
    }
    *value = imd__load_le16(e->value);
    return true;
}

/* A UI or text element's value without padding, into `out`; "" when absent. */
static void get_text(const ImdDicomDataSet *command, uint32_t tag, char *out, size_t capacity)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(command, tag);
    size_t n = e != NULL && e->value != NULL ? e->size : 0;
    while (n > 0 && (e->value[n - 1] == ' ' || e->value[n - 1] == '\0')) {
        n--;
    }
    n = n < capacity - 1 ? n : capacity - 1;
    for (size_t i = 0; i < n; i++) {
        out[i] = e->value[i] >= 0x20 && e->value[i] < 0x7f ? (char)e->value[i] : '?';
    }
    out[n] = '\0';
}

/* ---- statuses ---- */

ImdDimseStatusKind imd__dimse_status_kind(uint16_t status)
{
    /* PS3.7 Annex C: success 0000; warning 0001, Bxxx, 0107, 0116; pending
     * FF00/FF01; cancel FE00; everything else (Axxx, Cxxx, 01xx, 02xx) failure. */
    if (status == 0x0000) {
        return IMD_STATUS_SUCCESS;
    }
    if (status == 0x0001 || (status & 0xf000) == 0xb000 || status == 0x0107 || status == 0x0116) {
        return IMD_STATUS_WARNING;
    }
    if (status == 0xff00 || status == 0xff01) {
        return IMD_STATUS_PENDING;
    }
    if (status == 0xfe00) {
        return IMD_STATUS_CANCEL;
    }
    return IMD_STATUS_FAILURE;
}

const char *imd__dimse_status_text(uint16_t status)
{
    /* PS3.4 Table B.2-1 (Storage) and PS3.7 Annex C. */
    switch (status) {
    case 0x0000:
        return "success";
    case 0xb000:
        return "coercion of data elements";
    case 0xb006:
        return "elements discarded";
    case 0xb007:
        return "data set does not match SOP class";
    case 0x0111:
        return "duplicate SOP instance";
    case 0x0117:
        return "invalid SOP instance";
    case 0x0122:
        return "SOP class not supported";
    case 0x0124:
        return "not authorized";
    case 0x0210:
        return "duplicate invocation";
    case 0x0211:
        return "unrecognized operation";
    case 0x0212:
        return "mistyped argument";
    case 0x0213:
        return "resource limitation";
    default:
        break;
    }
    if ((status & 0xff00) == 0xa700) {
        return "refused: out of resources";
    }
    if ((status & 0xff00) == 0xa900) {
        return "error: data set does not match SOP class";
    }
    if ((status & 0xf000) == 0xc000) {
        return "error: cannot understand";
    }
    switch (imd__dimse_status_kind(status)) {
    case IMD_STATUS_WARNING:
        return "warning";
    case IMD_STATUS_PENDING:
        return "pending";
    case IMD_STATUS_CANCEL:
        return "cancelled";
    default:
        return "failure";
    }
}

/* ---- requests ---- */

/* Send `command` (and `data`), then wait for the response to it. */
static bool send_command(ImdError **error, ImdAssociation *association, uint8_t context_id,
                         const ImdDicomDataSet *command, const uint8_t *data, size_t data_size)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (!imd__dimse_encode_command(error, command, &bytes, &size)) {
        return false;
    }
    bool ok = imd__association_send(error, association, context_id, bytes, size, data, data_size);
    free(bytes);
    return ok;
}

/* The response (without a data set) to request `message_id` on `context_id`. */
static bool take_response(ImdError **error, ImdAssociation *association, uint8_t context_id,
                          uint16_t message_id, uint16_t response_field, ImdDimseResult *result)
{
    const char *name = imd__association_name(association);
    uint8_t got_context = 0, *answer = NULL, *answer_data = NULL;
    size_t answer_size = 0, answer_data_size = 0;
    if (!imd__association_receive(error, association, imd__association_timeouts(association)->dimse_ms,
                                  &got_context, &answer, &answer_size, &answer_data,
                                  &answer_data_size)) {
        return false;
    }
    free(answer_data); /* C-ECHO-RSP and C-STORE-RSP carry none */
    ImdDicomDataSet *response = imd__dimse_decode_command(error, answer, answer_size, name);
    free(answer);
    if (response == NULL) {
        imd__association_fail(association);
        return false;
    }
    uint16_t field = 0, responded = 0, status = 0;
    (void)imd__dimse_get_us(response, IMD_TAG_CommandField, &field);
    bool has_id = imd__dimse_get_us(response, IMD_TAG_MessageIDBeingRespondedTo, &responded);
    bool has_status = imd__dimse_get_us(response, IMD_TAG_Status, &status);
    bool ok = false;
    if (field != response_field) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: expected a response 0x%04X, the peer sent command 0x%04X", name,
                      response_field, field);
    } else if (!has_id || responded != message_id) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: a response to message %u, expected one to message %u", name,
                      responded, message_id);
    } else if (!has_status) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: a response without a status", name);
    } else if (got_context != context_id) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: a response on presentation context %u, the request went on %u", name,
                      got_context, context_id);
    } else {
        result->status = status;
        get_text(response, IMD_TAG_ErrorComment, result->comment, sizeof result->comment);
        ok = true;
    }
    imd_dicom_dataset_destroy(response);
    if (!ok) {
        imd__association_fail(association);
    }
    return ok;
}

static bool exchange(ImdError **error, ImdAssociation *association, uint8_t context_id,
                     const ImdDicomDataSet *command, uint16_t message_id, uint16_t response_field,
                     const uint8_t *data, size_t data_size, ImdDimseResult *result)
{
    return send_command(error, association, context_id, command, data, data_size) &&
           take_response(error, association, context_id, message_id, response_field, result);
}

static bool set_us(ImdError **error, ImdDicomDataSet *command, uint32_t tag, unsigned value)
{
    double v = value;
    return imd_dicom_dataset_set_numbers(error, command, tag, IMD_VR_US, &v, 1);
}

bool imd__dimse_echo(ImdError **error, ImdAssociation *association, ImdDimseResult *result)
{
    const char *accepted = NULL;
    uint8_t context = imd__association_find_context(association, IMD_NET_VERIFICATION_SOP_CLASS,
                                                    NULL, &accepted);
    const char *name = imd__association_name(association);
    if (context == 0) {
        imd_error_set(error, IMD_ERR_NETWORK,
                      "%s: the peer did not accept the Verification SOP class", name);
        return false;
    }
    uint16_t id = imd__association_next_message_id(association);
    ImdDicomDataSet *command = imd_dicom_dataset_create(error);
    /* C-ECHO-RQ (PS3.7 §9.3.5.1). */
    bool ok = command != NULL &&
              imd_dicom_dataset_set_string(error, command, IMD_TAG_AffectedSOPClassUID, IMD_VR_UI,
                                           IMD_NET_VERIFICATION_SOP_CLASS) &&
              set_us(error, command, IMD_TAG_CommandField, IMD_DIMSE_C_ECHO_RQ) &&
              set_us(error, command, IMD_TAG_MessageID, id) &&
              set_us(error, command, IMD_TAG_CommandDataSetType, IMD_DIMSE_NO_DATASET) &&
              exchange(error, association, context, command, id, IMD_DIMSE_C_ECHO_RSP, NULL, 0,
                       result);
    imd_dicom_dataset_destroy(command);
    return ok;
}

bool imd__dimse_store_send(ImdError **error, ImdAssociation *association, uint8_t context_id,
                           const char *sop_class, const char *sop_instance, const uint8_t *data,
                           size_t data_size, uint16_t *message_id)
{
    uint16_t id = imd__association_next_message_id(association);
    ImdDicomDataSet *command = imd_dicom_dataset_create(error);
    /* C-STORE-RQ (PS3.7 §9.3.1.1); priority 0 = medium. */
    bool ok = command != NULL &&
              imd_dicom_dataset_set_string(error, command, IMD_TAG_AffectedSOPClassUID, IMD_VR_UI,
                                           sop_class) &&
              set_us(error, command, IMD_TAG_CommandField, IMD_DIMSE_C_STORE_RQ) &&
              set_us(error, command, IMD_TAG_MessageID, id) &&
              set_us(error, command, IMD_TAG_Priority, 0) &&
              set_us(error, command, IMD_TAG_CommandDataSetType, 0x0001) &&
              imd_dicom_dataset_set_string(error, command, IMD_TAG_AffectedSOPInstanceUID,
                                           IMD_VR_UI, sop_instance) &&
              send_command(error, association, context_id, command, data, data_size);
    imd_dicom_dataset_destroy(command);
    *message_id = id;
    return ok;
}

bool imd__dimse_store_wait(ImdError **error, ImdAssociation *association, uint8_t context_id,
                           uint16_t message_id, ImdDimseResult *result)
{
    return take_response(error, association, context_id, message_id, IMD_DIMSE_C_STORE_RSP,
                         result);
}

bool imd__dimse_store(ImdError **error, ImdAssociation *association, uint8_t context_id,
                      const char *sop_class, const char *sop_instance, const uint8_t *data,
                      size_t data_size, ImdDimseResult *result)
{
    uint16_t id = 0;
    return imd__dimse_store_send(error, association, context_id, sop_class, sop_instance, data,
                                 data_size, &id) &&
           imd__dimse_store_wait(error, association, context_id, id, result);
}

/* ---- C-FIND and C-GET (PS3.7 §9.1.2, §9.1.3) ---- */

/* A received message decoded: its command set (destroy) and data bytes (free). */
typedef struct Message {
    uint8_t context;
    ImdDicomDataSet *command;
    uint16_t field;
    uint8_t *data;
    size_t data_size;
} Message;

static bool receive_message(ImdError **error, ImdAssociation *association, Message *m)
{
    uint8_t *bytes = NULL;
    size_t size = 0;
    memset(m, 0, sizeof *m);
    if (!imd__association_receive(error, association,
                                  imd__association_timeouts(association)->dimse_ms, &m->context,
                                  &bytes, &size, &m->data, &m->data_size)) {
        return false;
    }
    m->command = imd__dimse_decode_command(error, bytes, size, imd__association_name(association));
    free(bytes);
    if (m->command == NULL) {
        free(m->data);
        m->data = NULL;
        imd__association_fail(association);
        return false;
    }
    (void)imd__dimse_get_us(m->command, IMD_TAG_CommandField, &m->field);
    return true;
}

static void message_clear(Message *m)
{
    imd_dicom_dataset_destroy(m->command);
    free(m->data);
    memset(m, 0, sizeof *m);
}

/* The request command of C-FIND-RQ (PS3.7 §9.3.2.1) or C-GET-RQ (§9.3.3.1). */
/* A C-FIND, C-GET or C-MOVE request with its identifier; `destination`, the
 * Move Destination, only for C-MOVE (PS3.7 §9.3.4.1), else NULL. */
static bool send_request(ImdError **error, ImdAssociation *association, uint8_t context_id,
                         uint16_t field, const char *sop_class, uint16_t id,
                         const char *destination, const uint8_t *identifier,
                         size_t identifier_size)
{
    ImdDicomDataSet *command = imd_dicom_dataset_create(error);
    uint8_t *bytes = NULL;
    size_t size = 0;
    /* Command Data Set Type: any value but 0x0101 announces the identifier. */
    bool ok = command != NULL &&
              imd_dicom_dataset_set_string(error, command, IMD_TAG_AffectedSOPClassUID, IMD_VR_UI,
                                           sop_class) &&
              set_us(error, command, IMD_TAG_CommandField, field) &&
              set_us(error, command, IMD_TAG_MessageID, id) &&
              set_us(error, command, IMD_TAG_Priority, 0) &&
              set_us(error, command, IMD_TAG_CommandDataSetType, 0x0001) &&
              (destination == NULL ||
               imd_dicom_dataset_set_string(error, command, IMD_TAG_MoveDestination, IMD_VR_AE,
                                            destination)) &&
              imd__dimse_encode_command(error, command, &bytes, &size) &&
              imd__association_send(error, association, context_id, bytes, size, identifier,
                                    identifier_size);
    free(bytes);
    imd_dicom_dataset_destroy(command);
    return ok;
}

/* A response without a data set (C-STORE-RSP, C-ECHO-RSP: PS3.7 §9.3.1.2, §9.3.5.2);
 * `sop_instance` may be NULL. */
static bool send_response(ImdError **error, ImdAssociation *association, uint8_t context_id,
                          uint16_t field, const char *sop_class, const char *sop_instance,
                          uint16_t id, uint16_t status)
{
    ImdDicomDataSet *command = imd_dicom_dataset_create(error);
    uint8_t *bytes = NULL;
    size_t size = 0;
    bool ok = command != NULL &&
              imd_dicom_dataset_set_string(error, command, IMD_TAG_AffectedSOPClassUID, IMD_VR_UI,
                                           sop_class) &&
              set_us(error, command, IMD_TAG_CommandField, field) &&
              set_us(error, command, IMD_TAG_MessageIDBeingRespondedTo, id) &&
              set_us(error, command, IMD_TAG_CommandDataSetType, IMD_DIMSE_NO_DATASET) &&
              set_us(error, command, IMD_TAG_Status, status) &&
              (sop_instance == NULL ||
               imd_dicom_dataset_set_string(error, command, IMD_TAG_AffectedSOPInstanceUID,
                                            IMD_VR_UI, sop_instance)) &&
              imd__dimse_encode_command(error, command, &bytes, &size) &&
              imd__association_send(error, association, context_id, bytes, size, NULL, 0);
    free(bytes);
    imd_dicom_dataset_destroy(command);
    return ok;
}

/* A command the exchange does not expect: the association cannot go on. */
static bool unexpected_command(ImdError **error, ImdAssociation *association, Message *m,
                               const char *expected)
{
    imd_error_set(error, IMD_ERR_PROTOCOL, "%s: expected %s, the peer sent command 0x%04X",
                  imd__association_name(association), expected, m->field);
    message_clear(m);
    imd__association_fail(association);
    return false;
}

/* Check a response to request `id` on `context_id` and take its status. */
static bool check_response(ImdError **error, ImdAssociation *association, const Message *m,
                           uint8_t context_id, uint16_t id, ImdDimseResult *result)
{
    const char *name = imd__association_name(association);
    uint16_t responded = 0, status = 0;
    bool has_id = imd__dimse_get_us(m->command, IMD_TAG_MessageIDBeingRespondedTo, &responded);
    bool has_status = imd__dimse_get_us(m->command, IMD_TAG_Status, &status);
    if (!has_id || responded != id) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: a response to message %u, expected one to message %u", name, responded,
                      id);
    } else if (!has_status) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: a response without a status", name);
    } else if (m->context != context_id) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: a response on presentation context %u, the request went on %u", name,
                      m->context, context_id);
    } else {
        result->status = status;
        get_text(m->command, IMD_TAG_ErrorComment, result->comment, sizeof result->comment);
        return true;
    }
    imd__association_fail(association);
    return false;
}

bool imd__dimse_find(ImdError **error, ImdAssociation *association, uint8_t context_id,
                     const char *sop_class, const uint8_t *identifier, size_t identifier_size,
                     ImdDimseMatchFn *match, void *user, ImdDimseResult *result)
{
    const char *name = imd__association_name(association);
    uint16_t id = imd__association_next_message_id(association);
    if (!send_request(error, association, context_id, IMD_DIMSE_C_FIND_RQ, sop_class, id, NULL,
                      identifier, identifier_size)) {
        return false;
    }
    for (;;) {
        Message m;
        if (!receive_message(error, association, &m)) {
            return false;
        }
        if (m.field != IMD_DIMSE_C_FIND_RSP) {
            return unexpected_command(error, association, &m, "a C-FIND response");
        }
        if (!check_response(error, association, &m, context_id, id, result)) {
            message_clear(&m);
            return false;
        }
        /* PS3.4 C.4.1.1.4: pending responses (FF00, FF01) carry one match
         * each; the final one (success, cancel or failure) none. */
        if (imd__dimse_status_kind(result->status) == IMD_STATUS_PENDING) {
            bool ok = true;
            if (m.data == NULL) {
                imd_error_set(error, IMD_ERR_PROTOCOL,
                              "%s: a pending C-FIND response without an identifier", name);
                imd__association_fail(association);
                ok = false;
            } else {
                ok = match(error, user, m.data, m.data_size);
            }
            message_clear(&m);
            if (!ok) {
                return false;
            }
            continue;
        }
        message_clear(&m);
        return true;
    }
}

/* Answer a C-STORE-RQ the peer sent as a C-GET sub-operation (PS3.7 §9.3.1.2). */
static bool serve_store(ImdError **error, ImdAssociation *association, Message *m,
                        ImdDimseStoreFn *store, void *user)
{
    return imd__dimse_answer_store(error, association, m->context, m->command, &m->data,
                                   m->data_size, store, user);
}

/* A C-STORE-RQ on a Storage SCP's association or inside a C-GET (PS3.7 §9.3.1). */
bool imd__dimse_answer_store(ImdError **error, ImdAssociation *association, uint8_t context,
                             const ImdDicomDataSet *request, uint8_t **request_data,
                             size_t data_size, ImdDimseStoreFn *store, void *user)
{
    Message message = {context, (ImdDicomDataSet *)(uintptr_t)request, 0, *request_data,
                       data_size};
    Message *m = &message;
    *request_data = NULL; /* taken */
    const char *name = imd__association_name(association);
    char sop_class[IMD_NET_UID], sop_instance[IMD_NET_UID];
    uint16_t id = 0;
    get_text(m->command, IMD_TAG_AffectedSOPClassUID, sop_class, sizeof sop_class);
    get_text(m->command, IMD_TAG_AffectedSOPInstanceUID, sop_instance, sizeof sop_instance);
    const char *abstract = NULL, *syntax = NULL;
    if (!imd__dimse_get_us(m->command, IMD_TAG_MessageID, &id) || m->data == NULL ||
        sop_instance[0] == '\0' ||
        !imd__association_context_syntaxes(association, m->context, &abstract, &syntax)) {
        imd_error_set(error, IMD_ERR_PROTOCOL,
                      "%s: a C-STORE request without %s", name,
                      m->data == NULL ? "a data set" : "a message ID or SOP instance UID");
        free(m->data);
        imd__association_fail(association);
        return false;
    }
    uint16_t status = 0;
    uint8_t *data = m->data;
    m->data = NULL; /* the callback takes it */
    if (!store(error, user, sop_class, sop_instance, syntax, data, m->data_size, &status)) {
        imd__association_fail(association);
        return false;
    }
    return send_response(error, association, m->context, IMD_DIMSE_C_STORE_RSP, sop_class,
                         sop_instance, id, status);
}

/*
 * A C-GET or C-MOVE response (PS3.4 C.4.2.1.4, C.4.3.1.4), consumed: checked
 * against the request, its sub-operation counts taken (remaining, completed,
 * failed, warning); `done` when it is the final one. A final response may
 * carry a Failed SOP Instance UID List (C.4.3.1.3.1); the counts say enough.
 */
static bool take_retrieve_response(ImdError **error, ImdAssociation *association, Message *m,
                                   uint8_t context_id, uint16_t id, ImdDimseResult *result,
                                   uint16_t counts[4], bool *done)
{
    static const uint32_t count_tags[4] = {
        IMD_TAG_NumberOfRemainingSuboperations, IMD_TAG_NumberOfCompletedSuboperations,
        IMD_TAG_NumberOfFailedSuboperations, IMD_TAG_NumberOfWarningSuboperations};
    bool ok = check_response(error, association, m, context_id, id, result);
    for (size_t i = 0; ok && i < 4; i++) {
        (void)imd__dimse_get_us(m->command, count_tags[i], &counts[i]);
    }
    message_clear(m);
    *done = ok && imd__dimse_status_kind(result->status) != IMD_STATUS_PENDING;
    return ok;
}

bool imd__dimse_get(ImdError **error, ImdAssociation *association, uint8_t context_id,
                    const char *sop_class, const uint8_t *identifier, size_t identifier_size,
                    ImdDimseStoreFn *store, void *user, ImdDimseResult *result,
                    uint16_t counts[4])
{
    uint16_t id = imd__association_next_message_id(association);
    memset(counts, 0, 4 * sizeof counts[0]);
    if (!send_request(error, association, context_id, IMD_DIMSE_C_GET_RQ, sop_class, id, NULL,
                      identifier, identifier_size)) {
        return false;
    }
    for (;;) {
        Message m;
        if (!receive_message(error, association, &m)) {
            return false;
        }
        if (m.field == IMD_DIMSE_C_STORE_RQ) {
            bool ok = serve_store(error, association, &m, store, user);
            message_clear(&m);
            if (!ok) {
                return false;
            }
            continue;
        }
        if (m.field != IMD_DIMSE_C_GET_RSP) {
            return unexpected_command(error, association, &m,
                                      "a C-GET response or C-STORE request");
        }
        bool done = false;
        if (!take_retrieve_response(error, association, &m, context_id, id, result, counts,
                                    &done)) {
            return false;
        }
        if (done) {
            return true;
        }
    }
}

/* ---- the SCP's answers and C-MOVE ---- */

bool imd__dimse_answer_echo(ImdError **error, ImdAssociation *association, uint8_t context,
                            const ImdDicomDataSet *request)
{
    uint16_t id = 0;
    if (!imd__dimse_get_us(request, IMD_TAG_MessageID, &id)) {
        imd_error_set(error, IMD_ERR_PROTOCOL, "%s: a C-ECHO request without a message ID",
                      imd__association_name(association));
        imd__association_fail(association);
        return false;
    }
    return send_response(error, association, context, IMD_DIMSE_C_ECHO_RSP,
                         IMD_NET_VERIFICATION_SOP_CLASS, NULL, id, 0x0000);
}

bool imd__dimse_move(ImdError **error, ImdAssociation *association, uint8_t context_id,
                     const char *sop_class, const char *destination, const uint8_t *identifier,
                     size_t identifier_size, ImdDimseResult *result, uint16_t counts[4])
{
    uint16_t id = imd__association_next_message_id(association);
    memset(counts, 0, 4 * sizeof counts[0]);
    if (!send_request(error, association, context_id, IMD_DIMSE_C_MOVE_RQ, sop_class, id,
                      destination, identifier, identifier_size)) {
        return false;
    }
    for (;;) {
        Message m;
        if (!receive_message(error, association, &m)) {
            return false;
        }
        if (m.field != IMD_DIMSE_C_MOVE_RSP) {
            return unexpected_command(error, association, &m, "a C-MOVE response");
        }
        bool done = false;
        if (!take_retrieve_response(error, association, &m, context_id, id, result, counts,
                                    &done)) {
            return false;
        }
        if (done) {
            return true;
        }
    }
}
