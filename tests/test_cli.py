"""The command line (`python -m dmlib ...`): profile names, bad settings, exit codes (issue 14, item 18)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dmlib import cli, runner
from test_runner import tiny_notebook
from test_sentiment import tiny_classifier

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workbook(tmp_path, monkeypatch):
    """A workbook folder with one tiny notebook, for `run`."""
    (tmp_path / "notebooks").mkdir()
    tiny_notebook(tmp_path / "notebooks" / "07_tiny.ipynb")
    monkeypatch.setattr(runner, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    return tmp_path


def test_doctor_with_an_unknown_profile_says_so_and_fails(monkeypatch, capsys):
    monkeypatch.setenv("DMLIB_PROFILE", "bogus")
    assert cli.main(["doctor"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "DMLIB_PROFILE='bogus' is not a profile; use one of smoke, standard, full" in err
    assert "Versions:" in out and "Cache:" in out  # the rest of the report is still printed


def test_doctor_with_an_unknown_backend_fails(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "nonsense")
    assert cli.main(["doctor"]) == 1
    err = capsys.readouterr().err
    assert "KERAS_BACKEND='nonsense' is not a backend" in err and "tensorflow, jax, torch" in err


@pytest.mark.parametrize("env", [{"DMLIB_PROFILE": "bogus"}, {"KERAS_BACKEND": "nonsense"}])
def test_doctor_process_exits_non_zero_without_a_traceback(env, tmp_path):
    """As `make doctor` runs it: a real process, exit status and output checked."""
    full_env = {**os.environ, "DMLIB_CACHE": str(tmp_path), "DMLIB_OFFLINE": "1", **env}
    full_env.pop("DMLIB_DATA_MIRRORS", None)
    if "KERAS_BACKEND" not in env:
        full_env["KERAS_BACKEND"] = "nonsense"  # fail fast: no backend start, the profile is the point
    out = subprocess.run([sys.executable, "-m", "dmlib", "doctor"], capture_output=True, text=True, env=full_env,
                         cwd=ROOT, timeout=300)
    assert out.returncode != 0
    assert "Traceback" not in out.stdout + out.stderr
    name, value = next(iter(env.items()))
    assert f"{name}={value!r}" in out.stderr


@pytest.mark.parametrize("given", ["Smoke", " smoke ", "SMOKE"])
def test_run_accepts_the_profile_names_the_notebooks_accept(workbook, given, monkeypatch, capsys):
    if given != "Smoke":  # one real run is enough; the others stop right after the name is checked
        monkeypatch.setattr(runner, "run_notebook", lambda path, profile, **kw: (_ for _ in ()).throw(
            AssertionError(f"ran {profile}")))
    code = cli.main(["run", "--profile", given, "07"])
    out, err = capsys.readouterr()
    if given == "Smoke":
        assert code == 0, err
        data = json.loads((workbook / "results" / "smoke.json").read_text())
        assert data["profile"] == "smoke" and "07_tiny" in data["notebooks"]
    else:
        assert "ran smoke" in err  # normalised to smoke before the runner was called


def test_run_takes_the_profile_from_the_environment_normalised(workbook, monkeypatch, capsys):
    seen = []
    monkeypatch.setattr(runner, "run_notebook", lambda path, profile, **kw: seen.append(profile) or 0.0)
    monkeypatch.setenv("DMLIB_PROFILE", " Full ")
    assert cli.main(["run", "07"]) == 0
    assert seen == ["full"]


@pytest.mark.parametrize("argv, env", [(["run", "--profile", "bogus", "07"], {}), (["run", "07"], {"DMLIB_PROFILE": "bogus"})])
def test_run_refuses_an_unknown_profile_with_one_message(workbook, argv, env, monkeypatch, capsys):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert "is not a profile; use one of smoke, standard, full" in err and "Traceback" not in err
    assert not (workbook / "results").exists()


def test_run_refuses_an_unknown_backend_before_starting(workbook, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "nonsense")
    monkeypatch.setattr(runner, "run_notebook", lambda *a, **k: pytest.fail("a notebook was started"))
    assert cli.main(["run", "--profile", "smoke", "07"]) == 2
    assert "KERAS_BACKEND='nonsense'" in capsys.readouterr().err


def test_report_with_a_corrupt_results_file_names_it_and_exits_1(workbook, monkeypatch, capsys):
    (workbook / "results").mkdir()
    (workbook / "results" / "standard.json").write_text("{not json")
    (workbook / "README.md").write_text("# x\n")
    assert cli.main(["report", "--readme", str(workbook / "README.md")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "standard.json" in err and "Traceback" not in err


def test_notebooks_without_their_data_stop_pytest_with_one_plain_message(tmp_path):
    """Issue 32 item 14: the message started with `_pytest.outcomes.Exit:`; now it is one ERROR line, exit 4
    (`make test` reports it as make's own exit status 2)."""
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMLIB_", "PYTEST_"))}
    env.update(DMLIB_OFFLINE="1", DMLIB_CACHE=str(tmp_path / "empty-cache"), HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "notebooks/00_start_here.ipynb"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out[-2000:]
    assert "_pytest.outcomes.Exit" not in out and "Traceback" not in out
    assert proc.stderr.lstrip().startswith("ERROR: The datasets") and "DeprecationWarning" not in out


def test_report_refuses_a_missing_readme_with_one_line(tmp_path, capsys):
    assert cli.main(["report", "--readme", str(tmp_path / "nonexistent" / "README.md")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    (tmp_path / "README.md").write_text("no markers here\n")
    assert cli.main(["report", "--readme", str(tmp_path / "README.md")]) == 1
    assert "lacks the markers" in capsys.readouterr().err


@pytest.fixture
def saved_classifier(tmp_path):
    """A tiny id classifier saved as the notebook saves its model."""
    from dmlib import sentiment

    clf = tiny_classifier()
    folder = tmp_path / "model"
    folder.mkdir()
    sentiment.save_text_classifier(folder, clf)
    return folder, clf


def test_sentiment_prints_one_line_per_text_with_score_and_label(saved_classifier, capsys):
    folder, clf = saved_classifier
    texts = ["A good film.", "A bad\n  film!", "zorglub"]
    assert cli.main(["sentiment", *texts, "--model", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = clf.predict(texts)
    assert len(lines) == 3
    for line, p, t in zip(lines, expected, ["A good film.", "A bad film!", "zorglub"]):
        score, label, rest = line.split("  ", 2)
        assert abs(float(score) - p) < 1e-3 and label == ("positive" if p > 0.5 else "negative")
        assert rest.startswith(t)
    assert "none of its words is known to the model" in lines[2] and "known" not in lines[0]


def test_sentiment_refuses_an_empty_text_with_one_message(saved_classifier, capsys):
    folder, _ = saved_classifier
    assert cli.main(["sentiment", "A good film.", "   ", "--model", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: texts[1] ('   ') has no word to score") and err.count("\n") == 1


def test_sentiment_without_a_saved_model_says_to_run_the_notebook(tmp_path, monkeypatch, capsys):
    from dmlib import sentiment

    monkeypatch.setattr(sentiment, "default_model_folder", lambda: tmp_path / "models" / "04_sentiment" / "standard")
    monkeypatch.delenv("DMLIB_PROFILE", raising=False)
    assert cli.main(["sentiment", "A good film."]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no saved sentiment model in ") and "standard (it lacks model.keras" in err
    assert "run notebooks/04_text_sentiment.ipynb first (make run NB=04)" in err and "Traceback" not in err
    monkeypatch.setenv("DMLIB_PROFILE", "smoke")
    assert cli.main(["sentiment", "A good film.", "--model", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "name a folder written by dmlib.sentiment.save_text_classifier" in err
    assert "(make run PROFILE=smoke NB=04)" in err and err.count("\n") == 1


def test_sentiment_with_an_unusable_backend_exits_2_before_loading(saved_classifier, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "nonsense")
    assert cli.main(["sentiment", "A good film.", "--model", str(saved_classifier[0])]) == 2
    assert capsys.readouterr().err.startswith("error: KERAS_BACKEND='nonsense' is not a backend")
