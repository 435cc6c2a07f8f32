/*
 * url.c: splitting input/output locations as the original does with
 * urlsplit(url, scheme='file') (behaviour.md §2, §7), "%p" expansion, and
 * archive member selection and safety.
 *
 * Deliberate differences from Python's urlsplit, each to avoid a surprise:
 * - a plain path (no scheme) is never percent-decoded and never has an
 *   authority, so "w%03d.dcm", "out_%p" and "//server/share" stay paths;
 *   explicit "file:" URLs are percent-decoded as RFC 8089 asks;
 * - "file://host/x" with a host other than localhost is refused instead of
 *   silently reading the local "/x";
 * - dicom URLs are validated here (host, port, AE title) so that a typo fails
 *   before any network traffic.
 */
#include "internal.h"

#include <ctype.h>

enum {
    AE_TITLE_MAX = 16,       /* PS3.5 AE value representation */
    DICOM_PART_MAX = 3,      /* patient / study or accession / series */
    MEMBER_NAME_MAX = 4096,  /* longer names are refused as archive members */
    MESSAGE_PIECE_MAX = 64   /* how much of a bad piece an error message quotes */
};

/* ---- small character helpers (ASCII only: the locale must not matter) ---- */

static bool is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (is_digit(c)) {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool is_control(char c)
{
    return (unsigned char)c < 0x20 || (unsigned char)c == 0x7f;
}

/* For "%.*s" in messages: never quote more than a screen's worth. */
static int quote_length(size_t length)
{
    return length > MESSAGE_PIECE_MAX ? MESSAGE_PIECE_MAX : (int)length;
}

/* ---- ImdUrl ---- */

void imd_url_destroy(ImdUrl *url)
{
    if (url == NULL) {
        return;
    }
    free(url->scheme);
    free(url->host);
    free(url->path);
    free(url->query);
    free(url->aet);
    for (size_t i = 0; i < DICOM_PART_MAX; i++) {
        free(url->parts[i]);
    }
    free(url);
}

/* The length of a scheme at the start of `text` (excluding ':'), else 0. */
static size_t scheme_length(const char *text)
{
    if (!is_alpha(text[0])) {
        return 0;
    }
    size_t i = 1;
    while (is_alpha(text[i]) || is_digit(text[i]) || text[i] == '+' || text[i] == '.' ||
           text[i] == '-') {
        i++;
    }
    /* One letter is a drive name ("C:\data"), not a scheme. */
    return text[i] == ':' && i >= 2 ? i : 0;
}

/* Copy [start, start+length) decoding %XX escapes into `*out`. */
static bool percent_decode(ImdError **error, const char *url_text, const char *start,
                           size_t length, char **out)
{
    char *decoded = imd__malloc(error, length + 1);
    if (decoded == NULL) {
        return false;
    }
    size_t o = 0;
    for (size_t i = 0; i < length; i++) {
        if (start[i] != '%') {
            decoded[o++] = start[i];
            continue;
        }
        int high = i + 1 < length ? hex_value(start[i + 1]) : -1;
        int low = i + 2 < length ? hex_value(start[i + 2]) : -1;
        if (high < 0 || low < 0) {
            size_t rest = length - i;
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "URL \"%s\": bad percent escape \"%.*s\" (a literal '%%' is %%25)",
                          url_text, quote_length(rest < 3 ? rest : 3), start + i);
            free(decoded);
            return false;
        }
        if (high == 0 && low == 0) {
            /* A C string cannot carry NUL; truncating the path silently would be worse. */
            imd_error_set(error, IMD_ERR_INVALID_ARG, "URL \"%s\": %%00 (NUL) in a path",
                          url_text);
            free(decoded);
            return false;
        }
        decoded[o++] = (char)(high * 16 + low);
        i += 2;
    }
    decoded[o] = '\0';
    *out = decoded;
    return true;
}

