/*
 * csa.c: Siemens CSA headers (the layout is described in csa.h) and the
 * ASCCONV protocol text of the series header.
 *
 * The header is read twice: a first walk checks every count and length
 * against the bytes and totals what must be kept, a second fills arrays of
 * exactly that size, so nothing is allocated that the input does not hold.
 */
#include "csa.h"

#include <ctype.h>
#include <math.h>

/* A tag's fixed part: name[64], vm, vr[4], syngodt, nitems, xx. */
#define TAG_BYTES 84
/* An item's fixed part: four int32, the second (CSA2) or first (CSA1) giving the length. */
#define ITEM_BYTES 16

typedef struct CsaItem {
    size_t raw;     /* offset in text of the item up to its first NUL */
    size_t trimmed; /* offset in text of the same without surrounding spaces */
    size_t length;  /* the item's length field: 0 marks an empty (padding) item */
} CsaItem;

typedef struct CsaTag {
    char name[65];
    char vr[5];
    int32_t vm, syngodt, declared, xx;
    size_t first; /* index of its first item in items */
    size_t read;  /* items read */
    size_t values; /* imd__csa_item_count */
} CsaTag;

struct ImdCsaHeader {
    int type;
    CsaTag *tags;
    size_t tag_count;
    CsaItem *items;
    size_t item_count;
    char *text; /* every item twice (raw, trimmed), each NUL-terminated */
    size_t text_size;
};

static int32_t load_i32(const uint8_t *p)
{
    uint32_t u = imd__load_le32(p);
    return u <= INT32_MAX ? (int32_t)u : (int32_t)(u - 0x80000000u) - INT32_MAX - 1;
}

