/*
 * subset.c: sub-setting a series by index or range along any dimension, as
 * the original's Series.__getitem__ does (behaviour.md §1.5), keeping axes,
 * geometry and tags consistent with the selected voxels.
 */
#include "model/model_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

typedef struct Selection {
    size_t start;
    int64_t step;
    size_t count;
    bool drop; /* the dimension disappears from the result */
} Selection;

/* Python's slice.indices() followed by len(range(...)). */
static void range_indices(const ImdIndex *index, int64_t length, int64_t *start, int64_t step,
                          size_t *count)
{
    int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? length : length - 1;
    int64_t first = step > 0 ? lower : upper, last = step > 0 ? upper : lower;
    if (index->has_start) {
        first = index->start < 0 ? index->start + length : index->start;
        first = first < lower ? lower : first > upper ? upper : first;
    }
    if (index->has_stop) {
        last = index->stop < 0 ? index->stop + length : index->stop;
        last = last < lower ? lower : last > upper ? upper : last;
    }
    *start = first;
    if (step > 0) {
        *count = last > first ? (size_t)((last - first - 1) / step + 1) : 0;
    } else {
        *count = first > last ? (size_t)((first - last - 1) / (-step) + 1) : 0;
    }
}

static bool select_dim(ImdError **error, const ImdIndex *index, size_t length, size_t dim,
                       Selection *selection)
{
    *selection = (Selection){0, 1, length, false};
    if (index == NULL || index->kind == IMD_INDEX_ALL) {
        return true;
    }
    if ((uint64_t)length > (uint64_t)INT64_MAX) {
        imd_error_set(error, IMD_ERR_LIMIT, "dimension %zu is too long to index", dim);
        return false;
    }
    int64_t n = (int64_t)length;
    if (index->kind == IMD_INDEX_SINGLE) {
        int64_t i = index->start < 0 ? index->start + n : index->start;
        if (i < 0 || i >= n) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "index %lld is out of range for dimension %zu of size %zu",
                          (long long)index->start, dim, length);
            return false;
        }
        *selection = (Selection){(size_t)i, 1, 1, true};
        return true;
    }
    if (index->kind != IMD_INDEX_RANGE) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "index kind %d is unknown", (int)index->kind);
        return false;
    }
    int64_t step = index->step == 0 ? 1 : index->step, start;
    if (step == INT64_MIN) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "step is out of range");
        return false;
    }
    size_t count;
    range_indices(index, n, &start, step, &count);
    if (count == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "range selects nothing of dimension %zu", dim);
        return false;
    }
    *selection = (Selection){(size_t)start, step, count, false};
    return true;
}

/* Copy the selected voxels, innermost runs with memcpy where contiguous. */
static void copy_voxels(const ImdSeries *series, const Selection *sel, uint8_t *out)
{
    size_t ndim = series->ndim, item = imd_dtype_size(series->dtype);
    size_t strides[IMD_MAX_DIMS], position[IMD_MAX_DIMS] = {0};
    imd__strides(ndim, series->shape, strides);
    const uint8_t *data = series->data;
    const Selection *inner = &sel[ndim - 1];
    for (;;) {
        size_t offset = 0;
        for (size_t d = 0; d + 1 < ndim; d++) {
            offset += (size_t)((int64_t)sel[d].start + (int64_t)position[d] * sel[d].step) *
                      strides[d];
        }
        offset += inner->start;
        if (inner->step == 1) {
            memcpy(out, data + offset * item, inner->count * item);
            out += inner->count * item;
        } else {
            for (size_t i = 0; i < inner->count; i++) {
                size_t at = (size_t)((int64_t)offset + (int64_t)i * inner->step);
                memcpy(out, data + at * item, item);
                out += item;
            }
        }
        size_t d = ndim - 1;
        while (d > 0) {
            d--;
            if (++position[d] < sel[d].count) {
                break;
            }
            position[d] = 0;
            if (d == 0) {
                return;
            }
        }
        if (ndim == 1) {
            return;
        }
    }
}

typedef struct Dims {
    int slice, row, column; /* -1 when absent */
    size_t tag_ndim;
} Dims;

static Dims find_dims(const ImdSeries *series)
{
    Dims dims = {imd_series_find_axis(series, "slice"), imd_series_find_axis(series, "row"),
                 imd_series_find_axis(series, "column"), imd_series_tag_ndim(series)};
    if (dims.row < 0 && series->ndim >= 2) {
        dims.row = (int)series->ndim - 2;
    }
    if (dims.column < 0) {
        dims.column = (int)series->ndim - 1;
    }
    return dims;
}

