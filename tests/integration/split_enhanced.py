#!/usr/bin/env python3
"""Split an enhanced multi-frame DICOM file into classic single-frame files.

usage: split_enhanced.py INPUT OUTDIR        (one file per frame: OUTDIR/frame_00001.dcm ...)

Test data support: it lets a test compare what our reader makes of an enhanced
file with what it makes of the same frames as classic images. It also holds
the pydicom walk of the functional groups, frame_attributes(), that
tests/integration/dicom_frames.py uses as the oracle for
imd__dicom_frame_attributes() (src/formats/dicom/frames.c). It is written
from the standard, not from the C code: PS3.3 C.7.6.16 (Shared and Per-frame
Functional Groups Sequences, one item per frame), C.7.6.16.2 (common macros),
C.8.13.5 (MR), C.8.15.3 (CT), C.8.22.5 (PET).

The rules (the C side follows the same ones, which are the contract):
  * frame i takes each attribute of MAPPING from per-frame item i, else from
    the shared item; the first row that yields a target wins; empty values
    (and sequences without items) count as absent;
  * values take the classic attribute's tag and dictionary VR: numbers are
    converted (FD EffectiveEchoTime -> DS EchoTime; a non-integer for an IS
    is left out), text is kept as it is;
  * FrameAcquisitionDateTime (DT) also gives AcquisitionDate (its first 8
    characters) and AcquisitionTime (the rest up to a UTC offset);
  * then, for tags still missing, the non-sequence elements of the Unassigned
    Per-frame, then Shared, Converted Attributes items (legacy converted), then
    of Philips' private per-frame item (2005,xx0F) of creator "Philips MR
    Imaging DD 005", leaving out SOP identity, the character set, the Image
    Pixel module, group 0002 and pixel data; a private data element only when
    the result reserves its block for the same creator;
  * SpecificCharacterSet of the file comes along when there is anything else;
  * the per-frame sequence must have NumberOfFrames items (NumberOfFrames
    absent or invalid means 1), else FrameError.

The split files: the file's data set without the multi-frame attributes
(NumberOfFrames, the functional groups, the dimension and concatenation
attributes), plus the frame's attributes at the top level (so that a reader
finds the same values), the classic SOP class, a new SOPInstanceUID derived
from the original UID and the frame number (reproducible), InstanceNumber =
frame number unless the frame has its own, and the frame's pixel data
(native, or encapsulated as one fragment).
"""
import copy
import math
import os
import sys

import pydicom
from pydicom.dataelem import DataElement
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

SHARED = "SharedFunctionalGroupsSequence"
PER_FRAME = "PerFrameFunctionalGroupsSequence"

# (macro, attribute in its item, classic target, kind). kind: "copy"; "first"
# (first value); "round" (to an integer); "date"/"time" (parts of a DT);
# "seq" (an SQ inside the macro item, whole); "whole" (the macro sequence
# itself); ("inner", name) for an SQ attribute whose first item holds `name`.
def _keep(macro, *names):
    return [(macro, n, n, "copy") for n in names]


