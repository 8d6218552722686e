"""MovieLens 100K (GroupLens Research; Harper & Konstan, ACM TiiS 2015): 100,000 ratings 1-5 from
943 users on 1,682 movies, with titles, genres and user demographics.

Read from an ``ml-100k/`` folder (a mirror's or the cache's) or from the official archive
``ml-100k.zip`` (downloaded from GroupLens into the cache when online). Every file used is
verified by its size and sha256 (the official files; the archive is checked member by member,
in memory, nothing is extracted). The full ratings file ``u.data`` is not needed: each official
cross-validation fold ``uK.base`` + ``uK.test`` holds all 100,000 ratings, checked by the sha256
of their sorted lines. Licence: research use; the data may not be redistributed without
GroupLens' permission, so never commit it.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dmlib.datasets.store import (
    CorruptFileError,
    DatasetInfo,
    _describe,
    _fetch,
    _search,
    _sha256,
    cache_dir,
    check_size,
    download_cap,
    read_verified,
    read_zip_member,
    register,
)

MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MOVIELENS_ZIP = "ml-100k.zip"
MOVIELENS_ZIP_BYTES = 4_924_029  # the official archive: a download, or a copy, may have download_cap() of it
MOVIELENS_FOLDS: tuple[str, ...] = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
# bytes and sha256 of the official files (the mirror's README table).
MOVIELENS_FILES: dict[str, tuple[int, str]] = {
    "u.genre": (202, "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb"),
    "u.item": (236_344, "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
    "u.occupation": (193, "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d"),
    "u.user": (22_628, "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"),
    "u1.base": (1_586_544, "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a"),
    "u1.test": (392_629, "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950"),
    "u2.base": (1_583_948, "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e"),
    "u2.test": (395_225, "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3"),
    "u3.base": (1_582_546, "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d"),
    "u3.test": (396_627, "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d"),
    "u4.base": (1_581_878, "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca"),
    "u4.test": (397_295, "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9"),
    "u5.base": (1_581_776, "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485"),
    "u5.test": (397_397, "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634"),
    "ua.base": (1_792_501, "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2"),
    "ua.test": (186_672, "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42"),
    "ub.base": (1_792_476, "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881"),
    "ub.test": (186_697, "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da"),
}
# All ratings: their number and the sha256 of the byte-sorted lines of any fold's base + test.
MOVIELENS_RATINGS = 100_000
MOVIELENS_SORTED_SHA256 = "3c61dc9b90a365d2ac50bdee9df8024ddf0eea4b1a15678d9934a77e75fe0ede"
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
_WANTED = [f"ml-100k/ (or {MOVIELENS_ZIP})"]


def _verify_file(filename: str) -> Callable[[Path], bytes]:
    size, digest = MOVIELENS_FILES[filename]
    return lambda path: read_verified(path, digest, size)


def _verify_zip(filename: str) -> Callable[[Path], bytes]:
    """Check the official archive in memory: the member ``ml-100k/<filename>`` by size and sha256.

    The archive is refused beyond the official archive's size (plus a margin) before it is opened,
    the member when its header declares another size, and the member is inflated as a stream that
    stops at that size (a header that lies is caught by the CRC, then by the sha256).
    """
    size, digest = MOVIELENS_FILES[filename]
    member = f"ml-100k/{filename}"

    def verify(path: Path) -> bytes:
        check_size(path, download_cap(MOVIELENS_ZIP_BYTES))
        try:
            with zipfile.ZipFile(path) as zf:
                try:
                    info = zf.getinfo(member)
                except KeyError:
                    raise CorruptFileError(f"the archive holds no {member}") from None
                if info.file_size != size:  # checked before anything is decompressed
                    raise CorruptFileError(f"{member} has {info.file_size:,} bytes by its header, expected {size:,}: "
                                           "not the official archive")
                data = read_zip_member(zf, member, size)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
            raise CorruptFileError(f"cannot read the archive ({err.__class__.__name__}: {err})") from None
        if _sha256(data) != digest:
            raise CorruptFileError(f"sha256 of ml-100k/{filename} does not match")
        return data

    return verify


def _verify_whole_zip(path: Path) -> bytes:
    """A downloaded archive must hold every file this module reads, verified."""
    for filename in MOVIELENS_FILES:
        _verify_zip(filename)(path)
    return b""


def _read(filename: str) -> bytes:
    """The verified bytes of one file of ``ml-100k/``, from a folder or the official archive."""
    searched: list[str] = []
    found = _search("ml-100k", filename, _verify_file(filename), searched)
    if found is None:
        found = _search("", MOVIELENS_ZIP, _verify_zip(filename), searched)
    if found is not None:
        return found[1]
    dest = cache_dir() / MOVIELENS_ZIP
    _fetch("movielens-100k", _WANTED, MOVIELENS_URL, dest, _verify_whole_zip, searched,
           max_bytes=download_cap(MOVIELENS_ZIP_BYTES))
    return _verify_zip(filename)(dest)


def _parse_ratings(data: bytes, what: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(io.BytesIO(data), sep="\t", header=None, names=RATING_COLUMNS, dtype="int64")
    except (ValueError, pd.errors.ParserError) as err:
        raise CorruptFileError(f"{what}: cannot parse ({err})") from None
    if not df["rating"].between(1, 5).all() or (df[["user_id", "item_id"]] < 1).any().any():
        raise CorruptFileError(f"{what}: ratings outside 1-5 or ids below 1")
    return df


def load_movielens(fold: str = "u1") -> tuple[pd.DataFrame, pd.DataFrame]:
    """One official train/test split of MovieLens 100K.

    ``u1``..``u5`` are the five 80%/20% cross-validation folds (disjoint test sets); ``ua`` and
    ``ub`` hold out exactly 10 ratings per user.

    Args:
        fold: one of ``MOVIELENS_FOLDS``.

    Returns:
        ``(train, test)``: DataFrames with int64 columns ``user_id``, ``item_id`` (1-based, as in
        the files), ``rating`` (1-5) and ``timestamp`` (Unix seconds), in the files' order.

    Raises:
        ValueError: for an unknown fold.
        DatasetUnavailableError: if no verified copy is found and none can be downloaded.

    Example:
        >>> train, test = load_movielens("u1")  # doctest: +SKIP
        >>> len(train), len(test)
        (80000, 20000)
    """
    if fold not in MOVIELENS_FOLDS:
        raise ValueError(f"unknown MovieLens fold {fold!r}; choose one of {', '.join(MOVIELENS_FOLDS)}")
    return (_parse_ratings(_read(f"{fold}.base"), f"{fold}.base"),
            _parse_ratings(_read(f"{fold}.test"), f"{fold}.test"))


def load_movielens_ratings() -> pd.DataFrame:
    """All 100,000 ratings of MovieLens 100K (the content of ``u.data``), sorted by user and item.

    Recovered from ``u1.base`` + ``u1.test`` and checked: 100,000 ratings whose byte-sorted lines
    have the published sha256.

    Returns:
        DataFrame with int64 columns ``user_id``, ``item_id``, ``rating``, ``timestamp``, sorted
        by ``user_id`` then ``item_id``, index 0..99,999.

    Example:
        >>> ratings = load_movielens_ratings()  # doctest: +SKIP
        >>> ratings.shape, ratings["user_id"].nunique(), ratings["item_id"].nunique()
        ((100000, 4), 943, 1682)
    """
    base, test = _read("u1.base"), _read("u1.test")
    lines = base.splitlines(keepends=True) + test.splitlines(keepends=True)
    if len(lines) != MOVIELENS_RATINGS or _sha256(b"".join(sorted(lines))) != MOVIELENS_SORTED_SHA256:
        raise CorruptFileError(f"u1.base + u1.test do not hold the {MOVIELENS_RATINGS:,} official ratings")
    df = _parse_ratings(base + test, "u1.base + u1.test")
    return df.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)


def genres() -> list[str]:
    """The 19 genre names of ``u.genre``, in the order of the flags in ``u.item``.

    Example:
        >>> genres()[:3]  # doctest: +SKIP
        ['unknown', 'Action', 'Adventure']
    """
    rows = [line.split("|") for line in _read("u.genre").decode("latin-1").splitlines() if line.strip()]
    if [int(r[1]) for r in rows] != list(range(len(rows))):
        raise CorruptFileError("u.genre: genre numbers are not 0, 1, 2, ...")
    return [r[0] for r in rows]


def load_movielens_items() -> pd.DataFrame:
    """The 1,682 movies of MovieLens 100K (``u.item``, Latin-1).

    Returns:
        DataFrame with ``item_id`` (int64), ``title`` (str, with the year), ``release_date``
        (datetime64, NaT where unknown) and one 0/1 int64 column per genre, named as in
        ``u.genre`` (``unknown``, ``Action``, ..., ``Western``); a movie can have several.

    Example:
        >>> items = load_movielens_items()  # doctest: +SKIP
        >>> items.loc[0, ["item_id", "title"]].tolist()
        [1, 'Toy Story (1995)']
    """
    names = genres()
    columns = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *names]
    text = _read("u.item").decode("latin-1")
    try:
        df = pd.read_csv(io.StringIO(text), sep="|", header=None, names=columns, keep_default_na=False,
                         dtype={"item_id": "int64", "title": str, "release_date": str, **dict.fromkeys(names, "int64")})
        df["release_date"] = pd.to_datetime(df["release_date"].replace("", None), format="%d-%b-%Y")
    except (ValueError, pd.errors.ParserError) as err:
        raise CorruptFileError(f"u.item: cannot parse ({err})") from None
    if not df[names].isin((0, 1)).all().all():
        raise CorruptFileError("u.item: genre flags are not 0/1")
    return df.drop(columns=["video_release_date", "imdb_url"])


def load_movielens_users() -> pd.DataFrame:
    """The 943 users of MovieLens 100K (``u.user``).

    Returns:
        DataFrame with ``user_id`` and ``age`` (int64), ``gender`` (``M``/``F``), ``occupation``
        (one of the 21 of ``u.occupation``) and ``zip_code`` (str: some are not numbers).

    Example:
        >>> users = load_movielens_users()  # doctest: +SKIP
        >>> users.shape
        (943, 5)
    """
    occupations = set(_read("u.occupation").decode("latin-1").split())
    try:
        df = pd.read_csv(io.BytesIO(_read("u.user")), sep="|", header=None, encoding="latin-1",
                         names=["user_id", "age", "gender", "occupation", "zip_code"],
                         dtype={"user_id": "int64", "age": "int64", "gender": str, "occupation": str, "zip_code": str})
    except (ValueError, pd.errors.ParserError) as err:
        raise CorruptFileError(f"u.user: cannot parse ({err})") from None
    if not df["gender"].isin(("M", "F")).all() or not df["occupation"].isin(occupations).all():
        raise CorruptFileError("u.user: unknown gender or occupation")
    return df


def _load_all() -> None:
    load_movielens_ratings(), load_movielens_items(), load_movielens_users()
    for fold in MOVIELENS_FOLDS:
        load_movielens(fold)


def _find_movielens() -> str:
    places = set()
    for filename, (_, digest) in MOVIELENS_FILES.items():
        searched: list[str] = []
        found = _search("ml-100k", filename, _verify_file(filename), searched, remember=digest)
        if found is None:
            found = _search("", MOVIELENS_ZIP, _verify_whole_zip, searched, remember=_describe(MOVIELENS_FILES))
        if found is None:
            _fetch("movielens-100k", _WANTED, None, cache_dir() / MOVIELENS_ZIP, _verify_whole_zip, searched,
                   max_bytes=download_cap(MOVIELENS_ZIP_BYTES))
        else:
            places.add(str(found[0].parent if found[0].name != MOVIELENS_ZIP else found[0]))
    return ", ".join(sorted(places))


register(DatasetInfo("movielens-100k", "MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies",
                     "research use, no redistribution (GroupLens)", _load_all, _find_movielens))