/* Copy a fixed-size text field up to its first NUL (nibabel's nt_str). */
static void copy_field(char *to, const uint8_t *from, size_t size)
{
    const uint8_t *nul = memchr(from, 0, size);
    size_t length = nul != NULL ? (size_t)(nul - from) : size;
    memcpy(to, from, length);
    to[length] = '\0';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The numeric VRs: their value lists end at the first empty item. */
static bool numeric_vr(const char *vr)
{
    static const char *const numeric[] = {"FL", "FD", "DS", "SS", "US", "SL", "UL", "IS"};
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        if (strcmp(vr, numeric[i]) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Store an item's text (raw and trimmed) when `h` is given; count what it
 * needs in *text_total either way.
 */
static void keep_item(ImdCsaHeader *h, const uint8_t *bytes, size_t length, size_t *text_total)
{
    const uint8_t *nul = memchr(bytes, 0, length);
    size_t raw_length = nul != NULL ? (size_t)(nul - bytes) : length;
    size_t start = 0, end = raw_length;
    while (start < end && is_space((char)bytes[start])) {
        start++;
    }
    while (end > start && is_space((char)bytes[end - 1])) {
        end--;
    }
    if (h != NULL) {
        CsaItem *item = &h->items[h->item_count++];
        item->length = length;
        item->raw = *text_total;
        if (raw_length > 0) {
            memcpy(h->text + item->raw, bytes, raw_length);
        }
        h->text[item->raw + raw_length] = '\0';
        item->trimmed = item->raw + raw_length + 1;
        if (end > start) {
            memcpy(h->text + item->trimmed, bytes + start, end - start);
        }
        h->text[item->trimmed + (end - start)] = '\0';
    }
    *text_total += raw_length + 1 + (end - start) + 1;
}

/*
 * One walk over the header. Without `h` it only checks and totals the tags,
 * items and text; with `h` (sized by the first walk) it fills them.
 */
static bool walk(ImdError **error, const uint8_t *bytes, size_t size, ImdCsaHeader *h,
                 size_t *tag_total, size_t *item_total, size_t *text_total)
{
    bool csa2 = size >= 4 && memcmp(bytes, "SV10", 4) == 0;
    size_t pos = csa2 ? 8 : 0; /* CSA2: "SV10" and 4 unused bytes */
    if (size < pos + 8) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "CSA header: truncated at byte %zu (%zu bytes; the tag count needs %zu)",
                      size, size, pos + 8);
        return false;
    }
    uint32_t n_tags = imd__load_le32(bytes + pos);
    if (n_tags == 0 || n_tags > IMD_CSA_MAX_TAGS) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "CSA header: %u tags declared at byte %zu (1 to %d expected)", n_tags, pos,
                      IMD_CSA_MAX_TAGS);
        return false;
    }
    pos += 8; /* n_tags and an unused word (77) */
    *tag_total = n_tags;
    *item_total = 0;
    *text_total = 0;
    int32_t first_tag_items = 0;
    for (uint32_t t = 0; t < n_tags; t++) {
        if (size - pos < TAG_BYTES) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "CSA header: tag %u of %u truncated at byte %zu (%d bytes needed, %zu "
                          "left)",
                          t + 1, n_tags, pos, TAG_BYTES, size - pos);
            return false;
        }
        const uint8_t *p = bytes + pos;
        char name[65];
        copy_field(name, p, 64);
        int32_t declared = load_i32(p + 76);
        size_t tag_at = pos;
        pos += TAG_BYTES;
        /* Every item takes at least ITEM_BYTES: a count the bytes cannot hold is impossible. */
        if (declared < 0 || (size_t)declared > (size - pos) / ITEM_BYTES) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "CSA header: tag \"%s\" at byte %zu declares %d items; the %zu bytes "
                          "left hold at most %zu",
                          name, tag_at, (int)declared, size - pos, (size - pos) / ITEM_BYTES);
            return false;
        }
        if (t == 0) {
            first_tag_items = declared;
        }
        CsaTag *tag = h != NULL ? &h->tags[t] : NULL;
        if (tag != NULL) {
            memcpy(tag->name, name, sizeof name);
            copy_field(tag->vr, p + 68, 4);
            tag->vm = load_i32(p + 64);
            tag->syngodt = load_i32(p + 72);
            tag->declared = declared;
            tag->xx = load_i32(p + 80);
            tag->first = h->item_count;
            tag->read = 0;
        }
        for (int32_t i = 0; i < declared; i++) {
            if (size - pos < ITEM_BYTES) {
                imd_error_set(error, IMD_ERR_CORRUPT,
                              "CSA header: item %d of tag \"%s\" truncated at byte %zu", (int)i + 1,
                              name, pos);
                return false;
            }
            size_t item_at = pos;
            /* CSA1: "x[0] minus the nitems of the first tag" (nibabel's documentation;
             * nibabel 5.0's code takes tag 1, SPM's 1-based first tag, which fails on
             * a CSA1 header whose first tag has items). */
            int64_t length = csa2 ? (int64_t)load_i32(bytes + pos + 4)
                                  : (int64_t)load_i32(bytes + pos) - first_tag_items;
            pos += ITEM_BYTES;
            if (length < 0 || (uint64_t)length > size - pos) {
                if (!csa2) {
                    /* CSA1 as SPM reads it: a length that makes no sense ends the tag's items. */
                    break;
                }
                imd_error_set(error, IMD_ERR_CORRUPT,
                              "CSA header: item %d of tag \"%s\" at byte %zu has length %lld; "
                              "only %zu bytes are left",
                              (int)i + 1, name, item_at, (long long)length, size - pos);
                return false;
            }
            keep_item(h, bytes + pos, (size_t)length, text_total);
            (*item_total)++;
            if (tag != NULL) {
                tag->read++;
            }
            pos += (size_t)length;
            size_t pad = (4 - (size_t)length % 4) % 4;
            pos += pad < size - pos ? pad : size - pos;
        }
    }
    return true;
}

/* The value count of a tag (see imd__csa_item_count in csa.h). */
static size_t value_count(const ImdCsaHeader *h, const CsaTag *tag)
{
    size_t wanted = tag->vm > 0 ? (size_t)tag->vm : (size_t)tag->declared;
    size_t count = wanted < tag->read ? wanted : tag->read;
    if (numeric_vr(tag->vr)) {
        for (size_t i = 0; i < count; i++) {
            if (h->items[tag->first + i].length == 0) {
                return i;
            }
        }
    }
    return count;
}

