"""Text to numbers without TensorFlow: cleaning, tokens, a vocabulary, padded id arrays, PPMI vectors.

Keras 3's ``TextVectorization`` layer is built on TensorFlow string ops, so it cannot run inside a
JAX or PyTorch model; Keras 2's ``Tokenizer`` and ``pad_sequences`` module are gone. This module is
the small, backend-free replacement used by the text notebook (plain Python and NumPy):

* :func:`clean_text` and :func:`tokenize` turn a raw review into lower-case word tokens;
* :class:`Vocabulary` / :func:`build_vocabulary` map tokens to integer ids (0 = padding,
  1 = out-of-vocabulary) and save themselves as JSON next to a model;
* :func:`texts_to_ids` pads or truncates every text to one length (``mask_zero=True`` in an
  ``Embedding`` layer then hides the padding from the model);
* :class:`SparseBatches` feeds a SciPy sparse bag-of-words matrix to ``model.fit`` in dense batches;
* :func:`cooccurrence_matrix`, :func:`ppmi` and :func:`nearest_neighbours` build and query
  count-based word vectors.

Introduced in ``04_text_sentiment.ipynb``.
"""

from __future__ import annotations

import functools
import html
import json
import math
import numbers
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import scipy.sparse as sp

from dmlib.validate import check_int as _check_int

PAD_ID = 0
OOV_ID = 1
PAD_TOKEN = "[PAD]"
OOV_TOKEN = "[UNK]"

# The elements of HTML (living standard, plus a few obsolete ones still found in web text). Only a
# ``<`` followed directly by one of these names (or ``/`` and one) starts a tag, so "3 < 5 and the
# acting > the script" and a reviewer's "<grin>" stay text while ``<br />``, ``<i>``, ``</p>`` go.
_HTML_ELEMENTS = (
    "a abbr acronym address area article aside audio b base basefont bdi bdo big blink blockquote body br button "
    "canvas caption center cite code col colgroup data datalist dd del details dfn dialog dir div dl dt em embed "
    "fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i "
    "iframe img input ins kbd label legend li link main map mark marquee menu meta meter nav nobr noframes "
    "noscript object ol optgroup option output p param picture pre progress q rp rt ruby s samp script search "
    "section select small source span strike strong style sub summary sup table tbody td template textarea tfoot "
    "th thead time title tr track tt u ul var video wbr"
).split()
# A tag is ``<``, an optional ``/``, a whole word that is an element name (checked in _replace_tag, so
# the pattern needs no 120-way alternation at every ``<``), at most 500 characters other than ``<>``,
# and ``>``; or a comment ``<!-- ... -->``; or a declaration such as ``<!DOCTYPE html>``. Case-folding
# follows Python's re.IGNORECASE (``<ſtrong>`` counts as ``<strong>``), as it always has here.
_ELEMENT_NAME = re.compile("|".join(sorted(_HTML_ELEMENTS, key=len, reverse=True)), re.IGNORECASE)
_TAG = r"/?(\w+)(?![\w-])[^<>]{0,500}"
_DECLARATION = r"![A-Za-z][^<>]{0,200}"
_TAGS = re.compile(rf"<(?:{_TAG}|!--.*?--|{_DECLARATION})>", re.IGNORECASE | re.DOTALL)
_TAGS_NO_COMMENT = re.compile(rf"<(?:{_TAG}|{_DECLARATION})>", re.IGNORECASE | re.DOTALL)
# A decimal character reference whose digits int() would refuse (more than 4300, Python's limit):
# html.unescape raises ValueError on it. See _shorten_decimal_reference.
_LONG_DECIMAL_REFERENCE = re.compile(r"&#([0-9]{8,})(;?)")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")  # _token_pattern() restricted to lower-case ASCII
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})  # typographic and modifier-letter apostrophes


