"""Verified, offline-capable dataset loaders returning plain numpy arrays and pandas frames.

Where a file is looked for, in order:

1. the read-only mirror folders in ``DMLIB_DATA_MIRRORS`` (a path list, ``:`` separated);
2. the cache ``DMLIB_CACHE`` (default ``~/.keras/datasets``, shared with Keras);
3. system folders (Debian's ``/usr/share/datasets/...``);
4. a download from the official address into the cache (never when ``DMLIB_OFFLINE=1``).

Every file is verified before use (hashes or content checks, see each loader). A corrupt or
truncated file is reported and skipped; a download replaces a corrupt cached copy atomically
(temporary file, verify, rename). Nothing is ever written into a mirror, no pickle is ever
loaded, and archive extraction refuses members that would land outside the target folder.
Missing data raises :class:`DatasetUnavailableError` naming every place searched and the
command that fixes it. Introduced in ``00_start_here.ipynb``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")

SYSTEM_DIRS: dict[str, list[Path]] = {
    "fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")],
}


class DatasetError(Exception):
    """Base class of the dataset errors."""


class DatasetUnavailableError(DatasetError):
    """No verified copy of a dataset could be found or downloaded.

    Attributes:
        searched: every place tried, with what was found there.
        corrupt: True when at least one copy was found but failed its check.
    """

    searched: list[str] = []
    corrupt: bool = False


class CorruptFileError(DatasetError):
    """A file exists but fails its integrity check."""


class UnsafeArchiveError(DatasetError):
    """An archive member would be written outside the extraction folder (or is a link/device)."""


# --------------------------------------------------------------------------- folders


def mirrors() -> list[Path]:
    """The read-only mirror folders named by ``DMLIB_DATA_MIRRORS`` (``os.pathsep`` separated)."""
    raw = os.environ.get("DMLIB_DATA_MIRRORS", "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def cache_dir() -> Path:
    """The writable cache folder: ``DMLIB_CACHE``, default ``~/.keras/datasets`` (shared with Keras)."""
    return Path(os.environ.get("DMLIB_CACHE") or Path.home() / ".keras" / "datasets").expanduser()


def offline() -> bool:
    """True when ``DMLIB_OFFLINE`` is set to 1/true/yes: never download."""
    return os.environ.get("DMLIB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _places(subdir: str, filename: str) -> list[tuple[str, Path]]:
    """Every (kind, path) where ``filename`` may be, in search order, without duplicates."""
    places: list[tuple[str, Path]] = []
    for m in mirrors():
        places += [("mirror", m / subdir / filename), ("mirror", m / filename)]
    places.append(("cache", cache_dir() / subdir / filename))
    places += [("system", d / filename) for d in SYSTEM_DIRS.get(subdir, [])]
    seen: set[Path] = set()
    unique = []
    for kind, path in places:
        if path not in seen:
            seen.add(path)
            unique.append((kind, path))
    return unique


def _fix_hint(name: str, filenames: list[str]) -> str:
    return (
        f"To fix: with internet, run `python -m dmlib datasets fetch {name}`; offline, point "
        f"DMLIB_DATA_MIRRORS at a folder holding {' and '.join(filenames)} "
        f"(e.g. `export DMLIB_DATA_MIRRORS=/path/to/shared/datasets`)."
    )


def _unavailable(name: str, filenames: list[str], searched: list[str]) -> DatasetUnavailableError:
    lines = [f"Dataset {name!r} is not available. Searched:"]
    lines += [f"  - {s}" for s in searched]
    lines.append(_fix_hint(name, filenames))
    err = DatasetUnavailableError("\n".join(lines))
    err.searched = list(searched)
    err.corrupt = any("CORRUPT" in s or "INCOMPLETE" in s for s in searched)
    return err


def _download(url: str, dest: Path, verify: Callable[[Path], T]) -> T:
    """Download ``url`` to ``dest`` atomically: temporary file, verify, then rename over ``dest``."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {dest.name}") as bar:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
        result = verify(tmp)
        os.replace(tmp, dest)
        return result
    finally:
        tmp.unlink(missing_ok=True)


