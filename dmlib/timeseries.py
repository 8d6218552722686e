"""Sliding windows over a multivariate time series, backend-free and without copying every window.

A forecasting data set of ``n`` hours holds about ``n`` overlapping windows; materialising them all
(``n x length x features`` numbers) costs 120 times the memory of the series for 120-hour windows.
Here a window is just its start index: :func:`window_starts` computes the valid starts,
:func:`gather_windows` cuts one batch of windows out of the series with a single fancy-indexing
operation, and :class:`WindowDataset` (a ``keras.utils.PyDataset``) does that batch by batch for
``model.fit`` / ``predict`` / ``evaluate`` on any Keras backend (no ``tf.data``).

Conventions (as in ``keras.utils.timeseries_dataset_from_array`` and Deep Learning with Python):
the window starting at row ``i`` holds rows ``i, i + s, ..., i + (length - 1) s`` (``s`` the
sampling rate); its last row is ``end = i + (length - 1) s``; its target is ``targets[end + delay]``
or, with ``horizon = h``, the ``h`` values ``targets[end + delay], ..., targets[end + delay + h - 1]``.

Introduced in ``03_rnn_time_series.ipynb``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from dmlib.validate import check_int


class WindowError(ValueError):
    """Inputs that cannot be cut into windows: wrong shapes, NaNs, or a series too short."""


def _check_int(name: str, value: Any, low: int) -> int:
    """:func:`dmlib.validate.check_int` raising :class:`WindowError`."""
    return check_int(name, value, low, error=WindowError)


def _check_float_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype if it is a floating-point type.

    An integer or boolean dtype would wrap or truncate the data without a word (1000 is -24 in
    int8, 0.7 is 0 in int32), and a model reads floats anyway.

    Raises:
        WindowError: naming the dtype given.
    """
    try:
        target = np.dtype(dtype)
    except TypeError:  # not a dtype at all, e.g. "flot32"
        target = np.dtype(object)
    if not np.issubdtype(target, np.floating):
        raise WindowError(f"dtype must be a floating-point dtype such as 'float32' or 'float64', got {dtype!r}; "
                          "an integer dtype would wrap or truncate the values (1000 is -24 in int8)")
    return target


