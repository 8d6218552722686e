"""dmlib.recsys: splits, negatives, ranking metrics, pairs and next-item windows on small frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dmlib import recsys


def _ratings(n_users=5, per_user=6, n_items=30, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        for rank, i in enumerate(rng.choice(np.arange(1, n_items + 1), per_user, replace=False)):
            rows.append((u, int(i), int(rng.integers(1, 6)), 1000 + 10 * rank + int(rng.integers(0, 3))))
    df = pd.DataFrame(rows, columns=list(recsys.COLUMNS))
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_leave_one_out_holds_out_the_last_two_in_time():
    df = _ratings()
    train, val, test = recsys.leave_one_out(df)
    assert len(train) + len(val) + len(test) == len(df)
    assert sorted(val.user_id) == sorted(test.user_id) == list(range(1, 6))
    for u in range(1, 6):
        times = df[df.user_id == u].sort_values("timestamp", kind="stable").timestamp.tolist()
        assert test[test.user_id == u].timestamp.item() == times[-1]
        assert val[val.user_id == u].timestamp.item() <= times[-1]
        assert train[train.user_id == u].timestamp.max() <= val[val.user_id == u].timestamp.item()


def test_leave_one_out_keeps_short_users_in_training_and_checks_columns():
    df = pd.DataFrame({"user_id": [1, 1, 2, 2, 2], "item_id": [1, 2, 3, 4, 5], "rating": 3,
                       "timestamp": [1, 2, 1, 2, 3]})
    train, val, test = recsys.leave_one_out(df)
    assert sorted(train[train.user_id == 1].item_id) == [1, 2] and 1 not in set(test.user_id)
    with pytest.raises(ValueError, match="timestamp"):
        recsys.leave_one_out(df.drop(columns="timestamp"))


def test_holdout_split_partitions():
    df = _ratings()
    fit, val = recsys.holdout_split(df, frac=0.2, seed=1)
    assert len(fit) + len(val) == len(df) and len(val) == 6
    merged = pd.concat([fit, val]).sort_values(list(recsys.COLUMNS)).reset_index(drop=True)
    assert merged.equals(df.sort_values(list(recsys.COLUMNS)).reset_index(drop=True))
    with pytest.raises(ValueError, match="frac"):
        recsys.holdout_split(df, frac=1.5)


def test_sample_negatives_are_unseen_distinct_and_reproducible():
    seen = {1: {1, 2, 3}, 2: set(range(1, 15))}
    neg = recsys.sample_negatives(seen, np.array([1, 2]), n_items=20, n=5, seed=3)
    assert neg.shape == (2, 5)
    for row, u in zip(neg, [1, 2]):
        assert len(set(row)) == 5 and not set(row) & seen[u] and row.min() >= 1 and row.max() <= 20
    assert (neg == recsys.sample_negatives(seen, np.array([1, 2]), n_items=20, n=5, seed=3)).all()
    with pytest.raises(ValueError, match="unseen"):
        recsys.sample_negatives(seen, np.array([2]), n_items=20, n=7)


def test_ranking_metrics_by_hand():
    scores = np.array([[5.0, 1, 2, 3],   # rank 0
                       [2.0, 3, 1, 0],   # rank 1
                       [0.0, 1, 2, 3],   # rank 3
                       [1.0, 1, 0, 0]])  # tie counts against: rank 1
    m = recsys.ranking_metrics(scores, k=2)
    assert m["hr"] == pytest.approx(3 / 4)
    assert m["ndcg"] == pytest.approx((1 + 2 * (1 / np.log2(3))) / 4)
    assert recsys.ranking_metrics(np.zeros((3, 5)), k=4)["hr"] == 0.0
    with pytest.raises(ValueError, match="shape"):
        recsys.ranking_metrics(np.zeros(4))


def test_candidates_and_popularity():
    assert recsys.candidates(np.array([9, 8]), np.array([[1, 2], [3, 4]])).tolist() == [[9, 1, 2], [8, 3, 4]]
    pop = recsys.item_popularity(pd.DataFrame({"item_id": [2, 2, 5]}), n_items=5)
    assert pop.tolist() == [0, 0, 2, 0, 0, 1]


def test_implicit_pairs_labels_and_negatives():
    df = _ratings(n_users=3, per_user=4, n_items=12)
    u, i, y = recsys.implicit_pairs(df, n_items=12, n_neg=3, seed=0)
    assert len(u) == len(i) == len(y) == 4 * len(df) and y.sum() == len(df)
    seen = set(zip(df.user_id, df.item_id))
    assert all((a, b) in seen for a, b in zip(u[y == 1], i[y == 1]))
    assert sum((a, b) in seen for a, b in zip(u[y == 0], i[y == 0])) == 0


def test_user_sequences_and_windows_align_targets():
    seqs = recsys.user_sequences(pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [3, 1, 2, 7, 8],
                                               "timestamp": [3, 1, 2, 5, 5]}))
    assert seqs[1].tolist() == [1, 2, 3] and seqs[2].tolist() == [7, 8]
    long = {1: np.arange(1, 12)}
    x, y = recsys.next_item_windows(long, maxlen=4)
    assert x.shape == y.shape and x.shape[1] == 4
    targets = sorted(int(t) for t in y[y > 0])
    assert targets == list(range(2, 12))  # every next item is a target exactly once
    mask = y[:, :-1] > 0
    assert (x[:, 1:][mask] == y[:, :-1][mask]).all()
    with pytest.raises(ValueError, match="maxlen"):
        recsys.next_item_windows(long, maxlen=0)


def test_last_items_and_rmse():
    x = recsys.last_items({1: np.array([4, 5, 6, 7])}, np.array([1, 2]), maxlen=3)
    assert x.tolist() == [[5, 6, 7], [0, 0, 0]]
    rmse, mae = recsys.rmse_mae([1, 2, 3], [1, 2, 5])
    assert rmse == pytest.approx(np.sqrt(4 / 3)) and mae == pytest.approx(2 / 3)