ImdCsaHeader *imd__csa_parse(ImdError **error, const uint8_t *bytes, size_t size)
{
    if (bytes == NULL && size > 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd__csa_parse: no bytes");
        return NULL;
    }
    size_t tags, items, text;
    if (!walk(error, bytes, size, NULL, &tags, &items, &text)) {
        return NULL;
    }
    ImdCsaHeader *h = imd__calloc(error, 1, sizeof *h);
    if (h == NULL) {
        return NULL;
    }
    h->type = size >= 4 && memcmp(bytes, "SV10", 4) == 0 ? 2 : 1;
    h->tags = imd__calloc(error, tags, sizeof *h->tags);
    h->items = imd__calloc(error, items, sizeof *h->items);
    h->text = imd__malloc(error, text);
    if (h->tags == NULL || h->items == NULL || h->text == NULL) {
        imd__csa_destroy(h);
        return NULL;
    }
    h->tag_count = tags;
    h->text_size = text;
    size_t again_tags, again_items, again_text;
    if (!walk(error, bytes, size, h, &again_tags, &again_items, &again_text) ||
        again_items != items || again_text != text) {
        imd_error_set(error, IMD_ERR_INTERNAL, "CSA header: the second reading differs");
        imd__csa_destroy(h);
        return NULL;
    }
    for (size_t t = 0; t < h->tag_count; t++) {
        h->tags[t].values = value_count(h, &h->tags[t]);
    }
    return h;
}

void imd__csa_destroy(ImdCsaHeader *header)
{
    if (header == NULL) {
        return;
    }
    free(header->tags);
    free(header->items);
    free(header->text);
    free(header);
}

int imd__csa_type(const ImdCsaHeader *header)
{
    return header != NULL ? header->type : 0;
}

size_t imd__csa_count(const ImdCsaHeader *header)
{
    return header != NULL ? header->tag_count : 0;
}

const char *imd__csa_name(const ImdCsaHeader *header, size_t index)
{
    return header != NULL && index < header->tag_count ? header->tags[index].name : NULL;
}

void imd__csa_tag_info(const ImdCsaHeader *header, size_t index, ImdCsaTagInfo *info)
{
    memset(info, 0, sizeof *info);
    if (header == NULL || index >= header->tag_count) {
        return;
    }
    const CsaTag *tag = &header->tags[index];
    info->name = tag->name;
    info->vr = tag->vr;
    info->vm = tag->vm;
    info->syngodt = tag->syngodt;
    info->declared_items = tag->declared;
    info->xx = tag->xx;
    info->read_items = tag->read;
}

const char *imd__csa_tag_item(const ImdCsaHeader *header, size_t index, size_t item)
{
    if (header == NULL || index >= header->tag_count || item >= header->tags[index].read) {
        return NULL;
    }
    return header->text + header->items[header->tags[index].first + item].raw;
}

/* The last tag called `name` (nibabel keeps the last of repeated names). */
static const CsaTag *find_tag(const ImdCsaHeader *header, const char *name)
{
    if (header == NULL || name == NULL) {
        return NULL;
    }
    for (size_t t = header->tag_count; t > 0; t--) {
        if (strcmp(header->tags[t - 1].name, name) == 0) {
            return &header->tags[t - 1];
        }
    }
    return NULL;
}

size_t imd__csa_item_count(const ImdCsaHeader *header, const char *name)
{
    const CsaTag *tag = find_tag(header, name);
    return tag != NULL ? tag->values : 0;
}

const char *imd__csa_string(const ImdCsaHeader *header, const char *name, size_t item)
{
    const CsaTag *tag = find_tag(header, name);
    if (tag == NULL || item >= tag->values) {
        return NULL;
    }
    const char *text = header->text + header->items[tag->first + item].trimmed;
    return text[0] != '\0' ? text : NULL;
}

/* A whole finite decimal number (strtod's syntax, no hexadecimal), surrounding spaces allowed. */
static bool parse_decimal(const char *text, size_t length, double *value)
{
    char buffer[128];
    while (length > 0 && is_space(*text)) {
        text++;
        length--;
    }
    while (length > 0 && is_space(text[length - 1])) {
        length--;
    }
    if (length == 0 || length >= sizeof buffer) {
        return false;
    }
    memcpy(buffer, text, length);
    buffer[length] = '\0';
    /* strtod would also take "0x1p3", "inf" and "nan": only digits, sign, point and exponent. */
    for (size_t i = 0; i < length; i++) {
        if (strchr("0123456789+-.eE", buffer[i]) == NULL) {
            return false;
        }
    }
    char *end;
    double parsed = strtod(buffer, &end);
    if (end != buffer + length || !isfinite(parsed)) {
        return false;
    }
    *value = parsed;
    return true;
}

