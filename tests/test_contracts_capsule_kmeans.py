"""One contract per name for chapters 07 and 08 (kexue.capsule, kexue.kmeans).

Twins (numpy reference, PyTorch, Keras) share signatures, return values, the one
normalisation ``l2_normalize``, the integer-input rule (cast to float) and the error
messages; the Keras layer round-trips through a ``.keras`` file; the experiment helpers
keep the model's device and take ``device=``.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
ops = keras.ops

from kexue import _validate  # noqa: E402
from kexue.capsule import keras as caps_keras  # noqa: E402
from kexue.capsule import numpy_ref as caps_ref  # noqa: E402
from kexue.capsule import torch as caps_torch  # noqa: E402
from kexue.kmeans import numpy_ref as km_ref  # noqa: E402
from kexue.kmeans import torch as km_torch  # noqa: E402


def _k(x):
    return keras.ops.convert_to_numpy(x)


# ----------------------------------------------------------------------------- signatures
def _params(fn, drop=("device", "dtype", "kwargs")):
    """(name, kind, default) of each parameter, ``dim`` spelled ``axis``; torch/Keras-only extras dropped."""
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.name in drop or p.name == "self":
            continue
        out.append(("axis" if p.name == "dim" else p.name, p.kind, p.default))
    return out


CAPSULE_TWINS = ["squash", "l2_normalize", "dynamic_routing", "margin_loss"]
KMEANS_TWINS = ["smooth_max", "soft_kmeans_loss", "soft_kmeans_step", "normalized_ip_loss",
                "routing_clustering_loss", "kmeans_routing"]


@pytest.mark.parametrize("name", CAPSULE_TWINS)
def test_capsule_twins_share_the_signature(name):
    ref = _params(getattr(caps_ref, name))
    assert _params(getattr(caps_torch, name)) == ref
    assert _params(getattr(caps_keras, name)) == ref


@pytest.mark.parametrize("name", KMEANS_TWINS)
def test_kmeans_twins_share_the_signature(name):
    assert _params(getattr(km_torch, name)) == _params(getattr(km_ref, name))
    assert set(km_torch.__all__) <= set(km_ref.__all__)


def test_capsule_layers_share_the_signature_except_the_torch_input_size():
    """PyTorch creates the weights in ``__init__`` and needs d_in (and n when unshared), as
    ``nn.Linear`` needs ``in_features``; Keras reads them in ``build``.  The rest is shared."""
    t = _params(caps_torch.Capsule.__init__)
    k = _params(caps_keras.Capsule.__init__)
    assert t[0][0] == "input_dim_capsule" and t[-1] == ("input_num_capsule", inspect.Parameter.KEYWORD_ONLY, None)
    assert t[1:-1] == k
    assert _params(caps_torch.Capsule.forward)[1:] == _params(caps_keras.Capsule.call)[1:]


def test_kmeans_routing_keywords_are_keyword_only_in_both():
    for mod in (km_ref, km_torch):
        params = inspect.signature(mod.kmeans_routing).parameters
        assert [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY] == \
            ["hard", "squash_c", "v0", "history"]
    with pytest.raises(TypeError):
        km_torch.kmeans_routing(torch.ones(1, 2, 3, 4, dtype=torch.float64), 2, 1.0, 0.5)   # squash_c positional


# ----------------------------------------------------------------------------- l2_normalize: one definition
def _old_l2(x, eps=caps_ref.EPS):
    return x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True) + eps)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l2_normalize_is_bit_for_bit_the_old_formula_for_ordinary_vectors(dtype):
    """The recorded runs of the "kmeans" routing used the plain formula: it must not move by one ulp."""
    x = np.random.default_rng(0).normal(scale=3.0, size=(50, 16)).astype(dtype)
    np.testing.assert_array_equal(caps_ref.l2_normalize(x), _old_l2(x))
    xt = torch.from_numpy(x)
    old_t = xt / torch.sqrt((xt * xt).sum(dim=-1, keepdim=True) + caps_ref.EPS)
    assert torch.equal(caps_torch.l2_normalize(xt), old_t)
    xk = ops.convert_to_tensor(x)
    old_k = xk / ops.sqrt(ops.sum(xk * xk, axis=-1, keepdims=True) + caps_ref.EPS)
    np.testing.assert_array_equal(_k(caps_keras.l2_normalize(xk)), _k(old_k))


@pytest.mark.parametrize("eps", [caps_ref.EPS, 0.0])
def test_l2_normalize_zero_huge_and_tiny_vectors(eps):
    x = np.array([[0.0, 0.0, 0.0], [3e200, -4e200, 0.0], [3e-200, 4e-200, 0.0], [3.0, 4.0, 0.0]])
    want = np.array([[0, 0, 0], [0.6, -0.8, 0], [0.6, 0.8, 0] if eps == 0 else [0, 0, 0], [0.6, 0.8, 0]])
    got = caps_ref.l2_normalize(x, eps=eps)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, atol=1e-7 if eps else 1e-15)
    np.testing.assert_array_equal(caps_torch.l2_normalize(torch.tensor(x), eps=eps).numpy(), got)
    x32 = np.array([[0, 0, 0], [3e30, -4e30, 0], [3, 4, 0]], np.float32)
    got32 = caps_ref.l2_normalize(x32, eps=eps)
    np.testing.assert_allclose(got32, [[0, 0, 0], [0.6, -0.8, 0], [0.6, 0.8, 0]], atol=1e-6)
    np.testing.assert_array_equal(caps_torch.l2_normalize(torch.tensor(x32), eps=eps).numpy(), got32)
    np.testing.assert_allclose(_k(caps_keras.l2_normalize(ops.convert_to_tensor(x32), eps=eps)), got32, atol=1e-7)


@pytest.mark.parametrize("eps", [caps_ref.EPS, 0.0])
def test_l2_normalize_gradient_at_zero_is_finite(eps):
    x = torch.zeros(2, 4, dtype=torch.float64, requires_grad=True)
    caps_torch.l2_normalize(x, eps=eps).sum().backward()
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(x.grad, torch.full_like(x, 1 / np.sqrt(eps) if eps else 1.0))


def test_l2_normalize_bad_eps_same_message():
    msg = "eps must be a finite number >= 0, got -1.0"
    for call in (lambda: caps_ref.l2_normalize(np.ones(3), eps=-1.0),
                 lambda: caps_torch.l2_normalize(torch.ones(3), eps=-1.0),
                 lambda: caps_keras.l2_normalize(np.ones(3, np.float32), eps=-1.0)):
        with pytest.raises(ValueError, match=msg):
            call()


def test_kmeans_routing_normalises_with_l2_normalize_even_for_huge_input():
    """The derived routing uses the one ``l2_normalize`` (eps = 0): at scale 1e200 with K = 1e-200
    its couplings are those at scale 1 with K = 1 (an overflowing norm would make them uniform)."""
    u_hat = 0.3 * np.random.default_rng(1).normal(size=(2, 4, 6, 3))
    _, h1 = km_ref.kmeans_routing(u_hat, 3, 1.0, history=True)
    _, h2 = km_ref.kmeans_routing(1e200 * u_hat, 3, 1e-200, history=True)
    np.testing.assert_allclose(np.stack(h2["c"]), np.stack(h1["c"]), atol=1e-12)
    _, ht = km_torch.kmeans_routing(1e200 * torch.tensor(u_hat), 3, 1e-200, history=True)
    np.testing.assert_allclose(torch.stack(ht["c"]).numpy(), np.stack(h1["c"]), atol=1e-12)
    for out in (km_ref.kmeans_routing(np.zeros((2, 4, 6, 3)), 3), km_torch.kmeans_routing(torch.zeros(2, 4, 6, 3), 3).numpy()):
        np.testing.assert_array_equal(out, 0.0)                  # zero input: no NaN


def test_chapter07_kmeans_variant_and_chapter08_routing_share_the_normalisation():
    """With eps = 0 in chapter 07's function the two codes are the same algorithm to rounding."""
    u_hat = 0.3 * np.random.default_rng(2).normal(size=(2, 5, 7, 4))
    k = u_hat.shape[1]
    v = u_hat.sum(axis=2) / k
    for _ in range(2):
        c = caps_ref.softmax(np.einsum("bknd,bkd->bkn", u_hat, caps_ref.l2_normalize(v, eps=0.0)), axis=1)
        v = np.einsum("bkn,bknd->bkd", c, u_hat)
    np.testing.assert_allclose(km_ref.kmeans_routing(u_hat, 2), caps_ref.squash(v, 0.5), atol=1e-14)


