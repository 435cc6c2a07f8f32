/*
 * axis.c: uniform and variable axes (the original's UniformAxis,
 * UniformLengthAxis and VariableAxis, behaviour.md §1.4).
 */
#include "model_internal.h"

#include <math.h>

/* ---- values ------------------------------------------------------------ */

ImdValue imd_value_number(double number)
{
    ImdValue value = {{0}, 1, IMD_VALUE_NUMBER};
    value.v[0] = number;
    return value;
}

ImdValue imd_value_vector(const double *numbers, size_t count)
{
    ImdValue value = {{0}, 0, IMD_VALUE_VECTOR};
    /* Documented as 0..3 numbers: a direction. Extra numbers are dropped
     * rather than overrun v[]; no numbers means the empty vector (b = 0). */
    if (numbers == NULL) {
        count = 0;
    }
    if (count > IMD_VALUE_MAX - 1) {
        count = IMD_VALUE_MAX - 1;
    }
    for (size_t i = 0; i < count; i++) {
        value.v[i] = numbers[i];
    }
    value.count = (uint8_t)count;
    return value;
}

ImdValue imd_value_b_vector(double b, const double *direction, size_t count)
{
    ImdValue value = {{0}, 1, IMD_VALUE_B_VECTOR};
    value.v[0] = b;
    if (direction == NULL) {
        count = 0;
    }
    if (count > IMD_VALUE_MAX - 1) {
        count = IMD_VALUE_MAX - 1;
    }
    for (size_t i = 0; i < count; i++) {
        value.v[1 + i] = direction[i];
    }
    value.count = (uint8_t)(1 + count);
    return value;
}

/* numpy.isclose, made symmetric so that equal(a, b) == equal(b, a). */
static bool numbers_close(double a, double b, double rtol, double atol)
{
    if (a == b) {
        return true; /* also equal infinities */
    }
    if (!isfinite(a) || !isfinite(b)) {
        return false;
    }
    double scale = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= atol + rtol * scale;
}

bool imd_value_equal(const ImdValue *a, const ImdValue *b, double rtol, double atol)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    if (a->kind != b->kind || a->count != b->count || a->count > IMD_VALUE_MAX) {
        return false;
    }
    for (size_t i = 0; i < a->count; i++) {
        if (!numbers_close(a->v[i], b->v[i], rtol, atol)) {
            return false;
        }
    }
    return true;
}

/* ---- units ------------------------------------------------------------- */

const char *imd__axis_default_unit(const char *name)
{
    static const struct {
        const char *name, *unit;
    } units[] = {
        {"slice", "mm"}, {"row", "mm"}, {"column", "mm"},  {"time", "s"},
        {"triggertime", "s"}, {"te", "ms"}, {"b", "s/mm2"}, {"fa", "deg"},
    };
    if (name == NULL) {
        return "";
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(name, units[i].name) == 0) {
            return units[i].unit;
        }
    }
    return "";
}

/* ---- creation and release ---------------------------------------------- */

void imd_axis_destroy(ImdAxis *axis)
{
    if (axis == NULL) {
        return;
    }
    if (axis->strings != NULL) {
        for (size_t i = 0; i < axis->length; i++) {
            free(axis->strings[i]);
        }
        free(axis->strings);
    }
    free(axis->values);
    free(axis->name);
    free(axis->unit);
    free(axis);
}

static bool check_name(ImdError **error, const char *name)
{
    if (name == NULL || name[0] == '\0') {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "an axis needs a non-empty name");
        return false;
    }
    return true;
}

/* A named axis without values; the caller fills in the rest. */
static ImdAxis *axis_new(ImdError **error, ImdAxisKind kind, const char *name,
                         ImdValueKind value_kind, size_t length)
{
    if (!check_name(error, name)) {
        return NULL;
    }
    ImdAxis *axis = imd__calloc(error, 1, sizeof *axis);
    if (axis == NULL) {
        return NULL;
    }
    axis->kind = kind;
    axis->value_kind = value_kind;
    axis->length = length;
    axis->name = imd__strdup(error, name);
    axis->unit = axis->name != NULL ? imd__strdup(error, imd__axis_default_unit(name)) : NULL;
    if (axis->unit == NULL) {
        imd_axis_destroy(axis);
        return NULL;
    }
    return axis;
}

