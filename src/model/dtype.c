/* dtype.c: element types: sizes, names and classification. */
#include "model_internal.h"

/*
 * One row per ImdDType, indexed by the enum value (0 is unused: zeroed memory
 * is never a valid type, design §3.4).
 */
static const struct {
    const char *name;
    size_t size;
    bool integer, is_signed, is_float, complex;
} dtype_info[] = {
    [IMD_DTYPE_BOOL] = {"bool", 1, true, false, false, false},
    [IMD_DTYPE_UINT8] = {"uint8", 1, true, false, false, false},
    [IMD_DTYPE_INT8] = {"int8", 1, true, true, false, false},
    [IMD_DTYPE_UINT16] = {"uint16", 2, true, false, false, false},
    [IMD_DTYPE_INT16] = {"int16", 2, true, true, false, false},
    [IMD_DTYPE_UINT32] = {"uint32", 4, true, false, false, false},
    [IMD_DTYPE_INT32] = {"int32", 4, true, true, false, false},
    [IMD_DTYPE_UINT64] = {"uint64", 8, true, false, false, false},
    [IMD_DTYPE_INT64] = {"int64", 8, true, true, false, false},
    [IMD_DTYPE_FLOAT32] = {"float32", 4, false, true, true, false},
    [IMD_DTYPE_FLOAT64] = {"float64", 8, false, true, true, false},
    [IMD_DTYPE_COMPLEX64] = {"complex64", 8, false, true, false, true},
    [IMD_DTYPE_COMPLEX128] = {"complex128", 16, false, true, false, true},
    [IMD_DTYPE_RGB8] = {"rgb8", 3, false, false, false, false},
};

/*
 * The original CLI's --dtype choices that are not numpy names. "float" maps
 * to float32 here; the original crashes on it (behaviour.md §12).
 */
static const struct {
    const char *alias;
    ImdDType dtype;
} dtype_aliases[] = {
    {"int", IMD_DTYPE_INT16},
    {"float", IMD_DTYPE_FLOAT32},
    {"double", IMD_DTYPE_FLOAT64},
    {"rgb", IMD_DTYPE_RGB8},
};

bool imd_dtype_is_valid(ImdDType dtype)
{
    return dtype >= IMD_DTYPE_BOOL && dtype <= IMD_DTYPE_RGB8;
}

size_t imd_dtype_size(ImdDType dtype)
{
    return imd_dtype_is_valid(dtype) ? dtype_info[dtype].size : 0;
}

const char *imd_dtype_name(ImdDType dtype)
{
    return imd_dtype_is_valid(dtype) ? dtype_info[dtype].name : NULL;
}

bool imd_dtype_from_name(const char *name, ImdDType *dtype)
{
    if (name == NULL) {
        return false;
    }
    for (int t = IMD_DTYPE_BOOL; t <= IMD_DTYPE_RGB8; t++) {
        if (strcmp(name, dtype_info[t].name) == 0) {
            if (dtype != NULL) {
                *dtype = (ImdDType)t;
            }
            return true;
        }
    }
    for (size_t i = 0; i < sizeof dtype_aliases / sizeof dtype_aliases[0]; i++) {
        if (strcmp(name, dtype_aliases[i].alias) == 0) {
            if (dtype != NULL) {
                *dtype = dtype_aliases[i].dtype;
            }
            return true;
        }
    }
    return false;
}

bool imd_dtype_is_integer(ImdDType dtype)
{
    return imd_dtype_is_valid(dtype) && dtype_info[dtype].integer;
}

bool imd_dtype_is_signed(ImdDType dtype)
{
    return imd_dtype_is_valid(dtype) && dtype_info[dtype].is_signed;
}

bool imd_dtype_is_float(ImdDType dtype)
{
    return imd_dtype_is_valid(dtype) && dtype_info[dtype].is_float;
}

bool imd_dtype_is_complex(ImdDType dtype)
{
    return imd_dtype_is_valid(dtype) && dtype_info[dtype].complex;
}
