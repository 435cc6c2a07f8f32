#!/usr/bin/env python3
"""template= and geometry= on non-DICOM input (behaviour.md §5.5, §11
dicom_template, itk_template; issues 6 and 9).

Inputs: the original's ITK volume itk/time/Image_00000.mha (= dicom/time/time00),
its MAT file mat/time/Image_00000.mat (= the 4D dicom/time), a NIfTI we write
from time00, and the MAT volume written as header-less DICOM (a Secondary
Capture without geometry). Each is read with image_info --json --stats and
  - template only:  the identity equals the DICOM's, the geometry does not;
  - geometry only:  the geometry equals the DICOM's, the identity does not;
  - both:           identity, geometry, tags and voxels equal the DICOM's;
  - both, written to DICOM with image_data and read back: equal again, and
    pydicom reads the files (patient and study of the template, voxels).
The DICOM side is described by image_info too, and checked against pydicom
(PatientID, StudyInstanceUID, ImagePositionPatient) so that the comparison
does not rest on our reader alone.
Exit 1 on a failure, 77 when the data or the Python packages are missing.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

try:
    import pydicom
except ImportError:
    print("SKIP: pydicom missing for", sys.executable)
    sys.exit(77)

BUILD = os.environ.get("IMD_BUILD", "")
DATA = os.environ.get("IMD_TEST_DATA", "")
INFO = os.path.join(BUILD, "cli", "image_info")
RUN = os.path.join(BUILD, "cli", "image_data")
IDENTITY = ["patientName", "patientID", "patientBirthDate", "studyInstanceUID", "studyID",
            "seriesNumber", "seriesDescription", "imageType", "modality", "SOPClassUID",
            "frameOfReferenceUID", "accessionNumber"]
GEOMETRY = ["spacing", "transformationMatrix", "imagePositions", "orientation",
            "sliceLocations"]
failures = []


def info(url, *options):
    out = subprocess.run([INFO, "--json", "--stats", *options, url], capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise RuntimeError("image_info %s %s: %s" % (" ".join(options), url, out.stderr))
    return json.loads(out.stdout)[0]


def close(a, b, tol=1e-3):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= tol * max(1.0, abs(b))
    return a == b


def compare(name, got, want, keys, equal):
    differing = [k for k in keys if not close(got.get(k), want.get(k))]
    if equal and differing:
        failures.append("%s: %s differ from the DICOM's" % (name, ", ".join(differing)))
    if not equal and not differing:
        failures.append("%s: %s all equal the DICOM's, expected them not to" % (name, keys))


def variants(name, url, dicom_url, want, own_geometry):
    """own_geometry: the input has geometry of its own (ITK, NIfTI), which
    template= keeps: then it must already equal the DICOM's."""
    template = info(url, "--template", dicom_url)
    compare(name + " template", template, want, IDENTITY, True)
    compare(name + " template", template, want, ["imagePositions"], own_geometry)
    geometry = info(url, "--geometry", dicom_url)
    compare(name + " geometry", geometry, want, GEOMETRY, True)
    compare(name + " geometry", geometry, want, ["studyInstanceUID", "patientID"], False)
    both = info(url, "--template", dicom_url, "--geometry", dicom_url)
    compare(name + " both", both, want, IDENTITY + GEOMETRY + ["shape", "input_order", "tags",
                                                            "stats"], True)
    return both


def written_back(name, url, dicom_url, want, tmp):
    out = os.path.join(tmp, name + "_dicom")
    run = subprocess.run([RUN, "--of", "dicom", "--template", dicom_url, "--geometry", dicom_url,
                          out, url], capture_output=True, text=True)
    if run.returncode != 0:
        failures.append("%s: image_data: %s" % (name, run.stderr.strip()))
        return
    back = info(out)
    compare(name + " written back", back, want, IDENTITY + GEOMETRY + ["shape", "input_order",
                                                                    "tags", "stats"], True)
    if back["seriesInstanceUID"] == want["seriesInstanceUID"]:
        failures.append("%s: the written series kept the template's series UID" % name)
    files = sorted(f for f in glob.glob(out + "/**/*", recursive=True) if os.path.isfile(f))
    source = pydicom.dcmread(sorted(glob.glob(dicom_url + "/**/*.dcm", recursive=True))[0])
    for f in files:
        d = pydicom.dcmread(f)
        if d.PatientID != source.PatientID or d.StudyInstanceUID != source.StudyInstanceUID:
            failures.append("%s: %s is not in the template's patient and study" % (name, f))
            break
    print("%s: %d DICOM files written back, read by pydicom" % (name, len(files)))


