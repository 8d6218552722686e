"""The generic part of :mod:`dmlib.datasets`: where files are looked for, how they are verified,
downloaded, extracted and cached, the errors, and the registry of datasets.

Where a file is looked for, in order:

1. the read-only mirror folders in ``DMLIB_DATA_MIRRORS`` (a path list, ``:`` separated), then
   those recorded once with ``python -m dmlib datasets use-mirror PATH`` (kept in the cache's
   ``dmlib-config.json``);
2. the cache ``DMLIB_CACHE`` (default ``~/.keras/datasets``, shared with Keras);
3. system folders (Debian's ``/usr/share/datasets/...``);
4. a download from the official address into the cache (never when ``DMLIB_OFFLINE=1``).

Every file is verified before use (hashes or content checks, see each dataset's module). A
corrupt or truncated file, a symbolic link and an unsafe archive are reported and skipped, and the
search goes on; a download replaces a corrupt cached copy atomically (temporary file, verify,
rename). Nothing is ever written into a mirror, no pickle is ever loaded, archives are read with
every member header checked first (no member outside the target, no links, bounded count and
size). Missing data raises :class:`DatasetUnavailableError` naming every place searched and the
command that fixes it.

Every read is bounded by the official size of what is read: compressed files and archive members
are inflated as a stream that stops just past the official size (:func:`read_capped`,
:func:`gunzip_capped`, :func:`read_zip_member`; a zip header's size is checked first but not
trusted), plain files are refused by their size before they are read, and a download stops at the
official size plus a margin (:func:`download_cap`). A decompression bomb therefore costs at most
the official size in memory, and is reported as "not the official file".

The *prepared cache* (``dmlib-prepared/<key>.npz``) makes second loads fast: arrays parsed from
the verified sources, stored with the hashes of those sources and a hash of their own content,
both checked on every load; anything that disagrees is rebuilt from the sources. Those hashes
detect damage, not forgery: the cache folder is trusted like the virtual environment (whoever can
write one can write the other). ``python -m dmlib datasets verify --deep`` re-establishes trust:
it re-derives every prepared file from its verified sources (:func:`verify_prepared`) and rebuilds
any that differs. An unwritable
cache folder is not an error: the data is served from the verified source and not cached (one
warning naming ``DMLIB_CACHE``); only a download then fails, with a message naming it. Quick
checks (``status()``, ``datasets verify``, the test suite's up-front check) remember which source
files they verified, by size, times and inode, in ``dmlib-verified.json``; loaders never rely on
that record.

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
:func:`register`, and add its name to ``DATASET_MODULES`` in ``dmlib/datasets/__init__.py``.
"""

from __future__ import annotations

import gzip
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
from typing import IO, Any, TypeVar

import numpy as np
import pandas as pd

T = TypeVar("T")

SYSTEM_DIRS: dict[str, list[Path]] = {
    "fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")],
}
CLI = ".venv/bin/python -m dmlib"
"""The command line as messages spell it: the project's Python (the system's lacks the packages)."""
CHUNK = 1 << 20  # bytes read at a time from a stream (decompression, download)


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
    """An archive member would be written outside the extraction folder, is a link or device, or the
    archive is larger (members, bytes) than the dataset can be: refused before anything is written."""


class CacheNotWritableError(DatasetError):
    """The cache folder (``DMLIB_CACHE``) cannot be written."""


# --------------------------------------------------------------------------- folders

CONFIG_FILE = "dmlib-config.json"  # in the cache folder: mirrors recorded by `datasets use-mirror`
STAMPS_FILE = "dmlib-verified.json"  # in the cache folder: files already verified (for quick checks)
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, stacklevel=3)


def cache_dir() -> Path:
    """The writable cache folder: ``DMLIB_CACHE``, default ``~/.keras/datasets`` (shared with Keras)."""
    return Path(os.environ.get("DMLIB_CACHE") or Path.home() / ".keras" / "datasets").expanduser()


