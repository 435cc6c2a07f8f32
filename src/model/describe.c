/*
 * describe.c: a series as JSON with the original's property names and
 * conventions (docs/json.md), so that numbers compare one to one with the
 * Python library: vectors in z,y,x order and the transform mapping
 * (slice, row, column, 1) to (z, y, x, 1).
 */
#include "model/model_internal.h"

#include <imagedata/dicom.h>

#include <math.h>
#include <stdio.h>

static void put_key(ImdText *text, const char *key)
{
    imd__text_puts(text, ", ");
    imd__json_string(text, key);
    imd__text_puts(text, ": ");
}

/* A JSON list of numbers, or null when there are none to give. */
static void put_numbers(ImdText *text, const double *values, size_t count)
{
    if (values == NULL) {
        imd__text_puts(text, "null");
        return;
    }
    imd__text_puts(text, "[");
    for (size_t i = 0; i < count; i++) {
        imd__text_puts(text, i > 0 ? ", " : "");
        imd__json_number(text, values[i]);
    }
    imd__text_puts(text, "]");
}

static void put_zyx(ImdText *text, ImdVec3 v)
{
    double zyx[3] = {v.z, v.y, v.x};
    put_numbers(text, zyx, 3);
}

static void put_value(ImdText *text, const ImdValue *value)
{
    size_t count = value->count < IMD_VALUE_MAX ? value->count : IMD_VALUE_MAX;
    switch ((ImdValueKind)value->kind) {
    case IMD_VALUE_NUMBER:
        imd__json_number(text, value->v[0]);
        return;
    case IMD_VALUE_B_VECTOR: /* [b, [x, y, z]] as the original's (b, vector) tuple */
        imd__text_puts(text, "[");
        imd__json_number(text, value->v[0]);
        imd__text_puts(text, ", ");
        put_numbers(text, value->v + 1, count > 0 ? count - 1 : 0);
        imd__text_puts(text, "]");
        return;
    case IMD_VALUE_VECTOR:
    case IMD_VALUE_STRING:
        break;
    }
    put_numbers(text, value->v, count);
}

static void put_axis(ImdText *text, const ImdAxis *axis)
{
    imd__text_puts(text, "{\"name\": ");
    imd__json_string(text, imd_axis_name(axis));
    put_key(text, "unit");
    imd__json_string(text, imd_axis_unit(axis));
    size_t length = imd_axis_length(axis);
    if (imd_axis_kind(axis) == IMD_AXIS_UNIFORM) {
        double step = 1;
        (void)imd_axis_step(axis, &step);
        put_key(text, "start");
        imd__json_number(text, imd_axis_start(axis));
        put_key(text, "step");
        imd__json_number(text, step);
        imd__text_printf(text, ", \"length\": %zu}", length);
        return;
    }
    put_key(text, "values");
    imd__text_puts(text, "[");
    for (size_t i = 0; i < length; i++) {
        imd__text_puts(text, i > 0 ? ", " : "");
        const char *string = imd_axis_string(axis, i);
        ImdValue value;
        if (string != NULL) {
            imd__json_string(text, string);
        } else if (imd_axis_value(axis, i, &value)) {
            put_value(text, &value);
        }
    }
    imd__text_puts(text, "]}");
}

static void put_matrix(ImdText *text, const ImdHeader *header)
{
    ImdMat4 m;
    imd_header_transform(header, &m);
    /* Reverse both index spaces: (c,r,s)->(x,y,z) becomes (s,r,c)->(z,y,x). */
    imd__text_puts(text, "[");
    for (int i = 0; i < 4; i++) {
        imd__text_puts(text, i > 0 ? ", [" : "[");
        for (int j = 0; j < 4; j++) {
            int row = i < 3 ? 2 - i : 3, column = j < 3 ? 2 - j : 3;
            imd__text_puts(text, j > 0 ? ", " : "");
            imd__json_number(text, m.m[row][column]);
        }
        imd__text_puts(text, "]");
    }
    imd__text_puts(text, "]");
}

static void put_positions(ImdText *text, const ImdSeries *series)
{
    const ImdHeader *header = series->header;
    ImdMat4 m;
    imd_header_transform(header, &m);
    imd__text_puts(text, "{");
    for (size_t s = 0; s < imd_series_slices(series); s++) {
        ImdVec3 p;
        if (!imd_header_image_position(header, s, &p)) {
            double k = (double)s;
            p = (ImdVec3){m.m[0][3] + k * m.m[0][2], m.m[1][3] + k * m.m[1][2],
                          m.m[2][3] + k * m.m[2][2]};
        }
        imd__text_printf(text, "%s\"%zu\": ", s > 0 ? ", " : "", s);
        put_zyx(text, p);
    }
    imd__text_puts(text, "}");
}

