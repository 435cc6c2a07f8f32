#!/usr/bin/env python3
"""dicom_dump --json against pydicom, the oracle.

usage: dicom_json_compare.py DICOM_DUMP FILE...

For every FILE, pydicom's dcmread(FILE).to_json_dict() (everything inline) is
compared element for element with `dicom_dump --json --pixel-data FILE`:
the same tags, the same VR, the same values (numbers within a relative 1e-9,
strings exactly, InlineBinary after base64 decoding, PN by component group),
recursively into sequences. Our output is also checked against the DICOM
JSON model itself (PS3.18 F.2): key form and order, member names, value types.

When pydicom refuses a file (dcmread or to_json_dict raises), dicom_dump must
refuse it too: a non-zero exit below 128 that is not 70 (internal error), and
one line on stderr naming the file. Exception: a file without the "DICM"
header (InvalidDicomError) is a bare data set, which imd_dicom_read() reads by
design; it is compared with pydicom's dcmread(FILE, force=True), the mode in
which pydicom reads bare data sets.

pydicom 2.3 departs from PS3.18 in a few ways; dicom_dump follows the
standard, and the comparison accounts for each, explicitly:
  [G] Group Length (gggg,0000): pydicom keeps them; F.2.2 leaves them out.
  [N] An empty value in a multi-valued element: pydicom gives ""; F.2.5 null.
  [P] PN: pydicom always gives "Alphabetic" (possibly ""), and "Ideographic" /
      "Phonetic" whenever '=' is present, even when empty; F.2.2 encodes "the
      non-empty name components" only. Both are compared with empty groups
      dropped.
  [S] A sequence without items: pydicom gives "Value": []; F.2.5 says an
      empty attribute has no "Value".
  [E] OW/OF/OL/OD/OV of a big-endian file: pydicom gives the file's bytes
      unswapped; dicom_dump gives the value little endian, as the data set
      holds it (F.2.7: "all rules (e.g., byte ordering and swapping) in DICOM
      apply", and JSON carries no transfer syntax). Compared after swapping
      pydicom's bytes unit by unit.
  [V] A private element whose VR the file does not give (implicit VR), or
      gives as UN: pydicom takes the VR from its private dictionary (or LO for
      a private creator) and converts the value; dicom_dump has no private
      dictionary and keeps such an element as UN, which PS3.5 §6.2.2 allows.
      Compared as bytes: our InlineBinary against the value bytes in the file.
  [W] Padding inside multi-valued text: PS3.5 Table 6.2-1 makes the spaces
      around each value padding, not content (trailing ones for every
      multi-valued text VR; leading ones too for AE AS CS DA DS DT IS TM UI),
      and imd_dicom_element_string() removes them value by value; pydicom
      only removes the padding at the end of the whole string
      ("DERIVED \\PRIMARY" gives "DERIVED "). Compared without that padding.
The rules applied are counted and printed for each file.
"""
import base64
import json
import math
import os
import re
import subprocess
import sys
import warnings

import pydicom
from pydicom.errors import InvalidDicomError

REL_TOL = 1e-9
NUMBER_VRS = {"IS", "DS", "FL", "FD", "SL", "SS", "SV", "UL", "US", "UV"}
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
STRING_VRS = {"AE", "AS", "AT", "CS", "DA", "DT", "LO", "LT", "SH", "ST", "TM", "UC", "UI",
              "UR", "UT"}
SWAP_UNIT = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}
SANITIZER = re.compile(r"Sanitizer|runtime error:")
MAX_SHOWN = 6

# Files (base names) where pydicom itself is wrong by the standard. Each entry
# maps an element path ("TAG" or "SEQTAG/0/TAG"), or "*" for the whole file,
# to the reason. Keep it minimal: every entry is a claim about pydicom.
ALLOWED = {
    "no_meta.dcm": {
        "*": "CT_small.dcm without its file meta group, but with a stray byte 0x20 before "
             "(0008,0005): not DICOM. pydicom's dcmread() refuses it; with force=True it "
             "misreads 20 08 00 05 as tag (0820,0500) with a value length of 173228800, past "
             "the end of the 38871-byte file (PS3.5 7.1.1: the value length is the number of bytes "
             "that follow), and returns the rest of the file as that value. dicom_dump refuses "
             "it, as pydicom's dcmread() does."
    },
}


def short(value, limit=100):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


