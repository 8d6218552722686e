"""The experiment runner: grids, the on-disk cache of finished runs, summaries and comparisons."""

from __future__ import annotations

import json
import math

import numpy as np

import pandas as pd
import pytest

from dmlib import experiments as ex


def Counter():  # noqa: N802 (reads like the class it replaces)
    """A fake experiment that counts its calls (in an attribute, which is not part of the cache key)."""

    def experiment(width, lr=0.1, seed=0):
        experiment.calls.append((width, lr, seed))
        return {"accuracy": width / 100 + seed / 1000, "loss": 1.0 / width}

    experiment.calls = []
    return experiment


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


def test_verdict_with_three_runs():
    df = pd.DataFrame({"reg": ["none"] * 3 + ["dropout"] * 3 + ["l2"] * 3,
                       "acc": [0.80, 0.81, 0.82, 0.85, 0.86, 0.87, 0.805, 0.815, 0.825]})
    v = ex.verdict(df, "reg", "acc", "dropout", "none", paired=False)
    assert v.better and v.diff == pytest.approx(0.05)
    assert str(v).startswith("dropout beats none on acc by 0.050")
    tie = ex.verdict(df, "reg", "acc", "l2", "none", paired=False)
    assert tie.inconclusive and str(tie).startswith("Inconclusive: l2 vs none on acc")
    worse = ex.verdict(df, "reg", "acc", "none", "dropout", paired=False)
    assert worse.worse and "worse than dropout" in str(worse)


def test_paired_verdict_pairs_runs_by_seed_whatever_their_order():
    # seed effects dominate (0.80 / 0.86 / 0.83); dropout is 0.01 better on every seed
    df = pd.DataFrame({"reg": ["none"] * 3 + ["dropout"] * 3, "seed": [0, 1, 2, 2, 0, 1],
                       "acc": [0.80, 0.86, 0.83, 0.841, 0.811, 0.869]})
    paired = ex.verdict(df, "reg", "acc", "dropout", "none", paired=True)
    unpaired = ex.verdict(df, "reg", "acc", "dropout", "none", paired=False)
    assert paired.better and unpaired.inconclusive
    assert paired.diff == pytest.approx(0.0103333, abs=1e-6)
    with pytest.raises(ValueError, match="same seeds"):
        ex.verdict(df.iloc[:5], "reg", "acc", "dropout", "none", paired=True)


def test_verdict_reads_still_improving_runs_as_budget_limited():
    df = pd.DataFrame({"reg": ["none"] * 3 + ["dropout"] * 3, "seed": [0, 1, 2] * 2,
                       "acc": [0.80, 0.81, 0.82, 0.85, 0.86, 0.87],
                       "still_improving": [False, False, False, False, True, False]})
    v = ex.verdict(df, "reg", "acc", "dropout", "none", paired=True, improving="still_improving")
    assert v.improving_a and not v.improving_b and "Budget-limited: dropout was still improving" in str(v)


def test_verdict_lower_is_better_and_single_runs():
    df = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3, "err": [0.10, 0.12, 0.11, 0.30, 0.32, 0.31]})
    assert ex.verdict(df, "g", "err", "a", "b", higher_is_better=False).better
    assert ex.verdict(df, "g", "err", "a", "b", higher_is_better=True).worse
    single = pd.DataFrame({"g": ["a", "b"], "err": [0.1, 0.5]})
    v = ex.verdict(single, "g", "err", "a", "b", higher_is_better=False)
    assert v.tie and "too few runs" in str(v)
    with pytest.raises(KeyError):
        ex.verdict(df, "g", "err", "a", "zzz")
    with pytest.raises(KeyError):
        ex.verdict(df, "g", "loss", "a", "b")


# ---- issue 14 item 14: the cache never serves a result computed from other inputs ----------------

SETTINGS = {"epochs": 3}


def reads_a_setting(width, seed):
    """An experiment that reads a global setting, as a notebook's functions read CFG."""
    return {"accuracy": width * SETTINGS["epochs"] / 100}


