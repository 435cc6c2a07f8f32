/*
 * frames.c: one frame of an enhanced multi-frame object as a data set of
 * classic single-frame attributes (frames.h).
 *
 * PS3.3 C.7.6.16: every functional group macro is a sequence of one item,
 * found either in per-frame item i of the Per-frame Functional Groups
 * Sequence (5200,9230) or in the one item of the Shared Functional Groups
 * Sequence (5200,9229). The attributes the reader wants sit inside those
 * macro items, often under a different tag than in a classic image
 * (EffectiveEchoTime for EchoTime, FrameAcquisitionDateTime for
 * AcquisitionDate and AcquisitionTime, ...). One table says where each
 * classic attribute comes from.
 *
 * Cost: frame i's item is taken by index and every lookup is a binary search
 * in a small item, so walking all frames is linear in the number of frames.
 * Values are not copied: the frame's data set holds a reference to the
 * source's byte buffer and points into it.
 */
#define _POSIX_C_SOURCE 200809L
#include "formats/dicom/frames.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>

/* Most values read when a number must change VR (DimensionIndexValues has a few). */
#define MAX_CONVERTED_VALUES 64
/* A sequence copied into a frame (Real World Value Mapping, b matrix) with more
 * elements than this is left out: the frame data sets must stay small. */
#define MAX_SEQUENCE_ELEMENTS 4096
#define MAX_SEQUENCE_DEPTH 16

typedef enum MapKind {
    MAP_COPY,     /* the attribute, under the target tag and the target's VR */
    MAP_FIRST,    /* its first value only (InversionTimes -> InversionTime) */
    MAP_ROUND,    /* rounded to an integer (ExposureInmAs FD -> Exposure IS) */
    MAP_DATE,     /* the date part YYYYMMDD of a DT */
    MAP_TIME,     /* the time part of a DT, without its UTC offset */
    MAP_SEQUENCE, /* an SQ attribute of the macro item, copied whole */
    MAP_WHOLE     /* the macro sequence itself, copied whole */
} MapKind;

typedef struct MapRow {
    const char *macro;     /* the functional group sequence (keyword) */
    const char *attribute; /* in the macro's item; NULL for MAP_WHOLE */
    const char *inner;     /* when set, `attribute` is an SQ whose first item holds this */
    const char *target;    /* the classic attribute */
    MapKind kind;
} MapRow;

/* Keep the attribute under its own tag. */
#define KEEP(macro, attribute) {macro, attribute, NULL, attribute, MAP_COPY}
#define MAP(macro, attribute, target) {macro, attribute, NULL, target, MAP_COPY}

/*
 * Where each classic attribute comes from. Rows for one macro are adjacent.
 * Of two rows with one target, the first found wins (ImageType from the MR,
 * CT or PET frame type). Macros: PS3.3 C.7.6.16.2 (common), C.8.13.5 (MR),
 * C.8.15.3 (CT), C.8.22 (PET), C.8.21.5 (X-Ray 3D), C.8.20.3 (SEG).
 */
