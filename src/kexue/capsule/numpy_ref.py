"""Capsules in numpy: the specification of chapter 07 (``chapters/07-capsule.md``).

Shapes used throughout (the letters of the einsum strings):

* ``u``     input capsules, ``(B, n, d_in)`` (``n`` may vary with the image size);
* ``W``     shared weights ``(d_in, k*d_out)`` or unshared ``(n, d_in, k*d_out)``;
* ``u_hat`` prediction vectors ``û_{j|i} = W_j u_i`` (or ``W_{ji} u_i``), ``(B, k, n, d_out)``;
* ``b, c``  routing logits and coupling coefficients, ``(B, k, n)``; ``c`` is a
  softmax over the **output capsules** (axis 1), so ``c[:, :, i].sum() == 1``;
* ``v``     output capsules, ``(B, k, d_out)``; their lengths are the scores.

Three routing variants, by name (:data:`ROUTINGS`):

``"hinton"``  Sabour, Frosst & Hinton (2017): logits *accumulate*,
              ``b += <û, v>``; squash (constant 1) at every iteration.
``"post"``    Su's post https://kexue.fm/archives/4819: logits are *replaced*,
              ``b = <û, v>``; squash (constant 0.5) at every iteration.
``"kmeans"``  Su's follow-up https://kexue.fm/archives/5112 (chapter 08): inside the
              loop the centre is L2-*normalised* instead of squashed, logits
              replaced, squash (constant 0.5) once at the end.

In all three, ``routings=r`` means ``r`` passes of "softmax → weighted sum",
starting from ``b = 0`` (so the first pass is the plain mean over outputs
``c = 1/k``), exactly like the author's Keras code.
"""
from __future__ import annotations

import numpy as np

from kexue import _validate
from kexue.numeric import softmax  # noqa: F401  (one copy for the package; part of this reference)

__all__ = [
    "ROUTINGS", "EPS", "check_routing", "squash", "squash_scale", "l2_normalize", "softmax", "dynamic_routing",
    "predictions", "capsule", "margin_loss", "mean_max_coupling", "implicit_activation", "self_pooling",
]

#: routing name -> squash constant used by default with it
ROUTINGS: dict[str, float] = {"hinton": 1.0, "post": 0.5, "kmeans": 0.5}

#: the small constant inside square roots (Keras' ``epsilon()``)
EPS = 1e-7


def check_routing(routing: str, routings: int, squash_c: float | None = None) -> float:
    """Validate a routing name, iteration count and squash constant; return the squash constant to use.

    ``squash_c=None`` means the variant's constant from :data:`ROUTINGS`.
    """
    if routing not in ROUTINGS:
        raise ValueError(f"unknown routing {routing!r}; choose one of {sorted(ROUTINGS)}")
    if isinstance(routings, bool) or not isinstance(routings, (int, np.integer)) or routings < 1:
        raise ValueError(f"routings must be an integer >= 1, got {routings!r}")
    return ROUTINGS[routing] if squash_c is None else _validate.squash_constant(squash_c)


def squash(x: np.ndarray, c: float = 1.0, axis: int = -1, eps: float = EPS) -> np.ndarray:
    """``squash(x) = ||x||²/(c + ||x||²) · x/||x||``, computed as ``x·sqrt(||x||²+eps)/(c+||x||²)``.

    ``c = 1`` is Hinton's squash, ``c = 0.5`` the post's.  The ``eps`` keeps the
    gradient finite at ``x = 0`` (it is ``sqrt(eps)/c`` times the identity there)
    and the output length stays strictly below 1 for any ``c > eps/2``.

    The squared norm would overflow long before the output does (|x| = 300 in
    float16, 1e20 in float32), so a vector whose largest entry ``m`` could overflow
    it (:func:`squash_scale`) is first divided by ``m``: with ``y = x/m``,
    ``t = ||y||²`` the same value is ``y·sqrt(t + eps/m²)/(c/m² + t)``.  Every other
    vector is divided by exactly 1, so its result is bit for bit the plain formula.
    """
    c = _validate.squash_constant(c)
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    m = np.max(np.abs(x), axis=axis, keepdims=True)
    m = np.where(m > squash_scale(x.dtype, x.shape[axis]), m, np.ones_like(m))   # the scale: m or 1
    y = x / m
    t = np.sum(y * y, axis=axis, keepdims=True)
    inv2 = (1 / m) / m                                                 # 1/m², 1 for most vectors
    return y * np.sqrt(t + eps * inv2) / (c * inv2 + t)


def squash_scale(dtype, d: int) -> float:
    """Largest entry above which ``||x||²`` of a ``d``-vector might overflow ``dtype`` (with room for ``c``)."""
    big = {"float16": 65504.0, "bfloat16": 3.38e38, "float32": 3.4028e38, "float64": 1.7976e308}[str(dtype)]
    return float(np.sqrt(big / (4.0 * max(int(d), 1))))


def l2_normalize(x: np.ndarray, axis: int = -1, eps: float = EPS) -> np.ndarray:
    """``x / sqrt(||x||² + eps)`` along ``axis`` (the normalisation of the ``"kmeans"`` routing)."""
    x = np.asarray(x)
    return x / np.sqrt(np.sum(x * x, axis=axis, keepdims=True) + eps)


