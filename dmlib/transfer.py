"""Transfer learning without downloads: split a labelled set into source and target classes, draw few labels.

Notebook 02 pretrains a small CNN on five Fashion-MNIST classes and reuses it on the other five
with a handful of labels per class (frozen features, fine-tuned, or trained from scratch).
:func:`class_subset` keeps the images of some classes and renumbers their labels 0..k-1;
:func:`per_class_sample` draws the same number of labelled examples from every class, reproducibly.
Numpy in, numpy out; no Keras.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np


def _is_whole(value: Any) -> bool:
    """Whether ``value`` is a whole number (``3``, ``np.int64(3)``, ``3.0``), not a bool, NaN or infinity."""
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(value) and int(value) == value)


def class_subset(x: np.ndarray, y: np.ndarray, classes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Keep the examples whose label is in ``classes`` and renumber the labels 0..k-1 in that order.

    Args:
        x: inputs, first axis = examples.
        y: integer labels, one per example.
        classes: the original labels to keep (distinct); ``classes[i]`` becomes label ``i``.

    Returns:
        ``(x_kept, y_kept)``, in the original order of the examples.

    Raises:
        ValueError: if ``x`` and ``y`` differ in length, ``classes`` is empty, repeats a label or holds
            something other than whole numbers, or a class has no example (a typo in the class list
            would otherwise pass silently).

    Example:
        >>> x, y = np.arange(6), np.array([0, 1, 2, 0, 1, 2])
        >>> class_subset(x, y, [2, 0])
        (array([0, 2, 3, 5]), array([1, 0, 1, 0]))
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)} labels; give one label per example")
    given = list(classes)  # read once: a generator would be empty on a second pass
    if not all(_is_whole(c) for c in given):
        raise ValueError(f"classes must be whole-number labels (0.5 would be truncated to 0), got {given!r}")
    classes = [int(c) for c in given]
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct labels, got {classes}")
    missing = [c for c in classes if not np.any(y == c)]
    if missing:
        raise ValueError(f"no example has label {missing}; the labels present are {sorted(np.unique(y).tolist())}")
    keep = np.isin(y, classes)
    new_label = {c: i for i, c in enumerate(classes)}
    return x[keep], np.array([new_label[int(c)] for c in y[keep]], dtype=y.dtype)


def per_class_sample(y: np.ndarray, per_class: int, *, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` examples drawn at random (without replacement) from every class in ``y``.

    Args:
        y: integer labels.
        per_class: how many examples to draw from each class present in ``y``.
        seed: seed of the draw (the same seed gives the same indices).

    Returns:
        Sorted indices into ``y``, ``per_class`` for each class.

    Raises:
        ValueError: if ``per_class`` < 1 or a class has fewer examples than asked for.

    Example:
        >>> idx = per_class_sample(np.array([0, 0, 0, 1, 1, 1]), 2, seed=0)
        >>> len(idx), np.bincount(np.array([0, 0, 0, 1, 1, 1])[idx]).tolist()
        (4, [2, 2])
    """
    y = np.asarray(y)
    if not _is_whole(per_class) or per_class < 1:
        raise ValueError(f"per_class must be a whole number >= 1, got {per_class!r}")
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than per_class={per_class}; "
                             "ask for fewer or use more data")
        picks.append(rng.choice(members, size=int(per_class), replace=False))
    return np.sort(np.concatenate(picks))
