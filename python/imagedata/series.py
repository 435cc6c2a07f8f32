"""Series: a numpy.ndarray with the geometry and DICOM identity of a medical image.

The voxels are numpy's; the header (patient, study, geometry, axes, tags) is
an ImdSeries of the C library, reached through imagedata._native:

- A series read from a URL is one ImdSeries: numpy views its voxel buffer
  (no copy) and the buffer is freed when the last view goes.
- A view (indexing), a ufunc result, or a Series made from an array keeps a
  header carrier: the C header and axes of that shape, without voxels. It is
  made lazily, when a property first asks for it, so numpy's internal
  indexing and arithmetic pay nothing for the header they never read.

behaviour.md §1 describes the original's Series; docs/python.md lists where
this one differs.
"""
import itertools
import json
import math
import os
import re
import warnings

import numpy as np

from . import _native, colormaps
from .axis import axes_from_description, UniformAxis, UniformLengthAxis, VariableAxis
from .formats import (ERROR_CODE_NAMES, ImagedataWarning, MultipleSeriesError, NoDataReadError, ImagedataError,
                      INPUT_ORDER_NONE, shape_to_str)

__all__ = ['Series', 'DoNotSetSlicesError', 'MultipleSeriesError', 'ANONYMIZATION_RULES',
           'REMOVED_ATTRIBUTES', 'ANONYMOUS_DATE']


class DoNotSetSlicesError(Exception):
    pass


# ---- element types (include/imagedata/types.h) ---------------------------------

RGB_DTYPE = np.dtype([('R', 'u1'), ('G', 'u1'), ('B', 'u1')])
_CODES = {np.dtype(np.bool_): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3,
          np.dtype(np.uint16): 4, np.dtype(np.int16): 5, np.dtype(np.uint32): 6,
          np.dtype(np.int32): 7, np.dtype(np.uint64): 8, np.dtype(np.int64): 9,
          np.dtype(np.float32): 10, np.dtype(np.float64): 11, np.dtype(np.complex64): 12,
          np.dtype(np.complex128): 13, RGB_DTYPE: 14}
_DTYPES = {code: dtype for dtype, code in _CODES.items()}
_FLOAT64 = 11


def _code(dtype, strict=False):
    """The ImdDType code of a numpy dtype (big-endian types as their native twin)."""
    dtype = np.dtype(dtype)
    if dtype.byteorder == '>':
        dtype = dtype.newbyteorder('=')
    code = _CODES.get(dtype)
    if code is None:
        if strict:
            raise TypeError('imagedata: numpy type {} has no image element type '
                            '(bool, integers, float32/64, complex64/128, RGB)'.format(dtype))
        return _FLOAT64  # a carrier's type is nominal: its voxels are numpy's
    return code


# ---- headers ---------------------------------------------------------------------

class _Header:
    """The C header of a Series: an ImdSeries handle, made when first needed."""

    __slots__ = ('_handle', '_make', 'shape', '_description', 'users', '__weakref__')

    def __init__(self, shape, handle=None, make=None):
        self.shape = tuple(shape)
        self._handle = handle
        self._make = make  # (function, args) giving the handle
        self._description = None
        # Series and lazy headers that read this one: a setter on a shared
        # header copies it first (copy on write), so that neither a numpy
        # copy/astype (which share it) nor a view or result made earlier (which
        # reads it when first asked) sees the change. Never decremented: an
        # over-count only costs one header copy.
        self.users = 1

    @property
    def handle(self):
        if self._handle is None:
            function, args = self._make
            self._handle = function(*args)
            self._make = None
        return self._handle

    def description(self):
        if self._description is None:
            self._description = json.loads(_native.describe(self.handle))
        return self._description

    def changed(self):
        self._description = None

    # -- derived headers, all lazy --

    @staticmethod
    def default(shape, dtype, source=None):
        """Default axes and header of this shape; identity from `source` when given."""
        shape = tuple(shape) if len(shape) else (1,)
        if source is not None:
            source.users += 1
        return _Header(shape, make=(_make_default, (shape, _code(dtype), source)))

    @staticmethod
    def derived(source, dtype):
        """A ufunc result's header: the source's, with a new series UID and no window."""
        source.users += 1
        if source._handle is None and source._make is not None and \
                source._make[0] is _make_derived:
            # The source is itself an unmade result: derive from its origin once.
            source._make[1][0].users += 1
            return _Header(source.shape, make=(_make_derived, (source._make[1][0], _code(dtype))))
        return _Header(source.shape, make=(_make_derived, (source, _code(dtype))))

    @staticmethod
    def subset(source, index, shape, refresh=False):
        source.users += 1
        return _Header(shape, make=(_make_subset, (source, index, refresh)))


def _make_default(shape, code, source):
    handle = _native.new(code, shape)
    if source is not None:
        try:
            _native.add_template(handle, source.handle, False)
        except ImagedataError:
            pass  # identity is a courtesy here; the shapes may not agree
    return handle


def _make_derived(source, code):
    handle = _native.like(source.handle, code)
    _native.refresh(handle)
    return handle


def _make_subset(source, index, refresh):
    handle = _native.subset(source.handle, index)
    if refresh:
        _native.refresh(handle)
    return handle


_ALL = (0, 0, 0, 0, False, False)


def _index_tuple(item, ndim):
    """numpy basic indexing as ImdIndex tuples; None when the C model has no
    equivalent (new axes, arrays, booleans, field names)."""
    if not isinstance(item, tuple):
        item = (item,)
    if sum(1 for i in item if i is Ellipsis) > 1:
        raise IndexError('an index can only have a single ellipsis (\'...\')')
    out = []
    for i in item:
        if i is Ellipsis:
            out.extend([_ALL] * (ndim - (len(item) - 1)))
        elif isinstance(i, (bool, np.bool_)):
            return None
        elif isinstance(i, (int, np.integer)):
            out.append((1, int(i), 0, 1, True, False))
        elif isinstance(i, slice):
            for part in (i.start, i.stop, i.step):
                if part is not None and not isinstance(part, (int, np.integer)):
                    return None
            out.append((2, int(i.start or 0), int(i.stop or 0), int(i.step or 1),
                        i.start is not None, i.stop is not None))
        else:
            return None
    if len(out) > ndim:
        return None
    return out


def _kept_shape(shape, index, tag_ndim):
    """The shape the C library gives a subset (behaviour.md §1.5): integer
    indices drop their axis, and so does a tag axis left with one value."""
    result = []
    for d, n in enumerate(shape):
        kind, start, stop, step, has_start, has_stop = index[d] if d < len(index) else _ALL
        if kind == 1:
            continue
        if kind == 2:
            count = len(range(*slice(start if has_start else None,
                                     stop if has_stop else None, step).indices(n)))
            if d < tag_ndim and count <= 1:
                continue
            result.append(count)
        else:
            result.append(n)
    return tuple(result)


# ---- options ---------------------------------------------------------------------

