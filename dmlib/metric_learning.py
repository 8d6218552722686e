"""Metric learning: the triplet loss with batch mining (in ``keras.ops``) and retrieval metrics (numpy).

Introduced in ``07_embeddings_recommendation``. The loss works on any Keras backend: it takes the
labels of a batch and the (L2-normalised) embeddings a network produced for it, forms every
anchor-positive-negative triplet the batch contains, and mines the ones that teach something.
The evaluation helpers are plain numpy: cosine nearest neighbours, Recall@k and k-NN accuracy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dmlib.validate import check_int as _check_int

MINING = ("random", "semi-hard", "batch-hard", "batch-all")


def _check_margin(margin: Any) -> float:
    """``margin`` as a float if it is a finite number >= 0 (NaN would make every loss NaN)."""
    if isinstance(margin, (bool, np.bool_)) or not isinstance(margin, numbers.Real) or not 0 <= margin < math.inf:
        raise ValueError(f"margin must be a finite number >= 0, not {margin!r}")
    return float(margin)


def pairwise_distances(embeddings: Any, squared: bool = False) -> Any:
    """Euclidean distances between every pair of rows, ``(n, d) -> (n, n)``, in ``keras.ops``.

    ``||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2``; negative round-off is clipped to 0, and the square
    root is taken of at least 1e-12 so that its gradient stays finite on the diagonal.

    Example:
        >>> d = pairwise_distances(np.array([[0.0, 0.0], [3.0, 4.0]], dtype="float32"))
        >>> np.round(np.asarray(d), 4).tolist()
        [[0.0, 5.0], [5.0, 0.0]]
    """
    from keras import ops

    e = ops.convert_to_tensor(embeddings)
    sq = ops.sum(ops.square(e), axis=1)
    d2 = ops.maximum(sq[:, None] - 2.0 * ops.matmul(e, ops.transpose(e)) + sq[None, :], 0.0)
    if squared:
        return d2
    d = ops.sqrt(ops.maximum(d2, 1e-12))
    return ops.where(d2 <= 1e-12, ops.zeros_like(d), d)


def triplet_loss(labels: Any, embeddings: Any, *, margin: float = 0.2, mining: str = "semi-hard") -> Any:
    """The triplet loss of one batch, ``mean max(d(a, p) - d(a, n) + margin, 0)``, with a mining rule.

    Every anchor ``a`` is paired with a positive ``p`` (same label, not itself) and a negative
    ``n`` (another label) from the same batch. The rules:

    - ``"random"``: the mean over *all* valid triplets, i.e. the expected loss of a triplet drawn
      at random (no randomness needed, so it is the same on every backend);
    - ``"batch-all"``: the mean over the triplets that still violate the margin (Hermans et al. 2017);
    - ``"semi-hard"``: for each anchor-positive pair, the closest negative that is farther than the
      positive (inside the margin band); if there is none, the farthest negative (Schroff et al. 2015);
    - ``"batch-hard"``: for each anchor, its farthest positive and closest negative (Hermans et al. 2017).

    Args:
        labels: integer class labels, shape ``(n,)`` or ``(n, 1)``.
        embeddings: shape ``(n, d)``; usually L2-normalised, so distances lie in [0, 2].
        margin: the gap wanted between negative and positive distances.
        mining: one of ``MINING``.

    Returns:
        A scalar tensor (0 when the batch holds no valid triplet).

    Raises:
        ValueError: for an unknown mining rule or a margin that is not a finite number >= 0.

    Example:
        >>> emb = np.array([[1, 0], [1, 0], [0, 1]], dtype="float32")
        >>> float(triplet_loss(np.array([0, 0, 1]), emb, margin=0.2, mining="batch-hard"))
        0.0
    """
    from keras import ops

    if mining not in MINING:
        raise ValueError(f"mining must be one of {MINING}, not {mining!r}")
    margin = _check_margin(margin)
    y = ops.reshape(ops.convert_to_tensor(labels), (-1,))
    d = pairwise_distances(embeddings)
    n = ops.shape(d)[0]
    same = ops.equal(y[:, None], y[None, :])
    eye = ops.cast(ops.eye(n), "bool")
    pos = ops.logical_and(same, ops.logical_not(eye))
    neg = ops.logical_not(same)
    posf, negf = ops.cast(pos, d.dtype), ops.cast(neg, d.dtype)
    big = ops.max(d) + 1.0

    if mining in ("random", "batch-all"):
        # t[a, p, n] = d(a, p) - d(a, n) + margin over every triplet, masked to the valid ones
        t = ops.relu(d[:, :, None] - d[:, None, :] + margin)
        valid = posf[:, :, None] * negf[:, None, :]
        t = t * valid
        count = ops.sum(valid) if mining == "random" else ops.sum(ops.cast(t > 1e-16, d.dtype))
        return ops.sum(t) / ops.maximum(count, 1.0)
    if mining == "batch-hard":
        hardest_pos = ops.max(d * posf, axis=1)
        hardest_neg = ops.min(d + big * (1.0 - negf), axis=1)
        has = ops.cast(ops.logical_and(ops.any(pos, axis=1), ops.any(neg, axis=1)), d.dtype)
        per_anchor = ops.relu(hardest_pos - hardest_neg + margin) * has
        return ops.sum(per_anchor) / ops.maximum(ops.sum(has), 1.0)
    # semi-hard: for every (a, p), among negatives with d(a, n) > d(a, p) take the smallest d(a, n)
    d_ap = d[:, :, None]
    d_an = d[:, None, :]
    outside = ops.logical_and(ops.cast(negf[:, None, :], "bool"), d_an > d_ap)
    semi = ops.min(ops.where(outside, ops.broadcast_to(d_an, ops.shape(outside)), big), axis=2)
    easiest = ops.max(d * negf, axis=1)[:, None]  # if no negative lies outside: the farthest one
    chosen = ops.where(ops.any(outside, axis=2), semi, ops.broadcast_to(easiest, ops.shape(semi)))
    losses = ops.relu(d - chosen + margin) * posf
    has_neg = ops.cast(ops.any(neg, axis=1), d.dtype)[:, None]
    weight = posf * has_neg
    return ops.sum(losses * has_neg) / ops.maximum(ops.sum(weight), 1.0)


def triplet_loss_fn(*, margin: float = 0.2, mining: str = "semi-hard") -> Callable[[Any, Any], Any]:
    """A Keras loss ``f(y_true, y_pred)`` (labels, embeddings) for ``model.compile(loss=...)``.

    Example:
        >>> loss = triplet_loss_fn(margin=0.2, mining="semi-hard")
        >>> loss.__name__
        'triplet_semi_hard'
    """
    if mining not in MINING:
        raise ValueError(f"mining must be one of {MINING}, not {mining!r}")
    margin = _check_margin(margin)

    def loss(y_true: Any, y_pred: Any) -> Any:
        return triplet_loss(y_true, y_pred, margin=margin, mining=mining)

    loss.__name__ = "triplet_" + mining.replace("-", "_")
    return loss


def _unit(x: np.ndarray, name: str) -> np.ndarray:
    """Rows of ``x`` (each flattened) scaled to unit length; NaN or infinite values are refused."""
    x = np.asarray(x, dtype=np.float32)
    x = x.reshape(len(x), -1)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} hold {int((~np.isfinite(x)).sum())} NaN or infinite values")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _check_labels(labels: Any, n: int, name: str, rows: str) -> np.ndarray:
    """``labels`` flattened, refusing a count other than one per row (no broadcasting)."""
    out = np.asarray(labels).ravel()
    if len(out) != n:
        raise ValueError(f"{rows} has {n} rows but {name} has {len(out)} labels; give one label per row")
    return out


def cosine_neighbours(queries: np.ndarray, gallery: np.ndarray | None = None, *, k: int = 5,
                      batch_size: int = 1024) -> np.ndarray:
    """Indices of the ``k`` gallery rows most cosine-similar to each query, nearest first.

    With ``gallery=None`` the queries are searched among themselves and each query's own row is
    excluded (leave-one-out retrieval). Works in batches, so 10,000 x 60,000 fits in memory.

    Raises:
        ValueError: for ``k`` not an integer between 1 and the gallery size, ``batch_size`` not an
            integer >= 1, queries and gallery with different numbers of features, or NaN/inf.

    Example:
        >>> cosine_neighbours(np.array([[1.0, 0.1]]), np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), k=2).tolist()
        [[1, 2]]
    """
    batch_size = _check_int("batch_size", batch_size, 1)
    q = _unit(queries, "queries")
    self_search = gallery is None
    g = q if self_search else _unit(gallery, "gallery")
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} features but the gallery has {g.shape[1]}")
    size = len(g) - int(self_search)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or not 1 <= k <= size:
        raise ValueError(f"k must be an integer between 1 and the gallery size ({size}), got k={k!r}")
    k = int(k)
    out = np.empty((len(q), k), dtype=np.int64)
    for start in range(0, len(q), batch_size):
        sims = q[start : start + batch_size] @ g.T
        if self_search:
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -np.inf
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        out[start : start + batch_size] = np.take_along_axis(part, order, axis=1)
    return out


def recall_at_k(embeddings: np.ndarray, labels: np.ndarray, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Recall@k of leave-one-out retrieval: the share of items with a same-label item among their k nearest.

    Each item queries all the others (cosine similarity), as in the metric-learning literature.

    Raises:
        ValueError: for an empty ``ks`` or one that is not integers >= 1, a label count other than
            one per embedding, or NaN/inf embeddings.

    Example:
        >>> emb = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
        >>> recall_at_k(emb, np.array([0, 0, 1, 1]), ks=(1,))
        {1: 1.0}
    """
    ks = tuple(ks)
    if not ks or any(isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of integers >= 1, got {ks!r}")
    labels = _check_labels(labels, len(embeddings), "labels", "embeddings")
    nn = cosine_neighbours(embeddings, k=max(ks))
    hit = labels[nn] == labels[:, None]
    return {k: float(hit[:, :k].any(axis=1).mean()) for k in ks}


def knn_predict(train_embeddings: np.ndarray, train_labels: np.ndarray, query_embeddings: np.ndarray, *,
                k: int = 5) -> np.ndarray:
    """Majority vote of the ``k`` cosine-nearest training items; ties go to the class met first.

    Raises:
        ValueError: for labels that are not one non-negative integer per training item, or a bad ``k``.

    Example:
        >>> knn_predict(np.array([[1, 0], [0, 1], [1, 0.2]]), np.array([3, 7, 3]), np.array([[1, 0.1]]), k=3).tolist()
        [3]
    """
    train_labels = _check_labels(train_labels, len(train_embeddings), "train_labels", "train_embeddings")
    # The labels index a vote table: a negative one would count for the class at the end of it.
    if not np.issubdtype(train_labels.dtype, np.integer) or (train_labels.size and train_labels.min() < 0):
        raise ValueError(f"train_labels must be non-negative integers (class ids), got dtype {train_labels.dtype}"
                         + (f" and a minimum of {train_labels.min()}" if train_labels.size else ""))
    nn = cosine_neighbours(query_embeddings, train_embeddings, k=k)
    votes = train_labels[nn]
    n_classes = int(train_labels.max()) + 1
    # one vote per neighbour, plus a small bonus for nearer ranks that only breaks ties
    weights = 1.0 + 1e-3 * (k - np.arange(k))[None, :]
    counts = np.zeros((len(votes), n_classes))
    np.add.at(counts, (np.repeat(np.arange(len(votes)), k), votes.ravel()), np.broadcast_to(weights, votes.shape).ravel())
    return counts.argmax(axis=1)


def knn_accuracy(train_embeddings: np.ndarray, train_labels: np.ndarray, query_embeddings: np.ndarray,
                 query_labels: np.ndarray, *, k: int = 5) -> float:
    """Accuracy of the cosine k-NN classifier (see :func:`knn_predict`) on labelled queries.

    Example:
        >>> knn_accuracy(np.eye(2), np.array([0, 1]), np.array([[1, 0.1], [0.2, 1]]), np.array([0, 1]), k=1)
        1.0
    """
    query_labels = _check_labels(query_labels, len(query_embeddings), "query_labels", "query_embeddings")
    pred = knn_predict(train_embeddings, train_labels, query_embeddings, k=k)
    return float(np.mean(pred == query_labels))
