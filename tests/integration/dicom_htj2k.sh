#!/bin/bash
# HTJ2K (.201/.202/.203) made by Grok, decoded by us (dicom_htj2k.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-htj2k.XXXXXX")"
trap 'rm -rf "$work"' EXIT
exec "$python" "$here/dicom_htj2k.py" "${IMD_BUILD:?run through ctest}" "$work"
