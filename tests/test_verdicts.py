"""dmlib.verdicts: a sentence about a comparison never claims more than the numbers show."""

import math

import numpy as np
import pytest
from scipy import stats

from dmlib.verdicts import MIN_RUNS, compare_runs, summary


def test_clear_gain_is_a_win_with_its_interval():
    v = compare_runs([0.86, 0.87, 0.865], [0.84, 0.845, 0.842], name_a="dropout", name_b="none", metric="acc",
                     paired=False)
    assert v.better and not v.worse and not v.tie
    assert v.diff == pytest.approx(0.86 + 0.005 - 0.8423333, abs=1e-6)
    assert 0 < v.ci_low < v.diff < v.ci_high
    assert str(v).startswith("dropout beats none on acc by 0.023")


def test_an_interval_that_includes_zero_is_inconclusive_never_no_difference():
    v = compare_runs([0.80, 0.90, 0.85], [0.82, 0.86, 0.84], name_a="a", name_b="b", metric="acc", paired=False)
    assert v.tie and v.inconclusive and not v.equivalent and not v.better
    assert str(v).startswith("Inconclusive: a vs b on acc: the 95% CI of the gain -0.097 to 0.117 includes zero")
    assert "No difference" not in str(v) and "no difference" not in str(v)


def test_wide_interval_around_a_small_effect_is_inconclusive_even_with_a_margin():
    # 05's regularisers: effects of about 0.01 with intervals of about +-0.05
    v = compare_runs([0.80, 0.86, 0.83], [0.81, 0.84, 0.80], name_a="dropout", name_b="none", metric="acc",
                     paired=True, min_effect=0.01)
    assert v.inconclusive and "Inconclusive" in str(v) and "gains of ±0.010" in str(v)


def test_a_tight_interval_inside_the_margin_says_no_difference_of_that_size():
    a = [0.861, 0.870, 0.8655]
    b = [0.8612, 0.8703, 0.8651]
    v = compare_runs(a, b, name_a="a", name_b="b", metric="acc", paired=True, min_effect=0.005)
    assert v.equivalent and not v.inconclusive
    assert str(v).startswith("No difference larger than 0.005 between a and b on acc")
    loose = compare_runs(a, b, name_a="a", name_b="b", metric="acc", paired=True)
    assert loose.inconclusive  # without a stated margin, no absence of an effect is claimed


def test_lower_is_better_flips_the_direction():
    v = compare_runs([1.0, 1.01, 0.99], [1.2, 1.21, 1.19], name_a="gru", name_b="ridge", metric="MAE",
                     higher_is_better=False, paired=False)
    assert v.better and v.diff == pytest.approx(0.2)
    w = compare_runs([1.2, 1.21, 1.19], [1.0, 1.01, 0.99], name_a="ridge", name_b="gru", metric="MAE",
                     higher_is_better=False, paired=False)
    assert w.worse and "is worse than gru" in str(w)


def test_too_few_runs_never_claim():
    v = compare_runs([0.99, 0.98], [0.1, 0.11], name_a="a", name_b="b", metric="acc", paired=False)
    assert MIN_RUNS == 3 and v.tie and not v.better
    assert "too few runs" in str(v)
    single = compare_runs([0.9], [0.1], name_a="a", name_b="b", metric="acc", paired=False)
    assert math.isinf(single.ci_low) and single.tie


def test_constant_runs_have_a_zero_width_interval():
    v = compare_runs([0.5] * 3, [0.4] * 3, name_a="a", name_b="b", metric="acc", paired=False)
    assert v.ci_low == pytest.approx(0.1) and v.ci_high == pytest.approx(0.1) and v.better
    p = compare_runs([0.5, 0.6, 0.7], [0.4, 0.5, 0.6], name_a="a", name_b="b", metric="acc", paired=True)
    assert p.ci_low == pytest.approx(0.1) and p.ci_high == pytest.approx(0.1) and p.better