static const MapRow map_rows[] = {
    /* Plane Position (Patient), Plane Orientation (Patient), Pixel Measures */
    KEEP("PlanePositionSequence", "ImagePositionPatient"),
    KEEP("PlaneOrientationSequence", "ImageOrientationPatient"),
    KEEP("PixelMeasuresSequence", "PixelSpacing"),
    KEEP("PixelMeasuresSequence", "SliceThickness"),
    KEEP("PixelMeasuresSequence", "SpacingBetweenSlices"),
    /* Frame Content (C.7.6.16.2.2) */
    KEEP("FrameContentSequence", "FrameAcquisitionDateTime"),
    MAP("FrameContentSequence", "FrameAcquisitionDateTime", "AcquisitionDateTime"),
    {"FrameContentSequence", "FrameAcquisitionDateTime", NULL, "AcquisitionDate", MAP_DATE},
    {"FrameContentSequence", "FrameAcquisitionDateTime", NULL, "AcquisitionTime", MAP_TIME},
    KEEP("FrameContentSequence", "FrameReferenceDateTime"),
    KEEP("FrameContentSequence", "FrameAcquisitionDuration"),
    KEEP("FrameContentSequence", "FrameAcquisitionNumber"),
    MAP("FrameContentSequence", "FrameAcquisitionNumber", "AcquisitionNumber"),
    KEEP("FrameContentSequence", "TemporalPositionIndex"),
    MAP("FrameContentSequence", "TemporalPositionIndex", "TemporalPositionIdentifier"),
    KEEP("FrameContentSequence", "StackID"),
    KEEP("FrameContentSequence", "InStackPositionNumber"),
    KEEP("FrameContentSequence", "DimensionIndexValues"),
    KEEP("FrameContentSequence", "FrameLabel"),
    KEEP("FrameContentSequence", "FrameComments"),
    KEEP("FrameContentSequence", "CardiacCyclePosition"),
    KEEP("FrameContentSequence", "RespiratoryCyclePosition"),
    /* Cardiac Synchronization (C.7.6.16.2.7) */
    MAP("CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime", "TriggerTime"),
    KEEP("CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime"),
    KEEP("CardiacSynchronizationSequence", "ActualCardiacTriggerDelayTime"),
    KEEP("CardiacSynchronizationSequence", "NominalPercentageOfCardiacPhase"),
    KEEP("CardiacSynchronizationSequence", "RRIntervalTimeNominal"),
    /* Pixel Value Transformation (C.7.6.16.2.9), Frame VOI LUT (C.7.6.16.2.10) */
    KEEP("PixelValueTransformationSequence", "RescaleIntercept"),
    KEEP("PixelValueTransformationSequence", "RescaleSlope"),
    KEEP("PixelValueTransformationSequence", "RescaleType"),
    KEEP("FrameVOILUTSequence", "WindowCenter"),
    KEEP("FrameVOILUTSequence", "WindowWidth"),
    KEEP("FrameVOILUTSequence", "WindowCenterWidthExplanation"),
    KEEP("FrameVOILUTSequence", "VOILUTFunction"),
    /* Real World Value Mapping (C.7.6.16.2.11): the sequence is the attribute */
    {"RealWorldValueMappingSequence", NULL, NULL, "RealWorldValueMappingSequence", MAP_WHOLE},
    /* Irradiation Event Identification (C.7.6.16.2.18) */
    KEEP("IrradiationEventIdentificationSequence", "IrradiationEventUID"),
    /* Segmentation (C.8.20.3.1) */
    KEEP("SegmentIdentificationSequence", "ReferencedSegmentNumber"),
    /* MR Image Frame Type (C.8.13.5.1) */
    MAP("MRImageFrameTypeSequence", "FrameType", "ImageType"),
    KEEP("MRImageFrameTypeSequence", "FrameType"),
    KEEP("MRImageFrameTypeSequence", "PixelPresentation"),
    KEEP("MRImageFrameTypeSequence", "VolumetricProperties"),
    KEEP("MRImageFrameTypeSequence", "VolumeBasedCalculationTechnique"),
    KEEP("MRImageFrameTypeSequence", "ComplexImageComponent"),
    KEEP("MRImageFrameTypeSequence", "AcquisitionContrast"),
    /* MR Timing and Related Parameters (C.8.13.5.2) */
    KEEP("MRTimingAndRelatedParametersSequence", "RepetitionTime"),
    KEEP("MRTimingAndRelatedParametersSequence", "FlipAngle"),
    KEEP("MRTimingAndRelatedParametersSequence", "EchoTrainLength"),
    KEEP("MRTimingAndRelatedParametersSequence", "RFEchoTrainLength"),
    KEEP("MRTimingAndRelatedParametersSequence", "GradientEchoTrainLength"),
    /* MR FOV/Geometry (C.8.13.5.3) */
    KEEP("MRFOVGeometrySequence", "InPlanePhaseEncodingDirection"),
    KEEP("MRFOVGeometrySequence", "PercentSampling"),
    KEEP("MRFOVGeometrySequence", "PercentPhaseFieldOfView"),
    KEEP("MRFOVGeometrySequence", "MRAcquisitionFrequencyEncodingSteps"),
    KEEP("MRFOVGeometrySequence", "MRAcquisitionPhaseEncodingStepsInPlane"),
    KEEP("MRFOVGeometrySequence", "MRAcquisitionPhaseEncodingStepsOutOfPlane"),
    /* MR Echo (C.8.13.5.4). EchoNumbers is not in the macro, but Siemens XA puts it there. */
    MAP("MREchoSequence", "EffectiveEchoTime", "EchoTime"),
    KEEP("MREchoSequence", "EffectiveEchoTime"),
    KEEP("MREchoSequence", "EchoNumbers"),
    /* MR Modifier (C.8.13.5.5) */
    {"MRModifierSequence", "InversionTimes", NULL, "InversionTime", MAP_FIRST},
    KEEP("MRModifierSequence", "InversionTimes"),
    KEEP("MRModifierSequence", "InversionRecovery"),
    KEEP("MRModifierSequence", "FlowCompensation"),
    KEEP("MRModifierSequence", "Spoiling"),
    KEEP("MRModifierSequence", "T2Preparation"),
    KEEP("MRModifierSequence", "SpectrallySelectedExcitation"),
    KEEP("MRModifierSequence", "SpatialPresaturation"),
    KEEP("MRModifierSequence", "PartialFourier"),
    KEEP("MRModifierSequence", "PartialFourierDirection"),
    KEEP("MRModifierSequence", "ParallelAcquisition"),
    KEEP("MRModifierSequence", "ParallelAcquisitionTechnique"),
    KEEP("MRModifierSequence", "ParallelReductionFactorInPlane"),
    KEEP("MRModifierSequence", "ParallelReductionFactorOutOfPlane"),
    KEEP("MRModifierSequence", "ParallelReductionFactorSecondInPlane"),
    /* MR Imaging Modifier (C.8.13.5.6); the transmitter frequency is the imaging frequency */
    KEEP("MRImagingModifierSequence", "PixelBandwidth"),
    KEEP("MRImagingModifierSequence", "MagnetizationTransfer"),
    KEEP("MRImagingModifierSequence", "BloodSignalNulling"),
    KEEP("MRImagingModifierSequence", "Tagging"),
    KEEP("MRImagingModifierSequence", "TransmitterFrequency"),
    MAP("MRImagingModifierSequence", "TransmitterFrequency", "ImagingFrequency"),
    /* MR Receive Coil, MR Transmit Coil (C.8.13.5.7, C.8.13.5.8) */
    KEEP("MRReceiveCoilSequence", "ReceiveCoilName"),
    KEEP("MRTransmitCoilSequence", "TransmitCoilName"),
    /* MR Diffusion (C.8.13.5.9) */
    KEEP("MRDiffusionSequence", "DiffusionBValue"),
    KEEP("MRDiffusionSequence", "DiffusionDirectionality"),
    KEEP("MRDiffusionSequence", "DiffusionAnisotropyType"),
    {"MRDiffusionSequence", "DiffusionGradientDirectionSequence", "DiffusionGradientOrientation",
     "DiffusionGradientOrientation", MAP_COPY},
    {"MRDiffusionSequence", "DiffusionBMatrixSequence", NULL, "DiffusionBMatrixSequence",
     MAP_SEQUENCE},
    /* MR Averages (C.8.13.5.10), MR Metabolite Map (C.8.13.5.12), MR Velocity Encoding */
    KEEP("MRAveragesSequence", "NumberOfAverages"),
    KEEP("MRMetaboliteMapSequence", "MetaboliteMapDescription"),
    {"MRVelocityEncodingSequence", NULL, NULL, "MRVelocityEncodingSequence", MAP_WHOLE},
    /* CT Image Frame Type (C.8.15.3.1) */
    MAP("CTImageFrameTypeSequence", "FrameType", "ImageType"),
    KEEP("CTImageFrameTypeSequence", "FrameType"),
    KEEP("CTImageFrameTypeSequence", "PixelPresentation"),
    KEEP("CTImageFrameTypeSequence", "VolumetricProperties"),
    KEEP("CTImageFrameTypeSequence", "VolumeBasedCalculationTechnique"),
    /* CT Acquisition Type, Acquisition Details, Table Dynamics, Position, Geometry,
     * Reconstruction, Exposure, X-Ray Details (C.8.15.3.2-C.8.15.3.9) */
    KEEP("CTAcquisitionTypeSequence", "AcquisitionType"),
    KEEP("CTAcquisitionTypeSequence", "TubeAngle"),
    KEEP("CTAcquisitionTypeSequence", "ConstantVolumeFlag"),
    KEEP("CTAcquisitionTypeSequence", "FluoroscopyFlag"),
    KEEP("CTAcquisitionDetailsSequence", "DataCollectionDiameter"),
    KEEP("CTAcquisitionDetailsSequence", "RevolutionTime"),
    KEEP("CTAcquisitionDetailsSequence", "SingleCollimationWidth"),
    KEEP("CTAcquisitionDetailsSequence", "TotalCollimationWidth"),
    KEEP("CTAcquisitionDetailsSequence", "TableHeight"),
    KEEP("CTAcquisitionDetailsSequence", "GantryDetectorTilt"),
    KEEP("CTAcquisitionDetailsSequence", "RotationDirection"),
    KEEP("CTTableDynamicsSequence", "TableSpeed"),
    KEEP("CTTableDynamicsSequence", "TableFeedPerRotation"),
    KEEP("CTTableDynamicsSequence", "SpiralPitchFactor"),
    KEEP("CTPositionSequence", "TablePosition"),
    KEEP("CTPositionSequence", "ReconstructionTargetCenterPatient"),
    KEEP("CTPositionSequence", "DataCollectionCenterPatient"),
    KEEP("CTGeometrySequence", "DistanceSourceToDetector"),
    KEEP("CTGeometrySequence", "DistanceSourceToDataCollectionCenter"),
    KEEP("CTReconstructionSequence", "ReconstructionAlgorithm"),
    KEEP("CTReconstructionSequence", "ConvolutionKernel"),
    KEEP("CTReconstructionSequence", "ConvolutionKernelGroup"),
    KEEP("CTReconstructionSequence", "ReconstructionDiameter"),
    KEEP("CTReconstructionSequence", "ReconstructionFieldOfView"),
    KEEP("CTReconstructionSequence", "ReconstructionPixelSpacing"),
    KEEP("CTReconstructionSequence", "ReconstructionAngle"),
    KEEP("CTReconstructionSequence", "ImageFilter"),
    KEEP("CTExposureSequence", "ExposureTimeInms"),
    KEEP("CTExposureSequence", "XRayTubeCurrentInmA"),
    KEEP("CTExposureSequence", "ExposureInmAs"),
    KEEP("CTExposureSequence", "ExposureModulationType"),
    KEEP("CTExposureSequence", "CTDIvol"),
    {"CTExposureSequence", "ExposureTimeInms", NULL, "ExposureTime", MAP_ROUND},
    {"CTExposureSequence", "XRayTubeCurrentInmA", NULL, "XRayTubeCurrent", MAP_ROUND},
    {"CTExposureSequence", "ExposureInmAs", NULL, "Exposure", MAP_ROUND},
    KEEP("CTXRayDetailsSequence", "KVP"),
    KEEP("CTXRayDetailsSequence", "FocalSpots"),
    KEEP("CTXRayDetailsSequence", "FilterType"),
    KEEP("CTXRayDetailsSequence", "FilterMaterial"),
    /* PET Frame Type, Frame Acquisition, Position, Frame Correction Factors,
     * Reconstruction (C.8.22.5) */
    MAP("PETFrameTypeSequence", "FrameType", "ImageType"),
    KEEP("PETFrameTypeSequence", "FrameType"),
    KEEP("PETFrameTypeSequence", "PixelPresentation"),
    KEEP("PETFrameTypeSequence", "VolumetricProperties"),
    KEEP("PETFrameTypeSequence", "VolumeBasedCalculationTechnique"),
    KEEP("PETFrameAcquisitionSequence", "TableHeight"),
    KEEP("PETFrameAcquisitionSequence", "GantryDetectorTilt"),
    KEEP("PETFrameAcquisitionSequence", "GantryDetectorSlew"),
    KEEP("PETFrameAcquisitionSequence", "DataCollectionDiameter"),
    KEEP("PETPositionSequence", "TablePosition"),
    KEEP("PETFrameCorrectionFactorsSequence", "PrimaryPromptsCountsAccumulated"),
    KEEP("PETFrameCorrectionFactorsSequence", "SliceSensitivityFactor"),
    KEEP("PETFrameCorrectionFactorsSequence", "DecayFactor"),
    KEEP("PETFrameCorrectionFactorsSequence", "DoseCalibrationFactor"),
    KEEP("PETFrameCorrectionFactorsSequence", "ScatterFractionFactor"),
    KEEP("PETFrameCorrectionFactorsSequence", "DeadTimeFactor"),
    KEEP("PETReconstructionSequence", "ReconstructionAlgorithm"),
    KEEP("PETReconstructionSequence", "ReconstructionDiameter"),
    /* Frame types of other enhanced classes */
    MAP("XRay3DFrameTypeSequence", "FrameType", "ImageType"),
    KEEP("XRay3DFrameTypeSequence", "FrameType"),
    MAP("ParametricMapFrameTypeSequence", "FrameType", "ImageType"),
    KEEP("ParametricMapFrameTypeSequence", "FrameType"),
};

