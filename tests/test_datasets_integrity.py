"""Issue 14, items 2, 3, 8, 11, 12, 13 and 19: the prepared cache is bound to its sources, physical
ranges, unwritable caches, optional datasets, recorded mirrors, the up-front data check, the layout."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dmlib import datasets as ds
from dmlib.cli import main

from builders import make_imdb_tree, make_tar, snapshot
from test_datasets import FASHION_NAMES, fashion_prepared, make_prsa_csv, small_imdb  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------- item 8: the prepared cache


def _rewrite_prepared(change) -> None:
    """Rewrite the prepared Fashion-MNIST file with ``change(arrays)``, keeping its stored metadata."""
    path = ds._prepared_path("fashion-mnist")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_prepared_cache_replaced_by_another_valid_npz_is_rebuilt(fashion_mirror):
    _, arrays = fashion_mirror
    ds.load_fashion_mnist()
    np.savez(ds._prepared_path("fashion-mnist"), x_train=np.zeros((4000, 40)), y_train=np.zeros(4000))
    (x_train, y_train), _ = ds.load_fashion_mnist()
    assert x_train.shape == (12, 28, 28)
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte.gz"])
    assert fashion_prepared() is not None  # and the rebuilt file is bound again


def test_prepared_cache_with_shifted_labels_is_rebuilt(fashion_mirror):
    _, arrays = fashion_mirror
    ds.load_fashion_mnist()
    _rewrite_prepared(lambda a: a.update(y_train=(a["y_train"] + 1) % 10))
    with pytest.warns(UserWarning, match="content hash differs"):
        (_, y_train), _ = ds.load_fashion_mnist()
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte.gz"])


def test_prepared_cache_with_a_missing_key_is_rebuilt_not_a_key_error(fashion_mirror):
    ds.load_fashion_mnist()
    _rewrite_prepared(lambda a: a.pop("y_test"))
    with pytest.warns(UserWarning, match="expected"):
        _, (_, y_test) = ds.load_fashion_mnist()
    assert y_test.shape == (5,)


def test_prepared_cache_built_from_other_sources_is_not_used(fashion_mirror, monkeypatch):
    """When the expected source hashes change (other files, an update), the prepared file is stale."""
    mirror, arrays = fashion_mirror
    ds.load_fashion_mnist()
    import gzip
    import hashlib

    from builders import idx_bytes

    new = (arrays["train-labels-idx1-ubyte.gz"] + 3) % 10
    raw = idx_bytes(new)
    (mirror / "fashion-mnist" / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw))
    files = dict(ds.FASHION_MNIST_FILES)
    files["train-labels-idx1-ubyte.gz"] = (hashlib.sha256(raw).hexdigest(), len(raw))
    monkeypatch.setattr(ds, "FASHION_MNIST_FILES", files)
    (_, y_train), _ = ds.load_fashion_mnist()
    np.testing.assert_array_equal(y_train, new)


# ----------------------------------------------------------------- item 11: Beijing ranges


@pytest.mark.parametrize("column, value", [("TEMP", "55"), ("PRES", "1e300"), ("Iws", "inf"), ("DEWP", "-inf"),
                                           ("pm2.5", "-5"), ("Ir", "nan"), ("cbwd", "XX")])
def test_beijing_physically_impossible_values_are_rejected(tmp_path, monkeypatch, column, value):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_prsa_csv(mirror / ds.BEIJING_FILE, set_value=(column, 500, value))
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError, match="CORRUPT") as err:
        ds.load_beijing_pm25()
    assert column in str(err.value)


def test_beijing_values_in_range_pass(tmp_path):
    path = make_prsa_csv(tmp_path / ds.BEIJING_FILE, set_value=("TEMP", 500, "42"))
    with pytest.warns(UserWarning, match="range checks only"):
        assert ds._verify_beijing(path)["TEMP"].max() == 42


# ----------------------------------------------------------------- item 12: unwritable cache


@pytest.fixture
def cache_is_a_file(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("DMLIB_CACHE", str(blocker / "cache"))
    return blocker


def test_unwritable_cache_serves_from_the_verified_mirror(fashion_mirror, cache_is_a_file, small_imdb, tmp_path,
                                                          monkeypatch, capsys):
    mirror, arrays = fashion_mirror
    make_imdb_tree(tmp_path / "src")
    make_tar(tmp_path / "src", mirror / "aclImdb.tar.gz")
    getattr(getattr(ds, "store", None), "_warned", set()).clear()  # warnings are given once per process
    with pytest.warns(UserWarning, match="DMLIB_CACHE") as record:
        (x_train, _), _ = ds.load_fashion_mnist()
        (x_imdb, _), _ = ds.load_imdb()
    assert len([w for w in record if "DMLIB_CACHE" in str(w.message)]) == 1  # one message, not one per file
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    assert len(x_imdb) == 6
    assert main(["datasets", "verify"]) == 1  # beijing is missing; no traceback
    out = capsys.readouterr()
    assert "fashion-mnist" in out.out and "beijing-pm25" in out.err
    assert main(["datasets", "fetch", "fashion-mnist", "imdb"]) == 0


def test_unwritable_cache_download_names_dmlib_cache(cache_is_a_file, monkeypatch, tmp_path, capsys):
    server = tmp_path / "server"
    server.mkdir()
    (server / ds.BEIJING_FILE).write_text("x")
    monkeypatch.setenv("DMLIB_OFFLINE", "0")
    monkeypatch.setattr(ds, "BEIJING_URL", (server / ds.BEIJING_FILE).as_uri())
    with pytest.raises(ds.DatasetUnavailableError, match="DMLIB_CACHE"):
        ds.load_beijing_pm25()
    assert main(["datasets", "fetch", "beijing-pm25"]) == 1
    assert "Set DMLIB_CACHE to a writable folder" in capsys.readouterr().err
    assert main(["datasets", "use-mirror", str(tmp_path)]) == 1
    assert "DMLIB_CACHE" in capsys.readouterr().err


# ----------------------------------------------------------------- item 13: optional datasets, verify


def test_verify_passes_when_only_an_optional_dataset_is_missing(monkeypatch, capsys):
    found = ds.DatasetInfo("needed", "a dataset the notebooks need", "CC0", lambda: None, lambda: "/somewhere")
    missing = ds.DatasetInfo("extra", "an optional one", "CC0", lambda: None,
                             lambda: (_ for _ in ()).throw(ds.DatasetUnavailableError("no extra")), optional=True)
    monkeypatch.setattr(ds, "DATASETS", {"needed": found, "extra": missing})
    assert main(["datasets", "verify"]) == 0
    out = capsys.readouterr().out
    assert "missing (optional)" in out and "Nothing was downloaded, extracted or copied" in out
    assert ds.unavailable_message() is None


def test_jena_is_registered_as_optional():
    assert ds.DATASETS["jena-climate"].optional
    assert not any(ds.DATASETS[n].optional for n in ("fashion-mnist", "imdb", "beijing-pm25", "adbench"))


def test_verify_does_not_fill_the_cache(fashion_mirror, small_imdb, tmp_path, capsys):
    mirror, _ = fashion_mirror
    make_imdb_tree(tmp_path / "src")
    make_tar(tmp_path / "src", mirror / "aclImdb.tar.gz")
    main(["datasets", "verify"])
    assert "imdb" in capsys.readouterr().out
    written = sorted(p.name for p in ds.cache_dir().rglob("*")) if ds.cache_dir().exists() else []
    assert written in ([], ["dmlib-verified.json"])  # at most the record of verified files


# ----------------------------------------------------------------- quick checks


def test_quick_checks_remember_verified_files_and_notice_changes(fashion_mirror, monkeypatch):
    mirror, _ = fashion_mirror
    assert ds.status().set_index("dataset").loc["fashion-mnist", "status"] == "found"
    with monkeypatch.context() as m:
        m.setattr(ds.fashion_mnist, "_gunzip", lambda p: pytest.fail(f"{p} was read again"))
        assert ds.status().set_index("dataset").loc["fashion-mnist", "status"] == "found"
    f = mirror / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-3])
    with pytest.warns(UserWarning, match="corrupt"):
        assert ds.status().set_index("dataset").loc["fashion-mnist", "status"] == "corrupt"


# ----------------------------------------------------------------- item 3: use-mirror


def test_use_mirror_is_remembered_without_the_environment(fashion_mirror, monkeypatch, capsys):
    mirror, arrays = fashion_mirror
    monkeypatch.delenv("DMLIB_DATA_MIRRORS")
    with pytest.raises(ds.DatasetUnavailableError):
        ds.load_fashion_mnist()
    assert main(["datasets", "use-mirror", str(mirror)]) == 0
    out = capsys.readouterr().out
    assert f"Recorded {mirror.resolve()}" in out and ds.CONFIG_FILE in out
    assert ds.mirrors() == [mirror.resolve()]
    (x_train, _), _ = ds.load_fashion_mnist()  # a new session: no DMLIB_DATA_MIRRORS, the record is read
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", "/elsewhere")
    assert ds.mirrors() == [Path("/elsewhere"), mirror.resolve()]  # the environment comes first
    assert main(["datasets", "forget-mirrors"]) == 0 and ds.mirrors() == [Path("/elsewhere")]


def test_use_mirror_bad_input(tmp_path, capsys):
    assert main(["datasets", "use-mirror", str(tmp_path / "nowhere")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert main(["datasets", "use-mirror"]) == 2
    ds.cache_dir().mkdir(parents=True)
    (ds.cache_dir() / ds.CONFIG_FILE).write_text("{not json")
    ds.store._warned.clear()
    with pytest.warns(UserWarning, match="use-mirror"):
        assert ds.mirrors() == []


# ----------------------------------------------------------------- item 2: the up-front check


def _pytest(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMLIB_", "PYTEST_"))}
    env.update(HOME=str(tmp_path), DMLIB_CACHE=str(tmp_path / "cache"), DMLIB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_session_without_data_stops_at_once_with_one_message(tmp_path):
    start = time.perf_counter()
    run = _pytest(["--collect-only", "notebooks/00_start_here.ipynb"], tmp_path)
    assert run.returncode == 4, run.stdout + run.stderr
    out = run.stdout + run.stderr
    assert out.count("The datasets the notebooks need are not available") == 1
    for needed in ("DMLIB_DATA_MIRRORS", "python -m dmlib datasets fetch", "python -m dmlib datasets use-mirror",
                   "Data, and working offline", "imdb (missing)"):
        assert needed in out
    assert time.perf_counter() - start < 120


def test_unit_tests_alone_are_not_stopped_for_missing_data(tmp_path):
    run = _pytest(["--collect-only", "tests/test_config.py"], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_unavailable_message_lists_only_the_needed_datasets(monkeypatch):
    missing = ds.DatasetInfo("needed", "x", "CC0", lambda: None,
                             lambda: (_ for _ in ()).throw(ds.DatasetUnavailableError("gone")))
    monkeypatch.setattr(ds, "DATASETS", {"needed": missing})
    message = ds.unavailable_message()
    assert message is not None and "needed (missing)" in message and "fetch needed" in message


# ----------------------------------------------------------------- item 19: one module per dataset


def test_one_module_per_dataset_and_a_registry():
    import dmlib.datasets.store as store

    assert Path(ds.__file__).name == "__init__.py" and Path(store.__file__).parent == Path(ds.__file__).parent
    modules = {name: ds.DATASETS[name].load.__module__ for name in ds.DATASETS}
    for name, module in modules.items():
        assert module.startswith("dmlib.datasets.") and module != "dmlib.datasets.store", name
    assert len({m for m in modules.values()}) >= 7
    for public in ("load_fashion_mnist", "FASHION_MNIST_CLASSES", "status", "load_imdb", "load_beijing_pm25",
                   "load_mnist1d", "load_digits", "load_jena_climate", "load_adbench", "ADBENCH_SETS",
                   "load_movielens", "load_movielens_ratings", "load_movielens_items", "load_movielens_users",
                   "DatasetUnavailableError", "cache_dir", "mirrors", "use_mirror"):
        assert hasattr(ds, public), public


def test_a_new_dataset_is_one_registration(monkeypatch, capsys):
    monkeypatch.setattr(ds, "DATASETS", dict(ds.DATASETS))
    ds.register(ds.DatasetInfo("toy", "a toy set", "CC0", lambda: None, lambda: "in memory"))
    assert ds.status().set_index("dataset").loc["toy", "status"] == "found"
    assert main(["datasets", "fetch", "toy"]) == 0 and "toy: ready" in capsys.readouterr().out


def test_setting_a_package_constant_reaches_its_module(monkeypatch):
    monkeypatch.setattr(ds, "JENA_ROWS", 30)
    assert ds.jena.JENA_ROWS == 30
    monkeypatch.undo()
    assert ds.jena.JENA_ROWS == 420_451
