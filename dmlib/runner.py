"""Headless execution of notebooks: ``python -m dmlib run --profile P [NOTEBOOK ...]``.

Each notebook runs in a fresh kernel with ``DMLIB_PROFILE`` set. In the ``standard`` profile the
executed notebook is written back in place (the committed outputs); other profiles write their
executed copies to ``runs/<profile>/``. The metrics the notebook recorded are merged into
``results/<profile>.json`` with the backend, device, versions and seconds of the run, and the
sha256 of the code cells is stored in the notebook's metadata, so a test can tell when code
changed after its outputs were produced. The ranges that the notebook's exercise solutions
measure (:func:`dmlib.exercises.record_solution`) are merged into ``results/exercises.json``.

While a notebook runs, the runner shows where it is: on a terminal a progress bar over the code
cells with the current cell's section heading and first line; in a log (output not a terminal) one
line per cell with the seconds since the notebook started. The kernel talks to the runner over
local IPC sockets (POSIX), so ipykernel has no reason to warn about unencrypted TCP.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator
from typing import Any, TextIO

import nbformat

from dmlib.config import ProfileError, backend_problem, normalize_profile
from dmlib.results import (RECORD_FILE_ENV, ResultsFileError, code_hash, merge_notebook_result, read_pins,
                           read_record_file, validate_results_file)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
# Run by the runner after a notebook's last cell (and removed again): records the dmlib modules the
# run loaded, so that a later change to one of them marks the run's results stale.
SOURCES_CELL = "import dmlib.results\ndmlib.results.record_loaded_sources();"
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


def _cell_labels(nb: nbformat.NotebookNode) -> dict[int, tuple[int, str, str]]:
    """For each code cell that will run: its number among them, its section heading and first code line.

    Example:
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Baselines"),
        ...                                      nbformat.v4.new_code_cell("# ridge\\nfit(x)")])
        >>> _cell_labels(nb)
        {1: (1, 'Baselines', 'fit(x)')}
    """
    heading, labels = "", {}
    for index, cell in enumerate(nb.cells):
        lines = [ln.strip() for ln in cell.source.splitlines() if ln.strip()]
        if cell.cell_type == "markdown":
            heading = next((ln.lstrip("#").strip() for ln in reversed(lines) if ln.startswith("#")), heading)
        elif cell.cell_type == "code" and lines:
            first = next((ln for ln in lines if not ln.startswith("#")), lines[0])
            labels[index] = (len(labels) + 1, heading, first)
    return labels


class CellProgress:
    """Which cell of which notebook is running, through nbclient's ``on_cell_execute`` and
    ``on_cell_executed`` hooks: a tqdm bar on a terminal, else one line per cell (for logs).

    Args:
        nb: the notebook about to run.
        name: the name shown (the notebook's file name).
        stream: where to write (default ``sys.stdout``).
        bar: force the bar (True) or the lines (False); default: a bar if ``stream`` is a terminal.

    Example:
        >>> progress = CellProgress(nb, "03_rnn_time_series.ipynb")  # doctest: +SKIP
        >>> NotebookClient(nb, on_cell_execute=progress.on_cell_execute,
        ...                on_cell_executed=progress.on_cell_executed).execute()  # doctest: +SKIP
    """

    width = 110  # characters of a progress line

    def __init__(self, nb: nbformat.NotebookNode, name: str, *, stream: TextIO | None = None,
                 bar: bool | None = None):
        self.labels = _cell_labels(nb)
        self.name, self.stream = name, stream or sys.stdout
        self.start = self._cell_start = time.perf_counter()
        use_bar = bool(getattr(self.stream, "isatty", lambda: False)()) if bar is None else bar
        self._bar = None
        if use_bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=len(self.labels), desc=name, unit="cell", file=self.stream, leave=False,
                             dynamic_ncols=True)

    def _label(self, cell_index: int) -> tuple[int, str]:
        number, heading, first = self.labels.get(cell_index, (0, "", ""))
        heading = heading if len(heading) <= 40 else heading[:37] + "..."  # leave room for the code line
        return number, " | ".join(part for part in (heading, first) if part)

    def on_cell_execute(self, cell: Any = None, cell_index: int = 0, **_: Any) -> None:
        """nbclient hook: a code cell is about to run (cells added by the runner itself are not shown)."""
        if cell_index not in self.labels:
            return
        self._cell_start = time.perf_counter()
        number, label = self._label(cell_index)
        if self._bar is not None:
            self._bar.set_postfix_str(f"cell {number}: {label}"[:60], refresh=True)
            return
        head = f"  {self.name} cell {number}/{len(self.labels)} [{time.perf_counter() - self.start:5.0f} s] "
        line = head + label
        print(line if len(line) <= self.width else line[: self.width - 3] + "...", file=self.stream, flush=True)

    def on_cell_executed(self, cell: Any = None, cell_index: int = 0, **_: Any) -> None:
        """nbclient hook: a code cell finished (with or without an error)."""
        if self._bar is not None and cell_index in self.labels:
            self._bar.update(1)

    def close(self) -> None:
        """Remove the bar (the runner prints its own line when the notebook is done)."""
        if self._bar is not None:
            self._bar.close()


def _kernel_config(folder: str) -> Any:
    """Kernel-manager settings for one run: IPC sockets in ``folder`` on POSIX (no TCP port, and
    no ipykernel warning about unencrypted TCP); TCP on Windows, where IPC is not available."""
    from traitlets.config import Config

    config = Config()
    if os.name == "posix":
        config.KernelManager.transport = "ipc"
        config.KernelManager.connection_file = os.path.join(folder, "kernel.json")  # sockets: kernel-ipc-N beside it
    return config


def run_notebook(path: Path, profile: str, *, out_dir: Path | None = None, results_dir: Path | None = None,
                 cell_timeout: int | None = None, progress_stream: TextIO | None = None) -> float:
    """Execute one notebook in a fresh kernel and record its outputs and metrics.

    Args:
        path: the notebook.
        profile: the run profile.
        out_dir: where the executed copy goes; default: in place for ``standard``, else ``runs/<profile>``.
        results_dir: where ``<profile>.json`` is merged; default ``results/`` of the workbook.
        cell_timeout: seconds one cell may take; default: the profile's :data:`CELL_TIMEOUT`
            (no limit in ``full``).
        progress_stream: where :class:`CellProgress` shows the running cell (default stdout).

    Returns:
        The wall-clock seconds of the run.

    Raises:
        ProfileError: for an unknown profile (names are normalised: ``"Smoke"`` is ``smoke``).
        ResultsFileError: if ``<profile>.json`` is damaged; checked before the notebook is touched.
        nbclient.exceptions.CellExecutionError: if a cell fails. The notebook and the results are
            then left as they were; the partly executed copy (outputs up to the failing cell, for
            diagnosis) goes to ``runs/<profile>/<name>.failed.ipynb``.
    """
    from nbclient import NotebookClient

    profile = normalize_profile(profile, source="profile")
    cell_timeout = cell_timeout or CELL_TIMEOUT[profile]
    validate_results_file((results_dir or ROOT / "results") / f"{profile}.json")  # before the notebook is touched
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # a cell the run does not reach must not show an older run's outputs
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    with tempfile.TemporaryDirectory(prefix="dmlib-run-") as work:
        record_file = os.path.join(work, "records.jsonl")
        Path(record_file).touch()
        # PYTHONHASHSEED: the order of a set of strings (and anything seeded from hash()) is the same in every run.
        with _env(DMLIB_PROFILE=profile, PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"),
                  DMLIB_EXERCISES_FILE=str((results_dir or ROOT / "results") / "exercises.json"),
                  **{RECORD_FILE_ENV: record_file}):
            progress = CellProgress(nb, path.name, stream=progress_stream)
            nb.cells.append(nbformat.v4.new_code_cell(SOURCES_CELL))  # after the last cell: what the run loaded
            client = NotebookClient(
                nb, timeout=cell_timeout, kernel_name="python3", record_timing=False,
                resources={"metadata": {"path": str(path.parent)}}, config=_kernel_config(work),
                on_cell_execute=progress.on_cell_execute, on_cell_executed=progress.on_cell_executed,
            )
            start = time.perf_counter()
            try:
                client.execute()
            except Exception:
                nb.cells.pop()  # the sources cell is the runner's, not the notebook's
                failed_dir = ROOT / "runs" / profile
                failed_dir.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, failed_dir / f"{path.stem}.failed.ipynb")
                raise
            else:
                nb.cells.pop()
            finally:
                progress.close()
            seconds = time.perf_counter() - start
        facts, metrics = read_record_file(record_file)
    if "dmlib_sources" not in facts:
        raise RuntimeError(f"{path.name}: the runner's last cell did not record which dmlib modules the run "
                           f"loaded (is {RECORD_FILE_ENV} writable?); nothing was recorded.")
    digest = code_hash(nb, profile)  # what this profile's run read: the other profiles' settings do not count
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
        pins=read_pins(ROOT / "requirements.txt"),
    )
    return seconds


def run(profile: str, selectors: list[str] | None = None, *, results_dir: Path | None = None) -> int:
    """Run notebooks one after another; report each one's time; return a process exit code.

    Before anything runs it checks, with one clear message each: the profile name (normalised,
    ``"Smoke"`` is ``smoke``), ``KERAS_BACKEND``, the notebook names and the results file
    ``results/<profile>.json`` (a damaged file would otherwise be found only after the first
    notebook ran). Exit codes: 0 all ran, 1 a notebook failed or the results file is damaged,
    2 a bad profile or backend.
    """
    try:
        profile = normalize_profile(profile, source="profile")
    except ProfileError as err:
        print(err, file=sys.stderr)
        return 2
    problem = backend_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    results_file = (results_dir or ROOT / "results") / f"{profile}.json"
    try:
        validate_results_file(results_file)
    except ResultsFileError as err:
        print(f"[{profile}] nothing was run: {err}", file=sys.stderr)
        return 1
    paths = find_notebooks(selectors)
    failures = 0
    for number, path in enumerate(paths, 1):
        print(f"[{profile}] {path.name} ({number}/{len(paths)}) ...", flush=True)
        try:
            seconds = run_notebook(path, profile, results_dir=results_dir)
        except Exception as err:  # report and go on with the next notebook
            failures += 1
            print(f"[{profile}] {path.name} FAILED; its file and results were left as they were; the outputs up "
                  f"to the error are in runs/{profile}/{path.stem}.failed.ipynb:\n{err}",
                  file=sys.stderr, flush=True)
            continue
        print(f"[{profile}] {path.name} done in {seconds:.0f} s", flush=True)
    return 1 if failures else 0
