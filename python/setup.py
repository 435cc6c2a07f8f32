"""Build the imagedata._native extension against libimagedata.

Where the library comes from (docs/python.md):
- IMAGEDATA_BUILD=<CMake build folder>: its src/libimagedata.so, the headers of
  the source tree it was configured from (CMakeCache.txt) and its generated
  include/ folder; the extension gets an rpath to that folder.
- otherwise pkg-config imagedata (an installed library).
The extension uses the limited API of Python 3.11 (abi3): one binary serves
every later CPython.
"""
import os
import re
import shlex
import subprocess
from pathlib import Path

from setuptools import Extension, setup


def from_build(build):
    build = Path(build)
    if not build.is_absolute():
        raise SystemExit(f"IMAGEDATA_BUILD={build}: give an absolute path (pip builds in another folder)")
    cache = (build / "CMakeCache.txt").read_text()
    match = re.search(r"^imagedata_SOURCE_DIR:STATIC=(.*)$", cache, re.M)
    if match is None:
        raise SystemExit(f"IMAGEDATA_BUILD={build}: not a CMake build of imagedata")
    source = Path(match.group(1))
    libdir = build / "src"
    if not (libdir / "libimagedata.so").exists():
        raise SystemExit(f"IMAGEDATA_BUILD={build}: src/libimagedata.so is missing; build it first")
    flags = dict(include_dirs=[str(source / "include"), str(build / "include")],
                 library_dirs=[str(libdir)], runtime_library_dirs=[str(libdir)],
                 libraries=["imagedata"], define_macros=[])
    viewer = build / "viewer"
    if (viewer / "libimagedata_view.so").exists():  # built when SDL2 was found (docs/viewer.md)
        flags["library_dirs"].append(str(viewer))
        flags["runtime_library_dirs"].append(str(viewer))
        flags["libraries"].append("imagedata_view")
        flags["define_macros"].append(("IMD_HAVE_VIEW", "1"))
    return flags


def from_pkg_config():
    try:
        cflags = subprocess.run(["pkg-config", "--cflags", "imagedata"], check=True,
                                capture_output=True, text=True).stdout
        libs = subprocess.run(["pkg-config", "--libs", "imagedata"], check=True,
                              capture_output=True, text=True).stdout
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "imagedata"], check=True,
                                capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit("imagedata: set IMAGEDATA_BUILD to a CMake build folder, or install "
                         f"libimagedata where pkg-config finds it ({exc})")
    flags = dict(include_dirs=[], library_dirs=[], libraries=[], define_macros=[],
                 runtime_library_dirs=[libdir] if libdir else [])
    for word in shlex.split(cflags):
        if word.startswith("-I"):
            flags["include_dirs"].append(word[2:])
    for word in shlex.split(libs):
        if word.startswith("-L"):
            flags["library_dirs"].append(word[2:])
        elif word.startswith("-l"):
            flags["libraries"].append(word[2:])
    return flags


build = os.environ.get("IMAGEDATA_BUILD")
flags = from_build(build) if build else from_pkg_config()

setup(
    packages=["imagedata", "imagedata.formats"],
    ext_modules=[Extension("imagedata._native", ["imagedata/_native.c"],
                           define_macros=[("Py_LIMITED_API", "0x030B0000")]
                           + flags.pop("define_macros"),
                           py_limited_api=True,
                           extra_compile_args=["-std=c11", "-Wall", "-Wextra"],
                           **flags)],
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
