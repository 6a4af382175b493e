"""Routing derived as clustering (chapter 08): claims 6-11 of the digest, and the
equivalence of the derived algorithm with chapter 07's ``"kmeans"`` routing
(kexue.capsule, numpy / PyTorch / Keras)."""
from __future__ import annotations

import numpy as np
import pytest

from kexue import kmeans as km


def random_u_hat(seed=0, B=3, k=10, n=32, d=16, scale=0.3):
    return scale * np.random.default_rng(seed).normal(size=(B, k, n, d))


# ----------------------------------------------------------------------------- claim 7
@pytest.mark.parametrize("R", [1, 2, 3, 4])
def test_code_form_equals_post_form_with_r_plus_one(R):
    u_hat = random_u_hat(seed=R)
    np.testing.assert_allclose(km.kmeans_routing_code(u_hat, R), km.kmeans_routing(u_hat, R - 1), atol=1e-12)


def test_code_form_off_by_one_is_different():
    u_hat = random_u_hat(seed=5)
    assert np.abs(km.kmeans_routing_code(u_hat, 3) - km.kmeans_routing(u_hat, 3)).max() > 1e-4


def test_b_zero_start_is_the_mean_initialisation():
    u_hat = random_u_hat(seed=6)
    k = u_hat.shape[1]
    np.testing.assert_allclose(km.kmeans_routing_code(u_hat, 1), km.squash(u_hat.sum(axis=2) / k, 0.5), atol=1e-12)


@pytest.mark.parametrize("R", [1, 2, 3, 4])
def test_chapter07_kmeans_variant_numpy(R):
    from kexue.capsule import numpy_ref as cap

    u_hat = random_u_hat(seed=10 + R)
    v, c = cap.dynamic_routing(u_hat, R, "kmeans")
    # chapter 07 puts eps = 1e-7 inside its square roots; with |v| ~ 1 that moves results by ~1e-7
    np.testing.assert_allclose(v, km.kmeans_routing(u_hat, R - 1), atol=1e-6)
    if R > 1:  # one pass is squash(mean) in every variant; from two passes on they differ
        assert np.abs(v - cap.dynamic_routing(u_hat, R, "post")[0]).max() > 1e-3


def test_chapter07_kmeans_variant_torch_and_keras():
    u_hat = random_u_hat(seed=20, B=2)
    ref = km.kmeans_routing(u_hat, 2)
    torch = pytest.importorskip("torch")
    from kexue.kmeans import torch as kt
    from kexue.capsule import torch as cap_t

    vt, _ = cap_t.dynamic_routing(torch.tensor(u_hat, dtype=torch.float64), 3, "kmeans")
    np.testing.assert_allclose(vt.numpy(), ref, atol=1e-6)
    np.testing.assert_allclose(kt.kmeans_routing(torch.tensor(u_hat), 2).numpy(), ref, atol=1e-12)
    keras = pytest.importorskip("keras")
    from kexue.capsule import keras as cap_k

    vk, _ = cap_k.dynamic_routing(keras.ops.convert_to_tensor(u_hat.astype(np.float32)), 3, "kmeans")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(vk), ref, atol=1e-5)


# ----------------------------------------------------------------------------- the clustering loss
def test_routing_lowers_the_clustering_loss_monotonically():
    u_hat = random_u_hat(seed=30, B=4)
    _, hist = km.kmeans_routing(u_hat, 15, history=True)
    L = np.stack(hist["loss"])  # (r+1, B)
    assert np.all(np.diff(L, axis=0) <= 1e-12)
    assert np.all(L[-1] < L[0] - 1e-3)


def test_torch_clustering_loss_matches_numpy():
    torch = pytest.importorskip("torch")
    from kexue.kmeans import torch as kt

    u_hat = random_u_hat(seed=31, B=2)
    v = np.random.default_rng(32).normal(size=(2, 10, 16))
    for K in (1.0, 3.0):
        np.testing.assert_allclose(kt.routing_clustering_loss(torch.tensor(u_hat), torch.tensor(v), K).numpy(),
                                   km.routing_clustering_loss(u_hat, v, K), atol=1e-10)


# ----------------------------------------------------------------------------- claim 6
def test_temperature_is_absorbed_by_W():
    rng = np.random.default_rng(40)
    u = rng.normal(size=(2, 12, 6))
    W = 0.3 * rng.normal(size=(4, 5, 6))
    K = 3.7
    _, h1 = km.kmeans_routing(km.matrix_predictions(u, W), 4, K=K, history=True)
    _, h2 = km.kmeans_routing(km.matrix_predictions(u, K * W), 4, K=1.0, history=True)
    for c1, c2 in zip(h1["c"], h2["c"]):
        np.testing.assert_allclose(c1, c2, atol=1e-12)
    np.testing.assert_allclose(K * h1["v"][-1], h2["v"][-1], atol=1e-12)  # centres scale by K, directions equal
    # <W u, K v> = <(K W) u, v>
    v = rng.normal(size=5)
    assert (W[0] @ u[0, 0]) @ (K * v) == pytest.approx(((K * W[0]) @ u[0, 0]) @ v, rel=1e-12)


