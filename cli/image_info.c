/*
 * image_info: print what each input holds, series by series, as a readable
 * summary or as JSON (docs/cli.md, docs/json.md).
 */
#define _GNU_SOURCE /* getopt_long */
#include "cli_common.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const program = "image_info";

enum {
    OPT_JSON = 256,
    OPT_STATS
};

static void usage(FILE *stream)
{
    fprintf(stream,
            "Usage: %s [options] URL...\n"
            "Print each series found in the inputs (read together as one input).\n\n"
            "Options:\n"
            "  --json                 print a JSON array, one object per series\n"
            "  --stats                add min, max and sum of the voxels\n"
            "  --order ORDER          input order: auto, none, time, b, fa, te, ... [auto]\n"
            "  --input_options K=V    a reader option (repeatable), e.g. ti=InversionTime\n"
            "  --input_format NAME    read only with this format plugin\n"
            "  --template URL         take DICOM identity (patient, study, ...) from URL\n"
            "  --geometry URL         take geometry (positions, orientation, spacing) from URL\n"
            "  --headers_only         read headers, not voxels\n"
            "  --plugin PATH          load a plugin file (repeatable; also IMAGEDATA_PLUGINS)\n"
            "  --memory-limit SIZE    refuse images larger than SIZE (e.g. 8G) [80%% of RAM]\n"
            "  --threads N            threads to use, 0 for one per core [0]\n"
            "  -v, --verbose          report what was read and skipped\n"
            "  -d, --debug            report details\n"
            "  -V, --version          print the version\n"
            "  -h, --help             this help\n\n"
            "URLs: a file, a folder, a zip file, or zip?member_pattern.\n\n",
            program);
    imd_cli_print_exit_codes(stream);
}

typedef struct Arguments {
    ImdCliCommon common;
    bool json, stats;
} Arguments;

