"""behaviour.md §1.8 and §10 through Python: to_rgb, fuse_mask (a binary
mask blurred by a Gaussian of sigma 1.5), get_roi (not provided) and
anonymize.

Oracles: the colour arithmetic is recomputed here with numpy, independently
of imagedata.colormaps (ColorBrewer's published Greys anchors, a direct 2D
convolution for the blur, scipy.ndimage.gaussian_filter when scipy is
there); what anonymize writes is read back with pydicom."""
import glob
import math
import os
from fractions import Fraction

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from imagedata.series import Series, RGB_DTYPE
from imagedata import series as series_module

# ColorBrewer Greys, 9 classes, light to dark (colorbrewer2.org).
GREYS_HEX = ['#ffffff', '#f0f0f0', '#d9d9d9', '#bdbdbd', '#969696', '#737373', '#525252',
             '#252525', '#000000']


def greys_table(n, reverse):
    """(n,) grey levels of Greys (or Greys_r) as bytes: the anchors at
    k/8, piecewise linear, sampled at i/(n-1), then floor(255 v)."""
    anchors = [Fraction(int(h[1:3], 16), 255) for h in GREYS_HEX]
    if reverse:
        anchors = anchors[::-1]
    out = []
    for i in range(n):
        x = Fraction(i * 8, n - 1)   # exact: floor(255 v) of the exact value
        k = min(int(x), 7)
        f = x - k
        out.append(math.floor((anchors[k] * (1 - f) + anchors[k + 1] * f) * 255))
    return np.array(out, dtype=np.uint8)


def expected_grey(data, vmin, vmax, n, reverse=True, log=False):
    """Bytes per voxel: clip, normalise (float32 for small types, as the
    original's matplotlib), index floor(x n) (the top value the last entry)."""
    work = np.asarray(data).astype(np.promote_types(np.asarray(data).dtype, np.float32))
    table = greys_table(n, reverse)
    out = np.zeros(work.shape, dtype=np.uint8)
    flat_in, flat_out = work.ravel(), out.ravel()
    for i, v in enumerate(flat_in):
        if np.isnan(v) or (log and v <= 0):
            flat_out[i] = 0
            continue
        v = min(max(v, vmin), vmax)
        if log:
            x = (np.log10(v) - np.log10(vmin)) / (np.log10(vmax) - np.log10(vmin))
        else:
            x = work.dtype.type((work.dtype.type(v) - work.dtype.type(vmin)) /
                                work.dtype.type(vmax - vmin))
        scaled = np.array([x], dtype=work.dtype)
        scaled *= n   # in the working type, as matplotlib's in-place xa *= N
        flat_out[i] = table[min(int(scaled[0]), n - 1)]
    return out


def channels(rgb):
    a = rgb.view(np.ndarray)
    return a['R'], a['G'], a['B']


# ---- to_rgb ------------------------------------------------------------------------

def test_to_rgb_window_against_numpy():
    rng = np.random.default_rng(7)
    data = rng.integers(0, 1000, size=(3, 20, 24), dtype=np.uint16)
    data[0, 0, :4] = [0, 100, 900, 999]
    a = Series(data)
    a.windowCenter, a.windowWidth = 500, 800          # range [100, 900]
    rgb = a.to_rgb()
    assert rgb.dtype == RGB_DTYPE and rgb.shape == a.shape and rgb.color
    assert rgb.photometricInterpretation == 'RGB'
    assert rgb.seriesInstanceUID != a.seriesInstanceUID
    np.testing.assert_allclose(rgb.transformationMatrix, a.transformationMatrix)
    r, g, b = channels(rgb)
    np.testing.assert_array_equal(r, g)
    np.testing.assert_array_equal(r, b)
    # lut = max + 1 = 1000 levels (the original's default for integers)
    np.testing.assert_array_equal(r, expected_grey(data, 100.0, 900.0, int(data.max()) + 1))
    assert r[0, 0, 0] == 0 and r[0, 0, 1] == 0 and r[0, 0, 2] == 255 and r[0, 0, 3] == 255
    # Greys (not reversed) is the negative; an explicit lut
    neg = channels(a.to_rgb('Greys', lut=256))[0]
    np.testing.assert_array_equal(neg, expected_grey(data, 100.0, 900.0, 256, reverse=False))
    # an RGB series is returned as it is
    assert rgb.to_rgb() is rgb


