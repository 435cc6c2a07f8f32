/*
 * pipeline.h: what the pipeline's files share (src/pipeline only).
 */
#ifndef IMAGEDATA_PIPELINE_H
#define IMAGEDATA_PIPELINE_H

#include "internal.h"

/* The transport serving `url`'s scheme, opened at its location. */
ImdTransport *imd__transport_open(ImdError **error, const ImdContext *context, const ImdUrl *url,
                                  ImdMode mode, const ImdOptions *options);

/*
 * The archive on an open transport, which it then owns (closed or aborted
 * with it; aborted here on failure): the archive plugin claiming a
 * one-object location by name (or, reading, by content), else the folder
 * archive on the root, or on the object as a folder when `object_is_folder`.
 * `in_object` (may be NULL): whether the archive is the object itself.
 */
ImdArchive *imd__archive_on(ImdError **error, const ImdContext *context, ImdTransport *transport,
                            ImdMode mode, const ImdOptions *options, bool object_is_folder,
                            bool *in_object);

#endif
