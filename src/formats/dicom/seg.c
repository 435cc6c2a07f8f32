/*
 * seg.c: a DICOM Segmentation (SEG, PS3.3 A.51) as one Series (issue 15
 * item 5; docs/dicom-reading.md "Segmentations").
 *
 * A SEG instance holds one frame per (segment, plane) where the segment is
 * present: the frame's segment in Segment Identification (ReferencedSegment
 * Number, C.8.20.3.1), its plane in Plane Position (C.7.6.16.2.3), the
 * orientation and pixel spacing in Plane Orientation and Pixel Measures,
 * usually shared (C.7.6.16). The segments are described by the Segment
 * Sequence (C.8.20.2: SegmentNumber, SegmentLabel).
 *
 * The series is [label, slice, row, column]: one label index per item of the
 * Segment Sequence (in its order), its values the segment labels; slices on
 * the grid the frames' positions span along the normal (step: the smallest
 * distance between two planes, or SpacingBetweenSlices), so that planes no
 * segment reaches are there, empty. BINARY segmentations (1 bit, frames packed
 * one after the other without padding, PS3.5 §8.1.1) become uint8 0/1;
 * FRACTIONAL ones (8 bits) float32 value / MaximumFractionalValue in 0..1
 * (C.8.20.2.3). Voxels no frame covers are 0.
 */
#include "formats/dicom/dicom_format.h"
#include "formats/dicom/frames.h"

#include <math.h>
#include <stdlib.h>

#define SEG_SOP_CLASS "1.2.840.10008.5.1.4.1.1.66.4"

typedef struct Frame {
    size_t segment; /* index into the Segment Sequence */
    double distance;
    ImdVec3 position;
    size_t slice;
} Frame;

static bool number_at(const ImdDicomDataSet *view, const ImdDicomDataSet *d, uint32_t tag,
                      size_t index, double *value)
{
    for (int i = 0; i < 2; i++) {
        const ImdDicomElement *e = imd_dicom_dataset_find(i == 0 ? view : d, tag);
        if (e != NULL && imd_dicom_element_vm(e) > index &&
            imd_dicom_element_number(NULL, e, index, value) && isfinite(*value)) {
            return true;
        }
    }
    return false;
}

static char *text_of(const ImdDicomDataSet *d, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    return e != NULL ? imd_dicom_element_string(NULL, d, e) : NULL;
}

bool imd__dicom_is_segmentation(const ImdDicomDataSet *d)
{
    char *sop = text_of(d, IMD_TAG_SOPClassUID);
    bool seg = sop != NULL && strcmp(sop, SEG_SOP_CLASS) == 0;
    free(sop);
    return seg;
}

static double dot(ImdVec3 a, ImdVec3 b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}

/*
 * Identity attributes for names and writers, as the image reader copies them. Not the
 * SOP class and Modality: written to DICOM the label volumes are not a SEG (SEG writing is
 * not done), so they become what a series without them becomes (Secondary Capture).
 */
