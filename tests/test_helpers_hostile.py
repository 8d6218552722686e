"""Hostile input to the notebook helpers (issue 32, "Hostile input, round two").

Each section is one item of the issue:

* item 2: every size argument (sizes, strides, lengths, k, batch sizes, counts, widths) is checked at
  the public boundary: a clear ValueError naming the argument and the value, never a hang, a huge
  allocation or a silent truncation;
* item 3: tag stripping and tokenising take linear time on adversarial text;
* item 9: metric helpers refuse NaN, empty and mismatched input instead of returning a number;
* item 10: text classification, vocabularies and window datasets refuse what they cannot represent.

Calls that hung or ran for minutes before the fix run under a CPU-time limit (SIGPROF), so that a
regression fails the test instead of stalling the suite.
"""

from __future__ import annotations

import html
import math
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dmlib import (augment, fundamentals, generalization, metric_learning, recsys, sentiment, seq2seq, text,
                   timeseries, transfer, unsupervised)


@contextmanager
def cpu_time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the block once it has used ``seconds`` of CPU time (not wall time, so a
    busy machine does not make it flaky). Regular-expression matching is interrupted too."""
    if not hasattr(signal, "setitimer"):  # pragma: no cover - Windows has no interval timers
        yield
        return

    def _expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s of CPU time")

    previous = signal.signal(signal.SIGPROF, _expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


# --------------------------------------------------------------------------- item 2: size arguments

SEQS = {1: np.arange(1, 12), 2: np.array([3, 4])}
RATINGS = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 3], "rating": 4, "timestamp": [1, 2, 3]})
VOCAB = text.Vocabulary(["[PAD]", "[UNK]", "a", "good", "film"])
EMB = np.random.default_rng(0).normal(size=(8, 3))
LABELS = np.array([0, 0, 1, 1, 2, 2, 0, 1])


def _toy_step(tokens: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    return np.full((len(tokens), 5), 0.2), state


def _demo_model() -> Any:
    return lambda x, training=False: x  # never called: the arguments are refused first


# (id, function of the bad value, the argument's name, bad values)
SIZE_CASES: list[tuple[str, Callable[[Any], Any], str, list[Any]]] = [
    ("recsys.next_item_windows stride", lambda v: recsys.next_item_windows(SEQS, maxlen=3, stride=v), "stride",
     [0, -1, 2.5, True]),
    ("recsys.next_item_windows maxlen", lambda v: recsys.next_item_windows(SEQS, maxlen=v), "maxlen",
     [0, -3, 2.5, True]),
    ("recsys.last_items maxlen", lambda v: recsys.last_items(SEQS, np.array([1]), maxlen=v), "maxlen", [0, -1, 2.5]),
    ("recsys.sample_negatives n", lambda v: recsys.sample_negatives({1: {1}}, np.array([1]), 10, n=v), "n",
     [0, -1, 2.5]),
    ("recsys.sample_negatives n_items", lambda v: recsys.sample_negatives({1: {1}}, np.array([1]), v, n=2),
     "n_items", [0, -5, 2.5]),
    ("recsys.implicit_pairs n_neg", lambda v: recsys.implicit_pairs(RATINGS, 10, n_neg=v), "n_neg", [0, -1, 2.5]),
    ("recsys.implicit_pairs n_items", lambda v: recsys.implicit_pairs(RATINGS, v), "n_items", [0, -1, 2.5]),
    ("recsys.ranking_metrics k", lambda v: recsys.ranking_metrics(np.ones((2, 3)), k=v), "k", [0, -1, 2.5, True]),
    ("recsys.item_popularity n_items", lambda v: recsys.item_popularity(RATINGS, v), "n_items", [0, -1, 2.5]),
    ("text.build_vocabulary max_tokens", lambda v: text.build_vocabulary(["a b"], max_tokens=v), "max_tokens",
     [1, -1, 2.5, True]),
    ("text.build_vocabulary min_count", lambda v: text.build_vocabulary(["a b"], min_count=v), "min_count",
     [0, -1, 2.5]),
    ("text.texts_to_ids maxlen", lambda v: text.texts_to_ids(["a"], VOCAB, maxlen=v), "maxlen", [0, -1, 2.5, True]),
    ("text.SparseBatches batch_size", lambda v: text.SparseBatches(np.eye(3), batch_size=v), "batch_size",
     [0, -1, 2.5]),
    ("text.cooccurrence_matrix window", lambda v: text.cooccurrence_matrix([np.array([2, 3])], 5, window=v),
     "window", [0, 2.5]),
    ("text.cooccurrence_matrix vocab_size", lambda v: text.cooccurrence_matrix([np.array([2, 3])], v),
     "vocab_size", [0, -1, 2.5]),
    ("text.nearest_neighbours k", lambda v: text.nearest_neighbours(np.eye(5), VOCAB, "a", k=v), "k", [0, -1, 2.5]),
    ("text.ppmi alpha", lambda v: text.ppmi(np.ones((2, 2)), alpha=v), "alpha", [math.nan, -1.0]),
    ("sentiment.ngrams n_max", lambda v: sentiment.ngrams(["a", "b"], n_max=v), "n_max", [0, -1, 2.5]),
    ("sentiment.BagOfNgrams n_max", lambda v: sentiment.BagOfNgrams(["a"], n_max=v), "n_max", [0, 2.5, True]),
    ("sentiment.TextClassifier maxlen", lambda v: sentiment.TextClassifier(None, VOCAB, maxlen=v), "maxlen",
     [0, -1, 2.5]),
    ("generalization.predict_proba batch_size",
     lambda v: generalization.predict_proba(_demo_model(), np.ones((3, 2)), batch_size=v), "batch_size", [0, 2.5]),
    ("generalization.expected_calibration_error bins",
     lambda v: generalization.expected_calibration_error(np.eye(2), np.array([0, 1]), bins=v), "bins",
     [0, -1, 2.5, True]),
    ("generalization.noisy_labels n_classes", lambda v: generalization.noisy_labels(np.zeros(5, int), 0.5, 0, v),
     "n_classes", [0, -1, 2.5]),
    ("generalization.descent_shape tolerance",
     lambda v: generalization.descent_shape([1, 2, 3], [0.3, 0.2, 0.3], tolerance=v), "tolerance", [math.nan, -0.1]),
    ("unsupervised.precision_at_k k", lambda v: unsupervised.precision_at_k([0, 1, 1], [0.1, 0.2, 0.3], v), "k",
     [0, 2.5, True]),
    ("unsupervised.dec_refine rounds", lambda v: unsupervised.dec_refine(None, np.ones((4, 2)), np.eye(2), rounds=v),
     "rounds", [0, 2.5]),
    ("unsupervised.dec_refine steps_per_round",
     lambda v: unsupervised.dec_refine(None, np.ones((4, 2)), np.eye(2), steps_per_round=v), "steps_per_round",
     [0, -1, 2.5]),
    ("unsupervised.dec_refine batch_size",
     lambda v: unsupervised.dec_refine(None, np.ones((4, 2)), np.eye(2), batch_size=v), "batch_size", [0, 2.5]),
    ("unsupervised.dec_refine learning_rate",
     lambda v: unsupervised.dec_refine(None, np.ones((4, 2)), np.eye(2), learning_rate=v), "learning_rate",
     [0.0, math.nan]),
    ("unsupervised.soft_assignment alpha", lambda v: unsupervised.soft_assignment(np.ones((2, 2)), np.eye(2), v),
     "alpha", [0.0, math.nan]),
    ("unsupervised.evaluate_detectors n_splits",
     lambda v: unsupervised.evaluate_detectors({}, np.ones((4, 2)), np.array([0, 1, 0, 1]), n_splits=v), "n_splits",
     [0, 2.5]),
    ("unsupervised.evaluate_detectors test_size",
     lambda v: unsupervised.evaluate_detectors({}, np.ones((4, 2)), np.array([0, 1, 0, 1]), test_size=v),
     "test_size", [0.0, 1.0, math.nan]),
    ("unsupervised.pca_reconstruction_scores n_components",
     lambda v: unsupervised.pca_reconstruction_scores(np.eye(3), np.eye(3), v), "n_components", [0, -1, 1.5, math.nan]),
    ("metric_learning.cosine_neighbours k", lambda v: metric_learning.cosine_neighbours(EMB, k=v), "k",
     [0, 2.5, True]),
    ("metric_learning.cosine_neighbours batch_size",
     lambda v: metric_learning.cosine_neighbours(EMB, k=2, batch_size=v), "batch_size", [0, -1, 2.5]),
    ("metric_learning.recall_at_k ks", lambda v: metric_learning.recall_at_k(EMB, LABELS, ks=v), "ks",
     [(0,), (2.5,), ()]),
    ("metric_learning.knn_predict k", lambda v: metric_learning.knn_predict(EMB, LABELS, EMB, k=v), "k", [0, 2.5]),
    ("metric_learning.triplet_loss_fn margin", lambda v: metric_learning.triplet_loss_fn(margin=v), "margin",
     [math.nan, -0.1]),
    ("seq2seq.TokenVocabulary.encode length", lambda v: seq2seq.TokenVocabulary("ab").encode(["ab"], v), "length",
     [0, -1, 2.5, True]),
    ("seq2seq.addition_data digits", lambda v: seq2seq.addition_data(v), "digits", [0, 2.5, 19]),
    ("seq2seq.addition_data n", lambda v: seq2seq.addition_data(1, n=v), "n", [0, 2.5]),
    ("seq2seq.date_data n", lambda v: seq2seq.date_data(v), "n", [0, -1, 2.5]),
    ("seq2seq.greedy_decode max_len",
     lambda v: seq2seq.greedy_decode(_toy_step, [np.zeros((2, 1))], start_id=1, end_id=2, max_len=v), "max_len",
     [0, -1, 2.5]),
    ("seq2seq.beam_search_decode beam_width",
     lambda v: seq2seq.beam_search_decode(_toy_step, [np.zeros((2, 1))], start_id=1, end_id=2, max_len=3,
                                          beam_width=v), "beam_width", [0, 2.5]),
    ("seq2seq.beam_search_decode max_len",
     lambda v: seq2seq.beam_search_decode(_toy_step, [np.zeros((2, 1))], start_id=1, end_id=2, max_len=v),
     "max_len", [0, 2.5]),
    ("seq2seq.make_scenes n",
     lambda v: seq2seq.make_scenes(np.zeros((10, 28, 28), "uint8"), np.arange(10), v), "n", [0, -1, 2.5]),
    ("seq2seq.keras_step n_context", lambda v: seq2seq.keras_step(None, n_context=v), "n_context", [-1, 2.5]),
    ("fundamentals.full_batch_fit steps",
     lambda v: fundamentals.full_batch_fit(None, np.ones((2, 1)), np.ones(2), steps=v), "steps", [0, 2.5]),
    ("fundamentals.full_batch_fit steps_per_epoch",
     lambda v: fundamentals.full_batch_fit(None, np.ones((2, 1)), np.ones(2), steps=4, steps_per_epoch=v),
     "steps_per_epoch", [0, 2.5]),
    ("fundamentals.plot_decision_boundary grid",
     lambda v: fundamentals.plot_decision_boundary(lambda p: p[:, 0], np.eye(2), np.arange(2), grid=v), "grid",
     [1, 0, 2.5]),
    ("fundamentals.plot_paths levels",
     lambda v: fundamentals.plot_paths(lambda t: t[..., 0] ** 2, {}, levels=v), "levels", [0, 2.5]),
    ("fundamentals.seconds_per_epoch epochs",
     lambda v: fundamentals.seconds_per_epoch(None, np.ones((2, 1)), np.ones(2), [2], epochs=v), "epochs", [0, 2.5]),
    ("fundamentals.seconds_per_epoch batch_sizes",
     lambda v: fundamentals.seconds_per_epoch(None, np.ones((2, 1)), np.ones(2), v), "batch_sizes",
     [[0], [2.5], []]),
    ("augment.RandomShiftFlip max_shift", lambda v: augment.RandomShiftFlip(max_shift=v), "max_shift",
     [math.nan, math.inf, -1]),
    ("transfer.per_class_sample per_class", lambda v: transfer.per_class_sample(np.array([0, 1]), v), "per_class",
     [math.nan, math.inf, 0]),
    ("transfer.class_subset classes", lambda v: transfer.class_subset(np.arange(2), np.array([0, 1]), v), "classes",
     [[0.5], [True]]),
]


@pytest.mark.parametrize("call, name, bad", [
    pytest.param(call, name, bad, id=f"{case}={bad!r}") for case, call, name, bads in SIZE_CASES for bad in bads])
def test_size_arguments_are_refused_with_a_clear_error(call, name, bad):
    """Regression (issue 32, item 2): ``next_item_windows(stride=0)`` looped, allocating until killed."""
    with cpu_time_limit(5), pytest.raises(ValueError) as caught:
        call(bad)
    message = str(caught.value)
    assert name in message and repr(bad) in message, message


def test_valid_sizes_still_work_and_numpy_integers_are_accepted():
    x, y = recsys.next_item_windows(SEQS, maxlen=np.int64(4), stride=np.int32(2))
    assert x.shape == y.shape and x.shape[1] == 4
    np.testing.assert_array_equal(recsys.next_item_windows(SEQS, maxlen=4, stride=2)[0], x)
    assert seq2seq.TokenVocabulary("ab").encode(["ab"], np.int64(3)).shape == (1, 3)
    assert metric_learning.cosine_neighbours(EMB, k=np.int64(2), batch_size=np.uint8(3)).shape == (8, 2)
    assert len(transfer.per_class_sample(np.array([0, 0, 1, 1]), 2.0)) == 4  # a whole float stays accepted here
    assert augment.RandomShiftFlip(max_shift=2.0).max_shift == 2


def test_addition_data_refuses_counts_it_cannot_sample_quickly():
    """``addition_data(6, n=10**11)`` would draw pairs one by one for hours (and run out of memory)."""
    with cpu_time_limit(5), pytest.raises(ValueError, match="n must be"):
        seq2seq.addition_data(6, n=10**11)


# --------------------------------------------------------------------------- item 3: linear-time cleaning

MB = 1_000_000
ADVERSARIAL = {
    "comment openers": "<!--" * (MB // 4),
    "comment openers after a closed comment": "<!-- x -->" + "<!--" * (MB // 4),
    "comment openers before a closer": "<!--" * (MB // 4) + "-->",
    "less-than signs": "<" * MB,
    "open anchors": "<a " * (MB // 3),
    "open line breaks": "<br" * (MB // 3),
    "closing slashes": "</" * (MB // 2),
    "declarations": "<!x" * (MB // 3),
    "bangs": "<!" * (MB // 2),
    "unclosed double quote": '<a href="' + "x" * MB,
    "unclosed single quotes": "<a title='" * (MB // 10),
    "long tag name": "<" + "a" * MB,
    "long tag names": ("<" + "a" * 999) * (MB // 1000),
    "long tag body": "<br " + "x" * MB,
    "tag with dashes": "<br-" * (MB // 4),
    "ampersands": "&" * MB,
    "numeric references": "&#" * (MB // 2),
    "long numeric reference": "&#" + "9" * MB,
    "long hex reference": "&#x" + "f" * MB,
    "apostrophes": "a'" * (MB // 2),
    "combining marks": "é" + "\u0301" * MB,
    "marks and apostrophes": "é'\u0301" * (MB // 3),
}


@pytest.mark.parametrize("func", [text.clean_text, text.tokenize])
@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_cleaning_takes_linear_time_on_adversarial_text(name, func):
    """Regression (issue 32, item 3): ``"<!--" * N`` took quadratic time (1 MB: more than 10 minutes)."""
    raw = ADVERSARIAL[name]
    start = time.process_time()
    with cpu_time_limit(4):
        func(raw)
    assert time.process_time() - start < 2.0


@pytest.mark.parametrize("raw, expected", [
    ("a <!-- one --> b <!-- two", "a   b <!-- two"),            # an unclosed comment stays text
    ("<!-- a <br> b --> c <br> d", "  c   d"),                  # a tag inside a comment goes with it
    ("x <!--> y --> z", "x   z"),                                # the closer must follow the opener
    ("<p title='-->'>t</p> <!-- u", " '>t  <!-- u"),            # a tag ends at the first ">", even in "-->"
    ("<ſtrong>x</STRONG>", " x "),                               # Python's case folding, as before
    ("<br-x> <nobr> <wbrx> <h7>", "<br-x>   <wbrx> <h7>"),      # only whole element names
    ("&#000000065; &#00000000000000000000000066 &#99999999; &#99999999x", "a b \ufffd \ufffdx"),
    ("&#" + "0" * 5000 + "67;", "c"),                            # more digits than int() reads
    ("&#" + "9" * 5000 + ";!", "\ufffd!"),                       # a huge code point is the replacement char
])
def test_clean_text_keeps_its_meaning_on_edge_cases(raw, expected):
    assert text.clean_text(raw) == expected


# The single pattern clean_text used before issue 32 (quadratic on "<!--" * N): the reference for short texts.
_REFERENCE_TAGS = re.compile(
    r"<(?:/?(?:" + "|".join(sorted(text._HTML_ELEMENTS, key=len, reverse=True)) + r")(?![\w-])[^<>]{0,500}"
    r"|!--.*?--|![A-Za-z][^<>]{0,200})>",
    re.IGNORECASE | re.DOTALL,
)


def test_clean_text_matches_the_pattern_it_replaced_on_random_markup():
    rng = np.random.default_rng(0)
    pieces = ["<", ">", "!", "-", "--", "-->", "<!--", "/", "br", "BR", "a", "p", " ", "x", "'", '"', "&", "#", ";",
              "1", "amp", "\u017f", "strong", "h1", "h7", "\n", "_", "\u00e9", "<br />", "<!DOCTYPE", "nobr", "=", "&#"]
    for _ in range(5_000):
        raw = "".join(rng.choice(pieces, size=rng.integers(0, 30)))
        assert text.clean_text(raw) == html.unescape(_REFERENCE_TAGS.sub(" ", raw)).lower(), raw


def test_text_module_compiles_without_invalid_escape_warnings():
    import warnings
    from pathlib import Path

    source = Path(text.__file__).read_text(encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(source, text.__file__, "exec")


# --------------------------------------------------------------------------- item 9: metrics refuse bad input


@pytest.mark.parametrize("call, message", [
    (lambda: recsys.ranking_metrics(np.array([[np.nan, 0.1, 0.2], [0.9, 0.1, 0.2]])), "NaN"),
    (lambda: recsys.ranking_metrics(np.array([[0.5, np.inf, 0.2]])), "NaN"),
    (lambda: recsys.ranking_metrics(np.zeros((0, 5))), "empty"),
    (lambda: recsys.rmse_mae([1, 3], [2]), "2 .* 1"),
    (lambda: recsys.rmse_mae([], []), "empty"),
    (lambda: recsys.rmse_mae([1, 2], [1, np.nan]), "NaN"),
    (lambda: generalization.expected_calibration_error(np.array([[np.nan, 0.5]]), np.array([0])), "NaN"),
    (lambda: generalization.expected_calibration_error(np.zeros((0, 2)), np.zeros(0, int)), "empty"),
    (lambda: generalization.expected_calibration_error(np.array([[2.0, -1.0]]), np.array([0])), r"\[0, 1\]"),
    (lambda: generalization.expected_calibration_error(np.eye(2), np.eye(2)), "labels"),
    (lambda: generalization.accuracy(_demo_model(), np.eye(2), np.array([[0], [1]])), r"flat .*\(2, 1\)"),
    (lambda: generalization.descent_shape([1, np.nan, 3], [0.3, 0.2, 0.3]), "sizes must be finite"),
    (lambda: recsys.holdout_split(RATINGS, frac="0.1"), "frac"),
    (lambda: unsupervised.precision_at_k([0, 1, 1], [0.1, np.nan, 0.3], 2), "NaN"),
    (lambda: unsupervised.subspace_angle_degrees(np.full((3, 1), np.nan), np.eye(3)[:, :1]), "NaN"),
    (lambda: unsupervised.subspace_angle_degrees(np.zeros((3, 0)), np.eye(3)[:, :1]), "empty"),
    (lambda: metric_learning.recall_at_k(np.where(np.eye(8, 3) == 1, np.nan, EMB), LABELS), "NaN"),
    (lambda: metric_learning.recall_at_k(EMB, LABELS[:5]), "8 .* 5"),
    (lambda: metric_learning.knn_accuracy(EMB, LABELS, EMB, LABELS[:1]), "8 .* 1"),
    (lambda: metric_learning.knn_predict(EMB, LABELS[:3], EMB), "8 .* 3"),
    (lambda: metric_learning.knn_predict(EMB, -LABELS, EMB), "non-negative"),
    (lambda: metric_learning.cosine_neighbours(EMB, np.ones((4, 2)), k=1), "features"),
    (lambda: text.nearest_neighbours(np.full((5, 2), np.nan), VOCAB, "a"), "NaN"),
    (lambda: text.nearest_neighbours(np.eye(3), VOCAB, "a"), "one row per token"),
    (lambda: text.ppmi(np.array([[1.0, -1.0], [0.0, 2.0]])), "negative"),
    (lambda: text.ppmi(np.array([[1.0, np.nan], [0.0, 2.0]])), "NaN"),
    (lambda: recsys.candidates(np.array([1, 2]), np.array([[3, 4]])), r"2 held-out items .*\(1, 2\)"),
    (lambda: recsys.item_popularity(pd.DataFrame({"item_id": [1, 7]}), 5), "7"),
])
def test_metric_helpers_refuse_nan_empty_and_mismatched_input(call, message):
    """Regression (issue 32, item 9): NaN scores got HR = NDCG = 1.0, an empty ECE 0.0, rmse_mae broadcast."""
    with pytest.raises(ValueError, match=message):
        call()


def test_implicit_pairs_never_labels_a_seen_item_negative():
    """Regression (issue 32, item 9): a user who had seen (nearly) every item got seen items as negatives."""
    df = pd.DataFrame({"user_id": [1] * 99 + [2], "item_id": list(range(1, 100)) + [5]})
    u, i, y = recsys.implicit_pairs(df, n_items=100, n_neg=4, seed=0)
    seen = set(zip(df.user_id, df.item_id))
    assert not any((a, b) in seen for a, b in zip(u[y == 0].tolist(), i[y == 0].tolist()))
    assert (i[(u == 1) & (y == 0)] == 100).all()  # the only item user 1 has not seen
    full = pd.DataFrame({"user_id": [1, 1, 1, 2], "item_id": [1, 2, 3, 1]})
    with pytest.raises(ValueError, match="user 1 .*every item"):
        recsys.implicit_pairs(full, n_items=3, n_neg=1)


def test_implicit_pairs_output_is_unchanged_where_the_redraws_suffice():
    df = pd.DataFrame({"user_id": np.repeat([1, 2, 3], 4), "item_id": [1, 2, 3, 4, 2, 5, 7, 9, 1, 11, 12, 3]})
    u, i, y = recsys.implicit_pairs(df, n_items=12, n_neg=3, seed=4)
    # recorded with the code before issue 32
    assert "".join(map(str, u.tolist())) == "323221231331123233122333123221113312132113211212"
    assert i.tolist() == [12, 6, 6, 2, 3, 3, 9, 2, 6, 2, 1, 9, 4, 8, 3, 7, 9, 8, 11, 6, 6, 11, 5, 5, 7, 4, 7, 3, 5, 2,
                          1, 12, 10, 2, 12, 10, 7, 6, 11, 8, 12, 6, 11, 5, 12, 1, 8, 8]
    assert "".join(str(int(v)) for v in y) == "100101100010101100000100000011100000000000000000"


# --------------------------------------------------------------------------- item 10: what cannot be represented


def _masked_classifier(vocab: text.Vocabulary, maxlen: int = 4) -> sentiment.TextClassifier:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((maxlen,), dtype="int32"),
                              keras.layers.Embedding(len(vocab), 4, mask_zero=True),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    return sentiment.TextClassifier(model, vocab, maxlen=maxlen)


@pytest.mark.parametrize("empty", ["", "   ", "\n\t", "!!! ...", "<br /><br />"])
def test_predict_refuses_texts_without_a_word(empty):
    """Regression (issue 32, item 10): a masked model returned NaN for an empty or blank text."""
    clf = _masked_classifier(text.build_vocabulary(["a good film", "a bad film"]))
    with pytest.raises(ValueError, match=r"texts\[1\] .*no word"):
        clf.predict(["a good film", empty])
    bag = sentiment.TextClassifier(lambda x: x, bag=sentiment.BagOfNgrams(["good"], n_max=1))
    with pytest.raises(ValueError, match=r"texts\[0\] .*no word"):
        bag.predict([empty])


def test_predict_takes_any_iterable_of_strings_once():
    """Regression (issue 32, item 10): a generator was consumed by the type check and gave an empty result."""
    clf = _masked_classifier(text.build_vocabulary(["a good film", "a bad film"]))
    reviews = ["a good film", "a bad film", "film"]
    expected = clf.predict(reviews)
    assert np.isfinite(expected).all() and expected.shape == (3,)
    np.testing.assert_array_equal(clf.predict(r for r in reviews), expected)
    np.testing.assert_array_equal(clf.predict(tuple(reviews)), expected)
    with pytest.raises(TypeError, match="list of strings"):
        clf.predict(r for r in ["a good film", None])
    with pytest.raises(TypeError, match="list of strings"):
        clf.predict(3)


def test_bag_of_ngrams_refuses_raw_strings_and_reports_unknown_tokens():
    """Regression (issue 32, item 10): ``transform(["good", "bad"])`` gave all-zero rows without a word."""
    bag = sentiment.BagOfNgrams(["good", "bad", "not bad"], n_max=2)
    with pytest.raises(TypeError, match="token lists"):
        bag.transform(["good", "bad"])
    with pytest.raises(TypeError, match="token lists"):
        bag.unknown_counts(["good"])
    np.testing.assert_array_equal(bag.unknown_counts([["not", "bad"], ["so", "good", "so"], []]), [1, 2, 0])
    assert bag.unknown_counts([]).shape == (0,)
    np.testing.assert_array_equal(bag.transform([["not", "bad"]]).toarray(), [[0, 1, 1]])  # unchanged
    clf = sentiment.TextClassifier(lambda x: x, bag=bag)
    np.testing.assert_array_equal(clf.unknown_counts(["Not bad!", "So so good."]), [1, 2])
    ids = sentiment.TextClassifier(None, text.build_vocabulary(["a good film"]), maxlen=3)
    np.testing.assert_array_equal(ids.unknown_counts(["a great film", "", "meh meh"]), [1, 0, 2])


@pytest.mark.parametrize("ids", [[-1], [5], [2, 99], [1.5]])
def test_vocabulary_decode_refuses_ids_out_of_range(ids):
    """Regression (issue 32, item 10): ``Vocabulary.decode([-1])`` returned the last token."""
    with pytest.raises(ValueError, match=r"ids must be whole numbers in \[0, 4\]"):
        VOCAB.decode(ids)
    assert VOCAB.decode([2, 3, 0, np.int64(4)]) == "a good film"


@pytest.mark.parametrize("ids", [[[-1]], [[99]], [[1.5]]])
def test_token_vocabulary_decode_refuses_ids_out_of_range(ids):
    vocab = seq2seq.TokenVocabulary("ab")
    with pytest.raises(ValueError, match=r"ids must be whole numbers in \[0, 5\]"):
        vocab.decode(ids)
    assert vocab.decode(np.array([[1, 4, 5, 2, 4]])) == ["ab"]


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", "bool", "flot32", object])
def test_window_dataset_accepts_only_floating_dtypes(dtype):
    """Regression (issue 32, item 10): ``dtype="int8"`` wrapped 1000 to -24."""
    x = np.full((50, 2), 1000.0)
    with pytest.raises(timeseries.WindowError, match="dtype must be a floating-point"):
        timeseries.WindowDataset(x, np.ones(50), length=5, dtype=dtype)
    ds = timeseries.WindowDataset(x, np.ones(50), length=5, dtype="float16")
    assert ds[0][0].dtype == np.float16 and ds[0][0].max() == 1000


def test_texts_to_ids_refuses_a_dtype_that_cannot_hold_the_ids():
    big = text.Vocabulary(["[PAD]", "[UNK]"] + [f"w{i}" for i in range(300)])
    with pytest.raises(ValueError, match="dtype int8 cannot hold ids up to 301"):
        text.texts_to_ids(["w299"], big, maxlen=2, dtype="int8")
    with pytest.raises(ValueError, match="integer dtype"):
        text.texts_to_ids(["w299"], big, maxlen=2, dtype="float32")
    assert text.texts_to_ids(["w299"], big, maxlen=2, dtype="int16").tolist() == [[big.index["w299"], 0]]
