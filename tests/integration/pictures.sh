#!/usr/bin/env bash
# PNG, JPEG and TIFF read and written against Python's PIL, pydicom and
# numpy (pictures.py). Skips (77) without the test data or without PIL,
# pydicom and numpy for $IMD_PYTHON.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
data=${IMD_TEST_DATA:-}
python=${IMD_PYTHON:-}
if [ -z "$data" ] || [ ! -d "$data/dicom/time" ]; then
    echo "SKIP: the reference data is missing (IMD_TEST_DATA=${data:-unset}, expected ../shared/data/imagedata)"
    exit 77
fi
if [ -z "$python" ] || ! "$python" -c 'import numpy, pydicom, PIL' 2>/dev/null; then
    echo "SKIP: ${python:-IMD_PYTHON unset}: needs numpy, pydicom and PIL (Debian python3-pil)"
    exit 77
fi
exec "$python" "$source_dir/tests/integration/pictures.py" \
    --image-data "$build/cli/image_data" --data "$data" "$@"
