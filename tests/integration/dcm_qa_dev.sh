#!/usr/bin/env bash
# Real scanner folders (issue 13): image_data --of nifti on each
# ../shared/data/dcm_qa_dev/<repo>/In, every dcm2niix reference in Ref/ matched
# by content with nibabel + numpy (the data README's rule); what does not match
# yet is listed with its reason in dcm_qa_dev_expected.txt. The work is done by
# dcm_qa_dev.py (run it alone with --build BUILD [--repo R] [--keep OUT]).
# Skips (77) without the data, without $IMD_PYTHON, or without nibabel/numpy.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
python=${IMD_PYTHON:-}
data="$source_dir/../shared/data/dcm_qa_dev"
if [ ! -d "$data" ]; then
    echo "SKIP: the dcm_qa_dev data is missing (expected $data)"
    exit 77
fi
if [ -z "$python" ] || [ ! -x "$python" ]; then
    echo "SKIP: IMD_PYTHON is not set (a Python with nibabel and numpy is the oracle)"
    exit 77
fi
if ! "$python" -c 'import numpy, nibabel' 2>/dev/null; then
    echo "SKIP: numpy or nibabel is not installed for $python"
    exit 77
fi
exec "$python" "$source_dir/tests/integration/dcm_qa_dev.py" --build "$build" --data "$data" "$@"
