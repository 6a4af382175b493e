"""Numpy reference for chapter 06 (attention): the specification the framework versions follow.

Chapter: ``chapters/06-attention.md``; post: https://kexue.fm/archives/4765.

Mask convention: a **boolean** array, ``True`` = keep (the query may attend to
that key), ``False`` = masked.  Masked logits are *selected away* (replaced by
``-inf``) before the softmax, so no real logit, however negative, can outweigh a
masked one, and nothing overflows in float16.  A row whose keys are **all**
masked attends uniformly to every key (all its logits are set to 0): its weights
are ``1/Tk``, finite, never NaN.  The PyTorch and Keras versions do the same
(:func:`masked_logits`).
"""
from __future__ import annotations

import numpy as np

from kexue import _validate
from kexue.numeric import softmax  # noqa: F401  (one copy for the package; part of this reference)

__all__ = [
    "LAYOUTS", "softmax", "check_mask", "masked_logits", "length_mask", "causal_mask",
    "scaled_dot_product_attention", "multi_head_attention", "frequencies", "sinusoidal_position_embedding",
    "pe_rotation", "order_task",
]

LAYOUTS = ("cos_sin", "sin_cos", "interleaved")


def check_mask(mask, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """Validate a boolean mask that must broadcast to ``shape``; return it as a numpy array.

    Raises ``ValueError`` for a non-boolean dtype (0/1 floats are ambiguous:
    some libraries mean 1 = keep, others 1 = masked) or a shape that does not
    broadcast.
    """
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        raise ValueError(_validate.MASK_BOOL.format(name, m.dtype))
    bad = ValueError(_validate.MASK_SHAPE.format(name, m.shape, tuple(shape)))
    if m.ndim > len(shape):
        raise bad
    try:
        ok = np.broadcast_shapes(m.shape, tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise bad
    return m


def masked_logits(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``logits`` with masked entries set to ``-inf``; rows with every key masked set to 0 (uniform weights).

    ``mask`` is a validated boolean array broadcastable to ``logits`` (..., Tq, Tk).
    """
    m = np.broadcast_to(mask, logits.shape)
    any_kept = m.any(axis=-1, keepdims=True)                     # (..., Tq, 1)
    return np.where(m, logits, np.where(any_kept, -np.inf, 0.0)).astype(logits.dtype, copy=False)


def length_mask(lengths, max_len: int) -> np.ndarray:
    """Key-padding mask ``(B, max_len)`` from true lengths: ``True`` on real positions."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be a 1-D integer array, got shape {lengths.shape}, dtype {lengths.dtype}")
    if np.any(lengths < 0) or np.any(lengths > max_len):
        raise ValueError(f"lengths must lie in [0, {max_len}]")
    return np.arange(max_len)[None, :] < lengths[:, None]


def causal_mask(n_query: int, n_key: int | None = None) -> np.ndarray:
    """Causal mask ``(n_query, n_key)``: query ``i`` may attend to keys ``j <= i``."""
    n_key = n_query if n_key is None else n_key
    if n_query < 1 or n_key < 1:
        raise ValueError(f"sizes must be positive, got {n_query}, {n_key}")
    return np.tril(np.ones((n_query, n_key), dtype=bool))


def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask=None,
                                 scale: bool | float = True) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(q kᵀ / √d_k) v`` over the last two axes; returns ``(output, weights)``.

    ``q``: (..., Tq, d_k), ``k``: (..., Tk, d_k), ``v``: (..., Tk, d_v).
    ``mask``: boolean, broadcastable to (..., Tq, Tk), ``True`` = keep.
    ``scale``: ``True`` divides the logits by √d_k, ``False`` leaves them unscaled
    (the post's January 2018 Keras layer), a float multiplies them by that number.
    """
    q, k, v = (np.asarray(a) for a in (q, k, v))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(_validate.QKV_NDIM)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(_validate.QK_DIM.format(q.shape[-1], k.shape[-1]))
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(_validate.KV_LEN.format(k.shape[-2], v.shape[-2]))
    logits = q @ np.swapaxes(k, -1, -2)
    if scale is True:
        logits = logits / np.sqrt(q.shape[-1])
    elif scale is not False:
        logits = logits * float(scale)
    if mask is not None:
        logits = masked_logits(logits, check_mask(mask, logits.shape))
    w = softmax(logits, axis=-1)
    return w @ v, w


def _split_heads(x: np.ndarray, heads: int) -> np.ndarray:
    b, t, d = x.shape
    return x.reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3)      # (B, h, T, dh)


def multi_head_attention(xq: np.ndarray, xk: np.ndarray, xv: np.ndarray, wq: np.ndarray, wk: np.ndarray,
                         wv: np.ndarray, heads: int, wo: np.ndarray | None = None, key_mask=None,
                         causal: bool = False, query_mask=None, scale: bool | float = True,
                         return_weights: bool = False):
    """The post's multi-head attention (no biases), optionally with the paper's output matrix ``wo``.

    ``xq``: (B, Tq, d_q), ``xk``: (B, Tk, d_k), ``xv``: (B, Tk, d_v);
    ``wq``, ``wk``: (d_q or d_k, heads·size_per_head), ``wv``: (d_v, heads·size_per_head);
    ``wo``: (heads·size_per_head, d_out) or ``None`` (the post's layer: concatenated heads).
    ``key_mask``: boolean (B, Tk), ``True`` on real keys; ``causal``: query ``i`` sees keys ``<= i``;
    ``query_mask``: boolean (B, Tq), zeroes the outputs at padded queries (as the post's layer).
    Returns (B, Tq, heads·size_per_head) or (B, Tq, d_out); with ``return_weights`` also
    the attention weights (B, heads, Tq, Tk).
    """
    xq, xk, xv = (np.asarray(a) for a in (xq, xk, xv))
    if xq.ndim != 3 or xk.ndim != 3 or xv.ndim != 3:
        raise ValueError("xq, xk, xv must be (batch, time, features) arrays")
    if not isinstance(heads, (int, np.integer)) or heads < 1:
        raise ValueError(f"heads must be a positive integer, got {heads!r}")
    for name, x, w in (("wq", xq, wq), ("wk", xk, wk), ("wv", xv, wv)):
        if w.ndim != 2 or w.shape[0] != x.shape[-1]:
            raise ValueError(f"{name} must have shape ({x.shape[-1]}, heads*size_per_head), got {w.shape}")
    width = wq.shape[1]
    if wk.shape[1] != width or wv.shape[1] != width or width % heads:
        raise ValueError(f"projection widths {wq.shape[1]}, {wk.shape[1]}, {wv.shape[1]} must agree "
                         f"and be divisible by heads={heads}")
    b, tq, tk = xq.shape[0], xq.shape[1], xk.shape[1]
    q, k, v = _split_heads(xq @ wq, heads), _split_heads(xk @ wk, heads), _split_heads(xv @ wv, heads)
    mask = np.ones((b, 1, tq, tk), dtype=bool)
    if key_mask is not None:
        mask = mask & np.broadcast_to(check_mask(key_mask, (b, tk), "key_mask"), (b, tk))[:, None, None, :]
    if causal:
        mask = mask & causal_mask(tq, tk)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
    out = out.transpose(0, 2, 1, 3).reshape(b, tq, width)
    if wo is not None:
        if wo.ndim != 2 or wo.shape[0] != width:
            raise ValueError(f"wo must have shape ({width}, d_out), got {wo.shape}")
        out = out @ wo
    if query_mask is not None:
        out = out * np.broadcast_to(check_mask(query_mask, (b, tq), "query_mask"), (b, tq))[:, :, None]
    return (out, w) if return_weights else out


def frequencies(dim: int, base: float = 10000.0) -> np.ndarray:
    """The ``dim/2`` angular frequencies ``ω_i = base^(-2i/dim)``."""
    if not isinstance(dim, (int, np.integer)) or dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even integer, got {dim!r}")
    return base ** (-2.0 * np.arange(dim // 2) / dim)


def sinusoidal_position_embedding(length: int, dim: int, layout: str = "cos_sin", base: float = 10000.0,
                                  start: int = 0) -> np.ndarray:
    """Sinusoidal position embeddings ``(length, dim)`` for positions ``start, start+1, ...``.

    ``layout``: ``"interleaved"`` is the paper's ``PE_2i = sin, PE_2i+1 = cos``;
    ``"cos_sin"`` is the post's code ``[cos block | sin block]``; ``"sin_cos"`` the reverse.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    angles = np.arange(start, start + length, dtype=np.float64)[:, None] * frequencies(dim, base)[None, :]
    s, c = np.sin(angles), np.cos(angles)
    if layout == "cos_sin":
        return np.concatenate([c, s], axis=1)
    if layout == "sin_cos":
        return np.concatenate([s, c], axis=1)
    out = np.empty((length, dim))
    out[:, 0::2], out[:, 1::2] = s, c
    return out


def pe_rotation(k: float, dim: int, layout: str = "interleaved", base: float = 10000.0) -> np.ndarray:
    """The matrix ``M_k`` with ``PE(p + k) = M_k · PE(p)`` for every ``p`` (column vectors).

    Each frequency ``ω_i`` contributes a 2×2 rotation by the angle ``k·ω_i`` acting on its
    (sin, cos) pair; ``M_k`` depends on ``k`` only, not on ``p``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    w = frequencies(dim, base)
    c, s = np.cos(k * w), np.sin(k * w)
    half = dim // 2
    i = np.arange(half)
    if layout == "interleaved":
        si, ci = 2 * i, 2 * i + 1
    elif layout == "sin_cos":
        si, ci = i, half + i
    else:
        ci, si = i, half + i
    m = np.zeros((dim, dim))
    # sin(a + b) = sin a cos b + cos a sin b;  cos(a + b) = cos a cos b - sin a sin b
    m[si, si], m[si, ci] = c, s
    m[ci, si], m[ci, ci] = -s, c
    return m


# ----------------------------------------------------------------------------- data for the experiments
def order_task(n: int, length: int = 16, n_fillers: int = 18, rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic order task: filler tokens ``2..n_fillers+1`` plus tokens A and B once each.

    A = ``n_fillers + 2``, B = ``n_fillers + 3`` (0 is reserved for padding, 1 unused).
    Label 1 if A comes before B.  The multiset of tokens carries no information
    about the label, so any order-blind model stays at chance.  Returns int64
    ``(tokens (n, length), labels (n,))``.
    """
    if length < 2 or n < 1 or n_fillers < 1:
        raise ValueError("need n >= 1, length >= 2, n_fillers >= 1")
    rng = np.random.default_rng(0) if rng is None else rng
    x = rng.integers(2, n_fillers + 2, size=(n, length))
    pos = np.argsort(rng.random((n, length)), axis=1)[:, :2]      # two distinct positions
    a, b = n_fillers + 2, n_fillers + 3
    rows = np.arange(n)
    x[rows, pos[:, 0]] = a
    x[rows, pos[:, 1]] = b
    y = (pos[:, 0] < pos[:, 1]).astype(np.int64)
    return x.astype(np.int64), y