#define MAP_ROW_COUNT (sizeof map_rows / sizeof map_rows[0])

/* The table with tags: resolved once from the keywords by the dictionary. */
typedef struct Resolved {
    uint32_t macro, attribute, inner, target;
    ImdVR target_vr;
    bool ok;
} Resolved;

static Resolved resolved[MAP_ROW_COUNT];
static size_t unresolved_rows;
static uint32_t unassigned_per_frame, unassigned_shared; /* legacy converted (C.7.6.16.2.25) */
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

static void resolve_table(void)
{
    for (size_t i = 0; i < MAP_ROW_COUNT; i++) {
        const MapRow *row = &map_rows[i];
        Resolved *r = &resolved[i];
        r->ok = imd_dicom_tag(row->macro, &r->macro) && imd_dicom_tag(row->target, &r->target) &&
                (row->attribute == NULL || imd_dicom_tag(row->attribute, &r->attribute)) &&
                (row->inner == NULL || imd_dicom_tag(row->inner, &r->inner));
        r->target_vr = r->ok ? imd_dicom_dictionary_vr(r->target) : IMD_VR_UN;
        unresolved_rows += !r->ok;
    }
    unresolved_rows += !imd_dicom_tag("UnassignedPerFrameConvertedAttributesSequence",
                                      &unassigned_per_frame);
    unresolved_rows += !imd_dicom_tag("UnassignedSharedConvertedAttributesSequence",
                                      &unassigned_shared);
}

