/*
 * image_receive: a DICOM receiver node (issue 18). A Storage SCP that keeps
 * each received instance durably (library: imd_receiver_*), groups them by
 * series and converts a series with image_data once its associations have
 * ended and no instance has arrived for the quiet time, again when more
 * arrive later (docs/network.md "Receiver").
 *
 * Conversion runs image_data (the program next to this one) as a child
 * process with the options given after "--", on the series' folder: the
 * output is what image_data makes of that folder by construction, and a
 * conversion that fails or crashes on odd data cannot take the receiver (or
 * the instances it still has to acknowledge) down with it.
 */
#define _GNU_SOURCE /* getopt_long */
#include "cli_common.h"

#include <imagedata/receiver.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *const program = "image_receive";

enum {
    OPT_ADDRESS = 1,
    OPT_PORT,
    OPT_AET,
    OPT_ALLOW_CALLING,
    OPT_ALLOW_ADDRESS,
    OPT_MAX_ASSOCIATIONS,
    OPT_MAX_PDU,
    OPT_MAX_INSTANCE,
    OPT_MIN_FREE,
    OPT_ASSOCIATION_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_QUIET,
    OPT_DICOM_FOLDER,
    OPT_NO_CONVERT,
    OPT_IMAGE_DATA,
    OPT_STATUS_FILE,
    OPT_PORT_FILE
};

static const struct option long_options[] = {
    {"address", required_argument, NULL, OPT_ADDRESS},
    {"port", required_argument, NULL, OPT_PORT},
    {"aet", required_argument, NULL, OPT_AET},
    {"allow_calling_aet", required_argument, NULL, OPT_ALLOW_CALLING},
    {"allow_address", required_argument, NULL, OPT_ALLOW_ADDRESS},
    {"max_associations", required_argument, NULL, OPT_MAX_ASSOCIATIONS},
    {"max_pdu", required_argument, NULL, OPT_MAX_PDU},
    {"max_instance", required_argument, NULL, OPT_MAX_INSTANCE},
    {"min_free_disk", required_argument, NULL, OPT_MIN_FREE},
    {"association_timeout", required_argument, NULL, OPT_ASSOCIATION_TIMEOUT},
    {"idle_timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"quiet_time", required_argument, NULL, OPT_QUIET},
    {"dicom_folder", required_argument, NULL, OPT_DICOM_FOLDER},
    {"no_convert", no_argument, NULL, OPT_NO_CONVERT},
    {"image_data", required_argument, NULL, OPT_IMAGE_DATA},
    {"status_file", required_argument, NULL, OPT_STATUS_FILE},
    {"port_file", required_argument, NULL, OPT_PORT_FILE},
    IMD_CLI_TLS_LONG_OPTIONS,
    {"verbose", no_argument, NULL, 'v'},
    {"debug", no_argument, NULL, 'd'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *stream)
{
    fprintf(stream,
            "usage: %s [options] OUTPUT [-- image_data options]\n"
            "Receive DICOM instances (C-STORE, C-ECHO) and convert each series with image_data\n"
            "into OUTPUT/<PatientID>/<StudyUID>/<SeriesUID> (image_data options after --,\n"
            "e.g. -- --of nifti --order time).\n"
            "  --address ADDR           numeric address to listen on (default 127.0.0.1)\n"
            "  --port N                 port (default 11112; 0: any free one, see --port_file)\n"
            "  --aet AET                our AE title: the called AE must match (default IMAGEDATA)\n"
            "  --allow_calling_aet AET  accept only these calling AE titles (repeat)\n"
            "  --allow_address ADDR     accept only these peer addresses (repeat)\n"
            "  --max_associations N     associations at once (default 4)\n"
            "  --max_pdu N              longest PDU we receive (default 65536)\n"
            "  --max_instance SIZE      refuse larger data sets (K, M, G; default none)\n"
            "  --min_free_disk SIZE     refuse instances when less is free (default none)\n"
            "  --association_timeout S  wait for the association request (default 30)\n"
            "  --idle_timeout S         between messages (default 60)\n"
            "  --quiet_time S           convert a series S seconds after its last instance and\n"
            "                           the end of its associations (default 5)\n"
            "  --dicom_folder DIR       where received instances are kept (default OUTPUT/dicom)\n"
            "  --no_convert             only store\n"
            "  --image_data PATH        the converter (default: image_data beside this program)\n"
            "  --status_file PATH       rewrite a one-line status there every second\n"
            "  --port_file PATH         write the port listened on there once listening\n"
            "  --tls                    listen for TLS only (PS3.15 B.12, BCP 195); needs:\n"
            "  --tls_cert PEM --tls_key PEM   our certificate and its private key\n"
            "  --tls_ca PEM             require client certificates signed by these CAs\n"
            "  --tls_verify false       with --tls_ca: do not ask for client certificates\n"
            "  -v, --verbose            a line per instance too\n"
            "  -V, --version            print the version\n"
            "  -h, --help               this text\n"
            "SIGTERM or SIGINT: refuse new associations, finish the instances being received,\n"
            "convert what is pending, exit 0; a second signal ends it at once.\n",
            program);
    imd_cli_print_exit_codes(stream);
}

#define MAX_LIST 64

typedef struct Arguments {
    ImdCliCommon common;
    ImdReceiverConfig config;
    const char *calling[MAX_LIST], *addresses[MAX_LIST];
    double quiet;
    const char *dicom_folder, *image_data, *status_file, *port_file;
    bool convert;
} Arguments;

static bool parse_number(ImdError **error, const char *name, const char *text, double low,
                         double high, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= low && v <= high)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "--%s %s: not a number from %g to %g", name,
                      text, low, high);
        return false;
    }
    *out = v;
    return true;
}

