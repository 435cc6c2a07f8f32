#!/usr/bin/python3
"""Fault injection (issue 16 item 6): every allocation and every write fails once.

Needs a build configured with -DIMD_FAULT_INJECTION=ON (and IMD_SANITIZE=ON for
the leak and UB checks); see docs/fuzzing.md, "Fault injection".

For each scenario (an image_data command line over small inputs this script
makes with pydicom, nibabel, scipy and zipfile, independent of our writers):
1. a clean run with IMD_COUNT_ALLOC=path, which the library's atexit fills
   with the number of allocations and writes it made; its output is the
   reference;
2. a run for every N from 1 to each count with IMD_FAIL_ALLOC=N, then with
   IMD_FAIL_WRITE=N (the Nth call fails, the others succeed).
Each run is checked:
- no sanitizer report (ASan, LSan with detect_leaks=1, UBSan), no signal, no hang;
- a non-zero exit: an "image_data: ..." line on stderr that gives a reason,
  the output folder lists exactly what it held before (a sentinel file), no
  "*.tmp-*" file anywhere under the work folder, TMPDIR empty;
- exit 0: the output equals the clean run's (DICOM compared with pydicom
  without UIDs, dates and times, which every run makes anew; MAT files
  without their text header's date; zips member by member).
Usage: faults.py BUILD WORK [--jobs J] [--only NAME[,NAME]] [--kind alloc|write]
                 [--stride K] [--max-n M]
Exit 0 when every run passed, 1 otherwise (each failure named, with the run's
environment, so that it can be repeated by hand).
"""
import argparse
import collections
import concurrent.futures
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile

import numpy

SANITIZER = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|"
                       r"SUMMARY: \w+Sanitizer|AddressSanitizer:DEADLYSIGNAL")
SENTINEL = "keep.txt"


# ---- inputs, made by independent writers ---------------------------------------

