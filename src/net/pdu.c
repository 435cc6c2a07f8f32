/*
 * pdu.c: the DICOM upper layer's PDUs (PS3.8 §9.3), encoded and decoded.
 *
 * A PDU is a 6-byte header (type, reserved, big-endian 32-bit length of the
 * rest) and its variable field. Associate PDUs hold items, each a type byte,
 * a reserved byte and a big-endian 16-bit length (PS3.8 §9.3.2). Decoding
 * walks a cursor that never reads past the bytes given: every length is
 * compared with what is left before it is used, and nothing is allocated on
 * a length's word except the user identity fields, which are bounded by the
 * 16-bit item length.
 */
#define _POSIX_C_SOURCE 200809L
#include "net/net.h"

#include <stdio.h>

/* ---- decoding ---- */

typedef struct Cursor {
    const uint8_t *data;
    size_t size, at;
    ImdError **error;
    const char *name;
    const char *what; /* the PDU being decoded, for messages */
} Cursor;

static bool fail(Cursor *c, const char *reason)
{
    imd_error_set(c->error, IMD_ERR_PROTOCOL, "%s: malformed %s: %s", c->name, c->what, reason);
    return false;
}

static bool need(Cursor *c, size_t n, const char *field)
{
    if (c->size - c->at < n) {
        char text[160];
        snprintf(text, sizeof text, "%s needs %zu bytes at offset %zu, %zu left", field, n,
                 c->at, c->size - c->at);
        return fail(c, text);
    }
    return true;
}

/*
 * Copy a UID or AE title field: trailing spaces and NULs dropped (PS3.8
 * Annex F: UIDs in items are not padded, but peers pad them; AE titles are
 * space padded, PS3.5 §6.2), only printable ASCII kept.
 */
static bool copy_text(Cursor *c, const uint8_t *bytes, size_t length, char *out, size_t capacity,
                      const char *field)
{
    while (length > 0 && (bytes[length - 1] == ' ' || bytes[length - 1] == '\0')) {
        length--;
    }
    size_t start = 0;
    while (start < length && bytes[start] == ' ') {
        start++; /* AE titles may carry leading spaces, which are not significant */
    }
    if (length - start >= capacity) {
        char text[96];
        snprintf(text, sizeof text, "%s of %zu characters (at most %zu)", field, length - start,
                 capacity - 1);
        return fail(c, text);
    }
    for (size_t i = start; i < length; i++) {
        if (bytes[i] < 0x20 || bytes[i] > 0x7e) {
            char text[96];
            snprintf(text, sizeof text, "%s holds byte 0x%02x", field, bytes[i]);
            return fail(c, text);
        }
        out[i - start] = (char)bytes[i];
    }
    out[length - start] = '\0';
    return true;
}

void imd__net_associate_clear(ImdNetAssociate *associate)
{
    free(associate->identity_primary);
    free(associate->identity_secondary);
    memset(associate, 0, sizeof *associate);
}

/* The header of a whole PDU of `type`: its length must match the bytes. */
static bool check_header(Cursor *c, uint8_t type)
{
    if (!need(c, IMD_PDU_HEADER, "the PDU header")) {
        return false;
    }
    if (c->data[0] != type) {
        char text[64];
        snprintf(text, sizeof text, "PDU type 0x%02x, expected 0x%02x", c->data[0], type);
        return fail(c, text);
    }
    uint32_t length = imd__load_be32(c->data + 2);
    if ((size_t)length != c->size - IMD_PDU_HEADER) {
        char text[96];
        snprintf(text, sizeof text, "PDU length %u, but %zu bytes follow the header", length,
                 c->size - IMD_PDU_HEADER);
        return fail(c, text);
    }
    c->at = IMD_PDU_HEADER;
    return true;
}

/* Read an item's header: type and length, the item's bytes within the cursor. */
static bool item_header(Cursor *c, uint8_t *type, size_t *length)
{
    if (!need(c, 4, "an item header")) {
        return false;
    }
    *type = c->data[c->at];
    *length = imd__load_be16(c->data + c->at + 2);
    c->at += 4;
    return need(c, *length, "an item");
}

