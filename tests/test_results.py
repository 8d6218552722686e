"""Recording metrics, the results files, the code hash, and the README report."""

from __future__ import annotations

import json
import math

import nbformat
import pytest

import dmlib
from dmlib import config, results
from dmlib.report import END, START, results_table, update_readme


@pytest.fixture(autouse=True)
def fresh_records(monkeypatch):
    monkeypatch.setattr(results, "_RECORDS", [])


def test_record_prints_and_writes_a_line(tmp_path, monkeypatch, capsys):
    record_file = tmp_path / "records.jsonl"
    monkeypatch.setenv("DMLIB_RECORD_FILE", str(record_file))
    assert dmlib.record("mlp_test_accuracy", 0.8712, reference=0.883, source="Zalando") == pytest.approx(0.8712)
    assert "recorded mlp_test_accuracy = 0.8712  (reference 0.8830, Zalando)" in capsys.readouterr().out
    facts, metrics = results.read_record_file(record_file)
    assert metrics["mlp_test_accuracy"] == {"value": 0.8712, "reference": 0.883, "source": "Zalando",
                                            "higher_is_better": True}


@pytest.mark.parametrize("name, value, message", [
    ("MLP accuracy", 0.5, "lower_snake_case"),
    ("mlp", float("nan"), "not finite"),
    ("mlp", "high", "not a number"),
])
def test_record_rejects_bad_input(name, value, message):
    with pytest.raises(ValueError, match=message):
        dmlib.record(name, value)


def test_recorded_table_and_rerecording_replaces():
    dmlib.record("a_metric", 1.0, reference=0.5)
    dmlib.record("b_error", 2.0, higher_is_better=False)
    dmlib.record("a_metric", 0.75, reference=0.5)
    table = dmlib.recorded()
    assert list(table.index) == ["b_error", "a_metric"]
    assert table.loc["a_metric", "difference"] == pytest.approx(0.25)
    assert table.loc["b_error", "reference"] is None or math.isnan(table.loc["b_error", "reference"])


def test_code_hash_follows_code_cells_only():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("hi")])
    h = results.code_hash(nb)
    nb.cells[1].source = "changed prose"
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="1")]
    assert results.code_hash(nb) == h
    nb.cells[0].source = "x = 2"
    assert results.code_hash(nb) != h


def _settings_nb(smoke: int, standard: int, full: int, extra: str = "") -> dict:
    src = (f"import dmlib\nCFG = dmlib.settings(\n    smoke=dict(n={smoke}),\n    standard=dict(n={standard}),\n"
           f"    full=dict(n={full}),\n)\nCFG{extra}")
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src), nbformat.v4.new_code_cell("y = CFG.n")])


def test_code_hash_per_profile_counts_only_that_profiles_settings():
    base = _settings_nb(1, 2, 3)
    assert results.code_hash(_settings_nb(9, 2, 3), "full") == results.code_hash(base, "full")  # smoke trimmed
    assert results.code_hash(_settings_nb(9, 2, 3), "standard") == results.code_hash(base, "standard")
    assert results.code_hash(_settings_nb(9, 2, 3), "smoke") != results.code_hash(base, "smoke")
    assert results.code_hash(_settings_nb(1, 2, 4), "full") != results.code_hash(base, "full")  # full changed
    assert results.code_hash(_settings_nb(1, 2, 3, extra="\nprint(1)"), "full") != results.code_hash(base, "full")
    assert results.code_hash(_settings_nb(9, 2, 3)) != results.code_hash(base)  # no profile: every value counts
    assert len({results.code_hash(base, p) for p in config.PROFILES}) == 3


def test_code_hash_profile_names_and_unparsable_cells():
    assert results._PROFILE_NAMES == config.PROFILES
    with pytest.raises(ValueError, match="not one of"):
        results.code_hash(_settings_nb(1, 2, 3), "Full")
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("CFG = settings(smoke=dict(n=1), standard=")])
    assert results.code_hash(broken, "full") == results.code_hash(broken)  # not parsable: all of it counts


def test_merge_keeps_other_notebooks(tmp_path):
    path = tmp_path / "results" / "standard.json"
    kw = dict(profile="standard", facts={"backend": "jax", "device": "CPU", "versions": {"keras": "3"}},
              seconds=12.34, code_sha256="abc")
    results.merge_notebook_result(path, "01_a", metrics={"m": {"value": 1.0}}, **kw)
    results.merge_notebook_result(path, "00_b", metrics={"n": {"value": 2.0}}, **kw)
    results.merge_notebook_result(path, "01_a", metrics={"m": {"value": 3.0}}, **kw)
    data = json.loads(path.read_text())
    assert list(data["notebooks"]) == ["00_b", "01_a"]
    assert data["notebooks"]["01_a"]["metrics"]["m"]["value"] == 3.0
    assert data["notebooks"]["00_b"]["backend"] == "jax" and data["notebooks"]["00_b"]["seconds"] == 12.3


