/*
 * cli_common.h: what every imagedata program shares: exit codes, error
 * lines, diagnostics on stderr, plugin loading, and option helpers.
 */
#ifndef IMAGEDATA_CLI_COMMON_H
#define IMAGEDATA_CLI_COMMON_H

#include <imagedata/imagedata.h>

#include <getopt.h>
#include <stdio.h>

/* Exit codes (docs/cli.md). Stable: scripts depend on them. */
enum {
    IMD_EXIT_OK = 0,
    IMD_EXIT_USAGE = 1,         /* usage or configuration error */
    IMD_EXIT_NO_DATA = 2,       /* no image data found */
    IMD_EXIT_CANNOT_SORT = 3,   /* cannot sort into volumes */
    IMD_EXIT_CORRUPT = 4,       /* corrupt input */
    IMD_EXIT_UNSUPPORTED = 5,   /* unsupported input */
    IMD_EXIT_IO = 6,            /* I/O error reading or writing */
    IMD_EXIT_NETWORK = 7,       /* network or association failure */
    IMD_EXIT_PARTIAL = 8,       /* partial success: some inputs skipped */
    IMD_EXIT_INTERNAL = 70,     /* internal error */
    IMD_EXIT_SIGNAL = 128       /* + the signal's number: interrupted (130 SIGINT, 143 SIGTERM) */
};

/* The exit code for a library error code. */
int imd_cli_exit_code(ImdErrorCode code);

/* The exit-code table, as printed by --help. */
void imd_cli_print_exit_codes(FILE *stream);

/* Print "<program>: <message>" on stderr, clear the error, return its exit code. */
int imd_cli_fail(const char *program, ImdError **error);

/* Diagnostics: 0 quiet (warnings only), 1 -v, 2 -d. */
typedef struct ImdCliLog {
    const char *program;
    int verbosity;
    size_t warnings;
    size_t skipped; /* inputs left out (IMD_LOG_SKIPPED): a partial result, exit 8 */
} ImdCliLog;

void imd_cli_log(void *user, ImdLogLevel level, const char *message);

/* What the programs' options share: input options, plugins, verbosity. */
typedef struct ImdCliCommon {
    const char *program;
    ImdOptions *options;
    const char *plugins[64];
    size_t plugin_count;
    int verbosity;
    uint64_t memory_limit; /* --memory-limit; 0: the default (imd_cli_default_memory_limit) */
    unsigned threads;      /* --threads; 0: the default (one per online core) */
} ImdCliCommon;

/* getopt_long ids of the shared options (each program's own ids stay below 1000). */
enum {
    IMD_CLI_OPT_INPUT_OPTIONS = 1000,
    IMD_CLI_OPT_HEADERS_ONLY,
    IMD_CLI_OPT_PLUGIN,
    IMD_CLI_OPT_MEMORY_LIMIT,
    IMD_CLI_OPT_THREADS,
    IMD_CLI_OPT_ORDER,        /* --order: input_order */
    IMD_CLI_OPT_INPUT_FORMAT, /* --input_format */
    IMD_CLI_OPT_TEMPLATE,     /* --template */
    IMD_CLI_OPT_GEOMETRY,     /* --geometry */
    IMD_CLI_OPT_TLS,          /* --tls: the option tls=true (docs/network.md "TLS") */
    IMD_CLI_OPT_TLS_CERT,     /* --tls_cert PEM */
    IMD_CLI_OPT_TLS_KEY,      /* --tls_key PEM */
    IMD_CLI_OPT_TLS_CA,       /* --tls_ca PEM */
    IMD_CLI_OPT_TLS_VERIFY,   /* --tls_verify BOOL */
    IMD_CLI_NOT_COMMON = -2
};

/* The TLS flags, for the long option table of a program that talks DICOM
 * over the network, and their --help lines. */
