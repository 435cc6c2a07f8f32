/*
 * image_data: read one or more inputs and write them in other formats, with
 * the original command line's options (behaviour.md §8, docs/cli.md).
 *
 *   image_data [options] OUTPUT INPUT...
 */
#define _GNU_SOURCE /* getopt_long */
#include "cli_common.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const program = "image_data";

enum {
    OPT_OF = 256, OPT_SORT, OPT_ODIR, OPT_DTYPE, OPT_ORDER, OPT_TEMPLATE, OPT_GEOMETRY,
    OPT_SERINSUID, OPT_ACQUISITION, OPT_ECHO, OPT_INPUT_SORT, OPT_INPUT_FORMAT,
    OPT_INPUT_SHAPE, OPT_FRAME, OPT_SOPCLASS, OPT_SERNUM, OPT_SERDES, OPT_IMAGETYPE,
    OPT_CALLING_AET, OPT_PSOPT
};

static const struct option long_options[] = {
    {"of", required_argument, NULL, OPT_OF},
    {"sort", required_argument, NULL, OPT_SORT},
    {"odir", required_argument, NULL, OPT_ODIR},
    {"dtype", required_argument, NULL, OPT_DTYPE},
    {"order", required_argument, NULL, OPT_ORDER},
    {"template", required_argument, NULL, OPT_TEMPLATE},
    {"geometry", required_argument, NULL, OPT_GEOMETRY},
    {"input_serinsuid", required_argument, NULL, OPT_SERINSUID},
    {"input_acquisition", required_argument, NULL, OPT_ACQUISITION},
    {"input_echo", required_argument, NULL, OPT_ECHO},
    {"input_options", required_argument, NULL, IMD_CLI_OPT_INPUT_OPTIONS},
    {"headers_only", no_argument, NULL, IMD_CLI_OPT_HEADERS_ONLY},
    {"input_sort", required_argument, NULL, OPT_INPUT_SORT},
    {"input_format", required_argument, NULL, OPT_INPUT_FORMAT},
    {"input_shape", required_argument, NULL, OPT_INPUT_SHAPE},
    {"frame", required_argument, NULL, OPT_FRAME},
    {"SOPClassUID", required_argument, NULL, OPT_SOPCLASS},
    {"sernum", required_argument, NULL, OPT_SERNUM},
    {"serdes", required_argument, NULL, OPT_SERDES},
    {"imagetype", required_argument, NULL, OPT_IMAGETYPE},
    {"calling_aet", required_argument, NULL, OPT_CALLING_AET},
    {"psopt", required_argument, NULL, OPT_PSOPT},
    {"plugin", required_argument, NULL, IMD_CLI_OPT_PLUGIN},
    {"memory-limit", required_argument, NULL, IMD_CLI_OPT_MEMORY_LIMIT},
    {"verbose", no_argument, NULL, 'v'},
    {"debug", no_argument, NULL, 'd'},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *stream)
{
    fprintf(stream,
            "Usage: %s [options] OUTPUT INPUT...\n"
            "Read the inputs (together, as one input) and write each series to OUTPUT.\n"
            "OUTPUT: a file or folder name (%%p becomes the format name), file.zip or\n"
            "file.zip?member. Several series go to OUTPUT/<patient>/<date-time>/<number>-<description>.\n\n"
            "Output:\n"
            "  --of FORMAT            output format (repeatable): dicom, nifti, ... [input format]\n"
            "  --sort slice|tag       file order of 4D output [slice]\n"
            "  --odir single|multi    one folder, or a folder per tag [single]\n"
            "  --dtype TYPE           convert: uint8 uint16 int16 int float float32 float64 double\n"
            "Input:\n"
            "  --order ORDER          auto, none, time, triggertime, b, bvector, dti, fa, te,\n"
            "                         combinations (time,te) or user names (ti with\n"
            "                         --input_options ti=InversionTime) [auto]\n"
            "  --input_options K=V    reader option (repeatable), see docs/dicom-reading.md\n"
            "  --input_format NAME    read with this format only\n"
            "  --input_serinsuid UID, --input_echo N, --input_acquisition N   filters\n"
            "  --input_sort slice|tag, --headers_only, --template URL, --geometry URL\n"
            "Series attributes:\n"
            "  --sernum N  --serdes TEXT  --imagetype A,B,C  --frame UID  --SOPClassUID UID\n"
            "Other:\n"
            "  --calling_aet AET      calling AE title for dicom:// output\n"
            "  --plugin PATH          load a plugin file (repeatable; also IMAGEDATA_PLUGINS)\n"
            "  --memory-limit SIZE    refuse images larger than SIZE (e.g. 8G) [80%% of RAM]\n"
            "  -v, --verbose   -d, --debug   -V, --version   -h, --help\n\n",
            program);
    imd_cli_print_exit_codes(stream);
}

typedef struct Arguments {
    ImdCliCommon common;
    const char *formats[16];
    size_t format_count;
    const char *dtype;
} Arguments;