size_t imd__dicom_frame_table_unresolved(size_t *rows)
{
    (void)pthread_once(&resolve_once, resolve_table);
    if (rows != NULL) {
        *rows = MAP_ROW_COUNT;
    }
    return unresolved_rows;
}

/* ---- frame count ---- */

size_t imd__dicom_frame_count(const ImdDicomDataSet *d)
{
    const ImdDicomElement *e = d != NULL ? imd_dicom_dataset_find(d, IMD_TAG_NumberOfFrames) : NULL;
    int64_t frames;
    if (e == NULL || imd_dicom_element_vm(e) == 0 || !imd_dicom_element_int(NULL, e, 0, &frames) ||
        frames < 1) {
        return 1;
    }
    return (uint64_t)frames > SIZE_MAX ? SIZE_MAX : (size_t)frames;
}

bool imd__dicom_has_functional_groups(const ImdDicomDataSet *d)
{
    return d != NULL &&
           (imd_dicom_dataset_find(d, IMD_TAG_SharedFunctionalGroupsSequence) != NULL ||
            imd_dicom_dataset_find(d, IMD_TAG_PerFrameFunctionalGroupsSequence) != NULL);
}

/* ---- element helpers ---- */

static const ImdDicomDataSet *first_item(const ImdDicomElement *e)
{
    return e != NULL && imd_dicom_element_item_count(e) > 0 ? imd_dicom_element_item(e, 0) : NULL;
}

