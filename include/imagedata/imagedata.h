/**
 * @file imagedata.h
 * The umbrella header and the read/write pipeline:
 * URL -> transport -> archive -> format -> series.
 *
 * @code
 * ImdError *error = NULL;
 * ImdSeries *series = imd_read_one(&error, NULL, "data/dicom/time.zip", NULL);
 * if (series == NULL) {
 *     fprintf(stderr, "%s\n", imd_error_message(error));
 *     imd_error_clear(&error);
 * }
 * @endcode
 */
#ifndef IMAGEDATA_IMAGEDATA_H
#define IMAGEDATA_IMAGEDATA_H

#include <imagedata/axis.h>
#include <imagedata/common.h>
#include <imagedata/dicom.h>
#include <imagedata/error.h>
#include <imagedata/header.h>
#include <imagedata/options.h>
#include <imagedata/plugin.h>
#include <imagedata/receiver.h>
#include <imagedata/series.h>
#include <imagedata/stream.h>
#include <imagedata/types.h>
#include <imagedata/url.h>
#include <imagedata/version.h>

IMD_BEGIN_DECLS

/** The library's version text, e.g. "0.1.0". */
IMD_API const char *imd_version(void);

/* ---- context: plugins and diagnostics --------------------------------- */

/** A context with the built-in plugins. */
IMD_API IMD_NODISCARD ImdContext *imd_context_create(ImdError **error);
/** Destroy the context and unload its plugins: destroy it after every object they made. */
IMD_API void imd_context_destroy(ImdContext *context);

/** Send a diagnostic to the context's log (for plugins); nothing when none is set. */
IMD_API void imd_context_log(const ImdContext *context, ImdLogLevel level, const char *format,
                             ...) IMD_PRINTF(3, 4);

/**
 * Progress of a long step: `done` of `total` units (files, images) of
 * `stage` ("reading DICOM headers"). Called from the thread that called
 * imd_read()/imd_write(), never concurrently; done == total ends a stage.
 */
typedef void ImdProgressFn(void *user, const char *stage, size_t done, size_t total);

/** Receive progress reports; `fn` NULL turns them off. */
IMD_API void imd_context_set_progress(ImdContext *context, ImdProgressFn *fn, void *user);

/** Report progress (for plugins); nothing when no progress function is set. */
IMD_API void imd_context_progress(const ImdContext *context, const char *stage, size_t done,
                                  size_t total);

/**
 * Watching a series fill, for a viewer that shows its first image before the
 * rest is read (docs/viewer.md). Formats that decode image by image (DICOM)
 * report IMD_FILL_STARTED once the series' array, axes and header are final
 * (its pixels still zero); IMD_FILL_IMAGE when image `image` (counted over
 * the array's images in C order: every axis but the last two) holds its
 * pixels, from any of the read's threads, concurrently; IMD_FILL_ENDED when
 * decoding stopped, finished or failed. Between STARTED and ENDED the callee
 * may read the series (shape, axes, header, and the pixels of the images
 * reported) and must not change it; after ENDED it must not touch it: the
 * read hands it over (imd_read_each, imd_read) or destroys it (a failure).
 * With a watch set, DICOM decodes the middle image of the first volume
 * first: where a viewer starts.
 */
typedef enum ImdFillEvent { IMD_FILL_STARTED, IMD_FILL_IMAGE, IMD_FILL_ENDED } ImdFillEvent;
typedef void ImdFillFn(void *user, ImdFillEvent event, const ImdSeries *series, size_t image);

/** Watch series fill; `fn` NULL turns it off. */
IMD_API void imd_context_set_fill_watch(ImdContext *context, ImdFillFn *fn, void *user);

/** Report a fill event (for plugins); nothing when no watch is set. */
IMD_API void imd_context_fill(const ImdContext *context, ImdFillEvent event,
                              const ImdSeries *series, size_t image);

/** Whether a fill watch is set (for plugins: an image order that helps it costs nothing else). */
IMD_API bool imd_context_fill_watched(const ImdContext *context);

