/*
 * read_write.c: the pipeline URL -> transport -> archive -> format.
 *
 * Reading: every URL is opened as an archive (a zip, a folder, or the folder
 * of a named file), its members are offered to the formats (the one asked
 * for with "input_format", else every readable format, best probe first),
 * and each format that accepted members sorts and stacks them. A format that
 * declines a member (IMD_ERR_NOT_RECOGNIZED) lets the next one try; any other
 * error stops the read (design.md §3.5 rule 4).
 */
#define _POSIX_C_SOURCE 200809L
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <strings.h>

#define HEAD_BYTES 512

typedef struct Reader {
    const ImdFormatPlugin *format;
    void *state;     /* NULL until the format is first offered a member */
    size_t accepted; /* members this format took */
} Reader;

/* A document (an IMD_FORMAT_NAMED_ONLY format's file) found in a folder or archive. */
typedef struct Document {
    ImdArchive *archive;
    char *name;
} Document;

typedef struct ReadJob {
    ImdContext *context;
    const ImdOptions *options;
    Reader *readers;
    size_t reader_count;
    int *scores;   /* reader_count each: the ranking of one member */
    size_t *order;
    ImdArchive **archives; /* kept open until every reader has finished */
    size_t archive_count, archive_capacity;
    size_t members, skipped;
    Document *documents; /* read only when nothing else is (gather) */
    size_t document_count, document_capacity;
    bool forced; /* input_format given: offer every member to that format */
    /* A streaming read (imd_read_each): each series goes to fn once read. */
    ImdSeriesFn *fn;
    void *user;
    ImdSeriesList *template_series, *geometry_series; /* read first, applied to each */
    size_t delivered;
    ImdError *declined; /* a format found no image in its files (NOT_RECOGNIZED) */
} ReadJob;

/* Sorted by probe score (stable on priority) into job->order; returns how many scored > 0.
 * `named`: the input names this member itself (not found in a folder or archive). */
static size_t rank_formats(const ReadJob *job, const uint8_t *head, size_t length,
                           const char *name, bool named)
{
    int *scores = job->scores;
    size_t *order = job->order;
    size_t count = 0;
    for (size_t i = 0; i < job->reader_count; i++) {
        const ImdFormatPlugin *format = job->readers[i].format;
        if (!job->forced && !named && (format->flags & IMD_FORMAT_NAMED_ONLY) != 0) {
            continue;
        }
        int score = job->forced ? 100 : format->probe(head, length, name);
        if (score <= 0) {
            continue;
        }
        size_t at = count++;
        while (at > 0 && scores[at - 1] < score) {
            scores[at] = scores[at - 1];
            order[at] = order[at - 1];
            at--;
        }
        scores[at] = score;
        order[at] = i;
    }
    return count;
}

/* Rewind a member stream for the next format; reopen it when it cannot seek. */
static ImdStream *rewind_member(ImdError **error, ImdArchive *archive, const char *name,
                                ImdStream *stream)
{
    if (stream->methods->seek != NULL && imd_stream_seek(NULL, stream, 0, SEEK_SET) == 0) {
        return stream;
    }
    imd_stream_abort(stream);
    return imd_archive_open_member(error, archive, name, IMD_MODE_READ);
}

static bool read_head(ImdError **error, ImdStream *stream, uint8_t *head, size_t *length)
{
    *length = 0;
    while (*length < HEAD_BYTES) {
        int64_t got = imd_stream_read(error, stream, head + *length, HEAD_BYTES - *length);
        if (got < 0) {
            return false;
        }
        if (got == 0) {
            break;
        }
        *length += (size_t)got;
    }
    return true;
}

/*
 * A member to probe. A local file is mapped (open, fstat, mmap, close): the
 * probe reads its head from the mapping, and the format that takes it may
 * keep the mapping (imd__stream_take_mapping) instead of opening the file a
 * second time (issue 13 item 7). Anything that cannot be mapped (a special
 * file, a failed mmap) is opened as a stream, which says why it cannot be read.
 */
static ImdStream *open_for_probe(ImdError **error, ImdArchive *archive, const char *name)
{
    char *path = imd_archive_local_path(archive, name);
    if (path != NULL) {
        ImdStream *mapped = imd__stream_map_file(NULL, path);
        free(path);
        if (mapped != NULL) {
            return mapped;
        }
    }
    return imd_archive_open_member(error, archive, name, IMD_MODE_READ);
}

