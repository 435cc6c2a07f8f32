/*
 * registry.c: the plugin registry: the built-in table, plugins loaded from
 * shared objects (kept by the context, src/base/context.c), and the choice
 * of archive for a path.
 */
#define _POSIX_C_SOURCE 200809L
#include "pipeline/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef IMD_ENABLE_PLUGINS
#include <dlfcn.h>
#endif

typedef ImdPluginRecord Registered;

/* The built-ins, in priority order. Formats join as their issues land. */
static const Registered builtin_plugins[] = {
    {IMD_PLUGIN_TRANSPORT, &imd__file_transport},
    {IMD_PLUGIN_TRANSPORT, &imd__dicom_transport},
    {IMD_PLUGIN_ARCHIVE, &imd__zip_archive},
    {IMD_PLUGIN_ARCHIVE, &imd__folder_archive},
    {IMD_PLUGIN_FORMAT, &imd__dicom_format},
    {IMD_PLUGIN_FORMAT, &imd__nifti_format},
    {IMD_PLUGIN_FORMAT, &imd__metaio_format},
    {IMD_PLUGIN_FORMAT, &imd__mat_format},
#ifdef IMD_WITH_PNG
    {IMD_PLUGIN_FORMAT, &imd__png_format},
#endif
#ifdef IMD_WITH_TURBOJPEG
    {IMD_PLUGIN_FORMAT, &imd__jpeg_format},
#endif
#ifdef IMD_WITH_TIFF
    {IMD_PLUGIN_FORMAT, &imd__tiff_format},
#endif
    {IMD_PLUGIN_FORMAT, &imd__postscript_format},
};

/* ---- lookup ---- */

static const char *descriptor_name(const Registered *plugin)
{
    switch (plugin->kind) {
    case IMD_PLUGIN_FORMAT:
        return ((const ImdFormatPlugin *)plugin->descriptor)->name;
    case IMD_PLUGIN_ARCHIVE:
        return ((const ImdArchivePlugin *)plugin->descriptor)->name;
    case IMD_PLUGIN_TRANSPORT:
        return ((const ImdTransportPlugin *)plugin->descriptor)->name;
    }
    return "";
}

/* The i-th registered plugin: those loaded from files first, then the built-ins. */
static const Registered *plugin_at(const ImdContext *context, size_t index)
{
    size_t loaded = 0;
    const Registered *plugins = imd__context_plugins(context, &loaded);
    if (index < loaded) {
        return &plugins[index];
    }
    index -= loaded;
    return index < sizeof builtin_plugins / sizeof builtin_plugins[0] ? &builtin_plugins[index]
                                                                     : NULL;
}

static size_t count_kind(const ImdContext *context, ImdPluginKind kind)
{
    size_t count = 0;
    const Registered *p;
    for (size_t i = 0; (p = plugin_at(context, i)) != NULL; i++) {
        count += p->kind == kind;
    }
    return count;
}

static const void *nth_kind(const ImdContext *context, ImdPluginKind kind, size_t index)
{
    const Registered *p;
    for (size_t i = 0; (p = plugin_at(context, i)) != NULL; i++) {
        if (p->kind == kind && index-- == 0) {
            return p->descriptor;
        }
    }
    return NULL;
}

size_t imd_context_format_count(const ImdContext *context)
{
    return count_kind(context, IMD_PLUGIN_FORMAT);
}

const ImdFormatPlugin *imd_context_format(const ImdContext *context, size_t index)
{
    return nth_kind(context, IMD_PLUGIN_FORMAT, index);
}

size_t imd_context_archive_count(const ImdContext *context)
{
    return count_kind(context, IMD_PLUGIN_ARCHIVE);
}

const ImdArchivePlugin *imd_context_archive(const ImdContext *context, size_t index)
{
    return nth_kind(context, IMD_PLUGIN_ARCHIVE, index);
}

size_t imd_context_transport_count(const ImdContext *context)
{
    return count_kind(context, IMD_PLUGIN_TRANSPORT);
}

const ImdTransportPlugin *imd_context_transport(const ImdContext *context, size_t index)
{
    return nth_kind(context, IMD_PLUGIN_TRANSPORT, index);
}

const ImdFormatPlugin *imd_context_find_format(const ImdContext *context, const char *name)
{
    for (size_t i = 0; name != NULL && i < imd_context_format_count(context); i++) {
        const ImdFormatPlugin *format = imd_context_format(context, i);
        if (strcasecmp(format->name, name) == 0) {
            return format;
        }
    }
    return NULL;
}

/* ---- checking descriptors from a plugin file ---- */

