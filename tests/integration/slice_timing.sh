#!/usr/bin/env bash
# Siemens mosaic slice times against dcm2niix's SliceTiming (dcm_qa_stc).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python=${IMD_PYTHON:-/usr/bin/python3}
if [ ! -x "$python" ] || ! "$python" -c "import numpy" 2>/dev/null; then echo "SKIP: no python3 with numpy"; exit 77; fi
exec "$python" "$here/slice_timing.py" "${IMD_BUILD:?}/cli/image_info" "${IMD_SOURCE:-$here/../..}/../shared/data/dcm_qa_dev"
