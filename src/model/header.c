/*
 * header.c: ImdHeader, what a series knows besides its voxels.
 * Defaults follow the original's Header (behaviour.md §1.2).
 */
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>

typedef struct Attribute {
    char *keyword;
    char *value;
} Attribute;

struct ImdHeader {
    Attribute *attributes;
    size_t attribute_count, attribute_capacity;
    char *input_order;

    double spacing[3]; /* ds, dr, dc */
    ImdVec3 row, column;
    ImdVec3 *positions;
    size_t position_count;
    double *locations;
    size_t location_count;
    ImdMat4 transform;
    bool has_transform;
    bool geometry_defined;

    /* tags: tag_slices x cells x components values, and a present flag per cell */
    size_t tag_slices, tag_ndim, tag_shape[IMD_MAX_TAG_DIMS], tag_components, tag_cells;
    ImdValue *tag_values;
    uint8_t *tag_present;
    /* SOPInstanceUID per cell (the original's SOPInstanceUIDs), allocated on first set */
    char (*instance_uids)[IMD_UID_SIZE];
    /* Per cell: what the image's own data set holds beyond the template (a DICOM
     * read), freed with template_ops; allocated on first set */
    void **instance_datasets;

    double window_center, window_width;
    bool has_window;

    void *template_dataset;
    const ImdTemplateOps *template_ops;
};

static bool set_new_uid(ImdError **error, ImdHeader *header, const char *keyword)
{
    char uid[65];
    return imd_uid_generate(error, uid) && imd_header_set_string(error, header, keyword, uid);
}

