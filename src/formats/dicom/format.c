/*
 * format.c: the DICOM format plugin (behaviour.md §2-§3). Members are
 * collected by name; at the end their headers are parsed in parallel (files
 * are mapped, so pixel data is read only once, straight into the array),
 * grouped into series, sorted by sort.c, and stacked with pixel.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "formats/dicom/dicom_format.h"
#include "formats/dicom/frames.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- members ---- */

typedef struct Member {
    ImdMember file; /* a local file is mapped when parsed; else its bytes (a zip member) */
    ImdDicomBuffer *mapped; /* a local file's mapping, kept from the probe (or NULL) */
    ImdDicomDataSet *dataset;
    ImdError *error; /* why it could not be parsed (it is skipped) */
    ImdMosaic mosaic; /* slices as tiles of its frame (count 0: none) */
    atomic_size_t records_left; /* images not decoded yet; its data set goes with the last */
} Member;

/*
 * The reader's options, read and checked once when the reader is made: a
 * bad value is a usage error naming it there (IMD_ERR_INVALID_ARG), never a
 * silent false or 0 in the middle of a read.
 */
typedef struct Settings {
    bool headers_only, ignore_series_uid, split_echo_numbers, split_acquisitions,
        philips_float_scaling, accept_uneven_slices, accept_duplicate_tag,
        sort_on_slice_location, select_thickness_given, filtered;
    double slice_tolerance, dir_cosine_tolerance, select_thickness;
    ImdInputOrder order;
} Settings;

typedef struct Reader {
    const ImdOptions *options;
    const ImdContext *context;
    Settings settings;
    Member *members;
    size_t count, capacity;
    size_t mapped; /* members holding their file's mapping (at most KEPT_MAPPINGS) */
    size_t alloc_failures; /* imd__alloc_failures() when the read began (see out_of_memory) */
    size_t segmentations;  /* SEG instances read as series of their own (seg.c) */
    size_t kept_header_bytes; /* encoded headers of the parsed data sets kept (keep_parsed) */
} Reader;

static int dicom_probe(const uint8_t *head, size_t length, const char *name)
{
    const char *base = strrchr(name, '/') != NULL ? strrchr(name, '/') + 1 : name;
    if (strcasecmp(base, "DICOMDIR") == 0) {
        return 0; /* a directory of the media, not an image (PS3.10 §8) */
    }
    if (length >= 132 && memcmp(head + 128, "DICM", 4) == 0) {
        return 100;
    }
    /* A bare data set usually starts with group 0002 or 0008 in little endian. */
    if (length >= 8 && head[1] == 0 && (head[0] == 0x02 || head[0] == 0x08) && head[3] < 0x10) {
        return 40;
    }
    return 0;
}

/* Options naming a DICOM keyword for an order component (ti=InversionTime). */
static bool check_keyword_option(ImdError **error, const ImdOptions *options, const char *name)
{
    const char *keyword = imd_options_get(options, name, NULL);
    uint32_t tag;
    if (keyword != NULL && !imd_dicom_tag(keyword, &tag)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": \"%s\" is not a DICOM keyword",
                      name, keyword);
        return false;
    }
    return true;
}

/* auto's candidates (behaviour.md §3.4); dti last, used when b varies with
 * several directions per b value (sort.c). */
static const char *const auto_candidates[] = {"time", "triggertime", "b", "fa", "te", "dti"};
static const size_t auto_candidate_count = sizeof auto_candidates / sizeof auto_candidates[0];

static bool read_settings(ImdError **error, const ImdOptions *options, Settings *s)
{
    const struct {
        const char *key;
        bool *value;
    } flags[] = {
        {"headers_only", &s->headers_only},
        {"ignore_series_uid", &s->ignore_series_uid},
        {"split_echo_numbers", &s->split_echo_numbers},
        {"split_acquisitions", &s->split_acquisitions},
        {"philips_float_scaling", &s->philips_float_scaling},
        {"accept_uneven_slices", &s->accept_uneven_slices},
        {"accept_duplicate_tag", &s->accept_duplicate_tag},
        {"sort_on_slice_location", &s->sort_on_slice_location},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!imd_options_get_bool(error, options, flags[i].key, false, flags[i].value)) {
            return false;
        }
    }
    bool skip_broken; /* accepted for the original's scripts: every series is read on its own */
    if (!imd_options_get_bool(error, options, "skip_broken_series", false, &skip_broken) ||
        !imd_options_get_double(error, options, "slice_tolerance", 0, &s->slice_tolerance) ||
        !imd_options_get_double(error, options, "dir_cosine_tolerance", 0,
                                &s->dir_cosine_tolerance) ||
        !imd_options_get_double(error, options, "select_thickness", 0, &s->select_thickness) ||
        !imd__input_order_from_options(error, options, &s->order)) {
        return false;
    }
    /* Tolerances are distances (mm) and cosine differences: never negative (sort.c
     * checks again, per series; here it is a usage error before anything is read). */
    const struct {
        const char *key;
        double value;
    } tolerances[] = {{"slice_tolerance", s->slice_tolerance},
                      {"dir_cosine_tolerance", s->dir_cosine_tolerance},
                      {"select_thickness", s->select_thickness}};
    for (size_t i = 0; i < sizeof tolerances / sizeof tolerances[0]; i++) {
        if (tolerances[i].value < 0) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "option \"%s\": \"%s\" is negative",
                          tolerances[i].key, imd_options_get(options, tolerances[i].key, ""));
            return false;
        }
    }
    s->select_thickness_given = imd_options_has(options, "select_thickness");
    s->filtered = s->select_thickness_given || imd_options_has(options, "input_serinsuid") ||
                  imd_options_has(options, "input_echo") ||
                  imd_options_has(options, "input_acquisition");
    for (size_t i = 0; i < s->order.count; i++) {
        if (!check_keyword_option(error, options, s->order.names[i])) {
            return false;
        }
    }
    for (size_t i = 0; s->order.automatic && i < auto_candidate_count; i++) {
        if (!check_keyword_option(error, options, auto_candidates[i])) {
            return false;
        }
    }
    return true;
}

static void *dicom_reader_create(ImdError **error, const ImdOptions *options,
                                 const ImdContext *context)
{
    Reader *reader = imd__calloc(error, 1, sizeof *reader);
    if (reader != NULL) {
        reader->options = options;
        reader->context = context;
        reader->alloc_failures = imd__alloc_failures();
        if (!read_settings(error, options, &reader->settings)) {
            imd_error_prefix(error, "DICOM reader: ");
            imd__input_order_clear(&reader->settings.order);
            free(reader);
            return NULL;
        }
    }
    return reader;
}

/*
 * Local files are mapped once, when the pipeline probes them, and the reader
 * keeps that mapping (parsing headers, parsing them again when the series is
 * built, decoding the pixels) instead of opening each file three times: about
 * 6 system calls per file instead of 20 (docs/performance.md). Each mapping is
 * one entry in the kernel's table of mappings, limited to vm.max_map_count
 * (65,530 by default); beyond this many files, the rest are opened by path
 * when needed, as before, so that a folder of any size reads.
 */
#ifndef KEPT_MAPPINGS /* -DKEPT_MAPPINGS=2 tries the opened-by-path fallback on small folders */
#define KEPT_MAPPINGS 16384
#endif

/* Headers are parsed this many files at a time (dicom_reader_finish). */
#define PARSE_BATCH 1024

/* A member's mapping goes: its pixels are read, or it is not needed. */
static void forget_mapping(Member *m)
{
    imd__dicom_buffer_release(m->mapped);
    m->mapped = NULL;
}

static void free_member(Member *m)
{
    forget_mapping(m);
    imd__member_free(&m->file);
    imd_dicom_dataset_destroy(m->dataset);
    imd_error_clear(&m->error);
    imd__dicom_mosaic_free(&m->mosaic);
}

static void dicom_reader_destroy(void *state)
{
    Reader *reader = state;
    if (reader == NULL) {
        return;
    }
    for (size_t i = 0; i < reader->count; i++) {
        free_member(&reader->members[i]);
    }
    free(reader->members);
    imd__input_order_clear(&reader->settings.order);
    free(reader);
}

/* Keep the member's name, and its bytes only when it is not a local file. */
static bool dicom_reader_add(ImdError **error, void *state, ImdArchive *archive,
                             const char *name, ImdStream *stream)
{
    Reader *reader = state;
    Member m = {0};
    if (!imd__member_keep(error, &m.file, archive, name, stream, IMD__KEEP_LOCAL_OR_BYTES, 0)) {
        return false;
    }
    uint8_t *data;
    size_t size;
    if (m.file.path != NULL && reader->mapped < KEPT_MAPPINGS &&
        imd__stream_take_mapping(stream, &data, &size)) {
        if (reader->settings.headers_only) {
            /* A header scan touches a page or two: without this, readahead would
             * fault in the rest of the file (the pixel data) for nothing. */
            (void)posix_madvise(data, size, POSIX_MADV_RANDOM);
        }
        m.mapped = imd__dicom_buffer_of_mapping(error, data, size);
        if (m.mapped == NULL) {
            free_member(&m);
            return false;
        }
        reader->mapped++;
        if (reader->count >= PARSE_BATCH) {
            /* The probe read its head from the mapping, and the kernel mapped the
             * pages around it (fault-around): counted in our resident memory until
             * the file's keys are taken after the walk. Beyond the first batch they
             * go now; the first batch keeps them (its keys are taken first), so
             * that small folders pay no extra system call. */
            imd__dicom_buffer_drop_pages(m.mapped);
        }
    }
    if (!imd__member_push(error, (void **)&reader->members, &reader->count, &reader->capacity,
                          &m, sizeof m)) {
        free_member(&m);
        return false;
    }
    return true;
}

/* ---- parsing headers (in parallel: imd__parallel, src/base/threads.c) ---- */

/* A member that cannot be parsed keeps its error and is skipped later: only a cancel fails. */
static bool parse_member(ImdError **error, Reader *reader, size_t index)
{
    if (!imd__check_cancel(error, reader->context, "reading DICOM headers")) {
        return false;
    }
    Member *m = &reader->members[index];
    /* Reading headers only: stop before the pixel data (and touch no pixel pages). */
    ImdDicomReadOptions headers = {.stop_tag = IMD_TAG_PixelData};
    const ImdDicomReadOptions *options = reader->settings.headers_only ? &headers : NULL;
    if (m->mapped != NULL) {
        m->dataset = imd__dicom_read_buffer(&m->error, m->mapped, m->file.path, options);
    } else if (m->file.path != NULL) {
        m->dataset = imd_dicom_read_file(&m->error, m->file.path, options);
    } else {
        m->dataset = imd__dicom_read_owned(&m->error, m->file.bytes, m->file.size, m->file.name, options);
        m->file.bytes = NULL; /* taken, even on failure */
    }
    return true;
}

/* ---- attributes ---- */

static const ImdDicomElement *find(const ImdDicomDataSet *d, uint32_t tag)
{
    return imd_dicom_dataset_find(d, tag);
}

static bool number_of(const ImdDicomDataSet *d, uint32_t tag, size_t i, double *v)
{
    const ImdDicomElement *element = find(d, tag);
    return element != NULL && imd_dicom_element_number(NULL, element, i, v);
}

static char *text_of(const ImdDicomDataSet *d, uint32_t tag)
{
    const ImdDicomElement *element = imd_dicom_dataset_find(d, tag);
    return element != NULL ? imd_dicom_element_string(NULL, d, element) : NULL;
}

