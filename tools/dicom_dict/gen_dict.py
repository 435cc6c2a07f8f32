#!/usr/bin/python3
"""Generate the DICOM data dictionary tables of src/dicom from pydicom's data.

The facts come from the dictionaries that pydicom installs as Python data
(pydicom/_dicom_dict.py: DicomDictionary and RepeatersDictionary; and
pydicom/_uid_dict.py: UID_dictionary), themselves generated from the DICOM
standard (PS3.6, PS3.7). Only the data is used; nothing of pydicom's code.

Outputs (in src/dicom, checked in, deterministic):
  dict_data.inc           exact tags, sorted by tag
  dict_masked.inc         repeating groups (60xx...), most specific mask first
  dict_keyword_index.inc  both tables' rows sorted by keyword
  uid_data.inc            UIDs sorted by UID, then an index sorted by keyword
  tags.h                  IMD_TAG_<Keyword> constants for every keyword, sorted by keyword

Usage:
  gen_dict.py                 regenerate the files in src/dicom
  gen_dict.py --output DIR    write them into DIR instead
  gen_dict.py --check         regenerate into a temporary folder, compare with
                              the committed files (exit 1 when they differ),
                              and cross-check the tags with DCMTK's dicom.dic
                              (differences are reported, never fatal)

Exit codes: 0 done / up to date; 1 the committed files differ; 2 usage or
input error (pydicom missing, unknown VR text...); 3 (--check) the installed
pydicom is not the version the committed files were generated from.

Standard-library Python 3 only; run with /usr/bin/python3.
"""

import argparse
import difflib
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_OUTPUT = os.path.join(SOURCE_ROOT, "src", "dicom")
DCMTK_DICTIONARY = "/usr/share/libdcmtk17/dicom.dic"
OUTPUT_FILES = ("dict_data.inc", "dict_masked.inc", "dict_keyword_index.inc", "uid_data.inc",
                "tags.h")

# The 34 VRs of PS3.5 §6.2, each IMD_VR_<name>.
STANDARD_VRS = (
    "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL "
    "UN UR US UT UV"
).split()

# Dictionary-only VR texts. "US or OW" is LUT Data (0028,3006): ImdVR has no
# such choice; the LUT data choice (as DCMTK's "lt") is "US or SS or OW".
CHOICE_VRS = {
    "OB or OW": "IMD_VR_OB_OW",
    "US or SS": "IMD_VR_US_SS",
    "US or SS or OW": "IMD_VR_US_SS_OW",
    "US or OW": "IMD_VR_US_SS_OW",
    "NONE": "IMD_VR_NONE",
    "": "IMD_VR_NONE",
}

# A masked row matches the tags whose bits under the mask equal the value; the
# keyword index marks rows of the masked table with this bit (see dict_tables.h).
MASKED_INDEX_BIT = 0x8000

# tags.h defines IMD_TAG_<keyword>; these names are the public header's own macros.
RESERVED_TAG_NAMES = ("GROUP", "ELEMENT")


class InputError(Exception):
    pass


def vr_symbol(vr, where):
    if vr in STANDARD_VRS:
        return "IMD_VR_" + vr
    if vr in CHOICE_VRS:
        return CHOICE_VRS[vr]
    raise InputError("%s: unknown VR text %r: decide how gen_dict.py maps it" % (where, vr))


def retired_flag(text, where):
    if text == "":
        return 0
    if text == "Retired":
        return 1
    raise InputError("%s: unknown retired text %r" % (where, text))


def c_string(text):
    """A C string literal; anything but printable ASCII becomes an octal escape."""
    out = ['"']
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\?':  # '?' too: no trigraphs in strict C11
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append("\\%03o" % byte)
    out.append('"')
    return "".join(out)


def load_pydicom():
    """pydicom's dictionaries and version, or InputError."""
    try:
        from pydicom import _dicom_dict, _uid_dict, _version
    except ImportError as exc:
        raise InputError("cannot import pydicom (%s): install python3-pydicom" % exc)
    version = getattr(_version, "__version__", "unknown")
    edition = getattr(_version, "__dicom_version__", None)
    return (_dicom_dict.DicomDictionary, _dicom_dict.RepeatersDictionary,
            _uid_dict.UID_dictionary, version, edition)


def parse_mask(text):
    """'60xx3000' -> (0x60003000, 0xff00ffff)."""
    if not re.fullmatch(r"[0-9A-Fa-fx]{8}", text):
        raise InputError("repeater %r: not 8 hex digits or 'x'" % text)
    value = int(text.replace("x", "0"), 16)
    mask = int("".join("0" if c == "x" else "F" for c in text), 16)
    return value, mask


