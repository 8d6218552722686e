"""Eight classical outlier-detection tables (ODDS/UCI data as packaged by ADBench, Han et al.,
NeurIPS 2022 Datasets and Benchmarks; repository Minqi824/ADBench, BSD-2-Clause).

Files ``adbench/<N>_<name>.npz`` holding ``X`` (features) and ``y`` (1 = anomaly), each verified
by its size and sha256 and then by content (shape, labels 0/1, number of anomalies, finite
values), and loaded without pickle. A missing file is downloaded from ADBench's repository when
online; that download is checked against the same sha256, so a re-packed upstream file is
refused (with a message) rather than served unverified.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dmlib.datasets.store import (
    CorruptFileError,
    DatasetInfo,
    _locate,
    _where,
    download_cap,
    read_verified,
    register,
)

ADBENCH_URL = "https://github.com/Minqi824/ADBench/raw/main/adbench/datasets/Classical/"
# name: (file, bytes, sha256, shape of X, number of anomalies), from the mirror's README.
ADBENCH_FILES: dict[str, tuple[str, int, str, tuple[int, int], int]] = {
    "cardio": ("6_cardio.npz", 68_471, "bc5009bde6930b4d298b594f31b34485a9a17210cff0e8fb00a8c3068b885a2d", (1831, 21), 176),
    "mnist": ("24_mnist.npz", 455_359, "be7706272325fdd3592c1be555ae1a82f916a2f8545f4f8cbaa548ab102cc44c", (7603, 100), 700),
    "thyroid": ("38_thyroid.npz", 39_882, "8de161b3f235b7647bb0b39a836d983ff61d67bf234edac461da2d71e889cb87", (3772, 6), 93),
    "annthyroid": ("2_annthyroid.npz", 66_547, "e738f7c58a8740d2c4aac4c71ff49ce5e1d1aa16f44178135fc9c09df05fad1b", (7200, 6), 534),
    "satimage-2": ("31_satimage-2.npz", 181_405, "1b056e357f801b8b20c3f380a30224a3c4088d7ed764ec5a24828dc9b1918d6f", (5803, 36), 71),
    "mammography": ("23_mammography.npz", 166_764, "a0308ac9712d78321073b1c2dc98dc37665c0f35c1cc33019416fe8f8d7de7ea", (11183, 6), 260),
    "shuttle": ("32_shuttle.npz", 332_929, "26900b0f6be45d9ddb7a402c9b2f956ceda42d23a8ca4cf4406b8bc1352823d1", (49097, 9), 3511),
    "pendigits": ("28_pendigits.npz", 653_509, "c4936b89dcdad59d303020e492f763a0f54170080d787c77497609acbb9c2d79", (6870, 16), 156),
}
ADBENCH_SETS: tuple[str, ...] = tuple(ADBENCH_FILES)


def _verify_adbench(name: str) -> Callable[[Path], tuple[np.ndarray, np.ndarray]]:
    filename, size, digest, shape, anomalies = ADBENCH_FILES[name]

    def verify(path: Path) -> tuple[np.ndarray, np.ndarray]:
        data = read_verified(path, digest, size)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                if sorted(z.files) != ["X", "y"]:
                    raise CorruptFileError(f"holds {sorted(z.files)}, expected X and y")
                X, y = z["X"], z["y"]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise CorruptFileError(f"cannot load as npz without pickle ({err.__class__.__name__}: {err})") from None
        if X.shape != shape or y.shape != (shape[0],):
            raise CorruptFileError(f"X {X.shape} and y {y.shape}, expected X {shape}")
        if not np.isin(y, (0, 1)).all() or int(y.sum()) != anomalies:
            raise CorruptFileError(f"labels are not 0/1 with {anomalies} anomalies")
        X = X.astype(np.float64)
        if not np.isfinite(X).all():
            raise CorruptFileError("non-finite features")
        return X, y.astype(np.int64)

    return verify


def load_adbench(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one ADBench outlier-detection table: ``cardio``, ``mnist``, ``thyroid``, ``annthyroid``,
    ``satimage-2``, ``mammography``, ``shuttle`` or ``pendigits`` (see ``ADBENCH_SETS``).

    The file ``adbench/<N>_<name>.npz`` is verified by its sha256 and its content before use.

    Args:
        name: one of ``ADBENCH_SETS``.

    Returns:
        ``(X, y)``: float64 features of shape (n, d) and int64 labels, 1 for an anomaly, 0 else.

    Raises:
        ValueError: for an unknown name (the message lists the known ones).
        DatasetUnavailableError: if no verified copy is found and none can be downloaded.

    Example:
        >>> X, y = load_adbench("cardio")  # doctest: +SKIP
        >>> X.shape, int(y.sum())
        ((1831, 21), 176)
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, one of {', '.join(ADBENCH_SETS)}; got {type(name).__name__}")
    if name not in ADBENCH_FILES:
        raise ValueError(f"unknown ADBench set {name!r}; choose one of {', '.join(ADBENCH_FILES)}")
    filename, size = ADBENCH_FILES[name][:2]
    _, (X, y) = _locate("adbench", "adbench", filename, _verify_adbench(name), ADBENCH_URL + filename,
                        max_bytes=download_cap(size))
    return X, y


def _load_all() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: load_adbench(name) for name in ADBENCH_FILES}


def _find_adbench() -> str:
    paths = {str(_where("adbench", "adbench", ADBENCH_FILES[n][0], _verify_adbench(n), ADBENCH_FILES[n][2]).parent)
             for n in ADBENCH_FILES}
    return ", ".join(sorted(paths))


register(DatasetInfo("adbench", f"ADBench outlier detection: {', '.join(ADBENCH_FILES)}",
                     "BSD-2-Clause (ADBench packaging; data from ODDS/UCI)", _load_all, _find_adbench))
