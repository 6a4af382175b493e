"""Capsules in Keras 3 (chapter 07, ``chapters/07-capsule.md``), tested against :mod:`kexue.capsule.numpy_ref`.

A port of the post's Keras 2 layer to the Keras 3 API (``keras.ops`` only):
``K.conv1d`` / ``K.local_conv1d`` become an einsum with the weight matrix,
``K.batch_dot`` becomes einsum, and the softmax runs over the output capsules.
Weights have the numpy reference's shapes: shared (d_in, k*d_out), unshared
(n, d_in, k*d_out).  Integer input is cast to ``keras.backend.floatx()`` (the numpy
reference casts to float64).  :class:`Capsule` is registered as ``"kexue>Capsule"``,
so a model containing it saves to and loads from a ``.keras`` file.
"""
from __future__ import annotations

from typing import Any

import keras
from keras import ops

from kexue import _validate
from kexue.capsule.numpy_ref import EPS, check_routing, squash_scale

__all__ = ["squash", "l2_normalize", "dynamic_routing", "Capsule", "margin_loss"]

Tensor = Any
"""A Keras tensor or anything ``keras.ops`` accepts (a backend tensor, a numpy array)."""


def _float_tensor(x: Tensor) -> Tensor:
    """``x`` as a tensor; integer (and boolean) input cast to ``keras.backend.floatx()``."""
    if not hasattr(x, "dtype"):                            # lists, numbers
        x = ops.convert_to_tensor(x)
    if "float" not in keras.backend.standardize_dtype(x.dtype):
        x = ops.cast(x, keras.backend.floatx())
    return x


def squash(x: Tensor, c: float = 1.0, axis: int = -1, eps: float = EPS) -> Tensor:
    """The squash non-linearity ``||x||²/(c + ||x||²) · x/||x||`` (chapter 07).

    Computed as ``x·sqrt(||x||² + eps)/(c + ||x||²)``; a vector whose largest entry could
    overflow ``||x||²`` is divided by it first, as in :func:`kexue.capsule.numpy_ref.squash`.

    Parameters
    ----------
    x : Tensor, shape (..., d, ...)
        Vectors along ``axis``.  Integer input is cast to ``keras.backend.floatx()``.
    c : float, optional
        The squash constant, a finite number > 0.
    axis : int, optional
        The axis of the vectors.
    eps : float, optional
        The constant under the square root, >= 0.

    Returns
    -------
    Tensor, same shape as ``x``
        Each vector with length ``||x||²/(c + ||x||²) < 1`` and the direction of ``x``.

    Raises
    ------
    ValueError
        If ``c`` is not a finite number > 0 or ``eps`` is negative.
    """
    c = _validate.squash_constant(c)
    eps = _validate.l2_eps(eps)
    x = _float_tensor(x)
    m = ops.max(ops.abs(ops.stop_gradient(x)), axis=axis, keepdims=True)
    limit = squash_scale(keras.backend.standardize_dtype(x.dtype), x.shape[axis] or 1)
    m = ops.where(m > limit, m, ops.ones_like(m))
    y = x / m
    t = ops.sum(y * y, axis=axis, keepdims=True)
    inv2 = (1.0 / m) / m
    return y * ops.sqrt(t + eps * inv2) / (c * inv2 + t)


def l2_normalize(x: Tensor, axis: int = -1, eps: float = EPS) -> Tensor:
    """``x / sqrt(||x||² + eps)`` along ``axis``: the normalisation of the ``"kmeans"`` routing (chapters 07, 08).

    The same definition as :func:`kexue.capsule.numpy_ref.l2_normalize`: a zero vector
    gives the zero vector (also with ``eps=0``); a vector whose squared norm could
    overflow is divided by its largest entry first (with ``eps=0``, every non-zero
    vector is); any other vector is divided by exactly 1.

    Parameters
    ----------
    x : Tensor, shape (..., d, ...)
        Vectors along ``axis``.  Integer input is cast to ``keras.backend.floatx()``.
    axis : int, optional
        The axis of the vectors.
    eps : float, optional
        The constant under the square root, >= 0 (0: exact unit vectors).

    Returns
    -------
    Tensor, same shape as ``x``
        The normalised vectors; finite for every finite ``x``.

    Raises
    ------
    ValueError
        If ``eps`` is negative or not finite.
    """
    eps = _validate.l2_eps(eps)
    x = _float_tensor(x)
    m = ops.max(ops.abs(ops.stop_gradient(x)), axis=axis, keepdims=True)
    rescale = m > squash_scale(keras.backend.standardize_dtype(x.dtype), x.shape[axis] or 1)
    if eps == 0:
        rescale = ops.logical_or(rescale, m > 0)
    s = ops.where(rescale, m, ops.ones_like(m))                        # the scale: m or exactly 1
    y = x / s
    t = ops.sum(y * y, axis=axis, keepdims=True)
    if eps:
        t = t + eps * ((1.0 / s) / s)                                  # eps/s², eps for most vectors
    return y / ops.sqrt(ops.where(t > 0, t, ops.ones_like(t)))        # zero vector (eps = 0): 0/1


