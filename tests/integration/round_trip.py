#!/usr/bin/python3
"""Issue 23 item 5: the seed's workflow on every kind of series.

For each series below (one SeriesInstanceUID copied on its own into a
folder), as a user of the original would do it:

    image_data --of FORMAT mid SERIES                      (FORMAT nifti, itk, mat)
    image_data --of dicom --template SERIES --sernum 1004 \
               --serdes 'Processed data' dcm mid.<ext>

then the written series is checked with pydicom against the template (the
oracle; nothing of ours reads the result):
  - as many frames (files, or frames of enhanced files) as the template,
    the same number of slice positions (slices per volume);
  - every written frame lies within 1e-3 mm of a template frame
    (ImagePositionPatient), with that frame's orientation (1e-4), rows and
    columns;
  - its voxels equal that frame's, or are within the rescale bound: the
    written stored values * RescaleSlope + RescaleIntercept differ from the
    template's by at most half the written slope (the quantisation step of
    the written stored values) plus 1e-6 of the largest value (float32 in
    the middle file); frames are paired one to one, the best match first;
  - where both have them, the paired frames' EchoTime agree (a frame's
    pixels must not carry another echo's header);
  - a new SeriesInstanceUID, new and unique SOPInstanceUIDs, the template's
    PatientID and StudyInstanceUID, SeriesNumber 1004 and the description;
  - no "Error" line from dciodvfy (dicom3tools) on any written file (the
    check is skipped, loudly, when dciodvfy is absent).

round_trip_expected.txt (beside this script) lists the round trips that do
not pass yet, each with its reason; the run fails on an unlisted failure and
on a listed round trip that passes.

usage: round_trip.py BUILD WORK SHARED [--case SUBSTRING]... [--jobs N] [-v]
Exit 0 as expected, 1 a difference from the expectations, 77 skipped.
"""
import argparse
import collections
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
import zipfile

warnings.simplefilter("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "round_trip_expected.txt")
POSITION_TOL = 1e-3     # mm (the brief)
ORIENTATION_TOL = 1e-4  # direction cosines
TIMEOUT = 600
SANITIZER = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|"
                       r"SUMMARY: (Address|Undefined|Leak)")
try:
    import numpy as np
    import pydicom
except ImportError as exc:  # a loud skip in main()
    np = pydicom = None
    IMPORT_ERROR = str(exc)

ALL = ("nifti", "itk", "mat")
NIFTI = ("nifti",)

