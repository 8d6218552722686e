"""Windows per second: dmlib.timeseries.WindowDataset against keras.utils.timeseries_dataset_from_array.

Both produce the same batches (120-hour windows of 10 features, target 24 h after the window's
end, batch 256) from a series the size of the Beijing data (43,824 hours). Keras' function needs
TensorFlow (it builds a ``tf.data`` pipeline), so this script is the one place in the workbook
that does; it is skipped with a message when TensorFlow is not installed.

Run: ``python benchmarks/bench_windows.py [--rows 43824] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def time_epochs(make_batches, repeats: int) -> tuple[float, int]:
    """Best-of-``repeats`` seconds to run through one epoch, and the windows it yielded."""
    best, count = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = 0
        for x, y in make_batches():
            count += len(x)
        best = min(best, time.perf_counter() - start)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=43_824)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--length", type=int, default=120)
    parser.add_argument("--delay", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import keras

    from dmlib.timeseries import WindowDataset

    rng = np.random.default_rng(0)
    data = rng.normal(size=(args.rows, args.features)).astype("float32")
    target = data[:, 1].copy()
    L, d, bs = args.length, args.delay, args.batch_size

    def ours(shuffle: bool):
        ds = WindowDataset(data, target, length=L, delay=d, batch_size=bs, shuffle=shuffle, seed=0)
        return lambda: (ds[i] for i in range(len(ds)))

    results = {}
    for shuffle in (False, True):
        sec, n = time_epochs(ours(shuffle), args.repeats)
        results[f"dmlib WindowDataset (shuffle={shuffle})"] = (sec, n)

    try:
        import tensorflow  # noqa: F401  (only here: the reference implementation needs it)
    except ImportError:
        print("TensorFlow is not installed: only dmlib was timed.")
    else:
        # Keras' convention: data[i : i + L] and targets[i]; so targets shifted by L - 1 + d.
        def theirs(shuffle: bool):
            def run():
                ds = keras.utils.timeseries_dataset_from_array(
                    data[: -d], target[L - 1 + d :], sequence_length=L, batch_size=bs, shuffle=shuffle, seed=0,
                )
                return ((x.numpy(), y.numpy()) for x, y in ds)
            return run

        for shuffle in (False, True):
            sec, n = time_epochs(theirs(shuffle), args.repeats)
            results[f"keras timeseries_dataset_from_array (shuffle={shuffle})"] = (sec, n)

        # the same batches, in order
        ds_ours = WindowDataset(data, target, length=L, delay=d, batch_size=bs)
        x0, y0 = ds_ours[0]
        x1, y1 = next(iter(keras.utils.timeseries_dataset_from_array(
            data[: -d], target[L - 1 + d :], sequence_length=L, batch_size=bs)))
        assert np.array_equal(x0, x1.numpy()) and np.array_equal(y0, y1.numpy()), "the two disagree"
        print("first batches identical: yes")

    print(f"{args.rows:,} rows x {args.features} features, windows of {L}, delay {d}, batch {bs}, "
          f"best of {args.repeats}")
    print(f"{'method':58s} {'windows':>8s} {'seconds':>8s} {'windows/s':>10s}")
    for name, (sec, n) in results.items():
        print(f"{name:58s} {n:8,d} {sec:8.2f} {n / sec:10,.0f}")


if __name__ == "__main__":
    main()