def test_one_constant_arm_gives_scipys_welch_interval_without_its_warning():
    import warnings

    a, b = np.array([1.0, 1.0, 1.0]), np.array([0.7, 0.4, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # SciPy's precision-loss warning on the constant arm
        ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # compare_runs must not emit it
        v = compare_runs(a, b, name_a="a", name_b="b", metric="acc", paired=False)
        w = compare_runs(b, a, name_a="b", name_b="a", metric="acc", paired=False)
    assert (v.ci_low, v.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-6)
    assert (w.ci_low, w.ci_high) == pytest.approx((-ci.high, -ci.low), rel=1e-6)
    assert v.inconclusive                               # 1.0 vs 0.67 +- 0.25 over 3 runs: too wide to tell


@pytest.mark.parametrize("bad", [[], [0.1, float("nan"), 0.2], [[0.1, 0.2]]])
def test_bad_scores_are_refused_with_a_message(bad):
    with pytest.raises(ValueError, match="a:"):
        compare_runs(bad, [0.1, 0.2, 0.3], name_a="a", name_b="b", metric="acc", paired=False)


@pytest.mark.parametrize("bad", [0, -0.1, float("inf"), "0.01"])
def test_a_margin_must_be_a_positive_number(bad):
    with pytest.raises(ValueError, match="min_effect must be a positive number"):
        compare_runs([0.1, 0.2, 0.3], [0.1, 0.2, 0.3], name_a="a", name_b="b", metric="acc", paired=True,
                     min_effect=bad)


def test_summary_renders_markdown_bullets():
    v = compare_runs([0.5] * 3, [0.4] * 3, name_a="a", name_b="b", metric="acc", paired=False)
    md = summary(["first.", v], title="What this run showed")
    assert md.data.splitlines()[0] == "**What this run showed**"
    assert md.data.splitlines()[-1] == f"- {v}"


def test_paired_interval_sees_a_consistent_gain_that_the_fold_spread_hides():
    folds = [0.931, 0.920, 0.912, 0.911, 0.917]  # RMSE per fold: the folds differ far more than the variants
    better = [r - 0.004 + 0.0005 * (-1) ** i for i, r in enumerate(folds)]
    welch = compare_runs(better, folds, name_a="ensemble", name_b="single", metric="RMSE", higher_is_better=False,
                         paired=False)
    paired = compare_runs(better, folds, name_a="ensemble", name_b="single", metric="RMSE", higher_is_better=False,
                          paired=True)
    assert welch.tie and paired.better
    assert paired.diff == pytest.approx(0.004 - 0.0001)
    assert "5 paired runs" in str(paired) and "beats" in str(paired)


def test_paired_lists_must_match_in_length():
    with pytest.raises(ValueError, match="paired runs need one score of each variant per run"):
        compare_runs([0.1, 0.2, 0.3], [0.1, 0.2], name_a="a", name_b="b", metric="acc", paired=True)


def test_a_call_that_does_not_say_whether_runs_are_paired_is_unpaired_and_says_so():
    v = compare_runs([0.86, 0.87, 0.865], [0.84, 0.845, 0.842], name_a="a", name_b="b", metric="acc")
    assert v.paired is None
    assert "unpaired: the comparison did not say whether the runs share splits" in str(v)
    with pytest.raises(ValueError, match="paired must be True or False"):
        compare_runs([0.1, 0.2, 0.3], [0.1, 0.2, 0.3], name_a="a", name_b="b", metric="acc", paired="yes")


RNG = np.random.default_rng(7)
SAMPLES = [(RNG.normal(0.85, 0.01, 5), RNG.normal(0.84, 0.02, 5)) for _ in range(3)] + [
    (np.array([0.8, 0.82, 0.81]), np.array([0.79, 0.80, 0.83]))]


@pytest.mark.parametrize("a, b", SAMPLES)
@pytest.mark.parametrize("higher", [True, False])
def test_paired_interval_is_scipys_ttest_rel(a, b, higher):
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    v = compare_runs(a, b, name_a="a", name_b="b", metric="m", paired=True, higher_is_better=higher)
    expected = (ci.low, ci.high) if higher else (-ci.high, -ci.low)
    assert (v.ci_low, v.ci_high) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("a, b", SAMPLES)
def test_welch_interval_is_scipys_ttest_ind_unequal_variances(a, b):
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    v = compare_runs(a, b, name_a="a", name_b="b", metric="m", paired=False)
    assert (v.ci_low, v.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_a_still_improving_model_makes_the_verdict_budget_limited():
    win = compare_runs([0.86, 0.87, 0.865], [0.84, 0.845, 0.842], name_a="attention", name_b="no attention",
                       metric="exact match", paired=True, improving_b=True)
    assert win.better and win.budget_limited
    assert str(win).endswith("Budget-limited: no attention was still improving at the last epoch, so a longer run "
                             "could change this verdict.")
    both = compare_runs([0.8, 0.9, 0.85], [0.82, 0.86, 0.84], name_a="a", name_b="b", metric="acc", paired=True,
                        improving_a=True, improving_b=True)
    assert "Budget-limited: a and b were still improving" in str(both)
    settled = compare_runs([0.86, 0.87, 0.865], [0.84, 0.845, 0.842], name_a="a", name_b="b", metric="acc",
                           paired=True)
    assert not settled.budget_limited and "Budget-limited" not in str(settled)
