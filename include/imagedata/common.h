/**
 * @file common.h
 * Shared macros and small value types of the imagedata C API.
 *
 * Conventions used by every header:
 * - Fallible functions take `ImdError **error` first. The return value says
 *   whether the call failed (`false`, `NULL`); the error says why. `error`
 *   may be NULL, then no error object is allocated.
 * - Objects returned by `_create`, `_open`, `_clone`, `_read` are owned by
 *   the caller and released with the matching `_destroy`/`_close`, which
 *   accept NULL. On failure ownership never changes hands.
 * - Memory returned as `char *` or `void *` is released with imd_free().
 * - Patient coordinates are DICOM LPS in millimetres, as {x, y, z}.
 */
#ifndef IMAGEDATA_COMMON_H
#define IMAGEDATA_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define IMD_BEGIN_DECLS extern "C" {
#define IMD_END_DECLS }
#else
#define IMD_BEGIN_DECLS
#define IMD_END_DECLS
#endif

#if defined(__GNUC__) || defined(__clang__)
#define IMD_API __attribute__((visibility("default")))
#define IMD_NODISCARD __attribute__((warn_unused_result))
#define IMD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define IMD_API
#define IMD_NODISCARD
#define IMD_PRINTF(fmt, args)
#endif

IMD_BEGIN_DECLS

/** Most dimensions a series may have: up to 5 tag dimensions + slice, row, column. */
#define IMD_MAX_DIMS 8

typedef struct ImdError ImdError;
typedef struct ImdOptions ImdOptions;
typedef struct ImdAxis ImdAxis;
typedef struct ImdHeader ImdHeader;
typedef struct ImdSeries ImdSeries;
typedef struct ImdSeriesList ImdSeriesList;
typedef struct ImdStream ImdStream;
typedef struct ImdContext ImdContext;
typedef struct ImdArchive ImdArchive;

/** A point or direction in DICOM patient space (LPS), millimetres. */
typedef struct ImdVec3 {
    double x, y, z;
} ImdVec3;

/** A 4x4 matrix, row major: m[row][column]. */
typedef struct ImdMat4 {
    double m[4][4];
} ImdMat4;

/** Diagnostic levels of a context's log (imd_context_set_log, imd_context_log). */
typedef enum ImdLogLevel {
    IMD_LOG_WARNING = 1, /**< something was tolerated or skipped */
    IMD_LOG_INFO = 2,    /**< what was read and written (-v) */
    IMD_LOG_DEBUG = 3,   /**< detail (-d) */
    IMD_LOG_SKIPPED = 4, /**< a warning: an input (a broken file, a series) was left out,
                              so the result is partial (image_data exits 8) */
    IMD_LOG_RESULT = 5   /**< a result the user asked for, always shown, not a warning
                              (a DICOM send's summary: "N sent, N warnings, N failed") */
} ImdLogLevel;

typedef void ImdLogFn(void *user, ImdLogLevel level, const char *message);

/** Release memory that the library returned as `char *` or `void *`. NULL is fine. */
IMD_API void imd_free(void *memory);

/** Bytes to hold a DICOM UID: 64 characters and the terminating NUL (PS3.5 §9.1). */
#define IMD_UID_SIZE 65

IMD_END_DECLS

#endif