def _option_text(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return ','.join(str(v) for v in value)
    return str(value)


def _option_pairs(opts, kwargs, skip=()):
    """The original's option merging (behaviour.md §1.1): kw and
    opts['input_options'] join opts; an argparse Namespace becomes a dict."""
    merged = {}
    if opts is not None:
        if not isinstance(opts, dict):
            opts = vars(opts)
        for key, value in opts.items():
            if key == 'input_options' and isinstance(value, dict):
                merged.update(value)
            else:
                merged[key] = value
    merged.update(kwargs)
    pairs = []
    for key, value in merged.items():
        if value is None or key in skip:
            continue
        if callable(value):
            raise ImagedataError('option {!r}: a callable is not supported; name the DICOM '
                                 'attribute instead ({}=AttributeKeyword)'.format(key, key), 2)
        pairs.append((str(key), _option_text(value)))
    return pairs


def _urls(data):
    if isinstance(data, (str, os.PathLike)):
        return [os.fspath(data).strip()]
    return [os.fspath(u).strip() for u in data]


def _is_url_list(data):
    return isinstance(data, (list, tuple)) and len(data) > 0 and \
        all(isinstance(u, (str, os.PathLike)) for u in data)


# ---- Python bytes and file objects (the extension's imdpy:// transport) ---------

_BUCKETS = itertools.count(1)  # next() is atomic under the GIL: buckets never collide


def _is_bytes_input(data):
    return isinstance(data, (bytes, bytearray, memoryview)) or \
        (hasattr(data, 'read') and not isinstance(data, (str, os.PathLike, np.ndarray)))


def _object_name(fileobj, default):
    """A member name for a file object: its file's base name (the formats and
    the zip archive look at the suffix), else `default`."""
    name = getattr(fileobj, 'name', None)
    if isinstance(name, (str, os.PathLike)):
        name = os.path.basename(os.fspath(name))
    else:
        name = ''
    name = re.sub(r'[^A-Za-z0-9._-]', '_', name)
    return name if name.strip('.') else default


def _read_bytes(data, pairs):
    """Read bytes or a binary file object through imdpy://: the bytes are
    borrowed by the C reader (no copy), and released after the read."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        content, name = data, 'input'
    else:
        content, name = data.read(), _object_name(data, 'input')
        if isinstance(content, str):
            raise TypeError('imagedata: {!r} is a text file object; open it in binary mode '
                            "('rb')".format(getattr(data, 'name', data)))
    if name == 'input' and bytes(memoryview(content)[:2]) == b'\x1f\x8b':
        # gzip without a name: the one gzipped input the library reads is
        # NIfTI, and its reader wants the .nii.gz suffix for gzip.
        name = 'input.nii.gz'
    bucket = 'b{}'.format(next(_BUCKETS))
    _native.store_put(bucket, name, content)
    try:
        return _read_handles(['imdpy://{}/{}'.format(bucket, name)], pairs)
    finally:
        _native.store_take(bucket)


def _read_handles(urls, pairs):
    handles, failures = _native.read(urls, pairs)
    for code, message in failures:
        warnings.warn('{} ({})'.format(message, ERROR_CODE_NAMES.get(code, code)),
                      ImagedataWarning, stacklevel=4)
    return handles, failures


def _array_of(handle):
    """The voxels of a read handle as a numpy array: a view, no copy."""
    dtype = _DTYPES[handle.dtype]
    return np.frombuffer(handle, dtype=dtype).reshape(handle.shape)


# ---- the Series -----------------------------------------------------------------

_DICOM_FIELDS = {
    'seriesNumber': 'SeriesNumber', 'seriesDescription': 'SeriesDescription',
    'imageType': 'ImageType', 'studyInstanceUID': 'StudyInstanceUID', 'studyID': 'StudyID',
    'seriesInstanceUID': 'SeriesInstanceUID', 'frameOfReferenceUID': 'FrameOfReferenceUID',
    'SOPClassUID': 'SOPClassUID', 'accessionNumber': 'AccessionNumber',
    'patientName': 'PatientName', 'patientID': 'PatientID',
    'patientBirthDate': 'PatientBirthDate', 'modality': 'Modality',
    'laterality': 'Laterality', 'bodyPartExamined': 'BodyPartExamined',
    'patientPosition': 'PatientPosition', 'protocolName': 'ProtocolName',
    'seriesDate': 'SeriesDate', 'seriesTime': 'SeriesTime', 'studyDate': 'StudyDate',
    'studyTime': 'StudyTime', 'accessionNumber_': 'AccessionNumber',
}
# What the header itself holds (a DICOM write takes them from there, not from
# the template): setDicomAttribute of these, series-wide, sets the header.
_HEADER_KEYWORDS = set(_DICOM_FIELDS.values()) | {'PhotometricInterpretation', 'EchoNumbers',
                                                  'AcquisitionNumber', 'TransferSyntaxUID'}
# Fields that read '' rather than raise when unset (the original's defaults).
_EMPTY_DEFAULT = {'seriesDescription', 'patientName', 'studyID'}

_SOP_CLASSES = {'SC': '1.2.840.10008.5.1.4.1.1.7',
                'SecondaryCaptureImageStorage': '1.2.840.10008.5.1.4.1.1.7',
                'MR': '1.2.840.10008.5.1.4.1.1.4', 'MRImageStorage': '1.2.840.10008.5.1.4.1.1.4',
                'CT': '1.2.840.10008.5.1.4.1.1.2', 'CTImageStorage': '1.2.840.10008.5.1.4.1.1.2'}


def _field(name):
    keyword = _DICOM_FIELDS[name]

    def getter(self):
        value = _native.get(self._hdr().handle, keyword)
        if value is None:
            if name in _EMPTY_DEFAULT:
                return ''
            raise ValueError('{} is not set'.format(name))
        if keyword == 'SeriesNumber':
            try:
                return int(value)
            except ValueError:
                return int(float(value))
        if keyword == 'ImageType':
            return value.split('\\')
        return value

    def setter(self, value):
        if keyword == 'ImageType' and isinstance(value, (list, tuple)):
            value = '\\'.join(str(v) for v in value)
        elif keyword == 'SOPClassUID':
            value = _SOP_CLASSES.get(value, value)
        elif value is not None:
            value = str(value)
        header = self._own()
        _native.set(header.handle, keyword, value)
        header.changed()

    return property(getter, setter, doc='DICOM {} of the series'.format(keyword))


def _xyz(zyx):
    return (float(zyx[2]), float(zyx[1]), float(zyx[0]))


# ---- anonymization (behaviour.md §10) -------------------------------------------

# The original's default rules (its dicomlib anonymization_rules): set, or
# replaced where present; a value None removes the attribute.
ANONYMIZATION_RULES = {
    'PatientName': 'ANONYMOUS', 'PatientID': 'ANONYMOUS', 'PatientBirthDate': '19000101',
    'PatientSex': 'O', 'PatientIdentityRemoved': 'YES',
    'DeidentificationMethod': 'imagedata', 'StudyID': '1', 'StudyDescription': '',
    'SeriesDescription': '', 'AccessionNumber': '', 'ReferringPhysicianName': '',
}
# Every other date (DA, DT) becomes this one.
ANONYMOUS_DATE = '19700101'
# Removed wherever they occur: identifying attributes of the Basic Application
# Level Confidentiality Profile (PS3.15 Table E.1-1, actions X and X/Z) that an
# image series carries.
REMOVED_ATTRIBUTES = (
    'OtherPatientIDs', 'OtherPatientIDsSequence', 'OtherPatientNames', 'PatientBirthName',
    'PatientMotherBirthName', 'PatientAddress', 'PatientTelephoneNumbers', 'PatientAge',
    'PatientSize', 'PatientWeight', 'PatientBirthTime', 'MilitaryRank', 'BranchOfService',
    'EthnicGroup', 'Occupation', 'AdditionalPatientHistory', 'PatientComments',
    'MedicalRecordLocator', 'PatientReligiousPreference', 'CountryOfResidence',
    'RegionOfResidence', 'InstitutionName', 'InstitutionAddress', 'InstitutionalDepartmentName',
    'ReferringPhysicianAddress', 'ReferringPhysicianTelephoneNumbers',
    'ReferringPhysicianIdentificationSequence', 'PhysiciansOfRecord',
    'PerformingPhysicianName', 'NameOfPhysiciansReadingStudy', 'OperatorsName',
    'RequestingPhysician', 'StationName', 'DeviceSerialNumber', 'ImageComments',
    'RequestAttributesSequence', 'PerformedProcedureStepID', 'ScheduledProcedureStepID',
    'RequestedProcedureID', 'AdmissionID', 'IssuerOfPatientID', 'StudyComments',
    'ContentCreatorName', 'PersonName', 'ResponsiblePerson', 'ResponsibleOrganization',
)
# Header attributes set by anonymize even when the header does not hold them
# (a DICOM write then takes them from the header).
_ANONYMIZED_HEADER = {'PatientName', 'PatientID', 'PatientBirthDate', 'StudyID',
                      'AccessionNumber', 'SeriesDescription'}
# The original's default uid_table is one dict for the whole process.
_UID_TABLE = {}


def _rule_text(value):
    if isinstance(value, (list, tuple)):
        return '\\'.join(str(v) for v in value)
    return _option_text(value)


# numpy functions (not ufuncs) whose result is new data of the input's grid.
_NEW_SERIES_FUNCTIONS = {np.zeros_like, np.empty_like, np.ones_like, np.full_like,
                         np.nan_to_num}


class Series(np.ndarray):
    """Series(data, input_order='auto', opts=None, input_format=None, dtype=None,
    template=None, geometry=None, axes=None, **kwargs)

    data: a URL, path or list of them (read by the C library), an array, a
    number, or another Series (its header copied, with a new series UID).
    """

    def __new__(cls, data, input_order='auto', opts=None, input_format=None, dtype=None,
                template=None, geometry=None, axes=None, **kwargs):
        if isinstance(data, Series):
            array = data.view(np.ndarray)
            if dtype is not None:
                array = array.astype(dtype)
            obj = array.view(cls)
            source = data._hdr()
            obj.header = _Header.derived(source, obj.dtype)
            if input_order not in ('auto', None):
                obj.input_order = input_order
        elif isinstance(data, (str, os.PathLike)) or _is_url_list(data) or \
                _is_bytes_input(data):
            obj = cls._read(data, input_order, opts, input_format, dtype, kwargs)
        else:
            if kwargs:
                _option_pairs(None, kwargs)  # a callable or the like fails here too
            array = np.asarray(data, dtype=dtype)
            if array.ndim == 0:
                array = array.reshape((1,))
            obj = array.view(cls)
            obj.header = _Header.default(obj.shape, obj.dtype)
            order = INPUT_ORDER_NONE if input_order in ('auto', None) else input_order
            if order != INPUT_ORDER_NONE and obj.ndim > 2:
                header = obj.header
                _native.set_input_order(header.handle, order, True)
            elif order != INPUT_ORDER_NONE:
                raise ValueError('input order {!r} needs a tag dimension: the array has {} '
                                 'dimension(s)'.format(order, obj.ndim))
        if template is not None:
            obj._add(template, False)
        if geometry is not None:
            obj._add(geometry, True)
        if axes is not None:
            obj.axes = axes
        return obj

    @classmethod
    def _read(cls, data, input_order, opts, input_format, dtype, kwargs):
        pairs = _option_pairs(opts, kwargs, skip=('input_order', 'input_format'))
        order = input_order or 'auto'
        if opts is not None and isinstance(opts, dict) and 'input_order' in opts and \
                input_order == 'auto':
            order = opts['input_order']
        pairs.append(('input_order', order))
        if input_format is None and isinstance(opts, dict):
            input_format = opts.get('input_format')
        if input_format is not None:
            pairs.append(('input_format', input_format))
        if _is_bytes_input(data):
            handles, failures = _read_bytes(data, pairs)
        else:
            handles, failures = _read_handles(_urls(data), pairs)
        if len(handles) == 0:
            raise NoDataReadError('no series read from {}'.format(data))
        if len(handles) > 1:
            raise MultipleSeriesError('{} series read from {}; read them one by one'.format(
                len(handles), data))
        handle = handles[0]
        array = _array_of(handle)
        obj = array.view(cls)
        obj.header = _Header(handle.shape, handle=handle)
        if dtype is not None and np.dtype(dtype) != obj.dtype:
            converted = array.astype(dtype).view(cls)
            converted.header = _Header(handle.shape, make=(_native.like,
                                                           (handle, _code(dtype))))
            obj = converted
        return obj

    def __array_finalize__(self, obj):
        # numpy views share the header (copied on a write: _own); indexing and
        # ufuncs replace it.
        header = getattr(obj, 'header', None)
        if header is not None:
            header.users += 1
        self.header = header

    def _hdr(self):
        """The header, of this shape: a reshaped or transposed view gets
        default axes with the identity of the header it had."""
        header = self.header
        shape = self.shape if self.ndim > 0 else (1,)
        if header is None or header.shape != shape:
            header = _Header.default(shape, self.dtype, source=header)
            self.header = header
        return header

    def _own(self):
        """The header, to change: copied first when another Series or a lazy
        header may read it (copy on write; the copy keeps every UID)."""
        header = self._hdr()
        if header.users > 1:
            header.users -= 1
            code = _code(self.dtype)
            header = _Header(header.shape, handle=_native.like(header.handle, code))
            self.header = header
        return header

    def _add(self, source, geometry):
        if not isinstance(source, Series):
            source = Series(source, opts={'headers_only': True})
        header = self._own()
        _native.add_template(header.handle, source._hdr().handle, geometry)
        header.changed()

    # -- numpy ------------------------------------------------------------------------

    def __getitem__(self, item):
        result = super().__getitem__(item)
        if not isinstance(result, Series):
            return result
        if result.ndim == 0:
            return result[()]
        header = self.header
        if header is None or header.shape != self.shape:
            result.header = None
            return result
        if isinstance(item, str) and self.dtype.names is not None:
            # An RGB channel: the same grid, one uint8 per voxel.
            result.header = _Header.derived(header, result.dtype)
            return result
        index = _index_tuple(item, self.ndim)
        if index is None:
            result.header = _Header.default(result.shape, result.dtype, source=header)
            return result
        shape = _kept_shape(self.shape, index, _native.tag_ndim(header.handle))
        if len(shape) == 0:
            result.header = _Header.default(result.shape, result.dtype, source=header)
            return result
        if shape != result.shape:
            result = result.reshape(shape)
        result.header = _Header.subset(header, index, shape)
        return result

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = [x.view(np.ndarray) if isinstance(x, Series) else x for x in inputs]
        if out is not None:
            kwargs['out'] = tuple(o.view(np.ndarray) if isinstance(o, Series) else o
                                  for o in out)
        results = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        if method == 'at':
            return None
        series = [x for x in inputs if isinstance(x, Series)]
        if ufunc.nout == 1:
            return self._wrap(results, series, method, kwargs)
        return tuple(self._wrap(r, series, method, kwargs) for r in results)

    @staticmethod
    def _wrap(result, series, method, kwargs):
        if not isinstance(result, np.ndarray):
            return result
        if result.ndim == 0:
            return result[()]  # scalar results stay scalars (max -> np.uint16)
        same = [s for s in series if s.shape == result.shape]
        source = same[0] if same else series[0]
        obj = result.view(Series)
        header = source.header
        if header is None or header.shape != source.shape:
            obj.header = _Header.default(obj.shape, obj.dtype, source=header)
        elif method == 'reduce' and source.shape != result.shape:
            obj.header = Series._reduced(source, header, result, kwargs)
        elif source.shape == result.shape:
            obj.header = _Header.derived(header, obj.dtype)
        else:
            obj.header = _Header.default(obj.shape, obj.dtype, source=header)
        return obj

    @staticmethod
    def _reduced(source, header, result, kwargs):
        """A reduction along axes drops them and their tag components
        (behaviour.md §1.6): the header of index 0 along each reduced axis."""
        axis = kwargs.get('axis', 0)
        if kwargs.get('keepdims') or axis is None:
            return _Header.default(result.shape, result.dtype, source=header)
        axes = axis if isinstance(axis, tuple) else (axis,)
        axes = {a % source.ndim for a in axes}
        index = [(1, 0, 0, 1, True, False) if d in axes else _ALL for d in range(source.ndim)]
        shape = _kept_shape(source.shape, index, _native.tag_ndim(header.handle))
        if shape != result.shape or len(shape) == 0:
            return _Header.default(result.shape, result.dtype, source=header)
        return _Header.subset(header, index, shape, refresh=True)

    def __array_function__(self, func, types, args, kwargs):
        if func is np.concatenate:
            return _concatenate(*args, **kwargs)
        result = super().__array_function__(func, types, args, kwargs)
        if func in _NEW_SERIES_FUNCTIONS and isinstance(result, Series) and \
                isinstance(args[0], Series) and result.shape == args[0].shape:
            # computed data (behaviour.md §1.6): the header with a new series UID
            source = args[0]._hdr()
            result.header = _Header.derived(source, result.dtype)
        return result

    def __reduce__(self):
        """Pickle the voxels (numpy's own pickling) and the whole header: the
        JSON description (axes, geometry, tags, identity), every attribute,
        the window, and the DICOM template, per-image data sets and
        SOPInstanceUIDs as bare DICOM bytes."""
        array = np.ascontiguousarray(self.view(np.ndarray))
        return (_unpickle, (array, _header_state(self)))

    # -- reading and writing ---------------------------------------------------------------

    def write(self, url, opts=None, formats=None, **kwargs):
        """Write to `url` (a folder, a file, a zip) in each of `formats`
        (default dicom); '%p' in url becomes the format name."""
        if formats is None:
            formats = [opts.get('output_format')] if isinstance(opts, dict) and \
                opts.get('output_format') else ['dicom']
        elif isinstance(formats, str):
            formats = [formats]
        pairs = _option_pairs(opts, kwargs, skip=('output_format', 'input_options'))
        array = np.ascontiguousarray(self.view(np.ndarray))
        code = _code(array.dtype, strict=True)
        header = self._hdr()
        handle = _native.with_data(header.handle, code, array)
        if hasattr(url, 'write'):
            if len(formats) != 1:
                raise ValueError('write to a file object: give one format, not {}'.format(
                    formats))
            _write_object(handle, url, formats[0], pairs)
            return
        url = os.fspath(url).strip()
        for fmt in formats:
            _native.write(handle, url, fmt, pairs)

    def view(self, *args, link=False, replay=None, screenshot=None, **kwargs):
        """The original's viewer: a.view(), a.view(b), a.view([b, c, d]) (docs/viewer.md);
        on 'q' each series keeps its final window (windowCenter, windowWidth).
        With other arguments (a dtype, an ndarray type) numpy's view."""
        others = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        if kwargs or not all(isinstance(s, Series) for s in others):
            return super().view(*args, **kwargs)
        if not hasattr(_native, 'view'):
            raise NotImplementedError('Series.view(): this build of imagedata has no viewer '
                                      '(libimagedata_view needs SDL2 and SDL2_ttf)')
        shown = [self] + list(others)
        arrays = [np.ascontiguousarray(s.view(np.ndarray)) for s in shown]
        handles = [_native.with_data(s._hdr().handle, _code(a.dtype, strict=True), a)
                   for s, a in zip(shown, arrays)]
        windows = _native.view(handles, bool(link), replay, screenshot)
        for s, a, (center, width) in zip(shown, arrays, windows):
            if s.dtype != RGB_DTYPE:
                header = s._hdr()
                _native.set_window(header.handle, center, width)
                header.changed()
        return None

    def show(self, *args, **kwargs):
        raise NotImplementedError('Series.show(): the viewer is issue 20; it is not built yet')

    # -- shape ----------------------------------------------------------------------------

    @property
    def axes(self):
        return axes_from_description(self._hdr().description()['axes'])

    @axes.setter
    def axes(self, axes):
        axes = list(axes)
        if len(axes) != self.ndim:
            raise ValueError('{} axes for {} dimensions'.format(len(axes), self.ndim))
        header = self._own()
        for d, ax in enumerate(axes):
            unit = getattr(ax, 'unit', None)
            if isinstance(ax, UniformAxis):
                _native.set_axis(header.handle, d, ax.name, unit, float(ax.start),
                                 float(ax.step))
            else:
                _native.set_axis(header.handle, d, ax.name, unit, None,
                                 [float(v) for v in ax.values])
        header.changed()

    @property
    def slices(self):
        for ax in self._hdr().description()['axes']:
            if ax['name'] == 'slice':
                return ax.get('length', len(ax.get('values', [])))
        return 1

    @slices.setter
    def slices(self, value):
        raise DoNotSetSlicesError('Do not set slices; it follows the shape')

    @property
    def rows(self):
        for ax in self._hdr().description()['axes']:
            if ax['name'] == 'row':
                return ax.get('length', len(ax.get('values', [])))
        return self.shape[-2] if self.ndim >= 2 else 1

    @property
    def columns(self):
        for ax in self._hdr().description()['axes']:
            if ax['name'] == 'column':
                return ax.get('length', len(ax.get('values', [])))
        return self.shape[-1]

    @property
    def spacing(self):
        return np.array(self._hdr().description()['spacing'], dtype=float)

    @spacing.setter
    def spacing(self, value):
        value = tuple(float(v) for v in value)
        if len(value) != 3:
            raise ValueError('spacing takes 3 values (ds, dr, dc)')
        header = self._own()
        _native.set_spacing(header.handle, value)
        header.changed()

    # -- geometry -------------------------------------------------------------------------

    @property
    def transformationMatrix(self):
        """4x4: (slice, row, column, 1) -> (z, y, x, 1) in DICOM LPS (mm)."""
        return np.array(self._hdr().description()['transformationMatrix'], dtype=float)

    @transformationMatrix.setter
    def transformationMatrix(self, m):
        m = np.asarray(m, dtype=float)
        if m.shape != (4, 4):
            raise ValueError('transformationMatrix is 4x4')
        # (s,r,c)->(z,y,x) into the C convention (c,r,s)->(x,y,z): reverse both.
        c = np.eye(4)
        c[:3, :3] = m[:3, :3][::-1, ::-1]
        c[:3, 3] = m[:3, 3][::-1]
        header = self._own()
        _native.set_geometry(header.handle, None, None, tuple(c.ravel()), None)
        header.changed()

    @property
    def affine(self):
        """4x4 voxel-to-RAS, as nibabel: maps (column, row, slice, 1), the
        indices of np.transpose(series) (nibabel's i, j, k), to (R, A, S, 1)."""
        m = self.transformationMatrix
        lps = np.eye(4)
        lps[:3, :3] = m[:3, :3][::-1, ::-1]
        lps[:3, 3] = m[:3, 3][::-1]
        return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps

    @property
    def imagePositions(self):
        positions = self._hdr().description()['imagePositions']
        return {int(k): np.array(v, dtype=float) for k, v in positions.items()}

    @imagePositions.setter
    def imagePositions(self, positions):
        current = self.imagePositions
        if isinstance(positions, dict):
            current.update(positions)
        else:
            current = dict(enumerate(positions))
        ordered = [_xyz(current[k]) for k in sorted(current)]
        header = self._own()
        _native.set_geometry(header.handle, ordered, None, None, None)
        header.changed()

    @property
    def orientation(self):
        o = self._hdr().description()['orientation']
        if o is None:
            raise ValueError('orientation is not set')
        return np.array(o, dtype=float)

    @orientation.setter
    def orientation(self, o):
        o = [float(v) for v in o]
        if len(o) != 6:
            raise ValueError('orientation takes 6 values (row cosine zyx, column cosine zyx)')
        header = self._own()
        _native.set_geometry(header.handle, None, _xyz(o[:3]) + _xyz(o[3:]), None, None)
        header.changed()

    @property
    def sliceLocations(self):
        locations = self._hdr().description()['sliceLocations']
        return None if locations is None else np.array(locations, dtype=float)

    @sliceLocations.setter
    def sliceLocations(self, locations):
        locations = [float(v) for v in locations]
        if len(locations) != self.slices:
            raise ValueError('{} slice locations for {} slices'.format(len(locations),
                                                                        self.slices))
        header = self._own()
        _native.set_geometry(header.handle, None, None, False, locations)
        header.changed()

    def getPositionForVoxel(self, r, transformation=None):
        m = self.transformationMatrix if transformation is None else transformation
        return (m @ np.append(np.asarray(r, dtype=float), 1.0))[:3]

    def getVoxelForPosition(self, p, transformation=None):
        m = self.transformationMatrix if transformation is None else transformation
        voxel = np.linalg.inv(m) @ np.append(np.asarray(p, dtype=float), 1.0)
        return np.array(voxel[:3] + 0.5, dtype=int)

    # -- the Python ecosystem: nibabel, SimpleITK ----------------------------------------

    def _lps(self):
        """4x4 (column, row, slice, 1) -> (x, y, z, 1) in DICOM LPS: the
        transformationMatrix with both index and space order reversed."""
        m = self.transformationMatrix
        lps = np.eye(4)
        lps[:3, :3] = m[:3, :3][::-1, ::-1]
        lps[:3, 3] = m[:3, 3][::-1]
        return lps

    def _set_lps(self, lps):
        """Geometry from a (column, row, slice) -> LPS xyz matrix: spacing from
        the column norms, orientation from the first two, one position per
        slice, and the matrix itself (so the transformationMatrix is exact)."""
        lps = np.asarray(lps, dtype=float)
        dc, dr, ds = (float(np.linalg.norm(lps[:3, i])) for i in range(3))
        if min(dc, dr, ds) <= 0:
            raise ValueError('imagedata: a voxel size is 0 in {}'.format(lps[:3, :3].tolist()))
        row, col = lps[:3, 0] / dc, lps[:3, 1] / dr
        header = self._own()
        _native.set_spacing(header.handle, (ds, dr, dc))
        positions = [tuple(float(v) for v in (lps @ [0, 0, k, 1])[:3])
                     for k in range(max(self.slices, 1))]
        _native.set_geometry(header.handle, positions, tuple(row) + tuple(col),
                             tuple(lps.ravel()), None)
        header.changed()

    def to_nibabel(self):
        """A nibabel Nifti1Image viewing these voxels (no copy): the data is
        np.transpose(series), (column, row, slice, tags reversed), nibabel's
        (i, j, k, t); the affine is `affine` (RAS). Spatial units mm, time s;
        the 4th zoom is the time step of a time series."""
        import nibabel
        img = nibabel.Nifti1Image(np.transpose(self.view(np.ndarray)), self.affine)
        img.header.set_xyzt_units('mm', 'sec')
        if self.ndim >= 4:
            zooms = list(img.header.get_zooms())
            try:
                timeline = self.timeline
                zooms[3] = float(timeline[1] - timeline[0]) if len(timeline) > 1 else 1.0
            except ValueError:
                zooms[3] = 1.0
            img.header.set_zooms(zooms)
        return img

    @classmethod
    def from_nibabel(cls, img, input_order='auto'):
        """A Series from a nibabel image (any with get_fdata/dataobj and affine):
        voxels np.transpose(img.dataobj) (a view when the image holds an
        array), geometry from the affine (RAS -> LPS). `auto` is `time` for a
        4D image whose time unit is set, else `none`."""
        data = np.asanyarray(img.dataobj)
        if input_order in ('auto', None):
            input_order = 'none'
            if data.ndim >= 4:
                try:
                    input_order = 'time' if img.header.get_xyzt_units()[1] != 'unknown' \
                        else 'none'
                except AttributeError:
                    pass
        obj = cls(np.transpose(data), input_order)
        obj._set_lps(np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(img.affine, dtype=float))
        if data.ndim >= 4 and input_order != 'none':
            zooms = img.header.get_zooms()
            dt = float(zooms[3]) if len(zooms) > 3 and zooms[3] > 0 else 1.0
            if img.header.get_xyzt_units()[1] == 'msec':
                dt /= 1000.0
            elif img.header.get_xyzt_units()[1] == 'usec':
                dt /= 1e6
            axes = list(obj.axes)
            axes[0] = UniformLengthAxis(axes[0].name, 0, data.shape[3], dt)
            obj.axes = axes
        return obj

    @property
    def sitk_geometry(self):
        """(origin, spacing, direction) as SimpleITK gives them for the image
        of this array (sitk.GetImageFromArray keeps (slice, row, column) as
        (z, y, x)): origin = the first voxel's LPS position (x, y, z),
        spacing = (dc, dr, ds), direction = the 3x3 matrix of unit index
        directions as columns, flattened row by row."""
        lps = self._lps()
        spacing = tuple(float(np.linalg.norm(lps[:3, i])) for i in range(3))
        direction = lps[:3, :3] / np.array(spacing)
        return (tuple(float(v) for v in lps[:3, 3]), spacing,
                tuple(float(v) for v in direction.ravel()))

    @sitk_geometry.setter
    def sitk_geometry(self, geometry):
        origin, spacing, direction = geometry
        direction = np.asarray(direction, dtype=float).reshape(3, 3)
        lps = np.eye(4)
        lps[:3, :3] = direction * np.asarray(spacing, dtype=float)
        lps[:3, 3] = np.asarray(origin, dtype=float)
        self._set_lps(lps)

    @property
    def SOPInstanceUIDs(self):
        """{(tag index..., slice): SOPInstanceUID}: those read (or kept
        through indexing), and new ones made on first use for the rest (as
        the original), so that a write with keep_uid uses the same."""
        header = self._hdr()
        handle = header.handle
        slices, shape, components = _native.tag_layout(handle)
        if slices == 0:
            # No tag store yet (a Series made from an array): make the one the
            # description shows, so the UIDs have cells to live in; without
            # tag dimensions, one cell (0,) per slice, as a DICOM 3D read has.
            tag_ndim = _native.tag_ndim(handle)
            shape = tuple(self.shape[:tag_ndim])
            described = header.description()['tags']
            cells = []
            for k in range(max(self.slices, 1)):
                nested = described.get(str(k))
                for index in np.ndindex(*shape):
                    cell = nested
                    for i in index:
                        cell = cell[i] if cell is not None else None
                    cells.append((0.0,) if not shape else
                                 None if cell is None else tuple(cell))
            components = max((len(c) for c in cells if c is not None), default=1)
            _native.set_tags(handle, max(self.slices, 1), shape, components, cells)
            header.changed()
            slices, shape, components = _native.tag_layout(handle)
        known = {(s, c): uid for s, c, uid, _ in _native.dicom_state(handle)[1]
                 if uid is not None}
        out = {}
        for s in range(slices):
            for c, index in enumerate(np.ndindex(*shape) if shape else [(0,)]):
                uid = known.get((s, c))
                if uid is None:
                    uid = _native.new_uid()
                    _native.set_instance_uid(handle, s, c, uid)
                out[tuple(index) + (s,)] = uid
        return out

    # -- tags -----------------------------------------------------------------------------

    @property
    def input_order(self):
        return self._hdr().description()['input_order']

    @input_order.setter
    def input_order(self, order):
        header = self._own()
        _native.set_input_order(header.handle, order, True)
        header.changed()

    @property
    def tags(self):
        """{slice: object array shaped like the tag dimensions}; each cell a
        tuple (one value per order component) or None."""
        header = self._hdr()
        depth = max(_native.tag_ndim(header.handle), 1)
        out = {}
        for key, cells in header.description()['tags'].items():
            shape = _nested_shape(cells, depth)
            array = np.empty(shape, dtype=object)
            for index in np.ndindex(*shape):
                cell = cells
                for i in index:
                    cell = cell[i]
                array[index] = None if cell is None else tuple(_tag_value(v) for v in cell)
            out[int(key)] = array
        if not out and _native.tag_ndim(header.handle) == 0:
            # No tag dimensions and no tag store (an array): one cell (0,) per
            # slice, as a DICOM 3D read has (and SOPInstanceUIDs makes).
            for k in range(max(self.slices, 1)):
                out[k] = np.empty((1,), dtype=object)
                out[k][0] = (0,)
        return out

    @property
    def timeline(self):
        timeline = self._hdr().description()['timeline']
        if timeline is None:
            raise ValueError('No timeline: the series has no time or triggertime axis')
        return np.array(timeline, dtype=float)

    @property
    def bvalues(self):
        for ax in self._hdr().description()['axes']:
            if ax['name'] == 'b' and 'values' in ax:
                return np.array([v[0] if isinstance(v, list) else v for v in ax['values']])
        raise ValueError('No b values: the series has no b axis')

    # -- identity -------------------------------------------------------------------------

    seriesNumber = _field('seriesNumber')
    seriesDescription = _field('seriesDescription')
    imageType = _field('imageType')
    studyInstanceUID = _field('studyInstanceUID')
    studyID = _field('studyID')
    seriesInstanceUID = _field('seriesInstanceUID')
    frameOfReferenceUID = _field('frameOfReferenceUID')
    SOPClassUID = _field('SOPClassUID')
    accessionNumber = _field('accessionNumber')
    patientName = _field('patientName')
    patientID = _field('patientID')
    patientBirthDate = _field('patientBirthDate')
    modality = _field('modality')
    laterality = _field('laterality')
    bodyPartExamined = _field('bodyPartExamined')
    patientPosition = _field('patientPosition')
    protocolName = _field('protocolName')
    seriesDate = _field('seriesDate')
    seriesTime = _field('seriesTime')
    studyDate = _field('studyDate')
    studyTime = _field('studyTime')

    @property
    def photometricInterpretation(self):
        return self._hdr().description()['photometricInterpretation']

    @photometricInterpretation.setter
    def photometricInterpretation(self, value):
        header = self._own()
        _native.set(header.handle, 'PhotometricInterpretation', value)
        header.changed()

    @property
    def color(self):
        return self.dtype == RGB_DTYPE

    @color.setter
    def color(self, value):
        raise AttributeError('color follows the element type (RGB); it cannot be set')

    @property
    def input_format(self):
        syntax = self._hdr().description().get('transferSyntaxUID')
        return 'dicom' if syntax else None

    def getDicomAttribute(self, keyword):
        """The template data set's value of `keyword` (text, values joined by
        '\\'), or None. `keyword` is a DICOM keyword, a tag number
        (0x00180080) or a (group, element) pair, as pydicom takes them."""
        if isinstance(keyword, tuple) and len(keyword) == 2:
            keyword = (int(keyword[0]) << 16) | int(keyword[1])
        if isinstance(keyword, (int, np.integer)):
            name = _native.keyword_of(int(keyword))
            if name is None:
                raise ValueError('getDicomAttribute: ({:04X},{:04X}) has no keyword in the '
                                 'DICOM dictionary'.format(int(keyword) >> 16,
                                                           int(keyword) & 0xFFFF))
            keyword = name
        if not isinstance(keyword, str):
            raise TypeError('getDicomAttribute takes a DICOM keyword or a tag, not {!r}'.format(
                keyword))
        return _native.template_get(self._hdr().handle, keyword)

    @property
    def dicomTemplate(self):
        """The DICOM template (the first image's data set, without pixel data)
        as a pydicom Dataset, or None: a copy; change the series through its
        setters or setDicomAttribute."""
        template = _native.dicom_state(self._hdr().handle)[0]
        if template is None:
            return None
        import io
        import pydicom
        from pydicom.filereader import read_dataset
        return read_dataset(io.BytesIO(template), is_implicit_VR=False, is_little_endian=True)

    def align(self, reference, interpolation='linear', force=False, fill_value=0):
        """This series' voxels on `reference`'s voxel grid (behaviour.md §1.8):
        each reference voxel takes this series' value at its centre in
        patient space (trilinear, or 'nearest'); voxels outside are 0. Tag
        dimensions are kept; integer data is rounded back to its type. 3D
        and 4D only; different frames of reference raise unless `force`."""
        if not isinstance(reference, Series):
            reference = Series(reference, opts={'headers_only': True})
        if self.ndim not in (3, 4) or reference.ndim < 3:
            raise ValueError('align: 3D or 4D series only (this is {}D, the reference {}D)'
                             .format(self.ndim, reference.ndim))
        if fill_value != 0:
            raise NotImplementedError('align: fill_value other than 0 is not supported')
        methods = {'linear': 2, 'nearest': 1}
        if interpolation not in methods:
            raise ValueError('align: interpolation is linear or nearest, not {!r}'.format(
                interpolation))
        if not force:
            try:
                mine, theirs = self.frameOfReferenceUID, reference.frameOfReferenceUID
            except ValueError:
                mine = theirs = None
            if mine is not None and theirs is not None and mine != theirs:
                raise ValueError('align: the frames of reference differ ({} and {}); '
                                 'force=True aligns anyway'.format(mine, theirs))
        array = np.ascontiguousarray(self.view(np.ndarray))
        handle = _native.with_data(self._hdr().handle, _code(array.dtype, strict=True), array)
        grid = reference
        if reference.ndim > 3:
            grid = reference[(0,) * (reference.ndim - 3)]
        out = _native.resample(handle, grid._hdr().handle, methods[interpolation])
        result = _array_of(out).view(Series)
        result.header = _Header(out.shape, handle=out)
        if np.issubdtype(self.dtype, np.integer) and result.dtype != self.dtype:
            info = np.iinfo(self.dtype)
            rounded = np.clip(np.rint(result.view(np.ndarray)), info.min, info.max)
            converted = rounded.astype(self.dtype).view(Series)
            converted.header = _Header(out.shape, make=(_native.like, (out, _code(self.dtype))))
            result = converted
        return result

    def setDicomAttribute(self, keyword, value, slice=None, tag=None):
        """Set an attribute written on DICOM write: for the whole series, or
        with `slice` and/or `tag` (an int, or a tuple of tag indices) for
        those images only (the others keep theirs). Per image needs a DICOM
        template (a series read from DICOM, or template=)."""
        has_template = _native.dicom_state(self._hdr().handle)[0] is not None
        header_keyword = keyword in _HEADER_KEYWORDS or \
            keyword in _native.keywords(self._hdr().handle)
        if slice is not None or tag is not None or \
                (has_template and value is not None and not header_keyword):
            # Into each chosen image's own data set, which a DICOM write lays
            # over the template (series-wide too: the header keeps only the
            # identity attributes, the template all the others).
            if value is None:
                raise ValueError('setDicomAttribute per slice or tag: give a value')
            header = self._own()
            handle = header.handle
            slices, shape, _ = _native.tag_layout(handle)
            if slices == 0 or not has_template:
                raise NotImplementedError('setDicomAttribute per slice or tag needs a DICOM '
                                          'template (a series read from DICOM, or template=)')
            cells = list(np.ndindex(*shape)) if shape else [()]
            if tag is not None:
                wanted = tuple(tag) if isinstance(tag, (tuple, list)) else (int(tag),)
                chosen = [k for k, index in enumerate(cells) if index[:len(wanted)] == wanted]
                if not chosen:
                    raise IndexError('setDicomAttribute: no tag {} in tag shape {}'.format(
                        wanted, shape))
            else:
                chosen = range(len(cells))
            if slice is not None:
                if not 0 <= int(slice) < slices:
                    raise IndexError('setDicomAttribute: slice {} of {}'.format(slice, slices))
                chosen_slices = [int(slice)]
            else:
                chosen_slices = range(slices)
            text = _option_text(value) if not isinstance(value, (list, tuple)) else \
                '\\'.join(str(v) for v in value)
            for s in chosen_slices:
                for c in chosen:
                    _native.set_cell_attribute(handle, s, c, keyword, text)
            header.changed()
            return
        header = self._own()
        _native.set(header.handle, keyword, None if value is None else _option_text(value))
        header.changed()

    # -- window ---------------------------------------------------------------------------

    def _window(self):
        window = _native.window(self._hdr().handle)
        if window is not None:
            return window
        if self.dtype == RGB_DTYPE:
            return (127, 256)
        data = self.view(np.ndarray)
        if data.size == 0 or np.issubdtype(data.dtype, np.complexfloating):
            return (None, None)
        if np.issubdtype(data.dtype, np.floating):
            lo, hi = np.nanmin(data), np.nanmax(data)
            return (float(np.float32((hi + lo) / 2)), float(np.float32(hi - lo)))
        lo, hi = int(data.min()), int(data.max())
        width, center = hi - lo, (hi + lo) / 2
        if abs(center) > 2:
            center = round(center)
        return (center, width)

    @property
    def windowCenter(self):
        return self._window()[0]

    @windowCenter.setter
    def windowCenter(self, value):
        header = self._own()
        _native.set_window(header.handle, value, self._window()[1])
        header.changed()

    @property
    def windowWidth(self):
        return self._window()[1]

    @windowWidth.setter
    def windowWidth(self, value):
        header = self._own()
        _native.set_window(header.handle, self._window()[0], value)
        header.changed()

    # -- colour (behaviour.md §1.8; numpy only: imagedata.colormaps) ----------------------

    def _rgb_like(self, rgb):
        """An RGB Series of uint8 triples `rgb` (shape + (3,)) on this series'
        grid: its header (geometry, axes, tags, identity) with a new series
        UID, no window, and PhotometricInterpretation RGB."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        result = rgb.view(RGB_DTYPE).reshape(rgb.shape[:-1]).view(Series)
        header = _Header.derived(self._hdr(), RGB_DTYPE)
        _native.set(header.handle, 'PhotometricInterpretation', 'RGB')
        header.changed()
        result.header = header
        return result

    def _default_lut(self, data):
        """The original's quantisation: 256 levels for floats, max + 1 for
        integers (at least 2; at most 65536, so that no table is larger
        than an 8-bit display can show the difference of)."""
        if data.dtype.kind == 'f':
            return 256
        top = int(np.max(data)) if data.size else 1
        return int(min(max(top + 1, 2), 65536))

    def calculate_clip_range(self, probs, bins=None):
        """(low, high) at the cumulative histogram probabilities `probs`
        (bins: 1024 for floats, max + 1 for integers by default)."""
        data = self.view(np.ndarray)
        if bins is None:
            bins = 1024 if data.dtype.kind == 'f' else self._default_lut(data)
        return colormaps.clip_range(data, probs, bins)

    def to_rgb(self, colormap='Greys_r', lut=None, norm='linear', clip='window',
               probs=(0.01, 0.999)):
        """An RGB Series of this one through a colour map (behaviour.md §1.8).

        colormap: 'Greys_r' (default), 'Greys', 'gray', 'gray_r', or a table
        ((N, 3) values in [0, 1], or a matplotlib Colormap); lut: entries of a
        named map (default 256 for floats, max + 1 for integers); norm:
        'linear' or 'log'; clip: 'window' (center -/+ width / 2 of this
        series' window) or 'hist' (the intensities at the histogram
        probabilities `probs`). Values outside the range are clipped; NaN
        (and, with log, values <= 0) are black. An RGB series is returned as
        it is."""
        if self.color:
            return self
        data = self.view(np.ndarray)
        if data.dtype.kind not in 'biuf':
            raise TypeError('imagedata: to_rgb takes real numbers, not {}'.format(data.dtype))
        if lut is None:
            lut = self._default_lut(data)
        elif int(lut) < 2:
            lut = 2
        if clip == 'window':
            center, width = self._window()
            if center is None or width is None:
                raise ValueError('imagedata: to_rgb: the series has no window')
            vmin, vmax = float(center) - float(width) / 2, float(center) + float(width) / 2
        elif clip == 'hist':
            vmin, vmax = colormaps.clip_range(data, probs, lut)
        else:
            raise ValueError("imagedata: clip is 'window' or 'hist', not {!r}".format(clip))
        if norm == 'log' and vmin <= 0:
            # A log scale starts above 0: at the smallest positive voxel.
            positive = data[data > 0]
            vmin = float(positive.min()) if positive.size else vmax
        table = colormaps.colormap_table(colormap, lut)
        return self._rgb_like(colormaps.apply_colormap(
            colormaps.normalize(data, vmin, vmax, norm), table))

    def fuse_mask(self, mask, alpha=0.7, blend=False, colormap='Greys_r', lut=None,
                  norm='linear', clip='window', probs=(0.01, 0.999), maskmap='magma',
                  maskrange=None):
        """An RGB Series of this one with `mask` laid over it (behaviour.md §1.8).

        A binary mask (bool, or integers 0 and 1) is blurred slice by slice by
        a Gaussian of sigma 1.5 pixels into the red channel; any other mask
        is coloured by `maskmap` over `maskrange` (default its min and max).
        out = (1 - alpha) * overlay + background * (alpha if blend else 1),
        clipped to [0, 1], as bytes (rounded). The background is to_rgb(...)
        of this series (or itself when RGB). A 3D mask goes over every tag of
        a 4D series."""
        if self.color:
            bg = self.view(np.ndarray)
            background = np.stack([bg['R'], bg['G'], bg['B']], axis=-1) / 255.0
        else:
            rgb = self.to_rgb(colormap=colormap, lut=lut, norm=norm, clip=clip,
                              probs=probs).view(np.ndarray)
            background = np.stack([rgb['R'], rgb['G'], rgb['B']], axis=-1) / 255.0
        m = mask.view(np.ndarray) if isinstance(mask, Series) else np.asarray(mask)
        if m.dtype.names is not None:
            raise ValueError('imagedata: fuse_mask: the mask cannot be a colour image')
        if m.dtype.kind not in 'biuf':
            raise TypeError('imagedata: fuse_mask: a mask of {} values'.format(m.dtype))
        if self.ndim == 2 and m.ndim != 2:
            raise IndexError('imagedata: fuse_mask: the mask should be 2D, not {}D'.format(m.ndim))
        if self.ndim > 2 and m.ndim != 3:
            raise IndexError('imagedata: fuse_mask: the mask should be 3D, not {}D'.format(m.ndim))
        if m.shape != self.shape[-m.ndim:]:
            raise IndexError('imagedata: fuse_mask: the mask {} does not match the image {}'
                             .format(m.shape, self.shape))
        if m.size == 0:
            raise ValueError('imagedata: fuse_mask: an empty mask')
        binary = m.dtype.kind == 'b' or (m.dtype.kind in 'iu' and m.min() == 0 and m.max() <= 1)
        filtered = m.astype(np.float32)
        if binary:
            planes = filtered.reshape((-1,) + filtered.shape[-2:])
            for k in range(planes.shape[0]):
                planes[k] = colormaps.gaussian_blur_2d(planes[k], 1.5)
            overlay = np.zeros(m.shape + (3,))
            overlay[..., 0] = filtered
        else:
            if maskrange is None:
                maskrange = (np.nanmin(filtered), np.nanmax(filtered))
            lo, hi = float(maskrange[0]), float(maskrange[1])
            if lo == hi:
                hi = lo + 1
            center, width = (lo + hi) / 2, abs(hi - lo)
            table = colormaps.colormap_table(maskmap, 256)
            overlay = colormaps.apply_colormap(colormaps.normalize(
                filtered, center - width / 2, center + width / 2), table) / 255.0
        weight = float(alpha) if blend else 1.0
        fused = np.clip((1.0 - float(alpha)) * overlay + weight * background, 0.0, 1.0)
        return self._rgb_like(np.rint(fused * 255))

    def get_roi(self, *args, **kwargs):
        """Not provided: the original draws the ROI with matplotlib's
        interactive polygon selector, and this package has no GUI toolkit."""
        raise NotImplementedError(
            'Series.get_roi(): not provided: the original draws a ROI interactively with '
            "matplotlib's PolygonSelector, which this package does not depend on; make the "
            'mask elsewhere and use it as a Series (fuse_mask, arithmetic, where=)')

    def get_roi_mask(self):
        """Not provided: the mask of a get_roi() drawing (see get_roi)."""
        raise NotImplementedError(
            'Series.get_roi_mask(): not provided: it returns the mask drawn by get_roi(), '
            "which needs matplotlib's interactive drawing (not a dependency of this package)")

    # -- anonymization (behaviour.md §10) ------------------------------------------------

    def anonymize(self, uid_table=None, extra_anonymization_rules=None, **rules):
        """An anonymized Series: the same voxels (shared, as the original),
        a header without the patient's identity (behaviour.md §10).

        The rules (ANONYMIZATION_RULES, then extra_anonymization_rules, then
        keyword arguments; a value None removes the attribute) replace their
        attribute in the header, the DICOM template and every image's own
        data set (in sequences too), and are added to the template; the
        attributes of REMOVED_ATTRIBUTES go; every other date becomes
        ANONYMOUS_DATE; private elements go everywhere; every instance UID
        (study, series, frame of reference, SOP instances, references) is
        replaced through `uid_table` {old: new}, made on first use, so that
        series anonymized with one table stay consistent. Without a table,
        one table shared by the process (the original's default argument)."""
        table = _UID_TABLE if uid_table is None else uid_table
        merged = dict(ANONYMIZATION_RULES)
        merged.update(extra_anonymization_rules or {})
        merged.update(rules)
        pairs = [(k, None if v is None else _rule_text(v)) for k, v in merged.items()]
        rule_keys = set(merged)
        pairs += [(k, None) for k in REMOVED_ATTRIBUTES if k not in rule_keys]

        def uid_map(old):
            new = table.get(old)
            if new is None:
                new = _native.new_uid()
                table[old] = new
            return new

        _native.anonymize_dataset(None, pairs, uid_map, ANONYMOUS_DATE, False)  # bad keywords raise here
        source = self._hdr()
        header = _Header(source.shape, handle=_native.like(source.handle, _code(self.dtype)))
        handle = header.handle
        template, cells = _native.dicom_state(handle)
        # Every data set first: anonymize_dataset checks the keywords.
        new_template = None if template is None else \
            _native.anonymize_dataset(template, pairs, uid_map, ANONYMOUS_DATE, True)
        new_cells = [(s, c, None if uid is None else uid_map(uid),
                      None if own is None else
                      _native.anonymize_dataset(own, pairs, uid_map, ANONYMOUS_DATE, False))
                     for s, c, uid, own in cells]
        _native.set_dicom_state(handle, new_template, new_cells)
        # The header's own attributes (a DICOM write takes these over the template's).
        present = set(_native.keywords(handle))
        for keyword in sorted(present):
            value = _native.get(handle, keyword)
            if keyword in rule_keys or value is None:
                continue
            if keyword in REMOVED_ATTRIBUTES:
                _native.set(handle, keyword, None)
            elif keyword.endswith('UID') and keyword not in ('SOPClassUID', 'TransferSyntaxUID'):
                _native.set(handle, keyword, '\\'.join(uid_map(u) for u in value.split('\\')))
            elif keyword.endswith('Date') and value:
                _native.set(handle, keyword, ANONYMOUS_DATE)
        for keyword in ('StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID'):
            value = _native.get(handle, keyword)
            if value is not None and keyword not in present and keyword not in rule_keys:
                _native.set(handle, keyword, uid_map(value))
        for keyword, value in pairs:
            if keyword in present or keyword in _HEADER_KEYWORDS or \
                    (keyword in _ANONYMIZED_HEADER and value is not None):
                _native.set(handle, keyword, value)
        header.changed()
        result = self.view(Series)
        result.header = header
        return result

    # -- text -----------------------------------------------------------------------------

    def __str__(self):
        d = self._hdr().description()
        handle = self._hdr().handle
        get = lambda k: _native.get(handle, k) or ''
        return ('Patient: {} {}\nStudy Time: {} {}\nSeries Time: {} {}\n'
                'Series #{} {}: {}\nShape: {}, dtype: {}, input order: {}').format(
            get('PatientID'), get('PatientName'), get('StudyDate'), get('StudyTime'),
            get('SeriesDate'), get('SeriesTime'), get('SeriesNumber'), get('Modality'),
            get('SeriesDescription'), shape_to_str(self.shape), self.dtype,
            d['input_order'])

    def __repr__(self):
        try:
            d = self._hdr().description()
            return 'Series(shape={}, dtype={}, input_order={!r}, patient={!r}, series={!r})'.format(
                self.shape, self.dtype, d['input_order'], d.get('patientName'),
                d.get('seriesDescription'))
        except Exception:  # a broken header must not hide the array
            return 'Series(shape={}, dtype={})'.format(self.shape, self.dtype)


# ---- file objects, pickling -----------------------------------------------------

def _write_object(handle, fileobj, fmt, pairs):
    """Write one format into a binary file object, through imdpy://. The
    object's name (its file's base name) is the name the format writes
    ('x.nii.gz', 'x.zip'); without one, the format's default for a new path
    'Image' (Image.nii.gz, Image.mha, ...). A write of several files (DICOM
    of more than one image) raises: a file object takes one file; name it
    '*.zip' (BytesIO: set .name) to get them zipped."""
    reason = _native.objects_unavailable()
    if reason is not None:
        raise NotImplementedError('imagedata: writing to file objects is not available: ' +
                                  reason)
    bucket = 'b{}'.format(next(_BUCKETS))
    name = _object_name(fileobj, 'Image')
    try:
        _native.write(handle, 'imdpy://{}/{}'.format(bucket, name), fmt, pairs)
    finally:
        objects = _native.store_take(bucket)
    if len(objects) != 1:
        raise ValueError('write to a file object: format {!r} wrote {} files ({}); a file '
                         'object takes one: write to a folder, or to a file object named '
                         '*.zip'.format(fmt, len(objects),
                                        ', '.join(n for n, _ in objects[:3])))
    fileobj.write(objects[0][1])


_STATE_VERSION = 1


def _header_state(series):
    header = series._hdr()
    handle = header.handle
    return {
        'version': _STATE_VERSION,
        'shape': header.shape,
        'description': header.description(),
        'attributes': [(k, _native.get(handle, k)) for k in _native.keywords(handle)],
        'window': _native.window(handle),
        'geometry_defined': _native.geometry_defined(handle),
        'tag_layout': _native.tag_layout(handle),
        'tags': _tag_cells(handle),
        'dicom': _native.dicom_state(handle),
    }


def _tag_cells(handle):
    """The tag store as set_tags takes it: flat cells, slice-major, C order."""
    slices, shape, components = _native.tag_layout(handle)
    d = json.loads(_native.describe(handle))['tags']
    cells = []
    for s in range(slices):
        nested = d.get(str(s))
        for index in np.ndindex(*shape):
            cell = nested
            for i in index:
                cell = cell[i] if cell is not None else None
            if len(shape) == 0 and cell is not None:
                cell = cell[0] if cell and isinstance(cell[0], list) else cell
            cells.append(None if cell is None else tuple(cell))
    return cells


def _c_transform(m):
    """transformationMatrix (s,r,c)->(z,y,x) as the C library's (c,r,s)->(x,y,z), flat."""
    m = np.asarray(m, dtype=float)
    c = np.eye(4)
    c[:3, :3] = m[:3, :3][::-1, ::-1]
    c[:3, 3] = m[:3, 3][::-1]
    return tuple(c.ravel())


def _restore_header(shape, dtype, state):
    if state.get('version') != _STATE_VERSION:
        raise ValueError('imagedata: a pickled Series of another version ({})'.format(
            state.get('version')))
    d = state['description']
    handle = _native.new(_code(dtype), tuple(state['shape']))
    for dim, ax in enumerate(d['axes']):
        if 'values' in ax:
            _native.set_axis(handle, dim, ax['name'], ax.get('unit') or None, None,
                             ax['values'])
        else:
            _native.set_axis(handle, dim, ax['name'], ax.get('unit') or None,
                             float(ax['start']), float(ax['step']))
    _native.set_input_order(handle, d['input_order'], False)
    for keyword, value in state['attributes']:
        _native.set(handle, keyword, value)
    _native.set_spacing(handle, tuple(float(v) for v in d['spacing']))
    positions = [_xyz(d['imagePositions'][k]) for k in sorted(d['imagePositions'], key=int)]
    o = d['orientation']
    _native.set_geometry(handle, positions or None,
                         None if o is None else _xyz(o[:3]) + _xyz(o[3:]),
                         _c_transform(d['transformationMatrix']),
                         d['sliceLocations'])
    _native.geometry_defined(handle, state['geometry_defined'])
    slices, tag_shape, components = state['tag_layout']
    if slices:
        _native.set_tags(handle, slices, tag_shape, components, state['tags'])
    template, cells = state['dicom']
    _native.set_dicom_state(handle, template, cells)
    window = state['window']
    if window is not None:
        _native.set_window(handle, window[0], window[1])
    return handle


def _unpickle(array, state):
    obj = array.view(Series)
    obj.header = _Header(obj.shape if obj.ndim else (1,),
                         handle=_restore_header(obj.shape, obj.dtype, state))
    return obj


def _nested_shape(cells, depth):
    """The shape of the first `depth` levels of nested lists."""
    shape = []
    for _ in range(depth):
        shape.append(len(cells))
        cells = cells[0] if cells else []
    return tuple(shape)


def _tag_value(v):
    if isinstance(v, list):
        if len(v) == 2 and isinstance(v[1], list):
            return (v[0], np.array(v[1]))
        return np.array(v)
    return v


def _concatenate(arrays, axis=0, out=None, **kwargs):
    """np.concatenate of Series: other axes must agree; the joined axis is
    appended (behaviour.md §1.6). Tag axes of numbers get the joined values
    and tags; other axes keep the first series' geometry (extrapolated)."""
    plain = [a.view(np.ndarray) if isinstance(a, Series) else a for a in arrays]
    result = np.concatenate(plain, axis=axis, out=out, **kwargs)
    if out is not None:
        return out
    first = next(a for a in arrays if isinstance(a, Series))
    obj = result.view(Series)
    obj.header = _Header.default(obj.shape, obj.dtype, source=first._hdr())
    if axis is None:
        return obj
    dim = axis % result.ndim
    try:
        header = obj.header
        handle = header.handle
        _native.add_template(handle, first._hdr().handle, True)
        source_axes = [a._hdr().description()['axes'][dim] for a in arrays
                       if isinstance(a, Series)]
        if len(source_axes) == len(arrays) and all('values' in a or 'start' in a
                                                   for a in source_axes):
            values = []
            for ax in source_axes:
                if 'values' in ax:
                    if any(isinstance(v, list) for v in ax['values']):
                        raise ValueError('vector axis')
                    values.extend(ax['values'])
                else:
                    values.extend(ax['start'] + i * ax['step'] for i in range(ax['length']))
            name = source_axes[0]['name']
            if name in ('slice', 'row', 'column'):
                _native.set_axis(handle, dim, name, source_axes[0].get('unit'),
                                 float(values[0]), float(source_axes[0].get('step', 1)))
            else:
                _native.set_axis(handle, dim, name, source_axes[0].get('unit'), None,
                                 [float(v) for v in values])
                order = first.input_order
                _native.set_input_order(handle, order, False)
                tag_ndim = _native.tag_ndim(handle)
                if tag_ndim == 1 and dim == 0:
                    slices = first.slices
                    cells = []
                    for s in range(slices):
                        for v in values:
                            cells.append((float(v),))
                    _native.set_tags(handle, slices, (len(values),), 1, cells)
        header.changed()
    except (ImagedataError, ValueError, KeyError):
        obj.header = _Header.default(obj.shape, obj.dtype, source=first._hdr())
    return obj
