/*
 * charset.c: DICOM text values to UTF-8 by Specific Character Set (0008,0005)
 * (PS3.5 §6.1, PS3.3 C.12.1.1.2, the examples of PS3.5 Annexes H to K).
 *
 * Three ways of decoding:
 *  - ISO 2022 (every term except the three below): a G0 and a G1 code
 *    element, switched by escape sequences; value 1 of (0008,0005) gives the
 *    initial ones (an empty value 1: ASCII in G0, no G1). The initial state
 *    comes back, as PS3.5 §6.1.2.5.3 requires the writer to have it back,
 *    before every control character other than ESC (CR, LF, FF, TAB...),
 *    before the value delimiter '\' of multi-valued VRs and before the '^'
 *    and '=' delimiters of PN. A delimiter is only seen where G0 holds ASCII
 *    or JIS X 0201 romaji: inside a two-byte G0 set (JIS X 0208, 0212) its
 *    byte is half of a character, as ISO 2022 reads it.
 *  - ISO_IR 192 (UTF-8), checked: each maximal invalid subpart becomes one
 *    U+FFFD, as Unicode recommends and Python does.
 *  - GB18030 and GBK: one character at a time through iconv; the '\' byte
 *    may be the second byte of a character, so values are not split here.
 * The stand-alone terms take no code extensions; values after them are
 * ignored, and so are stand-alone terms after value 1 (pydicom does both).
 *
 * Single characters go through iconv (a descriptor per code element, opened
 * on first use and closed before returning: no state outlives a call).
 *
 * Leniency, each of which sets *replaced (the text was not what the
 * declared character set allows), following pydicom where it has a rule:
 *  - bytes >= 0x80 with no G1 set (the default repertoire, an unknown term,
 *    or after a delimiter reset an empty value 1) decode as ISO 8859-1;
 *  - with JIS X 0201 katakana in G1 (ISO_IR 13), a Shift_JIS two-byte
 *    character decodes as Shift_JIS (a common error of Japanese writers);
 *  - VRs of the default repertoire (AE AS CS DA DS DT IS TM UI UR ...)
 *    ignore the character set: ASCII, other bytes as ISO 8859-1.
 * Recognised escape sequences are applied even when their set is missing
 * from (0008,0005); unknown ones become U+FFFD. Trailing NUL padding is
 * dropped; any other NUL becomes U+FFFD, as a C string cannot hold it.
 *
 * JIS X 0201 romaji (ISO-IR 14) is read as that standard has it: 0x5C is
 * YEN SIGN and 0x7E OVERLINE, except that 0x5C delimiting values stays '\'
 * (PS3.5 §6.1.2.5.3 names it as the delimiter). pydicom reads both as ASCII.
 */
#define _POSIX_C_SOURCE 200809L
#include "dicom_internal.h"

#include <iconv.h>

#define ESC 0x1b

typedef enum CodeSet {
    SET_NONE,
    SET_ASCII,    /* ISO-IR 6 */
    SET_ROMAJI,   /* JIS X 0201 romaji, ISO-IR 14 */
    SET_KATAKANA, /* JIS X 0201 katakana, ISO-IR 13 */
    SET_LATIN1,   /* ISO 8859 upper halves: ISO-IR 100 */
    SET_LATIN2,   /* ISO-IR 101 */
    SET_LATIN3,   /* ISO-IR 109 */
    SET_LATIN4,   /* ISO-IR 110 */
    SET_CYRILLIC, /* ISO-IR 144 */
    SET_ARABIC,   /* ISO-IR 127 */
    SET_GREEK,    /* ISO-IR 126 */
    SET_HEBREW,   /* ISO-IR 138 */
    SET_LATIN5,   /* ISO-IR 148 */
    SET_LATIN9,   /* ISO-IR 203 */
    SET_THAI,     /* TIS 620, ISO-IR 166 */
    SET_JISX0208, /* ISO-IR 87 */
    SET_JISX0212, /* ISO-IR 159 */
    SET_KSX1001,  /* ISO-IR 149 */
    SET_GB2312,   /* ISO-IR 58 */
    SET_SHIFT_JIS, /* fallback for ISO_IR 13 only */
    SET_GB18030,
    SET_GBK,
    SET_COUNT
} CodeSet;