static void put_timeline(ImdText *text, const ImdSeries *series)
{
    int dim = imd_series_find_axis(series, "time");
    if (dim < 0) {
        dim = imd_series_find_axis(series, "triggertime");
    }
    const ImdAxis *axis = dim >= 0 ? series->axes[dim] : NULL;
    if (axis == NULL || imd_axis_value_kind(axis) != IMD_VALUE_NUMBER) {
        imd__text_puts(text, "null");
        return;
    }
    imd__text_puts(text, "[");
    double first = imd_axis_number(axis, 0);
    for (size_t i = 0; i < imd_axis_length(axis); i++) {
        imd__text_puts(text, i > 0 ? ", " : "");
        imd__json_number(text, imd_axis_number(axis, i) - first);
    }
    imd__text_puts(text, "]");
}

/* One slice's tags: nested lists shaped like the tag dimensions. */
static void put_tag_cells(ImdText *text, const ImdHeader *header, size_t slice, size_t dim,
                          size_t *index)
{
    size_t ndim = imd_header_tag_ndim(header);
    if (dim == ndim) {
        const ImdValue *values = imd_header_tag(header, slice, index);
        if (values == NULL) {
            imd__text_puts(text, "null");
            return;
        }
        imd__text_puts(text, "[");
        for (size_t k = 0; k < imd_header_tag_components(header); k++) {
            imd__text_puts(text, k > 0 ? ", " : "");
            put_value(text, &values[k]);
        }
        imd__text_puts(text, "]");
        return;
    }
    imd__text_puts(text, "[");
    for (size_t i = 0; i < imd_header_tag_shape(header, dim); i++) {
        imd__text_puts(text, i > 0 ? ", " : "");
        index[dim] = i;
        put_tag_cells(text, header, slice, dim + 1, index);
    }
    imd__text_puts(text, "]");
}

/*
 * Without stored tags, the original derives them from the tag axes
 * (Header.set_default_values, behaviour.md §1.2): every slice holds, per
 * cell, the values of the tag axes at that cell.
 */
static void put_default_tags(ImdText *text, const ImdSeries *series)
{
    size_t ndim = imd_series_tag_ndim(series), cells = 1;
    for (size_t d = 0; d < ndim; d++) {
        cells *= series->shape[d];
    }
    imd__text_puts(text, "{");
    for (size_t s = 0; ndim > 0 && s < imd_series_slices(series); s++) {
        imd__text_printf(text, "%s\"%zu\": ", s > 0 ? ", " : "", s);
        for (size_t cell = 0; cell < cells; cell++) {
            size_t index[IMD_MAX_DIMS], rest = cell;
            for (size_t d = ndim; d-- > 0;) {
                index[d] = rest % series->shape[d];
                rest /= series->shape[d];
            }
            /* Open the lists of the dimensions this cell starts. */
            imd__text_puts(text, cell > 0 ? ", " : "");
            for (size_t d = 0; d < ndim; d++) {
                bool starts = true;
                for (size_t e = d; e < ndim; e++) {
                    starts = starts && index[e] == 0;
                }
                imd__text_puts(text, starts ? "[" : "");
            }
            imd__text_puts(text, "[");
            for (size_t d = 0; d < ndim; d++) {
                ImdValue value;
                imd__text_puts(text, d > 0 ? ", " : "");
                if (imd_axis_value(series->axes[d], index[d], &value) &&
                    value.kind != IMD_VALUE_STRING) {
                    put_value(text, &value);
                } else {
                    imd__json_string(text, imd_axis_string(series->axes[d], index[d]) != NULL
                                               ? imd_axis_string(series->axes[d], index[d])
                                               : "");
                }
            }
            imd__text_puts(text, "]");
            /* Close the lists this cell ends. */
            for (size_t d = ndim; d-- > 0;) {
                bool ends = true;
                for (size_t e = d; e < ndim; e++) {
                    ends = ends && index[e] + 1 == series->shape[e];
                }
                imd__text_puts(text, ends ? "]" : "");
            }
        }
    }
    imd__text_puts(text, "}");
}

