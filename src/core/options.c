/* placeholder: core/options.c is being written */
typedef int imd_placeholder_options;
