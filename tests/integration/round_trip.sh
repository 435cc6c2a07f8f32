#!/bin/bash
# Issue 23 item 5: DICOM -> NIfTI/MetaIO/MAT -> DICOM with the original series
# as template, on every kind of series in ../shared (round_trip.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
shared="$source_dir/../shared"
if [[ ! -d "$shared/data" ]]; then
    echo "SKIP: $shared/data not found (the ../shared reference data is absent)"
    exit 77
fi
python="${IMD_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-roundtrip.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# No exec: the trap removes the work folder afterwards.
"$python" "$here/round_trip.py" "${IMD_BUILD:?run through ctest}" "$work" "$shared"