MAPPING = (
    _keep("PlanePositionSequence", "ImagePositionPatient")
    + _keep("PlaneOrientationSequence", "ImageOrientationPatient")
    + _keep("PixelMeasuresSequence", "PixelSpacing", "SliceThickness", "SpacingBetweenSlices")
    + [("FrameContentSequence", "FrameAcquisitionDateTime", "FrameAcquisitionDateTime", "copy"),
       ("FrameContentSequence", "FrameAcquisitionDateTime", "AcquisitionDateTime", "copy"),
       ("FrameContentSequence", "FrameAcquisitionDateTime", "AcquisitionDate", "date"),
       ("FrameContentSequence", "FrameAcquisitionDateTime", "AcquisitionTime", "time"),
       ("FrameContentSequence", "FrameReferenceDateTime", "FrameReferenceDateTime", "copy"),
       ("FrameContentSequence", "FrameAcquisitionDuration", "FrameAcquisitionDuration", "copy"),
       ("FrameContentSequence", "FrameAcquisitionNumber", "FrameAcquisitionNumber", "copy"),
       ("FrameContentSequence", "FrameAcquisitionNumber", "AcquisitionNumber", "copy"),
       ("FrameContentSequence", "TemporalPositionIndex", "TemporalPositionIndex", "copy"),
       ("FrameContentSequence", "TemporalPositionIndex", "TemporalPositionIdentifier", "copy")]
    + _keep("FrameContentSequence", "StackID", "InStackPositionNumber", "DimensionIndexValues",
            "FrameLabel", "FrameComments", "CardiacCyclePosition", "RespiratoryCyclePosition")
    + [("CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime", "TriggerTime", "copy")]
    + _keep("CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime",
            "ActualCardiacTriggerDelayTime", "NominalPercentageOfCardiacPhase",
            "RRIntervalTimeNominal")
    + _keep("PixelValueTransformationSequence", "RescaleIntercept", "RescaleSlope", "RescaleType")
    + _keep("FrameVOILUTSequence", "WindowCenter", "WindowWidth", "WindowCenterWidthExplanation",
            "VOILUTFunction")
    + [("RealWorldValueMappingSequence", None, "RealWorldValueMappingSequence", "whole")]
    + _keep("IrradiationEventIdentificationSequence", "IrradiationEventUID")
    + _keep("SegmentIdentificationSequence", "ReferencedSegmentNumber")
    + [("MRImageFrameTypeSequence", "FrameType", "ImageType", "copy")]
    + _keep("MRImageFrameTypeSequence", "FrameType", "PixelPresentation", "VolumetricProperties",
            "VolumeBasedCalculationTechnique", "ComplexImageComponent", "AcquisitionContrast")
    + _keep("MRTimingAndRelatedParametersSequence", "RepetitionTime", "FlipAngle",
            "EchoTrainLength", "RFEchoTrainLength", "GradientEchoTrainLength")
    + _keep("MRFOVGeometrySequence", "InPlanePhaseEncodingDirection", "PercentSampling",
            "PercentPhaseFieldOfView", "MRAcquisitionFrequencyEncodingSteps",
            "MRAcquisitionPhaseEncodingStepsInPlane", "MRAcquisitionPhaseEncodingStepsOutOfPlane")
    + [("MREchoSequence", "EffectiveEchoTime", "EchoTime", "copy")]
    + _keep("MREchoSequence", "EffectiveEchoTime", "EchoNumbers")
    + [("MRModifierSequence", "InversionTimes", "InversionTime", "first")]
    + _keep("MRModifierSequence", "InversionTimes", "InversionRecovery", "FlowCompensation",
            "Spoiling", "T2Preparation", "SpectrallySelectedExcitation", "SpatialPresaturation",
            "PartialFourier", "PartialFourierDirection", "ParallelAcquisition",
            "ParallelAcquisitionTechnique", "ParallelReductionFactorInPlane",
            "ParallelReductionFactorOutOfPlane", "ParallelReductionFactorSecondInPlane")
    + _keep("MRImagingModifierSequence", "PixelBandwidth", "MagnetizationTransfer",
            "BloodSignalNulling", "Tagging", "TransmitterFrequency")
    + [("MRImagingModifierSequence", "TransmitterFrequency", "ImagingFrequency", "copy")]
    + _keep("MRReceiveCoilSequence", "ReceiveCoilName")
    + _keep("MRTransmitCoilSequence", "TransmitCoilName")
    + _keep("MRDiffusionSequence", "DiffusionBValue", "DiffusionDirectionality",
            "DiffusionAnisotropyType")
    + [("MRDiffusionSequence", "DiffusionGradientDirectionSequence",
        "DiffusionGradientOrientation", ("inner", "DiffusionGradientOrientation")),
       ("MRDiffusionSequence", "DiffusionBMatrixSequence", "DiffusionBMatrixSequence", "seq")]
    + _keep("MRAveragesSequence", "NumberOfAverages")
    + _keep("MRMetaboliteMapSequence", "MetaboliteMapDescription")
    + [("MRVelocityEncodingSequence", None, "MRVelocityEncodingSequence", "whole"),
       ("CTImageFrameTypeSequence", "FrameType", "ImageType", "copy")]
    + _keep("CTImageFrameTypeSequence", "FrameType", "PixelPresentation", "VolumetricProperties",
            "VolumeBasedCalculationTechnique")
    + _keep("CTAcquisitionTypeSequence", "AcquisitionType", "TubeAngle", "ConstantVolumeFlag",
            "FluoroscopyFlag")
    + _keep("CTAcquisitionDetailsSequence", "DataCollectionDiameter", "RevolutionTime",
            "SingleCollimationWidth", "TotalCollimationWidth", "TableHeight",
            "GantryDetectorTilt", "RotationDirection")
    + _keep("CTTableDynamicsSequence", "TableSpeed", "TableFeedPerRotation", "SpiralPitchFactor")
    + _keep("CTPositionSequence", "TablePosition", "ReconstructionTargetCenterPatient",
            "DataCollectionCenterPatient")
    + _keep("CTGeometrySequence", "DistanceSourceToDetector",
            "DistanceSourceToDataCollectionCenter")
    + _keep("CTReconstructionSequence", "ReconstructionAlgorithm", "ConvolutionKernel",
            "ConvolutionKernelGroup", "ReconstructionDiameter", "ReconstructionFieldOfView",
            "ReconstructionPixelSpacing", "ReconstructionAngle", "ImageFilter")
    + _keep("CTExposureSequence", "ExposureTimeInms", "XRayTubeCurrentInmA", "ExposureInmAs",
            "ExposureModulationType", "CTDIvol")
    + [("CTExposureSequence", "ExposureTimeInms", "ExposureTime", "round"),
       ("CTExposureSequence", "XRayTubeCurrentInmA", "XRayTubeCurrent", "round"),
       ("CTExposureSequence", "ExposureInmAs", "Exposure", "round")]
    + _keep("CTXRayDetailsSequence", "KVP", "FocalSpots", "FilterType", "FilterMaterial")
    + [("PETFrameTypeSequence", "FrameType", "ImageType", "copy")]
    + _keep("PETFrameTypeSequence", "FrameType", "PixelPresentation", "VolumetricProperties",
            "VolumeBasedCalculationTechnique")
    + _keep("PETFrameAcquisitionSequence", "TableHeight", "GantryDetectorTilt",
            "GantryDetectorSlew", "DataCollectionDiameter")
    + _keep("PETPositionSequence", "TablePosition")
    + _keep("PETFrameCorrectionFactorsSequence", "PrimaryPromptsCountsAccumulated",
            "SliceSensitivityFactor", "DecayFactor", "DoseCalibrationFactor",
            "ScatterFractionFactor", "DeadTimeFactor")
    + _keep("PETReconstructionSequence", "ReconstructionAlgorithm", "ReconstructionDiameter")
    + [("XRay3DFrameTypeSequence", "FrameType", "ImageType", "copy")]
    + _keep("XRay3DFrameTypeSequence", "FrameType")
    + [("ParametricMapFrameTypeSequence", "FrameType", "ImageType", "copy")]
    + _keep("ParametricMapFrameTypeSequence", "FrameType")
)

