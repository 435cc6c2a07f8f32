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

Compressed C-GET: the time series compressed with dcmtk's dcmcjpls, dcmcrle
and gdcmconv --j2k is stored (storescu proposing that syntax) into a
dcmqrscp told to accept it (+xt, +xr, +xv); read by URL, every instance
arrives in that syntax (our -d log) and the NIfTI equals the uncompressed
folder's voxel for voxel.

Listing (image_list, C-FIND): the node's patients, a patient's studies (by
Study Instance UID and by Accession Number), a study's series and one
series, each line compared with what pydicom reads from the stored files
(Patient ID and Name; Study UID, date, time, accession; Series UID, number,
modality, description); the folders' listing (the reader's series split)
compared the same way, with the number of files per series.
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import time

import nibabel as nib
import numpy as np
import pydicom

build, shared, work = sys.argv[1:4]
image_data = os.path.join(build, "cli", "image_data")
image_list = os.path.join(build, "cli", "image_list")
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


def listing(*args):
    r = subprocess.run([image_list] + list(args), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        failures.append("image_list %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                          r.stderr.strip()))
        return []
    return r.stdout.splitlines()


def expect_lines(what, got, expected):
    if got != expected:
        failures.append("%s:\n  got      %r\n  expected %r" % (what, got, expected))
    else:
        print("%s: %d lines as expected, e.g. %s" % (what, len(got), got[0] if got else ""))


def study_info(d):
    date, tm = str(d.StudyDate), str(d.StudyTime)
    date = "%s.%s.%s" % (date[:4], date[4:6], date[6:8]) if len(date) == 8 else date
    tm = "%s:%s:%s" % (tm[:2], tm[2:4], tm[4:6]) if len(tm) >= 6 else tm
    return "%s %s %s %s" % (date, tm, d.get("AccessionNumber", ""), d.get("StudyDescription", ""))


def check_listing(base):
    """Every listing level against pydicom's reading of the stored files."""
    sets = {}
    for series in SERIES:
        for f in sorted(glob.glob(os.path.join(data, series, "**", "*.dcm"), recursive=True)):
            d = pydicom.dcmread(f, stop_before_pixels=True)
            sets.setdefault(d.SeriesInstanceUID, []).append(d)
    firsts = [v[0] for v in sets.values()]
    patients = sorted({(d.PatientID, str(d.PatientName)) for d in firsts})
    expect_lines("image_list %s (patients)" % base, listing(base),
                 ["%s/%s %s" % (base, pid, name) for pid, name in patients])
    for d in firsts:
        purl = "%s/%s" % (base, d.PatientID)
        expect_lines("image_list <patient %s> (studies)" % d.PatientID, listing(purl),
                     ["%s/%s %s" % (purl, d.StudyInstanceUID, study_info(d))])
        surl = "%s/%s" % (purl, d.StudyInstanceUID)
        # dcmqrscp's index (dcmqrdb) holds neither Number of Series Related
        # Instances nor Series Description: "0" and "", as the original
        # printed them (integration.dicom_orthanc checks both).
        line = "%s/%s #%d: 0 %s " % (surl, d.SeriesInstanceUID, int(d.SeriesNumber), d.Modality)
        expect_lines("image_list <study> (series)", listing(surl), [line])
        expect_lines("image_list <series>", listing("%s/%s" % (surl, d.SeriesInstanceUID)),
                     [line])
        expect_lines("image_list <series number>", listing("%s/%s" % (surl, d.SeriesNumber)),
                     [line])
        if d.get("AccessionNumber", ""):
            expect_lines("image_list <accession number>",
                         listing("%s/%s" % (purl, d.AccessionNumber)), [line])
    expected = ["%s/%s/%s #%d: %d %s %s" % (d.PatientID, d.StudyInstanceUID, d.SeriesInstanceUID,
                                           int(d.SeriesNumber), len(sets[d.SeriesInstanceUID]),
                                           d.Modality, d.get("SeriesDescription", ""))
                for d in firsts]
    got = listing(*[os.path.join(data, series) for series in SERIES])
    expect_lines("image_list <folders>", sorted(got), sorted(expected))
    r = subprocess.run([image_list, "%s/NOBODY" % base], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 2 or "nothing found" not in r.stderr:
        failures.append("image_list of a missing patient: exit %d, %r" % (r.returncode, r.stderr))
    else:
        print("image_list of a missing patient: exit 2: %s" % r.stderr.strip())


def start_qrscp(name, flags=()):
    """dcmqrscp on a free port with its own storage; (server, log, port)."""
    port = free_port()
    db = os.path.join(work, name)
    os.mkdir(db)
    config = os.path.join(work, name + ".cfg")
    with open(config, "w") as f:
        f.write("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 4\n"
                "HostTable BEGIN\nHostTable END\nVendorTable BEGIN\nVendorTable END\n"
                "AETable BEGIN\nQRSCP %s RW (200, 1024mb) ANY\nAETable END\n" % (port, db))
    log = open(os.path.join(work, name + ".log"), "w")
    server = subprocess.Popen(["dcmqrscp"] + list(flags) + ["-c", config], stdout=log,
                              stderr=subprocess.STDOUT)
    wait_port(port)
    return server, log, port


def stop(server, log):
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


def check_compressed():
    """C-GET of a series the node stores compressed, in that syntax."""
    folder = os.path.join(data, "time")
    files = sorted(glob.glob(os.path.join(folder, "*", "*.dcm")))
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    ref = to_nifti(folder, "time_reference")
    if ref is None:
        return
    # Debian's dcmtk has no JPEG 2000 encoder and gdcmconv --j2k writes the
    # SOP UIDs of these files as UN: our writer makes the J2K files (keeping
    # the UIDs); the oracle stays the uncompressed folder's voxels.
    variants = [("JPEG-LS Lossless Image Compression", "1.2.840.10008.1.2.4.80", ["dcmcjpls"],
                 "+xt", "-xt"),
                ("RLE Lossless", "1.2.840.10008.1.2.5", ["dcmcrle"], "+xr", "-xr"),
                ("JPEG 2000 Image Compression (Lossless Only)", "1.2.840.10008.1.2.4.90",
                 [image_data, "--input_options", "output_transfer_syntax=j2k", "--input_options",
                  "keep_uid=true"], "+xv", "-xv")]
    for name, uid, tool, accept, propose in variants:
        if shutil.which(tool[0]) is None:
            print("SKIP part: %s not installed (%s)" % (tool[0], name))
            continue
        tag = os.path.basename(tool[0])
        out = os.path.join(work, tag)
        if tool[0] == image_data:
            r = subprocess.run(tool + [out, folder], capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                failures.append("%s: %s" % (" ".join(tool), r.stderr.strip()))
                continue
        else:
            os.mkdir(out)
            for i, f in enumerate(files):
                r = subprocess.run(tool + [f, os.path.join(out, "%02d.dcm" % i)],
                                   capture_output=True, text=True, timeout=60)
                if r.returncode != 0:
                    failures.append("%s %s: %s" % (tool[0], f, r.stderr.strip()))
                    return
        made = sorted(glob.glob(os.path.join(out, "**", "*.dcm"), recursive=True))
        syntax = pydicom.dcmread(made[0]).file_meta.TransferSyntaxUID if made else None
        if syntax != uid:
            failures.append("%s made %s, not %s" % (tool[0], syntax, uid))
            continue
        server, log, port = start_qrscp("db_" + tag, [accept])
        try:
            r = subprocess.run(["storescu", propose, "-aec", "QRSCP", "127.0.0.1", str(port),
                                "+sd", "+r", out], capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                failures.append("storescu %s: %s" % (name, r.stderr.strip()))
                continue
            url = "dicom://127.0.0.1:%d/QRSCP/%s/%s/%s" % (port, first.PatientID,
                                                           first.StudyInstanceUID,
                                                           first.SeriesInstanceUID)
            prefix = os.path.join(work, "net_" + tag)
            r = subprocess.run([image_data, "-d", "--of", "nifti", prefix, url],
                               capture_output=True, text=True, timeout=300)
            received = [l for l in r.stderr.splitlines() if ": received " in l]
            in_syntax = [l for l in received if l.endswith(" in " + name)]
            if r.returncode != 0:
                failures.append("%s: image_data exit %d: %s" % (name, r.returncode,
                                                                r.stderr.strip()[-400:]))
                continue
            if len(received) != len(files) or len(in_syntax) != len(files):
                failures.append("%s: %d instances received, %d in that syntax, %d expected: %s"
                                % (name, len(received), len(in_syntax), len(files),
                                   received[:1]))
                continue
            net = glob.glob(prefix + "*.nii*")
            b = np.asanyarray(nib.load(net[0]).dataobj) if len(net) == 1 else None
            if b is None or not np.array_equal(b, np.asanyarray(ref.dataobj)):
                failures.append("%s: the voxels differ from the uncompressed folder's" % name)
                continue
            print("C-GET of the time series stored in %s: %d instances received in it, NIfTI "
                  "%s equal to the uncompressed folder's" % (name, len(in_syntax), b.shape))
        finally:
            stop(server, log)


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
    check_listing(base)
finally:
    stop(server, log)
check_compressed()
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
