#!/usr/bin/python3
"""Compressed DICOM to NIfTI (issue 14 item 3): the same compressed series
converted by image_data and by the other tools, in one run.

Workloads:
  - ../shared/data/dcm_qa_dev/dcm_qa_frag: two Siemens XA30 series of 96
    files of 128 x 128, JPEG Lossless SV1 (.70) and JPEG 2000 Lossless (.90),
    every frame split over 3-4 fragments;
  - a generated series (default 30 time points x 60 slices = 1,800 files of
    256 x 256, 12 bits stored in 16: smooth structure plus noise, written
    with pydicom), compressed by image_data itself
    (--input_options output_transfer_syntax=...) in RLE, JPEG-LS, JPEG 2000
    and JPEG Lossless SV1: one fragment per frame.

Tools, per workload (every run in a fresh folder; median wall time of
--runs runs; peak resident memory by /usr/bin/time -f %M, the largest over
the runs and, for pipelines, over their processes):
  ours             image_data --of nifti OUT.nii IN (decodes on all cores)
  ours, raw input  image_data on the uncompressed copy: the read without codec
  dcm2niix         Debian's dcm2niix -z n -b n; it refuses frames split over
                   fragments ("decompress with gdcmconv ..."), so for
                   dcm_qa_frag it gets a one-fragment-per-frame copy made
                   beforehand with gdcmconv --raw then gdcmconv --jpeg/--j2k
                   (lossless; not timed)
  dcmtk + ours     dcmdjpeg/dcmdjpls/dcmdrle on every file (xargs -P CORES,
                   one process per file), then image_data on the result;
                   dcmtk has no JPEG 2000 decoder in Debian: n/a for .90
  gdcm + ours      gdcmconv --raw on every file (xargs -P CORES), then
                   image_data
Each row's NIfTI is compared with ours (nibabel, values): "same" or not.

Then our single-thread codec time: bench/decode_frames decodes every frame of
the workload on one thread and reports the time inside the codec calls (D).
The issue's target: ours <= 1.3 x (raw read + D / cores).

usage: bench/decode.py BUILD_DIR [--runs 3] [--times 30] [--slices 60]
                       [--size 256] [--no-generated] [--no-frag] [--dcm2niix PATH]
Writes bench/results/decode.md and prints it.
"""
import argparse, datetime, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import folders  # noqa: E402  (one timing helper for the benchmarks)
FRAG = os.path.join(SOURCE, "..", "shared", "data", "dcm_qa_dev", "dcm_qa_frag", "In")
CORES = os.cpu_count() or 1

try:
    import nibabel
    import numpy
except ImportError:  # the voxel check is then left out
    nibabel = numpy = None

SYNTAXES = {  # name: (uid, dcmtk decompressor or None)
    "rle": ("1.2.840.10008.1.2.5", "dcmdrle"),
    "jpegls": ("1.2.840.10008.1.2.4.80", "dcmdjpls"),
    "j2k": ("1.2.840.10008.1.2.4.90", None),
    "jpeg-lossless": ("1.2.840.10008.1.2.4.70", "dcmdjpeg"),
}


def timed(command, workdir):
    """One run in a fresh folder: (wall s, peak MiB, exit code, the telling output line)."""
    elapsed, peak, code, text = folders.timed(command, workdir, with_stdout=True)
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    telling = [l for l in lines if "nsupported" in l or "rror" in l] or lines[-1:]
    return elapsed, peak, code, telling[0][:140] if telling else ""


def nifti_in(folder):
    found = sorted(os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs
                   if f.endswith((".nii", ".nii.gz")))
    return found[0] if found else None


def same_voxels(a, b):
    if nibabel is None or a is None or b is None:
        return None
    x = numpy.squeeze(numpy.asanyarray(nibabel.load(a).dataobj)).astype(numpy.int64)
    y = numpy.squeeze(numpy.asanyarray(nibabel.load(b).dataobj)).astype(numpy.int64)
    return x.shape == y.shape and bool(numpy.array_equal(x, y))


def measure(label, command, runs, scratch, keep):
    """Median of `runs`; the last run's NIfTI is copied to keep/label.nii for the check."""
    times, peaks, code, err, kept = [], [], 0, "", None
    for i in range(runs):
        workdir = os.path.join(scratch, "run")
        elapsed, peak, code, err = timed(command, workdir)
        times.append(elapsed)
        peaks.append(peak)
        if i == runs - 1:
            found = nifti_in(workdir)
            if found is not None:
                kept = os.path.join(keep, label.replace(" ", "_") + os.path.basename(found)[-7:])
                shutil.copy(found, kept)
        shutil.rmtree(workdir)
    return {"tool": label, "time": statistics.median(times), "peak": max(peaks),
            "code": code, "error": err if code != 0 else "", "nifti": kept}


