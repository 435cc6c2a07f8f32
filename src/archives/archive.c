/* placeholder: archives/archive.c is being written */
typedef int imd_placeholder_archive;
