#!/usr/bin/env bash
# Enhanced multi-frame writing (issue 15 item 6): dciodvfy, pydicom per-frame values, read back.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build=${IMD_BUILD:?run through ctest}
python=${IMD_PYTHON:-/usr/bin/python3}
data="${IMD_SOURCE:-$here/../..}/../shared/data"
if [ ! -x "$python" ]; then echo "SKIP: no /usr/bin/python3"; exit 77; fi
exec "$python" "$here/dicom_enhanced_write.py" "$build/cli/image_data" "$build/cli/image_info" "$data"
