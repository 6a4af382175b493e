"""Capsules in numpy: the specification of chapter 07 (``chapters/07-capsule.md``).

Shapes used throughout (the letters of the einsum strings):

* ``u``     input capsules, ``(B, n, d_in)`` (``n`` may vary with the image size);
* ``W``     shared weights ``(d_in, k*d_out)`` or unshared ``(n, d_in, k*d_out)``;
* ``u_hat`` prediction vectors ``û_{j|i} = W_j u_i`` (or ``W_{ji} u_i``), ``(B, k, n, d_out)``;
* ``b, c``  routing logits and coupling coefficients, ``(B, k, n)``; ``c`` is a
  softmax over the **output capsules** (axis 1), so ``c[:, :, i].sum() == 1``;
* ``v``     output capsules, ``(B, k, d_out)``; their lengths are the scores.

Three routing variants, by name (:data:`ROUTINGS`):

``"hinton"``  Sabour, Frosst & Hinton (2017): logits *accumulate*,
              ``b += <û, v>``; squash (constant 1) at every iteration.
``"post"``    Su's post https://kexue.fm/archives/4819: logits are *replaced*,
              ``b = <û, v>``; squash (constant 0.5) at every iteration.
``"kmeans"``  Su's follow-up https://kexue.fm/archives/5112 (chapter 08): inside the
              loop the centre is L2-*normalised* instead of squashed, logits
              replaced, squash (constant 0.5) once at the end.

In all three, ``routings=r`` means ``r`` passes of "softmax → weighted sum",
starting from ``b = 0`` (so the first pass is the plain mean over outputs
``c = 1/k``), exactly like the author's Keras code.
"""
from __future__ import annotations

import numpy as np

from kexue import _validate
from kexue.numeric import softmax  # noqa: F401  (one copy for the package; part of this reference)

__all__ = [
    "ROUTINGS", "EPS", "check_routing", "squash", "squash_scale", "l2_normalize", "softmax", "dynamic_routing",
    "predictions", "capsule", "margin_loss", "mean_max_coupling", "implicit_activation", "self_pooling",
]

#: routing name -> squash constant used by default with it
ROUTINGS: dict[str, float] = {"hinton": 1.0, "post": 0.5, "kmeans": 0.5}

#: the small constant inside square roots (Keras' ``epsilon()``)
EPS = 1e-7


