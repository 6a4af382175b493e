"""Numerical helpers shared by the numpy references (one copy for the whole package).

Used by ``chapters/06-attention.md``, ``chapters/07-capsule.md`` and
``chapters/08-kmeans-capsule.md`` through :mod:`kexue.attention.numpy_ref`,
:mod:`kexue.capsule.numpy_ref` and :mod:`kexue.kmeans`.  Imports numpy only.
"""
from __future__ import annotations

import numpy as np

__all__ = ["softmax"]


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, the maximum subtracted first so large logits do not overflow (chapters 06-08).

    Parameters
    ----------
    x : ndarray, any shape
        Logits.
    axis : int, default -1
        The axis that sums to one.

    Returns
    -------
    ndarray, the shape of ``x``
        Probabilities along ``axis``, in the floating dtype of ``x``.
    """
    x = np.asarray(x)
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)
