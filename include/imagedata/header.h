/**
 * @file header.h
 * What a series knows besides its voxels: DICOM identity attributes by
 * keyword, geometry in patient space, tag values per slice, the input order,
 * the window, and the DICOM template dataset that a DICOM read leaves behind.
 *
 * Geometry is kept in DICOM patient coordinates (LPS, mm) as {x, y, z}:
 * - orientation: the row cosine (direction in which the column index grows)
 *   and the column cosine (direction in which the row index grows);
 * - one image position (the centre of the first voxel) per slice;
 * - the voxel-to-patient transform maps (column, row, slice, 1) to (x, y, z, 1).
 * The original's zyx conventions (`transformationMatrix`, `imagePositions`)
 * are produced at the JSON boundary (imd_series_to_json()).
 */
#ifndef IMAGEDATA_HEADER_H
#define IMAGEDATA_HEADER_H

#include <imagedata/axis.h>
#include <imagedata/common.h>

IMD_BEGIN_DECLS

/** Most tag dimensions (order components) a series may have. */
#define IMD_MAX_TAG_DIMS 5

/**
 * Operations on an attached DICOM template dataset, so that the model layer
 * can copy and free it without knowing the DICOM codec.
 */
typedef struct ImdTemplateOps {
    void *(*clone)(const void *dataset); /**< NULL on failure */
    void (*destroy)(void *dataset);
    /**
     * Optional (NULL: the dataset cannot be queried): the attribute `keyword`
     * (a DICOM keyword) as UTF-8 text, values joined by '\'. Sets *value to
     * text released with imd_free(), or to NULL when the dataset lacks the
     * attribute or holds no text for it; false only on failure (an unknown
     * keyword, memory).
     */
    bool (*get_string)(ImdError **error, const void *dataset, const char *keyword, char **value);
} ImdTemplateOps;

/** An empty header with the original's defaults (input order "none", SC SOP class, new UIDs). */
IMD_API IMD_NODISCARD ImdHeader *imd_header_create(ImdError **error);
IMD_API IMD_NODISCARD ImdHeader *imd_header_clone(ImdError **error, const ImdHeader *header);
IMD_API void imd_header_destroy(ImdHeader *header);

/* ---- attributes by DICOM keyword ------------------------------------- */

/**
 * The value of an attribute ("PatientName", "SeriesNumber", "ImageType", ...)
 * as text (multiple values joined by '\'), or NULL when unset. Borrowed:
 * valid until the attribute is set again or the header is destroyed.
 */
IMD_API const char *imd_header_get_string(const ImdHeader *header, const char *keyword);

/** Set an attribute; a NULL value removes it. The value is copied. */
IMD_API bool imd_header_set_string(ImdError **error, ImdHeader *header, const char *keyword,
                                   const char *value);

/** Number of attributes set, and the i-th keyword (in the order first set). */
IMD_API size_t imd_header_attribute_count(const ImdHeader *header);
IMD_API const char *imd_header_attribute_keyword(const ImdHeader *header, size_t index);

/* ---- input order ---------------------------------------------------- */

/** The input order, e.g. "none", "time", "b,bvector". Never NULL. */
IMD_API const char *imd_header_input_order(const ImdHeader *header);
/**
 * Store the order text as given (no axes change: imd_series_set_input_order
 * renames them too). INVALID_ARG for an order that does not parse (the rules
 * of imd_series_set_input_order) and for "auto".
 */
IMD_API bool imd_header_set_input_order(ImdError **error, ImdHeader *header, const char *order);

/* ---- geometry ------------------------------------------------------- */

/** Slice, row and column spacing (ds, dr, dc) in mm. Default (1, 1, 1). */
IMD_API void imd_header_spacing(const ImdHeader *header, double spacing[3]);
IMD_API bool imd_header_set_spacing(ImdError **error, ImdHeader *header, const double spacing[3]);

/** Row and column cosines. Default row (1,0,0), column (0,1,0). */
IMD_API void imd_header_orientation(const ImdHeader *header, ImdVec3 *row, ImdVec3 *column);
/** Set the orientation; INVALID_ARG unless both are unit vectors (within 1e-3). */
IMD_API bool imd_header_set_orientation(ImdError **error, ImdHeader *header, ImdVec3 row,
                                        ImdVec3 column);

/** The unit normal row x column. */
IMD_API ImdVec3 imd_header_normal(const ImdHeader *header);

/** Number of slices with an image position (0 when none are set). */
IMD_API size_t imd_header_position_count(const ImdHeader *header);

/**
 * The position of slice `slice`. When only slice 0 is known, later slices are
 * extrapolated along the transform's slice column (the original's rule).
 * Returns false when no position is known.
 */
IMD_API bool imd_header_image_position(const ImdHeader *header, size_t slice, ImdVec3 *position);

/** Set all positions at once (the count becomes `count`). */
IMD_API bool imd_header_set_image_positions(ImdError **error, ImdHeader *header,
                                            const ImdVec3 *positions, size_t count);

/** Slice locations (distance along the normal); NULL with *count 0 when unset. Borrowed. */
IMD_API const double *imd_header_slice_locations(const ImdHeader *header, size_t *count);
IMD_API bool imd_header_set_slice_locations(ImdError **error, ImdHeader *header,
                                            const double *locations, size_t count);

