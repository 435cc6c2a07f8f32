/* placeholder: archives/zip_archive.c is being written */
typedef int imd_placeholder_zip_archive;
