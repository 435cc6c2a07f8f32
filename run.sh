#!/usr/bin/env bash
# The project's two set-up commands (README.md):
#   ./run.sh demo   install what is needed, build, run the main job on generated sample data
#   ./run.sh test   install what is needed, build with ASan+UBSan, run every test
#   ./run.sh bench  install the anchors (dcm2niix, pydicom, nibabel), build Release,
#                   run bench/run_all.py (about 5 minutes; bench/README.md)
# Needs Debian 12 and root or sudo for apt-get. Installing is idempotent and
# quiet when everything is present.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_PACKAGES=(gcc make cmake ninja-build pkg-config zlib1g-dev libzip-dev libmatio-dev
                libjpeg62-turbo-dev libgdcm-dev libcharls-dev libopenjp2-7-dev libpng-dev libtiff-dev
                python3-dev python3-venv python3-pip python3-setuptools python3-wheel python3-numpy
                libsdl2-dev libsdl2-ttf-dev fonts-dejavu-core libssl-dev
                python3-dask python3-distributed python3-tqdm)
# Test oracles and tools: pydicom (its ~85 DICOM files and its JSON model are
# the oracle for the DICOM parser and reader), nibabel and numpy (read every
# NIfTI file we write), dcmtk's dcmdump (reads what we write), Python's json
# for image_info --json, unzip to check our zips, g++ to check that the
# headers compile as C++.
TEST_PACKAGES=(python3 python3-pydicom python3-nibabel python3-numpy python3-scipy python3-h5py
               dcmtk libgdcm-tools python3-pil unzip g++ valgrind grokj2k-tools dicom3tools
               ghostscript python3-pytest orthanc xvfb xdotool)

install_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "run.sh: installing ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

jobs=$(nproc 2>/dev/null || echo 2)

case "${1:-}" in
demo)
    install_packages "${BUILD_PACKAGES[@]}"
    cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMD_BUILD_TESTS=OFF >/dev/null
    cmake --build build-release -j "$jobs"
    scripts/demo.sh build-release
    ;;
test)
    install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    # valgrind cannot run ASan binaries: the memcheck test (no uninitialised
    # output, issue 22) runs first in a build without sanitizers.
    cmake -S . -B build-memcheck -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build-memcheck -j "$jobs" >/dev/null
    ctest --test-dir build-memcheck -R 'integration.hostile_valgrind' --output-on-failure
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIMD_SANITIZE=ON >/dev/null
    cmake --build build-asan -j "$jobs"
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
    # Fault injection (docs/fuzzing.md): its own build of image_data, one test.
    cmake -S . -B build-faults -G Ninja -DCMAKE_BUILD_TYPE=Debug -DIMD_SANITIZE=ON \
        -DIMD_FAULT_INJECTION=ON >/dev/null
    cmake --build build-faults -j "$jobs" --target image_data >/dev/null
    ctest --test-dir build-faults -R '^integration\.faults$' --output-on-failure
    # ctest shows output only for failures: say why anything was skipped.
    grep -h '^SKIP' build-asan/Testing/Temporary/LastTest.log \
        build-faults/Testing/Temporary/LastTest.log >&2 || true
    ;;
bench)
    install_packages "${BUILD_PACKAGES[@]}" python3 python3-pydicom python3-nibabel \
        python3-numpy dcm2niix time dcmtk libgdcm-tools
    cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DIMD_BUILD_TESTS=OFF >/dev/null
    cmake --build build-release -j "$jobs"
    /usr/bin/python3 bench/run_all.py build-release "${@:2}"
    ;;
*)
    echo "usage: $0 demo|test|bench" >&2
    exit 1
    ;;
esac
