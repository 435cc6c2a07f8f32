#!/usr/bin/env python3
"""DICOM write acceptance tests: image_data --of dicom against pydicom and dcmdump.

Every case writes DICOM with `image_data` (the default output format) from the
original project's test data (../shared/data/imagedata) or from small inputs
made here with scipy/nibabel, and checks the files with two independent
readers: pydicom (values, pixels, UIDs) and dcmtk's dcmdump (every written
file must be read without a "W:", "E:" or "F:" line). Expected values come
from the source files (read with pydicom), from the inputs made here, or from
behaviour.md §4, §5.5 and §11 (compare_pydicom, layouts, bool, float window,
UID rules, dicom_template); read-backs with `image_info --json` are compared
with image_info's description of the source (the reader itself is tested
against pydicom by dicom_reference.py).

Allowed exception, reported with Case.info: the Siemens CSA image header
(0029,1010) describes one image, and the writer drops it instead of copying
the template's into every file (docs/dicom-writing.md).

Usage:
  dicom_write_reference.py [--case NAME]... [--list] [--keep] [-v]
      [--image-data PATH] [--image-info PATH] [--data DIR]
Environment (CTest): IMD_BUILD (the programs are $IMD_BUILD/cli/image_data
and image_info), IMD_TEST_DATA (../shared/data/imagedata).
Prints "PASS: name", "FAIL: name: reason" or "SKIP: name: reason" per case,
what it checked and what it measured, then "N passed, N failed, N skipped";
exits 1 on any failure, 77 when the data is missing or every case skipped.
"""

import hashlib
import importlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import pydicom
import pydicom.errors
from pydicom.pixel_data_handlers.util import apply_modality_lut

from reference_harness import Abort, Skip, differ, options, run_cases, short  # noqa: E402

IMAGE_DATA = None   # the image_data program, set in main()
IMAGE_INFO = None   # the image_info program
DATA = None         # ../shared/data/imagedata
TMP = None          # a private temporary folder, removed at the end
DCMDUMP = None      # dcmtk's dcmdump, or None (its checks are then skipped, loudly)

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
SC_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$")

# compare_pydicom (behaviour.md §11): source elements that need not reappear equal.
NOT_COMPARED = {"ContentDate", "ContentTime", "InstanceNumber", "LargestPixelValueInSeries",
                "WindowCenter", "WindowWidth", "AcquisitionNumber", "PixelData"}
NEW_UIDS = {"SOPInstanceUID", "SeriesInstanceUID"}
# Source elements the writer may drop (an allowed exception, reported when it happens).
MAY_BE_DROPPED = {(0x0029, 0x1010): "Siemens CSA image header (0029,1010), per image"}


# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------

