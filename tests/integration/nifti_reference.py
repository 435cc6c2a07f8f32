#!/usr/bin/env python3
"""NIfTI acceptance tests: image_data --of nifti and the NIfTI reader against
dcm2niix's files and against numbers computed here, independently, with
nibabel, numpy and (where cheap) pydicom (behaviour.md §5.2, §7.3, §8, §11).

The reference: ../shared/data/imagedata/nifti/*.nii.gz, made by dcm2niix from
../shared/data/imagedata/dicom/<name>.zip, and the DICOM inputs themselves.
Nothing here trusts our own output: geometry comes from dcm2niix's headers or
from the dcm2niix algorithm re-done here with pydicom (nifti_dicom2mat: Q =
[row; col; row x col], times diag(dc, dr, ds), translation = first slice,
rows 0 and 1 negated, then the y flip), which reproduces all nine reference
sforms to 1e-4 mm.

NIfTI voxel order (behaviour.md §5.2): DICOM (s, r, c) <-> NIfTI (i = c,
j = ny-1-r, k = s); a fourth dimension is the tag.

Usage:
  nifti_reference.py [--case NAME]... [--list] [--keep] [-v]
Environment (CTest): IMD_BUILD (programs $IMD_BUILD/cli/image_data and
$IMD_BUILD/cli/image_info), IMD_TEST_DATA (../shared/data/imagedata).
Prints "PASS: name" or "FAIL: name: reason" per case, the numbers it measured
("  . " lines), then "N passed, N failed"; exits 1 on any failure, 77 when
the data is missing.
"""

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import nibabel as nib

try:
    import pydicom
except ImportError:      # the pydicom cross-checks are skipped (noted)
    pydicom = None

IMAGE_DATA = None   # $IMD_BUILD/cli/image_data
IMAGE_INFO = None   # $IMD_BUILD/cli/image_info
DATA = None         # ../shared/data/imagedata
TMP = None          # this run's temporary folder

# The dcm2niix reference sets (behaviour.md §5.2 "Write tests") and time_all.
ORIENTATION_SETS = ["tra_rl", "tra_oblique", "cor_rl", "cor_hf", "cor_oblique",
                    "sag_ap", "sag_hf", "sag_oblique"]
DECIMAL4 = 1.5e-4   # numpy assert_array_almost_equal(decimal=4), as the original's tests
RSI_ZIP = "ep2d_RSI_b0_500_1500_6dir.zip"


# ---------------------------------------------------------------------------
# The case harness
# ---------------------------------------------------------------------------

from reference_harness import Abort, options, run_cases, short  # noqa: E402


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float))))


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def display(path):
    path = str(path)
    if DATA and path.startswith(DATA):
        return "data" + path[len(DATA):]
    if TMP and path.startswith(TMP):
        return "tmp" + path[len(TMP):]
    return path


# ---------------------------------------------------------------------------
# Running our programs
# ---------------------------------------------------------------------------

def run(c, args, want_rc=0, label=None, timeout=900):
    """Run a program; a different exit code aborts the case. Returns (rc, stdout, stderr)."""
    label = label or " ".join([os.path.basename(args[0])] + [display(a) for a in args[1:]])
    if not os.access(args[0], os.X_OK):
        raise Abort("%s is not built (%s)" % (os.path.basename(args[0]), args[0]))
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Abort("%s: timed out after %d s" % (label, timeout))
    except OSError as e:
        raise Abort("%s: cannot run: %s" % (label, e))
    err = proc.stderr.decode("utf-8", "replace")
    if re.search(r"Sanitizer|runtime error:", err):
        c.fail(label, "sanitizer report: " + first_line(err))
    if want_rc is not None and proc.returncode != want_rc:
        raise Abort("%s: exit %d, expected %d: %s"
                    % (label, proc.returncode, want_rc, first_line(err) or "(no message)"))
    c.note("%s -> exit %d" % (label, proc.returncode))
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), err


def image_data(c, out, inputs, options=(), want_rc=0):
    """image_data --of nifti [options] OUT INPUT..."""
    args = [IMAGE_DATA, "--of", "nifti"] + list(options) + [str(out)] + [str(i) for i in inputs]
    return run(c, args, want_rc=want_rc)


def image_info(c, urls, order=None, stats=True):
    """image_info --json [--stats] [--order] URL...; the one series it prints."""
    args = [IMAGE_INFO, "--json"] + (["--stats"] if stats else [])
    if order:
        args += ["--order", order]
    args += [str(u) for u in urls]
    _, out, _ = run(c, args)
    try:
        series = json.loads(out)
    except ValueError as e:
        raise Abort("image_info %s: output is not JSON: %s" % (" ".join(display(u) for u in urls), e))
    if not isinstance(series, list) or len(series) != 1:
        raise Abort("image_info %s: expected one series, got %s"
                    % (" ".join(display(u) for u in urls),
                       [s.get("shape") for s in series] if isinstance(series, list) else series))
    return series[0]


def axis_values(a):
    if "values" in a:
        return a["values"]
    return [a["start"] + i * a["step"] for i in range(a["length"])]


# ---------------------------------------------------------------------------
# The references
# ---------------------------------------------------------------------------

def dicom_source(name):
    """The DICOM input of a reference set, as given to image_data."""
    if name == "time_all":
        return os.path.join(DATA, "dicom", "time_all")
    return os.path.join(DATA, "dicom", name + ".zip")


def reference_nifti(name):
    """dcm2niix's file for a set: nifti/<name>.nii.gz, or the one file in nifti/<name>/."""
    path = os.path.join(DATA, "nifti", name + ".nii.gz")
    if os.path.exists(path):
        return path
    folder = os.path.join(DATA, "nifti", name)
    if os.path.isdir(folder):
        found = sorted(f for f in os.listdir(folder) if f.endswith((".nii", ".nii.gz")))
        if len(found) == 1:
            return os.path.join(folder, found[0])
    raise Abort("no dcm2niix reference for %s in %s" % (name, display(os.path.join(DATA, "nifti"))))


def rsi_reference():
    folder = os.path.join(DATA, "nifti")
    found = sorted(f for f in os.listdir(folder) if f.startswith("ep2d_RSI") and f.endswith(".nii.gz"))
    if not found:
        raise Abort("no ep2d_RSI_*.nii.gz in %s" % display(folder))
    base = os.path.join(folder, found[0][:-len(".nii.gz")])
    return base + ".nii.gz", base + ".bval", base + ".bvec"


