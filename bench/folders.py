#!/usr/bin/python3
"""Folder conversion (issue 13 item 7): `image_data --of nifti OUT FOLDER`
against Debian's dcm2niix on whole exam folders, same data, one run.

Workloads:
  - each ../shared/data/dcm_qa_dev/<repo>/In (real scanner exports, several
    series each; when ../shared is present);
  - a generated folder of SERIES series x FILES files (default 200 x 250 =
    50,000 files of 64 x 64 uint16): examples/make_dicom_series, run once per
    series (new study/series/instance UIDs each time), its SeriesDescription
    made unique per series in place (same length, so the file stays valid).

Per workload and tool, the median wall time of --runs runs, the peak resident
memory (/usr/bin/time -f %M, largest over the runs), the exit code and the
number of NIfTI files written (so that unequal work shows: today image_data
stops at the first unsupported series, dcm2niix converts them):
  cat            the read floor: every input file to /dev/null
  ours .nii.gz   image_data --of nifti OUT IN (gzip level 6)
  ours gz1       the same with --input_options gzip_level=1 (the fastest gzip
                 the writer allows)
  ours .nii      image_data --of nifti --no-gzip OUT IN (against dcm2niix -z n)
  dcm2niix -z n  dcm2niix -z n -b n -o OUT IN (no JSON: ours writes none)
  dcm2niix -z y  dcm2niix -z y -b n -o OUT IN
and the header scan: bench/header_scan (our parser, stopping before Pixel
Data) against pydicom dcmread(stop_before_pixels=True) on the files pydicom
can read (bench/header_scan.py's measure()).

image_data gets the per-repo options of tests/integration/dcm_qa_dev_expected.txt
(philips_float_scaling, split_echo_numbers: the conventions dcm2niix follows).

usage: bench/folders.py BUILD_DIR [--runs 3] [--series 200] [--files 250] [--size 64]
                        [--no-generated] [--no-dcm-qa] [--no-scan] [--dcm2niix PATH]
Writes bench/results/folders.md and prints it.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))

DATA = os.path.join(SOURCE, "..", "shared", "data", "dcm_qa_dev")
DESCRIPTION = b"imagedata demo dynamic"   # make_dicom_series' SeriesDescription (LO, 22 bytes)


def timed(command, workdir, with_stdout=False):
    """One run in a fresh folder: (wall seconds, peak MiB, exit code, stderr tail);
    with_stdout: stdout joins stderr (dcm2niix reports errors on stdout)."""
    if os.path.exists(workdir):
        shutil.rmtree(workdir)
    os.makedirs(workdir)
    rss = workdir + ".rss"
    started = time.perf_counter()
    child = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss] + command(workdir),
                           stdout=subprocess.PIPE if with_stdout else subprocess.DEVNULL,
                           stderr=subprocess.STDOUT if with_stdout else subprocess.PIPE)
    elapsed = time.perf_counter() - started
    with open(rss) as f:
        peak = int(f.read().strip().splitlines()[-1]) / 1024.0
    os.unlink(rss)
    text = child.stdout if with_stdout else child.stderr
    return elapsed, peak, child.returncode, text.decode(errors="replace")


def nifti_count(folder):
    return sum(1 for _, _, names in os.walk(folder) for n in names
               if n.endswith((".nii", ".nii.gz")))


def measure(label, command, runs, scratch):
    times, peaks, code, count, err = [], [], None, 0, ""
    for i in range(runs):
        workdir = os.path.join(scratch, "%s-%d" % (label.replace(" ", "_"), i))
        elapsed, peak, code, err = timed(command, workdir)
        times.append(elapsed)
        peaks.append(peak)
        count = nifti_count(workdir)
        shutil.rmtree(workdir)
    lines = [l for l in err.splitlines() if l.strip()]
    return {"time": statistics.median(times), "peak": max(peaks), "code": code,
            "outputs": count, "error": lines[-1][:160] if code not in (0,) and lines else ""}


def folder_files(folder):
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs)


def generate(build, folder, series, files, size):
    """SERIES runs of make_dicom_series (TIMES x SLICES = files), descriptions
    made unique: 'folder bench series%03d' has the same 22 bytes."""
    maker = os.path.join(build, "examples", "make_dicom_series")
    slices = 25 if files % 25 == 0 else files
    times = files // slices
    for s in range(series):
        target = os.path.join(folder, "s%03d" % s)
        subprocess.run([maker, target, str(times), str(slices), str(size)], check=True,
                       stdout=subprocess.DEVNULL)
        new = (b"folder bench series%03d" % (s % 1000))
        assert len(new) == len(DESCRIPTION)
        for name in os.listdir(target):
            path = os.path.join(target, name)
            with open(path, "rb") as f:
                data = f.read()
            if data.count(DESCRIPTION) != 1:
                raise RuntimeError("%s: SeriesDescription not found once" % path)
            with open(path, "wb") as f:
                f.write(data.replace(DESCRIPTION, new))
    return times, slices


def scan(folder, build, runs):
    """Header scan, ours against pydicom, on the files pydicom reads."""
    import header_scan
    import pydicom
    readable = []
    for f in folder_files(folder):
        try:
            pydicom.dcmread(f, stop_before_pixels=True)
            readable.append(f)
        except Exception:
            pass
    tool = os.path.join(build, "bench", "header_scan")
    try:
        _, n, ours, theirs = header_scan.measure("", readable, tool, runs)
    except SystemExit as e:   # our parser refused a file pydicom read: say so, go on
        return {"files": len(readable), "error": str(e)[:160]}
    return {"files": n, "ours": ours, "pydicom": theirs}


def workload(name, folder, build, runs, options, dcm2niix, do_scan):
    image_data = os.path.join(build, "cli", "image_data")
    tools = {
        "cat": lambda d: ["sh", "-c", 'find "$0" -type f -exec cat {} + > /dev/null', folder],
        "ours .nii.gz": lambda d: [image_data, "--of", "nifti"] + options +
                                  [os.path.join(d, "out"), folder],
        "ours gz1": lambda d: [image_data, "--of", "nifti", "--input_options", "gzip_level=1"] +
                              options + [os.path.join(d, "out"), folder],
        "ours .nii": lambda d: [image_data, "--of", "nifti", "--no-gzip"] + options +
                               [os.path.join(d, "out"), folder],
    }
    if dcm2niix:
        tools["dcm2niix -z n"] = lambda d: [dcm2niix, "-z", "n", "-b", "n", "-o", d, folder]
        tools["dcm2niix -z y"] = lambda d: [dcm2niix, "-z", "y", "-b", "n", "-o", d, folder]
    scratch = tempfile.mkdtemp(prefix="imd-bench-folders-")
    try:
        results = {label: measure(label, command, runs, scratch) for label, command in tools.items()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    files = folder_files(folder)
    row = {"name": name, "files": len(files),
           "mib": sum(os.path.getsize(f) for f in files) / 2**20, "results": results}
    if do_scan:
        row["scan"] = scan(folder, build, runs)
    print("  %s: %s" % (name, ", ".join("%s %.2f s" % (k, v["time"]) for k, v in results.items())),
          file=sys.stderr)
    return row


def repo_options():
    """The per-repo image_data options of the dcm_qa_dev test's expectations."""
    try:
        import dcm_qa_dev
        return dcm_qa_dev.read_expectations(dcm_qa_dev.EXPECTED).options
    except Exception:
        return {}