/** Receive diagnostics (the library never prints). `fn` NULL turns them off. */
IMD_API void imd_context_set_log(ImdContext *context, ImdLogFn *fn, void *user);

/**
 * Cap the memory one image may take: a series (or a decoded frame buffer)
 * whose size exceeds `bytes` is refused with IMD_ERR_LIMIT naming the input
 * and both numbers, instead of failing in the allocator. 0 (the default)
 * means no limit. Set it before imd_read()/imd_write().
 */
IMD_API void imd_context_set_memory_limit(ImdContext *context, uint64_t bytes);
/** The limit set with imd_context_set_memory_limit(); 0 for none. */
IMD_API uint64_t imd_context_memory_limit(const ImdContext *context);

/**
 * The number of threads work with this context may use at once (the calling
 * thread included): header parsing and image decoding of a DICOM read,
 * reading several NIfTI files, gzip compression. 0 (the default) means one
 * per online core; 1 runs everything in the calling thread; more than 256 is
 * taken as 256. The output does not depend on it. The context keeps its
 * worker threads from first use until it is destroyed or this is called
 * again: set it before imd_read()/imd_write(), not while they run.
 */
IMD_API void imd_context_set_threads(ImdContext *context, unsigned threads);
/** The threads work with this context uses: the value set, or the online cores for 0 (also for NULL). */
IMD_API unsigned imd_context_threads(const ImdContext *context);

/**
 * Ask the work running with this context (imd_read(), imd_write(), from
 * any thread) to stop: long loops poll the flag and fail with
 * IMD_ERR_CANCELLED through their usual abort paths (temporary files and
 * partly written folders removed). Async-signal-safe: a SIGINT handler may
 * call it. The flag stays set until imd_context_reset_cancel().
 */
IMD_API void imd_context_cancel(ImdContext *context);
/** Has imd_context_cancel() been called (and not reset)? Async-signal-safe. */
IMD_API bool imd_context_cancelled(const ImdContext *context);
/** Clear the cancel flag, to use the context again. */
IMD_API void imd_context_reset_cancel(ImdContext *context);

/**
 * Load a plugin file (a shared object exporting imd_plugin_manifest_v2) and
 * register its plugins ahead of the built-ins of the same kind.
 * Errors: NOT_FOUND / IO (cannot be opened), PLUGIN_ABI (no entry symbol,
 * another ABI version, a descriptor too small or missing required methods),
 * INVALID_ARG (a plugin name already registered). Nothing is registered on failure.
 */
IMD_API bool imd_context_load_plugin(ImdError **error, ImdContext *context, const char *path);

/** Load each plugin of a ':'-separated list (as IMAGEDATA_PLUGINS holds). */
IMD_API bool imd_context_load_plugin_list(ImdError **error, ImdContext *context,
                                          const char *list);

/** Registered formats in priority order. */
IMD_API size_t imd_context_format_count(const ImdContext *context);
IMD_API const ImdFormatPlugin *imd_context_format(const ImdContext *context, size_t index);
IMD_API const ImdFormatPlugin *imd_context_find_format(const ImdContext *context,
                                                       const char *name);
IMD_API size_t imd_context_archive_count(const ImdContext *context);
IMD_API const ImdArchivePlugin *imd_context_archive(const ImdContext *context, size_t index);
IMD_API size_t imd_context_transport_count(const ImdContext *context);
IMD_API const ImdTransportPlugin *imd_context_transport(const ImdContext *context, size_t index);

/**
 * Open an archive for `path`: zip when the name ends in a zip suffix or the
 * file starts "PK\3\4", otherwise the file system (a folder, or the folder
 * holding a named file). `context` may be NULL (built-ins only).
 */
IMD_API IMD_NODISCARD ImdArchive *imd_archive_open(ImdError **error, const ImdContext *context,
                                                   const char *path, ImdMode mode,
                                                   const ImdOptions *options);

/* ---- read and write ------------------------------------------------------ */