def make_dicom_series(folder, times=2, rle=False):
    """`times` time points x 3 slices of 8x6 uint16 MR images, explicit VR little
    endian, or RLE Lossless (PS3.5 Annex G, pydicom's encoder)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    os.makedirs(folder)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rng = numpy.random.default_rng(16)
    number = 0
    for t in range(times):
        for z in range(3):
            number += 1
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.is_little_endian, ds.is_implicit_VR = True, False
            ds.SOPClassUID = meta.MediaStorageSOPClassUID
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.FrameOfReferenceUID = frame
            ds.Modality = "MR"
            ds.PatientID, ds.PatientName = "FAULTS", "Fault^Injection"
            ds.StudyDate, ds.StudyTime = "20240102", "101500"
            ds.SeriesNumber, ds.InstanceNumber = 5, number
            ds.SeriesDescription = "faults"
            ds.AcquisitionTime = "1015%02d" % (t * 10)
            ds.ImagePositionPatient = [-10.0, -8.0, 4.0 * z]
            ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
            ds.PixelSpacing = [2.0, 2.0]
            ds.SliceThickness = 4.0
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows, ds.Columns = 6, 8
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
            ds.PixelRepresentation = 0
            pixels = rng.integers(0, 4096, (6, 8), dtype=numpy.uint16)
            ds.PixelData = pixels.tobytes()
            if rle:
                from pydicom.uid import RLELossless
                ds.compress(RLELossless, pixels)
            ds.save_as(os.path.join(folder, "IM%02d.dcm" % number), write_like_original=False)


def make_inputs(work):
    import nibabel
    import scipy.io
    inputs = os.path.join(work, "in")
    shutil.rmtree(inputs, ignore_errors=True)
    os.makedirs(inputs)
    make_dicom_series(os.path.join(inputs, "dicom"))
    make_dicom_series(os.path.join(inputs, "dicom_rle"), times=1, rle=True)
    with zipfile.ZipFile(os.path.join(inputs, "dicom.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(os.listdir(os.path.join(inputs, "dicom"))):
            z.write(os.path.join(inputs, "dicom", name), "dicom/" + name)
    voxels = numpy.arange(8 * 6 * 3, dtype=numpy.int16).reshape(8, 6, 3)
    affine = numpy.diag([2.0, 2.0, 4.0, 1.0])
    nibabel.save(nibabel.Nifti1Image(voxels, affine), os.path.join(inputs, "volume.nii.gz"))
    scipy.io.savemat(os.path.join(inputs, "volume.mat"),
                     {"A": numpy.arange(8 * 6 * 3, dtype=numpy.float64).reshape(8, 6, 3)})
    # MetaIO by hand (the format is a text header; no independent writer on Debian 12).
    with open(os.path.join(inputs, "volume.mhd"), "w") as f:
        f.write("ObjectType = Image\nNDims = 3\nDimSize = 8 6 3\nElementSpacing = 2 2 4\n"
                "ElementType = MET_SHORT\nElementByteOrderMSB = False\n"
                "ElementDataFile = volume.raw\n")
    voxels.transpose(2, 1, 0).astype("<i2").tofile(os.path.join(inputs, "volume.raw"))
    # Pictures (docs/formats.md), by PIL when it is there, and PostScript for gs.
    try:
        from PIL import Image
        pages = [Image.fromarray(voxels[:, :, k].astype(numpy.uint8)) for k in range(3)]
        pages[0].save(os.path.join(inputs, "pages.tif"), save_all=True,
                      append_images=pages[1:], compression="tiff_lzw")
        Image.fromarray((voxels[:, :, 0] * 300).astype(numpy.uint16)).save(
            os.path.join(inputs, "picture.png"))
        Image.fromarray(voxels[:, :, 0].astype(numpy.uint8)).save(
            os.path.join(inputs, "picture.jpg"))
    except ImportError:
        pass
    with open(os.path.join(inputs, "pages.ps"), "w") as f:
        f.write("%!PS\n<< /PageSize [16 8] >> setpagedevice\n0.5 setgray 0 0 8 8 rectfill "
                "showpage\n1 0 0 setrgbcolor 0 0 8 8 rectfill showpage\n")
    return inputs


def scenarios(inputs):
    """name -> (image_data arguments with {out} for the output path, output name)."""
    i = inputs
    chosen = collections.OrderedDict([
        # The DICOM folder's read path is the same in the first two and in
        # dicom_to_metaio; the other writers read the (cheaper) NIfTI file.
        ("dicom_to_niigz", (["--of", "nifti", "{out}", i + "/dicom"], "result.nii.gz")),
        ("dicom_to_nii", (["--of", "nifti", "{out}", i + "/dicom"], "result.nii")),
        ("nifti_to_pair", (["--of", "nifti", "{out}", i + "/volume.nii.gz"], "result.hdr")),
        ("nifti_to_dicom", (["--of", "dicom", "{out}", i + "/volume.nii.gz"], "result")),
        ("nifti_to_dicom_rle", (["--of", "dicom", "--ts", "rle", "{out}",
                                 i + "/volume.nii.gz"], "result")),
        ("dicom_rle_to_nii", (["--of", "nifti", "{out}", i + "/dicom_rle"], "result.nii")),
        ("dicom_to_metaio", (["--of", "itk", "{out}", i + "/dicom"], "result")),
        ("metaio_to_nii", (["--of", "nifti", "{out}", i + "/volume.mhd"], "result.nii")),
        ("nifti_to_mat", (["--of", "mat", "{out}", i + "/volume.nii.gz"], "result.mat")),
        ("mat_to_nii", (["--of", "nifti", "{out}", i + "/volume.mat"], "result.nii")),
        ("zip_to_nii", (["--of", "nifti", "{out}", i + "/dicom.zip"], "result.nii")),
        ("nifti_to_zip", (["--of", "nifti", "{out}", i + "/volume.nii.gz"], "result.zip")),
    ])
    # Pictures and PostScript (docs/formats.md) when their tools made the inputs.
    if os.path.exists(i + "/pages.tif"):
        chosen.update([
            ("nifti_to_png", (["--of", "png", "{out}", i + "/volume.nii.gz"], "result")),
            ("nifti_to_jpeg", (["--of", "jpeg", "{out}", i + "/volume.nii.gz"], "result")),
            ("tiff_to_tiff", (["--of", "tiff", "{out}", i + "/pages.tif"], "result")),
            ("png_to_nii", (["--of", "nifti", "{out}", i + "/picture.png"], "result.nii")),
            ("jpeg_to_nii", (["--of", "nifti", "{out}", i + "/picture.jpg"], "result.nii")),
        ])
    if shutil.which("gs") is not None:
        chosen["ps_to_nii"] = (["--of", "nifti", "--psopt", "dpi=72", "{out}",
                                i + "/pages.ps"], "result.nii")
    return chosen


# ---- comparing outputs --------------------------------------------------------

def dicom_digest(data):
    import pydicom
    ds = pydicom.dcmread(io.BytesIO(data))
    # UIDs, dates and times are made anew by every run (PS3.5 9.1, 6.2: UI, DA,
    # TM, DT), and a group length (gggg,0000) counts the UIDs' varying lengths.
    skip = {"UI", "DA", "TM", "DT"}
    elements = list(ds.file_meta) + list(ds.iterall())
    return [(str(e.tag), e.VR, repr(e.value)) for e in elements
            if e.VR not in skip and e.tag.element != 0]


def digest(name, data):
    """What must be equal between two runs' output file `name`."""
    if name.endswith(".dcm") or data[128:132] == b"DICM":
        return ("dicom", dicom_digest(data))
    if name.endswith(".mat"):
        return ("mat", data[116:])  # the 116-byte text header holds the creation date
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return ("zip", [(m, digest(m, z.read(m))) for m in sorted(z.namelist())])
    if name.endswith(".gz"):
        return ("gz", gzip.decompress(data))
    return ("bytes", data)


