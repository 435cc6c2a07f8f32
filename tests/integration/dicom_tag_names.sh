#!/bin/bash
# The tag names the code uses, against oracles other than the generator:
#  1. every IMD_TAG_<Keyword> of src/dicom/tags.h equals DCMTK's tag of that
#     keyword in /usr/share/libdcmtk17/dicom.dic (Debian libdcmtk17; its
#     RETIRED_ prefix removed; a repeating group such as (6000-60FF,3000)
#     compared under its mask), and pydicom's public
#     pydicom.datadict.tag_for_keyword() where pydicom answers (it does not
#     for repeating groups); every keyword pydicom knows has a constant;
#  2. every private element of src/dicom/private_tags.h whose creator is in
#     pydicom's private dictionary (pydicom/_private_dict.py) is there, at that
#     group and low byte, under the name and VR listed in PYDICOM_NAMES below
#     (so a wrong low byte that happens to name another element fails too);
#     the creators pydicom lacks are listed in NOT_IN_PYDICOM, and each of
#     those says in the header where it is documented.
# Skips (77) without a Python that imports pydicom, or without dicom.dic.
# Environment (from tests/CMakeLists.txt): IMD_SOURCE, IMD_PYTHON.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
python="${IMD_PYTHON:-}"
dcmtk=/usr/share/libdcmtk17/dicom.dic

if [[ -z "$python" ]]; then
    echo "SKIP: IMD_PYTHON is empty (no python3 found at configure time)"
    exit 77
fi
if ! "$python" -c 'import pydicom.datadict, pydicom._private_dict' >/dev/null 2>&1; then
    echo "SKIP: $python cannot import pydicom (Debian: python3-pydicom)"
    exit 77
fi
if [[ ! -r "$dcmtk" ]]; then
    echo "SKIP: $dcmtk not found (Debian: libdcmtk17)"
    exit 77
fi

"$python" - "$source_dir/src/dicom/tags.h" "$source_dir/src/dicom/private_tags.h" "$dcmtk" <<'EOF'
import re
import sys

from pydicom._private_dict import private_dictionaries
from pydicom.datadict import keyword_dict, tag_for_keyword

tags_h, private_h, dicom_dic = sys.argv[1:4]
NOT_IN_PYDICOM = {"Image Private Header", "Philips MR Imaging DD 005"}
# What pydicom calls each element (VR, name): the meaning private_tags.h gives it.
PYDICOM_NAMES = {
    "IMD_PRIVATE_SiemensCsaImageHeaderInfo": ("OB", "CSA Image Header Info"),
    "IMD_PRIVATE_SiemensCsaSeriesHeaderInfo": ("OB", "CSA Series Header Info"),
    "IMD_PRIVATE_SiemensMrNumberOfImagesInMosaic": ("US", "NumberOfImagesInMosaic"),
    "IMD_PRIVATE_SiemensMrMosaicRefAcqTimes": ("FD", "MosaicRefAcqTimes"),
    "IMD_PRIVATE_SiemensMrBValue": ("IS", "B_value"),
    "IMD_PRIVATE_SiemensMrDiffusionDirectionality": ("CS", "DiffusionDirectionality"),
    "IMD_PRIVATE_SiemensMrDiffusionGradientDirection": ("FD", "DiffusionGradientDirection"),
    "IMD_PRIVATE_GeImageType": ("SS", "Image Type (real, imaginary, phase, magnitude)"),
    "IMD_PRIVATE_GeSlopInt6To9": ("IS", "Slop_int_6... slop_int_9"),
    "IMD_PRIVATE_GePulseSequenceName": ("LO", "Pulse Sequence Name"),
    "IMD_PRIVATE_GeUserData20": ("DS", "User data 20"),
    "IMD_PRIVATE_GeUserData21": ("DS", "User data 21"),
    "IMD_PRIVATE_GeUserData22": ("DS", "User data 22"),
    "IMD_PRIVATE_PhilipsDiffusionBFactor": ("FL", "Diffusion B-Factor"),
    "IMD_PRIVATE_PhilipsScaleSlope": ("FL", "Unknown"),    # (2005,xx0E)
    "IMD_PRIVATE_PhilipsMrImageType": ("CS", "Unknown"),   # (2005,xx11)
}
failures = []