static bool is_host_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Parse "digits" into 1..65535; an empty text means "not given" (0), as in urlsplit. */
static bool parse_port(ImdError **error, const char *url_text, const char *start, size_t length,
                       int *port)
{
    long value = 0;
    for (size_t i = 0; i < length; i++) {
        if (!is_digit(start[i]) || value > 65535) {
            value = -1;
            break;
        }
        value = value * 10 + (start[i] - '0');
    }
    if (length > 0 && (value < 1 || value > 65535)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "URL \"%s\": bad port \"%.*s\" (expected 1 to 65535)", url_text,
                      quote_length(length), start);
        return false;
    }
    *port = (int)value;
    return true;
}

/*
 * Parse the authority "[user[:password]@]host[:port]" into url->host and
 * url->port. The user information is dropped: ImdUrl has no field for it
 * (credentials then come from .netrc, which the original also reads).
 */
static bool parse_authority(ImdError **error, ImdUrl *url, const char *url_text,
                            const char *start, size_t length)
{
    const char *end = start + length;
    for (const char *at = end; at > start; at--) {
        if (at[-1] == '@') {
            start = at;
            break;
        }
    }
    const char *host = start, *host_end, *port_start = end;
    if (start < end && *start == '[') {
        /* An IPv6 literal: "[::1]:11112". */
        host = start + 1;
        host_end = memchr(host, ']', (size_t)(end - host));
        if (host_end == NULL || memchr(host, ':', (size_t)(host_end - host)) == NULL) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "URL \"%s\": bad IPv6 host", url_text);
            return false;
        }
        for (const char *c = host; c < host_end; c++) {
            if (!(hex_value(*c) >= 0 || *c == ':' || *c == '.')) {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "URL \"%s\": bad character '%c' in IPv6 host", url_text,
                              is_control(*c) ? '?' : *c);
                return false;
            }
        }
        if (host_end + 1 < end && host_end[1] != ':') {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "URL \"%s\": unexpected text after the IPv6 host", url_text);
            return false;
        }
        port_start = host_end + 1 < end ? host_end + 2 : end;
    } else {
        host_end = memchr(start, ':', (size_t)(end - start));
        if (host_end == NULL) {
            host_end = end;
        } else {
            port_start = host_end + 1;
        }
        for (const char *c = host; c < host_end; c++) {
            if (!is_host_char(*c)) {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "URL \"%s\": bad character '%c' in host", url_text,
                              is_control(*c) ? '?' : *c);
                return false;
            }
        }
    }
    if (!parse_port(error, url_text, port_start, (size_t)(end - port_start), &url->port)) {
        return false;
    }
    url->host = imd__strndup(error, host, (size_t)(host_end - host));
    return url->host != NULL;
}

/* A DICOM path component must not smuggle control characters or '\' (a VR value separator). */
static bool check_dicom_text(ImdError **error, const char *url_text, const char *what,
                             const char *start, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (is_control(start[i]) || start[i] == '\\') {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "URL \"%s\": %s \"%.*s\" contains a control character or '\\'",
                          url_text, what, quote_length(length), start);
            return false;
        }
    }
    return true;
}

