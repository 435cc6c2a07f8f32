/* placeholder: src/formats/mat/format.c is being written */
typedef int imd_placeholder_mat_format;