/* The iconv name of each set (NULL: decoded here); two-byte sets are given as EUC. */
static const char *const set_iconv_names[SET_COUNT] = {
    [SET_LATIN1] = "ISO-8859-1",  [SET_LATIN2] = "ISO-8859-2",   [SET_LATIN3] = "ISO-8859-3",
    [SET_LATIN4] = "ISO-8859-4",  [SET_CYRILLIC] = "ISO-8859-5", [SET_ARABIC] = "ISO-8859-6",
    [SET_GREEK] = "ISO-8859-7",   [SET_HEBREW] = "ISO-8859-8",   [SET_LATIN5] = "ISO-8859-9",
    [SET_LATIN9] = "ISO-8859-15", [SET_THAI] = "TIS-620",        [SET_JISX0208] = "EUC-JP",
    [SET_JISX0212] = "EUC-JP",    [SET_KSX1001] = "EUC-KR",      [SET_GB2312] = "EUC-CN",
    [SET_SHIFT_JIS] = "SHIFT_JIS", [SET_GB18030] = "GB18030",   [SET_GBK] = "GBK",
};

typedef enum Mode { MODE_ISO2022, MODE_UTF8, MODE_GB18030, MODE_GBK } Mode;

typedef struct Term {
    Mode mode;
    CodeSet g0, g1; /* initial designations (ISO 2022) */
} Term;

/* ISO-IR numbers of the defined terms "ISO_IR n" and "ISO 2022 IR n" (PS3.3 C.12-2 to C.12-4). */
static const struct {
    unsigned number;
    Term term;
} ir_terms[] = {
    {6, {MODE_ISO2022, SET_ASCII, SET_NONE}},
    {13, {MODE_ISO2022, SET_ROMAJI, SET_KATAKANA}},
    {58, {MODE_ISO2022, SET_ASCII, SET_GB2312}},
    {87, {MODE_ISO2022, SET_ASCII, SET_NONE}}, /* a two-byte G0 set is no initial state */
    {100, {MODE_ISO2022, SET_ASCII, SET_LATIN1}},
    {101, {MODE_ISO2022, SET_ASCII, SET_LATIN2}},
    {109, {MODE_ISO2022, SET_ASCII, SET_LATIN3}},
    {110, {MODE_ISO2022, SET_ASCII, SET_LATIN4}},
    {126, {MODE_ISO2022, SET_ASCII, SET_GREEK}},
    {127, {MODE_ISO2022, SET_ASCII, SET_ARABIC}},
    {138, {MODE_ISO2022, SET_ASCII, SET_HEBREW}},
    {144, {MODE_ISO2022, SET_ASCII, SET_CYRILLIC}},
    {148, {MODE_ISO2022, SET_ASCII, SET_LATIN5}},
    {149, {MODE_ISO2022, SET_ASCII, SET_KSX1001}},
    {159, {MODE_ISO2022, SET_ASCII, SET_NONE}},
    {166, {MODE_ISO2022, SET_ASCII, SET_THAI}},
    {192, {MODE_UTF8, SET_ASCII, SET_NONE}},
    {203, {MODE_ISO2022, SET_ASCII, SET_LATIN9}},
};

/* Final bytes of "ESC - F" (96-character sets into G1, PS3.3 C.12-3). */
static const struct {
    uint8_t final;
    CodeSet set;
} g1_96_finals[] = {
    {'A', SET_LATIN1}, {'B', SET_LATIN2},   {'C', SET_LATIN3}, {'D', SET_LATIN4},
    {'L', SET_CYRILLIC}, {'G', SET_ARABIC}, {'F', SET_GREEK},  {'H', SET_HEBREW},
    {'M', SET_LATIN5}, {'b', SET_LATIN9},   {'T', SET_THAI},
};

