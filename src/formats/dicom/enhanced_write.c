/*
 * enhanced_write.c: the frames of a series as one Enhanced MR (or Enhanced
 * CT) multi-frame instance (issue 15 item 6; docs/dicom-writing.md).
 *
 * The classic writer (write.c) makes each frame as it makes a single-frame
 * file: the template's data set with the frame's geometry, tag values and
 * pixels. This file turns those classic data sets into functional groups
 * (PS3.3 C.7.6.16 Multi-frame Functional Groups, C.7.6.17 Multi-frame
 * Dimension, A.36.2 Enhanced MR Image IOD, A.38.1 Enhanced CT Image IOD):
 *
 *  - per frame: Frame Content (C.7.6.16.2.2: dimension index values, stack,
 *    in-stack position, temporal position, acquisition date-time), Plane
 *    Position (C.7.6.16.2.3), MR Echo (C.8.13.5.4) and MR Diffusion
 *    (C.8.13.5.9) when the frame has an echo time or a b value;
 *  - shared: Pixel Measures (C.7.6.16.2.1), Plane Orientation (C.7.6.16.2.4),
 *    Frame Anatomy (C.7.6.16.2.8), Pixel Value Transformation (C.7.6.16.2.9),
 *    Frame VOI LUT (C.7.6.16.2.10) and MR / CT Image Frame Type (C.8.13.5.1,
 *    C.8.15.3.1): the writer uses one rescale and one window per series;
 *  - top level: the first frame's data set without what the groups now hold
 *    and without the classic-only per-image attributes, with the Enhanced MR
 *    / CT Image module, Enhanced General Equipment, Acquisition Context and
 *    Multi-frame Dimension modules.
 *
 * Image Type value 1 is DERIVED: the object is made from a series by
 * software, and the acquisition attributes that ORIGINAL would require (MR
 * Pulse Sequence, MR Timing, ...: type 1C on ORIGINAL, PS3.3 C.8.13.1) are not
 * all known. The pixels are gathered frame by frame into one buffer of the
 * series' stored size; nothing else is kept per frame.
 */
#include "formats/dicom/enhanced_write.h"

#include <math.h>
#include <stdio.h>

struct ImdEnhancedWriter {
    ImdEnhancedPlan plan;
    ImdDicomDataSet *out;       /* the top level, from the first frame */
    uint8_t *pixels;            /* frames x frame_bytes */
    size_t frame_bytes, frames_added;
    ImdVR pixel_vr;
};

/* Per-image attributes of the classic IODs (Image Plane C.7.6.2, MR Image C.8.3.1, CT Image
 * C.8.2.1, General Image C.7.6.1, rescale and window) whose values now live in the functional
 * groups or describe one image only: left out of the top level. */
static const uint32_t classic_per_image[] = {
    IMD_TAG_ImagePositionPatient, IMD_TAG_ImageOrientationPatient, IMD_TAG_PixelSpacing,
    IMD_TAG_SliceThickness, IMD_TAG_SpacingBetweenSlices, IMD_TAG_SliceLocation,
    IMD_TAG_PatientOrientation, IMD_TAG_AcquisitionDate, IMD_TAG_AcquisitionTime,
    IMD_TAG_EchoTime, IMD_TAG_EchoNumbers, IMD_TAG_TriggerTime,
    IMD_TAG_TemporalPositionIdentifier, IMD_TAG_NumberOfTemporalPositions,
    IMD_TAG_DiffusionBValue, IMD_TAG_DiffusionGradientOrientation,
    IMD_TAG_DiffusionDirectionality, IMD_TAG_InStackPositionNumber, IMD_TAG_StackID,
    IMD_TAG_RescaleIntercept, IMD_TAG_RescaleSlope, IMD_TAG_RescaleType,
    IMD_TAG_WindowCenter, IMD_TAG_WindowWidth, IMD_TAG_WindowCenterWidthExplanation,
    IMD_TAG_SmallestImagePixelValue, IMD_TAG_LargestImagePixelValue,
    IMD_TAG_SmallestPixelValueInSeries, IMD_TAG_LargestPixelValueInSeries,
    IMD_TAG_PixelData, IMD_TAG_ImagesInAcquisition,
    /* the single-frame MR Image module's type 1 acquisition description (C.8.3.1): the
     * enhanced IOD says it in the MR Pulse Sequence module and the MR macros instead */
    IMD_TAG_ScanningSequence, IMD_TAG_SequenceVariant, IMD_TAG_ScanOptions,
    IMD_TAG_MRAcquisitionType, IMD_TAG_SequenceName, IMD_TAG_AngioFlag,
    IMD_TAG_ImagedNucleus, IMD_TAG_InPlanePhaseEncodingDirection,
    /* an enhanced template's MR Pulse Sequence module (C.8.13.4) and evidence of the
     * acquisition (C.8.13.2): 1C on ORIGINAL images, not permitted on DERIVED ones */
    IMD_TAG_PulseSequenceName, IMD_TAG_EchoPulseSequence, IMD_TAG_MultipleSpinEcho,
    IMD_TAG_MultiPlanarExcitation, IMD_TAG_PhaseContrast,
    IMD_TAG_VelocityEncodingAcquisitionSequence, IMD_TAG_TimeOfFlightContrast,
    IMD_TAG_ArterialSpinLabelingContrast, IMD_TAG_SteadyStatePulseSequence,
    IMD_TAG_EchoPlanarPulseSequence, IMD_TAG_SaturationRecovery,
    IMD_TAG_SpectrallySelectedSuppression, IMD_TAG_OversamplingPhase,
    IMD_TAG_GeometryOfKSpaceTraversal, IMD_TAG_RectilinearPhaseEncodeReordering,
    IMD_TAG_SegmentedKSpaceTraversal, IMD_TAG_CoverageOfKSpace,
    IMD_TAG_NumberOfKSpaceTrajectories, IMD_TAG_ReferencedImageEvidenceSequence,
};

