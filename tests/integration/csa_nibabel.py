#!/usr/bin/python3
"""Compare our Siemens CSA parser (tests/tools/csa_dump) with nibabel's csareader.

Usage: csa_nibabel.py CSA_DUMP [SHARED_DATA]

Inputs: nibabel's own test data (nibabel/nicom/tests/data: raw CSA headers,
Siemens DICOM files incl. mosaics and DWI) and, when SHARED_DATA is given,
every file under dcm_qa_stc/In/Siemens and dcm_qa_fmap/In/Siemens.

For each CSA header (image and series), nibabel's csareader.read() is the
oracle for:
  - the header type, the tag names in order, and per tag vm, vr, syngodt,
    n_items and the last field (77/205);
  - the values: nibabel keeps the first vm items (all when vm is 0), converts
    the numeric VRs and stops them at the first empty item. Our
    imd__csa_item_count must equal the number nibabel keeps; our numbers
    (imd__csa_number) must equal nibabel's numbers exactly (both parse the
    same decimal text, correctly rounded); for text VRs our raw item equals
    nibabel's item, and imd__csa_string equals it without surrounding spaces
    (None when that is empty).
A header nibabel refuses (CSAReadError) must be refused by us too, with one
documented exception: nibabel refuses more than 1000 items in a tag
(MAX_CSA_ITEMS, a limit of its own); we accept any count the bytes hold, so
that case is compared with nibabel's limit raised, as nibabel's own test does.

Every header in these inputs is CSA2. CSA1 is covered by test_csa.c only:
nibabel 5.0 offsets CSA1 item lengths by the n_items of tag 1 (the second
tag; SPM's 1-based "first tag" carried over), where nibabel's documentation
and we use the first tag's, so nibabel cannot serve as the oracle there.

The ImdSiemensImage summary is compared with nibabel's helpers:
get_n_mosaic, get_slice_normal, get_b_value, get_g_vector, B_matrix (the 6
values), MosaicRefAcqTimes (the items) and PhaseEncodingDirectionPositive.

The ASCCONV protocol of each distinct series header is parsed by
nibabel.nicom.ascconv.parse_ascconv(str_delim='""'); every key it yields
(flattened to "a.b[0].c") is looked up with imd__csa_protocol_number /
imd__csa_protocol_string and must give the same number or string. Lines
nibabel's parser cannot take (see compare_protocol) are left out and counted.

Prints one line per mismatch (the first 40) and a summary with counts; exits
1 on any mismatch.
"""
import gzip
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings

warnings.simplefilter("ignore")
import pydicom  # noqa: E402
import nibabel  # noqa: E402
from nibabel.nicom import ascconv, csareader  # noqa: E402

NUMERIC = set(csareader._CONVERTERS)
SPACES = " \t\r\n\v\f"

counts = {"files": 0, "headers": 0, "tags": 0, "values": 0, "summaries": 0,
          "protocols": 0, "protocol_keys": 0, "protocol_lines_left_out": 0, "refused": 0, "absent": 0}
mismatches = []


def mismatch(where, what):
    mismatches.append(f"{where}: {what}")
    if len(mismatches) <= 40:
        print(f"MISMATCH {where}: {what}")


def text(item):
    # nibabel's nt_str returns bytes when an item has no NUL
    return item.decode("latin-1") if isinstance(item, bytes) else item


def nibabel_read(raw):
    """nibabel's reading of a CSA header: ('ok', dict), ('refused', why)."""
    try:
        return "ok", csareader.read(raw)
    except csareader.CSAReadError as error:
        if "Expected <=" in str(error):  # its own 1000-item limit: raise it
            saved = csareader.MAX_CSA_ITEMS
            try:
                csareader.MAX_CSA_ITEMS = 1 << 30
                return "ok", csareader.read(raw)
            finally:
                csareader.MAX_CSA_ITEMS = saved
        return "refused", str(error)