# (name, source below SHARED/data, selection, formats). The source is a folder
# or a zip; the selection (attribute -> value) must pick one series there.
# Every folder and zip of imagedata/dicom is here, with one series per kind
# where a folder holds several series of the same protocol.
IMAGEDATA = [
    ("id/time00-3D", "imagedata/dicom/time/time00", {}, ALL),
    ("id/time-4D", "imagedata/dicom/time", {}, ALL),
    ("id/time_all-4D", "imagedata/dicom/time_all", {}, NIFTI),
    ("id/TI-2D", "imagedata/dicom/TI", {"SeriesNumber": 21}, ALL),
    ("id/dwi-TRACEW", "imagedata/dicom/dwi", {}, ALL),
    ("id/cor_oblique", "imagedata/dicom/cor_oblique", {}, ALL),
    ("id/cor_hf", "imagedata/dicom/cor_hf.zip", {}, ALL),
    ("id/cor_rl", "imagedata/dicom/cor_rl.zip", {}, ALL),
    ("id/sag_ap", "imagedata/dicom/sag_ap.zip", {}, ALL),
    ("id/sag_hf", "imagedata/dicom/sag_hf.zip", {}, ALL),
    ("id/sag_oblique", "imagedata/dicom/sag_oblique.zip", {}, ALL),
    ("id/tra_oblique", "imagedata/dicom/tra_oblique.zip", {}, ALL),
    ("id/tra_rl", "imagedata/dicom/tra_rl.zip", {}, ALL),
    # time and te vary: auto finds duplicate tags (behaviour.md), the user says the order
    ("id/5D-multiecho", "imagedata/dicom/5D.zip", {"_folder": "t1_fl2d_DE_4TEs",
     "_order": "time,te"}, ALL),
    ("id/RSI-dwi-13", "imagedata/dicom/ep2d_RSI_b0_500_1500_6dir.zip",
     {"_folder": "EP2D_RSI_B0_500_1500_6DIR_0003"}, ALL),
    ("id/RSI-dwi-25", "imagedata/dicom/5D.zip",
     {"_folder": "ep2d_RSI_b0_500_1500_6dir"}, NIFTI),
    ("id/cohort-tse_cor", "imagedata/dicom/cohort.zip",
     {"PatientID": "34578789", "SeriesDescription": "t2_tse_cor"}, ALL),
    ("id/cohort-tse_tra", "imagedata/dicom/cohort.zip",
     {"PatientID": "34578789", "SeriesDescription": "t2_tse_tra"}, ALL),
    ("id/cohort-tse_sag", "imagedata/dicom/cohort.zip",
     {"PatientID": "34578789", "SeriesDescription": "t2_tse_sag"}, ALL),
    ("id/cohort-vibe", "imagedata/dicom/cohort.zip",
     {"PatientID": "34578789", "SeriesDescription": "t1_vibe_flip3"}, ALL),
    ("id/cohort-haste", "imagedata/dicom/cohort.zip",
     {"PatientID": "34578789", "SeriesDescription": "t2_haste_tra"}, ALL),
    ("id/lena_color-RGB", "imagedata/dicom/lena_color.dcm", {}, ALL),
]
# dcm_qa_dev: one series per repository and kind (vendor, 2D/3D/4D, DWI,
# echoes, compressed, mosaic, enhanced multi-frame), NIfTI only.
QA = "dcm_qa_dev/%s/In"
DCM_QA_DEV = [
    ("qa/cs_dl-Philips-3D-scaled", QA % "dcm_qa_cs_dl", {"SeriesNumber": 501,
     "SeriesDescription": "T1W_FFE_Sno_CS4"}, NIFTI),
    ("qa/fmap-GE-B0map", QA % "dcm_qa_fmap", {"SeriesNumber": 6,
     "Manufacturer": "GE MEDICAL SYSTEMS"}, NIFTI),
    ("qa/fmap-Siemens-2echo", QA % "dcm_qa_fmap", {"SeriesNumber": 5,
     "Manufacturer": "SIEMENS"}, NIFTI),
    ("qa/fmap-Siemens-phase", QA % "dcm_qa_fmap", {"SeriesNumber": 4,
     "Manufacturer": "SIEMENS"}, NIFTI),
    # The reader splits this B0 map into magnitude and Hz pieces of one grid:
    # the user says which template piece each NIfTI came from
    # (template_series: the place image_info lists it at, or the split label).
    ("qa/fmap-Philips-enhanced", QA % "dcm_qa_fmap", {"SeriesNumber": 801, "_template_series": {
        "801-B0_NS.nii.gz": "1", "801-B0_NS_fieldmaphz.nii.gz": "fieldmaphz"}}, NIFTI),
    ("qa/frag-Siemens-3D-jpegll", QA % "dcm_qa_frag", {"SeriesNumber": 5001}, NIFTI),
    ("qa/stc-GE-4D-epi", QA % "dcm_qa_stc", {"SeriesNumber": 2,
     "Manufacturer": "GE MEDICAL SYSTEMS"}, NIFTI),
    ("qa/stc-Siemens-mosaic", QA % "dcm_qa_stc", {"_folder": "Siemens/B12/2_FMRI_AX_ASC"},
     NIFTI),
    ("qa/stc-Siemens-dwi-2D", QA % "dcm_qa_stc",
     {"_folder": "Siemens/E11_2D/8_diff_mbep2d_1.5mm_AP_MB4_64DIR_B0"}, NIFTI),
    ("qa/stc-Siemens-XA-enhanced", QA % "dcm_qa_stc", {"_folder": "Siemens/XA10/6_REST1_w_SMS_PF7-8"},
     NIFTI),
    ("qa/stc-UIH-dti", QA % "dcm_qa_stc", {"_folder": "UIH/R002/12_dti_tra_dir16_PA_rot"},
     NIFTI),
    ("qa/xa60-enhanced-bold", QA % "dcm_qa_xa60", {"SeriesNumber": 2}, NIFTI),
    ("qa/xa60-enhanced-dwi", QA % "dcm_qa_xa60", {"SeriesNumber": 14}, NIFTI),
]
CASES = IMAGEDATA + DCM_QA_DEV
MIDDLE = {"nifti": (".nii.gz",), "itk": (".mha", ".mhd"), "mat": (".mat",)}


