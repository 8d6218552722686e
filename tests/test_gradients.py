"""dmlib.gradients: input gradients against central finite differences, on the active backend.

Run once per backend: ``KERAS_BACKEND=jax python -m pytest tests/test_gradients.py`` (and torch,
tensorflow); each run checks that backend's branch.
"""

import keras
import numpy as np
import pytest

from dmlib.gradients import input_gradients


def _per_example_objective(model, x, y, from_logits):
    """The objective input_gradients differentiates, per example, in numpy (float64) from model outputs."""
    out = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype="float64")
    if y is None:
        return out.max(axis=-1)
    if from_logits:
        out = out - out.max(axis=-1, keepdims=True)
        logp = out - np.log(np.exp(out).sum(axis=-1, keepdims=True))
    else:
        logp = np.log(out)
    return -logp[np.arange(len(y)), y]


def _objective(model, x, y, from_logits):
    return _per_example_objective(model, x, y, from_logits).sum()


def _finite_differences(model, x, y, from_logits, eps=1e-2):
    """Central differences; each perturbed copy of one example goes through the model in one batch."""
    n, d = len(x), x[0].size
    steps = eps * np.eye(d).reshape((d, *x.shape[1:]))
    up = (x[:, None] + steps[None]).reshape((n * d, *x.shape[1:])).astype("float32")
    down = (x[:, None] - steps[None]).reshape((n * d, *x.shape[1:])).astype("float32")
    labels = None if y is None else np.repeat(y, d)
    diff = _per_example_objective(model, up, labels, from_logits) - _per_example_objective(model, down, labels, from_logits)
    return (diff / (2 * eps)).reshape(x.shape)


def _dense_model(from_logits):
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input(shape=(5,)),
        keras.layers.Dense(8, activation="tanh"),
        keras.layers.Dense(3, activation=None if from_logits else "softmax"),
    ])


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("with_labels", [True, False])
def test_dense_model_matches_finite_differences(from_logits, with_labels):
    model = _dense_model(from_logits)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 5)).astype("float32")
    y = np.array([0, 2, 1, 2]) if with_labels else None
    grad = input_gradients(model, x, y, from_logits=from_logits)
    assert grad.shape == x.shape and grad.dtype == np.float32
    np.testing.assert_allclose(grad, _finite_differences(model, x, y, from_logits), atol=2e-3, rtol=2e-2)


def test_conv_model_with_batch_norm_and_dropout():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(6, 6, 1)),
        keras.layers.Conv2D(2, 3, activation="tanh"),
        keras.layers.BatchNormalization(),
        keras.layers.Dropout(0.5),  # inference mode: must be off, else the gradient would be random
        keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    x = np.random.default_rng(2).uniform(size=(2, 6, 6, 1)).astype("float32")
    y = np.array([1, 0])
    grad = input_gradients(model, x, y)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, _finite_differences(model, x, y, False), atol=2e-3, rtol=2e-2)


def test_rows_are_per_example_gradients():
    model = _dense_model(False)
    x = np.random.default_rng(3).normal(size=(3, 5)).astype("float32")
    y = np.array([2, 0, 1])
    whole = input_gradients(model, x, y)
    for i in range(len(x)):
        np.testing.assert_allclose(whole[i], input_gradients(model, x[i:i + 1], y[i:i + 1])[0], atol=1e-6)


def test_loss_gradient_points_uphill():
    """A small step along the gradient raises the loss: what FGSM relies on."""
    model = _dense_model(False)
    x = np.random.default_rng(4).normal(size=(8, 5)).astype("float32")
    y = np.zeros(8, dtype=int)
    step = x + 0.01 * np.sign(input_gradients(model, x, y))
    assert _objective(model, step, y, False) > _objective(model, x, y, False)
