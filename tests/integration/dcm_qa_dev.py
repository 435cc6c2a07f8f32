#!/usr/bin/python3
"""Real-scanner folders (issue 13, ../shared/data/dcm_qa_dev): every dcm2niix
reference matched by content against what `image_data --of nifti OUT <repo>/In`
writes, as a user would convert an exam folder.

The oracle is dcm2niix's Ref/*.nii.gz (+ .bval/.bvec), read with nibabel. The
comparison is the data README's rule ("How a test should compare"): an output
matches a reference when the shape is the same, the scaled values are equal
(np.array_equal of np.asanyarray(img.dataobj): scl_slope/scl_inter applied, the
stored dtype may differ), max |affine difference| <= 1e-3 mm, and, where the
reference has them, the output's .bval/.bvec (same stem as its .nii[.gz])
agree within 1e-3. Outputs are found by content, not by name; an output
without a reference is not a failure.

dcm_qa_dev_expected.txt (beside this script) keeps the list honest:
  <repo>/<ref name> <reason>       this reference does not match yet
  exit <repo> <code> <reason>      image_data exits with <code> (not 0) today
  options <repo> <argument>...     extra image_data arguments for this repo
The run fails when an unlisted reference does not match, when a listed one
now matches ("unexpectedly matches"), when the exit code is not the listed one
(0 when none is listed), and on any sanitizer report or signal.

Usage (developers; CTest runs it through dcm_qa_dev.sh):
  /usr/bin/python3 tests/integration/dcm_qa_dev.py --build build-release \
      [--repo dcm_qa_stc]... [--keep OUT] [--jobs 2] [-v]
Exit: 0 all as expected, 1 a difference from the expectations, 77 skipped
(no data, no nibabel).
"""
import argparse
import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "dcm_qa_dev_expected.txt")
AFFINE_TOL = 1e-3   # mm, the data README's rule
GRAD_TOL = 1e-3     # .bval/.bvec, the data README's rule
TIMEOUT = 900       # seconds per image_data run (ASan builds are slow)
MARKER = ".dcm_qa_dev"  # marks a --keep folder this script made (safe to replace)
SANITIZER = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|"
                       r"SUMMARY: (Address|Undefined|Leak)")

try:
    import numpy as np
    import nibabel as nib
except ImportError as e:  # checked in main(): a loud skip, never a silent pass
    np = nib = None
    IMPORT_ERROR = str(e)


# ---------------------------------------------------------------------------
# Expectations
# ---------------------------------------------------------------------------

class Expectations:
    def __init__(self):
        self.refs = {}      # "repo/ref" -> reason
        self.exits = {}     # repo -> (code, reason)
        self.options = {}   # repo -> [arguments]
        self.errors = []    # malformed lines


def read_expectations(path):
    e = Expectations()
    if not os.path.exists(path):
        e.errors.append("%s is missing" % path)
        return e
    with open(path) as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            words = text.split()
            where = "%s:%d" % (os.path.basename(path), number)
            if words[0] == "options" and len(words) >= 3:
                e.options.setdefault(words[1], []).extend(words[2:])
            elif words[0] == "exit" and len(words) >= 4 and words[2].isdigit():
                e.exits[words[1]] = (int(words[2]), " ".join(words[3:]))
            elif "/" in words[0] and len(words) >= 2:
                e.refs[strip_nifti(words[0])] = " ".join(words[1:])
            else:
                e.errors.append("%s: not understood (a reason is required): %s" % (where, text))
    return e


def strip_nifti(name):
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


# ---------------------------------------------------------------------------
# Comparison (runs in the worker processes)
# ---------------------------------------------------------------------------

class Nifti:
    """One NIfTI file, read lazily: the header at once, the voxels (and their
    hash) only when a reference of the same shape needs them."""

    def __init__(self, path):
        self.path = path
        self.img = nib.load(path)
        self.shape = tuple(int(n) for n in self.img.shape)
        self.affine = np.asarray(self.img.affine, dtype=float)
        self._hash = None

    def data(self):
        # Not cached: a 4D fMRI series is hundreds of MB once scaled.
        return np.asanyarray(self.img.dataobj)

    def digest(self, data=None):
        """A hash of the values (not the dtype): equal values give equal
        float64s; +0.0 turns -0.0 into 0.0, which array_equal calls equal."""
        if self._hash is None:
            values = self.data() if data is None else data
            canonical = np.ascontiguousarray(np.asarray(values, dtype=np.float64) + 0.0)
            self._hash = hashlib.sha1(canonical.tobytes()).hexdigest()
        return self._hash

    def stem(self):
        return strip_nifti(self.path)


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, float) - np.asarray(b, float)))) if np.size(a) else 0.0


