"""PyTorch versions of chapter 08's soft K-Means (``chapters/08-kmeans-capsule.md``).

The numpy reference is :mod:`kexue.kmeans`; these functions compute the same
quantities with autograd, so the chapter can check the gradient (7) and the
proof of eq. (12) against automatic differentiation.  Source:
https://kexue.fm/archives/5112.
"""
from __future__ import annotations

import torch

__all__ = ["smooth_max", "soft_kmeans_loss", "soft_kmeans_step", "normalized_ip_loss",
           "routing_clustering_loss", "kmeans_routing"]


def _check_K(K: float) -> float:
    if isinstance(K, bool) or not isinstance(K, (int, float)) or not K > 0 or K == float("inf"):
        raise ValueError(f"the sharpness K must be a finite positive number, got {K!r}")
    return float(K)


def smooth_max(lam: torch.Tensor, K: float, dim: int = -1) -> torch.Tensor:
    """``(1/K) logsumexp(K lam)`` along ``dim``."""
    return torch.logsumexp(_check_K(K) * lam, dim=dim) / K


def soft_kmeans_loss(u: torch.Tensor, v: torch.Tensor, K: float) -> torch.Tensor:
    """Loss (6) for the squared Euclidean distance: ``-(1/K) sum_i log sum_j exp(-K ||u_i - v_j||^2)``."""
    if u.ndim != 2 or v.ndim != 2 or u.shape[1] != v.shape[1]:
        raise ValueError(f"u must be (n, d) and v (k, d), got {tuple(u.shape)} and {tuple(v.shape)}")
    d = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    return -smooth_max(-d, K, dim=1).sum()


def soft_kmeans_step(u: torch.Tensor, v: torch.Tensor, K: float) -> torch.Tensor:
    """One fixed-point step (10): ``v_j = sum_i c_ij u_i / sum_i c_ij``."""
    d = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    c = torch.softmax(-_check_K(K) * d, dim=1)
    return (c.T @ u) / c.sum(0)[:, None]


def normalized_ip_loss(v: torch.Tensor, u: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``-sum_i c_i <u_i, v/||v||>`` (distance (11), one centre, fixed weights)."""
    return -(c @ (u @ v)) / torch.linalg.vector_norm(v)


def routing_clustering_loss(u_hat: torch.Tensor, v: torch.Tensor, K: float = 1.0) -> torch.Tensor:
    """Per-sample clustering loss of the routing; ``u_hat`` (..., k, n, d), ``v`` (..., k, d)."""
    a = torch.einsum("...knd,...kd->...kn", u_hat, torch.nn.functional.normalize(v, dim=-1, eps=1e-12))
    return -smooth_max(a, K, dim=-2).sum(-1)


def kmeans_routing(u_hat: torch.Tensor, r: int, K: float = 1.0, squash_const: float = 0.5) -> torch.Tensor:
    """The derived routing (see :func:`kexue.kmeans.kmeans_routing`), differentiable, soft version."""
    if isinstance(r, bool) or int(r) != r or r < 0:
        raise ValueError(f"the number of routing iterations r must be an integer >= 0, got {r!r}")
    K = _check_K(K)
    v = u_hat.sum(-2) / u_hat.shape[-3]
    for _ in range(int(r)):
        a = torch.einsum("...knd,...kd->...kn", u_hat, torch.nn.functional.normalize(v, dim=-1, eps=1e-12))
        c = torch.softmax(K * a, dim=-2)
        v = torch.einsum("...kn,...knd->...kd", c, u_hat)
    sq = (v**2).sum(-1, keepdim=True)
    return v * torch.sqrt(sq) / (squash_const + sq)
