/*
 * image_data: read one or more inputs and write them in other formats, with
 * the original command line's options (behaviour.md §8, docs/cli.md).
 *
 *   image_data [options] OUTPUT INPUT...
 */
#define _GNU_SOURCE /* getopt_long */
#include "cli_common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const program = "image_data";

enum {
    OPT_OF = 256, OPT_SORT, OPT_ODIR, OPT_DTYPE, OPT_ORDER, OPT_TEMPLATE, OPT_GEOMETRY,
    OPT_SERINSUID, OPT_ACQUISITION, OPT_ECHO, OPT_INPUT_SORT, OPT_INPUT_FORMAT,
    OPT_INPUT_SHAPE, OPT_FRAME, OPT_SOPCLASS, OPT_SERNUM, OPT_SERDES, OPT_IMAGETYPE,
    OPT_CALLING_AET, OPT_PSOPT, OPT_NAME, OPT_NO_GZIP, OPT_TS
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
    IMD_CLI_TLS_LONG_OPTIONS,
    {"psopt", required_argument, NULL, OPT_PSOPT},
    {"name", required_argument, NULL, OPT_NAME},
    {"no-gzip", no_argument, NULL, OPT_NO_GZIP},
    {"ts", required_argument, NULL, OPT_TS},
    {"plugin", required_argument, NULL, IMD_CLI_OPT_PLUGIN},
    {"memory-limit", required_argument, NULL, IMD_CLI_OPT_MEMORY_LIMIT},
    {"threads", required_argument, NULL, IMD_CLI_OPT_THREADS},
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
            "  --name PATTERN         each series' name below OUTPUT when there are several:\n"
            "                         %%i patient ID, %%n name, %%D study date, %%T study time,\n"
            "                         %%t both, %%s series number, %%d description, %%p protocol,\n"
            "                         %%e echo, %%m manufacturer, %%l split label; / for folders\n"
            "                         [%%i/%%D-%%T/%%s-%%d, and _%%l when a series was split]\n"
            "  --no-gzip              NIfTI as .nii (not .nii.gz) when OUTPUT has no suffix\n"
            "  --ts SYNTAX            DICOM output transfer syntax, lossless: explicit, implicit,\n"
            "                         deflate, rle, jpegls, j2k, jpeg-lossless, or a UID [explicit]\n"
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
            IMD_CLI_TLS_HELP
            "  --plugin PATH          load a plugin file (repeatable; also IMAGEDATA_PLUGINS)\n"
            "  --memory-limit SIZE    refuse images larger than SIZE (e.g. 8G) [80%% of RAM]\n"
            "  --threads N            threads to use, 0 for one per core; the output is the\n"
            "                         same for any N [0]\n"
            "  -v, --verbose   -d, --debug   -V, --version   -h, --help\n\n",
            program);
    imd_cli_print_exit_codes(stream);
}

typedef struct Arguments {
    ImdCliCommon common;
    /* What this program applies itself (--sernum ...) or only accepts
     * (--input_shape): kept out of common.options, where the library refuses
     * names no format reads (--psopt goes to the PostScript reader). */
    ImdOptions *attributes;
    const char *name_pattern; /* --name, or NULL for the collection layout */
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

/* Options stored under the original's dest names (design.md §3.13); `own`:
 * in the program's attributes, not the library's options. */
static const struct {
    int option;
    const char *key;
    bool own;
} stored[] = {
    {OPT_ORDER, "input_order", false},       {OPT_TEMPLATE, "template", false},
    {OPT_GEOMETRY, "geometry", false},       {OPT_SERINSUID, "input_serinsuid", false},
    {OPT_ACQUISITION, "input_acquisition", false}, {OPT_ECHO, "input_echo", false},
    {OPT_INPUT_FORMAT, "input_format", false}, {OPT_INPUT_SHAPE, "input_shape", true},
    {OPT_FRAME, "frame", true},              {OPT_SOPCLASS, "SOPClassUID", true},
    {OPT_SERNUM, "sernum", true},            {OPT_SERDES, "serdes", true},
    {OPT_IMAGETYPE, "imagetype", true},      {OPT_CALLING_AET, "calling_aet", false},
    {OPT_PSOPT, "psopt", false},              {OPT_TS, "output_transfer_syntax", false},
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
            ImdOptions *into = stored[i].own ? args->attributes : args->common.options;
            return imd_options_set(error, into, stored[i].key, optarg) ? -1 : 1;
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
    case OPT_NAME:
        if (optarg[0] == '\0' || optarg[0] == '/' || strstr(optarg, "..") != NULL) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "--name %s: a relative pattern without \"..\" is needed", optarg);
            return 1;
        }
        args->name_pattern = optarg;
        return -1;
    case OPT_NO_GZIP:
        return imd_options_set(error, args->common.options, "gzip", "false") ? -1 : 1;
    case 'h':
        usage(stdout);
        return 0;
    default:
        usage(stderr);
        return IMD_EXIT_USAGE;
    }
}