# ---------------------------------------------------------------------------
# The series on their own
# ---------------------------------------------------------------------------

def source_files(shared, source, work):
    """The files of a source folder, zip (extracted once) or single file."""
    path = os.path.join(shared, "data", source)
    if path.endswith(".zip"):
        target = os.path.join(work, "zips", os.path.basename(path)[:-4])
        if not os.path.isdir(target):
            with zipfile.ZipFile(path) as z:
                z.extractall(target + ".part")
            os.rename(target + ".part", target)
        path = target
    if os.path.isfile(path):
        return path, [path]
    files = sorted(f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True)
                   if os.path.isfile(f))
    return path, files


def pick_series(shared, source, selection, work):
    """The files of the one series the selection names: (files, error)."""
    root, files = source_files(shared, source, work)
    series = collections.defaultdict(list)
    for f in files:
        folder = os.path.relpath(os.path.dirname(f), root)
        if "_folder" in selection and folder != selection["_folder"]:
            continue
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:
            continue  # not DICOM (a README, a DICOMDIR without images...)
        if "PixelData" not in ds and "Rows" not in ds:
            continue  # not an image (raw data, a report)
        if any(str(ds.get(k, "")) != str(v) for k, v in selection.items() if k[0] != "_"):
            continue
        series[str(ds.get("SeriesInstanceUID", ""))].append(f)
    if len(series) != 1:
        return None, "the selection %s finds %d series in %s" % (selection, len(series), source)
    return next(iter(series.values())), None


# ---------------------------------------------------------------------------
# Frames as pydicom sees them
# ---------------------------------------------------------------------------

class Frame:
    __slots__ = ("file", "index", "position", "orientation", "rows", "columns", "values",
                 "slope", "echo")


def _first(seq_owner, keyword):
    seq = seq_owner.get(keyword) if seq_owner is not None else None
    return seq[0] if seq else None


