"""Headline metrics: recorded by notebooks, collected into ``results/<profile>.json``.

A notebook calls :func:`record` once per headline number. When the notebook runs under
``python -m dmlib run`` the runner points ``DMLIB_RECORD_FILE`` at a scratch file, each call
appends one JSON line to it, and the runner merges the lines into ``results/<profile>.json``
with the backend, device, versions and seconds of the run. Introduced in ``00_start_here.ipynb``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
        ValueError: for a malformed name or a value that is not a finite number.

    Example:
        >>> record("first_model_test_accuracy", 0.85, reference=0.883, source="Zalando README")
        recorded first_model_test_accuracy = 0.8500  (reference 0.8830, Zalando README)
        0.85
    """
    if not _NAME.match(name):
        raise ValueError(f"metric name {name!r} must be lower_snake_case, e.g. 'mlp_test_accuracy'")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: value {value!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}: value {value} is not finite; the run that produced it went wrong")
    entry = {
        "kind": "metric",
        "name": name,
        "value": value,
        "reference": None if reference is None else float(reference),
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


def code_hash(nb: Any) -> str:
    """sha256 of a notebook's code cells (their sources, in order): what its outputs depend on."""
    h = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            h.update(src.strip().encode("utf-8") + b"\n\x00")
    return h.hexdigest()


def read_record_file(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Parse a record file into (setup facts, metrics by name); the last record of a name wins."""
    facts: dict[str, Any] = {}
    metrics: dict[str, dict[str, Any]] = {}
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
    return facts, metrics


def load_results(path: str | Path) -> dict[str, Any]:
    """Read a results file (``{"profile": ..., "notebooks": {...}}``), or an empty one if absent."""
    p = Path(path)
    if not p.exists():
        return {"profile": p.stem, "notebooks": {}}
    data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("notebooks"), dict):
        raise ValueError(f"{p} is not a dmlib results file (expected an object with 'notebooks')")
    return data


def merge_notebook_result(
    path: str | Path,
    notebook: str,
    *,
    profile: str,
    facts: dict[str, Any],
    metrics: dict[str, dict[str, Any]],
    seconds: float,
    code_sha256: str,
) -> dict[str, Any]:
    """Replace one notebook's entry in a results file, keeping every other notebook's entry.

    Two runs finishing at once (two terminals) are serialised by a lock file beside the results.
    """
    with _locked(Path(path)):
        return _merge(path, notebook, profile, facts, metrics, seconds, code_sha256)


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
           metrics: dict[str, dict[str, Any]], seconds: float, code_sha256: str) -> dict[str, Any]:
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
        "metrics": metrics,
    }
    data["notebooks"] = dict(sorted(data["notebooks"].items()))
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return data