# ----------------------------------------------------------------------------- item 9: soft_kmeans_step
def test_case03_soft_kmeans_step_keeps_an_empty_centre_in_torch_as_in_numpy():
    u, v = [[0.0, 0.0], [1.0, 0.0]], [[0.0, 0.0], [100.0, 0.0]]
    new_n, c_n = km_ref.soft_kmeans_step(u, v, K=1e4)
    np.testing.assert_array_equal(new_n, [[0.5, 0.0], [100.0, 0.0]])
    vt = torch.tensor(v, requires_grad=True)
    new_t, c_t = km_torch.soft_kmeans_step(torch.tensor(u), vt, K=1e4)
    np.testing.assert_array_equal(new_t.detach().numpy(), new_n)
    np.testing.assert_array_equal(c_t.detach().numpy(), c_n)
    new_t.sum().backward()
    assert torch.isfinite(vt.grad).all()
    np.testing.assert_array_equal(vt.grad.numpy()[1], [1.0, 1.0])     # the kept centre is the identity


def test_soft_kmeans_step_twins_return_the_same_pair():
    rng = np.random.default_rng(3)
    u, v = rng.normal(size=(20, 3)), rng.normal(size=(4, 3))
    new_n, c_n = km_ref.soft_kmeans_step(u, v, 2.0)
    new_t, c_t = km_torch.soft_kmeans_step(torch.tensor(u), torch.tensor(v), 2.0)
    np.testing.assert_allclose(new_t.numpy(), new_n, atol=1e-12)
    np.testing.assert_allclose(c_t.numpy(), c_n, atol=1e-12)
    assert c_n.shape == (20, 4)