static bool decode_context_rq(Cursor *c, size_t end, ImdNetContext *pc)
{
    bool abstract = false;
    while (c->at < end) {
        uint8_t type;
        size_t length;
        Cursor sub = *c;
        sub.size = end;
        if (!item_header(&sub, &type, &length)) {
            return false;
        }
        const uint8_t *value = c->data + sub.at;
        if (type == 0x30) { /* Abstract Syntax Sub-Item (PS3.8 §9.3.2.2.1) */
            if (abstract) {
                return fail(c, "two abstract syntaxes in one presentation context");
            }
            abstract = true;
            if (!copy_text(c, value, length, pc->abstract_syntax, IMD_NET_UID,
                           "abstract syntax")) {
                return false;
            }
        } else if (type == 0x40) { /* Transfer Syntax Sub-Item (§9.3.2.2.2) */
            if (pc->transfer_syntax_count == IMD_NET_MAX_SYNTAXES) {
                imd_error_set(c->error, IMD_ERR_LIMIT,
                              "%s: %s: more than %d transfer syntaxes in context %u", c->name,
                              c->what, IMD_NET_MAX_SYNTAXES, pc->id);
                return false;
            }
            if (!copy_text(c, value, length, pc->transfer_syntaxes[pc->transfer_syntax_count++],
                           IMD_NET_UID, "transfer syntax")) {
                return false;
            }
        } else {
            char text[80];
            snprintf(text, sizeof text, "sub-item 0x%02x in a presentation context", type);
            return fail(c, text);
        }
        c->at = sub.at + length;
    }
    if (!abstract || pc->transfer_syntax_count == 0) {
        return fail(c, "a presentation context without abstract or transfer syntax");
    }
    return true;
}

static bool decode_context_ac(Cursor *c, size_t end, ImdNetContext *pc)
{
    bool seen = false;
    while (c->at < end) {
        uint8_t type;
        size_t length;
        Cursor sub = *c;
        sub.size = end;
        if (!item_header(&sub, &type, &length)) {
            return false;
        }
        if (type != 0x40) {
            char text[80];
            snprintf(text, sizeof text, "sub-item 0x%02x in an accepted presentation context",
                     type);
            return fail(c, text);
        }
        if (seen) {
            return fail(c, "two transfer syntaxes in an accepted presentation context");
        }
        if (!copy_text(c, c->data + sub.at, length, pc->transfer_syntaxes[0], IMD_NET_UID,
                       "transfer syntax")) {
            return false;
        }
        /* An empty one (a rejected context's placeholder) counts as none. */
        pc->transfer_syntax_count = pc->transfer_syntaxes[0][0] != '\0';
        seen = true;
        c->at = sub.at + length;
    }
    /* PS3.8 §9.3.3.2: the sub-item is there but not significant when the
     * context is rejected; an acceptance without one is useless. */
    if (pc->result == IMD_PC_ACCEPTANCE && pc->transfer_syntax_count == 0) {
        return fail(c, "an accepted presentation context without transfer syntax");
    }
    return true;
}

static char *copy_bytes(Cursor *c, const uint8_t *bytes, size_t length)
{
    char *copy = imd__malloc(c->error, length + 1); /* length < 65536: an item's */
    if (copy != NULL) {
        memcpy(copy, bytes, length);
        copy[length] = '\0';
    }
    return copy;
}

