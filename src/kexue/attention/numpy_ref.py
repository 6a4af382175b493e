"""Numpy reference for chapter 06 (attention): the specification the framework versions follow.

Chapter: ``chapters/06-attention.md``; post: https://kexue.fm/archives/4765.

Mask convention: a **boolean** array, ``True`` = keep (the query may attend to
that key), ``False`` = masked.  Masked logits are *selected away* (replaced by
``-inf``) before the softmax, so no real logit, however negative, can outweigh a
masked one, and nothing overflows in float16.  A row whose keys are **all**
masked attends uniformly to every key (all its logits are set to 0): its weights
are ``1/Tk``, finite, never NaN.  The PyTorch and Keras versions do the same
(:func:`masked_logits`).

Dtypes: the attention functions take floating-point input only (an integer array
raises a ``TypeError`` naming its dtype, in every framework) and compute in the
input's dtype; :func:`sinusoidal_position_embedding` returns numpy's default float
(float64).
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
"""The position-embedding layouts: the post's ``[cos | sin]``, the reverse, and the paper's interleaving."""


def _float_array(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    _validate.att_float_dtype(name, a.dtype)
    return a


def check_mask(mask: np.ndarray, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """Validate a boolean attention mask that must broadcast to ``shape`` (chapter 06).

    Parameters
    ----------
    mask : numpy.ndarray of bool, any shape that broadcasts to ``shape``
        ``True`` = keep (attend to this key), ``False`` = masked.
    shape : tuple of int
        The shape the mask must broadcast to, e.g. the logits' (..., Tq, Tk).
    name : str, optional
        The argument's name in error messages.

    Returns
    -------
    numpy.ndarray of bool
        The mask, unchanged in shape.

    Raises
    ------
    ValueError
        For a non-boolean dtype (0/1 floats are ambiguous: some libraries mean
        1 = keep, others 1 = masked) or a shape that does not broadcast to ``shape``.
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
    """Logits with masked entries at ``-inf`` and fully masked rows at 0 (chapter 06).

    Parameters
    ----------
    logits : numpy.ndarray of float, shape (..., Tq, Tk)
        Attention logits.
    mask : numpy.ndarray of bool, broadcastable to (..., Tq, Tk)
        ``True`` = keep; checked with :func:`check_mask`.

    Returns
    -------
    numpy.ndarray, shape (..., Tq, Tk)
        In the dtype of ``logits``: kept entries unchanged, masked ones ``-inf``; a row
        whose keys are all masked is all 0, so its softmax is uniform (never NaN).

    Raises
    ------
    TypeError
        If ``logits`` is not floating-point.
    ValueError
        If ``mask`` is not boolean or does not broadcast to ``logits``.
    """
    logits = _float_array(logits, "logits")
    m = np.broadcast_to(check_mask(mask, logits.shape), logits.shape)
    any_kept = m.any(axis=-1, keepdims=True)                     # shape: (..., Tq, 1)
    return np.where(m, logits, np.where(any_kept, -np.inf, 0.0)).astype(logits.dtype, copy=False)


def length_mask(lengths: np.ndarray, max_len: int) -> np.ndarray:
    """Key-padding mask from true lengths: ``True`` on real positions (chapter 06).

    Parameters
    ----------
    lengths : numpy.ndarray of int, shape (batch,)
        True length of each sequence, in ``[0, max_len]``.
    max_len : int
        Padded length (>= 1).

    Returns
    -------
    numpy.ndarray of bool, shape (batch, max_len)
        ``mask[b, t] = t < lengths[b]``.

    Raises
    ------
    ValueError
        If ``lengths`` is not a 1-D integer array, a length lies outside ``[0, max_len]``
        or ``max_len`` is not a positive integer.
    """
    max_len = _validate.positive_int(max_len, "max_len")
    lengths = np.asarray(lengths)
    _validate.att_lengths(lengths, max_len)
    return np.arange(max_len)[None, :] < lengths[:, None]