/* A document found among other files waits: gather() reads it only when the
 * input holds nothing else (a folder of PDFs), not beside an exam's images. */
static bool defer_document(ImdError **error, ReadJob *job, ImdArchive *archive, const char *name)
{
    char *copy = imd__strdup(error, name);
    if (copy == NULL || !imd__grow(error, (void **)&job->documents, &job->document_capacity,
                                   job->document_count + 1, sizeof *job->documents)) {
        free(copy);
        return false;
    }
    job->documents[job->document_count++] = (Document){archive, copy};
    return true;
}

/* Offer one member to the formats in rank order. */
static bool offer_member(ImdError **error, ReadJob *job, ImdArchive *archive, const char *name,
                         bool named)
{
    ImdStream *stream = open_for_probe(error, archive, name);
    uint8_t head[HEAD_BYTES];
    size_t length;
    if (stream == NULL || !read_head(error, stream, head, &length)) {
        imd_stream_abort(stream);
        return false;
    }
    size_t ranked = rank_formats(job, head, length, name, named);
    if (ranked == 0 && !named && rank_formats(job, head, length, name, true) > 0) {
        imd_stream_abort(stream);
        return defer_document(error, job, archive, name);
    }
    bool taken = false;
    for (size_t k = 0; k < ranked && !taken; k++) {
        Reader *reader = &job->readers[job->order[k]];
        stream = rewind_member(error, archive, name, stream);
        if (stream == NULL) {
            return false;
        }
        if (reader->state == NULL) {
            reader->state = reader->format->reader_create(error, job->options, job->context);
            if (reader->state == NULL) {
                imd_stream_abort(stream);
                return false;
            }
        }
        ImdError *declined = NULL;
        if (reader->format->reader_add(&declined, reader->state, archive, name, stream)) {
            reader->accepted++;
            taken = true;
        } else if (imd_error_code(declined) == IMD_ERR_NOT_RECOGNIZED) {
            imd__log(job->context, IMD_LOG_DEBUG, "%s: %s declined: %s", name,
                     reader->format->name, imd_error_message(declined));
            imd_error_clear(&declined);
        } else {
            imd_error_propagate(error, declined);
            imd_stream_abort(stream);
            return false;
        }
    }
    imd_stream_abort(stream);
    job->members++;
    if (!taken) {
        job->skipped++;
        imd__log(job->context, IMD_LOG_INFO, "skipped %s:%s: not a recognised image",
                 imd_archive_name(archive), name);
    }
    return true;
}

typedef struct Visit {
    ImdError **error;
    ReadJob *job;
    ImdArchive *archive;
    const char *object; /* the one file the URL names, or NULL */
    bool failed;
} Visit;

static int visit_member(void *user, const char *name)
{
    Visit *visit = user;
    if (!imd__check_cancel(visit->error, visit->job->context, imd_archive_name(visit->archive)) ||
        !offer_member(visit->error, visit->job, visit->archive, name,
                      visit->object != NULL && strcmp(visit->object, name) == 0)) {
        visit->failed = true;
        return 1;
    }
    return 0;
}

/*
 * A location that does not exist, written by us without its suffix: "out"
 * was written as out.nii.gz (behaviour.md §7.3), so reading "out" reads it,
 * as the seed workflow `image_data --of nifti out in; image_data res out`
 * needs. Only when exactly one format suffix matches an object.
 */
static ImdTransport *open_with_written_suffix(const ReadJob *job, const ImdUrl *url)
{
    ImdTransport *found = NULL;
    size_t matches = 0;
    ImdUrl candidate = *url;
    for (size_t i = 0; i < job->reader_count; i++) {
        for (const char *const *s = job->readers[i].format->suffixes; s != NULL && *s != NULL;
             s++) {
            candidate.path = imd__sprintf(NULL, "%s%s", url->path, *s);
            ImdTransport *transport =
                candidate.path != NULL
                    ? imd__transport_open(NULL, job->context, &candidate, IMD_MODE_READ,
                                          job->options)
                    : NULL;
            free(candidate.path);
            if (transport != NULL && imd_transport_object(transport) != NULL &&
                matches++ == 0) {
                found = transport;
            } else {
                imd_transport_abort(transport);
            }
        }
    }
    if (matches != 1) {
        imd_transport_abort(found);
        return NULL;
    }
    return found;
}