/* ---- small helpers ---- */

static bool text(ImdError **error, ImdDicomDataSet *d, uint32_t tag, const char *value)
{
    return imd_dicom_dataset_set_string(error, d, tag, (ImdVR)0, value);
}

static bool number(ImdError **error, ImdDicomDataSet *d, uint32_t tag, ImdVR vr, double value)
{
    return imd_dicom_dataset_set_numbers(error, d, tag, vr, &value, 1);
}

/* The first value of `tag` as a number; false when absent, empty or not a number. */
static bool number_of(const ImdDicomDataSet *d, uint32_t tag, double *value)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    return e != NULL && imd_dicom_element_vm(e) > 0 &&
           imd_dicom_element_number(NULL, e, 0, value) && isfinite(*value);
}

/* The value of `tag` as text, or NULL (absent, empty or not text). Release with free(). */
static char *text_of(const ImdDicomDataSet *d, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(d, tag);
    if (e == NULL || imd_dicom_element_vm(e) == 0) {
        return NULL;
    }
    char *value = imd_dicom_element_string(NULL, d, e);
    if (value != NULL && value[0] == '\0') {
        free(value);
        return NULL;
    }
    return value;
}

/* Copy element `tag` of `from` (bytes and VR) into `to` under the same tag; absent: nothing. */
static bool copy(ImdError **error, const ImdDicomDataSet *from, ImdDicomDataSet *to, uint32_t tag)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(from, tag);
    if (e == NULL || imd_dicom_element_vm(e) == 0) {
        return true;
    }
    size_t size;
    const uint8_t *bytes = imd_dicom_element_bytes(e, &size);
    return imd_dicom_dataset_set_bytes(error, to, tag, imd_dicom_element_vr(e), bytes, size);
}

/* An empty sequence: a type 2 SQ present with no item (PS3.5 §7.4.6). */
static bool empty_sequence(ImdError **error, ImdDicomDataSet *d, uint32_t tag)
{
    ImdDicomElement element = {.tag = tag, .vr = IMD_VR_SQ};
    return imd__dicom_dataset_put(error, d, &element);
}

/* ---- the plan ---- */

bool imd__dicom_enhanced_dimension_for(const char *order_name, ImdEnhancedDimension *out)
{
    /* Which attribute indexes an axis (C.7.6.17.1: the Dimension Index Pointer names an
     * attribute of the functional group named by the Functional Group Pointer). A (b,
     * direction) pair is one axis: indexed by its b value's attribute, in axis order. */
    static const struct {
        const char *name;
        uint32_t index_pointer, group_pointer;
        const char *label;
    } known[] = {
        {"time", IMD_TAG_TemporalPositionIndex, IMD_TAG_FrameContentSequence, "time"},
        {"te", IMD_TAG_EffectiveEchoTime, IMD_TAG_MREchoSequence, "echo time"},
        {"b", IMD_TAG_DiffusionBValue, IMD_TAG_MRDiffusionSequence, "b value"},
        {"bvector", IMD_TAG_DiffusionGradientOrientation, IMD_TAG_MRDiffusionSequence,
         "diffusion direction"},
        {"dti", IMD_TAG_DiffusionBValue, IMD_TAG_MRDiffusionSequence, "b value and direction"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(order_name, known[i].name) == 0) {
            *out = (ImdEnhancedDimension){known[i].index_pointer, known[i].group_pointer,
                                          known[i].label};
            return true;
        }
    }
    return false;
}