NUMBER_VRS = {"DS", "IS", "US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"}
TEXT_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC",
            "UI", "UR", "UT"}
PHILIPS_CREATOR = "Philips MR Imaging DD 005"


class FrameError(Exception):
    """The functional groups disagree with NumberOfFrames."""


def frame_count(ds):
    try:
        n = int(str(ds.get("NumberOfFrames", "")).strip())
    except ValueError:
        return 1
    return n if n >= 1 else 1


def _empty(elem):
    if elem.VR == "SQ":
        return len(elem.value) == 0
    v = elem.value
    return v is None or (isinstance(v, (str, bytes)) and len(v) == 0) or (
        isinstance(v, (list, pydicom.multival.MultiValue)) and len(v) == 0)


def _present(item, keyword_or_tag):
    """The element of `item`, or None when absent or empty."""
    if item is None:
        return None
    tag = tag_for_keyword(keyword_or_tag) if isinstance(keyword_or_tag, str) else keyword_or_tag
    if tag not in item:
        return None
    elem = item[tag]
    return None if _empty(elem) else elem


def _first_item(elem):
    return elem.value[0] if elem is not None and elem.VR == "SQ" and len(elem.value) else None


def _values(elem):
    v = elem.value
    return list(v) if isinstance(v, (list, pydicom.multival.MultiValue)) else [v]


def _number_element(tag, vr, values):
    """Numbers as VR `vr`; None when a value cannot be one (a fraction for IS...)."""
    out = []
    for x in values:
        x = float(x)
        if not math.isfinite(x):
            return None
        if vr in ("IS", "US", "SS", "UL", "SL", "SV", "UV"):
            if x != math.floor(x):
                return None
            x = int(x)
        out.append(x)
    if vr == "DS":
        out = [pydicom.valuerep.DSfloat(x, auto_format=True) for x in out]
    elif vr == "IS":
        out = [pydicom.valuerep.IS(x) for x in out]
    return DataElement(tag, vr, out if len(out) > 1 else out[0])


def _round_half_away(x):
    return math.copysign(math.floor(abs(x) + 0.5), x)


def _dt_part(value, part):
    text = str(value).strip()
    if "\\" in text or len(text) < 8 or not text[:8].isdigit():
        return None
    if part == "date":
        return text[:8]
    rest = text[8:]
    for sign in "+-":
        rest = rest.split(sign)[0]
    if not rest or any(c not in "0123456789." for c in rest):
        return None
    return rest