/* The first published size of each descriptor: later versions only append. */
#define FORMAT_V1_SIZE (offsetof(ImdFormatPlugin, write) + sizeof(void (*)(void)))
#define ARCHIVE_V1_SIZE (offsetof(ImdArchivePlugin, open) + sizeof(void (*)(void)))
#define TRANSPORT_V1_SIZE (offsetof(ImdTransportPlugin, open) + sizeof(void (*)(void)))

static bool check_header(ImdError **error, const char *path, const char *what, uint32_t abi,
                         uint32_t size, size_t minimum)
{
    if (abi != IMD_PLUGIN_ABI_VERSION) {
        imd_error_set(error, IMD_ERR_PLUGIN_ABI,
                      "%s: %s was built for plugin ABI %u; this library has ABI %u", path, what,
                      abi, IMD_PLUGIN_ABI_VERSION);
        return false;
    }
    if (size < minimum) {
        imd_error_set(error, IMD_ERR_PLUGIN_ABI,
                      "%s: %s descriptor is %u bytes, at least %zu expected", path, what, size,
                      minimum);
        return false;
    }
    return true;
}

static bool check_format(ImdError **error, const char *path, const ImdFormatPlugin *format)
{
    if (!check_header(error, path, "format plugin", format->abi_version, format->struct_size,
                      FORMAT_V1_SIZE)) {
        return false;
    }
    bool reads = (format->flags & IMD_FORMAT_READ) != 0;
    bool writes = (format->flags & IMD_FORMAT_WRITE) != 0;
    if (format->name == NULL || format->name[0] == '\0' || format->probe == NULL ||
        (!reads && !writes) ||
        (reads && (format->reader_create == NULL || format->reader_add == NULL ||
                   format->reader_finish == NULL || format->reader_destroy == NULL)) ||
        (writes && format->write == NULL)) {
        imd_error_set(error, IMD_ERR_PLUGIN_ABI,
                      "%s: format plugin \"%s\" lacks a name, probe or the methods its flags "
                      "promise", path, format->name != NULL ? format->name : "");
        return false;
    }
    return true;
}

static bool check_record(ImdError **error, const char *path, const ImdPluginRecord *record)
{
    if (record->descriptor == NULL) {
        imd_error_set(error, IMD_ERR_PLUGIN_ABI, "%s: a plugin record has no descriptor", path);
        return false;
    }
    if (record->kind == IMD_PLUGIN_FORMAT) {
        return check_format(error, path, record->descriptor);
    }
    if (record->kind == IMD_PLUGIN_ARCHIVE) {
        const ImdArchivePlugin *archive = record->descriptor;
        if (!check_header(error, path, "archive plugin", archive->abi_version,
                          archive->struct_size, ARCHIVE_V1_SIZE)) {
            return false;
        }
        if (archive->name != NULL && archive->open != NULL && archive->probe != NULL) {
            return true;
        }
    } else if (record->kind == IMD_PLUGIN_TRANSPORT) {
        const ImdTransportPlugin *transport = record->descriptor;
        if (!check_header(error, path, "transport plugin", transport->abi_version,
                          transport->struct_size, TRANSPORT_V1_SIZE)) {
            return false;
        }
        if (transport->name != NULL && transport->schemes != NULL && transport->open != NULL) {
            return true;
        }
    } else {
        imd_error_set(error, IMD_ERR_PLUGIN_ABI, "%s: unknown plugin kind %u", path,
                      record->kind);
        return false;
    }
    imd_error_set(error, IMD_ERR_PLUGIN_ABI, "%s: a plugin lacks its name or methods", path);
    return false;
}

static bool name_taken(const ImdContext *context, const ImdPluginRecord *records, size_t count,
                       size_t index)
{
    Registered candidate = {(ImdPluginKind)records[index].kind, records[index].descriptor};
    const char *name = descriptor_name(&candidate);
    const Registered *p;
    for (size_t i = 0; (p = plugin_at(context, i)) != NULL; i++) {
        if (p->kind == candidate.kind && strcasecmp(descriptor_name(p), name) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < index && i < count; i++) {
        Registered earlier = {(ImdPluginKind)records[i].kind, records[i].descriptor};
        if (earlier.kind == candidate.kind && strcasecmp(descriptor_name(&earlier), name) == 0) {
            return true;
        }
    }
    return false;
}

/* Check everything first, so that a bad plugin file registers nothing. */
static bool check_manifest(ImdError **error, const ImdContext *context, const char *path,
                           const ImdPluginManifest *manifest)
{
    if (manifest == NULL) {
        imd_error_set(error, IMD_ERR_PLUGIN_ABI, "%s: the manifest function returned NULL", path);
        return false;
    }
    if (!check_header(error, path, "the plugin file", manifest->abi_version,
                      manifest->struct_size, sizeof(ImdPluginManifest))) {
        return false;
    }
    if (manifest->count == 0 || manifest->count > 256 || manifest->records == NULL) {
        imd_error_set(error, IMD_ERR_PLUGIN_ABI, "%s: the manifest lists %zu plugins", path,
                      manifest->count);
        return false;
    }
    for (size_t i = 0; i < manifest->count; i++) {
        if (!check_record(error, path, &manifest->records[i])) {
            return false;
        }
        if (name_taken(context, manifest->records, manifest->count, i)) {
            Registered r = {(ImdPluginKind)manifest->records[i].kind,
                            manifest->records[i].descriptor};
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "%s: a plugin named \"%s\" is already registered", path,
                          descriptor_name(&r));
            return false;
        }
    }
    return true;
}