/* The element when it has a value (or, for a sequence, an item); empty ones count as absent. */
static const ImdDicomElement *present(const ImdDicomDataSet *s, uint32_t tag)
{
    const ImdDicomElement *e = s != NULL ? imd_dicom_dataset_find(s, tag) : NULL;
    if (e == NULL || e->encapsulated) {
        return NULL;
    }
    if (e->vr == IMD_VR_SQ || e->item_count > 0) {
        return e->item_count > 0 ? e : NULL;
    }
    return e->value != NULL && e->size > 0 ? e : NULL;
}

static bool is_binary_number(ImdVR vr)
{
    switch (vr) {
    case IMD_VR_US: case IMD_VR_SS: case IMD_VR_UL: case IMD_VR_SL: case IMD_VR_FL:
    case IMD_VR_FD: case IMD_VR_SV: case IMD_VR_UV:
        return true;
    default:
        return false;
    }
}

static bool is_number(ImdVR vr)
{
    return is_binary_number(vr) || vr == IMD_VR_DS || vr == IMD_VR_IS;
}

/*
 * Put `tag` with VR `vr` and the value bytes of `from` into `out`: borrowed
 * when they lie in the buffer `out`'s top level holds, else copied.
 */
static bool put_value(ImdError **error, ImdDicomDataSet *out, const ImdDicomBuffer *shared,
                      const ImdDicomDataSet *source, const ImdDicomElement *from, uint32_t tag,
                      ImdVR vr)
{
    ImdDicomElement e = {.tag = tag, .vr = vr};
    if (from->value != NULL && from->size > 0) {
        if (!from->owned && shared != NULL && source->buffer == shared) {
            e.value = from->value;
            e.size = from->size;
        } else {
            uint8_t *copy = imd__malloc(error, from->size);
            if (copy == NULL) {
                return false;
            }
            memcpy(copy, from->value, from->size);
            e.value = copy;
            e.size = from->size;
            e.owned = true;
        }
    }
    if (!imd__dicom_dataset_put(error, out, &e)) {
        imd__dicom_element_free(&e);
        return false;
    }
    return true;
}

/* Elements in a sequence and its items, stopping once past `limit`. */
static size_t count_elements(const ImdDicomElement *sequence, size_t limit, int depth)
{
    size_t count = 1;
    if (depth > MAX_SEQUENCE_DEPTH) {
        return limit + 1;
    }
    for (size_t i = 0; i < sequence->item_count && count <= limit; i++) {
        const ImdDicomDataSet *item = sequence->items[i];
        for (size_t k = 0; k < item->count && count <= limit; k++) {
            count += item->elements[k].item_count > 0
                         ? count_elements(&item->elements[k], limit - count, depth + 1)
                         : 1;
        }
    }
    return count;
}

/* Copy a sequence with its items under `tag` (values borrowed where possible). */
static bool put_sequence(ImdError **error, ImdDicomDataSet *out, const ImdDicomBuffer *shared,
                         const ImdDicomElement *from, uint32_t tag)
{
    ImdDicomElement e = {.tag = tag, .vr = IMD_VR_SQ};
    if (!imd__dicom_dataset_put(error, out, &e)) {
        return false;
    }
    for (size_t i = 0; i < from->item_count; i++) {
        const ImdDicomDataSet *source = from->items[i];
        ImdDicomDataSet *item = imd_dicom_dataset_append_item(error, out, tag);
        if (item == NULL) {
            return false;
        }
        for (size_t k = 0; k < source->count; k++) {
            const ImdDicomElement *child = &source->elements[k];
            bool ok;
            if (child->encapsulated) {
                continue;
            } else if (child->vr == IMD_VR_SQ || child->item_count > 0) {
                ok = put_sequence(error, item, shared, child, child->tag);
            } else {
                ok = put_value(error, item, shared, source, child, child->tag, child->vr);
            }
            if (!ok) {
                return false;
            }
        }
    }
    return true;
}

/* Keep going after a value that cannot take the target's VR; fail only on memory. */
static bool skip_unless_nomem(ImdError **error, ImdError *local)
{
    bool nomem = imd_error_code(local) == IMD_ERR_NOMEM;
    if (nomem) {
        imd_error_propagate(error, local);
    } else {
        imd_error_clear(&local);
    }
    return !nomem;
}

