"""An offline install kit: the wheels of the pinned environment, the verified datasets and the commands
that set a classroom machine up from them, with no package index and no internet.

``python -m dmlib kit`` (``make kit``) writes, by default into ``kit/`` at the repository root:

* ``wheels/``: a wheelhouse for this platform and Python version: ``pip download -r requirements.txt``
  (wheels only, so that the classroom machine needs no compiler), the build backend that
  ``pyproject.toml`` names (so that ``pip install -e .`` builds offline), with ``--with-jax`` /
  ``--with-torch`` the pins of ``pyproject.toml``'s extras (what ``make extras`` installs, from the
  same sources: this machine's pip configuration), and the project's own wheel
  (``pip wheel --no-deps``, built from a temporary copy of its sources, so nothing is written into
  the repository);
* ``data/``: the dataset mirror, copied dataset by dataset after dmlib's own checks
  (:func:`dmlib.datasets.status` with ``deep=True``, searching that folder alone), then checked
  again in the kit; a dataset that fails them is not copied, and the report says so;
* ``book/``: the static site of the notebooks (``make book``, :mod:`dmlib.book`), copied when the
  repository's ``book/`` holds one (``make kit`` builds it first);
* ``INSTALL.md``: the commands for the classroom machine, what the kit holds and what it lacks.

Wheels fit one platform and Python version: build the kit on a machine like the classroom's (same
operating system family, processor architecture and ``python3`` minor version).

Example:
    >>> report = build_kit(Path("kit"))  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (``requirements.txt``, ``pyproject.toml``, the default ``kit/``)."""
BACKENDS = ("tensorflow", "jax", "torch")
"""TensorFlow comes with ``requirements.txt``; JAX and PyTorch with ``pyproject.toml``'s extras."""
MARKER = ".dmlib-kit"
"""A file in every kit folder: only a folder holding it is ever emptied (to build the kit again)."""
REFUSED = ("notebooks", "results")
"""The repository's folders a kit is never written into (the teacher edition, the recorded results)."""
MB = 1_000_000
_BAD = ("CORRUPT", "INCOMPLETE", "REFUSED", "cannot be read")

Download = Callable[[Sequence[str], Path], None]
"""Puts the distributions named by pip arguments (requirement specifiers, ``-r FILE``, ``-c FILE``) and
their dependencies into a folder; raises :class:`KitError` (or ``OSError``) when it cannot."""
BuildWheel = Callable[[Path, Path], Path]
"""Builds the wheel of a project folder into a folder; returns the wheel's path."""
Verify = Callable[[Path], "pd.DataFrame"]
"""The status table of the datasets (``dataset``, ``status``, ``where``, ``why``), searched in one folder alone."""


class KitError(ValueError):
    """A refused output folder, an unknown backend, a missing file, or a download or build that failed."""


@dataclass(frozen=True)
class Skipped:
    """Something not in the kit, and why.

    Attributes:
        what: a backend (``jax``), a dataset (``beijing-pm25``) or a file of the data folder.
        why: the reason, in words.
        problem: True when something the kit was asked for (a backend, a dataset the notebooks need)
            is missing from it; False for what needs no copy (a dataset generated offline, an
            optional one absent from the folder, a file no dataset uses).
    """

    what: str
    why: str
    problem: bool = True


