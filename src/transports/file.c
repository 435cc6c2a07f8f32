/*
 * file.c: the "file" transport, the local file system: a folder tree seen as
 * objects with '/'-separated names relative to a root folder.
 *
 * Read: the path must exist. A folder is the root and every regular file
 * below it is listed. A regular file makes its folder the root, is the
 * transport's `object`, and list() yields only its basename (other files of
 * the folder can still be opened by name, e.g. the data file next to a
 * MetaIO header).
 * Write: an existing folder is the root; any other path makes its folder
 * the root (created with its parents when missing) and its last part the
 * `object` (behaviour.md §7.3: "out" -> out.nii.gz, out/ for DICOM).
 * Objects are written through a temporary name renamed into place when
 * their stream closes (src/io/stream.c); abort() removes the files and
 * folders this transport created.
 *
 * list() walks without recursion (deep trees cannot exhaust the stack), sorts
 * with strcmp on the whole relative name so the order never depends on the
 * file system, follows symbolic links to files but never into folders (no
 * loops), and hides the "<name>.tmp-XXXXXX" files of writes in progress.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* struct dirent's d_type */

#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

typedef struct FileTransport {
    ImdTransport base;
    char *root;  /* the folder member names are relative to */
    ImdMode mode;
    /* Write mode: folders and files this transport created, removed again by
     * abort() (newest first) so that a failed write leaves nothing behind.
     * Files that existed before are replaced at their streams' close and
     * cannot be restored. */
    char **created;
    size_t created_count, created_capacity;
} FileTransport;

/*
 * Make room to remember a path before creating it, so that abort() can
 * always remove what was created: a copy of `path` (NULL + NOMEM on failure),
 * stored by remember() once the path exists, freed by the caller otherwise.
 */
static char *reserve(ImdError **error, FileTransport *archive, const char *path)
{
    if (!imd__grow(error, (void **)&archive->created, &archive->created_capacity,
                   archive->created_count + 1, sizeof(char *))) {
        return NULL;
    }
    return imd__strdup(error, path);
}

static void remember(FileTransport *archive, char *reserved)
{
    archive->created[archive->created_count++] = reserved;
}

static void set_errno_error(ImdError **error, ImdErrorCode code, const char *name,
                            const char *action, int number)
{
    char text[256];
    if (strerror_r(number, text, sizeof text) != 0) {
        (void)snprintf(text, sizeof text, "error %d", number);
    }
    imd_error_set(error, code, "%s: %s: %s", name, action, text);
}

/* "root/name", without doubling a '/' that ends root. */
static char *join_path(ImdError **error, const char *root, const char *name)
{
    size_t root_length = strlen(root);
    bool slash = root_length > 0 && root[root_length - 1] == '/';
    return imd__sprintf(error, "%s%s%s", root, slash || root_length == 0 ? "" : "/", name);
}

/* Is `name` one of the temporaries of stream.c, "<anything>.tmp-XXXXXX"? */
static bool is_write_temporary(const char *name)
{
    static const char suffix[] = ".tmp-";
    size_t length = strlen(name);
    size_t tail = sizeof suffix - 1 + 6;
    if (length <= tail || memcmp(name + length - tail, suffix, sizeof suffix - 1) != 0) {
        return false;
    }
    for (const char *p = name + length - 6; *p != '\0'; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9');
        if (!alnum) {
            return false;
        }
    }
    return true;
}

/* A member name to read: relative and without ".." components. */
static bool name_stays_inside(const char *name)
{
    if (name[0] == '\0' || name[0] == '/') {
        return false;
    }
    for (const char *part = name; *part != '\0';) {
        size_t length = strcspn(part, "/");
        if (length == 2 && part[0] == '.' && part[1] == '.') {
            return false;
        }
        part += length;
        if (*part == '/') {
            part++;
        }
    }
    return true;
}

