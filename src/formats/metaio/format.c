/* placeholder: src/formats/metaio/format.c is being written */
typedef int imd_placeholder_metaio_format;
