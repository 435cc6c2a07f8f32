/*
 * image_list: print the patients, studies or series under a URL, one line
 * each (the original's image_list; issue 17 item 3, docs/cli.md): a
 * dicom:// node by C-FIND (the depth of the URL chooses the level), files,
 * folders and zips by the series the DICOM reader splits them into.
 * The listing itself is the library's (imd_list).
 */
#define _GNU_SOURCE /* getopt_long */
#include "cli_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const program = "image_list";

enum { OPT_CALLING_AET = 256, OPT_TIMEOUT };

static void usage(FILE *stream)
{
    fprintf(stream,
            "Usage: %s [options] URL...\n"
            "Print what is under URL, one line each: \"<path> <info>\".\n"
            "  dicom://host:port/AET                   its patients:  <url>/<patientID> <name>\n"
            "  dicom://host:port/AET/patient           the studies:   <url>/<studyUID> "
            "<date> <time> <accession> <description>\n"
            "  dicom://host:port/AET/patient/study     the series:    <url>/<seriesUID> "
            "#<number>: <instances> <modality> <description>\n"
            "  dicom://host:port/AET/patient/study/series   that series\n"
            "  files, folders, zips (read together)    each series:   "
            "<patientID>/<studyUID>/<seriesUID> #<number>: ...\n\n"
            "Options:\n"
            "  --calling_aet AET      our AE title (default IMAGEDATA)\n"
            "  --timeout SECONDS      every network timeout (connect, association, response)\n"
            "  --input_options K=V    a reader or network option (repeatable; net_* in "
            "docs/network.md)\n"
            IMD_CLI_TLS_HELP
            "  --plugin PATH          load a plugin file (repeatable; also IMAGEDATA_PLUGINS)\n"
            "  --threads N            threads to use, 0 for one per core [0]\n"
            "  -v, --verbose          report what was read and skipped\n"
            "  -d, --debug            report details\n"
            "  -V, --version          print the version\n"
            "  -h, --help             this help\n\n",
            program);
    imd_cli_print_exit_codes(stream);
}

typedef struct Arguments {
    ImdCliCommon common;
} Arguments;

static const struct option long_options[] = {
    {"calling_aet", required_argument, NULL, OPT_CALLING_AET},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    IMD_CLI_TLS_LONG_OPTIONS,
    {"input_options", required_argument, NULL, IMD_CLI_OPT_INPUT_OPTIONS},
    {"plugin", required_argument, NULL, IMD_CLI_OPT_PLUGIN},
    {"threads", required_argument, NULL, IMD_CLI_OPT_THREADS},
    {"verbose", no_argument, NULL, 'v'},
    {"debug", no_argument, NULL, 'd'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_option(ImdError **error, void *user, int option)
{
    Arguments *args = user;
    int common = imd_cli_common_option(error, &args->common, option, optarg);
    if (common != IMD_CLI_NOT_COMMON) {
        return common;
    }
    switch (option) {
    case OPT_CALLING_AET:
        return imd_options_set(error, args->common.options, "calling_aet", optarg) ? -1 : 1;
    case OPT_TIMEOUT: {
        static const char *const keys[] = {"net_connect_timeout", "net_association_timeout",
                                           "net_dimse_timeout", "net_idle_timeout"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            if (!imd_options_set(error, args->common.options, keys[i], optarg)) {
                return 1;
            }
        }
        return -1;
    }
    case 'h':
        usage(stdout);
        return 0;
    default:
        usage(stderr);
        return IMD_EXIT_USAGE;
    }
}

typedef struct Printed {
    size_t lines;
} Printed;

static bool print_entry(ImdError **error, void *user, const ImdListEntry *entry)
{
    Printed *printed = user;
    if (printf("%s %s\n", entry->path, entry->info) < 0) {
        imd_error_set(error, IMD_ERR_IO, "standard output: cannot write");
        return false;
    }
    printed->lines++;
    return true;
}

static int run(ImdError **error, Arguments *args, int count, char **urls)
{
    ImdCliLog log = {program, args->common.verbosity, 0, 0};
    ImdContext *context = imd_context_create(error);
    if (context == NULL) {
        return imd_cli_fail(program, error);
    }
    imd_context_set_log(context, imd_cli_log, &log);
    imd_cli_setup_context(&args->common, context);
    Printed printed = {0};
    int code;
    if (!imd_cli_load_plugins(error, context, args->common.plugins, args->common.plugin_count)) {
        (void)imd_cli_fail(program, error);
        code = IMD_EXIT_USAGE;
    } else if (!imd_list(error, context, (const char *const *)urls, (size_t)count,
                         args->common.options, print_entry, &printed)) {
        code = imd_cli_fail(program, error);
    } else if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: standard output: cannot write\n", program);
        code = IMD_EXIT_IO;
    } else if (printed.lines == 0) {
        fprintf(stderr, "%s: %s: nothing found\n", program, urls[0]);
        code = IMD_EXIT_NO_DATA;
    } else {
        code = log.skipped > 0 ? IMD_EXIT_PARTIAL : IMD_EXIT_OK;
    }
    imd_cli_destroy_context(context);
    return code;
}

int main(int argc, char **argv)
{
    ImdError *error = NULL;
    Arguments args = {.common = {.program = program}};
    args.common.options = imd_options_create(&error);
    if (args.common.options == NULL) {
        return imd_cli_fail(program, &error);
    }
    int code = imd_cli_parse(&error, argc, argv, long_options, parse_option, &args, program);
    if (code < 0 && optind >= argc) {
        fprintf(stderr, "%s: no URL given (see --help)\n", program);
        code = IMD_EXIT_USAGE;
    }
    if (code < 0) {
        code = run(&error, &args, argc - optind, argv + optind);
    }
    imd_options_destroy(args.common.options);
    return code;
}