/* mkdir -p: create `path` and missing parents; existing folders are fine. */
static bool make_folders(ImdError **error, const char *path, FileTransport *archive)
{
    char *copy = imd__strdup(error, path);
    if (copy == NULL) {
        return false;
    }
    size_t length = strlen(copy);
    while (length > 1 && copy[length - 1] == '/') {
        copy[--length] = '\0';
    }
    /* Create each prefix that ends before a '/', then the whole path. */
    for (char *p = copy + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end) {
            continue;
        }
        char saved = *p;
        *p = '\0';
        char *reserved = reserve(error, archive, copy);
        if (reserved == NULL) {
            free(copy);
            return false;
        }
        if (mkdir(copy, 0777) == 0) {
            remember(archive, reserved);
        } else {
            free(reserved);
            int number = errno;
            struct stat info;
            if (number != EEXIST || stat(copy, &info) != 0 || !S_ISDIR(info.st_mode)) {
                set_errno_error(error, IMD_ERR_IO, copy, "cannot create folder",
                                number == EEXIST ? ENOTDIR : number);
                free(copy);
                return false;
            }
        }
        *p = saved;
        if (end) {
            break;
        }
    }
    free(copy);
    return true;
}

/* ---- listing ------------------------------------------------------------ */

typedef struct NameList {
    char **items;
    size_t count, capacity;
} NameList;

static void names_free(NameList *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i]);
    }
    free(list->items);
    list->items = NULL;
    list->count = list->capacity = 0;
}

/* Takes `name`, which may be NULL after a failed allocation (error already set). */
static bool names_push(ImdError **error, NameList *list, char *name)
{
    if (name == NULL ||
        !imd__grow(error, (void **)&list->items, &list->capacity, list->count + 1,
                   sizeof *list->items)) {
        free(name);
        return false;
    }
    list->items[list->count++] = name;
    return true;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read one folder (relative name `folder`, "" for the root) into files and folders. */
static bool scan_folder(ImdError **error, const FileTransport *archive, const char *folder,
                        NameList *files, NameList *folders)
{
    char *full = folder[0] == '\0' ? imd__strdup(error, archive->root)
                                   : join_path(error, archive->root, folder);
    if (full == NULL) {
        return false;
    }
    DIR *dir = opendir(full);
    if (dir == NULL) {
        set_errno_error(error, errno == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO, full,
                        "cannot list", errno);
        free(full);
        return false;
    }
    bool ok = true;
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(dir);
        if (entry == NULL) {
            if (errno != 0) {
                set_errno_error(error, IMD_ERR_IO, full, "cannot list", errno);
                ok = false;
            }
            break;
        }
        const char *base = entry->d_name;
        if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || is_write_temporary(base)) {
            continue;
        }
        char *relative = folder[0] == '\0' ? imd__strdup(error, base)
                                           : imd__sprintf(error, "%s/%s", folder, base);
        char *path = relative != NULL ? join_path(error, archive->root, relative) : NULL;
        if (path == NULL) {
            free(relative);
            ok = false;
            break;
        }
        struct stat info;
        /* The directory entry's type spares a stat per file (50,000 in a big
         * folder); file systems that do not fill it in (DT_UNKNOWN) get one. */
        if (entry->d_type == DT_REG || entry->d_type == DT_DIR) {
            info.st_mode = entry->d_type == DT_REG ? S_IFREG : S_IFDIR;
        } else if (lstat(path, &info) != 0) {
            /* Removed while we looked: it is simply not there any more. */
            free(path);
            free(relative);
            continue;
        }
        if (S_ISLNK(info.st_mode)) {
            /* Follow links to files; links to folders could loop, and dangle silently. */
            if (stat(path, &info) != 0 || !S_ISREG(info.st_mode)) {
                free(path);
                free(relative);
                continue;
            }
        }
        free(path);
        if (S_ISDIR(info.st_mode)) {
            ok = names_push(error, folders, relative);
        } else if (S_ISREG(info.st_mode)) {
            ok = names_push(error, files, relative);
        } else {
            free(relative); /* devices, sockets, pipes are not members */
        }
        if (!ok) {
            break;
        }
    }
    (void)closedir(dir);
    free(full);
    return ok;
}

