#!/usr/bin/env bash
# The seed README's workflow from the command line (issues 6 and 7):
#   image_data --of nifti niftiDir dicomDir
#   image_data --of dicom --template dicomDir --sernum N --serdes S dicomResult niftiDir
# on the reference time series (4D) and dwi (b values), checked by
# independent readers: nibabel reads the NIfTI, pydicom reads every DICOM
# file written (same patient and study, new series and instance UIDs, the
# series number and description asked for, voxels equal, geometry equal to
# 1e-3 mm, b values back in the files), and dcmtk's dcmdump reads every file
# without a warning. Skips (77) without ../shared, $IMD_PYTHON with
# pydicom/nibabel, or dcmdump.
set -uo pipefail
build=${IMD_BUILD:?}
data=${IMD_TEST_DATA:-}
python=${IMD_PYTHON:-}
if [ -z "$data" ] || [ ! -d "$data/dicom/time" ]; then
    echo "SKIP: the reference data is missing (IMD_TEST_DATA=${data:-unset})"
    exit 77
fi
if [ -z "$python" ] || ! "$python" -c 'import numpy, pydicom, nibabel' 2>/dev/null; then
    echo "SKIP: IMD_PYTHON (${python:-unset}) lacks numpy, pydicom or nibabel"
    exit 77
fi
if ! command -v dcmdump >/dev/null; then
    echo "SKIP: dcmdump (dcmtk) is not installed"
    exit 77
fi
run=$build/cli/image_data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

seed() { # NAME ORDER SOURCE
    local name=$1 order=$2 source=$3
    if ! "$run" --of nifti --order "$order" "$tmp/$name/niftiDir" "$source" 2>"$tmp/err"; then
        echo "FAIL: $name: DICOM -> NIfTI: $(cat "$tmp/err")"
        failures=$((failures + 1))
        return
    fi
    if ! "$run" --of dicom --order "$order" --template "$source" --sernum 1001 \
        --serdes "processed $name" "$tmp/$name/dicomResult" "$tmp/$name/niftiDir" 2>"$tmp/err"; then
        echo "FAIL: $name: NIfTI -> DICOM: $(cat "$tmp/err")"
        failures=$((failures + 1))
        return
    fi
    local bad=0 files
    files=$(find "$tmp/$name/dicomResult" -type f | sort)
    for f in $files; do
        if dcmdump "$f" 2>&1 >/dev/null | grep -q . ||
            dcmdump "$f" 2>&1 | grep -qE '^(W|E): '; then
            echo "FAIL: $name: dcmdump warns on $f:"
            dcmdump "$f" 2>&1 | grep -E '^(W|E): ' | head -3
            bad=1
        fi
    done
    echo "$name: dcmdump read $(echo "$files" | wc -l) files without a warning"
    "$python" - "$source" "$tmp/$name" "$order" <<'EOF' || bad=1
import glob, os, re, sys
import nibabel as nib
import numpy as np
import pydicom

source, out, order = sys.argv[1:4]
errors = []

def check(what, condition):
    if not condition:
        errors.append(what)

def datasets(folder):
    return [pydicom.dcmread(f) for f in sorted(glob.glob(folder + "/**/*", recursive=True))
            if os.path.isfile(f)]

src = datasets(source)
res = datasets(out + "/dicomResult")
nii = nib.load(glob.glob(out + "/niftiDir*.nii*")[0])
check("nibabel: %d images in the NIfTI, %d source files" % (np.prod(nii.shape[2:]), len(src)),
      int(np.prod(nii.shape[2:])) == len(src))
check("%d files written, %d in the source" % (len(res), len(src)), len(res) == len(src))
uid = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
s0 = src[0]
series_uids = {d.SeriesInstanceUID for d in res}
check("one new series UID", len(series_uids) == 1 and s0.SeriesInstanceUID not in series_uids)
sops = [d.SOPInstanceUID for d in res]
check("new unique instance UIDs", len(set(sops)) == len(sops) and
      not set(sops) & {d.SOPInstanceUID for d in src})
for d in res:
    check("valid UIDs", all(uid.match(u) and len(u) <= 64 for u in
                            (d.SOPInstanceUID, d.SeriesInstanceUID, d.StudyInstanceUID)))
    check("meta SOP UID", d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID)
    for keyword in ("StudyInstanceUID", "PatientID", "PatientName", "FrameOfReferenceUID",
                    "StudyDate", "Modality", "SOPClassUID"):
        check("%s kept" % keyword, getattr(d, keyword) == getattr(s0, keyword))
    check("SeriesNumber", d.SeriesNumber == 1001)
    check("SeriesDescription", d.SeriesDescription.startswith("processed "))

def key(d):  # the image a file holds: its position, and the order's attribute
    ipp = tuple(round(float(v), 2) for v in d.ImagePositionPatient)
    if order == "time":
        return ipp, str(d.AcquisitionTime)[:10]
    return ipp, round(float(d[0x0018, 0x9087].value if (0x0018, 0x9087) in d else
                             d[0x0019, 0x100C].value), 1)

by_key = {key(d): d for d in src}
worst = 0.0
for d in res:
    k = key(d)
    s = by_key.get(k)
    if s is None:
        errors.append("no source image for %s" % (k,))
        continue
    check("voxels equal at %s" % (k,), np.array_equal(d.pixel_array, s.pixel_array))
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        diff = np.max(np.abs(np.array(getattr(d, keyword), float) -
                             np.array(getattr(s, keyword), float)))
        worst = max(worst, diff)
        check("%s within 1e-3" % keyword, diff <= 1e-3)
print("%s: %d files: UIDs, identity, voxels checked by pydicom; worst geometry difference "
      "%.2g mm (tolerance 1e-3)" % (os.path.basename(out), len(res), worst))
for e in sorted(set(errors))[:8]:
    print("FAIL: %s: %s" % (os.path.basename(out), e))
sys.exit(1 if errors else 0)
EOF
    failures=$((failures + bad))
}

