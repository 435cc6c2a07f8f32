#!/usr/bin/python3
"""The whole benchmark (bench/README.md): every workload, every tool, one run.

Workloads, generated deterministically: 4D MR series of T x 60 single-frame
192x192 uint16 files written with pydicom (T = 5, 30, 60: 300, 1800 and 3600
files, to show how the cost grows with the number of files), plus the
original project's dwi series (90 files) when ../shared is present.

Per workload, median wall time of --runs runs and peak resident memory
(/usr/bin/time %M) of:
  cat          the read floor: cat every input file to /dev/null
  ours .nii    image_data --of nifti out.nii
  ours .nii.gz image_data --of nifti out.nii.gz
  dcm2niix     -z n and -z y
  py convert   a pydicom + numpy + nibabel script doing the same conversion
  ours scan    image_info --headers_only
  py scan      pydicom dcmread(stop_before_pixels=True) of every file
  ours dcm->dcm  image_data OUT IN (DICOM written back, new UIDs)
  py dcm->dcm    pydicom: dcmread, new UIDs, save_as every file
  ours nii->dcm  image_data --of dicom --template IN OUT IN.nii
  py nii->dcm    pydicom + nibabel: the same with the NIfTI's pixels
                 (the four DICOM writes: bench/dicom_write.py, which also
                 checks the file counts and reads some of our files back)
Then the folder workloads of bench/folders.py (each dcm_qa_dev/<repo>/In and a
generated folder of 200 series x 250 files): image_data against dcm2niix
-z n/-z y and the header scan against pydicom (--no-folders leaves them out;
--quick makes the generated folder 20 x 50 and skips dcm_qa_dev).
Writes bench/results/performance.md and prints it.

Then the compressed workloads of bench/decode.py (dcm_qa_frag and a generated
series in four syntaxes, against dcm2niix, dcmtk and gdcm; --no-decode leaves
them out; --quick: a 2 x 10 series of 64 x 64 only).

usage: bench/run_all.py BUILD_DIR [--runs 3] [--quick] [--no-folders] [--no-decode]
"""
import argparse, os, shutil, statistics, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dicom_read import generate                # noqa: E402
from nifti_convert import timed_run, same_voxels  # noqa: E402
import dicom_write                             # noqa: E402
import folders                                 # noqa: E402
import decode                                  # noqa: E402
import nibabel, numpy, pydicom                 # noqa: E402,F401

PY_CONVERT = r'''
import os, sys, numpy, pydicom, nibabel
root, out = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names)
images = [pydicom.dcmread(f) for f in files]
iop = numpy.array(images[0].ImageOrientationPatient, dtype=float)
normal = numpy.cross(iop[:3], iop[3:])
def tag(ds):
    if "DiffusionBValue" in ds:
        return float(ds.DiffusionBValue)
    if (0x0019, 0x100c) in ds:
        return float(ds[0x0019, 0x100c].value)
    t = str(ds.AcquisitionTime)
    return int(t[0:2]) * 3600 + int(t[2:4]) * 60 + float(t[4:])
keys = [(round(float(numpy.dot(normal, ds.ImagePositionPatient)), 3), tag(ds), i)
        for i, ds in enumerate(images)]
slices = sorted(set(k[0] for k in keys)); tags = sorted(set(k[1] for k in keys))
data = numpy.zeros((images[0].Columns, images[0].Rows, len(slices), len(tags)), dtype=numpy.int16)
for distance, value, i in keys:   # NIfTI order: i = column, j = row (flipped), k, t
    data[:, ::-1, slices.index(distance), tags.index(value)] = images[i].pixel_array.T
p = images[0].PixelSpacing
affine = numpy.diag([-float(p[1]), -float(p[0]), 1.0, 1.0])
nibabel.save(nibabel.Nifti1Image(data, affine), out)
'''

PY_SCAN = r'''
import os, sys, pydicom
root = sys.argv[1]
files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names)
for f in files:
    ds = pydicom.dcmread(f, stop_before_pixels=True)
    for k in ("SeriesInstanceUID", "ImagePositionPatient", "ImageOrientationPatient",
              "AcquisitionTime", "Rows", "Columns"):
        getattr(ds, k, None)
print(len(files))
'''


def run_median(label, command_for, runs, scratch):
    times, peaks, workdir = [], [], None
    for i in range(runs):
        workdir = os.path.join(scratch, "%s-%d" % (label, i))
        elapsed, peak = timed_run(command_for(workdir), workdir)
        times.append(elapsed)
        peaks.append(peak)
    return statistics.median(times), max(peaks), workdir


def size_of(folder, suffix):
    found = [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs if f.endswith(suffix)]
    return (os.path.getsize(found[0]), found[0]) if len(found) == 1 else (0, None)