/* "/AET[/patient/study/series]" into url->aet and url->parts. */
static bool parse_dicom_path(ImdError **error, ImdUrl *url, const char *url_text)
{
    const char *path = url->path;
    size_t length = strlen(path);
    if (length > 0 && path[0] == '/') {
        path++;
        length--;
    }
    if (length > 0 && path[length - 1] == '/') {
        length--; /* "dicom://host/AET/" names the AE title */
    }
    const char *end = path + length;
    size_t index = 0;
    for (const char *piece = path;; index++) {
        const char *slash = memchr(piece, '/', (size_t)(end - piece));
        const char *piece_end = slash != NULL ? slash : end;
        size_t piece_length = (size_t)(piece_end - piece);
        if (index == 0) {
            if (piece_length == 0) {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "URL \"%s\": no AE title (dicom://host:port/AETITLE)",
                              url_text);
                return false;
            }
            if (piece_length > AE_TITLE_MAX) {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "URL \"%s\": AE title \"%.*s\" is longer than %d characters",
                              url_text, quote_length(piece_length), piece, AE_TITLE_MAX);
                return false;
            }
            if (!check_dicom_text(error, url_text, "AE title", piece, piece_length)) {
                return false;
            }
            bool only_spaces = true;
            for (size_t i = 0; i < piece_length; i++) {
                only_spaces = only_spaces && piece[i] == ' ';
            }
            if (only_spaces) {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "URL \"%s\": an AE title of spaces only", url_text);
                return false;
            }
            url->aet = imd__strndup(error, piece, piece_length);
            if (url->aet == NULL) {
                return false;
            }
        } else {
            if (index > DICOM_PART_MAX) {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "URL \"%s\": too many path components "
                              "(at most AET/patient/study/series)",
                              url_text);
                return false;
            }
            if (piece_length == 0) {
                imd_error_set(error, IMD_ERR_INVALID_ARG, "URL \"%s\": empty path component",
                              url_text);
                return false;
            }
            if (!check_dicom_text(error, url_text, "path component", piece, piece_length)) {
                return false;
            }
            url->parts[index - 1] = imd__strndup(error, piece, piece_length);
            if (url->parts[index - 1] == NULL) {
                return false;
            }
            url->part_count = index;
        }
        if (slash == NULL) {
            return true;
        }
        piece = slash + 1;
    }
}

static bool parse_into(ImdError **error, ImdUrl *url, const char *text)
{
    size_t scheme = scheme_length(text);
    bool plain = scheme == 0;
    const char *rest = plain ? text : text + scheme + 1;
    if (plain) {
        url->scheme = imd__strdup(error, "file");
    } else {
        url->scheme = imd__strndup(error, text, scheme);
        for (char *c = url->scheme; c != NULL && *c != '\0'; c++) {
            if (*c >= 'A' && *c <= 'Z') {
                *c = (char)(*c - 'A' + 'a');
            }
        }
    }
    if (url->scheme == NULL) {
        return false;
    }
    bool is_file = strcmp(url->scheme, "file") == 0;

    /* As urlsplit: the fragment goes first, then the query, from what is left. */
    const char *end = strchr(rest, '#');
    if (end == NULL) {
        end = rest + strlen(rest);
    }
    const char *question = memchr(rest, '?', (size_t)(end - rest));
    const char *body_end = question != NULL ? question : end;
    const char *query = question != NULL ? question + 1 : end;
    size_t query_length = (size_t)(end - query);

    const char *path = rest;
    bool has_authority = !plain && body_end - rest >= 2 && rest[0] == '/' && rest[1] == '/';
    if (has_authority) {
        const char *authority = rest + 2;
        const char *slash = memchr(authority, '/', (size_t)(body_end - authority));
        path = slash != NULL ? slash : body_end;
        size_t authority_length = (size_t)(path - authority);
        if (is_file) {
            /* Only the local machine: reading "/x" for file://server/x would be a lie. */
            if (!(authority_length == 0 ||
                  (authority_length == 9 && strncmp(authority, "localhost", 9) == 0))) {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "URL \"%s\": file URLs with a host (\"%.*s\") are not supported",
                              text, quote_length(authority_length), authority);
                return false;
            }
        } else if (!parse_authority(error, url, text, authority, authority_length)) {
            return false;
        }
    }
    size_t path_length = (size_t)(body_end - path);

    if (is_file) {
        if (plain) {
            url->path = imd__strndup(error, path, path_length);
            url->query = imd__strndup(error, query, query_length);
        } else if (percent_decode(error, text, path, path_length, &url->path)) {
            (void)percent_decode(error, text, query, query_length, &url->query);
        }
        if (url->path == NULL || url->query == NULL) {
            return false;
        }
        if (url->path[0] == '\0') {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "URL \"%s\": no path", text);
            return false;
        }
        return true;
    }

    /* Network paths stay as given: the transport decides what they mean. */
    url->path = imd__strndup(error, path, path_length);
    url->query = url->path != NULL ? imd__strndup(error, query, query_length) : NULL;
    if (url->query == NULL) {
        return false;
    }
    if (strcmp(url->scheme, "dicom") == 0) {
        if (url->host == NULL || url->host[0] == '\0') {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "URL \"%s\": no host (dicom://host:port/AETITLE)", text);
            return false;
        }
        return parse_dicom_path(error, url, text);
    }
    return true;
}