/* Numbers of `from` as `vr` (FD EffectiveEchoTime -> DS EchoTime, US -> IS, ...). */
static bool put_numbers(ImdError **error, ImdDicomDataSet *out, const ImdDicomElement *from,
                        uint32_t tag, ImdVR vr, MapKind kind)
{
    size_t count = imd_dicom_element_vm(from);
    if (kind == MAP_FIRST) {
        count = count > 0 ? 1 : 0;
    }
    if (count == 0 || count > MAX_CONVERTED_VALUES) {
        return true;
    }
    double values[MAX_CONVERTED_VALUES];
    for (size_t i = 0; i < count; i++) {
        if (!imd_dicom_element_number(NULL, from, i, &values[i]) || !isfinite(values[i])) {
            return true; /* not a number: left out */
        }
        if (kind == MAP_ROUND) {
            values[i] = round(values[i]);
        }
    }
    ImdError *local = NULL;
    if (!imd_dicom_dataset_set_numbers(&local, out, tag, vr, values, count)) {
        return skip_unless_nomem(error, local);
    }
    return true;
}

/* The date part (YYYYMMDD) or the time part (HHMMSS.FFFFFF, no UTC offset) of a DT
 * (PS3.5 Table 6.2-1), as DA or TM; nothing when the DT has no such part. */
static bool put_date_time_part(ImdError **error, ImdDicomDataSet *out,
                               const ImdDicomElement *from, uint32_t tag, bool date)
{
    if (from->vr != IMD_VR_DT || from->value == NULL) {
        return true;
    }
    const char *text = (const char *)from->value;
    size_t start = 0, end = from->size;
    while (start < end && text[start] == ' ') {
        start++;
    }
    while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\0')) {
        end--;
    }
    if (memchr(text + start, '\\', end - start) != NULL || end - start < 8) {
        return true; /* several values, or no full date */
    }
    for (size_t i = start; i < start + 8; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return true;
        }
    }
    char part[32];
    size_t length = 0;
    if (date) {
        memcpy(part, text + start, 8);
        length = 8;
    } else {
        for (size_t i = start + 8; i < end && text[i] != '+' && text[i] != '-'; i++) {
            if ((text[i] < '0' || text[i] > '9') && text[i] != '.') {
                return true;
            }
            if (length + 1 >= sizeof part) {
                return true;
            }
            part[length++] = text[i];
        }
        if (length == 0) {
            return true;
        }
    }
    part[length] = '\0';
    return imd_dicom_dataset_set_string(error, out, tag, date ? IMD_VR_DA : IMD_VR_TM, part);
}

/* One row's value `from` (found in `source`) into `out` under the row's target. */
static bool apply_row(ImdError **error, ImdDicomDataSet *out, const ImdDicomBuffer *shared,
                      const MapRow *row, const Resolved *r, const ImdDicomDataSet *source,
                      const ImdDicomElement *from)
{
    ImdVR vr = r->target_vr, have = from->vr;
    switch (row->kind) {
    case MAP_WHOLE:
    case MAP_SEQUENCE:
        if (from->item_count == 0 ||
            count_elements(from, MAX_SEQUENCE_ELEMENTS, 0) > MAX_SEQUENCE_ELEMENTS) {
            return true;
        }
        return put_sequence(error, out, shared, from, r->target);
    case MAP_DATE:
    case MAP_TIME:
        return put_date_time_part(error, out, from, r->target, row->kind == MAP_DATE);
    case MAP_FIRST:
    case MAP_ROUND:
        return !is_number(have) || !is_number(vr) || put_numbers(error, out, from, r->target, vr,
                                                                 row->kind);
    case MAP_COPY:
        break;
    }
    if (have == IMD_VR_SQ || from->item_count > 0) {
        return true; /* a sequence where the table expects a value */
    }
    if ((int)vr >= (int)IMD_VR_OB_OW || vr == IMD_VR_UN) {
        vr = have; /* the dictionary leaves the choice to the file */
    }
    if (have == vr) {
        return put_value(error, out, shared, source, from, r->target, vr);
    }
    if (have == IMD_VR_UN) {
        /* Unknown VR in the file: the bytes are the value in the dictionary's VR. */
        if (imd_dicom_vr_is_text(vr) ||
            (is_binary_number(vr) && from->size % imd__dicom_vr_unit(vr) == 0)) {
            return put_value(error, out, shared, source, from, r->target, vr);
        }
        return true;
    }
    if (is_number(have) && is_number(vr)) {
        return put_numbers(error, out, from, r->target, vr, MAP_COPY);
    }
    if (imd_dicom_vr_is_text(have) && imd_dicom_vr_is_text(vr)) {
        return put_value(error, out, shared, source, from, r->target, vr);
    }
    return true; /* no sensible conversion: left out */
}

/* ---- copying what a converted-attributes or private item holds ---- */