static bool decode_user_info(Cursor *c, size_t end, ImdNetAssociate *out, bool request)
{
    while (c->at < end) {
        uint8_t type;
        size_t length;
        Cursor sub = *c;
        sub.size = end;
        if (!item_header(&sub, &type, &length)) {
            return false;
        }
        const uint8_t *v = c->data + sub.at;
        switch (type) {
        case 0x51: /* Maximum Length (PS3.8 D.1) */
            if (length != 4) {
                return fail(c, "a maximum length item not of 4 bytes");
            }
            out->max_length = imd__load_be32(v);
            break;
        case 0x52: /* Implementation Class UID (PS3.7 D.3.3.2) */
            if (!copy_text(c, v, length, out->implementation_class_uid, IMD_NET_UID,
                           "implementation class UID")) {
                return false;
            }
            break;
        case 0x53: /* Asynchronous Operations Window (PS3.7 D.3.3.3) */
            if (length != 4) {
                return fail(c, "an asynchronous operations window item not of 4 bytes");
            }
            out->async_invoked = imd__load_be16(v);
            out->async_performed = imd__load_be16(v + 2);
            break;
        case 0x54: { /* SCP/SCU Role Selection (PS3.7 D.3.3.4) */
            if (length < 4) {
                return fail(c, "a role selection item shorter than 4 bytes");
            }
            size_t uid_length = imd__load_be16(v);
            if (uid_length + 4 != length) {
                return fail(c, "a role selection item whose UID length disagrees with it");
            }
            if (out->role_count == IMD_NET_MAX_ROLES) {
                imd_error_set(c->error, IMD_ERR_LIMIT, "%s: %s: more than %d role selections",
                              c->name, c->what, IMD_NET_MAX_ROLES);
                return false;
            }
            ImdNetRole *role = &out->roles[out->role_count++];
            if (!copy_text(c, v + 2, uid_length, role->sop_class, IMD_NET_UID,
                           "role selection SOP class")) {
                return false;
            }
            role->scu = v[2 + uid_length] != 0;
            role->scp = v[3 + uid_length] != 0;
            break;
        }
        case 0x55: /* Implementation Version Name (PS3.7 D.3.3.2) */
            if (!copy_text(c, v, length, out->implementation_version,
                           sizeof out->implementation_version, "implementation version name")) {
                return false;
            }
            break;
        case 0x58: { /* User Identity Negotiation, RQ (PS3.7 D.3.3.7.1) */
            if (!request) {
                return fail(c, "a user identity request item in an A-ASSOCIATE-AC");
            }
            if (length < 6 || out->identity_primary != NULL) {
                return fail(c, "a short or repeated user identity item");
            }
            size_t primary = imd__load_be16(v + 2);
            if (4 + primary + 2 > length) {
                return fail(c, "a user identity primary field past its item");
            }
            size_t secondary = imd__load_be16(v + 4 + primary);
            if (4 + primary + 2 + secondary != length) {
                return fail(c, "a user identity item whose field lengths disagree with it");
            }
            out->identity_type = v[0];
            out->identity_response_requested = v[1] != 0;
            out->identity_primary = copy_bytes(c, v + 4, primary);
            out->identity_secondary = copy_bytes(c, v + 6 + primary, secondary);
            out->identity_primary_length = primary;
            out->identity_secondary_length = secondary;
            if (out->identity_primary == NULL || out->identity_secondary == NULL) {
                return false;
            }
            break;
        }
        case 0x59: { /* User Identity Negotiation, AC (PS3.7 D.3.3.7.2) */
            if (request) {
                return fail(c, "a user identity response item in an A-ASSOCIATE-RQ");
            }
            if (length < 2 || out->identity_primary != NULL ||
                (size_t)imd__load_be16(v) + 2 != length) {
                return fail(c, "a user identity response whose length disagrees with it");
            }
            out->identity_primary = copy_bytes(c, v + 2, length - 2);
            out->identity_primary_length = length - 2;
            out->identity_answered = true;
            if (out->identity_primary == NULL) {
                return false;
            }
            break;
        }
        default:
            /* SOP Class Extended/Common Extended Negotiation (0x56, 0x57) and
             * unknown sub-items are skipped (PS3.7 D.3.3: a peer ignores what
             * it does not support). */
            break;
        }
        c->at = sub.at + length;
    }
    return true;
}

