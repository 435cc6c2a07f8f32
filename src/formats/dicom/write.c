/*
 * write.c: a series as a DICOM series, one Part 10 file per (tag cell,
 * slice) (behaviour.md §4, with the bugs of §12 fixed; docs/dicom-writing.md).
 *
 * Per file: a base data set (the template minus pixel data and per-instance
 * attributes, or a Secondary Capture instance built from the header), the
 * geometry of the slice, the series labels, the tag values of the cell, the
 * pixels (as stored, or scaled into 16 bits with RescaleSlope/Intercept over
 * the whole series, rounded), then Explicit VR Little Endian.
 */
#define _POSIX_C_SOURCE 200809L
#include "formats/dicom/dicom_format.h"
#include "formats/dicom/enhanced_write.h"
#include "dicom/codec.h"
#include "model/model_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#define SC_SOP_CLASS "1.2.840.10008.5.1.4.1.1.7"

/* How voxels become stored pixels (PS3.3 C.7.6.3, C.11.1.1.2 for the rescale). */
typedef struct Pixels {
    ImdDType stored;        /* uint8, int8, uint16, int16 or rgb8 */
    bool rescaled;          /* stored = round((x - intercept) / slope) */
    double slope, intercept;
    double min, max;        /* real-world range of the whole series */
} Pixels;

typedef struct Job {
    const ImdSeries *series;
    const ImdHeader *header;
    const ImdOptions *options;
    ImdArchive *archive;
    const char *name;
    size_t tag_ndim, tag_shape[IMD_MAX_TAG_DIMS], cells, slices, rows, columns;
    ImdInputOrder order; /* the header's input order: the names of the tag components */
    bool keep_uid, by_tag, multi;
    bool enhanced;                   /* one multi-frame file (enhanced_write.c) */
    const char *transfer_syntax;     /* output_transfer_syntax as a UID */
    Pixels pixels;
    double window_center, window_width;
    bool has_window;                 /* the series' own window, not one from the data */
    unsigned bits_stored;            /* 0: all bits allocated */
    double thickness;                /* SliceThickness to write */
    char series_uid[IMD_UID_SIZE];
    char date[9], time[14];          /* now: DA and TM */
    ImdDicomDataSet *base;
    uint16_t siemens_block;          /* "SIEMENS MR HEADER" in group 0019 of the base, or 0 */
    ImdDicomDataSet *instance;       /* the file being written */
    double *plane;                   /* one image as float64 (rescale path) */
    uint8_t *stored;                 /* one image as stored */
} Job;

/* ---- small helpers ---- */

static bool set_text(ImdError **error, ImdDicomDataSet *d, uint32_t tag, const char *value)
{
    return imd_dicom_dataset_set_string(error, d, tag, 0, value != NULL ? value : "");
}

static bool set_number(ImdError **error, ImdDicomDataSet *d, uint32_t tag, ImdVR vr,
                       double value)
{
    return imd_dicom_dataset_set_numbers(error, d, tag, vr, &value, 1);
}

static const char *header_or(const ImdHeader *header, const char *keyword, const char *fallback)
{
    const char *value = imd_header_get_string(header, keyword);
    return value != NULL && value[0] != '\0' ? value : fallback;
}

/*
 * Pictures (PostScript/PDF pages, PNG, JPEG, TIFF) are Secondary Capture
 * images even when a template gives their patient and study: the MR and CT
 * IODs allow neither RGB nor 8-bit pixels (PS3.3 C.8.3.1.1, C.8.2.1.1). Their
 * readers set ConversionType (SC Equipment module, PS3.3 C.8.6.1), which
 * add_template leaves alone; the template's data set is then not cloned,
 * only the identity the template put in the header is written.
 */
static bool is_secondary_capture(const ImdHeader *header)
{
    return imd_header_get_string(header, "ConversionType") != NULL;
}

/* "MR", "MRImageStorage" or a UID (behaviour.md §1.3, the SOPClassUID setter). */
static const char *sop_class(const ImdHeader *header)
{
    if (is_secondary_capture(header)) {
        return SC_SOP_CLASS;
    }
    static const struct {
        const char *short_name, *uid;
    } names[] = {{"SC", SC_SOP_CLASS},
                 {"MR", "1.2.840.10008.5.1.4.1.1.4"},
                 {"CT", "1.2.840.10008.5.1.4.1.1.2"},
                 {"PT", "1.2.840.10008.5.1.4.1.1.128"}};
    const char *value = header_or(header, "SOPClassUID", SC_SOP_CLASS);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(value, names[i].short_name) == 0) {
            return names[i].uid;
        }
    }
    const char *uid = imd_dicom_uid_for_keyword(value);
    return uid != NULL ? uid : value;
}

/* Seconds since midnight as TM "HHMMSS.ffffff", modulo 24 h (§4 step 6). */
static void format_tm(double seconds, char out[32])
{
    double day = fmod(seconds, 86400.0);
    day = day < 0 ? day + 86400.0 : day;
    long micro = lround(day * 1e6);
    if (micro >= 86400000000L) {
        micro -= 86400000000L;
    }
    long s = micro / 1000000;
    snprintf(out, 32, "%02ld%02ld%02ld.%06ld", s / 3600, (s / 60) % 60, s % 60, micro % 1000000);
}

/* ---- the base data set ---- */

/* Elements that describe one instance or its pixels: made anew for every file. */
static const uint32_t per_instance[] = {
    IMD_TAG_SOPInstanceUID,
    IMD_TAG_ContentDate,
    IMD_TAG_ContentTime,
    IMD_TAG_InstanceNumber,
    IMD_TAG_ImagePositionPatient,
    IMD_TAG_SliceLocation,
    IMD_TAG_SamplesPerPixel, IMD_TAG_PhotometricInterpretation, IMD_TAG_PlanarConfiguration,
    IMD_TAG_Rows, IMD_TAG_Columns, IMD_TAG_BitsAllocated,
    IMD_TAG_BitsStored, IMD_TAG_HighBit, IMD_TAG_PixelRepresentation,
    IMD_TAG_SmallestImagePixelValue, IMD_TAG_LargestImagePixelValue,
    IMD_TAG_SmallestPixelValueInSeries, IMD_TAG_LargestPixelValueInSeries,
    IMD_TAG_WindowCenter, IMD_TAG_WindowWidth, IMD_TAG_WindowCenterWidthExplanation,
    IMD_TAG_RescaleIntercept, IMD_TAG_RescaleSlope, IMD_TAG_RescaleType,
    IMD_TAG_ModalityLUTSequence, /* replaced by the rescale */
    IMD_TAG_VOILUTSequence,      /* the window replaces it */
    IMD_TAG_LossyImageCompression, IMD_TAG_LossyImageCompressionRatio,
    IMD_TAG_LossyImageCompressionMethod,
    IMD_TAG_PixelData,
};