/* Attributes of the image itself or of its pixel data: never taken from a frame's item. */
static bool never_per_frame(uint32_t tag)
{
    /* The file meta group, the pixel data's group, items and delimiters, and the
     * command and directory groups below 0008 (PS3.7, PS3.10). */
    uint16_t group = IMD_TAG_GROUP(tag);
    if (group == IMD_GROUP_FILE_META || group == IMD_TAG_GROUP(IMD_TAG_PixelData) ||
        group == IMD_GROUP_ITEMS || group < 0x0008) {
        return true;
    }
    /* Specific Character Set comes from the top level; SOP identity is the file's. */
    if (tag == IMD_TAG_SpecificCharacterSet || tag == IMD_TAG_SOPClassUID ||
        tag == IMD_TAG_SOPInstanceUID) {
        return true;
    }
    /* Image Pixel module (C.7.6.3) and NumberOfFrames describe the whole pixel data:
     * (0028,0002-0011) and (0028,0100-0107). */
    return (tag >= IMD_TAG_SamplesPerPixel && tag <= IMD_TAG_Columns) ||
           (tag >= IMD_TAG_BitsAllocated && tag <= IMD_TAG_LargestImagePixelValue);
}

/* Trimmed creator text of block `block` in private group `group` of `s`; false when absent. */
static bool creator_of(const ImdDicomDataSet *s, uint16_t group, uint16_t block, const char **text,
                       size_t *length)
{
    const ImdDicomElement *e = imd_dicom_dataset_find(s, IMD_TAG(group, block));
    if (e == NULL || e->value == NULL || imd_dicom_vr_is_text(e->vr) == false) {
        return false;
    }
    const char *t = (const char *)e->value;
    size_t n = e->size;
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\0')) {
        n--;
    }
    *text = t;
    *length = n;
    return true;
}

/*
 * Copy every value of `source` that `out` does not have yet. Private data
 * elements (gggg,xxyy) go along only when `out` reserves block xx for the same
 * creator as `source` (PS3.5 §7.8.1), so that they keep their meaning.
 * Sequences are not copied: they are large, and the macros cover what matters.
 */
static bool copy_missing(ImdError **error, ImdDicomDataSet *out, const ImdDicomBuffer *shared,
                         const ImdDicomDataSet *source)
{
    for (size_t i = 0; source != NULL && i < source->count; i++) {
        const ImdDicomElement *e = &source->elements[i];
        uint16_t group = IMD_TAG_GROUP(e->tag), element = IMD_TAG_ELEMENT(e->tag);
        if (never_per_frame(e->tag) || e->vr == IMD_VR_SQ || e->item_count > 0 ||
            e->encapsulated || (int)e->vr >= (int)IMD_VR_OB_OW || e->value == NULL || e->size == 0 ||
            imd_dicom_dataset_find(out, e->tag) != NULL) {
            continue;
        }
        if (group % 2 == 1) {
            if (element >= 0x0010 && element <= 0x00ff) {
                /* a private creator: reserve its block */
            } else if (element >= 0x1000) {
                const char *mine, *theirs;
                size_t my_length, their_length;
                uint16_t block = (uint16_t)(element >> 8);
                if (!creator_of(source, group, block, &theirs, &their_length) ||
                    !creator_of(out, group, block, &mine, &my_length) ||
                    my_length != their_length || memcmp(mine, theirs, my_length) != 0) {
                    continue;
                }
            } else {
                continue; /* no creator can own it */
            }
        }
        if (!put_value(error, out, shared, source, e, e->tag, e->vr)) {
            return false;
        }
    }
    return true;
}

/* ---- the frame ---- */

