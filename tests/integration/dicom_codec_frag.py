"""dcm_qa_frag (../shared/data/dcm_qa_dev/dcm_qa_frag): two Siemens XA30 series
of 96 single-frame files, JPEG Lossless SV1 (.70) and JPEG 2000 Lossless (.90),
each frame's codestream split over several fragments (gdcmconv --split).

1. Every file, decoded by our codec (tests/tools/dicom_decode_frames --typed),
   equals gdcmconv --raw's decompressed file read by pydicom, voxel for voxel.
2. The series read by image_data and written as NIfTI equals the reference
   NIfTI (dcm2niix's, In/../Ref) voxel for voxel, read by nibabel.

usage: dicom_codec_frag.py BUILD WORKDIR DATA
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")
try:
    import nibabel as nib
    import numpy as np
    import pydicom
    from pydicom.encaps import generate_pixel_data_fragment
    from pydicom.filebase import DicomBytesIO
except ImportError as exc:
    print(f"SKIP: numpy/pydicom/nibabel not importable: {exc}")
    sys.exit(77)

SERIES = {"5001_anat-T1w_acq-tfl": "1.2.840.10008.1.2.4.70",
          "6001_anat-T1w_acq-tfl": "1.2.840.10008.1.2.4.90"}


def fragments(ds):
    fp = DicomBytesIO(ds.PixelData)
    fp.is_little_endian = True
    return sum(1 for _ in generate_pixel_data_fragment(fp))


def main():
    build, work, data = sys.argv[1:4]
    if not os.path.isdir(data):
        print(f"SKIP: {data} not found (../shared reference data absent)")
        return 77
    if shutil.which("gdcmconv") is None:
        print("SKIP: gdcmconv not found (apt-get install libgdcm-tools)")
        return 77
    tool = os.path.join(build, "tests", "dicom_decode_frames")
    image_data = os.path.join(build, "cli", "image_data")
    failures = []
    for series, syntax in SERIES.items():
        files = sorted(glob.glob(os.path.join(data, "In", series, "*.dcm")))
        if len(files) != 96:
            failures.append(f"{series}: {len(files)} files, expected 96")
        split = 0
        for path in files:
            ds = pydicom.dcmread(path)
            if str(ds.file_meta.TransferSyntaxUID) != syntax:
                failures.append(f"{path}: transfer syntax {ds.file_meta.TransferSyntaxUID}")
            if fragments(ds) > 1:
                split += 1
            raw = os.path.join(work, "gdcm.dcm")
            subprocess.run(["gdcmconv", "--raw", path, raw], check=True)
            ref = pydicom.dcmread(raw).pixel_array.astype(np.int64)
            out = os.path.join(work, "ours.raw")
            r = subprocess.run([tool, "--typed", path, out], capture_output=True, text=True)
            if r.returncode != 0:
                failures.append(f"{path}: {r.stderr.strip()}")
                continue
            info = json.loads(r.stdout)
            ours = np.fromfile(out, dtype=info["dtype"]).reshape(ref.shape).astype(np.int64)
            if not np.array_equal(ours, ref):
                failures.append(f"{path}: differs from gdcmconv --raw in "
                                f"{int((ours != ref).sum())} voxels")
        print(f"{series} ({syntax}): {len(files)} files, {split} with a frame split over "
              f"several fragments, each decoded and compared with gdcmconv --raw")
        if split == 0:
            failures.append(f"{series}: no file has a frame over several fragments")

        # The whole series through the reader, against the reference NIfTI.
        prefix = os.path.join(work, series)
        r = subprocess.run([image_data, "--of", "nifti", prefix, os.path.join(data, "In", series)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            failures.append(f"{series}: image_data exit {r.returncode}: {r.stderr.strip()}")
            continue
        number = series.split("_")[0]
        ref = nib.load(os.path.join(data, "Ref", f"anat-T1w_acq-tfl_{number}.nii.gz"))
        ours = nib.load(glob.glob(prefix + "*.nii*")[0])
        a = np.asanyarray(ref.dataobj).astype(np.int64)
        b = np.asanyarray(ours.dataobj).astype(np.int64)
        if a.shape != b.shape or not np.array_equal(a, b):
            failures.append(f"{series}: NIfTI voxels differ from the reference "
                            f"({a.shape} vs {b.shape})")
        else:
            print(f"{series}: image_data NIfTI {b.shape} equals Ref voxel for voxel "
                  f"(max |affine difference| {np.abs(ref.affine - ours.affine).max():.3g} mm)")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