static bool one_of(ImdError **error, const char *option, const char *value, const char *a,
                   const char *b)
{
    if (strcmp(value, a) == 0 || strcmp(value, b) == 0) {
        return true;
    }
    imd_error_set(error, IMD_ERR_INVALID_ARG, "--%s %s: expected %s or %s", option, value, a, b);
    return false;
}

/* Options stored under the original's dest names (design.md §3.13). */
static const struct {
    int option;
    const char *key;
} stored[] = {
    {OPT_ORDER, "input_order"},       {OPT_TEMPLATE, "template"},
    {OPT_GEOMETRY, "geometry"},       {OPT_SERINSUID, "input_serinsuid"},
    {OPT_ACQUISITION, "input_acquisition"}, {OPT_ECHO, "input_echo"},
    {OPT_INPUT_FORMAT, "input_format"}, {OPT_INPUT_SHAPE, "input_shape"},
    {OPT_FRAME, "frame"},             {OPT_SOPCLASS, "SOPClassUID"},
    {OPT_SERNUM, "sernum"},           {OPT_SERDES, "serdes"},
    {OPT_IMAGETYPE, "imagetype"},     {OPT_CALLING_AET, "calling_aet"},
    {OPT_PSOPT, "psopt"},
};

/* Returns -1 to go on, else the exit code. */
static int parse_option(ImdError **error, void *state, int option)
{
    Arguments *args = state;
    int common = imd_cli_common_option(error, &args->common, option, optarg);
    if (common != IMD_CLI_NOT_COMMON) {
        return common;
    }
    for (size_t i = 0; i < sizeof stored / sizeof stored[0]; i++) {
        if (stored[i].option == option) {
            return imd_options_set(error, args->common.options, stored[i].key, optarg) ? -1 : 1;
        }
    }
    switch (option) {
    case OPT_OF:
        if (args->format_count == sizeof args->formats / sizeof args->formats[0]) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "too many --of options");
            return 1;
        }
        args->formats[args->format_count++] = optarg;
        return -1;
    case OPT_SORT:
        return one_of(error, "sort", optarg, "slice", "tag") &&
                       imd_options_set(error, args->common.options, "output_sort", optarg) ? -1 : 1;
    case OPT_ODIR:
        return one_of(error, "odir", optarg, "single", "multi") &&
                       imd_options_set(error, args->common.options, "output_dir", optarg) ? -1 : 1;
    case OPT_INPUT_SORT:
        return one_of(error, "input_sort", optarg, "slice", "tag") &&
                       imd_options_set(error, args->common.options, "input_sort", optarg) ? -1 : 1;
    case OPT_DTYPE: {
        ImdDType dtype;
        if (!imd_dtype_from_name(optarg, &dtype)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "--dtype %s: unknown type", optarg);
            return 1;
        }
        args->dtype = optarg;
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

/* --sernum, --serdes, --imagetype, --frame, --SOPClassUID applied to the series (§8). */
static bool apply_attributes(ImdError **error, const ImdOptions *options, ImdSeries *series)
{
    static const struct {
        const char *key, *keyword;
    } attributes[] = {{"sernum", "SeriesNumber"},
                      {"serdes", "SeriesDescription"},
                      {"frame", "FrameOfReferenceUID"},
                      {"SOPClassUID", "SOPClassUID"}};
    ImdHeader *header = imd_series_header(series);
    for (size_t i = 0; i < sizeof attributes / sizeof attributes[0]; i++) {
        const char *value = imd_options_get(options, attributes[i].key, NULL);
        if (value != NULL && !imd_header_set_string(error, header, attributes[i].keyword, value)) {
            return false;
        }
    }
    const char *types = imd_options_get(options, "imagetype", NULL);
    if (types == NULL) {
        return true;
    }
    char *joined = strdup(types);
    if (joined == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory");
        return false;
    }
    for (char *p = joined; *p != '\0'; p++) {
        *p = *p == ',' ? '\\' : *p; /* a,b,c -> DICOM multi-value a\b\c */
    }
    bool ok = imd_header_set_string(error, header, "ImageType", joined);
    free(joined);
    return ok;
}

/* A name part of the original's collection folders: only alphanumerics and "._-". */
static void safe_part(char *out, size_t size, const char *text)
{
    size_t n = 0;
    for (const char *p = text != NULL ? text : ""; *p != '\0' && n + 1 < size; p++) {
        unsigned char c = (unsigned char)*p;
        out[n++] = (char)(isalnum(c) || c == '.' || c == '-' || c == '_' ? c : '_');
    }
    out[n] = '\0';
}

/*
 * OUTPUT/<patient>/<study YYYYmmdd-HHMMSS>/<number>-<description> for one of
 * several series, as the original's collections are written (§8); a name
 * already used gets a trailing 0 (again, until it is new).
 */
