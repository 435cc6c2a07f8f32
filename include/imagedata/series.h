/**
 * @file series.h
 * ImdSeries: an N-dimensional array (up to IMD_MAX_DIMS) that keeps its
 * geometry and its DICOM identity, the C shape of the original's `Series`.
 *
 * Data is C-contiguous in [tag..., slice, row, column] order (numpy's
 * layout): 4D is [tag, slice, row, column], 3D [slice, row, column], 2D
 * [row, column]. Every dimension has an axis (axis.h) and the series has one
 * header (header.h).
 */
#ifndef IMAGEDATA_SERIES_H
#define IMAGEDATA_SERIES_H

#include <imagedata/axis.h>
#include <imagedata/common.h>
#include <imagedata/header.h>
#include <imagedata/types.h>

IMD_BEGIN_DECLS

/** Release callback for wrapped memory. */
typedef void ImdReleaseFn(void *data, void *user);

/**
 * A zero-filled series with default axes: the last min(3, ndim) dimensions
 * are "slice", "row", "column" (uniform, start 0, step 1), earlier ones
 * "unknown<k>", and the first is named "none" (the original's naming).
 * Errors: INVALID_ARG (bad dtype, ndim 0 or > IMD_MAX_DIMS, a zero dimension),
 * LIMIT (size overflow), NOMEM.
 */
IMD_API IMD_NODISCARD ImdSeries *imd_series_create(ImdError **error, ImdDType dtype, size_t ndim,
                                                   const size_t shape[]);

/**
 * A series over caller memory: `release(data, user)` is called when the
 * series is destroyed (release may be NULL: the memory is only borrowed).
 * On failure, release is not called and the caller still owns `data`.
 */
IMD_API IMD_NODISCARD ImdSeries *imd_series_wrap(ImdError **error, ImdDType dtype, size_t ndim,
                                                 const size_t shape[], void *data,
                                                 ImdReleaseFn *release, void *user);

/**
 * A series over caller memory (as imd_series_wrap(), `dtype` of like's
 * shape) with deep copies of the axes and header of `like`; no voxel is
 * copied or read. For bindings whose arrays own the voxels (numpy): a ufunc
 * result takes its operand's header this way. On failure, release is not
 * called and the caller still owns `data`.
 */
IMD_API IMD_NODISCARD ImdSeries *imd_series_wrap_like(ImdError **error, const ImdSeries *like,
                                                      ImdDType dtype, void *data,
                                                      ImdReleaseFn *release, void *user);

/** A deep copy (data, axes, header). */
IMD_API IMD_NODISCARD ImdSeries *imd_series_clone(ImdError **error, const ImdSeries *series);
IMD_API void imd_series_destroy(ImdSeries *series);

IMD_API ImdDType imd_series_dtype(const ImdSeries *series);
IMD_API size_t imd_series_ndim(const ImdSeries *series);
/** Size of dimension `dim`; 0 when out of range. */
IMD_API size_t imd_series_dim(const ImdSeries *series, size_t dim);
/** Number of voxels. */
IMD_API size_t imd_series_count(const ImdSeries *series);
/** Bytes of data. */
IMD_API size_t imd_series_nbytes(const ImdSeries *series);
IMD_API void *imd_series_data(ImdSeries *series);
IMD_API const void *imd_series_const_data(const ImdSeries *series);

/** The axis of dimension `dim` (borrowed), NULL when out of range. */
IMD_API const ImdAxis *imd_series_axis(const ImdSeries *series, size_t dim);
/** Index of the axis named `name`, or -1. */
IMD_API int imd_series_find_axis(const ImdSeries *series, const char *name);

/**
 * Replace the axis of `dim`. Takes ownership of `axis` on success. A uniform
 * axis is resized to the dimension; a variable axis must have its length.
 */
IMD_API bool imd_series_set_axis(ImdError **error, ImdSeries *series, size_t dim, ImdAxis *axis);

IMD_API ImdHeader *imd_series_header(ImdSeries *series);
IMD_API const ImdHeader *imd_series_const_header(const ImdSeries *series);

/**
 * Set the input order ("time", "b,bvector", "none"): the leading tag axes
 * are renamed after its components, as the original does (a 3D series with
 * order "time" becomes (time, row, column)). INVALID_ARG if it has more
 * components than ndim - 2 (rows and columns always stay), more than
 * IMD_MAX_TAG_DIMS components, or a component that is empty, not a name
 * (letters, digits, '_', '-', '.'; at most 128) or repeated; "auto" is not
 * an order a series can have.
 */
