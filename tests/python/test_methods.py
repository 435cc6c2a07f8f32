"""behaviour.md §1 items beyond the first part: align (scipy's
map_coordinates as the oracle), dicomTemplate and getDicomAttribute by tag
(pydicom), header-aware numpy functions, copy on write of shared headers,
concatenation along slices, tags and timeline after indexing."""
import os

import numpy as np
import pydicom
import pytest

from imagedata.series import Series


def first_dicom(folder):
    for r, _, fs in os.walk(folder):
        for f in sorted(fs):
            return pydicom.dcmread(os.path.join(r, f))


def test_align_against_scipy(data):
    ndimage = pytest.importorskip('scipy.ndimage', reason='SKIP: scipy is missing')
    moving = Series(str(data / 'dicom' / 'cor_oblique.zip'))
    # a reference grid in the same frame: shifted by fractions of a voxel and
    # turned 10 degrees in plane, so that every value is interpolated
    turn = np.eye(4)
    angle = np.radians(10)
    turn[1:3, 1:3] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    turn[:3, 3] = [0.37, 10.3, -7.6]  # no ties: nearest is unambiguous
    reference = Series(np.zeros((20, 160, 160), dtype=np.uint16), template=moving)
    reference.transformationMatrix = moving.transformationMatrix @ turn
    assert moving.frameOfReferenceUID == reference.frameOfReferenceUID
    aligned = moving.align(reference)
    assert aligned.shape == reference.shape and aligned.dtype == moving.dtype
    np.testing.assert_allclose(aligned.transformationMatrix, reference.transformationMatrix,
                               atol=1e-9)
    # the oracle: M_mov^-1 . M_ref, trilinear (order 1) by scipy
    grid = np.indices(reference.shape).reshape(3, -1)
    points = reference.transformationMatrix @ np.vstack([grid, np.ones(grid.shape[1])])
    coords = (np.linalg.inv(moving.transformationMatrix) @ points)[:3]
    inside = np.all((coords >= 0) & (coords <= np.array(moving.shape)[:, None] - 1), axis=0)
    expected = ndimage.map_coordinates(np.asarray(moving, dtype=float), coords, order=1)
    got = np.asarray(aligned).reshape(-1)
    assert inside.sum() > 1000   # the grids overlap
    # measured: equal at every inside voxel; rounding ties may differ by 1
    assert np.abs(got[inside] - np.rint(expected[inside])).max() <= 1
    assert np.mean(got[inside] == np.rint(expected[inside])) > 0.999
    assert np.all(got[~inside] == 0)   # outside the moving series: 0
    # nearest keeps the type exactly; 4D keeps the tag axis
    nearest = moving.align(reference, interpolation='nearest')
    expected = ndimage.map_coordinates(np.asarray(moving), coords, order=0)
    assert np.mean(np.asarray(nearest).reshape(-1)[inside] == expected[inside]) > 0.999
    a = Series(str(data / 'dicom' / 'time'), 'time')
    same = a.align(a[0])
    assert same.shape == a.shape and same.input_order == 'time'
    np.testing.assert_array_equal(same, a)
    with pytest.raises(ValueError):
        a[0, 0].align(a[0])   # 2D raises (behaviour.md §11)
    other = Series(np.asarray(moving))
    other.transformationMatrix = moving.transformationMatrix
    other.frameOfReferenceUID = '1.2.3'
    with pytest.raises(ValueError, match='frames of reference'):
        other.align(reference)
    assert other.align(reference, force=True).shape == reference.shape


def test_dicom_template_and_attributes(data):
    folder = data / 'dicom' / 'time' / 'time00'
    a = Series(str(folder))
    ds = first_dicom(folder)
    t = a.dicomTemplate
    assert isinstance(t, pydicom.Dataset)
    for keyword in ('RepetitionTime', 'EchoTime', 'FlipAngle', 'InstitutionName',
                    'SequenceName', 'MagneticFieldStrength'):
        assert str(t[keyword].value) == str(ds[keyword].value), keyword
    assert 'PixelData' not in t
    assert a.getDicomAttribute(0x00180080) == str(ds.RepetitionTime)
    assert a.getDicomAttribute((0x0018, 0x0081)) == str(ds.EchoTime)
    assert a.getDicomAttribute('FlipAngle') == str(ds.FlipAngle)
    assert a.getDicomAttribute('ContrastBolusAgent') is None
    with pytest.raises(ValueError):
        a.getDicomAttribute(0x7777FFFF)
    assert Series(np.zeros((2, 3))).dicomTemplate is None
    # the template travels with template=
    b = Series(np.asarray(a), template=a)
    assert b.dicomTemplate.RepetitionTime == ds.RepetitionTime


def test_header_aware_functions(data):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    for f in (np.zeros_like, np.empty_like, np.ones_like, lambda x: np.full_like(x, 3),
              np.nan_to_num, lambda x: np.clip(x, 10, 100), np.rint,
              lambda x: np.minimum(x, 5), lambda x: np.maximum(x, 5)):
        r = f(a)
        assert isinstance(r, Series) and r.shape == a.shape
        assert r.seriesInstanceUID != a.seriesInstanceUID
        assert r.patientName == a.patientName and r.input_order == 'time'
        np.testing.assert_allclose(r.transformationMatrix, a.transformationMatrix)
    for f, order, shape in ((lambda x: np.max(x, axis=0), 'none', (3, 192, 152)),
                            (lambda x: np.sum(x, axis=(2, 3)), 'time', (3, 3)),
                            (lambda x: np.count_nonzero(x, axis=0), 'none', (3, 192, 152)),
                            (lambda x: np.nanmax(x, axis=1), 'time', (3, 192, 152))):
        r = f(a)
        assert r.shape == shape and r.input_order == order
    np.testing.assert_array_equal(np.max(a, axis=0), np.asarray(a).max(axis=0))
    assert type(np.min(a)) is np.uint16 and np.min(a) == np.asarray(a).min()


