/*
 * dicom_dump: print the elements of DICOM files, as a readable dump or in
 * the DICOM JSON model (docs/dicom_dump.md).
 */
#define _GNU_SOURCE /* getopt_long */
#include "cli_common.h"

#include <imagedata/dicom.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const program = "dicom_dump";

/* Characters of a value shown in the readable dump before "...". */
#define SHOWN_CHARS 64

enum { OPT_JSON = 256, OPT_PIXEL_DATA, OPT_META, OPT_THREADS };

static void usage(FILE *stream)
{
    fprintf(stream,
            "Usage: %s [options] FILE...\n"
            "Print the elements of DICOM files (Part 10 files or bare data sets).\n\n"
            "Options:\n"
            "  --json          print the DICOM JSON model (PS3.18 Annex F): one object,\n"
            "                  or an array of objects when several files are given\n"
            "  --pixel-data    with --json: include Pixel Data (7FE0,0010) as InlineBinary\n"
            "  --meta          with --json: include the file meta group (0002,xxxx)\n"
            "  --threads N     accepted as by the other programs (0 to 256); files are\n"
            "                  read one at a time, so it changes nothing here\n"
            "  -V, --version   print the version\n"
            "  -h, --help      this help\n\n"
            "The readable dump shows one element a line: (gggg,eeee) VR length keyword value,\n"
            "indented by sequence depth; long values are cut after %d characters.\n"
            "Warnings about a file go to stderr; a file that cannot be read is reported\n"
            "there and skipped, and the exit code is that of the first failure.\n\n",
            program, SHOWN_CHARS);
    imd_cli_print_exit_codes(stream);
}

typedef struct Arguments {
    bool json;
    unsigned json_flags;
} Arguments;

static const struct option long_options[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"pixel-data", no_argument, NULL, OPT_PIXEL_DATA},
    {"meta", no_argument, NULL, OPT_META},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"version", no_argument, NULL, 'V'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Returns -1 to go on, else the exit code. */
static int parse_option(Arguments *args, int option)
{
    switch (option) {
    case OPT_JSON:
        args->json = true;
        return -1;
    case OPT_PIXEL_DATA:
        args->json_flags |= IMD_DICOM_JSON_PIXEL_DATA;
        return -1;
    case OPT_META:
        args->json_flags |= IMD_DICOM_JSON_META;
        return -1;
    case OPT_THREADS: {
        /* Validated as everywhere (a script may pass the same options to every program). */
        ImdError *error = NULL;
        unsigned threads;
        if (!imd_cli_parse_threads(&error, optarg, &threads)) {
            return imd_cli_fail(program, &error);
        }
        return -1;
    }
    case 'V':
        printf("%s %s\n", program, imd_version());
        return 0;
    case 'h':
        usage(stdout);
        return 0;
    default:
        usage(stderr);
        return IMD_EXIT_USAGE;
    }
}

/* ---- the readable dump ---- */

/* A value as shown: at most SHOWN_CHARS characters, control characters escaped. */
typedef struct Shown {
    char text[SHOWN_CHARS * 4 + 8];
    size_t length, chars;
    bool truncated;
} Shown;

static bool shown_full(Shown *shown)
{
    if (shown->chars >= SHOWN_CHARS) {
        shown->truncated = true;
        return true;
    }
    return false;
}

static void show_bytes(Shown *shown, const char *data, size_t size)
{
    for (size_t i = 0; i < size && !shown_full(shown);) {
        unsigned char c = (unsigned char)data[i];
        size_t length = 1;
        if (c >= 0xc0) { /* keep a UTF-8 sequence whole */
            while (i + length < size && length < 4 &&
                   ((unsigned char)data[i + length] & 0xc0) == 0x80) {
                length++;
            }
        }
        char escaped[8];
        const char *piece = data + i;
        size_t piece_length = length;
        if (c < 0x20 || c == 0x7f) {
            (void)snprintf(escaped, sizeof escaped, c == '\n' ? "\\n" : c == '\r' ? "\\r"
                                                                 : c == '\t' ? "\\t"
                                                                             : "\\x%02x",
                           c);
            piece = escaped;
            piece_length = strlen(escaped);
        }
        memcpy(shown->text + shown->length, piece, piece_length);
        shown->length += piece_length;
        shown->text[shown->length] = '\0';
        shown->chars++;
        i += length;
    }
}

