#!/usr/bin/env bash
# The project's own sample data, end to end: examples/make_dicom_series writes
# a 4D DICOM series with our writer; pydicom (independent) must read every file
# and, stacking them by acquisition time and slice position, find the same
# voxel sum, shape and timing that image_info reports; dcmdump must read every
# file without a warning.
set -euo pipefail
build=${IMD_BUILD:?}
python=${IMD_PYTHON:-}
if [ -z "$python" ] || ! "$python" -c "import pydicom, numpy" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 with pydicom and numpy is needed"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/examples/make_dicom_series" "$tmp/series" 3 5 32 >/dev/null
"$build/cli/image_info" --json --stats "$tmp/series" >"$tmp/ours.json"
if command -v dcmdump >/dev/null; then
    for f in "$tmp"/series/*.dcm; do
        if dcmdump "$f" 2>&1 >/dev/null | grep -qE '^(W|E|F):'; then
            echo "FAIL: dcmdump warns on $(basename "$f")"
            exit 1
        fi
    done
fi
"$python" - "$tmp/series" "$tmp/ours.json" <<'PY'
import glob, json, sys, warnings
import numpy, pydicom
warnings.simplefilter("error")  # any pydicom warning about our files fails the test
files = sorted(glob.glob(sys.argv[1] + "/*.dcm"))
images = [pydicom.dcmread(f) for f in files]
ours = json.load(open(sys.argv[2]))
assert len(ours) == 1, "one series expected"
s = ours[0]
iop = numpy.array(images[0].ImageOrientationPatient, dtype=float)
normal = numpy.cross(iop[:3], iop[3:])
def seconds(tm):
    return int(tm[0:2]) * 3600 + int(tm[2:4]) * 60 + float(tm[4:])
times = sorted({seconds(ds.AcquisitionTime) for ds in images})
distances = sorted({round(float(numpy.dot(normal, ds.ImagePositionPatient)), 3) for ds in images})
stack = numpy.zeros((len(times), len(distances), images[0].Rows, images[0].Columns))
for ds in images:
    t = times.index(seconds(ds.AcquisitionTime))
    z = distances.index(round(float(numpy.dot(normal, ds.ImagePositionPatient)), 3))
    stack[t, z] = ds.pixel_array
checks = [
    ("shape", s["shape"] == list(stack.shape)),
    ("order", s["input_order"] == "time"),
    ("sum", s["stats"]["sum"] == float(stack.sum())),
    ("timeline", numpy.allclose(s["timeline"], numpy.array(times) - times[0])),
    ("spacing", numpy.allclose(s["spacing"], [5, 2, 2])),
    ("orientation", numpy.allclose(s["orientation"], list(iop[2::-1]) + list(iop[5:2:-1]))),
    ("first position", numpy.allclose(s["imagePositions"]["0"],
                                      min(images, key=lambda d: numpy.dot(normal, d.ImagePositionPatient)).ImagePositionPatient[::-1])),
]
failed = [name for name, ok in checks if not ok]
print("%d passed, %d failed" % (len(checks) - len(failed), len(failed)))
if failed:
    sys.exit("differs from pydicom: " + ", ".join(failed))
PY
