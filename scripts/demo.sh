#!/usr/bin/env bash
# The main job on sample data the project makes itself (no ../shared needed):
# 1. a synthetic 4D MR series (4 time points x 12 oblique slices) is written
#    as DICOM files by examples/make_dicom_series (our DICOM writer);
# 2. image_info reads the folder back: parses the headers in parallel, sorts
#    the slices along the normal and the volumes by acquisition time, and
#    describes the 4D series (summary and JSON);
# 3. image_data converts the series to NIfTI (series.nii.gz), read back;
# 4. the NIfTI goes back to DICOM with the original series as template
#    (same patient and study, new series and instance UIDs), read back and
#    compared with the original (voxels, geometry, tags);
# 5. a phantom goes through a run-time format plugin into a zip and back;
# 6. the original README's Python example (python/, docs/python.md) on it.
set -euo pipefail
build=${1:-build-release}
out=${IMD_DEMO_OUT:-out/demo}
rm -rf "$out"
mkdir -p "$out"
"$build/examples/make_dicom_series" "$out/dicom" 4 12 64
"$build/cli/image_info" --stats "$out/dicom"
"$build/cli/image_info" --json "$out/dicom" > "$out/dicom.json"
# DICOM -> NIfTI with the geometry dcm2niix writes, then read back.
"$build/cli/image_data" --of nifti "$out/series.nii.gz" "$out/dicom"
"$build/cli/image_info" "$out/series.nii.gz"
# NIfTI -> DICOM, the original series as template; the result describes like the original.
"$build/cli/image_data" --of dicom --template "$out/dicom" --serdes "from NIfTI" \
    "$out/dicom_result" "$out/series.nii.gz"
"$build/cli/image_info" --stats "$out/dicom_result"
# The summaries (patient, study, shape, order, spacing, orientation, voxel
# statistics; numbers to 6 digits) agree, apart from the series description.
"$build/cli/image_info" --stats "$out/dicom" | tail -n +2 | grep -v 'Series:' > "$out/a.txt"
"$build/cli/image_info" --stats "$out/dicom_result" | tail -n +2 | grep -v 'Series:' > "$out/b.txt"
if ! diff "$out/a.txt" "$out/b.txt" >&2; then
    echo "demo: the DICOM written from NIfTI differs from the original (above)" >&2
    exit 1
fi
echo "demo: DICOM -> NIfTI -> DICOM gives the original's patient, study, shape, geometry and voxels"
plugin="$build/plugins/example_raw/imd_example_raw.so"
"$build/examples/phantom" "$plugin" "$out/phantom.zip?phantom/Image.imdraw"
"$build/cli/image_info" --plugin "$plugin" "$out/phantom.zip"
bash "$(dirname "$0")/demo_python.sh" "$build" "$out/dicom" "$out/python"
echo "demo: wrote $out/dicom (48 DICOM files), $out/dicom.json, $out/series.nii.gz," \
    "$out/dicom_result (48 DICOM files) and $out/phantom.zip"
