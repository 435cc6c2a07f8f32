/*
 * format.c: the PostScript/PDF format plugin "ps" (input only;
 * behaviour.md §6 "PostScript", dependencies.md §4).
 *
 * Pages are rendered by running Ghostscript's `gs` program (never linking
 * libgs: AGPL), spawned without a shell (posix_spawnp) as
 *   gs -q -dSAFER -dBATCH -dNOPAUSE -r<dpi> -sDEVICE=pgmraw|ppmraw
 *      -sOutputFile=<private folder>/page-%06d.pnm -f <file>
 * with stdin from /dev/null and stdout/stderr into a log in the same
 * private folder (made by mkdtemp, mode 0700, removed afterwards in every
 * case). -dSAFER keeps the PostScript program from reading or writing other
 * files (it is the default since gs 9.50; we pass it anyway). The program
 * runs under a time limit (ghostscript_timeout, seconds) and an output
 * limit (the page files may not grow beyond OUTPUT_LIMIT bytes): beyond
 * either it is killed with its process group. A member that is not a local
 * file (a zip member, a memory transport) is first copied into the private
 * folder. The PNM pages (Netpbm P5/P6, maxval 255) are parsed here with
 * every size checked against the file before allocating.
 *
 * Options: psopt "dpi=150,driver=png16m,rotate=0" as the original (driver
 * png16m = RGB, pnggray = grey; rotate 0 or 90, counter-clockwise as
 * numpy's rot90; an unknown key is an error); ghostscript (the program,
 * "gs" from PATH by default); ghostscript_timeout (seconds, default 120).
 * A missing gs is IMD_ERR_UNSUPPORTED naming the program.
 *
 * Result: the pages of all members of one read, in member order, stacked
 * while their size and type agree (one page: 2D; several: 3D, slice =
 * page), uint8 grey or rgb8. Geometry as the original: spacing 1, first
 * position 0, orientation rows along +y, columns along -z (its zyx
 * orientation (0,1,0,-1,0,0)).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* mkdtemp, DT_* */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Most bytes of PostScript/PDF copied into the private folder. */
#define INPUT_LIMIT ((uint64_t)1 << 32)
/* Most bytes of rendered pages gs may write before it is stopped. */
#define OUTPUT_LIMIT ((uint64_t)4 << 30)
/* Most pages of one read. */
#define PAGE_LIMIT 100000
/* Largest page side in pixels (A0 at 1200 dpi is 39732 x 56173). */
#define SIDE_LIMIT 65536u
/* Bytes of gs's messages quoted in an error. */
#define LOG_QUOTE 480

typedef struct Page {
    size_t width, height;
    ImdDType dtype; /* UINT8 or RGB8 */
    uint8_t *data;
} Page;

typedef struct Reader {
    const ImdOptions *options;
    const ImdContext *context;
    long dpi;
    bool rgb;
    int rotate;
    const char *program;
    double timeout;
    Page *pages;
    size_t count, capacity;
    uint64_t bytes; /* of all pages, for the memory budget */
} Reader;

/* ---- probe ---- */

static bool looks_like_ps(const uint8_t *head, size_t length)
{
    if (head == NULL) {
        return false;
    }
    /* DSC header "%!PS" (PLRM 3 Appendix C), any "%!" program, PDF's "%PDF-" (ISO 32000 7.5.2),
     * and the DOS EPS binary header C5 D0 D3 C6. */
    if (length >= 2 && head[0] == '%' && head[1] == '!') {
        return true;
    }
    if (length >= 5 && memcmp(head, "%PDF-", 5) == 0) {
        return true;
    }
    return length >= 4 && head[0] == 0xC5 && head[1] == 0xD0 && head[2] == 0xD3 && head[3] == 0xC6;
}

static int ps_probe(const uint8_t *head, size_t length, const char *name)
{
    IMD__UNUSED(name);
    if (!looks_like_ps(head, length)) {
        return 0;
    }
    return length >= 4 && (memcmp(head, "%!PS", 4) == 0 || memcmp(head, "%PDF", 4) == 0) ? 90
                                                                                          : 60;
}

/* ---- options ---- */

