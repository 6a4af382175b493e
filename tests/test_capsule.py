"""Tests of kexue.capsule (chapter 07): numpy reference, PyTorch and Keras layers."""
from __future__ import annotations

import numpy as np
import pytest

from kexue.capsule import numpy_ref as ref

VARIANTS = sorted(ref.ROUTINGS)


def rand_u_hat(seed=0, b=2, k=10, n=32, d=16, scale=0.3):
    return np.random.default_rng(seed).normal(scale=scale, size=(b, k, n, d))


# ----------------------------------------------------------------------------- squash
def test_squash_lengths_match_closed_form_and_digest():
    lengths = np.array([0.019, 0.95, 2.025, 5.651, 58.3])
    x = lengths[:, None] * np.array([0.6, 0.8])          # unit direction (0.6, 0.8)
    for c, expected in ((1.0, [0.0003, 0.4744, 0.8040, 0.9696, 0.9997]),
                        (0.5, [0.0007, 0.6435, 0.8914, 0.9846, 0.9999])):
        y = ref.squash(x, c)
        norm = np.linalg.norm(y, axis=-1)
        np.testing.assert_allclose(norm, lengths ** 2 / (c + lengths ** 2), atol=1e-6)
        np.testing.assert_allclose(norm, expected, atol=1e-4)  # digest inputs rounded to 3 decimals
        np.testing.assert_allclose(y / norm[:, None], np.tile([0.6, 0.8], (5, 1)), atol=1e-12)


def test_squash_norm_below_one_and_ratio_near_zero():
    x = np.random.default_rng(1).normal(size=(1000, 16)) * np.logspace(-4, 3, 1000)[:, None]
    for c in (1.0, 0.5):
        assert np.all(np.linalg.norm(ref.squash(x, c), axis=-1) < 1.0)
    tiny = np.full((1, 4), 1e-3)
    ratio = np.linalg.norm(ref.squash(tiny, 0.5)) / np.linalg.norm(ref.squash(tiny, 1.0))
    assert abs(ratio - 2.0) < 1e-4


def test_squash_gradient_finite_at_zero():
    # numpy: the Jacobian at 0 is sqrt(eps)/c times the identity (finite differences)
    h = 1e-9
    for c in (1.0, 0.5):
        J = np.stack([ref.squash(h * e, c) / h for e in np.eye(3)], axis=1)
        np.testing.assert_allclose(J, np.sqrt(ref.EPS) / c * np.eye(3), rtol=1e-6, atol=1e-12)
    torch = pytest.importorskip("torch")
    from kexue.capsule import torch as kt
    x = torch.zeros(2, 5, 16, requires_grad=True)
    kt.squash(x, 0.5).sum().backward()
    assert torch.isfinite(x.grad).all()
    np.testing.assert_allclose(x.grad.numpy(), np.sqrt(ref.EPS) / 0.5, rtol=1e-5)


def test_squash_bad_constant():
    with pytest.raises(ValueError, match="squash constant"):
        ref.squash(np.ones(3), c=0.0)


# ----------------------------------------------------------------------------- routing
@pytest.mark.parametrize("routing", VARIANTS)
def test_couplings_sum_to_one_over_outputs(routing):
    for r in (1, 2, 3, 7):
        v, c = ref.dynamic_routing(rand_u_hat(), r, routing)
        np.testing.assert_allclose(c.sum(axis=1), 1.0, atol=1e-12)
        assert v.shape == (2, 10, 16)
        assert np.all(np.linalg.norm(v, axis=-1) < 1.0)
    _, c = ref.dynamic_routing(rand_u_hat(), 1, routing)
    np.testing.assert_allclose(c, 0.1, atol=1e-15)       # b = 0: uniform couplings


def test_accumulating_goes_one_hot_replacing_reaches_fixed_point():
    u_hat = rand_u_hat(b=1)
    h = [ref.mean_max_coupling(u_hat, r, "hinton") for r in (3, 10, 30, 100)]
    assert h[0] < 0.2 and h[-1] > 0.99 and all(a < b for a, b in zip(h, h[1:]))
    for routing in ("post", "kmeans"):
        p = [ref.mean_max_coupling(u_hat, r, routing) for r in (10, 30, 100)]
        assert max(p) < 0.3 and abs(p[-1] - p[-2]) < 1e-6
        v100, _ = ref.dynamic_routing(u_hat, 100, routing)
        v101, _ = ref.dynamic_routing(u_hat, 101, routing)
        np.testing.assert_allclose(v100, v101, atol=1e-10)


def test_hinton_differs_from_post_only_from_the_third_pass():
    u_hat = rand_u_hat()
    for r, same in ((1, True), (2, True), (3, False)):
        a = ref.dynamic_routing(u_hat, r, "hinton")[0]
        b = ref.dynamic_routing(u_hat, r, "post", squash_c=1.0)[0]
        assert np.allclose(a, b, atol=1e-12) == same