/* A Secondary Capture instance from the header alone (§4 step 1, documented defaults). */
static bool base_without_template(ImdError **error, Job *job, ImdDicomDataSet *d)
{
    const ImdHeader *h = job->header;
    return set_text(error, d, IMD_TAG_ImageType,
                    header_or(h, "ImageType", "DERIVED\\SECONDARY")) &&
           set_text(error, d, IMD_TAG_StudyDate, header_or(h, "StudyDate", job->date)) &&
           set_text(error, d, IMD_TAG_StudyTime, header_or(h, "StudyTime", "000000")) &&
           set_text(error, d, IMD_TAG_SeriesDate, header_or(h, "SeriesDate", job->date)) &&
           set_text(error, d, IMD_TAG_SeriesTime, header_or(h, "SeriesTime", job->time)) &&
           set_text(error, d, IMD_TAG_AccessionNumber, header_or(h, "AccessionNumber", "")) &&
           set_text(error, d, IMD_TAG_Modality, header_or(h, "Modality", "OT")) &&
           set_text(error, d, IMD_TAG_ReferringPhysicianName, "") &&
           set_text(error, d, IMD_TAG_PatientName, header_or(h, "PatientName", "NA")) &&
           set_text(error, d, IMD_TAG_PatientID, header_or(h, "PatientID", "NA")) &&
           set_text(error, d, IMD_TAG_PatientBirthDate, header_or(h, "PatientBirthDate", "")) &&
           set_text(error, d, IMD_TAG_PatientSex, "O") &&
           set_text(error, d, IMD_TAG_StudyID, header_or(h, "StudyID", "0")) &&
           set_text(error, d, IMD_TAG_PatientOrientation, "") && /* type 2 */
           (imd_header_get_string(h, "Laterality") == NULL ||
            set_text(error, d, IMD_TAG_Laterality, imd_header_get_string(h, "Laterality")));
}

/*
 * Does the data set already hold this text? Then its bytes stay as they are,
 * in the template's character set: a Latin-1 PatientName read from the
 * template is not re-encoded (non-ASCII text can only be set in UTF-8 data
 * sets, dicom.h).
 */
static bool same_text(const ImdDicomDataSet *d, uint32_t tag, const char *value)
{
    const ImdDicomElement *element = imd_dicom_dataset_find(d, tag);
    char *text = element != NULL ? imd_dicom_element_string(NULL, d, element) : NULL;
    bool same = text != NULL && strcmp(text, value) == 0;
    free(text);
    return same;
}

/* Identity and labels from the header, over the template's values (§4 steps 1 and 3). */
static bool set_identity(ImdError **error, Job *job, ImdDicomDataSet *d)
{
    static const struct {
        const char *keyword;
        uint32_t tag;
    } copied[] = {
        {"StudyInstanceUID", IMD_TAG_StudyInstanceUID},
        {"StudyID", IMD_TAG_StudyID},
        {"AccessionNumber", IMD_TAG_AccessionNumber},
        {"PatientName", IMD_TAG_PatientName},
        {"PatientID", IMD_TAG_PatientID},
        {"PatientBirthDate", IMD_TAG_PatientBirthDate},
        {"SeriesDescription", IMD_TAG_SeriesDescription},
        {"ImageType", IMD_TAG_ImageType},
        {"DerivationDescription", IMD_TAG_DerivationDescription},
        {"FrameOfReferenceUID", IMD_TAG_FrameOfReferenceUID},
    };
    const ImdHeader *h = job->header;
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        const char *value = imd_header_get_string(h, copied[i].keyword);
        if (value != NULL && !same_text(d, copied[i].tag, value) &&
            !set_text(error, d, copied[i].tag, value)) {
            return false;
        }
    }
    if (imd_header_get_string(h, "ImageType") == NULL &&
        imd_dicom_dataset_find(d, IMD_TAG_ImageType) == NULL &&
        !set_text(error, d, IMD_TAG_ImageType, "DERIVED\\SECONDARY")) {
        return false;
    }
    return set_text(error, d, IMD_TAG_SOPClassUID, sop_class(h)) &&
           set_text(error, d, IMD_TAG_SeriesInstanceUID, job->series_uid) &&
           set_text(error, d, IMD_TAG_SeriesNumber, header_or(h, "SeriesNumber", "1"));
}

/*
 * Siemens' CSA image header (0029,xx10) describes one image (its position,
 * diffusion and timing); copied from the template into every file it would
 * contradict the other attributes (dcm2niix reads it), so it is dropped.
 * The CSA series header (0029,xx20) is kept.
 */
static void drop_per_image_private(ImdDicomDataSet *d)
{
    uint32_t tag = imd__dicom_private_tag(d, IMD_PRIVATE_SiemensCsaImageHeaderInfo);
    if (tag != 0) {
        (void)imd_dicom_dataset_remove(d, tag);
    }
}

/*
 * Written images are single slices: a template's mosaic markers would send a
 * reader (ours, dcm2niix: "Mosaic inferred without CSA header") looking for
 * tiles that are not there. Siemens marks a mosaic with MOSAIC in ImageType
 * and (0019,xx0A), its tile times in (0019,xx29); United Imaging marks its
 * grids with VFRAME and (0065,xx04/50/51) (dcm_qa_stc/In/Siemens, /UIH).
 */
static bool drop_tiling(ImdError **error, ImdDicomDataSet *d)
{
    const ImdPrivateTag markers[] = {
        IMD_PRIVATE_SiemensMrNumberOfImagesInMosaic, IMD_PRIVATE_SiemensMrMosaicRefAcqTimes,
        IMD_PRIVATE_UihMosaicTileSize, IMD_PRIVATE_UihMosaicTileCount,
        IMD_PRIVATE_UihMosaicTilePositions,
    };
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++) {
        uint32_t tag = imd__dicom_private_tag(d, markers[i]);
        if (tag != 0) {
            (void)imd_dicom_dataset_remove(d, tag);
        }
    }
    const ImdDicomElement *element = imd_dicom_dataset_find(d, IMD_TAG_ImageType);
    char *type = element != NULL ? imd_dicom_element_string(NULL, d, element) : NULL;
    if (type == NULL) {
        return true;
    }
    /* Keep every other value, in order: "ORIGINAL\PRIMARY\M\ND\MOSAIC" -> "...\ND". */
    char *out = type;
    bool changed = false, first = true;
    for (char *value = type, *next; value != NULL; value = next) {
        next = strchr(value, '\\');
        size_t n = next != NULL ? (size_t)(next - value) : strlen(value);
        next = next != NULL ? next + 1 : NULL;
        if ((n == 6 && strncmp(value, "MOSAIC", 6) == 0) ||
            (n == 6 && strncmp(value, "VFRAME", 6) == 0)) {
            changed = true;
            continue;
        }
        if (!first) {
            *out++ = '\\';
        }
        first = false;
        memmove(out, value, n);
        out += n;
    }
    *out = '\0';
    bool ok = !changed || set_text(error, d, IMD_TAG_ImageType, type);
    free(type);
    return ok;
}

