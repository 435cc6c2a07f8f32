/*
 * pixel.c: uncompressed DICOM pixel data -> the series' element type.
 *
 * The pixel description comes from the Image Pixel module (PS3.3 C.7.6.3);
 * the encoding of the samples from PS3.5 §8 (samples of BitsAllocated bits,
 * of which BitsStored bits end at HighBit; 1-bit samples packed LSB first
 * across the whole value, frames not byte-aligned). Values are little-endian
 * in memory except where the parser could not know the sample size: a
 * big-endian value it swapped by its VR's unit (OW: 16 bits) while the
 * samples are wider or narrower; such frames are put right before decoding.
 */
#include "formats/dicom/dicom_format.h"

#include "dicom/codec.h"

#include <math.h>

#define MAX_FRAMES 1000000
#define MAX_DIMENSION 65535

/* Samples converted per step of the two-stage (extract, store) loops. */
#define CHUNK 1024

/* ---- transfer syntax ---- */

/*
 * The codec for the data set's pixel data (src/dicom/codec.c): NULL in *codec
 * for native pixel data. UNSUPPORTED for a syntax no codec decodes ("cannot
 * decode <name> (<uid>)") and for encapsulated pixel data in a native syntax;
 * CORRUPT for a compressed syntax whose pixel data is not encapsulated.
 */
static bool check_syntax(ImdError **error, const ImdDicomDataSet *dataset,
                         const ImdDicomElement *pixel_data, const ImdCodec **codec)
{
    *codec = NULL;
    const char *uid = imd_dicom_dataset_transfer_syntax(dataset);
    if (uid == NULL) {
        uid = "";
    }
    bool encapsulated = pixel_data != NULL && imd_dicom_element_is_encapsulated(pixel_data);
    if (!imd__codec_is_encapsulated(uid)) {
        if (!encapsulated) {
            return true;
        }
        const char *name = uid[0] == '\0' ? "a data set without a transfer syntax"
                                          : imd_dicom_uid_name(uid);
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "not supported yet: encapsulated pixel data in %s (%s)",
                      name != NULL ? name : "unknown transfer syntax", uid);
        return false;
    }
    *codec = imd__codec_find(error, uid);
    if (*codec == NULL) {
        return false;
    }
    if (pixel_data != NULL && !encapsulated) {
        const char *name = imd__codec_syntax_name(uid);
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "the pixel data of %s (%s) is not encapsulated (PS3.5 A.4)",
                      name != NULL ? name : "a compressed transfer syntax", uid);
        *codec = NULL;
        return false;
    }
    return true;
}

/* ---- attributes ---- */

/* An integer attribute; *present false (and *value untouched) when missing or empty. */
static bool read_int(ImdError **error, const ImdDicomDataSet *dataset, uint32_t tag,
                     const char *name, bool *present, int64_t *value)
{
    *present = false;
    const ImdDicomElement *element = imd_dicom_dataset_find(dataset, tag);
    if (element == NULL || imd_dicom_element_vm(element) == 0) {
        return true;
    }
    if (!imd_dicom_element_int(error, element, 0, value)) {
        imd_error_prefix(error, "%s ", name);
        return false;
    }
    *present = true;
    return true;
}

static bool read_required(ImdError **error, const ImdDicomDataSet *dataset, uint32_t tag,
                          const char *name, int64_t *value)
{
    bool present;
    if (!read_int(error, dataset, tag, name, &present, value)) {
        return false;
    }
    if (!present) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s (%04X,%04X) is missing", name,
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag));
        return false;
    }
    return true;
}

static bool read_number(ImdError **error, const ImdDicomDataSet *dataset, uint32_t tag,
                        const char *name, bool *present, double *value)
{
    *present = false;
    const ImdDicomElement *element = imd_dicom_dataset_find(dataset, tag);
    if (element == NULL || imd_dicom_element_vm(element) == 0) {
        return true;
    }
    if (!imd_dicom_element_number(error, element, 0, value)) {
        imd_error_prefix(error, "%s ", name);
        return false;
    }
    if (!isfinite(*value)) {
        imd_error_set(error, IMD_ERR_CORRUPT, "%s (%04X,%04X) is not a finite number", name,
                      IMD_TAG_GROUP(tag), IMD_TAG_ELEMENT(tag));
        return false;
    }
    *present = true;
    return true;
}

/* RescaleSlope/Intercept of the data set, or of the shared functional groups of an
 * enhanced multi-frame image (PS3.3 C.7.6.16.2.9) when the top level has none. */
static bool read_rescale(ImdError **error, const ImdDicomDataSet *dataset, double *slope,
                         double *intercept)
{
    bool has_slope, has_intercept;
    *slope = 1.0;
    *intercept = 0.0;
    if (!read_number(error, dataset, IMD_TAG_RescaleSlope, "RescaleSlope", &has_slope, slope) ||
        !read_number(error, dataset, IMD_TAG_RescaleIntercept, "RescaleIntercept",
                     &has_intercept, intercept)) {
        return false;
    }
    if (has_slope || has_intercept) {
        return true;
    }
    const ImdDicomElement *shared =
        imd_dicom_dataset_find(dataset, IMD_TAG_SharedFunctionalGroupsSequence);
    if (shared == NULL || imd_dicom_element_item_count(shared) == 0) {
        return true;
    }
    const ImdDicomElement *transformation = imd_dicom_dataset_find(
        imd_dicom_element_item(shared, 0), IMD_TAG_PixelValueTransformationSequence);
    if (transformation == NULL || imd_dicom_element_item_count(transformation) == 0) {
        return true;
    }
    const ImdDicomDataSet *item = imd_dicom_element_item(transformation, 0);
    return read_number(error, item, IMD_TAG_RescaleSlope, "RescaleSlope", &has_slope, slope) &&
           read_number(error, item, IMD_TAG_RescaleIntercept, "RescaleIntercept", &has_intercept,
                       intercept);
}