@functools.cache
def _token_pattern() -> re.Pattern[str]:
    r"""Words of any script: letters and digits (``[^\W_]``) with their combining marks, and an
    optional apostrophe suffix of letters (``don't``, ``it's``, ``90's``).

    Python's ``\w`` leaves out combining marks (Unicode categories Mn, Mc, Me), which Devanagari,
    Thai or Arabic write inside words; they are collected once, on first use (they occur only in
    planes 0-1 and the variation selectors of plane 14).
    """
    marks = [cp for block in (range(0x20000), range(0xE0100, 0xE01F0)) for cp in block
             if unicodedata.category(chr(cp)).startswith("M")]
    ranges, first, prev = [], marks[0], marks[0]
    for cp in marks[1:] + [-1]:
        if cp != prev + 1:
            ranges.append(f"\\U{first:08x}" + (f"-\\U{prev:08x}" if prev > first else ""))
            first = cp
        prev = cp
    mark = "[" + "".join(ranges) + "]"
    # Runs of letters/digits with marks in between (marks and [^\W_] are disjoint: no backtracking).
    word = rf"[^\W_]+(?:{mark}+[^\W_]*)*"
    suffix = rf"(?:'[^\W\d_]+(?:{mark}+[^\W\d_]*)*)?"
    return re.compile(word + suffix)


class VocabularyError(ValueError):
    """A vocabulary that cannot be built, read or used (e.g. a malformed JSON file, a bad size)."""


def _check_ids(ids: Iterable[Any], size: int) -> list[int]:
    """``ids`` as a list of ints, refusing anything that is not a whole number in ``[0, size - 1]``.

    A negative id would silently index from the end of the token list, a fractional one be
    truncated: both are bugs in the caller, so they are named here instead.
    """
    values = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
    if values.size == 0:
        return []
    if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
        bad = next((v for v in values.ravel().tolist()
                    if isinstance(v, bool) or not isinstance(v, numbers.Real)), values.ravel()[0].item())
    else:
        wrong = (values != np.round(values)) | (values < 0) | (values >= size) | ~np.isfinite(values)
        bad = values.ravel()[int(np.argmax(wrong.ravel()))].item() if wrong.any() else None
    if bad is not None:
        raise ValueError(f"ids must be whole numbers in [0, {size - 1}] (this vocabulary has {size} tokens), "
                         f"got {bad!r}")
    return [int(i) for i in values.ravel()]