def load_nifti(c, path, what="nibabel"):
    """nibabel's image of a file we wrote (or abort the case)."""
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as e:      # nibabel cannot read it: that is the finding
        raise Abort("%s cannot read %s: %s: %s" % (what, display(path), type(e).__name__, e))
    return img, data


def nifti_from_bytes(c, raw, what):
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        img = nib.Nifti1Image.from_bytes(raw)
        return img, np.asanyarray(img.dataobj)
    except Exception as e:
        raise Abort("nibabel cannot read %s: %s: %s" % (what, type(e).__name__, e))


def read_dicom(source):
    """pydicom datasets of a folder, zip or file (sorted by name)."""
    if pydicom is None:
        return None
    out = []
    if source.endswith(".zip"):
        with zipfile.ZipFile(source) as z:
            for name in sorted(z.namelist()):
                if not name.endswith("/"):
                    out.append(pydicom.dcmread(io.BytesIO(z.read(name))))
    elif os.path.isdir(source):
        for root, dirs, files in os.walk(source):
            dirs.sort()
            for f in sorted(files):
                try:
                    out.append(pydicom.dcmread(os.path.join(root, f)))
                except Exception:
                    pass
    else:
        out.append(pydicom.dcmread(source))
    return out


def siemens_b(ds):
    if "DiffusionBValue" in ds:
        return float(ds.DiffusionBValue)
    for block in range(0x10, 0x100):
        tag = (0x0019, block)
        if tag in ds and str(ds[tag].value).strip() == "SIEMENS MR HEADER":
            full = (0x0019, (block << 8) | 0x0C)
            if full in ds:
                return float(ds[full].value)
    return None


def tm_seconds(value):
    text = str(value).strip()
    return int(text[0:2]) * 3600 + int(text[2:4]) * 60 + float(text[4:] or 0)


def dicom_oracle(source, order="none"):
    """What a dcm2niix-exact NIfTI of a DICOM series holds, from pydicom alone:
    {"data": array in NIfTI order (i, j, k[, t]), "sform": 4x4, "zooms",
     "dim_info", "tags"}; None without pydicom."""
    images = read_dicom(source)
    if images is None:
        return None
    first = images[0]
    iop = np.array([float(v) for v in first.ImageOrientationPatient])
    row, col = iop[:3] / np.linalg.norm(iop[:3]), iop[3:] / np.linalg.norm(iop[3:])
    normal = np.cross(row, col)

    def ipp(ds):
        return np.array([float(v) for v in ds.ImagePositionPatient])

    def tag(ds):
        if order == "time":
            return tm_seconds(ds.AcquisitionTime)
        if order == "b":
            return siemens_b(ds)
        return 0.0

    dists = sorted({round(float(normal @ ipp(d)), 3) for d in images})
    tags = sorted({tag(d) for d in images})
    ns, nt = len(dists), len(tags)
    ny, nx = int(first.Rows), int(first.Columns)
    volume = np.zeros((nt, ns, ny, nx), dtype=first.pixel_array.dtype)
    positions = {}
    for d in images:
        s = dists.index(round(float(normal @ ipp(d)), 3))
        volume[tags.index(tag(d)), s] = d.pixel_array
        positions[s] = ipp(d)
    dr, dc = [float(v) for v in first.PixelSpacing]
    p0, pn = positions[0], positions[ns - 1]
    ds_ = float(np.linalg.norm(pn - p0) / (ns - 1)) if ns > 1 else float(first.SliceThickness)
    # dcm2niix nifti_dicom2mat, then the y flip (behaviour.md §5.2 Write).
    q = np.array([row, col, normal]).T
    if np.linalg.det(q) < 0:
        q[:, 2] *= -1
    a = np.eye(4)
    a[:3, :3] = q @ np.diag([dc, dr, ds_])
    a[:3, 3] = p0
    if ns > 1 and float(np.dot(pn - p0, a[:3, 2])) < 0:
        a[:3, 2] *= -1
    a[0:2, :] *= -1
    sform = a.copy()
    sform[:, 3] = a @ np.array([0, ny - 1, 0, 1])
    sform[:, 1] *= -1
    data = volume.transpose(3, 2, 1, 0)[:, ::-1]          # (c, ny-1-r, s, t)
    if nt == 1:
        data = data[..., 0]
    phase = str(first.get("InPlanePhaseEncodingDirection", "") or "").strip()
    dim_info = {"ROW": (1, 0, 2), "COL": (0, 1, 2)}.get(phase, (None, None, None))
    zooms = [dc, dr, ds_]
    reoriented = False
    if str(first.get("MRAcquisitionType", "")).strip() == "3D" and nt == 1 and ns > 1:
        # dcm2niix: is3DAcq && dim[3] > 1 && dim[0] < 4 -> nii_setOrtho
        sform, data, perm = set_ortho(sform, data)
        zooms = [zooms[perm[a]] for a in range(3)]
        reoriented = True
    if nt > 1:
        zooms.append(tags[1] - tags[0] if order == "time" else 1.0)
    return {"data": np.ascontiguousarray(data), "sform": sform, "zooms": zooms,
            "dim_info": dim_info, "tags": tags, "dtype": volume.dtype, "reoriented": reoriented}


def set_ortho(sform, data):
    """dcm2niix nii_setOrtho: reorder and flip the voxel axes so that i, j, k
    run along +x, +y, +z (the dominant component of each column). Checked
    against dcm2niix v1.0.20220720 on dicom/time/time00 (sform 4e-5, voxels
    identical). Returns (sform, data, perm) with new axis a = old axis perm[a]."""
    s = np.array(sform, float).copy()
    dominant = [int(np.argmax(np.abs(s[:3, col]))) for col in range(3)]
    if sorted(dominant) != [0, 1, 2]:
        return s, data, [0, 1, 2]                 # no clear nearest axes: left alone
    perm = [dominant.index(a) for a in range(3)]
    for col in range(3):
        if s[dominant[col], col] < 0:
            s[:3, 3] += s[:3, col] * (data.shape[col] - 1)
            s[:3, col] *= -1
            data = np.flip(data, axis=col)
    out = np.eye(4)
    out[:3, 3] = s[:3, 3]
    for a in range(3):
        out[:3, a] = s[:3, perm[a]]
    return out, np.ascontiguousarray(data.transpose(perm + list(range(3, data.ndim)))), perm


