/*
 * to_json.c: a data set in the DICOM JSON model (PS3.18 Annex F, F.2).
 *
 * Checked element for element against pydicom's Dataset.to_json_dict()
 * (tests/integration/dicom_dump_pydicom.sh). Where the standard and pydicom
 * 2.3 differ, the standard is followed (docs/dicom_dump.md lists these):
 *  - Group Length elements (gggg,0000) are left out (F.2.2); pydicom keeps them;
 *  - an empty value of a multi-valued element is null (F.2.5); pydicom gives "";
 *  - a PN value holds its non-empty component groups only (F.2.2); pydicom
 *    always gives "Alphabetic", and an empty group when '=' is present;
 *  - a sequence without items has no "Value" (F.2.5); pydicom gives [];
 *  - InlineBinary holds the value in little-endian order, as the data set
 *    keeps it; pydicom gives the bytes of a big-endian file unswapped.
 * IS and DS are JSON numbers; text that is not a number is an error (CORRUPT,
 * naming the tag), as it is in pydicom. A number beyond a double (DS) or a
 * 64-bit integer (IS) is given as a JSON string, which F.2.3 allows.
 * Encapsulated pixel data is the InlineBinary of its items as stored: the
 * offset table item and the fragment items, each with item tag and length,
 * without the sequence delimiter (what pydicom holds as the value).
 */
#include "dicom_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* Deeper nesting than a parsed data set can have (max_depth is at most this). */
#define JSON_MAX_DEPTH 4096

typedef struct Writer {
    ImdText text;
    ImdError **error;
    bool failed; /* an error was set (the text may also have failed for memory) */
    unsigned flags;
} Writer;

static bool write_dataset(Writer *w, const ImdDicomDataSet *dataset, bool top, unsigned depth);

/* Set "(GGGG,EEEE): <message><detail>"; returns false. */
static bool fail(Writer *w, ImdErrorCode code, uint32_t tag, const char *message,
                 const char *detail)
{
    imd_error_set(w->error, code, "(%04X,%04X): %s%s", (unsigned)IMD_TAG_GROUP(tag),
                  (unsigned)IMD_TAG_ELEMENT(tag), message, detail != NULL ? detail : "");
    w->failed = true;
    return false;
}

/* ---- base64 (RFC 4648, standard alphabet, padded), fed in pieces ---- */

typedef struct Base64 {
    ImdText *text;
    uint8_t pending[3];
    size_t pending_count;
    char out[1024];
    size_t out_count;
} Base64;

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_flush(Base64 *b)
{
    imd__text_append(b->text, b->out, b->out_count);
    b->out_count = 0;
}

static void base64_quad(Base64 *b, const uint8_t *in, size_t count)
{
    if (b->out_count + 4 > sizeof b->out) {
        base64_flush(b);
    }
    uint32_t bits = (uint32_t)in[0] << 16;
    if (count > 1) {
        bits |= (uint32_t)in[1] << 8;
    }
    if (count > 2) {
        bits |= in[2];
    }
    char *o = b->out + b->out_count;
    o[0] = base64_alphabet[(bits >> 18) & 63];
    o[1] = base64_alphabet[(bits >> 12) & 63];
    o[2] = count > 1 ? base64_alphabet[(bits >> 6) & 63] : '=';
    o[3] = count > 2 ? base64_alphabet[bits & 63] : '=';
    b->out_count += 4;
}

static void base64_feed(Base64 *b, const uint8_t *data, size_t size)
{
    while (size > 0 && b->pending_count > 0 && b->pending_count < 3) {
        b->pending[b->pending_count++] = *data++;
        size--;
        if (b->pending_count == 3) {
            base64_quad(b, b->pending, 3);
            b->pending_count = 0;
        }
    }
    for (; size >= 3; data += 3, size -= 3) {
        base64_quad(b, data, 3);
    }
    for (size_t i = 0; i < size; i++) {
        b->pending[b->pending_count++] = data[i];
    }
}

static void base64_finish(Base64 *b)
{
    if (b->pending_count > 0) {
        base64_quad(b, b->pending, b->pending_count);
        b->pending_count = 0;
    }
    base64_flush(b);
}

/* ---- element values ---- */

static void put_key(Writer *w, uint32_t tag, const char *vr)
{
    char key[48];
    (void)snprintf(key, sizeof key, "\"%08" PRIX32 "\":{\"vr\":\"%s\"", tag, vr);
    imd__text_puts(&w->text, key);
}

