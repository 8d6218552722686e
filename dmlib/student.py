"""The student edition of the notebooks: ``python -m dmlib student [--out DIR] [NB ...]``.

The repository's notebooks are the teacher edition. A cell tagged ``"solution"`` (in
``cell.metadata.tags``; markdown or code) is a worked answer: the student edition leaves it out. A
cell tagged ``"exercise"`` is one the student fills in: it stays, with its outputs and execution
count cleared. Every other cell, its outputs included, is copied unchanged, and so are the
notebook's metadata and nbformat version. When solution cells were removed, one closing markdown
cell says that this is the student edition and how to check answers
(:func:`dmlib.exercises.check`, :func:`dmlib.exercises.hint`).

:func:`write_student_edition` writes the editions (same file names) into a folder of their own, by
default ``student/`` at the repository root; it refuses the repository's ``notebooks/`` folder,
where it would overwrite the teacher edition.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, NamedTuple

import nbformat

SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
# The notebook's number in its exercise keys, e.g. the "02" of `exercises.check("02.1", ratio)`.
_KEY = re.compile(r"exercises\.\w+\(\s*[\"'](\d{2})\.")


class StudentEditionError(ValueError):
    """A notebook that cannot be read or turned into a student edition, or a refused output folder."""


class StudentNotebook(NamedTuple):
    """One written student edition: where it was written and how many solution cells it lost."""

    path: Path
    removed: int


def _tags(cell: Any) -> set[str]:
    """The cell's tags; a single string (hand-edited metadata) counts as one tag."""
    tags = cell.get("metadata", {}).get("tags", [])
    if isinstance(tags, str):
        return {tags}
    return {t for t in tags if isinstance(t, str)} if isinstance(tags, (list, tuple)) else set()


def is_solution(cell: Any) -> bool:
    """Whether ``cell`` is tagged ``"solution"`` (a worked answer, left out of the student edition)."""
    return SOLUTION_TAG in _tags(cell)


def is_exercise(cell: Any) -> bool:
    """Whether ``cell`` is tagged ``"exercise"`` (a cell the student fills in)."""
    return EXERCISE_TAG in _tags(cell)


def _closing_note(nb: nbformat.NotebookNode, removed: int) -> nbformat.NotebookNode:
    """The markdown cell appended to a student edition from which ``removed`` solution cells were taken."""
    numbers = [m.group(1) for cell in nb.cells for m in _KEY.finditer(cell.get("source", ""))]
    key = f"{numbers[0]}.1" if numbers else "NN.1"
    text = (
        "## Student edition\n"
        f"This is the student edition of the notebook: the solutions ({removed} cell{'s' * (removed != 1)}) "
        "were left out.\n"
        f"Check a numeric answer with `exercises.check(\"{key}\", answer)` (it says whether the answer is right, "
        "or how far off it is, without giving it away),\n"
        f"and print an exercise's hint with `exercises.hint(\"{key}\")` (after `from dmlib import exercises`).\n"
        "The teacher edition, the repository's `notebooks/`, holds the solutions.")
    cell = nbformat.v4.new_markdown_cell(text)
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
        cell.pop("id", None)  # cell ids exist from nbformat 4.5 on; an older notebook must not get one
    return cell


