"""PyTorch versions of chapter 08's soft K-Means and routing (``chapters/08-kmeans-capsule.md``).

The numpy reference is :mod:`kexue.kmeans.numpy_ref`; these functions compute the
same quantities with autograd, so the chapter can check the gradient (7) and the
proof of eq. (12) against automatic differentiation.  Each function is the twin of
the reference's function of the same name: same parameters, same return values,
same errors (messages from :mod:`kexue._validate`).  Tensors stay on the input's
device; integer input is cast to ``torch.get_default_dtype()`` (the reference casts to
float64).  Source: https://kexue.fm/archives/5112.
"""
from __future__ import annotations

import torch

from kexue import _validate
from kexue.capsule.torch import l2_normalize, squash

__all__ = ["smooth_max", "soft_kmeans_loss", "soft_kmeans_step", "normalized_ip_loss",
           "routing_clustering_loss", "kmeans_routing"]

_TINY = 1e-12
"""Norm below which a centre counts as zero in :func:`normalized_ip_loss` (as in the reference)."""


def _as_float(x: torch.Tensor, name: str, ndim: int | None = None, min_ndim: int | None = None) -> torch.Tensor:
    """The checks of ``numpy_ref._as_float``, with its messages; integer tensors are cast to float."""
    _validate.torch_tensor(x, name)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if ndim is not None and x.dim() != ndim:
        raise ValueError(_validate.NDIM_EXACT.format(name, ndim, tuple(x.shape)))
    if min_ndim is not None and x.dim() < min_ndim:
        raise ValueError(_validate.NDIM_AT_LEAST.format(name, min_ndim, tuple(x.shape)))
    if x.numel() == 0:
        raise ValueError(_validate.EMPTY.format(name, tuple(x.shape)))
    if not bool(torch.isfinite(x).all()):
        raise ValueError(_validate.NONFINITE.format(name))
    return x


def _normalize(v: torch.Tensor) -> torch.Tensor:
    """Exact unit vectors along the last dimension (zero stays zero): :func:`l2_normalize` with ``eps=0``."""
    return l2_normalize(v, dim=-1, eps=0.0)


def _pair(u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    u, v = _as_float(u, "u", ndim=2), _as_float(v, "v", ndim=2)
    if u.shape[1] != v.shape[1]:
        raise ValueError(_validate.SAME_DIM.format(tuple(u.shape), tuple(v.shape)))
    return u, v


def smooth_max(lam: torch.Tensor, K: float, dim: int = -1) -> torch.Tensor:
    """The smooth maximum ``(1/K) log sum_i exp(K lam_i)`` along ``dim`` (chapter 08, eq. 4).

    Parameters
    ----------
    lam : Tensor, shape (..., n, ...)
        Values, reduced along ``dim``; finite.
    K : float
        The sharpness, a finite number > 0.
    dim : int, optional
        The dimension to reduce.

    Returns
    -------
    Tensor, the shape of ``lam`` without ``dim``
        The smooth maxima.

    Raises
    ------
    TypeError
        If ``lam`` is not a tensor.
    ValueError
        If ``lam`` is empty or not finite, or ``K`` is not a finite number > 0.
    """
    lam = _as_float(lam, "lam", min_ndim=1)
    K = _validate.sharpness(K)
    return torch.logsumexp(K * lam, dim=dim) / K


def soft_kmeans_loss(u: torch.Tensor, v: torch.Tensor, K: float) -> torch.Tensor:
    """The smoothed K-Means loss ``sum_i smooth_min_j ||u_i - v_j||²`` (chapter 08, eq. 6).

    Parameters
    ----------
    u : Tensor, shape (n, d)
        Points.
    v : Tensor, shape (k, d)
        Centres.
    K : float
        The sharpness, a finite number > 0.

    Returns
    -------
    Tensor, shape ()
        The loss, a sum over the points.

    Raises
    ------
    TypeError
        If an input is not a tensor.
    ValueError
        If the dimensions differ, an input is empty or not finite, or ``K`` is invalid.
    """
    u, v = _pair(u, v)
    d = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)                 # (n, k)
    return -smooth_max(-d, K, dim=1).sum()


