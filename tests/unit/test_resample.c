/*
 * test_resample.c: imd_series_resample (issue 23 item 1) and the move back
 * onto a grid that is the same voxels in another axis order (regrid.c).
 * Values are a linear ramp in patient space, so that linear interpolation
 * must reproduce the ramp exactly wherever the grid lies inside the data.
 */
#include <imagedata/imagedata.h>

#include "imd_test.h"

#include <math.h>

/* A 4x5x6 series (slices, rows, columns) at `origin`, spacing `step`, axial. */
static ImdSeries *volume(double origin_x, double step, bool ramp)
{
    ImdError *error = NULL;
    size_t shape[3] = {4, 5, 6};
    ImdSeries *s = imd_series_create(&error, IMD_DTYPE_FLOAT32, 3, shape);
    if (s == NULL) {
        imd_error_clear(&error);
        return NULL;
    }
    float *data = imd_series_data(s);
    ImdVec3 positions[4];
    for (size_t k = 0; k < 4; k++) {
        positions[k] = (ImdVec3){origin_x, 0, (double)k * step};
        for (size_t r = 0; r < 5; r++) {
            for (size_t c = 0; c < 6; c++) {
                double x = origin_x + (double)c * step, y = (double)r * step;
                double z = (double)k * step;
                data[(k * 5 + r) * 6 + c] = ramp ? (float)(x + 10 * y + 100 * z) : 0;
            }
        }
    }
    double spacing[3] = {step, step, step};
    ImdHeader *h = imd_series_header(s);
    bool ok = imd_series_set_spacing(&error, s, spacing) &&
              imd_header_set_orientation(&error, h, (ImdVec3){1, 0, 0}, (ImdVec3){0, 1, 0}) &&
              imd_header_set_image_positions(&error, h, positions, 4);
    imd_header_set_geometry_defined(h, true);
    if (!ok) {
        imd_error_clear(&error);
        imd_series_destroy(s);
        return NULL;
    }
    return s;
}

IMD_TEST(linear_reproduces_a_ramp)
{
    ImdSeries *data = volume(0, 2, true);
    ImdSeries *grid = volume(1, 2, false); /* half a voxel to the right */
    REQUIRE(data != NULL && grid != NULL);
    ImdError *error = NULL;
    CHECK_OK(error, imd_series_resample(&error, data, grid, IMD_INTERPOLATION_LINEAR));
    CHECK(imd_series_dtype(data) == IMD_DTYPE_FLOAT64);
    const double *v = imd_series_const_data(data);
    /* Inside (columns 0..4 of the grid lie within the data's 0..10 mm): the ramp. */
    double worst = 0;
    for (size_t k = 0; k < 4; k++) {
        for (size_t r = 0; r < 5; r++) {
            for (size_t c = 0; c < 5; c++) {
                double want = 1 + 2.0 * (double)c + 10 * 2.0 * (double)r + 100 * 2.0 * (double)k;
                worst = fmax(worst, fabs(v[(k * 5 + r) * 6 + c] - want));
            }
            CHECK(v[(k * 5 + r) * 6 + 5] == 0); /* x = 11: outside */
        }
    }
    CHECK(worst < 1e-4);
    ImdVec3 p;
    CHECK(imd_header_image_position(imd_series_const_header(data), 0, &p) && p.x == 1);
    CHECK_STR(imd_header_get_string(imd_series_const_header(data), "ImageType"),
              "DERIVED\\SECONDARY");
    CHECK(strstr(imd_header_get_string(imd_series_const_header(data), "DerivationDescription"),
                 "linear") != NULL);
    imd_series_destroy(data);
    imd_series_destroy(grid);
}

IMD_TEST(nearest_keeps_type_and_values)
{
    ImdSeries *data = volume(0, 2, true);
    ImdSeries *grid = volume(0.4, 2, false); /* 0.2 voxel: nearest is the same voxel */
    REQUIRE(data != NULL && grid != NULL);
    ImdSeries *copy = volume(0, 2, true);
    REQUIRE(copy != NULL);
    ImdError *error = NULL;
    CHECK_OK(error, imd_series_resample(&error, data, grid, IMD_INTERPOLATION_NEAREST));
    CHECK(imd_series_dtype(data) == IMD_DTYPE_FLOAT32);
    CHECK(memcmp(imd_series_const_data(data), imd_series_const_data(copy),
                 imd_series_nbytes(copy)) == 0);
    /* No geometry: refused, not guessed. */
    size_t shape[3] = {2, 2, 2};
    ImdSeries *bare = imd_series_create(&error, IMD_DTYPE_UINT8, 3, shape);
    REQUIRE(bare != NULL);
    CHECK_FAILS(error, imd_series_resample(&error, bare, grid, IMD_INTERPOLATION_LINEAR),
                IMD_ERR_INVALID_ARG);
    imd_series_destroy(bare);
    imd_series_destroy(copy);
    imd_series_destroy(data);
    imd_series_destroy(grid);
}

IMD_TEST_MAIN(IMD_CASE(linear_reproduces_a_ramp), IMD_CASE(nearest_keeps_type_and_values))
