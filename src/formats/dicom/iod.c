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

/* Every image IOD: Patient, General Study, General Equipment (PS3.3 C.7.1.1, C.7.2.1,
 * C.7.5.1): their type 2 attributes, present and empty when a template lacks them (an
 * anonymised export may have none of the patient's). Laterality is decided apart. */
static const Default common[] = {
    {IMD_TAG_PatientName, ""},
    {IMD_TAG_PatientID, ""},
    {IMD_TAG_PatientBirthDate, ""},
    {IMD_TAG_PatientSex, ""},
    {IMD_TAG_StudyDate, ""},
    {IMD_TAG_StudyTime, ""},
    {IMD_TAG_ReferringPhysicianName, ""},
    {IMD_TAG_StudyID, ""},
    {IMD_TAG_AccessionNumber, ""},
    {IMD_TAG_Manufacturer, ""},
};

/*
 * Body Part Examined defined terms (PS3.16 Annex L) of structures that are
 * not paired: on these, Laterality (0020,0060) is not required and, being
 * 2C without "may be present otherwise" (PS3.3 C.7.3.1), must be absent.
 * The list is the one dciodvfy (dicom3tools) holds as unpaired.
 */
static const char *const unpaired_body_parts[] = {
    "ABDOMEN", "ABDOMENPELVIS", "AORTA", "BLADDER", "BRAIN", "CEREBELLUM", "CHEST",
    "CHESTABDOMEN", "CHESTABDPELVIS", "CIRCLEOFWILLIS", "COCCYX", "COLON", "CSPINE",
    "DUODENUM", "ESOPHAGUS", "GALLBLADDER", "HEAD", "HEADNECK", "HEART", "ILEUM", "JAW",
    "JEJUNUM", "LARYNX", "LIVER", "LSPINE", "MAXILLA", "MEDIASTINUM", "MOUTH", "NECK", "NOSE",
    "PANCREAS", "PELVIS", "PENIS", "PHARYNX", "PROSTATE", "RECTUM", "SKULL", "SPINE", "SPLEEN",
    "STERNUM", "STOMACH", "THYROID", "TONGUE", "TRACHEA", "TSPINE", "URETER", "UTERUS",
    "VAGINA", "WHOLEBODY",
};

static bool has_text(const ImdDicomDataSet *d, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    return e != NULL && imd_dicom_element_vm(e) > 0;
}

/* The value as text, or NULL (absent, not text, no memory: all "unknown" here). */
static char *text_of(const ImdDicomDataSet *d, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    return e != NULL ? imd_dicom_element_string(NULL, d, e) : NULL;
}

/* Is `word` one of the backslash-separated values of `values`? */
static bool has_value(const char *values, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = values; p != NULL; p = strchr(p, '\\')) {
        p += *p == '\\';
        if (strncmp(p, word, n) == 0 && (p[n] == '\0' || p[n] == '\\')) {
            return true;
        }
    }
    return false;
}

/*
 * Laterality (PS3.3 C.7.3.1) is 2C: required on a paired body part when
 * Image Laterality or Frame Laterality do not say it. On a body part known
 * to be unpaired an empty Laterality (a template's "unknown") is removed; a
 * template's actual value is kept. Otherwise (paired, or a body part not
 * known) an absent one is added empty: "unknown".
 */
/* Frame Laterality in the shared Frame Anatomy group of an enhanced image (C.7.6.16.2.8). */
static bool shared_frame_laterality(const ImdDicomDataSet *d)
{
    const ImdDicomElement *shared = imd_dicom_dataset_find(d, IMD_TAG_SharedFunctionalGroupsSequence);
    const ImdDicomDataSet *item = shared != NULL && imd_dicom_element_item_count(shared) > 0
                                      ? imd_dicom_element_item(shared, 0)
                                      : NULL;
    const ImdDicomElement *anatomy =
        item != NULL ? imd_dicom_dataset_find(item, IMD_TAG_FrameAnatomySequence) : NULL;
    return anatomy != NULL && imd_dicom_element_item_count(anatomy) > 0 &&
           has_text(imd_dicom_element_item(anatomy, 0), IMD_TAG_FrameLaterality);
}

static bool complete_laterality(ImdError **error, ImdDicomDataSet *d)
{
    if (shared_frame_laterality(d)) {
        /* Frame Laterality is sent: Laterality is not required, and being 2C without "may
         * be present otherwise" an empty one (a template's "unknown") goes */
        if (!has_text(d, IMD_TAG_Laterality)) {
            (void)imd_dicom_dataset_remove(d, IMD_TAG_Laterality);
        }
        return true;
    }
    char *part = text_of(d, IMD_TAG_BodyPartExamined);
    bool unpaired = false;
    for (size_t i = 0; part != NULL && i < sizeof unpaired_body_parts / sizeof *unpaired_body_parts;
         i++) {
        unpaired = unpaired || strcmp(part, unpaired_body_parts[i]) == 0;
    }
    free(part);
    if (unpaired) {
        if (!has_text(d, IMD_TAG_Laterality)) {
            (void)imd_dicom_dataset_remove(d, IMD_TAG_Laterality);
        }
        return true;
    }
    if (imd_dicom_dataset_find(d, IMD_TAG_Laterality) != NULL ||
        has_text(d, IMD_TAG_ImageLaterality) || has_text(d, IMD_TAG_FrameLaterality)) {
        return true;
    }
    return imd_dicom_dataset_set_string(error, d, IMD_TAG_Laterality, (ImdVR)0, "");
}

