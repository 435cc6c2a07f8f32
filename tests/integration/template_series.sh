#!/bin/bash
# template_series= / geometry_series=: which piece of a split template series a result came from.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
data="$source_dir/../shared/data/dcm_qa_dev/dcm_qa_fmap/In"
if [[ ! -d "$data" ]]; then
    echo "SKIP: $data not found (the ../shared reference data is absent)"
    exit 77
fi
python="${IMD_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-tseries.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# No exec: the trap removes the work folder afterwards.
"$python" "$here/template_series.py" "${IMD_BUILD:?run through ctest}" "$work" "$data"