/* TM "HHMMSS.FFFFFF" (or the old "HH:MM:SS") as seconds since midnight (PS3.5 Table 6.2-1). */
static bool parse_time(const char *text, double *seconds)
{
    double parts[3] = {0, 0, 0};
    const char *p = text;
    for (int i = 0; i < 3 && *p != '\0'; i++) {
        if (*p == ':') {
            p++;
        }
        if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') {
            return i > 0 && (*seconds = parts[0] * 3600 + parts[1] * 60, true);
        }
        parts[i] = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
    }
    double fraction = 0;
    if (*p == '.') {
        fraction = strtod(p, NULL);
    }
    *seconds = parts[0] * 3600 + parts[1] * 60 + parts[2] + fraction;
    return true;
}

static bool time_of(const ImdDicomDataSet *d, uint32_t tag, double *seconds)
{
    char *text = text_of(d, tag);
    bool ok = text != NULL && text[0] != '\0' && parse_time(text, seconds);
    free(text);
    return ok;
}

/* UIH keeps diffusion in "Image Private Header" (0065,xx09 b value, 0065,xx37
 * the direction in the image's own frame: row, column, normal), as
 * dcm_qa_stc/In/UIH shows; dcm2niix reads the same elements (private_tags.h). */

/* A direction given along the image's row, column and normal -> patient (LPS). */
static bool image_to_patient(const ImdDicomDataSet *d, const double in[3], double out[3])
{
    double o[6];
    for (size_t i = 0; i < 6; i++) {
        if (!number_of(d, IMD_TAG_ImageOrientationPatient, i, &o[i])) {
            return false;
        }
    }
    double n[3] = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
    for (size_t c = 0; c < 3; c++) {
        out[c] = in[0] * o[c] + in[1] * o[3 + c] + in[2] * n[c];
    }
    return true;
}

/* b value: standard (0018,9087), else Siemens (0019,xx0C) or its CSA B_value, else GE
 * (0043,xx39)[0], else Philips (2001,xx03), else UIH (0065,xx09). */
static bool b_value(const ImdDicomDataSet *d, double *b)
{
    uint32_t tag;
    if (number_of(d, IMD_TAG_DiffusionBValue, 0, b)) {
        return true;
    }
    if ((tag = imd__dicom_private_tag(d, IMD_PRIVATE_PhilipsDiffusionBFactor)) != 0 &&
        number_of(d, tag, 0, b)) {
        return true;
    }
    if ((tag = imd__dicom_private_tag(d, IMD_PRIVATE_UihBValue)) != 0 && number_of(d, tag, 0, b)) {
        return true;
    }
    if (imd__dicom_private_block_of(d, IMD_PRIVATE_SiemensCsaImageHeaderInfo) != 0 &&
        imd__dicom_private_block_of(d, IMD_PRIVATE_SiemensMrBValue) == 0) {
        ImdSiemensImage csa;
        bool found = imd__siemens_image(NULL, d, &csa) && csa.has_b_value;
        *b = found ? csa.b_value : 0;
        imd__siemens_image_free(&csa);
        if (found) {
            return true;
        }
    }
    if ((tag = imd__dicom_private_tag(d, IMD_PRIVATE_SiemensMrBValue)) != 0 &&
        number_of(d, tag, 0, b)) {
        return true;
    }
    if ((tag = imd__dicom_private_tag(d, IMD_PRIVATE_GeSlopInt6To9)) != 0 &&
        number_of(d, tag, 0, b)) {
        double slop = fmod(*b, 1e9); /* GE stores b + 1e9 * an offset (dcm2niix notes this) */
        *b = slop;
        return true;
    }
    return false;
}

/* b vector: standard (0018,9089), else Siemens (0019,xx0E) when DIRECTIONAL, else GE
 * (0019,xxBB-BD), else Philips (2005,xxB0-B2: RL, AP, FH, the patient frame as
 * (0018,9089); read only where the standard element is missing, as in older
 * classic Philips DWI), else UIH (0065,xx37). */
static ImdValue b_vector(const ImdDicomDataSet *d)
{
    double v[3];
    uint16_t block;
    uint32_t tag = IMD_TAG_DiffusionGradientOrientation;
    if (number_of(d, tag, 0, &v[0]) && number_of(d, tag, 1, &v[1]) &&
        number_of(d, tag, 2, &v[2])) {
        return imd_value_vector(v, 3);
    }
    if ((block = imd__dicom_private_block_of(d, IMD_PRIVATE_SiemensMrDiffusionDirectionality)) !=
        0) {
        char *directionality =
            text_of(d, imd__private_tag_at(IMD_PRIVATE_SiemensMrDiffusionDirectionality, block));
        bool directional = directionality != NULL && strcmp(directionality, "DIRECTIONAL") == 0;
        free(directionality);
        tag = imd__private_tag_at(IMD_PRIVATE_SiemensMrDiffusionGradientDirection, block);
        if (directional && number_of(d, tag, 0, &v[0]) && number_of(d, tag, 1, &v[1]) &&
            number_of(d, tag, 2, &v[2])) {
            return imd_value_vector(v, 3);
        }
    } else if ((block = imd__dicom_private_block_of(d, IMD_PRIVATE_GeUserData20)) != 0 &&
               number_of(d, imd__private_tag_at(IMD_PRIVATE_GeUserData20, block), 0, &v[0]) &&
               number_of(d, imd__private_tag_at(IMD_PRIVATE_GeUserData21, block), 0, &v[1]) &&
               number_of(d, imd__private_tag_at(IMD_PRIVATE_GeUserData22, block), 0, &v[2])) {
        return imd_value_vector(v, 3);
    } else if ((block = imd__dicom_private_block_of(d, IMD_PRIVATE_PhilipsDiffusionDirectionRL)) !=
                   0 &&
               number_of(d, imd__private_tag_at(IMD_PRIVATE_PhilipsDiffusionDirectionRL, block), 0,
                         &v[0]) &&
               number_of(d, imd__private_tag_at(IMD_PRIVATE_PhilipsDiffusionDirectionAP, block), 0,
                         &v[1]) &&
               number_of(d, imd__private_tag_at(IMD_PRIVATE_PhilipsDiffusionDirectionFH, block), 0,
                         &v[2])) {
        return imd_value_vector(v, 3);
    } else if ((tag = imd__dicom_private_tag(d, IMD_PRIVATE_UihDiffusionDirection)) != 0 &&
               number_of(d, tag, 0, &v[0]) && number_of(d, tag, 1, &v[1]) &&
               number_of(d, tag, 2, &v[2]) && (v[0] != 0 || v[1] != 0 || v[2] != 0)) {
        double patient[3];
        if (image_to_patient(d, v, patient)) {
            return imd_value_vector(patient, 3);
        }
    }
    return imd_value_vector(NULL, 0); /* b = 0 images have none */
}

/* A user order: opts[name] names the DICOM keyword (behaviour.md §3.3). */
static bool keyword_value(const ImdDicomDataSet *d, const char *keyword, ImdValue *value)
{
    uint32_t tag;
    if (!imd_dicom_tag(keyword, &tag)) {
        return false;
    }
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    double number;
    if (e != NULL && imd_dicom_element_vr(e) == IMD_VR_TM) {
        if (!time_of(d, tag, &number)) {
            return false;
        }
    } else if (e == NULL || !imd_dicom_element_number(NULL, e, 0, &number)) {
        return false;
    }
    *value = imd_value_number(number);
    return true;
}

/* The value of order component `name` for one image; false when missing. */
static bool order_value(const Reader *reader, const ImdDicomDataSet *d, const char *name,
                        size_t index, ImdValue *value)
{
    const char *keyword = imd_options_get(reader->options, name, NULL);
    double number;
    if (keyword != NULL) {
        return keyword_value(d, keyword, value); /* e.g. ti=InversionTime, time=TriggerTime */
    }
    if (strcmp(name, "none") == 0 || strcmp(name, "faulty") == 0) {
        *value = imd_value_number(strcmp(name, "none") == 0 ? 0 : (double)index);
        return true;
    }
    bool ok = false;
    if (strcmp(name, "time") == 0) {
        ok = time_of(d, IMD_TAG_AcquisitionTime, &number);
    } else if (strcmp(name, "triggertime") == 0) {
        ok = number_of(d, IMD_TAG_TriggerTime, 0, &number) && (number /= 1000, true);
    } else if (strcmp(name, "b") == 0) {
        ok = b_value(d, &number);
    } else if (strcmp(name, "te") == 0) {
        ok = number_of(d, IMD_TAG_EchoTime, 0, &number);
    } else if (strcmp(name, "fa") == 0) {
        ok = number_of(d, IMD_TAG_FlipAngle, 0, &number);
    } else if (strcmp(name, "bvector") == 0) {
        *value = b_vector(d);
        return true;
    } else if (strcmp(name, "dti") == 0) {
        ImdValue vector = b_vector(d);
        if (!b_value(d, &number)) {
            return false;
        }
        *value = imd_value_b_vector(number, vector.v, vector.count);
        return true;
    }
    if (ok) {
        *value = imd_value_number(number);
    }
    return ok;
}

/* ---- one record per image ---- */

typedef struct Record {
    size_t member;
    uint32_t tile;  /* the slice of a mosaic member */
    uint32_t frame; /* the frame of a multi-frame member */
    ImdDicomDataSet *view; /* a frame's own values, falling back to the file's; NULL: the file */
    char *group; /* patient, study, series (and acquisition / echo when split) */
    ImdSliceKey key;
    ImdPixelFormat format;
    ImdError *unreadable; /* why its pixels cannot be decoded: its series fails */
} Record;

/* The filters input_serinsuid, input_echo, input_acquisition (behaviour.md §3.1). */
static bool passes_filters(const Reader *reader, const ImdDicomDataSet *d)
{
    static const struct {
        const char *option;
        uint32_t tag;
    } filters[] = {{"input_serinsuid", IMD_TAG_SeriesInstanceUID},
                   {"input_echo", IMD_TAG_EchoNumbers},
                   {"input_acquisition", IMD_TAG_AcquisitionNumber}};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        const char *wanted = imd_options_get(reader->options, filters[i].option, NULL);
        if (wanted == NULL) {
            continue;
        }
        char *value = text_of(d, filters[i].tag);
        bool same = value != NULL && strcmp(value, wanted) == 0;
        free(value);
        if (!same) {
            return false;
        }
    }
    /* select_thickness=<mm>: one reconstruction of a series that holds several
     * (thin and thick CT slices of one acquisition share a series UID). */
    double thickness, wanted = reader->settings.select_thickness;
    if (reader->settings.select_thickness_given) {
        return number_of(d, IMD_TAG_SliceThickness, 0, &thickness) &&
               fabs(thickness - wanted) <= 1e-3;
    }
    return true;
}

/*
 * Images of one series: patient, study, SeriesInstanceUID (unless
 * ignore_series_uid), SeriesNumber (likewise), and last the image's label (split.c:
 * phase/real/imaginary, derived kind, echo and acquisition when asked), after
 * the final separator, so that the pieces of one series sort together.
 */
static char *group_key(const Reader *reader, const ImdDicomDataSet *d)
{
    char *patient = text_of(d, IMD_TAG_PatientID);
    char *study = text_of(d, IMD_TAG_StudyInstanceUID);
    bool one_series = reader->settings.ignore_series_uid; /* one per study (TI sets) */
    char *series = one_series ? NULL : text_of(d, IMD_TAG_SeriesInstanceUID);
    char *number = one_series ? NULL : text_of(d, IMD_TAG_SeriesNumber);
    char *label = imd__dicom_image_label(d, reader->settings.split_echo_numbers,
                                         reader->settings.split_acquisitions);
    char *key = label == NULL ? NULL
                              : imd__sprintf(NULL, "%s\x1f%s\x1f%s\x1f%s\x1f%s",
                                             patient ? patient : "", study ? study : "",
                                             series ? series : "", number ? number : "", label);
    free(patient);
    free(study);
    free(series);
    free(number);
    free(label);
    return key;
}

