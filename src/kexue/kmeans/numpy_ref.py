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
from kexue.capsule.numpy_ref import l2_normalize  # the one normalisation of the book (chapter 07)
from kexue.capsule.numpy_ref import squash  # the one squash of the book (chapter 07)
from kexue.numeric import softmax as _softmax

_TINY = 1e-12
"""Norm below which a centre counts as zero in the inner-product losses (its direction is undefined)."""

__all__ = [
    "smooth_max", "smooth_min", "make_blobs", "squared_distances", "soft_assignments",
    "soft_kmeans_loss", "soft_kmeans_step", "lloyd_step", "soft_kmeans",
    "normalized_ip_loss", "normalized_ip_grad", "raw_ip_loss",
    "squash", "l2_normalize", "matrix_predictions", "routing_clustering_loss", "kmeans_routing",
    "kmeans_routing_code", "spherical_kmeans_sum",
]


# ----------------------------------------------------------------------------- helpers
def _as_float(x, name: str, ndim: int | None = None, min_ndim: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(_validate.NDIM_EXACT.format(name, ndim, a.shape))
    if min_ndim is not None and a.ndim < min_ndim:
        raise ValueError(_validate.NDIM_AT_LEAST.format(name, min_ndim, a.shape))
    if a.size == 0:
        raise ValueError(_validate.EMPTY.format(name, a.shape))
    if not np.all(np.isfinite(a)):
        raise ValueError(_validate.NONFINITE.format(name))
    return a


def _normalize(v: np.ndarray) -> np.ndarray:
    """Exact unit vectors along the last axis (zero stays zero): :func:`l2_normalize` with ``eps=0``."""
    return l2_normalize(v, axis=-1, eps=0.0)


# ----------------------------------------------------------------------------- smooth max
def smooth_max(lam: np.ndarray, K: float, axis: int = -1) -> np.ndarray:
    """The smooth maximum ``(1/K) log sum_i exp(K lam_i)`` along ``axis`` (chapter 08, eq. 4).

    It lies between ``max(lam)`` and ``max(lam) + log(n)/K`` and tends to the maximum as
    ``K -> inf``; computed stably (the maximum is factored out).

    Parameters
    ----------
    lam : ndarray, shape (..., n, ...)
        Values, reduced along ``axis``; finite.
    K : float
        The sharpness, a finite number > 0.
    axis : int, optional
        The axis to reduce.

    Returns
    -------
    ndarray, the shape of ``lam`` without ``axis``
        The smooth maxima, float64.

    Raises
    ------
    ValueError
        If ``lam`` is empty or not finite, or ``K`` is not a finite number > 0.
    """
    lam = _as_float(lam, "lam", min_ndim=1)
    K = _validate.sharpness(K)
    m = np.max(lam, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(K * (lam - m)), axis=axis, keepdims=True)) / K
    return np.squeeze(out, axis=axis)


def smooth_min(lam: np.ndarray, K: float, axis: int = -1) -> np.ndarray:
    """The smooth minimum ``-smooth_max(-lam)`` (chapter 08, eq. 5).

    Parameters
    ----------
    lam : ndarray, shape (..., n, ...)
        Values, reduced along ``axis``.
    K : float
        The sharpness, a finite number > 0.
    axis : int, optional
        The axis to reduce.

    Returns
    -------
    ndarray, the shape of ``lam`` without ``axis``
        The smooth minima, float64.
    """
    return -smooth_max(-np.asarray(lam, dtype=np.float64), K, axis=axis)


