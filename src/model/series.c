/*
 * series.c: ImdSeries, an N-dimensional array with axes and a header,
 * and ImdSeriesList.
 */
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>

static bool is_spatial_name(const char *name)
{
    return strcmp(name, "slice") == 0 || strcmp(name, "row") == 0 ||
           strcmp(name, "column") == 0;
}

/*
 * The original's default axis names (behaviour.md §1.1): the original
 * inserts "unknown<i>" in front of slice, row, column for i = 0, 1, ..., so
 * the numbers count down toward the slice axis, and the first axis is then
 * named after the order ("none"): 6D is none, unknown1, unknown0, slice, ...
 */
static const char *default_axis_name(size_t dim, size_t ndim, char buffer[32])
{
    static const char *const spatial[] = {"slice", "row", "column"};
    size_t spatial_count = ndim < 3 ? ndim : 3;
    if (dim >= ndim - spatial_count) {
        return spatial[3 - (ndim - dim)];
    }
    if (dim == 0) {
        return "none";
    }
    (void)snprintf(buffer, 32, "unknown%zu", ndim - spatial_count - 1 - dim);
    return buffer;
}

static bool check_shape(ImdError **error, ImdDType dtype, size_t ndim, const size_t shape[],
                        size_t *bytes)
{
    if (!imd_dtype_is_valid(dtype)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "series: invalid element type %d", (int)dtype);
        return false;
    }
    if (ndim == 0 || ndim > IMD_MAX_DIMS || shape == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "series: %zu dimensions (1 to %d allowed)",
                      ndim, IMD_MAX_DIMS);
        return false;
    }
    size_t count;
    for (size_t i = 0; i < ndim; i++) {
        if (shape[i] == 0) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "series: dimension %zu is empty", i);
            return false;
        }
    }
    if (!imd__shape_count(ndim, shape, &count) ||
        !imd__mul_size(count, imd_dtype_size(dtype), bytes)) {
        imd_error_set(error, IMD_ERR_LIMIT, "series: shape too large for memory");
        return false;
    }
    return true;
}

static ImdSeries *make_series(ImdError **error, ImdDType dtype, size_t ndim,
                              const size_t shape[])
{
    ImdSeries *series = imd__calloc(error, 1, sizeof *series);
    if (series == NULL) {
        return NULL;
    }
    series->dtype = dtype;
    series->ndim = ndim;
    memcpy(series->shape, shape, ndim * sizeof *shape);
    series->header = imd_header_create(error);
    bool ok = series->header != NULL;
    for (size_t d = 0; ok && d < ndim; d++) {
        char buffer[32];
        series->axes[d] = imd_axis_create_uniform(error, default_axis_name(d, ndim, buffer), 0,
                                                  1, shape[d]);
        ok = series->axes[d] != NULL;
    }
    if (!ok) {
        imd_series_destroy(series);
        return NULL;
    }
    return series;
}

ImdSeries *imd_series_create(ImdError **error, ImdDType dtype, size_t ndim, const size_t shape[])
{
    size_t bytes;
    if (!check_shape(error, dtype, ndim, shape, &bytes)) {
        return NULL;
    }
    /* A backstop: the formats check with the file's name before they get here. */
    if (!imd__check_alloc(error, NULL, bytes, "series")) {
        return NULL;
    }
    void *data = imd__calloc(NULL, 1, bytes);
    if (data == NULL) {
        imd_error_set(error, IMD_ERR_NOMEM, "series: out of memory (%zu bytes)", bytes);
        return NULL;
    }
    ImdSeries *series = make_series(error, dtype, ndim, shape);
    if (series == NULL) {
        free(data);
        return NULL;
    }
    series->data = data;
    series->owns_data = true;
    return series;
}

ImdSeries *imd_series_wrap(ImdError **error, ImdDType dtype, size_t ndim, const size_t shape[],
                           void *data, ImdReleaseFn *release, void *user)
{
    size_t bytes;
    if (!check_shape(error, dtype, ndim, shape, &bytes)) {
        return NULL;
    }
    if (data == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "series: no data to wrap");
        return NULL;
    }
    ImdSeries *series = make_series(error, dtype, ndim, shape);
    if (series == NULL) {
        return NULL;
    }
    series->data = data;
    series->release = release;
    series->release_user = user;
    return series;
}

