#!/bin/bash
# dcm_qa_frag: compressed series whose frames span several fragments, decoded
# and compared with gdcmconv --raw and the reference NIfTI (dicom_codec_frag.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
data="$source_dir/../shared/data/dcm_qa_dev/dcm_qa_frag"
if [[ ! -d "$data" ]]; then
    echo "SKIP: $data not found (the ../shared reference data is absent)"
    exit 77
fi
python="${IMD_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-frag.XXXXXX")"
trap 'rm -rf "$work"' EXIT
exec "$python" "$here/dicom_codec_frag.py" "${IMD_BUILD:?run through ctest}" "$work" "$data"
