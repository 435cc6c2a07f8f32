/* placeholder: model/axis.c is being written */
typedef int imd_placeholder_axis;