ImdSeries *imd_series_clone(ImdError **error, const ImdSeries *series)
{
    if (series == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_series_clone: no series");
        return NULL;
    }
    ImdSeries *copy = imd_series_create(error, series->dtype, series->ndim, series->shape);
    if (copy == NULL) {
        return NULL;
    }
    memcpy(copy->data, series->data, imd_series_nbytes(series));
    bool ok = true;
    for (size_t d = 0; ok && d < series->ndim; d++) {
        ImdAxis *axis = imd_axis_clone(error, series->axes[d]);
        ok = axis != NULL;
        if (ok) {
            imd_axis_destroy(copy->axes[d]);
            copy->axes[d] = axis;
        }
    }
    ImdHeader *header = ok ? imd_header_clone(error, series->header) : NULL;
    if (header == NULL) {
        imd_series_destroy(copy);
        return NULL;
    }
    imd_header_destroy(copy->header);
    copy->header = header;
    return copy;
}

/*
 * For bindings whose array library owns the voxels (numpy): the header and
 * axes of `like` over caller memory, without copying any voxel. The shape is
 * like's; `dtype` may differ (a ufunc result), the axes do not depend on it.
 */
ImdSeries *imd_series_wrap_like(ImdError **error, const ImdSeries *like, ImdDType dtype,
                                void *data, ImdReleaseFn *release, void *user)
{
    if (like == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd_series_wrap_like: no series");
        return NULL;
    }
    ImdSeries *copy = imd_series_wrap(error, dtype, like->ndim, like->shape, data, NULL, NULL);
    if (copy == NULL) {
        return NULL;
    }
    bool ok = true;
    for (size_t d = 0; ok && d < like->ndim; d++) {
        ImdAxis *axis = imd_axis_clone(error, like->axes[d]);
        ok = axis != NULL;
        if (ok) {
            imd_axis_destroy(copy->axes[d]);
            copy->axes[d] = axis;
        }
    }
    ImdHeader *header = ok ? imd_header_clone(error, like->header) : NULL;
    if (header == NULL) {
        imd_series_destroy(copy);
        return NULL;
    }
    imd_header_destroy(copy->header);
    copy->header = header;
    /* Only now: on failure the caller still owns `data` (as imd_series_wrap). */
    copy->release = release;
    copy->release_user = user;
    return copy;
}

static void release_data(ImdSeries *series)
{
    if (series->owns_data) {
        free(series->data);
    } else if (series->release != NULL) {
        series->release(series->data, series->release_user);
    }
}

void imd__series_replace_data(ImdSeries *series, void *data)
{
    release_data(series);
    series->data = data;
    series->owns_data = true;
    series->release = NULL;
    series->release_user = NULL;
}

void imd_series_destroy(ImdSeries *series)
{
    if (series == NULL) {
        return;
    }
    release_data(series);
    for (size_t d = 0; d < IMD_MAX_DIMS; d++) {
        imd_axis_destroy(series->axes[d]);
    }
    imd_header_destroy(series->header);
    free(series);
}

ImdDType imd_series_dtype(const ImdSeries *series)
{
    return series->dtype;
}

size_t imd_series_ndim(const ImdSeries *series)
{
    return series->ndim;
}

size_t imd_series_dim(const ImdSeries *series, size_t dim)
{
    return dim < series->ndim ? series->shape[dim] : 0;
}

size_t imd_series_count(const ImdSeries *series)
{
    size_t count = 1;
    for (size_t d = 0; d < series->ndim; d++) {
        count *= series->shape[d]; /* checked at creation */
    }
    return count;
}

size_t imd_series_nbytes(const ImdSeries *series)
{
    return imd_series_count(series) * imd_dtype_size(series->dtype);
}

void *imd_series_data(ImdSeries *series)
{
    return series->data;
}

const void *imd_series_const_data(const ImdSeries *series)
{
    return series->data;
}

const ImdAxis *imd_series_axis(const ImdSeries *series, size_t dim)
{
    return dim < series->ndim ? series->axes[dim] : NULL;
}

int imd_series_find_axis(const ImdSeries *series, const char *name)
{
    for (size_t d = 0; d < series->ndim; d++) {
        if (strcmp(imd_axis_name(series->axes[d]), name) == 0) {
            return (int)d;
        }
    }
    return -1;
}

