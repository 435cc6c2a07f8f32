/* cli_common.c: exit codes, error lines and diagnostics shared by the programs. */
#define _GNU_SOURCE /* getopt_long, clock_gettime, isatty */
#include "cli_common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Set by the signal handler only (async-signal-safe: sig_atomic_t, C11 7.14.1.1). */
static volatile sig_atomic_t caught_signal;
/* Atomic: the handler reads it; cleared before the context is destroyed. */
static ImdContext *_Atomic signal_context;

int imd_cli_exit_code(ImdErrorCode code)
{
    switch (code) {
    case IMD_ERR_INVALID_ARG:
    case IMD_ERR_PLUGIN_ABI:
        return IMD_EXIT_USAGE;
    case IMD_ERR_NOT_RECOGNIZED:
    case IMD_ERR_NOT_FOUND:
        return IMD_EXIT_NO_DATA;
    case IMD_ERR_CANNOT_SORT:
        return IMD_EXIT_CANNOT_SORT;
    case IMD_ERR_CORRUPT:
    case IMD_ERR_LIMIT:
        return IMD_EXIT_CORRUPT;
    case IMD_ERR_UNSUPPORTED:
        return IMD_EXIT_UNSUPPORTED;
    case IMD_ERR_IO:
        return IMD_EXIT_IO;
    case IMD_ERR_NETWORK:
    case IMD_ERR_PROTOCOL:
        return IMD_EXIT_NETWORK;
    case IMD_ERR_NOMEM:
    case IMD_ERR_INTERNAL:
    case IMD_ERR_BAD_STATE:
        return IMD_EXIT_INTERNAL;
    case IMD_ERR_CANCELLED:
        /* The shell's convention for a program ended by a signal: 128 + its number. */
        return IMD_EXIT_SIGNAL + (caught_signal != 0 ? (int)caught_signal : SIGINT);
    }
    return IMD_EXIT_INTERNAL;
}

void imd_cli_print_exit_codes(FILE *stream)
{
    fputs("Exit codes:\n"
          "  0   success\n"
          "  1   usage or configuration error (bad option, plugin ABI mismatch)\n"
          "  2   no image data found (nothing recognised, path or member not found)\n"
          "  3   cannot sort the images into volumes\n"
          "  4   corrupt input (damaged file, size limit exceeded)\n"
          "  5   unsupported input (valid, but not handled)\n"
          "  6   I/O error reading or writing\n"
          "  7   network or association failure\n"
          "  8   partial success (some inputs skipped)\n"
          "  70  internal error\n"
          "  130, 143, 129  interrupted by SIGINT, SIGTERM, SIGHUP (nothing left behind)\n",
          stream);
}

int imd_cli_fail(const char *program, ImdError **error)
{
    int code = imd_cli_exit_code(imd_error_code(*error));
    fprintf(stderr, "%s: %s\n", program, imd_error_message(*error));
    imd_error_clear(error);
    return code;
}

void imd_cli_log(void *user, ImdLogLevel level, const char *message)
{
    ImdCliLog *log = user;
    if (level == IMD_LOG_WARNING || level == IMD_LOG_SKIPPED) {
        log->warnings++;
        log->skipped += level == IMD_LOG_SKIPPED;
        fprintf(stderr, "%s: warning: %s\n", log->program, message);
    } else if (level == IMD_LOG_RESULT || (level == IMD_LOG_INFO && log->verbosity >= 1) ||
               (level == IMD_LOG_DEBUG && log->verbosity >= 2)) {
        fprintf(stderr, "%s: %s\n", log->program, message);
    }
}

