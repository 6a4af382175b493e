"""numpy reference for chapter 03 (``chapters/03-activation-design.md``): activations, their derivatives, and the post's experiments.

The functions here are the specification the PyTorch and Keras versions are
tested against.  Derivatives are in closed form (no autodiff), so comparing
them with a framework's autograd is a check between independent computations.
"""
from __future__ import annotations

import numpy as np

from kexue import _validate

__all__ = [
    "NAMES", "sigmoid", "xmin", "xmin_naive", "activation", "derivative", "glu", "float32_roundtrip",
    "glorot_uniform", "mlp_layer_gradients", "zero_gradient_fraction",
]

#: the activations of chapter 03; ``"xmin"`` is the post's x·min(1, eˣ)
NAMES = ("sigmoid", "tanh", "relu", "softplus", "swish", "xmin")


def _as_float(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(_validate.ACT_FLOAT.format(f"dtype {x.dtype} (the numpy reference takes float32 or float64)"))
    return x


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ValueError(_validate.ACT_NAME.format(name, ", ".join(NAMES)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1/(1+e^{-x}), evaluated without overflow for large |x|."""
    x = _as_float(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)


def xmin(x: np.ndarray) -> np.ndarray:
    """The post's activation x·min(1, eˣ), computed as max(x, x·e^{-|x|}).

    Only e^{-|x|} ≤ 1 is ever evaluated, so nothing overflows.
    """
    x = _as_float(x)
    return np.maximum(x, x * np.exp(-np.abs(x)))


def xmin_naive(x: np.ndarray) -> np.ndarray:
    """x·min(1, eˣ) written literally: eˣ overflows to inf for x ≳ 88.7 in float32."""
    x = _as_float(x)
    return x * np.minimum(1.0, np.exp(x))


def activation(name: str, x: np.ndarray) -> np.ndarray:
    """Value of activation ``name`` at ``x`` (float32 or float64; the dtype is kept)."""
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
    """Closed-form derivative of activation ``name`` at ``x``.

    relu'(0) is taken as 0 (the frameworks' convention); xmin'(0) = 1 from both sides.
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
    """Gated linear unit (x W1 + b1) ⊗ σ(x W2 + b2); Swish is the case W1 = W2, b1 = b2."""
    return (x @ w1 + b1) * sigmoid(x @ w2 + b2)


def float32_roundtrip(t: np.ndarray, down: int = 100, extra: int = 40) -> np.ndarray:
    """g(t) = ((t·2^-down)·2^-extra)·2^down·2^extra in float32: the identity in exact arithmetic.

    Scaling far into the subnormal range rounds t to a multiple of 2^(down+extra-149),
    so the "linear" map becomes a staircase: the float-error non-linearity.
    """
    t = np.asarray(t, dtype=np.float32)
    a, b = np.float32(2.0 ** -down), np.float32(2.0 ** -extra)
    c, d = np.float32(2.0 ** down), np.float32(2.0 ** extra)
    return ((t * a) * b) * c * d


def glorot_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot-uniform weights, U(±sqrt(6/(fan_in+fan_out)))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def mlp_layer_gradients(name: str, depth: int = 20, width: int = 64, batch: int = 256,
                        seed: int = 0) -> np.ndarray:
    """Weight-gradient norm of every layer of a deep bias-free MLP at initialisation.

    Glorot-uniform weights, standard-normal inputs, loss = mean of the last
    layer's activated outputs.  Back-propagation is written out by hand with
    the closed-form :func:`derivative`, in float64.  Returns ``depth`` norms,
    first layer first.
    """
    _check_name(name)
    if depth < 1 or width < 1 or batch < 1:
        raise ValueError("depth, width and batch must be >= 1")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, width))
    weights = [glorot_uniform(rng, width, width) for _ in range(depth)]
    inputs, pre = [], []
    h = x
    for w in weights:
        inputs.append(h)
        z = h @ w
        pre.append(z)
        h = activation(name, z)
    grad_h = np.full_like(h, 1.0 / h.size)
    norms = np.empty(depth)
    for k in range(depth - 1, -1, -1):
        grad_z = grad_h * derivative(name, pre[k])
        norms[k] = np.linalg.norm(inputs[k].T @ grad_z)
        grad_h = grad_z @ weights[k].T
    return norms


def zero_gradient_fraction(name: str, z: np.ndarray, threshold: float = 0.0) -> float:
    """Share of pre-activations ``z`` whose derivative is 0 (``threshold=0``) or |f'| < threshold."""
    d = np.abs(derivative(name, z))
    return float(np.mean(d == 0) if threshold == 0 else np.mean(d < threshold))
