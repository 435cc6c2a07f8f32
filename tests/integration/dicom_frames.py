#!/usr/bin/env python3
"""imd__dicom_frame_attributes() against pydicom, the oracle.

usage: dicom_frames.py DICOM_FRAMES_TOOL [--min-files N] PATH...

Every multi-frame DICOM file under the PATHs (files or folders; a file is
taken when pydicom reads it and it has functional groups or NumberOfFrames >
1; Philips "*_Raw.dcm" raw-data files are skipped) is walked by our test tool
(tests/tools/dicom_frames.c), which prints for each frame the attributes our
walker makes, in the DICOM JSON model. The same frame is walked independently
with pydicom by split_enhanced.frame_attributes() (the rules are in its
docstring), and the two are compared for EVERY frame: the same tags, the same
VRs, numbers within a relative 1e-6, strings exactly (after the padding PS3.5
Table 6.2-1 makes insignificant, removed value by value), sequences
recursively. The frame count, the functional-groups flag and the Dimension
Index Sequence are compared too. Where pydicom's walk finds the groups
inconsistent (FrameError), our tool must report IMD_ERR_CORRUPT at the first
frame, naming the frame and (5200,9230).

Prints the counts (files, frames, values compared, mismatches); exits 1 on
any mismatch, or when fewer than --min-files files were found.
"""
import json
import math
import os
import re
import subprocess
import sys
import warnings

import pydicom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import split_enhanced  # noqa: E402

REL_TOL = 1e-6
LEADING_PAD_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"}
SANITIZER = re.compile(r"Sanitizer|runtime error:")
MAX_SHOWN = 20


class Comparison:
    def __init__(self):
        self.values = 0
        self.mismatches = []

    def fail(self, where, what):
        self.mismatches.append(f"{where}: {what}")

    def text(self, vr, value):
        value = value.rstrip(" \0")
        return value.lstrip(" ") if vr in LEADING_PAD_VRS else value

    def leaf(self, where, vr, ours, theirs):
        self.values += 1
        if isinstance(theirs, (int, float)) and not isinstance(theirs, bool):
            ok = isinstance(ours, (int, float)) and math.isclose(
                float(ours), float(theirs), rel_tol=REL_TOL, abs_tol=1e-12)
        elif isinstance(theirs, str):
            ok = isinstance(ours, str) and self.text(vr, ours) == self.text(vr, theirs)
        elif isinstance(theirs, dict):  # PN
            drop = lambda d: {k: v for k, v in d.items() if v}  # noqa: E731
            ok = isinstance(ours, dict) and drop(ours) == drop(theirs)
        else:
            ok = ours == theirs
        if not ok:
            self.fail(where, f"{vr} ours {ours!r}, pydicom {theirs!r}")

    def dataset(self, where, ours, theirs):
        for key in sorted(set(ours) | set(theirs)):
            at = f"{where}/{key}"
            if key not in theirs:
                self.fail(at, f"ours only: {json.dumps(ours[key])[:200]}")
                continue
            if key not in ours:
                self.fail(at, f"pydicom only: {json.dumps(theirs[key])[:200]}")
                continue
            a, b = ours[key], theirs[key]
            if a.get("vr") != b.get("vr"):
                self.fail(at, f"VR ours {a.get('vr')}, pydicom {b.get('vr')}")
                continue
            vr = b["vr"]
            if "InlineBinary" in b or "InlineBinary" in a:
                self.leaf(at, vr, a.get("InlineBinary"), b.get("InlineBinary"))
                continue
            av, bv = a.get("Value", []), b.get("Value", [])
            if len(av) != len(bv):
                self.fail(at, f"{len(av)} values, pydicom {len(bv)}: {av!r:.200} {bv!r:.200}")
                continue
            for i, (x, y) in enumerate(zip(av, bv)):
                if vr == "SQ":
                    self.dataset(f"{at}[{i}]", x, y)
                else:
                    self.leaf(f"{at}[{i}]", vr, x, y)


def is_multi_frame(path):
    if path.endswith("_Raw.dcm"):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # not DICOM: skipped, as the reader skips it
        return None
    has_groups = ("SharedFunctionalGroupsSequence" in ds or
                  "PerFrameFunctionalGroupsSequence" in ds)
    return ds if has_groups or split_enhanced.frame_count(ds) > 1 else None


def candidates(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    yield os.path.join(root, name)
        else:
            yield path


def main(argv):
    tool = argv[1]
    args = argv[2:]
    min_files = 0
    if args[:1] == ["--min-files"]:
        min_files = int(args[1])
        args = args[2:]
    files = []
    for path in candidates(args):
        ds = is_multi_frame(path)
        if ds is not None:
            files.append((path, ds))
    run = subprocess.run([tool] + [p for p, _ in files], capture_output=True, text=True)
    if run.returncode != 0 or SANITIZER.search(run.stderr):
        print(f"FAIL: {tool} exited {run.returncode}\n{run.stderr[:3000]}")
        return 1
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    c = Comparison()
    frames_compared = errors_expected = 0
    at = 0
    for path, ds in files:
        head = lines[at] if at < len(lines) else {}
        at += 1
        if head.get("file") != path:
            c.fail(path, f"tool output out of step: {head!r:.200}")
            break
        frames = split_enhanced.frame_count(ds)
        has_groups = ("SharedFunctionalGroupsSequence" in ds or
                      "PerFrameFunctionalGroupsSequence" in ds)
        if head["frames"] != frames:
            c.fail(path, f"frames ours {head['frames']}, pydicom {frames}")
        if head["functional_groups"] != has_groups:
            c.fail(path, f"functional groups ours {head['functional_groups']}")
        dims = [(int(d["index"], 16), int(d["group"], 16), d["label"])
                for d in head["dimensions"]]
        if dims != split_enhanced.dimensions(ds)[:16]:
            c.fail(path, f"dimensions ours {dims}, pydicom {split_enhanced.dimensions(ds)}")
        for frame in range(frames):
            line = lines[at] if at < len(lines) else {}
            at += 1
            where = f"{os.path.basename(path)}#{frame + 1}"
            if line.get("frame") != frame:
                c.fail(where, f"tool output out of step: {line!r:.200}")
                break
            try:
                expected = split_enhanced.frame_attributes(ds, frame).to_json_dict()
            except split_enhanced.FrameError as e:
                errors_expected += 1
                message = line.get("error", "")
                if (line.get("code") != "IMD_ERR_CORRUPT" or "(5200,9230)" not in message or
                        f"frame {frame + 1}" not in message):
                    c.fail(where, f"pydicom: {e}; ours: {line!r:.300}")
                break  # the tool stops at a file's first error
            if "attributes" not in line:
                c.fail(where, f"ours failed: {line.get('error')}")
                break
            frames_compared += 1
            c.dataset(where, line["attributes"], expected)
    print(f"{len(files)} files, {frames_compared} frames and {c.values} values compared, "
          f"{errors_expected} inconsistent files refused as pydicom's walk refuses them, "
          f"{len(c.mismatches)} mismatches")
    for m in c.mismatches[:MAX_SHOWN]:
        print("  MISMATCH", m)
    if len(files) < min_files:
        print(f"FAIL: only {len(files)} multi-frame files found, expected at least {min_files}")
        return 1
    return 1 if c.mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
