/* stats.c: minimum, maximum and sum of a series' values. */
#include "model_internal.h"

#include <math.h>

/*
 * Running statistics. The sum is compensated (Neumaier) so that summing
 * millions of voxels keeps float64 accuracy; a plain sum runs alongside and
 * is the answer once the sum is no longer finite, where compensation would
 * turn inf - inf into NaN.
 */
typedef struct Accumulator {
    double min, max;
    double sum, compensation, plain;
    size_t count;
} Accumulator;

static void accumulate(Accumulator *acc, double value)
{
    if (!isnan(value)) {
        /* NaN is skipped for min and max (numpy's nanmin/nanmax). */
        if (isnan(acc->min) || value < acc->min) {
            acc->min = value;
        }
        if (isnan(acc->max) || value > acc->max) {
            acc->max = value;
        }
    }
    double total = acc->sum + value;
    if (fabs(acc->sum) >= fabs(value)) {
        acc->compensation += (acc->sum - total) + value;
    } else {
        acc->compensation += (value - total) + acc->sum;
    }
    acc->sum = total;
    acc->plain += value;
    acc->count++;
}

static double load_double(const unsigned char *bytes, size_t index)
{
    double value;
    memcpy(&value, bytes + index * sizeof value, sizeof value);
    return value;
}

static double load_float(const unsigned char *bytes, size_t index)
{
    float value;
    memcpy(&value, bytes + index * sizeof value, sizeof value);
    return value;
}

/* Value `index` as a double (complex: the real part); 64-bit integers round
 * above 2^53, as the double fields of ImdStats must. */
static double load_value(ImdDType dtype, const unsigned char *bytes, size_t index)
{
    switch (dtype) {
    case IMD_DTYPE_BOOL:
        return bytes[index] != 0 ? 1.0 : 0.0;
    case IMD_DTYPE_UINT8:
    case IMD_DTYPE_RGB8: /* one channel: the caller indexes channels */
        return bytes[index];
    case IMD_DTYPE_INT8: {
        int8_t value;
        memcpy(&value, bytes + index, 1);
        return value;
    }
    case IMD_DTYPE_UINT16: {
        uint16_t value;
        memcpy(&value, bytes + index * 2, 2);
        return value;
    }
    case IMD_DTYPE_INT16: {
        int16_t value;
        memcpy(&value, bytes + index * 2, 2);
        return value;
    }
    case IMD_DTYPE_UINT32: {
        uint32_t value;
        memcpy(&value, bytes + index * 4, 4);
        return value;
    }
    case IMD_DTYPE_INT32: {
        int32_t value;
        memcpy(&value, bytes + index * 4, 4);
        return value;
    }
    case IMD_DTYPE_UINT64: {
        uint64_t value;
        memcpy(&value, bytes + index * 8, 8);
        return (double)value;
    }
    case IMD_DTYPE_INT64: {
        int64_t value;
        memcpy(&value, bytes + index * 8, 8);
        return (double)value;
    }
    case IMD_DTYPE_FLOAT32:
        return load_float(bytes, index);
    case IMD_DTYPE_FLOAT64:
        return load_double(bytes, index);
    case IMD_DTYPE_COMPLEX64:
        return load_float(bytes, 2 * index);
    case IMD_DTYPE_COMPLEX128:
        return load_double(bytes, 2 * index);
    default:
        return NAN;
    }
}

bool imd_series_stats(ImdError **error, const ImdSeries *series, ImdStats *stats)
{
    if (series == NULL || stats == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "stats need a series and a result");
        return false;
    }
    if (!imd_dtype_is_valid(series->dtype)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "series has invalid element type %d",
                      (int)series->dtype);
        return false;
    }
    size_t voxels, values;
    size_t per_voxel = series->dtype == IMD_DTYPE_RGB8 ? 3 : 1; /* every channel counts */
    if (!imd__shape_count(series->ndim, series->shape, &voxels) ||
        !imd__mul_size(voxels, per_voxel, &values)) {
        imd_error_set(error, IMD_ERR_LIMIT, "series is too large for statistics");
        return false;
    }
    if (series->data == NULL && values > 0) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "series has no data for statistics");
        return false;
    }
    Accumulator acc = {NAN, NAN, 0.0, 0.0, 0.0, 0};
    const unsigned char *bytes = series->data;
    for (size_t i = 0; i < values; i++) {
        accumulate(&acc, load_value(series->dtype, bytes, i));
    }
    stats->min = acc.min;
    stats->max = acc.max;
    stats->sum = isfinite(acc.plain) ? acc.sum + acc.compensation : acc.plain;
    stats->count = acc.count;
    return true;
}