static bool make_base(ImdError **error, Job *job)
{
    const ImdDicomDataSet *template =
        is_secondary_capture(job->header) ? NULL : imd_header_template(job->header);
    job->base = template != NULL ? imd_dicom_dataset_clone(error, template)
                                 : imd_dicom_dataset_create(error);
    if (job->base == NULL) {
        return false;
    }
    for (size_t i = 0; i < sizeof per_instance / sizeof per_instance[0]; i++) {
        (void)imd_dicom_dataset_remove(job->base, per_instance[i]);
    }
    drop_per_image_private(job->base);
    job->siemens_block = imd__dicom_private_block_of(job->base, IMD_PRIVATE_SiemensMrBValue);
    if (template == NULL && !base_without_template(error, job, job->base)) {
        return false;
    }
    return set_identity(error, job, job->base) && drop_tiling(error, job->base);
}

/* ---- pixels ---- */

#define RANGE_OF(type)                                                                     \
    do {                                                                                   \
        const type *x = data;                                                              \
        type lo = x[0], hi = x[0];                                                         \
        for (size_t i = 1; i < n; i++) {                                                   \
            lo = x[i] < lo ? x[i] : lo;                                                    \
            hi = x[i] > hi ? x[i] : hi;                                                    \
        }                                                                                  \
        *low = lo;                                                                         \
        *high = hi;                                                                        \
    } while (0)

/* Min and max of the stored integer types (bool included), in one typed pass; false for
 * other types (then imd_series_stats, which also skips NaN). The series' range is needed
 * before any file is written, and the generic statistics were a third of a write. */
static bool typed_range(ImdDType t, const void *data, size_t n, double *low, double *high)
{
    if (n == 0) {
        *low = *high = 0;
        return true;
    }
    switch (t) {
    case IMD_DTYPE_BOOL: case IMD_DTYPE_UINT8: RANGE_OF(uint8_t); return true;
    case IMD_DTYPE_INT8: RANGE_OF(int8_t); return true;
    case IMD_DTYPE_UINT16: RANGE_OF(uint16_t); return true;
    case IMD_DTYPE_INT16: RANGE_OF(int16_t); return true;
    default: return false;
    }
}

static bool all_integral(const ImdSeries *series)
{
    ImdDType t = imd_series_dtype(series);
    if (t != IMD_DTYPE_FLOAT32 && t != IMD_DTYPE_FLOAT64) {
        return true;
    }
    size_t n = imd_series_count(series);
    const void *data = imd_series_const_data(series);
    for (size_t i = 0; i < n; i++) {
        double x = t == IMD_DTYPE_FLOAT32 ? ((const float *)data)[i] : ((const double *)data)[i];
        if (isfinite(x) && x != floor(x)) {
            return false;
        }
    }
    return true;
}

/*
 * Float voxels that are a scanner's stored integers times one rescale (the
 * DICOM reader records it as StoredValueSlope/StoredValueIntercept when every
 * image shares it) are stored again as those integers with that rescale, so
 * that a series read and written back keeps its pixels and rescale exactly
 * (a classic export joined into an enhanced file, integration.enhanced_classic),
 * instead of being re-quantised over its range. The same test as the NIfTI
 * writer's stored_values (src/formats/nifti/format.c).
 */
static bool scanner_rescale(const Job *job, Pixels *p)
{
    const char *slope_text = imd_header_get_string(job->header, "StoredValueSlope");
    const char *intercept_text = imd_header_get_string(job->header, "StoredValueIntercept");
    ImdDType t = imd_series_dtype(job->series);
    if (slope_text == NULL || intercept_text == NULL ||
        (t != IMD_DTYPE_FLOAT32 && t != IMD_DTYPE_FLOAT64)) {
        return false;
    }
    double slope = strtod(slope_text, NULL), intercept = strtod(intercept_text, NULL);
    if (!(isfinite(slope) && slope != 0 && isfinite(intercept))) {
        return false;
    }
    const void *data = imd_series_const_data(job->series);
    double low = 0, high = 0;
    for (size_t i = 0, n = imd_series_count(job->series); i < n; i++) {
        double v = t == IMD_DTYPE_FLOAT32 ? ((const float *)data)[i] : ((const double *)data)[i];
        double stored = nearbyint((v - intercept) / slope);
        double magnitude = fabs(v) > 1 ? fabs(v) : 1;
        if (!(stored >= -32768 && stored <= 65535) ||
            !(fabs(stored * slope + intercept - v) <= 1e-9 * magnitude)) {
            return false; /* also NaN: computed data, rescaled over its range */
        }
        low = stored < low ? stored : low;
        high = stored > high ? stored : high;
    }
    if (low < 0 && high > 32767) {
        return false;
    }
    p->stored = low < 0 ? IMD_DTYPE_INT16 : IMD_DTYPE_UINT16;
    p->rescaled = true;
    p->slope = slope;
    p->intercept = intercept;
    return true;
}

/*
 * The stored type and scaling. 8- and 16-bit integers and RGB are stored as
 * they are, bool as 16-bit 0/1. Wider integers and floats are stored as is
 * when their values fit 16 bits (uint16, else int16), with slope 1 and the
 * minimum as intercept when only their range fits (integers: lossless); else
 * they are scaled into 0..65535 over the whole series and rounded, so that
 * |x - (stored * slope + intercept)| <= slope / 2 = (max - min) / 131070.
 */
static bool plan_pixels(ImdError **error, Job *job)
{
    Pixels *p = &job->pixels;
    ImdDType t = imd_series_dtype(job->series);
    if (!typed_range(imd_series_dtype(job->series), imd_series_const_data(job->series),
                     imd_series_count(job->series), &p->min, &p->max)) {
        ImdStats stats;
        if (!imd_series_stats(error, job->series, &stats)) {
            return false;
        }
        p->min = isfinite(stats.min) ? stats.min : 0;
        p->max = isfinite(stats.max) ? stats.max : 0;
    }
    p->slope = 1;
    p->intercept = 0;
    p->rescaled = false;
    switch (t) {
    case IMD_DTYPE_UINT8: case IMD_DTYPE_INT8: case IMD_DTYPE_UINT16: case IMD_DTYPE_INT16:
    case IMD_DTYPE_RGB8:
        p->stored = t;
        return true;
    case IMD_DTYPE_BOOL:
        p->stored = IMD_DTYPE_UINT16;
        return true;
    case IMD_DTYPE_COMPLEX64: case IMD_DTYPE_COMPLEX128:
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "DICOM images cannot hold complex values: write the magnitude or the "
                      "real and imaginary parts as separate series");
        return false;
    default:
        break;
    }
    if (scanner_rescale(job, p)) {
        return true;
    }
    bool integral = all_integral(job->series);
    if (integral && p->min >= 0 && p->max <= 65535) {
        p->stored = IMD_DTYPE_UINT16;
    } else if (integral && p->min >= -32768 && p->max <= 32767) {
        p->stored = IMD_DTYPE_INT16;
    } else {
        p->stored = IMD_DTYPE_UINT16;
        p->rescaled = true;
        p->intercept = p->min;
        p->slope = integral && p->max - p->min <= 65535 ? 1
                   : p->max > p->min                    ? (p->max - p->min) / 65535.0
                                                        : 1;
    }
    return true;
}

