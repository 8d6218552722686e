"""The loaders' success and failure paths, on small files in the real formats."""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import time

import numpy as np
import pandas as pd
import pytest

from dmlib import datasets as ds

from builders import IMDB_SMALL, make_imdb_tree, make_tar, snapshot

FASHION_NAMES = ["x_train", "y_train", "x_test", "y_test"]


def fashion_prepared() -> dict[str, np.ndarray] | None:
    sources = {f: digest for f, (digest, _) in ds.FASHION_MNIST_FILES.items()}
    return ds._load_prepared("fashion-mnist", sources, FASHION_NAMES)


@pytest.fixture
def small_imdb(tmp_path_factory, monkeypatch):
    """The small aclImdb of builders.make_imdb_tree: its counts and the hashes of its folders."""
    monkeypatch.setattr(ds, "IMDB_COUNTS", dict(IMDB_SMALL))
    tree = make_imdb_tree(tmp_path_factory.mktemp("reference"))
    hashes = {folder: folder_hash({p.name: p.read_bytes() for p in (tree / folder).iterdir()})
              for folder in IMDB_SMALL}
    monkeypatch.setattr(ds, "IMDB_TREE_SHA256", hashes, raising=False)
    return hashes


def folder_hash(files: dict[str, bytes]) -> str:
    """The documented hash of a folder of reviews: sha256 of the sorted lines "<name>\\t<sha256>\\n"."""
    lines = "".join(f"{name}\t{hashlib.sha256(files[name]).hexdigest()}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def test_folder_hash_is_the_documented_one():
    files = {"1_9.txt": b"b", "0_8.txt": "é".encode()}
    assert ds.imdb_folder_hash(files) == folder_hash(files)


def make_prsa_csv(path, *, rows: int = 43_824, line_ending: str = "\r\n", drop_weather: bool = False,
                  set_value: tuple[str, int, str] | None = None):
    """A PRSA-shaped CSV with values in the real ranges: the real header, consecutive hours from
    2010-01-01, NA in pm2.5; ``set_value=(column, row, text)`` writes one raw value."""
    when = pd.date_range("2010-01-01", periods=rows, freq="h")
    rng = np.random.default_rng(1)
    df = pd.DataFrame({
        "No": np.arange(1, rows + 1), "year": when.year, "month": when.month, "day": when.day, "hour": when.hour,
        "pm2.5": rng.integers(5, 300, rows).astype(float), "DEWP": rng.integers(-30, 25, rows),
        "TEMP": rng.normal(12, 10, rows).round(0).clip(-19, 42), "PRES": rng.integers(990, 1040, rows),
        "cbwd": rng.choice(["NW", "SE", "cv", "NE"], rows), "Iws": rng.random(rows).round(2) * 50,
        "Is": 0, "Ir": 0,
    })
    df.loc[:23, "pm2.5"] = np.nan
    if drop_weather:
        df.loc[100, "TEMP"] = np.nan
    if set_value is not None:
        df[set_value[0]] = df[set_value[0]].astype(object)
        df.loc[set_value[1], set_value[0]] = set_value[2]
    path.write_bytes(df.to_csv(index=False, na_rep="NA", lineterminator=line_ending).encode())
    return path


# ----------------------------------------------------------------- Fashion-MNIST

def test_fashion_loads_from_mirror_and_never_writes_there(fashion_mirror):
    mirror, arrays = fashion_mirror
    before = snapshot(mirror)
    (x_train, y_train), (x_test, y_test) = ds.load_fashion_mnist()
    assert x_train.shape == (12, 28, 28) and x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert snapshot(mirror) == before


def test_fashion_second_load_uses_prepared_cache(fashion_mirror):
    mirror, arrays = fashion_mirror
    ds.load_fashion_mnist()
    for f in (mirror / "fashion-mnist").iterdir():  # the sources are gone; the prepared cache remains
        f.unlink()
    start = time.perf_counter()
    (x_train, _), _ = ds.load_fashion_mnist()
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])