def _float_array(x: np.ndarray) -> np.ndarray:
    """``x`` as an array; integer (and boolean) input is cast to float64, floating input kept as it is."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def check_routing(routing: str, routings: int, squash_c: float | None = None) -> float:
    """Validate a routing name, pass count and squash constant (chapter 07).

    Shared by the numpy, PyTorch and Keras versions, so the three raise the same errors.

    Parameters
    ----------
    routing : str
        ``"hinton"``, ``"post"`` or ``"kmeans"`` (the keys of :data:`ROUTINGS`).
    routings : int
        Number of routing passes, >= 1.
    squash_c : float, optional
        The squash constant; ``None`` means the variant's constant from :data:`ROUTINGS`.

    Returns
    -------
    float
        The squash constant to use.

    Raises
    ------
    ValueError
        If the name is unknown, ``routings`` is not an integer >= 1 or ``squash_c`` is not
        a finite number > 0.
    """
    if not isinstance(routing, str) or routing not in ROUTINGS:
        raise ValueError(_validate.ROUTING_NAME.format(routing, sorted(ROUTINGS)))
    if isinstance(routings, bool) or not isinstance(routings, (int, np.integer)) or routings < 1:
        raise ValueError(_validate.ROUTINGS_INT.format(routings))
    return ROUTINGS[routing] if squash_c is None else _validate.squash_constant(squash_c)


def squash(x: np.ndarray, c: float = 1.0, axis: int = -1, eps: float = EPS) -> np.ndarray:
    """The squash non-linearity ``||x||²/(c + ||x||²) · x/||x||`` (chapter 07).

    Computed as ``x·sqrt(||x||² + eps)/(c + ||x||²)``.  ``c = 1`` is Hinton's squash,
    ``c = 0.5`` the post's.  The ``eps`` keeps the gradient finite at ``x = 0`` (it is
    ``sqrt(eps)/c`` times the identity there) and the output length stays strictly
    below 1 for any ``c > eps/2``.

    The squared norm would overflow long before the output does (``|x| = 300`` in
    float16, 1e20 in float32), so a vector whose largest entry ``m`` could overflow
    it (:func:`squash_scale`) is first divided by ``m``: with ``y = x/m``,
    ``t = ||y||²`` the same value is ``y·sqrt(t + eps/m²)/(c/m² + t)``.  Every other
    vector is divided by exactly 1, so its result is bit for bit the plain formula.

    Parameters
    ----------
    x : ndarray, shape (..., d, ...)
        Vectors along ``axis``.  Integer input is cast to float64 (the PyTorch and Keras
        versions cast it to their default float dtype).
    c : float, optional
        The squash constant, a finite number > 0.
    axis : int, optional
        The axis of the vectors.
    eps : float, optional
        The constant under the square root, >= 0.

    Returns
    -------
    ndarray, same shape as ``x``
        Each vector with length ``||x||²/(c + ||x||²) < 1`` and the direction of ``x``.

    Raises
    ------
    ValueError
        If ``c`` is not a finite number > 0 or ``eps`` is negative.
    """
    c = _validate.squash_constant(c)
    eps = _validate.l2_eps(eps)
    x = _float_array(x)
    if x.size == 0:
        return x.copy()
    m = np.max(np.abs(x), axis=axis, keepdims=True)
    m = np.where(m > squash_scale(x.dtype, x.shape[axis]), m, np.ones_like(m))   # the scale: m or 1
    y = x / m
    t = np.sum(y * y, axis=axis, keepdims=True)
    inv2 = (1 / m) / m                                                 # 1/m², 1 for most vectors
    return y * np.sqrt(t + eps * inv2) / (c * inv2 + t)


def squash_scale(dtype: str | np.dtype, d: int) -> float:
    """Largest entry below which ``||x||²`` of a ``d``-vector cannot overflow ``dtype`` (chapter 07).

    Leaves room for the squash constant: ``sqrt(max / (4 d))``.

    Parameters
    ----------
    dtype : str or numpy dtype
        ``"float16"``, ``"bfloat16"``, ``"float32"`` or ``"float64"`` (also ``"torch.float32"``).
    d : int
        The vector length (values below 1 count as 1).

    Returns
    -------
    float
        The threshold on ``max |x_i|``.

    Raises
    ------
    TypeError
        If ``dtype`` is not a floating dtype.
    """
    big = _validate.float_dtype_max(dtype)
    return float(np.sqrt(big / (4.0 * max(int(d), 1))))


def l2_normalize(x: np.ndarray, axis: int = -1, eps: float = EPS) -> np.ndarray:
    """``x / sqrt(||x||² + eps)`` along ``axis``: the normalisation of the ``"kmeans"`` routing (chapters 07, 08).

    The one normalisation of the book: chapter 07's ``"kmeans"`` variant uses the default
    ``eps`` (``K.l2_normalize`` of the author's code, with Keras' epsilon under the root),
    chapter 08's derived routing normalises exactly with ``eps=0``.  A zero vector gives
    the zero vector (also with ``eps=0``, and with a finite gradient).  A vector whose
    squared norm could overflow (:func:`squash_scale`) is divided by its largest entry
    ``m`` first, ``y/sqrt(||y||² + eps/m²)`` with ``y = x/m``; with ``eps=0`` every
    non-zero vector is, so that tiny vectors keep their direction.  Any other vector is
    divided by exactly 1: its result is bit for bit the plain formula.

    Parameters
    ----------
    x : ndarray, shape (..., d, ...)
        Vectors along ``axis``.  Integer input is cast to float64.
    axis : int, optional
        The axis of the vectors.
    eps : float, optional
        The constant under the square root, >= 0 (0: exact unit vectors).

    Returns
    -------
    ndarray, same shape as ``x``
        The normalised vectors; finite for every finite ``x``.

    Raises
    ------
    ValueError
        If ``eps`` is negative or not finite.
    """
    eps = _validate.l2_eps(eps)
    x = _float_array(x)
    if x.size == 0:
        return x.copy()
    m = np.max(np.abs(x), axis=axis, keepdims=True)
    rescale = m > squash_scale(x.dtype, x.shape[axis])
    if eps == 0:
        rescale = rescale | (m > 0)
    s = np.where(rescale, m, np.ones_like(m))                         # the scale: m or exactly 1
    y = x / s
    t = np.sum(y * y, axis=axis, keepdims=True)
    if eps:
        t = t + eps * ((1 / s) / s)                                     # eps/s², eps for most vectors
    return y / np.sqrt(np.where(t > 0, t, np.ones_like(t)))           # zero vector (eps = 0): 0/1


def dynamic_routing(u_hat: np.ndarray, routings: int = 3, routing: str = "post",
                    squash_c: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Route prediction vectors to output capsules, ``routings`` passes from ``b = 0`` (chapter 07).

    Parameters
    ----------
    u_hat : ndarray, shape (batch, k, n, d)
        Prediction vectors ``û_{j|i}``: output capsule ``j`` sees input ``i`` as
        ``u_hat[:, j, i]``.  Integer input is cast to float64.
    routings : int, optional
        Number of passes of "softmax, weighted sum", >= 1 (3 in the post).
    routing : str, optional
        ``"hinton"``, ``"post"`` (default) or ``"kmeans"`` (see the module docstring).
    squash_c : float, optional
        The squash constant; ``None`` uses the variant's constant from :data:`ROUTINGS`.

    Returns
    -------
    v : ndarray, shape (batch, k, d)
        The output capsules.
    c : ndarray, shape (batch, k, n)
        The coupling coefficients of the last pass (the ones that produced ``v``);
        ``c[:, :, i]`` sums to 1 over the outputs.

    Raises
    ------
    ValueError
        If ``u_hat`` is not 4-dimensional or a routing argument is invalid (:func:`check_routing`).
    """
    c_sq = check_routing(routing, routings, squash_c)
    u_hat = _float_array(u_hat)
    if u_hat.ndim != 4:
        raise ValueError(_validate.U_HAT_SHAPE.format(u_hat.shape))
    b = np.zeros(u_hat.shape[:3], dtype=u_hat.dtype)                     # (B, k, n)
    for it in range(routings):
        c = softmax(b, axis=1)                               # over the output capsules j
        s = np.einsum("bkn,bknd->bkd", c, u_hat)
        last = it == routings - 1
        if routing == "kmeans":
            if last:
                return squash(s, c_sq), c
            v = l2_normalize(s)
        else:
            v = squash(s, c_sq)
            if last:
                return v, c
        agreement = np.einsum("bkd,bknd->bkn", v, u_hat)
        b = b + agreement if routing == "hinton" else agreement
    raise AssertionError("unreachable")  # pragma: no cover