static ImdTransport *open_input(ImdError **error, const ReadJob *job, const ImdUrl *url)
{
    ImdError *missing = NULL;
    ImdTransport *transport =
        imd__transport_open(&missing, job->context, url, IMD_MODE_READ, job->options);
    if (transport == NULL && imd_error_code(missing) == IMD_ERR_NOT_FOUND &&
        url->query[0] == '\0' && (transport = open_with_written_suffix(job, url)) != NULL) {
        imd__log(job->context, IMD_LOG_INFO, "%s does not exist: reading %s", url->path,
                 imd_transport_name(transport));
        imd_error_clear(&missing);
    }
    imd_error_propagate(error, missing);
    return transport;
}

static bool read_url(ImdError **error, ReadJob *job, const char *text)
{
    ImdUrl *url = imd_url_parse(error, text);
    if (url == NULL) {
        return false;
    }
    bool ok = false;
    ImdTransport *transport = NULL;
    if (imd__grow(error, (void **)&job->archives, &job->archive_capacity,
                  job->archive_count + 1, sizeof(ImdArchive *)) &&
        (transport = open_input(error, job, url)) != NULL) {
        ImdArchive *archive =
            imd__archive_on(error, job->context, transport, IMD_MODE_READ, job->options, false,
                            NULL);
        if (archive != NULL) {
            job->archives[job->archive_count++] = archive;
            Visit visit = {error, job, archive, imd_transport_object(transport), false};
            ok = imd_archive_list(error, archive, url->query, visit_member, &visit) &&
                 !visit.failed;
        }
    }
    imd_url_destroy(url);
    return ok;
}

static bool setup_readers(ImdError **error, ReadJob *job)
{
    const char *wanted = imd_options_get(job->options, "input_format", NULL);
    size_t count = imd_context_format_count(job->context);
    job->readers = imd__calloc(error, count > 0 ? count : 1, sizeof(Reader));
    job->scores = imd__calloc(error, count > 0 ? count : 1, sizeof(int));
    job->order = imd__calloc(error, count > 0 ? count : 1, sizeof(size_t));
    if (job->readers == NULL || job->scores == NULL || job->order == NULL) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const ImdFormatPlugin *format = imd_context_format(job->context, i);
        bool chosen = wanted == NULL || strcasecmp(wanted, format->name) == 0;
        if (chosen && (format->flags & IMD_FORMAT_READ) != 0) {
            job->readers[job->reader_count++].format = format;
        }
    }
    job->forced = wanted != NULL;
    if (wanted != NULL && job->reader_count == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "input format \"%s\" is unknown or cannot read",
                      wanted);
        return false;
    }
    return true;
}

static bool finish_readers(ImdError **error, ReadJob *job, ImdSeriesList *all)
{
    for (size_t i = 0; i < job->reader_count; i++) {
        Reader *reader = &job->readers[i];
        if (reader->accepted == 0) {
            continue;
        }
        ImdError *failed = NULL;
        ImdSeriesList *list = reader->format->reader_finish(&failed, reader->state);
        if (list == NULL) {
            imd_error_prefix(&failed, "%s: ", reader->format->name);
            if (imd_error_code(failed) == IMD_ERR_NOT_RECOGNIZED && job->declined == NULL) {
                /* Its files hold no image (a .mat of header dumps beside DICOM files):
                 * listed with -v; the read's error only when nothing else is read. */
                imd__log(job->context, IMD_LOG_INFO, "skipped %s", imd_error_message(failed));
                job->declined = failed;
                continue;
            }
            imd_error_propagate(error, failed);
            return false;
        }
        imd__log(job->context, IMD_LOG_INFO, "%s: %zu file(s) read into %zu series",
                 reader->format->name, reader->accepted, imd_series_list_count(list));
        if (!imd_series_list_move_failures(error, all, list)) {
            imd_series_list_destroy(list);
            return false;
        }
        while (imd_series_list_count(list) > 0) {
            ImdSeries *series = imd_series_list_take(list, 0);
            if (!imd_context_emit_series(error, job->context, all, series)) {
                imd_series_list_destroy(list);
                return false;
            }
        }
        imd_series_list_destroy(list);
    }
    return true;
}

