#!/usr/bin/python3
"""DICOM -> NIfTI conversion: imagedata (`image_data --of nifti`) against
dcm2niix on the same DICOM series, in one run.

For each workload and each converter: the median wall time of several runs,
the peak resident memory (/usr/bin/time -f %M, the largest over the runs) and
the size of the image file written (.nii or .nii.gz; no sidecars). Each run
writes into a fresh, empty folder. Ratios are ours / dcm2niix:
  image_data OUT.nii     vs  dcm2niix -z n   (uncompressed)
  image_data OUT.nii.gz  vs  dcm2niix -z y   (gzip; dcm2niix uses pigz when it
                                              is on PATH, else its own zlib)
dcm2niix runs with `-b n` (no BIDS JSON: ours writes none) and a fixed `-f`
name. When nibabel is importable the outputs are also compared (same shape,
same voxel values), so that the two did the same work.

Targets (the performance issue), shown for information: time <= 0.5x
dcm2niix -z n; time <= 0.6x dcm2niix -z y with the .nii.gz at most 5% larger.

Workloads: the original project's dwi series (90 files, when ../shared is
present) and a generated 4D series (T x S files of R x R uint16, written once
with pydicom by bench/dicom_read.py's generate()).

usage: bench/nifti_convert.py BUILD_DIR [--runs 3] [--times 30] [--slices 60] [--size 192]
                              [--dcm2niix PATH]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dicom_read import generate  # noqa: E402  (pydicom + numpy)

try:
    import numpy
    import nibabel
except ImportError:
    nibabel = None

TARGETS = {"nii": 0.5, "nii.gz": 0.6}   # ours / dcm2niix wall time
SIZE_TARGET = 1.05                      # ours .nii.gz / dcm2niix -z y


def timed_run(command, workdir):
    """One run in a fresh folder: (wall seconds, peak MiB, stderr)."""
    if os.path.exists(workdir):
        shutil.rmtree(workdir)
    os.makedirs(workdir)
    rss_file = workdir + ".rss"
    started = time.perf_counter()
    child = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + command,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(command), child.returncode,
                                                        child.stderr.decode(errors="replace")[-500:]))
    with open(rss_file) as f:
        peak_kib = int(f.read().strip().splitlines()[-1])
    os.unlink(rss_file)
    return elapsed, peak_kib / 1024.0


def image_file(folder, suffix):
    """The one image file a converter wrote into folder."""
    found = [os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs if f.endswith(suffix)]
    if len(found) != 1:
        raise RuntimeError("expected one *%s in %s, found %s" % (suffix, folder, found))
    return found[0]


def measure(label, command_for, suffix, runs, scratch):
    """Median time, peak memory, output size and path of `runs` runs."""
    times, peaks, path = [], [], None
    for i in range(runs):
        workdir = os.path.join(scratch, "%s-%d" % (label, i))
        elapsed, peak = timed_run(command_for(workdir), workdir)
        times.append(elapsed)
        peaks.append(peak)
        path = image_file(workdir, suffix)
        if i < runs - 1:
            shutil.rmtree(workdir)
    return {"time": statistics.median(times), "peak": max(peaks),
            "size": os.path.getsize(path), "path": path}


def same_voxels(a, b):
    """Both files hold the same array (values; dtypes may differ), or None without nibabel."""
    if nibabel is None:
        return None
    x, y = nibabel.load(a), nibabel.load(b)
    if x.shape != y.shape:
        return False
    return bool(numpy.array_equal(numpy.asanyarray(x.dataobj).astype(numpy.int64),
                                  numpy.asanyarray(y.dataobj).astype(numpy.int64)))


def workload(name, folder, files, build, dcm2niix, runs):
    image_data = os.path.join(build, "cli", "image_data")
    scratch = tempfile.mkdtemp(prefix="imd-bench-nifti-")
    try:
        ours_nii = measure("ours-nii", lambda d: [image_data, "--of", "nifti",
                                                  os.path.join(d, "out.nii"), folder],
                           ".nii", runs, scratch)
        ours_gz = measure("ours-gz", lambda d: [image_data, "--of", "nifti",
                                                os.path.join(d, "out.nii.gz"), folder],
                          ".nii.gz", runs, scratch)
        d2n_nii = measure("d2n-nii", lambda d: [dcm2niix, "-z", "n", "-b", "n", "-f", "out",
                                                "-o", d, folder], ".nii", runs, scratch)
        d2n_gz = measure("d2n-gz", lambda d: [dcm2niix, "-z", "y", "-b", "n", "-f", "out",
                                              "-o", d, folder], ".nii.gz", runs, scratch)
        same = same_voxels(ours_gz["path"], d2n_gz["path"])
        shape = "x".join(str(n) for n in nibabel.load(ours_gz["path"]).shape) if nibabel else "?"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"name": name, "files": files, "shape": shape, "same": same,
            "ours": {"nii": ours_nii, "nii.gz": ours_gz},
            "dcm2niix": {"nii": d2n_nii, "nii.gz": d2n_gz}}


def table(rows):
    lines = ["| workload | files | NIfTI shape | output | imagedata s | dcm2niix s | time ratio "
             "| target | imagedata peak MiB | dcm2niix peak MiB | imagedata MiB | dcm2niix MiB "
             "| size ratio | same voxels |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for kind, flag in (("nii", "-z n"), ("nii.gz", "-z y")):
            o, d = r["ours"][kind], r["dcm2niix"][kind]
            ratio, size_ratio = o["time"] / d["time"], o["size"] / d["size"]
            met = ratio <= TARGETS[kind] and (kind == "nii" or size_ratio <= SIZE_TARGET)
            target = ("<= %.1fx" % TARGETS[kind]) + ("" if kind == "nii" else ", size <= 1.05x")
            lines.append("| %s | %d | %s | .%s (dcm2niix %s) | %.3f | %.3f | %.2fx | %s: %s "
                         "| %.0f | %.0f | %.1f | %.1f | %.3fx | %s |"
                         % (r["name"], r["files"], r["shape"], kind, flag, o["time"], d["time"],
                            ratio, target, "met" if met else "NOT met", o["peak"], d["peak"],
                            o["size"] / 2 ** 20, d["size"] / 2 ** 20, size_ratio,
                            {True: "yes", False: "NO", None: "not checked"}[r["same"]]))
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
    pigz = shutil.which("pigz")
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
    with open(os.path.join(HERE, "results", "nifti_convert.md"), "w") as out:
        out.write("DICOM -> NIfTI conversion, median wall time of %d runs, %s, %d cores. "
                  "imagedata: `image_data --of nifti OUT.nii|OUT.nii.gz DIR`; %s: `dcm2niix "
                  "-z n|y -b n -f out -o TMP DIR` (%s). Peak memory: /usr/bin/time %%M (largest "
                  "run). Sizes: the image file only. Ratios: imagedata / dcm2niix. Targets "
                  "(performance issue): .nii <= 0.5x dcm2niix -z n; .nii.gz <= 0.6x dcm2niix -z y "
                  "and at most 5%% larger.\n\n%s\n"
                  % (args.runs, time.strftime("%Y-%m-%d"), os.cpu_count(), version,
                     "pigz %s" % pigz if pigz else "no pigz on PATH: dcm2niix's internal zlib",
                     text))
    if any(r["same"] is False for r in rows):
        sys.exit("imagedata and dcm2niix wrote different voxels")


if __name__ == "__main__":
    main()
