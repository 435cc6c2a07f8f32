#!/usr/bin/env bash
# dicom_dump against pydicom, the oracle: every file of pydicom's test data
# (test_files/*.dcm and charset_files/*.dcm: compressed, big-endian, deflated,
# implicit VR, bare data sets, private and UN sequences, character sets) is
# dumped with --json and compared element for element with pydicom's
# to_json_dict() by dicom_json_compare.py (which documents every rule).
# Then the command line itself: the readable dump, --meta, --pixel-data,
# several files, failures in the middle, exit codes, --help, -V.
# Skips (77) when $IMD_PYTHON is unset or has no pydicom.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
dump="$build/cli/dicom_dump"
python=${IMD_PYTHON:-}
if [ -z "$python" ] || [ ! -x "$python" ]; then
    echo "SKIP: IMD_PYTHON is not set (a Python with pydicom is the oracle)"
    exit 77
fi
if ! data=$("$python" -c 'import os, pydicom; print(os.path.join(os.path.dirname(pydicom.__file__), "data"))' 2>/dev/null); then
    echo "SKIP: pydicom is not installed for $python"
    exit 77
fi
if [ ! -d "$data/test_files" ]; then
    echo "SKIP: pydicom has no test data in $data"
    exit 77
fi
echo "pydicom $("$python" -c 'import pydicom; print(pydicom.__version__)'), data in $data"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0

