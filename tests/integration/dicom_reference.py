#!/usr/bin/env python3
"""DICOM read acceptance tests: image_info --json against the reference data.

Every case runs `image_info --json [--stats] [--order ...] [--input_options ...]`
on the original project's DICOM test data (../shared/data/imagedata/dicom) and
compares the JSON (docs/json.md) with numbers from behaviour.md (§3, §11, §12)
and with numbers computed here, independently, from the files with pydicom and
numpy (never from our own output).

Conventions checked (behaviour.md §0, docs/json.md): vectors are (z, y, x);
transformationMatrix maps (slice, row, column, 1) to (z, y, x, 1) with
column 0 = slice step, column 1 = column cosine * dr, column 2 = row cosine *
dc, column 3 = the first slice's ImagePositionPatient; orientation is the row
cosine (z, y, x) then the column cosine (z, y, x); diffusion vectors in the
JSON are DICOM (x, y, z).

Usage:
  dicom_reference.py [--case NAME]... [--list] [--image-info PATH] [--data DIR]
Environment (CTest): IMD_BUILD (image_info is $IMD_BUILD/cli/image_info),
IMD_TEST_DATA (../shared/data/imagedata).
Prints "PASS: name" or "FAIL: name: reason" per case and what it checked,
then "N passed, N failed"; exits 1 on any failure, 77 when the data is missing.
"""

import fnmatch
import functools
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pydicom
import pydicom.errors

IMAGE_INFO = None   # path of image_info, set in main()
DATA = None         # ../shared/data/imagedata
TMP_ROOT = None     # where temporary folders go
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"


# ---------------------------------------------------------------------------
# The case harness
# ---------------------------------------------------------------------------

from reference_harness import Abort, differ, options, run_cases, short  # noqa: E402


def run_info(c, urls, order=None, options=(), stats=True, want_rc=0, show=True):
    """Run image_info --json; return (series list or None, rc, stderr).

    With want_rc 0 the JSON is parsed and returned; any other exit aborts the
    case with the exit code and the first line of stderr.
    """
    args = [IMAGE_INFO, "--json"]
    if stats:
        args.append("--stats")
    if order:
        args += ["--order", order]
    for option in options:
        args += ["--input_options", option]
    args += [str(u) for u in urls]
    label = "image_info%s%s %s" % (" --order " + order if order else "",
                                   "".join(" --input_options " + o for o in options),
                                   " ".join(display(u) for u in urls))
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    except subprocess.TimeoutExpired:
        raise Abort("%s: timed out" % label)
    except OSError as e:
        raise Abort("%s: cannot run: %s" % (label, e))
    err = proc.stderr.decode("utf-8", "replace")
    if re.search(r"Sanitizer|runtime error:", err):
        c.fail(label, "sanitizer report: " + first_line(err))
    if proc.returncode != want_rc:
        raise Abort("%s: exit %d, expected %d: %s"
                    % (label, proc.returncode, want_rc, first_line(err) or "(no message)"))
    if show:
        c.note("%s -> exit %d" % (label, proc.returncode))
    if want_rc != 0:
        return None, proc.returncode, err
    try:
        series = json.loads(proc.stdout.decode("utf-8"))
    except ValueError as e:
        raise Abort("%s: output is not JSON: %s" % (label, e))
    if not isinstance(series, list):
        raise Abort("%s: output is not a JSON array" % label)
    return series, proc.returncode, err


def one_series(c, urls, **kw):
    series, _, _ = run_info(c, urls, **kw)
    if len(series) != 1:
        raise Abort("expected one series, got %d (shapes %s)"
                    % (len(series), [s.get("shape") for s in series]))
    return series[0]


def expect_error(c, urls, rc, message_re, order=None, options=()):
    """image_info must exit rc with a one-line message matching message_re."""
    _, _, err = run_info(c, urls, order=order, options=options, want_rc=rc, stats=False)
    lines = [line for line in err.splitlines() if line.strip()]
    c.true("error message present", lines, "stderr is empty")
    if message_re:
        c.true("message matches /%s/" % message_re, re.search(message_re, err, re.I),
               "stderr: %s" % first_line(err))
    c.true("no traceback-like noise", not re.search(r"Segmentation|Aborted|internal error", err),
           first_line(err))
    return err


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def display(url):
    url = str(url)
    if DATA and url.startswith(DATA):
        return "data" + url[len(DATA):]
    if TMP_ROOT and url.startswith(TMP_ROOT):
        return "tmp" + url[len(TMP_ROOT):]
    return url


# ---------------------------------------------------------------------------
# JSON accessors
# ---------------------------------------------------------------------------

def axis_names(s):
    return [a.get("name") for a in s.get("axes", [])]


def axis(s, name):
    for a in s.get("axes", []):
        if a.get("name") == name:
            return a
    raise Abort("no axis %r in %s" % (name, axis_names(s)))


def axis_values(a):
    if "values" in a:
        return a["values"]
    return [a["start"] + i * a["step"] for i in range(a["length"])]


def axis_length(a):
    return len(a["values"]) if "values" in a else a["length"]


def tags_of(s, slice_index):
    tags = s.get("tags") or {}
    if str(slice_index) not in tags:
        raise Abort("tags has no slice %d (keys %s)" % (slice_index, list(tags)[:5]))
    return tags[str(slice_index)]


def ipp_of(s, slice_index):
    positions = s.get("imagePositions") or {}
    return positions.get(str(slice_index))


def pair(value):
    """A dti component or b,bvector cell -> (b, vector list) or None."""
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]        # a cell of one component holding the pair
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float)):
        vector = value[1] if value[1] is not None else []
        return float(value[0]), list(vector)
    raise Abort("not a (b, vector) pair: %s" % short(value))


# ---------------------------------------------------------------------------
# The reference: pydicom and numpy only
# ---------------------------------------------------------------------------