def _cast_finite(values: np.ndarray, what: str, target: np.dtype) -> np.ndarray:
    """``values`` cast to the floating dtype ``target``, refusing NaN/inf, checked AFTER the cast
    (1e300 is inf in float32).

    Raises:
        WindowError: naming how many values are bad, where the first one is, and what to do.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        cast = values.astype(target, copy=False)
    bad = ~np.isfinite(cast)
    if bad.any():
        where = tuple(np.argwhere(bad)[0])
        first = values[where]
        if np.isfinite(first):
            raise WindowError(
                f"{what} hold {int(bad.sum())} values too large for {target.name} "
                f"(|value| > {float(np.finfo(target).max):.3g}; first at {_position(where)}: {first!r}); "
                "rescale or standardise them before windowing"
            )
        raise WindowError(
            f"{what} hold {int(bad.sum())} NaN/inf values (first at {_position(where)}); "
            "fill them or drop the column before windowing (a model cannot read NaN)"
        )
    return cast


def _position(index: tuple[int, ...]) -> str:
    return f"row {index[0]}" + (f", column {index[1]}" if len(index) > 1 else "")


def _as_2d_features(features: Any) -> np.ndarray:
    x = np.asarray(features)
    if x.ndim == 1:
        raise WindowError(
            f"features must be 2-D (time, features), got shape {x.shape}; for a single series use "
            "features[:, None]"
        )
    if x.ndim != 2:
        raise WindowError(f"features must be 2-D (time, features), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise WindowError(
            f"features must be numeric, got dtype {x.dtype}; one-hot encode categorical columns "
            "first (e.g. pandas.get_dummies)"
        )
    return x


def window_starts(
    n_rows: int,
    length: int,
    delay: int = 0,
    *,
    horizon: int = 0,
    sampling_rate: int = 1,
    start: int = 0,
    end: int | None = None,
    stride: int = 1,
) -> np.ndarray:
    """Start rows of every window (and its targets) that fits between ``start`` and ``end``.

    Args:
        n_rows: the length of the series.
        length: time steps per window.
        delay: rows between a window's last row and its (first) target; 0 without targets.
        horizon: number of consecutive target rows (0: no targets, 1: one target).
        sampling_rate: rows between two steps of a window.
        start, end: the windows and their targets use only rows ``start <= row < end``
            (default ``end = n_rows``), e.g. one split of a chronological split.
        stride: rows between two consecutive window starts (subsampling: 6 keeps every 6th window).

    Returns:
        int64 array of start rows, increasing.

    Raises:
        WindowError: for non-positive sizes, a range outside the series, or a range too short
            for a single window.

    Example:
        >>> window_starts(10, length=3, delay=2, horizon=1)
        array([0, 1, 2, 3, 4, 5])
    """
    n_rows = _check_int("n_rows", n_rows, 0)
    length, sampling_rate, stride = (_check_int("length", length, 1), _check_int("sampling_rate", sampling_rate, 1),
                                     _check_int("stride", stride, 1))
    delay, horizon, start = _check_int("delay", delay, 0), _check_int("horizon", horizon, 0), _check_int("start", start, 0)
    end = n_rows if end is None else _check_int("end", end, 0)
    if not 0 <= start <= end <= n_rows:
        raise WindowError(f"need 0 <= start <= end <= n_rows, got start={start}, end={end}, n_rows={n_rows}")
    # rows used by the window starting at i: i .. i + span - 1
    span = (length - 1) * sampling_rate + 1 + (delay + horizon - 1 if horizon else 0)
    last_start = end - span
    if last_start < start:
        raise WindowError(
            f"series too short: rows {start}..{end - 1} ({end - start} rows) cannot hold one window "
            f"of length {length} (sampling rate {sampling_rate}) plus delay {delay} and horizon {horizon}, "
            f"which needs {span} rows"
        )
    return np.arange(start, last_start + 1, stride, dtype=np.int64)


def gather_windows(
    features: np.ndarray,
    starts: np.ndarray,
    length: int,
    *,
    sampling_rate: int = 1,
    targets: np.ndarray | None = None,
    delay: int = 0,
    horizon: int = 1,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Cut the windows beginning at ``starts`` out of ``features`` (one fancy-indexing copy).

    Every argument is checked here, once: a negative start would silently wrap around to the end of
    the series, a negative delay would put the target inside its own window, and a window running
    past the end would raise a bare ``IndexError``.

    Args:
        features: (time, features) array.
        starts: 1-D integer array of start rows (from :func:`window_starts`), each ``>= 0``.
        length, sampling_rate: as in :func:`window_starts`.
        targets: (time,) or (time, k) array with as many rows as ``features``; if given, also
            return the targets.
        delay, horizon: target ``targets[end + delay + j]`` for ``j < horizon`` (``delay >= 0``,
            ``horizon >= 1``).

    Returns:
        ``x`` of shape (len(starts), length, features), and with ``targets`` also ``y`` of shape
        (len(starts),) for horizon 1 with 1-D targets, else (len(starts), horizon[, k]).

    Raises:
        WindowError: for non-integer or out-of-range sizes, starts that are not integers, negative
            starts, or windows (or their targets) that run past the end of the series.

    Example:
        >>> x = np.arange(10.0)[:, None]
        >>> gather_windows(x, np.array([0, 5]), length=3)[..., 0]
        array([[0., 1., 2.],
               [5., 6., 7.]])
    """
    x = np.asarray(features)
    if x.ndim < 1:
        raise WindowError(f"features must be an array with time along its first axis, got shape {x.shape}")
    length, sampling_rate = _check_int("length", length, 1), _check_int("sampling_rate", sampling_rate, 1)
    s = np.asarray(starts)
    if s.ndim != 1 or not (np.issubdtype(s.dtype, np.integer) or s.size == 0) or s.dtype == bool:
        raise WindowError(f"starts must be a 1-D array of integer row indices, got shape {s.shape} and dtype {s.dtype}")
    s = s.astype(np.int64, copy=False)
    if s.size and s.min() < 0:
        raise WindowError(f"starts must be >= 0 (a negative start would wrap around to the end), got {int(s.min())}")
    last_row = (length - 1) * sampling_rate
    if s.size and s.max() + last_row >= len(x):
        raise WindowError(
            f"the window starting at row {int(s.max())} needs rows up to {int(s.max()) + last_row}, but the series "
            f"has {len(x)} rows; use window_starts to compute valid starts"
        )
    if targets is None:
        return _gather(x, s, length, sampling_rate)
    y = np.asarray(targets)
    delay, horizon = _check_int("delay", delay, 0), _check_int("horizon", horizon, 1)
    if y.ndim not in (1, 2) or len(y) != len(x):
        raise WindowError(f"targets must have shape ({len(x)},) or ({len(x)}, k) to match the features, got {y.shape}")
    if s.size and s.max() + last_row + delay + horizon - 1 >= len(y):
        raise WindowError(
            f"the targets of the window starting at row {int(s.max())} need rows up to "
            f"{int(s.max()) + last_row + delay + horizon - 1}, but the series has {len(y)} rows; "
            "use window_starts with the same delay and horizon"
        )
    return _gather(x, s, length, sampling_rate, y, delay, horizon)