/*
 * Failures beside series read (a series that could not be sorted, an image
 * file skipped) make a partial result: each is logged at IMD_LOG_SKIPPED, so
 * that every client sees it and the CLIs exit 8. When nothing could be read,
 * the first failure is the read's error (exit 3 for one unsortable series).
 */
static bool report_failures(ImdError **error, ReadJob *job, ImdSeriesList *all)
{
    if (imd_series_list_count(all) + job->delivered + imd_series_list_failure_count(all) == 0 &&
        job->declined != NULL) {
        imd_error_propagate(error, job->declined); /* nothing read: why the files were not */
        job->declined = NULL;
        return false;
    }
    size_t failures = imd_series_list_failure_count(all);
    bool none = imd_series_list_count(all) + job->delivered == 0 && failures > 0;
    for (size_t i = none ? 1 : 0; i < failures; i++) {
        imd__log(job->context, IMD_LOG_SKIPPED, "skipped %s",
                 imd_error_message(imd_series_list_failure(all, i)));
    }
    if (none) {
        const ImdError *first = imd_series_list_failure(all, 0);
        imd_error_set(error, imd_error_code(first), "%s", imd_error_message(first));
        return false;
    }
    return true;
}

static void nothing_recognised(ImdError **error, const ReadJob *job, const char *url)
{
    ImdText tried = {0};
    for (size_t i = 0; i < job->reader_count; i++) {
        imd__text_printf(&tried, "%s%s", i > 0 ? ", " : "", job->readers[i].format->name);
    }
    char *names = imd__text_finish(NULL, &tried);
    imd_error_set(error, IMD_ERR_NOT_RECOGNIZED,
                  "could not determine the input format of \"%s\": %zu file(s), none "
                  "recognised by %s", url, job->members,
                  names != NULL && names[0] != '\0' ? names : "any format (none registered)");
    free(names);
}

/* The readers set up and every member of every URL offered to them; an error
 * when no format recognised anything. */
static bool gather(ImdError **error, ReadJob *job, const char *const urls[], size_t url_count)
{
    bool ok = setup_readers(error, job);
    for (size_t i = 0; ok && i < url_count; i++) {
        ok = read_url(error, job, urls[i]);
    }
    bool alone = job->members == job->skipped; /* no image besides the documents */
    for (size_t i = 0; ok && i < job->document_count; i++) {
        const Document *d = &job->documents[i];
        if (alone) {
            ok = offer_member(error, job, d->archive, d->name, true);
        } else {
            imd__log(job->context, IMD_LOG_INFO,
                     "skipped %s:%s: a document beside images (read it by its own name or with "
                     "input_format)", imd_archive_name(d->archive), d->name);
        }
    }
    if (ok && job->members == job->skipped) {
        nothing_recognised(error, job, urls[0]);
        ok = false;
    }
    return ok;
}

static void cleanup_job(ReadJob *job)
{
    imd_error_clear(&job->declined);
    for (size_t i = 0; i < job->reader_count; i++) {
        if (job->readers[i].state != NULL) {
            job->readers[i].format->reader_destroy(job->readers[i].state);
        }
    }
    for (size_t i = 0; i < job->archive_count; i++) {
        imd_archive_abort(job->archives[i]);
    }
    for (size_t i = 0; i < job->document_count; i++) {
        free(job->documents[i].name);
    }
    free(job->documents);
    free(job->archives);
    free(job->readers);
    free(job->scores);
    free(job->order);
}

/*
 * template= / geometry= (behaviour.md §1.2, §5.5): the URL of option `key`
 * read headers only, with the read's own options (its input order and reader
 * settings: a 5D series needs --order time,te for its template too) but not
 * those that name the input's format or references. Every series found is
 * kept: pick_reference() chooses one per series read. NULL without it.
 */
