"""Tests of dmlib.text: cleaning, tokens, vocabulary, padded ids, sparse batches, co-occurrence and PPMI."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import scipy.sparse as sp

from dmlib import text
from dmlib.text import (OOV_ID, PAD_ID, SparseBatches, Vocabulary, VocabularyError, build_vocabulary, clean_text,
                        cooccurrence_matrix, nearest_neighbours, ppmi, texts_to_ids, tokenize)


def test_docstring_examples():
    result = doctest.testmod(text, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_clean_text_removes_html_line_breaks_and_lowercases():
    assert clean_text("One<br />Two<br/>THREE<p>") == "one two three "
    assert "br" not in tokenize("A<br /><br />B")


def test_tokenize_keeps_contractions_and_digits_drops_punctuation():
    assert tokenize("Don't... it's 10/10!!") == ["don't", "it's", "10", "10"]
    assert tokenize("") == []
    assert tokenize("Not BAD, not bad.") == ["not", "bad", "not", "bad"]


def test_build_vocabulary_orders_by_frequency_then_alphabet_and_reserves_ids():
    vocab = build_vocabulary(["b a c", "a b", "a"], max_tokens=None)
    assert vocab.tokens == ["[PAD]", "[UNK]", "a", "b", "c"]
    assert vocab.counts == [0, 0, 3, 2, 1]
    assert vocab.index["a"] == 2 and len(vocab) == 5 and "c" in vocab and "z" not in vocab
    small = build_vocabulary(["b a c", "a b", "a"], max_tokens=3)
    assert small.tokens == ["[PAD]", "[UNK]", "a"]
    assert build_vocabulary([["x", "y"], ["y"]], min_count=2).tokens == ["[PAD]", "[UNK]", "y"]


def test_build_vocabulary_rejects_too_small_size():
    with pytest.raises(VocabularyError, match="max_tokens"):
        build_vocabulary(["a"], max_tokens=1)


def test_vocabulary_validates_its_tokens():
    with pytest.raises(VocabularyError):
        Vocabulary(["a", "b"])
    with pytest.raises(VocabularyError):
        Vocabulary(["[PAD]", "[UNK]", "a", "a"])


def test_encode_decode_round_trip_with_oov():
    vocab = build_vocabulary(["the good film"])
    ids = vocab.encode(["the", "bad", "film"])
    assert ids[1] == OOV_ID
    assert vocab.decode(ids + [PAD_ID, PAD_ID]) == "the [UNK] film"
    assert vocab.decode([2, 0], skip_padding=False) == f"{vocab.tokens[2]} [PAD]"


def test_coverage_counts_only_word_ids_below_size_not_out_of_vocabulary_tokens():
    """Issue item 23: notebook 04 counted OOV tokens as covered (`vocab.index.get(w, 1) < size`)."""
    vocab = build_vocabulary(["a a a a b b b c c d"])  # ids: a 2, b 3, c 4, d 5
    test = [["a", "b", "c", "d", "new", "new", "other", "a"]]
    tokens = test[0]
    buggy = {size: np.mean([vocab.index.get(w, 1) < size for w in tokens]) for size in (3, 4, 6)}
    true = {size: vocab.coverage(test, size) for size in (3, 4, 6)}
    assert true == {3: 2 / 8, 4: 3 / 8, 6: 5 / 8}
    assert all(buggy[size] > true[size] for size in true)  # the old formula reads 5/8, 6/8 and 1.0
    assert vocab.coverage(test) == vocab.coverage(test, len(vocab)) == 5 / 8
    assert vocab.coverage(["A b, C! new"]) == 3 / 4  # raw texts are tokenised
    for size in (2, 3, 4, 5, 6):  # the same as a vocabulary built with max_tokens=size
        assert vocab.coverage(test, size) == build_vocabulary(["a a a a b b b c c d"], max_tokens=size).coverage(test)
    assert vocab.coverage([["[PAD]", "[UNK]", "a"]]) == 1 / 3  # the special tokens are not words


def test_coverage_refuses_bad_sizes_and_empty_corpora():
    vocab = build_vocabulary(["a b c"])
    with pytest.raises(VocabularyError, match="larger than this vocabulary .5 ids.; build it with max_tokens=6"):
        vocab.coverage(["a"], 6)
    with pytest.raises(VocabularyError, match="size must be an integer >= 2"):
        vocab.coverage(["a"], 1)
    with pytest.raises(VocabularyError, match="size must be an integer"):
        vocab.coverage(["a"], 2.5)
    with pytest.raises(VocabularyError, match="no token"):
        vocab.coverage(["", "!!"])
    with pytest.raises(TypeError, match="wrap it in a list"):
        vocab.coverage("a b c")


def test_vocabulary_save_and_load(tmp_path):
    vocab = build_vocabulary(["a b b c"], max_tokens=4)
    path = vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.load(path)
    assert again.tokens == vocab.tokens and again.counts == vocab.counts and again.index == vocab.index
    (tmp_path / "bad.json").write_text(json.dumps({"words": []}))
    with pytest.raises(VocabularyError, match="not a vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(VocabularyError):
        Vocabulary.load(tmp_path / "missing.json")


@pytest.mark.parametrize("padding,truncating,expected", [
    ("post", "post", [[2, 3, 4], [5, 0, 0]]),
    ("pre", "pre", [[3, 4, 1], [0, 0, 5]]),
    ("post", "pre", [[3, 4, 1], [5, 0, 0]]),
    ("pre", "post", [[2, 3, 4], [0, 0, 5]]),
])
def test_texts_to_ids_padding_and_truncation(padding, truncating, expected):
    vocab = Vocabulary(["[PAD]", "[UNK]", "a", "b", "c", "d"])
    got = texts_to_ids(["a b c zzz", "d"], vocab, maxlen=3, padding=padding, truncating=truncating)
    assert got.dtype == np.int32 and got.shape == (2, 3)
    np.testing.assert_array_equal(got, expected)


def test_texts_to_ids_accepts_token_lists_drops_oov_and_handles_empty_texts():
    vocab = Vocabulary(["[PAD]", "[UNK]", "a", "b"])
    np.testing.assert_array_equal(texts_to_ids([["a", "x", "b"], []], vocab, maxlen=4, drop_oov=True),
                                  [[2, 3, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(texts_to_ids([""], vocab, maxlen=2, padding="pre"), [[0, 0]])


def test_texts_to_ids_rejects_bad_arguments():
    vocab = Vocabulary(["[PAD]", "[UNK]"])
    with pytest.raises(ValueError, match="padding"):
        texts_to_ids(["a"], vocab, maxlen=3, padding="left")
    with pytest.raises(ValueError, match="maxlen"):
        texts_to_ids(["a"], vocab, maxlen=0)


def test_sparse_batches_cover_every_row_once_and_match_dense():
    rng = np.random.default_rng(0)
    dense = (rng.random((53, 7)) < 0.3).astype(np.float32)
    y = np.arange(53)
    ds = SparseBatches(sp.csr_matrix(dense), y, batch_size=10, shuffle=True, seed=1)
    assert len(ds) == 6
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    assert x_all.dtype == np.float32 and sorted(y_all.tolist()) == list(range(53))
    np.testing.assert_array_equal(x_all, dense[y_all])
    first = ds[0][1].copy()
    ds.on_epoch_end()
    assert not np.array_equal(first, ds[0][1])  # reshuffled
    only_x = SparseBatches(dense, batch_size=50)
    np.testing.assert_array_equal(np.concatenate([only_x[0], only_x[1]]), dense)
    with pytest.raises(ValueError, match="rows"):
        SparseBatches(dense, y[:5])


def test_sparse_batches_train_a_keras_model():
    import keras

    rng = np.random.default_rng(0)
    x = sp.random(64, 20, density=0.2, format="csr", random_state=0, dtype=np.float32)
    y = rng.integers(0, 2, 64)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(SparseBatches(x, y, batch_size=16), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(SparseBatches(x, batch_size=16), verbose=0).shape == (64, 1)


def reference_cooccurrence(seqs, vocab_size, window):
    c = np.zeros((vocab_size, vocab_size))
    for s in seqs:
        for i, a in enumerate(s):
            for j in range(max(0, i - window), min(len(s), i + window + 1)):
                b = s[j]
                if j != i and a > 1 and b > 1 and a < vocab_size and b < vocab_size:
                    c[a, b] += 1
    return c


@pytest.mark.parametrize("window", [1, 2, 5])
def test_cooccurrence_matches_a_plain_loop(window):
    rng = np.random.default_rng(window)
    seqs = [rng.integers(0, 9, size=n) for n in (0, 1, 7, 12, 30)]
    got = cooccurrence_matrix(seqs, vocab_size=8, window=window).toarray()
    np.testing.assert_array_equal(got, reference_cooccurrence(seqs, 8, window))
    np.testing.assert_array_equal(got, got.T)


def test_cooccurrence_does_not_cross_document_borders():
    got = cooccurrence_matrix([np.array([2]), np.array([3])], vocab_size=4, window=3)
    assert got.nnz == 0
    with pytest.raises(ValueError, match="window"):
        cooccurrence_matrix([np.array([2, 3])], vocab_size=4, window=0)


def test_ppmi_matches_the_formula():
    counts = np.array([[0, 4, 1], [4, 0, 2], [1, 2, 0]], dtype=float)
    for alpha in (1.0, 0.75):
        total = counts.sum()
        col = counts.sum(0) ** alpha
        with np.errstate(divide="ignore"):
            expected = np.log((counts / total) / (counts.sum(1, keepdims=True) / total * (col / col.sum())))
        expected = np.where(counts > 0, np.maximum(expected, 0), 0)
        np.testing.assert_allclose(ppmi(counts, alpha=alpha).toarray(), expected, atol=1e-12)
    with pytest.raises(ValueError, match="empty"):
        ppmi(np.zeros((2, 2)))


def test_nearest_neighbours_by_cosine():
    vocab = Vocabulary(["[PAD]", "[UNK]", "good", "great", "fine", "bad"])
    vecs = np.array([[9, 9], [9, 9], [1, 0], [2, 0.1], [1, 1], [-1, 0]], dtype=float)
    got = nearest_neighbours(vecs, vocab, "good", k=3)
    assert [w for w, _ in got] == ["great", "fine", "bad"]
    assert got[0][1] == pytest.approx(2 / np.hypot(2, 0.1))
    with pytest.raises(KeyError, match="not in the vocabulary"):
        nearest_neighbours(vecs, vocab, "awful")


# --------------------------------------------------------------------------- Unicode, real tags, clumsy input (issue 14, item 17)


@pytest.mark.parametrize("raw, expected", [
    ("Café naïve résumé", ["café", "naïve", "résumé"]),
    ("Cafe\u0301 nai\u0308ve", ["café", "naïve"]),  # accents typed as combining characters (NFD)
    ("Отличный фильм! Στο σινεμά", ["отличный", "фильм", "στο", "σινεμά"]),
    ("हिन्दी फ़िल्म बहुत अच्छी", ["हिन्दी", "फ़िल्म", "बहुत", "अच्छी"]),  # vowel signs are combining marks
    ("映画はとても良かった。最高", ["映画はとても良かった", "最高"]),  # no spaces to split on: kept, not dropped
    ("Don’t miss it; it’s the 90's", ["don't", "miss", "it", "it's", "the", "90's"]),
    ("snake_case and 2nd", ["snake", "case", "and", "2nd"]),
])
def test_tokenize_keeps_words_of_every_script(raw, expected):
    assert tokenize(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("3 < 5 and the acting > the script", "3 < 5 and the acting > the script"),
    ("I <3 it, x<y>z", "i <3 it, x<y>z"),
    ("a <grin> and <spoiler>twist</spoiler>", "a <grin> and <spoiler>twist</spoiler>"),
    ("One<br />Two<BR>three<p class='x'>four</p><i>five</i>", "one two three four  five "),
    ('<a href="http://x.org/?a=1">link</a><!-- note -->end &amp; more', " link  end & more"),
])
def test_clean_text_strips_only_real_html_tags(raw, expected):
    assert clean_text(raw) == expected


def test_comparisons_survive_tokenisation():
    assert tokenize("3 < 5 and the acting > the script") == ["3", "5", "and", "the", "acting", "the", "script"]


@pytest.mark.parametrize("func", [tokenize, clean_text])
@pytest.mark.parametrize("bad, message", [(None, "got NoneType"), (b"good film", "decode"), (["a b"], "got list"),
                                          (3, "got int")])
def test_tokenize_rejects_what_is_not_a_string(func, bad, message):
    with pytest.raises(TypeError, match=message):
        func(bad)


@pytest.mark.parametrize("bad, message", [
    ("a good film", "single str; wrap it in a list"),
    (b"a good film", "single bytes"),
    (None, "got NoneType"),
    (["a good film", None], r"texts\[1\] must be a str.*missing text"),
    (["a good film", b"bad"], r"texts\[1\] must be a str, got bytes; decode"),
    ([["a", "good"], ["bad", 3]], r"texts\[1\] is a token list holding a int"),
])
def test_corpus_functions_reject_clumsy_input(bad, message):
    with pytest.raises(TypeError, match=message):
        build_vocabulary(bad)
    with pytest.raises(TypeError, match=message):
        texts_to_ids(bad, Vocabulary(["[PAD]", "[UNK]", "a"]), maxlen=3)


def test_encode_refuses_a_raw_string():
    vocab = build_vocabulary(["a good film"])
    with pytest.raises(TypeError, match=r"encode\(tokenize\(text\)\)"):
        vocab.encode("a good film")


def test_numpy_string_arrays_and_token_arrays_are_accepted():
    vocab = build_vocabulary(np.array(["a good film", "a bad film"], dtype=object))
    assert vocab.tokens[:4] == ["[PAD]", "[UNK]", "a", "film"]
    np.testing.assert_array_equal(texts_to_ids(np.array(["a film"]), vocab, maxlen=2), [[2, 3]])
    np.testing.assert_array_equal(texts_to_ids([np.array(["a", "film"])], vocab, maxlen=2), [[2, 3]])


def test_ascii_fast_path_agrees_with_the_unicode_pattern():
    rng = np.random.default_rng(0)
    alphabet = list("abcXYZ019 '_-.,!<>/") + ["<br />", "don't", "it's", "'s"]
    for _ in range(300):
        raw = "".join(rng.choice(alphabet, size=40))
        assert tokenize(raw) == text._token_pattern().findall(clean_text(raw))
