"""Receiving speed: image_receive against dcmtk's storescp (issue 18 item 7).

dcmtk's storescu sends one generated series (default 1,800 single-frame
files of 128 x 128 uint16, pydicom, fixed content) on loopback, one run
each, to
  - storescp -od DIR (no fsync: dcmtk's default), and
  - image_receive --no_convert (an fsync of the file and of its folder per
    instance before the success status: the durability issue 18 asks for),
  - image_receive --no_convert --no_sync (acknowledged once written, as
    storescp: the same work as storescp's),
  - image_receive with conversion (-- --of nifti): conversion overlaps the
    reception and its end is waited for.
Prints the wall time of each send and the ratio storescp / image_receive
(>= 1 means we are at least as fast). Writes bench/results/receiver.md.

usage: /usr/bin/python3 bench/receiver.py BUILD_DIR [FILES]
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

# dcmtk leaves Nagle's algorithm on unless TCP_NODELAY is set in its
# environment; storescu then waits ~40-90 ms per instance for the peer's
# delayed ACK, which hid both receivers' speed (bench/network.py says more).
os.environ["TCP_NODELAY"] = "1"

build = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1800
image_receive = os.path.join(build, "cli", "image_receive")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on %d" % port)


def generate(folder):
    series, study = "1.2.826.0.1.3680043.2.1143.7.1", "1.2.826.0.1.3680043.2.1143.7"
    for i in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = "%s.%d" % (series, i + 1)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, \
            meta.MediaStorageSOPInstanceUID
        ds.PatientID, ds.StudyInstanceUID, ds.SeriesInstanceUID = "BENCH", study, series
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "MR", 1, i + 1
        ds.ImagePositionPatient = [0, 0, float(i % 60)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1, 1]
        ds.SliceThickness = 1
        ds.AcquisitionTime = "%06d" % (i // 60)
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows = ds.Columns = 128
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = ((np.arange(128 * 128, dtype=np.uint32) * 7 + i) % 4096).astype(
            np.uint16).tobytes()
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(os.path.join(folder, "f%05d.dcm" % i), write_like_original=False)


def send(port, aec, files):
    start = time.time()
    r = subprocess.run(["storescu", "-aec", aec, "127.0.0.1", str(port)] + files,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("storescu: %s" % r.stderr)
    return time.time() - start


work = tempfile.mkdtemp(prefix="imd-bench-recv.", dir=os.environ.get("TMPDIR", "/tmp"))
try:
    source = os.path.join(work, "source")
    os.mkdir(source)
    generate(source)
    files = sorted(glob.glob(os.path.join(source, "*.dcm")))
    results = []
    # storescp
    port = free_port()
    out = os.path.join(work, "storescp")
    os.mkdir(out)
    p = subprocess.Popen(["storescp", "-od", out, str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_port(port)
    results.append(("storescp -od", send(port, "ANY", files)))
    p.terminate()
    p.wait()
    # image_receive, store only, then with conversion
    for label, after in [("image_receive --no_convert", ["--no_convert"]),
                         ("image_receive --no_convert --no_sync", ["--no_convert", "--no_sync"]),
                         ("image_receive -- --of nifti (until converted)", [])]:
        port = free_port()
        out = os.path.join(work, "r%d" % len(results))
        shutil.rmtree(out, ignore_errors=True)
        args = [image_receive, "--port", str(port), "--aet", "RECV", "--quiet_time", "0"] + \
            after + [out]
        if not after:
            args += ["--", "--of", "nifti"]
        log = open(os.path.join(work, "log.txt"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_port(port)
        start = time.time()
        seconds = send(port, "RECV", files)
        if not after:
            # The series is converted once the association has ended and
            # the quiet time (0 here) has passed: until then.
            while "converted %d instances" % count not in open(log.name).read():
                if p.poll() is not None or time.time() - start > 3600:
                    raise SystemExit("image_receive: no conversion")
                time.sleep(0.02)
            seconds = time.time() - start
        results.append((label, seconds))
        p.terminate()
        p.wait()
        log.close()
    lines = ["# Receiving speed (bench/receiver.py)", "",
             "%d files of 128 x 128 uint16 (%.1f MB) sent by dcmtk storescu on loopback, one "
             "run each." % (count, sum(os.path.getsize(f) for f in files) / 1e6), "",
             "| receiver | seconds | files/s |", "|---|---|---|"]
    for label, seconds in results:
        lines.append("| %s | %.2f | %.0f |" % (label, seconds, count / seconds))
    lines.append("")
    lines.append("Ratio storescp time / image_receive --no_convert time: %.2f "
                 "(>= 1: at least as fast); with --no_sync (storescp's durability): %.2f."
                 % (results[0][1] / results[1][1], results[0][1] / results[2][1]))
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"),
                exist_ok=True)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                           "receiver.md"), "w") as f:
        f.write(text)
finally:
    shutil.rmtree(work, ignore_errors=True)