def compare_header(where, ours, raw):
    status, theirs = nibabel_read(raw)
    if status == "refused":
        counts["refused"] += 1
        if ours is None or "error" not in ours:
            mismatch(where, f"nibabel refuses it ({theirs}) but we read it")
        return
    if ours is None or "error" in ours:
        mismatch(where, f"nibabel reads it but we do not: {ours}")
        return
    counts["headers"] += 1
    if ours["type"] != theirs["type"]:
        mismatch(where, f"type {ours['type']} != {theirs['type']}")
    names = []
    for tag in ours["tags"]:
        if tag["name"] not in names:
            names.append(tag["name"])
    if names != list(theirs["tags"]):
        mismatch(where, f"tag names differ: {names[:5]}... vs {list(theirs['tags'])[:5]}...")
        return
    last = {tag["name"]: tag for tag in ours["tags"]}
    for name, their in theirs["tags"].items():
        our = last[name]
        counts["tags"] += 1
        here = f"{where} {name}"
        for key, their_key in (("vm", "vm"), ("vr", "vr"), ("syngodt", "syngodt"),
                               ("n_items", "n_items"), ("xx", "last3")):
            if our[key] != text(their[their_key]):
                mismatch(here, f"{key} {our[key]!r} != {their[their_key]!r}")
        items = their["items"]
        if our["count"] != len(items):
            mismatch(here, f"{our['count']} values != nibabel's {len(items)}: {our['raw'][:8]} vs {items[:8]}")
            continue
        for i, item in enumerate(items):
            counts["values"] += 1
            if their["vr"] in NUMERIC:
                if our["numbers"][i] is None or our["numbers"][i] != item:
                    mismatch(here, f"value {i}: {our['numbers'][i]!r} != {item!r}")
            else:
                item = text(item)
                stripped = item.strip(SPACES) or None
                if our["raw"][i] != item or our["strings"][i] != stripped:
                    mismatch(here, f"value {i}: {our['raw'][i]!r}/{our['strings'][i]!r} != {item!r}")


def same_vector(ours, theirs):
    if theirs is None:
        return ours is None
    return ours is not None and len(ours) == len(theirs) and all(
        float(a) == float(b) for a, b in zip(ours, theirs))


def compare_summary(where, ours, dataset):
    try:
        header = csareader.get_csa_header(dataset, "image")
    except csareader.CSAReadError:
        if "error" not in ours:
            mismatch(where, "summary: nibabel refuses the image header, we do not")
        return
    if "error" in ours:
        mismatch(where, f"summary failed: {ours['error']}")
        return
    counts["summaries"] += 1

    def vector(function, *args):
        try:
            value = function(header, *args) if header is not None else None
        except ValueError:  # not the expected length: nibabel gives up
            return None
        return None if value is None else [float(v) for v in value]

    def scalar(name):
        return csareader.get_scalar(header, name) if header is not None else None

    mosaic = scalar("NumberOfImagesInMosaic")
    expected = {
        "mosaic_images": int(mosaic) if mosaic is not None else 0,
        "slice_normal": vector(csareader.get_slice_normal),
        "b_value": scalar("B_value"),
        "direction": vector(csareader.get_g_vector),
        "b_matrix": vector(csareader.get_vector, "B_matrix", 6),
        "slice_times": None,
        "phase_encoding_positive": -1,
    }
    if header is not None:
        times = header["tags"].get("MosaicRefAcqTimes", {"items": []})["items"]
        expected["slice_times"] = [float(t) for t in times] or None
        phase = scalar("PhaseEncodingDirectionPositive")
        expected["phase_encoding_positive"] = phase if phase in (0, 1) else -1
    for key, value in expected.items():
        got = ours[key]
        if isinstance(value, list) or isinstance(got, list):
            ok = same_vector(got, value)
        elif value is None or got is None:
            ok = value is None and got is None
        else:
            ok = float(got) == float(value)
        if not ok:
            mismatch(where, f"summary {key}: {got!r} != nibabel's {value!r}")


