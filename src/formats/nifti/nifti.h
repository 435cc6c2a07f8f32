/*
 * nifti.h: the NIfTI plugin's parts (not installed).
 *
 * disk.c      NIfTI-1 (348-byte) and NIfTI-2 (540-byte) headers, decoded and
 *             encoded field by field (either byte order when reading).
 * geometry.c  pure functions: the series' patient geometry <-> the NIfTI
 *             sform/qform, the voxel order (rows flipped, 3D acquisitions
 *             reoriented to the nearest orthogonal axes as dcm2niix does),
 *             behaviour.md §5.2.
 * format.c    the format plugin: read .nii/.nii.gz/.hdr+.img (+ .bval/.bvec),
 *             write .nii/.nii.gz (parallel gzip) (+ .bval/.bvec).
 */
#ifndef IMAGEDATA_NIFTI_H
#define IMAGEDATA_NIFTI_H

#include "internal.h"

/* ---- disk.c ------------------------------------------------------------ */

/* NIfTI datatype codes (nifti1.h, the NIfTI-1 standard). */
enum {
    IMD_NIFTI_UINT8 = 2, IMD_NIFTI_INT16 = 4, IMD_NIFTI_INT32 = 8, IMD_NIFTI_FLOAT32 = 16,
    IMD_NIFTI_COMPLEX64 = 32, IMD_NIFTI_FLOAT64 = 64, IMD_NIFTI_RGB24 = 128, IMD_NIFTI_INT8 = 256,
    IMD_NIFTI_UINT16 = 512, IMD_NIFTI_UINT32 = 768, IMD_NIFTI_INT64 = 1024,
    IMD_NIFTI_UINT64 = 1280, IMD_NIFTI_COMPLEX128 = 1792
};

/* The header fields we use, version independent (NIfTI-2 widths). */
typedef struct ImdNiftiHeader {
    int version;              /* 1 or 2 */
    bool pair;                /* .hdr/.img ("ni1"/"ni2" magic) rather than single file (.nii) */
    int64_t dim[8];           /* dim[0] = number of dimensions */
    double pixdim[8];         /* pixdim[0] = qfac */
    int16_t datatype, bitpix;
    int64_t vox_offset;
    double scl_slope, scl_inter;
    uint8_t dim_info;
    int32_t xyzt_units;
    int16_t qform_code, sform_code;
    double quatern_b, quatern_c, quatern_d, qoffset_x, qoffset_y, qoffset_z;
    double srow[3][4];        /* srow_x, srow_y, srow_z */
    char descrip[81];
    char intent_name[17];
    int32_t intent_code;
    double cal_min, cal_max, toffset;
    int16_t slice_code;
    bool swapped;             /* the file is in the other byte order */
} ImdNiftiHeader;

/* Decode a header from the first bytes of a file (at least 348; 540 for NIfTI-2).
 * NOT_RECOGNIZED when it is not NIfTI; CORRUPT/LIMIT for impossible fields
 * (negative or huge dimensions, a data offset before the header's end). */
bool imd__nifti_decode(ImdError **error, const uint8_t *bytes, size_t size, const char *name,
                       ImdNiftiHeader *header);
/* Encode a header (version 1 or 2) into `out`: 352 or 544 bytes, each with the 4-byte
 * extension flag. */
size_t imd__nifti_encode(const ImdNiftiHeader *header, uint8_t out[544]);
/* The dtype of a NIfTI datatype code; false when we cannot hold it. */
bool imd__nifti_dtype(int16_t datatype, ImdDType *dtype);
/* The NIfTI datatype code for a dtype (bool -> uint8, rgb8 -> RGB24). */
int16_t imd__nifti_datatype(ImdDType dtype, int16_t *bitpix);

/* ---- geometry.c ---------------------------------------------------------- */

/* How NIfTI voxel axes (i, j, k) relate to the series' (column, row, slice). */
typedef struct ImdNiftiVoxelOrder {
    int source[3]; /* for NIfTI i, j, k: 0 = column, 1 = row, 2 = slice */
    bool flip[3];  /* NIfTI axis runs against the source axis */
} ImdNiftiVoxelOrder;

typedef struct ImdNiftiGeometry {
    double sform[4][4];        /* RAS, mm: (i, j, k, 1) -> (x, y, z, 1) */
    double quatern[6];         /* b, c, d, qoffset x, y, z */
    double qfac;               /* pixdim[0]: 1 or -1 */
    double pixdim[3];          /* voxel sizes along i, j, k */
    uint8_t dim_info;          /* freq | phase << 2 | slice << 4 */
    ImdNiftiVoxelOrder order;  /* how to lay the voxels out */
} ImdNiftiGeometry;

/* What the series gives the geometry (behaviour.md §5.2, the dcm2niix convention). */
typedef struct ImdNiftiSource {
    ImdVec3 row, column;       /* DICOM orientation cosines (LPS) */
    ImdVec3 first, last;       /* positions of the first and last slices (LPS, mm) */
    size_t slices, rows, columns;
    double spacing[3];         /* ds, dr, dc */
    bool phase_is_row;         /* InPlanePhaseEncodingDirection ROW (else COL); */
    bool phase_known;          /*   false: dim_info 0 */
    bool acquisition_3d;       /* MRAcquisitionType 3D: reorient to the nearest axes; set it
                                  only for a single volume (no tag dimension), as dcm2niix
                                  does, and lay the voxels out by geometry.order (a 3D
                                  volume may come out permuted and flipped) */
} ImdNiftiSource;

/* The NIfTI geometry and voxel order for writing a series. */
bool imd__nifti_geometry_from_source(ImdError **error, const ImdNiftiSource *source,
                                     ImdNiftiGeometry *geometry);

/*
 * The series geometry of a NIfTI file (reading, behaviour.md §5.2 "Read"):
 * the sform when its code is set, else the qform (the original ignored the
 * qform: a bug), else pixdim only; units converted (m, um -> mm). The voxels
 * are read in the order `order` gives (rows flipped back); the result is
 * the LPS orientation cosines, the position of slice 0 and the slice step,
 * and the spacing (ds, dr, dc).
 */
typedef struct ImdNiftiPlacement {
    ImdVec3 row, column, slice_step, first; /* LPS */
    double spacing[3];                      /* ds, dr, dc */
    ImdNiftiVoxelOrder order;               /* NIfTI (i, j, k) <- series (c, r, s) */
} ImdNiftiPlacement;

bool imd__nifti_placement_from_header(ImdError **error, const ImdNiftiHeader *header,
                                      ImdNiftiPlacement *placement);

#endif