static bool is_ybr_422(const ImdPixelFormat *format)
{
    return strcmp(format->photometric, "YBR_FULL_422") == 0;
}

static bool is_ybr_full(const ImdPixelFormat *format)
{
    return strcmp(format->photometric, "YBR_FULL") == 0;
}

/* Photometric interpretations a codec may be given for 3 samples (PS3.5 §8.2;
 * PS3.3 C.7.6.3.1.2): each comes out of its codec as RGB or YBR_FULL. */
static bool is_compressed_colour(const char *photometric)
{
    static const char *const known[] = {"RGB",     "YBR_FULL",        "YBR_FULL_422",
                                        "YBR_RCT", "YBR_ICT",         "YBR_PARTIAL_422",
                                        "YBR_PARTIAL_420"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(photometric, known[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* The consistency of a pixel description: what decode_frame relies on.
 * `compressed`: the samples are encapsulated, and are checked again as the
 * codec decoded them (interleaved, their photometric after decoding). */
static bool check_format(ImdError **error, const ImdPixelFormat *f, bool compressed)
{
    if (memchr(f->photometric, '\0', sizeof f->photometric) == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "PhotometricInterpretation is not terminated");
        return false;
    }
    if (f->rows == 0 || f->columns == 0 || f->rows > MAX_DIMENSION ||
        f->columns > MAX_DIMENSION) {
        imd_error_set(error, IMD_ERR_CORRUPT, "image of %lu x %lu pixels (Rows x Columns)",
                      (unsigned long)f->rows, (unsigned long)f->columns);
        return false;
    }
    if (f->frames == 0 || f->frames > MAX_FRAMES) {
        imd_error_set(error, f->frames == 0 ? IMD_ERR_CORRUPT : IMD_ERR_LIMIT,
                      "NumberOfFrames %lu is outside 1 to %d", (unsigned long)f->frames,
                      MAX_FRAMES);
        return false;
    }
    unsigned allocated = f->bits_allocated;
    if (allocated == 64) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "not supported yet: BitsAllocated 64 (integer pixel data of 64 bits)");
        return false;
    }
    if (allocated != 1 && allocated != 8 && allocated != 16 && allocated != 32) {
        imd_error_set(error, allocated % 8 == 0 ? IMD_ERR_UNSUPPORTED : IMD_ERR_CORRUPT,
                      "BitsAllocated %u is not 1, 8, 16 or 32", allocated);
        return false;
    }
    if (f->bits_stored == 0 || f->bits_stored > allocated) {
        imd_error_set(error, IMD_ERR_CORRUPT, "BitsStored %u with BitsAllocated %u",
                      (unsigned)f->bits_stored, allocated);
        return false;
    }
    if (f->high_bit >= allocated || f->high_bit + 1u < f->bits_stored) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "HighBit %u with BitsStored %u and BitsAllocated %u",
                      (unsigned)f->high_bit, (unsigned)f->bits_stored, allocated);
        return false;
    }
    if (f->pixel_representation > 1) {
        imd_error_set(error, IMD_ERR_CORRUPT, "PixelRepresentation %u is not 0 or 1",
                      (unsigned)f->pixel_representation);
        return false;
    }
    if (f->samples_per_pixel != 1 && f->samples_per_pixel != 3) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "not supported yet: SamplesPerPixel %u (1 or 3 are)",
                      (unsigned)f->samples_per_pixel);
        return false;
    }
    if (!isfinite(f->slope) || !isfinite(f->intercept)) {
        imd_error_set(error, IMD_ERR_CORRUPT, "rescale slope or intercept is not finite");
        return false;
    }
    if (compressed && allocated == 1) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "BitsAllocated 1 in compressed pixel data (PS3.5 §8.2: 8 or more)");
        return false;
    }
    if (f->samples_per_pixel == 1) {
        return true;
    }
    /* Colour. */
    if (allocated != 8) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "not supported yet: colour (%s) with BitsAllocated %u (8 is)",
                      f->photometric, allocated);
        return false;
    }
    if (f->pixel_representation != 0) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "not supported yet: signed colour samples (%s, PixelRepresentation 1)",
                      f->photometric);
        return false;
    }
    if (f->planar_configuration > 1) {
        imd_error_set(error, IMD_ERR_CORRUPT, "PlanarConfiguration %u is not 0 or 1",
                      (unsigned)f->planar_configuration);
        return false;
    }
    if (compressed) {
        if (!is_compressed_colour(f->photometric)) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED,
                          "not supported yet: PhotometricInterpretation \"%s\" in compressed "
                          "pixel data",
                          f->photometric);
            return false;
        }
        return true;
    }
    if (is_ybr_422(f)) {
        if (f->planar_configuration != 0) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "YBR_FULL_422 with PlanarConfiguration 1 (PS3.3 C.7.6.3.1.2: 0)");
            return false;
        }
        if (f->columns % 2 != 0) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED,
                          "not supported yet: YBR_FULL_422 with an odd number of columns (%lu)",
                          (unsigned long)f->columns);
            return false;
        }
        return true;
    }
    if (strcmp(f->photometric, "RGB") != 0 && !is_ybr_full(f)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "not supported yet: PhotometricInterpretation \"%s\" in uncompressed "
                      "pixel data (RGB, YBR_FULL and YBR_FULL_422 are)",
                      f->photometric);
        return false;
    }
    return true;
}

