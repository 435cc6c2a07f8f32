#!/usr/bin/env bash
# Issue 22 item 2: never output memory that was not read or computed. The MAT
# and NIfTI cases of the hostile corpus, and honest files converted to NIfTI,
# run under valgrind memcheck: any error (an uninitialised byte reaching a
# write(), a branch on one, an invalid read) fails the test. valgrind cannot
# run sanitizer binaries: in the ASan/UBSan build this test is skipped (exit
# 77, saying so); it runs in the plain (Debug or Release) build.
# Environment (tests/CMakeLists.txt): IMD_BUILD, IMD_SOURCE, IMD_PYTHON, IMD_SANITIZE.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
python=${IMD_PYTHON:-/usr/bin/python3}
if [ "${IMD_SANITIZE:-OFF}" = "ON" ]; then
    echo "SKIP: valgrind cannot run ASan binaries; this test runs in a build without IMD_SANITIZE"
    exit 77
fi
if ! command -v valgrind >/dev/null; then
    echo "SKIP: valgrind not found (apt-get install valgrind)"
    exit 77
fi
if ! "$python" -c "import pydicom, nibabel, scipy, numpy" 2>/dev/null; then
    echo "SKIP: $python lacks pydicom, nibabel, scipy or numpy (needed to make the corpus)"
    exit 77
fi
mkdir -p "$build/tests/tmp"
work=$(mktemp -d "$build/tests/tmp/valgrind-XXXXXX")
trap 'rm -rf "$work"' EXIT
corpus=$work/corpus
"$python" "$source_dir/tests/hostile/make_corpus.py" "$corpus" || { echo "FAIL: make_corpus.py"; exit 1; }
"$python" - "$corpus" <<'PY'
import sys, numpy as np, nibabel as nib, scipy.io
out = sys.argv[1]
nib.save(nib.Nifti1Image(np.arange(5 * 4 * 3, dtype=np.int16).reshape(5, 4, 3), np.eye(4)),
         out + "/honest.nii.gz")
scipy.io.savemat(out + "/honest_z.mat", {"A": np.arange(24.0).reshape(2, 3, 4)},
                 do_compression=True)
PY
export TMPDIR=$work/tmpdir
mkdir -p "$TMPDIR"
passes=0 failures=0
# vg NAME EXIT COMMAND...: memcheck errors exit 99.
vg() {
    local name=$1 code=$2 got=0
    shift 2
    valgrind -q --error-exitcode=99 --track-origins=yes --leak-check=full \
        --errors-for-leak-kinds=definite --log-file="$work/vg.log" "$@" \
        >"$work/stdout" 2>"$work/stderr" || got=$?
    if [ "$got" -ne "$code" ]; then
        echo "FAIL: $name: exit $got, expected $code"
        head -30 "$work/vg.log" "$work/stderr" | sed 's/^/    /'
        failures=$((failures + 1))
    else
        echo "ok: $name (exit $got, no memcheck error)"
        passes=$((passes + 1))
    fi
}
data=$build/cli/image_data
c=$corpus
vg mat_short 4 "$data" --of nifti "$work/o1.nii" "$c/mat_short.mat"
vg mat_truncated 4 "$data" --of nifti "$work/o2.nii" "$c/mat_truncated.mat"
vg mat_padded 4 "$data" --of nifti "$work/o3.nii" "$c/mat_padded.mat"
vg mat_huge 4 "$data" --memory-limit 1T --of nifti "$work/o4.nii" "$c/mat_huge.mat"
vg mat_honest 0 "$data" --of nifti "$work/o5.nii" "$c/good.mat"
vg mat_honest_compressed 0 "$data" --of nifti "$work/o6.nii.gz" "$c/honest_z.mat"
vg mat_to_mat 0 "$data" --of mat "$work/o7.mat" "$c/good.mat"
vg nifti_32767 4 "$data" --memory-limit 1T --of nifti "$work/o8.nii" "$c/nifti_32767.nii"
vg nifti_32767_gz 4 "$data" --memory-limit 1T --of nifti "$work/o9.nii" "$c/nifti_32767.nii.gz"
vg nifti_pair 4 "$data" --memory-limit 1T --of nifti "$work/o10.nii" "$c/nifti_pair/p.hdr"
vg nifti_honest 0 "$data" --of nifti "$work/o11.nii" "$c/honest.nii.gz"
vg nifti_to_mat 0 "$data" --of mat "$work/o12.mat" "$c/honest.nii.gz"
vg zip_unsafe 8 "$data" --of nifti "$work/o13.nii" "$c/zip_unsafe.zip"
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