/* Convert image `plane` into job->stored; returns the stored range of the image. */
static void store_plane(Job *job, size_t plane, double *low, double *high)
{
    const Pixels *p = &job->pixels;
    ImdDType t = imd_series_dtype(job->series);
    size_t n = job->rows * job->columns, size = imd_dtype_size(t);
    const uint8_t *src = (const uint8_t *)imd_series_const_data(job->series) + plane * n * size;
    *low = *high = 0;
    if (p->stored == IMD_DTYPE_RGB8) {
        memcpy(job->stored, src, n * 3);
        return;
    }
    if (!p->rescaled) {
        if (t == p->stored) {
            memcpy(job->stored, src, n * size);
        } else {
            (void)imd__convert_elements(t, src, p->stored, job->stored, n);
        }
        (void)typed_range(p->stored, job->stored, n, low, high);
        return;
    } else {
        (void)imd__convert_elements(t, src, IMD_DTYPE_FLOAT64, job->plane, n);
        uint16_t *out = (uint16_t *)(void *)job->stored; /* int16 as its two's complement */
        const double lo = p->stored == IMD_DTYPE_INT16 ? -32768 : 0;
        const double hi = p->stored == IMD_DTYPE_INT16 ? 32767 : 65535;
        for (size_t i = 0; i < n; i++) {
            double x = job->plane[i];
            double v = isnan(x) ? 0 : round((x - p->intercept) / p->slope);
            v = v < lo ? lo : v > hi ? hi : v;
            out[i] = (uint16_t)(int32_t)v;
            job->plane[i] = v;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double v = job->plane[i];
        *low = i == 0 || v < *low ? v : *low;
        *high = i == 0 || v > *high ? v : *high;
    }
}

/* Image Pixel module (PS3.3 C.7.6.3) and the modality rescale (C.11.1). */
static bool set_pixels(ImdError **error, Job *job, ImdDicomDataSet *d, size_t plane)
{
    const Pixels *p = &job->pixels;
    double low, high;
    store_plane(job, plane, &low, &high);
    bool rgb = p->stored == IMD_DTYPE_RGB8;
    bool is_signed = p->stored == IMD_DTYPE_INT8 || p->stored == IMD_DTYPE_INT16;
    unsigned bits = p->stored == IMD_DTYPE_UINT8 || p->stored == IMD_DTYPE_INT8 || rgb ? 8 : 16;
    size_t n = job->rows * job->columns, bytes = n * (rgb ? 3 : bits / 8);
    unsigned stored_bits = job->bits_stored > 0 && job->bits_stored < bits ? job->bits_stored : bits;
    const char *photometric = rgb ? "RGB" : header_or(job->header, "PhotometricInterpretation",
                                                      "MONOCHROME2");
    if (!rgb && strcmp(photometric, "MONOCHROME1") != 0) {
        photometric = "MONOCHROME2";
    }
    bool ok = set_number(error, d, IMD_TAG_SamplesPerPixel, IMD_VR_US, rgb ? 3 : 1) &&
              set_text(error, d, IMD_TAG_PhotometricInterpretation, photometric) &&
              (!rgb || set_number(error, d, IMD_TAG_PlanarConfiguration, IMD_VR_US, 0)) &&
              set_number(error, d, IMD_TAG_Rows, IMD_VR_US, (double)job->rows) &&
              set_number(error, d, IMD_TAG_Columns, IMD_VR_US, (double)job->columns) &&
              set_number(error, d, IMD_TAG_BitsAllocated, IMD_VR_US, bits) &&
              set_number(error, d, IMD_TAG_BitsStored, IMD_VR_US, stored_bits) &&
              set_number(error, d, IMD_TAG_HighBit, IMD_VR_US, stored_bits - 1) &&
              set_number(error, d, IMD_TAG_PixelRepresentation, IMD_VR_US, is_signed ? 1 : 0);
    if (ok && !rgb) {
        ImdVR range_vr = is_signed ? IMD_VR_SS : IMD_VR_US;
        double series_low = p->rescaled ? 0 : p->min, series_high = p->rescaled ? 65535 : p->max;
        if (p->rescaled) {
            series_low = round((p->min - p->intercept) / p->slope);
            series_high = round((p->max - p->intercept) / p->slope);
        }
        ok = set_number(error, d, IMD_TAG_SmallestImagePixelValue, range_vr, low) &&
             set_number(error, d, IMD_TAG_LargestImagePixelValue, range_vr, high) &&
             set_number(error, d, IMD_TAG_SmallestPixelValueInSeries, range_vr, series_low) &&
             set_number(error, d, IMD_TAG_LargestPixelValueInSeries, range_vr, series_high);
        if (ok && p->rescaled) {
            ok = set_number(error, d, IMD_TAG_RescaleIntercept, IMD_VR_DS, p->intercept) &&
                 set_number(error, d, IMD_TAG_RescaleSlope, IMD_VR_DS, p->slope) &&
                 set_text(error, d, IMD_TAG_RescaleType, "US"); /* unspecified units */
        }
    }
    /* RGB images keep a window only when the series has one (PS3.3 C.11.2 is for grey). */
    if (ok && (!rgb || job->has_window)) {
        ok = set_number(error, d, IMD_TAG_WindowCenter, IMD_VR_DS, job->window_center) &&
             set_number(error, d, IMD_TAG_WindowWidth, IMD_VR_DS, job->window_width);
    }
    return ok && imd_dicom_dataset_set_bytes(error, d, IMD_TAG_PixelData,
                                             bits == 8 ? IMD_VR_OB : IMD_VR_OW, job->stored,
                                             bytes);
}

/* ---- geometry (PS3.3 C.7.6.2 Image Plane) ---- */

static bool set_geometry(ImdError **error, Job *job, ImdDicomDataSet *d, size_t slice)
{
    double spacing[3];
    imd_series_spacing(job->series, spacing);
    ImdVec3 row, column, position;
    imd_header_orientation(job->header, &row, &column);
    if (!imd_header_image_position(job->header, slice, &position)) {
        ImdMat4 m;
        imd_header_transform(job->header, &m);
        position = (ImdVec3){m.m[0][2] * (double)slice + m.m[0][3],
                             m.m[1][2] * (double)slice + m.m[1][3],
                             m.m[2][2] * (double)slice + m.m[2][3]};
    }
    ImdVec3 normal = imd_header_normal(job->header);
    size_t count;
    const double *locations = imd_header_slice_locations(job->header, &count);
    double location = slice < count ? locations[slice]
                                    : position.x * normal.x + position.y * normal.y +
                                          position.z * normal.z;
    double ipp[3] = {position.x, position.y, position.z};
    double iop[6] = {row.x, row.y, row.z, column.x, column.y, column.z};
    double pixel_spacing[2] = {spacing[1], spacing[2]};
    bool ok =
        imd_dicom_dataset_set_numbers(error, d, IMD_TAG_ImagePositionPatient, IMD_VR_DS, ipp, 3) &&
        imd_dicom_dataset_set_numbers(error, d, IMD_TAG_ImageOrientationPatient, IMD_VR_DS, iop,
                                      6) &&
        imd_dicom_dataset_set_numbers(error, d, IMD_TAG_PixelSpacing, IMD_VR_DS, pixel_spacing,
                                      2) &&
        set_number(error, d, IMD_TAG_SliceThickness, IMD_VR_DS, job->thickness) &&
        set_number(error, d, IMD_TAG_SliceLocation, IMD_VR_DS, location);
    if (ok && job->slices > 1) {
        ok = set_number(error, d, IMD_TAG_SpacingBetweenSlices, IMD_VR_DS, spacing[0]);
    }
    return ok;
}

/* ---- tag values written back (§4 step 6) ---- */

/* The b value and direction: the standard elements (PS3.3 C.8.13.5.9), and Siemens' too
 * when the template has them, so that no stale private value contradicts ours. */
static bool set_diffusion(ImdError **error, const Job *job, ImdDicomDataSet *d, const double *b,
                          const ImdValue *direction)
{
    uint16_t siemens = job->siemens_block;
    if (b != NULL) {
        if (!set_number(error, d, IMD_TAG_DiffusionBValue, IMD_VR_FD, *b) ||
            (siemens != 0 &&
             !set_number(error, d, imd__private_tag_at(IMD_PRIVATE_SiemensMrBValue, siemens),
                         IMD_VR_IS, round(*b)))) {
            return false;
        }
    }
    if (direction == NULL) {
        return true;
    }
    bool directional = direction->count == 3;
    /* DiffusionDirectionality (0018,9075) and Siemens' (0019,xx0D) follow the direction,
     * so that no b = 0 template marks a weighted image NONE, or the reverse. */
    const char *directionality = directional ? "DIRECTIONAL" : "NONE";
    if (!set_text(error, d, IMD_TAG_DiffusionDirectionality, directionality) ||
        (siemens != 0 &&
         !imd_dicom_dataset_set_string(
             error, d, imd__private_tag_at(IMD_PRIVATE_SiemensMrDiffusionDirectionality, siemens),
             IMD_VR_CS, directionality))) {
        return false;
    }
    uint32_t siemens_direction =
        imd__private_tag_at(IMD_PRIVATE_SiemensMrDiffusionGradientDirection, siemens);
    if (!directional) {
        /* b = 0: no direction */
        (void)imd_dicom_dataset_remove(d, IMD_TAG_DiffusionGradientOrientation);
        if (siemens != 0) {
            (void)imd_dicom_dataset_remove(d, siemens_direction);
        }
        return true;
    }
    return imd_dicom_dataset_set_numbers(error, d, IMD_TAG_DiffusionGradientOrientation,
                                         IMD_VR_FD, direction->v, 3) &&
           (siemens == 0 || imd_dicom_dataset_set_numbers(error, d, siemens_direction, IMD_VR_FD,
                                                          direction->v, 3));
}

/* A number into a named attribute, in the form its VR wants (TM as time of day). */
static bool set_keyword(ImdError **error, ImdDicomDataSet *d, const char *name,
                        const char *keyword, double value)
{
    uint32_t tag;
    if (!imd_dicom_tag(keyword, &tag)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "order \"%s\": \"%s\" is not a DICOM keyword", name, keyword);
        return false;
    }
    ImdVR vr = imd_dicom_dictionary_vr(tag);
    if (vr == IMD_VR_TM) {
        char text[32];
        format_tm(value, text);
        return imd_dicom_dataset_set_string(error, d, tag, vr, text);
    }
    if (vr == IMD_VR_IS) {
        value = round(value);
    }
    return imd_dicom_dataset_set_numbers(error, d, tag, vr == IMD_VR_US_SS ? IMD_VR_US : vr,
                                         &value, 1);
}