static bool parse_psopt(ImdError **error, Reader *reader, const char *text)
{
    reader->dpi = 150;
    reader->rgb = true;
    reader->rotate = 0;
    const char *p = text != NULL ? text : "";
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t length = end != NULL ? (size_t)(end - p) : strlen(p);
        char item[128];
        if (length >= sizeof item) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "psopt: \"%.40s...\" is too long", p);
            return false;
        }
        memcpy(item, p, length);
        item[length] = '\0';
        p += length + (end != NULL);
        char *eq = strchr(item, '=');
        if (length == 0 && end == NULL) {
            break;
        }
        if (eq == NULL) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "psopt: \"%s\" is not KEY=VALUE", item);
            return false;
        }
        *eq = '\0';
        const char *key = item, *value = eq + 1;
        char *stop = NULL;
        if (strcmp(key, "dpi") == 0) {
            errno = 0;
            long dpi = strtol(value, &stop, 10);
            if (stop == value || *stop != '\0' || errno != 0 || dpi < 1 || dpi > 4800) {
                imd_error_set(error, IMD_ERR_INVALID_ARG, "psopt: dpi=%s: expected 1 to 4800",
                              value);
                return false;
            }
            reader->dpi = dpi;
        } else if (strcmp(key, "driver") == 0) {
            if (strcmp(value, "png16m") == 0 || strcmp(value, "ppmraw") == 0) {
                reader->rgb = true;
            } else if (strcmp(value, "pnggray") == 0 || strcmp(value, "pgmraw") == 0) {
                reader->rgb = false;
            } else {
                imd_error_set(error, IMD_ERR_INVALID_ARG,
                              "psopt: driver=%s: expected png16m (colour) or pnggray (grey)",
                              value);
                return false;
            }
        } else if (strcmp(key, "rotate") == 0) {
            if (strcmp(value, "0") != 0 && strcmp(value, "90") != 0) {
                imd_error_set(error, IMD_ERR_INVALID_ARG, "psopt: rotate=%s: expected 0 or 90",
                              value);
                return false;
            }
            reader->rotate = atoi(value);
        } else {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "psopt: unknown key \"%s\" (dpi, driver, rotate)", key);
            return false;
        }
    }
    return true;
}

static void *ps_reader_create(ImdError **error, const ImdOptions *options,
                              const ImdContext *context)
{
    Reader *reader = imd__calloc(error, 1, sizeof *reader);
    if (reader == NULL) {
        return NULL;
    }
    reader->options = options;
    reader->context = context;
    reader->program = imd_options_get(options, "ghostscript", "gs");
    bool ok = parse_psopt(error, reader, imd_options_get(options, "psopt", NULL)) &&
              imd_options_get_double(error, options, "ghostscript_timeout", 120,
                                     &reader->timeout);
    if (ok && (!(reader->timeout > 0) || reader->timeout > 86400)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "ghostscript_timeout=%g: expected 0 < seconds <= 86400", reader->timeout);
        ok = false;
    }
    if (ok && reader->program[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "ghostscript: an empty program name");
        ok = false;
    }
    if (!ok) {
        free(reader);
        return NULL;
    }
    return reader;
}

static void ps_reader_destroy(void *state)
{
    Reader *reader = state;
    if (reader == NULL) {
        return;
    }
    for (size_t i = 0; i < reader->count; i++) {
        free(reader->pages[i].data);
    }
    free(reader->pages);
    free(reader);
}

/* ---- the private folder ---- */

static char *make_private_folder(ImdError **error)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] != '/' || strchr(base, '%') != NULL) {
        base = "/tmp"; /* '%' would be a page-number pattern in -sOutputFile */
    }
    char *folder = imd__sprintf(error, "%s/imagedata-ps-XXXXXX", base);
    if (folder != NULL && mkdtemp(folder) == NULL) {
        imd_error_set(error, IMD_ERR_IO, "%s: cannot make a temporary folder: %s", folder,
                      strerror(errno));
        free(folder);
        return NULL;
    }
    return folder;
}