/*
 * MR Image Module (PS3.3 C.8.3.1), conditions on the acquisition a template
 * describes: Trigger Time is 2C, required when Scan Options include cardiac
 * (CG) or peripheral pulse (PPG) gating; added empty when the template lacks
 * it. In-plane Phase Encoding Direction is ROW, COL or OTHER here, where the
 * enhanced MR FOV/Geometry macro (C.8.13.5.4) says COLUMN: a template read
 * from an enhanced file carries the enhanced term.
 */
static bool complete_mr_conditions(ImdError **error, ImdDicomDataSet *d)
{
    char *options = text_of(d, IMD_TAG_ScanOptions);
    bool gated = options != NULL && (has_value(options, "CG") || has_value(options, "PPG"));
    free(options);
    if (gated && imd_dicom_dataset_find(d, IMD_TAG_TriggerTime) == NULL &&
        !imd_dicom_dataset_set_string(error, d, IMD_TAG_TriggerTime, (ImdVR)0, "")) {
        return false;
    }
    char *direction = text_of(d, IMD_TAG_InPlanePhaseEncodingDirection);
    bool ok = true;
    if (direction != NULL && direction[0] != '\0' && strcmp(direction, "ROW") != 0 &&
        strcmp(direction, "COL") != 0 && strcmp(direction, "OTHER") != 0) {
        ok = imd_dicom_dataset_set_string(error, d, IMD_TAG_InPlanePhaseEncodingDirection,
                                          (ImdVR)0,
                                          strcmp(direction, "COLUMN") == 0 ? "COL" : "OTHER");
    }
    free(direction);
    return ok;
}

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

/* ---- values a template carries that its VR or module forbids ---- */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* One value of a date, time, date-time or age (PS3.5 Table 6.2-1), trailing
 * spaces (padding) already removed. */
static bool valid_temporal(ImdVR vr, const char *v, size_t n)
{
    switch (vr) {
    case IMD_VR_DA: /* YYYYMMDD */
        return n == 8 && digits(v, 8) && (v[4] - '0') * 10 + (v[5] - '0') <= 12 &&
               (v[6] - '0') * 10 + (v[7] - '0') <= 31;
    case IMD_VR_TM: { /* HH[MM[SS[.F{1,6}]]] */
        size_t whole = n;
        const char *dot = memchr(v, '.', n);
        if (dot != NULL) {
            whole = (size_t)(dot - v);
            size_t fraction = n - whole - 1;
            if (whole != 6 || fraction < 1 || fraction > 6 || !digits(dot + 1, fraction)) {
                return false;
            }
        }
        return (whole == 2 || whole == 4 || whole == 6) && digits(v, whole);
    }
    case IMD_VR_DT: { /* YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX]: the digits before any '.', '+', '-' */
        size_t lead = 0;
        while (lead < n && v[lead] >= '0' && v[lead] <= '9') {
            lead++;
        }
        return lead >= 4 && lead <= 14 && lead % 2 == 0 &&
               (lead == n || v[lead] == '.' || v[lead] == '+' || v[lead] == '-');
    }
    case IMD_VR_AS: /* nnnD, nnnW, nnnM or nnnY */
        return n == 4 && digits(v, 3) && strchr("DWMY", v[3]) != NULL && v[3] != '\0';
    default:
        return true;
    }
}

static bool valid_values(ImdVR vr, const char *text)
{
    for (const char *v = text; *v != '\0';) {
        const char *end = strchr(v, '\\');
        size_t n = end != NULL ? (size_t)(end - v) : strlen(v);
        size_t trimmed = n;
        while (trimmed > 0 && v[trimmed - 1] == ' ') {
            trimmed--;
        }
        if (trimmed > 0 && !valid_temporal(vr, v, trimmed)) {
            return false;
        }
        v += n + (end != NULL);
    }
    return true;
}

/* A Velocity Encoding Direction (PS3.3 C.8.13.5, the MR Velocity Encoding
 * macro) is a unit vector (dciodvfy checks it): Philips writes 0\0\0 on
 * images without flow encoding (dcm_qa_cs_dl, dcm_qa_fmap), which describes
 * no direction. */
static bool is_unit_direction(const ImdDicomElement *e)
{
    double v[3] = {0, 0, 0};
    if (imd_dicom_element_vm(e) != 3) {
        return false;
    }
    for (size_t i = 0; i < 3; i++) {
        if (!imd_dicom_element_number(NULL, e, i, &v[i])) {
            return false;
        }
    }
    double norm = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
    return norm > 0.99 && norm < 1.01;
}

/* Items nested deeper than this are left as they are (the parser refuses
 * deeper ones: DEFAULT_MAX_DEPTH in src/dicom/parse.c). */