/* Bytes (or for BitsAllocated 1, bits) of stored samples in one frame. */
static bool frame_units(const ImdPixelFormat *f, size_t *units)
{
    size_t pixels, samples;
    if (!imd__mul_size(f->rows, f->columns, &pixels)) {
        return false;
    }
    if (f->bits_allocated == 1) {
        *units = pixels;
        return true;
    }
    if (f->samples_per_pixel == 3 && is_ybr_422(f)) {
        /* Y1 Y2 Cb Cr per two pixels: two samples per pixel. */
        return imd__mul_size(pixels, 2, units);
    }
    return imd__mul_size(pixels, f->samples_per_pixel, &samples) &&
           imd__mul_size(samples, f->bits_allocated / 8u, units);
}

bool imd__dicom_pixel_format(ImdError **error, const ImdDicomDataSet *dataset,
                             ImdPixelFormat *format)
{
    if (dataset == NULL || format == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "no data set or pixel format");
        return false;
    }
    memset(format, 0, sizeof *format);
    const ImdDicomElement *pixel_data = imd_dicom_dataset_find(dataset, IMD_TAG_PixelData);
    const ImdCodec *codec;
    if (!check_syntax(error, dataset, pixel_data, &codec)) {
        return false;
    }
    if (pixel_data == NULL && (imd_dicom_dataset_find(dataset, IMD_TAG_FloatPixelData) != NULL ||
                               imd_dicom_dataset_find(dataset, IMD_TAG_DoubleFloatPixelData) !=
                                   NULL)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "not supported yet: Float Pixel Data (7FE0,0008) or Double Float "
                      "Pixel Data (7FE0,0009)");
        return false;
    }

    int64_t rows, columns, allocated, frames = 1, samples = 1, planar = 0, representation = 0;
    int64_t stored, high_bit;
    bool present;
    if (!read_required(error, dataset, IMD_TAG_Rows, "Rows", &rows) ||
        !read_required(error, dataset, IMD_TAG_Columns, "Columns", &columns) ||
        !read_required(error, dataset, IMD_TAG_BitsAllocated, "BitsAllocated", &allocated)) {
        return false;
    }
    if (rows < 1 || rows > MAX_DIMENSION || columns < 1 || columns > MAX_DIMENSION) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "Rows %lld and Columns %lld: each must be 1 to %d", (long long)rows,
                      (long long)columns, MAX_DIMENSION);
        return false;
    }
    if (allocated < 1 || allocated > 64) {
        imd_error_set(error, IMD_ERR_CORRUPT, "BitsAllocated %lld is not 1, 8, 16 or 32",
                      (long long)allocated);
        return false;
    }
    if (!read_int(error, dataset, IMD_TAG_NumberOfFrames, "NumberOfFrames", &present, &frames)) {
        return false;
    }
    if (!present || frames == 0) {
        frames = 1; /* absent or 0: one frame (pydicom does the same with 0) */
    }
    if (frames < 0 || frames > MAX_FRAMES) {
        imd_error_set(error, frames < 0 ? IMD_ERR_CORRUPT : IMD_ERR_LIMIT,
                      "NumberOfFrames %lld is outside 1 to %d", (long long)frames, MAX_FRAMES);
        return false;
    }
    if (!read_int(error, dataset, IMD_TAG_BitsStored, "BitsStored", &present, &stored)) {
        return false;
    }
    if (!present) {
        stored = allocated;
    }
    if (!read_int(error, dataset, IMD_TAG_HighBit, "HighBit", &present, &high_bit)) {
        return false;
    }
    if (!present) {
        high_bit = stored - 1;
    }
    if (stored < 1 || stored > allocated || high_bit < stored - 1 || high_bit >= allocated) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "BitsAllocated %lld, BitsStored %lld and HighBit %lld are inconsistent",
                      (long long)allocated, (long long)stored, (long long)high_bit);
        return false;
    }
    if (!read_int(error, dataset, IMD_TAG_PixelRepresentation, "PixelRepresentation", &present,
                  &representation) ||
        !read_int(error, dataset, IMD_TAG_SamplesPerPixel, "SamplesPerPixel", &present,
                  &samples) ||
        !read_int(error, dataset, IMD_TAG_PlanarConfiguration, "PlanarConfiguration", &present,
                  &planar)) {
        return false;
    }
    if (representation < 0 || representation > 1) {
        imd_error_set(error, IMD_ERR_CORRUPT, "PixelRepresentation %lld is not 0 or 1",
                      (long long)representation);
        return false;
    }
    if (samples < 1 || samples > 4) {
        imd_error_set(error, samples < 1 ? IMD_ERR_CORRUPT : IMD_ERR_UNSUPPORTED,
                      "SamplesPerPixel %lld is not 1 or 3", (long long)samples);
        return false;
    }
    if (planar < 0 || planar > 1) {
        if (samples == 1) {
            planar = 0; /* meaningless for one sample */
        } else {
            imd_error_set(error, IMD_ERR_CORRUPT, "PlanarConfiguration %lld is not 0 or 1",
                          (long long)planar);
            return false;
        }
    }
    format->rows = (uint32_t)rows;
    format->columns = (uint32_t)columns;
    format->frames = (uint32_t)frames;
    format->bits_allocated = (uint16_t)allocated;
    format->bits_stored = (uint16_t)stored;
    format->high_bit = (uint16_t)high_bit;
    format->pixel_representation = (uint16_t)representation;
    format->samples_per_pixel = (uint16_t)samples;
    format->planar_configuration = samples == 1 ? 0 : (uint16_t)planar;

    const ImdDicomElement *photometric =
        imd_dicom_dataset_find(dataset, IMD_TAG_PhotometricInterpretation);
    char *text = NULL;
    if (photometric != NULL && imd_dicom_element_vm(photometric) > 0) {
        ImdError *local = NULL;
        text = imd_dicom_element_string(&local, dataset, photometric);
        if (text == NULL) {
            ImdErrorCode code = imd_error_code(local);
            imd_error_set(error, code == IMD_ERR_NOMEM ? code : IMD_ERR_CORRUPT,
                          "PhotometricInterpretation (0028,0004): %s",
                          imd_error_message(local));
            imd_error_clear(&local);
            return false;
        }
    }
    const char *value = text;
    if (value == NULL || value[0] == '\0') {
        value = samples == 3 ? "RGB" : "MONOCHROME2";
    }
    size_t length = strlen(value);
    while (length > 0 && value[length - 1] == ' ') { /* trimmed (CS) */
        length--;
    }
    while (length > 0 && value[0] == ' ') {
        value++;
        length--;
    }
    if (length >= sizeof format->photometric) {
        length = sizeof format->photometric - 1;
    }
    memcpy(format->photometric, value, length);
    format->photometric[length] = '\0';
    free(text);

    if (!read_rescale(error, dataset, &format->slope, &format->intercept)) {
        return false;
    }
    size_t units, total;
    if (!check_format(error, format, codec != NULL)) {
        return false;
    }
    if (!frame_units(format, &units) || !imd__mul_size(units, format->frames, &total)) {
        imd_error_set(error, IMD_ERR_LIMIT,
                      "%lu frames of %lu x %lu pixels exceed the address space",
                      (unsigned long)format->frames, (unsigned long)format->rows,
                      (unsigned long)format->columns);
        return false;
    }
    return true;
}

