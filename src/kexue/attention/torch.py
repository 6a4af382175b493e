"""PyTorch attention layers for chapter 06, following :mod:`kexue.attention.numpy_ref`.

Chapter: ``chapters/06-attention.md``; post: https://kexue.fm/archives/4765.
Masks are boolean with ``True`` = keep (the opposite of ``torch.nn.MultiheadAttention``'s
``key_padding_mask``, where ``True`` means "ignore").
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue import _validate
from kexue.attention.numpy_ref import LAYOUTS


def check_mask(mask: torch.Tensor, shape: tuple[int, ...], name: str = "mask") -> torch.Tensor:
    """Validate a boolean mask broadcastable to ``shape`` (``True`` = keep); messages as the numpy reference."""
    _validate.torch_tensor(mask, name)
    if mask.dtype != torch.bool:
        raise ValueError(_validate.MASK_BOOL.format(name, mask.dtype))
    try:
        ok = mask.dim() <= len(shape) and torch.broadcast_shapes(mask.shape, shape) == torch.Size(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(_validate.MASK_SHAPE.format(name, tuple(mask.shape), tuple(shape)))
    return mask


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked entries to ``-inf``; rows with every key masked to 0 (uniform weights), as in the numpy reference."""
    any_kept = mask.any(dim=-1, keepdim=True)                                   # (..., Tq, 1)
    neg_inf = torch.tensor(float("-inf"), dtype=logits.dtype, device=logits.device)
    zero = torch.tensor(0.0, dtype=logits.dtype, device=logits.device)
    return torch.where(mask, logits, torch.where(any_kept, neg_inf, zero))


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, scale: bool | float = True
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q kᵀ / √d_k) v`` written out (matmul, masked selection, softmax); returns (output, weights).

    Shapes and mask as in :func:`kexue.attention.numpy_ref.scaled_dot_product_attention`:
    ``q`` (..., Tq, d_k), ``k`` (..., Tk, d_k), ``v`` (..., Tk, d_v), ``mask`` boolean
    broadcastable to (..., Tq, Tk), ``True`` = keep.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        _validate.torch_tensor(t, name, floating=True)
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(_validate.QKV_NDIM)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(_validate.QK_DIM.format(q.shape[-1], k.shape[-1]))
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(_validate.KV_LEN.format(k.shape[-2], v.shape[-2]))
    logits = torch.matmul(q, k.transpose(-1, -2))
    if scale is True:
        logits = logits / math.sqrt(q.shape[-1])
    elif scale is not False:
        logits = logits * float(scale)
    if mask is not None:
        check_mask(mask, tuple(logits.shape))
        logits = masked_logits(logits, mask)
    w = torch.softmax(logits, dim=-1)
    return torch.matmul(w, v), w


class MultiHeadAttention(nn.Module):
    """The post's multi-head attention: ``heads`` × ``size_per_head``, no biases.

    ``out_dim=None`` is the post's layer (the heads are concatenated, no ``W^O``);
    an integer adds the paper's output projection ``W^O`` to ``out_dim`` features.
    ``scale=False`` runs the unscaled variant of the post's January 2018 Keras code.
    ``fused=True`` (the default) computes the core with ``F.scaled_dot_product_attention`` (same
    maths, faster); ``fused=False``, or ``return_weights=True``, uses the explicit
    :func:`scaled_dot_product_attention`.  Weights are Glorot-uniform as in the post.

    Call: ``mha(q, k=None, v=None, key_mask=None, causal=False, query_mask=None,
    return_weights=False)``; ``k`` and ``v`` default to ``q`` (self-attention).  A query
    whose keys are all masked attends uniformly to every key, on both cores.
    """

    def __init__(self, heads: int, size_per_head: int, in_dim: int | tuple[int, int, int],
                 out_dim: int | None = None, scale: bool = True, fused: bool = True) -> None:
        super().__init__()
        if heads < 1 or size_per_head < 1:
            raise ValueError(f"heads and size_per_head must be positive, got {heads}, {size_per_head}")
        dq, dk, dv = (in_dim, in_dim, in_dim) if isinstance(in_dim, int) else in_dim
        self.heads, self.size_per_head, self.scale, self.fused = heads, size_per_head, scale, fused
        width = heads * size_per_head
        self.q_proj = nn.Linear(dq, width, bias=False)
        self.k_proj = nn.Linear(dk, width, bias=False)
        self.v_proj = nn.Linear(dv, width, bias=False)
        self.o_proj = nn.Linear(width, out_dim, bias=False) if out_dim is not None else None
        for layer in (self.q_proj, self.k_proj, self.v_proj, self.o_proj):
            if layer is not None:
                nn.init.xavier_uniform_(layer.weight)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.size_per_head).transpose(1, 2)     # (B, h, T, dh)

    def forward(self, q: torch.Tensor, k: torch.Tensor | None = None, v: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None, causal: bool = False,
                query_mask: torch.Tensor | None = None, return_weights: bool = False):
        k = q if k is None else k
        v = k if v is None else v
        for name, t in (("q", q), ("k", k), ("v", v)):
            _validate.torch_tensor(t, name, floating=True)
        if q.dim() != 3 or k.dim() != 3 or v.dim() != 3:
            raise ValueError("q, k, v must be (batch, time, features) tensors")
        b, tq, tk = q.shape[0], q.shape[1], k.shape[1]
        Q, K, V = self._split(self.q_proj(q)), self._split(self.k_proj(k)), self._split(self.v_proj(v))
        mask = None
        if key_mask is not None:
            mask = check_mask(key_mask, (b, tk), "key_mask").expand(b, tk)[:, None, None, :]
        if causal:
            c = torch.ones(tq, tk, dtype=torch.bool, device=q.device).tril()
            mask = c if mask is None else mask & c
        weights = None
        if self.fused and not return_weights:
            bias, any_kept = None, None
            if mask is not None:
                # additive float mask: 0 to keep, -inf to drop; a fully masked row gets an all-zero
                # bias (no NaN) and its output is replaced by the uniform average of V below
                any_kept = mask.any(dim=-1, keepdim=True)                          # (B or 1, 1, Tq, 1)
                drop = ~mask & any_kept
                bias = torch.zeros(drop.shape, dtype=Q.dtype, device=Q.device).masked_fill(drop, float("-inf"))
            s = None if self.scale is True else (1.0 if self.scale is False else float(self.scale))
            out = F.scaled_dot_product_attention(Q, K, V, attn_mask=bias, scale=s)
            if any_kept is not None:
                out = torch.where(any_kept, out, V.mean(dim=-2, keepdim=True))
        else:
            out, weights = scaled_dot_product_attention(Q, K, V, mask=mask, scale=self.scale)
        out = out.transpose(1, 2).reshape(b, tq, self.heads * self.size_per_head)
        if self.o_proj is not None:
            out = self.o_proj(out)
        if query_mask is not None:
            out = out * check_mask(query_mask, (b, tq), "query_mask").expand(b, tq)[:, :, None].to(out.dtype)
        return (out, weights) if return_weights else out

    def load_numpy(self, wq: np.ndarray, wk: np.ndarray, wv: np.ndarray, wo: np.ndarray | None = None) -> None:
        """Copy numpy weights of shape (d_in, heads·size_per_head) (the reference's layout)."""
        with torch.no_grad():
            for layer, w in ((self.q_proj, wq), (self.k_proj, wk), (self.v_proj, wv), (self.o_proj, wo)):
                if layer is None or w is None:
                    continue
                if tuple(w.shape) != tuple(layer.weight.T.shape):
                    raise ValueError(f"weight shape {w.shape} != expected {tuple(layer.weight.T.shape)}")
                layer.weight.copy_(torch.as_tensor(np.asarray(w).T, dtype=layer.weight.dtype))


