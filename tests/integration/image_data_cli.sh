#!/usr/bin/env bash
# image_data end to end: several inputs read together, the collection layout
# for several series, %p, --dtype, series attributes, exit codes of each error
# class, quiet stderr without -v. Output goes through the example plugin
# (imdraw) so that the test needs no other writer; NIfTI has its own tests.
set -euo pipefail
build=${IMD_BUILD:?}
data=${IMD_TEST_DATA:-}
run=$build/cli/image_data
info=$build/cli/image_info
plugin=$build/plugins/example_raw/imd_example_raw.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passes=0 failures=0
check() {
    local name=$1
    shift
    if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
expect_exit() { # CODE NAME COMMAND...
    local code=$1 name=$2 got=0
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
    if [ "$got" -eq "$code" ]; then passes=$((passes + 1)); else
        echo "FAIL: $name: exit $got, expected $code: $(head -1 "$tmp/err")"
        failures=$((failures + 1))
    fi
}

# Sample data of our own: two small DICOM series.
"$build/examples/make_dicom_series" "$tmp/a" 2 3 16 >/dev/null
"$build/examples/make_dicom_series" "$tmp/b" 1 4 16 >/dev/null

expect_exit 0 "convert" "$run" --plugin "$plugin" --of imdraw --dtype float32 "$tmp/out_%p" "$tmp/a"
check "quiet stderr" test ! -s "$tmp/err"
check "%p expanded" test -f "$tmp/out_imdraw.imdraw"
"$info" --plugin "$plugin" "$tmp/out_imdraw.imdraw" >"$tmp/summary"
check "shape and dtype" grep -q "Shape: 2tx3x16x16, dtype: float32, input order: time" "$tmp/summary"

expect_exit 0 "two inputs, two series" "$run" --plugin "$plugin" --of imdraw -v "$tmp/many" "$tmp/a" "$tmp/b"
check "verbose reports" grep -q "wrote" "$tmp/err"
check "one folder per series" test "$(find "$tmp/many" -name '*.imdraw' | wc -l)" -eq 2
check "collection layout" bash -c "find '$tmp/many' -name '*.imdraw' | grep -q '/IMD-DEMO-1/20261125-100000/7-imagedata_demo_dynamic'"
# --name: the pattern below OUTPUT (issue 13 item 6); a used name gets a 0.
expect_exit 0 "--name pattern" "$run" --plugin "$plugin" --of imdraw --name "%s/%d_%i" "$tmp/named" "$tmp/a" "$tmp/b"
check "--name expanded" test -f "$tmp/named/7/imagedata_demo_dynamic_IMD-DEMO-1.imdraw"
check "--name: the second series gets a 0" test -f "$tmp/named/7/imagedata_demo_dynamic_IMD-DEMO-10.imdraw"
expect_exit 1 "--name leaving OUTPUT" "$run" --plugin "$plugin" --of imdraw --name "../%s" "$tmp/named2" "$tmp/a" "$tmp/b"
# Files that hold no image beside a series change nothing (issue 13 item 1):
# a .mat of header dumps and a text file, listed with -v; exit 0.
if "${IMD_PYTHON:-/usr/bin/python3}" -c "import scipy.io" 2>/dev/null; then
    mkdir -p "$tmp/mixed"
    cp -r "$tmp/a" "$tmp/mixed/a"
    "${IMD_PYTHON:-/usr/bin/python3}" -c "import scipy.io; scipy.io.savemat('$tmp/mixed/headers.mat', {'hdr': {'PatientName': 'x', 'Rows': 64}})"
    echo "notes" >"$tmp/mixed/notes.txt"
    expect_exit 0 "series beside a header-dump .mat and text" "$run" -v --of nifti "$tmp/mixed_out" "$tmp/mixed"
    check "the series written" test -f "$tmp/mixed_out.nii.gz"
    check "the .mat listed with -v" grep -q "skipped.*headers.mat.*struct" "$tmp/err"
    expect_exit 2 "the .mat alone: no image" "$run" --of nifti "$tmp/mat_out" "$tmp/mixed/headers.mat"
else
    echo "SKIP (part): no scipy to write a .mat"
fi
# --ts: the transfer syntax of DICOM output (lossless only).
expect_exit 0 "--ts rle" "$run" --of dicom --ts rle "$tmp/rle" "$tmp/a"
check "--ts rle: RLE Lossless files" bash -c "'$build/cli/dicom_dump' --meta \"\$(find '$tmp/rle' -name '*.dcm' | head -1)\" | grep -q '1.2.840.10008.1.2.5'"
expect_exit 1 "--ts lossy refused" "$run" --of dicom --ts 1.2.840.10008.1.2.4.50 "$tmp/lossy" "$tmp/a"
# Uncompressed NIfTI for several series: --no-gzip, or OUTPUT.nii.
expect_exit 0 "several series into out.nii" "$run" --of nifti "$tmp/nii_out.nii" "$tmp/a" "$tmp/b"
check "out.nii: a folder out of .nii files" test "$(find "$tmp/nii_out" -name '*.nii' | wc -l)" -eq 2
check "out.nii: no folder named out.nii" test ! -e "$tmp/nii_out.nii"
expect_exit 0 "--no-gzip" "$run" --of nifti --no-gzip "$tmp/nogz" "$tmp/a" "$tmp/b"
check "--no-gzip: .nii files" test "$(find "$tmp/nogz" -name '*.nii' | wc -l)" -eq 2
check "--no-gzip: really uncompressed" bash -c "f=\$(find '$tmp/nogz' -name '*.nii' | head -1); [ \"\$(head -c 2 \"\$f\" | od -An -tx1 | tr -d ' ')\" != 1f8b ]"

if [ -n "$data" ] && [ -d "$data/dicom/time" ]; then
    # Several input folders read together as one series (the seed's image_data
    # --order time out_dir in_dirs).
    expect_exit 0 "three folders as one 4D series" "$run" --plugin "$plugin" --of imdraw --order time \
        "$tmp/joined" "$data/dicom/time/time00" "$data/dicom/time/time01" "$data/dicom/time/time02"
    "$info" --plugin "$plugin" "$tmp/joined.imdraw" >"$tmp/summary"
    check "joined shape" grep -q "Shape: 3tx3x192x152" "$tmp/summary"
    expect_exit 3 "cannot sort" "$run" --plugin "$plugin" --of imdraw --order none "$tmp/x" "$data/dicom/time"
else
    echo "SKIP (part): ../shared data not present"
fi

# A progress line on a terminal (script gives a pseudo-terminal), none otherwise.
if command -v script >/dev/null; then
    "$build/examples/make_dicom_series" "$tmp/progress" 4 10 16 >/dev/null
    script -qc "'$run' --plugin '$plugin' --of imdraw '$tmp/p_out' '$tmp/progress'" /dev/null \
        >"$tmp/tty" 2>&1 || true
    check "progress line on a terminal" grep -q "reading DICOM headers 40/40" "$tmp/tty"
    "$run" --plugin "$plugin" --of imdraw "$tmp/p_out2" "$tmp/progress" 2>"$tmp/err" >/dev/null
    check "no progress without a terminal" test ! -s "$tmp/err"
else
    echo "SKIP (part): script (util-linux) not installed: progress not checked"
fi

# Partial success (exit 8): a broken series is skipped (skip_broken_series),
# the other is written, and the summary line says so.
mkdir -p "$tmp/partial"
cp -r "$tmp/a" "$tmp/partial/a"
cp -r "$tmp/b" "$tmp/partial/b"
victim=$(find "$tmp/partial/b" -type f | sort | head -1)
head -c "$(( $(stat -c %s "$victim") - 100 ))" "$victim" >"$tmp/cut" && mv "$tmp/cut" "$victim"
expect_exit 8 "partial: one of two series skipped" "$run" --plugin "$plugin" --of imdraw \
    --input_options skip_broken_series=true "$tmp/partial_out" "$tmp/partial"
check "partial summary" grep -q "partial result: 1 series written, 0 failed, 1 input(s) skipped" "$tmp/err"
check "the good series written" test -f "$tmp/partial_out.imdraw"
# Each series on its own (issue 13): the same without the option, and the
# line names the series, its first file and the reason.
expect_exit 8 "broken without skip_broken_series" "$run" --plugin "$plugin" --of imdraw \
    "$tmp/partial_out2" "$tmp/partial"
check "the failed series named" grep -q "skipped series 7 (imagedata demo dynamic, 4 images from b/IM.*pixel data has" "$tmp/err"
check "the good series written without the option" test -f "$tmp/partial_out2.imdraw"
# One series alone that cannot be read is the error (exit 4), not a partial result.
expect_exit 4 "the broken series alone" "$run" --plugin "$plugin" --of imdraw \
    "$tmp/partial_out3" "$tmp/partial/b"

# Error classes (docs/cli.md).
expect_exit 1 "no input" "$run" "$tmp/x"
expect_exit 1 "bad option value" "$run" --sort sideways "$tmp/x" "$tmp/a"
expect_exit 1 "bad dtype" "$run" --dtype bogus "$tmp/x" "$tmp/a"
expect_exit 2 "missing input" "$run" --of imdraw --plugin "$plugin" "$tmp/x" "$tmp/none"
echo "hello" >"$tmp/text.txt"
expect_exit 2 "nothing recognised" "$run" --plugin "$plugin" --of imdraw "$tmp/x" "$tmp/text.txt"
printf 'IMDRAW 1\ndtype uint16\nshape 2 2\ndata\nab' >"$tmp/broken.imdraw"
expect_exit 4 "corrupt input" "$run" --plugin "$plugin" --of imdraw "$tmp/x" "$tmp/broken.imdraw"
expect_exit 1 "unknown output format" "$run" --of nosuchwriter "$tmp/x" "$tmp/a"
expect_exit 2 "template not found" "$run" --plugin "$plugin" --template "$tmp/none" --of imdraw "$tmp/x" "$tmp/a"
check "template error names the option" grep -q "template $tmp/none" "$tmp/err"
expect_exit 1 "plugin ABI" "$run" --plugin "$build/plugins/example_raw/imd_example_raw_badabi.so" "$tmp/x" "$tmp/a"
expect_exit 0 "help" "$run" --help
check "help lists exit codes" grep -q "70  internal error" "$tmp/out"
check "no partial output left" bash -c "! ls '$tmp' | grep -q '\.tmp-'"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
