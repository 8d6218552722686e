"""Verdicts: turn repeated measurements of two variants into a sentence that cannot overstate them.

A notebook that says "dropout helps" must print that sentence from its own numbers, so that the
smoke, standard and full profiles can never contradict their prose. :func:`compare_runs` takes the
per-seed (or per-split) scores of two variants that differ in one factor, and decides with a 95%
Welch interval of the difference of the means (or, for scores paired by a shared split such as a
cross-validation fold, the paired t-interval of the per-split differences): ``a`` beats ``b`` only when
the whole interval lies on ``a``'s side of zero; otherwise the verdict is "no difference beyond seed
noise". With fewer than three runs per variant the verdict is always "too few runs for a claim".
:func:`summary` renders a list of such sentences as Markdown for a notebook's generated summary.

Used from notebook 02 on wherever a comparison is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_RUNS = 3
"""Runs per variant below which no claim is made (the workbook's rule: at least 3 seeds)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`compare_runs` (all numbers in the metric's own units)."""

    name_a: str
    name_b: str
    metric: str
    mean_a: float
    std_a: float
    n_a: int
    mean_b: float
    std_b: float
    n_b: int
    ci_low: float
    ci_high: float
    higher_is_better: bool = True
    digits: int = 3
    paired: bool = False

    @property
    def diff(self) -> float:
        """How much better ``a`` is than ``b`` in the metric's direction (positive: ``a`` better)."""
        d = self.mean_a - self.mean_b
        return d if self.higher_is_better else -d

    @property
    def enough_runs(self) -> bool:
        """True when both variants have at least :data:`MIN_RUNS` runs."""
        return min(self.n_a, self.n_b) >= MIN_RUNS

    @property
    def better(self) -> bool:
        """``a`` beats ``b``: enough runs and the 95% interval of the difference excludes zero on ``a``'s side."""
        return self.enough_runs and self.ci_low > 0

    @property
    def worse(self) -> bool:
        """``a`` loses to ``b`` beyond the noise (the mirror image of :attr:`better`)."""
        return self.enough_runs and self.ci_high < 0

    @property
    def tie(self) -> bool:
        """Neither beats the other beyond seed noise (or too few runs to tell)."""
        return not (self.better or self.worse)

    def _f(self, x: float) -> str:
        return f"{x:.{self.digits}f}"

    def numbers(self) -> str:
        """``"0.861 ± 0.004 vs 0.849 ± 0.006 (3 and 3 runs)"``: means ± sample std of both variants."""
        if self.paired:
            runs = f"{self.n_a} paired run" + ("s" if self.n_a != 1 else "")
        else:
            runs = f"{self.n_a} and {self.n_b} runs"
        return (f"{self._f(self.mean_a)} ± {self._f(self.std_a)} vs {self._f(self.mean_b)} ± {self._f(self.std_b)} "
                f"({runs})")

    def __str__(self) -> str:
        ci = f"95% CI of the gain {self._f(self.ci_low)} to {self._f(self.ci_high)}"
        if not self.enough_runs:
            return (f"{self.name_a} vs {self.name_b} on {self.metric}: {self.numbers()}; too few runs for a claim "
                    f"(at least {MIN_RUNS} per variant needed).")
        if self.better:
            return (f"{self.name_a} beats {self.name_b} on {self.metric} by {self._f(self.diff)} "
                    f"({self.numbers()}; {ci}).")
        if self.worse:
            return (f"{self.name_a} is worse than {self.name_b} on {self.metric} by {self._f(-self.diff)} "
                    f"({self.numbers()}; {ci}).")
        noise = "the run-to-run noise" if self.paired else "seed noise"
        return (f"No difference between {self.name_a} and {self.name_b} on {self.metric} beyond {noise} "
                f"({self.numbers()}; {ci}).")


def _clean(values: Iterable[float], name: str) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: give a flat, non-empty list of per-run scores, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: scores must be finite, got {arr.tolist()}; a run that diverged must be "
                         "reported as such, not averaged in")
    return arr


def compare_runs(a: Sequence[float], b: Sequence[float], *, name_a: str, name_b: str, metric: str,
                 higher_is_better: bool = True, digits: int = 3, paired: bool = False) -> Verdict:
    """Compare the per-run scores of two variants with a 95% Welch interval of the difference of means.

    With ``paired=True`` the i-th scores of ``a`` and ``b`` come from the same run (the same data
    split, e.g. one of MovieLens' five official folds), and the interval is the paired t-interval of
    the per-run differences: the folds' own spread, which both variants share, then cancels.

    Args:
        a, b: one score per seed or split for each variant (the same seeds for both, ideally).
        name_a, name_b: how the sentence names the variants.
        metric: what the scores are, e.g. ``"test accuracy"``.
        higher_is_better: False for errors and losses.
        digits: decimals in the sentence.
        paired: score i of ``a`` and of ``b`` come from the same split; use the paired t-interval.

    Returns:
        A :class:`Verdict`; ``str()`` of it is the sentence to print.

    Raises:
        ValueError: if a list is empty or holds NaN/inf, or if paired lists differ in length.

    Example:
        >>> v = compare_runs([0.86, 0.87, 0.865], [0.84, 0.845, 0.842], name_a="dropout",
        ...                  name_b="no dropout", metric="test accuracy")
        >>> v.better, round(v.diff, 3)
        (True, 0.023)
    """
    xa, xb = _clean(a, name_a), _clean(b, name_b)
    ma, mb = float(xa.mean()), float(xb.mean())
    sa = float(xa.std(ddof=1)) if xa.size > 1 else math.nan
    sb = float(xb.std(ddof=1)) if xb.size > 1 else math.nan
    sign = 1.0 if higher_is_better else -1.0
    diff = sign * (ma - mb)
    if paired:
        if xa.size != xb.size:
            raise ValueError(f"paired runs need one score of each variant per run, got {xa.size} for {name_a} "
                             f"and {xb.size} for {name_b}")
        gains = sign * (xa - xb)
        half = math.inf
        if gains.size > 1:
            half = float(stats.t.ppf(0.975, gains.size - 1)) * float(gains.std(ddof=1)) / math.sqrt(gains.size)
        low, high = diff - half, diff + half
    elif xa.size > 1 and xb.size > 1:
        va, vb = sa**2 / xa.size, sb**2 / xb.size
        se = math.sqrt(va + vb)
        if se == 0.0:
            low = high = diff
        else:
            dof = (va + vb) ** 2 / (va**2 / (xa.size - 1) + vb**2 / (xb.size - 1))
            half = float(stats.t.ppf(0.975, dof)) * se
            low, high = diff - half, diff + half
    else:
        low, high = -math.inf, math.inf
    return Verdict(name_a=name_a, name_b=name_b, metric=metric, mean_a=ma, std_a=sa, n_a=int(xa.size),
                   mean_b=mb, std_b=sb, n_b=int(xb.size), ci_low=low, ci_high=high,
                   higher_is_better=higher_is_better, digits=digits, paired=paired)


def summary(lines: Iterable[str | Verdict], title: str | None = None):
    """Render sentences (or verdicts) as a Markdown bullet list for a notebook's generated summary.

    Example:
        >>> summary(["ridge is the best forecaster."]).data
        '- ridge is the best forecaster.'
    """
    from IPython.display import Markdown

    body = "\n".join(f"- {line}" for line in map(str, lines))
    return Markdown(f"**{title}**\n\n{body}" if title else body)