# ---- 1. tags.h ----
ours, masks = {}, {}
for line in open(tags_h, encoding="ascii"):
    m = re.match(r"#define IMD_TAG_(\w+) 0x([0-9A-F]{8})u(?: /\* repeating: mask 0x([0-9A-F]{8}))?",
                 line)
    if m:
        ours[m.group(1)] = int(m.group(2), 16)
        masks[m.group(1)] = int(m.group(3), 16) if m.group(3) else 0xFFFFFFFF

dcmtk = {}
for line in open(dicom_dic, encoding="utf-8", errors="replace"):
    if line.startswith("#") or not line.strip():
        continue
    fields = line.split("\t")
    m = re.fullmatch(r"\(([0-9A-F]{4})(?:-(?:[ou]-)?[0-9A-F]{4})?,"
                     r"([0-9A-F]{4})(?:-(?:[ou]-)?[0-9A-F]{4})?\)", fields[0])
    if m is None or len(fields) < 3:
        continue
    name = fields[2]
    name = name[len("RETIRED_"):] if name.startswith("RETIRED_") else name
    dcmtk.setdefault(name, int(m.group(1) + m.group(2), 16))

by_dcmtk = by_pydicom = 0
for keyword, tag in sorted(ours.items()):
    if keyword in dcmtk:
        by_dcmtk += 1
        # A repeating group's constant is its value with the x digits 0; DCMTK names the
        # first tag of its range, which lies under the same mask.
        if dcmtk[keyword] & masks[keyword] != tag:
            failures.append("IMD_TAG_%s = %08X, DCMTK says %08X" % (keyword, tag, dcmtk[keyword]))
    theirs = tag_for_keyword(keyword)
    if theirs is not None:
        by_pydicom += 1
        if theirs != tag:
            failures.append("IMD_TAG_%s = %08X, pydicom says %08X" % (keyword, tag, theirs))
missing = sorted(k for k in set(keyword_dict) - set(ours) if k)
for keyword in missing:
    failures.append("pydicom keyword %s has no IMD_TAG_ constant" % keyword)
print("tags.h: %d constants; %d agree with DCMTK's dicom.dic, %d with pydicom's "
      "tag_for_keyword(); %d not in DCMTK"
      % (len(ours), by_dcmtk, by_pydicom, len(ours) - by_dcmtk))
if len(ours) < 4900:
    failures.append("tags.h holds only %d constants" % len(ours))

# ---- 2. private_tags.h ----
text = open(private_h, encoding="utf-8").read()
entries = re.findall(r"#define (IMD_PRIVATE_\w+)\s*(?:\\\n\s*)?IMD_PRIVATE_TAG\(0x([0-9A-Fa-f]{4})u, "
                     r"0x([0-9A-Fa-f]{2})u, \"([^\"]+)\"\)", text)
checked = 0
for name, group, element, creator in entries:
    group, element = int(group, 16), int(element, 16)
    if group % 2 == 0:
        failures.append("%s: group %04X is not private (odd)" % (name, group))
    if creator in NOT_IN_PYDICOM:
        continue
    table = private_dictionaries.get(creator)
    if table is None:
        failures.append("%s: creator %r is not in pydicom's private dictionary" % (name, creator))
        continue
    key = "%04Xxx%02X" % (group, element)
    found = {k.upper(): v for k, v in table.items()}.get(key.upper())
    if found is None:
        failures.append("%s: pydicom's %r has no %s" % (name, creator, key))
        continue
    if (found[0], found[2]) != PYDICOM_NAMES.get(name):
        failures.append("%s: pydicom's %r %s is %s %r, expected %r" % (
            name, creator, key, found[0], found[2], PYDICOM_NAMES.get(name)))
        continue
    checked += 1
    print("  %s = (%04X,xx%02X) %r: pydicom %s %s %r" % (name, group, element, creator, found[0],
                                                        found[1], found[2]))
print("private_tags.h: %d elements, %d found in pydicom's private dictionary, %d from creators "
      "pydicom lacks (%s)" % (len(entries), checked, len(entries) - checked,
                              ", ".join(sorted(NOT_IN_PYDICOM))))
if len(entries) == 0:
    failures.append("no IMD_PRIVATE_TAG entries parsed from private_tags.h")

for failure in failures:
    print("FAIL: " + failure)
sys.exit(1 if failures else 0)
EOF
