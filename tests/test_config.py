"""Profiles, settings and setup."""

from __future__ import annotations

import numpy as np
import os

import pytest

import dmlib
from dmlib.config import ProfileError, Settings


@pytest.mark.parametrize("value, expected", [("", "standard"), ("smoke", "smoke"), (" FULL ", "full")])
def test_profile_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv("DMLIB_PROFILE", value)
    assert dmlib.profile() == expected


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DMLIB_PROFILE", "fast")
    with pytest.raises(ProfileError, match="smoke, standard, full"):
        dmlib.profile()


def test_settings_pick_the_active_profile(monkeypatch):
    monkeypatch.setenv("DMLIB_PROFILE", "smoke")
    cfg = dmlib.settings(smoke=dict(epochs=1, n=10), standard=dict(epochs=5, n=100), full=dict(epochs=20, n=1000))
    assert isinstance(cfg, Settings) and cfg.profile == "smoke"
    assert cfg.epochs == 1 and cfg["n"] == 10 and dict(cfg) == {"epochs": 1, "n": 10}
    assert "Settings[smoke]" in repr(cfg)
    with pytest.raises(AttributeError, match="defines epochs, n"):
        cfg.batch_size


def test_settings_missing_key_names_profile_and_key(monkeypatch):
    monkeypatch.setenv("DMLIB_PROFILE", "standard")
    with pytest.raises(ProfileError, match="full lacks epochs"):
        dmlib.settings(smoke=dict(epochs=1), standard=dict(epochs=5), full=dict(n=3))


def test_setup_seeds_and_reports(monkeypatch, capsys):
    monkeypatch.setenv("DMLIB_PROFILE", "smoke")
    facts = dmlib.setup(seed=7)
    a = np.random.rand(3)
    dmlib.setup(seed=7, verbose=False)
    np.testing.assert_array_equal(a, np.random.rand(3))
    line = capsys.readouterr().out
    assert f"Keras {facts['keras']}" in line and "profile smoke" in line and "seed 7" in line
    assert facts["backend"] in {"tensorflow", "jax", "torch"}
    assert facts["device"] == "CPU" or facts["device"].startswith(("GPU", "1 x", "2 x"))


# --------------------------------------------------------------------------- one normalisation of profile names (issue 14, item 18)


@pytest.mark.parametrize("given, expected", [("Smoke", "smoke"), (" standard ", "standard"), ("FULL\n", "full")])
def test_normalize_profile_accepts_any_case_and_spaces(given, expected):
    from dmlib.config import normalize_profile

    assert normalize_profile(given) == expected


@pytest.mark.parametrize("given", ["bogus", "", "smoke-ish", None, 3])
def test_normalize_profile_refuses_with_the_list_of_profiles(given):
    from dmlib.config import normalize_profile

    with pytest.raises(ProfileError, match=r"--profile=.* is not a profile; use one of smoke, standard, full"):
        normalize_profile(given, source="--profile")


def test_environment_and_normalize_agree(monkeypatch):
    from dmlib.config import normalize_profile

    for raw in ("Smoke", " standard ", "FULL"):
        monkeypatch.setenv("DMLIB_PROFILE", raw)
        assert dmlib.profile() == normalize_profile(raw)
    monkeypatch.setenv("DMLIB_PROFILE", "bogus")
    with pytest.raises(ProfileError, match="DMLIB_PROFILE='bogus' is not a profile; use one of smoke, standard, full"):
        dmlib.profile()


@pytest.mark.parametrize("name, ok", [("tensorflow", True), ("jax", True), ("torch", True), ("nonsense", False),
                                      ("Jax", False), ("", False)])
def test_backend_problem(name, ok, monkeypatch):
    import importlib.util

    from dmlib import config
    from dmlib.config import backend_problem

    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: object())  # every backend installed
    problem = backend_problem(name)
    assert (problem is None) == ok
    if not ok:
        assert f"KERAS_BACKEND={name!r}" in problem and "tensorflow, jax, torch" in problem