def dicom_nifti_transform(sform, ny):
    """behaviour.md §5.2 Read: the (z, y, x) transformationMatrix a NIfTI sform gives."""
    s = np.array(sform, float).copy()
    s[:, 3] = s @ np.array([0, ny - 1, 0, 1])
    s[:, 1] *= -1
    s[0:2, :] *= -1
    m = np.eye(4)
    m[:3, 0] = s[:3, 2][::-1]
    m[:3, 1] = s[:3, 1][::-1]
    m[:3, 2] = s[:3, 0][::-1]
    m[:3, 3] = s[:3, 3][::-1]
    return m


# ---------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------

def check_gzip(c, path, want_gzip=True):
    with open(path, "rb") as f:
        head = f.read(348)
    if want_gzip:
        c.true("%s is gzip" % display(path), head[:2] == b"\x1f\x8b",
               "first bytes %r" % head[:4])
    else:
        c.true("%s is an uncompressed NIfTI-1 (sizeof_hdr 348, magic n+1)" % display(path),
               len(head) == 348 and int.from_bytes(head[:4], "little") == 348
               and head[344:348] == b"n+1\0",
               "first bytes %r, magic %r" % (head[:4], head[344:348]))


def check_readable(c, img, data, label, shape=None, sform=None, values=None, sform_tol=DECIMAL4):
    """Every file we write: nibabel reads it, its affine is the sform, and
    (when given) its shape, sform and voxels are the expected ones."""
    hdr = img.header
    c.true(label + ": sform_code > 0", int(hdr["sform_code"]) > 0, "sform_code %d" % int(hdr["sform_code"]))
    c.close(label + ": nibabel affine = sform", img.affine.tolist(), img.get_sform().tolist(), 1e-6)
    if shape is not None:
        c.eq(label + ": shape", list(img.shape), list(shape))
    if sform is not None:
        d = max_abs(img.get_sform(), sform)
        c.info("%s: max |sform - expected| = %.2g mm" % (label, d))
        c.close(label + ": sform", img.get_sform().tolist(), np.asarray(sform).tolist(), sform_tol)
    if values is not None:
        if data.shape != values.shape:
            c.fail(label + ": voxels", "shape %s, expected %s" % (data.shape, values.shape))
        elif not np.array_equal(data.astype(np.int64), values.astype(np.int64)):
            bad = int(np.count_nonzero(data.astype(np.int64) != values.astype(np.int64)))
            c.fail(label + ": voxels", "%d of %d voxels differ" % (bad, values.size))
        else:
            c.note(label + ": voxels identical")


def compare_with_dcm2niix(c, ours, ref, label):
    """The original's _compare_nifti_data: shape, dim_info, xyzt units, zooms,
    sform and qform to 4 decimals, voxels (dtype reported)."""
    (img, data), (rimg, rdata) = ours, ref
    h, rh = img.header, rimg.header
    c.eq(label + ": shape", list(h.get_data_shape()), list(rh.get_data_shape()))
    c.eq(label + ": dim_info", h.get_dim_info(), rh.get_dim_info())
    c.eq(label + ": xyzt units", h.get_xyzt_units(), rh.get_xyzt_units())
    c.close(label + ": zooms", [float(z) for z in h.get_zooms()],
            [float(z) for z in rh.get_zooms()], 1e-4)
    c.eq(label + ": sform_code, qform_code", (int(h["sform_code"]), int(h["qform_code"])),
         (int(rh["sform_code"]), int(rh["qform_code"])))
    sform, rsform = h.get_sform(), rh.get_sform()
    qform, rqform = h.get_qform(), rh.get_qform()
    ds, dq = max_abs(sform, rsform), max_abs(qform, rqform)
    c.info("%s: max |sform - dcm2niix| = %.2g, max |qform - dcm2niix| = %.2g, qfac %g (dcm2niix %g)"
           % (label, ds, dq, float(h["pixdim"][0]), float(rh["pixdim"][0])))
    c.close(label + ": sform (4 decimals)", sform.tolist(), rsform.tolist(), DECIMAL4)
    c.close(label + ": qform (4 decimals)", qform.tolist(), rqform.tolist(), DECIMAL4)
    dt, rdt = h.get_data_dtype(), rh.get_data_dtype()
    if dt != rdt:
        c.info("%s: dtype %s, dcm2niix %s (values compared)" % (label, dt, rdt))
    if data.shape != rdata.shape:
        c.fail(label + ": voxels", "shape %s vs %s" % (data.shape, rdata.shape))
    elif not np.array_equal(data.astype(np.int64), rdata.astype(np.int64)):
        bad = int(np.count_nonzero(data.astype(np.int64) != rdata.astype(np.int64)))
        c.fail(label + ": voxels", "%d of %d voxels differ from dcm2niix's" % (bad, rdata.size))
    else:
        c.note(label + ": voxels identical to dcm2niix's")
    return ds, dq


def check_series_vs_dicom(c, nii, dcm, label, m_tol=1e-2):
    """A NIfTI read (image_info JSON) against the DICOM read of the same data
    (the original's _compare_dicom_data)."""
    c.eq(label + ": shape", nii.get("shape"), dcm.get("shape"))
    c.close(label + ": spacing", nii.get("spacing"), dcm.get("spacing"), 1e-4)
    m, md = nii.get("transformationMatrix"), dcm.get("transformationMatrix")
    if isinstance(m, list) and isinstance(md, list):
        c.info("%s: max |M(nifti) - M(dicom)| = %.2g mm, max |orientation diff| = %.2g"
               % (label, max_abs(m, md),
                  max_abs(nii.get("orientation") or [0] * 6, dcm.get("orientation") or [0] * 6)))
    c.close(label + ": transformationMatrix", m, md, m_tol)
    c.close(label + ": orientation", nii.get("orientation"), dcm.get("orientation"), 1e-6)
    pos, dpos = nii.get("imagePositions") or {}, dcm.get("imagePositions") or {}
    c.close(label + ": imagePositions", [pos.get(k) for k in sorted(dpos, key=int)],
            [dpos[k] for k in sorted(dpos, key=int)], 1e-3)
    st, dst = nii.get("stats") or {}, dcm.get("stats") or {}
    c.eq(label + ": stats (min, max, sum)", [st.get("min"), st.get("max"), st.get("sum")],
         [dst.get("min"), dst.get("max"), dst.get("sum")])


def read_text_numbers(path):
    with open(path) as f:
        return [[float(v) for v in line.split()] for line in f if line.strip()]


# ---------------------------------------------------------------------------
# Cases: DICOM -> NIfTI against dcm2niix
# ---------------------------------------------------------------------------

