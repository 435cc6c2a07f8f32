"""High-Throughput JPEG 2000 (PS3.5 §8.2.15: 1.2.840.10008.1.2.4.201 lossless,
.202 lossless RPCL, .203 lossy) decoded by our codec (OpenJPEG 2.5), checked
against an independent encoder: Grok (grk_compress -M 64, Debian
grokj2k-tools) makes the HT codestreams, pydicom wraps them.

1. Lossless (.201, .202): 8-bit, 12-bit-in-16 unsigned and 16-bit signed
   frames decode to exactly the array that was encoded (our
   dicom_decode_frames --typed), and the file read by image_data and written
   as NIfTI holds the same voxels (nibabel).
2. Lossy (.203): our decode equals Grok's own decode of the same codestream
   (grk_decompress), to the value.
3. A codestream cut short is refused with an error, never a crash.

usage: dicom_htj2k.py BUILD WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")
try:
    import nibabel as nib
    import numpy as np
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import generate_uid
except ImportError as exc:
    print(f"SKIP: numpy/pydicom/nibabel not importable: {exc}")
    sys.exit(77)

HT_LOSSLESS, HT_RPCL, HT_LOSSY = ("1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
                                  "1.2.840.10008.1.2.4.203")

# pydicom 2.3 predates the HTJ2K syntaxes (PS3.6 2023): teach its UID table
# their names so that it writes them as encapsulated transfer syntaxes.
from pydicom._uid_dict import UID_dictionary  # noqa: E402
for _uid, _name in ((HT_LOSSLESS, "HTJ2KLossless"), (HT_RPCL, "HTJ2KLosslessRPCL"),
                    (HT_LOSSY, "HTJ2K")):
    UID_dictionary.setdefault(_uid, (_name, "Transfer Syntax", "", "", _name))


def pattern(rows, columns, bits, signed):
    """Values that use every bit plane and the sign, with edges and a ramp."""
    y, x = np.mgrid[0:rows, 0:columns]
    top = (1 << (bits - 1)) if signed else (1 << bits)
    values = (x * 131 + y * 977 + (x * y) % 61) % top
    if signed:
        values = values - top // 2
    values[0, 0] = top - 1 if not signed else top // 2 - 1
    values[-1, -1] = 0 if not signed else -(top // 2)
    return values.astype(np.int16 if signed else (np.uint8 if bits <= 8 else np.uint16))


def encode(work, name, array, bits, signed, extra):
    """Grok encodes raw samples (.rawl: little-endian) to an HT codestream."""
    rows, columns = array.shape
    raw = os.path.join(work, name + ".rawl")
    data = array.astype("<i2" if signed else ("<u2" if array.itemsize == 2 else "u1"))
    with open(raw, "wb") as f:
        f.write(data.tobytes())
    out = os.path.join(work, name + ".j2k")
    spec = f"{columns},{rows},1,{bits},{'s' if signed else 'u'}@1x1"
    subprocess.run(["grk_compress", "-i", raw, "-F", spec, "-o", out, "-M", "64"] + extra,
                   check=True, capture_output=True)
    with open(out, "rb") as f:
        stream = f.read()
    if b"\xff\x50" not in stream[:200]:
        raise SystemExit(f"{name}: Grok wrote no CAP marker: not an HT codestream")
    return stream


def wrap(path, stream, array, bits, signed, syntax):
    rows, columns = array.shape
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID, ds.SeriesNumber, ds.InstanceNumber = "OT", "HT", 1, 1
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 0], [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing, ds.SliceThickness = [1, 1], 1
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored, ds.HighBit = bits, bits - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def decode_ours(build, path, out):
    tool = os.path.join(build, "tests", "dicom_decode_frames")
    run = subprocess.run([tool, "--typed", path, out], capture_output=True, text=True)
    if run.returncode != 0:
        return None, run.stderr.strip()
    info = json.loads(run.stdout)
    dtype = {"uint8": np.uint8, "uint16": np.uint16, "int16": np.int16}.get(info["dtype"])
    if dtype is None:
        return None, f"unexpected dtype {info['dtype']}"
    return np.fromfile(out, dtype=dtype).reshape(info["rows"], info["columns"]), None


def main():
    build, work = sys.argv[1:3]
    for tool in ("grk_compress", "grk_decompress"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} not found (apt-get install grokj2k-tools)")
            return 77
    failures = []
    cases = [("u8", 8, False), ("u12", 12, False), ("s16", 16, True)]
    for name, bits, signed in cases:
        before = len(failures)
        array = pattern(40, 56, bits, signed)
        for syntax, extra in ((HT_LOSSLESS, []), (HT_RPCL, ["-p", "RPCL"])):
            tag = f"{name}-{syntax.rsplit('.', 1)[1]}"
            path = os.path.join(work, tag + ".dcm")
            wrap(path, encode(work, tag, array, bits, signed, extra), array, bits, signed,
                 syntax)
            got, why = decode_ours(build, path, os.path.join(work, tag + ".out"))
            if got is None:
                failures.append(f"{tag}: our decode failed: {why}")
                continue
            if not np.array_equal(got.astype(np.int64), array.astype(np.int64)):
                bad = int(np.count_nonzero(got.astype(np.int64) != array.astype(np.int64)))
                failures.append(f"{tag}: {bad} of {array.size} voxels differ")
            nii = os.path.join(work, tag + "-nii")
            run = subprocess.run([os.path.join(build, "cli", "image_data"), "--of", "nifti",
                                  "--no-gzip", nii, path], capture_output=True, text=True)
            if run.returncode != 0:
                failures.append(f"{tag}: image_data exit {run.returncode}: {run.stderr.strip()}")
                continue
            image = np.asarray(nib.load(nii + ".nii").dataobj).squeeze()
            # NIfTI (i, j) is (column, row) with j running up (RAS, as dcm2niix
            # writes it): the DICOM frame transposed and its rows flipped.
            if not np.array_equal(np.flipud(image.T).astype(np.int64), array.astype(np.int64)):
                failures.append(f"{tag}: image_data -> NIfTI voxels differ")
        if len(failures) == before:
            print(f"ok: {name}: .201 and .202 lossless, equal to the encoded array and in NIfTI")

    # Lossy: our decode against Grok's own decode of the same codestream.
    array = pattern(40, 56, 12, False)
    stream = encode(work, "lossy", array, 12, False, ["-I", "-r", "8"])
    path = os.path.join(work, "lossy.dcm")
    wrap(path, stream, array, 12, False, HT_LOSSY)
    theirs = os.path.join(work, "lossy-grok.rawl")  # .rawl: little-endian samples
    subprocess.run(["grk_decompress", "-i", os.path.join(work, "lossy.j2k"), "-o", theirs],
                   check=True, capture_output=True)
    grok = np.fromfile(theirs, dtype="<u2").reshape(array.shape)
    got, why = decode_ours(build, path, os.path.join(work, "lossy.out"))
    if got is None:
        failures.append(f"lossy: our decode failed: {why}")
    elif not np.array_equal(got.astype(np.int64), grok.astype(np.int64)):
        diff = np.abs(got.astype(np.int64) - grok.astype(np.int64)).max()
        failures.append(f"lossy .203: differs from grk_decompress by up to {diff}")
    else:
        print(f"ok: lossy .203 equals grk_decompress (max error vs source "
              f"{int(np.abs(got.astype(np.int64) - array.astype(np.int64)).max())})")

    # A truncated codestream: an error, not a crash (ASan would abort).
    short = os.path.join(work, "short.dcm")
    wrap(short, stream[: len(stream) // 3], array, 12, False, HT_LOSSY)
    got, why = decode_ours(build, short, os.path.join(work, "short.out"))
    if got is not None and np.array_equal(got, grok):
        failures.append("truncated: decoded as if whole")
    elif why is not None and ("AddressSanitizer" in why or "runtime error" in why):
        failures.append(f"truncated: {why}")
    else:
        print(f"ok: truncated codestream: {why or 'decoded partially (OpenJPEG tolerates it)'}")

    for line in failures:
        print("FAIL:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