def decompress_then_convert(tool_args, image_data, folder):
    """A shell pipeline: decompress every file on CORES processes, then image_data."""
    def command(workdir):
        raw = os.path.join(workdir, "raw")
        script = (f"mkdir -p '{raw}' && cd '{folder}' && "
                  f"find . -maxdepth 1 -type f -name '*.dcm' -print0 | "
                  f"xargs -0 -P {CORES} -I{{}} {tool_args} {{}} '{raw}'/{{}} && "
                  f"'{image_data}' --of nifti '{workdir}/out.nii' '{raw}'")
        return ["sh", "-c", script]
    return command


def folder_size(folder):
    files = [os.path.join(folder, f) for f in os.listdir(folder)]
    return len(files), sum(os.path.getsize(f) for f in files) / 2**20


def decode_time(build, folder, runs):
    listing = os.path.join(tempfile.gettempdir(), "imd-decode-list.txt")
    with open(listing, "w") as f:
        f.write("\n".join(sorted(os.path.join(folder, n) for n in os.listdir(folder))) + "\n")
    tool = os.path.join(build, "bench", "decode_frames")
    times = []
    for _ in range(runs):
        out = subprocess.run([tool, "@" + listing], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.split('"decode_seconds": ')[1].split(",")[0]))
    os.unlink(listing)
    return statistics.median(times)