def write_against_dcm2niix(c, name):
    out = os.path.join(TMP, "write_" + name, name + ".nii.gz")
    os.makedirs(os.path.dirname(out))
    image_data(c, out, [dicom_source(name)])
    written = sorted(os.listdir(os.path.dirname(out)))
    c.info("wrote %s" % written)
    if not c.true("%s exists" % display(out), os.path.isfile(out), "files: %s" % written):
        return
    check_gzip(c, out)
    ours = load_nifti(c, out)
    ref = load_nifti(c, reference_nifti(name), "nibabel (reference)")
    check_readable(c, ours[0], ours[1], name)
    compare_with_dcm2niix(c, ours, ref, name)


def make_write_case(name):
    def case(c):
        write_against_dcm2niix(c, name)
    case.__name__ = "case_write_" + name
    case.__doc__ = ("image_data --of nifti tmp/%s.nii.gz %s, compared with dcm2niix's file"
                    % (name, "dicom/time_all" if name == "time_all" else "dicom/%s.zip" % name))
    return case


# ---------------------------------------------------------------------------
# Cases: reading dcm2niix's files
# ---------------------------------------------------------------------------

def read_against_dicom(c, name):
    ref = reference_nifti(name)
    order = "time" if name == "time_all" else None
    dcm = image_info(c, [dicom_source(name)], order=order)
    nii = image_info(c, [ref], order=order)
    rimg, rdata = load_nifti(c, ref, "nibabel (reference)")
    c.eq("dtype (the file's, %s)" % rimg.get_data_dtype(), nii.get("dtype"), str(rimg.get_data_dtype()))
    if nii.get("dtype") != dcm.get("dtype"):
        c.info("dtype: nifti %s, dicom %s (values compared)" % (nii.get("dtype"), dcm.get("dtype")))
    check_series_vs_dicom(c, nii, dcm, name)
    # Independent of our reader: behaviour.md §5.2 Read applied here to
    # dcm2niix's sform must give the DICOM transform (checks the reference
    # and the formula the reader is held to).
    want = dicom_nifti_transform(rimg.get_sform(), rimg.shape[1])
    c.close("§5.2 read formula on dcm2niix's sform vs DICOM M", want.tolist(),
            dcm.get("transformationMatrix"), 1e-2)
    if isinstance(nii.get("transformationMatrix"), list):
        c.info("max |M(ours) - M(§5.2 formula)| = %.2g" % max_abs(nii["transformationMatrix"], want))
    # Voxel order of the read: pydicom's pixels against nibabel's (the
    # reference is right), then ours -> NIfTI again must give dcm2niix's file
    # back (the writer's order is fixed by the write cases, so a wrong read
    # order cannot cancel out).
    oracle = dicom_oracle(dicom_source(name), order or "none")
    if oracle is None:
        c.info("pydicom missing: pydicom vs nibabel voxel check skipped")
    else:
        c.true("reference voxels = pydicom's in NIfTI order",
               np.array_equal(rdata.astype(np.int64), oracle["data"].astype(np.int64)),
               "dcm2niix's file and pydicom disagree (test data?)")
    out = os.path.join(TMP, "read_" + name + ".nii.gz")
    image_data(c, out, [ref], options=(["--order", order] if order else []))
    img, data = load_nifti(c, out)
    c.eq("re-written dtype = the file's", str(img.get_data_dtype()), str(rimg.get_data_dtype()))
    check_readable(c, img, data, "re-written", shape=rimg.shape, sform=rimg.get_sform(),
                   values=rdata)


def make_read_case(name):
    def case(c):
        read_against_dicom(c, name)
    case.__name__ = "case_read_" + name
    case.__doc__ = "image_info on dcm2niix's %s = image_info on the DICOM (M 1e-2, orientation 1e-6, voxels)" % name
    return case


def case_time_all_nifti(c):
    """§11: NIfTI time_all: int16, zooms (2.083, 2.083, 3, 2.9875); the 4th
    dimension is a tag axis (0, nt, dt), named none under auto (§5.2)."""
    ref = reference_nifti("time_all")
    s = image_info(c, [ref])
    c.eq("shape", s.get("shape"), [3, 3, 192, 152])
    c.eq("dtype", s.get("dtype"), "int16")
    c.close("spacing (zooms 3, 2.0833, 2.0833)", s.get("spacing"), [3, 2.0833333, 2.0833333], 1e-4)
    axes = s.get("axes") or []
    if c.true("4 axes", len(axes) == 4, "axes %s" % [a.get("name") for a in axes]):
        a = axes[0]
        c.eq("auto: tag axis name", a.get("name"), "none")
        c.close("tag axis values (0, 2.9875, 5.975)", axis_values(a), [0, 2.9875, 5.975], 1e-4)
    t = image_info(c, [ref], order="time")
    axes = t.get("axes") or []
    c.eq("--order time: tag axis name", axes[0].get("name") if axes else None, "time")
    c.close("--order time: timeline", t.get("timeline"), [0, 2.9875, 5.975], 1e-4)
    # §11 "time NIfTI M = DICOM M (1e-2)": dicom/time (time) against nifti/time.
    time_ref = os.path.join(DATA, "nifti", "time")
    files = sorted(f for f in os.listdir(time_ref) if f.endswith(".nii.gz")) if os.path.isdir(time_ref) else []
    if files:
        n = image_info(c, [os.path.join(time_ref, files[0])], order="time")
        d = image_info(c, [os.path.join(DATA, "dicom", "time")], order="time")
        c.eq("nifti/time shape = dicom/time shape", n.get("shape"), d.get("shape"))
        c.close("nifti/time M = dicom/time M", n.get("transformationMatrix"),
                d.get("transformationMatrix"), 1e-2)
        c.info("nifti/time: max |M - M(dicom/time)| = %.2g"
               % max_abs(n.get("transformationMatrix"), d.get("transformationMatrix")))


def case_cor_rl_as_time(c):
    """§11: cor_rl read as time -> (3,320,220) int16 (a 3D file has no tag axis)."""
    ref = reference_nifti("cor_rl")
    s = image_info(c, [ref], order="time")
    c.eq("shape", s.get("shape"), [3, 320, 220])
    c.eq("dtype", s.get("dtype"), "int16")
    rimg, rdata = load_nifti(c, ref, "nibabel (reference)")
    c.eq("stats sum = nibabel's", (s.get("stats") or {}).get("sum"), float(rdata.astype(np.float64).sum()))


# ---------------------------------------------------------------------------
# Cases: diffusion
# ---------------------------------------------------------------------------