static bool read_reference(ImdError **error, ImdContext *context, const ImdOptions *options,
                           const char *key, ImdSeriesList **reference)
{
    const char *url = imd_options_get(options, key, NULL);
    *reference = NULL;
    if (url == NULL || url[0] == '\0') {
        return true;
    }
    static const char *const not_for_references[] = {"input_format", "template", "geometry",
                                                      "resample", "template_series",
                                                      "geometry_series"};
    ImdOptions *own = options != NULL ? imd_options_clone(error, options)
                                      : imd_options_create(error);
    bool ok = own != NULL && imd_options_set(error, own, "headers_only", "true");
    for (size_t i = 0; ok && i < sizeof not_for_references / sizeof not_for_references[0]; i++) {
        ok = imd_options_set(error, own, not_for_references[i], NULL);
    }
    if (!ok) {
        imd_options_destroy(own);
        return false;
    }
    *reference = imd_read(error, context, &url, 1, own);
    imd_options_destroy(own);
    if (*reference == NULL) {
        imd_error_prefix(error, "%s %s: ", key, url);
        return false;
    }
    return true;
}

/* The spatial sizes (the last three, or two) in ascending order: a grid
 * reoriented to the nearest RAS axes (NIfTI) keeps them as a set. */
static void spatial_sizes(const ImdSeries *series, size_t out[3])
{
    size_t ndim = imd_series_ndim(series), n = ndim < 3 ? ndim : 3;
    out[0] = out[1] = out[2] = 1;
    for (size_t i = 0; i < n; i++) {
        out[i] = imd_series_dim(series, ndim - 1 - i);
    }
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = i + 1; j < 3; j++) {
            if (out[j] < out[i]) {
                size_t t = out[i];
                out[i] = out[j];
                out[j] = t;
            }
        }
    }
}

/* How well a reference fits a series: 3 the same shape, 2 the same grid
 * sizes and voxel count, 1 the same grid sizes, 0 neither. */
static int reference_fit(const ImdSeries *reference, const ImdSeries *series)
{
    size_t ndim = imd_series_ndim(series);
    bool same = imd_series_ndim(reference) == ndim;
    for (size_t d = 0; same && d < ndim; d++) {
        same = imd_series_dim(reference, d) == imd_series_dim(series, d);
    }
    if (same) {
        return 3;
    }
    size_t a[3], b[3];
    spatial_sizes(reference, a);
    spatial_sizes(series, b);
    if (memcmp(a, b, sizeof a) != 0) {
        return 0;
    }
    return imd_series_count(reference) == imd_series_count(series) ? 2 : 1;
}

/* "1 (B0 NS), 2 (B0 NS, fieldmaphz)": the series at a reference URL as a
 * selector names them (number, and split label when there is one). */
static char *list_references(const ImdSeriesList *list)
{
    ImdText text = {0};
    for (size_t i = 0; i < imd_series_list_count(list); i++) {
        const ImdHeader *h = imd_series_const_header(imd_series_list_get(list, i));
        const char *description = imd_header_get_string(h, "SeriesDescription");
        const char *label = imd_header_get_string(h, "SplitLabel");
        imd__text_printf(&text, "%s%zu (%s%s%s)", i > 0 ? ", " : "", i + 1,
                         description != NULL ? description : "no description",
                         label != NULL && label[0] != '\0' ? ", " : "",
                         label != NULL ? label : "");
    }
    return imd__text_finish(NULL, &text);
}

/*
 * The series option `<key>_series` names at the URL of `key` (template=,
 * geometry=): a number, the series' place as image_info lists them (from 1),
 * or the split label of a piece of a series the reader split (`fieldmaphz`,
 * `ph`, `e2`: docs/dicom-reading.md), compared without case. INVALID_ARG
 * naming the series found when none is, or when two pieces share the label.
 */
static const ImdSeries *selected_reference(ImdError **error, const ImdSeriesList *list,
                                           const char *key, const char *url,
                                           const char *selector, size_t *index)
{
    size_t count = imd_series_list_count(list), found = count, matches = 0;
    char *end = NULL;
    unsigned long long number = strtoull(selector, &end, 10);
    if (selector[0] >= '0' && selector[0] <= '9' && end != NULL && *end == '\0') {
        found = number >= 1 && number <= count ? (size_t)number - 1 : count;
        matches = found < count;
    } else {
        for (size_t i = 0; i < count; i++) {
            const char *label = imd_header_get_string(
                imd_series_const_header(imd_series_list_get(list, i)), "SplitLabel");
            if (label != NULL && strcasecmp(label, selector) == 0) {
                found = matches++ == 0 ? i : found;
            }
        }
    }
    if (matches != 1) {
        char *names = list_references(list);
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "%s %s: %s_series=%s %s; the series there: %s", key, url, key, selector,
                      matches == 0 ? "names none of them" : "names more than one",
                      names != NULL ? names : "(out of memory)");
        free(names);
        return NULL;
    }
    *index = found;
    return imd_series_list_get(list, found);
}