static Selection dim_selection(const Selection *sel, int dim)
{
    return dim >= 0 ? sel[dim] : (Selection){0, 1, 1, true};
}

/* Move the geometry to the first selected voxel and scale the steps. */
static bool subset_geometry(ImdError **error, const ImdSeries *series, ImdHeader *header,
                            const Selection *sel, Dims dims)
{
    Selection s = dim_selection(sel, dims.slice), r = dim_selection(sel, dims.row),
              c = dim_selection(sel, dims.column);
    ImdMat4 m;
    imd_header_transform(series->header, &m);
    ImdVec3 shift = {m.m[0][0] * (double)c.start + m.m[0][1] * (double)r.start,
                     m.m[1][0] * (double)c.start + m.m[1][1] * (double)r.start,
                     m.m[2][0] * (double)c.start + m.m[2][1] * (double)r.start};
    size_t known = imd_header_position_count(series->header);
    if (known > 0) {
        size_t count = dims.slice >= 0 ? s.count : imd_header_position_count(series->header);
        ImdVec3 *positions = imd__calloc(error, count, sizeof *positions);
        if (positions == NULL) {
            return false;
        }
        for (size_t i = 0; i < count; i++) {
            size_t old = dims.slice >= 0 ? (size_t)((int64_t)s.start + (int64_t)i * s.step) : i;
            ImdVec3 p;
            (void)imd_header_image_position(series->header, old, &p);
            positions[i] = (ImdVec3){p.x + shift.x, p.y + shift.y, p.z + shift.z};
        }
        bool ok = imd_header_set_image_positions(error, header, positions, count);
        free(positions);
        if (!ok) {
            return false;
        }
    }
    size_t nloc;
    const double *locations = imd_header_slice_locations(series->header, &nloc);
    if (dims.slice >= 0 && nloc == series->shape[dims.slice]) {
        double *kept = imd__calloc(error, s.count, sizeof *kept);
        if (kept == NULL) {
            return false;
        }
        for (size_t i = 0; i < s.count; i++) {
            kept[i] = locations[(size_t)((int64_t)s.start + (int64_t)i * s.step)];
        }
        bool ok = imd_header_set_slice_locations(error, header, kept, s.count);
        free(kept);
        if (!ok) {
            return false;
        }
    }
    double spacing[3];
    imd_header_spacing(series->header, spacing);
    spacing[0] *= (double)(s.step < 0 ? -s.step : s.step);
    spacing[1] *= (double)(r.step < 0 ? -r.step : r.step);
    spacing[2] *= (double)(c.step < 0 ? -c.step : c.step);
    if (!imd_header_set_spacing(error, header, spacing)) {
        return false;
    }
    /* New origin = M (c0, r0, s0); each step column scaled by the stride. */
    ImdMat4 out = m;
    for (int i = 0; i < 3; i++) {
        out.m[i][3] = m.m[i][3] + shift.x * (i == 0) + shift.y * (i == 1) + shift.z * (i == 2);
        out.m[i][3] += m.m[i][2] * (double)s.start;
        out.m[i][0] = m.m[i][0] * (double)c.step;
        out.m[i][1] = m.m[i][1] * (double)r.step;
        if (!s.drop) {
            out.m[i][2] = m.m[i][2] * (double)s.step;
        }
    }
    ImdVec3 origin;
    if (imd_header_image_position(header, 0, &origin)) {
        /* Stored positions may be uneven (accept_uneven_slices): trust them. */
        out.m[0][3] = origin.x;
        out.m[1][3] = origin.y;
        out.m[2][3] = origin.z;
    }
    imd_header_set_transform(header, &out);
    return true;
}

