"""Soft K-Means of chapter 08 (kexue.kmeans): claims 1-6 of the digest, plus bad input."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from kexue import kmeans as km

BLOB_CENTRES = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])


def blobs(seed=0, n_per=40, std=0.7):
    return km.make_blobs(BLOB_CENTRES, n_per, std, seed)


def test_import_does_not_pull_frameworks():
    code = "import kexue.kmeans, sys; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ----------------------------------------------------------------------------- claim 1
@pytest.mark.parametrize("K", [0.5, 1.0, 10.0, 100.0, 1000.0])
def test_smooth_max_bounds(K):
    rng = np.random.default_rng(1)
    lam = rng.normal(size=(50, 6))
    sm = km.smooth_max(lam, K)
    m = lam.max(axis=1)
    assert np.all(sm >= m - 1e-12)
    assert np.all(sm <= m + np.log(6) / K + 1e-12)
    # against the naive formula where it does not overflow
    if K <= 100:
        np.testing.assert_allclose(sm, np.log(np.exp(K * lam).sum(axis=1)) / K, rtol=0, atol=1e-10)


def test_smooth_max_converges_and_min_is_mirror():
    lam = np.random.default_rng(2).normal(size=6)
    gaps = [km.smooth_max(lam, K) - lam.max() for K in (1, 10, 100, 1000)]
    assert all(a >= b for a, b in zip(gaps, gaps[1:])) and gaps[0] > gaps[1] > 0
    assert gaps[-1] < 1e-3
    np.testing.assert_allclose(km.smooth_min(lam, 50.0), -km.smooth_max(-lam, 50.0), atol=0)
    assert km.smooth_min(lam, 1e4) == pytest.approx(lam.min(), abs=1e-3)


def test_smooth_max_stable_for_large_K():
    lam = np.array([800.0, 799.0, -5.0])
    assert np.isfinite(km.smooth_max(lam, 10.0))
    assert km.smooth_max(lam, 10.0) == pytest.approx(800.0 + np.log1p(np.exp(-10.0) + np.exp(-8050.0)) / 10, abs=1e-12)


# ----------------------------------------------------------------------------- claim 2
def test_soft_step_large_K_equals_lloyd_step():
    u, _ = blobs()
    rng = np.random.default_rng(3)
    v = u[rng.choice(len(u), 3, replace=False)]
    for _ in range(5):  # several steps, each compared
        soft, c = km.soft_kmeans_step(u, v, 1e4)
        hard, labels = km.lloyd_step(u, v)
        np.testing.assert_allclose(soft, hard, atol=1e-10)
        np.testing.assert_array_equal(np.argmax(c, axis=1), labels)
        v = hard


def test_soft_step_small_K_differs_from_lloyd():
    u, _ = blobs()
    v = u[[0, 1, 2]]
    soft, _ = km.soft_kmeans_step(u, v, 0.1)
    hard, _ = km.lloyd_step(u, v)
    assert np.abs(soft - hard).max() > 0.1


def test_soft_kmeans_loss_decreases_and_fixed_point_is_stationary():
    u, _ = blobs(seed=4)
    v0 = u[[0, 40, 80]] + 0.5
    v, c, losses = km.soft_kmeans(u, v0, K=2.0, steps=60)
    assert all(b <= a + 1e-9 for a, b in zip(losses, losses[1:]))
    assert losses[-1] < losses[0]
    # stationarity of (7): sum_i c_ij * 2 (v_j - u_i) = 0 at the fixed point
    grad = 2 * (c.sum(0)[:, None] * v - c.T @ u)
    assert np.abs(grad).max() < 1e-6


def test_soft_kmeans_loss_approaches_hard_loss():
    u, _ = blobs(seed=5)
    v = np.array([[0.1, 0.0], [3.9, 0.1], [0.0, 4.2]])
    hard = km.squared_distances(u, v).min(axis=1).sum()
    assert km.soft_kmeans_loss(u, v, 1e4) == pytest.approx(hard, abs=1e-2)
    assert km.soft_kmeans_loss(u, v, 1.0) < hard  # the smooth min lies below the min


# ----------------------------------------------------------------------------- claims 3 and 4
def _cluster(seed=6, n=30, d=5):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, d)) + np.array([1.0, 0.5, 0, 0, 0])
    c = rng.uniform(0.1, 1.0, size=n)
    return u, c


def test_normalized_loss_minimised_by_sum_direction():
    u, c = _cluster()
    S = c @ u
    best = km.normalized_ip_loss(S, u, c)
    assert best == pytest.approx(-np.linalg.norm(S), rel=1e-12)
    assert np.abs(km.normalized_ip_grad(S, u, c)).max() < 1e-12
    dirs = np.random.default_rng(7).normal(size=(20000, u.shape[1]))
    losses = -(dirs @ S) / np.linalg.norm(dirs, axis=1)
    assert losses.min() > best
    # theta = pi is the maximum
    assert km.normalized_ip_loss(-S, u, c) >= losses.max()
    assert km.normalized_ip_loss(-S, u, c) == pytest.approx(np.linalg.norm(S), rel=1e-12)


def test_normalized_loss_scale_invariant_raw_loss_linear():
    u, c = _cluster()
    s = np.random.default_rng(8).normal(size=u.shape[1])
    s = s if km.raw_ip_loss(s, u, c) < 0 else -s
    for t in (2.0, 10.0, 100.0):
        assert km.normalized_ip_loss(t * s, u, c) == pytest.approx(km.normalized_ip_loss(s, u, c), rel=1e-12)
        assert km.raw_ip_loss(t * s, u, c) == pytest.approx(t * km.raw_ip_loss(s, u, c), rel=1e-12)
    assert km.raw_ip_loss(1e6 * s, u, c) < -1e5  # unbounded below
    # the normalised loss is bounded below by -sum_i c_i ||u_i||
    assert km.normalized_ip_loss(s, u, c) >= -(c @ np.linalg.norm(u, axis=1))


def test_normalized_grad_matches_finite_differences():
    u, c = _cluster(seed=9)
    v = np.random.default_rng(10).normal(size=u.shape[1])
    h = 1e-6
    fd = np.array([(km.normalized_ip_loss(v + h * e, u, c) - km.normalized_ip_loss(v - h * e, u, c)) / (2 * h)
                   for e in np.eye(len(v))])
    np.testing.assert_allclose(km.normalized_ip_grad(v, u, c), fd, atol=1e-6)


# ----------------------------------------------------------------------------- claim 5
def test_more_followers_more_power():
    rng = np.random.default_rng(11)
    sums, means = [], []
    for m in (2, 8, 32):
        u = np.array([1.0, 0.0, 0.0]) + 0.3 * rng.normal(size=(m, 3))
        # Euclidean fixed point (10) with one centre = mean; inner-product step (13) = sum
        v_euc, _ = km.soft_kmeans_step(u, u[:1], 1.0)
        out, hist = km.kmeans_routing(u[None], r=3, history=True)
        means.append(np.linalg.norm(v_euc))
        sums.append(np.linalg.norm(hist["v"][-1]))
        np.testing.assert_allclose(hist["v"][-1][0], u.sum(0), atol=1e-12)
        np.testing.assert_allclose(v_euc[0], u.mean(0), atol=1e-12)
    assert sums[0] < sums[1] < sums[2] and sums[2] > 25
    assert max(means) < 1.5 and min(means) > 0.5


# ----------------------------------------------------------------------------- torch version
def test_torch_matches_numpy_and_gradient_7():
    torch = pytest.importorskip("torch")
    from kexue.kmeans import torch as kt

    u, _ = blobs(seed=12)
    v = np.array([[0.5, 0.2], [3.0, -0.4], [0.3, 3.3]])
    K = 1.5
    ut = torch.tensor(u)
    vt = torch.tensor(v, requires_grad=True)
    loss = kt.soft_kmeans_loss(ut, vt, K)
    loss.backward()
    assert loss.item() == pytest.approx(km.soft_kmeans_loss(u, v, K), rel=1e-12)
    c = km.soft_assignments(km.squared_distances(u, v), K)
    grad7 = 2 * (c.sum(0)[:, None] * v - c.T @ u)  # eq. (7)
    np.testing.assert_allclose(vt.grad.numpy(), grad7, atol=1e-10)
    new_t, c_t = kt.soft_kmeans_step(ut, torch.tensor(v), K)
    new_n, c_n = km.soft_kmeans_step(u, v, K)
    np.testing.assert_allclose(new_t.numpy(), new_n, atol=1e-12)
    np.testing.assert_allclose(c_t.numpy(), c_n, atol=1e-12)
    uu, cc = _cluster(seed=13)
    w = torch.tensor(np.random.default_rng(14).normal(size=uu.shape[1]), requires_grad=True)
    kt.normalized_ip_loss(w, torch.tensor(uu), torch.tensor(cc)).backward()
    np.testing.assert_allclose(w.grad.numpy(), km.normalized_ip_grad(w.detach().numpy(), uu, cc), atol=1e-12)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("K", [0, -1.0, float("inf"), float("nan"), True])
def test_bad_K(K):
    with pytest.raises(ValueError, match="sharpness K"):
        km.smooth_max([1.0, 2.0], K)


def test_bad_shapes_and_values():
    with pytest.raises(ValueError, match="same dimension"):
        km.squared_distances(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        km.lloyd_step(np.array([[np.nan, 0.0]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="non-zero"):
        km.normalized_ip_loss(np.zeros(3), np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match="do not fit"):
        km.raw_ip_loss(np.zeros(3), np.ones((2, 4)), np.ones(2))
    with pytest.raises(ValueError, match="steps"):
        km.soft_kmeans(np.ones((4, 2)), np.ones((2, 2)), 1.0, -1)
    with pytest.raises(ValueError, match="empty"):
        km.smooth_max([], 1.0)


def test_gradient_descent_drives_raw_loss_to_minus_infinity_normalised_loss_stays_bounded():
    """Claim 4 by an optimiser: plain gradient steps on the centre (autograd, SGD) push the raw
    inner-product loss below any bound, at an undiminished rate, while the same steps on the
    normalised loss never pass its analytic lower bound and settle at its minimum -|S|."""
    torch = pytest.importorskip("torch")
    from kexue.kmeans import torch as kt

    u, c = _cluster(seed=13)
    S = c @ u
    start = np.random.default_rng(14).normal(size=u.shape[1])
    ut, ct = torch.tensor(u), torch.tensor(c)

    def descend(loss, steps=600, lr=0.1):
        v = torch.tensor(start, requires_grad=True)
        opt = torch.optim.SGD([v], lr=lr)
        history = []
        for _ in range(steps):
            opt.zero_grad()
            value = loss(v)
            value.backward()
            history.append(value.item())
            opt.step()
        return np.array(history), v.detach().numpy()

    raw, v_raw = descend(lambda v: -(ct * (ut @ v)).sum())
    falls = -np.diff(raw)
    assert falls.min() > 0                                     # it falls at every step ...
    assert falls[-1] == pytest.approx(falls[0], rel=1e-9)      # ... and does not slow down
    for bound in (1e2, 1e3, 1e4):                              # below every bound, given steps
        assert raw.min() < -bound
    assert np.linalg.norm(v_raw) > 100 * np.linalg.norm(start)
    # the numpy loss at the optimiser's last centre, against the closed form of the walk v = start + t·lr·S
    assert km.raw_ip_loss(v_raw, u, c) == pytest.approx(km.raw_ip_loss(start, u, c) - 600 * 0.1 * (S @ S), rel=1e-9)

    nip, v_nip = descend(lambda v: kt.normalized_ip_loss(v, ut, ct))
    assert nip.min() >= -(c @ np.linalg.norm(u, axis=1))      # Cauchy–Schwarz: never below -Σ c_i |u_i|
    assert nip.min() >= -np.linalg.norm(S) - 1e-12             # nor below the minimum -|S|
    assert nip[-1] == pytest.approx(-np.linalg.norm(S), abs=1e-9)
    assert np.linalg.norm(v_nip) < 2 * np.linalg.norm(start)   # the centre stays bounded
    assert km.normalized_ip_loss(v_nip, u, c) == pytest.approx(-np.linalg.norm(S), abs=1e-9)