@dataclass
class KitReport:
    """What :func:`build_kit` wrote.

    Attributes:
        out: the kit folder.
        wheels: the file names in ``wheels/``.
        wheels_bytes: their size.
        data_bytes: the size of everything in ``data/``.
        book_bytes: the size of the site in ``book/`` (0 when the kit has none).
        total_bytes: the size of everything in the kit (``wheels/``, ``data/``, ``book/``, ``INSTALL.md``, the marker).
        datasets: the datasets copied into ``data/``.
        skipped: what is not in the kit, and why.
        backends: the Keras backends whose wheels are in the kit.
        python: the Python version the wheels are for, e.g. ``3.11``.
        platform: the platform they are for, e.g. ``linux-x86_64``.
        seconds: how long the build took.
    """

    out: Path
    wheels: list[str] = field(default_factory=list)
    wheels_bytes: int = 0
    data_bytes: int = 0
    book_bytes: int = 0
    total_bytes: int = 0
    datasets: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    backends: list[str] = field(default_factory=list)
    python: str = f"{sys.version_info.major}.{sys.version_info.minor}"
    platform: str = sysconfig.get_platform()
    seconds: float = 0.0

    @property
    def wheel_count(self) -> int:
        """How many wheels ``wheels/`` holds."""
        return len(self.wheels)

    @property
    def other_bytes(self) -> int:
        """The size of what is neither in ``wheels/``, ``data/`` nor ``book/`` (``INSTALL.md``, the marker)."""
        return self.total_bytes - self.wheels_bytes - self.data_bytes - self.book_bytes

    @property
    def wheels_mb(self) -> float:
        """``wheels_bytes`` in MB (10^6 bytes)."""
        return self.wheels_bytes / MB

    @property
    def data_mb(self) -> float:
        """``data_bytes`` in MB (10^6 bytes)."""
        return self.data_bytes / MB

    @property
    def total_mb(self) -> float:
        """``total_bytes`` in MB (10^6 bytes)."""
        return self.total_bytes / MB

    @property
    def complete(self) -> bool:
        """True when nothing the kit was asked for is missing from it (see :attr:`Skipped.problem`)."""
        return not any(s.problem for s in self.skipped)

    def summary(self) -> str:
        """The report in a few lines, as ``python -m dmlib kit`` prints it."""
        lines = [f"Kit written to {self.out} in {self.seconds:.0f} s, for Python {self.python} on {self.platform}:",
                 f"  wheels/  {self.wheel_count} wheel{'s' * (self.wheel_count != 1)}, {self.wheels_mb:.1f} MB "
                 f"({', '.join(self.backends)})",
                 f"  data/    {len(self.datasets)} dataset{'s' * (len(self.datasets) != 1)}, {self.data_mb:.1f} MB"
                 + (f": {', '.join(self.datasets)}" if self.datasets else ""),
                 *([f"  book/    the site of the notebooks, {self.book_bytes / MB:.1f} MB (open book/index.html)"]
                   if self.book_bytes else []),
                 f"  total    {self.total_mb:.1f} MB (MB = 10^6 bytes)"]
        missing, not_needed = [s for s in self.skipped if s.problem], [s for s in self.skipped if not s.problem]
        if missing:
            lines.append("MISSING from the kit:")
            lines += [f"  - {s.what}: {s.why}" for s in missing]
        if not_needed:
            lines.append("Not copied, and not needed:")
            lines += [f"  - {s.what}: {s.why}" for s in not_needed]
        lines.append(f"On the classroom machine: follow {self.out / 'INSTALL.md'}." if self.complete else
                     f"The kit is INCOMPLETE (see above); {self.out / 'INSTALL.md'} says what it holds.")
        return "\n".join(lines)


# --------------------------------------------------------------------------- pip


def _pip_failed(what: str, done: subprocess.CompletedProcess[str]) -> KitError:
    tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-12:])
    return KitError(f"{what} failed (exit status {done.returncode}):\n{tail}")


def pip_download(args: Sequence[str], dest: Path) -> None:
    """``pip download --only-binary=:all: --dest DEST ARGS`` with this interpreter's pip (the venv's), so
    with its configuration (index, find-links, constraints): the default ``download`` of :func:`build_kit`.

    Args:
        args: pip arguments: requirement specifiers, ``-r FILE``, ``-c FILE``.
        dest: the wheelhouse.

    Raises:
        KitError: when pip fails (the message ends with pip's last lines).
    """
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--progress-bar", "off",
           "--only-binary=:all:", "--dest", str(dest), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise _pip_failed(f"pip download {' '.join(args)}", done)