static bool set_component(ImdError **error, Job *job, ImdDicomDataSet *d, const char *name,
                          const ImdValue *value)
{
    const char *keyword = imd_options_get(job->options, name, NULL);
    double x = value->v[0];
    if (keyword != NULL && value->kind == IMD_VALUE_NUMBER) {
        return set_keyword(error, d, name, keyword, x); /* e.g. time=TriggerTime */
    }
    if (strcmp(name, "none") == 0 || strcmp(name, "faulty") == 0) {
        return true;
    }
    if (strcmp(name, "time") == 0) {
        return set_keyword(error, d, name, "AcquisitionTime", x);
    }
    if (strcmp(name, "triggertime") == 0) {
        return set_number(error, d, IMD_TAG_TriggerTime, IMD_VR_DS, x * 1000); /* s -> ms */
    }
    if (strcmp(name, "te") == 0) {
        return set_number(error, d, IMD_TAG_EchoTime, IMD_VR_DS, x);
    }
    if (strcmp(name, "fa") == 0) {
        return set_number(error, d, IMD_TAG_FlipAngle, IMD_VR_DS, x);
    }
    if (strcmp(name, "b") == 0) {
        return set_diffusion(error, job, d, &x, NULL);
    }
    if (strcmp(name, "bvector") == 0) {
        return set_diffusion(error, job, d, NULL, value);
    }
    if (strcmp(name, "dti") == 0) {
        ImdValue direction = imd_value_vector(value->v + 1, value->count > 1 ? 3 : 0);
        return set_diffusion(error, job, d, &x, &direction);
    }
    imd_error_set(error, IMD_ERR_INVALID_ARG,
                  "order \"%s\": no DICOM attribute to write it to; name one with the "
                  "option %s=<keyword> (e.g. --input_options %s=InversionTime)",
                  name, name, name);
    return false;
}

static bool set_tags(ImdError **error, Job *job, ImdDicomDataSet *d, const ImdValue *values)
{
    size_t components = imd_header_tag_components(job->header);
    for (size_t k = 0; values != NULL && k < job->order.count && k < components; k++) {
        if (!set_component(error, job, d, job->order.names[k], &values[k])) {
            return false;
        }
    }
    return true;
}

/* ---- names (§4 "Names", §7.3) ---- */

static unsigned digits(size_t n)
{
    unsigned count = 1;
    for (size_t v = n > 0 ? n - 1 : 0; v >= 10; v /= 10) {
        count++;
    }
    return count;
}

/*
 * The member name of one file. `running` counts files in the whole write,
 * `index` the cell's tag indices, `slice` the slice. Layouts (§4):
 * single: Image_%05d.dcm by running count (tag outer with output_sort slice,
 * slice outer with tag); multi+slice: <tag0><i>/<tag1><j>/Image_<slice>.dcm;
 * multi+tag: slice<s>/<tag0><i>/.../<last tag><k>.dcm. A name given by the
 * user is a folder for these, a pattern for the running count, or (one file)
 * the file name; "x.dcm" for several files numbers them x_00000.dcm, ...
 */
