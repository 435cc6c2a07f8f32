#!/bin/bash
# image_show end to end (under Xvfb, input from xdotool):
# tests/integration/viewer_check.py has the checks and the oracle. Screenshots
# (BMP and PNG) and the viewer's logs stay in $IMD_BUILD/tests/viewer_xvfb/.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
if [[ -z "${IMD_BUILD:-}" ]]; then
    echo "FAIL: IMD_BUILD is not set (run through ctest)"
    exit 1
fi
if [[ ! -x "$python" ]]; then
    echo "SKIP: no $python (needs numpy, nibabel, pydicom, PIL)"
    exit 77
fi
# SDL loads libX11, libdbus and Mesa at run time and unloads them at exit;
# their allocations then show as leaks of "<unknown module>" that no
# suppression can name. Leak checking is off here; viewer_offscreen (dummy
# driver) runs the same viewer code with it on.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
exec "$python" "$here/viewer_check.py" xvfb "$IMD_BUILD" "$IMD_BUILD/tests/viewer_xvfb"
