#!/usr/bin/env bash
# image_info end to end through the external example plugin: --plugin and
# IMAGEDATA_PLUGINS, --json (checked by Python's json), --stats, exit codes
# of each error class, quiet stderr without -v, skipped files reported with -v.
set -euo pipefail
build=${IMD_BUILD:?}
info="$build/cli/image_info"
plugin="$build/plugins/example_raw/imd_example_raw.so"
badabi="$build/plugins/example_raw/imd_example_raw_badabi.so"
python=${IMD_PYTHON:-}
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

mkdir -p "$tmp/in/sub"
"$build/examples/phantom" "$plugin" "$tmp/in/sub/phantom.imdraw" >/dev/null
echo "not an image" >"$tmp/in/readme.txt"

# Summary and JSON through --plugin; stderr stays quiet without -v.
expect_exit 0 "summary" "$info" --plugin "$plugin" --stats "$tmp/in"
check "summary shape" grep -q "Shape: 4tx8x32x32, dtype: uint16, input order: time" "$tmp/out"
check "summary stats" grep -q "Min: 10, max: 1750" "$tmp/out"
check "quiet stderr" test ! -s "$tmp/err"
expect_exit 0 "verbose" "$info" -v --plugin "$plugin" "$tmp/in"
check "verbose reports the skipped file" grep -q "skipped .*readme.txt" "$tmp/err"
check "verbose reports what was read" grep -q "imdraw: 1 file(s) read into 1 series" "$tmp/err"
check "no empty summary fields" bash -c "! grep -q 'Patient: *$' '$tmp/out'"

expect_exit 0 "json via IMAGEDATA_PLUGINS" env IMAGEDATA_PLUGINS="$plugin" "$info" --json --stats "$tmp/in/sub/phantom.imdraw"
if [ -n "$python" ] && [ -x "$python" ]; then
    check "json content" "$python" - "$tmp/out" <<'PY'
import json, sys
series = json.load(open(sys.argv[1]))
assert len(series) == 1, series
d = series[0]
assert d["shape"] == [4, 8, 32, 32] and d["dtype"] == "uint16", d["shape"]
assert d["input_order"] == "time"
assert [a["name"] for a in d["axes"]] == ["time", "slice", "row", "column"]
assert d["spacing"] == [2, 1, 1]
assert d["stats"]["min"] == 10 and d["stats"]["max"] == 1750
assert d["url"].endswith("phantom.imdraw")
PY
else
    echo "SKIP (part): /usr/bin/python3 not found, JSON content not checked"
fi

# Error classes and their exit codes (docs/cli.md).
expect_exit 2 "nothing recognised" "$info" "$tmp/in"
check "nothing recognised message" grep -q "could not determine the input format" "$tmp/err"
expect_exit 2 "missing input" "$info" --plugin "$plugin" "$tmp/nonexistent"
expect_exit 1 "ABI mismatch" "$info" --plugin "$badabi" "$tmp/in"
check "ABI message" grep -q "plugin ABI 999" "$tmp/err"
expect_exit 1 "plugin not found" "$info" --plugin "$tmp/none.so" "$tmp/in"  # configuration error, not "no data"
expect_exit 1 "bad option" "$info" --no-such-option "$tmp/in"
expect_exit 1 "no input" "$info"
expect_exit 1 "bad input option" "$info" --input_options novalue "$tmp/in"
printf 'IMDRAW 1\ndtype uint16\nshape 2 2\ndata\nab' >"$tmp/broken.imdraw"
expect_exit 4 "corrupt input" "$info" --plugin "$plugin" "$tmp/broken.imdraw"
check "corrupt message names the file" grep -q "broken.imdraw" "$tmp/err"
expect_exit 5 "unsupported transport" "$info" "xnat://host/project"
expect_exit 7 "DICOM node not there" "$info" "dicom://127.0.0.1:1/PACS"
expect_exit 0 "help" "$info" --help
check "help lists exit codes" grep -q "70  internal error" "$tmp/out"
expect_exit 0 "version" "$info" -V
check "version text" grep -Eq "^image_info [0-9]+\.[0-9]+\.[0-9]+$" "$tmp/out"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
