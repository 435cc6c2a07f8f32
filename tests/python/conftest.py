"""Fixtures for the Python binding's tests (run by tests/integration/python_binding.sh).

The reference data is ../shared/data/imagedata relative to the project root
(behaviour.md §11), or IMAGEDATA_TEST_DATA. Tests that need it skip, loudly
(pytest -rs prints every reason), when it is missing.
"""
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def data_root():
    env = os.environ.get('IMAGEDATA_TEST_DATA')
    return Path(env) if env else ROOT.parent / 'shared' / 'data' / 'imagedata'


@pytest.fixture
def data():
    root = data_root()
    if not (root / 'dicom' / 'time').is_dir():
        pytest.skip('SKIP: reference data {} is missing'.format(root))
    return root


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Run in an empty folder, as the README's examples do."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def copy_tree(src, dst):
    shutil.copytree(src, dst)
    return dst
