"""pytest configuration shared by the unit tests and the nbval notebook runs.

The test suite runs the notebooks in the `smoke` profile (tiny subsets, about a minute each);
set DMLIB_TEST_PROFILE=standard to run them at full standard size instead. The kernels nbval
starts inherit this process's environment.

Before any test runs, a session that collected notebooks checks once that the datasets they need
are available (quick: files verified before are remembered) and otherwise stops with one message
that says how to get them, instead of a hundred knock-on failures. Unit tests need no data and
are not checked.

Determinism: each notebook's nbval kernel records its metrics (``dmlib.record``) into a file of
this session (:data:`NBVAL_RECORDS`); tests marked ``after_notebooks`` (the re-run test in
``tests/test_determinism.py``) are moved after the notebooks, run each notebook a second time and
require the same metrics.
"""

import os
import tempfile
from pathlib import Path

import pytest

os.environ["DMLIB_PROFILE"] = os.environ.get("DMLIB_TEST_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
# The order of a set of strings (and anything seeded from hash()) is then the same in every kernel.
os.environ.setdefault("PYTHONHASHSEED", "0")

NO_DATA_EXIT_CODE = 4  # pytest's "usage error" (pytest.UsageError): the environment is not set up
NBVAL_RECORDS = Path(tempfile.gettempdir()) / f"dmlib-nbval-records-{os.getpid()}"
"""Where each notebook's nbval run writes its records: ``<folder>/<notebook stem>.jsonl``."""
_NOTEBOOKS_RUN: list[str] = []  # stems whose nbval run started in this session


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "after_notebooks: run after every notebook of the session (determinism)")
    config.nbval_records = NBVAL_RECORDS  # type: ignore[attr-defined]
    config.nbval_notebooks_run = _NOTEBOOKS_RUN  # type: ignore[attr-defined]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Move the tests that compare with the notebooks' runs after them (keeping their own order)."""
    later = [item for item in items if item.get_closest_marker("after_notebooks")]
    items[:] = [item for item in items if not item.get_closest_marker("after_notebooks")] + later


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop the whole session at once, with one message, when notebooks are to run without their data."""
    if not any(item.path.suffix == ".ipynb" for item in session.items):
        return
    from dmlib.datasets import unavailable_message

    message = unavailable_message()
    if message:  # pytest prints "ERROR: <message>" (no traceback) and exits with its usage-error code, 4
        raise pytest.UsageError(message)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a notebook's kernel starts (its first cell's setup), point its records at this session's file."""
    if item.path.suffix != ".ipynb":
        return
    stem = item.path.stem
    if stem not in _NOTEBOOKS_RUN:
        NBVAL_RECORDS.mkdir(parents=True, exist_ok=True)
        (NBVAL_RECORDS / f"{stem}.jsonl").write_text("", encoding="utf-8")
        _NOTEBOOKS_RUN.append(stem)
    os.environ["DMLIB_RECORD_FILE"] = str(NBVAL_RECORDS / f"{stem}.jsonl")


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    shutil.rmtree(NBVAL_RECORDS, ignore_errors=True)