/* Slice the tag store: selected slices and cells, dropped components removed. */
static bool subset_tags(ImdError **error, const ImdSeries *series, ImdHeader *header,
                        const Selection *sel, Dims dims)
{
    const ImdHeader *old = series->header;
    size_t tag_ndim = imd_header_tag_ndim(old), components = imd_header_tag_components(old);
    size_t old_slices = dims.slice >= 0 ? series->shape[dims.slice] : 1;
    bool consistent = tag_ndim == dims.tag_ndim && imd_header_tag_slices(old) == old_slices;
    for (size_t d = 0; consistent && d < tag_ndim; d++) {
        consistent = imd_header_tag_shape(old, d) == series->shape[d];
    }
    if (!consistent) {
        /* Nothing sensible to slice: leave no tags rather than wrong ones. */
        return imd_header_set_tag_shape(error, header, 0, 0, NULL, 0);
    }
    bool per_dim = components == tag_ndim;
    size_t shape[IMD_MAX_TAG_DIMS], ndim = 0, kept_components = 0, keep[IMD_MAX_TAG_DIMS];
    for (size_t d = 0; d < tag_ndim; d++) {
        if (!sel[d].drop) {
            shape[ndim++] = sel[d].count;
        }
    }
    for (size_t k = 0; k < components; k++) {
        if (!per_dim || !sel[k].drop) {
            keep[kept_components++] = k;
        }
    }
    Selection s = dim_selection(sel, dims.slice);
    if (!imd_header_set_tag_shape(error, header, s.count, ndim, shape, kept_components)) {
        return false;
    }
    size_t cells = 1;
    for (size_t d = 0; d < tag_ndim; d++) {
        cells *= sel[d].count;
    }
    for (size_t i = 0; i < s.count; i++) {
        size_t old_slice = (size_t)((int64_t)s.start + (int64_t)i * s.step);
        for (size_t cell = 0; cell < cells; cell++) {
            size_t old_index[IMD_MAX_TAG_DIMS], new_index[IMD_MAX_TAG_DIMS], rest = cell, n = 0;
            for (size_t d = tag_ndim; d-- > 0;) {
                size_t at = rest % sel[d].count;
                rest /= sel[d].count;
                old_index[d] = (size_t)((int64_t)sel[d].start + (int64_t)at * sel[d].step);
            }
            for (size_t d = 0, at = cell; d < tag_ndim; d++) {
                size_t below = 1;
                for (size_t e = d + 1; e < tag_ndim; e++) {
                    below *= sel[e].count;
                }
                if (!sel[d].drop) {
                    new_index[n++] = (at / below) % sel[d].count;
                }
            }
            const ImdValue *values = imd_header_tag(old, old_slice, old_index);
            if (values == NULL) {
                continue;
            }
            ImdValue kept[IMD_MAX_TAG_DIMS];
            for (size_t k = 0; k < kept_components; k++) {
                kept[k] = values[keep[k]];
            }
            if (!imd_header_set_tag(error, header, i, new_index, kept) ||
                !imd__header_copy_instance(error, header, i, new_index, old, old_slice,
                                           old_index, true)) {
                return false;
            }
        }
    }
    return true;
}

/* The input order keeps the components of the kept tag dimensions. */
static bool subset_order(ImdError **error, const ImdSeries *series, ImdHeader *header,
                         const Selection *sel, Dims dims)
{
    if (dims.tag_ndim == 0) {
        return true;
    }
    ImdText text = {0};
    for (size_t d = 0; d < dims.tag_ndim; d++) {
        if (!sel[d].drop) {
            if (text.length > 0) {
                imd__text_puts(&text, ",");
            }
            imd__text_puts(&text, imd_axis_name(series->axes[d]));
        }
    }
    if (text.length == 0) {
        imd__text_puts(&text, "none");
    }
    char *order = imd__text_finish(error, &text);
    bool ok = order != NULL && imd_header_set_input_order(error, header, order);
    free(order);
    return ok;
}

static bool select_all(ImdError **error, const ImdSeries *series, const ImdIndex *index,
                       size_t count, Selection *sel, Dims dims)
{
    if (count > series->ndim) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "%zu indices for a %zu-dimensional series",
                      count, series->ndim);
        return false;
    }
    size_t kept = 0;
    for (size_t d = 0; d < series->ndim; d++) {
        if (!select_dim(error, d < count ? &index[d] : NULL, series->shape[d], d, &sel[d])) {
            return false;
        }
        /* A tag axis with at most one value left goes away (§1.5). */
        if (d < dims.tag_ndim && d < count && index[d].kind != IMD_INDEX_ALL &&
            sel[d].count <= 1) {
            sel[d].drop = true;
        }
        kept += !sel[d].drop;
    }
    if (kept == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "selecting a single voxel gives no series; keep one dimension");
        return false;
    }
    return true;
}

/*
 * The sub-set; with `data` NULL its voxels are copied into a new buffer,
 * otherwise the result wraps `data` (imd_series_subset_wrap) and no voxel of
 * `series` is read.
 */