def make_fn(body):
    """A fresh function `experiment(x, seed)` from source text (as re-running a notebook cell does)."""
    ns = {}
    exec(f"def experiment(x, seed):\n    return {{'value': {body}}}\n", ns)  # noqa: S102 (test helper)
    return ns["experiment"]


def test_editing_a_setting_the_function_reads_reruns(tmp_path, monkeypatch):
    first = run(reads_a_setting, {"width": [10]}, seeds=[0], cache_dir=tmp_path)
    monkeypatch.setitem(SETTINGS, "epochs", 30)  # the settings cell was edited
    second = run(reads_a_setting, {"width": [10]}, seeds=[0], cache_dir=tmp_path)
    assert not second.cached.any() and second.accuracy.item() == pytest.approx(3.0) != first.accuracy.item()
    assert run(reads_a_setting, {"width": [10]}, seeds=[0], cache_dir=tmp_path).cached.all()


def test_edited_function_code_reruns(tmp_path):
    assert run(make_fn("x + 1"), {"x": [1]}, seeds=[0], cache_dir=tmp_path).value.item() == 2
    again = run(make_fn("x + 1"), {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    assert again.cached.all()  # the same code, defined anew, hits the cache
    edited = run(make_fn("x + 2"), {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    assert not edited.cached.any() and edited.value.item() == 3


def test_edited_helper_function_reruns(tmp_path):
    ns = {}
    exec("def helper(x):\n    return x * 2\n\ndef experiment(x, seed):\n    return {'value': helper(x)}\n", ns)
    assert run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path).value.item() == 2
    exec("def helper(x):\n    return x * 3\n", ns)  # only the helper's cell was edited
    df = run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    assert not df.cached.any() and df.value.item() == 3


def test_global_data_array_is_part_of_the_key(tmp_path):
    ns = {"np": np, "data": np.arange(5.0)}
    exec("def experiment(x, seed):\n    return {'value': float(data.sum()) * x}\n", ns)
    assert run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path).value.item() == 10
    ns["data"] = np.arange(5.0).astype("float32")  # same values, other dtype: other data
    assert not run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path).cached.any()
    ns["data"] = np.arange(6.0)[:5].reshape(5)
    assert run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path).cached.all()  # same bytes, dtype, shape
    ns["data"][2] = 100.0
    df = run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    assert not df.cached.any() and df.value.item() == 108


def test_dataframes_with_the_same_truncated_repr_differ(tmp_path):
    a = pd.DataFrame({"v": np.arange(1000.0)})
    b = a.copy()
    b.loc[500, "v"] = -1.0
    assert repr(a) == repr(b)  # what the old key used
    fn = lambda frame, seed: {"total": float(frame["v"].sum())}  # noqa: E731
    first = run(fn, {"frame": [a]}, seeds=[0], cache_dir=tmp_path)
    second = run(fn, {"frame": [b]}, seeds=[0], cache_dir=tmp_path)
    assert not second.cached.any() and second.total.item() != first.total.item()
    assert run(fn, {"frame": [a.copy()]}, seeds=[0], cache_dir=tmp_path).cached.all()
    assert ex.fingerprint(a) != ex.fingerprint(a.astype("float32"))  # dtypes are part of it
    assert ex.fingerprint(a) != ex.fingerprint(a.rename(columns={"v": "w"}))


def test_numpy_array_configuration_values(tmp_path):
    fn = lambda data, seed: {"total": float(np.sum(data))}  # noqa: E731
    df = run(fn, {"data": [np.arange(4), np.ones((2, 2))]}, seeds=[0], cache_dir=tmp_path)
    assert df.total.tolist() == [6.0, 4.0]
    assert run(fn, {"data": [np.arange(4)]}, seeds=[0], cache_dir=tmp_path).cached.all()
    assert not run(fn, {"data": [np.arange(4).reshape(2, 2)]}, seeds=[0], cache_dir=tmp_path).cached.any()