ImdHeader *imd_header_create(ImdError **error)
{
    ImdHeader *header = imd__calloc(error, 1, sizeof *header);
    if (header == NULL) {
        return NULL;
    }
    header->spacing[0] = header->spacing[1] = header->spacing[2] = 1.0;
    header->row = (ImdVec3){1, 0, 0};
    header->column = (ImdVec3){0, 1, 0};
    header->input_order = imd__strdup(error, "none");
    /* The original's defaults: SC storage and new study, series and frame UIDs. */
    if (header->input_order == NULL ||
        !imd_header_set_string(error, header, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.7") ||
        !set_new_uid(error, header, "StudyInstanceUID") ||
        !set_new_uid(error, header, "SeriesInstanceUID") ||
        !set_new_uid(error, header, "FrameOfReferenceUID")) {
        imd_header_destroy(header);
        return NULL;
    }
    return header;
}

static void free_instance_datasets(ImdHeader *header)
{
    for (size_t i = 0; header->instance_datasets != NULL &&
                       i < header->tag_slices * header->tag_cells; i++) {
        if (header->instance_datasets[i] != NULL) {
            header->template_ops->destroy(header->instance_datasets[i]);
        }
    }
    free(header->instance_datasets);
    header->instance_datasets = NULL;
}

static void free_attributes(ImdHeader *header)
{
    for (size_t i = 0; i < header->attribute_count; i++) {
        free(header->attributes[i].keyword);
        free(header->attributes[i].value);
    }
    free(header->attributes);
    header->attributes = NULL;
    header->attribute_count = header->attribute_capacity = 0;
}

void imd_header_destroy(ImdHeader *header)
{
    if (header == NULL) {
        return;
    }
    free_attributes(header);
    free(header->input_order);
    free(header->positions);
    free(header->locations);
    free(header->tag_values);
    free(header->tag_present);
    free(header->instance_uids);
    free_instance_datasets(header);
    if (header->template_dataset != NULL && header->template_ops != NULL &&
        header->template_ops->destroy != NULL) {
        header->template_ops->destroy(header->template_dataset);
    }
    free(header);
}

static void *copy_block(ImdError **error, const void *source, size_t count, size_t item)
{
    if (source == NULL || count == 0) {
        return NULL;
    }
    size_t bytes;
    if (!imd__mul_size(count, item, &bytes)) {
        imd_error_set(error, IMD_ERR_LIMIT, "header block of %zu items is too large", count);
        return NULL;
    }
    void *copy = imd__malloc(error, bytes);
    if (copy != NULL) {
        memcpy(copy, source, bytes);
    }
    return copy;
}

static bool clone_arrays(ImdError **error, ImdHeader *copy, const ImdHeader *header)
{
    size_t values = header->tag_slices * header->tag_cells * header->tag_components;
    copy->positions = copy_block(error, header->positions, header->position_count,
                                 sizeof(ImdVec3));
    copy->locations = copy_block(error, header->locations, header->location_count,
                                 sizeof(double));
    copy->tag_values = copy_block(error, header->tag_values, values, sizeof(ImdValue));
    copy->tag_present = copy_block(error, header->tag_present,
                                   header->tag_slices * header->tag_cells, 1);
    copy->instance_uids = copy_block(error, header->instance_uids,
                                     header->tag_slices * header->tag_cells, IMD_UID_SIZE);
    return (header->position_count == 0 || copy->positions != NULL) &&
           (header->instance_uids == NULL || copy->instance_uids != NULL) &&
           (header->location_count == 0 || copy->locations != NULL) &&
           (values == 0 || copy->tag_values != NULL) &&
           (header->tag_slices * header->tag_cells == 0 || copy->tag_present != NULL);
}

ImdHeader *imd_header_clone(ImdError **error, const ImdHeader *header)
{
    if (header == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_header_clone: no header");
        return NULL;
    }
    ImdHeader *copy = imd__malloc(error, sizeof *copy);
    if (copy == NULL) {
        return NULL;
    }
    *copy = *header;
    copy->attributes = NULL;
    copy->attribute_count = copy->attribute_capacity = 0;
    copy->positions = NULL;
    copy->locations = NULL;
    copy->tag_values = NULL;
    copy->tag_present = NULL;
    copy->instance_uids = NULL;
    copy->instance_datasets = NULL;
    copy->template_dataset = NULL;
    copy->input_order = imd__strdup(error, header->input_order);
    bool ok = copy->input_order != NULL && clone_arrays(error, copy, header);
    for (size_t i = 0; ok && i < header->attribute_count; i++) {
        ok = imd_header_set_string(error, copy, header->attributes[i].keyword,
                                   header->attributes[i].value);
    }
    if (ok && header->template_dataset != NULL) {
        copy->template_dataset = header->template_ops->clone(header->template_dataset);
        if (copy->template_dataset == NULL) {
            imd_error_set(error, IMD_ERR_NOMEM, "cannot copy the DICOM template dataset");
            ok = false;
        }
    }
    size_t cells = header->tag_slices * header->tag_cells;
    if (ok && header->instance_datasets != NULL) {
        copy->instance_datasets = imd__calloc(error, cells, sizeof(void *));
        ok = copy->instance_datasets != NULL;
        for (size_t i = 0; ok && i < cells; i++) {
            void *item = header->instance_datasets[i];
            copy->instance_datasets[i] = item != NULL ? header->template_ops->clone(item) : NULL;
            if (item != NULL && copy->instance_datasets[i] == NULL) {
                imd_error_set(error, IMD_ERR_NOMEM, "cannot copy an image's data set");
                ok = false;
            }
        }
    }
    if (!ok) {
        imd_header_destroy(copy);
        return NULL;
    }
    return copy;
}

/* ---- attributes ---- */

static Attribute *find_attribute(const ImdHeader *header, const char *keyword)
{
    for (size_t i = 0; i < header->attribute_count; i++) {
        if (strcmp(header->attributes[i].keyword, keyword) == 0) {
            return &header->attributes[i];
        }
    }
    return NULL;
}

const char *imd_header_get_string(const ImdHeader *header, const char *keyword)
{
    if (header == NULL || keyword == NULL) {
        return NULL;
    }
    const Attribute *attribute = find_attribute(header, keyword);
    return attribute != NULL ? attribute->value : NULL;
}

static void remove_attribute(ImdHeader *header, Attribute *attribute)
{
    size_t index = (size_t)(attribute - header->attributes);
    free(attribute->keyword);
    free(attribute->value);
    memmove(attribute, attribute + 1,
            (header->attribute_count - index - 1) * sizeof *attribute);
    header->attribute_count--;
}

bool imd_header_set_string(ImdError **error, ImdHeader *header, const char *keyword,
                           const char *value)
{
    if (header == NULL || keyword == NULL || keyword[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "header attribute: empty keyword");
        return false;
    }
    Attribute *attribute = find_attribute(header, keyword);
    if (value == NULL) {
        if (attribute != NULL) {
            remove_attribute(header, attribute);
        }
        return true;
    }
    char *copy = imd__strdup(error, value);
    if (copy == NULL) {
        return false;
    }
    if (attribute != NULL) {
        free(attribute->value);
        attribute->value = copy;
        return true;
    }
    char *name = imd__strdup(error, keyword);
    if (name == NULL ||
        !imd__grow(error, (void **)&header->attributes, &header->attribute_capacity,
                   header->attribute_count + 1, sizeof(Attribute))) {
        free(name);
        free(copy);
        return false;
    }
    header->attributes[header->attribute_count++] = (Attribute){name, copy};
    return true;
}

size_t imd_header_attribute_count(const ImdHeader *header)
{
    return header != NULL ? header->attribute_count : 0;
}

const char *imd_header_attribute_keyword(const ImdHeader *header, size_t index)
{
    if (header == NULL || index >= header->attribute_count) {
        return NULL;
    }
    return header->attributes[index].keyword;
}

/* ---- input order ---- */

const char *imd_header_input_order(const ImdHeader *header)
{
    return header != NULL && header->input_order != NULL ? header->input_order : "none";
}

bool imd_header_set_input_order(ImdError **error, ImdHeader *header, const char *order)
{
    if (header == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "input order: no header");
        return false;
    }
    /* Only well-formed orders are kept: writers parse them again (companion
     * files, DICOM tag values), and must not meet one they cannot read. */
    ImdInputOrder parsed;
    if (!imd__input_order_parse(error, order, &parsed)) {
        return false;
    }
    bool automatic = parsed.automatic;
    imd__input_order_clear(&parsed);
    if (automatic) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "input order \"auto\" is a request to the "
                      "readers, not the order of a series");
        return false;
    }
    char *copy = imd__strdup(error, order);
    if (copy == NULL) {
        return false;
    }
    free(header->input_order);
    header->input_order = copy;
    return true;
}