/* Remove the folder and everything gs or we put in it (flat: nothing makes subfolders). */
static void remove_private_folder(char *folder)
{
    if (folder == NULL) {
        return;
    }
    DIR *dir = opendir(folder);
    if (dir != NULL) {
        struct dirent *entry;
        while ((entry = readdir(dir)) != NULL) {
            if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
                continue;
            }
            /* unlinkat: no allocation here, so cleaning up works when memory ran out. */
            (void)unlinkat(dirfd(dir), entry->d_name, 0);
        }
        closedir(dir);
    }
    (void)rmdir(folder);
    free(folder);
}

/* Bytes of all files in the folder (gs's output so far). */
static uint64_t folder_bytes(const char *folder)
{
    uint64_t total = 0;
    DIR *dir = opendir(folder);
    if (dir == NULL) {
        return 0;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        struct stat st;
        if (entry->d_name[0] != '.' && fstatat(dirfd(dir), entry->d_name, &st, 0) == 0) {
            total += (uint64_t)st.st_size;
        }
    }
    closedir(dir);
    return total;
}

/* Copy the member into `path` (its head already read into `head`). */
static bool copy_member(ImdError **error, ImdStream *stream, const uint8_t *head, size_t length,
                        const char *path, const char *name)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        imd_error_set(error, IMD_ERR_IO, "%s: cannot write a temporary copy: %s", name,
                      strerror(errno));
        return false;
    }
    uint8_t buffer[65536];
    bool ok = true;
    uint64_t total = 0;
    const uint8_t *data = head;
    int64_t got = (int64_t)length;
    while (ok && got > 0) {
        total += (uint64_t)got;
        if (total > INPUT_LIMIT) {
            imd_error_set(error, IMD_ERR_LIMIT, "%s: more than %llu bytes of PostScript/PDF",
                          name, (unsigned long long)INPUT_LIMIT);
            ok = false;
            break;
        }
        for (size_t done = 0; ok && done < (size_t)got;) {
            ssize_t n = write(fd, data + done, (size_t)got - done);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                imd_error_set(error, IMD_ERR_IO, "%s: cannot write a temporary copy: %s", name,
                              strerror(errno));
                ok = false;
            } else {
                done += (size_t)n;
            }
        }
        got = ok ? imd_stream_read(error, stream, buffer, sizeof buffer) : 0;
        data = buffer;
        ok = ok && got >= 0;
    }
    if (close(fd) != 0 && ok) {
        imd_error_set(error, IMD_ERR_IO, "%s: cannot write a temporary copy: %s", name,
                      strerror(errno));
        ok = false;
    }
    return ok;
}

/* ---- running gs ---- */

/*
 * gs's messages on one line for an error: from its first "Error:" (the
 * PostScript error name, e.g. "Error: /invalidfileaccess in --file--") when
 * there is one in the first LOG_SCAN bytes, else the end of the log.
 */
#define LOG_SCAN 65536
static void log_excerpt(const char *path, char *out, size_t capacity)
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    char *text = malloc(LOG_SCAN + 1);
    ssize_t n = 0;
    struct stat st;
    if (text != NULL && fstat(fd, &st) == 0) {
        n = pread(fd, text, LOG_SCAN, 0);
        n = n < 0 ? 0 : n;
        text[n] = '\0';
        const char *error = strstr(text, "Error:"); /* stops at a NUL byte: fine */
        if (error == NULL && st.st_size > LOG_QUOTE) { /* no error name: the end */
            ssize_t m = pread(fd, text, LOG_QUOTE, st.st_size - LOG_QUOTE);
            n = m < 0 ? 0 : m;
        } else if (error != NULL) {
            n -= error - text;
            memmove(text, error, (size_t)n);
        }
    }
    close(fd);
    size_t k = 0;
    bool space = true;
    for (ssize_t i = 0; text != NULL && i < n && k + 1 < capacity; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c >= 0x7f) {
            c = ' ';
        }
        if (c == ' ' && space) {
            continue;
        }
        space = c == ' ';
        out[k++] = (char)c;
    }
    while (k > 0 && out[k - 1] == ' ') {
        k--;
    }
    out[k] = '\0';
    free(text);
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) * 1e-9;
}