def convert_each(command_for_file, source, target):
    os.makedirs(target, exist_ok=True)
    for name in sorted(os.listdir(source)):
        subprocess.run(command_for_file(os.path.join(source, name), os.path.join(target, name)),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def generate(folder, times, slices, size):
    """A 4D MR series: smooth structure plus noise, 12 bits stored (pydicom)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    os.makedirs(folder)
    rng = numpy.random.default_rng(14)
    y, x = numpy.mgrid[0:size, 0:size]
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for t in range(times):
        for s in range(slices):
            body = ((x - size / 2) ** 2 + (y - size / 2) ** 2) < (0.4 * size) ** 2
            signal = 1200 + 600 * numpy.sin(x / 9.0 + s / 7.0) * numpy.cos(y / 11.0) + 20 * t
            image = numpy.where(body, signal, 30) + rng.normal(0, 12, (size, size))
            pixels = numpy.clip(image, 0, 4095).astype(numpy.uint16)
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.is_little_endian, ds.is_implicit_VR = True, False
            ds.SOPClassUID = meta.MediaStorageSOPClassUID
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.Modality, ds.PatientName, ds.PatientID = "MR", "Bench^Decode", "BENCH14"
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.FrameOfReferenceUID = frame
            ds.SeriesNumber, ds.InstanceNumber = 3, t * slices + s + 1
            ds.SeriesDescription = "decode bench"
            seconds = 36000 + 2.5 * t
            ds.AcquisitionTime = "%02d%02d%09.6f" % (seconds // 3600, seconds // 60 % 60,
                                                      seconds % 60)
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.ImagePositionPatient = [-size / 2, -size / 2, 3.0 * s]
            ds.SliceLocation = 3.0 * s
            ds.PixelSpacing, ds.SliceThickness = [1, 1], 3
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.Rows = ds.Columns = size
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.PixelData = pixels.tobytes()
            ds.save_as(os.path.join(folder, "IM%03d_%03d.dcm" % (t, s)),
                       write_like_original=False)


def workload(name, folder, raw, d2n_input, dcmtk, build, dcm2niix, runs, scratch):
    image_data = os.path.join(build, "cli", "image_data")
    keep = os.path.join(scratch, "keep-" + name)
    os.makedirs(keep)
    rows = [measure("ours", lambda d: [image_data, "--of", "nifti", os.path.join(d, "out.nii"),
                                       folder], runs, scratch, keep),
            measure("ours, raw input", lambda d: [image_data, "--of", "nifti",
                                                  os.path.join(d, "out.nii"), raw],
                    runs, scratch, keep),
            measure("dcm2niix", lambda d: [dcm2niix, "-z", "n", "-b", "n", "-f", "out", "-o", d,
                                           d2n_input], runs, scratch, keep)]
    if dcmtk is not None:
        rows.append(measure("dcmtk + ours", decompress_then_convert(dcmtk, image_data, folder),
                            runs, scratch, keep))
    else:
        rows.append({"tool": "dcmtk + ours", "time": None, "peak": None, "code": None,
                     "error": "no JPEG 2000 decoder in Debian's dcmtk", "nifti": None})
    rows.append(measure("gdcm + ours", decompress_then_convert("gdcmconv --raw", image_data,
                                                              folder), runs, scratch, keep))
    ours = rows[0]
    for row in rows:
        row["same"] = same_voxels(ours["nifti"], row["nifti"]) if row is not ours else True
    files, mib = folder_size(folder)
    decode = decode_time(build, folder, runs)
    raw_time = rows[1]["time"]
    target = 1.3 * (raw_time + decode / CORES)
    shutil.rmtree(keep)
    return {"name": name, "files": files, "mib": mib, "rows": rows, "decode": decode,
            "raw": raw_time, "target": target}


def table(results, header):
    lines = [header, "",
             "| workload | files | MiB | tool | wall s | peak MiB | exit | same voxels as ours "
             "| tool / ours (time) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        ours = r["rows"][0]["time"]
        for row in r["rows"]:
            if row["time"] is None:
                lines.append(f"| {r['name']} | {r['files']} | {r['mib']:.0f} | {row['tool']} "
                             f"| n/a | n/a | n/a | | {row['error']} |")
                continue
            same = {True: "yes", False: "no", None: "-"}[row["same"]]
            exit_text = str(row["code"]) + (f": {row['error']}" if row["error"] else "")
            lines.append(f"| {r['name']} | {r['files']} | {r['mib']:.0f} | {row['tool']} | "
                         f"{row['time']:.3f} | {row['peak']:.0f} | {exit_text} | {same} | "
                         f"{row['time'] / ours:.2f}x |")
    lines += ["", f"Target (issue 14): ours <= 1.3 x (raw read + single-thread decode / {CORES} "
              "cores).", "",
              "| workload | ours s | raw read s | decode 1 thread s | target s | met |",
              "|---|---|---|---|---|---|"]
    for r in results:
        ours = r["rows"][0]["time"]
        lines.append(f"| {r['name']} | {ours:.3f} | {r['raw']:.3f} | {r['decode']:.3f} | "
                     f"{r['target']:.3f} | {'yes' if ours <= r['target'] else 'no'} |")
    return "\n".join(lines)


def run(build, runs=3, times=30, slices=60, size=256, generated=True, frag=True,
        dcm2niix=None):
    """Every workload; writes bench/results/decode.md and returns its text (run_all.py)."""
    dcm2niix = dcm2niix or shutil.which("dcm2niix") or "dcm2niix"
    for tool in ("gdcmconv", "dcmdjpeg", "dcmdjpls", "dcmdrle", dcm2niix):
        if shutil.which(tool) is None:  # reported, not fatal: run_all.py goes on
            return (f"Compressed DICOM: not measured, {tool} not found "
                    "(apt-get install dcmtk libgdcm-tools dcm2niix).")
    build = os.path.abspath(build)
    image_data = os.path.join(build, "cli", "image_data")
    started = time.time()
    scratch = tempfile.mkdtemp(prefix="imd-bench-decode-")
    results, notes = [], []
    try:
        if frag and os.path.isdir(FRAG):
            for series, label, reencode, dcmtk in (
                    ("5001_anat-T1w_acq-tfl", "dcm_qa_frag .70", "--jpeg", "dcmdjpeg"),
                    ("6001_anat-T1w_acq-tfl", "dcm_qa_frag .90", "--j2k", None)):
                folder = os.path.join(FRAG, series)
                raw = os.path.join(scratch, series + "-raw")
                whole = os.path.join(scratch, series + "-one-fragment")
                convert_each(lambda a, b: ["gdcmconv", "--raw", a, b], folder, raw)
                convert_each(lambda a, b, r=reencode: ["gdcmconv", r, a, b], raw, whole)
                results.append(workload(label, folder, raw, whole, dcmtk, build, dcm2niix, runs,
                                        scratch))
        if generated:
            if numpy is None:
                sys.exit("decode.py: numpy, nibabel and pydicom are needed for the generated series")
            base = os.path.join(scratch, "generated-raw")
            t0 = time.time()
            generate(base, times, slices, size)
            notes.append(f"Generated series: {times} x {slices} files of {size} x {size}, "
                         f"12 bits stored, made in {time.time() - t0:.0f} s.")
            for syntax, (uid, dcmtk) in SYNTAXES.items():
                folder = os.path.join(scratch, "generated-" + syntax)
                t0 = time.time()
                subprocess.run([image_data, "--of", "dicom", "--input_options",
                                "output_transfer_syntax=" + syntax, folder, base], check=True,
                               stdout=subprocess.DEVNULL)
                notes.append(f"{syntax}: compressed by image_data (encode + verify) in "
                             f"{time.time() - t0:.1f} s, {folder_size(folder)[1]:.0f} MiB.")
                label = "generated " + ("RLE" if syntax == "rle" else "." + uid.split(".")[-1])
                results.append(workload(label, folder, base, folder, dcmtk, build, dcm2niix,
                                        runs, scratch))
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    version = subprocess.run([dcm2niix, "-v"], capture_output=True, text=True).stdout
    version = next((l for l in version.splitlines() if "version" in l), "?").strip()
    header = (f"Compressed DICOM to NIfTI, {build}, "
              f"{datetime.datetime.now():%Y-%m-%d %H:%M}, {CORES} cores, median of {runs} "
              f"runs, peak RSS by /usr/bin/time; dcm2niix: {version}. Took "
              f"{time.time() - started:.0f} s.\n" + "\n".join(notes))
    text = table(results, header)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "decode.md"), "w") as f:
        f.write(text + "\n")
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--slices", type=int, default=60)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--no-generated", action="store_true")
    parser.add_argument("--no-frag", action="store_true")
    parser.add_argument("--dcm2niix")
    args = parser.parse_args()
    print(run(args.build, args.runs, args.times, args.slices, args.size,
              not args.no_generated, not args.no_frag, args.dcm2niix))


if __name__ == "__main__":
    main()
