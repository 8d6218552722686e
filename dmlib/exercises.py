"""Checked exercises: a student passes an answer to :func:`check` and reads one line back.

An exercise is **exact** (its right answer follows from its statement: ``exact`` computes it, and
it is never printed) or **measured** (a number a training run produces). A measured answer is
judged against the range that the solution's own runs gave on the active profile and backend, read
from the committed ``results/exercises.json``; a solution cell calls :func:`record_solution` with
one value per seed, and the runner (``python -m dmlib run``) sets ``DMLIB_EXERCISES_FILE`` so that
those ranges are written there. Where no range is recorded, only the exercise's ``plausible``
range is checked, and the message says so.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dmlib.config import profile

RECORD_ENV = "DMLIB_EXERCISES_FILE"  # set by the runner: the file record_solution merges ranges into
RESULTS_ENV = "DMLIB_EXERCISES_RESULTS"  # overrides RESULTS_FILE, the file check reads ranges from
# The committed ranges of the solutions' runs: {profile: {backend: {key: {low, high, runs}}}}.
RESULTS_FILE = Path(__file__).resolve().parents[1] / "results" / "exercises.json"
_KEY = re.compile(r"\d{2}\.\d+")


class ExercisesFileError(ValueError):
    """A ranges file that is not valid JSON of the expected shape."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: what it asks, a hint, and how an answer is judged.

    Args:
        key: ``"NN.M"``: the notebook's number and the exercise's number in it, e.g. ``"02.1"``.
        asks: one sentence: what to pass to :func:`check`, with its type or units.
        hint: printed by :func:`hint` and after a wrong answer; must not give the answer away.
        exact: computes the right answer from the statement (exact exercise); None: measured.
        rel_tol: accepted error relative to the expected value (or, measured, to the range's ends).
        abs_tol: accepted absolute error.
        plausible: the range any sensible measured answer lies in; used when no range is recorded.

    Raises:
        ValueError: for a malformed key, a negative tolerance or an empty ``plausible`` range.

    Example:
        >>> Exercise("02.1", "the number of weights (an integer)", "kernel area times channels",
        ...          exact=lambda: 5 * 5 * 64 * 64).key
        '02.1'
    """

    key: str
    asks: str
    hint: str
    exact: Callable[[], float] | None = None
    rel_tol: float = 0.0
    abs_tol: float = 0.0
    plausible: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _KEY.fullmatch(self.key):
            raise ValueError(f"exercise key {self.key!r} is malformed: write 'NN.M' (notebook, exercise), e.g. '02.1'")
        if not (self.rel_tol >= 0 and self.abs_tol >= 0):
            raise ValueError(f"exercise {self.key}: rel_tol and abs_tol must be >= 0")
        if self.plausible is not None and not self.plausible[0] <= self.plausible[1]:
            raise ValueError(f"exercise {self.key}: plausible must be (low, high) with low <= high")


EXERCISES: dict[str, Exercise] = {}
"""The registered exercises by key."""


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to :data:`EXERCISES` and return it.

    Raises:
        ValueError: if its key is already registered (or malformed, see :class:`Exercise`).
    """
    if exercise.key in EXERCISES:
        raise ValueError(f"exercise {exercise.key} is already registered: give the new one another key")
    EXERCISES[exercise.key] = exercise
    return exercise


def _exercise(key: str) -> Exercise:
    if key not in EXERCISES:
        raise ValueError(f"no exercise {key!r}; the known keys are: {', '.join(sorted(EXERCISES)) or 'none'}")
    return EXERCISES[key]


def _number(x: object) -> float | None:
    """``x`` as a finite float, or None if it is not one finite real number (bools and strings are not)."""
    if x is None or isinstance(x, (bool, str, bytes)):
        return None
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError, RuntimeError):  # e.g. a tensor on a GPU: float() below copes
        arr = None
    if arr is not None:
        if arr.size != 1 or arr.dtype.kind not in "iufO":
            return None
        x = arr.reshape(()).item()
        if isinstance(x, (bool, str, bytes)):
            return None
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        return None
    return value if math.isfinite(value) else None


def _backend() -> str:
    try:
        import keras
    except ImportError:
        return os.environ.get("KERAS_BACKEND", "tensorflow")
    return keras.config.backend()