/* ---- the series' element type ---- */

static bool has_rescale(const ImdPixelFormat *f)
{
    return fabs(f->slope - 1.0) > 1e-4 || fabs(f->intercept) > 1e-4;
}

ImdDType imd__dicom_series_dtype(const ImdPixelFormat *formats, size_t count)
{
    if (formats == NULL || count == 0) {
        return IMD_DTYPE_UINT16; /* behaviour.md §3.6: the default */
    }
    bool colour = false, all_bits = true, rescale = false, is_signed = false;
    unsigned widest = 8, widest_unsigned = 0;
    for (size_t i = 0; i < count; i++) {
        const ImdPixelFormat *f = &formats[i];
        colour |= f->samples_per_pixel == 3;
        rescale |= has_rescale(f);
        if (f->bits_allocated != 1) {
            all_bits = false;
            is_signed |= f->pixel_representation == 1;
            if (f->bits_allocated > widest) {
                widest = f->bits_allocated;
            }
            if (f->pixel_representation == 0 && f->bits_stored > widest_unsigned) {
                widest_unsigned = f->bits_stored;
            }
        }
    }
    /* Signed and unsigned images together: when the unsigned ones may use every
     * bit, the signed type of that width would clip them, so take the next wider
     * one rather than lose data. */
    if (is_signed && widest_unsigned >= widest && widest < 64) {
        widest *= 2;
    }
    if (colour) {
        return IMD_DTYPE_RGB8;
    }
    if (all_bits) {
        return IMD_DTYPE_BOOL;
    }
    if (rescale) {
        return IMD_DTYPE_FLOAT64;
    }
    if (widest <= 8) {
        return is_signed ? IMD_DTYPE_INT8 : IMD_DTYPE_UINT8;
    }
    if (widest <= 16) {
        return is_signed ? IMD_DTYPE_INT16 : IMD_DTYPE_UINT16;
    }
    if (widest <= 32) {
        return is_signed ? IMD_DTYPE_INT32 : IMD_DTYPE_UINT32;
    }
    return IMD_DTYPE_INT64;
}

/* ---- decoding ---- */

/* How stored samples become elements. */
typedef struct Conv {
    unsigned width;     /* bytes per stored sample: 1, 2, 4 (0: one bit) */
    unsigned shift;     /* HighBit + 1 - BitsStored */
    uint32_t mask;      /* BitsStored ones */
    uint32_t sign;      /* the sign bit after shifting; 0 for unsigned samples */
    ImdDType dtype;
    double slope, intercept;
    bool copy;          /* the stored samples are the elements: memcpy */
} Conv;

/* Stage 1: stored samples -> int64 values (masked, sign-extended). */
static void extract_samples(const Conv *c, const uint8_t *src, size_t count, int64_t *dst)
{
    const unsigned shift = c->shift;
    const uint32_t mask = c->mask, sign = c->sign;
    switch (c->width) {
    case 1:
        for (size_t i = 0; i < count; i++) {
            uint32_t v = ((uint32_t)src[i] >> shift) & mask;
            dst[i] = (int64_t)(v ^ sign) - (int64_t)sign;
        }
        break;
    case 2:
        for (size_t i = 0; i < count; i++) {
            uint32_t v = ((uint32_t)imd__load_le16(src + 2 * i) >> shift) & mask;
            dst[i] = (int64_t)(v ^ sign) - (int64_t)sign;
        }
        break;
    default:
        for (size_t i = 0; i < count; i++) {
            uint32_t v = (imd__load_le32(src + 4 * i) >> shift) & mask;
            dst[i] = (int64_t)(v ^ sign) - (int64_t)sign;
        }
        break;
    }
}

/* Stage 1 for BitsAllocated 1: bits from `bit` on, LSB first in each byte. */
static void extract_bits(const uint8_t *data, size_t bit, size_t count, int64_t *dst)
{
    for (size_t i = 0; i < count; i++, bit++) {
        dst[i] = (data[bit >> 3] >> (bit & 7u)) & 1u;
    }
}

#define CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))

#define STORE_CLAMPED(type, lo, hi)                                                        \
    do {                                                                                   \
        type *d = (type *)(void *)dst;                                                     \
        for (size_t i = 0; i < count; i++) {                                               \
            int64_t v = src[i];                                                            \
            d[i] = (type)CLAMP(v, (int64_t)(lo), (int64_t)(hi));                           \
        }                                                                                  \
    } while (0)

