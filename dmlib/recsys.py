"""Recommender-system plumbing: splits, sampled-negative ranking metrics, baselines and sequences.

Introduced in ``07_embeddings_recommendation``. Everything is numpy / pandas on a ratings frame with
the columns ``user_id``, ``item_id``, ``rating``, ``timestamp`` (MovieLens' layout; ids start at 1,
so 0 is free for padding). The protocol of the implicit-feedback part is He et al. (NCF, WWW 2017):
each user's last interaction is the test item, the one before it the validation item, and a model
ranks the held-out item among ``n`` items the user never interacted with; HR@10 is the share of
users whose held-out item lands in the top 10, NDCG@10 also rewards a higher place.
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dmlib.validate import check_int as _check_int

COLUMNS = ("user_id", "item_id", "rating", "timestamp")


def _check_finite(values: np.ndarray, name: str) -> None:
    """Refuse an empty array or one holding NaN or infinity (a metric of them would be meaningless)."""
    if values.size == 0:
        raise ValueError(f"{name} is empty: nothing to score")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} hold {int((~np.isfinite(values)).sum())} NaN or infinite values "
                         f"(first at flat index {int(np.argmax(~np.isfinite(values.ravel())))}); "
                         "a model that outputs them has diverged")


def _check_item_ids(items: np.ndarray, n_items: int, low: int = 1) -> None:
    """Refuse item ids outside ``low..n_items``."""
    if items.size and (items.min() < low or items.max() > n_items):
        bad = items[(items < low) | (items > n_items)][0]
        raise ValueError(f"item ids must lie in {low}..n_items={n_items}, got {bad}; "
                         "pass n_items = the largest item id")


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
    if isinstance(frac, (bool, np.bool_)) or not isinstance(frac, numbers.Real) or not 0 < frac < 1:
        raise ValueError(f"frac must lie in (0, 1), not {frac!r}")
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

    Raises:
        ValueError: if ``n_items`` or ``n`` is not an integer >= 1, or a user has fewer than ``n``
            unseen items.

    Example:
        >>> neg = sample_negatives({1: {1, 2}}, np.array([1]), n_items=10, n=5, seed=0)
        >>> neg.shape, bool(set(neg[0]) & {1, 2})
        ((1, 5), False)
    """
    n_items, n = _check_int("n_items", n_items, 1), _check_int("n", n, 1)
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

    Raises:
        ValueError: if ``negatives`` is not 2-D with one row per held-out item.

    Example:
        >>> candidates(np.array([7]), np.array([[1, 2]])).tolist()
        [[7, 1, 2]]
    """
    held, neg = np.asarray(held_out).ravel(), np.asarray(negatives)
    if neg.ndim != 2 or len(neg) != len(held):
        raise ValueError(f"negatives must have one row per held-out item: {len(held)} held-out items but "
                         f"negatives of shape {neg.shape}")
    return np.column_stack([held, neg])


def ranking_metrics(scores: np.ndarray, *, k: int = 10) -> dict[str, float]:
    """HR@k and NDCG@k when column 0 of ``scores`` is the held-out item and the rest are negatives.

    The rank of the held-out item counts the negatives scored *at least* as high (ties count
    against the model, so a constant score gets HR 0, not a lucky draw).
    NDCG@k = 1 / log2(rank + 2) if rank < k else 0 (rank 0 = top).

    Returns:
        ``{"hr": ..., "ndcg": ...}``, means over the rows.

    Raises:
        ValueError: for scores that are not a non-empty ``(users, 1 + negatives)`` array of finite
            numbers (a NaN compares false with everything, so it would rank first), or ``k`` not an
            integer >= 1.

    Example:
        >>> ranking_metrics(np.array([[0.9, 0.1, 0.2], [0.1, 0.5, 0.9]]), k=1)
        {'hr': 0.5, 'ndcg': 0.5}
    """
    k = _check_int("k", k, 1)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"scores must have shape (users, 1 + negatives), not {s.shape}")
    _check_finite(s, "scores")
    rank = (s[:, 1:] >= s[:, :1]).sum(axis=1)
    hit = rank < k
    return {"hr": float(hit.mean()), "ndcg": float(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean())}


def item_popularity(train: pd.DataFrame, n_items: int) -> np.ndarray:
    """Interactions per item id in the training data, ``(n_items + 1,)`` (index 0 unused): the popularity baseline's score.

    Raises:
        ValueError: if ``n_items`` is not an integer >= 1 or an item id lies outside 0..n_items.

    Example:
        >>> item_popularity(pd.DataFrame({"item_id": [1, 1, 3]}), 3).tolist()
        [0, 2, 0, 1]
    """
    n_items = _check_int("n_items", n_items, 1)
    items = np.asarray(train["item_id"], dtype=np.int64)
    _check_item_ids(items, n_items, low=0)
    return np.bincount(items, minlength=n_items + 1)[: n_items + 1]


def implicit_pairs(train: pd.DataFrame, n_items: int, *, n_neg: int = 4,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training pairs for implicit feedback: each interaction (label 1) plus ``n_neg`` random items (label 0).

    Negatives are drawn uniformly from all items the user did not interact with in ``train``
    (re-draw them every epoch with a new seed, as He et al. do): a draw that hits a seen item is
    redrawn, up to 20 times, and the few still seen after that (users who saw nearly every item)
    are drawn from the user's unseen items directly.

    Returns:
        ``(users, items, labels)``, shuffled.

    Raises:
        ValueError: if ``n_items`` or ``n_neg`` is not an integer >= 1, an item id lies outside
            1..n_items, or a user has interacted with every item (no negative exists).

    Example:
        >>> u, i, y = implicit_pairs(pd.DataFrame({"user_id": [1], "item_id": [2]}), n_items=5, n_neg=2)
        >>> len(u), int(y.sum())
        (3, 1)
    """
    n_items, n_neg = _check_int("n_items", n_items, 1), _check_int("n_neg", n_neg, 1)
    rng = np.random.default_rng(seed)
    users = np.asarray(train["user_id"], dtype=np.int64)
    items = np.asarray(train["item_id"], dtype=np.int64)
    _check_item_ids(items, n_items)
    seen = set(zip(users.tolist(), items.tolist()))
    full = sorted(u for u, count in Counter(u for u, _ in seen).items() if count >= n_items)
    if full:
        raise ValueError(f"user {full[0]} has interacted with every item (n_items={n_items})"
                         + (f", and so have {len(full) - 1} more users" if len(full) > 1 else "")
                         + ": no negative item exists; drop such users from train")
    neg_u = np.repeat(users, n_neg)
    neg_i = rng.integers(1, n_items + 1, size=len(neg_u))

    def hits_seen() -> np.ndarray:
        return np.fromiter(((u, i) in seen for u, i in zip(neg_u.tolist(), neg_i.tolist())), bool, len(neg_u))

    for _ in range(20):  # re-draw the few that hit a seen item
        bad = hits_seen()
        if not bad.any():
            break
        neg_i[bad] = rng.integers(1, n_items + 1, size=int(bad.sum()))
    else:  # users who saw nearly every item: draw the rest from what each has not seen
        bad = hits_seen()
        for u in np.unique(neg_u[bad]).tolist():
            rows = np.flatnonzero(bad & (neg_u == u))
            unseen = np.setdiff1d(np.arange(1, n_items + 1), items[users == u])
            neg_i[rows] = rng.choice(unseen, size=len(rows))
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

    Raises:
        ValueError: if ``maxlen`` or ``stride`` is not an integer >= 1.

    Example:
        >>> x, y = next_item_windows({1: np.array([5, 6, 7])}, maxlen=3)
        >>> x.tolist(), y.tolist()
        ([[0, 5, 6]], [[0, 6, 7]])
    """
    maxlen = _check_int("maxlen", maxlen, 1)
    stride = maxlen if stride is None else _check_int("stride", stride, 1)
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

    Raises:
        ValueError: if ``maxlen`` is not an integer >= 1.

    Example:
        >>> last_items({1: np.array([5, 6, 7])}, np.array([1]), maxlen=4).tolist()
        [[0, 5, 6, 7]]
    """
    maxlen = _check_int("maxlen", maxlen, 1)
    out = np.zeros((len(users), maxlen), dtype=np.int32)
    for row, u in enumerate(users):
        seq = np.asarray(sequences.get(int(u), []))[-maxlen:]
        if len(seq):
            out[row, maxlen - len(seq) :] = seq
    return out


def rmse_mae(y_true: Any, y_pred: Any) -> tuple[float, float]:
    """Root mean squared error and mean absolute error of rating predictions.

    Both arguments are flattened, so ``(n, 1)`` model outputs pair with ``(n,)`` ratings.

    Raises:
        ValueError: if the two hold different numbers of values (no broadcasting), none, or NaN or
            infinite values.

    Example:
        >>> rmse_mae([1, 3], [2, 3])
        (0.7071067811865476, 0.5)
    """
    true = np.asarray(y_true, dtype=np.float64).ravel()
    pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if true.size != pred.size:
        raise ValueError(f"y_true has {true.size} values but y_pred has {pred.size}; give one prediction per rating")
    _check_finite(true, "y_true")
    _check_finite(pred, "y_pred")
    err = pred - true
    return float(np.sqrt(np.mean(err**2))), float(np.mean(np.abs(err)))