class Image:
    """One DICOM image as read by pydicom, with the values the cases need."""

    def __init__(self, name, ds):
        self.name = name
        self.ds = ds
        iop = np.array([float(v) for v in ds.ImageOrientationPatient]) \
            if "ImageOrientationPatient" in ds else np.array([1, 0, 0, 0, 1, 0], float)
        self.row, self.col = iop[:3], iop[3:]
        self.ipp = np.array([float(v) for v in ds.ImagePositionPatient]) \
            if "ImagePositionPatient" in ds else np.zeros(3)
        normal = np.cross(self.row / np.linalg.norm(self.row), self.col / np.linalg.norm(self.col))
        self.normal = normal
        self.dist = float(normal @ self.ipp)
        self._pixels = None

    @property
    def pixels(self):
        if self._pixels is None:
            array = self.ds.pixel_array
            slope = float(self.ds.get("RescaleSlope", 1) or 1)
            intercept = float(self.ds.get("RescaleIntercept", 0) or 0)
            if abs(slope - 1) > 1e-4 or abs(intercept) > 1e-4:
                array = array * slope + intercept
            self._pixels = array
        return self._pixels

    def get(self, keyword, default=None):
        return self.ds.get(keyword, default)

    def private(self, creator, element):
        """A private element (group 0019) by creator and low byte, or None."""
        for block in range(0x10, 0x100):
            tag = (0x0019, block)
            if tag not in self.ds:
                continue
            if str(self.ds[tag].value).strip() == creator:
                full = (0x0019, (block << 8) | element)
                return self.ds[full].value if full in self.ds else None
        return None

    @property
    def acquisition_seconds(self):
        return tm_seconds(self.ds.AcquisitionTime)

    @property
    def bvalue(self):
        if "DiffusionBValue" in self.ds:
            return float(self.ds.DiffusionBValue)
        value = self.private("SIEMENS MR HEADER", 0x0C)
        return None if value is None else float(value)

    @property
    def bvector(self):
        """The diffusion direction (DICOM x, y, z), [] when there is none."""
        if "DiffusionGradientOrientation" in self.ds:
            return [float(v) for v in self.ds.DiffusionGradientOrientation]
        kind = self.private("SIEMENS MR HEADER", 0x0D)
        if kind is not None and str(kind).strip() == "DIRECTIONAL":
            return [float(v) for v in self.private("SIEMENS MR HEADER", 0x0E)]
        return []


def tm_seconds(value):
    text = str(value).strip()
    hours, minutes = int(text[0:2]), int(text[2:4]) if len(text) >= 4 else 0
    seconds = float(text[4:]) if len(text) > 4 else 0.0
    return hours * 3600 + minutes * 60 + seconds


def zip_member_matches(name, pattern):
    """docs/cli.md: fnmatch where * also crosses /; a folder selects all below."""
    if not pattern:
        return True
    pattern = pattern.rstrip("/")
    return fnmatch.fnmatchcase(name, pattern) or name.startswith(pattern + "/")


@functools.lru_cache(maxsize=None)
def load(source):
    """Images of a file, a folder (recursive) or zip[?pattern], sorted by name."""
    path, _, pattern = source.partition("?")
    images = []
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            for name in sorted(z.namelist()):
                if name.endswith("/") or not zip_member_matches(name, pattern):
                    continue
                images.append(Image(name, pydicom.dcmread(io.BytesIO(z.read(name)))))
    elif os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                full = os.path.join(root, f)
                try:
                    images.append(Image(full, pydicom.dcmread(full)))
                except pydicom.errors.InvalidDicomError:
                    pass
    else:
        images.append(Image(path, pydicom.dcmread(path)))
    if not images:
        raise Abort("reference: no DICOM images in %s" % source)
    return tuple(images)


def zyx(v):
    return [float(v[2]), float(v[1]), float(v[0])]


def slices_of(images, tol=1e-3):
    """Images grouped by distance along the normal, ascending: [(dist, [images])]."""
    groups = []
    for im in sorted(images, key=lambda i: i.dist):
        if groups and abs(im.dist - groups[-1][0]) <= tol:
            groups[-1][1].append(im)
        else:
            groups.append((im.dist, [im]))
    return groups


def spacing_of(ds):
    dr, dc = [float(v) for v in ds.PixelSpacing] if "PixelSpacing" in ds else (1.0, 1.0)
    if ds.get("SpacingBetweenSlices") not in (None, ""):
        ds_ = float(ds.SpacingBetweenSlices)
    elif ds.get("SliceThickness") not in (None, ""):
        ds_ = float(ds.SliceThickness)
    else:
        ds_ = 1.0
    return [ds_, dr, dc]


def geometry(images):
    """Expected geometry of one series (behaviour.md §3.2, with §12 fixed)."""
    groups = slices_of(images)
    first = groups[0][1][0]
    spacing = spacing_of(first.ds)
    n = len(groups)
    t0, tn = groups[0][1][0].ipp, groups[-1][1][0].ipp
    if n > 1:
        k = (tn - t0) / (n - 1)
    else:
        k = first.normal * spacing[0]      # §12: the true normal, not unit x
    M = np.eye(4)
    M[:3, 0] = zyx(k)
    M[:3, 1] = np.array(zyx(first.col)) * spacing[1]
    M[:3, 2] = np.array(zyx(first.row)) * spacing[2]
    M[:3, 3] = zyx(t0)
    return {
        "slices": n,
        "spacing": spacing,
        "M": M,
        "ipp": [zyx(g[1][0].ipp) for g in groups],
        "orientation": zyx(first.row) + zyx(first.col),
        "sliceLocations": [g[0] for g in groups],
        "groups": groups,
        "rows": max(int(i.ds.Rows) for i in images),
        "columns": max(int(i.ds.Columns) for i in images),
    }


def expected_dtype(images):
    """behaviour.md §3.6, decided over every image."""
    ds = images[0].ds
    if int(ds.BitsAllocated) == 8 and int(ds.get("SamplesPerPixel", 1)) == 3:
        return "rgb8"
    for im in images:
        slope = float(im.ds.get("RescaleSlope", 1) or 1)
        intercept = float(im.ds.get("RescaleIntercept", 0) or 0)
        if abs(slope - 1) > 1e-4 or abs(intercept) > 1e-4:
            return "float64"
    if int(ds.BitsAllocated) == 1:
        return "bool"
    if int(ds.BitsAllocated) == 8:
        return "uint8"
    if any(int(im.ds.get("PixelRepresentation", 0)) == 1 for im in images):
        return "int16"
    return "uint16"


def pixel_stats(images):
    total, lo, hi = 0.0, math.inf, -math.inf
    for im in images:
        p = im.pixels
        total += float(p.astype(np.float64).sum())
        lo, hi = min(lo, float(p.min())), max(hi, float(p.max()))
    return {"sum": total, "min": lo, "max": hi}


# ---------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------

