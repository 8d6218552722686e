"""Profiles, settings and setup."""

from __future__ import annotations

import numpy as np
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
