/*
 * split.c: one DICOM series (SeriesInstanceUID) into the pieces a user
 * expects as separate volumes, each named by a label:
 *
 *   - magnitude, phase, real and imaginary images ("ph", "real", "imag"), from
 *     ImageType (PS3.3 C.8.3.1.1.1: Siemens' third value M/P/R/I), the
 *     enhanced ComplexImageComponent (0008,9208), GE's image type
 *     (0043,xx2F: 0 magnitude, 1 phase, 2 real, 3 imaginary) and Philips'
 *     (2005,xx11: M/P/R/I);
 *   - derived images that scanners put beside the acquired ones (ADC, trace,
 *     FA: ImageType DERIVED), labelled by their kind ("adc", "tracew");
 *   - echoes ("e2") and acquisitions ("acq3") when the options ask;
 *   - images of several orientations or matrix sizes (localizers, a
 *     three-plane scout): "part1", "part2", ... in acquisition order;
 *   - field maps in Hz that Philips stores beside the magnitude ("fieldmaphz",
 *     ImageType FIELD_MAP);
 *   - GE direct field maps (PulseSequenceName B0map, B0rf, 3db0map): the
 *     first image of every slice in acquisition order is the field map in Hz
 *     ("fieldmaphz"), the second the magnitude (dcm_qa_fmap/In/GE; GE
 *     describes the two volumes so in dcm2niix issue 501).
 *
 * The first three give a label per image (part of the group key); the last
 * two look at all images of a group together (imd__dicom_split_group).
 */
#include "formats/dicom/dicom_format.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>

static char *text_of(const ImdDicomDataSet *d, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    return e != NULL ? imd_dicom_element_string(NULL, d, e) : NULL;
}

static char *private_text(const ImdDicomDataSet *d, ImdPrivateTag private_tag)
{
    uint32_t tag = imd__dicom_private_tag(d, private_tag);
    return tag != 0 ? text_of(d, tag) : NULL;
}

/* Value `index` of a multi-valued text, trimmed, into out; false when absent. */
static bool value_at(const char *text, size_t index, char *out, size_t size)
{
    for (size_t i = 0; text != NULL && i < index; i++) {
        text = strchr(text, '\\');
        text = text != NULL ? text + 1 : NULL;
    }
    if (text == NULL) {
        return false;
    }
    size_t n = strcspn(text, "\\");
    while (n > 0 && text[n - 1] == ' ') {
        n--;
    }
    while (n > 0 && *text == ' ') {
        text++;
        n--;
    }
    if (n == 0 || n >= size) {
        return false;
    }
    memcpy(out, text, n);
    out[n] = '\0';
    return true;
}

static const char *complex_of_word(const char *word)
{
    static const struct {
        const char *word, *label;
    } words[] = {{"P", "ph"},           {"PHASE", "ph"},  {"R", "real"},
                 {"REAL", "real"},      {"I", "imag"},    {"IMAGINARY", "imag"},
                 {"M", ""},             {"MAGNITUDE", ""}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcasecmp(word, words[i].word) == 0) {
            return words[i].label;
        }
    }
    return NULL;
}

/* "ph", "real", "imag", or "" for magnitude (or unknown). */
static const char *complex_kind(const ImdDicomDataSet *d)
{
    char word[32];
    char *component = text_of(d, IMD_TAG_ComplexImageComponent);
    const char *kind = component != NULL && value_at(component, 0, word, sizeof word)
                           ? complex_of_word(word)
                           : NULL;
    free(component);
    if (kind != NULL) {
        return kind;
    }
    char *ge = private_text(d, IMD_PRIVATE_GeImageType);
    long ge_type = ge != NULL ? strtol(ge, NULL, 10) : 0;
    free(ge);
    if (ge_type >= 1 && ge_type <= 3) {
        return ge_type == 1 ? "ph" : ge_type == 2 ? "real" : "imag";
    }
    char *philips = private_text(d, IMD_PRIVATE_PhilipsMrImageType);
    kind = philips != NULL && value_at(philips, 0, word, sizeof word) ? complex_of_word(word)
                                                                      : NULL;
    free(philips);
    if (kind != NULL) {
        return kind;
    }
    /* ImageType: the third value (Siemens M/P/R/I), or a whole word anywhere after it. */
    char *type = text_of(d, IMD_TAG_ImageType);
    for (size_t i = 2; type != NULL && kind == NULL && value_at(type, i, word, sizeof word); i++) {
        kind = complex_of_word(word);
        if (kind != NULL && strlen(word) == 1 && i != 2) {
            kind = NULL; /* single letters only in the third value */
        }
    }
    free(type);
    return kind != NULL ? kind : "";
}

