"""Fixtures for the dmlib unit tests: an isolated cache, no mirrors, no system folders, offline."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from builders import IMDB_SMALL, idx_bytes
from dmlib import datasets as ds


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch, request):
    """Every test starts with an empty cache, no mirror, no system folder, and offline; except the tests
    that re-run the notebooks (marker ``after_notebooks``), which need the session's real datasets."""
    if request.node.get_closest_marker("after_notebooks"):
        return tmp_path
    monkeypatch.setenv("DMLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DMLIB_DATA_MIRRORS", raising=False)
    monkeypatch.setenv("DMLIB_OFFLINE", "1")
    monkeypatch.setattr(ds, "SYSTEM_DIRS", {})
    monkeypatch.delenv("DMLIB_RECORD_FILE", raising=False)
    return tmp_path


@pytest.fixture
def fashion_mirror(tmp_path, monkeypatch):
    """A mirror holding tiny Fashion-MNIST-format files (gzipped IDX); the expected hashes are patched."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (12, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(12) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (5, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(5) % 10,
    }
    mirror = tmp_path / "mirror"
    (mirror / "fashion-mnist").mkdir(parents=True)
    expected = {}
    for name, arr in arrays.items():
        raw = idx_bytes(arr)
        (mirror / "fashion-mnist" / name).write_bytes(gzip.compress(raw))
        expected[name] = (hashlib.sha256(raw).hexdigest(), len(raw))
    monkeypatch.setattr(ds, "FASHION_MNIST_FILES", expected)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    return mirror, arrays


@pytest.fixture
def small_imdb(monkeypatch):
    monkeypatch.setattr(ds, "IMDB_COUNTS", dict(IMDB_SMALL))