def soft_kmeans_step(u: torch.Tensor, v: torch.Tensor, K: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One fixed-point step for the squared Euclidean distance (chapter 08, eq. 10).

    ``v_j <- sum_i c_ij u_i / sum_i c_ij``.  A centre whose total weight underflows to
    zero is kept where it was, as in :func:`kexue.kmeans.numpy_ref.soft_kmeans_step`
    (and its gradient stays finite).

    Parameters
    ----------
    u : Tensor, shape (n, d)
        Points.
    v : Tensor, shape (k, d)
        Current centres.
    K : float
        The sharpness, a finite number > 0.

    Returns
    -------
    centres : Tensor, shape (k, d)
        The new centres.
    c : Tensor, shape (n, k)
        The soft assignments, computed at the old centres.

    Raises
    ------
    TypeError
        If an input is not a tensor.
    ValueError
        If the dimensions differ, an input is empty or not finite, or ``K`` is invalid.
    """
    u, v = _pair(u, v)
    d = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)                 # (n, k)
    c = torch.softmax(-_validate.sharpness(K) * d, dim=1)              # (n, k)
    w = c.sum(0)[:, None]                                              # (k, 1)
    ok = w > 0
    new = (c.T @ u) / torch.where(ok, w, torch.ones_like(w))           # no 0/0, not even unused
    return torch.where(ok, new, v), c


def normalized_ip_loss(v: torch.Tensor, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``L(v) = -sum_i c_i <u_i, v/||v||>``: the one-centre loss with the distance (11) (chapter 08).

    Parameters
    ----------
    v : Tensor, shape (d,)
        The centre, non-zero.
    u : Tensor, shape (n, d)
        Points.
    c : Tensor, shape (n,)
        Fixed weights.

    Returns
    -------
    Tensor, shape ()
        The loss.

    Raises
    ------
    TypeError
        If an input is not a tensor.
    ValueError
        If ``v`` is (numerically) zero or the shapes do not fit.
    """
    v, u, c = _as_float(v, "v", ndim=1), _as_float(u, "u", ndim=2), _as_float(c, "c", ndim=1)
    if u.shape[1] != v.shape[0] or c.shape[0] != u.shape[0]:
        raise ValueError(_validate.IP_SHAPES.format(tuple(v.shape), tuple(u.shape), tuple(c.shape)))
    nv = torch.linalg.vector_norm(v)
    if float(nv.detach()) < _TINY:
        raise ValueError(_validate.CENTRE_ZERO)
    return -(c @ (u @ v)) / nv


def _check_centres(v: torch.Tensor, u_hat: torch.Tensor, name: str) -> torch.Tensor:
    v = _as_float(v, name, min_ndim=2)
    want = tuple(u_hat.shape[:-2] + u_hat.shape[-1:])
    if tuple(v.shape) != want:
        raise ValueError(_validate.CENTRES_SHAPE.format(name, want, tuple(v.shape)))
    return v


def routing_clustering_loss(u_hat: torch.Tensor, v: torch.Tensor, K: float = 1.0,
                            reduction: str = "none") -> torch.Tensor:
    """The clustering loss that the routing lowers, per sample (chapter 08, eq. 6 with the distance 11).

    ``-(1/K) sum_i log sum_j exp(K <u_hat_ji, v_j/||v_j||>)``; a zero centre counts as
    direction 0.

    Parameters
    ----------
    u_hat : Tensor, shape (..., k, n, d)
        Prediction vectors.
    v : Tensor, shape (..., k, d)
        Centres (unnormalised).
    K : float, optional
        The sharpness, a finite number > 0.
    reduction : {"none", "mean"}, optional
        ``"none"`` (default): one value per sample; ``"mean"``: their mean.

    Returns
    -------
    Tensor, shape (...), or a scalar for ``reduction="mean"``
        The loss.

    Raises
    ------
    TypeError
        If an input is not a tensor.
    ValueError
        If the shapes do not fit, an input is not finite, or an argument is invalid.
    """
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    u_hat = _as_float(u_hat, "u_hat", min_ndim=3)
    v = _check_centres(v, u_hat, "v")
    a = torch.einsum("...knd,...kd->...kn", u_hat, _normalize(v))      # (..., k, n)
    loss = -smooth_max(a, K, dim=-2).sum(-1)                           # (...)
    return loss.mean() if reduction == "mean" else loss


def kmeans_routing(u_hat: torch.Tensor, r: int, K: float = 1.0, *, hard: bool = False, squash_c: float = 0.5,
                   v0: torch.Tensor | None = None,
                   history: bool = False) -> torch.Tensor | tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
    """The routing derived in chapter 08 (the post's algorithm), differentiable (except ``hard=True``).

    ``v_j <- (1/k) sum_i u_hat_ji`` (or ``v0``); then ``r`` times: normalise ``v_j``
    exactly (:func:`kexue.capsule.torch.l2_normalize` with ``eps=0``);
    ``c_ij <- softmax_j(K <u_hat_ji, v_j>)`` (``hard=True``: one-hot argmax);
    ``v_j <- sum_i c_ij u_hat_ji``.  Returns ``squash(v)``.  The same contract as
    :func:`kexue.kmeans.numpy_ref.kmeans_routing`.

    Parameters
    ----------
    u_hat : Tensor, shape (..., k, n, d)
        Prediction vectors.
    r : int
        Number of refinement steps, >= 0.
    K : float, optional
        The sharpness, a finite number > 0.
    hard : bool, optional
        One-hot couplings (ties share the point).
    squash_c : float, optional
        The squash constant of the output.
    v0 : Tensor, shape (..., k, d), optional
        Initial centres instead of the mean.
    history : bool, optional
        Also return the iterates.

    Returns
    -------
    out : Tensor, shape (..., k, d)
        The squashed output capsules.
    hist : dict
        Only with ``history=True``: ``"c"`` the couplings of each iteration (..., k, n),
        ``"v"`` the unsquashed centres ``v^(0) ... v^(r)`` (..., k, d), ``"loss"`` their
        :func:`routing_clustering_loss` (...).

    Raises
    ------
    TypeError
        If an input is not a tensor.
    ValueError
        If an input is not finite, a shape does not fit or an argument is invalid.
    """
    u_hat = _as_float(u_hat, "u_hat", min_ndim=3)
    squash_c = _validate.squash_constant(squash_c)
    r = _validate.routing_iterations(r)
    K = _validate.sharpness(K)
    v = u_hat.sum(-2) / u_hat.shape[-3] if v0 is None else _check_centres(v0, u_hat, "v0")   # (..., k, d)
    hist = {"c": [], "v": [v], "loss": [routing_clustering_loss(u_hat, v, K)]} if history else None
    for _ in range(r):
        a = torch.einsum("...knd,...kd->...kn", u_hat, _normalize(v))  # (..., k, n)
        if hard:
            c = (a == a.amax(dim=-2, keepdim=True)).to(a.dtype)
            c = c / c.sum(dim=-2, keepdim=True)                        # ties (measure zero) share the point
        else:
            c = torch.softmax(K * a, dim=-2)
        v = torch.einsum("...kn,...knd->...kd", c, u_hat)
        if history:
            hist["c"].append(c)
            hist["v"].append(v)
            hist["loss"].append(routing_clustering_loss(u_hat, v, K))
    out = squash(v, squash_c)
    return (out, hist) if history else out
