"""The ADBench and MovieLens 100K loaders, on small files in the real formats (and on the real
mirror when ``DMLIB_DATA_MIRRORS`` names one holding them)."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmlib import datasets as ds

from builders import snapshot

REAL_MIRRORS = [Path(p) for p in os.environ.get("DMLIB_DATA_MIRRORS", "").split(os.pathsep) if p.strip()]


def _real_mirror(sub: str) -> Path | None:
    return next((m for m in REAL_MIRRORS if (m / sub).is_dir()), None)


# ----------------------------------------------------------------- ADBench


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.fixture
def adbench_mirror(tmp_path, monkeypatch):
    """A mirror with a small ``6_cardio.npz`` (30x4, 3 anomalies); the expected hash is patched."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), np.r_[np.zeros(27, int), np.ones(3, int)]
    data = _npz_bytes(X=X, y=y)
    mirror = tmp_path / "mirror"
    (mirror / "adbench").mkdir(parents=True)
    (mirror / "adbench" / "6_cardio.npz").write_bytes(data)
    files = dict(ds.ADBENCH_FILES)
    files["cardio"] = ("6_cardio.npz", len(data), hashlib.sha256(data).hexdigest(), (30, 4), 3)
    monkeypatch.setattr(ds, "ADBENCH_FILES", files)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    return mirror, X, y


def test_adbench_loads_verified_arrays_and_never_writes_into_the_mirror(adbench_mirror):
    mirror, X, y = adbench_mirror
    before = snapshot(mirror)
    X2, y2 = ds.load_adbench("cardio")
    assert X2.dtype == np.float64 and y2.dtype == np.int64 and X2.shape == (30, 4)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert snapshot(mirror) == before
    assert ds.ADBENCH_SETS == ("cardio", "mnist", "thyroid", "annthyroid", "satimage-2", "mammography",
                               "shuttle", "pendigits")


def test_adbench_rejects_a_changed_file_a_pickle_and_a_symlink(adbench_mirror, tmp_path, monkeypatch):
    mirror, X, y = adbench_mirror
    path = mirror / "adbench" / "6_cardio.npz"
    path.write_bytes(_npz_bytes(X=X, y=np.roll(y, 1)))  # same size, labels shifted
    with pytest.warns(UserWarning, match="corrupt"), pytest.raises(ds.DatasetUnavailableError) as err:
        ds.load_adbench("cardio")
    assert "sha256" in str(err.value) and "python -m dmlib datasets fetch adbench" in str(err.value)
    assert "DMLIB_DATA_MIRRORS" in str(err.value)
    # a file that passes the hash but needs pickle is refused by its content
    pickled = _npz_bytes(X=np.array([object()], dtype=object), y=y)
    path.write_bytes(pickled)
    files = dict(ds.ADBENCH_FILES)
    files["cardio"] = ("6_cardio.npz", len(pickled), hashlib.sha256(pickled).hexdigest(), (30, 4), 3)
    monkeypatch.setattr(ds, "ADBENCH_FILES", files)
    with pytest.warns(UserWarning, match="pickle"), pytest.raises(ds.DatasetUnavailableError):
        ds.load_adbench("cardio")
    # a symbolic link in the mirror is refused even when its target is right
    good = tmp_path / "elsewhere.npz"
    good.write_bytes(pickled)
    path.unlink()
    path.symlink_to(good)
    with pytest.raises(ds.DatasetUnavailableError, match="symbolic link"):
        ds.load_adbench("cardio")


def test_adbench_bad_names():
    with pytest.raises(ValueError, match="satimage-2"):
        ds.load_adbench("satimage")
    with pytest.raises(TypeError, match="string"):
        ds.load_adbench(3)  # type: ignore[arg-type]


@pytest.mark.skipif(_real_mirror("adbench") is None, reason="no mirror with adbench/ in DMLIB_DATA_MIRRORS")
def test_adbench_real_mirror(monkeypatch):
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(_real_mirror("adbench")))
    for name, (_, _, _, shape, anomalies) in ds.ADBENCH_FILES.items():
        X, y = ds.load_adbench(name)
        assert X.shape == shape and int(y.sum()) == anomalies, name


# ----------------------------------------------------------------- MovieLens 100K

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
          "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def _ml_files() -> dict[str, bytes]:
    """A tiny ml-100k: 3 users, 4 items, 12 ratings, folds as in the real layout."""
    rng = np.random.default_rng(3)
    ratings = [(u, i, int(rng.integers(1, 6)), 880000000 + 7 * u + i) for u in (1, 2, 3) for i in (1, 2, 3, 4)]
    files = {
        "u.genre": "".join(f"{g}|{k}\n" for k, g in enumerate(GENRES)).encode("latin-1") + b"\n",
        "u.item": "".join(
            f"{i}|{t}|{d}||http://x/{i}|" + "|".join("1" if g == i % 19 else "0" for g in range(19)) + "\n"
            for i, t, d in [(1, "Toy Story (1995)", "01-Jan-1995"), (2, "Misérables, Les (1995)", "01-Jan-1995"),
                            (3, "Heat (1995)", "15-Dec-1995"), (4, "unknown", "")]
        ).encode("latin-1"),
        "u.occupation": b"artist\nwriter\n",
        "u.user": b"1|24|M|artist|85711\n2|53|F|writer|T8H1N\n3|23|M|writer|32067\n",
    }
    lines = [f"{u}\t{i}\t{r}\t{t}\n".encode() for u, i, r, t in ratings]
    for k, fold in enumerate(ds.MOVIELENS_FOLDS):
        test = set(range(k % 4, 12, 4)) if fold.startswith("u") and fold[1].isdigit() else {0, 5, 10}
        files[f"{fold}.base"] = b"".join(line for j, line in enumerate(lines) if j not in test)
        files[f"{fold}.test"] = b"".join(line for j, line in enumerate(lines) if j in test)
    return files


