#!/usr/bin/python3
"""Enhanced multi-frame writing (issue 15 items 6 and 2, join direction).

Each case is written twice by image_data: as classic single-frame files and,
with --input_options enhanced=true, as one Enhanced MR (CT) file. Checks:

1. dciodvfy (dicom3tools) reports no error on the enhanced file.
2. pydicom reads the enhanced file: SOP class, NumberOfFrames, and for every
   frame k the per-frame values equal those of classic file k (frames are in
   the classic writer's default order: tag cell outer, slice inner):
   ImagePositionPatient (Plane Position), pixel spacing, orientation, slice
   thickness (shared groups), echo time (MR Echo), b value, directionality and
   direction (MR Diffusion), the acquisition time (Frame Content's
   FrameAcquisitionDateTime), rescale and window (Pixel Value Transformation,
   Frame VOI LUT), and the frame's pixels; Frame Content's
   InStackPositionNumber, DimensionIndexValues and TemporalPositionIndex
   against the cell and slice.
3. Our reader reads the enhanced file back to the Series of the input
   (image_info --json: shape, input order, axis values, spacing, positions,
   orientation within 1e-6), and to the same NIfTI (nibabel: voxels equal,
   affine within 1e-6 mm, .bval/.bvec equal) as the classic input. A 3D
   acquisition's classic NIfTI is reoriented to the nearest RAS axes
   (MRAcquisitionType 3D, as dcm2niix); the enhanced file is DERIVED and may
   not carry MRAcquisitionType (dciodvfy), so those two are compared after
   nibabel's as_closest_canonical.

Cases: ../shared/data/imagedata/dicom (3D, 4D time, dwi, a dti mosaic),
NIfTI of those with and without --template (MR, CT), and two enhanced
exports of ../shared/data/dcm_qa_dev (Siemens XA60 BOLD and DWI, 10 frames
per file) as input.

usage: dicom_enhanced_write.py IMAGE_DATA IMAGE_INFO DATA_DIR
"""
import glob, json, os, shutil, subprocess, sys, tempfile

import numpy as np

try:
    import nibabel as nib
    import pydicom
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(77)

ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"
ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.1"


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()))
    return p.stdout.decode()


