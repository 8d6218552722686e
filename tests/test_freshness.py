"""A run's record covers everything its numbers depend on: the notebook's code (tested in
test_notebooks_fresh.py), the dmlib modules the run loaded and the pinned requirements; the
experiment cache's key covers dmlib's sources, so an edited helper is never served stale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

import dmlib
from dmlib import experiments as ex
from dmlib import results, runner

PACKAGE = Path(dmlib.__file__).resolve().parent


def tiny_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import dmlib\nprint(dmlib.profile())"),
        nbformat.v4.new_code_cell("from dmlib.verdicts import compare_runs\n"
                                  "dmlib.record('answer', 42.0)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def entry(tmp_path_factory):
    """One real run of a tiny notebook through the runner: its entry in the results file."""
    tmp = tmp_path_factory.mktemp("run")
    path = tiny_notebook(tmp / "07_tiny.ipynb")
    runner.run_notebook(path, "smoke", out_dir=tmp / "out", results_dir=tmp / "results",
                        progress_stream=open("/dev/null", "w"))
    nb = nbformat.read(tmp / "out" / "07_tiny.ipynb", as_version=4)
    assert len(nb.cells) == 2, "the runner's own sources cell must not stay in the notebook"
    return json.loads((tmp / "results" / "smoke.json").read_text())["notebooks"]["07_tiny"]


@pytest.fixture
def package_copy(tmp_path):
    """A copy of the dmlib package and of requirements.txt to edit."""
    copy = tmp_path / "dmlib"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PACKAGE.parent / "requirements.txt", tmp_path / "requirements.txt")
    return copy


def test_the_record_names_the_dmlib_modules_the_run_loaded_and_the_pins(entry):
    sources = entry["dmlib_sources"]
    assert {"dmlib", "dmlib.config", "dmlib.results", "dmlib.verdicts"} <= set(sources)
    assert "dmlib.recsys" not in sources  # never imported by the tiny notebook
    assert sources["dmlib.verdicts"] == results._file_sha256(PACKAGE / "verdicts.py")
    assert entry["pins"]["keras"] == results.read_pins(PACKAGE.parent / "requirements.txt")["keras"]
    assert results.staleness(entry) == []


def test_editing_a_dmlib_function_the_run_used_marks_it_stale(entry, package_copy):
    assert results.staleness(entry, package_dir=package_copy) == []
    path = package_copy / "verdicts.py"
    path.write_text(path.read_text().replace("MIN_RUNS = 3", "MIN_RUNS = 2"))
    assert results.staleness(entry, package_dir=package_copy) == ["changed since the run: dmlib.verdicts"]


def test_editing_a_module_the_run_never_loaded_does_not(entry, package_copy):
    path = package_copy / "recsys.py"
    path.write_text(path.read_text() + "\n# an edit\n")
    assert results.staleness(entry, package_dir=package_copy) == []


def test_a_removed_module_and_a_changed_pin_are_named(entry, package_copy):
    (package_copy / "verdicts.py").unlink()
    req = package_copy.parent / "requirements.txt"
    req.write_text(req.read_text().replace("keras==3.15.1", "keras==3.16.0"))
    reasons = results.staleness(entry, package_dir=package_copy)
    assert reasons == ["changed since the run: dmlib.verdicts", "pins changed: keras 3.15.1 -> 3.16.0"]


def test_a_run_from_before_the_record_is_stale_until_re_run():
    assert results.staleness({"metrics": {}}) == ["dmlib sources not recorded (run before they were)",
                                                  "pins not recorded"]


def helper_result(width: int, seed: int) -> dict:
    return {"score": float(width + seed)}


def test_editing_a_helper_called_by_a_cached_experiment_misses_the_cache(tmp_path, package_copy, monkeypatch):
    monkeypatch.setattr(results, "PACKAGE_DIR", package_copy)
    first = ex.run_grid(helper_result, {"width": [1]}, seeds=[0], name="demo", cache_dir=tmp_path / "c", verbose=False)
    again = ex.run_grid(helper_result, {"width": [1]}, seeds=[0], name="demo", cache_dir=tmp_path / "c", verbose=False)
    assert not first["cached"].any() and again["cached"].all()
    # a helper the experiment never names (dmlib.train): the key covers every dmlib source, called or not
    train = package_copy / "train.py"
    train.write_text(train.read_text().replace('"max" if any(', '"max" if all('))
    edited = ex.run_grid(helper_result, {"width": [1]}, seeds=[0], name="demo", cache_dir=tmp_path / "c", verbose=False)
    assert not edited["cached"].any()
    (package_copy.parent / "notes.txt").write_text("outside the package")
    unchanged = ex.run_grid(helper_result, {"width": [1]}, seeds=[0], name="demo", cache_dir=tmp_path / "c",
                            verbose=False)
    assert unchanged["cached"].all()


def test_the_results_file_accepts_only_string_maps_for_sources_and_pins():
    good = {"notebooks": {"x": {"metrics": {}, "dmlib_sources": {"dmlib": "ab"}, "pins": {"keras": "3"}}}}
    assert results.validate_results(good) is good
    with pytest.raises(results.ResultsFileError, match="'pins' must map names to strings"):
        results.validate_results({"notebooks": {"x": {"metrics": {}, "pins": {"keras": 3}}}})
