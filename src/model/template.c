/*
 * template.c: a series takes DICOM identity (template) or geometry from
 * another series, as the original's Header.add_template and add_geometry
 * do (behaviour.md §1.2, §5.5). This is how a NIfTI, MetaIO or MAT result
 * goes back into the patient's study: read it with template= (and
 * geometry=) the DICOM series it came from, then write DICOM.
 */
#include "model/model_internal.h"

#include <math.h>

/* Identity copied by add_template (§1.2); geometry attributes go with add_geometry. */
static const char *const identity_keywords[] = {
    "Modality", "Laterality", "ProtocolName", "BodyPartExamined", "SeriesDate", "SeriesTime",
    "SeriesNumber", "SeriesDescription", "ImageType", "FrameOfReferenceUID", "StudyInstanceUID",
    "StudyID", "StudyDate", "StudyTime", "SOPClassUID", "AccessionNumber", "PatientName",
    "PatientID", "PatientBirthDate", "EchoNumbers", "AcquisitionNumber",
};

static const char *const geometry_keywords[] = {"PatientPosition", "PhotometricInterpretation"};

static bool copy_keywords(ImdError **error, ImdHeader *to, const ImdHeader *from,
                          const char *const *keywords, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const char *value = imd_header_get_string(from, keywords[i]);
        if (value != NULL && !imd_header_set_string(error, to, keywords[i], value)) {
            return false;
        }
    }
    return true;
}

/* The shape of this series' tag dimensions. */
static size_t tag_shape(const ImdSeries *series, size_t shape[IMD_MAX_TAG_DIMS])
{
    size_t ndim = imd_series_tag_ndim(series);
    ndim = ndim > IMD_MAX_TAG_DIMS ? IMD_MAX_TAG_DIMS : ndim;
    for (size_t d = 0; d < ndim; d++) {
        shape[d] = series->shape[d];
    }
    return ndim;
}

/*
 * The template's value for a cell of this series: the same cell when the
 * template has it; along the first tag dimension beyond the template's end,
 * extrapolated with the last difference (§1.2: with 4 vs 3 tags,
 * t3 = t2 + (t2 - t1)); a slice the template lacks takes its slice 0.
 */
static bool template_value(const ImdHeader *from, size_t slice, const size_t *index,
                           size_t components, ImdValue *out)
{
    size_t ndim = imd_header_tag_ndim(from);
    size_t s = slice < imd_header_tag_slices(from) ? slice : 0;
    size_t at[IMD_MAX_TAG_DIMS];
    for (size_t d = 0; d < ndim; d++) {
        size_t n = imd_header_tag_shape(from, d);
        if (index[d] >= n && (d > 0 || n < 2)) {
            return false;
        }
        at[d] = index[d];
    }
    const ImdValue *direct = imd_header_tag(from, s, at);
    if (ndim == 0 || index[0] < imd_header_tag_shape(from, 0)) {
        if (direct != NULL) {
            memcpy(out, direct, components * sizeof *out);
        }
        return direct != NULL;
    }
    size_t n = imd_header_tag_shape(from, 0);
    at[0] = n - 1;
    const ImdValue *last = imd_header_tag(from, s, at);
    at[0] = n - 2;
    const ImdValue *before = imd_header_tag(from, s, at);
    if (last == NULL || before == NULL || last[0].kind != IMD_VALUE_NUMBER ||
        before[0].kind != IMD_VALUE_NUMBER) {
        return false;
    }
    memcpy(out, last, components * sizeof *out);
    double step = last[0].v[0] - before[0].v[0];
    out[0].v[0] = last[0].v[0] + step * (double)(index[0] - (n - 1));
    return true;
}

/* The tag axis (dimension 0) follows the tag values of slice 0, as a DICOM read makes it. */
static bool tag_axis_from_tags(ImdError **error, ImdSeries *series, const char *name)
{
    size_t n = series->shape[0];
    ImdValue *values = imd__calloc(error, n > 0 ? n : 1, sizeof *values);
    if (values == NULL) {
        return false;
    }
    bool complete = true;
    for (size_t i = 0; i < n && complete; i++) {
        size_t index[IMD_MAX_TAG_DIMS] = {0};
        index[0] = i;
        const ImdValue *cell = imd_header_tag(series->header, 0, index);
        complete = cell != NULL && imd_header_tag_components(series->header) > 0;
        if (complete) {
            values[i] = cell[0];
        }
    }
    bool ok = true;
    if (complete) {
        ImdAxis *axis = imd_axis_create_variable(error, name, values, n);
        ok = axis != NULL && imd_series_set_axis(error, series, 0, axis);
        if (!ok) {
            imd_axis_destroy(axis);
        }
    }
    free(values);
    return ok;
}

