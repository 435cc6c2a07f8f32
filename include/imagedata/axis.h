/**
 * @file axis.h
 * Axes give each dimension of a series a name and coordinates, as the
 * original's UniformAxis/UniformLengthAxis and VariableAxis do.
 *
 * - A uniform axis has start, step and length: value(i) = start + i * step.
 * - A variable axis holds one value per index: numbers, vectors (b-vectors,
 *   possibly empty for b = 0), (b, b-vector) pairs, or strings.
 *
 * Names follow the original: "slice", "row", "column" for the spatial axes,
 * tag axes named after their input order ("time", "b", "te", ...).
 */
#ifndef IMAGEDATA_AXIS_H
#define IMAGEDATA_AXIS_H

#include <imagedata/common.h>

IMD_BEGIN_DECLS

typedef enum ImdAxisKind {
    IMD_AXIS_UNIFORM = 1,
    IMD_AXIS_VARIABLE = 2
} ImdAxisKind;

/** Most numbers one value holds: a (b, bx, by, bz) diffusion pair. */
#define IMD_VALUE_MAX 4

typedef enum ImdValueKind {
    IMD_VALUE_NUMBER = 1,   /**< v[0] */
    IMD_VALUE_VECTOR = 2,   /**< v[0..count-1]; count 0 is the empty vector */
    IMD_VALUE_B_VECTOR = 3, /**< v[0] = b, v[1..count-1] = direction (count 1: none) */
    IMD_VALUE_STRING = 4    /**< only on axes made with imd_axis_create_strings() */
} ImdValueKind;

/** One coordinate or tag value. */
typedef struct ImdValue {
    double v[IMD_VALUE_MAX];
    uint8_t count; /**< numbers used in v */
    uint8_t kind;  /**< ImdValueKind */
} ImdValue;

/** A number as an ImdValue. */
IMD_API ImdValue imd_value_number(double number);
/** A vector of `count` numbers (0..3) as an ImdValue. */
IMD_API ImdValue imd_value_vector(const double *numbers, size_t count);
/** A (b, direction) pair; `direction` may be NULL for none. */
IMD_API ImdValue imd_value_b_vector(double b, const double *direction, size_t count);
/** Equality of two values: same kind and count, numbers within abs/rel tolerances. */
IMD_API bool imd_value_equal(const ImdValue *a, const ImdValue *b, double rtol, double atol);

/** A uniform axis. Errors: INVALID_ARG for an empty name or non-finite start/step. */
IMD_API IMD_NODISCARD ImdAxis *imd_axis_create_uniform(ImdError **error, const char *name,
                                                       double start, double step, size_t length);

/** A variable axis of numbers. The values are copied. */
IMD_API IMD_NODISCARD ImdAxis *imd_axis_create_numbers(ImdError **error, const char *name,
                                                       const double *values, size_t length);

/** A variable axis of any ImdValue kind but strings. The values are copied. */
IMD_API IMD_NODISCARD ImdAxis *imd_axis_create_variable(ImdError **error, const char *name,
                                                        const ImdValue *values, size_t length);

/** A variable axis of strings (e.g. a segmentation's labels). The strings are copied. */
IMD_API IMD_NODISCARD ImdAxis *imd_axis_create_strings(ImdError **error, const char *name,
                                                       const char *const *values, size_t length);

IMD_API IMD_NODISCARD ImdAxis *imd_axis_clone(ImdError **error, const ImdAxis *axis);
IMD_API void imd_axis_destroy(ImdAxis *axis);

IMD_API ImdAxisKind imd_axis_kind(const ImdAxis *axis);
IMD_API const char *imd_axis_name(const ImdAxis *axis);
/** The unit ("mm", "s", ...); "" when unknown. */
IMD_API const char *imd_axis_unit(const ImdAxis *axis);
IMD_API bool imd_axis_set_name(ImdError **error, ImdAxis *axis, const char *name);
IMD_API bool imd_axis_set_unit(ImdError **error, ImdAxis *axis, const char *unit);
IMD_API size_t imd_axis_length(const ImdAxis *axis);

/** The kind of the values (IMD_VALUE_NUMBER for a uniform axis). */
IMD_API ImdValueKind imd_axis_value_kind(const ImdAxis *axis);

/** The first value as a number; 0 for an empty or non-numeric axis. */
IMD_API double imd_axis_start(const ImdAxis *axis);

/**
 * The step. A uniform axis has its step. A variable axis follows the
 * original: 1 with fewer than two values; none (false) for non-numeric values
 * or a first difference below 1e-8; the first difference when every
 * difference agrees with it within 1e-4 (relative); otherwise none.
 */
IMD_API bool imd_axis_step(const ImdAxis *axis, double *step);

/** Value `index`; false when out of range. Strings give kind STRING and count 0. */
IMD_API bool imd_axis_value(const ImdAxis *axis, size_t index, ImdValue *value);

/** The number at `index`, NaN when out of range or not a number. */
IMD_API double imd_axis_number(const ImdAxis *axis, size_t index);

/** The string at `index` of a string axis; NULL otherwise. Borrowed. */
IMD_API const char *imd_axis_string(const ImdAxis *axis, size_t index);

/**
 * A new axis for the indices start, start+step, ... of `count` values
 * (the indices must already be normalised and in range; step may be negative).
 * A uniform axis stays uniform with start + start*step and step*step; a
 * variable axis keeps the chosen values.
 */
IMD_API IMD_NODISCARD ImdAxis *imd_axis_slice(ImdError **error, const ImdAxis *axis,
                                              size_t start, int64_t step, size_t count);

/** A variable axis of the values at `indices` (a numpy list index). */
IMD_API IMD_NODISCARD ImdAxis *imd_axis_take(ImdError **error, const ImdAxis *axis,
                                             const size_t *indices, size_t count);

/**
 * The axis resized to `length`: uniform axes keep start and step; variable
 * number axes are truncated or extended by the last difference. (The
 * original's UniformAxis.copy(n) gives n + 1 values: a bug not copied.)
 */
IMD_API IMD_NODISCARD ImdAxis *imd_axis_resize(ImdError **error, const ImdAxis *axis,
                                               size_t length);

IMD_END_DECLS

#endif