static bool copy_identity(ImdError **error, const ImdDicomDataSet *d, ImdHeader *header)
{
    static const char *const keywords[] = {
        "PatientName", "PatientID", "PatientBirthDate", "StudyInstanceUID", "StudyID",
        "StudyDate", "StudyTime", "SeriesInstanceUID", "FrameOfReferenceUID", "SeriesDate",
        "SeriesTime", "SeriesNumber", "SeriesDescription", "AccessionNumber",
        "SegmentationType"};
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        uint32_t tag;
        char *value = imd_dicom_tag(keywords[i], &tag) ? text_of(d, tag) : NULL;
        bool ok = value == NULL || imd_header_set_string(error, header, keywords[i], value);
        free(value);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* The segments: number and label of each item of the Segment Sequence. */
static bool read_segments(ImdError **error, const ImdDicomDataSet *d, double **numbers,
                          char ***labels, size_t *count)
{
    const ImdDicomElement *seq = imd_dicom_dataset_find(d, IMD_TAG_SegmentSequence);
    size_t n = seq != NULL ? imd_dicom_element_item_count(seq) : 0;
    if (n == 0) {
        imd_error_set(error, IMD_ERR_CORRUPT, "segmentation without a Segment Sequence");
        return false;
    }
    *numbers = imd__calloc(error, n, sizeof **numbers);
    *labels = imd__calloc(error, n, sizeof **labels);
    *count = n;
    if (*numbers == NULL || *labels == NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const ImdDicomDataSet *item = imd_dicom_element_item(seq, i);
        if (!number_at(item, item, IMD_TAG_SegmentNumber, 0, &(*numbers)[i])) {
            imd_error_set(error, IMD_ERR_CORRUPT, "segment %zu has no Segment Number", i + 1);
            return false;
        }
        char *label = text_of(item, IMD_TAG_SegmentLabel);
        (*labels)[i] = label != NULL ? label : imd__sprintf(error, "%g", (*numbers)[i]);
        if ((*labels)[i] == NULL) {
            return false;
        }
    }
    return true;
}

/* Every frame's segment and plane. */
static bool read_frames(ImdError **error, const ImdDicomDataSet *d, const double *numbers,
                        size_t segments, Frame *frames, size_t count, ImdVec3 *row,
                        ImdVec3 *column, double *spacing)
{
    for (size_t k = 0; k < count; k++) {
        ImdDicomDataSet *view = imd__dicom_frame_attributes(error, d, k);
        if (view == NULL) {
            return false;
        }
        double number, p[3], o[6];
        bool ok = number_at(view, d, IMD_TAG_ReferencedSegmentNumber, 0, &number);
        for (size_t i = 0; ok && i < 3; i++) {
            ok = number_at(view, d, IMD_TAG_ImagePositionPatient, i, &p[i]);
        }
        for (size_t i = 0; ok && i < 6; i++) {
            ok = number_at(view, d, IMD_TAG_ImageOrientationPatient, i, &o[i]);
        }
        ok = ok && number_at(view, d, IMD_TAG_PixelSpacing, 0, &spacing[1]) &&
             number_at(view, d, IMD_TAG_PixelSpacing, 1, &spacing[2]);
        if (k == 0 && !number_at(view, d, IMD_TAG_SpacingBetweenSlices, 0, &spacing[0])) {
            spacing[0] = 0;
        }
        imd_dicom_dataset_destroy(view);
        if (!ok) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "segmentation frame %zu: no segment number, position, orientation or "
                          "pixel spacing", k + 1);
            return false;
        }
        ImdVec3 r = {o[0], o[1], o[2]}, c = {o[3], o[4], o[5]};
        if (k == 0) {
            *row = r;
            *column = c;
        } else if (fabs(dot(r, *row) - 1) > 1e-4 || fabs(dot(c, *column) - 1) > 1e-4) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED,
                          "segmentation frame %zu: planes of several orientations", k + 1);
            return false;
        }
        frames[k].segment = SIZE_MAX;
        for (size_t s = 0; s < segments; s++) {
            if (numbers[s] == number) {
                frames[k].segment = s;
            }
        }
        if (frames[k].segment == SIZE_MAX) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "segmentation frame %zu: segment %g is not in the Segment Sequence",
                          k + 1, number);
            return false;
        }
        frames[k].position = (ImdVec3){p[0], p[1], p[2]};
    }
    return true;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * The slice grid: distances along the normal from the lowest plane, in steps
 * of SpacingBetweenSlices or else the smallest gap between two planes; every
 * plane must lie on it (within 1e-3 mm, or 1 % of a step).
 */
static bool place_slices(ImdError **error, Frame *frames, size_t count, ImdVec3 normal,
                         double *step, size_t *slices, size_t *lowest)
{
    double low = INFINITY, high = -INFINITY;
    for (size_t k = 0; k < count; k++) {
        frames[k].distance = dot(frames[k].position, normal);
        if (frames[k].distance < low) {
            low = frames[k].distance;
            *lowest = k;
        }
        high = fmax(high, frames[k].distance);
    }
    double tolerance = 1e-3;
    if (!(*step > tolerance)) {
        /* the smallest gap between neighbouring distinct planes, over sorted distances */
        double *sorted = imd__calloc(error, count, sizeof *sorted);
        if (sorted == NULL) {
            return false;
        }
        for (size_t k = 0; k < count; k++) {
            sorted[k] = frames[k].distance;
        }
        qsort(sorted, count, sizeof *sorted, compare_doubles);
        *step = INFINITY;
        for (size_t k = 1; k < count; k++) {
            double gap = sorted[k] - sorted[k - 1];
            if (gap > tolerance && gap < *step) {
                *step = gap;
            }
        }
        free(sorted);
    }
    if (!isfinite(*step)) {
        *step = 1; /* one plane */
        *slices = 1;
    } else {
        double n = round((high - low) / *step) + 1;
        /* Planes no segment reaches are kept; a hostile grid (tiny steps over a long span)
         * is not: at most 16 planes per frame. */
        if (!(n >= 1) || n > 16.0 * (double)count + 16) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "segmentation: planes %g mm apart over %g mm make %g slices for %zu "
                          "frames", *step, high - low, n, count);
            return false;
        }
        *slices = (size_t)n;
    }
    for (size_t k = 0; k < count; k++) {
        double at = (frames[k].distance - low) / *step;
        if (fabs(at - round(at)) * *step > fmax(tolerance, 0.01 * *step)) {
            imd_error_set(error, IMD_ERR_CANNOT_SORT,
                          "segmentation frame %zu lies %g mm from the plane grid of %g mm steps",
                          k + 1, fabs(at - round(at)) * *step, *step);
            return false;
        }
        frames[k].slice = (size_t)round(at);
    }
    return true;
}

