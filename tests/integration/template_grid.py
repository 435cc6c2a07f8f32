"""Issue 23 item 1: a result goes back onto the template's voxel grid.

A 3D acquisition written to NIfTI is reoriented to the nearest RAS axes (as
dcm2niix does), so its grid is the template's in another axis order. Written
back to DICOM with the original series as template, it must have the
template's slices, rows and columns again: for every written file, the
template file at the same position (within 1e-3 mm) has the same
orientation and the same pixels (pydicom reads both), the study is the
template's and the series UID a new one. Cases: time00 (3 slices of
192x152, fl3d), the 4D time series, and the same through MetaIO.

usage: template_grid.py BUILD WORKDIR DATA
"""
import glob
import os
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")
try:
    import numpy as np
    import pydicom
except ImportError as exc:
    print(f"SKIP: numpy/pydicom not importable: {exc}")
    sys.exit(77)


def dicoms(folder):
    return sorted(glob.glob(os.path.join(folder, "**", "*.dcm"), recursive=True))


def check(case, written, template, failures):
    want = [pydicom.dcmread(f) for f in dicoms(template)]
    got = [pydicom.dcmread(f) for f in dicoms(written)]
    if len(got) != len(want):
        failures.append(f"{case}: {len(got)} files written, the template has {len(want)}")
        return
    by_position = {}
    for ds in want:
        key = (tuple(np.round(np.asarray(ds.ImagePositionPatient, float), 2)),
               str(getattr(ds, "AcquisitionTime", "")))
        by_position.setdefault(key[0], []).append(ds)
    used = set()
    for ds in got:
        position = np.asarray(ds.ImagePositionPatient, float)
        candidates = [t for key, group in by_position.items()
                      if np.abs(np.asarray(key) - position).max() < 1e-2 for t in group]
        match = [t for t in candidates if id(t) not in used and
                 np.array_equal(t.pixel_array, ds.pixel_array)]
        if not candidates:
            failures.append(f"{case}: no template slice at {position.tolist()}")
            continue
        if not match:
            failures.append(f"{case}: the pixels at {position.tolist()} differ from the template's")
            continue
        t = match[0]
        used.add(id(t))
        error = np.abs(np.asarray(t.ImagePositionPatient, float) - position).max()
        if error > 1e-3:
            failures.append(f"{case}: position off by {error:.2g} mm")
        if not np.allclose(np.asarray(t.ImageOrientationPatient, float),
                           np.asarray(ds.ImageOrientationPatient, float), atol=1e-5):
            failures.append(f"{case}: orientation {ds.ImageOrientationPatient}")
        if (ds.Rows, ds.Columns) != (t.Rows, t.Columns):
            failures.append(f"{case}: {ds.Rows}x{ds.Columns}, template {t.Rows}x{t.Columns}")
        if ds.StudyInstanceUID != t.StudyInstanceUID:
            failures.append(f"{case}: another study")
        if ds.SeriesInstanceUID == t.SeriesInstanceUID:
            failures.append(f"{case}: the template's series UID was kept")
    print(f"{case}: {len(got)} files checked")


def main():
    build, work, data = sys.argv[1:4]
    if not os.path.isdir(data):
        print(f"SKIP: {data} not found (../shared reference data absent)")
        return 77
    image_data = os.path.join(build, "cli", "image_data")
    failures = []
    cases = [("3D", "time/time00", "nifti", "nii.nii.gz"),
             ("4D", "time", "nifti", "nii.nii.gz"),
             ("3D-metaio", "time/time00", "itk", "mha")]
    for case, sub, fmt, written in cases:
        template = os.path.join(data, "dicom", sub)
        folder = os.path.join(work, case)
        os.makedirs(folder)
        middle = os.path.join(folder, "nii" if fmt == "nifti" else "mha")
        steps = [[image_data, "--of", fmt, middle, template],
                 [image_data, "--of", "dicom", "--template", template, "--sernum", "1004",
                  "--serdes", "Processed data", os.path.join(folder, "dcm"),
                  middle if fmt != "nifti" else os.path.join(folder, written)]]
        for step in steps:
            run = subprocess.run(step, capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{case}: {' '.join(step[1:3])}: exit {run.returncode}: "
                                f"{run.stderr.strip()}")
                break
        else:
            check(case, os.path.join(folder, "dcm"), template, failures)
    for line in failures:
        print("FAIL:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
