#!/usr/bin/python3
"""Make the hostile corpus of issue 22 under a folder (the build folder's tmp).

Usage: make_corpus.py OUTPUT_FOLDER

Each case is a file or folder named after it; tests/integration/hostile.sh
runs them through the CLIs with their expected exit codes and messages. The
files are small: the claims are large, the bytes are not (the zip bomb is
4 x 64 MiB of zeros in about 260 KB).
"""
import gzip
import os
import struct
import sys
import zipfile

import numpy as np


def dicom_claims(folder):
    """Four 1 KB DICOM images claiming 65535 x 65535 16-bit pixels (8 GiB each)."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    os.makedirs(folder, exist_ok=True)
    series = "1.2.826.0.1.3680043.10.1008.22.1"
    study = "1.2.826.0.1.3680043.10.1008.22.2"
    for i in range(4):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = "%s.%d" % (series, i + 10)
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = series
        ds.Modality = "MR"
        ds.PatientName = "Hostile^Claims"
        ds.PatientID = "22"
        ds.SeriesNumber = 1
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [1, 1]
        ds.SliceThickness = 1
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = 65535
        ds.Columns = 65535
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = bytes(1024)
        ds.is_little_endian = True
        ds.is_implicit_VR = False
        pydicom.dcmwrite(os.path.join(folder, "IM%04d.dcm" % (i + 1)), ds,
                         write_like_original=False)


def nifti_header(shape, dtype=np.int16, magic=b"n+1", vox_offset=352.0):
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header["magic"] = magic
    header["vox_offset"] = vox_offset
    return header.binaryblock


def mat5(rows, cols, data, real_bytes=None, padding=b""):
    """A level 5 MAT-file of one double matrix A (MAT-File Format, miMATRIX)."""
    text = b"MATLAB 5.0 MAT-file, Platform: hostile corpus".ljust(116, b" ")
    header = text + bytes(8) + struct.pack("<H", 0x0100) + b"IM"
    flags = struct.pack("<II", 6, 8) + struct.pack("<II", 6, 0)  # miUINT32, mxDOUBLE_CLASS
    dims = struct.pack("<II", 5, 8) + struct.pack("<ii", rows, cols)  # miINT32
    name = struct.pack("<I", (1 << 16) | 1) + b"A\0\0\0"  # small miINT8 element
    count = len(data) if real_bytes is None else real_bytes
    real = struct.pack("<II", 9, count) + data + bytes((8 - len(data) % 8) % 8)  # miDOUBLE
    body = flags + dims + name + real + padding
    return header + struct.pack("<II", 14, len(body)) + body


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    dicom_claims(os.path.join(out, "dicom_65535"))

    big = nifti_header((32767, 32767, 32767)) + bytes(4)
    write(os.path.join(out, "nifti_32767.nii"), big)
    write(os.path.join(out, "nifti_32767.nii.gz"), gzip.compress(big + bytes(1000)))
    pair = os.path.join(out, "nifti_pair")
    os.makedirs(pair, exist_ok=True)
    write(os.path.join(pair, "p.hdr"), nifti_header((32767, 32767, 32767), magic=b"ni1",
                                                     vox_offset=0.0))
    write(os.path.join(pair, "p.img"), bytes(100))

    write(os.path.join(out, "mat_huge.mat"), mat5(40000, 40000, bytes(32)))
    write(os.path.join(out, "mat_short.mat"), mat5(10, 10, b"\x01" * 80))
    write(os.path.join(out, "mat_truncated.mat"), mat5(10, 10, b"\x01" * 80, real_bytes=800))
    write(os.path.join(out, "mat_padded.mat"), mat5(10, 10, b"\x01" * 80, padding=b"\x02" * 720))

    meta = os.path.join(out, "metaio_symlink")
    os.makedirs(meta, exist_ok=True)
    link = os.path.join(meta, "data.raw")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("/etc/passwd", link)
    write(os.path.join(meta, "evil.mhd"), b"ObjectType = Image\nNDims = 2\nDimSize = 4 4\n"
          b"ElementType = MET_UCHAR\nElementDataFile = data.raw\n")
    meta = os.path.join(out, "metaio_claims")
    os.makedirs(meta, exist_ok=True)
    write(os.path.join(meta, "small.raw"), b"hi\n")
    write(os.path.join(meta, "big.mhd"), b"ObjectType = Image\nNDims = 3\n"
          b"DimSize = 2000 2000 2000\nElementType = MET_UCHAR\nElementDataFile = small.raw\n")
    write(os.path.join(out, "metaio_local.mha"), b"ObjectType = Image\nNDims = 3\n"
          b"DimSize = 2000 2000 2000\nElementType = MET_UCHAR\nCompressedData = True\n"
          b"ElementDataFile = LOCAL\nxx")

    # A zip bomb of zero members: each inflates to 64 MiB, none is an image.
    with zipfile.ZipFile(os.path.join(out, "zip_bomb.zip"), "w", zipfile.ZIP_DEFLATED,
                         compresslevel=9) as z:
        for i in range(4):
            z.writestr("zero%d.bin" % i, bytes(64 << 20))
    # Unsafe member names beside one good image.
    import scipy.io

    good = os.path.join(out, "good.mat")
    scipy.io.savemat(good, {"A": np.arange(12.0).reshape(3, 4)})
    with zipfile.ZipFile(os.path.join(out, "zip_unsafe.zip"), "w") as z:
        z.writestr("../evil.mat", open(good, "rb").read())
        z.writestr("/absolute.mat", open(good, "rb").read())
        z.write(good, "good.mat")

    fifo = os.path.join(out, "fifo")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)


if __name__ == "__main__":
    main()
