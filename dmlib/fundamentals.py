"""Plumbing for notebook 01 (fundamentals): decision-boundary plots and full-batch training.

What notebook 01 teaches (neurons, backpropagation, losses, optimizers) is written in the notebook;
this module only holds the pieces that recur there and are not the lesson:

* :func:`plot_decision_boundary`: colour a 2-D plane by a classifier's prediction;
* :func:`full_batch_fit`: many full-batch gradient steps through ``model.fit``, fast on every
  backend (one compiled loop instead of one Python call per step).

Introduced in ``01_fundamentals.ipynb``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from dmlib.validate import check_int as _check_int


def _check_range(name: str, value: Any) -> tuple[float, float]:
    """``value`` as ``(low, high)`` if it is two finite numbers with ``low < high``."""
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers (low, high), got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{name} must be two finite numbers with low < high, got {value!r}")
    return low, high


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    ax: plt.Axes | None = None,
    grid: int = 150,
    margin: float = 0.5,
    title: str | None = None,
) -> plt.Axes:
    """Shade the plane by ``predict`` (class-1 probability or score) and scatter the points.

    Args:
        predict: maps an ``(m, 2)`` array of points to ``m`` values; the 0.5 level (for
            probabilities) is drawn as the decision boundary.
        X: ``(n, 2)`` points to show.
        y: ``n`` labels 0/1 (colours of the points).
        ax: the axes to draw on (default: a new small figure).
        grid: grid points per axis (an integer >= 2).
        margin: how far the shaded area extends beyond the data (a finite number >= 0).
        title: the axes title.

    Returns:
        The axes.

    Raises:
        ValueError: for ``X`` that is not a non-empty finite ``(n, 2)`` array with one label per
            point, or a bad ``grid`` or ``margin``.

    Example:
        >>> X = np.array([[0.0, 0.0], [1.0, 1.0]]); y = np.array([0, 1])
        >>> ax = plot_decision_boundary(lambda P: (P.sum(1) > 1).astype(float), X, y)
    """
    grid = _check_int("grid", grid, 2)
    if isinstance(margin, (bool, np.bool_)) or not isinstance(margin, numbers.Real) or not 0 <= margin < math.inf:
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {X.shape}")
    if len(X) == 0 or not np.isfinite(X).all():
        raise ValueError(f"X must hold at least one point and only finite coordinates, got shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} points but y has {len(y)} labels; give one label per point")
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 3.4))
    (x0, y0), (x1, y1) = X.min(0) - margin, X.max(0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, grid), np.linspace(y0, y1, grid))
    values = np.asarray(predict(np.c_[gx.ravel(), gy.ravel()]), dtype=float).reshape(gx.shape)
    ax.contourf(gx, gy, values, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35, extend="both")
    ax.contour(gx, gy, values, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", s=10, edgecolors="k", linewidths=0.3, vmin=0, vmax=1)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    if title:
        ax.set_title(title)
    return ax


def full_batch_fit(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    steps: int,
    steps_per_epoch: int = 1,
    verbose: int = 0,
) -> Any:
    """Take ``steps`` full-batch gradient steps with ``model.fit`` (plain gradient descent).

    ``model.fit`` with ``batch_size=len(x)`` does one step per epoch, and every epoch costs a
    little Python overhead. Here the data are repeated ``steps_per_epoch`` times inside one
    epoch with ``shuffle=False``, so each batch is exactly the whole data set in its original
    order, and one Keras "epoch" is ``steps_per_epoch`` full-batch steps. The history therefore
    has ``ceil(steps / steps_per_epoch)`` entries, each the mean loss over its steps.

    Args:
        model: a compiled Keras model.
        x, y: the whole training set (numpy arrays).
        steps: the number of full-batch gradient steps.
        steps_per_epoch: steps per history entry (a larger value is faster, a smaller one gives
            a finer loss curve).
        verbose: Keras' verbosity.

    Returns:
        The ``History`` of the fit.

    Example:
        >>> history = full_batch_fit(model, x, y, steps=1000, steps_per_epoch=50)  # doctest: +SKIP
        >>> len(history.history["loss"])  # doctest: +SKIP
        20
    """
    steps, steps_per_epoch = _check_int("steps", steps, 1), _check_int("steps_per_epoch", steps_per_epoch, 1)
    x = np.asarray(x)
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
    per_epoch = min(steps_per_epoch, steps)
    epochs, rest = divmod(steps, per_epoch)
    if rest:
        raise ValueError(f"steps ({steps}) must be a multiple of steps_per_epoch ({per_epoch})")
    reps = (per_epoch,) + (1,) * (x.ndim - 1)
    x_rep = np.tile(x, reps)
    y_rep = np.tile(y, (per_epoch,) + (1,) * (y.ndim - 1))
    return model.fit(x_rep, y_rep, batch_size=len(x), epochs=epochs, shuffle=False, verbose=verbose)


def plot_paths(
    f: Callable[[np.ndarray], np.ndarray],
    paths: dict[str, np.ndarray],
    *,
    ax: plt.Axes | None = None,
    xlim: tuple[float, float] = (-5.0, 5.0),
    ylim: tuple[float, float] = (-2.5, 2.5),
    levels: int = 12,
    title: str | None = None,
) -> plt.Axes:
    """Contours of a 2-D function with optimisation paths drawn over them (the minimum at the origin).

    Args:
        f: maps an array of points ``(..., 2)`` to values ``(...)``, e.g. a quadratic bowl.
        paths: name -> ``(steps + 1, 2)`` array of visited points.
        ax: the axes to draw on (default: a new figure).
        xlim, ylim: the plotted window (paths that leave it are clipped by the axes): finite, low < high.
        levels: number of log-spaced contour levels between 1% and 100% of ``f``'s maximum on the window
            (a positive integer).
        title: the axes title.

    Returns:
        The axes.

    Raises:
        ValueError: if a path is not an ``(n, 2)`` array, or for a bad window or ``levels``.

    Example:
        >>> bowl = lambda t: 0.5 * (t[..., 0] ** 2 + 25 * t[..., 1] ** 2)
        >>> ax = plot_paths(bowl, {"a path": np.array([[-4.0, 1.5], [-2.0, 0.5], [0.0, 0.0]])})
    """
    levels = _check_int("levels", levels, 1)
    xlim, ylim = _check_range("xlim", xlim), _check_range("ylim", ylim)
    for name, path in paths.items():
        if np.ndim(path) != 2 or np.shape(path)[1] != 2:
            raise ValueError(f"path {name!r} must have shape (n, 2), got {np.shape(path)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.6))
    g1, g2 = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    values = np.asarray(f(np.stack([g1, g2], -1)), dtype=float)
    top = float(values.max())
    ax.contour(g1, g2, values, levels=np.geomspace(top / 1000, top, levels), colors="0.7", linewidths=0.7)
    for name, path in paths.items():
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=name)
    ax.plot(0, 0, "k*", ms=10)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title)
    return ax


def seconds_per_epoch(model: Any, x: np.ndarray, y: np.ndarray, batch_sizes: list[int], *, epochs: int = 2) -> dict[int, float]:
    """Wall-clock seconds of one training epoch of a compiled Keras model, for each batch size.

    One untimed epoch with the largest batch size compiles the training step first; each batch size
    is then timed over ``epochs`` epochs and the mean is returned. The model's weights change.

    Args:
        model: a compiled Keras model.
        x, y: the training data.
        batch_sizes: the batch sizes to time.
        epochs: epochs timed per batch size.

    Returns:
        batch size -> seconds per epoch.

    Raises:
        ValueError: if ``batch_sizes`` is not a non-empty list of positive integers or ``epochs`` not
            a positive integer.

    Example:
        >>> seconds = seconds_per_epoch(model, x, y, [8, 128])  # doctest: +SKIP
        >>> seconds[8] > seconds[128]  # doctest: +SKIP
        True
    """
    import time

    if isinstance(batch_sizes, (str, bytes)) or not isinstance(batch_sizes, (list, tuple)) or not batch_sizes or any(
            isinstance(b, (bool, np.bool_)) or not isinstance(b, numbers.Integral) or b < 1 for b in batch_sizes):
        raise ValueError(f"batch_sizes must be a non-empty list of positive integers (one batch size per timing), "
                         f"got {batch_sizes!r}")
    epochs = _check_int("epochs", epochs, 1)
    model.fit(x, y, batch_size=max(batch_sizes), epochs=1, verbose=0)
    seconds = {}
    for batch_size in batch_sizes:
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
        seconds[batch_size] = (time.perf_counter() - start) / epochs
    return seconds
