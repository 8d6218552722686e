"""Plumbing of notebook 06 (unsupervised mining): cluster scoring, a DEC-style refinement, subspace
angles, outlier-detector scores and alert budgets.

What the notebook teaches (autoencoders, the k-means objective, the Student-t soft assignment and
the sharpened target of DEC, ROC-AUC) is explained and computed there; this module holds the parts
that are the same every time: matching clusters to classes with the Hungarian algorithm, the loop
that alternates DEC's target distribution and gradient steps, the largest principal angle between
two subspaces, PyOD's "PCA" detector score, repeated stratified 60/40 splits for detector
benchmarks, and precision at k. Numpy in, numpy out; Keras only through ``keras`` / ``keras.ops``.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import subspace_angles
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from sklearn.metrics import adjusted_rand_score, average_precision_score, normalized_mutual_info_score, roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.preprocessing import StandardScaler

from dmlib.validate import check_int as _check_int

__all__ = [
    "ClusteringLayer",
    "DECResult",
    "cluster_accuracy",
    "cluster_scores",
    "dec_refine",
    "evaluate_detectors",
    "match_clusters",
    "pca_axis_scores",
    "pca_reconstruction_scores",
    "precision_at_k",
    "soft_assignment",
    "subspace_angle_degrees",
    "target_distribution",
]


# ---------------------------------------------------------------------------------------------
# Scoring a clustering against labels that were kept aside
# ---------------------------------------------------------------------------------------------

def _check_positive(name: str, value: Any, *, zero: bool = False) -> float:
    """``value`` as a float if it is a finite real number ``> 0`` (``>= 0`` with ``zero``); else a ValueError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value) \
        and (value >= 0 if zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>=' if zero else '>'} 0, got {value!r}")
    return float(value)


def _labels(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a flat array of integer labels, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError(f"{name} must hold integer labels (cluster ids or classes), got dtype {arr.dtype}")
        arr = arr.astype(int)
    return arr


def match_clusters(y_true: Any, y_pred: Any) -> dict[int, int]:
    """The one-to-one map cluster -> class that maximises agreement (Hungarian algorithm).

    Built on ``scipy.optimize.linear_sum_assignment`` over the contingency table; clusters left
    without a class (more clusters than classes) map to -1.

    Args:
        y_true: the classes, integers (only used to score; the clustering never saw them).
        y_pred: the cluster ids, integers.

    Returns:
        ``{cluster_id: class}`` for every cluster id in ``y_pred``.

    Raises:
        ValueError: if the arrays differ in length or are not flat integer labels.

    Example:
        >>> match_clusters([0, 0, 1, 1, 2], [2, 2, 0, 0, 1])
        {0: 1, 1: 2, 2: 0}
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}; score the same items")
    if t.size == 0:
        raise ValueError("no labels to match")
    classes, t_idx = np.unique(t, return_inverse=True)
    clusters, p_idx = np.unique(p, return_inverse=True)
    table = np.zeros((clusters.size, classes.size), dtype=np.int64)
    np.add.at(table, (p_idx, t_idx), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = {int(c): -1 for c in clusters}
    mapping.update({int(clusters[r]): int(classes[c]) for r, c in zip(rows, cols)})
    return mapping


def cluster_accuracy(y_true: Any, y_pred: Any) -> float:
    """Clustering accuracy: the share of items whose cluster maps to their class under the best
    one-to-one matching of clusters to classes (the metric of DEC, Xie et al. 2016, eq. 10).

    Example:
        >>> cluster_accuracy([0, 0, 1, 1], [1, 1, 0, 0])
        1.0
        >>> cluster_accuracy([0, 0, 1, 1], [0, 0, 0, 0])
        0.5
    """
    mapping = match_clusters(y_true, y_pred)
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    mapped = np.array([mapping[int(c)] for c in p])
    return float(np.mean(mapped == t))


def cluster_scores(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Hungarian-matched accuracy, normalised mutual information and adjusted Rand index.

    Example:
        >>> cluster_scores([0, 0, 1, 1], [1, 1, 0, 0])
        {'accuracy': 1.0, 'nmi': 1.0, 'ari': 1.0}
    """
    return {
        "accuracy": cluster_accuracy(y_true, y_pred),
        "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
    }


# ---------------------------------------------------------------------------------------------
# DEC (Xie, Girshick & Farhadi, ICML 2016): Student-t soft assignments, sharpened targets, KL loss
# ---------------------------------------------------------------------------------------------

def soft_assignment(z: np.ndarray, centers: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """DEC's soft assignment in numpy: q_ij proportional to (1 + |z_i - mu_j|^2 / alpha)^(-(alpha+1)/2).

    Raises:
        ValueError: if ``alpha`` is not a finite number > 0.

    Example:
        >>> soft_assignment(np.array([[0.0], [2.0]]), np.array([[0.0], [2.0]])).round(2)
        array([[0.83, 0.17],
               [0.17, 0.83]])
    """
    alpha = _check_positive("alpha", alpha)
    d2 = cdist(np.asarray(z, dtype=float), np.asarray(centers, dtype=float), "sqeuclidean")
    q = (1.0 + d2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return q / q.sum(axis=1, keepdims=True)


def target_distribution(q: np.ndarray) -> np.ndarray:
    """DEC's sharpened target: p_ij = (q_ij^2 / f_j) / sum_k (q_ik^2 / f_k), with f_j = sum_i q_ij.

    Squaring sharpens confident assignments; dividing by the cluster frequency f_j keeps large
    clusters from swallowing the others.

    Raises:
        ValueError: if ``q`` is not a (n, k) matrix of non-negative rows summing to 1.

    Example:
        >>> target_distribution(np.array([[0.6, 0.4], [0.4, 0.6]])).round(3)
        array([[0.692, 0.308],
               [0.308, 0.692]])
    """
    q = np.asarray(q, dtype=float)
    if q.ndim != 2 or (q < 0).any() or not np.allclose(q.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("q must be an (n, k) matrix of soft assignments (non-negative rows that sum to 1)")
    weight = q**2 / q.sum(axis=0)
    return weight / weight.sum(axis=1, keepdims=True)


def _clustering_layer_class() -> type:
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="dmlib")
    class _ClusteringLayer(keras.layers.Layer):
        """Keras layer: codes (n, d) -> DEC soft assignments (n, k), with the centres as weights."""

        def __init__(self, n_clusters: int, alpha: float = 1.0, **kwargs: Any):
            super().__init__(**kwargs)
            if isinstance(n_clusters, (bool, np.bool_)) or not isinstance(n_clusters, numbers.Integral) \
                    or n_clusters < 2:
                raise ValueError(f"n_clusters must be an integer, at least 2, got {n_clusters!r}")
            self.n_clusters = int(n_clusters)
            self.alpha = _check_positive("alpha", alpha)

        def build(self, input_shape: tuple[int | None, ...]) -> None:
            self.centers = self.add_weight(shape=(self.n_clusters, int(input_shape[-1])),
                                           initializer="glorot_uniform", name="centers")

        def call(self, z: Any) -> Any:
            d2 = ops.sum(ops.square(ops.expand_dims(z, 1) - self.centers), axis=-1)
            q = ops.power(1.0 + d2 / self.alpha, -(self.alpha + 1.0) / 2.0)
            return q / ops.sum(q, axis=1, keepdims=True)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "n_clusters": self.n_clusters, "alpha": self.alpha}

    return _ClusteringLayer


_LAYER: type | None = None


def ClusteringLayer(n_clusters: int, alpha: float = 1.0, **kwargs: Any) -> Any:  # noqa: N802 (a layer factory)
    """A Keras layer mapping codes (n, d) to DEC soft assignments (n, k); the centres are its weights.

    Computes the same as :func:`soft_assignment`, in ``keras.ops`` (any backend), so that the
    centres and the encoder below it can be trained together by gradient descent.

    Example:
        >>> layer = ClusteringLayer(2)
        >>> q = layer(np.zeros((3, 4), "float32"))  # builds it; centres start random
        >>> layer.set_weights([np.eye(2, 4, dtype="float32")]); tuple(q.shape)
        (3, 2)
    """
    global _LAYER
    if _LAYER is None:
        _LAYER = _clustering_layer_class()
    return _LAYER(n_clusters, alpha=alpha, **kwargs)


@dataclass
class DECResult:
    """What :func:`dec_refine` returns: the trained model and the trace of the refinement."""

    model: Any
    """encoder + clustering layer; ``model.predict(x)`` gives soft assignments."""
    labels: np.ndarray
    """hard assignments of the training items after the last round."""
    changed: list[float] = field(default_factory=list)
    """share of items whose hard assignment changed, per round."""
    loss: list[float] = field(default_factory=list)
    """KL(P || Q) at the start of each round."""
    rounds: int = 0
    seconds: float = 0.0

    def predict(self, x: Any, batch_size: int = 1024) -> np.ndarray:
        """Hard cluster ids of new items."""
        batch_size = _check_int("batch_size", batch_size, 1)
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0)).argmax(axis=1)


def dec_refine(
    encoder: Any,
    x: np.ndarray,
    centers: np.ndarray,
    *,
    rounds: int = 20,
    steps_per_round: int | None = None,
    batch_size: int = 256,
    learning_rate: float = 0.01,
    tol: float = 0.001,
    alpha: float = 1.0,
    seed: int = 0,
    verbose: bool = True,
) -> DECResult:
    """Refine an encoder and k cluster centres with DEC's self-training loop (Xie et al. 2016).

    Each round computes the soft assignments Q of all items, the sharpened target P
    (:func:`target_distribution`), and then takes ``steps_per_round`` mini-batch steps of SGD
    (momentum 0.9, as in the paper) on KL(P || Q), moving both the centres and the encoder. It stops
    early when fewer than ``tol`` of the items changed cluster in a round (DEC's criterion).

    Args:
        encoder: a Keras model mapping inputs to codes (it is trained in place).
        x: the unlabelled training inputs.
        centers: (k, d) initial centres, e.g. k-means on ``encoder.predict(x)``.
        rounds: the most target updates.
        steps_per_round: gradient steps between target updates (default: one pass over ``x``).
        batch_size: mini-batch size.
        learning_rate: SGD step size.
        tol: stop when the share of changed assignments falls below it.
        alpha: degrees of freedom of the Student-t kernel.
        seed: seed of the mini-batch order.
        verbose: print one line per round.

    Returns:
        A :class:`DECResult`.

    Raises:
        ValueError: for centres that do not match the encoder's code size, or bad arguments (sizes
            that are not integers >= 1, a learning rate or alpha that is not a finite number > 0, a
            tolerance that is not a finite number >= 0).

    Example:
        >>> result = dec_refine(encoder, x_train, kmeans.cluster_centers_, rounds=10)  # doctest: +SKIP
        >>> result.predict(x_test)  # doctest: +SKIP
    """
    import keras

    rounds, batch_size = _check_int("rounds", rounds, 1), _check_int("batch_size", batch_size, 1)
    if steps_per_round is not None:
        steps_per_round = _check_int("steps_per_round", steps_per_round, 1)
    learning_rate, alpha = _check_positive("learning_rate", learning_rate), _check_positive("alpha", alpha)
    tol = _check_positive("tol", tol, zero=True)
    centers = np.asarray(centers, dtype="float32")
    if centers.ndim != 2 or centers.shape[0] < 2:
        raise ValueError(f"centers must be a (k, d) array with k >= 2, got shape {centers.shape}")
    inputs = keras.Input(shape=tuple(encoder.input_shape[1:]))
    codes = encoder(inputs)
    code_size = int(codes.shape[-1])
    if centers.shape[1] != code_size:
        raise ValueError(f"centers have {centers.shape[1]} coordinates but the encoder's codes have {code_size}")
    layer = ClusteringLayer(centers.shape[0], alpha=alpha, name="clustering")
    model = keras.Model(inputs, layer(codes), name="dec")
    layer.set_weights([centers])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.9), loss="kl_divergence")
    n = len(x)
    steps = steps_per_round or int(np.ceil(n / batch_size))
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    result = DECResult(model=model, labels=np.zeros(n, dtype=int))
    previous = None
    for r in range(rounds):
        q = np.asarray(model.predict(x, batch_size=1024, verbose=0), dtype="float64")
        p = target_distribution(q)
        labels = q.argmax(axis=1)
        kl = float(np.sum(p * np.log((p + 1e-12) / (q + 1e-12))) / n)
        changed = 1.0 if previous is None else float(np.mean(labels != previous))
        result.changed.append(changed)
        result.loss.append(kl)
        result.labels, result.rounds = labels, r
        if verbose:
            print(f"round {r:2d}: KL(P||Q) {kl:.4f}, changed {changed:.2%}")
        if previous is not None and changed < tol:
            break
        previous = labels
        idx = rng.permutation(n)
        idx = np.resize(idx, steps * batch_size)  # wraps around when steps exceed one pass
        model.fit(x[idx], p[idx].astype("float32"), batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        result.rounds = r + 1
    else:
        q = np.asarray(model.predict(x, batch_size=1024, verbose=0))
        result.labels = q.argmax(axis=1)
    result.seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------------------------
# Linear algebra: how far apart are two subspaces?
# ---------------------------------------------------------------------------------------------

def subspace_angle_degrees(a: np.ndarray, b: np.ndarray) -> float:
    """The largest principal angle, in degrees, between the column spaces of ``a`` and ``b``.

    0 when the spaces coincide, 90 when some direction of one is orthogonal to the other. Uses
    ``scipy.linalg.subspace_angles``.

    Raises:
        ValueError: if ``a`` and ``b`` have a different number of rows, no column, or NaN/inf.

    Example:
        >>> e = np.eye(3)
        >>> subspace_angle_degrees(e[:, :2], e[:, [1, 0]])
        0.0
        >>> round(subspace_angle_degrees(e[:, :2], e[:, [0, 2]]), 1)
        90.0
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"give two matrices whose columns live in the same space; got {a.shape} and {b.shape}")
    if a.size == 0 or b.size == 0:
        raise ValueError(f"a subspace needs at least one row and one column; got shapes {a.shape} and {b.shape} "
                         "(empty)")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("a and b must be finite: they hold NaN or infinite values")
    return float(np.degrees(subspace_angles(a, b).max()))


# ---------------------------------------------------------------------------------------------
# Outlier detection: PCA scores, repeated splits, alert budgets
# ---------------------------------------------------------------------------------------------

def pca_axis_scores(x_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """PyOD's "PCA" outlier score (the detector of its benchmark table), on new items.

    Standardise with the training mean and scale, fit a PCA with all components on the training
    items, then score ``sum_j dist(x, v_j) / r_j``: the Euclidean distance of the item to each
    principal axis vector v_j, divided by that axis's explained-variance ratio r_j, so the
    low-variance axes weigh most (Shyu et al. 2003; Aggarwal, Outlier Analysis, sec. 3.3).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 3)) * [3.0, 1.0, 0.1]
        >>> s = pca_axis_scores(x, np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))
        >>> bool(s[1] > s[0])
        True
    """
    from sklearn.decomposition import PCA

    scaler = StandardScaler().fit(x_train)
    pca = PCA().fit(scaler.transform(x_train))
    # Axes of (numerically) zero variance, e.g. from constant features, would divide by zero; they get
    # the weight of a 1e-12 ratio, the size floating-point PCA gives them in PyOD's own runs.
    ratio = np.maximum(pca.explained_variance_ratio_, 1e-12)
    return np.sum(cdist(scaler.transform(x_test), pca.components_) / ratio, axis=1)


def pca_reconstruction_scores(x_train: np.ndarray, x_test: np.ndarray, n_components: float | int = 0.9) -> np.ndarray:
    """Squared reconstruction error of standardised items from a PCA fitted on the training items.

    Args:
        n_components: an int >= 1, or a float in (0, 1) for the share of variance to keep.

    Raises:
        ValueError: for any other ``n_components``.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(100, 2)) * [1.0, 0.01]
        >>> s = pca_reconstruction_scores(x, np.array([[0.0, 0.0], [0.0, 1.0]]), n_components=1)
        >>> bool(s[1] > s[0])
        True
    """
    from sklearn.decomposition import PCA

    if isinstance(n_components, numbers.Integral) and not isinstance(n_components, (bool, np.bool_)):
        n_components = _check_int("n_components", n_components, 1)
    elif not (isinstance(n_components, numbers.Real) and not isinstance(n_components, (bool, np.bool_))
              and 0 < n_components < 1):
        raise ValueError(f"n_components must be an integer >= 1 or a share of variance in (0, 1), got {n_components!r}")
    scaler = StandardScaler().fit(x_train)
    pca = PCA(n_components=n_components).fit(scaler.transform(x_train))
    z = scaler.transform(x_test)
    return np.sum((z - pca.inverse_transform(pca.transform(z))) ** 2, axis=1)


Detector = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
"""``detector(x_train, x_test, seed) -> anomaly scores of x_test`` (higher = more anomalous)."""


def evaluate_detectors(
    detectors: Mapping[str, Detector],
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_splits: int = 10,
    test_size: float = 0.4,
    seed: int = 0,
    dataset: str = "",
) -> pd.DataFrame:
    """ROC-AUC and average precision of each detector over repeated stratified random splits.

    The protocol of PyOD's benchmark: fit on the (unlabelled, contaminated) training part of each
    60/40 split, score the test part, and compare the scores with the held-back labels. Every
    detector sees the same splits.

    Args:
        detectors: ``{name: detector}``; a detector is ``f(x_train, x_test, seed) -> scores``.
        x, y: items and labels (1 = anomaly, 0 = normal); the labels are only used to score.
        n_splits: how many random splits.
        test_size: share of each split held out for scoring.
        seed: the splits' random seed.
        dataset: a name for the ``dataset`` column.

    Returns:
        One row per (detector, split): ``dataset, method, split, roc_auc, average_precision, seconds``.

    Raises:
        ValueError: if ``y`` is not binary 0/1 with both classes present, lengths differ,
            ``n_splits`` is not an integer >= 1 or ``test_size`` not a share in (0, 1).

    Example:
        >>> from sklearn.ensemble import IsolationForest
        >>> iforest = lambda tr, te, s: -IsolationForest(random_state=s).fit(tr).score_samples(te)
        >>> evaluate_detectors({"iforest": iforest}, X, y, n_splits=3)  # doctest: +SKIP
    """
    n_splits = _check_int("n_splits", n_splits, 1)
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, numbers.Real) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a share in (0, 1), got {test_size!r}")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} rows but y has {len(y)} labels")
    if set(np.unique(y).tolist()) != {0, 1}:
        raise ValueError("y must hold 0 (normal) and 1 (anomaly), both present")
    rows = []
    splitter = StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size, random_state=seed)
    for split, (tr, te) in enumerate(splitter.split(x, y)):
        for name, detector in detectors.items():
            start = time.perf_counter()
            scores = np.asarray(detector(x[tr], x[te], seed + split), dtype=float)
            if scores.shape != (len(te),) or not np.all(np.isfinite(scores)):
                raise ValueError(f"detector {name!r} must return one finite score per test item")
            rows.append({"dataset": dataset, "method": name, "split": split,
                         "roc_auc": roc_auc_score(y[te], scores),
                         "average_precision": average_precision_score(y[te], scores),
                         "seconds": time.perf_counter() - start})
    return pd.DataFrame(rows)


def precision_at_k(y_true: Any, scores: Any, k: int) -> float:
    """Share of true anomalies among the ``k`` highest-scored items (an alert budget of k).

    Ties at the cut are broken by the order of the items (a stable sort).

    Raises:
        ValueError: if k is not an integer between 1 and the number of items, lengths differ, or a
            score is NaN or infinite (NaN sorts as the highest score).

    Example:
        >>> precision_at_k([0, 1, 0, 1], [0.1, 0.9, 0.8, 0.2], k=2)
        0.5
    """
    y, s = np.asarray(y_true), np.asarray(scores, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"y_true and scores must be flat and of equal length, got {y.shape} and {s.shape}")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or not 1 <= k <= len(y):
        raise ValueError(f"k must be an integer between 1 and {len(y)} (the number of items), got {k!r}")
    k = int(k)
    if not np.isfinite(s).all():
        raise ValueError(f"scores hold {int((~np.isfinite(s)).sum())} NaN or infinite values")
    top = np.argsort(-s, kind="stable")[:k]
    return float(np.mean(y[top] == 1))
