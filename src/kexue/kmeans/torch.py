"""PyTorch versions of chapter 08's soft K-Means (``chapters/08-kmeans-capsule.md``).

The numpy reference is :mod:`kexue.kmeans.numpy_ref`; these functions compute the
same quantities with autograd, so the chapter can check the gradient (7) and the
proof of eq. (12) against automatic differentiation, and they validate their
input as the reference does (same messages).  Source: https://kexue.fm/archives/5112.
"""
from __future__ import annotations

import torch

from kexue import _validate
from kexue.capsule.torch import squash

__all__ = ["smooth_max", "soft_kmeans_loss", "soft_kmeans_step", "normalized_ip_loss",
           "routing_clustering_loss", "kmeans_routing"]


def _check_K(K: float) -> float:
    if isinstance(K, bool) or not isinstance(K, (int, float)) or not K > 0 or K == float("inf"):
        raise ValueError(f"the sharpness K must be a finite positive number, got {K!r}")
    return float(K)


def _as_float(x: torch.Tensor, name: str, ndim: int | None = None, min_ndim: int | None = None) -> torch.Tensor:
    """The checks of ``numpy_ref._as_float``, with its messages."""
    _validate.torch_tensor(x, name, floating=True)
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.dim() < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def smooth_max(lam: torch.Tensor, K: float, dim: int = -1) -> torch.Tensor:
    """``(1/K) logsumexp(K lam)`` along ``dim``."""
    lam = _as_float(lam, "lam", min_ndim=1)
    K = _check_K(K)
    return torch.logsumexp(K * lam, dim=dim) / K


def soft_kmeans_loss(u: torch.Tensor, v: torch.Tensor, K: float) -> torch.Tensor:
    """Loss (6) for the squared Euclidean distance: ``-(1/K) sum_i log sum_j exp(-K ||u_i - v_j||^2)``."""
    u, v = _as_float(u, "u", ndim=2), _as_float(v, "v", ndim=2)
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"u and v must have the same dimension, got {tuple(u.shape)} and {tuple(v.shape)}")
    d = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    return -smooth_max(-d, K, dim=1).sum()


def soft_kmeans_step(u: torch.Tensor, v: torch.Tensor, K: float) -> torch.Tensor:
    """One fixed-point step (10): ``v_j = sum_i c_ij u_i / sum_i c_ij``."""
    u, v = _as_float(u, "u", ndim=2), _as_float(v, "v", ndim=2)
    if u.shape[1] != v.shape[1]:
        raise ValueError(f"u and v must have the same dimension, got {tuple(u.shape)} and {tuple(v.shape)}")
    d = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    c = torch.softmax(-_check_K(K) * d, dim=1)
    return (c.T @ u) / c.sum(0)[:, None]


def normalized_ip_loss(v: torch.Tensor, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``-sum_i c_i <u_i, v/||v||>`` (distance (11), one centre, fixed weights)."""
    v, u, c = _as_float(v, "v", ndim=1), _as_float(u, "u", ndim=2), _as_float(c, "c", ndim=1)
    if u.shape[1] != v.shape[0] or c.shape[0] != u.shape[0]:
        raise ValueError(f"shapes do not fit: v {tuple(v.shape)}, u {tuple(u.shape)}, c {tuple(c.shape)}")
    return -(c @ (u @ v)) / torch.linalg.vector_norm(v)


def routing_clustering_loss(u_hat: torch.Tensor, v: torch.Tensor, K: float = 1.0) -> torch.Tensor:
    """Per-sample clustering loss of the routing; ``u_hat`` (..., k, n, d), ``v`` (..., k, d)."""
    u_hat, v = _as_float(u_hat, "u_hat", min_ndim=3), _as_float(v, "v", min_ndim=2)
    if v.shape != u_hat.shape[:-2] + u_hat.shape[-1:]:
        raise ValueError(f"v must have shape (..., k, d) = {tuple(u_hat.shape[:-2] + u_hat.shape[-1:])}, "
                         f"got {tuple(v.shape)}")
    a = torch.einsum("...knd,...kd->...kn", u_hat, torch.nn.functional.normalize(v, dim=-1, eps=1e-12))
    return -smooth_max(a, K, dim=-2).sum(-1)


def kmeans_routing(u_hat: torch.Tensor, r: int, K: float = 1.0, squash_c: float = 0.5) -> torch.Tensor:
    """The derived routing (see :func:`kexue.kmeans.numpy_ref.kmeans_routing`), differentiable, soft version."""
    u_hat = _as_float(u_hat, "u_hat", min_ndim=3)
    squash_c = _validate.squash_constant(squash_c)
    if isinstance(r, bool) or int(r) != r or r < 0:
        raise ValueError(f"the number of routing iterations r must be an integer >= 0, got {r!r}")
    K = _check_K(K)
    v = u_hat.sum(-2) / u_hat.shape[-3]
    for _ in range(int(r)):
        a = torch.einsum("...knd,...kd->...kn", u_hat, torch.nn.functional.normalize(v, dim=-1, eps=1e-12))
        c = torch.softmax(K * a, dim=-2)
        v = torch.einsum("...kn,...knd->...kd", c, u_hat)
    return squash(v, squash_c)