def build(dictionary, repeaters, uids):
    """The rows of every table, as plain Python data (sorted, checked)."""
    exact = []
    for tag in sorted(dictionary):
        vr, vm, _name, retired, keyword = dictionary[tag]
        where = "(%04X,%04X)" % (tag >> 16, tag & 0xFFFF)
        if not 0 <= tag <= 0xFFFFFFFF:
            raise InputError("%s: not a 32-bit tag" % where)
        exact.append((tag, vr_symbol(vr, where), vm, retired_flag(retired, where), keyword))

    masked = []
    for text, (vr, vm, _name, retired, keyword) in repeaters.items():
        value, mask = parse_mask(text)
        where = "repeater " + text
        masked.append((value, mask, vr_symbol(vr, where), vm, retired_flag(retired, where),
                       keyword))
    # Most specific mask first (most bits set), then by value: the first match wins.
    masked.sort(key=lambda row: (-bin(row[1]).count("1"), row[0], row[1]))

    if len(exact) >= MASKED_INDEX_BIT or len(masked) >= MASKED_INDEX_BIT:
        raise InputError("too many rows for a 15-bit keyword index")

    # Keyword index over both tables; rows without a keyword (a few retired
    # tags) are looked up by tag only.
    named = [(row[4], i) for i, row in enumerate(exact) if row[4]]
    named += [(row[5], MASKED_INDEX_BIT | i) for i, row in enumerate(masked) if row[5]]
    named.sort()
    for (a, _), (b, _) in zip(named, named[1:]):
        if a == b:
            raise InputError("keyword %s names two tags" % a)
    for keyword, _ in named:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", keyword):
            raise InputError("keyword %r is not alphanumeric" % keyword)
        if keyword in RESERVED_TAG_NAMES:
            raise InputError("keyword %s would redefine the macro IMD_TAG_%s of "
                             "include/imagedata/dicom.h" % (keyword, keyword))

    # UIDs: entries with neither name nor keyword (two retired SOP classes)
    # carry nothing to look up and are left out.
    uid_rows = []
    for uid in sorted(uids):
        name, _kind, _info, retired, keyword = uids[uid]
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", uid) or len(uid) > 64:
            raise InputError("UID %r is not a valid UID" % uid)
        if not name and not keyword:
            continue
        uid_rows.append((uid, name, keyword, retired_flag(retired, "UID " + uid)))
    uid_named = sorted((row[2], i) for i, row in enumerate(uid_rows) if row[2])
    for (a, _), (b, _) in zip(uid_named, uid_named[1:]):
        if a == b:
            raise InputError("UID keyword %s names two UIDs" % a)
    return exact, masked, named, uid_rows, uid_named


def header(source, what):
    return [
        "/* generated by tools/dicom_dict/gen_dict.py from %s; do not edit */" % source,
        "/* %s */" % what,
    ]


def render(tables, source):
    exact, masked, named, uid_rows, uid_named = tables
    files = {}

    lines = header(source, "%d rows {tag, VR, VM, retired, keyword}, ascending tags"
                   % len(exact))
    for tag, vr, vm, retired, keyword in exact:
        lines.append("{0x%08Xu, %s, %s, %d, %s}," % (tag, vr, c_string(vm), retired,
                                                     c_string(keyword)))
    files["dict_data.inc"] = lines

    lines = header(source, "%d rows {value, mask, VR, VM, retired, keyword}, most specific "
                   "mask first" % len(masked))
    for value, mask, vr, vm, retired, keyword in masked:
        lines.append("{0x%08Xu, 0x%08Xu, %s, %s, %d, %s}," % (value, mask, vr, c_string(vm),
                                                             retired, c_string(keyword)))
    files["dict_masked.inc"] = lines

    lines = header(source, "%d rows sorted by keyword: an index into dict_data.inc, or "
                   "0x%04X | an index into dict_masked.inc" % (len(named), MASKED_INDEX_BIT))
    for keyword, index in named:
        lines.append("0x%04Xu, /* %s */" % (index, keyword))
    files["dict_keyword_index.inc"] = lines

    lines = header(source, "%d UIDs {UID, name, keyword, retired} sorted by UID; with "
                   "IMD_UID_KEYWORD_INDEX defined, %d row indices sorted by keyword"
                   % (len(uid_rows), len(uid_named)))
    lines.append("#ifndef IMD_UID_KEYWORD_INDEX")
    for uid, name, keyword, retired in uid_rows:
        lines.append("{%s, %s, %s, %d}," % (c_string(uid), c_string(name), c_string(keyword),
                                           retired))
    lines.append("#else")
    for keyword, index in uid_named:
        lines.append("%du, /* %s */" % (index, keyword))
    lines.append("#endif")
    files["uid_data.inc"] = lines

    # Keyword constants: #define rather than an enum, because tags above
    # 0x7FFFFFFF (the FFFE items) are not int constants; a #define of an
    # unsigned literal works in a switch and in static initialisers alike.
    # A repeating-group keyword (60xx3000) names the value of its first group.
    lines = header(source, "%d keyword constants IMD_TAG_<Keyword> = the tag imd_dicom_tag() "
                   "gives, sorted by keyword" % len(named))
    lines += ["#ifndef IMAGEDATA_DICOM_TAGS_H", "#define IMAGEDATA_DICOM_TAGS_H", ""]
    for keyword, index in named:
        if index & MASKED_INDEX_BIT:
            value, mask = masked[index & ~MASKED_INDEX_BIT][:2]
            lines.append("#define IMD_TAG_%s 0x%08Xu /* repeating: mask 0x%08X */"
                         % (keyword, value, mask))
        else:
            lines.append("#define IMD_TAG_%s 0x%08Xu" % (keyword, exact[index][0]))
    lines += ["", "#endif"]
    files["tags.h"] = lines

    return {name: "\n".join(body) + "\n" for name, body in files.items()}