def workload(name, folder, build, runs):
    files = [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs]
    image_data = os.path.join(build, "cli", "image_data")
    image_info = os.path.join(build, "cli", "image_info")
    dcm2niix = shutil.which("dcm2niix")
    scratch = tempfile.mkdtemp(prefix="imd-bench-all-")
    tools = {
        "cat": lambda d: ["sh", "-c", 'find "$0" -type f -exec cat {} + > /dev/null', folder],
        "ours .nii": lambda d: [image_data, "--of", "nifti", os.path.join(d, "out.nii"), folder],
        "ours .nii.gz": lambda d: [image_data, "--of", "nifti", os.path.join(d, "out.nii.gz"),
                                   folder],
        "dcm2niix -z n": lambda d: [dcm2niix, "-z", "n", "-b", "n", "-f", "out", "-o", d, folder],
        "dcm2niix -z y": lambda d: [dcm2niix, "-z", "y", "-b", "n", "-f", "out", "-o", d, folder],
        "py convert": lambda d: ["/usr/bin/python3", "-c", PY_CONVERT, folder,
                                 os.path.join(d, "out.nii")],
        "ours scan": lambda d: [image_info, "--headers_only", folder],
        "py scan": lambda d: ["/usr/bin/python3", "-W", "ignore", "-c", PY_SCAN, folder],
    }
    results = {}
    try:
        for label, command in tools.items():
            if label.startswith("dcm2niix") and dcm2niix is None:
                continue
            elapsed, peak, workdir = run_median(label.replace(" ", "_"), command, runs, scratch)
            suffix = ".nii.gz" if label.endswith("gz") or label.endswith("-z y") else ".nii"
            size, path = size_of(workdir, suffix) if "scan" not in label and label != "cat" else (0, None)
            results[label] = {"time": elapsed, "peak": peak, "size": size, "path": path}
        same = same_voxels(results["ours .nii.gz"]["path"], results["dcm2niix -z y"]["path"]) \
            if "dcm2niix -z y" in results else None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write = dicom_write.workload(name, folder, build, runs, samples=8)
    for label, m in write["results"].items():
        results[label] = {"time": m["time"], "peak": m["peak"], "size": m["mib"] * 2**20,
                          "path": None}
    input_mib = sum(os.path.getsize(f) for f in files) / 2**20
    return {"name": name, "files": len(files), "input_mib": input_mib, "results": results,
            "same": same, "write_checks": write["checks"]}


def format_rows(rows):
    lines = ["| workload | files | input MiB | tool | wall s | peak MiB | output MiB | vs dcm2niix |",
             "|---|---|---|---|---|---|---|---|"]
    ratios = ["", "| workload | .nii / dcm2niix -z n | .nii.gz / -z y | .nii.gz size / -z y | "
                  "scan: pydicom / ours | ours .nii / cat floor | peak .nii.gz MiB | same voxels |",
              "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r = row["results"]
        for tool, m in r.items():
            ref = r.get("dcm2niix -z y" if tool.endswith("gz") else "dcm2niix -z n")
            versus = "%.2fx" % (m["time"] / ref["time"]) if ref and tool.startswith("ours .") else ""
            lines.append("| %s | %d | %.0f | %s | %.3f | %.0f | %s | %s |"
                         % (row["name"], row["files"], row["input_mib"], tool, m["time"], m["peak"],
                            "%.1f" % (m["size"] / 2**20) if m["size"] else "", versus))
        if "dcm2niix -z n" in r:
            ratios.append("| %s | %.2fx | %.2fx | %.3fx | %.1fx | %.1fx | %.0f | %s |" % (
                row["name"], r["ours .nii"]["time"] / r["dcm2niix -z n"]["time"],
                r["ours .nii.gz"]["time"] / r["dcm2niix -z y"]["time"],
                r["ours .nii.gz"]["size"] / r["dcm2niix -z y"]["size"],
                r["py scan"]["time"] / r["ours scan"]["time"],
                r["ours .nii"]["time"] / r["cat"]["time"], r["ours .nii.gz"]["peak"],
                {True: "yes", False: "NO", None: "?"}[row["same"]]))
    writes = ["", "| workload | files | dcm->dcm ours s | pydicom s | pydicom / ours "
                  "| ours files/s | nii->dcm ours s | pydicom s | pydicom / ours | ours files/s "
                  "| checked |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r, cells = row["results"], []
        for write in ("dcm->dcm", "nii->dcm"):
            ours, theirs = r["ours " + write], r["py " + write]
            cells.append("%.3f | %.3f | %.1fx | %.0f" % (ours["time"], theirs["time"],
                                                         theirs["time"] / ours["time"],
                                                         row["files"] / ours["time"]))
        checks = row["write_checks"].values()
        writes.append("| %s | %d | %s | %s |" % (
            row["name"], row["files"], " | ".join(cells),
            "yes" if checks and all(not c["problems"] for c in checks)
            else "NO: " + "; ".join(p for c in checks for p in c["problems"][:2])))
    return "\n".join(lines + ratios + writes)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one small workload, one run")
    parser.add_argument("--no-folders", action="store_true",
                        help="leave out the folder workloads (bench/folders.py)")
    parser.add_argument("--no-decode", action="store_true",
                        help="leave out the compressed workloads (bench/decode.py)")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    sizes = [5] if args.quick else [5, 30, 60]
    started = time.time()
    rows = []
    dwi = os.path.join(HERE, "..", "..", "shared", "data", "imagedata", "dicom", "dwi")
    if os.path.isdir(dwi):
        rows.append(workload("dwi (../shared)", dwi, args.build, runs))
    for times in sizes:
        folder = tempfile.mkdtemp(prefix="imd-bench-series-")
        try:
            generate(folder, times, 60, 192)
            rows.append(workload("4D %dx60 192x192" % times, folder, args.build, runs))
        finally:
            shutil.rmtree(folder)
    folder_text = ""
    if not args.no_folders:
        folder_text = "\n## Folders (bench/folders.py)\n\n" + (
            folders.run(args.build, runs, series=20, files=50, dcm_qa=False) if args.quick
            else folders.run(args.build, runs))
    if not args.no_decode:
        folder_text += "\n## Compressed DICOM (bench/decode.py)\n\n" + (
            decode.run(args.build, runs, times=2, slices=10, size=64, frag=False) if args.quick
            else decode.run(args.build, runs))
    text = ("Benchmark of %s, %s, %d cores, median of %d runs, peak RSS by /usr/bin/time. "
            "Took %.0f s.\n\n%s\n%s" % (os.path.abspath(args.build), time.strftime("%Y-%m-%d %H:%M"),
                                        os.cpu_count(), runs, time.time() - started,
                                        format_rows(rows), folder_text))
    print(text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "performance.md"), "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