#define IMD_CLI_TLS_LONG_OPTIONS                                                                 \
    {"tls", no_argument, NULL, IMD_CLI_OPT_TLS},                                                 \
        {"tls_cert", required_argument, NULL, IMD_CLI_OPT_TLS_CERT},                             \
        {"tls_key", required_argument, NULL, IMD_CLI_OPT_TLS_KEY},                               \
        {"tls_ca", required_argument, NULL, IMD_CLI_OPT_TLS_CA},                                 \
        {"tls_verify", required_argument, NULL, IMD_CLI_OPT_TLS_VERIFY}
#define IMD_CLI_TLS_HELP                                                                         \
    "  --tls                  DICOM over TLS (PS3.15 B.12, BCP 195; implied by --tls_*)\n"       \
    "  --tls_cert PEM, --tls_key PEM   our certificate and its private key\n"                    \
    "  --tls_ca PEM           trusted CA certificates (default: the system's)\n"                  \
    "  --tls_verify false     do not verify the peer's certificate (default true)\n"

/*
 * Handle a shared option (--input_options, --headers_only, --order,
 * --input_format, --template, --geometry, --tls*, --plugin,
 * --memory-limit, --threads, -v, -d, -V): -1 to go on, 0 to stop with success (-V), 1 on an error set in *error,
 * IMD_CLI_NOT_COMMON when `option` is not one of them.
 */
int imd_cli_common_option(ImdError **error, ImdCliCommon *common, int option,
                          const char *argument);

/*
 * A progress line on stderr ("image_data: reading DICOM headers 1200/3600"),
 * rewritten in place at most every 0.1 s, ended when a stage completes. Only
 * when stderr is a terminal: scripts and logs stay quiet.
 */
typedef struct ImdCliProgress {
    const char *program;
    bool enabled;
    double last; /* seconds of the last update */
} ImdCliProgress;

void imd_cli_progress_init(ImdCliProgress *progress, const char *program);
void imd_cli_progress(void *user, const char *stage, size_t done, size_t total);

/* A program's option handler: -1 to go on, 0 or an exit code to stop (1 with *error set). */
typedef int ImdCliOptionFn(ImdError **error, void *args, int option);

/*
 * Run getopt_long over argv ("-v -d -V -h" and `options`), handing each option
 * to `parse`; an error it sets is printed. Returns -1 when the program should
 * go on (optind points at the operands), else the exit code.
 */
int imd_cli_parse(ImdError **error, int argc, char **argv, const struct option *options,
                  ImdCliOptionFn *parse, void *args, const char *program);

/* 80 % of the physical memory (sysconf), 0 when it cannot be told. */
uint64_t imd_cli_default_memory_limit(void);

/* The most --threads accepts (the library's own limit). */
#define IMD_CLI_MAX_THREADS 256u

/*
 * Parse the value of --threads: a decimal number 0 .. IMD_CLI_MAX_THREADS,
 * 0 meaning the default (one per online core). Anything else ("abc", "-1",
 * "2x", "") is INVALID_ARG naming the option and the value.
 */
bool imd_cli_parse_threads(ImdError **error, const char *text, unsigned *threads);

/* Parse a size: a number of bytes with an optional K, M, G or T (powers of 1024). */
bool imd_cli_parse_size(ImdError **error, const char *text, uint64_t *bytes);

/*
 * Make SIGINT, SIGTERM and SIGHUP cancel the work of `context`
 * (imd_context_cancel, through sigaction; the handler only sets flags);
 * the error that follows (IMD_ERR_CANCELLED) exits 128 + the signal.
 * With `context` NULL (a program without one) a signal ends the program at
 * once with the default action. A second signal also ends it at once.
 */
void imd_cli_handle_signals(ImdContext *context);

/* The signal that cancelled the work, 0 for none. */
int imd_cli_signal(void);
/* Stop routing signals to `context`, then destroy it. */
void imd_cli_destroy_context(ImdContext *context);

/* Apply the shared settings to a new context: memory limit, threads, signal handling. */
void imd_cli_setup_context(const ImdCliCommon *common, ImdContext *context);

/* Load the plugins named in IMAGEDATA_PLUGINS (':'-separated), then `paths`. */
bool imd_cli_load_plugins(ImdError **error, ImdContext *context, const char *const *paths,
                          size_t count);

#endif
