#!/usr/bin/env bash
# NIfTI acceptance tests: image_data --of nifti and the NIfTI reader against
# dcm2niix's reference files and the DICOM they were made from (behaviour.md
# §5.2, §7.3, §8, §11), with nibabel + numpy (+ pydicom where cheap) as the
# oracle. The cases live in nifti_reference.py (one function each; run one
# with --case NAME, list them with --list).
# Skips (77) without the test data, without $IMD_PYTHON, or without
# nibabel/numpy for it.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
data=${IMD_TEST_DATA:-}
python=${IMD_PYTHON:-}
if [ -z "$data" ] || [ ! -d "$data/dicom" ] || [ ! -d "$data/nifti" ]; then
    echo "SKIP: the reference data is missing (IMD_TEST_DATA=${data:-unset}, expected ../shared/data/imagedata)"
    exit 77
fi
if [ -z "$python" ] || [ ! -x "$python" ]; then
    echo "SKIP: IMD_PYTHON is not set (a Python with nibabel and numpy is the oracle)"
    exit 77
fi
if ! "$python" -c 'import numpy, nibabel' 2>/dev/null; then
    echo "SKIP: numpy or nibabel is not installed for $python"
    exit 77
fi
exec "$python" "$source_dir/tests/integration/nifti_reference.py" \
    --image-data "$build/cli/image_data" --image-info "$build/cli/image_info" --data "$data" "$@"