bool imd__csa_number(const ImdCsaHeader *header, const char *name, size_t item, double *value)
{
    const char *text = imd__csa_string(header, name, item);
    return text != NULL && parse_decimal(text, strlen(text), value);
}

/* ---- the ASCCONV protocol ---- */

static const char *protocol_text(const ImdCsaHeader *series_header)
{
    static const char *const names[] = {"MrPhoenixProtocol", "MrProtocol"};
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        const CsaTag *tag = find_tag(series_header, names[n]);
        if (tag != NULL && tag->read > 0) {
            const char *text = series_header->text + series_header->items[tag->first].raw;
            if (strstr(text, "### ASCCONV BEGIN") != NULL) {
                return text;
            }
        }
    }
    return NULL;
}

/*
 * The value of the last line "key = value" for `key` in the ASCCONV block:
 * *value and *length span it without surrounding spaces or a '#' comment.
 */
static bool protocol_value(const ImdCsaHeader *series_header, const char *key, const char **value,
                           size_t *length)
{
    const char *text = protocol_text(series_header);
    if (text == NULL || key == NULL || key[0] == '\0') {
        return false;
    }
    size_t key_length = strlen(key);
    const char *line = strstr(text, "### ASCCONV BEGIN");
    line = strchr(line, '\n');
    bool found = false;
    while (line != NULL) {
        line++; /* past the '\n' */
        const char *end = strchr(line, '\n');
        if (end == NULL) {
            end = line + strlen(line);
        }
        if (strncmp(line, "### ASCCONV END", 15) == 0) {
            break;
        }
        const char *p = line;
        while (p < end && is_space(*p)) {
            p++;
        }
        if ((size_t)(end - p) > key_length && memcmp(p, key, key_length) == 0 &&
            (p[key_length] == '=' || is_space(p[key_length]))) {
            const char *q = p + key_length;
            while (q < end && is_space(*q)) {
                q++;
            }
            if (q < end && *q == '=') {
                q++;
                /* The value ends at a '#' outside quotes, or at the line's end;
                 * Siemens' doubled quote ("") opens or closes a string as one. */
                const char *stop = q;
                bool quoted = false;
                while (stop < end && (quoted || *stop != '#')) {
                    if (*stop == '"') {
                        quoted = !quoted;
                        if (stop + 1 < end && stop[1] == '"') {
                            stop++;
                        }
                    }
                    stop++;
                }
                while (q < stop && is_space(*q)) {
                    q++;
                }
                while (stop > q && is_space(stop[-1])) {
                    stop--;
                }
                *value = q;
                *length = (size_t)(stop - q);
                found = true;
            }
        }
        line = *end != '\0' ? end : NULL;
    }
    return found;
}

bool imd__csa_protocol_number(const ImdCsaHeader *series_header, const char *key, double *value)
{
    const char *text;
    size_t length;
    if (!protocol_value(series_header, key, &text, &length)) {
        return false;
    }
    bool negative = length > 0 && text[0] == '-';
    const char *digits = negative ? text + 1 : text;
    size_t digit_length = negative ? length - 1 : length;
    if (digit_length > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        /* Hexadecimal: flags and enumerations, e.g. "sKSpace.ucMultiSliceMode = 0x2". */
        double parsed = 0;
        for (size_t i = 2; i < digit_length; i++) {
            int c = tolower((unsigned char)digits[i]);
            int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (digit < 0) {
                return false;
            }
            parsed = parsed * 16 + digit;
        }
        *value = negative ? -parsed : parsed;
        return true;
    }
    return parse_decimal(text, length, value);
}

char *imd__csa_protocol_string(const ImdCsaHeader *series_header, const char *key)
{
    const char *text;
    size_t length;
    if (!protocol_value(series_header, key, &text, &length)) {
        return NULL;
    }
    /* Siemens quotes strings with doubled quotes (""ep2d_bold""); plain quotes also occur. */
    if (length >= 4 && strncmp(text, "\"\"", 2) == 0 &&
        strncmp(text + length - 2, "\"\"", 2) == 0) {
        text += 2;
        length -= 4;
    } else if (length >= 2 && text[0] == '"' && text[length - 1] == '"') {
        text += 1;
        length -= 2;
    }
    return imd__strndup(NULL, text, length);
}
