#!/usr/bin/python3
"""The DICOM network client (issue 17, part 1) end to end, loopback only.

Peers, each started and stopped here on a free port of 127.0.0.1:
- dcmtk's storescp +xa (an independent implementation): C-ECHO, the seed's
  send command, a real series (../shared/data/imagedata/dicom/time) and a
  generated one (pydicom), every received file compared with what was sent
  by pydicom (SOPInstanceUID set, pixel data, attributes);
- our test peer dicom_peer.py (socket + struct from PS3.8/PS3.7) for what
  storescp will not do: rejection, abort after N instances, a failure and a
  warning status, a peer that stops answering, a PDU longer than negotiated,
  responses split into many PDVs, a small maximum PDU (fragmentation checked
  by the peer), the association request's fields (AE titles, implementation,
  user identity).

Usage: dicom_network.py BUILD_DIR SHARED_DIR WORK_DIR
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

BUILD, SHARED, WORK = sys.argv[1:4]
HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE_DATA = os.path.join(BUILD, "cli", "image_data")
ECHO = os.path.join(BUILD, "cli", "dicom_echo")
TIME = os.path.join(SHARED, "data", "imagedata", "dicom", "time")
PYTHON = "/usr/bin/python3"

failures = []
checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)
        print("FAIL:", what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(*args, timeout=60):
    start = time.monotonic()
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - start


class Storescp:
    def __init__(self, name):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.log = open(os.path.join(WORK, name + ".log"), "w")
        self.proc = subprocess.Popen(["storescp", "--aetitle", "STORESCP", "+xa",
                                      "--output-directory", self.dir, str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        self.url = "dicom://127.0.0.1:%d/STORESCP" % self.port

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()

    def files(self):
        return sorted(glob.glob(os.path.join(self.dir, "*")))


class Peer:
    def __init__(self, name, *options):
        self.port_file = os.path.join(WORK, name + ".port")
        self.log = os.path.join(WORK, name + ".jsonl")
        self.out = os.path.join(WORK, name + "_out")
        os.makedirs(self.out)
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, "dicom_peer.py"),
                                      "--port-file", self.port_file, "--log", self.log,
                                      "--out", self.out] + list(options))
        for _ in range(200):
            if os.path.exists(self.port_file):
                break
            time.sleep(0.02)
        self.port = int(open(self.port_file).read())
        self.url = "dicom://127.0.0.1:%d/PEER" % self.port

    def events(self):
        if not os.path.exists(self.log):
            return []
        return [json.loads(line) for line in open(self.log)]

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit("FAIL: peer on port %d did not start" % port)


def read_folder(folder):
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "**", "*"), recursive=True)):
        if os.path.isfile(path):
            ds = pydicom.dcmread(path)
            out[ds.SOPInstanceUID] = ds
    return out


def summary_line(stderr):
    for line in stderr.splitlines():
        if " sent, " in line and " failed" in line:
            return line
    return ""


# Attributes the writer makes anew at every write (dates and times of creation).
VOLATILE = {"InstanceCreationDate", "InstanceCreationTime", "ContentDate", "ContentTime"}


def compare(received, sent, what):
    """Every received data set equals the one sent: pixels and every attribute."""
    check(set(received) == set(sent), "%s: SOPInstanceUID sets (%d received, %d sent)" % (
        what, len(received), len(sent)))
    for uid in sorted(set(received) & set(sent)):
        a, b = received[uid], sent[uid]
        check(np.array_equal(a.pixel_array, b.pixel_array), "%s: %s pixel data" % (what, uid))
        keys_a = {e.keyword for e in a if e.keyword and e.keyword not in VOLATILE}
        keys_b = {e.keyword for e in b if e.keyword and e.keyword not in VOLATILE}
        check(keys_a == keys_b, "%s: %s attribute sets differ: %s" % (what, uid, keys_a ^ keys_b))
        for key in sorted(keys_a & keys_b):
            if key == "PixelData":
                continue
            if a.data_element(key).value != b.data_element(key).value:
                check(False, "%s: %s %s: %r != %r" % (what, uid, key, a.data_element(key).value,
                                                      b.data_element(key).value))
                break


def generate_series(folder, count=4):
    """A small CT series made by pydicom: the independent oracle for a generated series."""
    os.makedirs(folder)
    rng = np.random.default_rng(17)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    arrays = {}
    for i in range(count):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientName, ds.PatientID = "Net^Test", "NET17"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 5, i + 1
        ds.ImagePositionPatient = [0, 0, 2.5 * i]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 2.5
        ds.Rows, ds.Columns = 40, 56
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        pixels = rng.integers(-1000, 3000, size=(40, 56), dtype=np.int16)
        ds.PixelData = pixels.tobytes()
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(os.path.join(folder, "ct%02d.dcm" % i), write_like_original=False)
        arrays[ds.SOPInstanceUID] = pixels
    return arrays


def check_uid_defaults(scp, source):
    """A DICOM folder is sent with its UIDs by default (twice: the same set);
    keep_uid=false and a processed series (NIfTI + template) get new ones."""
    def send(*args):
        for f in scp.files():
            os.remove(f)
        rc, _, err, _ = run(IMAGE_DATA, *args)
        check(rc == 0, "%s: rc %d %s" % (" ".join(args), rc, err))
        return read_folder(scp.dir)
    for attempt in ("first", "re-run"):
        got = send(scp.url, TIME)
        check(set(got) == set(source), "default send (%s): received SOPInstanceUIDs %d, the "
              "source's %d, in common %d" % (attempt, len(got), len(source),
                                              len(set(got) & set(source))))
        check({d.SeriesInstanceUID for d in got.values()} ==
              {d.SeriesInstanceUID for d in source.values()}, "default send: SeriesInstanceUID")
    got = send("--input_options", "keep_uid=false", scp.url, TIME)
    check(len(got) == 9 and not set(got) & set(source), "keep_uid=false: new SOPInstanceUIDs")
    nifti = os.path.join(WORK, "uid_nifti")
    rc, _, err, _ = run(IMAGE_DATA, "--of", "nifti", nifti, TIME)
    check(rc == 0, "nifti write: %s" % err)
    got = send("--template", TIME, scp.url, nifti)
    series = {d.SeriesInstanceUID for d in got.values()}
    check(len(got) == 9 and not set(got) & set(source) and
          not series & {d.SeriesInstanceUID for d in source.values()},
          "NIfTI + template: new SOPInstanceUIDs and SeriesInstanceUID (%d received)" % len(got))
    print("UIDs: a DICOM folder sent twice arrives with its own %d SOPInstanceUIDs both times; "
          "keep_uid=false and NIfTI + template arrive with new ones" % len(source))
    for f in scp.files():
        os.remove(f)


def main():
    # ---- storescp: C-ECHO, the seed's command, a real and a generated series ----
    scp = Storescp("storescp")
    try:
        rc, out, err, _ = run(ECHO, scp.url)
        check(rc == 0 and "C-ECHO succeeded" in out, "echo storescp: rc %d %s" % (rc, err))

        rc, out, err, _ = run(IMAGE_DATA, "--sernum", "1004", "--serdes", "Processed data",
                              scp.url, TIME)
        check(rc == 0, "seed command: rc %d %s" % (rc, err))
        check("9 sent, 0 warnings, 0 failed" in summary_line(err), "seed summary: %r" % err)
        got = read_folder(scp.dir)
        source = read_folder(TIME)
        check(len(got) == 9, "seed: 9 instances received, %d" % len(got))
        check(all(d.SeriesNumber == 1004 and d.SeriesDescription == "Processed data"
                  for d in got.values()), "seed: series number and description")
        # An acquisition relabelled is new content: new UIDs (PS3.3 C.12.1.1.1).
        check(not set(got) & set(source), "seed on the acquisition: new SOPInstanceUIDs")
        src_pixels = sorted(d.pixel_array.tobytes() for d in source.values())
        got_pixels = sorted(d.pixel_array.tobytes() for d in got.values())
        check(src_pixels == got_pixels, "seed: the received pixel data are the source's")
        check(all(d.StudyInstanceUID == next(iter(source.values())).StudyInstanceUID
                  for d in got.values()), "seed: same study")
        for f in scp.files():
            os.remove(f)
        # The seed's own case: dicomResult, written with these labels, sent with
        # them again (twice, as a re-run after a failure): its UIDs are kept.
        result = os.path.join(WORK, "dicomResult")
        rc, _, err, _ = run(IMAGE_DATA, "--sernum", "1004", "--serdes", "Processed data",
                            result, TIME)
        check(rc == 0, "dicomResult written: rc %d %s" % (rc, err))
        written = read_folder(result)
        for attempt in (1, 2):
            rc, _, err, _ = run(IMAGE_DATA, "--sernum", "1004", "--serdes", "Processed data",
                                scp.url, result)
            check(rc == 0, "seed re-send %d: rc %d %s" % (attempt, rc, err))
            got = read_folder(scp.dir)
            check(set(got) == set(written) and len(got) == 9,
                  "seed re-send %d: dicomResult's own 9 SOPInstanceUIDs (%d received)"
                  % (attempt, len(got)))
            for f in scp.files():
                os.remove(f)

        # keep_uid: the sent instances are the source's, and equal to a folder write.
        folder = os.path.join(WORK, "time_written")
        rc, _, err, _ = run(IMAGE_DATA, "--input_options", "keep_uid=true", folder, TIME)
        check(rc == 0, "folder write: rc %d %s" % (rc, err))
        rc, _, err, _ = run(IMAGE_DATA, "--input_options", "keep_uid=true", scp.url, TIME)
        check(rc == 0, "time keep_uid send: rc %d %s" % (rc, err))
        got = read_folder(scp.dir)
        check(set(got) == set(source), "time: received SOPInstanceUIDs are the source's")
        for uid in set(got) & set(source):
            check(np.array_equal(got[uid].pixel_array, source[uid].pixel_array),
                  "time: %s pixels equal the source's" % uid)
        compare(got, read_folder(folder), "time vs folder write")
        for f in scp.files():
            os.remove(f)

        check_uid_defaults(scp, source)

        generated = os.path.join(WORK, "generated")
        arrays = generate_series(generated)
        rc, _, err, _ = run(IMAGE_DATA, "--calling_aet", "GENSCU", "--input_options",
                            "keep_uid=true", scp.url, generated)
        check(rc == 0 and "4 sent, 0 warnings, 0 failed" in summary_line(err),
              "generated send: rc %d %s" % (rc, err))
        got = read_folder(scp.dir)
        check(set(got) == set(arrays), "generated: SOPInstanceUID set")
        for uid, pixels in arrays.items():
            if uid in got:
                check(np.array_equal(got[uid].pixel_array, pixels), "generated: %s pixels" % uid)
                check(got[uid].PatientID == "NET17" and got[uid].Modality == "CT",
                      "generated: %s attributes" % uid)
        for f in scp.files():
            os.remove(f)

        # A compressed output syntax goes as it is when the peer accepts it.
        rc, _, err, _ = run(IMAGE_DATA, "--ts", "jpegls", "--input_options", "keep_uid=true",
                            scp.url, generated)
        got = read_folder(scp.dir)
        check(rc == 0 and len(got) == 4, "jpegls send: rc %d %s" % (rc, err))
        check(all(d.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80" for d in got.values()),
              "jpegls: received in JPEG-LS lossless")
        for uid, pixels in arrays.items():
            if uid in got:
                check(np.array_equal(got[uid].pixel_array, pixels), "jpegls: %s pixels" % uid)
    finally:
        scp.stop()

    # ---- nothing listening: exit 7 ----
    dead = free_port()
    rc, _, err, elapsed = run(ECHO, "dicom://127.0.0.1:%d/NOBODY" % dead)
    check(rc == 7 and "Connection refused" in err, "echo refused: rc %d %s" % (rc, err))
    rc, _, err, _ = run(IMAGE_DATA, "dicom://127.0.0.1:%d/NOBODY" % dead, generated)
    check(rc == 7 and "Connection refused" in err, "send refused: rc %d %s" % (rc, err))

    # ---- our test peer ----
    peer = Peer("reject", "--reject", "1,1,7")
    try:
        rc, _, err, _ = run(ECHO, peer.url)
        check(rc == 7 and "called AE title not recognized" in err, "echo rejected: %d %s" % (rc, err))
        rc, _, err, _ = run(IMAGE_DATA, peer.url, generated)
        check(rc == 7 and "called AE title not recognized" in err, "send rejected: %d %s" % (rc, err))
        check(not any(e["event"] == "store" for e in peer.events()), "rejected: nothing stored")
    finally:
        peer.stop()

    peer = Peer("abort", "--abort-after", "2")
    try:
        rc, _, err, _ = run(IMAGE_DATA, "--input_options", "keep_uid=true", peer.url, generated)
        stored = [e for e in peer.events() if e["event"] == "store"]
        check(rc == 7 and "aborted" in err, "abort: rc %d %s" % (rc, err))
        check(len(stored) == 2 and "2 sent, 0 warnings, 0 failed" in summary_line(err),
              "abort: 2 stored and reported as sent: %r" % summary_line(err))
    finally:
        peer.stop()

    peer = Peer("fail", "--fail", "2", "--warn", "3")
    try:
        rc, _, err, _ = run(IMAGE_DATA, "--input_options", "keep_uid=true", peer.url, generated)
        stored = [e for e in peer.events() if e["event"] == "store"]
        failed_uid = stored[1]["sop_instance"] if len(stored) > 1 else "?"
        check(rc == 8, "failure status: rc %d (8 expected) %s" % (rc, err))
        check("3 sent, 1 warnings, 1 failed" in summary_line(err), "failure summary: %r" % err)
        check("failed: " + failed_uid in err and "0xA700" in err and
              "test peer refuses this one" in err, "failure listed with status and comment")
        check("0xB000" in err, "warning reported with its code")
    finally:
        peer.stop()

    peer = Peer("silent", "--silent-after", "2")
    try:
        rc, _, err, elapsed = run(IMAGE_DATA, "--input_options", "net_dimse_timeout=1", peer.url,
                                  generated, timeout=30)
        check(rc == 7 and "timed out after 1000 ms" in err, "silent peer: rc %d %s" % (rc, err))
        check(elapsed < 10, "silent peer: finished in %.1f s" % elapsed)
        check("1 sent, 0 warnings, 0 failed" in summary_line(err), "silent summary: %r" % err)
    finally:
        peer.stop()

    # Ctrl-C while waiting for a response (default 60 s timeout): ends at once, exit 130.
    peer = Peer("interrupt", "--silent-after", "1")
    try:
        import signal
        proc = subprocess.Popen([IMAGE_DATA, peer.url, generated], stderr=subprocess.PIPE,
                                text=True)
        for _ in range(250):
            if any(e["event"] == "silent" for e in peer.events()):
                break
            time.sleep(0.02)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        elapsed = time.monotonic() - start
        check(proc.returncode == 130 and "cancelled" in err, "SIGINT: rc %d %s" % (proc.returncode, err))
        check(elapsed < 2, "SIGINT ends a stuck send in %.2f s" % elapsed)
    finally:
        peer.stop()

    peer = Peer("oversize", "--oversize")
    try:
        rc, _, err, _ = run(ECHO, "--input_options", "net_max_pdu=4096", peer.url)
        check(rc == 7 and "more than the 4096 negotiated" in err, "oversize: rc %d %s" % (rc, err))
    finally:
        peer.stop()

    peer = Peer("small", "--max-pdu", "1024", "--split")
    try:
        rc, _, err, _ = run(IMAGE_DATA, "--calling_aet", "MYSCU", "--input_options",
                            "net_username=alice", "--input_options", "net_password=s3cret",
                            "--input_options", "keep_uid=true", peer.url, generated)
        events = peer.events()
        stored = [e for e in events if e["event"] == "store"]
        check(rc == 0 and len(stored) == 4, "small PDU send: rc %d %s" % (rc, err))
        check(not any(e["event"] == "violation" for e in events),
              "no PDU longer than the peer's 1024: %s" % [e for e in events if e["event"] == "violation"])
        check(all(e["largest_pdu"] <= 1024 and e["size"] > 1024 for e in stored),
              "data sets fragmented to the peer's maximum")
        rq = [e for e in events if e["event"] == "associate"][0]
        check(rq["calling"] == "MYSCU" and rq["called"] == "PEER", "AE titles: %s" % rq)
        check(rq["application_context"] == "1.2.840.10008.3.1.1.1", "application context")
        check(rq["implementation_class_uid"].startswith("2.25.") and
              rq["implementation_version"] == "IMAGEDATA_0_1", "implementation identity")
        check(rq["identity"] == [2, 0, "alice", "s3cret"], "user identity: %s" % rq["identity"])
        check(rq["max_length"] == 65536, "our maximum length: %s" % rq["max_length"])
        classes = [c["abstract"] for c in rq["contexts"]]
        check(classes[0] == "1.2.840.10008.5.1.4.1.1.2" and
              rq["contexts"][0]["transfer"] == ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"],
              "first context: the series' class, explicit then implicit VR LE")
        check("1.2.840.10008.1.1" in classes and len(set(c["id"] for c in rq["contexts"])) == len(classes),
              "verification proposed, context IDs unique")
        written = os.path.join(WORK, "generated_written")
        rc, _, err, _ = run(IMAGE_DATA, "--input_options", "keep_uid=true", written, generated)
        check(rc == 0, "generated folder write: rc %d %s" % (rc, err))
        compare(read_folder(peer.out), read_folder(written), "generated via test peer vs folder write")
        rc, out, err, _ = run(ECHO, peer.url)
        check(rc == 0, "echo with split responses: rc %d %s" % (rc, err))
    finally:
        peer.stop()

    # The peer accepts only uncompressed syntaxes: a compressed instance cannot go.
    peer = Peer("native", "--only-ts", "1.2.840.10008.1.2.1,1.2.840.10008.1.2")
    try:
        rc, _, err, _ = run(IMAGE_DATA, "-v", "--ts", "jpegls", "--input_options",
                            "keep_uid=true", peer.url, generated)
        stored = [e for e in peer.events() if e["event"] == "store"]
        check(rc == 0 and len(stored) == 4, "compressed to a native-only peer: rc %d %s" % (rc, err))
        check(all(e["transfer_syntax"] == "1.2.840.10008.1.2.1" for e in stored),
              "decoded and sent in Explicit VR Little Endian")
        check(err.count("sent uncompressed: the peer did not accept JPEG-LS") == 4,
              "-v says each instance went uncompressed")
        got = read_folder(peer.out)
        for uid, pixels in arrays.items():
            check(uid in got and np.array_equal(got[uid].pixel_array, pixels),
                  "native-only peer: %s pixels equal the generated ones" % uid)
    finally:
        peer.stop()

    print("dicom_network: %d checks, %d failed" % (checks, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
