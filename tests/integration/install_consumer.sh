#!/bin/bash
# Install the build tree into a fresh prefix and build a small consumer
# against the installed files only:
#   (a) a CMake project: find_package(imagedata) + imagedata::imagedata
#       (and imagedata::imagedata_static),
#   (b) plain cc with `pkg-config --cflags --libs imagedata`.
# The consumer checks imd_version(), a 3D series with an input order, a
# conversion to float32 and the JSON description, and exits 0 only if all is
# right. The installed file set is checked too.
# Environment (from tests/CMakeLists.txt): IMD_BUILD, IMD_SOURCE,
# IMD_C_COMPILER, IMD_SANITIZE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="${IMD_SOURCE:-$(cd "$here/../.." && pwd)}"
build_dir="${IMD_BUILD:-}"
if [[ -z "$build_dir" ]]; then
    echo "FAIL: IMD_BUILD is not set (run through ctest)"
    exit 1
fi
for tool in cmake pkg-config; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found"
        exit 77
    fi
done
cc="${IMD_C_COMPILER:-}"
if [[ -z "$cc" ]] || ! command -v "$cc" >/dev/null 2>&1; then
    cc="$(command -v cc || command -v gcc || command -v clang || true)"
fi
if [[ -z "$cc" ]]; then
    echo "SKIP: no C compiler found"
    exit 77
fi

sanitize_flags=()
case "${IMD_SANITIZE:-}" in
    ON | on | On | 1 | TRUE | true | True | YES | yes | Y | y)
        # As cmake/sanitizers.cmake builds the library.
        # shellcheck disable=SC2054 # the comma belongs to -fsanitize=
        sanitize_flags=(-fsanitize=address,undefined -fno-sanitize-recover=undefined
            -fno-omit-frame-pointer)
        ;;
esac
# Consumers link a sanitized library: make leaks and UB fatal, not noisy.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/imd-install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
ok() {
    echo "ok:   $*"
}

# ---- install ---------------------------------------------------------------------
echo "== cmake --install $build_dir --prefix $prefix"
if ! cmake --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: cmake --install failed"
    exit 1
fi

pc_file="$(find "$prefix" -name imagedata.pc -path '*/pkgconfig/*' -print -quit)"
if [[ -z "$pc_file" ]]; then
    echo "FAIL: imagedata.pc was not installed; installed files:"
    (cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/      /')
    exit 1
fi
pc_dir="$(dirname "$pc_file")"
libdir="$(dirname "$pc_dir")"
echo "   library dir: ${libdir#"$prefix"/}"

# ---- installed files -------------------------------------------------------------
echo "== installed files"
for header in "$source_dir"/include/imagedata/*.h version.h; do
    name="$(basename "$header")"
    if [[ -f "$prefix/include/imagedata/$name" ]]; then
        ok "include/imagedata/$name"
    else
        fail "include/imagedata/$name missing"
    fi
done
if grep -q '@PROJECT_VERSION' "$prefix/include/imagedata/version.h" 2>/dev/null; then
    fail "include/imagedata/version.h was not configured"
fi
for file in "$libdir/libimagedata.so" "$libdir/libimagedata.a" "$prefix/bin/image_info" \
    "$pc_file" "$libdir/cmake/imagedata/imagedata-config.cmake" \
    "$libdir/cmake/imagedata/imagedata-config-version.cmake" \
    "$libdir/cmake/imagedata/imagedataTargets.cmake"; do
    if [[ -e "$file" ]]; then
        ok "${file#"$prefix"/}"
    else
        fail "${file#"$prefix"/} missing"
    fi
done
soname_links=("$libdir"/libimagedata.so.*)
if [[ -e "${soname_links[0]}" ]]; then
    ok "$(for f in "${soname_links[@]}"; do printf '%s ' "${f#"$prefix"/}"; done)"
else
    fail "no versioned libimagedata.so.* installed"
fi
if [[ -x "$prefix/bin/image_info" ]]; then
    if command -v readelf >/dev/null 2>&1 &&
        readelf -d "$prefix/bin/image_info" | grep -E 'R(UN)?PATH' | grep -qF "$build_dir"; then
        fail "bin/image_info keeps an RPATH into the build tree"
    fi
    if out="$(LD_LIBRARY_PATH="$libdir" "$prefix/bin/image_info" --version 2>&1)"; then
        ok "bin/image_info --version: $out"
    else
        fail "bin/image_info --version failed: $out"
    fi
fi

# ---- the consumer ---------------------------------------------------------------
mkdir -p "$tmp/consumer"
cat >"$tmp/consumer/consumer.c" <<'EOF'
/* A program that uses imagedata as an installed package would. */
#include <imagedata/imagedata.h>

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "consumer: check failed: %s (line %d)\n", #cond, __LINE__); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

/* `json` with blanks removed contains `needle`. */
static int json_has(const char *json, const char *needle)
{
    char compact[8192];
    size_t n = 0;
    for (const char *p = json; *p != '\0' && n + 1 < sizeof compact; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r') {
            compact[n++] = *p;
        }
    }
    compact[n] = '\0';
    return strstr(compact, needle) != NULL;
}

