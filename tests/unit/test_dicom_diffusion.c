/*
 * test_dicom_diffusion.c: b values and gradient directions from the vendors'
 * private elements, read through the whole DICOM reader (files written here,
 * read back as one series with the default order).
 *
 * Oracles: the values written into the synthetic files, and the standard
 * elements: the same series with DiffusionBValue (0018,9087) and
 * DiffusionGradientOrientation (0018,9089) must read to the same (b,
 * direction) pairs. Where the vendor elements are and what they mean:
 * pydicom 2.3.1's private dictionary (GEMS_ACQU_01 (0019,xxBB-BD) User data
 * 20-22; GEMS_PARM_01 (0043,xx39) Slop_int_6... slop_int_9; Philips Imaging
 * DD 001 (2001,xx03) Diffusion B-Factor; Philips MR Imaging DD 001
 * (2005,xxB0-B2) Diffusion Direction RL, AP, FH), and dcm2niix, which takes
 * GE's three as x, y, z (kDiffusionDirectionGEX/Y/Z) and Philips' RL, AP, FH
 * as x, y, z of the same patient frame as (0018,9089). The private blocks are
 * placed at xx10 and xx11 so that the creator, not a fixed tag, finds them
 * (PS3.5 §7.8.1).
 */
#define _POSIX_C_SOURCE 200809L
#include "imd_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { ROWS = 4, COLUMNS = 4, SLICES = 2, VOLUMES = 3 };

typedef enum Vendor { STANDARD, GE, PHILIPS, PHILIPS_AND_STANDARD } Vendor;

/* b and direction of each volume: a b = 0, then two directions of b = 1000. */
static const double b_of[VOLUMES] = {0, 1000, 1000};
static const double direction_of[VOLUMES][3] = {{0, 0, 0}, {0.6, -0.8, 0}, {0, 0.28, -0.96}};

static bool put_text(ImdError **error, ImdDicomDataSet *d, uint32_t tag, ImdVR vr,
                     const char *value)
{
    return imd_dicom_dataset_set_string(error, d, tag, vr, value);
}

static bool put_numbers(ImdError **error, ImdDicomDataSet *d, uint32_t tag, ImdVR vr,
                        const double *values, size_t count)
{
    return imd_dicom_dataset_set_numbers(error, d, tag, vr, values, count);
}

static bool put_diffusion(ImdError **error, ImdDicomDataSet *d, Vendor vendor, size_t volume)
{
    const double *v = direction_of[volume];
    double b = b_of[volume];
    bool ok = true;
    if (vendor == STANDARD || vendor == PHILIPS_AND_STANDARD) {
        ok = put_numbers(error, d, IMD_TAG(0x0018, 0x9087), IMD_VR_FD, &b, 1) &&
             put_numbers(error, d, IMD_TAG(0x0018, 0x9089), IMD_VR_FD, v, 3);
    }
    if (ok && vendor == GE) {
        /* GE: creators at (0019,0011) and (0043,0010): blocks 0x1100 and 0x1000. */
        double slop[4] = {b, 8, 0, 0};
        ok = put_text(error, d, IMD_TAG(0x0019, 0x0011), IMD_VR_LO, "GEMS_ACQU_01") &&
             put_numbers(error, d, IMD_TAG(0x0019, 0x11BB), IMD_VR_DS, &v[0], 1) &&
             put_numbers(error, d, IMD_TAG(0x0019, 0x11BC), IMD_VR_DS, &v[1], 1) &&
             put_numbers(error, d, IMD_TAG(0x0019, 0x11BD), IMD_VR_DS, &v[2], 1) &&
             put_text(error, d, IMD_TAG(0x0043, 0x0010), IMD_VR_LO, "GEMS_PARM_01") &&
             put_numbers(error, d, IMD_TAG(0x0043, 0x1039), IMD_VR_IS, slop, 4);
    }
    if (ok && (vendor == PHILIPS || vendor == PHILIPS_AND_STANDARD)) {
        /* Philips: (2001,0010) and (2005,0011): blocks 0x1000 and 0x1100. With the
         * standard elements too, the private direction is a wrong one (negated):
         * the standard's must win. */
        double sign = vendor == PHILIPS_AND_STANDARD ? -1 : 1;
        double rl = sign * v[0], ap = sign * v[1], fh = sign * v[2];
        ok = put_text(error, d, IMD_TAG(0x2001, 0x0010), IMD_VR_LO, "Philips Imaging DD 001") &&
             put_numbers(error, d, IMD_TAG(0x2001, 0x1003), IMD_VR_FL, &b, 1) &&
             put_text(error, d, IMD_TAG(0x2005, 0x0010), IMD_VR_LO, "Philips MR Imaging DD 002") &&
             put_text(error, d, IMD_TAG(0x2005, 0x0011), IMD_VR_LO, "Philips MR Imaging DD 001") &&
             put_numbers(error, d, IMD_TAG(0x2005, 0x11B0), IMD_VR_FL, &rl, 1) &&
             put_numbers(error, d, IMD_TAG(0x2005, 0x11B1), IMD_VR_FL, &ap, 1) &&
             put_numbers(error, d, IMD_TAG(0x2005, 0x11B2), IMD_VR_FL, &fh, 1);
    }
    return ok;
}

