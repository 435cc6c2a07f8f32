#!/usr/bin/env bash
# Our Siemens CSA parser (src/dicom/csa.c, through tests/tools/csa_dump)
# against nibabel's csareader and ascconv parser, the oracle: every CSA header
# of nibabel's test data and of the Siemens folders of ../shared/data/dcm_qa_dev
# (dcm_qa_stc/In/Siemens: B12 B13 B17 D13 E11 E11_2D mosaics and DWI, XA10;
# dcm_qa_fmap/In/Siemens), tag by tag, plus the ImdSiemensImage summary and
# every ASCCONV protocol key. csa_nibabel.py documents each rule.
# Skips (77) without a Python with nibabel; without ../shared it still
# compares nibabel's data, then skips (77) saying so.
set -uo pipefail
build=${IMD_BUILD:?}
source_dir=${IMD_SOURCE:?}
python=${IMD_PYTHON:-}
dump="$build/tests/csa_dump"
if [ -z "$python" ] || [ ! -x "$python" ]; then
    echo "SKIP: IMD_PYTHON is not set (nibabel is the oracle)"
    exit 77
fi
if ! "$python" -c 'import nibabel.nicom.csareader, pydicom' 2>/dev/null; then
    echo "SKIP: nibabel or pydicom is not installed for $python"
    exit 77
fi
shared="$source_dir/../shared/data/dcm_qa_dev"
if [ ! -d "$shared/dcm_qa_stc/In/Siemens" ] || [ ! -d "$shared/dcm_qa_fmap/In/Siemens" ]; then
    "$python" "$source_dir/tests/integration/csa_nibabel.py" "$dump" || exit 1
    echo "SKIP: $shared (dcm_qa_stc, dcm_qa_fmap) is missing: only nibabel's own data was compared"
    exit 77
fi
"$python" "$source_dir/tests/integration/csa_nibabel.py" "$dump" "$shared"