/* ---- geometry ---- */

void imd_header_spacing(const ImdHeader *header, double spacing[3])
{
    for (int i = 0; i < 3; i++) {
        spacing[i] = header != NULL ? header->spacing[i] : 1.0;
    }
}

bool imd_header_set_spacing(ImdError **error, ImdHeader *header, const double spacing[3])
{
    for (int i = 0; i < 3; i++) {
        if (!isfinite(spacing[i]) || spacing[i] <= 0) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "spacing %g is not a positive number",
                          spacing[i]);
            return false;
        }
    }
    memcpy(header->spacing, spacing, sizeof header->spacing);
    header->has_transform = false;
    return true;
}

void imd_header_orientation(const ImdHeader *header, ImdVec3 *row, ImdVec3 *column)
{
    *row = header->row;
    *column = header->column;
}

static double length3(ImdVec3 v)
{
    return sqrt(v.x * v.x + v.y * v.y + v.z * v.z);
}

bool imd_header_set_orientation(ImdError **error, ImdHeader *header, ImdVec3 row,
                                ImdVec3 column)
{
    if (!(fabs(length3(row) - 1) <= 1e-3) || !(fabs(length3(column) - 1) <= 1e-3)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "orientation (%g,%g,%g) (%g,%g,%g) is not made of unit vectors", row.x,
                      row.y, row.z, column.x, column.y, column.z);
        return false;
    }
    header->row = row;
    header->column = column;
    header->has_transform = false;
    return true;
}

ImdVec3 imd_header_normal(const ImdHeader *header)
{
    ImdVec3 r = header->row, c = header->column;
    ImdVec3 n = {r.y * c.z - r.z * c.y, r.z * c.x - r.x * c.z, r.x * c.y - r.y * c.x};
    double length = length3(n);
    if (length > 0) {
        n.x /= length;
        n.y /= length;
        n.z /= length;
    }
    return n;
}

size_t imd_header_position_count(const ImdHeader *header)
{
    return header != NULL ? header->position_count : 0;
}

