"""IMDB Large Movie Review Dataset v1.0 (Maas et al. 2011, aclImdb): 50,000 labelled and 50,000
unlabelled raw movie reviews.

Sources, in order: an extracted ``aclImdb/`` tree in a mirror or the cache, an archive
(``aclImdb.tar.gz`` or the official ``aclImdb_v1.tar.gz``) in a mirror, the cache or a system
folder, and the official download. Whatever the source, the reviews are verified by content:
per folder the number of files, their names ``<id>_<rating>.txt`` with a rating that fits the
label, and a hash of the folder (the sha256 of the sorted lines ``<name>\\t<sha256 of the file>``,
``IMDB_TREE_SHA256``), so an edited or emptied review is caught. Symbolic links in a tree are
refused. Archives are read as a stream, in memory, and never extracted: each member header is
checked before its data is read (no absolute or ``..`` names, no links, a bounded number of
members and bytes, ``IMDB_MAX_*``), so a poisoned archive costs neither disk nor much time and
is skipped with a warning while the search goes on.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from dmlib.datasets.store import (
    CorruptFileError,
    DatasetInfo,
    Prepared,
    UnsafeArchiveError,
    _describe,
    _fetch,
    _file_digest,
    _load_prepared,
    _or_prepared,
    _save_prepared,
    _search,
    _stamp,
    _stamped,
    _unavailable,
    cache_dir,
    check_member,
    download_cap,
    mirrors,
    register,
)

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_OFFICIAL_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
IMDB_ARCHIVE_BYTES = 84_125_825  # the official archive; a download stops at download_cap() of it
# Archives whose content was verified (so a quick check may accept them by their hash alone):
# the re-packed archive of the offline mirror (see its README).
IMDB_KNOWN_SHA256 = {"15efe61b046bab2235aba67dd0c29f9768a163a0b62ec53fbed7c6f03e292738"}
IMDB_ARCHIVES = ("aclImdb_v1.tar.gz", "aclImdb.tar.gz")
# Expected number of reviews per folder of the aclImdb tree (tests shrink these).
IMDB_COUNTS: dict[str, int] = {
    "train/pos": 12_500, "train/neg": 12_500, "test/pos": 12_500, "test/neg": 12_500, "train/unsup": 50_000,
}
# Per folder: sha256 of the sorted lines "<file name>\t<sha256 of the file>\n" (see imdb_folder_hash),
# computed from the mirror's tree, which was checked against two independent copies.
IMDB_TREE_SHA256: dict[str, str] = {
    "train/pos": "29b5aed9a11afd2d3d2698706100dd091a7bbef8f5d73136f26b91732c8ecdb9",
    "train/neg": "51a9e7127594a89ad304bffc65c86de0e5564bc33a73cfb5ba866a19cd2f03a5",
    "test/pos": "c48aa99534adb7a3f947603c1163ff76e8a90506149e5e514261204edab23379",
    "test/neg": "54fc32f5b1f75b47a2dfd69f94c576c2aa9f99f5a83126cd775a2e15ba49611e",
    "train/unsup": "efde836f9223269060682e37de3268dde419dad49fd27ad6c2ce62b02c1dceb5",
}
# Bounds of an archive read (the official one: about 100,030 members, 220 MB as a tar).
IMDB_MAX_MEMBERS = 110_000
IMDB_MAX_BYTES = 600_000_000
IMDB_MAX_REVIEW_BYTES = 1_000_000  # the longest review has 14 KB
_IMDB_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")
_SPLITS = {"imdb-train": ["train/neg", "train/pos"], "imdb-test": ["test/neg", "test/pos"],
           "imdb-unsup": ["train/unsup"]}
_PACKED = ["blob", "offsets", "labels"]
_WANTED = ["aclImdb.tar.gz (or aclImdb_v1.tar.gz, or an extracted aclImdb/ folder)"]

Reviews = dict[str, dict[str, bytes]]  # folder -> file name -> content


def _imdb_rating_ok(folder: str, rating: int) -> bool:
    label = folder.split("/")[1]
    return {"pos": 7 <= rating <= 10, "neg": 1 <= rating <= 4, "unsup": rating == 0}[label]


def imdb_folder_hash(files: dict[str, bytes]) -> str:
    """The hash of one folder of reviews: sha256 of the sorted lines ``<name>\\t<sha256 of content>\\n``.

    Example:
        >>> imdb_folder_hash({"0_8.txt": b"great"})[:12]
        '4fc99b12e952'
    """
    lines = "".join(f"{name}\t{hashlib.sha256(files[name]).hexdigest()}\n" for name in sorted(files))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _check_names(folder: str, names: list[str]) -> None:
    count = IMDB_COUNTS[folder]
    if len(names) != count:
        raise CorruptFileError(f"{folder}/ holds {len(names):,} files, expected {count:,}")
    for n in names:
        m = _IMDB_NAME.match(n)
        if not m or not _imdb_rating_ok(folder, int(m.group(2))):
            raise CorruptFileError(f"{folder}/{n} is not a review file with a rating that fits its label")


def _check_reviews(reviews: Reviews, folders: list[str]) -> Reviews:
    for folder in folders:
        files = reviews.get(folder, {})
        _check_names(folder, list(files))
        if imdb_folder_hash(files) != IMDB_TREE_SHA256[folder]:
            raise CorruptFileError(f"{folder}/: the content of the reviews differs from the official "
                                   "data (a file was edited, emptied or replaced)")
    return reviews


def _tree_folder_names(root: Path, folder: str) -> list[str]:
    d = root / folder
    if d.is_symlink() or not d.is_dir():
        raise CorruptFileError(f"{folder}/ is missing" if not d.is_symlink() else f"{folder}/ is a symbolic link")
    names = []
    with os.scandir(d) as it:
        for entry in it:
            if entry.is_symlink():
                raise UnsafeArchiveError(f"{folder}/{entry.name} is a symbolic link; a mirror tree must hold the files")
            if not entry.is_file():
                raise CorruptFileError(f"{folder}/{entry.name} is not a file")
            names.append(entry.name)
    return names


def _read_tree(root: Path, folders: list[str]) -> Reviews:
    """Read and verify the given folders of an ``aclImdb/`` tree (counts and names first, then content)."""
    if root.is_symlink():
        raise UnsafeArchiveError(f"{root} is a symbolic link")
    listing = {folder: _tree_folder_names(root, folder) for folder in folders}
    for folder, names in listing.items():
        _check_names(folder, names)
    reviews = {folder: {n: (root / folder / n).read_bytes() for n in names} for folder, names in listing.items()}
    return _check_reviews(reviews, folders)


def verify_imdb_tree(root: Path) -> None:
    """Check an ``aclImdb/`` tree by content: file counts, names ``<id>_<rating>.txt``, ratings per
    label, the hash of every folder's files (``IMDB_TREE_SHA256``), and no symbolic links.

    Raises:
        CorruptFileError: naming the first problem found.
        UnsafeArchiveError: if the tree holds a symbolic link.

    Example:
        >>> verify_imdb_tree(Path("/path/to/aclImdb"))  # doctest: +SKIP
    """
    _read_tree(root, list(IMDB_COUNTS))


def _read_archive(archive: Path, folders: list[str]) -> Reviews:
    """Read the reviews of ``folders`` from a tar archive as a stream, in memory, and verify them.

    Every member header is checked before its data is read; the archive is refused as a whole at
    the first unsafe member or when it exceeds the bounds.
    """
    reviews: Reviews = {folder: {} for folder in folders}
    count = total = 0
    try:
        with tarfile.open(archive, "r|*") as tar:
            for m in tar:
                count += 1
                total += m.size
                check_member(archive, m, "the cache")
                if count > IMDB_MAX_MEMBERS or total > IMDB_MAX_BYTES:
                    raise UnsafeArchiveError(f"{archive.name}: more than {IMDB_MAX_MEMBERS:,} members or "
                                             f"{IMDB_MAX_BYTES:,} bytes, far more than aclImdb; refusing it")
                parts = PurePosixPath(m.name).parts
                folder = "/".join(parts[1:3])
                if not (m.isfile() and len(parts) == 4 and parts[0] == "aclImdb" and folder in reviews):
                    continue
                if m.size > IMDB_MAX_REVIEW_BYTES:
                    raise CorruptFileError(f"{m.name} has {m.size:,} bytes, not a review")
                src = tar.extractfile(m)
                assert src is not None
                reviews[folder][parts[3]] = src.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise CorruptFileError(f"cannot read the archive ({err.__class__.__name__}: {err})") from None
    return _check_reviews(reviews, folders)


def _reviews(folders: list[str], download: bool = True) -> Reviews:
    """The verified reviews of ``folders`` from the first source that passes."""
    searched: list[str] = []
    for kind, tree in [("mirror", m / "aclImdb") for m in mirrors()] + [("cache", cache_dir() / "aclImdb")]:
        try:
            if not tree.is_dir() and not tree.is_symlink():
                searched.append(f"{tree}/ ({kind}: not there)")
                continue
            return _read_tree(tree, folders)
        except UnsafeArchiveError as err:
            searched.append(f"{tree}/ ({kind}: REFUSED, {err})")
        except CorruptFileError as err:
            searched.append(f"{tree}/ ({kind}: INCOMPLETE, {err})")
        except OSError as err:
            searched.append(f"{tree}/ ({kind}: cannot be read, {err.__class__.__name__}: {err.strerror or err})")
    for filename in IMDB_ARCHIVES:
        found = _search("", filename, lambda p: _read_archive(p, folders), searched)
        if found is not None:
            return found[1]  # type: ignore[return-value]
    url = IMDB_URL if download else None
    return _fetch("imdb", _WANTED, url, cache_dir() / IMDB_ARCHIVES[0], lambda p: _read_archive(p, folders), searched,
                  max_bytes=download_cap(IMDB_ARCHIVE_BYTES))


def _text(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorruptFileError(f"a review is not UTF-8 ({err})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text  # as text-mode reading


def _pack(reviews: Reviews, folders: list[str]) -> dict[str, np.ndarray]:
    """Pack the reviews of ``folders`` (sorted by folder, then file name) as one UTF-8 byte buffer plus
    offsets and labels: pickle-free and fast to load."""
    encoded, labels = [], []
    for folder in folders:
        label = {"pos": 1, "neg": 0, "unsup": -1}[folder.split("/")[1]]
        for name in sorted(reviews[folder]):
            encoded.append(_text(reviews[folder][name]).encode("utf-8"))
            labels.append(label)
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return {"blob": np.frombuffer(b"".join(encoded), dtype=np.uint8), "offsets": offsets,
            "labels": np.asarray(labels, dtype=np.int8)}


def _unpack_texts(blob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = blob.tobytes()
    return np.array([raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])], dtype=object)


def _sources(folders: list[str]) -> dict[str, str]:
    return {folder: IMDB_TREE_SHA256[folder] for folder in folders}


def _key_sources(key: str) -> dict[str, str]:
    """What the prepared file ``key`` (``imdb-train``, ``imdb-test``, ``imdb-unsup``) is bound to."""
    return _sources(_SPLITS[key])


def _build(keys: list[str], download: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """The packed arrays of ``keys``, from one read of the verified sources (downloaded only if ``download``)."""
    reviews = _reviews([f for k in keys for f in _SPLITS[k]], download=download)
    return {k: _pack(reviews, _SPLITS[k]) for k in keys}


def _splits(keys: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """The prepared arrays of ``keys``; missing ones are built from one read of the sources."""
    out = {k: _load_prepared(k, _key_sources(k), _PACKED) for k in keys}
    todo = [k for k, v in out.items() if v is None]
    if todo:
        built = _build(todo, download=True)
        for k in todo:
            out[k] = built[k]
            _save_prepared(k, built[k], _key_sources(k))
    return out  # type: ignore[return-value]


def load_imdb(
    include_unsup: bool = False,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | tuple[
    tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], np.ndarray
]:
    """Load the raw reviews of the Large Movie Review Dataset (Maas et al. 2011, aclImdb v1.0).

    Accepts the official archive, a re-packed archive or an extracted ``aclImdb/`` tree, all
    verified by content (counts, file names, ratings per label, a hash of each folder). Archives
    are read in memory, nothing is extracted. The first load parses the 50,000 (or 100,000)
    reviews into the prepared cache (bound to the folder hashes), so later loads take a second or
    two instead of a minute.

    Args:
        include_unsup: also return the 50,000 unlabelled training reviews.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` (plus ``x_unsup`` if asked): object arrays of
        review strings (raw, with the site's ``<br />`` line breaks) and int labels (1 positive,
        0 negative), 25,000 of each split, sorted by folder (negatives first) and file name.

    Raises:
        DatasetUnavailableError: if no verified copy is found and none can be downloaded.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_imdb()  # doctest: +SKIP
        >>> len(x_train), y_train.mean()
        (25000, 0.5)
    """
    keys = ["imdb-train", "imdb-test"] + (["imdb-unsup"] if include_unsup else [])
    data = _splits(keys)
    x = {k: _unpack_texts(v["blob"], v["offsets"]) for k, v in data.items()}
    train = (x["imdb-train"], data["imdb-train"]["labels"].astype(np.int64))
    test = (x["imdb-test"], data["imdb-test"]["labels"].astype(np.int64))
    return (train, test, x["imdb-unsup"]) if include_unsup else (train, test)


def _quick_archive_check(path: Path) -> None:
    """For ``status``: an archive with a known hash is accepted by it; another one is read (in
    memory) and verified by content."""
    if _file_digest(path, "md5") == IMDB_OFFICIAL_MD5 or _file_digest(path, "sha256") in IMDB_KNOWN_SHA256:
        return
    _read_archive(path, list(IMDB_COUNTS))


def _tree_fingerprint(tree: Path) -> list[object]:
    """Size and times of every review file (a changed, added or removed file changes it)."""
    h = hashlib.sha256()
    for folder in IMDB_COUNTS:
        with os.scandir(tree / folder) as it:
            for entry in sorted(it, key=lambda e: e.name):
                st = entry.stat(follow_symlinks=False)
                h.update(f"{folder}/{entry.name}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}\n".encode())
    return [h.hexdigest()]


def _find_sources() -> str:
    rules = _describe(IMDB_COUNTS, IMDB_TREE_SHA256)
    searched: list[str] = []
    for kind, tree in [("mirror", m / "aclImdb") for m in mirrors()] + [("cache", cache_dir() / "aclImdb")]:
        try:
            if not tree.is_dir() or tree.is_symlink():
                searched.append(f"{tree}/ ({kind}: {'REFUSED, a symbolic link' if tree.is_symlink() else 'not there'})")
                continue
            fingerprint = _tree_fingerprint(tree)
            if not _stamped(tree, rules, fingerprint):
                verify_imdb_tree(tree)
                _stamp(tree, rules, fingerprint)
            return str(tree)
        except (CorruptFileError, UnsafeArchiveError, OSError) as err:
            searched.append(f"{tree}/ ({kind}: INCOMPLETE, {err})")
    for filename in IMDB_ARCHIVES:
        found = _search("", filename, _quick_archive_check, searched, remember=rules)
        if found is not None:
            return str(found[0])
    raise _unavailable("imdb", _WANTED, searched)


def _find_imdb() -> str:
    """Where verified sources are, else the labelled prepared files if they load (content hash included)."""
    labelled = {k: (_key_sources(k), _PACKED) for k in _SPLITS if k != "imdb-unsup"}
    return _or_prepared(_find_sources, "imdb", _WANTED, labelled)


register(DatasetInfo("imdb", "IMDB Large Movie Review Dataset v1.0 (aclImdb), raw reviews",
                     "research use (Maas et al. 2011)", lambda: load_imdb(include_unsup=True), _find_imdb,
                     prepared=Prepared(tuple(_SPLITS), _key_sources, _build)))