int main(void)
{
    ImdError *error = NULL;

    /* The version: the library and the installed version.h agree. */
    const char *version = imd_version();
    CHECK(version != NULL);
    if (version != NULL) {
        printf("consumer: imd_version() = %s, version.h = %s\n", version, IMD_VERSION_STRING);
        CHECK(strcmp(version, IMD_VERSION_STRING) == 0);
    }

    /* A 3D (time, row, column) series of uint16. */
    const size_t shape[3] = {3, 4, 5};
    ImdSeries *series = imd_series_create(&error, IMD_DTYPE_UINT16, 3, shape);
    CHECK(series != NULL && error == NULL);
    if (series == NULL) {
        fprintf(stderr, "consumer: imd_series_create: %s\n", imd_error_message(error));
        imd_error_clear(&error);
        return 1;
    }
    CHECK(imd_series_ndim(series) == 3);
    CHECK(imd_series_count(series) == 60);
    CHECK(imd_series_nbytes(series) == 120);
    uint16_t *data = imd_series_data(series);
    for (size_t i = 0; i < 60; i++) {
        data[i] = (uint16_t)(i * 7);
    }

    /* The input order names the leading axis. */
    CHECK(imd_series_set_input_order(&error, series, "time"));
    CHECK(error == NULL);
    imd_error_clear(&error);
    CHECK(strcmp(imd_header_input_order(imd_series_const_header(series)), "time") == 0);
    CHECK(imd_series_find_axis(series, "time") == 0);
    /* Too many components fail with INVALID_ARG and change nothing. */
    CHECK(!imd_series_set_input_order(&error, series, "time,b,te,fa"));
    CHECK(imd_error_code(error) == IMD_ERR_INVALID_ARG);
    imd_error_clear(&error);
    CHECK(strcmp(imd_header_input_order(imd_series_const_header(series)), "time") == 0);

    /* Conversion to float32 keeps values, axes and header. */
    ImdSeries *converted = imd_series_convert(&error, series, IMD_DTYPE_FLOAT32);
    CHECK((converted == NULL) == (error != NULL));
    if (converted != NULL) {
        CHECK(imd_series_dtype(converted) == IMD_DTYPE_FLOAT32);
        CHECK(imd_series_nbytes(converted) == 240);
        CHECK(imd_series_dim(converted, 0) == 3 && imd_series_dim(converted, 1) == 4 &&
              imd_series_dim(converted, 2) == 5);
        const float *values = imd_series_const_data(converted);
        int same = 1;
        for (size_t i = 0; i < 60; i++) {
            same &= values[i] == (float)(i * 7);
        }
        CHECK(same);
        ImdStats stats;
        CHECK(imd_series_stats(&error, converted, &stats));
        CHECK(stats.min == 0.0 && stats.max == 413.0 && stats.sum == 12390.0);

        /* The JSON description. */
        char *json = imd_series_to_json(&error, converted, NULL, IMD_JSON_STATS);
        CHECK((json == NULL) == (error != NULL));
        if (json != NULL) {
            CHECK(json[0] == '{');
            CHECK(json_has(json, "\"shape\":[3,4,5]"));
            CHECK(json_has(json, "\"dtype\":\"float32\""));
            CHECK(json_has(json, "\"input_order\":\"time\""));
            CHECK(json_has(json, "{\"name\":\"time\""));
            CHECK(json_has(json, "\"max\":413"));
            if (failures != 0) {
                fprintf(stderr, "consumer: JSON: %s\n", json);
            }
            imd_free(json);
        }
        imd_series_destroy(converted);
    } else {
        fprintf(stderr, "consumer: imd_series_convert: %s\n", imd_error_message(error));
    }
    imd_error_clear(&error);
    imd_series_destroy(series);

    if (failures != 0) {
        fprintf(stderr, "consumer: %d checks failed\n", failures);
        return 1;
    }
    printf("consumer: all checks passed\n");
    return 0;
}
EOF

run_consumer() { # label program
    local label="$1" program="$2" out
    if out="$(LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$program" 2>&1)"; then
        ok "$label runs: $(printf '%s' "$out" | tail -n 1)"
    else
        fail "$label exited non-zero:"
        printf '%s\n' "$out" | sed 's/^/      /'
    fi
}

