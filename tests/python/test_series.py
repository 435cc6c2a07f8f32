"""behaviour.md §1 and §11 through Python: the numbers the C tests check
(tests/integration/dicom_reference.py), pydicom as the oracle for voxels and
positions, and the ufunc/indexing/window rules of the original."""
import gc
import os
import zipfile

import numpy as np
import pydicom
import pytest

import imagedata
from imagedata import formats
from imagedata.series import Series


def dicoms(folder):
    return [pydicom.dcmread(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs]


# ---- construction -------------------------------------------------------------

def test_from_arrays():
    assert [a.name for a in Series(np.zeros((2, 3, 4, 5))).axes] == \
        ['none', 'slice', 'row', 'column']
    assert [a.name for a in Series(np.zeros((2, 2, 3, 4, 5))).axes] == \
        ['none', 'unknown0', 'slice', 'row', 'column']
    assert [a.name for a in Series(np.zeros((3, 4, 5)), 'time').axes] == \
        ['time', 'row', 'column']
    s = Series(np.uint16(1))
    assert s.shape == (1,) and s.dtype == np.uint16
    assert Series((1, 2, 3)).dtype == np.int64
    four = Series(np.zeros((2, 3, 4, 5)))
    assert list(four.tags[0]) == [(0,), (1,)]
    e = Series(np.eye(4))
    assert (e.windowCenter, e.windowWidth) == (0.5, 1.0)
    assert e.SOPClassUID == '1.2.840.10008.5.1.4.1.1.7'
    copy = Series(e)
    assert copy.seriesInstanceUID != e.seriesInstanceUID
    assert copy.studyInstanceUID == e.studyInstanceUID


def test_errors_carry_code_and_message(data, tmp_path):
    with pytest.raises(formats.NotFoundError) as raised:
        Series(str(tmp_path / 'nothing'))
    assert raised.value.code == 9 and 'nothing' in str(raised.value)
    assert isinstance(raised.value, FileNotFoundError)
    with pytest.raises(formats.UnknownInputError) as raised:
        Series(str(data / 'dicom' / 'time'), input_echo=2)
    assert raised.value.code in (2, 6)
    with pytest.raises(formats.UnknownOptionError) as raised:
        Series(str(data / 'dicom' / 'time'), no_such_option=1)
    assert 'no_such_option' in str(raised.value) and raised.value.code == 2
    with pytest.raises(formats.UnknownOptionError, match='ture'):
        Series(str(data / 'dicom' / 'time'), accept_duplicate_tag='ture')
    with pytest.raises(formats.CannotSort) as raised:
        Series(str(data / 'dicom' / 'time'), 'b')
    assert raised.value.code == 7
    with pytest.raises(formats.InvalidArgumentError):
        Series(str(data / 'dicom' / 'time'), 'time,,b')


def test_multiple_and_none(data, tmp_path):
    folder = tmp_path / 'two'
    folder.mkdir()
    for src in (data / 'dicom' / 'time' / 'time00').iterdir():
        (folder / ('t' + src.name)).write_bytes(src.read_bytes())
    for src in (data / 'dicom' / 'dwi').iterdir():
        (folder / ('d' + src.name)).write_bytes(src.read_bytes())
    with pytest.raises(formats.MultipleSeriesError):
        Series(str(folder))
    # What could not be read is not dropped silently: a warning per failure.
    part = tmp_path / 'part'
    part.mkdir()
    for src in (data / 'dicom' / 'time' / 'time00').iterdir():
        (part / ('t' + src.name)).write_bytes(src.read_bytes())
    (part / 'broken.dcm').write_bytes(b'\0' * 128 + b'DICM' + b'\xff' * 10)
    with pytest.warns(formats.ImagedataWarning):
        s = Series(str(part))
    assert s.shape == (3, 192, 152)


# ---- properties: the time series ---------------------------------------------

def test_time_series(data):
    folder = data / 'dicom' / 'time'
    a = Series(str(folder), 'time')
    assert a.shape == (3, 3, 192, 152) and a.dtype == np.uint16
    assert [x.name for x in a.axes] == ['time', 'slice', 'row', 'column']
    np.testing.assert_allclose(a.spacing, [3, 2.0833, 2.0833], atol=1e-4)
    np.testing.assert_allclose(a.timeline, [0, 2.9875, 5.975], atol=1e-6)
    assert a.slices == 3 and a.rows == 192 and a.columns == 152
    assert a.patientName == 'PHANTOM^T1'
    assert a.patientID == '19.02.07-14:04:17-STD-1.3.12.2.1107.5.2.43.66035'
    assert a.seriesNumber == 14 and a.seriesDescription == 'fl3d_dynamic'
    assert a.modality == 'MR' and a.imageType[:2] == ['ORIGINAL', 'PRIMARY']
    assert (a.windowCenter, a.windowWidth) == (847, 1694)
    np.testing.assert_allclose([t[0] for t in a.tags[0]], a.axes.time.values)
    assert a.tags[0][0] == (pytest.approx(52531.6625),)
    assert str(a).splitlines()[-1] == 'Shape: 3tx3x192x152, dtype: uint16, input order: time'
    assert str(a).splitlines()[3] == 'Series #14 MR: fl3d_dynamic'
    assert 'PHANTOM^T1' in repr(a) and "'time'" in repr(a)
    assert a.getDicomAttribute('RepetitionTime') is not None
    # Voxels and geometry against pydicom: every file is one (time, slice) image.
    ds = dicoms(folder)
    m = a.transformationMatrix
    for d in ds:
        ipp = np.array([float(v) for v in d.ImagePositionPatient])[::-1]
        s = int(np.argmin([np.linalg.norm(a.imagePositions[k] - ipp) for k in range(3)]))
        np.testing.assert_allclose(a.imagePositions[s], ipp, atol=1e-3)
        t = [k for k in range(3) if np.array_equal(np.asarray(a)[k, s], d.pixel_array)]
        assert len(t) == 1
        # ipp[s] = T0 + s * M[:, 0] (§11)
        np.testing.assert_allclose(m[:3, 3] + s * m[:3, 0], ipp, atol=1e-3)
    iop = [float(v) for v in ds[0].ImageOrientationPatient]
    np.testing.assert_allclose(a.orientation, iop[2::-1] + iop[:2:-1], atol=1e-6)
    # getVoxelForPosition inverts getPositionForVoxel
    p = a.getPositionForVoxel([1, 20, 30])
    assert list(a.getVoxelForPosition(p)) == [1, 20, 30]


def test_other_series(data):
    dwi = Series(str(data / 'dicom' / 'dwi'))
    assert dwi.shape == (3, 30, 384, 312) and dwi.input_order == 'b'
    np.testing.assert_allclose(dwi.bvalues, [50, 400, 800])
    np.testing.assert_allclose(dwi.spacing, [6, 0.98958, 0.98958], atol=1e-4)
    ti = Series(str(data / 'dicom' / 'TI'), 'ti', ti='InversionTime', ignore_series_uid=True)
    assert ti.shape == (5, 1, 384, 384)
    np.testing.assert_allclose([t[0] for t in ti.tags[0]], [30, 60, 120, 200, 400])
    five = Series(str(data / 'dicom' / '5D.zip') + '?t1_fl2d_DE_4TEs', 'time,te')
    assert five.shape == (3, 4, 3, 72, 96) and five.input_order == 'time,te'
    np.testing.assert_allclose(five.axes.te.values, [2.05, 9.84, 13.72, 17.26])
    np.testing.assert_allclose(five.tags[0][0][1], (31337.7825, 9.84))
    sag = Series(str(data / 'dicom' / 'sag_ap.zip'))
    assert sag.shape == (3, 320, 220)
    np.testing.assert_allclose(sag.transformationMatrix[0], [0, -0.71875, 0, 85.992], atol=1e-3)
    tra = Series(str(data / 'dicom' / 'tra_rl.zip'))
    np.testing.assert_allclose(tra.transformationMatrix[0], [6.5, 0, 0, -35.508], atol=1e-3)
    # the 5D mean over time (§1.6): order te, tags of the first time point
    m = five.mean(axis=0)
    assert m.shape == (4, 3, 72, 96) and m.input_order == 'te'
    assert m.tags[0][0] == (pytest.approx(2.05),)
    assert m.tags[0][3] == (pytest.approx(17.26),)


# ---- indexing -------------------------------------------------------------------

def test_indexing(data):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    b = a[1]
    assert b.shape == (3, 192, 152) and b.input_order == 'none'
    assert b.tags[0].shape == (1,)
    assert np.shares_memory(a, b)
    assert b.seriesInstanceUID == a.seriesInstanceUID
    s = a[:, 1:3]
    np.testing.assert_allclose(s.imagePositions[0], a.imagePositions[1])
    assert s.slices == 2 and s.shape == (3, 2, 192, 152)
    one = a[0:1]          # a tag axis left with one value goes
    assert one.shape == (3, 192, 152) and one.input_order == 'none'
    two = a[0:2]
    assert two.input_order == 'time' and len(two.axes.time) == 2
    assert list(a[:, :, 5, ...].shape) == [3, 3, 152]
    crop = a[:, :, 10:20, 30:40]
    # an in-plane crop moves the origin to the first kept voxel (a fixed bug)
    np.testing.assert_allclose(crop.transformationMatrix[:3, 3],
                               a.getPositionForVoxel([0, 10, 30]), atol=1e-6)
    with pytest.raises(IndexError):
        a[..., 0, ...]
    assert isinstance(a[0, 0, 0, 0], np.uint16)
    # writing into a view changes the parent (numpy semantics)
    c = Series(np.zeros((2, 3, 4, 5)), 'time')
    c[1][...] = 7
    assert c[1, 0, 0, 0] == 7


# ---- arithmetic -------------------------------------------------------------------

def test_ufuncs(data):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    b = Series(str(data / 'dicom' / 'time'), 'time')
    c = (a + b) / 2
    assert isinstance(c, Series) and c.dtype == np.float64
    np.testing.assert_array_equal(c, np.asarray(a, dtype=float))
    assert c.seriesInstanceUID not in (a.seriesInstanceUID,)
    assert c.patientName == a.patientName and c.input_order == 'time'
    np.testing.assert_allclose(c.transformationMatrix, a.transformationMatrix)
    assert c.windowCenter != a.windowCenter   # reset, computed from the floats
    assert type(a.max()) is np.uint16
    mask = np.zeros(a.shape, dtype=bool)
    mask[:, :, 90:100, 70:80] = True
    m = np.mean(a, axis=(1, 2, 3), where=mask)
    assert m.shape == (3,) and m.input_order == 'time'
    np.testing.assert_allclose(m, np.asarray(a)[:, mask[0]].mean(axis=1))
    joined = np.concatenate((a, a))
    assert joined.shape == (6, 3, 192, 152)
    assert len(joined.axes.time) == 6 and len(joined.tags[0]) == 6
    assert a.seriesInstanceUID == b.seriesInstanceUID  # the inputs are untouched


def test_zero_copy_and_free(data):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    arr = np.asarray(a)
    assert np.shares_memory(arr, a)
    assert not arr.flags.owndata and arr.base is not None
    del a
    gc.collect()
    assert arr.sum() > 0   # the view keeps the C buffer alive


def rss_kib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS')


def test_read_and_drop_does_not_grow(data):
    folder = str(data / 'dicom' / 'time')
    for _ in range(10):
        s = Series(folder, 'time')
        del s
    gc.collect()
    before = rss_kib()
    for _ in range(100):
        s = Series(folder, 'time')
        t = (s[1] + 1).mean()
        del s
    gc.collect()
    grown = rss_kib() - before
    # 100 series of 513 KiB voxels (52 MiB) read; memory must come back.
    assert grown < 8 * 1024, 'RSS grew by {} KiB'.format(grown)


def test_threads():
    n = imagedata.threads()
    assert imagedata.set_threads(1) == 1
    assert imagedata.set_threads(0) == n or imagedata.threads() >= 1


# ---- writing, checked by nibabel and pydicom -----------------------------------

def test_write_nifti_nibabel(data, tmp_path):
    import nibabel
    a = Series(str(data / 'dicom' / 'time'), 'time')
    a.write(str(tmp_path / 'x.nii.gz'), formats=['nifti'])
    img = nibabel.load(str(tmp_path / 'x.nii.gz'))
    assert img.shape == (152, 192, 3, 3)
    np.testing.assert_allclose(img.header.get_zooms()[:3], [2.0833, 2.0833, 3], atol=1e-3)
    vol = np.asarray(img.dataobj)
    for (t, s, r, c) in [(0, 0, 5, 5), (2, 1, 120, 60)]:
        world = a.affine @ [c, r, s, 1]
        ijk = np.linalg.inv(img.affine) @ world
        i, j, k = np.rint(ijk[:3]).astype(int)
        assert vol[i, j, k, t] == a[t, s, r, c]


def test_write_dicom_pydicom_setters(data, tmp_path):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    b = a[0]
    b.seriesNumber = 1004
    b.seriesDescription = 'Processed data'
    b.patientName = 'Doe^Jane'
    b.write(str(tmp_path / 'out'))
    ds = dicoms(tmp_path / 'out')
    assert len(ds) == 3
    assert {int(d.SeriesNumber) for d in ds} == {1004}
    assert {d.SeriesDescription for d in ds} == {'Processed data'}
    assert {str(d.PatientName) for d in ds} == {'Doe^Jane'}
    assert a.patientName == 'PHANTOM^T1'   # the parent's header is its own
    for d in ds:
        ipp = np.array([float(v) for v in d.ImagePositionPatient])[::-1]
        s = int(np.argmin([np.linalg.norm(b.imagePositions[k] - ipp) for k in range(3)]))
        np.testing.assert_allclose(b.imagePositions[s], ipp, atol=1e-3)
        np.testing.assert_array_equal(d.pixel_array, np.asarray(b)[s])


def test_template_and_geometry_from_url(data, tmp_path):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    plain = Series(np.asarray(a[0], dtype=np.float32))
    with_template = Series(np.asarray(a[0]), template=str(data / 'dicom' / 'time' / 'time00'),
                           geometry=a[0])
    assert with_template.studyInstanceUID == a.studyInstanceUID
    assert with_template.patientName == 'PHANTOM^T1'
    np.testing.assert_allclose(with_template.transformationMatrix, a[0].transformationMatrix,
                               atol=1e-6)
    assert plain.patientName == ''
    with pytest.raises(ValueError):
        plain.seriesNumber
