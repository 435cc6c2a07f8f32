/*
 * replay_main.c: runs a fuzz target over saved inputs without libFuzzer, so
 * gcc-only CI replays the corpus and every saved crasher (label fuzz-regress).
 * Arguments: folders or files. In a folder named .../crashers only the files
 * starting "<target>-" are used, where <target> comes from the program name
 * (replay_<target>).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    uint8_t *data = NULL;
    size_t size = 0, capacity = 0;
    for (;;) {
        if (size == capacity) {
            capacity = capacity ? capacity * 2 : 4096;
            uint8_t *grown = realloc(data, capacity);
            if (grown == NULL) {
                free(data);
                fclose(file);
                return 1;
            }
            data = grown;
        }
        size_t got = fread(data + size, 1, capacity - size, file);
        size += got;
        if (got == 0) {
            break;
        }
    }
    fclose(file);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_folder(const char *folder, const char *prefix, int *count)
{
    DIR *dir = opendir(folder);
    if (dir == NULL) {
        return 0; /* no saved crashers yet */
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.' || (prefix && strncmp(entry->d_name, prefix, strlen(prefix)))) {
            continue;
        }
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (grown == NULL) {
            break;
        }
        names = grown;
        names[n++] = strdup(entry->d_name);
    }
    closedir(dir);
    if (n > 0) {
        qsort(names, n, sizeof *names, compare_names);
    }
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", folder, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            failures += run_file(path);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return failures;
}

int main(int argc, char **argv)
{
    const char *program = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s-", strncmp(program, "replay_", 7) ? program : program + 7);
    int failures = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
            failures += run_folder(argv[i], strcmp(base, "crashers") ? NULL : prefix, &count);
        } else if (stat(argv[i], &st) == 0) {
            failures += run_file(argv[i]);
            count++;
        }
    }
    printf("%d passed, %d failed\n", count - failures, failures);
    return failures ? 1 : 0;
}