def pydicom_agrees(want, dicom_url):
    """Our description of the DICOM side against pydicom."""
    first = min((pydicom.dcmread(f) for f in glob.glob(dicom_url + "/**/*.dcm", recursive=True)),
                key=lambda d: float(d.SliceLocation))
    ipp = [float(v) for v in first.ImagePositionPatient]
    if want["patientID"] != first.PatientID or want["studyInstanceUID"] != first.StudyInstanceUID:
        failures.append("image_info's identity of %s differs from pydicom's" % dicom_url)
    if not close(want["imagePositions"]["0"], ipp[::-1]):
        failures.append("image_info's first position of %s differs from pydicom's" % dicom_url)


def main():
    if not DATA or not os.path.isdir(os.path.join(DATA, "dicom", "time")):
        print("SKIP: the reference data is missing (IMD_TEST_DATA=%s)" % (DATA or "unset"))
        return 77
    time00 = os.path.join(DATA, "dicom", "time", "time00")
    time = os.path.join(DATA, "dicom", "time")
    want3 = info(time00)
    want4 = info(time, "--order", "time")
    pydicom_agrees(want3, time00)
    with tempfile.TemporaryDirectory() as tmp:
        # A 4D NIfTI (a 3D one of this 3D acquisition is reoriented as
        # dcm2niix does, nii_setOrtho: same voxels, another grid).
        nifti = os.path.join(tmp, "time.nii.gz")
        subprocess.run([RUN, "--of", "nifti", "--order", "time", nifti, time], check=True)
        itk = os.path.join(DATA, "itk", "time", "Image_00000.mha")
        mat = os.path.join(DATA, "mat", "time", "Image_00000.mat")
        # A volume without any geometry or identity: ITK -> MAT -> DICOM (SC).
        mat3 = os.path.join(tmp, "volume.mat")
        bare = os.path.join(tmp, "bare")
        subprocess.run([RUN, "--of", "mat", mat3, itk], check=True)
        subprocess.run([RUN, "--of", "dicom", bare, mat3], check=True)
        cases = [("itk", itk, time00, want3, True),
                 ("nifti", nifti, time, want4, True),
                 ("mat", mat, time, want4, False),
                 ("headerless dicom", bare, time00, want3, False)]
        # A 3D NIfTI of this 3D acquisition is reoriented (dcm2niix's
        # nii_setOrtho): the same voxels on the grid's axes permuted and
        # flipped, so geometry= puts them back onto the DICOM grid
        # (src/model/regrid.c; voxels checked by template_grid.py).
        nifti3 = os.path.join(tmp, "time00.nii.gz")
        subprocess.run([RUN, "--of", "nifti", nifti3, time00], check=True)
        back = subprocess.run([INFO, "--geometry", time00, nifti3], capture_output=True,
                              text=True)
        if back.returncode != 0 or "Shape: 3x192x152" not in back.stdout:
            failures.append("reoriented NIfTI with geometry=: exit %d, %s (expected exit 0, "
                            "shape 3x192x152)" % (back.returncode, back.stderr.strip()))
        else:
            print("reoriented 3D NIfTI: geometry= puts it back on the 3x192x152 grid")
        for name, url, dicom_url, want, own_geometry in cases:
            try:
                variants(name, url, dicom_url, want, own_geometry)
                written_back(name.replace(" ", "_"), url, dicom_url, want, tmp)
                print("%s: template, geometry and both checked" % name)
            except RuntimeError as e:
                failures.append("%s: %s" % (name, e))
    for f in failures:
        print("FAIL:", f)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