def display(path):
    path = str(path)
    if DATA and path.startswith(DATA):
        return "data" + path[len(DATA):]
    if TMP and path.startswith(TMP):
        return "tmp" + path[len(TMP):]
    return path


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def run(c, args, label, want_rc=0):
    try:
        proc = subprocess.run([str(a) for a in args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=300)
    except subprocess.TimeoutExpired:
        raise Abort("%s: timed out" % label)
    except OSError as e:
        raise Abort("%s: cannot run: %s" % (label, e))
    err = proc.stderr.decode("utf-8", "replace")
    if re.search(r"Sanitizer|runtime error:", err):
        c.fail(label, "sanitizer report: " + first_line(err))
    if want_rc is not None and proc.returncode != want_rc:
        raise Abort("%s: exit %d, expected %d: %s"
                    % (label, proc.returncode, want_rc, first_line(err) or "(no message)"))
    return proc


def write(c, out, inputs, *options, want_rc=0):
    """image_data [options] OUT INPUT... (DICOM, the default output format)."""
    label = "image_data %s %s %s" % (" ".join(display(o) for o in options), display(out),
                                     " ".join(display(i) for i in inputs))
    proc = run(c, [IMAGE_DATA] + list(options) + [out] + list(inputs), label, want_rc)
    c.note("%s -> exit %d" % (" ".join(label.split()), proc.returncode))
    return proc


def info_json(c, url, order=None, options=()):
    args = [IMAGE_INFO, "--json", "--stats"]
    if order:
        args += ["--order", order]
    for option in options:
        args += ["--input_options", option]
    args.append(url)
    label = "image_info --json --stats%s %s" % (" --order " + order if order else "", display(url))
    proc = run(c, args, label)
    try:
        series = json.loads(proc.stdout.decode("utf-8"))
    except ValueError as e:
        raise Abort("%s: output is not JSON: %s" % (label, e))
    if not isinstance(series, list) or len(series) != 1:
        raise Abort("%s: expected one series, got %s" % (label, short(series, 120)))
    c.note(label)
    return series[0]


def tmp(name):
    """A fresh path (not created) in the temporary folder."""
    path = os.path.join(TMP, name)
    k = 1
    while os.path.exists(path) or os.path.exists(path + ".dcm"):
        k += 1
        path = os.path.join(TMP, "%s_%d" % (name, k))
    return path


def dicom(*parts):
    return os.path.join(DATA, "dicom", *parts)


def files_under(folder):
    """Relative paths of the regular files below folder, sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for f in sorted(files):
            found.append(os.path.relpath(os.path.join(root, f), folder))
    return sorted(found)


# ---------------------------------------------------------------------------
# Sources (pydicom)
# ---------------------------------------------------------------------------

def load_sources(source):
    """[(name, dataset)] of a file, a folder (recursive) or zip?folder, sorted by name."""
    path, _, pattern = source.partition("?")
    found = []
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            for name in sorted(z.namelist()):
                if name.endswith("/") or (pattern and not name.startswith(pattern.rstrip("/") + "/")):
                    continue
                found.append((name, pydicom.dcmread(io.BytesIO(z.read(name)))))
    elif os.path.isdir(path):
        for name in files_under(path):
            try:
                found.append((name, pydicom.dcmread(os.path.join(path, name))))
            except pydicom.errors.InvalidDicomError:
                pass
    else:
        found.append((os.path.basename(path), pydicom.dcmread(path)))
    if not found:
        raise Abort("reference: no DICOM files in %s" % display(source))
    return found


def tm_seconds(value):
    text = str(value).strip()
    if not text:
        return None
    hours = int(text[0:2])
    minutes = int(text[2:4]) if len(text) >= 4 else 0
    seconds = float(text[4:]) if len(text) > 4 else 0.0
    return hours * 3600 + minutes * 60 + seconds


def floats(value):
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return [float(v) for v in value]
    return [float(value)]


def normal_of(ds):
    iop = floats(ds.ImageOrientationPatient)
    return np.cross(np.array(iop[:3]), np.array(iop[3:]))


def distance(ds):
    return float(normal_of(ds) @ np.array(floats(ds.ImagePositionPatient)))


def key(ds):
    """Identifies an image of a series: its position and its acquisition time."""
    ipp = tuple(round(v, 2) for v in floats(ds.get("ImagePositionPatient", [0, 0, 0])))
    acquired = tm_seconds(ds.get("AcquisitionTime", ""))
    return ipp, None if acquired is None else round(acquired, 3)


def pixel_key(ds):
    ipp = tuple(round(v, 2) for v in floats(ds.get("ImagePositionPatient", [0, 0, 0])))
    return ipp, hashlib.sha1(np.ascontiguousarray(ds.pixel_array).tobytes()).hexdigest()


def private(ds, group, creator, low):
    """A private element by creator and low byte (PS3.5 §7.8.1), or None."""
    for block in range(0x10, 0x100):
        tag = (group, block)
        if tag in ds and str(ds[tag].value).strip() == creator:
            full = (group, (block << 8) | low)
            return ds[full] if full in ds else None
    return None


def checksum(paths):
    h = hashlib.sha256()
    for p in sorted(paths):
        with open(p, "rb") as f:
            h.update(p.encode() + b"\0" + f.read())
    return h.hexdigest()


# ---------------------------------------------------------------------------
# Written files: Part 10 structure (pydicom) and dcmdump
# ---------------------------------------------------------------------------

_dcmdump_reported = []


def dcmdump_clean(c, label, paths):
    """dcmtk reads every file without a warning or error."""
    if not paths:
        return
    if DCMDUMP is None:
        if not _dcmdump_reported:
            _dcmdump_reported.append(True)
            print("NOTE: dcmdump (dcmtk) is not installed: its checks are SKIPPED")
        c.info("dcmdump checks skipped: dcmdump not installed")
        return
    bad = []
    for start in range(0, len(paths), 100):
        batch = paths[start:start + 100]
        proc = subprocess.run([DCMDUMP] + batch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=300)
        text = proc.stdout.decode("utf-8", "replace")
        lines = [line for line in text.splitlines() if re.match(r"^(W|E|F): ", line)]
        if proc.returncode != 0 or lines:
            bad.append("exit %d; %s" % (proc.returncode, "; ".join(lines[:3]) or "(no message)"))
    c.true("%s: dcmdump reads the %d files without W:/E: lines" % (label, len(paths)),
           not bad, "; ".join(bad)[:400])


def read_written(c, label, folder_or_files):
    """Read written files with pydicom (Part 10, no force) and check the file meta.

    Returns {relative name: dataset} (a folder) or {path: dataset} (a list).
    """
    if isinstance(folder_or_files, str):
        names = files_under(folder_or_files)
        paths = [os.path.join(folder_or_files, n) for n in names]
    else:
        paths = list(folder_or_files)
        names = [os.path.basename(p) for p in paths]
    if not paths:
        raise Abort("%s: no files written" % label)
    written = {}
    problems = []
    for name, path in zip(names, paths):
        try:
            ds = pydicom.dcmread(path)
        except Exception as e:  # not Part 10, or damaged
            problems.append("%s: pydicom: %s" % (name, e))
            continue
        meta = ds.file_meta
        if str(meta.get("TransferSyntaxUID", "")) != EXPLICIT_VR_LE:
            problems.append("%s: transfer syntax %s" % (name, meta.get("TransferSyntaxUID")))
        if str(meta.get("MediaStorageSOPClassUID", "")) != str(ds.get("SOPClassUID", "?")):
            problems.append("%s: MediaStorageSOPClassUID %s != SOPClassUID %s"
                            % (name, meta.get("MediaStorageSOPClassUID"), ds.get("SOPClassUID")))
        if str(meta.get("MediaStorageSOPInstanceUID", "")) != str(ds.get("SOPInstanceUID", "?")):
            problems.append("%s: MediaStorageSOPInstanceUID != SOPInstanceUID" % name)
        written[name] = ds
    c.true("%s: %d files are Part 10, Explicit VR LE, file meta = data set UIDs"
           % (label, len(paths)), not problems, "; ".join(problems[:3]))
    dcmdump_clean(c, label, paths)
    return written


# ---------------------------------------------------------------------------
# Element comparison (behaviour.md §11 compare_pydicom)
# ---------------------------------------------------------------------------

def same_value(vr, want, got):
    if vr == "DS":
        a, b = floats(want), floats(got)
        return len(a) == len(b) and np.allclose(b, a, rtol=1e-2, atol=1e-6)
    if vr == "TM":
        a, b = tm_seconds(want or ""), tm_seconds(got or "")
        return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 1e-6)
    if vr == "IS":
        return [int(v) for v in floats(want)] == [int(v) for v in floats(got)]
    if isinstance(want, bytes) and isinstance(got, bytes):
        return want.rstrip(b"\0 ") == got.rstrip(b"\0 ")
    return want == got


def compare_elements(c, label, src, out, keep_uid, dropped):
    """Every source element reappears equal, except behaviour.md §11's list."""
    compared = 0
    for element in src:
        if element.VR == "SQ" or element.tag.group == 0x0002:
            continue
        keyword = element.keyword
        if keyword in NOT_COMPARED or (keyword in NEW_UIDS and not keep_uid):
            continue
        tag = (element.tag.group, element.tag.element)
        if element.tag not in out:
            if tag in MAY_BE_DROPPED:
                dropped.add(MAY_BE_DROPPED[tag])
                continue
            c.fail("%s: %s %s" % (label, element.tag, keyword or element.name), "missing in the output")
            continue
        compared += 1
        got = out[element.tag]
        if not same_value(element.VR, element.value, got.value):
            c.fail("%s: %s %s" % (label, element.tag, keyword or element.name),
                   "got %s, expected %s" % (short(str(got.value), 80), short(str(element.value), 80)))
    return compared


def compare_series(c, label, sources, written, keep_uid=False):
    """Match each written file to its source (position, acquisition time): elements and pixels."""
    c.eq("%s: file count" % label, len(written), len(sources))
    by_key = {}
    for name, ds in written.items():
        k = key(ds)
        if k in by_key:
            c.fail("%s: two files at %s" % (label, short(k)), "%s and %s" % (by_key[k][0], name))
        by_key[k] = (name, ds)
    compared = 0
    dropped = set()
    pixels_equal = 0
    for name, src in sources:
        k = key(src)
        if k not in by_key:
            c.fail("%s: %s" % (label, name), "no written file at %s" % short(k))
            continue
        out_name, out = by_key[k]
        where = "%s: %s -> %s" % (label, os.path.basename(name), out_name)
        compared += compare_elements(c, where, src, out, keep_uid, dropped)
        if np.array_equal(src.pixel_array, out.pixel_array):
            pixels_equal += 1
        else:
            c.fail(where, "pixel arrays differ")
        if keep_uid:
            c.eq("%s: SOPInstanceUID kept" % where, str(out.SOPInstanceUID), str(src.SOPInstanceUID))
            c.eq("%s: SeriesInstanceUID kept" % where, str(out.SeriesInstanceUID),
                 str(src.SeriesInstanceUID))
        else:
            c.true("%s: new SOPInstanceUID" % where, out.SOPInstanceUID != src.SOPInstanceUID)
            c.true("%s: new SeriesInstanceUID" % where, out.SeriesInstanceUID != src.SeriesInstanceUID)
    c.note("%s: elements and pixels of %d files" % (label, len(sources)))
    c.info("%s: %d files, %d source elements found equal, %d pixel arrays equal%s"
           % (label, len(written), compared, pixels_equal,
              "; allowed exception: " + ", ".join(sorted(dropped)) + " not written" if dropped else ""))


# ---------------------------------------------------------------------------
# Read-back JSON
# ---------------------------------------------------------------------------

# The source's transfer syntax is not a property of the series: a write chooses its own.
JSON_IGNORED = {"url", "seriesInstanceUID", "transferSyntax", "transferSyntaxUID"}
JSON_TOLERANCE = {"transformationMatrix": 1e-3}


def json_diff(got, want, tol, where=""):
    """The first difference between two JSON values (numbers within tol), or None."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: not an object" % where
        for k in sorted(set(want) | set(got)):
            if not where and k in JSON_IGNORED:
                continue
            if k not in got or k not in want:
                return "%s.%s: %s" % (where, k, "missing" if k not in got else "unexpected")
            reason = json_diff(got[k], want[k], JSON_TOLERANCE.get(k, tol) if not where else tol,
                               "%s.%s" % (where, k))
            if reason:
                return reason
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return "%s: %s, expected %s" % (where, short(got, 80), short(want, 80))
        for i, (g, w) in enumerate(zip(got, want)):
            reason = json_diff(g, w, tol, "%s[%d]" % (where, i))
            if reason:
                return reason
        return None
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        reason = differ(got, want, tol)
        return "%s: %s" % (where, reason) if reason else None
    return None if got == want else "%s: %s, expected %s" % (where, short(got, 80), short(want, 80))


def check_read_back(c, label, url, want, order, options=()):
    got = info_json(c, url, order=order, options=options)
    reason = json_diff(got, want, 1e-4)
    c.true("%s: read back (image_info --json --stats --order %s) equals the source's description "
           "(numbers 1e-4, matrix 1e-3; url and seriesInstanceUID aside)" % (label, order),
           reason is None, reason or "")
    return got


# ---------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------

def case_compare_pydicom(c):
    """behaviour.md §11 compare_pydicom: a slice, a volume, a volume without
    SliceLocation and the 4D time series; then 4D with keep_uid=true."""
    t = dicom("time")
    time00 = os.path.join(t, "time00")
    one = os.path.join(time00, "Image_00019.dcm")

    out = tmp("slice")
    write(c, out, [one])
    c.true("a single 2D image to a new path x is written to x.dcm",
           os.path.isfile(out + ".dcm") and not os.path.exists(out),
           "x.dcm %s, x %s" % (os.path.exists(out + ".dcm"), os.path.exists(out)))
    if not os.path.isfile(out + ".dcm"):
        raise Abort("no %s.dcm" % display(out))
    written = read_written(c, "slice", [out + ".dcm"])
    compare_series(c, "slice", load_sources(one), written)

    out = tmp("volume")
    write(c, out, [time00])
    written = read_written(c, "volume", out)
    c.eq("volume: names", sorted(written), ["Image_%05d.dcm" % i for i in range(3)])
    compare_series(c, "volume", load_sources(time00), written)

    # A copy of time00 without SliceLocation: the writer computes it (IPP . normal).
    folder = tmp("noslice_src")
    os.makedirs(folder)
    original = {}
    for name, ds in load_sources(time00):
        original[key(ds)] = float(ds.SliceLocation)
        del ds.SliceLocation
        ds.save_as(os.path.join(folder, name), write_like_original=True)
    out = tmp("noslice")
    write(c, out, [folder])
    written = read_written(c, "no SliceLocation", out)
    compare_series(c, "no SliceLocation", load_sources(folder), written)
    worst = 0.0
    for name, ds in written.items():
        if not c.true("no SliceLocation: %s has SliceLocation" % name, "SliceLocation" in ds):
            continue
        location = float(ds.SliceLocation)
        c.close("no SliceLocation: %s SliceLocation = IPP . normal" % name, location, distance(ds), 1e-3)
        if key(ds) in original:
            worst = max(worst, abs(location - original[key(ds)]))
    c.info("no SliceLocation: written SliceLocation vs the original file's: max |diff| %.2g mm" % worst)

    out = tmp("time4d")
    write(c, out, [t], "--order", "time")
    written = read_written(c, "4D time", out)
    compare_series(c, "4D time", load_sources(t), written)

    out = tmp("time4d_keep")
    write(c, out, [t], "--order", "time", "--input_options", "keep_uid=true")
    written = read_written(c, "4D keep_uid", out)
    compare_series(c, "4D keep_uid", load_sources(t), written, keep_uid=True)


def digits(n):
    return len(str(max(n - 1, 0)))


def expected_layout(layout, tags, slices):
    """{name: (tag indices, slice, InstanceNumber)} of a write (behaviour.md §4 Names).

    tags: [(axis name, length)], outermost first; layout: default, multi,
    multi_tag or tag.
    """
    cells = [()]
    for _, n in tags:
        cells = [cell + (i,) for cell in cells for i in range(n)]
    expected = {}
    if layout in ("default", "tag"):
        order = [(cell, s) for cell in cells for s in range(slices)] if layout == "default" \
            else [(cell, s) for s in range(slices) for cell in cells]
        for k, (cell, s) in enumerate(order):
            expected["Image_%05d.dcm" % k] = (cell, s, k + 1)
    elif layout == "multi":
        for cell in cells:
            folders = "/".join("%s%0*d" % (name, digits(n), i) for (name, n), i in zip(tags, cell))
            for s in range(slices):
                expected["%s/Image_%05d.dcm" % (folders, s)] = (cell, s, s + 1)
    else:  # multi_tag
        for s in range(slices):
            for cell in cells:
                parts = ["%s%0*d" % (name, digits(n), i) for (name, n), i in zip(tags, cell)]
                expected["slice%0*d/%s.dcm" % (digits(slices), s, "/".join(parts))] = \
                    (cell, s, cell[-1] + 1)
    return expected


LAYOUTS = {"default": (), "multi": ("--odir", "multi"),
           "multi_tag": ("--odir", "multi", "--sort", "tag"), "tag": ("--sort", "tag")}


def source_coordinates(sources, components):
    """{key(ds): (tag indices, slice)} computed from the source files alone.

    slice: rank along the normal; te: rank among the echo times; time: rank by
    acquisition time among the images of the same slice and other indices.
    """
    dists = sorted({round(distance(ds), 2) for _, ds in sources})
    tes = sorted({float(ds.EchoTime) for _, ds in sources})
    partial = []
    for _, ds in sources:
        s = dists.index(round(distance(ds), 2))
        idx = [tes.index(float(ds.EchoTime)) if comp == "te" else None for comp in components]
        partial.append((ds, s, idx))
    result = {}
    for ds, s, idx in partial:
        full = list(idx)
        for k, comp in enumerate(components):
            if comp == "time":
                peers = sorted(tm_seconds(o.AcquisitionTime) for o, os_, oidx in partial
                               if os_ == s and all(oidx[j] == idx[j] for j in range(len(idx)) if j != k))
                full[k] = peers.index(tm_seconds(ds.AcquisitionTime))
        result[key(ds)] = (tuple(full), s)
    return result


def check_layout(c, label, url, order, tags, slices, layout):
    components = order.split(",")
    sources = load_sources(url)
    coordinates = source_coordinates(sources, components)
    by_key = {key(ds): ds for _, ds in sources}
    out = tmp("%s_%s" % (label.replace(" ", "_"), layout))
    write(c, out, [url], "--order", order, *LAYOUTS[layout])
    written = read_written(c, "%s %s" % (label, layout), out)
    expected = expected_layout(layout, tags, slices)
    c.eq("%s %s: %d file names" % (label, layout, len(expected)), sorted(written), sorted(expected))
    wrong = []
    for name, (cell, s, number) in sorted(expected.items()):
        ds = written.get(name)
        if ds is None:
            continue
        k = key(ds)
        if k not in coordinates:
            wrong.append("%s: no source image at %s" % (name, short(k)))
            continue
        if coordinates[k] != (cell, s):
            wrong.append("%s holds the image at tag %s slice %d, expected tag %s slice %d"
                         % (name, coordinates[k][0], coordinates[k][1], cell, s))
        if int(ds.InstanceNumber) != number:
            wrong.append("%s: InstanceNumber %s, expected %d" % (name, ds.InstanceNumber, number))
        src = by_key[k]
        if "te" in components and not same_value("DS", src.EchoTime, ds.get("EchoTime")):
            wrong.append("%s: EchoTime %s, expected %s" % (name, ds.get("EchoTime"), src.EchoTime))
        if not np.array_equal(src.pixel_array, ds.pixel_array):
            wrong.append("%s: pixels differ from the source image" % name)
    c.true("%s %s: each name holds the image of its (tags, slice) with its InstanceNumber%s "
           "and the source's pixels" % (label, layout,
                                        " (restarting per folder)" if layout.startswith("multi") else ""),
           not wrong, "; ".join(wrong[:3]))
    return out


def diffusion_of(ds):
    """(b, direction or None) of a source or written image: standard, else Siemens."""
    if "DiffusionBValue" in ds:
        b = float(ds.DiffusionBValue)
    else:
        element = private(ds, 0x0019, "SIEMENS MR HEADER", 0x0C)
        b = None if element is None else float(element.value)
    if "DiffusionGradientOrientation" in ds:
        return b, floats(ds.DiffusionGradientOrientation)
    kind = private(ds, 0x0019, "SIEMENS MR HEADER", 0x0D)
    vector = private(ds, 0x0019, "SIEMENS MR HEADER", 0x0E)
    if kind is not None and str(kind.value).strip() == "DIRECTIONAL" and vector is not None:
        return b, floats(vector.value)
    return b, None


def check_diffusion(c, label, url, order):
    sources = load_sources(url)
    by_pixels = {}
    for name, ds in sources:
        by_pixels.setdefault(pixel_key(ds), []).append(ds)
    out = tmp(label)
    write(c, out, [url], "--order", order)
    written = read_written(c, label, out)
    c.eq("%s: file count" % label, len(written), len(sources))
    wrong, stale, checked, directed, other = [], [], 0, 0, {}
    acquisition_times = set()
    for name, ds in sorted(written.items()):
        matches = by_pixels.get(pixel_key(ds), [])
        if len(matches) != 1:
            wrong.append("%s: %d source images with these pixels at this position" % (name, len(matches)))
            continue
        src = matches[0]
        b, vector = diffusion_of(src)
        if "DiffusionBValue" not in ds or abs(float(ds.DiffusionBValue) - b) > 1e-6:
            wrong.append("%s: (0018,9087) %s, expected %s" % (name, ds.get("DiffusionBValue"), b))
        got = floats(ds.DiffusionGradientOrientation) if "DiffusionGradientOrientation" in ds else None
        if order != "b":
            if vector is None and got is not None:
                wrong.append("%s: (0018,9089) %s, expected none (b %s)" % (name, got, b))
            elif vector is not None and (got is None or not np.allclose(got, vector, atol=1e-6)):
                wrong.append("%s: (0018,9089) %s, expected %s" % (name, got, vector))
            directed += vector is not None
        elif got is not None:
            wrong.append("%s: (0018,9089) %s written for order b" % (name, got))
        # Siemens' own elements, when the file has them, must not contradict these.
        for low, what in ((0x0C, "b value"), (0x0D, "directionality"), (0x0E, "direction")):
            mine = private(ds, 0x0019, "SIEMENS MR HEADER", low)
            theirs = private(src, 0x0019, "SIEMENS MR HEADER", low)
            if mine is None:
                continue
            if theirs is None:
                stale.append("%s: Siemens %s (0019,xx%02X) %s, the source image has none"
                             % (name, what, low, short(str(mine.value), 60)))
            elif not same_value(theirs.VR, theirs.value, mine.value) and not (
                    low == 0x0E and np.allclose(floats(mine.value), floats(theirs.value), atol=1e-6)):
                stale.append("%s: Siemens %s (0019,xx%02X) %s, the source image has %s"
                             % (name, what, low, short(str(mine.value), 60), short(str(theirs.value), 60)))
        acquisition_times.add(str(ds.get("AcquisitionTime")))
        for element in src:
            if element.VR != "SQ" and element.tag in ds and element.keyword not in NOT_COMPARED | NEW_UIDS \
                    and not same_value(element.VR, element.value, ds[element.tag].value):
                what = element.keyword or str(element.tag)
                other[what] = other.get(what, 0) + 1
        checked += 1
    c.true("%s: (0018,9087)/(0018,9089) equal the source image's b value and direction "
           "(%d files matched by position and pixels)" % (label, checked), not wrong, "; ".join(wrong[:3]))
    c.true("%s: the Siemens private b value, directionality and direction (0019,xx0C/0D/0E) "
           "equal the source image's" % label, not stale,
           "%d files differ, e.g. %s" % (len(stale), "; ".join(stale[:2])))
    source_times = {str(ds.get("AcquisitionTime")) for _, ds in sources}
    c.info("%s: %d files, %d with a direction; AcquisitionTime: %d distinct in the source, "
           "%d written (not a tag of order %s)" % (label, len(written), directed, len(source_times),
                                                  len(acquisition_times), order))
    c.info("%s: elements of the template that differ from the matched source image (files): %s"
           % (label, ", ".join("%s %d" % kv for kv in sorted(other.items())) or "none"))
    return out


def case_layouts(c):
    """behaviour.md §4 Names and §11: 4D and 5D layouts round-trip; dwi and RSI
    keep their diffusion values per image."""
    t = dicom("time")
    want = info_json(c, t, order="time")
    for layout in LAYOUTS:
        out = check_layout(c, "time", t, "time", [("time", 3)], 3, layout)
        check_read_back(c, "time %s" % layout, out, want, "time")

    five = dicom("5D.zip") + "?t1_fl2d_DE_4TEs"
    want = info_json(c, five, order="time,te")
    for layout in LAYOUTS:
        out = check_layout(c, "5D", five, "time,te", [("time", 3), ("te", 4)], 3, layout)
        got = check_read_back(c, "5D %s" % layout, out, want, "time,te")
        c.close("5D %s: tags" % layout, got.get("tags") and [got["tags"][k] for k in sorted(got["tags"])],
                [want["tags"][k] for k in sorted(want["tags"])], 1e-4)

    dwi = dicom("dwi")
    want = info_json(c, dwi, order="b")
    out = check_diffusion(c, "dwi", dwi, "b")
    check_read_back(c, "dwi", out, want, "b")

    rsi = dicom("ep2d_RSI_b0_500_1500_6dir.zip")
    want = info_json(c, rsi, order="dti")
    out = check_diffusion(c, "RSI", rsi, "dti")
    check_read_back(c, "RSI", out, want, "dti")


def case_uids(c):
    """behaviour.md §4 UIDs and §11 UID rules."""
    t = dicom("time")
    sources = load_sources(t)
    source_paths = [os.path.join(t, name) for name, _ in sources]
    before = checksum(source_paths)
    src = sources[0][1]
    source_sops = {str(ds.SOPInstanceUID) for _, ds in sources}

    series_uids, all_sops = [], []
    for run_index in range(2):
        out = tmp("uids")
        write(c, out, [t], "--order", "time")
        written = read_written(c, "write %d" % (run_index + 1), out)
        c.eq("write %d: 9 files" % (run_index + 1), len(written), 9)
        series = {str(ds.SeriesInstanceUID) for ds in written.values()}
        c.eq("write %d: one SeriesInstanceUID in all files" % (run_index + 1), len(series), 1)
        series_uids.append(sorted(series)[0])
        c.true("write %d: a new SeriesInstanceUID" % (run_index + 1),
               series_uids[-1] != str(src.SeriesInstanceUID), series_uids[-1])
        sops = [str(ds.SOPInstanceUID) for ds in written.values()]
        c.eq("write %d: SOPInstanceUIDs unique" % (run_index + 1), len(set(sops)), len(sops))
        c.true("write %d: SOPInstanceUIDs new" % (run_index + 1), not (set(sops) & source_sops))
        all_sops.append(set(sops))
        bad, same = [], []
        for name, ds in written.items():
            uids = {"SOPInstanceUID": ds.SOPInstanceUID, "SeriesInstanceUID": ds.SeriesInstanceUID,
                    "StudyInstanceUID": ds.StudyInstanceUID, "SOPClassUID": ds.SOPClassUID,
                    "FrameOfReferenceUID": ds.get("FrameOfReferenceUID", ""),
                    "MediaStorageSOPInstanceUID": ds.file_meta.MediaStorageSOPInstanceUID,
                    "ImplementationClassUID": ds.file_meta.get("ImplementationClassUID", "")}
            for what, uid in uids.items():
                uid = str(uid)
                if len(uid) > 64 or not UID_RE.match(uid):
                    bad.append("%s %s %r" % (name, what, uid))
            for kw in ("StudyInstanceUID", "PatientID", "PatientName", "FrameOfReferenceUID"):
                if str(ds.get(kw)) != str(src.get(kw)):
                    same.append("%s %s %s, source %s" % (name, kw, ds.get(kw), src.get(kw)))
        c.true("write %d: every UID is valid (<= 64 chars, digits and dots, no leading zeros)"
               % (run_index + 1), not bad, "; ".join(bad[:3]))
        c.true("write %d: StudyInstanceUID, PatientID, PatientName, FrameOfReferenceUID as the source"
               % (run_index + 1), not same, "; ".join(same[:3]))
        c.info("write %d: SeriesInstanceUID %s (%d chars)" % (run_index + 1, series_uids[-1],
                                                           len(series_uids[-1])))
    c.true("two writes: two different SeriesInstanceUIDs", series_uids[0] != series_uids[1])
    c.true("two writes: no SOPInstanceUID in common", not (all_sops[0] & all_sops[1]))

    out = tmp("uids_keep_false")
    write(c, out, [t], "--order", "time", "--input_options", "keep_uid=false")
    written = read_written(c, "keep_uid=false", out)
    c.true("keep_uid=false: new UIDs",
           all(str(ds.SeriesInstanceUID) != str(src.SeriesInstanceUID) and
               str(ds.SOPInstanceUID) not in source_sops for ds in written.values()))
    c.eq("the source files are unchanged (sha256 of the 9 files)", checksum(source_paths), before)


# ---- pixels ----

def need(module):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise Skip("the Python module %s is not installed" % module)


def save_mat(path, volume):
    """A (slices, rows, columns) volume as MATLAB's [rows, columns, slices] (docs/metaio-mat.md)."""
    need("scipy.io").savemat(path, {"A": np.ascontiguousarray(np.transpose(volume, (1, 2, 0)))})


def write_volume(c, label, volume, *options):
    """Write a volume made here (via a .mat file); return the datasets in slice order."""
    source = tmp(label) + ".mat"
    save_mat(source, volume)
    out = tmp(label)
    write(c, out, [source], *options)
    written = read_written(c, label, out)
    c.eq("%s: names" % label, sorted(written), ["Image_%05d.dcm" % i for i in range(volume.shape[0])])
    return [written[k] for k in sorted(written)]


def real_values(ds):
    return apply_modality_lut(ds.pixel_array, ds).astype(np.float64)


def check_rescaled(c, label, volume, files):
    lo, hi = float(volume.min()), float(volume.max())
    slope_want = (hi - lo) / 65535
    errors = []
    for s, ds in enumerate(files):
        ok = c.true("%s slice %d: RescaleSlope/RescaleIntercept present" % (label, s),
                    "RescaleSlope" in ds and "RescaleIntercept" in ds)
        if not ok:
            return
        c.close("%s slice %d: RescaleIntercept = min" % (label, s), float(ds.RescaleIntercept), lo,
                1e-9 * max(1, abs(lo)))
        c.close("%s slice %d: RescaleSlope = (max - min) / 65535" % (label, s), float(ds.RescaleSlope),
                slope_want, 1e-12 * max(1, slope_want))
        c.eq("%s slice %d: stored as uint16" % (label, s),
             (int(ds.BitsAllocated), int(ds.PixelRepresentation)), (16, 0))
        errors.append(np.abs(real_values(ds) - volume[s]))
    slope = float(files[0].RescaleSlope)
    worst = max(float(e.max()) for e in errors)
    bound = slope / 2 + 1e-9 * max(abs(lo), abs(hi))
    c.true("%s: |x - (stored * slope + intercept)| <= slope / 2 (+1e-9 relative)" % label,
           worst <= bound, "max error %.9g > %.9g" % (worst, bound))
    c.info("%s: range [%.6g, %.6g], slope %.9g: max rescale error %.6g vs bound slope/2 = %.6g "
           "(%.3f of the bound)" % (label, lo, hi, slope, worst, slope / 2, worst / (slope / 2)))
    return lo, hi


def case_pixels(c):
    """behaviour.md §4 step 4 and §11 (bool write, float window): float and
    wide integers rescaled into uint16 (rounded: error <= slope / 2), bool as
    uint16 0/1, integers that fit 16 bits stored as they are, RGB as is."""
    need("scipy.io")
    # (a) float64: arange / sqrt(2), offset to have negative values too.
    volume = (np.arange(3 * 64 * 48, dtype=np.float64).reshape(3, 64, 48) - 2500.0) / np.sqrt(2)
    files = write_volume(c, "float64", volume)
    lo, hi = check_rescaled(c, "float64", volume, files) or (0, 0)
    for s, ds in enumerate(files):
        c.close("float64 slice %d: WindowCenter = (max + min) / 2 (5 places)" % s,
                float(ds.WindowCenter), (hi + lo) / 2, 0.5e-5)
        c.close("float64 slice %d: WindowWidth = max - min (4 places)" % s,
                float(ds.WindowWidth), hi - lo, 0.5e-4)
        c.eq("float64 slice %d: series range in stored units" % s,
             (int(ds.SmallestPixelValueInSeries), int(ds.LargestPixelValueInSeries)), (0, 65535))
    c.info("float64: WindowCenter %s, WindowWidth %s (expected %.6f, %.6f)"
           % (files[0].WindowCenter, files[0].WindowWidth, (hi + lo) / 2, hi - lo))

    # (a') float data that is integral and fits uint16 is stored as it is (--dtype float).
    time00 = dicom("time", "time00")
    out = tmp("dtype_float")
    write(c, out, [time00], "--dtype", "float")
    written = read_written(c, "--dtype float", out)
    sources = load_sources(time00)
    c.eq("--dtype float: 3 files", len(written), 3)
    for (name, src), (out_name, ds) in zip(sources, sorted(written.items())):
        c.true("--dtype float %s: no rescale, pixels equal the source's" % out_name,
               "RescaleSlope" not in ds and np.array_equal(ds.pixel_array, src.pixel_array))

    # (b) bool (a MATLAB logical) -> uint16 0/1; a uint8 NIfTI mask -> 8 bits, exact.
    mask = (np.arange(3 * 40 * 30).reshape(3, 40, 30) % 7) < 3
    files = write_volume(c, "bool", mask)
    for s, ds in enumerate(files):
        c.eq("bool slice %d: BitsAllocated 16, unsigned, no rescale" % s,
             (int(ds.BitsAllocated), int(ds.PixelRepresentation), "RescaleSlope" in ds), (16, 0, False))
        c.true("bool slice %d: pixels are the mask as 0/1" % s,
               np.array_equal(ds.pixel_array, mask[s].astype(np.uint16)))
    c.info("bool: %d voxels set of %d; window %s/%s"
           % (int(mask.sum()), mask.size, files[0].get("WindowCenter"), files[0].get("WindowWidth")))
    nib = need("nibabel")
    data = ((np.arange(30 * 40 * 3).reshape(30, 40, 3) % 5) == 0).astype(np.uint8)  # (i, j, k)
    source = tmp("mask") + ".nii"
    nib.save(nib.Nifti1Image(data, np.diag([1.5, 1.5, 2.0, 1.0])), source)
    out = tmp("mask_nifti")
    write(c, out, [source])
    written = read_written(c, "uint8 NIfTI mask", out)
    c.eq("uint8 NIfTI mask: 3 files", sorted(written), ["Image_%05d.dcm" % i for i in range(3)])
    for s, name in enumerate(sorted(written)):
        ds = written[name]
        # dcm2niix's convention (docs/nifti.md): column c = i, row r = ny - 1 - j.
        c.eq("uint8 NIfTI mask %s: 8 bits, unsigned, no rescale" % name,
             (int(ds.BitsAllocated), int(ds.PixelRepresentation), "RescaleSlope" in ds), (8, 0, False))
        c.true("uint8 NIfTI mask %s: pixels equal the NIfTI slice exactly" % name,
               np.array_equal(ds.pixel_array, data[:, ::-1, s].T))

    # (c) int32: a range over 65535 is rescaled; within int16 stored as int16;
    # a range <= 65535 that fits neither is stored with slope 1, exactly.
    wide = (np.arange(3 * 50 * 40, dtype=np.int64).reshape(3, 50, 40) * 37 - 50000).astype(np.int32)
    files = write_volume(c, "int32 wide", wide)
    check_rescaled(c, "int32 wide", wide.astype(np.float64), files)
    narrow = (np.arange(3 * 50 * 40, dtype=np.int64).reshape(3, 50, 40) * 10 - 30000).astype(np.int32)
    files = write_volume(c, "int32 in int16", narrow)
    for s, ds in enumerate(files):
        c.eq("int32 in int16 slice %d: int16 (PixelRepresentation 1), no RescaleSlope" % s,
             (int(ds.BitsAllocated), int(ds.PixelRepresentation), "RescaleSlope" in ds), (16, 1, False))
        c.true("int32 in int16 slice %d: pixels exact" % s, np.array_equal(ds.pixel_array, narrow[s]))
    c.info("int32 in int16: range [%d, %d] stored unscaled" % (narrow.min(), narrow.max()))
    offset = (np.arange(3 * 50 * 40, dtype=np.int64).reshape(3, 50, 40) * 10 + 40000).astype(np.int32)
    files = write_volume(c, "int32 offset", offset)
    for s, ds in enumerate(files):
        c.true("int32 offset slice %d: exact through slope 1 and intercept min" % s,
               "RescaleSlope" in ds and np.array_equal(real_values(ds), offset[s].astype(np.float64)),
               "slope %s intercept %s" % (ds.get("RescaleSlope"), ds.get("RescaleIntercept")))
    c.info("int32 offset: range [%d, %d], slope %s, intercept %s"
           % (offset.min(), offset.max(), files[0].get("RescaleSlope"), files[0].get("RescaleIntercept")))

    # (d) RGB.
    lena = dicom("lena_color.dcm")
    out = tmp("lena")
    write(c, out, [lena])
    written = read_written(c, "RGB", [out + ".dcm"])
    ds, src = list(written.values())[0], pydicom.dcmread(lena)
    c.eq("RGB: SamplesPerPixel, PhotometricInterpretation, PlanarConfiguration, BitsAllocated",
         (int(ds.SamplesPerPixel), str(ds.PhotometricInterpretation), int(ds.PlanarConfiguration),
          int(ds.BitsAllocated)), (3, "RGB", 0, 8))
    c.true("RGB: pixel_array equals lena_color.dcm's", np.array_equal(ds.pixel_array, src.pixel_array))
    c.info("RGB: %s pixels, %d files" % ("x".join(str(v) for v in ds.pixel_array.shape), len(written)))


def case_attributes(c):
    """--sernum, --serdes, --imagetype, --SOPClassUID and --frame in every file."""
    t = dicom("time")
    out = tmp("attributes")
    frame = "1.2.826.0.1.3680043.8.498.1"
    write(c, out, [t], "--order", "time", "--sernum", "99", "--serdes", "My result",
          "--imagetype", "DERIVED,SECONDARY,MAP", "--SOPClassUID", SC_STORAGE, "--frame", frame)
    written = read_written(c, "attributes", out)
    c.eq("9 files", len(written), 9)
    for name, ds in sorted(written.items()):
        c.eq("%s: SeriesNumber" % name, str(ds.get("SeriesNumber")), "99")
        c.eq("%s: SeriesDescription" % name, str(ds.get("SeriesDescription")), "My result")
        c.eq("%s: ImageType" % name, list(ds.get("ImageType", [])), ["DERIVED", "SECONDARY", "MAP"])
        c.eq("%s: SOPClassUID" % name, str(ds.get("SOPClassUID")), SC_STORAGE)
        c.eq("%s: MediaStorageSOPClassUID" % name, str(ds.file_meta.MediaStorageSOPClassUID), SC_STORAGE)
        c.eq("%s: FrameOfReferenceUID" % name, str(ds.get("FrameOfReferenceUID")), frame)
    c.info("attributes: %d files carry SeriesNumber 99, 'My result', DERIVED\\SECONDARY\\MAP, SC, "
           "the given frame" % len(written))

    out = tmp("attributes_mr")
    write(c, out, [dicom("time", "time00")], "--SOPClassUID", "MR")
    written = read_written(c, "--SOPClassUID MR", out)
    c.true("--SOPClassUID MR: the MR Image Storage UID in every file",
           all(str(ds.SOPClassUID) == MR_STORAGE for ds in written.values()))


SC_TYPE1 = ["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality",
            "ConversionType", "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns",
            "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "PixelData"]
SC_TYPE2 = ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
            "ReferringPhysicianName", "StudyID", "AccessionNumber", "SeriesNumber", "InstanceNumber",
            "PatientOrientation"]
SC_DEFAULTS = {"SOPClassUID": SC_STORAGE, "Modality": "OT", "ConversionType": "WSD",
               "PatientName": "NA", "PatientID": "NA", "PatientBirthDate": "", "PatientSex": "O",
               "StudyTime": "000000", "StudyID": "0", "AccessionNumber": "",
               "ReferringPhysicianName": "", "SeriesNumber": "1",
               "ImageType": ["DERIVED", "SECONDARY"]}


def check_secondary_capture(c, label, written):
    """A Secondary Capture instance (PS3.3 A.8.1): type 1 present and non-empty,
    type 2 present; the defaults documented in case_no_template."""
    missing1, missing2, wrong = [], [], []
    for name, ds in sorted(written.items()):
        missing1 += ["%s %s" % (name, kw) for kw in SC_TYPE1 if kw not in ds or ds.get(kw) in ("", None)]
        missing2 += ["%s %s" % (name, kw) for kw in SC_TYPE2 if kw not in ds]
        for kw, want in SC_DEFAULTS.items():
            got = ds.get(kw)
            got = list(got) if isinstance(got, pydicom.multival.MultiValue) else \
                ("" if got is None else str(got))
            if got != want:
                wrong.append("%s %s %r, expected %r" % (name, kw, got, want))
        today = time.strftime("%Y%m%d")
        yesterday = time.strftime("%Y%m%d", time.localtime(time.time() - 600))  # written before midnight
        if str(ds.get("StudyDate")) not in (today, yesterday):
            wrong.append("%s StudyDate %s, expected today %s" % (name, ds.get("StudyDate"), today))
    c.true("%s: type 1 elements of the SC IOD present and non-empty" % label, not missing1,
           "; ".join(missing1[:4]))
    c.true("%s: type 2 elements of the SC IOD present" % label, not missing2, "; ".join(missing2[:4]))
    c.true("%s: the documented defaults" % label, not wrong, "; ".join(wrong[:4]))
    for kw in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        values = {str(ds.get(kw)) for ds in written.values()}
        c.eq("%s: one %s in all files" % (label, kw), len(values), 1)
    sops = [str(ds.SOPInstanceUID) for ds in written.values()]
    c.eq("%s: SOPInstanceUIDs unique" % label, len(set(sops)), len(sops))
    bad = [u for ds in written.values() for u in (str(ds.SOPInstanceUID), str(ds.StudyInstanceUID),
                                                   str(ds.SeriesInstanceUID))
           if len(u) > 64 or not UID_RE.match(u)]
    c.true("%s: UIDs valid" % label, not bad, "; ".join(bad[:3]))


def case_no_template(c):
    """Input without a DICOM template (MATLAB, NIfTI) written as a Secondary
    Capture series. Defaults observed (and checked): SOPClassUID Secondary
    Capture Image Storage (unless --SOPClassUID), Modality OT (the original
    wrote "SC", which is not a defined term), ConversionType WSD,
    PatientName and PatientID "NA", PatientBirthDate empty (the original:
    00000000), PatientSex O, StudyDate today (SeriesDate too), StudyTime
    000000, SeriesTime now, StudyID "0", AccessionNumber and
    ReferringPhysicianName empty (the original: NA), ImageType
    DERIVED\\SECONDARY, SeriesNumber 1, PatientOrientation empty, new
    Study/Series/FrameOfReference UIDs (2.25.<decimal>) shared by the files,
    geometry from the input (MATLAB: identity, spacing 1, IPP (0, 0, slice)).
    """
    mat = os.path.join(DATA, "mat", "time", "Image_00000.mat")
    if not os.path.isfile(mat):
        raise Skip("no %s" % display(mat))
    out = tmp("mat")
    write(c, out, [mat])
    written = read_written(c, "MAT 4D", out)
    c.eq("MAT 4D: 9 files Image_00000..8 (tag outer, slice inner)", sorted(written),
         ["Image_%05d.dcm" % i for i in range(9)])
    check_secondary_capture(c, "MAT 4D", written)
    contents = need("scipy.io").loadmat(mat)
    arrays = [v for k, v in contents.items() if not k.startswith("__")]
    if len(arrays) == 1 and arrays[0].ndim == 4:
        a = arrays[0]  # MATLAB [rows, columns, slices, tags]
        wrong = []
        for k, name in enumerate(sorted(written)):
            tag, s = divmod(k, a.shape[2])
            ds = written[name]
            if not np.array_equal(ds.pixel_array, a[:, :, s, tag]):
                wrong.append(name)
            ipp = floats(ds.ImagePositionPatient)
            if not np.allclose(ipp, [0, 0, s], atol=1e-6):
                wrong.append("%s IPP %s" % (name, ipp))
        c.true("MAT 4D: pixels equal the MATLAB array [:, :, slice, tag], IPP (0, 0, slice)",
               not wrong, "; ".join(wrong[:3]))
    c.info("MAT 4D: %d files; Modality %s, SOPClassUID %s, StudyDate %s"
           % (len(written), written["Image_00000.dcm"].Modality,
              written["Image_00000.dcm"].SOPClassUID, written["Image_00000.dcm"].StudyDate))

    nib = need("nibabel")
    data = (np.arange(20 * 16 * 3, dtype=np.int16).reshape(20, 16, 3) * 7 - 100)
    affine = np.array([[2, 0, 0, -10], [0, 2.5, 0, 20], [0, 0, 3, 30], [0, 0, 0, 1.0]])
    image = nib.Nifti1Image(data, affine)
    image.set_qform(affine, 1)
    image.set_sform(affine, 1)
    source = tmp("nifti") + ".nii"
    nib.save(image, source)
    out = tmp("nifti")
    write(c, out, [source])
    written = read_written(c, "NIfTI", out)
    c.eq("NIfTI: names", sorted(written), ["Image_%05d.dcm" % i for i in range(3)])
    check_secondary_capture(c, "NIfTI", written)
    ny = data.shape[1]
    for s, name in enumerate(sorted(written)):
        ds = written[name]
        c.true("NIfTI %s: pixels equal the NIfTI slice (column = i, row = ny - 1 - j)" % name,
               np.array_equal(ds.pixel_array, data[:, ::-1, s].T))
        c.eq("NIfTI %s: int16 stored as is" % name,
             (int(ds.BitsAllocated), int(ds.PixelRepresentation), "RescaleSlope" in ds), (16, 1, False))
        ras = affine @ np.array([0, ny - 1, s, 1.0])
        c.close("NIfTI %s: ImagePositionPatient = the voxel (0, ny - 1, s) in LPS" % name,
                floats(ds.ImagePositionPatient), [-ras[0], -ras[1], ras[2]], 1e-4)
        c.close("NIfTI %s: ImageOrientationPatient" % name, floats(ds.ImageOrientationPatient),
                [-1, 0, 0, 0, 1, 0], 1e-6)
        c.close("NIfTI %s: PixelSpacing (row, column), SliceThickness" % name,
                floats(ds.PixelSpacing) + floats(ds.SliceThickness), [2.5, 2.0, 3.0], 1e-6)
    c.info("NIfTI: %d files, %s" % (len(written), short({k: str(written["Image_00000.dcm"].get(k))
                                                         for k in ("Modality", "PatientName", "StudyID",
                                                                   "StudyTime", "ConversionType")})))


def case_dicom_template(c):
    """behaviour.md §5.5 and §11 dicom_template: a MATLAB volume (time00's
    pixels) written with --template and/or --geometry time00 equals time00."""
    time00 = dicom("time", "time00")
    sources = load_sources(time00)
    by_distance = sorted(sources, key=lambda item: distance(item[1]))
    volume = np.stack([ds.pixel_array for _, ds in by_distance])
    need("scipy.io")
    source = tmp("template_volume") + ".mat"
    save_mat(source, volume)
    out = tmp("template_both")
    proc = write(c, out, [source], "--template", time00, "--geometry", time00, want_rc=None)
    if proc.returncode != 0:
        raise Abort("image_data --template --geometry: exit %d: %s"
                    % (proc.returncode, first_line(proc.stderr.decode("utf-8", "replace"))))
    written = read_written(c, "template+geometry", out)
    compare_series(c, "template+geometry", sources, written)

    def geometry_equal(written):
        got = sorted((distance(ds), floats(ds.ImagePositionPatient), floats(ds.ImageOrientationPatient),
                      floats(ds.PixelSpacing)) for ds in written.values())
        want = sorted((distance(ds), floats(ds.ImagePositionPatient), floats(ds.ImageOrientationPatient),
                       floats(ds.PixelSpacing)) for _, ds in sources)
        return differ([g[1:] for g in got], [w[1:] for w in want], 1e-4) is None

    def header_equal(written):
        src = sources[0][1]
        return all(str(ds.get(kw)) == str(src.get(kw)) for ds in written.values()
                   for kw in ("StudyInstanceUID", "PatientName", "PatientID", "SeriesDescription",
                              "FrameOfReferenceUID", "Modality"))

    def pixels_equal(written):
        got = [ds.pixel_array for _, ds in sorted(written.items())]
        return len(got) == len(volume) and all(np.array_equal(g, v) for g, v in zip(got, volume))

    out = tmp("template_only")
    write(c, out, [source], "--template", time00)
    written = read_written(c, "template only", out)
    c.true("template only: pixels equal time00's", pixels_equal(written))
    c.true("template only: the template header compare passes", header_equal(written))
    c.true("template only: the geometry compare fails (MATLAB geometry)", not geometry_equal(written))

    out = tmp("geometry_only")
    write(c, out, [source], "--geometry", time00)
    written = read_written(c, "geometry only", out)
    c.true("geometry only: pixels equal time00's", pixels_equal(written))
    c.true("geometry only: the geometry compare passes", geometry_equal(written))
    c.true("geometry only: the template header compare fails", not header_equal(written))


CASES = [case_compare_pydicom, case_layouts, case_uids, case_pixels, case_attributes,
         case_no_template, case_dicom_template]


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

def main():
    global IMAGE_DATA, IMAGE_INFO, DATA, TMP, DCMDUMP
    args, code = options(__doc__, CASES, programs=("image_data", "image_info"), keep=True)
    if code is not None:
        return code
    IMAGE_DATA, IMAGE_INFO, DATA = args.image_data, args.image_info, args.data
    if not DATA or not os.path.isdir(os.path.join(DATA, "dicom")):
        print("SKIP: no reference data in %r (IMD_TEST_DATA)" % args.data)
        return 77
    DCMDUMP = shutil.which("dcmdump")
    if DCMDUMP is None:
        print("NOTE: dcmdump (dcmtk) is not installed: the dcmdump checks are SKIPPED in every case")
    TMP = tempfile.mkdtemp(prefix="imd_dicom_write_")
    print("image_data %s; data %s; pydicom %s, numpy %s; dcmdump %s"
          % (IMAGE_DATA, DATA, pydicom.__version__, np.__version__, DCMDUMP or "MISSING"))
    try:
        return run_cases(CASES, args.case, args.verbose)
    finally:
        if args.keep:
            print("kept %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
