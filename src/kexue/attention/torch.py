"""PyTorch attention layers for chapter 06, following :mod:`kexue.attention.numpy_ref`.

Chapter: ``chapters/06-attention.md``; post: https://kexue.fm/archives/4765.
Masks are boolean with ``True`` = keep (the opposite of ``torch.nn.MultiheadAttention``'s
``key_padding_mask``, where ``True`` means "ignore").  Every function keeps its tensors on
the device of its input; a value check that must read a tensor is skipped on ``meta``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue import _validate
from kexue.attention.numpy_ref import LAYOUTS

__all__ = ["check_mask", "masked_logits", "length_mask", "causal_mask", "scaled_dot_product_attention",
           "MultiHeadAttention", "sinusoidal_position_embedding", "PositionEmbedding", "AttentionClassifier"]


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _float_tensor(x: torch.Tensor, name: str) -> torch.Tensor:
    _validate.torch_tensor(x, name)
    _validate.att_float_dtype(name, _dtype_name(x.dtype))
    return x


def check_mask(mask: torch.Tensor, shape: tuple[int, ...], name: str = "mask") -> torch.Tensor:
    """Validate a boolean attention mask that must broadcast to ``shape`` (chapter 06).

    Parameters
    ----------
    mask : Tensor of bool, any shape that broadcasts to ``shape``
        ``True`` = keep (attend to this key), ``False`` = masked.
    shape : tuple of int
        The shape the mask must broadcast to, e.g. the logits' (..., Tq, Tk).
    name : str, optional
        The argument's name in error messages.

    Returns
    -------
    Tensor of bool
        The mask, unchanged in shape.

    Raises
    ------
    TypeError
        If ``mask`` is not a tensor.
    ValueError
        For a non-boolean dtype (0/1 floats are ambiguous: some libraries mean
        1 = keep, others 1 = masked) or a shape that does not broadcast to ``shape``.
    """
    _validate.torch_tensor(mask, name)
    if mask.dtype != torch.bool:
        raise ValueError(_validate.MASK_BOOL.format(name, _dtype_name(mask.dtype)))
    try:
        ok = mask.dim() <= len(shape) and torch.broadcast_shapes(mask.shape, shape) == torch.Size(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(_validate.MASK_SHAPE.format(name, tuple(mask.shape), tuple(shape)))
    return mask


def masked_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Logits with masked entries at ``-inf`` and fully masked rows at 0 (chapter 06).

    Parameters
    ----------
    logits : Tensor of float, shape (..., Tq, Tk)
        Attention logits.
    mask : Tensor of bool, broadcastable to (..., Tq, Tk)
        ``True`` = keep; checked with :func:`check_mask`.

    Returns
    -------
    Tensor, shape (..., Tq, Tk)
        In the dtype of ``logits``: kept entries unchanged, masked ones ``-inf``; a row
        whose keys are all masked is all 0, so its softmax is uniform (never NaN).

    Raises
    ------
    TypeError
        If ``logits`` is not a floating-point tensor.
    ValueError
        If ``mask`` is not boolean or does not broadcast to ``logits``.
    """
    _float_tensor(logits, "logits")
    check_mask(mask, tuple(logits.shape))
    any_kept = mask.any(dim=-1, keepdim=True)                                   # shape: (..., Tq, 1)
    neg_inf = torch.tensor(float("-inf"), dtype=logits.dtype, device=logits.device)
    zero = torch.tensor(0.0, dtype=logits.dtype, device=logits.device)
    return torch.where(mask, logits, torch.where(any_kept, neg_inf, zero))


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Key-padding mask from true lengths: ``True`` on real positions (chapter 06).

    Parameters
    ----------
    lengths : Tensor of int, shape (batch,)
        True length of each sequence, in ``[0, max_len]``.
    max_len : int
        Padded length (>= 1).

    Returns
    -------
    Tensor of bool, shape (batch, max_len)
        ``mask[b, t] = t < lengths[b]``, on the device of ``lengths``.

    Raises
    ------
    TypeError
        If ``lengths`` is not a tensor.
    ValueError
        If ``lengths`` is not a 1-D integer tensor, a length lies outside ``[0, max_len]``
        or ``max_len`` is not a positive integer.
    """
    max_len = _validate.positive_int(max_len, "max_len")
    _validate.torch_tensor(lengths, "lengths")
    if lengths.dim() != 1 or lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError(_validate.ATT_LENGTHS.format(tuple(lengths.shape), _dtype_name(lengths.dtype)))
    if not lengths.is_meta:
        _validate.att_lengths(lengths.detach().cpu().numpy(), max_len)
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def causal_mask(n_query: int, n_key: int | None = None, *, device: str | torch.device | None = None
                ) -> torch.Tensor:
    """Causal mask: query ``i`` may attend to keys ``j <= i`` (chapter 06).

    Parameters
    ----------
    n_query : int
        Number of queries (>= 1).
    n_key : int, optional
        Number of keys (>= 1); default ``n_query``.
    device : str or torch.device, optional
        Where to build the mask (default: torch's default device).

    Returns
    -------
    Tensor of bool, shape (n_query, n_key)
        Lower-triangular, ``True`` = keep.

    Raises
    ------
    ValueError
        If a size is not a positive integer.
    """
    n_query = _validate.positive_int(n_query, "n_query")
    n_key = n_query if n_key is None else _validate.positive_int(n_key, "n_key")
    return torch.ones(n_query, n_key, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, scale: bool | float = True
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q kᵀ / √d_k) v`` written out: matmul, masked selection, softmax (chapter 06, eq. sdpa).

    Parameters
    ----------
    q : Tensor of float, shape (..., Tq, d_k)
        Queries.
    k : Tensor of float, shape (..., Tk, d_k)
        Keys.
    v : Tensor of float, shape (..., Tk, d_v)
        Values.
    mask : Tensor of bool, broadcastable to (..., Tq, Tk), optional
        ``True`` = keep; a query whose keys are all masked attends uniformly.
    scale : bool or float, optional
        ``True`` divides the logits by √d_k, ``False`` leaves them unscaled (the post's
        January 2018 Keras layer), a number > 0 multiplies them by that number.

    Returns
    -------
    output : Tensor, shape (..., Tq, d_v)
        The attention output.
    weights : Tensor, shape (..., Tq, Tk)
        The attention weights; each row sums to 1.

    Raises
    ------
    TypeError
        If ``q``, ``k`` or ``v`` is not a floating-point tensor.
    ValueError
        If the shapes do not fit together, ``scale`` is invalid or ``mask`` is bad
        (see :func:`check_mask`).
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        _float_tensor(t, name)
    scale = _validate.att_scale(scale)
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(_validate.QKV_NDIM)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(_validate.QK_DIM.format(q.shape[-1], k.shape[-1]))
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(_validate.KV_LEN.format(k.shape[-2], v.shape[-2]))
    logits = torch.matmul(q, k.transpose(-1, -2))                              # shape: (..., Tq, Tk)
    if scale is True:
        logits = logits / math.sqrt(q.shape[-1])
    elif scale is not False:
        logits = logits * scale
    if mask is not None:
        logits = masked_logits(logits, mask)
    w = torch.softmax(logits, dim=-1)
    return torch.matmul(w, v), w


class MultiHeadAttention(nn.Module):
    """The post's multi-head attention: ``heads`` × ``size_per_head``, no biases (chapter 06).

    ``out_dim=None`` is the post's layer (the heads are concatenated, no ``W^O``);
    an integer adds the paper's output projection ``W^O`` to ``out_dim`` features.
    ``scale=False`` runs the unscaled variant of the post's January 2018 Keras code.
    Weights are Glorot-uniform as in the post.  The numpy reference is
    :func:`kexue.attention.numpy_ref.multi_head_attention`.

    Parameters
    ----------
    heads : int
        Number of heads (>= 1).
    size_per_head : int
        Features per head (>= 1).
    in_dim : int or tuple of (int, int, int)
        Input features of q, k and v (one int: the same for all three).  PyTorch
        needs them at construction; the Keras twin reads them in ``build``.
    out_dim : int, optional
        Features of the output projection ``W^O``; ``None``: no projection.
    scale : bool or float, optional
        As in :func:`scaled_dot_product_attention`.
    fused : bool, optional
        ``True`` (the default) computes the core with ``F.scaled_dot_product_attention``
        (same maths, faster); ``False``, or ``return_weights=True`` in :meth:`forward`,
        uses the explicit :func:`scaled_dot_product_attention`.

    Raises
    ------
    ValueError
        If a size is not a positive integer or ``scale`` is invalid.
    """

    def __init__(self, heads: int, size_per_head: int, in_dim: int | tuple[int, int, int],
                 out_dim: int | None = None, scale: bool | float = True, *, fused: bool = True) -> None:
        super().__init__()
        heads = _validate.positive_int(heads, "heads")
        size_per_head = _validate.positive_int(size_per_head, "size_per_head")
        dims = (in_dim, in_dim, in_dim) if not isinstance(in_dim, (tuple, list)) else tuple(in_dim)
        if len(dims) != 3:
            _validate.positive_int(in_dim, "in_dim")
        dq, dk, dv = (_validate.positive_int(d, "in_dim") for d in dims)
        if out_dim is not None:
            out_dim = _validate.positive_int(out_dim, "out_dim")
        self.heads, self.size_per_head, self.out_dim = heads, size_per_head, out_dim
        self.scale, self.fused = _validate.att_scale(scale), bool(fused)
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
        return x.view(b, t, self.heads, self.size_per_head).transpose(1, 2)     # shape: (B, h, T, dh)

    def forward(self, q: torch.Tensor, k: torch.Tensor | None = None, v: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None, causal: bool = False,
                query_mask: torch.Tensor | None = None, return_weights: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``q`` to ``k``/``v`` (chapter 06); ``k`` and ``v`` default to ``q`` (self-attention).

        Parameters
        ----------
        q : Tensor of float, shape (B, Tq, d_q)
            Query sequence.
        k : Tensor of float, shape (B, Tk, d_k), optional
            Key sequence; default ``q``.
        v : Tensor of float, shape (B, Tk, d_v), optional
            Value sequence; default ``k``.
        key_mask : Tensor of bool, shape (B, Tk) or broadcastable, optional
            ``True`` on real keys.  A query whose keys are all masked attends uniformly
            to every key, on both cores.
        causal : bool, optional
            Query ``i`` sees keys ``<= i`` only.
        query_mask : Tensor of bool, shape (B, Tq) or broadcastable, optional
            Zeroes the outputs at padded queries.
        return_weights : bool, optional
            Also return the attention weights (uses the explicit core).

        Returns
        -------
        output : Tensor, shape (B, Tq, heads·size_per_head) or (B, Tq, out_dim)
            The attention output, on the device of ``q``.
        weights : Tensor, shape (B, heads, Tq, Tk)
            Only with ``return_weights=True``.

        Raises
        ------
        TypeError
            If an input is not a floating-point tensor.
        ValueError
            If shapes do not fit the layer or each other, or a mask is bad.
        """
        k = q if k is None else k
        v = k if v is None else v
        for name, t, layer in (("q", q, self.q_proj), ("k", k, self.k_proj), ("v", v, self.v_proj)):
            _float_tensor(t, name)
            if t.dim() != 3:
                raise ValueError(_validate.ATT_X3D.format(name, tuple(t.shape)))
            if t.shape[-1] != layer.in_features:
                raise ValueError(_validate.ATT_FEATURES.format(name, t.shape[-1], layer.in_features))
        if not q.shape[0] == k.shape[0] == v.shape[0]:
            raise ValueError(_validate.ATT_BATCH.format(q.shape[0], k.shape[0], v.shape[0]))
        if k.shape[1] != v.shape[1]:
            raise ValueError(_validate.KV_LEN.format(k.shape[1], v.shape[1]))
        b, tq, tk = q.shape[0], q.shape[1], k.shape[1]
        Q, K, V = self._split(self.q_proj(q)), self._split(self.k_proj(k)), self._split(self.v_proj(v))
        mask = None
        if key_mask is not None:
            mask = check_mask(key_mask, (b, tk), "key_mask").expand(b, tk)[:, None, None, :]  # (B, 1, 1, Tk)
        if causal:
            c = causal_mask(tq, tk, device=q.device)                                         # (Tq, Tk)
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
            out = F.scaled_dot_product_attention(Q, K, V, attn_mask=bias, scale=s)   # (B, h, Tq, dh)
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
        """Copy weights in the numpy reference's layout into the layer (chapter 06).

        Parameters
        ----------
        wq, wk, wv : numpy.ndarray, shape (d_in, heads·size_per_head)
            Projections of q, k, v (``d_in`` of each input).
        wo : numpy.ndarray, shape (heads·size_per_head, out_dim), optional
            The output projection; ``None`` leaves ``W^O`` as it is.

        Raises
        ------
        ValueError
            If a shape does not fit the layer, or ``wo`` is given to a layer without ``W^O``.
        """
        if wo is not None and self.o_proj is None:
            raise ValueError(_validate.ATT_NO_WO)
        with torch.no_grad():
            for name, layer, w in (("wq", self.q_proj, wq), ("wk", self.k_proj, wk), ("wv", self.v_proj, wv),
                                   ("wo", self.o_proj, wo)):
                if layer is None or w is None:
                    continue
                expected = (layer.in_features, layer.out_features)
                if tuple(np.shape(w)) != expected:
                    raise ValueError(_validate.ATT_WEIGHT_SHAPE.format(name, tuple(np.shape(w)), expected))
                layer.weight.copy_(torch.as_tensor(np.asarray(w).T, dtype=layer.weight.dtype,
                                                   device=layer.weight.device))


def sinusoidal_position_embedding(length: int, dim: int, layout: str = "cos_sin", base: float = 10000.0,
                                  start: int = 0, *, dtype: torch.dtype | None = None,
                                  device: str | torch.device | None = None) -> torch.Tensor:
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
    dtype : torch.dtype, optional
        A floating dtype; ``None``: torch's default float (``torch.get_default_dtype()``).
    device : str or torch.device, optional
        Where to build the table (default: torch's default device).

    Returns
    -------
    Tensor, shape (length, dim)
        Computed in float64, returned in ``dtype``.

    Raises
    ------
    TypeError
        If ``dtype`` is not a floating dtype.
    ValueError
        If an argument is out of range (see the messages).
    """
    _validate.att_position_args(length, dim, layout, base, start, LAYOUTS)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(_validate.ATT_FLOAT.format("dtype", dtype))
    pos = torch.arange(start, start + length, dtype=torch.float64, device=device)[:, None]
    freq = torch.pow(torch.tensor(float(base), dtype=torch.float64, device=device),
                     -2.0 * torch.arange(dim // 2, dtype=torch.float64, device=device) / dim)
    ang = pos * freq[None, :]                                                 # shape: (length, dim/2)
    s, c = torch.sin(ang), torch.cos(ang)
    if layout == "cos_sin":
        pe = torch.cat([c, s], dim=1)
    elif layout == "sin_cos":
        pe = torch.cat([s, c], dim=1)
    else:
        pe = torch.stack([s, c], dim=-1).reshape(length, dim)
    return pe.to(dtype)


def _position_layer_args(mode: str, size: int | None, layout: str) -> int | None:
    if mode not in ("sum", "concat"):
        raise ValueError(_validate.ATT_MODE.format(mode))
    if layout not in LAYOUTS:
        raise ValueError(_validate.ATT_LAYOUT.format(LAYOUTS, layout))
    if mode == "concat" and size is None:
        raise ValueError(_validate.ATT_CONCAT_SIZE.format(size))
    if size is not None:
        _validate.att_position_args(0, size, layout, 10000.0, 0, LAYOUTS)
    return size


class PositionEmbedding(nn.Module):
    """Add (``mode="sum"``) or prepend (``mode="concat"``) sinusoidal position embeddings (chapter 06).

    Parameters
    ----------
    mode : {"sum", "concat"}, optional
        ``"sum"`` adds the table to the input (the post's default); ``"concat"``
        prepends ``size`` features.
    size : int, optional
        Embedding size, a positive even integer; required for ``"concat"``; for
        ``"sum"`` it must equal the input's features (``None``: take them from the input).
    layout : {"cos_sin", "sin_cos", "interleaved"}, optional
        As in :func:`sinusoidal_position_embedding`.

    Raises
    ------
    ValueError
        If ``mode``, ``size`` or ``layout`` is invalid.
    """

    def __init__(self, mode: str = "sum", size: int | None = None, layout: str = "cos_sin") -> None:
        super().__init__()
        self.mode, self.size, self.layout = mode, _position_layer_args(mode, size, layout), layout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add or prepend the embeddings of positions ``0..T-1`` (chapter 06).

        Parameters
        ----------
        x : Tensor of float, shape (B, T, d)
            The input sequence.

        Returns
        -------
        Tensor, shape (B, T, d) for ``"sum"``, (B, T, size + d) for ``"concat"``
            In the dtype and on the device of ``x``.

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point tensor.
        ValueError
            If ``x`` is not 3-D or (``"sum"``) its features differ from ``size``.
        """
        _float_tensor(x, "x")
        if x.dim() != 3:
            raise ValueError(_validate.ATT_X3D.format("x", tuple(x.shape)))
        b, t, d = x.shape
        if self.mode == "sum":
            if self.size is not None and self.size != d:
                raise ValueError(_validate.ATT_SUM_SIZE.format(d, self.size))
            return x + sinusoidal_position_embedding(t, d, self.layout, dtype=x.dtype, device=x.device)
        pe = sinusoidal_position_embedding(t, self.size, self.layout, dtype=x.dtype, device=x.device)
        return torch.cat([pe.expand(b, t, self.size), x], dim=-1)


class AttentionClassifier(nn.Module):
    """The post's IMDB model (chapter 06): Embedding → [position embedding] → attention → average pool → Dense.

    Padding (token id 0) is masked in the attention keys and excluded from the average.

    Parameters
    ----------
    vocab_size : int
        Number of token ids (ids lie in ``[0, vocab_size)``, 0 = padding).
    dim : int, optional
        Embedding size (even when ``position=True``).
    heads, size_per_head : int, optional
        As in :class:`MultiHeadAttention`.
    position : bool, optional
        Add sinusoidal position embeddings (``"sum"`` mode).
    scale : bool or float, optional
        As in :class:`MultiHeadAttention`.
    dropout : float, optional
        Dropout before the output layer, in ``[0, 1)``.
    fused : bool, optional
        As in :class:`MultiHeadAttention`.

    Raises
    ------
    ValueError
        If a size is not a positive integer or ``dropout`` is outside ``[0, 1)``.
    """

    def __init__(self, vocab_size: int, dim: int = 128, heads: int = 8, size_per_head: int = 16,
                 position: bool = True, scale: bool | float = True, dropout: float = 0.5, *,
                 fused: bool = True) -> None:
        super().__init__()
        vocab_size = _validate.positive_int(vocab_size, "vocab_size")
        dim = _validate.positive_int(dim, "dim")
        if isinstance(dropout, bool) or not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ValueError(_validate.DROPOUT.format(dropout))
        self.embed = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.embed.weight, -0.05, 0.05)     # Keras' Embedding default
        self.position = PositionEmbedding("sum", size=dim) if position else None
        self.attn = MultiHeadAttention(heads, size_per_head, dim, scale=scale, fused=fused)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(heads * size_per_head, 1)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _check_tokens(self, tokens: torch.Tensor) -> None:
        _validate.torch_tensor(tokens, "tokens")
        if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool or tokens.dim() != 2:
            raise ValueError(_validate.ATT_IDS.format(_dtype_name(tokens.dtype), tuple(tokens.shape)))
        if not tokens.is_meta and tokens.numel():
            lo, hi = int(tokens.min()), int(tokens.max())
            if lo < 0 or hi >= self.embed.num_embeddings:
                raise ValueError(_validate.ATT_IDS_RANGE.format(self.embed.num_embeddings, lo, hi))

    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        """The average over real positions of the attention output (chapter 06).

        Parameters
        ----------
        tokens : Tensor of int, shape (B, T)
            Token ids, 0 = padding.

        Returns
        -------
        Tensor, shape (B, heads·size_per_head)
            A row with no real token pools to zeros.

        Raises
        ------
        TypeError
            If ``tokens`` is not a tensor.
        ValueError
            If ``tokens`` is not a 2-D integer tensor of ids in ``[0, vocab_size)``.
        """
        self._check_tokens(tokens)
        mask = tokens != 0                                                  # shape: (B, T)
        x = self.embed(tokens)                                              # shape: (B, T, dim)
        if self.position is not None:
            x = self.position(x)
        h = self.attn(x, key_mask=mask)                                     # shape: (B, T, width)
        m = mask[:, :, None].to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """One logit per sequence (chapter 06).

        Parameters
        ----------
        tokens : Tensor of int, shape (B, T)
            Token ids, 0 = padding.

        Returns
        -------
        Tensor, shape (B,)
            The logit of the positive class.

        Raises
        ------
        TypeError
            If ``tokens`` is not a tensor.
        ValueError
            If ``tokens`` is not a 2-D integer tensor of ids in ``[0, vocab_size)``.
        """
        return self.out(self.drop(self.pooled(tokens))).squeeze(-1)
