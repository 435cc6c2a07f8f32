#!/usr/bin/python3
"""Check that the library's layers point one way (docs/architecture.md).

Two independent views of the same rule:
- includes: every "..." include of a file under src/ resolves to a file of
  its own layer or a lower one, and the include graph has no cycle;
- calls: every undefined symbol of an object file that another object file
  of the library defines is defined in the same layer or a lower one
  (nm on the objects the build made), so an upward call through a public
  header is caught too.
Plugins (formats, archives, transports) share a layer but may not reach
into each other: formats/nifti may not call formats/dicom.
Of the formats only formats/dicom uses the DICOM codec (src/dicom): the
others read a DICOM template by keyword through the model's header API
(imd_header_template_string), never as a data set.
The CLIs (cli/) may include only public headers and their own cli_common.h.

Usage: layers.py SOURCE_DIR OBJECT_FILE...  (the library's objects, as CMake names them)
Exit 0 when the rule holds, 1 with one line per crossing otherwise.
"""
import os
import re
import subprocess
import sys

LAYERS = {
    "base": 0,       # allocation, errors, text, JSON, options, URLs, context, threads
    "io": 1,         # streams, gzip, the archive interface
    "dicom": 2,      # data sets, dictionary, codecs
    "net": 3,        # DICOM upper layer and DIMSE (a client's associations)
    "model": 4,      # series, headers, axes
    "formats": 5,    # plugins: one folder each, none calls another
    "archives": 5,
    "transports": 5,
    "pipeline": 6,   # registry, read/write, choice of archive and transport
}
PLUGIN_LAYER = 5
# The formats that may include or call src/dicom directly.
DICOM_FORMATS = {"formats/dicom"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def unit(rel):
    """('formats', 'formats/nifti') for src/formats/nifti/x.c: layer folder and plugin unit."""
    parts = rel.split("/")
    top = parts[0]
    if LAYERS.get(top) == PLUGIN_LAYER and len(parts) > 2:
        return top, top + "/" + parts[1]
    return top, top


def allowed(src_rel, dst_rel):
    (a, ua), (b, ub) = unit(src_rel), unit(dst_rel)
    if a not in LAYERS or b not in LAYERS:
        return f"outside the known layers ({a} -> {b})"
    if LAYERS[b] > LAYERS[a]:
        return f"upward: {a} (layer {LAYERS[a]}) -> {b} (layer {LAYERS[b]})"
    if LAYERS[a] == PLUGIN_LAYER and LAYERS[b] == PLUGIN_LAYER and ua != ub:
        return f"one plugin into another: {ua} -> {ub}"
    if a == "formats" and b == "dicom" and ua not in DICOM_FORMATS:
        return (f"{ua} reaches into the DICOM codec: read DICOM attributes through the "
                "header's API (imd_header_template_string)")
    return None


def source_files(src):
    for root, _, files in os.walk(src):
        for name in files:
            if name.endswith((".c", ".h", ".inc")):
                path = os.path.join(root, name)
                yield os.path.relpath(path, src)


def resolve(src, rel, target):
    for base in (os.path.dirname(rel), "", "base"):
        candidate = os.path.normpath(os.path.join(base, target))
        if os.path.exists(os.path.join(src, candidate)):
            return candidate
    return None


def check_includes(src, problems):
    graph = {}
    for rel in source_files(src):
        text = open(os.path.join(src, rel), encoding="utf-8", errors="replace").read()
        graph[rel] = []
        for target in INCLUDE.findall(text):
            dst = resolve(src, rel, target)
            if dst is None:
                problems.append(f"src/{rel}: includes \"{target}\", which is not in src/")
                continue
            graph[rel].append(dst)
            why = allowed(rel, dst)
            if why:
                problems.append(f"src/{rel} includes src/{dst}: {why}")
    # Cycles: depth-first search with colours.
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                problems.append("include cycle: " + " -> ".join("src/" + c for c in cycle))
            elif state.get(nxt) is None:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node, [])
    return len(graph)


def symbols(path):
    out = subprocess.run(["nm", "-P", path], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        if fields[1] == "U":
            undefined.add(fields[0])
        elif fields[1] in "TDBRVWtdbr" and fields[1].isupper():
            defined.add(fields[0])
    return defined, undefined


def check_calls(paths, problems):
    objects = {}
    for path in paths:
        # .../imagedata_objects.dir/formats/nifti/format.c.o -> formats/nifti/format.c
        rel = os.path.normpath(path.split(".dir/", 1)[-1])
        objects[rel[:-2] if rel.endswith(".o") else rel] = symbols(path)
    owner = {}
    for rel, (defined, _) in objects.items():
        for sym in defined:
            owner[sym] = rel
    for rel, (_, undefined) in sorted(objects.items()):
        for sym in sorted(undefined):
            dst = owner.get(sym)
            if dst is None or dst == rel:
                continue
            why = allowed(rel, dst)
            if why:
                problems.append(f"src/{rel} calls {sym} of src/{dst}: {why}")
    return len(objects)


def check_cli(root, problems):
    cli = os.path.join(root, "cli")
    for name in sorted(os.listdir(cli)):
        if name.endswith((".c", ".h")):
            text = open(os.path.join(cli, name), encoding="utf-8").read()
            for target in INCLUDE.findall(text):
                if target != "cli_common.h":
                    problems.append(f"cli/{name} includes \"{target}\": a front end uses public headers only")


def self_test():
    """The rule itself must be able to fail (a check that cannot fail is no check)."""
    assert allowed("base/context.c", "pipeline/registry.c")
    assert allowed("io/archive.c", "archives/fs_archive.c")
    assert allowed("formats/nifti/format.c", "formats/dicom/format.c")
    assert allowed("formats/dicom/pixel.c", "transports/file.c")
    assert allowed("pipeline/read_write.c", "formats/dicom/format.c") is None
    assert allowed("formats/dicom/pixel.c", "formats/dicom/sort.c") is None
    assert allowed("model/describe.c", "dicom/dict.c") is None
    assert allowed("formats/nifti/format.c", "dicom/dataset.c")
    assert allowed("formats/metaio/format.c", "dicom/dicom_internal.h")
    assert allowed("formats/dicom/format.c", "dicom/dataset.c") is None
    assert allowed("transports/file.c", "dicom/write.c") is None
    assert allowed("net/pdu.c", "model/series.c")
    assert allowed("transports/dicom.c", "net/association.c") is None


def main():
    self_test()
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    root, paths = sys.argv[1], sys.argv[2:]
    src = os.path.join(root, "src")
    problems = []
    files = check_includes(src, problems)
    objects = check_calls(paths, problems)
    check_cli(root, problems)
    if objects == 0:
        problems.append("no object files given (build the library first)")
    for line in problems:
        print(line)
    print(f"layers: {files} source files, {objects} objects, {len(problems)} crossings")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
