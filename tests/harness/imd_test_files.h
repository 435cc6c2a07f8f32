/*
 * imd_test_files.h: temporary folders for unit tests that write files.
 * Include after defining _POSIX_C_SOURCE 200809L (or _XOPEN_SOURCE 700).
 *
 * Folders go under $IMD_TEST_TMP (else /tmp) as "<label>-XXXXXX", so that a
 * failed run leaves names that say which test made them.
 */
#ifndef IMD_TEST_FILES_H
#define IMD_TEST_FILES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new empty folder (free() the name), or NULL. */
static inline char *make_folder(const char *label)
{
    const char *top = getenv("IMD_TEST_TMP");
    char pattern[4096];
    snprintf(pattern, sizeof pattern, "%s/%s-XXXXXX",
             top != NULL && top[0] != '\0' ? top : "/tmp", label);
    char *made = mkdtemp(pattern);
    return made != NULL ? strdup(made) : NULL;
}

/* "folder/name" (free() it), or NULL. */
static inline char *join(const char *folder, const char *name)
{
    size_t length = strlen(folder) + strlen(name) + 2;
    char *path = malloc(length);
    if (path != NULL) {
        snprintf(path, length, "%s/%s", folder, name);
    }
    return path;
}

/* Number of entries in a folder other than "." and "..", -1 when unreadable. */
static inline int count_entries(const char *folder)
{
    DIR *dir = opendir(folder);
    if (dir == NULL) {
        return -1;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        count += strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0;
    }
    closedir(dir);
    return count;
}

/* Remove a tree; symbolic links are removed, not followed. */
static inline void remove_tree_at(const char *path)
{
    struct stat info;
    if (lstat(path, &info) != 0) {
        return;
    }
    if (!S_ISDIR(info.st_mode)) {
        unlink(path);
        return;
    }
    DIR *dir = opendir(path);
    struct dirent *entry;
    while (dir != NULL && (entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            char *child = join(path, entry->d_name);
            if (child != NULL) {
                remove_tree_at(child);
            }
            free(child);
        }
    }
    if (dir != NULL) {
        closedir(dir);
    }
    rmdir(path);
}

/* Remove a folder made by make_folder() and free its name (NULL is fine). */
static inline void remove_folder(char *folder)
{
    if (folder != NULL) {
        remove_tree_at(folder);
    }
    free(folder);
}

#endif
