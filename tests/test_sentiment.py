"""Tests of dmlib.sentiment: a saved text classifier round-trips, cleans up, and refuses bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest

from dmlib import sentiment, text
from dmlib.config import ProfileError

ROOT = Path(__file__).resolve().parents[1]


def _tiny_model(vocab_size: int, maxlen: int):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((maxlen,), dtype="int32"),
                              keras.layers.Embedding(vocab_size, 4, mask_zero=True),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def test_round_trip_in_a_temporary_directory_leaves_nothing_behind():
    vocab = text.build_vocabulary(["a good film", "a bad film", "good good"])
    model = _tiny_model(len(vocab), 6)
    reviews = ["A good film.", "Bad!", "an unknown word"]
    expected = model.predict(text.texts_to_ids(reviews, vocab, maxlen=6, truncating="pre"), verbose=0)[:, 0]
    with tempfile.TemporaryDirectory(prefix="sentiment-") as tmp:
        files = sentiment.save_text_classifier(tmp, sentiment.TextClassifier(model, vocab, maxlen=6))
        assert files == ["model.keras", "preprocessing.json", "vocabulary.json"]
        clf = sentiment.load_text_classifier(tmp)
    assert not Path(tmp).exists()
    assert clf.kind == "ids" and clf.maxlen == 6 and clf.padding == "post" and clf.truncating == "pre"
    np.testing.assert_allclose(clf.predict(reviews), expected, atol=1e-6)
    assert clf.predict([]).shape == (0,)


def test_predict_refuses_a_single_string_and_non_strings():
    vocab = text.build_vocabulary(["a good film"])
    clf = sentiment.TextClassifier(_tiny_model(len(vocab), 4), vocab, maxlen=4)
    with pytest.raises(TypeError, match="list of strings"):
        clf.predict("a good film")
    with pytest.raises(TypeError, match="list of strings"):
        clf.predict([b"bytes"])


def test_load_names_missing_files_and_foreign_settings(tmp_path):
    with pytest.raises(sentiment.TextClassifierError, match="lacks"):
        sentiment.load_text_classifier(tmp_path)
    vocab = text.build_vocabulary(["a good film"])
    sentiment.save_text_classifier(tmp_path, sentiment.TextClassifier(_tiny_model(len(vocab), 4), vocab, maxlen=4))
    (tmp_path / sentiment.PREPROCESSING_FILE).write_text(json.dumps({"maxlen": 4}))
    with pytest.raises(sentiment.TextClassifierError, match="not written by"):
        sentiment.load_text_classifier(tmp_path)


def test_save_checks_folder_and_settings(tmp_path):
    vocab = text.build_vocabulary(["a good film"])
    model = _tiny_model(len(vocab), 4)
    with pytest.raises(sentiment.TextClassifierError, match="not a folder"):
        sentiment.save_text_classifier(tmp_path / "missing", sentiment.TextClassifier(model, vocab, maxlen=4))
    with pytest.raises(sentiment.TextClassifierError, match="padding"):
        sentiment.TextClassifier(model, vocab, maxlen=4, padding="middle")
    with pytest.raises(sentiment.TextClassifierError, match="either"):
        sentiment.TextClassifier(model)


def test_bag_of_ngrams_matches_scikit_learn_binary_and_tfidf():
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    docs = [text.tokenize(s) for s in ["not bad at all, not bad", "a good film", "bad film bad acting", "good good"]]
    vec = CountVectorizer(analyzer=sentiment.ngrams, dtype=np.float32).fit(docs)
    counts = vec.transform(docs)
    binary = sentiment.BagOfNgrams.from_sklearn(vec, n_max=2)
    np.testing.assert_array_equal(binary.transform(docs).toarray(), (counts > 0).toarray())
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
    bag = sentiment.BagOfNgrams.from_sklearn(vec, n_max=2, tfidf=tfidf)
    np.testing.assert_allclose(bag.transform(docs).toarray(), tfidf.transform(counts).toarray(), atol=1e-6)
    assert bag.transform([["unseen"]]).nnz == 0 and bag.transform([]).shape == (0, len(bag.features))
    with pytest.raises(TypeError, match="token lists"):
        bag.transform(["a good film"])
    with pytest.raises(sentiment.TextClassifierError, match="idf"):
        sentiment.BagOfNgrams(["a"], weighting="tfidf")


def test_bag_classifier_round_trip(tmp_path):
    bag = sentiment.BagOfNgrams(["good", "bad", "not bad"], weighting="tfidf", idf=[1.0, 1.5, 2.0])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    clf = sentiment.TextClassifier(model, bag=bag)
    files = sentiment.save_text_classifier(tmp_path, clf)
    assert files == ["model.keras", "preprocessing.json"]
    loaded = sentiment.load_text_classifier(tmp_path)
    assert loaded.kind == "bag" and loaded.bag.features == bag.features
    np.testing.assert_allclose(loaded.predict(["Not bad.", "good"]), clf.predict(["Not bad.", "good"]), atol=1e-6)


def test_docstring_examples():
    import doctest

    result = doctest.testmod(sentiment)
    assert result.attempted >= 3 and result.failed == 0


def test_bool_transpose_notice_is_dropped_and_masked_lstm_stays_quiet():
    code = ("import dmlib; dmlib.setup(seed=0, verbose=False)\n"
            "from dmlib import sentiment; sentiment.quiet_bool_transpose_notice()\n"
            "import keras, numpy as np\n"
            "m = keras.Sequential([keras.Input((None,), dtype='int32'), keras.layers.Embedding(9, 4, mask_zero=True),"
            " keras.layers.LSTM(2)])\n"
            "m(np.array([[3, 4, 0]], dtype='int32'))\n")
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "DT_BOOL" not in result.stderr


def test_notebook_04_cleans_up_its_temporary_folder():
    """Regression (issue 14, item 6): the notebook used tempfile.mkdtemp and left /tmp/sentiment-* behind."""
    nb = nbformat.read(ROOT / "notebooks" / "04_text_sentiment.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "mkdtemp" not in code and "NamedTemporaryFile(delete=False" not in code
    assert "TemporaryDirectory(" in code


def tiny_classifier() -> sentiment.TextClassifier:
    """A tiny untrained id classifier (also used by test_cli)."""
    vocab = text.build_vocabulary(["a good film", "a bad film", "good good"])
    return sentiment.TextClassifier(_tiny_model(len(vocab), 6), vocab, maxlen=6)


def test_predict_sentiment_takes_one_string_as_one_text_and_a_list_as_one_text_each():
    """Issue item 27: the notebook's `list(texts)` scored a bare string letter by letter."""
    clf = tiny_classifier()
    one = sentiment.predict_sentiment(clf, "A good film.")
    assert one.shape == (1,) and 0 <= one[0] <= 1
    many = sentiment.predict_sentiment(clf, ["A good film.", "Bad!", "an unknown word"])
    assert many.shape == (3,)
    np.testing.assert_allclose(many[0], one[0], atol=1e-6)
    np.testing.assert_allclose(sentiment.predict_sentiment(clf, (t for t in ["Bad!"])), many[1:2], atol=1e-6)
    with pytest.raises(TypeError, match="list of strings.*not bytes"):
        sentiment.predict_sentiment(clf, b"A good film.")


