"""Lossless DICOM output through image_data (--input_options
output_transfer_syntax=NAME), checked by independent decoders.

Inputs are small uncompressed DICOM series made here with pydicom (8-bit,
16-bit unsigned and signed, 12-bit signed and 14-bit unsigned in 16, 8-bit
RGB, odd sizes 7 x 5, and a 64 x 48 series of 20 slices). image_data writes
each series once uncompressed (explicit VR LE: the reference) and once per
syntax. For every file written in a syntax:
  - the file meta TransferSyntaxUID is the syntax's, and for encapsulated
    syntaxes the Pixel Data is a Basic Offset Table item, one even-length
    fragment per frame and the sequence delimiter (pydicom's parser);
  - each oracle decodes it to the voxels of the reference file: dcmtk
    (dcmdrle, dcmdjpls, dcmdjpeg; dcmconv for deflate), gdcmconv --raw, and
    pydicom itself (its numpy RLE handler, JPEG 2000 through Pillow when the
    handler is available), values compared on their BitsStored bits, sign
    from PixelRepresentation (PS3.5 §8.1.1, PS3.3 C.7.6.3.1);
  - the reference's voxels are the input's (the uncompressed writer is
    checked against nibabel and pydicom elsewhere; here only that it kept
    the values);
  - our own reader converts the compressed series to NIfTI equal to the one
    from the reference series (nibabel).
A lossy syntax asked by UID is refused with exit 1 and leaves no file.

usage: dicom_encode.py BUILD WORKDIR
"""
import glob
import os
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")
try:
    import nibabel as nib
    import numpy as np
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import generate_pixel_data_fragment
    from pydicom.filebase import DicomBytesIO
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
except ImportError as exc:
    print(f"SKIP: numpy/pydicom/nibabel not importable: {exc}")
    sys.exit(77)

SYNTAXES = {
    "deflate": "1.2.840.10008.1.2.1.99",
    "rle": "1.2.840.10008.1.2.5",
    "jpegls": "1.2.840.10008.1.2.4.80",
    "j2k": "1.2.840.10008.1.2.4.90",
    "jpeg-lossless": "1.2.840.10008.1.2.4.70",
}
DCMTK = {"rle": ["dcmdrle"], "jpegls": ["dcmdjpls"], "jpeg-lossless": ["dcmdjpeg"],
         "deflate": ["dcmconv", "+te"]}

# name: rows, columns, slices, samples, bits allocated, bits stored, signed
CASES = {
    "u8": (5, 7, 3, 1, 8, 8, False),
    "u16": (5, 7, 4, 1, 16, 16, False),
    "s16": (5, 7, 3, 1, 16, 16, True),
    "s12": (5, 7, 3, 1, 16, 12, True),
    "u14": (7, 5, 2, 1, 16, 14, False),
    "rgb8": (5, 7, 2, 3, 8, 8, False),
    "series": (48, 64, 20, 1, 16, 12, False),
}


def make_series(folder, name, case, rng):
    rows, columns, slices, samples, allocated, stored, signed = case
    os.makedirs(folder)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    dtype = {(8, False): np.uint8, (16, False): np.uint16, (16, True): np.int16}[
        (allocated, signed)]
    low, high = (-(1 << (stored - 1)), 1 << (stored - 1)) if signed else (0, 1 << stored)
    volumes = []
    for k in range(slices):
        shape = (rows, columns, samples) if samples == 3 else (rows, columns)
        if name == "series":
            # smooth anatomy-like values with noise, so codecs see real structure
            y, x = np.mgrid[0:rows, 0:columns]
            base = 2000 + 1500 * np.sin(x / 7.0 + k / 3.0) * np.cos(y / 5.0)
            values = base + rng.integers(-40, 40, size=shape)
        else:
            values = rng.integers(low, high, size=shape)
            values.flat[0], values.flat[-1] = low, high - 1  # the extremes
            values[1, :] = values[1, 0]  # a run
        pixels = np.clip(values, low, high - 1).astype(dtype)
        volumes.append(pixels)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = "MR"
        ds.PatientName, ds.PatientID = "Encode^Test", "ENC1"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = frame
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, 2.0 * k]
        ds.PixelSpacing = [1, 1]
        ds.SliceThickness = 2
        ds.SamplesPerPixel = samples
        ds.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
        if samples == 3:
            ds.PlanarConfiguration = 0
        ds.Rows, ds.Columns = rows, columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, stored, stored - 1
        ds.PixelRepresentation = 1 if signed else 0
        ds.PixelData = pixels.tobytes()
        ds.save_as(os.path.join(folder, f"{k:03d}.dcm"), write_like_original=False)
    return volumes


def normalized(ds):
    """The voxels a reader sees: BitsStored bits, sign-extended when signed."""
    a = ds.pixel_array.astype(np.int64)
    bits = int(ds.BitsStored)
    a &= (1 << bits) - 1
    if int(ds.PixelRepresentation) == 1:
        a = np.where(a >= (1 << (bits - 1)), a - (1 << bits), a)
    return a


def fragment_layout(ds):
    """None when the Pixel Data is a BOT item then one even fragment per frame."""
    fp = DicomBytesIO(ds.PixelData)
    fp.is_little_endian = True
    tag, length = int.from_bytes(fp.read(4), "little"), int.from_bytes(fp.read(4), "little")
    if tag != 0xE000FFFE:
        return "no Basic Offset Table item"
    fp.read(length)
    frags = list(generate_pixel_data_fragment(fp))
    frames = int(getattr(ds, "NumberOfFrames", 1))
    if len(frags) != frames:
        return f"{len(frags)} fragments for {frames} frames"
    if any(len(f) % 2 for f in frags):
        return "odd fragment length"
    if length not in (0, 4 * frames):
        return f"Basic Offset Table of {length} bytes"
    return None