def write_files(contents, folder):
    os.makedirs(folder, exist_ok=True)
    for name in OUTPUT_FILES:
        path = os.path.join(folder, name)
        with open(path, "w", encoding="ascii", newline="\n") as out:
            out.write(contents[name])


# ---- cross-check with DCMTK's dicom.dic ----

DCMTK_VRS = {"xs": "US or SS", "ox": "OB or OW", "px": "OB or OW", "lt": "US or SS or OW",
             "na": "NONE", "up": "UL"}


def dcmtk_range(text):
    """'6000-60FF' -> (value, mask) for an aligned power-of-two span; 'gggg' -> exact."""
    match = re.fullmatch(r"([0-9A-F]{4})(?:-([ou]-)?([0-9A-F]{4}))?", text)
    if not match:
        return None
    low = int(match.group(1), 16)
    if match.group(3) is None:
        return low, 0xFFFF
    high = int(match.group(3), 16)
    span = high - low + 1
    if span & (span - 1) or low & (span - 1):
        return None
    return low, 0xFFFF & ~(span - 1)


def cross_check(path, tables):
    """Compare our tag tables with DCMTK's dictionary; report, never fail."""
    exact, masked, _named, _uid_rows, _uid_named = tables
    if not os.path.exists(path):
        print("cross-check: %s not found (Debian package libdcmtk17); skipped" % path)
        return
    ours_exact = {row[0]: (row[1], row[4]) for row in exact}
    ours_masked = {(row[0], row[1]): (row[2], row[5]) for row in masked}

    def masked_lookup(tag):
        if (tag >> 16) & 1:
            return None
        for value, mask, vr, _vm, _retired, keyword in masked:  # most specific first
            if tag & mask == value:
                seen_masked.add((value, mask))
                return vr, keyword
        return None

    vr_differs, keyword_differs, only_dcmtk, compared, skipped = [], [], [], 0, 0
    seen_exact, seen_masked = set(), set()
    with open(path, encoding="utf-8", errors="replace") as dic:
        for line in dic:
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) < 5:
                continue
            tag_text, vr, name, _vm, version = fields[:5]
            if version in ("PRIVATE", "ILLEGAL", "GENERIC"):
                skipped += 1
                continue
            match = re.fullmatch(r"\(([^,]+),([^)]+)\)", tag_text)
            group = dcmtk_range(match.group(1)) if match else None
            element = dcmtk_range(match.group(2)) if match else None
            if group is None or element is None:
                skipped += 1
                continue
            value = group[0] << 16 | element[0]
            mask = group[1] << 16 | element[1]
            if mask == 0xFFFFFFFF:
                entry = ours_exact.get(value)
                if entry is not None:
                    seen_exact.add(value)
                else:
                    entry = masked_lookup(value)
            else:
                entry = ours_masked.get((value, mask))
                if entry is not None:
                    seen_masked.add((value, mask))
            if name.startswith("RETIRED_"):
                name = name[len("RETIRED_"):]
            vr = DCMTK_VRS.get(vr, vr)
            theirs_vr = CHOICE_VRS[vr] if vr in CHOICE_VRS else "IMD_VR_" + vr
            label = "(%04X,%04X)" % (value >> 16, value & 0xFFFF)
            if mask != 0xFFFFFFFF:
                label += " mask %08X" % mask
            if entry is None:
                only_dcmtk.append("%s %s %s (%s)" % (label, vr, name, version))
                continue
            compared += 1
            if entry[0] != theirs_vr:
                vr_differs.append("%s %s: ours %s, dcmtk %s" % (label, name, entry[0][7:], vr))
            if entry[1] != name:
                keyword_differs.append("%s: ours %r, dcmtk %r" % (label, entry[1], name))

    only_ours = ["(%04X,%04X) %s %s" % (tag >> 16, tag & 0xFFFF, entry[0][7:], entry[1])
                 for tag, entry in sorted(ours_exact.items()) if tag not in seen_exact]
    only_ours += ["%08X mask %08X %s %s" % (key[0], key[1], entry[0][7:], entry[1])
                  for key, entry in sorted(ours_masked.items()) if key not in seen_masked]
    print("cross-check with %s:" % path)
    print("  %d entries compared, %d not comparable (private/illegal/generic)"
          % (compared, skipped))
    print("  %d differ in VR, %d differ in keyword" % (len(vr_differs), len(keyword_differs)))
    print("  %d only in dcmtk, %d only in pydicom" % (len(only_dcmtk), len(only_ours)))
    for item in vr_differs:
        print("  VR: " + item)
    for item in keyword_differs:
        print("  keyword: " + item)
    for item in only_dcmtk:
        print("  only in dcmtk: " + item)
    for item in only_ours:
        print("  only in pydicom: " + item)


