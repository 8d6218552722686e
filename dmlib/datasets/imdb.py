"""IMDB Large Movie Review Dataset v1.0 (Maas et al. 2011, aclImdb): 50,000 labelled and 50,000
unlabelled raw movie reviews.

Accepts the official archive (verified by its md5), a re-packed archive or an extracted
``aclImdb/`` tree (verified by content).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from dmlib.datasets.store import (
    CorruptFileError,
    DatasetInfo,
    _fetch,
    _file_digest,
    _load_prepared,
    _save_prepared,
    _search,
    cache_dir,
    mirrors,
    register,
    safe_extract,
)

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


def _find_imdb() -> str:
    return str(_find_imdb_tree(download=False))


register(DatasetInfo("imdb", "IMDB Large Movie Review Dataset v1.0 (aclImdb), raw reviews",
                     "research use (Maas et al. 2011)", lambda: load_imdb(include_unsup=True), _find_imdb))
