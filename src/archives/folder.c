/*
 * folder.c: the "folder" archive, a transport's location seen directly as
 * members: a folder tree of the file transport, the objects of a memory or
 * network transport. Every member operation is the transport's; this
 * archive adds nothing but the archive interface, so that formats see one
 * kind of thing whether members come from a folder or a zip.
 */
#include "internal.h"

typedef struct FolderArchive {
    ImdArchive base;
    ImdTransport *transport; /* borrowed: the host closes it after us */
    ImdMode mode;
    char *prefix; /* "sub/" when opened on an object (a folder to make), else "" */
} FolderArchive;

static ImdTransport *transport_of(const ImdArchive *archive)
{
    return ((const FolderArchive *)archive)->transport;
}

/* The transport's name of a member. */
static char *full_name(ImdError **error, const ImdArchive *archive, const char *name)
{
    return imd__sprintf(error, "%s%s", ((const FolderArchive *)archive)->prefix, name);
}

typedef struct PrefixFilter {
    const char *prefix;
    size_t length;
    ImdVisitFn *visit;
    void *user;
} PrefixFilter;

static int visit_prefixed(void *user, const char *name)
{
    PrefixFilter *filter = user;
    if (strncmp(name, filter->prefix, filter->length) != 0) {
        return 0;
    }
    return filter->visit(filter->user, name + filter->length);
}

static bool folder_list(ImdError **error, ImdArchive *archive, ImdVisitFn *visit, void *user)
{
    const char *prefix = ((FolderArchive *)archive)->prefix;
    PrefixFilter filter = {prefix, strlen(prefix), visit, user};
    return imd_transport_list(error, transport_of(archive), visit_prefixed, &filter);
}

static ImdStream *folder_open_member(ImdError **error, ImdArchive *archive, const char *name,
                                     ImdMode mode)
{
    if (mode == IMD_MODE_WRITE && ((FolderArchive *)archive)->mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: opened for reading, cannot write \"%s\"",
                      imd_archive_name(archive), name);
        return NULL;
    }
    char *full = full_name(error, archive, name);
    if (full == NULL) {
        return NULL;
    }
    ImdStream *stream = mode == IMD_MODE_READ
                            ? imd_transport_open_read(error, transport_of(archive), full)
                            : imd_transport_create(error, transport_of(archive), full);
    free(full);
    return stream;
}

static char *folder_local_path(const ImdArchive *archive, const char *name)
{
    char *full = full_name(NULL, archive, name);
    char *path = full != NULL ? imd_transport_local_path(transport_of(archive), full) : NULL;
    free(full);
    return path;
}

static bool folder_put_dataset(ImdError **error, ImdArchive *archive, const char *name,
                               const ImdDicomDataSet *dataset, const char *transfer_syntax)
{
    ImdTransport *transport = transport_of(archive);
    char *full = full_name(error, archive, name);
    bool ok = full != NULL && transport->methods->put_dataset(error, transport, full, dataset,
                                                                  transfer_syntax);
    free(full);
    return ok;
}

static void folder_free(ImdArchive *archive)
{
    free(((FolderArchive *)archive)->prefix);
    free(archive->name);
    free(archive);
}

static bool folder_close(ImdError **error, ImdArchive *archive)
{
    IMD__UNUSED(error);
    folder_free(archive); /* members were committed as their streams closed */
    return true;
}

static const ImdArchiveMethods folder_methods = {
    folder_list, folder_open_member, folder_close, folder_free, folder_local_path, NULL,
};

/* The same, for transports that take whole data sets (a DICOM node). */
static const ImdArchiveMethods folder_dataset_methods = {
    folder_list, folder_open_member, folder_close, folder_free, folder_local_path,
    folder_put_dataset,
};

static ImdArchive *folder_open(ImdError **error, ImdTransport *transport, const char *object,
                               ImdMode mode, const ImdOptions *options)
{
    IMD__UNUSED(options);
    if (transport == NULL || transport->methods == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "folder archive: no transport");
        return NULL;
    }
    FolderArchive *archive = imd__calloc(error, 1, sizeof *archive);
    if (archive == NULL) {
        return NULL;
    }
    archive->base.methods =
        transport->methods->put_dataset != NULL ? &folder_dataset_methods : &folder_methods;
    /* On an object: the folder of that name (made at the first member). */
    archive->base.name = imd__strdup(error, imd_transport_name(transport));
    archive->prefix = object != NULL && object[0] != '\0' ? imd__sprintf(error, "%s/", object)
                                                           : imd__strdup(error, "");
    archive->transport = transport;
    archive->mode = mode;
    if (archive->base.name == NULL || archive->prefix == NULL) {
        folder_free(&archive->base);
        return NULL;
    }
    return &archive->base;
}

/* Any location can be seen as a folder: the lowest claim, so real archives win. */
static int folder_probe(const uint8_t *head, size_t head_length, const char *name)
{
    IMD__UNUSED(head);
    IMD__UNUSED(head_length);
    IMD__UNUSED(name);
    return 1;
}

const ImdArchivePlugin imd__folder_archive = {
    IMD_PLUGIN_ABI_VERSION,
    (uint32_t)sizeof(ImdArchivePlugin),
    "folder",
    "a transport's location as a tree of members (a folder, a node)",
    NULL,
    folder_probe,
    folder_open,
};