/* Allocate axis->values for axis->length entries (calloc checks the product). */
static bool alloc_values(ImdError **error, ImdAxis *axis)
{
    axis->values = imd__calloc(error, axis->length, sizeof *axis->values);
    return axis->values != NULL;
}

/* Allocate axis->strings: zeroed, so destroy can free a partly filled array. */
static bool alloc_strings(ImdError **error, ImdAxis *axis)
{
    axis->strings = imd__calloc(error, axis->length, sizeof *axis->strings);
    return axis->strings != NULL;
}

ImdAxis *imd_axis_create_uniform(ImdError **error, const char *name, double start, double step,
                                 size_t length)
{
    if (!check_name(error, name)) {
        return NULL;
    }
    if (!isfinite(start) || !isfinite(step)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "axis \"%s\": start (%g) and step (%g) must be finite", name, start, step);
        return NULL;
    }
    ImdAxis *axis = axis_new(error, IMD_AXIS_UNIFORM, name, IMD_VALUE_NUMBER, length);
    if (axis != NULL) {
        axis->start = start;
        axis->step = step;
    }
    return axis;
}

ImdAxis *imd_axis_create_numbers(ImdError **error, const char *name, const double *values,
                                 size_t length)
{
    if (!check_name(error, name)) {
        return NULL;
    }
    if (values == NULL && length > 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "axis \"%s\": %zu values but no array", name,
                      length);
        return NULL;
    }
    ImdAxis *axis = axis_new(error, IMD_AXIS_VARIABLE, name, IMD_VALUE_NUMBER, length);
    if (axis == NULL || !alloc_values(error, axis)) {
        imd_axis_destroy(axis);
        return NULL;
    }
    for (size_t i = 0; i < length; i++) {
        axis->values[i] = imd_value_number(values[i]);
    }
    return axis;
}

/* A value as stored: unused numbers zeroed; false when it cannot be stored. */
static bool normalise_value(const ImdValue *in, ImdValue *out)
{
    size_t count = in->count;
    switch ((ImdValueKind)in->kind) {
    case IMD_VALUE_NUMBER:
        count = 1; /* a number is v[0], whatever count says */
        break;
    case IMD_VALUE_VECTOR:
        if (count > IMD_VALUE_MAX) {
            return false;
        }
        break;
    case IMD_VALUE_B_VECTOR:
        if (count < 1 || count > IMD_VALUE_MAX) {
            return false; /* a b-vector always has its b */
        }
        break;
    case IMD_VALUE_STRING:
    default:
        return false;
    }
    *out = (ImdValue){{0}, (uint8_t)count, in->kind};
    for (size_t i = 0; i < count; i++) {
        out->v[i] = in->v[i];
    }
    return true;
}

ImdAxis *imd_axis_create_variable(ImdError **error, const char *name, const ImdValue *values,
                                  size_t length)
{
    if (!check_name(error, name)) {
        return NULL;
    }
    if (values == NULL && length > 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "axis \"%s\": %zu values but no array", name,
                      length);
        return NULL;
    }
    /* One kind per axis, so that the step rule and resizing see like values. */
    ImdValueKind kind = length > 0 ? (ImdValueKind)values[0].kind : IMD_VALUE_NUMBER;
    ImdAxis *axis = axis_new(error, IMD_AXIS_VARIABLE, name, kind, length);
    if (axis == NULL || !alloc_values(error, axis)) {
        imd_axis_destroy(axis);
        return NULL;
    }
    for (size_t i = 0; i < length; i++) {
        if (values[i].kind != (uint8_t)kind || !normalise_value(&values[i], &axis->values[i])) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "axis \"%s\": value %zu has kind %u and count %u (axis kind %u; "
                          "strings need imd_axis_create_strings)",
                          name, i, (unsigned)values[i].kind, (unsigned)values[i].count,
                          (unsigned)kind);
            imd_axis_destroy(axis);
            return NULL;
        }
    }
    return axis;
}

