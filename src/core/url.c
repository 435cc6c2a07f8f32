/* placeholder: core/url.c is being written */
typedef int imd_placeholder_url;
