"""Verdicts: turn repeated measurements of two variants into a sentence that cannot overstate them.

A notebook that says "dropout helps" must print that sentence from its own numbers, so that the
smoke, standard and full profiles can never contradict their prose. :func:`compare_runs` takes the
per-seed (or per-split) scores of two variants that differ in one factor and decides with a 95%
interval of the gain computed by SciPy: the paired t-interval (``scipy.stats.ttest_rel``) when the
runs share a split or seed, else Welch's interval (``ttest_ind(..., equal_var=False)``). Only the
sentence logic lives here:

* ``a`` beats ``b`` only when the whole interval lies on ``a``'s side of zero;
* an interval that includes zero is **inconclusive** (never "no difference"), unless the caller
  names the smallest effect that matters (``min_effect``) and the whole interval lies inside
  ``±min_effect``: only then may the sentence say that there is no difference of that size;
* with fewer than three runs per variant the verdict is "too few runs for a claim";
* a variant whose model was still improving at its last epoch (``improving_a``/``improving_b``, from
  :func:`dmlib.train.fit_best`'s ``still_improving``) makes the sentence say **budget-limited**.

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
    paired: bool | None = False
    min_effect: float | None = None
    improving_a: bool = False
    improving_b: bool = False

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
        """Neither beats the other beyond the noise (or too few runs to tell)."""
        return not (self.better or self.worse)

    @property
    def equivalent(self) -> bool:
        """No difference of the size that matters: enough runs and the whole interval inside ``±min_effect``."""
        return (self.enough_runs and self.min_effect is not None
                and -self.min_effect < self.ci_low and self.ci_high < self.min_effect)

    @property
    def inconclusive(self) -> bool:
        """Neither variant wins and the interval is too wide to rule out an effect that matters."""
        return self.tie and not self.equivalent

    @property
    def budget_limited(self) -> bool:
        """A model of either variant was still improving at its last epoch: more training could change this."""
        return self.improving_a or self.improving_b

    def _f(self, x: float) -> str:
        return f"{x:.{self.digits}f}"

    def numbers(self) -> str:
        """``"0.861 ± 0.004 vs 0.849 ± 0.006 (3 and 3 runs)"``: means ± sample std of both variants."""
        if self.paired:
            runs = f"{self.n_a} paired run" + ("s" if self.n_a != 1 else "")
        else:
            runs = f"{self.n_a} and {self.n_b} runs"
            if self.paired is None:
                runs += ", unpaired: the comparison did not say whether the runs share splits"
        return (f"{self._f(self.mean_a)} ± {self._f(self.std_a)} vs {self._f(self.mean_b)} ± {self._f(self.std_b)} "
                f"({runs})")

    def _budget(self) -> str:
        if not self.budget_limited:
            return ""
        names = [n for n, flag in ((self.name_a, self.improving_a), (self.name_b, self.improving_b)) if flag]
        verb = "was" if len(names) == 1 else "were"
        return (f" Budget-limited: {' and '.join(names)} {verb} still improving at the last epoch, so a longer "
                "run could change this verdict.")

    def __str__(self) -> str:
        ci = f"95% CI of the gain {self._f(self.ci_low)} to {self._f(self.ci_high)}"
        if not self.enough_runs:
            return (f"{self.name_a} vs {self.name_b} on {self.metric}: {self.numbers()}; too few runs for a claim "
                    f"(at least {MIN_RUNS} per variant needed).{self._budget()}")
        if self.better:
            text = (f"{self.name_a} beats {self.name_b} on {self.metric} by {self._f(self.diff)} "
                    f"({self.numbers()}; {ci}).")
        elif self.worse:
            text = (f"{self.name_a} is worse than {self.name_b} on {self.metric} by {self._f(-self.diff)} "
                    f"({self.numbers()}; {ci}).")
        elif self.equivalent:
            text = (f"No difference larger than {self._f(self.min_effect)} between {self.name_a} and {self.name_b} "
                    f"on {self.metric} ({self.numbers()}; {ci}, inside ±{self._f(self.min_effect)}).")
        else:
            size = "" if self.min_effect is None else f" and gains of ±{self._f(self.min_effect)}"
            text = (f"Inconclusive: {self.name_a} vs {self.name_b} on {self.metric}: the {ci} includes zero{size}, "
                    f"so these runs can tell neither a gain nor its absence ({self.numbers()}).")
        return text + self._budget()


def _clean(values: Iterable[float], name: str) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: give a flat, non-empty list of per-run scores, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: scores must be finite, got {arr.tolist()}; a run that diverged must be "
                         "reported as such, not averaged in")
    return arr


def _interval(xa: np.ndarray, xb: np.ndarray, paired: bool) -> tuple[float, float]:
    """SciPy's 95% interval of mean(a) - mean(b): paired t (``ttest_rel``) or Welch (``ttest_ind``).

    Zero spread (identical differences, or constant runs) gives the zero-width interval at the
    difference, where SciPy's t statistic is undefined; one run gives (-inf, inf).
    """
    diff = float(xa.mean() - xb.mean())

    def constant(x: np.ndarray) -> bool:  # equal up to rounding (0.86 - 0.81 vs 0.05): SciPy would warn
        return bool(np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())))

    if paired:
        if xa.size < 2:
            return -math.inf, math.inf
        if constant(xa - xb):
            return diff, diff
        ci = stats.ttest_rel(xa, xb).confidence_interval(0.95)
    else:
        if xa.size < 2 or xb.size < 2:
            return -math.inf, math.inf
        if constant(xa) and constant(xb):
            return diff, diff
        if constant(xa) or constant(xb):  # Welch with one spread zero is the one-sample t interval of the other arm;
            other = xb if constant(xa) else xa   # computed here because SciPy warns of precision loss on constant data
            half = float(stats.t.ppf(0.975, other.size - 1)) * float(other.std(ddof=1)) / math.sqrt(other.size)
            return diff - half, diff + half
        ci = stats.ttest_ind(xa, xb, equal_var=False).confidence_interval(0.95)
    return float(ci.low), float(ci.high)


def compare_runs(a: Sequence[float], b: Sequence[float], *, name_a: str, name_b: str, metric: str,
                 paired: bool | None = None, higher_is_better: bool = True, digits: int = 3,
                 min_effect: float | None = None, improving_a: bool = False, improving_b: bool = False) -> Verdict:
    """Compare the per-run scores of two variants with a 95% interval of the gain.

    Say whether the runs are paired: ``paired=True`` when the i-th scores of ``a`` and ``b`` share a
    split, a seed or a model (one of MovieLens' five folds, the same seed's initial weights, beam
    search and greedy decoding of the same model): the interval is then the paired t-interval of the
    per-run differences, in which the spread the variants share cancels. ``paired=False`` (Welch)
    only for independent runs. A call that says neither (``None``, kept so that notebooks written
    before the argument existed still run) is treated as unpaired and the sentence says so.

    Args:
        a, b: one score per seed or split for each variant.
        name_a, name_b: how the sentence names the variants.
        metric: what the scores are, e.g. ``"test accuracy"``.
        paired: score i of ``a`` and of ``b`` come from the same split/seed/model (say it explicitly).
        higher_is_better: False for errors and losses.
        digits: decimals in the sentence.
        min_effect: the smallest gain that would matter (metric units). Without it a tie is always
            "inconclusive"; with it, an interval inside ``±min_effect`` reads "no difference larger than".
        improving_a, improving_b: a model of that variant had its best validation epoch at its last
            epoch (``fit_best(...).still_improving``); the sentence then says "budget-limited".

    Returns:
        A :class:`Verdict`; ``str()`` of it is the sentence to print.

    Raises:
        ValueError: if a list is empty or holds NaN/inf, if paired lists differ in length, or for a
            ``min_effect`` that is not a positive number.

    Example:
        >>> v = compare_runs([0.86, 0.87, 0.865], [0.84, 0.845, 0.842], name_a="dropout",
        ...                  name_b="no dropout", metric="test accuracy", paired=False)
        >>> v.better, round(v.diff, 3)
        (True, 0.023)
    """
    if paired not in (True, False, None):
        raise ValueError(f"paired must be True or False, got {paired!r}")
    if min_effect is not None and not (isinstance(min_effect, (int, float)) and math.isfinite(min_effect)
                                       and min_effect > 0):
        raise ValueError(f"min_effect must be a positive number (the smallest gain that matters), got {min_effect!r}")
    xa, xb = _clean(a, name_a), _clean(b, name_b)
    if paired and xa.size != xb.size:
        raise ValueError(f"paired runs need one score of each variant per run, got {xa.size} for {name_a} "
                         f"and {xb.size} for {name_b}")
    ma, mb = float(xa.mean()), float(xb.mean())
    sa = float(xa.std(ddof=1)) if xa.size > 1 else math.nan
    sb = float(xb.std(ddof=1)) if xb.size > 1 else math.nan
    low, high = _interval(xa, xb, bool(paired))
    if not higher_is_better:  # the gain is b - a: mirror the interval
        low, high = -high, -low
    return Verdict(name_a=name_a, name_b=name_b, metric=metric, mean_a=ma, std_a=sa, n_a=int(xa.size),
                   mean_b=mb, std_b=sb, n_b=int(xb.size), ci_low=low, ci_high=high,
                   higher_is_better=higher_is_better, digits=digits, paired=paired,
                   min_effect=None if min_effect is None else float(min_effect),
                   improving_a=bool(improving_a), improving_b=bool(improving_b))


def summary(lines: Iterable[str | Verdict], title: str | None = None):
    """Render sentences (or verdicts) as a Markdown bullet list for a notebook's generated summary.

    Example:
        >>> summary(["ridge is the best forecaster."]).data
        '- ridge is the best forecaster.'
    """
    from IPython.display import Markdown

    body = "\n".join(f"- {line}" for line in map(str, lines))
    return Markdown(f"**{title}**\n\n{body}" if title else body)