def _project_sources(project: Path, copy: Path) -> None:
    """Copy what building ``project``'s wheel reads: its top-level files and its packages (the top-level
    folders holding an ``__init__.py``), without caches; not notebooks, results, virtual environments."""
    copy.mkdir(parents=True, exist_ok=True)
    for entry in sorted(project.iterdir()):
        if entry.is_symlink() or entry.name.startswith("."):
            continue
        if entry.is_file():
            shutil.copyfile(entry, copy / entry.name)
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            shutil.copytree(entry, copy / entry.name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def pip_wheel(project: Path, dest: Path) -> Path:
    """``pip wheel --no-deps`` of ``project`` into ``dest``, from a temporary copy of its sources (a build
    writes ``build/`` and ``*.egg-info`` into the folder it builds); the default ``build_wheel`` of
    :func:`build_kit`.

    Without build isolation when this interpreter has setuptools (no package index needed), else
    with it (pip fetches the build backend).

    Returns:
        The wheel written.

    Raises:
        KitError: when pip fails or writes no wheel.
    """
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    with tempfile.TemporaryDirectory(prefix="dmlib-kit-src-") as tmp:
        src = Path(tmp) / project.name
        _project_sources(project, src)
        isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
        cmd = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", *isolation,
               "--wheel-dir", str(dest), str(src)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise _pip_failed(f"pip wheel --no-deps {project}", done)
    new = sorted(set(dest.glob("*.whl")) - before) or sorted(dest.glob("*.whl"), key=lambda p: p.stat().st_mtime)[-1:]
    if not new:
        raise KitError(f"pip wheel --no-deps {project} wrote no wheel into {dest}")
    return new[-1]


def _pyproject(root: Path) -> dict[str, Any]:
    """``root/pyproject.toml`` parsed ({} when absent or when this Python cannot read TOML)."""
    path = root / "pyproject.toml"
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            return {}
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise KitError(f"cannot read {path}: {err}") from None


# --------------------------------------------------------------------------- data


@contextmanager
def _searching_only(folder: Path) -> Iterator[None]:
    """dmlib's datasets looked for in ``folder`` alone: no other mirror (neither ``DMLIB_DATA_MIRRORS``
    nor the recorded ones, which live in the cache), an empty temporary cache, no download."""
    from dmlib.runner import _env  # the runner's way of setting environment variables for a while

    with tempfile.TemporaryDirectory(prefix="dmlib-kit-cache-") as cache, \
            _env(DMLIB_DATA_MIRRORS=str(folder), DMLIB_CACHE=cache, DMLIB_OFFLINE="1"):
        yield


def verify_folder(folder: Path) -> pd.DataFrame:
    """dmlib's own checks of every dataset, searched in ``folder`` alone, every file verified again
    (:func:`dmlib.datasets.status` with ``deep=True``); the default ``verify`` of :func:`build_kit`.

    Nothing is downloaded, extracted or written anywhere but a temporary cache, deleted afterwards.
    (A system folder, e.g. Debian's ``/usr/share/datasets``, is still searched after ``folder``.)

    Returns:
        The status table (``dataset``, ``status``, ``where``) with a ``why`` column: for a dataset not
        found, each copy in ``folder`` that failed its check and why, or that there is none.
    """
    from dmlib import datasets as ds

    folder = Path(folder).resolve()
    with _searching_only(folder), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each failed copy is named in the `why` column instead
        table = ds.status(deep=True)
        whys = []
        for name, status in zip(table["dataset"], table["status"]):
            if status.startswith(("found", "present")):
                whys.append("")
                continue
            try:
                ds.DATASETS[name].find()
                whys.append("")
            except (ds.DatasetError, OSError) as err:
                searched = getattr(err, "searched", None) or [str(err)]
                bad = [s for s in searched if s.startswith(str(folder)) and any(w in s for w in _BAD)]
                whys.append("; ".join(s if len(s) <= 300 else s[:297] + "..." for s in bad)
                            or f"no copy in {folder}")
    table["why"] = whys
    return table


def _named(where: str, entries: list[Path]) -> list[Path]:
    """The entries (top-level files and folders of the data folder) that a status row's ``where`` names."""
    hits = []
    for entry in entries:
        text, start = str(entry), 0
        while (i := where.find(text, start)) != -1:
            end = i + len(text)
            if end == len(where) or where[end] in "/, (":
                hits.append(entry)
                break
            start = i + 1
    return hits


def _copy_entry(entry: Path, dest: Path, skipped: list[Skipped]) -> None:
    """Copy a file, or a folder's regular files (a symbolic link, which dmlib refuses, is left out)."""
    if entry.is_file():
        shutil.copyfile(entry, dest)
        return
    for dirpath, dirnames, filenames in os.walk(entry):
        here = Path(dirpath)
        target = dest / here.relative_to(entry)
        target.mkdir(parents=True, exist_ok=True)
        for d in [d for d in dirnames if (here / d).is_symlink()]:
            dirnames.remove(d)
            skipped.append(Skipped(str(here / d), "not copied: a symbolic link (dmlib refuses links)", problem=False))
        for name in filenames:
            path = here / name
            if path.is_symlink() or not path.is_file():
                skipped.append(Skipped(str(path), "not copied: a symbolic link or not a regular file", problem=False))
                continue
            shutil.copyfile(path, target / name)


def _copy_data(folder: Path, dest: Path, verify: Verify, log: Callable[[str], None]) -> tuple[list[str], list[Skipped]]:
    """Copy every dataset of ``folder`` that passes ``verify`` into ``dest``, then verify the copy."""
    log(f"verifying the datasets in {folder} (dmlib's checks, every file read again) ...")
    table = verify(folder)
    entries = sorted(folder.iterdir())
    copied: list[str] = []
    skipped: list[Skipped] = []
    wanted: dict[Path, None] = {}
    uses: dict[str, list[Path]] = {}  # dataset -> the entries of `folder` it was found in
    for row in table.to_dict("records"):
        name, status, where = row["dataset"], row["status"], row["where"]
        optional = status.endswith("(optional)")
        kind = status.replace(" (optional)", "")
        if kind not in ("found", "present"):
            why = row.get("why") or f"no copy in {folder}"
            skipped.append(Skipped(name, f"not copied, {kind}{' (optional)' * optional}: {why}", problem=not optional))
            continue
        named = _named(where, entries)
        if named:
            wanted.update(dict.fromkeys(named))
            uses[name] = named
            copied.append(name)
        elif str(folder) in where:
            skipped.append(Skipped(name, f"not copied: its files lie loose at the top of {folder} ({where}); "
                                         "move them into their own subfolder (as in the README's mirror) to have "
                                         "them copied",
                                   problem=not optional))
        elif os.sep in where:
            skipped.append(Skipped(name, f"not copied: no verified copy in {folder} (one is at {where})",
                                   problem=not optional))
        else:
            skipped.append(Skipped(name, f"nothing to copy ({where})", problem=False))
    for entry in entries:
        if entry not in wanted:
            skipped.append(Skipped(entry.name, f"not copied: no dataset's check uses it (in {folder})", problem=False))
    dest.mkdir(parents=True, exist_ok=True)
    log(f"copying {len(copied)} datasets into {dest} ...")
    for entry in wanted:
        _copy_entry(entry, dest / entry.name, skipped)
    if copied:  # the copy must pass the same checks (a full disk or a bad medium would show here)
        again = {r["dataset"]: r for r in verify(dest).to_dict("records")}
        for name in list(copied):
            row = again.get(name, {"status": "missing", "where": ""})
            if not (row["status"].startswith(("found", "present")) and str(dest) in row["where"]):
                copied.remove(name)
                for entry in uses[name]:  # out of the kit, unless a dataset still in it uses the same entry
                    if not any(entry in uses[other] for other in copied):
                        target = dest / entry.name
                        if target.is_dir():
                            shutil.rmtree(target)
                        else:
                            target.unlink(missing_ok=True)
                skipped.append(Skipped(name, f"copied into {dest}, but the copy fails dmlib's checks ({row['status']}"
                                             f"{': ' + row['why'] if row.get('why') else ''}); check the disk and "
                                             "build the kit again"))
    return copied, skipped


# --------------------------------------------------------------------------- the kit


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) \
        if folder.is_dir() else 0


