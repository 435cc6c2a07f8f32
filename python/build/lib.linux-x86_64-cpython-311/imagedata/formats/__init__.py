"""Format constants and the exceptions users catch, under the original's names.

Every error the C library reports becomes one of these exceptions; each
carries the library's error code (``code``, e.g. 7), its name (``code_name``,
e.g. ``"IMD_ERR_CANNOT_SORT"``) and the message naming the input and the
reason (``message``; also ``str(exc)``).
"""

(SORT_ON_SLICE, SORT_ON_TAG) = range(2)
sort_on_set = {SORT_ON_SLICE, SORT_ON_TAG}

INPUT_ORDER_NONE = 'none'
INPUT_ORDER_TIME = 'time'
INPUT_ORDER_B = 'b'
INPUT_ORDER_FA = 'fa'
INPUT_ORDER_TE = 'te'
INPUT_ORDER_FAULTY = 'faulty'
input_order_set = {INPUT_ORDER_NONE, INPUT_ORDER_TIME, INPUT_ORDER_B, INPUT_ORDER_FA,
                   INPUT_ORDER_TE, INPUT_ORDER_FAULTY}

# include/imagedata/error.h: stable numbers, only appended.
ERROR_CODE_NAMES = {
    1: 'IMD_ERR_NOMEM', 2: 'IMD_ERR_INVALID_ARG', 3: 'IMD_ERR_IO', 4: 'IMD_ERR_CORRUPT',
    5: 'IMD_ERR_UNSUPPORTED', 6: 'IMD_ERR_NOT_RECOGNIZED', 7: 'IMD_ERR_CANNOT_SORT',
    8: 'IMD_ERR_LIMIT', 9: 'IMD_ERR_NOT_FOUND', 10: 'IMD_ERR_NETWORK',
    11: 'IMD_ERR_PROTOCOL', 12: 'IMD_ERR_PLUGIN_ABI', 13: 'IMD_ERR_INTERNAL',
    14: 'IMD_ERR_BAD_STATE', 15: 'IMD_ERR_CANCELLED',
}


class ImagedataError(Exception):
    """Base of every error the library reports (not in the original)."""

    def __init__(self, message='', code=0):
        super().__init__(message)
        self.message = message
        self.code = code
        self.code_name = ERROR_CODE_NAMES.get(code, 'IMD_ERR_UNKNOWN')

    def __str__(self):
        return self.message


# The original's names (imagedata.formats).
class NotImageError(ImagedataError):
    pass


class EmptyImageError(ImagedataError):
    pass


class UnknownInputError(ImagedataError):
    pass


class UnknownTag(ImagedataError):
    pass


class NotTimeOrder(ImagedataError):
    pass


class CannotSort(ImagedataError):
    pass


class SOPInstanceUIDNotFound(ImagedataError):
    pass


class FormatPluginNotFound(ImagedataError):
    pass


class WriteNotImplemented(ImagedataError, NotImplementedError):
    pass


# The other codes, each also a built-in exception a Python user would catch.
class InvalidArgumentError(ImagedataError, ValueError):
    pass


class UnknownOptionError(InvalidArgumentError, UnknownInputError):
    """A bad option (unknown name, or a value of the wrong type): the original
    raises UnknownInputError for an unknown option such as input_echo=2."""


class ImagedataIOError(ImagedataError, OSError):
    pass


class CorruptError(NotImageError):
    pass


class UnsupportedError(ImagedataError, NotImplementedError):
    pass


class LimitError(ImagedataError, MemoryError):
    pass


class OutOfMemoryError(ImagedataError, MemoryError):
    pass


class NotFoundError(ImagedataError, FileNotFoundError):
    pass


class NetworkError(ImagedataError, ConnectionError):
    pass


class CancelledError(ImagedataError):
    pass


class ImagedataWarning(UserWarning):
    """Something was skipped: a file or series that could not be read beside
    the series that was (the C library's failures of a partial read)."""


class NoDataReadError(ImagedataError):
    """Nothing was read (the original's imagedata.readdata.NoDataReadError)."""


class MultipleSeriesError(ImagedataError):
    """More than one series where one was asked for (imagedata.series)."""


_BY_CODE = {
    1: OutOfMemoryError, 2: InvalidArgumentError, 3: ImagedataIOError, 4: CorruptError,
    5: UnsupportedError, 6: UnknownInputError, 7: CannotSort, 8: LimitError,
    9: NotFoundError, 10: NetworkError, 11: NetworkError, 12: FormatPluginNotFound,
    15: CancelledError,
}


def error_from_code(code, message):
    """The exception for a C error (code, message); used by imagedata._native."""
    cls = _BY_CODE.get(code, ImagedataError)
    if code == 2 and message.startswith('option '):
        cls = UnknownOptionError
    return cls(message, code)


def shape_to_str(shape):
    """The original's shape text: 3tx3x192x152."""
    if len(shape) == 5:
        return "{}x{}tx{}x{}x{}".format(*shape)
    if len(shape) == 4:
        return "{}tx{}x{}x{}".format(*shape)
    if len(shape) in (1, 2, 3):
        return "x".join(str(n) for n in shape)
    raise ValueError("Unknown shape")