IMD_API bool imd_series_set_input_order(ImdError **error, ImdSeries *series, const char *order);

/** Number of leading tag dimensions: those before slice, row and column. */
IMD_API size_t imd_series_tag_ndim(const ImdSeries *series);

/**
 * Slices: the length of the "slice" axis, else 1. (The original returns
 * shape[-3] for (time, row, column) data: a bug not copied.)
 */
IMD_API size_t imd_series_slices(const ImdSeries *series);
IMD_API size_t imd_series_rows(const ImdSeries *series);
IMD_API size_t imd_series_columns(const ImdSeries *series);

/** Spacing (ds, dr, dc): the steps of the slice, row and column axes, else the header's. */
IMD_API void imd_series_spacing(const ImdSeries *series, double spacing[3]);
/** Set the spacing: axis steps and header; forgets a set transform. */
IMD_API bool imd_series_set_spacing(ImdError **error, ImdSeries *series, const double spacing[3]);

/** Convert to another element type (a new series with the same axes and header). */
IMD_API IMD_NODISCARD ImdSeries *imd_series_convert(ImdError **error, const ImdSeries *series,
                                                    ImdDType dtype);

/* ---- template and geometry (behaviour.md §1.2, §5.5) -------------------- */

/**
 * Take DICOM identity from `template` (typically a DICOM read of the series
 * this one was computed from): patient, study, series number, description,
 * image type, modality, SOP class, frame of reference and the template
 * dataset itself; the series and instance UIDs only when `template` came from
 * DICOM. Tags are taken from the template when the tag dimensions agree,
 * cropped to this series' shape or extrapolated by the last difference; a
 * series of order "none" then takes the template's order.
 */
IMD_API bool imd_series_add_template(ImdError **error, ImdSeries *series,
                                     const ImdSeries *source);

/**
 * Take geometry from `geometry`: spacing, orientation, image positions
 * (extrapolated past its last slice), slice locations (extended by their
 * first difference), the transform when the slice counts agree, the slice,
 * row and column axes' start and step, PatientPosition, photometric
 * interpretation and the tags (as imd_series_add_template()).
 */
IMD_API bool imd_series_add_geometry(ImdError **error, ImdSeries *series,
                                     const ImdSeries *geometry);

/** How imd_series_resample() takes a value between voxels. */
typedef enum ImdInterpolation {
    IMD_INTERPOLATION_NEAREST = 1, /**< the nearest voxel's value */
    IMD_INTERPOLATION_LINEAR = 2   /**< trilinear, in float64 */
} ImdInterpolation;

/**
 * Put the series' voxels onto `grid`'s voxel grid (its slices, rows,
 * columns, orientation and positions) by interpolation in patient space,
 * as the original's align(): each grid voxel takes the series' value at its
 * centre; outside the series it is 0. Tag dimensions are kept. The series
 * then has the grid's geometry, ImageType DERIVED\SECONDARY and a
 * DerivationDescription naming the interpolation. Linear interpolation
 * makes the data float64; nearest keeps the type. Both need defined
 * geometry (INVALID_ARG otherwise).
 */
IMD_API bool imd_series_resample(ImdError **error, ImdSeries *series, const ImdSeries *grid,
                                 ImdInterpolation method);

/* ---- sub-setting ------------------------------------------------------ */

/**
 * One index of a sub-setting. The zero value means "everything", so a
 * zero-initialised array selects the whole series.
 */
typedef enum ImdIndexKind {
    IMD_INDEX_ALL = 0,    /**< ':' */
    IMD_INDEX_SINGLE = 1, /**< an integer; negative counts from the end; drops the axis */
    IMD_INDEX_RANGE = 2   /**< start:stop:step with Python semantics (clamped, step != 0) */
} ImdIndexKind;

typedef struct ImdIndex {
    ImdIndexKind kind;
    int64_t start; /**< SINGLE: the index; RANGE: start (see has_start) */
    int64_t stop;
    int64_t step;  /**< RANGE: 0 means 1 */
    bool has_start, has_stop; /**< RANGE: false means "from the beginning" / "to the end" */
} ImdIndex;