@pytest.mark.parametrize("texts, where", [("", "texts[0] ('')"), ("   \n", "texts[0] ('   \\n')"),
                                          (["A good film.", "<br />!!"], "texts[1] ('<br />!!')")])
def test_predict_sentiment_refuses_a_text_without_words_and_says_what_to_pass(texts, where):
    """Issue item 27: an empty or whitespace-only text got a positive score with no warning."""
    with pytest.raises(sentiment.TextClassifierError) as err:
        sentiment.predict_sentiment(tiny_classifier(), texts)
    assert where in str(err.value) and "has no word to score" in str(err.value)
    assert "give every text at least one word (e.g. 'A wonderful film.')" in str(err.value)
    assert isinstance(err.value, ValueError)  # what TextClassifier.predict raised before


def test_default_model_folder_is_per_profile_in_the_checkout_and_ignored_by_git(monkeypatch):
    monkeypatch.setenv("DMLIB_PROFILE", "Smoke")
    assert sentiment.default_model_folder() == ROOT / "models" / "04_sentiment" / "smoke"
    assert sentiment.default_model_folder(" FULL ") == ROOT / "models" / "04_sentiment" / "full"
    monkeypatch.delenv("DMLIB_PROFILE")
    assert sentiment.default_model_folder().name == "standard"
    with pytest.raises(ProfileError, match="not a profile"):
        sentiment.default_model_folder("fast")
    assert "models/" in (ROOT / ".gitignore").read_text().split(), "a saved model must never be committed"


def test_saving_a_bag_model_over_an_id_model_leaves_no_stale_vocabulary(tmp_path):
    sentiment.save_text_classifier(tmp_path, tiny_classifier())
    keras.utils.set_random_seed(0)
    bag = sentiment.TextClassifier(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")]),
                                   bag=sentiment.BagOfNgrams(["good", "bad"], n_max=1))
    assert sentiment.save_text_classifier(tmp_path, bag) == ["model.keras", "preprocessing.json"]
    assert sentiment.load_text_classifier(tmp_path).kind == "bag"