static const struct option long_options[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"stats", no_argument, NULL, OPT_STATS},
    {"order", required_argument, NULL, IMD_CLI_OPT_ORDER},
    {"input_options", required_argument, NULL, IMD_CLI_OPT_INPUT_OPTIONS},
    {"input_format", required_argument, NULL, IMD_CLI_OPT_INPUT_FORMAT},
    {"template", required_argument, NULL, IMD_CLI_OPT_TEMPLATE},
    {"geometry", required_argument, NULL, IMD_CLI_OPT_GEOMETRY},
    {"headers_only", no_argument, NULL, IMD_CLI_OPT_HEADERS_ONLY},
    {"plugin", required_argument, NULL, IMD_CLI_OPT_PLUGIN},
    {"memory-limit", required_argument, NULL, IMD_CLI_OPT_MEMORY_LIMIT},
    {"threads", required_argument, NULL, IMD_CLI_OPT_THREADS},
    {"verbose", no_argument, NULL, 'v'},
    {"debug", no_argument, NULL, 'd'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to go on, else the exit code. */
static int parse_option(ImdError **error, void *state, int option)
{
    Arguments *args = state;
    int common = imd_cli_common_option(error, &args->common, option, optarg);
    if (common != IMD_CLI_NOT_COMMON) {
        return common;
    }
    switch (option) {
    case OPT_JSON:
        args->json = true;
        return -1;
    case OPT_STATS:
        args->stats = true;
        return -1;
    case 'h':
        usage(stdout);
        return 0;
    default:
        usage(stderr);
        return IMD_EXIT_USAGE;
    }
}

/* "label value value ..." with the known values only; nothing when none is known. */
static void print_line(const ImdHeader *header, const char *label, const char *const *keywords,
                       const char *separator)
{
    bool any = false;
    for (const char *const *k = keywords; *k != NULL; k++) {
        const char *value = imd_header_get_string(header, *k);
        if (value != NULL && value[0] != '\0') {
            printf("%s%s", any ? separator : label, value);
            any = true;
        }
    }
    if (any) {
        putchar('\n');
    }
}

/* The original's str(Series) lines (behaviour.md §1.3), plus geometry. */
static void print_summary(const char *url, const ImdSeries *series, bool stats)
{
    static const char *const patient[] = {"PatientID", "PatientName", NULL};
    static const char *const study[] = {"StudyDate", "StudyTime", NULL};
    static const char *const number[] = {"SeriesNumber", NULL};
    static const char *const description[] = {"Modality", "SeriesDescription", NULL};
    const ImdHeader *header = imd_series_const_header(series);
    printf("%s\n", url);
    print_line(header, "  Patient: ", patient, " ");
    print_line(header, "  Study Time: ", study, " ");
    print_line(header, "  Series #", number, "");
    print_line(header, "  Series: ", description, ": ");
    /* A piece of a split series: the label that template_series= / geometry_series= take. */
    const char *split = imd_header_get_string(header, "SplitLabel");
    if (split != NULL && split[0] != '\0') {
        printf("  Split label: %s\n", split);
    }
    fputs("  Shape: ", stdout);
    size_t tags = imd_series_tag_ndim(series);
    for (size_t d = 0; d < imd_series_ndim(series); d++) {
        printf("%s%zu%s", d > 0 ? "x" : "", imd_series_dim(series, d), d < tags ? "t" : "");
    }
    printf(", dtype: %s, input order: %s\n", imd_dtype_name(imd_series_dtype(series)),
           imd_header_input_order(header));
    double spacing[3];
    imd_series_spacing(series, spacing);
    printf("  Spacing: %g %g %g (slice, row, column; mm)\n", spacing[0], spacing[1],
           spacing[2]);
    ImdVec3 row, column;
    imd_header_orientation(header, &row, &column);
    printf("  Orientation: row (%g, %g, %g), column (%g, %g, %g) (x, y, z; LPS)\n", row.x,
           row.y, row.z, column.x, column.y, column.z);
    ImdStats values;
    if (stats && imd_series_stats(NULL, series, &values)) {
        printf("  Min: %g, max: %g, sum: %.17g\n", values.min, values.max, values.sum);
    }
}

static int print_all(ImdError **error, const Arguments *args, const char *url,
                     const ImdSeriesList *list)
{
    if (args->json) {
        fputs("[", stdout);
    }
    for (size_t i = 0; i < imd_series_list_count(list); i++) {
        const ImdSeries *series = imd_series_list_get(list, i);
        if (!args->json) {
            print_summary(url, series, args->stats);
            continue;
        }
        char *text = imd_series_to_json(error, series, url, args->stats ? IMD_JSON_STATS : 0);
        if (text == NULL) {
            return imd_cli_fail(program, error);
        }
        printf("%s%s", i > 0 ? ",\n " : "", text);
        imd_free(text);
    }
    if (args->json) {
        fputs("]\n", stdout);
    }
    return fflush(stdout) == 0 ? IMD_EXIT_OK : IMD_EXIT_IO;
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
    ImdCliProgress progress;
    imd_cli_progress_init(&progress, program);
    imd_context_set_progress(context, imd_cli_progress, &progress);
    int code;
    ImdSeriesList *list = NULL;
    if (!imd_cli_load_plugins(error, context, args->common.plugins, args->common.plugin_count)) {
        /* Whatever the reason, a plugin that cannot be loaded is a configuration error. */
        (void)imd_cli_fail(program, error);
        code = IMD_EXIT_USAGE;
    } else if ((list = imd_read(error, context, (const char *const *)urls, (size_t)count,
                                args->common.options)) == NULL) {
        code = imd_cli_fail(program, error);
    } else {
        code = print_all(error, args, urls[0], list);
        if (code == IMD_EXIT_OK && log.skipped > 0) {
            code = IMD_EXIT_PARTIAL; /* described what was read; some inputs were left out */
        }
    }
    imd_series_list_destroy(list);
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
        fprintf(stderr, "%s: no input given (see --help)\n", program);
        code = IMD_EXIT_USAGE;
    }
    if (code < 0) {
        code = run(&error, &args, argc - optind, argv + optind);
    }
    imd_options_destroy(args.common.options);
    return code;
}