# ---- the oracle ----
shopt -s nullglob
files=("$data"/test_files/*.dcm "$data"/charset_files/*.dcm)
if "$python" "$source_dir/tests/integration/dicom_json_compare.py" "$dump" "${files[@]}"; then
    passes=$((passes + 1))
else
    echo "FAIL: dicom_dump --json differs from pydicom (above)"
    failures=$((failures + 1))
fi

# ---- the command line ----
check() { # check NAME COMMAND...: the command must succeed
    local name=$1
    shift
    if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
expect_exit() { # expect_exit CODE NAME COMMAND...: CODE "nonzero" is any clean failure
    local code=$1 name=$2 got=0
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
    if [ "$code" = nonzero ] && [ "$got" -ne 0 ] && [ "$got" -lt 70 ]; then
        passes=$((passes + 1))
    elif [ "$got" = "$code" ]; then
        passes=$((passes + 1))
    else
        echo "FAIL: $name: exit $got, expected $code"
        head -c 2000 "$tmp/err"
        failures=$((failures + 1))
    fi
    if grep -Eq 'Sanitizer|runtime error:' "$tmp/err"; then
        echo "FAIL: $name: sanitizer report"
        failures=$((failures + 1))
    fi
}
json() { # json FILE PYTHON-EXPRESSION-ON-d: true when the expression holds
    "$python" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}
t="$data/test_files"

expect_exit 0 "readable dump" "$dump" "$t/CT_small.dcm"
check "dump names the file" grep -qx "# $t/CT_small.dcm" "$tmp/out"
check "dump transfer syntax" grep -qx "# transfer syntax 1.2.840.10008.1.2.1 (Explicit VR Little Endian)" "$tmp/out"
check "dump meta group" grep -Eq '^\(0002,0010\) UI [0-9]+ TransferSyntaxUID 1\.2\.840\.10008\.1\.2\.1$' "$tmp/out"
check "dump text value" grep -Eq '^\(0010,0010\) PN [0-9]+ PatientName CompressedSamples\^CT1$' "$tmp/out"
check "dump numbers" grep -Eq '^\(0028,0010\) US 2 Rows 128$' "$tmp/out"
check "dump multi-valued" grep -Eq '^\(0008,0008\) CS [0-9]+ ImageType ORIGINAL\\PRIMARY\\AXIAL$' "$tmp/out"
check "dump empty value" grep -Eq '^\(0008,0050\) SH 0 AccessionNumber$' "$tmp/out"
check "dump binary as a byte count" grep -Eq '^\(7fe0,0010\) OW 32768 PixelData \(32768 bytes\)$' "$tmp/out"
check "dump private creator" grep -Eq '^\(0009,0010\) LO [0-9]+ PrivateCreator GEMS_IDEN_01$' "$tmp/out"
check "dump quiet stderr" test ! -s "$tmp/err"
expect_exit 0 "dump of sequences" "$dump" "$t/rtplan.dcm"
check "dump sequence line" grep -Eq '^\(300a,00b0\) SQ - BeamSequence \([0-9]+ items?\)$' "$tmp/out"
check "dump item line" grep -Eq '^  \(fffe,e000\) item 1$' "$tmp/out"
check "dump nested element" grep -Eq '^    \(300a,00c0\) IS [0-9]+ BeamNumber 1$' "$tmp/out"
expect_exit 0 "dump of encapsulated pixel data" "$dump" "$t/JPEG2000.dcm"
check "dump encapsulated" grep -Eq '^\(7fe0,0010\) OB - PixelData \(encapsulated: offset table [0-9]+ bytes, 1 fragment\)$' "$tmp/out"
check "dump fragment" grep -Eq '^  \(fffe,e000\) fragment 1 [0-9]+ bytes$' "$tmp/out"
expect_exit 0 "dump of a long value" "$dump" "$t/rtdose.dcm"
check "dump cuts long values" grep -Eq '^\(3004,000c\) DS 242 GridFrameOffsetVector 0\.0\\5\.0{14}\\.{43}\.\.\.$' "$tmp/out"

expect_exit 0 "json" "$dump" --json "$t/CT_small.dcm"
check "json is one object without meta and pixel data" json "$tmp/out" \
    'isinstance(d, dict) and d["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "CompressedSamples^CT1"}]} and not any(k.startswith("0002") or k == "7FE00010" for k in d)'
expect_exit 0 "json --meta --pixel-data" "$dump" --json --meta --pixel-data "$t/CT_small.dcm"
check "json --meta --pixel-data content" json "$tmp/out" \
    'd["00020010"]["Value"] == ["1.2.840.10008.1.2.1"] and "00020000" not in d and len(d["7FE00010"]["InlineBinary"]) == 43692 and list(d) == sorted(d)'
expect_exit 0 "json of several files" "$dump" --json "$t/CT_small.dcm" "$t/MR_small.dcm"
check "json array" json "$tmp/out" 'isinstance(d, list) and len(d) == 2 and d[1]["00080060"]["Value"] == ["MR"]'

# The JSON model's corners, on a file written byte by byte (Explicit VR Little
# Endian, PS3.18 F.2): empty values in multi-valued elements are null, PN
# groups, DS/IS as numbers, 64-bit integers exact, AT, an empty sequence and
# an empty item, text VRs that are single-valued, Group Length left out.
"$python" - "$tmp/crafted.dcm" <<'PY'
import struct, sys
def element(group, elem, vr, value):
    head = struct.pack("<HH2s", group, elem, vr.encode())
    if vr in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"):
        return head + struct.pack("<HI", 0, len(value)) + value
    return head + struct.pack("<H", len(value)) + value
def text(s):
    b = s.encode()
    return b + b" " * (len(b) % 2)
def item(content):
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(content)) + content
body = b"".join([
    element(0x0008, 0x0016, "UI", b"1.2.3\0"),
    element(0x0008, 0x0008, "CS", text("A\\\\B")),
    element(0x0010, 0x0010, "PN", text("A^B==C^D\\\\E")),
    element(0x0018, 0x0050, "DS", text(" 1.5\\\\-2e3")),
    element(0x0020, 0x0012, "IS", text("1.0\\-7 ")),
    element(0x0020, 0x4000, "LT", text(" leading kept\\not split")),
    element(0x0028, 0x0009, "AT", struct.pack("<HHHH", 0x0054, 0x0080, 0x3004, 0x0002)),
    element(0x0009, 0x0000, "UL", struct.pack("<I", 1)),
    element(0x0009, 0x0010, "LO", text("IMD TEST")),
    element(0x0009, 0x1001, "SV", struct.pack("<qq", -2**63, 5)),
    element(0x0009, 0x1002, "UV", struct.pack("<Q", 2**64 - 1)),
    element(0x0009, 0x1003, "FL", struct.pack("<ff", 1.5, -0.25)),
    element(0x0009, 0x1004, "SS", struct.pack("<hh", -5, 7)),
    element(0x0009, 0x1005, "SQ", b""),
    element(0x0009, 0x1006, "SQ", item(b"") + item(element(0x0010, 0x0020, "LO", text("X")))),
    element(0x0009, 0x1007, "UN", b"\x01\x02\x03\x04"),
    element(0x0009, 0x1008, "OB", b""),
    element(0x0009, 0x1009, "SH", b"  "),
])
meta_body = element(0x0002, 0x0010, "UI", b"1.2.840.10008.1.2.1\0")
meta = element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta_body))) + meta_body
open(sys.argv[1], "wb").write(b"\0" * 128 + b"DICM" + meta + body)
PY
expect_exit 0 "json of a crafted file" "$dump" --json "$tmp/crafted.dcm"
check "crafted file in the JSON model" json "$tmp/out" 'd == {
    "00080008": {"vr": "CS", "Value": ["A", None, "B"]},
    "00080016": {"vr": "UI", "Value": ["1.2.3"]},
    "00090010": {"vr": "LO", "Value": ["IMD TEST"]},
    "00091001": {"vr": "SV", "Value": [-2**63, 5]},
    "00091002": {"vr": "UV", "Value": [2**64 - 1]},
    "00091003": {"vr": "FL", "Value": [1.5, -0.25]},
    "00091004": {"vr": "SS", "Value": [-5, 7]},
    "00091005": {"vr": "SQ"},
    "00091006": {"vr": "SQ", "Value": [{}, {"00100020": {"vr": "LO", "Value": ["X"]}}]},
    "00091007": {"vr": "UN", "InlineBinary": "AQIDBA=="},
    "00091008": {"vr": "OB"},
    "00091009": {"vr": "SH"},
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "A^B", "Phonetic": "C^D"}, None, {"Alphabetic": "E"}]},
    "00180050": {"vr": "DS", "Value": [1.5, None, -2000]},
    "00200012": {"vr": "IS", "Value": [1, -7]},
    "00204000": {"vr": "LT", "Value": [" leading kept\\not split"]},
    "00280009": {"vr": "AT", "Value": ["00540080", "30040002"]}}' || { echo "got:"; cat "$tmp/out"; }
check "64-bit integers printed exactly" grep -q '"Value":\[-9223372036854775808,5\]' "$tmp/out"
check "UV printed exactly" grep -q '"Value":\[18446744073709551615\]' "$tmp/out"
expect_exit 0 "readable dump of a crafted file" "$dump" "$tmp/crafted.dcm"
check "dump of an empty sequence" grep -Eq '^\(0009,1005\) SQ - \? \(0 items\)$' "$tmp/out"
check "dump of an empty item" grep -Eq '^  \(fffe,e000\) item 1$' "$tmp/out"
check "dump of 64-bit integers" grep -Eq '^\(0009,1001\) SV 16 \? -9223372036854775808\\5$' "$tmp/out"
check "dump of AT" grep -Eq '^\(0028,0009\) AT 8 FrameIncrementPointer \(0054,0080\)\\\(3004,0002\)$' "$tmp/out"

echo "not DICOM, not even close" >"$tmp/text.dcm"
expect_exit nonzero "a failure in the middle" "$dump" --json "$t/CT_small.dcm" "$tmp/text.dcm" "$t/MR_small.dcm"
check "the others are printed" json "$tmp/out" 'isinstance(d, list) and len(d) == 2'
check "one error line naming the file" bash -c "[ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q '^dicom_dump: .*text.dcm' '$tmp/err'"
expect_exit nonzero "readable dump goes on after a failure" "$dump" "$tmp/text.dcm" "$t/MR_small.dcm"
check "the next file is dumped" grep -qx "# $t/MR_small.dcm" "$tmp/out"
expect_exit nonzero "missing file" "$dump" "$tmp/nonexistent.dcm"
check "missing file message" grep -q "^dicom_dump: .*nonexistent.dcm" "$tmp/err"
: >"$tmp/empty.dcm"
expect_exit nonzero "empty file" "$dump" --json "$tmp/empty.dcm"
check "nothing on stdout for a single failed file" test ! -s "$tmp/out"

expect_exit 1 "bad option" "$dump" --no-such-option "$t/CT_small.dcm"
expect_exit 1 "no input" "$dump"
expect_exit 0 "help" "$dump" --help
check "help lists exit codes" grep -q "70  internal error" "$tmp/out"
expect_exit 0 "version" "$dump" -V
check "version text" grep -Eq "^dicom_dump [0-9]+\.[0-9]+\.[0-9]+" "$tmp/out"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
