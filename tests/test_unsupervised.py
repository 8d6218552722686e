"""Tests of dmlib.unsupervised (plumbing of notebook 06)."""

import numpy as np
import pytest

from dmlib.unsupervised import (
    ClusteringLayer,
    cluster_accuracy,
    cluster_scores,
    dec_refine,
    evaluate_detectors,
    match_clusters,
    pca_axis_scores,
    pca_reconstruction_scores,
    precision_at_k,
    soft_assignment,
    subspace_angle_degrees,
    target_distribution,
)


def test_cluster_accuracy_is_invariant_to_renaming_clusters():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    pred = np.array([5, 5, 1, 7, 7, 1, 1, 1])  # arbitrary cluster ids, one item off
    assert match_clusters(y, pred) == {1: 2, 5: 0, 7: 1}
    assert cluster_accuracy(y, pred) == pytest.approx(7 / 8)
    perm = {5: 9, 7: 3, 1: 0}
    assert cluster_accuracy(y, [perm[p] for p in pred]) == pytest.approx(7 / 8)


def test_cluster_accuracy_matches_brute_force_over_permutations():
    from itertools import permutations

    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 4, 60), rng.integers(0, 4, 60)
    best = max(np.mean(np.array(p)[pred] == y) for p in permutations(range(4)))
    assert cluster_accuracy(y, pred) == pytest.approx(best)


def test_cluster_accuracy_with_more_clusters_than_classes():
    y = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 2, 2])  # cluster 0 or 1 stays unmatched
    mapping = match_clusters(y, pred)
    assert sorted(mapping.values()) == [-1, 0, 1]
    assert cluster_accuracy(y, pred) == pytest.approx(0.75)


def test_cluster_scores_and_errors():
    s = cluster_scores([0, 0, 1, 1], [1, 1, 0, 0])
    assert s == {"accuracy": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}
    with pytest.raises(ValueError, match="same items"):
        cluster_accuracy([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="flat"):
        cluster_accuracy(np.zeros((2, 2), int), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="integer"):
        cluster_accuracy([0.5, 1.0], [0, 1])


def test_soft_assignment_and_target_distribution():
    z = np.array([[0.0, 0.0], [0.1, 0.0], [3.0, 3.0]])
    mu = np.array([[0.0, 0.0], [3.0, 3.0]])
    q = soft_assignment(z, mu)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    assert q[0, 0] > 0.9 and q[2, 1] > 0.9
    # alpha = 1: q_ij proportional to 1 / (1 + d^2)
    d2 = ((z[:, None, :] - mu[None]) ** 2).sum(-1)
    expected = 1 / (1 + d2)
    np.testing.assert_allclose(q, expected / expected.sum(1, keepdims=True))
    p = target_distribution(q)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p.max(axis=1) >= q.max(axis=1) - 1e-12).all()  # sharper than q
    with pytest.raises(ValueError, match="soft assignments"):
        target_distribution(np.array([[0.5, 0.6]]))


def test_clustering_layer_matches_numpy():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 3)).astype("float32")
    mu = rng.normal(size=(4, 3)).astype("float32")
    layer = ClusteringLayer(4, alpha=2.0)
    layer(z)
    layer.set_weights([mu])
    import keras

    q = keras.ops.convert_to_numpy(layer(z))
    np.testing.assert_allclose(q, soft_assignment(z, mu, alpha=2.0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        ClusteringLayer(1)


def test_dec_refine_separates_two_blobs_and_checks_centres():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 0.5, (60, 4)), rng.normal(2, 0.5, (60, 4))]).astype("float32")
    y = np.repeat([0, 1], 60)
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    # A fixed projection that keeps the blobs apart on every backend (a random one may nearly merge them).
    encoder.layers[0].set_weights([np.array([[1, 0], [1, 0], [0, 1], [0, 1]], "float32") / 2, np.zeros(2, "float32")])
    z = keras.ops.convert_to_numpy(encoder(x))
    centers = np.stack([z[y == 0].mean(0), z[y == 1].mean(0)])
    result = dec_refine(encoder, x, centers, rounds=3, batch_size=32, verbose=False)
    assert cluster_accuracy(y, result.labels) == 1.0
    assert cluster_accuracy(y, result.predict(x)) == 1.0
    assert 1 <= len(result.changed) <= 3 and result.seconds > 0
    with pytest.raises(ValueError, match="coordinates"):
        dec_refine(encoder, x, np.zeros((2, 3)), rounds=1)
    with pytest.raises(ValueError, match="k >= 2"):
        dec_refine(encoder, x, np.zeros((1, 2)), rounds=1)


