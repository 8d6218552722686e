"""dmlib.verdicts: a sentence about a comparison never claims more than the numbers show."""

import math

import pytest

from dmlib.verdicts import MIN_RUNS, compare_runs, summary


def test_clear_gain_is_a_win_with_its_interval():
    v = compare_runs([0.86, 0.87, 0.865], [0.84, 0.845, 0.842], name_a="dropout", name_b="none", metric="acc")
    assert v.better and not v.worse and not v.tie
    assert v.diff == pytest.approx(0.86 + 0.005 - 0.8423333, abs=1e-6)
    assert 0 < v.ci_low < v.diff < v.ci_high
    assert str(v).startswith("dropout beats none on acc by 0.023")


def test_overlapping_runs_are_a_tie():
    v = compare_runs([0.80, 0.90, 0.85], [0.82, 0.86, 0.84], name_a="a", name_b="b", metric="acc")
    assert v.tie and not v.better
    assert str(v).startswith("No difference between a and b on acc beyond seed noise")


def test_lower_is_better_flips_the_direction():
    v = compare_runs([1.0, 1.01, 0.99], [1.2, 1.21, 1.19], name_a="gru", name_b="ridge", metric="MAE",
                     higher_is_better=False)
    assert v.better and v.diff == pytest.approx(0.2)
    w = compare_runs([1.2, 1.21, 1.19], [1.0, 1.01, 0.99], name_a="ridge", name_b="gru", metric="MAE",
                     higher_is_better=False)
    assert w.worse and "is worse than gru" in str(w)


def test_too_few_runs_never_claim():
    v = compare_runs([0.99, 0.98], [0.1, 0.11], name_a="a", name_b="b", metric="acc")
    assert MIN_RUNS == 3 and v.tie and not v.better
    assert "too few runs" in str(v)
    single = compare_runs([0.9], [0.1], name_a="a", name_b="b", metric="acc")
    assert math.isinf(single.ci_low) and single.tie


def test_constant_runs_have_a_zero_width_interval():
    v = compare_runs([0.5] * 3, [0.4] * 3, name_a="a", name_b="b", metric="acc")
    assert v.ci_low == pytest.approx(0.1) and v.ci_high == pytest.approx(0.1) and v.better


@pytest.mark.parametrize("bad", [[], [0.1, float("nan"), 0.2], [[0.1, 0.2]]])
def test_bad_scores_are_refused_with_a_message(bad):
    with pytest.raises(ValueError, match="a:"):
        compare_runs(bad, [0.1, 0.2, 0.3], name_a="a", name_b="b", metric="acc")


def test_summary_renders_markdown_bullets():
    v = compare_runs([0.5] * 3, [0.4] * 3, name_a="a", name_b="b", metric="acc")
    md = summary(["first.", v], title="What this run showed")
    assert md.data.splitlines()[0] == "**What this run showed**"
    assert md.data.splitlines()[-1] == f"- {v}"


def test_paired_interval_sees_a_consistent_gain_that_the_fold_spread_hides():
    folds = [0.931, 0.920, 0.912, 0.911, 0.917]  # RMSE per fold: the folds differ far more than the variants
    better = [r - 0.004 + 0.0005 * (-1) ** i for i, r in enumerate(folds)]
    welch = compare_runs(better, folds, name_a="ensemble", name_b="single", metric="RMSE", higher_is_better=False)
    paired = compare_runs(better, folds, name_a="ensemble", name_b="single", metric="RMSE", higher_is_better=False,
                          paired=True)
    assert welch.tie and paired.better
    assert paired.diff == pytest.approx(0.004 - 0.0001)
    assert "5 paired runs" in str(paired) and "beats" in str(paired)


def test_paired_lists_must_match_in_length():
    with pytest.raises(ValueError, match="paired runs need one score of each variant per run"):
        compare_runs([0.1, 0.2, 0.3], [0.1, 0.2], name_a="a", name_b="b", metric="acc", paired=True)