typedef struct Decoder {
    ImdText out;
    iconv_t converters[SET_COUNT];
    bool opened[SET_COUNT];
    bool replaced;
    bool escapes;      /* code extensions are read */
    bool multi_valued; /* '\' delimits values */
    bool person_name;  /* '^' and '=' delimit */
    CodeSet g0, g1, initial_g0, initial_g1;
} Decoder;

/* ---- output ---- */

static void emit_bytes(Decoder *d, const void *bytes, size_t length)
{
    imd__text_append(&d->out, bytes, length);
}

static void emit_replacement(Decoder *d)
{
    emit_bytes(d, "\xef\xbf\xbd", 3);
    d->replaced = true;
}

static void emit_code_point(Decoder *d, uint32_t c)
{
    uint8_t buffer[4];
    size_t length;
    if (c < 0x80) {
        buffer[0] = (uint8_t)c;
        length = 1;
    } else if (c < 0x800) {
        buffer[0] = (uint8_t)(0xc0 | (c >> 6));
        buffer[1] = (uint8_t)(0x80 | (c & 0x3f));
        length = 2;
    } else {
        buffer[0] = (uint8_t)(0xe0 | (c >> 12));
        buffer[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
        buffer[2] = (uint8_t)(0x80 | (c & 0x3f));
        length = 3;
    }
    emit_bytes(d, buffer, length);
}

/* One character of `set` (its iconv form, 1 to 4 bytes); false when it does not decode. */
static bool emit_converted(Decoder *d, CodeSet set, const uint8_t *bytes, size_t length)
{
    if (!d->opened[set] && set_iconv_names[set] != NULL) {
        d->opened[set] = true;
        d->converters[set] = iconv_open("UTF-8", set_iconv_names[set]);
    }
    if (d->converters[set] == (iconv_t)-1 || length > 4) {
        return false;
    }
    char input[4], output[16];
    memcpy(input, bytes, length);
    char *in = input, *out = output;
    size_t in_left = length, out_left = sizeof output;
    size_t result = iconv(d->converters[set], &in, &in_left, &out, &out_left);
    if (result == (size_t)-1 || in_left != 0 || out == output) {
        (void)iconv(d->converters[set], NULL, NULL, NULL, NULL);
        return false;
    }
    emit_bytes(d, output, (size_t)(out - output));
    return true;
}

/* ---- ISO 2022 ---- */

static void reset_state(Decoder *d)
{
    d->g0 = d->initial_g0;
    d->g1 = d->initial_g1;
}

static bool is_two_byte(CodeSet set)
{
    return set == SET_JISX0208 || set == SET_JISX0212 || set == SET_KSX1001 || set == SET_GB2312;
}

static bool is_delimiter(const Decoder *d, uint8_t b)
{
    return (b == '\\' && d->multi_valued) || ((b == '^' || b == '=') && d->person_name);
}

/* Two GL or GR bytes of a two-byte set; false when they do not decode. */
static bool emit_two_byte(Decoder *d, CodeSet set, uint8_t first, uint8_t second)
{
    uint8_t euc[3];
    size_t length = 0;
    if (set == SET_JISX0212) {
        euc[length++] = 0x8f;
    }
    euc[length++] = (uint8_t)(first | 0x80);
    euc[length++] = (uint8_t)(second | 0x80);
    return emit_converted(d, set, euc, length);
}

static CodeSet final_94(uint8_t final)
{
    return final == 'B' ? SET_ASCII : final == 'J' ? SET_ROMAJI : final == 'I' ? SET_KATAKANA
                                                                               : SET_NONE;
}

static CodeSet final_94x94(uint8_t final)
{
    switch (final) {
    case '@': /* JIS C 6226-1978, read as its successor */
    case 'B':
        return SET_JISX0208;
    case 'D':
        return SET_JISX0212;
    case 'C':
        return SET_KSX1001;
    case 'A':
        return SET_GB2312;
    default:
        return SET_NONE;
    }
}

static CodeSet final_96(uint8_t final)
{
    for (size_t i = 0; i < sizeof g1_96_finals / sizeof g1_96_finals[0]; i++) {
        if (g1_96_finals[i].final == final) {
            return g1_96_finals[i].set;
        }
    }
    return SET_NONE;
}

/* Apply a designation "ESC <intermediates> <final>"; false when it is not one we know. */
static bool designate(Decoder *d, const uint8_t *intermediates, size_t count, uint8_t final)
{
    CodeSet set = SET_NONE;
    bool g1 = false;
    if (count == 1 && (intermediates[0] == '(' || intermediates[0] == ')')) {
        g1 = intermediates[0] == ')';
        set = final_94(final);
        if (g1 && set != SET_KATAKANA) {
            set = SET_NONE; /* ASCII and romaji have no place in G1 */
        }
    } else if (count == 1 && intermediates[0] == '-') {
        g1 = true;
        set = final_96(final);
    } else if (count >= 1 && count <= 2 && intermediates[0] == '$') {
        g1 = count == 2 && intermediates[1] == ')';
        if (count == 1 || intermediates[1] == '(' || g1) {
            set = final_94x94(final);
        }
    }
    if (set == SET_NONE) {
        return false;
    }
    if (g1) {
        d->g1 = set;
    } else {
        d->g0 = set;
    }
    return true;
}

/* An escape sequence at p[0] (ESC); returns the bytes it takes. */
static size_t decode_escape(Decoder *d, const uint8_t *p, size_t n)
{
    size_t length = 1;
    while (length < n && length <= 3 && p[length] >= 0x20 && p[length] <= 0x2f) {
        length++;
    }
    if (length == 1 || length > 3 || length >= n || p[length] < 0x30 || p[length] > 0x7e) {
        emit_replacement(d); /* not an escape sequence: the ESC alone */
        return 1;
    }
    if (!designate(d, p + 1, length - 1, p[length])) {
        emit_replacement(d);
    }
    return length + 1;
}

static size_t decode_g0(Decoder *d, const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    if (b == ' ' || b == 0x7f) {
        emit_bytes(d, p, 1);
        return 1;
    }
    if ((d->g0 == SET_ASCII || d->g0 == SET_ROMAJI) && is_delimiter(d, b)) {
        reset_state(d);
        emit_bytes(d, p, 1);
        return 1;
    }
    switch (d->g0) {
    case SET_ROMAJI:
        if (b == 0x5c || b == 0x7e) {
            emit_code_point(d, b == 0x5c ? 0xa5 : 0x203e);
            return 1;
        }
        emit_bytes(d, p, 1);
        return 1;
    case SET_KATAKANA:
        if (b <= 0x5f) {
            emit_code_point(d, 0xff61u + (b - 0x21u));
        } else {
            emit_replacement(d);
        }
        return 1;
    default:
        break;
    }
    if (is_two_byte(d->g0)) {
        if (n >= 2 && p[1] >= 0x21 && p[1] <= 0x7e) {
            if (!emit_two_byte(d, d->g0, b, p[1])) {
                emit_replacement(d);
            }
            return 2;
        }
        emit_replacement(d);
        return 1;
    }
    emit_bytes(d, p, 1); /* ASCII */
    return 1;
}

/* ISO_IR 13 text holding Shift_JIS: decode a two-byte character as such. */
static size_t decode_shift_jis(Decoder *d, const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    bool lead = (b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc);
    if (lead && n >= 2 && p[1] >= 0x40 && p[1] <= 0xfc && p[1] != 0x7f &&
        emit_converted(d, SET_SHIFT_JIS, p, 2)) {
        d->replaced = true;
        return 2;
    }
    emit_replacement(d);
    return 1;
}

static size_t decode_g1(Decoder *d, const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    if (d->g1 == SET_NONE) {
        emit_code_point(d, b); /* ISO 8859-1, as pydicom's default */
        d->replaced = true;
        return 1;
    }
    if (d->g1 == SET_KATAKANA) {
        if (b >= 0xa1 && b <= 0xdf) {
            emit_code_point(d, 0xff61u + (b - 0xa1u));
            return 1;
        }
        return decode_shift_jis(d, p, n);
    }
    if (is_two_byte(d->g1)) {
        if (n >= 2 && b >= 0xa1 && b <= 0xfe && p[1] >= 0xa1 && p[1] <= 0xfe) {
            if (!emit_two_byte(d, d->g1, b, p[1])) {
                emit_replacement(d);
            }
            return 2;
        }
        emit_replacement(d);
        return 1;
    }
    if (b < 0xa0) {
        emit_code_point(d, b); /* C1 control, as ISO 8859 decoders give it */
    } else if (!emit_converted(d, d->g1, p, 1)) {
        emit_replacement(d);
    }
    return 1;
}

static size_t decode_iso2022_step(Decoder *d, const uint8_t *p, size_t n)
{
    uint8_t b = p[0];
    if (b == ESC && d->escapes) {
        return decode_escape(d, p, n);
    }
    if (b < 0x20) {
        reset_state(d);
        if (b == 0) {
            emit_replacement(d);
        } else {
            emit_bytes(d, p, 1);
        }
        return 1;
    }
    return b >= 0x80 ? decode_g1(d, p, n) : decode_g0(d, p, n);
}

/* ---- stand-alone encodings ---- */

static size_t decode_utf8_step(Decoder *d, const uint8_t *p, size_t n)
{
    uint8_t b = p[0], low = 0x80, high = 0xbf;
    size_t need;
    if (b < 0x80) {
        if (b == 0) {
            emit_replacement(d);
        } else {
            emit_bytes(d, p, 1);
        }
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        need = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
        need = 3;
        low = b == 0xe0 ? 0xa0 : 0x80;  /* no overlong forms */
        high = b == 0xed ? 0x9f : 0xbf; /* no surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 4;
        low = b == 0xf0 ? 0x90 : 0x80;
        high = b == 0xf4 ? 0x8f : 0xbf; /* nothing above U+10FFFF */
    } else {
        emit_replacement(d);
        return 1;
    }
    size_t i = 1;
    while (i < need && i < n && p[i] >= (i == 1 ? low : 0x80) && p[i] <= (i == 1 ? high : 0xbf)) {
        i++;
    }
    if (i < need) {
        emit_replacement(d); /* the maximal subpart of a sequence */
        return i;
    }
    emit_bytes(d, p, need);
    return need;
}

/* The length of the GB18030 (or GBK) character at p, by its structure; 1 when invalid. */
static size_t gb_length(const uint8_t *p, size_t n, bool gb18030)
{
    if (p[0] < 0x81 || p[0] > 0xfe || n < 2) {
        return 1;
    }
    if (gb18030 && p[1] >= 0x30 && p[1] <= 0x39) {
        return n >= 4 && p[2] >= 0x81 && p[2] <= 0xfe && p[3] >= 0x30 && p[3] <= 0x39 ? 4 : 1;
    }
    return p[1] >= 0x40 && p[1] <= 0xfe && p[1] != 0x7f ? 2 : 1;
}

static size_t decode_gb_step(Decoder *d, const uint8_t *p, size_t n, bool gb18030)
{
    if (p[0] < 0x80) {
        return decode_utf8_step(d, p, n);
    }
    size_t length = gb_length(p, n, gb18030);
    if (length == 1 || !emit_converted(d, gb18030 ? SET_GB18030 : SET_GBK, p, length)) {
        emit_replacement(d);
        return 1;
    }
    return length;
}

/* ---- the Specific Character Set ---- */

/* Parse "ISO?IR n" / "ISO?2022?IR n" (any of ' ', '_', '-' as separators, as pydicom corrects). */
static bool ir_number(const char *term, size_t length, unsigned *number)
{
    static const char *const prefixes[] = {"ISO IR ", "ISO 2022 IR ", "ISO 2022 "};
    char text[24];
    if (length == 0 || length >= sizeof text) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char c = term[i];
        text[i] = c == '_' || c == '-' ? ' ' : c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    text[length] = '\0';
    for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        size_t prefix = strlen(prefixes[k]);
        if (length > prefix && length - prefix <= 3 && memcmp(text, prefixes[k], prefix) == 0) {
            unsigned value = 0;
            for (size_t i = prefix; i < length; i++) {
                if (text[i] < '0' || text[i] > '9') {
                    return false;
                }
                value = value * 10 + (unsigned)(text[i] - '0');
            }
            *number = value;
            return true;
        }
    }
    return false;
}

