/*
 * convert.c: shapes and element type conversion.
 *
 * Every conversion is defined for every input value: out-of-range values
 * saturate (C leaves float-to-integer overflow undefined, so we clamp before
 * converting), NaN becomes 0 in integer targets, and 64-bit integers move
 * between integer types without passing through double, which would round
 * values above 2^53.
 */
#include "model_internal.h"

#include <float.h>
#include <math.h>

void imd__strides(size_t ndim, const size_t *shape, size_t *strides)
{
    /* The shape's voxel count was checked when the series was made; the
     * trailing products are no larger, so they cannot overflow. */
    size_t stride = 1;
    for (size_t d = ndim; d-- > 0;) {
        strides[d] = stride;
        stride *= shape[d];
    }
}

bool imd__shape_count(size_t ndim, const size_t *shape, size_t *count)
{
    size_t product = 1; /* the empty product: a 0-d series has one voxel */
    for (size_t d = 0; d < ndim; d++) {
        if (!imd__mul_size(product, shape[d], &product)) {
            return false;
        }
    }
    *count = product;
    return true;
}

/*
 * One element on its way between types. Integers keep their exact value in
 * the widest integer of their signedness; everything else is a double
 * (complex: the real part).
 */
typedef enum ScalarKind { SCALAR_SIGNED = 1, SCALAR_UNSIGNED, SCALAR_FLOAT } ScalarKind;

typedef struct Scalar {
    ScalarKind kind;
    int64_t i;
    uint64_t u;
    double f;
} Scalar;

static Scalar scalar_signed(int64_t value)
{
    Scalar s = {SCALAR_SIGNED, value, 0, 0.0};
    return s;
}

static Scalar scalar_unsigned(uint64_t value)
{
    Scalar s = {SCALAR_UNSIGNED, 0, value, 0.0};
    return s;
}

static Scalar scalar_float(double value)
{
    Scalar s = {SCALAR_FLOAT, 0, 0, value};
    return s;
}

/* memcpy reads and writes: the data need not be aligned for its type. */
static double load_double(const void *src, size_t index)
{
    double value;
    memcpy(&value, (const char *)src + index * sizeof value, sizeof value);
    return value;
}

static float load_float(const void *src, size_t index)
{
    float value;
    memcpy(&value, (const char *)src + index * sizeof value, sizeof value);
    return value;
}

/* Element `index` of `src`; RGB is not a scalar and never comes here. */
static Scalar load_scalar(ImdDType from, const void *src, size_t index)
{
    const unsigned char *bytes = src;
    switch (from) {
    case IMD_DTYPE_BOOL:
        return scalar_unsigned(bytes[index] != 0);
    case IMD_DTYPE_UINT8:
        return scalar_unsigned(bytes[index]);
    case IMD_DTYPE_INT8: {
        int8_t value;
        memcpy(&value, bytes + index, 1);
        return scalar_signed(value);
    }
    case IMD_DTYPE_UINT16: {
        uint16_t value;
        memcpy(&value, bytes + index * 2, 2);
        return scalar_unsigned(value);
    }
    case IMD_DTYPE_INT16: {
        int16_t value;
        memcpy(&value, bytes + index * 2, 2);
        return scalar_signed(value);
    }
    case IMD_DTYPE_UINT32: {
        uint32_t value;
        memcpy(&value, bytes + index * 4, 4);
        return scalar_unsigned(value);
    }
    case IMD_DTYPE_INT32: {
        int32_t value;
        memcpy(&value, bytes + index * 4, 4);
        return scalar_signed(value);
    }
    case IMD_DTYPE_UINT64: {
        uint64_t value;
        memcpy(&value, bytes + index * 8, 8);
        return scalar_unsigned(value);
    }
    case IMD_DTYPE_INT64: {
        int64_t value;
        memcpy(&value, bytes + index * 8, 8);
        return scalar_signed(value);
    }
    case IMD_DTYPE_FLOAT32:
        return scalar_float(load_float(src, index));
    case IMD_DTYPE_FLOAT64:
        return scalar_float(load_double(src, index));
    case IMD_DTYPE_COMPLEX64:
        return scalar_float(load_float(src, 2 * index)); /* the real part */
    case IMD_DTYPE_COMPLEX128:
        return scalar_float(load_double(src, 2 * index));
    case IMD_DTYPE_RGB8:
    default:
        return scalar_unsigned(0);
    }
}

/*
 * The value saturated into [min, max] of a signed integer type. The float
 * bounds are exact powers of two (min = -2^k, max + 1 = 2^k), so the
 * comparisons are exact and the truncating conversion is always defined.
 */
