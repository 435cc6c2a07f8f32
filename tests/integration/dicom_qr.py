"""C-FIND + C-GET read of dicom://host:port/AET/patient/study/series (issue 17 item 3).

dcmtk's dcmqrscp is started on a free port of 127.0.0.1 with a configuration
and storage written here; dcmtk's storescu (not our sender) stores the test
series into it. Then, for each series:
  - `image_data --of nifti` of the dicom:// URL (by UIDs) and of the folder
    that was stored give NIfTI files that nibabel reads with the same shape,
    the same affine and the same voxels;
  - the voxel sum equals the sum of pydicom's pixel arrays of the folder's
    files (an oracle independent of our reader's sorting);
  - the same URL with the series given by its Series Number gives the same
    voxels (the original's URL form);
and a series number that is not there, and a wrong patient ID, fail with
"not found" and a non-zero exit.
"""
import glob
import os
import socket
import subprocess
import sys
import time

import nibabel as nib
import numpy as np
import pydicom

build, shared, work = sys.argv[1:4]
image_data = os.path.join(build, "cli", "image_data")
data = os.path.join(shared, "data", "imagedata", "dicom")
# "time" holds one series in three folders (time00 ...).
SERIES = ["time", "cor_oblique"]
failures = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds=20):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("FAIL: dcmqrscp did not listen on port %d" % port)


def to_nifti(source, name):
    prefix = os.path.join(work, name)
    r = subprocess.run([image_data, "--of", "nifti", prefix, source], capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        failures.append("%s: image_data exit %d: %s" % (source, r.returncode, r.stderr.strip()))
        return None
    files = glob.glob(prefix + "*.nii*")
    if len(files) != 1:
        failures.append("%s: %d NIfTI files written" % (source, len(files)))
        return None
    return nib.load(files[0])


port = free_port()
db = os.path.join(work, "db")
os.mkdir(db)
config = os.path.join(work, "dcmqrscp.cfg")
with open(config, "w") as f:
    # dcmqrscp's configuration format (dcmtk docs/dcmqrcnf.txt): one storage
    # area for the AE QRSCP, read-write, open to any peer.
    f.write("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 4\n"
            "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
            "AETable BEGIN\nQRSCP %s RW (200, 1024mb) ANY\nAETable END\n" % (port, db))
log = open(os.path.join(work, "dcmqrscp.log"), "w")
server = subprocess.Popen(["dcmqrscp", "-c", config], stdout=log, stderr=subprocess.STDOUT)
try:
    wait_port(port)
    for series in SERIES:
        folder = os.path.join(data, series)
        r = subprocess.run(["storescu", "-aec", "QRSCP", "127.0.0.1", str(port), "+sd", "+r", folder],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit("FAIL: storescu %s: %s" % (series, r.stderr.strip()))
    base = "dicom://127.0.0.1:%d/QRSCP" % port
    for series in SERIES:
        folder = os.path.join(data, series)
        files = sorted(glob.glob(os.path.join(folder, "**", "*.dcm"), recursive=True))
        ds = [pydicom.dcmread(f) for f in files]
        first = ds[0]
        url = "%s/%s/%s/%s" % (base, first.PatientID, first.StudyInstanceUID,
                               first.SeriesInstanceUID)
        tag = series.replace("/", "_")
        ref = to_nifti(folder, tag + "_folder")
        net = to_nifti(url, tag + "_net")
        if ref is None or net is None:
            continue
        a = np.asanyarray(ref.dataobj)
        b = np.asanyarray(net.dataobj)
        if a.shape != b.shape or not np.array_equal(a, b):
            failures.append("%s: voxels by URL differ from the folder's (%s vs %s)"
                            % (series, b.shape, a.shape))
            continue
        if not np.allclose(ref.affine, net.affine, atol=1e-6):
            failures.append("%s: affines differ:\n%s\n%s" % (series, ref.affine, net.affine))
            continue
        expected = sum(int(d.pixel_array.astype(np.int64).sum()) for d in ds)
        rescaled = any("RescaleSlope" in d and (float(d.RescaleSlope) != 1 or
                                                float(d.RescaleIntercept) != 0) for d in ds)
        total = int(np.asanyarray(net.dataobj).astype(np.int64).sum())
        if not rescaled and total != expected:
            failures.append("%s: voxel sum %d, pydicom's pixel arrays sum to %d"
                            % (series, total, expected))
            continue
        print("%s: %d files; by URL %s equals the folder's NIfTI voxel for voxel, same affine; "
              "voxel sum %d%s" % (series, len(files), b.shape, total,
                                  "" if rescaled else " = pydicom's"))
        by_number = to_nifti("%s/%s/%s/%s" % (base, first.PatientID, first.StudyInstanceUID,
                                              first.SeriesNumber), tag + "_number")
        if by_number is not None and not np.array_equal(np.asanyarray(by_number.dataobj), b):
            failures.append("%s: by series number %s: other voxels" % (series, first.SeriesNumber))
        elif by_number is not None:
            print("%s: by series number %s: the same voxels" % (series, first.SeriesNumber))
    first = pydicom.dcmread(sorted(glob.glob(os.path.join(data, SERIES[0], "*", "*.dcm")))[0])
    for what, url in [
            ("a missing series number", "%s/%s/%s/9999" % (base, first.PatientID,
                                                          first.StudyInstanceUID)),
            ("a wrong patient ID", "%s/NOBODY/%s/%s" % (base, first.StudyInstanceUID,
                                                        first.SeriesInstanceUID))]:
        r = subprocess.run([image_data, "--of", "nifti", os.path.join(work, "none"), url],
                           capture_output=True, text=True, timeout=120)
        if r.returncode == 0 or "not found" not in r.stderr:
            failures.append("%s: exit %d, stderr %r" % (what, r.returncode, r.stderr.strip()))
        else:
            print("%s: exit %d: %s" % (what, r.returncode, r.stderr.strip().splitlines()[-1]))
finally:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