/* The image label part of a group key (after the last separator). */
static const char *group_label(const char *group)
{
    const char *last = strrchr(group, '\x1f');
    return last != NULL ? last + 1 : "";
}

/* Two group keys of one series (all but the label equal). */
static bool same_series(const char *a, const char *b)
{
    size_t n = (size_t)(group_label(a) - a);
    return n == (size_t)(group_label(b) - b) && strncmp(a, b, n) == 0;
}

static void fill_geometry(const ImdDicomDataSet *d, ImdSliceKey *key)
{
    double v[6];
    key->has_position = true;
    for (size_t i = 0; i < 3; i++) {
        key->has_position =
            key->has_position && number_of(d, IMD_TAG_ImagePositionPatient, i, &v[i]);
    }
    if (key->has_position) {
        key->position = (ImdVec3){v[0], v[1], v[2]};
    }
    key->has_orientation = true;
    for (size_t i = 0; i < 6; i++) {
        key->has_orientation =
            key->has_orientation && number_of(d, IMD_TAG_ImageOrientationPatient, i, &v[i]);
    }
    if (key->has_orientation) {
        key->row = (ImdVec3){v[0], v[1], v[2]};
        key->column = (ImdVec3){v[3], v[4], v[5]};
    }
    key->has_slice_location = number_of(d, IMD_TAG_SliceLocation, 0, &key->slice_location);
    if (!number_of(d, IMD_TAG_GantryDetectorTilt, 0, &key->gantry_tilt)) {
        key->gantry_tilt = 0;
    }
}

/* ---- the order ---- */

/* The order components a key carries: the given order's names, or auto's candidates. */
typedef struct Order {
    const char *names[IMD_SORT_MAX_VALUES]; /* borrowed from the settings or the candidates */
    size_t count;
    bool automatic;
} Order;

static bool parse_order(ImdError **error, const Reader *reader, Order *order)
{
    const ImdInputOrder *given = &reader->settings.order;
    memset(order, 0, sizeof *order);
    _Static_assert(IMD_SORT_MAX_TAGS == IMD_MAX_TAG_DIMS, "one limit for order components");
    _Static_assert(sizeof auto_candidates / sizeof auto_candidates[0] <= IMD_SORT_MAX_VALUES,
                   "a key holds every auto candidate");
    if (given->automatic) {
        order->automatic = true;
        order->count = auto_candidate_count;
        for (size_t i = 0; i < order->count; i++) {
            order->names[i] = auto_candidates[i];
        }
        return true;
    }
    for (size_t i = 0; i < given->count; i++) {
        if (strcmp(given->names[i], "rsi") == 0) {
            imd_error_set(error, IMD_ERR_CANNOT_SORT, "input order rsi is not implemented; "
                                                      "use b,bvector or dti");
            return false;
        }
        order->names[i] = given->names[i];
    }
    order->count = given->count;
    return true;
}

/*
 * TemporalPositionIdentifier (0020,0100), then InstanceNumber (0020,0013) (else
 * the file's place), then the frame: the order images were acquired in, as
 * one number (exact up to 9000 temporal positions and 10^7 instances).
 */
static double acquisition_sequence(const ImdDicomDataSet *d, size_t member, uint32_t frame)
{
    double temporal = 0, instance;
    if (!number_of(d, IMD_TAG_TemporalPositionIdentifier, 0, &temporal) || !isfinite(temporal) ||
        fabs(temporal) > 9000) {
        temporal = 0;
    }
    if (!number_of(d, IMD_TAG_InstanceNumber, 0, &instance) || !isfinite(instance) ||
        fabs(instance) >= 1e7) {
        instance = (double)member;
    }
    return temporal * 1e12 + instance * 1e5 + (double)(frame % 100000);
}

/* The data set an image's values come from: its frame's view, or the file's. */
static const ImdDicomDataSet *record_dataset(const Reader *reader, const Record *record)
{
    return record->view != NULL ? record->view : reader->members[record->member].dataset;
}

static bool make_record(const Reader *reader, const Order *order, size_t member,
                        uint32_t frame, const ImdDicomDataSet *d, Record *record)
{
    memset(record, 0, sizeof *record);
    record->member = member;
    record->frame = frame;
    record->key.index = (uint32_t)member;
    fill_geometry(d, &record->key);
    record->key.sequence = acquisition_sequence(d, member, frame);
    for (size_t i = 0; i < order->count; i++) {
        record->key.has_tag[i] = order_value(reader, d, order->names[i], member,
                                             &record->key.tag[i]);
    }
    record->group = group_key(reader, d);
    return record->group != NULL;
}

/*
 * philips_float_scaling=true: Philips' floating point values instead of the
 * displayed ones, as dcm2niix writes them. With the private ScaleSlope SS
 * (2005,xx0E, creator "Philips MR Imaging DD 001") and RescaleSlope RS /
 * RescaleIntercept RI, a stored value SV displays as DV = SV * RS + RI and
 * its floating point value is FP = DV / (RS * SS) (Philips' DICOM conformance
 * statement; dcm_qa_cs_dl and dcm_qa_fmap's Philips references carry it).
 */
static void philips_scaling(const Reader *reader, const ImdDicomDataSet *d, ImdPixelFormat *format)
{
    if (!reader->settings.philips_float_scaling) {
        return;
    }
    uint32_t tag = imd__dicom_private_tag(d, IMD_PRIVATE_PhilipsScaleSlope);
    double ss;
    if (tag == 0 || !number_of(d, tag, 0, &ss) || !isfinite(ss) ||
        ss == 0) {
        return;
    }
    /* In single precision, as dcm2niix computes it: the NIfTI holds float32
     * scl_slope/scl_inter, and the same operations give the same bits there
     * (1/SS rounded once differs in the last bit for dcm_qa_cs_dl's 501). */
    float rs = (float)(format->slope != 0 ? format->slope : 1), ri = (float)format->intercept;
    float sf = (float)ss, scale = rs * sf;
    format->slope = (double)(rs / scale);
    format->intercept = (double)(ri / scale);
}

/* A frame's rescale: its Pixel Value Transformation (in its view), else the file's. */
static void frame_rescale(const ImdDicomDataSet *view, ImdPixelFormat *format)
{
    double slope, intercept;
    if (number_of(view, IMD_TAG_RescaleSlope, 0, &slope) && isfinite(slope) && slope != 0 &&
        number_of(view, IMD_TAG_RescaleIntercept, 0, &intercept) && isfinite(intercept)) {
        format->slope = slope;
        format->intercept = intercept;
    }
}

/*
 * A multi-frame file without functional groups places its frames through
 * the Frame Increment Pointer (PS3.3 C.7.6.6.1.1): GridFrameOffsetVector
 * (3004,000C, RT Dose; C.8.8.3.2) gives each frame's offset along the normal
 * from ImagePositionPatient, relative to the first. Other pointers (FrameTime,
 * FrameTimeVector) leave the frames at one position: a time axis in frame
 * order (auto), of FrameTime when given.
 */
static bool frame_grid_position(const ImdDicomDataSet *d, size_t frame, ImdSliceKey *key)
{
    double first, offset, o[6];
    const ImdDicomElement *fip = find(d, IMD_TAG_FrameIncrementPointer);
    size_t size = 0;
    const uint8_t *bytes = fip != NULL ? imd_dicom_element_bytes(fip, &size) : NULL;
    if (bytes == NULL || size < 4 || !key->has_position) {
        return false;
    }
    bool grid = false;
    for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t tag = (uint32_t)(bytes[i] | bytes[i + 1] << 8) << 16 |
                       (uint32_t)(bytes[i + 2] | bytes[i + 3] << 8);
        grid = grid || tag == IMD_TAG_GridFrameOffsetVector;
    }
    for (size_t i = 0; grid && i < 6; i++) {
        grid = number_of(d, IMD_TAG_ImageOrientationPatient, i, &o[i]);
    }
    if (!grid || !number_of(d, IMD_TAG_GridFrameOffsetVector, 0, &first) ||
        !number_of(d, IMD_TAG_GridFrameOffsetVector, frame, &offset) || !isfinite(offset - first)) {
        return false;
    }
    double n[3] = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
    double step = offset - first;
    key->position = (ImdVec3){key->position.x + n[0] * step, key->position.y + n[1] * step,
                              key->position.z + n[2] * step};
    key->has_slice_location = false;
    return true;
}

/*
 * A multi-frame file: one record per frame, its values from the frame's
 * functional groups (frames.c) before the file's (PS3.3 C.7.6.16). A file
 * whose groups contradict its frames is a failure of that file.
 */
static bool add_frames(ImdError **error, Reader *reader, const Order *order, size_t member,
                       const ImdPixelFormat *format, Record **records, size_t *count,
                       size_t *capacity, ImdSeriesList *list)
{
    Member *m = &reader->members[member];
    size_t frames = format->frames, first = *count;
    if (!imd__grow(error, (void **)records, capacity, *count + frames, sizeof **records)) {
        return false;
    }
    for (size_t f = 0; f < frames; f++) {
        ImdError *broken = NULL;
        ImdDicomDataSet *view = imd__dicom_frame_attributes(&broken, m->dataset, f);
        Record *record = &(*records)[*count];
        if (view == NULL) {
            for (size_t i = first; i < *count; i++) {
                free((*records)[i].group);
                imd_dicom_dataset_destroy((*records)[i].view);
            }
            *count = first;
            imd_error_prefix(&broken, "%s: ", m->file.name);
            bool nomem = imd_error_code(broken) == IMD_ERR_NOMEM;
            if (nomem || !imd_series_list_add_failure(error, list, broken)) {
                imd_error_propagate(error, broken);
                return false;
            }
            return true;
        }
        imd__dicom_dataset_set_fallback(view, m->dataset);
        if (!make_record(reader, order, member, (uint32_t)f, view, record)) {
            imd_dicom_dataset_destroy(view);
            imd_error_set(error, IMD_ERR_NOMEM, "out of memory");
            return false;
        }
        record->view = view;
        record->format = *format;
        if (!imd__dicom_has_functional_groups(m->dataset)) {
            (void)frame_grid_position(m->dataset, f, &record->key);
        }
        frame_rescale(view, &record->format);
        philips_scaling(reader, view, &record->format);
        (*count)++;
    }
    atomic_store(&m->records_left, frames);
    return true;
}

/*
 * The records of one member: one per image, or one per tile of a mosaic, each
 * at its own position. An image whose pixels cannot be decoded keeps the
 * reason (its series fails); a mosaic whose vendor attributes contradict its
 * frame is a failure of that file.
 */
