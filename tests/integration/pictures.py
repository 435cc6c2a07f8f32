#!/usr/bin/env python3
"""Picture formats (PNG, JPEG, TIFF) against Python's PIL, with pydicom and
numpy (docs/formats.md; behaviour.md §5.3).

Reading: PIL makes the files (8-bit, 16-bit, RGB and palette PNG; 8/16-bit
and RGB TIFF, LZW and deflate; a 3-page TIFF; grey and RGB JPEG);
image_data turns each into DICOM; pydicom reads that and must give PIL's
own pixels (PNG/TIFF exactly; JPEG too: PIL decodes with the same
libjpeg-turbo). The DICOM is Secondary Capture.

Writing: DICOM from ../shared/data (time00: 3 x 192 x 152 uint16;
lena_color.dcm: 512 x 512 RGB) goes through image_data --of png/tiff/jpeg;
PIL reads the numbered files, which must equal pydicom's pixels slice by
slice in position order (PNG, TIFF), or, for JPEG, the window of the DICOM
files (PS3.3 C.11.2.1.2.1, computed here with numpy) within a mean error of
1.5; a 4D series gives tags x slices files, slices fastest.

Prints "PASS: name" / "FAIL: name: reason" and "  . " lines with the
numbers measured, then "N passed, N failed"; exit 1 on a failure.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pydicom
from PIL import Image

SC = "1.2.840.10008.5.1.4.1.1.7"
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def run(args, *command, expect=0):
    result = subprocess.run(list(command), capture_output=True, text=True)
    if result.returncode != expect:
        raise AssertionError("%s: exit %d (expected %d): %s" % (
            " ".join(command[:3]), result.returncode, expect, result.stderr.strip()[-400:]))
    return result


def dicom_stack(folder):
    """pydicom pixel arrays of a folder, in InstanceNumber order, and the data sets."""
    files = sorted(glob.glob(os.path.join(folder, "**", "*.dcm"), recursive=True))
    if not files and os.path.isfile(folder + ".dcm"):
        files = [folder + ".dcm"]
    sets = sorted((pydicom.dcmread(f) for f in files), key=lambda d: int(d.InstanceNumber))
    return np.stack([d.pixel_array for d in sets]), sets


def pil_array(path):
    image = Image.open(path)
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(image).astype(np.uint16)
    return np.asarray(image)


def check_sc(sets, photometric):
    for d in sets:
        assert d.SOPClassUID == SC, "SOP class %s" % d.SOPClassUID
        assert d.PhotometricInterpretation == photometric, d.PhotometricInterpretation


# ---- reading: PIL makes, we read, pydicom checks ----

def make_inputs(folder):
    rng = np.random.default_rng(21)
    grey8 = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    grey16 = rng.integers(0, 65536, (29, 41), dtype=np.uint16)
    rgb = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    made = {}

    def save(name, image, expected, **kw):
        path = os.path.join(folder, name)
        image.save(path, **kw)
        made[name] = expected

    save("g8.png", Image.fromarray(grey8), grey8)
    save("g16.png", Image.fromarray(grey16), grey16)
    save("rgb.png", Image.fromarray(rgb), rgb)
    palette = Image.fromarray(rgb).quantize(16)
    save("pal.png", palette, np.asarray(palette.convert("RGB")))
    save("g8.tif", Image.fromarray(grey8), grey8, compression="tiff_lzw")
    save("g16.tif", Image.fromarray(grey16), grey16, compression="tiff_adobe_deflate")
    save("rgb.tif", Image.fromarray(rgb), rgb)
    # JPEG: the oracle is PIL's own decoding of the file.
    for name, array in (("g8.jpg", grey8), ("rgb.jpg", rgb)):
        path = os.path.join(folder, name)
        Image.fromarray(array).save(path, quality=90)
        made[name] = pil_array(path)
    return made


@case
def read_pil_files(args, tmp):
    made = make_inputs(tmp)
    for name, expected in made.items():
        out = os.path.join(tmp, "dcm_" + name.replace(".", "_"))
        run(args, args.image_data, "--of", "dicom", out, os.path.join(tmp, name))
        got, sets = dicom_stack(out)
        got = got[0]
        if got.shape != expected.shape or not np.array_equal(got, expected):
            diff = np.abs(got.astype(int) - expected.astype(int)).max() \
                if got.shape == expected.shape else "shape %s vs %s" % (got.shape, expected.shape)
            raise AssertionError("%s: pixels differ from PIL's (%s)" % (name, diff))
        check_sc(sets, "RGB" if expected.ndim == 3 else "MONOCHROME2")
        print("  . %s: %s %s equal to PIL's, Secondary Capture" % (
            name, "x".join(map(str, expected.shape)), expected.dtype))


@case
def read_multipage_tiff(args, tmp):
    rng = np.random.default_rng(3)
    pages = [rng.integers(0, 256, (19, 23), dtype=np.uint8) for _ in range(3)]
    path = os.path.join(tmp, "pages.tif")
    images = [Image.fromarray(p) for p in pages]
    images[0].save(path, save_all=True, append_images=images[1:])
    out = os.path.join(tmp, "pages_dcm")
    run(args, args.image_data, "--of", "dicom", out, path)
    got, sets = dicom_stack(out)
    assert got.shape == (3, 19, 23), got.shape
    assert np.array_equal(got, np.stack(pages)), "pages differ"
    check_sc(sets, "MONOCHROME2")
    print("  . a 3-page TIFF from PIL: a 3 x 19 x 23 stack, page k = slice k")


def tiled_tiff(width, height, tile, array):
    """A little-endian uncompressed tiled TIFF (TIFF 6.0 section 15) of uint16 grey."""
    import struct
    across, down = -(-width // tile), -(-height // tile)
    tiles = []
    for ty in range(down):
        for tx in range(across):
            block = np.zeros((tile, tile), np.uint16)
            part = array[ty * tile:(ty + 1) * tile, tx * tile:(tx + 1) * tile]
            block[:part.shape[0], :part.shape[1]] = part
            tiles.append(block.astype("<u2").tobytes())
    count = len(tiles)
    entries = 10
    ifd = 8
    extra = ifd + 2 + entries * 12 + 4
    offsets_at, counts_at = extra, extra + 4 * count
    data_at = counts_at + 4 * count
    offsets = [data_at + i * len(tiles[0]) for i in range(count)]
    def entry(tag, kind, n, value):
        return struct.pack("<HHI", tag, kind, n) + (struct.pack("<HH", value, 0) if kind == 3
                                                  else struct.pack("<I", value))
    out = b"II*\0" + struct.pack("<I", ifd) + struct.pack("<H", entries)
    out += entry(256, 4, 1, width) + entry(257, 4, 1, height) + entry(258, 3, 1, 16)
    out += entry(259, 3, 1, 1) + entry(262, 3, 1, 1) + entry(277, 3, 1, 1)
    out += entry(322, 4, 1, tile) + entry(323, 4, 1, tile)
    out += entry(324, 4, count, offsets_at) + entry(325, 4, count, counts_at)
    out += struct.pack("<I", 0)
    out += struct.pack("<%dI" % count, *offsets) + struct.pack("<%dI" % count, *[len(tiles[0])] * count)
    return out + b"".join(tiles)


@case
def read_tiled_tiff(args, tmp):
    rng = np.random.default_rng(5)
    array = rng.integers(0, 65536, (18, 37), dtype=np.uint16)
    path = os.path.join(tmp, "tiled.tif")
    open(path, "wb").write(tiled_tiff(37, 18, 16, array))
    assert np.array_equal(pil_array(path), array), "PIL reads the hand-made file differently"
    out = os.path.join(tmp, "tiled_dcm")
    run(args, args.image_data, "--of", "dicom", out, path)
    got, _ = dicom_stack(out)
    assert np.array_equal(got[0], array), "tiles misplaced"
    print("  . a tiled TIFF (16 x 16 tiles, partial at the edges), uint16: equal to PIL's")


@case
def lena_jpg_against_dcm(args, tmp):
    """behaviour.md §11: lena_color.dcm "equal to lena_color.jpg read via ITK"."""
    out = os.path.join(tmp, "lena")
    run(args, args.image_data, "--of", "dicom", out, os.path.join(args.data, "lena_color.jpg"))
    ours = pydicom.dcmread(out + ".dcm").pixel_array.astype(int)
    pil = pil_array(os.path.join(args.data, "lena_color.jpg")).astype(int)
    truth = pydicom.dcmread(os.path.join(args.data, "dicom", "lena_color.dcm")).pixel_array
    truth = truth.astype(int)
    assert np.array_equal(ours, pil), "not PIL's decoding"
    diff = np.abs(ours - truth)
    # ITK's JPEG decoder differs from libjpeg-turbo 2.1 (with any of djpeg's DCT and
    # upsampling choices): equal samples only ~75 %, so the bound is on the mean.
    assert ours.shape == truth.shape and diff.mean() < 1.0, "mean |diff| %.3f" % diff.mean()
    print("  . lena_color.jpg (ours = PIL's) vs lena_color.dcm: mean |diff| %.3f, max %d, "
          "%.1f %% of samples equal" % (diff.mean(), diff.max(), 100 * (diff == 0).mean()))


# ---- writing: pydicom is the truth, PIL reads what we wrote ----

def time00(args):
    folder = os.path.join(args.data, "dicom", "time", "time00")
    sets = [pydicom.dcmread(f) for f in sorted(glob.glob(os.path.join(folder, "*.dcm")))]
    normal = np.cross(np.array(sets[0].ImageOrientationPatient[:3], float),
                      np.array(sets[0].ImageOrientationPatient[3:], float))
    sets.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, float))))
    return folder, sets


@case
def write_png_tiff_exact(args, tmp):
    folder, sets = time00(args)
    for fmt, suffix in (("png", "png"), ("tiff", "tif")):
        out = os.path.join(tmp, "w_" + fmt)
        run(args, args.image_data, "--of", fmt, out, folder)
        files = sorted(os.listdir(out))
        assert files == ["Image_%05d.%s" % (i, suffix) for i in range(len(sets))], files
        for f, d in zip(files, sets):
            got = pil_array(os.path.join(out, f))
            assert got.dtype == np.uint16 or fmt == "png", got.dtype
            assert np.array_equal(got.astype(np.uint16), d.pixel_array), "%s differs" % f
        print("  . time00 -> %s: %d files, each equal to its DICOM slice (uint16)" % (
            fmt, len(files)))
    lena = os.path.join(args.data, "dicom", "lena_color.dcm")
    truth = pydicom.dcmread(lena).pixel_array
    for fmt, suffix in (("png", "png"), ("tiff", "tif")):
        out = os.path.join(tmp, "lena_" + fmt)
        run(args, args.image_data, "--of", fmt, out, lena)
        got = pil_array(out + "." + suffix)
        assert got.shape == truth.shape and np.array_equal(got, truth), "lena %s" % fmt
    print("  . lena_color.dcm -> png, tiff: 512 x 512 RGB equal")


@case
def write_jpeg_windowed(args, tmp):
    folder, sets = time00(args)
    out = os.path.join(tmp, "w_jpeg")
    run(args, args.image_data, "--of", "jpeg", out, folder)
    files = sorted(os.listdir(out))
    assert len(files) == len(sets), files
    worst = 0.0
    for f, d in zip(files, sets):
        c, w = float(d.WindowCenter), float(d.WindowWidth)
        x = d.pixel_array.astype(float)
        expected = np.clip(((x - (c - 0.5)) / (w - 1) + 0.5) * 255, 0, 255).round()
        got = pil_array(os.path.join(out, f)).astype(float)
        mean = np.abs(got - expected).mean()
        worst = max(worst, mean)
        assert got.shape == x.shape and mean < 1.5, "%s: mean |diff| %.3f" % (f, mean)
    print("  . time00 (uint16, window %s/%s) -> 8-bit JPEG: mean |diff| <= %.3f" % (
        sets[0].WindowCenter, sets[0].WindowWidth, worst))
    lena = os.path.join(args.data, "dicom", "lena_color.dcm")
    truth = pydicom.dcmread(lena).pixel_array.astype(float)
    run(args, args.image_data, "--of", "jpeg", os.path.join(tmp, "lena"), lena)
    got = pil_array(os.path.join(tmp, "lena.jpg")).astype(float)
    mean = np.abs(got - truth).mean()
    assert got.shape == truth.shape and mean < 2.0, "lena jpeg mean %.3f" % mean
    print("  . lena_color.dcm -> JPEG q95: mean |diff| %.3f, max %d" % (
        mean, np.abs(got - truth).max()))


@case
def write_4d_numbered(args, tmp):
    folder = os.path.join(args.data, "dicom", "time")
    out = os.path.join(tmp, "w4d")
    run(args, args.image_data, "--of", "png", out, folder)
    files = sorted(os.listdir(out))
    assert files == ["Image_%05d.png" % i for i in range(9)], files
    # Slices fastest: file t*3+s is slice s of time point t.
    by_time = []
    for sub in ("time00", "time01", "time02"):
        sets = [pydicom.dcmread(f) for f in
                sorted(glob.glob(os.path.join(folder, sub, "*.dcm")))]
        sets.sort(key=lambda d: float(d.SliceLocation))
        by_time.append([d.pixel_array for d in sets])
    for i, f in enumerate(files):
        got = pil_array(os.path.join(out, f)).astype(np.uint16)
        assert np.array_equal(got, by_time[i // 3][i % 3]), "%s is not t%d s%d" % (
            f, i // 3, i % 3)
    print("  . dicom/time (3 x 3 x 192 x 152) -> 9 PNGs, slices fastest")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-data", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--case", action="append")
    args = parser.parse_args()
    passed = failed = 0
    for fn in CASES:
        if args.case and fn.__name__ not in args.case:
            continue
        tmp = tempfile.mkdtemp(prefix="imd-pictures-")
        try:
            fn(args, tmp)
            print("PASS: %s" % fn.__name__)
            passed += 1
        except Exception as e:  # report and go on
            print("FAIL: %s: %s" % (fn.__name__, e))
            failed += 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