static void put_tags(ImdText *text, const ImdHeader *header)
{
    imd__text_puts(text, "{");
    for (size_t s = 0; s < imd_header_tag_slices(header); s++) {
        size_t index[IMD_MAX_TAG_DIMS] = {0};
        imd__text_printf(text, "%s\"%zu\": ", s > 0 ? ", " : "", s);
        /* Without tag dimensions a slice holds one cell, shown as a list of
         * one, as the original's DICOM reader gives array([(0,)]). */
        bool single = imd_header_tag_ndim(header) == 0;
        imd__text_puts(text, single ? "[" : "");
        put_tag_cells(text, header, s, 0, index);
        imd__text_puts(text, single ? "]" : "");
    }
    imd__text_puts(text, "}");
}

static void put_attribute(ImdText *text, const ImdHeader *header, const char *key,
                          const char *keyword)
{
    const char *value = imd_header_get_string(header, keyword);
    put_key(text, key);
    if (value == NULL) {
        imd__text_puts(text, "null");
    } else {
        imd__json_string(text, value);
    }
}

static void put_series_number(ImdText *text, const ImdHeader *header)
{
    const char *value = imd_header_get_string(header, "SeriesNumber");
    char *end = NULL;
    double number = value != NULL ? strtod(value, &end) : NAN;
    put_key(text, "seriesNumber");
    if (value != NULL && end != value && *end == '\0') {
        imd__json_number(text, number);
    } else {
        imd__text_puts(text, "null");
    }
}

/* "sliceTiming": each slice's acquisition time in seconds from the volume's
 * start (BIDS' SliceTiming), from the DICOM reader's MosaicRefAcqTimes (ms);
 * present only when known. */
static void put_slice_timing(ImdText *text, const ImdHeader *header)
{
    const char *value = imd_header_get_string(header, "MosaicRefAcqTimes");
    if (value == NULL) {
        return;
    }
    double times[4096];
    size_t count = 0;
    for (const char *p = value; *p != '\0' && count < 4096;) {
        char *end;
        double ms = strtod(p, &end);
        if (end == p) {
            return; /* not a list of numbers: left out */
        }
        times[count++] = ms / 1000;
        p = *end == '\\' ? end + 1 : end;
    }
    put_key(text, "sliceTiming");
    put_numbers(text, times, count);
}