static void show_text(Shown *shown, const char *text)
{
    show_bytes(shown, text, strlen(text));
}

static bool is_binary_number(ImdVR vr)
{
    switch (vr) {
    case IMD_VR_US:
    case IMD_VR_SS:
    case IMD_VR_UL:
    case IMD_VR_SL:
    case IMD_VR_UV:
    case IMD_VR_SV:
    case IMD_VR_FL:
    case IMD_VR_FD:
    case IMD_VR_AT:
    case IMD_VR_US_SS:
        return true;
    default:
        return false;
    }
}

static size_t number_unit(ImdVR vr)
{
    return vr == IMD_VR_US || vr == IMD_VR_SS || vr == IMD_VR_US_SS ? 2
           : vr == IMD_VR_FD || vr == IMD_VR_SV || vr == IMD_VR_UV  ? 8
                                                                     : 4;
}

static uint64_t load_le(const uint8_t *p, size_t size)
{
    uint64_t value = 0;
    for (size_t i = size; i > 0; i--) {
        value = value << 8 | p[i - 1];
    }
    return value;
}

/* Binary numbers, values separated by '\' (little endian: the data set's order). */
static void show_numbers(Shown *shown, ImdVR vr, const uint8_t *bytes, size_t size)
{
    size_t unit = number_unit(vr);
    for (size_t i = 0; i + unit <= size && !shown_full(shown); i += unit) {
        uint64_t v = load_le(bytes + i, unit);
        char number[40];
        switch (vr) {
        case IMD_VR_SS:
            (void)snprintf(number, sizeof number, "%d", (int)(int16_t)v);
            break;
        case IMD_VR_SL:
            (void)snprintf(number, sizeof number, "%" PRId32, (int32_t)v);
            break;
        case IMD_VR_SV:
            (void)snprintf(number, sizeof number, "%" PRId64, (int64_t)v);
            break;
        case IMD_VR_AT:
            (void)snprintf(number, sizeof number, "(%04x,%04x)", (unsigned)(v & 0xffff),
                           (unsigned)(v >> 16));
            break;
        case IMD_VR_FL: {
            uint32_t bits = (uint32_t)v;
            float f;
            memcpy(&f, &bits, sizeof f);
            (void)snprintf(number, sizeof number, "%.9g", (double)f);
            break;
        }
        case IMD_VR_FD: {
            double d;
            memcpy(&d, &v, sizeof d);
            (void)snprintf(number, sizeof number, "%.17g", d);
            break;
        }
        default:
            (void)snprintf(number, sizeof number, "%" PRIu64, v);
            break;
        }
        if (i > 0) {
            show_text(shown, "\\");
        }
        show_text(shown, number);
    }
    if (size % unit != 0) {
        char note[48];
        (void)snprintf(note, sizeof note, " (%zu stray bytes)", size % unit);
        show_text(shown, note);
    }
}

static const char *keyword_of(uint32_t tag)
{
    const char *keyword = imd_dicom_keyword(tag);
    if (keyword != NULL) {
        return keyword;
    }
    uint16_t element = IMD_TAG_ELEMENT(tag);
    if (element == 0) {
        return "GroupLength";
    }
    if ((IMD_TAG_GROUP(tag) & 1) != 0 && element >= 0x0010 && element <= 0x00ff) {
        return "PrivateCreator";
    }
    return "?";
}

static void indent(unsigned depth)
{
    for (unsigned i = 0; i < depth; i++) {
        fputs("  ", stdout);
    }
}

static void print_dataset(const ImdDicomDataSet *dataset, unsigned depth);

/* Each frame of encapsulated pixel data: its fragments and compressed size
 * (PS3.5 A.4; found as the decoder finds them). */
