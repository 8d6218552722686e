"""The generic part of :mod:`dmlib.datasets`: where files are looked for, how they are verified,
downloaded, extracted and cached, the errors, and the registry of datasets.

Where a file is looked for, in order:

1. the read-only mirror folders in ``DMLIB_DATA_MIRRORS`` (a path list, ``:`` separated);
2. the cache ``DMLIB_CACHE`` (default ``~/.keras/datasets``, shared with Keras);
3. system folders (Debian's ``/usr/share/datasets/...``);
4. a download from the official address into the cache (never when ``DMLIB_OFFLINE=1``).

Every file is verified before use (hashes or content checks, see each dataset's module). A
corrupt or truncated file is reported and skipped; a download replaces a corrupt cached copy
atomically (temporary file, verify, rename). Nothing is ever written into a mirror, no pickle is
ever loaded, and archive extraction refuses members that would land outside the target folder.
Missing data raises :class:`DatasetUnavailableError` naming every place searched and the command
that fixes it.

Why not pooch (hashed downloads) and filelock? pooch verifies the hash of the *downloaded bytes*
and keeps one file per URL in its own cache. Most of what this module does falls outside that
model: the Debian copies of Fashion-MNIST are recompressed (so the decompressed content is what
is verified), the IMDB mirror is a re-packed archive verified by content, CSV copies with other
line endings must pass a content check, and read-only mirrors are searched before any cache. The
download itself is twenty lines (temporary file, verify, ``os.replace``), and every write here is
an atomic rename of a complete file, so concurrent writers cannot leave a half-written file and
no lock is needed (the worst case is that two processes build the same file and the second rename
wins). Adding pooch would add a dependency without removing much code.

Adding a dataset: write one module in this package that defines its loader and calls
:func:`register`, and import it in ``dmlib/datasets/__init__.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
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
    err.corrupt = any(w in s for s in searched for w in ("CORRUPT", "INCOMPLETE", "REFUSED"))
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
        if path.is_symlink():
            searched.append(f"{path} ({kind}: REFUSED, a symbolic link; copy the file itself there)")
            continue
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


def read_verified(path: Path, sha256: str, size: int) -> bytes:
    """The bytes of ``path`` if it has exactly ``size`` bytes and this sha256, else CorruptFileError.

    The size is checked first, from the file system, so a wrong (e.g. huge) file is not read.

    Example:
        >>> data = read_verified(Path("u.genre"), "9757e0d3...", 202)  # doctest: +SKIP
    """
    actual = path.stat().st_size
    if actual != size:
        raise CorruptFileError(f"{actual:,} bytes, expected {size:,}")
    data = path.read_bytes()
    if len(data) != size or _sha256(data) != sha256:
        raise CorruptFileError("sha256 does not match")
    return data


def _file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- archives


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar archive into ``dest``, refusing any member that would escape it.

    Absolute paths, ``..`` components, links and device files are refused before anything
    is written.

    Raises:
        UnsafeArchiveError: naming the offending member.
        CorruptFileError: if the archive cannot be read (truncated, not a tar.gz).

    Example:
        >>> safe_extract(Path("aclImdb.tar.gz"), Path("/tmp/out"))  # doctest: +SKIP
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


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DatasetInfo:
    """What the CLI and the doctor know about a dataset.

    Attributes:
        name: the name used by ``python -m dmlib datasets fetch NAME``.
        description: one line.
        licence: the licence or terms of use.
        load: loads everything (``fetch`` calls it; it may download).
        find: where a verified copy is, as text; raises :class:`DatasetUnavailableError` when there
            is none. Never downloads.
        optional: no notebook needs it by default (missing is reported, not an error).
    """

    name: str
    description: str
    licence: str
    load: Callable[[], Any]
    find: Callable[[], str]
    optional: bool = False


DATASETS: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset to :data:`DATASETS` (what ``status``, ``verify``, ``fetch`` and the doctor list).

    Example:
        >>> register(DatasetInfo("toy", "a toy set", "CC0", lambda: None, lambda: "here"))  # doctest: +SKIP
    """
    DATASETS[info.name] = info
    return info


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
