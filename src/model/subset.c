/* placeholder: model/subset.c is being written */
typedef int imd_placeholder_subset;
