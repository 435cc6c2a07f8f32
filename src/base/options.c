/*
 * options.c: ImdOptions, the original's `opts` dictionary.
 *
 * A plain array of key/value strings in insertion order: option sets are
 * small (tens of entries), so a linear search is faster than any table and
 * keeps the order the user gave, which listings and merges depend on.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>

/* get_int converts strtoll's result to int64_t without a range check. */
_Static_assert(sizeof(long long) == sizeof(int64_t), "long long must be 64 bits");

typedef struct ImdOptionEntry {
    char *key;
    char *value;
} ImdOptionEntry;

struct ImdOptions {
    ImdOptionEntry *entries;
    size_t count, capacity;
};

ImdOptions *imd_options_create(ImdError **error)
{
    return imd__calloc(error, 1, sizeof(ImdOptions));
}

static void free_entries(ImdOptions *options)
{
    for (size_t i = 0; i < options->count; i++) {
        free(options->entries[i].key);
        free(options->entries[i].value);
    }
    free(options->entries);
    options->entries = NULL;
    options->count = options->capacity = 0;
}

void imd_options_destroy(ImdOptions *options)
{
    if (options == NULL) {
        return;
    }
    free_entries(options);
    free(options);
}

static ImdOptionEntry *find_entry(const ImdOptions *options, const char *key)
{
    if (options == NULL || key == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < options->count; i++) {
        if (strcmp(options->entries[i].key, key) == 0) {
            return &options->entries[i];
        }
    }
    return NULL;
}

/* Set with a value of known length, so set_pair needs no temporary copy. */
static bool set_value(ImdError **error, ImdOptions *options, const char *key, size_t key_length,
                      const char *value, size_t value_length)
{
    char *key_copy = imd__strndup(error, key, key_length);
    if (key_copy == NULL) {
        return false;
    }
    char *value_copy = imd__strndup(error, value, value_length);
    if (value_copy == NULL) {
        free(key_copy);
        return false;
    }
    ImdOptionEntry *entry = find_entry(options, key_copy);
    if (entry != NULL) {
        /* Override in place: the key keeps the position where it was first set. */
        free(key_copy);
        free(entry->value);
        entry->value = value_copy;
        return true;
    }
    size_t needed;
    if (!imd__add_size(options->count, 1, &needed)) {
        imd_error_set(error, IMD_ERR_LIMIT, "option \"%s\": too many options", key_copy);
        free(key_copy);
        free(value_copy);
        return false;
    }
    if (!imd__grow(error, (void **)&options->entries, &options->capacity, needed,
                   sizeof *options->entries)) {
        imd_error_prefix(error, "option \"%s\": ", key_copy);
        free(key_copy);
        free(value_copy);
        return false;
    }
    options->entries[options->count].key = key_copy;
    options->entries[options->count].value = value_copy;
    options->count = needed;
    return true;
}

static void remove_key(ImdOptions *options, const char *key)
{
    ImdOptionEntry *entry = find_entry(options, key);
    if (entry == NULL) {
        return;
    }
    size_t index = (size_t)(entry - options->entries);
    free(entry->key);
    free(entry->value);
    /* Shift rather than swap, so the remaining entries keep their order. */
    memmove(entry, entry + 1, (options->count - index - 1) * sizeof *entry);
    options->count--;
}

bool imd_options_set(ImdError **error, ImdOptions *options, const char *key, const char *value)
{
    if (options == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": no options object",
                      key != NULL ? key : "(null)");
        return false;
    }
    if (key == NULL || key[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option with an empty key");
        return false;
    }
    if (value == NULL) {
        remove_key(options, key);
        return true;
    }
    return set_value(error, options, key, strlen(key), value, strlen(value));
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Narrow [*start, *end) to exclude surrounding blanks. */
static void trim(const char **start, const char **end)
{
    while (*start < *end && is_blank(**start)) {
        (*start)++;
    }
    while (*end > *start && is_blank((*end)[-1])) {
        (*end)--;
    }
}

bool imd_options_set_pair(ImdError **error, ImdOptions *options, const char *pair)
{
    if (pair == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option pair is NULL");
        return false;
    }
    if (options == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": no options object", pair);
        return false;
    }
    const char *equals = strchr(pair, '=');
    if (equals == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": expected key=value", pair);
        return false;
    }
    const char *key = pair, *key_end = equals;
    trim(&key, &key_end);
    if (key == key_end) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": empty key", pair);
        return false;
    }
    const char *value = equals + 1, *value_end = value + strlen(value);
    trim(&value, &value_end);
    /*
     * The original literal-evaluates the value, so `time='TriggerTime'` and
     * `time=TriggerTime` mean the same; strip one pair of matching quotes.
     */
    size_t value_length = (size_t)(value_end - value);
    if (value_length >= 2 && (value[0] == '\'' || value[0] == '"') &&
        value_end[-1] == value[0]) {
        value++;
        value_end--;
    }
    return set_value(error, options, key, (size_t)(key_end - key), value,
                     (size_t)(value_end - value));
}