static int64_t saturate_signed(Scalar s, int64_t min, int64_t max)
{
    switch (s.kind) {
    case SCALAR_SIGNED:
        return s.i < min ? min : s.i > max ? max : s.i;
    case SCALAR_UNSIGNED:
        return s.u > (uint64_t)max ? max : (int64_t)s.u;
    case SCALAR_FLOAT:
    default:
        if (isnan(s.f)) {
            return 0;
        }
        if (s.f <= (double)min) {
            return min;
        }
        if (s.f >= -(double)min) { /* max + 1 */
            return max;
        }
        return (int64_t)s.f; /* truncates toward zero */
    }
}

/* The same for an unsigned integer type of maximum `max` (2^k - 1). */
static uint64_t saturate_unsigned(Scalar s, uint64_t max)
{
    switch (s.kind) {
    case SCALAR_SIGNED:
        return s.i < 0 ? 0 : (uint64_t)s.i > max ? max : (uint64_t)s.i;
    case SCALAR_UNSIGNED:
        return s.u > max ? max : s.u;
    case SCALAR_FLOAT:
    default:
        if (isnan(s.f) || s.f <= 0.0) {
            return 0;
        }
        /* max + 1 as a double: exact, and for uint64 it is 2^64 itself. */
        if (s.f >= ((double)(max / 2 + 1)) * 2.0) {
            return max;
        }
        return (uint64_t)s.f;
    }
}

static double scalar_to_double(Scalar s)
{
    switch (s.kind) {
    case SCALAR_SIGNED:
        return (double)s.i;
    case SCALAR_UNSIGNED:
        return (double)s.u;
    case SCALAR_FLOAT:
    default:
        return s.f;
    }
}

/* A double as float32, finite values saturated at +-FLT_MAX (C leaves an
 * out-of-range conversion undefined); infinities and NaN carry over. */
static float double_to_float(double value)
{
    if (value > FLT_MAX && isfinite(value)) {
        return FLT_MAX;
    }
    if (value < -FLT_MAX && isfinite(value)) {
        return -FLT_MAX;
    }
    return (float)value;
}

static float scalar_to_float(Scalar s)
{
    switch (s.kind) {
    case SCALAR_SIGNED:
        return (float)s.i; /* direct, so it is rounded once */
    case SCALAR_UNSIGNED:
        return (float)s.u;
    case SCALAR_FLOAT:
    default:
        return double_to_float(s.f);
    }
}

static bool scalar_is_nonzero(Scalar s)
{
    switch (s.kind) {
    case SCALAR_SIGNED:
        return s.i != 0;
    case SCALAR_UNSIGNED:
        return s.u != 0;
    case SCALAR_FLOAT:
    default:
        return s.f != 0.0; /* NaN is true, as in numpy */
    }
}

#define STORE(type, value)                                                                 \
    do {                                                                                   \
        type stored_ = (type)(value);                                                      \
        memcpy(bytes + index * sizeof stored_, &stored_, sizeof stored_);                  \
    } while (0)

/* Store `s` as element `index` of `dst` (type `to`, not RGB). */
static void store_scalar(ImdDType to, void *dst, size_t index, Scalar s)
{
    unsigned char *bytes = dst;
    switch (to) {
    case IMD_DTYPE_BOOL:
        bytes[index] = scalar_is_nonzero(s) ? 1 : 0;
        break;
    case IMD_DTYPE_UINT8:
        bytes[index] = (unsigned char)saturate_unsigned(s, UINT8_MAX);
        break;
    case IMD_DTYPE_INT8:
        STORE(int8_t, saturate_signed(s, INT8_MIN, INT8_MAX));
        break;
    case IMD_DTYPE_UINT16:
        STORE(uint16_t, saturate_unsigned(s, UINT16_MAX));
        break;
    case IMD_DTYPE_INT16:
        STORE(int16_t, saturate_signed(s, INT16_MIN, INT16_MAX));
        break;
    case IMD_DTYPE_UINT32:
        STORE(uint32_t, saturate_unsigned(s, UINT32_MAX));
        break;
    case IMD_DTYPE_INT32:
        STORE(int32_t, saturate_signed(s, INT32_MIN, INT32_MAX));
        break;
    case IMD_DTYPE_UINT64:
        STORE(uint64_t, saturate_unsigned(s, UINT64_MAX));
        break;
    case IMD_DTYPE_INT64:
        STORE(int64_t, saturate_signed(s, INT64_MIN, INT64_MAX));
        break;
    case IMD_DTYPE_FLOAT32:
        STORE(float, scalar_to_float(s));
        break;
    case IMD_DTYPE_FLOAT64:
        STORE(double, scalar_to_double(s));
        break;
    case IMD_DTYPE_RGB8:
    case IMD_DTYPE_COMPLEX64:
    case IMD_DTYPE_COMPLEX128:
    default:
        break; /* handled by the caller */
    }
}

