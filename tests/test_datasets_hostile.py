"""Issue 32, "Hostile input, round two": decompression bombs, unbounded downloads, the prepared cache's
trust boundary (``datasets verify --deep``), "found" means "loads", the Beijing CSV's sha256, a bad mirror
record, and the commands the messages suggest. Every bomb here is small (a few MB at most) and the bounds
are checked with tracemalloc, so the tests are fast and cannot exhaust memory."""

from __future__ import annotations

import hashlib
import json
import re
import tracemalloc
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dmlib import cli
from dmlib import datasets as ds

from builders import lying_zip, make_imdb_tree, zeros_gzip
from test_datasets import make_prsa_csv, small_imdb  # noqa: F401  (fixture)
from test_datasets_tables import ml_files  # noqa: F401  (fixture)

BOMB = 64 << 20  # what each bomb inflates to: 64 MiB, from well under 100 KB
BOUND = 8 << 20  # what reading one may cost at most (Python allocations, measured by tracemalloc)


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python's traced allocations inside the block, in bytes (in ``result[0]`` afterwards)."""
    result = [0]
    tracemalloc.start()
    try:
        yield result
    finally:
        result[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def status_of(name: str) -> tuple[str, str]:
    row = ds.status().set_index("dataset").loc[name]
    return row["status"], row["where"]


# ----------------------------------------------------------------- item 1: decompression bombs


def test_gzip_bomb_stops_at_the_official_size(fashion_mirror, capsys):
    """A t10k-labels .gz that inflates far beyond the official size is refused at that size, by the loader
    and by `datasets verify`, with a message saying it is not the official file."""
    mirror, _ = fashion_mirror
    (mirror / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(zeros_gzip(BOMB))
    with peak_memory() as peak, pytest.warns(UserWarning, match="not the official"):
        with pytest.raises(ds.DatasetUnavailableError, match="not the official file") as err:
            ds.load_fashion_mnist()
    assert peak[0] < BOUND, f"{peak[0]:,} bytes"
    assert err.value.corrupt and "t10k-labels-idx1-ubyte.gz (mirror: CORRUPT" in str(err.value)
    with peak_memory() as peak, pytest.warns(UserWarning, match="not the official"):
        assert cli.datasets_cmd("verify", []) == 1
    assert peak[0] < BOUND, f"{peak[0]:,} bytes"
    assert re.search(r"fashion-mnist\s+corrupt", capsys.readouterr().out)


def test_zip_member_that_lies_about_its_size_is_read_bounded(tmp_path, monkeypatch, ml_files):
    """An ml-100k.zip whose u.genre claims the official size but inflates to 64 MiB is refused while
    reading at most the official size (the header is not trusted to bound the reading)."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    others = {f"ml-100k/{n}": d for n, d in ml_files.items() if n != "u.genre"}
    lying_zip(mirror / "ml-100k.zip", others, "ml-100k/u.genre", ml_files["u.genre"], BOMB)
    assert (mirror / "ml-100k.zip").stat().st_size < 100_000
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with peak_memory() as peak, pytest.warns(UserWarning, match="not the official"):
        with pytest.raises(ds.DatasetUnavailableError, match="not the official file"):
            ds.genres()
    assert peak[0] < BOUND, f"{peak[0]:,} bytes"
    with peak_memory() as peak, pytest.warns(UserWarning, match="not the official"):
        assert status_of("movielens-100k")[0] == "corrupt"
    assert peak[0] < BOUND, f"{peak[0]:,} bytes"


def test_zip_member_larger_than_the_official_file_is_refused_from_its_header(tmp_path, monkeypatch, ml_files):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-100k.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in ml_files.items():
            zf.writestr(f"ml-100k/{name}", data if name != "u.genre" else bytes(BOMB))
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    with peak_memory() as peak, pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError) as err:
        ds.genres()
    assert peak[0] < BOUND and f"{BOMB:,} bytes" in str(err.value)


def _jena_zip(path: Path, rows: int) -> Path:
    header = ",".join(f'"{c}"' if " " in c else c for c in ds.JENA_HEADER) + "\n"
    row = "01.01.2009 00:10:00," + ",".join(["996.52"] * 14) + "\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(ds.JENA_FILE, header + row * rows)
    return path


@pytest.fixture
def no_csv_parsing(monkeypatch) -> Callable[[], None]:
    """Make pandas.read_csv fail the test while active; call the returned function to allow it again."""
    original = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: pytest.fail("a CSV was parsed"))
    return lambda: monkeypatch.setattr(pd, "read_csv", original)


def test_optional_jena_is_not_parsed_for_its_status(tmp_path, monkeypatch, no_csv_parsing, capsys):
    """The status of an optional dataset says whether a plausible copy is there, without parsing it;
    `status`, `verify` and `doctor` stay cheap even for a zip holding far too many rows."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    monkeypatch.setattr(ds, "JENA_ROWS", 30)
    _jena_zip(mirror / ds.JENA_ZIP, 30)
    state, where = status_of("jena-climate")
    assert state == "present (optional)" and str(mirror / ds.JENA_ZIP) in where and "when loaded" in where
    monkeypatch.setattr(ds, "JENA_MAX_BYTES", 100_000, raising=False)
    _jena_zip(mirror / ds.JENA_ZIP, 200_000)  # 20 MB of rows in a small zip: refused from its header
    with peak_memory() as peak, pytest.warns(UserWarning, match="not the official"):
        assert status_of("jena-climate")[0] == "corrupt (optional)"
        cli.datasets_cmd("verify", [])
    assert peak[0] < BOUND, f"{peak[0]:,} bytes"
    assert "corrupt (optional)" in capsys.readouterr().out
    no_csv_parsing()
    with peak_memory() as peak, pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError,
                                                                         match="not the official"):
        ds.load_jena_climate()
    assert peak[0] < BOUND, f"{peak[0]:,} bytes"


@pytest.mark.parametrize("copy", ["csv", "lying zip"])
def test_jena_loader_reads_at_most_its_cap(tmp_path, monkeypatch, copy):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    monkeypatch.setattr(ds, "JENA_ROWS", 30)
    monkeypatch.setattr(ds, "JENA_MAX_BYTES", 100_000, raising=False)
    if copy == "csv":
        (mirror / ds.JENA_FILE).write_bytes(b"x" * BOMB)
    else:
        lying_zip(mirror / ds.JENA_ZIP, {}, ds.JENA_FILE, b"Date Time\n", BOMB)
    with peak_memory() as peak, pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError,
                                                                         match="not the official"):
        ds.load_jena_climate()
    assert peak[0] < BOUND, f"{peak[0]:,} bytes"