static int parse(ImdError **error, void *user, int option)
{
    Arguments *a = user;
    int common = imd_cli_common_option(error, &a->common, option, optarg);
    if (common != IMD_CLI_NOT_COMMON) {
        return common;
    }
    double v = 0;
    uint64_t size = 0;
    switch (option) {
    case OPT_ADDRESS:
        a->config.address = optarg;
        return -1;
    case OPT_PORT:
        if (!parse_number(error, "port", optarg, 0, 65535, &v) || v != (int)v) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "--port %s: not 0 to 65535", optarg);
            return 1;
        }
        a->config.port = (int)v;
        return -1;
    case OPT_AET:
        a->config.aet = optarg;
        return -1;
    case OPT_ALLOW_CALLING:
    case OPT_ALLOW_ADDRESS: {
        bool calling = option == OPT_ALLOW_CALLING;
        size_t *count = calling ? &a->config.calling_count : &a->config.address_count;
        if (*count == MAX_LIST) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "more than %d allow-list entries",
                          MAX_LIST);
            return 1;
        }
        (calling ? a->calling : a->addresses)[(*count)++] = optarg;
        return -1;
    }
    case OPT_MAX_ASSOCIATIONS:
        if (!parse_number(error, "max_associations", optarg, 1, 1024, &v)) {
            return 1;
        }
        a->config.max_associations = (unsigned)v;
        return -1;
    case OPT_MAX_PDU:
        if (!parse_number(error, "max_pdu", optarg, 1024, 16777216, &v)) {
            return 1;
        }
        a->config.max_pdu = (uint32_t)v;
        return -1;
    case OPT_MAX_INSTANCE:
    case OPT_MIN_FREE:
        if (!imd_cli_parse_size(error, optarg, &size)) {
            return 1;
        }
        *(option == OPT_MAX_INSTANCE ? &a->config.max_instance : &a->config.min_free_disk) = size;
        return -1;
    case OPT_ASSOCIATION_TIMEOUT:
    case OPT_IDLE_TIMEOUT:
    case OPT_QUIET:
        if (!parse_number(error, option == OPT_QUIET ? "quiet_time" : "timeout", optarg,
                          option == OPT_QUIET ? 0 : 0.1, 86400, &v)) {
            return 1;
        }
        *(option == OPT_QUIET                ? &a->quiet
          : option == OPT_IDLE_TIMEOUT       ? &a->config.idle_timeout
                                             : &a->config.association_timeout) = v;
        return -1;
    case OPT_DICOM_FOLDER:
        a->dicom_folder = optarg;
        return -1;
    case OPT_NO_CONVERT:
        a->convert = false;
        return -1;
    case OPT_IMAGE_DATA:
        a->image_data = optarg;
        return -1;
    case OPT_STATUS_FILE:
        a->status_file = optarg;
        return -1;
    case OPT_PORT_FILE:
        a->port_file = optarg;
        return -1;
    case 'h':
        usage(stdout);
        return 0;
    default:
        usage(stderr);
        return IMD_EXIT_USAGE;
    }
}

