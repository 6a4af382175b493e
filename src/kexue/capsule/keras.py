"""Capsules in Keras 3 (chapter 07, ``chapters/07-capsule.md``), tested against :mod:`.numpy_ref`.

A port of the post's Keras 2 layer to the Keras 3 API (``keras.ops`` only):
``K.conv1d`` / ``K.local_conv1d`` become an einsum with the weight matrix,
``K.batch_dot`` becomes einsum, and the softmax runs over the output capsules.
Weights have the numpy reference's shapes: shared (d_in, k*d_out), unshared
(n, d_in, k*d_out).
"""
from __future__ import annotations

import keras
from keras import ops

from kexue import _validate
from kexue.capsule.numpy_ref import EPS, check_routing, squash_scale


def squash(x, c: float = 1.0, axis: int = -1, eps: float = EPS):
    """``x·sqrt(||x||²+eps)/(c+||x||²)``; a vector that could overflow ``||x||²`` is scaled first (numpy reference)."""
    c = _validate.squash_constant(c)
    m = ops.max(ops.abs(ops.stop_gradient(x)), axis=axis, keepdims=True)
    limit = squash_scale(keras.backend.standardize_dtype(x.dtype), x.shape[axis] or 1)
    m = ops.where(m > limit, m, ops.ones_like(m))
    y = x / m
    t = ops.sum(y * y, axis=axis, keepdims=True)
    inv2 = (1.0 / m) / m
    return y * ops.sqrt(t + eps * inv2) / (c * inv2 + t)


def l2_normalize(x, axis: int = -1, eps: float = EPS):
    """``x / sqrt(||x||² + eps)``."""
    return x / ops.sqrt(ops.sum(x * x, axis=axis, keepdims=True) + eps)


def dynamic_routing(u_hat, routings: int = 3, routing: str = "post", squash_c: float | None = None):
    """Route ``u_hat`` (B, k, n, d); returns ``(v, c)``: outputs (B, k, d) and last couplings (B, k, n)."""
    c_sq = check_routing(routing, routings, squash_c)
    if len(u_hat.shape) != 4:
        raise ValueError(f"u_hat must have shape (batch, k, n, d), got shape {tuple(u_hat.shape)}")
    b = ops.zeros_like(u_hat[..., 0])
    for it in range(routings):
        c = ops.softmax(b, axis=1)                           # over the output capsules j
        s = ops.einsum("bkn,bknd->bkd", c, u_hat)
        last = it == routings - 1
        if routing == "kmeans":
            if last:
                return squash(s, c_sq), c
            v = l2_normalize(s)
        else:
            v = squash(s, c_sq)
            if last:
                return v, c
        agreement = ops.einsum("bkd,bknd->bkn", v, u_hat)
        b = b + agreement if routing == "hinton" else agreement
    raise AssertionError("unreachable")  # pragma: no cover


class Capsule(keras.layers.Layer):
    """Capsule layer: (B, n, d_in) → (B, num_capsule, dim_capsule); see :class:`kexue.capsule.torch.Capsule`.

    With ``share_weights=True`` the number of input capsules may be unknown
    (``None``), so the layer sits on a CNN of any image size.  Unshared weights
    need a known ``n`` when the layer is built.
    """

    def __init__(self, num_capsule: int, dim_capsule: int, routings: int = 3, share_weights: bool = True,
                 routing: str = "post", squash_c: float | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        check_routing(routing, routings, squash_c)
        if int(num_capsule) < 1 or int(dim_capsule) < 1:
            raise ValueError(f"num_capsule and dim_capsule must be >= 1, got {num_capsule}, {dim_capsule}")
        self.num_capsule, self.dim_capsule = int(num_capsule), int(dim_capsule)
        self.routings, self.routing, self.squash_c = int(routings), routing, squash_c
        self.share_weights = bool(share_weights)

    def build(self, input_shape) -> None:
        if len(input_shape) != 3:
            raise ValueError(f"input capsules must have shape (batch, n, d_in), got shape {tuple(input_shape)}")
        n, d_in = input_shape[1], input_shape[2]
        if d_in is None:
            raise ValueError("the input capsule dimension d_in must be known")
        out = self.num_capsule * self.dim_capsule
        if self.share_weights:
            shape = (d_in, out)
        else:
            if n is None:
                raise ValueError("unshared weights need a fixed number of input capsules, got n=None "
                                 "(use share_weights=True for a variable number of inputs)")
            shape = (n, d_in, out)
        self.input_dim_capsule, self.input_num_capsule = int(d_in), n
        self.W = self.add_weight(name="W", shape=shape, initializer="glorot_uniform", trainable=True)

    def call(self, u):
        if len(u.shape) != 3:
            raise ValueError(f"input capsules must have shape (batch, n, d_in), got shape {tuple(u.shape)}")
        k, d, d_in = self.num_capsule, self.dim_capsule, self.input_dim_capsule
        if self.share_weights:
            u_hat = ops.einsum("bni,ikd->bknd", u, ops.reshape(self.W, (d_in, k, d)))
        else:
            if u.shape[1] is not None and u.shape[1] != self.input_num_capsule:
                raise ValueError(f"unshared weights are for {self.input_num_capsule} input capsules, "
                                 f"got {u.shape[1]}")
            u_hat = ops.einsum("bni,nikd->bknd", u, ops.reshape(self.W, (self.input_num_capsule, d_in, k, d)))
        return dynamic_routing(u_hat, self.routings, self.routing, self.squash_c)[0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_capsule, self.dim_capsule)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg.update(num_capsule=self.num_capsule, dim_capsule=self.dim_capsule, routings=self.routings,
                   share_weights=self.share_weights, routing=self.routing, squash_c=self.squash_c)
        return cfg


def margin_loss(y_true, p, m_plus: float = 0.9, m_minus: float = 0.1, lam: float = 0.25, reduction: str = "none"):
    """Margin loss, mean over classes: (B,) (usable as a Keras loss), or the batch mean; see the numpy reference."""
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    if len(p.shape) != 2 or len(y_true.shape) != 2 or any(
            a is not None and b is not None and a != b for a, b in zip(y_true.shape, p.shape)):
        raise ValueError(_validate.MARGIN_SHAPE.format(tuple(y_true.shape), tuple(p.shape)))
    y_true = ops.cast(y_true, p.dtype)
    loss = y_true * ops.relu(m_plus - p) ** 2 + lam * (1 - y_true) * ops.relu(p - m_minus) ** 2
    return ops.mean(loss) if reduction == "mean" else ops.mean(loss, axis=-1)
