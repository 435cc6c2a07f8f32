"""Series.view(): the viewer from Python (docs/viewer.md), driven by scripted
input under SDL's dummy driver (no display needed). The screenshots' pixels
are checked against the voxels and the DICOM PS3.3 C.11.2.1.2.1 window
formula in tests/integration/viewer_check.py; here: that view() reaches the
viewer, that a drag's window comes back into the Series (the original's 'q'
stores it), and that numpy's view() still works."""
import json
import os

import numpy as np
import pytest

import imagedata._native as native
from imagedata.series import Series


@pytest.fixture
def headless(monkeypatch):
    if not hasattr(native, 'view'):
        pytest.skip('SKIP: this build has no viewer (libimagedata_view needs SDL2 and SDL2_ttf)')
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.setenv('SDL_VIDEODRIVER', 'dummy')


def test_numpy_view_still_works():
    s = Series(np.arange(12, dtype=np.int16).reshape(3, 4))
    assert isinstance(s.view(np.ndarray), np.ndarray)
    assert s.view(np.uint16).dtype == np.uint16


def test_view_drag_sets_window(headless, tmp_path):
    a = Series(np.arange(5 * 30 * 40, dtype=np.int16).reshape(5, 30, 40))
    b = Series(np.full((3, 20, 20), 7.5, dtype=np.float32))
    lo, hi = 0, 5 * 30 * 40 - 1
    c0, w0 = a.windowCenter, a.windowWidth
    shot = str(tmp_path / 'py')
    # two series side by side (1 x 2 grid in 1024 x 768): drag in the left one
    a.view(b, replay='shot drag:left:256,384:276,374 shot quit', screenshot=shot)
    assert a.windowCenter == pytest.approx(c0 + 20 * (hi - lo) / 100)
    assert a.windowWidth == pytest.approx(w0 + 10 * (hi - lo) / 100)
    with open(shot + '000.json') as f:
        state = json.load(f)
    assert state['grid'] == [1, 2] and len(state['cells']) == 2
    first = state['cells'][0]
    assert first['slice'] == 2 and first['tag'] == 0  # middle slice, first tag
    assert os.path.exists(shot + '001.bmp')


def test_view_without_a_display(monkeypatch):
    """No display and no driver asked for: an error, not a window nobody sees."""
    if not hasattr(native, 'view'):
        pytest.skip('SKIP: this build has no viewer (libimagedata_view needs SDL2 and SDL2_ttf)')
    for name in ('DISPLAY', 'WAYLAND_DISPLAY', 'SDL_VIDEODRIVER'):
        monkeypatch.delenv(name, raising=False)
    from imagedata.formats import UnsupportedError
    with pytest.raises(UnsupportedError, match='no display'):
        Series(np.zeros((4, 4), dtype=np.uint8)).view()


def test_view_list(headless):
    a = Series(np.zeros((4, 4), dtype=np.uint8))
    a.view([Series(np.ones((4, 4), dtype=np.uint8))], replay='quit')
