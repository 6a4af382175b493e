"""numpy reference for chapter 03 (``chapters/03-activation-design.md``): activations, their derivatives, and the post's experiments.

The functions here are the specification the PyTorch and Keras versions are
tested against.  Derivatives are in closed form (no autodiff), so comparing
them with a framework's autograd is a check between independent computations.
Activations take floating-point input only (float32 or float64 here); integer
input raises ``TypeError`` in all three frameworks.
"""
from __future__ import annotations

import numpy as np

from kexue import _validate

__all__ = [
    "NAMES", "sigmoid", "xmin", "xmin_naive", "activation", "derivative", "glu", "float32_roundtrip",
    "glorot_uniform", "random_mlp", "mlp_layer_gradients", "zero_gradient_fraction",
]

#: the activations of chapter 03; ``"xmin"`` is the post's x·min(1, eˣ)
NAMES = ("sigmoid", "tanh", "relu", "softplus", "swish", "xmin")


def _as_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(_validate.ACT_FLOAT.format(f"dtype {x.dtype} (the numpy reference takes float32 or float64)"))
    return x


def _check_name(name: str) -> None:
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(_validate.ACT_NAME.format(name, ", ".join(NAMES)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1/(1+e^{-x}), evaluated without overflow for large ``|x|`` (chapter 03).

    Parameters
    ----------
    x : numpy.ndarray, any shape
        float32 or float64 input.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        σ(x).

    Raises
    ------
    TypeError
        If ``x`` is not float32 or float64.
    """
    x = _as_float(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)


def xmin(x: np.ndarray) -> np.ndarray:
    """The post's activation x·min(1, eˣ), computed as ``max(x, x·e^{-|x|})`` (chapter 03).

    Only ``e^{-|x|} ≤ 1`` is ever evaluated, so nothing overflows.

    Parameters
    ----------
    x : numpy.ndarray, any shape
        float32 or float64 input.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        x·min(1, eˣ).

    Raises
    ------
    TypeError
        If ``x`` is not float32 or float64.
    """
    x = _as_float(x)
    return np.maximum(x, x * np.exp(-np.abs(x)))


def xmin_naive(x: np.ndarray) -> np.ndarray:
    """x·min(1, eˣ) written literally: eˣ overflows to inf for x ≳ 88.7 in float32 (chapter 03).

    Parameters
    ----------
    x : numpy.ndarray, any shape
        float32 or float64 input.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        x·min(1, eˣ), with an overflow warning where eˣ overflows.

    Raises
    ------
    TypeError
        If ``x`` is not float32 or float64.
    """
    x = _as_float(x)
    return x * np.minimum(1.0, np.exp(x))


def activation(name: str, x: np.ndarray) -> np.ndarray:
    """Value of activation ``name`` at ``x`` (chapter 03).

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.
    x : numpy.ndarray, any shape
        float32 or float64 input; the dtype is kept.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        f(x).

    Raises
    ------
    ValueError
        For an unknown activation.
    TypeError
        If ``x`` is not float32 or float64.
    """
    _check_name(name)
    x = _as_float(x)
    if name == "sigmoid":
        return sigmoid(x)
    if name == "tanh":
        return np.tanh(x)
    if name == "relu":
        return np.maximum(x, 0).astype(x.dtype)
    if name == "softplus":
        return np.logaddexp(0, x).astype(x.dtype)
    if name == "swish":
        return x * sigmoid(x)
    return xmin(x)


def derivative(name: str, x: np.ndarray) -> np.ndarray:
    """Closed-form derivative of activation ``name`` at ``x`` (chapter 03).

    relu'(0) is taken as 0 (the frameworks' convention); xmin'(0) = 1 from both sides.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.
    x : numpy.ndarray, any shape
        float32 or float64 input.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        f'(x), elementwise.

    Raises
    ------
    ValueError
        For an unknown activation.
    TypeError
        If ``x`` is not float32 or float64.
    """
    _check_name(name)
    x = _as_float(x)
    if name == "sigmoid":
        s = sigmoid(x)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(x) ** 2
    if name == "relu":
        return (x > 0).astype(x.dtype)
    if name == "softplus":
        return sigmoid(x)
    if name == "swish":
        s = sigmoid(x)
        return s + x * s * (1 - s)
    return np.where(x >= 0, 1.0, np.exp(np.minimum(x, 0)) * (1 + x)).astype(x.dtype)


def glu(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """Gated linear unit (x W1 + b1) ⊗ σ(x W2 + b2); Swish is the case W1 = W2, b1 = b2 (chapter 03).

    Parameters
    ----------
    x : numpy.ndarray, shape (batch, d_in)
        float32 or float64 input.
    w1, w2 : numpy.ndarray, shape (d_in, d_out)
        The value and gate weights.
    b1, b2 : numpy.ndarray, shape (d_out,)
        The value and gate biases.

    Returns
    -------
    numpy.ndarray, shape (batch, d_out)
        The gated output.

    Raises
    ------
    TypeError
        If an argument is not float32 or float64.
    """
    x, w1, b1, w2, b2 = (_as_float(a) for a in (x, w1, b1, w2, b2))
    return (x @ w1 + b1) * sigmoid(x @ w2 + b2)


def float32_roundtrip(t: np.ndarray, down: int = 100, extra: int = 40) -> np.ndarray:
    """g(t) = ((t·2^-down)·2^-extra)·2^down·2^extra in float32: the identity in exact arithmetic (chapter 03).

    Scaling far into the subnormal range rounds t to a multiple of 2^(down+extra-149),
    so the "linear" map becomes a staircase: the float-error non-linearity.

    Parameters
    ----------
    t : array_like, any shape
        Input, converted to float32.
    down, extra : int, optional
        The two scaling exponents (>= 0).

    Returns
    -------
    numpy.ndarray of float32, same shape as ``t``
        g(t).

    Raises
    ------
    ValueError
        If an exponent is not an integer >= 0.
    """
    down = _validate.int_at_least(down, "down", 0)
    extra = _validate.int_at_least(extra, "extra", 0)
    t = np.asarray(t, dtype=np.float32)
    a, b = np.float32(2.0 ** -down), np.float32(2.0 ** -extra)
    c, d = np.float32(2.0 ** down), np.float32(2.0 ** extra)
    return ((t * a) * b) * c * d


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot-uniform weights, U(±sqrt(6/(fan_in+fan_out))) (chapter 03).

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator to draw from.
    fan_in, fan_out : int
        Rows and columns of the matrix (>= 1).

    Returns
    -------
    numpy.ndarray, shape (fan_in, fan_out)
        float64 weights.

    Raises
    ------
    ValueError
        If a size is not an integer >= 1.
    """
    fan_in = _validate.int_at_least(fan_in, "fan_in", 1)
    fan_out = _validate.int_at_least(fan_out, "fan_out", 1)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def random_mlp(depth: int = 20, width: int = 64, batch: int = 256,
               seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Weights and inputs of the chapter's deep bias-free MLP at initialisation (chapter 03).

    Standard-normal inputs, then Glorot-uniform weights, drawn in that order from
    ``np.random.default_rng(seed)``; the arguments of :func:`mlp_layer_gradients`.

    Parameters
    ----------
    depth : int, optional
        Number of layers (>= 1).
    width : int, optional
        Width of the input and of every layer (>= 1).
    batch : int, optional
        Number of input rows (>= 1).
    seed : int, optional
        Seed of the generator (>= 0).

    Returns
    -------
    weights : list of numpy.ndarray, each of shape (width, width)
        float64 weight matrices, first layer first.
    x : numpy.ndarray, shape (batch, width)
        float64 inputs.

    Raises
    ------
    ValueError
        If a size or the seed is out of range.
    """
    depth = _validate.int_at_least(depth, "depth", 1)
    width = _validate.int_at_least(width, "width", 1)
    batch = _validate.int_at_least(batch, "batch", 1)
    rng = np.random.default_rng(_validate.int_at_least(seed, "seed", 0))
    x = rng.standard_normal((batch, width))
    return [glorot_uniform(rng, width, width) for _ in range(depth)], x


def _mlp_inputs(weights, x) -> tuple[list[np.ndarray], np.ndarray]:
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)) or not weights:
        raise ValueError(_validate.MLP_WEIGHTS.format(type(weights).__name__ if not isinstance(weights, (list, tuple))
                                                      else "an empty sequence"))
    x = _as_float(x)
    ws = [_as_float(w) for w in weights]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(_validate.NONEMPTY.format("x", x.shape, "row of a matrix (batch, width)")
                         if x.ndim == 2 else _validate.MATRIX_SHAPE.format("x", "(batch, width)", x.shape))
    _validate.finite(x, "x")
    cols, what = x.shape[1], "x"
    for k, w in enumerate(ws):
        if w.ndim != 2:
            raise ValueError(_validate.MATRIX_SHAPE.format(f"weights[{k}]", "(fan_in, fan_out)", w.shape))
        if w.shape[0] != cols:
            raise ValueError(_validate.MLP_CHAIN.format(what, cols, f"weights[{k}]", w.shape[0]))
        _validate.finite(w, f"weights[{k}]")
        cols, what = w.shape[1], f"weights[{k}]"
    return ws, x


def mlp_layer_gradients(name: str, weights: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Weight-gradient norm of every layer of a bias-free MLP, by hand-written back-propagation (chapter 03).

    The MLP is ``h_k = f(h_{k-1} W_k)`` with ``h_0 = x`` and the loss is the mean of the
    last layer's activated outputs.  Back-propagation uses the closed-form
    :func:`derivative`; :func:`random_mlp` makes the chapter's weights and inputs.

    Parameters
    ----------
    name : str
        The activation, one of :data:`NAMES`.
    weights : list of numpy.ndarray, shape (fan_in_k, fan_out_k) each
        The weight matrices, first layer first; ``fan_out_k = fan_in_{k+1}``.
    x : numpy.ndarray, shape (batch, fan_in_0)
        The inputs (float32 or float64, at least one row).

    Returns
    -------
    numpy.ndarray, shape (depth,)
        ``||dloss/dW_k||`` (Frobenius norm) for each layer, first layer first, in the
        dtype of ``x``.

    Raises
    ------
    ValueError
        For an unknown activation, an empty or non-chaining list of weights, an empty
        batch, or non-finite input.
    TypeError
        If ``x`` or a weight matrix is not float32 or float64.
    """
    _check_name(name)
    ws, x = _mlp_inputs(weights, x)
    inputs, pre = [], []
    h = x
    for w in ws:
        inputs.append(h)
        z = h @ w                                               # shape (batch, fan_out_k)
        pre.append(z)
        h = activation(name, z)
    grad_h = np.full_like(h, 1.0 / h.size)                      # d mean / d h_last
    norms = np.empty(len(ws), dtype=x.dtype)
    for k in range(len(ws) - 1, -1, -1):
        grad_z = grad_h * derivative(name, pre[k])              # shape (batch, fan_out_k)
        norms[k] = np.linalg.norm(inputs[k].T @ grad_z)
        grad_h = grad_z @ ws[k].T                               # shape (batch, fan_in_k)
    return norms


def zero_gradient_fraction(name: str, z: np.ndarray, threshold: float = 0.0) -> float:
    """Share of pre-activations whose derivative is 0, or below ``threshold`` in absolute value (chapter 03).

    Parameters
    ----------
    name : str
        The activation, one of :data:`NAMES`.
    z : numpy.ndarray, any non-empty shape
        Pre-activations (float32 or float64).
    threshold : float, optional
        ``0`` counts ``f'(z) == 0``; a positive value counts ``|f'(z)| < threshold``.

    Returns
    -------
    float
        The share in ``[0, 1]``.

    Raises
    ------
    ValueError
        For an unknown activation, empty ``z`` or a negative or non-finite threshold.
    TypeError
        If ``z`` is not float32 or float64.
    """
    threshold = _validate.nonneg_number(threshold, "threshold must be a finite number >= 0, got {!r}")
    d = np.abs(derivative(name, z))
    if d.size == 0:
        raise ValueError(_validate.NONEMPTY.format("z", d.shape, "value"))
    return float(np.mean(d == 0) if threshold == 0 else np.mean(d < threshold))
