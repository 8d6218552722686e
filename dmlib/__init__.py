"""dmlib: the helper package of the deep-learning-for-data-mining workbook.

Numpy in, numpy out; Keras 3 on any backend (TensorFlow, JAX, PyTorch); no TensorFlow imports.
The modules, by concern: ``config`` (profiles, settings, setup), ``datasets`` (verified offline
loaders), ``results`` (recording headline numbers), ``plots``, ``train`` (``fit_best``), ``runner``
(headless execution), ``report`` (the README's results table), ``bench`` (speed per backend) and
``cli`` (``python -m dmlib ...``), ``checks`` (checks on learned results that name the trivial model
they rule out), ``validate`` (argument checks at the helpers' boundaries); and the notebooks' plumbing: ``fundamentals`` (01), ``gradients``
(02, 05), ``timeseries`` (03), ``text`` (04), ``experiments`` (05); ``verdicts``
(sentences about comparisons, printed from the numbers, for every notebook).
"""

import os

# Keep TensorFlow's C++ start-up chatter out of notebook outputs (has no effect on other backends).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

from dmlib import datasets, verdicts  # noqa: E402
from dmlib.checks import check  # noqa: E402
from dmlib.config import profile, settings, setup  # noqa: E402
from dmlib.results import record, recorded  # noqa: E402

__all__ = ["__version__", "check", "datasets", "profile", "record", "recorded", "settings", "setup", "verdicts"]