bool imd__pdu_decode_associate(ImdError **error, const uint8_t *pdu, size_t size,
                               ImdNetAssociate *out, const char *name)
{
    imd__net_associate_clear(out);
    bool request = size > 0 && pdu[0] == IMD_PDU_ASSOCIATE_RQ;
    Cursor c = {pdu, size, 0, error, name, request ? "A-ASSOCIATE-RQ" : "A-ASSOCIATE-AC"};
    if (!check_header(&c, request ? IMD_PDU_ASSOCIATE_RQ : IMD_PDU_ASSOCIATE_AC) ||
        !need(&c, 68, "the fixed fields")) {
        return false;
    }
    /* Protocol version: bit 0 set (PS3.8 §9.3.2, Table 9-11). */
    if ((imd__load_be16(pdu + c.at) & 1u) == 0) {
        return fail(&c, "protocol version without bit 0");
    }
    if (!copy_text(&c, pdu + c.at + 4, 16, out->called_aet, sizeof out->called_aet,
                   "called AE title") ||
        !copy_text(&c, pdu + c.at + 20, 16, out->calling_aet, sizeof out->calling_aet,
                   "calling AE title")) {
        return false;
    }
    c.at += 68;
    bool application = false, user = false;
    while (c.at < c.size) {
        uint8_t type;
        size_t length;
        if (!item_header(&c, &type, &length)) {
            return false;
        }
        size_t end = c.at + length;
        if (type == 0x10) { /* Application Context Item (PS3.8 §9.3.2.1) */
            if (application) {
                return fail(&c, "two application context items");
            }
            application = true;
            if (!copy_text(&c, pdu + c.at, length, out->application_context, IMD_NET_UID,
                           "application context name")) {
                return false;
            }
        } else if (type == (request ? 0x20 : 0x21)) { /* Presentation Context (§9.3.2.2, §9.3.3.2) */
            if (length < 4) {
                return fail(&c, "a presentation context item shorter than 4 bytes");
            }
            if (out->context_count == IMD_NET_MAX_CONTEXTS) {
                imd_error_set(error, IMD_ERR_LIMIT, "%s: %s: more than %d presentation contexts",
                              name, c.what, IMD_NET_MAX_CONTEXTS);
                return false;
            }
            ImdNetContext *pc = &out->contexts[out->context_count++];
            pc->id = pdu[c.at];
            pc->result = pdu[c.at + 2];
            if (request) {
                pc->result = 0;
            } else if (pc->result > IMD_PC_TRANSFER_NOT_SUPPORTED) {
                return fail(&c, "a presentation context result above 4");
            }
            c.at += 4;
            if (!(request ? decode_context_rq(&c, end, pc) : decode_context_ac(&c, end, pc))) {
                return false;
            }
        } else if (type == 0x50) { /* User Information (§9.3.2.3) */
            if (user) {
                return fail(&c, "two user information items");
            }
            user = true;
            if (!decode_user_info(&c, end, out, request)) {
                return false;
            }
        } else {
            char text[48];
            snprintf(text, sizeof text, "item type 0x%02x", type);
            return fail(&c, text);
        }
        c.at = end;
    }
    if (!application) {
        return fail(&c, "no application context item");
    }
    if (request && !user) {
        return fail(&c, "no user information item"); /* PS3.8 §9.3.2: required in an RQ */
    }
    return true;
}

bool imd__pdu_decode_reject(ImdError **error, const uint8_t *pdu, size_t size, ImdNetReject *out,
                            const char *name)
{
    Cursor c = {pdu, size, 0, error, name, "A-ASSOCIATE-RJ"};
    if (!check_header(&c, IMD_PDU_ASSOCIATE_RJ)) {
        return false;
    }
    if (size != IMD_PDU_HEADER + 4) {
        return fail(&c, "length not 4");
    }
    out->result = pdu[7];
    out->source = pdu[8];
    out->reason = pdu[9];
    return true;
}

