"""dmlib.bench: epoch timing, windowing throughput, the markdown tables and the README block."""

from __future__ import annotations

import numpy as np
import pytest

from dmlib import bench


def tiny_workload(epoch_samples: int = 640) -> bench.Workload:
    import keras

    def build():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    def batch(rng: np.random.Generator, n: int):
        return rng.random((n, 4), dtype=np.float32), rng.integers(0, 3, n)

    return bench.Workload("nb", "tiny", build, batch, epoch_samples=epoch_samples, batch_size=64)


def test_seconds_per_epoch_is_positive_and_rejects_zero_steps():
    assert bench.seconds_per_epoch(tiny_workload(), steps=2) > 0
    with pytest.raises(ValueError, match="steps"):
        bench.seconds_per_epoch(tiny_workload(), steps=0)


def test_workloads_match_the_notebook_shapes():
    names = [w.notebook for w in bench.workloads()]
    assert {"01_fundamentals", "02_cnn_images", "03_rnn_time_series", "04_text_sentiment"} <= set(names)
    for w in bench.workloads():
        x, y = w.make_batch(np.random.default_rng(0), 3)
        assert len(x) == len(y) == 3


def test_window_throughput_counts_dmlib_and_checks_keras_agrees():
    rates = bench.window_throughput(rows=3_000, repeats=1)
    assert rates["dmlib WindowDataset (shuffle=False)"] > 0
    assert rates["dmlib WindowDataset (shuffle=True)"] > 0
    if "tensorflow" in bench.installed_backends():  # the comparison only exists with TensorFlow
        assert rates["keras timeseries_dataset_from_array (shuffle=False)"] > 0


def test_markdown_tables():
    text = bench.markdown(
        {"jax": {"device": "CPU", "seconds_per_epoch": {"nb: m": 1.234}}, "torch": {"error": ["boom"]}},
        {"w": 100_000.0}, {"jax": 12.0}, "2 CPU cores",
    )
    assert "| seconds per training epoch | jax (CPU) | torch (failed) |" in text
    assert "| nb: m | 1.2 | – |" in text
    assert "| w | 100,000 |" in text
    assert "| jax | 12.0 |" in text


def test_write_readme_replaces_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench.START}\nold\n{bench.END}\noutro\n", encoding="utf-8")
    bench.write_readme(readme, "new table")
    assert readme.read_text(encoding="utf-8") == f"intro\n{bench.START}\nnew table\n{bench.END}\noutro\n"
    readme.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        bench.write_readme(readme, "x")


def test_a_broken_backend_is_reported_not_raised():
    out = bench.epoch_times(["no_such_backend"], steps=1, timeout=300)
    assert "error" in out["no_such_backend"]


def test_bench_has_an_augmentation_row_with_and_without_jit():
    import keras

    rows = {w.name: w for w in bench.workloads() if "shifts" in w.name}
    assert len(rows) == 2
    models = {name: w.build() for name, w in rows.items()}
    assert all(m.output_shape == (None, 10) for m in models.values())
    if keras.backend.backend() == "jax":
        assert {name: m.jit_compile for name, m in models.items()} == {
            "better CNN + shifts, keras RandomTranslation (no jit)": False,
            "better CNN + shifts, dmlib RandomShiftFlip (jit)": True}