static bool term_is(const char *term, size_t length, const char *name)
{
    return strlen(name) == length && memcmp(term, name, length) == 0;
}

/* The term (trimmed); unknown ones read as the default repertoire, as pydicom does. */
static Term lookup_term(const char *term, size_t length)
{
    Term result = {MODE_ISO2022, SET_ASCII, SET_NONE};
    unsigned number;
    if (term_is(term, length, "GB18030")) {
        result.mode = MODE_GB18030;
    } else if (term_is(term, length, "GBK") || term_is(term, length, "ISO 2022 GBK")) {
        result.mode = MODE_GBK;
    } else if (ir_number(term, length, &number)) {
        for (size_t i = 0; i < sizeof ir_terms / sizeof ir_terms[0]; i++) {
            if (ir_terms[i].number == number) {
                result = ir_terms[i].term;
            }
        }
    }
    return result;
}

/* Value 1 of (0008,0005), without padding. */
static Term first_term(const char *charsets)
{
    if (charsets == NULL) {
        return lookup_term("", 0);
    }
    size_t end = strcspn(charsets, "\\");
    size_t start = 0;
    while (start < end && charsets[start] == ' ') {
        start++;
    }
    while (end > start && (charsets[end - 1] == ' ' || charsets[end - 1] == '\0')) {
        end--;
    }
    return lookup_term(charsets + start, end - start);
}