def tree(folder):
    """Relative path -> bytes (None for folders) of everything under folder."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            found[os.path.relpath(os.path.join(root, d), folder)] = None
        for f in files:
            path = os.path.join(root, f)
            with open(path, "rb") as fh:
                found[os.path.relpath(path, folder)] = fh.read()
    return found


def tree_digest(found):
    return {k: (None if v is None else digest(k, v)) for k, v in found.items()}


# ---- one run -------------------------------------------------------------------

class Runner:
    def __init__(self, build, work):
        self.program = os.path.join(build, "cli", "image_data")
        self.work = work

    def run(self, slot, args, output, env_extra):
        """Run image_data in slot's fresh output folder; (exit, stderr, out folder, tmpdir)."""
        base = os.path.join(self.work, "slot%d" % slot)
        shutil.rmtree(base, ignore_errors=True)
        out, tmp = os.path.join(base, "out"), os.path.join(base, "tmp")
        os.makedirs(out)
        os.makedirs(tmp)
        with open(os.path.join(out, SENTINEL), "w") as f:
            f.write("not touched\n")
        env = dict(os.environ)
        for key in ("IMD_FAIL_ALLOC", "IMD_FAIL_WRITE", "IMD_COUNT_ALLOC"):
            env.pop(key, None)
        env.update(env_extra)
        env["TMPDIR"] = tmp
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1"
        command = [self.program] + [a.replace("{out}", os.path.join(out, output)) for a in args]
        try:
            done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=120)
            code, stderr = done.returncode, done.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            code = "timeout"
            stderr = (e.stderr or b"").decode("utf-8", "replace")
        return code, stderr, out, tmp


def temporaries(folder):
    bad = []
    for root, dirs, files in os.walk(folder):
        bad += [os.path.join(root, n) for n in dirs + files if ".tmp-" in n]
    return bad


# The reason an injected fault must give (the last "image_data: " line).
REASONS = {
    "alloc": re.compile(r"out of memory|Cannot allocate memory"),
    "write": re.compile(r"cannot write|No space left on device|Input/output error|write failed"),
}


def check(runner, inputs_before, reference, kind, code, stderr, out, tmp):
    """The reason a run fails its checks, or None."""
    if SANITIZER.search(stderr):
        lines = [l for l in stderr.splitlines() if SANITIZER.search(l)]
        return "sanitizer: " + lines[0].strip()
    if code == "timeout":
        return "no exit after 120 s (a hang)"
    if code < 0:
        return "killed by signal %d" % -code
    # Only this run's folders: other runs in flight have their temporaries.
    left = temporaries(os.path.dirname(out)) + temporaries(os.path.join(runner.work, "in"))
    if left:
        return "temporary file left behind: %s" % left[0]
    if os.listdir(tmp):
        return "TMPDIR not empty: %s" % sorted(os.listdir(tmp))[:3]
    inputs_now = tree(os.path.join(runner.work, "in"))
    if inputs_now != inputs_before:
        return "the inputs changed"
    found = tree(out)
    if code != 0:
        if sorted(found) != [SENTINEL]:
            return "exit %d but output left behind: %s" % (
                code, sorted(k for k in found if k != SENTINEL)[:4])
        lines = [l for l in stderr.splitlines() if l.startswith("image_data: ")]
        if not lines:
            return "exit %d without an \"image_data: \" line on stderr" % code
        # The reason, after the names: "x.dcm: out of memory (512 bytes)";
        # anything else (say "not recognised") would blame the input.
        if not REASONS[kind].search(lines[-1]):
            return "exit %d without the reason (%s): %r" % (code, REASONS[kind].pattern,
                                                           lines[-1])
        return None
    got = tree_digest(found)
    if got != reference:
        return "exit 0 but the output differs from the clean run's: " + difference(reference, got)
    return None