static bool add_records(ImdError **error, Reader *reader, const Order *order, size_t member,
                        const ImdPixelFormat *format, ImdError **unreadable, Record **records,
                        size_t *count, size_t *capacity, ImdSeriesList *list)
{
    Member *m = &reader->members[member];
    ImdError *broken = NULL;
    if (*unreadable == NULL && !imd__dicom_mosaic(&broken, m->dataset, format, &m->mosaic)) {
        imd_error_prefix(&broken, "%s: ", m->file.name);
        bool ok = imd_series_list_add_failure(error, list, broken);
        if (!ok) {
            imd_error_clear(&broken);
        }
        return ok;
    }
    if (*unreadable == NULL && format->frames > 1) {
        return add_frames(error, reader, order, member, format, records, count, capacity, list);
    }
    size_t tiles = m->mosaic.count > 0 ? m->mosaic.count : 1;
    if (!imd__grow(error, (void **)records, capacity, *count + tiles, sizeof **records)) {
        return false;
    }
    atomic_store(&m->records_left, tiles);
    for (size_t t = 0; t < tiles; t++) {
        Record *record = &(*records)[*count];
        if (!make_record(reader, order, member, 0, m->dataset, record)) {
            imd_error_set(error, IMD_ERR_NOMEM, "out of memory");
            return false;
        }
        record->format = *format;
        philips_scaling(reader, m->dataset, &record->format);
        record->tile = (uint32_t)t;
        if (m->mosaic.count > 0) {
            record->key.position = m->mosaic.positions[t];
            record->key.has_position = true;
            record->key.has_slice_location = false;
        }
        if (t == 0) {
            record->unreadable = *unreadable;
            *unreadable = NULL;
        }
        (*count)++;
    }
    return true;
}

/* A local file's parsed header, once its records [first, end) are made (see
 * reload_group, which points the frames' views at the header read again). */
static void release_member(Member *m, Record *records, size_t first, size_t end)
{
    if (m->file.path == NULL || m->dataset == NULL) {
        return;
    }
    for (size_t i = first; i < end; i++) {
        imd__dicom_dataset_set_fallback(records[i].view, NULL);
    }
    imd_dicom_dataset_destroy(m->dataset);
    m->dataset = NULL;
    /* A kept mapping stays until the pixels are read: its pages need not (they
     * come back from the page cache), or a folder would hold every header. */
    imd__dicom_buffer_drop_pages(m->mapped);
}

/*
 * Parsed headers are kept from the walk to their series while their encoded
 * bytes stay under this (parsed elements point into the file's bytes and take
 * about 3.5 times as much: 2 MiB of headers hold 7 MB): a small folder is
 * parsed once, not again when its series is built (a sixth of reading 1,800
 * files of 1 KB headers, bench/results/python_read.md); beyond it, headers
 * are released as their keys are taken, so that a folder of 50,000 files
 * holds one series' headers at a time (its peak RSS grew 59 -> 66 MB).
 */
#define KEPT_HEADER_BYTES ((size_t)2 << 20)

static bool keep_parsed(Reader *reader, const Member *m)
{
    size_t bytes = imd__dicom_dataset_header_bytes(m->dataset);
    if (m->file.path == NULL || bytes > KEPT_HEADER_BYTES - reader->kept_header_bytes) {
        return false;
    }
    reader->kept_header_bytes += bytes;
    return true;
}

/* ---- building a series ---- */

typedef struct Build {
    Reader *reader;
    Record *records;  /* of this series */
    size_t count;
    ImdLayout layout;
    ImdSeries *series;
    size_t rows, columns;
    const ImdDicomDataSet *first; /* the image whose data set is the series' template */
    const char *label; /* the piece of a split series ("ph", "e2", "part2"), or NULL */
    size_t *cell_of;   /* per record: its cell, SIZE_MAX when none */
    size_t *run_start; /* records of one member: [run_start[k], run_start[k + 1]) */
    size_t run_offset; /* decode_member's run 0 is this run (decode_chunks) */
    size_t first_run;  /* decoded first (a fill watch: the middle of the first volume) */
} Build;

/* Where image `record` goes in the array: its cell's first byte. */
static uint8_t *cell_of(const Build *build, size_t record)
{
    size_t frame_bytes =
        build->rows * build->columns * imd_dtype_size(imd_series_dtype(build->series));
    return (uint8_t *)imd_series_data(build->series) + build->cell_of[record] * frame_bytes;
}

static bool decode_record(ImdError **error, Build *build, const Member *member,
                          const Record *record, void **mosaic_frame)
{
    ImdDType dtype = imd_series_dtype(build->series);
    const ImdMosaic *mosaic = &member->mosaic;
    if (mosaic->count == 0) {
        return imd__dicom_decode_frame(error, member->dataset, &record->format, record->frame, dtype,
                                       cell_of(build, (size_t)(record - build->records)),
                                       build->rows, build->columns);
    }
    /* A mosaic is decoded once, then each tile copied into its own cell. */
    size_t size = imd_dtype_size(dtype);
    if (*mosaic_frame == NULL) {
        *mosaic_frame = imd__calloc(error, (size_t)record->format.rows * record->format.columns,
                                    size);
        if (*mosaic_frame == NULL ||
            !imd__dicom_decode_frame(error, member->dataset, &record->format, 0, dtype,
                                     *mosaic_frame, record->format.rows,
                                     record->format.columns)) {
            return false;
        }
    }
    uint8_t *out = cell_of(build, (size_t)(record - build->records));
    memset(out, 0, build->rows * build->columns * size);
    if (mosaic->tile_rows == build->rows && mosaic->tile_columns == build->columns) {
        imd__dicom_mosaic_tile(mosaic, record->tile, *mosaic_frame, record->format.columns, size,
                               out);
    } else {
        /* a smaller tile than the series': top left, as any smaller image (pixel.c) */
        uint8_t *tile = imd__malloc(error, (size_t)mosaic->tile_rows * mosaic->tile_columns * size);
        if (tile == NULL) {
            return false;
        }
        imd__dicom_mosaic_tile(mosaic, record->tile, *mosaic_frame, record->format.columns, size,
                               tile);
        for (size_t r = 0; r < mosaic->tile_rows && r < build->rows; r++) {
            memcpy(out + r * build->columns * size, tile + r * mosaic->tile_columns * size,
                   (mosaic->tile_columns < build->columns ? mosaic->tile_columns : build->columns) *
                       size);
        }
        free(tile);
    }
    return true;
}

/* The run decoded `position`-th: first_run first, the others in file order. */
static size_t decode_order(const Build *build, size_t position)
{
    if (position == 0) {
        return build->first_run;
    }
    return position <= build->first_run ? position - 1 : position;
}

/* Every image of one member (one file: a single image, or a mosaic's tiles): a pool task. */
static bool decode_member(ImdError **failure, void *user, size_t run)
{
    Build *build = user;
    run = decode_order(build, run + build->run_offset);
    size_t first = build->run_start[run], end = build->run_start[run + 1];
    Member *member = &build->reader->members[build->records[first].member];
    void *mosaic_frame = NULL;
    ImdError *error = NULL;
    bool ok = true;
    for (size_t i = first; ok && i < end; i++) {
        /* Ctrl-C: worker threads see the reader's context, not the caller's. */
        ok = imd__check_cancel(&error, build->reader->context, "decoding DICOM images");
        if (ok && build->cell_of[i] != SIZE_MAX) {
            ok = decode_record(&error, build, member, &build->records[i], &mosaic_frame);
            if (ok) {
                imd_context_fill(build->reader->context, IMD_FILL_IMAGE, build->series,
                                 build->cell_of[i]);
            }
        }
    }
    free(mosaic_frame);
    if (!ok) {
        imd_error_prefix(&error, "%s: ", member->file.name);
        imd_error_propagate(failure, error);
        return false;
    }
    /* Its pixels are in the array now: its data set goes (its mapping after
     * the chunk, decode_chunks). The frames of a multi-frame file are decoded
     * on all cores, and may belong to several series: whoever decodes its last
     * image releases it (every other user has finished by then). */
    if (atomic_fetch_sub(&member->records_left, end - first) == end - first) {
        for (size_t i = first; i < end; i++) {
            imd__dicom_dataset_set_fallback(build->records[i].view, NULL);
        }
        imd_dicom_dataset_destroy(member->dataset);
        member->dataset = NULL;
    }
    return true;
}

/* Runs decoded before the calling thread unmaps their files (decode_chunks). */
#define DECODE_CHUNK 256

/*
 * Every run through decode_member, DECODE_CHUNK at a time; between chunks,
 * with the workers idle, the calling thread unmaps the files decoded, so
 * that peak memory stays near the array's size. Unmapping on the workers
 * instead cost more than it freed: each munmap takes the address space's
 * lock for writing and interrupts the other cores to flush their TLBs, so
 * two threads decoded 1,800 files slower than one (0.154 s against 0.123 s
 * chunked, bench/results/python_read.md).
 */
static bool decode_chunks(ImdError **error, Build *build, size_t runs)
{
    bool ok = true;
    for (size_t start = 0; ok && start < runs; start += DECODE_CHUNK) {
        size_t count = runs - start < DECODE_CHUNK ? runs - start : DECODE_CHUNK;
        build->run_offset = start;
        ok = imd__parallel(error, build->reader->context, count, decode_member, build,
                           "decoding DICOM images");
        for (size_t position = start; position < start + count; position++) {
            size_t run = decode_order(build, position);
            Member *m = &build->reader->members[build->records[build->run_start[run]].member];
            if (m->dataset == NULL) {
                forget_mapping(m);
            }
        }
    }
    return ok;
}

/* The run holding the middle image of the first volume (where a viewer starts), else 0. */
static size_t middle_run(const Build *build, size_t ndim, size_t runs)
{
    size_t middle = ndim >= 3 ? imd_series_dim(build->series, ndim - 3) / 2 : 0;
    for (size_t run = 0; run < runs; run++) {
        for (size_t i = build->run_start[run]; i < build->run_start[run + 1]; i++) {
            if (build->cell_of[i] == middle) {
                return run;
            }
        }
    }
    return 0;
}

/* Runs of records decoded together, and each record's cell, for decode_member:
 * a mosaic's tiles (one decode of its frame), else each image on its own (the
 * frames of a multi-frame file in parallel). Records are sorted by member. */
static bool plan_decoding(ImdError **error, Build *build, size_t *runs)
{
    const ImdLayout *l = &build->layout;
    build->cell_of = imd__malloc(error, build->count * sizeof *build->cell_of);
    build->run_start = imd__malloc(error, (build->count + 1) * sizeof *build->run_start);
    if (build->cell_of == NULL || build->run_start == NULL) {
        return false;
    }
    for (size_t i = 0; i < build->count; i++) {
        build->cell_of[i] = SIZE_MAX;
    }
    size_t cells = 1;
    for (size_t d = 0; d < l->tag_ndim; d++) {
        cells *= l->tag_shape[d];
    }
    for (size_t c = 0; c < cells * l->slices; c++) {
        if (l->cell[c] != UINT32_MAX) {
            build->cell_of[l->cell[c]] = c;
        }
    }
    *runs = 0;
    for (size_t i = 0; i < build->count; i++) {
        bool mosaic = build->reader->members[build->records[i].member].mosaic.count > 0;
        if (i == 0 || build->records[i].member != build->records[i - 1].member || !mosaic) {
            build->run_start[(*runs)++] = i;
        }
    }
    build->run_start[*runs] = build->count;
    return true;
}