int imd_cli_common_option(ImdError **error, ImdCliCommon *common, int option,
                          const char *argument)
{
    switch (option) {
    case IMD_CLI_OPT_INPUT_OPTIONS:
        return imd_options_set_pair(error, common->options, argument) ? -1 : 1;
    case IMD_CLI_OPT_HEADERS_ONLY:
        return imd_options_set(error, common->options, "headers_only", "true") ? -1 : 1;
    case IMD_CLI_OPT_ORDER:
        return imd_options_set(error, common->options, "input_order", argument) ? -1 : 1;
    case IMD_CLI_OPT_INPUT_FORMAT:
        return imd_options_set(error, common->options, "input_format", argument) ? -1 : 1;
    case IMD_CLI_OPT_TEMPLATE:
        return imd_options_set(error, common->options, "template", argument) ? -1 : 1;
    case IMD_CLI_OPT_GEOMETRY:
        return imd_options_set(error, common->options, "geometry", argument) ? -1 : 1;
    case IMD_CLI_OPT_TLS:
        return imd_options_set(error, common->options, "tls", "true") ? -1 : 1;
    case IMD_CLI_OPT_TLS_CERT:
        return imd_options_set(error, common->options, "tls_cert", argument) ? -1 : 1;
    case IMD_CLI_OPT_TLS_KEY:
        return imd_options_set(error, common->options, "tls_key", argument) ? -1 : 1;
    case IMD_CLI_OPT_TLS_CA:
        return imd_options_set(error, common->options, "tls_ca", argument) ? -1 : 1;
    case IMD_CLI_OPT_TLS_VERIFY:
        return imd_options_set(error, common->options, "tls_verify", argument) ? -1 : 1;
    case IMD_CLI_OPT_MEMORY_LIMIT:
        if (!imd_cli_parse_size(error, argument, &common->memory_limit)) {
            return 1;
        }
        if (common->memory_limit == 0) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "--memory-limit: must be more than 0");
            return 1;
        }
        return -1;
    case IMD_CLI_OPT_THREADS:
        return imd_cli_parse_threads(error, argument, &common->threads) ? -1 : 1;
    case IMD_CLI_OPT_PLUGIN:
        if (common->plugin_count == sizeof common->plugins / sizeof common->plugins[0]) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "too many --plugin options");
            return 1;
        }
        common->plugins[common->plugin_count++] = argument;
        return -1;
    case 'v':
        common->verbosity = common->verbosity < 1 ? 1 : common->verbosity;
        return -1;
    case 'd':
        common->verbosity = 2;
        return -1;
    case 'V':
        printf("%s %s\n", common->program, imd_version());
        return 0;
    default:
        return IMD_CLI_NOT_COMMON;
    }
}

void imd_cli_progress_init(ImdCliProgress *progress, const char *program)
{
    progress->program = program;
    progress->enabled = isatty(STDERR_FILENO) == 1;
    progress->last = 0;
}

static double seconds_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + now.tv_nsec / 1e9;
}

void imd_cli_progress(void *user, const char *stage, size_t done, size_t total)
{
    ImdCliProgress *progress = user;
    if (!progress->enabled) {
        return;
    }
    double now = seconds_now();
    bool finished = done >= total;
    if (!finished && now - progress->last < 0.1) {
        return;
    }
    progress->last = now;
    /* \r returns to the line's start; ESC [ K clears what a longer line left. */
    fprintf(stderr, "\r%s: %s %zu/%zu\033[K%s", progress->program, stage, done, total,
            finished ? "\n" : "");
    fflush(stderr);
}

int imd_cli_parse(ImdError **error, int argc, char **argv, const struct option *options,
                  ImdCliOptionFn *parse, void *args, const char *program)
{
    int option, code = -1;
    while (code < 0 && (option = getopt_long(argc, argv, "vdVh", options, NULL)) != -1) {
        code = parse(error, args, option);
        if (code > 0 && *error != NULL) {
            code = imd_cli_fail(program, error);
        }
    }
    return code;
}

bool imd_cli_load_plugins(ImdError **error, ImdContext *context, const char *const *paths,
                          size_t count)
{
    if (!imd_context_load_plugin_list(error, context, getenv("IMAGEDATA_PLUGINS"))) {
        imd_error_prefix(error, "IMAGEDATA_PLUGINS: ");
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (!imd_context_load_plugin(error, context, paths[i])) {
            return false;
        }
    }
    return true;
}

