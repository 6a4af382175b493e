"""Keras 3 attention layers for chapter 06, following :mod:`kexue.attention.numpy_ref`.

Chapter: ``chapters/06-attention.md``; post: https://kexue.fm/archives/4765.
The post's Keras 2 code used ``K.batch_dot`` and friends; this port uses ``keras.ops``.
Masks are boolean with ``True`` = keep (as ``keras.layers.MultiHeadAttention``'s ``attention_mask``).
The layers are registered as Keras serializables (package ``"kexue"``), so a model that
contains them saves to and loads from a ``.keras`` file.  Values are checked when they are
known (eager calls); inside a traced training step only shapes and dtypes are checked.
"""
from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from kexue import _validate
from kexue.attention.numpy_ref import LAYOUTS

__all__ = ["check_mask", "masked_logits", "length_mask", "causal_mask", "scaled_dot_product_attention",
           "MultiHeadAttention", "sinusoidal_position_embedding", "PositionEmbedding"]

Tensor = Any
"""A Keras tensor, a backend tensor or a numpy array."""

_SEPARATE_QKV = "pass q, k and v as separate arguments: layer(q, k, v), not a list"


def _dtype(x: Tensor) -> str:
    dtype = getattr(x, "dtype", None)
    return keras.backend.standardize_dtype(np.asarray(x).dtype if dtype is None else dtype)


def _float_tensor(x: Tensor, name: str) -> Tensor:
    _validate.att_float_dtype(name, _dtype(x))
    return x


def _static_shape(x: Tensor) -> tuple:
    shape = getattr(x, "shape", None)
    return tuple(np.shape(x) if shape is None else shape)


def check_mask(mask: Tensor, shape: tuple[int | None, ...], name: str = "mask") -> Tensor:
    """Validate a boolean attention mask that must broadcast to ``shape`` (chapter 06).

    Parameters
    ----------
    mask : Tensor of bool, any shape that broadcasts to ``shape``
        ``True`` = keep (attend to this key), ``False`` = masked.
    shape : tuple of int or None
        The shape the mask must broadcast to, e.g. the logits' (..., Tq, Tk); ``None``
        marks a size unknown while tracing (not checked).
    name : str, optional
        The argument's name in error messages.

    Returns
    -------
    Tensor of bool
        The mask, unchanged in shape.

    Raises
    ------
    ValueError
        For a non-boolean dtype (0/1 floats are ambiguous: some libraries mean
        1 = keep, others 1 = masked) or a shape that does not broadcast to ``shape``.
    """
    if mask is None or not hasattr(mask, "dtype"):
        mask = np.asarray(mask)
    dtype = _dtype(mask)
    if dtype != "bool":
        raise ValueError(_validate.MASK_BOOL.format(name, dtype))
    mshape = _static_shape(mask)
    ok = len(mshape) <= len(shape) and all(
        a is None or b is None or a == b or a == 1 for a, b in zip(mshape[::-1], tuple(shape)[::-1]))
    if not ok:
        raise ValueError(_validate.MASK_SHAPE.format(name, mshape, tuple(shape)))
    return mask


def masked_logits(logits: Tensor, mask: Tensor) -> Tensor:
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
        If ``logits`` is not floating-point.
    ValueError
        If ``mask`` is not boolean or does not broadcast to ``logits``.
    """
    _float_tensor(logits, "logits")
    mask = check_mask(mask, _static_shape(logits))
    any_kept = ops.any(mask, axis=-1, keepdims=True)                   # shape: (..., Tq, 1)
    dtype = _dtype(logits)
    neg_inf = ops.cast(float("-inf"), dtype)
    return ops.where(mask, logits, ops.where(any_kept, neg_inf, ops.cast(0.0, dtype)))


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
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
        ``mask[b, t] = t < lengths[b]``.

    Raises
    ------
    ValueError
        If ``lengths`` is not a 1-D integer array, a length lies outside ``[0, max_len]``
        or ``max_len`` is not a positive integer.
    """
    max_len = _validate.positive_int(max_len, "max_len")
    if not hasattr(lengths, "dtype"):
        lengths = np.asarray(lengths)
    dtype, shape = _dtype(lengths), _static_shape(lengths)
    if len(shape) != 1 or not dtype.startswith(("int", "uint")):
        raise ValueError(_validate.ATT_LENGTHS.format(shape, dtype))
    value = _validate.keras_concrete(lengths)
    if value is not None:
        _validate.att_lengths(value, max_len)
    return ops.arange(max_len)[None, :] < ops.cast(lengths, "int32")[:, None]


