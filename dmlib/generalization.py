"""Plumbing of ``05_generalization``: predictions without retracing, calibration, label noise,
image corruptions, and reading the shape of a double-descent curve.

What the notebook teaches (the experiments, the comparisons, the attacks) stays in the notebook;
these helpers are the parts that would otherwise be copied or would make its cells long.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dmlib.validate import check_int as _check_int

SHIFT_KINDS: tuple[str, ...] = ("rotation", "noise", "contrast", "translation")


def predict_proba(model: Any, x: np.ndarray, batch_size: int = 1_000) -> np.ndarray:
    """The outputs of a Keras model on ``x`` as numpy, in batches, by calling the model directly.

    ``model.predict`` compiles a prediction function per model (a ``tf.function`` on TensorFlow);
    a notebook that trains many small models and predicts once with each triggers TensorFlow's
    retracing warnings and pays the compilation every time. Calling the model in inference mode
    (``training=False``: dropout off, batch norm with its moving averages) avoids both, on every backend.

    Args:
        model: a Keras model (or layer).
        x: inputs, first axis the examples.
        batch_size: examples per call (bounds the memory).

    Returns:
        The stacked outputs, e.g. class probabilities ``(n, classes)``.

    Example:
        >>> probs = predict_proba(model, x_test)          # doctest: +SKIP
        >>> accuracy = np.mean(probs.argmax(1) == y_test)  # doctest: +SKIP
    """
    batch_size = _check_int("batch_size", batch_size, 1)
    from keras import ops

    x = np.asarray(x)
    if len(x) == 0:
        raise ValueError("predict_proba got no examples (x is empty)")
    parts = [ops.convert_to_numpy(model(x[i:i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 1_000) -> float:
    """Accuracy of a Keras classifier on ``(x, y)`` (argmax of :func:`predict_proba`).

    Raises:
        ValueError: if ``y`` is not a flat array of one label per example (``(n, 1)`` labels would
            be compared with every prediction by broadcasting), or ``x`` is empty.

    Example:
        >>> accuracy(model, x_test, y_test)  # doctest: +SKIP
        0.861
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be a flat array of labels, got shape {y.shape}; use y.ravel() for (n, 1) labels")
    if len(y) != len(x):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)} labels")
    return float(np.mean(predict_proba(model, x, batch_size).argmax(-1) == y))


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the bin-size-weighted gap between accuracy and confidence.

    ``ECE = sum_b |B_b|/n * |acc(B_b) - conf(B_b)|`` over ``bins`` equal-width confidence bins.

    Args:
        probs: predicted class probabilities ``(n, classes)``, finite and in [0, 1].
        y: integer labels ``(n,)``.
        bins: the number of confidence bins.

    Raises:
        ValueError: for empty input, NaN or probabilities outside [0, 1], labels that are not one
            integer per row, or ``bins`` not an integer >= 1.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
        >>> round(expected_calibration_error(probs, np.array([0, 1, 1]), bins=2), 4)
        0.1
    """
    bins = _check_int("bins", bins, 1)
    probs, y = np.asarray(probs, dtype=float), np.asarray(y)
    whole = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and bool(np.isfinite(y).all()) and bool((y == np.round(y)).all()))
    if y.ndim != 1 or not whole:
        raise ValueError(f"y must be a flat array of integer labels, got shape {y.shape} and dtype {y.dtype}")
    if probs.ndim != 2 or len(probs) != len(y):
        raise ValueError(f"probs must be (n, classes) with n = len(y) = {len(y)}, got shape {probs.shape}")
    if probs.size == 0:
        raise ValueError("probs is empty: no predictions to score")
    if not np.isfinite(probs).all():
        raise ValueError(f"probs hold {int((~np.isfinite(probs)).sum())} NaN or infinite values")
    # A little slack for round-off: a GPU softmax may multiply by an approximate 1 / sum (1.0000001).
    if probs.min() < -1e-4 or probs.max() > 1 + 1e-4:
        raise ValueError(f"probs must be probabilities in [0, 1], got values from {probs.min()} to {probs.max()} "
                         "(logits? apply a softmax first)")
    confidence, predicted = probs.max(1), probs.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(np.mean(predicted[inside] == y[inside]) - confidence[inside].mean())
    return float(ece)


def noisy_labels(y: np.ndarray, fraction: float, seed: int, n_classes: int = 10) -> np.ndarray:
    """A copy of ``y`` in which a random ``fraction`` of the labels is replaced by random classes.

    A replaced label may by chance equal the true one, so about ``fraction * (1 - 1/n_classes)``
    of the labels end up wrong.

    Raises:
        ValueError: if ``fraction`` is not in [0, 1] or ``n_classes`` not an integer >= 1.

    Example:
        >>> noisy = noisy_labels(np.zeros(1000, dtype=int), 0.5, seed=0)
        >>> bool(0.4 < np.mean(noisy != 0) < 0.5)
        True
    """
    n_classes = _check_int("n_classes", n_classes, 1)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    labels = np.array(y, copy=True)
    flip = rng.random(len(labels)) < fraction
    labels[flip] = rng.integers(0, n_classes, int(flip.sum()))
    return labels


def shift_images(x: np.ndarray, kind: str, severity: float, seed: int = 0) -> np.ndarray:
    """Corrupt images ``x`` (n, 28, 28, 1) in [0, 1] by one kind of distribution shift.

    ``severity`` in [0, 1] scales it: rotation by up to 40 degrees, Gaussian pixel noise up to
    sigma 0.4, contrast reduced to 20%, translation by up to 6 pixels (right and down).

    Example:
        >>> x = np.zeros((2, 28, 28, 1), dtype="float32"); x[:, 10:18, 10:18] = 1
        >>> float(shift_images(x, "translation", 1.0)[0, 20, 20, 0])
        1.0
    """
    from scipy import ndimage

    if kind not in SHIFT_KINDS:
        raise ValueError(f"unknown shift {kind!r}; use one of {', '.join(SHIFT_KINDS)}")
    if not 0.0 <= severity <= 1.0:
        raise ValueError(f"severity must lie in [0, 1], got {severity}")
    x = np.asarray(x, dtype="float32")
    if x.ndim != 4:
        raise ValueError(f"x must be images (n, height, width, channels), got shape {x.shape}")
    if severity == 0:
        return x
    if kind == "rotation":
        out = ndimage.rotate(x, 40 * severity, axes=(1, 2), reshape=False, order=1)
    elif kind == "noise":
        out = x + np.random.default_rng(seed).normal(0, 0.4 * severity, x.shape)
    elif kind == "contrast":
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        out = mean + (1 - 0.8 * severity) * (x - mean)
    else:
        out = ndimage.shift(x, (0, 6 * severity, 6 * severity, 0), order=1)
    return np.clip(out, 0, 1).astype("float32")


@dataclass(frozen=True)
class CurveShape:
    """Where a test-error-versus-size curve falls, peaks and falls again (see :func:`descent_shape`)."""

    sizes: tuple[float, ...]
    errors: tuple[float, ...]
    first_min: int | None
    peak: int | None
    tolerance: float

    @property
    def has_peak(self) -> bool:
        """A rise after the first minimum that is larger than ``tolerance``."""
        return self.peak is not None

    @property
    def peak_at_edge(self) -> bool:
        """The highest error after the first minimum sits at the largest size of the sweep."""
        return self.peak is not None and self.peak == len(self.errors) - 1

    @property
    def second_descent(self) -> bool:
        """The error falls again after the peak by more than ``tolerance`` (so the peak is inside)."""
        return self.peak is not None and not self.peak_at_edge and \
            self.errors[self.peak] - min(self.errors[self.peak + 1:]) > self.tolerance

    def __str__(self) -> str:
        e, s = self.errors, self.sizes
        if self.first_min is None:
            return (f"the test error only falls with size ({e[0]:.3f} at {s[0]:g} to {e[-1]:.3f} at {s[-1]:g}): "
                    "no peak in this sweep.")
        head = f"the test error falls to {e[self.first_min]:.3f} at size {s[self.first_min]:g}"
        if not self.has_peak:
            return head + f" and does not rise by more than {self.tolerance:.3f} after it: no peak in this sweep."
        head += f", then rises to {e[self.peak]:.3f} at size {s[self.peak]:g}"
        if self.peak_at_edge:
            return head + (", the largest size of the sweep: the peak is at the edge, so this run cannot show "
                           "whether the error falls again (no second descent observed).")
        low = int(np.argmin(e[self.peak + 1:])) + self.peak + 1
        if self.second_descent:
            return head + f" and falls again to {e[low]:.3f} at size {s[low]:g}: a second descent."
        return head + f"; after it the error stays within {self.tolerance:.3f} (lowest {e[low]:.3f}): no second descent."


def descent_shape(sizes: Sequence[float], errors: Sequence[float], tolerance: float = 0.005) -> CurveShape:
    """Read a test-error curve over model sizes: first minimum, the peak after it, a second descent.

    The first minimum is the first size whose error is no higher than its left neighbour's and
    lower than its right neighbour's; the peak is the largest error after it, counted only if it
    exceeds that minimum by more than ``tolerance``.

    Args:
        sizes: model sizes in increasing order (e.g. hidden units).
        errors: the test error at each size.
        tolerance: rises and falls smaller than this are treated as noise (a finite number >= 0).

    Example:
        >>> str(descent_shape([4, 16, 47, 128, 512], [0.69, 0.50, 0.47, 0.50, 0.51]))[:60]
        'the test error falls to 0.470 at size 47, then rises to 0.51'
        >>> descent_shape([4, 16, 47, 128, 512], [0.69, 0.50, 0.47, 0.52, 0.49]).second_descent
        True
    """
    if isinstance(tolerance, (bool, np.bool_)) or not isinstance(tolerance, numbers.Real) \
            or not 0 <= tolerance < math.inf:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    s = tuple(float(v) for v in sizes)
    e = tuple(float(v) for v in errors)
    if len(s) != len(e) or len(s) < 3:
        raise ValueError(f"give at least 3 sizes and one error per size, got {len(s)} sizes and {len(e)} errors")
    if not all(np.isfinite(s)) or any(b <= a for a, b in zip(s, s[1:])):
        raise ValueError(f"sizes must be finite and increase, got {list(s)}")
    if not all(np.isfinite(e)):
        raise ValueError(f"errors must be finite, got {list(e)}")
    first_min = next((i for i in range(1, len(e) - 1) if e[i] <= e[i - 1] and e[i] < e[i + 1]), None)
    peak = None
    if first_min is not None:
        candidate = first_min + 1 + int(np.argmax(e[first_min + 1:]))
        peak = candidate if e[candidate] - e[first_min] > tolerance else None
    return CurveShape(sizes=s, errors=e, first_min=first_min, peak=peak, tolerance=tolerance)
