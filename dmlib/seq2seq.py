"""Sequence-to-sequence plumbing for notebook 08: generated data, token codes, decoding loops, scores.

What notebook ``08_encoder_decoder_attention`` teaches (the encoder-decoder equations, teacher
forcing, attention, fusion) is written in the notebook; this module holds what it needs around
that, once and tested:

- generators, seeded and offline: :func:`addition_data` (``"535+61"`` -> ``"596"``),
  :func:`date_data` (``"Monday, 22 April 2019"``, ``"4/22/19"``, ... -> ``"2019-04-22"``, from the
  standard library's ``datetime``) and :func:`make_scenes` (2x2 grids of Fashion-MNIST items with
  templated questions and answers);
- :class:`TokenVocabulary`: characters (or words) to integer codes and back, with padding, start
  and end tokens;
- decoding loops in numpy around any one-step decoder: :func:`greedy_decode` and
  :func:`beam_search_decode` (backend-free: the step function may be a Keras model on any backend,
  see :func:`keras_step`);
- :func:`exact_match`, the share of outputs equal to their target, character for character, and
  :func:`char_accuracy`, the share of output positions right (a per-character score, like the
  "accuracy" keras.io's addition example reports, which counts padding positions too).
"""

from __future__ import annotations

import datetime as _dt
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dmlib.validate import check_int as _check_int

PAD, START, END, UNKNOWN = "<pad>", "<start>", "<end>", "<unk>"
"""The special tokens; codes 0, 1, 2 and 3 in every :class:`TokenVocabulary`."""

StepFn = Callable[[np.ndarray, list[np.ndarray]], tuple[np.ndarray, list[np.ndarray]]]


class TokenVocabulary:
    """Map tokens (characters, or words) to integer codes 0..n-1 and back.

    Codes 0-3 are the padding, start, end and unknown tokens; the others follow in the order given.
    A string is a sequence of characters, so ``encode(["12+3"])`` codes characters; pass lists of
    words to code words.

    Example:
        >>> vocab = TokenVocabulary("0123456789+")
        >>> vocab.encode(["12+3"], length=6, end=True)
        array([[ 5,  6, 14,  7,  2,  0]])
        >>> vocab.decode([[5, 6, 14, 7, 2, 0]])
        ['12+3']
    """

    def __init__(self, tokens: Iterable[str]):
        tokens = list(dict.fromkeys(tokens))  # unique, in order
        for t in tokens:
            if not isinstance(t, str) or not t:
                raise ValueError(f"tokens must be non-empty strings, got {t!r}")
        specials = [PAD, START, END, UNKNOWN]
        self.tokens: list[str] = specials + [t for t in tokens if t not in specials]
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.start_id, self.end_id, self.unknown_id = 0, 1, 2, 3

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"TokenVocabulary({len(self)} tokens: {''.join(self.tokens[4:])[:40]!r}...)"

    def encode(self, sequences: Sequence[Sequence[str]], length: int | None = None, *, start: bool = False,
               end: bool = False, reverse: bool = False) -> np.ndarray:
        """Code each sequence as one row of integers, right-padded with 0.

        Args:
            sequences: strings (characters are tokens) or lists of tokens.
            length: the row length; default: the longest coded sequence. Longer sequences raise.
            start, end: prepend the start token / append the end token.
            reverse: reverse each sequence's tokens first (the trick of Sutskever et al. 2014).

        Returns:
            An int array of shape ``(len(sequences), length)``; unknown tokens get code 3.

        Raises:
            ValueError: if a coded sequence is longer than ``length``, or ``length`` is not a
                positive integer.
        """
        if isinstance(sequences, str):
            raise ValueError("give a list of sequences, e.g. encode(['12+3']), not a single string")
        if length is not None:
            length = _check_int("length", length, 1)
        rows = []
        for seq in sequences:
            toks = list(seq)[::-1] if reverse else list(seq)
            ids = [self.index.get(t, self.unknown_id) for t in toks]
            rows.append(([self.start_id] if start else []) + ids + ([self.end_id] if end else []))
        longest = max((len(r) for r in rows), default=0)
        length = longest if length is None else length
        if longest > length:
            raise ValueError(f"a sequence needs {longest} codes but length={length}; raise length")
        out = np.zeros((len(rows), length), dtype="int64")
        for i, r in enumerate(rows):
            out[i, : len(r)] = r
        return out

    def decode(self, ids: Any, *, sep: str = "") -> list[str]:
        """Turn rows of codes back into strings: skip padding and start, stop at the first end token.

        Raises:
            ValueError: for a code that is not a whole number in ``[0, len(self) - 1]`` (a negative
                code would otherwise name a token counted from the end).

        Example:
            >>> TokenVocabulary("ab").decode([[1, 4, 5, 2, 4]])
            ['ab']
        """
        codes = np.asarray(ids)
        flat, bad = codes.ravel(), None
        if flat.size and (codes.dtype == bool or not np.issubdtype(codes.dtype, np.number)):
            bad = flat[0].item()
        elif flat.size:
            wrong = (flat != np.round(flat)) | (flat < 0) | (flat >= len(self.tokens))
            bad = flat[np.argmax(wrong)].item() if wrong.any() else None
        if bad is not None:
            raise ValueError(f"ids must be whole numbers in [0, {len(self.tokens) - 1}] (this vocabulary has "
                             f"{len(self.tokens)} tokens), got {bad!r}")
        out = []
        for row in codes.astype(np.int64).reshape(len(codes), -1):
            toks = []
            for i in row.tolist():
                if i == self.end_id:
                    break
                if i not in (self.pad_id, self.start_id):
                    toks.append(self.tokens[i])
            out.append(sep.join(toks))
        return out