def case_dwi_roundtrip(c):
    """dicom/dwi (order b) -> out.nii.gz + out.bval (+ out.bvec); the image is
    not overwritten by the bval text (the original's bug, §12); read back."""
    folder = os.path.join(TMP, "dwi")
    os.makedirs(folder)
    out = os.path.join(folder, "out.nii.gz")
    src = os.path.join(DATA, "dicom", "dwi")
    image_data(c, out, [src])
    written = sorted(os.listdir(folder))
    c.info("wrote %s" % written)
    c.true("out.nii.gz written", os.path.isfile(out), "files: %s" % written)
    bval = os.path.join(folder, "out.bval")
    if c.true("out.bval written", os.path.isfile(bval), "files: %s" % written):
        lines = read_text_numbers(bval)
        c.eq("out.bval: one line [50, 400, 800]", lines, [[50.0, 400.0, 800.0]])
    bvec = os.path.join(folder, "out.bvec")
    if os.path.isfile(bvec):
        lines = read_text_numbers(bvec)
        c.info("out.bvec written (order b has no vectors): %s" % short(lines, 120))
        c.true("out.bvec: three lines of 3 values", len(lines) == 3 and all(len(l) == 3 for l in lines),
               "lines %s" % short(lines))
    else:
        c.info("no out.bvec (order b carries no vectors; §5.2 writes .bvec only for bvector/dti)")
    if not os.path.isfile(out):
        return
    check_gzip(c, out)
    img, data = load_nifti(c, out)
    oracle = dicom_oracle(src, "b")
    if oracle is not None:
        check_readable(c, img, data, "out.nii.gz", shape=[312, 384, 30, 3], sform=oracle["sform"],
                       values=oracle["data"])
        c.close("zooms (dc, dr, ds, 1)", [float(z) for z in img.header.get_zooms()],
                oracle["zooms"][:3] + [1.0], 1e-4)
        c.eq("dim_info", img.header.get_dim_info(), oracle["dim_info"])
    else:
        check_readable(c, img, data, "out.nii.gz", shape=[312, 384, 30, 3])
    dcm = image_info(c, [src], order="b")
    back = image_info(c, [out], order="b")
    c.eq("read back: shape", back.get("shape"), dcm.get("shape"))
    c.eq("read back: dtype", back.get("dtype"), dcm.get("dtype"))
    c.close("read back: spacing", back.get("spacing"), dcm.get("spacing"), 1e-5)
    axes, daxes = back.get("axes") or [{}], dcm.get("axes") or [{}]
    c.eq("read back: tag axis name", axes[0].get("name"), "b")
    c.close("read back: b values (from out.bval)", axis_values(axes[0]) if "name" in axes[0] else None,
            axis_values(daxes[0]), 1e-6)
    c.close("read back: transformationMatrix", back.get("transformationMatrix"),
            dcm.get("transformationMatrix"), 1e-2)
    c.info("read back: max |M - M(dicom)| = %.2g"
           % max_abs(back.get("transformationMatrix"), dcm.get("transformationMatrix")))
    c.eq("read back: stats", back.get("stats"), dcm.get("stats"))


def bvec_columns(c, path, n):
    """The bvec file as n (x, y, z) columns; three lines of n values (§5.2)."""
    lines = read_text_numbers(path)
    if not c.true("%s: three lines of %d values" % (os.path.basename(path), n),
                  len(lines) == 3 and all(len(l) == n for l in lines),
                  "%d lines of %s values" % (len(lines), [len(l) for l in lines])):
        raise Abort("%s has the wrong layout: %s" % (display(path), short(lines)))
    return [[lines[0][k], lines[1][k], lines[2][k]] for k in range(n)]


def flip_y(v):
    return [float(v[0]), -float(v[1]), float(v[2])] if v else [0.0, 0.0, 0.0]


def match_pairs(ours, ref, tol):
    """For each of our (b, vec) the index of the reference pair equal to it, or None."""
    used, index = set(), []
    for b, v in ours:
        hit = None
        for k, (rb, rv) in enumerate(ref):
            if k not in used and abs(b - rb) <= 1e-3 and max_abs(v, rv) <= tol:
                hit = k
                break
        if hit is not None:
            used.add(hit)
        index.append(hit)
    return index


def case_rsi_dti(c):
    """--order dti: bval [0, 500x6, 1500x6], bvec x,-y,z per volume; the
    (b, vector) pairs equal dcm2niix's (its order is the acquisition order)."""
    ref_nii, ref_bval, ref_bvec = rsi_reference()
    src = os.path.join(DATA, "dicom", RSI_ZIP)
    folder = os.path.join(TMP, "rsi_dti")
    os.makedirs(folder)
    out = os.path.join(folder, "rsi.nii.gz")
    image_data(c, out, [src], options=["--order", "dti"])
    written = sorted(os.listdir(folder))
    c.info("wrote %s" % written)
    for f in ("rsi.nii.gz", "rsi.bval", "rsi.bvec"):
        c.true(f + " written", f in written, "files: %s" % written)
    if not all(f in written for f in ("rsi.nii.gz", "rsi.bval", "rsi.bvec")):
        return
    bvals = read_text_numbers(os.path.join(folder, "rsi.bval"))
    c.eq("rsi.bval (spec: [0, 500x6, 1500x6])", bvals, [[0.0] + [500.0] * 6 + [1500.0] * 6])
    vectors = bvec_columns(c, os.path.join(folder, "rsi.bvec"), 13)
    c.close("bvec volume 1 (spec DICOM [0, -0.70640218, -0.7078107], y inverted)",
            vectors[1], [0, 0.70640218, -0.7078107], 1e-6)
    c.close("bvec volume 0 (b0 -> 0 0 0)", vectors[0], [0, 0, 0], 0)
    # Our vectors are the dti axis' (DICOM x, y, z) with y inverted.
    s = image_info(c, [src], order="dti")
    values = axis_values((s.get("axes") or [{}])[0]) if s.get("axes") else []
    if c.eq("dti axis length", len(values), 13):
        c.close("bvec = dti axis vectors with y inverted", vectors,
                [flip_y(v[1]) for v in values], 1e-6)
        c.close("bval = dti axis b values", bvals[0] if bvals else None,
                [float(v[0]) for v in values], 1e-6)
    # Against dcm2niix: the same set of (b, vector) pairs.
    rb = read_text_numbers(ref_bval)[0]
    rv = read_text_numbers(ref_bvec)
    ref_pairs = [(rb[k], [rv[0][k], rv[1][k], rv[2][k]]) for k in range(len(rb))]
    ours = [(bvals[0][k], vectors[k]) for k in range(13)] if bvals and len(bvals[0]) == 13 else []
    index = match_pairs(ours, ref_pairs, 1e-5)
    missing = [k for k, i in enumerate(index) if i is None]
    c.true("(b, bvec) pairs = dcm2niix's (as a set, 1e-5)", ours and not missing,
           "our volumes %s have no dcm2niix match" % missing)
    if ours and not missing:
        c.info("volume order: ours -> dcm2niix %s (%s)" % (index, "same" if index == list(range(13))
                                                           else "permuted; dcm2niix is in acquisition order"))
    img, data = load_nifti(c, out)
    rimg, rdata = load_nifti(c, ref_nii, "nibabel (reference)")
    check_readable(c, img, data, "rsi.nii.gz", shape=rimg.shape, sform=rimg.get_sform())
    c.close("qform (4 decimals)", img.get_qform().tolist(), rimg.get_qform().tolist(), DECIMAL4)
    if ours and not missing and data.shape == rdata.shape:
        bad = [k for k in range(13)
               if not np.array_equal(data[..., k].astype(np.int64), rdata[..., index[k]].astype(np.int64))]
        c.true("each volume = dcm2niix's volume with the same (b, bvec)", not bad,
               "volumes %s differ" % bad)