@pytest.mark.parametrize("damage", ["flip a data byte", "truncate"])
def test_corrupt_prepared_cache_is_detected_and_rebuilt(fashion_mirror, damage):
    ds.load_fashion_mnist()
    prepared = ds._prepared_path("fashion-mnist")
    data = bytearray(prepared.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 3] ^= 0xFF
    prepared.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="damaged"):
        assert fashion_prepared() is None
    with pytest.warns(UserWarning, match="damaged"):
        (x_train, _), _ = ds.load_fashion_mnist()  # rebuilt from the verified source files
    assert fashion_prepared() is not None and x_train.shape == (12, 28, 28)


def test_checksum_mismatch_falls_through_to_next_source(fashion_mirror, tmp_path, monkeypatch):
    mirror, arrays = fashion_mirror
    bad = tmp_path / "bad-mirror" / "fashion-mnist"
    bad.mkdir(parents=True)
    for name in ds.FASHION_MNIST_FILES:  # same format, other content
        (bad / name).write_bytes(gzip.compress(gzip.decompress((mirror / "fashion-mnist" / name).read_bytes())[:-1] + b"\x01"))
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", os.pathsep.join([str(bad.parent), str(mirror)]))
    with pytest.warns(UserWarning, match="corrupt"):
        (x_train, _), _ = ds.load_fashion_mnist()
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"])


def test_truncated_gzip_offline_is_a_clear_error(fashion_mirror):
    mirror, _ = fashion_mirror
    f = mirror / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:200])
    with pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError) as err:
        ds.load_fashion_mnist()
    msg = str(err.value)
    assert "CORRUPT" in msg and "cannot decompress" in msg and err.value.corrupt
    assert "python -m dmlib datasets fetch fashion-mnist" in msg


def test_offline_and_missing_names_every_place_and_the_fix(tmp_path, monkeypatch):
    mirror = tmp_path / "empty-mirror"
    mirror.mkdir()
    system = tmp_path / "usr-share"
    monkeypatch.setattr(ds, "SYSTEM_DIRS", {"fashion-mnist": [system]})
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with pytest.raises(ds.DatasetUnavailableError) as err:
        ds.load_fashion_mnist()
    msg = str(err.value)
    for place in (mirror / "fashion-mnist", ds.cache_dir() / "fashion-mnist", system):
        assert str(place / "train-images-idx3-ubyte.gz") in msg
    assert "DMLIB_OFFLINE is set" in msg
    assert "python -m dmlib datasets fetch fashion-mnist" in msg and "DMLIB_DATA_MIRRORS" in msg
    assert not err.value.corrupt


def test_no_network_no_mirror_fails_clearly(monkeypatch):
    """Online but unreachable (no network): the download error is reported, not a traceback."""
    monkeypatch.setenv("DMLIB_OFFLINE", "0")
    monkeypatch.setattr(ds, "BEIJING_URL", "http://127.0.0.1:9/none.csv")
    with pytest.raises(ds.DatasetUnavailableError, match="download failed") as err:
        ds.load_beijing_pm25()
    assert "python -m dmlib datasets fetch beijing-pm25" in str(err.value)
    assert not list(ds.cache_dir().rglob("*.part"))


def test_system_folder_is_searched(fashion_mirror, monkeypatch):
    mirror, _ = fashion_mirror
    monkeypatch.delenv("DMLIB_DATA_MIRRORS")
    monkeypatch.setattr(ds, "SYSTEM_DIRS", {"fashion-mnist": [mirror / "fashion-mnist"]})
    (x_train, _), _ = ds.load_fashion_mnist()
    assert x_train.shape == (12, 28, 28)


def test_download_is_verified_and_atomic(fashion_mirror, monkeypatch):
    mirror, _ = fashion_mirror
    monkeypatch.delenv("DMLIB_DATA_MIRRORS")
    monkeypatch.setenv("DMLIB_OFFLINE", "0")
    monkeypatch.setattr(ds, "FASHION_MNIST_URL", (mirror / "fashion-mnist").as_uri() + "/")
    (x_train, _), _ = ds.load_fashion_mnist()
    cached = ds.cache_dir() / "fashion-mnist"
    assert sorted(p.name for p in cached.iterdir()) == sorted(ds.FASHION_MNIST_FILES)
    assert x_train.shape == (12, 28, 28)


