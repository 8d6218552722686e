"""pytest configuration shared by the unit tests and the nbval notebook runs.

The test suite runs the notebooks in the `smoke` profile (tiny subsets, about a minute each);
set DMLIB_TEST_PROFILE=standard to run them at full standard size instead. The kernels nbval
starts inherit this process's environment.
"""

import os

os.environ["DMLIB_PROFILE"] = os.environ.get("DMLIB_TEST_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")
