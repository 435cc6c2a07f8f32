#!/bin/bash
# Every compressed image file Debian's pydicom ships, decoded frame by frame
# by our codecs and compared with pydicom, dcmtk and gdcm
# (dicom_codec_pydicom.py says how). Environment from tests/CMakeLists.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
tool="${IMD_BUILD:?run through ctest}/tests/dicom_decode_frames"
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-codec.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
exec "$python" "$here/dicom_codec_pydicom.py" "$tool" "$work"
