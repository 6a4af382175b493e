"""Keras 3 attention layers for chapter 06, following :mod:`kexue.attention.numpy_ref`.

Chapter: ``chapters/06-attention.md``; post: https://kexue.fm/archives/4765.
The post's Keras 2 code used ``K.batch_dot`` and friends; this port uses ``keras.ops``.
Masks are boolean with ``True`` = keep (as ``keras.layers.MultiHeadAttention``'s ``attention_mask``).
"""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from kexue import _validate
from kexue.attention.numpy_ref import LAYOUTS


def check_mask(mask, shape: tuple, name: str = "mask"):
    """Validate a boolean mask that must broadcast to ``shape`` (``None`` = unknown size); numpy's rule and messages.

    Returns the mask as a tensor broadcast to ``shape`` where its sizes are known.
    """
    if mask is None:
        return None
    dtype = getattr(mask, "dtype", None)
    if dtype is None:
        mask = np.asarray(mask)
        dtype = mask.dtype
    dtype = keras.backend.standardize_dtype(dtype)
    if dtype != "bool":
        raise ValueError(_validate.MASK_BOOL.format(name, dtype))
    mshape = tuple(mask.shape)
    ok = len(mshape) <= len(shape) and all(
        a is None or b is None or a == b or a == 1 for a, b in zip(mshape[::-1], tuple(shape)[::-1]))
    if not ok:
        raise ValueError(_validate.MASK_SHAPE.format(name, mshape, tuple(shape)))
    return mask


def masked_logits(logits, mask):
    """Masked entries to ``-inf``; rows with every key masked to 0 (uniform weights), as in the numpy reference."""
    any_kept = ops.any(mask, axis=-1, keepdims=True)
    neg_inf = ops.cast(float("-inf"), logits.dtype)
    return ops.where(mask, logits, ops.where(any_kept, neg_inf, ops.cast(0.0, logits.dtype)))


class MultiHeadAttention(keras.layers.Layer):
    """The post's multi-head attention: ``heads`` × ``size_per_head``, no biases.

    ``out_dim=None`` concatenates the heads (the post's layer, no ``W^O``); an integer adds the
    paper's output projection.  ``scale=False`` is the unscaled January 2018 variant.
    Call with ``x`` (self-attention) or ``[q, k, v]``; keyword masks ``key_mask`` (B, Tk),
    ``query_mask`` (B, Tq), boolean, ``True`` = keep; ``causal=True`` for a causal mask.  A query
    whose keys are all masked attends uniformly to every key (as in the numpy reference).
    """

    def __init__(self, heads: int, size_per_head: int, out_dim: int | None = None, scale: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if heads < 1 or size_per_head < 1:
            raise ValueError(f"heads and size_per_head must be positive, got {heads}, {size_per_head}")
        self.heads, self.size_per_head, self.out_dim, self.scale = heads, size_per_head, out_dim, scale

    def build(self, input_shape) -> None:
        shapes = input_shape if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)) \
            else [input_shape] * 3
        width = self.heads * self.size_per_head
        self.wq, self.wk, self.wv = (self.add_weight(shape=(int(s[-1]), width), initializer="glorot_uniform",
                                                     name=n) for n, s in zip(("wq", "wk", "wv"), shapes))
        self.wo = None
        if self.out_dim is not None:
            self.wo = self.add_weight(shape=(width, self.out_dim), initializer="glorot_uniform", name="wo")

    def _split(self, x):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        return ops.transpose(ops.reshape(x, (b, t, self.heads, self.size_per_head)), (0, 2, 1, 3))

    def call(self, inputs, key_mask=None, query_mask=None, causal: bool = False, return_weights: bool = False):
        q, k, v = inputs if isinstance(inputs, (list, tuple)) else (inputs, inputs, inputs)
        b, tq, tk = ops.shape(q)[0], ops.shape(q)[1], ops.shape(k)[1]
        Q, K, V = (self._split(ops.matmul(x, w)) for x, w in ((q, self.wq), (k, self.wk), (v, self.wv)))
        logits = ops.einsum("bhqd,bhkd->bhqk", Q, K)
        if self.scale is True:
            logits = logits / math.sqrt(self.size_per_head)
        elif self.scale is not False:
            logits = logits * float(self.scale)
        mask = None
        if key_mask is not None:
            km = check_mask(key_mask, (q.shape[0], k.shape[1]), "key_mask")
            mask = ops.broadcast_to(km, (b, tk))[:, None, None, :]
        if causal:
            c = ops.arange(tq)[:, None] >= ops.arange(tk)[None, :]
            mask = c if mask is None else ops.logical_and(mask, c)
        if mask is not None:
            logits = masked_logits(logits, ops.broadcast_to(mask, ops.shape(logits)))
        w = ops.softmax(logits, axis=-1)
        out = ops.einsum("bhqk,bhkd->bhqd", w, V)
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (b, tq, self.heads * self.size_per_head))
        if self.wo is not None:
            out = ops.matmul(out, self.wo)
        if query_mask is not None:
            qm = check_mask(query_mask, (q.shape[0], q.shape[1]), "query_mask")
            out = out * ops.cast(ops.broadcast_to(qm, (b, tq)), out.dtype)[:, :, None]
        return (out, w) if return_weights else out

    def load_numpy(self, wq: np.ndarray, wk: np.ndarray, wv: np.ndarray, wo: np.ndarray | None = None) -> None:
        """Copy numpy weights of shape (d_in, heads·size_per_head), as in the numpy reference."""
        for var, w in ((self.wq, wq), (self.wk, wk), (self.wv, wv), (self.wo, wo)):
            if var is None or w is None:
                continue
            if tuple(var.shape) != tuple(np.shape(w)):
                raise ValueError(f"weight shape {np.shape(w)} != expected {tuple(var.shape)}")
            var.assign(np.asarray(w, dtype=keras.backend.standardize_dtype(var.dtype)))

    def get_config(self) -> dict:
        return {**super().get_config(), "heads": self.heads, "size_per_head": self.size_per_head,
                "out_dim": self.out_dim, "scale": self.scale}