def check_geometry(c, s, images, label=""):
    """spacing, M, imagePositions, orientation, sliceLocations, the slice/row/
    column axes and ipp[s] = T0 + s*M[:,0], all against pydicom."""
    g = geometry(images)
    p = label + " " if label else ""
    c.close(p + "spacing", s.get("spacing"), g["spacing"], 1e-4)
    M = s.get("transformationMatrix")
    c.close(p + "transformationMatrix", M, g["M"].tolist(), 1e-3)
    c.close(p + "orientation", s.get("orientation"), g["orientation"], 1e-6)
    c.close(p + "sliceLocations", s.get("sliceLocations"), g["sliceLocations"], 1e-4)
    positions = s.get("imagePositions") or {}
    c.eq(p + "imagePositions keys", sorted(positions, key=int) if positions else [],
         [str(i) for i in range(g["slices"])])
    c.close(p + "imagePositions", [positions.get(str(i)) for i in range(g["slices"])],
            g["ipp"], 1e-3)
    if isinstance(M, list) and len(M) == 4:
        m = np.array(M, dtype=float)
        predicted = [(m[:3, 3] + i * m[:3, 0]).tolist() for i in range(g["slices"])]
        c.close(p + "ipp[s] = T0 + s*M[:,0]", [positions.get(str(i)) for i in range(g["slices"])],
                predicted, 1e-3)
    names = axis_names(s)
    if "slice" in names:
        a = axis(s, "slice")
        c.close(p + "slice axis start,step,length",
                [a.get("start", axis_values(a)[0]), a.get("step"), axis_length(a)],
                [g["ipp"][0][0], g["spacing"][0], g["slices"]], 1e-3)
    if "row" in names and "column" in names:
        r, col = axis(s, "row"), axis(s, "column")
        c.close(p + "row axis start,step,length", [r.get("start"), r.get("step"), axis_length(r)],
                [g["ipp"][0][1], g["spacing"][1], g["rows"]], 1e-3)
        c.close(p + "column axis start,step,length",
                [col.get("start"), col.get("step"), axis_length(col)],
                [g["ipp"][0][2], g["spacing"][2], g["columns"]], 1e-3)
    return g


def check_stats(c, s, images, label=""):
    want = pixel_stats(images)
    got = s.get("stats") or {}
    p = label + " " if label else ""
    c.close(p + "stats sum", got.get("sum"), want["sum"], 1e-6 * max(1.0, abs(want["sum"])))
    c.close(p + "stats min,max", [got.get("min"), got.get("max")], [want["min"], want["max"]], 1e-9)


def check_header(c, s, images):
    """Header fields from the first file (behaviour.md §3.6)."""
    ds = images[0].ds
    c.eq("patientName", s.get("patientName"), str(ds.PatientName))
    c.eq("patientID", s.get("patientID"), str(ds.PatientID))
    c.eq("seriesNumber", s.get("seriesNumber"), int(ds.SeriesNumber))
    c.eq("seriesDescription", s.get("seriesDescription"), str(ds.SeriesDescription))
    c.eq("seriesInstanceUID", s.get("seriesInstanceUID"), str(ds.SeriesInstanceUID))
    c.eq("studyInstanceUID", s.get("studyInstanceUID"), str(ds.StudyInstanceUID))
    c.eq("modality", s.get("modality"), str(ds.Modality))
    c.eq("SOPClassUID", s.get("SOPClassUID"), str(ds.SOPClassUID))
    c.eq("dtype", s.get("dtype"), expected_dtype(images))


def time_tags(slice_images):
    return sorted(im.acquisition_seconds for im in slice_images)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def dicom(*parts):
    return os.path.join(DATA, "dicom", *parts)


def case_time_single_file(c):
    """One file: 2D, uint16, axes row/column, and per-file pixel statistics."""
    f = dicom("time", "time00", "Image_00019.dcm")
    s = one_series(c, [f])
    images = load(f)
    c.eq("shape", s.get("shape"), [192, 152])
    c.eq("dtype", s.get("dtype"), "uint16")
    c.eq("axes", axis_names(s), ["row", "column"])
    check_stats(c, s, images)
    c.close("orientation", s.get("orientation"), zyx(images[0].row) + zyx(images[0].col), 1e-6)
    c.close("imagePositions[0]", ipp_of(s, 0), zyx(images[0].ipp), 1e-3)
    # Each file on its own: a pixel checksum per image (decoding, no mixing).
    for f in sorted(os.listdir(dicom("time", "time00"))):
        path = dicom("time", "time00", f)
        one = one_series(c, [path], show=False)
        check_stats(c, one, load(path), label=f)


def case_time_two_files(c):
    files = [dicom("time", "time00", "Image_00019.dcm"), dicom("time", "time00", "Image_00020.dcm")]
    s = one_series(c, files)
    images = load(files[0]) + load(files[1])
    c.eq("shape", s.get("shape"), [2, 192, 152])
    c.eq("axes", axis_names(s), ["slice", "row", "column"])
    check_geometry(c, s, images)
    check_stats(c, s, images)


def case_time_volume(c):
    """time/time00: a 3D volume, order auto -> none, header and geometry."""
    folder = dicom("time", "time00")
    s = one_series(c, [folder])
    images = load(folder)
    c.eq("shape", s.get("shape"), [3, 192, 152])
    c.eq("input_order (auto)", s.get("input_order"), "none")
    c.eq("axes", axis_names(s), ["slice", "row", "column"])
    # Numbers from behaviour.md §3.2 and §11 "Data facts".
    c.close("spacing (spec)", s.get("spacing"), [3, 2.0833, 2.0833], 1e-4)
    c.close("sliceLocations (spec)", s.get("sliceLocations"), [27.6157, 30.6157, 33.6157], 1e-4)
    c.eq("seriesNumber (spec)", s.get("seriesNumber"), 14)
    c.eq("seriesDescription (spec)", s.get("seriesDescription"), "fl3d_dynamic")
    c.eq("patientName (spec)", s.get("patientName"), "PHANTOM^T1")
    c.eq("patientID (spec)", s.get("patientID"), "19.02.07-14:04:17-STD-1.3.12.2.1107.5.2.43.66035")
    c.close("windowCenter,windowWidth (spec)", [s.get("windowCenter"), s.get("windowWidth")],
            [847, 1694], 1e-9)
    c.eq("modality (spec)", s.get("modality"), "MR")
    c.eq("SOPClassUID (MR storage)", s.get("SOPClassUID"), MR_STORAGE)
    c.eq("photometricInterpretation", s.get("photometricInterpretation"), "MONOCHROME2")
    c.eq("imageType", s.get("imageType"), [str(v) for v in images[0].ds.ImageType])
    c.eq("frameOfReferenceUID", s.get("frameOfReferenceUID"), str(images[0].ds.FrameOfReferenceUID))
    # The same numbers from the files.
    check_header(c, s, images)
    g = check_geometry(c, s, images)
    c.eq("tags (3D: one cell [0] per slice)", [tags_of(s, i) for i in range(3)], [[[0]]] * 3)
    c.eq("timeline", s.get("timeline"), None)
    check_stats(c, s, images)
    c.note("reference M column 0 = %s" % short(g["M"][:3, 0].round(6).tolist()))


