"""Recommender-system plumbing: splits, sampled-negative ranking metrics, baselines and sequences.

Introduced in ``07_embeddings_recommendation``. Everything is numpy / pandas on a ratings frame with
the columns ``user_id``, ``item_id``, ``rating``, ``timestamp`` (MovieLens' layout; ids start at 1,
so 0 is free for padding). The protocol of the implicit-feedback part is He et al. (NCF, WWW 2017):
each user's last interaction is the test item, the one before it the validation item, and a model
ranks the held-out item among ``n`` items the user never interacted with; HR@10 is the share of
users whose held-out item lands in the top 10, NDCG@10 also rewards a higher place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("user_id", "item_id", "rating", "timestamp")


def _check(df: pd.DataFrame, columns: tuple[str, ...] = ("user_id", "item_id", "timestamp")) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the ratings frame lacks the columns {missing}; expected {list(COLUMNS)} "
                         "(as dmlib.datasets.load_movielens returns)")


def holdout_split(df: pd.DataFrame, *, frac: float = 0.1, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ratings at random into (train, validation), e.g. to carve validation out of a CV fold.

    Example:
        >>> df = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "rating": 4, "timestamp": 0})
        >>> fit, val = holdout_split(df, frac=0.25, seed=0)
        >>> len(fit), len(val)
        (3, 1)
    """
    if not 0 < frac < 1:
        raise ValueError(f"frac must lie in (0, 1), not {frac}")
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(df), dtype=bool)
    mask[rng.permutation(len(df))[: int(round(frac * len(df)))]] = True
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)


def leave_one_out(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per user in time order: all but the last two interactions (train), the second last (validation), the last (test).

    Ties in time are broken by the row order of ``df``. Users with fewer than 3 interactions are
    kept in training only.

    Example:
        >>> df = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [5, 6, 7], "rating": 3, "timestamp": [3, 1, 2]})
        >>> train, val, test = leave_one_out(df)
        >>> train.item_id.tolist(), val.item_id.tolist(), test.item_id.tolist()
        ([6], [7], [5])
    """
    _check(df)
    d = df.reset_index(drop=True)
    d = d.assign(_row=np.arange(len(d))).sort_values(["user_id", "timestamp", "_row"], kind="stable")
    pos_from_end = d.groupby("user_id").cumcount(ascending=False)
    size = d.groupby("user_id")["item_id"].transform("size")
    test = (pos_from_end == 0) & (size >= 3)
    val = (pos_from_end == 1) & (size >= 3)
    out = [part.drop(columns="_row").reset_index(drop=True) for part in (d[~test & ~val], d[val], d[test])]
    return out[0], out[1], out[2]


def sample_negatives(seen: Mapping[int, set[int]], users: np.ndarray, n_items: int, *, n: int = 99,
                     seed: int = 0) -> np.ndarray:
    """For each user, ``n`` distinct item ids (1..n_items) the user never interacted with.

    Args:
        seen: user id -> every item the user interacted with (train, validation and test).
        users: the users to sample for, in order.
        n_items: the largest item id.
        n: negatives per user.
        seed: seed of the sampler.

    Returns:
        ``(len(users), n)`` int array.

    Example:
        >>> neg = sample_negatives({1: {1, 2}}, np.array([1]), n_items=10, n=5, seed=0)
        >>> neg.shape, bool(set(neg[0]) & {1, 2})
        ((1, 5), False)
    """
    rng = np.random.default_rng(seed)
    out = np.empty((len(users), n), dtype=np.int64)
    for row, u in enumerate(users):
        s = seen.get(int(u), set())
        if n_items - len(s) < n:
            raise ValueError(f"user {u} has only {n_items - len(s)} unseen items, fewer than n={n}")
        picked: list[int] = []
        while len(picked) < n:
            cand = rng.integers(1, n_items + 1, size=2 * n)
            for c in cand:
                c = int(c)
                if c not in s and c not in picked:
                    picked.append(c)
                    if len(picked) == n:
                        break
        out[row] = picked
    return out


def candidates(held_out: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """The items each model must rank: the held-out item in column 0, then the negatives.

    Example:
        >>> candidates(np.array([7]), np.array([[1, 2]])).tolist()
        [[7, 1, 2]]
    """
    return np.column_stack([np.asarray(held_out).ravel(), negatives])


def ranking_metrics(scores: np.ndarray, *, k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k when column 0 of ``scores`` is the held-out item and the rest are negatives.

    The rank of the held-out item counts the negatives scored *at least* as high (ties count
    against the model, so a constant score gets HR 0, not a lucky draw).
    NDCG@k = 1 / log2(rank + 2) if rank < k else 0 (rank 0 = top).

    Returns:
        ``{"hr": ..., "ndcg": ...}``, means over the rows.

    Example:
        >>> ranking_metrics(np.array([[0.9, 0.1, 0.2], [0.1, 0.5, 0.9]]), k=1)
        {'hr': 0.5, 'ndcg': 0.5}
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"scores must have shape (users, 1 + negatives), not {s.shape}")
    rank = (s[:, 1:] >= s[:, :1]).sum(axis=1)
    hit = rank < k
    return {"hr": float(hit.mean()), "ndcg": float(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean())}


def item_popularity(train: pd.DataFrame, n_items: int) -> np.ndarray:
    """Interactions per item id in the training data, ``(n_items + 1,)`` (index 0 unused): the popularity baseline's score.

    Example:
        >>> item_popularity(pd.DataFrame({"item_id": [1, 1, 3]}), 3).tolist()
        [0, 2, 0, 1]
    """
    return np.bincount(np.asarray(train["item_id"], dtype=np.int64), minlength=n_items + 1)[: n_items + 1]


def implicit_pairs(train: pd.DataFrame, n_items: int, *, n_neg: int = 4,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training pairs for implicit feedback: each interaction (label 1) plus ``n_neg`` random items (label 0).

    Negatives are drawn uniformly from all items the user did not interact with in ``train``
    (re-draw them every epoch with a new seed, as He et al. do).

    Returns:
        ``(users, items, labels)``, shuffled.

    Example:
        >>> u, i, y = implicit_pairs(pd.DataFrame({"user_id": [1], "item_id": [2]}), n_items=5, n_neg=2)
        >>> len(u), int(y.sum())
        (3, 1)
    """
    rng = np.random.default_rng(seed)
    users = np.asarray(train["user_id"], dtype=np.int64)
    items = np.asarray(train["item_id"], dtype=np.int64)
    seen = set(zip(users.tolist(), items.tolist()))
    neg_u = np.repeat(users, n_neg)
    neg_i = rng.integers(1, n_items + 1, size=len(neg_u))
    for _ in range(20):  # re-draw the few that hit a seen item
        bad = np.fromiter(((u, i) in seen for u, i in zip(neg_u.tolist(), neg_i.tolist())), bool, len(neg_u))
        if not bad.any():
            break
        neg_i[bad] = rng.integers(1, n_items + 1, size=int(bad.sum()))
    u = np.concatenate([users, neg_u])
    i = np.concatenate([items, neg_i])
    y = np.concatenate([np.ones(len(users)), np.zeros(len(neg_u))]).astype(np.float32)
    order = rng.permutation(len(u))
    return u[order], i[order], y[order]