bool imd_header_image_position(const ImdHeader *header, size_t slice, ImdVec3 *position)
{
    if (header == NULL || header->position_count == 0) {
        return false;
    }
    if (slice < header->position_count) {
        *position = header->positions[slice];
        return true;
    }
    /* Only earlier slices are known: continue along the slice column (§1.3). */
    ImdMat4 m;
    imd_header_transform(header, &m);
    ImdVec3 p0 = header->positions[0];
    double s = (double)slice;
    *position = (ImdVec3){p0.x + s * m.m[0][2], p0.y + s * m.m[1][2], p0.z + s * m.m[2][2]};
    return true;
}

bool imd_header_set_image_positions(ImdError **error, ImdHeader *header,
                                    const ImdVec3 *positions, size_t count)
{
    ImdVec3 *copy = NULL;
    if (count > 0 && positions == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "image positions: %zu expected, none given",
                      count);
        return false;
    }
    if (count > 0) {
        copy = copy_block(error, positions, count, sizeof *positions);
        if (copy == NULL) {
            return false;
        }
    }
    free(header->positions);
    header->positions = copy;
    header->position_count = count;
    header->has_transform = false;
    return true;
}

const double *imd_header_slice_locations(const ImdHeader *header, size_t *count)
{
    *count = header != NULL ? header->location_count : 0;
    return *count > 0 ? header->locations : NULL;
}

bool imd_header_set_slice_locations(ImdError **error, ImdHeader *header,
                                    const double *locations, size_t count)
{
    double *copy = NULL;
    if (count > 0 && locations == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "slice locations: %zu expected, none given",
                      count);
        return false;
    }
    if (count > 0) {
        copy = copy_block(error, locations, count, sizeof *locations);
        if (copy == NULL) {
            return false;
        }
    }
    free(header->locations);
    header->locations = copy;
    header->location_count = count;
    return true;
}

void imd_header_transform(const ImdHeader *header, ImdMat4 *transform)
{
    if (header->has_transform) {
        *transform = header->transform;
        return;
    }
    /* behaviour.md §5.1, in (column, row, slice) -> (x, y, z) form. A single
     * slice gets the true normal (the original used unit x: a bug). */
    const double *sp = header->spacing;
    ImdVec3 r = header->row, c = header->column, k;
    size_t n = header->position_count;
    if (n > 1) {
        ImdVec3 first = header->positions[0], last = header->positions[n - 1];
        double steps = (double)(n - 1);
        k = (ImdVec3){(last.x - first.x) / steps, (last.y - first.y) / steps,
                      (last.z - first.z) / steps};
    } else {
        ImdVec3 normal = imd_header_normal(header);
        k = (ImdVec3){normal.x * sp[0], normal.y * sp[0], normal.z * sp[0]};
    }
    ImdVec3 t = n > 0 ? header->positions[0] : (ImdVec3){0, 0, 0};
    *transform = (ImdMat4){{{r.x * sp[2], c.x * sp[1], k.x, t.x},
                            {r.y * sp[2], c.y * sp[1], k.y, t.y},
                            {r.z * sp[2], c.z * sp[1], k.z, t.z},
                            {0, 0, 0, 1}}};
}

void imd_header_set_transform(ImdHeader *header, const ImdMat4 *transform)
{
    header->transform = *transform;
    header->has_transform = true;
}

void imd_header_reset_transform(ImdHeader *header)
{
    header->has_transform = false;
}

bool imd_header_geometry_defined(const ImdHeader *header)
{
    return header != NULL && header->geometry_defined;
}

void imd_header_set_geometry_defined(ImdHeader *header, bool defined)
{
    header->geometry_defined = defined;
}

/* ---- tags ---- */