/* Stage 2: int64 values -> elements of c->dtype (clamped to its range; rescaled for floats). */
static void store_values(const Conv *c, const int64_t *src, size_t count, uint8_t *dst)
{
    const double slope = c->slope, intercept = c->intercept;
    switch (c->dtype) {
    case IMD_DTYPE_BOOL:
        for (size_t i = 0; i < count; i++) {
            dst[i] = src[i] != 0;
        }
        break;
    case IMD_DTYPE_UINT8:
        STORE_CLAMPED(uint8_t, 0, UINT8_MAX);
        break;
    case IMD_DTYPE_INT8:
        STORE_CLAMPED(int8_t, INT8_MIN, INT8_MAX);
        break;
    case IMD_DTYPE_UINT16:
        STORE_CLAMPED(uint16_t, 0, UINT16_MAX);
        break;
    case IMD_DTYPE_INT16:
        STORE_CLAMPED(int16_t, INT16_MIN, INT16_MAX);
        break;
    case IMD_DTYPE_UINT32:
        STORE_CLAMPED(uint32_t, 0, UINT32_MAX);
        break;
    case IMD_DTYPE_INT32:
        STORE_CLAMPED(int32_t, INT32_MIN, INT32_MAX);
        break;
    case IMD_DTYPE_UINT64:
        STORE_CLAMPED(uint64_t, 0, INT64_MAX);
        break;
    case IMD_DTYPE_INT64:
        STORE_CLAMPED(int64_t, INT64_MIN, INT64_MAX);
        break;
    case IMD_DTYPE_FLOAT32: {
        float *d = (float *)(void *)dst;
        for (size_t i = 0; i < count; i++) {
            d[i] = (float)((double)src[i] * slope + intercept);
        }
        break;
    }
    case IMD_DTYPE_FLOAT64: {
        double *d = (double *)(void *)dst;
        for (size_t i = 0; i < count; i++) {
            d[i] = (double)src[i] * slope + intercept;
        }
        break;
    }
    case IMD_DTYPE_RGB8: /* a grey image in a colour series: R = G = B */
        for (size_t i = 0; i < count; i++) {
            int64_t v = src[i];
            uint8_t grey = (uint8_t)CLAMP(v, 0, 255);
            dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = grey;
        }
        break;
    default:
        break; /* excluded by the caller */
    }
}

/* 16-bit samples into uint16 or int16: one tight loop, no intermediate. */
static void convert16(const Conv *c, const uint8_t *src, size_t count, uint8_t *dst)
{
    const unsigned shift = c->shift;
    const uint32_t mask = c->mask, sign = c->sign;
    if (c->dtype == IMD_DTYPE_UINT16) {
        uint16_t *d = (uint16_t *)(void *)dst;
        if (sign == 0) {
            for (size_t i = 0; i < count; i++) {
                d[i] = (uint16_t)(((uint32_t)imd__load_le16(src + 2 * i) >> shift) & mask);
            }
        } else {
            for (size_t i = 0; i < count; i++) {
                uint32_t v = ((uint32_t)imd__load_le16(src + 2 * i) >> shift) & mask;
                int32_t s = (int32_t)(v ^ sign) - (int32_t)sign;
                d[i] = (uint16_t)(s < 0 ? 0 : s);
            }
        }
    } else if (sign != 0 || mask <= 0x7fffu) {
        int16_t *d = (int16_t *)(void *)dst; /* always in range */
        for (size_t i = 0; i < count; i++) {
            uint32_t v = ((uint32_t)imd__load_le16(src + 2 * i) >> shift) & mask;
            d[i] = (int16_t)((int32_t)(v ^ sign) - (int32_t)sign);
        }
    } else {
        int16_t *d = (int16_t *)(void *)dst; /* 16 unsigned bits: clamped */
        for (size_t i = 0; i < count; i++) {
            uint32_t v = ((uint32_t)imd__load_le16(src + 2 * i) >> shift) & mask;
            int32_t s = (int32_t)(v ^ sign) - (int32_t)sign;
            d[i] = (int16_t)(s > INT16_MAX ? INT16_MAX : s);
        }
    }
}

/* `count` consecutive grey samples from sample (for one bit: bit) `start` of `data` -> dst. */
static void convert_grey(const Conv *c, const uint8_t *data, size_t start, size_t count,
                         uint8_t *dst)
{
    size_t size = imd_dtype_size(c->dtype);
    if (c->width == 0) {
        if (c->dtype == IMD_DTYPE_BOOL || c->dtype == IMD_DTYPE_UINT8) {
            size_t bit = start;
            for (size_t i = 0; i < count; i++, bit++) {
                dst[i] = (uint8_t)((data[bit >> 3] >> (bit & 7u)) & 1u);
            }
            return;
        }
        int64_t values[CHUNK];
        for (size_t done = 0; done < count;) {
            size_t n = count - done < CHUNK ? count - done : CHUNK;
            extract_bits(data, start + done, n, values);
            store_values(c, values, n, dst + done * size);
            done += n;
        }
        return;
    }
    const uint8_t *src = data + start * c->width;
    if (c->copy) {
        memcpy(dst, src, count * c->width);
        return;
    }
    if (c->width == 2 && (c->dtype == IMD_DTYPE_UINT16 || c->dtype == IMD_DTYPE_INT16)) {
        convert16(c, src, count, dst);
        return;
    }
    int64_t values[CHUNK];
    for (size_t done = 0; done < count;) {
        size_t n = count - done < CHUNK ? count - done : CHUNK;
        extract_samples(c, src + done * c->width, n, values);
        store_values(c, values, n, dst + done * size);
        done += n;
    }
}

