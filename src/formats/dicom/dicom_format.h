/*
 * dicom_format.h: the DICOM format plugin's parts (not installed).
 *
 * format.c  collects members, parses their headers (in parallel), groups
 *           them into series, and builds ImdSeries.
 * sort.c    pure functions: one small key per image -> a volume layout
 *           (slices by distance along the normal, tag dimensions), tested
 *           without files (behaviour.md §3.2-§3.5, with the bugs of §12 fixed).
 * pixel.c   one frame of uncompressed pixel data -> the series' element type.
 */
#ifndef IMAGEDATA_DICOM_FORMAT_H
#define IMAGEDATA_DICOM_FORMAT_H

#include "dicom/csa.h"
#include "dicom/dicom_internal.h"

/* ---- sort.c ------------------------------------------------------------ */

/** Most order components (or auto candidates) a key carries. */
#define IMD_SORT_MAX_TAGS 5
/** Most values a key carries: order components, or auto's candidates. */
#define IMD_SORT_MAX_VALUES 8

/** What the sorter needs of one image (one file, or one frame later). */
typedef struct ImdSliceKey {
    uint32_t index;             /* the caller's image number, returned in the layout */
    ImdVec3 position;           /* ImagePositionPatient (0020,0032); (0,0,0) when missing */
    bool has_position;
    ImdVec3 row, column;        /* ImageOrientationPatient (0020,0037) cosines */
    bool has_orientation;
    double slice_location;      /* SliceLocation (0020,1041) */
    bool has_slice_location;
    double gantry_tilt;         /* GantryDetectorTilt (0018,1120), 0 when missing */
    ImdValue tag[IMD_SORT_MAX_VALUES]; /* one value per order component (or auto candidate) */
    bool has_tag[IMD_SORT_MAX_VALUES]; /* false: missing or not a number */
    uint32_t rows, columns;
    /* Where the image comes in the acquisition (lower is earlier): TemporalPositionIdentifier,
     * then InstanceNumber, else the file's place. Orders volumes whose tags say nothing else
     * (GE fMRI with one AcquisitionTime) and diffusion directions in acquisition order. */
    double sequence;
} ImdSliceKey;

typedef struct ImdSortOptions {
    /* The order's components, in key.tag[] order ("time", "te"; "none" alone for none).
     * With auto_order, the candidates ("time", "triggertime", "b", "fa", "te", and "dti"
     * last), of which the sorter picks per behaviour.md §3.4 and docs/dicom-reading.md. */
    const char *names[IMD_SORT_MAX_VALUES];
    size_t count;
    bool auto_order;
    double slice_tolerance;      /* distances closer than this are one slice; 0: 1e-4 mm */
    double dir_cosine_tolerance; /* orientation differences up to this are one orientation; 0: 1e-4 */
    bool accept_uneven_slices;   /* keep slices with unequal image counts / spacing (warn) */
    bool accept_duplicate_tag;   /* renumber duplicates instead of failing (§3.5) */
    bool sort_on_slice_location; /* distance = SliceLocation instead of position . normal */
    /* The spacing the files state, to catch a missing slice where the gaps alone cannot
     * (two slices left): SpacingBetweenSlices (an error when the step is a multiple of
     * it), else SliceThickness (only a warning: gapped acquisitions are normal); 0: none. */
    double nominal_spacing;
    bool nominal_is_thickness;
    /* auto: the time step (s) of volumes told apart only by their acquisition sequence:
     * RepetitionTime; 0: 1 s. */
    double time_step;
} ImdSortOptions;

/** The volume layout of one series. Free with imd__dicom_layout_free(). */
typedef struct ImdLayout {
    size_t slices;
    size_t tag_ndim;                   /* 0 for order none (one image per slice) */
    size_t tag_shape[IMD_SORT_MAX_TAGS];
    char *order;                       /* the chosen order, e.g. "time", "b,bvector", "none" */
    ImdValue *axis_values[IMD_SORT_MAX_TAGS]; /* tag_shape[d] values per tag dimension */
    /* cell[(tag cell) * slices + slice] = key index (position in the keys array), or
     * UINT32_MAX for an empty (sparse) cell; tag cells in C order of tag_shape. */
    uint32_t *cell;
    ImdValue *tags;                    /* the same layout: each cell's own tag values,
                                          tag_ndim values per cell (components) */
    double *distances;                 /* per slice, ascending: the slice locations */
    ImdVec3 *positions;                /* per slice: the position of its first image */
    ImdVec3 row, column;               /* the series orientation */
    char **warnings;                   /* tolerated oddities, for -v */
    size_t warning_count;
} ImdLayout;

