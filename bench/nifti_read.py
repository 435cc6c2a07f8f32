#!/usr/bin/python3
"""NIfTI read: peak memory against the array (issue 23: at most the array plus
64 MiB for .nii and .nii.gz) and time, ours (bench/read_series: imd_read of
the file, voxel sum printed) against nibabel (get_fdata, the same sum), on
the same generated files in one run. The sums must agree.

Files (generated with nibabel, seed 1): 128x128x64x40 int16 (80 MiB) as .nii
and .nii.gz, and the same .nii.gz with scl_slope 0.5 / scl_inter 10 (read as
float64: a 320 MiB array).

usage: bench/nifti_read.py BUILD_DIR [--runs 3]
Writes bench/results/nifti_read.md and prints it.
"""
import argparse, os, statistics, subprocess, sys, tempfile
import numpy as np
import nibabel as nib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from folders import timed  # noqa: E402

NIBABEL = r'''
import sys, numpy, nibabel
image = nibabel.load(sys.argv[1])
data = numpy.asarray(image.dataobj) if image.dataobj.slope == 1 and image.dataobj.inter == 0 \
    else image.get_fdata()
print(float(data.astype(numpy.float64).sum()))
'''


def make(folder):
    a = np.random.default_rng(1).integers(0, 4000, size=(128, 128, 64, 40)).astype(np.int16)
    image = nib.Nifti1Image(a, np.diag([2, 2, 3, 1]))
    files = {}
    for name in ("v.nii", "v.nii.gz"):
        files[name] = os.path.join(folder, name)
        nib.save(image, files[name])
    image.header.set_slope_inter(0.5, 10)
    files["scaled.nii.gz"] = os.path.join(folder, "scaled.nii.gz")
    nib.save(image, files["scaled.nii.gz"])
    return files, a.nbytes / 2**20


def median_run(command, runs, work):
    results = [timed(command, work, with_stdout=True) for _ in range(runs)]
    bad = [r for r in results if r[2] != 0]
    if bad:
        raise SystemExit(f"{command(work)}: exit {bad[0][2]}: {bad[0][3][-300:]}")
    return (statistics.median(r[0] for r in results), max(r[1] for r in results),
            results[0][3].strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    reader = os.path.join(os.path.abspath(args.build), "bench", "read_series")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        files, array_mib = make(folder)
        for name, path in files.items():
            array = array_mib * (4 if name.startswith("scaled") else 1)
            ours = median_run(lambda w, p=path: [reader, p], args.runs, os.path.join(folder, "w"))
            theirs = median_run(lambda w, p=path: ["/usr/bin/python3", "-c", NIBABEL, p],
                                args.runs, os.path.join(folder, "w"))
            our_sum = float(ours[2].split()[-1])
            if abs(our_sum - float(theirs[2])) > 1e-6 * abs(our_sum):
                raise SystemExit(f"{name}: sums differ: ours {our_sum}, nibabel {theirs[2]}")
            rows.append((name, array, ours[0], ours[1], theirs[0], theirs[1]))
    lines = ["# NIfTI read: memory and time (bench/nifti_read.py)", "",
             f"Median of {args.runs} runs; peak = /usr/bin/time %M; sums checked equal.", "",
             "| file | array MiB | ours s | ours peak MiB | peak - array | nibabel s | "
             "nibabel peak MiB | time ratio (ours/nibabel) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, array, t, peak, nt, npeak in rows:
        lines.append(f"| {name} | {array:.0f} | {t:.2f} | {peak:.0f} | {peak - array:+.0f} | "
                     f"{nt:.2f} | {npeak:.0f} | {t / nt:.2f} |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "nifti_read.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
