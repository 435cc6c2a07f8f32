#!/usr/bin/python3
"""End-to-end tests of image_show (issue 20, docs/viewer.md).

    viewer_check.py offscreen BUILD OUT   scripted input (--replay), SDL's dummy
                                          and offscreen drivers, no X server
    viewer_check.py xvfb BUILD OUT        a real X server (Xvfb -displayfd),
                                          input injected with xdotool

Each state is captured by the viewer itself (F12 or a replay "shot" writes
OUT/<name>NNN.bmp from SDL_RenderReadPixels and NNN.json with where each
viewport is). The oracle is independent of the library: voxels come from
nibabel and pydicom, the grey levels from the window formula of DICOM PS3.3
C.11.2.1.2.1 (and C.11.2.1.3.2 for float data) written here again, the screen
orientation from the patient-space directions (patient left on screen right
for axial and coronal planes, feet down for coronal and sagittal). A shown
voxel is sampled at the centre of its block on screen and must equal the
expected grey of that voxel or (rounding of the scaler) of a neighbour.
The screenshots stay in OUT (with PNG copies) for a person to look at.
Exit 0 pass, 1 fail, 77 skip (a line starting SKIP says why).
"""
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np

try:
    import nibabel as nib
    import pydicom
    from PIL import Image
except ImportError as exc:  # pragma: no cover - the test's own dependencies
    print(f"SKIP: {exc} (needs nibabel, pydicom and PIL for /usr/bin/python3)")
    sys.exit(77)

FAILURES = []
TEST_DATA = os.environ.get("IMD_TEST_DATA", "")


def check(ok, what):
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        FAILURES.append(what)
    return ok


# ---- the oracle ---------------------------------------------------------------