bool imd_context_load_plugin(ImdError **error, ImdContext *context, const char *path)
{
    if (context == NULL || path == NULL || path[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "load plugin: no context or path");
        return false;
    }
#ifndef IMD_ENABLE_PLUGINS
    imd_error_set(error, IMD_ERR_UNSUPPORTED,
                  "%s: this build cannot load plugins (IMD_ENABLE_PLUGINS is off)", path);
    return false;
#else
    struct stat st;
    if (stat(path, &st) != 0) {
        imd_error_set(error, errno == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO,
                      "%s: cannot load plugin: %s", path, strerror(errno));
        return false;
    }
    /* dlopen() searches the library path for names without '/'; a plugin is
     * always a file the user named, so make the name a path. */
    char *local = strchr(path, '/') == NULL ? imd__sprintf(error, "./%s", path) : NULL;
    void *library = dlopen(local != NULL ? local : path, RTLD_NOW | RTLD_LOCAL);
    free(local);
    if (library == NULL) {
        const char *reason = dlerror();
        imd_error_set(error, IMD_ERR_PLUGIN_ABI, "%s: not a loadable plugin: %s", path,
                      reason != NULL ? reason : "dlopen failed");
        return false;
    }
    void *symbol = dlsym(library, IMD_PLUGIN_ENTRY_SYMBOL);
    ImdPluginEntryFn *entry = NULL;
    if (symbol != NULL) {
        /* POSIX guarantees object and function pointers convert; copy the bits
         * because ISO C does not allow the cast. */
        memcpy(&entry, &symbol, sizeof entry);
    }
    const ImdPluginManifest *manifest = NULL;
    if (entry == NULL) {
        if (dlsym(library, "imd_plugin_manifest_v1") != NULL) {
            imd_error_set(error, IMD_ERR_PLUGIN_ABI,
                          "%s: built for plugin ABI 1; this library needs ABI %u (rebuild the "
                          "plugin against its headers, docs/plugin-abi.md)",
                          path, IMD_PLUGIN_ABI_VERSION);
        } else {
            imd_error_set(error, IMD_ERR_PLUGIN_ABI,
                          "%s: no %s function: not an imagedata plugin", path,
                          IMD_PLUGIN_ENTRY_SYMBOL);
        }
    } else {
        manifest = entry();
    }
    if (entry == NULL || !check_manifest(error, context, path, manifest) ||
        !imd__context_add_plugins(error, context, library, manifest->records, manifest->count)) {
        dlclose(library);
        return false;
    }
    return true;
#endif
}

bool imd_context_load_plugin_list(ImdError **error, ImdContext *context, const char *list)
{
    if (list == NULL) {
        return true;
    }
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, ':');
        size_t length = end != NULL ? (size_t)(end - p) : strlen(p);
        if (length > 0) {
            char *path = imd__strndup(error, p, length);
            bool ok = path != NULL && imd_context_load_plugin(error, context, path);
            free(path);
            if (!ok) {
                return false;
            }
        }
        p += length + (end != NULL);
    }
    return true;
}

/* ---- choosing a transport and an archive ---- */

ImdTransport *imd__transport_open(ImdError **error, const ImdContext *context, const ImdUrl *url,
                                  ImdMode mode, const ImdOptions *options)
{
    for (size_t i = 0; i < imd_context_transport_count(context); i++) {
        const ImdTransportPlugin *plugin = imd_context_transport(context, i);
        for (const char *const *s = plugin->schemes; s != NULL && *s != NULL; s++) {
            if (strcasecmp(*s, url->scheme) != 0) {
                continue;
            }
            ImdError *local = NULL;
            ImdTransport *transport = plugin->open(&local, url, mode, options);
            if (transport == NULL && local == NULL) {
                imd_error_set(&local, IMD_ERR_INTERNAL, "%s: the %s transport failed without "
                              "a reason", url->path, plugin->name);
            }
            imd_error_propagate(error, local);
            return transport;
        }
    }
    imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s://: no transport for this scheme%s",
                  url->scheme,
                  strcmp(url->scheme, "dicom") == 0 ? " (the DICOM network is not built yet)" : "");
    return NULL;
}