# Templates in other character sets: their text is kept byte for byte (a
# Latin-1 or ISO 2022 PatientName is not re-encoded), pydicom decodes the same.
charsets=/usr/lib/python3/dist-packages/pydicom/data/charset_files
for f in chrFren.dcm chrGerm.dcm chrRuss.dcm chrH31.dcm chrX1.dcm; do
    [ -f "$charsets/$f" ] || { echo "SKIP (part): $charsets/$f missing"; continue; }
    if ! "$run" "$tmp/cs_${f%.dcm}" "$charsets/$f" 2>"$tmp/err" ||
        ! "$python" -c "import pydicom, sys
a, b = pydicom.dcmread(sys.argv[1]), pydicom.dcmread(sys.argv[2])
sys.exit(0 if (a.SpecificCharacterSet, a.PatientName) == (b.SpecificCharacterSet, b.PatientName) else 1)" \
            "$charsets/$f" "$tmp/cs_${f%.dcm}.dcm"; then
        echo "FAIL: $f: the PatientName or character set did not survive: $(cat "$tmp/err")"
        failures=$((failures + 1))
    fi
done
echo "character sets: 5 templates written with their PatientName intact"

# A user-named order (behaviour.md §11: TI via a keyword, then write and read
# with ti=InversionTime): the values go back into InversionTime, per image.
ti_options=(--order ti --input_options ti=InversionTime --input_options ignore_series_uid=true)
if [ -d "$data/dicom/TI" ] && "$run" "${ti_options[@]}" "$tmp/ti_out" "$data/dicom/TI" 2>"$tmp/err"; then
    if ! "$python" - "$data/dicom/TI" "$tmp/ti_out" <<'EOF2'
import glob, os, sys
import numpy as np
import pydicom
def images(folder):
    out = {}
    for f in glob.glob(folder + "/**/*", recursive=True):
        if os.path.isfile(f):
            d = pydicom.dcmread(f)
            out[float(d.InversionTime)] = d.pixel_array
    return out
src, res = images(sys.argv[1]), images(sys.argv[2])
ok = sorted(src) == sorted(res) and all(np.array_equal(src[t], res[t]) for t in src)
print("TI: InversionTime %s written back with their images: %s" % (sorted(res), ok))
sys.exit(0 if ok else 1)
EOF2
    then
        echo "FAIL: TI: InversionTime values or images differ"
        failures=$((failures + 1))
    fi
else
    echo "FAIL: TI: $(cat "$tmp/err" 2>/dev/null)"
    failures=$((failures + 1))
fi

seed time time "$data/dicom/time"
seed dwi b "$data/dicom/dwi"
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