def _frame_attr(ds, i, sequence, keyword):
    """A functional group attribute of frame i (PS3.3 C.7.6.16): the
    per-frame group first, then the shared one."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    for group in ((per_frame[i] if per_frame and i < len(per_frame) else None),
                  (shared[0] if shared else None)):
        item = _first(group, sequence)
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def _masked(ds, pixels):
    """Bits above BitsStored are not part of the value (PS3.5 8.1.1);
    pydicom 2.3 leaves them in unsigned data (dcm_qa_stc's Siemens mosaic has
    some set)."""
    stored, allocated = int(ds.get("BitsStored", 16)), int(ds.get("BitsAllocated", 16))
    if stored < allocated and int(ds.get("PixelRepresentation", 0)) == 0 \
            and pixels.dtype.kind == "u":
        pixels = pixels & ((1 << stored) - 1)
    return pixels


def _tiles(ds, pixels):
    """A mosaic template's tiles as (pixels, position) per slice, or None.
    Siemens mosaics through nibabel's MosaicWrapper (its own CSA reading and
    position correction, independent of ours); United Imaging VFRAME grids
    from their private tile count and positions ((0065,xx50/51), creator
    "Image Private Header": tiles fill rows of Columns / tile columns)."""
    types = [str(t).upper() for t in (ds.get("ImageType") or [])]
    if "MOSAIC" in types:
        from nibabel.nicom import dicomwrappers
        w = dicomwrappers.wrapper_from_data(ds)
        if not hasattr(w, "n_mosaic"):
            return None
        rows, columns = w.image_shape[:2]
        per_row = int(ds.Columns) // columns
        out = []
        for k in range(int(w.n_mosaic)):
            r, c = divmod(k, per_row)
            tile = pixels[r * rows:(r + 1) * rows, c * columns:(c + 1) * columns]
            out.append((tile, (w.affine @ np.array([0, 0, k, 1.0]))[:3]))
        return out
    if "VFRAME" in types:
        block = None
        for element in ds.group_dataset(0x0065):
            if element.value == "Image Private Header" and element.tag.element < 0x100:
                block = element.tag.element << 8
        if block is None or (0x0065, block | 0x50) not in ds:
            return None
        count = int(float(ds[0x0065, block | 0x50].value))
        items = ds[0x0065, block | 0x51].value
        side = int(round((int(ds.Rows) * int(ds.Columns) / count) ** 0.5)) if count else 0
        size = str(ds[0x0065, block | 0x04].value) if (0x0065, block | 0x04) in ds else ""
        rows, columns = (int(x) for x in size.split("*")) if "*" in size else (side, side)
        per_row = int(ds.Columns) // columns
        out = []
        for k in range(count):
            r, c = divmod(k, per_row)
            tile = pixels[r * rows:(r + 1) * rows, c * columns:(c + 1) * columns]
            out.append((tile, np.asarray(items[k].ImagePositionPatient, float)))
        return out
    return None


def frames_of(path):
    """The frames of one file, each with its position, orientation, values
    (a mosaic's tiles are its frames)."""
    ds = pydicom.dcmread(path)
    pixels = _masked(ds, ds.pixel_array)
    enhanced = "PerFrameFunctionalGroupsSequence" in ds
    count = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1))
    tiles = _tiles(ds, pixels) if count == 1 and not enhanced else None
    if tiles is not None:
        count = len(tiles)
        pixels = np.stack([t[0] for t in tiles])
    elif count == 1:
        pixels = pixels[np.newaxis]
    out = []
    for i in range(count):
        f = Frame()
        f.file, f.index = path, i
        if enhanced:
            pos = _frame_attr(ds, i, "PlanePositionSequence", "ImagePositionPatient")
            iop = _frame_attr(ds, i, "PlaneOrientationSequence", "ImageOrientationPatient")
            slope = _frame_attr(ds, i, "PixelValueTransformationSequence", "RescaleSlope")
            inter = _frame_attr(ds, i, "PixelValueTransformationSequence", "RescaleIntercept")
            echo = _frame_attr(ds, i, "MREchoSequence", "EffectiveEchoTime")
        else:
            pos = ds.get("ImagePositionPatient")
            iop = ds.get("ImageOrientationPatient")
            slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
            echo = ds.get("EchoTime")
        if tiles is not None:
            pos = tiles[i][1]
        f.position = np.asarray(pos if pos is not None else [0, 0, 0], float)
        # Direction cosines are unit vectors (PS3.3 C.7.6.2.1.1): a template's
        # unnormalised ones are compared normalised.
        f.orientation = np.asarray(iop if iop is not None else [1, 0, 0, 0, 1, 0], float)
        for part in (f.orientation[:3], f.orientation[3:]):
            norm = np.linalg.norm(part)
            part /= norm if norm > 0 else 1
        f.rows, f.columns = pixels[i].shape[0], pixels[i].shape[1]
        f.slope = float(slope) if slope is not None else 1.0
        intercept = float(inter) if inter is not None else 0.0
        f.values = pixels[i].astype(np.float64) * f.slope + intercept
        if samples > 1 and f.values.ndim == 2:
            f.values = f.values[..., np.newaxis]
        f.echo = float(echo) if echo not in (None, "") else None
        out.append(f)
    return ds, out


# ---------------------------------------------------------------------------
# One round trip
# ---------------------------------------------------------------------------

