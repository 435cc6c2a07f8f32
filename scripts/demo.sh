#!/usr/bin/env bash
# The main job on sample data the project makes itself (no ../shared needed).
# Today: a synthetic 4D phantom is written through the external example
# format plugin into a zip archive, read back and compared voxel for voxel,
# then described by image_info (summary and JSON). When the DICOM and NIfTI
# plugins land, this becomes: generated DICOM series -> NIfTI -> DICOM.
set -euo pipefail
build=${1:-build-release}
out=${IMD_DEMO_OUT:-out/demo}
plugin="$build/plugins/example_raw/imd_example_raw.so"
rm -rf "$out"
mkdir -p "$out"
"$build/examples/phantom" "$plugin" "$out/phantom.zip?phantom/Image.imdraw"
"$build/cli/image_info" --plugin "$plugin" --stats "$out/phantom.zip"
"$build/cli/image_info" --plugin "$plugin" --json "$out/phantom.zip" > "$out/phantom.json"
echo "demo: wrote $out/phantom.zip and its description $out/phantom.json"
