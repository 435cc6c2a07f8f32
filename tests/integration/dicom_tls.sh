#!/bin/bash
# DICOM over TLS (issue 18 item 5): our client and receiver against dcmtk's
# storescp, storescu and echoscu in TLS mode and against each other, with
# certificates made here by openssl (dicom_tls.py says what is checked).
# Loopback only; every server is started and stopped by the test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
build="${IMD_BUILD:?run through ctest}"
shared="${IMD_SOURCE:-$here/../..}/../shared"
if [[ ! -d "$shared/data/imagedata/dicom/time" ]]; then
    echo "SKIP: $shared/data/imagedata/dicom/time not found"
    exit 77
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "SKIP: openssl (the command) not installed: no certificates can be made"
    exit 77
fi
for tool in storescp storescu echoscu; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool (dcmtk) not installed"
        exit 77
    fi
    # Not `| grep -q`: under pipefail the tool's SIGPIPE would count as absence.
    if [[ "$("$tool" --help 2>&1)" != *--enable-tls* ]]; then
        echo "SKIP: $tool (dcmtk) was built without TLS"
        exit 77
    fi
done
if [[ "$("$build/cli/dicom_echo" --help 2>&1)" != *--tls_ca* ]]; then
    echo "FAIL: dicom_echo has no --tls flag"
    exit 1
fi
if ! "$python" -c 'import pydicom, numpy, nibabel' 2>/dev/null; then
    echo "SKIP: $python lacks pydicom, numpy or nibabel"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-tls.XXXXXX")"
trap 'rm -rf "$work"' EXIT
exec "$python" "$here/dicom_tls.py" "$build" "$shared" "$work"
