#!/usr/bin/python3
"""Viewer frame times and time to the first image (issue 20; docs/viewer.md).

    /usr/bin/python3 bench/viewer.py BUILD [--frames N] [--out bench/results/viewer.md]

BUILD is a Release build with the viewer (build-release). Generates, in a
temporary folder: a 512 x 512 x 32 int16 NIfTI, nine copies of it, and a
series of 500 single-frame DICOM files of 512 x 512 uint16 (pydicom, fixed
content). Runs `image_show --bench` (redraws, each on the next slice: new
plane, window, texture upload, scaled copy, text, present) with SDL's dummy
driver (software renderer) and, when Xvfb is installed, under Xvfb (x11,
OpenGL through Mesa llvmpipe), and records what the viewer prints: frame time
median / mean / p95 / max, and for the 500-file series when the first image
was on screen against when the read was complete. Targets: 512^2 redraw
< 16 ms, 3 x 3 grid < 50 ms.
"""
import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_data(folder):
    import nibabel as nib
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    y, x = np.mgrid[0:512, 0:512]
    volume = np.stack([((x * 3 + y * 5 + k * 97) % 4000) for k in range(32)], axis=-1)
    nifti = os.path.join(folder, "v512.nii")
    nib.save(nib.Nifti1Image(volume.astype(np.int16), np.diag([0.5, 0.5, 2.0, 1.0])), nifti)
    nine = []
    for i in range(9):
        path = os.path.join(folder, f"v512_{i}.nii")
        shutil.copy(nifti, path)
        nine.append(path)
    series = os.path.join(folder, "dicom500")
    os.makedirs(series)
    study, uid_series, frame = generate_uid(), generate_uid(), generate_uid()
    pixels = ((x * 7 + y * 3) % 3000).astype(np.uint16)
    for k in range(500):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, uid_series, frame
        ds.Modality, ds.PatientName, ds.PatientID = "MR", "Bench^Viewer", "B500"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.SliceThickness = 1.0
        ds.Rows, ds.Columns = 512, 512
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = ((pixels + k) % 3000).astype(np.uint16).tobytes()
        ds.is_little_endian, ds.is_implicit_VR = True, False
        ds.save_as(os.path.join(series, f"im{k:04d}.dcm"), write_like_original=False)
    return nifti, nine, series


def run(build, args, env, what):
    command = [os.path.join(build, "viewer", "image_show"), "--bench"] + args
    t0 = time.perf_counter()
    r = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{what}: image_show failed ({r.returncode}):\n{r.stderr}")
    numbers = {}
    for line in r.stderr.splitlines():
        m = re.search(r"median ([\d.]+) ms, mean ([\d.]+) ms, p95 ([\d.]+) ms, max ([\d.]+) ms", line)
        if m:
            numbers["draw" if "of which drawing" in line else "frame"] = tuple(float(v) for v in m.groups())
        m = re.search(r"first frame \(progress\) after ([\d.]+) ms, first image on screen after "
                      r"([\d.]+) ms, read complete after ([\d.]+) ms", line)
        if m:
            numbers["first"] = tuple(float(v) for v in m.groups())
        m = re.search(r"driver (\S+), renderer (\S+),", line)
        if m:
            numbers["driver"] = f"{m.group(1)} / {m.group(2)}"
    numbers["wall"] = wall
    print(f"{what}: {numbers}", flush=True)
    return numbers


def start_xvfb():
    if shutil.which("Xvfb") is None:
        return None, None
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24",
                               "-nolisten", "tcp"], pass_fds=[write_fd], stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    return server, ":" + number


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("build")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "viewer.md"))
    options = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="imd-viewer-bench-")
    load0 = os.getloadavg()[0]
    server = None
    try:
        nifti, nine, series = make_data(folder)
        environments = [("dummy (software renderer, no X)",
                         {**{k: v for k, v in os.environ.items() if k != "DISPLAY"},
                          "SDL_VIDEODRIVER": "dummy"})]
        server, display = start_xvfb()
        if server is not None:
            environments.append(("Xvfb (x11, OpenGL via Mesa llvmpipe)",
                                 {**{k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"},
                                  "DISPLAY": display}))
        frames = ["--bench-frames", str(options.frames), "--size", "1024x768"]
        rows = []
        for name, env in environments:
            one = run(options.build, frames + [nifti], env, f"{name}: one 512^2")
            grid = run(options.build, frames + nine, env, f"{name}: 3x3 grid")
            first = run(options.build, ["--bench-frames", "20", "--size", "1024x768", series], env,
                        f"{name}: 500 files")
            rows.append((name, one, grid, first))
        lines = ["# Viewer: frame times and first image", "",
                 f"`/usr/bin/python3 bench/viewer.py build-release --frames {options.frames}` "
                 f"({time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores shared "
                 "with other work, Release build). A frame is a redraw on the next slice: the window "
                 "(PS3.3 C.11.2.1.2) applied to the voxel under each visible screen pixel, texture "
                 "upload, copy, text, present, timed by the viewer itself (`image_show --bench`). "
                 "Window 1024 x 768.", "",
                 "| display | workload | median ms | mean ms | p95 ms | max ms | drawing median ms | target |",
                 "|---|---|---:|---:|---:|---:|---:|---|"]
        for name, one, grid, _ in rows:
            for label, numbers, target in (("one 512 x 512 slice", one, 16), ("3 x 3 grid of 512 x 512", grid, 50)):
                median, mean, p95, worst = numbers["frame"]
                verdict = "met" if median < target else "NOT met"
                lines.append(f"| {name} | {label} | {median:.2f} | {mean:.2f} | {p95:.2f} | {worst:.2f} | "
                             f"{numbers['draw'][0]:.2f} | < {target} ms: {verdict} (median) |")
        lines += ["", "Series of 500 DICOM files (512 x 512 uint16), read in the background "
                  "(`imd_view_urls`, `imd_read_each` in a thread):", "",
                  "| display | window with progress ms | first image on screen ms | read complete ms |",
                  "|---|---:|---:|---:|"]
        for name, _, _, first in rows:
            lines.append(f"| {name} | {first['first'][0]:.0f} | {first['first'][1]:.0f} | "
                         f"{first['first'][2]:.0f} |")
        lines += ["", f"Load average during the run: {os.getloadavg()[0]:.1f} (start: {load0:.1f}) "
                  f"on {os.cpu_count()} cores.", "",
                  "\"drawing\" is the time before SDL_RenderPresent: the window applied to the "
                  "visible pixels, texture upload and the render commands (SDL batches them, so "
                  "part of the copying happens in present); the rest of a frame is present, "
                  "which under X includes the X server's work."]
        with open(options.out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