# (a) CMake: find_package(imagedata)
echo "== (a) CMake consumer: find_package(imagedata REQUIRED)"
mkdir -p "$tmp/cmake-project"
cp "$tmp/consumer/consumer.c" "$tmp/cmake-project/"
cat >"$tmp/cmake-project/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.20)
project(imagedata_consumer LANGUAGES C)
set(CMAKE_C_STANDARD 11)
set(CMAKE_C_STANDARD_REQUIRED ON)
find_package(imagedata REQUIRED)
message(STATUS "imagedata_DIR=${imagedata_DIR}")
message(STATUS "imagedata_VERSION=${imagedata_VERSION}")
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE imagedata::imagedata)
add_executable(consumer_static consumer.c)
target_link_libraries(consumer_static PRIVATE imagedata::imagedata_static)
EOF
cmake_args=(-S "$tmp/cmake-project" -B "$tmp/cmake-build"
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if [[ "${#sanitize_flags[@]}" -gt 0 ]]; then
    cmake_args+=(-DCMAKE_C_FLAGS="${sanitize_flags[*]}"
        -DCMAKE_EXE_LINKER_FLAGS="${sanitize_flags[*]}")
fi
if cmake "${cmake_args[@]}" >"$tmp/cmake-configure.log" 2>&1; then
    found_dir="$(sed -n 's/^-- imagedata_DIR=//p' "$tmp/cmake-configure.log")"
    case "$found_dir" in
        "$prefix"/*)
            ok "find_package found ${found_dir#"$prefix"/} (version $(sed -n 's/^-- imagedata_VERSION=//p' "$tmp/cmake-configure.log"))"
            ;;
        *) fail "find_package(imagedata) found $found_dir, not the fresh install" ;;
    esac
    if cmake --build "$tmp/cmake-build" >"$tmp/cmake-build.log" 2>&1; then
        ok "consumer and consumer_static built with imagedata::imagedata(_static)"
        run_consumer "CMake consumer (shared)" "$tmp/cmake-build/consumer"
        run_consumer "CMake consumer (static)" "$tmp/cmake-build/consumer_static"
        if command -v ldd >/dev/null 2>&1; then
            resolved="$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/cmake-build/consumer" |
                awk '/libimagedata/ { print $3 }')"
            case "$resolved" in
                "$prefix"/*) ok "consumer loads ${resolved#"$prefix"/}" ;;
                *) fail "consumer loads libimagedata from '$resolved', not the install" ;;
            esac
        fi
    else
        fail "building the CMake consumer failed:"
        sed 's/^/      /' "$tmp/cmake-build.log"
    fi
else
    fail "configuring the CMake consumer failed:"
    sed 's/^/      /' "$tmp/cmake-configure.log"
fi

# (b) pkg-config
echo "== (b) pkg-config consumer: cc \$(pkg-config --cflags --libs imagedata)"
export PKG_CONFIG_PATH="$pc_dir"
pc_prefix="$(pkg-config --variable=prefix imagedata)"
pc_args=()
# imagedata.pc derives its prefix from its own location (${pcfiledir}), so an
# install moved with --prefix or DESTDIR must still point inside it.
if [[ -d "$pc_prefix" && "$(cd "$pc_prefix" && pwd -P)" == "$(cd "$prefix" && pwd -P)" ]]; then
    ok "pkg-config prefix is relocatable ($pc_prefix)"
else
    fail "pkg-config prefix $pc_prefix is not the install prefix $prefix"
fi
for variable in includedir libdir; do
    value="$(pkg-config "${pc_args[@]}" --variable="$variable" imagedata)"
    real="$(cd "$value" 2>/dev/null && pwd -P || echo "$value")"
    case "$real" in
        "$(cd "$prefix" && pwd -P)"/*) ok "pkg-config $variable resolves inside the prefix" ;;
        *) fail "pkg-config $variable = $value, outside the install prefix" ;;
    esac
done
pc_version="$(pkg-config --modversion imagedata)"
header_version="$(sed -n 's/^#define IMD_VERSION_STRING "\(.*\)"/\1/p' \
    "$prefix/include/imagedata/version.h")"
if [[ "$pc_version" == "$header_version" ]]; then
    ok "pkg-config --modversion = $pc_version = IMD_VERSION_STRING"
else
    fail "pkg-config --modversion $pc_version differs from version.h $header_version"
fi
if pc_flags="$(pkg-config "${pc_args[@]}" --cflags --libs imagedata 2>"$tmp/pc.err")"; then
    echo "   flags: $pc_flags"
    # shellcheck disable=SC2086 # pkg-config output is a word list
    if "$cc" -std=c11 -Wall -Wextra -Werror "${sanitize_flags[@]}" \
        "$tmp/consumer/consumer.c" -o "$tmp/consumer/consumer" $pc_flags \
        >"$tmp/pc-build.log" 2>&1; then
        ok "pkg-config consumer built"
        run_consumer "pkg-config consumer" "$tmp/consumer/consumer"
    else
        fail "building the pkg-config consumer failed:"
        sed 's/^/      /' "$tmp/pc-build.log"
    fi
else
    fail "pkg-config --cflags --libs imagedata failed: $(cat "$tmp/pc.err")"
fi

if [[ "$failures" -gt 0 ]]; then
    echo "FAILED: $failures check(s)"
    exit 1
fi
echo "PASS: the installed package works with CMake and pkg-config"
