"""The harness the reference suites share (dicom_reference.py, nifti_reference.py,
dicom_write_reference.py): a Case collects what it checked and the first
differences, compared with explicit tolerances; Abort ends a case when a
program failed, Skip when it cannot run here. Each suite's cases are
functions case_<name>(c); options() and run_cases() are their command line."""
import argparse
import json
import os
import sys
import time
import traceback

import numpy as np


class Abort(Exception):
    """Stops a case (a program failed, so nothing more can be compared)."""


class Skip(Exception):
    """The case cannot run here (a feature not landed, a module missing)."""


MAX_REASONS = 6  # differences printed per failed case


class Case:
    def __init__(self, name):
        self.name = name
        self.checked = []
        self.errors = []
        self.infos = []

    def note(self, what):
        self.checked.append(what)

    def info(self, text):
        """A measured number or an observation, printed under the result."""
        self.infos.append(text)

    def fail(self, what, detail):
        self.errors.append("%s: %s" % (what, detail))

    def true(self, what, condition, detail=""):
        self.note(what)
        if not condition:
            self.fail(what, detail or "does not hold")
        return bool(condition)

    def eq(self, what, got, want):
        self.note(what)
        if got != want:
            self.fail(what, "got %s, expected %s" % (short(got), short(want)))
            return False
        return True

    def close(self, what, got, want, tol):
        self.note(what)
        reason = differ(got, want, tol)
        if reason:
            self.fail(what, "%s (tolerance %g); got %s, expected %s"
                      % (reason, tol, short(got), short(want)))
            return False
        return True


def short(value, limit=200):
    text = json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    return text if len(text) <= limit else text[:limit] + "..."


def differ(got, want, tol, where=""):
    """The first place where got and want differ by more than tol, or None."""
    if isinstance(want, np.ndarray):
        want = want.tolist()
    if isinstance(got, np.ndarray):
        got = got.tolist()
    if isinstance(want, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return "at %s: %s is not a list" % (where or "top", short(got, 40))
        if len(got) != len(want):
            return "at %s: length %d, expected %d" % (where or "top", len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            reason = differ(g, w, tol, "%s[%d]" % (where, i))
            if reason:
                return reason
        return None
    if want is None:
        return None if got is None else "at %s: %s, expected null" % (where or "top", got)
    if not isinstance(got, (int, float, np.integer, np.floating)) or isinstance(got, bool):
        return "at %s: %s is not a number" % (where or "top", short(got, 40))
    if not abs(float(got) - float(want)) <= tol:
        return "at %s: %r vs %r" % (where or "top", got, want)
    return None


def case_name(function):
    return function.__name__[len("case_"):]


def options(doc, cases, programs=("image_info",), keep=False):
    """Parse --case/--list/--data/-v (and --image-info, --image-data, --keep).
    Returns (args, exit code or None); programs default to $IMD_BUILD/cli/."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--case", action="append", default=[], help="run only this case (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the cases")
    for program in programs:
        parser.add_argument("--" + program.replace("_", "-"), default=None,
                            help="the %s program" % program)
    parser.add_argument("--data", default=os.environ.get("IMD_TEST_DATA", ""),
                        help="../shared/data/imagedata")
    if keep:
        parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every check")
    args = parser.parse_args()
    names = [case_name(f) for f in cases]
    if args.list:
        print("\n".join(names))
        return args, 0
    unknown = [n for n in args.case if n not in names]
    if unknown:
        print("unknown case(s): %s; known: %s" % (", ".join(unknown), ", ".join(names)))
        return args, 1
    build = os.environ.get("IMD_BUILD", "")
    for program in programs:
        key = program.replace("-", "_")
        if getattr(args, key) is None:
            setattr(args, key, os.path.join(build, "cli", program))
        if not os.access(getattr(args, key), os.X_OK):
            print("FAIL: setup: %s is not an executable (IMD_BUILD)" % getattr(args, key))
            return args, 1
    args.data = os.path.abspath(args.data) if args.data else ""
    return args, None


def run_case(function, verbose):
    """Run one case and print its result; returns "pass", "fail" or "skip"."""
    c = Case(case_name(function))
    started = time.time()
    skipped = None
    try:
        function(c)
    except Skip as e:
        skipped = str(e)
    except Abort as e:
        c.errors.append(str(e))
    except Exception as e:  # a bug in the suite or output not foreseen: report, go on
        line = traceback.extract_tb(sys.exc_info()[2])[-1]
        c.errors.append("%s: %s (%s:%d)" % (type(e).__name__, e, os.path.basename(line.filename),
                                            line.lineno))
    if skipped is not None and not c.errors:
        print("SKIP: %s: %s" % (c.name, skipped))
        result = "skip"
    elif c.errors:
        print("FAIL: %s: %s" % (c.name, c.errors[0]))
        for reason in c.errors[1:MAX_REASONS]:
            print("      %s" % reason)
        if len(c.errors) > MAX_REASONS:
            print("      ... and %d more differences" % (len(c.errors) - MAX_REASONS))
        result = "fail"
    else:
        print("PASS: %s (%d checks, %.1f s)" % (c.name, len(c.checked), time.time() - started))
        result = "pass"
    limit = 4000 if verbose else (1500 if result == "pass" else 400)
    print("      checked (%d): %s" % (len(c.checked), "; ".join(c.checked)[:limit]))
    for text in c.infos:
        print("      info: %s" % text)
    sys.stdout.flush()
    return result


def run_cases(cases, selected, verbose):
    """Run the selected cases (all when none); the exit code: 1 on a failure,
    77 when every case skipped, else 0."""
    counts = {"pass": 0, "fail": 0, "skip": 0}
    for function in cases:
        if not selected or case_name(function) in selected:
            counts[run_case(function, verbose)] += 1
    print("%d passed, %d failed, %d skipped" % (counts["pass"], counts["fail"], counts["skip"]))
    if counts["fail"]:
        return 1
    return 0 if counts["pass"] else 77
