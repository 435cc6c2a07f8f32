/* placeholder: core/read_write.c is being written */
typedef int imd_placeholder_read_write;
