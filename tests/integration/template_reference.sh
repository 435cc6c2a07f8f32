#!/usr/bin/env bash
# template= and geometry= on ITK, NIfTI, MAT and header-less DICOM input
# against the reference DICOM series (behaviour.md §5.5); the cases are in
# template_reference.py. Skips (77) without the data or without $IMD_PYTHON.
set -uo pipefail
python=${IMD_PYTHON:-}
if [ -z "${IMD_TEST_DATA:-}" ] || [ ! -d "$IMD_TEST_DATA/dicom/time" ]; then
    echo "SKIP: the reference data is missing (IMD_TEST_DATA=${IMD_TEST_DATA:-unset})"
    exit 77
fi
if [ -z "$python" ] || [ ! -x "$python" ]; then
    echo "SKIP: IMD_PYTHON is not set (pydicom is an oracle here)"
    exit 77
fi
exec "$python" "${IMD_SOURCE:?}/tests/integration/template_reference.py"