static void print_frames(const ImdDicomDataSet *dataset, unsigned depth)
{
    for (size_t frame = 0;; frame++) {
        size_t first, count, size;
        ImdError *error = NULL;
        if (!imd_dicom_dataset_frame_fragments(&error, dataset, frame, &first, &count, &size)) {
            if (imd_error_code(error) != IMD_ERR_INVALID_ARG) {
                indent(depth);
                printf("frame %zu: %s\n", frame + 1, imd_error_message(error));
            }
            imd_error_clear(&error);
            return;
        }
        indent(depth);
        if (count == 1) {
            printf("frame %zu: fragment %zu, %zu bytes compressed\n", frame + 1, first + 1, size);
        } else {
            printf("frame %zu: fragments %zu-%zu, %zu bytes compressed\n", frame + 1, first + 1,
                   first + count, size);
        }
    }
}

static void print_element(const ImdDicomDataSet *dataset, const ImdDicomElement *element,
                          unsigned depth)
{
    uint32_t tag = imd_dicom_element_tag(element);
    ImdVR vr = imd_dicom_element_vr(element);
    const char *vr_name = imd_dicom_vr_name(vr);
    size_t size = 0;
    const uint8_t *bytes = imd_dicom_element_bytes(element, &size);
    size_t items = imd_dicom_element_item_count(element);
    bool encapsulated = imd_dicom_element_is_encapsulated(element);
    Shown shown = {.length = 0};

    indent(depth);
    printf("(%04x,%04x) %s ", (unsigned)IMD_TAG_GROUP(tag), (unsigned)IMD_TAG_ELEMENT(tag),
           vr_name != NULL ? vr_name : "??");
    if (vr == IMD_VR_SQ || items > 0 || encapsulated) {
        fputs("-", stdout);
    } else {
        printf("%zu", size);
    }
    printf(" %s", keyword_of(tag));

    if (vr == IMD_VR_SQ || items > 0) {
        printf(" (%zu item%s)\n", items, items == 1 ? "" : "s");
        for (size_t i = 0; i < items; i++) {
            const ImdDicomDataSet *item = imd_dicom_element_item(element, i);
            indent(depth + 1);
            printf("(fffe,e000) item %zu\n", i + 1);
            print_dataset(item, depth + 2);
        }
        return;
    }
    if (encapsulated) {
        size_t fragments = imd_dicom_element_fragment_count(element), table = 0;
        (void)imd_dicom_element_offset_table(element, &table);
        printf(" (encapsulated: offset table %zu bytes, %zu fragment%s)\n", table, fragments,
               fragments == 1 ? "" : "s");
        indent(depth + 1);
        printf("(fffe,e000) offset table %zu bytes\n", table);
        for (size_t i = 0; i < fragments; i++) {
            size_t fragment = 0;
            (void)imd_dicom_element_fragment(element, i, &fragment);
            indent(depth + 1);
            printf("(fffe,e000) fragment %zu %zu bytes\n", i + 1, fragment);
        }
        if (depth == 0 && tag == IMD_TAG(0x7fe0, 0x0010)) {
            print_frames(dataset, depth + 1);
        }
        return;
    }
    if (size == 0) {
        putchar('\n');
        return;
    }
    if (is_binary_number(vr)) {
        show_numbers(&shown, vr, bytes, size);
    } else if (vr == IMD_VR_NONE || vr_name == NULL || vr == IMD_VR_OB || vr == IMD_VR_OW ||
               vr == IMD_VR_OD || vr == IMD_VR_OF || vr == IMD_VR_OL || vr == IMD_VR_OV ||
               vr == IMD_VR_UN || vr == IMD_VR_OB_OW || vr == IMD_VR_US_SS_OW) {
        char note[48];
        (void)snprintf(note, sizeof note, "(%zu bytes)", size);
        show_text(&shown, note);
    } else {
        ImdError *error = NULL;
        char *text = imd_dicom_element_string(&error, dataset, element);
        if (text != NULL) {
            show_text(&shown, text);
            imd_free(text);
        } else {
            show_text(&shown, "(cannot decode: ");
            show_text(&shown, imd_error_message(error));
            show_text(&shown, ")");
            imd_error_clear(&error);
        }
    }
    printf("%s%s%s\n", shown.length > 0 ? " " : "", shown.text, shown.truncated ? "..." : "");
}