# ----------------------------------------------------------------- item 4: downloads are capped


class JunkServer:
    """Stands in for ``urllib.request.urlopen``: serves ``size`` junk bytes and counts what was read."""

    def __init__(self, size: int, content_length: int | None = None) -> None:
        self.size, self.served, self.urls = size, 0, []
        self.headers = {} if content_length is None else {"Content-Length": str(content_length)}

    def __call__(self, url: str, timeout: float | None = None) -> "JunkServer":
        self.urls.append(url)
        return self

    def __enter__(self) -> "JunkServer":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.served if n < 0 else min(n, self.size - self.served)
        self.served += n
        return b"x" * n


DOWNLOADS: dict[str, tuple[Callable[[], object], str, Callable[[], dict[str, object]]]] = {
    "beijing-pm25": (lambda: ds.load_beijing_pm25(), "BEIJING_URL", lambda: {"BEIJING_BYTES": 1000}),
    "fashion-mnist": (lambda: ds.load_fashion_mnist(), "FASHION_MNIST_URL",
                      lambda: {"FASHION_MNIST_GZ_BYTES": dict.fromkeys(ds.FASHION_MNIST_FILES, 1000)}),
    "imdb": (lambda: ds.load_imdb(), "IMDB_URL", lambda: {"IMDB_ARCHIVE_BYTES": 1000}),
    "movielens-100k": (lambda: ds.load_movielens("u1"), "MOVIELENS_URL", lambda: {"MOVIELENS_ZIP_BYTES": 1000}),
    "adbench": (lambda: ds.load_adbench("cardio"), "ADBENCH_URL", lambda: {"ADBENCH_FILES": {
        **ds.ADBENCH_FILES, "cardio": ("6_cardio.npz", 1000, "0" * 64, (30, 4), 3)}}),
    "jena-climate": (lambda: ds.load_jena_climate(), "JENA_URL", lambda: {"JENA_ZIP_BYTES": 1000}),
}