uint64_t imd_cli_default_memory_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0) {
        return 0;
    }
    /* 80 %: room for the program, the page cache and a second copy being written. */
    return (uint64_t)pages / 10 * 8 * (uint64_t)page_size;
}

bool imd_cli_parse_threads(ImdError **error, const char *text, unsigned *threads)
{
    /* Digits only: strtoul alone would take "-1" (as ULONG_MAX), " 4" and "4x" in part. */
    unsigned long value = 0;
    bool ok = text[0] != '\0';
    for (const char *p = text; ok && *p != '\0'; p++) {
        ok = *p >= '0' && *p <= '9';
        /* Saturate above the limit: a long run of digits cannot wrap around. */
        value = value > IMD_CLI_MAX_THREADS ? value : value * 10 + (unsigned long)(*p - '0');
    }
    if (!ok || value > IMD_CLI_MAX_THREADS) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "--threads: \"%s\" is not a number of threads (1 to %u, or 0 for one "
                      "per core)",
                      text, IMD_CLI_MAX_THREADS);
        return false;
    }
    *threads = (unsigned)value;
    return true;
}

bool imd_cli_parse_size(ImdError **error, const char *text, uint64_t *bytes)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
    unsigned shift = 0;
    bool ok = end != NULL && end != text && errno == 0;
    if (ok && *end != '\0') {
        const char *units = "KMGT";
        const char *unit = strchr(units, end[0] == 'k' ? 'K' : end[0]);
        ok = unit != NULL && end[0] != '\0' &&
             (end[1] == '\0' || ((end[1] == 'B' || end[1] == 'b') && end[2] == '\0') ||
              (end[1] == 'i' && end[2] == 'B' && end[3] == '\0'));
        shift = ok ? 10u * (unsigned)(unit - units + 1) : 0;
    }
    if (ok && shift > 0 && value > (UINT64_MAX >> shift)) {
        ok = false;
    }
    if (!ok) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "--memory-limit: \"%s\" is not a size (e.g. 512M, 8G)", text);
        return false;
    }
    *bytes = (uint64_t)value << shift;
    return true;
}

static void on_signal(int number)
{
    if (caught_signal != 0 || signal_context == NULL) {
        /* A second signal, or nothing to cancel: end now, as the default action. */
        signal(number, SIG_DFL);
        raise(number);
        return;
    }
    caught_signal = number;
    imd_context_cancel(signal_context); /* async-signal-safe: one atomic store */
}

void imd_cli_handle_signals(ImdContext *context)
{
    signal_context = context;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    const int numbers[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        (void)sigaddset(&action.sa_mask, numbers[i]);
    }
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        (void)sigaction(numbers[i], &action, NULL);
    }
}

void imd_cli_destroy_context(ImdContext *context)
{
    /* The handler must never cancel a context that is being freed (found by
     * ASan: SIGINT during the leak check at exit wrote into the freed
     * context). When no signal came, the work is done and its outputs are in
     * place: a signal from now on is ignored, so the exit code says what
     * happened (CI: a SIGINT during ASan's exit-time leak check killed a run
     * whose DICOM folder was complete, exit 130 with the output left, which
     * integration.interrupt rightly failed). After a signal, a second one
     * still ends the program as the default action would. */
    if (signal_context == context) {
        if (caught_signal == 0) {
            /* Ignored first: one that comes before this only cancels finished work. */
            signal(SIGINT, SIG_IGN);
            signal(SIGTERM, SIG_IGN);
            signal(SIGHUP, SIG_IGN);
        }
        signal_context = NULL;
    }
    imd_context_destroy(context);
}

int imd_cli_signal(void)
{
    return (int)caught_signal;
}

void imd_cli_setup_context(const ImdCliCommon *common, ImdContext *context)
{
    uint64_t limit =
        common->memory_limit != 0 ? common->memory_limit : imd_cli_default_memory_limit();
    imd_context_set_memory_limit(context, limit);
    imd_context_set_threads(context, common->threads);
    imd_cli_handle_signals(context);
}