def test_copy_on_write(data):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    c = a.copy()
    c.seriesNumber = 99
    assert (a.seriesNumber, c.seriesNumber) == (14, 99)
    b = a[0]                    # made before the change: keeps the old header
    m = a + 1
    a.seriesDescription = 'changed'
    a.patientName = 'X^Y'
    assert b.seriesDescription == 'fl3d_dynamic' and m.patientName == 'PHANTOM^T1'
    assert a.seriesDescription == 'changed'
    f = a.astype(np.float32)
    f.spacing = (1, 1, 1)
    np.testing.assert_allclose(a.spacing, [3, 2.0833, 2.0833], atol=1e-4)


def test_concatenate_slices_and_indexing(data):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    j = np.concatenate((a[:, :2], a[:, 2:]), axis=1)
    assert j.shape == a.shape
    for k in range(3):
        np.testing.assert_allclose(j.imagePositions[k], a.imagePositions[k], atol=1e-6)
    np.testing.assert_allclose(j.sliceLocations, a.sliceLocations, atol=1e-6)
    # tags and timeline follow indexing
    np.testing.assert_allclose(a[1:].timeline, [0, 2.9875], atol=1e-6)
    np.testing.assert_allclose(a[1:].axes.time.values, [52534.65, 52537.6375])
    assert list(a[:, 1].tags[0]) == list(a.tags[1])
    assert sorted(a[:, 1:3].tags) == [0, 1]
    np.testing.assert_allclose(a[::2].timeline, [0, 5.975], atol=1e-6)


def test_arithmetic_adds_no_array_copies(data):
    """c = (a + b) / 2 allocates what numpy allocates for the same
    expression, plus a header (tracemalloc sees numpy's buffers)."""
    import tracemalloc
    a = Series(str(data / 'dicom' / 'time'), 'time')
    b = Series(str(data / 'dicom' / 'time'), 'time')
    plain_a, plain_b = np.asarray(a), np.asarray(b)

    def measure(fn):
        fn()
        tracemalloc.start()
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return result, peak

    expected, numpy_peak = measure(lambda: (plain_a + plain_b) / 2)

    def with_header():
        c = (a + b) / 2
        c.seriesInstanceUID   # the header is made now
        return c

    c, series_peak = measure(with_header)
    np.testing.assert_array_equal(c, expected)
    # the float64 result is 2 MiB; a copy of any array would add at least 0.5 MiB
    assert numpy_peak >= c.nbytes
    assert series_peak - numpy_peak < 256 * 1024, (series_peak, numpy_peak)


def test_file_object_reads_and_pickles_do_not_grow(data):
    import gc
    import io
    import pickle
    from test_series import rss_kib
    content = (data / 'dicom' / 'time.zip').read_bytes()
    for _ in range(5):
        pickle.loads(pickle.dumps(Series(io.BytesIO(content), 'time')))
    gc.collect()
    before = rss_kib()
    for _ in range(50):   # 50 x (read 0.5 MiB, pickle, write): 75 MiB moved
        s = Series(io.BytesIO(content), 'time')
        t = pickle.loads(pickle.dumps(s))
        out = io.BytesIO()
        t[0].write(out, formats=['nifti'])
        del s, t, out
    gc.collect()
    grown = rss_kib() - before
    assert grown < 8 * 1024, 'RSS grew by {} KiB'.format(grown)


def test_set_dicom_attribute_per_slice_and_tag(data, tmp_path):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    a.setDicomAttribute('ImageComments', 'second time point', tag=1)
    a.setDicomAttribute('ImageComments', 'slice 2 of time 0', slice=2, tag=0)
    a.setDicomAttribute('EchoNumbers', 3, slice=0)
    a.setDicomAttribute('StudyDescription', 'whole series')
    a.setDicomAttribute('SeriesNumber', 4)   # a header attribute: the header's
    a.seriesNumber = 5                       # so the later setter wins
    a.write(str(tmp_path / 'out'))
    seen = {}
    for path in (tmp_path / 'out').rglob('*.dcm'):
        ds = pydicom.dcmread(str(path))
        t = [k for k, v in enumerate(a.timeline) if
             abs(float(ds.AcquisitionTime[4:]) - float('{:.6f}'.format(
                 a.axes.time.values[k] % 60))) < 1e-3]
        s = int(np.argmin([abs(float(ds.SliceLocation) - x) for x in a.sliceLocations]))
        assert len(t) == 1
        seen[(t[0], s)] = (ds.get('ImageComments'), int(ds.EchoNumbers), ds.StudyDescription)
        assert int(ds.SeriesNumber) == 5
    assert len(seen) == 9
    for (t, s), (comment, echo, study) in seen.items():
        expected = 'second time point' if t == 1 else \
            'slice 2 of time 0' if (t, s) == (0, 2) else None
        assert comment == expected, (t, s)
        assert echo == (3 if s == 0 else 1), (t, s)
        assert study == 'whole series'
    with pytest.raises(NotImplementedError):
        Series(np.zeros((3, 4, 5))).setDicomAttribute('ImageComments', 'x', slice=1)