def read_table(path, rows):
    """A .bval (rows=1) or .bvec (rows=3) as a float array, or a reason."""
    if not os.path.exists(path):
        return None, "no %s beside the output" % os.path.basename(path)
    try:
        values = np.loadtxt(path, dtype=float, ndmin=2)
    except ValueError as e:
        return None, "%s unreadable (%s)" % (os.path.basename(path), e)
    return values, None


def compare_gradients(ref, out):
    """None when the output's .bval/.bvec agree with the reference's, else why."""
    for suffix, rows in ((".bval", 1), (".bvec", 3)):
        ref_path = ref.stem() + suffix
        if not os.path.exists(ref_path):
            continue
        want, _ = read_table(ref_path, rows)
        got, why = read_table(out.stem() + suffix, rows)
        if got is None:
            return why
        if got.shape != want.shape:
            return "%s is %dx%d, expected %dx%d" % (suffix[1:], got.shape[0], got.shape[1],
                                                   want.shape[0], want.shape[1])
        d = max_abs(got, want)
        if not d <= GRAD_TOL:
            return "%s differs by %.4g" % (suffix[1:], d)
    return None


def voxel_hint(a, b):
    """Why two same-shape arrays differ, when a simple relation explains it."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    nonzero = a != 0
    if nonzero.any() and np.array_equal(a == 0, b == 0):
        ratio = b[nonzero] / a[nonzero]
        k = float(np.median(ratio))
        if np.allclose(b, a * k, rtol=1e-4, atol=1e-6 * max(1.0, float(np.max(np.abs(a))))):
            return "output = reference x %.6g" % k
    for axis in range(min(a.ndim, 3)):
        if np.array_equal(np.flip(a, axis), b):
            return "equal after flipping axis %d" % axis
    if a.ndim == 4 and a.shape[3] > 1:
        def volumes(x):
            return [hashlib.sha1(np.ascontiguousarray(x[..., t] + 0.0).tobytes()).hexdigest()
                    for t in range(x.shape[3])]
        va, vb = volumes(a), volumes(b)
        if sorted(va) == sorted(vb):
            return "same volumes in another order"
        same = sum(1 for x, y in zip(va, vb) if x == y)
        if same:
            return "%d of %d volumes equal" % (same, len(va))
    return ""


def match_reference(ref_path, outputs, root):
    """(matched output or None, detail) for one reference against all outputs."""
    ref = Nifti(ref_path)
    candidates = [o for o in outputs if o.shape == ref.shape]
    if not candidates:
        inside = find_as_volume(ref, outputs, root) or find_as_mosaic(ref, outputs, root)
        if inside:
            return None, "no output of shape %s; %s" % (fmt_shape(ref.shape), inside)
        shapes = {}
        for o in outputs:
            shapes[o.shape] = shapes.get(o.shape, 0) + 1
        listed = ", ".join("%s%s" % (fmt_shape(s), " x%d" % n if n > 1 else "")
                           for s, n in sorted(shapes.items()))
        return None, "no output of shape %s (shapes written: %s)" % (
            fmt_shape(ref.shape), listed or "none")
    # Same name first (cheap and usually right), then nearest affine.
    base = os.path.basename(ref.stem())
    candidates.sort(key=lambda o: (os.path.basename(o.stem()) != base, max_abs(o.affine, ref.affine)))
    ref_data = ref.data()
    ref_hash = ref.digest(ref_data)
    equal = [o for o in candidates if o.digest() == ref_hash]
    reasons = []
    for o in equal:
        d = max_abs(o.affine, ref.affine)
        if not np.array_equal(ref_data, o.data()):   # the README's rule, not only the hash
            continue
        if not d <= AFFINE_TOL:
            reasons.append((1, "voxels equal, affine differs by %.4g (%s)" % (d, rel(o.path, root))))
            continue
        why = compare_gradients(ref, o)
        if why:
            reasons.append((0, "voxels and affine equal, %s (%s)" % (why, rel(o.path, root))))
            continue
        return o, "%s" % rel(o.path, root)
    if reasons:
        reasons.sort()
        return None, reasons[0][1]
    # No output holds the same values: describe the nearest one.
    inside = find_as_volume(ref, outputs, root)
    if inside:
        return None, "no output of the same values; %s" % inside
    best = None
    for o in candidates:
        data = o.data()
        differ = np.asarray(ref_data, float) != np.asarray(data, float)
        n = int(np.count_nonzero(differ))
        worst = float(np.max(np.abs(np.asarray(ref_data, float)[differ] -
                                    np.asarray(data, float)[differ]))) if n else 0.0
        if best is None or n < best[0]:
            best = (n, worst, o, voxel_hint(ref_data, data))
    n, worst, o, hint = best
    text = "voxels differ (%d of %d, max |diff| %.4g)" % (n, ref_data.size, worst)
    if hint:
        text += ", %s" % hint
    d = max_abs(o.affine, ref.affine)
    if not d <= AFFINE_TOL:
        text += ", affine differs by %.4g" % d
    return None, "%s (%s)" % (text, rel(o.path, root))


def find_as_volume(ref, outputs, root):
    """Where the reference is one volume of a 4D output (echoes or images
    not split apart, or a series split differently), else ""."""
    if len(ref.shape) != 3:
        return ""
    ref_data = None
    for o in outputs:
        if len(o.shape) != 4 or o.shape[:3] != ref.shape:
            continue
        if ref_data is None:
            ref_data = np.asarray(ref.data(), dtype=np.float64)
        data = o.data()
        for t in range(o.shape[3]):
            if np.array_equal(ref_data, data[..., t]):
                d = max_abs(o.affine, ref.affine)
                return "equal to volume %d of %d of %s%s" % (
                    t + 1, o.shape[3], rel(o.path, root),
                    "" if d <= AFFINE_TOL else " (affine differs by %.4g)" % d)
    return ""


def find_as_mosaic(ref, outputs, root):
    """Where an output is the reference's slices still tiled as a Siemens
    mosaic (one image of m x m tiles, NumberOfImagesInMosaic slices), else "".
    DICOM tile k sits at tile row k // m, column k % m; NIfTI i = column,
    j = rows - 1 - row, so tile k is out[c*w:(c+1)*w, NY-(r+1)*h:NY-r*h]."""
    if len(ref.shape) < 3:
        return ""
    w, h, n = ref.shape[:3]
    extra = ref.shape[3:]
    for o in outputs:
        if (len(o.shape) != len(ref.shape) or o.shape[2] != 1 or o.shape[3:] != extra
                or o.shape[0] % w or o.shape[1] % h):
            continue
        m = o.shape[0] // w
        if o.shape[1] // h != m or m * m < n:
            continue
        data = np.asarray(o.data(), dtype=np.float64)
        ny = o.shape[1]
        tiles = [data[(k % m) * w:(k % m + 1) * w, ny - (k // m + 1) * h:ny - (k // m) * h, 0]
                 for k in range(n)]
        stacked = np.stack(tiles, axis=2)
        ref_data = np.asarray(ref.data(), dtype=np.float64)
        for order, name in ((stacked, "in order"), (stacked[:, :, ::-1], "in reverse order")):
            if np.array_equal(order, ref_data):
                return "%s holds its %d slices as an unsplit %dx%d mosaic (%s)" % (
                    rel(o.path, root), n, m, m, name)
    return ""


def fmt_shape(shape):
    return "x".join(str(n) for n in shape)


def rel(path, root):
    return os.path.relpath(path, root)


def first_error(stderr, code):
    """The line that explains the exit: the error, else the partial-result line."""
    lines = [l.strip() for l in stderr.splitlines() if l.strip()]
    if not lines:
        return ""
    for l in lines:
        if SANITIZER.search(l):
            return l[:300]
    if code == 8:
        partial = [l for l in lines if "partial result" in l]
        if partial:
            return partial[-1][:300]
    plain = [l for l in lines if ": warning:" not in l]
    return (plain[0] if plain else lines[0])[:300]


def run_repo(repo, data, image_data, options, work):
    """Convert <repo>/In as a user would and match every reference; runs in a
    worker process. Returns a plain dict (picklable)."""
    started = time.time()
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "out")
    command = [image_data, "--of", "nifti"] + options + [out, os.path.join(data, repo, "In")]
    try:
        p = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT)
        code, stderr = p.returncode, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        code = "timeout"
        stderr = (e.stderr or b"").decode("utf-8", "replace") + "\ntimed out after %d s" % TIMEOUT
    convert_seconds = time.time() - started
    paths = []
    for folder, _, names in os.walk(work):
        for name in names:
            if name.endswith((".nii", ".nii.gz")):
                paths.append(os.path.join(folder, name))
    outputs, unreadable = [], []
    for path in sorted(paths):
        try:
            outputs.append(Nifti(path))
        except Exception as e:  # an unreadable output is reported, not fatal
            unreadable.append("%s: %s" % (rel(path, work), e))
    results = []
    ref_folder = os.path.join(data, repo, "Ref")
    for name in sorted(os.listdir(ref_folder)):
        if not name.endswith((".nii", ".nii.gz")):
            continue
        try:
            matched, detail = match_reference(os.path.join(ref_folder, name), outputs, work)
        except Exception as e:  # a bug here or an output not foreseen: report, go on
            matched, detail = None, "comparison error: %s: %s" % (type(e).__name__, e)
        results.append({"ref": "%s/%s" % (repo, strip_nifti(name)), "ok": matched is not None,
                        "detail": detail})
    return {"repo": repo, "code": code, "stderr": stderr, "command": command,
            "outputs": [(rel(o.path, work), o.shape) for o in outputs],
            "unreadable": unreadable, "results": results,
            "seconds": convert_seconds, "total_seconds": time.time() - started}


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def prepare_keep(folder, repo):
    """OUT/<repo>, emptied only when this script made it (marker file)."""
    path = os.path.join(folder, repo)
    if os.path.exists(path):
        if not os.path.exists(os.path.join(path, MARKER)):
            raise SystemExit("FAIL: setup: %s exists and was not made by this script; "
                             "remove it or give another --keep folder" % path)
        shutil.rmtree(path)
    os.makedirs(path)
    open(os.path.join(path, MARKER), "w").close()
    return path


def table(rows, headers):
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    # The last column is free text: never pad it.
    fmt = "  ".join("%%-%ds" % w for w in widths[:-1]) + "  %s"
    lines = [fmt % tuple(headers), fmt % tuple(["-" * w for w in widths[:-1]] + ["-" * len(headers[-1])])]
    lines += [fmt % tuple(r) for r in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.environ.get("IMD_BUILD", ""),
                        help="build folder holding cli/image_data [$IMD_BUILD]")
    parser.add_argument("--image-data", default=None, help="the image_data program")
    default_data = os.path.join(os.environ.get("IMD_SOURCE") or os.path.join(HERE, "..", ".."),
                                "..", "shared", "data", "dcm_qa_dev")
    parser.add_argument("--data", default=os.path.normpath(default_data),
                        help="../shared/data/dcm_qa_dev")
    parser.add_argument("--repo", action="append", default=[], help="only this repo (repeatable)")
    parser.add_argument("--keep", default=None, metavar="OUT",
                        help="write the outputs to OUT/<repo>/ and keep them")
    parser.add_argument("--expected", default=EXPECTED, help="the expectations file")
    parser.add_argument("--jobs", type=int, default=2, help="repos converted at once [2]")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print image_data's stderr and every output")
    args = parser.parse_args()

    if not os.path.isdir(args.data):
        print("SKIP: the dcm_qa_dev data is missing (%s; expected ../shared/data/dcm_qa_dev)"
              % args.data)
        return 77
    if nib is None:
        print("SKIP: numpy or nibabel is not importable for %s (%s)" % (sys.executable, IMPORT_ERROR))
        return 77
    image_data = args.image_data or os.path.join(args.build, "cli", "image_data")
    if not os.access(image_data, os.X_OK):
        print("FAIL: setup: %s is not an executable (give --build or --image-data)" % image_data)
        return 1
    image_data = os.path.abspath(image_data)
    repos = sorted(d for d in os.listdir(args.data)
                   if os.path.isdir(os.path.join(args.data, d, "In"))
                   and os.path.isdir(os.path.join(args.data, d, "Ref")))
    unknown = [r for r in args.repo if r not in repos]
    if unknown:
        print("FAIL: setup: unknown repo(s) %s; known: %s" % (", ".join(unknown), ", ".join(repos)))
        return 1
    if args.repo:
        repos = [r for r in repos if r in args.repo]
    expect = read_expectations(args.expected)
    problems = list(expect.errors)

    scratch = None
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        roots = {r: prepare_keep(os.path.abspath(args.keep), r) for r in repos}
    else:
        scratch = tempfile.mkdtemp(prefix="dcm_qa_dev.")
        roots = {r: os.path.join(scratch, r) for r in repos}
    started = time.time()
    runs = {}
    try:
        # Largest repos first so that two workers finish together.
        order = sorted(repos, key=lambda r: -folder_bytes(os.path.join(args.data, r, "In")))
        with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(run_repo, r, args.data, image_data, expect.options.get(r, []),
                                   roots[r]): r for r in order}
            for future in concurrent.futures.as_completed(futures):
                r = futures[future]
                try:
                    runs[r] = future.result()
                except Exception as e:
                    runs[r] = {"repo": r, "code": "error", "stderr": "%s: %s" % (type(e).__name__, e),
                               "outputs": [], "unreadable": [], "results": [], "seconds": 0.0,
                               "command": [], "total_seconds": 0.0}
                    problems.append("%s: the worker failed: %s: %s" % (r, type(e).__name__, e))
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    # Repos: exit codes, sanitizer reports, unreadable outputs.
    repo_rows = []
    for r in repos:
        run = runs[r]
        code = run["code"]
        want, _ = expect.exits.get(r, (0, ""))
        verdict = "ok"
        if SANITIZER.search(run["stderr"]):
            verdict = "FAIL"
            problems.append("%s: sanitizer report: %s" % (r, first_error(run["stderr"], code)))
        elif not isinstance(code, int) or code < 0:
            verdict = "FAIL"
            problems.append("%s: image_data did not exit normally (%s)" % (r, code))
        elif code != want:
            verdict = "FAIL"
            if r in expect.exits:
                hint = "update or remove 'exit %s %d' in dcm_qa_dev_expected.txt" % (r, want)
            else:
                hint = "not listed in dcm_qa_dev_expected.txt"
            problems.append("%s: image_data exit %d, expected %d (%s): %s"
                            % (r, code, want, hint, first_error(run["stderr"], code)))
        for u in run["unreadable"]:
            verdict = "FAIL"
            problems.append("%s: output unreadable by nibabel: %s" % (r, u))
        repo_rows.append((r, str(code), verdict, "%.1f" % run["seconds"], str(len(run["outputs"])),
                          first_error(run["stderr"], code)))

    # References.
    verbose = args.verbose
    rows, counts = [], {"matched": 0, "unexpected": 0, "expected": 0}
    seen = set()
    for r in repos:
        for res in runs[r]["results"]:
            name = res["ref"]
            seen.add(name)
            listed = name in expect.refs
            if res["ok"] and not listed:
                status = "ok"
                counts["matched"] += 1
            elif res["ok"]:
                status = "XPASS"
                counts["unexpected"] += 1
                problems.append("%s: unexpectedly matches: remove it from dcm_qa_dev_expected.txt "
                                "(listed: %s)" % (name, expect.refs[name]))
            elif listed:
                status = "xfail"
                counts["expected"] += 1
            else:
                status = "FAIL"
                counts["unexpected"] += 1
                problems.append("%s: %s" % (name, res["detail"]))
            detail = res["detail"]
            if listed and not res["ok"] and verbose:
                detail = "%s [listed: %s]" % (detail, expect.refs[name])
            rows.append((name, status, detail))
    for name in sorted(expect.refs):
        if name.split("/")[0] in repos and name not in seen:
            problems.append("%s: listed in dcm_qa_dev_expected.txt but there is no such reference"
                            % name)
    for r in sorted(set(expect.exits) | set(expect.options)):
        if r not in repos and not args.repo:
            problems.append("%s: listed in dcm_qa_dev_expected.txt but there is no such repo" % r)

    print("image_data %s --of nifti [options] OUT <repo>/In  (data: %s)" % (
        os.path.relpath(image_data), args.data))
    print(table(repo_rows, ("repo", "exit", "verdict", "seconds", "outputs", "stderr (the line that explains the exit)")))
    if args.verbose:
        for r in repos:
            print("\n--- %s: %s" % (r, " ".join(runs[r]["command"])))
            for path, shape in runs[r]["outputs"]:
                print("    %s %s" % (fmt_shape(shape), path))
            sys.stdout.write("".join("    | %s\n" % l for l in runs[r]["stderr"].splitlines()))
    print()
    print(table(rows, ("reference", "status", "detail")))
    print()
    for p in problems:
        print("FAIL: %s" % p)
    if args.keep:
        print("outputs kept in %s/<repo>/" % os.path.abspath(args.keep))
    print("time: %.1f s (%d repo(s), %d at once)" % (time.time() - started, len(repos), args.jobs))
    print("dcm_qa_dev: %d matched, %d unexpected, %d expected failures"
          % (counts["matched"], counts["unexpected"], counts["expected"]))
    return 1 if problems else 0


def folder_bytes(path):
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(folder, name))
            except OSError:
                pass
    return total


if __name__ == "__main__":
    sys.exit(main())