@pytest.fixture
def ml_files(monkeypatch):
    files = _ml_files()
    monkeypatch.setattr(ds, "MOVIELENS_FILES", {n: (len(b), hashlib.sha256(b).hexdigest()) for n, b in files.items()})
    monkeypatch.setattr(ds, "MOVIELENS_RATINGS", 12)
    lines = files["u1.base"].splitlines(keepends=True) + files["u1.test"].splitlines(keepends=True)
    monkeypatch.setattr(ds, "MOVIELENS_SORTED_SHA256", hashlib.sha256(b"".join(sorted(lines))).hexdigest())
    return files


@pytest.fixture
def ml_mirror(tmp_path, monkeypatch, ml_files):
    mirror = tmp_path / "mirror"
    (mirror / "ml-100k").mkdir(parents=True)
    for name, data in ml_files.items():
        (mirror / "ml-100k" / name).write_bytes(data)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    return mirror


def test_movielens_folds_ratings_items_users(ml_mirror):
    before = snapshot(ml_mirror)
    train, test = ds.load_movielens("u2")
    assert list(train.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert all(t == np.int64 for t in train.dtypes) and len(train) == 9 and len(test) == 3
    ratings = ds.load_movielens_ratings()
    assert len(ratings) == 12 and ratings["user_id"].min() == 1  # 1-based ids, as in the files
    assert ratings[["user_id", "item_id"]].apply(tuple, axis=1).is_monotonic_increasing
    merged = pd.concat([train, test]).sort_values(["user_id", "item_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, ratings)
    items = ds.load_movielens_items()
    assert list(items.columns) == ["item_id", "title", "release_date", *GENRES]
    assert items.loc[1, "title"] == "Misérables, Les (1995)"  # Latin-1
    assert items.loc[2, "release_date"] == pd.Timestamp("1995-12-15") and pd.isna(items.loc[3, "release_date"])
    assert items.loc[0, "Action"] == 1 and items[GENRES].sum(axis=1).eq(1).all()
    users = ds.load_movielens_users()
    assert users["zip_code"].tolist() == ["85711", "T8H1N", "32067"] and users["age"].dtype == np.int64
    assert snapshot(ml_mirror) == before
    with pytest.raises(ValueError, match="u1, u2"):
        ds.load_movielens("u6")


def test_movielens_official_zip_is_read_in_memory(tmp_path, monkeypatch, ml_files):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-100k.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in ml_files.items():
            zf.writestr(f"ml-100k/{name}", data)
        zf.writestr("ml-100k/u.data", b"not needed\n")
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    assert len(ds.load_movielens_ratings()) == 12
    assert not ds.cache_dir().exists() or not any(ds.cache_dir().rglob("u1.base"))  # nothing extracted


def test_movielens_download_is_verified(tmp_path, monkeypatch, ml_files):
    server = tmp_path / "server"
    server.mkdir()
    with zipfile.ZipFile(server / "ml-100k.zip", "w") as zf:
        for name, data in ml_files.items():
            zf.writestr(f"ml-100k/{name}", data)
    monkeypatch.setenv("DMLIB_OFFLINE", "0")
    monkeypatch.setattr(ds, "MOVIELENS_URL", (server / "ml-100k.zip").as_uri())
    train, _ = ds.load_movielens("ua")
    assert len(train) == 9 and (ds.cache_dir() / "ml-100k.zip").is_file()


def test_movielens_changed_or_missing_files(ml_mirror, ml_files):
    path = ml_mirror / "ml-100k" / "u1.test"
    path.write_bytes(ml_files["u1.test"].replace(b"\t", b" ", 1))  # same size, other content
    with pytest.warns(UserWarning, match="corrupt"), pytest.raises(ds.DatasetUnavailableError) as err:
        ds.load_movielens("u1")
    msg = str(err.value)
    assert "u1.test (mirror: CORRUPT, sha256 does not match)" in msg and "ml-100k.zip" in msg
    assert "python -m dmlib datasets fetch movielens-100k" in msg and "DMLIB_OFFLINE is set" in msg
    (ml_mirror / "ml-100k" / "u.user").unlink()
    with pytest.raises(ds.DatasetUnavailableError, match="u.user"):
        ds.load_movielens_users()


@pytest.mark.skipif(_real_mirror("ml-100k") is None, reason="no mirror with ml-100k/ in DMLIB_DATA_MIRRORS")
def test_movielens_real_mirror(monkeypatch):
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(_real_mirror("ml-100k")))
    ratings = ds.load_movielens_ratings()
    assert ratings.shape == (100_000, 4)
    assert ratings["user_id"].nunique() == 943 and ratings["item_id"].nunique() == 1682
    for fold in ds.MOVIELENS_FOLDS:
        train, test = ds.load_movielens(fold)
        assert len(train) + len(test) == 100_000
    items, users = ds.load_movielens_items(), ds.load_movielens_users()
    assert items.shape == (1682, 22) and users.shape == (943, 5)


def test_new_loaders_are_registered():
    table = ds.status().set_index("dataset")
    assert {"adbench", "movielens-100k"} <= set(table.index)
    assert table.loc["adbench", "status"] == "missing"