/* The VR written: dictionary choices resolved, sequences (also UN ones) as SQ. */
static ImdVR json_vr(const ImdDicomElement *element)
{
    if (element->vr == IMD_VR_SQ || element->item_count > 0) {
        return IMD_VR_SQ;
    }
    switch (element->vr) {
    case IMD_VR_OB_OW:
        return element->encapsulated ? IMD_VR_OB : IMD_VR_OW;
    case IMD_VR_US_SS:
        return IMD_VR_US;
    case IMD_VR_US_SS_OW:
        return IMD_VR_OW;
    default:
        break;
    }
    if (element->vr < IMD_VR_AE || element->vr > IMD_VR_UV) {
        return IMD_VR_UN;
    }
    return element->vr;
}

static bool is_multi_valued_text(ImdVR vr)
{
    return vr != IMD_VR_LT && vr != IMD_VR_ST && vr != IMD_VR_UT && vr != IMD_VR_UR;
}

static void write_inline_binary(Writer *w, const ImdDicomElement *element)
{
    Base64 b = {.text = &w->text};
    imd__text_puts(&w->text, ",\"InlineBinary\":\"");
    if (imd_dicom_element_is_encapsulated(element)) {
        /* The item stream: offset table item, then one item per fragment. */
        size_t count = imd_dicom_element_fragment_count(element);
        for (size_t i = 0; i <= count; i++) {
            size_t size = 0;
            const uint8_t *data = i == 0 ? imd_dicom_element_offset_table(element, &size)
                                         : imd_dicom_element_fragment(element, i - 1, &size);
            uint8_t header[8] = {0xfe, 0xff, 0x00, 0xe0, (uint8_t)size, (uint8_t)(size >> 8),
                                 (uint8_t)(size >> 16), (uint8_t)(size >> 24)};
            base64_feed(&b, header, sizeof header);
            if (size > 0 && data != NULL) {
                base64_feed(&b, data, size);
            }
        }
    } else {
        base64_feed(&b, element->value, element->size);
    }
    base64_finish(&b);
    imd__text_puts(&w->text, "\"");
}

static bool has_binary_value(const ImdDicomElement *element)
{
    return imd_dicom_element_is_encapsulated(element) ||
           (element->value != NULL && element->size > 0);
}

/* Binary numbers and AT: the value is little endian (the data set's rule). */
static bool write_binary_numbers(Writer *w, const ImdDicomElement *element, ImdVR vr)
{
    size_t unit = vr == IMD_VR_US || vr == IMD_VR_SS   ? 2
                  : vr == IMD_VR_FD || vr == IMD_VR_SV || vr == IMD_VR_UV ? 8
                                                                           : 4;
    if (element->value == NULL || element->size == 0) {
        return true;
    }
    if (element->size % unit != 0) {
        char detail[96];
        (void)snprintf(detail, sizeof detail, "%zu bytes, not a multiple of %zu for %s",
                       element->size, unit, imd_dicom_vr_name(vr));
        return fail(w, IMD_ERR_CORRUPT, element->tag, "value of ", detail);
    }
    imd__text_puts(&w->text, ",\"Value\":[");
    for (size_t i = 0; i < element->size / unit; i++) {
        const uint8_t *p = element->value + i * unit;
        uint64_t u64 = 0;
        if (unit == 8) {
            u64 = (uint64_t)imd__load_le32(p) | ((uint64_t)imd__load_le32(p + 4) << 32);
        }
        if (i > 0) {
            imd__text_puts(&w->text, ",");
        }
        char number[40];
        switch (vr) {
        case IMD_VR_US:
            (void)snprintf(number, sizeof number, "%u", (unsigned)imd__load_le16(p));
            break;
        case IMD_VR_SS:
            (void)snprintf(number, sizeof number, "%d", (int)(int16_t)imd__load_le16(p));
            break;
        case IMD_VR_UL:
            (void)snprintf(number, sizeof number, "%" PRIu32, imd__load_le32(p));
            break;
        case IMD_VR_SL:
            (void)snprintf(number, sizeof number, "%" PRId32, (int32_t)imd__load_le32(p));
            break;
        case IMD_VR_UV:
            (void)snprintf(number, sizeof number, "%" PRIu64, u64);
            break;
        case IMD_VR_SV:
            (void)snprintf(number, sizeof number, "%" PRId64, (int64_t)u64);
            break;
        case IMD_VR_AT:
            (void)snprintf(number, sizeof number, "\"%04X%04X\"", (unsigned)imd__load_le16(p),
                           (unsigned)imd__load_le16(p + 2));
            break;
        case IMD_VR_FL: {
            uint32_t bits = imd__load_le32(p);
            float f;
            memcpy(&f, &bits, sizeof f);
            imd__json_number(&w->text, (double)f);
            continue;
        }
        default: { /* FD */
            double d;
            memcpy(&d, &u64, sizeof d);
            imd__json_number(&w->text, d);
            continue;
        }
        }
        imd__text_puts(&w->text, number);
    }
    imd__text_puts(&w->text, "]");
    return true;
}

