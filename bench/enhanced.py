#!/usr/bin/python3
"""Classic against enhanced: reading the same acquisition from single-frame
files and from one Enhanced MR file (issue 15 item 7), with imagedata and
with dcm2niix.

The enhanced file of each workload is made by our writer from the classic
series (`image_data --of dicom --input_options enhanced=true`). Then, median
wall time of several runs and peak resident memory (/usr/bin/time %M):
  image_data --of nifti OUT.nii CLASSIC_DIR   and   ... ENHANCED_DIR
  dcm2niix -z n -b n CLASSIC_DIR              and   ... ENHANCED_DIR
and, with nibabel, whether each converter wrote the same voxels from both
exports (dcm2niix's enhanced output is compared after as_closest_canonical,
as it may order axes differently).

Workloads: the original project's dwi series (90 files, ../shared) and a
generated 4D series (T x S files of R x R uint16, bench/dicom_read.py's
generate()).

usage: bench/enhanced.py BUILD_DIR [--runs 3] [--times 30] [--slices 60] [--size 192]
"""
import argparse, os, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dicom_read import generate  # noqa: E402  (pydicom + numpy)
from nifti_convert import measure  # noqa: E402

import numpy
import nibabel


def voxels(path, canonical=False):
    img = nibabel.load(path)
    if canonical:
        img = nibabel.as_closest_canonical(img)
    return numpy.asanyarray(img.dataobj).astype(numpy.float64)


def same(a, b):
    x, y = voxels(a, True), voxels(b, True)
    return x.shape == y.shape and bool(numpy.array_equal(x, y))


def workload(name, folder, files, build, dcm2niix, runs):
    image_data = os.path.join(build, "cli", "image_data")
    scratch = tempfile.mkdtemp(prefix="imd-bench-enh-")
    try:
        enhanced = os.path.join(scratch, "enhanced")
        subprocess.run([image_data, "--of", "dicom", "--input_options", "enhanced=true",
                        enhanced, folder], check=True)
        size = sum(os.path.getsize(os.path.join(enhanced, f)) for f in os.listdir(enhanced))
        result = {"name": name, "files": files, "enhanced MiB": size / 2 ** 20}
        for kind, source in (("classic", folder), ("enhanced", enhanced)):
            result[("ours", kind)] = measure(
                "ours-" + kind, lambda d, s=source: [image_data, "--of", "nifti",
                                                     os.path.join(d, "out.nii"), s],
                ".nii", runs, scratch)
            result[("dcm2niix", kind)] = measure(
                "d2n-" + kind, lambda d, s=source: [dcm2niix, "-z", "n", "-b", "n", "-f", "out",
                                                    "-o", d, s], ".nii", runs, scratch)
        for tool in ("ours", "dcm2niix"):
            result[(tool, "same")] = same(result[(tool, "classic")]["path"],
                                          result[(tool, "enhanced")]["path"])
        result["shape"] = "x".join(str(n) for n in nibabel.load(
            result[("ours", "enhanced")]["path"]).shape)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def table(rows):
    lines = ["| workload | files | enhanced file MiB | NIfTI shape | reader | classic s | enhanced s "
             "| enhanced / classic | classic peak MiB | enhanced peak MiB | same voxels |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for tool, label in (("ours", "image_data --of nifti"), ("dcm2niix", "dcm2niix -z n")):
            c, e = r[(tool, "classic")], r[(tool, "enhanced")]
            lines.append("| %s | %d | %.1f | %s | %s | %.3f | %.3f | %.2fx | %.0f | %.0f | %s |"
                         % (r["name"], r["files"], r["enhanced MiB"], r["shape"], label,
                            c["time"], e["time"], e["time"] / c["time"], c["peak"], e["peak"],
                            "yes" if r[(tool, "same")] else "NO"))
    for r in rows:
        lines.append("")
        lines.append("%s, enhanced: image_data %.3f s against dcm2niix %.3f s (%.2fx)"
                     % (r["name"], r[("ours", "enhanced")]["time"],
                        r[("dcm2niix", "enhanced")]["time"],
                        r[("ours", "enhanced")]["time"] / r[("dcm2niix", "enhanced")]["time"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--slices", type=int, default=60)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--dcm2niix", default=shutil.which("dcm2niix") or "dcm2niix")
    args = parser.parse_args()
    if not os.access(os.path.join(args.build, "cli", "image_data"), os.X_OK):
        sys.exit("no %s/cli/image_data (build first)" % args.build)
    if not shutil.which(args.dcm2niix):
        sys.exit("dcm2niix not found (apt-get install dcm2niix, or --dcm2niix PATH)")
    version = subprocess.run([args.dcm2niix, "-v"], capture_output=True, text=True)
    version = (version.stdout + version.stderr).strip().splitlines()
    version = version[0] if version else "?"
    rows = []
    dwi = os.path.join(HERE, "..", "..", "shared", "data", "imagedata", "dicom", "dwi")
    if os.path.isdir(dwi):
        rows.append(workload("dwi series (../shared)", os.path.abspath(dwi), 90, args.build,
                             args.dcm2niix, args.runs))
    folder = tempfile.mkdtemp(prefix="imd-bench-4d-")
    try:
        generate(folder, args.times, args.slices, args.size)
        rows.append(workload("generated 4D series", folder, args.times * args.slices, args.build,
                             args.dcm2niix, args.runs))
    finally:
        shutil.rmtree(folder)
    text = table(rows)
    print(text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "enhanced.md"), "w") as out:
        out.write("Classic single-frame files against one Enhanced MR file of the same "
                  "acquisition (made by `image_data --of dicom --input_options enhanced=true` "
                  "from the classic series), converted to NIfTI; median wall time of %d runs, "
                  "%s, %d cores, %s. imagedata: `image_data --of nifti OUT.nii SRC`; dcm2niix: "
                  "`dcm2niix -z n -b n -f out -o TMP SRC`. Peak memory: /usr/bin/time %%M "
                  "(largest run). Same voxels: each reader's classic and enhanced outputs "
                  "(nibabel, as_closest_canonical).\n\n%s\n"
                  % (args.runs, time.strftime("%Y-%m-%d"), os.cpu_count(), version, text))
    if any(r[(t, "same")] is False for r in rows for t in ("ours", "dcm2niix")):
        sys.exit("a reader wrote different voxels from the classic and the enhanced export")


if __name__ == "__main__":
    main()