static void stop(pid_t pid)
{
    (void)kill(-pid, SIGKILL); /* its process group: anything it started too */
    (void)kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

/*
 * Run gs on `input`, pages into `folder`. False with UNSUPPORTED when the
 * program cannot be started, LIMIT on the time or output limit, CANCELLED,
 * CORRUPT when gs fails (its messages quoted).
 */
static bool run_gs(ImdError **error, const Reader *reader, const char *folder, const char *input,
                   const char *name)
{
    char *log = imd__sprintf(error, "%s/gs.log", folder);
    char *resolution = imd__sprintf(error, "-r%ld", reader->dpi);
    char *output = imd__sprintf(error, "-sOutputFile=%s/page-%%06d.pnm", folder);
    /* An input named like an option would be taken for one. */
    char *file = input[0] == '-' ? imd__sprintf(error, "./%s", input) : imd__strdup(error, input);
    bool ok = log != NULL && resolution != NULL && output != NULL && file != NULL;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    bool have_actions = false, have_attributes = false;
    if (ok) {
        have_actions = posix_spawn_file_actions_init(&actions) == 0;
        have_attributes = posix_spawnattr_init(&attributes) == 0;
        sigset_t none;
        sigemptyset(&none);
        ok = have_actions && have_attributes &&
             posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) == 0 &&
             posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC,
                                              0600) == 0 &&
             posix_spawn_file_actions_adddup2(&actions, 1, 2) == 0 &&
             posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP |
                                                       POSIX_SPAWN_SETSIGMASK) == 0 &&
             posix_spawnattr_setpgroup(&attributes, 0) == 0 &&
             posix_spawnattr_setsigmask(&attributes, &none) == 0;
        if (!ok) {
            imd_error_set(error, IMD_ERR_NOMEM, "%s: cannot prepare to run Ghostscript", name);
        }
    }
    pid_t pid = -1;
    if (ok) {
        char *argv[] = {(char *)(uintptr_t)reader->program,
                        "-q",
                        "-dSAFER",
                        "-dBATCH",
                        "-dNOPAUSE",
                        resolution,
                        reader->rgb ? "-sDEVICE=ppmraw" : "-sDEVICE=pgmraw",
                        output,
                        "-f",
                        file,
                        NULL};
        int status = posix_spawnp(&pid, reader->program, &actions, &attributes, argv, environ);
        if (status != 0) {
            imd_error_set(error, status == ENOENT || status == EACCES ? IMD_ERR_UNSUPPORTED
                                                                      : IMD_ERR_IO,
                          "%s: cannot run Ghostscript \"%s\" (%s): install ghostscript or give "
                          "the program with --input_options ghostscript=PATH",
                          name, reader->program, strerror(status));
            ok = false;
        }
    }
    if (have_actions) {
        posix_spawn_file_actions_destroy(&actions);
    }
    if (have_attributes) {
        posix_spawnattr_destroy(&attributes);
    }
    /* The pages must fit in memory later: the memory limit bounds the disk used too. */
    uint64_t output_limit = OUTPUT_LIMIT, memory = imd_context_memory_limit(reader->context);
    output_limit = memory != 0 && memory < output_limit ? memory : output_limit;
    int status = 0;
    if (ok) {
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        long pause_ns = 2000000; /* 2 ms, growing to 50 ms: short runs end fast */
        for (unsigned round = 0;; round++) {
            pid_t done = waitpid(pid, &status, WNOHANG);
            if (done == pid) {
                break;
            }
            if (done < 0 && errno != EINTR) {
                imd_error_set(error, IMD_ERR_INTERNAL, "%s: waiting for Ghostscript: %s", name,
                              strerror(errno));
                stop(pid);
                ok = false;
                break;
            }
            if (seconds_since(&start) > reader->timeout) {
                stop(pid);
                imd_error_set(error, IMD_ERR_LIMIT,
                              "%s: Ghostscript ran longer than %g s (ghostscript_timeout) and "
                              "was stopped", name, reader->timeout);
                ok = false;
                break;
            }
            if (round % 8 == 7 && folder_bytes(folder) > output_limit) {
                stop(pid);
                imd_error_set(error, IMD_ERR_LIMIT,
                              "%s: Ghostscript wrote more than %llu bytes of pages (the output "
                              "or memory limit) and was stopped",
                              name, (unsigned long long)output_limit);
                ok = false;
                break;
            }
            if (!imd__check_cancel(error, reader->context, name)) {
                stop(pid);
                ok = false;
                break;
            }
            struct timespec pause = {0, pause_ns};
            nanosleep(&pause, NULL);
            pause_ns = pause_ns < 50000000 ? pause_ns * 2 : pause_ns;
        }
    }
    if (ok && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        char tail[LOG_QUOTE + 1];
        log_excerpt(log, tail, sizeof tail);
        if (WIFEXITED(status)) {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: Ghostscript failed (exit status %d)%s%s",
                          name, WEXITSTATUS(status), tail[0] != '\0' ? ": " : "", tail);
        } else {
            imd_error_set(error, IMD_ERR_CORRUPT, "%s: Ghostscript was killed by signal %d%s%s",
                          name, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                          tail[0] != '\0' ? ": " : "", tail);
        }
        ok = false;
    }
    free(log);
    free(resolution);
    free(output);
    free(file);
    return ok;
}

