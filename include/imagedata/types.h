/**
 * @file types.h
 * Element types of a series.
 */
#ifndef IMAGEDATA_TYPES_H
#define IMAGEDATA_TYPES_H

#include <imagedata/common.h>

IMD_BEGIN_DECLS

/**
 * Element type. Values are part of the ABI. Complex types hold (real,
 * imaginary) pairs; IMD_DTYPE_RGB8 holds 3 x uint8 per voxel (R, G, B): colour
 * is a type, never a dimension.
 */
typedef enum ImdDType {
    IMD_DTYPE_BOOL = 1, /**< one byte per voxel, 0 or 1 */
    IMD_DTYPE_UINT8 = 2,
    IMD_DTYPE_INT8 = 3,
    IMD_DTYPE_UINT16 = 4,
    IMD_DTYPE_INT16 = 5,
    IMD_DTYPE_UINT32 = 6,
    IMD_DTYPE_INT32 = 7,
    IMD_DTYPE_UINT64 = 8,
    IMD_DTYPE_INT64 = 9,
    IMD_DTYPE_FLOAT32 = 10,
    IMD_DTYPE_FLOAT64 = 11,
    IMD_DTYPE_COMPLEX64 = 12,  /**< two float32 */
    IMD_DTYPE_COMPLEX128 = 13, /**< two float64 */
    IMD_DTYPE_RGB8 = 14
} ImdDType;

/** Bytes per element; 0 for an invalid type. */
IMD_API size_t imd_dtype_size(ImdDType dtype);

/** The numpy-style name ("uint16", "float64", "rgb8"); NULL for an invalid type. */
IMD_API const char *imd_dtype_name(ImdDType dtype);

/**
 * Parse a type name. Accepts the names above and the original CLI's aliases:
 * "int" (int16), "float" (float32), "double" (float64), "rgb".
 * Returns false for an unknown name.
 */
IMD_API bool imd_dtype_from_name(const char *name, ImdDType *dtype);

IMD_API bool imd_dtype_is_valid(ImdDType dtype);
IMD_API bool imd_dtype_is_integer(ImdDType dtype); /**< bool and the integer types */
IMD_API bool imd_dtype_is_signed(ImdDType dtype);  /**< signed integers, floats, complex */
IMD_API bool imd_dtype_is_float(ImdDType dtype);   /**< float32, float64 */
IMD_API bool imd_dtype_is_complex(ImdDType dtype);

IMD_END_DECLS

#endif