def causal_mask(n_query: int | Tensor, n_key: int | Tensor | None = None) -> Tensor:
    """Causal mask: query ``i`` may attend to keys ``j <= i`` (chapter 06).

    Parameters
    ----------
    n_query : int
        Number of queries (>= 1); a scalar tensor while tracing.
    n_key : int, optional
        Number of keys (>= 1); default ``n_query``.

    Returns
    -------
    Tensor of bool, shape (n_query, n_key)
        Lower-triangular, ``True`` = keep.

    Raises
    ------
    ValueError
        If a size given as a Python integer is not positive.
    """
    def size(n: int | Tensor, name: str) -> int | Tensor:
        return n if hasattr(n, "dtype") and not isinstance(n, np.integer) else _validate.positive_int(n, name)

    n_query = size(n_query, "n_query")
    n_key = n_query if n_key is None else size(n_key, "n_key")
    return ops.arange(n_query)[:, None] >= ops.arange(n_key)[None, :]


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None,
                                 scale: bool | float = True) -> tuple[Tensor, Tensor]:
    """``softmax(q kᵀ / √d_k) v`` with ``keras.ops`` (chapter 06, eq. sdpa).

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
        If ``q``, ``k`` or ``v`` is not floating-point.
    ValueError
        If the shapes do not fit together, ``scale`` is invalid or ``mask`` is bad
        (see :func:`check_mask`).
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        _float_tensor(t, name)
    scale = _validate.att_scale(scale)
    qs, ks, vs = _static_shape(q), _static_shape(k), _static_shape(v)
    if len(qs) < 2 or len(ks) < 2 or len(vs) < 2:
        raise ValueError(_validate.QKV_NDIM)
    if None not in (qs[-1], ks[-1]) and qs[-1] != ks[-1]:
        raise ValueError(_validate.QK_DIM.format(qs[-1], ks[-1]))
    if None not in (ks[-2], vs[-2]) and ks[-2] != vs[-2]:
        raise ValueError(_validate.KV_LEN.format(ks[-2], vs[-2]))
    logits = ops.matmul(q, ops.swapaxes(k, -1, -2))                     # shape: (..., Tq, Tk)
    if scale is True:
        logits = logits / math.sqrt(qs[-1])
    elif scale is not False:
        logits = logits * scale
    if mask is not None:
        logits = masked_logits(logits, mask)
    w = ops.softmax(logits, axis=-1)
    return ops.matmul(w, v), w


@keras.saving.register_keras_serializable(package="kexue")
class MultiHeadAttention(keras.layers.Layer):
    """The post's multi-head attention: ``heads`` × ``size_per_head``, no biases (chapter 06).

    ``out_dim=None`` concatenates the heads (the post's layer, no ``W^O``); an integer adds the
    paper's output projection.  ``scale=False`` is the unscaled January 2018 variant.  Weights
    are Glorot-uniform, created in :meth:`build` from the input sizes.  The numpy reference
    is :func:`kexue.attention.numpy_ref.multi_head_attention`.

    Parameters
    ----------
    heads : int
        Number of heads (>= 1).
    size_per_head : int
        Features per head (>= 1).
    out_dim : int, optional
        Features of the output projection ``W^O``; ``None``: no projection.
    scale : bool or float, optional
        As in :func:`scaled_dot_product_attention`.
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Raises
    ------
    ValueError
        If a size is not a positive integer or ``scale`` is invalid.
    """

    def __init__(self, heads: int, size_per_head: int, out_dim: int | None = None, scale: bool | float = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heads = _validate.positive_int(heads, "heads")
        self.size_per_head = _validate.positive_int(size_per_head, "size_per_head")
        self.out_dim = None if out_dim is None else _validate.positive_int(out_dim, "out_dim")
        self.scale = _validate.att_scale(scale)
        self.wo = None

    def build(self, q_shape: tuple, k_shape: tuple | None = None, v_shape: tuple | None = None) -> None:
        """Create ``wq``, ``wk``, ``wv`` (d_in, heads·size_per_head) and ``wo`` (chapter 06).

        Parameters
        ----------
        q_shape : tuple, (B, Tq, d_q)
            Shape of the queries.
        k_shape : tuple, (B, Tk, d_k), optional
            Shape of the keys; default ``q_shape``.
        v_shape : tuple, (B, Tk, d_v), optional
            Shape of the values; default ``k_shape``.

        Raises
        ------
        TypeError
            If the layer is called with a list ``[q, k, v]`` instead of three arguments.
        """
        if q_shape is not None and len(q_shape) and isinstance(q_shape[0], (list, tuple)):
            raise TypeError(_SEPARATE_QKV)
        k_shape = q_shape if k_shape is None else k_shape
        v_shape = k_shape if v_shape is None else v_shape
        width = self.heads * self.size_per_head
        self.wq, self.wk, self.wv = (self.add_weight(shape=(int(s[-1]), width), initializer="glorot_uniform",
                                                     name=n)
                                     for n, s in zip(("wq", "wk", "wv"), (q_shape, k_shape, v_shape)))
        if self.out_dim is not None:
            self.wo = self.add_weight(shape=(width, self.out_dim), initializer="glorot_uniform", name="wo")

    def _split(self, x: Tensor) -> Tensor:
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (b, t, self.heads, self.size_per_head)), (0, 2, 1, 3))

    def call(self, q: Tensor, k: Tensor | None = None, v: Tensor | None = None, key_mask: Tensor | None = None,
             causal: bool = False, query_mask: Tensor | None = None, return_weights: bool = False
             ) -> Tensor | tuple[Tensor, Tensor]:
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
            to every key.
        causal : bool, optional
            Query ``i`` sees keys ``<= i`` only.
        query_mask : Tensor of bool, shape (B, Tq) or broadcastable, optional
            Zeroes the outputs at padded queries.
        return_weights : bool, optional
            Also return the attention weights.

        Returns
        -------
        output : Tensor, shape (B, Tq, heads·size_per_head) or (B, Tq, out_dim)
            The attention output.
        weights : Tensor, shape (B, heads, Tq, Tk)
            Only with ``return_weights=True``.

        Raises
        ------
        TypeError
            If an input is not floating-point, or a list is passed as ``q``.
        ValueError
            If shapes do not fit the layer or each other, or a mask is bad.
        """
        if isinstance(q, (list, tuple)):
            raise TypeError(_SEPARATE_QKV)
        k = q if k is None else k
        v = k if v is None else v
        shapes = {}
        for name, t, w in (("q", q, self.wq), ("k", k, self.wk), ("v", v, self.wv)):
            _float_tensor(t, name)
            s = shapes[name] = _static_shape(t)
            if len(s) != 3:
                raise ValueError(_validate.ATT_X3D.format(name, s))
            if s[-1] is not None and s[-1] != w.shape[0]:
                raise ValueError(_validate.ATT_FEATURES.format(name, s[-1], w.shape[0]))
        bq, bk, bv = (shapes[n][0] for n in "qkv")
        if None not in (bq, bk, bv) and not bq == bk == bv:
            raise ValueError(_validate.ATT_BATCH.format(bq, bk, bv))
        if None not in (shapes["k"][1], shapes["v"][1]) and shapes["k"][1] != shapes["v"][1]:
            raise ValueError(_validate.KV_LEN.format(shapes["k"][1], shapes["v"][1]))
        b, tq, tk = ops.shape(q)[0], ops.shape(q)[1], ops.shape(k)[1]
        Q, K, V = (self._split(ops.matmul(x, w)) for x, w in ((q, self.wq), (k, self.wk), (v, self.wv)))
        mask = None                                                       # shape: (B or 1, 1, Tq or 1, Tk)
        if key_mask is not None:
            km = check_mask(key_mask, (shapes["q"][0], shapes["k"][1]), "key_mask")
            mask = ops.broadcast_to(km, (b, tk))[:, None, None, :]
        if causal:
            c = causal_mask(tq, tk)
            mask = c if mask is None else ops.logical_and(mask, c)
        out, w = scaled_dot_product_attention(Q, K, V, mask=mask, scale=self.scale)   # (B, h, Tq, dh)
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (b, tq, self.heads * self.size_per_head))
        if self.wo is not None:
            out = ops.matmul(out, self.wo)
        if query_mask is not None:
            qm = check_mask(query_mask, shapes["q"][:2], "query_mask")
            out = out * ops.cast(ops.broadcast_to(qm, (b, tq)), out.dtype)[:, :, None]
        return (out, w) if return_weights else out

    def load_numpy(self, wq: np.ndarray, wk: np.ndarray, wv: np.ndarray, wo: np.ndarray | None = None) -> None:
        """Copy weights in the numpy reference's layout into the layer (chapter 06).

        Builds the layer from the weights' shapes if it is not built yet.

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
        if wo is not None and self.out_dim is None:
            raise ValueError(_validate.ATT_NO_WO)
        if not self.built:
            self.build(*((None, None, np.shape(w)[0]) for w in (wq, wk, wv)))
            self.built = True
        for name, var, w in (("wq", self.wq, wq), ("wk", self.wk, wk), ("wv", self.wv, wv), ("wo", self.wo, wo)):
            if var is None or w is None:
                continue
            if tuple(var.shape) != tuple(np.shape(w)):
                raise ValueError(_validate.ATT_WEIGHT_SHAPE.format(name, tuple(np.shape(w)), tuple(var.shape)))
            var.assign(np.asarray(w, dtype=keras.backend.standardize_dtype(var.dtype)))

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for saving (chapter 06).

        Returns
        -------
        dict
            The base layer's config plus ``heads``, ``size_per_head``, ``out_dim``, ``scale``.
        """
        return {**super().get_config(), "heads": self.heads, "size_per_head": self.size_per_head,
                "out_dim": self.out_dim, "scale": self.scale}