/**
 * Read every series found under `urls` (read together, as one input).
 * Options: "input_format" (try only that format), "input_order",
 * "template" and "geometry" (a URL read as one series, headers only, whose
 * DICOM identity or geometry every series read takes: see
 * imd_series_add_template()), and whatever the formats take. A path that
 * does not exist is read as the one file of that name plus a format suffix
 * ("out" as "out.nii.gz"). `context` may be NULL (built-ins only).
 * Errors: INVALID_ARG (an unknown input_format), NOT_FOUND (a path does not
 * exist, no member matches), NOT_RECOGNIZED
 * (every format declined every member; the message lists them), and any
 * error of the format that claimed the input.
 */
IMD_API IMD_NODISCARD ImdSeriesList *imd_read(ImdError **error, ImdContext *context,
                                              const char *const urls[], size_t url_count,
                                              const ImdOptions *options);

/**
 * What imd_read_each() hands over: one series, owned by the callee from then
 * on. Return false (with `error` set) to stop the read with that error.
 */
typedef bool ImdSeriesFn(ImdError **error, void *user, ImdSeries *series);

/**
 * Read as imd_read() does, but hand each series to `fn` as soon as it is
 * read, so that a folder of many series needs the memory of one series at a
 * time, not of all (image_data writes each as it comes). Formats that read
 * their series together (every one but DICOM today) hand them over at the
 * end. Returns the failures (imd_series_list_failure*; it holds no series),
 * or NULL on an error; when nothing could be read the first failure is the
 * error, as for imd_read().
 */
IMD_API IMD_NODISCARD ImdSeriesList *imd_read_each(ImdError **error, ImdContext *context,
                                                   const char *const urls[], size_t url_count,
                                                   const ImdOptions *options, ImdSeriesFn *fn,
                                                   void *user);

/**
 * For format plugins: a series just read goes to the consumer of a streaming
 * read (imd_read_each), or is appended to `list` otherwise. Takes ownership
 * of `series` in every case (destroyed on failure).
 */
IMD_API bool imd_context_emit_series(ImdError **error, const ImdContext *context,
                                     ImdSeriesList *list, ImdSeries *series);

/** The original's collection layout (behaviour.md §8): patient/date-time/number-description. */
#define IMD_SERIES_NAME_DEFAULT "%i/%D-%T/%s-%d"

/**
 * Where one of several series goes under `output`: "OUTPUT/" and `pattern`
 * (NULL: IMD_SERIES_NAME_DEFAULT) expanded, %i PatientID, %n PatientName,
 * %D StudyDate, %T StudyTime (HHMMSS), %t both, %s SeriesNumber, %d
 * SeriesDescription, %p ProtocolName, %e EchoNumbers, %m Manufacturer, %l
 * the split label, %% a '%'; each part reduced to letters, digits and
 * "._-" (others become '_'), a missing one a fallback word. A piece of a
 * split series (SplitLabel) gets "_<label>" when the pattern has no %l. A
 * name among `used` gets a trailing 0 (again, until it is new), as
 * image_data names them. A string to free with imd_free(); NULL when out of
 * memory.
 */
IMD_API char *imd_series_output_name(const ImdSeries *series, const char *output,
                                     const char *pattern, const char *const used[],
                                     size_t used_count);

/**
 * Label a series as image_data's options do: `labels` keys sernum
 * (SeriesNumber), serdes (SeriesDescription), frame (FrameOfReferenceUID),
 * SOPClassUID, and imagetype ("A,B,C" becomes the multi-value A\\B\\C of
 * ImageType); keys absent leave the header alone. *changed (may be NULL)
 * says whether any value differs from what the series had (a relabelled
 * series is new content: new UIDs when sent, docs/network.md).
 */
IMD_API bool imd_series_set_labels(ImdError **error, ImdSeries *series, const ImdOptions *labels,
                                   bool *changed);

/** Read exactly one series; INVALID_ARG ("N series found") when there are several. */
IMD_API IMD_NODISCARD ImdSeries *imd_read_one(ImdError **error, ImdContext *context,
                                              const char *url, const ImdOptions *options);