/* Set an axis; it is released when it could not be set. */
static bool put_axis(ImdError **error, ImdSeries *series, size_t dim, ImdAxis *axis)
{
    if (axis == NULL) {
        return false;
    }
    if (!imd_series_set_axis(error, series, dim, axis)) {
        imd_axis_destroy(axis);
        return false;
    }
    return true;
}

static bool set_geometry(ImdError **error, ImdSeries *series, const Frame *frames, size_t count,
                         size_t lowest, ImdVec3 row, ImdVec3 column, ImdVec3 normal,
                         const double spacing[3], size_t slices)
{
    ImdHeader *header = imd_series_header(series);
    ImdVec3 *positions = imd__calloc(error, slices, sizeof *positions);
    if (positions == NULL) {
        return false;
    }
    ImdVec3 p0 = frames[lowest].position;
    for (size_t s = 0; s < slices; s++) {
        double t = (double)s * spacing[0];
        positions[s] = (ImdVec3){p0.x + t * normal.x, p0.y + t * normal.y, p0.z + t * normal.z};
    }
    for (size_t k = 0; k < count; k++) {
        positions[frames[k].slice] = frames[k].position; /* where a frame says it */
    }
    bool ok = imd_header_set_spacing(error, header, spacing) &&
              imd_header_set_orientation(error, header, row, column) &&
              imd_header_set_image_positions(error, header, positions, slices);
    free(positions);
    imd_header_set_geometry_defined(header, true);
    return ok &&
           put_axis(error, series, 1,
                    imd_axis_create_uniform(error, "slice", p0.z, spacing[0], slices)) &&
           put_axis(error, series, 2,
                    imd_axis_create_uniform(error, "row", p0.y, spacing[1],
                                            imd_series_dim(series, 2))) &&
           put_axis(error, series, 3,
                    imd_axis_create_uniform(error, "column", p0.x, spacing[2],
                                            imd_series_dim(series, 3)));
}

/* Decode the frames into the series: bits (LSB first, PS3.5 §8.1.1) or bytes. */
static void fill_voxels(ImdSeries *series, const Frame *frames, size_t count, const uint8_t *bits,
                        bool binary, double maximum)
{
    size_t slices = imd_series_dim(series, 1);
    size_t plane = imd_series_dim(series, 2) * imd_series_dim(series, 3);
    for (size_t k = 0; k < count; k++) {
        size_t at = (frames[k].segment * slices + frames[k].slice) * plane;
        if (binary) {
            uint8_t *out = (uint8_t *)imd_series_data(series) + at;
            for (size_t i = 0; i < plane; i++) {
                size_t bit = k * plane + i;
                out[i] = (uint8_t)((out[i] | (bits[bit / 8] >> (bit % 8))) & 1u);
            }
        } else {
            float *out = (float *)imd_series_data(series) + at;
            for (size_t i = 0; i < plane; i++) {
                /* a stored value above the maximum is invalid (C.8.20.2.3): taken as 1 */
                out[i] = fmaxf(out[i], (float)fmin(bits[k * plane + i] / maximum, 1.0));
            }
        }
    }
}