def test_corrupt_download_saves_nothing_and_corrupt_cache_is_replaced(fashion_mirror, tmp_path, monkeypatch):
    mirror, _ = fashion_mirror
    monkeypatch.delenv("DMLIB_DATA_MIRRORS")
    monkeypatch.setenv("DMLIB_OFFLINE", "0")
    name = "t10k-labels-idx1-ubyte.gz"
    cached = ds.cache_dir() / "fashion-mnist" / name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")  # a corrupt cached file
    bad_server = tmp_path / "bad-server"
    bad_server.mkdir()
    for n in ds.FASHION_MNIST_FILES:
        (bad_server / n).write_bytes(b"not gzip")
    monkeypatch.setattr(ds, "FASHION_MNIST_URL", bad_server.as_uri() + "/")
    with pytest.raises(ds.DatasetUnavailableError, match="nothing was saved"):
        ds.load_fashion_mnist()
    assert not list(cached.parent.glob("*.part")) and cached.read_bytes() == b"garbage"
    monkeypatch.setattr(ds, "FASHION_MNIST_URL", (mirror / "fashion-mnist").as_uri() + "/")
    with pytest.warns(UserWarning, match="corrupt"):
        ds.load_fashion_mnist()
    assert gzip.decompress(cached.read_bytes())  # replaced by the verified download


def test_read_idx_rejects_wrong_length():
    with pytest.raises(ds.CorruptFileError, match="does not match"):
        ds.read_idx(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"\x00" * 4)


# ----------------------------------------------------------------- IMDB

def test_imdb_from_tree_in_mirror(tmp_path, small_imdb, monkeypatch):
    mirror = tmp_path / "mirror"
    make_imdb_tree(mirror)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    before = snapshot(mirror)
    (x_train, y_train), (x_test, y_test), x_unsup = ds.load_imdb(include_unsup=True)
    assert len(x_train) == 6 and len(x_test) == 4 and len(x_unsup) == 4
    assert y_train.tolist() == [0, 0, 0, 1, 1, 1]
    assert x_train[0] == "train/neg review 0<br />ok"
    assert snapshot(mirror) == before


def test_imdb_from_repacked_archive_is_read_in_memory_not_extracted(tmp_path, small_imdb, monkeypatch):
    """Items 10 and 13: an archive is read as a stream and verified; nothing is extracted."""
    src = tmp_path / "src"
    make_imdb_tree(src)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_tar(src, mirror / "aclImdb.tar.gz")
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    before = snapshot(mirror)
    (x_train, y_train), (x_test, y_test) = ds.load_imdb()
    assert len(x_train) == 6 and y_test.tolist() == [0, 0, 1, 1]
    assert not (ds.cache_dir() / "aclImdb").exists()
    assert sorted(p.name for p in ds.cache_dir().rglob("*")) == ["dmlib-prepared", "imdb-test.npz", "imdb-train.npz"]
    assert snapshot(mirror) == before
    (mirror / "aclImdb.tar.gz").unlink()  # second load: from the prepared cache alone
    (x2, _), _ = ds.load_imdb()
    assert list(x2) == list(x_train)


