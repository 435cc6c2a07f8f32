#!/bin/bash
# The DICOM network client against Orthanc (dicom_orthanc.py says what is
# checked). Orthanc listens on 0.0.0.0 and has no bind-address option, so it
# runs only inside a network namespace of its own that has nothing but
# loopback (unshare -n); without one the test is skipped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${IMD_PYTHON:-/usr/bin/python3}"
build="${IMD_BUILD:?run through ctest}"
shared="${IMD_SOURCE:-$here/../..}/../shared"
orthanc="$(command -v Orthanc || true)"
if [[ -z "$orthanc" && -x /usr/sbin/Orthanc ]]; then
    orthanc=/usr/sbin/Orthanc
fi
if [[ -z "$orthanc" ]]; then
    echo "SKIP: Orthanc not installed (apt-get install orthanc)"
    exit 77
fi
if [[ ! -d "$shared/data/imagedata/dicom/time" ]]; then
    echo "SKIP: $shared/data/imagedata/dicom/time not found"
    exit 77
fi
if ! unshare -n /bin/sh -c 'ip link set lo up' 2>/dev/null; then
    echo "SKIP: no network namespace (unshare -n needs CAP_SYS_ADMIN): Orthanc would listen on every interface"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-orthanc.XXXXXX")"
trap 'rm -rf "$work"' EXIT
unshare -n /bin/bash -c 'ip link set lo up && exec "$@"' orthanc-test \
    "$python" "$here/dicom_orthanc.py" "$orthanc" "$build" "$shared" "$work"
