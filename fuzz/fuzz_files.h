/*
 * fuzz_files.h: for targets that read several members through imd_read():
 * the input is split at "\n-----\n" into parts, written as files into a
 * private folder (made once per process under TMPDIR, removed at exit).
 */
#ifndef IMD_FUZZ_FILES_H
#define IMD_FUZZ_FILES_H

#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define FUZZ_SEPARATOR "\n-----\n"
#define FUZZ_MAX_PARTS 8

static char fuzz_folder_path[512];
static const char *fuzz_names[FUZZ_MAX_PARTS];
static size_t fuzz_name_count;

static void fuzz_remove_folder(void)
{
    char path[600];
    for (size_t i = 0; i < fuzz_name_count; i++) {
        snprintf(path, sizeof path, "%s/%s", fuzz_folder_path, fuzz_names[i]);
        (void)unlink(path);
    }
    (void)rmdir(fuzz_folder_path);
}

static const char *fuzz_folder(void)
{
    if (fuzz_folder_path[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_folder_path, sizeof fuzz_folder_path, "%s/imd-fuzz-XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(fuzz_folder_path) == NULL) {
            abort();
        }
        atexit(fuzz_remove_folder);
    }
    return fuzz_folder_path;
}

/* Split `data` at the separator into at most FUZZ_MAX_PARTS parts. */
static size_t fuzz_split(const uint8_t *data, size_t size, const uint8_t **parts, size_t *sizes,
                         size_t max)
{
    const size_t n = sizeof FUZZ_SEPARATOR - 1;
    size_t count = 0, start = 0;
    for (size_t i = 0; count + 1 < max && i + n <= size; i++) {
        if (memcmp(data + i, FUZZ_SEPARATOR, n) == 0) {
            parts[count] = data + start;
            sizes[count++] = i - start;
            start = i + n;
            i += n - 1;
        }
    }
    parts[count] = data + start;
    sizes[count++] = size - start;
    return count;
}

/* Write the files `names[i]` = parts[i] (a missing part: the file is removed). */
static void fuzz_write_files(const char *const *names, size_t name_count, const uint8_t **parts,
                             const size_t *sizes, size_t count)
{
    const char *folder = fuzz_folder();
    char path[600];
    for (size_t i = 0; i < name_count && i < FUZZ_MAX_PARTS; i++) {
        fuzz_names[i] = names[i];
        snprintf(path, sizeof path, "%s/%s", folder, names[i]);
        if (i >= count) {
            (void)unlink(path);
            continue;
        }
        FILE *file = fopen(path, "wb");
        if (file == NULL || (sizes[i] > 0 && fwrite(parts[i], 1, sizes[i], file) != sizes[i])) {
            abort();
        }
        fclose(file);
    }
    if (name_count > fuzz_name_count) {
        fuzz_name_count = name_count;
    }
}

/* Read `url` under a 64 MiB memory limit and check what every file target
 * checks: the result/error invariant, and each series' byte size against its
 * shape. */
static void fuzz_read_checked(const char *url, const ImdOptions *options)
{
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    if (context == NULL || url == NULL) {
        abort();
    }
    imd_context_set_memory_limit(context, (uint64_t)64 << 20);
    ImdSeriesList *list = imd_read(&error, context, &url, 1, options);
    if ((list == NULL) != (error != NULL)) {
        abort();
    }
    for (size_t i = 0; list != NULL && i < imd_series_list_count(list); i++) {
        const ImdSeries *series = imd_series_list_get(list, i);
        size_t voxels = 1;
        for (size_t d = 0; d < imd_series_ndim(series); d++) {
            voxels *= imd_series_dim(series, d);
        }
        if (voxels * imd_dtype_size(imd_series_dtype(series)) != imd_series_nbytes(series)) {
            abort();
        }
    }
    imd_series_list_destroy(list);
    imd_error_clear(&error);
    imd_context_destroy(context);
}

#endif