def dynamic_routing(u_hat: Tensor, routings: int = 3, routing: str = "post",
                    squash_c: float | None = None) -> tuple[Tensor, Tensor]:
    """Route prediction vectors to output capsules, ``routings`` passes from ``b = 0`` (chapter 07).

    Parameters
    ----------
    u_hat : Tensor, shape (batch, k, n, d)
        Prediction vectors ``û_{j|i}``.  Integer input is cast to ``keras.backend.floatx()``.
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
    ValueError
        If ``u_hat`` is not 4-dimensional or a routing argument is invalid.
    """
    c_sq = check_routing(routing, routings, squash_c)
    u_hat = _float_tensor(u_hat)
    if len(u_hat.shape) != 4:
        raise ValueError(_validate.U_HAT_SHAPE.format(tuple(u_hat.shape)))
    b = ops.zeros_like(u_hat[..., 0])                       # (B, k, n)
    for it in range(routings):
        c = ops.softmax(b, axis=1)                           # over the output capsules j
        s = ops.einsum("bkn,bknd->bkd", c, u_hat)
        last = it == routings - 1
        if routing == "kmeans":
            if last:
                return squash(s, c_sq), c
            v = l2_normalize(s)
        else:
            v = squash(s, c_sq)
            if last:
                return v, c
        agreement = ops.einsum("bkd,bknd->bkn", v, u_hat)
        b = b + agreement if routing == "hinton" else agreement
    raise AssertionError("unreachable")  # pragma: no cover