/* round(x) clamped to 0..255 (PS3.3 C.7.6.3.1.2 values are full range). */
#define TO_U8(x) ((x) <= 0.0 ? (uint8_t)0 : (x) >= 255.0 ? (uint8_t)255 : (uint8_t)((x) + 0.5))

/* YBR_FULL -> RGB in place: the inverse of the equations of PS3.3 C.7.6.3.1.2. */
static void ybr_to_rgb(uint8_t *p, size_t count)
{
    static const double cr_r = 1.402, cb_b = 1.772;
    static const double cb_g = 0.114 * 1.772 / 0.587, cr_g = 0.299 * 1.402 / 0.587;
    for (size_t i = 0; i < count; i++, p += 3) {
        double y = p[0], cb = (double)p[1] - 128.0, cr = (double)p[2] - 128.0;
        double r = y + cr_r * cr;
        double g = y - cb_g * cb - cr_g * cr;
        double b = y + cb_b * cb;
        p[0] = TO_U8(r);
        p[1] = TO_U8(g);
        p[2] = TO_U8(b);
    }
}

/* `count` colour pixels from pixel `first` of a frame of `pixels` pixels -> RGB triplets. */
static void convert_colour(const ImdPixelFormat *f, const Conv *c, const uint8_t *frame,
                           size_t pixels, size_t first, size_t count, uint8_t *dst)
{
    if (is_ybr_422(f)) {
        /* Y1 Y2 Cb Cr for each two pixels (first and count are even: Columns is). */
        const uint8_t *s = frame + 2 * first;
        uint8_t *o = dst;
        for (size_t i = 0; i + 1 < count; i += 2, s += 4, o += 6) {
            o[0] = s[0];
            o[3] = s[1];
            o[1] = o[4] = s[2];
            o[2] = o[5] = s[3];
        }
    } else if (f->planar_configuration == 0) {
        memcpy(dst, frame + 3 * first, 3 * count);
    } else {
        const uint8_t *r = frame + first, *g = r + pixels, *b = g + pixels;
        for (size_t i = 0; i < count; i++) {
            dst[3 * i] = r[i];
            dst[3 * i + 1] = g[i];
            dst[3 * i + 2] = b[i];
        }
    }
    if (c->shift != 0 || c->mask != 0xffu) {
        const unsigned shift = c->shift;
        const uint32_t mask = c->mask;
        for (size_t i = 0; i < 3 * count; i++) {
            dst[i] = (uint8_t)((dst[i] >> shift) & mask);
        }
    }
    if (is_ybr_full(f) || is_ybr_422(f)) {
        ybr_to_rgb(dst, count);
    }
}

/*
 * Bytes [start, start + length) of a big-endian value as little-endian samples of
 * `width` bytes (1: the file's byte order), when the parser reversed each `unit`
 * bytes of the `size`-byte value (its VR's unit) instead.
 */
static void unswap(const uint8_t *data, size_t size, size_t start, size_t length,
                   size_t unit, size_t width, uint8_t *out)
{
    size_t swapped = size - size % unit; /* a trailing partial unit was left alone */
    for (size_t j = 0; j < length; j++) {
        size_t a = start + j;
        size_t k = a - a % width + (width - 1 - a % width); /* the file's byte */
        size_t m = k < swapped ? k - k % unit + (unit - 1 - k % unit) : k;
        out[j] = data[m];
    }
}

static bool dtype_supported(ImdDType dtype)
{
    switch (dtype) {
    case IMD_DTYPE_BOOL:
    case IMD_DTYPE_UINT8:
    case IMD_DTYPE_INT8:
    case IMD_DTYPE_UINT16:
    case IMD_DTYPE_INT16:
    case IMD_DTYPE_UINT32:
    case IMD_DTYPE_INT32:
    case IMD_DTYPE_UINT64:
    case IMD_DTYPE_INT64:
    case IMD_DTYPE_FLOAT32:
    case IMD_DTYPE_FLOAT64:
    case IMD_DTYPE_RGB8:
        return true;
    default:
        return false;
    }
}

/* Is `dtype` the stored sample type itself (no masking, no conversion)? */
static bool is_identity(const ImdPixelFormat *f, ImdDType dtype)
{
    if (f->bits_stored != f->bits_allocated || f->samples_per_pixel != 1) {
        return false;
    }
    bool is_signed = f->pixel_representation == 1;
    switch (f->bits_allocated) {
    case 8:
        return dtype == (is_signed ? IMD_DTYPE_INT8 : IMD_DTYPE_UINT8);
    case 16:
        return dtype == (is_signed ? IMD_DTYPE_INT16 : IMD_DTYPE_UINT16);
    case 32:
        return dtype == (is_signed ? IMD_DTYPE_INT32 : IMD_DTYPE_UINT32);
    default:
        return false;
    }
}

/* Stored samples of one frame (`first_bit` into frame_data for one bit) -> out. */
static void convert_frame(const ImdPixelFormat *format, const uint8_t *frame_data,
                          size_t first_bit, ImdDType dtype, void *out, size_t out_rows,
                          size_t out_columns)
{
    const size_t rows = format->rows, columns = format->columns, pixels = rows * columns;
    const size_t element_size = imd_dtype_size(dtype);
    const size_t out_row_bytes = out_columns * element_size;
    Conv c;
    c.width = format->bits_allocated / 8u;
    c.shift = (unsigned)(format->high_bit + 1u - format->bits_stored);
    c.mask = format->bits_stored >= 32 ? UINT32_MAX : (UINT32_C(1) << format->bits_stored) - 1u;
    c.sign = format->pixel_representation == 1 ? UINT32_C(1) << (format->bits_stored - 1u) : 0;
    if (format->bits_allocated == 1) {
        c.sign = 0;
    }
    c.dtype = dtype;
    c.slope = format->slope;
    c.intercept = format->intercept;
    c.copy = is_identity(format, dtype);

    uint8_t *dst = out;
    const bool padded = rows < out_rows || columns < out_columns;
    if (padded) {
        memset(dst, 0, out_rows * out_row_bytes);
    }
    /* Without padding the frame is one run of pixels; with it, one run per row. */
    const size_t runs = columns == out_columns ? 1 : rows;
    const size_t run = columns == out_columns ? pixels : columns;
    for (size_t r = 0; r < runs; r++) {
        size_t first = r * run;
        uint8_t *target = dst + r * out_row_bytes;
        if (format->samples_per_pixel == 3) {
            convert_colour(format, &c, frame_data, pixels, first, run, target);
        } else {
            convert_grey(&c, frame_data, first_bit + first, run, target);
        }
    }
}

