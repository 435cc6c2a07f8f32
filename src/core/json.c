/* placeholder: core/json.c is being written */
typedef int imd_placeholder_json;