def dciodvfy_errors(path):
    p = subprocess.run(["dciodvfy", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return [l for l in p.stdout.decode(errors="replace").splitlines() if l.startswith("Error")]


def item(seq_holder, keyword):
    seq = getattr(seq_holder, keyword, None)
    return seq[0] if seq else None


def frame_value(ds, k, macro, keyword):
    """A frame's attribute: per-frame item first, then shared (PS3.3 C.7.6.16)."""
    for groups in (ds.PerFrameFunctionalGroupsSequence[k], ds.SharedFunctionalGroupsSequence[0]):
        it = item(groups, macro)
        if it is not None and keyword in it:
            return it[keyword].value
    return None


def numbers(v):
    if v is None:
        return None
    if isinstance(v, (list, tuple, pydicom.multival.MultiValue)):
        return [float(x) for x in v]
    return [float(v)]


def close(a, b, tol=1e-6):
    if a is None or b is None:
        return a is None and b is None
    return len(a) == len(b) and all(abs(x - y) <= tol * max(1, abs(y)) for x, y in zip(a, b))


def check_pydicom(label, enhanced, classic_files, tag_count, slices, order, failures):
    ds = pydicom.dcmread(enhanced)
    n = int(ds.NumberOfFrames)
    if n != len(classic_files):
        failures.append("%s: %d frames, %d classic files" % (label, n, len(classic_files)))
        return 0
    pixels = ds.pixel_array.reshape((n,) + ds.pixel_array.shape[-2:])
    checked = 0
    dims = [(int(d.DimensionIndexPointer), str(d.get("DimensionDescriptionLabel", "")))
            for d in ds.DimensionIndexSequence]
    for k, path in enumerate(classic_files):
        c = pydicom.dcmread(path)
        cell, slice_ = divmod(k, slices)
        where = "%s frame %d (%s)" % (label, k, os.path.basename(path))
        pairs = [
            ("position", numbers(frame_value(ds, k, "PlanePositionSequence", "ImagePositionPatient")),
             numbers(c.ImagePositionPatient)),
            ("orientation", numbers(frame_value(ds, k, "PlaneOrientationSequence", "ImageOrientationPatient")),
             numbers(c.ImageOrientationPatient)),
            ("pixel spacing", numbers(frame_value(ds, k, "PixelMeasuresSequence", "PixelSpacing")),
             numbers(c.PixelSpacing)),
            ("thickness", numbers(frame_value(ds, k, "PixelMeasuresSequence", "SliceThickness")),
             numbers(c.get("SliceThickness"))),
            ("rescale slope", numbers(frame_value(ds, k, "PixelValueTransformationSequence", "RescaleSlope")),
             numbers(c.get("RescaleSlope", 1))),
            ("rescale intercept",
             numbers(frame_value(ds, k, "PixelValueTransformationSequence", "RescaleIntercept")),
             numbers(c.get("RescaleIntercept", 0))),
            ("window centre", numbers(frame_value(ds, k, "FrameVOILUTSequence", "WindowCenter")),
             numbers(c.get("WindowCenter"))),
        ]
        if ds.SOPClassUID == ENHANCED_MR:
            pairs.append(("echo time", numbers(frame_value(ds, k, "MREchoSequence", "EffectiveEchoTime")),
                          numbers(c.get("EchoTime"))))
            pairs.append(("b value", numbers(frame_value(ds, k, "MRDiffusionSequence", "DiffusionBValue")),
                          numbers(c.get("DiffusionBValue"))))
            diff = item(ds.PerFrameFunctionalGroupsSequence[k], "MRDiffusionSequence")
            direction = None
            if diff is not None and "DiffusionGradientDirectionSequence" in diff:
                direction = numbers(diff.DiffusionGradientDirectionSequence[0].DiffusionGradientOrientation)
            want = numbers(c.get("DiffusionGradientOrientation"))
            pairs.append(("direction", direction, want))
            if diff is not None:
                got = diff.DiffusionDirectionality
                exp = "DIRECTIONAL" if want is not None else "NONE"
                if got != exp and not (exp == "NONE" and got == "ISOTROPIC"):
                    failures.append("%s: directionality %s, expected %s" % (where, got, exp))
        content = ds.PerFrameFunctionalGroupsSequence[k].FrameContentSequence[0]
        if "time" in order.split(","):
            dt = content.get("FrameAcquisitionDateTime")
            pairs.append(("acquisition time", [float(str(dt)[8:])] if dt else None,
                          [float(c.AcquisitionTime)]))
            pairs.append(("temporal position", [float(content.TemporalPositionIndex)], [cell + 1]))
        pairs.append(("in-stack position", [float(content.InStackPositionNumber)], [slice_ + 1]))
        index = [int(x) for x in numbers(content.DimensionIndexValues)]
        cells = np.unravel_index(cell, tag_count) if tag_count else ()
        pairs.append(("dimension index values", [float(x) for x in index],
                      [float(i + 1) for i in cells] + [slice_ + 1]))
        for name, got, want in pairs:
            if not close(got, want):
                failures.append("%s: %s %s, classic %s" % (where, name, got, want))
        if not np.array_equal(pixels[k], c.pixel_array):
            failures.append("%s: pixels differ" % where)
        checked += 1
    if len(dims) != len(tag_count) + 1:
        failures.append("%s: %d dimensions for %d tag axes" % (label, len(dims), len(tag_count)))
    return checked


def series_json(image_info, path):
    data = json.loads(run([image_info, "--json", path]))
    return data[0] if isinstance(data, list) else data


def flat(v):
    """Numbers of a nested value ((b, direction) pairs of uneven length) in order."""
    if isinstance(v, (list, tuple)):
        return [len(v)] + [x for e in v for x in flat(e)]
    return [float(v)]


def check_series(label, a, b, failures):
    for key in ("shape", "input_order"):
        if a.get(key) != b.get(key):
            failures.append("%s: %s %s, classic %s" % (label, key, b.get(key), a.get(key)))
            return
    for x, y in zip(a["axes"], b["axes"]):
        if x.get("name") != y.get("name") or x.get("length") != y.get("length"):
            failures.append("%s: axis %s, classic %s" % (label, y, x))
        for key in ("values", "start", "step"):
            va, vb = x.get(key), y.get(key)
            if va is None and vb is None:
                continue
            fa, fb = flat(va), flat(vb)
            if len(fa) != len(fb) or not np.allclose(fa, fb, atol=1e-6):
                failures.append("%s: axis %s %s %s, classic %s" % (label, x["name"], key, vb, va))
    for key in ("spacing", "orientation"):
        if not np.allclose(a[key], b[key], atol=1e-6):
            failures.append("%s: %s %s, classic %s" % (label, key, b[key], a[key]))
    pa = np.array([a["imagePositions"][k] for k in sorted(a["imagePositions"], key=int)])
    pb = np.array([b["imagePositions"][k] for k in sorted(b["imagePositions"], key=int)])
    if pa.shape != pb.shape or np.max(np.abs(pa - pb)) > 1e-6:
        failures.append("%s: image positions differ" % label)


def check_nifti(label, a_path, b_path, failures):
    ia, ib = nib.load(a_path), nib.load(b_path)
    canonical = ia.shape != ib.shape
    if canonical:  # a 3D acquisition's classic NIfTI is reoriented (see the top)
        ia, ib = nib.as_closest_canonical(ia), nib.as_closest_canonical(ib)
    va, vb = np.asanyarray(ia.dataobj), np.asanyarray(ib.dataobj)
    if va.shape != vb.shape or not np.array_equal(va, vb):
        failures.append("%s: NIfTI voxels differ (%s, %s)" % (label, va.shape, vb.shape))
        return
    d = np.max(np.abs(ia.affine - ib.affine))
    if d > (1e-5 if canonical else 1e-6):  # reoriented: float32 sform rounding
        failures.append("%s: NIfTI affine differs by %g" % (label, d))
    for ext in (".bval", ".bvec"):
        sa, sb = a_path.split(".nii")[0] + ext, b_path.split(".nii")[0] + ext
        if os.path.exists(sa) != os.path.exists(sb):
            failures.append("%s: %s only on one side" % (label, ext))
        elif os.path.exists(sa):
            ta = np.loadtxt(sa, ndmin=2)
            tb = np.loadtxt(sb, ndmin=2)
            if ta.shape != tb.shape or np.max(np.abs(ta - tb)) > 1e-6:
                failures.append("%s: %s differs" % (label, ext))


def copy_series(folder, first, to):
    """The files of the series `first` belongs to (same SeriesInstanceUID), copied to `to`."""
    uid = pydicom.dcmread(os.path.join(folder, first), stop_before_pixels=True).SeriesInstanceUID
    os.makedirs(to)
    for name in sorted(os.listdir(folder)):
        try:
            ds = pydicom.dcmread(os.path.join(folder, name), stop_before_pixels=True)
        except Exception:
            continue
        if ds.get("SeriesInstanceUID") == uid:
            shutil.copyfile(os.path.join(folder, name), os.path.join(to, name))


def main():
    image_data, image_info, data = sys.argv[1:4]
    if shutil.which("dciodvfy") is None:
        print("SKIP: dciodvfy not found (apt-get install dicom3tools)")
        return 77
    src = os.path.join(data, "imagedata", "dicom")
    if not os.path.isdir(src):
        print("SKIP: %s not found (the ../shared reference data is absent)" % src)
        return 77
    work = tempfile.mkdtemp(prefix="imd-enh-")
    failures = []
    try:
        run([image_data, "--of", "nifti", os.path.join(work, "v3.nii.gz"),
             os.path.join(src, "time", "time00")])
        run([image_data, "--of", "nifti", "--order", "time", os.path.join(work, "v4.nii.gz"),
             os.path.join(src, "time")])
        # (label, image_data arguments before OUTPUT, inputs, expected SOP class, the input
        #  whose Series the enhanced file must read back to, or None)
        cases = [
            ("3D", [], [os.path.join(src, "time", "time00")], ENHANCED_MR, True),
            ("4D time", ["--order", "time"], [os.path.join(src, "time")], ENHANCED_MR, True),
            ("DWI trace b", [], [os.path.join(src, "dwi")], ENHANCED_MR, True),
            ("DWI dti (mosaic)", [], [os.path.join(src, "ep2d_RSI_b0_500_1500_6dir.zip")],
             ENHANCED_MR, True),
            ("NIfTI 3D --template", ["--template", os.path.join(src, "time", "time00")],
             [os.path.join(work, "v3.nii.gz")], ENHANCED_MR, False),
            ("NIfTI 4D --template", ["--order", "time", "--template", os.path.join(src, "time")],
             [os.path.join(work, "v4.nii.gz")], ENHANCED_MR, False),
            ("NIfTI MR no template", [], [os.path.join(work, "v3.nii.gz")], ENHANCED_MR, False),
            ("NIfTI CT no template", ["--SOPClassUID", "CT"], [os.path.join(work, "v3.nii.gz")],
             ENHANCED_CT, False),
        ]
        # enhanced scanner exports as input (their template is an ORIGINAL enhanced data set)
        xa60 = os.path.join(data, "dcm_qa_dev", "dcm_qa_xa60", "In", "XA60", "DICOM", "24100413",
                            "39280000")
        for first, label in (("75739475", "XA60 enhanced BOLD"), ("75739673", "XA60 enhanced DWI")):
            if os.path.exists(os.path.join(xa60, first)):
                folder = os.path.join(work, "in_" + first)
                copy_series(xa60, first, folder)
                cases.append((label, [], [folder], ENHANCED_MR, True))
            else:
                print("SKIP (part): no %s" % os.path.join(xa60, first))
        for n, (label, extra, inputs, sop, same_series) in enumerate(cases):
            classic = os.path.join(work, "c%d" % n)
            enhanced = os.path.join(work, "e%d" % n)
            try:
                run([image_data, "--of", "dicom"] + extra + [classic] + inputs)
                run([image_data, "--of", "dicom", "--input_options", "enhanced=true"] + extra +
                    [enhanced] + inputs)
            except RuntimeError as e:
                failures.append("%s: %s" % (label, e))
                continue
            files = sorted(glob.glob(os.path.join(enhanced, "*.dcm")))
            if len(files) != 1:
                failures.append("%s: %d enhanced files" % (label, len(files)))
                continue
            errors = dciodvfy_errors(files[0])
            if errors:
                failures.append("%s: dciodvfy: %s" % (label, "; ".join(errors[:5])))
            ds = pydicom.dcmread(files[0], stop_before_pixels=True)
            if ds.SOPClassUID != sop:
                failures.append("%s: SOP class %s, expected %s" % (label, ds.SOPClassUID, sop))
            info = series_json(image_info, classic)
            tag_count = tuple(info["shape"][:-3]) if len(info["shape"]) > 3 else ()
            slices = info["shape"][-3] if len(info["shape"]) >= 3 else 1
            classic_files = sorted(glob.glob(os.path.join(classic, "*.dcm")))
            frames = check_pydicom(label, files[0], classic_files, tag_count, slices,
                                   info.get("input_order", "none"), failures)
            back = series_json(image_info, enhanced)
            check_series(label + " (our reader, vs classic written)", info, back, failures)
            if same_series:
                check_series(label + " (our reader, vs input)", series_json(image_info, inputs[0]),
                             back, failures)
            run([image_data, "--of", "nifti", os.path.join(work, "nc%d.nii.gz" % n), classic])
            run([image_data, "--of", "nifti", os.path.join(work, "ne%d.nii.gz" % n), enhanced])
            check_nifti(label, os.path.join(work, "nc%d.nii.gz" % n),
                        os.path.join(work, "ne%d.nii.gz" % n), failures)
            if same_series:
                run([image_data, "--of", "nifti", os.path.join(work, "ni%d.nii.gz" % n)] + inputs)
                check_nifti(label + " (vs input)", os.path.join(work, "ni%d.nii.gz" % n),
                            os.path.join(work, "ne%d.nii.gz" % n), failures)
            print("%s: %s, %d frames checked with pydicom, shape %s, order %s" %
                  ("ok" if not [f for f in failures if f.startswith(label)] else "FAIL",
                   label, frames, info["shape"], info.get("input_order")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures[:40]:
        print("FAIL: " + f)
    print("%d passed, %d failed" % (len(cases) - len({f.split(":")[0].split(" (")[0] for f in failures}),
                                    len({f.split(":")[0].split(" (")[0] for f in failures})))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
