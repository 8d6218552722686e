"""Headless execution: a tiny notebook through `python -m dmlib run`'s machinery."""

from __future__ import annotations

import json

import nbformat
import pytest

from dmlib import runner
from dmlib.results import code_hash


def tiny_notebook(path, body="dmlib.record('answer', 42.0, reference=41.0, source='tests')"):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# tiny"),
        nbformat.v4.new_code_cell("import dmlib\nprint(dmlib.profile())"),
        nbformat.v4.new_code_cell(body),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_run_notebook_writes_outputs_metadata_and_results(tmp_path):
    nb_path = tiny_notebook(tmp_path / "07_tiny.ipynb")
    seconds = runner.run_notebook(nb_path, "smoke", out_dir=tmp_path / "out", results_dir=tmp_path / "results")
    executed = nbformat.read(tmp_path / "out" / "07_tiny.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"].strip() == "smoke"
    assert executed.metadata["dmlib"]["profile"] == "smoke"
    assert executed.metadata["dmlib"]["code_sha256"] == code_hash(executed)
    data = json.loads((tmp_path / "results" / "smoke.json").read_text())
    entry = data["notebooks"]["07_tiny"]
    assert entry["metrics"]["answer"]["value"] == 42.0 and entry["seconds"] == pytest.approx(seconds, abs=0.1)
    assert nbformat.read(nb_path, as_version=4).cells[1].outputs == []  # the source was left alone


def test_failing_notebook_changes_nothing(tmp_path, capsys, monkeypatch):
    nb_path = tiny_notebook(tmp_path / "08_broken.ipynb", body="raise RuntimeError('boom')")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('after')", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="an older run's output\n")]))
    nbformat.write(nb, nb_path)
    before = nb_path.read_bytes()
    monkeypatch.setattr(runner, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    assert runner.run("standard", ["08"]) == 1
    assert "boom" in capsys.readouterr().err
    assert nb_path.read_bytes() == before and not (tmp_path / "results").exists()
    partial = nbformat.read(tmp_path / "runs" / "standard" / "08_broken.failed.ipynb", as_version=4)
    assert partial.cells[1].outputs[0]["text"].strip() == "standard"  # what ran before the error is kept
    assert partial.cells[2].outputs[0]["ename"] == "RuntimeError"
    assert partial.cells[3].outputs == []  # not reached: no stale output from an older run


def test_find_notebooks_by_prefix(tmp_path):
    for n in ("00_a", "01_b", "02_c"):
        tiny_notebook(tmp_path / f"{n}.ipynb")
    assert [p.name for p in runner.find_notebooks(["01", "00"], tmp_path)] == ["01_b.ipynb", "00_a.ipynb"]
    with pytest.raises(SystemExit, match="no notebook matches"):
        runner.find_notebooks(["9"], tmp_path)