def _gather(features: np.ndarray, starts: np.ndarray, length: int, sampling_rate: int,
            targets: np.ndarray | None = None, delay: int = 0, horizon: int = 1) -> Any:
    """:func:`gather_windows` without the checks, for callers that validated their arguments once."""
    steps = np.arange(length, dtype=np.int64) * sampling_rate
    x = features[starts[:, None] + steps[None, :]]
    if targets is None:
        return x
    last = starts + (length - 1) * sampling_rate
    if horizon == 1 and targets.ndim == 1:
        return x, targets[last + delay]
    return x, targets[(last + delay)[:, None] + np.arange(horizon, dtype=np.int64)[None, :]]


class WindowDataset(keras.utils.PyDataset):
    """Batches of windows of a time series for ``model.fit``, cut on the fly from index arrays.

    Holds only the series and the start rows of its windows; each batch is gathered when Keras
    asks for it. Works unchanged on the TensorFlow, JAX and PyTorch backends.

    Args:
        features: (time, n_features) numeric array without NaN (one-hot encode categories first).
        targets: (time,) or (time, k) array, or None to yield inputs only (for ``predict``).
            Targets are checked for NaN only at the rows some window uses.
        length: time steps per window.
        delay: rows from a window's last row to its first target (24: the value 24 h after the
            window's end, for hourly data).
        horizon: consecutive targets per window (24 with ``delay=1``: the next 24 hours at once).
        sampling_rate: rows between two steps of a window.
        start, end: use only rows ``start <= row < end`` (a chronological split).
        stride: rows between consecutive window starts (subsamples the windows).
        batch_size: windows per batch.
        shuffle: reshuffle the order of the windows at every epoch.
        seed: seed of the shuffling (the same seed gives the same sequence of epochs).
        dtype: floating-point dtype of the batches (float32 by default).
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` of ``PyDataset``.

    Raises:
        WindowError: wrong shapes, NaN/inf in the features or in a used target, a series too short,
            a size that is not an integer in range, or a dtype that is not a floating-point type.

    Example:
        >>> ds = WindowDataset(np.random.rand(1000, 3), np.random.rand(1000), length=120, delay=24,
        ...                    batch_size=256, shuffle=True, seed=0)
        >>> len(ds), ds[0][0].shape, ds[0][1].shape
        (4, (256, 120, 3), (256,))
    """

    def __init__(
        self,
        features: Any,
        targets: Any = None,
        *,
        length: int,
        delay: int = 1,
        horizon: int = 1,
        sampling_rate: int = 1,
        start: int = 0,
        end: int | None = None,
        stride: int = 1,
        batch_size: int = 256,
        shuffle: bool = False,
        seed: int | None = None,
        dtype: str = "float32",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        x = _as_2d_features(features)
        # Sizes first (cheap), then the data: 2.5 is refused, never truncated to 2.
        self.length, self.sampling_rate = _check_int("length", length, 1), _check_int("sampling_rate", sampling_rate, 1)
        self.delay = _check_int("delay", delay, 0)
        self.horizon = _check_int("horizon", horizon, 1) if targets is not None else 0
        self.batch_size = _check_int("batch_size", batch_size, 1)
        dtype = _check_float_dtype(dtype)
        self.starts = window_starts(
            len(x), self.length, self.delay if targets is not None else 0, horizon=self.horizon,
            sampling_rate=self.sampling_rate, start=start, end=end, stride=stride,
        )
        self.features = _cast_finite(x, "features", dtype)  # after the cast: 1e300 is inf in float32
        self.targets: np.ndarray | None = None
        if targets is not None:
            y = np.asarray(targets)
            if y.ndim not in (1, 2) or len(y) != len(x):
                raise WindowError(
                    f"targets must have shape ({len(x)},) or ({len(x)}, k) to match the features, got {y.shape}"
                )
            if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
                raise WindowError(f"targets must be numeric, got dtype {y.dtype}")
            with np.errstate(over="ignore", invalid="ignore"):
                cast = y.astype(dtype, copy=False)
            last = self.starts + (self.length - 1) * self.sampling_rate + self.delay
            used = np.unique((last[:, None] + np.arange(self.horizon)[None, :]).ravel())
            # Checked after the cast: 1e300 is inf in float32 (and NaN stays NaN).
            bad = ~np.isfinite(cast[used]).reshape(len(used), -1).all(axis=1)
            if bad.any():
                rows = used[bad]
                raise WindowError(
                    f"{len(rows)} target rows used by the windows are NaN/inf or too large for "
                    f"{dtype.name} (first at row {rows[0]}: {y[rows[0]]!r}); "
                    "fill or rescale them, or choose another target column"
                )
            self.targets = cast
        self.shuffle = bool(shuffle)
        self._rng = np.random.default_rng(seed)
        self.order = np.arange(len(self.starts))
        if self.shuffle:
            self._rng.shuffle(self.order)

    @property
    def n_windows(self) -> int:
        """Number of windows (one epoch)."""
        return len(self.starts)

    def __len__(self) -> int:
        return math.ceil(len(self.starts) / self.batch_size)

    def __getitem__(self, index: int) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range (the dataset has {len(self)} batches)")
        chosen = self.starts[self.order[index * self.batch_size : (index + 1) * self.batch_size]]
        # Validated once in __init__; each batch uses the unchecked gather.
        return _gather(self.features, chosen, self.length, self.sampling_rate, self.targets, self.delay, self.horizon)

    def on_epoch_end(self) -> None:
        """Draw a new order of the windows for the next epoch (if ``shuffle``)."""
        if self.shuffle:
            self._rng.shuffle(self.order)

    def window_targets(self) -> np.ndarray:
        """The targets of every window in the dataset's current order (for ``predict`` outputs).

        Example:
            >>> y_true = ds.window_targets()  # doctest: +SKIP
        """
        if self.targets is None:
            raise WindowError("this dataset was built without targets")
        return _gather(self.features, self.starts[self.order], self.length, self.sampling_rate,
                       self.targets, self.delay, self.horizon)[1]

    def window_ends(self) -> np.ndarray:
        """Row index of the last step of every window, in the dataset's current order."""
        return self.starts[self.order] + (self.length - 1) * self.sampling_rate

    def arrays(self) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Materialise every window (small data only: sklearn baselines, tests).

        Example:
            >>> x, y = ds.arrays()  # doctest: +SKIP
        """
        return _gather(self.features, self.starts[self.order], self.length, self.sampling_rate,
                       self.targets, self.delay, self.horizon)
