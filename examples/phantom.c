/*
 * phantom.c: a C API example. It builds a 4D series (time, slice, row,
 * column) holding a synthetic phantom with real geometry, writes it with a
 * format plugin into an archive, reads it back and checks that the voxels
 * and the geometry survived.
 *
 *   phantom PLUGIN.so OUTPUT_URL        e.g. phantom imd_example_raw.so out/phantom.zip
 */
#include <imagedata/imagedata.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static int fail(ImdError **error)
{
    fprintf(stderr, "phantom: %s (%s)\n", imd_error_message(*error),
            imd_error_code_name(imd_error_code(*error)));
    imd_error_clear(error);
    return 1;
}

/* A ball whose brightness rises over time, in a 4 x 8 x 32 x 32 series. */
static ImdSeries *make_phantom(ImdError **error)
{
    size_t shape[4] = {4, 8, 32, 32};
    ImdSeries *series = imd_series_create(error, IMD_DTYPE_UINT16, 4, shape);
    if (series == NULL) {
        return NULL;
    }
    uint16_t *voxel = imd_series_data(series);
    for (size_t t = 0; t < 4; t++) {
        for (size_t s = 0; s < 8; s++) {
            for (size_t r = 0; r < 32; r++) {
                for (size_t c = 0; c < 32; c++) {
                    double dz = (double)s - 3.5, dy = (double)r - 15.5, dx = (double)c - 15.5;
                    bool inside = dx * dx + dy * dy + 16 * dz * dz < 144;
                    *voxel++ = (uint16_t)(inside ? 1000 + 250 * t : 10);
                }
            }
        }
    }
    /* Geometry: 2 mm slices along z, 1 mm pixels, first voxel at (-16, -16, 0). */
    ImdHeader *header = imd_series_header(series);
    double spacing[3] = {2, 1, 1};
    double times[4] = {0, 2.5, 5, 7.5};
    ImdVec3 positions[8];
    for (size_t s = 0; s < 8; s++) {
        positions[s] = (ImdVec3){-16, -16, 2.0 * (double)s};
    }
    ImdAxis *time = imd_axis_create_numbers(error, "time", times, 4);
    if (time == NULL || !imd_series_set_input_order(error, series, "time") ||
        !imd_series_set_axis(error, series, 0, time) ||
        !imd_series_set_spacing(error, series, spacing) ||
        !imd_header_set_image_positions(error, header, positions, 8) ||
        !imd_header_set_string(error, header, "SeriesDescription", "imagedata phantom")) {
        imd_series_destroy(series);
        return NULL;
    }
    imd_header_set_geometry_defined(header, true);
    return series;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: phantom PLUGIN.so OUTPUT_URL\n");
        return 1;
    }
    ImdError *error = NULL;
    ImdContext *context = imd_context_create(&error);
    if (context == NULL || !imd_context_load_plugin(&error, context, argv[1])) {
        imd_context_destroy(context);
        return fail(&error);
    }
    ImdSeries *phantom = make_phantom(&error);
    ImdSeries *back = NULL;
    int code = 0;
    if (phantom == NULL || !imd_write(&error, context, phantom, argv[2], "imdraw", NULL) ||
        (back = imd_read_one(&error, context, argv[2], NULL)) == NULL) {
        code = fail(&error);
    } else if (imd_series_nbytes(back) != imd_series_nbytes(phantom) ||
               memcmp(imd_series_const_data(back), imd_series_const_data(phantom),
                      imd_series_nbytes(phantom)) != 0) {
        fprintf(stderr, "phantom: the voxels read back differ from those written\n");
        code = 1;
    } else {
        double spacing[3];
        imd_series_spacing(back, spacing);
        printf("phantom: wrote and read back %zux%zux%zux%zu %s, spacing %g %g %g mm, "
               "input order %s\n",
               imd_series_dim(back, 0), imd_series_dim(back, 1), imd_series_dim(back, 2),
               imd_series_dim(back, 3), imd_dtype_name(imd_series_dtype(back)), spacing[0],
               spacing[1], spacing[2], imd_header_input_order(imd_series_const_header(back)));
    }
    imd_series_destroy(back);
    imd_series_destroy(phantom);
    imd_context_destroy(context);
    return code;
}