ImdAxis *imd_axis_create_strings(ImdError **error, const char *name, const char *const *values,
                                 size_t length)
{
    if (!check_name(error, name)) {
        return NULL;
    }
    if (values == NULL && length > 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "axis \"%s\": %zu strings but no array", name,
                      length);
        return NULL;
    }
    for (size_t i = 0; i < length; i++) {
        if (values[i] == NULL) {
            imd_error_set(error, IMD_ERR_INVALID_ARG, "axis \"%s\": string %zu is NULL", name, i);
            return NULL;
        }
    }
    ImdAxis *axis = axis_new(error, IMD_AXIS_VARIABLE, name, IMD_VALUE_STRING, length);
    if (axis == NULL || !alloc_strings(error, axis)) {
        imd_axis_destroy(axis);
        return NULL;
    }
    for (size_t i = 0; i < length; i++) {
        axis->strings[i] = imd__strdup(error, values[i]);
        if (axis->strings[i] == NULL) {
            imd_axis_destroy(axis);
            return NULL;
        }
    }
    return axis;
}

/*
 * A new axis like `axis` (name, unit, kind, start, step) with room for
 * `length` values, not yet filled in.
 */
static ImdAxis *axis_like(ImdError **error, const ImdAxis *axis, size_t length)
{
    ImdAxis *made = axis_new(error, axis->kind, axis->name, axis->value_kind, length);
    if (made == NULL) {
        return NULL;
    }
    made->start = axis->start;
    made->step = axis->step;
    if (strcmp(made->unit, axis->unit) != 0) {
        free(made->unit);
        made->unit = imd__strdup(error, axis->unit);
        if (made->unit == NULL) {
            imd_axis_destroy(made);
            return NULL;
        }
    }
    bool ok = true;
    if (axis->kind == IMD_AXIS_VARIABLE) {
        ok = axis->value_kind == IMD_VALUE_STRING ? alloc_strings(error, made)
                                                  : alloc_values(error, made);
    }
    if (!ok) {
        imd_axis_destroy(made);
        return NULL;
    }
    return made;
}

/* Copy value `from` of `axis` to index `to` of `made` (made from axis_like). */
static bool copy_value(ImdError **error, ImdAxis *made, size_t to, const ImdAxis *axis,
                       size_t from)
{
    if (axis->value_kind == IMD_VALUE_STRING) {
        made->strings[to] = imd__strdup(error, axis->strings[from]);
        return made->strings[to] != NULL;
    }
    made->values[to] = axis->values[from];
    return true;
}

static bool check_axis(ImdError **error, const ImdAxis *axis)
{
    if (axis == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "no axis given");
        return false;
    }
    return true;
}

ImdAxis *imd_axis_clone(ImdError **error, const ImdAxis *axis)
{
    if (!check_axis(error, axis)) {
        return NULL;
    }
    ImdAxis *made = axis_like(error, axis, axis->length);
    if (made == NULL || axis->kind == IMD_AXIS_UNIFORM) {
        return made;
    }
    for (size_t i = 0; i < axis->length; i++) {
        if (!copy_value(error, made, i, axis, i)) {
            imd_axis_destroy(made);
            return NULL;
        }
    }
    return made;
}

/* ---- getters and setters ----------------------------------------------- */

ImdAxisKind imd_axis_kind(const ImdAxis *axis)
{
    return axis != NULL ? axis->kind : (ImdAxisKind)0;
}

const char *imd_axis_name(const ImdAxis *axis)
{
    return axis != NULL ? axis->name : NULL;
}

const char *imd_axis_unit(const ImdAxis *axis)
{
    return axis != NULL && axis->unit != NULL ? axis->unit : "";
}

bool imd_axis_set_name(ImdError **error, ImdAxis *axis, const char *name)
{
    if (!check_axis(error, axis) || !check_name(error, name)) {
        return false;
    }
    char *copy = imd__strdup(error, name);
    if (copy == NULL) {
        return false;
    }
    /* The unit stays: renaming "time" to "triggertime" keeps seconds, and a
     * unit the caller set must not be lost. */
    free(axis->name);
    axis->name = copy;
    return true;
}