def prepare_folder(out: Path, root: Path, *, what: str, marker: str, note: str, default: str,
                   error: type[ValueError] = KitError) -> None:
    """Make ``out`` an empty folder holding just the file ``marker`` (with the text ``note``), ready for a
    build of ``what`` (``kit``, ``site``); the kit and the site (:mod:`dmlib.book`) share it.

    Refuses a folder inside ``root``'s notebooks/ or results/ (the teacher edition, the recorded results),
    a file, and a non-empty folder without ``marker``; empties an earlier build (a folder with ``marker``),
    keeping the folder itself (it may be a mounted USB stick).

    Raises:
        error: for a refused ``out``, with a message that says what to choose instead (``default``).
    """
    for name in REFUSED:
        folder = (root / name).resolve()
        if _inside(out, folder):
            raise error(f"refusing to write the {what} into {out}: that is {'' if out == folder else 'inside '}"
                        f"the repository's {name}/ folder; choose another folder, e.g. the default {default}")
    if out.exists() and not out.is_dir():
        raise error(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / marker).is_file():
            raise error(f"refusing to write the {what} into {out}: the folder is not empty and holds no earlier "
                        f"{what} (no {marker} file); choose an empty or new folder")
        for entry in out.iterdir():  # an earlier build: built again from scratch, so nothing stale stays
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / marker).write_text(note, encoding="utf-8")