/*
 * Frame `frame` of encapsulated pixel data through its codec into `native`
 * (the frame's uncompressed bytes, native_size of them). `decoded` is
 * `format` as the codec delivered the samples: interleaved, with the
 * photometric interpretation after decoding.
 */
static bool decode_encapsulated(ImdError **error, const ImdDicomDataSet *dataset,
                                const ImdDicomElement *pixel_data, const ImdCodec *codec,
                                const ImdPixelFormat *format, size_t frame, uint8_t *native,
                                size_t native_size, ImdPixelFormat *decoded)
{
    size_t eot_size = 0, eot_lengths_size = 0;
    const ImdDicomElement *eot = imd_dicom_dataset_find(dataset, IMD_TAG_ExtendedOffsetTable);
    const ImdDicomElement *eot_lengths =
        imd_dicom_dataset_find(dataset, IMD_TAG_ExtendedOffsetTableLengths);
    ImdEncapInput input = {0};
    input.fragments = pixel_data->fragment_count > 0 ? pixel_data->fragments + 1 : NULL;
    input.fragment_count = pixel_data->fragment_count > 0 ? pixel_data->fragment_count - 1 : 0;
    input.basic_offsets = imd_dicom_element_offset_table(pixel_data, &input.basic_size);
    if (eot != NULL && eot_lengths != NULL) {
        input.extended_offsets = imd_dicom_element_bytes(eot, &eot_size);
        input.extended_size = eot_size;
        input.extended_lengths = imd_dicom_element_bytes(eot_lengths, &eot_lengths_size);
        input.extended_lengths_size = eot_lengths_size;
    }
    input.frames = format->frames;
    input.is_frame_start = codec->is_frame_start;
    ImdEncapFrame located;
    if (!imd__encap_locate(error, &input, frame, &located)) {
        return false;
    }
    ImdCodecFrame description = {
        .rows = format->rows,
        .columns = format->columns,
        .samples_per_pixel = format->samples_per_pixel,
        .bits_allocated = format->bits_allocated,
        .bits_stored = format->bits_stored,
        .pixel_representation = format->pixel_representation,
        .planar_configuration = format->planar_configuration,
    };
    memcpy(description.photometric, format->photometric, sizeof description.photometric);
    bool ok = codec->decode(error, located.data, located.size, &description, native, native_size);
    free(located.owned);
    if (!ok) {
        imd_error_prefix(error, "frame %zu: ", frame);
        return false;
    }
    *decoded = *format;
    decoded->planar_configuration = 0;
    description.photometric[sizeof description.photometric - 1] = '\0';
    /* A codec that keeps subsampled chroma's name delivers it at full resolution. */
    if (strcmp(description.photometric, "YBR_FULL_422") == 0) {
        strcpy(description.photometric, "YBR_FULL");
    }
    memcpy(decoded->photometric, description.photometric, sizeof decoded->photometric);
    return true;
}

bool imd__dicom_decode_native(ImdError **error, const ImdDicomDataSet *dataset,
                              const ImdPixelFormat *format, size_t frame, uint8_t **out,
                              size_t *out_size, ImdPixelFormat *decoded)
{
    *out = NULL;
    *out_size = 0;
    if (dataset == NULL || format == NULL || decoded == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "no data set or pixel format");
        return false;
    }
    const ImdDicomElement *pixel_data = imd_dicom_dataset_find(dataset, IMD_TAG_PixelData);
    const ImdCodec *codec;
    if (!check_syntax(error, dataset, pixel_data, &codec)) {
        return false;
    }
    if (codec == NULL || pixel_data == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "the pixel data is not encapsulated");
        return false;
    }
    if (frame >= format->frames) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "frame %zu of an image of %lu frames", frame,
                      (unsigned long)format->frames);
        return false;
    }
    ImdCodecFrame description = {.rows = format->rows,
                                 .columns = format->columns,
                                 .samples_per_pixel = format->samples_per_pixel,
                                 .bits_allocated = format->bits_allocated};
    size_t size;
    if (!imd__codec_frame_bytes(error, &description, &size)) {
        return false;
    }
    uint8_t *native = imd__malloc(error, size > 0 ? size : 1);
    if (native == NULL) {
        return false;
    }
    if (!decode_encapsulated(error, dataset, pixel_data, codec, format, frame, native, size,
                             decoded)) {
        free(native);
        return false;
    }
    *out = native;
    *out_size = size;
    return true;
}

