#!/usr/bin/python3
"""Send to Orthanc (an independent DICOM server) and check through its REST API
what arrived: C-ECHO, the seed's send command, the real series with its own
UIDs (keep_uid=true) compared instance by instance (SOPInstanceUID set,
pixel data, patient/study/series attributes) with the source files by
pydicom, and a wrong port (exit 7). Reading back (Orthanc configured to
allow C-FIND and C-GET): image_list at every level (lines compared with
pydicom's reading of the source; Orthanc returns the series description and
the number of instances), the series by URL (UIDs, and series number) gives
the same NIfTI as the folder (nibabel: voxels and affine); the series stored
in JPEG-LS (dcmcjpls) with an Accession Number set (pydicom) is read by
.../patient/<accession>/<series number> and arrives in JPEG-LS with the
folder's voxels. Runs inside a network namespace with only loopback
(dicom_orthanc.sh).

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
IMAGE_LIST = os.path.join(BUILD, "cli", "image_list")
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


def nifti(source, name):
    """image_data --of nifti of `source`: (voxels, affine) or None."""
    import nibabel as nib
    prefix = os.path.join(WORK, name)
    p = subprocess.run([IMAGE_DATA, "-d", "--of", "nifti", prefix, source], capture_output=True,
                       text=True, timeout=300)
    files = glob.glob(prefix + "*.nii*")
    check(p.returncode == 0 and len(files) == 1,
          "%s: image_data exit %d, %d files: %s" % (source, p.returncode, len(files),
                                                    p.stderr.strip()[-300:]))
    if p.returncode != 0 or len(files) != 1:
        return None, p.stderr
    image = nib.load(files[0])
    return (np.asanyarray(image.dataobj), image.affine), p.stderr


def study_info(d):
    date, tm = str(d.StudyDate), str(d.StudyTime)
    date = "%s.%s.%s" % (date[:4], date[4:6], date[6:8]) if len(date) == 8 else date
    tm = "%s:%s:%s" % (tm[:2], tm[2:4], tm[4:6]) if len(tm) >= 6 else tm
    return "%s %s %s %s" % (date, tm, d.get("AccessionNumber", ""), d.get("StudyDescription", ""))


def read_back(source):
    """Orthanc holds the time series with its own UIDs: list it and read it back."""
    d = next(iter(source.values()))
    n = len(source)
    rc, out, err = run(IMAGE_LIST, URL)
    check(rc == 0 and out.splitlines() == ["%s/%s %s" % (URL, d.PatientID, d.PatientName)],
          "image_list patients: rc %d %r %s" % (rc, out, err))
    purl = "%s/%s" % (URL, d.PatientID)
    rc, out, err = run(IMAGE_LIST, purl)
    check(rc == 0 and out.splitlines() == ["%s/%s %s" % (purl, d.StudyInstanceUID, study_info(d))],
          "image_list studies: rc %d %r %s" % (rc, out, err))
    surl = "%s/%s" % (purl, d.StudyInstanceUID)
    line = "%s/%s #%d: %d %s %s" % (surl, d.SeriesInstanceUID, int(d.SeriesNumber), n, d.Modality,
                                    d.SeriesDescription)
    for url in (surl, "%s/%s" % (surl, d.SeriesInstanceUID), "%s/%s" % (surl, d.SeriesNumber)):
        rc, out, err = run(IMAGE_LIST, url)
        check(rc == 0 and out.splitlines() == [line],
              "image_list %s: rc %d %r, expected %r %s" % (url, rc, out, line, err))
    print("image_list against Orthanc: patients, studies, series as pydicom reads them: " + line)
    folder, _ = nifti(TIME, "folder")
    for url in ("%s/%s" % (surl, d.SeriesInstanceUID), "%s/%s" % (surl, d.SeriesNumber)):
        got, err = nifti(url, "net%d" % len(url))
        if folder is None or got is None:
            continue
        check(got[0].shape == folder[0].shape and np.array_equal(got[0], folder[0]) and
              np.allclose(got[1], folder[1], atol=1e-6),
              "%s: NIfTI differs from the folder's" % url)
        print("C-GET %s from Orthanc: NIfTI %s equal to the folder's" % (url, got[0].shape))
    # The series in JPEG-LS with an Accession Number, read by accession and series number.
    delete_all()
    jls = os.path.join(WORK, "jls")
    os.mkdir(jls)
    for i, ds in enumerate(source.values()):
        plain = os.path.join(WORK, "plain%02d.dcm" % i)
        ds.AccessionNumber = "IMDACC17"
        ds.save_as(plain)
        rc, _, err = run("dcmcjpls", plain, os.path.join(jls, "%02d.dcm" % i))
        check(rc == 0, "dcmcjpls: %s" % err)
    rc, out, err = run("storescu", "-xt", "-aec", "ORTHANC", "127.0.0.1", "4242", "+sd", jls)
    check(rc == 0 and get("/statistics")["CountInstances"] == n, "storescu -xt: rc %d %s" % (rc, err))
    rc, out, err = run(IMAGE_LIST, "%s/IMDACC17" % purl)
    check(rc == 0 and out.splitlines() == [line], "image_list by accession: %r %s" % (out, err))
    got, err = nifti("%s/IMDACC17/%s" % (purl, d.SeriesNumber), "by_accession")
    received = [l for l in err.splitlines() if ": received " in l]
    check(len(received) == n and all(l.endswith(" in JPEG-LS Lossless Image Compression")
                                     for l in received),
          "JPEG-LS C-GET: %d received, %s" % (len(received), received[:1]))
    if got is not None and folder is not None:
        check(np.array_equal(got[0], folder[0]), "JPEG-LS C-GET: voxels differ from the folder's")
        print("C-GET by accession and series number from Orthanc: %d instances in JPEG-LS, "
              "NIfTI equal to the folder's" % len(received))


def main():
    config = {
        "Name": "imagedata-test", "StorageDirectory": "db", "IndexDirectory": "db",
        "Plugins": [], "HttpPort": 8042, "DicomPort": 4242, "DicomAet": "ORTHANC",
        "DicomCheckCalledAet": False, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True, "UnknownSopClassAccepted": True, "SaveJobs": False,
        "DicomAlwaysAllowFind": True, "DicomAlwaysAllowGet": True,
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

        read_back(source)

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