class Context:
    def __init__(self, path, force, big_endian):
        self.path = path
        self.force = force
        self.big_endian = big_endian
        self._raw = None
        self.rules = {}

    def rule(self, name):
        self.rules[name] = self.rules.get(name, 0) + 1
        return True

    def raw_bytes(self, path):
        """The value bytes of an element in the file, by a fresh dcmread (values unconverted)."""
        if self._raw is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._raw = pydicom.dcmread(self.path, force=self.force)
        dataset = self._raw
        for i in range(0, len(path) - 1, 2):
            dataset = dataset[int(path[i], 16)].value[path[i + 1]]
        element = dataset.get_item(int(path[-1], 16))
        value = element.value if element is not None else None
        return bytes(value) if isinstance(value, (bytes, bytearray)) else None


def path_text(path):
    return "/".join(str(p) for p in path)


def is_private(key):
    return int(key[:4], 16) % 2 == 1


# ---- our output against the DICOM JSON model (PS3.18 F.2) ----

def check_model(obj, path, problems):
    if not isinstance(obj, list):
        problems.append((path, "a data set must be a JSON object"))
        return
    keys = [k for k, _ in obj]
    for key in keys:
        if not re.fullmatch(r"[0-9A-F]{8}", key):
            problems.append((path + [key], "key is not 8 uppercase hex digits"))
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        problems.append((path, "keys are not in ascending order, or repeat"))
    for key, attribute in obj:
        here = path + [key]
        if not isinstance(attribute, list):
            problems.append((here, "attribute is not an object"))
            continue
        members = dict(attribute)
        vr = members.get("vr")
        if not isinstance(vr, str) or len(members) != len(attribute):
            problems.append((here, "no \"vr\", or repeated members"))
            continue
        extra = set(members) - {"vr", "Value", "InlineBinary"}
        if extra or ("Value" in members and "InlineBinary" in members):
            problems.append((here, "unexpected members %s" % sorted(set(members) - {"vr"})))
        if key.endswith("0000"):
            problems.append((here, "Group Length included (F.2.2 leaves it out)"))
        if "InlineBinary" in members:
            if vr not in BINARY_VRS:
                problems.append((here, "InlineBinary for VR %s" % vr))
            try:
                base64.b64decode(members["InlineBinary"], validate=True)
            except (ValueError, TypeError):
                problems.append((here, "InlineBinary is not base64"))
        if "Value" not in members:
            continue
        values = members["Value"]
        if not isinstance(values, list) or not values:
            problems.append((here, "Value is not a non-empty array"))
            continue
        for i, value in enumerate(values):
            if vr == "SQ":
                check_model(value, here + [i], problems)
            elif value is None:
                if len(values) == 1:
                    problems.append((here, "a single null value (should have no Value)"))
            elif vr == "PN":
                if (not isinstance(value, list) or not value or
                        any(k not in ("Alphabetic", "Ideographic", "Phonetic") or
                            not isinstance(v, str) or v == "" for k, v in value)):
                    problems.append((here, "PN value %s is not a name object" % short(value)))
            elif vr in NUMBER_VRS:
                if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                    problems.append((here, "%s value %s is not a number" % (vr, short(value))))
                elif isinstance(value, str) and vr not in ("IS", "DS", "SV", "UV"):
                    problems.append((here, "%s value %s is a string" % (vr, short(value))))
            elif vr in STRING_VRS:
                if not isinstance(value, str):
                    problems.append((here, "%s value %s is not a string" % (vr, short(value))))
                elif vr == "AT" and not re.fullmatch(r"[0-9A-F]{8}", value):
                    problems.append((here, "AT value %s is not GGGGEEEE" % value))
            else:
                problems.append((here, "Value for VR %s" % vr))


# ---- ours against pydicom ----

def normalize_pn(value):
    """[P]: drop empty groups; a name without any group is empty."""
    if value is None or value == "":
        return None
    groups = {k: v for k, v in value.items() if v not in ("", None)}
    return groups or None


LEADING_PADDING_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"}
SINGLE_VALUED_TEXT_VRS = {"LT", "ST", "UT", "UR"}


def unpad(vr, text):
    """[W]: a value without the spaces PS3.5 makes padding."""
    if vr in SINGLE_VALUED_TEXT_VRS:
        return text
    text = text.rstrip(" ")
    return text.lstrip(" ") if vr in LEADING_PADDING_VRS else text


def same_number(ours, theirs):
    if ours is None or theirs is None:
        return ours is None and theirs is None
    try:
        a, b = float(ours), float(theirs)
    except (TypeError, ValueError):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if isinstance(theirs, int) and isinstance(ours, int):
        return ours == theirs  # exact for 64-bit integers
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)