const char *imd__net_reject_text(const ImdNetReject *reject, char *buffer, size_t size)
{
    /* PS3.8 Table 9-21. */
    const char *reason = "reason not specified";
    if (reject->source == 1) {
        static const char *const user[] = {NULL, "no reason given",
                                           "application context name not supported",
                                           "calling AE title not recognized", NULL, NULL, NULL,
                                           "called AE title not recognized"};
        if (reject->reason < 8 && user[reject->reason] != NULL) {
            reason = user[reject->reason];
        }
    } else if (reject->source == 2) {
        reason = reject->reason == 2 ? "protocol version not supported" : "no reason given";
    } else if (reject->source == 3) {
        reason = reject->reason == 1   ? "temporary congestion"
                 : reject->reason == 2 ? "local limit exceeded"
                                       : reason;
    }
    const char *source = reject->source == 1   ? "the called AE (service user)"
                         : reject->source == 2 ? "the service provider (ACSE)"
                         : reject->source == 3 ? "the service provider (presentation)"
                                               : "an unknown source";
    snprintf(buffer, size, "association rejected %s by %s: %s (result %u, source %u, reason %u)",
             reject->result == 2 ? "transiently" : "permanently", source, reason, reject->result,
             reject->source, reject->reason);
    return buffer;
}

bool imd__pdu_decode_abort(ImdError **error, const uint8_t *pdu, size_t size, uint8_t *source,
                           uint8_t *reason, const char *name)
{
    Cursor c = {pdu, size, 0, error, name, "A-ABORT"};
    if (!check_header(&c, IMD_PDU_ABORT)) {
        return false;
    }
    if (size != IMD_PDU_HEADER + 4) {
        return fail(&c, "length not 4");
    }
    *source = pdu[8];
    *reason = pdu[9];
    return true;
}

const char *imd__net_abort_text(uint8_t source, uint8_t reason, char *buffer, size_t size)
{
    /* PS3.8 Table 9-26. */
    static const char *const reasons[] = {"reason not specified",
                                          "unrecognized PDU",
                                          "unexpected PDU",
                                          NULL,
                                          "unrecognized PDU parameter",
                                          "unexpected PDU parameter",
                                          "invalid PDU parameter value"};
    const char *why = reason < 7 && reasons[reason] != NULL ? reasons[reason] : "unknown reason";
    if (source == 0) {
        why = "by the service user";
    }
    snprintf(buffer, size, "the peer aborted the association (%s%s; source %u, reason %u)",
             source == 2 ? "service provider: " : "", why, source, reason);
    return buffer;
}

/* ---- P-DATA-TF ---- */

bool imd__pdu_decode_data(ImdError **error, const uint8_t *pdu, size_t size,
                          bool (*visit)(ImdError **error, void *user, const ImdNetPdv *pdv),
                          void *user, const char *name)
{
    Cursor c = {pdu, size, 0, error, name, "P-DATA-TF"};
    if (!check_header(&c, IMD_PDU_DATA_TF)) {
        return false;
    }
    if (c.at == c.size) {
        return fail(&c, "no presentation data value");
    }
    while (c.at < c.size) {
        /* PDV item: 4-byte length, context ID, message control header (PS3.8 §9.3.5.1). */
        if (!need(&c, 4, "a PDV length")) {
            return false;
        }
        size_t length = imd__load_be32(pdu + c.at);
        c.at += 4;
        if (length < 2) {
            return fail(&c, "a PDV shorter than its 2-byte header");
        }
        if (!need(&c, length, "a PDV")) {
            return false;
        }
        uint8_t header = pdu[c.at + 1];
        if ((header & 0xfc) != 0) {
            return fail(&c, "reserved bits set in a message control header (PS3.8 E.2)");
        }
        if ((pdu[c.at] & 1u) == 0) {
            return fail(&c, "an even presentation context ID");
        }
        ImdNetPdv pdv = {pdu[c.at], (header & 1u) != 0, (header & 2u) != 0, pdu + c.at + 2,
                         length - 2};
        if (!visit(error, user, &pdv)) {
            return false;
        }
        c.at += length;
    }
    return true;
}

