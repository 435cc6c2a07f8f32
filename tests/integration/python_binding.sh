#!/bin/bash
# The Python binding (issue 19, docs/python.md): make a virtual environment
# with Debian's python3 (--system-site-packages: numpy, pydicom, nibabel,
# scipy, pytest), pip-install ./python offline against this build's
# libimagedata, and run tests/python with pytest.
# Environment (from tests/CMakeLists.txt): IMD_BUILD, IMD_SOURCE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
build_dir="${IMD_BUILD:-}"
if [[ -z "$build_dir" ]]; then
    echo "FAIL: IMD_BUILD is not set (run through ctest)"
    exit 1
fi
py=/usr/bin/python3
if [[ ! -x "$py" ]]; then
    echo "SKIP: /usr/bin/python3 not found"
    exit 77
fi
for module in venv ensurepip pip setuptools wheel numpy pytest; do
    if ! "$py" -c "import $module" 2>/dev/null; then
        echo "SKIP: Python module $module is missing (Debian: python3-venv python3-pip" \
             "python3-setuptools python3-wheel python3-numpy python3-pytest)"
        exit 77
    fi
done
if [[ ! -e /usr/include/python3.11/Python.h && -z "$("$py" -c \
        'import sysconfig,os;p=sysconfig.get_paths()["include"];print(p if os.path.exists(p+"/Python.h") else "")')" ]]; then
    echo "SKIP: Python.h is missing (Debian: python3-dev)"
    exit 77
fi

work="$build_dir/python-test"
rm -rf "$work"
mkdir -p "$work"
# Build from a copy: pip builds in the tree it is given.
cp -r "$source_dir/python" "$work/src"
"$py" -m venv --system-site-packages "$work/venv"
IMAGEDATA_BUILD="$build_dir" "$work/venv/bin/pip" install --no-build-isolation --no-index \
    --quiet --disable-pip-version-check --no-cache-dir "$work/src" >"$work/pip.log" 2>&1 || {
    cat "$work/pip.log"
    echo "FAIL: pip install of the package"
    exit 1
}

# An ASan build's library needs the sanitizer runtime first in the process.
# (ldd's output is kept first: grep -q closing the pipe early would make
# ldd fail under pipefail, and the test lose the runtime now and then.)
preload=""
needed="$(ldd "$build_dir/src/libimagedata.so")"
for runtime in libasan libubsan; do
    if grep -q "$runtime" <<<"$needed"; then
        preload="$preload $(gcc -print-file-name="$runtime.so")"
    fi
done
export IMAGEDATA_TEST_DATA="${IMAGEDATA_TEST_DATA:-$source_dir/../shared/data/imagedata}"
cd "$work"
# Python keeps memory until exit by design: no leak report; a small quarantine
# so that the RSS test sees freed memory come back.
PYTHONUNBUFFERED=1 LD_PRELOAD="${preload# }" \
    ASAN_OPTIONS="detect_leaks=0:quarantine_size_mb=16:${ASAN_OPTIONS:-}" \
    "$work/venv/bin/python" -m pytest -q -rs -p no:cacheprovider "$source_dir/tests/python" "$@"
