#!/usr/bin/env bash
# The hostile corpus of issue 22 through the CLIs: each case with its exit
# code, a message that names the file and the numbers, a time bound, and
# nothing left behind (no output, no ".tmp-*" file, nothing in TMPDIR).
# Under the sanitizer build every allocation above 256 MiB aborts
# (ASAN_OPTIONS max_allocation_size_mb), so "no allocation the input cannot
# justify" is checked, not assumed. The corpus is made by
# tests/hostile/make_corpus.py under the build folder.
# Environment (tests/CMakeLists.txt): IMD_BUILD, IMD_SOURCE, IMD_PYTHON, IMD_SANITIZE.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
python=${IMD_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import pydicom, nibabel, scipy, numpy" 2>/dev/null; then
    echo "SKIP: $python lacks pydicom, nibabel, scipy or numpy (needed to make the corpus)"
    exit 77
fi
mkdir -p "$build/tests/tmp"
work=$(mktemp -d "$build/tests/tmp/hostile-XXXXXX")
trap 'rm -rf "$work"' EXIT
corpus=$work/corpus
"$python" "$source_dir/tests/hostile/make_corpus.py" "$corpus" || { echo "FAIL: make_corpus.py"; exit 1; }
export TMPDIR=$work/tmpdir
mkdir -p "$TMPDIR"
if [ "${IMD_SANITIZE:-OFF}" = "ON" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_allocation_size_mb=256:allocator_may_return_null=0"
fi
data=$build/cli/image_data info=$build/cli/image_info dump=$build/cli/dicom_dump
passes=0 failures=0 xfails=0 xpasses=0

# run_case NAME EXIT PATTERN SECONDS XFAIL COMMAND...: the output of a write goes to $work/out/NAME.
run_case() {
    local name=$1 code=$2 pattern=$3 seconds=$4 xfail=$5 got=0 why=""
    shift 5
    mkdir -p "$work/out"
    timeout -s KILL "$seconds" "$@" >"$work/stdout" 2>"$work/stderr" || got=$?
    if [ "$got" -ne "$code" ]; then
        why="exit $got, expected $code"
    elif ! grep -Eq -- "$pattern" "$work/stderr"; then
        why="no message matching /$pattern/"
    elif compgen -G "$work/out/$name*" >/dev/null; then
        why="output left behind: $(ls -d "$work/out/$name"*)"
    elif [ -n "$(find "$work" -name '*.tmp-*' -print -quit)" ]; then
        why="temporary file left behind: $(find "$work" -name '*.tmp-*' | head -1)"
    elif [ -n "$(ls -A "$TMPDIR")" ]; then
        why="TMPDIR not empty: $(ls -A "$TMPDIR" | head -3)"
    fi
    rm -rf "$work/out"/* "$TMPDIR"/*
    if [ -z "$why" ] && [ "$xfail" = xfail ]; then
        echo "XPASS: $name (passes now: remove its xfail mark)"
        xpasses=$((xpasses + 1))
    elif [ -z "$why" ]; then
        echo "ok: $name"
        passes=$((passes + 1))
    elif [ "$xfail" = xfail ]; then
        echo "XFAIL: $name: $why"
        xfails=$((xfails + 1))
    else
        echo "FAIL: $name: $why"
        sed 's/^/    /' "$work/stderr" | head -8
        failures=$((failures + 1))
    fi
}

c=$corpus
# DICOM reader (format.c, check_pixel_bytes). Four 1 KB files claiming 65535 x 65535
# x 16 bits: CORRUPT (exit 4) naming the file and both byte counts, before any
# allocation. --memory-limit 1T so that the limit cannot stand in for the check.
run_case dicom_65535 4 "IM000[1-4]\.dcm.*(1024|8589672450)" 60 - \
    "$data" --memory-limit 1T --of nifti "$work/out/dicom_65535.nii" "$c/dicom_65535"
# The same under the default limit: refused, never an allocation failure (exit 70).
run_case dicom_65535_limit 4 "memory limit|1024" 60 - \
    "$data" --of nifti "$work/out/dicom_65535_limit.nii" "$c/dicom_65535"
run_case nifti_32767 4 "nifti_32767\.nii.*352 bytes.*70362301923326" 30 - \
    "$data" --memory-limit 1T --of nifti "$work/out/nifti_32767.nii" "$c/nifti_32767.nii"
run_case nifti_32767_gz 4 "nifti_32767\.nii\.gz.*70362301923326.*61 compressed bytes" 30 - \
    "$data" --memory-limit 1T --of nifti "$work/out/nifti_32767_gz.nii" "$c/nifti_32767.nii.gz"
run_case nifti_pair 4 "p\.img: 100 bytes, 70362301923326 expected" 30 - \
    "$data" --memory-limit 1T --of nifti "$work/out/nifti_pair.nii" "$c/nifti_pair/p.hdr"
run_case nifti_32767_info 4 "nifti_32767\.nii.*70362301923326" 30 - \
    "$info" --memory-limit 1T "$c/nifti_32767.nii"
# --headers_only checks the claim too: a header alone must not make an array
# the file cannot back (issue 22; it made a 70 TB array of zeros before).
run_case nifti_32767_headers 4 "nifti_32767\.nii.*352 bytes.*70362301923326" 30 - \
    "$info" --memory-limit 1T --headers_only "$c/nifti_32767.nii"
run_case nifti_32767_gz_headers 4 "nifti_32767\.nii\.gz.*70362301923326.*61 compressed bytes" 30 - \
    "$info" --memory-limit 1T --headers_only "$c/nifti_32767.nii.gz"
run_case nifti_pair_headers 4 "p\.img: 100 bytes, 70362301923326 expected" 30 - \
    "$info" --memory-limit 1T --headers_only "$c/nifti_pair/p.hdr"
run_case metaio_claims_headers 4 "small\.raw: 3 bytes cannot hold the 8000000000 bytes" 30 - \
    "$info" --memory-limit 1T --headers_only "$c/metaio_claims/big.mhd"
run_case metaio_local_headers 4 "metaio_local\.mha.*2 compressed bytes cannot hold the 8000000000" 30 - \
    "$info" --memory-limit 1T --headers_only "$c/metaio_local.mha"
run_case mat_huge 4 "mat_huge\.mat.*12800000000 bytes.*at most 80" 30 - \
    "$data" --memory-limit 1T --of nifti "$work/out/mat_huge.nii" "$c/mat_huge.mat"
run_case mat_huge_headers 4 "mat_huge\.mat.*12800000000 bytes" 30 - \
    "$info" --memory-limit 1T --headers_only "$c/mat_huge.mat"
run_case mat_short 4 "mat_short\.mat.*800 bytes.*at most 128" 30 - \
    "$data" --of nifti "$work/out/mat_short.nii" "$c/mat_short.mat"
run_case mat_truncated 4 "mat_truncated\.mat.*800 bytes" 30 - \
    "$data" --of nifti "$work/out/mat_truncated.nii" "$c/mat_truncated.mat"
run_case mat_padded 4 "mat_padded\.mat.*100 elements, but it stores 10" 30 - \
    "$data" --of nifti "$work/out/mat_padded.nii" "$c/mat_padded.mat"
run_case metaio_symlink 5 "data\.raw resolves to /etc/passwd, outside the header's folder" 30 - \
    "$data" --of nifti "$work/out/metaio_symlink.nii" "$c/metaio_symlink/evil.mhd"
run_case metaio_claims 4 "small\.raw: 3 bytes cannot hold the 8000000000 bytes" 30 - \
    "$data" --memory-limit 1T --of nifti "$work/out/metaio_claims.nii" "$c/metaio_claims/big.mhd"
run_case metaio_local 4 "metaio_local\.mha.*2 compressed bytes cannot hold the 8000000000" 30 - \
    "$data" --memory-limit 1T --of nifti "$work/out/metaio_local.nii" "$c/metaio_local.mha"
run_case dev_zero_dump 6 "/dev/zero: cannot read: a character device, not a regular file" 10 - \
    "$dump" /dev/zero
run_case dev_zero_data 5 "/dev/zero" 10 - \
    "$data" --of nifti "$work/out/dev_zero_data.nii" /dev/zero
run_case fifo_dump 6 "fifo: cannot read: a FIFO, not a regular file" 10 - \
    "$dump" "$c/fifo"
run_case zip_bomb 2 "zip_bomb\.zip.*4 file\(s\), none recognised" 30 - \
    "$info" "$c/zip_bomb.zip"
run_case zip_unsafe 8 "member \"\.\./evil\.mat\" skipped: an unsafe name" 30 - \
    "$data" -v --of nifti "$work/written_good.nii" "$c/zip_unsafe.zip"
# (zip_unsafe writes good.mat: a partial result, exit 8, its output outside out/.)
run_case zip_unsafe_absolute 8 "member \"/absolute\.mat\" skipped" 30 - \
    "$info" -v "$c/zip_unsafe.zip"
run_case memory_limit 4 "good\.mat.*96 bytes needed, more than the memory limit of 64 bytes" 30 - \
    "$data" --memory-limit 64 --of nifti "$work/out/memory_limit.nii" "$c/good.mat"
run_case memory_limit_bad 1 "--memory-limit: \"lots\" is not a size" 10 - \
    "$info" --memory-limit lots "$c/good.mat"

echo "$passes passed, $failures failed, $xfails expected failures, $xpasses unexpected passes"
[ "$failures" -eq 0 ] && [ "$xpasses" -eq 0 ]
