#!/bin/bash
# DICOM -> NIfTI/MetaIO -> DICOM with the original as template: the template's grid again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
data="$source_dir/../shared/data/imagedata"
if [[ ! -d "$data" ]]; then
    echo "SKIP: $data not found (the ../shared reference data is absent)"
    exit 77
fi
python="${IMD_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-grid.XXXXXX")"
trap 'rm -rf "$work"' EXIT
exec "$python" "$here/template_grid.py" "${IMD_BUILD:?run through ctest}" "$work" "$data"
