#!/usr/bin/env bash
# The main job on sample data the project makes itself (no ../shared needed):
# 1. a synthetic 4D MR series (4 time points x 12 oblique slices) is written
#    as DICOM files by examples/make_dicom_series (our DICOM writer);
# 2. image_info reads the folder back: parses the headers in parallel, sorts
#    the slices along the normal and the volumes by acquisition time, and
#    describes the 4D series (summary and JSON);
# 3. image_data converts the series to NIfTI (series.nii.gz), read back;
# 4. a phantom goes through a run-time format plugin into a zip and back.
# When DICOM writing of series lands, step 3 goes on: NIfTI -> DICOM.
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
plugin="$build/plugins/example_raw/imd_example_raw.so"
"$build/examples/phantom" "$plugin" "$out/phantom.zip?phantom/Image.imdraw"
"$build/cli/image_info" --plugin "$plugin" "$out/phantom.zip"
echo "demo: wrote $out/dicom (48 DICOM files), $out/dicom.json, $out/series.nii.gz and $out/phantom.zip"
