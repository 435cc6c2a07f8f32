#!/bin/bash
# The receiver (image_receive) and the C-MOVE read, against dcmtk's storescu,
# echoscu and dcmqrscp and our own client (dicom_receiver.py says what is
# checked). Loopback only; every server is started and stopped by the test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
build="${IMD_BUILD:?run through ctest}"
shared="${IMD_SOURCE:-$here/../..}/../shared"
if [[ ! -d "$shared/data/imagedata/dicom/time" ]]; then
    echo "SKIP: $shared/data/imagedata/dicom/time not found"
    exit 77
fi
for tool in storescu echoscu dcmqrscp; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool (dcmtk) not installed"
        exit 77
    fi
done
if ! "$python" -c 'import pydicom, numpy, nibabel' 2>/dev/null; then
    echo "SKIP: $python lacks pydicom, numpy or nibabel"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-recv.XXXXXX")"
trap 'rm -rf "$work"' EXIT
exec "$python" "$here/dicom_receiver.py" "$build" "$shared" "$work"