bool imd_axis_set_unit(ImdError **error, ImdAxis *axis, const char *unit)
{
    if (!check_axis(error, axis)) {
        return false;
    }
    char *copy = imd__strdup(error, unit != NULL ? unit : ""); /* NULL: unknown */
    if (copy == NULL) {
        return false;
    }
    free(axis->unit);
    axis->unit = copy;
    return true;
}

size_t imd_axis_length(const ImdAxis *axis)
{
    return axis != NULL ? axis->length : 0;
}

ImdValueKind imd_axis_value_kind(const ImdAxis *axis)
{
    if (axis == NULL) {
        return (ImdValueKind)0;
    }
    return axis->kind == IMD_AXIS_UNIFORM ? IMD_VALUE_NUMBER : axis->value_kind;
}

double imd_axis_start(const ImdAxis *axis)
{
    if (axis == NULL || axis->length == 0) {
        return 0.0;
    }
    if (axis->kind == IMD_AXIS_UNIFORM) {
        return axis->start;
    }
    return axis->value_kind == IMD_VALUE_NUMBER ? axis->values[0].v[0] : 0.0;
}

bool imd_axis_step(const ImdAxis *axis, double *step)
{
    double found = 1.0;
    if (axis == NULL) {
        return false;
    }
    if (axis->kind == IMD_AXIS_UNIFORM) {
        found = axis->step;
    } else if (axis->length >= 2) {
        /* The original's VariableAxis.step (behaviour.md §1.4). */
        if (axis->value_kind != IMD_VALUE_NUMBER) {
            return false;
        }
        found = axis->values[1].v[0] - axis->values[0].v[0];
        if (!(fabs(found) >= 1e-8)) { /* also refuses NaN */
            return false;
        }
        for (size_t i = 2; i < axis->length; i++) {
            double diff = axis->values[i].v[0] - axis->values[i - 1].v[0];
            if (!(fabs(diff - found) <= 1e-4 * fabs(found))) {
                return false;
            }
        }
    }
    if (step != NULL) {
        *step = found;
    }
    return true;
}

bool imd_axis_value(const ImdAxis *axis, size_t index, ImdValue *value)
{
    if (axis == NULL || index >= axis->length) {
        return false;
    }
    ImdValue got;
    if (axis->kind == IMD_AXIS_UNIFORM) {
        got = imd_value_number(axis->start + (double)index * axis->step);
    } else if (axis->value_kind == IMD_VALUE_STRING) {
        got = (ImdValue){{0}, 0, IMD_VALUE_STRING};
    } else {
        got = axis->values[index];
    }
    if (value != NULL) {
        *value = got;
    }
    return true;
}

double imd_axis_number(const ImdAxis *axis, size_t index)
{
    ImdValue value;
    if (!imd_axis_value(axis, index, &value) || value.kind != IMD_VALUE_NUMBER) {
        return NAN;
    }
    return value.v[0];
}

const char *imd_axis_string(const ImdAxis *axis, size_t index)
{
    if (axis == NULL || axis->kind != IMD_AXIS_VARIABLE ||
        axis->value_kind != IMD_VALUE_STRING || index >= axis->length) {
        return NULL;
    }
    return axis->strings[index];
}

/* ---- slicing, taking, resizing ------------------------------------------ */