def check_time_4d(c, s, images, label=""):
    """The time/ data set: (3,3,192,152), order time, time axis and tags."""
    p = label + " " if label else ""
    c.eq(p + "shape", s.get("shape"), [3, 3, 192, 152])
    c.eq(p + "input_order", s.get("input_order"), "time")
    c.eq(p + "axes", axis_names(s), ["time", "slice", "row", "column"])
    g = geometry(images)
    times = sorted({im.acquisition_seconds for im in images})
    c.close(p + "time axis = AcquisitionTime in s since midnight",
            axis_values(axis(s, "time")), times, 1e-6)
    c.close(p + "time axis (spec, 52531.6625...)", axis_values(axis(s, "time"))[:1], [52531.6625], 1e-4)
    c.close(p + "timeline (spec)", s.get("timeline"), [0, 2.9875, 5.975], 1e-3)
    c.close(p + "timeline (files)", s.get("timeline"), [t - times[0] for t in times], 1e-6)
    c.close(p + "tags per slice", [tags_of(s, i) for i in range(g["slices"])],
            [[[t] for t in time_tags(grp)] for _, grp in g["groups"]], 1e-6)
    check_geometry(c, s, images, label)
    check_stats(c, s, images, label)
    check_header(c, s, images)


def case_time_4d(c):
    folder = dicom("time")
    check_time_4d(c, one_series(c, [folder]), load(folder))


def case_time_all_4d(c):
    folder = dicom("time_all")
    check_time_4d(c, one_series(c, [folder]), load(folder))


def case_time_zip(c):
    z = dicom("time.zip")
    check_time_4d(c, one_series(c, [z]), load(z))
    folder = z + "?time/time00"
    s = one_series(c, [folder])
    c.eq("time.zip?time/time00 shape", s.get("shape"), [3, 192, 152])
    check_geometry(c, s, load(folder), "time00 in zip")


def case_time_zip_members(c):
    """Zip member patterns (docs/cli.md: fnmatch, * crosses /)."""
    url = dicom("time.zip") + "?time/time00/Image_0002[01].dcm"
    s = one_series(c, [url])
    images = load(url)
    c.eq("reference member count", len(images), 2)
    c.eq("time00/Image_0002[01] shape", s.get("shape"), [2, 192, 152])
    check_geometry(c, s, images, "2 members")
    check_stats(c, s, images, "2 members")
    url = dicom("time.zip") + "?*0[01]/Image_0002[01].dcm"
    s = one_series(c, [url])
    images = load(url)
    c.eq("reference member count", len(images), 4)
    c.eq("*0[01]/Image_0002[01] shape", s.get("shape"), [2, 2, 192, 152])
    c.eq("*0[01]/Image_0002[01] order", s.get("input_order"), "time")
    c.close("*0[01]/Image_0002[01] time axis", axis_values(axis(s, "time")),
            sorted({im.acquisition_seconds for im in images}), 1e-6)
    check_geometry(c, s, images, "4 members")
    check_stats(c, s, images, "4 members")


def case_time_order_none(c):
    """--order none on time/: 3 images per slice -> duplicate tag, CannotSort."""
    expect_error(c, [dicom("time")], 3, r"duplicate|accept_duplicate_tag", order="none")


def case_time_order_b(c):
    """Order b on time or lena -> CannotSort (behaviour.md §11)."""
    expect_error(c, [dicom("time")], 3, None, order="b")
    expect_error(c, [dicom("lena_color.dcm")], 3, None, order="b")


def case_dwi(c):
    folder = dicom("dwi")
    s = one_series(c, [folder])
    images = load(folder)
    c.eq("shape (spec)", s.get("shape"), [3, 30, 384, 312])
    c.eq("input_order (auto)", s.get("input_order"), "b")
    c.eq("axes", axis_names(s), ["b", "slice", "row", "column"])
    c.close("b axis (spec)", axis_values(axis(s, "b")), [50, 400, 800], 1e-9)
    c.close("b axis (files)", axis_values(axis(s, "b")), sorted({im.bvalue for im in images}), 1e-9)
    c.close("spacing (spec)", s.get("spacing"), [6, 0.98958, 0.98958], 1e-4)
    g = check_geometry(c, s, images)
    c.close("tags per slice", [tags_of(s, i) for i in range(g["slices"])],
            [[[b] for b in sorted(im.bvalue for im in grp)] for _, grp in g["groups"]], 1e-9)
    check_stats(c, s, images)
    check_header(c, s, images)


def case_ti(c):
    """TI/ with a user order ti=InversionTime. The five files carry five
    SeriesInstanceUIDs, so one series needs ignore_series_uid=True (as the
    original's own test passes); without it each file is its own series."""
    folder = dicom("TI")
    images = load(folder)
    c.eq("reference: SeriesInstanceUIDs in TI/", len({str(i.ds.SeriesInstanceUID) for i in images}), 5)
    s = one_series(c, [folder], order="ti",
                   options=["ti=InversionTime", "ignore_series_uid=True"])
    c.eq("shape (spec)", s.get("shape"), [5, 1, 384, 384])
    c.eq("input_order", s.get("input_order"), "ti")
    c.eq("axes", axis_names(s), ["ti", "slice", "row", "column"])
    c.close("ti axis (spec)", axis_values(axis(s, "ti")), [30, 60, 120, 200, 400], 1e-9)
    c.close("ti axis (files)", axis_values(axis(s, "ti")),
            sorted(float(i.ds.InversionTime) for i in images), 1e-9)
    c.close("tags[0]", tags_of(s, 0), [[t] for t in [30, 60, 120, 200, 400]], 1e-9)
    c.eq("dtype", s.get("dtype"), "uint16")
    check_geometry(c, s, images)
    check_stats(c, s, images)
    series, _, _ = run_info(c, [folder], order="ti", options=["ti=InversionTime"])
    c.eq("without ignore_series_uid: one series per SeriesInstanceUID", len(series), 5)
    c.true("without ignore_series_uid: each 384x384",
           all(x.get("shape", [])[-2:] == [384, 384] for x in series),
           short([x.get("shape") for x in series]))


def five_d_url():
    return dicom("5D.zip") + "?t1_fl2d_DE_4TEs"


def expected_time_te_tags(groups):
    """time,te tags per slice (§3.5): cell [i][j] = (time, te) of the image
    with echo time te_j whose time has rank i among the images of that echo."""
    out = []
    for _, grp in groups:
        tes = sorted({float(im.ds.EchoTime) for im in grp})
        by_te = {te: sorted(im.acquisition_seconds for im in grp if float(im.ds.EchoTime) == te)
                 for te in tes}
        n = len(by_te[tes[0]])
        out.append([[[by_te[te][i], te] for te in tes] for i in range(n)])
    return out


