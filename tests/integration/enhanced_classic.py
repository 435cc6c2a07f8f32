#!/usr/bin/python3
"""Multi-frame reading. Classic and enhanced exports of one acquisition give the same result
(issue 15 item 2). Each enhanced series of ../shared/data/dcm_qa_dev is split
into classic single-frame files by split_enhanced.py (pydicom, the frame
values moved to the single-frame attributes), and (one-series cases) those
classic files are joined again into one enhanced file by our writer
(enhanced=true); all are converted with
`image_data --of nifti` and must give the same voxels, the same affine
(1e-6 mm) and the same bval/bvec; `image_info --json` must give the same
shape, input order and axis values.

usage: enhanced_classic.py IMAGE_DATA IMAGE_INFO DATA_DIR
"""
import glob, json, os, shutil, subprocess, sys, tempfile

import numpy as np

try:
    import nibabel as nib
    import pydicom
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import split_enhanced  # noqa: E402

# (series folder or file pattern, what it holds, join the classic files again with our
#  enhanced writer: one series whose enhanced export we can compare with ours)
CASES = [
    ("dcm_qa_xa60/In/XA60/DICOM/24100413/39280000", "75739673", "XA60 product DWI", True),
    ("dcm_qa_xa60/In/XA60/DICOM/24100413/39280000", "75739475", "XA60 product BOLD", True),
    ("dcm_qa_fmap/In/Philips/fmap", "IM_0027_fMAP.dcm", "Philips B0 map (64 frames)", False),
    ("dcm_qa_cs_dl/In/Philips/201_T1W_TSE_Sno_CSno_CSAIno", "0001.dcm", "Philips enhanced T1",
     True),
]


def series_files(folder, first):
    """Every file of the series `first` belongs to (same SeriesInstanceUID)."""
    uid = pydicom.dcmread(os.path.join(folder, first), stop_before_pixels=True).SeriesInstanceUID
    out = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        if ds.get("SeriesInstanceUID") == uid and "PixelData" in pydicom.dcmread(path, specific_tags=["PixelData"]) :
            out.append(path)
    return out


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def niftis(folder):
    return sorted(glob.glob(os.path.join(folder, "**", "*.nii*"), recursive=True))


def compare(label, a_dir, b_dir, failures):
    """Same NIfTI files: voxels, affine (1e-6), bval/bvec."""
    a, b = niftis(a_dir), niftis(b_dir)
    if len(a) != len(b) or not a:
        failures.append("%s: %d NIfTI files from enhanced, %d from classic" % (label, len(a), len(b)))
        return 0
    checked = 0
    for fa, fb in zip(a, b):
        ia, ib = nib.load(fa), nib.load(fb)
        va, vb = np.asanyarray(ia.dataobj), np.asanyarray(ib.dataobj)
        name = os.path.relpath(fa, a_dir)
        if va.shape != vb.shape or not np.array_equal(va, vb):
            failures.append("%s %s: voxels differ (shapes %s, %s)" % (label, name, va.shape, vb.shape))
            continue
        d = np.max(np.abs(ia.affine - ib.affine))
        if d > 1e-6:
            failures.append("%s %s: affine differs by %g" % (label, name, d))
            continue
        for ext in (".bval", ".bvec"):
            sa = fa.split(".nii")[0] + ext
            sb = fb.split(".nii")[0] + ext
            if os.path.exists(sa) != os.path.exists(sb):
                failures.append("%s %s: %s only from one export" % (label, name, ext))
            elif os.path.exists(sa) and not np.allclose(np.loadtxt(sa), np.loadtxt(sb), atol=1e-6):
                failures.append("%s %s: %s differ" % (label, name, ext))
        checked += 1
    return checked