def _search(subdir: str, filename: str, verify: Callable[[Path], T], searched: list[str]) -> tuple[Path, T] | None:
    """The first copy of ``filename`` that passes ``verify``; notes every place tried in ``searched``."""
    for kind, path in _places(subdir, filename):
        if not path.is_file():
            searched.append(f"{path} ({kind}: not there)")
            continue
        try:
            return path, verify(path)
        except CorruptFileError as err:
            searched.append(f"{path} ({kind}: CORRUPT, {err})")
            warnings.warn(f"{path} is corrupt ({err}); ignoring it and looking further.", stacklevel=3)
    return None


def _fetch(name: str, wanted: list[str], url: str | None, dest: Path, verify: Callable[[Path], T],
           searched: list[str]) -> T:
    """Download ``url`` to ``dest`` (verified, atomic), or raise the error listing ``searched``."""
    if url is None:
        raise _unavailable(name, wanted, searched)
    if offline():
        searched.append(f"{url} (download: not tried, DMLIB_OFFLINE is set)")
        raise _unavailable(name, wanted, searched)
    try:
        return _download(url, dest, verify)
    except CorruptFileError as err:
        searched.append(f"{url} (download: CORRUPT, {err}; nothing was saved)")
    except OSError as err:  # URLError is an OSError
        searched.append(f"{url} (download failed: {err})")
    raise _unavailable(name, wanted, searched)


def _locate(
    name: str,
    subdir: str,
    filename: str,
    verify: Callable[[Path], T],
    url: str | None,
) -> tuple[Path, T]:
    """Find the first copy of ``filename`` that passes ``verify``, else download it into the cache.

    Returns the path used and what ``verify`` returned (the parsed content, where verifying
    already had to read it). With ``url=None`` nothing is downloaded.
    """
    searched: list[str] = []
    found = _search(subdir, filename, verify, searched)
    if found is not None:
        return found
    dest = cache_dir() / subdir / filename
    return dest, _fetch(name, [filename], url, dest, verify, searched)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- prepared cache


def _prepared_path(key: str) -> Path:
    return cache_dir() / "dmlib-prepared" / f"{key}.npz"


def _save_prepared(key: str, arrays: dict[str, np.ndarray], source: str) -> None:
    """Save arrays as an uncompressed npz (no pickle), atomically, with a note of their source."""
    path = _prepared_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{key}.", suffix=".npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp_name, **arrays)
        os.replace(tmp_name, path)
        path.with_suffix(".json").write_text(json.dumps({"source": source}), encoding="utf-8")
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _load_prepared(key: str) -> dict[str, np.ndarray] | None:
    """Load a prepared npz, or None if it is missing or damaged (then the caller rebuilds it).

    An npz is a zip archive: every member carries a CRC-32 that is checked as it is read, so a
    damaged or truncated file is detected without hashing it all again (which would cost more
    than the load itself).
    """
    path = _prepared_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        warnings.warn(f"{path} is damaged; rebuilding it from the verified source.", stacklevel=3)
        return None


# --------------------------------------------------------------------------- Fashion-MNIST

FASHION_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# sha256 and size of the *decompressed* IDX files (Debian recompressed the .gz files, so the
# .gz bytes differ between copies while the content is identical to upstream).
FASHION_MNIST_FILES: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte.gz": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47_040_016),
    "train-labels-idx1-ubyte.gz": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60_008),
    "t10k-images-idx3-ubyte.gz": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7_840_016),
    "t10k-labels-idx1-ubyte.gz": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10_008),
}
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