# ----------------------------------------------------------------------------- case 4: normalized_ip_loss
def test_case04_normalized_ip_loss_zero_centre_same_error():
    msg = "the centre v must be non-zero"
    with pytest.raises(ValueError, match=msg):
        km_ref.normalized_ip_loss(np.zeros(2), np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match=msg):
        km_torch.normalized_ip_loss(torch.zeros(2), torch.ones(3, 2), torch.ones(3))


# ----------------------------------------------------------------------------- item 10: kmeans_routing
@pytest.mark.parametrize("hard", [False, True])
def test_kmeans_routing_torch_has_the_reference_keywords(hard):
    rng = np.random.default_rng(4)
    u_hat, v0 = rng.normal(size=(2, 3, 8, 4)), rng.normal(size=(2, 3, 4))
    out_n, h_n = km_ref.kmeans_routing(u_hat, 4, 2.0, hard=hard, squash_c=0.7, v0=v0, history=True)
    out_t, h_t = km_torch.kmeans_routing(torch.tensor(u_hat), 4, 2.0, hard=hard, squash_c=0.7,
                                         v0=torch.tensor(v0), history=True)
    np.testing.assert_allclose(out_t.numpy(), out_n, atol=1e-12)
    assert set(h_t) == set(h_n) == {"c", "v", "loss"}
    for key in h_n:
        assert len(h_t[key]) == len(h_n[key])
        np.testing.assert_allclose(torch.stack(h_t[key]).numpy(), np.stack(h_n[key]), atol=1e-12)
    with pytest.raises(ValueError, match=r"v0 must have shape \(..., k, d\) = \(2, 3, 4\), got \(2, 2\)"):
        km_torch.kmeans_routing(torch.tensor(u_hat), 1, v0=torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"v0 must have shape \(..., k, d\) = \(2, 3, 4\), got \(2, 2\)"):
        km_ref.kmeans_routing(u_hat, 1, v0=np.zeros((2, 2)))


