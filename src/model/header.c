/* placeholder: model/header.c is being written */
typedef int imd_placeholder_header;