def recorded_mirrors() -> list[Path]:
    """The mirror folders recorded with ``python -m dmlib datasets use-mirror PATH`` (in the cache's
    ``dmlib-config.json``, as ``{"mirrors": ["/absolute/folder", ...]}``).

    A record that cannot be read, or whose ``mirrors`` is not a list of absolute folder paths (e.g.
    one string, which would otherwise be searched character by character), is refused as a whole:
    ignored, with one warning naming the file and how to fix it.

    Example:
        >>> recorded_mirrors()  # doctest: +SKIP
        [PosixPath('/media/usb/datasets')]
    """
    path = cache_dir() / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except (OSError, ValueError) as err:
        _refuse_config(path, f"{err.__class__.__name__}: {err}")
        return []
    folders = config.get("mirrors") if isinstance(config, dict) else None
    if not isinstance(folders, list) or not all(isinstance(p, str) and p and Path(p).is_absolute() for p in folders):
        held = json.dumps(folders if isinstance(config, dict) else config)
        _refuse_config(path, f'"mirrors" must be a list of absolute folder paths, e.g. {{"mirrors": '
                             f'["/media/usb/datasets"]}}, but it holds {held[:80]}')
        return []
    return [Path(p) for p in folders]


def _refuse_config(path: Path, why: str) -> None:
    _warn_once(f"config {path}", f"ignoring the mirrors recorded in {path} ({why}). Record the folder again with "
                                 f"`{CLI} datasets use-mirror PATH` (it rewrites that file), or remove the record "
                                 f"with `{CLI} datasets forget-mirrors`.")