@keras.saving.register_keras_serializable(package="kexue")
class Capsule(keras.layers.Layer):
    """Capsule layer: input capsules (B, n, d_in) → output capsules (B, num_capsule, dim_capsule) (chapter 07).

    The twin of :class:`kexue.capsule.torch.Capsule`.  With ``share_weights=True`` the
    number of input capsules may be unknown (``None``), so the layer sits on a CNN of
    any image size.  Unshared weights need a known ``n`` when the layer is built.

    Parameters
    ----------
    num_capsule : int
        k, the number of output capsules.
    dim_capsule : int
        d_out, their dimension.
    routings : int, optional
        Number of routing passes (>= 1); 3 in the post.
    share_weights : bool, optional
        One matrix W_j per output capsule (any n) if True; else one W_ji per pair.
    routing : str, optional
        ``"hinton"``, ``"post"`` (default) or ``"kmeans"``.
    squash_c : float, optional
        Override the variant's squash constant.
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Raises
    ------
    ValueError
        If a size is not an integer >= 1 or a routing argument is invalid.
    """

    def __init__(self, num_capsule: int, dim_capsule: int, routings: int = 3, share_weights: bool = True,
                 routing: str = "post", squash_c: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_routing(routing, routings, squash_c)
        self.num_capsule = _validate.positive_int(num_capsule, "num_capsule")
        self.dim_capsule = _validate.positive_int(dim_capsule, "dim_capsule")
        self.routings, self.routing, self.squash_c = int(routings), routing, squash_c
        self.share_weights = bool(share_weights)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create the weights ``W`` for input capsules of shape (batch, n, d_in) (chapter 07).

        Parameters
        ----------
        input_shape : tuple
            (batch, n, d_in); ``n`` may be ``None`` with shared weights.

        Raises
        ------
        ValueError
            If the shape is not (batch, n, d_in), ``d_in`` is unknown, or ``n`` is unknown
            with unshared weights.
        """
        if len(input_shape) != 3:
            raise ValueError(_validate.CAPS_INPUT_SHAPE.format(tuple(input_shape)))
        n, d_in = input_shape[1], input_shape[2]
        if d_in is None:
            raise ValueError(_validate.CAPS_D_IN_UNKNOWN)
        out = self.num_capsule * self.dim_capsule
        if self.share_weights:
            shape = (d_in, out)
        else:
            if n is None:
                raise ValueError(_validate.CAPS_UNSHARED_NEEDS_N)
            shape = (n, d_in, out)
        self.input_dim_capsule, self.input_num_capsule = int(d_in), n
        self.W = self.add_weight(name="W", shape=shape, initializer="glorot_uniform", trainable=True)

    def call(self, u: Tensor, return_couplings: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Output capsules of input capsules ``u`` (chapter 07).

        Parameters
        ----------
        u : Tensor, shape (batch, n, d_in)
            Input capsules.  Integer input is cast to the layer's compute dtype.
        return_couplings : bool, optional
            Also return the coupling coefficients of the last routing pass.

        Returns
        -------
        v : Tensor, shape (batch, num_capsule, dim_capsule)
            The output capsules; their lengths are the scores.
        c : Tensor, shape (batch, num_capsule, n)
            Only with ``return_couplings=True``: the last couplings.

        Raises
        ------
        ValueError
            If the shape of ``u`` does not fit the layer.
        """
        if len(u.shape) != 3:
            raise ValueError(_validate.CAPS_INPUT_SHAPE.format(tuple(u.shape)))
        if "float" not in keras.backend.standardize_dtype(u.dtype):
            u = ops.cast(u, self.compute_dtype)
        k, d, d_in = self.num_capsule, self.dim_capsule, self.input_dim_capsule
        if u.shape[-1] is not None and u.shape[-1] != d_in:
            raise ValueError(_validate.CAPS_INPUT_DIM.format(d_in, u.shape[-1]))
        if self.share_weights:
            u_hat = ops.einsum("bni,ikd->bknd", u, ops.reshape(self.W, (d_in, k, d)))
        else:
            if u.shape[1] is not None and u.shape[1] != self.input_num_capsule:
                raise ValueError(_validate.CAPS_UNSHARED_N.format(self.input_num_capsule, u.shape[1]))
            u_hat = ops.einsum("bni,nikd->bknd", u, ops.reshape(self.W, (self.input_num_capsule, d_in, k, d)))
        v, c = dynamic_routing(u_hat, self.routings, self.routing, self.squash_c)
        return (v, c) if return_couplings else v

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """The output shape (batch, num_capsule, dim_capsule) for input (batch, n, d_in) (chapter 07).

        Parameters
        ----------
        input_shape : tuple
            (batch, n, d_in).

        Returns
        -------
        tuple
            The shape of the output capsules (without couplings).
        """
        return (input_shape[0], self.num_capsule, self.dim_capsule)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for saving to ``.keras`` files (chapter 07).

        ``Capsule.from_config(layer.get_config())`` rebuilds the layer.

        Returns
        -------
        dict
            The base layer's config plus ``num_capsule``, ``dim_capsule``, ``routings``,
            ``share_weights``, ``routing`` and ``squash_c``.
        """
        cfg = super().get_config()
        cfg.update(num_capsule=self.num_capsule, dim_capsule=self.dim_capsule, routings=self.routings,
                   share_weights=self.share_weights, routing=self.routing, squash_c=self.squash_c)
        return cfg


def margin_loss(y_true: Tensor, p: Tensor, m_plus: float = 0.9, m_minus: float = 0.1, lam: float = 0.25,
                reduction: str = "none") -> Tensor:
    """Margin loss ``y·relu(m⁺ − p)² + λ(1 − y)·relu(p − m⁻)²``, mean over classes (chapter 07).

    Same contract as :func:`kexue.capsule.numpy_ref.margin_loss`; with the default
    ``reduction="none"`` it is usable as a Keras loss.

    Parameters
    ----------
    y_true : Tensor, shape (batch, K)
        0/1 (multi-)hot targets.
    p : Tensor, shape (batch, K)
        Scores in [0, 1].  Integer input is cast to ``keras.backend.floatx()``.
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
    ValueError
        If the shapes differ or are not matrices, ``reduction`` is unknown, or the batch
        is empty with ``reduction="mean"``.
    """
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    p = _float_tensor(p)
    if len(p.shape) != 2 or len(y_true.shape) != 2 or any(
            a is not None and b is not None and a != b for a, b in zip(y_true.shape, p.shape)):
        raise ValueError(_validate.MARGIN_SHAPE.format(tuple(y_true.shape), tuple(p.shape)))
    if reduction == "mean" and p.shape[0] == 0:
        raise ValueError(_validate.EMPTY_MEAN)
    y_true = ops.cast(y_true, p.dtype)
    loss = y_true * ops.relu(m_plus - p) ** 2 + lam * (1 - y_true) * ops.relu(p - m_minus) ** 2
    return ops.mean(loss) if reduction == "mean" else ops.mean(loss, axis=-1)