# ----------------------------------------------------------------------------- claim 8
def test_couplings_reach_a_fixed_point_while_accumulating_goes_one_hot():
    from kexue.capsule import numpy_ref as cap

    u_hat = random_u_hat(seed=50, B=2)
    _, hist = km.kmeans_routing(u_hat, 100, history=True)
    steps = [np.abs(b - a).max() for a, b in zip(hist["c"], hist["c"][1:])]
    assert steps[-1] < 1e-6 and steps[-1] < steps[10] / 100
    mm = hist["c"][-1].max(axis=1).mean()
    assert 0.1 < mm < 0.3  # far from one-hot (1/k = 0.1)
    assert cap.mean_max_coupling(u_hat, 100, "hinton") > 0.95


# ----------------------------------------------------------------------------- claim 9
@pytest.mark.parametrize("r", [0, 1, 3, 10])
def test_symptom1_without_W_the_centres_stay_identical(r):
    u = np.random.default_rng(60).normal(size=(2, 20, 4))
    u_hat = np.broadcast_to(u[:, None], (2, 5, 20, 4))
    out = km.kmeans_routing(u_hat, r)
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1], out.shape), atol=1e-12)


def test_with_W_the_centres_separate():
    rng = np.random.default_rng(61)
    u = rng.normal(size=(2, 20, 4))
    out = km.kmeans_routing(km.matrix_predictions(u, rng.normal(size=(5, 4, 4))), 3)
    assert np.abs(out[:, 0] - out[:, 1]).max() > 1e-2


# ----------------------------------------------------------------------------- claim 10
def test_symptom2_shared_W_is_permutation_invariant_pair_W_is_not():
    rng = np.random.default_rng(70)
    u = rng.normal(size=(2, 15, 4))
    perm = rng.permutation(15)
    W_shared = 0.5 * rng.normal(size=(3, 6, 4))
    W_pair = 0.5 * rng.normal(size=(3, 15, 6, 4))
    a = km.kmeans_routing(km.matrix_predictions(u, W_shared), 3)
    b = km.kmeans_routing(km.matrix_predictions(u[:, perm], W_shared), 3)
    np.testing.assert_allclose(a, b, atol=1e-12)
    a = km.kmeans_routing(km.matrix_predictions(u, W_pair), 3)
    b = km.kmeans_routing(km.matrix_predictions(u[:, perm], W_pair), 3)
    assert np.abs(a - b).max() > 1e-2


# ----------------------------------------------------------------------------- claim 11
def test_hard_limit_is_spherical_kmeans_with_sum_centres():
    rng = np.random.default_rng(80)
    u = rng.normal(size=(60, 5)) + np.repeat(3 * np.eye(5)[:3], 20, axis=0)
    v0 = rng.normal(size=(3, 5))
    u_hat = np.broadcast_to(u, (3, 60, 5))
    for r in (1, 2, 5):
        centres, _ = km.spherical_kmeans_sum(u, v0, r)
        hard = km.kmeans_routing(u_hat, r, hard=True, v0=v0)
        np.testing.assert_allclose(hard, km.squash(centres, 0.5), atol=1e-12)
        soft = km.kmeans_routing(u_hat, r, K=1e6, v0=v0)
        np.testing.assert_allclose(soft, hard, atol=1e-8)
    errs = [np.abs(km.kmeans_routing(u_hat, 3, K=K, v0=v0) - km.kmeans_routing(u_hat, 3, hard=True, v0=v0)).max()
            for K in (0.3, 3.0, 30.0)]
    assert errs[0] > errs[1] > errs[2]


# ----------------------------------------------------------------------------- bad input
def test_bad_routing_input():
    with pytest.raises(ValueError, match="r must be"):
        km.kmeans_routing(random_u_hat(), -1)
    with pytest.raises(ValueError, match="routings must be"):
        km.kmeans_routing_code(random_u_hat(), 0)
    with pytest.raises(ValueError, match="at least 3"):
        km.kmeans_routing(np.zeros((4, 3)), 1)
    with pytest.raises(ValueError, match="v0 must have shape"):
        km.kmeans_routing(random_u_hat(), 1, v0=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="3 \\(shared\\) or 4"):
        km.matrix_predictions(np.zeros((2, 3, 4)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="does not fit"):
        km.matrix_predictions(np.zeros((2, 3, 4)), np.zeros((2, 5, 5)))