def run(command, log):
    try:
        p = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timed out after %d s: %s" % (TIMEOUT, " ".join(command[1:]))
    log.append("$ " + " ".join(command) + "\n" + p.stdout + p.stderr)
    if SANITIZER.search(p.stderr):
        return "sanitizer report: %s: %s" % (" ".join(command[1:3]), p.stderr.strip()[-400:])
    if p.returncode != 0:
        return "exit %d: %s: %s" % (p.returncode, " ".join(command[1:3]),
                                    p.stderr.strip().splitlines()[-1:] or "")
    return None


def written_middle(folder, fmt):
    found = []
    for root, _, names in os.walk(folder):
        found += [os.path.join(root, n) for n in names if n.endswith(MIDDLE[fmt])]
    return sorted(found)


def dciodvfy_errors(files):
    errors = collections.Counter()
    for f in files:
        p = subprocess.run(["dciodvfy", f], capture_output=True, text=True)
        for line in (p.stdout + p.stderr).splitlines():
            if line.startswith("Error"):
                errors[line.strip()] += 1
    return errors


def check(written_files, template_files, problems, stats, pieces=1):
    template = []
    tds = None
    for f in template_files:
        ds, frames = frames_of(f)
        tds = tds or ds
        template += frames
    written = []
    series_uids, sop_uids = set(), []
    for f in written_files:
        ds, frames = frames_of(f)
        written += frames
        series_uids.add(str(ds.SeriesInstanceUID))
        sop_uids.append(str(ds.SOPInstanceUID))
        for keyword, want in (("PatientID", tds.get("PatientID")),
                              ("StudyInstanceUID", tds.get("StudyInstanceUID")),
                              ("SeriesNumber", 1004),
                              ("SeriesDescription", "Processed data")):
            got = ds.get(keyword)
            if str(got or "") != str(want or ""):  # absent and empty are both "unknown"
                problems.append("%s: %s is %r, want %r" % (os.path.basename(f), keyword, got, want))
    template_sops = {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
                     for f in template_files}
    if len(series_uids) != pieces or str(tds.SeriesInstanceUID) in series_uids:
        problems.append("SeriesInstanceUID: %d in the written files, template's kept: %s"
                        % (len(series_uids), str(tds.SeriesInstanceUID) in series_uids))
    if len(set(sop_uids)) != len(sop_uids) or template_sops & set(sop_uids):
        problems.append("SOPInstanceUIDs not new and unique (%d repeated, %d of the template's)"
                        % (len(sop_uids) - len(set(sop_uids)), len(template_sops & set(sop_uids))))
    if len(written) != len(template):
        problems.append("%d frames written, the template has %d" % (len(written), len(template)))

    def slices(frames):
        return {tuple(np.round(f.position, 2)) for f in frames}
    if len(slices(written)) != len(slices(template)):
        problems.append("%d slice positions written, the template has %d"
                        % (len(slices(written)), len(slices(template))))
    used = set()
    exact = worst_ratio = 0
    reported = 0
    for w in written:
        near = [t for t in template if np.abs(t.position - w.position).max() <= POSITION_TOL]
        if not near:
            nearest = min(np.abs(t.position - w.position).max() for t in template)
            problems.append("frame at %s: no template frame within %g mm (nearest %.3g mm)"
                            % (np.round(w.position, 3).tolist(), POSITION_TOL, nearest))
            reported += 1
            if reported > 3:
                break
            continue
        best, best_diff = None, None
        for t in near:
            if id(t) in used or t.values.shape != w.values.shape:
                continue
            diff = float(np.abs(t.values - w.values).max()) if t.values.size else 0.0
            if best is None or diff < best_diff:
                best, best_diff = t, diff
        if best is None:
            t = near[0]
            problems.append("frame at %s: %dx%d, the template's %dx%d (or all paired)"
                            % (np.round(w.position, 3).tolist(), w.rows, w.columns,
                               t.rows, t.columns))
            reported += 1
            if reported > 3:
                break
            continue
        used.add(id(best))
        bound = abs(w.slope) / 2 + 1e-6 * float(np.abs(best.values).max(initial=0)) + 1e-9
        if best_diff == 0:
            exact += 1
        worst_ratio = max(worst_ratio, best_diff / bound)
        if best_diff > bound:
            problems.append("frame at %s: voxels differ from the template's by up to %.6g "
                            "(bound %.3g)" % (np.round(w.position, 3).tolist(), best_diff, bound))
            reported += 1
        if np.abs(best.orientation - w.orientation).max() > ORIENTATION_TOL:
            problems.append("frame at %s: orientation %s, the template's %s"
                            % (np.round(w.position, 3).tolist(), w.orientation.tolist(),
                               best.orientation.tolist()))
            reported += 1
        if best.echo is not None and w.echo is not None and abs(best.echo - w.echo) > 1e-3:
            problems.append("frame at %s: EchoTime %g, the paired template frame's %g"
                            % (np.round(w.position, 3).tolist(), w.echo, best.echo))
            reported += 1
        if reported > 3:
            problems.append("(further frames not reported)")
            break
    stats["frames"] = len(written)
    stats["exact"] = exact
    stats["bound"] = worst_ratio


