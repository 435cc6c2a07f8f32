#!/usr/bin/python3
"""Reading a DICOM series in Python through the binding (imagedata.series.Series)
against the same read in C (bench/read_series: imd_read) and against the
pydicom + numpy reader of dicom_read.py (read every file, sort, stack), on the
dwi series (../shared) and a generated 4D series (default 30 x 60 files).

Times: median wall time of whole processes (start-up included: Python's
import of numpy and imagedata is part of what a user waits for), and for
the binding the time of the Series() call alone and for pydicom the read
alone (after the imports: list, dcmread, sort, stack), both measured inside
the process. Every reader prints shape and voxel sum; they must agree.

usage: bench/python_read.py BUILD_DIR [--runs 3] [--times 30] [--slices 60] [--size 192]
BUILD_DIR must hold python-venv (scripts/demo_python.sh BUILD makes it; ./run.sh demo does).
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dicom_read import generate, PYDICOM_READER  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

BINDING_READER = r'''
import sys, time
import numpy
from imagedata.series import Series
started = time.perf_counter()
s = Series(sys.argv[1], sys.argv[2])
elapsed = time.perf_counter() - started
print("x".join(str(n) for n in s.shape), float(numpy.asarray(s).sum(dtype=numpy.float64)), elapsed)
'''


def run(command):
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit("%s failed: %s" % (command[0], done.stderr))
    return elapsed, done.stdout.split()


def measure(command, runs):
    results = [run(command) for _ in range(runs)]
    return statistics.median(r[0] for r in results), results[-1][1], \
        [r[1] for r in results]


def compare(name, folder, order, build, runs):
    python = os.path.join(build, "python-venv", "bin", "python")
    c_time, c_out, _ = measure([os.path.join(build, "bench", "read_series"), folder, order], runs)
    p_time, p_out, p_all = measure([python, "-c", BINDING_READER, folder, order], runs)
    call = statistics.median(float(o[2]) for o in p_all)
    d_time, d_out, d_all = measure(["/usr/bin/python3", "-c", PYDICOM_READER, folder, order],
                                   runs)
    d_call = statistics.median(float(o[2]) for o in d_all)
    same = c_out[0] == p_out[0] == d_out[0] and \
        float(c_out[1]) == float(p_out[1]) == float(d_out[1])
    return name, c_out[0], c_time, p_time, call, d_time, d_call, same


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--slices", type=int, default=60)
    parser.add_argument("--size", type=int, default=192)
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    if not os.path.exists(os.path.join(build, "python-venv", "bin", "python")):
        sys.exit("no %s/python-venv: run scripts/demo_python.sh %s first" % (build, build))
    rows = []
    dwi = os.path.join(HERE, "..", "..", "shared", "data", "imagedata", "dicom", "dwi")
    if os.path.isdir(dwi):
        rows.append(compare("dwi (90 files)", dwi, "b", build, args.runs))
    folder = tempfile.mkdtemp(prefix="imd-bench-py-")
    try:
        generate(folder, args.times, args.slices, args.size)
        rows.append(compare("generated 4D (%d files)" % (args.times * args.slices), folder,
                            "time", build, args.runs))
    finally:
        shutil.rmtree(folder)
    print("| workload | shape | C process s | Python process s | Series() call s | "
          "pydicom+numpy process s | pydicom+numpy read s | Python/C (process) | Series()/C | "
          "pydicom/Python (process) | pydicom read / Series() call | same voxels |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, shape, c, p, call, d, d_call, same in rows:
        print("| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f | %.1f | %.1f | %s |" % (
            name, shape, c, p, call, d, d_call, p / c, call / c, d / p, d_call / call,
            "yes" if same else "NO"))


if __name__ == "__main__":
    main()