def difference(want, got):
    """The first difference between two tree digests, in words."""
    if sorted(want) != sorted(got):
        return "files %s, expected %s" % (sorted(got), sorted(want))
    for name in sorted(want):
        a, b = want[name], got[name]
        if a == b:
            continue
        if a[0] == "dicom" and b[0] == "dicom":
            extra = [x for x in b[1] if x not in a[1]][:2]
            missing = [x for x in a[1] if x not in b[1]][:2]
            return "%s: %s instead of %s" % (name, extra, missing)
        return "%s differs" % name
    return "?"


def message_class(code, stderr):
    lines = [l for l in stderr.splitlines() if l.startswith("image_data: ")]
    text = lines[-1] if lines else stderr.strip().splitlines()[-1] if stderr.strip() else ""
    text = re.sub(r"/\S*/", "", text)       # paths
    text = re.sub(r"\d+", "N", text)        # numbers
    return "exit %s: %s" % (code, text[:110])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build")
    parser.add_argument("work")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", default="")
    parser.add_argument("--kind", choices=["alloc", "write", "both"], default="both")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--max-n", type=int, default=0, help="stop each sweep at this N")
    parser.add_argument("--verbose", action="store_true", help="list each kind of ending")
    a = parser.parse_args()
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    runner = Runner(os.path.abspath(a.build), work)
    inputs = make_inputs(work)
    inputs_before = tree(inputs)
    chosen = scenarios(inputs)
    if a.only:
        chosen = collections.OrderedDict((k, v) for k, v in chosen.items()
                                         if k in a.only.split(","))
    kinds = ["alloc", "write"] if a.kind == "both" else [a.kind]
    failures, total_runs, start = 0, 0, time.monotonic()
    for name, (args, output) in chosen.items():
        count_file = os.path.join(work, "count")
        code, stderr, out, tmp = runner.run(0, args, output, {"IMD_COUNT_ALLOC": count_file})
        if code != 0 or SANITIZER.search(stderr):
            print("FAIL: %s: the clean run ended with exit %s:\n%s" % (name, code, stderr))
            failures += 1
            continue
        reference_tree = tree(out)
        reference = tree_digest(reference_tree)
        counts = dict(zip(("alloc", "write"), map(int, open(count_file).read().split())))
        for kind in kinds:
            variable = "IMD_FAIL_ALLOC" if kind == "alloc" else "IMD_FAIL_WRITE"
            last = counts[kind] + 1  # one past the count: must succeed as the clean run
            if a.max_n:
                last = min(last, a.max_n)
            numbers = list(range(1, last + 1, a.stride))
            if numbers[-1] != last and not a.max_n:
                numbers.append(last)
            endings = collections.Counter()
            bad = []

            # Each worker takes a free slot folder, so no two runs share an output.
            free = list(range(a.jobs))
            lock = threading.Condition()

            def one(n):
                with lock:
                    while not free:
                        lock.wait()
                    slot = free.pop()
                try:
                    code, stderr, out, tmp = runner.run(slot + 1, args, output, {variable: str(n)})
                    why = check(runner, inputs_before, reference, kind, code, stderr, out, tmp)
                    return n, code, stderr, why
                finally:
                    with lock:
                        free.append(slot)
                        lock.notify()

            with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
                tolerated = []
                for n, code, stderr, why in pool.map(one, numbers):
                    endings[message_class(code, stderr)] += 1
                    if code == 0 and n != last:
                        tolerated.append(n)
                    if why is not None:
                        bad.append((n, why, stderr))
            total_runs += len(numbers)
            status = "ok" if not bad else "FAIL"
            print("%s: %s %s: %d runs (N = 1..%d%s), %d failed" % (
                status, name, kind, len(numbers), last,
                ", stride %d" % a.stride if a.stride > 1 else "", len(bad)))
            if a.verbose or bad:
                for ending, times in endings.most_common():
                    print("    %5d x %s" % (times, ending))
            if a.verbose and tolerated:
                # Failures the code tolerates with an unchanged output (a log
                # line, a name kept for a message): worth a look, not an error.
                print("    tolerated (exit 0, same output): %s=%s" % (
                    variable, ",".join(map(str, tolerated))))
            for n, why, stderr in bad[:10]:
                print("    %s=%d: %s" % (variable, n, why))
                for line in stderr.strip().splitlines()[:6]:
                    print("        " + line)
            if len(bad) > 10:
                print("    ... and %d more" % (len(bad) - 10))
            failures += len(bad)
    print("%d runs in %.0f s, %d failed" % (total_runs, time.monotonic() - start, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
