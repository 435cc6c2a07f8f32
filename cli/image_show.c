/*
 * image_show: look at what image_data reads (docs/viewer.md). Reads the
 * inputs in the background and shows each series as soon as it is read;
 * on quitting prints each series' final window ("N: C center W width").
 */
#define _GNU_SOURCE /* getopt_long */
#include "cli_common.h"

#include <imagedata/view.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const program = "image_show";

enum {
    OPT_LINK = 256,
    OPT_SIZE,
    OPT_BENCH,
    OPT_BENCH_FRAMES,
    OPT_REPLAY,
    OPT_SCREENSHOT,
    OPT_FONT
};

static void usage(FILE *stream)
{
    fprintf(stream,
            "Usage: %s [options] URL...\n"
            "Show the series found in the inputs (read together as one input).\n"
            "Keys: wheel/Up/Down slice, Left/Right tag, PageUp/PageDown page, Ctrl+Home/End\n"
            "first/last page, Ctrl+arrows move by a series/row, left-drag window/level,\n"
            "right-drag zoom, middle-drag pan, r reset zoom, w window 1-99 %%, h text, q quit,\n"
            "F12 screenshot (with --screenshot). See docs/viewer.md.\n\n"
            "Options:\n"
            "  --order ORDER          input order: auto, none, time, b, fa, te, ... [auto]\n"
            "  --input_options K=V    a reader option (repeatable), e.g. ti=InversionTime\n"
            "  --input_format NAME    read only with this format plugin\n"
            "  --template URL         take DICOM identity (patient, study, ...) from URL\n"
            "  --geometry URL         take geometry (positions, orientation, spacing) from URL\n"
            "  --link                 keep every viewport on the same slice and tag\n"
            "  --size WxH             window size [1024x768]\n"
            "  --bench                time redraws (each on the next slice), print, quit\n"
            "  --bench-frames N       frames to time [200]\n"
            "  --replay STEPS         scripted input once read: key:Down wheel:2 move:X,Y\n"
            "                         drag:left:X0,Y0:X1,Y1 shot quit (for tests)\n"
            "  --screenshot PREFIX    F12 or 'shot' writes PREFIXnnn.bmp and PREFIXnnn.json\n"
            "  --font PATH            TrueType font for the text [DejaVu Sans]\n"
            "  --plugin PATH          load a plugin file (repeatable; also IMAGEDATA_PLUGINS)\n"
            "  --memory-limit SIZE    refuse images larger than SIZE (e.g. 8G) [80%% of RAM]\n"
            "  --threads N            threads to use, 0 for one per core [0]\n"
            "  -v, --verbose          report what was read and skipped\n"
            "  -d, --debug            report details\n"
            "  -V, --version          print the version\n"
            "  -h, --help             this help\n\n"
            "URLs: a file, a folder, a zip file, zip?member_pattern, dicom://...\n"
            "The display: SDL's video driver (SDL_VIDEODRIVER: x11, wayland, offscreen, dummy).\n\n",
            program);
    imd_cli_print_exit_codes(stream);
}

typedef struct Arguments {
    ImdCliCommon common;
    ImdViewOptions view;
} Arguments;