def swap(data, unit):
    return b"".join(data[i:i + unit][::-1] for i in range(0, len(data) - len(data) % unit, unit))


def compare_values(ours, theirs, vr, path, context, diffs):
    if vr == "SQ":
        if not ours and theirs == []:
            context.rule("S")
        ours_items, their_items = ours or [], theirs or []  # [S]
        if len(ours_items) != len(their_items):
            diffs.append((path, "%d items, pydicom %d" % (len(ours_items), len(their_items))))
            return
        for i, (a, b) in enumerate(zip(ours_items, their_items)):
            compare_dataset(a, b, path + [i], context, diffs)
        return
    ours, theirs = ours or [], theirs or []
    if len(ours) != len(theirs):
        diffs.append((path, "%s Value %s, pydicom %s" % (vr, short(ours), short(theirs))))
        return
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if vr == "PN":
            equal = normalize_pn(a) == normalize_pn(b)
            if equal and a != b:
                context.rule("P" if b not in ("", None) else "N")
        elif vr in NUMBER_VRS:
            equal = same_number(a, b)
        else:
            a_text, b_text = (a if a is not None else ""), (b if b is not None else "")  # [N]
            if a is None and b == "":
                context.rule("N")
            if a_text != b_text and a_text == unpad(vr, b_text):  # [W]
                context.rule("W")
                b_text = a_text
            equal = a_text == b_text
        if not equal:
            diffs.append((path, "%s value %d: %s, pydicom %s" % (vr, i, short(a), short(b))))
            return


def compare_element(ours, theirs, path, context, diffs):
    key = path[-1]
    ours_vr, their_vr = ours["vr"], str(theirs["vr"])
    ours_binary = base64.b64decode(ours.get("InlineBinary", ""))
    if ours_vr != their_vr:
        if ours_vr == "UN" and is_private(key) and their_vr != "SQ":  # [V]
            raw = context.raw_bytes(path)
            if raw is not None and raw == ours_binary:
                context.rule("V")
                return
            diffs.append((path, "UN %s bytes, pydicom %s %s from file bytes %s" % (
                short(ours.get("InlineBinary")), their_vr, short(theirs.get("Value")),
                short(raw.hex() if raw is not None else None))))
            return
        diffs.append((path, "VR %s, pydicom %s (ours %s, pydicom %s)" % (
            ours_vr, their_vr, short(ours), short(theirs))))
        return
    if ours_vr in BINARY_VRS:
        if ("Value" in ours) or ("Value" in theirs):
            diffs.append((path, "Value for binary VR: ours %s, pydicom %s" % (
                short(ours), short(theirs))))
            return
        their_binary = base64.b64decode(theirs.get("InlineBinary", ""))
        if ours_binary == their_binary:
            return
        unit = SWAP_UNIT.get(ours_vr)
        if context.big_endian and unit and ours_binary == swap(their_binary, unit):  # [E]
            context.rule("E")
            return
        first = next((i for i, (a, b) in enumerate(zip(ours_binary, their_binary)) if a != b),
                     min(len(ours_binary), len(their_binary)))
        diffs.append((path, "%s InlineBinary differs: %d bytes, pydicom %d, first difference "
                            "at byte %d" % (ours_vr, len(ours_binary), len(their_binary), first)))
        return
    if "InlineBinary" in ours or "InlineBinary" in theirs:
        diffs.append((path, "InlineBinary for %s: ours %s, pydicom %s" % (
            ours_vr, short(ours), short(theirs))))
        return
    compare_values(ours.get("Value"), theirs.get("Value"), ours_vr, path, context, diffs)


def compare_dataset(ours, theirs, path, context, diffs):
    their_keys = {k for k in theirs if not k.endswith("0000")}  # [G]
    for _ in range(len(theirs) - len(their_keys)):
        context.rule("G")
    for key in sorted(set(ours) | their_keys):
        here = path + [key]
        if key not in ours:
            diffs.append((here, "missing; pydicom has %s" % short(theirs[key])))
        elif key not in their_keys:
            diffs.append((here, "not in pydicom's; ours %s" % short(ours[key])))
        else:
            compare_element(ours[key], theirs[key], here, context, diffs)


# ---- one file ----

