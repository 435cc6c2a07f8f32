/* placeholder: io/stream.c is being written */
typedef int imd_placeholder_stream;