def test_a_backend_that_is_not_installed_is_reported_before_anything_starts(monkeypatch, capsys):
    """Issue 32 item 13: `run` with KERAS_BACKEND=jax and no JAX printed a 118-line traceback from the kernel."""
    import importlib.util

    from dmlib import runner
    from dmlib.config import backend_problem

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "jax" else real(n, *a))
    problem = backend_problem("jax")
    assert problem.startswith("KERAS_BACKEND='jax', but jax is not installed") and "make extras" in problem
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert runner.run("smoke", ["00"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "jax is not installed" in err


# --------------------------------------------------------------------------- TensorFlow noise silenced at the source (issue 14, item 5)


def test_retracing_warning_is_filtered_and_nothing_else(monkeypatch):
    import logging

    dmlib.setup(seed=0, verbose=False)
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        logger.warning("5 out of the last 13 calls to <function f> triggered tf.function retracing. Tracing is expensive")
        logger.warning("a different TensorFlow warning")
    finally:
        logger.removeHandler(handler)
    assert seen == ["a different TensorFlow warning"]
    dmlib.setup(seed=0, verbose=False)
    assert sum(type(f).__name__ == "_RetracingFilter" for f in logger.filters) == 1  # installed once


def test_tensorflow_masked_layers_and_many_models_print_no_noise():
    """A masked LSTM (TensorFlow's "oneDNN supports DT_BOOL" line) and eight models predicting
    (its "retracing" warning) print nothing after dmlib.setup()."""
    import os
    import subprocess
    import sys

    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow-only messages")
    script = (
        "import dmlib, numpy as np\n"
        "dmlib.setup(seed=0, verbose=False)\n"
        "import keras\n"
        "m = keras.Sequential([keras.Input((5,), dtype='int32'), keras.layers.Embedding(10, 4, mask_zero=True),\n"
        "                      keras.layers.LSTM(3), keras.layers.Dense(1)])\n"
        "m.compile('adam', 'mse'); m.fit(np.array([[1, 2, 0, 0, 0]] * 8), np.zeros(8), epochs=1, verbose=0)\n"
        "for _ in range(8):\n"
        "    keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)]).predict(np.ones((4, 3)), verbose=0)\n"
        "print('done')\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
    assert "DT_BOOL" not in out.stderr and "retracing" not in out.stderr + out.stdout, out.stderr


@pytest.mark.parametrize(
    ("env", "applied"),
    [
        ({"DMLIB_PROFILE": "smoke", "KERAS_BACKEND": "jax"}, True),
        ({"DMLIB_PROFILE": " Smoke ", "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, True),
        ({"DMLIB_PROFILE": "standard", "KERAS_BACKEND": "jax"}, False),
        ({"KERAS_BACKEND": "jax"}, False),  # default profile: standard
        ({"DMLIB_PROFILE": "smoke", "KERAS_BACKEND": "tensorflow"}, False),
        ({"DMLIB_PROFILE": "smoke"}, False),  # default backend: tensorflow
        ({"DMLIB_PROFILE": "smoke", "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_backend_optimization_level=2"}, False),
        ({"DMLIB_PROFILE": "nonsense", "KERAS_BACKEND": "jax"}, False),
    ],
)
def test_fast_compile_only_for_smoke_on_jax_and_keeps_other_flags(monkeypatch, env, applied):
    from dmlib import config

    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # no CUDA plugin installed
    before = env.get("XLA_FLAGS", "")
    assert config.fast_compile_for_smoke(env) is applied
    flags = env.get("XLA_FLAGS", "")
    assert flags.split() == (before.split() + [config.SMOKE_XLA_FLAGS] if applied else before.split())


def test_fast_compile_leaves_a_gpu_build_of_jax_optimised(monkeypatch):
    from dmlib import config

    monkeypatch.setattr("importlib.util.find_spec", lambda name: object() if name == "jax_cuda12_plugin" else None)
    env = {"DMLIB_PROFILE": "smoke", "KERAS_BACKEND": "jax"}
    assert config.fast_compile_for_smoke(env) is False
    assert "XLA_FLAGS" not in env


def test_op_determinism_leaves_no_tensorflow_line_in_a_notebook(tmp_path, monkeypatch):
    """With op determinism on, TensorFlow 2.21 logs 'NodeDef mentions attribute use_unbounded_threadpool' to
    fd 2 when Keras fits a large array; ipykernel copies fd 2 into the notebook. The kernel filters that line."""
    import keras
    import nbformat

    from dmlib import runner

    code = ("import dmlib\ndmlib.setup(seed=0)\nimport keras, numpy as np, os\n"
            "m = keras.Sequential([keras.Input((784,)), keras.layers.Dense(8), keras.layers.Dense(784)])\n"
            "m.compile('adam', 'mse')\nx = np.random.rand(20000, 784).astype('float32')\n"
            "m.fit(x, x, epochs=1, verbose=0, batch_size=256)\n"
            "os.write(2, b'a line of our own\\n')")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "09_probe.ipynb")
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # else ipykernel leaves fd 2 alone, as it does under pytest
    runner.run_notebook(tmp_path / "09_probe.ipynb", "smoke", out_dir=tmp_path / "out", results_dir=tmp_path,
                        progress_stream=open(os.devnull, "w"))
    outputs = nbformat.read(tmp_path / "out" / "09_probe.ipynb", as_version=4).cells[0].outputs
    err = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "use_unbounded_threadpool" not in err
    if keras.backend.backend() == "tensorflow":
        assert err == "a line of our own\n"  # everything else still reaches the notebook