def mirrors() -> list[Path]:
    """The read-only mirror folders: those of ``DMLIB_DATA_MIRRORS`` (``os.pathsep`` separated),
    then those recorded with ``python -m dmlib datasets use-mirror PATH``.

    Example:
        >>> mirrors()  # doctest: +SKIP
        [PosixPath('/work/shared/datasets')]
    """
    raw = os.environ.get("DMLIB_DATA_MIRRORS", "")
    found = [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]
    return list(dict.fromkeys(found + recorded_mirrors()))


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def use_mirror(path: str | Path) -> Path:
    """Record a mirror folder in the cache's ``dmlib-config.json``, so that every later session (any
    shell, Jupyter) searches it after ``DMLIB_DATA_MIRRORS``; nothing is copied.

    Raises:
        DatasetError: if ``path`` is not a folder.
        CacheNotWritableError: if the cache folder cannot be written (the message names ``DMLIB_CACHE``).

    Example:
        >>> use_mirror("/media/usb/datasets")  # doctest: +SKIP
        PosixPath('/media/usb/datasets')
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder; give the folder that holds the datasets "
                           "(e.g. fashion-mnist/, aclImdb.tar.gz, ...)")
    recorded = [p for p in recorded_mirrors() if p != folder]
    _write_config([str(folder), *map(str, recorded)])
    return folder


def forget_mirrors() -> None:
    """Forget every mirror recorded with :func:`use_mirror` (``DMLIB_DATA_MIRRORS`` still applies).

    Example:
        >>> forget_mirrors()  # doctest: +SKIP
    """
    if (cache_dir() / CONFIG_FILE).exists():
        _write_config([])


def _write_config(folders: list[str]) -> None:
    target = cache_dir() / CONFIG_FILE
    try:
        _write_atomic(target, json.dumps({"mirrors": folders}, indent=1).encode("utf-8"))
    except OSError as err:
        raise CacheNotWritableError(_cache_message(err, f"cannot record the mirror in {target}")) from None


_TRUE = {"1", "true", "yes", "y", "on", "t"}
_FALSE = {"", "0", "false", "no", "n", "off", "f"}


def offline() -> bool:
    """True when ``DMLIB_OFFLINE`` says so (1, true, yes, y, on, t; any case): never download.

    Raises:
        DatasetError: for a value that is neither a usual "yes" nor a usual "no" (``DMLIB_OFFLINE=maybe``
            must not silently mean "online").

    Example:
        >>> os.environ["DMLIB_OFFLINE"] = "Y"; offline()
        True
    """
    raw = os.environ.get("DMLIB_OFFLINE", "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise DatasetError(f"DMLIB_OFFLINE={raw!r} is neither yes nor no; use 1 (never download) or 0 (download what "
                       "is missing), or unset it")


def _cache_message(err: OSError, what: str) -> str:
    return (f"{what}: the cache folder {cache_dir()} is not writable ({err.__class__.__name__}: "
            f"{err.strerror or err}). Set DMLIB_CACHE to a writable folder (e.g. `export DMLIB_CACHE=$HOME/dmlib-cache`).")


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
        f"To fix: offline, record a folder holding {' and '.join(filenames)} once with "
        f"`{CLI} datasets use-mirror PATH` (or set DMLIB_DATA_MIRRORS=PATH in every shell); with "
        f"internet, run `{CLI} datasets fetch {name}`."
    )


def _unavailable(name: str, filenames: list[str], searched: list[str]) -> DatasetUnavailableError:
    lines = [f"Dataset {name!r} is not available. Searched:"]
    lines += [f"  - {s}" for s in searched]
    lines.append(_fix_hint(name, filenames))
    err = DatasetUnavailableError("\n".join(lines))
    err.searched = list(searched)
    err.corrupt = any(w in s for s in searched for w in ("CORRUPT", "INCOMPLETE", "REFUSED"))
    return err


def download_cap(official: int) -> int:
    """The most bytes a download (or copy) of a file of ``official`` bytes may have: 10% and 64 KiB more.

    Example:
        >>> download_cap(1_000_000)
        1165536
    """
    return official + official // 10 + (1 << 16)


def _download(url: str, dest: Path, verify: Callable[[Path], T], max_bytes: int) -> T:
    """Download ``url`` to ``dest`` atomically: temporary file, verify, then rename over ``dest``.

    A server announcing more than ``max_bytes`` is not read, and reading stops just past
    ``max_bytes`` (CorruptFileError): nothing is saved either way.
    """
    from tqdm.auto import tqdm

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as err:
        raise CacheNotWritableError(_cache_message(err, f"cannot download {dest.name}")) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
            try:
                announced = int(resp.headers.get("Content-Length") or 0)
            except ValueError:
                announced = 0
            if announced > max_bytes:
                raise CorruptFileError(f"the server announces {announced:,} bytes, more than the {max_bytes:,} "
                                       "the official file can have: not the official file; stopped before reading it")
            written = 0
            with tqdm(total=announced or None, unit="B", unit_scale=True, desc=f"downloading {dest.name}") as bar:
                while chunk := resp.read(min(CHUNK, max_bytes + 1 - written)):
                    written += len(chunk)
                    if written > max_bytes:
                        raise CorruptFileError(f"the download exceeds {max_bytes:,} bytes, more than the official "
                                               "file can have: not the official file; stopped there")
                    out.write(chunk)
                    bar.update(len(chunk))
        result = verify(tmp)
        os.replace(tmp, dest)
        return result
    finally:
        tmp.unlink(missing_ok=True)


def _present(path: Path, kind: str, searched: list[str]) -> bool:
    """True if ``path`` is a regular file (not a link) that can be looked at; else notes why not."""
    try:
        if path.is_symlink():
            searched.append(f"{path} ({kind}: REFUSED, a symbolic link; copy the file itself there)")
            return False
        if path.is_file():
            return True
        searched.append(f"{path} ({kind}: not there)")
    except OSError as err:  # e.g. a folder without read permission
        searched.append(f"{path} ({kind}: cannot be read, {err.__class__.__name__}: {err.strerror or err})")
    return False


def _search(subdir: str, filename: str, verify: Callable[[Path], T], searched: list[str],
            remember: str | None = None) -> tuple[Path, T | None] | None:
    """The first copy of ``filename`` that passes ``verify``; notes every place tried in ``searched``.

    A corrupt copy or an unsafe archive is reported with a warning and skipped. With ``remember``
    (a description of what the file must hold, e.g. its expected hash), a copy verified before and
    unchanged since (same size, times and inode) is accepted without verifying it again (the
    result is then ``None``), and a copy that passes is remembered: for quick checks that only
    need to know *where* a verified copy is, never for loading.
    """
    for kind, path in _places(subdir, filename):
        if not _present(path, kind, searched):
            continue
        if remember is not None and _stamped(path, remember):
            return path, None
        try:
            result = verify(path)
        except UnsafeArchiveError as err:
            searched.append(f"{path} ({kind}: REFUSED, {err})")
            warnings.warn(f"{path} is refused ({err}); ignoring it and looking further.", stacklevel=3)
            continue
        except CorruptFileError as err:
            searched.append(f"{path} ({kind}: CORRUPT, {err})")
            warnings.warn(f"{path} is corrupt ({err}); ignoring it and looking further.", stacklevel=3)
            continue
        except OSError as err:
            searched.append(f"{path} ({kind}: cannot be read, {err.__class__.__name__}: {err.strerror or err})")
            continue
        if remember is not None:
            _stamp(path, remember)
        return path, result
    return None


def _fetch(name: str, wanted: list[str], url: str | None, dest: Path, verify: Callable[[Path], T],
           searched: list[str], *, max_bytes: int) -> T:
    """Download ``url`` to ``dest`` (verified, atomic, at most ``max_bytes``: see :func:`download_cap`),
    or raise the error listing ``searched``."""
    if url is None:
        raise _unavailable(name, wanted, searched)
    if offline():
        searched.append(f"{url} (download: not tried, DMLIB_OFFLINE is set)")
        raise _unavailable(name, wanted, searched)
    try:
        return _download(url, dest, verify, max_bytes)
    except CacheNotWritableError as err:
        searched.append(f"{url} (download: not possible, {err})")
    except (CorruptFileError, UnsafeArchiveError) as err:
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
    *,
    max_bytes: int,
) -> tuple[Path, T]:
    """Find the first copy of ``filename`` that passes ``verify``, else download it into the cache
    (at most ``max_bytes``, see :func:`download_cap`).

    Returns the path used and what ``verify`` returned (the parsed content, where verifying
    already had to read it). With ``url=None`` nothing is downloaded.
    """
    searched: list[str] = []
    found = _search(subdir, filename, verify, searched)
    if found is not None:
        return found  # type: ignore[return-value]
    dest = cache_dir() / subdir / filename
    return dest, _fetch(name, [filename], url, dest, verify, searched, max_bytes=max_bytes)


def _where(name: str, subdir: str, filename: str, verify: Callable[[Path], Any], remember: str,
           wanted: list[str] | None = None) -> Path:
    """Where a verified copy of ``filename`` is (quick when verified before); never downloads."""
    searched: list[str] = []
    found = _search(subdir, filename, verify, searched, remember=remember)
    if found is None:
        raise _unavailable(name, wanted or [filename], searched)
    return found[0]


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


def not_official(what: str, cap: int, read: bool = True) -> CorruptFileError:
    """The error for content longer than the official file's ``cap`` bytes (e.g. a decompression bomb);
    ``read``: whether reading began (else the size was known from the file system or a header)."""
    stop = "reading stopped there" if read else "refused before reading it"
    return CorruptFileError(f"{what} holds more than {cap:,} bytes, more than the official file, so it is not the "
                            f"official file (a damaged or hostile copy); {stop}. Delete it, or replace it with the "
                            "official file")


def read_capped(stream: IO[bytes], cap: int, what: str) -> bytes:
    """Read ``stream`` to its end in chunks, but never more than ``cap`` bytes (plus one, to notice more).

    For streams that decompress as they are read (gzip, zip members), memory stays bounded by
    ``cap`` however much the content would inflate to.

    Raises:
        CorruptFileError: when the stream holds more than ``cap`` bytes (see :func:`not_official`).

    Example:
        >>> import io
        >>> read_capped(io.BytesIO(b"abc"), 3, "u.genre")
        b'abc'
    """
    parts: list[bytes] = []
    total = 0
    while chunk := stream.read(min(CHUNK, cap + 1 - total)):
        total += len(chunk)
        if total > cap:
            raise not_official(what, cap)
        parts.append(chunk)
    return b"".join(parts)


def gunzip_capped(path: Path, cap: int) -> bytes:
    """The decompressed content of the gzip file ``path``, inflated as a stream that stops past ``cap``.

    Raises:
        CorruptFileError: if it cannot be decompressed, or inflates to more than ``cap`` bytes.

    Example:
        >>> data = gunzip_capped(Path("t10k-labels-idx1-ubyte.gz"), 10_008)  # doctest: +SKIP
    """
    try:
        with gzip.open(path, "rb") as f:
            return read_capped(f, cap, "its decompressed content")
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise CorruptFileError(f"cannot decompress ({err.__class__.__name__}: {err})") from None


def read_zip_member(zf: zipfile.ZipFile, name: str, cap: int) -> bytes:
    """The content of the member ``name``, at most ``cap`` bytes: refused from its header when that
    declares more, then inflated as a stream that stops at the declared size (a header may lie; the
    CRC then fails).

    Raises:
        CorruptFileError: if the member is missing, larger than ``cap`` or does not match its header.

    Example:
        >>> with zipfile.ZipFile("ml-100k.zip") as zf:  # doctest: +SKIP
        ...     data = read_zip_member(zf, "ml-100k/u.genre", 202)
    """
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CorruptFileError(f"the archive holds no {name}") from None
    if info.file_size > cap:
        raise not_official(f"{name} (by its header: {info.file_size:,} bytes)", cap, read=False)
    try:
        with zf.open(info) as f:
            return read_capped(f, cap, name)
    except zipfile.BadZipFile as err:
        raise CorruptFileError(f"{name} does not match its own header ({err}), so it is not the official file (a "
                               "damaged or hostile copy); delete it, or replace it with the official file") from None


def check_size(path: Path, cap: int) -> None:
    """Refuse a file larger than ``cap`` bytes (by its size on disk, before reading anything)."""
    size = path.stat().st_size
    if size > cap:
        raise not_official(f"{path.name} ({size:,} bytes)", cap, read=False)


def _file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- verification record


def _fingerprint(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _read_stamps() -> dict[str, Any]:
    try:
        stamps = json.loads((cache_dir() / STAMPS_FILE).read_text(encoding="utf-8"))
        return stamps if isinstance(stamps, dict) else {}
    except (OSError, ValueError):
        return {}


_recheck = False  # set by status(deep=True): verify every file again, whatever the record says


def _stamped(path: Path, expected: str, fingerprint: list[Any] | None = None) -> bool:
    """True if ``path`` was verified to hold ``expected`` and has not changed since (never during a
    deep check)."""
    if _recheck:
        return False
    entry = _read_stamps().get(str(path))
    try:
        fp = fingerprint if fingerprint is not None else _fingerprint(path)
    except OSError:
        return False
    return isinstance(entry, dict) and entry.get("expected") == expected and entry.get("fingerprint") == fp


def _stamp(path: Path, expected: str, fingerprint: list[Any] | None = None) -> None:
    """Remember that ``path`` was verified to hold ``expected`` (best effort: skipped if unwritable)."""
    try:
        stamps = _read_stamps()
        stamps[str(path)] = {"expected": expected,
                             "fingerprint": fingerprint if fingerprint is not None else _fingerprint(path)}
        _write_atomic(cache_dir() / STAMPS_FILE, json.dumps(stamps, indent=0).encode("utf-8"))
    except OSError:
        pass


def _describe(*parts: Any) -> str:
    """A short digest of what a file must hold (constants, limits), for the verification record."""
    return _sha256(repr(parts).encode("utf-8"))[:32]


# --------------------------------------------------------------------------- archives

MAX_MEMBERS = 200_000  # default bounds of safe_extract
MAX_BYTES = 2_000_000_000


def check_member(archive: Path, m: tarfile.TarInfo, dest: str = "the target folder") -> None:
    """Refuse a tar member that is absolute, climbs out with ``..``, or is not a plain file/folder."""
    p = PurePosixPath(m.name)
    if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
        raise UnsafeArchiveError(
            f"{archive.name}: member {m.name!r} would be written outside {dest} or is not a "
            "plain file; refusing to extract anything from this archive"
        )


def safe_extract(archive: Path, dest: Path, max_members: int = MAX_MEMBERS, max_bytes: int = MAX_BYTES) -> None:
    """Extract a tar archive into ``dest``, refusing any member that would escape it, and bounded.

    Every member header is checked before anything is written: absolute paths, ``..``
    components, links and device files are refused, and so is an archive with more than
    ``max_members`` members or more than ``max_bytes`` bytes in all.

    Raises:
        UnsafeArchiveError: naming the offending member or the bound exceeded.
        CorruptFileError: if the archive cannot be read (truncated, not a tar.gz).

    Example:
        >>> safe_extract(Path("aclImdb.tar.gz"), Path("/tmp/out"), max_bytes=500_000_000)  # doctest: +SKIP
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members, total = [], 0
            for m in tar:  # headers only: nothing is written before every member was checked
                members.append(m)
                total += m.size
                check_member(archive, m, str(dest))
                if len(members) > max_members or total > max_bytes:
                    raise UnsafeArchiveError(
                        f"{archive.name}: more than {max_members:,} members or {max_bytes:,} bytes; "
                        "refusing to extract anything from this archive")
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
        raise CorruptFileError(f"cannot read the archive ({err.__class__.__name__}: {err})") from None


