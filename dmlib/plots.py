"""Plots that recur across notebooks (learning curves, image grids). Introduced in ``00_start_here``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def plot_history(history: Any, metrics: Sequence[str] | None = None, *, title: str | None = None) -> plt.Figure:
    """Training and validation curves of a Keras fit, one panel per metric.

    Args:
        history: a ``keras.callbacks.History`` (what ``model.fit`` returns) or its ``.history`` dict.
        metrics: which metrics to draw (default: every one that has no ``val_`` prefix).
        title: a title over the panels.

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: if the history holds none of the metrics.

    Example:
        >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
    """
    hist: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    names = list(metrics) if metrics else [k for k in hist if not k.startswith("val_") and k != "learning_rate"]
    missing = [m for m in names if m not in hist]
    if not names or missing:
        raise ValueError(f"history has {list(hist)}; cannot plot {missing or 'nothing'}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = np.arange(1, len(hist[name]) + 1)
        ax.plot(epochs, hist[name], "o-", label="training")
        if f"val_{name}" in hist:
            ax.plot(epochs, hist[f"val_{name}"], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(
    images: np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 10,
    size: float = 1.2,
    cmap: str = "gray_r",
    title: str | None = None,
) -> plt.Figure:
    """Show images (n, h, w) or (n, h, w, 1) in a grid with optional titles, and a figure title
    placed above the first row (never over it).

    Example:
        >>> fig = image_grid(np.zeros((4, 28, 28)), ["a", "b", "c", "d"], ncols=2, title="four blanks")
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (n, h, w) or (n, h, w, 1), got {images.shape}")
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    if title is None:
        fig.tight_layout()
    else:
        fig.suptitle(title, fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # 0.4 inch above the grid for the title
    return fig