static char *member_name(ImdError **error, const Job *job, size_t running, size_t total,
                         const size_t *index, size_t slice)
{
    const char *name = job->name != NULL ? job->name : "";
    size_t length = strlen(name);
    bool pattern = imd__name_has_number(name);
    if (pattern && !(job->multi && job->tag_ndim > 0)) {
        char *formatted = imd__format_numbered_name(error, name, running);
        if (formatted == NULL || imd__has_suffix(formatted, ".dcm")) {
            return formatted;
        }
        char *full = imd__sprintf(error, "%s.dcm", formatted);
        free(formatted);
        return full;
    }
    if (length > 0 && imd__has_suffix(name, ".dcm")) {
        return total == 1 ? imd__strdup(error, name)
                          : imd__sprintf(error, "%.*s_%05zu.dcm", (int)(length - 4), name,
                                         running);
    }
    if (length > 0 && total == 1 && name[length - 1] != '/') {
        return imd__sprintf(error, "%s.dcm", name); /* §7.3: 2D to a new "y" is y.dcm */
    }
    ImdText text = {0};
    if (length > 0) {
        imd__text_printf(&text, "%s%s", name, name[length - 1] == '/' ? "" : "/");
    }
    if (!job->multi || job->tag_ndim == 0) {
        imd__text_printf(&text, "Image_%05zu.dcm", running);
    } else if (!job->by_tag) {
        for (size_t d = 0; d < job->tag_ndim; d++) {
            imd__text_printf(&text, "%s%0*zu/", imd_axis_name(imd_series_axis(job->series, d)),
                             (int)digits(job->tag_shape[d]), index[d]);
        }
        imd__text_printf(&text, "Image_%05zu.dcm", slice);
    } else {
        imd__text_printf(&text, "slice%0*zu/", (int)digits(job->slices), slice);
        for (size_t d = 0; d < job->tag_ndim; d++) {
            imd__text_printf(&text, "%s%0*zu%s", imd_axis_name(imd_series_axis(job->series, d)),
                             (int)digits(job->tag_shape[d]), index[d],
                             d + 1 < job->tag_ndim ? "/" : ".dcm");
        }
    }
    return imd__text_finish(error, &text);
}

/* ---- the write ---- */

const char *const imd__dicom_output_sorts[] = {"slice", "tag", NULL};
const char *const imd__dicom_output_dirs[] = {"single", "multi", NULL};

static void free_job(Job *job)
{
    imd__input_order_clear(&job->order);
    imd_dicom_dataset_destroy(job->base);
    imd_dicom_dataset_destroy(job->instance);
    free(job->plane);
    free(job->stored);
}

/* Do the header's tags describe this shape? Otherwise every cell is written, without tags. */
static bool tags_match(const Job *job)
{
    const ImdHeader *h = job->header;
    if (imd_header_tag_ndim(h) != job->tag_ndim || imd_header_tag_slices(h) != job->slices) {
        return false;
    }
    for (size_t d = 0; d < job->tag_ndim; d++) {
        if (imd_header_tag_shape(h, d) != job->tag_shape[d]) {
            return false;
        }
    }
    return true;
}

static double template_number(const Job *job, uint32_t tag)
{
    const ImdDicomDataSet *t = imd_header_template(job->header);
    const ImdDicomElement *element = t != NULL ? imd_dicom_dataset_find(t, tag) : NULL;
    double value = NAN;
    if (element != NULL) {
        (void)imd_dicom_element_number(NULL, element, 0, &value);
    }
    return value;
}

/*
 * What the template says of the data, when it still holds: BitsStored when
 * every stored value fits it (a 12-bit scanner's data stays 12-bit, PS3.3
 * C.7.6.3.1), and SliceThickness when the slices are still as far apart as
 * the template's SpacingBetweenSlices (gapped acquisitions keep their real
 * thickness); otherwise all bits, and the slice spacing as thickness (§4).
 */
static void keep_template_bits_and_thickness(Job *job)
{
    const Pixels *p = &job->pixels;
    double spacing[3];
    imd_series_spacing(job->series, spacing);
    job->thickness = spacing[0];
    double thickness = template_number(job, IMD_TAG_SliceThickness);
    double between = template_number(job, IMD_TAG_SpacingBetweenSlices);
    if (isfinite(thickness) && thickness > 0 &&
        fabs((isfinite(between) ? between : thickness) - spacing[0]) <= 1e-3) {
        job->thickness = thickness;
    }
    double bits = template_number(job, IMD_TAG_BitsStored);
    bool is_signed = p->stored == IMD_DTYPE_INT8 || p->stored == IMD_DTYPE_INT16;
    double high = p->rescaled ? round((p->max - p->intercept) / p->slope) : p->max;
    double low = p->rescaled ? round((p->min - p->intercept) / p->slope) : p->min;
    if (isfinite(bits) && bits >= 1 && bits < 16 && p->stored != IMD_DTYPE_RGB8 &&
        (is_signed ? low >= -ldexp(1, (int)bits - 1) && high < ldexp(1, (int)bits - 1)
                   : low >= 0 && high < ldexp(1, (int)bits))) {
        job->bits_stored = (unsigned)bits;
    }
}

static bool setup(ImdError **error, Job *job)
{
    const ImdSeries *series = job->series;
    size_t ndim = imd_series_ndim(series);
    if (ndim < 2) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "DICOM images need at least 2 dimensions");
        return false;
    }
    job->rows = imd_series_dim(series, ndim - 2);
    job->columns = imd_series_dim(series, ndim - 1);
    job->tag_ndim = imd_series_tag_ndim(series);
    bool has_slice = imd_series_find_axis(series, "slice") >= 0;
    job->slices = has_slice ? imd_series_slices(series) : 1;
    if (job->tag_ndim > IMD_MAX_TAG_DIMS || job->tag_ndim + (has_slice ? 1 : 0) + 2 != ndim) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "cannot lay out a %zu-dimensional series as DICOM images "
                      "(expected tag dimensions, then slice, row and column)", ndim);
        return false;
    }
    if (job->rows > 65535 || job->columns > 65535) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "DICOM images have at most 65535 rows and "
                      "columns (this one is %zu x %zu)", job->rows, job->columns);
        return false;
    }
    job->cells = 1;
    for (size_t d = 0; d < job->tag_ndim; d++) {
        job->tag_shape[d] = imd_series_dim(series, d);
        job->cells *= job->tag_shape[d];
    }
    size_t sort, dir; /* indices into slice, tag and single, multi */
    if (!imd_options_get_choice(error, job->options, "output_sort", imd__dicom_output_sorts, 0,
                                &sort) ||
        !imd_options_get_choice(error, job->options, "output_dir", imd__dicom_output_dirs, 0,
                                &dir)) {
        return false;
    }
    job->by_tag = sort == 1;
    job->multi = dir == 1 && job->cells > 1;
    if (strcmp(imd_options_get(job->options, "window", ""), "original") == 0) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED, "window=original is not supported");
        return false;
    }
    /* Checked before any file is written: lossy or unknown syntaxes are INVALID_ARG. */
    if (!imd__codec_output_syntax(error,
                                  imd_options_get(job->options, "output_transfer_syntax",
                                                  "explicit"),
                                  &job->transfer_syntax)) {
        return false;
    }
    if (!imd_options_get_bool(error, job->options, "enhanced", false, &job->enhanced) ||
        !imd_options_get_bool(error, job->options, "keep_uid", false, &job->keep_uid) ||
        !imd__input_order_parse(error, imd_header_input_order(job->header), &job->order)) {
        return false;
    }
    /* A user's order name maps to a DICOM keyword (ti=InversionTime): checked
     * before any file is written. */
    for (size_t k = 0; k < job->order.count; k++) {
        const char *keyword = imd_options_get(job->options, job->order.names[k], NULL);
        uint32_t tag;
        if (keyword != NULL && !imd_dicom_tag(keyword, &tag)) {
            imd_error_set(error, IMD_ERR_INVALID_ARG,
                          "option \"%s\": \"%s\" is not a DICOM keyword", job->order.names[k],
                          keyword);
            return false;
        }
    }
    if (!plan_pixels(error, job)) {
        return false;
    }
    job->has_window = imd_header_window(job->header, &job->window_center, &job->window_width);
    if (!job->has_window) {
        job->window_center = (job->pixels.max + job->pixels.min) / 2;
        job->window_width = fmax(1, job->pixels.max - job->pixels.min);
    }
    keep_template_bits_and_thickness(job);
    const char *uid = imd_header_get_string(job->header, "SeriesInstanceUID");
    if (job->keep_uid && uid != NULL && strlen(uid) < IMD_UID_SIZE) {
        snprintf(job->series_uid, sizeof job->series_uid, "%s", uid);
    } else if (!imd_uid_generate(error, job->series_uid)) {
        return false;
    }
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    strftime(job->date, sizeof job->date, "%Y%m%d", &local);
    strftime(job->time, sizeof job->time, "%H%M%S", &local);
    size_t n = job->rows * job->columns;
    job->plane = imd__malloc(error, (n > 0 ? n : 1) * sizeof(double));
    job->stored = imd__malloc(error, (n > 0 ? n : 1) * 3);
    return job->plane != NULL && job->stored != NULL && make_base(error, job);
}

