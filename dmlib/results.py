"""Headline metrics: recorded by notebooks, collected into ``results/<profile>.json``.

A notebook calls :func:`record` once per headline number. When the notebook runs under
``python -m dmlib run`` the runner points ``DMLIB_RECORD_FILE`` at a scratch file, each call
appends one JSON line to it, and the runner merges the lines into ``results/<profile>.json``
with the backend, device, versions and seconds of the run. Introduced in ``00_start_here.ipynb``.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RECORD_FILE_ENV = "DMLIB_RECORD_FILE"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# The records of this Python process (one notebook's kernel), in order.
_RECORDS: list[dict[str, Any]] = []


def _write_record_line(line: dict[str, Any]) -> None:
    """Append one JSON line to the runner's record file, if a runner asked for one."""
    path = os.environ.get(RECORD_FILE_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")


def record(
    name: str,
    value: float,
    *,
    reference: float | None = None,
    source: str | None = None,
    higher_is_better: bool = True,
) -> float:
    """Record a headline metric of the running notebook and print it next to its reference.

    Args:
        name: a lower_snake_case name, unique in the workbook (``"mlp_test_accuracy"``).
        value: the measured number (finite).
        reference: the published number it compares with, if there is one.
        source: where the reference comes from (paper, book, README).
        higher_is_better: False for errors and losses.

    Returns:
        ``value`` as a float, so the call can sit in an expression.

    Raises:
        ValueError: for a malformed name, a value or reference that is not a finite number, a source
            that is not a string.

    Example:
        >>> record("first_model_test_accuracy", 0.85, reference=0.883, source="Zalando README")
        recorded first_model_test_accuracy = 0.8500  (reference 0.8830, Zalando README)
        0.85
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"metric name {name!r} must be lower_snake_case, e.g. 'mlp_test_accuracy'")
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: value {value!r} is a truth value, not a number; record a count or a rate "
                         "(e.g. float(passed) if a 0/1 score is really meant)")
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name}: value {str(value)[:40]!r} is not a number a float can hold") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}: value {value} is not finite; the run that produced it went wrong")
    if reference is not None:
        try:
            if isinstance(reference, (bool, np.bool_)):
                raise TypeError
            reference = float(reference)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{name}: reference {reference!r} is not a number; give the published number "
                             "or None") from None
        if not math.isfinite(reference):
            raise ValueError(f"{name}: reference {reference} is not finite; give the published number or None")
    if source is not None and not isinstance(source, str):
        raise ValueError(f"{name}: source must be a string naming where the reference comes from, got {source!r}")
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise ValueError(f"{name}: higher_is_better must be True or False, got {higher_is_better!r}")
    entry = {
        "kind": "metric",
        "name": name,
        "value": value,
        "reference": reference,
        "source": source,
        "higher_is_better": bool(higher_is_better),
    }
    _RECORDS[:] = [r for r in _RECORDS if r["name"] != name] + [entry]
    _write_record_line(entry)
    ref = "" if reference is None else f"  (reference {reference:.4f}" + (f", {source})" if source else ")")
    print(f"recorded {name} = {value:.4f}{ref}")
    return value


def recorded() -> pd.DataFrame:
    """This notebook's records as a table: value, reference, difference and source.

    Example:
        >>> recorded()  # doctest: +SKIP
                                   value  reference  difference          source
        first_model_test_accuracy  0.85      0.883      -0.033  Zalando README
    """
    rows = {
        r["name"]: {
            "value": r["value"],
            "reference": r["reference"],
            "difference": None if r["reference"] is None else r["value"] - r["reference"],
            "source": r["source"],
        }
        for r in _RECORDS
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["value", "reference", "difference", "source"])


_PROFILE_NAMES = ("smoke", "standard", "full")  # as dmlib.config.PROFILES; not imported, to keep this module light


def _settings_call(tree: ast.AST) -> ast.Call | None:
    """The ``settings(smoke=..., standard=..., full=...)`` call in a parsed cell, if there is one."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name == "settings" and {k.arg for k in node.keywords} == set(_PROFILE_NAMES):
                return node
    return None


def _profile_source(src: str, profile: str) -> str:
    """A settings cell's source with the call reduced to ``profile``'s values; other cells unchanged."""
    if "settings(" not in src:
        return src
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return src
    call = _settings_call(tree)
    segment = None if call is None else ast.get_source_segment(src, call)
    if segment is None:
        return src
    values = next(k.value for k in call.keywords if k.arg == profile)
    return src.replace(segment, f"settings({profile}={ast.unparse(values)})", 1)


def code_hash(nb: Any, profile: str | None = None) -> str:
    """sha256 of what a run's outputs depend on: the notebook's code cells (their sources, in order).

    With ``profile``, the settings cell (the one calling ``dmlib.settings(smoke=..., standard=...,
    full=...)``) counts with that profile's values only: a run in ``full`` does not read the smoke
    values, so trimming the smoke profile leaves a full result current, while any other change to
    the code, including to the full values, makes it stale. Without ``profile`` every value counts.

    Example:
        >>> nb = {"cells": [{"cell_type": "code", "source": "CFG = settings(smoke=dict(n=1), standard=dict(n=2), full=dict(n=3))"}]}
        >>> code_hash(nb, "full") == code_hash({"cells": [{"cell_type": "code", "source": "CFG = settings(smoke=dict(n=9), standard=dict(n=2), full=dict(n=3))"}]}, "full")
        True
    """
    if profile is not None and profile not in _PROFILE_NAMES:
        raise ValueError(f"profile {profile!r} is not one of {', '.join(_PROFILE_NAMES)}")
    h = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            if profile is not None:
                src = _profile_source(src, profile)
            h.update(src.strip().encode("utf-8") + b"\n\x00")
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# What a number depends on besides the notebook's code: dmlib's sources and the pinned libraries
# --------------------------------------------------------------------------------------------

PACKAGE_DIR = Path(__file__).resolve().parent
"""The dmlib package folder whose sources are hashed (a test points it at a copy)."""


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def module_file(name: str, package_dir: Path | None = None) -> Path:
    """The source file of a dmlib module name (``dmlib.datasets`` -> ``dmlib/datasets/__init__.py``).

    Example:
        >>> module_file("dmlib.results").name
        'results.py'
    """
    base = package_dir or PACKAGE_DIR
    parts = name.split(".")[1:]
    if not parts or base.joinpath(*parts).is_dir():
        return base.joinpath(*parts, "__init__.py")
    return base.joinpath(*parts[:-1], f"{parts[-1]}.py")


def loaded_dmlib_sources(package_dir: Path | None = None) -> dict[str, str]:
    """sha256 of the source of every dmlib module loaded in this process, by module name.

    A run's numbers depend on the helpers it called, not only on the notebook's cells: the runner
    stores this with the run, and :func:`staleness` compares it with today's files.
    """
    out = {}
    for name in sorted(n for n in list(sys.modules) if n == "dmlib" or n.startswith("dmlib.")):
        path = module_file(name, package_dir)
        if path.is_file():
            out[name] = _file_sha256(path)
    return out


def package_source_digest(package_dir: Path | None = None) -> str:
    """One sha256 over every ``.py`` file of the dmlib package (relative path and bytes, in order).

    The experiment cache puts it in every key, so that editing any helper (one that an experiment
    calls directly or through another helper) recomputes the runs instead of serving old ones.
    """
    base = package_dir or PACKAGE_DIR
    h = hashlib.sha256()
    for path in sorted(base.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(base).as_posix().encode() + b"\x00" + path.read_bytes() + b"\x00")
    return h.hexdigest()


def read_pins(requirements: str | Path) -> dict[str, str]:
    """The exact pins (``name==version``) of a requirements file, by lower-case name; ``{}`` if absent.

    Example:
        >>> read_pins("does-not-exist.txt")
        {}
    """
    p = Path(requirements)
    if not p.is_file():
        return {}
    pins = {}
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins


def record_loaded_sources() -> dict[str, str]:
    """Write the loaded dmlib modules' sha256 to the runner's record file (the runner calls this after
    a notebook's last cell, in its kernel); returns them."""
    sources = loaded_dmlib_sources()
    _write_record_line({"kind": "sources", "dmlib": sources})
    return sources


def staleness(entry: dict[str, Any], *, package_dir: Path | None = None,
              requirements: str | Path | None = None) -> list[str]:
    """Why a recorded run may no longer be what today's code gives, besides the notebook's own code
    (which :func:`code_hash` covers): each dmlib module it loaded whose source changed or is gone,
    and each pinned library whose pin changed. An empty list: current.

    Args:
        entry: one notebook's entry of ``results/<profile>.json``.
        package_dir: the dmlib folder to compare with (default: this package).
        requirements: the pins file (default: ``requirements.txt`` beside the package).

    Example:
        >>> staleness({"metrics": {}})
        ['dmlib sources not recorded (run before they were)']
    """
    reasons = []
    recorded_sources = entry.get("dmlib_sources")
    if not isinstance(recorded_sources, dict):
        reasons.append("dmlib sources not recorded (run before they were)")
    else:
        changed = [name for name, digest in sorted(recorded_sources.items())
                   if not module_file(name, package_dir).is_file()
                   or _file_sha256(module_file(name, package_dir)) != digest]
        if changed:
            reasons.append(f"changed since the run: {', '.join(changed)}")
    req = Path(requirements) if requirements is not None else (package_dir or PACKAGE_DIR).parent / "requirements.txt"
    pins = entry.get("pins")
    if not isinstance(pins, dict):
        reasons.append("pins not recorded")
    else:
        now = read_pins(req)
        moved = [f"{k} {pins.get(k, 'unpinned')} -> {now.get(k, 'unpinned')}"
                 for k in sorted(set(pins) | set(now)) if pins.get(k) != now.get(k)]
        if moved:
            reasons.append(f"pins changed: {', '.join(moved)}")
    return reasons


def read_record_file(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Parse a record file into (setup facts, metrics by name); the last record of a name wins.

    The loaded dmlib sources (written by :func:`record_loaded_sources`) come back in the facts as
    ``facts["dmlib_sources"]``.
    """
    facts: dict[str, Any] = {}
    metrics: dict[str, dict[str, Any]] = {}
    sources = None
    p = Path(path)
    if p.exists():
        for line in p.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            kind = item.pop("kind", None)
            if kind == "setup":
                facts = item
            elif kind == "metric":
                metrics[item.pop("name")] = item
            elif kind == "sources":
                sources = item.get("dmlib")
    if sources is not None:
        facts["dmlib_sources"] = sources
    return facts, metrics


class ResultsFileError(ValueError):
    """A results file (``results/<profile>.json``) that is not valid; the message names the file."""


_RESTORE_HINT = ("Restore it from version control (`git checkout -- {path}`), fix the entry by hand, "
                 "or move the file away to start a new one.")


def _is_number(x: Any) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:  # an integer too large for a float (e.g. 401 digits)
        return False


def validate_results(data: Any, path: str | Path = "results file") -> dict[str, Any]:
    """Check the structure and types of a results file's content; return it, or raise naming the problem.

    A valid file is ``{"profile": str, "notebooks": {name: entry}}`` where each entry has
    ``"metrics": {metric: {"value": finite number, "reference": finite number or null,
    "source": str or null, "higher_is_better": bool}}`` and ``"seconds"`` (a number) if present.

    Raises:
        ResultsFileError: naming the file, the notebook and the metric, and what to do.

    Example:
        >>> validate_results({"profile": "smoke", "notebooks": {}})
        {'profile': 'smoke', 'notebooks': {}}
    """
    hint = _RESTORE_HINT.format(path=path)

    def fail(what: str) -> ResultsFileError:
        return ResultsFileError(f"{path}: {what}. {hint}")

    if not isinstance(data, dict) or not isinstance(data.get("notebooks"), dict):
        raise fail("not a dmlib results file (expected an object with 'notebooks')")
    if "profile" in data and not isinstance(data["profile"], str):
        raise fail(f"'profile' must be a string, got {data['profile']!r}")
    for nb, entry in data["notebooks"].items():
        if not isinstance(entry, dict):
            raise fail(f"the entry of notebook {nb!r} must be an object, got {type(entry).__name__}")
        if "seconds" in entry and not _is_number(entry["seconds"]):
            raise fail(f"notebook {nb!r}: 'seconds' must be a number, got {entry['seconds']!r}")
        for key in ("backend", "device", "machine", "date", "code_sha256"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise fail(f"notebook {nb!r}: {key!r} must be a string, got {entry[key]!r}")
        for key in ("dmlib_sources", "pins"):
            value = entry.get(key)
            if value is not None and not (isinstance(value, dict)
                                          and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
                raise fail(f"notebook {nb!r}: {key!r} must map names to strings, got {value!r}")
        metrics = entry.get("metrics", {})
        if not isinstance(metrics, dict):
            raise fail(f"notebook {nb!r}: 'metrics' must be an object, got {type(metrics).__name__}")
        for name, m in metrics.items():
            where = f"notebook {nb!r}, metric {name!r}"
            if not isinstance(m, dict):
                raise fail(f"{where}: must be an object with 'value', got {m!r}")
            if not _is_number(m.get("value")):
                raise fail(f"{where}: 'value' must be a finite number, got {m.get('value')!r}")
            if m.get("reference") is not None and not _is_number(m["reference"]):
                raise fail(f"{where}: 'reference' must be a finite number or null, got {m['reference']!r}")
            if m.get("source") is not None and not isinstance(m["source"], str):
                raise fail(f"{where}: 'source' must be a string or null, got {m['source']!r}")
            if "higher_is_better" in m and not isinstance(m["higher_is_better"], bool):
                raise fail(f"{where}: 'higher_is_better' must be true or false, got {m['higher_is_better']!r}")
    return data


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a results file (``{"profile": ..., "notebooks": {...}}``), or an empty one if absent.

    Raises:
        ResultsFileError: if the file cannot be read, is not JSON, or has wrong types; the message
            names the file and what to do.
    """
    p = Path(path)
    if not p.exists():
        return {"profile": p.stem, "notebooks": {}}
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsFileError(f"{p}: cannot be read ({err}). {_RESTORE_HINT.format(path=p)}") from None
    try:
        data = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not allowed")))
    except ValueError as err:
        raise ResultsFileError(f"{p}: is not valid JSON ({err}). {_RESTORE_HINT.format(path=p)}") from None
    return validate_results(data, p)


def validate_results_file(path: str | Path) -> None:
    """Check ``results/<profile>.json`` before a run, so that a damaged file is found before the
    notebook is executed (and rewritten), not after its metrics are computed. A missing file is fine.

    Raises:
        ResultsFileError: naming the file and the problem.

    Example:
        >>> validate_results_file("results/does-not-exist.json")  # nothing to check yet
    """
    load_results(path)


def merge_notebook_result(
    path: str | Path,
    notebook: str,
    *,
    profile: str,
    facts: dict[str, Any],
    metrics: dict[str, dict[str, Any]],
    seconds: float,
    code_sha256: str,
    pins: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Replace one notebook's entry in a results file, keeping every other notebook's entry.

    The entry records what the numbers depend on: the notebook's code (``code_sha256``), the dmlib
    modules the run loaded (``facts["dmlib_sources"]``) and the pinned libraries (``pins``).
    Two runs finishing at once (two terminals) are serialised by a lock file beside the results.
    """
    with _locked(Path(path)):
        return _merge(path, notebook, profile, facts, metrics, seconds, code_sha256, pins)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        try:
            import fcntl  # POSIX only; on Windows runs are simply not serialised

            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:
            pass
        yield


def _merge(path: str | Path, notebook: str, profile: str, facts: dict[str, Any],
           metrics: dict[str, dict[str, Any]], seconds: float, code_sha256: str,
           pins: dict[str, str] | None) -> dict[str, Any]:
    data = load_results(path)
    data["profile"] = profile
    versions = facts.get("versions", {})
    data["notebooks"][notebook] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "backend": facts.get("backend"),
        "device": facts.get("device"),
        "machine": f"{os.cpu_count()} CPU cores",
        "versions": versions,
        "code_sha256": code_sha256,
        "dmlib_sources": facts.get("dmlib_sources"),
        "pins": pins,
        "metrics": metrics,
    }
    data["notebooks"] = dict(sorted(data["notebooks"].items()))
    p = Path(path)
    validate_results(data, p)  # never write a file that the next run would refuse
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return data
