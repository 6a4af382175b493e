"""Soft K-Means and capsule routing derived as clustering (chapter 08).

Numpy reference for chapter 08 (``chapters/08-kmeans-capsule.md``), after
Su Jianlin, "From K-Means to Capsule", https://kexue.fm/archives/5112.

Two groups of functions:

* **K-Means, softened.**  The smooth maximum ``(1/K) log sum exp(K x)``, the
  smooth clustering loss (6) of the chapter, one fixed-point step for the
  squared Euclidean distance (10) and, for comparison, one hard Lloyd step.
* **Routing as clustering.**  The routing derived in the post (normalise the
  centre inside the loop, squash once at the end) written the way the post
  writes it (:func:`kmeans_routing`, with the soft, ``K = 1`` and hard limits),
  the same routing transcribed from the author's code in its logit form
  (:func:`kmeans_routing_code`), the clustering loss that the routing lowers
  (:func:`routing_clustering_loss`) and an independent spherical K-Means with
  sum-centres (:func:`spherical_kmeans_sum`) for the hard limit.

Array conventions: data points ``u`` are ``(n, d)``; centres ``v`` are
``(k, d)``; prediction vectors ``u_hat`` are ``(..., k, n, d)`` (output capsule
``j`` sees input ``i`` as ``u_hat[..., j, i, :]``) and couplings ``c`` are
``(..., k, n)``, normalised over the output axis ``k`` (axis ``-2``).
Importing this module never imports PyTorch or TensorFlow.
"""
from __future__ import annotations

import numpy as np

from kexue import _validate
from kexue.capsule.numpy_ref import squash  # the one squash of the book (chapter 07)
from kexue.numeric import softmax as _softmax

_TINY = 1e-12

__all__ = [
    "smooth_max", "smooth_min", "make_blobs", "squared_distances", "soft_assignments",
    "soft_kmeans_loss", "soft_kmeans_step", "lloyd_step", "soft_kmeans",
    "normalized_ip_loss", "normalized_ip_grad", "raw_ip_loss",
    "squash", "matrix_predictions", "routing_clustering_loss", "kmeans_routing", "kmeans_routing_code",
    "spherical_kmeans_sum",
]


# ----------------------------------------------------------------------------- helpers
def _as_float(x, name: str, ndim: int | None = None, min_ndim: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if min_ndim is not None and a.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _check_K(K: float) -> float:
    if isinstance(K, bool) or not np.isscalar(K) or not np.isfinite(K) or K <= 0:
        raise ValueError(f"the sharpness K must be a finite positive number, got {K!r}")
    return float(K)


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _TINY)


# ----------------------------------------------------------------------------- smooth max
def smooth_max(lam, K: float, axis: int = -1) -> np.ndarray:
    """The smooth maximum ``(1/K) log sum_i exp(K lam_i)`` along ``axis`` (eq. 4 of the chapter).

    It lies between ``max(lam)`` and ``max(lam) + log(n)/K`` and tends to the
    maximum as ``K -> inf``; computed stably (the maximum is factored out).
    """
    lam = _as_float(lam, "lam", min_ndim=1)
    K = _check_K(K)
    m = np.max(lam, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(K * (lam - m)), axis=axis, keepdims=True)) / K
    return np.squeeze(out, axis=axis)


def smooth_min(lam, K: float, axis: int = -1) -> np.ndarray:
    """The smooth minimum ``-smooth_max(-lam)`` (eq. 5)."""
    return -smooth_max(-np.asarray(lam, dtype=np.float64), K, axis=axis)


