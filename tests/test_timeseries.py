"""Tests of dmlib.timeseries (windowing) and of the optional Jena Climate loader."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from dmlib import datasets
from dmlib.timeseries import WindowDataset, WindowError, gather_windows, window_starts


def reference_windows(features, targets, length, delay, horizon=1, sampling_rate=1, start=0, end=None, stride=1):
    """The plain way: a loop that materialises every window and its target(s)."""
    end = len(features) if end is None else end
    xs, ys = [], []
    i = start
    while True:
        rows = [i + k * sampling_rate for k in range(length)]
        last = rows[-1]
        target_rows = [last + delay + j for j in range(horizon)]
        if target_rows[-1] >= end:
            break
        xs.append(np.stack([features[r] for r in rows]))
        ys.append(targets[target_rows[0]] if horizon == 1 and targets.ndim == 1 else np.stack([targets[r] for r in target_rows]))
        i += stride
    return np.stack(xs), np.stack(ys)


def collect(ds):
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture
def series():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    return x, x[:, 1].copy()


@pytest.mark.parametrize(
    "length,delay,horizon,sampling_rate,start,end,stride",
    [(10, 1, 1, 1, 0, None, 1), (24, 24, 1, 1, 0, None, 1), (12, 5, 1, 3, 20, 250, 1),
     (8, 1, 6, 1, 0, None, 4), (30, 2, 3, 2, 100, 300, 7), (1, 0, 1, 1, 0, None, 1)],
)
def test_dataset_matches_reference_loop(series, length, delay, horizon, sampling_rate, start, end, stride):
    x, y = series
    ref_x, ref_y = reference_windows(x, y, length, delay, horizon, sampling_rate, start, end, stride)
    ds = WindowDataset(x, y, length=length, delay=delay, horizon=horizon, sampling_rate=sampling_rate,
                       start=start, end=end, stride=stride, batch_size=16)
    got_x, got_y = collect(ds)
    np.testing.assert_array_equal(got_x, ref_x)
    np.testing.assert_array_equal(got_y, ref_y)
    assert ds.n_windows == len(ref_x) and len(ds) == -(-len(ref_x) // 16)
    np.testing.assert_array_equal(ds.window_targets(), ref_y)
    ax, ay = ds.arrays()
    np.testing.assert_array_equal(ax, ref_x)
    np.testing.assert_array_equal(ay, ref_y)


def test_multicolumn_targets(series):
    x, _ = series
    ref_x, ref_y = reference_windows(x, x[:, :2], 5, 2, horizon=3)
    got_x, got_y = collect(WindowDataset(x, x[:, :2], length=5, delay=2, horizon=3, batch_size=50))
    assert got_y.shape == (len(ref_x), 3, 2)
    np.testing.assert_array_equal(got_y, ref_y)


def test_inputs_only_for_predict(series):
    x, _ = series
    ds = WindowDataset(x, None, length=10, batch_size=64)
    assert ds.n_windows == 291 and ds[0].shape == (64, 10, 4)
    np.testing.assert_array_equal(ds[len(ds) - 1][-1], x[-10:])


def test_shuffle_is_a_seeded_permutation_per_epoch(series):
    x, y = series
    plain = WindowDataset(x, y, length=10, delay=3, batch_size=32)
    a = WindowDataset(x, y, length=10, delay=3, batch_size=32, shuffle=True, seed=7)
    b = WindowDataset(x, y, length=10, delay=3, batch_size=32, shuffle=True, seed=7)
    epoch1 = collect(a)[1]
    np.testing.assert_array_equal(epoch1, collect(b)[1])  # same seed, same epoch
    assert not np.array_equal(epoch1, collect(plain)[1])  # shuffled
    np.testing.assert_array_equal(np.sort(epoch1), np.sort(collect(plain)[1]))  # same windows
    a.on_epoch_end()
    epoch2 = collect(a)[1]
    assert not np.array_equal(epoch1, epoch2)
    np.testing.assert_array_equal(np.sort(epoch2), np.sort(epoch1))
    # pairs stay aligned after shuffling: each window's target is its own
    xs, ys = collect(a)
    np.testing.assert_array_equal(ys, a.targets[a.window_ends() + 3])


def test_window_starts_doc_example_and_too_short():
    np.testing.assert_array_equal(window_starts(10, length=3, delay=2, horizon=1), np.arange(6))
    assert len(window_starts(10, 10)) == 1
    with pytest.raises(WindowError, match="too short"):
        window_starts(10, length=8, delay=3, horizon=1)
    with pytest.raises(WindowError, match="start <= end"):
        window_starts(10, 3, start=5, end=20)


@pytest.mark.parametrize(
    "features,targets,kwargs,message",
    [
        (np.zeros(50), None, {}, "2-D"),
        (np.zeros((50, 2, 2)), None, {}, "2-D"),
        (np.array([["a", "b"]] * 50), None, {}, "numeric"),
        (np.where(np.arange(100)[:, None] == 17, np.nan, 1.0) * np.ones((100, 3)), None, {}, "NaN.*row 17"),
        (np.ones((50, 2)), np.ones(49), {}, "targets must have shape"),
        (np.ones((20, 2)), np.ones(20), {"length": 20}, "too short"),
        (np.ones((50, 2)), np.ones(50), {"length": 0}, "length must be"),
        (np.ones((50, 2)), np.ones(50), {"batch_size": 0}, "batch_size"),
        (np.ones((50, 2)), np.ones(50), {"stride": 1.5}, "stride"),
    ],
)
def test_clear_errors(features, targets, kwargs, message):
    args = {"length": 10, **kwargs}
    with pytest.raises(WindowError, match=message):
        WindowDataset(features, targets, **args)


def test_nan_targets_only_matter_where_used():
    x = np.ones((100, 2))
    y = np.arange(100.0)
    y[:5] = np.nan  # before the first target row (10 + 1 - 1 = 10): harmless
    WindowDataset(x, y, length=10, delay=1)
    y[50] = np.nan
    with pytest.raises(WindowError, match="row 50"):
        WindowDataset(x, y, length=10, delay=1)


def test_gather_windows_example():
    x = np.arange(10.0)[:, None]
    np.testing.assert_array_equal(gather_windows(x, np.array([0, 5]), 3)[..., 0], [[0, 1, 2], [5, 6, 7]])


def test_works_with_keras_fit(series):
    import keras

    x, y = series
    ds = WindowDataset(x, y, length=12, delay=2, batch_size=64, shuffle=True, seed=0)
    model = keras.Sequential([keras.Input((12, 4)), keras.layers.GRU(4), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(ds, epochs=2, verbose=0)
    pred = model.predict(WindowDataset(x, None, length=12, batch_size=64), verbose=0)
    assert pred.shape == (289, 1)


# --------------------------------------------------------------------------- Jena Climate loader


def _jena_csv(n: int) -> str:
    when = pd.date_range("2009-01-01 00:10:00", periods=n, freq="10min")
    # make the last timestamp the official one, keeping the first
    when = when[:-1].append(pd.DatetimeIndex([pd.Timestamp("2017-01-01 00:00:00")]))
    rng = np.random.default_rng(1)
    rows = [",".join([t.strftime("%d.%m.%Y %H:%M:%S")] + [f"{v:.2f}" for v in rng.normal(size=14)]) for t in when]
    header = ",".join(f'"{c}"' if " " in c else c for c in datasets.JENA_HEADER)
    return header + "\n" + "\n".join(rows) + "\n"


@pytest.fixture
def jena_env(tmp_path, monkeypatch):
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    mirror.mkdir()
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    monkeypatch.setenv("DMLIB_CACHE", str(cache))
    monkeypatch.setenv("DMLIB_OFFLINE", "1")
    monkeypatch.setattr(datasets, "JENA_ROWS", 30)
    return mirror


def test_jena_loader_reads_csv(jena_env):
    (jena_env / datasets.JENA_FILE).write_text(_jena_csv(30))
    df = datasets.load_jena_climate()
    assert df.shape == (30, 14) and df.index.name == "time"
    assert df.index[0] == pd.Timestamp("2009-01-01 00:10") and "T (degC)" in df.columns
    assert "jena-climate" in datasets.DATASETS
    assert datasets.DATASETS["jena-climate"].find().endswith(datasets.JENA_FILE)


def test_jena_loader_reads_zip(jena_env):
    with zipfile.ZipFile(jena_env / datasets.JENA_ZIP, "w") as zf:
        zf.writestr(datasets.JENA_FILE, _jena_csv(30))
    assert datasets.load_jena_climate().shape == (30, 14)


def test_jena_missing_is_a_clear_error(jena_env):
    with pytest.raises(datasets.DatasetUnavailableError, match="jena-climate") as info:
        datasets.load_jena_climate()
    text = str(info.value)
    assert datasets.JENA_FILE in text and "DMLIB_OFFLINE" in text and "datasets fetch jena-climate" in text


def test_jena_truncated_file_is_rejected(jena_env):
    (jena_env / datasets.JENA_FILE).write_text(_jena_csv(30).rsplit("\n", 6)[0] + "\n")
    with pytest.warns(UserWarning, match="corrupt"):
        with pytest.raises(datasets.DatasetUnavailableError) as info:
            datasets.load_jena_climate()
    assert info.value.corrupt and "CORRUPT" in str(info.value)


def test_jena_wrong_header_is_rejected(jena_env):
    (jena_env / datasets.JENA_FILE).write_text(_jena_csv(30).replace("T (degC)", "Temp", 1))
    with pytest.warns(UserWarning, match="header"):
        with pytest.raises(datasets.DatasetUnavailableError):
            datasets.load_jena_climate()


# --------------------------------------------------------------------------- validation at the public boundary (issue 14, item 16)


@pytest.mark.parametrize("name", ["length", "delay", "horizon", "sampling_rate", "stride", "batch_size", "start", "end"])
@pytest.mark.parametrize("bad", [2.5, 2.0, True, "3"])
def test_non_integer_sizes_are_refused_not_truncated(name, bad):
    args = {"length": 10, "delay": 1, name: bad}
    with pytest.raises(WindowError, match=f"{name} must be an integer"):
        WindowDataset(np.ones((100, 2)), np.ones(100), **args)


def test_numpy_integers_are_accepted():
    ds = WindowDataset(np.ones((100, 2)), np.ones(100), length=np.int64(10), delay=np.int32(2), horizon=np.int16(1),
                       stride=np.uint8(3), batch_size=np.int64(8), start=np.int64(5), end=np.int64(90))
    assert ds.length == 10 and type(ds.length) is int and ds.n_windows == len(range(5, 90 - 11, 3))
    np.testing.assert_array_equal(window_starts(np.int64(10), np.int64(3), np.int64(2), horizon=1), np.arange(6))


@pytest.mark.parametrize("where", ["features", "targets"])
def test_values_that_overflow_float32_are_refused_after_the_cast(where):
    x, y = np.ones((100, 2)), np.ones(100)
    (x if where == "features" else y)[40] = 1e300  # finite in float64, inf in float32
    with pytest.raises(WindowError, match="row 40.*" if where == "targets" else "too large for float32.*row 40"):
        WindowDataset(x, y, length=10, delay=1)
    WindowDataset(x, y, length=10, delay=1, dtype="float64")  # fine where it fits


def test_gather_windows_validates_its_arguments():
    x, y = np.arange(20.0)[:, None], np.arange(20.0)
    with pytest.raises(WindowError, match="starts must be >= 0"):
        gather_windows(x, np.array([-2, 0]), 3)  # would wrap around to rows 18, 19, 0
    with pytest.raises(WindowError, match="delay must be an integer >= 0"):
        gather_windows(x, np.array([0]), 3, targets=y, delay=-5)  # target inside the window
    with pytest.raises(WindowError, match="needs rows up to 21"):
        gather_windows(x, np.array([0, 19]), 3)
    with pytest.raises(WindowError, match="targets of the window starting at row 16"):
        gather_windows(x, np.array([16]), 3, targets=y, delay=2)
    with pytest.raises(WindowError, match="length must be an integer"):
        gather_windows(x, np.array([0]), 2.5)
    with pytest.raises(WindowError, match="horizon must be an integer >= 1"):
        gather_windows(x, np.array([0]), 3, targets=y, horizon=0)
    with pytest.raises(WindowError, match="integer row indices"):
        gather_windows(x, np.array([0.0, 1.5]), 3)
    with pytest.raises(WindowError, match="targets must have shape"):
        gather_windows(x, np.array([0]), 3, targets=y[:10])
    got_x, got_y = gather_windows(x, np.array([0, 16]), 3, targets=y, delay=1)  # the last valid window
    np.testing.assert_array_equal(got_y, [3.0, 19.0])
    assert gather_windows(x, np.array([], dtype=np.int64), 3).shape == (0, 3, 1)


def test_batches_do_not_revalidate(series, monkeypatch):
    """Validation happens once, in __init__; a batch goes straight to the gather."""
    from dmlib import timeseries

    x, y = series
    ds = WindowDataset(x, y, length=10, delay=2, batch_size=32)
    monkeypatch.setattr(timeseries, "gather_windows", lambda *a, **k: pytest.fail("batches revalidated"))
    collect(ds)
    ds.arrays()
