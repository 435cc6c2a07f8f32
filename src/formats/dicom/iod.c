/*
 * iod.c: what an IOD requires and the series cannot say, filled in when
 * absent so that a file written without a template (or with a sparse one)
 * is a valid instance of its SOP class: type 1 attributes get a valid value
 * derived from nothing more than "a derived image" (PS3.3 defined terms),
 * type 2 and 2C attributes are present and empty ("unknown", PS3.5 §7.4).
 * Checked with dciodvfy (dicom3tools) by tests/integration/dicom_iod.sh.
 */
#include "formats/dicom/dicom_format.h"

#define MR_IMAGE "1.2.840.10008.5.1.4.1.1.4"
#define CT_IMAGE "1.2.840.10008.5.1.4.1.1.2"
#define SC_IMAGE "1.2.840.10008.5.1.4.1.1.7"

typedef struct Default {
    uint32_t tag;
    const char *value; /* "" for an empty type 2 value */
} Default;

/* Every image IOD: General Series, Frame of Reference, General Equipment (PS3.3 C.7.3.1,
 * C.7.4.1, C.7.5.1). Laterality is 2C on a paired body part; empty is "unknown". */
static const Default common[] = {
    {IMD_TAG_Laterality, ""},
    {IMD_TAG_Manufacturer, ""},
};

/* MR Image Module (PS3.3 C.8.3.1): a derived image's acquisition is not known. */
static const Default mr[] = {
    {IMD_TAG_PatientPosition, ""},
    {IMD_TAG_ScanningSequence, "RM"}, /* research mode: the defined term for "other" */
    {IMD_TAG_SequenceVariant, "NONE"},
    {IMD_TAG_ScanOptions, ""},
    {IMD_TAG_MRAcquisitionType, ""},
    {IMD_TAG_RepetitionTime, ""},
    {IMD_TAG_EchoTime, ""},
    {IMD_TAG_EchoTrainLength, ""},
};

/* CT Image Module (PS3.3 C.8.2.1). */
static const Default ct[] = {
    {IMD_TAG_PatientPosition, ""},
    {IMD_TAG_RescaleIntercept, "0"},
    {IMD_TAG_RescaleSlope, "1"},
    {IMD_TAG_KVP, ""},
    {IMD_TAG_AcquisitionNumber, ""},
};

static bool fill(ImdError **error, ImdDicomDataSet *d, const Default *defaults, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (imd_dicom_dataset_find(d, defaults[i].tag) == NULL &&
            !imd_dicom_dataset_set_string(error, d, defaults[i].tag, (ImdVR)0,
                                          defaults[i].value)) {
            return false;
        }
    }
    return true;
}

/*
 * Image Type value 3 is required in MR and CT images (PS3.3 C.8.3.1.1.1,
 * C.8.2.1.1.1): "DERIVED\SECONDARY" gains OTHER (MR) or AXIAL (CT).
 */
static bool complete_image_type(ImdError **error, ImdDicomDataSet *d, const char *third)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, IMD_TAG_ImageType);
    if (e == NULL) {
        return true;
    }
    char *value = imd_dicom_element_string(error, d, e);
    if (value == NULL) {
        return false;
    }
    size_t parts = 1;
    for (const char *p = value; *p != '\0'; p++) {
        parts += *p == '\\';
    }
    bool ok = true;
    if (parts == 2) {
        char *longer = imd__sprintf(error, "%s\\%s", value, third);
        ok = longer != NULL &&
             imd_dicom_dataset_set_string(error, d, IMD_TAG_ImageType, (ImdVR)0, longer);
        free(longer);
    }
    free(value);
    return ok;
}

bool imd__dicom_complete_iod(ImdError **error, ImdDicomDataSet *d, const char *sop_class)
{
    if (!fill(error, d, common, sizeof common / sizeof common[0])) {
        return false;
    }
    if (strcmp(sop_class, SC_IMAGE) == 0) {
        /* SC Equipment (PS3.3 C.8.6.1): a workstation made it; no Frame of Reference module. */
        return imd_dicom_dataset_find(d, IMD_TAG_ConversionType) != NULL ||
               imd_dicom_dataset_set_string(error, d, IMD_TAG_ConversionType, (ImdVR)0, "WSD");
    }
    if (imd_dicom_dataset_find(d, IMD_TAG_FrameOfReferenceUID) != NULL &&
        imd_dicom_dataset_find(d, IMD_TAG_PositionReferenceIndicator) == NULL &&
        !imd_dicom_dataset_set_string(error, d, IMD_TAG_PositionReferenceIndicator, (ImdVR)0,
                                      "")) {
        return false;
    }
    if (strcmp(sop_class, MR_IMAGE) == 0) {
        return fill(error, d, mr, sizeof mr / sizeof mr[0]) &&
               complete_image_type(error, d, "OTHER");
    }
    if (strcmp(sop_class, CT_IMAGE) == 0) {
        return fill(error, d, ct, sizeof ct / sizeof ct[0]) &&
               complete_image_type(error, d, "AXIAL");
    }
    return true;
}