bool imd_series_set_axis(ImdError **error, ImdSeries *series, size_t dim, ImdAxis *axis)
{
    if (dim >= series->ndim || axis == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "set axis: dimension %zu of %zu", dim,
                      series->ndim);
        return false;
    }
    if (imd_axis_length(axis) != series->shape[dim]) {
        if (imd_axis_kind(axis) != IMD_AXIS_UNIFORM) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "axis \"%s\" has %zu values, dimension %zu has %zu",
                          imd_axis_name(axis), imd_axis_length(axis), dim, series->shape[dim]);
            return false;
        }
        ImdAxis *resized = imd_axis_resize(error, axis, series->shape[dim]);
        if (resized == NULL) {
            return false;
        }
        imd_axis_destroy(axis);
        axis = resized;
    }
    imd_axis_destroy(series->axes[dim]);
    series->axes[dim] = axis;
    return true;
}

ImdHeader *imd_series_header(ImdSeries *series)
{
    return series->header;
}

const ImdHeader *imd_series_const_header(const ImdSeries *series)
{
    return series->header;
}

size_t imd_series_tag_ndim(const ImdSeries *series)
{
    size_t count = 0;
    while (count < series->ndim && !is_spatial_name(imd_axis_name(series->axes[count]))) {
        count++;
    }
    /* Rows and columns are never tags, even when an axis lost its name. */
    return count + 2 > series->ndim ? (series->ndim >= 2 ? series->ndim - 2 : 0) : count;
}

static bool rename_axes(ImdError **error, ImdSeries *series, const char *text,
                        const ImdInputOrder *order)
{
    /* Like the original, the first axes take the order's names; rows and
     * columns always stay (a 3D (time, row, column) series is allowed). */
    if (!order->none && order->count + 2 > series->ndim) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "input order \"%s\" has %zu components; a %zu-dimensional series has "
                      "room for %zu", text, order->count, series->ndim,
                      series->ndim >= 2 ? series->ndim - 2 : 0);
        return false;
    }
    size_t rename = order->none ? (series->ndim > 3 ? 1 : 0) : order->count;
    for (size_t i = 0; i < rename; i++) {
        if (!imd_axis_set_name(error, series->axes[i], order->names[i])) {
            return false;
        }
        (void)imd_axis_set_unit(NULL, series->axes[i], imd__axis_default_unit(order->names[i]));
    }
    return true;
}

bool imd_series_set_input_order(ImdError **error, ImdSeries *series, const char *order)
{
    ImdInputOrder parsed;
    if (!imd__input_order_parse(error, order, &parsed)) {
        return false;
    }
    bool ok = true;
    if (parsed.automatic) {
        /* auto is a request to the readers, not the order of a series read. */
        imd_error_set(error, IMD_ERR_INVALID_ARG, "input order \"auto\" cannot name a "
                      "series' axes; give the order chosen (e.g. \"time\", \"none\")");
        ok = false;
    }
    ok = ok && rename_axes(error, series, order, &parsed) &&
         imd_header_set_input_order(error, series->header, order);
    imd__input_order_clear(&parsed);
    return ok;
}

static size_t spatial_length(const ImdSeries *series, const char *name, size_t from_end)
{
    int dim = imd_series_find_axis(series, name);
    if (dim >= 0) {
        return series->shape[dim];
    }
    return series->ndim >= from_end ? series->shape[series->ndim - from_end] : 1;
}

size_t imd_series_slices(const ImdSeries *series)
{
    int dim = imd_series_find_axis(series, "slice");
    return dim >= 0 ? series->shape[dim] : 1;
}

size_t imd_series_rows(const ImdSeries *series)
{
    return spatial_length(series, "row", 2);
}

size_t imd_series_columns(const ImdSeries *series)
{
    return spatial_length(series, "column", 1);
}

void imd_series_spacing(const ImdSeries *series, double spacing[3])
{
    static const char *const names[3] = {"slice", "row", "column"};
    imd_header_spacing(series->header, spacing);
    for (int i = 0; i < 3; i++) {
        int dim = imd_series_find_axis(series, names[i]);
        double step;
        if (dim >= 0 && imd_axis_step(series->axes[dim], &step) && isfinite(step)) {
            /* Only a slice axis from geometry has a meaningful step; default
             * axes step 1, as does the header's default. */
            spacing[i] = fabs(step);
        }
    }
}

