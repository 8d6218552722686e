"""The student edition (`python -m dmlib student`, `make student`): solutions out, exercises cleared."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from dmlib import cli, runner
from dmlib.student import student_edition, write_student_edition

ROOT = Path(__file__).resolve().parent.parent


def _tagged(cell, *tags):
    cell.metadata["tags"] = list(tags)
    return cell


def _ran(cell, count, text):
    cell.execution_count = count
    cell.outputs = [new_output("stream", name="stdout", text=text)]
    return cell


def sample_notebook() -> nbformat.NotebookNode:
    """Two solution cells (markdown and code), two exercise cells, and ordinary cells with outputs."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Title"),
        _ran(new_code_cell("from dmlib import exercises\nx = 1\nprint(x)"), 1, "1\n"),
        new_markdown_cell("## Exercises\n1. Compute the answer: `exercises.check(\"09.1\", answer)`."),
        _tagged(_ran(new_code_cell("answer = ...  # your code"), 2, "Ellipsis\n"), "exercise"),
        _tagged(new_markdown_cell("Write your reasoning here."), "exercise"),
        _tagged(new_markdown_cell("## Solutions\n**Solution 1.** Multiply."), "solution"),
        _tagged(_ran(new_code_cell("answer = 6 * 7\nexercises.record_solution(\"09.1\", [answer])"), 3, "42\n"),
                "solution", "other-tag"),
        _ran(new_code_cell("print('after')"), 4, "after\n"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["dmlib"] = {"code_sha256": "abc"}
    return nb


def _write(path: Path, nb: nbformat.NotebookNode) -> Path:
    nbformat.write(nb, path)
    return path


def _is_note(cell) -> bool:
    return cell.cell_type == "markdown" and "student edition" in cell.source.lower()


def test_solution_cells_are_removed_markdown_and_code():
    out = student_edition(sample_notebook())
    assert not any("solution" in c.metadata.get("tags", []) for c in out.cells)
    sources = [c.source for c in out.cells if not _is_note(c)]
    assert not any("Solution" in s or "record_solution" in s for s in sources)
    assert sources == [c.source for c in sample_notebook().cells
                       if "solution" not in c.metadata.get("tags", [])]


def test_exercise_cells_stay_with_their_outputs_cleared():
    out = student_edition(sample_notebook())
    code = next(c for c in out.cells if c.source.startswith("answer = ..."))
    assert code.metadata["tags"] == ["exercise"]
    assert code.outputs == [] and code.execution_count is None
    assert any(c.source == "Write your reasoning here." for c in out.cells)


def test_other_cells_outputs_and_the_input_notebook_are_untouched():
    nb = sample_notebook()
    before = copy.deepcopy(nb)
    out = student_edition(nb)
    assert nb == before  # a copy was made; the teacher edition in memory is unchanged
    kept = {c.source: c for c in out.cells}
    for cell in before.cells:
        if not cell.metadata.get("tags"):
            assert kept[cell.source] == cell  # outputs, execution count, metadata and id as they were
    assert out.metadata == before.metadata
    assert (out.nbformat, out.nbformat_minor) == (before.nbformat, before.nbformat_minor)
    nbformat.validate(out)


def test_the_closing_note_is_added_only_when_solutions_were_removed():
    out = student_edition(sample_notebook())
    assert sum(map(_is_note, out.cells)) == 1 and _is_note(out.cells[-1])
    note = out.cells[-1].source
    assert 'exercises.check("09.1", answer)' in note and "exercises.hint(" in note
    assert "teacher edition" in note and "notebooks/" in note
    assert "solution" not in out.cells[-1].metadata.get("tags", [])

    plain = sample_notebook()
    plain.cells = [c for c in plain.cells if "solution" not in c.metadata.get("tags", [])]
    out = student_edition(plain)
    assert not any(map(_is_note, out.cells))
    assert [c.source for c in out.cells] == [c.source for c in plain.cells]


def test_written_notebooks_keep_their_nbformat_version_and_metadata(tmp_path):
    old = sample_notebook()
    old.nbformat_minor = 4  # nbformat 4.4: cells have no ids, and the added note must not get one
    for cell in old.cells:
        cell.pop("id", None)
    src = _write(tmp_path / "09_old.ipynb", old)
    new = _write(tmp_path / "10_new.ipynb", sample_notebook())
    (tmp_path / "data.csv").write_text("a,b\n")
    written = write_student_edition([src, new], tmp_path / "out" / "student")
    assert written == [tmp_path / "out" / "student" / "09_old.ipynb", tmp_path / "out" / "student" / "10_new.ipynb"]
    assert sorted(p.name for p in (tmp_path / "out" / "student").iterdir()) == ["09_old.ipynb", "10_new.ipynb"]
    back = nbformat.read(written[0], as_version=nbformat.NO_CONVERT)
    assert (back.nbformat, back.nbformat_minor) == (4, 4)
    assert not any("id" in c for c in back.cells)
    nbformat.validate(back)
    assert back.metadata == old.metadata
    assert _is_note(back.cells[-1]) and not any("record_solution" in c.source for c in back.cells)
    assert nbformat.read(written[1], as_version=nbformat.NO_CONVERT).nbformat_minor == sample_notebook().nbformat_minor


@pytest.mark.parametrize("inside", ["", "sub"])
def test_refuses_to_write_into_the_notebooks_folder(tmp_path, monkeypatch, inside):
    teacher = tmp_path / "notebooks"
    teacher.mkdir()
    monkeypatch.setattr(runner, "NOTEBOOKS", teacher)
    src = _write(teacher / "09_sample.ipynb", sample_notebook())
    before = src.read_bytes()
    with pytest.raises(ValueError, match="notebooks/ folder"):
        write_student_edition([src], teacher / inside if inside else teacher)
    assert src.read_bytes() == before
    assert sorted(p.name for p in teacher.iterdir()) == ["09_sample.ipynb"]


def test_refuses_the_repository_notebooks_folder(tmp_path):
    """The real teacher edition: a synthetic notebook with a name no real one has must not land there."""
    src = _write(tmp_path / "99_student_refusal_probe.ipynb", sample_notebook())
    target = ROOT / "notebooks" / src.name
    assert not target.exists()
    try:
        with pytest.raises(ValueError, match="teacher edition"):
            write_student_edition([src], ROOT / "notebooks" / ".." / "notebooks")
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_refuses_to_overwrite_its_source(tmp_path):
    src = _write(tmp_path / "09_sample.ipynb", sample_notebook())
    before = src.read_bytes()
    with pytest.raises(ValueError, match="overwrite"):
        write_student_edition([src], tmp_path)
    assert src.read_bytes() == before


V3 = b'{"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}'


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"nbformat": 4, "nbformat_minor": 5}',
                                     b"\xff\xfe{", V3])