static const struct option long_options[] = {
    {"order", required_argument, NULL, IMD_CLI_OPT_ORDER},
    {"input_options", required_argument, NULL, IMD_CLI_OPT_INPUT_OPTIONS},
    {"input_format", required_argument, NULL, IMD_CLI_OPT_INPUT_FORMAT},
    {"template", required_argument, NULL, IMD_CLI_OPT_TEMPLATE},
    {"geometry", required_argument, NULL, IMD_CLI_OPT_GEOMETRY},
    {"link", no_argument, NULL, OPT_LINK},
    {"size", required_argument, NULL, OPT_SIZE},
    {"bench", no_argument, NULL, OPT_BENCH},
    {"bench-frames", required_argument, NULL, OPT_BENCH_FRAMES},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"screenshot", required_argument, NULL, OPT_SCREENSHOT},
    {"font", required_argument, NULL, OPT_FONT},
    {"plugin", required_argument, NULL, IMD_CLI_OPT_PLUGIN},
    {"memory-limit", required_argument, NULL, IMD_CLI_OPT_MEMORY_LIMIT},
    {"threads", required_argument, NULL, IMD_CLI_OPT_THREADS},
    {"verbose", no_argument, NULL, 'v'},
    {"debug", no_argument, NULL, 'd'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_option(ImdError **error, void *state, int option)
{
    Arguments *args = state;
    int common = imd_cli_common_option(error, &args->common, option, optarg);
    if (common != IMD_CLI_NOT_COMMON) {
        return common;
    }
    switch (option) {
    case OPT_LINK:
        args->view.link = true;
        return -1;
    case OPT_SIZE: {
        int w, h;
        char end;
        if (sscanf(optarg, "%dx%d%c", &w, &h, &end) != 2 || w < 64 || h < 64 || w > 16384 ||
            h > 16384) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "--size: \"%s\" is not WIDTHxHEIGHT (64 .. 16384)", optarg);
            return 1;
        }
        args->view.width = w, args->view.height = h;
        return -1;
    }
    case OPT_BENCH:
        args->view.bench = true;
        return -1;
    case OPT_BENCH_FRAMES: {
        char *end;
        unsigned long n = strtoul(optarg, &end, 10);
        if (end == optarg || *end != '\0' || n < 1 || n > 100000) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "--bench-frames: \"%s\" is not a number 1 .. 100000", optarg);
            return 1;
        }
        args->view.bench_frames = (unsigned)n;
        return -1;
    }
    case OPT_REPLAY:
        args->view.replay = optarg;
        return -1;
    case OPT_SCREENSHOT:
        args->view.screenshot_prefix = optarg;
        return -1;
    case OPT_FONT:
        args->view.font_path = optarg;
        return -1;
    case 'h':
        usage(stdout);
        return 0;
    default:
        usage(stderr);
        return IMD_EXIT_USAGE;
    }
}

static void print_report(void *user, const char *line)
{
    fprintf(stderr, "%s: %s\n", (const char *)user, line);
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
    args->view.report = print_report;
    static char name[] = "image_show";
    args->view.report_user = name;
    int code = IMD_EXIT_OK;
    ImdSeriesList *read = NULL;
    if (!imd_cli_load_plugins(error, context, args->common.plugins, args->common.plugin_count)) {
        (void)imd_cli_fail(program, error);
        code = IMD_EXIT_USAGE;
    } else if (!imd_view_urls(error, context, (const char *const *)urls, (size_t)count,
                              args->common.options, &args->view, &read)) {
        code = imd_cli_fail(program, error);
    } else {
        for (size_t i = 0; i < imd_series_list_count(read); i++) {
            double center, width;
            if (imd_header_window(imd_series_const_header(imd_series_list_get(read, i)), &center,
                                  &width)) {
                printf("%zu: C %.17g W %.17g\n", i, center, width);
            }
        }
        for (size_t i = 0; i < imd_series_list_failure_count(read); i++) {
            fprintf(stderr, "%s: %s\n", program,
                    imd_error_message(imd_series_list_failure(read, i)));
        }
        if (imd_series_list_failure_count(read) > 0 || log.skipped > 0) {
            code = IMD_EXIT_PARTIAL;
        }
        if (fflush(stdout) != 0) {
            code = IMD_EXIT_IO;
        }
    }
    imd_series_list_destroy(read);
    imd_cli_destroy_context(context);
    return code;
}

int main(int argc, char **argv)
{
    ImdError *error = NULL;
    Arguments args;
    memset(&args, 0, sizeof args);
    args.common.program = program;
    args.common.options = imd_options_create(&error);
    if (args.common.options == NULL) {
        return imd_cli_fail(program, &error);
    }
    int code = imd_cli_parse(&error, argc, argv, long_options, parse_option, &args, program);
    if (code < 0 && optind >= argc) {
        fprintf(stderr, "%s: no input given (see --help)\n", program);
        code = IMD_EXIT_USAGE;
    }
    if (code < 0) {
        code = run(&error, &args, argc - optind, argv + optind);
    }
    imd_options_destroy(args.common.options);
    return code;
}