def _convert(src, target, kind):
    """The element for `target` from `src`, or None when it cannot be made."""
    tag = tag_for_keyword(target)
    vr = dictionary_VR(tag)
    if kind in ("seq", "whole"):
        return DataElement(tag, "SQ", Sequence([copy.deepcopy(i) for i in src.value]))
    if kind in ("date", "time"):
        if src.VR != "DT":
            return None
        part = _dt_part(src.value, kind)
        return None if part is None else DataElement(tag, "DA" if kind == "date" else "TM", part)
    if src.VR == "SQ":
        return None
    if " or " in vr or vr == "UN":
        vr = src.VR
    if kind in ("first", "round"):
        if src.VR not in NUMBER_VRS or vr not in NUMBER_VRS:
            return None
        values = _values(src)
        if kind == "first":
            values = values[:1]
        else:
            values = [_round_half_away(float(x)) for x in values]
        return _number_element(tag, vr, values)
    if src.VR == vr:
        return DataElement(tag, vr, copy.deepcopy(src.value))
    if src.VR in NUMBER_VRS and vr in NUMBER_VRS:
        return _number_element(tag, vr, _values(src))
    if src.VR in TEXT_VRS and vr in TEXT_VRS:
        return DataElement(tag, vr, copy.deepcopy(src.value))
    return None


def _never_per_frame(tag):
    group, element = tag >> 16, tag & 0xFFFF
    if group in (0x0002, 0x7FE0, 0xFFFE) or group < 0x0008:
        return True
    if group == 0x0008:
        return element in (0x0005, 0x0016, 0x0018)
    if group == 0x0028:
        return 0x0002 <= element <= 0x0011 or 0x0100 <= element <= 0x0107
    return False


def _creator(item, group, block):
    tag = (group << 16) | block
    if tag not in item or item[tag].VR not in TEXT_VRS:
        return None
    v = item[tag].value
    return v.rstrip(" \0") if isinstance(v, str) else None


def _copy_missing(out, item):
    if item is None:
        return
    for elem in item:
        tag = int(elem.tag)
        group, element = tag >> 16, tag & 0xFFFF
        if _never_per_frame(tag) or elem.VR == "SQ" or _empty(elem) or tag in out:
            continue
        if group % 2 == 1:
            if 0x10 <= element <= 0xFF:
                pass
            elif element >= 0x1000:
                theirs = _creator(item, group, element >> 8)
                if theirs is None or _creator(out, group, element >> 8) != theirs:
                    continue
            else:
                continue
        out.add(DataElement(elem.tag, elem.VR, copy.deepcopy(elem.value)))


def _philips_item(per_frame):
    if per_frame is None:
        return None
    for block in range(0x10, 0x100):
        tag = (0x2005 << 16) | block
        if tag in per_frame and str(per_frame[tag].value).rstrip(" \0") == PHILIPS_CREATOR:
            return _first_item(_present(per_frame, (0x2005 << 16) | (block << 8) | 0x0F))
    return None


def frame_attributes(ds, frame):
    """A Dataset of classic attributes for frame `frame` (0-based)."""
    frames = frame_count(ds)
    if frame >= frames:
        raise IndexError(f"frame {frame + 1} of {frames}")
    shared = _first_item(_present(ds, SHARED))
    per_frame = None
    if PER_FRAME in ds:
        items = ds[PER_FRAME].value
        if len(items) != frames:
            raise FrameError(f"Per-frame Functional Groups Sequence has {len(items)} items "
                             f"for {frames} frames")
        per_frame = items[frame]
    out = Dataset()
    if shared is None and per_frame is None:
        return out
    for macro, attribute, target, kind in MAPPING:
        tag = tag_for_keyword(target)
        if tag in out:
            continue
        for holder in (per_frame, shared):
            macro_elem = _present(holder, macro)
            if macro_elem is None:
                continue
            if kind == "whole":
                src = macro_elem
            else:
                item = _first_item(macro_elem)
                src = _present(item, attribute)
                if src is not None and isinstance(kind, tuple):
                    src = _present(_first_item(src), kind[1])
            if src is not None:
                elem = _convert(src, target, "copy" if isinstance(kind, tuple) else kind)
                if elem is not None:
                    out.add(elem)
                break
    _copy_missing(out, _first_item(_present(per_frame,
                                            "UnassignedPerFrameConvertedAttributesSequence")))
    _copy_missing(out, _first_item(_present(shared, "UnassignedSharedConvertedAttributesSequence")))
    _copy_missing(out, _philips_item(per_frame))
    if "SpecificCharacterSet" in ds and len(out) > 0:
        out.SpecificCharacterSet = ds.SpecificCharacterSet
    return out


