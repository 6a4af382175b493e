"""A linear-chain CRF layer in Keras 3 (chapter 05, ``chapters/05-crf.md``).

Like the original ``crf_keras.py`` the layer is "a loss layer with a parameter": ``call`` is
the identity on the emission scores, the layer owns ``trans`` and provides :meth:`CRF.loss`
(for ``model.compile(loss=crf.loss)``) and :meth:`CRF.decode`.  Differences from the 2018
code: ``keras.ops.scan`` replaces ``K.rnn``; padding is marked by tag ``-1`` in ``y_true``
(instead of an extra one-hot label); optional start/end scores; Viterbi is part of the layer.
Conventions as in :mod:`kexue.crf.numpy_ref` (``trans[i, j]``: from ``i`` to ``j``).
"""
from __future__ import annotations

import warnings

import numpy as np

import keras
from keras import ops

from kexue import _validate
from kexue.crf import numpy_ref

# keras' convert_to_numpy on a tf.Variable triggers numpy 2's __array__(copy=...) deprecation notice
warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword",
                        category=DeprecationWarning)


_concrete = _validate.keras_concrete


class CRF(keras.layers.Layer):
    """Linear-chain CRF layer holding the transition matrix (and optional start/end scores)."""

    def __init__(self, num_tags: int | None = None, start_end: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_tags = num_tags
        self.start_end = start_end

    def build(self, input_shape) -> None:
        k = int(input_shape[-1])
        if self.num_tags is not None and self.num_tags != k:
            raise ValueError(f"emissions have K = {k} labels but the CRF has num_tags = {self.num_tags}")
        self.num_tags = k
        self.trans = self.add_weight(shape=(k, k), initializer="glorot_uniform", name="trans")
        if self.start_end:
            self.start = self.add_weight(shape=(k,), initializer="zeros", name="start")
            self.end = self.add_weight(shape=(k,), initializer="zeros", name="end")
        else:
            self.start = self.end = None

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tags": self.num_tags, "start_end": self.start_end}

    # ------------------------------------------------------------------ validation
    def _prepare(self, emissions, tags=None, mask=None):
        if not self.built:
            self.build(tuple(emissions.shape))
        if len(emissions.shape) != 3:
            raise ValueError(f"emissions must have shape (B, T, K), got {tuple(emissions.shape)}")
        if emissions.shape[-1] is not None and emissions.shape[-1] != self.num_tags:
            raise ValueError(f"emissions have K = {emissions.shape[-1]} labels but the CRF has "
                             f"num_tags = {self.num_tags}")
        if tags is not None:
            dtype = keras.backend.standardize_dtype(getattr(tags, "dtype", None) or np.asarray(tags).dtype)
            if "int" not in dtype:
                raise ValueError(_validate.TAGS_INT.format(dtype))
        em = _concrete(emissions)
        if em is not None:
            B, T, K = em.shape
            if T == 0:
                raise ValueError("zero-length sequence: emissions have T = 0 steps")
            if not np.all(np.isfinite(em)):
                raise ValueError("emissions contain non-finite values (nan or inf)")
            if mask is not None:
                numpy_ref.mask_lengths(_concrete(mask), (B, T))
            if tags is not None:
                y = _concrete(tags)
                if y.shape != (B, T):
                    raise ValueError(_validate.TAGS_SHAPE.format((B, T), y.shape))
                real = y[np.ones((B, T), bool) if mask is None else _concrete(mask).astype(bool)]
                if real.size and (real.min() < 0 or real.max() >= K):
                    raise ValueError(_validate.TAGS_RANGE.format(K, real.min(), real.max()))
        emissions = ops.convert_to_tensor(emissions, dtype=self.dtype)
        if mask is None:
            mask = ops.ones(ops.shape(emissions)[:2], dtype=self.dtype)
        mask = ops.cast(mask, self.dtype)
        return emissions, mask

    # ------------------------------------------------------------------ scores
    def path_score(self, emissions, tags, mask):
        """Score of the given paths ``(B,)``, by the original's one-hot multiply trick."""
        y = ops.one_hot(ops.cast(ops.maximum(tags, 0), "int32"), self.num_tags, dtype=self.dtype)
        y = y * mask[:, :, None]                                   # padded steps: all-zero rows
        point = ops.sum(emissions * y, axis=(1, 2))
        pairs = y[:, :-1, :, None] * y[:, 1:, None, :]             # (B, T-1, from, to)
        score = point + ops.sum(pairs * self.trans[None, None], axis=(1, 2, 3))
        if self.start is not None:
            last = y * (mask - ops.pad(mask[:, 1:], [[0, 0], [0, 1]]))[:, :, None]
            score = score + ops.sum(y[:, 0] * self.start, axis=1) + ops.sum(last * self.end, axis=(1, 2))
        return score

    def log_partition(self, emissions, mask):
        """``log Z`` ``(B,)`` by the forward recursion, run with ``keras.ops.scan`` over time."""
        alpha0 = emissions[:, 0]
        if self.start is not None:
            alpha0 = alpha0 + self.start
        xs = (ops.transpose(emissions[:, 1:], (1, 0, 2)), ops.transpose(mask[:, 1:, None], (1, 0, 2)))

        def step(alpha, x):
            h_t, m_t = x
            cand = alpha[:, :, None] + self.trans[None]            # (B, from, to)
            new = ops.logsumexp(cand, axis=1) + h_t                # reduce over *from*
            alpha = m_t * new + (1.0 - m_t) * alpha                # padded step: keep state
            return alpha, alpha

        alpha, _ = ops.scan(step, alpha0, xs)
        if self.end is not None:
            alpha = alpha + self.end
        return ops.logsumexp(alpha, axis=1)

    def nll(self, emissions, tags, mask=None):
        """Per-sequence negative log-likelihood ``(B,)``."""
        emissions, mask = self._prepare(emissions, tags, mask)
        return self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)

    def loss(self, y_true, y_pred):
        """Keras loss: ``y_true`` integer tags ``(B, T)`` with ``-1`` on padding; ``y_pred`` emissions."""
        y_true = ops.cast(y_true, "int32")
        mask = ops.cast(y_true >= 0, self.dtype)
        return ops.mean(self.nll(y_pred, y_true, mask))

    # ------------------------------------------------------------------ decoding
    def decode(self, emissions, mask=None, *, allowed=None, allowed_start=None, allowed_end=None,
               pad: int = -1) -> np.ndarray:
        """Viterbi paths ``(B, T)`` as numpy ints (padded with ``pad``); one loop over time.

        A forbidden move (``allowed``, ``allowed_start``, ``allowed_end``: boolean, ``True`` =
        allowed) scores ``-inf``, as in :func:`kexue.crf.numpy_ref.viterbi`.
        """
        emissions, mask = self._prepare(emissions, None, mask)
        B, T, K = (int(d) for d in emissions.shape)
        trans = ops.convert_to_tensor(self.trans)
        zeros = ops.zeros((K,), dtype=self.dtype)
        start = zeros if self.start is None else ops.convert_to_tensor(self.start)
        end = zeros if self.end is None else ops.convert_to_tensor(self.end)
        neg_inf = ops.cast(float("-inf"), self.dtype)
        if allowed is not None:
            trans = ops.where(_validate.constraint(_concrete(allowed), (K, K), "allowed"), trans, neg_inf)
        if allowed_start is not None:
            start = ops.where(_validate.constraint(_concrete(allowed_start), (K,), "allowed_start"), start, neg_inf)
        if allowed_end is not None:
            end = ops.where(_validate.constraint(_concrete(allowed_end), (K,), "allowed_end"), end, neg_inf)
        labels = ops.broadcast_to(ops.arange(K, dtype="int32")[None], (B, K))
        here = labels[:, :, None]
        paths = here
        score = emissions[:, 0] + start
        for t in range(1, T):
            cand = score[:, :, None] + trans[None]                 # (B, from, to)
            arg = ops.cast(ops.argmax(cand, axis=1), "int32")
            best = ops.max(cand, axis=1)
            real = mask[:, t:t + 1] > 0
            score = ops.where(real, best + emissions[:, t], score)
            arg = ops.where(real, arg, labels)
            paths = ops.concatenate([ops.take_along_axis(paths, ops.broadcast_to(arg[:, :, None], (B, K, t)), axis=1),
                                     here], axis=2)
        last = ops.argmax(score + end, axis=1)
        out = ops.convert_to_numpy(ops.take_along_axis(paths, ops.cast(last, "int32")[:, None, None], axis=1))[:, 0]
        return np.where(ops.convert_to_numpy(mask) > 0, out, pad).astype(np.int64)