def sinusoidal_position_embedding(length, dim: int, layout: str = "cos_sin", base: float = 10000.0):
    """Sinusoidal position embeddings (length, dim) with ``keras.ops`` (length may be dynamic)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even integer, got {dim}")
    pos = ops.cast(ops.arange(length), "float32")[:, None]
    freq = ops.power(float(base), -2.0 * ops.cast(ops.arange(dim // 2), "float32") / dim)
    ang = pos * freq[None, :]
    s, c = ops.sin(ang), ops.cos(ang)
    if layout == "cos_sin":
        return ops.concatenate([c, s], axis=1)
    if layout == "sin_cos":
        return ops.concatenate([s, c], axis=1)
    return ops.reshape(ops.stack([s, c], axis=-1), (length, dim))


class PositionEmbedding(keras.layers.Layer):
    """Add (``mode="sum"``) or prepend (``mode="concat"``, ``size`` features) sinusoidal embeddings."""

    def __init__(self, mode: str = "sum", size: int | None = None, layout: str = "cos_sin", **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in ("sum", "concat"):
            raise ValueError(f"mode must be 'sum' or 'concat', got {mode!r}")
        if mode == "concat" and size is None:
            raise ValueError("mode='concat' needs a size")
        self.mode, self.size, self.layout = mode, size, layout

    def call(self, x):
        b, t, d = ops.shape(x)[0], ops.shape(x)[1], x.shape[-1]
        if self.mode == "sum":
            if self.size is not None and self.size != d:
                raise ValueError(f"mode='sum' needs size == input features ({d}), got {self.size}")
            return x + ops.cast(sinusoidal_position_embedding(t, d, self.layout), x.dtype)[None]
        pe = ops.cast(sinusoidal_position_embedding(t, self.size, self.layout), x.dtype)
        return ops.concatenate([ops.broadcast_to(pe[None], (b, t, self.size)), x], axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "size": self.size, "layout": self.layout}