def test_subspace_angle_degrees():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(10, 3))
    assert subspace_angle_degrees(a, a @ rng.normal(size=(3, 3))) < 1e-6  # same span, other basis
    e = np.eye(3)
    b = np.stack([e[0], np.cos(0.1) * e[1] + np.sin(0.1) * e[2]], axis=1)
    assert subspace_angle_degrees(e[:, :2], b) == pytest.approx(np.degrees(0.1))
    with pytest.raises(ValueError, match="same space"):
        subspace_angle_degrees(np.zeros((3, 1)), np.zeros((4, 1)))


def test_pca_axis_scores_follow_pyod_definition():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)) @ rng.normal(size=(4, 4))
    x_new = rng.normal(size=(5, 4))
    from scipy.spatial.distance import cdist
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(x)
    pca = PCA().fit(sc.transform(x))
    expected = (cdist(sc.transform(x_new), pca.components_) / pca.explained_variance_ratio_).sum(1)
    np.testing.assert_allclose(pca_axis_scores(x, x_new), expected)
    # a constant feature gives a zero-variance axis: the scores stay finite
    x_const = np.column_stack([x, np.ones(len(x))])
    assert np.isfinite(pca_axis_scores(x_const, x_const[:5])).all()


def test_pca_reconstruction_scores_flag_off_plane_points():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=200), rng.normal(size=200), 0.01 * rng.normal(size=200)])
    s = pca_reconstruction_scores(x, np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.5]]), n_components=2)
    assert s[1] > 100 * s[0]


def test_evaluate_detectors_protocol():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (180, 3)), rng.normal(5, 1, (20, 3))])
    y = np.repeat([0, 1], [180, 20])
    seen = []

    def norm(tr, te, seed):
        seen.append((len(tr), len(te), seed))
        return np.linalg.norm(te, axis=1)

    df = evaluate_detectors({"norm": norm, "random": lambda tr, te, s: np.random.default_rng(s).random(len(te))},
                            x, y, n_splits=3, seed=5, dataset="toy")
    assert list(df.columns) == ["dataset", "method", "split", "roc_auc", "average_precision", "seconds"]
    assert len(df) == 6 and set(df["dataset"]) == {"toy"}
    assert seen == [(120, 80, 5), (120, 80, 6), (120, 80, 7)]  # 60/40 splits, one seed per split
    means = df.groupby("method")["roc_auc"].mean()
    assert means["norm"] > 0.99 and means["random"] < 0.8
    with pytest.raises(ValueError, match="one finite score"):
        evaluate_detectors({"bad": lambda tr, te, s: np.zeros(2)}, x, y, n_splits=1)
    with pytest.raises(ValueError, match="0 \\(normal\\) and 1"):
        evaluate_detectors({"norm": norm}, x, np.zeros(len(x), int), n_splits=1)


def test_precision_at_k():
    y = np.array([0, 1, 0, 1, 1])
    s = np.array([0.1, 0.9, 0.8, 0.7, 0.2])
    assert precision_at_k(y, s, 1) == 1.0
    assert precision_at_k(y, s, 2) == 0.5
    assert precision_at_k(y, s, 5) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="between 1 and 5"):
        precision_at_k(y, s, 0)
    with pytest.raises(ValueError, match="equal length"):
        precision_at_k(y, s[:3], 1)