/* ---- PNM pages (Netpbm: P5 grey, P6 RGB, binary) ---- */

static bool pnm_number(const uint8_t *b, size_t n, size_t *at, unsigned long *value)
{
    for (;;) { /* whitespace and comments ("#" to the end of the line) */
        while (*at < n && (b[*at] == ' ' || b[*at] == '\t' || b[*at] == '\n' || b[*at] == '\r' ||
                           b[*at] == '\v' || b[*at] == '\f')) {
            (*at)++;
        }
        if (*at < n && b[*at] == '#') {
            while (*at < n && b[*at] != '\n') {
                (*at)++;
            }
            continue;
        }
        break;
    }
    unsigned long v = 0;
    size_t digits = 0;
    while (*at < n && b[*at] >= '0' && b[*at] <= '9' && digits < 9) {
        v = v * 10 + (unsigned long)(b[*at] - '0');
        (*at)++;
        digits++;
    }
    *value = v;
    return digits > 0 && digits < 9;
}

static bool parse_pnm(ImdError **error, const uint8_t *b, size_t n, const char *what, Page *page)
{
    memset(page, 0, sizeof *page);
    size_t at = 2;
    unsigned long width = 0, height = 0, maxval = 0;
    bool rgb = n >= 2 && b[0] == 'P' && b[1] == '6';
    if (n < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6') || !pnm_number(b, n, &at, &width) ||
        !pnm_number(b, n, &at, &height) || !pnm_number(b, n, &at, &maxval) || at >= n) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: not a binary PGM/PPM page", what);
        return false;
    }
    at++; /* the one whitespace character before the samples */
    if (width == 0 || height == 0 || width > SIDE_LIMIT || height > SIDE_LIMIT ||
        maxval != 255) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "%s: page of %lu x %lu, maxval %lu", what,
                      width, height, maxval);
        return false;
    }
    size_t pixel = rgb ? 3 : 1, bytes = (size_t)width * height * pixel;
    if (n - at < bytes) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: %zu bytes of samples, %zu expected", what,
                      n - at, bytes);
        return false;
    }
    if (!imd__check_alloc(error, NULL, bytes, what)) {
        return false;
    }
    page->data = imd__malloc(error, bytes);
    if (page->data == NULL) {
        return false;
    }
    memcpy(page->data, b + at, bytes);
    page->width = width;
    page->height = height;
    page->dtype = rgb ? IMD_DTYPE_RGB8 : IMD_DTYPE_UINT8;
    return true;
}

/* numpy.rot90(page): counter-clockwise, out[i][j] = in[j][W - 1 - i], out is W x H. */
static bool rotate_90(ImdError **error, Page *page)
{
    size_t w = page->width, h = page->height, px = imd_dtype_size(page->dtype);
    uint8_t *out = imd__malloc(error, w * h * px);
    if (out == NULL) {
        return false;
    }
    for (size_t i = 0; i < w; i++) {
        for (size_t j = 0; j < h; j++) {
            memcpy(out + (i * h + j) * px, page->data + (j * w + (w - 1 - i)) * px, px);
        }
    }
    free(page->data);
    page->data = out;
    page->width = h;
    page->height = w;
    return true;
}