def test_kmeans_routing_equals_derived_algorithm():
    """Code with routings = R equals chapter 08's algorithm with R - 1 refinements."""
    u_hat = rand_u_hat(k=4, n=12, d=5)
    k = u_hat.shape[1]
    for R in (1, 2, 3, 4):
        v = u_hat.sum(axis=2) / k
        for _ in range(R - 1):
            vn = v / np.sqrt((v * v).sum(-1, keepdims=True) + ref.EPS)
            c = ref.softmax(np.einsum("bknd,bkd->bkn", u_hat, vn), axis=1)
            v = np.einsum("bkn,bknd->bkd", c, u_hat)
        np.testing.assert_allclose(ref.dynamic_routing(u_hat, R, "kmeans")[0], ref.squash(v, 0.5), atol=1e-12)


def test_post_routing_equals_its_pseudocode():
    u_hat = rand_u_hat(k=3, n=7, d=4)
    b = np.zeros(u_hat.shape[:3])
    for _ in range(3):
        c = np.exp(b) / np.exp(b).sum(1, keepdims=True)
        s = (c[..., None] * u_hat).sum(2)
        n2 = (s * s).sum(-1, keepdims=True)
        v = n2 / (0.5 + n2) * s / np.sqrt(n2)
        b = (u_hat * v[:, :, None, :]).sum(-1)
    np.testing.assert_allclose(ref.dynamic_routing(u_hat, 3, "post")[0], v, atol=1e-6)


@pytest.mark.parametrize("routing", VARIANTS)
def test_identical_predictions_give_identical_outputs(routing):
    u = np.random.default_rng(2).normal(size=(1, 1, 9, 6))
    v, _ = ref.dynamic_routing(np.repeat(u, 5, axis=1), 4, routing)
    np.testing.assert_allclose(v, np.repeat(v[:, :1], 5, axis=1), atol=1e-12)


@pytest.mark.parametrize("routing", VARIANTS)
def test_shared_weights_permutation_invariant_unshared_not(routing):
    rng = np.random.default_rng(3)
    u = rng.normal(size=(2, 9, 6))
    perm = rng.permutation(9)
    W = rng.normal(scale=0.3, size=(6, 4 * 5))
    np.testing.assert_allclose(ref.capsule(u, W, 4, 3, routing), ref.capsule(u[:, perm], W, 4, 3, routing),
                               atol=1e-12)
    Wu = rng.normal(scale=0.3, size=(9, 6, 4 * 5))
    assert not np.allclose(ref.capsule(u, Wu, 4, 3, routing), ref.capsule(u[:, perm], Wu, 4, 3, routing))


def test_bad_routing_input():
    with pytest.raises(ValueError, match="unknown routing"):
        ref.dynamic_routing(rand_u_hat(), 3, "em")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="routings must be"):
            ref.dynamic_routing(rand_u_hat(), bad, "post")
    with pytest.raises(ValueError, match="u_hat must have shape"):
        ref.dynamic_routing(np.zeros((2, 3, 4)), 3, "post")
    with pytest.raises(ValueError, match="input capsules"):
        ref.predictions(np.zeros((2, 6)), np.zeros((6, 20)), 4)
    with pytest.raises(ValueError, match="W must be"):
        ref.predictions(np.zeros((2, 9, 6)), np.zeros((5, 20)), 4)
    with pytest.raises(ValueError, match="unshared weights"):
        ref.predictions(np.zeros((2, 9, 6)), np.zeros((8, 6, 20)), 4)