def case_rsi_b_bvector(c):
    """--order b,bvector: bval [0, 500, 1500] and 7 bvec vectors (§5.2 tests)."""
    ref_nii, ref_bval, ref_bvec = rsi_reference()
    src = os.path.join(DATA, "dicom", RSI_ZIP)
    folder = os.path.join(TMP, "rsi_b_bvector")
    os.makedirs(folder)
    out = os.path.join(folder, "rsi.nii.gz")
    image_data(c, out, [src], options=["--order", "b,bvector"])
    written = sorted(os.listdir(folder))
    c.info("wrote %s" % written)
    for f in ("rsi.nii.gz", "rsi.bval", "rsi.bvec"):
        c.true(f + " written", f in written, "files: %s" % written)
    if not all(f in written for f in ("rsi.nii.gz", "rsi.bval", "rsi.bvec")):
        return
    c.eq("rsi.bval", read_text_numbers(os.path.join(folder, "rsi.bval")), [[0.0, 500.0, 1500.0]])
    vectors = bvec_columns(c, os.path.join(folder, "rsi.bvec"), 7)
    s = image_info(c, [src], order="b,bvector")
    axes = s.get("axes") or []
    if c.true("image_info: b and bvector axes", len(axes) >= 2 and axes[1].get("name") == "bvector",
              "axes %s" % [a.get("name") for a in axes]):
        c.close("bvec = bvector axis with y inverted (b0 -> 0 0 0)", vectors,
                [flip_y(v) for v in axis_values(axes[1])], 1e-6)
    rb = read_text_numbers(ref_bval)[0]
    rv = read_text_numbers(ref_bvec)
    ref500 = [[rv[0][k], rv[1][k], rv[2][k]] for k in range(len(rb)) if rb[k] == 500]
    want = [(0.0, [0.0, 0.0, 0.0])] + [(500.0, v) for v in ref500]
    index = match_pairs([(500.0 if k else 0.0, v) for k, v in enumerate(vectors)], want, 1e-5)
    c.true("bvec vectors = {0} + dcm2niix's b=500 vectors (as a set, 1e-5)",
           None not in index, "unmatched %s" % [k for k, i in enumerate(index) if i is None])
    img, data = load_nifti(c, out)
    rimg, rdata = load_nifti(c, ref_nii, "nibabel (reference)")
    check_readable(c, img, data, "rsi.nii.gz", shape=[96, 78, 3, 7, 3], sform=rimg.get_sform())
    # Voxels: cell (bvector j, b i) is dcm2niix's volume with that b and the
    # nearest vector (the b=1500 vectors differ from b=500's by up to 2e-3).
    if list(data.shape) == [96, 78, 3, 7, 3]:
        rpairs = [(rb[k], [rv[0][k], rv[1][k], rv[2][k]]) for k in range(len(rb))]
        bad = []
        for i, b in enumerate([0.0, 500.0, 1500.0]):
            for j, v in enumerate(vectors):
                if (b == 0) != (j == 0):
                    continue                     # empty cells
                cand = sorted((max_abs(pv, v), k) for k, (pb, pv) in enumerate(rpairs) if pb == b)
                if not cand or cand[0][0] > 1e-2 or (len(cand) > 1 and cand[1][0] <= 1e-2) \
                        or not np.array_equal(data[:, :, :, j, i].astype(np.int64),
                                              rdata[..., cand[0][1]].astype(np.int64)):
                    bad.append((b, j))
        c.true("each (b, bvector) volume = dcm2niix's", not bad, "cells (b, j) %s differ" % bad)


# ---------------------------------------------------------------------------
# Cases: file naming, zip, command line
# ---------------------------------------------------------------------------

