"""Checks and error messages shared by the numpy, PyTorch and Keras versions of a topic.

Every check a numpy reference makes, its framework twins make with the *same*
message; the message text lives here once.  The functions that look at values
take numpy arrays (the framework modules convert concrete tensors first);
:func:`torch_tensor` is the one entry check of the PyTorch functions.
Importing this module imports neither PyTorch nor TensorFlow.
"""
from __future__ import annotations

import numbers

import numpy as np

# ----------------------------------------------------------------------------- messages
SQUASH_C = "the squash constant c must be a finite number > 0, got {!r}"
LABELS_INT = "labels must be integer class indices"
LABELS_VECTOR = "labels must be a vector of class indices, got shape {}"
LABELS_BATCH = "shape mismatch: {} labels for a batch of {}"
LABELS_RANGE = "label out of range: labels must lie in [0, {}), got min {} and max {}"
FEATURES_DIM = "shape mismatch: features have dimension {} but the centres have dimension {}"
TAGS_INT = "tags must be integers, got dtype {}"
TAGS_SHAPE = "tags must have shape {} to match emissions, got {}"
TAGS_RANGE = "tag out of range: tags must lie in [0, {}), got min {}, max {}"
NONFINITE = "{} contains NaN or infinite values"
MASK_BOOL = "{} must be a boolean array (True = keep), got dtype {}"
MASK_SHAPE = "{} has shape {}, which does not broadcast to {}"
MARGIN_SHAPE = "y_true and p must be matrices of the same shape, got {} and {}"
ACT_FLOAT = "activations take floating-point input, got {}"
ACT_NAME = "unknown activation {!r}; choose from {}"
QKV_NDIM = "q, k, v need at least 2 dimensions (..., T, d)"
QK_DIM = "q and k must share the last dimension, got {} and {}"
KV_LEN = "k and v must have the same length, got {} and {}"
CONSTRAINT_SHAPE = "{} must be a boolean array of shape {}, got shape {}"


def squash_constant(c) -> float:
    """Return the squash constant ``c`` as a float after checking that it is finite and positive."""
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not np.isfinite(c) or not c > 0:
        raise ValueError(SQUASH_C.format(c))
    return float(c)


def class_labels(y: np.ndarray, n_classes: int, batch: int | None = None) -> np.ndarray:
    """Integer class indices ``(batch,)`` (a ``(batch, 1)`` column is accepted) as int64.

    Integer-valued floats are accepted; any other float, a wrong length or a label
    outside ``[0, n_classes)`` raises ``ValueError``.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(LABELS_VECTOR.format(y.shape))
    if y.dtype == np.bool_:
        raise ValueError(LABELS_INT)
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating) or not np.all(np.isfinite(y)) or not np.all(np.mod(y, 1) == 0):
            raise ValueError(LABELS_INT)
    y = y.astype(np.int64)
    if batch is not None and len(y) != batch:
        raise ValueError(LABELS_BATCH.format(len(y), batch))
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(LABELS_RANGE.format(n_classes, y.min(), y.max()))
    return y


def constraint(a, shape: tuple[int, ...], name: str) -> np.ndarray:
    """A boolean hard-constraint mask (``True`` = allowed) of exactly ``shape``."""
    m = np.asarray(a)
    if m.dtype != np.bool_:
        if not np.all((m == 0) | (m == 1)):
            raise ValueError(f"{name} must contain only booleans (or 0/1)")
        m = m.astype(bool)
    if m.shape != tuple(shape):
        raise ValueError(CONSTRAINT_SHAPE.format(name, tuple(shape), m.shape))
    return m


def torch_tensor(x, name: str, *, floating: bool = False):
    """Reject what is not a ``torch.Tensor`` (lists, numpy arrays, numbers) with a ``TypeError``.

    ``floating=True`` also requires a floating-point dtype.  Converting silently
    would put the data on the CPU in a default dtype, whatever the caller meant.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__} "
                        f"(convert it with torch.as_tensor(...) on the device you want)")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def keras_concrete(x):
    """``x`` as a numpy array when it has a value (eager); ``None`` for symbolic or traced tensors."""
    import warnings

    if isinstance(x, np.ndarray):
        return x
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():      # inside a traced train step: nothing to check
            return None
    if hasattr(x, "numpy"):                 # eager tensors and variables
        return np.asarray(x.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return np.asarray(keras.ops.convert_to_numpy(x))
        except Exception:  # symbolic tensor of another backend
            return None


REDUCTION = "reduction must be 'none' or 'mean', got {!r}"
