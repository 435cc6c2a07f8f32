/* placeholder: model/series.c is being written */
typedef int imd_placeholder_series;
