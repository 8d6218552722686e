"""The committed notebooks read well anywhere: portable outputs, no stray warnings, short code cells.

What the issue tracker calls "the bar every notebook meets": committed outputs carry no paths of the
machine that ran them and nothing on stderr (warnings that are not part of the lesson are silenced at
their source), code cells stay under 25 non-blank lines (plumbing lives in dmlib), and no notebook or
dmlib module imports TensorFlow (the TensorFlow branch of dmlib/gradients.py excepted).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_LINES = 25
MACHINE_PATH = re.compile(r"(/work/|/tmp/|/root/|/home/|/Users/|/private/var/|[A-Za-z]:\\\\Users\\\\)")
TF_IMPORT = re.compile(r"^\s*(import tensorflow|from tensorflow)", re.M)


def _code_cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_show_no_machine_paths(path):
    bad = [i for i, c in _code_cells(path) for o in c.outputs if MACHINE_PATH.search(json.dumps(o))]
    assert not bad, f"{path.name}: cells {bad} print a path of the machine that ran them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_stderr_in_committed_outputs(path):
    bad = {i: "".join(o.get("text", ""))[:120] for i, c in _code_cells(path) for o in c.outputs
           if o.get("output_type") == "stream" and o.get("name") == "stderr"}
    assert not bad, f"{path.name}: stderr output (silence the warning at its source): {bad}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    long = {i: n for i, c in _code_cells(path)
            if (n := sum(1 for line in c.source.splitlines() if line.strip())) > MAX_LINES}
    assert not long, f"{path.name}: code cells over {MAX_LINES} non-blank lines (cell: lines): {long}"


def test_no_tensorflow_imports_outside_the_gradients_branch():
    sources = {p: p.read_text(encoding="utf-8") for p in (ROOT / "dmlib").rglob("*.py")
               if p.relative_to(ROOT).as_posix() != "dmlib/gradients.py"}
    sources.update({p: "\n".join(c.source for _, c in _code_cells(p)) for p in NOTEBOOKS})
    bad = [str(p.relative_to(ROOT)) for p, text in sources.items() if TF_IMPORT.search(text)]
    assert not bad, f"TensorFlow imported directly in {bad}: use keras and keras.ops"
