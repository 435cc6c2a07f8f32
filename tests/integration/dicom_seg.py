#!/usr/bin/python3
"""DICOM Segmentation (SEG) read (issue 15 item 5).

pydicom writes two SEG instances of one made-up geometry (5 planes 2.5 mm
apart on an oblique orientation, 6 x 5 pixels, two segments "liver" and
"tumour"; no frame on plane 2, frames in a shuffled order): a BINARY one
(1 bit, frames packed one after the other, PS3.5 8.1.1) and a FRACTIONAL one
(8 bits, MaximumFractionalValue 200). Our reader must give:
- image_info --json: shape [2, 5, 6, 5], input order "label", the label axis
  values ["liver", "tumour"], the five plane positions and the orientation;
- image_data --of nifti: every voxel (located through the NIfTI affine, so
  independent of the NIfTI axis order) equal to the segment's pixel at that
  place: 0/1 for BINARY, value / 200 for FRACTIONAL (float32), 0 where no
  frame is.
A SEG whose pixel data is cut short fails with a message naming the file and
the byte counts (exit code 4: not a crash). pydicom's own SEG test files
(liver_1frame.dcm, liver_expb_1frame.dcm) are cut to one frame but keep 3
per-frame items: refused as inconsistent (exit 4, the reason named).

usage: dicom_seg.py IMAGE_DATA IMAGE_INFO
"""
import json, os, shutil, subprocess, sys, tempfile

import numpy as np

try:
    import nibabel as nib
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(77)

SEG = "1.2.840.10008.5.1.4.1.1.66.4"
ROWS, COLS, PLANES = 6, 5, 5
ROW_DIR = np.array([np.cos(0.3), np.sin(0.3), 0.0])          # along a row (column index grows)
COL_DIR = np.array([-np.sin(0.3) * 0.8, np.cos(0.3) * 0.8, -0.6])  # down a column
NORMAL = np.cross(ROW_DIR, COL_DIR)
ORIGIN = np.array([-20.0, 30.0, 15.0])
SPACING = (2.5, 0.8, 0.9)  # between planes, row spacing, column spacing


def position(plane):
    return ORIGIN + plane * SPACING[0] * NORMAL