/* For DERIVED images, their kind: "adc", "tracew", "fa" (the fourth value, else the third). */
static void derived_kind(const ImdDicomDataSet *d, char *out, size_t size)
{
    char first[32], word[32];
    char *type = text_of(d, IMD_TAG_ImageType);
    out[0] = '\0';
    if (type != NULL && value_at(type, 0, first, sizeof first) && strcmp(first, "DERIVED") == 0) {
        bool found = value_at(type, 3, word, sizeof word) || value_at(type, 2, word, sizeof word);
        size_t n = 0;
        for (const char *p = found ? word : "derived"; *p != '\0' && n + 1 < size; p++) {
            unsigned char c = (unsigned char)*p;
            out[n++] = isalnum(c) ? (char)tolower(c) : '_';
        }
        out[n] = '\0';
    }
    free(type);
}

static void append(char *label, size_t size, const char *part)
{
    size_t n = strlen(label);
    if (part[0] != '\0') {
        snprintf(label + n, size - n, "%s%s", n > 0 ? "_" : "", part);
    }
}

/* "e2", "acq3": `prefix` and the element's first value, when present. */
static void append_numbered(char *label, size_t size, const ImdDicomDataSet *d, uint32_t tag,
                            const char *prefix)
{
    char *text = text_of(d, tag);
    char number[24], part[48];
    if (text != NULL && value_at(text, 0, number, sizeof number)) {
        snprintf(part, sizeof part, "%s%s", prefix, number);
        append(label, size, part);
    }
    free(text);
}

char *imd__dicom_image_label(const ImdDicomDataSet *d, bool split_echoes, bool split_acquisitions)
{
    char label[128] = "", part[48];
    if (split_echoes) {
        append_numbered(label, sizeof label, d, IMD_TAG_EchoNumbers, "e");
    }
    append(label, sizeof label, imd__dicom_is_field_map_hz(d) ? "fieldmaphz" : complex_kind(d));
    derived_kind(d, part, sizeof part);
    append(label, sizeof label, part);
    if (split_acquisitions) {
        append_numbered(label, sizeof label, d, IMD_TAG_AcquisitionNumber, "acq");
    }
    return imd__strdup(NULL, label);
}

/* A field map in Hz computed by the scanner: Philips' FrameType / ImageType
 * value FIELD_MAP (or "B0 MAP"), dcm_qa_fmap/In/Philips. */
bool imd__dicom_is_field_map_hz(const ImdDicomDataSet *d)
{
    char *type = text_of(d, IMD_TAG_ImageType);
    char word[32];
    bool yes = false;
    for (size_t i = 2; type != NULL && !yes && value_at(type, i, word, sizeof word); i++) {
        yes = strcmp(word, "FIELD_MAP") == 0 || strcmp(word, "B0 MAP") == 0;
    }
    free(type);
    return yes;
}

bool imd__dicom_is_ge_field_map(const ImdDicomDataSet *d)
{
    char *name = private_text(d, IMD_PRIVATE_GePulseSequenceName);
    char word[32];
    bool yes = name != NULL && value_at(name, 0, word, sizeof word) &&
               (strcasecmp(word, "B0map") == 0 || strcasecmp(word, "B0rf") == 0 ||
                strcasecmp(word, "3db0map") == 0);
    free(name);
    return yes;
}