bool imd_header_set_tag_shape(ImdError **error, ImdHeader *header, size_t slices, size_t ndim,
                              const size_t *shape, size_t components)
{
    if (ndim > IMD_MAX_TAG_DIMS || components > IMD_MAX_TAG_DIMS) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "tags: %zu dimensions, at most %d", ndim,
                      IMD_MAX_TAG_DIMS);
        return false;
    }
    size_t cells = 1, all_cells, values;
    for (size_t i = 0; i < ndim; i++) {
        if (!imd__mul_size(cells, shape[i], &cells)) {
            cells = 0;
            break;
        }
    }
    if ((ndim > 0 && cells == 0) || !imd__mul_size(slices, cells, &all_cells) ||
        !imd__mul_size(all_cells, components, &values)) {
        imd_error_set(error, IMD_ERR_LIMIT, "tags: shape too large or empty");
        return false;
    }
    ImdValue *new_values = values > 0 ? imd__calloc(error, values, sizeof(ImdValue)) : NULL;
    uint8_t *present = all_cells > 0 ? imd__calloc(error, all_cells, 1) : NULL;
    if ((values > 0 && new_values == NULL) || (all_cells > 0 && present == NULL)) {
        free(new_values);
        free(present);
        return false;
    }
    free(header->tag_values);
    free(header->tag_present);
    free(header->instance_uids);
    header->instance_uids = NULL;
    free_instance_datasets(header);
    header->tag_values = new_values;
    header->tag_present = present;
    header->tag_slices = slices;
    header->tag_ndim = ndim;
    header->tag_components = components;
    header->tag_cells = cells;
    memset(header->tag_shape, 0, sizeof header->tag_shape);
    for (size_t i = 0; i < ndim; i++) {
        header->tag_shape[i] = shape[i];
    }
    return true;
}

size_t imd_header_tag_slices(const ImdHeader *header)
{
    return header->tag_slices;
}

size_t imd_header_tag_ndim(const ImdHeader *header)
{
    return header->tag_ndim;
}

size_t imd_header_tag_shape(const ImdHeader *header, size_t dim)
{
    return dim < header->tag_ndim ? header->tag_shape[dim] : 0;
}

size_t imd_header_tag_components(const ImdHeader *header)
{
    return header->tag_components;
}

/* Index of a cell across all slices, or SIZE_MAX when out of range. */
static size_t cell_index(const ImdHeader *header, size_t slice, const size_t *index)
{
    if (slice >= header->tag_slices) {
        return SIZE_MAX;
    }
    size_t cell = 0;
    for (size_t i = 0; i < header->tag_ndim; i++) {
        if (index == NULL || index[i] >= header->tag_shape[i]) {
            return SIZE_MAX;
        }
        cell = cell * header->tag_shape[i] + index[i];
    }
    return slice * header->tag_cells + cell;
}

const ImdValue *imd_header_tag(const ImdHeader *header, size_t slice, const size_t *index)
{
    /* A present cell without components (all tag axes dropped by indexing)
     * still differs from an empty cell: it has an empty value list. */
    static const ImdValue no_components[1];
    size_t cell = cell_index(header, slice, index);
    if (cell == SIZE_MAX || !header->tag_present[cell]) {
        return NULL;
    }
    if (header->tag_components == 0) {
        return no_components;
    }
    return header->tag_values + cell * header->tag_components;
}

bool imd_header_set_tag(ImdError **error, ImdHeader *header, size_t slice, const size_t *index,
                        const ImdValue *values)
{
    size_t cell = cell_index(header, slice, index);
    if (cell == SIZE_MAX) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "tags: slice %zu or cell index out of range",
                      slice);
        return false;
    }
    header->tag_present[cell] = values != NULL;
    if (values != NULL && header->tag_components > 0) {
        memcpy(header->tag_values + cell * header->tag_components, values,
               header->tag_components * sizeof *values);
    }
    return true;
}

const char *imd_header_instance_uid(const ImdHeader *header, size_t slice, const size_t *index)
{
    size_t cell = cell_index(header, slice, index);
    if (cell == SIZE_MAX || header->instance_uids == NULL || header->instance_uids[cell][0] == 0) {
        return NULL;
    }
    return header->instance_uids[cell];
}

bool imd_header_set_instance_uid(ImdError **error, ImdHeader *header, size_t slice,
                                 const size_t *index, const char *uid)
{
    size_t cell = cell_index(header, slice, index);
    if (cell == SIZE_MAX) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "instance UID: slice %zu or cell out of range",
                      slice);
        return false;
    }
    if (uid != NULL && strlen(uid) >= IMD_UID_SIZE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "instance UID \"%.70s\" is longer than 64",
                      uid);
        return false;
    }
    if (header->instance_uids == NULL) {
        if (uid == NULL) {
            return true;
        }
        header->instance_uids = imd__calloc(error, header->tag_slices * header->tag_cells,
                                            IMD_UID_SIZE);
        if (header->instance_uids == NULL) {
            return false;
        }
    }
    snprintf(header->instance_uids[cell], IMD_UID_SIZE, "%s", uid != NULL ? uid : "");
    return true;
}