static char *series_url(const char *output, const ImdSeries *series, char **used, size_t count)
{
    const ImdHeader *h = imd_series_const_header(series);
    char patient[64], date[16], time[16], number[16], description[96];
    safe_part(patient, sizeof patient, imd_header_get_string(h, "PatientID"));
    safe_part(date, sizeof date, imd_header_get_string(h, "StudyDate"));
    safe_part(time, sizeof time, imd_header_get_string(h, "StudyTime"));
    safe_part(number, sizeof number, imd_header_get_string(h, "SeriesNumber"));
    safe_part(description, sizeof description, imd_header_get_string(h, "SeriesDescription"));
    time[6] = '\0'; /* HHMMSS */
    size_t size = strlen(output) + 256 + count + 1;
    char *url = malloc(size);
    if (url == NULL) {
        return NULL;
    }
    snprintf(url, size, "%s/%s/%s-%s/%s-%s", output, patient[0] ? patient : "patient",
             date[0] ? date : "date", time[0] ? time : "time", number[0] ? number : "0",
             description[0] ? description : "series");
    for (size_t i = 0; i < count; i++) {
        if (used[i] != NULL && strcmp(used[i], url) == 0) {
            strcat(url, "0");
            i = (size_t)-1; /* compare with every name again */
        }
    }
    return url;
}

/* Write one series in every --of format (dicom when none is given). */
static int write_formats(ImdError **error, ImdContext *context, const Arguments *args,
                         const ImdSeries *series, const char *url)
{
    size_t count = args->format_count > 0 ? args->format_count : 1;
    for (size_t i = 0; i < count; i++) {
        const char *format = args->format_count > 0 ? args->formats[i] : "dicom";
        if (!imd_write(error, context, series, url, format, args->common.options)) {
            return imd_cli_fail(program, error);
        }
        imd_context_log(context, IMD_LOG_INFO, "wrote %s (%s)", url, format);
    }
    return IMD_EXIT_OK;
}

static int write_series(ImdError **error, ImdContext *context, const Arguments *args,
                        ImdSeries *series, const char *url)
{
    if (!apply_attributes(error, args->common.options, series)) {
        return imd_cli_fail(program, error);
    }
    ImdSeries *converted = NULL;
    if (args->dtype != NULL) {
        ImdDType dtype;
        (void)imd_dtype_from_name(args->dtype, &dtype);
        converted = imd_series_convert(error, series, dtype);
        if (converted == NULL) {
            return imd_cli_fail(program, error);
        }
    }
    int code = write_formats(error, context, args, converted != NULL ? converted : series, url);
    imd_series_destroy(converted);
    return code;
}

static int run(ImdError **error, Arguments *args, const char *output, int count, char **inputs)
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
    int code = IMD_EXIT_OK;
    ImdSeriesList *list = NULL;
    if (!imd_cli_load_plugins(error, context, args->common.plugins, args->common.plugin_count)) {
        (void)imd_cli_fail(program, error);
        code = IMD_EXIT_USAGE; /* a plugin that cannot be loaded is a configuration error */
    } else if ((list = imd_read(error, context, (const char *const *)inputs, (size_t)count,
                                args->common.options)) == NULL) {
        code = imd_cli_fail(program, error);
    }
    size_t series_count = imd_series_list_count(list), written = 0, failed = 0;
    char **used = series_count > 1 ? calloc(series_count, sizeof *used) : NULL;
    for (size_t i = 0; code == IMD_EXIT_OK && i < series_count; i++) {
        ImdSeries *series = imd_series_list_get(list, i);
        /* Several series: each to its own folder, as the original's collections (§8). */
        char *url = series_count == 1 ? strdup(output)
                    : used != NULL   ? series_url(output, series, used, i)
                                     : NULL;
        if (url == NULL) {
            imd_error_set(error, IMD_ERR_NOMEM, "out of memory");
            code = imd_cli_fail(program, error);
            break;
        }
        code = write_series(error, context, args, series, url);
        if (used != NULL) {
            used[i] = url;
        } else {
            free(url);
        }
        /* One of several series failed (reported): the others are still written. */
        if (code != IMD_EXIT_OK && series_count > 1 && code != IMD_EXIT_INTERNAL &&
            imd_cli_signal() == 0) {
            failed++;
            code = IMD_EXIT_OK;
        } else if (code == IMD_EXIT_OK) {
            written++;
        }
    }
    if (code == IMD_EXIT_OK && (failed > 0 || log.skipped > 0)) {
        fprintf(stderr, "%s: partial result: %zu series written, %zu failed, %zu input(s) "
                "skipped\n", program, written, failed, log.skipped);
        code = written > 0 ? IMD_EXIT_PARTIAL : failed > 0 ? IMD_EXIT_IO : IMD_EXIT_NO_DATA;
    }
    for (size_t i = 0; used != NULL && i < series_count; i++) {
        free(used[i]);
    }
    free(used);
    imd_series_list_destroy(list);
    imd_context_destroy(context);
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
    if (code < 0 && argc - optind < 2) {
        fprintf(stderr, "%s: expected OUTPUT and at least one INPUT (see --help)\n", program);
        code = IMD_EXIT_USAGE;
    }
    if (code < 0) {
        code = run(&error, &args, argv[optind], argc - optind - 1, argv + optind + 1);
    }
    imd_options_destroy(args.common.options);
    return code;
}