bool imd__dicom_frame_present(ImdError **error, const ImdDicomDataSet *dataset,
                              const ImdPixelFormat *format, size_t frame)
{
    const ImdDicomElement *pixel_data = imd_dicom_dataset_find(dataset, IMD_TAG_PixelData);
    if (pixel_data == NULL || imd_dicom_element_is_encapsulated(pixel_data)) {
        return true; /* none: the decode says so; compressed: the codec checks its sizes */
    }
    size_t size = 0, units, end;
    (void)imd_dicom_element_bytes(pixel_data, &size);
    if (!frame_units(format, &units) || !imd__mul_size(units, frame + 1, &end)) {
        imd_error_set(error, IMD_ERR_LIMIT, "frame %zu exceeds the address space", frame);
        return false;
    }
    if (format->bits_allocated == 1) {
        end = end / 8 + (end % 8 != 0);
    }
    if (size < end) {
        imd_error_set(error, IMD_ERR_CORRUPT, "pixel data has %zu bytes, frame %zu needs %zu",
                      size, frame, end);
        return false;
    }
    return true;
}

bool imd__dicom_decode_frame(ImdError **error, const ImdDicomDataSet *dataset,
                             const ImdPixelFormat *format, size_t frame, ImdDType dtype,
                             void *out, size_t out_rows, size_t out_columns)
{
    if (dataset == NULL || format == NULL || out == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "no data set, pixel format or output");
        return false;
    }
    const ImdDicomElement *pixel_data = imd_dicom_dataset_find(dataset, IMD_TAG_PixelData);
    const ImdCodec *codec;
    if (!check_syntax(error, dataset, pixel_data, &codec)) {
        return false;
    }
    if (!check_format(error, format, codec != NULL)) {
        return false;
    }
    const bool colour = format->samples_per_pixel == 3;
    if (!dtype_supported(dtype) || (colour && dtype != IMD_DTYPE_RGB8)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "cannot decode %s pixels as %s",
                      format->photometric,
                      imd_dtype_name(dtype) ? imd_dtype_name(dtype) : "an invalid type");
        return false;
    }
    if (frame >= format->frames) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "frame %zu of an image of %lu frames", frame,
                      (unsigned long)format->frames);
        return false;
    }
    const size_t rows = format->rows, columns = format->columns;
    if (rows > out_rows || columns > out_columns) {
        imd_error_set(error, IMD_ERR_CORRUPT,
                      "image of %zu x %zu pixels is larger than the series' %zu x %zu", rows,
                      columns, out_rows, out_columns);
        return false;
    }
    const size_t element_size = imd_dtype_size(dtype);
    size_t out_pixels, out_bytes, out_row_bytes;
    if (!imd__mul_size(out_rows, out_columns, &out_pixels) ||
        !imd__mul_size(out_pixels, element_size, &out_bytes) ||
        !imd__mul_size(out_columns, element_size, &out_row_bytes)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "output of %zu x %zu elements is too large",
                      out_rows, out_columns);
        return false;
    }
    if (pixel_data == NULL) {
        imd_error_set(error, IMD_ERR_CORRUPT, "no Pixel Data (7FE0,0010)");
        return false;
    }

    if (codec != NULL) {
        /* Compressed: the codec writes the frame's native samples, which are
         * then converted exactly as uncompressed ones. When they are already
         * the output (same type, same size, grey), straight into `out`. */
        ImdCodecFrame description = {.rows = format->rows,
                                     .columns = format->columns,
                                     .samples_per_pixel = format->samples_per_pixel,
                                     .bits_allocated = format->bits_allocated};
        size_t native_size;
        if (!imd__codec_frame_bytes(error, &description, &native_size)) {
            return false;
        }
        const bool direct = !colour && is_identity(format, dtype) && rows == out_rows &&
                            columns == out_columns && native_size == out_bytes;
        uint8_t *native = direct ? out : imd__malloc(error, native_size);
        if (native == NULL) {
            return false;
        }
        ImdPixelFormat decoded;
        bool ok = decode_encapsulated(error, dataset, pixel_data, codec, format, frame, native,
                                      native_size, &decoded) &&
                  check_format(error, &decoded, false);
        if (ok && !direct) {
            convert_frame(&decoded, native, 0, dtype, out, out_rows, out_columns);
        }
        if (!direct) {
            free(native);
        }
        return ok;
    }

    size_t size = 0;
    const uint8_t *data = imd_dicom_element_bytes(pixel_data, &size);

    /* Where the frame is: bytes [start, end) of the value. */
    size_t units, start, end, first_bit = 0;
    if (!frame_units(format, &units) || !imd__mul_size(units, frame, &start) ||
        !imd__add_size(start, units, &end)) {
        imd_error_set(error, IMD_ERR_LIMIT, "frame %zu exceeds the address space", frame);
        return false;
    }
    if (format->bits_allocated == 1) {
        first_bit = start & 7u; /* units are bits: frames are not byte-aligned */
        start /= 8;
        end = end / 8 + (end % 8 != 0);
    }
    if (data == NULL || size < end) {
        imd_error_set(error, IMD_ERR_CORRUPT, "pixel data has %zu bytes, frame %zu needs %zu",
                      data == NULL ? (size_t)0 : size, frame, end);
        return false;
    }

    /* A big-endian value swapped by its VR's unit, not by the sample size. */
    uint8_t *normalized = NULL;
    const char *syntax = imd_dicom_dataset_transfer_syntax(dataset);
    size_t width = format->bits_allocated / 8u; /* 0 for one bit */
    if (syntax != NULL && strcmp(syntax, IMD_UID_EXPLICIT_VR_BE) == 0) {
        size_t unit = imd__dicom_vr_unit(imd_dicom_element_vr(pixel_data));
        size_t sample = width == 0 ? 1 : width;
        if (unit == 0) {
            unit = 1;
        }
        if (unit != sample) {
            normalized = imd__malloc(error, end - start);
            if (normalized == NULL) {
                return false;
            }
            unswap(data, size, start, end - start, unit, sample, normalized);
        }
    }
    const uint8_t *frame_data = normalized != NULL ? normalized : data + start;
    convert_frame(format, frame_data, first_bit, dtype, out, out_rows, out_columns);
    free(normalized);
    return true;
}