ImdEnhancedWriter *imd__dicom_enhanced_begin(ImdError **error, const ImdEnhancedPlan *plan)
{
    if (plan->dimension_count > IMD_ENHANCED_MAX_DIMENSIONS || plan->frames == 0 ||
        plan->frames > INT32_MAX) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "enhanced DICOM: %zu frames, %zu dimensions",
                      plan->frames, plan->dimension_count);
        return NULL;
    }
    ImdEnhancedWriter *w = imd__calloc(error, 1, sizeof *w);
    if (w != NULL) {
        w->plan = *plan;
    }
    return w;
}

void imd__dicom_enhanced_free(ImdEnhancedWriter *w)
{
    if (w != NULL) {
        imd_dicom_dataset_destroy(w->out);
        free(w->pixels);
        free(w);
    }
}

/* ---- per frame ---- */

/*
 * FrameAcquisitionDateTime (DT) from the frame's AcquisitionDate (else the series'
 * or study's date) and AcquisitionTime; nothing without a time.
 */
static bool set_frame_date_time(ImdError **error, const ImdDicomDataSet *frame,
                                ImdDicomDataSet *content)
{
    char *time = text_of(frame, IMD_TAG_AcquisitionTime);
    if (time == NULL) {
        return true;
    }
    static const uint32_t dates[] = {IMD_TAG_AcquisitionDate, IMD_TAG_SeriesDate,
                                     IMD_TAG_StudyDate, IMD_TAG_ContentDate};
    char *date = NULL;
    for (size_t i = 0; date == NULL && i < sizeof dates / sizeof dates[0]; i++) {
        date = text_of(frame, dates[i]);
    }
    bool ok = true;
    /* DT is YYYYMMDDHHMMSS.FFFFFF (PS3.5 §6.2): the TM's digits as they are */
    char value[64];
    size_t n = 0;
    for (const char *p = date != NULL ? date : ""; *p != '\0' && n < 8; p++) {
        if (*p >= '0' && *p <= '9') {
            value[n++] = *p;
        }
    }
    if (n == 8) {
        for (const char *p = time; *p != '\0' && n < 21; p++) {
            if ((*p >= '0' && *p <= '9') || *p == '.') {
                value[n++] = *p;
            }
        }
        value[n] = '\0';
        ok = text(error, content, IMD_TAG_FrameAcquisitionDateTime, value);
    }
    free(time);
    free(date);
    return ok;
}

static bool set_frame_content(ImdError **error, const ImdEnhancedWriter *w,
                              const ImdDicomDataSet *frame, ImdDicomDataSet *groups,
                              const uint32_t *index_values, size_t slice)
{
    ImdDicomDataSet *content = imd_dicom_dataset_append_item(error, groups,
                                                             IMD_TAG_FrameContentSequence);
    if (content == NULL || !set_frame_date_time(error, frame, content)) {
        return false;
    }
    double values[IMD_ENHANCED_MAX_DIMENSIONS];
    for (size_t k = 0; k < w->plan.dimension_count; k++) {
        values[k] = index_values[k];
        if (w->plan.dimensions[k].index_pointer == IMD_TAG_TemporalPositionIndex &&
            !number(error, content, IMD_TAG_TemporalPositionIndex, IMD_VR_UL, values[k])) {
            return false;
        }
    }
    /* One stack: every frame of the series lies in it (C.7.6.16.2.2.4). */
    return text(error, content, IMD_TAG_StackID, "1") &&
           number(error, content, IMD_TAG_InStackPositionNumber, IMD_VR_UL,
                  (double)slice + 1) &&
           (w->plan.dimension_count == 0 ||
            imd_dicom_dataset_set_numbers(error, content, IMD_TAG_DimensionIndexValues,
                                          IMD_VR_UL, values, w->plan.dimension_count));
}

/* MR Diffusion (C.8.13.5.9) from the frame's DiffusionBValue, DiffusionDirectionality
 * and DiffusionGradientOrientation; a direction only for DIRECTIONAL (1C). */
