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


def test_run_notebook_writes_outputs_metadata_and_results(tmp_path, capfd):
    nb_path = tiny_notebook(tmp_path / "07_tiny.ipynb")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import os\nprint(os.environ['DMLIB_EXERCISES_FILE'])"))
    nbformat.write(nb, nb_path)
    seconds = runner.run_notebook(nb_path, "smoke", out_dir=tmp_path / "out", results_dir=tmp_path / "results")
    executed = nbformat.read(tmp_path / "out" / "07_tiny.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"].strip() == "smoke"
    # exercise solutions record their ranges next to the profile's results
    assert executed.cells[3].outputs[0]["text"].strip() == str(tmp_path / "results" / "exercises.json")
    assert executed.metadata["dmlib"]["profile"] == "smoke"
    assert executed.metadata["dmlib"]["code_sha256"] == code_hash(executed, "smoke")
    data = json.loads((tmp_path / "results" / "smoke.json").read_text())
    entry = data["notebooks"]["07_tiny"]
    assert entry["metrics"]["answer"]["value"] == 42.0 and entry["seconds"] == pytest.approx(seconds, abs=0.1)
    assert nbformat.read(nb_path, as_version=4).cells[1].outputs == []  # the source was left alone
    assert "without encryption" not in capfd.readouterr().err  # IPC: ipykernel has no TCP to warn about


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
    assert len(partial.cells) == len(nb.cells)  # and no cell of the runner's own


def test_find_notebooks_by_prefix(tmp_path):
    for n in ("00_a", "01_b", "02_c"):
        tiny_notebook(tmp_path / f"{n}.ipynb")
    assert [p.name for p in runner.find_notebooks(["01", "00"], tmp_path)] == ["01_b.ipynb", "00_a.ipynb"]
    with pytest.raises(SystemExit, match="no notebook matches"):
        runner.find_notebooks(["9"], tmp_path)


# --------------------------------------------------------------------------- progress, results check, kernel transport


def test_progress_names_notebook_cell_section_and_line(tmp_path):
    import io

    nb_path = tiny_notebook(tmp_path / "07_tiny.ipynb")
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.insert(2, nbformat.v4.new_markdown_cell("Some text.\n\n## Recording the answer"))
    nbformat.write(nb, nb_path)
    stream = io.StringIO()
    runner.run_notebook(nb_path, "smoke", out_dir=tmp_path / "out", results_dir=tmp_path / "results",
                        progress_stream=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("  07_tiny.ipynb cell 1/2 [") and lines[0].endswith("s] tiny | import dmlib")
    assert "cell 2/2 [" in lines[1] and "s] Recording the answer | dmlib.record('answer', 42.0" in lines[1]
    assert all(len(line) <= runner.CellProgress.width for line in lines)


def test_progress_bar_on_a_terminal():
    import io

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title"),
                                         nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("   "),
                                         nbformat.v4.new_code_cell("# fit\nmodel.fit(x)")])
    stream = io.StringIO()
    progress = runner.CellProgress(nb, "05_x.ipynb", stream=stream, bar=True)
    assert progress._bar.total == 2  # the blank cell does not run
    progress.on_cell_execute(cell=nb.cells[3], cell_index=3)
    progress.on_cell_executed(cell=nb.cells[3], cell_index=3)
    assert progress._bar.n == 1
    progress.close()
    assert "05_x.ipynb" in stream.getvalue() and "cell 2: Title | model.fit(x)" in stream.getvalue()


def test_a_damaged_results_file_stops_the_run_before_any_notebook(tmp_path, monkeypatch, capsys):
    nb_path = tiny_notebook(tmp_path / "07_tiny.ipynb", body="open('ran.txt', 'w').write('x')")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "smoke.json").write_text('{"profile": "smoke", "notebooks": {"00": {"metrics": 3}}}')
    monkeypatch.setattr(runner, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    monkeypatch.setattr(runner, "run_notebook", lambda *a, **k: pytest.fail("a notebook was started"))
    assert runner.run("smoke", ["07"]) == 1
    err = capsys.readouterr().err
    assert "nothing was run" in err and str(tmp_path / "results" / "smoke.json") in err
    assert not (tmp_path / "ran.txt").exists() and nb_path.exists()


def test_run_and_run_notebook_normalise_profile_names(tmp_path, capsys):
    from dmlib.config import ProfileError

    nb_path = tiny_notebook(tmp_path / "07_tiny.ipynb")
    with pytest.raises(ProfileError, match="use one of smoke, standard, full"):
        runner.run_notebook(nb_path, "bogus", out_dir=tmp_path / "out", results_dir=tmp_path / "results")
    assert runner.run("Bogus", ["07"]) == 2
    assert "'Bogus' is not a profile" in capsys.readouterr().err


def test_long_headings_leave_room_for_the_code_line():
    import io

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## " + "A very long section heading " * 4),
                                         nbformat.v4.new_code_cell("model.fit(x, y, epochs=3)")])
    stream = io.StringIO()
    progress = runner.CellProgress(nb, "05_x.ipynb", stream=stream, bar=False)
    progress.on_cell_execute(cell=nb.cells[1], cell_index=1)
    line = stream.getvalue().rstrip("\n")
    assert line.endswith("... | model.fit(x, y, epochs=3)") and len(line) <= progress.width


def test_smoke_results_are_not_a_product_that_git_tracks():
    """Issue 32 item 14: a smoke `make run` rewrote the tracked results/smoke.json (dates, seconds, hash)."""
    import subprocess

    root = runner.ROOT
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=root, capture_output=True, text=True, check=True)
    assert "results/smoke.json" not in tracked.stdout.split()
    ignored = subprocess.run(["git", "check-ignore", "-q", "results/smoke.json"], cwd=root)
    assert ignored.returncode == 0, "results/smoke.json must be ignored by git"