static bool set_axes(ImdError **error, Build *build, size_t ndim)
{
    const ImdLayout *l = &build->layout;
    const ImdDicomDataSet *first =
        record_dataset(build->reader, &build->records[l->cell[0] == UINT32_MAX ? 0 : l->cell[0]]);
    double ds = 1, dr = 1, dc = 1;
    if (!number_of(first, IMD_TAG_SpacingBetweenSlices, 0, &ds) &&
        !number_of(first, IMD_TAG_SliceThickness, 0, &ds)) {
        ds = 1;
    }
    if (!number_of(first, IMD_TAG_PixelSpacing, 0, &dr) ||
        !number_of(first, IMD_TAG_PixelSpacing, 1, &dc)) {
        dr = dc = 1;
    }
    ds = ds > 0 ? ds : 1;
    /* The nominal spacing (SpacingBetweenSlices, else SliceThickness, as the
     * original) unless the positions disagree with it by more than 1e-3 mm over
     * the stack: then the step they show (the mean from first to last slice),
     * so that the last slice lands where its file says. DS rounding noise
     * (sag_oblique: 2.6e-6 mm) keeps the nominal value. */
    if (l->slices > 1) {
        double span = l->distances[l->slices - 1] - l->distances[0];
        double measured = span / (double)(l->slices - 1);
        if (isfinite(measured) && measured > 0 && fabs(span - ds * (double)(l->slices - 1)) > 1e-3) {
            ds = measured;
        }
    }
    double spacing[3] = {ds, dr > 0 ? dr : 1, dc > 0 ? dc : 1};
    ImdHeader *header = imd_series_header(build->series);
    if (!imd_series_set_input_order(error, build->series, l->order) ||
        !imd_header_set_spacing(error, header, spacing)) {
        return false;
    }
    ImdVec3 p0 = l->positions[0];
    /* Axis starts as the original: slice = ipp0.z, row = ipp0.y, column = ipp0.x (§1.4). */
    size_t d = 0;
    bool ok = true;
    for (; ok && d < l->tag_ndim; d++) {
        ImdAxis *axis = imd_axis_create_variable(error, imd_axis_name(imd_series_axis(build->series, d)),
                                                 l->axis_values[d], l->tag_shape[d]);
        ok = axis != NULL && imd_series_set_axis(error, build->series, d, axis);
    }
    if (ok && ndim - d == 3) {
        ImdAxis *axis = imd_axis_create_uniform(error, "slice", p0.z, spacing[0], l->slices);
        ok = axis != NULL && imd_series_set_axis(error, build->series, d++, axis);
    }
    ImdAxis *row = ok ? imd_axis_create_uniform(error, "row", p0.y, spacing[1], build->rows) : NULL;
    ok = row != NULL && imd_series_set_axis(error, build->series, d++, row);
    ImdAxis *column = ok ? imd_axis_create_uniform(error, "column", p0.x, spacing[2], build->columns)
                         : NULL;
    return column != NULL && imd_series_set_axis(error, build->series, d, column);
}

static const char *const copied_keywords[] = {
    "PatientName", "PatientID", "PatientBirthDate", "StudyInstanceUID", "StudyID",
    "StudyDate", "StudyTime", "SeriesInstanceUID", "FrameOfReferenceUID", "SeriesDate",
    "SeriesTime", "SeriesNumber", "SeriesDescription", "ImageType", "AccessionNumber",
    "Modality", "Laterality", "EchoNumbers", "AcquisitionNumber", "ProtocolName",
    "BodyPartExamined", "PatientPosition", "SOPClassUID", "PhotometricInterpretation",
};

static bool copy_attributes(ImdError **error, const ImdDicomDataSet *d, ImdHeader *header)
{
    for (size_t i = 0; i < sizeof copied_keywords / sizeof copied_keywords[0]; i++) {
        uint32_t tag;
        char *value = imd_dicom_tag(copied_keywords[i], &tag) ? text_of(d, tag) : NULL;
        bool ok = value == NULL || imd_header_set_string(error, header, copied_keywords[i], value);
        free(value);
        if (!ok) {
            return false;
        }
    }
    double center, width;
    if (number_of(d, IMD_TAG_WindowCenter, 0, &center) &&
        number_of(d, IMD_TAG_WindowWidth, 0, &width)) {
        imd_header_set_window(header, center, width);
    }
    return true;
}

static void *template_clone(const void *dataset)
{
    return imd_dicom_dataset_clone(NULL, dataset);
}

static void template_destroy(void *dataset)
{
    imd_dicom_dataset_destroy(dataset);
}

/* A template attribute by keyword (ImdTemplateOps.get_string): other formats read the
 * DICOM template through the header's API, never as a data set. */
static bool template_get_string(ImdError **error, const void *dataset, const char *keyword,
                                char **value)
{
    *value = NULL;
    uint32_t tag;
    if (!imd_dicom_tag(keyword, &tag)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "template attribute: unknown DICOM keyword "
                      "\"%s\"", keyword);
        return false;
    }
    const ImdDicomElement *e = imd_dicom_dataset_find(dataset, tag);
    if (e == NULL || !imd_dicom_vr_is_text(imd_dicom_element_vr(e))) {
        return true; /* absent, or no text (binary VRs, sequences) */
    }
    *value = imd_dicom_element_string(error, dataset, e);
    return *value != NULL;
}

static const ImdTemplateOps template_ops = {template_clone, template_destroy,
                                            template_get_string};

/* The single-frame class of an enhanced or legacy converted class (PS3.4 B.5), or NULL. */
static const char *classic_class(const char *uid)
{
    static const char *const pairs[][2] = {
        {"1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.4"},     /* Enhanced MR */
        {"1.2.840.10008.5.1.4.1.1.4.4", "1.2.840.10008.5.1.4.1.1.4"},     /* Legacy Converted MR */
        {"1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.2"},     /* Enhanced CT */
        {"1.2.840.10008.5.1.4.1.1.2.2", "1.2.840.10008.5.1.4.1.1.2"},     /* Legacy Converted CT */
        {"1.2.840.10008.5.1.4.1.1.130", "1.2.840.10008.5.1.4.1.1.128"},   /* Enhanced PET */
        {"1.2.840.10008.5.1.4.1.1.128.1", "1.2.840.10008.5.1.4.1.1.128"}, /* Legacy Converted PET */
    };
    for (size_t i = 0; uid != NULL && i < sizeof pairs / sizeof pairs[0]; i++) {
        if (strcmp(uid, pairs[i][0]) == 0) {
            return pairs[i][1];
        }
    }
    return NULL;
}

/*
 * The series' template: the first image's data set without pixel data. For a
 * frame of a multi-frame file, a classic single-frame data set: the file's
 * attributes without the multi-frame modules, the frame's own values on top,
 * and the single-frame SOP class, so that writing back gives classic files.
 */
static ImdDicomDataSet *series_template(ImdError **error, const Reader *reader,
                                        const Record *record)
{
    const ImdDicomDataSet *file = reader->members[record->member].dataset;
    ImdDicomDataSet *t = imd_dicom_dataset_clone(error, record->view != NULL ? file
                                                                             : record_dataset(reader, record));
    if (t == NULL) {
        return NULL;
    }
    imd_dicom_dataset_remove(t, IMD_TAG_PixelData);
    if (record->view == NULL) {
        return t;
    }
    static const uint32_t multi_frame[] = {
        IMD_TAG_SharedFunctionalGroupsSequence, IMD_TAG_PerFrameFunctionalGroupsSequence,
        IMD_TAG_NumberOfFrames, IMD_TAG_FrameIncrementPointer,
        IMD_TAG_DimensionOrganizationSequence, IMD_TAG_DimensionIndexSequence,
        IMD_TAG_ExtendedOffsetTable, IMD_TAG_ExtendedOffsetTableLengths};
    for (size_t i = 0; i < sizeof multi_frame / sizeof multi_frame[0]; i++) {
        imd_dicom_dataset_remove(t, multi_frame[i]);
    }
    bool ok = true;
    for (size_t i = 0; ok && i < imd_dicom_dataset_count(record->view); i++) {
        const ImdDicomElement *e = imd_dicom_dataset_element(record->view, i);
        size_t size;
        const uint8_t *bytes = imd_dicom_element_bytes(e, &size);
        if (imd_dicom_element_vr(e) != IMD_VR_SQ) {
            ok = imd_dicom_dataset_set_bytes(error, t, imd_dicom_element_tag(e),
                                             imd_dicom_element_vr(e), bytes, size);
        }
    }
    char *sop_class = text_of(t, IMD_TAG_SOPClassUID);
    const char *classic = classic_class(sop_class);
    free(sop_class);
    if (ok && classic != NULL) {
        ok = imd_dicom_dataset_set_bytes(error, t, IMD_TAG_SOPClassUID, IMD_VR_UI,
                                         (const uint8_t *)classic, strlen(classic));
    }
    if (!ok) {
        imd_dicom_dataset_destroy(t);
        return NULL;
    }
    return t;
}

/*
 * One rescale for every image of a float64 series (integers stored, one
 * RescaleSlope/Intercept or Philips scaling): the header says so with
 * StoredValueSlope and StoredValueIntercept, so that writers can store the
 * integers again (NIfTI scl_slope/scl_inter, as dcm2niix).
 */
static bool set_stored_scaling(ImdError **error, Build *build)
{
    const ImdPixelFormat *first = &build->records[0].format;
    if (imd_series_dtype(build->series) != IMD_DTYPE_FLOAT64 || first->bits_allocated > 16 ||
        first->samples_per_pixel != 1) {
        return true;
    }
    for (size_t i = 1; i < build->count; i++) {
        const ImdPixelFormat *f = &build->records[i].format;
        if (f->slope != first->slope || f->intercept != first->intercept ||
            f->bits_allocated > 16) {
            return true;
        }
    }
    char slope[32], intercept[32];
    snprintf(slope, sizeof slope, "%.17g", first->slope);
    snprintf(intercept, sizeof intercept, "%.17g", first->intercept);
    ImdHeader *header = imd_series_header(build->series);
    return imd_header_set_string(error, header, "StoredValueSlope", slope) &&
           imd_header_set_string(error, header, "StoredValueIntercept", intercept);
}

/* The source's transfer syntax (image_info --json reports it), from the file. */
static bool set_transfer_syntax(ImdError **error, const Reader *reader, const Record *record,
                                ImdHeader *header)
{
    const char *uid = imd_dicom_dataset_transfer_syntax(reader->members[record->member].dataset);
    return uid == NULL || uid[0] == '\0' ||
           imd_header_set_string(error, header, "TransferSyntaxUID", uid);
}

/*
 * A Siemens mosaic's per-slice acquisition times (CSA MosaicRefAcqTimes, ms
 * from the start of the volume, in tile order = slice order) as the header
 * attribute MosaicRefAcqTimes ("0\\52.5\\105..."), for slice-timing correction.
 */
static bool set_slice_times(ImdError **error, const Build *build, const Record *record,
                            ImdHeader *header)
{
    const Member *m = &build->reader->members[record->member];
    if (m->mosaic.count == 0) {
        return true;
    }
    ImdSiemensImage csa;
    if (!imd__siemens_image(NULL, m->dataset, &csa) || csa.slice_time_count == 0) {
        imd__siemens_image_free(&csa);
        return true; /* UIH mosaics, or no times: nothing to keep */
    }
    /* Tiles run along the CSA SliceNormalVector, the series' slices along row x
     * column: a head-to-foot mosaic (dcm_qa_stc D13/ep2d_Asc_HF) has them reversed. */
    ImdVec3 r = build->layout.row, c = build->layout.column, n = csa.slice_normal;
    ImdVec3 normal = {r.y * c.z - r.z * c.y, r.z * c.x - r.x * c.z, r.x * c.y - r.y * c.x};
    bool reversed = normal.x * n.x + normal.y * n.y + normal.z * n.z < 0;
    ImdText text = {0};
    for (size_t i = 0; i < csa.slice_time_count; i++) {
        size_t k = reversed ? csa.slice_time_count - 1 - i : i;
        imd__text_printf(&text, "%s%.10g", i > 0 ? "\\" : "", csa.slice_times[k]);
    }
    imd__siemens_image_free(&csa);
    char *times = imd__text_finish(error, &text);
    bool ok = times != NULL && imd_header_set_string(error, header, "MosaicRefAcqTimes", times);
    free(times);
    return ok;
}