def teacher_forcing(targets: np.ndarray, start_id: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Split coded targets (end token included) into decoder inputs and outputs for teacher forcing.

    The decoder input at step t is the true token of step t-1 (the start token at t=0); the output to
    predict is the true token of step t.

    Raises:
        ValueError: if ``targets`` is not a 2-D array of codes with at least one column.

    Example:
        >>> teacher_forcing(np.array([[5, 6, 2]]))
        (array([[1, 5, 6]]), array([[5, 6, 2]]))
    """
    targets = np.asarray(targets)
    if targets.ndim != 2 or targets.shape[1] == 0:
        raise ValueError(f"targets must be a 2-D array (examples, steps) of codes, got shape {targets.shape}")
    inputs = np.concatenate([np.full((len(targets), 1), start_id, dtype=targets.dtype), targets[:, :-1]], axis=1)
    return inputs, targets


# --------------------------------------------------------------------------------------------- data
MAX_DIGITS = 18
"""The most digits :func:`addition_data` writes: its numbers are drawn as 64-bit integers."""
_ENUMERATED_PAIRS = 2_000_000
"""Up to this many unordered pairs, :func:`addition_data` shuffles them all; above, it draws pairs one by
one, and at most this many problems (more would take hours of rejection sampling and gigabytes)."""


def addition_data(digits: int = 2, *, n: int | None = None, seed: int = 0) -> tuple[list[str], list[str]]:
    """Addition problems as text, ``"535+61"`` -> ``"596"``, each unordered pair of numbers once.

    Both numbers are drawn from 0 .. 10**digits - 1. Every unordered pair {a, b} appears at most once
    (in one random order), so that slicing the lists gives disjoint train, validation and test sets:
    no test sum is a training sum with its terms swapped.

    Args:
        digits: the most digits of each number, 1 to :data:`MAX_DIGITS`.
        n: how many problems (default: all pairs, 5,050 for 2 digits); at most the number of
            pairs, and at most 2,000,000 when there are more pairs than that (4 digits and up).
        seed: the random order.

    Returns:
        ``(questions, answers)``: lists of strings.

    Raises:
        ValueError: for ``digits`` or ``n`` outside the ranges above (or no ``n`` for 4 digits and up).

    Example:
        >>> q, a = addition_data(1, n=3, seed=0)
        >>> all(eval(x) == int(y) for x, y in zip(q, a))
        True
    """
    digits = _check_int("digits", digits, 1)
    if digits > MAX_DIGITS:
        raise ValueError(f"digits must be between 1 and {MAX_DIGITS} (numbers are 64-bit integers), got {digits!r}")
    top = 10**digits
    n_pairs = top * (top + 1) // 2
    if n is None and n_pairs > _ENUMERATED_PAIRS:
        raise ValueError(f"give n: {digits} digits make {n_pairs} pairs, too many to generate them all")
    n = n_pairs if n is None else _check_int("n", n, 1)
    limit = min(n_pairs, _ENUMERATED_PAIRS)
    if n > limit:
        why = (f"the unordered pairs with {digits} digits" if limit == n_pairs
               else f"problems drawn one by one from {n_pairs} pairs")
        raise ValueError(f"n must be between 1 and {limit} ({why}), got {n}")
    rng = np.random.default_rng(seed)
    if n_pairs <= _ENUMERATED_PAIRS:
        a, b = np.triu_indices(top)
        pick = rng.permutation(n_pairs)[:n]
        a, b = a[pick], b[pick]
    else:  # sample without building every pair
        seen: set[tuple[int, int]] = set()
        while len(seen) < n:
            x, y = (int(v) for v in rng.integers(0, top, 2))
            seen.add((min(x, y), max(x, y)))
        a, b = (np.array(v) for v in zip(*sorted(seen)))
        order = rng.permutation(n)
        a, b = a[order], b[order]
    swap = rng.random(n) < 0.5
    left, right = np.where(swap, b, a), np.where(swap, a, b)
    return [f"{x}+{y}" for x, y in zip(left, right)], [str(x + y) for x, y in zip(left, right)]


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _date_formats() -> list[Callable[[_dt.date], str]]:
    def M(d: _dt.date) -> str:
        return MONTHS[d.month - 1]

    def W(d: _dt.date) -> str:
        return WEEKDAYS[d.weekday()]

    return [
        lambda d: f"{d.day} {M(d)} {d.year}",                        # 22 April 2019
        lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",           # 4/22/19
        lambda d: f"{M(d)} {d.day}, {d.year}",                       # April 22, 2019
        lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",             # 22.04.2019
        lambda d: f"{d.day} {M(d)[:3]} {d.year}",                    # 22 Apr 2019
        lambda d: f"{M(d)[:3].lower()} {d.day} {d.year}",            # apr 22 2019
        lambda d: f"{d.day:02d}-{M(d)[:3].upper()}-{d.year}",        # 22-APR-2019
        lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",             # 04/22/2019
        lambda d: f"{W(d)}, {M(d)} {d.day}, {d.year}",               # Monday, April 22, 2019
        lambda d: f"{W(d)[:3]} {d.day} {M(d)[:3]} {d.year}",         # Mon 22 Apr 2019
        lambda d: f"the {_ordinal(d.day)} of {M(d)} {d.year}",       # the 22nd of April 2019
        lambda d: f"{W(d)}, the {_ordinal(d.day)} of {M(d)}, {d.year}",  # Monday, the 22nd of April, 2019
        lambda d: f"{d.year} {M(d)} {d.day}",                        # 2019 April 22
        lambda d: f"{M(d).upper()} {_ordinal(d.day).upper()} {d.year}",  # APRIL 22ND 2019
        lambda d: f"{d.day}-{d.month}-{d.year}",                     # 22-4-2019
        lambda d: f"{W(d).lower()} {d.day} {M(d).lower()} {d.year}",  # monday 22 april 2019
    ]


N_DATE_FORMATS = len(_date_formats())
"""How many surface forms :func:`date_data` writes."""


def date_forms(date: _dt.date) -> list[str]:
    """One date written in every surface form :func:`date_data` uses, in the order of its form index.

    Example:
        >>> date_forms(_dt.date(2019, 4, 22))[:3]
        ['22 April 2019', '4/22/19', 'April 22, 2019']
    """
    if not isinstance(date, _dt.date):
        raise ValueError(f"give a datetime.date, e.g. datetime.date(2019, 4, 22), got {date!r}")
    return [write(date) for write in _date_formats()]


def date_data(n: int, *, seed: int = 0, first_year: int = 1950, last_year: int = 2049,
              ) -> tuple[list[str], list[str], np.ndarray]:
    """Dates written in many human surface forms, with their ISO form as the target.

    Days are drawn uniformly between 1 January ``first_year`` and 31 December ``last_year`` with
    the standard library's ``datetime``; each is written in one of :data:`N_DATE_FORMATS` forms
    ("22 April 2019", "4/22/19", "Monday, the 22nd of April, 2019", ...), drawn uniformly. With the
    default 100-year span a two-digit year is unambiguous.

    Args:
        n: how many examples.
        seed: the random stream.
        first_year, last_year: the span of years (at most 100 years apart, so "19" has one meaning).

    Returns:
        ``(inputs, targets, form)``: lists of strings and the index of each example's surface form.

    Example:
        >>> x, y, form = date_data(2, seed=1)
        >>> all(len(t) == 10 and t[4] == "-" for t in y)
        True
    """
    n = _check_int("n", n, 1)
    first_year, last_year = _check_int("first_year", first_year, 1), _check_int("last_year", last_year, 1)
    if not 1 <= first_year <= last_year < first_year + 100:
        raise ValueError(f"need 1 <= first_year <= last_year < first_year + 100, got {first_year}, {last_year}")
    rng = np.random.default_rng(seed)
    lo, hi = _dt.date(first_year, 1, 1).toordinal(), _dt.date(last_year, 12, 31).toordinal()
    days = rng.integers(lo, hi + 1, size=n)
    forms = rng.integers(0, N_DATE_FORMATS, size=n)
    writers = _date_formats()
    dates = [_dt.date.fromordinal(int(o)) for o in days]
    return [writers[f](d) for f, d in zip(forms, dates)], [d.isoformat() for d in dates], forms


def parse_two_digit_year(text: str, first_year: int = 1950) -> int:
    """The year a two-digit year means within the 100-year span starting at ``first_year``.

    Example:
        >>> parse_two_digit_year("19"), parse_two_digit_year("50")
        (2019, 1950)
    """
    first_year = _check_int("first_year", first_year, 1)
    yy = int(text)
    if not 0 <= yy <= 99:
        raise ValueError(f"a two-digit year must be 00-99, got {text!r}")
    return first_year + (yy - first_year) % 100


# ----------------------------------------------------------------------------------------- scoring
def exact_match(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """The share of predictions equal to their target, character for character.

    Example:
        >>> exact_match(["596", "12"], ["596", "13"])
        0.5
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
    if len(targets) == 0:
        raise ValueError("no targets to score")
    return float(np.mean([p == t for p, t in zip(predictions, targets)]))


def char_accuracy(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """The share of character positions written right, over all outputs.

    Each output is compared position by position with its target, over the longer of the two
    (a missing or extra character counts as wrong), and the positions are pooled over all outputs.
    This is the per-character score of training metrics such as Keras' token ``accuracy``, without
    the padding positions; unlike an edit distance, a single dropped character makes every later
    position wrong, which suits fixed-format outputs (dates, sums) and is said where it is used.

    Example:
        >>> char_accuracy(["596", "12"], ["596", "13"])   # 3 of 3 and 1 of 2 positions right
        0.8
        >>> char_accuracy(["59"], ["596"])                # the missing third position is wrong
        0.6666666666666666
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")
    if len(targets) == 0:
        raise ValueError("no targets to score")
    right = sum(sum(a == b for a, b in zip(p, t)) for p, t in zip(predictions, targets))
    positions = sum(max(len(p), len(t)) for p, t in zip(predictions, targets))
    if positions == 0:
        raise ValueError("every prediction and target is empty: no positions to score")
    return right / positions


# ---------------------------------------------------------------------------------------- decoding
def keras_step(model: Any, n_context: int = 0) -> StepFn:
    """Wrap a Keras one-step decoder model as a numpy step function for the decoding loops.

    The model must take ``[previous_tokens (batch, 1), *context, *states]`` and return
    ``[probabilities (batch, 1, vocab) or (batch, vocab), *new_states]``. ``context`` holds the first
    ``n_context`` entries of the state list (e.g. the encoder outputs attention reads); they are
    passed on unchanged. Works on every Keras backend (``predict_on_batch`` returns numpy).

    Example:
        >>> step = keras_step(decoder_step_model, n_context=1)  # doctest: +SKIP
        >>> seqs = greedy_decode(step, [encoder_outputs, h0], start_id=1, end_id=2, max_len=10)  # doctest: +SKIP
    """
    n_context = _check_int("n_context", n_context, 0)

    def step(tokens: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        outs = model.predict_on_batch([np.asarray(tokens).reshape(-1, 1), *state])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        probs = np.asarray(outs[0]).reshape(len(tokens), -1)
        return probs, list(state[:n_context]) + [np.asarray(s) for s in outs[1:]]

    return step


def greedy_decode(step: StepFn, state: list[np.ndarray], *, start_id: int, end_id: int, max_len: int) -> np.ndarray:
    """Decode a batch by feeding back the most probable token at every step.

    Args:
        step: ``step(tokens (batch,), state) -> (probabilities (batch, vocab), new_state)``.
        state: the decoder's initial state (arrays with the batch first), e.g. the encoder's last state.
        start_id, end_id: the start token fed first; the end token after which a row is finished.
        max_len: the most tokens to produce.

    Returns:
        An int array ``(batch, max_len)``; after a row's end token the rest is padding (0).

    Example:
        >>> def step(tokens, state):  # a toy decoder: always says token 5, then the end token
        ...     p = np.zeros((len(tokens), 6)); p[:, 5] = tokens != 5; p[:, 2] = tokens == 5
        ...     return p, state
        >>> greedy_decode(step, [np.zeros((2, 1))], start_id=1, end_id=2, max_len=4)
        array([[5, 2, 0, 0],
               [5, 2, 0, 0]])
    """
    max_len = _check_int("max_len", max_len, 1)
    _check_state(state)
    batch = len(state[0])
    tokens = np.full(batch, start_id, dtype="int64")
    out = np.zeros((batch, max_len), dtype="int64")
    done = np.zeros(batch, dtype=bool)
    for t in range(max_len):
        probs, state = step(tokens, state)
        tokens = np.asarray(probs).argmax(axis=-1).astype("int64")
        out[:, t] = np.where(done, 0, tokens)
        done |= tokens == end_id
        if done.all():
            break
    return out


def _check_state(state: Any) -> None:
    """Refuse a decoder state that is not a non-empty list of arrays with the batch first."""
    if isinstance(state, np.ndarray) or not isinstance(state, (list, tuple)) or not state or np.ndim(state[0]) < 1:
        raise ValueError("state must be a non-empty list of arrays with the batch along the first axis, "
                         f"e.g. [h0]; got {type(state).__name__}")


def beam_search_decode(step: StepFn, state: list[np.ndarray], *, start_id: int, end_id: int, max_len: int,
                       beam_width: int = 3, length_penalty: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Decode a batch keeping the ``beam_width`` most probable partial outputs of each input.

    At each step every live hypothesis is extended by every token; the ``beam_width`` best by total
    log-probability survive. A hypothesis that emits the end token is finished and keeps its score.
    ``beam_width=1`` is greedy decoding.

    Args:
        step, state, start_id, end_id, max_len: as in :func:`greedy_decode`.
        beam_width: hypotheses kept per input.
        length_penalty: ``alpha`` of the score ``log p / length**alpha`` used to rank finished outputs
            (0: plain log-probability).

    Returns:
        ``(sequences (batch, max_len), log_probs (batch,))`` of the best hypothesis per input.

    Example:
        >>> def step(tokens, state):  # the same toy decoder as in greedy_decode
        ...     p = np.full((len(tokens), 6), 1e-3); p[:, 5] += tokens != 5; p[:, 2] += tokens == 5
        ...     return p / p.sum(1, keepdims=True), state
        >>> seqs, logp = beam_search_decode(step, [np.zeros((2, 1))], start_id=1, end_id=2, max_len=4)
        >>> seqs
        array([[5, 2, 0, 0],
               [5, 2, 0, 0]])
    """
    k = _check_int("beam_width", beam_width, 1)
    max_len = _check_int("max_len", max_len, 1)
    if isinstance(length_penalty, (bool, np.bool_)) or not isinstance(length_penalty, numbers.Real) \
            or not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be a finite number, got {length_penalty!r}")
    _check_state(state)
    batch = len(state[0])
    state = [np.repeat(np.asarray(s), k, axis=0) for s in state]       # (batch * k, ...)
    tokens = np.full(batch * k, start_id, dtype="int64")
    seqs = np.zeros((batch, k, max_len), dtype="int64")
    scores = np.full((batch, k), -np.inf)
    scores[:, 0] = 0.0                                                  # one live hypothesis at first
    done = np.zeros((batch, k), dtype=bool)
    lengths = np.zeros((batch, k))
    for t in range(max_len):
        probs, new_state = step(tokens, state)
        logp = np.log(np.clip(np.asarray(probs, dtype="float64"), 1e-12, None)).reshape(batch, k, -1)
        vocab = logp.shape[-1]
        # a finished hypothesis can only "extend" with padding, at no cost
        ext = np.where(done[..., None], -np.inf, scores[..., None] + logp)
        ext[..., 0] = np.where(done, scores, -np.inf)
        flat = ext.reshape(batch, -1)
        best = np.argsort(-flat, axis=1, kind="stable")[:, :k]          # (batch, k)
        parent, token = best // vocab, best % vocab
        rows = np.arange(batch)[:, None]
        seqs = seqs[rows, parent]
        seqs[:, :, t] = token
        scores = flat[rows, best]
        lengths = lengths[rows, parent] + ~done[rows, parent]
        done = done[rows, parent] | (token == end_id) | (token == 0)
        gather = (rows * k + parent).reshape(-1)
        state = [np.asarray(s)[gather] for s in new_state]
        tokens = token.reshape(-1).astype("int64")
        if done.all():
            break
    ranked = scores / np.maximum(lengths, 1) ** length_penalty
    pick = np.argmax(ranked, axis=1)
    return seqs[np.arange(batch), pick], scores[np.arange(batch), pick]


# ------------------------------------------------------------------------------------------ scenes
FASHION_GROUPS = {"shoes": (5, 7, 9), "tops": (0, 2, 4, 6), "bags": (8,), "trousers": (1,), "dresses": (3,)}
"""Fashion-MNIST classes (0-9) counted by the "how many ...?" questions."""

POSITIONS = ["top left", "top right", "bottom left", "bottom right"]
QUESTION_TYPES = ("what", "count", "left_of")

_SHORT = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


@dataclass
class Scenes:
    """Generated image-question-answer triples (see :func:`make_scenes`)."""

    images: np.ndarray      # (n, 56, 56) uint8: a 2x2 grid of 28x28 items
    items: np.ndarray       # (n, 4) the classes at top-left, top-right, bottom-left, bottom-right
    questions: list[str]
    answers: list[str]
    qtype: np.ndarray       # index into QUESTION_TYPES

    def __len__(self) -> int:
        return len(self.questions)


def make_scenes(images: np.ndarray, labels: np.ndarray, n: int, *, seed: int = 0) -> Scenes:
    """Build ``n`` scenes: 2x2 grids of random items, each with one templated question and its answer.

    Three question types, drawn with equal probability:

    - ``what``: "what is in the top left ?" -> the item's name (one of 10, short names such as
      ``"boot"`` for *Ankle boot*);
    - ``count``: "how many shoes ?" (groups in :data:`FASHION_GROUPS`) -> "0" .. "4";
    - ``left_of``: "is there a bag left of a shirt ?" -> "yes" / "no", half of each: "left of"
      means in the left cell of the same row as the other item.

    Items are drawn only from ``images``/``labels``, so scenes made from a test split contain only
    test images.

    Args:
        images, labels: the item pool, e.g. Fashion-MNIST's images (n, 28, 28) and labels.
        n: how many scenes.
        seed: the random stream.

    Returns:
        A :class:`Scenes`; questions are lower-case words separated by spaces.

    Example:
        >>> imgs = np.zeros((20, 28, 28), "uint8"); labs = np.arange(20) % 10
        >>> s = make_scenes(imgs, labs, 3, seed=0)
        >>> s.images.shape, len(s.questions)
        ((3, 56, 56), 3)
    """
    n = _check_int("n", n, 1)
    images, labels = np.asarray(images), np.asarray(labels).astype(int)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(f"need images (n, 28, 28) and n labels, got {images.shape} and {labels.shape}")
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    if any(len(ix) == 0 for ix in by_class):
        raise ValueError("the item pool must contain every class 0-9")
    groups = list(FASHION_GROUPS)
    qtype = rng.integers(0, 3, size=n)
    items = rng.integers(0, 10, size=(n, 4))
    questions, answers = [], []
    for i in range(n):
        if qtype[i] == 0:
            pos = int(rng.integers(4))
            questions.append(f"what is in the {POSITIONS[pos]} ?")
            answers.append(_SHORT[items[i, pos]])
        elif qtype[i] == 1:
            group = groups[int(rng.integers(len(groups)))]
            questions.append(f"how many {group} ?")
            answers.append(str(int(np.isin(items[i], FASHION_GROUPS[group]).sum())))
        else:
            if rng.random() < 0.5:   # a true statement: read a pair off the scene
                row = int(rng.integers(2))
                a, b = items[i, 2 * row], items[i, 2 * row + 1]
            else:                    # a random pair, true only by chance
                a, b = rng.integers(0, 10, size=2)
            truth = any(items[i, 2 * r] == a and items[i, 2 * r + 1] == b for r in range(2))
            questions.append(f"is there a {_SHORT[a]} left of a {_SHORT[b]} ?")
            answers.append("yes" if truth else "no")
    picks = np.stack([rng.choice(by_class[c]) for c in items.reshape(-1)]).reshape(n, 4)
    tiles = images[picks]                                               # (n, 4, 28, 28)
    grid = np.concatenate([np.concatenate([tiles[:, 0], tiles[:, 1]], axis=2),
                           np.concatenate([tiles[:, 2], tiles[:, 3]], axis=2)], axis=1)
    return Scenes(grid, items, questions, answers, qtype)
