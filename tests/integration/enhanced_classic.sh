#!/usr/bin/env bash
# Classic and enhanced exports of one acquisition read the same (issue 15 item 2).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build=${IMD_BUILD:?}
python=${IMD_PYTHON:-/usr/bin/python3}
data="${IMD_SOURCE:-$here/../..}/../shared/data/dcm_qa_dev"
if [ ! -x "$python" ]; then echo "SKIP: no /usr/bin/python3"; exit 77; fi
exec "$python" "$here/enhanced_classic.py" "$build/cli/image_data" "$build/cli/image_info" "$data"
