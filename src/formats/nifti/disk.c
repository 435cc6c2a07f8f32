/* placeholder: src/formats/nifti/disk.c is being written */
typedef int imd_placeholder_nifti_disk;