def _read(path: Path) -> dict[str, Any]:
    """The ranges in ``path`` ({} if it does not exist), checked for shape."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        ok = isinstance(data, dict) and all(
            isinstance(by_backend, dict) and all(
                isinstance(by_key, dict) and all(
                    isinstance(r, dict) and {"low", "high", "runs"} <= set(r)
                    and all(type(r[k]) in (int, float) and math.isfinite(r[k]) for k in ("low", "high"))
                    and r["low"] <= r["high"] and type(r["runs"]) is int and r["runs"] >= 1
                    for r in by_key.values())
                for by_key in by_backend.values())
            for by_backend in data.values())
    except ValueError:  # also a file that is not UTF-8
        ok = False
    if not ok:
        raise ExercisesFileError(
            f"{path} is not a valid exercises file (JSON of {{profile: {{backend: {{key: {{low, high, runs}}}}}}}}): "
            f"delete it or fix it")
    return data


def asks(key: str) -> str:
    """The sentence saying what to pass to :func:`check` for exercise ``key``."""
    return _exercise(key).asks


def hint(key: str) -> None:
    """Print the hint of exercise ``key``."""
    print(f"hint ({key}): {_exercise(key).hint}")


def check(key: str, answer: float) -> bool:
    """Judge ``answer`` to exercise ``key``: print one line and return whether it is accepted.

    Args:
        key: the exercise, e.g. ``"02.1"``.
        answer: one finite real number (a one-element array or tensor is fine).

    Returns:
        True if the answer is accepted; False if it is wrong or cannot be checked here.

    Raises:
        ValueError: for an unknown key, or an answer that is not one finite real number.
        ExercisesFileError: if the committed ranges file is damaged.

    Example:
        >>> check("02.1", 5 * 5 * 64 * 64)
        02.1: right.
        True
    """
    ex = _exercise(key)
    value = _number(answer)
    if value is None:
        raise ValueError(f"exercise {key} needs one finite real number, got {answer!r}: pass {ex.asks}")
    if ex.exact is not None:
        expected = float(ex.exact())
        if abs(value - expected) <= max(ex.abs_tol, ex.rel_tol * abs(expected)):
            print(f"{key}: right.")
            return True
        side = "too high" if value > expected else "too low"
        if expected != 0:
            side += " by more than 10%" if abs(value - expected) > 0.1 * abs(expected) else " by 10% or less"
        print(f"{key}: not right: {side}. Hint: {ex.hint}")
        return False
    prof, backend = profile(), _backend()
    path = Path(os.environ.get(RESULTS_ENV) or RESULTS_FILE)
    rng = _read(path).get(prof, {}).get(backend, {}).get(key)
    if rng is None:
        note = f"no solution run is recorded for profile {prof} on backend {backend}"
        if ex.plausible is None:
            print(f"{key}: {note}, and the exercise has no plausible range: the answer cannot be checked here.")
            return False
        low, high = ex.plausible
        ok = low <= value <= high
        print(f"{key}: {note}: only plausibility is checked; {value:.6g} is "
              f"{'within' if ok else 'outside'} the plausible range {low:.6g} to {high:.6g}."
              + ("" if ok else f" Hint: {ex.hint}"))
        return ok
    low, high, runs = float(rng["low"]), float(rng["high"]), rng["runs"]
    margin = max(ex.abs_tol, ex.rel_tol * max(abs(low), abs(high)))
    where = "below" if value < low - margin else "above" if value > high + margin else "within"
    span = f"{low:.6g} to {high:.6g}" + (f" (give or take {margin:.3g})" if margin else "")
    print(f"{key}: {value:.6g} is {where} the range {span} that the solution's {runs} run{'s' * (runs != 1)} "
          f"gave on profile {prof} (backend {backend})." + ("" if where == "within" else f" Hint: {ex.hint}"))
    return where == "within"


def record_solution(key: str, values: Sequence[float]) -> tuple[float, float]:
    """Give the range of the solution's measured answers (one per run); record it if a runner asks.

    Only when ``DMLIB_EXERCISES_FILE`` is set (the runner sets it) is the range merged into that
    file, under the active profile and backend; other entries are kept. :func:`check` reads the
    committed ``results/exercises.json`` only, so recording does not change what it accepts.

    Args:
        key: a measured exercise.
        values: the measured answer of each run (at least one, all finite).

    Returns:
        ``(min, max)`` of ``values``.

    Raises:
        ValueError: for an unknown key, an exact exercise, or no or non-finite values.
        ExercisesFileError: if the file to merge into is damaged (it is left as it is).

    Example:
        >>> record_solution("02.3", [0.81, 0.84, 0.83])
        (0.81, 0.84)
    """
    ex = _exercise(key)
    if ex.exact is not None:
        raise ValueError(f"exercise {key} is exact: only a measured exercise's solution is recorded")
    if isinstance(values, (str, bytes)):
        values = [values]  # type: ignore[list-item]
    numbers = [_number(v) for v in np.asarray(values, dtype=object).ravel()]
    if not numbers or any(v is None for v in numbers):
        raise ValueError(f"exercise {key}: pass one finite number per run (at least one), got {values!r}")
    low, high = min(numbers), max(numbers)  # type: ignore[type-var]
    target = os.environ.get(RECORD_ENV)
    if target:
        path = Path(target)
        data = _read(path)
        data.setdefault(profile(), {}).setdefault(_backend(), {})[key] = {
            "low": low, "high": high, "runs": len(numbers)}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    return low, high  # type: ignore[return-value]


# The exercises, one section per notebook. An exact answer is computed here from the statement (and never printed);
# a measured answer is judged against the range its solution's runs recorded in results/exercises.json.

# --- 02_cnn_images ---
register(Exercise(
    "02.1", "the ratio (a number) of the weights of one 5x5 convolution to those of two stacked 3x3 convolutions, "
    "64 to 64 channels, without biases",
    "a kernel of size k x k from C to C channels has k * k * C * C weights; the channels cancel in the ratio",
    exact=lambda: (5 * 5 * 64 * 64) / (2 * 3 * 3 * 64 * 64), rel_tol=0.005))
register(Exercise(
    "02.3", "how many of section 5's seeds leave the deep plain network without batch normalisation and with "
    "Keras' default (Glorot) initialisation stuck: training loss in the last epoch above 2.2 (an integer)",
    "section 5's loop and settings; the network: Conv2D(width, 3, padding='same', activation='relu') everywhere, "
    "no BatchNormalization, no kernel_initializer argument; compare history['loss'][-1] with 2.2",
    plausible=(0.0, 10.0)))
register(Exercise(
    "02.5", "the fraction (0-1) of the first 200 correctly classified test images whose prediction by the better CNN "
    "changes after one FGSM step of size 0.03, clipped to [0, 1]",
    "x_adv = clip(x + 0.03 * sign(input_gradients(cnn, x, y)), 0, 1) with the true labels y; compare the "
    "argmax of cnn.predict on x_adv with y",
    abs_tol=0.03, plausible=(0.0, 1.0)))