const void *imd_header_instance_dataset(const ImdHeader *header, size_t slice,
                                        const size_t *index)
{
    size_t cell = cell_index(header, slice, index);
    return cell == SIZE_MAX || header->instance_datasets == NULL ? NULL
                                                                 : header->instance_datasets[cell];
}

bool imd_header_set_instance_dataset(ImdError **error, ImdHeader *header, size_t slice,
                                     const size_t *index, void *dataset)
{
    size_t cell = cell_index(header, slice, index);
    if (cell == SIZE_MAX || (dataset != NULL && header->template_dataset == NULL)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, cell == SIZE_MAX
                      ? "instance data set: slice or cell out of range"
                      : "instance data set without a template (set the template first)");
        return false;
    }
    if (header->instance_datasets == NULL) {
        if (dataset == NULL) {
            return true;
        }
        header->instance_datasets = imd__calloc(error, header->tag_slices * header->tag_cells,
                                                sizeof(void *));
        if (header->instance_datasets == NULL) {
            return false;
        }
    }
    if (header->instance_datasets[cell] != NULL) {
        header->template_ops->destroy(header->instance_datasets[cell]);
    }
    header->instance_datasets[cell] = dataset;
    return true;
}

bool imd__header_copy_instance(ImdError **error, ImdHeader *to, size_t slice,
                               const size_t *index, const ImdHeader *from, size_t from_slice,
                               const size_t *from_index, bool with_dataset)
{
    if (!imd_header_set_instance_uid(error, to, slice, index,
                                     imd_header_instance_uid(from, from_slice, from_index))) {
        return false;
    }
    const void *dataset = with_dataset ? imd_header_instance_dataset(from, from_slice, from_index)
                                       : NULL;
    if (dataset == NULL || to->template_dataset == NULL) {
        return true; /* nothing to copy, or no template for it to differ from */
    }
    void *copy = to->template_ops->clone(dataset);
    if (copy == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "cannot copy an image's data set");
        return false;
    }
    if (!imd_header_set_instance_dataset(error, to, slice, index, copy)) {
        to->template_ops->destroy(copy);
        return false;
    }
    return true;
}

/* ---- window ---- */

bool imd_header_window(const ImdHeader *header, double *center, double *width)
{
    if (header == NULL || !header->has_window) {
        return false;
    }
    *center = header->window_center;
    *width = header->window_width;
    return true;
}

void imd_header_set_window(ImdHeader *header, double center, double width)
{
    header->window_center = center;
    header->window_width = width;
    header->has_window = true;
}

void imd_header_clear_window(ImdHeader *header)
{
    header->has_window = false;
}

/* ---- template ---- */

bool imd_header_set_template(ImdError **error, ImdHeader *header, void *dataset,
                             const ImdTemplateOps *ops)
{
    if (dataset != NULL && (ops == NULL || ops->clone == NULL || ops->destroy == NULL)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "template dataset without clone/destroy");
        return false;
    }
    free_instance_datasets(header); /* differences from the old template */
    if (header->template_dataset != NULL) {
        header->template_ops->destroy(header->template_dataset);
    }
    header->template_dataset = dataset;
    header->template_ops = ops;
    return true;
}

const void *imd_header_template(const ImdHeader *header)
{
    return header != NULL ? header->template_dataset : NULL;
}

bool imd_header_template_string(ImdError **error, const ImdHeader *header, const char *keyword,
                                char **value)
{
    if (value != NULL) {
        *value = NULL;
    }
    if (header == NULL || keyword == NULL || keyword[0] == '\0' || value == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "template attribute: NULL header, keyword or "
                      "result");
        return false;
    }
    if (header->template_dataset == NULL || header->template_ops->get_string == NULL) {
        return true;
    }
    if (!header->template_ops->get_string(error, header->template_dataset, keyword, value)) {
        *value = NULL;
        return false;
    }
    return true;
}

const ImdTemplateOps *imd__header_template_ops(const ImdHeader *header)
{
    return header != NULL && header->template_dataset != NULL ? header->template_ops : NULL;
}