def read_idx(data: bytes) -> np.ndarray:
    """Parse the bytes of an IDX file (the MNIST format) into a uint8 array.

    Raises:
        CorruptFileError: if the header or the length is wrong.
    """
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] != 0x08:
        raise CorruptFileError("not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise CorruptFileError(f"IDX length {len(data)} does not match its shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _gunzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise CorruptFileError(f"cannot decompress ({err.__class__.__name__}: {err})") from None


def _verify_fashion(filename: str) -> Callable[[Path], np.ndarray]:
    digest, size = FASHION_MNIST_FILES[filename]

    def verify(path: Path) -> np.ndarray:
        data = _gunzip(path)
        if len(data) != size:
            raise CorruptFileError(f"decompressed to {len(data):,} bytes, expected {size:,}")
        if _sha256(data) != digest:
            raise CorruptFileError("sha256 of the decompressed content does not match")
        return read_idx(data)

    return verify


def load_fashion_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load Fashion-MNIST (Xiao et al. 2017, MIT licence): 60,000 train and 10,000 test images.

    Each IDX file is verified by the sha256 of its decompressed content before use.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 images of shape (n, 28, 28) and uint8
        labels 0-9 (names in ``FASHION_MNIST_CLASSES``).

    Raises:
        DatasetUnavailableError: if no verified copy is found and none can be downloaded.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
        >>> x_train.shape, y_test.shape
        ((60000, 28, 28), (10000,))
    """
    prepared = _load_prepared("fashion-mnist")
    if prepared is not None:
        return (prepared["x_train"], prepared["y_train"]), (prepared["x_test"], prepared["y_test"])
    arrays = {}
    for filename in FASHION_MNIST_FILES:
        _, arrays[filename] = _locate(
            "fashion-mnist", "fashion-mnist", filename, _verify_fashion(filename), FASHION_MNIST_URL + filename
        )
    out = {
        "x_train": arrays["train-images-idx3-ubyte.gz"],
        "y_train": arrays["train-labels-idx1-ubyte.gz"],
        "x_test": arrays["t10k-images-idx3-ubyte.gz"],
        "y_test": arrays["t10k-labels-idx1-ubyte.gz"],
    }
    _save_prepared("fashion-mnist", out, source="verified IDX files")
    return (out["x_train"], out["y_train"]), (out["x_test"], out["y_test"])


# --------------------------------------------------------------------------- IMDB (aclImdb)

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_OFFICIAL_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
IMDB_ARCHIVES = ("aclImdb_v1.tar.gz", "aclImdb.tar.gz")
# Expected number of reviews per folder of the aclImdb tree (tests shrink these).
IMDB_COUNTS: dict[str, int] = {
    "train/pos": 12_500, "train/neg": 12_500, "test/pos": 12_500, "test/neg": 12_500, "train/unsup": 50_000,
}
_IMDB_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")


def _imdb_rating_ok(folder: str, rating: int) -> bool:
    label = folder.split("/")[1]
    return {"pos": 7 <= rating <= 10, "neg": 1 <= rating <= 4, "unsup": rating == 0}[label]


def verify_imdb_tree(root: Path) -> None:
    """Check an ``aclImdb/`` tree by content: file counts, names ``<id>_<rating>.txt``, ratings per label.

    Raises:
        CorruptFileError: naming the first problem found.
    """
    for folder, count in IMDB_COUNTS.items():
        d = root / folder
        if not d.is_dir():
            raise CorruptFileError(f"{folder}/ is missing")
        names = os.listdir(d)
        if len(names) != count:
            raise CorruptFileError(f"{folder}/ holds {len(names):,} files, expected {count:,}")
        for n in names:
            m = _IMDB_NAME.match(n)
            if not m or not _imdb_rating_ok(folder, int(m.group(2))):
                raise CorruptFileError(f"{folder}/{n} is not a review file with a rating that fits its label")


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar archive into ``dest``, refusing any member that would escape it.

    Absolute paths, ``..`` components, links and device files are refused before anything
    is written.

    Raises:
        UnsafeArchiveError: naming the offending member.
        CorruptFileError: if the archive cannot be read (truncated, not a tar.gz).
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for m in members:
                p = PurePosixPath(m.name)
                if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(
                        f"{archive.name}: member {m.name!r} would be written outside {dest} or is not a "
                        "plain file; refusing to extract anything from this archive"
                    )
            dest.mkdir(parents=True, exist_ok=True)
            for m in members:
                target = dest / m.name
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        if isinstance(err, UnsafeArchiveError):
            raise
        raise CorruptFileError(f"cannot read the archive ({err.__class__.__name__}: {err})") from None


def _imdb_tree_from_archive(archive: Path) -> Path:
    """Extract an aclImdb archive into the cache and verify the tree; returns the tree."""
    official = _file_digest(archive, "md5") == IMDB_OFFICIAL_MD5
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".aclImdb-", dir=cache))
    try:
        safe_extract(archive, tmp)
        tree = tmp / "aclImdb"
        if not official:  # a re-packed archive is accepted by its content
            verify_imdb_tree(tree)
        final = cache / "aclImdb"
        if final.exists():
            shutil.rmtree(final)
        os.replace(tree, final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _find_imdb_tree(download: bool = True) -> Path:
    """An ``aclImdb/`` tree that passes the content checks, extracting an archive if needed."""
    searched: list[str] = []
    for kind, tree in [("mirror", m / "aclImdb") for m in mirrors()] + [("cache", cache_dir() / "aclImdb")]:
        if not tree.is_dir():
            searched.append(f"{tree}/ ({kind}: not there)")
            continue
        try:
            verify_imdb_tree(tree)
            return tree
        except CorruptFileError as err:
            searched.append(f"{tree}/ ({kind}: INCOMPLETE, {err})")
    for filename in IMDB_ARCHIVES:
        found = _search("", filename, _imdb_tree_from_archive, searched)
        if found is not None:
            return found[1]
    wanted = ["aclImdb.tar.gz (or aclImdb_v1.tar.gz, or an extracted aclImdb/ folder)"]
    url = IMDB_URL if download else None
    return _fetch("imdb", wanted, url, cache_dir() / IMDB_ARCHIVES[0], _imdb_tree_from_archive, searched)


def _read_reviews(tree: Path, folders: list[str]) -> tuple[list[str], np.ndarray]:
    texts, labels = [], []
    for folder in folders:
        label = {"pos": 1, "neg": 0, "unsup": -1}[folder.split("/")[1]]
        for n in sorted(os.listdir(tree / folder)):
            texts.append((tree / folder / n).read_text(encoding="utf-8"))
            labels.append(label)
    return texts, np.asarray(labels, dtype=np.int8)


def _pack_texts(texts: list[str]) -> dict[str, np.ndarray]:
    """Pack strings as one UTF-8 byte buffer plus offsets: pickle-free and fast to load."""
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return {"blob": np.frombuffer(b"".join(encoded), dtype=np.uint8), "offsets": offsets}


def _unpack_texts(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = blob.tobytes()
    return np.array([raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])], dtype=object)


def _imdb_split(key: str, folders: list[str]) -> tuple[np.ndarray, np.ndarray]:
    prepared = _load_prepared(key)
    if prepared is None:
        tree = _find_imdb_tree()
        texts, labels = _read_reviews(tree, folders)
        prepared = {**_pack_texts(texts), "labels": labels}
        _save_prepared(key, prepared, source=str(tree))
    return _unpack_texts(prepared["blob"], prepared["offsets"]), prepared["labels"].astype(np.int64)


def load_imdb(
    include_unsup: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | tuple[
    tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], np.ndarray
]:
    """Load the raw reviews of the Large Movie Review Dataset (Maas et al. 2011, aclImdb v1.0).

    Accepts the official archive (verified by its md5), a re-packed archive or an extracted
    ``aclImdb/`` tree (verified by content: counts, file names, ratings per label). The first
    load parses the 50,000 (or 100,000) files into a pickle-free cache, so later loads take
    well under a second.

    Args:
        include_unsup: also return the 50,000 unlabelled training reviews.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` (plus ``x_unsup`` if asked): object arrays of
        review strings (raw, with the site's ``<br />`` line breaks) and int labels (1 positive,
        0 negative), 25,000 of each split, sorted by folder (negatives first) and file name.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_imdb()
        >>> len(x_train), y_train.mean()
        (25000, 0.5)
    """
    x_train, y_train = _imdb_split("imdb-train", ["train/neg", "train/pos"])
    x_test, y_test = _imdb_split("imdb-test", ["test/neg", "test/pos"])
    if not include_unsup:
        return (x_train, y_train), (x_test, y_test)
    x_unsup, _ = _imdb_split("imdb-unsup", ["train/unsup"])
    return (x_train, y_train), (x_test, y_test), x_unsup


# --------------------------------------------------------------------------- Beijing PM2.5

BEIJING_FILE = "PRSA_data_2010.1.1-2014.12.31.csv"
BEIJING_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/00381/" + BEIJING_FILE
BEIJING_HEADER = ["No", "year", "month", "day", "hour", "pm2.5", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir"]
BEIJING_ROWS = 43_824
BEIJING_WEATHER = ["DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir"]


def _verify_beijing(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, na_values=["NA"], keep_default_na=False)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        raise CorruptFileError(f"cannot parse as CSV ({err})") from None
    if list(df.columns) != BEIJING_HEADER:
        raise CorruptFileError(f"header is {list(df.columns)}, expected {BEIJING_HEADER}")
    if len(df) != BEIJING_ROWS:
        raise CorruptFileError(f"{len(df):,} data rows, expected {BEIJING_ROWS:,} (truncated?)")
    try:
        when = pd.to_datetime(df[["year", "month", "day", "hour"]])
    except (ValueError, TypeError) as err:
        raise CorruptFileError(f"bad dates ({err})") from None
    if when.iloc[0] != pd.Timestamp("2010-01-01 00:00") or when.iloc[-1] != pd.Timestamp("2014-12-31 23:00"):
        raise CorruptFileError(f"covers {when.iloc[0]} to {when.iloc[-1]}, expected 2010-01-01 to 2014-12-31 23:00")
    if not when.diff().iloc[1:].eq(pd.Timedelta(hours=1)).all():
        raise CorruptFileError("rows are not consecutive hours")
    missing = df[BEIJING_WEATHER].isna().sum()
    if missing.any():
        raise CorruptFileError(f"missing weather values: {missing[missing > 0].to_dict()}")
    out = df.drop(columns=["No", "year", "month", "day", "hour"]).set_index(pd.DatetimeIndex(when, name="time"))
    out["cbwd"] = out["cbwd"].astype("category")
    return out


def load_beijing_pm25() -> pd.DataFrame:
    """Load the Beijing PM2.5 hourly data (Liang et al. 2015, UCI id 381, CC BY 4.0).

    Verified by content (header, 43,824 rows, consecutive hours 2010-01-01 00:00 to
    2014-12-31 23:00, complete weather columns), so copies with other line endings pass.

    Returns:
        DataFrame indexed by hour (``DatetimeIndex`` named ``time``) with columns ``pm2.5``
        (µg/m³, 2,067 missing values kept as NaN), ``DEWP`` (dew point °C), ``TEMP`` (°C),
        ``PRES`` (hPa), ``cbwd`` (combined wind direction, categorical), ``Iws`` (cumulated
        wind speed m/s), ``Is`` and ``Ir`` (cumulated hours of snow and rain).

    Example:
        >>> df = load_beijing_pm25()
        >>> df.shape, int(df["pm2.5"].isna().sum())
        ((43824, 8), 2067)
    """
    _, df = _locate("beijing-pm25", "", BEIJING_FILE, _verify_beijing, BEIJING_URL)
    return df


# --------------------------------------------------------------------------- MNIST-1D and digits


def load_mnist1d(
    shuffle_seq: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Generate MNIST-1D (Greydanus 2024) offline with the ``mnist1d`` package's default arguments.

    4,000 training and 1,000 test sequences of length 40, 10 classes, seed 42, exactly as
    ``mnist1d.data.make_dataset(get_dataset_args())``. The result is cached (npz, no pickle).

    Args:
        shuffle_seq: the paper's shuffled-input variant: one fixed permutation of the 40 time
            steps applied to every sequence, which destroys the spatial structure.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: float32 arrays of shape (n, 40), int64 labels.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist1d()
        >>> x_train.shape, x_test.shape
        ((4000, 40), (1000, 40))
    """
    key = "mnist1d-shuffled" if shuffle_seq else "mnist1d"
    data = _load_prepared(key)
    if data is None:
        from mnist1d.data import get_dataset_args, make_dataset

        args = get_dataset_args()
        args.shuffle_seq = shuffle_seq
        state = np.random.get_state()  # make_dataset reseeds NumPy's global generator
        try:
            ds = make_dataset(args)
        finally:
            np.random.set_state(state)
        data = {"x_train": ds["x"], "y_train": ds["y"], "x_test": ds["x_test"], "y_test": ds["y_test"]}
        _save_prepared(key, data, source="mnist1d.data.make_dataset(get_dataset_args())")
    return (
        (data["x_train"].astype(np.float32), data["y_train"].astype(np.int64)),
        (data["x_test"].astype(np.float32), data["y_test"].astype(np.int64)),
    )


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes; BSD licence).

    Returns:
        ``(X, y)``: float64 pixel intensities 0-16 of shape (1797, 64) and int labels.

    Example:
        >>> X, y = load_digits(); X.shape
        (1797, 64)
    """
    from sklearn.datasets import load_digits as sk_load_digits

    X, y = sk_load_digits(return_X_y=True)
    return X, y


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DatasetInfo:
    """What the CLI and the doctor know about a dataset."""

    name: str
    description: str
    licence: str
    load: Callable[[], Any]
    find: Callable[[], str]


def _find_fashion() -> str:
    paths = {
        str(_locate("fashion-mnist", "fashion-mnist", f, _verify_fashion(f), None)[0].parent)
        for f in FASHION_MNIST_FILES
    }
    return ", ".join(sorted(paths))


def _find_imdb() -> str:
    return str(_find_imdb_tree(download=False))


def _find_beijing() -> str:
    return str(_locate("beijing-pm25", "", BEIJING_FILE, _verify_beijing, None)[0])


def _find_mnist1d() -> str:
    from importlib.metadata import version

    return f"generated offline by mnist1d {version('mnist1d')}"


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo("fashion-mnist", "Fashion-MNIST, 70,000 28x28 clothing images", "MIT", load_fashion_mnist, _find_fashion),
        DatasetInfo("imdb", "IMDB Large Movie Review Dataset v1.0 (aclImdb), raw reviews", "research use (Maas et al. 2011)", lambda: load_imdb(include_unsup=True), _find_imdb),
        DatasetInfo("beijing-pm25", "Beijing PM2.5 and weather, hourly 2010-2014", "CC BY 4.0", load_beijing_pm25, _find_beijing),
        DatasetInfo("mnist1d", "MNIST-1D, 5,000 sequences of length 40", "Apache-2.0 (generator)", lambda: (load_mnist1d(), load_mnist1d(True)), _find_mnist1d),
        DatasetInfo("digits", "scikit-learn 8x8 digits, 1,797 images", "BSD-3 (bundled)", load_digits, lambda: "bundled with scikit-learn"),
    ]
}


def status() -> pd.DataFrame:
    """One row per dataset: where a verified copy is, or why none is (no download is tried).

    Example:
        >>> status()  # doctest: +SKIP
                 dataset   status                              where
        0  fashion-mnist    found  /path/to/shared/datasets/fashion-mnist
    """
    rows = []
    for d in DATASETS.values():
        try:
            rows.append({"dataset": d.name, "status": "found", "where": d.find()})
        except DatasetUnavailableError as err:
            rows.append({"dataset": d.name, "status": "corrupt" if err.corrupt else "missing",
                         "where": f"run `python -m dmlib datasets fetch {d.name}`"})
    return pd.DataFrame(rows)


# =========================================================================== Jena Climate (optional)
# Appended by notebook 03 (issue 5): an optional alternative to Beijing PM2.5, selected by a
# parameter; no default depends on it.

JENA_FILE = "jena_climate_2009_2016.csv"
JENA_ZIP = JENA_FILE + ".zip"
JENA_URL = "https://s3.amazonaws.com/keras-datasets/" + JENA_ZIP
JENA_HEADER = [
    "Date Time", "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)", "VPact (mbar)",
    "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)", "max. wv (m/s)", "wd (deg)",
]
JENA_ROWS = 420_451  # data rows of the Max Planck Institute's 2009-2016 file (tests shrink this)
JENA_FIRST, JENA_LAST = "2009-01-01 00:10:00", "2017-01-01 00:00:00"


def _verify_jena(path: Path) -> pd.DataFrame:
    """Parse and check a Jena Climate CSV (or the zip holding it) by content."""
    import zipfile

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if PurePosixPath(m).name == JENA_FILE]
                if not members:
                    raise CorruptFileError(f"the zip holds no {JENA_FILE}")
                with zf.open(members[0]) as f:
                    df = pd.read_csv(f)
        else:
            df = pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise CorruptFileError(f"cannot parse as CSV ({err.__class__.__name__}: {err})") from None
    if list(df.columns) != JENA_HEADER:
        raise CorruptFileError(f"header is {list(df.columns)}, expected {JENA_HEADER}")
    if len(df) != JENA_ROWS:
        raise CorruptFileError(f"{len(df):,} data rows, expected {JENA_ROWS:,} (truncated?)")
    try:
        when = pd.to_datetime(df["Date Time"], format="%d.%m.%Y %H:%M:%S")
    except (ValueError, TypeError) as err:
        raise CorruptFileError(f"bad dates ({err})") from None
    if when.iloc[0] != pd.Timestamp(JENA_FIRST) or when.iloc[-1] != pd.Timestamp(JENA_LAST):
        raise CorruptFileError(f"covers {when.iloc[0]} to {when.iloc[-1]}, expected {JENA_FIRST} to {JENA_LAST}")
    values = df.drop(columns=["Date Time"])
    if not all(pd.api.types.is_numeric_dtype(t) for t in values.dtypes):
        raise CorruptFileError("non-numeric measurements")
    if values.isna().any().any():
        raise CorruptFileError(f"missing values: {int(values.isna().sum().sum())}")
    return values.set_index(pd.DatetimeIndex(when, name="time"))


def load_jena_climate() -> pd.DataFrame:
    """Load the Jena Climate 2009-2016 weather record (Max Planck Institute for Biogeochemistry).

    The data set of Deep Learning with Python's forecasting chapter: 14 quantities every
    10 minutes. Accepts the CSV or the zip holding it (``jena_climate_2009_2016.csv.zip``, as
    Keras' examples download it), found in the usual places; verified by content (header,
    420,451 rows, first and last timestamps, complete numeric values). Optional: no notebook
    needs it by default.

    Returns:
        DataFrame indexed by timestamp (``DatetimeIndex`` named ``time``, 10-minute steps with
        the few gaps and repeats of the original) with the 14 numeric columns of the file, e.g.
        ``T (degC)``, ``p (mbar)``, ``rh (%)``; ``wv (m/s)`` keeps the original's -9999 error codes.

    Raises:
        DatasetUnavailableError: if no verified copy is found and none can be downloaded.

    Example:
        >>> df = load_jena_climate()  # doctest: +SKIP
        >>> df.shape
        (420451, 14)
    """
    try:
        return _locate("jena-climate", "", JENA_FILE, _verify_jena, None)[1]
    except DatasetUnavailableError as first:
        try:
            return _locate("jena-climate", "", JENA_ZIP, _verify_jena, JENA_URL)[1]
        except DatasetUnavailableError as second:
            raise _unavailable("jena-climate", [f"{JENA_FILE} (or {JENA_ZIP})"],
                               first.searched + second.searched) from None


def _find_jena() -> str:
    searched: list[str] = []
    for filename in (JENA_FILE, JENA_ZIP):
        found = _search("", filename, _verify_jena, searched)
        if found is not None:
            return str(found[0])
    raise _unavailable("jena-climate", [f"{JENA_FILE} (or {JENA_ZIP})"], searched)


DATASETS["jena-climate"] = DatasetInfo(
    "jena-climate", "Jena Climate 2009-2016, 14 weather quantities every 10 min (optional)",
    "Max Planck Institute for Biogeochemistry, free use with attribution", load_jena_climate, _find_jena,
)
# =========================================================================== end of Jena Climate