def _check_text(value: Any, where: str) -> str:
    """``value`` if it is a ``str``, else a TypeError that says what to pass instead."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{where} must be a str, got bytes; decode it first, e.g. value.decode('utf-8')")
    raise TypeError(f"{where} must be a str, got {type(value).__name__}"
                    + (" (a missing text? drop it or use '')" if value is None else ""))


def _check_corpus(texts: Any, name: str) -> None:
    """Refuse a single text (or None, or bytes) where a collection of texts is expected."""
    if isinstance(texts, (str, bytes, bytearray)):
        raise TypeError(f"{name} must be a list of texts (or of token lists), got a single "
                        f"{type(texts).__name__}; wrap it in a list: [text]")
    if texts is None or not isinstance(texts, Iterable):
        raise TypeError(f"{name} must be a list of texts (or of token lists), got {type(texts).__name__}")


def _tokens_of(item: Any, index: int, name: str) -> list[str] | Sequence[str]:
    """The tokens of one corpus item: a raw text (tokenised) or a list of str tokens."""
    if isinstance(item, str):
        return tokenize(item)
    if isinstance(item, (list, tuple, np.ndarray)) and set(map(type, item)) <= {str, np.str_}:
        return item
    if isinstance(item, (list, tuple, np.ndarray)):
        bad = next(t for t in item if not isinstance(t, str))
        raise TypeError(f"{name}[{index}] is a token list holding a {type(bad).__name__} ({bad!r}); tokens are str")
    _check_text(item, f"{name}[{index}]")
    raise AssertionError  # unreachable: _check_text raised


def clean_text(text: str) -> str:
    """Lower-case a raw review, replace HTML tags (IMDB's ``<br />``) by spaces and decode entities.

    Only real tags go: a ``<`` directly followed by an HTML element name (``<br />``, ``<i>``,
    ``</p>``, ``<a href=...>``) or a comment. Comparisons and emoticons (``3 < 5``, ``<3``) stay.

    Runs in time linear in the length of the text, whatever it holds (a review is untrusted input).

    Raises:
        TypeError: if ``text`` is not a ``str`` (bytes: decode them first).

    Example:
        >>> clean_text("Great film!<br /><br />I LOVED it &amp; 3 < 5.")
        'great film!  i loved it & 3 < 5.'
    """
    text = _strip_tags(_check_text(text, "text"))
    if "&#" in text:
        text = _LONG_DECIMAL_REFERENCE.sub(_shorten_decimal_reference, text)
    return html.unescape(text).lower()


def _replace_tag(match: re.Match[str]) -> str:
    """A space for a tag of a real HTML element, a comment or a declaration; other ``<word ...>`` stay.

    The match of a non-element (``<grin>``) holds no other ``<``, so keeping it skips no tag.
    """
    name = match.group(1)
    return match.group(0) if name is not None and _ELEMENT_NAME.fullmatch(name) is None else " "


def _strip_tags(text: str) -> str:
    """Replace HTML tags, comments and declarations by spaces, in linear time.

    A comment runs from ``<!--`` to the first ``-->`` after it. Searching for that closer from every
    ``<!--`` is quadratic when none follows (``"<!--" * N``: 1 MB took more than 10 minutes), so
    the text is cut after its last ``-->``: before the cut every opener finds a closer (or is one of
    the last few characters), after it no comment can end, and the pattern without the comment
    alternative is used. No match crosses the cut (every match ends at its first ``>``, and the cut
    follows a ``>``), so the result is what one pass of the full pattern gives. The standard
    library's ``html.parser`` would be linear too, but to it every ``<word ...>`` is a tag, so a
    reviewer's ``<grin>`` would go: the tokens of real reviews would change.
    """
    last_closer = text.rfind("-->")
    if last_closer < 0:
        return _TAGS_NO_COMMENT.sub(_replace_tag, text)
    cut = last_closer + 3
    return _TAGS.sub(_replace_tag, text[:cut]) + _TAGS_NO_COMMENT.sub(_replace_tag, text[cut:])


def _shorten_decimal_reference(match: re.Match[str]) -> str:
    """A decimal character reference rewritten so that ``html.unescape`` decodes it as before, without
    reading a number of thousands of digits (``int`` refuses more than 4300: ``ValueError``).

    Leading zeros go; a number of more than 7 digits is above U+10FFFF, which ``html.unescape``
    decodes as U+FFFD (its ``;`` included), so that character is returned directly.
    """
    digits = match.group(1).lstrip("0")
    if len(digits) > 7:
        return "\ufffd"
    return "&#" + (digits or "0") + match.group(2)


def tokenize(text: str) -> list[str]:
    """Split a text into lower-case word tokens: letters and digits of any script, with an optional
    apostrophe suffix (``'s``, ``n't``).

    Punctuation is dropped; contractions stay one token (``don't``, also written ``don’t``), so
    negations survive. Accented and non-Latin words are kept whole (``café``, ``русский``); text is
    NFC-normalised first, so an accent typed as a separate combining character changes nothing.

    Raises:
        TypeError: if ``text`` is not a ``str``.

    Example:
        >>> tokenize("It's not bad<br />-- 10/10, don't miss it!")
        ["it's", 'not', 'bad', '10', '10', "don't", 'miss', 'it']
        >>> tokenize("Café naïve résumé")
        ['café', 'naïve', 'résumé']
    """
    cleaned = clean_text(text)
    if cleaned.isascii():  # most reviews: the same tokens as the Unicode pattern, three times faster
        return _ASCII_TOKEN.findall(cleaned)
    cleaned = unicodedata.normalize("NFC", cleaned).translate(_APOSTROPHES)
    return _token_pattern().findall(cleaned)


@dataclass
class Vocabulary:
    """A token <-> id mapping with id 0 for padding and id 1 for out-of-vocabulary tokens.

    Attributes:
        tokens: the tokens in id order; ``tokens[0] == "[PAD]"`` and ``tokens[1] == "[UNK]"``.
        counts: training-set frequency of each token (0 for the two special tokens).

    Example:
        >>> vocab = build_vocabulary(["a good film", "a bad film"], max_tokens=5)
        >>> vocab.tokens
        ['[PAD]', '[UNK]', 'a', 'film', 'bad']
        >>> vocab.encode(["a", "great", "film"])
        [2, 1, 3]
    """

    tokens: list[str]
    counts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.tokens) < 2 or self.tokens[PAD_ID] != PAD_TOKEN or self.tokens[OOV_ID] != OOV_TOKEN:
            raise VocabularyError(f"a vocabulary starts with {PAD_TOKEN!r} and {OOV_TOKEN!r}; got {self.tokens[:2]}")
        if len(set(self.tokens)) != len(self.tokens):
            raise VocabularyError("a vocabulary's tokens must be unique")
        if not self.counts:
            self.counts = [0] * len(self.tokens)
        if len(self.counts) != len(self.tokens):
            raise VocabularyError(f"{len(self.counts)} counts for {len(self.tokens)} tokens")
        self.index: dict[str, int] = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.index

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of tokens; unknown tokens get :data:`OOV_ID`.

        Raises:
            TypeError: for a single string (it would be encoded letter by letter): pass
                ``tokenize(text)``.
        """
        if isinstance(tokens, (str, bytes, bytearray)) or tokens is None:
            raise TypeError(f"encode takes a list of tokens, got {type(tokens).__name__}; "
                            "for a raw text use vocab.encode(tokenize(text))")
        get = self.index.get
        return [get(t, OOV_ID) for t in tokens]

    def decode(self, ids: Iterable[int], *, skip_padding: bool = True) -> str:
        """The tokens of ids joined by spaces (padding left out by default).

        Raises:
            ValueError: for an id that is not a whole number in ``[0, len(self) - 1]`` (a negative
                id would otherwise name a token counted from the end).

        Example:
            >>> build_vocabulary(["a good film"]).decode([2, 1, 0, 0])
            'a [UNK]'
        """
        return " ".join(self.tokens[i] for i in _check_ids(ids, len(self.tokens))
                        if not (skip_padding and i == PAD_ID))

    def coverage(self, texts: Iterable[str] | Iterable[Sequence[str]], size: int | None = None) -> float:
        """The share of the token occurrences of ``texts`` that a vocabulary of ``size`` ids knows.

        A token counts as covered when its id is a word id below ``size``: ``2 <= id < size``, i.e.
        it is one of the ``size - 2`` most frequent words of this vocabulary. ``size`` counts the
        padding and out-of-vocabulary ids, as ``max_tokens`` of :func:`build_vocabulary` does, so
        ``vocab.coverage(texts, n)`` equals ``build_vocabulary(same_corpus, max_tokens=n).coverage(texts)``.
        Tokens outside the vocabulary (id :data:`OOV_ID`), and the literal tokens ``[PAD]`` and
        ``[UNK]``, are never covered. Every occurrence counts (a word seen twice counts twice).

        Args:
            texts: raw strings (tokenised with :func:`tokenize`) or token lists, e.g. the test texts.
            size: ids kept, padding and OOV included (an integer from 2 to ``len(self)``); None: all.

        Returns:
            Covered occurrences / all occurrences, a float in ``[0, 1]``.

        Raises:
            VocabularyError: if ``size`` is not an integer in ``[2, len(self)]`` (build a larger
                vocabulary to ask about a larger size), or ``texts`` hold no token at all.
            TypeError: if ``texts`` is a single string, or holds something other than texts and
                token lists.

        Example:
            >>> vocab = build_vocabulary(["a a a b b c"])
            >>> vocab.coverage(["a b c new new"]), vocab.coverage(["a b c new new"], size=3)
            (0.6, 0.2)
        """
        size = len(self) if size is None else _check_int("size", size, 2, VocabularyError)
        if size > len(self):
            raise VocabularyError(f"size {size} is larger than this vocabulary ({len(self)} ids); build it with "
                                  f"max_tokens={size} or more to ask about {size} ids")
        _check_corpus(texts, "texts")
        ids = np.array([i for n, t in enumerate(texts) for i in self.encode(_tokens_of(t, n, "texts"))], dtype=np.int64)
        if ids.size == 0:
            raise VocabularyError("texts hold no token, so there is nothing to cover; pass texts with words")
        return float(np.mean((ids > OOV_ID) & (ids < size)))

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary as JSON (``{"tokens": [...], "counts": [...]}``); returns the path."""
        p = Path(path)
        p.write_text(json.dumps({"format": "dmlib.text.Vocabulary/1", "tokens": self.tokens,
                                 "counts": self.counts}), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> "Vocabulary":
        """Read a vocabulary written by :meth:`save`.

        Raises:
            VocabularyError: if the file is not such a JSON file.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(list(data["tokens"]), list(data.get("counts", [])))
        except (OSError, ValueError, KeyError, TypeError) as err:
            if isinstance(err, VocabularyError):
                raise
            raise VocabularyError(f"{path} is not a vocabulary written by Vocabulary.save ({err})") from None


def build_vocabulary(
    texts: Iterable[str] | Iterable[Sequence[str]],
    max_tokens: int | None = None,
    *,
    min_count: int = 1,
) -> Vocabulary:
    """The most frequent tokens of a corpus, as a :class:`Vocabulary` of at most ``max_tokens`` ids.

    Build it on the training texts only: test words then count as out-of-vocabulary, as they
    would for new texts.

    Args:
        texts: raw strings (tokenised with :func:`tokenize`) or already tokenised lists.
        max_tokens: size of the vocabulary including the padding and OOV ids (None: every token).
        min_count: leave out tokens seen fewer times.

    Returns:
        The vocabulary, tokens by decreasing frequency (ties broken alphabetically).

    Raises:
        VocabularyError: if ``max_tokens`` is not an integer >= 2 (room for padding and OOV), or
            ``min_count`` not an integer >= 1.
        TypeError: if ``texts`` is a single string, None or bytes, or holds something other than
            texts and token lists.

    Example:
        >>> build_vocabulary(["the cat", "the dog", "the cat"], max_tokens=4).tokens
        ['[PAD]', '[UNK]', 'the', 'cat']
    """
    if max_tokens is not None:
        max_tokens = _check_int("max_tokens (room for padding and OOV included)", max_tokens, 2, VocabularyError)
    min_count = _check_int("min_count", min_count, 1, VocabularyError)
    _check_corpus(texts, "texts")
    counter: Counter[str] = Counter()
    for i, text in enumerate(texts):
        counter.update(_tokens_of(text, i, "texts"))
    ranked = sorted((item for item in counter.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
    if max_tokens is not None:
        ranked = ranked[: max_tokens - 2]
    return Vocabulary([PAD_TOKEN, OOV_TOKEN] + [t for t, _ in ranked], [0, 0] + [c for _, c in ranked])


def texts_to_ids(
    texts: Iterable[str] | Iterable[Sequence[str]],
    vocab: Vocabulary,
    maxlen: int,
    *,
    padding: str = "post",
    truncating: str = "post",
    drop_oov: bool = False,
    dtype: str = "int32",
) -> np.ndarray:
    """Encode texts as one ``(n, maxlen)`` id array, padded with 0 and truncated to ``maxlen`` tokens.

    Args:
        texts: raw strings or token lists.
        vocab: the vocabulary (unknown tokens become :data:`OOV_ID`).
        maxlen: tokens kept per text.
        padding: ``"post"`` (zeros after the text; the natural choice with masking) or ``"pre"``
            (zeros before it, Keras 2's ``pad_sequences`` default).
        truncating: ``"post"`` keeps the first ``maxlen`` tokens, ``"pre"`` the last ones
            (``pad_sequences``' default).
        drop_oov: leave unknown tokens out instead of encoding them as :data:`OOV_ID` (what
            Keras 2's ``Tokenizer(num_words=...)`` did when it had no ``oov_token``).
        dtype: integer dtype of the result, large enough for the largest id (``int8`` cannot hold a
            vocabulary of more than 128 tokens).

    Returns:
        The id array.

    Raises:
        ValueError: for an unknown ``padding``/``truncating``, ``maxlen`` not an integer >= 1, or a
            ``dtype`` that is not an integer type able to hold every id of ``vocab``.
        TypeError: if ``texts`` is a single string, None or bytes, or holds something other than
            texts and token lists.

    Example:
        >>> vocab = build_vocabulary(["a good film", "a bad film"])
        >>> texts_to_ids(["a good film indeed", "bad"], vocab, maxlen=3)
        array([[2, 5, 3],
               [4, 0, 0]], dtype=int32)
        >>> texts_to_ids(["a good film indeed"], vocab, maxlen=3, padding="pre", truncating="pre")
        array([[5, 3, 1]], dtype=int32)
        >>> texts_to_ids(["a good film indeed"], vocab, maxlen=4, drop_oov=True)
        array([[2, 5, 3, 0]], dtype=int32)
    """
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError(f"padding and truncating are 'pre' or 'post', got {padding!r}, {truncating!r}")
    maxlen = _check_int("maxlen", maxlen, 1)
    _check_id_dtype(dtype, len(vocab))
    _check_corpus(texts, "texts")
    rows = [vocab.encode(_tokens_of(t, i, "texts")) for i, t in enumerate(texts)]
    if drop_oov:
        rows = [[i for i in ids if i != OOV_ID] for ids in rows]
    out = np.zeros((len(rows), maxlen), dtype=dtype)
    for i, ids in enumerate(rows):
        ids = ids[:maxlen] if truncating == "post" else ids[-maxlen:]
        if ids:
            if padding == "post":
                out[i, : len(ids)] = ids
            else:
                out[i, maxlen - len(ids):] = ids
    return out


def _check_id_dtype(dtype: Any, size: int) -> None:
    """Refuse a dtype that is not an integer type or cannot hold the ids ``0 .. size - 1``."""
    try:
        target = np.dtype(dtype)
    except TypeError:
        target = np.dtype(object)
    if not np.issubdtype(target, np.integer):
        raise ValueError(f"dtype must be an integer dtype (ids are integers), got {dtype!r}")
    if np.iinfo(target).max < size - 1:
        raise ValueError(f"dtype {target.name} cannot hold ids up to {size - 1} (the vocabulary has {size} "
                         f"tokens; the largest {target.name} is {np.iinfo(target).max}); use int32")


class SparseBatches(keras.utils.PyDataset):
    """Dense ``float32`` batches of a SciPy sparse matrix (a bag of words) for ``fit``/``predict``.

    A 25,000 x 20,000 bag of words is 2 GB as dense float32 but a few MB sparse; this keeps it
    sparse and densifies one batch at a time, on any Keras backend.

    Args:
        x: sparse (or dense) matrix, one row per example.
        y: targets, or None to yield inputs only (for ``predict``).
        batch_size: rows per batch (an integer >= 1).
        shuffle: reshuffle the rows at every epoch.
        seed: seed of the shuffling.
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` of ``PyDataset``.

    Example:
        >>> ds = SparseBatches(sp.random(100, 50, density=0.1, format="csr"), np.zeros(100), batch_size=32)
        >>> len(ds), ds[0][0].shape, ds[0][0].dtype
        (4, (32, 50), dtype('float32'))
    """

    def __init__(self, x: Any, y: Any = None, *, batch_size: int = 128, shuffle: bool = False,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.x = sp.csr_matrix(x) if not sp.issparse(x) else x.tocsr()
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != self.x.shape[0]:
            raise ValueError(f"x has {self.x.shape[0]} rows but y has {len(self.y)}")
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self.order = np.arange(self.x.shape[0])
        if shuffle:
            self._rng.shuffle(self.order)

    def __len__(self) -> int:
        return math.ceil(self.x.shape[0] / self.batch_size)

    def __getitem__(self, index: int) -> Any:
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        xb = self.x[rows].toarray().astype("float32", copy=False)
        return xb if self.y is None else (xb, self.y[rows])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._rng.shuffle(self.order)


def cooccurrence_matrix(ids: Sequence[np.ndarray] | np.ndarray, vocab_size: int, window: int = 4) -> sp.csr_matrix:
    """Symmetric word-word co-occurrence counts within ``window`` tokens, from id sequences.

    ``C[a, b]`` counts how often id ``b`` occurs at most ``window`` positions before or after id
    ``a`` in the same sequence. Ids 0 (padding) and 1 (out of vocabulary) are not counted.

    Args:
        ids: one int array per document (or a 2-D padded array).
        vocab_size: number of ids (the matrix is ``vocab_size x vocab_size``).
        window: the largest distance counted.

    Returns:
        The counts as a ``float64`` CSR matrix.

    Example:
        >>> C = cooccurrence_matrix([np.array([2, 3, 2])], vocab_size=4, window=1)
        >>> C.toarray()
        array([[0., 0., 0., 0.],
               [0., 0., 0., 0.],
               [0., 0., 0., 2.],
               [0., 0., 2., 0.]])
    """
    window = _check_int("window", window, 1)
    vocab_size = _check_int("vocab_size", vocab_size, 1)
    seqs = [np.asarray(s, dtype=np.int64) for s in ids]
    # One long stream with `window` separators between documents, so no pair crosses a border.
    gap = np.full(window, -1, dtype=np.int64)
    stream = np.concatenate([part for s in seqs for part in (s, gap)]) if seqs else np.zeros(0, np.int64)
    stream[(stream == PAD_ID) | (stream == OOV_ID) | (stream >= vocab_size)] = -1
    rows, cols = [], []
    for k in range(1, window + 1):
        a, b = stream[:-k], stream[k:]
        keep = (a >= 0) & (b >= 0)
        rows.append(a[keep])
        cols.append(b[keep])
    r, c = np.concatenate(rows), np.concatenate(cols)
    data = np.ones(2 * len(r))
    counts = sp.coo_matrix((data, (np.concatenate([r, c]), np.concatenate([c, r]))), shape=(vocab_size, vocab_size))
    return counts.tocsr()


def ppmi(counts: Any, *, alpha: float = 0.75) -> sp.csr_matrix:
    """Positive pointwise mutual information of a co-occurrence matrix.

    $\\mathrm{PPMI}(w, c) = \\max\\big(0, \\log \\frac{P(w, c)}{P(w)\\,P_\\alpha(c)}\\big)$, with the
    context distribution smoothed, $P_\\alpha(c) \\propto \\#(c)^\\alpha$ (Levy et al. 2015), which
    tempers PMI's bias towards rare contexts. ``alpha=1`` gives plain PPMI.

    Args:
        counts: (words x contexts) co-occurrence counts, sparse or dense: finite and >= 0.
        alpha: context smoothing exponent, a finite number >= 0.

    Returns:
        The PPMI matrix, sparse (only the positive entries are stored).

    Raises:
        ValueError: for NaN, infinite or negative counts, an empty matrix or a bad ``alpha``.

    Example:
        >>> ppmi(np.array([[0, 2], [2, 0]]), alpha=1.0).toarray().round(3)
        array([[0.   , 0.693],
               [0.693, 0.   ]])
    """
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real) or not 0 <= alpha < math.inf:
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    c = sp.csr_matrix(counts, dtype=np.float64)
    if not np.isfinite(c.data).all():
        raise ValueError("counts hold NaN or infinite values; co-occurrence counts are finite")
    if (c.data < 0).any():
        raise ValueError("counts hold negative values; co-occurrence counts are >= 0")
    total = c.sum()
    if total <= 0:
        raise ValueError("the co-occurrence matrix is empty")
    row = np.asarray(c.sum(axis=1)).ravel()
    col = np.asarray(c.sum(axis=0)).ravel() ** alpha
    col_p = col / col.sum()
    row_p = row / total
    coo = c.tocoo()
    pmi = np.log((coo.data / total) / (row_p[coo.row] * col_p[coo.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=c.shape)


def nearest_neighbours(vectors: np.ndarray, vocab: Vocabulary, word: str, k: int = 8) -> list[tuple[str, float]]:
    """The ``k`` tokens whose vectors have the highest cosine similarity with ``word``'s vector.

    Args:
        vectors: (vocabulary size, dimensions) finite array, row ``i`` the vector of id ``i``.
        vocab: the vocabulary the rows follow.
        word: the probe word.
        k: how many neighbours (an integer >= 1).

    Returns:
        ``[(token, cosine), ...]``, most similar first, the word itself and the special ids left out.

    Raises:
        KeyError: if ``word`` is not in the vocabulary.
        ValueError: for a bad ``k``, or ``vectors`` that are not one finite row per token.

    Example:
        >>> vocab = Vocabulary(["[PAD]", "[UNK]", "good", "great", "bad"])
        >>> vecs = np.array([[0, 0], [0, 0], [1, 0.1], [1, 0.2], [-1, 0]])
        >>> [w for w, _ in nearest_neighbours(vecs, vocab, "good", k=2)]
        ['great', 'bad']
    """
    k = _check_int("k", k, 1)
    if word not in vocab:
        raise KeyError(f"{word!r} is not in the vocabulary of {len(vocab)} tokens")
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or len(v) != len(vocab):
        raise ValueError(f"vectors must have one row per token, shape ({len(vocab)}, dimensions), got {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("vectors hold NaN or infinite values")
    norms = np.linalg.norm(v, axis=1)
    norms[norms == 0] = 1.0
    sims = (v @ v[vocab.index[word]]) / (norms * norms[vocab.index[word]])
    sims[[PAD_ID, OOV_ID, vocab.index[word]]] = -np.inf
    best = np.argsort(-sims)[:k]
    return [(vocab.tokens[i], float(sims[i])) for i in best]
