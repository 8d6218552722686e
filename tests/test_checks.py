"""dmlib.check: a check on a learned result names the trivial model it rules out, which must fail it."""

import pytest

from dmlib import check
from dmlib.checks import CheckFailedError, VacuousCheckError


def test_a_learned_result_that_beats_the_bound_and_the_trivial_model_passes(capsys):
    assert check("test accuracy", 0.85, bound=0.5, trivial=0.1, trivial_name="the majority class") == 0.85
    assert capsys.readouterr().out == ("check passed: test accuracy 0.8500 >= 0.5000; the majority class scores "
                                       "0.1000 and fails it\n")


def test_a_bound_the_trivial_model_meets_is_refused():
    # 07's k-NN floor: raw pixels reach 0.808 > 0.8, so "k-NN accuracy >= 0.8" proves nothing about the embedding
    with pytest.raises(VacuousCheckError, match="proves nothing: k-NN on raw pixels scores 0.8080 and passes it"):
        check("5-NN accuracy of the embedding", 0.891, bound=0.8, trivial=0.808, trivial_name="k-NN on raw pixels")
    # 07's RMSE < 1.2 is met by the global mean rating
    with pytest.raises(VacuousCheckError):
        check("test RMSE", 0.93, bound=1.2, trivial=1.126, trivial_name="the global mean rating",
              higher_is_better=False)


def test_a_result_that_misses_the_bound_fails_as_an_assertion():
    with pytest.raises(CheckFailedError, match=r"denoiser MSE is 0.0950, which misses the bound <= 0.0800"):
        check("denoiser MSE", 0.095, bound=0.08, trivial=0.087, trivial_name="predicting the mean image",
              higher_is_better=False)
    assert issubclass(CheckFailedError, AssertionError)


def test_the_trivial_model_is_checked_first_even_when_the_result_misses():
    with pytest.raises(VacuousCheckError):
        check("acc", 0.2, bound=0.5, trivial=0.6, trivial_name="a constant")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "high", None])
def test_numbers_must_be_finite(bad):
    with pytest.raises(ValueError, match="must be"):
        check("acc", bad, bound=0.5, trivial=0.1, trivial_name="a constant")
    with pytest.raises(ValueError, match="must be"):
        check("acc", 0.9, bound=0.5, trivial=bad, trivial_name="a constant")