static bool set_diffusion(ImdError **error, const ImdDicomDataSet *frame,
                          ImdDicomDataSet *groups)
{
    double b;
    if (!number_of(frame, IMD_TAG_DiffusionBValue, &b)) {
        return true;
    }
    double direction[3];
    const ImdDicomElement *e = imd_dicom_dataset_find(frame, IMD_TAG_DiffusionGradientOrientation);
    bool directional = e != NULL && imd_dicom_element_vm(e) == 3;
    for (size_t i = 0; directional && i < 3; i++) {
        directional = imd_dicom_element_number(NULL, e, i, &direction[i]) &&
                      isfinite(direction[i]);
    }
    char *stated = text_of(frame, IMD_TAG_DiffusionDirectionality);
    /* Without a direction the frame is not DIRECTIONAL: ISOTROPIC (a trace) stays, anything
     * else is NONE (b = 0, or a direction we do not know). */
    const char *directionality = directional ? "DIRECTIONAL"
                                 : stated != NULL && strcmp(stated, "ISOTROPIC") == 0
                                     ? "ISOTROPIC"
                                     : "NONE";
    ImdDicomDataSet *item = imd_dicom_dataset_append_item(error, groups,
                                                          IMD_TAG_MRDiffusionSequence);
    bool ok = item != NULL && number(error, item, IMD_TAG_DiffusionBValue, IMD_VR_FD, b) &&
              text(error, item, IMD_TAG_DiffusionDirectionality, directionality);
    free(stated);
    if (ok && directional) {
        ImdDicomDataSet *gradient =
            imd_dicom_dataset_append_item(error, item, IMD_TAG_DiffusionGradientDirectionSequence);
        ok = gradient != NULL &&
             imd_dicom_dataset_set_numbers(error, gradient, IMD_TAG_DiffusionGradientOrientation,
                                           IMD_VR_FD, direction, 3);
    }
    return ok;
}

static bool set_per_frame(ImdError **error, const ImdEnhancedWriter *w,
                          const ImdDicomDataSet *frame, const uint32_t *index_values, size_t slice)
{
    ImdDicomDataSet *groups =
        imd_dicom_dataset_append_item(error, w->out, IMD_TAG_PerFrameFunctionalGroupsSequence);
    if (groups == NULL || !set_frame_content(error, w, frame, groups, index_values, slice)) {
        return false;
    }
    ImdDicomDataSet *position = imd_dicom_dataset_append_item(error, groups,
                                                              IMD_TAG_PlanePositionSequence);
    if (position == NULL || !copy(error, frame, position, IMD_TAG_ImagePositionPatient)) {
        return false;
    }
    if (!w->plan.mr) {
        return true;
    }
    double te;
    if (number_of(frame, IMD_TAG_EchoTime, &te)) {
        ImdDicomDataSet *echo = imd_dicom_dataset_append_item(error, groups,
                                                              IMD_TAG_MREchoSequence);
        if (echo == NULL || !number(error, echo, IMD_TAG_EffectiveEchoTime, IMD_VR_FD, te)) {
            return false;
        }
    }
    return set_diffusion(error, frame, groups);
}

/* ---- the top level, from the first frame ---- */

/*
 * Image Type of the enhanced image (C.8.16.1): four values. Value 1 DERIVED
 * (see the top of this file); value 2 PRIMARY, the only enumerated value of
 * the enhanced MR and CT images (dciodvfy refuses SECONDARY); value 3, the image flavour (C.8.13.1.1.1), kept
 * when the series' third value is an enhanced MR flavour, else DIFFUSION,
 * MULTIECHO or DYNAMIC for a b, echo or time axis, else VOLUME; value 4, the
 * derived pixel contrast, NONE (C.8.16.1.3: no contrast was computed).
 */
static char *image_type(ImdError **error, const ImdDicomDataSet *frame, const char *flavour)
{
    static const char *const flavours[] = {
        "ANGIO", "CARDIAC", "CARDIAC_GATED", "CARDRESP_GATED", "DYNAMIC", "FLUOROSCOPY",
        "LOCALIZER", "MOTION", "PERFUSION", "PRE_CONTRAST", "POST_CONTRAST", "RESP_GATED",
        "REST", "STATIC", "STRESS", "VOLUME", "NON_PARALLEL", "PARALLEL", "WHOLE_BODY",
        "ANGIO_TIME", "CINE", "DIFFUSION", "FLOW_ENCODED", "FLUID_ATTENUATED", "FMRI",
        "MAX_IP", "METABOLITE_MAP", "MIN_IP", "MULTIECHO", "M_MODE", "PROTON_DENSITY",
        "REALTIME", "STIR", "TAGGING", "TEMPERATURE", "T1", "T2", "T2_STAR", "TOF", "VELOCITY"};
    char *classic = text_of(frame, IMD_TAG_ImageType);
    char parts[4][17] = {"DERIVED", "PRIMARY", "", "NONE"};
    snprintf(parts[2], sizeof parts[2], "%s", flavour);
    size_t index = 0;
    for (const char *p = classic; p != NULL && *p != '\0' && index < 3; index++) {
        const char *end = strchr(p, '\\');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        for (size_t i = 0; index == 2 && i < sizeof flavours / sizeof flavours[0]; i++) {
            if (strlen(flavours[i]) == n && strncmp(p, flavours[i], n) == 0) {
                snprintf(parts[2], sizeof parts[2], "%s", flavours[i]);
            }
        }
        p = end != NULL ? end + 1 : NULL;
    }
    free(classic);
    return imd__sprintf(error, "%s\\%s\\%s\\%s", parts[0], parts[1], parts[2], parts[3]);
}

