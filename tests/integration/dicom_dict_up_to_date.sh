#!/bin/bash
# The checked-in dictionary tables (src/dicom/*.inc) are what
# tools/dicom_dict/gen_dict.py makes from the installed pydicom
# (design.md §3.9). The generator's --check also prints the cross-check with
# DCMTK's dicom.dic; differences there are reported, never a failure.
# Skips (77) without a Python that imports pydicom, or when the installed
# pydicom is not the version the tables were generated from.
# Environment (from tests/CMakeLists.txt): IMD_SOURCE, IMD_PYTHON.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
python="${IMD_PYTHON:-}"

if [[ -z "$python" ]]; then
    echo "SKIP: IMD_PYTHON is empty (no python3 found at configure time)"
    exit 77
fi
if ! "$python" -c 'import pydicom._dicom_dict, pydicom._uid_dict' >/dev/null 2>&1; then
    echo "SKIP: $python cannot import pydicom (Debian: python3-pydicom)"
    exit 77
fi

"$python" "$source_dir/tools/dicom_dict/gen_dict.py" --check
status=$?
case $status in
0) exit 0 ;;
3)
    echo "SKIP: the installed pydicom differs from the one the tables come from"
    exit 77
    ;;
*)
    echo "FAIL: gen_dict.py --check exited with $status"
    exit 1
    ;;
esac