static void put_image_type(ImdText *text, const ImdHeader *header)
{
    const char *value = imd_header_get_string(header, "ImageType");
    put_key(text, "imageType");
    if (value == NULL) {
        imd__text_puts(text, "null");
        return;
    }
    imd__text_puts(text, "[");
    const char *p = value;
    for (bool first = true;; first = false) {
        const char *end = strchr(p, '\\');
        size_t length = end != NULL ? (size_t)(end - p) : strlen(p);
        char *part = imd__strndup(NULL, p, length);
        imd__text_puts(text, first ? "" : ", ");
        imd__json_string(text, part != NULL ? part : "");
        free(part);
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    imd__text_puts(text, "]");
}

/* The original's window when none was read (behaviour.md §1.7). */
static bool compute_window(const ImdSeries *series, unsigned flags, double *center,
                           double *width)
{
    if (imd_header_window(series->header, center, width)) {
        return true;
    }
    if ((flags & IMD_JSON_HEADER_ONLY) != 0) {
        return false; /* the voxels may not be there to compute it from */
    }
    if (series->dtype == IMD_DTYPE_RGB8) {
        *center = 127;
        *width = 256;
        return true;
    }
    ImdStats stats;
    if (!imd_series_stats(NULL, series, &stats) || !isfinite(stats.min)) {
        return false;
    }
    *width = stats.max - stats.min;
    *center = (stats.max + stats.min) / 2;
    if (imd_dtype_is_integer(series->dtype)) {
        if (fabs(*center) > 2) {
            *center = nearbyint(*center);
        }
        if (fabs(*width) > 2) {
            *width = nearbyint(*width);
        }
    } else {
        *center = (double)(float)*center;
        *width = (double)(float)*width;
    }
    return true;
}

static void put_geometry(ImdText *text, const ImdSeries *series)
{
    const ImdHeader *header = series->header;
    double spacing[3];
    imd_series_spacing(series, spacing);
    imd__text_puts(text, ", \"spacing\": ");
    put_numbers(text, spacing, 3);
    imd__text_puts(text, ", \"transformationMatrix\": ");
    put_matrix(text, header);
    imd__text_puts(text, ", \"imagePositions\": ");
    put_positions(text, series);
    ImdVec3 row, column;
    imd_header_orientation(header, &row, &column);
    /* The original's orientation: row cosine then column cosine, each z,y,x. */
    double orientation[6] = {row.z, row.y, row.x, column.z, column.y, column.x};
    imd__text_puts(text, ", \"orientation\": ");
    put_numbers(text, orientation, 6);
    imd__text_puts(text, ", \"sliceLocations\": ");
    size_t count;
    const double *locations = imd_header_slice_locations(header, &count);
    put_numbers(text, locations, count);
}

static void put_identity(ImdText *text, const ImdSeries *series, unsigned flags)
{
    const ImdHeader *header = series->header;
    static const char *const pairs[][2] = {
        {"patientName", "PatientName"},           {"patientID", "PatientID"},
        {"patientBirthDate", "PatientBirthDate"}, {"accessionNumber", "AccessionNumber"},
        {"studyInstanceUID", "StudyInstanceUID"}, {"studyID", "StudyID"},
        {"seriesInstanceUID", "SeriesInstanceUID"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        put_attribute(text, header, pairs[i][0], pairs[i][1]);
    }
    put_series_number(text, header);
    put_attribute(text, header, "seriesDescription", "SeriesDescription");
    put_image_type(text, header);
    put_attribute(text, header, "modality", "Modality");
    put_attribute(text, header, "SOPClassUID", "SOPClassUID");
    put_attribute(text, header, "frameOfReferenceUID", "FrameOfReferenceUID");
    const char *photometric = imd_header_get_string(header, "PhotometricInterpretation");
    put_key(text, "photometricInterpretation");
    imd__json_string(text, photometric != NULL ? photometric
                           : series->dtype == IMD_DTYPE_RGB8 ? "RGB"
                                                             : "MONOCHROME2");
    /* The source's transfer syntax (PS3.5 §10), set by the DICOM reader as the header
     * attribute TransferSyntaxUID; null for other formats and for series made here. */
    const char *syntax = imd_header_get_string(header, "TransferSyntaxUID");
    const char *syntax_name = syntax != NULL ? imd_dicom_uid_name(syntax) : NULL;
    put_attribute(text, header, "transferSyntaxUID", "TransferSyntaxUID");
    put_key(text, "transferSyntax");
    if (syntax_name != NULL) {
        imd__json_string(text, syntax_name);
    } else {
        imd__text_puts(text, "null");
    }
    put_slice_timing(text, header);
    double center, width;
    bool window = compute_window(series, flags, &center, &width);
    put_key(text, "windowCenter");
    imd__json_number(text, window ? center : NAN);
    put_key(text, "windowWidth");
    imd__json_number(text, window ? width : NAN);
}

static bool put_stats(ImdError **error, ImdText *text, const ImdSeries *series)
{
    ImdStats stats;
    if (!imd_series_stats(error, series, &stats)) {
        return false;
    }
    imd__text_puts(text, ", \"stats\": {\"min\": ");
    imd__json_number(text, stats.min);
    imd__text_puts(text, ", \"max\": ");
    imd__json_number(text, stats.max);
    imd__text_puts(text, ", \"sum\": ");
    imd__json_number(text, stats.sum);
    imd__text_puts(text, "}");
    return true;
}

char *imd_series_to_json(ImdError **error, const ImdSeries *series, const char *url,
                         unsigned flags)
{
    if (series == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_series_to_json: no series");
        return NULL;
    }
    ImdText text = {0};
    imd__text_puts(&text, "{\"url\": ");
    if (url != NULL) {
        imd__json_string(&text, url);
    } else {
        imd__text_puts(&text, "null");
    }
    imd__text_puts(&text, ", \"shape\": [");
    for (size_t d = 0; d < series->ndim; d++) {
        imd__text_printf(&text, "%s%zu", d > 0 ? ", " : "", series->shape[d]);
    }
    imd__text_printf(&text, "], \"dtype\": \"%s\"", imd_dtype_name(series->dtype));
    put_key(&text, "input_order");
    imd__json_string(&text, imd_header_input_order(series->header));
    imd__text_puts(&text, ", \"axes\": [");
    for (size_t d = 0; d < series->ndim; d++) {
        imd__text_puts(&text, d > 0 ? ", " : "");
        put_axis(&text, series->axes[d]);
    }
    imd__text_puts(&text, "]");
    put_geometry(&text, series);
    imd__text_puts(&text, ", \"timeline\": ");
    put_timeline(&text, series);
    imd__text_puts(&text, ", \"tags\": ");
    if (imd_header_tag_slices(series->header) > 0) {
        put_tags(&text, series->header);
    } else {
        put_default_tags(&text, series);
    }
    put_identity(&text, series, flags);
    if ((flags & IMD_JSON_STATS) != 0 && (flags & IMD_JSON_HEADER_ONLY) == 0 &&
        !put_stats(error, &text, series)) {
        imd__text_free(&text);
        return NULL;
    }
    imd__text_puts(&text, "}");
    return imd__text_finish(error, &text);
}
