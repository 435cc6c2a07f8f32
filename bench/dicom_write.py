#!/usr/bin/python3
"""Writing DICOM series: imagedata against a pydicom script doing the same
work, on the same files, in one run.

Two writes per workload (docs/dicom-writing.md):
  DICOM -> DICOM   ours: image_data OUT IN (read the series, write every file
                   with a new SeriesInstanceUID and new SOPInstanceUIDs, the
                   template attributes kept).
                   pydicom: dcmread every file of IN, one new SeriesInstanceUID,
                   a new SOPInstanceUID (generate_uid) and
                   MediaStorageSOPInstanceUID per file, PixelData kept,
                   save_as(write_like_original=False), Explicit VR LE.
  NIfTI -> DICOM   the seed workflow's second step; IN.nii made once (not
                   timed) by image_data --of nifti IN.nii IN.
                   ours: image_data --of dicom --template IN OUT IN.nii
                   pydicom: nibabel.load(IN.nii), dcmread every file of IN as
                   the template (stop_before_pixels), then per file the new
                   UIDs as above and PixelData = one image of the array as
                   uint16 bytes, save_as as above. The image-to-file mapping is
                   by index (not geometric), the amount of work is the same:
                   one file per image.

Each tool runs as its own process into a fresh, empty folder: median wall time
of --runs runs, peak resident memory from /usr/bin/time %M (largest run),
files per second, the ratio pydicom / ours. Checks: the two outputs and the
input have the same number of files; a few of our files (--samples) read back
with pydicom (new series UID, unique instance UIDs, pixel_array equal to the
input file at the same position and tag value).

Workloads: the original project's dwi series (90 files, when ../shared is
present; said loudly when not) and generated 4D series (T x S files of R x R
uint16, bench/dicom_read.py's generate(); by default 5 x 18 = 90 files and
30 x 60 = 1800 files of 192 x 192).

usage: bench/dicom_write.py BUILD_DIR [--runs 3] [--samples 8]
                            [--series 5x18,30x60] [--size 192] [--scratch DIR]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dicom_read import generate           # noqa: E402  (pydicom + numpy)
from nifti_convert import timed_run       # noqa: E402
import numpy                              # noqa: E402
import pydicom                            # noqa: E402
import nibabel                            # noqa: E402

PY_DICOM_TO_DICOM = r'''
import os, sys, pydicom
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
root, out = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names)
images = [pydicom.dcmread(f) for f in files]
os.makedirs(out, exist_ok=True)
series = generate_uid()
for i, ds in enumerate(images):
    uid = generate_uid()
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(os.path.join(out, "Image_%05d.dcm" % i), write_like_original=False)
print(len(images))
'''

PY_NIFTI_TO_DICOM = r'''
import os, sys, numpy, nibabel, pydicom
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
template, nifti, out = sys.argv[1], sys.argv[2], sys.argv[3]
data = numpy.asanyarray(nibabel.load(nifti).dataobj)
images = data.reshape(data.shape[0], data.shape[1], -1, order="F")  # i, j, one index per image
files = sorted(os.path.join(d, f) for d, _, names in os.walk(template) for f in names)
headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
if len(headers) != images.shape[2]:
    sys.exit("%d template files for %d images" % (len(headers), images.shape[2]))
os.makedirs(out, exist_ok=True)
series = generate_uid()
for k, ds in enumerate(headers):
    uid = generate_uid()
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.is_little_endian, ds.is_implicit_VR = True, False
    pixels = images[:, ::-1, k].T          # NIfTI column, flipped row -> DICOM row, column
    ds.add_new(0x7FE00010, "OW", numpy.ascontiguousarray(pixels, dtype=numpy.uint16).tobytes())
    ds.save_as(os.path.join(out, "Image_%05d.dcm" % k), write_like_original=False)
print(len(headers))
'''


def dicom_files(folder):
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs)


def make_nifti(build, folder, path):
    """IN.nii for the NIfTI -> DICOM write (not timed)."""
    subprocess.run([os.path.join(build, "cli", "image_data"), "--of", "nifti", path, folder],
                   check=True, stdout=subprocess.DEVNULL)
    return path


def tools(build, folder, nifti):
    """label -> command writing into the fresh folder it is given."""
    image_data = os.path.join(build, "cli", "image_data")
    return {
        "ours dcm->dcm": lambda d: [image_data, os.path.join(d, "out"), folder],
        "py dcm->dcm": lambda d: ["/usr/bin/python3", "-W", "ignore", "-c", PY_DICOM_TO_DICOM,
                                  folder, os.path.join(d, "out")],
        "ours nii->dcm": lambda d: [image_data, "--of", "dicom", "--template", folder,
                                    os.path.join(d, "out"), nifti],
        "py nii->dcm": lambda d: ["/usr/bin/python3", "-W", "ignore", "-c", PY_NIFTI_TO_DICOM,
                                  folder, nifti, os.path.join(d, "out")],
    }


def measure(label, command_for, runs, scratch):
    """Median time, peak memory, and the folder of the last run (the others removed)."""
    times, peaks, workdir = [], [], None
    for i in range(runs):
        if workdir:
            shutil.rmtree(workdir)
        workdir = os.path.join(scratch, "%s-%d" % (label.replace(" ", "_").replace(">", ""), i))
        elapsed, peak = timed_run(command_for(workdir), workdir)
        times.append(elapsed)
        peaks.append(peak)
    return {"time": statistics.median(times), "best": min(times), "peak": max(peaks),
            "out": os.path.join(workdir, "out")}


def _seconds(tm):
    tm = str(tm)
    return round(int(tm[0:2]) * 3600 + int(tm[2:4]) * 60 + float(tm[4:] or 0), 3)


def _key(ds):
    """(position, tag value): the b value when the file has one, else the acquisition time."""
    position = numpy.array([float(x) for x in ds.ImagePositionPatient])
    if (0x0019, 0x100c) in ds:
        tag = float(ds[0x0019, 0x100c].value)
    elif "DiffusionBValue" in ds:
        tag = float(ds.DiffusionBValue)
    else:
        tag = _seconds(ds.get("AcquisitionTime", "000000"))
    return position, tag


def check(folder, ours_dir, py_dir, samples):
    """Same number of files, and a few of ours read back by pydicom equal to the input."""
    inputs = dicom_files(folder)
    ours, theirs = dicom_files(ours_dir), dicom_files(py_dir)
    result = {"files": (len(inputs), len(ours), len(theirs)), "problems": []}
    if not len(inputs) == len(ours) == len(theirs):
        result["problems"].append("file counts: input %d, ours %d, pydicom %d"
                                  % result["files"])
    index = []
    series_in = None
    for f in inputs:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        series_in = ds.SeriesInstanceUID
        index.append((_key(ds), f))
    picks = sorted(set(ours[int(i * (len(ours) - 1) / max(1, samples - 1))]
                       for i in range(samples))) if ours else []
    series, instances = set(), set()
    for f in picks:
        ds = pydicom.dcmread(f)
        series.add(ds.SeriesInstanceUID)
        instances.add(ds.SOPInstanceUID)
        if ds.file_meta.MediaStorageSOPInstanceUID != ds.SOPInstanceUID:
            result["problems"].append("%s: MediaStorageSOPInstanceUID != SOPInstanceUID" % f)
        position, tag = _key(ds)
        match = [g for (p, t), g in index if t == tag and numpy.abs(p - position).max() < 1e-2]
        if len(match) < 1:
            result["problems"].append("%s: no input file at %s, %s" % (f, position, tag))
            continue
        # Several inputs may share position and tag value only if they hold the same pixels.
        if not any(numpy.array_equal(ds.pixel_array, pydicom.dcmread(g).pixel_array)
                   for g in match):
            result["problems"].append("%s: pixels differ from %s" % (f, match[0]))
    if len(series) != 1 or series_in in series:
        result["problems"].append("series UIDs: %s (input %s)" % (series, series_in))
    if len(instances) != len(picks):
        result["problems"].append("SOPInstanceUIDs repeat")
    for f in theirs[:1] + theirs[-1:]:          # pydicom's own files read back
        pydicom.dcmread(f).pixel_array
    result["sampled"] = len(picks)
    return result


def workload(name, folder, build, runs, samples, only=None, scratch_in=None):
    """Both writes, both tools, with the checks. `only`: a subset of tools() labels;
    `scratch_in`: the folder the outputs go under (default: the temporary folder)."""
    files = len(dicom_files(folder))
    scratch = tempfile.mkdtemp(prefix="imd-bench-write-", dir=scratch_in)
    results, checks = {}, {}
    try:
        nifti = make_nifti(build, folder, os.path.join(scratch, "in.nii"))
        for label, command in tools(build, folder, nifti).items():
            if only is None or label in only:
                results[label] = measure(label, command, runs, scratch)
        for write in ("dcm->dcm", "nii->dcm"):
            if "ours " + write in results and "py " + write in results:
                checks[write] = check(folder, results["ours " + write]["out"],
                                      results["py " + write]["out"], samples)
        for m in results.values():
            m["mib"] = sum(os.path.getsize(f) for f in dicom_files(m["out"])) / 2**20
            del m["out"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"name": name, "files": files, "results": results, "checks": checks}


def ok(check):
    if check is None:
        return "?"
    return "yes (%d/%d/%d files, %d read back)" % (check["files"] + (check["sampled"],)) \
        if not check["problems"] else "NO: " + "; ".join(check["problems"][:3])


def table(rows):
    lines = ["| workload | files | write | ours s | pydicom s | pydicom / ours | ours files/s | "
             "pydicom files/s | ours peak MiB | pydicom peak MiB | output MiB | checked |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r = row["results"]
        for write in ("dcm->dcm", "nii->dcm"):
            ours, theirs = r.get("ours " + write), r.get("py " + write)
            if not ours or not theirs:
                continue
            lines.append("| %s | %d | %s | %.3f | %.3f | %.1fx | %.0f | %.0f | %.0f | %.0f "
                         "| %.1f | %s |"
                         % (row["name"], row["files"], write, ours["time"], theirs["time"],
                            theirs["time"] / ours["time"], row["files"] / ours["time"],
                            row["files"] / theirs["time"], ours["peak"], theirs["peak"],
                            ours["mib"], ok(row["checks"].get(write))))
    return "\n".join(lines)


def all_checked(rows):
    return all(not c["problems"] for row in rows for c in row["checks"].values())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=8, help="our files read back per write")
    parser.add_argument("--series", default="5x18,30x60",
                        help="generated series, TIMESxSLICES, comma separated")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--scratch", help="write the outputs under this folder (e.g. /dev/shm "
                        "to leave the file system out) [the temporary folder]")
    args = parser.parse_args()
    rows = []
    dwi = os.path.join(HERE, "..", "..", "shared", "data", "imagedata", "dicom", "dwi")
    if os.path.isdir(dwi):
        rows.append(workload("dwi series (../shared)", dwi, args.build, args.runs, args.samples,
                             scratch_in=args.scratch))
    else:
        print("*** SKIPPED the dwi series: %s is not there ***" % os.path.normpath(dwi),
              file=sys.stderr)
    for spec in args.series.split(","):
        times, slices = (int(n) for n in spec.split("x"))
        folder = tempfile.mkdtemp(prefix="imd-bench-4d-")
        try:
            generate(folder, times, slices, args.size)
            rows.append(workload("4D %dx%d %dx%d" % (times, slices, args.size, args.size),
                                 folder, args.build, args.runs, args.samples,
                                 scratch_in=args.scratch))
        finally:
            shutil.rmtree(folder)
    text = table(rows)
    print(text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "dicom_write.md"), "w") as out:
        out.write("DICOM series write, median wall time of %d runs, %s, %d cores. imagedata: "
                  "`image_data OUT IN` (dcm->dcm) and `image_data --of dicom --template IN OUT "
                  "IN.nii` (nii->dcm); pydicom %s + nibabel %s + numpy %s in one process: dcmread "
                  "every file, new SeriesInstanceUID and SOPInstanceUIDs, PixelData kept or from "
                  "the NIfTI array, save_as Explicit VR LE (one core). Peak memory: /usr/bin/time "
                  "%%M. Outputs written under %s. Checked: input/ours/pydicom file counts, and "
                  "our files read back by pydicom (new UIDs, pixels equal to the input's)."
                  "%s\n\n%s\n"
                  % (args.runs, time.strftime("%Y-%m-%d"), os.cpu_count(), pydicom.__version__,
                     nibabel.__version__, numpy.__version__,
                     args.scratch or tempfile.gettempdir(),
                     "" if os.path.isdir(dwi) else " The dwi series (../shared) was not there: "
                     "SKIPPED.", text))
    if not all_checked(rows):
        sys.exit("a DICOM write check failed")


if __name__ == "__main__":
    main()