bool imd_series_set_spacing(ImdError **error, ImdSeries *series, const double spacing[3])
{
    static const char *const names[3] = {"slice", "row", "column"};
    if (!imd_header_set_spacing(error, series->header, spacing)) {
        return false;
    }
    for (int i = 0; i < 3; i++) {
        int dim = imd_series_find_axis(series, names[i]);
        if (dim < 0 || imd_axis_kind(series->axes[dim]) != IMD_AXIS_UNIFORM) {
            continue;
        }
        const ImdAxis *old = series->axes[dim];
        ImdAxis *axis = imd_axis_create_uniform(error, imd_axis_name(old), imd_axis_start(old),
                                                spacing[i], imd_axis_length(old));
        if (axis == NULL) {
            return false;
        }
        imd_axis_destroy(series->axes[dim]);
        series->axes[dim] = axis;
    }
    return true;
}

/* ---- lists ---- */

struct ImdSeriesList {
    ImdSeries **items;
    size_t count, capacity;
    ImdError **failures; /* series or images that could not be read */
    size_t failure_count, failure_capacity;
};

ImdSeriesList *imd_series_list_create(ImdError **error)
{
    return imd__calloc(error, 1, sizeof(ImdSeriesList));
}

void imd_series_list_destroy(ImdSeriesList *list)
{
    if (list == NULL) {
        return;
    }
    for (size_t i = 0; i < list->count; i++) {
        imd_series_destroy(list->items[i]);
    }
    for (size_t i = 0; i < list->failure_count; i++) {
        imd_error_clear(&list->failures[i]);
    }
    free(list->failures);
    free(list->items);
    free(list);
}

size_t imd_series_list_count(const ImdSeriesList *list)
{
    return list != NULL ? list->count : 0;
}

ImdSeries *imd_series_list_get(const ImdSeriesList *list, size_t index)
{
    return list != NULL && index < list->count ? list->items[index] : NULL;
}

ImdSeries *imd_series_list_take(ImdSeriesList *list, size_t index)
{
    if (list == NULL || index >= list->count) {
        return NULL;
    }
    ImdSeries *series = list->items[index];
    memmove(list->items + index, list->items + index + 1,
            (list->count - index - 1) * sizeof *list->items);
    list->count--;
    return series;
}

bool imd_series_list_add(ImdError **error, ImdSeriesList *list, ImdSeries *series)
{
    if (list == NULL || series == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "series list: nothing to add");
        return false;
    }
    if (!imd__grow(error, (void **)&list->items, &list->capacity, list->count + 1,
                   sizeof *list->items)) {
        return false;
    }
    list->items[list->count++] = series;
    return true;
}

size_t imd_series_list_failure_count(const ImdSeriesList *list)
{
    return list != NULL ? list->failure_count : 0;
}

const ImdError *imd_series_list_failure(const ImdSeriesList *list, size_t index)
{
    return list != NULL && index < list->failure_count ? list->failures[index] : NULL;
}

bool imd_series_list_add_failure(ImdError **error, ImdSeriesList *list, ImdError *failure)
{
    if (list == NULL || failure == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "series list: no failure to add");
        return false;
    }
    if (!imd__grow(error, (void **)&list->failures, &list->failure_capacity,
                   list->failure_count + 1, sizeof *list->failures)) {
        return false;
    }
    list->failures[list->failure_count++] = failure;
    return true;
}

bool imd_series_list_move_failures(ImdError **error, ImdSeriesList *to, ImdSeriesList *from)
{
    while (from != NULL && from->failure_count > 0) {
        if (!imd_series_list_add_failure(error, to, from->failures[0])) {
            return false;
        }
        memmove(from->failures, from->failures + 1,
                (from->failure_count - 1) * sizeof *from->failures);
        from->failure_count--;
    }
    return true;
}

/* A finished series goes to a streaming read's consumer, else into `list`
 * (here in the model, not in the context: the context is the base layer and
 * knows no series lists). */
bool imd_context_emit_series(ImdError **error, const ImdContext *context, ImdSeriesList *list,
                             ImdSeries *series)
{
    if (series == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "emit: no series");
        return false;
    }
    bool (*sink)(ImdError **, void *, ImdSeries *);
    void *user;
    if (imd__context_sink(context, &sink, &user)) {
        return sink(error, user, series);
    }
    if (!imd_series_list_add(error, list, series)) {
        imd_series_destroy(series);
        return false;
    }
    return true;
}