def sinusoidal_position_embedding(length: int | Tensor, dim: int, layout: str = "cos_sin", base: float = 10000.0,
                                  start: int = 0) -> Tensor:
    """Sinusoidal position embeddings for positions ``start, start+1, ...`` (chapter 06, eq. pe).

    Parameters
    ----------
    length : int
        Number of positions (>= 0); a scalar tensor while tracing (a dynamic length).
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
    Tensor, shape (length, dim)
        Computed in float64, returned in Keras' default float (``keras.config.floatx()``).

    Raises
    ------
    ValueError
        If an argument is out of range (see the messages).
    """
    dynamic = hasattr(length, "dtype") and not isinstance(length, np.integer)
    _validate.att_position_args(None if dynamic else length, dim, layout, base, start, LAYOUTS)
    pos = ops.cast(ops.arange(length), "float64")[:, None] + float(start)
    freq = ops.power(ops.cast(float(base), "float64"),
                     -2.0 * ops.cast(ops.arange(dim // 2), "float64") / dim)
    ang = pos * freq[None, :]                                            # shape: (length, dim/2)
    s, c = ops.sin(ang), ops.cos(ang)
    if layout == "cos_sin":
        pe = ops.concatenate([c, s], axis=1)
    elif layout == "sin_cos":
        pe = ops.concatenate([s, c], axis=1)
    else:
        pe = ops.reshape(ops.stack([s, c], axis=-1), (length, dim))
    return ops.cast(pe, keras.config.floatx())


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


@keras.saving.register_keras_serializable(package="kexue")
class PositionEmbedding(keras.layers.Layer):
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
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Raises
    ------
    ValueError
        If ``mode``, ``size`` or ``layout`` is invalid.
    """

    def __init__(self, mode: str = "sum", size: int | None = None, layout: str = "cos_sin", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode, self.size, self.layout = mode, _position_layer_args(mode, size, layout), layout

    def call(self, x: Tensor) -> Tensor:
        """Add or prepend the embeddings of positions ``0..T-1`` (chapter 06).

        Parameters
        ----------
        x : Tensor of float, shape (B, T, d)
            The input sequence.

        Returns
        -------
        Tensor, shape (B, T, d) for ``"sum"``, (B, T, size + d) for ``"concat"``
            In the dtype of ``x``.

        Raises
        ------
        TypeError
            If ``x`` is not floating-point.
        ValueError
            If ``x`` is not 3-D or (``"sum"``) its features differ from ``size``.
        """
        _float_tensor(x, "x")
        shape = _static_shape(x)
        if len(shape) != 3:
            raise ValueError(_validate.ATT_X3D.format("x", shape))
        b, t, d = ops.shape(x)[0], ops.shape(x)[1], shape[-1]
        if self.mode == "sum":
            if self.size is not None and self.size != d:
                raise ValueError(_validate.ATT_SUM_SIZE.format(d, self.size))
            return x + ops.cast(sinusoidal_position_embedding(t, d, self.layout), x.dtype)[None]
        pe = ops.cast(sinusoidal_position_embedding(t, self.size, self.layout), x.dtype)
        return ops.concatenate([ops.broadcast_to(pe[None], (b, t, self.size)), x], axis=-1)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for saving (chapter 06).

        Returns
        -------
        dict
            The base layer's config plus ``mode``, ``size``, ``layout``.
        """
        return {**super().get_config(), "mode": self.mode, "size": self.size, "layout": self.layout}
