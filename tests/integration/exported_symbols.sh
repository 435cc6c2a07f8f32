#!/bin/bash
# The shared library exports exactly the public API (design.md §3.11):
#  1. the defined text symbols (nm -D --defined-only, type T) of
#     $IMD_BUILD/src/libimagedata.so, sorted, equal tests/abi/exported_symbols.txt;
#  2. every exported function is declared IMD_API in include/imagedata/*.h and
#     every IMD_API function declared there is exported;
#  3. nothing else of ours is exported: no data symbols, no imd__ internals,
#     no name without the imd_ prefix (sanitizer runtimes' own symbols are
#     tolerated in IMD_SANITIZE builds only).
# Environment (from tests/CMakeLists.txt): IMD_BUILD, IMD_SOURCE, IMD_SANITIZE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
build_dir="${IMD_BUILD:-}"
if [[ -z "$build_dir" ]]; then
    echo "FAIL: IMD_BUILD is not set (run through ctest)"
    exit 1
fi
if ! command -v nm >/dev/null 2>&1; then
    echo "SKIP: nm (binutils) not found"
    exit 77
fi
if ! command -v perl >/dev/null 2>&1; then
    echo "SKIP: perl not found (needed to read the headers)"
    exit 77
fi

library="$build_dir/src/libimagedata.so"
expected="$source_dir/tests/abi/exported_symbols.txt"
if [[ ! -e "$library" ]]; then
    echo "FAIL: $library not found (build the imagedata target first)"
    exit 1
fi
if [[ ! -f "$expected" ]]; then
    echo "FAIL: $expected is missing"
    exit 1
fi

case "${IMD_SANITIZE:-}" in
    ON | on | On | 1 | TRUE | true | True | YES | yes | Y | y) sanitize=1 ;;
    *) sanitize=0 ;;
esac

tmp="$(mktemp -d "${TMPDIR:-/tmp}/imd-symbols.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# "TYPE NAME" for every defined dynamic symbol; version suffixes (@...) dropped.
nm -D --defined-only "$library" |
    awk 'NF >= 2 { name = $NF; sub(/@.*/, "", name); print $(NF - 1), name }' |
    sort -u >"$tmp/all.txt"
awk '$1 == "T" { print $2 }' "$tmp/all.txt" | LC_ALL=C sort -u >"$tmp/actual.txt"
grep -v '^[[:space:]]*\(#\|$\)' "$expected" | LC_ALL=C sort -u >"$tmp/expected.txt"

status=0
echo "checking $library"
echo "  $(wc -l <"$tmp/actual.txt") exported functions, $(wc -l <"$tmp/expected.txt") expected"

# 1. The list of exported functions.
if diff -u "$tmp/expected.txt" "$tmp/actual.txt" >"$tmp/diff.txt"; then
    echo "ok:   exported functions equal tests/abi/exported_symbols.txt"
else
    echo "FAIL: exported functions differ from tests/abi/exported_symbols.txt"
    echo "      ('-' expected but not exported, '+' exported but not expected):"
    tail -n +3 "$tmp/diff.txt" | grep '^[-+]' | sed 's/^/      /'
    echo "      If the change is intended, update tests/abi/exported_symbols.txt on purpose:"
    echo "        nm -D --defined-only \"$library\" | awk '\$2 == \"T\" {print \$3}' | LC_ALL=C sort"
    status=1
fi

# 2. Against the IMD_API declarations of the public headers (comments removed;
#    the name is the last identifier before the parameter list).
perl -0777 -ne '
    s{/\*.*?\*/}{ }gs;
    s{//[^\n]*}{}g;
    while (/\bIMD_API\b[^;(#{}]*?\b(imd_\w+)\s*\(/g) { print "$1\n"; }
' "$source_dir"/include/imagedata/*.h | LC_ALL=C sort -u >"$tmp/declared.txt"
echo "  $(wc -l <"$tmp/declared.txt") IMD_API functions declared in include/imagedata/*.h"
missing="$(LC_ALL=C comm -23 "$tmp/declared.txt" "$tmp/actual.txt")"
extra="$(LC_ALL=C comm -13 "$tmp/declared.txt" "$tmp/actual.txt")"
if [[ -n "$missing" ]]; then
    echo "FAIL: declared IMD_API in a public header but not exported (no implementation,"
    echo "      or IMD_API missing on the definition):"
    printf '%s\n' "$missing" | sed 's/^/      /'
    status=1
fi
if [[ -n "$extra" ]]; then
    echo "FAIL: exported but not declared IMD_API in any public header:"
    printf '%s\n' "$extra" | sed 's/^/      /'
    status=1
fi
if [[ -z "$missing" && -z "$extra" ]]; then
    echo "ok:   exported functions equal the IMD_API declarations of the public headers"
fi

# 3. Nothing else leaks: internal imd__ helpers, other prefixes, data symbols.
#    Toolchain markers and, in sanitizer builds, the runtimes' symbols are fine.
toolchain='^(_init|_fini|_edata|_end|__bss_start|_DYNAMIC|_GLOBAL_OFFSET_TABLE_)$'
sanitizer_runtime='^(__asan|__ubsan|__lsan|__sanitizer|__interceptor|__interception|___interceptor|__odr_asan)'
: >"$tmp/leaks.txt"
while read -r type name; do
    [[ "$type" == A ]] && continue # version definition nodes
    [[ "$name" =~ $toolchain ]] && continue
    if [[ "$sanitize" == 1 && "$name" =~ $sanitizer_runtime ]]; then
        continue
    fi
    if [[ "$name" == imd__* ]]; then
        echo "$type $name (internal imd__ helper)" >>"$tmp/leaks.txt"
    elif [[ "$name" != imd_* ]]; then
        echo "$type $name (not imd_-prefixed)" >>"$tmp/leaks.txt"
    elif [[ "$type" != T ]]; then
        echo "$type $name (exported non-function symbol)" >>"$tmp/leaks.txt"
    fi
done <"$tmp/all.txt"
if [[ -s "$tmp/leaks.txt" ]]; then
    echo "FAIL: symbols exported that are not public imd_ functions (give them hidden"
    echo "      visibility: no IMD_API, or static):"
    sed 's/^/      /' "$tmp/leaks.txt"
    status=1
else
    echo "ok:   no imd__ internals, data symbols or foreign names exported"
fi

if [[ "$status" != 0 ]]; then
    echo "FAILED: the exported ABI of libimagedata.so changed"
    exit "$status"
fi
echo "PASS: libimagedata.so exports exactly the public API"
