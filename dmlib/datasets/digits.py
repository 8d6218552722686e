"""scikit-learn's bundled 8x8 handwritten digits (BSD-3 licence)."""

from __future__ import annotations

import numpy as np

from dmlib.datasets.store import DatasetInfo, register

def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes; BSD licence).

    Returns:
        ``(X, y)``: float64 pixel intensities 0-16 of shape (1797, 64) and int labels.

    Example:
        >>> X, y = load_digits(); X.shape
        (1797, 64)
    """
    from sklearn.datasets import load_digits as sk_load_digits

    X, y = sk_load_digits(return_X_y=True)
    return X, y



register(DatasetInfo("digits", "scikit-learn 8x8 digits, 1,797 images", "BSD-3 (bundled)",
                     load_digits, lambda: "bundled with scikit-learn"))