/*
 * Sending DICOM files to a node keeps their UIDs unless keep_uid is given
 * (issue 17 item 2): a re-run after a failure sends the same instances again,
 * which the node takes as the same objects, not as copies. Only a series as
 * the DICOM reader made it qualifies (every image has its SOPInstanceUID,
 * which only that reader records), with no template, geometry, resampling or
 * --dtype: those make new data, which gets new UIDs as in a folder write.
 * --sernum/--serdes/--imagetype that change a value make new objects too (an
 * instance UID names one content, PS3.3 C.12.1.1.1); the same values again
 * (the seed's re-send of a result written with them) keep the UIDs.
 */
static bool keeps_uids(const Arguments *args, const ImdSeries *series, bool changed,
                       const char *url)
{
    const ImdOptions *o = args->common.options;
    if (strncmp(url, "dicom://", 8) != 0 || changed ||
        imd_options_get(o, "keep_uid", NULL) != NULL || imd_options_get(o, "template", NULL) != NULL ||
        imd_options_get(o, "geometry", NULL) != NULL ||
        strcmp(imd_options_get(o, "resample", "none"), "none") != 0) {
        return false;
    }
    const ImdHeader *header = imd_series_const_header(series);
    size_t slices = imd_header_tag_slices(header), ndim = imd_header_tag_ndim(header);
    size_t cells = 1;
    for (size_t d = 0; d < ndim; d++) {
        cells *= imd_header_tag_shape(header, d);
    }
    size_t index[IMD_MAX_TAG_DIMS] = {0};
    for (size_t s = 0; s < slices; s++) {
        for (size_t c = 0; c < cells; c++) {
            size_t rest = c;
            for (size_t d = ndim; d-- > 0;) {
                index[d] = rest % imd_header_tag_shape(header, d);
                rest /= imd_header_tag_shape(header, d);
            }
            if (imd_header_instance_uid(header, s, index) == NULL) {
                return false;
            }
        }
    }
    return slices > 0;
}

/* Write one series in every --of format (dicom when none is given). */
static int write_formats(ImdError **error, ImdContext *context, const Arguments *args,
                         const ImdSeries *series, const char *url, bool changed)
{
    size_t count = args->format_count > 0 ? args->format_count : 1;
    ImdOptions *keep = NULL;
    if (keeps_uids(args, series, changed, url)) {
        keep = imd_options_clone(error, args->common.options);
        if (keep == NULL || !imd_options_set(error, keep, "keep_uid", "true")) {
            imd_options_destroy(keep);
            return imd_cli_fail(program, error);
        }
        imd_context_log(context, IMD_LOG_INFO,
                        "%s: sending DICOM input with its own UIDs (keep_uid=false for new ones)",
                        url);
    }
    for (size_t i = 0; i < count; i++) {
        const char *format = args->format_count > 0 ? args->formats[i] : "dicom";
        if (!imd_write(error, context, series, url, format,
                       keep != NULL ? keep : args->common.options)) {
            imd_options_destroy(keep);
            return imd_cli_fail(program, error);
        }
        imd_context_log(context, IMD_LOG_INFO, "wrote %s (%s)", url, format);
    }
    imd_options_destroy(keep);
    return IMD_EXIT_OK;
}

