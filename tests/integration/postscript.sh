#!/usr/bin/env bash
# PostScript and PDF input through Ghostscript's gs program (postscript.py),
# checked with pydicom, numpy and dciodvfy. Skips (77) without gs (Debian
# ghostscript) or without numpy and pydicom for $IMD_PYTHON.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
data=${IMD_TEST_DATA:-}
python=${IMD_PYTHON:-}
if ! command -v gs >/dev/null 2>&1; then
    echo "SKIP: Ghostscript's gs is not on PATH (Debian ghostscript): PostScript/PDF input untested"
    exit 77
fi
if [ -z "$python" ] || ! "$python" -c 'import numpy, pydicom' 2>/dev/null; then
    echo "SKIP: ${python:-IMD_PYTHON unset}: needs numpy and pydicom"
    exit 77
fi
exec "$python" "$source_dir/tests/integration/postscript.py" \
    --image-data "$build/cli/image_data" --data "$data" "$@"
