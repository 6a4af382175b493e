"""Validation parity: each bad input is refused by the numpy reference, PyTorch and Keras with the same message.

One table per module: ``(case, {framework: call})``; every call must raise the
case's exception with the case's message (``match=``).  A torch function given a
numpy array or a list refuses it with a ``TypeError`` naming ``torch.Tensor``.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
ops = keras.ops

from kexue.activations import keras as act_keras  # noqa: E402
from kexue.activations import numpy_ref as act_ref  # noqa: E402
from kexue.activations import torch as act_torch  # noqa: E402
from kexue.attention import keras as att_keras  # noqa: E402
from kexue.attention import numpy_ref as att_ref  # noqa: E402
from kexue.attention import torch as att_torch  # noqa: E402
from kexue.capsule import keras as caps_keras  # noqa: E402
from kexue.capsule import numpy_ref as caps_ref  # noqa: E402
from kexue.capsule import torch as caps_torch  # noqa: E402
from kexue.crf import numpy_ref as crf_ref  # noqa: E402
from kexue.crf.keras import CRF as KerasCRF  # noqa: E402
from kexue.crf.torch import CRF as TorchCRF  # noqa: E402
from kexue.kmeans import numpy_ref as km_ref  # noqa: E402
from kexue.kmeans import torch as km_torch  # noqa: E402
from kexue.losses import keras as loss_keras  # noqa: E402
from kexue.losses import numpy_ref as loss_ref  # noqa: E402
from kexue.losses import torch as loss_torch  # noqa: E402

T = torch.tensor
K = ops.convert_to_tensor


def _table(rows):
    """``[(case, exception, message, {framework: call})]`` -> pytest params, one per (case, framework)."""
    return [pytest.param(exc, msg, call, id=f"{case}-{fw}")
            for case, exc, msg, calls in rows for fw, call in calls.items()]


def _check(exc, msg, call):
    with pytest.raises(exc, match=msg):
        call()


# ----------------------------------------------------------------------------- capsule
U4 = np.ones((2, 3, 4, 5))
CAPSULE = _table([
    ("u_hat rank", ValueError, r"u_hat must have shape \(batch, k, n, d\), got shape \(3, 4, 5\)", {
        "numpy": lambda: caps_ref.dynamic_routing(U4[0]),
        "torch": lambda: caps_torch.dynamic_routing(T(U4[0])),
        "keras": lambda: caps_keras.dynamic_routing(K(U4[0]))}),
    ("routing name", ValueError, "unknown routing 'em'", {
        "numpy": lambda: caps_ref.dynamic_routing(U4, 3, "em"),
        "torch": lambda: caps_torch.dynamic_routing(T(U4), 3, "em"),
        "keras": lambda: caps_keras.dynamic_routing(K(U4), 3, "em")}),
    ("routings", ValueError, "routings must be an integer >= 1, got 0", {
        "numpy": lambda: caps_ref.dynamic_routing(U4, 0),
        "torch": lambda: caps_torch.dynamic_routing(T(U4), 0),
        "keras": lambda: caps_keras.dynamic_routing(K(U4), 0)}),
    ("margin shapes", ValueError, r"y_true and p must be matrices of the same shape, got \(2, 3\) and \(2, 2\)", {
        "numpy": lambda: caps_ref.margin_loss(np.eye(3)[:2], np.ones((2, 2))),
        "torch": lambda: caps_torch.margin_loss(T(np.eye(3)[:2]), T(np.ones((2, 2)))),
        "keras": lambda: caps_keras.margin_loss(K(np.eye(3)[:2]), K(np.ones((2, 2))))}),
    ("reduction", ValueError, "reduction must be 'none' or 'mean', got 'sum'", {
        "numpy": lambda: caps_ref.margin_loss(np.eye(3), np.eye(3), reduction="sum"),
        "torch": lambda: caps_torch.margin_loss(T(np.eye(3)), T(np.eye(3)), reduction="sum"),
        "keras": lambda: caps_keras.margin_loss(K(np.eye(3)), K(np.eye(3)), reduction="sum")}),
    ("numpy into torch", TypeError, "x must be a torch.Tensor, got ndarray", {
        "torch": lambda: caps_torch.squash(U4)}),
])


@pytest.mark.parametrize("exc,msg,call", CAPSULE)
def test_capsule(exc, msg, call):
    _check(exc, msg, call)


# ----------------------------------------------------------------------------- attention
Q = np.ones((2, 3, 4))
BAD_K = np.ones((2, 5, 3))
ATTENTION = _table([
    ("float mask", ValueError, "mask must be a boolean array \\(True = keep\\), got dtype", {
        "numpy": lambda: att_ref.scaled_dot_product_attention(Q, Q, Q, mask=np.ones((2, 3, 3))),
        "torch": lambda: att_torch.scaled_dot_product_attention(T(Q), T(Q), T(Q), mask=torch.ones(2, 3, 3))}),
    ("float key_mask", ValueError, "key_mask must be a boolean array \\(True = keep\\), got dtype", {
        "numpy": lambda: att_ref.multi_head_attention(Q, Q, Q, *[np.eye(4)] * 3, 2, key_mask=np.ones((2, 3))),
        "torch": lambda: att_torch.MultiHeadAttention(2, 2, 4).double()(T(Q), key_mask=torch.ones(2, 3)),
        "keras": lambda: att_keras.MultiHeadAttention(2, 2)(Q, key_mask=np.ones((2, 3), np.float32))}),
    ("key_mask shape", ValueError, r"key_mask has shape \(2, 4\), which does not broadcast to \(2, 3\)", {
        "numpy": lambda: att_ref.multi_head_attention(Q, Q, Q, *[np.eye(4)] * 3, 2, key_mask=np.ones((2, 4), bool)),
        "torch": lambda: att_torch.MultiHeadAttention(2, 2, 4).double()(T(Q), key_mask=torch.ones(2, 4).bool()),
        "keras": lambda: att_keras.MultiHeadAttention(2, 2)(Q, key_mask=np.ones((2, 4), bool))}),
    ("mask shape", ValueError, r"mask has shape \(2, 4\), which does not broadcast to \(2, 3, 3\)", {
        "numpy": lambda: att_ref.scaled_dot_product_attention(Q, Q, Q, mask=np.ones((2, 4), bool)),
        "torch": lambda: att_torch.scaled_dot_product_attention(T(Q), T(Q), T(Q),
                                                                mask=torch.ones(2, 4, dtype=torch.bool))}),
    ("q/k dimension", ValueError, "q and k must share the last dimension, got 4 and 3", {
        "numpy": lambda: att_ref.scaled_dot_product_attention(Q, BAD_K, BAD_K),
        "torch": lambda: att_torch.scaled_dot_product_attention(T(Q), T(BAD_K), T(BAD_K))}),
    ("k/v length", ValueError, "k and v must have the same length, got 3 and 5", {
        "numpy": lambda: att_ref.scaled_dot_product_attention(Q, Q, np.ones((2, 5, 4))),
        "torch": lambda: att_torch.scaled_dot_product_attention(T(Q), T(Q), T(np.ones((2, 5, 4))))}),
    ("list into torch", TypeError, "q must be a torch.Tensor, got list", {
        "torch": lambda: att_torch.scaled_dot_product_attention(Q.tolist(), T(Q), T(Q))}),
])


@pytest.mark.parametrize("exc,msg,call", ATTENTION)
def test_attention(exc, msg, call):
    _check(exc, msg, call)


# ----------------------------------------------------------------------------- CRF
EM = np.zeros((2, 3, 4))
TAGS = np.zeros((2, 3), np.int64)
OK_MASK = np.ones((2, 3), bool)


def _crfs():
    tc = TorchCRF(4).double()
    kc = KerasCRF(4, dtype="float64")
    kc.build((None, None, 4))
    tr = np.zeros((4, 4))
    return {"numpy": lambda em, y, m: crf_ref.batch_nll(em, y, m, tr),
            "torch": lambda em, y, m: tc.nll(T(em), T(y), T(m)),
            "keras": lambda em, y, m: kc.nll(em, y, m)}


CRFS = _crfs()


def _crf_row(case, exc, msg, em, y, m):
    return (case, exc, msg, {fw: (lambda f=f: f(em, y, m)) for fw, f in CRFS.items()})


GAP = np.array([[1, 0, 1], [1, 1, 1]], bool)
LEFT = np.array([[0, 1, 1], [1, 1, 1]], bool)
CRF_TABLE = _table([
    _crf_row("float tags", ValueError, "tags must be integers, got dtype", EM, TAGS + 0.5, OK_MASK),
    _crf_row("tag range", ValueError, r"tag out of range: tags must lie in \[0, 4\), got min 0, max 4", EM,
             np.array([[0, 4, 0], [0, 0, 0]]), OK_MASK),
    _crf_row("mask gap", ValueError, "mask has a gap", EM, TAGS, GAP),
    _crf_row("left padding", ValueError, "left padding", EM, TAGS, LEFT),
    _crf_row("non-finite", ValueError, "non-finite values", np.where(np.arange(4) == 1, np.nan, EM), TAGS, OK_MASK),
    ("constraint shape", ValueError, r"allowed must be a boolean array of shape \(4, 4\), got shape \(3, 3\)", {
        "numpy": lambda: crf_ref.viterbi(EM[0], np.zeros((4, 4)), allowed=np.ones((3, 3), bool)),
        "torch": lambda: TorchCRF(4).double().decode(T(EM), allowed=torch.ones(3, 3, dtype=torch.bool)),
        "keras": lambda: _keras_decode_bad_allowed()}),
    ("numpy into torch", TypeError, "emissions must be a torch.Tensor, got ndarray", {
        "torch": lambda: TorchCRF(4).decode(EM)}),
])


def _keras_decode_bad_allowed():
    kc = KerasCRF(4, dtype="float64")
    kc.build((None, None, 4))
    return kc.decode(EM, allowed=np.ones((3, 3), bool))


@pytest.mark.parametrize("exc,msg,call", CRF_TABLE)
def test_crf(exc, msg, call):
    _check(exc, msg, call)


# ----------------------------------------------------------------------------- losses
X = np.zeros((3, 2))
C = np.zeros((4, 2))
LOSSES = _table([
    ("label range", ValueError, r"label out of range: labels must lie in \[0, 4\), got min -1 and max 1", {
        "numpy": lambda: loss_ref.center_loss(X, [0, 1, -1], C),
        "torch": lambda: loss_torch.center_loss(T(X), T([0, 1, -1]), T(C)),
        "keras": lambda: loss_keras.center_loss(K(X), np.array([0, 1, -1]), K(C))}),
    ("fractional labels", ValueError, "labels must be integer class indices", {
        "numpy": lambda: loss_ref.center_loss(X, [0, 1.5, 2], C),
        "torch": lambda: loss_torch.center_loss(T(X), T([0, 1.5, 2]), T(C)),
        "keras": lambda: loss_keras.center_loss(K(X), np.array([0, 1.5, 2]), K(C))}),
    ("label count", ValueError, "shape mismatch: 2 labels for a batch of 3", {
        "numpy": lambda: loss_ref.center_loss(X, [0, 1], C),
        "torch": lambda: loss_torch.center_loss(T(X), T([0, 1]), T(C)),
        "keras": lambda: loss_keras.center_loss(K(X), np.array([0, 1]), K(C))}),
    ("feature dimension", ValueError, "shape mismatch: features have dimension 2 but the centres have dimension 3", {
        "numpy": lambda: loss_ref.center_loss(X, [0, 1, 2], np.zeros((4, 3))),
        "torch": lambda: loss_torch.center_loss(T(X), T([0, 1, 2]), T(np.zeros((4, 3)))),
        "keras": lambda: loss_keras.center_loss(K(X), np.array([0, 1, 2]), K(np.zeros((4, 3))))}),
    ("eps", ValueError, r"the smoothing weight eps must lie in \[0, 1\), got 1.0", {
        "numpy": lambda: loss_ref.mixed_cross_entropy(X, [0, 1, 1], eps=1.0),
        "torch": lambda: loss_torch.mixed_cross_entropy(T(X), T([0, 1, 1]), eps=1.0),
        "keras": lambda: loss_keras.make_mixed_crossentropy(eps=1.0)}),
    ("labels as a list into torch", TypeError, "labels must be a torch.Tensor, got list", {
        "torch": lambda: loss_torch.mixed_cross_entropy(T(X), [0, 1, 1])}),
])


@pytest.mark.parametrize("exc,msg,call", LOSSES)
def test_losses(exc, msg, call):
    _check(exc, msg, call)


# ----------------------------------------------------------------------------- kmeans
KMEANS = _table([
    ("u_hat rank", ValueError, r"u_hat must have at least 3 dimensions, got shape \(4, 5\)", {
        "numpy": lambda: km_ref.kmeans_routing(np.ones((4, 5)), 2),
        "torch": lambda: km_torch.kmeans_routing(T(np.ones((4, 5))), 2)}),
    ("non-finite", ValueError, "u_hat contains NaN or infinite values", {
        "numpy": lambda: km_ref.kmeans_routing(np.full((2, 3, 4), np.inf), 2),
        "torch": lambda: km_torch.kmeans_routing(T(np.full((2, 3, 4), np.inf)), 2)}),
    ("iterations", ValueError, "the number of routing iterations r must be an integer >= 0, got -1", {
        "numpy": lambda: km_ref.kmeans_routing(U4, -1),
        "torch": lambda: km_torch.kmeans_routing(T(U4), -1)}),
    ("sharpness", ValueError, "the sharpness K must be a finite positive number, got 0", {
        "numpy": lambda: km_ref.kmeans_routing(U4, 2, K=0),
        "torch": lambda: km_torch.kmeans_routing(T(U4), 2, K=0)}),
    ("shapes", ValueError, "u and v must have the same dimension", {
        "numpy": lambda: km_ref.soft_kmeans_step(np.ones((5, 2)), np.ones((3, 3)), 1.0),
        "torch": lambda: km_torch.soft_kmeans_step(T(np.ones((5, 2))), T(np.ones((3, 3))), 1.0)}),
])


@pytest.mark.parametrize("exc,msg,call", KMEANS)
def test_kmeans(exc, msg, call):
    _check(exc, msg, call)


# ----------------------------------------------------------------------------- activations
ACTIVATIONS = _table([
    ("name", ValueError, "unknown activation 'gelu'; choose from sigmoid, tanh", {
        "numpy": lambda: act_ref.activation("gelu", np.zeros(3)),
        "torch": lambda: act_torch.activation("gelu", torch.zeros(3)),
        "keras": lambda: act_keras.activation("gelu", K(np.zeros(3)))}),
    ("integer input", TypeError, r"activations take floating-point input, got dtype (torch\.)?int", {
        "numpy": lambda: act_ref.activation("relu", np.arange(3)),
        "torch": lambda: act_torch.activation("relu", torch.arange(3)),
        "keras": lambda: act_keras.activation("relu", K(np.arange(3)))}),
    ("numpy into torch", TypeError, "activations take floating-point input, got ndarray", {
        "torch": lambda: act_torch.activation("relu", np.zeros(3))}),
])


@pytest.mark.parametrize("exc,msg,call", ACTIVATIONS)
def test_activations(exc, msg, call):
    _check(exc, msg, call)


def test_a_broadcast_key_mask_means_the_same_in_every_framework():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4))
    w = [rng.normal(size=(4, 4)) for _ in range(3)]
    keep = np.array([True, True, False])                           # (Tk,): the same for every sample
    ref = att_ref.multi_head_attention(x, x, x, *w, 2, key_mask=np.broadcast_to(keep, (2, 3)))
    got_np = att_ref.multi_head_attention(x, x, x, *w, 2, key_mask=keep)
    lt = att_torch.MultiHeadAttention(2, 2, 4).double()
    lt.load_numpy(*w)
    lk = att_keras.MultiHeadAttention(2, 2, dtype="float64")
    lk(x)
    lk.load_numpy(*w)
    np.testing.assert_allclose(got_np, ref, atol=1e-12)
    np.testing.assert_allclose(lt(T(x), key_mask=T(keep)).detach().numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(ops.convert_to_numpy(lk(x, key_mask=keep)), ref, atol=1e-12)