def _prepare(out: Path, root: Path, data: Path | None) -> None:
    """Refuse an output folder inside the repository's notebooks/ or results/, overlapping the data
    folder, or holding anything but an earlier kit; empty an earlier kit."""
    if data is not None and (_inside(out, data) or _inside(data, out)):
        raise KitError(f"refusing to write the kit into {out}: it overlaps the data folder {data}; "
                       "choose another folder")
    prepare_folder(out, root, what="kit", marker=MARKER, default="kit/",
                   note="dmlib offline install kit (python -m dmlib kit); see INSTALL.md\n")


def _kit_line(out: Path, root: Path) -> str:
    """INSTALL.md's ``KIT=...`` line: the path relative to the repository when the kit lies in it (it
    travels with the clone), else a placeholder for where it will be on the classroom machine."""
    try:
        return f"KIT={out.relative_to(root)}"
    except ValueError:
        return f"KIT=/path/to/{out.name}   # where this folder is on the classroom machine (built as {out})"


def _install_md(report: KitReport, root: Path, extras: dict[str, list[str]]) -> str:
    """The text of INSTALL.md."""
    from dmlib import datasets as ds

    pip = '.venv/bin/pip install --no-index --find-links "$KIT/wheels"'
    lines = [
        "# Offline install kit of the workbook",
        "",
        f"Written on {date.today().isoformat()} by `python -m dmlib kit` (`make kit`), for **Python "
        f"{report.python} on {report.platform}**: the wheels fit only that Python version and platform.",
        "",
        "| folder | holds | size |",
        "|---|---|---|",
        f"| `wheels/` | {report.wheel_count} wheels: the pins of `requirements.txt` ({', '.join(report.backends)} "
        "backend" + "s" * (len(report.backends) > 1) + "), the build backend that `pip install -e .` needs, "
        f"the workbook's own wheel | {report.wheels_mb:.1f} MB |",
        f"| `data/` | {len(report.datasets)} datasets (below), each verified by dmlib before and after copying | "
        f"{report.data_mb:.1f} MB |",
        *([f"| `book/` | the notebooks as a static site, read in a browser without installing anything: open "
           f"`book/index.html` | {report.book_bytes / MB:.1f} MB |"] if report.book_bytes else []),
        "",
        "## On the classroom machine (no internet, no package index)",
        "",
        "In the workbook's folder (the clone, or a copy of it), with `KIT` the folder holding this file:",
        "",
        "```bash",
        _kit_line(report.out, root),
        f"python3 -m venv .venv && {pip} -r requirements.txt && {pip} --no-deps -e . && touch .venv/.installed",
        '.venv/bin/python -m dmlib datasets use-mirror "$KIT/data"' if report.datasets else
        "# (this kit holds no datasets: see \"MISSING from the kit\" below)",
        "```",
        "",
        "The first command is what `make` does on first use (README, \"The two commands\"), from the kit's "
        "wheels instead of the package index; `touch .venv/.installed` tells `make` that `.venv` is ready, "
        "so `make lab` and `make test` then work as usual. The second records the kit's data folder for every "
        "later session (or set `DMLIB_DATA_MIRRORS=\"$KIT/data\"` in every shell); "
        "`.venv/bin/python -m dmlib datasets verify` checks it.",
    ]
    for backend, pins in extras.items():
        lines += ["", f"{backend} backend: `{pip} {' '.join(pins)}`, then `KERAS_BACKEND={backend}`."]
    if report.datasets:
        lines += ["", "## The datasets, and their terms", "",
                  "Each keeps its own terms: pass the kit on only as they allow.", ""]
        lines += [f"- {n}: {ds.DATASETS[n].licence if n in ds.DATASETS else 'see its source'}" for n in report.datasets]
    missing, not_needed = [s for s in report.skipped if s.problem], [s for s in report.skipped if not s.problem]
    if missing:
        lines += ["", "## MISSING from the kit", ""] + [f"- {s.what}: {s.why}" for s in missing]
    if not_needed:
        lines += ["", "## Not copied, and not needed", ""] + [f"- {s.what}: {s.why}" for s in not_needed]
    return "\n".join(lines) + "\n"


