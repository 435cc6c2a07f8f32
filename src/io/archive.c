/*
 * archive.c: the host functions that formats and the pipeline call on an
 * ImdArchive. They select members by pattern, refuse member names that would
 * escape the archive when writing, and hold archive plugins to the result /
 * error contract (a failure always carries an error). An archive owns the
 * transport it was opened on (ImdArchive.transport): closing or aborting the
 * archive closes or aborts the transport after it.
 */
#include "internal.h"

const char *imd_archive_name(const ImdArchive *archive)
{
    return archive != NULL && archive->name != NULL ? archive->name : "";
}

static bool check_archive(ImdError **error, const ImdArchive *archive, const char *function)
{
    if (archive == NULL || archive->methods == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: no archive", function);
        return false;
    }
    return true;
}

typedef struct ListFilter {
    const char *pattern;
    ImdVisitFn *visit;
    void *user;
    size_t matched;
} ListFilter;

static int list_filter(void *user, const char *name)
{
    ListFilter *filter = user;
    if (name == NULL || !imd_member_match(filter->pattern, name)) {
        return 0;
    }
    filter->matched++;
    return filter->visit(filter->user, name);
}

bool imd_archive_list(ImdError **error, ImdArchive *archive, const char *pattern,
                      ImdVisitFn *visit, void *user)
{
    if (!check_archive(error, archive, "imd_archive_list")) {
        return false;
    }
    if (visit == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: imd_archive_list without a visitor",
                      imd_archive_name(archive));
        return false;
    }
    if (archive->methods->list == NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: this archive cannot list its members",
                      imd_archive_name(archive));
        return false;
    }
    ListFilter filter = {pattern != NULL ? pattern : "", visit, user, 0};
    ImdError *local = NULL;
    if (!archive->methods->list(&local, archive, list_filter, &filter)) {
        if (local == NULL) {
            imd_error_set(&local, IMD_ERR_INTERNAL, "%s: listing failed without a reason",
                          imd_archive_name(archive));
        }
        imd_error_propagate(error, local);
        return false;
    }
    imd_error_clear(&local);
    /* Selecting nothing is an error: the user named members that are not there. */
    if (filter.pattern[0] != '\0' && filter.matched == 0) {
        imd_error_set(error, IMD_ERR_NOT_FOUND, "%s: no member matches \"%s\"",
                      imd_archive_name(archive), filter.pattern);
        return false;
    }
    return true;
}

ImdStream *imd_archive_open_member(ImdError **error, ImdArchive *archive, const char *name,
                                   ImdMode mode)
{
    if (!check_archive(error, archive, "imd_archive_open_member")) {
        return NULL;
    }
    if (name == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: no member name",
                      imd_archive_name(archive));
        return NULL;
    }
    if (mode != IMD_MODE_READ && mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: %s: bad mode %d",
                      imd_archive_name(archive), name, (int)mode);
        return NULL;
    }
    /* Checked here for every archive plugin, so none can write outside its root. */
    if (mode == IMD_MODE_WRITE && !imd_member_name_is_safe(name)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: unsafe member name \"%s\"",
                      imd_archive_name(archive), name);
        return NULL;
    }
    if (archive->methods->open_member == NULL) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: this archive cannot open members",
                      imd_archive_name(archive));
        return NULL;
    }
    ImdError *local = NULL;
    ImdStream *stream = archive->methods->open_member(&local, archive, name, mode);
    if (stream == NULL) {
        if (local == NULL) {
            imd_error_set(&local, IMD_ERR_INTERNAL, "%s: %s: open failed without a reason",
                          imd_archive_name(archive), name);
        }
        imd_error_propagate(error, local);
        return NULL;
    }
    imd_error_clear(&local);
    return stream;
}

bool imd_archive_write_member(ImdError **error, ImdArchive *archive, const char *name,
                              const void *data, size_t size)
{
    ImdStream *stream = imd_archive_open_member(error, archive, name, IMD_MODE_WRITE);
    if (stream == NULL) {
        return false;
    }
    if (!imd_stream_write(error, stream, data, size)) {
        imd_stream_abort(stream); /* leaves no partial member behind */
        return false;
    }
    return imd_stream_close(error, stream);
}

char *imd_archive_local_path(const ImdArchive *archive, const char *name)
{
    if (archive == NULL || archive->methods == NULL || archive->methods->local_path == NULL ||
        !imd_member_name_is_safe(name)) {
        return NULL;
    }
    return archive->methods->local_path(archive, name);
}

bool imd_archive_close(ImdError **error, ImdArchive *archive)
{
    if (archive == NULL) {
        return true;
    }
    if (archive->methods == NULL || archive->methods->close == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_archive_close: archive without methods");
        return false;
    }
    /* The archive frees its name on close; keep a copy for the message. */
    char *name = imd__strdup(NULL, imd_archive_name(archive));
    ImdTransport *transport = archive->transport;
    ImdError *local = NULL;
    bool ok = archive->methods->close(&local, archive);
    ok = imd__close_result(error, ok, local, name, "archive");
    /* The archive's bytes are committed before its transport is (a zip's
     * directory is written through the transport). */
    if (!ok) {
        imd_transport_abort(transport);
        return false;
    }
    return imd_transport_close(error, transport);
}

void imd_archive_abort(ImdArchive *archive)
{
    if (archive == NULL || archive->methods == NULL) {
        return;
    }
    ImdTransport *transport = archive->transport;
    if (archive->methods->abort != NULL) {
        archive->methods->abort(archive);
    } else if (archive->methods->close != NULL) {
        (void)archive->methods->close(NULL, archive);
    }
    imd_transport_abort(transport);
}

bool imd_archive_takes_datasets(const ImdArchive *archive)
{
    return archive != NULL && archive->methods != NULL && archive->methods->put_dataset != NULL;
}

bool imd_archive_put_dataset(ImdError **error, ImdArchive *archive, const char *name,
                             const ImdDicomDataSet *dataset, const char *transfer_syntax)
{
    if (!check_archive(error, archive, "imd_archive_put_dataset")) {
        return false;
    }
    if (!imd_archive_takes_datasets(archive)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: takes bytes, not data sets",
                      imd_archive_name(archive));
        return false;
    }
    if (name == NULL || dataset == NULL || transfer_syntax == NULL ||
        !imd_member_name_is_safe(name)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: put data set: bad name or no data set",
                      imd_archive_name(archive));
        return false;
    }
    ImdError *local = NULL;
    if (!archive->methods->put_dataset(&local, archive, name, dataset, transfer_syntax)) {
        if (local == NULL) {
            imd_error_set(&local, IMD_ERR_INTERNAL, "%s: %s: put failed without a reason",
                          imd_archive_name(archive), name);
        }
        imd_error_propagate(error, local);
        return false;
    }
    imd_error_clear(&local);
    return true;
}
