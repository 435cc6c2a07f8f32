#!/usr/bin/env bash
# The README's main job (scripts/demo.sh, what `./run.sh demo` runs) on this
# build, with its default relative output folder, from a scratch working
# directory: it must end with the round-trip line and exit 0. (A relative
# output path once broke its own comparison: the summaries' first lines.)
set -euo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
bash "$source_dir/scripts/demo.sh" "$build" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
grep -q "demo: DICOM -> NIfTI -> DICOM gives the original's patient, study, shape, geometry" "$tmp/log"
test "$(find out/demo/dicom_result -name '*.dcm' | wc -l)" -eq 48
echo "demo: passed, 48 DICOM files written back from NIfTI"
