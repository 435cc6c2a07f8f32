"""The receiver (image_receive, issue 18) and C-MOVE (issue 17 item 3).

Loopback only; every server is started and stopped here, in `work`.

1. dcmtk's storescu sends the `time` series (9 files) to image_receive: every
   received file's data set equals the sent one byte for byte when the
   transfer syntax is the same (else element by element, pydicom); the
   NIfTI the receiver made equals `image_data --of nifti` run on the received
   folder and on the source folder (nibabel: shape, affine, voxels).
   1b. --delete_dicom (with --no_sync): received instances deleted once
   converted; three late instances of the series converted into _part2, the
   first output unchanged.
   1c. A multi-series, multi-vendor exam (dcm_qa_dev/dcm_qa_fmap/In, 409
   files, GE, Philips enhanced, Siemens) sent by storescu: after SIGTERM the
   receiver's NIfTI files equal, as a set, image_data's on the folder
   (shape, dtype, voxels, affine).
2. Our own image_data sends the series (keep_uid=true): the same SOP
   instances arrive, pixel data equal to the source's (pydicom).
3. Two storescu senders at once (time, cor_oblique): both series complete.
4. Refusals, each with its A-ASSOCIATE-RJ reason seen by echoscu and a log
   line: a wrong called AE, a calling AE outside --allow_calling_aet, an
   address outside --allow_address; an instance over --max_instance is
   refused with status A700 (storescu reports the failure).
5. A PatientID of "../../etc" (and one with "/" and control characters)
   stays inside the storage folder; nothing is written outside `work/recv`.
6. kill -9 in the middle of a 1,000-instance send: every instance storescu
   saw acknowledged is on disk under its final name and equals the sent
   file; no final-name file is partial; after a restart and a resend all
   1,000 are there and equal.
   6b. kill -9 while an instance's temporary file is being written (32 MB
   instances, the kill as soon as a non-empty .part- file appears): no
   final-name file is partial, every acknowledged one is there, and the
   restart removes the .part- file.
7. SIGTERM: the receiver converts what is pending and exits 0.
8. C-MOVE: dcmqrscp (its move destination configured to our listener's
   port) sends the series to image_data's in-process listener; the NIfTI
   equals the folder's.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

warnings.simplefilter("ignore")  # pydicom on the test data's odd UIDs
build, shared, work = sys.argv[1:4]
image_data = os.path.join(build, "cli", "image_data")
image_receive = os.path.join(build, "cli", "image_receive")
data = os.path.join(shared, "data", "imagedata", "dicom")
failures = []
servers = []


def fail(text):
    failures.append(text)
    print("FAIL:", text)


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
            time.sleep(0.05)
    raise SystemExit("FAIL: nothing listens on port %d" % port)


class Receiver:
    def __init__(self, name, extra=(), after=("--of", "nifti"), quiet="0.5"):
        self.root = os.path.join(work, name)
        self.out = os.path.join(self.root, "out")
        self.port_file = os.path.join(self.root, "port")
        os.makedirs(self.root, exist_ok=True)
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        self.log_path = os.path.join(self.root, "log.txt")
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [image_receive, "--port", "0", "--port_file", self.port_file, "--aet", "RECV",
             "--quiet_time", quiet, "--idle_timeout", "20"] + list(extra) +
            [self.out, "--"] + list(after),
            stdout=self.log, stderr=subprocess.STDOUT)
        servers.append(self.process)
        end = time.time() + 20
        while not (os.path.exists(self.port_file) and open(self.port_file).read().strip()):
            if time.time() > end or self.process.poll() is not None:
                raise SystemExit("FAIL: image_receive did not start: %s" % self.text())
            time.sleep(0.05)
        self.port = int(open(self.port_file).read())

    def text(self):
        self.log.flush()
        return open(self.log_path).read()

    def stop(self, sig=signal.SIGTERM):
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
            fail("%s: image_receive did not stop on signal %d" % (self.root, sig))
        self.log.close()
        return code

    def wait_log(self, needle, count=1, seconds=60):
        end = time.time() + seconds
        while time.time() < end:
            if self.text().count(needle) >= count:
                return True
            time.sleep(0.1)
        return False


def storescu(port, paths, aec="RECV", aet="STORESCU", extra=()):
    return subprocess.run(["storescu", "-aec", aec, "-aet", aet] + list(extra) +
                          ["127.0.0.1", str(port)] + list(paths),
                          capture_output=True, text=True, timeout=600)


def dataset_bytes(path):
    """The data set's bytes after the file meta group, and its transfer syntax."""
    with open(path, "rb") as f:
        pydicom.filereader.read_preamble(f, False)
        meta = pydicom.filereader._read_file_meta_info(f)
        return f.read(), str(meta.TransferSyntaxUID)