def case_5d(c):
    url = five_d_url()
    images = load(url)
    s = one_series(c, [url], order="time,te")
    c.eq("shape (spec)", s.get("shape"), [3, 4, 3, 72, 96])
    c.eq("input_order", s.get("input_order"), "time,te")
    c.eq("axes", axis_names(s), ["time", "te", "slice", "row", "column"])
    c.close("te axis (spec)", axis_values(axis(s, "te")), [2.05, 9.84, 13.72, 17.26], 1e-9)
    g = geometry(images)
    lowest = g["groups"][0][1]
    first_te = min(float(im.ds.EchoTime) for im in lowest)
    want_time = sorted(im.acquisition_seconds for im in lowest if float(im.ds.EchoTime) == first_te)
    c.close("time axis = first-echo times of the lowest slice (§3.5)",
            axis_values(axis(s, "time")), want_time, 1e-6)
    c.close("timeline", s.get("timeline"), [t - want_time[0] for t in want_time], 1e-6)
    c.close("tags[0][0][0..1] (spec [O])", tags_of(s, 0)[0][:2],
            [[31337.775, 2.05], [31337.7825, 9.84]], 1e-6)
    c.close("tags of every slice (files)", [tags_of(s, i) for i in range(g["slices"])],
            expected_time_te_tags(g["groups"]), 1e-6)
    check_geometry(c, s, images)
    check_stats(c, s, images)
    check_header(c, s, images)


def case_5d_auto(c):
    """auto on 5D: time and te vary, te replaces time, then duplicate tags."""
    expect_error(c, [five_d_url()], 3, None)


def rsi_url():
    return dicom("ep2d_RSI_b0_500_1500_6dir.zip")


def nifti_bval_bvec():
    folder = os.path.join(DATA, "nifti")
    base = [f[:-5] for f in os.listdir(folder) if f.startswith("ep2d_RSI") and f.endswith(".bval")]
    if not base:
        raise Abort("no ep2d_RSI_*.bval in %s" % folder)
    with open(os.path.join(folder, base[0] + ".bval")) as f:
        bval = [float(v) for v in f.read().split()]
    with open(os.path.join(folder, base[0] + ".bvec")) as f:
        rows = [[float(v) for v in line.split()] for line in f if line.strip()]
    # dcm2niix writes x, -y, z (behaviour.md §5.2): undo the y inversion.
    vectors = [[rows[0][i], -rows[1][i], rows[2][i]] for i in range(len(bval))]
    return bval, vectors


def match_pairs(got, want, tol):
    """Multiset match of (b, vector) pairs; returns the unmatched wanted pairs."""
    left = list(got)
    missing = []
    for b, v in want:
        for i, (gb, gv) in enumerate(left):
            if abs(gb - b) <= 1e-6 and len(gv) == len(v) and \
                    (not v or np.allclose(gv, v, rtol=0, atol=tol)):
                del left[i]
                break
        else:
            missing.append((b, v))
    return missing


def case_rsi_dti(c):
    url = rsi_url()
    images = load(url)
    s = one_series(c, [url], order="dti")
    c.eq("shape (spec)", s.get("shape"), [13, 3, 78, 96])
    c.eq("input_order", s.get("input_order"), "dti")
    c.eq("axes", axis_names(s), ["dti", "slice", "row", "column"])
    values = [pair(v) for v in axis_values(axis(s, "dti"))]
    c.eq("dti axis b values, ascending", [b for b, _ in values], [0.0] + [500.0] * 6 + [1500.0] * 6)
    g = geometry(images)
    lowest = g["groups"][0][1]
    want = [(im.bvalue, im.bvector) for im in lowest]
    missing = match_pairs(values, want, 1e-6)
    c.true("dti axis = the lowest slice's (b, vector) pairs (files, 1e-6)", not missing,
           "unmatched %s" % short(missing))
    bval, bvec = nifti_bval_bvec()
    c.eq("NIfTI bval sorted = dti b values", sorted(bval), [b for b, _ in values])
    missing = match_pairs(values, [(b, v if b else []) for b, v in zip(bval, bvec)], 1e-5)
    c.true("dti axis = NIfTI bval/bvec pairs with y un-inverted (1e-5)", not missing,
           "unmatched %s" % short(missing))
    same_order = all(abs(gb - b) < 1e-6 and (not b or np.allclose(gv, v, atol=1e-5))
                     for (gb, gv), b, v in zip(values, bval, bvec))
    c.note("info: dti axis %s the NIfTI volume order" % ("follows" if same_order else "does not follow"))
    for i, (_, grp) in enumerate(g["groups"]):
        cells = [pair(cell) for cell in tags_of(s, i)]
        missing = match_pairs(cells, [(im.bvalue, im.bvector) for im in grp], 1e-6)
        c.true("tags[%d] = that slice's (b, vector) pairs" % i, not missing and len(cells) == 13,
               "unmatched %s" % short(missing))
        if i == 0:
            c.true("tags[0][k] agrees with dti axis value k",
                   all(cb == vb and (not vv or np.allclose(cv, vv, atol=1e-6))
                       for (cb, cv), (vb, vv) in zip(cells, values)), short(cells[:3]))
    check_geometry(c, s, images)
    check_stats(c, s, images)


