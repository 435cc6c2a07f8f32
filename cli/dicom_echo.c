/*
 * dicom_echo: verify a DICOM node before sending to it (issue 17): an
 * association, one C-ECHO, a release. Exit 0 when the node answers with
 * success, 7 when it cannot be reached, rejects or aborts the association,
 * or answers with another status (docs/network.md).
 */
#define _GNU_SOURCE /* getopt_long */
#include "cli_common.h"

#include <stdlib.h>
#include <string.h>

static const char *const program = "dicom_echo";

enum { OPT_CALLING_AET = 1, OPT_TIMEOUT };

static const struct option long_options[] = {
    {"calling_aet", required_argument, NULL, OPT_CALLING_AET},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    IMD_CLI_TLS_LONG_OPTIONS,
    {"input_options", required_argument, NULL, IMD_CLI_OPT_INPUT_OPTIONS},
    {"verbose", no_argument, NULL, 'v'},
    {"debug", no_argument, NULL, 'd'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *stream)
{
    fprintf(stream,
            "usage: %s [options] dicom://host:port/AET\n"
            "Verify a DICOM node: associate, send a C-ECHO, release.\n"
            "  --calling_aet AET      our AE title (default IMAGEDATA)\n"
            "  --timeout SECONDS      every network timeout (connect, association, response)\n"
            "  --input_options K=V    net_connect_timeout, net_association_timeout,\n"
            "                         net_dimse_timeout, net_idle_timeout, net_max_pdu,\n"
            "                         net_username, net_password (docs/network.md)\n"
            IMD_CLI_TLS_HELP
            "  -v, --verbose          report the association\n"
            "  -V, --version          print the version\n"
            "  -h, --help             this text\n",
            program);
    imd_cli_print_exit_codes(stream);
}

typedef struct Arguments {
    ImdCliCommon common;
} Arguments;

static int parse(ImdError **error, void *user, int option)
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

int main(int argc, char **argv)
{
    ImdError *error = NULL;
    Arguments args = {{program, NULL, {NULL}, 0, 0, 0, 0}};
    args.common.options = imd_options_create(&error);
    if (args.common.options == NULL) {
        return imd_cli_fail(program, &error);
    }
    int code = imd_cli_parse(&error, argc, argv, long_options, parse, &args, program);
    if (code < 0 && argc - optind != 1) {
        fprintf(stderr, "%s: give one dicom://host:port/AET URL\n", program);
        usage(stderr);
        code = IMD_EXIT_USAGE;
    }
    if (code >= 0) {
        imd_options_destroy(args.common.options);
        return code;
    }
    ImdCliLog log = {program, args.common.verbosity, 0, 0};
    ImdContext *context = imd_context_create(&error);
    if (context == NULL) {
        imd_options_destroy(args.common.options);
        return imd_cli_fail(program, &error);
    }
    imd_context_set_log(context, imd_cli_log, &log);
    imd_cli_setup_context(&args.common, context);
    uint16_t status = 0xffff;
    const char *url = argv[optind];
    if (!imd_dicom_echo(&error, context, url, args.common.options, &status)) {
        code = imd_cli_fail(program, &error);
    } else if (status != 0) {
        fprintf(stderr, "%s: %s answered the C-ECHO with status 0x%04X\n", program, url, status);
        code = IMD_EXIT_NETWORK;
    } else {
        printf("%s: C-ECHO succeeded\n", url);
        code = IMD_EXIT_OK;
    }
    imd_cli_destroy_context(context);
    imd_options_destroy(args.common.options);
    return code;
}
