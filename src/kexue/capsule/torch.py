"""Capsules in PyTorch (chapter 07, ``chapters/07-capsule.md``), tested against :mod:`.numpy_ref`.

:class:`Capsule` is the post's capsule layer: input capsules (B, n, d_in) with
``n`` free when the weights are shared, output capsules (B, k, d_out), routing
variant by name (``"hinton"``, ``"post"``, ``"kmeans"``; see :mod:`.numpy_ref`).
The weights are stored exactly as in the numpy reference and the Keras layer:
shared ``W`` (d_in, k*d_out), unshared ``W`` (n, d_in, k*d_out).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from kexue import _validate
from kexue.capsule.numpy_ref import EPS, check_routing, squash_scale


def squash(x: torch.Tensor, c: float = 1.0, dim: int = -1, eps: float = EPS) -> torch.Tensor:
    """``x·sqrt(||x||²+eps)/(c+||x||²)``: length ``||x||²/(c+||x||²) < 1``, direction kept.

    A vector whose largest entry could overflow ``||x||²`` is divided by it first, as in
    :func:`kexue.capsule.numpy_ref.squash`; any other vector is divided by exactly 1.
    """
    c = _validate.squash_constant(c)
    _validate.torch_tensor(x, "x", floating=True)
    m = x.detach().abs().amax(dim=dim, keepdim=True)                   # a constant: no gradient through it
    m = torch.where(m > squash_scale(str(x.dtype).removeprefix("torch."), x.shape[dim]), m, torch.ones_like(m))
    y = x / m
    t = (y * y).sum(dim=dim, keepdim=True)
    inv2 = (1.0 / m) / m
    return y * torch.sqrt(t + eps * inv2) / (c * inv2 + t)


def l2_normalize(x: torch.Tensor, dim: int = -1, eps: float = EPS) -> torch.Tensor:
    """``x / sqrt(||x||² + eps)``."""
    _validate.torch_tensor(x, "x", floating=True)
    return x / torch.sqrt((x * x).sum(dim=dim, keepdim=True) + eps)


def dynamic_routing(u_hat: torch.Tensor, routings: int = 3, routing: str = "post",
                    squash_c: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Route ``u_hat`` (B, k, n, d); returns ``(v, c)`` with v (B, k, d) and the last couplings (B, k, n)."""
    c_sq = check_routing(routing, routings, squash_c)
    _validate.torch_tensor(u_hat, "u_hat", floating=True)
    if u_hat.dim() != 4:
        raise ValueError(f"u_hat must have shape (batch, k, n, d), got shape {tuple(u_hat.shape)}")
    b = u_hat.new_zeros(u_hat.shape[:3])
    for it in range(routings):
        c = torch.softmax(b, dim=1)                          # over the output capsules j
        s = torch.matmul(c.unsqueeze(2), u_hat).squeeze(2)   # einsum("bkn,bknd->bkd"), faster as matmul
        last = it == routings - 1
        if routing == "kmeans":
            if last:
                return squash(s, c_sq), c
            v = l2_normalize(s)
        else:
            v = squash(s, c_sq)
            if last:
                return v, c
        agreement = torch.matmul(u_hat, v.unsqueeze(-1)).squeeze(-1)   # einsum("bkd,bknd->bkn")
        b = b + agreement if routing == "hinton" else agreement
    raise AssertionError("unreachable")  # pragma: no cover