/*
 * Sort `count` keys of one series into a layout. Errors are IMD_ERR_CANNOT_SORT
 * with numbers in the message ("slice 12 has 39 images, expected 40";
 * "slices 4 and 5 are 6.0 mm apart, the others 3.0 mm: a missing slice?";
 * "gantry tilt of 5 degrees"; "duplicate tag: ... try accept_duplicate_tag").
 */
bool imd__dicom_sort(ImdError **error, const ImdSliceKey *keys, size_t count,
                     const ImdSortOptions *options, ImdLayout *layout);
void imd__dicom_layout_free(ImdLayout *layout);

/* ---- pixel.c ------------------------------------------------------------ */

/** The pixel description of one image (PS3.3 C.7.6.3). */
typedef struct ImdPixelFormat {
    uint32_t rows, columns, frames;
    uint16_t bits_allocated, bits_stored, high_bit;
    uint16_t pixel_representation; /* 0 unsigned, 1 two's complement */
    uint16_t samples_per_pixel, planar_configuration;
    char photometric[17];          /* MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, ... */
    double slope, intercept;       /* RescaleSlope/Intercept; 1 and 0 when absent */
} ImdPixelFormat;

/*
 * Read the pixel description of a data set. UNSUPPORTED ("cannot decode
 * MPEG2 Main Profile / Main Level (1.2.840.10008.1.2.4.100) (video)") for a
 * transfer syntax no codec decodes (src/dicom/codec.c) or pixel layouts we
 * cannot decode; CORRUPT for inconsistent attributes.
 */
bool imd__dicom_pixel_format(ImdError **error, const ImdDicomDataSet *dataset,
                             ImdPixelFormat *format);

/*
 * The element type of a whole series (behaviour.md §3.6, decided from every
 * image, not the first): RGB for 3 samples of 8 bits; bool for 1 bit; float64
 * when any image has a non-trivial rescale (|slope-1| > 1e-4 or |intercept| >
 * 1e-4); else uint8/int8 for 8 bits, uint16/int16 for 16 bits, uint32/int32
 * for 32 bits, signed when any image is signed, and one size wider when
 * unsigned images using every bit are mixed with signed ones (no clipping).
 * (The original read 32 bits into uint16: a bug not copied.)
 */
ImdDType imd__dicom_series_dtype(const ImdPixelFormat *formats, size_t count);

/*
 * Decode frame `frame` of `dataset` into `out`, an image of out_rows x
 * out_columns elements of `dtype`, C order. Pixels are masked to BitsStored
 * (sign-extended from HighBit when signed), rescaled when dtype is float64,
 * planar configuration 1 is interleaved, YBR_FULL converted to RGB. A smaller
 * image is placed at the top left and the rest is zero (as the original).
 * CORRUPT when the pixel data is shorter than the format says. Compressed
 * frames are located among the fragments and decoded by their codec (thread-
 * safe), then converted the same way, with the photometric interpretation
 * the codec reports (a JPEG's YBR_FULL_422 is RGB after decoding).
 */
bool imd__dicom_decode_frame(ImdError **error, const ImdDicomDataSet *dataset,
                             const ImdPixelFormat *format, size_t frame, ImdDType dtype,
                             void *out, size_t out_rows, size_t out_columns);

/*
 * The bytes uncompressed frame `frame` needs are in the Pixel Data: checked
 * before the series array is allocated, so that a 1 KB file claiming 65535 x
 * 65535 pixels is corrupt input, not a 8 GB allocation (CORRUPT naming both
 * numbers). Encapsulated data is checked by its codec when decoded.
 */
bool imd__dicom_frame_present(ImdError **error, const ImdDicomDataSet *dataset,
                              const ImdPixelFormat *format, size_t frame);

/*
 * Frame `frame` of encapsulated pixel data as its codec decoded it: the bytes
 * an uncompressed little-endian file would hold (BitsAllocated samples,
 * interleaved), before masking and conversion; `decoded` is `format` with the
 * photometric interpretation after decoding and planar configuration 0.
 * INVALID_ARG for native pixel data. Release *out with free(). For tests.
 */
bool imd__dicom_decode_native(ImdError **error, const ImdDicomDataSet *dataset,
                              const ImdPixelFormat *format, size_t frame, uint8_t **out,
                              size_t *out_size, ImdPixelFormat *decoded);

/* ---- mosaic.c ----------------------------------------------------------- */