/* Trim the spaces around a DS/IS value in place; returns the start. */
static char *trim_spaces(char *value)
{
    while (*value == ' ') {
        value++;
    }
    size_t length = strlen(value);
    while (length > 0 && value[length - 1] == ' ') {
        value[--length] = '\0';
    }
    return value;
}

/* DS syntax (PS3.5 Table 6.2-1): [+-]digits[.digits][(e|E)[+-]digits], at least one digit. */
static bool is_decimal_string(const char *text)
{
    const char *p = text;
    bool digits = false;
    if (*p == '+' || *p == '-') {
        p++;
    }
    while (*p >= '0' && *p <= '9') {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits = true;
        }
    }
    if (!digits) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (!(*p >= '0' && *p <= '9')) {
            return false;
        }
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    return *p == '\0';
}

static bool write_text_number(Writer *w, uint32_t tag, ImdVR vr, char *value)
{
    char number[40];
    if (vr == IMD_VR_IS) {
        const char *p = value + (value[0] == '+' || value[0] == '-');
        bool integer = *p != '\0' && strspn(p, "0123456789") == strlen(p);
        if (integer) {
            errno = 0;
            long long parsed = strtoll(value, NULL, 10);
            if (errno == ERANGE) {
                imd__json_string(&w->text, value); /* beyond 64 bits: a string (F.2.3) */
                return true;
            }
            (void)snprintf(number, sizeof number, "%lld", parsed);
            imd__text_puts(&w->text, number);
            return true;
        }
        /* "1.0", "1e3": accepted when integral, as pydicom does. */
        if (is_decimal_string(value)) {
            double parsed = strtod(value, NULL);
            if (parsed == floor(parsed) && fabs(parsed) < 9.2e18) {
                (void)snprintf(number, sizeof number, "%lld", (long long)parsed);
                imd__text_puts(&w->text, number);
                return true;
            }
        }
        return fail(w, IMD_ERR_CORRUPT, tag, "IS value is not an integer: ", value);
    }
    if (!is_decimal_string(value)) {
        return fail(w, IMD_ERR_CORRUPT, tag, "DS value is not a number: ", value);
    }
    double parsed = strtod(value, NULL);
    if (!isfinite(parsed)) {
        imd__json_string(&w->text, value); /* beyond a double: a string (F.2.3) */
    } else {
        imd__json_number(&w->text, parsed);
    }
    return true;
}

/* A PN value: {"Alphabetic": ..., "Ideographic": ..., "Phonetic": ...}, non-empty groups only. */
static void write_person_name(Writer *w, char *value)
{
    static const char *const names[3] = {"Alphabetic", "Ideographic", "Phonetic"};
    char *groups[3] = {value, NULL, NULL};
    for (int g = 1; g < 3; g++) {
        char *separator = strchr(groups[g - 1], '=');
        if (separator == NULL) {
            break;
        }
        *separator = '\0';
        groups[g] = separator + 1;
    }
    bool any = false;
    for (int g = 0; g < 3; g++) {
        if (groups[g] != NULL && groups[g][0] != '\0') {
            imd__text_puts(&w->text, any ? ",\"" : "{\"");
            imd__text_puts(&w->text, names[g]);
            imd__text_puts(&w->text, "\":");
            imd__json_string(&w->text, groups[g]);
            any = true;
        }
    }
    imd__text_puts(&w->text, any ? "}" : "null");
}

static bool write_text(Writer *w, const ImdDicomDataSet *dataset, const ImdDicomElement *element,
                       ImdVR vr)
{
    if (element->value == NULL || element->size == 0) {
        return true;
    }
    ImdError *local = NULL;
    char *text = imd_dicom_element_string(&local, dataset, element);
    if (text == NULL) {
        imd_error_prefix(&local, "(%04X,%04X): ", (unsigned)IMD_TAG_GROUP(element->tag),
                         (unsigned)IMD_TAG_ELEMENT(element->tag));
        imd_error_propagate(w->error, local);
        w->failed = true;
        return false;
    }
    bool ok = true;
    if (text[0] != '\0') {
        bool multi = is_multi_valued_text(vr);
        imd__text_puts(&w->text, ",\"Value\":[");
        char *value = text;
        for (bool first = true; value != NULL && ok; first = false) {
            char *next = multi ? strchr(value, '\\') : NULL;
            if (next != NULL) {
                *next++ = '\0';
            }
            if (!first) {
                imd__text_puts(&w->text, ",");
            }
            if (vr == IMD_VR_DS || vr == IMD_VR_IS) {
                char *number = trim_spaces(value);
                if (number[0] == '\0') {
                    imd__text_puts(&w->text, "null");
                } else {
                    ok = write_text_number(w, element->tag, vr, number);
                }
            } else if (value[0] == '\0') {
                imd__text_puts(&w->text, "null");
            } else if (vr == IMD_VR_PN) {
                write_person_name(w, value);
            } else {
                imd__json_string(&w->text, value);
            }
            value = next;
        }
        imd__text_puts(&w->text, "]");
    }
    imd_free(text);
    return ok;
}