/**
 * Write `series` to `url` in `format` ("%p" in the URL becomes the format
 * name). A URL ending in ".zip" (with an optional "?member") writes into that
 * zip, adding to an existing one. Errors: INVALID_ARG (no such format),
 * UNSUPPORTED (the format cannot write), IO, and the format's own.
 */
IMD_API bool imd_write(ImdError **error, ImdContext *context, const ImdSeries *series,
                       const char *url, const char *format, const ImdOptions *options);

/* ---- the DICOM network (docs/network.md) ---------------------------------- */

/**
 * Verify a DICOM node: associate with `url` ("dicom://host:port/AET";
 * options calling_aet and net_*), send a C-ECHO, release. *status is the
 * C-ECHO response's status (0 success). Errors: INVALID_ARG (not a dicom://
 * URL, a bad option), NETWORK (refused, timed out, rejected, aborted; the
 * message names the reason), PROTOCOL (a malformed answer), CANCELLED.
 */
IMD_API bool imd_dicom_echo(ImdError **error, ImdContext *context, const char *url,
                            const ImdOptions *options, uint16_t *status);

/* ---- listing (image_list, docs/network.md "Listing") ---------------------- */

/** What a listed entry is. */
typedef enum ImdListLevel {
    IMD_LIST_PATIENT = 0,
    IMD_LIST_STUDY = 1,
    IMD_LIST_SERIES = 2
} ImdListLevel;

/**
 * One listed patient, study or series. Every string is non-NULL ("" when the
 * peer or the files did not give it), UTF-8, borrowed for the callback only.
 * `path` names the entry: for a dicom:// URL the URL that reads or lists it
 * ("dicom://host:port/AET/patient/studyUID/seriesUID"); for files the keys
 * "patientID/studyUID/seriesUID" of the reader's series. `info` is the
 * one-line description the original printed: the patient's name; "YYYY.MM.DD
 * HH:MM:SS accession description" for a study; "#14: 9 MR fl3d_dynamic"
 * (series number, instances, modality, description) for a series.
 */
typedef struct ImdListEntry {
    ImdListLevel level;
    const char *path, *info;
    const char *patient_id, *patient_name;
    const char *study_instance_uid, *study_date, *study_time, *accession_number,
        *study_description;
    const char *series_instance_uid, *modality, *series_description;
    long series_number; /**< 0 when absent */
    long instances;     /**< instances in the series (NumberOfSeriesRelatedInstances), 0 when unknown */
} ImdListEntry;

/** Receives each entry in order; return false (with `error` set) to stop. */
typedef bool ImdListFn(ImdError **error, void *user, const ImdListEntry *entry);

/**
 * List what is under `urls`. One dicom:// URL is listed by C-FIND (Study
 * Root): "dicom://h:p/AET" lists the patients, ".../AET/patient" that
 * patient's studies, ".../AET/patient/study" (Study Instance UID or
 * Accession Number) that study's series, ".../study/series" the one series;
 * sorted by patient ID, study date and time, series number. Anything else
 * (files, folders, zips, read together) is read headers only and each series
 * the reader splits it into is listed (level SERIES), in the reader's order.
 * Options as for imd_read() and the dicom:// options (calling_aet, net_*).
 * Errors: as imd_read(); NETWORK/PROTOCOL from the node; NOT_FOUND when the
 * study part of a dicom:// URL matches nothing.
 */
IMD_API bool imd_list(ImdError **error, ImdContext *context, const char *const urls[],
                      size_t url_count, const ImdOptions *options, ImdListFn *fn, void *user);

/* ---- UIDs ------------------------------------------------------------------ */

/**
 * A new unique identifier in the "2.25.<128-bit random number>" form
 * (PS3.5 §B.2), at most 64 characters. Written into `uid` (65 bytes).
 * Errors: IO when no randomness is available.
 */
IMD_API bool imd_uid_generate(ImdError **error, char uid[65]);

IMD_END_DECLS

#endif
