/* placeholder: model/stats.c is being written */
typedef int imd_placeholder_stats;