/* One image: slice `slice` of volume `volume`, pixels that say which. */
static bool write_image(ImdError **error, const char *folder, Vendor vendor, size_t volume,
                        size_t slice)
{
    ImdDicomDataSet *d = imd_dicom_dataset_create(error);
    if (d == NULL) {
        return false;
    }
    char uid[64], path[512];
    size_t instance = volume * SLICES + slice + 1;
    (void)snprintf(uid, sizeof uid, "1.2.826.0.1.3680043.2.1143.777.%d.%zu", (int)vendor,
                   instance);
    (void)snprintf(path, sizeof path, "%s/im%02zu.dcm", folder, instance);
    double position[3] = {-10, -20, 5.0 * (double)slice};
    double orientation[6] = {1, 0, 0, 0, 1, 0};
    double spacing[2] = {2, 2};
    double rows = ROWS, columns = COLUMNS, one = 1, sixteen = 16, twelve = 12, eleven = 11;
    double zero = 0, number = (double)instance, series = 7;
    uint16_t pixels[ROWS * COLUMNS];
    for (size_t i = 0; i < ROWS * COLUMNS; i++) {
        pixels[i] = (uint16_t)(100 * volume + 10 * slice + i);
    }
    bool ok =
        put_text(error, d, IMD_TAG(0x0008, 0x0016), IMD_VR_UI, "1.2.840.10008.5.1.4.1.1.4") &&
        put_text(error, d, IMD_TAG(0x0008, 0x0018), IMD_VR_UI, uid) &&
        put_text(error, d, IMD_TAG(0x0008, 0x0060), IMD_VR_CS, "MR") &&
        put_text(error, d, IMD_TAG(0x0010, 0x0020), IMD_VR_LO, "diffusion") &&
        put_text(error, d, IMD_TAG(0x0020, 0x000D), IMD_VR_UI, "1.2.826.0.1.3680043.2.1143.777.1") &&
        put_text(error, d, IMD_TAG(0x0020, 0x000E), IMD_VR_UI, "1.2.826.0.1.3680043.2.1143.777.2") &&
        put_numbers(error, d, IMD_TAG(0x0020, 0x0011), IMD_VR_IS, &series, 1) &&
        put_numbers(error, d, IMD_TAG(0x0020, 0x0013), IMD_VR_IS, &number, 1) &&
        put_numbers(error, d, IMD_TAG(0x0020, 0x0032), IMD_VR_DS, position, 3) &&
        put_numbers(error, d, IMD_TAG(0x0020, 0x0037), IMD_VR_DS, orientation, 6) &&
        put_numbers(error, d, IMD_TAG(0x0028, 0x0002), IMD_VR_US, &one, 1) &&
        put_text(error, d, IMD_TAG(0x0028, 0x0004), IMD_VR_CS, "MONOCHROME2") &&
        put_numbers(error, d, IMD_TAG(0x0028, 0x0010), IMD_VR_US, &rows, 1) &&
        put_numbers(error, d, IMD_TAG(0x0028, 0x0011), IMD_VR_US, &columns, 1) &&
        put_numbers(error, d, IMD_TAG(0x0028, 0x0030), IMD_VR_DS, spacing, 2) &&
        put_numbers(error, d, IMD_TAG(0x0028, 0x0100), IMD_VR_US, &sixteen, 1) &&
        put_numbers(error, d, IMD_TAG(0x0028, 0x0101), IMD_VR_US, &twelve, 1) &&
        put_numbers(error, d, IMD_TAG(0x0028, 0x0102), IMD_VR_US, &eleven, 1) &&
        put_numbers(error, d, IMD_TAG(0x0028, 0x0103), IMD_VR_US, &zero, 1) &&
        put_diffusion(error, d, vendor, volume) &&
        imd_dicom_dataset_set_bytes(error, d, IMD_TAG(0x7FE0, 0x0010), IMD_VR_OW, pixels,
                                    sizeof pixels);
    ImdStream *stream = ok ? imd_stream_open_file(error, path, IMD_MODE_WRITE) : NULL;
    ok = stream != NULL && imd_dicom_write(error, d, stream, NULL);
    ok = stream != NULL && (ok ? imd_stream_close(error, stream) : (imd_stream_abort(stream), false));
    imd_dicom_dataset_destroy(d);
    return ok;
}