static int write_series(ImdError **error, ImdContext *context, const Arguments *args,
                        ImdSeries *series, const char *url)
{
    bool relabelled = false;
    if (!imd_series_set_labels(error, series, args->attributes, &relabelled)) {
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
    int code = write_formats(error, context, args, converted != NULL ? converted : series, url,
                             relabelled || converted != NULL);
    imd_series_destroy(converted);
    return code;
}

/*
 * Series are written as the reader hands them over (imd_read_each), so that a
 * folder of many series needs the memory of about one series, not of all. The
 * first is held until a second shows that there are several (one series is
 * written to OUTPUT itself, several each to OUTPUT/<--name>).
 */
typedef struct Writer {
    ImdContext *context;
    Arguments *args;
    const char *output;
    char *folder; /* OUTPUT without .nii/.nii.gz when several series go there */
    ImdSeries *first;
    size_t seen, written, failed;
    char **used; /* the names given so far */
    size_t used_count, used_capacity;
    int code;    /* a fatal exit code (internal error): nothing more is written */
} Writer;

/* Several series into OUTPUT.nii or OUTPUT.nii.gz: a folder OUTPUT holding .nii or
 * .nii.gz files (not a folder named out.nii full of .nii.gz). */
static bool prepare_several(ImdError **error, Writer *w)
{
    size_t length = strlen(w->output);
    bool nii = length > 4 && strcmp(w->output + length - 4, ".nii") == 0;
    bool nii_gz = length > 7 && strcmp(w->output + length - 7, ".nii.gz") == 0;
    if (!nii && !nii_gz) {
        return true;
    }
    w->folder = strndup(w->output, length - (nii ? 4 : 7));
    if (w->folder == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory");
        return false;
    }
    w->output = w->folder;
    return !nii || imd_options_set(error, w->args->common.options, "gzip", "false");
}

/* Keep `url` (taken) among the names used. */
static bool remember_name(Writer *w, char *url)
{
    if (w->used_count == w->used_capacity) {
        size_t capacity = w->used_capacity > 0 ? 2 * w->used_capacity : 16;
        char **grown = realloc(w->used, capacity * sizeof *grown);
        if (grown == NULL) {
            return false;
        }
        w->used = grown;
        w->used_capacity = capacity;
    }
    w->used[w->used_count++] = url;
    return true;
}

/* Write one series (and destroy it); one of several that fails is counted, not fatal. */
static void write_one(ImdError **error, Writer *w, ImdSeries *series, bool several)
{
    const char *pattern =
        w->args->name_pattern != NULL ? w->args->name_pattern : IMD_SERIES_NAME_DEFAULT;
    char *url = several ? imd_series_output_name(series, w->output, pattern,
                                                 (const char *const *)w->used, w->used_count)
                        : strdup(w->output);
    int code = IMD_EXIT_INTERNAL;
    if (url == NULL || (several && !remember_name(w, url))) {
        imd_error_set(error, IMD_ERR_NOMEM, "out of memory");
        code = imd_cli_fail(program, error);
        free(url);
        url = NULL;
    } else {
        code = write_series(error, w->context, w->args, series, url);
    }
    if (!several) {
        free(url);
    }
    imd_series_destroy(series);
    if (code == IMD_EXIT_OK) {
        w->written++;
    } else if (several && code != IMD_EXIT_INTERNAL && imd_cli_signal() == 0) {
        w->failed++; /* reported; the others are still written (not after a signal) */
    } else {
        w->code = code;
    }
}

static bool consume(ImdError **error, void *user, ImdSeries *series)
{
    Writer *w = user;
    if (w->code != IMD_EXIT_OK) {
        imd_series_destroy(series);
        return true;
    }
    if (++w->seen == 1) {
        w->first = series;
        return true;
    }
    if (w->seen == 2) {
        if (!prepare_several(error, w)) {
            w->code = imd_cli_fail(program, error);
            imd_series_destroy(series);
            return true;
        }
        ImdSeries *first = w->first;
        w->first = NULL;
        write_one(error, w, first, true);
    }
    if (w->code == IMD_EXIT_OK) {
        write_one(error, w, series, true);
    } else {
        imd_series_destroy(series);
    }
    return true;
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
    Writer w = {.context = context, .args = args, .output = output, .code = IMD_EXIT_OK};
    ImdSeriesList *failures = NULL;
    if (!imd_cli_load_plugins(error, context, args->common.plugins, args->common.plugin_count)) {
        (void)imd_cli_fail(program, error);
        w.code = IMD_EXIT_USAGE; /* a plugin that cannot be loaded is a configuration error */
    } else if ((failures = imd_read_each(error, context, (const char *const *)inputs,
                                         (size_t)count, args->common.options, consume,
                                         &w)) == NULL) {
        int code = imd_cli_fail(program, error);
        w.code = w.code != IMD_EXIT_OK ? w.code : code;
    }
    if (w.first != NULL) {
        ImdSeries *only = w.first;
        w.first = NULL;
        if (w.code == IMD_EXIT_OK) {
            write_one(error, &w, only, false);
        } else {
            imd_series_destroy(only);
        }
    }
    int code = w.code;
    if (code == IMD_EXIT_OK && (w.failed > 0 || log.skipped > 0)) {
        fprintf(stderr, "%s: partial result: %zu series written, %zu failed, %zu input(s) "
                "skipped\n", program, w.written, w.failed, log.skipped);
        code = w.written > 0 ? IMD_EXIT_PARTIAL : w.failed > 0 ? IMD_EXIT_IO : IMD_EXIT_NO_DATA;
    }
    for (size_t i = 0; i < w.used_count; i++) {
        free(w.used[i]);
    }
    free(w.used);
    free(w.folder);
    imd_series_list_destroy(failures);
    imd_cli_destroy_context(context);
    return code;
}

int main(int argc, char **argv)
{
    ImdError *error = NULL;
    Arguments args = {.common = {.program = program}};
    args.common.options = imd_options_create(&error);
    args.attributes = args.common.options != NULL ? imd_options_create(&error) : NULL;
    if (args.attributes == NULL) {
        imd_options_destroy(args.common.options);
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
    imd_options_destroy(args.attributes);
    return code;
}