static bool set_header(ImdError **error, Build *build)
{
    const ImdLayout *l = &build->layout;
    ImdHeader *header = imd_series_header(build->series);
    size_t first_key = 0;
    for (size_t i = 0; i < l->slices; i++) {
        if (l->cell[i] != UINT32_MAX) {
            first_key = l->cell[i];
            break;
        }
    }
    const ImdDicomDataSet *first = record_dataset(build->reader, &build->records[first_key]);
    build->first = first;
    ImdDicomDataSet *template = series_template(error, build->reader, &build->records[first_key]);
    bool ok = template != NULL && copy_attributes(error, template, header) &&
              (build->label == NULL || build->label[0] == '\0' ||
               imd_header_set_string(error, header, "SplitLabel", build->label)) &&
              set_transfer_syntax(error, build->reader, &build->records[first_key], header) &&
              imd_header_set_orientation(error, header, l->row, l->column) &&
              imd_header_set_image_positions(error, header, l->positions, l->slices) &&
              imd_header_set_slice_locations(error, header, l->distances, l->slices);
    if (template != NULL) {
        if (!ok || !imd_header_set_template(error, header, template, &template_ops)) {
            imd_dicom_dataset_destroy(template);
            return false;
        }
    }
    imd_header_set_geometry_defined(header, true);
    return ok && set_stored_scaling(error, build) &&
           set_slice_times(error, build, &build->records[first_key], header);
}

/*
 * What image `d` holds beyond the series' first image `first` (top-level
 * elements that are missing there or differ; not pixel data, sequences or
 * Siemens' CSA image header, which a write drops): NULL when nothing, or on
 * failure (then a write falls back to the first image's values, as the
 * original always did).
 */
static ImdDicomDataSet *instance_delta(const ImdDicomDataSet *d, const ImdDicomDataSet *first)
{
    if (d == first) {
        return NULL;
    }
    uint32_t csa = imd__dicom_private_tag(d, IMD_PRIVATE_SiemensCsaImageHeaderInfo);
    ImdDicomDataSet *delta = NULL;
    for (size_t i = 0; i < imd_dicom_dataset_count(d); i++) {
        const ImdDicomElement *e = imd_dicom_dataset_element(d, i);
        uint32_t tag = imd_dicom_element_tag(e);
        ImdVR vr = imd_dicom_element_vr(e);
        if (tag == IMD_TAG_PixelData || vr == IMD_VR_SQ ||
            IMD_TAG_GROUP(tag) == IMD_GROUP_FILE_META || imd_dicom_element_is_encapsulated(e) ||
            (csa != 0 && tag == csa)) {
            continue;
        }
        size_t size, other_size;
        const uint8_t *bytes = imd_dicom_element_bytes(e, &size);
        const ImdDicomElement *o = imd_dicom_dataset_find(first, tag);
        const uint8_t *other = o != NULL ? imd_dicom_element_bytes(o, &other_size) : NULL;
        if (o != NULL && imd_dicom_element_vr(o) == vr && other_size == size &&
            (size == 0 || memcmp(bytes, other, size) == 0)) {
            continue;
        }
        if (delta == NULL && (delta = imd_dicom_dataset_create(NULL)) == NULL) {
            return NULL;
        }
        if (!imd_dicom_dataset_set_bytes(NULL, delta, tag, vr, bytes, size)) {
            imd_dicom_dataset_destroy(delta);
            return NULL;
        }
    }
    return delta;
}

/* Tags per slice: each cell's values (behaviour.md §1.3); order none holds (0,). */
static bool set_tags(ImdError **error, Build *build)
{
    const ImdLayout *l = &build->layout;
    ImdHeader *header = imd_series_header(build->series);
    size_t components = l->tag_ndim > 0 ? l->tag_ndim : 1, cells = 1;
    for (size_t d = 0; d < l->tag_ndim; d++) {
        cells *= l->tag_shape[d];
    }
    if (!imd_header_set_tag_shape(error, header, l->slices, l->tag_ndim, l->tag_shape, components)) {
        return false;
    }
    for (size_t cell = 0; cell < cells; cell++) {
        size_t index[IMD_SORT_MAX_TAGS], rest = cell;
        for (size_t d = l->tag_ndim; d-- > 0;) {
            index[d] = rest % l->tag_shape[d];
            rest /= l->tag_shape[d];
        }
        for (size_t s = 0; s < l->slices; s++) {
            if (l->cell[cell * l->slices + s] == UINT32_MAX) {
                continue;
            }
            ImdValue zero = imd_value_number(0);
            const ImdValue *values = l->tag_ndim > 0 ? &l->tags[(cell * l->slices + s) * l->tag_ndim]
                                                     : &zero;
            const ImdDicomDataSet *d =
                record_dataset(build->reader, &build->records[l->cell[cell * l->slices + s]]);
            char *uid = text_of(d, IMD_TAG_SOPInstanceUID);
            ImdDicomDataSet *delta = instance_delta(d, build->first);
            bool ok = imd_header_set_tag(error, header, s, index, values) &&
                      imd_header_set_instance_uid(error, header, s, index,
                                                  uid != NULL && strlen(uid) < IMD_UID_SIZE ? uid
                                                                                            : NULL);
            if (ok && !imd_header_set_instance_dataset(error, header, s, index, delta)) {
                imd_dicom_dataset_destroy(delta);
                ok = false;
            } else if (!ok) {
                imd_dicom_dataset_destroy(delta);
            }
            free(uid);
            if (!ok) {
                return false;
            }
        }
    }
    return true;
}

static ImdSeries *build_series(ImdError **error, Build *build)
{
    const ImdLayout *l = &build->layout;
    ImdPixelFormat *formats = imd__calloc(error, build->count, sizeof *formats);
    if (formats == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < build->count; i++) {
        formats[i] = build->records[i].format;
        const ImdMosaic *mosaic = &build->reader->members[build->records[i].member].mosaic;
        uint32_t rows = mosaic->count > 0 ? mosaic->tile_rows : formats[i].rows;
        uint32_t columns = mosaic->count > 0 ? mosaic->tile_columns : formats[i].columns;
        build->rows = rows > build->rows ? rows : build->rows;
        build->columns = columns > build->columns ? columns : build->columns;
    }
    ImdDType dtype = imd__dicom_series_dtype(formats, build->count);
    free(formats);
    size_t shape[IMD_MAX_DIMS], ndim = 0;
    for (size_t d = 0; d < l->tag_ndim; d++) {
        shape[ndim++] = l->tag_shape[d];
    }
    /* One file gives 2D: the slice axis goes when it has one slice and no tags (§3.5). */
    if (l->slices > 1 || l->tag_ndim > 0) {
        shape[ndim++] = l->slices;
    }
    shape[ndim++] = build->rows;
    shape[ndim++] = build->columns;
    build->series = imd_series_create(error, dtype, ndim, shape);
    if (build->series == NULL || !set_axes(error, build, ndim) || !set_header(error, build) ||
        !set_tags(error, build)) {
        imd_series_destroy(build->series);
        return NULL;
    }
    size_t runs = 0;
    if (!build->reader->settings.headers_only) {
        if (!plan_decoding(error, build, &runs)) {
            imd_series_destroy(build->series);
            return NULL;
        }
        /* The first failure by member, whatever the number of threads. */
        const ImdContext *context = build->reader->context;
        build->first_run = imd_context_fill_watched(context) ? middle_run(build, ndim, runs) : 0;
        imd_context_fill(context, IMD_FILL_STARTED, build->series, 0);
        bool decoded = decode_chunks(error, build, runs);
        imd_context_fill(context, IMD_FILL_ENDED, build->series, 0);
        if (!decoded) {
            imd_series_destroy(build->series);
            return NULL;
        }
    }
    return build->series;
}

/* ---- finishing: records -> groups -> series ---- */

static int compare_records(const void *a, const void *b)
{
    const Record *x = a, *y = b;
    int c = strcmp(x->group, y->group);
    if (c != 0) {
        return c;
    }
    if (x->member != y->member) {
        return x->member < y->member ? -1 : 1;
    }
    return (x->tile > y->tile) - (x->tile < y->tile);
}

static void sort_options(const Reader *reader, const Order *order, const ImdDicomDataSet *first,
                         ImdSortOptions *options)
{
    memset(options, 0, sizeof *options);
    for (size_t i = 0; i < order->count; i++) {
        options->names[i] = order->names[i];
    }
    options->count = order->count;
    options->auto_order = order->automatic;
    options->slice_tolerance = reader->settings.slice_tolerance;
    options->dir_cosine_tolerance = reader->settings.dir_cosine_tolerance;
    options->accept_uneven_slices = reader->settings.accept_uneven_slices;
    options->accept_duplicate_tag = reader->settings.accept_duplicate_tag;
    options->sort_on_slice_location = reader->settings.sort_on_slice_location;
    double tr;
    if (number_of(first, IMD_TAG_FrameTime, 0, &tr) && tr > 0 && isfinite(tr)) {
        options->time_step = tr / 1000; /* FrameTime (ms) of a multi-frame cine */
    } else if (number_of(first, IMD_TAG_RepetitionTime, 0, &tr) && tr > 0 && isfinite(tr)) {
        options->time_step = tr / 1000; /* RepetitionTime is in ms */
    }
    if (number_of(first, IMD_TAG_SpacingBetweenSlices, 0, &options->nominal_spacing)) {
        options->nominal_is_thickness = false;
    } else if (number_of(first, IMD_TAG_SliceThickness, 0, &options->nominal_spacing)) {
        options->nominal_is_thickness = true;
    }
}

/* A series with images we cannot decode fails as a whole, naming the first. */
static bool check_readable(ImdError **error, const Record *records, size_t count)
{
    size_t unreadable = 0, first = 0;
    for (size_t i = count; i-- > 0;) {
        if (records[i].unreadable != NULL) {
            unreadable++;
            first = i;
        }
    }
    if (unreadable == 0) {
        return true;
    }
    imd_error_set(error, imd_error_code(records[first].unreadable), "%zu of %zu images: %s",
                  unreadable, count, imd_error_message(records[first].unreadable));
    return false;
}

/* Every image's pixel data holds what its format claims (before any allocation). */
static bool check_pixel_bytes(ImdError **error, const Reader *reader, const Record *records,
                              size_t count)
{
    if (reader->settings.headers_only) {
        return true; /* the pixel data was not read */
    }
    for (size_t i = 0; i < count; i++) {
        const Member *m = &reader->members[records[i].member];
        if (!imd__dicom_frame_present(error, m->dataset, &records[i].format, records[i].frame)) {
            imd_error_prefix(error, "%s: ", m->file.name);
            return false;
        }
    }
    return true;
}

/*
 * The attribute lookups (text_of, the group key, labels, copied attributes)
 * take a NULL error: an element that is absent and one whose value could not
 * be copied give the same answer. When an allocation failed anywhere since
 * the read began, an image may have gone to the wrong series or lost an
 * attribute without an error, so the read ends as out of memory instead of
 * handing on a series that differs from the input (found by fault injection,
 * docs/fuzzing.md).
 */