bool imd_options_merge(ImdError **error, ImdOptions *destination, const ImdOptions *source)
{
    if (destination == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "merging options into NULL");
        return false;
    }
    if (source == NULL || source == destination) {
        return true;
    }
    /*
     * Merge into a copy and swap it in, so a failure half-way (out of memory)
     * leaves `destination` as it was.
     */
    ImdOptions *merged = imd_options_clone(error, destination);
    if (merged == NULL) {
        return false;
    }
    for (size_t i = 0; i < source->count; i++) {
        const ImdOptionEntry *entry = &source->entries[i];
        if (!set_value(error, merged, entry->key, strlen(entry->key), entry->value,
                       strlen(entry->value))) {
            imd_options_destroy(merged);
            return false;
        }
    }
    free_entries(destination);
    *destination = *merged;
    free(merged);
    return true;
}

ImdOptions *imd_options_clone(ImdError **error, const ImdOptions *options)
{
    ImdOptions *copy = imd_options_create(error);
    if (copy == NULL || options == NULL) {
        return copy; /* a NULL options object is an empty one, as for the getters */
    }
    if (options->count > 0) {
        copy->entries = imd__calloc(error, options->count, sizeof *copy->entries);
        if (copy->entries == NULL) {
            free(copy);
            return NULL;
        }
        copy->capacity = options->count;
    }
    for (size_t i = 0; i < options->count; i++) {
        ImdOptionEntry *to = &copy->entries[i];
        to->key = imd__strdup(error, options->entries[i].key);
        to->value = to->key != NULL ? imd__strdup(error, options->entries[i].value) : NULL;
        if (to->value == NULL) {
            free(to->key);
            imd_options_destroy(copy);
            return NULL;
        }
        copy->count = i + 1;
    }
    return copy;
}

const char *imd_options_get(const ImdOptions *options, const char *key, const char *fallback)
{
    const ImdOptionEntry *entry = find_entry(options, key);
    return entry != NULL ? entry->value : fallback;
}

bool imd_options_has(const ImdOptions *options, const char *key)
{
    return find_entry(options, key) != NULL;
}

/* ASCII-only case folding: the locale must not change what "TRUE" means. */
static bool equals_ignoring_case(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y) {
            return false;
        }
    }
    return *a == *b;
}

static bool parse_bool(ImdError **error, const char *key, const char *text, bool *value);
static bool parse_int(ImdError **error, const char *key, const char *text, int64_t *value);
static bool parse_double(ImdError **error, const char *key, const char *text, double *value);
static bool parse_choice(ImdError **error, const char *key, const char *text,
                         const char *const *choices, size_t *index);

/* A typed getter's text: NULL when the option is absent (the fallback applies);
 * false when the caller gave no place for the value. */
static bool typed_text(ImdError **error, const ImdOptions *options, const char *key,
                       bool has_place, const char **text)
{
    if (!has_place) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": no place for the value",
                      key != NULL ? key : "(null)");
        return false;
    }
    *text = imd_options_get(options, key, NULL);
    return true;
}

bool imd_options_get_bool(ImdError **error, const ImdOptions *options, const char *key,
                          bool fallback, bool *value)
{
    const char *text = NULL;
    if (!typed_text(error, options, key, value != NULL, &text)) {
        return false;
    }
    if (text == NULL) {
        *value = fallback;
        return true;
    }
    return parse_bool(error, key, text, value);
}

/* The typed parsers: `text` of option `key` into *value (untouched on failure). */
static bool parse_bool(ImdError **error, const char *key, const char *text, bool *value)
{
    static const char *const truths[] = {"true", "yes", "on", "1"};
    static const char *const falsehoods[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
        if (equals_ignoring_case(text, truths[i])) {
            *value = true;
            return true;
        }
        if (equals_ignoring_case(text, falsehoods[i])) {
            *value = false;
            return true;
        }
    }
    imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": \"%s\" is not a boolean", key,
                  text);
    return false;
}

bool imd_options_get_int(ImdError **error, const ImdOptions *options, const char *key,
                         int64_t fallback, int64_t *value)
{
    const char *text = NULL;
    if (!typed_text(error, options, key, value != NULL, &text)) {
        return false;
    }
    if (text == NULL) {
        *value = fallback;
        return true;
    }
    return parse_int(error, key, text, value);
}

static bool parse_int(ImdError **error, const char *key, const char *text, int64_t *value)
{
    /* strtoll would skip leading blanks and accept "", so check the first character. */
    if (!(isdigit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+')) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": \"%s\" is not an integer",
                      key, text);
        return false;
    }
    errno = 0;
    char *end = NULL;
    long long parsed = strtoll(text, &end, 10);
    if (end == text || *end != '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": \"%s\" is not an integer",
                      key, text);
        return false;
    }
    if (errno == ERANGE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "option \"%s\": \"%s\" is out of the 64-bit integer range", key, text);
        return false;
    }
    *value = (int64_t)parsed;
    return true;
}