def case_naming(c):
    """§5.2/§7.3/§8: new path -> <path>.nii.gz; existing directory ->
    dir/Image.nii.gz; explicit .nii (uncompressed) and .nii.gz kept; %p.
    Inputs: dicom/time (the [O] example, 4D) and cor_hf.zip (dcm2niix's
    file is the expected content)."""
    root = os.path.join(TMP, "naming")
    os.makedirs(root)
    cor_hf = dicom_source("cor_hf")
    rimg, rdata = load_nifti(c, reference_nifti("cor_hf"), "nibabel (reference)")
    o4 = dicom_oracle(os.path.join(DATA, "dicom", "time"), "time")

    def expect(path, label, want_gzip=True):
        if not c.true(label + ": %s written" % display(path), os.path.isfile(path),
                      "folder has %s" % sorted(os.listdir(os.path.dirname(path)))):
            return None
        check_gzip(c, path, want_gzip)
        img, data = load_nifti(c, path)
        check_readable(c, img, data, label, shape=rimg.shape, sform=rimg.get_sform(), values=rdata)
        return img

    # [O] image_data --of nifti out1 data/dicom/time -> out1.nii.gz
    image_data(c, os.path.join(root, "out1"), [os.path.join(DATA, "dicom", "time")])
    out1 = os.path.join(root, "out1.nii.gz")
    if c.true("new path out1: out1.nii.gz written", os.path.isfile(out1),
              "folder has %s" % sorted(os.listdir(root))):
        check_gzip(c, out1)
        img, data = load_nifti(c, out1)
        check_readable(c, img, data, "out1 (4D)", shape=(152, 192, 3, 3),
                       sform=o4["sform"] if o4 else None, values=o4["data"] if o4 else None)
        if o4:
            c.close("out1 zooms (dc, dr, ds, dt)", [float(z) for z in img.header.get_zooms()],
                    o4["zooms"], 1e-4)
        c.eq("out1 xyzt units", img.header.get_xyzt_units(), ("mm", "sec"))
    c.true("no out1 file or folder besides out1.nii.gz", not os.path.exists(os.path.join(root, "out1")),
           "out1 exists")
    # Existing directory -> dir/Image.nii.gz
    folder = os.path.join(root, "dir")
    os.makedirs(folder)
    image_data(c, folder, [cor_hf])
    expect(os.path.join(folder, "Image.nii.gz"), "existing dir")
    c.eq("existing dir holds only Image.nii.gz", sorted(os.listdir(folder)), ["Image.nii.gz"])
    # A new path without suffix, 3D
    image_data(c, os.path.join(root, "vol"), [cor_hf])
    expect(os.path.join(root, "vol.nii.gz"), "new path vol")
    # Explicit names
    image_data(c, os.path.join(root, "test.nii.gz"), [cor_hf])
    expect(os.path.join(root, "test.nii.gz"), "test.nii.gz")
    image_data(c, os.path.join(root, "plain.nii"), [cor_hf])
    expect(os.path.join(root, "plain.nii"), "plain.nii", want_gzip=False)
    c.true("plain.nii not renamed", not os.path.exists(os.path.join(root, "plain.nii.gz")))
    # %p -> the format name
    image_data(c, os.path.join(root, "img_%p.nii.gz"), [cor_hf])
    expect(os.path.join(root, "img_nifti.nii.gz"), "img_%p.nii.gz")
    c.info("naming folder: %s" % sorted(os.listdir(root)))


def case_write_time00_3d(c):
    """A 3D acquisition (time00, MRAcquisitionType 3D, one volume): dcm2niix
    reorients to the nearest orthogonal axes (nii_setOrtho, §5.2): (152, 3,
    192), i/j/k along +x/+y/+z. Expected values: the dcm2niix algorithm re-done
    here with pydicom (matches dcm2niix v1.0.20220720 to 4e-5 mm)."""
    src = os.path.join(DATA, "dicom", "time", "time00")
    oracle = dicom_oracle(src, "none")
    if oracle is None:
        raise Abort("pydicom is missing: no expected values")
    out = os.path.join(TMP, "t00.nii.gz")
    image_data(c, out, [src])
    img, data = load_nifti(c, out)
    check_readable(c, img, data, "t00.nii.gz", shape=oracle["data"].shape, sform=oracle["sform"],
                   values=oracle["data"])
    c.close("zooms", [float(z) for z in img.header.get_zooms()], oracle["zooms"], 1e-4)
    c.eq("dim_info (no InPlanePhaseEncodingDirection)", img.header.get_dim_info(), oracle["dim_info"])
    c.info("max |qform - sform| = %.2g" % max_abs(img.get_qform(), img.get_sform()))


def corners(s):
    """The 8 corner voxel centres of a series (JSON) in patient space, sorted."""
    m = np.array(s["transformationMatrix"], float)
    n = s["shape"][-3:]
    pts = [tuple(np.round(m @ np.array([a, b, cc, 1.0]), 2)[:3])
           for a in (0, n[0] - 1) for b in (0, n[1] - 1) for cc in (0, n[2] - 1)]
    return sorted(pts)


def case_time_roundtrip(c):
    """The original's test_qform_3D and test_write_4d_nifti: DICOM -> NIfTI ->
    read: shape, dtype, M (1e-2) and voxels equal the DICOM read."""
    for label, src, order in (("time00", os.path.join(DATA, "dicom", "time", "time00"), None),
                              ("time (4D)", os.path.join(DATA, "dicom", "time"), "time")):
        folder = os.path.join(TMP, "roundtrip_" + label.split()[0])
        os.makedirs(folder)
        image_data(c, folder, [src], options=(["--order", order] if order else []))
        c.eq(label + ": the folder holds Image.nii.gz", sorted(os.listdir(folder)), ["Image.nii.gz"])
        oracle = dicom_oracle(src, order or "none")
        if os.path.isfile(os.path.join(folder, "Image.nii.gz")):
            img, data = load_nifti(c, os.path.join(folder, "Image.nii.gz"))
            check_readable(c, img, data, label + " Image.nii.gz",
                           shape=oracle["data"].shape if oracle else None,
                           sform=oracle["sform"] if oracle else None,
                           values=oracle["data"] if oracle else None)
        dcm = image_info(c, [src], order=order)
        back = image_info(c, [folder], order=order)
        c.eq(label + ": dtype", back.get("dtype"), dcm.get("dtype"))
        if back.get("shape") == dcm.get("shape"):
            c.close(label + ": transformationMatrix", back.get("transformationMatrix"),
                    dcm.get("transformationMatrix"), 1e-2)
            c.info("%s: max |M - M(dicom)| = %.2g" % (label, max_abs(back.get("transformationMatrix"),
                                                                     dcm.get("transformationMatrix"))))
            c.close(label + ": orientation", back.get("orientation"), dcm.get("orientation"), 1e-6)
        else:
            # A 3D acquisition written reoriented (nii_setOrtho) reads back
            # with permuted axes: the same voxels in space, another index order.
            c.info("%s: read back %s, DICOM %s (reoriented as dcm2niix does)"
                   % (label, back.get("shape"), dcm.get("shape")))
            c.eq(label + ": shape (as a set of extents)", sorted(back.get("shape") or []),
                 sorted(dcm.get("shape") or []))
            c.close(label + ": corner voxel positions (reoriented)", corners(back), corners(dcm), 1e-2)
        c.eq(label + ": stats", back.get("stats"), dcm.get("stats"))
        if order == "time":
            c.close(label + ": timeline", back.get("timeline"), dcm.get("timeline"), 1e-4)


