/**
 * @file options.h
 * ImdOptions: the original's `opts` dictionary, a string key=value store
 * with typed getters. Keys use the Python spelling ("input_order",
 * "output_sort", "calling_aet", "accept_duplicate_tag", "ti", ...), so CLI
 * flags and keyword arguments land unchanged.
 */
#ifndef IMAGEDATA_OPTIONS_H
#define IMAGEDATA_OPTIONS_H

#include <imagedata/common.h>

IMD_BEGIN_DECLS

IMD_API IMD_NODISCARD ImdOptions *imd_options_create(ImdError **error);
IMD_API IMD_NODISCARD ImdOptions *imd_options_clone(ImdError **error, const ImdOptions *options);
IMD_API void imd_options_destroy(ImdOptions *options);

/** Set `key` to `value` (both copied); a NULL value removes the key. INVALID_ARG for an empty key. */
IMD_API bool imd_options_set(ImdError **error, ImdOptions *options, const char *key,
                             const char *value);

/**
 * Set from "key=value" text, as `--input_options` gives it. Surrounding
 * blanks are trimmed and one pair of matching quotes ('x' or "x") around the
 * value is removed (the original literal-evaluates the value).
 * INVALID_ARG without '=' or with an empty key.
 */
IMD_API bool imd_options_set_pair(ImdError **error, ImdOptions *options, const char *pair);

/** Copy every entry of `source` into `destination`, overriding existing keys. */
IMD_API bool imd_options_merge(ImdError **error, ImdOptions *destination,
                               const ImdOptions *source);

/** The value of `key`, else `fallback`. `options` may be NULL. Borrowed. */
IMD_API const char *imd_options_get(const ImdOptions *options, const char *key,
                                    const char *fallback);
IMD_API bool imd_options_has(const ImdOptions *options, const char *key);

/**
 * Typed getters: *value is `fallback` when the key is absent. INVALID_ARG
 * (naming the key and the text) when the text does not parse. Booleans
 * accept true/false, yes/no, on/off, 1/0 in any case (Python's True/False).
 */
IMD_API bool imd_options_get_bool(ImdError **error, const ImdOptions *options, const char *key,
                                  bool fallback, bool *value);
IMD_API bool imd_options_get_int(ImdError **error, const ImdOptions *options, const char *key,
                                 int64_t fallback, int64_t *value);
IMD_API bool imd_options_get_double(ImdError **error, const ImdOptions *options,
                                    const char *key, double fallback, double *value);

/**
 * What an option's value must be (ImdOptionSpec.type). The numbering is part
 * of the plugin ABI: values are only appended.
 */
typedef enum ImdOptionType {
    IMD_OPTION_STRING = 1, /**< any text */
    IMD_OPTION_BOOL = 2,   /**< true/false, yes/no, on/off, 1/0 (imd_options_get_bool) */
    IMD_OPTION_INT = 3,    /**< a decimal 64-bit integer (imd_options_get_int) */
    IMD_OPTION_DOUBLE = 4, /**< a finite number (imd_options_get_double) */
    IMD_OPTION_ORDER = 5,  /**< an input order: auto, none, or names "time,te" */
    IMD_OPTION_CHOICE = 6  /**< one of `choices`, exactly */
} ImdOptionType;

/**
 * One option a plugin reads, in a table ended by an entry with a NULL name
 * (ImdFormatPlugin.options). The pipeline refuses an option no table of the
 * formats in play declares, and a value that is not of the declared type.
 * Part of the plugin ABI (tests/abi/plugin_layout.c): fields are only appended.
 */
typedef struct ImdOptionSpec {
    const char *name;                  /**< the key, e.g. "slice_tolerance"; NULL ends a table */
    uint32_t type;                     /**< ImdOptionType */
    const char *description;           /**< one line for help and documentation */
    const char *const *choices;        /**< IMD_OPTION_CHOICE: NULL-terminated; else NULL */
} ImdOptionSpec;

/** The entry of `name` in a NULL-terminated table, else NULL (either may be NULL). */
IMD_API const ImdOptionSpec *imd_option_spec_find(const ImdOptionSpec *specs, const char *name);

/**
 * Check `value` against `spec`: INVALID_ARG naming the option and the value
 * ("option \"slice_tolerance\": \"abc\" is not a number") when it does not
 * parse as spec->type.
 */
IMD_API bool imd_option_spec_check(ImdError **error, const ImdOptionSpec *spec,
                                   const char *value);

/**
 * Check every entry of `options` that `specs` declares (imd_option_spec_check);
 * entries the table does not name are left alone (the pipeline judges
 * unknown names against every table in play). `options` may be NULL.
 */
IMD_API bool imd_options_check(ImdError **error, const ImdOptions *options,
                               const ImdOptionSpec *specs);

/**
 * The value of `key` when it is one of the NULL-terminated `choices`:
 * *index is its position; `fallback` when the key is absent. INVALID_ARG
 * naming the key, the text and the choices otherwise.
 */
IMD_API bool imd_options_get_choice(ImdError **error, const ImdOptions *options,
                                    const char *key, const char *const *choices, size_t fallback,
                                    size_t *index);

/** Entries in the order first set. */
IMD_API size_t imd_options_count(const ImdOptions *options);
IMD_API const char *imd_options_key(const ImdOptions *options, size_t index);
IMD_API const char *imd_options_value(const ImdOptions *options, size_t index);

IMD_END_DECLS

#endif
