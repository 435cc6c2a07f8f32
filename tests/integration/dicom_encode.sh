#!/bin/bash
# Lossless DICOM output (output_transfer_syntax): what we write in each syntax
# is decoded by dcmtk (dcmdrle, dcmdjpls, dcmdjpeg), gdcmconv --raw, pydicom
# (RLE, and JPEG 2000 through Pillow) and our own reader, to exactly the
# voxels we wrote uncompressed (dicom_encode.py).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
for tool in dcmdrle dcmdjpls dcmdjpeg dcmdump gdcmconv; do
    if ! command -v "$tool" > /dev/null; then
        echo "SKIP: $tool not found (apt-get install dcmtk libgdcm-tools): no oracle for our encoders"
        exit 77
    fi
done
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-encode.XXXXXX")"
trap 'rm -rf "$work"' EXIT
exec "$python" "$here/dicom_encode.py" "${IMD_BUILD:?run through ctest}" "$work"
