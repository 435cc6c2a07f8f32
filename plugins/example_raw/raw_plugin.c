typedef int imd_placeholder_raw;