@pytest.mark.parametrize("name", list(DOWNLOADS))
def test_download_stops_at_the_official_size_plus_a_margin(name, monkeypatch):
    """Offline: a fake server serves 16 MB of junk where about 1,000 bytes are expected; the download
    stops at the cap, says so, and leaves nothing in the cache."""
    load, url_name, sizes = DOWNLOADS[name]
    for constant, value in sizes().items():
        monkeypatch.setattr(ds, constant, value, raising=False)
    server = JunkServer(16 << 20)
    monkeypatch.setattr(urllib.request, "urlopen", server)
    monkeypatch.setattr(ds, url_name, "https://example.invalid/" + ("" if url_name.startswith("FASHION") else "f"))
    monkeypatch.setenv("DMLIB_OFFLINE", "0")
    with pytest.raises(ds.DatasetUnavailableError, match="stopped") as err:
        load()
    assert server.urls and server.served <= 200_000, f"{server.served:,} bytes read"
    assert "nothing was saved" in str(err.value)
    assert not ds.cache_dir().exists() or not [p for p in ds.cache_dir().rglob("*") if p.is_file()]


def test_download_announcing_too_many_bytes_is_not_read(monkeypatch):
    server = JunkServer(16 << 20, content_length=1 << 30)
    monkeypatch.setattr(urllib.request, "urlopen", server)
    monkeypatch.setattr(ds, "BEIJING_URL", "https://example.invalid/f.csv")
    monkeypatch.setenv("DMLIB_OFFLINE", "0")
    with pytest.raises(ds.DatasetUnavailableError, match="1,073,741,824 bytes"):
        ds.load_beijing_pm25()
    assert server.served == 0


# ----------------------------------------------------------------- item 5: the trust boundary, verify --deep


def forge(key: str, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    """Rewrite a prepared file with ``change(arrays)`` and its content hash recomputed: what anyone who can
    write the cache folder can do (the cache is trusted like the virtual environment)."""
    with np.load(ds._prepared_path(key), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "__dmlib_meta__"}
        meta = json.loads(z["__dmlib_meta__"].tobytes())
    change(arrays)
    ds._save_prepared(key, arrays, meta["sources"])


def _deep_rows(out: str) -> dict[str, str]:
    return {m.group(1): line for line in out.splitlines() if (m := re.search(r"\b([\w-]+)\.npz\b", line))}


def test_verify_deep_rederives_prepared_files_and_rebuilds_forged_ones(fashion_mirror, small_imdb, monkeypatch,
                                                                       capsys):
    mirror, arrays = fashion_mirror
    make_imdb_tree(mirror)
    monkeypatch.setattr(ds, "DATASETS", {n: ds.DATASETS[n] for n in ("fashion-mnist", "imdb", "mnist1d")})
    (_, y_train), _ = ds.load_fashion_mnist()
    (_, y_imdb), _ = ds.load_imdb()
    (_, y_1d), _ = ds.load_mnist1d()
    forge("fashion-mnist", lambda a: a.update(y_train=(a["y_train"] + 1) % 10))
    forge("imdb-train", lambda a: a.update(labels=(1 - a["labels"]).astype(a["labels"].dtype)))
    forge("mnist1d", lambda a: a.update(y_train=(a["y_train"] + 1) % 10))
    (_, served), _ = ds.load_fashion_mnist()  # loads trust the cache: the forgery is served...
    assert not np.array_equal(served, y_train)
    assert cli.datasets_cmd("verify", [], deep=True) == 1  # ...until verify --deep re-derives it
    out = capsys.readouterr().out
    rows = _deep_rows(out)
    for key in ("fashion-mnist", "imdb-train", "mnist1d"):
        assert "DIFFERS" in rows[key] and "rebuilt" in rows[key], out
    assert "matches" in rows["imdb-test"]
    np.testing.assert_array_equal(ds.load_fashion_mnist()[0][1], y_train)
    np.testing.assert_array_equal(ds.load_imdb()[0][1], y_imdb)
    np.testing.assert_array_equal(ds.load_mnist1d()[0][1], y_1d)
    assert cli.datasets_cmd("verify", [], deep=True) == 0
    assert all("matches" in row for row in _deep_rows(capsys.readouterr().out).values())


def test_verify_deep_without_the_sources_says_it_cannot_rederive(fashion_mirror, monkeypatch, capsys):
    mirror, _ = fashion_mirror
    monkeypatch.setattr(ds, "DATASETS", {"fashion-mnist": ds.DATASETS["fashion-mnist"]})
    ds.load_fashion_mnist()
    monkeypatch.delenv("DMLIB_DATA_MIRRORS")
    assert cli.datasets_cmd("verify", [], deep=True) == 1
    row = _deep_rows(capsys.readouterr().out)["fashion-mnist"]
    assert "cannot be re-derived" in row and "use-mirror" in row


# ----------------------------------------------------------------- item 7: "found" means "loads"


def _damage_prepared(key: str, change: Callable[[dict[str, np.ndarray]], None]) -> None:
    """Change a prepared file's arrays but keep its stored metadata (its content hash then disagrees)."""
    path = ds._prepared_path(key)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_a_prepared_file_that_fails_its_hash_is_not_found(fashion_mirror, small_imdb, capsys):
    mirror, _ = fashion_mirror
    make_imdb_tree(mirror)
    ds.load_fashion_mnist()
    ds.load_imdb()
    for f in (mirror / "fashion-mnist").iterdir():
        f.unlink()
    import shutil

    shutil.rmtree(mirror / "aclImdb")
    assert status_of("fashion-mnist")[0] == "found" and status_of("imdb")[0] == "found"  # the cache alone loads
    _damage_prepared("fashion-mnist", lambda a: a.update(y_train=(a["y_train"] + 1) % 10))
    _damage_prepared("imdb-test", lambda a: a.update(labels=1 - a["labels"]))
    with pytest.warns(UserWarning, match="content hash"):
        assert status_of("fashion-mnist")[0] == "corrupt"
        assert status_of("imdb")[0] == "corrupt"
        assert cli.datasets_cmd("verify", []) == 1
    with pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError):
        ds.load_fashion_mnist()  # and indeed it does not load