def check_rtdose(image_info, failures):
    """A multi-frame file without functional groups placed by its Frame Increment
    Pointer: pydicom's rtdose.dcm, GridFrameOffsetVector (PS3.3 C.8.8.3.2), read
    as 15 slices at IPP + offset along the normal; voxel sum by pydicom."""
    path = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files", "rtdose.dcm")
    if not os.path.exists(path):
        print("SKIP (part): no %s" % path)
        return 0
    code, text, err = run([image_info, "--json", "--stats", path])
    if code != 0:
        failures.append("rtdose: image_info exit %d: %s" % (code, err.strip()))
        return 0
    s = json.loads(text)[0]
    ds = pydicom.dcmread(path)
    offsets = [float(v) for v in ds.GridFrameOffsetVector]
    ipp = [float(v) for v in ds.ImagePositionPatient]
    want = [[ipp[2] + o - offsets[0], ipp[1], ipp[0]] for o in offsets]  # zyx, axial
    got = [s["imagePositions"][str(i)] for i in range(len(offsets))] if "imagePositions" in s else []
    ok = (s.get("shape") == [len(offsets), int(ds.Rows), int(ds.Columns)] and
          np.allclose(got, want, atol=1e-6) and
          s.get("stats", {}).get("sum") == int(ds.pixel_array.astype(np.int64).sum()))
    if not ok:
        failures.append("rtdose: shape %s positions %s sum %s" % (s.get("shape"), got[:2],
                                                                 s.get("stats")))
        return 0
    print("rtdose.dcm: 15 frames as slices along GridFrameOffsetVector, voxels equal")
    return 1


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    image_data, image_info, data = argv[1:]
    if not os.path.isdir(data):
        print("SKIP: no %s (../shared/data/dcm_qa_dev)" % data)
        return 77
    failures, checked = [], 0
    with tempfile.TemporaryDirectory(prefix="imd-enh-") as tmp:
        for i, (folder, first, label, join) in enumerate(CASES):
            folder = os.path.join(data, folder)
            if not os.path.exists(os.path.join(folder, first)):
                failures.append("%s: %s missing" % (label, first))
                continue
            enhanced = os.path.join(tmp, "e%d" % i)
            classic = os.path.join(tmp, "c%d" % i)
            os.makedirs(enhanced)
            for j, path in enumerate(series_files(folder, first)):
                shutil.copyfile(path, os.path.join(enhanced, "%04d.dcm" % j))
                split_enhanced.split(path, os.path.join(classic, "%04d" % j))
            outs = []
            for src, tag in ((enhanced, "enh"), (classic, "cls")):
                out = os.path.join(tmp, "out_%s%d" % (tag, i), "x")
                os.makedirs(os.path.dirname(out))
                code, _, err = run([image_data, "--of", "nifti", "--input_options",
                                    "split_echo_numbers=true", out, src])
                if code != 0:
                    failures.append("%s (%s): image_data exit %d: %s" % (label, tag, code,
                                                                         err.strip()[-300:]))
                outs.append(out)
                code, text, err = run([image_info, "--json", src])
                outs.append(text if code == 0 else None)
            if outs[1] is None or outs[3] is None:
                failures.append("%s: image_info failed" % label)
            else:
                je, jc = json.loads(outs[1]), json.loads(outs[3])
                je, jc = (je if isinstance(je, list) else [je]), (jc if isinstance(jc, list) else [jc])
                for se, sc in zip(je, jc):
                    for key in ("shape", "input_order", "spacing"):
                        if se.get(key) != sc.get(key):
                            failures.append("%s: image_info %s %s vs %s" % (label, key, se.get(key), sc.get(key)))
            n = compare(label, os.path.dirname(outs[0]), os.path.dirname(outs[2]), failures)
            print("%s: %d NIfTI file(s) equal" % (label, n))
            checked += n
            if join:
                # the other direction: the classic files joined into one enhanced file by our
                # writer (issue 15 item 6) read back as the scanner's enhanced export
                joined = os.path.join(tmp, "j%d" % i)
                out = os.path.join(tmp, "out_join%d" % i, "x")
                os.makedirs(os.path.dirname(out))
                code, _, err = run([image_data, "--of", "dicom", "--input_options",
                                    "enhanced=true", joined, classic])
                if code == 0:
                    code, _, err = run([image_data, "--of", "nifti", "--input_options",
                                        "split_echo_numbers=true", out, joined])
                if code != 0:
                    failures.append("%s (joined): image_data exit %d: %s" % (label, code,
                                                                            err.strip()[-300:]))
                else:
                    # exact: a float series of a scanner's stored values is stored again
                    # as those integers with the scanner's rescale (dicom-writing.md)
                    n = compare(label + " (joined)", os.path.dirname(outs[0]),
                                os.path.dirname(out), failures)
                    print("%s: classic joined by our writer: %d NIfTI file(s) equal" % (label, n))
                    checked += n
    checked += check_rtdose(image_info, failures)
    for f in failures:
        print("FAIL: " + f)
    print("%d passed, %d failed" % (checked, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
