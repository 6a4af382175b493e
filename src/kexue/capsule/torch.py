"""Capsules in PyTorch (chapter 07, ``chapters/07-capsule.md``), tested against :mod:`kexue.capsule.numpy_ref`.

:class:`Capsule` is the post's capsule layer: input capsules (B, n, d_in) with
``n`` free when the weights are shared, output capsules (B, k, d_out), routing
variant by name (``"hinton"``, ``"post"``, ``"kmeans"``; see :mod:`kexue.capsule.numpy_ref`).
The weights are stored exactly as in the numpy reference and the Keras layer:
shared ``W`` (d_in, k*d_out), unshared ``W`` (n, d_in, k*d_out).

Every function keeps its tensors on the input's device and in its dtype; integer
input is cast to ``torch.get_default_dtype()`` (the numpy reference casts to float64).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from kexue import _validate
from kexue.capsule.numpy_ref import EPS, check_routing, squash_scale

__all__ = ["squash", "l2_normalize", "dynamic_routing", "Capsule", "margin_loss"]


def _float_tensor(x: torch.Tensor, name: str) -> torch.Tensor:
    """``x`` checked to be a tensor; integer (and boolean) tensors cast to the default float dtype."""
    _validate.torch_tensor(x, name)
    return x if x.is_floating_point() else x.to(torch.get_default_dtype())


def squash(x: torch.Tensor, c: float = 1.0, dim: int = -1, eps: float = EPS) -> torch.Tensor:
    """The squash non-linearity ``||x||²/(c + ||x||²) · x/||x||`` (chapter 07).

    Computed as ``x·sqrt(||x||² + eps)/(c + ||x||²)``; a vector whose largest entry could
    overflow ``||x||²`` is divided by it first, as in :func:`kexue.capsule.numpy_ref.squash`;
    any other vector is divided by exactly 1.

    Parameters
    ----------
    x : Tensor, shape (..., d, ...)
        Vectors along ``dim``.  Integer input is cast to ``torch.get_default_dtype()``.
    c : float, optional
        The squash constant, a finite number > 0.
    dim : int, optional
        The dimension of the vectors.
    eps : float, optional
        The constant under the square root, >= 0.

    Returns
    -------
    Tensor, same shape as ``x``
        Each vector with length ``||x||²/(c + ||x||²) < 1`` and the direction of ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor.
    ValueError
        If ``c`` is not a finite number > 0 or ``eps`` is negative.
    """
    c = _validate.squash_constant(c)
    eps = _validate.l2_eps(eps)
    x = _float_tensor(x, "x")
    if x.numel() == 0:
        return x.clone()
    m = x.detach().abs().amax(dim=dim, keepdim=True)                   # a constant: no gradient through it
    m = torch.where(m > squash_scale(x.dtype, x.shape[dim]), m, torch.ones_like(m))
    y = x / m
    t = (y * y).sum(dim=dim, keepdim=True)
    inv2 = (1.0 / m) / m
    return y * torch.sqrt(t + eps * inv2) / (c * inv2 + t)


def l2_normalize(x: torch.Tensor, dim: int = -1, eps: float = EPS) -> torch.Tensor:
    """``x / sqrt(||x||² + eps)`` along ``dim``: the normalisation of the ``"kmeans"`` routing (chapters 07, 08).

    The same definition as :func:`kexue.capsule.numpy_ref.l2_normalize`: a zero vector
    gives the zero vector (also with ``eps=0``, with a finite gradient); a vector whose
    squared norm could overflow is divided by its largest entry first (with ``eps=0``,
    every non-zero vector is); any other vector is divided by exactly 1.

    Parameters
    ----------
    x : Tensor, shape (..., d, ...)
        Vectors along ``dim``.  Integer input is cast to ``torch.get_default_dtype()``.
    dim : int, optional
        The dimension of the vectors.
    eps : float, optional
        The constant under the square root, >= 0 (0: exact unit vectors).

    Returns
    -------
    Tensor, same shape as ``x``
        The normalised vectors; finite for every finite ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor.
    ValueError
        If ``eps`` is negative or not finite.
    """
    eps = _validate.l2_eps(eps)
    x = _float_tensor(x, "x")
    if x.numel() == 0:
        return x.clone()
    m = x.detach().abs().amax(dim=dim, keepdim=True)                   # a constant: no gradient through it
    rescale = m > squash_scale(x.dtype, x.shape[dim])
    if eps == 0:
        rescale = rescale | (m > 0)
    s = torch.where(rescale, m, torch.ones_like(m))                   # the scale: m or exactly 1
    y = x / s
    t = (y * y).sum(dim=dim, keepdim=True)
    if eps:
        t = t + eps * ((1.0 / s) / s)                                 # eps/s², eps for most vectors
    return y / torch.sqrt(torch.where(t > 0, t, torch.ones_like(t)))  # zero vector (eps = 0): 0/1


def dynamic_routing(u_hat: torch.Tensor, routings: int = 3, routing: str = "post",
                    squash_c: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Route prediction vectors to output capsules, ``routings`` passes from ``b = 0`` (chapter 07).

    Parameters
    ----------
    u_hat : Tensor, shape (batch, k, n, d)
        Prediction vectors ``û_{j|i}``.  Integer input is cast to ``torch.get_default_dtype()``.
    routings : int, optional
        Number of passes, >= 1.
    routing : str, optional
        ``"hinton"``, ``"post"`` (default) or ``"kmeans"``.
    squash_c : float, optional
        The squash constant; ``None`` uses the variant's constant.

    Returns
    -------
    v : Tensor, shape (batch, k, d)
        The output capsules.
    c : Tensor, shape (batch, k, n)
        The coupling coefficients of the last pass.

    Raises
    ------
    TypeError
        If ``u_hat`` is not a tensor.
    ValueError
        If ``u_hat`` is not 4-dimensional or a routing argument is invalid.
    """
    c_sq = check_routing(routing, routings, squash_c)
    u_hat = _float_tensor(u_hat, "u_hat")
    if u_hat.dim() != 4:
        raise ValueError(_validate.U_HAT_SHAPE.format(tuple(u_hat.shape)))
    b = u_hat.new_zeros(u_hat.shape[:3])                    # (B, k, n)
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
    """Capsule layer: input capsules (B, n, d_in) → output capsules (B, num_capsule, dim_capsule) (chapter 07).

    Weights are Glorot-uniform like the Keras layer (fan-in d_in, fan-out k*d_out,
    both times n when unshared).

    Parameters
    ----------
    input_dim_capsule : int
        d_in (PyTorch needs it to create the weights; the Keras layer reads it from its input).
    num_capsule : int
        k, the number of output capsules.
    dim_capsule : int
        d_out, their dimension.
    routings : int, optional
        Number of routing passes (>= 1); 3 in the post.
    share_weights : bool, optional
        One matrix W_j per output capsule (any n) if True; else one W_ji per pair, which
        needs ``input_num_capsule`` and then that exact n.
    routing : str, optional
        ``"hinton"``, ``"post"`` (default) or ``"kmeans"``.
    squash_c : float, optional
        Override the variant's squash constant.
    input_num_capsule : int, optional
        n, required (only) for unshared weights.
    device, dtype : optional
        Where and in which dtype to create the weights (as in ``torch.nn.Linear``).

    Raises
    ------
    ValueError
        If a size is not an integer >= 1, a routing argument is invalid, or unshared
        weights lack ``input_num_capsule``.
    """

    def __init__(self, input_dim_capsule: int, num_capsule: int, dim_capsule: int, routings: int = 3,
                 share_weights: bool = True, routing: str = "post", squash_c: float | None = None, *,
                 input_num_capsule: int | None = None, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        check_routing(routing, routings, squash_c)
        self.input_dim_capsule = _validate.positive_int(input_dim_capsule, "input_dim_capsule")
        self.num_capsule = _validate.positive_int(num_capsule, "num_capsule")
        self.dim_capsule = _validate.positive_int(dim_capsule, "dim_capsule")
        if not share_weights and input_num_capsule is None:
            raise ValueError(_validate.CAPS_UNSHARED_NEEDS_N)
        self.routings, self.routing, self.squash_c = int(routings), routing, squash_c
        self.share_weights = bool(share_weights)
        self.input_num_capsule = (None if share_weights
                                  else _validate.positive_int(input_num_capsule, "input_num_capsule"))
        out = self.num_capsule * self.dim_capsule
        shape = (self.input_dim_capsule, out) if share_weights else (self.input_num_capsule, self.input_dim_capsule, out)
        self.W = nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
        n = 1 if share_weights else self.input_num_capsule
        limit = math.sqrt(6.0 / (n * self.input_dim_capsule + n * out))
        nn.init.uniform_(self.W, -limit, limit)

    def predictions(self, u: torch.Tensor) -> torch.Tensor:
        """Prediction vectors ``û_{j|i}`` (chapter 07).

        Parameters
        ----------
        u : Tensor, shape (batch, n, d_in)
            Input capsules.  Integer input is cast to the weights' dtype.

        Returns
        -------
        Tensor, shape (batch, num_capsule, n, dim_capsule)
            The prediction vectors.

        Raises
        ------
        TypeError
            If ``u`` is not a tensor.
        ValueError
            If the shape of ``u`` does not fit the layer.
        """
        _validate.torch_tensor(u, "u")
        if not u.is_floating_point():
            u = u.to(self.W.dtype)
        if u.dim() != 3:
            raise ValueError(_validate.CAPS_INPUT_SHAPE.format(tuple(u.shape)))
        if u.shape[-1] != self.input_dim_capsule:
            raise ValueError(_validate.CAPS_INPUT_DIM.format(self.input_dim_capsule, u.shape[-1]))
        k, d = self.num_capsule, self.dim_capsule
        if self.share_weights:                         # einsum("bni,ikd->bknd"), as one matmul
            return torch.matmul(u, self.W).view(u.shape[0], u.shape[1], k, d).transpose(1, 2).contiguous()
        if u.shape[1] != self.input_num_capsule:
            raise ValueError(_validate.CAPS_UNSHARED_N.format(self.input_num_capsule, u.shape[1]))
        return torch.einsum("bni,nikd->bknd", u, self.W.view(self.input_num_capsule, self.input_dim_capsule, k, d))

    def forward(self, u: torch.Tensor,
                return_couplings: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Output capsules of input capsules ``u`` (chapter 07).

        Parameters
        ----------
        u : Tensor, shape (batch, n, d_in)
            Input capsules.
        return_couplings : bool, optional
            Also return the coupling coefficients of the last routing pass.

        Returns
        -------
        v : Tensor, shape (batch, num_capsule, dim_capsule)
            The output capsules; their lengths are the scores.
        c : Tensor, shape (batch, num_capsule, n)
            Only with ``return_couplings=True``: the last couplings.
        """
        v, c = dynamic_routing(self.predictions(u), self.routings, self.routing, self.squash_c)
        return (v, c) if return_couplings else v

    def extra_repr(self) -> str:
        """The layer's sizes and routing, for ``print(model)`` (chapter 07).

        Returns
        -------
        str
            E.g. ``"8 -> 10x16, routings=3, routing='post', share_weights=True"``.
        """
        return (f"{self.input_dim_capsule} -> {self.num_capsule}x{self.dim_capsule}, routings={self.routings}, "
                f"routing={self.routing!r}, share_weights={self.share_weights}")


def margin_loss(y_true: torch.Tensor, p: torch.Tensor, m_plus: float = 0.9, m_minus: float = 0.1,
                lam: float = 0.25, reduction: str = "none") -> torch.Tensor:
    """Margin loss ``y·relu(m⁺ − p)² + λ(1 − y)·relu(p − m⁻)²``, mean over classes (chapter 07).

    Same contract as :func:`kexue.capsule.numpy_ref.margin_loss`.

    Parameters
    ----------
    y_true : Tensor, shape (batch, K)
        0/1 (multi-)hot targets.
    p : Tensor, shape (batch, K)
        Scores in [0, 1].  Integer input is cast to ``torch.get_default_dtype()``.
    m_plus, m_minus, lam : float, optional
        The margins m⁺, m⁻ and the weight λ of the absent classes.
    reduction : {"none", "mean"}, optional
        ``"none"`` (default): one value per sample; ``"mean"``: the batch mean.

    Returns
    -------
    Tensor, shape (batch,), or a scalar for ``reduction="mean"``
        The loss, in the dtype of ``p``.

    Raises
    ------
    TypeError
        If an input is not a tensor.
    ValueError
        If the shapes differ or are not matrices, ``reduction`` is unknown, or the batch
        is empty with ``reduction="mean"``.
    """
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    _validate.torch_tensor(y_true, "y_true")
    p = _float_tensor(p, "p")
    if y_true.shape != p.shape or p.dim() != 2:
        raise ValueError(_validate.MARGIN_SHAPE.format(tuple(y_true.shape), tuple(p.shape)))
    if reduction == "mean" and p.shape[0] == 0:
        raise ValueError(_validate.EMPTY_MEAN)
    y_true = y_true.to(p.dtype)
    loss = y_true * torch.relu(m_plus - p) ** 2 + lam * (1 - y_true) * torch.relu(p - m_minus) ** 2
    return loss.mean() if reduction == "mean" else loss.mean(dim=-1)