static bool out_of_memory(ImdError **error, const Reader *reader)
{
    if (imd__alloc_failures() == reader->alloc_failures) {
        return false;
    }
    imd_error_set(error, IMD_ERR_NOMEM, "out of memory while reading the DICOM attributes");
    return true;
}

static bool finish_group(ImdError **error, Reader *reader, const Order *order,
                         Record *records, size_t count, const char *label, ImdSeriesList *list)
{
    if (!check_readable(error, records, count) || !check_pixel_bytes(error, reader, records, count)) {
        return false;
    }
    ImdSliceKey *keys = imd__calloc(error, count, sizeof *keys);
    if (keys == NULL) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        keys[i] = records[i].key;
    }
    ImdSortOptions options;
    sort_options(reader, order, record_dataset(reader, &records[0]), &options);
    Build build = {.reader = reader, .records = records, .count = count, .label = label};
    bool ok = imd__dicom_sort(error, keys, count, &options, &build.layout);
    free(keys);
    for (size_t i = 0; ok && i < build.layout.warning_count; i++) {
        imd_context_log(reader->context, IMD_LOG_WARNING, "%s", build.layout.warnings[i]);
    }
    ImdSeries *series = ok ? build_series(error, &build) : NULL;
    imd__dicom_layout_free(&build.layout);
    free(build.cell_of);
    free(build.run_start);
    if (series == NULL) {
        return false;
    }
    imd_context_log(reader->context, IMD_LOG_INFO, "DICOM: %zu image(s) into a series of %zu "
                    "dimensions, order %s", count, imd_series_ndim(series),
                    imd_header_input_order(imd_series_const_header(series)));
    /* To the consumer at once in a streaming read: one series in memory at a time. */
    if (out_of_memory(error, reader)) {
        imd_series_destroy(series);
        return false;
    }
    return imd_context_emit_series(error, reader->context, list, series);
}

/* "series 7 (ep2d_diff, 64 images from dwi/IM0001.dcm)": how a user finds a failed series. */
static void describe_series(const Reader *reader, const Record *records, size_t count,
                            const char *label, ImdText *text)
{
    const ImdDicomDataSet *d = record_dataset(reader, &records[0]);
    char *number = d != NULL ? text_of(d, IMD_TAG_SeriesNumber) : NULL;
    char *description = d != NULL ? text_of(d, IMD_TAG_SeriesDescription) : NULL;
    imd__text_printf(text, "series %s%s%s (%s%s%zu image%s from %s)",
                     number != NULL && number[0] != '\0' ? number : "without number",
                     label != NULL && label[0] != '\0' ? " " : "", label != NULL ? label : "",
                     description != NULL ? description : "",
                     description != NULL && description[0] != '\0' ? ", " : "", count,
                     count == 1 ? "" : "s", reader->members[records[0].member].file.name);
    free(number);
    free(description);
}

/*
 * Each series on its own: one that cannot be read or sorted becomes a failure
 * in the list, naming the series, and the others are still read (a partial
 * result; skip_broken_series is kept for the original's scripts and changes
 * nothing). Running out of memory stops everything.
 */
/* Running out of memory, or being cancelled (Ctrl-C), ends the whole read; any
 * other error ends one series. */
static bool stops_everything(const ImdError *error)
{
    return imd_error_code(error) == IMD_ERR_NOMEM || imd_error_code(error) == IMD_ERR_CANCELLED;
}

/* One piece of a series: read it, or add its failure to the list. */
static bool finish_piece(ImdError **error, Reader *reader, const Order *order, Record *records,
                         size_t count, const char *label, ImdSeriesList *list)
{
    ImdError *failure = NULL;
    ImdText name = {0};
    describe_series(reader, records, count, label, &name);
    char *described = imd__text_finish(NULL, &name);
    bool ok = true;
    if (!finish_group(&failure, reader, order, records, count, label, list)) {
        imd_error_prefix(&failure, "%s: ", described != NULL ? described : "a series");
        if (stops_everything(failure) || !imd_series_list_add_failure(error, list, failure)) {
            imd_error_propagate(error, failure);
            ok = false;
        }
    }
    free(described);
    return ok;
}

/* "ph" + "part2" -> "ph_part2"; either may be empty. */
static char *join_labels(ImdError **error, const char *a, const char *b)
{
    return imd__sprintf(error, "%s%s%s", a, a[0] != '\0' && b[0] != '\0' ? "_" : "", b);
}

/*
 * One group of images: split by orientation, matrix size or a GE field map's
 * halves (split.c), each piece read on its own. `labelled`: the series is
 * split by image labels too, so the group's label names it.
 */
/*
 * Headers are parsed twice for local files: once for the keys of every file,
 * released right after (a folder of 50,000 files would otherwise hold 50,000
 * parsed headers), and again, on all cores, for the files of the one series
 * being built. Zip members keep theirs (their bytes are not kept).
 */
typedef struct Reload {
    Reader *reader;
    size_t *members; /* which members, or NULL: members first, first + 1, ... */
    size_t first;
} Reload;

static bool reload_member(ImdError **error, void *user, size_t index)
{
    Reload *reload = user;
    return parse_member(error, reload->reader, reload->members[index]);
}

static bool parse_batch_member(ImdError **error, void *user, size_t index)
{
    Reload *batch = user;
    if (!parse_member(error, batch->reader, batch->first + index)) {
        return false;
    }
    /* Until its keys are taken, only the header's pages are touched again. A
     * kept mapping's pages go once the keys are taken (release_member): its
     * header is read again at once, and the mapping outlives the data set. */
    const Member *m = &batch->reader->members[batch->first + index];
    if (m->mapped == NULL) {
        imd__dicom_dataset_drop_pages(m->dataset);
    }
    return true;
}

static bool reload_group(ImdError **error, Reader *reader, Record *records, size_t count)
{
    size_t *members = imd__malloc(error, (count > 0 ? count : 1) * sizeof *members), n = 0;
    if (members == NULL) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        const Member *m = &reader->members[records[i].member];
        if (m->dataset == NULL && m->file.path != NULL && m->error == NULL &&
            (n == 0 || members[n - 1] != records[i].member)) {
            members[n++] = records[i].member; /* records are sorted by member */
        }
    }
    Reload reload = {reader, members, 0};
    bool parsed = imd__parallel(error, reader->context, n, reload_member, &reload, NULL);
    free(members);
    if (!parsed) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        Member *m = &reader->members[records[i].member];
        if (m->dataset == NULL) {
            imd_error_set(error, m->error != NULL ? imd_error_code(m->error) : IMD_ERR_IO,
                          "%s: read again: %s", m->file.name,
                          m->error != NULL ? imd_error_message(m->error) : "gone");
            return false;
        }
        imd__dicom_dataset_set_fallback(records[i].view, m->dataset);
    }
    return true;
}

/* After its series: the group's parsed headers go (see reload_group). */
static void release_group(Reader *reader, Record *records, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        Member *m = &reader->members[records[i].member];
        imd__dicom_dataset_set_fallback(records[i].view, NULL);
        if (m->file.path != NULL && m->dataset != NULL) {
            imd_dicom_dataset_destroy(m->dataset);
            m->dataset = NULL;
            if (reader->settings.headers_only) {
                forget_mapping(m); /* no pixels to read: done with the file (a frame of it
                                    * in another series opens it again by path) */
            } else {
                /* not decoded (its series failed) or another series still to come */
                imd__dicom_buffer_drop_pages(m->mapped);
            }
        }
    }
}

static bool finish_split_loaded(ImdError **error, Reader *reader, const Order *order,
                                Record *records, size_t count, bool labelled,
                                ImdSeriesList *list);

static bool finish_split(ImdError **error, Reader *reader, const Order *order, Record *records,
                         size_t count, bool labelled, ImdSeriesList *list)
{
    ImdError *gone = NULL;
    if (!reload_group(&gone, reader, records, count)) {
        imd_error_prefix(&gone, "the series of %s: ", reader->members[records[0].member].file.name);
        if (stops_everything(gone) || !imd_series_list_add_failure(error, list, gone)) {
            imd_error_propagate(error, gone);
            release_group(reader, records, count);
            return false;
        }
        release_group(reader, records, count);
        return true;
    }
    bool done = finish_split_loaded(error, reader, order, records, count, labelled, list);
    release_group(reader, records, count);
    return done;
}

static bool finish_split_loaded(ImdError **error, Reader *reader, const Order *order,
                                Record *records, size_t count, bool labelled,
                                ImdSeriesList *list)
{
    const char *label = labelled ? group_label(records[0].group) : "";
    ImdSplitKey *keys = imd__calloc(error, count, sizeof *keys);
    uint32_t *cluster = imd__calloc(error, count, sizeof *cluster);
    Record *piece = imd__calloc(error, count, sizeof *piece);
    char **labels = NULL;
    size_t clusters = 1;
    bool ok = keys != NULL && cluster != NULL && piece != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        const ImdSliceKey *k = &records[i].key;
        const Member *m = &reader->members[records[i].member];
        keys[i] = (ImdSplitKey){.row = k->row, .column = k->column,
                                .has_orientation = k->has_orientation,
                                .rows = m->mosaic.count > 0 ? m->mosaic.tile_rows : records[i].format.rows,
                                .columns = m->mosaic.count > 0 ? m->mosaic.tile_columns
                                                               : records[i].format.columns,
                                .position = k->position, .sequence = k->sequence,
                                .ge_field_map = imd__dicom_is_ge_field_map(
                                    record_dataset(reader, &records[i]))};
    }
    ok = ok && imd__dicom_split_group(error, keys, count, reader->settings.dir_cosine_tolerance,
                                      cluster, &labels, &clusters);
    for (size_t c = 0; ok && c < clusters; c++) {
        size_t n = 0;
        for (size_t i = 0; i < count; i++) {
            if (cluster[i] == c) {
                piece[n++] = records[i];
            }
        }
        char *joined = join_labels(error, label, labels != NULL ? labels[c] : "");
        ok = joined != NULL && finish_piece(error, reader, order, piece, n, joined, list);
        free(joined);
    }
    imd__dicom_split_labels_free(labels, clusters);
    free(keys);
    free(cluster);
    free(piece);
    return ok;
}

/*
 * Each series on its own: one that cannot be read or sorted becomes a failure
 * in the list, naming the series, and the others are still read (a partial
 * result; skip_broken_series is kept for the original's scripts and changes
 * nothing). Running out of memory stops everything.
 */
static bool finish_groups(ImdError **error, Reader *reader, const Order *order,
                          Record *records, size_t count, ImdSeriesList *list)
{
    if (count > 0) {
        qsort(records, count, sizeof *records, compare_records);
    }
    for (size_t start = 0; start < count;) {
        size_t end = start + 1;
        while (end < count && strcmp(records[end].group, records[start].group) == 0) {
            end++;
        }
        /* The series is split by labels when a neighbouring group shares all but the label. */
        bool labelled = (start > 0 && same_series(records[start - 1].group, records[start].group)) ||
                        (end < count && same_series(records[end].group, records[start].group));
        if (!finish_split(error, reader, order, records + start, end - start, labelled, list)) {
            return false;
        }
        start = end;
    }
    return true;
}

/*
 * SOP classes that hold no image for a series (PS3.4 Annex B): structured
 * reports, presentation states, key objects, raw data, encapsulated documents,
 * spectroscopy, waveforms, RT plans and structures, Siemens' CSA non-image
 * objects. Real exports mix them into image folders (dcm_qa_cs_dl *_Raw.dcm,
 * dcm_qa_xa60's PhoenixZIPReport).
 */
