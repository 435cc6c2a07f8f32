/*
 * make_dicom_series: a C API example that writes a synthetic 4D MR series as
 * DICOM files (one file per time point and slice), with the geometry and
 * timing a scanner writes, so that the project has sample data of its own.
 *
 *   make_dicom_series FOLDER [TIMES [SLICES [SIZE]]]
 */
#define _POSIX_C_SOURCE 200809L
#include <imagedata/imagedata.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef struct Phantom {
    unsigned times, slices, size;
    char study[65], series[65], frame[65];
} Phantom;

static bool set(ImdError **error, ImdDicomDataSet *d, const char *keyword, const char *value)
{
    uint32_t tag;
    if (!imd_dicom_tag(keyword, &tag)) {
        imd_error_set(error, IMD_ERR_INTERNAL, "unknown keyword %s", keyword);
        return false;
    }
    return imd_dicom_dataset_set_string(error, d, tag, 0, value);
}

static bool set_numbers(ImdError **error, ImdDicomDataSet *d, const char *keyword,
                        const double *values, size_t count)
{
    uint32_t tag;
    return imd_dicom_tag(keyword, &tag) &&
           imd_dicom_dataset_set_numbers(error, d, tag, 0, values, count);
}

/* A ball whose signal rises with time, centred in a tilted (oblique) volume. */
static void fill_pixels(const Phantom *p, unsigned t, unsigned s, uint16_t *pixels)
{
    double c = (p->size - 1) / 2.0, radius = p->size / 3.0;
    for (unsigned r = 0; r < p->size; r++) {
        for (unsigned col = 0; col < p->size; col++) {
            double dz = ((double)s - (p->slices - 1) / 2.0) * 4, dy = r - c, dx = col - c;
            bool inside = dx * dx + dy * dy + dz * dz < radius * radius;
            pixels[r * p->size + col] = (uint16_t)(inside ? 400 + 150 * t + (r + col) % 7 : 20);
        }
    }
}

static bool geometry(ImdError **error, ImdDicomDataSet *d, const Phantom *p, unsigned s)
{
    /* Oblique: rotated 10 degrees about x; 2 mm pixels, 5 mm slices. */
    double a = 10 * acos(-1.0) / 180;
    double row[3] = {1, 0, 0}, column[3] = {0, cos(a), sin(a)};
    double normal[3] = {0, -sin(a), cos(a)};
    double position[3], spacing[2] = {2, 2}, thickness = 5;
    for (int i = 0; i < 3; i++) {
        position[i] = -(double)p->size * (row[i] + column[i]) + 5.0 * s * normal[i];
    }
    double orientation[6] = {row[0], row[1], row[2], column[0], column[1], column[2]};
    double location = 5.0 * s;
    return set_numbers(error, d, "ImagePositionPatient", position, 3) &&
           set_numbers(error, d, "ImageOrientationPatient", orientation, 6) &&
           set_numbers(error, d, "PixelSpacing", spacing, 2) &&
           set_numbers(error, d, "SliceThickness", &thickness, 1) &&
           set_numbers(error, d, "SpacingBetweenSlices", &thickness, 1) &&
           set_numbers(error, d, "SliceLocation", &location, 1);
}

