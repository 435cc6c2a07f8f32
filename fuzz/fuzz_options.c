/*
 * fuzz_options: the option parser (src/base/options.c) and the input order
 * parser (imd__input_order_parse, src/base/input_order.c). Each line of the
 * input is a "key=value" pair for imd_options_set_pair(); every stored key
 * is then read as a bool, an int and a double, checked against a table of
 * every option type, and each value parsed as an input order. Checks: the
 * result/error invariant, a stored key reads back, and a parsed order is
 * auto (no components) or 1..IMD_MAX_TAG_DIMS distinct, blank-trimmed,
 * non-empty names without a comma, each found by imd__input_order_find.
 */
#include "internal.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_order(const char *text)
{
    ImdInputOrder order;
    ImdError *error = NULL;
    bool ok = imd__input_order_parse(&error, text, &order);
    if (ok != (error == NULL) || (!ok && order.count != 0) ||
        (ok && order.automatic != (order.count == 0)) ||
        (ok && order.count > IMD_MAX_TAG_DIMS)) {
        abort();
    }
    for (size_t i = 0; ok && i < order.count; i++) {
        size_t n = order.names[i] != NULL ? strlen(order.names[i]) : 0;
        if (n == 0 || n > IMD_INPUT_ORDER_NAME_MAX || order.names[i][0] == ' ' ||
            order.names[i][n - 1] == ' ' || strchr(order.names[i], ',') != NULL ||
            imd__input_order_find(&order, order.names[i]) != (int)i) {
            abort();
        }
    }
    if (ok && order.none != (order.count == 1 && strcmp(order.names[0], "none") == 0)) {
        abort();
    }
    imd__input_order_clear(&order);
    imd_error_clear(&error);
}

/* Every type, so that imd_options_check sees each parser on every value. */
static const char *const fuzz_choices[] = {"slice", "tag", NULL};

static void check_specs(const ImdOptions *options, const char *key)
{
    const ImdOptionSpec specs[] = {{key, IMD_OPTION_STRING, "", NULL},
                                   {NULL, 0, NULL, NULL}};
    static const uint32_t types[] = {IMD_OPTION_STRING, IMD_OPTION_BOOL, IMD_OPTION_INT,
                                     IMD_OPTION_DOUBLE, IMD_OPTION_ORDER, IMD_OPTION_CHOICE};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        ImdOptionSpec typed[2] = {specs[0], specs[1]};
        typed[0].type = types[t];
        typed[0].choices = types[t] == IMD_OPTION_CHOICE ? fuzz_choices : NULL;
        ImdError *error = NULL;
        bool ok = imd_options_check(&error, options, typed);
        if (ok != (error == NULL) || (types[t] == IMD_OPTION_STRING && !ok)) {
            abort();
        }
        imd_error_clear(&error);
    }
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
        check_specs(options, key);
        check_order(value);
    }
    check_order(text);
    imd_options_destroy(copy);
    imd_options_destroy(options);
    free(text);
    return 0;
}