def dimensions(ds):
    """[(index pointer, functional group pointer, label)] of the Dimension Index Sequence."""
    out = []
    for item in ds.get("DimensionIndexSequence", []):
        def tag_of(keyword):
            e = _present(item, keyword)
            return int(e.value) if e is not None else 0
        label = _present(item, "DimensionDescriptionLabel")
        out.append((tag_of("DimensionIndexPointer"), tag_of("FunctionalGroupPointer"),
                    str(label.value).strip() if label is not None else ""))
    return out


# ---- splitting ----

CLASSIC_SOP_CLASS = {
    "1.2.840.10008.5.1.4.1.1.4.1": "1.2.840.10008.5.1.4.1.1.4",    # Enhanced MR -> MR
    "1.2.840.10008.5.1.4.1.1.4.3": "1.2.840.10008.5.1.4.1.1.4",    # Enhanced MR Color -> MR
    "1.2.840.10008.5.1.4.1.1.4.4": "1.2.840.10008.5.1.4.1.1.4",    # Legacy Converted MR -> MR
    "1.2.840.10008.5.1.4.1.1.2.1": "1.2.840.10008.5.1.4.1.1.2",    # Enhanced CT -> CT
    "1.2.840.10008.5.1.4.1.1.2.2": "1.2.840.10008.5.1.4.1.1.2",    # Legacy Converted CT -> CT
    "1.2.840.10008.5.1.4.1.1.130": "1.2.840.10008.5.1.4.1.1.128",  # Enhanced PET -> PET
    "1.2.840.10008.5.1.4.1.1.128.1": "1.2.840.10008.5.1.4.1.1.128",  # Legacy Converted PET
}

MULTI_FRAME_ONLY = ("NumberOfFrames", "FrameIncrementPointer", SHARED, PER_FRAME,
                    "DimensionIndexSequence", "DimensionOrganizationSequence",
                    "DimensionOrganizationType", "ConcatenationUID", "InConcatenationNumber",
                    "InConcatenationTotalNumber", "ConcatenationFrameOffsetNumber",
                    "RepresentativeFrameNumber", "PixelData")


def _frame_pixels(ds, frame, frames):
    from pydicom.encaps import encapsulate, generate_pixel_data_frame
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        for i, data in enumerate(generate_pixel_data_frame(ds.PixelData, frames)):
            if i == frame:
                return encapsulate([data]), True
        raise FrameError(f"frame {frame + 1}: no such frame in the pixel data")
    if ds.BitsAllocated % 8 != 0:
        raise FrameError("BitsAllocated %d: frames are not whole bytes" % ds.BitsAllocated)
    size = ds.Rows * ds.Columns * ds.get("SamplesPerPixel", 1) * ds.BitsAllocated // 8
    data = ds.PixelData[frame * size:(frame + 1) * size]
    if len(data) != size:
        raise FrameError(f"frame {frame + 1}: the pixel data is too short")
    return data + (b"\0" if size % 2 else b""), False


def split(path, outdir):
    ds = pydicom.dcmread(path)
    frames = frame_count(ds)
    os.makedirs(outdir, exist_ok=True)
    names = []
    for frame in range(frames):
        attributes = frame_attributes(ds, frame)
        out = Dataset()
        for elem in ds:
            if elem.keyword not in MULTI_FRAME_ONLY:
                out.add(copy.deepcopy(elem))
        out.file_meta = copy.deepcopy(ds.file_meta)
        out.preamble = ds.preamble
        out.is_little_endian, out.is_implicit_VR = ds.is_little_endian, ds.is_implicit_VR
        for elem in attributes:
            out.add(copy.deepcopy(elem))
        if "InstanceNumber" not in attributes:
            out.InstanceNumber = frame + 1
        sop_class = CLASSIC_SOP_CLASS.get(str(ds.SOPClassUID), str(ds.SOPClassUID))
        out.SOPClassUID = sop_class
        out.SOPInstanceUID = generate_uid(entropy_srcs=[str(ds.SOPInstanceUID), str(frame)])
        out.file_meta.MediaStorageSOPClassUID = sop_class
        out.file_meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
        pixels, encapsulated = _frame_pixels(ds, frame, frames)
        vr = "OB" if encapsulated or ds.BitsAllocated <= 8 else "OW"
        out.add(DataElement(0x7FE00010, vr, pixels))
        if encapsulated:
            out["PixelData"].is_undefined_length = True
        name = os.path.join(outdir, "frame_%05d.dcm" % (frame + 1))
        out.save_as(name, write_like_original=False)
        names.append(name)
    return names


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 1
    for name in split(argv[1], argv[2]):
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