def test_routing_clustering_loss_reduction():
    rng = np.random.default_rng(5)
    u_hat, v = rng.normal(size=(3, 2, 5, 4)), rng.normal(size=(3, 2, 4))
    per = km_ref.routing_clustering_loss(u_hat, v)
    assert per.shape == (3,)
    assert km_ref.routing_clustering_loss(u_hat, v, reduction="mean") == pytest.approx(per.mean(), rel=1e-14)
    t = km_torch.routing_clustering_loss(torch.tensor(u_hat), torch.tensor(v), reduction="mean")
    assert float(t) == pytest.approx(per.mean(), rel=1e-12)
    for call in (lambda: km_ref.routing_clustering_loss(u_hat, v, reduction="sum"),
                 lambda: km_torch.routing_clustering_loss(torch.tensor(u_hat), torch.tensor(v), reduction="sum")):
        with pytest.raises(ValueError, match="reduction must be 'none' or 'mean', got 'sum'"):
            call()


# ----------------------------------------------------------------------------- integer input
def test_squash_integer_input_is_cast_in_all_three():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    want = caps_ref.squash(x.astype(np.float64), 0.5)
    assert caps_ref.squash(x, 0.5).dtype == np.float64
    np.testing.assert_array_equal(caps_ref.squash(x, 0.5), want)
    t = caps_torch.squash(torch.tensor(x), 0.5)
    assert t.dtype == torch.get_default_dtype()
    np.testing.assert_allclose(t.numpy(), want, rtol=1e-6)
    k = caps_keras.squash(ops.convert_to_tensor(x), 0.5)                 # was KeyError('int32')
    assert keras.backend.standardize_dtype(k.dtype) == keras.backend.floatx()
    np.testing.assert_allclose(_k(k), want, rtol=1e-6)


def test_integer_input_cast_in_routing_and_kmeans():
    u = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5) % 3 - 1
    want, _ = caps_ref.dynamic_routing(u.astype(np.float64), 3, "kmeans")
    np.testing.assert_allclose(caps_ref.dynamic_routing(u, 3, "kmeans")[0], want)
    np.testing.assert_allclose(caps_torch.dynamic_routing(torch.tensor(u), 3, "kmeans")[0].numpy(), want, atol=1e-6)
    np.testing.assert_allclose(_k(caps_keras.dynamic_routing(ops.convert_to_tensor(u), 3, "kmeans")[0]), want, atol=1e-6)
    np.testing.assert_allclose(km_torch.kmeans_routing(torch.tensor(u), 2).numpy(),
                               km_ref.kmeans_routing(u, 2), atol=1e-6)


def test_squash_scale_refuses_non_float_dtypes_clearly():
    with pytest.raises(TypeError, match=r"x needs a floating-point dtype .*got 'int64'"):
        caps_ref.squash_scale("int64", 3)
    assert caps_ref.squash_scale("torch.float32", 4) == caps_ref.squash_scale("float32", 4)


# ----------------------------------------------------------------------------- validation: one message
def test_capsule_constructor_errors_same_message():
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=f"num_capsule must be an integer >= 1, got {bad!r}"):
            caps_torch.Capsule(8, bad, 4)
        with pytest.raises(ValueError, match=f"num_capsule must be an integer >= 1, got {bad!r}"):
            caps_keras.Capsule(bad, 4)
    msg = "unshared weights need a fixed number of input capsules"
    with pytest.raises(ValueError, match=msg):
        caps_torch.Capsule(8, 3, 4, share_weights=False)
    inp = keras.Input((None, 8))
    with pytest.raises(ValueError, match=msg):
        caps_keras.Capsule(3, 4, share_weights=False)(inp)


def test_input_dimension_error_same_message():
    msg = "expected input capsules of dimension 8, got 7"
    with pytest.raises(ValueError, match=msg):
        caps_torch.Capsule(8, 3, 4)(torch.zeros(2, 5, 7))
    layer = caps_keras.Capsule(3, 4)
    layer(np.zeros((2, 5, 8), np.float32))
    with pytest.raises(ValueError, match=msg):
        layer(np.zeros((2, 5, 7), np.float32))