def causal_mask(n_query: int, n_key: int | None = None) -> np.ndarray:
    """Causal mask: query ``i`` may attend to keys ``j <= i`` (chapter 06).

    Parameters
    ----------
    n_query : int
        Number of queries (>= 1).
    n_key : int, optional
        Number of keys (>= 1); default ``n_query``.

    Returns
    -------
    numpy.ndarray of bool, shape (n_query, n_key)
        Lower-triangular, ``True`` = keep.

    Raises
    ------
    ValueError
        If a size is not a positive integer.
    """
    n_query = _validate.positive_int(n_query, "n_query")
    n_key = n_query if n_key is None else _validate.positive_int(n_key, "n_key")
    return np.tril(np.ones((n_query, n_key), dtype=bool))


def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None,
                                 scale: bool | float = True) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(q kᵀ / √d_k) v`` over the last two axes (chapter 06, eq. sdpa).

    Parameters
    ----------
    q : numpy.ndarray of float, shape (..., Tq, d_k)
        Queries.
    k : numpy.ndarray of float, shape (..., Tk, d_k)
        Keys.
    v : numpy.ndarray of float, shape (..., Tk, d_v)
        Values.
    mask : numpy.ndarray of bool, broadcastable to (..., Tq, Tk), optional
        ``True`` = keep; a query whose keys are all masked attends uniformly.
    scale : bool or float, optional
        ``True`` divides the logits by √d_k, ``False`` leaves them unscaled (the post's
        January 2018 Keras layer), a number > 0 multiplies them by that number.

    Returns
    -------
    output : numpy.ndarray, shape (..., Tq, d_v)
        The attention output.
    weights : numpy.ndarray, shape (..., Tq, Tk)
        The attention weights; each row sums to 1.

    Raises
    ------
    TypeError
        If ``q``, ``k`` or ``v`` is not floating-point.
    ValueError
        If the shapes do not fit together, ``scale`` is invalid or ``mask`` is bad
        (see :func:`check_mask`).
    """
    q, k, v = (_float_array(a, n) for a, n in ((q, "q"), (k, "k"), (v, "v")))
    scale = _validate.att_scale(scale)
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(_validate.QKV_NDIM)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(_validate.QK_DIM.format(q.shape[-1], k.shape[-1]))
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(_validate.KV_LEN.format(k.shape[-2], v.shape[-2]))
    logits = q @ np.swapaxes(k, -1, -2)                            # shape: (..., Tq, Tk)
    if scale is True:
        logits = logits / np.sqrt(q.shape[-1])
    elif scale is not False:
        logits = logits * scale
    if mask is not None:
        logits = masked_logits(logits, mask)
    w = softmax(logits, axis=-1)
    return w @ v, w


def _split_heads(x: np.ndarray, heads: int) -> np.ndarray:
    b, t, d = x.shape
    return x.reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3)      # shape: (B, h, T, dh)


def multi_head_attention(xq: np.ndarray, xk: np.ndarray, xv: np.ndarray, wq: np.ndarray, wk: np.ndarray,
                         wv: np.ndarray, heads: int, wo: np.ndarray | None = None,
                         key_mask: np.ndarray | None = None, causal: bool = False,
                         query_mask: np.ndarray | None = None, scale: bool | float = True,
                         return_weights: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The post's multi-head attention (no biases), optionally with the paper's ``W^O`` (chapter 06).

    The function form of :class:`kexue.attention.torch.MultiHeadAttention` and
    :class:`kexue.attention.keras.MultiHeadAttention` (whose weights it takes explicitly).

    Parameters
    ----------
    xq : numpy.ndarray of float, shape (B, Tq, d_q)
        Query sequence.
    xk : numpy.ndarray of float, shape (B, Tk, d_k)
        Key sequence.
    xv : numpy.ndarray of float, shape (B, Tk, d_v)
        Value sequence.
    wq, wk : numpy.ndarray, shape (d_q or d_k, heads·size_per_head)
        Query and key projections.
    wv : numpy.ndarray, shape (d_v, heads·size_per_head)
        Value projection.
    heads : int
        Number of heads (>= 1); must divide the projection width.
    wo : numpy.ndarray, shape (heads·size_per_head, d_out), optional
        The paper's output matrix; ``None`` is the post's layer (concatenated heads).
    key_mask : numpy.ndarray of bool, shape (B, Tk) or broadcastable, optional
        ``True`` on real keys.
    causal : bool, optional
        Query ``i`` sees keys ``<= i`` only.
    query_mask : numpy.ndarray of bool, shape (B, Tq) or broadcastable, optional
        Zeroes the outputs at padded queries (as the post's layer).
    scale : bool or float, optional
        As in :func:`scaled_dot_product_attention`.
    return_weights : bool, optional
        Also return the attention weights.

    Returns
    -------
    output : numpy.ndarray, shape (B, Tq, heads·size_per_head) or (B, Tq, d_out)
        The attention output (with ``wo``: projected to ``d_out``).
    weights : numpy.ndarray, shape (B, heads, Tq, Tk)
        Only with ``return_weights=True``.

    Raises
    ------
    TypeError
        If an input sequence is not floating-point.
    ValueError
        If shapes do not fit together, ``heads`` is not a positive integer dividing the
        width, or a mask is bad.
    """
    xq, xk, xv = (_float_array(a, n) for a, n in ((xq, "xq"), (xk, "xk"), (xv, "xv")))
    for name, x in (("xq", xq), ("xk", xk), ("xv", xv)):
        if x.ndim != 3:
            raise ValueError(_validate.ATT_X3D.format(name, x.shape))
    if not xq.shape[0] == xk.shape[0] == xv.shape[0]:
        raise ValueError(_validate.ATT_BATCH.format(xq.shape[0], xk.shape[0], xv.shape[0]))
    heads = _validate.positive_int(heads, "heads")
    wq, wk, wv = (np.asarray(w) for w in (wq, wk, wv))
    for name, x, w in (("wq", xq, wq), ("wk", xk, wk), ("wv", xv, wv)):
        if w.ndim != 2 or w.shape[0] != x.shape[-1]:
            raise ValueError(f"{name} must have shape ({x.shape[-1]}, heads*size_per_head), got {w.shape}")
    width = wq.shape[1]
    if wk.shape[1] != width or wv.shape[1] != width or width % heads:
        raise ValueError(f"projection widths {wq.shape[1]}, {wk.shape[1]}, {wv.shape[1]} must agree "
                         f"and be divisible by heads={heads}")
    b, tq, tk = xq.shape[0], xq.shape[1], xk.shape[1]
    q, k, v = _split_heads(xq @ wq, heads), _split_heads(xk @ wk, heads), _split_heads(xv @ wv, heads)
    mask = np.ones((b, 1, tq, tk), dtype=bool)                          # shape: (B, 1, Tq, Tk)
    if key_mask is not None:
        mask = mask & np.broadcast_to(check_mask(key_mask, (b, tk), "key_mask"), (b, tk))[:, None, None, :]
    if causal:
        mask = mask & causal_mask(tq, tk)
    out, w = scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)   # (B, h, Tq, dh), (B, h, Tq, Tk)
    out = out.transpose(0, 2, 1, 3).reshape(b, tq, width)
    if wo is not None:
        wo = np.asarray(wo)
        if wo.ndim != 2 or wo.shape[0] != width:
            raise ValueError(f"wo must have shape ({width}, d_out), got {wo.shape}")
        out = out @ wo
    if query_mask is not None:
        out = out * np.broadcast_to(check_mask(query_mask, (b, tq), "query_mask"), (b, tq))[:, :, None]
    return (out, w) if return_weights else out


