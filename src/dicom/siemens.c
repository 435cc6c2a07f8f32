/*
 * siemens.c: what the DICOM reader and the diffusion code take from a
 * Siemens CSA image header (csa.h): mosaic size, slice normal, slice times,
 * diffusion b value, direction and B matrix, phase-encoding polarity.
 */
#include "csa.h"
#include "dicom_internal.h"

#include <math.h>

const uint8_t *imd__siemens_csa_bytes(const ImdDicomDataSet *dataset, uint8_t element,
                                      size_t *size)
{
    *size = 0;
    if (dataset == NULL) {
        return NULL;
    }
    /* Private block of "SIEMENS CSA HEADER" (PS3.5 §7.8.1): (0029,xx10) image, (0029,xx20)
     * series (private_tags.h). */
    ImdPrivateTag csa = IMD_PRIVATE_SiemensCsaImageHeaderInfo;
    csa.element = element;
    uint32_t tag = imd__dicom_private_tag(dataset, csa);
    if (tag == 0) {
        return NULL;
    }
    const ImdDicomElement *e = imd_dicom_dataset_find(dataset, tag);
    if (e == NULL || imd_dicom_element_vr(e) == IMD_VR_SQ || imd_dicom_element_is_encapsulated(e)) {
        return NULL;
    }
    return imd_dicom_element_bytes(e, size);
}

/* `count` numbers of `name`, only when the tag holds exactly that many (nibabel's get_vector). */
static bool numbers(const ImdCsaHeader *h, const char *name, size_t count, double *values)
{
    if (imd__csa_item_count(h, name) != count) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (!imd__csa_number(h, name, i, &values[i])) {
            return false;
        }
    }
    return true;
}

bool imd__siemens_image(ImdError **error, const ImdDicomDataSet *dataset, ImdSiemensImage *out)
{
    memset(out, 0, sizeof *out);
    out->phase_encoding_positive = -1;
    size_t size;
    const uint8_t *bytes =
        imd__siemens_csa_bytes(dataset, IMD_PRIVATE_SiemensCsaImageHeaderInfo.element, &size);
    if (bytes == NULL || size == 0) {
        return true;
    }
    ImdCsaHeader *h = imd__csa_parse(error, bytes, size);
    if (h == NULL) {
        imd_error_prefix(error, "Siemens CSA image header (0029,xx10): ");
        return false;
    }
    double value, v[6];
    if (imd__csa_number(h, "NumberOfImagesInMosaic", 0, &value) && value >= 0 &&
        value <= UINT32_MAX && value == floor(value)) {
        out->mosaic_images = (uint32_t)value;
    }
    if (numbers(h, "SliceNormalVector", 3, v)) {
        out->has_slice_normal = true;
        out->slice_normal = (ImdVec3){v[0], v[1], v[2]};
    }
    if (imd__csa_number(h, "B_value", 0, &value)) {
        out->has_b_value = true;
        out->b_value = value;
    }
    if (numbers(h, "DiffusionGradientDirection", 3, v)) {
        out->has_direction = true;
        out->direction = (ImdVec3){v[0], v[1], v[2]};
    }
    if (numbers(h, "B_matrix", 6, out->b_matrix)) {
        out->has_b_matrix = true;
    } else {
        memset(out->b_matrix, 0, sizeof out->b_matrix);
    }
    if (imd__csa_number(h, "PhaseEncodingDirectionPositive", 0, &value) &&
        (value == 0 || value == 1)) {
        out->phase_encoding_positive = (int)value;
    }
    /* One time per slice; bounded by the header's items, each of which its bytes hold. */
    size_t count = imd__csa_item_count(h, "MosaicRefAcqTimes");
    if (count > 0) {
        out->slice_times = imd__calloc(error, count, sizeof *out->slice_times);
        if (out->slice_times == NULL) {
            imd__csa_destroy(h);
            return false;
        }
        if (numbers(h, "MosaicRefAcqTimes", count, out->slice_times)) {
            out->slice_time_count = count;
        } else {
            free(out->slice_times);
            out->slice_times = NULL;
        }
    }
    imd__csa_destroy(h);
    return true;
}

void imd__siemens_image_free(ImdSiemensImage *info)
{
    if (info == NULL) {
        return;
    }
    free(info->slice_times);
    info->slice_times = NULL;
    info->slice_time_count = 0;
}