def test_imdb_official_archive_is_accepted_by_its_hash_in_quick_checks(tmp_path, small_imdb, monkeypatch):
    src = tmp_path / "src"
    make_imdb_tree(src)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = make_tar(src, mirror / "aclImdb_v1.tar.gz")
    monkeypatch.setattr(ds, "IMDB_OFFICIAL_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    monkeypatch.setattr(ds, "_read_archive", lambda *a: pytest.fail("the archive was read"))
    assert ds.DATASETS["imdb"].find() == str(archive)


def test_imdb_incomplete_tree_and_truncated_archive_are_rejected(tmp_path, small_imdb, monkeypatch):
    mirror = tmp_path / "mirror"
    tree = make_imdb_tree(mirror)
    (tree / "test" / "pos" / "0_8.txt").unlink()
    src = tmp_path / "src"
    make_imdb_tree(src)
    data = make_tar(src, tmp_path / "full.tar.gz").read_bytes()
    (mirror / "aclImdb.tar.gz").write_bytes(data[: len(data) // 2])
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError) as err:
        ds.load_imdb()
    msg = str(err.value)
    assert "INCOMPLETE, test/pos/ holds 1 files, expected 2" in msg
    assert "aclImdb.tar.gz (mirror: CORRUPT" in msg
    assert "python -m dmlib datasets fetch imdb" in msg


def test_imdb_wrong_rating_for_label_is_rejected(tmp_path, small_imdb):
    tree = make_imdb_tree(tmp_path)
    (tree / "train" / "pos" / "0_8.txt").rename(tree / "train" / "pos" / "0_3.txt")
    with pytest.raises(ds.CorruptFileError, match="rating"):
        ds.verify_imdb_tree(tree)


def test_tarball_with_parent_member_is_refused_and_the_search_goes_on(tmp_path, small_imdb, monkeypatch):
    """Item 10: a poisoned mirror archive is skipped with a warning; the next mirror serves the data."""
    src = tmp_path / "src"
    make_imdb_tree(src)
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    make_tar(src, bad / "aclImdb.tar.gz", extra={"../escaped.txt": b"gotcha"})
    dest = tmp_path / "out" / "target"
    with pytest.raises(ds.UnsafeArchiveError, match=r"\.\./escaped\.txt"):
        ds.safe_extract(bad / "aclImdb.tar.gz", dest)
    assert not (tmp_path / "out" / "escaped.txt").exists() and not dest.exists()
    good = tmp_path / "good-mirror"
    make_imdb_tree(good)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(bad))
    with pytest.warns(UserWarning, match="refused"), pytest.raises(ds.DatasetUnavailableError, match="REFUSED"):
        ds.load_imdb()
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", os.pathsep.join([str(bad), str(tmp_path / "none"), str(good)]))
    (x_train, _), _ = ds.load_imdb()
    assert len(x_train) == 6
    assert not (ds.cache_dir().parent / "escaped.txt").exists() and not list(tmp_path.rglob("escaped.txt"))


@pytest.mark.parametrize("bound", ["members", "bytes", "review size"])
def test_archive_bounds_are_checked_before_reading(tmp_path, small_imdb, monkeypatch, bound):
    """Item 10: an archive far larger than aclImdb is refused from its headers, and nothing is written."""
    src = tmp_path / "src"
    make_imdb_tree(src)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    if bound == "members":
        monkeypatch.setattr(ds, "IMDB_MAX_MEMBERS", 30)
        extra = {f"aclImdb/junk/{i}.txt": b"x" for i in range(40)}
    elif bound == "bytes":
        monkeypatch.setattr(ds, "IMDB_MAX_BYTES", 100_000)
        extra = {"aclImdb/big.bin": bytes(5_000_000)}  # compresses to a few KB
    else:
        monkeypatch.setattr(ds, "IMDB_MAX_REVIEW_BYTES", 1_000)
        extra = {"aclImdb/train/pos/99_9.txt": bytes(5_000)}
    archive = make_tar(src, mirror / "aclImdb.tar.gz", extra=extra)
    assert archive.stat().st_size < 100_000
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError) as err:
        ds.load_imdb()
    assert {"members": "members", "bytes": "bytes", "review size": "not a review"}[bound] in str(err.value)
    assert not ds.cache_dir().exists() or not any(ds.cache_dir().rglob("*.txt"))
    if bound != "review size":
        with pytest.raises(ds.UnsafeArchiveError, match="refusing"):
            ds.safe_extract(archive, tmp_path / "out", max_members=30, max_bytes=100_000)
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("damage", ["edit", "empty", "symlink"])
def test_imdb_tree_is_verified_by_content(tmp_path, small_imdb, monkeypatch, damage):
    """Item 9: an edited or emptied review, or a symbolic link in a mirror tree, is refused."""
    mirror = tmp_path / "mirror"
    tree = make_imdb_tree(mirror)
    review = tree / "test" / "pos" / "1_8.txt"
    if damage == "edit":
        review.write_text(review.read_text().replace("ok", "no"))
    elif damage == "empty":
        review.write_bytes(b"")
    else:
        outside = tmp_path / "outside.txt"
        outside.write_bytes(review.read_bytes())
        review.unlink()
        review.symlink_to(outside)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with pytest.raises(ds.DatasetUnavailableError) as err:
        ds.load_imdb()
    msg = str(err.value)
    assert ("symbolic link" in msg) if damage == "symlink" else ("content of the reviews differs" in msg)
    with pytest.raises(ds.DatasetError):
        ds.verify_imdb_tree(tree)
    assert ds.status().set_index("dataset").loc["imdb", "status"] == "corrupt"


