"""dmlib.augment: whole-pixel shifts and flips that keep a model jit-compilable on JAX."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dmlib.augment import RandomShiftFlip, jit_compiled


def _dots(n: int = 64, size: int = 12) -> np.ndarray:
    x = np.zeros((n, size, size, 1), "float32")
    x[:, 5, 6, 0] = 1.0
    return x


def test_shifts_move_a_pixel_by_at_most_max_shift_and_cover_the_range():
    y = keras.ops.convert_to_numpy(RandomShiftFlip(max_shift=2, flip=False, seed=1)(_dots(), training=True))
    assert y.shape == (64, 12, 12, 1)
    assert np.allclose(y.sum(axis=(1, 2, 3)), 1.0)  # one pixel in, one pixel out (no interpolation)
    rows, cols = np.nonzero(y[..., 0])[1:]
    dy, dx = rows - 5, cols - 6
    assert np.abs(dy).max() <= 2 and np.abs(dx).max() <= 2
    assert set(dy) == set(dx) == {-2, -1, 0, 1, 2}


def test_shift_off_the_edge_fills_with_zeros():
    x = np.zeros((200, 6, 6, 1), "float32")
    x[:, 0, 0, 0] = 1.0
    y = keras.ops.convert_to_numpy(RandomShiftFlip(max_shift=1, flip=False, seed=2)(x, training=True))
    sums = y.sum(axis=(1, 2, 3))
    assert set(np.round(sums, 6)) == {0.0, 1.0}


def test_flip_mirrors_about_half_the_images():
    x = np.zeros((400, 4, 4, 1), "float32")
    x[:, :, 0, 0] = 1.0
    y = keras.ops.convert_to_numpy(RandomShiftFlip(max_shift=0, flip=True, seed=3)(x, training=True))
    flipped = y[:, :, 3, 0].sum(axis=1) == 4
    assert np.all(flipped | (y[:, :, 0, 0].sum(axis=1) == 4))
    assert 0.4 < flipped.mean() < 0.6


def test_identity_outside_training_and_config_round_trip():
    layer = RandomShiftFlip(max_shift=3, flip=True, seed=0)
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    assert np.array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    again = RandomShiftFlip.from_config(layer.get_config())
    assert (again.max_shift, again.flip, again.seed) == (3, True, 0)


@pytest.mark.parametrize("bad", [1.5, -1, True])
def test_bad_shift_is_refused(bad):
    with pytest.raises(ValueError, match="whole number"):
        RandomShiftFlip(max_shift=bad)


def _model(aug: keras.layers.Layer) -> keras.Model:
    m = keras.Sequential([keras.Input((12, 12, 1)), aug, keras.layers.Flatten(), keras.layers.Dense(2)])
    m.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="jit_compile='auto' means XLA only on JAX (CPU)")
def test_model_with_the_layer_is_jit_compiled_on_jax_unlike_keras_random_translation():
    assert jit_compiled(_model(RandomShiftFlip(max_shift=2, seed=0)))
    assert not jit_compiled(_model(keras.layers.RandomTranslation(0.1, 0.1)))


def test_model_with_the_layer_trains():
    m = _model(RandomShiftFlip(max_shift=1, seed=0))
    hist = m.fit(_dots(32), np.arange(32) % 2, epochs=2, batch_size=16, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