static void print_dataset(const ImdDicomDataSet *dataset, unsigned depth)
{
    size_t count = imd_dicom_dataset_count(dataset);
    for (size_t i = 0; i < count; i++) {
        print_element(dataset, imd_dicom_dataset_element(dataset, i), depth);
    }
}

static void print_dump(const char *path, const ImdDicomDataSet *dataset, bool first)
{
    if (!first) {
        putchar('\n');
    }
    printf("# %s\n", path);
    const char *syntax = imd_dicom_dataset_transfer_syntax(dataset);
    const char *syntax_name = imd_dicom_uid_name(syntax);
    printf("# transfer syntax %s%s%s%s\n", syntax[0] != '\0' ? syntax : "(none)",
           syntax_name != NULL ? " (" : "", syntax_name != NULL ? syntax_name : "",
           syntax_name != NULL ? ")" : "");
    const ImdDicomDataSet *meta = imd_dicom_dataset_file_meta(dataset);
    if (meta != NULL) {
        puts("# file meta information");
        print_dataset(meta, 0);
        puts("# data set");
    } else {
        puts("# data set (no file meta information)");
    }
    print_dataset(dataset, 0);
}

/* ---- per file ---- */

/* Name the file in an error message that does not already name it. */
static void name_file(ImdError **error, const char *path)
{
    const char *message = imd_error_message(*error);
    if (message == NULL || strstr(message, path) == NULL) {
        imd_error_prefix(error, "%s: ", path);
    }
}

static ImdDicomDataSet *read_file(ImdError **error, const char *path)
{
    ImdStream *stream = imd_stream_open_file(error, path, IMD_MODE_READ);
    if (stream == NULL) {
        name_file(error, path);
        return NULL;
    }
    ImdDicomDataSet *dataset = imd_dicom_read(error, stream, NULL);
    imd_stream_abort(stream); /* opened for reading: nothing to commit */
    if (dataset == NULL) {
        name_file(error, path);
        return NULL;
    }
    size_t warnings = imd_dicom_dataset_warning_count(dataset);
    for (size_t i = 0; i < warnings; i++) {
        fprintf(stderr, "%s: %s: warning: %s\n", program, path,
                imd_dicom_dataset_warning(dataset, i));
    }
    return dataset;
}

static int run(const Arguments *args, int count, char **paths)
{
    int code = IMD_EXIT_OK;
    size_t printed = 0;
    bool array = args->json && count > 1;
    if (array) {
        fputs("[", stdout);
    }
    for (int i = 0; i < count; i++) {
        ImdError *error = NULL;
        ImdDicomDataSet *dataset = read_file(&error, paths[i]);
        char *json = NULL;
        if (dataset != NULL && args->json) {
            json = imd_dicom_dataset_to_json(&error, dataset, args->json_flags);
            if (json == NULL) {
                name_file(&error, paths[i]);
            }
        }
        if (error != NULL) {
            fflush(stdout); /* keep stdout and stderr in order on a terminal */
            int failed = imd_cli_fail(program, &error);
            code = code == IMD_EXIT_OK ? failed : code;
        } else if (args->json) {
            printf("%s%s%s", printed > 0 ? ",\n" : "", json, array ? "" : "\n");
            printed++;
        } else {
            print_dump(paths[i], dataset, printed == 0);
            printed++;
        }
        imd_free(json);
        imd_dicom_dataset_destroy(dataset);
    }
    if (array) {
        fputs("]\n", stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the output\n", program);
        return code == IMD_EXIT_OK ? IMD_EXIT_IO : code;
    }
    return code;
}

int main(int argc, char **argv)
{
    Arguments args = {0};
    int option, code = -1;
    while (code < 0 && (option = getopt_long(argc, argv, "Vh", long_options, NULL)) != -1) {
        code = parse_option(&args, option);
    }
    if (code < 0 && optind >= argc) {
        fprintf(stderr, "%s: no input given (see --help)\n", program);
        code = IMD_EXIT_USAGE;
    }
    if (code < 0) {
        imd_cli_handle_signals(NULL); /* nothing to clean up: a signal ends it at once */
        code = run(&args, argc - optind, argv + optind);
    }
    return code;
}