def test_tarball_with_absolute_or_link_member_is_refused(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("aclImdb/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ds.UnsafeArchiveError, match="not a plain file"):
        ds.safe_extract(archive, tmp_path / "out")


# ----------------------------------------------------------------- Beijing PM2.5

@pytest.mark.parametrize("line_ending", ["\r\n", "\n"])
def test_beijing_loads_with_either_line_ending(tmp_path, monkeypatch, line_ending):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_prsa_csv(mirror / ds.BEIJING_FILE, line_ending=line_ending)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with pytest.warns(UserWarning, match="range checks only"):  # a builder's file, not the official one
        df = ds.load_beijing_pm25()
    assert df.shape == (ds.BEIJING_ROWS, 8)
    assert isinstance(df.index, pd.DatetimeIndex) and df.index[0] == pd.Timestamp("2010-01-01")
    assert df["pm2.5"].isna().sum() == 24  # missing pm2.5 kept as NaN
    assert list(df.columns) == ["pm2.5", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(rows=ds.BEIJING_ROWS - 10), "data rows"),
    (dict(drop_weather=True), "missing weather values"),
])
def test_beijing_bad_copies_are_rejected(tmp_path, monkeypatch, kwargs, message):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    make_prsa_csv(mirror / ds.BEIJING_FILE, **kwargs)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError, match=message):
        ds.load_beijing_pm25()


def test_beijing_wrong_header_is_rejected(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ds.CorruptFileError, match="header"):
        ds._verify_beijing(path)


# ----------------------------------------------------------------- MNIST-1D and digits

def test_mnist1d_matches_the_paper_split_and_is_cached():
    (x_train, y_train), (x_test, y_test) = ds.load_mnist1d()
    assert x_train.shape == (4000, 40) and x_test.shape == (1000, 40) and x_train.dtype == np.float32
    assert set(np.unique(y_train)) == set(range(10))
    state = np.random.get_state()[1].copy()
    (x2, _), _ = ds.load_mnist1d()  # from the cache, identical
    np.testing.assert_array_equal(x_train, x2)
    np.testing.assert_array_equal(state, np.random.get_state()[1])


def test_mnist1d_shuffled_variant_is_one_fixed_permutation():
    (x, y), _ = ds.load_mnist1d()
    (xs, ys), _ = ds.load_mnist1d(shuffle_seq=True)
    np.testing.assert_array_equal(y, ys)
    assert not np.allclose(x, xs)
    perm = [int(np.argmin(np.abs(xs[:50] - x[:50, [j]]).sum(axis=0))) for j in range(40)]
    np.testing.assert_allclose(xs[:, perm], x, atol=1e-5)


def test_digits():
    X, y = ds.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)


# ----------------------------------------------------------------- status and CLI

def test_status_reports_found_and_missing(fashion_mirror):
    table = ds.status().set_index("dataset")
    assert table.loc["fashion-mnist", "status"] == "found"
    assert table.loc["beijing-pm25", "status"] == "missing"
    assert "python -m dmlib datasets fetch beijing-pm25" in table.loc["beijing-pm25", "where"]
    assert table.loc["digits", "status"] == "found"


def test_cli_datasets(fashion_mirror, capsys):
    from dmlib.cli import main

    assert main(["datasets", "list"]) == 0
    assert "fashion-mnist" in capsys.readouterr().out
    assert main(["datasets", "verify"]) == 1  # beijing and imdb are missing here
    assert main(["datasets", "fetch", "fashion-mnist"]) == 0
    assert "fashion-mnist: ready" in capsys.readouterr().out
    assert main(["datasets", "fetch", "beijing-pm25"]) == 1
    assert "python -m dmlib datasets fetch beijing-pm25" in capsys.readouterr().err
    assert main(["datasets", "fetch", "nope"]) == 2