def pydicom_json(path):
    """(json dict, Context) or (None, reason pydicom refuses)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        force = False
        try:
            dataset = pydicom.dcmread(path)
        except InvalidDicomError:
            force = True  # a bare data set: pydicom reads those with force=True only
            try:
                dataset = pydicom.dcmread(path, force=True)
            except Exception as error:  # noqa: BLE001 (any refusal counts)
                return None, "dcmread(force=True): %s: %s" % (type(error).__name__, error)
        except Exception as error:  # noqa: BLE001
            return None, "dcmread: %s: %s" % (type(error).__name__, error)
        try:
            result = dataset.to_json_dict(bulk_data_threshold=1 << 62)
        except Exception as error:  # noqa: BLE001
            return None, "to_json_dict: %s: %s" % (type(error).__name__, error)
    # VR members are pydicom enums: make it plain JSON.
    result = json.loads(json.dumps(result))
    return result, Context(path, force, not dataset.is_little_endian)


def run_ours(dump, path):
    try:
        done = subprocess.run([dump, "--json", "--pixel-data", path], capture_output=True,
                              timeout=600)
    except subprocess.TimeoutExpired:
        return None, b"", b"timed out"
    return done.returncode, done.stdout, done.stderr


def check_file(dump, path):
    """(passed, mode, lines to print)."""
    name = os.path.basename(path)
    theirs, context = pydicom_json(path)
    code, stdout, stderr_bytes = run_ours(dump, path)
    stderr = stderr_bytes.decode("utf-8", "replace")
    lines = [line for line in stderr.splitlines() if line]
    allowed = ALLOWED.get(name, {})
    out = []
    if code is None:
        return False, "", ["dicom_dump timed out"]
    if SANITIZER.search(stderr) or code < 0 or code >= 128:
        return False, "", ["dicom_dump crashed (exit %d): %s" % (code, stderr[-2000:])]
    if code == 70:
        return False, "", ["dicom_dump: internal error (exit 70): %s" % stderr.strip()]

    if theirs is None:
        reason = context
        if code != 0:
            if len(lines) == 1 and lines[0].startswith("dicom_dump: ") and name in lines[0]:
                return True, "both refuse", ["pydicom: %s" % reason, "ours (exit %d): %s" % (
                    code, lines[0])]
            return False, "", ["refused (exit %d) but stderr is not one line naming the file: "
                               "%r" % (code, stderr)]
        if "*" in allowed:
            return True, "allowed", ["allowed: %s" % allowed["*"], "pydicom: %s" % reason]
        return False, "", ["pydicom refuses (%s) but dicom_dump succeeded" % reason]

    mode = "force=True" if context.force else "default"
    if code != 0:
        if "*" in allowed and len(lines) == 1 and name in lines[0]:
            return True, "allowed", ["allowed: %s" % allowed["*"], "ours (exit %d): %s" % (
                code, stderr.strip())]
        return False, mode, ["dicom_dump failed (exit %d): %s" % (code, stderr.strip())]
    warning_prefix = "dicom_dump: %s: warning: " % path
    bad_lines = [line for line in lines if not line.startswith(warning_prefix)]
    if bad_lines:
        out.append("stderr has more than warnings: %r" % bad_lines[:3])
    try:
        pairs = json.loads(stdout, object_pairs_hook=lambda p: p)
        ours = json.loads(stdout)
    except ValueError as error:
        return False, mode, ["stdout is not JSON: %s" % error]
    problems = []
    check_model(pairs, [], problems)
    for where, what in problems:
        out.append("JSON model: %s: %s" % (path_text(where), what))
    diffs = []
    if isinstance(ours, dict):
        compare_dataset(ours, theirs, [], context, diffs)
    failed = bool(out)
    shown = 0
    for where, what in diffs:
        text = path_text(where)
        reason = allowed.get(text, allowed.get("*"))
        if reason is not None:
            out.append("allowed: %s: %s (%s)" % (text, what, reason))
            continue
        failed = True
        if shown < MAX_SHOWN:
            out.append("%s: %s" % (text, what))
        shown += 1
    if shown > MAX_SHOWN:
        out.append("... %d more differences" % (shown - MAX_SHOWN))
    if context.rules:
        out.append("rules: " + ", ".join("[%s] %d" % (k, v) for k, v in sorted(context.rules.items())))
    for line in lines:
        if line.startswith(warning_prefix):
            out.append("warning: %s" % line[len(warning_prefix):])
    return not failed, mode, out


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    dump, files = argv[1], argv[2:]
    passed = failed = 0
    for path in files:
        ok, mode, lines = check_file(dump, path)
        label = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
        print("%s: %s%s" % ("PASS" if ok else "FAIL", label, " (%s)" % mode if mode else ""))
        for line in lines:
            print("    " + line)
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
