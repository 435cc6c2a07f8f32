/* placeholder: src/formats/nifti/geometry.c is being written */
typedef int imd_placeholder_nifti_geometry;
