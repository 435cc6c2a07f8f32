#!/usr/bin/env bash
# Options fail loudly (issue 16): a bad option value, an unknown option name
# or a malformed input order is a usage error (exit 1) in image_data and
# image_info, with one line naming the option and the value, and nothing is
# written; valid options of every format are still accepted. The input is a
# phantom made through the example plugin, so no ../shared data is needed.
set -euo pipefail
build=${IMD_BUILD:?}
run="$build/cli/image_data"
info="$build/cli/image_info"
plugin="$build/plugins/example_raw/imd_example_raw.so"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
passes=0
check() { # check NAME COMMAND...: the command must succeed
    local name=$1
    shift
    if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; failures=$((failures + 1)); fi
}
expect_exit() { # expect_exit CODE NAME COMMAND...
    local code=$1 name=$2 got=0
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
    if [ "$got" -eq "$code" ]; then passes=$((passes + 1)); else
        echo "FAIL: $name: exit $got, expected $code"; cat "$tmp/err"; failures=$((failures + 1))
    fi
}
# expect_usage NAME EXPECTED-LINE ARGS...: exit 1 from both programs, the one
# stderr line exactly as expected, and no output written by image_data.
expect_usage() {
    local name=$1 line=$2
    shift 2
    rm -rf "$tmp/out_dir" "$tmp/out_dir.nii.gz"
    expect_exit 1 "image_data $name" "$run" --plugin "$plugin" --of nifti "$@" "$tmp/out_dir" "$tmp/in"
    check "image_data $name: message" grep -qxF "image_data: $line" "$tmp/err"
    check "image_data $name: one line" test "$(wc -l <"$tmp/err")" -eq 1
    check "image_data $name: nothing written" test ! -e "$tmp/out_dir" -a ! -e "$tmp/out_dir.nii.gz"
    expect_exit 1 "image_info $name" "$info" --plugin "$plugin" "$@" "$tmp/in"
    check "image_info $name: message" grep -qxF "image_info: $line" "$tmp/err"
}

mkdir -p "$tmp/in"
"$build/examples/phantom" "$plugin" "$tmp/in/phantom.imdraw" >/dev/null

expect_usage "bad boolean" 'option "accept_duplicate_tag": "ture" is not a boolean' \
    --input_options accept_duplicate_tag=ture
expect_usage "bad number" 'option "slice_tolerance": "abc" is not a number' \
    --input_options slice_tolerance=abc
expect_usage "bad integer" 'option "gzip_level": "9x" is not an integer' \
    --input_options gzip_level=9x
expect_usage "bad choice" 'option "mat_version": "6" is not 5, v5, 7, 7.3, v7.3 or 73' \
    --input_options mat_version=6
expect_usage "unknown option" \
    'option "no_such_option" (value "1") is unknown: neither the pipeline nor a format (imdraw, dicom, nifti, itk, mat, png, jpeg, tiff, ps) reads it, and the input order has no such component' \
    --input_options no_such_option=1
expect_usage "malformed order" 'option "input_order": "time,,b": component 2 is empty' \
    --order "time,,b"
expect_usage "order with too many components" \
    'option "input_order": "a,b,c,d,e,f": component 6 is one too many (at most 5)' \
    --order "a,b,c,d,e,f"
expect_usage "order that is not a name" \
    "option \"input_order\": \"time;te\": component 1 is not a name (letters, digits, '_', '-', '.')" \
    --order "time;te"
# A user's order name is an option only when the order has that component.
expect_usage "order keyword without the order" \
    'option "ti" (value "InversionTime") is unknown: neither the pipeline nor a format (imdraw, dicom, nifti, itk, mat, png, jpeg, tiff, ps) reads it, and the input order has no such component' \
    --input_options ti=InversionTime

# Valid options of every format pass (the plugin reads none of them), and the
# result is written: DICOM reader flags, a user order keyword, NIfTI, MetaIO,
# MAT and pipeline options, and the program's own --sernum/--psopt.
expect_exit 0 "valid options" "$run" --plugin "$plugin" --of nifti \
    --input_options accept_duplicate_tag=True --input_options slice_tolerance=0.01 \
    --input_options skip_broken_series=yes --input_options time=TriggerTime \
    --input_options gzip_level=9 --input_options nifti2=false --input_options compress=on \
    --input_options mat_version=7.3 --input_options calling_aet=ME --sort tag \
    --input_options keep_uid=0 --sernum 7 --psopt x --input_shape 2 \
    "$tmp/valid" "$tmp/in"
check "valid options: written" test -s "$tmp/valid.nii.gz"
expect_exit 0 "user order with its keyword" "$info" --plugin "$plugin" --order ti \
    --input_options ti=InversionTime "$tmp/in"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