def test_load_results_rejects_other_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a dmlib results file"):
        results.load_results(p)


SMALL = {
    "standard": {"notebooks": {"01_fundamentals": {
        "backend": "tensorflow", "device": "CPU", "machine": "2 CPU cores", "seconds": 300.0, "date": "2026-11-22T00:00:00",
        "metrics": {"mlp_test_accuracy": {"value": 0.8812, "reference": 0.883, "source": "Zalando README"}}}}},
    "full": {"notebooks": {"01_fundamentals": {
        "backend": "jax", "device": "GPU NVIDIA H100", "machine": "16 CPU cores", "seconds": 120.0, "date": "2026-11-23",
        "metrics": {"mlp_test_accuracy": {"value": 0.8931, "reference": 0.883, "source": "Zalando README"}}}}},
}


def test_results_table_puts_profiles_side_by_side():
    table = results_table(SMALL)
    lines = table.splitlines()
    assert lines[0] == "| notebook | metric | standard | full | reference | source |"
    assert "| 01_fundamentals | `mlp_test_accuracy` | 0.8812 | 0.8931 | 0.883 | Zalando README |" in lines
    assert ("| full | 01_fundamentals | jax | GPU NVIDIA H100 | 16 CPU cores | 120.0 | 2026-11-23 | stale: dmlib sources "
            "not recorded (run before they were); pins not recorded |") in lines


def test_results_table_lists_notebooks_without_a_run():
    data = json.loads(json.dumps(SMALL))
    data["standard"]["notebooks"]["02_cnn_images"] = {**data["standard"]["notebooks"]["01_fundamentals"], "metrics": {}}
    lines = results_table(data).splitlines()
    assert "| full | 02_cnn_images | not run | | | | | |" in lines
    assert sum(line.startswith("| standard | 0") for line in lines) == 2


def test_update_readme_rewrites_only_between_markers(tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "standard.json").write_text(json.dumps(SMALL["standard"]))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nold table\n{END}\n\nafter\n")
    update_readme(readme, tmp_path / "results")
    text = readme.read_text()
    assert "old table" not in text and "`mlp_test_accuracy` | 0.8812" in text
    assert text.startswith("# Title\n") and text.endswith("after\n")
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="lacks the markers"):
        update_readme(readme, tmp_path / "results")


# ---- issue 14 item 15: results files are validated before a run; errors name the file ---------

@pytest.mark.parametrize("reference", [float("nan"), float("inf"), "high"])
def test_record_rejects_bad_references_like_values(reference):
    with pytest.raises(ValueError, match="reference"):
        dmlib.record("mlp_test_accuracy", 0.5, reference=reference)


def test_record_rejects_a_source_that_is_not_text():
    with pytest.raises(ValueError, match="source"):
        dmlib.record("mlp_test_accuracy", 0.5, reference=0.9, source=3)


GOOD = {"profile": "standard", "notebooks": {"01_a": {"seconds": 3.0, "metrics": {
    "m": {"value": 0.5, "reference": 0.6, "source": "paper", "higher_is_better": True}}}}}


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "not a dmlib results file"),
    ('{"notebooks": {"01_a": 3}}', "entry of notebook '01_a' must be an object"),
    ('{"notebooks": {"01_a": {"metrics": []}}}', "'metrics' must be an object"),
    ('{"notebooks": {"01_a": {"metrics": {"m": {"value": "0.5"}}}}}', "metric 'm': 'value' must be a finite number"),
    ('{"notebooks": {"01_a": {"metrics": {"m": {"value": NaN}}}}}', "is not valid JSON"),
    ('{"notebooks": {"01_a": {"metrics": {"m": {"value": 1, "reference": "x"}}}}}', "'reference' must be"),
    ('{"notebooks": {"01_a": {"metrics": {"m": {"value": 1, "source": 5}}}}}', "'source' must be"),
    ('{"notebooks": {"01_a": {"seconds": "slow", "metrics": {}}}}', "'seconds' must be a number"),
    ('{"profile": 3, "notebooks": {}}', "'profile' must be a string"),
])
def test_validate_results_file_names_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "standard.json"
    path.write_text(text)
    with pytest.raises(results.ResultsFileError, match=message) as err:
        results.validate_results_file(path)
    assert str(path) in str(err.value) and "git checkout" in str(err.value)


def test_validate_results_file_accepts_good_and_missing_files(tmp_path):
    results.validate_results_file(tmp_path / "missing.json")
    path = tmp_path / "standard.json"
    path.write_text(json.dumps(GOOD))
    results.validate_results_file(path)


def test_the_committed_results_files_are_valid():
    from dmlib.runner import ROOT

    from dmlib import exercises

    for path in sorted((ROOT / "results").glob("*.json")):
        if path.name == "exercises.json":  # the solutions' measured ranges, not a run's record
            exercises._read(path)  # raises ExercisesFileError for a malformed file
        else:
            results.validate_results_file(path)


