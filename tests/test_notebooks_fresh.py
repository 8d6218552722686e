"""The committed notebooks carry the outputs of a real standard run of their current code, and
results/full.json holds a full run of that code."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from dmlib.results import code_hash

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
STANDARD = json.loads((ROOT / "results" / "standard.json").read_text()) if (ROOT / "results" / "standard.json").exists() else {}


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_come_from_the_current_code(path):
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("dmlib")
    assert meta, f"{path.name} was never run by `make run`; run it: make run NB={path.stem[:2]}"
    assert meta["profile"] == "standard", f"{path.name} carries {meta['profile']} outputs; run `make run NB={path.stem[:2]}`"
    assert meta["code_sha256"] == code_hash(nb, "standard"), (
        f"{path.name}: code changed after its outputs were produced; re-run `make run NB={path.stem[:2]}`")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{path.name} has cells that were not executed"
    entry = STANDARD.get("notebooks", {}).get(path.stem)
    assert entry and entry["code_sha256"] == meta["code_sha256"], (
        f"results/standard.json does not hold {path.stem}'s current run; run `make run NB={path.stem[:2]}`")


FULL = json.loads((ROOT / "results" / "full.json").read_text()) if (ROOT / "results" / "full.json").exists() else {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_full_results_come_from_the_current_code(path):
    """results/full.json (the reproduction of the references) holds a run of each notebook's current code;
    the settings cell counts with its full values only, so a change to the smoke values leaves it current."""
    entry = FULL.get("notebooks", {}).get(path.stem)
    hint = f"run `make run PROFILE=full NB={path.stem[:2]}` (up to an hour on a 2-core CPU)"
    assert entry, f"results/full.json has no run of {path.stem}; {hint}"
    assert entry["code_sha256"] == code_hash(nbformat.read(path, as_version=4), "full"), (
        f"results/full.json holds a run of older code of {path.stem}; {hint}")
