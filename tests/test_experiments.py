"""The experiment runner: grids, the on-disk cache of finished runs, summaries and comparisons."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dmlib import experiments as ex


class Counter:
    """A fake experiment that counts its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, width, lr=0.1, seed=0):
        self.calls.append((width, lr, seed))
        return {"accuracy": width / 100 + seed / 1000, "loss": 1.0 / width}


def run(fn, grid, seeds=(0, 1), **kw):
    kw.setdefault("profile", "smoke")
    kw.setdefault("backend", "numpy")
    return ex.run_grid(fn, grid, seeds, name="demo", verbose=False, **kw)


def test_expand_grid_product_and_list():
    assert ex.expand_grid({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert ex.expand_grid([{"a": 1}, {"a": 2, "b": 3}]) == [{"a": 1}, {"a": 2, "b": 3}]
    with pytest.raises(TypeError):
        ex.expand_grid({"a": 3})


def test_tidy_frame_one_row_per_run():
    fn = Counter()
    df = run(fn, {"width": [10, 20]}, seeds=[0, 1, 2])
    assert list(df.columns) == ["width", "seed", "accuracy", "loss", "seconds", "cached"]
    assert len(df) == 6 and len(fn.calls) == 6
    assert df.loc[(df.width == 20) & (df.seed == 2), "accuracy"].item() == pytest.approx(0.202)
    assert not df.cached.any()


def test_default_cache_dir_is_under_dmlib_cache(isolated_data):
    assert ex.default_cache_dir() == isolated_data / "cache" / "dmlib-experiments"
    fn = Counter()
    run(fn, {"width": [10]}, seeds=[0])
    assert len(list((isolated_data / "cache" / "dmlib-experiments" / "demo").glob("*.json"))) == 1


def test_second_run_hits_the_cache(tmp_path):
    fn = Counter()
    first = run(fn, {"width": [10, 20]}, cache_dir=tmp_path)
    assert len(fn.calls) == 4
    again = run(fn, {"width": [10, 20]}, cache_dir=tmp_path)
    assert len(fn.calls) == 4  # nothing recomputed
    assert again.cached.all()
    pd.testing.assert_frame_equal(first.drop(columns="cached"), again.drop(columns="cached"))


def test_changed_configuration_seed_version_profile_or_backend_reruns(tmp_path):
    fn = Counter()
    run(fn, {"width": [10], "lr": [0.1]}, seeds=[0], cache_dir=tmp_path)
    run(fn, {"width": [10], "lr": [0.2]}, seeds=[0], cache_dir=tmp_path)  # changed config
    run(fn, {"width": [10], "lr": [0.1]}, seeds=[1], cache_dir=tmp_path)  # new seed
    run(fn, {"width": [10], "lr": [0.1]}, seeds=[0], cache_dir=tmp_path, version="2")
    run(fn, {"width": [10], "lr": [0.1]}, seeds=[0], cache_dir=tmp_path, profile="standard")
    run(fn, {"width": [10], "lr": [0.1]}, seeds=[0], cache_dir=tmp_path, backend="jax")
    assert len(fn.calls) == 6
    run(fn, {"width": [10], "lr": [0.1]}, seeds=[0], cache_dir=tmp_path)  # the first again: cached
    assert len(fn.calls) == 6


def test_corrupt_cache_file_is_recomputed(tmp_path):
    fn = Counter()
    run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path)
    (path,) = (tmp_path / "demo").glob("*.json")
    for damage in ["{not json", '{"metrics": 3}', ""]:
        path.write_text(damage)
        df = run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path)
        assert not df.cached.any()
        assert df.accuracy.item() == pytest.approx(0.1)
    assert len(fn.calls) == 4
    assert run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path).cached.all()  # repaired


def test_cache_disabled(tmp_path):
    fn = Counter()
    run(fn, {"width": [10]}, seeds=[0], cache_dir=False)
    run(fn, {"width": [10]}, seeds=[0], cache_dir=False)
    assert len(fn.calls) == 2


def test_bad_names_and_clashes(tmp_path):
    with pytest.raises(ValueError):
        ex.run_grid(Counter(), {"width": [1]}, [0], name="../x", cache_dir=tmp_path, profile="smoke", backend="numpy")
    with pytest.raises(ValueError):
        run(lambda width, seed: {"width": 1.0}, {"width": [1]}, cache_dir=tmp_path)


def test_integer_seeds_means_range(tmp_path):
    df = run(Counter(), {"width": [10]}, seeds=3, cache_dir=tmp_path)
    assert df.seed.tolist() == [0, 1, 2]


def test_summarise_numbers():
    df = pd.DataFrame({"reg": ["a", "a", "a", "b"], "acc": [1.0, 2.0, 3.0, 5.0]})
    table = ex.summarise(df, "reg", "acc")
    assert table.loc["a", "mean"] == pytest.approx(2.0)
    assert table.loc["a", "std"] == pytest.approx(1.0)  # ddof = 1
    assert table.loc["a", "n"] == 3
    assert math.isnan(table.loc["b", "std"]) and table.loc["b", "n"] == 1
    with pytest.raises(KeyError):
        ex.summarise(df, "reg", "loss")


def test_summarise_by_several_columns():
    df = pd.DataFrame({"m": ["x", "x", "y", "y"], "n": [1, 1, 1, 2], "acc": [0.1, 0.3, 0.5, 0.7]})
    table = ex.summarise(df, ["m", "n"], "acc")
    assert table.loc[("x", 1), "mean"] == pytest.approx(0.2)
    assert table.loc[("y", 2), "n"] == 1


def test_compare_clear_winner_and_noise():
    df = pd.DataFrame({"reg": ["none"] * 3 + ["dropout"] * 3 + ["l2"] * 3,
                       "acc": [0.80, 0.81, 0.82, 0.85, 0.86, 0.87, 0.805, 0.815, 0.825]})
    c = ex.compare(df, "reg", "acc", "dropout", "none")
    assert c.pooled_std == pytest.approx(0.01)
    assert c.margin == pytest.approx(0.05)
    assert c.clearly_better and bool(c)
    assert "beats none by more than the pooled std" in str(c)
    tie = ex.compare(df, "reg", "acc", "l2", "none")
    assert not tie.clearly_better and "within the seed-to-seed noise" in str(tie)
    worse = ex.compare(df, "reg", "acc", "none", "dropout")
    assert not worse and "worse than dropout" in str(worse)


def test_compare_lower_is_better_and_single_runs():
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "err": [0.10, 0.12, 0.30, 0.32]})
    assert ex.compare(df, "g", "err", "a", "b", higher_is_better=False).clearly_better
    assert not ex.compare(df, "g", "err", "a", "b", higher_is_better=True).clearly_better
    single = pd.DataFrame({"g": ["a", "b"], "err": [0.1, 0.5]})
    c = ex.compare(single, "g", "err", "a", "b", higher_is_better=False)
    assert math.isnan(c.pooled_std) and not c.clearly_better and "no claim" in str(c)
    with pytest.raises(KeyError):
        ex.compare(df, "g", "err", "a", "zzz")
