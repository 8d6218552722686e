"""Checks on learned results that can fail: each names the trivial model it rules out.

A notebook that asserts "the model is good" must show that the assert could fail: a bound that
predicting the majority class, the mean image or the global mean rating also meets proves nothing.
:func:`check` takes the learned value, the bound and the trivial model's value computed in the same
run; it refuses (``VacuousCheckError``) a bound the trivial model meets, fails
(``CheckFailedError``, an ``AssertionError``) when the learned value misses it, and otherwise
prints both numbers side by side, so the reader sees what the check rules out.

Checks of a hand-written computation against Keras or a library (a convolution by hand against
``Conv2D``) need no trivial model: a plain ``assert`` or ``np.testing`` suits them.
"""

from __future__ import annotations

import math


class CheckFailedError(AssertionError):
    """The learned result missed its bound."""


class VacuousCheckError(ValueError):
    """The trivial model meets the bound too, so passing the check would prove nothing."""


def _number(x: object, what: str) -> float:
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {x!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return value


def check(what: str, value: float, *, bound: float, trivial: float, trivial_name: str,
          higher_is_better: bool = True, digits: int = 4) -> float:
    """Require a learned result to meet ``bound``, which the named trivial model must miss.

    Args:
        what: the quantity, e.g. ``"test accuracy of the MLP"``.
        value: the learned model's value.
        bound: the value it must reach (``>=`` when higher is better, ``<=`` otherwise).
        trivial: the trivial model's value on the same data, computed in the same run.
        trivial_name: what the trivial model is, e.g. ``"predicting the majority class"``.
        higher_is_better: False for errors and losses.
        digits: decimals printed.

    Returns:
        ``value``, so the call can sit in an expression.

    Raises:
        VacuousCheckError: the trivial model meets the bound (raise it above the trivial model's value).
        CheckFailedError: the learned value misses the bound.
        ValueError: for a value, bound or trivial value that is not a finite number.

    Example:
        >>> check("test accuracy", 0.85, bound=0.5, trivial=0.1, trivial_name="the majority class")
        check passed: test accuracy 0.8500 >= 0.5000; the majority class scores 0.1000 and fails it
        0.85
    """
    value, bound = _number(value, what), _number(bound, f"the bound of {what}")
    trivial = _number(trivial, f"the trivial model's {what}")
    meets = (lambda x: x >= bound) if higher_is_better else (lambda x: x <= bound)
    sign = ">=" if higher_is_better else "<="
    f = f"{{:.{digits}f}}".format
    if meets(trivial):
        raise VacuousCheckError(
            f"the check '{what} {sign} {f(bound)}' proves nothing: {trivial_name} scores {f(trivial)} and passes it "
            f"too; choose a bound that {trivial_name} misses")
    if not meets(value):
        raise CheckFailedError(f"{what} is {f(value)}, which misses the bound {sign} {f(bound)} "
                               f"({trivial_name} scores {f(trivial)})")
    print(f"check passed: {what} {f(value)} {sign} {f(bound)}; {trivial_name} scores {f(trivial)} and fails it")
    return value
