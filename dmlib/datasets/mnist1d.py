"""MNIST-1D (Greydanus 2024), generated offline by the ``mnist1d`` package (Apache-2.0)."""

from __future__ import annotations

import numpy as np

from dmlib.datasets.store import DatasetInfo, _load_prepared, _save_prepared, register

def load_mnist1d(
    shuffle_seq: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Generate MNIST-1D (Greydanus 2024) offline with the ``mnist1d`` package's default arguments.

    4,000 training and 1,000 test sequences of length 40, 10 classes, seed 42, exactly as
    ``mnist1d.data.make_dataset(get_dataset_args())``. The result is cached (npz, no pickle).

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
    data = _load_prepared(key)
    if data is None:
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.shuffle_seq = shuffle_seq
        state = np.random.get_state()  # make_dataset reseeds NumPy's global generator
        try:
            ds = make_dataset(args)
        finally:
            np.random.set_state(state)
        data = {"x_train": ds["x"], "y_train": ds["y"], "x_test": ds["x_test"], "y_test": ds["y_test"]}
        _save_prepared(key, data, source="mnist1d.data.make_dataset(get_dataset_args())")
    return (
        (data["x_train"].astype(np.float32), data["y_train"].astype(np.int64)),
        (data["x_test"].astype(np.float32), data["y_test"].astype(np.int64)),
    )



def _find_mnist1d() -> str:
    from importlib.metadata import version

    return f"generated offline by mnist1d {version('mnist1d')}"


register(DatasetInfo("mnist1d", "MNIST-1D, 5,000 sequences of length 40", "Apache-2.0 (generator)",
                     lambda: (load_mnist1d(), load_mnist1d(True)), _find_mnist1d))
