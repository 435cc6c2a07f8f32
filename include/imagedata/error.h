/**
 * @file error.h
 * The error model: a stable numeric code plus a message that names the
 * input and the reason ("time00/Image_00019.dcm: (0028,0010): odd length 7").
 *
 * The codes are part of the ABI: they are only appended, never renumbered.
 * The command-line programs map them to exit codes (docs/cli.md).
 */
#ifndef IMAGEDATA_ERROR_H
#define IMAGEDATA_ERROR_H

#include <imagedata/common.h>

IMD_BEGIN_DECLS

typedef enum ImdErrorCode {
    IMD_ERR_NOMEM = 1,          /**< out of memory */
    IMD_ERR_INVALID_ARG = 2,    /**< a caller's argument or option is wrong */
    IMD_ERR_IO = 3,             /**< reading or writing failed */
    IMD_ERR_CORRUPT = 4,        /**< the input is damaged or inconsistent */
    IMD_ERR_UNSUPPORTED = 5,    /**< valid input that we cannot handle (yet) */
    IMD_ERR_NOT_RECOGNIZED = 6, /**< "not my format": a reader declines */
    IMD_ERR_CANNOT_SORT = 7,    /**< images cannot be sorted into volumes */
    IMD_ERR_LIMIT = 8,          /**< a size or count exceeds a limit */
    IMD_ERR_NOT_FOUND = 9,      /**< a file, member or plugin does not exist */
    IMD_ERR_NETWORK = 10,       /**< a network connection failed */
    IMD_ERR_PROTOCOL = 11,      /**< a peer broke the protocol */
    IMD_ERR_PLUGIN_ABI = 12,    /**< a plugin does not match this library's ABI */
    IMD_ERR_INTERNAL = 13,      /**< a bug in imagedata */
    IMD_ERR_BAD_STATE = 14,     /**< an object is used after a hard error */
    IMD_ERR_CANCELLED = 15      /**< the work was cancelled (imd_context_cancel()) */
} ImdErrorCode;

/** The code of an error; 0 for NULL. */
IMD_API ImdErrorCode imd_error_code(const ImdError *error);

/** The message; borrowed, valid until the error is cleared. "" for NULL. */
IMD_API const char *imd_error_message(const ImdError *error);

/** The code's name, e.g. "IMD_ERR_CORRUPT"; "IMD_ERR_UNKNOWN" for other values. */
IMD_API const char *imd_error_code_name(ImdErrorCode code);

/** A short lower-case description of the code, e.g. "corrupt input". */
IMD_API const char *imd_error_code_description(ImdErrorCode code);

/** Free the error and set *error to NULL. Accepts NULL and *error == NULL. */
IMD_API void imd_error_clear(ImdError **error);

/**
 * Set an error. Does nothing when `error` is NULL. Setting an error where one
 * is already set keeps the first one (the first failure is the cause).
 * When memory runs out, a static "out of memory" error is set instead.
 */
IMD_API void imd_error_set(ImdError **error, ImdErrorCode code, const char *format, ...)
    IMD_PRINTF(3, 4);

/** Prefix the message of a set error with context, e.g. the file name and ": ". */
IMD_API void imd_error_prefix(ImdError **error, const char *format, ...) IMD_PRINTF(2, 3);

/** Move an error: *destination takes *source (if no error is set there yet). */
IMD_API void imd_error_propagate(ImdError **destination, ImdError *source);

IMD_END_DECLS

#endif