static bool has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    return n >= m && strcasecmp(path + n - m, suffix) == 0;
}

static const ImdArchivePlugin *archive_by_suffix(const ImdContext *context, const char *name)
{
    for (size_t i = 0; i < imd_context_archive_count(context); i++) {
        const ImdArchivePlugin *archive = imd_context_archive(context, i);
        for (const char *const *s = archive->suffixes; s != NULL && *s != NULL; s++) {
            if (has_suffix(name, *s)) {
                return archive;
            }
        }
    }
    return NULL;
}

/* An object not named like an archive may still be one (a zip starts PK\3\4). */
static const ImdArchivePlugin *archive_by_content(const ImdContext *context,
                                                  ImdTransport *transport, const char *object)
{
    uint8_t head[64];
    ImdStream *stream = imd_transport_open_read(NULL, transport, object);
    int64_t got = stream != NULL ? imd_stream_read(NULL, stream, head, sizeof head) : -1;
    imd_stream_abort(stream);
    if (got <= 0) {
        return NULL;
    }
    const ImdArchivePlugin *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < imd_context_archive_count(context); i++) {
        const ImdArchivePlugin *archive = imd_context_archive(context, i);
        int score = archive->probe(head, (size_t)got, object);
        if (score > best_score && archive != &imd__folder_archive) {
            best = archive;
            best_score = score;
        }
    }
    return best;
}

/* The archive plugin for a one-object location, or NULL: the folder archive. */
static const ImdArchivePlugin *archive_for_object(const ImdContext *context,
                                                  ImdTransport *transport, ImdMode mode)
{
    const char *object = imd_transport_object(transport);
    if (object == NULL) {
        return NULL;
    }
    const ImdArchivePlugin *archive = archive_by_suffix(context, object);
    if (archive == NULL && mode == IMD_MODE_READ) {
        archive = archive_by_content(context, transport, object);
    }
    return archive;
}

ImdArchive *imd__archive_on(ImdError **error, const ImdContext *context, ImdTransport *transport,
                            ImdMode mode, const ImdOptions *options, bool object_is_folder,
                            bool *in_object)
{
    const ImdArchivePlugin *plugin = archive_for_object(context, transport, mode);
    const char *object = plugin != NULL || object_is_folder ? imd_transport_object(transport)
                                                            : NULL;
    if (plugin == NULL) {
        plugin = &imd__folder_archive;
    }
    ImdError *local = NULL;
    ImdArchive *archive = plugin->open(&local, transport, object, mode, options);
    if (archive == NULL) {
        if (local == NULL) {
            imd_error_set(&local, IMD_ERR_INTERNAL, "%s: the %s archive failed without a reason",
                          imd_transport_name(transport), plugin->name);
        }
        imd_error_propagate(error, local);
        imd_transport_abort(transport);
        return NULL;
    }
    archive->transport = transport;
    if (in_object != NULL) {
        *in_object = object != NULL;
    }
    return archive;
}

/* A local object to be written into as a folder must not be a file already. */
static bool object_can_be_folder(ImdError **error, const ImdContext *context,
                                 const ImdTransport *transport)
{
    const char *object = imd_transport_object(transport);
    char *path = object != NULL ? imd_transport_local_path(transport, object) : NULL;
    struct stat info;
    bool file = path != NULL && stat(path, &info) == 0 && !S_ISDIR(info.st_mode) &&
                archive_by_suffix(context, object) == NULL;
    if (file) {
        imd_error_set(error, IMD_ERR_IO, "%s: cannot write into: %s", path, strerror(ENOTDIR));
    }
    free(path);
    return !file;
}

ImdArchive *imd_archive_open(ImdError **error, const ImdContext *context, const char *location,
                             ImdMode mode, const ImdOptions *options)
{
    ImdContext *own = NULL;
    if (context == NULL) {
        own = imd_context_create(error);
        if (own == NULL) {
            return NULL;
        }
        context = own;
    }
    ImdUrl *url = location != NULL ? imd_url_parse(error, location) : NULL;
    if (location == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_archive_open: no location");
    }
    ImdTransport *transport =
        url != NULL ? imd__transport_open(error, context, url, mode, options) : NULL;
    if (transport != NULL && mode == IMD_MODE_WRITE && !object_can_be_folder(error, context, transport)) {
        imd_transport_abort(transport);
        transport = NULL;
    }
    /* Written to, a path that is not a folder yet becomes one. */
    ImdArchive *archive = transport != NULL ? imd__archive_on(error, context, transport, mode,
                                                              options, mode == IMD_MODE_WRITE, NULL)
                                            : NULL;
    imd_url_destroy(url);
    imd_context_destroy(own);
    return archive;
}