/*
 * Frame Anatomy (C.7.6.16.2.8): the anatomic region as a code of CID 4 (SNOMED CT
 * concepts, PS3.16), from the Body Part Examined defined term (PS3.16 Annex L) when
 * it is one of those below; Frame Laterality U (unpaired or unknown).
 */
static bool set_anatomy(ImdError **error, const ImdDicomDataSet *frame, ImdDicomDataSet *shared)
{
    static const struct {
        const char *body_part, *code, *meaning;
    } regions[] = {
        {"HEAD", "69536005", "Head"},      {"BRAIN", "12738006", "Brain"},
        {"CHEST", "51185008", "Chest"},    {"HEART", "80891009", "Heart"},
        {"KNEE", "72696002", "Knee"},      {"SPINE", "421060004", "Spine"},
        {"NECK", "45048000", "Neck"},      {"ABDOMEN", "818981001", "Abdomen"},
        {"PELVIS", "816092008", "Pelvis"}, {"WHOLEBODY", "38266002", "Entire body"},
    };
    char *part = text_of(frame, IMD_TAG_BodyPartExamined);
    /* unknown: the whole body is what the frame shows at most */
    size_t found = sizeof regions / sizeof regions[0] - 1;
    for (size_t i = 0; part != NULL && i < sizeof regions / sizeof regions[0]; i++) {
        if (strcmp(part, regions[i].body_part) == 0) {
            found = i;
        }
    }
    free(part);
    ImdDicomDataSet *anatomy = imd_dicom_dataset_append_item(error, shared,
                                                             IMD_TAG_FrameAnatomySequence);
    ImdDicomDataSet *region = anatomy != NULL ? imd_dicom_dataset_append_item(
                                                    error, anatomy, IMD_TAG_AnatomicRegionSequence)
                                              : NULL;
    return region != NULL && text(error, region, IMD_TAG_CodeValue, regions[found].code) &&
           text(error, region, IMD_TAG_CodingSchemeDesignator, "SCT") &&
           text(error, region, IMD_TAG_CodeMeaning, regions[found].meaning) &&
           text(error, anatomy, IMD_TAG_FrameLaterality, "U");
}

/*
 * Complex Image Component (C.8.13.5.1.1): the series' own, else what the
 * classic Image Type's third value says (P, R, I as Siemens writes them, or
 * the words), else MAGNITUDE; so that phase images stay phase images (the
 * reader splits them by it, docs/dicom-reading.md).
 */
static const char *complex_component(const ImdDicomDataSet *frame)
{
    static const struct {
        const char *word, *term;
    } words[] = {{"PHASE", "PHASE"},         {"P", "PHASE"}, {"REAL", "REAL"}, {"R", "REAL"},
                 {"IMAGINARY", "IMAGINARY"}, {"I", "IMAGINARY"}, {"MIXED", "MIXED"}};
    const char *found = "MAGNITUDE";
    char *own = text_of(frame, IMD_TAG_ComplexImageComponent);
    char *type = own == NULL ? text_of(frame, IMD_TAG_ImageType) : NULL;
    const char *third = NULL;
    size_t part = 0;
    for (const char *p = type; p != NULL && part < 2; part++) {
        p = strchr(p, '\\');
        third = p != NULL ? p + 1 : NULL;
        p = third;
    }
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        const char *candidate = own != NULL ? own : third;
        size_t n = strlen(words[i].word);
        if (candidate != NULL && strncmp(candidate, words[i].word, n) == 0 &&
            (candidate[n] == '\0' || candidate[n] == '\\')) {
            found = words[i].term;
            break;
        }
    }
    free(own);
    free(type);
    return found;
}

