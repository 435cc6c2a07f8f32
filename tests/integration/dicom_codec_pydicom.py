"""Decode every compressed image file Debian's pydicom ships, frame by frame,
with our codecs (tests/tools/dicom_decode_frames), and compare with oracles.

Oracles, per file (docs/compressed.md lists the outcome):
  twin     the same image uncompressed (or RLE, which pydicom decodes with
           numpy alone), read by pydicom: lossless files must equal it exactly;
  dcmtk    dcmdjpeg / dcmdjpls / dcmdrle output (dcmtk's own IJG, CharLS
           copy and RLE code), read by pydicom;
  gdcm     gdcmconv --raw output, read by pydicom;
  pillow   pydicom's own Pillow handler (JPEG baseline, JPEG 2000).
Each compressed file must either match every oracle that can decode it, within
the file's tolerance (0 for lossless), or be in REFUSED with its reason and
be refused by us. Values are compared after BitsStored masking and sign
extension (what imd__dicom_decode_frame delivers), colour as RGB.

usage: dicom_codec_pydicom.py TOOL WORKDIR
Exit 0 pass, 1 fail, 77 skip (no pydicom data, no oracle tools).
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")

try:
    import numpy as np
    import pydicom
    from pydicom.pixel_data_handlers import numpy_handler, rle_handler, pillow_handler
    from pydicom.pixel_data_handlers.util import convert_color_space
except ImportError as exc:  # pragma: no cover
    print(f"SKIP: pydicom/numpy not importable with {sys.executable}: {exc}")
    sys.exit(77)

DATA = "/usr/lib/python3/dist-packages/pydicom/data/test_files"

# Uncompressed (or RLE) twins of lossless files: identical pixels.
TWINS = {
    "MR_small_RLE.dcm": "MR_small.dcm",
    "MR_small_jp2klossless.dcm": "MR_small.dcm",
    "MR_small_jpeg_ls_lossless.dcm": "MR_small.dcm",
    "rtdose_rle.dcm": "rtdose.dcm",
    "rtdose_rle_1frame.dcm": "rtdose_1frame.dcm",
    # The same 100x100 RGB image (pydicom's SC_rgb.dcm, not shipped by Debian):
    "SC_rgb_jpeg_gdcm.dcm": "SC_rgb_rle.dcm",
    "SC_rgb_gdcm_KY.dcm": "SC_rgb_rle.dcm",
}

# Lossy files: the largest difference allowed from an oracle decoder (grey
# levels). libjpeg-turbo and IJG share the integer IDCT, so JPEG is usually
# exact; colour conversion rounding and upsampling may differ by a few.
TOLERANCE = {}

# Oracles known to be wrong on a file (the others agree with us), with why.
ORACLE_BUGS = {
    ("SC_rgb_rle_16bit.dcm", "gdcm"):
        "gdcmconv 3.0.21 swaps the byte planes of 16/32-bit RGB RLE; dcmtk and pydicom agree",
    ("SC_rgb_rle_32bit.dcm", "gdcm"):
        "gdcmconv 3.0.21 swaps the byte planes of 16/32-bit RGB RLE; dcmtk and pydicom agree",
}

# Files we refuse, with the reason (checked: we must refuse them, by name).
REFUSED = {
    "JPEG2000-embedded-sequence-delimiter.dcm":
        "not an image: a 250-byte codestream for 1024x256 pixels whose SIZ says "
        "4292730882 tiles (a pydicom parser test); gdcmconv fails too",
}


def masked(arr, bits_stored, high_bit, signed):
    """Stored values -> values, as PS3.5 §8 and our pixel.c read them."""
    a = arr.astype(np.int64) & ((1 << 32) - 1)
    shift = high_bit + 1 - bits_stored
    a = (a >> shift) & ((1 << bits_stored) - 1)
    if signed:
        sign = 1 << (bits_stored - 1)
        a = (a ^ sign) - sign
    return a


def reference_values(path, handler=None):
    """pydicom's pixel values of `path` as int64, frames first, colour as RGB
    (`handler`: decode with that pydicom handler only)."""
    ds = pydicom.dcmread(path)
    if handler is not None:
        saved = pydicom.config.pixel_data_handlers
        pydicom.config.pixel_data_handlers = [handler]
        try:
            arr = ds.pixel_array
        finally:
            pydicom.config.pixel_data_handlers = saved
    else:
        arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.SamplesPerPixel)
    pi = str(ds.PhotometricInterpretation)  # after decoding: RGB when the handler converted
    if frames == 1:
        arr = arr[np.newaxis]
    if samples == 3 and pi in ("YBR_FULL", "YBR_FULL_422"):
        arr = convert_color_space(arr, pi, "RGB", per_frame=True)
    bits_stored = int(ds.BitsStored)
    high_bit = int(ds.get("HighBit", bits_stored - 1))
    signed = int(ds.PixelRepresentation) == 1
    if samples == 3:
        return arr.astype(np.int64), pi
    return masked(arr, bits_stored, high_bit, signed), pi


def run_tool(tool, mode, path, out):
    r = subprocess.run([tool, mode, path, out], capture_output=True, text=True)
    info = json.loads(r.stdout) if r.returncode == 0 else None
    return r.returncode, info, r.stderr.strip()


def ours_values(tool, path, work):
    """Our decode: typed (pixel.c's conversion) when the reader supports the
    layout, else native (codec output) masked the same way."""
    out = os.path.join(work, "ours.raw")
    code, info, err = run_tool(tool, "--typed", path, out)
    if code == 0:
        dtype = {"uint8": np.uint8, "int8": np.int8, "uint16": np.uint16, "int16": np.int16,
                 "uint32": np.uint32, "int32": np.int32, "float64": np.float64,
                 "rgb8": np.uint8}[info["dtype"]]
        arr = np.fromfile(out, dtype=dtype)
        shape = (info["frames"], info["rows"], info["columns"])
        if info["samples"] == 3:
            shape += (3,)
        arr = arr.reshape(shape)
        if info["dtype"] == "float64":
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            slope = float(ds.get("RescaleSlope", 1) or 1)
            intercept = float(ds.get("RescaleIntercept", 0) or 0)
            arr = np.rint((arr - intercept) / slope)
        return "typed", arr.astype(np.int64), code, err
    if code != 5:
        return None, None, code, err
    # Refused by the reader's pixel layout (e.g. 16-bit colour): the codec's output.
    ncode, ninfo, nerr = run_tool(tool, "--native", path, out)
    if ncode != 0:
        return None, None, ncode, nerr
    width = ninfo["bits_allocated"] // 8
    dtype = {1: "<u1", 2: "<u2", 4: "<u4"}[width]
    arr = np.fromfile(out, dtype=dtype)
    shape = (ninfo["frames"], ninfo["rows"], ninfo["columns"])
    if ninfo["samples"] == 3:
        shape += (3,)
    arr = arr.reshape(shape).astype(np.int64)
    if ninfo["samples"] == 1:
        arr = masked(arr, ninfo["bits_stored"], ninfo["bits_stored"] - 1,
                     ninfo["pixel_representation"] == 1)
    return f"native ({err.split(': ', 2)[-1]})", arr, 0, ""


def oracle_files(path, work):
    """Decompressed copies by dcmtk and gdcm: {name: path}."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    uid = str(ds.file_meta.TransferSyntaxUID)
    base = os.path.join(work, os.path.basename(path))
    found = {}
    tools = []
    if uid in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
               "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"):
        tools.append(("dcmtk", ["dcmdjpeg", path, base + ".dcmtk"]))
    elif uid in ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"):
        tools.append(("dcmtk", ["dcmdjpls", path, base + ".dcmtk"]))
    elif uid == "1.2.840.10008.1.2.5":
        tools.append(("dcmtk", ["dcmdrle", path, base + ".dcmtk"]))
    tools.append(("gdcm", ["gdcmconv", "--raw", path, base + ".gdcm"]))
    for name, cmd in tools:
        if shutil.which(cmd[0]) is None:
            continue
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode == 0 and os.path.exists(cmd[-1]):
            found[name] = cmd[-1]
    return uid, found


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    tool, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    if not os.path.isdir(DATA):
        print(f"SKIP: {DATA} not found (python3-pydicom)")
        return 77
    missing = [t for t in ("dcmdjpeg", "dcmdjpls", "dcmdrle", "gdcmconv") if shutil.which(t) is None]
    if missing:
        print(f"SKIP: oracle tools missing: {' '.join(missing)} (apt-get install dcmtk libgdcm-tools)")
        return 77

    files = []
    for path in sorted(glob.glob(os.path.join(DATA, "**", "*"), recursive=True)):
        if os.path.isdir(path):
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            uid = ds.file_meta.TransferSyntaxUID
        except Exception:
            continue
        if uid.is_compressed and "Rows" in ds:
            files.append(path)

    failures, decoded, compared, refused, frames_total = [], 0, 0, 0, 0
    for path in files:
        name = os.path.relpath(path, DATA)
        kind, ours, code, err = ours_values(tool, path, work)
        if name in REFUSED:
            if kind is None and code in (2, 5):
                refused += 1
                print(f"refused  {name}: {err.split(': ', 1)[-1]}  [{REFUSED[name]}]")
            else:
                failures.append(f"{name}: expected a refusal ({REFUSED[name]}), got {kind}")
            continue
        if kind is None:
            failures.append(f"{name}: not decoded: {err}")
            continue
        decoded += 1
        frames_total += ours.shape[0]
        uid, oracles = oracle_files(path, work)
        refs = {}
        if name in TWINS:
            refs["twin " + TWINS[name]] = os.path.join(DATA, TWINS[name])
        refs.update(oracles)
        # pydicom's own decoders: numpy for RLE, Pillow for JPEG baseline/extended and J2K.
        if uid == "1.2.840.10008.1.2.5":
            refs["pydicom-rle"] = (path, rle_handler)
        elif uid in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",
                     "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"):
            refs["pydicom-pillow"] = (path, pillow_handler)
        results = []
        lossless = uid in ("1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.57",
                           "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
                           "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.201",
                           "1.2.840.10008.1.2.4.202")
        checked = 0
        for label, ref_path in refs.items():
            handler = None
            if isinstance(ref_path, tuple):
                ref_path, handler = ref_path
            try:
                ref, pi = reference_values(ref_path, handler)
            except Exception as exc:  # an oracle that cannot read its own output
                results.append(f"{label}: unreadable ({exc.__class__.__name__})")
                continue
            if ref.shape != ours.shape:
                failures.append(f"{name}: shape {ours.shape} but {label} {ref.shape}")
                continue
            diff = int(np.abs(ref - ours).max()) if ref.size else 0
            tol = 0 if lossless else TOLERANCE.get(name, 0)
            bug = ORACLE_BUGS.get((name, label))
            if bug is not None:
                results.append(f"{label} max|d|={diff} (known oracle bug: {bug})")
                if diff == 0:
                    failures.append(f"{name}: {label} now agrees: remove it from ORACLE_BUGS")
                continue
            checked += 1
            results.append(f"{label} max|d|={diff}")
            if diff > tol:
                failures.append(f"{name}: differs from {label} by up to {diff} (tolerance {tol}); "
                                f"{int((ref != ours).sum())} of {ref.size} values")
        if checked == 0:
            failures.append(f"{name}: no oracle could decode it ({'; '.join(results)})")
        else:
            compared += 1
        print(f"ok       {name} [{uid}] {ours.shape[0]} frame(s) via {kind}: {'; '.join(results)}")

    print(f"{len(files)} compressed files: {decoded} decoded ({frames_total} frames), "
          f"{compared} compared with an oracle, {refused} refused by name")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