def frequencies(dim: int, base: float = 10000.0) -> np.ndarray:
    """The ``dim/2`` angular frequencies ``ω_i = base^(-2i/dim)`` of the position embedding (chapter 06).

    Parameters
    ----------
    dim : int
        Embedding size, a positive even integer.
    base : float, optional
        The base of the geometric progression (> 0).

    Returns
    -------
    numpy.ndarray of float64, shape (dim // 2,)
        ``ω_0 = 1 > ω_1 > ...`` for ``base > 1``.

    Raises
    ------
    ValueError
        If ``dim`` is not a positive even integer or ``base`` is not a finite number > 0.
    """
    _validate.att_position_args(0, dim, LAYOUTS[0], base, 0, LAYOUTS)
    return float(base) ** (-2.0 * np.arange(dim // 2) / dim)


def sinusoidal_position_embedding(length: int, dim: int, layout: str = "cos_sin", base: float = 10000.0,
                                  start: int = 0) -> np.ndarray:
    """Sinusoidal position embeddings for positions ``start, start+1, ...`` (chapter 06, eq. pe).

    Parameters
    ----------
    length : int
        Number of positions (>= 0).
    dim : int
        Embedding size, a positive even integer.
    layout : {"cos_sin", "sin_cos", "interleaved"}, optional
        ``"interleaved"`` is the paper's ``PE_2i = sin, PE_2i+1 = cos``; ``"cos_sin"`` is
        the post's code ``[cos block | sin block]``; ``"sin_cos"`` the reverse.
    base : float, optional
        Frequencies ``base^(-2i/dim)`` (> 0).
    start : int, optional
        The first position.

    Returns
    -------
    numpy.ndarray of float64, shape (length, dim)
        Computed in float64 (numpy's default float).

    Raises
    ------
    ValueError
        If an argument is out of range (see the messages).
    """
    _validate.att_position_args(length, dim, layout, base, start, LAYOUTS)
    angles = np.arange(start, start + length, dtype=np.float64)[:, None] * frequencies(dim, base)[None, :]
    s, c = np.sin(angles), np.cos(angles)                              # shape: (length, dim/2)
    if layout == "cos_sin":
        return np.concatenate([c, s], axis=1)
    if layout == "sin_cos":
        return np.concatenate([s, c], axis=1)
    out = np.empty((length, dim))
    out[:, 0::2], out[:, 1::2] = s, c
    return out


def pe_rotation(k: float, dim: int, layout: str = "interleaved", base: float = 10000.0) -> np.ndarray:
    """The matrix ``M_k`` with ``PE(p + k) = M_k · PE(p)`` for every ``p`` (chapter 06).

    Each frequency ``ω_i`` contributes a 2×2 rotation by the angle ``k·ω_i`` acting on its
    (sin, cos) pair; ``M_k`` depends on ``k`` only, not on ``p``.

    Parameters
    ----------
    k : float
        The offset.
    dim : int
        Embedding size, a positive even integer.
    layout : {"interleaved", "cos_sin", "sin_cos"}, optional
        As in :func:`sinusoidal_position_embedding`.
    base : float, optional
        As in :func:`sinusoidal_position_embedding`.

    Returns
    -------
    numpy.ndarray of float64, shape (dim, dim)
        Acts on column vectors: ``PE[p + k] = M_k @ PE[p]``.

    Raises
    ------
    ValueError
        If ``layout``, ``dim`` or ``base`` is invalid.
    """
    _validate.att_position_args(0, dim, layout, base, 0, LAYOUTS)
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
    """Synthetic order task of chapter 06: is token A before token B?

    Filler tokens ``2..n_fillers+1`` plus tokens A and B once each:
    A = ``n_fillers + 2``, B = ``n_fillers + 3`` (0 is reserved for padding, 1 unused).
    Label 1 if A comes before B.  The multiset of tokens carries no information
    about the label, so any order-blind model stays at chance.

    Parameters
    ----------
    n : int
        Number of sequences (>= 1).
    length : int, optional
        Tokens per sequence (>= 2).
    n_fillers : int, optional
        Number of filler kinds (>= 1).
    rng : numpy.random.Generator, optional
        Source of randomness; default ``np.random.default_rng(0)``.

    Returns
    -------
    tokens : numpy.ndarray of int64, shape (n, length)
        Token ids in ``[2, n_fillers + 3]``.
    labels : numpy.ndarray of int64, shape (n,)
        1 if A precedes B, else 0.

    Raises
    ------
    ValueError
        If a size is out of range.
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