/* Fill every absent string with "" so that callers never meet NULL. */
static bool fill_empty(ImdError **error, char **field)
{
    if (*field == NULL) {
        *field = imd__strdup(error, "");
    }
    return *field != NULL;
}

ImdUrl *imd_url_parse(ImdError **error, const char *text)
{
    if (text == NULL || text[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "empty URL");
        return NULL;
    }
    ImdUrl *url = imd__calloc(error, 1, sizeof *url);
    if (url == NULL) {
        return NULL;
    }
    bool ok = parse_into(error, url, text) && fill_empty(error, &url->host) &&
              fill_empty(error, &url->path) && fill_empty(error, &url->query) &&
              fill_empty(error, &url->aet);
    for (size_t i = 0; ok && i < DICOM_PART_MAX; i++) {
        ok = fill_empty(error, &url->parts[i]);
    }
    if (!ok) {
        imd_url_destroy(url);
        return NULL;
    }
    return url;
}

/* ---- "%p" ---- */

char *imd_url_expand_format(ImdError **error, const char *text, const char *format)
{
    if (text == NULL || format == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "expanding %%p: %s is NULL",
                      text == NULL ? "the URL" : "the format name");
        return NULL;
    }
    ImdText out = {0};
    const char *copied = text; /* the start of text not yet appended */
    for (const char *c = text; *c != '\0'; c++) {
        if (c[0] != '%' || (c[1] != 'p' && c[1] != '%')) {
            /* Other '%' stay: output names use "%03d" style patterns later. */
            continue;
        }
        imd__text_append(&out, copied, (size_t)(c - copied));
        if (c[1] == 'p') {
            imd__text_puts(&out, format);
        } else {
            imd__text_append(&out, "%", 1);
        }
        c++;
        copied = c + 1;
    }
    imd__text_puts(&out, copied);
    char *result = imd__text_finish(error, &out);
    if (result == NULL) {
        imd_error_prefix(error, "expanding %%p in \"%s\": ", text);
    }
    return result;
}

/* ---- member patterns: fnmatch where '*' crosses '/' ---- */

/*
 * Characters are UTF-8 code points, as Python's fnmatch sees str, so '?'
 * takes "é" whole. A byte that is not part of valid UTF-8 becomes
 * 0xDC00 + byte (Python's surrogateescape), which no valid character equals.
 */
static size_t decode_char(const unsigned char *s, size_t available, uint32_t *code)
{
    unsigned char lead = s[0];
    size_t length;
    uint32_t value, minimum;
    *code = 0xDC00u + lead; /* until proven valid */
    if (lead < 0x80) {
        *code = lead;
        return 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        value = lead & 0x1Fu;
        minimum = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        value = lead & 0x0Fu;
        minimum = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        value = lead & 0x07u;
        minimum = 0x10000;
    } else {
        return 1;
    }
    if (length > available) {
        return 1;
    }
    for (size_t i = 1; i < length; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 1;
        }
        value = (value << 6) | (s[i] & 0x3Fu);
    }
    if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return 1;
    }
    *code = value;
    return length;
}

/*
 * A pattern is `head` followed by `tail`, so that "pattern/ *" is matched
 * without building (and allocating) the joined string.
 */
typedef struct Pattern {
    const char *head, *tail;
    size_t head_length, length;
    size_t last_close; /* index of the last ']' + 1, 0 when there is none */
} Pattern;