def test_merge_refuses_a_corrupt_file_and_leaves_it_alone(tmp_path):
    path = tmp_path / "standard.json"
    path.write_text('{"notebooks": {"01_a": {"metrics": {"m": {"value": "oops"}}}}}')
    with pytest.raises(results.ResultsFileError, match="standard.json"):
        results.merge_notebook_result(path, "02_b", profile="standard", facts={}, metrics={}, seconds=1.0,
                                      code_sha256="x")
    assert "oops" in path.read_text()


def test_report_gives_clear_messages_for_wrong_types(tmp_path):
    (tmp_path / "results").mkdir()
    bad = json.loads(json.dumps(GOOD))
    bad["notebooks"]["01_a"]["metrics"]["m"]["value"] = [0.5]
    (tmp_path / "results" / "full.json").write_text(json.dumps(bad))
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    with pytest.raises(results.ResultsFileError, match=r"full.json: notebook '01_a', metric 'm': 'value'"):
        update_readme(readme, tmp_path / "results")
    with pytest.raises(results.ResultsFileError, match="the standard results: notebook '01_a'"):
        results_table({"standard": bad})
    with pytest.raises(ValueError, match="does not exist"):
        update_readme(tmp_path / "nope.md", tmp_path / "nothing")


def test_run_stops_before_touching_the_notebook_when_the_results_file_is_corrupt(tmp_path):
    from dmlib.runner import run_notebook

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('ran')")])
    path = tmp_path / "00_x.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "smoke.json").write_text('{"notebooks": {"00_x": {"metrics": {"m": {"value": null}}}}}')
    with pytest.raises(results.ResultsFileError, match="smoke.json: notebook '00_x', metric 'm'"):
        run_notebook(path, "smoke", out_dir=tmp_path / "out", results_dir=tmp_path / "results")
    assert path.read_text() == before and not (tmp_path / "out").exists()


def test_the_runs_table_says_which_runs_are_current_and_why_others_are_stale(tmp_path):
    from dmlib.results import loaded_dmlib_sources, read_pins
    from dmlib.runner import ROOT

    data = json.loads(json.dumps(SMALL))
    current = data["full"]["notebooks"]["01_fundamentals"]
    current.update(dmlib_sources=loaded_dmlib_sources(), pins=read_pins(ROOT / "requirements.txt"))
    changed = {**current, "dmlib_sources": {**current["dmlib_sources"], "dmlib.results": "0" * 64}}
    data["standard"]["notebooks"]["01_fundamentals"] = changed
    lines = results_table(data).splitlines()
    assert lines[-1].endswith("| 2026-11-23 | current |")
    assert any(line.startswith("| standard | 01_fundamentals") and
               line.endswith("| stale: changed since the run: dmlib.results |") for line in lines)
    (tmp_path / "notebooks").mkdir()
    import nbformat

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
                   tmp_path / "notebooks" / "01_fundamentals.ipynb")
    lines = results_table(data, tmp_path / "notebooks").splitlines()
    assert lines[-1].endswith("| stale: notebook code changed since the run |")


def test_the_readme_shows_todays_staleness_of_every_recorded_run():
    """Readers see stale runs where they look: the README's table is regenerated (`make report`) whenever
    dmlib, the pins, a notebook or a results file changes."""
    from dmlib.runner import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    results = {p: json.loads((ROOT / "results" / f"{p}.json").read_text()) for p in ("standard", "full")}
    assert block == results_table(results, ROOT / "notebooks"), (
        "README.md's results table is out of date (a dmlib module, a pin, a notebook or a result changed): "
        "run `make report` and commit README.md")


# ---- issue 32 item 12: results and report refuse what they cannot hold ---------------------------------------

def test_a_401_digit_integer_is_refused_with_a_message_not_an_overflow():
    with pytest.raises(ValueError, match="not a number a float can hold"):
        results.record("huge", 10**400)
    with pytest.raises(results.ResultsFileError, match="'value' must be a finite number"):
        results.validate_results({"notebooks": {"x": {"metrics": {"m": {"value": 10**400}}}}})


def test_a_truth_value_is_not_recorded_as_a_number():
    with pytest.raises(ValueError, match="truth value, not a number"):
        results.record("passed", True)


def test_a_source_cannot_forge_the_readme_markers(tmp_path):
    (tmp_path / "results").mkdir()
    data = json.loads(json.dumps(SMALL["standard"]))
    data["notebooks"]["01_fundamentals"]["metrics"]["mlp_test_accuracy"]["source"] = f"evil {END} | {START}\nrow"
    (tmp_path / "results" / "standard.json").write_text(json.dumps(data))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nold\n{END}\n\nafter\n")
    for _ in range(3):
        update_readme(readme, tmp_path / "results")
    text = readme.read_text()
    assert text.count(START) == 1 and text.count(END) == 1 and text.endswith("after\n")
    assert "evil &lt;!-- results:end --&gt; \\| &lt;!--" in text
    size = len(text)
    update_readme(readme, tmp_path / "results")
    assert len(readme.read_text()) == size  # the README does not grow on every report