def case_rsi_b_bvector(c):
    """b,bvector: (3,7,3,78,96) with sparse cells (§3.5)."""
    url = rsi_url()
    images = load(url)
    s = one_series(c, [url], order="b,bvector")
    c.eq("shape (spec)", s.get("shape"), [3, 7, 3, 78, 96])
    c.eq("input_order", s.get("input_order"), "b,bvector")
    c.eq("axes", axis_names(s), ["b", "bvector", "slice", "row", "column"])
    c.close("b axis", axis_values(axis(s, "b")), [0, 500, 1500], 1e-9)
    vectors = axis_values(axis(s, "bvector"))
    c.true("bvector axis: 7 values, the empty one first",
           len(vectors) == 7 and vectors[0] in ([], None), short(vectors))
    g = geometry(images)
    lowest = g["groups"][0][1]
    want500 = [im.bvector for im in lowest if im.bvalue == 500]
    got = [(500.0, v) for v in vectors[1:] if v]
    # The b=1500 directions agree with the b=500 ones within 3e-4, so they
    # are one axis value (allclose rtol 1e-3, atol 1e-2); either may be kept.
    missing = match_pairs(got, [(500.0, v) for v in want500], 1e-3)
    c.true("bvector axis = the files' 6 directions (1e-3)", not missing and len(got) == 6,
           "unmatched %s" % short(missing))
    for i, (_, grp) in enumerate(g["groups"]):
        t = tags_of(s, i)
        if not (isinstance(t, list) and len(t) == 3 and all(isinstance(r, list) and len(r) == 7 for r in t)):
            c.fail("tags[%d] shape 3x7" % i, short(t))
            continue
        row0 = [pair(x) for x in t[0]]
        c.true("tags[%d] row b0 = [(0, []), None x6]" % i,
               row0[0] == (0.0, []) and all(x is None for x in row0[1:]), short(t[0]))
        for r, b in ((1, 500.0), (2, 1500.0)):
            cells = [pair(x) for x in t[r]]
            ok = cells[0] is None and all(x is not None for x in cells[1:])
            c.true("tags[%d] row %g = [None, 6 cells]" % (i, b), ok, short(t[r]))
            if not ok:
                continue
            missing = match_pairs(cells[1:], [(b, im.bvector) for im in grp if im.bvalue == b], 1e-6)
            c.true("tags[%d] row %g keeps each file's own vector" % (i, b), not missing,
                   "unmatched %s" % short(missing))
            c.true("tags[%d] row %g: cell k's vector ~ bvector axis value k (atol 1e-2)" % (i, b),
                   all(np.allclose(cv, vectors[k + 1], rtol=1e-3, atol=1e-2)
                       for k, (_, cv) in enumerate(cells[1:])), short(cells[1:3]))
    # behaviour.md §11 (series): si[1,:].tags[0][1][0] ~ [0, -.7064, -.7078].
    try:
        c.close("tags[0][1][1] vector (spec §11, [O])", pair(tags_of(s, 0)[1][1])[1],
                [0, -0.7064, -0.7078], 1e-4)
    except (Abort, IndexError, TypeError) as e:
        c.fail("tags[0][1][1] vector (spec §11, [O])", str(e))
    check_geometry(c, s, images)
    check_stats(c, s, images)


def case_rsi_b(c):
    url = rsi_url()
    images = load(url)
    expect_error(c, [url], 3, r"duplicate", order="b")
    s = one_series(c, [url], order="b", options=["accept_duplicate_tag=True"])
    c.eq("shape", s.get("shape"), [13, 3, 78, 96])
    c.close("b axis (spec: [0, 500x6, 1500x6])", axis_values(axis(s, "b")),
            [0] + [500] * 6 + [1500] * 6, 1e-9)
    bval, _ = nifti_bval_bvec()
    c.close("b axis = NIfTI bval sorted", axis_values(axis(s, "b")), sorted(bval), 1e-9)
    g = geometry(images)
    c.close("tags per slice", [tags_of(s, i) for i in range(g["slices"])],
            [[[b] for b in sorted(im.bvalue for im in grp)] for _, grp in g["groups"]], 1e-9)
    check_stats(c, s, images)


def case_auto_rsi(c):
    """auto on RSI: several directions per b value, so dti in acquisition order
    (issue 13; the original failed with 'Duplicate tag', behaviour.md §3.4 [O]):
    13 volumes, volume k = each slice's k-th image by InstanceNumber."""
    url = rsi_url()
    images = load(url)
    s = one_series(c, [url])
    c.eq("shape", s.get("shape"), [13, 3, 78, 96])
    c.eq("input_order", s.get("input_order"), "dti")
    g = geometry(images)
    for i, (_, grp) in enumerate(g["groups"]):
        acquired = sorted(grp, key=lambda im: int(im.get("InstanceNumber")))
        want = [(im.bvalue, im.bvector if im.bvalue else []) for im in acquired]
        got = [pair(x) for x in tags_of(s, i)]
        ok = len(got) == len(want) and all(
            g_ is not None and abs(g_[0] - w[0]) < 1e-6 and np.allclose(g_[1] or [0, 0, 0], w[1] or [0, 0, 0], atol=1e-6)
            for g_, w in zip(got, want))
        c.true("slice %d: (b, vector) per volume in InstanceNumber order" % i, ok,
               "got %s want %s" % (short(got[:3]), short(want[:3])))


def copy_files(sources, dest, prefix):
    os.makedirs(dest, exist_ok=True)
    for i, src in enumerate(sources):
        shutil.copyfile(src, os.path.join(dest, "%s%03d.dcm" % (prefix, i)))


def extract(url, dest, prefix):
    """Write zip members (zip?pattern) as files into dest."""
    path, _, pattern = url.partition("?")
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(path) as z:
        names = [n for n in sorted(z.namelist()) if not n.endswith("/") and zip_member_matches(n, pattern)]
        for i, name in enumerate(names):
            with open(os.path.join(dest, "%s%03d.dcm" % (prefix, i)), "wb") as f:
                f.write(z.read(name))


def files_in(folder):
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out += [os.path.join(root, f) for f in sorted(files)]
    return out


def case_duplicates(c):
    """behaviour.md §3.5: 2D x3 -> (3,1,192,152); 3D x3 -> (3,3,...);
    time x3 -> (9,3,...); time,te x3 -> (3,12,3,72,96); CannotSort without
    accept_duplicate_tag. Copies keep every UID, as the original's test."""
    accept = ["accept_duplicate_tag=True"]
    with tempfile.TemporaryDirectory(dir=TMP_ROOT) as tmp:
        one = dicom("time", "time00", "Image_00019.dcm")
        d2 = os.path.join(tmp, "d2")
        for k in range(3):
            copy_files([one], os.path.join(d2, str(k)), "copy%d_" % k)
        expect_error(c, [d2], 3, r"duplicate", order="none")
        s = one_series(c, [d2], order="none", options=accept)
        c.eq("2D x3 shape", s.get("shape"), [3, 1, 192, 152])
        c.eq("2D x3 axes", axis_names(s), ["none", "slice", "row", "column"])
        check_stats(c, s, load(one) * 3, "2D x3")
        s = one_series(c, [os.path.join(d2, "0")], order="none", options=accept)
        c.eq("one of them alone, accept_duplicate_tag: shape", s.get("shape"), [192, 152])

        d3 = os.path.join(tmp, "d3")
        vol = files_in(dicom("time", "time00"))
        for k in range(3):
            copy_files(vol, os.path.join(d3, str(k)), "copy%d_" % k)
        expect_error(c, [d3], 3, r"duplicate", order="none")
        s = one_series(c, [d3], order="none", options=accept)
        c.eq("3D x3 shape", s.get("shape"), [3, 3, 192, 152])
        c.eq("3D x3 axes", axis_names(s), ["none", "slice", "row", "column"])
        check_geometry(c, s, load(dicom("time", "time00")), "3D x3")

        d4 = os.path.join(tmp, "d4")
        series4 = files_in(dicom("time"))
        for k in range(3):
            copy_files(series4, os.path.join(d4, str(k)), "copy%d_" % k)
        expect_error(c, [d4], 3, r"duplicate", order="time")
        s = one_series(c, [d4], order="time", options=accept)
        c.eq("time x3 shape", s.get("shape"), [9, 3, 192, 152])
        times = sorted({im.acquisition_seconds for im in load(dicom("time"))})
        c.close("time x3 time axis: each time point three times",
                axis_values(axis(s, "time")), [t for t in times for _ in range(3)], 1e-6)
        s = one_series(c, [os.path.join(d4, "0")], order="time", options=accept)
        c.eq("time, one copy, accept_duplicate_tag: shape", s.get("shape"), [3, 3, 192, 152])

        d5 = os.path.join(tmp, "d5")
        for k in range(3):
            extract(five_d_url(), os.path.join(d5, str(k)), "copy%d_" % k)
        expect_error(c, [d5], 3, r"duplicate", order="time,te")
        s = one_series(c, [d5], order="time,te", options=accept)
        c.eq("time,te x3 shape", s.get("shape"), [3, 12, 3, 72, 96])
        c.close("time,te x3 te axis: each TE three times", axis_values(axis(s, "te")),
                [te for te in [2.05, 9.84, 13.72, 17.26] for _ in range(3)], 1e-9)


