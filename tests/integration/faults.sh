#!/usr/bin/env bash
# Fault injection (issue 16 item 6): in a build configured with
# -DIMD_FAULT_INJECTION=ON -DIMD_SANITIZE=ON, every allocation and every write
# of each scenario's clean run fails once, one run per N; faults.py checks
# each run (no sanitizer report, no leak, an error that gives the reason,
# nothing left behind, or the clean run's output). docs/fuzzing.md.
# Environment (tests/CMakeLists.txt): IMD_BUILD, IMD_SOURCE, IMD_PYTHON.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
python=${IMD_PYTHON:-/usr/bin/python3}
if ! "$python" -c "import pydicom, nibabel, scipy, numpy" 2>/dev/null; then
    echo "SKIP: $python lacks pydicom, nibabel, scipy or numpy (needed to make the inputs)"
    exit 77
fi
if [ ! -x "$build/cli/image_data" ]; then
    echo "FAIL: $build/cli/image_data is missing"
    exit 1
fi
mkdir -p "$build/tests/tmp"
work=$(mktemp -d "$build/tests/tmp/faults-XXXXXX")
trap 'rm -rf "$work"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
"$python" "$source_dir/tests/integration/faults.py" --jobs "$jobs" "$build" "$work"
