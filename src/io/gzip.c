/* placeholder: src/io/gzip.c is being written */
typedef int imd_placeholder_gzip;