def make(kind, path, truncate=False):
    rng = np.random.default_rng(7 if kind == "BINARY" else 11)
    # frames: (segment number, plane); plane 2 has none; shuffled order
    frames = [(2, 4), (1, 0), (1, 3), (2, 3), (1, 1)]
    if kind == "BINARY":
        values = rng.integers(0, 2, size=(len(frames), ROWS, COLS), dtype=np.uint8)
    else:
        values = rng.integers(0, 201, size=(len(frames), ROWS, COLS), dtype=np.uint8)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SEG
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SEG
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "SEG"
    ds.PatientName = "SEG^TEST"
    ds.PatientID = "seg1"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.SeriesNumber = 300
    ds.SeriesDescription = "seg " + kind.lower()
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelRepresentation = 0
    ds.BitsAllocated = ds.BitsStored = 1 if kind == "BINARY" else 8
    ds.HighBit = ds.BitsStored - 1
    ds.NumberOfFrames = len(frames)
    ds.SegmentationType = kind
    if kind == "FRACTIONAL":
        ds.SegmentationFractionalType = "PROBABILITY"
        ds.MaximumFractionalValue = 200
    segs = []
    for number, label in ((1, "liver"), (2, "tumour")):
        s = Dataset()
        s.SegmentNumber = number
        s.SegmentLabel = label
        s.SegmentAlgorithmType = "MANUAL"
        segs.append(s)
    ds.SegmentSequence = Sequence(segs)
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing = [SPACING[1], SPACING[2]]
    pm.SliceThickness = SPACING[0]
    po = Dataset()
    po.ImageOrientationPatient = [float(x) for x in np.concatenate([ROW_DIR, COL_DIR])]
    shared.PixelMeasuresSequence = Sequence([pm])
    shared.PlaneOrientationSequence = Sequence([po])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per = []
    for number, plane in frames:
        f = Dataset()
        si = Dataset()
        si.ReferencedSegmentNumber = number
        pp = Dataset()
        pp.ImagePositionPatient = [float(x) for x in position(plane)]
        fc = Dataset()
        fc.DimensionIndexValues = [number, plane + 1]
        f.SegmentIdentificationSequence = Sequence([si])
        f.PlanePositionSequence = Sequence([pp])
        f.FrameContentSequence = Sequence([fc])
        per.append(f)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per)
    if kind == "BINARY":
        data = np.packbits(values.ravel(), bitorder="little").tobytes()
    else:
        data = values.tobytes()
    if truncate:
        data = data[: len(data) // 2]
    if len(data) % 2:
        data += b"\0"
    ds.PixelData = data
    ds["PixelData"].VR = "OB"
    ds.save_as(path, write_like_original=False)
    expected = np.zeros((2, PLANES, ROWS, COLS), dtype=np.float64)
    for (number, plane), v in zip(frames, values):
        expected[number - 1, plane] = v if kind == "BINARY" else v / 200.0
    return expected


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main():
    image_data, image_info = sys.argv[1:3]
    work = tempfile.mkdtemp(prefix="imd-seg-")
    failures = []
    passed = 0
    try:
        for kind in ("BINARY", "FRACTIONAL"):
            path = os.path.join(work, kind.lower() + ".dcm")
            expected = make(kind, path)
            rc, out, err = run([image_info, "--json", path])
            if rc != 0:
                failures.append("%s: image_info exit %d: %s" % (kind, rc, err.strip()))
                continue
            info = json.loads(out)
            info = info[0] if isinstance(info, list) else info
            bad = []
            if info["shape"] != [2, PLANES, ROWS, COLS]:
                bad.append("shape %s" % info["shape"])
            if info["input_order"] != "label":
                bad.append("input order %s" % info["input_order"])
            if info["axes"][0].get("values") != ["liver", "tumour"]:
                bad.append("label axis %s" % info["axes"][0])
            # the JSON gives (z, y, x), as the original (header.h)
            got = np.array([info["imagePositions"][str(k)][::-1] for k in range(PLANES)])
            want = np.array([position(k) for k in range(PLANES)])
            if got.shape != want.shape or np.max(np.abs(got - want)) > 1e-4:
                bad.append("positions %s" % got)
            if not np.allclose(info["orientation"], np.concatenate([ROW_DIR[::-1], COL_DIR[::-1]]),
                               atol=1e-6):
                bad.append("orientation %s" % info["orientation"])
            nii = os.path.join(work, kind.lower() + ".nii.gz")
            rc, out, err = run([image_data, "--of", "nifti", nii, path])
            if rc != 0:
                bad.append("image_data exit %d: %s" % (rc, err.strip()))
            else:
                img = nib.load(nii)
                data = np.asanyarray(img.dataobj).astype(np.float64)
                if data.ndim != 4 or data.shape[3] != 2:
                    bad.append("NIfTI shape %s" % (data.shape,))
                else:
                    # every voxel's centre in LPS, then its (plane, row, column) in the SEG grid
                    ijk = np.indices(data.shape[:3]).reshape(3, -1)
                    ras = img.affine[:3, :3] @ ijk + img.affine[:3, 3:4]
                    lps = ras * np.array([[-1], [-1], [1]])
                    rel = lps - ORIGIN[:, None]
                    col = np.rint(ROW_DIR @ rel / SPACING[2]).astype(int)
                    row = np.rint(COL_DIR @ rel / SPACING[1]).astype(int)
                    plane = np.rint(NORMAL @ rel / SPACING[0]).astype(int)
                    inside = (col >= 0) & (col < COLS) & (row >= 0) & (row < ROWS) & \
                             (plane >= 0) & (plane < PLANES)
                    if not inside.all():
                        bad.append("NIfTI voxels outside the SEG grid")
                    else:
                        for label in range(2):
                            want = expected[label, plane, row, col]
                            got = data[..., label].reshape(-1)
                            diff = np.max(np.abs(got - want))
                            if diff > 1e-6:
                                bad.append("label %d: voxels differ by %g" % (label, diff))
                        if kind == "FRACTIONAL" and img.get_data_dtype() != np.float32:
                            bad.append("NIfTI dtype %s" % img.get_data_dtype())
            if bad:
                failures.append("%s: %s" % (kind, "; ".join(bad)))
            else:
                passed += 1
                print("ok: %s SEG, %d voxels checked" % (kind, expected.size))
        # damaged: pixel data cut short
        path = os.path.join(work, "short.dcm")
        make("BINARY", path, truncate=True)
        rc, out, err = run([image_info, path])
        if rc in (0, 70) or rc > 128 or "short.dcm" not in err or "bytes" not in err:
            failures.append("short SEG: exit %d, %s" % (rc, err.strip()))
        else:
            passed += 1
            print("ok: short SEG refused (exit %d): %s" % (rc, err.strip().splitlines()[-1]))
        # pydicom's own SEG test files are cut to one frame of pixels (no NumberOfFrames)
        # but keep 3 Per-frame Functional Groups items: inconsistent, refused with the reason
        test_files = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
        for name in ("liver_1frame.dcm", "liver_expb_1frame.dcm"):
            path = os.path.join(test_files, name)
            if not os.path.exists(path):
                print("SKIP (part): no %s" % path)
                continue
            rc, out, err = run([image_info, path])
            if rc != 4 or "3 items for 1 frame" not in err:
                failures.append("%s: exit %d, %s" % (name, rc, err.strip()))
            else:
                passed += 1
                print("ok: pydicom's %s refused (exit 4): %s" % (name, err.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL: " + f)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