/** Slices stored as tiles of one frame (Siemens MOSAIC, UIH VFRAME). */
typedef struct ImdMosaic {
    uint32_t count;                 /* tiles (slices); 0: not a mosaic */
    uint32_t per_row;               /* tiles in one row of the frame */
    uint32_t tile_rows, tile_columns;
    ImdVec3 *positions;             /* count: each tile's ImagePositionPatient */
} ImdMosaic;

/* Detect a mosaic and place its tiles; count 0 for an ordinary image. CORRUPT
 * when the vendor attributes contradict the frame (tiles that do not fit). */
bool imd__dicom_mosaic(ImdError **error, const ImdDicomDataSet *dataset,
                       const ImdPixelFormat *format, ImdMosaic *mosaic);
void imd__dicom_mosaic_free(ImdMosaic *mosaic);

/* Copy tile `tile` of a decoded frame (frame_columns wide) into `out`. */
void imd__dicom_mosaic_tile(const ImdMosaic *mosaic, uint32_t tile, const void *frame,
                            size_t frame_columns, size_t element_size, void *out);

/* ---- split.c ------------------------------------------------------------ */

/*
 * The label an image adds to its series' group: "ph", "real", "imag" for
 * phase, real and imaginary images, the kind of a DERIVED image ("adc",
 * "tracew"), "e<N>" and "acq<N>" when echoes / acquisitions are split;
 * joined by "_", "" for a plain magnitude image. NULL when out of memory.
 */
char *imd__dicom_image_label(const ImdDicomDataSet *dataset, bool split_echoes,
                             bool split_acquisitions);

/* A field map in Hz (Philips ImageType FIELD_MAP or "B0 MAP"). */
bool imd__dicom_is_field_map_hz(const ImdDicomDataSet *dataset);

/* A GE direct field map (PulseSequenceName B0map, B0rf, 3db0map). */
bool imd__dicom_is_ge_field_map(const ImdDicomDataSet *dataset);

/** What the splitter needs of one image of a group. */
typedef struct ImdSplitKey {
    ImdVec3 row, column;
    bool has_orientation;
    uint32_t rows, columns;
    ImdVec3 position;
    double sequence;    /* acquisition sequence (ImdSliceKey.sequence) */
    bool ge_field_map;
} ImdSplitKey;

/*
 * Split one group of n images: cluster[i] gets image i's piece. One piece:
 * *labels NULL. Several: *clusters labels ("part1", "part2": orientations or
 * matrix sizes, in acquisition order; "", "fieldmaphz": a GE field map's
 * magnitude and map), freed with imd__dicom_split_labels_free.
 */
bool imd__dicom_split_group(ImdError **error, const ImdSplitKey *keys, size_t n, double tolerance,
                            uint32_t *cluster, char ***labels, size_t *clusters);
void imd__dicom_split_labels_free(char **labels, size_t count);

/* ---- seg.c -------------------------------------------------------------- */

/* A DICOM Segmentation instance (SOP class 1.2.840.10008.5.1.4.1.1.66.4)? */
bool imd__dicom_is_segmentation(const ImdDicomDataSet *dataset);

/*
 * A SEG instance as a series [label, slice, row, column] (seg.c): BINARY as
 * uint8 0/1, FRACTIONAL as float32 0..1; the label axis holds the segment
 * labels. UNSUPPORTED for other types and compressed pixel data, CORRUPT for
 * missing or inconsistent attributes (checked before any allocation),
 * CANNOT_SORT for planes off the slice grid.
 */
ImdSeries *imd__dicom_read_segmentation(ImdError **error, const ImdDicomDataSet *dataset);

/* ---- write.c ------------------------------------------------------------ */

/* The format's write: one Part 10 file per (tag cell, slice), behaviour.md §4. */
bool imd__dicom_write_series(ImdError **error, const ImdSeries *series, ImdArchive *archive,
                             const char *name, const ImdOptions *options);
/* The choices of output_sort ("slice", "tag") and output_dir ("single", "multi"), in the
 * writer's index order; NULL-terminated (the format's option table lists them too). */
extern const char *const imd__dicom_output_sorts[];
extern const char *const imd__dicom_output_dirs[];

/* ---- iod.c -------------------------------------------------------------- */

/* Type 1 and 2 attributes of the SOP class's IOD that `d` lacks, filled with
 * valid defaults or empty (MR, CT; every image IOD's General Series,
 * Frame of Reference and General Equipment). */
bool imd__dicom_complete_iod(ImdError **error, ImdDicomDataSet *d, const char *sop_class);

#endif