# Orientation sets: behaviour.md §11.
ORIENTATIONS = {
    "cor_oblique": ([40, 320, 320], [9.6, 1, 1]),
    "tra_rl": ([3, 320, 220], [6.5, 0.71875, 0.71875]),
    "cor_rl": ([3, 320, 220], [6.5, 0.71875, 0.71875]),
    "sag_ap": ([3, 320, 220], [6.5, 0.71875, 0.71875]),
    "sag_oblique": ([3, 320, 220], [6.5, 0.71875, 0.71875]),
    "tra_oblique": ([3, 220, 320], [6.5, 0.71875, 0.71875]),
    "cor_hf": ([3, 220, 320], [6.5, 0.71875, 0.71875]),
    "sag_hf": ([3, 220, 320], [6.5, 0.71875, 0.71875]),
}
M_ROW0 = {"sag_ap": [0, -0.71875, 0, 85.992], "tra_rl": [6.5, 0, 0, -35.508]}  # [O]


def case_orientations(c):
    for name, (shape, spacing) in ORIENTATIONS.items():
        url = dicom(name + ".zip")
        images = load(url)
        try:
            s = one_series(c, [url])
        except Abort as e:
            c.fail(name, str(e))
            continue
        c.eq(name + " shape (spec)", s.get("shape"), shape)
        c.close(name + " spacing (spec)", s.get("spacing"), spacing, 1e-6)
        c.eq(name + " order", s.get("input_order"), "none")
        if name in M_ROW0:
            M = s.get("transformationMatrix") or [[]]
            c.close(name + " M row 0 (spec [O])", M[0], M_ROW0[name], 1e-3)
        check_geometry(c, s, images, name)
        check_stats(c, s, images, name)
    # The unzipped cor_oblique folder reads the same.
    folder = dicom("cor_oblique")
    if os.path.isdir(folder):
        s = one_series(c, [folder])
        c.eq("cor_oblique/ folder shape", s.get("shape"), [40, 320, 320])
        check_geometry(c, s, load(folder), "cor_oblique/")


def case_single_slice_normal(c):
    """§12: one slice gets the true slice normal * ds in M[:,0], not unit x."""
    for url in (dicom("time", "time00", "Image_00019.dcm"),
                dicom("sag_oblique.zip") + "?sag_oblique/54818273",
                dicom("cor_oblique", "Image_00000.dcm")):
        images = load(url)
        s = one_series(c, [url])
        label = display(url).split("/")[-1]
        c.eq(label + " shape", s.get("shape"), [int(images[0].ds.Rows), int(images[0].ds.Columns)])
        g = geometry(images)
        M = s.get("transformationMatrix") or [[None] * 4] * 4
        got = [M[r][0] for r in range(3)]
        c.close(label + " M[:,0] = normal(zyx) * ds", got, g["M"][:3, 0].tolist(), 1e-4)
        c.true(label + " M[:,0] is not unit x", differ(got, [0, 0, 1], 1e-3) is not None, short(got))
        c.close(label + " M", M, g["M"].tolist(), 1e-3)
        c.close(label + " spacing", s.get("spacing"), g["spacing"], 1e-6)


def case_lena_color(c):
    f = dicom("lena_color.dcm")
    images = load(f)
    s = one_series(c, [f])
    c.eq("shape", s.get("shape"), [512, 512])
    c.eq("dtype", s.get("dtype"), "rgb8")
    c.eq("photometricInterpretation", s.get("photometricInterpretation"), "RGB")
    c.eq("SOPClassUID (SC)", s.get("SOPClassUID"), str(images[0].ds.SOPClassUID))
    c.eq("modality", s.get("modality"), str(images[0].ds.Modality))
    p = images[0].ds.pixel_array
    c.eq("reference pixel array", list(p.shape), [512, 512, 3])
    c.close("stats sum = pydicom sum over every channel", (s.get("stats") or {}).get("sum"),
            float(p.astype(np.int64).sum()), 0.5)
    c.close("stats min,max", [(s.get("stats") or {}).get("min"), (s.get("stats") or {}).get("max")],
            [float(p.min()), float(p.max())], 0)
    c.close("windowCenter,windowWidth as read", [s.get("windowCenter"), s.get("windowWidth")],
            [float(images[0].ds.WindowCenter), float(images[0].ds.WindowWidth)], 1e-9)


def case_cohort(c):
    """cohort.zip: every series, one JSON object each (behaviour.md §10)."""
    url = dicom("cohort.zip")
    images = load(url)
    groups = {}
    for im in images:
        groups.setdefault(str(im.ds.SeriesInstanceUID), []).append(im)
    spec = {"t2_haste_tra": [3, 84, 192], "t1_vibe_flip3": [12, 64, 30], "t2_tse_sag": [3, 480, 320],
            "t2_tse_tra": [3, 320, 390], "t2_tse_cor": [3, 320, 320]}
    series, _, _ = run_info(c, [url])
    c.eq("series count (files: %d SeriesInstanceUIDs)" % len(groups), len(series), len(groups))
    c.eq("series count (spec: 2 patients x 5)", len(series), 10)
    by_uid = {x.get("seriesInstanceUID"): x for x in series}
    c.eq("series UIDs", sorted(by_uid, key=str), sorted(groups))
    c.eq("patients", sorted({x.get("patientID") for x in series}, key=str), ["34578789", "757775434"])
    for uid, imgs in sorted(groups.items(), key=lambda kv: (str(kv[1][0].ds.PatientID),
                                                            int(kv[1][0].ds.SeriesNumber))):
        s = by_uid.get(uid)
        descr = str(imgs[0].ds.SeriesDescription)
        label = "%s/%s" % (imgs[0].ds.PatientID, descr)
        if s is None:
            c.fail(label, "missing from the output")
            continue
        g = geometry(imgs)
        c.eq(label + " shape (files)", s.get("shape"), [g["slices"], g["rows"], g["columns"]])
        c.eq(label + " shape (spec)", s.get("shape"), spec.get(descr))
        c.eq(label + " seriesDescription", s.get("seriesDescription"), descr)
        check_geometry(c, s, imgs, label)
        check_stats(c, s, imgs, label)