# ----------------------------------------------------------------------------- data
def make_blobs(centres, n_per: int, std: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs around ``centres`` (k, d): returns ``(points (k*n_per, d), labels)``."""
    centres = _as_float(centres, "centres", ndim=2)
    if int(n_per) < 1:
        raise ValueError(f"n_per must be >= 1, got {n_per}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    rng = np.random.default_rng(seed)
    k, d = centres.shape
    labels = np.repeat(np.arange(k), int(n_per))
    points = centres[labels] + std * rng.standard_normal((len(labels), d))
    return points, labels


# ----------------------------------------------------------------------------- K-Means, softened
def squared_distances(u, v) -> np.ndarray:
    """``d[i, j] = ||u_i - v_j||^2`` for points ``u`` (n, d) and centres ``v`` (k, d)."""
    u = _as_float(u, "u", ndim=2)
    v = _as_float(v, "v", ndim=2)
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"u and v must have the same dimension, got {u.shape} and {v.shape}")
    return np.sum((u[:, None, :] - v[None, :, :]) ** 2, axis=-1)


def soft_assignments(dist, K: float) -> np.ndarray:
    """``c[i, j] = softmax_j(-K d[i, j])``: the weights of the gradient (7)."""
    dist = _as_float(dist, "dist", ndim=2)
    return _softmax(-_check_K(K) * dist, axis=1)


def soft_kmeans_loss(u, v, K: float) -> float:
    """The smoothed K-Means loss (6): ``sum_i smooth_min_j ||u_i - v_j||^2``."""
    return float(np.sum(smooth_min(squared_distances(u, v), K, axis=1)))


def soft_kmeans_step(u, v, K: float) -> tuple[np.ndarray, np.ndarray]:
    """One fixed-point step (10) for the squared Euclidean distance.

    Returns ``(new_centres (k, d), c (n, k))`` with ``c`` computed at the old centres.
    A centre whose total weight underflows to zero is kept where it was.
    """
    u = _as_float(u, "u", ndim=2)
    v = _as_float(v, "v", ndim=2)
    c = soft_assignments(squared_distances(u, v), K)
    w = c.sum(axis=0)
    new = v.copy()
    ok = w > 0
    new[ok] = (c.T @ u)[ok] / w[ok, None]
    return new, c


def lloyd_step(u, v) -> tuple[np.ndarray, np.ndarray]:
    """One hard K-Means (Lloyd) step: assign each point to its nearest centre, then take means.

    Independent of :func:`soft_kmeans_step` (explicit loop over clusters).
    Returns ``(new_centres, labels)``; an empty cluster keeps its old centre.
    """
    u = _as_float(u, "u", ndim=2)
    v = _as_float(v, "v", ndim=2)
    labels = np.argmin(squared_distances(u, v), axis=1)
    new = v.copy()
    for j in range(v.shape[0]):
        members = u[labels == j]
        if len(members):
            new[j] = members.mean(axis=0)
    return new, labels


def soft_kmeans(u, v0, K: float, steps: int) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Iterate :func:`soft_kmeans_step`: returns ``(centres, c, losses)`` (loss (6) before each step and at the end)."""
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    v = _as_float(v0, "v0", ndim=2)
    c = soft_assignments(squared_distances(u, v), K)
    losses = [soft_kmeans_loss(u, v, K)]
    for _ in range(int(steps)):
        v, _c = soft_kmeans_step(u, v, K)
        c = soft_assignments(squared_distances(u, v), K)
        losses.append(soft_kmeans_loss(u, v, K))
    return v, c, losses


# ----------------------------------------------------------------------------- inner-product distances
def _ip_args(v, u, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = _as_float(v, "v", ndim=1)
    u = _as_float(u, "u", ndim=2)
    c = _as_float(c, "c", ndim=1)
    if u.shape[1] != v.shape[0] or c.shape[0] != u.shape[0]:
        raise ValueError(f"shapes do not fit: v {v.shape}, u {u.shape}, c {c.shape}")
    return v, u, c


def normalized_ip_loss(v, u, c) -> float:
    """``L(v) = -sum_i c_i <u_i, v/||v||>``: the one-centre loss with the distance (11)."""
    v, u, c = _ip_args(v, u, c)
    nv = np.linalg.norm(v)
    if nv < _TINY:
        raise ValueError("the centre v must be non-zero (its direction is undefined)")
    return float(-(c @ (u @ v)) / nv)


def normalized_ip_grad(v, u, c) -> np.ndarray:
    """Closed-form gradient of :func:`normalized_ip_loss` (the post's proof of eq. 12).

    ``-(S/||v|| - (S.v) v/||v||^3)`` with ``S = sum_i c_i u_i``.
    """
    v, u, c = _ip_args(v, u, c)
    nv = np.linalg.norm(v)
    if nv < _TINY:
        raise ValueError("the centre v must be non-zero (its direction is undefined)")
    S = c @ u
    return -(S / nv - (S @ v) * v / nv**3)


def raw_ip_loss(v, u, c) -> float:
    """``L(v) = -sum_i c_i <u_i, v>``: the raw inner-product loss, unbounded below."""
    v, u, c = _ip_args(v, u, c)
    return float(-(c @ (u @ v)))


# ----------------------------------------------------------------------------- routing
def matrix_predictions(u, W) -> np.ndarray:
    """Prediction vectors ``u_hat[..., j, i, :] = W_j u_i`` (shared) or ``W_ji u_i`` (per pair).

    ``u``: (..., n, d_in).  ``W``: (k, d_out, d_in) for the shared layer, or
    (k, n, d_out, d_in) for one matrix per (output, input) pair.  Returns (..., k, n, d_out).
    """
    u = _as_float(u, "u", min_ndim=2)
    W = _as_float(W, "W")
    if W.ndim == 3:
        if W.shape[2] != u.shape[-1]:
            raise ValueError(f"W (k, d_out, d_in) = {W.shape} does not fit u (..., n, d_in) = {u.shape}")
        return np.einsum("kod,...nd->...kno", W, u)
    if W.ndim == 4:
        if W.shape[1] != u.shape[-2] or W.shape[3] != u.shape[-1]:
            raise ValueError(f"W (k, n, d_out, d_in) = {W.shape} does not fit u (..., n, d_in) = {u.shape}")
        return np.einsum("knod,...nd->...kno", W, u)
    raise ValueError(f"W must have 3 (shared) or 4 (per pair) dimensions, got shape {W.shape}")


def _check_u_hat(u_hat) -> np.ndarray:
    u_hat = _as_float(u_hat, "u_hat", min_ndim=3)
    return u_hat


def routing_clustering_loss(u_hat, v, K: float = 1.0) -> np.ndarray:
    """The clustering loss (6) with the distance (11), per sample: ``-(1/K) sum_i log sum_j exp(K <u_hat_ji, v_j/||v_j||>)``.

    ``u_hat``: (..., k, n, d); ``v``: (..., k, d).  Returns an array of shape ``(...)``.
    """
    u_hat = _check_u_hat(u_hat)
    v = _as_float(v, "v", min_ndim=2)
    if v.shape != u_hat.shape[:-2] + u_hat.shape[-1:]:
        raise ValueError(f"v must have shape (..., k, d) = {u_hat.shape[:-2] + u_hat.shape[-1:]}, got {v.shape}")
    a = np.einsum("...knd,...kd->...kn", u_hat, _normalize(v))
    return -np.sum(smooth_max(a, K, axis=-2), axis=-1)


def kmeans_routing(u_hat, r: int, K: float = 1.0, *, hard: bool = False, squash_c: float = 0.5,
                   v0=None, history: bool = False):
    """The routing derived in chapter 08 (the post's algorithm, written as the post writes it).

    ``v_j <- (1/k) sum_i u_hat_ji`` (or ``v0``); then ``r`` times: normalise
    ``v_j``; ``c_ij <- softmax_j(K <u_hat_ji, v_j>)`` (``hard=True``: one-hot
    argmax, the ``K -> inf`` limit); ``v_j <- sum_i c_ij u_hat_ji`` (a sum, not a
    mean).  Returns ``squash(v)`` of shape (..., k, d).

    With ``history=True`` returns ``(out, hist)``: ``hist["c"]`` lists the
    couplings of each iteration (..., k, n), ``hist["v"]`` the unsquashed
    centres ``v^(0) ... v^(r)`` (..., k, d) and ``hist["loss"]`` their
    clustering loss :func:`routing_clustering_loss`.
    """
    u_hat = _check_u_hat(u_hat)
    squash_c = _validate.squash_constant(squash_c)
    if isinstance(r, bool) or int(r) != r or r < 0:
        raise ValueError(f"the number of routing iterations r must be an integer >= 0, got {r!r}")
    K = _check_K(K)
    k = u_hat.shape[-3]
    if v0 is None:
        v = u_hat.sum(axis=-2) / k
    else:
        v = _as_float(v0, "v0")
        if v.shape != u_hat.shape[:-2] + u_hat.shape[-1:]:
            raise ValueError(f"v0 must have shape {u_hat.shape[:-2] + u_hat.shape[-1:]}, got {v.shape}")
    hist = {"c": [], "v": [v], "loss": [routing_clustering_loss(u_hat, v, K)]} if history else None
    for _ in range(int(r)):
        a = np.einsum("...knd,...kd->...kn", u_hat, _normalize(v))
        if hard:
            c = (a == np.max(a, axis=-2, keepdims=True)).astype(np.float64)
            c /= c.sum(axis=-2, keepdims=True)  # ties (measure zero) share the point
        else:
            c = _softmax(K * a, axis=-2)
        v = np.einsum("...kn,...knd->...kd", c, u_hat)
        if history:
            hist["c"].append(c)
            hist["v"].append(v)
            hist["loss"].append(routing_clustering_loss(u_hat, v, K))
    out = squash(v, squash_c)
    return (out, hist) if history else out


def kmeans_routing_code(u_hat, routings: int, squash_c: float = 0.5) -> np.ndarray:
    """The same routing in the logit form of the author's code (bojone/Capsule, commit af9959f).

    ``b = 0``; ``routings`` times: ``c = softmax(b)`` over outputs; ``o = sum_i c u_hat``;
    except on the last pass, ``o = o/||o||`` and ``b = <o, u_hat>``.  Returns ``squash(o)``.
    Chapter 08 checks that this equals :func:`kmeans_routing` with ``r = routings - 1``.
    """
    u_hat = _check_u_hat(u_hat)
    squash_c = _validate.squash_constant(squash_c)
    if isinstance(routings, bool) or int(routings) != routings or routings < 1:
        raise ValueError(f"routings must be an integer >= 1, got {routings!r}")
    b = np.zeros(u_hat.shape[:-1])
    for it in range(int(routings)):
        c = _softmax(b, axis=-2)
        o = np.einsum("...kn,...knd->...kd", c, u_hat)
        if it < routings - 1:
            o = _normalize(o)
            b = np.einsum("...kd,...knd->...kn", o, u_hat)
    return squash(o, squash_c)


def spherical_kmeans_sum(u, v0, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Hard spherical K-Means with sum-centres, written with explicit loops (the hard limit of the routing).

    ``steps`` times: give each point ``u_i`` (n, d) to the centre with the largest
    ``<u_i, v_j/||v_j||>``; set each centre to the *sum* of its members (an empty
    cluster gets the zero vector).  Returns ``(centres (k, d), labels (n,))`` of the last step.
    """
    u = _as_float(u, "u", ndim=2)
    v = _as_float(v0, "v0", ndim=2).copy()
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"u and v0 must have the same dimension, got {u.shape} and {v.shape}")
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    labels = np.zeros(len(u), dtype=np.int64)
    for _ in range(int(steps)):
        dirs = [vj / max(np.linalg.norm(vj), _TINY) for vj in v]
        labels = np.array([int(np.argmax([ui @ dj for dj in dirs])) for ui in u])
        v = np.array([u[labels == j].sum(axis=0) if np.any(labels == j) else np.zeros(u.shape[1])
                      for j in range(len(v))])
    return v, labels