static unsigned char pattern_byte(const Pattern *pattern, size_t i)
{
    return (unsigned char)(i < pattern->head_length ? pattern->head[i]
                                                    : pattern->tail[i - pattern->head_length]);
}

static size_t pattern_char(const Pattern *pattern, size_t i, uint32_t *code)
{
    unsigned char bytes[4];
    size_t available = pattern->length - i < 4 ? pattern->length - i : 4;
    for (size_t k = 0; k < available; k++) {
        bytes[k] = pattern_byte(pattern, i + k);
    }
    return decode_char(bytes, available, code);
}

/*
 * Match `code` against the set starting at the '[' at `start`. Returns false
 * with *set_length 0 when the '[' is not closed (then it is a literal '[', as
 * in Python); else *set_length covers "[...]" and *matched tells the result.
 */
static void match_set(const Pattern *pattern, size_t start, uint32_t code, size_t *set_length,
                      bool *matched)
{
    size_t i = start + 1;
    bool negate = false;
    unsigned char first = i < pattern->length ? pattern_byte(pattern, i) : 0;
    if (first == '!' || first == '^') {
        negate = true;
        i++;
    }
    size_t items = i;
    if (i < pattern->length && pattern_byte(pattern, i) == ']') {
        i++; /* a ']' first in the set is a member, not the end */
    }
    /* Knowing where the last ']' is keeps unclosed '[' from costing a scan each. */
    if (pattern->last_close <= i) {
        *set_length = 0;
        *matched = false;
        return;
    }
    size_t close = i;
    while (pattern_byte(pattern, close) != ']') {
        close++;
    }
    bool found = false;
    for (size_t k = items; k < close;) {
        uint32_t low, high;
        k += pattern_char(pattern, k, &low);
        high = low;
        if (k + 1 < close && pattern_byte(pattern, k) == '-') {
            k += 1 + pattern_char(pattern, k + 1, &high);
        }
        /* A reversed range such as "z-a" matches nothing, as in Python. */
        found = found || (low <= code && code <= high);
    }
    *set_length = close + 1 - start;
    *matched = found != negate;
}

static bool glob_match(const Pattern *pattern, const unsigned char *name, size_t name_length)
{
    size_t p = 0, n = 0;
    bool have_star = false;
    size_t star_p = 0, star_n = 0;
    /*
     * The classic single-restart algorithm: on a mismatch, only the most
     * recent '*' takes one more character. Earlier stars never need to, since
     * '*' matches anything (including '/'), so this is O(pattern * name).
     */
    while (n < name_length) {
        if (p < pattern->length && pattern_byte(pattern, p) == '*') {
            while (p < pattern->length && pattern_byte(pattern, p) == '*') {
                p++;
            }
            have_star = true;
            star_p = p;
            star_n = n;
            continue;
        }
        if (p < pattern->length) {
            uint32_t code;
            size_t code_length = decode_char(name + n, name_length - n, &code);
            unsigned char c = pattern_byte(pattern, p);
            size_t step = 0;
            bool matched = false;
            if (c == '?') {
                step = 1;
                matched = true;
            } else if (c == '[') {
                match_set(pattern, p, code, &step, &matched);
            }
            if (step == 0) {
                uint32_t literal;
                step = pattern_char(pattern, p, &literal);
                matched = literal == code;
            }
            if (matched) {
                p += step;
                n += code_length;
                continue;
            }
        }
        if (!have_star) {
            return false;
        }
        uint32_t skipped;
        star_n += decode_char(name + star_n, name_length - star_n, &skipped);
        n = star_n;
        p = star_p;
    }
    while (p < pattern->length && pattern_byte(pattern, p) == '*') {
        p++;
    }
    return p == pattern->length;
}

static bool match_joined(const char *head, size_t head_length, const char *tail,
                         const char *name)
{
    Pattern pattern = {head, tail, head_length, head_length + strlen(tail), 0};
    for (size_t i = pattern.length; i > 0; i--) {
        if (pattern_byte(&pattern, i - 1) == ']') {
            pattern.last_close = i;
            break;
        }
    }
    return glob_match(&pattern, (const unsigned char *)name, strlen(name));
}