def implicit_activation(x: np.ndarray | float, iterations: int = 3) -> np.ndarray:
    """The post's first side dish: ``y`` with ``x = y + cos y``, by fixed-point steps (chapter 07).

    ``iterations`` steps of ``y <- x - cos y`` from ``y = x``, elementwise.  The fixed
    point is exact; a few steps only approximate it, and the iteration contracts with
    rate ``|sin y*|``, slowly where that is close to 1.

    Parameters
    ----------
    x : ndarray or float, any shape
        The inputs.
    iterations : int, optional
        Number of steps, >= 0.

    Returns
    -------
    ndarray, same shape as ``x``, float64
        The approximate solutions ``y``.

    Raises
    ------
    ValueError
        If ``iterations`` is not an integer >= 0.
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    x = np.asarray(x, dtype=np.float64)
    y = x.copy()
    for _ in range(iterations):
        y = x - np.cos(y)
    return y


def self_pooling(xs: np.ndarray, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The post's second side dish: pool vectors into ``x = sum_i softmax_i(<x, x_i>) x_i`` (chapter 07).

    Starts from the mean and substitutes ``iterations`` times.

    Parameters
    ----------
    xs : ndarray, shape (n, d)
        The vectors to pool, n >= 1.
    iterations : int, optional
        Number of substitutions, >= 0.

    Returns
    -------
    x : ndarray, shape (d,)
        The pooled vector.
    weights : ndarray, shape (n,)
        The softmax weights of the last step (uniform if ``iterations == 0``).

    Raises
    ------
    ValueError
        If ``xs`` is not a non-empty matrix or ``iterations`` is not an integer >= 0.
    """
    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim != 2 or len(xs) == 0:
        raise ValueError(f"xs must have shape (n, d) with n >= 1, got {xs.shape}")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    x = xs.mean(axis=0)
    w = np.full(len(xs), 1.0 / len(xs))
    for _ in range(iterations):
        w = softmax(xs @ x, axis=0)                          # (n,)
        x = w @ xs
    return x, w


