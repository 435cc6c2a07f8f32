/* placeholder: model/dtype.c is being written */
typedef int imd_placeholder_dtype;