/* ---- splitting a group ---- */

static bool same_orientation(const ImdSplitKey *a, const ImdSplitKey *b, double tolerance)
{
    if (a->has_orientation != b->has_orientation) {
        return false;
    }
    if (!a->has_orientation) {
        return true;
    }
    double d[6] = {a->row.x - b->row.x,       a->row.y - b->row.y,       a->row.z - b->row.z,
                   a->column.x - b->column.x, a->column.y - b->column.y, a->column.z - b->column.z};
    for (size_t i = 0; i < 6; i++) {
        if (!(fabs(d[i]) <= tolerance)) {
            return false;
        }
    }
    return true;
}

/* The images by acquisition sequence (a stable insertion of indices). */
static void by_sequence(const ImdSplitKey *keys, size_t n, uint32_t *order)
{
    for (size_t i = 0; i < n; i++) {
        size_t at = i;
        while (at > 0 && keys[order[at - 1]].sequence > keys[i].sequence) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = (uint32_t)i;
    }
}

/* Clusters of one matrix size and orientation, numbered in acquisition order. */
static size_t cluster_geometry(const ImdSplitKey *keys, size_t n, const uint32_t *order,
                               double tolerance, uint32_t *cluster, uint32_t *representative)
{
    size_t clusters = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t i = order[k];
        size_t c = 0;
        while (c < clusters &&
               !(keys[representative[c]].rows == keys[i].rows &&
                 keys[representative[c]].columns == keys[i].columns &&
                 same_orientation(&keys[representative[c]], &keys[i], tolerance))) {
            c++;
        }
        if (c == clusters) {
            representative[clusters++] = i;
        }
        cluster[i] = (uint32_t)c;
    }
    return clusters;
}

/* A GE field map series: two images per slice position, the earlier the map. */
static bool split_field_map(const ImdSplitKey *keys, size_t n, const uint32_t *order,
                            uint32_t *cluster)
{
    if (n < 2 || n % 2 != 0 || !keys[0].ge_field_map) {
        return false;
    }
    for (size_t k = 0; k < n / 2; k++) {
        for (size_t j = k + 1; j < n / 2; j++) {
            ImdVec3 a = keys[order[k]].position, b = keys[order[j]].position;
            if (fabs(a.x - b.x) + fabs(a.y - b.y) + fabs(a.z - b.z) < 1e-3) {
                return false; /* the first half must hold every slice once */
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        cluster[order[k]] = k < n / 2 ? 1 : 0;
    }
    return true;
}

bool imd__dicom_split_group(ImdError **error, const ImdSplitKey *keys, size_t n, double tolerance,
                            uint32_t *cluster, char ***labels, size_t *clusters)
{
    *labels = NULL;
    *clusters = 1;
    uint32_t *order = imd__malloc(error, (n > 0 ? n : 1) * 2 * sizeof *order);
    if (order == NULL) {
        return false;
    }
    uint32_t *representative = order + n;
    by_sequence(keys, n, order);
    size_t count = cluster_geometry(keys, n, order, tolerance > 0 ? tolerance : 1e-4, cluster,
                                    representative);
    bool field_map = count == 1 && split_field_map(keys, n, order, cluster);
    free(order);
    if (count == 1 && !field_map) {
        return true;
    }
    *clusters = field_map ? 2 : count;
    *labels = imd__calloc(error, *clusters, sizeof **labels);
    for (size_t c = 0; *labels != NULL && c < *clusters; c++) {
        (*labels)[c] = field_map ? imd__strdup(error, c == 1 ? "fieldmaphz" : "")
                                 : imd__sprintf(error, "part%zu", c + 1);
        if ((*labels)[c] == NULL) {
            imd__dicom_split_labels_free(*labels, c);
            *labels = NULL;
        }
    }
    return *labels != NULL;
}

void imd__dicom_split_labels_free(char **labels, size_t count)
{
    for (size_t i = 0; labels != NULL && i < count; i++) {
        free(labels[i]);
    }
    free(labels);
}
