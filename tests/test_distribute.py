"""dmlib.distribute: opt-in data parallelism, checked on two simulated CPU devices against one device."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import keras
import pytest

from dmlib import distribute

SCRIPT = textwrap.dedent("""
    import numpy as np, keras
    from dmlib.distribute import use_data_parallel

    def train(enable):
        print(use_data_parallel(enable))
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, 5)).astype("float32"); y = (x @ np.arange(5.0)).astype("float32")
        m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        m.compile(keras.optimizers.SGD(0.01), "mse")
        m.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        return [keras.ops.convert_to_numpy(w) for w in m.weights]

    one, two = train(False), train(True)
    print("max_abs_diff", max(float(np.abs(a - b).max()) for a, b in zip(one, two)))
""")


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs JAX (make extras)")
def test_data_parallel_on_two_simulated_devices_matches_one_device():
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert "data parallel: on, across 2 devices" in out.stdout, out.stdout
    diff = float(next(line for line in lines if line.startswith("max_abs_diff")).split()[1])
    assert diff < 1e-5, f"data-parallel weights differ from one device by {diff}"


def test_off_by_default_and_says_how_to_turn_it_on(monkeypatch):
    monkeypatch.delenv(distribute.ENV, raising=False)
    assert not distribute.requested()
    assert "set DMLIB_DATA_PARALLEL=1" in distribute.use_data_parallel()


def test_on_with_one_device_or_another_backend_stays_off_and_says_why():
    line = distribute.use_data_parallel(True)
    if keras.backend.backend() != "jax":
        assert "JAX backend only" in line
    else:
        assert "only one device" in line or "on, across" in line
    keras.distribution.set_distribution(None)


def test_a_garbled_setting_is_refused(monkeypatch):
    monkeypatch.setenv(distribute.ENV, "maybe")
    with pytest.raises(ValueError, match="DMLIB_DATA_PARALLEL='maybe'"):
        distribute.requested()


def test_setup_prints_the_data_parallel_state_when_asked(monkeypatch, capsys):
    from dmlib import config

    monkeypatch.setenv(distribute.ENV, "1")
    facts = config.setup(seed=0)
    out = capsys.readouterr().out
    assert facts["data_parallel"] in out and out.splitlines()[-1].startswith("data parallel: ")
    keras.distribution.set_distribution(None)
    monkeypatch.delenv(distribute.ENV)
    assert "data_parallel" not in config.setup(seed=0)
