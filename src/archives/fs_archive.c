/* placeholder: archives/fs_archive.c is being written */
typedef int imd_placeholder_fs_archive;