static bool read_file(ImdError **error, const char *path, uint8_t **bytes, size_t *size)
{
    ImdStream *stream = imd_stream_open_file(error, path, IMD_MODE_READ);
    if (stream == NULL) {
        return false;
    }
    *bytes = imd_stream_read_all(error, stream, (size_t)SIDE_LIMIT * SIDE_LIMIT * 3 + 4096, size);
    bool ok = *bytes != NULL || *size == 0;
    imd_stream_close(NULL, stream);
    return ok;
}

static bool add_page(ImdError **error, Reader *reader, Page page)
{
    if (reader->count >= PAGE_LIMIT) {
        free(page.data);
        imd_error_set(error, IMD_ERR_LIMIT, "more than %d pages", PAGE_LIMIT);
        return false;
    }
    if (!imd__grow(error, (void **)&reader->pages, &reader->capacity, reader->count + 1,
                   sizeof page)) {
        free(page.data);
        return false;
    }
    reader->pages[reader->count++] = page;
    reader->bytes += page.width * page.height * imd_dtype_size(page.dtype);
    return true;
}

/* Pages page-000001.pnm, page-000002.pnm, ... as gs numbers them, until one is missing. */
static bool collect_pages(ImdError **error, Reader *reader, const char *folder, const char *name)
{
    size_t before = reader->count;
    bool ok = true;
    for (unsigned long number = 1; ok; number++) {
        char *path = imd__sprintf(error, "%s/page-%06lu.pnm", folder, number);
        if (path == NULL) {
            return false;
        }
        if (access(path, F_OK) != 0) {
            free(path);
            break;
        }
        char *what = imd__sprintf(error, "%s: page %lu", name, number);
        uint8_t *bytes = NULL;
        size_t size = 0;
        Page page = {0, 0, IMD_DTYPE_UINT8, NULL};
        ok = what != NULL && read_file(error, path, &bytes, &size) &&
             parse_pnm(error, bytes, size, what, &page);
        free(bytes);
        if (ok && reader->rotate == 90) {
            ok = rotate_90(error, &page);
            if (!ok) {
                free(page.data);
            }
        }
        ok = ok && imd__check_alloc(error, reader->context,
                                    reader->bytes + page.width * page.height *
                                                        imd_dtype_size(page.dtype),
                                    name) &&
             add_page(error, reader, page);
        free(what);
        (void)unlink(path); /* the disk copy is no longer needed */
        free(path);
    }
    if (ok && reader->count == before) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s: Ghostscript rendered no page", name);
        ok = false;
    }
    if (ok) {
        imd_context_log(reader->context, IMD_LOG_INFO, "%s: %zu page(s) of %zu x %zu at %ld dpi",
                        name, reader->count - before, reader->pages[before].width,
                        reader->pages[before].height, reader->dpi);
    }
    return ok;
}

static bool ps_reader_add(ImdError **error, void *state, ImdArchive *archive, const char *name,
                          ImdStream *stream)
{
    Reader *reader = state;
    uint8_t head[1024];
    int64_t length = imd_stream_read(error, stream, head, sizeof head);
    if (length < 0) {
        return false;
    }
    if (!looks_like_ps(head, (size_t)length)) {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "%s: not PostScript or PDF", name);
        return false;
    }
    char *folder = make_private_folder(error);
    if (folder == NULL) {
        return false;
    }
    char *input = imd_archive_local_path(archive, name);
    bool ok = true;
    if (input == NULL) {
        input = imd__sprintf(error, "%s/input", folder);
        ok = input != NULL && copy_member(error, stream, head, (size_t)length, input, name);
    }
    ok = ok && run_gs(error, reader, folder, input, name) &&
         collect_pages(error, reader, folder, name);
    free(input);
    remove_private_folder(folder);
    return ok;
}

/* ---- series ---- */

static bool same_shape(const Page *a, const Page *b)
{
    return a->width == b->width && a->height == b->height && a->dtype == b->dtype;
}