#define REPAIR_DEPTH 64

/*
 * Values a template carries that are not values of their attribute, repaired
 * in the data set and, recursively, in every item of every sequence: an
 * attribute in an item is the same attribute with the same value rules
 * (PS3.5 7.5), even in a vendor's private sequence (Philips repeats the MR
 * attributes in (2005,140F), and dciodvfy checks them there too).
 * - Dates, times, date-times and ages that are not of their VR (an export's
 *   anonymisation writes "***": dcm_qa_stc/In/UIH) are emptied: "unknown" is
 *   valid for type 2 and 3 attributes, a wrong value is not (PS3.5 6.2).
 * - Patient's Sex outside M, F, O (GE writes "0" when anonymised:
 *   dcm_qa_stc/In/GE) is emptied likewise (PS3.3 C.7.1.1).
 * - A Velocity Encoding Direction that is not a unit vector is removed.
 * The template's own files keep them.
 */
static bool repair_values(ImdError **error, ImdDicomDataSet *d, unsigned depth)
{
    size_t i = 0;
    while (i < d->count) {
        ImdDicomElement *e = &d->elements[i];
        uint32_t tag = e->tag;
        ImdVR vr = e->vr;
        for (size_t k = 0; k < e->item_count && depth < REPAIR_DEPTH; k++) {
            if (e->items[k] != NULL && !repair_values(error, e->items[k], depth + 1)) {
                return false;
            }
        }
        if (tag == IMD_TAG_VelocityEncodingDirection && !is_unit_direction(e)) {
            (void)imd_dicom_dataset_remove(d, tag);
            continue; /* the next element moved to index i */
        }
        bool bad = false;
        if (vr == IMD_VR_DA || vr == IMD_VR_TM || vr == IMD_VR_DT || vr == IMD_VR_AS) {
            char *text = imd_dicom_element_string(NULL, d, e);
            bad = text != NULL && !valid_values(vr, text);
            free(text);
        } else if (tag == IMD_TAG_PatientSex) {
            char *sex = imd_dicom_element_string(NULL, d, e);
            bad = sex != NULL && sex[0] != '\0' && strcmp(sex, "M") != 0 &&
                  strcmp(sex, "F") != 0 && strcmp(sex, "O") != 0;
            free(sex);
        }
        /* Replacing keeps the element at index i (the data set stays sorted). */
        if (bad && !imd_dicom_dataset_set_string(error, d, tag, vr, "")) {
            return false;
        }
        i++;
    }
    return true;
}

/*
 * MR attributes a template holds against their conditions (PS3.3 C.8.3.1):
 * Inversion Time is 2C, present only when Scanning Sequence has IR (Siemens
 * MPRAGE exports say GR with a TI: dcm_qa_frag). It is removed from what we
 * write; the template's own files keep it.
 */
static bool drop_mr_contradictions(ImdDicomDataSet *d)
{
    char *sequence = text_of(d, IMD_TAG_ScanningSequence);
    bool inversion = sequence != NULL && has_value(sequence, "IR");
    free(sequence);
    if (!inversion) {
        (void)imd_dicom_dataset_remove(d, IMD_TAG_InversionTime);
    }
    return true;
}

bool imd__dicom_complete_iod(ImdError **error, ImdDicomDataSet *d, const char *sop_class)
{
    if (!repair_values(error, d, 0) ||
        !fill(error, d, common, sizeof common / sizeof common[0]) ||
        !complete_laterality(error, d)) {
        return false;
    }
    if (strcmp(sop_class, SC_IMAGE) == 0) {
        /* SC Equipment (PS3.3 C.8.6.1): a workstation made it; no Frame of Reference module.
         * No Image Plane module either, so Patient Orientation (C.7.6.1, 2C) is required. */
        return (imd_dicom_dataset_find(d, IMD_TAG_PatientOrientation) != NULL ||
                imd_dicom_dataset_set_string(error, d, IMD_TAG_PatientOrientation, (ImdVR)0,
                                             "")) &&
               (imd_dicom_dataset_find(d, IMD_TAG_ConversionType) != NULL ||
                imd_dicom_dataset_set_string(error, d, IMD_TAG_ConversionType, (ImdVR)0, "WSD"));
    }
    if (imd_dicom_dataset_find(d, IMD_TAG_FrameOfReferenceUID) != NULL &&
        imd_dicom_dataset_find(d, IMD_TAG_PositionReferenceIndicator) == NULL &&
        !imd_dicom_dataset_set_string(error, d, IMD_TAG_PositionReferenceIndicator, (ImdVR)0,
                                      "")) {
        return false;
    }
    if (strcmp(sop_class, MR_IMAGE) == 0) {
        return fill(error, d, mr, sizeof mr / sizeof mr[0]) &&
               complete_mr_conditions(error, d) && drop_mr_contradictions(d) &&
               complete_image_type(error, d, "OTHER");
    }
    if (strcmp(sop_class, CT_IMAGE) == 0) {
        return fill(error, d, ct, sizeof ct / sizeof ct[0]) &&
               complete_image_type(error, d, "AXIAL");
    }
    return true;
}
