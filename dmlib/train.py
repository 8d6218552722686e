"""One way of training everywhere: fit, keep the best validation epoch, time it, count it.

Introduced in ``00_start_here`` (plain ``fit``); used by every notebook from 01 on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def fit_best(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any,
    epochs: int,
    batch_size: int = 64,
    monitor: str = "val_loss",
    patience: int | None = None,
    callbacks: Sequence[Any] = (),
    verbose: int = 2,
    **fit_kwargs: Any,
) -> Any:
    """Train ``model`` and end with the weights of its best validation epoch.

    The best epoch (lowest ``monitor``, or highest for accuracy-like metrics) is tracked in memory
    and its weights are restored at the end, so that the test set is evaluated once, on the model
    chosen by validation. With ``patience`` training stops early after that many epochs without
    improvement.

    Args:
        model: a compiled Keras model.
        x, y: training inputs and targets (arrays, or a ``keras.utils.PyDataset`` as ``x``).
        validation_data: ``(x_val, y_val)`` or a dataset.
        epochs: the most epochs to train.
        batch_size: ignored when ``x`` is a dataset.
        monitor: the validation quantity that picks the best epoch.
        patience: stop after this many epochs without improvement (default: never stop early).
        callbacks: further Keras callbacks.
        verbose: Keras' verbosity (2: one line per epoch, the form that reads well in committed outputs).
        **fit_kwargs: passed on to ``model.fit``.

    Returns:
        The ``History``, with extra attributes: ``best_epoch`` (1-based), ``epochs_run``,
        ``still_improving`` (True when the best validation epoch was the last one trained: the
        model was still getting better when the budget ran out, so a comparison involving it is
        budget-limited; pass it to :func:`dmlib.verdicts.compare_runs`) and ``seconds``.

    Example:
        >>> history = fit_best(model, x_train, y_train, validation_data=(x_val, y_val), epochs=5)  # doctest: +SKIP
        >>> history.best_epoch, history.still_improving, history.seconds  # doctest: +SKIP
        (4, False, 12.3)
    """
    import keras

    mode = "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) else "min"
    keeper = keras.callbacks.EarlyStopping(
        monitor=monitor, mode=mode, patience=epochs if patience is None else patience,
        restore_best_weights=True, verbose=0,
    )
    if not isinstance(x, keras.utils.PyDataset):
        fit_kwargs["batch_size"] = batch_size
    start = time.perf_counter()
    history = model.fit(x, y, validation_data=validation_data, epochs=epochs,
                        callbacks=[keeper, *callbacks], verbose=verbose, **fit_kwargs)
    history.seconds = time.perf_counter() - start
    values = np.asarray(history.history[monitor])
    history.best_epoch = int(np.argmax(values) if mode == "max" else np.argmin(values)) + 1
    history.epochs_run = len(values)
    history.still_improving = history.best_epoch == history.epochs_run
    if verbose:
        limited = " (still improving: budget-limited)" if history.still_improving else ""
        print(f"best epoch {history.best_epoch}/{len(values)} ({monitor} {values[history.best_epoch - 1]:.4f}){limited}, "
              f"{history.seconds:.1f} s")
    return history