/**
 * A new series holding the sub-set `index[0..count-1]` (missing trailing
 * entries mean "everything"), as the original's indexing does (§1.5):
 * integer indices drop their axis, a tag axis with at most one value left is
 * dropped too and the input order keeps the remaining tag names ("none" when
 * none are left); a slice range renumbers the image positions from 0 and
 * slices the slice locations; tags are sliced and re-keyed. The transform
 * and positions follow the selected voxels, so an in-plane crop moves the
 * origin to the first kept voxel (the original keeps it: a bug not copied).
 * Errors: INVALID_ARG (too many indices, an index out of range, step 0).
 */
IMD_API IMD_NODISCARD ImdSeries *imd_series_subset(ImdError **error, const ImdSeries *series,
                                                   const ImdIndex *index, size_t count);

/**
 * As imd_series_subset(), but no voxel is copied or read: the result wraps
 * caller memory `data` (as imd_series_wrap(); it must hold the sub-set's
 * voxels before they are used). For bindings whose array library already
 * holds the selected voxels (a numpy view): the header and axes follow the
 * index at the cost of the header alone.
 */
IMD_API IMD_NODISCARD ImdSeries *imd_series_subset_wrap(ImdError **error,
                                                        const ImdSeries *series,
                                                        const ImdIndex *index, size_t count,
                                                        void *data, ImdReleaseFn *release,
                                                        void *user);

/** Parse numpy-style index text ("1:3, :, 5", "-1", "::2") into `index`. */
IMD_API bool imd_index_parse(ImdError **error, const char *text, ImdIndex *index,
                             size_t capacity, size_t *count);

/* ---- statistics -------------------------------------------------------- */

typedef struct ImdStats {
    double min, max; /**< NaN when every value is NaN; RGB: over all channels */
    double sum;      /**< float64 sum over every voxel (complex: real parts) */
    size_t count;    /**< values counted (NaN excluded from min/max only) */
} ImdStats;

IMD_API bool imd_series_stats(ImdError **error, const ImdSeries *series, ImdStats *stats);

/* ---- lists of series -------------------------------------------------- */

IMD_API IMD_NODISCARD ImdSeriesList *imd_series_list_create(ImdError **error);
IMD_API void imd_series_list_destroy(ImdSeriesList *list);
IMD_API size_t imd_series_list_count(const ImdSeriesList *list);
/** Borrowed, NULL when out of range. */
IMD_API ImdSeries *imd_series_list_get(const ImdSeriesList *list, size_t index);
/** Remove and return item `index`; the caller owns it. NULL when out of range. */
IMD_API ImdSeries *imd_series_list_take(ImdSeriesList *list, size_t index);
/** Append; takes ownership of `series` on success. */
IMD_API bool imd_series_list_add(ImdError **error, ImdSeriesList *list, ImdSeries *series);

/*
 * What a read could not turn into series: one error per series that could
 * not be sorted or decoded, and per image file skipped (unsupported transfer
 * syntax, corrupt), each naming the files and the reason. A read with
 * failures still returns the series it could read (a partial result; the
 * CLIs exit 8); it fails only when nothing could be read.
 */
IMD_API size_t imd_series_list_failure_count(const ImdSeriesList *list);
/** Borrowed, NULL when out of range. */
IMD_API const ImdError *imd_series_list_failure(const ImdSeriesList *list, size_t index);
/** Append; takes ownership of `failure` on success. */
IMD_API bool imd_series_list_add_failure(ImdError **error, ImdSeriesList *list,
                                         ImdError *failure);
/** Move every failure of `from` to the end of `to`. */
IMD_API bool imd_series_list_move_failures(ImdError **error, ImdSeriesList *to,
                                           ImdSeriesList *from);

/* ---- description ------------------------------------------------------- */

enum {
    IMD_JSON_STATS = 1u,      /**< add "stats": {min, max, sum} */
    /**
     * Read no voxel: a window that was not read is given as null instead of
     * computed (for series from imd_series_subset_wrap()/_wrap_like() whose
     * memory is a binding's). Stats are left out too.
     */
    IMD_JSON_HEADER_ONLY = 2u
};

/**
 * The series as a JSON object with the original's property names
 * ("shape", "dtype", "axes", "transformationMatrix" in its (s,r,c)->(z,y,x)
 * convention, "imagePositions" as [z,y,x], ...; see docs/json.md).
 * `url` may be NULL. Returns text to release with imd_free().
 */
IMD_API IMD_NODISCARD char *imd_series_to_json(ImdError **error, const ImdSeries *series,
                                               const char *url, unsigned flags);

IMD_END_DECLS

#endif