def test_function_configuration_values_hit_by_source(tmp_path):
    fn = lambda act, x, seed: {"y": act(x, 0)["value"]}  # noqa: E731
    assert run(fn, {"act": [make_fn("x * x")], "x": [3]}, seeds=[0], cache_dir=tmp_path).y.item() == 9
    # the cell defining `act` is run again: a new object with the same code (the old repr key never hit)
    assert run(fn, {"act": [make_fn("x * x")], "x": [3]}, seeds=[0], cache_dir=tmp_path).cached.all()
    edited = run(fn, {"act": [make_fn("x * x * x")], "x": [3]}, seeds=[0], cache_dir=tmp_path)
    assert not edited.cached.any() and edited.y.item() == 27


def test_values_that_cannot_be_hashed_exactly_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"configuration .*\['thing'\].*cannot be hashed exactly"):
        run(lambda thing, seed: {"v": 1}, {"thing": [object()]}, seeds=[0], cache_dir=tmp_path)
    ns = {"lock": __import__("threading").Lock()}
    exec("def experiment(x, seed):\n    with lock:\n        return {'v': x}\n", ns)
    with pytest.raises(TypeError, match="global 'lock' read by experiment"):
        run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    with pytest.raises(TypeError, match="dtype object"):
        ex.fingerprint(np.array([{}, []], dtype=object))
    with pytest.raises(TypeError, match=r"inputs\['f'\]"):
        run(Counter(), {"width": [1]}, inputs={"f": open(__file__)}, cache_dir=tmp_path)  # noqa: SIM115


def test_inputs_profile_backend_and_seed_are_part_of_the_key(tmp_path):
    fn = Counter()
    run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path, inputs={"n_train": 500})
    run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path, inputs={"n_train": 501})
    assert len(fn.calls) == 2
    run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path, inputs={"n_train": 500})
    assert len(fn.calls) == 2
    keys = {ex.run_key("e", "1", {"w": 1}, s, p, b) for s, p, b in
            [(0, "smoke", "jax"), (1, "smoke", "jax"), (0, "standard", "jax"), (0, "smoke", "torch")]}
    assert len(keys) == 4
    assert ex.run_key("e", "1", {"w": 1}, 0, "smoke", "jax") != ex.run_key("e", "1", {"w": 1.0}, 0, "smoke", "jax")


def test_cached_entry_is_checked_against_its_inputs_and_metric_types(tmp_path):
    fn = Counter()
    run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path)
    (path,) = (tmp_path / "demo").glob("*.json")
    good = json.loads(path.read_text())
    for field, value in [("config_sha256", "0" * 64), ("seed", 1), ("profile", "full"), ("backend", "jax"),
                         ("key", "f" * 64), ("code_sha256", "x")]:
        path.write_text(json.dumps({**good, field: value}))
        assert not run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path).cached.any(), field
    path.write_text(json.dumps({**good, "metrics": {**good["metrics"], "accuracy": "0.1"}}))  # a string now
    assert not run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path).cached.any()
    assert run(fn, {"width": [10]}, seeds=[0], cache_dir=tmp_path).cached.all()


def test_cache_folder_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DMLIB_EXPERIMENTS_CACHE", str(tmp_path / "runs"))
    assert ex.default_cache_dir() == tmp_path / "runs"
    run(Counter(), {"width": [10]}, seeds=[0])
    assert len(list((tmp_path / "runs" / "demo").glob("*.json"))) == 1
    monkeypatch.setenv("DMLIB_EXPERIMENTS_CACHE", "off")
    fn = Counter()
    run(fn, {"width": [10]}, seeds=[0])
    run(fn, {"width": [10]}, seeds=[0])
    assert ex.default_cache_dir() is None and len(fn.calls) == 2


def test_metrics_are_plain_json(tmp_path):
    df = run(lambda seed: {"acc": np.float32(0.5), "curve": np.array([1, 2])}, [{}], seeds=[0], cache_dir=tmp_path)
    assert df.acc.item() == 0.5 and df.curve.item() == [1, 2]
    with pytest.raises(TypeError, match="metric 'model'"):
        run(lambda seed: {"model": object()}, [{}], seeds=[0], cache_dir=tmp_path)