def format_rows(rows):
    lines = ["| workload | files | MiB | tool | wall s | peak MiB | exit | NIfTI files | vs dcm2niix |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r = row["results"]
        for tool, m in r.items():
            anchor = r.get("dcm2niix -z n") if tool == "ours .nii" else r.get("dcm2niix -z y")
            versus = ("%.2fx time, %.2fx RSS" % (m["time"] / anchor["time"], m["peak"] / anchor["peak"])
                      if anchor and tool.startswith("ours") else "")
            lines.append("| %s | %d | %.0f | %s | %.3f | %.0f | %s | %d | %s |" % (
                row["name"], row["files"], row["mib"], tool, m["time"], m["peak"],
                m["code"] if not m["error"] else "%s: %s" % (m["code"], m["error"].replace("|", "/")),
                m["outputs"], versus))
    ratio = ["", "| workload | ours .nii / dcm2niix -z n (target <= 0.5) | ours .nii.gz / -z y "
                 "(target <= 0.6) | ours gz1 / -z y "
                 "| peak ours / dcm2niix -z y | NIfTI files ours / dcm2niix | header scan files "
                 "| scan ours s | scan pydicom s | pydicom / ours (target >= 20) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        r = row["results"]
        if "dcm2niix -z y" not in r:
            continue
        y, n, ours = r["dcm2niix -z y"], r["dcm2niix -z n"], r["ours .nii.gz"]
        s = row.get("scan") or {}
        scan_cells = ("%d | %.3f | %.3f | %.1fx" % (s["files"], s["ours"], s["pydicom"],
                                                   s["pydicom"] / s["ours"])
                      if "ours" in s else "%s | | | %s" % (s.get("files", ""), s.get("error", "")))
        ratio.append("| %s | %.2fx | %.2fx | %.2fx | %.2fx | %d / %d | %s |" % (
            row["name"], r["ours .nii"]["time"] / n["time"], ours["time"] / y["time"],
            r["ours gz1"]["time"] / y["time"], ours["peak"] / y["peak"], ours["outputs"],
            y["outputs"], scan_cells))
    return "\n".join(lines + ratio)


def run(build, runs, series=200, files=250, size=64, generated=True, dcm_qa=True, do_scan=True,
        dcm2niix=None):
    """All folder workloads; returns the markdown text (run_all.py calls this)."""
    dcm2niix = dcm2niix or shutil.which("dcm2niix")
    started = time.time()
    rows = []
    options = repo_options()
    if dcm_qa and os.path.isdir(DATA):
        for repo in sorted(os.listdir(DATA)):
            folder = os.path.join(DATA, repo, "In")
            if os.path.isdir(folder):
                rows.append(workload(repo, folder, build, runs, options.get(repo, []), dcm2niix,
                                     do_scan))
    made = ""
    if generated:
        folder = tempfile.mkdtemp(prefix="imd-bench-folder-")
        try:
            t0 = time.time()
            times, slices = generate(build, folder, series, files, size)
            made = ("Generated folder: %d series x %d files (%d time points x %d slices of %dx%d "
                    "uint16, examples/make_dicom_series), %d files, made in %.0f s.\n"
                    % (series, files, times, slices, size, size, series * files, time.time() - t0))
            rows.append(workload("generated %dx%d" % (series, files), folder, build, runs, [],
                                 dcm2niix, do_scan))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    version = ""
    if dcm2niix:
        out = subprocess.run([dcm2niix, "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        version = next((l for l in out.stdout.decode(errors="replace").splitlines()
                        if "version" in l.lower()), "").strip()
    return ("Folder conversion, %s, %s, %d cores, median of %d runs, peak RSS by /usr/bin/time; "
            "dcm2niix: %s (%s; pigz on PATH: %s). Took %.0f s.\n%s\n%s\n"
            % (os.path.abspath(build), time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), runs,
               dcm2niix or "not installed", version, "yes" if shutil.which("pigz") else "no",
               time.time() - started, made, format_rows(rows)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--files", type=int, default=250, help="files per generated series")
    parser.add_argument("--size", type=int, default=64, help="rows = columns of generated images")
    parser.add_argument("--no-generated", action="store_true")
    parser.add_argument("--no-dcm-qa", action="store_true")
    parser.add_argument("--no-scan", action="store_true")
    parser.add_argument("--dcm2niix", default=None)
    args = parser.parse_args()
    text = run(args.build, args.runs, args.series, args.files, args.size,
               not args.no_generated, not args.no_dcm_qa, not args.no_scan, args.dcm2niix)
    print(text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "folders.md"), "w") as out:
        out.write(text)


if __name__ == "__main__":
    main()
