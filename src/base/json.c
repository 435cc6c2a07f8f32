/* json.c: the small pieces of JSON output the library writes. */
#include "internal.h"

#include <math.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_sequence(const unsigned char *p)
{
    if (p[0] < 0x80) {
        return 1;
    }
    size_t length = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (length == 0 || (p[0] >= 0xf8)) {
        return 0;
    }
    for (size_t i = 1; i < length; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return length;
}

void imd__json_string(ImdText *text, const char *value)
{
    imd__text_puts(text, "\"");
    const unsigned char *p = (const unsigned char *)value;
    while (*p != '\0') {
        if (*p == '"' || *p == '\\') {
            char escaped[2] = {'\\', (char)*p};
            imd__text_append(text, escaped, 2);
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            imd__text_printf(text, "\\u%04x", *p);
            p++;
        } else {
            size_t length = utf8_sequence(p);
            if (length == 0) {
                imd__text_puts(text, "\\ufffd");
                p++;
            } else {
                imd__text_append(text, (const char *)p, length);
                p += length;
            }
        }
    }
    imd__text_puts(text, "\"");
}

void imd__json_number(ImdText *text, double value)
{
    if (!isfinite(value)) {
        imd__text_puts(text, "null");
        return;
    }
    char buffer[40];
    for (int precision = 15; precision <= 17; precision++) {
        (void)snprintf(buffer, sizeof buffer, "%.*g", precision, value);
        if (strtod(buffer, NULL) == value) {
            break;
        }
    }
    imd__text_puts(text, buffer);
}