/* ---- series bookkeeping (events come from association threads) ---- */

#define MAX_OPEN 16

typedef struct Series {
    char *folder;    /* the received instances */
    char *output;    /* the conversion's OUTPUT argument */
    char uid[65];
    double last;     /* monotonic seconds of the last instance */
    uint64_t open[MAX_OPEN]; /* associations that sent to it and have not ended */
    size_t open_count;
    size_t instances, converted_instances;
    bool dirty;      /* instances since the last conversion started */
    pid_t pid;       /* a conversion running */
    size_t conversions;
} Series;

typedef struct State {
    Arguments *args;
    ImdReceiver *receiver;
    pthread_mutex_t lock;
    Series *series;
    size_t count, capacity;
    size_t stored, failed, associations, rejected, converted, conversion_failures;
    const char *output;
    double last_status;
} State;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void log_line(const char *format, ...) IMD_PRINTF(1, 2);
static void log_line(const char *format, ...)
{
    char text[2048];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    /* One write per line: lines from threads do not interleave. */
    fprintf(stderr, "%s: %s\n", program, text);
    fflush(stderr);
}

/* The series entry of `folder`, made when new; NULL when out of memory. */
static Series *series_of(State *s, const char *folder, const char *uid)
{
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->series[i].folder, folder) == 0) {
            return &s->series[i];
        }
    }
    if (s->count == s->capacity) {
        size_t capacity = s->capacity > 0 ? 2 * s->capacity : 16;
        Series *grown = realloc(s->series, capacity * sizeof *grown);
        if (grown == NULL) {
            return NULL;
        }
        s->series = grown;
        s->capacity = capacity;
    }
    Series *e = &s->series[s->count];
    memset(e, 0, sizeof *e);
    e->folder = strdup(folder);
    /* OUTPUT/<patient>/<study>/<series>: the same relative path as under
     * the DICOM folder (already sanitised by the library). */
    size_t base = strlen(s->args->dicom_folder);
    const char *relative = folder + (strncmp(folder, s->args->dicom_folder, base) == 0 ? base : 0);
    size_t length = strlen(s->output) + strlen(relative) + 2;
    e->output = malloc(length);
    if (e->folder == NULL || e->output == NULL) {
        free(e->folder);
        free(e->output);
        return NULL;
    }
    snprintf(e->output, length, "%s%s%s", s->output, relative[0] == '/' ? "" : "/", relative);
    snprintf(e->uid, sizeof e->uid, "%s", uid);
    s->count++;
    return e;
}

