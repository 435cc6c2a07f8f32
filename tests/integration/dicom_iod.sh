#!/bin/bash
# Issue 23 item 3: what we write is a valid instance of its IOD. dciodvfy
# (Debian dicom3tools) must report no error on DICOM written as MR, CT and
# Secondary Capture without a template, and with the original series as
# template (3D and 4D); its warnings are printed (docs/dicom-writing.md
# lists them with the reason).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
build="${IMD_BUILD:?run through ctest}"
data="$source_dir/../shared/data/imagedata/dicom/time"
if ! command -v dciodvfy >/dev/null; then
    echo "SKIP: dciodvfy not found (apt-get install dicom3tools)"
    exit 77
fi
if [[ ! -d "$data" ]]; then
    echo "SKIP: $data not found (the ../shared reference data is absent)"
    exit 77
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/imd-iod.XXXXXX")"
trap 'rm -rf "$work"' EXIT
run() { "$build/cli/image_data" "$@" 2>>"$work/log"; }
run --of nifti "$work/v3" "$data/time00"
run --of nifti --order time "$work/v4" "$data"
failures=0
check() { # NAME FOLDER
    local files=0 errors=0
    while IFS= read -r -d '' f; do
        files=$((files + 1))
        out="$(dciodvfy "$f" 2>&1 || true)"
        if grep -q '^Error' <<<"$out"; then
            errors=$((errors + 1))
            [[ $errors -le 2 ]] && { echo "FAIL: $1: $f:"; grep '^Error' <<<"$out"; }
        fi
        grep '^Warning' <<<"$out" >>"$work/warnings-$1" || true
    done < <(find "$2" -name '*.dcm' -print0)
    if [[ $files -eq 0 || $errors -gt 0 ]]; then
        echo "FAIL: $1: $errors of $files files with dciodvfy errors"
        failures=$((failures + 1))
    else
        echo "ok: $1: $files files, no dciodvfy error; warnings:"
        sort "$work/warnings-$1" 2>/dev/null | uniq -c | sed 's/^/    /' || true
    fi
}
for sop in MR CT SC; do
    run --of dicom --SOPClassUID "$sop" "$work/$sop" "$work/v3.nii.gz"
    check "$sop-no-template" "$work/$sop"
done
run --of dicom --template "$data/time00" --sernum 1004 --serdes 'Processed data' \
    "$work/t3" "$work/v3.nii.gz"
check "MR-template-3D" "$work/t3"
run --of dicom --template "$data" --order time "$work/t4" "$work/v4.nii.gz"
check "MR-template-4D" "$work/t4"
exit $((failures > 0))