void imd__pdu_data_header(uint8_t out[12], uint8_t context_id, bool command, bool last,
                          uint32_t data_size)
{
    uint32_t pdv = data_size + 2, pdu = pdv + 4;
    out[0] = IMD_PDU_DATA_TF;
    out[1] = 0;
    out[2] = (uint8_t)(pdu >> 24);
    out[3] = (uint8_t)(pdu >> 16);
    out[4] = (uint8_t)(pdu >> 8);
    out[5] = (uint8_t)pdu;
    out[6] = (uint8_t)(pdv >> 24);
    out[7] = (uint8_t)(pdv >> 16);
    out[8] = (uint8_t)(pdv >> 8);
    out[9] = (uint8_t)pdv;
    out[10] = context_id;
    out[11] = (uint8_t)((command ? 1u : 0u) | (last ? 2u : 0u));
}

void imd__pdu_encode_short(uint8_t type, uint8_t byte3, uint8_t byte4, uint8_t out[10])
{
    memset(out, 0, 10);
    out[0] = type;
    out[5] = 4;
    out[8] = byte3;
    out[9] = byte4;
}

/* ---- encoding associate PDUs ---- */

typedef struct Out {
    uint8_t *data;
    size_t size, capacity;
    bool failed;
} Out;

static void put(Out *o, const void *bytes, size_t n)
{
    if (o->failed) {
        return;
    }
    if (o->size + n > o->capacity) {
        size_t capacity = o->capacity > 0 ? o->capacity : 1024;
        while (capacity < o->size + n) {
            capacity *= 2;
        }
        uint8_t *grown = realloc(o->data, capacity);
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

static void put_u8(Out *o, uint8_t v)
{
    put(o, &v, 1);
}

static void put_be16(Out *o, size_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 2);
}

static void put_be32(Out *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, 4);
}

static void set_be16(Out *o, size_t at, size_t v)
{
    if (!o->failed) {
        o->data[at] = (uint8_t)(v >> 8);
        o->data[at + 1] = (uint8_t)v;
    }
}

/* A text item or sub-item: type, reserved, 16-bit length, the text unpadded. */
static void put_text_item(Out *o, uint8_t type, const char *text)
{
    put_u8(o, type);
    put_u8(o, 0);
    put_be16(o, strlen(text));
    put(o, text, strlen(text));
}

static void put_aet(Out *o, const char *aet)
{
    char field[16];
    memset(field, ' ', sizeof field); /* space padded to 16 (PS3.8 Table 9-11) */
    memcpy(field, aet, strnlen(aet, 16));
    put(o, field, 16);
}

static bool valid_text(const char *text, size_t max)
{
    size_t n = strnlen(text, max + 1);
    for (size_t i = 0; i < n; i++) {
        if (text[i] < 0x20 || text[i] > 0x7e) {
            return false;
        }
    }
    return n <= max;
}