/* ---- the value representations ---- */

static bool vr_uses_charset(ImdVR vr)
{
    return vr == IMD_VR_LO || vr == IMD_VR_LT || vr == IMD_VR_PN || vr == IMD_VR_SH ||
           vr == IMD_VR_ST || vr == IMD_VR_UC || vr == IMD_VR_UT;
}

static bool vr_is_multi_valued(ImdVR vr)
{
    return vr != IMD_VR_LT && vr != IMD_VR_ST && vr != IMD_VR_UT && vr != IMD_VR_UR;
}

static void decoder_init(Decoder *d, const char *charsets, ImdVR vr, Mode *mode)
{
    memset(d, 0, sizeof *d);
    for (size_t i = 0; i < SET_COUNT; i++) {
        d->converters[i] = (iconv_t)-1;
    }
    Term term = {MODE_ISO2022, SET_ASCII, SET_NONE};
    if (vr_uses_charset(vr)) {
        term = first_term(charsets);
    }
    *mode = term.mode;
    d->escapes = vr_uses_charset(vr);
    d->multi_valued = vr_is_multi_valued(vr);
    d->person_name = vr == IMD_VR_PN;
    d->initial_g0 = term.g0;
    d->initial_g1 = term.g1;
    reset_state(d);
}

static void decoder_close(Decoder *d)
{
    for (size_t i = 0; i < SET_COUNT; i++) {
        if (d->opened[i] && d->converters[i] != (iconv_t)-1) {
            (void)iconv_close(d->converters[i]);
        }
    }
}

char *imd__dicom_decode_text(ImdError **error, const uint8_t *bytes, size_t size,
                             const char *charsets, ImdVR vr, bool *replaced)
{
    Decoder d;
    Mode mode;
    decoder_init(&d, charsets, vr, &mode);
    if (bytes == NULL) {
        size = 0;
    }
    while (size > 0 && bytes[size - 1] == 0) {
        size--; /* NUL padding */
    }
    size_t i = 0;
    while (i < size && !d.out.failed) {
        const uint8_t *p = bytes + i;
        size_t n = size - i;
        switch (mode) {
        case MODE_UTF8:
            i += decode_utf8_step(&d, p, n);
            break;
        case MODE_GB18030:
        case MODE_GBK:
            i += decode_gb_step(&d, p, n, mode == MODE_GB18030);
            break;
        default:
            i += decode_iso2022_step(&d, p, n);
            break;
        }
    }
    decoder_close(&d);
    if (replaced != NULL && d.replaced) {
        *replaced = true;
    }
    return imd__text_finish(error, &d.out);
}