def compare_instances(sent_files, received_root, what):
    """Every sent file arrived once, its data set equal to the sent one."""
    received = {}
    for path in glob.glob(os.path.join(received_root, "**", "*.dcm"), recursive=True):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        received[str(ds.SOPInstanceUID)] = path
    same_bytes = same_elements = 0
    for path in sent_files:
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        if uid not in received:
            fail("%s: %s (%s) not received" % (what, path, uid))
            continue
        a, ts_a = dataset_bytes(path)
        b, ts_b = dataset_bytes(received[uid])
        if ts_a == ts_b:
            if a != b:
                fail("%s: %s: the data set differs from the sent one" % (what, uid))
                continue
            same_bytes += 1
        else:
            da, db = pydicom.dcmread(path), pydicom.dcmread(received[uid])
            if da != db:
                fail("%s: %s: elements differ (%s vs %s)" % (what, uid, ts_a, ts_b))
                continue
            same_elements += 1
    print("%s: %d sent, %d received; %d data sets equal byte for byte, %d element for element"
          % (what, len(sent_files), len(received), same_bytes, same_elements))
    return received


def nifti(source, prefix):
    r = subprocess.run([image_data, "--of", "nifti", prefix, source], capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        fail("image_data %s: exit %d: %s" % (source, r.returncode, r.stderr.strip()))
        return None
    files = glob.glob(prefix + "*.nii*")
    return nib.load(files[0]) if len(files) == 1 else None


def same_image(a, b, what):
    if a is None or b is None:
        fail("%s: no NIfTI to compare" % what)
        return False
    va, vb = np.asanyarray(a.dataobj), np.asanyarray(b.dataobj)
    if va.shape != vb.shape or not np.array_equal(va, vb) or \
            not np.allclose(a.affine, b.affine, atol=1e-6):
        fail("%s: NIfTI differ (shapes %s, %s)" % (what, va.shape, vb.shape))
        return False
    print("%s: equal (shape %s, affine, every voxel)" % (what, va.shape))
    return True


def files_of(name):
    return sorted(glob.glob(os.path.join(data, name, "**", "*.dcm"), recursive=True))


def make_instance(path, patient, series_uid, study_uid, number, rows=8):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = patient
    ds.PatientName = "Test^Receiver"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.Modality = "OT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = number
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = rows
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = (np.arange(rows * rows, dtype=np.uint16) + number).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


try:
    # ---- 1. storescu -> receiver, conversion equals image_data ----
    rx = Receiver("recv", ["--status_file", os.path.join(work, "recv", "status.txt")])
    time_files = files_of("time")
    r = storescu(rx.port, time_files)
    if r.returncode != 0:
        fail("storescu time: exit %d: %s" % (r.returncode, r.stderr.strip()))
    received = compare_instances(time_files, os.path.join(rx.out, "dicom"), "storescu -> receiver")
    if not rx.wait_log("converted 9 instances"):
        fail("time: no conversion logged: %s" % rx.text())
    else:
        series_folder = os.path.dirname(next(iter(received.values())))
        relative = os.path.relpath(series_folder, os.path.join(rx.out, "dicom"))
        made = glob.glob(os.path.join(rx.out, relative) + "*.nii*")
        if len(made) != 1:
            fail("time: the receiver wrote %s" % made)
        else:
            mine = nib.load(made[0])
            same_image(mine, nifti(series_folder, os.path.join(work, "ref_received")),
                       "receiver's NIfTI vs image_data on the received folder")
            same_image(mine, nifti(os.path.join(data, "time"), os.path.join(work, "ref_source")),
                       "receiver's NIfTI vs image_data on the source folder")
    if "association 1 from 127.0.0.1 (STORESCU): released, 9 stored, 0 failed" not in rx.text():
        fail("no association log line: %s" % rx.text())
    status_path = os.path.join(rx.root, "status.txt")
    end = time.time() + 10
    while time.time() < end and (not os.path.exists(status_path) or
                                 "converted=1 " not in open(status_path).read()):
        time.sleep(0.1)
    status = open(status_path).read() if os.path.exists(status_path) else ""
    if "associations=1 rejected=0 stored=9 failed=0 series=1 pending=0 converting=0 " \
            "converted=1 conversion_failures=0" not in status:
        fail("status line: %r" % status)
    else:
        print("status line: %s" % status.strip())

    # ---- 1b. --delete_dicom: received instances go once converted; late ones to a part ----
    dx = Receiver("delete", ["--delete_dicom", "--no_sync"])  # no_sync: the same files, unsynced
    r = storescu(dx.port, time_files)
    if r.returncode != 0:
        fail("storescu -> delete receiver: exit %d: %s" % (r.returncode, r.stderr.strip()))
    elif not dx.wait_log("deleted 9 received instance(s)"):
        fail("--delete_dicom: no deletion logged: %s" % dx.text())
    else:
        left = glob.glob(os.path.join(dx.out, "dicom", "**", "*"), recursive=True)
        made = glob.glob(os.path.join(dx.out, "**", "*.nii*"), recursive=True)
        if left:
            fail("--delete_dicom: left in the DICOM folder: %s" % left)
        elif len(made) != 1:
            fail("--delete_dicom: NIfTI written: %s" % made)
        else:
            same_image(nib.load(made[0]), nifti(os.path.join(data, "time"),
                                                 os.path.join(work, "ref_delete")),
                       "--delete_dicom: NIfTI vs image_data on the source folder")
            first = open(made[0], "rb").read()
            # three instances of the same series again: their own part, the first output kept
            r = storescu(dx.port, time_files[:3])
            if r.returncode != 0 or not dx.wait_log("converted 3 instances"):
                fail("--delete_dicom: late instances not converted: %s" % dx.text())
            else:
                part = glob.glob(os.path.join(dx.out, "**", "*_part2*.nii*"), recursive=True)
                if len(part) != 1 or open(made[0], "rb").read() != first:
                    fail("--delete_dicom: late instances: parts %s, first output %s" %
                         (part, "kept" if open(made[0], "rb").read() == first else "changed"))
                else:
                    print("--delete_dicom: 9 instances converted and deleted; 3 late ones "
                          "converted into %s, the first output unchanged"
                          % os.path.relpath(part[0], dx.out))
    dx.stop()

    # ---- 1c. a multi-series, multi-vendor exam: the same NIfTI as image_data on the folder ----
    exam = os.path.join(shared, "data", "dcm_qa_dev", "dcm_qa_fmap", "In")
    if not os.path.isdir(exam):
        print("SKIP (part): no %s" % exam)
    else:
        ex = Receiver("exam")
        exam_files = sorted(f for f in glob.glob(os.path.join(exam, "**", "*"), recursive=True)
                            if os.path.isfile(f))
        r = storescu(ex.port, exam_files)
        by_hand = os.path.join(work, "exam_by_hand")
        h = subprocess.run([image_data, "--of", "nifti", by_hand, exam], capture_output=True,
                           text=True, timeout=600)
        expected = sorted(glob.glob(os.path.join(by_hand, "**", "*.nii*"), recursive=True))

        def content(path):
            img = nib.load(path)
            data = np.asanyarray(img.dataobj)
            return (data.shape, str(data.dtype), hash(data.tobytes()),
                    tuple(np.round(img.affine, 4).ravel()))

        # SIGTERM converts what is pending before the receiver exits (section 7)
        code = ex.stop()
        got = sorted(glob.glob(os.path.join(ex.out, "**", "*.nii*"), recursive=True))
        if code != 0:
            fail("exam: the receiver exited %d" % code)
        if r.returncode != 0 or h.returncode != 0:
            fail("exam: storescu exit %d, image_data exit %d: %s" % (r.returncode, h.returncode,
                                                                    h.stderr.strip()[-300:]))
        else:
            mine = sorted(content(f) for f in got)
            theirs = sorted(content(f) for f in expected)
            if mine != theirs:
                fail("exam: the receiver wrote %d NIfTI files, image_data on the folder %d; "
                     "%d differ by content" % (len(got), len(expected),
                                               len(set(mine) ^ set(theirs))))
            else:
                print("multi-series exam (dcm_qa_fmap, %d files, GE/Philips/Siemens): the "
                      "receiver's %d NIfTI files equal image_data's on the folder (voxels, "
                      "affine)" % (len(exam_files), len(got)))

    # ---- 2. our own client sends ----
    r = subprocess.run([image_data, "--input_options", "keep_uid=true",
                        "dicom://127.0.0.1:%d/RECV" % rx.port, os.path.join(data, "time")],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        fail("image_data -> receiver: exit %d: %s" % (r.returncode, r.stderr.strip()))
    else:
        got = {}
        for path in glob.glob(os.path.join(rx.out, "dicom", "**", "*.dcm"), recursive=True):
            ds = pydicom.dcmread(path)
            got[str(ds.SOPInstanceUID)] = ds
        equal = 0
        for path in time_files:
            src = pydicom.dcmread(path)
            ds = got.get(str(src.SOPInstanceUID))
            if ds is None or not np.array_equal(ds.pixel_array, src.pixel_array):
                fail("image_data -> receiver: %s missing or other pixels" % src.SOPInstanceUID)
            else:
                equal += 1
        print("image_data -> receiver: %d of %d instances arrived with equal pixel data (%s)"
              % (equal, len(time_files), r.stderr.strip().splitlines()[-1]))

    # ---- 3. two senders at once ----
    cor_files = files_of("cor_oblique")
    senders = [subprocess.Popen(["storescu", "-aec", "RECV", "-aet", aet, "127.0.0.1",
                                 str(rx.port)] + files, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
               for aet, files in [("FIRST", cor_files), ("SECOND", time_files)]]
    codes = [s.wait(timeout=600) for s in senders]
    if codes != [0, 0]:
        fail("concurrent senders: exits %s" % codes)
    compare_instances(cor_files + time_files, os.path.join(rx.out, "dicom"),
                      "two concurrent senders")
    text = rx.text()
    if "(FIRST): released, %d stored" % len(cor_files) not in text or \
            "(SECOND): released, 9 stored" not in text:
        fail("concurrent senders: association lines missing: %s" % text)

    # ---- 4. refusals ----
    r = subprocess.run(["echoscu", "-aec", "WRONG", "127.0.0.1", str(rx.port)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode == 0 or "Called AE Title Not Recognized" not in r.stdout + r.stderr:
        fail("wrong called AE: exit %d %s" % (r.returncode, r.stderr))
    else:
        print("wrong called AE: rejected (%s)" % "Called AE Title Not Recognized")
    code = rx.stop()
    if code != 0:
        fail("SIGTERM: exit %d" % code)
    strict = Receiver("strict", ["--allow_calling_aet", "GOOD", "--max_instance", "2K"])
    r = subprocess.run(["echoscu", "-aec", "RECV", "-aet", "BAD", "127.0.0.1", str(strict.port)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode == 0 or "Calling AE Title Not Recognized" not in r.stdout + r.stderr:
        fail("calling AE outside the allow-list: exit %d %s" % (r.returncode, r.stderr))
    else:
        print("calling AE outside the allow-list: rejected (Calling AE Title Not Recognized)")
    r = subprocess.run(["echoscu", "-aec", "RECV", "-aet", "GOOD", "127.0.0.1", str(strict.port)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail("allowed calling AE: echo exit %d" % r.returncode)
    r = storescu(strict.port, time_files[:1], aet="GOOD", extra=["-v"])
    if "Received Store Response (Refused: OutOfResources)" not in r.stdout + r.stderr or \
            not strict.wait_log("(GOOD): released, 0 stored, 1 failed"):
        fail("instance over --max_instance: storescu said %r" % (r.stdout + r.stderr))
    else:
        print("instance over --max_instance 2K: refused with status A700")
    if not strict.wait_log("rejected: calling AE title \"BAD\" is not in the allow-list"):
        fail("no log line for the refused calling AE: %s" % strict.text())
    strict.stop()
    fenced = Receiver("fenced", ["--allow_address", "10.11.12.13"])
    r = subprocess.run(["echoscu", "-aec", "RECV", "127.0.0.1", str(fenced.port)],
                       capture_output=True, text=True, timeout=60)
    if r.returncode == 0 or not fenced.wait_log("address 127.0.0.1 is not in the allow-list"):
        fail("address outside the allow-list: exit %d; %s" % (r.returncode, fenced.text()))
    else:
        print("address outside the allow-list: rejected")
    fenced.stop()

    # ---- 5. hostile names ----
    hostile_src = os.path.join(work, "hostile_src")
    os.makedirs(hostile_src)
    study = generate_uid()
    names = ["../../etc", "/etc/passwd", "a\x01b\\..", "..", "x" * 64]
    for i, patient in enumerate(names):
        make_instance(os.path.join(hostile_src, "h%d.dcm" % i), patient, generate_uid(), study, 1)
    before = set(os.listdir(work))
    rx = Receiver("hostile", after=("--of", "nifti"))
    r = storescu(rx.port, sorted(glob.glob(os.path.join(hostile_src, "*.dcm"))))
    if r.returncode != 0:
        fail("hostile names: storescu exit %d: %s" % (r.returncode, r.stderr))
    rx.stop()
    root = os.path.realpath(rx.root)
    stored = glob.glob(os.path.join(rx.out, "dicom", "**", "*.dcm"), recursive=True)
    outside = [p for p in stored if not os.path.realpath(p).startswith(root + os.sep)]
    if len(stored) != len(names) or outside or set(os.listdir(work)) - before - {"hostile"} or \
            os.path.exists(os.path.join(work, "etc")):
        fail("hostile names: %d stored, outside: %s" % (len(stored), outside))
    else:
        print("hostile PatientIDs %s: %d instances, all inside %s (folders %s)"
              % ([n.encode("unicode_escape").decode() for n in names], len(stored), rx.out,
                 sorted(os.listdir(os.path.join(rx.out, "dicom")))))

    # ---- 6. kill -9 during a 1,000-instance send ----
    many = os.path.join(work, "many")
    os.makedirs(many)
    series, study = generate_uid(), generate_uid()
    for i in range(1000):
        make_instance(os.path.join(many, "m%04d.dcm" % i), "KILL", series, study, i + 1)
    many_files = sorted(glob.glob(os.path.join(many, "*.dcm")))
    rx = Receiver("killed", quiet="30")
    sender = subprocess.Popen(["storescu", "-v", "-aec", "RECV", "127.0.0.1", str(rx.port)] +
                              many_files, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    store_root = os.path.join(rx.out, "dicom")
    end = time.time() + 120
    while time.time() < end:
        if len(glob.glob(os.path.join(store_root, "*", "*", "*", "*.dcm"))) >= 150:
            break
        time.sleep(0.01)
    rx.process.kill()
    rx.process.wait()
    rx.log.close()
    output, _ = sender.communicate(timeout=120)
    acked = output.count("Received Store Response (Success)")
    on_disk = glob.glob(os.path.join(store_root, "*", "*", "*", "*.dcm"))
    parts = glob.glob(os.path.join(store_root, ".part-*"))
    received = {}
    broken = 0
    for path in on_disk:
        try:
            ds = pydicom.dcmread(path)
            received[str(ds.SOPInstanceUID)] = ds
            _ = ds.pixel_array
        except Exception as e:  # noqa: BLE001 - any unreadable file is the failure
            broken += 1
            fail("kill -9: %s under its final name is not whole: %s" % (path, e))
    lost = 0
    for path in many_files[:acked]:
        src = pydicom.dcmread(path)
        got = received.get(str(src.SOPInstanceUID))
        if got is None or got.PixelData != src.PixelData:
            lost += 1
    if lost:
        fail("kill -9: %d of the %d acknowledged instances are lost or differ" % (lost, acked))
    if acked == 0 or acked >= 1000:
        fail("kill -9: %d acknowledged: the kill did not land in the middle" % acked)
    print("kill -9 after %d acknowledged: %d whole files under final names, %d .part- left, "
          "0 acknowledged lost" % (acked, len(on_disk) - broken, len(parts)))
    rx = Receiver("killed", quiet="0.5")
    if glob.glob(os.path.join(store_root, ".part-*")):
        fail("restart: .part- files not cleaned")
    r = storescu(rx.port, many_files)
    if r.returncode != 0:
        fail("resend: storescu exit %d" % r.returncode)
    got = compare_instances(many_files, store_root, "kill -9, restart, resend")
    if len(got) != 1000:
        fail("resend: %d instances on disk" % len(got))

    # ---- 6b. kill -9 while an instance is being written (its .part- file exists) ----
    big = os.path.join(work, "big")
    os.makedirs(big)
    big_series = generate_uid()
    for i in range(3):  # 32 MB each: the write and fsync take long enough to be caught
        make_instance(os.path.join(big, "b%d.dcm" % i), "BIG", big_series, study, i + 1,
                      rows=4096)
    big_files = sorted(glob.glob(os.path.join(big, "*.dcm")))
    bx = Receiver("bigkill", quiet="30")
    big_root = os.path.join(bx.out, "dicom")
    sender = subprocess.Popen(["storescu", "-v", "-aec", "RECV", "127.0.0.1", str(bx.port)] +
                              big_files, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    caught = None
    end = time.time() + 120
    while time.time() < end and caught is None:
        for part in glob.glob(os.path.join(big_root, ".part-*")):
            try:
                if os.path.getsize(part) > 0:
                    caught = (part, os.path.getsize(part))
            except OSError:
                pass
        if caught is None:
            time.sleep(0.001)
    bx.process.kill()
    bx.process.wait()
    bx.log.close()
    output, _ = sender.communicate(timeout=120)
    acked = output.count("Received Store Response (Success)")
    finals = glob.glob(os.path.join(big_root, "*", "*", "*", "*.dcm"))
    whole = 0
    for path in finals:
        try:
            ds = pydicom.dcmread(path)
            src = pydicom.dcmread(big_files[int(ds.InstanceNumber) - 1])
            whole += ds.PixelData == src.PixelData
        except Exception as e:  # noqa: BLE001 - a partial final file is the failure
            fail("kill during a write: %s is not whole: %s" % (path, e))
    if caught is None:
        fail("kill during a write: no .part- file seen being written")
    elif whole != len(finals) or len(finals) < acked:
        fail("kill during a write: %d acknowledged, %d final files, %d whole"
             % (acked, len(finals), whole))
    else:
        bx = Receiver("bigkill", quiet="30")
        left = glob.glob(os.path.join(big_root, ".part-*"))
        bx.stop()
        if left:
            fail("kill during a write: .part- files left after the restart: %s" % left)
        else:
            print("kill -9 while %s held %d bytes: %d acknowledged, %d whole files under final "
                  "names, none partial; the .part- file removed at the restart"
                  % (os.path.basename(caught[0]), caught[1], acked, len(finals)))

    # ---- 7. SIGTERM converts what is pending ----
    if rx.stop() != 0:
        fail("SIGTERM: non-zero exit")
    if "converted 1000 instances" not in open(rx.log_path).read():
        fail("SIGTERM: the 1,000-instance series was not converted: %s"
             % open(rx.log_path).read()[-2000:])
    else:
        print("SIGTERM: pending series converted (1000 instances), exit 0")

    # ---- 8. C-MOVE from dcmqrscp ----
    port, move_port = free_port(), free_port()
    db = os.path.join(work, "qrdb")
    os.mkdir(db)
    config = os.path.join(work, "dcmqrscp.cfg")
    with open(config, "w") as f:
        # dcmtk docs/dcmqrcnf.txt: the move destination MOVEDEST is our listener.
        f.write("NetworkTCPPort = %d\nMaxPDUSize = 16384\nMaxAssociations = 4\n"
                "HostTable BEGIN\nmovedest = (MOVEDEST, 127.0.0.1, %d)\nHostTable END\n"
                "VendorTable BEGIN\nVendorTable END\n"
                "AETable BEGIN\nQRSCP %s RW (200, 1024mb) ANY\nAETable END\n"
                % (port, move_port, db))
    qrlog = open(os.path.join(work, "dcmqrscp.log"), "w")
    qr = subprocess.Popen(["dcmqrscp", "-c", config], stdout=qrlog, stderr=subprocess.STDOUT)
    servers.append(qr)
    wait_port(port)
    r = storescu(port, time_files, aec="QRSCP")
    first = pydicom.dcmread(time_files[0], stop_before_pixels=True)
    url = "dicom://127.0.0.1:%d/QRSCP/%s/%s/%s" % (port, first.PatientID, first.StudyInstanceUID,
                                                   first.SeriesInstanceUID)
    prefix = os.path.join(work, "moved")
    r = subprocess.run([image_data, "-v", "--input_options", "move_destination=MOVEDEST",
                        "--input_options", "move_port=%d" % move_port, "--of", "nifti", prefix,
                        url], capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or "C-MOVE to MOVEDEST: 9 instances received" not in r.stderr:
        fail("C-MOVE: exit %d: %s" % (r.returncode, r.stderr.strip()))
    else:
        moved = glob.glob(prefix + "*.nii*")
        same_image(nib.load(moved[0]) if len(moved) == 1 else None,
                   nib.load(glob.glob(os.path.join(work, "ref_source") + "*.nii*")[0]),
                   "C-MOVE from dcmqrscp vs image_data on the source folder")
    r = subprocess.run([image_data, "--input_options", "move_destination=MOVEDEST",
                        "--of", "nifti", prefix + "_x", url], capture_output=True, text=True,
                       timeout=60)
    if r.returncode == 0 or "move_port" not in r.stderr:
        fail("C-MOVE without move_port: exit %d %s" % (r.returncode, r.stderr))
    else:
        print("C-MOVE without move_port: exit %d (usage)" % r.returncode)
finally:
    for p in servers:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
for f in failures:
    print("FAIL:", f)
print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
