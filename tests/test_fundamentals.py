"""Tests of dmlib.fundamentals (plumbing of notebook 01)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dmlib.fundamentals import full_batch_fit, plot_decision_boundary


def test_plot_decision_boundary_draws_points_and_boundary():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    ax = plot_decision_boundary(lambda P: 1 / (1 + np.exp(-(P[:, 1] - 0.5) * 10)), X, y, grid=20, title="t")
    assert ax.get_title() == "t"
    assert len(ax.collections) >= 2  # shaded areas + scattered points
    x0, x1 = ax.get_xlim()
    assert x0 < 0 and x1 > 1
    plt.close(ax.figure)


def test_plot_decision_boundary_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot_decision_boundary(lambda P: P[:, 0], np.zeros((3, 3)), np.zeros(3))


def test_full_batch_fit_is_plain_gradient_descent():
    import keras

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3)).astype("float32")
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3).astype("float32")[:, None]
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = full_batch_fit(model, X, y, steps=6, steps_per_epoch=3)
    assert len(history.history["loss"]) == 2

    # the same six full-batch steps in numpy
    w, b = np.zeros((3, 1)), np.zeros(1)
    for _ in range(6):
        r = X @ w + b - y
        w, b = w - 0.1 * 2 * X.T @ r / len(X), b - 0.1 * 2 * r.mean(0)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel, w, atol=1e-5)
    np.testing.assert_allclose(bias, b, atol=1e-5)


def test_full_batch_fit_checks_arguments():
    with pytest.raises(ValueError, match="multiple"):
        full_batch_fit(None, np.zeros((4, 1)), np.zeros(4), steps=5, steps_per_epoch=2)
    with pytest.raises(ValueError, match="rows"):
        full_batch_fit(None, np.zeros((4, 1)), np.zeros(3), steps=2)
    with pytest.raises(ValueError, match="positive"):
        full_batch_fit(None, np.zeros((4, 1)), np.zeros(4), steps=0)


def test_plot_paths_draws_one_line_per_path():
    from dmlib.fundamentals import plot_paths

    bowl = lambda t: 0.5 * (t[..., 0] ** 2 + 25 * t[..., 1] ** 2)
    paths = {"a": np.array([[-4.0, 1.5], [0.0, 0.0]]), "b": np.array([[-4.0, 1.5], [-3.0, -1.0], [0.0, 0.0]])}
    ax = plot_paths(bowl, paths, title="t")
    labels = [line.get_label() for line in ax.get_lines()]
    assert "a" in labels and "b" in labels and ax.get_title() == "t"
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plot_paths(bowl, {"bad": np.zeros(3)})


def test_seconds_per_epoch_times_every_batch_size():
    import keras

    from dmlib.fundamentals import seconds_per_epoch

    X = np.zeros((64, 2), dtype="float32")
    y = np.zeros((64, 1), dtype="float32")
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    seconds = seconds_per_epoch(model, X, y, [4, 64], epochs=1)
    assert set(seconds) == {4, 64} and all(s > 0 for s in seconds.values())
    with pytest.raises(ValueError, match="batch size"):
        seconds_per_epoch(model, X, y, [])