# ----------------------------------------------------------------- item 8: Beijing by its sha256


@pytest.fixture
def official_prsa(tmp_path, monkeypatch) -> tuple[Path, bytes]:
    """A mirror holding a PRSA CSV written as UCI's (CRLF, integer pm2.5 with NA), whose size and sha256
    are patched in as the official ones; data row 29 has TEMP -5, row 41 pm2.5 12, Is and Ir differ."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    path = make_prsa_csv(mirror / ds.BEIJING_FILE)
    df = pd.read_csv(path, na_values=["NA"], keep_default_na=False)
    df["pm2.5"] = df["pm2.5"].astype("Int64")
    df["TEMP"] = df["TEMP"].astype(int)
    df.loc[28, "TEMP"] = -5
    df.loc[40, "pm2.5"] = 12
    df["Is"], df["Ir"] = np.arange(len(df)) % 3, np.arange(len(df)) % 5
    data = df.to_csv(index=False, na_rep="NA", lineterminator="\r\n").encode()
    path.write_bytes(data)
    monkeypatch.setattr(ds, "BEIJING_SHA256", hashlib.sha256(data).hexdigest(), raising=False)
    monkeypatch.setattr(ds, "BEIJING_BYTES", len(data), raising=False)
    monkeypatch.setenv("DMLIB_DATA_MIRRORS", str(mirror))
    return path, data


def _edit(data: bytes, row: int, column: str, old: str, new: str) -> bytes:
    lines = data.split(b"\r\n")
    header = lines[0].decode().split(",")
    cells = lines[row].decode().split(",")
    assert cells[header.index(column)] == old, cells
    cells[header.index(column)] = new
    lines[row] = ",".join(cells).encode()
    return b"\r\n".join(lines)


def _swap_is_ir(data: bytes) -> bytes:
    lines = data.split(b"\r\n")
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(b",")
        if len(cells) == 13:
            cells[11], cells[12] = cells[12], cells[11]
        out.append(b",".join(cells))
    return b"\r\n".join(out)


def test_the_official_beijing_file_is_verified_by_its_sha256(official_prsa, capsys):
    path, data = official_prsa
    assert ds.load_beijing_pm25().shape == (ds.BEIJING_ROWS, 8)
    state, where = status_of("beijing-pm25")
    assert state == "found" and "sha256 of the official file" in where
    assert cli.datasets_cmd("verify", []) == 1  # others are missing; the check passed is shown
    assert "sha256 of the official file" in capsys.readouterr().out
    path.write_bytes(data.replace(b"\r\n", b"\n"))  # other line endings, same content
    assert ds.load_beijing_pm25().shape == (ds.BEIJING_ROWS, 8)
    assert "other line endings" in status_of("beijing-pm25")[1]


@pytest.mark.parametrize("edit", ["TEMP -5 -> 45 in row 29", "Is and Ir swapped", "one more missing pm2.5"])
def test_plausible_edits_of_the_official_beijing_file_are_refused(official_prsa, edit):
    path, data = official_prsa
    edited = {"TEMP -5 -> 45 in row 29": lambda: _edit(data, 29, "TEMP", "-5", "45"),
              "Is and Ir swapped": lambda: _swap_is_ir(data),
              "one more missing pm2.5": lambda: _edit(data, 41, "pm2.5", "12", "NA")}[edit]()
    assert len(edited) == len(data) and edited != data
    path.write_bytes(edited)
    with pytest.warns(UserWarning), pytest.raises(ds.DatasetUnavailableError, match="sha256") as err:
        ds.load_beijing_pm25()
    assert "not the official file" in str(err.value)
    with pytest.warns(UserWarning):
        assert status_of("beijing-pm25")[0] == "corrupt"


def test_another_beijing_copy_passes_the_range_checks_only_and_says_so(official_prsa, capsys):
    path, data = official_prsa
    path.write_bytes(_edit(data, 29, "TEMP", "-5", "-15"))  # another size: not the official bytes
    with pytest.warns(UserWarning, match="range checks only"):
        assert ds.load_beijing_pm25()["TEMP"].iloc[28] == -15
    with pytest.warns(UserWarning, match="range checks only"):
        state, where = status_of("beijing-pm25")
    assert state == "found" and "NOT the official file" in where and "range checks only" in where
    cli.datasets_cmd("verify", [])  # verified before and unchanged: not parsed again, the check is still shown
    assert "range checks only" in capsys.readouterr().out


# ----------------------------------------------------------------- item 11: the mirror record


@pytest.mark.parametrize("record", [{"mirrors": "/tmp/mirror"}, {"mirrors": ["/ok", 3]}, {"mirrors": ["relative"]},
                                    ["/tmp/mirror"]])
def test_a_mirror_record_that_is_not_a_list_of_folders_is_refused(record):
    ds.cache_dir().mkdir(parents=True)
    (ds.cache_dir() / ds.CONFIG_FILE).write_text(json.dumps(record))
    ds.store._warned.clear()
    with pytest.warns(UserWarning) as warned:
        assert ds.mirrors() == []
    message = str(warned[0].message)
    assert str(ds.cache_dir() / ds.CONFIG_FILE) in message and "list" in message
    assert ".venv/bin/python -m dmlib datasets use-mirror PATH" in message and "forget-mirrors" in message


# ----------------------------------------------------------------- item 14 (part): the suggested commands


BARE = re.compile(r"(?<![\w/.])python -m dmlib")  # `python -m dmlib` not preceded by .venv/bin/


def test_doctor_and_verify_suggest_the_venv_python_and_use_mirror(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "nonsense")  # the doctor reports without starting a backend
    cli.doctor()
    out, err = capsys.readouterr()
    assert not BARE.search(out + err), [line for line in (out + err).splitlines() if BARE.search(line)]
    assert ".venv/bin/python -m dmlib datasets use-mirror PATH" in out
    assert cli.datasets_cmd("verify", []) == 1
    out, err = capsys.readouterr()
    assert not BARE.search(out + err), [line for line in (out + err).splitlines() if BARE.search(line)]
    assert ".venv/bin/python -m dmlib datasets use-mirror" in out + err and "make doctor" in out + err
    with pytest.raises(ds.DatasetUnavailableError) as error:
        ds.load_beijing_pm25()
    assert not BARE.search(str(error.value)) and ".venv/bin/python -m dmlib datasets use-mirror" in str(error.value)


@pytest.mark.parametrize("value, expected", [("1", True), ("y", True), ("Yes", True), (" on ", True), ("T", True),
                                             ("0", False), ("n", False), ("off", False), ("", False)])
def test_offline_accepts_the_usual_spellings(monkeypatch, value, expected):
    """Issue 32 item 13: DMLIB_OFFLINE=y counted as online."""
    monkeypatch.setenv("DMLIB_OFFLINE", value)
    assert ds.offline() is expected


def test_an_unknown_offline_value_is_refused_with_a_message(monkeypatch):
    monkeypatch.setenv("DMLIB_OFFLINE", "maybe")
    with pytest.raises(ds.DatasetError, match="DMLIB_OFFLINE='maybe' is neither yes nor no"):
        ds.offline()
