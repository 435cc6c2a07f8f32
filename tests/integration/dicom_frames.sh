#!/usr/bin/env bash
# The functional-group walker (src/formats/dicom/frames.c) against pydicom:
# 1. every enhanced / multi-frame file of ../shared/data/dcm_qa_dev (Siemens
#    XA60 and XA10 enhanced MR, Philips enhanced MR; Philips *_Raw.dcm skipped)
#    and of pydicom's own test files, every frame: our frame attributes against
#    an independent pydicom walk (dicom_frames.py, which states the rules);
# 2. split_enhanced.py, the test-data helper that splits an enhanced file into
#    classic single-frame files: the split files parse with pydicom and with
#    our dicom_dump (the same JSON, dicom_json_compare.py), they are classic
#    (MR Image Storage, no NumberOfFrames or functional groups, new UIDs), and
#    each holds its frame's values and pixels.
# Skips (77) without ../shared or without a Python that has pydicom.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
python=${IMD_PYTHON:-}
tool="$build/tests/dicom_frames"
dump="$build/cli/dicom_dump"
data="$source_dir/../shared/data/dcm_qa_dev"
if [ -z "$python" ] || [ ! -x "$python" ] || ! "$python" -c 'import pydicom, numpy' 2>/dev/null; then
    echo "SKIP: no Python with pydicom and numpy (IMD_PYTHON=$python): pydicom is the oracle"
    exit 77
fi
if [ ! -d "$data" ]; then
    echo "SKIP: $data is missing (the development DICOM corpus, ../shared)"
    exit 77
fi
pydicom_files=$("$python" -c 'import os, pydicom; print(os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files"))')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
check() { # check NAME COMMAND...: the command must succeed
    local name=$1
    shift
    if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi
}

# ---- 1. every frame of every multi-frame file against pydicom ----
# 68 enhanced files in dcm_qa_dev: 46 XA60, 18 XA10, 4 Philips.
check "frame attributes equal pydicom's walk" "$python" -W ignore \
    "$source_dir/tests/integration/dicom_frames.py" "$tool" --min-files 68 \
    "$data/dcm_qa_xa60/In" "$data/dcm_qa_cs_dl/In" "$data/dcm_qa_fmap/In/Philips" \
    "$data/dcm_qa_stc/In/Siemens/XA10" "$pydicom_files"

# ---- 2. split_enhanced.py ----
split() { # split NAME FILE: split FILE into $tmp/NAME and check the result
    local name=$1 file=$2
    if ! "$python" -W ignore "$source_dir/tests/integration/split_enhanced.py" "$file" "$tmp/$name" \
        >"$tmp/$name.list"; then
        echo "FAIL: split_enhanced.py $file"
        failures=$((failures + 1))
        return
    fi
    check "$name: split files against the enhanced file" "$python" -W ignore - "$file" "$tmp/$name.list" <<'PY'
import json, sys
import numpy as np
import pydicom
sys.path.insert(0, __import__("os").environ["IMD_SOURCE"] + "/tests/integration")
import split_enhanced
enhanced = pydicom.dcmread(sys.argv[1])
names = open(sys.argv[2]).read().split()
frames = split_enhanced.frame_count(enhanced)
pixels = enhanced.pixel_array.reshape((frames,) + enhanced.pixel_array.shape[-2:])
bad = []
assert len(names) == frames, (len(names), frames)
uids = set()
for i, name in enumerate(names):
    s = pydicom.dcmread(name)
    for keyword in ("NumberOfFrames", "SharedFunctionalGroupsSequence",
                    "PerFrameFunctionalGroupsSequence", "DimensionIndexSequence"):
        if keyword in s:
            bad.append(f"{name}: {keyword} is still there")
    if s.SOPClassUID != "1.2.840.10008.5.1.4.1.1.4" or s.file_meta.MediaStorageSOPClassUID != s.SOPClassUID:
        bad.append(f"{name}: SOP class {s.SOPClassUID}")
    if s.SOPInstanceUID == enhanced.SOPInstanceUID or s.file_meta.MediaStorageSOPInstanceUID != s.SOPInstanceUID:
        bad.append(f"{name}: SOP instance UID")
    uids.add(s.SOPInstanceUID)
    expected = split_enhanced.frame_attributes(enhanced, i)
    for elem in expected:
        if elem.tag not in s or s[elem.tag].value != elem.value:
            bad.append(f"{name}: {elem.keyword or elem.tag} {s.get(elem.tag)} != {elem.value}")
    if not np.array_equal(s.pixel_array, pixels[i]):
        bad.append(f"{name}: pixels differ from frame {i + 1}")
    if "ImagePositionPatient" not in s or "EchoTime" not in s:
        bad.append(f"{name}: no ImagePositionPatient or EchoTime")
if len(uids) != frames:
    bad.append("SOPInstanceUIDs are not unique")
print(f"{frames} split files checked against {sys.argv[1]}")
for b in bad[:10]:
    print("  ", b)
sys.exit(1 if bad else 0)
PY
    # Our parser reads every split file to the same JSON as pydicom (one line of the
    # comparison's output shown, all of it on failure).
    # shellcheck disable=SC2046
    if "$python" -W ignore "$source_dir/tests/integration/dicom_json_compare.py" "$dump" \
        $(cat "$tmp/$name.list") >"$tmp/$name.compare" 2>&1; then
        passes=$((passes + 1))
        tail -n 1 "$tmp/$name.compare"
    else
        echo "FAIL: $name: dicom_dump reads the split files otherwise than pydicom"
        grep -v '^PASS\|rules:' "$tmp/$name.compare" | head -40
        failures=$((failures + 1))
    fi
}
split xa60_dwi "$data/dcm_qa_xa60/In/XA60/DICOM/24100413/39280000/75739970"
split xa10_bold "$data/dcm_qa_stc/In/Siemens/XA10/6_REST1_w_SMS_PF7-8/6_1.dcm"
split philips_fmap "$data/dcm_qa_fmap/In/Philips/fmap/IM_0027_fMAP.dcm"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
