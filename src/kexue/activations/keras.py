"""Keras 3 versions of chapter 03's activations (``chapters/03-activation-design.md``) (``keras.ops`` only), tested against ``numpy_ref``.

Usage: ``keras.layers.Dense(64, activation=kexue.activations.keras.xmin)``.
"""
from __future__ import annotations

import keras
from keras import ops

from kexue import _validate
from kexue.activations.numpy_ref import NAMES


@keras.saving.register_keras_serializable(package="kexue")
def xmin(x):
    """x·min(1, eˣ) as max(x, x·e^{-|x|}): finite value and gradient for any finite x."""
    return ops.maximum(x, x * ops.exp(-ops.abs(x)))


def xmin_naive(x):
    """The literal form, whose gradient is NaN where eˣ overflows."""
    return x * ops.minimum(1.0, ops.exp(x))


_FUNCS = {"sigmoid": keras.activations.sigmoid, "tanh": keras.activations.tanh,
          "relu": keras.activations.relu, "softplus": keras.activations.softplus,
          "swish": keras.activations.silu, "xmin": xmin}


def get(name: str):
    """The activation ``name`` as a function of a tensor."""
    if name not in _FUNCS:
        raise ValueError(_validate.ACT_NAME.format(name, ", ".join(NAMES)))
    return _FUNCS[name]


def activation(name: str, x):
    """Value of activation ``name`` at a floating-point tensor ``x``."""
    fn = get(name)
    dtype = keras.backend.standardize_dtype(getattr(x, "dtype", None) or "none")
    if dtype not in ("float16", "bfloat16", "float32", "float64"):
        raise TypeError(_validate.ACT_FLOAT.format(f"dtype {dtype}"))
    return fn(x)


def derivative(name: str, x):
    """Elementwise derivative by ``tf.GradientTape`` (the TensorFlow backend)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = activation(name, x)
    return tape.gradient(y, x)