static bool set_shared(ImdError **error, const ImdEnhancedWriter *w, const ImdDicomDataSet *frame,
                       const char *frame_type, bool diffusion)
{
    ImdDicomDataSet *shared =
        imd_dicom_dataset_append_item(error, w->out, IMD_TAG_SharedFunctionalGroupsSequence);
    if (shared == NULL) {
        return false;
    }
    ImdDicomDataSet *measures =
        imd_dicom_dataset_append_item(error, shared, IMD_TAG_PixelMeasuresSequence);
    ImdDicomDataSet *orientation =
        imd_dicom_dataset_append_item(error, shared, IMD_TAG_PlaneOrientationSequence);
    if (measures == NULL || orientation == NULL ||
        !copy(error, frame, measures, IMD_TAG_PixelSpacing) ||
        !copy(error, frame, measures, IMD_TAG_SliceThickness) ||
        !copy(error, frame, measures, IMD_TAG_SpacingBetweenSlices) ||
        !copy(error, frame, orientation, IMD_TAG_ImageOrientationPatient) ||
        !set_anatomy(error, frame, shared)) {
        return false;
    }
    /* Pixel Value Transformation: the series' rescale, identity when none (C.7.6.16.2.9;
     * Rescale Type US, unspecified, as the classic writer; CT: HU only for ORIGINAL data). */
    double intercept = 0, slope = 1;
    (void)number_of(frame, IMD_TAG_RescaleIntercept, &intercept);
    (void)number_of(frame, IMD_TAG_RescaleSlope, &slope);
    /* Enhanced CT: Rescale Type is enumerated HU (C.8.15.3.10 via dciodvfy) */
    char *type = w->plan.mr ? text_of(frame, IMD_TAG_RescaleType) : NULL;
    ImdDicomDataSet *transform =
        imd_dicom_dataset_append_item(error, shared, IMD_TAG_PixelValueTransformationSequence);
    bool ok = transform != NULL &&
              number(error, transform, IMD_TAG_RescaleIntercept, IMD_VR_DS, intercept) &&
              number(error, transform, IMD_TAG_RescaleSlope, IMD_VR_DS, slope) &&
              text(error, transform, IMD_TAG_RescaleType,
                   type != NULL ? type : w->plan.mr ? "US" : "HU");
    free(type);
    double center, width;
    if (ok && number_of(frame, IMD_TAG_WindowCenter, &center) &&
        number_of(frame, IMD_TAG_WindowWidth, &width)) {
        ImdDicomDataSet *voi = imd_dicom_dataset_append_item(error, shared,
                                                             IMD_TAG_FrameVOILUTSequence);
        ok = voi != NULL && number(error, voi, IMD_TAG_WindowCenter, IMD_VR_DS, center) &&
             number(error, voi, IMD_TAG_WindowWidth, IMD_VR_DS, width);
    }
    if (ok && !w->plan.mr) {
        /* Irradiation Event Identification (C.7.6.16.2.18), mandatory for Enhanced CT: the
         * event is not known from a series, so one new UID stands for it */
        char uid[IMD_UID_SIZE];
        ImdDicomDataSet *event = imd_dicom_dataset_append_item(
            error, shared, IMD_TAG_IrradiationEventIdentificationSequence);
        ok = event != NULL && imd_uid_generate(error, uid) &&
             text(error, event, IMD_TAG_IrradiationEventUID, uid);
    }
    ImdDicomDataSet *type_item = !ok ? NULL
                                 : imd_dicom_dataset_append_item(
                                       error, shared,
                                       w->plan.mr ? IMD_TAG_MRImageFrameTypeSequence
                                                  : IMD_TAG_CTImageFrameTypeSequence);
    ok = type_item != NULL && text(error, type_item, IMD_TAG_FrameType, frame_type) &&
         text(error, type_item, IMD_TAG_PixelPresentation, "MONOCHROME") &&
         text(error, type_item, IMD_TAG_VolumetricProperties, "VOLUME") &&
         text(error, type_item, IMD_TAG_VolumeBasedCalculationTechnique, "NONE");
    if (ok && w->plan.mr) {
        ok = text(error, type_item, IMD_TAG_ComplexImageComponent, complex_component(frame)) &&
             text(error, type_item, IMD_TAG_AcquisitionContrast,
                  diffusion ? "DIFFUSION" : "UNKNOWN");
    }
    return ok;
}

