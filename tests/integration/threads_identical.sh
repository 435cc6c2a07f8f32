#!/usr/bin/env bash
# The thread count changes nothing but the time (issue 16 item 3): the same
# inputs converted with --threads 1, --threads 8 (and the default, 0) give
# the same bytes: DICOM folders -> .nii.gz (header batches and pixel decoding
# on the pool, gzip chunks on the pool), compressed DICOM (frames decoded on
# the pool), a folder of NIfTI files -> DICOM (the files read on the pool).
# NIfTI output is compared with cmp; DICOM output, whose UIDs and write times
# are new each time, with pydicom minus those (threads_identical.py). Bad
# --threads values exit 1 naming the option and the value, in every program.
# Parts whose data or tools are missing print "SKIP (part)".
set -euo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
python=${IMD_PYTHON:-/usr/bin/python3}
run=$build/cli/image_data
shared=$source_dir/../shared/data/dcm_qa_dev
pydicom_files=/usr/lib/python3/dist-packages/pydicom/data/test_files
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passes=0 failures=0 skipped=0
pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
skip() { echo "SKIP (part): $*"; skipped=$((skipped + 1)); }
have_pydicom=false
if [ -x "$python" ] && "$python" -c 'import pydicom' 2>/dev/null; then have_pydicom=true; fi

# convert NAME FORMAT INPUT...: OUTPUT under $tmp/NAME-<threads> for 1, 8 and 0.
convert() {
    local name=$1 format=$2
    shift 2
    for n in 1 8 0; do
        if ! "$run" --threads "$n" --of "$format" "$tmp/$name-$n" "$@" 2>"$tmp/err"; then
            fail "$name: --threads $n: exit $?: $(head -1 "$tmp/err")"
            return 1
        fi
    done
}

# same_bytes NAME: NAME-1.nii.gz, or every file of the folder NAME-1, equal (cmp) in
# NAME-8 and NAME-0, and nothing more.
same_bytes() {
    local name=$1 a=$tmp/$1-1 suffix="" files
    # one series: OUTPUT.nii.gz (the suffix added); several: a folder of them
    [ -d "$a" ] || suffix=.nii.gz
    a=$a$suffix
    for n in 8 0; do
        local b=$tmp/$name-$n$suffix
        if [ -d "$a" ]; then
            if ! diff <(cd "$a" && find . | sort) <(cd "$b" && find . | sort) >/dev/null; then
                fail "$name: --threads 1 and $n wrote different files"
                continue
            fi
            files=$(cd "$a" && find . -type f | sort)
        else
            files=.
        fi
        local differ=0 count=0
        for f in $files; do
            count=$((count + 1))
            if [ "$f" = . ]; then cmp -s "$a" "$b" || differ=$((differ + 1))
            else cmp -s "$a/$f" "$b/$f" || differ=$((differ + 1)); fi
        done
        if [ "$count" -gt 0 ] && [ "$differ" -eq 0 ]; then pass
        else fail "$name: $differ of $count files differ between --threads 1 and $n"; fi
    done
}

# same_dicom NAME: NAME-1 and NAME-8 (and -0) equal but for UIDs and write times.
same_dicom() {
    local name=$1
    if ! $have_pydicom; then skip "$name: no pydicom for $python"; return; fi
    for n in 8 0; do
        if "$python" "$source_dir/tests/integration/threads_identical.py" "$tmp/$name-1" \
            "$tmp/$name-$n" >"$tmp/cmp" 2>&1; then pass
        else fail "$name: --threads 1 and $n: $(head -3 "$tmp/cmp")"; fi
    done
}

# Our own series: 4 times x 20 slices of 256 x 256 (10 MiB of voxels: several gzip chunks).
"$build/examples/make_dicom_series" "$tmp/generated" 4 20 256 >/dev/null
convert generated nifti "$tmp/generated/" && same_bytes generated
gz_bytes=$(stat -c %s "$tmp/generated-1.nii.gz")
# more than one chunk of input (IMD__GZIP_CHUNK, 1 MiB) really went through the pool
[ "$(gzip -dc "$tmp/generated-1.nii.gz" | wc -c)" -gt $((4 << 20)) ] && pass ||
    fail "generated: the .nii.gz holds less than 4 MiB ($gz_bytes bytes compressed)"
gzip -t "$tmp/generated-8.nii.gz" && pass || fail "generated: gzip -t refuses --threads 8 output"
convert generated_dicom dicom "$tmp/generated-1.nii.gz" && same_dicom generated_dicom

# Compressed DICOM from pydicom's data (Debian python3-pydicom): RLE multi-frame, JPEG-LS.
found=0
for f in rtdose_rle.dcm SC_rgb_rle_2frame.dcm MR_small_jpeg_ls_lossless.dcm MR_small_RLE.dcm; do
    [ -f "$pydicom_files/$f" ] || continue
    found=$((found + 1))
    convert "pydicom_${f%.dcm}" nifti "$pydicom_files/$f" && same_bytes "pydicom_${f%.dcm}"
done
[ "$found" -gt 0 ] || skip "no compressed DICOM files in $pydicom_files"

# Real scanner folders (../shared): many series each; then their NIfTI files back to DICOM.
if [ -d "$shared" ]; then
    for repo in dcm_qa_stc dcm_qa_frag; do
        if [ -d "$shared/$repo/In" ]; then
            convert "$repo" nifti "$shared/$repo/In" && same_bytes "$repo"
        else
            skip "$shared/$repo/In is missing"
        fi
    done
    if [ -d "$tmp/dcm_qa_stc-1" ]; then
        # a folder of NIfTI files: each read on the pool, written as a DICOM series
        convert stc_dicom dicom "$tmp/dcm_qa_stc-1" && same_dicom stc_dicom
    fi
else
    skip "no ../shared data ($shared)"
fi

# Bad values: exit 1, the option and the value named; 0 is the default, not an error.
for program in image_data image_info dicom_dump; do
    for bad in abc -1 257 "" 4x; do
        got=0
        "$build/cli/$program" --threads "$bad" "$tmp/x" "$tmp/y" >/dev/null 2>"$tmp/err" || got=$?
        if [ "$got" -eq 1 ] && grep -q -- "--threads: \"$bad\"" "$tmp/err"; then pass
        else fail "$program --threads '$bad': exit $got: $(head -1 "$tmp/err")"; fi
    done
done
got=0
"$build/cli/image_info" --threads 0 "$tmp/generated-1.nii.gz" >/dev/null 2>&1 || got=$?
[ "$got" -eq 0 ] && pass || fail "image_info --threads 0: exit $got"

echo "$passes passed, $failures failed, $skipped parts skipped"
[ "$failures" -eq 0 ]