def test_margin_loss():
    y = np.eye(3)[[0, 2]]
    assert np.all(ref.margin_loss(y, np.where(y == 1, 0.95, 0.05)) == 0.0)
    p = np.array([[0.5, 0.3, 0.1], [0.0, 0.0, 1.0]])
    expected = [(0.4 ** 2 + 0.25 * 0.2 ** 2) / 3, 0.0]
    np.testing.assert_allclose(ref.margin_loss(y, p), expected, atol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        ref.margin_loss(y, p[:, :2])


# ----------------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("routing", VARIANTS)
@pytest.mark.parametrize("shared", [True, False])
def test_torch_matches_numpy(routing, shared):
    torch = pytest.importorskip("torch")
    from kexue.capsule.torch import Capsule
    rng = np.random.default_rng(4)
    u = rng.normal(size=(3, 11, 8)).astype(np.float32)
    layer = Capsule(8, 5, 6, routings=3, share_weights=shared, routing=routing,
                    input_num_capsule=None if shared else 11)
    W = layer.W.detach().numpy().astype(np.float64)
    with torch.no_grad():
        v, c = layer(torch.from_numpy(u), return_couplings=True)
    v_ref, c_ref = ref.dynamic_routing(ref.predictions(u.astype(np.float64), W, 5), 3, routing)
    np.testing.assert_allclose(v.numpy(), v_ref, atol=1e-5)
    np.testing.assert_allclose(c.numpy(), c_ref, atol=1e-5)


def test_torch_variable_inputs_and_errors():
    torch = pytest.importorskip("torch")
    from kexue.capsule.torch import Capsule
    layer = Capsule(8, 10, 16)
    for n in (64, 176):
        assert layer(torch.rand(2, n, 8)).shape == (2, 10, 16)
    assert sum(p.numel() for p in layer.parameters()) == 8 * 160
    with pytest.raises(ValueError, match="fixed number of input capsules"):
        Capsule(8, 10, 16, share_weights=False)
    with pytest.raises(ValueError, match="unshared weights are for 11"):
        Capsule(8, 10, 16, share_weights=False, input_num_capsule=11)(torch.rand(2, 12, 8))
    with pytest.raises(ValueError, match="routings must be"):
        Capsule(8, 10, 16, routings=0)
    with pytest.raises(ValueError, match="unknown routing"):
        Capsule(8, 10, 16, routing="em")
    with pytest.raises(ValueError, match="input capsules must have shape"):
        layer(torch.rand(2, 8))
    with pytest.raises(ValueError, match="dimension 8"):
        layer(torch.rand(2, 5, 7))


# ----------------------------------------------------------------------------- Keras
@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("routing", VARIANTS)
@pytest.mark.parametrize("shared", [True, False])
def test_keras_matches_numpy(keras, routing, shared):
    from kexue.capsule.keras import Capsule
    rng = np.random.default_rng(5)
    u = rng.normal(size=(3, 11, 8)).astype(np.float32)
    layer = Capsule(5, 6, routings=3, share_weights=shared, routing=routing)
    v = keras.ops.convert_to_numpy(layer(u))
    W = layer.W.numpy().astype(np.float64)
    assert W.shape == ((8, 30) if shared else (11, 8, 30))
    np.testing.assert_allclose(v, ref.capsule(u.astype(np.float64), W, 5, 3, routing), atol=1e-5)


def test_keras_variable_inputs_and_errors(keras):
    from kexue.capsule.keras import Capsule
    inp = keras.Input((None, 8))
    model = keras.Model(inp, Capsule(10, 16)(inp))
    for n in (64, 176):
        assert tuple(model.predict(np.zeros((2, n, 8), np.float32), verbose=0).shape) == (2, 10, 16)
    assert model.count_params() == 8 * 160
    with pytest.raises(ValueError, match="fixed number of input capsules"):
        keras.Model(inp, Capsule(10, 16, share_weights=False)(inp))
    with pytest.raises(ValueError, match="input capsules must have shape"):
        Capsule(10, 16)(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="routings must be"):
        Capsule(10, 16, routings=0)
    with pytest.raises(ValueError, match="unknown routing"):
        Capsule(10, 16, routing="em")


# ----------------------------------------------------------------------------- the side dishes
def test_implicit_activation_only_approximate_in_three_steps():
    from scipy.optimize import brentq
    residual = {}
    for x in (0.5, 3.0, -2.0):
        y_star = brentq(lambda y: y + np.cos(y) - x, x - 2, x + 2)
        res = [abs(y + np.cos(y) - x) for y in (ref.implicit_activation(x, n) for n in range(31))]
        assert np.all(np.diff(res) <= 0)
        residual[x] = (res[3], res[30], abs(ref.implicit_activation(x, 30) - y_star))
    # digest values: 8.3e-3 / 0.12 / 0.38 after 3 steps; 1.9e-13 / 1.7e-7 / 0.18 after 30
    assert residual[0.5][0] == pytest.approx(8.3e-3, rel=0.01) and residual[-2.0][0] > 0.3
    assert residual[0.5][2] < 1e-12 and residual[3.0][2] < 1e-6
    assert residual[-2.0][1] > 0.1 and residual[-2.0][2] > 0.01           # |sin y*| ≈ 0.98: slow
    np.testing.assert_allclose(ref.implicit_activation(np.array([0.5, 3.0]), 3),
                               [0.5 - np.cos(0.5 - np.cos(0.5 - np.cos(0.5))), 3 - np.cos(3 - np.cos(3 - np.cos(3)))])


def test_self_pooling_converges_moderate_and_sharpens_long():
    rng = np.random.default_rng(0)
    xs = 0.5 * rng.normal(size=(10, 4))
    x, w = ref.self_pooling(xs, 30)
    np.testing.assert_allclose(x, ref.softmax(xs @ x, axis=0) @ xs, atol=1e-12)
    assert w.max() < 0.3
    long = 3.0 * rng.normal(size=(10, 4))
    x, w = ref.self_pooling(long, 30)
    assert w.max() > 0.99
    np.testing.assert_allclose(x, long[np.argmax(w)], atol=1e-2)
    np.testing.assert_allclose(ref.self_pooling(xs, 0)[0], xs.mean(0))


def test_side_dishes_bad_input():
    with pytest.raises(ValueError, match="iterations must be an integer >= 0"):
        ref.implicit_activation(1.0, -1)
    with pytest.raises(ValueError, match=r"xs must have shape \(n, d\)"):
        ref.self_pooling(np.zeros(4))