/*
 * Tags from `from`, cropped or extrapolated to this series' shape. A series
 * whose order is "none" takes the template's order when the tag dimensions
 * agree, so that a NIfTI time series read with a DICOM template is a time
 * series again.
 */
static bool copy_tags(ImdError **error, ImdSeries *series, const ImdHeader *from,
                      bool with_instances)
{
    size_t shape[IMD_MAX_TAG_DIMS], ndim = tag_shape(series, shape);
    size_t components = imd_header_tag_components(from);
    if (imd_header_tag_slices(from) == 0 || ndim != imd_header_tag_ndim(from) || components == 0) {
        return true; /* nothing that fits: keep this series' own tags */
    }
    ImdHeader *to = series->header;
    size_t slices = imd_series_slices(series), cells = 1;
    for (size_t d = 0; d < ndim; d++) {
        cells *= shape[d];
    }
    if (!imd_header_set_tag_shape(error, to, slices, ndim, shape, components)) {
        return false;
    }
    for (size_t s = 0; s < slices; s++) {
        for (size_t cell = 0; cell < cells; cell++) {
            size_t index[IMD_MAX_TAG_DIMS] = {0}, rest = cell;
            for (size_t d = ndim; d-- > 0;) {
                index[d] = rest % shape[d];
                rest /= shape[d];
            }
            ImdValue values[IMD_MAX_TAG_DIMS];
            if (template_value(from, s, index, components, values) &&
                (!imd_header_set_tag(error, to, s, index, values) ||
                 !imd__header_copy_instance(error, to, s, index, from, s, index,
                                            with_instances))) {
                return false;
            }
        }
    }
    const char *order = imd_header_input_order(from);
    if (ndim > 0 && strcmp(imd_header_input_order(to), "none") == 0 &&
        strcmp(order, "none") != 0) {
        if (!imd_series_set_input_order(error, series, order)) {
            return false;
        }
        if (ndim == 1 && !tag_axis_from_tags(error, series, order)) {
            return false;
        }
    }
    return true;
}

static bool onto_reference_grid(ImdError **error, ImdSeries *series, const ImdSeries *reference,
                                bool *moved);

bool imd_series_add_template(ImdError **error, ImdSeries *series, const ImdSeries *source)
{
    if (series == NULL || source == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "add_template: no series or template");
        return false;
    }
    const ImdHeader *from = source->header;
    ImdHeader *to = series->header;
    if (!copy_keywords(error, to, from, identity_keywords,
                       sizeof identity_keywords / sizeof identity_keywords[0])) {
        return false;
    }
    /* The series UID travels only with a header that keeps UIDs: a DICOM read (§1.2). */
    const char *series_uid = imd_header_get_string(from, "SeriesInstanceUID");
    if (imd_header_template(from) != NULL && series_uid != NULL &&
        !imd_header_set_string(error, to, "SeriesInstanceUID", series_uid)) {
        return false;
    }
    const void *dataset = imd_header_template(from);
    if (dataset != NULL) {
        const ImdTemplateOps *ops = imd__header_template_ops(from);
        void *copy = ops->clone(dataset);
        if (copy == NULL) {
            imd_error_set(error, IMD_ERR_NOMEM, "cannot copy the DICOM template dataset");
            return false;
        }
        if (!imd_header_set_template(error, to, copy, ops)) {
            ops->destroy(copy);
            return false;
        }
    }
    /* Slices are the template's again when the grid is its grid reoriented. */
    bool moved = false;
    return onto_reference_grid(error, series, source, &moved) &&
           copy_tags(error, series, from, true);
}

/*
 * Slice locations: the geometry's, truncated, or extended by its first
 * difference (§1.2: 2 of 3 slices; 4 slices -> the last + ds).
 */
static bool copy_locations(ImdError **error, ImdHeader *to, const ImdHeader *from,
                           size_t slices, double ds)
{
    size_t count;
    const double *locations = imd_header_slice_locations(from, &count);
    if (locations == NULL || count == 0 || slices == 0) {
        return true;
    }
    double *copy = imd__calloc(error, slices, sizeof *copy);
    if (copy == NULL) {
        return false;
    }
    double step = count > 1 ? locations[1] - locations[0] : ds;
    for (size_t s = 0; s < slices; s++) {
        copy[s] = s < count ? locations[s] : locations[count - 1] + step * (double)(s - count + 1);
    }
    bool ok = imd_header_set_slice_locations(error, to, copy, slices);
    free(copy);
    return ok;
}

static bool copy_positions(ImdError **error, ImdHeader *to, const ImdHeader *from, size_t slices)
{
    if (imd_header_position_count(from) == 0) {
        return true;
    }
    ImdVec3 *positions = imd__calloc(error, slices > 0 ? slices : 1, sizeof *positions);
    if (positions == NULL) {
        return false;
    }
    for (size_t s = 0; s < slices; s++) {
        (void)imd_header_image_position(from, s, &positions[s]); /* extrapolates past the end */
    }
    bool ok = imd_header_set_image_positions(error, to, positions, slices);
    free(positions);
    return ok;
}