static bool file_list(ImdError **error, ImdTransport *base, ImdVisitFn *visit, void *user)
{
    FileTransport *archive = (FileTransport *)base;
    if (archive->base.object != NULL && archive->mode == IMD_MODE_READ) {
        (void)visit(user, archive->base.object);
        return true;
    }
    NameList files = {0}, folders = {0};
    char *root = imd__strdup(error, "");
    bool ok = names_push(error, &folders, root);
    /* Folders still to scan are taken from the end: order does not matter, we sort. */
    while (ok && folders.count > 0) {
        char *folder = folders.items[--folders.count];
        ok = scan_folder(error, archive, folder, &files, &folders);
        free(folder);
    }
    names_free(&folders);
    if (!ok) {
        names_free(&files);
        return false;
    }
    if (files.count > 1) {
        qsort(files.items, files.count, sizeof *files.items, compare_names);
    }
    for (size_t i = 0; i < files.count; i++) {
        if (visit(user, files.items[i]) != 0) {
            break;
        }
    }
    names_free(&files);
    return true;
}

/* ---- members -------------------------------------------------------------- */

static ImdStream *file_open(ImdError **error, FileTransport *archive, const char *name,
                            ImdMode mode)
{
    /* The host checks write names; check again here for callers of the plugin itself. */
    bool safe = mode == IMD_MODE_WRITE ? imd_member_name_is_safe(name) : name_stays_inside(name);
    if (!safe) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: unsafe member name \"%s\"",
                      archive->base.name, name);
        return NULL;
    }
    if (mode == IMD_MODE_WRITE && archive->mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: opened for reading, cannot write \"%s\"",
                      archive->base.name, name);
        return NULL;
    }
    char *path = join_path(error, archive->root, name);
    if (path == NULL) {
        return NULL;
    }
    if (mode == IMD_MODE_WRITE) {
        /* The root itself is made at the first object, so that a write that
         * fails before it leaves no empty folder. */
        const char *slash = strrchr(path, '/');
        if (slash != NULL && slash != path) {
            char *folder = imd__strndup(error, path, (size_t)(slash - path));
            bool made = folder != NULL && make_folders(error, folder, archive);
            free(folder);
            if (!made) {
                free(path);
                return NULL;
            }
        }
    }
    struct stat info;
    bool is_new = mode == IMD_MODE_WRITE && lstat(path, &info) != 0 && errno == ENOENT;
    char *reserved = is_new ? reserve(error, archive, path) : NULL;
    ImdStream *stream = !is_new || reserved != NULL ? imd_stream_open_file(error, path, mode)
                                                    : NULL;
    if (stream != NULL && is_new) {
        remember(archive, reserved);
    } else {
        free(reserved);
    }
    free(path);
    return stream;
}

static ImdStream *file_open_read(ImdError **error, ImdTransport *base, const char *name)
{
    return file_open(error, (FileTransport *)base, name, IMD_MODE_READ);
}

static ImdStream *file_create(ImdError **error, ImdTransport *base, const char *name)
{
    return file_open(error, (FileTransport *)base, name, IMD_MODE_WRITE);
}

static void file_free(FileTransport *archive)
{
    for (size_t i = 0; i < archive->created_count; i++) {
        free(archive->created[i]);
    }
    free(archive->created);
    free(archive->root);
    free(archive->base.object);
    free(archive->base.name);
    free(archive);
}

static bool file_close(ImdError **error, ImdTransport *base)
{
    /* Objects were committed when their streams closed; nothing is pending. */
    IMD__UNUSED(error);
    file_free((FileTransport *)base);
    return true;
}

