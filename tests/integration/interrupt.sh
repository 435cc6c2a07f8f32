#!/usr/bin/env bash
# Issue 22: image_data interrupted (SIGINT, SIGTERM, SIGHUP) at several moments
# of a large read and write, into each writable format, exits 128 + the signal
# and leaves nothing behind: no output, no "*.tmp-*" file, no partly written
# folder, nothing in TMPDIR (a private one here). A run that finished before
# its signal is reported, not failed; at least half of the runs must have been
# interrupted for the test to pass.
# Environment (tests/CMakeLists.txt): IMD_BUILD.
set -uo pipefail
build=${IMD_BUILD:?}
mkdir -p "$build/tests/tmp"
work=$(mktemp -d "$build/tests/tmp/interrupt-XXXXXX")
trap 'rm -rf "$work"' EXIT
export TMPDIR=$work/tmpdir
mkdir -p "$TMPDIR" "$work/out"
# 20 time points x 40 slices of 256 x 256: 800 files, 105 MB.
"$build/examples/make_dicom_series" "$work/in" 20 40 256 >/dev/null || { echo "FAIL: make_dicom_series"; exit 1; }
passes=0 failures=0 finished=0 runs=0

# interrupt FORMAT OUTPUT SIGNAL EXPECTED DELAY
interrupt() {
    local format=$1 output=$2 signal=$3 expected=$4 delay=$5 got=0 why=""
    runs=$((runs + 1))
    "$build/cli/image_data" --of "$format" "$work/out/$output" "$work/in" \
        >"$work/stdout" 2>"$work/stderr" &
    local pid=$!
    sleep "$delay"
    kill -s "$signal" "$pid" 2>/dev/null
    wait "$pid" || got=$?
    if [ "$got" -eq 0 ]; then
        echo "note: $format after ${delay}s: finished before the $signal"
        finished=$((finished + 1))
        rm -rf "$work/out"/* "$TMPDIR"/*
        return
    fi
    if [ "$got" -ne "$expected" ]; then
        why="exit $got, expected $expected ($(head -1 "$work/stderr"))"
    elif [ -n "$(ls -A "$work/out")" ]; then
        why="left behind in the output folder: $(ls -A "$work/out" | head -3 | tr '\n' ' ')"
    elif [ -n "$(find "$work" -name '*.tmp-*' -print -quit)" ]; then
        why="temporary file left behind: $(find "$work" -name '*.tmp-*' | head -1)"
    elif [ -n "$(ls -A "$TMPDIR")" ]; then
        why="left behind in TMPDIR: $(ls -A "$TMPDIR" | head -3 | tr '\n' ' ')"
    elif ! grep -q "cancelled" "$work/stderr"; then
        why="no \"cancelled\" message: $(head -1 "$work/stderr")"
    fi
    rm -rf "$work/out"/* "$TMPDIR"/*
    if [ -n "$why" ]; then
        echo "FAIL: $format $signal after ${delay}s: $why"
        failures=$((failures + 1))
    else
        echo "ok: $format $signal after ${delay}s: exit $got"
        passes=$((passes + 1))
    fi
}

for delay in 0.1 0.3 0.6 1.0; do
    interrupt nifti out.nii.gz INT 130 "$delay"
    interrupt dicom dicom_out INT 130 "$delay"
    interrupt mat out.mat INT 130 "$delay"
    interrupt itk out.mha INT 130 "$delay"
done
interrupt nifti out.nii.gz TERM 143 0.5
interrupt dicom dicom_out HUP 129 0.8

echo "$passes passed, $failures failed, $finished finished before the signal (of $runs runs)"
if [ "$failures" -eq 0 ] && [ $((passes * 2)) -lt "$runs" ]; then
    echo "FAIL: fewer than half of the runs were interrupted: make the series larger"
    exit 1
fi
[ "$failures" -eq 0 ]
