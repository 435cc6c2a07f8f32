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

/** Entries in the order first set. */
IMD_API size_t imd_options_count(const ImdOptions *options);
IMD_API const char *imd_options_key(const ImdOptions *options, size_t index);
IMD_API const char *imd_options_value(const ImdOptions *options, size_t index);

IMD_END_DECLS

#endif
