/* placeholder: core/context.c is being written */
typedef int imd_placeholder_context;
