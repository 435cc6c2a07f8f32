#!/usr/bin/env python3
"""PostScript and PDF input (src/formats/postscript; docs/formats.md) against
numbers computed here, with pydicom and numpy as the oracle.

The test writes a two-page PostScript file of 144 x 72 pt (2 x 1 inch):
page 1 has its left half black, page 2 a red rectangle in its upper right
quarter (PostScript's origin is the lower left corner, PLRM 4.3.1). At D dpi
a page is 2D x D pixels. The rendered series goes to DICOM with image_data,
and pydicom reads it back: shape, colour and the pattern's place are
checked (two pixels away from every edge, so anti-aliasing cannot matter),
the SOP class is Secondary Capture, and dciodvfy (dicom3tools) reports no
error (its warnings are printed). The same for a PDF made with ps2pdf, for
grey rendering, for rotate=90 (numpy.rot90 of the unrotated pages), for a
zip (the member is copied to a private folder first) and with a DICOM
template (patient and study from time00, still Secondary Capture).

Hostile or broken input: an endless loop is stopped by ghostscript_timeout;
a huge page is stopped when its pages outgrow the memory limit;
a program that writes a file is refused by -dSAFER (the file does not
appear); an unknown psopt key is a usage error; a missing gs is exit 5
naming it; nothing is left in TMPDIR in any case.

Prints "PASS: name" / "FAIL: name: reason" / "SKIP: ..." and "  . " lines,
then "N passed, N failed"; exit 1 on a failure.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import pydicom

SC = "1.2.840.10008.5.1.4.1.1.7"
CASES = []

TWO_PAGES = """%!PS-Adobe-3.0
%%Pages: 2
<< /PageSize [144 72] >> setpagedevice
%%Page: 1 1
0 setgray 0 0 72 72 rectfill
showpage
%%Page: 2 2
1 0 0 setrgbcolor 72 36 72 36 rectfill
showpage
%%EOF
"""


def one_page(gray):
    return ("%%!PS\n<< /PageSize [144 72] >> setpagedevice\n"
            "%g setgray 0 0 144 72 rectfill showpage\n" % gray)


def case(fn):
    CASES.append(fn)
    return fn


class Env:
    pass


def run(env, *args, expect=0, timeout=120):
    command = [env.image_data] + list(args)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            env=env.environ)
    if result.returncode != expect:
        raise AssertionError("image_data %s: exit %d (expected %d): %s" % (
            " ".join(args), result.returncode, expect, result.stderr.strip()[-500:]))
    return result


def dicom_stack(folder):
    files = sorted(glob.glob(os.path.join(folder, "*.dcm")))
    if not files and os.path.isfile(folder + ".dcm"):
        files = [folder + ".dcm"]
    sets = sorted((pydicom.dcmread(f) for f in files), key=lambda d: int(d.InstanceNumber))
    return np.stack([d.pixel_array for d in sets]), sets, files


def check_pattern(pages, dpi, rgb):
    """The two pages: shape and where black, red and white are."""
    h, w = dpi, 2 * dpi
    assert pages.shape[:3] == (2, h, w), "shape %s, expected (2, %d, %d)" % (pages.shape, h, w)
    m = 2  # pixels kept away from every edge of the pattern
    p1, p2 = pages[0].astype(int), pages[1].astype(int)
    black, white = (0, 0, 0) if rgb else 0, (255, 255, 255) if rgb else 255
    assert (p1[m:h - m, m:w // 2 - m] == black).all(), "page 1: left half not black"
    assert (p1[m:h - m, w // 2 + m:w - m] == white).all(), "page 1: right half not white"
    top_right = p2[m:h // 2 - m, w // 2 + m:w - m]
    if rgb:
        assert (top_right == (255, 0, 0)).all(), "page 2: upper right not red"
    else:  # red as one grey between black and white (gs converts through its ICC profiles)
        values = np.unique(top_right)
        assert len(values) == 1 and 40 <= values[0] <= 200, "page 2: red as grey %s" % values
    assert (p2[h // 2 + m:h - m, :] == white).all(), "page 2: lower half not white"
    assert (p2[:, m:w // 2 - m] == white).all(), "page 2: left half not white"


def dciodvfy(env, files):
    if env.dciodvfy is None:
        print("  . SKIP: dciodvfy (Debian dicom3tools) is not installed: not validated")
        return
    warnings = set()
    for f in files:
        result = subprocess.run([env.dciodvfy, f], capture_output=True, text=True)
        lines = (result.stdout + result.stderr).splitlines()
        errors = [l for l in lines if l.startswith("Error")]
        assert not errors, "dciodvfy %s: %s" % (os.path.basename(f), errors)
        warnings.update(l for l in lines if l.startswith("Warning"))
    print("  . dciodvfy: no errors in %d files; warnings: %s" % (
        len(files), "; ".join(sorted(warnings)) or "none"))


def check_sc(sets, photometric):
    for d in sets:
        assert d.SOPClassUID == SC, "SOP class %s" % d.SOPClassUID
        assert d.PhotometricInterpretation == photometric, d.PhotometricInterpretation
        assert d.ConversionType == "WSD"


def leftovers(env):
    return os.listdir(env.tmpdir)


# ---- cases ----

@case
def ps_rgb_and_grey(env, tmp):
    ps = os.path.join(tmp, "two.ps")
    open(ps, "w").write(TWO_PAGES)
    for dpi in (72, 150):
        out = os.path.join(tmp, "rgb%d" % dpi)
        run(env, "--of", "dicom", "--psopt", "dpi=%d" % dpi, out, ps)
        pages, sets, files = dicom_stack(out)
        check_pattern(pages, dpi, True)
        check_sc(sets, "RGB")
        print("  . two.ps at %d dpi: 2 x %d x %d RGB, pattern in place" % (dpi, dpi, 2 * dpi))
    dciodvfy(env, files)
    out = os.path.join(tmp, "grey")
    run(env, "--of", "dicom", "--psopt", "dpi=100,driver=pnggray", out, ps)
    pages, sets, files = dicom_stack(out)
    assert pages.dtype == np.uint8, pages.dtype
    check_pattern(pages, 100, False)
    check_sc(sets, "MONOCHROME2")
    dciodvfy(env, files)
    print("  . two.ps, pnggray at 100 dpi: 2 x 100 x 200 uint8 MONOCHROME2")
    assert not leftovers(env), "left in TMPDIR: %s" % leftovers(env)


@case
def pdf_from_ps2pdf(env, tmp):
    if env.ps2pdf is None:
        print("  . SKIP: ps2pdf is not installed")
        return
    ps, pdf = os.path.join(tmp, "two.ps"), os.path.join(tmp, "two.pdf")
    open(ps, "w").write(TWO_PAGES)
    subprocess.run([env.ps2pdf, ps, pdf], check=True, capture_output=True)
    assert open(pdf, "rb").read(5) == b"%PDF-"
    out = os.path.join(tmp, "pdf")
    run(env, "--of", "dicom", out, pdf)
    pages, sets, files = dicom_stack(out)
    check_pattern(pages, 150, True)
    check_sc(sets, "RGB")
    dciodvfy(env, files)
    print("  . two.pdf (ps2pdf): 2 x 150 x 300 RGB, pattern in place")


@case
def rotate_90(env, tmp):
    ps = os.path.join(tmp, "two.ps")
    open(ps, "w").write(TWO_PAGES)
    plain, rotated = os.path.join(tmp, "plain"), os.path.join(tmp, "rot")
    run(env, "--of", "dicom", "--psopt", "dpi=50", plain, ps)
    run(env, "--of", "dicom", "--psopt", "dpi=50,rotate=90", rotated, ps)
    a, _, _ = dicom_stack(plain)
    b, _, _ = dicom_stack(rotated)
    assert b.shape == (2, 100, 50, 3), b.shape
    assert np.array_equal(b, np.rot90(a, axes=(1, 2))), "not numpy.rot90 of the pages"
    print("  . rotate=90: 2 x 100 x 50, equal to numpy.rot90 of the unrotated pages")


@case
def zip_members_stack(env, tmp):
    archive = os.path.join(tmp, "pages.zip")
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pages/a.ps", one_page(0))
        z.writestr("pages/b.ps", one_page(1))
    out = os.path.join(tmp, "zipped")
    run(env, "--of", "dicom", "--psopt", "dpi=36,driver=pnggray", out, archive)
    pages, _, _ = dicom_stack(out)
    assert pages.shape == (2, 36, 72), pages.shape
    assert (pages[0] == 0).all() and (pages[1] == 255).all(), "member order or colour"
    assert not leftovers(env), "left in TMPDIR: %s" % leftovers(env)
    print("  . a zip of two 1-page files: a 2 x 36 x 72 stack in member order, "
          "nothing left in TMPDIR")


@case
def document_beside_images_is_left(env, tmp):
    """A report beside an exam's images is no series of it (issue 13 item 1:
    dcm_qa_xa60 holds a protocol.pdf); a folder of documents alone is read."""
    template = os.path.join(env.data, "dicom", "time", "time00")
    if not os.path.isdir(template):
        print("  . SKIP: %s is missing" % template)
        return
    folder = os.path.join(tmp, "exam")
    shutil.copytree(template, folder)
    open(os.path.join(folder, "report.ps"), "w").write(TWO_PAGES)
    out = os.path.join(tmp, "exam_nii")
    result = run(env, "-v", "--of", "nifti", out, folder)
    written = glob.glob(os.path.join(out, "**", "*.nii*"), recursive=True) + \
        glob.glob(out + ".nii*")
    assert len(written) == 1, "the report became a series: %s" % written
    assert "report.ps: a document beside images" in result.stderr, result.stderr[-400:]
    assert not leftovers(env), "left in TMPDIR: %s" % leftovers(env)
    alone = os.path.join(tmp, "reports")
    os.makedirs(alone)
    open(os.path.join(alone, "report.ps"), "w").write(TWO_PAGES)
    out = os.path.join(tmp, "reports_sc")
    run(env, "--of", "dicom", out, alone)
    pages, _, _ = dicom_stack(out)
    assert pages.shape[0] == 2, pages.shape
    print("  . report.ps beside DICOM images: left out (one NIfTI, logged with -v); "
          "a folder holding only it: read, 2 pages")


@case
def template_gives_patient_and_study(env, tmp):
    template = os.path.join(env.data, "dicom", "time", "time00")
    if not os.path.isdir(template):
        print("  . SKIP: %s is missing" % template)
        return
    ps = os.path.join(tmp, "two.ps")
    open(ps, "w").write(TWO_PAGES)
    out = os.path.join(tmp, "sc")
    run(env, "--of", "dicom", "--template", template, out, ps)
    pages, sets, files = dicom_stack(out)
    reference = pydicom.dcmread(sorted(glob.glob(os.path.join(template, "*.dcm")))[0])
    check_sc(sets, "RGB")
    for d in sets:
        assert d.PatientName == reference.PatientName and d.PatientID == reference.PatientID
        assert d.StudyInstanceUID == reference.StudyInstanceUID
        assert d.SeriesInstanceUID != reference.SeriesInstanceUID
    dciodvfy(env, files)
    print("  . --template time00: Secondary Capture in the template's patient and study")


@case
def endless_loop_is_stopped(env, tmp):
    ps = os.path.join(tmp, "loop.ps")
    open(ps, "w").write("%!PS\n{ 1 pop } loop\n")
    start = time.monotonic()
    result = run(env, "--input_options", "ghostscript_timeout=1", os.path.join(tmp, "x"), ps,
                 expect=4)
    took = time.monotonic() - start
    assert "ghostscript_timeout" in result.stderr, result.stderr
    assert took < 30, took
    assert not leftovers(env), "left in TMPDIR: %s" % leftovers(env)
    print("  . an endless loop: exit 4 after %.1f s (limit 1 s), nothing left" % took)


@case
def huge_page_is_stopped(env, tmp):
    ps = os.path.join(tmp, "huge.ps")
    open(ps, "w").write("%!PS\n<< /PageSize [20000 20000] >> setpagedevice\n"
                        "0 setgray 0 0 100 100 rectfill showpage\n")
    start = time.monotonic()
    result = run(env, "--memory-limit", "64M", os.path.join(tmp, "x"), ps, expect=4)
    took = time.monotonic() - start
    assert "was stopped" in result.stderr, result.stderr
    assert not leftovers(env), "left in TMPDIR: %s" % leftovers(env)
    print("  . a 20000 x 20000 pt page (5.2 GB of pixels) with --memory-limit 64M: gs stopped "
          "after %.1f s, exit 4, nothing left" % took)


@case
def safer_refuses_writing(env, tmp):
    target = os.path.join(tmp, "written-by-postscript")
    ps = os.path.join(tmp, "evil.ps")
    open(ps, "w").write("%%!PS\n(%s) (w) file dup (pwned) writestring closefile\n"
                        "showpage\n" % target)
    result = run(env, os.path.join(tmp, "x"), ps, expect=4)
    assert not os.path.exists(target), "-dSAFER let the program write a file"
    assert "invalidfileaccess" in result.stderr, result.stderr
    assert not leftovers(env)
    print("  . a program writing a file: refused (%s)" % result.stderr.strip()[:160])


@case
def usage_and_missing_program(env, tmp):
    ps = os.path.join(tmp, "two.ps")
    open(ps, "w").write(TWO_PAGES)
    result = run(env, "--psopt", "resolution=300", os.path.join(tmp, "x"), ps, expect=1)
    assert "resolution" in result.stderr, result.stderr
    result = run(env, "--psopt", "rotate=45", os.path.join(tmp, "x"), ps, expect=1)
    missing = os.path.join(tmp, "no-such-gs")
    result = run(env, "--input_options", "ghostscript=" + missing, os.path.join(tmp, "x"), ps,
                 expect=5)
    assert missing in result.stderr, result.stderr
    assert not leftovers(env)
    print("  . psopt resolution=300 and rotate=45: exit 1; a missing gs: exit 5 naming it")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-data", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--case", action="append")
    args = parser.parse_args()
    env = Env()
    env.image_data = args.image_data
    env.data = args.data
    env.dciodvfy = shutil.which("dciodvfy")
    env.ps2pdf = shutil.which("ps2pdf")
    passed = failed = 0
    for fn in CASES:
        if args.case and fn.__name__ not in args.case:
            continue
        tmp = tempfile.mkdtemp(prefix="imd-postscript-")
        env.tmpdir = os.path.join(tmp, "TMPDIR")
        os.mkdir(env.tmpdir)
        env.environ = dict(os.environ, TMPDIR=env.tmpdir)
        try:
            fn(env, tmp)
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
