"""Keras 3 versions of chapter 03's activations (``chapters/03-activation-design.md``) (``keras.ops`` only), tested against ``numpy_ref``.

Usage: ``keras.layers.Dense(64, activation=kexue.activations.keras.xmin)``; ``xmin`` is
registered (package ``"kexue"``), so such a model saves to ``.keras`` and loads again.
Every function takes floating-point input (integer input raises ``TypeError``, as in
the numpy reference) and keeps its dtype.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops

from kexue import _validate
from kexue.activations.numpy_ref import NAMES

#: a Keras tensor, a backend tensor or a numpy array
Tensor = Any

__all__ = ["xmin", "xmin_naive", "get", "activation", "derivative"]

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _as_float(x: Tensor) -> Tensor:
    """The numpy reference's dtype check: floating point only (symbolic tensors included)."""
    dtype = keras.backend.standardize_dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)
    if dtype not in _FLOATS:
        raise TypeError(_validate.ACT_FLOAT.format(f"dtype {dtype}"))
    return x


@keras.saving.register_keras_serializable(package="kexue")
def xmin(x: Tensor) -> Tensor:
    """x·min(1, eˣ) as ``max(x, x·e^{-|x|})``: finite value and gradient for any finite x (chapter 03).

    Parameters
    ----------
    x : Tensor, any shape
        Floating-point input.

    Returns
    -------
    Tensor, same shape and dtype as ``x``
        x·min(1, eˣ).

    Raises
    ------
    TypeError
        If ``x`` is not floating point.
    """
    x = _as_float(x)
    return ops.maximum(x, x * ops.exp(-ops.abs(x)))


def xmin_naive(x: Tensor) -> Tensor:
    """The literal x·min(1, eˣ), whose gradient is NaN where eˣ overflows (chapter 03).

    Parameters
    ----------
    x : Tensor, any shape
        Floating-point input.

    Returns
    -------
    Tensor, same shape and dtype as ``x``
        x·min(1, eˣ).

    Raises
    ------
    TypeError
        If ``x`` is not floating point.
    """
    x = _as_float(x)
    return x * ops.minimum(1.0, ops.exp(x))


_FUNCS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": keras.activations.sigmoid, "tanh": keras.activations.tanh,
    "relu": keras.activations.relu, "softplus": keras.activations.softplus,
    "swish": keras.activations.silu, "xmin": xmin}


def get(name: str) -> Callable[[Tensor], Tensor]:
    """The activation ``name`` as a function of a tensor (chapter 03).

    Parameters
    ----------
    name : str
        One of :data:`kexue.activations.numpy_ref.NAMES`.

    Returns
    -------
    callable
        ``f(x)`` for a tensor ``x`` of any shape.

    Raises
    ------
    ValueError
        For an unknown activation.
    """
    if not isinstance(name, str) or name not in _FUNCS:
        raise ValueError(_validate.ACT_NAME.format(name, ", ".join(NAMES)))
    return _FUNCS[name]


def activation(name: str, x: Tensor) -> Tensor:
    """Value of activation ``name`` at ``x`` (chapter 03).

    Parameters
    ----------
    name : str
        One of :data:`kexue.activations.numpy_ref.NAMES`.
    x : Tensor, any shape
        Floating-point input; the dtype is kept.

    Returns
    -------
    Tensor, same shape and dtype as ``x``
        f(x).

    Raises
    ------
    ValueError
        For an unknown activation.
    TypeError
        If ``x`` is not floating point.
    """
    fn = get(name)
    return fn(_as_float(x))


def derivative(name: str, x: Tensor) -> Tensor:
    """Elementwise derivative of activation ``name`` at ``x``, by ``tf.GradientTape`` (chapter 03).

    Needs the TensorFlow backend.

    Parameters
    ----------
    name : str
        One of :data:`kexue.activations.numpy_ref.NAMES`.
    x : Tensor, any shape
        Floating-point input.

    Returns
    -------
    Tensor, same shape and dtype as ``x``
        f'(x).

    Raises
    ------
    ValueError
        For an unknown activation.
    TypeError
        If ``x`` is not floating point.
    """
    import tensorflow as tf

    get(name)
    x = tf.convert_to_tensor(_as_float(x))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = activation(name, x)
    return tape.gradient(y, x)
