"""dmlib.metric_learning: the triplet loss (against loops by hand) and the retrieval metrics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dmlib import metric_learning as ml


def _batch(seed=0, n=10, d=4):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(n, d)).astype("float32")
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    y = rng.integers(0, 3, size=n)
    return e, y


def _by_hand(e, y, margin, mining):
    D = np.linalg.norm(e[:, None] - e[None], axis=2)
    n = len(y)
    idx = np.arange(n)
    if mining in ("random", "batch-all"):
        losses = [max(D[a, p] - D[a, q] + margin, 0.0) for a, p, q in itertools.product(idx, idx, idx)
                  if a != p and y[a] == y[p] and y[q] != y[a]]
        if mining == "batch-all":
            losses = [v for v in losses if v > 1e-16]
        return float(np.mean(losses)) if losses else 0.0
    if mining == "batch-hard":
        vals = [max(D[a, y == y[a]].max() - D[a, y != y[a]].min() + margin, 0.0)
                for a in idx if (y == y[a]).sum() > 1 and (y != y[a]).any()]
        return float(np.mean(vals)) if vals else 0.0
    vals = []
    for a in idx:
        for p in idx[(y == y[a]) & (idx != a)]:
            d_an = D[a, y != y[a]]
            if not len(d_an):
                continue
            outside = d_an[d_an > D[a, p]]
            vals.append(max(D[a, p] - (outside.min() if len(outside) else d_an.max()) + margin, 0.0))
    return float(np.mean(vals)) if vals else 0.0


@pytest.mark.parametrize("mining", ml.MINING)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_loss_matches_loops_by_hand(mining, seed):
    from keras import ops

    e, y = _batch(seed)
    got = float(ops.convert_to_numpy(ml.triplet_loss(y, e, margin=0.3, mining=mining)))
    assert got == pytest.approx(_by_hand(e, y, 0.3, mining), abs=1e-4)


def test_triplet_loss_is_zero_for_well_separated_classes_and_positive_otherwise():
    from keras import ops

    e = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype="float32")
    y = np.array([0, 0, 1, 1])
    for mining in ml.MINING:
        assert float(ops.convert_to_numpy(ml.triplet_loss(y, e, margin=0.2, mining=mining))) == pytest.approx(0.0)
    swapped = np.array([0, 1, 0, 1])  # each positive is now as far as possible
    assert float(ops.convert_to_numpy(ml.triplet_loss(swapped, e, mining="batch-hard"))) > 1.0


def test_triplet_loss_accepts_column_labels_and_has_gradients():
    import keras
    from keras import ops

    e, y = _batch(3)
    a = ops.convert_to_numpy(ml.triplet_loss(y[:, None], e, mining="semi-hard"))
    b = ops.convert_to_numpy(ml.triplet_loss(y, e, mining="semi-hard"))
    assert a == pytest.approx(b)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.UnitNormalization()])
    model.compile(optimizer="sgd", loss=ml.triplet_loss_fn(mining="semi-hard"))
    before = model.evaluate(e, y, verbose=0, batch_size=10)
    model.fit(e, y, epochs=20, batch_size=10, verbose=0)
    assert model.evaluate(e, y, verbose=0, batch_size=10) < before


def test_triplet_loss_rejects_bad_arguments():
    e, y = _batch()
    with pytest.raises(ValueError, match="mining"):
        ml.triplet_loss(y, e, mining="hardest")
    with pytest.raises(ValueError, match="margin"):
        ml.triplet_loss(y, e, margin=-1)
    with pytest.raises(ValueError, match="mining"):
        ml.triplet_loss_fn(mining="nope")


def test_pairwise_distances_match_numpy():
    from keras import ops

    e, _ = _batch(4, n=7, d=5)
    want = np.linalg.norm(e[:, None] - e[None], axis=2)
    assert np.allclose(ops.convert_to_numpy(ml.pairwise_distances(e)), want, atol=1e-5)
    assert np.allclose(ops.convert_to_numpy(ml.pairwise_distances(e, squared=True)), want**2, atol=1e-5)


def test_cosine_neighbours_against_brute_force_and_batching():
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(23, 6)), rng.normal(size=(40, 6))
    qn, gn = q / np.linalg.norm(q, axis=1, keepdims=True), g / np.linalg.norm(g, axis=1, keepdims=True)
    want = np.argsort(-(qn @ gn.T), axis=1)[:, :4]
    assert (ml.cosine_neighbours(q, g, k=4, batch_size=5) == want).all()
    self_nn = ml.cosine_neighbours(q, k=3, batch_size=7)
    assert not (self_nn == np.arange(23)[:, None]).any()
    with pytest.raises(ValueError, match="k="):
        ml.cosine_neighbours(q, g, k=41)


def test_recall_and_knn_accuracy():
    emb = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.7, 0.7]])
    lab = np.array([0, 0, 1, 1, 1])
    r = ml.recall_at_k(emb, lab, ks=(1, 2))
    assert r[1] == pytest.approx(0.8) and r[2] == pytest.approx(1.0)
    assert ml.knn_accuracy(emb[:4], lab[:4], emb[4:], lab[4:], k=1) in (0.0, 1.0)
    assert ml.knn_accuracy(emb, lab, emb, lab, k=1) == 1.0
    # a 2-2 tie is broken by the nearer neighbour
    pred = ml.knn_predict(np.array([[1, 0], [0, 1], [1, 0.3], [0.2, 1]]), np.array([0, 1, 0, 1]),
                          np.array([[1, 0.05]]), k=4)
    assert pred.tolist() == [0]
