#!/usr/bin/python3
"""Two folders of DICOM files written from the same input are the same but
for what a writer must make new each time (threads_identical.sh).

Usage: threads_identical.py FOLDER_A FOLDER_B

Read with pydicom (the oracle, independent of our parser): the same relative
file names; in every file (file meta included, sequences item by item) the
same elements with the same VR and value, and the same pixel data bytes,
except UIDs (VR UI: new for every write, PS3.5 §9) and the dates and times
of writing (Study/Series/Content Date and Time, taken from the clock when
the source has none). Prints one line per difference; exit 0 when none.
"""
import os
import sys

import pydicom

# Filled from the clock by the writer (src/formats/dicom/write.c) when the source has none.
CLOCK_TAGS = {0x00080020, 0x00080021, 0x00080023, 0x00080030, 0x00080031, 0x00080033}
GROUP_LENGTHS = {0x00020000}  # depends on the UIDs' lengths


def flatten(dataset, prefix=""):
    """(path, VR, value) of every element, depth first; sequences item by item."""
    out = []
    for element in dataset:
        tag = int(element.tag)
        path = f"{prefix}({element.tag.group:04x},{element.tag.element:04x})"
        if element.VR == "UI" or tag in CLOCK_TAGS or tag in GROUP_LENGTHS:
            out.append((path, element.VR, "<skipped>"))
            continue
        if element.VR == "SQ":
            out.append((path, "SQ", len(element.value)))
            for i, item in enumerate(element.value):
                out.extend(flatten(item, f"{path}[{i}]."))
            continue
        value = element.value
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value)
        else:
            value = repr(value)
        out.append((path, element.VR, value))
    return out


def files(root):
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def main():
    a, b = sys.argv[1], sys.argv[2]
    names_a, names_b = files(a), files(b)
    problems = []
    if names_a != names_b:
        problems.append(f"different files: {sorted(set(names_a) ^ set(names_b))[:5]}")
    compared = 0
    for name in sorted(set(names_a) & set(names_b)):
        x = pydicom.dcmread(os.path.join(a, name))
        y = pydicom.dcmread(os.path.join(b, name))
        fx = flatten(x.file_meta) + flatten(x)
        fy = flatten(y.file_meta) + flatten(y)
        if fx != fy:
            for ex, ey in zip(fx, fy):
                if ex != ey:
                    problems.append(f"{name}: {ex[0]} {ex[1]} differs")
                    break
            else:
                problems.append(f"{name}: {len(fx)} vs {len(fy)} elements")
        compared += 1
    for line in problems[:20]:
        print("FAIL:", line)
    print(f"{compared} DICOM files compared, {len(problems)} differ")
    return 1 if problems or compared == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
