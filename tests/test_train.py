"""fit_best reports whether a model was still improving when its epochs ran out; setup makes the
backend deterministic."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dmlib.config import make_deterministic, setup
from dmlib.train import fit_best


def linear_model(lr: float) -> keras.Model:
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return model


X = np.linspace(-1, 1, 64, dtype="float32")[:, None]


def test_a_model_still_improving_at_its_last_epoch_is_flagged():
    history = fit_best(linear_model(0.01), X, X, validation_data=(X, X), epochs=3, batch_size=64, verbose=0)
    assert history.best_epoch == 3 and history.epochs_run == 3 and history.still_improving


def test_a_model_past_its_best_epoch_is_not():
    # validation targets of the opposite sign: every step towards the training targets worsens validation
    history = fit_best(linear_model(0.5), X, X, validation_data=(X, -X), epochs=3, batch_size=64, verbose=0)
    assert history.best_epoch == 1 and not history.still_improving


def test_the_printed_line_says_budget_limited(capsys):
    fit_best(linear_model(0.01), X, X, validation_data=(X, X), epochs=2, batch_size=64, verbose=2)
    out = capsys.readouterr().out
    assert "best epoch 2/2 (val_loss" in out and "(still improving: budget-limited)" in out
    fit_best(linear_model(0.5), X, X, validation_data=(X, -X), epochs=2, batch_size=64, verbose=2)
    out = capsys.readouterr().out
    assert "best epoch 1/2" in out and "budget-limited" not in out


def _deterministic_now() -> bool:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from tensorflow.python.framework import config as tf_framework_config

        return tf_framework_config.is_op_determinism_enabled()
    if backend == "torch":
        import torch

        return torch.are_deterministic_algorithms_enabled()
    return True  # JAX on the CPU: deterministic by construction


def test_setup_switches_the_backends_deterministic_mode_on_and_the_variable_off(monkeypatch, capsys):
    try:
        monkeypatch.setenv("DMLIB_DETERMINISTIC", "0")
        facts = setup(seed=1)
        assert facts["deterministic"] is False and "NOT deterministic" in capsys.readouterr().out
        if keras.backend.backend() != "jax":
            assert not _deterministic_now()
        monkeypatch.delenv("DMLIB_DETERMINISTIC")
        facts = setup(seed=1)
        assert facts["deterministic"] is True and _deterministic_now()
        assert "NOT deterministic" not in capsys.readouterr().out
    finally:
        make_deterministic(False)


@pytest.mark.parametrize("value, expected", [("1", True), ("", True), ("0", False), ("off", False), ("False", False)])
def test_the_switch_reads_common_spellings(value, expected):
    from dmlib.config import deterministic_requested

    assert deterministic_requested({"DMLIB_DETERMINISTIC": value}) is expected