def grey(values, center, width, integer):
    """DICOM PS3.3 C.11.2.1.2.1 (LINEAR) for integer data with width >= 1,
    else C.11.2.1.3.2 (LINEAR_EXACT); 0..255, NaN black."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if integer and width >= 1:
            low = center - 0.5 - (width - 1) / 2
            high = center - 0.5 + (width - 1) / 2
            g = ((v - (center - 0.5)) / (width - 1) + 0.5) * 255
        else:
            low, high = center - width / 2, center + width / 2
            g = ((v - center) / width + 0.5) * 255
        g = np.where(v <= low, 0, np.where(v > high, 255, g))
    g = np.clip(np.floor(np.nan_to_num(g, nan=0)), 0, 255)
    g[np.isnan(v)] = 0
    return g.astype(np.int32)


def plane_of(normal):
    n = np.abs(normal)
    if n[2] >= n[0] and n[2] >= n[1]:
        return "axial"
    return "coronal" if n[1] >= n[0] else "sagittal"


def to_screen(plane2d, row_cos, col_cos):
    """The image as a radiologist reads it. plane2d[r, c]: c grows along
    row_cos, r along col_cos (LPS). Returns the screen image and the letters
    (right, left, top, bottom)."""
    row_cos, col_cos = np.asarray(row_cos, float), np.asarray(col_cos, float)
    kind = plane_of(np.cross(row_cos, col_cos))
    right = {"axial": [1, 0, 0], "coronal": [1, 0, 0], "sagittal": [0, 1, 0]}[kind]
    down = {"axial": [0, 1, 0], "coronal": [0, 0, -1], "sagittal": [0, 0, -1]}[kind]
    image, across, downward = plane2d, row_cos, col_cos
    if abs(np.dot(col_cos, right)) > abs(np.dot(row_cos, right)):
        image = np.swapaxes(plane2d, 0, 1)
        across, downward = col_cos, row_cos
    if np.dot(across, right) < 0:
        image, across = image[:, ::-1], -across
    if np.dot(downward, down) < 0:
        image, downward = image[::-1, :], -downward

    def letter(d):
        names = [("L", "R"), ("P", "A"), ("H", "F")]
        k = int(np.argmax(np.abs(d)))
        return names[k][0] if d[k] >= 0 else names[k][1]
    return image, [letter(across), letter(-across), letter(-downward), letter(downward)]


def compare(shot, cell, expected, what):
    """Sample the centre of each shown voxel's block; compare with the expected
    grey (or RGB) of that voxel or a neighbour (+-1)."""
    x, y, w, h = cell["rect"]
    cx, cy, cw, ch = cell["cell"]
    rows, cols = expected.shape[:2]
    if not check((cols, rows) == tuple(cell["display"]),
                 f"{what}: shown plane {cell['display']} is {cols} x {rows}"):
        return
    u = np.arange(cols)
    v = np.arange(rows)
    sx = np.floor(x + (u + 0.5) * w / cols).astype(int)
    sy = np.floor(y + (v + 0.5) * h / rows).astype(int)
    inside_u = (sx >= max(cx, 0)) & (sx < min(cx + cw, shot.shape[1]))
    inside_v = (sy >= max(cy, 0)) & (sy < min(cy + ch, shot.shape[0]))
    exp = expected.astype(np.int32)
    if exp.ndim == 2:
        got = shot[np.ix_(sy[inside_v], sx[inside_u])][..., 0].astype(np.int32)
        sub = exp[np.ix_(v[inside_v], u[inside_u])]
        # the three channels of a grey pixel are equal
        chan = shot[np.ix_(sy[inside_v], sx[inside_u])].astype(np.int32)
        check(np.array_equal(chan[..., 0], chan[..., 1]) and np.array_equal(chan[..., 1], chan[..., 2]),
              f"{what}: grey pixels have R = G = B")
    else:
        got = shot[np.ix_(sy[inside_v], sx[inside_u])].astype(np.int32)
        sub = exp[np.ix_(v[inside_v], u[inside_u])]
    exact = np.abs(got - sub) <= 1
    if exact.ndim == 3:
        exact = exact.all(axis=2)
    # a neighbour's value is fine where the scaler rounds the other way
    near = exact.copy()
    pad = np.pad(exp, [(1, 1), (1, 1)] + [(0, 0)] * (exp.ndim - 2), mode="edge")
    vi, ui = v[inside_v], u[inside_u]
    for dv in (-1, 0, 1):
        for du in (-1, 0, 1):
            neighbour = pad[np.ix_(vi + 1 + dv, ui + 1 + du)]
            ok = np.abs(got - neighbour) <= 1
            near |= ok.all(axis=2) if ok.ndim == 3 else ok
    # Every screen pixel of the image shows the voxel under its centre
    # (docs/viewer.md): column floor((x + 0.5 - rect.x) * cols / rect.w).
    x0, y0 = max(x, cx, 0), max(y, cy, 0)
    x1, y1 = min(x + w, cx + cw, shot.shape[1]), min(y + h, cy + ch, shot.shape[0])
    if x1 > x0 and y1 > y0:
        uu = np.clip(np.floor((np.arange(x0, x1) + 0.5 - x) * cols / w).astype(int), 0, cols - 1)
        vv = np.clip(np.floor((np.arange(y0, y1) + 0.5 - y) * rows / h).astype(int), 0, rows - 1)
        want = exp[np.ix_(vv, uu)]
        have = shot[y0:y1, x0:x1].astype(np.int32)
        if want.ndim == 2:
            have = have[..., 0]
        same = np.abs(have - want) <= (1 if want.ndim == 2 else 0)
        if same.ndim == 3:
            same = same.all(axis=2)
        check(same.mean() == 1.0, f"{what}: every pixel ({same.size}) shows the voxel under its "
              f"centre: {same.mean() * 100:.3f} % (need 100)")
    n = exact.size
    # a voxel shown smaller than 2 x 2 pixels has no centre that is only its own
    magnified = w / cols >= 2 and h / rows >= 2
    need = 0.95 if magnified else 0.0
    check(n > 0 and near.mean() >= 0.999 and exact.mean() >= need,
          f"{what}: {n} voxels sampled, {exact.mean() * 100:.2f} % exact, "
          f"{near.mean() * 100:.2f} % within a neighbour (need {need * 100:.0f} / 99.9; "
          f"{w / cols:.2f} x {h / rows:.2f} pixels per voxel)")


def load_shot(path):
    image = Image.open(path).convert("RGB")
    image.save(path[:-4] + ".png")
    return np.asarray(image)


def text_present(on, off, cell, what, corners=("TL", "TR", "BL")):
    """Text (white on black boxes) in the corners: the shot with text differs
    from the one without by enough pixels there, and holds white pixels."""
    cx, cy, cw, ch = cell["cell"]
    regions = {"TL": (cx, cy, 180, 48), "TR": (cx + cw - 180, cy, 180, 32),
               "BL": (cx, cy + ch - 32, 140, 32), "BR": (cx + cw - 140, cy + ch - 18, 140, 18)}
    for name in corners:
        x, y, w, h = regions[name]
        a = on[y:y + h, x:x + w].astype(int)
        b = off[y:y + h, x:x + w].astype(int)
        changed = int((np.abs(a - b).max(axis=2) > 40).sum())
        white = int((a.min(axis=2) >= 200).sum())
        check(changed >= 20 and white >= 10,
              f"{what}: text in the {name} corner ({changed} pixels changed, {white} white)")


# ---- data ---------------------------------------------------------------------

def make_data(out):
    """A 4D NIfTI with anisotropic voxels and a value pattern that tells every
    slice, tag, row and column apart; float and complex NIfTI; a MONOCHROME1
    DICOM copy."""
    I, J, K, T = 40, 30, 7, 4
    i, j, k, t = np.meshgrid(np.arange(I), np.arange(J), np.arange(K), np.arange(T), indexing="ij")
    values = ((i * 7 + j * 13 + k * 50 + t * 400) % 2000 - 300).astype(np.int16)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])  # RAS: i to the right, j anterior
    image = nib.Nifti1Image(values, affine)
    image.header.set_xyzt_units("mm", "sec")
    nib.save(image, os.path.join(out, "syn4d.nii.gz"))
    f = (np.sin(i[..., 0] / 5.0) * np.cos(j[..., 0] / 4.0) + k[..., 0] / 10).astype(np.float32)
    f[3, 4, :] = np.nan
    nib.save(nib.Nifti1Image(f, affine), os.path.join(out, "float.nii.gz"))
    z = ((i[..., 0] - 20) + 1j * (j[..., 0] - 15) * (k[..., 0] + 1)).astype(np.complex64)
    nib.save(nib.Nifti1Image(z, affine), os.path.join(out, "complex.nii.gz"))
    mono1 = os.path.join(out, "mono1")
    os.makedirs(mono1, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(TEST_DATA, "dicom", "time", "time00", "*.dcm"))):
        ds = pydicom.dcmread(path)
        ds.PhotometricInterpretation = "MONOCHROME1"
        ds.SeriesInstanceUID = ds.SeriesInstanceUID + ".1"
        ds.save_as(os.path.join(mono1, os.path.basename(path)))


def nifti_truth(path, cell):
    """The slice and tag a cell shows, as nibabel reads the file."""
    image = nib.load(path)
    data = np.asanyarray(image.dataobj)
    affine = image.affine
    lps = np.diag([-1.0, -1.0, 1.0])
    row_cos = lps @ affine[:3, 0] / np.linalg.norm(affine[:3, 0])
    col_cos = lps @ affine[:3, 1] / np.linalg.norm(affine[:3, 1])
    # which k is the shown slice: from the viewer's reported position (LPS)
    k = cell["slice"]
    if "position" in cell:
        ras = lps @ np.array(cell["position"])
        ijk = np.linalg.solve(affine[:3, :3], ras - affine[:3, 3])
        k = int(round(ijk[2]))
        check(abs(ijk[2] - k) < 1e-3 and k == cell["slice"],
              f"{os.path.basename(path)}: slice {cell['slice']} is at k = {ijk[2]:.3f} of the file")
    plane = data[:, :, k, cell["tag"]] if data.ndim == 4 else data[:, :, k]
    plane = np.asarray(plane).T  # rows j, columns i
    if np.iscomplexobj(plane):
        plane = np.abs(plane)
    spacing = (float(np.linalg.norm(affine[:3, 0])), float(np.linalg.norm(affine[:3, 1])))
    return plane, row_cos, col_cos, data, spacing


def dicom_truth(folder_glob, cell):
    """The file a cell shows: the one at the reported position, of the tag-th
    acquisition time (the input order "time")."""
    files = [pydicom.dcmread(p) for p in sorted(glob.glob(folder_glob))]
    times = sorted({float(ds.AcquisitionTime) for ds in files})
    at = np.array(cell["position"])
    match = [ds for ds in files
             if np.allclose([float(x) for x in ds.ImagePositionPatient], at, atol=1e-3)
             and float(ds.AcquisitionTime) == times[cell["tag"]]]
    if not check(len(match) == 1, f"DICOM: one file at {at.round(2).tolist()}, time {cell['tag']}"):
        return None
    ds = match[0]
    iop = [float(x) for x in ds.ImageOrientationPatient]
    all_values = np.stack([d.pixel_array for d in files])
    return ds, ds.pixel_array.astype(np.float64), iop[:3], iop[3:], all_values


def aspect_ok(cell, spacing_across, spacing_down, what):
    w, h = cell["rect"][2], cell["rect"][3]
    cols, rows = cell["display"]
    want = cols * spacing_across / (rows * spacing_down)
    check(abs(w / h - want) <= 2.0 / min(w, h) * want + 1e-9,
          f"{what}: aspect {w}x{h} = {w / h:.4f}, pixel spacing wants {want:.4f}")


# ---- scenarios ----------------------------------------------------------------

class Shots:
    def __init__(self, prefix):
        self.prefix = prefix
        self.next = 0

    def take(self, timeout=15.0):
        """Wait for the next screenshot and its state."""
        path = f"{self.prefix}{self.next:03d}"
        end = time.time() + timeout
        while not (os.path.exists(path + ".bmp") and os.path.exists(path + ".json")):
            if time.time() > end:
                raise TimeoutError(f"no screenshot {path}.bmp after {timeout} s")
            time.sleep(0.05)
        self.next += 1
        with open(path + ".json") as f:
            state = json.load(f)
        return load_shot(path + ".bmp"), state


def check_nifti_cell(shot, cell, path, what, center=None, width=None):
    plane, row_cos, col_cos, data, spacing = nifti_truth(path, cell)
    screen, letters = to_screen(plane, row_cos, col_cos)
    integer = np.issubdtype(data.dtype, np.integer)
    if center is not None:
        check(abs(cell["center"] - center) < 1e-6 and abs(cell["width"] - width) < 1e-6,
              f"{what}: window C {cell['center']:.6g} W {cell['width']:.6g}, "
              f"expected C {center:.6g} W {width:.6g}")
    check(cell["letters"] == letters, f"{what}: orientation letters {cell['letters']} == {letters}")
    compare(shot, cell, grey(screen, cell["center"], cell["width"], integer), what)
    aspect_ok(cell, spacing[0], spacing[1], what)  # axial, not transposed here
    return data


def default_window(data):
    """behaviour.md §1.7 for integer data: w = max - min, c = (max + min) / 2,
    each rounded when |x| > 2."""
    lo, hi = float(np.nanmin(data)), float(np.nanmax(data))
    w, c = hi - lo, (hi + lo) / 2
    w = round(w) if abs(w) > 2 else w
    c = round(c) if abs(c) > 2 else c
    return c, w


def single_series_checks(shots, syn, driver, act):
    """act(step) performs one input step: ('h',) ('wheel', n) ('key', name)
    ('drag', button, x0, y0, x1, y1), then a screenshot is taken."""
    data = np.asanyarray(nib.load(syn).dataobj)
    lo, hi = float(data.min()), float(data.max())
    c0, w0 = default_window(data)
    on, s0 = shots.take()
    cell = s0["cells"][0]
    check(cell["slice"] == data.shape[2] // 2 and cell["tag"] == 0,
          f"{driver} start: slice {cell['slice']} tag {cell['tag']} (middle slice "
          f"{data.shape[2] // 2}, first tag)")
    act(("key", "h"))
    off, s1 = shots.take()
    cell = s1["cells"][0]
    check(not s1["text"], f"{driver}: h turns the text off")
    check_nifti_cell(off, cell, syn, f"{driver} start", c0, w0)
    # a NIfTI file names no patient or series: the bottom corners have text
    text_present(on, off, cell, f"{driver} start", ("BL", "BR"))
    x, y, w, h = cell["rect"]
    mx, my = x + w // 2, y + h // 2
    act(("wheel", 2, mx, my))
    shot, s = shots.take()
    check(s["cells"][0]["slice"] == data.shape[2] // 2 + 2,
          f"{driver}: two wheel steps up: slice {s['cells'][0]['slice']}")
    check_nifti_cell(shot, s["cells"][0], syn, f"{driver} after 2 wheel steps")
    act(("key", "Right"))
    shot, s = shots.take()
    check(s["cells"][0]["tag"] == 1, f"{driver}: right arrow: tag {s['cells'][0]['tag']}")
    check_nifti_cell(shot, s["cells"][0], syn, f"{driver} after one right arrow")
    act(("key", "Down"))
    shot, s = shots.take()
    check(s["cells"][0]["slice"] == data.shape[2] // 2 + 1, f"{driver}: Down: one slice back")
    # left-drag 30 right and 20 up: level += 30 (max - min) / 100, window += 20 (max - min) / 100
    act(("drag", "left", mx, my, mx + 30, my - 20))
    shot, s = shots.take()
    cell = s["cells"][0]
    check_nifti_cell(shot, cell, syn, f"{driver} after a drag of (+30, -20)",
                     c0 + 30 * (hi - lo) / 100, w0 + 20 * (hi - lo) / 100)
    act(("key", "w"))
    shot, s = shots.take()
    cell = s["cells"][0]
    plane = nifti_truth(syn, cell)[0]
    p1, p99 = np.percentile(plane, [1, 99])
    check_nifti_cell(shot, cell, syn, f"{driver} after w (1-99 %)", (p1 + p99) / 2, p99 - p1)
    # right-drag 100 up zooms by e^(100/200); middle-drag pans
    act(("drag", "right", mx, my, mx, my - 100))
    shot, s = shots.take()
    cell = s["cells"][0]
    check(abs(cell["zoom"] - math.exp(0.5)) < 1e-9, f"{driver}: right-drag zoom {cell['zoom']:.4f}")
    check_nifti_cell(shot, cell, syn, f"{driver} zoomed")
    rect0 = cell["rect"]
    act(("drag", "middle", mx, my, mx - 40, my + 25))
    shot, s = shots.take()
    cell = s["cells"][0]
    check(abs(cell["rect"][0] - (rect0[0] - 40)) <= 1 and abs(cell["rect"][1] - (rect0[1] + 25)) <= 1,
          f"{driver}: middle-drag pans by (-40, +25): {rect0[:2]} -> {cell['rect'][:2]}")
    check_nifti_cell(shot, cell, syn, f"{driver} panned")
    return cell


def grid_checks(shots, out, driver, act):
    """Three series: a DICOM time series, an RGB DICOM, the NIfTI."""
    on, state = shots.take()
    act(("key", "h"))
    off, state = shots.take()
    check(state["grid"] == [2, 2] and len(state["cells"]) == 3,
          f"{driver} grid: 3 series in a {state['grid']} grid, {len(state['cells'])} cells")
    seen = set()
    for cell in state["cells"]:
        what = f"{driver} grid cell {cell['series']}"
        if cell["display"] == [152, 192] or cell["display"] == [192, 152]:
            truth = dicom_truth(os.path.join(TEST_DATA, "dicom", "time", "time0*", "*.dcm"), cell)
            if truth is None:
                continue
            ds, plane, row_cos, col_cos, _ = truth
            screen, letters = to_screen(plane, row_cos, col_cos)
            check(abs(cell["center"] - float(ds.WindowCenter)) < 1e-6
                  and abs(cell["width"] - float(ds.WindowWidth)) < 1e-6,
                  f"{what}: the DICOM window {ds.WindowCenter}/{ds.WindowWidth}")
            check(cell["slice"] == 1 and cell["letters"] == letters,
                  f"{what}: middle slice, letters {cell['letters']} == {letters}")
            compare(off, cell, grey(screen, cell["center"], cell["width"], True), what)
            ps = [float(x) for x in ds.PixelSpacing]
            aspect_ok(cell, ps[1], ps[0], what)
            text_present(on, off, cell, what, ("TL", "TR", "BL", "BR"))
            seen.add("dicom")
        elif cell["display"] == [512, 512]:
            ds = pydicom.dcmread(os.path.join(TEST_DATA, "dicom", "lena_color.dcm"))
            iop = [float(x) for x in ds.ImageOrientationPatient]
            screen, _ = to_screen(ds.pixel_array, iop[:3], iop[3:])
            compare(off, cell, screen, what + " (RGB)")
            seen.add("rgb")
        else:
            check_nifti_cell(off, cell, os.path.join(out, "syn4d.nii.gz"), what)
            seen.add("nifti")
    check(seen == {"dicom", "rgb", "nifti"}, f"{driver} grid: saw {sorted(seen)}")
    act(("key", "ctrl+Right"))
    _, state = shots.take()
    check(state["first"] == 1 and [c["series"] for c in state["cells"]] == [1, 2],
          f"{driver} grid: ctrl+Right moves by one series: first {state['first']}")


def run_viewer(build, args, env, out, name):
    log = open(os.path.join(out, name + ".log"), "w")
    return subprocess.Popen([os.path.join(build, "viewer", "image_show")] + args,
                            stdout=subprocess.PIPE, stderr=log, env=env, text=True)


def finish(process, what, timeout=60):
    try:
        stdout, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, _ = process.communicate()
        check(False, f"{what}: the viewer did not quit")
    check(process.returncode == 0, f"{what}: exit code {process.returncode}")
    return stdout


def replay_act(steps):
    def act(step):
        if step[0] == "key":
            steps.append(f"key:{step[1]}")
        elif step[0] == "wheel":
            steps.append(f"move:{step[2]},{step[3]} wheel:{step[1]}")
        elif step[0] == "drag":
            _, button, x0, y0, x1, y1 = step
            steps.append(f"drag:{button}:{x0},{y0}:{x1},{y1}")
        steps.append("shot")
    return act


def offscreen(build, out):
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    syn = os.path.join(out, "syn4d.nii.gz")
    asan = os.environ.get("ASAN_OPTIONS", "")
    for driver in ("dummy", "offscreen"):
        env["SDL_VIDEODRIVER"] = driver
        if driver == "offscreen":
            # EGL/Mesa, loaded and unloaded by SDL at run time, leave allocations
            # LeakSanitizer cannot name (viewer_offscreen.sh); dummy keeps it on
            env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "detect_leaks=0"
        # The steps depend on the state (where the image is): run once to
        # learn the layout, then script every step against it.
        probe = run_viewer(build, ["--size", "900x700", "--screenshot", f"{out}/{driver}_probe",
                                   "--replay", "shot quit", syn], env, out, driver + "_probe")
        finish(probe, f"{driver} probe")
        if not os.path.exists(f"{out}/{driver}_probe000.json"):
            if driver == "offscreen":
                print("SKIP (part): the offscreen driver (EGL) cannot open here; dummy was tested")
                continue
            check(False, f"{driver}: no screenshot")
            return
        with open(f"{out}/{driver}_probe000.json") as f:
            x, y, w, h = json.load(f)["cells"][0]["rect"]
        steps = ["shot"]
        act = replay_act(steps)
        # the same steps single_series_checks performs, recorded in advance
        mx, my = x + w // 2, y + h // 2
        for step in [("key", "h"), ("wheel", 2, mx, my), ("key", "Right"), ("key", "Down"),
                     ("drag", "left", mx, my, mx + 30, my - 20), ("key", "w"),
                     ("drag", "right", mx, my, mx, my - 100),
                     ("drag", "middle", mx, my, mx - 40, my + 25)]:
            act(step)
        steps.append("quit")
        shots = Shots(f"{out}/{driver}_single")
        p = run_viewer(build, ["--size", "900x700", "--screenshot", shots.prefix, "--replay",
                               " ".join(steps), syn], env, out, driver + "_single")
        stdout = finish(p, f"{driver} single")
        last = single_series_checks(shots, syn, driver, lambda step: None)
        check(stdout.strip() == f"0: C {last['center']:.17g} W {last['width']:.17g}",
              f"{driver}: q prints the final window: {stdout.strip()!r}")
        # grid of three
        steps = ["shot"]
        act = replay_act(steps)
        act(("key", "h"))
        act(("key", "ctrl+Right"))
        steps.append("quit")
        shots = Shots(f"{out}/{driver}_grid")
        p = run_viewer(build, ["--size", "1000x800", "--screenshot", shots.prefix, "--replay",
                               " ".join(steps), os.path.join(TEST_DATA, "dicom", "time"),
                               os.path.join(TEST_DATA, "dicom", "lena_color.dcm"), syn],
                       env, out, driver + "_grid")
        finish(p, f"{driver} grid")
        grid_checks(shots, out, driver, lambda step: None)
        if driver != "dummy":
            continue
        # MONOCHROME1, float with NaN, complex as magnitude
        shots = Shots(f"{out}/{driver}_kinds")
        p = run_viewer(build, ["--size", "1000x800", "--screenshot", shots.prefix, "--replay",
                               "key:h shot quit", os.path.join(out, "mono1"),
                               os.path.join(out, "float.nii.gz"),
                               os.path.join(out, "complex.nii.gz")], env, out, driver + "_kinds")
        finish(p, f"{driver} kinds")
        shot, state = shots.take()
        for cell in state["cells"]:
            what = f"{driver} kinds cell {cell['series']}"
            if cell["display"] == [152, 192]:
                truth = dicom_truth(os.path.join(out, "mono1", "*.dcm"), cell)
                if truth is not None:
                    ds, plane, row_cos, col_cos, _ = truth
                    screen, _ = to_screen(plane, row_cos, col_cos)
                    compare(shot, cell, 255 - grey(screen, cell["center"], cell["width"], True),
                            what + " (MONOCHROME1 inverted)")
            else:
                kind = "complex" if cell["max"] > 30 else "float"
                path = os.path.join(out, kind + ".nii.gz")
                plane, row_cos, col_cos, data, _ = nifti_truth(path, cell)
                values = np.abs(data) if np.iscomplexobj(data) else data
                lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
                check(abs(cell["center"] - (lo + hi) / 2) < 1e-4 and abs(cell["width"] - (hi - lo)) < 1e-4,
                      f"{what}: {kind}: the window spans min..max ({lo:.4g}..{hi:.4g})")
                screen, _ = to_screen(plane, row_cos, col_cos)
                compare(shot, cell, grey(screen, cell["center"], cell["width"], False),
                        f"{what} ({kind}{', magnitude' if kind == 'complex' else ', NaN black'})")


def xvfb(build, out):
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} not found (Debian: xvfb xdotool)")
            sys.exit(77)
    read_fd, write_fd = os.pipe()
    # -noreset: the server keeps going when its last client leaves between viewers
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24",
                               "-nolisten", "tcp", "-noreset"], pass_fds=[write_fd],
                              stderr=open(os.path.join(out, "xvfb.log"), "w"))
    os.close(write_fd)
    try:
        number = b""
        with os.fdopen(read_fd, "rb") as pipe:
            while not number.endswith(b"\n"):
                chunk = pipe.read(1)
                if not chunk:
                    break
                number += chunk
        if not number.strip():
            check(False, "Xvfb did not start (xvfb.log)")
            return
        env = dict(os.environ)
        env["DISPLAY"] = ":" + number.decode().strip()
        env.pop("SDL_VIDEODRIVER", None)
        env.pop("WAYLAND_DISPLAY", None)
        print(f"Xvfb on {env['DISPLAY']}")

        def xdo(*args):
            subprocess.run(["xdotool"] + [str(a) for a in args], env=env, check=True,
                           stdout=subprocess.DEVNULL)

        def quit_key(wid):
            # The viewer may close its window between the key's press and its
            # release: xdotool then fails with BadWindow (finish() checks the
            # exit) and, when it pressed through XTEST (the window had the
            # focus), leaves q held down in the server, which the next viewer's
            # window would see as pressed when it gets the focus. Release it.
            subprocess.run(["xdotool", "key", "--window", wid, "q"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(["xdotool", "keyup", "q"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def window_id(process):
            """The viewer's window now: searched each time, by the process id SDL
            puts on it (_NET_WM_PID), since SDL may replace its first window when
            it sets up OpenGL."""
            end = time.time() + 20
            while time.time() < end:
                if process.poll() is not None:
                    raise RuntimeError(f"the viewer exited ({process.returncode}) too early")
                r = subprocess.run(["xdotool", "search", "--pid", str(process.pid),
                                    "--name", "imagedata viewer"], env=env,
                                   capture_output=True, text=True)
                if r.stdout.strip():
                    return r.stdout.split()[-1]
                time.sleep(0.1)
            raise TimeoutError("no viewer window")

        def x_act(process):
            def act(step):
                wid = window_id(process)
                if step[0] == "key":
                    xdo("key", "--window", wid, step[1])
                elif step[0] == "wheel":
                    xdo("mousemove", "--window", wid, step[2], step[3])
                    time.sleep(0.2)
                    for _ in range(step[1]):
                        xdo("click", 4)
                        time.sleep(0.1)
                elif step[0] == "drag":
                    _, button, x0, y0, x1, y1 = step
                    number_ = {"left": 1, "middle": 2, "right": 3}[button]
                    xdo("mousemove", "--window", wid, x0, y0)
                    time.sleep(0.15)
                    xdo("mousedown", number_)
                    time.sleep(0.15)
                    xdo("mousemove", "--window", wid, x1, y1)
                    time.sleep(0.15)
                    xdo("mouseup", number_)
                time.sleep(0.3)
                xdo("key", "--window", window_id(process), "F12")
            return act

        syn = os.path.join(out, "syn4d.nii.gz")
        shots = Shots(f"{out}/x_single")
        p = run_viewer(build, ["--size", "900x700", "--screenshot", shots.prefix, syn], env, out,
                       "x_single")
        window_id(p)
        time.sleep(1.0)
        act = x_act(p)
        xdo("key", "--window", window_id(p), "F12")
        last = single_series_checks(shots, syn, "xvfb", act)
        quit_key(window_id(p))
        stdout = finish(p, "xvfb single")
        check(stdout.strip() == f"0: C {last['center']:.17g} W {last['width']:.17g}",
              f"xvfb: q prints the final window: {stdout.strip()!r}")

        shots = Shots(f"{out}/x_grid")
        p = run_viewer(build, ["--size", "1000x800", "--screenshot", shots.prefix,
                               os.path.join(TEST_DATA, "dicom", "time"),
                               os.path.join(TEST_DATA, "dicom", "lena_color.dcm"), syn],
                       env, out, "x_grid")
        window_id(p)
        time.sleep(1.0)
        act = x_act(p)
        xdo("key", "--window", window_id(p), "F12")
        grid_checks(shots, out, "xvfb", act)
        quit_key(window_id(p))
        finish(p, "xvfb grid")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("offscreen", "xvfb"):
        print(__doc__)
        return 1
    mode, build, out = sys.argv[1:]
    if not os.path.exists(os.path.join(build, "viewer", "image_show")):
        print("SKIP: image_show was not built (SDL2 / SDL2_ttf not found: libsdl2-dev libsdl2-ttf-dev)")
        return 77
    if not os.path.isdir(os.path.join(TEST_DATA, "dicom", "time")):
        print(f"SKIP: test data not found at {TEST_DATA!r} (../shared)")
        return 77
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    make_data(out)
    (offscreen if mode == "offscreen" else xvfb)(build, out)
    print(f"screenshots kept in {out}")
    if FAILURES:
        print(f"FAILED: {len(FAILURES)} check(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
