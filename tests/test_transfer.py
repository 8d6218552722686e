"""dmlib.transfer: source/target class splits and few-label draws for notebook 02's transfer section."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from dmlib import transfer
from dmlib.transfer import class_subset, per_class_sample


def test_class_subset_keeps_only_the_classes_and_renumbers_them_in_the_given_order():
    y = np.repeat(np.arange(10), 3)
    x = np.arange(30) * 10
    xs, ys = class_subset(x, y, [7, 5, 9])
    assert sorted(set(ys.tolist())) == [0, 1, 2] and len(xs) == 9
    assert np.array_equal(y[xs // 10], np.array([7, 5, 9])[ys])  # each kept example keeps its image


def test_class_subset_refuses_bad_input():
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="one label per example"):
        class_subset(np.zeros(2), y, [0])
    with pytest.raises(ValueError, match="distinct"):
        class_subset(np.zeros(3), y, [1, 1])
    with pytest.raises(ValueError, match="no example has label"):
        class_subset(np.zeros(3), y, [0, 4])


def test_per_class_sample_draws_the_same_count_per_class_without_repeats_and_reproducibly():
    y = np.random.default_rng(0).integers(0, 5, 1_000)
    idx = per_class_sample(y, 20, seed=3)
    assert np.bincount(y[idx]).tolist() == [20] * 5
    assert len(np.unique(idx)) == len(idx)
    assert np.array_equal(idx, per_class_sample(y, 20, seed=3))
    assert not np.array_equal(idx, per_class_sample(y, 20, seed=4))


def test_per_class_sample_refuses_too_many_or_bad_counts():
    with pytest.raises(ValueError, match="fewer than per_class"):
        per_class_sample(np.array([0, 0, 1]), 2)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="whole number"):
            per_class_sample(np.array([0, 1]), bad)


def test_docstring_examples_run():
    assert doctest.testmod(transfer, extraglobs={"np": np}).failed == 0
