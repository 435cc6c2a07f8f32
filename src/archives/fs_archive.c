/*
 * fs_archive.c: the "filesystem" archive, a folder tree seen as members with
 * '/'-separated names relative to a root folder.
 *
 * Read: `path` must exist. A folder is the root and every regular file below
 * it is a member. A regular file makes its folder the root, and list() yields
 * only that file's basename (other files of the folder can still be opened by
 * name, e.g. the data file next to a MetaIO header).
 * Write: `path` is the root folder, created with its parents when missing.
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

typedef struct FsArchive {
    ImdArchive base;
    char *root;  /* the folder member names are relative to */
    char *only;  /* read mode on a regular file: its basename, the only listed member */
    ImdMode mode;
    /* Write mode: folders and files this archive created, removed again by
     * abort() (newest first) so that a failed write leaves nothing behind.
     * Files that existed before are replaced at their streams' close and
     * cannot be restored. */
    char **created;
    size_t created_count, created_capacity;
} FsArchive;

/* Remember a path this archive created; on failure the path is simply not
 * removed by abort (never an error of the write itself). */
static void remember(FsArchive *archive, const char *path)
{
    if (archive == NULL ||
        !imd__grow(NULL, (void **)&archive->created, &archive->created_capacity,
                   archive->created_count + 1, sizeof(char *))) {
        return;
    }
    char *copy = imd__strdup(NULL, path);
    if (copy != NULL) {
        archive->created[archive->created_count++] = copy;
    }
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
static bool make_folders(ImdError **error, const char *path, FsArchive *archive)
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
        if (mkdir(copy, 0777) == 0) {
            remember(archive, copy);
        } else {
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
static bool scan_folder(ImdError **error, const FsArchive *archive, const char *folder,
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

static bool fs_list(ImdError **error, ImdArchive *base, ImdVisitFn *visit, void *user)
{
    FsArchive *archive = (FsArchive *)base;
    if (archive->only != NULL) {
        (void)visit(user, archive->only);
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

static ImdStream *fs_open_member(ImdError **error, ImdArchive *base, const char *name,
                                 ImdMode mode)
{
    FsArchive *archive = (FsArchive *)base;
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
        const char *slash = strrchr(name, '/');
        if (slash != NULL) {
            char *folder = imd__strndup(error, path, strlen(path) - strlen(slash));
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
    ImdStream *stream = imd_stream_open_file(error, path, mode);
    if (stream != NULL && is_new) {
        remember(archive, path);
    }
    free(path);
    return stream;
}

static void fs_free(FsArchive *archive)
{
    for (size_t i = 0; i < archive->created_count; i++) {
        free(archive->created[i]);
    }
    free(archive->created);
    free(archive->root);
    free(archive->only);
    free(archive->base.name);
    free(archive);
}

static bool fs_close(ImdError **error, ImdArchive *base)
{
    /* Members were committed when their streams closed; nothing is pending. */
    IMD__UNUSED(error);
    fs_free((FsArchive *)base);
    return true;
}

static void fs_abort(ImdArchive *base)
{
    FsArchive *archive = (FsArchive *)base;
    for (size_t i = archive->created_count; i-- > 0;) {
        struct stat info;
        if (lstat(archive->created[i], &info) == 0) {
            (void)(S_ISDIR(info.st_mode) ? rmdir(archive->created[i]) : unlink(archive->created[i]));
        }
    }
    fs_free(archive);
}

static char *fs_local_path(const ImdArchive *archive, const char *name)
{
    return join_path(NULL, ((const FsArchive *)archive)->root, name);
}

static const ImdArchiveMethods fs_methods = {fs_list, fs_open_member, fs_close, fs_abort,
                                             fs_local_path};

/* ---- the plugin ------------------------------------------------------------ */

static ImdArchive *fs_open(ImdError **error, const char *path, ImdMode mode,
                           const ImdOptions *options)
{
    IMD__UNUSED(options);
    if (path == NULL || path[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "filesystem archive: empty path");
        return NULL;
    }
    if (mode != IMD_MODE_READ && mode != IMD_MODE_WRITE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%s: bad mode %d", path, (int)mode);
        return NULL;
    }
    FsArchive *archive = imd__calloc(error, 1, sizeof *archive);
    if (archive == NULL) {
        return NULL;
    }
    archive->base.methods = &fs_methods;
    archive->mode = mode;
    archive->base.name = imd__strdup(error, path);
    if (archive->base.name == NULL) {
        fs_free(archive);
        return NULL;
    }
    struct stat info;
    bool exists = stat(path, &info) == 0;
    int number = errno;
    if (mode == IMD_MODE_WRITE) {
        if (exists && !S_ISDIR(info.st_mode)) {
            set_errno_error(error, IMD_ERR_IO, path, "cannot write into", ENOTDIR);
            fs_free(archive);
            return NULL;
        }
        if (!exists && !make_folders(error, path, archive)) {
            fs_free(archive);
            return NULL;
        }
        archive->root = imd__strdup(error, path);
    } else if (!exists) {
        set_errno_error(error, number == ENOENT ? IMD_ERR_NOT_FOUND : IMD_ERR_IO, path,
                        "cannot open", number);
        fs_free(archive);
        return NULL;
    } else if (S_ISDIR(info.st_mode)) {
        archive->root = imd__strdup(error, path);
    } else if (S_ISREG(info.st_mode)) {
        const char *slash = strrchr(path, '/');
        if (slash == NULL) {
            /* "" (not "."): members then keep the user's spelling, "x.dcm" not "./x.dcm".
             * Only list() opens the root folder, and it does not when `only` is set. */
            archive->root = imd__strdup(error, "");
            archive->only = imd__strdup(error, path);
        } else {
            archive->root = slash == path ? imd__strdup(error, "/")
                                          : imd__strndup(error, path, (size_t)(slash - path));
            archive->only = imd__strdup(error, slash + 1);
        }
        if (archive->only == NULL) {
            fs_free(archive);
            return NULL;
        }
    } else {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: neither a file nor a folder", path);
        fs_free(archive);
        return NULL;
    }
    if (archive->root == NULL) {
        fs_free(archive);
        return NULL;
    }
    return &archive->base;
}

/* Any path can be a folder tree: the lowest claim, so real archives win. */
static int fs_probe(const uint8_t *head, size_t head_length, const char *path)
{
    IMD__UNUSED(head);
    IMD__UNUSED(head_length);
    IMD__UNUSED(path);
    return 1;
}

const ImdArchivePlugin imd__filesystem_archive = {
    IMD_PLUGIN_ABI_VERSION,
    (uint32_t)sizeof(ImdArchivePlugin),
    "filesystem",
    "a folder tree on the local file system",
    NULL,
    fs_probe,
    fs_open,
};