def dynamic_routing(u_hat: np.ndarray, routings: int = 3, routing: str = "post",
                    squash_c: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Route prediction vectors ``u_hat`` (B, k, n, d) to output capsules.

    Returns ``(v, c)``: the outputs (B, k, d) and the coupling coefficients
    (B, k, n) of the last pass (the ones that produced ``v``).
    ``squash_c=None`` uses the variant's constant from :data:`ROUTINGS`.
    """
    c_sq = check_routing(routing, routings, squash_c)
    u_hat = np.asarray(u_hat)
    if u_hat.ndim != 4:
        raise ValueError(f"u_hat must have shape (batch, k, n, d), got shape {u_hat.shape}")
    b = np.zeros(u_hat.shape[:3], dtype=u_hat.dtype)
    for it in range(routings):
        c = softmax(b, axis=1)                               # over the output capsules j
        s = np.einsum("bkn,bknd->bkd", c, u_hat)
        last = it == routings - 1
        if routing == "kmeans":
            if last:
                return squash(s, c_sq), c
            v = l2_normalize(s)
        else:
            v = squash(s, c_sq)
            if last:
                return v, c
        agreement = np.einsum("bkd,bknd->bkn", v, u_hat)
        b = b + agreement if routing == "hinton" else agreement
    raise AssertionError("unreachable")  # pragma: no cover


def implicit_activation(x, iterations: int = 3) -> np.ndarray:
    """The post's first side dish: ``y`` with ``x = y + cos y``, by ``iterations`` steps of
    ``y <- x - cos y`` from ``y = x`` (elementwise; ``x`` any shape).

    The fixed point is exact; a few steps only approximate it, and the iteration
    contracts with rate ``|sin y*|``, slowly where that is close to 1.
    """
    if not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    x = np.asarray(x, dtype=np.float64)
    y = x.copy()
    for _ in range(iterations):
        y = x - np.cos(y)
    return y


def self_pooling(xs: np.ndarray, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The post's second side dish: pool vectors ``xs`` (n, d) into ``x = sum_i softmax_i(<x, x_i>) x_i``.

    Starts from the mean and substitutes ``iterations`` times; returns ``(x, weights)``,
    the pooled vector (d,) and the weights (n,) of the last step.
    """
    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim != 2 or len(xs) == 0:
        raise ValueError(f"xs must have shape (n, d) with n >= 1, got {xs.shape}")
    if not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    x = xs.mean(axis=0)
    w = np.full(len(xs), 1.0 / len(xs))
    for _ in range(iterations):
        w = softmax(xs @ x, axis=0)                          # (n,)
        x = w @ xs
    return x, w


def predictions(u: np.ndarray, W: np.ndarray, num_capsule: int) -> np.ndarray:
    """Prediction vectors ``û_{j|i}``: (B, n, d_in) and W → (B, k, n, d_out).

    ``W`` of shape (d_in, k*d_out) is shared over the inputs (``û_{j|i} = W_j u_i``);
    of shape (n, d_in, k*d_out) it is one matrix per (input, output) pair.
    Output column ``j*d_out + e`` of W belongs to output capsule ``j``.
    """
    u = np.asarray(u)
    W = np.asarray(W)
    if u.ndim != 3:
        raise ValueError(f"input capsules must have shape (batch, n, d_in), got shape {u.shape}")
    d_in = u.shape[-1]
    if W.ndim not in (2, 3) or W.shape[-2] != d_in or W.shape[-1] % num_capsule:
        raise ValueError(f"W must be (d_in={d_in}, k*d_out) or (n, d_in, k*d_out) with k={num_capsule}, "
                         f"got shape {W.shape}")
    d_out = W.shape[-1] // num_capsule
    if W.ndim == 2:
        return np.einsum("bni,ikd->bknd", u, W.reshape(d_in, num_capsule, d_out))
    if W.shape[0] != u.shape[1]:
        raise ValueError(f"unshared weights are for n={W.shape[0]} input capsules, got n={u.shape[1]}")
    return np.einsum("bni,nikd->bknd", u, W.reshape(W.shape[0], d_in, num_capsule, d_out))


def capsule(u: np.ndarray, W: np.ndarray, num_capsule: int, routings: int = 3, routing: str = "post",
            squash_c: float | None = None) -> np.ndarray:
    """A capsule layer: :func:`predictions` then :func:`dynamic_routing`; returns v (B, k, d_out)."""
    return dynamic_routing(predictions(u, W, num_capsule), routings, routing, squash_c)[0]


def margin_loss(y_true: np.ndarray, p: np.ndarray, m_plus: float = 0.9, m_minus: float = 0.1,
                lam: float = 0.25, reduction: str = "none") -> np.ndarray:
    """Margin loss per sample, mean over classes: ``y·relu(m⁺−p)² + λ(1−y)·relu(p−m⁻)²``.

    ``y_true`` is a 0/1 (multi-)hot matrix (B, K) and ``p`` the scores (B, K);
    the post uses m⁺ = 0.9, m⁻ = 0.1 and λ = 0.25 (the paper: λ = 0.5).
    Returns (B,) with ``reduction="none"`` (the default, in every framework) or
    the batch mean with ``reduction="mean"``.
    """
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    y_true = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y_true.shape != p.shape or p.ndim != 2:
        raise ValueError(_validate.MARGIN_SHAPE.format(y_true.shape, p.shape))
    loss = y_true * np.maximum(0.0, m_plus - p) ** 2 + lam * (1 - y_true) * np.maximum(0.0, p - m_minus) ** 2
    return loss.mean() if reduction == "mean" else loss.mean(axis=-1)


def mean_max_coupling(u_hat: np.ndarray, routings: int, routing: str) -> float:
    """Mean over inputs of ``max_j c_ij``: 1/k for uniform couplings, 1 for one-hot ones."""
    _, c = dynamic_routing(u_hat, routings, routing)
    return float(c.max(axis=1).mean())