def flatten(prefix, value, out):
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(f"{prefix}.{key}" if prefix else key, item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if item is not None:
                flatten(f"{prefix}[{index}]", item, out)
    else:
        out[prefix] = value


def compare_protocol(dump, where, path, series_raw, seen):
    status, header = nibabel_read(series_raw)
    if status != "ok":
        return
    for name in ("MrPhoenixProtocol", "MrProtocol"):
        tag = header["tags"].get(name)
        if tag and tag["items"] and "### ASCCONV BEGIN" in text(tag["items"][0]):
            protocol = text(tag["items"][0])
            break
    else:
        return
    block = protocol[protocol.index("### ASCCONV BEGIN"):]
    if block in seen:
        return
    seen.add(block)
    try:
        parsed, _ = ascconv.parse_ascconv(block, str_delim='""')
    except Exception:
        # Newer protocols (VD, VE) have lines nibabel's parser cannot take:
        # "a.__attribute__.size" beside "a[0]" (a list used as an object) and
        # keys with numeric parts ("sComment.0", not Python). Those lines are
        # left out of the comparison (counted); the rest is compared.
        lines = block.split("\n")
        kept = [line for line in lines
                if ".__attribute__." not in line and not re.search(r"\.\d+\s*=", line)]
        counts["protocol_lines_left_out"] += len(lines) - len(kept)
        try:
            parsed, _ = ascconv.parse_ascconv("\n".join(kept), str_delim='""')
        except Exception as error:  # nothing to compare with
            print(f"NOTE {where}: nibabel cannot parse the ASCCONV block ({type(error).__name__}); not compared")
            return
    flat = {}
    flatten("", parsed, flat)
    keys = list(flat)
    result = subprocess.run([dump, "--protocol", path], input="\n".join(keys) + "\n",
                            capture_output=True, text=True, encoding="latin-1")
    if result.returncode != 0:
        mismatch(where, f"csa_dump --protocol failed: {result.stderr.strip()}")
        return
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    counts["protocols"] += 1
    for key, line in zip(keys, lines):
        counts["protocol_keys"] += 1
        value = flat[key]
        if isinstance(value, str):
            ok = line["string"] == value
        else:
            ok = line["number"] is not None and float(line["number"]) == float(value)
        if not ok:
            mismatch(where, f"protocol {key}: number {line['number']!r} string {line['string']!r} != {value!r}")
    if len(lines) != len(keys):
        mismatch(where, f"protocol: {len(lines)} answers for {len(keys)} keys")


def run_dump(dump, args):
    result = subprocess.run([dump] + args, capture_output=True, text=True, encoding="latin-1")
    out = {}
    for line in result.stdout.splitlines():
        record = json.loads(line)
        out[record["file"]] = record
    return out, result.stderr


def compare_dicoms(dump, paths, label):
    seen = set()
    ours_all = {}
    for start in range(0, len(paths), 200):
        part, errors = run_dump(dump, paths[start:start + 200])
        ours_all.update(part)
    for path in paths:
        where = f"{label}:{os.path.relpath(path, os.path.dirname(os.path.dirname(path)))}"
        try:
            dataset = pydicom.dcmread(path, force=True)
        except Exception as error:
            if path in ours_all:
                mismatch(where, f"pydicom cannot read it ({error}) but we do")
            continue
        ours = ours_all.get(path)
        if ours is None:
            mismatch(where, "our reader failed (see csa_dump's stderr)")
            continue
        counts["files"] += 1
        for kind, key in (("image", 0x10), ("series", 0x20)):
            raw = None
            if (0x29, 0x10) in dataset:
                start = csareader.find_private_section(dataset, 0x29, "SIEMENS CSA HEADER")
                if start is not None and (0x29, start + key) in dataset:
                    raw = dataset[(0x29, start + key)].value
            if raw is None or len(raw) == 0:
                counts["absent"] += 1
                if ours[kind] is not None:
                    mismatch(f"{where} {kind}", "nibabel finds no CSA header, we do")
                continue
            compare_header(f"{where} {kind}", ours[kind], raw)
            if kind == "series":
                compare_protocol(dump, where, path, raw, seen)
        compare_summary(where, ours["summary"], dataset)


def main():
    dump = sys.argv[1]
    shared = sys.argv[2] if len(sys.argv) > 2 else None
    data = os.path.join(os.path.dirname(nibabel.__file__), "nicom", "tests", "data")
    print(f"nibabel {nibabel.__version__}, pydicom {pydicom.__version__}, data {data}")
    with tempfile.TemporaryDirectory() as tmp:
        raws = []
        dicoms = []
        for name in sorted(os.listdir(data)):
            path = os.path.join(data, name)
            if name.endswith(".gz"):
                unzipped = os.path.join(tmp, name[:-3])
                with gzip.open(path) as source, open(unzipped, "wb") as target:
                    target.write(source.read())
                path, name = unzipped, name[:-3]
            if name.endswith(".bin"):
                raws.append(path)
            elif name.endswith(".dcm"):
                dicoms.append(path)
        ours, _ = run_dump(dump, ["--raw"] + raws)
        for path in raws:
            counts["files"] += 1
            compare_header(f"nibabel:{os.path.basename(path)}", ours[path]["header"],
                           open(path, "rb").read())
        compare_dicoms(dump, dicoms, "nibabel")
    if shared:
        paths = []
        for folder in ("dcm_qa_stc/In/Siemens", "dcm_qa_fmap/In/Siemens"):
            for root, _, files in os.walk(os.path.join(shared, folder)):
                paths += [os.path.join(root, f) for f in sorted(files)]
        compare_dicoms(dump, sorted(paths), "dcm_qa")
    print("compared: " + ", ".join(f"{v} {k}" for k, v in counts.items())
          + f"; {len(mismatches)} mismatches")
    sys.exit(1 if mismatches else 0)


main()
