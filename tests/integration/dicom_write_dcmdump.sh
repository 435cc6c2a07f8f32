#!/usr/bin/env bash
# dcmtk's dcmdump (an independent reader) reads what our writer writes
# without a warning or error: every pydicom test file that has no encapsulated
# pixel data is rewritten by us (explicit and implicit VR) and dumped.
set -euo pipefail
build=${IMD_BUILD:?}
rewrite="$build/tests/dicom_rewrite"
data=/usr/lib/python3/dist-packages/pydicom/data
if ! command -v dcmdump >/dev/null; then
    echo "SKIP: dcmdump not installed (Debian package dcmtk)"
    exit 77
fi
if [ ! -d "$data/test_files" ]; then
    echo "SKIP: pydicom's test files not installed (python3-pydicom)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passes=0 failures=0
warnings_of() { dcmdump "$@" 2>&1 >/dev/null | grep -cE '^(W|E|F):' || true; }
for file in "$data"/test_files/*.dcm "$data"/charset_files/*.dcm; do
    name=$(basename "$file")
    ts=$(dcmdump +P 0002,0010 "$file" 2>/dev/null | grep -o '=[A-Za-z0-9]*' | head -1 || true)
    case "$ts" in =JPEG* | =RLE* | =JPEGLS* | =JPEG2000* | =Deflated*) continue ;; esac
    for mode in explicit implicit; do
        out="$tmp/$mode-$name"
        args=()
        [ "$mode" = implicit ] && args=(--implicit)
        if ! "$rewrite" "${args[@]}" "$file" "$out" 2>"$tmp/err"; then
            grep -q "needs SOPClassUID and SOPInstanceUID" "$tmp/err" && continue
            grep -q "not a DICOM file" "$tmp/err" && continue
            echo "FAIL: $name ($mode): $(cat "$tmp/err")"
            failures=$((failures + 1))
            continue
        fi
        after=$(warnings_of "$out")
        if ! dcmdump "$out" >/dev/null 2>&1; then
            echo "FAIL: $name ($mode): dcmdump cannot read our file"
            dcmdump "$out" 2>&1 | grep -E '^(W|E|F):' | head -3
            failures=$((failures + 1))
        elif [ "$after" -gt 0 ]; then
            echo "FAIL: $name ($mode): dcmdump warns $after times on our file"
            dcmdump "$out" 2>&1 >/dev/null | grep -E '^(W|E|F):' | head -3
            failures=$((failures + 1))
        else
            passes=$((passes + 1))
        fi
    done
done
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ] && [ "$passes" -gt 50 ]
