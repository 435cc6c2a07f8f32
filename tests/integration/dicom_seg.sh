#!/usr/bin/env bash
# DICOM Segmentation read (issue 15 item 5): SEG made by pydicom, checked voxel by voxel.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build=${IMD_BUILD:?run through ctest}
python=${IMD_PYTHON:-/usr/bin/python3}
if [ ! -x "$python" ]; then echo "SKIP: no /usr/bin/python3"; exit 77; fi
exec "$python" "$here/dicom_seg.py" "$build/cli/image_data" "$build/cli/image_info"