def test_fingerprint_is_exact():
    assert ex.fingerprint(1) != ex.fingerprint(1.0) != ex.fingerprint(True)
    assert ex.fingerprint(0.1 + 0.2) != ex.fingerprint(0.3)
    assert ex.fingerprint({"a": 1, "b": 2}) == ex.fingerprint({"b": 2, "a": 1})
    assert ex.fingerprint([1, 2]) != ex.fingerprint((1, 2))
    assert ex.fingerprint(pd.Series([1, 2])) != ex.fingerprint(pd.Series([1, 2], index=[5, 6]))
    from dmlib.config import Settings

    assert ex.fingerprint(Settings("smoke", {"e": 1})) != ex.fingerprint(Settings("standard", {"e": 1}))
    assert ex.fingerprint(np.random.default_rng(0)) != ex.fingerprint(np.random.default_rng(1))


# ---- issue 32 item 6: the cache key follows every input; edited entries are not served -----------------------


def test_editing_a_helper_in_a_users_own_module_reruns(tmp_path, monkeypatch):
    import importlib
    import sys

    (tmp_path / "myhelpers.py").write_text("def scale(x):\n    return x * 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("myhelpers", None)
    ns = {"myhelpers": importlib.import_module("myhelpers")}
    exec("def experiment(x, seed):\n    return {'value': myhelpers.scale(x)}\n", ns)
    assert run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path / "c").value.item() == 2
    (tmp_path / "myhelpers.py").write_text("def scale(x):\n    return x * 3\n")
    ns["myhelpers"] = importlib.reload(ns["myhelpers"])
    df = run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path / "c")
    assert not df.cached.any() and df.value.item() == 3
    sys.modules.pop("myhelpers", None)


def test_partial_arguments_are_part_of_the_key(tmp_path):
    import functools

    ns = {"functools": functools}
    exec("def scale(x, k):\n    return x * k\n", ns)
    for k in (2, 3):
        ns["step"] = functools.partial(ns["scale"], k=k)
        exec("def experiment(x, seed):\n    return {'value': step(x)}\n", ns)
        df = run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path)
        assert not df.cached.any() and df.value.item() == k


def test_a_global_read_inside_a_method_of_a_user_class_is_part_of_the_key(tmp_path):
    ns = {"W": 2, "__name__": "__main__"}  # as in a notebook
    exec("class Model:\n    def score(self, x):\n        return x * W\n\n"
         "def experiment(x, seed):\n    return {'value': Model().score(x)}\n", ns)
    assert run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path).value.item() == 2
    ns["W"] = 3
    df = run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    assert not df.cached.any() and df.value.item() == 3


@pytest.mark.parametrize("body", ["globals()['W']", "int(os.environ.get('W', '2'))", "int(os.getenv('W', '2'))",
                                  "eval('W')"])
def test_reads_the_cache_cannot_key_are_refused(tmp_path, body):
    import os

    ns = {"W": 2, "os": os}
    exec(f"def experiment(x, seed):\n    return {{'value': x * {body}}}\n", ns)
    with pytest.raises(TypeError, match="which the experiment cache cannot key"):
        run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    assert run(ns["experiment"], {"x": [1]}, seeds=[0], cache_dir=False).value.item() == 2


def test_an_edited_cache_entry_is_not_served(tmp_path):
    def experiment(x, seed):
        return {"value": 0.5}

    run(experiment, {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    (entry,) = (tmp_path / "demo").glob("*.json")
    entry.write_text(entry.read_text().replace('"value": 0.5', '"value": 0.99'))
    df = run(experiment, {"x": [1]}, seeds=[0], cache_dir=tmp_path)
    assert not df.cached.any() and df.value.item() == 0.5
    assert run(experiment, {"x": [1]}, seeds=[0], cache_dir=tmp_path).cached.all()  # rewritten with its hash


def test_an_unwritable_cache_warns_once_and_keeps_every_run(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")

    def experiment(x, seed):
        return {"value": float(x + seed)}

    with pytest.warns(RuntimeWarning, match="cannot be written") as caught:
        df = run(experiment, {"x": [1, 2]}, seeds=[0, 1], cache_dir=blocker)
    assert len(caught) == 1 and df.value.tolist() == [1.0, 2.0, 2.0, 3.0] and not df.cached.any()
