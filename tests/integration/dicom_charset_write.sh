#!/bin/bash
# Non-ASCII text written into templates in any character set (dicom_charset_write.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-charset.XXXXXX")"
trap 'rm -rf "$work"' EXIT
exec "$python" "$here/dicom_charset_write.py" "${IMD_BUILD:?run through ctest}" "$work"