def committed_source(folder):
    """The 'from pydicom X' text of the committed dict_data.inc, or None."""
    try:
        with open(os.path.join(folder, "dict_data.inc"), encoding="ascii") as inc:
            first = inc.readline()
    except OSError:
        return None
    match = re.search(r"from (.*); do not edit", first)
    return match.group(1) if match else None


def check(contents, folder, source):
    committed = committed_source(folder)
    if committed is not None and committed != source:
        print("gen_dict.py --check: the committed tables come from %s, the installed data is "
              "%s: cannot compare" % (committed, source))
        return 3
    different = []
    with tempfile.TemporaryDirectory(prefix="imd_dict_") as temp:
        write_files(contents, temp)
        for name in OUTPUT_FILES:
            with open(os.path.join(temp, name), encoding="ascii") as fresh:
                new = fresh.read()
            try:
                with open(os.path.join(folder, name), encoding="ascii",
                          errors="replace") as old_file:
                    old = old_file.read()
            except OSError:
                old = ""
            if old != new:
                different.append(name)
                diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(),
                                                 "committed/" + name, "generated/" + name,
                                                 lineterm="", n=1))
                for line in diff[:40]:
                    print(line)
                if len(diff) > 40:
                    print("... (%d more diff lines)" % (len(diff) - 40))
    if different:
        print("gen_dict.py --check: out of date against %s: %s; regenerate with "
              "/usr/bin/python3 tools/dicom_dict/gen_dict.py" % (source, ", ".join(different)))
        return 1
    print("gen_dict.py --check: %s are up to date (%s)" % (", ".join(OUTPUT_FILES), source))
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the committed files with fresh output; cross-check "
                             "with DCMTK")
    parser.add_argument("--output", default=DEFAULT_OUTPUT,
                        help="folder of the .inc files (default: src/dicom)")
    parser.add_argument("--dcmtk", default=DCMTK_DICTIONARY,
                        help="DCMTK's dicom.dic for the cross-check")
    args = parser.parse_args(argv)
    try:
        dictionary, repeaters, uids, version, edition = load_pydicom()
        source = "pydicom " + version
        if edition:
            source += " (DICOM %s)" % edition
        tables = build(dictionary, repeaters, uids)
    except InputError as exc:
        print("gen_dict.py: %s" % exc, file=sys.stderr)
        return 2
    contents = render(tables, source)
    if args.check:
        status = check(contents, args.output, source)
        cross_check(args.dcmtk, tables)
        return status
    write_files(contents, args.output)
    exact, masked, named, uid_rows, uid_named = tables
    print("gen_dict.py: wrote %s in %s from %s: %d tags, %d masked, %d keywords, %d UIDs"
          % (", ".join(OUTPUT_FILES), args.output, source, len(exact), len(masked), len(named),
             len(uid_rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