ImdAxis *imd_axis_slice(ImdError **error, const ImdAxis *axis, size_t start, int64_t step,
                        size_t count)
{
    if (!check_axis(error, axis)) {
        return NULL;
    }
    if (step == 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "axis \"%s\": slice step is 0", axis->name);
        return NULL;
    }
    /* Every index start + i*step (i < count) must lie in [0, length). The
     * indices are distinct, so count <= length, and with two or more values
     * |step| < length, which bounds the span. */
    uint64_t magnitude = step > 0 ? (uint64_t)step : (uint64_t)(-(step + 1)) + 1u;
    size_t stride = 0, span = 0, last = 0;
    bool ok = count == 0 ? start <= axis->length : start < axis->length && count <= axis->length;
    if (ok && count > 1) {
        ok = magnitude < (uint64_t)axis->length;
        stride = (size_t)magnitude;
        ok = ok && imd__mul_size(count - 1, stride, &span);
        if (ok && step > 0) {
            ok = imd__add_size(start, span, &last) && last < axis->length;
        } else if (ok) {
            ok = span <= start;
        }
    }
    if (!ok) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "axis \"%s\" of length %zu: slice of %zu from %zu by %lld is out of range",
                      axis->name, axis->length, count, start, (long long)step);
        return NULL;
    }
    ImdAxis *made = axis_like(error, axis, count);
    if (made == NULL) {
        return NULL;
    }
    if (axis->kind == IMD_AXIS_UNIFORM) {
        made->start = axis->start + (double)start * axis->step;
        made->step = axis->step * (double)step;
        return made;
    }
    size_t index = start;
    for (size_t i = 0; i < count; i++) {
        if (!copy_value(error, made, i, axis, index)) {
            imd_axis_destroy(made);
            return NULL;
        }
        /* In range by the check above; after the last value the (unsigned,
         * well-defined) result is not used. */
        index = step > 0 ? index + stride : index - stride;
    }
    return made;
}

ImdAxis *imd_axis_take(ImdError **error, const ImdAxis *axis, const size_t *indices,
                       size_t count)
{
    if (!check_axis(error, axis)) {
        return NULL;
    }
    if (indices == NULL && count > 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "axis \"%s\": %zu indices but no array",
                      axis->name, count);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        if (indices[i] >= axis->length) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "axis \"%s\" of length %zu: index %zu is out of range", axis->name,
                          axis->length, indices[i]);
            return NULL;
        }
    }
    /* Any list of indices gives a variable axis, as in the original. */
    ImdAxis *made = NULL;
    if (axis->kind == IMD_AXIS_UNIFORM) {
        ImdAxis shape = *axis;
        shape.kind = IMD_AXIS_VARIABLE;
        shape.value_kind = IMD_VALUE_NUMBER;
        made = axis_like(error, &shape, count);
        for (size_t i = 0; made != NULL && i < count; i++) {
            made->values[i] = imd_value_number(axis->start + (double)indices[i] * axis->step);
        }
        return made;
    }
    made = axis_like(error, axis, count);
    for (size_t i = 0; made != NULL && i < count; i++) {
        if (!copy_value(error, made, i, axis, indices[i])) {
            imd_axis_destroy(made);
            return NULL;
        }
    }
    return made;
}

ImdAxis *imd_axis_resize(ImdError **error, const ImdAxis *axis, size_t length)
{
    if (!check_axis(error, axis)) {
        return NULL;
    }
    /* A uniform axis of length n has n values: the original's copy(n) gives
     * n + 1 (behaviour.md §12), which we do not copy. */
    if (axis->kind == IMD_AXIS_UNIFORM) {
        ImdAxis *made = axis_like(error, axis, length);
        return made;
    }
    if (length > axis->length && axis->value_kind != IMD_VALUE_NUMBER) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "axis \"%s\": cannot extend an axis of non-numeric values from %zu to %zu",
                      axis->name, axis->length, length);
        return NULL;
    }
    ImdAxis *made = axis_like(error, axis, length);
    if (made == NULL) {
        return NULL;
    }
    size_t kept = length < axis->length ? length : axis->length;
    for (size_t i = 0; i < kept; i++) {
        if (!copy_value(error, made, i, axis, i)) {
            imd_axis_destroy(made);
            return NULL;
        }
    }
    if (length > kept) {
        /* Extend by the last difference; with fewer than two values there is
         * none, so use 1, the step such an axis reports (imd_axis_step). */
        double last = kept > 0 ? axis->values[kept - 1].v[0] : 0.0;
        double diff = kept >= 2 ? last - axis->values[kept - 2].v[0] : 1.0;
        if (kept == 0) {
            last = -diff; /* so that value 0 is 0 */
        }
        for (size_t i = kept; i < length; i++) {
            made->values[i] = imd_value_number(last + (double)(i - kept + 1) * diff);
        }
    }
    return made;
}