static bool write_element(Writer *w, const ImdDicomDataSet *dataset,
                          const ImdDicomElement *element, unsigned depth)
{
    ImdVR vr = json_vr(element);
    put_key(w, element->tag, imd_dicom_vr_name(vr));
    bool ok = true;
    switch (vr) {
    case IMD_VR_SQ:
        if (element->item_count > 0) {
            imd__text_puts(&w->text, ",\"Value\":[");
            for (size_t i = 0; i < element->item_count && ok; i++) {
                if (i > 0) {
                    imd__text_puts(&w->text, ",");
                }
                ok = write_dataset(w, element->items[i], false, depth + 1);
            }
            imd__text_puts(&w->text, "]");
        }
        break;
    case IMD_VR_OB:
    case IMD_VR_OD:
    case IMD_VR_OF:
    case IMD_VR_OL:
    case IMD_VR_OV:
    case IMD_VR_OW:
    case IMD_VR_UN:
        if (has_binary_value(element)) {
            write_inline_binary(w, element);
        }
        break;
    case IMD_VR_US:
    case IMD_VR_SS:
    case IMD_VR_UL:
    case IMD_VR_SL:
    case IMD_VR_UV:
    case IMD_VR_SV:
    case IMD_VR_FL:
    case IMD_VR_FD:
    case IMD_VR_AT:
        ok = write_binary_numbers(w, element, vr);
        break;
    default:
        ok = write_text(w, dataset, element, vr);
        break;
    }
    imd__text_puts(&w->text, "}");
    return ok;
}

static bool wanted(const Writer *w, uint32_t tag, bool top)
{
    if (IMD_TAG_ELEMENT(tag) == 0) {
        return false; /* Group Length: never in the JSON model (F.2.2) */
    }
    if (tag == IMD_TAG_PixelData && !(w->flags & IMD_DICOM_JSON_PIXEL_DATA)) {
        return false;
    }
    if (top && IMD_TAG_GROUP(tag) == IMD_GROUP_FILE_META && !(w->flags & IMD_DICOM_JSON_META)) {
        return false;
    }
    return true;
}

/*
 * One data set as a JSON object. At the top, the file meta group is merged in
 * tag order when asked for; a meta element wins over a group 0002 element of
 * the data set itself with the same tag (there should be none).
 */
static bool write_dataset(Writer *w, const ImdDicomDataSet *dataset, bool top, unsigned depth)
{
    if (depth > JSON_MAX_DEPTH) {
        imd_error_set(w->error, IMD_ERR_LIMIT, "sequences nested deeper than %d levels",
                      JSON_MAX_DEPTH);
        w->failed = true;
        return false;
    }
    const ImdDicomDataSet *meta =
        top && (w->flags & IMD_DICOM_JSON_META) ? dataset->meta : NULL;
    size_t meta_count = meta != NULL ? meta->count : 0;
    size_t i = 0, j = 0;
    bool first = true, ok = true;
    imd__text_puts(&w->text, "{");
    while (ok && (i < dataset->count || j < meta_count)) {
        const ImdDicomElement *element;
        const ImdDicomDataSet *owner;
        if (j < meta_count &&
            (i >= dataset->count || meta->elements[j].tag <= dataset->elements[i].tag)) {
            if (i < dataset->count && meta->elements[j].tag == dataset->elements[i].tag) {
                i++;
            }
            element = &meta->elements[j++];
            owner = meta;
        } else {
            element = &dataset->elements[i++];
            owner = dataset;
        }
        if (!wanted(w, element->tag, top)) {
            continue;
        }
        if (!first) {
            imd__text_puts(&w->text, ",");
        }
        first = false;
        ok = write_element(w, owner, element, depth);
    }
    imd__text_puts(&w->text, "}");
    return ok;
}

char *imd_dicom_dataset_to_json(ImdError **error, const ImdDicomDataSet *dataset, unsigned flags)
{
    if (dataset == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_dicom_dataset_to_json: no data set");
        return NULL;
    }
    if ((flags & ~(unsigned)(IMD_DICOM_JSON_PIXEL_DATA | IMD_DICOM_JSON_META)) != 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_dicom_dataset_to_json: unknown flags 0x%x",
                      flags);
        return NULL;
    }
    Writer w = {.error = error, .flags = flags};
    if (!write_dataset(&w, dataset, true, 0)) {
        imd__text_free(&w.text);
        if (!w.failed) {
            imd_error_set(error, IMD_ERR_NOMEM, "out of memory building JSON");
        }
        return NULL;
    }
    return imd__text_finish(error, &w.text);
}