def run(command, failures, what):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        failures.append(f"{what}: {' '.join(command)} exited {result.returncode}: "
                        f"{result.stderr.strip()[:300]}")
        return False
    return True


def to_nifti(image_data, source, target, failures):
    if not run([image_data, "--of", "nifti", target, source], failures, f"read {source}"):
        return None
    # one series: image_data writes TARGET.nii.gz (or a folder for several)
    found = glob.glob(target + ".nii*") + glob.glob(os.path.join(target, "**", "*.nii*"),
                                                      recursive=True)
    return np.asanyarray(nib.load(sorted(found)[0]).dataobj) if found else None


def pydicom_can_decode(ds):
    try:
        ds.pixel_array
        return True
    except Exception:
        return False


def main():
    build, work = sys.argv[1:3]
    image_data = os.path.join(build, "cli", "image_data")
    rng = np.random.default_rng(14)
    failures = []
    checked = {s: {} for s in SYNTAXES}
    for name, case in CASES.items():
        source = os.path.join(work, "in", name)
        volumes = make_series(source, name, case, rng)
        reference = os.path.join(work, "explicit", name)
        if not run([image_data, "--of", "dicom", reference, source], failures, name):
            continue
        ref_files = sorted(glob.glob(os.path.join(reference, "*.dcm")))
        ref = {os.path.basename(f): pydicom.dcmread(f) for f in ref_files}
        # the reference keeps the input's values (as a set of slices)
        want = sorted(v.astype(np.int64).tobytes() for v in volumes)
        got = sorted(normalized(d).tobytes() for d in ref.values())
        if want != got:
            failures.append(f"{name}: the uncompressed output does not hold the input voxels")
        ref_nifti = to_nifti(image_data, reference, os.path.join(work, "nii", name, "ref"),
                             failures)
        for syntax, uid in SYNTAXES.items():
            out = os.path.join(work, syntax, name)
            if not run([image_data, "--of", "dicom", "--input_options",
                        f"output_transfer_syntax={syntax}", out, source], failures,
                       f"{name} {syntax}"):
                continue
            files = sorted(glob.glob(os.path.join(out, "*.dcm")))
            if [os.path.basename(f) for f in files] != list(ref):
                failures.append(f"{name} {syntax}: files {len(files)} != {len(ref)}")
                continue
            for path in files:
                key = os.path.basename(path)
                expected = normalized(ref[key])
                ds = pydicom.dcmread(path)
                if str(ds.file_meta.TransferSyntaxUID) != uid:
                    failures.append(f"{path}: TransferSyntaxUID {ds.file_meta.TransferSyntaxUID}")
                    continue
                if syntax != "deflate":
                    problem = fragment_layout(ds)
                    if problem:
                        failures.append(f"{path}: {problem}")
                oracles = []
                if syntax in DCMTK:
                    oracles.append(("dcmtk", DCMTK[syntax] + [path]))
                oracles.append(("gdcmconv", ["gdcmconv", "--raw", path]))
                for label, command in oracles:
                    decoded = os.path.join(work, "decoded.dcm")
                    if not run(command + [decoded], failures, f"{path} {label}"):
                        continue
                    d = pydicom.dcmread(decoded)
                    if d.file_meta.TransferSyntaxUID.is_compressed and syntax != "deflate":
                        failures.append(f"{path}: {label} left it compressed")
                    elif not np.array_equal(normalized(d), expected):
                        diff = np.abs(normalized(d) - expected).max()
                        failures.append(f"{path}: {label} decodes to other voxels "
                                        f"(max difference {diff})")
                    else:
                        checked[syntax][label] = checked[syntax].get(label, 0) + 1
                # pydicom's own decoders: numpy RLE, Pillow for JPEG 2000, deflate
                if syntax in ("rle", "deflate", "j2k"):
                    if syntax == "j2k" and not pydicom_can_decode(ds):
                        checked[syntax]["pydicom"] = "no handler"
                    elif not np.array_equal(normalized(ds), expected):
                        failures.append(f"{path}: pydicom decodes to other voxels")
                    else:
                        n = checked[syntax].get("pydicom", 0)
                        checked[syntax]["pydicom"] = n + 1 if isinstance(n, int) else n
            ours = to_nifti(image_data, out, os.path.join(work, "nii", name, syntax), failures)
            if ours is None or ref_nifti is None or not np.array_equal(ours, ref_nifti):
                failures.append(f"{name} {syntax}: our reader's NIfTI differs from the "
                                "uncompressed series'")
            else:
                checked[syntax]["image_data"] = checked[syntax].get("image_data", 0) + 1
    # lossy syntaxes are refused, and leave nothing behind
    for uid in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.81"):
        out = os.path.join(work, "lossy", uid)
        result = subprocess.run([image_data, "--of", "dicom", "--input_options",
                                 f"output_transfer_syntax={uid}", out,
                                 os.path.join(work, "in", "u8")], capture_output=True,
                                text=True)
        if result.returncode != 1 or "lossy" not in result.stderr:
            failures.append(f"lossy {uid}: exit {result.returncode}, {result.stderr.strip()}")
        if glob.glob(os.path.join(out, "**", "*.dcm"), recursive=True):
            failures.append(f"lossy {uid}: files were written")
    for syntax, counts in checked.items():
        print(f"{syntax}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for failure in failures:
        print("FAIL:", failure)
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