ImdDicomDataSet *imd__dicom_frame_attributes(ImdError **error, const ImdDicomDataSet *d,
                                             size_t frame)
{
    if (d == NULL) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "imd__dicom_frame_attributes: no data set");
        return NULL;
    }
    size_t frames = imd__dicom_frame_count(d);
    if (frame >= frames) {
        imd_error_set(error, IMD_ERR_INVALID_ARG, "frame %zu: the image has %zu frame%s",
                      frame + 1, frames, frames == 1 ? "" : "s");
        return NULL;
    }
    (void)pthread_once(&resolve_once, resolve_table);

    /* PS3.3 C.7.6.16.1: one shared item; one per-frame item per frame, in frame order. */
    const ImdDicomDataSet *shared =
        first_item(imd_dicom_dataset_find(d, IMD_TAG_SharedFunctionalGroupsSequence));
    const ImdDicomElement *per_frame_groups =
        imd_dicom_dataset_find(d, IMD_TAG_PerFrameFunctionalGroupsSequence);
    const ImdDicomDataSet *own = NULL;
    if (per_frame_groups != NULL) {
        size_t items = imd_dicom_element_item_count(per_frame_groups);
        if (items != frames) {
            imd_error_set(error, IMD_ERR_CORRUPT,
                          "frame %zu: the Per-frame Functional Groups Sequence (5200,9230) has "
                          "%zu item%s for %zu frame%s (NumberOfFrames)",
                          frame + 1, items, items == 1 ? "" : "s", frames,
                          frames == 1 ? "" : "s");
            return NULL;
        }
        own = imd_dicom_element_item(per_frame_groups, frame);
    }

    ImdDicomDataSet *out = imd_dicom_dataset_create(error);
    if (out == NULL) {
        return NULL;
    }
    if (shared == NULL && own == NULL) {
        return out;
    }
    out->buffer = imd__dicom_buffer_retain(d->buffer);
    const ImdDicomBuffer *buffer = out->buffer;
    bool ok = true;

    /* Text values keep the top level's Specific Character Set (PS3.5 §6.1.2.5.5). */
    const ImdDicomElement *charset = imd__dicom_charset_element(d);
    if (charset != NULL && charset->value != NULL) {
        ok = put_value(error, out, buffer, d, charset, IMD_TAG_SpecificCharacterSet,
                       IMD_VR_CS);
    }

    uint32_t macro = 0;
    const ImdDicomElement *own_macro = NULL, *shared_macro = NULL;
    for (size_t i = 0; ok && i < MAP_ROW_COUNT; i++) {
        const MapRow *row = &map_rows[i];
        const Resolved *r = &resolved[i];
        if (!r->ok || imd_dicom_dataset_find(out, r->target) != NULL) {
            continue;
        }
        if (r->macro != macro) { /* rows of one macro are adjacent: look it up once */
            macro = r->macro;
            own_macro = present(own, macro);
            shared_macro = present(shared, macro);
        }
        /* Per-frame first, then shared, attribute by attribute. */
        const ImdDicomElement *groups[2] = {own_macro, shared_macro};
        for (int g = 0; g < 2; g++) {
            const ImdDicomElement *from = NULL;
            const ImdDicomDataSet *holder = first_item(groups[g]);
            if (groups[g] == NULL) {
                continue;
            }
            if (row->kind == MAP_WHOLE) {
                from = groups[g];
                holder = g == 0 ? own : shared;
            } else {
                from = present(holder, r->attribute);
                if (from != NULL && row->inner != NULL) {
                    holder = first_item(from);
                    from = present(holder, r->inner);
                }
            }
            if (from != NULL) {
                ok = apply_row(error, out, buffer, row, r, holder, from);
                break;
            }
        }
    }

    /* Lower priority: legacy converted objects' unassigned attributes (C.7.6.16.2.25,
     * C.7.6.16.2.26), then Philips' private per-frame item of classic attributes. */
    if (ok && unassigned_per_frame != 0) {
        ok = copy_missing(error, out, buffer, first_item(present(own, unassigned_per_frame)));
    }
    if (ok && unassigned_shared != 0) {
        ok = copy_missing(error, out, buffer, first_item(present(shared, unassigned_shared)));
    }
    uint32_t tag = own != NULL ? imd__dicom_private_tag(own, IMD_PRIVATE_PhilipsPerFrameSequence)
                               : 0;
    if (ok && tag != 0) {
        ok = copy_missing(error, out, buffer, first_item(present(own, tag)));
    }
    if (!ok) {
        imd_error_prefix(error, "frame %zu: ", frame + 1);
        imd_dicom_dataset_destroy(out);
        return NULL;
    }
    return out;
}

/* ---- dimensions ---- */

size_t imd__dicom_dimensions(const ImdDicomDataSet *d, ImdDimension *out, size_t max)
{
    const ImdDicomElement *sequence =
        d != NULL ? imd_dicom_dataset_find(d, IMD_TAG_DimensionIndexSequence) : NULL;
    size_t count = sequence != NULL ? imd_dicom_element_item_count(sequence) : 0;
    for (size_t i = 0; i < count && i < max; i++) {
        const ImdDicomDataSet *item = imd_dicom_element_item(sequence, i);
        ImdDimension *dimension = &out[i];
        memset(dimension, 0, sizeof *dimension);
        int64_t tag;
        const ImdDicomElement *e = present(item, IMD_TAG_DimensionIndexPointer);
        if (e != NULL && e->vr == IMD_VR_AT && imd_dicom_element_int(NULL, e, 0, &tag)) {
            dimension->index_pointer = (uint32_t)tag;
        }
        e = present(item, IMD_TAG_FunctionalGroupPointer);
        if (e != NULL && e->vr == IMD_VR_AT && imd_dicom_element_int(NULL, e, 0, &tag)) {
            dimension->group_pointer = (uint32_t)tag;
        }
        e = present(item, IMD_TAG_DimensionDescriptionLabel);
        char *label = e != NULL && imd_dicom_vr_is_text(e->vr)
                          ? imd_dicom_element_string(NULL, item, e)
                          : NULL;
        if (label != NULL) {
            size_t length = strlen(label);
            if (length > 64) {
                length = 64; /* LO holds 64 characters; cut bytes at a UTF-8 boundary */
                while (length > 0 && ((unsigned char)label[length] & 0xc0) == 0x80) {
                    length--;
                }
            }
            memcpy(dimension->label, label, length);
            dimension->label[length] = '\0';
            free(label);
        }
    }
    return count;
}