/* The slice, row and column axes take the geometry's start and step, keeping their length. */
static bool copy_spatial_axes(ImdError **error, ImdSeries *series, const ImdSeries *geometry)
{
    static const char *const names[3] = {"slice", "row", "column"};
    for (size_t i = 0; i < 3; i++) {
        int to = imd_series_find_axis(series, names[i]);
        int from = imd_series_find_axis(geometry, names[i]);
        double step;
        if (to < 0 || from < 0 || !imd_axis_step(geometry->axes[from], &step)) {
            continue;
        }
        ImdAxis *axis = imd_axis_create_uniform(error, names[i],
                                                imd_axis_start(geometry->axes[from]), step,
                                                series->shape[to]);
        if (axis == NULL || !imd_series_set_axis(error, series, (size_t)to, axis)) {
            imd_axis_destroy(axis);
            return false;
        }
    }
    return true;
}

/*
 * A series with geometry of its own must be sliced as the geometry is: a 3D
 * acquisition written to NIfTI is reoriented as dcm2niix does (nii_setOrtho),
 * so its voxel grid is another one, and the geometry's positions would put
 * every voxel in the wrong place. Refused instead of silently wrong.
 */
static bool same_slicing(ImdError **error, const ImdSeries *series, const ImdSeries *geometry)
{
    const ImdHeader *own = series->header, *other = geometry->header;
    if (!imd_header_geometry_defined(own) || !imd_header_geometry_defined(other)) {
        return true;
    }
    ImdVec3 a = imd_header_normal(own), b = imd_header_normal(other);
    double dot = a.x * b.x + a.y * b.y + a.z * b.z;
    /* Same grid shape: trust the caller (a file written without geometry has a default one). */
    bool same_shape = imd_series_slices(series) == imd_series_slices(geometry) &&
                      imd_series_rows(series) == imd_series_rows(geometry) &&
                      imd_series_columns(series) == imd_series_columns(geometry);
    if (fabs(dot) >= 0.99 || same_shape) {
        return true;
    }
    imd_error_set(error, IMD_ERR_INVALID_ARG,
                  "geometry: the series is sliced along (%.3f, %.3f, %.3f), the geometry along "
                  "(%.3f, %.3f, %.3f): another voxel grid (e.g. a 3D volume reoriented in "
                  "NIfTI); its own geometry is kept with template= alone",
                  a.x, a.y, a.z, b.x, b.y, b.z);
    return false;
}

/* The geometry's spacing, orientation, positions and transform. */
static bool take_geometry(ImdError **error, ImdSeries *series, const ImdSeries *geometry)
{
    const ImdHeader *from = geometry->header;
    ImdHeader *to = series->header;
    double spacing[3];
    imd_series_spacing(geometry, spacing);
    ImdVec3 row, column;
    imd_header_orientation(from, &row, &column);
    size_t slices = imd_series_slices(series);
    bool ok = copy_keywords(error, to, from, geometry_keywords,
                            sizeof geometry_keywords / sizeof geometry_keywords[0]) &&
              copy_spatial_axes(error, series, geometry) &&
              imd_series_set_spacing(error, series, spacing) &&
              imd_header_set_orientation(error, to, row, column) &&
              copy_positions(error, to, from, slices) &&
              copy_locations(error, to, from, slices, spacing[0]);
    if (!ok) {
        return false;
    }
    ImdMat4 transform;
    imd_header_transform(from, &transform);
    if (slices == imd_series_slices(geometry)) {
        imd_header_set_transform(to, &transform);
    } else {
        imd_header_reset_transform(to); /* computed again from the positions */
    }
    imd_header_set_geometry_defined(to, imd_header_geometry_defined(from));
    return true;
}

/*
 * Back onto the reference's grid when the series holds the same voxels in
 * another axis order or direction (a reoriented NIfTI), taking its geometry.
 */
static bool onto_reference_grid(ImdError **error, ImdSeries *series, const ImdSeries *reference,
                                bool *moved)
{
    return imd__series_onto_grid(error, series, reference, moved) &&
           (!*moved || take_geometry(error, series, reference));
}

bool imd_series_add_geometry(ImdError **error, ImdSeries *series, const ImdSeries *geometry)
{
    if (series == NULL || geometry == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "add_geometry: no series or geometry");
        return false;
    }
    bool moved = false;
    if (!onto_reference_grid(error, series, geometry, &moved) ||
        (!moved && (!same_slicing(error, series, geometry) ||
                    !take_geometry(error, series, geometry)))) {
        return false;
    }
    /* Tags (and the images' own values) already came with a DICOM template. */
    return imd_header_template(series->header) != NULL ||
           copy_tags(error, series, geometry->header, false);
}
