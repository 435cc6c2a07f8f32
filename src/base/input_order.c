/*
 * input_order.c: the input order ("auto", "none", "time", "b,bvector",
 * "time, te", a user's name such as "ti") parsed once, into ImdInputOrder,
 * for every format, the series model and the option checks.
 *
 * The grammar (behaviour.md §3.4, the original's `input_order`): "auto"
 * alone, or components separated by commas, blanks around each ignored.
 * A component names a tag axis and, for user names (ti=InversionTime), an
 * option key, so it is a name: ASCII letters, digits, '_', '-' and '.',
 * at most IMD_INPUT_ORDER_NAME_MAX characters. At most IMD_MAX_TAG_DIMS
 * components, each once; "auto" only alone. Anything else is an error naming the order and
 * the reason: nothing is truncated or dropped.
 */
#include "internal.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

void imd__input_order_clear(ImdInputOrder *order)
{
    if (order == NULL) {
        return;
    }
    for (size_t i = 0; i < order->count; i++) {
        free(order->names[i]);
    }
    memset(order, 0, sizeof *order);
}

/* The order text for a message: quoted, cut (visibly) when very long. */
#define SHOWN 80

bool imd__input_order_parse_as(ImdError **error, const char *what, const char *text,
                               ImdInputOrder *order)
{
    memset(order, 0, sizeof *order);
    if (text == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: no order given", what);
        return false;
    }
    int shown = strlen(text) > SHOWN ? SHOWN : (int)strlen(text);
    const char *ellipsis = strlen(text) > SHOWN ? "..." : "";
    size_t index = 0;
    for (const char *p = text;; index++) {
        const char *end = strchr(p, ',');
        size_t length = end != NULL ? (size_t)(end - p) : strlen(p);
        while (length > 0 && is_blank(*p)) {
            p++;
            length--;
        }
        while (length > 0 && is_blank(p[length - 1])) {
            length--;
        }
        const char *problem = NULL;
        if (length == 0) {
            problem = "is empty";
        } else if (length > IMD_INPUT_ORDER_NAME_MAX) {
            problem = "is longer than " IMD__STRINGIFY(IMD_INPUT_ORDER_NAME_MAX) " characters";
        } else if (index == IMD_MAX_TAG_DIMS) {
            problem = "is one too many (at most " IMD__STRINGIFY(IMD_MAX_TAG_DIMS) ")";
        }
        for (size_t i = 0; problem == NULL && i < length; i++) {
            if (!is_name_char(p[i])) {
                problem = "is not a name (letters, digits, '_', '-', '.')";
            }
        }
        for (size_t i = 0; problem == NULL && i < order->count; i++) {
            if (strlen(order->names[i]) == length && memcmp(order->names[i], p, length) == 0) {
                problem = "repeats an earlier one";
            }
        }
        /* "none" may name one axis of several (the model's default names of
         * a 6D series: none, unknown1, ...); "auto" only asks the readers. */
        if (problem == NULL && length == 4 && memcmp(p, "auto", 4) == 0 &&
            (index > 0 || end != NULL)) {
            problem = "is auto, which stands alone";
        }
        if (problem != NULL) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "%s \"%.*s%s\": component %zu %s", what,
                          shown, text, ellipsis, index + 1, problem);
            imd__input_order_clear(order);
            return false;
        }
        if (length == 4 && memcmp(p, "auto", 4) == 0) {
            order->automatic = true; /* alone (checked above): no components */
            return true;
        }
        char *name = imd__strndup(error, p, length);
        if (name == NULL) {
            imd__input_order_clear(order);
            return false;
        }
        order->names[order->count++] = name;
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    order->none = order->count == 1 && strcmp(order->names[0], "none") == 0;
    return true;
}

bool imd__input_order_parse(ImdError **error, const char *text, ImdInputOrder *order)
{
    return imd__input_order_parse_as(error, "input order", text, order);
}

bool imd__input_order_from_options(ImdError **error, const ImdOptions *options,
                                   ImdInputOrder *order)
{
    const char *text = imd_options_get(options, "input_order", "auto");
    return imd__input_order_parse_as(error, "option \"input_order\":", text, order);
}

int imd__input_order_find(const ImdInputOrder *order, const char *name)
{
    for (size_t i = 0; order != NULL && name != NULL && i < order->count; i++) {
        if (strcmp(order->names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}
