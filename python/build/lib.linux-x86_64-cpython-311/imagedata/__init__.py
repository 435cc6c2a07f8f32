"""imagedata: medical image data as numpy arrays, on the libimagedata C library.

``from imagedata.series import Series`` as in the original package
(github erling6232/imagedata); docs/python.md lists the differences.
"""
from . import _native
from .formats import error_from_code as _error_from_code

_native.set_error_factory(_error_from_code)

__version__ = _native.version()


def set_threads(n):
    """Threads reading and writing may use (0: one per core, the default; 1: none
    besides the caller). Returns the number in use. Not while a read runs."""
    return _native.set_threads(int(n))


def threads():
    """The number of threads reads and writes use."""
    return _native.threads()
