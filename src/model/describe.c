/* placeholder: model/describe.c is being written */
typedef int imd_placeholder_describe;
