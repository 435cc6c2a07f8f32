"""The harness the reference suites share (dicom_reference.py, nifti_reference.py):
a Case collects what it checked and the first differences, compared with
explicit tolerances; Abort ends a case when a program failed."""
import json

import numpy as np


class Abort(Exception):
    """Stops a case (a program failed, so nothing more can be compared)."""


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