bool imd__pdu_encode_associate(ImdError **error, uint8_t type, const ImdNetAssociate *a,
                               uint8_t **pdu, size_t *size)
{
    bool request = type == IMD_PDU_ASSOCIATE_RQ;
    if (!valid_text(a->called_aet, 16) || !valid_text(a->calling_aet, 16) ||
        a->called_aet[0] == '\0' || a->calling_aet[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "AE titles \"%s\", \"%s\": 1 to 16 printable ASCII characters (PS3.5 §6.2)",
                      a->called_aet, a->calling_aet);
        return false;
    }
    if (a->context_count == 0 || a->context_count > IMD_NET_MAX_CONTEXTS) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%zu presentation contexts (1 to %d)",
                      a->context_count, IMD_NET_MAX_CONTEXTS);
        return false;
    }
    Out o = {0};
    put_u8(&o, type);
    put_u8(&o, 0);
    put_be32(&o, 0); /* set at the end */
    put_be16(&o, 1); /* protocol version 1 */
    put_be16(&o, 0);
    put_aet(&o, a->called_aet);
    put_aet(&o, a->calling_aet);
    uint8_t reserved[32] = {0};
    put(&o, reserved, sizeof reserved);
    put_text_item(&o, 0x10, a->application_context[0] != '\0' ? a->application_context
                                                               : IMD_NET_APPLICATION_CONTEXT);
    for (size_t i = 0; i < a->context_count; i++) {
        const ImdNetContext *pc = &a->contexts[i];
        size_t start = o.size;
        put_u8(&o, request ? 0x20 : 0x21);
        put_u8(&o, 0);
        put_be16(&o, 0);
        put_u8(&o, pc->id);
        put_u8(&o, 0);
        put_u8(&o, request ? 0 : pc->result);
        put_u8(&o, 0);
        if (request) {
            put_text_item(&o, 0x30, pc->abstract_syntax);
        }
        size_t count = request ? pc->transfer_syntax_count : (pc->transfer_syntax_count > 0);
        for (size_t t = 0; t < count; t++) {
            put_text_item(&o, 0x40, pc->transfer_syntaxes[t]);
        }
        if (!request && count == 0) {
            put_text_item(&o, 0x40, ""); /* rejected: the sub-item is not significant */
        }
        set_be16(&o, start + 2, o.size - start - 4);
    }
    /* User Information (PS3.8 §9.3.2.3, PS3.7 Annex D.3.3). */
    size_t user = o.size;
    put_u8(&o, 0x50);
    put_u8(&o, 0);
    put_be16(&o, 0);
    put_u8(&o, 0x51);
    put_u8(&o, 0);
    put_be16(&o, 4);
    put_be32(&o, a->max_length);
    put_text_item(&o, 0x52, a->implementation_class_uid[0] != '\0' ? a->implementation_class_uid
                                                                   : IMD_NET_IMPLEMENTATION_CLASS_UID);
    if (a->async_invoked != 0 || a->async_performed != 0) {
        put_u8(&o, 0x53);
        put_u8(&o, 0);
        put_be16(&o, 4);
        put_be16(&o, a->async_invoked);
        put_be16(&o, a->async_performed);
    }
    for (size_t r = 0; r < a->role_count; r++) {
        size_t n = strlen(a->roles[r].sop_class);
        put_u8(&o, 0x54);
        put_u8(&o, 0);
        put_be16(&o, n + 4);
        put_be16(&o, n);
        put(&o, a->roles[r].sop_class, n);
        put_u8(&o, a->roles[r].scu);
        put_u8(&o, a->roles[r].scp);
    }
    put_text_item(&o, 0x55, a->implementation_version[0] != '\0' ? a->implementation_version
                                                                 : IMD_IMPLEMENTATION_VERSION_NAME);
    if (request && a->identity_type != 0) {
        size_t p = a->identity_primary_length, s = a->identity_secondary_length;
        if (p > 0xffff || s > 0xffff || 6 + p + s > 0xffff) {
            free(o.data);
            imd_error_set(error, IMD_ERR_INVALID_ARG, "user identity fields too long");
            return false;
        }
        put_u8(&o, 0x58);
        put_u8(&o, 0);
        put_be16(&o, 6 + p + s);
        put_u8(&o, a->identity_type);
        put_u8(&o, a->identity_response_requested);
        put_be16(&o, p);
        put(&o, a->identity_primary, p);
        put_be16(&o, s);
        put(&o, a->identity_secondary, s);
    } else if (!request && a->identity_answered) {
        size_t p = a->identity_primary_length;
        put_u8(&o, 0x59);
        put_u8(&o, 0);
        put_be16(&o, p + 2);
        put_be16(&o, p);
        put(&o, a->identity_primary, p);
    }
    if (o.size - user - 4 > 0xffff) {
        free(o.data);
        imd_error_set(error, IMD_ERR_INVALID_ARG, "user information item too long");
        return false;
    }
    set_be16(&o, user + 2, o.size - user - 4);
    if (o.failed) {
        free(o.data);
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory encoding an association PDU");
        return false;
    }
    uint32_t length = (uint32_t)(o.size - IMD_PDU_HEADER);
    o.data[2] = (uint8_t)(length >> 24);
    o.data[3] = (uint8_t)(length >> 16);
    o.data[4] = (uint8_t)(length >> 8);
    o.data[5] = (uint8_t)length;
    *pdu = o.data;
    *size = o.size;
    return true;
}