static void file_abort(ImdTransport *base)
{
    FileTransport *archive = (FileTransport *)base;
    for (size_t i = archive->created_count; i-- > 0;) {
        struct stat info;
        if (lstat(archive->created[i], &info) == 0) {
            (void)(S_ISDIR(info.st_mode) ? rmdir(archive->created[i]) : unlink(archive->created[i]));
        }
    }
    file_free(archive);
}

static char *file_local_path(const ImdTransport *base, const char *name)
{
    if (!name_stays_inside(name)) {
        return NULL;
    }
    return join_path(NULL, ((const FileTransport *)base)->root, name);
}

static const ImdTransportMethods file_methods = {
    file_list, file_open_read, file_create, NULL, file_local_path, file_close, file_abort,
};

/* ---- the plugin ------------------------------------------------------------ */

/* A path that names one object: its folder becomes the root, its last part
 * the object. "" (not ".") for a bare name, so that members keep the user's
 * spelling ("x.dcm", not "./x.dcm"). Trailing '/' are not part of the name. */
static bool split_object(ImdError **error, FileTransport *transport, const char *path)
{
    size_t length = strlen(path);
    while (length > 1 && path[length - 1] == '/') {
        length--;
    }
    const char *slash = NULL;
    for (size_t i = 0; i < length; i++) {
        slash = path[i] == '/' ? path + i : slash;
    }
    if (slash == NULL) {
        transport->root = imd__strdup(error, "");
        transport->base.object = imd__strndup(error, path, length);
    } else {
        transport->root = slash == path ? imd__strdup(error, "/")
                                        : imd__strndup(error, path, (size_t)(slash - path));
        transport->base.object = imd__strndup(error, slash + 1, length - (size_t)(slash + 1 - path));
    }
    return transport->root != NULL && transport->base.object != NULL;
}

static bool open_for_write(ImdError **error, FileTransport *transport, const char *path)
{
    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode)) {
        transport->root = imd__strdup(error, path);
        return transport->root != NULL;
    }
    /* A new path or an existing file: written as an object of its folder. */
    return split_object(error, transport, path) &&
           (transport->root[0] == '\0' || make_folders(error, transport->root, transport));
}

static bool open_for_read(ImdError **error, FileTransport *transport, const char *path)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        set_errno_error(error, errno == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO, path,
                        "cannot open", errno);
        return false;
    }
    if (S_ISDIR(info.st_mode)) {
        transport->root = imd__strdup(error, path);
        return transport->root != NULL;
    }
    if (!S_ISREG(info.st_mode)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: neither a file nor a folder", path);
        return false;
    }
    return split_object(error, transport, path);
}

static ImdTransport *file_transport_open(ImdError **error, const ImdUrl *url, ImdMode mode,
                                         const ImdOptions *options)
{
    IMD__UNUSED(options);
    const char *path = url != NULL ? url->path : NULL;
    if (path == NULL || path[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "file transport: empty path");
        return NULL;
    }
    if (mode != IMD_MODE_READ && mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: bad mode %d", path, (int)mode);
        return NULL;
    }
    FileTransport *transport = imd__calloc(error, 1, sizeof *transport);
    if (transport == NULL) {
        return NULL;
    }
    transport->base.methods = &file_methods;
    transport->mode = mode;
    transport->base.name = imd__strdup(error, path);
    bool ok = transport->base.name != NULL &&
              (mode == IMD_MODE_WRITE ? open_for_write(error, transport, path)
                                      : open_for_read(error, transport, path));
    if (!ok) {
        file_abort(&transport->base);
        return NULL;
    }
    return &transport->base;
}

static const char *const file_schemes[] = {"file", NULL};

const ImdTransportPlugin imd__file_transport = {
    IMD_PLUGIN_ABI_VERSION, (uint32_t)sizeof(ImdTransportPlugin), "file",
    "local files and folders", file_schemes, file_transport_open,
};
