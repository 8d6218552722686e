"""dmlib.validate: the one size check every helper uses."""

import numpy as np
import pytest

from dmlib.timeseries import WindowError
from dmlib.validate import check_int


def test_integers_pass_as_python_ints():
    assert check_int("k", np.int64(3), 1) == 3 and type(check_int("k", np.int64(3), 1)) is int


@pytest.mark.parametrize("bad, message", [(0, "got 0"), (-2, "got -2"), (2.0, "of type float (use // or int()"),
                                          (True, "of type bool"), ("3", "of type str")])
def test_anything_else_is_refused_with_the_name_and_the_rule(bad, message):
    with pytest.raises(ValueError, match=r"stride must be an integer >= 1 \(a positive integer\), got") as err:
        check_int("stride", bad, 1)
    assert message in str(err.value)


def test_a_module_can_raise_its_own_error_class():
    with pytest.raises(WindowError):
        check_int("length", 0, 1, error=WindowError)