# --------------------------------------------------------------------------- prepared cache

_META = "__dmlib_meta__"
_FORMAT = 2


def _prepared_path(key: str) -> Path:
    return cache_dir() / "dmlib-prepared" / f"{key}.npz"


def _content_hash(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def _save_prepared(key: str, arrays: dict[str, np.ndarray], sources: dict[str, str]) -> None:
    """Save arrays as an uncompressed npz (no pickle), atomically, bound to the verified sources
    they were built from (``sources``: name -> hash) and to a hash of their own content.

    An unwritable cache is reported once (naming ``DMLIB_CACHE``) and the data is simply not cached.
    """
    meta = {"format": _FORMAT, "key": key, "sources": sources, "content": _content_hash(arrays)}
    path = _prepared_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{key}.", suffix=".npz", dir=path.parent)
    except OSError as err:
        _warn_once("prepared", _cache_message(err, "the prepared data cannot be cached, so every load "
                                                   "reads and verifies the source files again"))
        return
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, **{_META: np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)})
        os.replace(tmp_name, path)
        path.with_suffix(".json").unlink(missing_ok=True)  # the unbound note of format 1
    except OSError as err:
        _warn_once("prepared", _cache_message(err, "the prepared data cannot be cached"))
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _prepared_meta(z: Any) -> dict[str, Any] | None:
    if _META not in z.files:
        return None
    try:
        meta = json.loads(z[_META].tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def _load_prepared(key: str, sources: dict[str, str], names: list[str]) -> dict[str, np.ndarray] | None:
    """Load a prepared npz if it is bound to exactly these ``sources`` and holds exactly the arrays
    ``names`` with the content hash it was saved with; else None (the caller rebuilds it).

    A file that is damaged (zip CRC), holds other arrays, or whose content hash disagrees is
    reported with a warning; one from an older format or built from other sources (an update
    changed the expected hashes) is rebuilt silently.
    """
    path = _prepared_path(key)
    try:
        if not path.is_file() or path.is_symlink():
            return None
    except OSError:  # an unreadable cache folder: as if there were no prepared file
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = _prepared_meta(z)
            if meta is None or meta.get("format") != _FORMAT or meta.get("key") != key:
                return None
            if meta.get("sources") != sources:
                return None
            if sorted(set(z.files) - {_META}) != sorted(names):
                warnings.warn(f"{path} holds {sorted(set(z.files) - {_META})}, expected {sorted(names)}; "
                              "rebuilding it from the verified source.", stacklevel=3)
                return None
            arrays = {k: z[k] for k in names}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        warnings.warn(f"{path} is damaged; rebuilding it from the verified source.", stacklevel=3)
        return None
    if _content_hash(arrays) != meta.get("content"):
        warnings.warn(f"{path} does not hold what it was saved with (content hash differs); rebuilding it "
                      "from the verified source.", stacklevel=3)
        return None
    return arrays


def _prepared_problem(key: str, sources: dict[str, str], names: list[str]) -> str | None:
    """None if the prepared file of ``key`` loads (bound to ``sources``, holding ``names`` with its
    content hash); else why not, as a line of the searched list."""
    path = _prepared_path(key)
    try:
        if not path.is_file() and not path.is_symlink():
            return f"{path} (prepared: not there)"
        with np.load(path, allow_pickle=False) as z:
            meta = _prepared_meta(z)
        if meta is None or meta.get("format") != _FORMAT or meta.get("key") != key or meta.get("sources") != sources:
            return f"{path} (prepared: built from other sources or by another version, not used)"
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        pass  # damaged: _load_prepared says so
    if _load_prepared(key, sources, names) is None:
        return f"{path} (prepared: CORRUPT, it does not load: damaged, or not what it was saved with)"
    return None


def _or_prepared(find_sources: Callable[[], str], name: str, wanted: list[str],
                 prepared: dict[str, tuple[dict[str, str], list[str]]]) -> str:
    """Where the verified sources are, else where the prepared files are, if every one of them loads
    (``prepared``: key -> (its sources, its arrays), the content hash included, so that "found"
    means "loads"). Else DatasetUnavailableError listing the sources searched and each prepared file.
    """
    try:
        return find_sources()
    except DatasetUnavailableError as err:
        problems = [p for key, (sources, names) in prepared.items() if (p := _prepared_problem(key, sources, names))]
        if problems:
            raise _unavailable(name, wanted, err.searched + problems) from None
        keys = list(prepared)
        where = _prepared_path(keys[0]) if len(keys) == 1 else _prepared_path(keys[0]).parent
        return f"{where} (prepared from verified files)"


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Prepared:
    """The prepared files of a dataset, and how to re-derive them (for ``datasets verify --deep``).

    Attributes:
        keys: the prepared files, ``dmlib-prepared/<key>.npz``.
        sources: what the file of a key is bound to (source -> hash), as its loader saves it.
        build: the arrays of the given keys, re-derived from the verified sources without any
            download (raises :class:`DatasetUnavailableError` when the sources are not available).
    """

    keys: tuple[str, ...]
    sources: Callable[[str], dict[str, str]]
    build: Callable[[list[str]], dict[str, dict[str, np.ndarray]]]


@dataclass(frozen=True)
class DatasetInfo:
    """What the CLI and the doctor know about a dataset.

    Attributes:
        name: the name used by ``python -m dmlib datasets fetch NAME``.
        description: one line.
        licence: the licence or terms of use.
        load: loads everything (``fetch`` calls it; it may download).
        find: where a verified copy is, as text; raises :class:`DatasetUnavailableError` when there
            is none. Never downloads, never extracts or copies data into the cache (it may record
            which files it verified, so that the next check is quick).
        optional: no notebook needs it by default (missing is reported, not an error).
        checked_when_loaded: ``find`` only checks that a plausible copy is there (sizes, header)
            without parsing it (for an optional dataset, so that quick checks stay quick); the
            status is then ``present``, not ``found`` (which means: it loads).
        prepared: its files in the prepared cache, for ``datasets verify --deep``.
    """

    name: str
    description: str
    licence: str
    load: Callable[[], Any]
    find: Callable[[], str]
    optional: bool = False
    checked_when_loaded: bool = False
    prepared: Prepared | None = None


DATASETS: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset to :data:`DATASETS` (what ``status``, ``verify``, ``fetch`` and the doctor list).

    Example:
        >>> register(DatasetInfo("toy", "a toy set", "CC0", lambda: None, lambda: "here"))  # doctest: +SKIP
    """
    DATASETS[info.name] = info
    return info


def status(deep: bool = False) -> pd.DataFrame:
    """One row per dataset: where a verified copy is, or why none is (no download is tried, nothing
    is extracted; files verified before and unchanged since are not read again, unless ``deep``).

    The ``status`` column is ``found`` (it loads: verified sources, or prepared files that pass
    their checks), ``missing``, ``corrupt``, ``present`` (an optional dataset whose copy is only
    checked when loaded), with `` (optional)`` added for a dataset no notebook needs by default.
    The ``where`` column says which check a file passed where there are several (e.g. Beijing).

    Args:
        deep: verify every source file again, ignoring the record of files verified before.

    Example:
        >>> status()  # doctest: +SKIP
                 dataset   status                              where
        0  fashion-mnist    found  /path/to/shared/datasets/fashion-mnist
    """
    global _recheck
    rows = []
    _recheck = deep
    try:
        for d in DATASETS.values():
            suffix = " (optional)" if d.optional else ""
            try:
                where = d.find()
            except (DatasetError, OSError) as err:
                corrupt = not isinstance(err, DatasetUnavailableError) or err.corrupt
                rows.append({"dataset": d.name, "status": ("corrupt" if corrupt else "missing") + suffix,
                             "where": f"run `{CLI} datasets use-mirror PATH` (a folder holding it), or with "
                                      f"internet `{CLI} datasets fetch {d.name}`"})
                continue
            if d.checked_when_loaded:
                rows.append({"dataset": d.name, "status": "present" + suffix, "where": f"{where} (checked when loaded)"})
            else:
                rows.append({"dataset": d.name, "status": "found", "where": where})
    finally:
        _recheck = False
    return pd.DataFrame(rows)


def _stored_arrays(key: str) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """The metadata and arrays of a prepared file as stored (no check), or (None, {}) if unreadable."""
    try:
        with np.load(_prepared_path(key), allow_pickle=False) as z:
            return _prepared_meta(z), {k: z[k] for k in z.files if k != _META}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None, {}


def verify_prepared() -> pd.DataFrame:
    """Re-derive every file of the prepared cache from its verified sources and compare (the deep part
    of ``python -m dmlib datasets verify --deep``); rebuild every file that differs.

    The prepared files are checked on every load against the hashes stored inside them, which
    catches damage but not a forgery (whoever can write the cache can recompute those hashes, as
    whoever can write the virtual environment can change the code). This re-establishes trust: the
    arrays are parsed again from the sources, which are verified by the official hashes.

    Returns:
        One row per prepared file present: ``file``, ``dataset``, ``result`` (``matches its verified
        sources``, ``DIFFERS from its verified sources: rebuilt from them``, or why it cannot be
        re-derived) and ``ok`` (False for the last two).

    Example:
        >>> verify_prepared()  # doctest: +SKIP
                       file        dataset                         result    ok
        0  fashion-mnist.npz  fashion-mnist  matches its verified sources  True
    """
    rows = []
    for d in DATASETS.values():
        if d.prepared is None:
            continue
        present = [k for k in d.prepared.keys if _prepared_path(k).exists() or _prepared_path(k).is_symlink()]
        if not present:
            continue
        try:
            fresh = d.prepared.build(present)
        except (DatasetError, OSError) as err:
            why = "its sources are missing" if isinstance(err, DatasetUnavailableError) and not err.corrupt else \
                "its sources are missing or corrupt"
            for key in present:
                rows.append({"file": _prepared_path(key).name, "dataset": d.name, "ok": False,
                             "result": f"cannot be re-derived: {why} (see above); record a folder holding them with "
                                       f"`{CLI} datasets use-mirror PATH`, or delete {_prepared_path(key)}"})
            continue
        for key in present:
            sources, expected = d.prepared.sources(key), _content_hash(fresh[key])

            def matches() -> bool:
                if _prepared_path(key).is_symlink():  # loads never follow one: rebuilt as a plain file
                    return False
                meta, stored = _stored_arrays(key)
                return (meta is not None and meta.get("format") == _FORMAT and meta.get("key") == key
                        and meta.get("sources") == sources and meta.get("content") == expected
                        and sorted(stored) == sorted(fresh[key]) and _content_hash(stored) == expected)

            if matches():
                result, ok = "matches its verified sources", True
            else:
                _save_prepared(key, fresh[key], sources)
                result = ("DIFFERS from its verified sources: rebuilt from them" if matches() else
                          f"DIFFERS from its verified sources and could not be rebuilt: delete {_prepared_path(key)}")
                ok = False
            rows.append({"file": _prepared_path(key).name, "dataset": d.name, "result": result, "ok": ok})
    return pd.DataFrame(rows, columns=["file", "dataset", "result", "ok"])


def missing_hint(table: pd.DataFrame) -> str | None:
    """None when ``table`` (from :func:`status`) shows every dataset the notebooks need as found; else
    a paragraph naming the others and the commands that fix it (for ``doctor`` and ``datasets verify``).

    Example:
        >>> print(missing_hint(status()))  # doctest: +SKIP
    """
    needed = ~table["status"].str.endswith("(optional)")
    failed = table[needed & (table["status"] != "found")]["dataset"].tolist()
    if not failed:
        return None
    return (f"\nNot available: {', '.join(failed)}. To fix: record a folder holding them once with "
            f"`{CLI} datasets use-mirror PATH` (or set DMLIB_DATA_MIRRORS=PATH), or with internet run "
            f"`{CLI} datasets fetch {' '.join(failed)}`; then check again with `make doctor` (or "
            f"`{CLI} datasets verify`).")


def unavailable_message(names: list[str] | None = None) -> str | None:
    """None when every dataset the notebooks need (the non-optional ones, or ``names``) is available;
    else one message saying which are not and how to fix it. Quick after the first check.

    Example:
        >>> unavailable_message()  # doctest: +SKIP
    """
    table = status().set_index("dataset")
    wanted = names if names is not None else [d.name for d in DATASETS.values() if not d.optional]
    bad = [f"{n} ({table.loc[n, 'status']})" for n in wanted if table.loc[n, "status"] != "found"]
    if not bad:
        return None
    where = os.pathsep.join(map(str, mirrors())) or "none"
    return (
        f"The datasets the notebooks need are not available: {', '.join(bad)} (mirrors searched: {where}; "
        f"cache: {cache_dir()}).\n"
        "Fix it in one of three ways, then run the tests again:\n"
        "  - point DMLIB_DATA_MIRRORS at a folder holding them: `export DMLIB_DATA_MIRRORS=/path/to/datasets`;\n"
        "  - or record that folder once: `.venv/bin/python -m dmlib datasets use-mirror /path/to/datasets`;\n"
        "  - or, with internet, download them: `.venv/bin/python -m dmlib datasets fetch "
        f"{' '.join(b.split(' ')[0] for b in bad)}`.\n"
        "`.venv/bin/python -m dmlib datasets verify` shows every place searched; see the README section "
        "\"Data, and working offline\"."
    )