static void remove_folder(const char *folder)
{
    DIR *dir = opendir(folder);
    struct dirent *entry;
    while (dir != NULL && (entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.') {
            char path[512];
            (void)snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
            (void)unlink(path);
        }
    }
    if (dir != NULL) {
        (void)closedir(dir);
    }
    (void)rmdir(folder);
}

/* Write the series, read it with the default order; NULL (a failed check) on error. */
static ImdSeries *read_series(Vendor vendor)
{
    char folder[] = "/tmp/imd-test-diffusion-XXXXXX";
    if (mkdtemp(folder) == NULL) {
        IMD_FAIL_AT("cannot make a temporary folder");
        return NULL;
    }
    ImdError *error = NULL;
    bool ok = true;
    for (size_t v = 0; ok && v < VOLUMES; v++) {
        for (size_t s = 0; ok && s < SLICES; s++) {
            ok = write_image(&error, folder, vendor, v, s);
        }
    }
    ImdSeries *series = ok ? imd_read_one(&error, NULL, folder, NULL) : NULL;
    if (series == NULL) {
        IMD_FAIL_AT("vendor %d: %s", (int)vendor, imd_error_message(error));
        imd_error_clear(&error);
    }
    remove_folder(folder);
    return series;
}

/* The series is 4D, ordered dti, each volume the (b, direction) written. */
static void check_pairs(Vendor vendor)
{
    ImdSeries *series = read_series(vendor);
    if (series == NULL) {
        return;
    }
    const ImdHeader *header = imd_series_const_header(series);
    CHECK_STR(imd_header_input_order(header), "dti");
    REQUIRE(imd_header_tag_ndim(header) == 1);
    REQUIRE(imd_header_tag_shape(header, 0) == VOLUMES);
    REQUIRE(imd_header_tag_slices(header) == SLICES);
    for (size_t s = 0; s < SLICES; s++) {
        for (size_t v = 0; v < VOLUMES; v++) {
            const ImdValue *value = imd_header_tag(header, s, &v);
            REQUIRE(value != NULL);
            CHECK_INT(value->kind, IMD_VALUE_B_VECTOR);
            REQUIRE(value->count == 4);
            CHECK_NEAR(value->v[0], b_of[v], 1e-9);
            for (size_t c = 0; c < 3; c++) {
                /* FL holds the directions in single precision */
                CHECK_NEAR(value->v[1 + c], direction_of[v][c], 1e-6);
            }
        }
    }
    /* the voxels of volume v, slice s start at 100 v + 10 s */
    const uint16_t *data = imd_series_const_data(series);
    REQUIRE(imd_series_dtype(series) == IMD_DTYPE_UINT16);
    CHECK_INT(data[(2 * SLICES + 1) * ROWS * COLUMNS], 210);
    imd_series_destroy(series);
}

IMD_TEST(standard_elements)
{
    check_pairs(STANDARD);
}

IMD_TEST(ge_user_data_20_to_22)
{
    check_pairs(GE);
}

IMD_TEST(philips_rl_ap_fh)
{
    check_pairs(PHILIPS);
}

IMD_TEST(standard_wins_over_philips)
{
    check_pairs(PHILIPS_AND_STANDARD);
}

IMD_TEST_MAIN(IMD_CASE(standard_elements), IMD_CASE(ge_user_data_20_to_22),
              IMD_CASE(philips_rl_ap_fh), IMD_CASE(standard_wins_over_philips))
