"""A text classifier that travels with its vectoriser: save, load and apply it to raw strings.

A Keras model is useless without the exact vectorising step it was trained with. Two kinds are
supported: word ids (a :class:`dmlib.text.Vocabulary` plus padding settings, for sequence models)
and a bag of n-grams (:class:`BagOfNgrams`: the feature list, binary or TF-IDF weights, for the
bag-of-words models; it reproduces scikit-learn's ``CountVectorizer``/``TfidfTransformer`` output).
:func:`save_text_classifier` writes the model (native ``.keras`` format) and its vectoriser (JSON)
into one folder, and :func:`load_text_classifier` returns a :class:`TextClassifier` whose
:meth:`~TextClassifier.predict` takes raw strings. :func:`quiet_bool_transpose_notice` keeps one line of TensorFlow's C++
start-up chatter out of notebook outputs.

Introduced in ``04_text_sentiment.ipynb`` (section 7). The model it chooses belongs in
:func:`default_model_folder` (``models/04_sentiment/<profile>/`` in the checkout, ignored by git),
where it outlives the kernel: :func:`predict_sentiment` and ``python -m dmlib sentiment "text"``
score new reviews with it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from dmlib import text
from dmlib.config import normalize_profile, profile as active_profile

MODEL_FILE = "model.keras"
VOCABULARY_FILE = "vocabulary.json"
PREPROCESSING_FILE = "preprocessing.json"

_FORMAT = "dmlib.sentiment/1"
_BOOL_NOTICE = re.compile(r"oneDNN supports DT_BOOL only on platforms with AVX-512")


class TextClassifierError(ValueError):
    """A folder that does not hold a classifier written by :func:`save_text_classifier`, or bad settings."""


def ngrams(tokens: Sequence[str], n_max: int = 2) -> list[str]:
    """The tokens followed by every run of 2..``n_max`` neighbouring tokens joined by a space.

    Raises:
        ValueError: if ``n_max`` is not an integer >= 1.

    Example:
        >>> ngrams(["not", "bad", "at", "all"])
        ['not', 'bad', 'at', 'all', 'not bad', 'bad at', 'at all']
    """
    n_max = text._check_int("n_max", n_max, 1)
    out = list(tokens)
    for n in range(2, n_max + 1):
        out += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return out


@dataclass
class BagOfNgrams:
    """A fixed bag-of-n-grams vectoriser: binary indicators or TF-IDF weights of known features.

    ``weighting="binary"``: 1 if the feature occurs. ``"tfidf"``: ``(1 + ln count) * idf`` per
    feature, each row scaled to unit length (scikit-learn's ``TfidfTransformer(sublinear_tf=True)``).
    A text none of whose n-grams is a feature gets a row of zeros; :meth:`unknown_counts` tells how
    many tokens of each text the vectoriser does not know.

    Example:
        >>> bag = BagOfNgrams(["good", "bad", "not bad"], n_max=2)
        >>> bag.transform([["not", "bad"]]).toarray()
        array([[0., 1., 1.]], dtype=float32)
    """

    features: list[str]
    n_max: int = 2
    weighting: str = "binary"
    idf: list[float] | None = None

    def __post_init__(self) -> None:
        if self.weighting not in ("binary", "tfidf"):
            raise TextClassifierError(f"weighting is 'binary' or 'tfidf', got {self.weighting!r}")
        if self.weighting == "tfidf" and (self.idf is None or len(self.idf) != len(self.features)):
            raise TextClassifierError("tfidf weighting needs one idf value per feature")
        if self.weighting == "tfidf" and not np.isfinite(np.asarray(self.idf, dtype=np.float64)).all():
            raise TextClassifierError("the idf values must be finite numbers")
        self.n_max = text._check_int("n_max", self.n_max, 1, TextClassifierError)
        if len(set(self.features)) != len(self.features):
            raise TextClassifierError("the features must be unique")
        self.index = {f: i for i, f in enumerate(self.features)}

    @staticmethod
    def _token_lists(token_lists: Iterable[Sequence[str]]) -> list[Sequence[str]]:
        """The token lists as a list, refusing raw strings (a string is never a list of tokens: it
        would be read letter by letter and match no feature)."""
        if isinstance(token_lists, (str, bytes, bytearray)):
            raise TypeError("give a list of token lists, e.g. [dmlib.text.tokenize(s) for s in texts], not a string")
        out = list(token_lists)
        for i, tokens in enumerate(out):
            if isinstance(tokens, (str, bytes, bytearray)):
                raise TypeError(f"give token lists (e.g. [dmlib.text.tokenize(s) for s in texts]), not raw strings: "
                                f"item {i} is {tokens!r}")
        return out

    def unknown_counts(self, token_lists: Iterable[Sequence[str]]) -> np.ndarray:
        """How many tokens of each text are not features (out of vocabulary), as an int64 array.

        A text whose every token is unknown gets a row of zeros from :meth:`transform`, which a
        model cannot tell from an empty text.

        Example:
            >>> BagOfNgrams(["good", "bad"], n_max=1).unknown_counts([["so", "good"], ["meh"]])
            array([1, 1])
        """
        return np.array([sum(t not in self.index for t in tokens) for tokens in self._token_lists(token_lists)],
                        dtype=np.int64)

    @classmethod
    def from_sklearn(cls, vectorizer: Any, *, n_max: int, tfidf: Any = None) -> "BagOfNgrams":
        """Copy a fitted ``CountVectorizer`` (whose analyzer produced n-grams up to ``n_max``) and optional ``TfidfTransformer``."""
        features = [f for f, _ in sorted(vectorizer.vocabulary_.items(), key=lambda kv: kv[1])]
        if tfidf is None:
            return cls(features, n_max=n_max)
        return cls(features, n_max=n_max, weighting="tfidf", idf=[float(v) for v in tfidf.idf_])

    def transform(self, token_lists: Iterable[Sequence[str]]) -> sp.csr_matrix:
        """A sparse ``(n_texts, n_features)`` float32 matrix for lists of tokens.

        Raises:
            TypeError: for raw strings instead of token lists.
        """
        token_lists = self._token_lists(token_lists)
        rows, cols, vals = [], [], []
        for r, tokens in enumerate(token_lists):
            counts = Counter(self.index[g] for g in ngrams(tokens, self.n_max) if g in self.index)
            if not counts:
                continue
            c = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            v = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            if self.weighting == "binary":
                v = np.ones_like(v)
            else:
                v = (1.0 + np.log(v)) * np.asarray(self.idf)[c]
                v /= np.linalg.norm(v)
            rows += [r] * len(c)
            cols += c.tolist()
            vals += v.tolist()
        return sp.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)),
                             shape=(len(token_lists), len(self.features)))


@dataclass
class TextClassifier:
    """A Keras model with its vectoriser: word ids (``vocab`` + padding) or a :class:`BagOfNgrams`."""

    model: Any
    vocab: text.Vocabulary | None = None
    maxlen: int = 0
    padding: str = "post"
    truncating: str = "pre"
    bag: BagOfNgrams | None = None

    def __post_init__(self) -> None:
        if (self.bag is None) == (self.vocab is None):
            raise TextClassifierError("give either a vocabulary (with maxlen) or a bag of n-grams, not both")
        if self.vocab is not None:
            if self.padding not in ("pre", "post") or self.truncating not in ("pre", "post"):
                raise TextClassifierError(f"padding and truncating must be 'pre' or 'post', got "
                                          f"{self.padding!r}, {self.truncating!r}")
            self.maxlen = text._check_int("maxlen", self.maxlen, 1, TextClassifierError)

    @property
    def kind(self) -> str:
        """``"ids"`` or ``"bag"``."""
        return "bag" if self.bag is not None else "ids"

    @staticmethod
    def _texts(texts: Iterable[str]) -> list[str]:
        """``texts`` as a list of str; ``texts`` may be any iterable (a generator is read once)."""
        if isinstance(texts, (str, bytes, bytearray)) or not isinstance(texts, Iterable):
            raise TypeError("give a list of strings, e.g. predict(['A wonderful film.']), not "
                            f"{type(texts).__name__} (dmlib.sentiment.predict_sentiment also takes one string)")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"give a list of strings, e.g. predict(['A wonderful film.']); texts[{i}] is a "
                                f"{type(t).__name__}")
        return texts

    @classmethod
    def _tokens(cls, texts: Iterable[str]) -> list[list[str]]:
        """The tokens of each raw string (see :meth:`_texts`)."""
        return [text.tokenize(t) for t in cls._texts(texts)]

    def _vectorise(self, tokens: list[list[str]]) -> np.ndarray:
        if self.bag is not None:
            return self.bag.transform(tokens).toarray()
        return text.texts_to_ids(tokens, self.vocab, maxlen=self.maxlen, padding=self.padding,
                                 truncating=self.truncating)

    def inputs(self, texts: Iterable[str]) -> np.ndarray:
        """What the model reads for raw strings: padded ids, or dense bag-of-n-gram rows.

        Raises:
            TypeError: for a single string or anything that is not an iterable of strings.
        """
        return self._vectorise(self._tokens(texts))

    def unknown_counts(self, texts: Iterable[str]) -> np.ndarray:
        """How many word tokens of each raw string the vectoriser does not know (int64 array).

        Unknown words reach an id model as ``[UNK]`` and are invisible to a bag of n-grams, so a
        prediction for a text made mostly of them says little; check this count to find such texts.

        Example:
            >>> clf.unknown_counts(["A wonderful film.", "Zorglub blorf!"])   # doctest: +SKIP
            array([0, 2])
        """
        tokens = self._tokens(texts)
        if self.bag is not None:
            return self.bag.unknown_counts(tokens)
        return np.array([sum(t not in self.vocab for t in toks) for toks in tokens], dtype=np.int64)

    def predict(self, texts: Iterable[str]) -> np.ndarray:
        """p(positive) for each raw string (a 1-D float array).

        A text without a single word token (empty, blank, or only punctuation and markup) is
        refused: an id model sees only padding, which a masked model averages over zero steps (NaN),
        and a bag of n-grams sees a row of zeros; neither is a prediction about the text. Drop such
        texts, or give them a score of your own, before calling.

        Raises:
            TypeError: for a single string (see :func:`predict_sentiment`) or anything that is not an
                iterable of strings.
            TextClassifierError: (a ``ValueError``) for a text without a word token.

        Example:
            >>> clf.predict(["A wonderful film.", "A dreadful film."]).round(2)   # doctest: +SKIP
            array([0.93, 0.08], dtype=float32)
        """
        texts = self._texts(texts)
        tokens = [text.tokenize(t) for t in texts]
        empty = [i for i, toks in enumerate(tokens) if not toks]
        if empty:
            shown = repr(texts[empty[0]][:40]) + ("..." if len(texts[empty[0]]) > 40 else "")
            raise TextClassifierError(
                f"texts[{empty[0]}] ({shown}) has no word to score (empty, blank, or only punctuation or markup)"
                + (f", and so have {len(empty) - 1} more texts" if len(empty) > 1 else "")
                + "; give every text at least one word (e.g. 'A wonderful film.'), or drop such texts and score "
                "them yourself")
        x = self._vectorise(tokens)
        if len(x) == 0:
            return np.zeros(0, dtype="float32")
        return np.asarray(self.model.predict(x, verbose=0, batch_size=256))[:, 0]


def save_text_classifier(folder: str | Path, classifier: TextClassifier) -> list[str]:
    """Save a :class:`TextClassifier` (model and vectoriser) into an existing folder.

    Args:
        folder: an existing, writable folder: :func:`default_model_folder` (create it with
            ``mkdir(parents=True, exist_ok=True)``) for the model ``python -m dmlib sentiment`` uses,
            or a ``tempfile.TemporaryDirectory``.
        classifier: the model with its vocabulary and padding, or its bag of n-grams.

    Returns:
        The names of the files written, sorted.

    Raises:
        TextClassifierError: if the folder does not exist.

    Example:
        >>> with tempfile.TemporaryDirectory() as tmp:   # doctest: +SKIP
        ...     save_text_classifier(tmp, TextClassifier(model, vocab, maxlen=256))
        ...     p = load_text_classifier(tmp).predict(["A wonderful film."])
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TextClassifierError(f"{folder} is not a folder: create it first (e.g. tempfile.TemporaryDirectory())")
    clf = classifier
    clf.model.save(folder / MODEL_FILE)
    prep: dict[str, Any] = {"format": _FORMAT, "kind": clf.kind}
    if clf.bag is not None:
        prep.update(features=clf.bag.features, n_max=clf.bag.n_max, weighting=clf.bag.weighting, idf=clf.bag.idf)
        (folder / VOCABULARY_FILE).unlink(missing_ok=True)  # an earlier id model's, saved into the same folder
    else:
        clf.vocab.save(folder / VOCABULARY_FILE)
        prep.update(maxlen=int(clf.maxlen), padding=clf.padding, truncating=clf.truncating)
    (folder / PREPROCESSING_FILE).write_text(json.dumps(prep), encoding="utf-8")
    return sorted(p.name for p in folder.iterdir())


def missing_files(folder: str | Path) -> list[str]:
    """The files every saved classifier has that ``folder`` lacks (all of them if it does not exist).

    Example:
        >>> missing_files("/nonexistent")
        ['model.keras', 'preprocessing.json']
    """
    return [name for name in (MODEL_FILE, PREPROCESSING_FILE) if not (Path(folder) / name).is_file()]


def load_text_classifier(folder: str | Path) -> TextClassifier:
    """Load what :func:`save_text_classifier` wrote (custom layers must be registered for Keras).

    Raises:
        TextClassifierError: if a file is missing, the settings file is not ours, or Keras cannot read
            the model.

    Example:
        >>> clf = load_text_classifier(folder)   # doctest: +SKIP
    """
    import keras

    folder = Path(folder)
    missing = missing_files(folder)
    if missing:
        raise TextClassifierError(f"{folder} lacks {missing}: save it with dmlib.sentiment.save_text_classifier")
    try:
        prep = json.loads((folder / PREPROCESSING_FILE).read_text(encoding="utf-8"))
        if prep.get("format") != _FORMAT or prep.get("kind") not in ("ids", "bag"):
            raise ValueError(f"format {prep.get('format')!r}, kind {prep.get('kind')!r}")
        if prep["kind"] == "bag":
            settings: dict[str, Any] = {"bag": BagOfNgrams(list(prep["features"]), n_max=prep["n_max"],
                                                           weighting=prep["weighting"], idf=prep["idf"])}
        else:
            if not (folder / VOCABULARY_FILE).is_file():
                raise TextClassifierError(f"{folder} lacks {VOCABULARY_FILE}: save it with save_text_classifier")
            settings = {"vocab": text.Vocabulary.load(folder / VOCABULARY_FILE), "maxlen": prep["maxlen"],
                        "padding": prep["padding"], "truncating": prep["truncating"]}
    except (ValueError, KeyError, TypeError) as err:
        if isinstance(err, TextClassifierError):
            raise
        raise TextClassifierError(f"{folder / PREPROCESSING_FILE} was not written by save_text_classifier "
                                  f"({err})") from None
    try:
        model = keras.saving.load_model(folder / MODEL_FILE)
    except (ValueError, OSError) as err:  # not a .keras archive, damaged, or a custom layer Keras does not know
        raise TextClassifierError(f"Keras cannot read {folder / MODEL_FILE} ({err}); save the model again with "
                                  "save_text_classifier") from None
    return TextClassifier(model, **settings)


def default_model_folder(profile: str | None = None) -> Path:
    """Where ``04_text_sentiment.ipynb`` saves the model it chose: ``models/04_sentiment/<profile>/``
    in the checkout (the folder that holds ``dmlib/`` and ``notebooks/``).

    Why there: unlike the temporary folder the notebook used before, it outlives the kernel, so
    ``python -m dmlib sentiment "text"`` can score reviews after the notebook has run; it sits with
    the other generated folders of the checkout (``runs/``, ``student/``, ``book/``), and git ignores
    ``models/``, so a model (megabytes, different on every machine) is never committed. It is not the
    dataset cache (``DMLIB_CACHE``), which holds verified downloads that ``datasets verify`` checks.
    One folder per profile: the test suite's smoke run (a model trained for seconds) never
    replaces the model of a standard run. The folder is not created here.

    Args:
        profile: ``smoke``, ``standard`` or ``full``, any case (default: ``DMLIB_PROFILE``, else standard).

    Raises:
        ProfileError: if the profile names none.

    Example:
        >>> default_model_folder("Smoke").parts[-3:]
        ('models', '04_sentiment', 'smoke')
    """
    name = active_profile() if profile is None else normalize_profile(profile, source="profile")
    return Path(__file__).resolve().parent.parent / "models" / "04_sentiment" / name


def predict_sentiment(classifier: TextClassifier, texts: str | Iterable[str]) -> np.ndarray:
    """P(positive) of each raw text, with a classifier and its vectoriser (e.g. one loaded from
    :func:`default_model_folder` by :func:`load_text_classifier`).

    A bare ``str`` is one text (one score), not a sequence of characters. A text without a single word
    (empty, whitespace only, or only punctuation and markup) is refused rather than given a score
    that would say nothing about it: the model would see only padding or a row of zeros.

    Args:
        classifier: the model with its vocabulary or bag of n-grams.
        texts: one review, or a list (any iterable) of reviews.

    Returns:
        A 1-D float array, one probability per text (length 1 for a bare string).

    Raises:
        TextClassifierError: for a text without a word; the message names it and says what to pass.
        TypeError: for anything that is not a string or an iterable of strings (e.g. bytes).

    Example:
        >>> predict_sentiment(clf, "A wonderful film.")   # doctest: +SKIP
        array([0.93], dtype=float32)
        >>> predict_sentiment(clf, ["A wonderful film.", "A dreadful film."]).round(2)   # doctest: +SKIP
        array([0.93, 0.08], dtype=float32)
    """
    return classifier.predict([texts] if isinstance(texts, str) else texts)


def quiet_bool_transpose_notice() -> bool:
    """Trigger TensorFlow's one-time oneDNN notice about boolean tensors while dropping exactly that line.

    TensorFlow's CPU build prints ``oneDNN supports DT_BOOL only on platforms with AVX-512 ...`` to
    the process's stderr (from C++, past Python's ``sys.stderr``) the first time it transposes a
    boolean tensor, which a masked LSTM or GRU does with its padding mask. It is not part of any
    lesson, so this function performs one such transpose with file descriptor 2 redirected to a
    temporary file, then passes every other line written meanwhile on to stderr. Other backends
    print nothing; the call is then a no-op.

    Returns:
        True if the notice was seen (and dropped).

    Example:
        >>> quiet_bool_transpose_notice() in (True, False)
        True
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    sys.stderr.flush()
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            mask = keras.ops.convert_to_tensor(np.array([[True, False]]))
            keras.ops.convert_to_numpy(keras.ops.transpose(mask))
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        lines = tmp.read().decode(errors="replace").splitlines()
    kept = [ln for ln in lines if ln.strip() and not _BOOL_NOTICE.search(ln)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
    return len(kept) < len([ln for ln in lines if ln.strip()])