def case_nifti_zip(c):
    """Writing into a zip (member Image.nii.gz) and reading it back; reading
    nifti/time_all.zip (the original's test_formats_nifti_zip)."""
    src = os.path.join(DATA, "dicom", "cor_hf.zip")
    ref = reference_nifti("cor_hf")
    rimg, rdata = load_nifti(c, ref, "nibabel (reference)")
    dcm = image_info(c, [src])
    for label, url, zpath in (("out.zip?Image.nii.gz", os.path.join(TMP, "out.zip?Image.nii.gz"),
                               os.path.join(TMP, "out.zip")),
                              ("plain.zip (default member)", os.path.join(TMP, "plain.zip"),
                               os.path.join(TMP, "plain.zip"))):
        image_data(c, url, [src])
        if not c.true(label + ": %s written" % display(zpath), os.path.isfile(zpath)):
            continue
        try:
            with zipfile.ZipFile(zpath) as z:
                names = z.namelist()
                raw = z.read("Image.nii.gz") if "Image.nii.gz" in names else None
        except zipfile.BadZipFile as e:
            c.fail(label, "not a zip: %s" % e)
            continue
        c.eq(label + ": members", names, ["Image.nii.gz"])
        if raw is None:
            continue
        c.true(label + ": member is gzip", raw[:2] == b"\x1f\x8b", "first bytes %r" % raw[:4])
        img, data = nifti_from_bytes(c, raw, label + " member")
        check_readable(c, img, data, label, shape=rimg.shape, sform=rimg.get_sform(), values=rdata)
        for read_url in (zpath, zpath + "?Image.nii.gz"):
            s = image_info(c, [read_url])
            c.eq("read %s: shape" % display(read_url), s.get("shape"), dcm.get("shape"))
            c.eq("read %s: dtype" % display(read_url), s.get("dtype"), dcm.get("dtype"))
            c.eq("read %s: stats" % display(read_url), s.get("stats"), dcm.get("stats"))
            c.close("read %s: M" % display(read_url), s.get("transformationMatrix"),
                    dcm.get("transformationMatrix"), 1e-2)
    zref = os.path.join(DATA, "nifti", "time_all.zip")
    if os.path.isfile(zref):
        for url, order in ((zref + "?time/time_all_fl3d_dynamic_20190207140517_14.nii.gz", "none"),
                           (zref + "?*/*_14.nii.gz", "none"),
                           (zref + "?time", "time"),
                           (zref, "time")):
            s = image_info(c, [url], order=order)
            c.eq("%s (%s): shape" % (display(url), order), s.get("shape"), [3, 3, 192, 152])
            c.eq("%s (%s): dtype" % (display(url), order), s.get("dtype"), "int16")


def case_cli(c):
    """image_data's command line around NIfTI: exit codes (docs/cli.md),
    --input_options, -v, nothing left behind on failure."""
    folder = os.path.join(TMP, "cli")
    os.makedirs(folder)
    rsi = os.path.join(DATA, "dicom", RSI_ZIP)
    # auto: several directions per b, so dti in acquisition order (13 volumes).
    image_data(c, os.path.join(folder, "auto.nii.gz"), [rsi])
    if c.true("auto: auto.nii.gz written", os.path.isfile(os.path.join(folder, "auto.nii.gz"))):
        img, data = load_nifti(c, os.path.join(folder, "auto.nii.gz"))
        check_readable(c, img, data, "auto.nii.gz", shape=[96, 78, 3, 13])
        for name in ("auto.nii.gz", "auto.bval", "auto.bvec"):
            os.remove(os.path.join(folder, name))
    # A series that cannot be sorted: exit 3, one line, nothing written.
    rc, _, err = image_data(c, os.path.join(folder, "none.nii.gz"), [rsi], options=["--order", "none"], want_rc=3)
    c.true("exit 3: one-line message", len([l for l in err.splitlines() if l.strip()]) >= 1, "stderr empty")
    c.eq("exit 3: nothing written", sorted(os.listdir(folder)), [])
    # The reader option the message suggests.
    out = os.path.join(folder, "dup.nii.gz")
    image_data(c, out, [rsi], options=["--input_options", "accept_duplicate_tag=True"])
    if c.true("--input_options accept_duplicate_tag=True: dup.nii.gz written", os.path.isfile(out)):
        img, data = load_nifti(c, out)
        check_readable(c, img, data, "dup.nii.gz", shape=[96, 78, 3, 13])
    # A missing input: 2; nothing written.
    image_data(c, os.path.join(folder, "missing.nii.gz"), [os.path.join(TMP, "no-such-input")], want_rc=2)
    c.true("exit 2: nothing written", not os.path.exists(os.path.join(folder, "missing.nii.gz")))
    # A bad option: 1.
    image_data(c, os.path.join(folder, "bad.nii.gz"), [rsi], options=["--no-such-option"], want_rc=1)
    # -v reports on stderr and still succeeds.
    _, _, err = image_data(c, os.path.join(folder, "verbose.nii.gz"),
                           [os.path.join(DATA, "dicom", "time", "time00")], options=["-v"])
    c.true("-v: something on stderr", err.strip(), "stderr is empty")
    verbose = os.path.join(folder, "verbose.nii.gz")
    if c.true("-v: verbose.nii.gz written", os.path.isfile(verbose)):
        img, data = load_nifti(c, verbose)
        oracle = dicom_oracle(os.path.join(DATA, "dicom", "time", "time00"), "none")
        check_readable(c, img, data, "verbose.nii.gz", shape=oracle["data"].shape if oracle else None,
                       sform=oracle["sform"] if oracle else None,
                       values=oracle["data"] if oracle else None)


CASES = ([make_write_case(n) for n in ORIENTATION_SETS + ["time_all"]]
         + [make_read_case(n) for n in ORIENTATION_SETS + ["time_all"]]
         + [case_time_all_nifti, case_cor_rl_as_time, case_time_roundtrip, case_dwi_roundtrip,
            case_rsi_dti, case_rsi_b_bvector, case_write_time00_3d, case_naming, case_nifti_zip,
            case_cli])


def main():
    global IMAGE_DATA, IMAGE_INFO, DATA, TMP
    args, code = options(__doc__, CASES, programs=("image_data", "image_info"), keep=True)
    if code is not None:
        return code
    IMAGE_DATA, IMAGE_INFO, DATA = args.image_data, args.image_info, args.data
    if not DATA or not os.path.isdir(os.path.join(DATA, "dicom")) \
            or not os.path.isdir(os.path.join(DATA, "nifti")):
        print("SKIP: no reference data in %r (IMD_TEST_DATA)" % args.data)
        return 77
    TMP = tempfile.mkdtemp(prefix="nifti_reference.")
    print("image_data %s; data %s; nibabel %s, numpy %s, pydicom %s"
          % (IMAGE_DATA, DATA, nib.__version__, np.__version__,
             pydicom.__version__ if pydicom else "missing"))
    try:
        return run_cases(CASES, args.case, args.verbose)
    finally:
        if args.keep:
            print("kept %s" % TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
