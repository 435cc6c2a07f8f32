/**
 * @file url.h
 * Input and output locations, as the original splits them (behaviour.md §7):
 * - a plain path or `file:` URL, optionally `path.zip?member_pattern`;
 * - `dicom://host:port/AETITLE[/patient/study/series]` (network transport);
 * - `%p` in a URL stands for the format name ("out_%p" -> "out_nifti").
 */
#ifndef IMAGEDATA_URL_H
#define IMAGEDATA_URL_H

#include <imagedata/common.h>

IMD_BEGIN_DECLS

/** A parsed URL. Fields are read-only; strings are never NULL ("" when absent). */
typedef struct ImdUrl {
    char *scheme;   /**< "file" (the default), "dicom", ... lower case */
    char *host;     /**< network host; "" for file */
    int port;       /**< network port; 0 when not given (dicom: 104 is the default) */
    char *path;     /**< file path (percent-decoded), or the network path after the host */
    char *query;    /**< text after '?': a member pattern for archives */
    char *aet;      /**< dicom: the called AE title (first path component) */
    char *parts[3]; /**< dicom: the later path components (patient, study, series) */
    size_t part_count;
} ImdUrl;

/**
 * Parse `text`. A text without "scheme://" or "scheme:" (of two or more
 * letters, so "C:" style drive names are not schemes) is a file path.
 * Errors: INVALID_ARG (empty text, a bad port, a dicom URL without host or AE
 * title, an AE title over 16 characters).
 */
IMD_API IMD_NODISCARD ImdUrl *imd_url_parse(ImdError **error, const char *text);
IMD_API void imd_url_destroy(ImdUrl *url);

/** `text` with every "%p" replaced by `format` (and "%%" by "%"). Free with imd_free(). */
IMD_API IMD_NODISCARD char *imd_url_expand_format(ImdError **error, const char *text,
                                                  const char *format);

/**
 * Does archive member `name` match `pattern`, as the original's archives
 * select members? fnmatch where '*' also crosses '/', one trailing '/' of the
 * pattern ignored, and a pattern naming a folder matches everything below it
 * ("pat" or "pat/ *"). An empty pattern matches everything.
 */
IMD_API bool imd_member_match(const char *pattern, const char *name);

/**
 * Is `name` a safe relative member name for writing into an archive? Refuses
 * empty names, absolute names, "..", backslashes and NUL-free control
 * characters, so that nothing is written outside the archive's root.
 */
IMD_API bool imd_member_name_is_safe(const char *name);

IMD_END_DECLS

#endif
