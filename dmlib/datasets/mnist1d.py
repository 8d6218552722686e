"""MNIST-1D (Greydanus 2024), generated offline by the ``mnist1d`` package (Apache-2.0)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np

from dmlib.datasets.store import (
    DatasetInfo,
    DatasetUnavailableError,
    Prepared,
    _load_prepared,
    _save_prepared,
    register,
)

_NAMES = ["x_train", "y_train", "x_test", "y_test"]


def _sources(shuffle_seq: bool) -> dict[str, str]:
    """What the generated arrays depend on: the generator's version and arguments."""
    try:
        generator = f"mnist1d {version('mnist1d')}"
    except PackageNotFoundError:
        generator = "mnist1d (not installed)"
    return {"generator": generator, "args": f"get_dataset_args(), shuffle_seq={shuffle_seq}"}


def load_mnist1d(
    shuffle_seq: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Generate MNIST-1D (Greydanus 2024) offline with the ``mnist1d`` package's default arguments.

    4,000 training and 1,000 test sequences of length 40, 10 classes, seed 42, exactly as
    ``mnist1d.data.make_dataset(get_dataset_args())``. The result is cached (npz, no pickle),
    bound to the generator's version and arguments and to a hash of the arrays.

    Args:
        shuffle_seq: the paper's shuffled-input variant: one fixed permutation of the 40 time
            steps applied to every sequence, which destroys the spatial structure.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: float32 arrays of shape (n, 40), int64 labels.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist1d()
        >>> x_train.shape, x_test.shape
        ((4000, 40), (1000, 40))
    """
    key = "mnist1d-shuffled" if shuffle_seq else "mnist1d"
    data = _load_prepared(key, _sources(shuffle_seq), _NAMES)
    if data is None:
        data = _generate(shuffle_seq)
        _save_prepared(key, data, _sources(shuffle_seq))
    return (
        (data["x_train"].astype(np.float32), data["y_train"].astype(np.int64)),
        (data["x_test"].astype(np.float32), data["y_test"].astype(np.int64)),
    )


def _generate(shuffle_seq: bool) -> dict[str, np.ndarray]:
    """The arrays as ``mnist1d.data.make_dataset`` generates them (NumPy's global generator kept)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.shuffle_seq = shuffle_seq
    state = np.random.get_state()  # make_dataset reseeds NumPy's global generator
    try:
        ds = make_dataset(args)
    finally:
        np.random.set_state(state)
    return {"x_train": ds["x"], "y_train": ds["y"], "x_test": ds["x_test"], "y_test": ds["y_test"]}


_KEYS = ("mnist1d", "mnist1d-shuffled")


def _build(keys: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Generate the arrays of the prepared files ``keys`` again (for ``datasets verify --deep``)."""
    _find_mnist1d()  # the generator must be installed
    return {k: _generate(k == "mnist1d-shuffled") for k in keys}


def _find_mnist1d() -> str:
    try:
        return f"generated offline by mnist1d {version('mnist1d')}"
    except PackageNotFoundError:
        raise DatasetUnavailableError("the mnist1d package is not installed: run `make` (or "
                                      "`.venv/bin/pip install mnist1d`)") from None


register(DatasetInfo("mnist1d", "MNIST-1D, 5,000 sequences of length 40", "Apache-2.0 (generator)",
                     lambda: (load_mnist1d(), load_mnist1d(True)), _find_mnist1d,
                     prepared=Prepared(_KEYS, lambda key: _sources(key == "mnist1d-shuffled"), _build)))
