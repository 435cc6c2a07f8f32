/*
 * naming.c: where one of several series goes under an output folder (the
 * original's collection layout, behaviour.md §8, or a --name pattern), and
 * the labels image_data's --sernum, --serdes, --imagetype, --frame and
 * --SOPClassUID give it: image_data and the Python binding's converter name
 * and label series alike.
 */
#define _POSIX_C_SOURCE 200809L
#include "pipeline/pipeline.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A name part of the original's collection folders: only alphanumerics and "._-". */
static void safe_part(char *out, size_t size, const char *text)
{
    size_t n = 0;
    for (const char *p = text != NULL ? text : ""; *p != '\0' && n + 1 < size; p++) {
        unsigned char c = (unsigned char)*p;
        out[n++] = (char)(isalnum(c) || c == '.' || c == '-' || c == '_' ? c : '_');
    }
    out[n] = '\0';
}

/* One letter of a --name pattern as a safe name part ("" when unknown). */
static void pattern_part(const ImdHeader *h, char letter, char *out, size_t size)
{
    static const struct {
        char letter;
        const char *keyword, *fallback;
    } parts[] = {{'i', "PatientID", "patient"},        {'n', "PatientName", "patient"},
                 {'D', "StudyDate", "date"},           {'T', "StudyTime", "time"},
                 {'s', "SeriesNumber", "0"},           {'d', "SeriesDescription", "series"},
                 {'p', "ProtocolName", "protocol"},    {'e', "EchoNumbers", ""},
                 {'m', "Manufacturer", ""},            {'l', "SplitLabel", ""}};
    out[0] = '\0';
    if (letter == 't') {
        char date[12], time[12];
        pattern_part(h, 'D', date, sizeof date);
        pattern_part(h, 'T', time, sizeof time);
        if (snprintf(out, size, "%s%s", date, time) < 0) {
            out[0] = '\0';
        }
        return;
    }
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i].letter == letter) {
            safe_part(out, size, imd_header_get_string(h, parts[i].keyword));
            if (letter == 'T') {
                out[6 < size ? 6 : size - 1] = '\0'; /* HHMMSS */
            }
            if (out[0] == '\0') {
                snprintf(out, size, "%s", parts[i].fallback);
            }
        }
    }
}

char *imd_series_output_name(const ImdSeries *series, const char *output, const char *pattern,
                             const char *const used[], size_t count)
{
    if (series == NULL || output == NULL) {
        return NULL;
    }
    pattern = pattern != NULL ? pattern : IMD_SERIES_NAME_DEFAULT;
    const ImdHeader *h = imd_series_const_header(series);
    const char *label = imd_header_get_string(h, "SplitLabel");
    bool add_label = label != NULL && label[0] != '\0' && strstr(pattern, "%l") == NULL;
    size_t size = strlen(output) + 2 + strlen(pattern) * 96 + 128 + count + 1;
    char *url = malloc(size);
    if (url == NULL) {
        return NULL;
    }
    size_t n = (size_t)snprintf(url, size, "%s/", output);
    for (const char *p = pattern; *p != '\0' && n + 1 < size; p++) {
        char part[96] = "";
        if (p[0] == '%' && p[1] != '\0') {
            if (p[1] == '%') {
                snprintf(part, sizeof part, "%%");
            } else {
                pattern_part(h, p[1], part, sizeof part);
            }
            p++;
        } else {
            part[0] = *p;
            part[1] = '\0';
        }
        n += (size_t)snprintf(url + n, size - n, "%s", part);
    }
    if (add_label && n + 1 < size) {
        char part[96];
        safe_part(part, sizeof part, label);
        n += (size_t)snprintf(url + n, size - n, "_%s", part);
    }
    for (size_t i = 0; i < count; i++) {
        if (used[i] != NULL && strcmp(used[i], url) == 0 && strlen(url) + 1 < size) {
            strcat(url, "0");
            i = (size_t)-1; /* compare with every name again */
        }
    }
    return url;
}


static bool set_label(ImdError **error, ImdHeader *header, const char *keyword,
                      const char *value, bool *changed)
{
    const char *old = imd_header_get_string(header, keyword);
    *changed = *changed || old == NULL || strcmp(old, value) != 0;
    return imd_header_set_string(error, header, keyword, value);
}

bool imd_series_set_labels(ImdError **error, ImdSeries *series, const ImdOptions *labels,
                           bool *changed)
{
    bool differs = false;
    static const struct {
        const char *key, *keyword;
    } names[] = {{"sernum", "SeriesNumber"},
                 {"serdes", "SeriesDescription"},
                 {"frame", "FrameOfReferenceUID"},
                 {"SOPClassUID", "SOPClassUID"}};
    ImdHeader *header = imd_series_header(series);
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof names / sizeof names[0]; i++) {
        const char *value = imd_options_get(labels, names[i].key, NULL);
        ok = value == NULL || set_label(error, header, names[i].keyword, value, &differs);
    }
    const char *types = imd_options_get(labels, "imagetype", NULL);
    if (ok && types != NULL) {
        char *joined = imd__sprintf(error, "%s", types);
        for (char *p = joined; p != NULL && *p != '\0'; p++) {
            *p = *p == ',' ? '\\' : *p; /* a,b,c -> the DICOM multi-value a\b\c (PS3.5 6.4) */
        }
        ok = joined != NULL && set_label(error, header, "ImageType", joined, &differs);
        free(joined);
    }
    if (changed != NULL) {
        *changed = differs;
    }
    return ok;
}
