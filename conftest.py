"""pytest configuration shared by the unit tests and the nbval notebook runs.

The test suite runs the notebooks in the `smoke` profile (tiny subsets, about a minute each);
set DMLIB_TEST_PROFILE=standard to run them at full standard size instead. The kernels nbval
starts inherit this process's environment.

Before any test runs, a session that collected notebooks checks once that the datasets they need
are available (quick: files verified before are remembered) and otherwise stops with one message
that says how to get them, instead of a hundred knock-on failures. Unit tests need no data and
are not checked.
"""

import os

import pytest

os.environ["DMLIB_PROFILE"] = os.environ.get("DMLIB_TEST_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")

NO_DATA_EXIT_CODE = 4  # pytest's "usage error": the environment is not set up


def pytest_collection_finish(session: pytest.Session) -> None:
    """Stop the whole session at once, with one message, when notebooks are to run without their data."""
    if not any(item.path.suffix == ".ipynb" for item in session.items):
        return
    from dmlib.datasets import unavailable_message

    message = unavailable_message()
    if message:
        pytest.exit(message, returncode=NO_DATA_EXIT_CODE)
