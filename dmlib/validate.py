"""Argument checks shared by the dmlib helpers: one clear error that names the argument, the value
and what is allowed, raised at a helper's public boundary (so that ``stride=0`` fails at once
instead of looping until memory runs out)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def check_int(name: str, value: Any, low: int, error: type[ValueError] = ValueError) -> int:
    """``value`` as a Python ``int`` if it is an integer (Python or NumPy, not bool) ``>= low``.

    A float is refused even when whole (``2.0``): a size computed with ``/`` instead of ``//`` is a
    bug that truncation (``2.5 -> 2``) would hide.

    Args:
        name: the argument's name, for the message.
        value: what was passed.
        low: the smallest value allowed.
        error: the ``ValueError`` subclass to raise (e.g. ``WindowError``).

    Raises:
        ValueError (or ``error``): naming the argument, the value and what is allowed.

    Example:
        >>> check_int("stride", np.int64(2), 1)
        2
        >>> check_int("stride", 0, 1)
        Traceback (most recent call last):
        ...
        ValueError: stride must be an integer >= 1 (a positive integer), got 0
    """
    rule = f"an integer >= {low}" + (" (a positive integer)" if low == 1 else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        hint = " (use // or int() to make it one)" if isinstance(value, numbers.Real) and not isinstance(
            value, (bool, np.bool_)) else ""
        raise error(f"{name} must be {rule}, got {value!r} of type {type(value).__name__}{hint}")
    if value < low:
        raise error(f"{name} must be {rule}, got {value!r}")
    return int(value)
