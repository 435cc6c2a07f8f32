#!/usr/bin/env bash
# DICOM write acceptance tests: image_data --of dicom on the original
# project's test data and on inputs made by the script, checked with pydicom
# (values, pixels, UIDs) and dcmtk's dcmdump (no warning on any written file)
# against behaviour.md (§4, §5.5, §11). The cases live in
# dicom_write_reference.py (one function each; run one with --case NAME, list
# them with --list). Skips (77) without the test data, without $IMD_PYTHON,
# or without numpy/pydicom for it; the dcmdump checks are skipped (and said
# so) without dcmdump, the cases that make inputs without scipy/nibabel.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
data=${IMD_TEST_DATA:-}
python=${IMD_PYTHON:-}
if [ -z "$data" ] || [ ! -d "$data/dicom" ]; then
    echo "SKIP: the reference data is missing (IMD_TEST_DATA=${data:-unset}, expected ../shared/data/imagedata)"
    exit 77
fi
if [ -z "$python" ] || [ ! -x "$python" ]; then
    echo "SKIP: IMD_PYTHON is not set (a Python with numpy and pydicom is the oracle)"
    exit 77
fi
if ! "$python" -c 'import numpy, pydicom' 2>/dev/null; then
    echo "SKIP: numpy or pydicom is not installed for $python"
    exit 77
fi
if ! command -v dcmdump >/dev/null; then
    echo "NOTE: dcmdump (Debian package dcmtk) is not installed: its checks are skipped"
fi
exec "$python" "$source_dir/tests/integration/dicom_write_reference.py" \
    --image-data "$build/cli/image_data" --image-info "$build/cli/image_info" \
    --data "$data" "$@"
