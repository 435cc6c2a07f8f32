#!/bin/bash
# Batch conversion on Dask distributed (issue 24, docs/batch.md): make a
# virtual environment with Debian's python3 (--system-site-packages: numpy,
# nibabel, pytest, dask, distributed, tqdm), pip-install ./python offline
# against this build's libimagedata, and run tests/batch with pytest. The
# oracle is image_data itself (the same exams converted one by one by the CLI,
# file for file) and nibabel.
#   batch.sh generated     generated exams (examples/make_dicom_series)
#   batch.sh dcm_qa_dev    ../shared/data/dcm_qa_dev (skipped, 77, without it)
# Environment (from tests/CMakeLists.txt): IMD_BUILD, IMD_SOURCE.
# (The venv set-up is python_binding.sh's, in a folder of its own: CTest runs
# the two at once.)
set -euo pipefail

what="${1:?usage: batch.sh generated|dcm_qa_dev}"
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
for module in venv ensurepip pip setuptools wheel numpy pytest nibabel dask distributed tqdm; do
    if ! "$py" -c "import $module" 2>/dev/null; then
        echo "SKIP: Python module $module is missing (Debian: python3-venv python3-pip" \
             "python3-setuptools python3-wheel python3-numpy python3-pytest python3-nibabel" \
             "python3-dask python3-distributed python3-tqdm)"
        exit 77
    fi
done
if [[ "$what" == dcm_qa_dev && ! -d "$source_dir/../shared/data/dcm_qa_dev" ]]; then
    echo "SKIP: the dcm_qa_dev data is missing (expected $source_dir/../shared/data/dcm_qa_dev)"
    exit 77
fi

work="$build_dir/batch-test-$what"
rm -rf "$work"
mkdir -p "$work"
cp -r "$source_dir/python" "$work/src"
"$py" -m venv --system-site-packages "$work/venv"
IMAGEDATA_BUILD="$build_dir" "$work/venv/bin/pip" install --no-build-isolation --no-index \
    --quiet --disable-pip-version-check --no-cache-dir "$work/src" >"$work/pip.log" 2>&1 || {
    cat "$work/pip.log"
    echo "FAIL: pip install of the package"
    exit 1
}

# An ASan build's library needs the sanitizer runtime first in every Python
# process: this one, and the Dask scheduler and workers it starts (they
# inherit the environment). Leak reports off: Python keeps memory by design.
preload=""
needed="$(ldd "$build_dir/src/libimagedata.so")"
for runtime in libasan libubsan; do
    if grep -q "$runtime" <<<"$needed"; then
        preload="$preload $(gcc -print-file-name="$runtime.so")"
    fi
done
cd "$work"
export IMD_BATCH_VENV="$work/venv" IMD_BUILD="$build_dir"
export IMD_BATCH_DATA="$source_dir/../shared/data/dcm_qa_dev"
PYTHONUNBUFFERED=1 LD_PRELOAD="${preload# }" ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" \
    "$work/venv/bin/python" -m pytest -q -rs -p no:cacheprovider \
    "$source_dir/tests/batch/test_batch.py" -m "$what" "${@:2}"