static void on_event(void *user, const ImdReceiverEvent *e)
{
    State *s = user;
    pthread_mutex_lock(&s->lock);
    if (e->kind == IMD_RECEIVER_STORED) {
        s->stored++;
        Series *series = series_of(s, e->series_folder, e->series_uid);
        if (series != NULL) {
            series->last = now_seconds();
            series->dirty = true;
            series->instances++;
            bool known = false;
            for (size_t i = 0; i < series->open_count && !known; i++) {
                known = series->open[i] == e->association;
            }
            if (!known && series->open_count < MAX_OPEN) {
                series->open[series->open_count++] = e->association;
            }
        }
        if (s->args->common.verbosity > 0) {
            log_line("association %llu: stored %s", (unsigned long long)e->association, e->path);
        }
    } else if (e->kind == IMD_RECEIVER_STORE_FAILED) {
        s->failed++;
        log_line("association %llu from %s (%s): instance %s refused with status 0x%04X: %s",
                 (unsigned long long)e->association, e->peer, e->calling_aet, e->sop_instance_uid,
                 e->status, e->reason);
    } else {
        s->associations++;
        s->rejected += e->rejected != 0;
        for (size_t i = 0; i < s->count; i++) {
            Series *series = &s->series[i];
            for (size_t j = 0; j < series->open_count; j++) {
                if (series->open[j] == e->association) {
                    series->open[j] = series->open[--series->open_count];
                    series->last = now_seconds(); /* the quiet time starts at the end */
                    break;
                }
            }
        }
        if (e->rejected) {
            log_line("association %llu from %s (%s): rejected: %s",
                     (unsigned long long)e->association, e->peer,
                     e->calling_aet[0] != '\0' ? e->calling_aet : "?", e->reason);
        } else {
            log_line("association %llu from %s (%s)%s%s: %s, %zu stored, %zu failed, %zu echoes%s%s",
                     (unsigned long long)e->association, e->peer,
                     e->calling_aet[0] != '\0' ? e->calling_aet : "?",
                     e->tls[0] != '\0' ? " over " : "", e->tls,
                     e->released ? "released" : "aborted", e->stored, e->failed, e->echoes,
                     e->reason[0] != '\0' ? ": " : "", e->reason);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* Every conversion's argv: image_data, the pass-through options, OUTPUT, INPUT. */
static char **pass_through;
static int pass_count;

static void spawn(State *s, Series *series)
{
    char **argv = calloc((size_t)pass_count + 4, sizeof *argv);
    if (argv == NULL) {
        return;
    }
    int n = 0;
    char *converter = strdup(s->args->image_data);
    if (converter == NULL) {
        free(argv);
        return;
    }
    argv[n++] = converter;
    for (int i = 0; i < pass_count; i++) {
        argv[n++] = pass_through[i];
    }
    argv[n++] = series->output;
    argv[n++] = series->folder;
    argv[n] = NULL;
    /* The output's parent folders: image_data makes only the last part. */
    char *path = strdup(series->output);
    for (char *p = path != NULL ? path + 1 : NULL; p != NULL && *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            (void)mkdir(path, 0777);
            *p = '/';
        }
    }
    free(path);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, s->args->image_data, NULL, NULL, argv, environ);
    free(argv);
    free(converter);
    if (rc != 0) {
        log_line("series %s: cannot start %s: %s", series->uid, s->args->image_data,
                 strerror(rc));
        s->conversion_failures++;
        return;
    }
    series->pid = pid;
    series->dirty = false;
    series->converted_instances = series->instances;
}

static void reap(State *s, bool wait_all)
{
    for (size_t i = 0; i < s->count; i++) {
        Series *series = &s->series[i];
        if (series->pid == 0) {
            continue;
        }
        int status = 0;
        pid_t got = waitpid(series->pid, &status, wait_all ? 0 : WNOHANG);
        if (got == 0 || (got < 0 && errno == EINTR)) {
            continue;
        }
        series->pid = 0;
        series->conversions++;
        bool ok = got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok) {
            s->converted++;
            log_line("series %s: converted %zu instances into %s", series->uid,
                     series->converted_instances, series->output);
        } else {
            s->conversion_failures++;
            log_line("series %s: conversion of %zu instances into %s failed (%s %d)", series->uid,
                     series->converted_instances, series->output,
                     got > 0 && WIFSIGNALED(status) ? "signal" : "exit",
                     got > 0 ? (WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status))
                             : -1);
        }
    }
}