static bool set_geometry(ImdError **error, ImdSeries *series, size_t slices)
{
    ImdHeader *header = imd_series_header(series);
    double spacing[3] = {1, 1, 1};
    /* The original's zyx orientation (0,1,0,-1,0,0): rows along +y, columns along -z. */
    ImdVec3 row = {0, 1, 0}, column = {0, 0, -1};
    ImdVec3 *positions = imd__calloc(error, slices, sizeof *positions);
    double *locations = imd__calloc(error, slices, sizeof *locations);
    bool ok = positions != NULL && locations != NULL &&
              imd_header_set_spacing(error, header, spacing) &&
              imd_header_set_orientation(error, header, row, column);
    ImdVec3 normal = ok ? imd_header_normal(header) : (ImdVec3){0, 0, 0};
    for (size_t s = 0; ok && s < slices; s++) {
        positions[s] = (ImdVec3){normal.x * (double)s, normal.y * (double)s,
                                 normal.z * (double)s};
        locations[s] = (double)s;
    }
    ok = ok && imd_header_set_image_positions(error, header, positions, slices) &&
         imd_header_set_slice_locations(error, header, locations, slices) &&
         imd_series_set_input_order(error, series, "none") &&
         imd_header_set_tag_shape(error, header, slices, 0, NULL, 1);
    ImdValue zero = imd_value_number(0);
    for (size_t s = 0; ok && s < slices; s++) {
        ok = imd_header_set_tag(error, header, s, NULL, &zero);
    }
    /* Rendered pages go to DICOM as Secondary Capture (src/formats/dicom/write.c). */
    ok = ok && imd_header_set_string(error, header, "ConversionType", "WSD");
    free(positions);
    free(locations);
    return ok;
}

static ImdSeries *stack(ImdError **error, const Page *pages, size_t count)
{
    size_t shape[3] = {count, pages[0].height, pages[0].width};
    ImdSeries *series = imd_series_create(error, pages[0].dtype, count == 1 ? 2 : 3,
                                          count == 1 ? shape + 1 : shape);
    if (series == NULL) {
        return NULL;
    }
    size_t plane = pages[0].width * pages[0].height * imd_dtype_size(pages[0].dtype);
    uint8_t *out = imd_series_data(series);
    for (size_t i = 0; i < count; i++) {
        memcpy(out + i * plane, pages[i].data, plane);
    }
    if (!set_geometry(error, series, count)) {
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

static ImdSeriesList *ps_reader_finish(ImdError **error, void *state)
{
    Reader *reader = state;
    if (reader->count == 0) {
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "no PostScript or PDF page read");
        return NULL;
    }
    ImdSeriesList *list = imd_series_list_create(error);
    bool ok = list != NULL;
    for (size_t first = 0; ok && first < reader->count;) {
        size_t end = first + 1;
        while (end < reader->count && same_shape(&reader->pages[first], &reader->pages[end])) {
            end++;
        }
        if (first > 0 || end < reader->count) {
            imd_context_log(reader->context, IMD_LOG_INFO,
                            "PostScript: pages %zu to %zu have one size: one series", first + 1,
                            end);
        }
        ImdSeries *series = stack(error, &reader->pages[first], end - first);
        ok = series != NULL && imd_series_list_add(error, list, series);
        if (!ok) {
            imd_series_destroy(series);
        }
        first = end;
    }
    if (!ok) {
        imd_series_list_destroy(list);
        return NULL;
    }
    return list;
}

static const char *const ps_suffixes[] = {".ps", ".eps", ".pdf", NULL};

/* docs/formats.md. */
static const ImdOptionSpec ps_options[] = {
    {"psopt", IMD_OPTION_STRING,
     "rendering as the original's: dpi=N (150), driver=png16m|pnggray, rotate=0|90", NULL},
    {"ghostscript", IMD_OPTION_STRING, "the Ghostscript program (gs, from PATH)", NULL},
    {"ghostscript_timeout", IMD_OPTION_DOUBLE, "seconds gs may run per file (120)", NULL},
    {NULL, 0, NULL, NULL},
};

const ImdFormatPlugin imd__postscript_format = {
    .abi_version = IMD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "ps",
    .description = "PostScript and PDF, input only (rendered by Ghostscript's gs program)",
    .suffixes = ps_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_NAMED_ONLY, /* a protocol.pdf beside DICOM files is no series */
    .probe = ps_probe,
    .reader_create = ps_reader_create,
    .reader_add = ps_reader_add,
    .reader_finish = ps_reader_finish,
    .reader_destroy = ps_reader_destroy,
    .write = NULL,
    .options = ps_options,
};