def round_trip(image_data, case, fmt, template_dir, template_files, work, with_iod, order,
               template_series=None):
    """One round trip: (problems, stats, log). template_series: the piece's file
    name -> the template_series option that picks its template piece."""
    order = ["--order", order] if order else []
    folder = os.path.join(work, case.replace("/", "_"), fmt)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    log, problems, stats = [], [], {}
    error = run([image_data, "--of", fmt] + order + [os.path.join(folder, "mid"), template_dir],
                log)
    if error:
        return [error], stats, log
    middle = written_middle(folder, fmt)
    # MetaIO: a 4D series is written as one 3D file per volume, read back
    # together (the original's ITK plugin does the same); two or more tag
    # axes (5D) as one NDims = 5 file. A series the
    # reader splits (a field map into magnitude and Hz) gives one NIfTI per
    # piece: each goes back on its own, with the whole folder as template
    # (template= picks the piece that fits), and together they must give the
    # template's frames.
    if fmt == "itk" and middle:
        pieces = [middle]
    elif fmt == "nifti" and middle:
        pieces = [[m] for m in middle]
    elif len(middle) == 1:
        pieces = [middle]
    else:
        return ["--of %s wrote %d files %s, want one" % (
            fmt, len(middle), [os.path.relpath(m, folder) for m in middle][:4])], stats, log
    # A MAT file holds no geometry: as in the original (behaviour.md 5.5),
    # template= gives the DICOM attributes and geometry= the positions.
    geometry = ["--geometry", template_dir] if fmt == "mat" else []
    written = []
    for k, piece in enumerate(pieces):
        out = os.path.join(folder, "dcm" if k == 0 else "dcm%d" % k)
        chosen = (template_series or {}).get(os.path.basename(piece[0]))
        select = ["--input_options", "template_series=" + chosen] if chosen else []
        error = run([image_data, "--of", "dicom"] + order + ["--template", template_dir] +
                    select + geometry + ["--sernum", "1004", "--serdes", "Processed data", out]
                    + piece, log)
        if error:
            return [error], stats, log
        # A single image is written as the file dcm.dcm, a series as the folder dcm.
        written += sorted(f for f in glob.glob(out + ".dcm")
                          + glob.glob(os.path.join(out, "**", "*"), recursive=True)
                          if os.path.isfile(f))
    if not written:
        return ["no DICOM file written"], stats, log
    try:
        check(written, template_files, problems, stats, len(pieces) if fmt == "nifti" else 1)
    except Exception as exc:  # pydicom cannot read what we wrote: a failure
        problems.append("pydicom: %s: %s" % (type(exc).__name__, exc))
    if with_iod:
        errors = dciodvfy_errors(written)
        for line, n in sorted(errors.items())[:4]:
            problems.append("dciodvfy (%d files): %s" % (n, line))
    return problems, stats, log


# ---------------------------------------------------------------------------
# Expectations and the run
# ---------------------------------------------------------------------------

