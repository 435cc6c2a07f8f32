#!/usr/bin/python3
"""Reading DICOM series into arrays: imagedata against a pydicom + numpy
reader doing the same work (read every file, sort slices along the normal and
volumes by acquisition time, stack into one array), on the same files, in
one run. Reports the median wall time of several runs and the peak resident
memory of each, and checks that both produced the same array (shape, sum).

Workloads: the original project's dwi series (90 files, when ../shared is
present) and a generated 4D series (T time points x S slices of R x R
uint16, written once with pydicom into a temporary folder).

usage: bench/dicom_read.py BUILD_DIR [--runs 3] [--times 30] [--slices 60] [--size 192]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

import numpy
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

HERE = os.path.dirname(os.path.abspath(__file__))

PYDICOM_READER = r'''
import os, sys, time, numpy, pydicom
started = time.perf_counter()  # the read alone: after the imports, as the binding's Series() call
def seconds(tm):
    tm = str(tm)
    return int(tm[0:2]) * 3600 + int(tm[2:4]) * 60 + float(tm[4:] or 0)
root, order = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names)
images = [pydicom.dcmread(f) for f in files]
iop = numpy.array(images[0].ImageOrientationPatient, dtype=float)
normal = numpy.cross(iop[:3], iop[3:])
def tag(ds):
    if order == "time":
        return seconds(ds.AcquisitionTime)
    return float(ds[0x0019, 0x100c].value)  # Siemens b value, as the dwi series has
keys = [(round(float(numpy.dot(normal, ds.ImagePositionPatient)), 4), tag(ds), i)
        for i, ds in enumerate(images)]
slices = sorted(set(k[0] for k in keys))
tags = sorted(set(k[1] for k in keys))
array = numpy.zeros((len(tags), len(slices), images[0].Rows, images[0].Columns),
                    dtype=images[0].pixel_array.dtype)
for distance, value, i in keys:
    array[tags.index(value), slices.index(distance)] = images[i].pixel_array
elapsed = time.perf_counter() - started
print("x".join(str(n) for n in array.shape), float(array.sum(dtype=numpy.float64)), elapsed)
'''


def generate(folder, times, slices, size):
    """A 4D MR series written with pydicom: one file per (time, slice)."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    pixels = (numpy.arange(size * size, dtype=numpy.uint16).reshape(size, size) % 4096)
    for t in range(times):
        for s in range(slices):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
            ds.SOPClassUID = meta.MediaStorageSOPClassUID
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.Modality, ds.PatientName, ds.PatientID = "MR", "BENCH^4D", "BENCH"
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.FrameOfReferenceUID, ds.SeriesNumber = frame, 1
            ds.InstanceNumber = t * slices + s + 1
            seconds = 36000 + 2.5 * t  # 10:00:00 + 2.5 s per time point
            ds.AcquisitionTime = "%02d%02d%06.3f" % (seconds // 3600, seconds % 3600 // 60,
                                                       seconds % 60)
            ds.ImagePositionPatient = [-100, -100, 3.0 * s]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing, ds.SliceThickness = [1, 1], 3
            ds.Rows = ds.Columns = size
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.PixelData = ((pixels + t + s) % 4096).astype(numpy.uint16).tobytes()
            ds.is_little_endian, ds.is_implicit_VR = True, False
            ds.save_as(os.path.join(folder, "t%03d_s%03d.dcm" % (t, s)), write_like_original=False)


def run(command):
    """Wall time and output of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = child.communicate()
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        sys.exit("%s failed: %s" % (command[0], err.decode()))
    return elapsed, out.decode().strip()


def measure(command, runs):
    """Median wall time and the peak RSS measured by /usr/bin/time."""
    times, output = [], None
    for _ in range(runs):
        elapsed, output = run(command)
        times.append(elapsed)
    timed = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, capture_output=True, text=True)
    peak_kib = int(timed.stderr.strip().splitlines()[-1])
    return statistics.median(times), peak_kib / 1024, output


def compare(name, folder, order, build, runs, files):
    ours = measure([os.path.join(build, "bench", "read_series"), folder, order], runs)
    theirs = measure(["/usr/bin/python3", "-c", PYDICOM_READER, folder, order], runs)
    # Both print "shape sum"; the sums must agree (same voxels, same order of sizes).
    same = ours[2].split()[0] == theirs[2].split()[0] and \
        abs(float(ours[2].split()[1]) - float(theirs[2].split()[1])) < 1e-6 * abs(float(theirs[2].split()[1]) or 1)
    return (name, files, ours[2].split()[0], ours[0], theirs[0], ours[1], theirs[1], same)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--slices", type=int, default=60)
    parser.add_argument("--size", type=int, default=192)
    args = parser.parse_args()
    rows = []
    dwi = os.path.join(HERE, "..", "..", "shared", "data", "imagedata", "dicom", "dwi")
    if os.path.isdir(dwi):
        rows.append(compare("dwi series (../shared)", dwi, "b", args.build, args.runs, 90))
    folder = tempfile.mkdtemp(prefix="imd-bench-4d-")
    try:
        generate(folder, args.times, args.slices, args.size)
        rows.append(compare("generated 4D series", folder, "time", args.build, args.runs,
                            args.times * args.slices))
    finally:
        shutil.rmtree(folder)
    lines = ["| workload | files | shape | imagedata s | pydicom+numpy s | speed-up | "
             "imagedata peak MiB | pydicom peak MiB | same array |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, files, shape, ours, theirs, our_rss, their_rss, same in rows:
        lines.append("| %s | %d | %s | %.3f | %.3f | %.1fx | %.0f | %.0f | %s |"
                     % (name, files, shape, ours, theirs, theirs / ours, our_rss, their_rss,
                        "yes" if same else "NO"))
    table = "\n".join(lines)
    print(table)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "dicom_read.md"), "w") as out:
        out.write("DICOM series read, median of %d runs, %s, %d cores. imagedata: "
                  "bench/read_series (imd_read: parse, sort, stack; all cores); pydicom %s + "
                  "numpy %s: dcmread every file, sort by position along the normal and by "
                  "the order's value, stack (one core). Peak memory: /usr/bin/time %%M.\n\n%s\n"
                  % (args.runs, time.strftime("%Y-%m-%d"), os.cpu_count(), pydicom.__version__,
                     numpy.__version__, table))
    if not all(row[-1] for row in rows):
        sys.exit("the two readers disagree")


if __name__ == "__main__":
    main()