# ----------------------------------------------------------------------------- data
def make_blobs(centres: np.ndarray, n_per: int, std: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs around given centres (chapter 08).

    Parameters
    ----------
    centres : ndarray, shape (k, d)
        The blob centres.
    n_per : int
        Points per blob, >= 1.
    std : float
        Standard deviation of every coordinate, > 0.
    seed : int
        Seeds ``np.random.default_rng``.

    Returns
    -------
    points : ndarray, shape (k * n_per, d)
        The points, blob by blob.
    labels : ndarray, shape (k * n_per,)
        The blob of each point.

    Raises
    ------
    ValueError
        If ``n_per < 1`` or ``std <= 0``.
    """
    centres = _as_float(centres, "centres", ndim=2)
    n_per = _validate.positive_int(n_per, "n_per")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")
    rng = np.random.default_rng(seed)
    k, d = centres.shape
    labels = np.repeat(np.arange(k), n_per)
    points = centres[labels] + std * rng.standard_normal((len(labels), d))
    return points, labels


# ----------------------------------------------------------------------------- K-Means, softened
def squared_distances(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``d[i, j] = ||u_i - v_j||²`` (chapter 08).

    Parameters
    ----------
    u : ndarray, shape (n, d)
        Points.
    v : ndarray, shape (k, d)
        Centres.

    Returns
    -------
    ndarray, shape (n, k)
        Squared Euclidean distances.

    Raises
    ------
    ValueError
        If the dimensions differ or an input is empty or not finite.
    """
    u = _as_float(u, "u", ndim=2)
    v = _as_float(v, "v", ndim=2)
    if u.shape[1] != v.shape[1]:
        raise ValueError(_validate.SAME_DIM.format(u.shape, v.shape))
    return np.sum((u[:, None, :] - v[None, :, :]) ** 2, axis=-1)


def soft_assignments(dist: np.ndarray, K: float) -> np.ndarray:
    """``c[i, j] = softmax_j(-K d[i, j])``: the weights of the gradient (chapter 08, eq. 7).

    Parameters
    ----------
    dist : ndarray, shape (n, k)
        Squared distances.
    K : float
        The sharpness, a finite number > 0.

    Returns
    -------
    ndarray, shape (n, k)
        Soft assignments; each row sums to 1.
    """
    dist = _as_float(dist, "dist", ndim=2)
    return _softmax(-_validate.sharpness(K) * dist, axis=1)


def soft_kmeans_loss(u: np.ndarray, v: np.ndarray, K: float) -> float:
    """The smoothed K-Means loss ``sum_i smooth_min_j ||u_i - v_j||²`` (chapter 08, eq. 6).

    Parameters
    ----------
    u : ndarray, shape (n, d)
        Points.
    v : ndarray, shape (k, d)
        Centres.
    K : float
        The sharpness, a finite number > 0.

    Returns
    -------
    float
        The loss, a sum over the points.
    """
    return float(np.sum(smooth_min(squared_distances(u, v), K, axis=1)))


def soft_kmeans_step(u: np.ndarray, v: np.ndarray, K: float) -> tuple[np.ndarray, np.ndarray]:
    """One fixed-point step for the squared Euclidean distance (chapter 08, eq. 10).

    ``v_j <- sum_i c_ij u_i / sum_i c_ij``.  A centre whose total weight underflows to
    zero is kept where it was (the same rule in every framework).

    Parameters
    ----------
    u : ndarray, shape (n, d)
        Points.
    v : ndarray, shape (k, d)
        Current centres.
    K : float
        The sharpness, a finite number > 0.

    Returns
    -------
    centres : ndarray, shape (k, d)
        The new centres.
    c : ndarray, shape (n, k)
        The soft assignments, computed at the old centres.

    Raises
    ------
    ValueError
        If the dimensions differ, an input is empty or not finite, or ``K`` is invalid.
    """
    u = _as_float(u, "u", ndim=2)
    v = _as_float(v, "v", ndim=2)
    c = soft_assignments(squared_distances(u, v), K)           # (n, k)
    w = c.sum(axis=0)                                           # (k,)
    new = v.copy()
    ok = w > 0
    new[ok] = (c.T @ u)[ok] / w[ok, None]
    return new, c


def lloyd_step(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One hard K-Means (Lloyd) step: nearest centre, then means (chapter 08).

    Independent of :func:`soft_kmeans_step` (explicit loop over clusters); an empty
    cluster keeps its old centre.

    Parameters
    ----------
    u : ndarray, shape (n, d)
        Points.
    v : ndarray, shape (k, d)
        Current centres.

    Returns
    -------
    centres : ndarray, shape (k, d)
        The new centres.
    labels : ndarray, shape (n,)
        The nearest old centre of each point.
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


def soft_kmeans(u: np.ndarray, v0: np.ndarray, K: float, steps: int) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Iterate :func:`soft_kmeans_step` (chapter 08).

    Parameters
    ----------
    u : ndarray, shape (n, d)
        Points.
    v0 : ndarray, shape (k, d)
        Initial centres.
    K : float
        The sharpness, a finite number > 0.
    steps : int
        Number of steps, >= 0.

    Returns
    -------
    centres : ndarray, shape (k, d)
        The final centres.
    c : ndarray, shape (n, k)
        The soft assignments at the final centres.
    losses : list of float
        Loss (6) before each step and at the end (``steps + 1`` values).

    Raises
    ------
    ValueError
        If ``steps`` is negative or an input is invalid.
    """
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
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
        raise ValueError(_validate.IP_SHAPES.format(v.shape, u.shape, c.shape))
    return v, u, c


def normalized_ip_loss(v: np.ndarray, u: np.ndarray, c: np.ndarray) -> float:
    """``L(v) = -sum_i c_i <u_i, v/||v||>``: the one-centre loss with the distance (11) (chapter 08).

    Parameters
    ----------
    v : ndarray, shape (d,)
        The centre, non-zero.
    u : ndarray, shape (n, d)
        Points.
    c : ndarray, shape (n,)
        Fixed weights.

    Returns
    -------
    float
        The loss.

    Raises
    ------
    ValueError
        If ``v`` is (numerically) zero or the shapes do not fit.
    """
    v, u, c = _ip_args(v, u, c)
    nv = np.linalg.norm(v)
    if nv < _TINY:
        raise ValueError(_validate.CENTRE_ZERO)
    return float(-(c @ (u @ v)) / nv)


def normalized_ip_grad(v: np.ndarray, u: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closed-form gradient of :func:`normalized_ip_loss`, the post's proof of eq. 12 (chapter 08).

    ``-(S/||v|| - (S.v) v/||v||³)`` with ``S = sum_i c_i u_i``.

    Parameters
    ----------
    v : ndarray, shape (d,)
        The centre, non-zero.
    u : ndarray, shape (n, d)
        Points.
    c : ndarray, shape (n,)
        Fixed weights.

    Returns
    -------
    ndarray, shape (d,)
        The gradient with respect to ``v``.

    Raises
    ------
    ValueError
        If ``v`` is (numerically) zero or the shapes do not fit.
    """
    v, u, c = _ip_args(v, u, c)
    nv = np.linalg.norm(v)
    if nv < _TINY:
        raise ValueError(_validate.CENTRE_ZERO)
    S = c @ u
    return -(S / nv - (S @ v) * v / nv**3)


def raw_ip_loss(v: np.ndarray, u: np.ndarray, c: np.ndarray) -> float:
    """``L(v) = -sum_i c_i <u_i, v>``: the raw inner-product loss, unbounded below (chapter 08).

    Parameters
    ----------
    v : ndarray, shape (d,)
        The centre.
    u : ndarray, shape (n, d)
        Points.
    c : ndarray, shape (n,)
        Fixed weights.

    Returns
    -------
    float
        The loss.
    """
    v, u, c = _ip_args(v, u, c)
    return float(-(c @ (u @ v)))


# ----------------------------------------------------------------------------- routing
def matrix_predictions(u: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Prediction vectors ``u_hat[..., j, i, :] = W_j u_i`` (shared) or ``W_ji u_i`` (per pair) (chapter 08).

    Parameters
    ----------
    u : ndarray, shape (..., n, d_in)
        Input vectors.
    W : ndarray, shape (k, d_out, d_in) or (k, n, d_out, d_in)
        One matrix per output (shared over inputs) or per (output, input) pair.

    Returns
    -------
    ndarray, shape (..., k, n, d_out)
        The prediction vectors.

    Raises
    ------
    ValueError
        If the shapes do not fit.
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


def _check_centres(v, u_hat: np.ndarray, name: str) -> np.ndarray:
    v = _as_float(v, name, min_ndim=2)
    want = u_hat.shape[:-2] + u_hat.shape[-1:]
    if v.shape != want:
        raise ValueError(_validate.CENTRES_SHAPE.format(name, want, v.shape))
    return v


def routing_clustering_loss(u_hat: np.ndarray, v: np.ndarray, K: float = 1.0,
                            reduction: str = "none") -> np.ndarray:
    """The clustering loss that the routing lowers, per sample (chapter 08, eq. 6 with the distance 11).

    ``-(1/K) sum_i log sum_j exp(K <u_hat_ji, v_j/||v_j||>)``; a zero centre counts as
    direction 0 (it attracts nothing).

    Parameters
    ----------
    u_hat : ndarray, shape (..., k, n, d)
        Prediction vectors.
    v : ndarray, shape (..., k, d)
        Centres (unnormalised).
    K : float, optional
        The sharpness, a finite number > 0.
    reduction : {"none", "mean"}, optional
        ``"none"`` (default): one value per sample; ``"mean"``: their mean.

    Returns
    -------
    ndarray, shape (...), or a float64 scalar for ``reduction="mean"``
        The loss, float64.

    Raises
    ------
    ValueError
        If the shapes do not fit, an input is not finite, or an argument is invalid.
    """
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    u_hat = _as_float(u_hat, "u_hat", min_ndim=3)
    v = _check_centres(v, u_hat, "v")
    a = np.einsum("...knd,...kd->...kn", u_hat, _normalize(v))          # (..., k, n)
    loss = -np.sum(smooth_max(a, K, axis=-2), axis=-1)                  # (...)
    return np.mean(loss) if reduction == "mean" else loss


def kmeans_routing(u_hat: np.ndarray, r: int, K: float = 1.0, *, hard: bool = False, squash_c: float = 0.5,
                   v0: np.ndarray | None = None,
                   history: bool = False) -> np.ndarray | tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """The routing derived in chapter 08 (the post's algorithm, written as the post writes it).

    ``v_j <- (1/k) sum_i u_hat_ji`` (or ``v0``); then ``r`` times: normalise ``v_j``
    exactly (:func:`l2_normalize` with ``eps=0``); ``c_ij <- softmax_j(K <u_hat_ji, v_j>)``
    (``hard=True``: one-hot argmax, the ``K -> inf`` limit); ``v_j <- sum_i c_ij u_hat_ji``
    (a sum, not a mean).  Returns ``squash(v)``.

    Parameters
    ----------
    u_hat : ndarray, shape (..., k, n, d)
        Prediction vectors: output ``j`` sees input ``i`` as ``u_hat[..., j, i, :]``.
    r : int
        Number of refinement steps, >= 0.
    K : float, optional
        The sharpness, a finite number > 0.
    hard : bool, optional
        One-hot couplings (ties share the point).
    squash_c : float, optional
        The squash constant of the output.
    v0 : ndarray, shape (..., k, d), optional
        Initial centres instead of the mean.
    history : bool, optional
        Also return the iterates.

    Returns
    -------
    out : ndarray, shape (..., k, d)
        The squashed output capsules.
    hist : dict
        Only with ``history=True``: ``"c"`` the couplings of each iteration (..., k, n),
        ``"v"`` the unsquashed centres ``v^(0) ... v^(r)`` (..., k, d), ``"loss"`` their
        :func:`routing_clustering_loss` (...).

    Raises
    ------
    ValueError
        If an input is not finite, a shape does not fit or an argument is invalid.
    """
    u_hat = _as_float(u_hat, "u_hat", min_ndim=3)
    squash_c = _validate.squash_constant(squash_c)
    r = _validate.routing_iterations(r)
    K = _validate.sharpness(K)
    k = u_hat.shape[-3]
    v = u_hat.sum(axis=-2) / k if v0 is None else _check_centres(v0, u_hat, "v0")   # (..., k, d)
    hist = {"c": [], "v": [v], "loss": [routing_clustering_loss(u_hat, v, K)]} if history else None
    for _ in range(r):
        a = np.einsum("...knd,...kd->...kn", u_hat, _normalize(v))      # (..., k, n)
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


def kmeans_routing_code(u_hat: np.ndarray, routings: int, squash_c: float = 0.5) -> np.ndarray:
    """The same routing in the logit form of the author's code, bojone/Capsule commit af9959f (chapter 08).

    ``b = 0``; ``routings`` times: ``c = softmax(b)`` over outputs; ``o = sum_i c u_hat``;
    except on the last pass, ``o = o/||o||`` and ``b = <o, u_hat>``.  Returns ``squash(o)``.
    Chapter 08 checks that this equals :func:`kmeans_routing` with ``r = routings - 1``.

    Parameters
    ----------
    u_hat : ndarray, shape (..., k, n, d)
        Prediction vectors.
    routings : int
        Number of passes, >= 1.
    squash_c : float, optional
        The squash constant of the output.

    Returns
    -------
    ndarray, shape (..., k, d)
        The squashed output capsules.

    Raises
    ------
    ValueError
        If an input is not finite or an argument is invalid.
    """
    u_hat = _as_float(u_hat, "u_hat", min_ndim=3)
    squash_c = _validate.squash_constant(squash_c)
    if isinstance(routings, bool) or int(routings) != routings or routings < 1:
        raise ValueError(_validate.ROUTINGS_INT.format(routings))
    b = np.zeros(u_hat.shape[:-1])                                      # (..., k, n)
    for it in range(int(routings)):
        c = _softmax(b, axis=-2)
        o = np.einsum("...kn,...knd->...kd", c, u_hat)
        if it < routings - 1:
            o = _normalize(o)
            b = np.einsum("...kd,...knd->...kn", o, u_hat)
    return squash(o, squash_c)


def spherical_kmeans_sum(u: np.ndarray, v0: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Hard spherical K-Means with sum-centres, in explicit loops: the hard limit of the routing (chapter 08).

    ``steps`` times: give each point to the centre with the largest ``<u_i, v_j/||v_j||>``;
    set each centre to the *sum* of its members (an empty cluster gets the zero vector).
    Written independently of :func:`kmeans_routing` (its own normalisation, with
    ``np.linalg.norm``), so that it can serve as the oracle of the hard limit.

    Parameters
    ----------
    u : ndarray, shape (n, d)
        Points.
    v0 : ndarray, shape (k, d)
        Initial centres.
    steps : int
        Number of steps, >= 1.

    Returns
    -------
    centres : ndarray, shape (k, d)
        The centres of the last step.
    labels : ndarray, shape (n,)
        The cluster of each point in the last step.

    Raises
    ------
    ValueError
        If the dimensions differ or ``steps < 1``.
    """
    u = _as_float(u, "u", ndim=2)
    v = _as_float(v0, "v0", ndim=2).copy()
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"u and v0 must have the same dimension, got {u.shape} and {v.shape}")
    steps = _validate.positive_int(steps, "steps")
    labels = np.zeros(len(u), dtype=np.int64)
    for _ in range(steps):
        dirs = [vj / max(np.linalg.norm(vj), _TINY) for vj in v]
        labels = np.array([int(np.argmax([ui @ dj for dj in dirs])) for ui in u])
        v = np.array([u[labels == j].sum(axis=0) if np.any(labels == j) else np.zeros(u.shape[1])
                      for j in range(len(v))])
    return v, labels