static void write_status(State *s)
{
    if (s->args->status_file == NULL) {
        return;
    }
    size_t pending = 0, running = 0;
    for (size_t i = 0; i < s->count; i++) {
        pending += s->series[i].dirty;
        running += s->series[i].pid != 0;
    }
    char temporary[PATH_MAX];
    snprintf(temporary, sizeof temporary, "%s.tmp", s->args->status_file);
    FILE *f = fopen(temporary, "w");
    if (f == NULL) {
        return;
    }
    fprintf(f, "listening port=%d associations=%zu rejected=%zu stored=%zu failed=%zu series=%zu "
            "pending=%zu converting=%zu converted=%zu conversion_failures=%zu\n",
            imd_receiver_port(s->receiver), s->associations, s->rejected, s->stored, s->failed,
            s->count, pending, running, s->converted, s->conversion_failures);
    if (fclose(f) == 0) {
        (void)rename(temporary, s->args->status_file);
    }
}

/* Start the conversions that are due (all pending ones when `flush`). */
static void schedule(State *s, bool flush)
{
    double now = now_seconds();
    for (size_t i = 0; i < s->count; i++) {
        Series *series = &s->series[i];
        if (series->dirty && series->pid == 0 &&
            (flush || (series->open_count == 0 && now - series->last >= s->args->quiet))) {
            spawn(s, series);
        }
    }
}

static void on_tick(void *user)
{
    State *s = user;
    pthread_mutex_lock(&s->lock);
    reap(s, false);
    if (s->args->convert) {
        schedule(s, false);
    }
    double now = now_seconds();
    if (now - s->last_status >= 1.0) {
        write_status(s);
        s->last_status = now;
    }
    pthread_mutex_unlock(&s->lock);
}

static ImdReceiver *volatile the_receiver;

static volatile sig_atomic_t signals_seen;

static void on_signal(int number)
{
    /* The first signal stops gracefully; a second one ends the program at
     * once (what is acknowledged is on disk; the rest was never answered). */
    if (signals_seen++ > 0) {
        signal(number, SIG_DFL);
        raise(number);
        return;
    }
    if (the_receiver != NULL) {
        imd_receiver_stop(the_receiver);
    }
}

/* image_data beside this program (/proc/self/exe), else on PATH. */
static char *default_converter(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash != NULL) {
            strcpy(slash + 1, "image_data");
            if (access(self, X_OK) == 0) {
                return strdup(self);
            }
        }
    }
    return strdup("/usr/bin/image_data");
}

