/*
 * fuzz_options: the option parser (src/base/options.c) and the input order
 * splitter (imd__split_order). Each line of the input is a "key=value" pair
 * for imd_options_set_pair(); every stored key is then read as a bool, an
 * int and a double, and each value split as an input order. Checks: the
 * result/error invariant, a stored key reads back, and a split order gives
 * 1..IMD_MAX_TAG_DIMS space-trimmed, non-empty components without a comma.
 */
#include "internal.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_order(const char *text)
{
    char *parts[IMD_MAX_TAG_DIMS] = {0};
    size_t count = 0;
    ImdError *error = NULL;
    bool ok = imd__split_order(&error, text, parts, &count);
    if (ok != (error == NULL) || (ok && (count < 1 || count > IMD_MAX_TAG_DIMS))) {
        abort();
    }
    for (size_t i = 0; ok && i < count; i++) {
        size_t n = parts[i] != NULL ? strlen(parts[i]) : 0;
        /* imd__split_order trims spaces (only: a tab is part of a name). */
        if (n == 0 || parts[i][0] == ' ' || parts[i][n - 1] == ' ' || strchr(parts[i], ',')) {
            abort();
        }
    }
    for (size_t i = 0; i < IMD_MAX_TAG_DIMS; i++) {
        free(parts[i]);
    }
    imd_error_clear(&error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = imd__strndup(NULL, (const char *)data, size);
    ImdOptions *options = imd_options_create(NULL);
    if (text == NULL || options == NULL) {
        abort();
    }
    for (char *line = text, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        ImdError *error = NULL;
        bool ok = imd_options_set_pair(&error, options, line);
        if (ok != (error == NULL)) {
            abort();
        }
        imd_error_clear(&error);
    }
    ImdOptions *copy = imd_options_clone(NULL, options);
    for (size_t i = 0; i < imd_options_count(options); i++) {
        const char *key = imd_options_key(options, i), *value = imd_options_value(options, i);
        if (key == NULL || value == NULL || imd_options_get(options, key, NULL) == NULL ||
            (copy != NULL && !imd_options_has(copy, key))) {
            abort();
        }
        ImdError *error = NULL;
        bool flag;
        int64_t integer;
        double real;
        if (imd_options_get_bool(&error, options, key, false, &flag) != (error == NULL)) {
            abort();
        }
        imd_error_clear(&error);
        if (imd_options_get_int(&error, options, key, 0, &integer) != (error == NULL)) {
            abort();
        }
        imd_error_clear(&error);
        if (imd_options_get_double(&error, options, key, 0, &real) != (error == NULL)) {
            abort();
        }
        imd_error_clear(&error);
        check_order(value);
    }
    check_order(text);
    imd_options_destroy(copy);
    imd_options_destroy(options);
    free(text);
    return 0;
}