def test_to_rgb_hist_and_log():
    rng = np.random.default_rng(3)
    data = (rng.random((4, 16, 16)) * 100).astype(np.float32)
    data[0, 0, 0] = np.nan
    data[0, 0, 1] = -5
    data[0, 0, 2] = 0
    a = Series(data)
    # clip='hist': histogram of 256 bins (the float lut) over the finite values
    finite = data[np.isfinite(data)]
    counts, edges = np.histogram(finite, bins=256)
    cum = np.cumsum(counts) / counts.sum()
    lo, hi = edges[np.argmax(cum >= 0.05)], edges[np.argmax(cum >= 0.95)]
    assert a.calculate_clip_range((0.05, 0.95), 256) == pytest.approx((lo, hi))
    r = channels(a.to_rgb(clip='hist', probs=(0.05, 0.95)))[0]
    np.testing.assert_array_equal(r, expected_grey(data, lo, hi, 256))
    assert r[0, 0, 0] == 0   # NaN is black
    # log: window range [1, 99]; values <= 0 black
    a.windowCenter, a.windowWidth = 50, 98
    r = channels(a.to_rgb(norm='log'))[0]
    np.testing.assert_array_equal(r, expected_grey(data, 1.0, 99.0, 256, log=True))
    assert r[0, 0, 1] == 0 and r[0, 0, 2] == 0


def test_to_rgb_gray_tables_and_errors():
    a = Series(np.arange(256, dtype=np.float64).reshape(16, 16))
    a.windowCenter, a.windowWidth = 127.5, 255
    r = channels(a.to_rgb('gray'))[0].ravel()
    # gray: entry i of 256 is i/255, bytes floor(255 * i/255) = i; x = v/255 -> floor(256 x)
    expected = np.minimum(np.floor(np.arange(256) / 255.0 * 256), 255).astype(np.uint8)
    np.testing.assert_array_equal(r, expected)
    # a table, and a matplotlib-like object (N and a call on index arrays)
    table = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    rgb = a.to_rgb(table).view(np.ndarray).ravel()
    assert tuple(rgb[0]) == (255, 0, 0) and tuple(rgb[128]) == (0, 255, 0)
    assert tuple(rgb[255]) == (0, 0, 255)

    class Like:
        N = 3

        def __call__(self, index):
            return np.hstack([table[index], np.ones((len(index), 1))])
    np.testing.assert_array_equal(a.to_rgb(Like()).view(np.ndarray), a.to_rgb(table).view(
        np.ndarray))
    for name in ('navia', 'lipari', 'magma', 'nonsense'):
        with pytest.raises(ValueError, match='Greys_r'):
            a.to_rgb(name)
    with pytest.raises(ValueError):
        a.to_rgb(clip='other')
    with pytest.raises(ValueError):
        a.to_rgb(norm='centered')


def test_to_rgb_of_dicom_writes_rgb(data, tmp_path):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    rgb = a.to_rgb()
    assert rgb.shape == a.shape and rgb.input_order == 'time'
    np.testing.assert_allclose(rgb.timeline, a.timeline)
    center, width = a.windowCenter, a.windowWidth
    expected = expected_grey(np.asarray(a[0, 0]), center - width / 2, center + width / 2,
                             int(a.max()) + 1)
    np.testing.assert_array_equal(channels(rgb)[0][0, 0], expected)
    rgb.write(str(tmp_path / 'rgb'))
    files = sorted(glob.glob(str(tmp_path / 'rgb' / '**' / '*.dcm'), recursive=True))
    assert len(files) == 9
    d = pydicom.dcmread(files[0])
    assert d.PhotometricInterpretation == 'RGB' and d.SamplesPerPixel == 3
    back = Series(str(tmp_path / 'rgb'), 'time')
    np.testing.assert_array_equal(back.view(np.ndarray), rgb.view(np.ndarray))