/*
 * The reference for `series`: the one option `<key>_series` selects, else
 * the only series at the URL, or, when the reader split it (a GE or Philips
 * field map into magnitude and Hz, echoes, localizers), the first that fits
 * best (reference_fit); none that shares the grid sizes is an error naming
 * them all. Pieces of one grid fit alike: then the first is taken with a
 * warning saying how to choose.
 */
static const ImdSeries *pick_reference(ImdError **error, ImdContext *context,
                                       const ImdSeriesList *list, const ImdSeries *series,
                                       const char *key, const char *url, const char *selector)
{
    size_t count = imd_series_list_count(list);
    const ImdSeries *best = NULL;
    int best_fit = 0;
    size_t best_index = 0, ties = 0;
    if (selector != NULL && selector[0] != '\0') {
        best = selected_reference(error, list, key, url, selector, &best_index);
        if (best == NULL) {
            return NULL;
        }
        best_fit = reference_fit(best, series);
        if (best_fit == 0) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "%s %s: series %zu (%s_series=%s) does not have the grid of the data "
                          "(%zu x %zu voxels a slice)",
                          key, url, best_index + 1, key, selector,
                          imd_series_dim(series, imd_series_ndim(series) - 2),
                          imd_series_dim(series, imd_series_ndim(series) - 1));
            return NULL;
        }
        imd__log(context, IMD_LOG_INFO, "%s %s: series %zu taken (%s_series=%s)", key, url,
                 best_index + 1, key, selector);
        return best;
    }
    if (count == 1) {
        return imd_series_list_get(list, 0);
    }
    for (size_t i = 0; i < count; i++) {
        const ImdSeries *candidate = imd_series_list_get(list, i);
        int fit = reference_fit(candidate, series);
        if (fit > best_fit) {
            best = candidate;
            best_fit = fit;
            best_index = i;
            ties = 0;
        } else if (fit == best_fit && fit > 0) {
            ties++;
        }
    }
    if (best == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "%s %s: %zu series found, none with the grid of the data (%zu x %zu "
                      "voxels a slice)",
                      key, url, count, imd_series_dim(series, imd_series_ndim(series) - 2),
                      imd_series_dim(series, imd_series_ndim(series) - 1));
        return NULL;
    }
    /* Pieces of one grid (magnitude and phase, say) fit alike: the data cannot
     * tell which it came from, so the first is taken, and the user told how to say. */
    const char *description =
        imd_header_get_string(imd_series_const_header(best), "SeriesDescription");
    const char *label = description != NULL ? description : "no description";
    if (ties > 0) {
        char *names = list_references(list);
        imd__log(context, IMD_LOG_WARNING,
                 "%s %s: %zu series found, %zu fit the data alike; the first, series %zu (%s), "
                 "is taken (choose with the option %s_series=N or a split label: %s)",
                 key, url, count, ties + 1, best_index + 1, label, key,
                 names != NULL ? names : "");
        free(names);
    } else {
        imd__log(context, IMD_LOG_INFO, "%s %s: %zu series found; series %zu (%s) fits the data",
                 key, url, count, best_index + 1, label);
    }
    return best;
}

/*
 * geometry=: with resample=nearest|linear the voxels are first interpolated
 * onto the geometry's grid (the original's align()); otherwise the grids must
 * be the same up to axis order (src/model/regrid.c) or geometry= refuses.
 */
static bool add_geometry(ImdError **error, ImdSeries *series, const ImdSeries *geometry,
                         const ImdOptions *options)
{
    const char *method = imd_options_get(options, "resample", "none");
    if (strcmp(method, "nearest") == 0 || strcmp(method, "linear") == 0) {
        ImdInterpolation how = method[0] == 'n' ? IMD_INTERPOLATION_NEAREST
                                                : IMD_INTERPOLATION_LINEAR;
        if (!imd_series_resample(error, series, geometry, how)) {
            return false;
        }
    }
    return imd_series_add_geometry(error, series, geometry);
}

