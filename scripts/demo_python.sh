#!/usr/bin/env bash
# The demo's Python part: install the binding (python/) into a virtual
# environment made with Debian's python3, offline, against this build's
# libimagedata, and run the original README's Python example
# (examples/python/readme_example.py) on the demo's DICOM series.
set -euo pipefail
build=${1:-build-release}
dicom=${2:?usage: demo_python.sh BUILD DICOM_FOLDER [OUT]}
out=${3:-out/demo/python}
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "$build" && pwd)"
py=/usr/bin/python3
for module in venv pip setuptools wheel numpy; do
    if ! "$py" -c "import $module" 2>/dev/null; then
        echo "demo: SKIP the Python example: module $module is missing" \
             "(Debian: python3-venv python3-pip python3-setuptools python3-wheel python3-numpy)" >&2
        exit 0
    fi
done
venv="$build/python-venv"
rm -rf "$venv" "$build/python-src"
cp -r "$root/python" "$build/python-src"
"$py" -m venv --system-site-packages "$venv"
IMAGEDATA_BUILD="$build" "$venv/bin/pip" install --no-build-isolation --no-index --quiet \
    --disable-pip-version-check --no-cache-dir "$build/python-src"
# A sanitizer build's library needs its runtime first in the process.
# (ldd's output is kept first: grep -q closing the pipe early would make
# ldd fail under pipefail, and the test lose the runtime now and then.)
preload=""
needed="$(ldd "$build/src/libimagedata.so")"
for runtime in libasan libubsan; do
    if grep -q "$runtime" <<<"$needed"; then
        preload="$preload $(gcc -print-file-name="$runtime.so")"
    fi
done
LD_PRELOAD="${preload# }" ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" \
    "$venv/bin/python" "$root/examples/python/readme_example.py" "$out" "$dicom"
