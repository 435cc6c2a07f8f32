/*
 * model_internal.h: the layout of the model objects, shared by the files of
 * src/model (and the JSON description). Not installed.
 */
#ifndef IMAGEDATA_MODEL_INTERNAL_H
#define IMAGEDATA_MODEL_INTERNAL_H

#include "internal.h"

struct ImdAxis {
    ImdAxisKind kind;
    char *name;
    char *unit;           /* "" when unknown */
    size_t length;
    double start, step;   /* uniform axes */
    ImdValueKind value_kind;
    ImdValue *values;     /* variable axes of numbers, vectors, b-vectors: length entries */
    char **strings;       /* variable axes of strings: length entries */
};

struct ImdSeries {
    ImdDType dtype;
    size_t ndim;
    size_t shape[IMD_MAX_DIMS];
    void *data;
    ImdReleaseFn *release; /* NULL: owned by the series (malloc) when owns_data */
    void *release_user;
    bool owns_data;
    ImdAxis *axes[IMD_MAX_DIMS];
    ImdHeader *header;
};

/* Free the series' data (as its owner would) and take `data` (malloc'd, same size). */
void imd__series_replace_data(ImdSeries *series, void *data);

/*
 * Put `series` onto `reference`'s voxel grid when the two hold the same
 * voxels up to a permutation and flips of the spatial axes (src/model/
 * regrid.c): the voxels are moved and the spatial shape and axes become the
 * reference's; the caller then takes the reference's geometry. `moved` says
 * whether anything changed (nothing when the grids are already the same or
 * do not map onto each other).
 */
bool imd__series_onto_grid(ImdError **error, ImdSeries *series, const ImdSeries *reference,
                           bool *moved);

/* Default unit for an axis of this name: "mm" for slice/row/column, "s" for time, ... */
const char *imd__axis_default_unit(const char *name);

/* Strides in elements for a C-contiguous shape. */
void imd__strides(size_t ndim, const size_t *shape, size_t *strides);

/* Voxel count of a shape; false on overflow. */
bool imd__shape_count(size_t ndim, const size_t *shape, size_t *count);

/*
 * Convert `count` elements from `src` (type `from`) into `dst` (type `to`).
 * Rules (docs/model.md): integers and floats saturate at the target's range,
 * floats to integers truncate toward zero, NaN becomes 0, complex to real
 * keeps the real part, scalar to RGB replicates the saturated value; RGB to
 * anything but RGB is refused (returns false, nothing written).
 */
bool imd__convert_elements(ImdDType from, const void *src, ImdDType to, void *dst, size_t count);

/* The clone/destroy operations of a header's template dataset (NULL when none). */
const ImdTemplateOps *imd__header_template_ops(const ImdHeader *header);

/*
 * Copy what a header keeps of one image, the SOPInstanceUID and (with_dataset)
 * its own data set, from cell (from_slice, from_index) of `from` into cell
 * (slice, index) of `to` (sub-setting, template=).
 */
bool imd__header_copy_instance(ImdError **error, ImdHeader *to, size_t slice,
                               const size_t *index, const ImdHeader *from, size_t from_slice,
                               const size_t *from_index, bool with_dataset);

#endif