def predictions(u: np.ndarray, W: np.ndarray, num_capsule: int) -> np.ndarray:
    """Prediction vectors ``û_{j|i} = W_j u_i`` (shared) or ``W_{ji} u_i`` (unshared) (chapter 07).

    Output column ``j*d_out + e`` of ``W`` belongs to output capsule ``j``.

    Parameters
    ----------
    u : ndarray, shape (batch, n, d_in)
        Input capsules.  Integer input is cast to float64.
    W : ndarray, shape (d_in, k*d_out) or (n, d_in, k*d_out)
        Shared weights (any ``n``) or one matrix per (input, output) pair.
    num_capsule : int
        ``k``, the number of output capsules.

    Returns
    -------
    ndarray, shape (batch, k, n, d_out)
        The prediction vectors.

    Raises
    ------
    ValueError
        If a shape does not fit or ``num_capsule`` is not an integer >= 1.
    """
    num_capsule = _validate.positive_int(num_capsule, "num_capsule")
    u = _float_array(u)
    W = _float_array(W)
    if u.ndim != 3:
        raise ValueError(_validate.CAPS_INPUT_SHAPE.format(u.shape))
    d_in = u.shape[-1]
    if W.ndim not in (2, 3) or W.shape[-2] != d_in or W.shape[-1] % num_capsule:
        raise ValueError(f"W must be (d_in={d_in}, k*d_out) or (n, d_in, k*d_out) with k={num_capsule}, "
                         f"got shape {W.shape}")
    d_out = W.shape[-1] // num_capsule
    if W.ndim == 2:
        return np.einsum("bni,ikd->bknd", u, W.reshape(d_in, num_capsule, d_out))
    if W.shape[0] != u.shape[1]:
        raise ValueError(_validate.CAPS_UNSHARED_N.format(W.shape[0], u.shape[1]))
    return np.einsum("bni,nikd->bknd", u, W.reshape(W.shape[0], d_in, num_capsule, d_out))


def capsule(u: np.ndarray, W: np.ndarray, num_capsule: int, routings: int = 3, routing: str = "post",
            squash_c: float | None = None) -> np.ndarray:
    """A capsule layer: :func:`predictions` then :func:`dynamic_routing` (chapter 07).

    Parameters
    ----------
    u : ndarray, shape (batch, n, d_in)
        Input capsules.
    W : ndarray, shape (d_in, k*d_out) or (n, d_in, k*d_out)
        Shared or unshared weights (see :func:`predictions`).
    num_capsule : int
        ``k``, the number of output capsules.
    routings, routing, squash_c
        As in :func:`dynamic_routing`.

    Returns
    -------
    ndarray, shape (batch, k, d_out)
        The output capsules.

    Raises
    ------
    ValueError
        As :func:`predictions` and :func:`dynamic_routing`.
    """
    return dynamic_routing(predictions(u, W, num_capsule), routings, routing, squash_c)[0]


def margin_loss(y_true: np.ndarray, p: np.ndarray, m_plus: float = 0.9, m_minus: float = 0.1,
                lam: float = 0.25, reduction: str = "none") -> np.ndarray:
    """Margin loss ``y·relu(m⁺ − p)² + λ(1 − y)·relu(p − m⁻)²``, mean over classes (chapter 07).

    The post uses m⁺ = 0.9, m⁻ = 0.1 and λ = 0.25 (the paper: λ = 0.5).

    Parameters
    ----------
    y_true : ndarray, shape (batch, K)
        0/1 (multi-)hot targets.
    p : ndarray, shape (batch, K)
        Scores in [0, 1] (capsule lengths).
    m_plus, m_minus, lam : float, optional
        The margins m⁺, m⁻ and the weight λ of the absent classes.
    reduction : {"none", "mean"}, optional
        ``"none"`` (default, in every framework): one value per sample; ``"mean"``: the batch mean.

    Returns
    -------
    ndarray, shape (batch,), or a 0-d array for ``reduction="mean"``
        The loss, float64.

    Raises
    ------
    ValueError
        If the shapes differ or are not matrices, ``reduction`` is unknown, or the batch
        is empty with ``reduction="mean"``.
    """
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    y_true = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y_true.shape != p.shape or p.ndim != 2:
        raise ValueError(_validate.MARGIN_SHAPE.format(y_true.shape, p.shape))
    if reduction == "mean" and len(p) == 0:
        raise ValueError(_validate.EMPTY_MEAN)
    loss = y_true * np.maximum(0.0, m_plus - p) ** 2 + lam * (1 - y_true) * np.maximum(0.0, p - m_minus) ** 2
    return loss.mean() if reduction == "mean" else loss.mean(axis=-1)


def mean_max_coupling(u_hat: np.ndarray, routings: int, routing: str) -> float:
    """Mean over inputs of ``max_j c_ij``: 1/k for uniform couplings, 1 for one-hot ones (chapter 07).

    Parameters
    ----------
    u_hat : ndarray, shape (batch, k, n, d)
        Prediction vectors.
    routings : int
        Number of routing passes.
    routing : str
        The routing variant.

    Returns
    -------
    float
        The mean of the largest coupling per (sample, input) after the last pass.
    """
    _, c = dynamic_routing(u_hat, routings, routing)
    return float(c.max(axis=1).mean())
