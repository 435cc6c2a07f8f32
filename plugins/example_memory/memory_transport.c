/*
 * memory_transport.c: an example transport plugin, written only against the
 * public headers (docs/plugin-abi.md): objects held in process memory,
 * grouped in buckets named by the URL's host.
 *
 *   memory://bucket/path   objects are bytes (create() streams)
 *   memds://bucket/path    the same store, but DICOM writes arrive as whole
 *                          data sets (put_dataset), as a network node takes them
 *
 * Locations work like the file transport's: a path that names an object is a
 * one-object location (its "folder" is the root); a path that prefixes
 * objects ("a/b" for "a/b/c.dcm") or is empty is a collection; written to,
 * a path that is neither becomes an object of its parent.
 *
 * The tests load it with imd_context_load_plugin() and look into the store
 * with memory_transport_stats() / memory_transport_clear() (dlsym).
 */
#include <imagedata/imagedata.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the store ---------------------------------------------------------- */

typedef struct Object {
    char *bucket, *name;
    void *data;
    size_t size;
    struct Object *next;
} Object;

static Object *store;
static size_t datasets_put; /* put_dataset calls over the process's life */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;

static char *copy_text(const char *text, size_t length)
{
    char *copy = malloc(length + 1);
    if (copy != NULL) {
        memcpy(copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

static Object *find(const char *bucket, const char *name)
{
    for (Object *o = store; o != NULL; o = o->next) {
        if (strcmp(o->bucket, bucket) == 0 && strcmp(o->name, name) == 0) {
            return o;
        }
    }
    return NULL;
}

static void object_free(Object *o)
{
    free(o->bucket);
    free(o->name);
    free(o->data);
    free(o);
}

/* Remove an object (unlocked helper). */
static void remove_object(const char *bucket, const char *name)
{
    for (Object **at = &store; *at != NULL; at = &(*at)->next) {
        if (strcmp((*at)->bucket, bucket) == 0 && strcmp((*at)->name, name) == 0) {
            Object *gone = *at;
            *at = gone->next;
            object_free(gone);
            return;
        }
    }
}

/* Store `data` (taken) as bucket/name, replacing what was there. */
static bool put_bytes(ImdError **error, const char *bucket, const char *name, void *data,
                      size_t size)
{
    Object *o = calloc(1, sizeof *o);
    if (o != NULL) {
        o->bucket = copy_text(bucket, strlen(bucket));
        o->name = copy_text(name, strlen(name));
    }
    if (o == NULL || o->bucket == NULL || o->name == NULL) {
        if (o != NULL) {
            object_free(o);
        }
        free(data);
        imd_error_set(error, IMD_ERR_NOMEM, "memory://%s/%s: out of memory", bucket, name);
        return false;
    }
    o->data = data;
    o->size = size;
    pthread_mutex_lock(&store_lock);
    remove_object(bucket, name);
    o->next = store;
    store = o;
    pthread_mutex_unlock(&store_lock);
    return true;
}

/* Does any object of `bucket` lie under the folder `prefix` ("" for all)? */
static bool is_folder(const char *bucket, const char *prefix)
{
    size_t length = strlen(prefix);
    bool found = false;
    pthread_mutex_lock(&store_lock);
    for (Object *o = store; o != NULL && !found; o = o->next) {
        found = strcmp(o->bucket, bucket) == 0 &&
                (length == 0 || (strncmp(o->name, prefix, length) == 0 && o->name[length] == '/'));
    }
    pthread_mutex_unlock(&store_lock);
    return found;
}

/* For the tests: objects in a bucket (NULL: all) and data sets put so far. */
IMD_API void memory_transport_stats(const char *bucket, size_t *objects, size_t *datasets);
IMD_API void memory_transport_stats(const char *bucket, size_t *objects, size_t *datasets)
{
    pthread_mutex_lock(&store_lock);
    *objects = 0;
    for (Object *o = store; o != NULL; o = o->next) {
        *objects += bucket == NULL || strcmp(o->bucket, bucket) == 0;
    }
    *datasets = datasets_put;
    pthread_mutex_unlock(&store_lock);
}

IMD_API void memory_transport_clear(void);
IMD_API void memory_transport_clear(void)
{
    pthread_mutex_lock(&store_lock);
    while (store != NULL) {
        Object *next = store->next;
        object_free(store);
        store = next;
    }
    datasets_put = 0;
    pthread_mutex_unlock(&store_lock);
}

/* ---- the transport ------------------------------------------------------ */

typedef struct Created {
    char *name;
    struct Created *next;
} Created;

typedef struct MemoryTransport {
    ImdTransport base;
    char *bucket;
    char *root; /* "" or "a/b": objects' names are root + "/" + member */
    ImdMode mode;
    Created *created; /* objects this transport committed: removed by abort() */
} MemoryTransport;

static char *full_name(const MemoryTransport *t, const char *name)
{
    size_t r = strlen(t->root), n = strlen(name);
    char *full = malloc(r + n + 2);
    if (full != NULL) {
        (void)snprintf(full, r + n + 2, "%s%s%s", t->root, r > 0 ? "/" : "", name);
    }
    return full;
}

static bool remember(MemoryTransport *t, const char *full)
{
    Created *c = calloc(1, sizeof *c);
    if (c == NULL || (c->name = copy_text(full, strlen(full))) == NULL) {
        free(c);
        return false;
    }
    c->next = t->created;
    t->created = c;
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool memory_list(ImdError **error, ImdTransport *base, ImdVisitFn *visit, void *user)
{
    MemoryTransport *t = (MemoryTransport *)base;
    if (t->base.object != NULL && t->mode == IMD_MODE_READ) {
        (void)visit(user, t->base.object);
        return true;
    }
    size_t r = strlen(t->root), count = 0;
    char **names = NULL;
    bool ok = true;
    pthread_mutex_lock(&store_lock);
    for (Object *o = store; o != NULL && ok; o = o->next) {
        if (strcmp(o->bucket, t->bucket) != 0 ||
            (r > 0 && (strncmp(o->name, t->root, r) != 0 || o->name[r] != '/'))) {
            continue;
        }
        char **grown = realloc(names, (count + 1) * sizeof *names);
        const char *relative = o->name + (r > 0 ? r + 1 : 0);
        ok = grown != NULL && (grown[count] = copy_text(relative, strlen(relative))) != NULL;
        names = grown != NULL ? grown : names;
        count += ok;
    }
    pthread_mutex_unlock(&store_lock);
    if (ok) {
        qsort(names, count, sizeof *names, compare_names);
        for (size_t i = 0; i < count && visit(user, names[i]) == 0; i++) {
        }
    } else {
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory listing", t->base.name);
    }
    for (size_t i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
    return ok;
}

static void release_copy(void *data, void *user)
{
    (void)user;
    free(data);
}

static ImdStream *memory_open_read(ImdError **error, ImdTransport *base, const char *name)
{
    MemoryTransport *t = (MemoryTransport *)base;
    char *full = full_name(t, name);
    void *copy = NULL;
    size_t size = 0;
    bool found = false;
    pthread_mutex_lock(&store_lock);
    Object *o = full != NULL ? find(t->bucket, full) : NULL;
    if (o != NULL) {
        found = true;
        size = o->size;
        copy = malloc(size > 0 ? size : 1);
        if (copy != NULL) {
            memcpy(copy, o->data, size);
        }
    }
    pthread_mutex_unlock(&store_lock);
    ImdStream *stream = NULL;
    if (!found || copy == NULL) {
        imd_error_set(error, found ? IMD_ERR_NOMEM : IMD_ERR_NOT_FOUND, "%s/%s: %s",
                      t->base.name, name, found ? "out of memory" : "no such object");
        free(copy);
    } else {
        stream = imd_stream_open_memory(error, copy, size, full, release_copy, NULL);
    }
    free(full);
    return stream;
}

/* A stream being written: bytes go to a buffer; close() stores them. */
typedef struct Writer {
    ImdStream base;
    ImdStream *buffer;
    MemoryTransport *transport;
    char *full;
} Writer;

static void writer_free(Writer *w)
{
    free(w->full);
    free(w->base.name);
    free(w);
}

static int64_t writer_write(ImdError **error, ImdStream *stream, const void *data, size_t length)
{
    Writer *w = (Writer *)stream;
    return imd_stream_write(error, w->buffer, data, length) ? (int64_t)length : -1;
}

static bool writer_close(ImdError **error, ImdStream *stream)
{
    Writer *w = (Writer *)stream;
    size_t size = 0;
    void *data = imd_stream_buffer_take(w->buffer, &size);
    imd_stream_abort(w->buffer);
    bool ok = data != NULL || size == 0;
    if (!ok) {
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", w->base.name);
    } else {
        ok = put_bytes(error, w->transport->bucket, w->full, data, size) &&
             remember(w->transport, w->full);
    }
    writer_free(w);
    return ok;
}

static void writer_abort(ImdStream *stream)
{
    Writer *w = (Writer *)stream;
    imd_stream_abort(w->buffer); /* nothing reaches the store */
    writer_free(w);
}

static const ImdStreamMethods writer_methods = {
    NULL, writer_write, NULL, NULL, writer_close, writer_abort,
};

static ImdStream *memory_create(ImdError **error, ImdTransport *base, const char *name)
{
    MemoryTransport *t = (MemoryTransport *)base;
    if (t->mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: opened for reading", t->base.name);
        return NULL;
    }
    Writer *w = calloc(1, sizeof *w);
    if (w != NULL) {
        w->base.methods = &writer_methods;
        w->transport = t;
        w->full = full_name(t, name);
        w->base.name = w->full != NULL ? copy_text(w->full, strlen(w->full)) : NULL;
    }
    if (w == NULL || w->base.name == NULL) {
        if (w != NULL) {
            writer_free(w);
        }
        imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", t->base.name);
        return NULL;
    }
    w->buffer = imd_stream_open_buffer(error, w->full);
    if (w->buffer == NULL) {
        writer_free(w);
        return NULL;
    }
    return &w->base;
}

/* memds://: a data set arrives whole; stored as a DICOM file so it reads back. */
static bool memory_put_dataset(ImdError **error, ImdTransport *base, const char *name,
                               const ImdDicomDataSet *dataset, const char *transfer_syntax)
{
    ImdStream *stream = memory_create(error, base, name);
    if (stream == NULL) {
        return false;
    }
    ImdDicomWriteOptions options = {transfer_syntax, false};
    if (!imd_dicom_write(error, dataset, stream, &options)) {
        imd_stream_abort(stream);
        return false;
    }
    if (!imd_stream_close(error, stream)) {
        return false;
    }
    pthread_mutex_lock(&store_lock);
    datasets_put++;
    pthread_mutex_unlock(&store_lock);
    return true;
}

static void transport_free(MemoryTransport *t)
{
    while (t->created != NULL) {
        Created *next = t->created->next;
        free(t->created->name);
        free(t->created);
        t->created = next;
    }
    free(t->bucket);
    free(t->root);
    free(t->base.object);
    free(t->base.name);
    free(t);
}

static bool memory_close(ImdError **error, ImdTransport *base)
{
    (void)error;
    transport_free((MemoryTransport *)base);
    return true;
}

static void memory_abort(ImdTransport *base)
{
    MemoryTransport *t = (MemoryTransport *)base;
    pthread_mutex_lock(&store_lock);
    for (Created *c = t->created; c != NULL; c = c->next) {
        remove_object(t->bucket, c->name);
    }
    pthread_mutex_unlock(&store_lock);
    transport_free(t);
}

static const ImdTransportMethods memory_methods = {
    memory_list, memory_open_read, memory_create, NULL, NULL, memory_close, memory_abort,
};

static const ImdTransportMethods dataset_methods = {
    memory_list, memory_open_read, memory_create, memory_put_dataset, NULL, memory_close,
    memory_abort,
};

/* Root and object of `path` ("a/b/c" -> "a/b", "c"). */
static bool split(MemoryTransport *t, const char *path)
{
    const char *slash = strrchr(path, '/');
    t->root = slash != NULL ? copy_text(path, (size_t)(slash - path)) : copy_text("", 0);
    t->base.object = slash != NULL ? copy_text(slash + 1, strlen(slash + 1))
                                   : copy_text(path, strlen(path));
    return t->root != NULL && t->base.object != NULL;
}

static ImdTransport *open_location(ImdError **error, const ImdUrl *url, ImdMode mode,
                                   const ImdTransportMethods *methods)
{
    MemoryTransport *t = calloc(1, sizeof *t);
    const char *path = url->path;
    while (*path == '/') {
        path++;
    }
    size_t length = strlen(path);
    while (length > 0 && path[length - 1] == '/') {
        length--;
    }
    char *clean = copy_text(path, length);
    if (t == NULL || clean == NULL) {
        free(t);
        free(clean);
        imd_error_set(error, IMD_ERR_NOMEM, "%s://%s: out of memory", url->scheme, url->host);
        return NULL;
    }
    t->base.methods = methods;
    t->mode = mode;
    t->bucket = copy_text(url->host, strlen(url->host));
    size_t name_length = strlen(url->scheme) + strlen(url->host) + length + 5;
    t->base.name = malloc(name_length);
    if (t->base.name != NULL) {
        (void)snprintf(t->base.name, name_length, "%s://%s/%s", url->scheme, url->host, clean);
    }
    pthread_mutex_lock(&store_lock);
    bool object = clean[0] != '\0' && find(url->host, clean) != NULL;
    pthread_mutex_unlock(&store_lock);
    bool folder = !object && is_folder(url->host, clean);
    bool ok = t->bucket != NULL && t->base.name != NULL;
    if (ok && mode == IMD_MODE_READ && !object && !folder) {
        imd_error_set(error, IMD_ERR_NOT_FOUND, "%s: no such object or folder", t->base.name);
        ok = false;
    } else if (ok) {
        /* A folder (or the whole bucket) is the root; anything else an object of its parent. */
        ok = folder || clean[0] == '\0' ? (t->root = copy_text(clean, length)) != NULL
                                        : split(t, clean);
        if (!ok) {
            imd_error_set(error, IMD_ERR_NOMEM, "%s: out of memory", t->base.name);
        }
    }
    free(clean);
    if (!ok) {
        transport_free(t);
        return NULL;
    }
    return &t->base;
}

static ImdTransport *memory_open(ImdError **error, const ImdUrl *url, ImdMode mode,
                                 const ImdOptions *options)
{
    (void)options;
    return open_location(error, url, mode, &memory_methods);
}

static ImdTransport *dataset_open(ImdError **error, const ImdUrl *url, ImdMode mode,
                                  const ImdOptions *options)
{
    (void)options;
    return open_location(error, url, mode, &dataset_methods);
}

static const char *const memory_schemes[] = {"memory", NULL};
static const char *const dataset_schemes[] = {"memds", NULL};

static const ImdTransportPlugin memory_transport = {
    IMD_PLUGIN_ABI_VERSION, sizeof(ImdTransportPlugin), "memory",
    "objects in process memory (plugins/example_memory)", memory_schemes, memory_open,
};

static const ImdTransportPlugin dataset_transport = {
    IMD_PLUGIN_ABI_VERSION, sizeof(ImdTransportPlugin), "memds",
    "objects in process memory; DICOM arrives as data sets (plugins/example_memory)",
    dataset_schemes, dataset_open,
};

static const ImdPluginRecord memory_records[] = {
    {IMD_PLUGIN_TRANSPORT, &memory_transport},
    {IMD_PLUGIN_TRANSPORT, &dataset_transport},
};

static const ImdPluginManifest memory_manifest = {
    IMD_PLUGIN_ABI_VERSION, sizeof(ImdPluginManifest), "imd_example_memory", 2, memory_records,
};

IMD_API const ImdPluginManifest *imd_plugin_manifest_v2(void);
IMD_API const ImdPluginManifest *imd_plugin_manifest_v2(void)
{
    return &memory_manifest;
}