def user_sequences(df: pd.DataFrame) -> dict[int, np.ndarray]:
    """Each user's item ids in time order (ties by row order).

    Example:
        >>> user_sequences(pd.DataFrame({"user_id": [1, 1], "item_id": [4, 3], "timestamp": [2, 1]}))[1].tolist()
        [3, 4]
    """
    _check(df)
    d = df.reset_index(drop=True)
    d = d.assign(_row=np.arange(len(d))).sort_values(["user_id", "timestamp", "_row"], kind="stable")
    return {int(u): g.to_numpy(dtype=np.int64) for u, g in d.groupby("user_id")["item_id"]}


def next_item_windows(sequences: Mapping[int, np.ndarray], *, maxlen: int,
                      stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training windows for a next-item model: inputs ``x[t]`` and targets ``y[t] = x[t + 1]``.

    Each sequence is cut, from its end, into windows of ``maxlen + 1`` items every ``stride`` items
    (default ``maxlen``: no overlap); a window shorter than that is left-padded with 0. Targets are 0
    where the input is padding (use ``ignore_class=0`` in the loss).

    Returns:
        ``(x, y)``, both ``(n_windows, maxlen)`` int32.

    Example:
        >>> x, y = next_item_windows({1: np.array([5, 6, 7])}, maxlen=3)
        >>> x.tolist(), y.tolist()
        ([[0, 5, 6]], [[0, 6, 7]])
    """
    if maxlen < 1:
        raise ValueError(f"maxlen must be >= 1, not {maxlen}")
    stride = maxlen if stride is None else stride
    xs, ys = [], []
    for seq in sequences.values():
        seq = np.asarray(seq)
        if len(seq) < 2:
            continue
        end = len(seq)
        while True:
            w = seq[max(0, end - maxlen - 1) : end]
            x = np.zeros(maxlen, dtype=np.int32)
            y = np.zeros(maxlen, dtype=np.int32)
            x[maxlen - len(w) + 1 :] = w[:-1]
            y[maxlen - len(w) + 1 :] = w[1:]
            xs.append(x)
            ys.append(y)
            if end - maxlen - 1 <= 0:
                break
            end -= stride
    return np.array(xs, dtype=np.int32).reshape(-1, maxlen), np.array(ys, dtype=np.int32).reshape(-1, maxlen)


def last_items(sequences: Mapping[int, np.ndarray], users: np.ndarray, *, maxlen: int) -> np.ndarray:
    """The last ``maxlen`` items of each user's sequence, left-padded with 0: the input that predicts the next item.

    Example:
        >>> last_items({1: np.array([5, 6, 7])}, np.array([1]), maxlen=4).tolist()
        [[0, 5, 6, 7]]
    """
    out = np.zeros((len(users), maxlen), dtype=np.int32)
    for row, u in enumerate(users):
        seq = np.asarray(sequences.get(int(u), []))[-maxlen:]
        if len(seq):
            out[row, maxlen - len(seq) :] = seq
    return out


def rmse_mae(y_true: Any, y_pred: Any) -> tuple[float, float]:
    """Root mean squared error and mean absolute error of rating predictions.

    Example:
        >>> rmse_mae([1, 3], [2, 3])
        (0.7071067811865476, 0.5)
    """
    err = np.asarray(y_pred, dtype=np.float64).ravel() - np.asarray(y_true, dtype=np.float64).ravel()
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))
