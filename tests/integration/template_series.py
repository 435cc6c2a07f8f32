"""template_series= (and geometry_series=): the user says which piece of a
split template series a result came from.

The reader splits Philips' enhanced B0 map (dcm_qa_fmap series 801: one file
of 64 frames, FrameType ...\\M and ...\\FIELD_MAP) into the magnitude and the
"fieldmaphz" piece, one grid. Both are written to NIfTI and go back to DICOM
with the folder as template:
  - without template_series the Hz NIfTI cannot tell its piece: the first is
    taken with a warning that lists the pieces and the option;
  - with template_series=fieldmaphz (or 2, its place in image_info's list)
    the written ImageType is the Hz frames' FrameType and the EchoTime their
    EffectiveEchoTime, as pydicom reads them from the template file (the
    oracle); template_series=1 gives the magnitude frames' values;
  - a selector naming no piece, or geometry_series likewise, is a usage
    error (exit 1) naming the pieces; image_info shows the split label.

usage: template_series.py BUILD WORKDIR DATA
"""
import glob
import os
import shutil
import subprocess
import sys
import warnings

warnings.simplefilter("ignore")
try:
    import pydicom
except ImportError as exc:
    print(f"SKIP: pydicom not importable: {exc}")
    sys.exit(77)


def run(command):
    return subprocess.run(command, capture_output=True, text=True)


def main():
    build, work, data = sys.argv[1:4]
    image_data = os.path.join(build, "cli", "image_data")
    image_info = os.path.join(build, "cli", "image_info")
    failures = []

    def check(what, ok, detail=""):
        print(("ok   " if ok else "FAIL ") + what + (": " + detail if detail and not ok else ""))
        if not ok:
            failures.append(what)

    template = os.path.join(work, "in")
    os.makedirs(template)
    source = None
    for f in sorted(glob.glob(os.path.join(data, "**", "*"), recursive=True)):
        if not os.path.isfile(f):
            continue
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except Exception:
            continue
        if str(ds.get("SeriesNumber", "")) == "801" and "PerFrameFunctionalGroupsSequence" in ds:
            source = f
            shutil.copyfile(f, os.path.join(template, os.path.basename(f)))
    if source is None:
        print("SKIP: no enhanced series 801 in " + data)
        return 77
    # The oracle: each piece's FrameType and EffectiveEchoTime, from the template.
    ds = pydicom.dcmread(source, stop_before_pixels=True)
    pieces = {}
    for frame in ds.PerFrameFunctionalGroupsSequence:
        kind = list(frame.MRImageFrameTypeSequence[0].FrameType)
        echo = float(frame.MREchoSequence[0].EffectiveEchoTime)
        pieces.setdefault("fieldmaphz" if kind[-1] == "FIELD_MAP" else "magnitude",
                          (kind, echo))
    check("the template holds magnitude and FIELD_MAP frames", len(pieces) == 2, str(pieces))

    nifti = os.path.join(work, "nii")
    p = run([image_data, "--of", "nifti", nifti, template])
    written = sorted(glob.glob(os.path.join(nifti, "**", "*.nii.gz"), recursive=True))
    hz = [w for w in written if w.endswith("_fieldmaphz.nii.gz")]
    check("two NIfTI pieces, one _fieldmaphz", p.returncode == 0 and len(written) == 2
          and len(hz) == 1, p.stderr + str(written))
    if failures:
        return 1
    hz = hz[0]
    magnitude = [w for w in written if w != hz][0]

    info = run([image_info, template])
    check("image_info shows the split label", "Split label: fieldmaphz" in info.stdout,
          info.stdout)

    def back(name, piece, *options):
        out = os.path.join(work, name)
        p = run([image_data, "--of", "dicom", "--template", template, *options, out, piece])
        files = sorted(glob.glob(os.path.join(out, "**", "*.dcm"), recursive=True))
        return p, [pydicom.dcmread(f, stop_before_pixels=True) for f in files]

    def same_piece(files, want):
        kind, echo = pieces[want]
        return len(files) == 32 and all(list(f.ImageType) == kind and
                                        abs(float(f.EchoTime) - echo) < 1e-6 for f in files)

    p, files = back("plain", hz)
    check("no selector: exit 0, a warning naming the option and the pieces",
          p.returncode == 0 and "template_series" in p.stderr and
          "2 (B0 NS, fieldmaphz)" in p.stderr, p.stderr)
    check("no selector: the first piece (magnitude) is taken", same_piece(files, "magnitude"))
    for selector in ("fieldmaphz", "2", "FieldMapHz"):
        p, files = back("hz_" + selector, hz, "--input_options", "template_series=" + selector)
        check(f"template_series={selector}: no warning", p.returncode == 0 and
              "warning" not in p.stderr, p.stderr)
        check(f"template_series={selector}: ImageType and EchoTime of the Hz frames",
              same_piece(files, "fieldmaphz"),
              str([(list(f.ImageType), f.EchoTime) for f in files[:1]]))
    p, files = back("mag_1", magnitude, "--input_options", "template_series=1")
    check("template_series=1: the magnitude frames' values",
          p.returncode == 0 and same_piece(files, "magnitude"), p.stderr)
    for option in ("template_series=ph", "template_series=3", "geometry_series=0"):
        extra = ["--geometry", template] if option.startswith("geometry") else []
        p, files = back("bad_" + option.replace("=", "_"), hz, *extra, "--input_options", option)
        check(f"{option}: exit 1 naming the pieces", p.returncode == 1 and
              "names none of them" in p.stderr and "1 (B0 NS)" in p.stderr and not files,
              "%d %s" % (p.returncode, p.stderr))
    p, files = back("geometry_2", hz, "--geometry", template, "--input_options",
                    "template_series=2", "--input_options", "geometry_series=fieldmaphz")
    check("geometry_series=fieldmaphz with template_series=2", p.returncode == 0 and
          "warning" not in p.stderr and same_piece(files, "fieldmaphz"), p.stderr)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