def sinusoidal_position_embedding(length: int, dim: int, layout: str = "cos_sin", base: float = 10000.0,
               dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Sinusoidal position embeddings (length, dim), computed in torch (see the numpy reference)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even integer, got {dim}")
    pos = torch.arange(length, dtype=torch.float64, device=device)[:, None]
    freq = torch.pow(torch.tensor(float(base), dtype=torch.float64, device=device),
                     -2.0 * torch.arange(dim // 2, dtype=torch.float64, device=device) / dim)
    ang = pos * freq[None, :]
    s, c = torch.sin(ang), torch.cos(ang)
    if layout == "cos_sin":
        pe = torch.cat([c, s], dim=1)
    elif layout == "sin_cos":
        pe = torch.cat([s, c], dim=1)
    else:
        pe = torch.stack([s, c], dim=-1).reshape(length, dim)
    return pe.to(dtype)


class PositionEmbedding(nn.Module):
    """Add (``mode="sum"``) or prepend (``mode="concat"``, ``size`` features) sinusoidal embeddings."""

    def __init__(self, mode: str = "sum", size: int | None = None, layout: str = "cos_sin") -> None:
        super().__init__()
        if mode not in ("sum", "concat"):
            raise ValueError(f"mode must be 'sum' or 'concat', got {mode!r}")
        if mode == "concat" and size is None:
            raise ValueError("mode='concat' needs a size")
        self.mode, self.size, self.layout = mode, size, layout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _validate.torch_tensor(x, "x", floating=True)
        if x.dim() != 3:
            raise ValueError(f"x must be a (batch, time, features) tensor, got shape {tuple(x.shape)}")
        b, t, d = x.shape
        if self.mode == "sum":
            if self.size is not None and self.size != d:
                raise ValueError(f"mode='sum' needs size == input features ({d}), got {self.size}")
            return x + sinusoidal_position_embedding(t, d, self.layout, dtype=x.dtype, device=x.device)
        pe = sinusoidal_position_embedding(t, self.size, self.layout, dtype=x.dtype, device=x.device)
        return torch.cat([pe.expand(b, t, self.size), x], dim=-1)


class AttentionClassifier(nn.Module):
    """The post's IMDB model: Embedding → [position embedding] → attention → average pool → dropout → Dense.

    Padding (token id 0) is masked in the attention keys and excluded from the average.
    """

    def __init__(self, vocab_size: int, dim: int = 128, heads: int = 8, size_per_head: int = 16,
                 position: bool = True, scale: bool = True, dropout: float = 0.5, fused: bool = True) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.embed.weight, -0.05, 0.05)     # Keras' Embedding default
        self.position = PositionEmbedding("sum") if position else None
        self.attn = MultiHeadAttention(heads, size_per_head, dim, scale=scale, fused=fused)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(heads * size_per_head, 1)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = tokens != 0
        x = self.embed(tokens)
        if self.position is not None:
            x = self.position(x)
        h = self.attn(x, key_mask=mask)
        m = mask[:, :, None].to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits (B,) for int64 token ids (B, T), 0 = padding."""
        _validate.torch_tensor(tokens, "tokens")
        if tokens.is_floating_point() or tokens.dtype == torch.bool or tokens.dim() != 2:
            raise ValueError(f"tokens must be integer ids of shape (batch, time), got {tokens.dtype} "
                             f"of shape {tuple(tokens.shape)}")
        return self.out(self.drop(self.pooled(tokens))).squeeze(-1)