bool imd_options_get_double(ImdError **error, const ImdOptions *options, const char *key,
                            double fallback, double *value)
{
    const char *text = NULL;
    if (!typed_text(error, options, key, value != NULL, &text)) {
        return false;
    }
    if (text == NULL) {
        *value = fallback;
        return true;
    }
    return parse_double(error, key, text, value);
}

static bool parse_double(ImdError **error, const char *key, const char *text, double *value)
{
    if (text[0] == '\0' || is_blank(text[0])) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": \"%s\" is not a number", key,
                      text);
        return false;
    }
    errno = 0;
    char *end = NULL;
    double parsed = strtod(text, &end);
    if (end == text || *end != '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": \"%s\" is not a number", key,
                      text);
        return false;
    }
    /* ERANGE with a finite result is underflow to (almost) zero, which is fine. */
    if (!isfinite(parsed)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "option \"%s\": \"%s\" is not a finite number", key, text);
        return false;
    }
    *value = parsed;
    return true;
}

/* "a, b or c" for a message. */
static char *list_choices(const char *const *choices)
{
    ImdText text = {0};
    size_t count = 0;
    while (choices != NULL && choices[count] != NULL) {
        count++;
    }
    for (size_t i = 0; i < count; i++) {
        imd__text_printf(&text, "%s%s", i == 0 ? "" : i + 1 == count ? " or " : ", ",
                         choices[i]);
    }
    return imd__text_finish(NULL, &text);
}

bool imd_options_get_choice(ImdError **error, const ImdOptions *options, const char *key,
                            const char *const *choices, size_t fallback, size_t *index)
{
    if (index == NULL || choices == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": no choices or no place for "
                      "the value", key != NULL ? key : "(null)");
        return false;
    }
    const char *text = imd_options_get(options, key, NULL);
    if (text == NULL) {
        *index = fallback;
        return true;
    }
    return parse_choice(error, key, text, choices, index);
}

/* Exactly one of the choices: "Tag" is not "tag" (the values are names, not words). */
static bool parse_choice(ImdError **error, const char *key, const char *text,
                         const char *const *choices, size_t *index)
{
    for (size_t i = 0; choices[i] != NULL; i++) {
        if (strcmp(choices[i], text) == 0) {
            *index = i;
            return true;
        }
    }
    char *listed = list_choices(choices);
    imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": \"%s\" is not %s", key, text,
                  listed != NULL ? listed : "one of the choices");
    free(listed);
    return false;
}

const ImdOptionSpec *imd_option_spec_find(const ImdOptionSpec *specs, const char *name)
{
    for (const ImdOptionSpec *spec = specs; spec != NULL && spec->name != NULL && name != NULL;
         spec++) {
        if (strcmp(spec->name, name) == 0) {
            return spec;
        }
    }
    return NULL;
}

bool imd_option_spec_check(ImdError **error, const ImdOptionSpec *spec, const char *value)
{
    if (spec == NULL || spec->name == NULL || value == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option check without a spec or a value");
        return false;
    }
    bool flag;
    int64_t integer;
    double real;
    size_t index;
    switch (spec->type) {
    case IMD_OPTION_STRING:
        return true;
    case IMD_OPTION_BOOL:
        return parse_bool(error, spec->name, value, &flag);
    case IMD_OPTION_INT:
        return parse_int(error, spec->name, value, &integer);
    case IMD_OPTION_DOUBLE:
        return parse_double(error, spec->name, value, &real);
    case IMD_OPTION_CHOICE:
        if (spec->choices == NULL) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": declared a choice "
                          "without choices", spec->name);
            return false;
        }
        return parse_choice(error, spec->name, value, spec->choices, &index);
    case IMD_OPTION_ORDER: {
        char *what = imd__sprintf(error, "option \"%s\":", spec->name);
        ImdInputOrder order;
        bool ok = what != NULL && imd__input_order_parse_as(error, what, value, &order);
        if (ok) {
            imd__input_order_clear(&order);
        }
        free(what);
        return ok;
    }
    default:
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": declared with unknown type %u",
                      spec->name, (unsigned)spec->type);
        return false;
    }
}

bool imd_options_check(ImdError **error, const ImdOptions *options, const ImdOptionSpec *specs)
{
    for (size_t i = 0; options != NULL && i < options->count; i++) {
        const ImdOptionSpec *spec = imd_option_spec_find(specs, options->entries[i].key);
        if (spec != NULL && !imd_option_spec_check(error, spec, options->entries[i].value)) {
            return false;
        }
    }
    return true;
}

size_t imd_options_count(const ImdOptions *options)
{
    return options != NULL ? options->count : 0;
}

const char *imd_options_key(const ImdOptions *options, size_t index)
{
    return options != NULL && index < options->count ? options->entries[index].key : NULL;
}

const char *imd_options_value(const ImdOptions *options, size_t index)
{
    return options != NULL && index < options->count ? options->entries[index].value : NULL;
}