#undef STORE

/* complex64 <-> complex128: both parts, float32 saturated as for reals. */
static void convert_complex_pair(ImdDType from, const void *src, ImdDType to, void *dst,
                                 size_t index)
{
    double re, im;
    if (from == IMD_DTYPE_COMPLEX64) {
        re = load_float(src, 2 * index);
        im = load_float(src, 2 * index + 1);
    } else {
        re = load_double(src, 2 * index);
        im = load_double(src, 2 * index + 1);
    }
    unsigned char *bytes = dst;
    if (to == IMD_DTYPE_COMPLEX64) {
        float parts[2] = {double_to_float(re), double_to_float(im)};
        memcpy(bytes + index * sizeof parts, parts, sizeof parts);
    } else {
        double parts[2] = {re, im};
        memcpy(bytes + index * sizeof parts, parts, sizeof parts);
    }
}

bool imd__convert_elements(ImdDType from, const void *src, ImdDType to, void *dst, size_t count)
{
    if (!imd_dtype_is_valid(from) || !imd_dtype_is_valid(to)) {
        return false;
    }
    if (from == to) {
        size_t bytes;
        if (!imd__mul_size(count, imd_dtype_size(from), &bytes)) {
            return false;
        }
        if (bytes > 0) {
            memmove(dst, src, bytes);
        }
        return true;
    }
    if (from == IMD_DTYPE_RGB8) {
        return false; /* which channel would a scalar be? the caller decides */
    }
    unsigned char *out = dst;
    bool complex_source = imd_dtype_is_complex(from);
    for (size_t i = 0; i < count; i++) {
        if (to == IMD_DTYPE_RGB8) {
            uint8_t grey = (uint8_t)saturate_unsigned(load_scalar(from, src, i), UINT8_MAX);
            out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = grey;
        } else if (imd_dtype_is_complex(to) && complex_source) {
            convert_complex_pair(from, src, to, dst, i);
        } else if (to == IMD_DTYPE_COMPLEX64) {
            float parts[2] = {scalar_to_float(load_scalar(from, src, i)), 0.0f};
            memcpy(out + i * sizeof parts, parts, sizeof parts);
        } else if (to == IMD_DTYPE_COMPLEX128) {
            double parts[2] = {scalar_to_double(load_scalar(from, src, i)), 0.0};
            memcpy(out + i * sizeof parts, parts, sizeof parts);
        } else {
            store_scalar(to, dst, i, load_scalar(from, src, i));
        }
    }
    return true;
}

ImdSeries *imd_series_convert(ImdError **error, const ImdSeries *series, ImdDType dtype)
{
    if (series == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "no series to convert");
        return NULL;
    }
    if (!imd_dtype_is_valid(dtype)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "cannot convert to invalid element type %d",
                      (int)dtype);
        return NULL;
    }
    if (series->dtype == IMD_DTYPE_RGB8 && dtype != IMD_DTYPE_RGB8) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot convert %s to %s: colour has no single value per voxel "
                      "(take a channel first)",
                      imd_dtype_name(series->dtype), imd_dtype_name(dtype));
        return NULL;
    }
    size_t count;
    if (!imd__shape_count(series->ndim, series->shape, &count)) {
        imd_error_set(error, IMD_ERR_LIMIT, "series is too large to convert");
        return NULL;
    }
    if (series->data == NULL && count > 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "series has no data to convert");
        return NULL;
    }
    ImdSeries *out = imd_series_create(error, dtype, series->ndim, series->shape);
    if (out == NULL) {
        return NULL;
    }
    if (!imd__convert_elements(series->dtype, series->data, dtype, out->data, count)) {
        imd_error_set(error, IMD_ERR_INTERNAL, "conversion from %s to %s failed",
                      imd_dtype_name(series->dtype), imd_dtype_name(dtype));
        imd_series_destroy(out);
        return NULL;
    }
    for (size_t d = 0; d < series->ndim; d++) {
        if (series->axes[d] == NULL) {
            continue;
        }
        ImdAxis *axis = imd_axis_clone(error, series->axes[d]);
        if (axis == NULL || !imd_series_set_axis(error, out, d, axis)) {
            imd_axis_destroy(axis); /* set_axis takes it only on success */
            imd_series_destroy(out);
            return NULL;
        }
    }
    if (series->header != NULL) {
        ImdHeader *header = imd_header_clone(error, series->header);
        if (header == NULL) {
            imd_series_destroy(out);
            return NULL;
        }
        imd_header_destroy(out->header);
        out->header = header;
    }
    return out;
}
