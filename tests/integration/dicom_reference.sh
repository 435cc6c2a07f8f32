#!/usr/bin/env bash
# DICOM read acceptance tests: image_info --json on the original project's
# DICOM test data against behaviour.md (§3, §11, §12) and against numbers
# computed independently from the files with pydicom + numpy. The cases live
# in dicom_reference.py (one function each; run one with --case NAME).
# Skips (77) without the test data, without $IMD_PYTHON, or without
# numpy/pydicom for it.
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
export IMD_TEST_DATA="$data"
export IMD_BUILD="$build"
exec "$python" "$source_dir/tests/integration/dicom_reference.py" \
    --image-info "$build/cli/image_info" --data "$data" "$@"