static ImdSeries *subset(ImdError **error, const ImdSeries *series, const ImdIndex *index,
                         size_t count, void *data, ImdReleaseFn *release, void *user)
{
    if (series == NULL || (index == NULL && count > 0)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_series_subset: no series or index");
        return NULL;
    }
    Selection sel[IMD_MAX_DIMS];
    Dims dims = find_dims(series);
    if (!select_all(error, series, index, count, sel, dims)) {
        return NULL;
    }
    size_t shape[IMD_MAX_DIMS], ndim = 0;
    for (size_t d = 0; d < series->ndim; d++) {
        if (!sel[d].drop) {
            shape[ndim++] = sel[d].count;
        }
    }
    ImdSeries *out = data != NULL
                         ? imd_series_wrap(error, series->dtype, ndim, shape, data, NULL, NULL)
                         : imd_series_create(error, series->dtype, ndim, shape);
    if (out == NULL) {
        return NULL;
    }
    if (data == NULL) {
        copy_voxels(series, sel, out->data);
    }
    bool ok = true;
    for (size_t d = 0, o = 0; ok && d < series->ndim; d++) {
        if (sel[d].drop) {
            continue;
        }
        ImdAxis *axis = imd_axis_slice(error, series->axes[d], sel[d].start, sel[d].step,
                                       sel[d].count);
        ok = axis != NULL && imd_series_set_axis(error, out, o++, axis);
        if (!ok) {
            imd_axis_destroy(axis);
        }
    }
    ImdHeader *header = ok ? imd_header_clone(error, series->header) : NULL;
    ok = header != NULL && subset_geometry(error, series, header, sel, dims) &&
         subset_tags(error, series, header, sel, dims) &&
         subset_order(error, series, header, sel, dims);
    if (header != NULL) {
        imd_header_destroy(out->header);
        out->header = header;
    }
    if (!ok) {
        imd_series_destroy(out);
        return NULL;
    }
    /* Only now: on failure the caller still owns `data` (as imd_series_wrap). */
    out->release = release;
    out->release_user = user;
    return out;
}

ImdSeries *imd_series_subset(ImdError **error, const ImdSeries *series, const ImdIndex *index,
                             size_t count)
{
    return subset(error, series, index, count, NULL, NULL, NULL);
}

ImdSeries *imd_series_subset_wrap(ImdError **error, const ImdSeries *series,
                                  const ImdIndex *index, size_t count, void *data,
                                  ImdReleaseFn *release, void *user)
{
    if (data == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_series_subset_wrap: no data to wrap");
        return NULL;
    }
    return subset(error, series, index, count, data, release, user);
}

/* ---- "1:3, :, -1" ---- */

static bool parse_number(const char **p, int64_t *value, bool *present)
{
    while (**p == ' ') {
        (*p)++;
    }
    *present = false;
    if (**p == '-' || **p == '+' || isdigit((unsigned char)**p)) {
        char *end;
        errno = 0;
        long long number = strtoll(*p, &end, 10);
        if (end == *p || errno == ERANGE) {
            return false;
        }
        *value = number;
        *present = true;
        *p = end;
    }
    while (**p == ' ') {
        (*p)++;
    }
    return true;
}

static bool parse_one(const char **p, ImdIndex *index)
{
    bool present;
    int64_t value = 0;
    *index = (ImdIndex){0};
    if (!parse_number(p, &value, &present)) {
        return false;
    }
    if (**p != ':') {
        if (!present) {
            return false;
        }
        *index = (ImdIndex){.kind = IMD_INDEX_SINGLE, .start = value};
        return true;
    }
    index->kind = IMD_INDEX_RANGE;
    index->start = value;
    index->has_start = present;
    (*p)++;
    if (!parse_number(p, &index->stop, &index->has_stop)) {
        return false;
    }
    if (**p == ':') {
        (*p)++;
        bool has_step;
        if (!parse_number(p, &index->step, &has_step)) {
            return false;
        }
    }
    if (!index->has_start && !index->has_stop && index->step == 0) {
        index->kind = IMD_INDEX_ALL;
    }
    return true;
}

bool imd_index_parse(ImdError **error, const char *text, ImdIndex *index, size_t capacity,
                     size_t *count)
{
    const char *p = text;
    *count = 0;
    if (text == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "index: no text");
        return false;
    }
    for (;;) {
        if (*count == capacity) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "index \"%s\": more than %zu entries",
                          text, capacity);
            return false;
        }
        if (!parse_one(&p, &index[*count])) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "index \"%s\": cannot parse near \"%s\"",
                          text, p);
            return false;
        }
        (*count)++;
        if (*p == '\0') {
            return true;
        }
        if (*p != ',') {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "index \"%s\": unexpected \"%s\"", text,
                          p);
            return false;
        }
        p++;
    }
}