def case_missing_slice(c):
    """A missing slice is an error wherever the gap is (§12: the original only
    caught gaps larger than the first). cor_oblique has 40 slices 9.6 mm apart."""
    src = files_in(dicom("cor_oblique"))
    order = [im.name for _, grp in slices_of(load(dicom("cor_oblique"))) for im in grp]
    with tempfile.TemporaryDirectory(dir=TMP_ROOT) as tmp:
        for label, drop in (("middle", order[20]), ("second", order[1]), ("last but one", order[-2])):
            d = os.path.join(tmp, label.replace(" ", "_"))
            copy_files([f for f in src if f != drop], d, "im")
            c.note("cor_oblique without its %s slice (%s)" % (label, os.path.basename(drop)))
            expect_error(c, [d], 3, r"gap|missing|apart|spacing|uneven|distance")


def case_missing_slice_time00(c):
    """time00 without its middle file: two slices 6 mm apart. With only one
    gap, the gaps cannot show a missing slice; the files' own spacing can.
    time00 states only SliceThickness 3, which gapped acquisitions legitimately
    exceed, so that gives a warning; SpacingBetweenSlices 3 (added with
    pydicom) makes it CannotSort. A missing slice among more slices is found
    from the gaps alone (the third part)."""
    with tempfile.TemporaryDirectory(dir=TMP_ROOT) as tmp:
        src = files_in(dicom("time", "time00"))
        copy_files([src[0], src[2]], tmp, "im")
        series, _, err = run_info(c, [tmp], stats=False)
        c.eq("two slices kept", series[0]["shape"], [2, 192, 152])
        c.true("warning names the missing slice", re.search(r"missing", err), first_line(err))
    with tempfile.TemporaryDirectory(dir=TMP_ROOT) as tmp:
        for i in (0, 2):
            ds = pydicom.dcmread(src[i])
            ds.SpacingBetweenSlices = 3
            ds.save_as(os.path.join(tmp, "im%d.dcm" % i))
        expect_error(c, [tmp], 3, r"missing")
    with tempfile.TemporaryDirectory(dir=TMP_ROOT) as tmp:
        volumes = [files_in(dicom("time", "time0%d" % t)) for t in range(3)]
        # three volumes of three slices, the middle slice of every volume removed
        # except the first: uneven counts per slice
        copy_files(volumes[0] + [volumes[1][0], volumes[1][2]] + [volumes[2][0], volumes[2][2]],
                   tmp, "im")
        expect_error(c, [tmp], 3, r"slice 1 .*has 1 image|expected 3")


def case_gantry_tilt(c):
    """GantryDetectorTilt 5 -> CannotSort (behaviour.md §3.2)."""
    with tempfile.TemporaryDirectory(dir=TMP_ROOT) as tmp:
        for i, f in enumerate(files_in(dicom("time", "time00"))):
            ds = pydicom.dcmread(f)
            ds.GantryDetectorTilt = 5
            ds.save_as(os.path.join(tmp, "tilt%d.dcm" % i))
        check = pydicom.dcmread(os.path.join(tmp, "tilt0.dcm"))
        c.eq("reference: rewritten GantryDetectorTilt", float(check.GantryDetectorTilt), 5.0)
        expect_error(c, [tmp], 3, r"tilt")
        one = os.path.join(tmp, "tilt0.dcm")
        expect_error(c, [one], 3, r"tilt")


def case_mixed_series(c):
    """time00 and dwi files in one folder: two series in one list (the original
    raised without split options)."""
    with tempfile.TemporaryDirectory(dir=TMP_ROOT) as tmp:
        copy_files(files_in(dicom("time", "time00")), tmp, "time")
        copy_files(files_in(dicom("dwi")), tmp, "dwi")
        series, _, _ = run_info(c, [tmp])
        c.eq("series count", len(series), 2)
        shapes = sorted((x.get("shape") for x in series), key=len)
        c.eq("shapes", shapes, [[3, 192, 152], [3, 30, 384, 312]])
        by_number = {x.get("seriesNumber"): x for x in series}
        c.eq("series numbers", sorted(by_number, key=str),
             sorted({int(load(dicom("time", "time00"))[0].ds.SeriesNumber),
                     int(load(dicom("dwi"))[0].ds.SeriesNumber)}, key=str))
        t = by_number.get(14)
        if t:
            c.eq("time00 order", t.get("input_order"), "none")
            check_stats(c, t, load(dicom("time", "time00")), "time00")
        dwi = by_number.get(int(load(dicom("dwi"))[0].ds.SeriesNumber))
        if dwi:
            c.eq("dwi order", dwi.get("input_order"), "b")
            check_stats(c, dwi, load(dicom("dwi")), "dwi")


CASES = [
    case_time_single_file, case_time_two_files, case_time_volume, case_time_4d,
    case_time_all_4d, case_time_zip, case_time_zip_members, case_time_order_none,
    case_time_order_b, case_dwi, case_ti, case_5d, case_5d_auto, case_rsi_dti,
    case_rsi_b_bvector, case_rsi_b, case_auto_rsi, case_duplicates, case_orientations,
    case_single_slice_normal, case_lena_color, case_cohort, case_missing_slice,
    case_missing_slice_time00, case_gantry_tilt, case_mixed_series,
]


def main():
    global IMAGE_INFO, DATA, TMP_ROOT
    args, code = options(__doc__, CASES)
    if code is not None:
        return code
    IMAGE_INFO, DATA = args.image_info, args.data
    if not DATA or not os.path.isdir(os.path.join(DATA, "dicom")):
        print("SKIP: no reference data in %r (IMD_TEST_DATA)" % args.data)
        return 77
    tmp = os.environ.get("IMD_TEST_TMP")
    TMP_ROOT = tmp if tmp and os.path.isdir(tmp) else None
    print("image_info %s; data %s; pydicom %s, numpy %s"
          % (IMAGE_INFO, DATA, pydicom.__version__, np.__version__))
    return run_cases(CASES, args.case, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