/*
 * Compressed output: the pixels are encoded and every frame decoded back and
 * compared before the member is opened, so a failure leaves no file behind.
 */
static bool write_instance(ImdError **error, Job *job, const char *member)
{
    if (imd__codec_is_encapsulated(job->transfer_syntax) &&
        !imd__codec_encode_pixel_data(error, job->instance, job->transfer_syntax, NULL)) {
        return false;
    }
    if (imd_archive_takes_datasets(job->archive)) {
        /* A DICOM node takes data sets, not files (its transport sends them). */
        return imd_archive_put_dataset(error, job->archive, member, job->instance,
                                       job->transfer_syntax);
    }
    ImdStream *stream = imd_archive_open_member(error, job->archive, member, IMD_MODE_WRITE);
    if (stream == NULL) {
        return false;
    }
    ImdDicomWriteOptions options = {job->transfer_syntax, false};
    if (!imd_dicom_write(error, job->instance, stream, &options)) {
        imd_stream_abort(stream);
        return false;
    }
    return imd_stream_close(error, stream);
}

static bool is_per_instance(uint32_t tag)
{
    for (size_t i = 0; i < sizeof per_instance / sizeof per_instance[0]; i++) {
        if (per_instance[i] == tag) {
            return true;
        }
    }
    return false;
}

/*
 * The image's own values from the DICOM read (what differed from the first
 * image: AcquisitionTime for orders other than time, SequenceName of each b
 * value, per-image private values), over the template's, so that files do
 * not all carry the first image's (the original's behaviour). What the
 * writer makes anew (per_instance) is not taken.
 */
static bool apply_own_values(ImdError **error, Job *job, ImdDicomDataSet *d, size_t slice,
                             const size_t *index)
{
    const ImdDicomDataSet *own = imd_header_template(job->header) != NULL
                                     ? imd_header_instance_dataset(job->header, slice, index)
                                     : NULL;
    for (size_t i = 0; own != NULL && i < imd_dicom_dataset_count(own); i++) {
        const ImdDicomElement *e = imd_dicom_dataset_element(own, i);
        uint32_t tag = imd_dicom_element_tag(e);
        size_t size;
        const uint8_t *bytes = imd_dicom_element_bytes(e, &size);
        if (!is_per_instance(tag) &&
            !imd_dicom_dataset_set_bytes(error, d, tag, imd_dicom_element_vr(e), bytes, size)) {
            return false;
        }
    }
    return true;
}

/* One file: cell `cell` (tag indices `index`) at slice `slice`. */
static bool write_file(ImdError **error, Job *job, size_t cell, const size_t *index, size_t slice,
                       const ImdValue *values, size_t running, size_t total)
{
    char uid[IMD_UID_SIZE];
    const char *kept = job->keep_uid ? imd_header_instance_uid(job->header, slice, index) : NULL;
    if (kept != NULL) {
        snprintf(uid, sizeof uid, "%s", kept);
    } else if (!imd_uid_generate(error, uid)) {
        return false;
    }
    /* InstanceNumber restarts in every folder of a multi layout (§4). */
    size_t number = !job->multi ? running
                    : job->by_tag ? index[job->tag_ndim - 1]
                                  : slice;
    imd_dicom_dataset_destroy(job->instance);
    job->instance = imd_dicom_dataset_clone(error, job->base);
    ImdDicomDataSet *d = job->instance;
    char *member = NULL;
    bool ok = d != NULL && apply_own_values(error, job, d, slice, index) &&
              set_text(error, d, IMD_TAG_SOPInstanceUID, uid) &&
              set_text(error, d, IMD_TAG_ContentDate, job->date) &&
              set_text(error, d, IMD_TAG_ContentTime, job->time) &&
              set_number(error, d, IMD_TAG_InstanceNumber, IMD_VR_IS, (double)number + 1) &&
              set_geometry(error, job, d, slice) && set_tags(error, job, d, values) &&
              set_pixels(error, job, d, cell * job->slices + slice) &&
              imd__dicom_complete_iod(error, d, sop_class(job->header)) &&
              (member = member_name(error, job, running, total, index, slice)) != NULL &&
              write_instance(error, job, member);
    if (!ok && member != NULL) {
        imd_error_prefix(error, "%s: ", member);
    }
    free(member);
    return ok;
}

static void cell_index(const Job *job, size_t cell, size_t *index)
{
    for (size_t d = job->tag_ndim; d-- > 0;) {
        index[d] = cell % job->tag_shape[d];
        cell /= job->tag_shape[d];
    }
}

/* ---- one Enhanced MR / CT file per series (enhanced_write.c) ---- */

/*
 * The enhanced class follows the series' modality: CT for CT (Modality or a CT SOP
 * class), MR otherwise (MR when nothing says: docs/dicom-writing.md). The Dimension Index
 * Sequence has one dimension per tag axis, indexed by the attribute of its order
 * component (enhanced_write.c), then the in-stack position of the slice.
 */
