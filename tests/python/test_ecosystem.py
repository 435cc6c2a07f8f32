"""What the Python ecosystem expects of a Series (issue 19 item 3) and Python
file objects and bytes (item 2), each against an independent oracle:
dcm2niix's NIfTI files and nibabel for `affine`, pydicom for the
SimpleITK-style geometry and SOPInstanceUIDs, a fresh interpreter for
pickles, nibabel/pydicom/zipfile for what is written into file objects."""
import gzip
import io
import os
import pickle
import subprocess
import sys
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pydicom
import pytest

from imagedata import formats
from imagedata.series import Series

nibabel = pytest.importorskip('nibabel', reason='SKIP: nibabel is missing (python3-nibabel)')


def dicoms(folder):
    return [pydicom.dcmread(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs]


def corners(shape):
    s, r, c = shape[-3:]
    return [(0, 0, 0), (s - 1, r - 1, c - 1), (0, r - 1, 0), (s - 1, 0, c - 1),
            (s // 2, r // 3, c // 2)]


# ---- affine: voxel -> RAS as nibabel --------------------------------------------

@pytest.mark.parametrize('name', ['sag_ap', 'tra_oblique', 'cor_hf', 'sag_oblique', 'tra_rl'])
def test_affine_against_dcm2niix(data, name):
    """Our affine of the DICOM series maps each voxel to the RAS point where
    dcm2niix's NIfTI of the same series holds the same voxel (nibabel reads it)."""
    a = Series(str(data / 'dicom' / (name + '.zip')))
    img = nibabel.load(str(data / 'nifti' / (name + '.nii.gz')))
    vol = np.asarray(img.dataobj)
    inverse = np.linalg.inv(img.affine)
    for s, r, c in corners(a.shape):
        world = a.affine @ [c, r, s, 1]
        ijk = (inverse @ world)[:3]
        np.testing.assert_allclose(ijk, np.rint(ijk), atol=0.02)
        i, j, k = np.rint(ijk).astype(int)
        assert vol[i, j, k] == a[s, r, c]
    # the affine is the transformationMatrix in nibabel's axis and RAS conventions
    m = a.transformationMatrix
    np.testing.assert_allclose(a.affine[:3, 3], [-m[2, 3], -m[1, 3], m[0, 3]])


def test_to_and_from_nibabel(data, tmp_path):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    img = a.to_nibabel()
    assert img.shape == (152, 192, 3, 3)
    assert np.shares_memory(img.dataobj, a)       # a view, no copy
    np.testing.assert_allclose(img.header.get_zooms(), [2.0833, 2.0833, 3, 2.9875], atol=1e-4)
    nibabel.save(img, str(tmp_path / 'a.nii.gz'))
    back = nibabel.load(str(tmp_path / 'a.nii.gz'))
    np.testing.assert_allclose(back.affine, a.affine, atol=1e-4)  # sform is float32
    assert back.header.get_xyzt_units() == ('mm', 'sec')
    b = Series.from_nibabel(back)
    assert b.shape == a.shape and b.input_order == 'time'
    np.testing.assert_array_equal(b, a)
    np.testing.assert_allclose(b.transformationMatrix, a.transformationMatrix, atol=1e-4)
    np.testing.assert_allclose(b.spacing, a.spacing, atol=1e-5)
    np.testing.assert_allclose(b.orientation, a.orientation, atol=1e-6)
    np.testing.assert_allclose(b.timeline, a.timeline, atol=1e-5)
    for k in range(3):
        np.testing.assert_allclose(b.imagePositions[k], a.imagePositions[k], atol=1e-4)
    # from an in-memory image: a view of its array
    c = Series.from_nibabel(img)
    assert np.shares_memory(c, a)
    np.testing.assert_allclose(c.transformationMatrix, a.transformationMatrix, atol=1e-9)


def test_from_nibabel_agrees_with_our_nifti_reader(data):
    """Our NIfTI reader flips y (behaviour.md §5.2); from_nibabel keeps
    nibabel's order. The same voxel must sit at the same patient position."""
    path = str(data / 'nifti' / 'sag_oblique.nii.gz')
    ours = Series(path)
    theirs = Series.from_nibabel(nibabel.load(path))
    ny = ours.shape[-2]
    assert ours.shape == theirs.shape
    for s, r, c in corners(ours.shape):
        assert ours[s, r, c] == theirs[s, ny - 1 - r, c]
        np.testing.assert_allclose(ours.getPositionForVoxel([s, r, c]),
                                   theirs.getPositionForVoxel([s, ny - 1 - r, c]), atol=1e-3)


# ---- SimpleITK-style geometry -------------------------------------------------------

def test_sitk_geometry_against_pydicom(data):
    folder = data / 'dicom' / 'time' / 'time00'
    a = Series(str(folder))
    origin, spacing, direction = a.sitk_geometry
    ds = sorted(dicoms(folder), key=lambda d: float(d.SliceLocation))
    ipp = [np.array([float(v) for v in d.ImagePositionPatient]) for d in ds]
    first = min(range(3), key=lambda k: np.linalg.norm(ipp[k] - origin))
    last = 2 - first if first in (0, 2) else None
    assert last is not None
    np.testing.assert_allclose(origin, ipp[first], atol=1e-4)
    ps = [float(v) for v in ds[0].PixelSpacing]
    step = ipp[last] - ipp[first]
    np.testing.assert_allclose(spacing, [ps[1], ps[0], np.linalg.norm(step) / 2], atol=1e-4)
    d = np.array(direction).reshape(3, 3)
    iop = [float(v) for v in ds[0].ImageOrientationPatient]
    np.testing.assert_allclose(d[:, 0], iop[:3], atol=1e-6)
    np.testing.assert_allclose(d[:, 1], iop[3:], atol=1e-6)
    np.testing.assert_allclose(d[:, 2], step / np.linalg.norm(step), atol=1e-6)
    # setting it on a plain array gives the same geometry
    b = Series(np.asarray(a))
    b.sitk_geometry = (origin, spacing, direction)
    np.testing.assert_allclose(b.transformationMatrix, a.transformationMatrix, atol=1e-9)
    np.testing.assert_allclose(b.spacing, a.spacing, atol=1e-9)
    for k in range(3):
        np.testing.assert_allclose(b.imagePositions[k], a.imagePositions[k], atol=1e-9)


# ---- zero copy, repr ----------------------------------------------------------------

def test_asarray_shares_memory(data):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    for x in (a, a[1], a[:, 1:3], a[..., 10:20, :], (a + 1)):
        arr = np.asarray(x)
        assert type(arr) is np.ndarray and np.shares_memory(arr, x)
    assert np.asarray(a).ctypes.data == a.ctypes.data


def test_repr(data):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    text = repr(a)
    assert '(3, 3, 192, 152)' in text and "'time'" in text and 'PHANTOM^T1' in text
    assert repr(Series(np.zeros((2, 3)))).startswith('Series(shape=(2, 3)')


# ---- pickling -------------------------------------------------------------------------

def pickled_cases(data):
    d = data / 'dicom'
    a = Series(str(d / 'time'), 'time')
    yield 'time', a
    yield 'view', a[1:, 1:3, 10:50]
    yield 'mean', (a + a) / 2
    yield '5D', Series(str(d / '5D.zip') + '?t1_fl2d_DE_4TEs', 'time,te')
    yield 'dwi', Series(str(d / 'dwi'))
    yield 'dti', Series(str(d / 'ep2d_RSI_b0_500_1500_6dir.zip'), 'dti')
    yield 'rgb', Series(str(d / 'lena_color.dcm'))
    plain = Series(np.arange(60, dtype=np.float32).reshape(3, 4, 5))
    plain.seriesDescription = 'plain'
    plain.windowCenter = 7
    yield 'plain', plain


def test_pickle_round_trip(data):
    for name, a in pickled_cases(data):
        uids = a.SOPInstanceUIDs  # made now where the series has none: they travel too
        b = pickle.loads(pickle.dumps(a, protocol=pickle.HIGHEST_PROTOCOL))
        assert type(b) is Series and b.dtype == a.dtype and b.shape == a.shape, name
        np.testing.assert_array_equal(b, a)
        assert b._hdr().description() == a._hdr().description(), name
        assert [x.name for x in b.axes] == [x.name for x in a.axes]
        for keyword in ('RepetitionTime', 'EchoTime', 'InstitutionName', 'SequenceName'):
            assert b.getDicomAttribute(keyword) == a.getDicomAttribute(keyword), (name, keyword)
        assert (b.windowCenter, b.windowWidth) == (a.windowCenter, a.windowWidth)
        assert b.SOPInstanceUIDs == uids, name


def test_pickle_writes_the_same_dicom(data, tmp_path):
    """The pickled header is the whole header: the DICOM files written from
    the copy (keep_uid) equal those of the original, element by element."""
    a = Series(str(data / 'dicom' / 'time'), 'time')
    b = pickle.loads(pickle.dumps(a))
    a.write(str(tmp_path / 'a'), opts={'keep_uid': True})
    b.write(str(tmp_path / 'b'), opts={'keep_uid': True})
    fa = sorted(p.relative_to(tmp_path / 'a') for p in (tmp_path / 'a').rglob('*') if p.is_file())
    fb = sorted(p.relative_to(tmp_path / 'b') for p in (tmp_path / 'b').rglob('*') if p.is_file())
    assert fa == fb and len(fa) == 9
    varying = {'InstanceCreationDate', 'InstanceCreationTime', 'ContentDate', 'ContentTime'}
    for f in fa:
        da = pydicom.dcmread(str(tmp_path / 'a' / f))
        db = pydicom.dcmread(str(tmp_path / 'b' / f))
        ka = {e.tag for e in da if e.keyword not in varying}
        kb = {e.tag for e in db if e.keyword not in varying}
        assert ka == kb, f
        for tag in ka:
            assert da[tag].value == db[tag].value, (f, da[tag].keyword)
    assert {pydicom.dcmread(str(tmp_path / 'b' / f)).SOPInstanceUID for f in fb} == \
        set(a.SOPInstanceUIDs.values())


def test_pickle_in_a_fresh_interpreter(data, tmp_path):
    a = Series(str(data / 'dicom' / '5D.zip') + '?t1_fl2d_DE_4TEs', 'time,te')
    (tmp_path / 'a.pickle').write_bytes(pickle.dumps(a))
    script = ('import pickle, sys, numpy as np\n'
              's = pickle.load(open(sys.argv[1], "rb"))\n'
              'print(s.shape, s.input_order, s.patientName, s.getDicomAttribute("EchoTime"),'
              ' int(np.asarray(s, dtype=np.int64).sum()))\n')
    out = subprocess.run([sys.executable, '-c', script, str(tmp_path / 'a.pickle')],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[:5] == ['(3,', '4,', '3,', '72,', '96)']
    assert out[5] == 'time,te' and out[6] == a.patientName
    assert out[7] == a.getDicomAttribute('EchoTime')
    assert int(out[8]) == int(np.asarray(a, dtype=np.int64).sum())


# ---- SOPInstanceUIDs ---------------------------------------------------------------

def test_sop_instance_uids(data):
    folder = data / 'dicom' / 'time'
    a = Series(str(folder), 'time')
    uids = a.SOPInstanceUIDs
    assert len(uids) == 9 and len(set(uids.values())) == 9
    arr = np.asarray(a)
    for d in dicoms(folder):
        hits = [(t, s) for t in range(3) for s in range(3)
                if np.array_equal(arr[t, s], d.pixel_array)]
        assert len(hits) == 1
        assert uids[hits[0]] == d.SOPInstanceUID
    # indexing keeps them, renumbered (behaviour.md §11: SOP slicing (t,1) -> (t,0))
    sub = a[:, 1:]
    for t in range(3):
        assert sub.SOPInstanceUIDs[(t, 0)] == uids[(t, 1)]
    # a computed series has none; new ones are made once, then kept
    m = (a + a) / 2
    first = m.SOPInstanceUIDs
    assert not set(first.values()) & set(uids.values())
    assert m.SOPInstanceUIDs == first
    plain = Series(np.zeros((3, 4, 5)))
    tags = {k: list(v) for k, v in plain.tags.items()}
    assert tags == {0: [(0,)], 1: [(0,)], 2: [(0,)]}
    assert sorted(plain.SOPInstanceUIDs) == [(0, 0), (0, 1), (0, 2)]
    assert {k: list(v) for k, v in plain.tags.items()} == tags   # the getter changed nothing


# ---- threads -------------------------------------------------------------------------

def test_concurrent_reads_in_threads(data):
    folder = str(data / 'dicom' / 'time')
    zipped = str(data / 'dicom' / '5D.zip') + '?t1_fl2d_DE_4TEs'
    reference = (np.asarray(Series(folder, 'time')).copy(),
                 np.asarray(Series(zipped, 'time,te')).copy())
    descriptions = (Series(folder, 'time')._hdr().description(),
                    Series(zipped, 'time,te')._hdr().description())
    barrier = threading.Barrier(4)

    def work(i):
        barrier.wait()
        results = []
        for k in range(6):
            which = (i + k) % 2
            s = Series(folder, 'time') if which == 0 else Series(zipped, 'time,te')
            mean = (s + s) / 2
            results.append((which, np.array_equal(s, reference[which]),
                            s._hdr().description() == descriptions[which],
                            np.array_equal(mean, reference[which]),
                            pickle.loads(pickle.dumps(s)).shape == reference[which].shape))
        return results

    with ThreadPoolExecutor(4) as pool:
        for results in pool.map(work, range(4)):
            for which, same, header, mean, pickled in results:
                assert same and header and mean and pickled, which


# ---- Python file objects and bytes ------------------------------------------------

def test_read_file_objects_and_bytes(data):
    d = data / 'dicom'
    one = d / 'time' / 'time00' / 'Image_00019.dcm'
    by_path = Series(str(one))
    with open(one, 'rb') as f:
        by_file = Series(f)
    np.testing.assert_array_equal(by_file, by_path)
    assert by_file.patientName == 'PHANTOM^T1' and by_file.shape == (192, 152)
    assert by_file.SOPInstanceUIDs == by_path.SOPInstanceUIDs
    np.testing.assert_array_equal(by_file, pydicom.dcmread(str(one)).pixel_array)
    zipped = (d / 'time.zip').read_bytes()
    for source in (io.BytesIO(zipped), zipped, bytearray(zipped), memoryview(zipped)):
        z = Series(source, 'time')
        assert z.shape == (3, 3, 192, 152)
        np.testing.assert_allclose(z.timeline, [0, 2.9875, 5.975], atol=1e-6)
    np.testing.assert_array_equal(z, Series(str(d / 'time.zip'), 'time'))
    nii = data / 'nifti' / 'sag_ap.nii.gz'
    n = Series(nii.read_bytes())         # gzip without a name is NIfTI
    np.testing.assert_array_equal(n, Series(str(nii)))
    np.testing.assert_allclose(n.transformationMatrix, Series(str(nii)).transformationMatrix)
    with open(nii, 'rb') as f:
        np.testing.assert_array_equal(Series(f), n)
    # bad input: clear errors, no crash
    with pytest.raises(formats.UnknownInputError):
        Series(b'not an image at all' * 10)
    with pytest.raises(formats.ImagedataError):
        Series(io.BytesIO(zipped[:1000]), 'time')
    with pytest.raises(formats.ImagedataError):
        Series(b'')
    with open(d / 'time' / 'time00' / 'Image_00019.dcm', 'r', encoding='latin-1') as f:
        with pytest.raises(TypeError, match='binary'):
            Series(f)


def test_write_file_objects(data, tmp_path):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    # NIfTI into a BytesIO: the same bytes as the file write; nibabel reads it
    bio = io.BytesIO()
    a.write(bio, formats=['nifti'])
    a.write(str(tmp_path / 'a.nii.gz'), formats=['nifti'])
    assert gzip.decompress(bio.getvalue()) == gzip.decompress(
        (tmp_path / 'a.nii.gz').read_bytes())
    img = nibabel.Nifti1Image.from_bytes(gzip.decompress(bio.getvalue()))
    assert img.shape == (152, 192, 3, 3)
    np.testing.assert_array_equal(np.sort(np.asarray(img.dataobj).ravel()),
                                  np.sort(np.asarray(a).ravel()))
    # into a real file opened by the caller, named by it
    with open(tmp_path / 'b.mha', 'wb') as f:
        a[0].write(f, formats=['itk'])
    assert Series(str(tmp_path / 'b.mha')).shape == (3, 192, 152)
    np.testing.assert_array_equal(Series(str(tmp_path / 'b.mha')), a[0])
    # one DICOM image into a BytesIO: pydicom reads it
    bio = io.BytesIO()
    a[1, 2].write(bio)
    ds = pydicom.dcmread(io.BytesIO(bio.getvalue()))
    np.testing.assert_array_equal(ds.pixel_array, a[1, 2])
    assert str(ds.PatientName) == 'PHANTOM^T1'
    # a 4D series as DICOM into a file object named *.zip: a zip of 9 files
    bio = io.BytesIO()
    bio.name = 'series.zip'
    a.write(bio)
    with zipfile.ZipFile(io.BytesIO(bio.getvalue())) as z:
        names = [n for n in z.namelist() if not n.endswith('/')]
        assert len(names) == 9
        for n in names:
            pydicom.dcmread(io.BytesIO(z.read(n))).pixel_array
    assert Series(bio.getvalue(), 'time').shape == a.shape
    # several files into one unnamed object: refused, nothing written
    bio = io.BytesIO()
    with pytest.raises(ValueError, match='9 files'):
        a.write(bio)
    assert bio.getvalue() == b''
    with pytest.raises(ValueError, match='one format'):
        a.write(io.BytesIO(), formats=['nifti', 'itk'])