ImdSeries *imd__dicom_read_segmentation(ImdError **error, const ImdDicomDataSet *d)
{
    char *type = text_of(d, IMD_TAG_SegmentationType);
    bool binary = type != NULL && strcmp(type, "BINARY") == 0;
    bool fractional = type != NULL && strcmp(type, "FRACTIONAL") == 0;
    double rows = 0, columns = 0, bits = 0, maximum = 255;
    bool ok = number_at(d, d, IMD_TAG_Rows, 0, &rows) &&
              number_at(d, d, IMD_TAG_Columns, 0, &columns) &&
              number_at(d, d, IMD_TAG_BitsAllocated, 0, &bits);
    if (!binary && !fractional) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "segmentation type %s is not read",
                      type != NULL ? type : "(none)");
        free(type);
        return NULL;
    }
    free(type);
    if (fractional && (!number_at(d, d, IMD_TAG_MaximumFractionalValue, 0, &maximum) ||
                       !(maximum >= 1))) {
        ok = false;
    }
    if (!ok || rows < 1 || columns < 1 || rows > 65535 || columns > 65535 ||
        bits != (binary ? 1 : 8)) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "segmentation: Rows, Columns, BitsAllocated (%g, 1 for BINARY, 8 for "
                      "FRACTIONAL) or MaximumFractionalValue missing or wrong", bits);
        return NULL;
    }
    size_t count = imd__dicom_frame_count(d);
    size_t plane = (size_t)rows * (size_t)columns;
    const ImdDicomElement *pixels = imd_dicom_dataset_find(d, IMD_TAG_PixelData);
    size_t size = 0;
    const uint8_t *bytes = pixels != NULL ? imd_dicom_element_bytes(pixels, &size) : NULL;
    size_t needed = binary ? (count * plane + 7) / 8 : count * plane;
    if (pixels != NULL && pixels->encapsulated) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "segmentation: compressed pixel data is not "
                      "read (only native BINARY and FRACTIONAL)");
        return NULL;
    }
    /* the bytes every frame needs are there before anything is allocated for them */
    if (bytes == NULL || size < needed) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "segmentation: %zu frames of %g x %g need %zu bytes of pixel data, found %zu",
                      count, rows, columns, needed, size);
        return NULL;
    }
    double *numbers = NULL;
    char **labels = NULL;
    size_t segments = 0;
    Frame *frames = NULL;
    ImdSeries *series = NULL;
    double spacing[3] = {0, 1, 1};
    ImdVec3 row, column;
    size_t slices = 0, lowest = 0;
    ok = read_segments(error, d, &numbers, &labels, &segments) &&
         (frames = imd__calloc(error, count, sizeof *frames)) != NULL &&
         read_frames(error, d, numbers, segments, frames, count, &row, &column, spacing);
    ImdVec3 normal = {row.y * column.z - row.z * column.y, row.z * column.x - row.x * column.z,
                      row.x * column.y - row.y * column.x};
    ok = ok && place_slices(error, frames, count, normal, &spacing[0], &slices, &lowest);
    /* The volume is segments x slices planes, mostly empty where segments are small: up to
     * 1024 times the pixel data (a 1-bit plane becomes 8 bits), at least 256 MiB, else a
     * limit rather than an allocation the file cannot justify. */
    double volume = (double)segments * (double)slices * (double)plane * (binary ? 1 : 4);
    if (ok && volume > fmax(1024.0 * (double)size, 256.0 * 1024 * 1024)) {
        imd_error_set(error, IMD_ERR_LIMIT,
                      "segmentation: %zu segments x %zu slices of %g x %g (%g MB) from %zu bytes "
                      "of pixel data", segments, slices, rows, columns, volume / 1e6, size);
        ok = false;
    }
    if (ok) {
        size_t shape[4] = {segments, slices, (size_t)rows, (size_t)columns};
        series = imd_series_create(error, binary ? IMD_DTYPE_UINT8 : IMD_DTYPE_FLOAT32, 4, shape);
        ok = series != NULL;
    }
    /* the label axis: the segments' labels, a tag dimension named "label" */
    ok = ok && imd_series_set_input_order(error, series, "label") &&
         put_axis(error, series, 0,
                  imd_axis_create_strings(error, "label", (const char *const *)labels, segments)) &&
         set_geometry(error, series, frames, count, lowest, row, column, normal, spacing,
                      slices) &&
         copy_identity(error, d, imd_series_header(series));
    if (ok) {
        fill_voxels(series, frames, count, bytes, binary, maximum);
    } else {
        imd_series_destroy(series);
        series = NULL;
    }
    for (size_t i = 0; labels != NULL && i < segments; i++) {
        free(labels[i]);
    }
    free(labels);
    free(numbers);
    free(frames);
    return series;
}