class Capsule(nn.Module):
    """Capsule layer: (B, n, d_in) → (B, num_capsule, dim_capsule).

    Parameters
    ----------
    input_dim_capsule: d_in (PyTorch needs it to create the weights).
    num_capsule, dim_capsule: k and d_out.
    routings: number of routing passes (>= 1); 3 in the post.
    share_weights: one matrix W_j per output capsule (any n) if True; else one
        W_ji per pair, which needs ``input_num_capsule`` and then that exact n.
    routing: ``"hinton"``, ``"post"`` (default) or ``"kmeans"``.
    squash_c: override the variant's squash constant.

    Weights are Glorot-uniform like the Keras layer (fan-in d_in, fan-out k*d_out,
    both times n when unshared).  ``forward(u, return_couplings=True)`` also
    returns the coupling coefficients of the last pass.
    """

    def __init__(self, input_dim_capsule: int, num_capsule: int, dim_capsule: int, routings: int = 3,
                 share_weights: bool = True, routing: str = "post", input_num_capsule: int | None = None,
                 squash_c: float | None = None) -> None:
        super().__init__()
        check_routing(routing, routings, squash_c)
        for name, val in (("input_dim_capsule", input_dim_capsule), ("num_capsule", num_capsule),
                          ("dim_capsule", dim_capsule)):
            if int(val) < 1:
                raise ValueError(f"{name} must be >= 1, got {val}")
        if not share_weights and input_num_capsule is None:
            raise ValueError("unshared weights need a fixed number of input capsules: pass input_num_capsule "
                             "(or use share_weights=True for a variable number of inputs)")
        self.num_capsule, self.dim_capsule = int(num_capsule), int(dim_capsule)
        self.input_dim_capsule = int(input_dim_capsule)
        self.routings, self.routing, self.squash_c = int(routings), routing, squash_c
        self.share_weights = bool(share_weights)
        self.input_num_capsule = None if share_weights else int(input_num_capsule)
        out = self.num_capsule * self.dim_capsule
        shape = (self.input_dim_capsule, out) if share_weights else (self.input_num_capsule, self.input_dim_capsule, out)
        self.W = nn.Parameter(torch.empty(shape))
        n = 1 if share_weights else self.input_num_capsule
        limit = math.sqrt(6.0 / (n * self.input_dim_capsule + n * out))
        nn.init.uniform_(self.W, -limit, limit)

    def predictions(self, u: torch.Tensor) -> torch.Tensor:
        """Prediction vectors û (B, k, n, d_out)."""
        _validate.torch_tensor(u, "u", floating=True)
        if u.dim() != 3:
            raise ValueError(f"input capsules must have shape (batch, n, d_in), got shape {tuple(u.shape)}")
        if u.shape[-1] != self.input_dim_capsule:
            raise ValueError(f"expected input capsules of dimension {self.input_dim_capsule}, got {u.shape[-1]}")
        k, d = self.num_capsule, self.dim_capsule
        if self.share_weights:                         # einsum("bni,ikd->bknd"), as one matmul
            return torch.matmul(u, self.W).view(u.shape[0], u.shape[1], k, d).transpose(1, 2).contiguous()
        if u.shape[1] != self.input_num_capsule:
            raise ValueError(f"unshared weights are for {self.input_num_capsule} input capsules, got {u.shape[1]}")
        return torch.einsum("bni,nikd->bknd", u, self.W.view(self.input_num_capsule, self.input_dim_capsule, k, d))

    def forward(self, u: torch.Tensor, return_couplings: bool = False):
        v, c = dynamic_routing(self.predictions(u), self.routings, self.routing, self.squash_c)
        return (v, c) if return_couplings else v

    def extra_repr(self) -> str:
        return (f"{self.input_dim_capsule} -> {self.num_capsule}x{self.dim_capsule}, routings={self.routings}, "
                f"routing={self.routing!r}, share_weights={self.share_weights}")


def margin_loss(y_true: torch.Tensor, p: torch.Tensor, m_plus: float = 0.9, m_minus: float = 0.1,
                lam: float = 0.25, reduction: str = "none") -> torch.Tensor:
    """Margin loss ``y·relu(m⁺−p)² + λ(1−y)·relu(p−m⁻)²``, mean over classes: (B,), or the batch mean.

    Same contract as :func:`kexue.capsule.numpy_ref.margin_loss` (``reduction="none"`` by default).
    """
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    _validate.torch_tensor(y_true, "y_true")
    _validate.torch_tensor(p, "p", floating=True)
    if y_true.shape != p.shape or p.dim() != 2:
        raise ValueError(_validate.MARGIN_SHAPE.format(tuple(y_true.shape), tuple(p.shape)))
    y_true = y_true.to(p.dtype)
    loss = y_true * torch.relu(m_plus - p) ** 2 + lam * (1 - y_true) * torch.relu(p - m_minus) ** 2
    return loss.mean() if reduction == "mean" else loss.mean(dim=-1)