def build_kit(out: Path, *, backends: Sequence[str] = ("tensorflow",), data: Path | None = None,
              download: Download | None = None, build_wheel: BuildWheel | None = None,
              verify: Verify | None = None, root: Path | None = None,
              log: Callable[[str], None] | None = None) -> KitReport:
    """Write an offline install kit into ``out``: ``wheels/``, ``data/`` and ``INSTALL.md``.

    ``out`` is created when missing; an earlier kit there (a folder holding the ``.dmlib-kit`` file) is
    emptied and built again; any other non-empty folder is refused. A backend whose wheels cannot be
    downloaded and a dataset that fails verification are left out and listed in the report's
    ``skipped`` (the kit is then not :attr:`KitReport.complete`).

    Args:
        out: the kit folder, e.g. ``kit/`` at the repository root.
        backends: Keras backends: ``tensorflow`` (always in, with ``requirements.txt``), ``jax``, ``torch``.
        data: the dataset folder to copy; default: the first mirror dmlib knows (``DMLIB_DATA_MIRRORS``,
            then those recorded with ``python -m dmlib datasets use-mirror``).
        download: fills the wheelhouse (default :func:`pip_download`); injectable, so tests run offline.
        build_wheel: builds the project's own wheel (default :func:`pip_wheel`).
        verify: checks the datasets of a folder (default :func:`verify_folder`).
        root: the project (``requirements.txt``, ``pyproject.toml``; its ``notebooks/`` and ``results/``
            are refused as ``out``); default: this repository.
        log: called with one line per step (the command line prints them).

    Returns:
        The report: wheels, sizes, datasets, what was skipped and why, time taken.

    Raises:
        KitError: (a ``ValueError``) for a refused ``out``, an unknown backend, a ``data`` that is not a
            folder, no ``requirements.txt``, or when the wheels of ``requirements.txt`` or the project's
            wheel cannot be had (the message ends with pip's last lines).
        OSError: when ``out`` cannot be written.
    """
    from dmlib import datasets as ds

    start = time.perf_counter()
    root = Path(root or ROOT).resolve()
    download = download or pip_download
    build = build_wheel or pip_wheel
    verify = verify or verify_folder
    log = log or (lambda line: None)
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise KitError(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    requirements = root / "requirements.txt"
    if not requirements.is_file():
        raise KitError(f"{requirements} not found: the kit's wheels are the pins of that file")
    out = Path(out).expanduser().resolve()
    if data is not None:
        data = Path(data).expanduser().resolve()
        if not data.is_dir():
            raise KitError(f"--data {data} is not a folder; give the folder that holds the datasets "
                           "(fashion-mnist/, aclImdb.tar.gz, ...)")
        no_data = ""
    else:
        known = ds.mirrors()
        data = known[0].resolve() if known and known[0].is_dir() else None
        no_data = (f"the first mirror dmlib knows, {known[0]}, is not a folder" if known and data is None else
                   "no dataset folder given (`--data DIR`) and no mirror known (DMLIB_DATA_MIRRORS, or one recorded "
                   "with `python -m dmlib datasets use-mirror DIR`)")
    _prepare(out, root, data)
    report = KitReport(out=out, backends=["tensorflow"])

    if data is None:
        report.skipped.append(Skipped("data", f"not copied: {no_data}"))
    else:
        report.datasets, skipped = _copy_data(data, out / "data", verify, log)
        report.skipped += skipped

    wheels = out / "wheels"
    wheels.mkdir()
    project = _pyproject(root)
    build_requires = project.get("build-system", {}).get("requires", ["setuptools>=40.8.0", "wheel"])
    log(f"downloading the wheels of {requirements.name} and of the build backend ({', '.join(build_requires)}) ...")
    download(["-r", str(requirements), *build_requires], wheels)
    optional = project.get("project", {}).get("optional-dependencies", {})
    extras: dict[str, list[str]] = {}
    for backend in [b for b in BACKENDS if b in backends and b != "tensorflow"]:
        pins = optional.get(backend)
        if not pins:
            report.skipped.append(Skipped(backend, f"{root / 'pyproject.toml'} defines no `{backend}` extra "
                                                   "(or this Python cannot read it: Python 3.11+ or tomli)"))
            continue
        log(f"downloading the {backend} backend ({' '.join(pins)}, as `make extras`) ...")
        try:
            download(["-c", str(requirements), *pins], wheels)
        except (KitError, OSError) as err:
            report.skipped.append(Skipped(backend, f"could not be downloaded, the kit has TensorFlow only: {err}"))
            continue
        extras[backend] = list(pins)
        report.backends.append(backend)
    log(f"building the wheel of {project.get('project', {}).get('name', root.name)} (pip wheel --no-deps) ...")
    build(root, wheels)

    report.wheels = sorted(p.name for p in wheels.iterdir() if p.is_file())
    report.wheels_bytes = _size(wheels)
    report.data_bytes = _size(out / "data")
    if (root / "book" / "index.html").is_file():  # the site, as `make book` (which `make kit` runs first) wrote it
        shutil.copytree(root / "book", out / "book", symlinks=True)
        report.book_bytes = _size(out / "book")
    else:
        report.skipped.append(Skipped("book", f"not copied: no site in {root / 'book'}; build it with `make book`",
                                      problem=False))
    (out / "INSTALL.md").write_text(_install_md(report, root, extras), encoding="utf-8")
    report.total_bytes = _size(out)
    report.seconds = time.perf_counter() - start
    return report
