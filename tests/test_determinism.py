"""A re-run gives the same numbers: each notebook's smoke profile, run a second time on TensorFlow,
records exactly the metrics its nbval run recorded earlier in the same session.

The first run is the nbval run of ``make test`` (its kernel writes its records to the session's
file, see the root ``conftest.py``); this test runs the notebook again with ``python -m dmlib run``'s
machinery and compares every recorded metric bit for bit. It runs after the notebooks (marker
``after_notebooks``), on TensorFlow only (CI's determinism check; JAX on the CPU is deterministic by
construction, PyTorch runs with ``torch.use_deterministic_algorithms``). Run alone (``pytest
tests``) there is no first run to compare with, and it is skipped saying so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dmlib import runner
from dmlib.results import read_record_file

NOTEBOOKS = runner.find_notebooks()


@pytest.mark.after_notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_second_smoke_run_records_identical_metrics(path: Path, request: pytest.FixtureRequest, tmp_path,
                                                       monkeypatch):
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        pytest.skip("the determinism check runs on TensorFlow (CI's default backend)")
    if path.stem not in request.config.nbval_notebooks_run:
        pytest.skip("needs the notebook's nbval run in the same session (`make test` or `pytest`), to compare with")
    first_file = request.config.nbval_records / f"{path.stem}.jsonl"
    first_facts, first = read_record_file(first_file)
    assert first_facts, f"{path.name}: its nbval run recorded no setup line; did it fail? (see its test above)"
    monkeypatch.delenv("DMLIB_RECORD_FILE", raising=False)
    runner.run_notebook(path, "smoke", out_dir=tmp_path, results_dir=tmp_path, progress_stream=open(os.devnull, "w"))
    second = json.loads((tmp_path / "smoke.json").read_text())["notebooks"][path.stem]["metrics"]
    assert set(second) == set(first), f"{path.name}: the two runs recorded different metrics"
    differ = {name: (first[name]["value"], second[name]["value"]) for name in first
              if first[name]["value"] != second[name]["value"]}
    assert not differ, f"{path.name}: a second smoke run changed these metrics (first, second): {differ}"