int main(int argc, char **argv)
{
    ImdError *error = NULL;
    /* Options after "--" belong to image_data. */
    int split = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            split = i;
            break;
        }
    }
    pass_through = argv + (split < argc ? split + 1 : argc);
    pass_count = split < argc ? argc - split - 1 : 0;
    Arguments args = {.common = {.program = program}, .quiet = 5.0, .convert = true};
    args.config.port = 11112;
    args.config.aet = "IMAGEDATA";
    args.common.options = imd_options_create(&error);
    if (args.common.options == NULL) {
        return imd_cli_fail(program, &error);
    }
    int code = imd_cli_parse(&error, split, argv, long_options, parse, &args, program);
    if (code < 0 && split - optind != 1) {
        fprintf(stderr, "%s: give one OUTPUT folder (see --help)\n", program);
        code = IMD_EXIT_USAGE;
    }
    if (code >= 0) {
        imd_options_destroy(args.common.options);
        return code;
    }
    const char *output = argv[optind];
    /* The --tls* flags went into the options as for the clients (cli_common.c). */
    bool tls = false, verify = true;
    if (!imd_options_get_bool(&error, args.common.options, "tls", false, &tls) ||
        !imd_options_get_bool(&error, args.common.options, "tls_verify", true, &verify)) {
        imd_options_destroy(args.common.options);
        return imd_cli_fail(program, &error);
    }
    args.config.tls_cert = imd_options_get(args.common.options, "tls_cert", NULL);
    args.config.tls_key = imd_options_get(args.common.options, "tls_key", NULL);
    args.config.tls_ca = imd_options_get(args.common.options, "tls_ca", NULL);
    args.config.tls_no_verify = !verify;
    if (tls && args.config.tls_cert == NULL) {
        fprintf(stderr, "%s: --tls needs --tls_cert and --tls_key\n", program);
        imd_options_destroy(args.common.options);
        return IMD_EXIT_USAGE;
    }
    char *dicom_folder = NULL, *converter = NULL;
    if (args.dicom_folder == NULL) {
        size_t length = strlen(output) + 7;
        dicom_folder = malloc(length);
        if (dicom_folder != NULL) {
            snprintf(dicom_folder, length, "%s/dicom", output);
        }
        args.dicom_folder = dicom_folder;
    }
    if (args.image_data == NULL) {
        converter = default_converter();
        args.image_data = converter;
    }
    (void)mkdir(output, 0777);
    args.config.folder = args.dicom_folder;
    args.config.calling_aets = args.config.calling_count > 0 ? args.calling : NULL;
    args.config.addresses = args.config.address_count > 0 ? args.addresses : NULL;
    State state = {.args = &args, .output = output};
    pthread_mutex_init(&state.lock, NULL);
    ImdReceiver *receiver = args.dicom_folder != NULL && args.image_data != NULL
                                ? imd_receiver_create(&error, &args.config)
                                : NULL;
    if (receiver == NULL) {
        if (error == NULL) {
            imd_error_set(&error, IMD_ERR_NOMEM, "out of memory");
        }
        code = imd_cli_fail(program, &error);
    } else {
        state.receiver = receiver;
        the_receiver = receiver;
        struct sigaction action = {0};
        action.sa_handler = on_signal;
        sigemptyset(&action.sa_mask);
        (void)sigaction(SIGTERM, &action, NULL);
        (void)sigaction(SIGINT, &action, NULL);
        (void)sigaction(SIGHUP, &action, NULL);
        signal(SIGPIPE, SIG_IGN);
        log_line("listening on %s port %d as %s%s, storing into %s", args.config.address != NULL
                 ? args.config.address : "127.0.0.1", imd_receiver_port(receiver),
                 args.config.aet,
                 args.config.tls_cert == NULL ? ""
                 : args.config.tls_ca != NULL && verify ? " (TLS, client certificates required)"
                                                        : " (TLS)",
                 args.dicom_folder);
        if (args.port_file != NULL) {
            FILE *f = fopen(args.port_file, "w");
            if (f != NULL) {
                fprintf(f, "%d\n", imd_receiver_port(receiver));
                fclose(f);
            }
        }
        code = IMD_EXIT_OK;
        if (!imd_receiver_run(&error, receiver, on_event, on_tick, &state)) {
            code = imd_cli_fail(program, &error);
        }
        /* Stopped: convert what is pending now, wait for every conversion. */
        pthread_mutex_lock(&state.lock);
        reap(&state, true);
        if (args.convert) {
            schedule(&state, true);
        }
        reap(&state, true);
        write_status(&state);
        log_line("stopped: %zu associations (%zu rejected), %zu instances stored, %zu refused, "
                 "%zu conversions, %zu failed",
                 state.associations, state.rejected, state.stored, state.failed, state.converted,
                 state.conversion_failures);
        pthread_mutex_unlock(&state.lock);
        the_receiver = NULL;
        imd_receiver_destroy(receiver);
    }
    for (size_t i = 0; i < state.count; i++) {
        free(state.series[i].folder);
        free(state.series[i].output);
    }
    free(state.series);
    pthread_mutex_destroy(&state.lock);
    free(dicom_folder);
    free(converter);
    imd_options_destroy(args.common.options);
    return code;
}
