#!/usr/bin/python3
"""Header-parsing throughput: imagedata's parser against pydicom's
dcmread(stop_before_pixels=True), on the same files, in one run.

Workloads: pydicom's own test files (mixed encodings), the original
project's dwi series when ../shared is present, and a generated series of N
files (copies of one MR file with new UIDs, written once into a temp dir).
Reports the median wall time of several runs, files per second and the
ratio, prints a table and writes it to bench/results/header_scan.md.

usage: bench/header_scan.py BUILD_DIR [--runs 5] [--files 2000]
"""
import argparse, glob, os, shutil, statistics, subprocess, sys, tempfile, time

import pydicom

HERE = os.path.dirname(os.path.abspath(__file__))
PYDICOM_DATA = os.path.join(os.path.dirname(pydicom.__file__), "data")


def pydicom_files():
    files = sorted(glob.glob(os.path.join(PYDICOM_DATA, "test_files", "*.dcm")))
    files += sorted(glob.glob(os.path.join(PYDICOM_DATA, "charset_files", "*.dcm")))
    readable = []
    for f in files:  # only what both can read: pydicom refuses some on purpose
        try:
            pydicom.dcmread(f, stop_before_pixels=True)
            readable.append(f)
        except Exception:
            pass
    return readable


def generated_series(folder, count):
    source = os.path.join(PYDICOM_DATA, "test_files", "MR_small.dcm")
    ds = pydicom.dcmread(source)
    paths = []
    for i in range(count):
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.InstanceNumber = i + 1
        path = os.path.join(folder, "IM%05d.dcm" % i)
        ds.save_as(path)
        paths.append(path)
    return paths


def time_ours(tool, files):
    """The scan's own time, as the tool measures it (paths read first), like
    time_pydicom's loop inside this process: neither process's start-up."""
    done = subprocess.run([tool], input="\n".join(files) + "\n", capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.startswith("%d parsed" % len(files)):
        sys.exit("header_scan failed: %s %s" % (done.stdout, done.stderr))
    return float(done.stdout.split(",")[-1].split()[0])


def time_pydicom(files):
    started = time.perf_counter()
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        for keyword in ("SeriesInstanceUID", "ImagePositionPatient", "ImageOrientationPatient",
                        "AcquisitionTime", "Rows", "Columns"):
            getattr(ds, keyword, None)
    return time.perf_counter() - started


def measure(name, files, tool, runs):
    for f in files[:50]:  # warm the page cache for both alike
        with open(f, "rb") as handle:
            handle.read()
    ours = statistics.median(time_ours(tool, files) for _ in range(runs))
    theirs = statistics.median(time_pydicom(files) for _ in range(runs))
    return (name, len(files), ours, theirs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    tool = os.path.join(args.build, "bench", "header_scan")
    rows = [measure("pydicom test files (mixed)", pydicom_files(), tool, args.runs)]
    dwi = os.path.join(HERE, "..", "..", "shared", "data", "imagedata", "dicom", "dwi")
    if os.path.isdir(dwi):
        files = sorted(glob.glob(os.path.join(dwi, "**", "*"), recursive=True))
        rows.append(measure("dwi series (../shared)", [f for f in files if os.path.isfile(f)],
                            tool, args.runs))
    folder = tempfile.mkdtemp(prefix="imd-bench-")
    try:
        rows.append(measure("generated MR series", generated_series(folder, args.files), tool,
                            args.runs))
    finally:
        shutil.rmtree(folder)
    lines = ["| workload | files | imagedata s | pydicom s | imagedata files/s | "
             "pydicom files/s | speed-up |", "|---|---|---|---|---|---|---|"]
    for name, n, ours, theirs in rows:
        lines.append("| %s | %d | %.3f | %.3f | %.0f | %.0f | %.1fx |"
                     % (name, n, ours, theirs, n / ours, n / theirs, theirs / ours))
    table = "\n".join(lines)
    print(table)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "header_scan.md"), "w") as out:
        out.write("Header scan, median of %d runs, %s, %d cores. imagedata: one thread, "
                  "files mapped (bench/header_scan); pydicom %s: dcmread(stop_before_pixels="
                  "True). Both timed inside their process, over the loop alone (no start-up, "
                  "no import), and read the same six attributes per file.\n\n%s\n"
                  % (args.runs, time.strftime("%Y-%m-%d"), os.cpu_count(),
                     pydicom.__version__, table))


if __name__ == "__main__":
    main()