/**
 * The voxel-to-patient transform: (column, row, slice, 1) -> (x, y, z, 1).
 * When none was set it is computed as the original does (behaviour.md §5.1):
 * column 2 from the first and last image positions, or normal * ds for one
 * slice; columns 0 and 1 from the cosines times the spacing; the translation
 * from position 0 (or the origin).
 */
IMD_API void imd_header_transform(const ImdHeader *header, ImdMat4 *transform);
IMD_API void imd_header_set_transform(ImdHeader *header, const ImdMat4 *transform);
/** Forget a set transform, so that it is computed again. */
IMD_API void imd_header_reset_transform(ImdHeader *header);

/** True when the geometry came from the data (DICOM, NIfTI, ...), not defaults. */
IMD_API bool imd_header_geometry_defined(const ImdHeader *header);
IMD_API void imd_header_set_geometry_defined(ImdHeader *header, bool defined);

/* ---- tags: the values of the tag dimensions, per slice ---------------- */

/**
 * Shape the tag store: `slices` slices, each holding the cells of the tag
 * dimensions `shape[0..ndim-1]` (one cell when ndim is 0), each cell holding
 * `components` values (one per input order component). All cells start empty.
 */
IMD_API bool imd_header_set_tag_shape(ImdError **error, ImdHeader *header, size_t slices,
                                      size_t ndim, const size_t *shape, size_t components);

/** Slices, tag dimensions, their shape (up to IMD_MAX_TAG_DIMS) and components. */
IMD_API size_t imd_header_tag_slices(const ImdHeader *header);
IMD_API size_t imd_header_tag_ndim(const ImdHeader *header);
IMD_API size_t imd_header_tag_shape(const ImdHeader *header, size_t dim);
IMD_API size_t imd_header_tag_components(const ImdHeader *header);

/**
 * The values of one cell (`components` of them), or NULL for an empty cell or
 * out-of-range indices. `index` has tag_ndim entries (may be NULL when 0).
 * Borrowed until the tag store changes.
 */
IMD_API const ImdValue *imd_header_tag(const ImdHeader *header, size_t slice,
                                       const size_t *index);

/** Fill a cell with `components` values (copied), or empty it with values == NULL. */
IMD_API bool imd_header_set_tag(ImdError **error, ImdHeader *header, size_t slice,
                                const size_t *index, const ImdValue *values);

/**
 * The SOPInstanceUID of one cell (the original's SOPInstanceUIDs), kept so
 * that a write with keep_uid can reuse it; NULL when none is known. Reset by
 * imd_header_set_tag_shape(). Borrowed.
 */
IMD_API const char *imd_header_instance_uid(const ImdHeader *header, size_t slice,
                                            const size_t *index);
/** Set (or with NULL forget) the SOPInstanceUID of a cell; at most 64 characters. */
IMD_API bool imd_header_set_instance_uid(ImdError **error, ImdHeader *header, size_t slice,
                                         const size_t *index, const char *uid);

/**
 * What one image's own DICOM data set holds beyond the template (a DICOM
 * read keeps, per cell, the elements whose values differ from the first
 * image's: acquisition time, sequence name, private per-image values), so
 * that a DICOM write gives each file its own values again. NULL when none.
 * Borrowed; reset by imd_header_set_tag_shape() and by a new template.
 */
IMD_API const void *imd_header_instance_dataset(const ImdHeader *header, size_t slice,
                                                const size_t *index);
/** Set (takes ownership on success; freed with the template's ops) or clear with NULL. */
IMD_API bool imd_header_set_instance_dataset(ImdError **error, ImdHeader *header, size_t slice,
                                             const size_t *index, void *dataset);

/* ---- window and photometric ----------------------------------------- */

/** Window centre and width; false when unknown. */
IMD_API bool imd_header_window(const ImdHeader *header, double *center, double *width);
IMD_API void imd_header_set_window(ImdHeader *header, double center, double width);
IMD_API void imd_header_clear_window(ImdHeader *header);

/* ---- DICOM template -------------------------------------------------- */

/**
 * Attach a template dataset (the first DICOM dataset of a read). Takes
 * ownership of `dataset` on success; `ops` must outlive the header.
 */
IMD_API bool imd_header_set_template(ImdError **error, ImdHeader *header, void *dataset,
                                     const ImdTemplateOps *ops);
/** The template dataset, or NULL. Borrowed. */
IMD_API const void *imd_header_template(const ImdHeader *header);

/**
 * An attribute of the template dataset by DICOM keyword
 * ("InPlanePhaseEncodingDirection"), so that a format other than DICOM reads
 * the template without knowing the DICOM codec. *value becomes text to
 * release with imd_free(), or NULL when there is no template, its ops have
 * no get_string, or the template lacks the attribute. False (with *value
 * NULL) on failure: INVALID_ARG (NULL argument, unknown keyword), NOMEM.
 */
IMD_API bool imd_header_template_string(ImdError **error, const ImdHeader *header,
                                        const char *keyword, char **value);

IMD_END_DECLS

#endif
