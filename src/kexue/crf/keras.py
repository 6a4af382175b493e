"""A linear-chain CRF layer in Keras 3 (chapter 05, ``chapters/05-crf.md``).

Like the original ``crf_keras.py`` the layer is "a loss layer with a parameter": ``call`` is
the identity on the emission scores, the layer owns ``trans`` and provides :meth:`CRF.loss`
(for ``model.compile(loss=crf.loss)``) and :meth:`CRF.decode`.  Differences from the 2018
code: ``keras.ops.scan`` replaces ``K.rnn``; padding is marked by tag ``-1`` in ``y_true``
(instead of an extra one-hot label); optional start/end scores; Viterbi is part of the layer.
Conventions as in :mod:`kexue.crf.numpy_ref` (``trans[i, j]``: from ``i`` to ``j``).  The twin
of :class:`kexue.crf.torch.CRF`: the same constructor, methods, parameters, checks and messages.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import keras
from keras import ops

from kexue import _validate
from kexue.crf import numpy_ref

# keras' convert_to_numpy on a tf.Variable triggers numpy 2's __array__(copy=...) deprecation notice
warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword",
                        category=DeprecationWarning)

Tensor = Any
"""A Keras tensor of any backend, or an array that converts to one."""

_concrete = _validate.keras_concrete


@keras.saving.register_keras_serializable(package="kexue")
class CRF(keras.layers.Layer):
    """Linear-chain CRF layer holding the transition matrix and optional start/end scores (chapter 05).

    ``call`` returns its input (the emission scores) unchanged; :meth:`loss` is the training
    loss for ``model.compile(loss=crf.loss)``; :meth:`nll` the per-sequence negative
    log-likelihood; :meth:`decode` the Viterbi paths.

    Parameters
    ----------
    num_tags : int
        Number of labels ``K`` (>= 1).
    start_end : bool, optional
        ``False`` (the default) follows the original post: no start/end scores.  ``True``
        adds trainable scores of the first and last label, initialised at zero.
    **kwargs
        Standard Keras layer arguments (``name``, ``dtype``, ...).

    Attributes
    ----------
    trans : keras.Variable, shape (num_tags, num_tags)
        Transition scores, row = previous tag; Glorot-uniform initial values.
    start, end : keras.Variable, shape (num_tags,), or None
        Scores of the first and last tag (``None`` unless ``start_end``).

    Raises
    ------
    ValueError
        If ``num_tags`` is not an integer >= 1.
    """

    def __init__(self, num_tags: int, start_end: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_tags = _validate.crf_num_tags(num_tags)
        self.start_end = bool(start_end)
        self.start = self.end = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create the weights (chapter 05).

        Parameters
        ----------
        input_shape : tuple
            Shape of the emissions, ``(batch, length, num_tags)``; the last entry must be
            ``num_tags`` (or ``None``).

        Raises
        ------
        ValueError
            If the last entry differs from ``num_tags``.
        """
        k = input_shape[-1]
        if k is not None and int(k) != self.num_tags:
            raise ValueError(_validate.CRF_K.format(int(k), self.num_tags))
        k = self.num_tags
        self.trans = self.add_weight(shape=(k, k), initializer="glorot_uniform", name="trans")
        if self.start_end:
            self.start = self.add_weight(shape=(k,), initializer="zeros", name="start")
            self.end = self.add_weight(shape=(k,), initializer="zeros", name="end")

    def call(self, inputs: Tensor) -> Tensor:
        """The identity: the emission scores pass through (chapter 05).

        Parameters
        ----------
        inputs : Tensor, shape (batch, length, num_tags)
            Emission scores.

        Returns
        -------
        Tensor, shape (batch, length, num_tags)
            ``inputs``.
        """
        return inputs

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """The output shape, equal to ``input_shape`` (chapter 05)."""
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for ``keras.saving`` (chapter 05).

        Returns
        -------
        dict
            The base layer's config plus ``num_tags`` and ``start_end``.
        """
        return {**super().get_config(), "num_tags": self.num_tags, "start_end": self.start_end}

    # ------------------------------------------------------------------ validation
    def _prepare(self, emissions: Tensor, tags: Tensor | None = None, mask: Tensor | None = None
                 ) -> tuple[Tensor, Tensor]:
        """Check the inputs (when they have values) and return float emissions and a float mask."""
        if not self.built:
            self.build(tuple(np.shape(emissions)) if not hasattr(emissions, "shape") else tuple(emissions.shape))
        shape = tuple(emissions.shape) if hasattr(emissions, "shape") else np.shape(emissions)
        if len(shape) != 3:
            raise ValueError(_validate.CRF_EM_BATCH.format(tuple(shape)))
        if shape[-1] is not None and shape[-1] != self.num_tags:
            raise ValueError(_validate.CRF_K.format(shape[-1], self.num_tags))
        if tags is not None:
            dtype = keras.backend.standardize_dtype(getattr(tags, "dtype", None) or np.asarray(tags).dtype)
            if "int" not in dtype:
                raise ValueError(_validate.TAGS_INT.format(dtype))
        params = [_concrete(p) if p is not None else None for p in (self.trans, self.start, self.end)]
        if params[0] is not None:
            _validate.crf_params(*params)
        em = _concrete(emissions)
        if em is not None:
            B, T, K = em.shape
            if T == 0:
                raise ValueError(_validate.CRF_ZERO_LENGTH)
            if not np.all(np.isfinite(em)):
                raise ValueError(_validate.CRF_NONFINITE.format("emissions"))
            m = None if mask is None else _concrete(mask)
            if m is not None:
                numpy_ref.mask_lengths(m, (B, T))
            if tags is not None:
                y = _concrete(tags)
                if y.shape != (B, T):
                    raise ValueError(_validate.TAGS_SHAPE.format((B, T), y.shape))
                real = y[np.ones((B, T), bool) if m is None else m.astype(bool)]
                if real.size and (real.min() < 0 or real.max() >= K):
                    raise ValueError(_validate.TAGS_RANGE.format(K, real.min(), real.max()))
        emissions = ops.convert_to_tensor(emissions, dtype=self.dtype)
        if mask is None:
            mask = ops.ones(ops.shape(emissions)[:2], dtype=self.dtype)
        mask = ops.cast(mask, self.dtype)
        return emissions, mask

    # ------------------------------------------------------------------ scores
    def _path_score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        y = ops.one_hot(ops.cast(ops.maximum(tags, 0), "int32"), self.num_tags, dtype=self.dtype)  # (B, T, K)
        y = y * mask[:, :, None]                                   # padded steps: all-zero rows
        point = ops.sum(emissions * y, axis=(1, 2))                # (B,)
        pairs = y[:, :-1, :, None] * y[:, 1:, None, :]             # (B, T-1, from, to)
        score = point + ops.sum(pairs * self.trans[None, None], axis=(1, 2, 3))
        if self.start is not None:
            last = y * (mask - ops.pad(mask[:, 1:], [[0, 0], [0, 1]]))[:, :, None]  # one-hot of the last real step
            score = score + ops.sum(y[:, 0] * self.start, axis=1) + ops.sum(last * self.end, axis=(1, 2))
        return score

    def path_score(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """Scores of the given tag paths, by the original's one-hot multiply trick (chapter 05).

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores ``h(y_t | x)``.
        tags : Tensor of int, shape (batch, length)
            The paths, tags in ``[0, num_tags)`` on real steps (padded steps are ignored).
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step; padding only at the end of a row.  Default: no padding.

        Returns
        -------
        Tensor, shape (batch,)
            ``sum_t h[t, y_t] + sum_t trans[y_t, y_{t+1}]`` (+ start/end scores) per sequence.

        Raises
        ------
        ValueError
            If a shape or value is malformed (see :func:`kexue.crf.numpy_ref.path_score`).
        """
        emissions, mask = self._prepare(emissions, tags, mask)
        return self._path_score(emissions, tags, mask)

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """``log Z`` of every sequence by the forward recursion, with ``keras.ops.scan`` (chapter 05).

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores ``h(y_t | x)``.
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step; padding only at the end of a row.  Default: no padding.

        Returns
        -------
        Tensor, shape (batch,)
            ``log Z`` per sequence; padded steps keep the previous state.

        Raises
        ------
        ValueError
            If a shape or value is malformed.
        """
        emissions, mask = self._prepare(emissions, None, mask)
        alpha0 = emissions[:, 0]                                   # (B, K)
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
        return ops.logsumexp(alpha, axis=1)                        # (B,)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None, reduction: str = "none") -> Tensor:
        """Negative log-likelihood of the gold paths (chapter 05).

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores ``h(y_t | x)``.
        tags : Tensor of int, shape (batch, length)
            Gold tags in ``[0, num_tags)`` on real steps (padded steps are ignored).
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step; padding only at the end of a row.  Default: no padding.
        reduction : {"none", "mean"}, optional
            ``"none"``: one value per sequence; ``"mean"``: their mean.

        Returns
        -------
        Tensor, shape (batch,) or ()
            ``log Z - score(tags)`` per sequence, or its mean.

        Raises
        ------
        ValueError
            If a shape or value is malformed, or ``reduction="mean"`` gets an empty batch.
        """
        if reduction not in ("none", "mean"):
            raise ValueError(_validate.REDUCTION.format(reduction))
        emissions, mask = self._prepare(emissions, tags, mask)
        out = self.log_partition(emissions, mask) - self._path_score(emissions, tags, mask)
        if reduction == "mean":
            if out.shape[0] == 0:
                raise ValueError(_validate.CRF_EMPTY_BATCH)
            return ops.mean(out)
        return out

    def loss(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        """Keras loss for ``model.compile(loss=crf.loss)``: per-sequence NLL (chapter 05).

        Keras averages the returned values over the batch.

        Parameters
        ----------
        y_true : Tensor of int, shape (batch, length)
            Gold tags, ``-1`` on padded steps.
        y_pred : Tensor, shape (batch, length, num_tags)
            Emission scores (the model's output).

        Returns
        -------
        Tensor, shape (batch,)
            ``nll(y_pred, y_true, y_true >= 0)``.
        """
        y_true = ops.cast(y_true, "int32")
        mask = ops.cast(y_true >= 0, self.dtype)
        return self.nll(y_pred, y_true, mask)

    # ------------------------------------------------------------------ decoding
    def decode(self, emissions: Tensor, mask: Tensor | None = None, allowed: Tensor | None = None,
               allowed_start: Tensor | None = None, allowed_end: Tensor | None = None, pad: int = -1) -> Tensor:
        """Viterbi paths, one loop over time (chapter 05; eager only).

        A forbidden move scores ``-inf``, as in :func:`kexue.crf.numpy_ref.viterbi`, so no
        emission can buy it.

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores.
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step; padding only at the end of a row.  Default: no padding.
        allowed : Tensor of bool, shape (num_tags, num_tags), optional
            Allowed transitions (``True`` = allowed, row = previous tag).
        allowed_start, allowed_end : Tensor of bool, shape (num_tags,), optional
            Allowed first and last tags.
        pad : int, optional
            Written on padded steps.

        Returns
        -------
        Tensor of int64, shape (batch, length)
            The best path of every sequence, ``pad`` on padded steps.

        Raises
        ------
        ValueError
            If an input is malformed, or the constraints leave a sequence no legal path.
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
        paths = here                                               # (B, K, t): best path ending in each label
        score = emissions[:, 0] + start                            # (B, K)
        for t in range(1, T):
            cand = score[:, :, None] + trans[None]                 # (B, from, to)
            arg = ops.cast(ops.argmax(cand, axis=1), "int32")
            best = ops.max(cand, axis=1)
            real = mask[:, t:t + 1] > 0
            score = ops.where(real, best + emissions[:, t], score)
            arg = ops.where(real, arg, labels)
            paths = ops.concatenate([ops.take_along_axis(paths, ops.broadcast_to(arg[:, :, None], (B, K, t)), axis=1),
                                     here], axis=2)
        final = score + end                                        # (B, K)
        m = ops.convert_to_numpy(mask) > 0
        dead = np.isinf(np.max(ops.convert_to_numpy(final), axis=1)) if B else np.zeros(0, bool)
        if dead.any():
            raise ValueError(_validate.CRF_NO_PATH.format(int(m[np.argmax(dead)].sum())))
        last = ops.argmax(final, axis=1)
        out = ops.convert_to_numpy(ops.take_along_axis(paths, ops.cast(last, "int32")[:, None, None], axis=1))[:, 0]
        return ops.convert_to_tensor(np.where(m, out, pad).astype(np.int64), dtype="int64")