bool imd_member_match(const char *pattern, const char *name)
{
    if (pattern == NULL || pattern[0] == '\0') {
        return true;
    }
    if (name == NULL) {
        return false;
    }
    size_t length = strlen(pattern);
    if (pattern[length - 1] == '/') {
        length--; /* "cohort/P2/" names the folder "cohort/P2" */
    }
    if (length == 0) {
        return true; /* "/" : the archive's root folder, everything */
    }
    /* A folder selects everything below it: "pat" or "pat/ *". */
    return match_joined(pattern, length, "", name) || match_joined(pattern, length, "/*", name);
}

/* ---- safe member names ---- */

bool imd_member_name_is_safe(const char *name)
{
    if (name == NULL || name[0] == '\0' || name[0] == '/') {
        return false;
    }
    size_t component_start = 0;
    for (size_t i = 0;; i++) {
        if (i > MEMBER_NAME_MAX) {
            return false;
        }
        char c = name[i];
        if (c == '\0' || c == '/') {
            size_t length = i - component_start;
            const char *component = name + component_start;
            /* Empty, "." and ".." components could all step out of (or around) the root. */
            if (length == 0 || (length == 1 && component[0] == '.') ||
                (length == 2 && component[0] == '.' && component[1] == '.')) {
                return false;
            }
            if (c == '\0') {
                return true;
            }
            component_start = i + 1;
        } else if (c == '\\' || is_control(c)) {
            return false;
        }
    }
}

/*
 * A file name's suffix (".nii.gz", ".dcm", ".raw"): ASCII case ignored, since
 * exports from other systems write X.DCM and X.NII; a name that is only the
 * suffix has no stem and does not count. The one helper for every format
 * (they had three copies).
 */
bool imd__has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    if (n <= m) {
        return false;
    }
    for (size_t i = 0; i < m; i++) {
        char a = name[n - m + i], b = suffix[i];
        a = a >= 'A' && a <= 'Z' ? (char)(a - 'A' + 'a') : a;
        b = b >= 'A' && b <= 'Z' ? (char)(b - 'A' + 'a') : b;
        if (a != b) {
            return false;
        }
    }
    return true;
}

/*
 * Output member names numbered by a pattern (behaviour.md §7.3): Python's
 * "{}" / "{:05d}" or printf's "%d" / "%05d" ("%%" is a '%'), one number.
 */
bool imd__name_has_number(const char *name)
{
    return strchr(name, '{') != NULL || strchr(name, '%') != NULL;
}

char *imd__format_numbered_name(ImdError **error, const char *name, size_t index)
{
    ImdText text = {0};
    int numbers = 0;
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '%' && p[1] == '%') {
            imd__text_puts(&text, "%");
            p++;
            continue;
        }
        if (*p != '{' && *p != '%') {
            imd__text_append(&text, p, 1);
            continue;
        }
        const char *end = *p == '{' ? strchr(p, '}') : p + 1 + strspn(p + 1, "0123456789");
        bool valid = end != NULL && (*p == '{' || *end == 'd') && numbers++ == 0;
        unsigned width = 0;
        for (const char *q = p + 1; valid && q < end; q++) {
            width = isdigit((unsigned char)*q) && width < 100 ? width * 10 + (unsigned)(*q - '0')
                                                             : width;
        }
        if (!valid || width > 32) {
            imd__text_free(&text);
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "name \"%.80s\": expected one number like Image_%%05d.dcm or "
                          "Image_{:05d}.dcm", name);
            return NULL;
        }
        imd__text_printf(&text, "%0*zu", (int)width, index);
        p = end;
    }
    if (numbers == 0) {
        imd__text_free(&text);
        imd_error_set(error, IMD_ERR_INVALID_ARG, "name \"%.80s\" holds no number pattern", name);
        return NULL;
    }
    return imd__text_finish(error, &text);
}
