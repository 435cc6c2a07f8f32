#!/usr/bin/env bash
# Build every fuzz target with clang (libFuzzer + ASan + UBSan) and run each
# for SECONDS, then print a table: target, executions, coverage (libFuzzer's
# "cov:" edges at the end), and findings (crash-*, leak-*, timeout-*, oom-*
# files written). Findings are kept under BUILD/fuzz-findings/<target>/;
# copy each to tests/data/crashers/<target>-<hash> with its fix.
#
#   fuzz/run_all.sh SECONDS [TARGET...]
#
# Environment: BUILD (default build-fuzz), JOBS (parallel targets, default 1),
# FUZZ_MAX_LEN (default 16384), RUNS (stop a target after this many executions
# as well, e.g. 10000000 for issue 22's bar; SECONDS stays the time cap). Needs clang and libclang-rt-14-dev.
set -euo pipefail
seconds=${1:?usage: fuzz/run_all.sh SECONDS [TARGET...]}
shift
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$source_dir/build-fuzz}
max_len=${FUZZ_MAX_LEN:-16384}
runs=${RUNS:--1}
jobs=${JOBS:-1}
command -v clang >/dev/null || { echo "run_all.sh: clang not found (apt-get install clang libclang-rt-14-dev)"; exit 77; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    # The list in fuzz/CMakeLists.txt: set(IMD_FUZZ_TARGETS a b ...\n    c d)
    list=$(sed -n '/^set(IMD_FUZZ_TARGETS/,/)/p' "$source_dir/fuzz/CMakeLists.txt" |
        sed 's/^set(IMD_FUZZ_TARGETS//; s/)//' | tr '\n' ' ')
    read -r -a targets <<<"$list"

fi
cmake -S "$source_dir" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIMD_BUILD_FUZZERS=ON -DIMD_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}" >/dev/null

run_one() {
    local target=$1 work=$build/fuzz-runs/$target findings=$build/fuzz-findings/$target
    rm -rf "$work"
    mkdir -p "$work/corpus" "$findings" "$work/tmp"
    cp "$source_dir/fuzz/corpus/$target/"* "$work/corpus/" 2>/dev/null || true
    # Every crasher kept so far is a seed too: it must not crash any more.
    cp "$source_dir/tests/data/crashers/$target-"* "$work/corpus/" 2>/dev/null || true
    (cd "$findings" && TMPDIR=$work/tmp "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -runs="$runs" \
        -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 "$work/corpus" >"$work/log" 2>&1) || true
}

for target in "${targets[@]}"; do
    if [ "$jobs" -gt 1 ]; then
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
        run_one "$target" &
    else
        run_one "$target"
    fi
done
wait

printf '%-16s %12s %8s %8s  %s\n' target execs cov findings "exec/s"
for target in "${targets[@]}"; do
    log=$build/fuzz-runs/$target/log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    found=$(find "$build/fuzz-findings/$target" -maxdepth 1 -type f \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    printf '%-16s %12s %8s %8s  %s\n' "$target" "${execs:-?}" "${cov:-?}" "$found" "${speed:-?}"
done