def read_expected(path):
    expected, bad = {}, []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            words = text.split(None, 1)
            if len(words) < 2 or words[0].count("/") != 2:
                bad.append("%s:%d: want '<case>/<format> <reason>': %s"
                           % (os.path.basename(path), number, text))
                continue
            expected[words[0]] = words[1]
    return expected, bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build")
    parser.add_argument("work")
    parser.add_argument("shared")
    parser.add_argument("--case", action="append", default=[],
                        help="only the cases whose name contains this (repeatable)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    if np is None:
        print("SKIP: numpy/pydicom not importable: %s" % IMPORT_ERROR)
        return 77
    if not os.path.isdir(os.path.join(args.shared, "data")):
        print("SKIP: %s/data not found (the ../shared reference data is absent)" % args.shared)
        return 77
    image_data = os.path.join(args.build, "cli", "image_data")
    with_iod = shutil.which("dciodvfy") is not None
    if not with_iod:
        print("SKIP-CHECK: dciodvfy not found (apt-get install dicom3tools): "
              "the IOD check is NOT done in this run")
    expected, bad = read_expected(EXPECTED)
    cases = [c for c in CASES if not args.case or any(s in c[0] for s in args.case)]
    failures = list(bad)
    jobs = []
    for name, source, selection, formats in cases:
        if not os.path.exists(os.path.join(args.shared, "data", source)):
            print("SKIP-CASE %s: %s not found" % (name, source))
            continue
        files, error = pick_series(args.shared, source, selection, args.work)
        if error:
            failures.append("%s: %s" % (name, error))
            continue
        template = os.path.join(args.work, name.replace("/", "_"), "in")
        os.makedirs(template, exist_ok=True)
        for i, f in enumerate(files):
            shutil.copyfile(f, os.path.join(template, "%05d_%s" % (i, os.path.basename(f))))
        template_files = sorted(glob.glob(os.path.join(template, "*")))
        for fmt in formats:
            jobs.append((name, fmt, template, template_files, selection.get("_order"),
                         selection.get("_template_series")))
    started = time.monotonic()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        futures = {pool.submit(round_trip, image_data, name, fmt, template, files,
                               args.work, with_iod, order, chosen): (name, fmt, len(files))
                   for name, fmt, template, files, order, chosen in jobs}
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
    print("%-32s %-6s %6s  %-8s %s" % ("series", "via", "files", "result", "detail"))
    for key in sorted(results):
        name, fmt, nfiles = key
        problems, stats, log = results[key]
        label = "%s/%s" % (name, fmt)
        if problems:
            result = "xfail" if label in expected else "FAIL"
            detail = problems[0] + (" (+%d more)" % (len(problems) - 1) if len(problems) > 1
                                    else "")
            if stats:
                detail += "; %d frames, %d exact, worst %.2f of the bound" % (
                    stats.get("frames", 0), stats.get("exact", 0), stats.get("bound", 0))
            if label not in expected:
                failures.append("%s: %s" % (label, "; ".join(problems)))
        else:
            result = "XPASS" if label in expected else "ok"
            detail = "%d frames, %d exact, worst %.2f of the rescale bound" % (
                stats.get("frames", 0), stats.get("exact", 0), stats.get("bound", 0))
            if label in expected:
                failures.append("%s: passes but round_trip_expected.txt lists it (%s): "
                                "remove the line" % (label, expected[label]))
        print("%-32s %-6s %6d  %-8s %s" % (name, fmt, nfiles, result, detail))
        if args.verbose and (problems or result == "XPASS"):
            print("    " + "\n    ".join(problems + "\n".join(log).splitlines()[-20:]))
    known = {"%s/%s" % (c[0], f) for c in CASES for f in c[3]}
    for label in sorted(set(expected) - known):
        failures.append("round_trip_expected.txt lists %s, which is not a case" % label)
    print("%d round trips in %.0f s; dciodvfy %s" % (
        len(results), time.monotonic() - started, "checked" if with_iod else "NOT checked"))
    for line in failures:
        print("FAIL:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
