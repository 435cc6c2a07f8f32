#!/bin/bash
# Reading a series by dicom:// URL (C-FIND + C-GET) from dcmtk's dcmqrscp,
# compared with reading the folder that was stored there (dicom_qr.py says
# what is checked). Loopback only; the server is started and stopped by the
# test, its storage in a temporary folder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
build="${IMD_BUILD:?run through ctest}"
shared="${IMD_SOURCE:-$here/../..}/../shared"
if [[ ! -d "$shared/data/imagedata/dicom/time" ]]; then
    echo "SKIP: $shared/data/imagedata/dicom/time not found"
    exit 77
fi
for tool in dcmqrscp storescu; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool (dcmtk) not installed"
        exit 77
    fi
done
if ! "$python" -c 'import pydicom, numpy, nibabel' 2>/dev/null; then
    echo "SKIP: $python lacks pydicom, numpy or nibabel"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-qr.XXXXXX")"
trap 'rm -rf "$work"' EXIT
exec "$python" "$here/dicom_qr.py" "$build" "$shared" "$work"