static bool identity(ImdError **error, ImdDicomDataSet *d, const Phantom *p, unsigned number)
{
    char uid[65], time[32], instance[16];
    double acquisition = 36000 + 2.5 * (number / p->slices);
    snprintf(time, sizeof time, "%02d%02d%09.6f", (int)(acquisition / 3600),
             (int)fmod(acquisition / 60, 60), fmod(acquisition, 60));
    snprintf(instance, sizeof instance, "%u", number + 1);
    return imd_uid_generate(error, uid) &&
           set(error, d, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.4") &&
           set(error, d, "SOPInstanceUID", uid) && set(error, d, "StudyDate", "20261125") &&
           set(error, d, "StudyTime", "100000") && set(error, d, "AcquisitionTime", time) &&
           set(error, d, "Modality", "MR") && set(error, d, "PatientName", "PHANTOM^DEMO") &&
           set(error, d, "PatientID", "IMD-DEMO-1") && set(error, d, "StudyInstanceUID", p->study) &&
           set(error, d, "SeriesInstanceUID", p->series) &&
           set(error, d, "FrameOfReferenceUID", p->frame) && set(error, d, "SeriesNumber", "7") &&
           set(error, d, "SeriesDescription", "imagedata demo dynamic") &&
           set(error, d, "InstanceNumber", instance) && set(error, d, "ImageType", "ORIGINAL\\PRIMARY");
}

static bool pixel_module(ImdError **error, ImdDicomDataSet *d, const Phantom *p, unsigned t,
                         unsigned s, uint16_t *pixels)
{
    double one = 1, size = p->size, bits = 16, stored = 12, high = 11, zero = 0;
    fill_pixels(p, t, s, pixels);
    return set(error, d, "PhotometricInterpretation", "MONOCHROME2") &&
           set_numbers(error, d, "SamplesPerPixel", &one, 1) &&
           set_numbers(error, d, "Rows", &size, 1) && set_numbers(error, d, "Columns", &size, 1) &&
           set_numbers(error, d, "BitsAllocated", &bits, 1) &&
           set_numbers(error, d, "BitsStored", &stored, 1) &&
           set_numbers(error, d, "HighBit", &high, 1) &&
           set_numbers(error, d, "PixelRepresentation", &zero, 1) &&
           imd_dicom_dataset_set_bytes(error, d, IMD_TAG(0x7fe0, 0x0010), IMD_VR_OW, pixels,
                                       (size_t)p->size * p->size * 2);
}

static bool write_image(ImdError **error, const Phantom *p, const char *folder, unsigned t,
                        unsigned s, uint16_t *pixels)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/IM%03u_%03u.dcm", folder, t, s);
    ImdDicomDataSet *d = imd_dicom_dataset_create(error);
    ImdStream *stream = NULL;
    bool ok = d != NULL && identity(error, d, p, t * p->slices + s) && geometry(error, d, p, s) &&
              pixel_module(error, d, p, t, s, pixels) &&
              (stream = imd_stream_open_file(error, path, IMD_MODE_WRITE)) != NULL &&
              imd_dicom_write(error, d, stream, NULL);
    ok = stream != NULL && (ok ? imd_stream_close(error, stream) : (imd_stream_abort(stream), false));
    imd_dicom_dataset_destroy(d);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: make_dicom_series FOLDER [TIMES [SLICES [SIZE]]]\n");
        return 1;
    }
    Phantom p = {argc > 2 ? (unsigned)atoi(argv[2]) : 4, argc > 3 ? (unsigned)atoi(argv[3]) : 12,
                 argc > 4 ? (unsigned)atoi(argv[4]) : 64, "", "", ""};
    ImdError *error = NULL;
    uint16_t *pixels = calloc((size_t)p.size * p.size, sizeof *pixels);
    mkdir(argv[1], 0755);
    bool ok = pixels != NULL && p.times > 0 && p.slices > 0 && p.size > 0 &&
              imd_uid_generate(&error, p.study) && imd_uid_generate(&error, p.series) &&
              imd_uid_generate(&error, p.frame);
    for (unsigned t = 0; ok && t < p.times; t++) {
        for (unsigned s = 0; ok && s < p.slices; s++) {
            ok = write_image(&error, &p, argv[1], t, s, pixels);
        }
    }
    free(pixels);
    if (!ok) {
        fprintf(stderr, "make_dicom_series: %s\n", error ? imd_error_message(error) : "bad arguments");
        imd_error_clear(&error);
        return 1;
    }
    printf("make_dicom_series: wrote %u x %u images of %u x %u into %s\n", p.times, p.slices,
           p.size, p.size, argv[1]);
    return 0;
}
