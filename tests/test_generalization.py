"""Plumbing of notebook 05: predictions, calibration, label noise, image shifts, curve shapes."""

from __future__ import annotations

import numpy as np
import pytest

from dmlib import generalization as gen


def small_model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    return model


def test_predict_proba_matches_predict_in_batches():
    model = small_model()
    x = np.random.default_rng(0).normal(size=(25, 4)).astype("float32")
    probs = gen.predict_proba(model, x, batch_size=7)
    np.testing.assert_allclose(probs, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert gen.accuracy(model, x, probs.argmax(1)) == 1.0
    with pytest.raises(ValueError, match="empty"):
        gen.predict_proba(model, x[:0])
    with pytest.raises(ValueError, match="labels"):
        gen.accuracy(model, x, np.zeros(3))


def test_expected_calibration_error():
    y = np.array([0, 1, 1, 0])
    perfect = np.eye(2)[y]
    assert gen.expected_calibration_error(perfect, y) == 0.0
    overconfident = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # half right at confidence 1
    assert gen.expected_calibration_error(overconfident, y) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="probs must be"):
        gen.expected_calibration_error(perfect[:3], y)


def test_noisy_labels_fraction_and_seed():
    y = np.arange(20_000) % 10
    noisy = gen.noisy_labels(y, 0.5, seed=1)
    assert np.mean(noisy != y) == pytest.approx(0.45, abs=0.015)  # a random label is right 1 time in 10
    assert np.array_equal(noisy, gen.noisy_labels(y, 0.5, seed=1))
    assert np.array_equal(gen.noisy_labels(y, 0.0, seed=1), y) and y[0] == 0  # input untouched
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gen.noisy_labels(y, 1.5, seed=0)


def test_shift_images_kinds_and_errors():
    x = np.zeros((3, 28, 28, 1), dtype="float32")
    x[:, 8:20, 8:20] = 0.5
    assert gen.shift_images(x, "noise", 0.0) is not None and np.array_equal(gen.shift_images(x, "rotation", 0), x)
    moved = gen.shift_images(x, "translation", 1.0)
    assert moved[0, 24, 24, 0] == pytest.approx(0.5) and moved[0, 9, 9, 0] == 0
    flat = gen.shift_images(x, "contrast", 1.0)
    assert flat.std() < x.std() and flat.min() >= 0 and flat.max() <= 1
    noisy = gen.shift_images(x, "noise", 1.0, seed=3)
    assert 0 <= noisy.min() and noisy.max() <= 1 and not np.array_equal(noisy, x)
    assert gen.shift_images(x, "rotation", 1.0).shape == x.shape
    with pytest.raises(ValueError, match="unknown shift"):
        gen.shift_images(x, "blur", 0.5)
    with pytest.raises(ValueError, match="severity"):
        gen.shift_images(x, "noise", 2.0)
    with pytest.raises(ValueError, match="images"):
        gen.shift_images(x[..., 0], "noise", 0.5)


@pytest.mark.parametrize("errors, peak_at_edge, second, text", [
    ([0.69, 0.50, 0.47, 0.50, 0.51], True, False, "the peak is at the edge"),
    ([0.69, 0.50, 0.47, 0.52, 0.49], False, True, "a second descent"),
    ([0.69, 0.50, 0.47, 0.52, 0.518], False, False, "no second descent"),
    ([0.69, 0.50, 0.47, 0.45, 0.44], False, False, "only falls"),
    ([0.69, 0.50, 0.47, 0.472, 0.471], False, False, "does not rise"),
])
def test_descent_shape(errors, peak_at_edge, second, text):
    shape = gen.descent_shape([4, 16, 47, 128, 512], errors)
    assert shape.peak_at_edge is peak_at_edge and shape.second_descent is second
    assert text in str(shape)


def test_descent_shape_rejects_bad_input():
    with pytest.raises(ValueError, match="increase"):
        gen.descent_shape([4, 2, 8], [0.5, 0.4, 0.3])
    with pytest.raises(ValueError, match="at least 3"):
        gen.descent_shape([4, 8], [0.5, 0.4])
    with pytest.raises(ValueError, match="finite"):
        gen.descent_shape([4, 8, 16], [0.5, float("nan"), 0.3])