/* Apply `key`'s reference (picked from `list`) to `series`. */
static bool apply_one(ImdError **error, ImdContext *context, ImdSeries *series,
                      const ImdSeriesList *list, const ImdOptions *options, const char *key)
{
    if (list == NULL) {
        return true;
    }
    const char *url = imd_options_get(options, key, "");
    const char *selector = imd_options_get(options, strcmp(key, "template") == 0
                                                        ? "template_series"
                                                        : "geometry_series",
                                           NULL);
    const ImdSeries *reference =
        pick_reference(error, context, list, series, key, url, selector);
    if (reference == NULL) {
        return false;
    }
    bool ok = strcmp(key, "template") == 0 ? imd_series_add_template(error, series, reference)
                                           : add_geometry(error, series, reference, options);
    if (!ok) {
        imd_error_prefix(error, "%s %s: ", key, url);
    }
    return ok;
}

/* Every series read takes the reference's DICOM identity or geometry. */
static bool apply_reference(ImdError **error, ImdContext *context, ImdSeriesList *all,
                            const ImdOptions *options, const char *key)
{
    ImdSeriesList *reference = NULL;
    bool ok = read_reference(error, context, options, key, &reference);
    for (size_t i = 0; ok && reference != NULL && i < imd_series_list_count(all); i++) {
        ok = apply_one(error, context, imd_series_list_get(all, i), reference, options, key);
    }
    imd_series_list_destroy(reference);
    return ok;
}

ImdSeriesList *imd_read(ImdError **error, ImdContext *context, const char *const urls[],
                        size_t url_count, const ImdOptions *options)
{
    if (urls == NULL || url_count == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "read: no input given");
        return NULL;
    }
    ImdContext *own = context == NULL ? imd_context_create(error) : NULL;
    if (context == NULL && own == NULL) {
        return NULL;
    }
    ReadJob job = {.context = context != NULL ? context : own, .options = options};
    const ImdContext *saved = imd__context_enter(job.context);
    ImdSeriesList *all = NULL;
    bool ok = imd__check_options(error, job.context, options, NULL) &&
              gather(error, &job, urls, url_count);
    if (ok) {
        all = imd_series_list_create(error);
        ok = all != NULL && finish_readers(error, &job, all) &&
             report_failures(error, &job, all) &&
             apply_reference(error, job.context, all, options, "template") &&
             apply_reference(error, job.context, all, options, "geometry");
    }
    cleanup_job(&job);
    imd__context_leave(saved);
    imd_context_destroy(own);
    if (!ok) {
        imd_series_list_destroy(all);
        return NULL;
    }
    return all;
}

/* The context's sink during imd_read_each: references applied, then the caller's fn. */
static bool deliver(ImdError **error, void *user, ImdSeries *series)
{
    ReadJob *job = user;
    bool ok = apply_one(error, job->context, series, job->template_series, job->options,
                        "template") &&
              apply_one(error, job->context, series, job->geometry_series, job->options,
                        "geometry");
    if (!ok) {
        imd_series_destroy(series);
        return false;
    }
    job->delivered++;
    return job->fn(error, job->user, series);
}

ImdSeriesList *imd_read_each(ImdError **error, ImdContext *context, const char *const urls[],
                             size_t url_count, const ImdOptions *options, ImdSeriesFn *fn,
                             void *user)
{
    if (urls == NULL || url_count == 0 || fn == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "read: no input or no consumer given");
        return NULL;
    }
    ImdContext *own = context == NULL ? imd_context_create(error) : NULL;
    if (context == NULL && own == NULL) {
        return NULL;
    }
    ReadJob job = {.context = context != NULL ? context : own, .options = options, .fn = fn,
                   .user = user};
    const ImdContext *saved = imd__context_enter(job.context);
    ImdSeriesList *failures = NULL;
    bool ok = imd__check_options(error, job.context, options, NULL) &&
              read_reference(error, job.context, options, "template", &job.template_series) &&
              read_reference(error, job.context, options, "geometry", &job.geometry_series) &&
              gather(error, &job, urls, url_count);
    if (ok) {
        failures = imd_series_list_create(error);
        imd__context_set_sink(job.context, deliver, &job);
        ok = failures != NULL && finish_readers(error, &job, failures) &&
             report_failures(error, &job, failures);
        imd__context_set_sink(job.context, NULL, NULL);
    }
    cleanup_job(&job);
    imd_series_list_destroy(job.template_series);
    imd_series_list_destroy(job.geometry_series);
    imd__context_leave(saved);
    imd_context_destroy(own);
    if (!ok) {
        imd_series_list_destroy(failures);
        return NULL;
    }
    return failures;
}

