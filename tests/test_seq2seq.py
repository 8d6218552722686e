"""Tests of dmlib.seq2seq: generated data, token codes, decoding loops, scores, scenes."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from dmlib import seq2seq
from dmlib.seq2seq import (
    FASHION_GROUPS,
    N_DATE_FORMATS,
    TokenVocabulary,
    addition_data,
    beam_search_decode,
    char_accuracy,
    date_data,
    date_forms,
    exact_match,
    greedy_decode,
    make_scenes,
    parse_two_digit_year,
    teacher_forcing,
)


# ----------------------------------------------------------------------------------- vocabulary
def test_vocabulary_round_trip_with_specials_and_reverse():
    vocab = TokenVocabulary("0123456789+")
    ids = vocab.encode(["12+3", "7"], 7, start=True, end=True)
    assert ids.shape == (2, 7) and ids[0, 0] == vocab.start_id and ids[1, 2] == vocab.end_id
    assert vocab.decode(ids) == ["12+3", "7"]
    rev = vocab.encode(["12+3"], reverse=True)
    assert vocab.decode(rev) == ["3+21"]


def test_vocabulary_words_unknown_and_errors():
    vocab = TokenVocabulary(["how", "many", "shoes"])
    ids = vocab.encode([["how", "many", "bags"]], 4)
    assert ids[0, 2] == vocab.unknown_id and ids[0, 3] == vocab.pad_id
    assert vocab.decode(ids, sep=" ") == ["how many <unk>"]
    with pytest.raises(ValueError, match="raise length"):
        vocab.encode([["how", "many"]], 1)
    with pytest.raises(ValueError, match="list of sequences"):
        vocab.encode("how")
    with pytest.raises(ValueError, match="non-empty"):
        TokenVocabulary(["a", ""])


def test_teacher_forcing_shifts_by_one():
    y = np.array([[5, 6, 2, 0], [7, 2, 0, 0]])
    prev, nxt = teacher_forcing(y)
    assert prev.tolist() == [[1, 5, 6, 2], [1, 7, 2, 0]] and np.array_equal(nxt, y)


# ----------------------------------------------------------------------------------------- data
def test_addition_pairs_are_correct_unique_and_seeded():
    q, a = addition_data(2, seed=3)
    assert len(q) == 5050
    assert all(eval(x) == int(y) for x, y in zip(q, a))  # noqa: S307 - generated "a+b" strings only
    pairs = {tuple(sorted(map(int, x.split("+")))) for x in q}
    assert len(pairs) == 5050                      # each unordered pair once: no swapped duplicates
    assert addition_data(2, n=50, seed=3) == (q[:50], a[:50])
    assert addition_data(2, n=50, seed=4) != (q[:50], a[:50])
    q3, a3 = addition_data(3, n=2000, seed=0)
    assert max(len(x) for x in q3) <= 7 and all(eval(x) == int(y) for x, y in zip(q3, a3))  # noqa: S307
    with pytest.raises(ValueError, match="between 1 and 5050"):
        addition_data(2, n=6000)


def test_addition_sampling_branch_for_many_digits():
    q, a = addition_data(4, n=300, seed=1)       # 50 million pairs: sampled, not enumerated
    assert len(set(q)) == 300 and all(eval(x) == int(y) for x, y in zip(q, a))  # noqa: S307


def test_dates_targets_match_inputs():
    x, y, form = date_data(3000, seed=0)
    assert set(form.tolist()) == set(range(N_DATE_FORMATS))
    months = {m.lower(): i + 1 for i, m in enumerate(seq2seq.MONTHS)}
    for text, iso, f in zip(x, y, form):
        d = dt.date.fromisoformat(iso)
        assert 1950 <= d.year <= 2049
        assert date_forms(d)[f] == text
        low = text.lower()
        assert any(name in low or name[:3] in low for name in months) or str(d.month) in text
    assert date_data(10, seed=5)[0] == date_data(10, seed=5)[0]


def test_date_forms_are_unambiguous():
    """No string may mean two different dates: a model could not learn it."""
    meaning: dict[str, dt.date] = {}
    start = dt.date(1950, 1, 1).toordinal()
    for o in range(start, start + 365 * 100, 7):
        d = dt.date.fromordinal(o)
        for text in date_forms(d):
            assert meaning.setdefault(text, d) == d, f"{text!r} means {meaning[text]} and {d}"


def test_date_argument_checks_and_two_digit_years():
    assert parse_two_digit_year("19") == 2019 and parse_two_digit_year("50") == 1950 and parse_two_digit_year("49") == 2049
    with pytest.raises(ValueError, match="first_year"):
        date_data(5, first_year=1900, last_year=2049)
    with pytest.raises(ValueError, match="positive"):
        date_data(0)
    with pytest.raises(ValueError, match="datetime.date"):
        date_forms("2019-04-22")


def test_char_accuracy_pools_positions_and_counts_missing_ones_wrong():
    assert char_accuracy(["596", "12"], ["596", "13"]) == pytest.approx(4 / 5)
    assert char_accuracy(["5960"], ["596"]) == pytest.approx(3 / 4)       # an extra character is wrong
    assert char_accuracy(["", "1"], ["7", "1"]) == pytest.approx(1 / 2)
    assert char_accuracy(["abc"], ["xyz"]) == 0.0
    with pytest.raises(ValueError, match="2 predictions for 1 targets"):
        char_accuracy(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no positions"):
        char_accuracy([""], [""])
    with pytest.raises(ValueError, match="no targets"):
        char_accuracy([], [])


def test_exact_match():
    assert exact_match(["596", "12"], ["596", "13"]) == 0.5
    with pytest.raises(ValueError, match="2 predictions for 1"):
        exact_match(["a", "b"], ["a"])


# ------------------------------------------------------------------------------------- decoding
def markov_step(table):
    """A toy decoder whose next-token distribution depends only on the previous token."""
    table = np.asarray(table, dtype=float)

    def step(tokens, state):
        return table[tokens], state

    return step


def brute_force_best(table, start, end, max_len, allow_unfinished=False):
    table = np.asarray(table, dtype=float)
    best, best_lp = None, -np.inf
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(table.shape[1]), repeat=n):
            unfinished_ok = allow_unfinished and n == max_len and end not in seq
            if (seq[-1] != end and not unfinished_ok) or end in seq[:-1] or 0 in seq:
                continue
            lp, prev = 0.0, start
            for t in seq:
                lp += np.log(table[prev, t])
                prev = t
            if lp > best_lp:
                best, best_lp = seq, lp
    return best, best_lp


def test_greedy_is_beam_width_one_and_beam_finds_the_better_string():
    # From <start> (1): token 3 is likelier than 4, but after 3 every continuation is unlikely.
    table = np.full((6, 6), 1e-6)
    table[1, 3], table[1, 4] = 0.55, 0.45
    table[3, 5], table[3, 2] = 0.3, 0.3
    table[3, 4] = 0.4
    table[4, 2] = 0.99
    table[5, 2] = 0.99
    table /= table.sum(1, keepdims=True)
    state = [np.zeros((2, 1))]
    greedy = greedy_decode(markov_step(table), state, start_id=1, end_id=2, max_len=4)
    beam1, _ = beam_search_decode(markov_step(table), state, start_id=1, end_id=2, max_len=4, beam_width=1)
    assert np.array_equal(greedy, beam1)
    beam, logp = beam_search_decode(markov_step(table), state, start_id=1, end_id=2, max_len=4, beam_width=3)
    best, best_lp = brute_force_best(table, 1, 2, 4)
    assert tuple(beam[0][: len(best)]) == best == (4, 2)
    assert np.allclose(logp, best_lp)
    assert greedy[0, 0] == 3                       # greedy commits to the locally likelier token


def test_beam_search_random_tables_match_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(5):
        table = rng.dirichlet(np.ones(5), size=5)
        table[:, 0] = 1e-9                         # padding is never produced
        table /= table.sum(1, keepdims=True)
        seqs, logp = beam_search_decode(markov_step(table), [np.zeros((1, 1))], start_id=1, end_id=2, max_len=3,
                                        beam_width=25)
        best, best_lp = brute_force_best(table, 1, 2, 3, allow_unfinished=True)
        assert tuple(seqs[0][: len(best)]) == best and np.isclose(logp[0], best_lp)   # width 25 > 4**2: exhaustive
    with pytest.raises(ValueError, match="beam_width"):
        beam_search_decode(markov_step(table), [np.zeros((1, 1))], start_id=1, end_id=2, max_len=3, beam_width=0)


def test_greedy_reorders_nothing_and_pads_after_end():
    table = np.full((5, 5), 0.01)
    table[1, 4], table[4, 3], table[3, 2] = 1, 1, 1
    table /= table.sum(1, keepdims=True)
    out = greedy_decode(markov_step(table), [np.zeros((3, 2))], start_id=1, end_id=2, max_len=6)
    assert out.tolist() == [[4, 3, 2, 0, 0, 0]] * 3


@pytest.mark.parametrize("attention", [None, "dot"])
def test_keras_step_drives_a_one_step_model(attention):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    prev, ctx, h = keras.Input((1,), dtype="int32"), keras.Input((None, 4)), keras.Input((4,))
    s, h_new = keras.layers.GRU(4, return_sequences=True, return_state=True)(keras.layers.Embedding(7, 3)(prev),
                                                                              initial_state=h)
    if attention:
        s = keras.layers.Concatenate()([s, keras.layers.Attention()([s, ctx])])
    probs = keras.layers.Dense(7, activation="softmax")(s)
    model = keras.Model([prev, ctx, h], [probs, h_new])
    step = seq2seq.keras_step(model, n_context=1)
    context, h0 = np.ones((2, 5, 4), "float32"), np.zeros((2, 4), "float32")
    p, state = step(np.array([1, 1]), [context, h0])
    assert p.shape == (2, 7) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert state[0] is context and state[1].shape == (2, 4)
    out = greedy_decode(step, [context, h0], start_id=1, end_id=2, max_len=5)
    seqs, _ = beam_search_decode(step, [context, h0], start_id=1, end_id=2, max_len=5, beam_width=2)
    assert out.shape == seqs.shape == (2, 5)


# --------------------------------------------------------------------------------------- scenes
def test_scenes_answers_follow_from_the_items():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 5)
    images = (labels[:, None, None] * 20 + rng.integers(0, 5, (50, 28, 28))).astype("uint8")
    s = make_scenes(images, labels, 600, seed=1)
    assert s.images.shape == (600, 56, 56) and len(s) == 600
    names = seq2seq._SHORT
    for i in range(600):
        quads = [s.images[i, :28, :28], s.images[i, :28, 28:], s.images[i, 28:, :28], s.images[i, 28:, 28:]]
        assert [int(q.mean() // 20) for q in quads] == s.items[i].tolist()   # the picture shows the items
        q, a = s.questions[i], s.answers[i]
        if s.qtype[i] == 0:
            pos = seq2seq.POSITIONS.index(q[len("what is in the "):-2])
            assert a == names[s.items[i, pos]]
        elif s.qtype[i] == 1:
            group = q.split()[2]
            assert a == str(int(np.isin(s.items[i], FASHION_GROUPS[group]).sum()))
        else:
            words = q.split()
            x, y = names.index(words[3]), names.index(words[7])
            truth = any(s.items[i, 2 * r] == x and s.items[i, 2 * r + 1] == y for r in range(2))
            assert a == ("yes" if truth else "no")
    assert set(s.qtype.tolist()) == {0, 1, 2}
    yes = np.mean([a == "yes" for a, t in zip(s.answers, s.qtype) if t == 2])
    assert 0.4 < yes < 0.7
    with pytest.raises(ValueError, match="every class"):
        make_scenes(images[labels < 9], labels[labels < 9], 3)
    with pytest.raises(ValueError, match=r"\(n, 28, 28\)"):
        make_scenes(images[:, :20], labels, 3)