static bool plan_enhanced(ImdError **error, const Job *job, bool with_tags, ImdEnhancedPlan *plan)
{
    const char *modality = header_or(job->header, "Modality", "");
    const char *sop = sop_class(job->header);
    bool ct = strcmp(modality, "CT") == 0 || strcmp(sop, "1.2.840.10008.5.1.4.1.1.2") == 0;
    *plan = (ImdEnhancedPlan){.sop_class = ct ? IMD_ENHANCED_CT_IMAGE : IMD_ENHANCED_MR_IMAGE,
                              .mr = !ct};
    if (job->pixels.stored == IMD_DTYPE_RGB8) {
        /* Enhanced MR and CT images are MONOCHROME2 (PS3.3 C.8.13.1.1.1, C.8.15.2.1.1) */
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "enhanced=true: colour images cannot be Enhanced MR or CT images");
        return false;
    }
    if (job->tag_ndim > 0 && (!with_tags || job->order.count != job->tag_ndim)) {
        imd_error_set(error, IMD_ERR_UNSUPPORTED,
                      "enhanced=true: the %zu tag dimension(s) have no values of the input "
                      "order \"%s\" to index them", job->tag_ndim,
                      imd_header_input_order(job->header));
        return false;
    }
    for (size_t d = 0; d < job->tag_ndim; d++) {
        const char *name = job->order.names[d];
        if (imd_options_get(job->options, name, NULL) != NULL ||
            !imd__dicom_enhanced_dimension_for(name, &plan->dimensions[d]) ||
            (ct && strcmp(name, "time") != 0)) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED,
                          "enhanced=true: no Enhanced %s functional group holds the order "
                          "\"%s\" (time, te, b, bvector and dti are written); write classic "
                          "files instead", ct ? "CT" : "MR", name);
            return false;
        }
    }
    plan->dimensions[job->tag_ndim] = (ImdEnhancedDimension){
        IMD_TAG_InStackPositionNumber, IMD_TAG_FrameContentSequence, "slice"};
    plan->dimension_count = job->tag_ndim + 1;
    return true;
}

/* The classic data set of one frame, handed to the enhanced writer. */
static bool add_enhanced_frame(ImdError **error, Job *job, ImdEnhancedWriter *writer,
                               size_t cell, const size_t *index, size_t slice,
                               const ImdValue *values)
{
    imd_dicom_dataset_destroy(job->instance);
    job->instance = imd_dicom_dataset_clone(error, job->base);
    ImdDicomDataSet *d = job->instance;
    uint32_t index_values[IMD_ENHANCED_MAX_DIMENSIONS];
    for (size_t k = 0; k < job->tag_ndim; k++) {
        index_values[k] = (uint32_t)index[k] + 1;
    }
    index_values[job->tag_ndim] = (uint32_t)slice + 1;
    return d != NULL && apply_own_values(error, job, d, slice, index) &&
           set_text(error, d, IMD_TAG_ContentDate, job->date) &&
           set_text(error, d, IMD_TAG_ContentTime, job->time) &&
           set_geometry(error, job, d, slice) && set_tags(error, job, d, values) &&
           set_pixels(error, job, d, cell * job->slices + slice) &&
           imd__dicom_enhanced_add(error, writer, d, index_values, slice);
}

static bool write_enhanced(ImdError **error, Job *job, bool with_tags)
{
    ImdEnhancedPlan plan;
    if (!plan_enhanced(error, job, with_tags, &plan)) {
        return false;
    }
    for (size_t i = 0; i < job->cells * job->slices; i++) {
        size_t index[IMD_MAX_TAG_DIMS];
        cell_index(job, i / job->slices, index);
        plan.frames += !with_tags || imd_header_tag(job->header, i % job->slices, index) != NULL;
    }
    ImdEnhancedWriter *writer = imd__dicom_enhanced_begin(error, &plan);
    bool ok = writer != NULL;
    /* frames in the array's order: tag cells outer, slices inner */
    for (size_t i = 0; ok && i < job->cells * job->slices; i++) {
        size_t cell = i / job->slices, slice = i % job->slices;
        size_t index[IMD_MAX_TAG_DIMS];
        cell_index(job, cell, index);
        const ImdValue *values = with_tags ? imd_header_tag(job->header, slice, index) : NULL;
        if (!with_tags || values != NULL) {
            ok = add_enhanced_frame(error, job, writer, cell, index, slice, values);
        }
    }
    imd_dicom_dataset_destroy(job->instance);
    job->instance = ok ? imd__dicom_enhanced_finish(error, writer) : NULL;
    imd__dicom_enhanced_free(writer);
    ImdDicomDataSet *d = job->instance;
    if (d != NULL && job->siemens_block != 0) {
        /* Siemens' private b value and direction describe one image: the first frame's at the
         * top level would contradict the MR Diffusion groups of the others */
        (void)imd_dicom_dataset_remove(
            d, imd__private_tag_at(IMD_PRIVATE_SiemensMrBValue, job->siemens_block));
        (void)imd_dicom_dataset_remove(
            d, imd__private_tag_at(IMD_PRIVATE_SiemensMrDiffusionDirectionality,
                                   job->siemens_block));
        (void)imd_dicom_dataset_remove(
            d, imd__private_tag_at(IMD_PRIVATE_SiemensMrDiffusionGradientDirection,
                                   job->siemens_block));
    }
    char uid[IMD_UID_SIZE];
    char *member = NULL;
    size_t zero[IMD_MAX_TAG_DIMS] = {0};
    const char *name = job->name != NULL ? job->name : "";
    job->multi = false;
    ok = d != NULL && imd_uid_generate(error, uid) &&
         set_text(error, d, IMD_TAG_SOPInstanceUID, uid) &&
         set_number(error, d, IMD_TAG_InstanceNumber, IMD_VR_IS, 1) &&
         imd__dicom_complete_iod(error, d, plan.sop_class) &&
         /* one file: "x.dcm" as given, a folder gets Image_00000.dcm */
         (member = imd__has_suffix(name, ".dcm") ? imd__strdup(error, name)
                                                 : member_name(error, job, 0, 2, zero, 0)) !=
             NULL &&
         write_instance(error, job, member);
    if (!ok && member != NULL) {
        imd_error_prefix(error, "%s: ", member);
    }
    free(member);
    return ok;
}

bool imd__dicom_write_series(ImdError **error, const ImdSeries *series, ImdArchive *archive,
                             const char *name, const ImdOptions *options)
{
    if (series == NULL || archive == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "DICOM write: no series or destination");
        return false;
    }
    Job job = {.series = series, .header = imd_series_const_header(series), .options = options,
               .archive = archive, .name = name};
    bool ok = setup(error, &job);
    bool with_tags = ok && tags_match(&job);
    if (ok && job.enhanced) {
        ok = write_enhanced(error, &job, with_tags);
        free_job(&job);
        return ok;
    }
    size_t total = 0;
    for (size_t i = 0; ok && i < job.cells * job.slices; i++) {
        size_t index[IMD_MAX_TAG_DIMS];
        cell_index(&job, i / job.slices, index);
        total += !with_tags || imd_header_tag(job.header, i % job.slices, index) != NULL;
    }
    size_t running = 0;
    for (size_t i = 0; ok && i < job.cells * job.slices; i++) {
        /* slice order: tag cell outer; tag order: slice outer */
        size_t cell = job.by_tag ? i % job.cells : i / job.slices;
        size_t slice = job.by_tag ? i / job.cells : i % job.slices;
        size_t index[IMD_MAX_TAG_DIMS];
        cell_index(&job, cell, index);
        const ImdValue *values = with_tags ? imd_header_tag(job.header, slice, index) : NULL;
        if (with_tags && values == NULL) {
            continue; /* an empty cell: no image was there (§4) */
        }
        ok = write_file(error, &job, cell, index, slice, values, running++, total);
    }
    free_job(&job);
    return ok;
}