ImdSeries *imd_read_one(ImdError **error, ImdContext *context, const char *url,
                        const ImdOptions *options)
{
    ImdSeriesList *list = imd_read(error, context, &url, 1, options);
    if (list == NULL) {
        return NULL;
    }
    size_t count = imd_series_list_count(list);
    ImdSeries *series = NULL;
    if (count == 1) {
        series = imd_series_list_take(list, 0);
    } else {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: %zu series found where one was expected",
                      url, count);
    }
    imd_series_list_destroy(list);
    return series;
}

/* ---- writing ---- */

/*
 * Where a write goes (behaviour.md §7.3): a zip (by name; the member name
 * from the query), an existing folder (the name from the query, "" for the
 * format's default names), or a new path, whose folder is the archive and
 * whose last part the name the format writes (out -> out.nii.gz, out/ for
 * DICOM).
 */
static ImdArchive *open_destination(ImdError **error, ImdContext *context, const ImdUrl *url,
                                    const ImdOptions *options, char **name)
{
    *name = NULL;
    ImdTransport *transport = imd__transport_open(error, context, url, IMD_MODE_WRITE, options);
    if (transport == NULL) {
        return NULL;
    }
    bool in_object = false;
    ImdArchive *archive = imd__archive_on(error, context, transport, IMD_MODE_WRITE, options,
                                          false, &in_object);
    if (archive == NULL) {
        return NULL;
    }
    /* In a zip the query names the member; beside it, the object is the name. */
    const char *object = imd_transport_object(transport);
    *name = imd__strdup(error, in_object || object == NULL ? url->query : object);
    if (*name == NULL) {
        imd_archive_abort(archive);
        return NULL;
    }
    return archive;
}

bool imd_write(ImdError **error, ImdContext *context, const ImdSeries *series, const char *url,
               const char *format_name, const ImdOptions *options)
{
    if (series == NULL || url == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "write: no series or URL");
        return false;
    }
    if (format_name == NULL) {
        format_name = imd_options_get(options, "output_format", "dicom");
    }
    ImdContext *own = context == NULL ? imd_context_create(error) : NULL;
    if (context == NULL && own == NULL) {
        return false;
    }
    context = context != NULL ? context : own;
    const ImdContext *saved = imd__context_enter(context);
    const ImdFormatPlugin *format = imd_context_find_format(context, format_name);
    char *expanded = NULL, *name = NULL;
    ImdUrl *parsed = NULL;
    ImdArchive *archive = NULL;
    bool ok = false;
    if (!imd__check_options(error, context, options,
                            imd_header_input_order(imd_series_const_header(series)))) {
        /* a usage error, reported before anything is opened */
    } else if (format == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "output format \"%s\" is unknown", format_name);
    } else if ((format->flags & IMD_FORMAT_WRITE) == 0 || format->write == NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "format \"%s\" cannot write", format->name);
    } else if ((expanded = imd_url_expand_format(error, url, format->name)) != NULL &&
               (parsed = imd_url_parse(error, expanded)) != NULL) {
        archive = open_destination(error, context, parsed, options, &name);
        ok = archive != NULL && imd__check_cancel(error, context, url) &&
             format->write(error, series, archive, name, options) &&
             imd__check_cancel(error, context, url);
        ok = archive != NULL && (ok ? imd_archive_close(error, archive)
                                    : (imd_archive_abort(archive), false));
    }
    free(name);
    imd_url_destroy(parsed);
    free(expanded);
    imd__context_leave(saved);
    imd_context_destroy(own);
    return ok;
}