def test_an_unreadable_notebook_is_named_and_nothing_is_written(tmp_path, content):
    good = _write(tmp_path / "08_good.ipynb", sample_notebook())
    bad = tmp_path / "09_broken.ipynb"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match="09_broken.ipynb") as err:
        write_student_edition([good, bad], tmp_path / "out")
    assert "cannot read" in str(err.value)
    if content == V3:
        assert "nbformat 4" in str(err.value)
    assert not (tmp_path / "out" / "08_good.ipynb").exists()


def test_cli_writes_the_student_edition(tmp_path, monkeypatch, capsys):
    src = _write(tmp_path / "09_sample.ipynb", sample_notebook())
    plain = sample_notebook()
    plain.cells = plain.cells[:3]
    other = _write(tmp_path / "10_plain.ipynb", plain)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["student", "--out", str(tmp_path / "handout"), str(src), str(other)]) == 0  # shown relative
    out = capsys.readouterr().out.splitlines()
    assert out == ["handout/09_sample.ipynb: 2 solution cells removed",
                   "handout/10_plain.ipynb: 0 solution cells removed"]
    edition = nbformat.read(tmp_path / "handout" / "09_sample.ipynb", as_version=4)
    assert not any("solution" in c.metadata.get("tags", []) for c in edition.cells)
    assert _is_note(edition.cells[-1])


def test_cli_default_folder_selectors_and_refusal(tmp_path, monkeypatch, capsys):
    (tmp_path / "notebooks").mkdir()
    _write(tmp_path / "notebooks" / "09_sample.ipynb", sample_notebook())
    _write(tmp_path / "notebooks" / "10_other.ipynb", sample_notebook())
    monkeypatch.setattr(runner, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the default folder is at the repository root, not here
    assert cli.main(["student", "09"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'student' / '09_sample.ipynb'}: 2 solution cells removed\n"
    assert [p.name for p in (tmp_path / "student").iterdir()] == ["09_sample.ipynb"]
    assert not list((tmp_path / "elsewhere").iterdir())

    monkeypatch.chdir(tmp_path)
    assert cli.main(["student", "--out", "notebooks"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: refusing") and "Traceback" not in captured.err and not captured.out
    assert sorted(p.name for p in (tmp_path / "notebooks").iterdir()) == ["09_sample.ipynb", "10_other.ipynb"]


def test_student_edition_of_notebook_02(tmp_path):
    src = ROOT / "notebooks" / "02_cnn_images.ipynb"
    teacher = nbformat.read(src, as_version=4)
    assert any("solution" in c.metadata.get("tags", []) for c in teacher.cells)  # else this test proves nothing
    [written] = write_student_edition([src], tmp_path)
    edition = nbformat.read(written, as_version=4)
    assert not any("solution" in c.metadata.get("tags", []) for c in edition.cells)
    assert not any("exercises.record_solution(" in c.source for c in edition.cells)
    assert sum(c.cell_type == "markdown" and c.source.startswith("## Exercises") for c in edition.cells) == 1
    assert 'exercises.check("02.1", answer)' in edition.cells[-1].source
