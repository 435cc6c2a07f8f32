/* placeholder: model/convert.c is being written */
typedef int imd_placeholder_convert;
