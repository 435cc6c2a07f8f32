#!/bin/bash
# Each public header compiles on its own (design.md §3.11):
#   - as C11 with -Wall -Wextra -Wpedantic -Werror,
#   - as C++17 with the same warnings (skipped loudly without a C++ compiler),
# for include/imagedata/*.h and the generated $IMD_BUILD/include/imagedata/version.h.
# Also compiles tests/abi/plugin_layout.c, which pins the plugin ABI (§3.8)
# with _Static_assert.
# Environment (from tests/CMakeLists.txt): IMD_BUILD, IMD_SOURCE, IMD_C_COMPILER.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
build_dir="${IMD_BUILD:-}"
if [[ -z "$build_dir" ]]; then
    echo "FAIL: IMD_BUILD is not set (run through ctest)"
    exit 1
fi

cc="${IMD_C_COMPILER:-}"
if [[ -z "$cc" ]] || ! command -v "$cc" >/dev/null 2>&1; then
    cc="$(command -v cc || command -v gcc || command -v clang || true)"
fi
if [[ -z "$cc" ]]; then
    echo "SKIP: no C compiler found"
    exit 77
fi
cxx=""
for candidate in "${CXX:-}" c++ g++ clang++; do
    if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1; then
        cxx="$(command -v "$candidate")"
        break
    fi
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/imd-headers.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

include_flags=(-I"$source_dir/include" -I"$build_dir/include")
warn_flags=(-Wall -Wextra -Wpedantic -Werror)

headers=()
for header in "$source_dir"/include/imagedata/*.h; do
    headers+=("$(basename "$header")")
done
generated="$build_dir/include/imagedata/version.h"
if [[ ! -f "$generated" ]]; then
    echo "FAIL: generated header missing: $generated"
    exit 1
fi
have_version=0
for name in "${headers[@]}"; do
    [[ "$name" == version.h ]] && have_version=1
done
if [[ "$have_version" == 0 ]]; then
    headers+=(version.h)
fi
if [[ "${#headers[@]}" -lt 2 ]]; then
    echo "FAIL: no public headers found under $source_dir/include/imagedata"
    exit 1
fi

echo "C compiler:   $cc"
echo "C++ compiler: ${cxx:-none}"
failed=()

for name in "${headers[@]}"; do
    tu_c="$tmp/${name%.h}_alone.c"
    tu_cxx="$tmp/${name%.h}_alone.cpp"
    # The include plus one declaration: ISO C forbids an empty translation
    # unit, which a macro-only header such as version.h would otherwise leave.
    printf '#include <imagedata/%s>\ntypedef int imd_header_alone_check;\n' "$name" >"$tu_c"
    cp "$tu_c" "$tu_cxx"

    if "$cc" -std=c11 "${warn_flags[@]}" "${include_flags[@]}" -fsyntax-only "$tu_c" \
        >"$tmp/out.txt" 2>&1; then
        echo "ok:   C11    <imagedata/$name>"
    else
        echo "FAIL: C11    <imagedata/$name> does not compile alone:"
        sed 's/^/      /' "$tmp/out.txt"
        failed+=("$name (C11)")
    fi

    if [[ -n "$cxx" ]]; then
        if "$cxx" -x c++ -std=c++17 "${warn_flags[@]}" "${include_flags[@]}" -fsyntax-only \
            "$tu_cxx" >"$tmp/out.txt" 2>&1; then
            echo "ok:   C++17  <imagedata/$name>"
        else
            echo "FAIL: C++17  <imagedata/$name> does not compile alone:"
            sed 's/^/      /' "$tmp/out.txt"
            failed+=("$name (C++17)")
        fi
    fi
done
if [[ -z "$cxx" ]]; then
    echo "WARNING: no C++ compiler (c++, g++, clang++): the C++ half of this check was SKIPPED"
fi

# The plugin ABI layout pins (tests/abi/plugin_layout.c).
layout="$source_dir/tests/abi/plugin_layout.c"
if [[ ! -f "$layout" ]]; then
    echo "FAIL: $layout is missing"
    failed+=("tests/abi/plugin_layout.c (missing)")
elif "$cc" -std=c11 "${warn_flags[@]}" "${include_flags[@]}" -fsyntax-only "$layout" \
    >"$tmp/out.txt" 2>&1; then
    echo "ok:   plugin ABI layout (tests/abi/plugin_layout.c)"
else
    echo "FAIL: plugin ABI layout changed (tests/abi/plugin_layout.c):"
    sed 's/^/      /' "$tmp/out.txt"
    echo "      A descriptor layout change needs an IMD_PLUGIN_ABI_VERSION bump;"
    echo "      error codes and dtype values are never renumbered."
    failed+=("tests/abi/plugin_layout.c")
fi

if [[ "${#failed[@]}" -gt 0 ]]; then
    echo "FAILED (${#failed[@]}):"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
echo "PASS: ${#headers[@]} headers compile alone${cxx:+ as C11 and C++17}; ABI layout pinned"