def test_empty_batch_margin_loss():
    y, p = np.zeros((0, 3)), np.zeros((0, 3))
    assert caps_ref.margin_loss(y, p).shape == (0,)
    assert tuple(caps_torch.margin_loss(torch.tensor(y), torch.tensor(p)).shape) == (0,)
    assert tuple(caps_keras.margin_loss(ops.convert_to_tensor(y), ops.convert_to_tensor(p)).shape) == (0,)
    for call in (lambda: caps_ref.margin_loss(y, p, reduction="mean"),
                 lambda: caps_torch.margin_loss(torch.tensor(y), torch.tensor(p), reduction="mean"),
                 lambda: caps_keras.margin_loss(ops.convert_to_tensor(y), ops.convert_to_tensor(p), reduction="mean")):
        with pytest.raises(ValueError, match="empty batch"):
            call()


def test_messages_come_from_validate():
    """No capsule/kmeans message is spelled in two framework modules: the sources use _validate."""
    from pathlib import Path

    import kexue
    root = Path(kexue.__file__).parent
    for msg in (_validate.U_HAT_SHAPE, _validate.CENTRE_ZERO, _validate.SHARPNESS, _validate.CAPS_INPUT_SHAPE,
                _validate.ROUTING_ITERATIONS, _validate.SAME_DIM):
        head = msg.split("{")[0][:30]
        spelled = [f for f in (list((root / "capsule").glob("*.py")) + list((root / "kmeans").glob("*.py")))
                   if head in f.read_text()]
        assert not spelled, (head, [f.name for f in spelled])


# ----------------------------------------------------------------------------- Keras serialisation
@pytest.mark.parametrize("shared", [True, False])
def test_keras_capsule_round_trips_through_a_keras_file(tmp_path, shared):
    inp = keras.Input((6, 8))
    out = caps_keras.Capsule(3, 4, routings=2, share_weights=shared, routing="kmeans", squash_c=0.7, name="caps")(inp)
    model = keras.Model(inp, out)
    x = np.random.default_rng(6).normal(size=(2, 6, 8)).astype(np.float32)
    path = tmp_path / "caps.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    layer = loaded.get_layer("caps")
    assert isinstance(layer, caps_keras.Capsule)
    assert {k: layer.get_config()[k] for k in ("num_capsule", "dim_capsule", "routings", "share_weights",
                                               "routing", "squash_c")} == \
        dict(num_capsule=3, dim_capsule=4, routings=2, share_weights=shared, routing="kmeans", squash_c=0.7)
    assert keras.saving.get_registered_name(caps_keras.Capsule) == "kexue>Capsule"


def test_keras_capsule_returns_couplings_like_torch():
    x = np.random.default_rng(7).normal(size=(2, 5, 8)).astype(np.float32)
    layer = caps_keras.Capsule(3, 4)
    v, c = layer(x, return_couplings=True)
    W = layer.W.numpy().astype(np.float64)
    v_ref, c_ref = caps_ref.dynamic_routing(caps_ref.predictions(x.astype(np.float64), W, 3), 3, "post")
    np.testing.assert_allclose(_k(v), v_ref, atol=1e-5)
    np.testing.assert_allclose(_k(c), c_ref, atol=1e-5)


# ----------------------------------------------------------------------------- devices
def test_torch_capsule_builds_on_the_requested_device_and_dtype():
    layer = caps_torch.Capsule(8, 3, 4, device="meta", dtype=torch.float64)
    assert layer.W.device.type == "meta" and layer.W.dtype == torch.float64
    out = layer(torch.zeros(2, 5, 8, device="meta", dtype=torch.float64))
    assert out.device.type == "meta" and out.shape == (2, 3, 4)


def test_kmeans_torch_keeps_the_input_device():
    g = torch.Generator().manual_seed(0)
    u_hat = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.float64)
    pts, cent = torch.randn(7, 2, generator=g, dtype=torch.float64), torch.randn(3, 2, generator=g, dtype=torch.float64)
    calls = [lambda: km_torch.kmeans_routing(u_hat, 3, hard=True, v0=u_hat.sum(-2), history=True)[1]["c"],
             lambda: km_torch.soft_kmeans_step(pts, cent, 1e4),
             lambda: [caps_torch.l2_normalize(u_hat, eps=0.0)]]
    for call in calls:
        want = [t.clone() for t in call()]
        with torch.device("meta"):
            got = list(call())
        for a, b in zip(got, want):
            assert a.device.type == "cpu"
            torch.testing.assert_close(a, b, rtol=0, atol=0)
