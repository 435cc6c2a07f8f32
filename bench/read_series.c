/*
 * read_series: read URL with imd_read() (sorting and stacking every series)
 * and print each series' shape and voxel sum, so that bench/dicom_read.py can
 * check that both readers produced the same array.
 */
#include <imagedata/imagedata.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: read_series URL [ORDER]\n");
        return 1;
    }
    ImdError *error = NULL;
    ImdOptions *options = imd_options_create(&error);
    if (options != NULL && argc > 2 && !imd_options_set(&error, options, "input_order", argv[2])) {
        imd_options_destroy(options);
        options = NULL;
    }
    ImdSeriesList *list = options != NULL
                              ? imd_read(&error, NULL, (const char *const *)&argv[1], 1, options)
                              : NULL;
    if (list == NULL) {
        fprintf(stderr, "read_series: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        imd_options_destroy(options);
        return 2;
    }
    for (size_t i = 0; i < imd_series_list_count(list); i++) {
        const ImdSeries *s = imd_series_list_get(list, i);
        ImdStats stats;
        (void)imd_series_stats(NULL, s, &stats);
        for (size_t d = 0; d < imd_series_ndim(s); d++) {
            printf("%s%zu", d > 0 ? "x" : "", imd_series_dim(s, d));
        }
        printf(" %.17g\n", stats.sum);
    }
    imd_series_list_destroy(list);
    imd_options_destroy(options);
    return 0;
}
