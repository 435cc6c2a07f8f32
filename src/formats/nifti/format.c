/* placeholder: src/formats/nifti/format.c is being written */
typedef int imd_placeholder_nifti_format;