static bool non_image_class(const char *uid)
{
    static const char *const prefixes[] = {
        "1.2.840.10008.5.1.4.1.1.88.",   /* SR, key object selection */
        "1.2.840.10008.5.1.4.1.1.11.",   /* presentation states */
        "1.2.840.10008.5.1.4.1.1.66.1",  /* spatial registration */
        "1.2.840.10008.5.1.4.1.1.66.2",  /* spatial fiducials */
        "1.2.840.10008.5.1.4.1.1.66.3",  /* deformable spatial registration */
        "1.2.840.10008.5.1.4.1.1.66.5",  /* surface segmentation */
        "1.2.840.10008.5.1.4.1.1.66.6",  /* tractography results */
        "1.2.840.10008.5.1.4.1.1.104.",  /* encapsulated PDF, CDA, STL ... */
        "1.2.840.10008.5.1.4.1.1.4.2",   /* MR spectroscopy */
        "1.2.840.10008.5.1.4.1.1.9.",    /* waveforms */
        "1.2.840.10008.5.1.4.1.1.481.3", /* RT structure set */
        "1.2.840.10008.5.1.4.1.1.481.5", /* RT plan */
        "1.3.12.2.1107.5.9.1",           /* Siemens CSA non-image */
    };
    if (uid != NULL && strcmp(uid, "1.2.840.10008.5.1.4.1.1.66") == 0) {
        return true; /* raw data; its sub-class .66.4 (SEG) is an image */
    }
    for (size_t i = 0; uid != NULL && i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(uid, prefixes[i], strlen(prefixes[i])) == 0) {
            return true;
        }
    }
    return false;
}

/* A file that holds no image: listed with -v, changes nothing. */
static bool not_an_image(const Reader *reader, const Member *m)
{
    char *sop_class = text_of(m->dataset, IMD_TAG_SOPClassUID);
    bool non_image = non_image_class(sop_class);
    const char *why = non_image ? imd_dicom_uid_name(sop_class) : NULL;
    if (!non_image && find(m->dataset, IMD_TAG_Rows) == NULL) {
        why = "no Rows";
    } else if (!non_image && !reader->settings.headers_only &&
               imd_dicom_dataset_find(m->dataset, IMD_TAG_PixelData) == NULL &&
               find(m->dataset, IMD_TAG_FloatPixelData) == NULL &&
               find(m->dataset, IMD_TAG_DoubleFloatPixelData) == NULL) {
        why = "no pixel data";
    }
    if (non_image || why != NULL) {
        imd_context_log(reader->context, IMD_LOG_INFO, "skipped %s: not an image (%s)", m->file.name,
                        why != NULL ? why : sop_class);
    }
    free(sop_class);
    return non_image || why != NULL;
}

/*
 * An image this reader can stack: parsed, an image, not filtered out. A file
 * that cannot be parsed is a failure in the list; one whose pixels we cannot
 * decode is kept, with the reason, and fails its series (see check_readable).
 */
static bool usable(ImdError **error, Reader *reader, Member *m, ImdPixelFormat *format,
                   ImdError **unreadable, ImdSeriesList *list)
{
    if (m->dataset == NULL) {
        ImdError *failure = m->error;
        m->error = NULL;
        if (!imd_series_list_add_failure(error, list, failure)) {
            imd_error_clear(&failure);
        }
        return false;
    }
    for (size_t i = 0; i < imd_dicom_dataset_warning_count(m->dataset); i++) {
        imd_context_log(reader->context, IMD_LOG_DEBUG, "%s: %s", m->file.name,
                        imd_dicom_dataset_warning(m->dataset, i));
    }
    if (not_an_image(reader, m)) {
        return false;
    }
    if (!passes_filters(reader, m->dataset)) {
        imd_context_log(reader->context, IMD_LOG_DEBUG, "%s: left out by a filter", m->file.name);
        return false;
    }
    memset(format, 0, sizeof *format);
    if (imd__dicom_is_segmentation(m->dataset)) {
        /* Its frames are segments over planes: a label axis, a series of its own (seg.c),
         * not images for the sorter. */
        ImdError *failure = NULL;
        ImdSeries *series = imd__dicom_read_segmentation(&failure, m->dataset);
        reader->segmentations++;
        if (series == NULL) {
            imd_error_prefix(&failure, "%s: ", m->file.name);
            if (!imd_series_list_add_failure(error, list, failure)) {
                imd_error_clear(&failure);
            }
        } else {
            (void)imd_context_emit_series(error, reader->context, list, series);
        }
        return false;
    }
    if (!imd__dicom_pixel_format(unreadable, m->dataset, format)) {
        imd_error_prefix(unreadable, "%s: ", m->file.name);
    }
    return true;
}

static ImdSeriesList *dicom_reader_finish(ImdError **error, void *state)
{
    Reader *reader = state;
    Order order = {0};
    Record *records = NULL;
    size_t count = 0, capacity = 0;
    ImdSeriesList *list = imd_series_list_create(error);
    bool ok = list != NULL && parse_order(error, reader, &order);
    for (size_t i = 0; ok && i < reader->count; i++) {
        if (i % PARSE_BATCH == 0) {
            /* Headers are parsed in batches on all cores, each batch's keys taken and
             * its parsed headers released before the next: a folder of 50,000 files
             * never holds more than a batch of parsed headers. */
            Reload batch = {reader, NULL, i};
            size_t batch_count = reader->count - i < PARSE_BATCH ? reader->count - i : PARSE_BATCH;
            if (!imd__parallel(error, reader->context, batch_count, parse_batch_member, &batch,
                               "reading DICOM headers")) {
                ok = false;
                break;
            }
        }
        ImdPixelFormat format;
        ImdError *unreadable = NULL;
        if (!usable(error, reader, &reader->members[i], &format, &unreadable, list)) {
            ok = imd_error_code(error != NULL ? *error : NULL) != IMD_ERR_NOMEM;
            release_member(&reader->members[i], records, count, count); /* not needed again */
            forget_mapping(&reader->members[i]);
            continue;
        }
        size_t before = count;
        ok = add_records(error, reader, &order, i, &format, &unreadable, &records, &count,
                         &capacity, list);
        imd_error_clear(&unreadable);
        /* Its keys are taken: a local file's parsed header goes until its series
         * is built (reload_group), so that a folder of many series holds one
         * series' files at a time, unless it fits the budget; a zip member's
         * stays (its bytes are not kept). */
        if (!keep_parsed(reader, &reader->members[i])) {
            release_member(&reader->members[i], records, before, count);
        } else {
            imd__dicom_buffer_drop_pages(reader->members[i].mapped); /* as release_member */
        }
    }
    if (ok && count == 0 && imd_series_list_failure_count(list) == 0 &&
        reader->segmentations == 0) {
        bool filtered = reader->settings.filtered;
        imd_error_set(error, IMD_ERR_NOT_RECOGNIZED, "no DICOM images among %zu file(s)%s",
                      reader->count, filtered ? " that pass the input filters" : "");
        ok = false;
    }
    ok = ok && finish_groups(error, reader, &order, records, count, list);
    ok = ok && !out_of_memory(error, reader);
    for (size_t i = 0; records != NULL && i < count; i++) {
        free(records[i].group);
        imd_error_clear(&records[i].unreadable);
        imd_dicom_dataset_destroy(records[i].view);
    }
    free(records);
    if (!ok) {
        imd_series_list_destroy(list);
        return NULL;
    }
    return list;
}

static const char *const dicom_suffixes[] = {".dcm", ".ima", NULL};

/* docs/dicom-reading.md "Options", docs/dicom-writing.md. */
static const ImdOptionSpec dicom_options[] = {
    {"input_order", IMD_OPTION_ORDER, "auto, none, or components (time, b, te, a user's name)",
     NULL},
    {"headers_only", IMD_OPTION_BOOL, "read headers, leave the voxels zero", NULL},
    {"input_serinsuid", IMD_OPTION_STRING, "keep only images of this SeriesInstanceUID", NULL},
    {"input_echo", IMD_OPTION_STRING, "keep only images with these EchoNumbers", NULL},
    {"input_acquisition", IMD_OPTION_STRING, "keep only images of this AcquisitionNumber",
     NULL},
    {"select_thickness", IMD_OPTION_DOUBLE, "keep only images of this SliceThickness (mm)",
     NULL},
    {"ignore_series_uid", IMD_OPTION_BOOL, "group without the SeriesInstanceUID", NULL},
    {"split_acquisitions", IMD_OPTION_BOOL, "also group by AcquisitionNumber", NULL},
    {"split_echo_numbers", IMD_OPTION_BOOL, "also group by EchoNumbers", NULL},
    {"slice_tolerance", IMD_OPTION_DOUBLE, "distances closer than this (mm) are one slice",
     NULL},
    {"dir_cosine_tolerance", IMD_OPTION_DOUBLE, "orientations closer than this are one", NULL},
    {"accept_uneven_slices", IMD_OPTION_BOOL, "keep slices of unequal image counts or spacing",
     NULL},
    {"accept_duplicate_tag", IMD_OPTION_BOOL, "renumber images with equal tags", NULL},
    {"sort_on_slice_location", IMD_OPTION_BOOL, "sort slices by SliceLocation", NULL},
    {"skip_broken_series", IMD_OPTION_BOOL, "accepted; every series is read on its own", NULL},
    {"philips_float_scaling", IMD_OPTION_BOOL, "Philips' floating point values (dcm2niix)",
     NULL},
    /* A built-in order component reads another attribute: time=TriggerTime. */
    {"time", IMD_OPTION_STRING, "the DICOM keyword order time reads", NULL},
    {"triggertime", IMD_OPTION_STRING, "the DICOM keyword order triggertime reads", NULL},
    {"b", IMD_OPTION_STRING, "the DICOM keyword order b reads", NULL},
    {"bvector", IMD_OPTION_STRING, "the DICOM keyword order bvector reads", NULL},
    {"dti", IMD_OPTION_STRING, "the DICOM keyword order dti reads", NULL},
    {"te", IMD_OPTION_STRING, "the DICOM keyword order te reads", NULL},
    {"fa", IMD_OPTION_STRING, "the DICOM keyword order fa reads", NULL},
    /* Writing. */
    {"output_sort", IMD_OPTION_CHOICE, "file order of 4D output", imd__dicom_output_sorts},
    {"output_dir", IMD_OPTION_CHOICE, "one folder, or a folder per tag", imd__dicom_output_dirs},
    {"output_transfer_syntax", IMD_OPTION_STRING,
     "explicit, implicit, deflate, rle, jpegls, j2k, jpeg-lossless or a UID", NULL},
    {"keep_uid", IMD_OPTION_BOOL, "keep the template's SeriesInstanceUID", NULL},
    {"enhanced", IMD_OPTION_BOOL, "one Enhanced MR (CT) multi-frame file per series", NULL},
    {"window", IMD_OPTION_STRING, "\"original\" is refused (not supported)", NULL},
    {NULL, 0, NULL, NULL},
};

const ImdFormatPlugin imd__dicom_format = {
    .abi_version = IMD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ImdFormatPlugin),
    .name = "dicom",
    .description = "DICOM files (Part 10 and bare data sets)",
    .suffixes = dicom_suffixes,
    .flags = IMD_FORMAT_READ | IMD_FORMAT_WRITE,
    .probe = dicom_probe,
    .reader_create = dicom_reader_create,
    .reader_add = dicom_reader_add,
    .reader_finish = dicom_reader_finish,
    .reader_destroy = dicom_reader_destroy,
    .write = imd__dicom_write_series,
    .options = dicom_options,
};
