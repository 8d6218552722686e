"""Headless execution of notebooks: ``python -m dmlib run --profile P [NOTEBOOK ...]``.

Each notebook runs in a fresh kernel with ``DMLIB_PROFILE`` set. In the ``standard`` profile the
executed notebook is written back in place (the committed outputs); other profiles write their
executed copies to ``runs/<profile>/``. The metrics the notebook recorded are merged into
``results/<profile>.json`` with the backend, device, versions and seconds of the run, and the
sha256 of the code cells is stored in the notebook's metadata, so a test can tell when code
changed after its outputs were produced.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

import nbformat

from dmlib.config import PROFILES
from dmlib.results import RECORD_FILE_ENV, code_hash, merge_notebook_result, read_record_file, validate_results_file

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
# Seconds one cell may run before the run is stopped: a hung smoke or standard cell should fail,
# but one full-profile cell (40 epochs of a CNN) takes over 30 minutes on a laptop CPU.
CELL_TIMEOUT: dict[str, int | None] = {"smoke": 600, "standard": 1800, "full": None}


def find_notebooks(selectors: list[str] | None = None, folder: Path | None = None) -> list[Path]:
    """The notebooks to run: all of ``folder``, or those whose name starts with a selector.

    Example:
        >>> [p.name for p in find_notebooks(["00"])]
        ['00_start_here.ipynb']
    """
    all_nbs = sorted((folder or NOTEBOOKS).glob("[0-9][0-9]_*.ipynb"))
    if not selectors:
        return all_nbs
    chosen = []
    for sel in selectors:
        path = Path(sel)
        if path.suffix == ".ipynb" and path.is_file():
            chosen.append(path.resolve())
            continue
        hits = [p for p in all_nbs if p.name.startswith(sel)]
        if not hits:
            names = ", ".join(p.name for p in all_nbs)
            raise SystemExit(f"no notebook matches {sel!r}; the notebooks are: {names}")
        chosen += hits
    return list(dict.fromkeys(chosen))


@contextmanager
def _env(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(path: Path, profile: str, *, out_dir: Path | None = None, results_dir: Path | None = None,
                 cell_timeout: int | None = None) -> float:
    """Execute one notebook in a fresh kernel and record its outputs and metrics.

    Args:
        path: the notebook.
        profile: the run profile.
        out_dir: where the executed copy goes; default: in place for ``standard``, else ``runs/<profile>``.
        results_dir: where ``<profile>.json`` is merged; default ``results/`` of the workbook.
        cell_timeout: seconds one cell may take; default: the profile's :data:`CELL_TIMEOUT`
            (no limit in ``full``).

    Returns:
        The wall-clock seconds of the run.

    Raises:
        nbclient.exceptions.CellExecutionError: if a cell fails. The notebook and the results are
            then left as they were; the partly executed copy (outputs up to the failing cell, for
            diagnosis) goes to ``runs/<profile>/<name>.failed.ipynb``.
    """
    from nbclient import NotebookClient

    if profile not in PROFILES:
        raise SystemExit(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}")
    cell_timeout = cell_timeout or CELL_TIMEOUT[profile]
    validate_results_file((results_dir or ROOT / "results") / f"{profile}.json")  # before the notebook is touched
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # a cell the run does not reach must not show an older run's outputs
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    fd, record_file = tempfile.mkstemp(prefix="dmlib-records-", suffix=".jsonl")
    os.close(fd)
    try:
        with _env(DMLIB_PROFILE=profile, **{RECORD_FILE_ENV: record_file}):
            client = NotebookClient(
                nb, timeout=cell_timeout, kernel_name="python3", record_timing=False,
                resources={"metadata": {"path": str(path.parent)}},
            )
            start = time.perf_counter()
            try:
                client.execute()
            except Exception:
                failed_dir = ROOT / "runs" / profile
                failed_dir.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, failed_dir / f"{path.stem}.failed.ipynb")
                raise
            seconds = time.perf_counter() - start
        facts, metrics = read_record_file(record_file)
    finally:
        os.unlink(record_file)
    digest = code_hash(nb)
    nb.metadata["dmlib"] = {
        "profile": profile,
        "code_sha256": digest,
        "seconds": round(seconds, 1),
        "backend": facts.get("backend"),
        "device": facts.get("device"),
    }
    if out_dir is None:
        out_dir = path.parent if profile == "standard" else ROOT / "runs" / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_dir / path.name)
    merge_notebook_result(
        (results_dir or ROOT / "results") / f"{profile}.json", path.stem,
        profile=profile, facts=facts, metrics=metrics, seconds=seconds, code_sha256=digest,
    )
    return seconds


def run(profile: str, selectors: list[str] | None = None) -> int:
    """Run notebooks one after another; report each one's time; return a process exit code."""
    failures = 0
    for path in find_notebooks(selectors):
        print(f"[{profile}] {path.name} ...", flush=True)
        try:
            seconds = run_notebook(path, profile)
        except Exception as err:  # report and go on with the next notebook
            failures += 1
            print(f"[{profile}] {path.name} FAILED; its file and results were left as they were; the outputs up "
                  f"to the error are in runs/{profile}/{path.stem}.failed.ipynb:\n{err}",
                  file=sys.stderr, flush=True)
            continue
        print(f"[{profile}] {path.name} done in {seconds:.0f} s", flush=True)
    return 1 if failures else 0