/* Enhanced General Equipment (C.7.5.2): type 1; "UNKNOWN" where the template says nothing. */
static bool set_equipment(ImdError **error, ImdDicomDataSet *d)
{
    static const uint32_t tags[] = {IMD_TAG_Manufacturer, IMD_TAG_ManufacturerModelName,
                                    IMD_TAG_DeviceSerialNumber, IMD_TAG_SoftwareVersions};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        char *value = text_of(d, tags[i]);
        bool ok = value != NULL || text(error, d, tags[i], "UNKNOWN");
        free(value);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Multi-frame Dimension module (C.7.6.17): one organization, the plan's dimensions. */
static bool set_dimensions(ImdError **error, const ImdEnhancedWriter *w)
{
    char uid[IMD_UID_SIZE];
    if (!imd_uid_generate(error, uid)) {
        return false;
    }
    ImdDicomDataSet *organization =
        imd_dicom_dataset_append_item(error, w->out, IMD_TAG_DimensionOrganizationSequence);
    if (organization == NULL || !text(error, organization, IMD_TAG_DimensionOrganizationUID, uid)) {
        return false;
    }
    bool temporal = false;
    for (size_t k = 0; k < w->plan.dimension_count; k++) {
        const ImdEnhancedDimension *dim = &w->plan.dimensions[k];
        temporal = temporal || dim->index_pointer == IMD_TAG_TemporalPositionIndex;
        ImdDicomDataSet *item =
            imd_dicom_dataset_append_item(error, w->out, IMD_TAG_DimensionIndexSequence);
        /* AT values: group then element, each a little-endian 16-bit number (PS3.5 §6.2) */
        uint8_t pointer[4] = {(uint8_t)(dim->index_pointer >> 16),
                              (uint8_t)(dim->index_pointer >> 24),
                              (uint8_t)dim->index_pointer, (uint8_t)(dim->index_pointer >> 8)};
        uint8_t group[4] = {(uint8_t)(dim->group_pointer >> 16),
                            (uint8_t)(dim->group_pointer >> 24), (uint8_t)dim->group_pointer,
                            (uint8_t)(dim->group_pointer >> 8)};
        if (item == NULL ||
            !imd_dicom_dataset_set_bytes(error, item, IMD_TAG_DimensionIndexPointer, IMD_VR_AT,
                                         pointer, 4) ||
            !imd_dicom_dataset_set_bytes(error, item, IMD_TAG_FunctionalGroupPointer, IMD_VR_AT,
                                         group, 4) ||
            !text(error, item, IMD_TAG_DimensionOrganizationUID, uid) ||
            !text(error, item, IMD_TAG_DimensionDescriptionLabel, dim->label)) {
            return false;
        }
    }
    return text(error, w->out, IMD_TAG_DimensionOrganizationType, temporal ? "3D_TEMPORAL" : "3D");
}

static bool make_top(ImdError **error, ImdEnhancedWriter *w, const ImdDicomDataSet *frame)
{
    w->out = imd_dicom_dataset_clone(error, frame);
    if (w->out == NULL) {
        return false;
    }
    ImdDicomDataSet *d = w->out;
    for (size_t i = 0; i < sizeof classic_per_image / sizeof classic_per_image[0]; i++) {
        (void)imd_dicom_dataset_remove(d, classic_per_image[i]);
    }
    const char *flavour = "VOLUME";
    for (size_t k = 0; k < w->plan.dimension_count; k++) {
        uint32_t pointer = w->plan.dimensions[k].index_pointer;
        flavour = pointer == IMD_TAG_DiffusionBValue ||
                          pointer == IMD_TAG_DiffusionGradientOrientation
                      ? "DIFFUSION"
                  : pointer == IMD_TAG_EffectiveEchoTime     ? "MULTIECHO"
                  : pointer == IMD_TAG_TemporalPositionIndex ? "DYNAMIC"
                                                             : flavour;
    }
    char *type = image_type(error, frame, flavour);
    if (type == NULL) {
        return false;
    }
    char frame_uid[IMD_UID_SIZE];
    /* Frame of Reference (C.7.4.1) is mandatory in the enhanced IODs: a new one when the
     * series has none (its positions are then in a space of their own). */
    char *reference = text_of(d, IMD_TAG_FrameOfReferenceUID);
    bool ok = (reference != NULL || (imd_uid_generate(error, frame_uid) &&
                                     text(error, d, IMD_TAG_FrameOfReferenceUID, frame_uid)));
    free(reference);
    double b;
    bool diffusion = number_of(frame, IMD_TAG_DiffusionBValue, &b);
    /* Enhanced MR / CT Image module (C.8.13.1, C.8.15.2): the frame type values at the top
     * level too, and the 1C attributes of a DERIVED image that hold anyway. */
    ok = ok && text(error, d, IMD_TAG_SOPClassUID, w->plan.sop_class) &&
         text(error, d, IMD_TAG_Modality, w->plan.mr ? "MR" : "CT") &&
         text(error, d, IMD_TAG_ImageType, type) &&
         text(error, d, IMD_TAG_PixelPresentation, "MONOCHROME") &&
         text(error, d, IMD_TAG_VolumetricProperties, "VOLUME") &&
         text(error, d, IMD_TAG_VolumeBasedCalculationTechnique, "NONE") &&
         text(error, d, IMD_TAG_ContentQualification, "RESEARCH") &&
         text(error, d, IMD_TAG_BurnedInAnnotation, "NO") &&
         text(error, d, IMD_TAG_LossyImageCompression, "00") &&
         text(error, d, IMD_TAG_PresentationLUTShape, "IDENTITY") &&
         /* MR Image and Spectroscopy Instance macro (C.8.13.2): dciodvfy requires the
          * agency whatever the image type; IEC (60601-2-33) is the international one. Not
          * a value from the data: no single-frame attribute says it. */
         (!w->plan.mr ||
          (text(error, d, IMD_TAG_ApplicableSafetyStandardAgency, "IEC") &&
           text(error, d, IMD_TAG_ComplexImageComponent, complex_component(frame)) &&
           text(error, d, IMD_TAG_AcquisitionContrast, diffusion ? "DIFFUSION" : "UNKNOWN"))) &&
         /* General Series (C.7.3.1): Patient Position is 2C, required for MR and CT */
         (imd_dicom_dataset_find(d, IMD_TAG_PatientPosition) != NULL ||
          text(error, d, IMD_TAG_PatientPosition, "")) &&
         set_equipment(error, d) && empty_sequence(error, d, IMD_TAG_AcquisitionContextSequence) &&
         set_shared(error, w, frame, type, diffusion) && set_dimensions(error, w);
    free(type);
    return ok;
}

/* ---- frames in, one data set out ---- */

bool imd__dicom_enhanced_add(ImdError **error, ImdEnhancedWriter *w, const ImdDicomDataSet *frame,
                             const uint32_t *index_values, size_t slice)
{
    const ImdDicomElement *pixels = imd_dicom_dataset_find(frame, IMD_TAG_PixelData);
    size_t size = 0;
    const uint8_t *bytes = pixels != NULL ? imd_dicom_element_bytes(pixels, &size) : NULL;
    if (w->frames_added >= w->plan.frames || bytes == NULL || size == 0 ||
        (w->frames_added > 0 && size != w->frame_bytes)) {
        imd_error_set(error, IMD_ERR_INVALID_ARG,
                      "enhanced DICOM: frame %zu of %zu has %zu bytes of pixels, expected %zu",
                      w->frames_added + 1, w->plan.frames, size, w->frame_bytes);
        return false;
    }
    if (w->frames_added == 0) {
        if (size > SIZE_MAX / w->plan.frames) {
            imd_error_set(error, IMD_ERR_UNSUPPORTED, "enhanced DICOM: %zu frames of %zu bytes "
                          "do not fit in memory", w->plan.frames, size);
            return false;
        }
        w->frame_bytes = size;
        w->pixel_vr = imd_dicom_element_vr(pixels);
        w->pixels = imd__malloc(error, size * w->plan.frames);
        if (w->pixels == NULL || !make_top(error, w, frame)) {
            return false;
        }
    }
    memcpy(w->pixels + w->frames_added * w->frame_bytes, bytes, size);
    if (!set_per_frame(error, w, frame, index_values, slice)) {
        return false;
    }
    w->frames_added++;
    return true;
}

ImdDicomDataSet *imd__dicom_enhanced_finish(ImdError **error, ImdEnhancedWriter *w)
{
    if (w->frames_added != w->plan.frames) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "enhanced DICOM: %zu of %zu frames given",
                      w->frames_added, w->plan.frames);
        return NULL;
    }
    ImdDicomDataSet *d = w->out;
    /* Pixel Data of all frames, one after the other (PS3.5 §8.1.1, §8.2). A frame of an
     * odd byte count is padded once at the end (8-bit pixels, odd rows x columns). */
    size_t total = w->frame_bytes * w->plan.frames;
    ImdDicomElement element = {.tag = IMD_TAG_PixelData, .vr = w->pixel_vr, .value = w->pixels,
                               .size = total, .owned = true};
    if (total % 2 != 0) {
        uint8_t *padded = imd__realloc(error, w->pixels, total + 1);
        if (padded == NULL) {
            return NULL;
        }
        padded[total] = 0;
        w->pixels = padded;
        element.value = padded;
        element.size = total + 1;
    }
    if (!number(error, d, IMD_TAG_NumberOfFrames, IMD_VR_IS, (double)w->plan.frames) ||
        !imd__dicom_dataset_put(error, d, &element)) {
        return NULL;
    }
    w->pixels = NULL; /* the data set owns them now */
    w->out = NULL;
    return d;
}
