"""Checked exercises: exact answers, measured answers against recorded ranges, recording, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dmlib import exercises as ex

EXPECTED = 5 * 5 * 64 * 64  # 102400


@pytest.fixture(scope="session")
def backend():
    return ex._backend()


@pytest.fixture(autouse=True)
def throwaway(tmp_path, monkeypatch):
    """Exercises 99.x for the test (removed again); profile smoke; ranges read from a temp file."""
    monkeypatch.setenv("DMLIB_PROFILE", "smoke")
    monkeypatch.delenv(ex.RECORD_ENV, raising=False)
    monkeypatch.setenv(ex.RESULTS_ENV, str(tmp_path / "committed.json"))
    added = [
        ex.register(ex.Exercise("99.1", "the number of weights of the 5x5 convolution (an integer)",
                                "kernel area times input times output channels", exact=lambda: EXPECTED)),
        ex.register(ex.Exercise("99.2", "the test accuracy (a fraction)", "train longer", rel_tol=0.02,
                                plausible=(0.1, 1.0))),
        ex.register(ex.Exercise("99.3", "the test loss", "look at the curve")),
        ex.register(ex.Exercise("99.4", "the ratio (a float)", "divide", exact=lambda: 2.0, rel_tol=0.01,
                                abs_tol=0.001)),
    ]
    yield tmp_path
    for e in added:
        ex.EXERCISES.pop(e.key, None)


def committed(tmp_path, data):
    (tmp_path / "committed.json").write_text(json.dumps(data))


# --------------------------------------------------------------------------- exact


def test_exact_right_and_wrong(capsys):
    assert ex.check("99.1", 102400) is True
    assert "right" in capsys.readouterr().out
    assert ex.check("99.1", np.float32(102400.0)) is True and ex.check("99.1", np.array([102400])) is True
    assert ex.check("99.1", 102401) is False  # no tolerance: exact equality
    out = capsys.readouterr().out
    assert "not right" in out and "Hint: kernel area" in out


def test_exact_tolerances():
    assert ex.check("99.4", 2.019) and ex.check("99.4", 1.981)  # rel_tol 1% of 2 = 0.02
    assert not ex.check("99.4", 2.021) and not ex.check("99.4", 1.979)
    ex.register(ex.Exercise("99.5", "a small number", "think", exact=lambda: 0.0, rel_tol=0.5, abs_tol=0.001))
    try:
        assert ex.check("99.5", 0.0009) and not ex.check("99.5", 0.0011)  # abs_tol wins at 0
    finally:
        ex.EXERCISES.pop("99.5")


@pytest.mark.parametrize("answer", [102399, 102401, 0, 1, 1e6, 1024000, -102400, 51200, 204800, 102400.5])
def test_wrong_answer_never_shows_the_expected_value(answer, capsys):
    assert ex.check("99.1", answer) is False
    out = capsys.readouterr().out
    for shown in ("102400", "102,400", "1.024e+05", "1.024e5", "102 400"):
        assert shown not in out


@pytest.mark.parametrize("answer, words", [
    (204800, "too high by more than 10%"), (115000, "too high by more than 10%"),
    (112640, "too high by 10% or less"), (105000, "too high by 10% or less"),
    (50000, "too low by more than 10%"), (90000, "too low by more than 10%"), (95000, "too low by 10% or less"),
])
def test_too_high_or_too_low_in_coarse_words(answer, words, capsys):
    ex.check("99.1", answer)
    out = capsys.readouterr().out
    assert words in out
    assert ("high" in words) != ("too low" in out)


# --------------------------------------------------------------------------- measured


def test_measured_inside_above_below_the_recorded_range(throwaway, backend, capsys):
    committed(throwaway, {"smoke": {backend: {"99.2": {"low": 0.80, "high": 0.85, "runs": 3}}}})
    assert ex.check("99.2", 0.82) is True
    out = capsys.readouterr().out
    assert "within the range 0.8 to 0.85" in out and "3 runs" in out and "smoke" in out and "Hint" not in out
    assert ex.check("99.2", 0.86) is True  # inside the margin: rel_tol 2% of 0.85
    assert ex.check("99.2", 0.90) is False
    out = capsys.readouterr().out
    assert "above the range" in out and "Hint: train longer" in out
    assert ex.check("99.2", 0.70) is False
    assert "below the range" in capsys.readouterr().out


@pytest.mark.parametrize("data", [
    {},  # nothing recorded
    {"standard": {"BACKEND": {"99.2": {"low": 0.8, "high": 0.85, "runs": 3}}}},  # another profile only
    {"smoke": {"another-backend": {"99.2": {"low": 0.8, "high": 0.85, "runs": 3}}}},  # another backend only
    {"smoke": {"BACKEND": {"99.9": {"low": 0.8, "high": 0.85, "runs": 3}}}},  # another key only
    None,  # no file at all
])
def test_without_a_recorded_range_only_plausibility_is_checked(data, throwaway, backend, capsys):
    if data is not None:
        committed(throwaway, json.loads(json.dumps(data).replace("BACKEND", backend)))
    note = f"no solution run is recorded for profile smoke on backend {backend}: only plausibility is checked"
    assert ex.check("99.2", 0.5) is True  # would be below the other entries' range
    out = capsys.readouterr().out
    assert note in out and "within the plausible range" in out
    assert ex.check("99.2", 1.5) is False
    out = capsys.readouterr().out
    assert note in out and "outside the plausible range" in out and "Hint" in out


def test_no_range_and_no_plausible_range_cannot_be_checked(capsys):
    assert ex.check("99.3", 0.4) is False
    assert "cannot be checked here" in capsys.readouterr().out


# --------------------------------------------------------------------------- recording


def test_record_solution_writes_nothing_unless_a_runner_asks(throwaway, monkeypatch):
    before = sorted(throwaway.iterdir())
    monkeypatch.setattr(ex.tempfile, "mkstemp", lambda *a, **k: pytest.fail("a file was written"))
    monkeypatch.setattr(ex.os, "replace", lambda *a, **k: pytest.fail("a file was written"))
    assert ex.record_solution("99.2", [0.83, 0.81, 0.84]) == (0.81, 0.84)
    assert sorted(throwaway.iterdir()) == before
    assert not ex.RESULTS_FILE.exists() or "99.2" not in ex.RESULTS_FILE.read_text()


def test_record_solution_merges_and_keeps_other_entries(throwaway, backend, monkeypatch, capsys):
    target = throwaway / "results" / "exercises.json"
    target.parent.mkdir()
    other = {"low": 1.0, "high": 2.0, "runs": 5}
    target.write_text(json.dumps({"full": {backend: {"99.2": other}}, "smoke": {backend: {"99.3": other}}}))
    monkeypatch.setenv(ex.RECORD_ENV, str(target))
    assert ex.record_solution("99.2", np.array([0.83, 0.81, 0.84])) == (0.81, 0.84)
    text = target.read_text()
    data = json.loads(text)
    assert data["smoke"][backend] == {"99.2": {"low": 0.81, "high": 0.84, "runs": 3}, "99.3": other}
    assert data["full"][backend]["99.2"] == other
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert ex.record_solution("99.2", [0.7]) == (0.7, 0.7)  # a rerun replaces the entry
    assert json.loads(target.read_text())["smoke"][backend]["99.2"] == {"low": 0.7, "high": 0.7, "runs": 1}
    assert [p.name for p in target.parent.iterdir()] == ["exercises.json"]  # no temp file left behind
    # recording does not make this kernel's check pass: check reads only the committed file
    assert ex.check("99.3", 0.7) is False and "cannot be checked" in capsys.readouterr().out


def test_record_solution_creates_a_missing_file(throwaway, backend, monkeypatch):
    target = throwaway / "new.json"
    monkeypatch.setenv(ex.RECORD_ENV, str(target))
    ex.record_solution("99.3", [2.5, 2.0])
    assert json.loads(target.read_text()) == {"smoke": {backend: {"99.3": {"low": 2.0, "high": 2.5, "runs": 2}}}}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"smoke": {"jax": {"99.2": {"low": 0.9}}}}',
                                     '{"smoke": {"jax": {"99.2": {"low": 0.9, "high": 0.8, "runs": 2}}}}'])
def test_a_damaged_file_is_named_and_left_alone(content, throwaway, monkeypatch):
    target = throwaway / "exercises.json"
    target.write_text(content)
    monkeypatch.setenv(ex.RECORD_ENV, str(target))
    with pytest.raises(ex.ExercisesFileError, match=r"exercises\.json.*delete it or fix it"):
        ex.record_solution("99.2", [0.8])
    assert target.read_text() == content
    (throwaway / "committed.json").write_text(content)
    with pytest.raises(ValueError, match=r"committed\.json.*delete it or fix it"):
        ex.check("99.2", 0.8)


# --------------------------------------------------------------------------- bad input, hint, asks


def test_unknown_key_lists_the_known_keys():
    with pytest.raises(ValueError, match=r"no exercise '98\.1'.*99\.1, 99\.2"):
        ex.check("98.1", 1.0)
    with pytest.raises(ValueError, match="known keys"):
        ex.hint("98.1")


@pytest.mark.parametrize("answer", ["102400", None, math.nan, math.inf, True, np.bool_(False),
                                    np.array([True], dtype=object), np.array([1.0, 2.0]), [], 1 + 2j, object()])
def test_an_answer_that_is_not_one_finite_number_is_refused(answer):
    with pytest.raises(ValueError, match=r"pass the number of weights of the 5x5 convolution \(an integer\)"):
        ex.check("99.1", answer)


def test_register_refuses_duplicate_and_malformed_keys():
    with pytest.raises(ValueError, match="already registered"):
        ex.register(ex.Exercise("99.1", "again", "none", exact=lambda: 1))
    for key in ("2.1", "02-1", "02.", "102.1", "02.1a", ""):
        with pytest.raises(ValueError, match="malformed.*'NN.M'"):
            ex.register(ex.Exercise(key, "x", "y"))
    assert ex.EXERCISES["99.1"].asks.startswith("the number of weights")  # the first one is kept


def test_record_solution_refuses_bad_input():
    with pytest.raises(ValueError, match="is exact"):
        ex.record_solution("99.1", [1.0])
    for values in ([], [0.5, math.nan], ["0.5"], "0.5", [True]):
        with pytest.raises(ValueError, match="pass one finite number per run"):
            ex.record_solution("99.2", values)
    with pytest.raises(ValueError, match="known keys"):
        ex.record_solution("98.1", [1.0])


def test_hint_and_asks(capsys):
    ex.hint("99.2")
    assert "train longer" in capsys.readouterr().out
    assert ex.asks("99.2") == "the test accuracy (a fraction)"

