#!/usr/bin/python3
"""Send to Orthanc (an independent DICOM server) and check through its REST API
what arrived: C-ECHO, the seed's send command, the real series with its own
UIDs (keep_uid=true) compared instance by instance (SOPInstanceUID set,
pixel data, patient/study/series attributes) with the source files by
pydicom, and a wrong port (exit 7). Runs inside a network namespace with
only loopback (dicom_orthanc.sh).

Usage: dicom_orthanc.py ORTHANC BUILD_DIR SHARED_DIR WORK_DIR
"""
import glob
import io
import json
import os
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pydicom

ORTHANC, BUILD, SHARED, WORK = sys.argv[1:5]
IMAGE_DATA = os.path.join(BUILD, "cli", "image_data")
ECHO = os.path.join(BUILD, "cli", "dicom_echo")
TIME = os.path.join(SHARED, "data", "imagedata", "dicom", "time")
HTTP = "http://127.0.0.1:8042"
URL = "dicom://127.0.0.1:4242/ORTHANC"
failures, checks = [], 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)
        print("FAIL:", what)


def get(path, raw=False):
    with urllib.request.urlopen(HTTP + path, timeout=10) as response:
        data = response.read()
    return data if raw else json.loads(data)


def delete_all():
    for patient in get("/patients"):
        request = urllib.request.Request(HTTP + "/patients/" + patient, method="DELETE")
        urllib.request.urlopen(request, timeout=10).read()


def received():
    out = {}
    for instance in get("/instances"):
        ds = pydicom.dcmread(io.BytesIO(get("/instances/%s/file" % instance, raw=True)))
        out[ds.SOPInstanceUID] = ds
    return out


def run(*args):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def main():
    config = {
        "Name": "imagedata-test", "StorageDirectory": "db", "IndexDirectory": "db",
        "Plugins": [], "HttpPort": 8042, "DicomPort": 4242, "DicomAet": "ORTHANC",
        "DicomCheckCalledAet": False, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True, "UnknownSopClassAccepted": True, "SaveJobs": False,
    }
    with open(os.path.join(WORK, "orthanc.json"), "w") as f:
        json.dump(config, f)
    log = open(os.path.join(WORK, "orthanc.log"), "w")
    server = subprocess.Popen([ORTHANC, "./orthanc.json"], cwd=WORK, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        for _ in range(400):
            try:
                get("/system")
                break
            except OSError:
                time.sleep(0.05)
        rc, out, err = run(ECHO, URL)
        check(rc == 0, "echo Orthanc: rc %d %s" % (rc, err))

        source = {}
        for path in glob.glob(os.path.join(TIME, "**", "*"), recursive=True):
            if os.path.isfile(path):
                ds = pydicom.dcmread(path)
                source[ds.SOPInstanceUID] = ds

        rc, out, err = run(IMAGE_DATA, "--sernum", "1004", "--serdes", "Processed data", URL,
                           TIME)
        check(rc == 0 and "9 sent, 0 warnings, 0 failed" in err, "seed command: rc %d %s" % (rc, err))
        stats = get("/statistics")
        check(stats["CountInstances"] == 9 and stats["CountSeries"] == 1,
              "Orthanc counts 9 instances in 1 series: %s" % stats)
        got = received()
        check(all(d.SeriesNumber == 1004 and d.SeriesDescription == "Processed data"
                  for d in got.values()), "seed: series number and description")
        check(sorted(d.pixel_array.tobytes() for d in got.values()) ==
              sorted(d.pixel_array.tobytes() for d in source.values()),
              "seed: pixel data are the source's")
        delete_all()

        rc, out, err = run(IMAGE_DATA, "--calling_aet", "NETTEST", "--input_options",
                           "keep_uid=true", URL, TIME)
        check(rc == 0, "keep_uid send: rc %d %s" % (rc, err))
        got = received()
        check(set(got) == set(source), "SOPInstanceUIDs in Orthanc are the source's")
        for uid in set(got) & set(source):
            a, b = got[uid], source[uid]
            check(np.array_equal(a.pixel_array, b.pixel_array), "%s pixels" % uid)
            for key in ("PatientID", "PatientName", "StudyInstanceUID", "SeriesInstanceUID",
                        "SOPClassUID", "ImagePositionPatient", "Rows", "Columns"):
                check(a.get(key) == b.get(key), "%s %s: %r != %r" % (uid, key, a.get(key), b.get(key)))
        # A re-run sends the same instances: Orthanc still holds 9.
        rc, out, err = run(IMAGE_DATA, "--input_options", "keep_uid=true", URL, TIME)
        check(rc == 0 and get("/statistics")["CountInstances"] == 9,
              "a re-run stores the same 9 instances again")

        rc, out, err = run(ECHO, "dicom://127.0.0.1:4243/ORTHANC")
        check(rc == 7, "wrong port: rc %d" % rc)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    print("dicom_orthanc: %d checks, %d failed" % (checks, len(failures)))
    if failures:
        print(open(os.path.join(WORK, "orthanc.log")).read()[-3000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