def _student_edition(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """The student edition of ``nb`` and the number of solution cells removed."""
    if nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        raise StudentEditionError(
            f"expected a notebook in nbformat 4 (with a list of cells), got nbformat {nb.get('nbformat')!r}; "
            "open and save it in JupyterLab to upgrade it")
    out = copy.deepcopy(nb)
    kept = [cell for cell in out.cells if not is_solution(cell)]
    removed = len(out.cells) - len(kept)
    for cell in kept:
        if is_exercise(cell) and cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    if removed:
        kept.append(_closing_note(out, removed))
    out.cells = kept
    return out, removed


def student_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student edition of a notebook: solutions removed, exercise cells cleared.

    ``nb`` itself is not changed. Cells tagged ``"solution"`` (markdown and code) are left out; code
    cells tagged ``"exercise"`` keep their source but lose their outputs and execution count. Every
    other cell, the notebook's metadata and its nbformat version are kept as they are. When any
    solution cell was removed, one markdown cell is appended saying that this is the student edition,
    that answers are checked with ``exercises.check(...)`` and ``exercises.hint(...)``, and that the
    teacher edition holds the solutions.

    Args:
        nb: a notebook in nbformat 4, as ``nbformat.read(path, as_version=nbformat.NO_CONVERT)`` gives it.

    Returns:
        A new notebook.

    Raises:
        StudentEditionError: (a ``ValueError``) for a notebook that is not in nbformat 4.

    Example:
        >>> from nbformat.v4 import new_code_cell, new_notebook
        >>> nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("x = 42")])
        >>> nb.cells[1].metadata["tags"] = ["solution"]
        >>> [c.source.splitlines()[0] for c in student_edition(nb).cells]
        ['x = 1', '## Student edition']
    """
    return _student_edition(nb)[0]


def _read(path: Path) -> nbformat.NotebookNode:
    """Read the notebook at ``path`` as it is (no version conversion), or say which file is unreadable."""
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except Exception as err:  # OSError, NotJSONError, UnicodeDecodeError, a JSON list: all "cannot read"
        raise StudentEditionError(f"cannot read the notebook {path}: {type(err).__name__}: {err}") from None
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list) \
            or not all(isinstance(c, dict) and "cell_type" in c for c in nb["cells"]):
        raise StudentEditionError(f"cannot read the notebook {path}: it is not a notebook in nbformat 4 "
                                  "(a list of cells, each with a cell_type)")
    return nb


def _refuse(out_dir: Path, notebooks: list[Path]) -> None:
    """Raise when ``out_dir`` is (or lies in) the teacher edition's folder or holds one of ``notebooks``."""
    from dmlib import runner

    target = out_dir.resolve()
    teacher = runner.NOTEBOOKS.resolve()
    if target == teacher or teacher in target.parents:
        raise StudentEditionError(
            f"refusing to write the student edition into {out_dir}: that is "
            f"{'' if target == teacher else 'inside '}the repository's notebooks/ folder, the teacher edition, "
            "whose solutions it would overwrite (and whose tests would collect it); choose another folder, "
            "e.g. the default student/")
    for path in notebooks:
        if path.resolve().parent == target:
            raise StudentEditionError(
                f"refusing to write the student edition into {out_dir}: it would overwrite its source {path}; "
                "choose another folder")


def build_student_edition(notebooks: list[Path], out_dir: Path) -> list[StudentNotebook]:
    """Like :func:`write_student_edition`, also returning how many solution cells each notebook lost."""
    notebooks = [Path(p) for p in notebooks]
    out_dir = Path(out_dir)
    _refuse(out_dir, notebooks)
    names = [p.name for p in notebooks]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise StudentEditionError(f"two notebooks would be written to the same file in {out_dir}: {', '.join(twice)}")
    # Read and convert every notebook before writing any, so that a bad one leaves no half-written folder.
    editions = []
    for path in notebooks:
        nb = _read(path)
        try:
            editions.append((path, *_student_edition(nb)))
        except StudentEditionError as err:
            raise StudentEditionError(f"{path}: {err}") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, edition, removed in editions:
        target = out_dir / path.name
        tmp = out_dir / f".{path.name}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                nbformat.write(edition, f, version=nbformat.NO_CONVERT)
            os.replace(tmp, target)  # a reader never sees a half-written notebook
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        written.append(StudentNotebook(target, removed))
    return written


def write_student_edition(notebooks: list[Path], out_dir: Path) -> list[Path]:
    """Write the student edition of each notebook into ``out_dir``, under the same file name.

    ``out_dir`` is created when missing; nothing but the notebooks is written or copied there. Each
    notebook keeps its nbformat version and metadata (see :func:`student_edition`). Every notebook is
    read before any is written, so an unreadable one leaves ``out_dir`` as it was.

    Args:
        notebooks: the teacher-edition notebooks, e.g. ``dmlib.runner.find_notebooks()``.
        out_dir: the folder to write into, e.g. ``student/``.

    Returns:
        The paths written, in the order of ``notebooks``.

    Raises:
        StudentEditionError: (a ``ValueError``) when ``out_dir`` is the repository's ``notebooks/``
            folder (or lies inside it), when it is the folder of one of ``notebooks`` (which would be
            overwritten), when two notebooks share a file name, or when a notebook cannot be read
            (the message names the file).
        OSError: when ``out_dir`` cannot be created or written.
    """
    return [w.path for w in build_student_edition(notebooks, out_dir)]