# ---- fuse_mask ---------------------------------------------------------------------

def blur_oracle(plane, sigma=1.5):
    """A direct 2D convolution with the outer product of the truncated
    (4 sigma) Gaussian, the edges mirrored with np.pad('symmetric')."""
    radius = int(4 * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    w = np.exp(-x ** 2 / (2 * sigma ** 2))
    w /= w.sum()
    kernel = np.outer(w, w)
    padded = np.pad(plane.astype(float), radius, mode='symmetric')
    out = np.zeros(plane.shape)
    for i in range(plane.shape[0]):
        for j in range(plane.shape[1]):
            out[i, j] = np.sum(padded[i:i + 2 * radius + 1, j:j + 2 * radius + 1] * kernel)
    return out


def rgb_float(rgb):
    return np.stack(channels(rgb), axis=-1) / 255.0


def test_fuse_binary_mask_2d_and_3d():
    rng = np.random.default_rng(11)
    image = Series(rng.integers(0, 500, size=(2, 3, 18, 20), dtype=np.int16), 'time')
    mask = np.zeros((3, 18, 20), dtype=bool)
    mask[1, 5:12, 6:15] = True
    mask[2, 0:3, 0:4] = True  # touches the edge: the mirrored border matters
    fused = image.fuse_mask(mask)
    assert fused.dtype == RGB_DTYPE and fused.shape == image.shape
    assert fused.input_order == 'time'
    blurred = np.stack([blur_oracle(m) for m in mask.astype(float)])
    ndimage = None
    try:
        from scipy import ndimage
    except ImportError:
        pass
    if ndimage is not None:   # a second oracle: scipy's gaussian_filter per slice
        for k in range(3):
            np.testing.assert_allclose(
                blurred[k], ndimage.gaussian_filter(mask[k].astype(float), 1.5), atol=1e-12)
    background = rgb_float(image.to_rgb())
    overlay = np.zeros(background.shape)
    overlay[..., 0] = blurred.astype(np.float32)
    expected = np.rint(np.clip(0.3 * overlay + background, 0, 1) * 255)
    got = np.stack(channels(fused), axis=-1).astype(float)
    assert np.abs(got - expected).max() <= 1 and np.mean(got == expected) > 0.999
    assert got[..., 0].sum() > background[..., 0].sum() * 255   # red added inside
    # blend: out = (1 - a) overlay + a background; 2D
    img2 = image[0, 1]
    m2 = np.zeros(img2.shape, dtype=np.uint8)
    m2[4:9, 4:9] = 1
    fused2 = img2.fuse_mask(m2, alpha=0.4, blend=True)
    bg2 = rgb_float(img2.to_rgb())
    ov2 = np.zeros(bg2.shape)
    ov2[..., 0] = blur_oracle(m2).astype(np.float32)
    expected2 = np.rint(np.clip(0.6 * ov2 + 0.4 * bg2, 0, 1) * 255)
    got2 = np.stack(channels(fused2), axis=-1).astype(float)
    assert np.abs(got2 - expected2).max() <= 1 and np.mean(got2 == expected2) > 0.999


def test_fuse_graded_mask_and_errors():
    image = Series(np.linspace(0, 1, 12 * 12).reshape(12, 12))
    mask = np.tile(np.arange(12, dtype=np.float32), (12, 1))   # 0..11, not binary
    fused = image.fuse_mask(mask, maskmap='gray', maskrange=(0, 11), alpha=0.3)
    bg = rgb_float(image.to_rgb())
    level = np.minimum(np.floor(mask / 11.0 * 256), 255) / 255.0
    expected = np.rint(np.clip(0.7 * level[..., None] + bg, 0, 1) * 255)
    got = np.stack(channels(fused), axis=-1)
    # rounding ties (x.5) may go either way
    assert np.abs(got - expected).max() <= 1 and np.mean(got == expected) > 0.95
    with pytest.raises(ValueError, match='magma'):
        image.fuse_mask(mask)   # the default maskmap is not reproduced
    with pytest.raises(IndexError):
        image.fuse_mask(np.zeros((3, 12, 12), dtype=bool))
    with pytest.raises(IndexError):
        image.fuse_mask(np.zeros((11, 12), dtype=bool))
    with pytest.raises(ValueError):
        image.fuse_mask(image.to_rgb())


def test_get_roi_is_not_provided():
    a = Series(np.zeros((4, 4)))
    with pytest.raises(NotImplementedError, match='matplotlib'):
        a.get_roi()
    with pytest.raises(NotImplementedError, match='get_roi'):
        a.get_roi_mask()


# ---- anonymize ---------------------------------------------------------------------

def walk(dataset):
    for element in dataset:
        yield element
        if element.VR == 'SQ':
            for item in element.value:
                yield from walk(item)


def dicom_files(folder):
    return sorted(glob.glob(os.path.join(str(folder), '**', '*.dcm'), recursive=True))


def identity_left(dataset, secrets):
    """Elements of `dataset` (at any depth) whose text contains a secret."""
    found = []
    for element in walk(dataset):
        if element.VR in ('SQ', 'OB', 'OW', 'UN'):
            continue
        text = str(element.value)
        found += [(element.keyword, s) for s in secrets if s and s in text]
    return found


def test_anonymize_time_series(data, tmp_path):
    a = Series(str(data / 'dicom' / 'time'), 'time')
    originals = [pydicom.dcmread(f) for f in dicom_files(data / 'dicom' / 'time')]
    first = originals[0]
    assert any(e.tag.is_private for e in first)   # the input has private tags
    secrets = {str(first.PatientName), str(first.PatientID), first.get('PatientBirthDate', ''),
               first.get('InstitutionName', ''), first.get('StationName', '')}
    secrets -= {'', '19700101'}   # the phantom's birth date is the anonymous date
    table = {}
    b = a.anonymize(uid_table=table)
    assert b.shape == a.shape and np.shares_memory(b, a)   # voxels shared, as the original
    assert b.patientName == 'ANONYMOUS' and b.patientID == 'ANONYMOUS'
    assert a.patientName == str(first.PatientName)        # the original is unchanged
    assert b.studyInstanceUID == table[first.StudyInstanceUID]
    assert b.seriesInstanceUID == table[first.SeriesInstanceUID]
    b.write(str(tmp_path / 'kept'), opts={'keep_uid': True})
    b.write(str(tmp_path / 'new'))
    old_sops = {o.SOPInstanceUID for o in originals}
    for folder in ('kept', 'new'):
        files = dicom_files(tmp_path / folder)
        assert len(files) == len(originals) == 9
        written = [pydicom.dcmread(f) for f in files]
        for d in written:
            assert identity_left(d, secrets) == []
            assert [e.tag for e in walk(d) if e.tag.is_private] == []
            assert str(d.PatientName) == 'ANONYMOUS' and d.PatientID == 'ANONYMOUS'
            assert d.PatientBirthDate == '19000101' and d.PatientSex == 'O'
            assert d.PatientIdentityRemoved == 'YES' and d.DeidentificationMethod == 'imagedata'
            assert d.StudyDate == '19700101' and d.SeriesDate == '19700101'
            assert d.get('SeriesDescription', '') == '' and d.StudyID == '1'
            assert 'PatientAge' not in d and 'InstitutionName' not in d
        for keyword in ('StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID'):
            values = {d.get(keyword) for d in written}
            assert len(values) == 1 and values != {first.get(keyword)}, keyword
        assert written[0].StudyInstanceUID == table[first.StudyInstanceUID]
        assert written[0].FrameOfReferenceUID == table[first.FrameOfReferenceUID]
        sops = [d.SOPInstanceUID for d in written]
        assert len(set(sops)) == 9 and not set(sops) & old_sops
        if folder == 'kept':
            assert written[0].SeriesInstanceUID == table[first.SeriesInstanceUID]
            assert set(sops) == {table[u] for u in old_sops}
        back = Series(str(tmp_path / folder), 'time')
        np.testing.assert_array_equal(back.view(np.ndarray), a.view(np.ndarray))
        assert back.patientName == 'ANONYMOUS'
    # one table: the same mapping again; another table: other UIDs
    assert a.anonymize(uid_table=table).studyInstanceUID == b.studyInstanceUID
    assert a.anonymize(uid_table={}).studyInstanceUID != b.studyInstanceUID
    # the default table is shared by the process (the original's default argument)
    assert a.anonymize().studyInstanceUID == a.anonymize().studyInstanceUID
    # keywords override the rules
    c = a.anonymize(PatientName='Case^One', PatientID='C1')
    c.write(str(tmp_path / 'case'))
    d = pydicom.dcmread(dicom_files(tmp_path / 'case')[0])
    assert str(d.PatientName) == 'Case^One' and d.PatientID == 'C1'
    with pytest.raises(ValueError, match='NotAKeyword'):
        a.anonymize(NotAKeyword='x')


def test_anonymize_sequences_and_private_items(data, tmp_path):
    """References and private elements inside sequences (a file made with pydicom)."""
    src = dicom_files(data / 'dicom' / 'time')[0]
    d = pydicom.dcmread(src)
    ref = Dataset()
    ref.ReferencedSOPClassUID = '1.2.840.10008.5.1.4.1.1.4'
    ref.ReferencedSOPInstanceUID = '1.2.3.4.5.6.7'
    ref.add_new(0x00110010, 'LO', 'ACME PRIVATE')
    ref.add_new(0x00111001, 'LO', 'secret in an item')
    d.ReferencedImageSequence = Sequence([ref])
    d.OtherPatientIDs = 'OTHER-ID-42'
    d.InstitutionName = 'Secret Hospital'
    os.makedirs(tmp_path / 'in')
    d.save_as(str(tmp_path / 'in' / 'one.dcm'))
    a = Series(str(tmp_path / 'in' / 'one.dcm'))
    table = {}
    b = a.anonymize(uid_table=table)
    b.write(str(tmp_path / 'out'), opts={'keep_uid': True})
    written = glob.glob(str(tmp_path / 'out*')) + dicom_files(tmp_path / 'out')
    out = pydicom.dcmread([f for f in written if os.path.isfile(f)][0])
    assert [e.tag for e in walk(out) if e.tag.is_private] == []
    assert identity_left(out, {'OTHER-ID-42', 'Secret Hospital', 'secret in an item',
                               str(d.PatientName)}) == []
    item = out.ReferencedImageSequence[0]
    # the SOP class (a registered UID) is kept; the instance reference is mapped
    assert item.ReferencedSOPClassUID == '1.2.840.10008.5.1.4.1.1.4'
    assert item.ReferencedSOPInstanceUID == table['1.2.3.4.5.6.7']
    assert out.SOPInstanceUID == table[d.SOPInstanceUID]
    assert out.SOPClassUID == d.SOPClassUID


def test_anonymize_without_template(tmp_path):
    a = Series(np.arange(2 * 4 * 4, dtype=np.uint16).reshape(2, 4, 4))
    a.patientName = 'Real^Name'
    a.patientID = '12345'
    b = a.anonymize(uid_table={})
    assert b.patientName == 'ANONYMOUS' and a.patientName == 'Real^Name'
    b.write(str(tmp_path / 'plain'))
    for f in dicom_files(tmp_path / 'plain'):
        d = pydicom.dcmread(f)
        assert str(d.PatientName) == 'ANONYMOUS' and d.PatientID == 'ANONYMOUS'
        assert identity_left(d, {'Real^Name', '12345'}) == []
    assert series_module.ANONYMOUS_DATE == '19700101'
