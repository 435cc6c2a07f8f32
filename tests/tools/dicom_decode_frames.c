/*
 * dicom_decode_frames: a test tool. Decodes every frame of one DICOM file
 * through the DICOM pixel code (formats/dicom/pixel.c) and writes them, one
 * after the other, so that oracles (pydicom, dcmtk, gdcm) can compare:
 *   dicom_decode_frames --native FILE OUT   the codec's output: the bytes an
 *        uncompressed little-endian file would hold (compressed files only)
 *   dicom_decode_frames --typed FILE OUT    imd__dicom_decode_frame into the
 *        element type the series reader would choose (masked, sign-extended,
 *        colour as RGB)
 * Prints one line of JSON: frames, rows, columns, samples, bits_allocated,
 * bits_stored, pixel_representation, the photometric interpretation after
 * decoding (native) and the dtype (typed). Exit 0 on success; 5 when the
 * file is refused as unsupported (the message on stderr); 2 otherwise.
 */
#include "formats/dicom/dicom_format.h"

#include <stdio.h>
#include <string.h>

static int fail(ImdError **error, const char *path)
{
    int code = imd_error_code(*error) == IMD_ERR_UNSUPPORTED ? 5 : 2;
    fprintf(stderr, "dicom_decode_frames: %s: %s (%s)\n", path, imd_error_message(*error),
            imd_error_code_name(imd_error_code(*error)));
    imd_error_clear(error);
    return code;
}

/* An integer attribute, or `fallback`. */
static int64_t int_of(const ImdDicomDataSet *dataset, uint32_t tag, int64_t fallback)
{
    const ImdDicomElement *element = imd_dicom_dataset_find(dataset, tag);
    int64_t value;
    ImdError *error = NULL;
    if (element == NULL || imd_dicom_element_vm(element) == 0 ||
        !imd_dicom_element_int(&error, element, 0, &value)) {
        imd_error_clear(&error);
        return fallback;
    }
    return value;
}

/* The pixel description read without the series reader's limits (16- and
 * 32-bit colour), for --native: what the codec is given. */
static void loose_format(const ImdDicomDataSet *dataset, ImdPixelFormat *f)
{
    memset(f, 0, sizeof *f);
    f->rows = (uint32_t)int_of(dataset, IMD_TAG(0x0028, 0x0010), 0);
    f->columns = (uint32_t)int_of(dataset, IMD_TAG(0x0028, 0x0011), 0);
    f->frames = (uint32_t)int_of(dataset, IMD_TAG(0x0028, 0x0008), 1);
    f->frames = f->frames == 0 ? 1 : f->frames;
    f->samples_per_pixel = (uint16_t)int_of(dataset, IMD_TAG(0x0028, 0x0002), 1);
    f->bits_allocated = (uint16_t)int_of(dataset, IMD_TAG(0x0028, 0x0100), 0);
    f->bits_stored = (uint16_t)int_of(dataset, IMD_TAG(0x0028, 0x0101), f->bits_allocated);
    f->high_bit = (uint16_t)int_of(dataset, IMD_TAG(0x0028, 0x0102), f->bits_stored - 1);
    f->pixel_representation = (uint16_t)int_of(dataset, IMD_TAG(0x0028, 0x0103), 0);
    f->planar_configuration = (uint16_t)int_of(dataset, IMD_TAG(0x0028, 0x0006), 0);
    f->slope = 1.0;
    const ImdDicomElement *pi = imd_dicom_dataset_find(dataset, IMD_TAG(0x0028, 0x0004));
    ImdError *error = NULL;
    char *text = pi != NULL ? imd_dicom_element_string(&error, dataset, pi) : NULL;
    imd_error_clear(&error);
    snprintf(f->photometric, sizeof f->photometric, "%s",
             text != NULL ? text : f->samples_per_pixel == 3 ? "RGB" : "MONOCHROME2");
    imd_free(text);
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "--native") != 0 && strcmp(argv[1], "--typed") != 0)) {
        fprintf(stderr, "usage: dicom_decode_frames --native|--typed FILE OUT\n");
        return 1;
    }
    const bool native = strcmp(argv[1], "--native") == 0;
    const char *path = argv[2];
    ImdError *error = NULL;
    ImdDicomDataSet *dataset = imd_dicom_read_file(&error, path, NULL);
    if (dataset == NULL) {
        return fail(&error, path);
    }
    ImdPixelFormat format;
    if (!imd__dicom_pixel_format(&error, dataset, &format)) {
        if (!native || imd_error_code(error) != IMD_ERR_UNSUPPORTED) {
            imd_dicom_dataset_destroy(dataset);
            return fail(&error, path);
        }
        imd_error_clear(&error);
        loose_format(dataset, &format);
    }
    FILE *out = fopen(argv[3], "wb");
    if (out == NULL) {
        perror(argv[3]);
        imd_dicom_dataset_destroy(dataset);
        return 2;
    }
    ImdDType dtype = imd__dicom_series_dtype(&format, 1);
    ImdPixelFormat decoded = format;
    int status = 0;
    for (size_t frame = 0; frame < format.frames && status == 0; frame++) {
        uint8_t *bytes = NULL;
        size_t size = 0;
        if (native) {
            if (!imd__dicom_decode_native(&error, dataset, &format, frame, &bytes, &size,
                                          &decoded)) {
                status = fail(&error, path);
                break;
            }
        } else {
            size = (size_t)format.rows * format.columns * imd_dtype_size(dtype);
            bytes = malloc(size);
            if (bytes == NULL ||
                !imd__dicom_decode_frame(&error, dataset, &format, frame, dtype, bytes,
                                         format.rows, format.columns)) {
                free(bytes);
                status = bytes == NULL ? 2 : fail(&error, path);
                break;
            }
        }
        if (fwrite(bytes, 1, size, out) != size) {
            perror(argv[3]);
            status = 2;
        }
        free(bytes);
    }
    if (fclose(out) != 0) {
        status = 2;
    }
    if (status == 0) {
        printf("{\"frames\": %lu, \"rows\": %lu, \"columns\": %lu, \"samples\": %u, "
               "\"bits_allocated\": %u, \"bits_stored\": %u, \"pixel_representation\": %u, "
               "\"photometric\": \"%s\", \"dtype\": \"%s\"}\n",
               (unsigned long)format.frames, (unsigned long)format.rows,
               (unsigned long)format.columns, format.samples_per_pixel, format.bits_allocated,
               format.bits_stored, format.pixel_representation, decoded.photometric,
               imd_dtype_name(dtype));
    }
    imd_dicom_dataset_destroy(dataset);
    return status;
}
