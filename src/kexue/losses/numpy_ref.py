"""Numpy reference (the specification) for chapter 01: custom losses.

See ``chapters/01-keras-custom-loss.md`` and the original post
<https://kexue.fm/archives/4493>.  Everything here is plain numpy in float64;
the Keras 3 and PyTorch versions are tested against these functions.

Conventions: ``logits`` has shape ``(batch, n_classes)``; ``labels`` holds
integer class indices of shape ``(batch,)``; per-sample losses are returned
(average them yourself, as the frameworks do by default).
"""
from __future__ import annotations

import numpy as np

from kexue import _validate

__all__ = [
    "check_eps", "check_labels", "log_softmax", "smoothed_targets", "mixed_cross_entropy",
    "optimal_logit_gap", "min_mixed_loss", "center_loss", "center_loss_grad", "compactness",
]


# ----------------------------------------------------------------------------- validation
def check_eps(eps: float) -> float:
    """Return ``eps`` as a float after checking ``0 <= eps < 1``."""
    eps = float(eps)
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"the smoothing weight eps must lie in [0, 1), got {eps}")
    return eps


def check_labels(labels, n_classes: int, batch: int | None = None) -> np.ndarray:
    """Return ``labels`` as an int64 vector after checking shape and range ``[0, n_classes)``.

    Integer-valued floats are accepted; the PyTorch and Keras versions make the same checks
    with the same messages (:func:`kexue._validate.class_labels`).
    """
    return _validate.class_labels(labels, n_classes, batch)


def _check_2d(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, dim), got {a.shape}")
    return a


# ----------------------------------------------------------------------------- mixed cross-entropy
def log_softmax(logits) -> np.ndarray:
    """Row-wise ``log softmax`` of a ``(batch, n)`` array, computed stably."""
    z = _check_2d(logits, "logits")
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def smoothed_targets(labels, n_classes: int, eps: float) -> np.ndarray:
    """Label-smoothed targets ``(1 - eps) * onehot(labels) + eps / n_classes``."""
    eps = check_eps(eps)
    y = check_labels(labels, n_classes)
    return (1.0 - eps) * np.eye(n_classes)[y] + eps / n_classes


def mixed_cross_entropy(logits, labels, eps: float = 0.1) -> np.ndarray:
    """Per-sample ``(1 - eps) * CE(onehot, p) + eps * CE(uniform, p)`` with ``p = softmax(logits)``.

    This is the post's loss written as the mixture of two cross-entropies (not
    through smoothed targets, so that the identity with label smoothing is a check).
    """
    eps = check_eps(eps)
    logp = log_softmax(logits)
    y = check_labels(labels, logp.shape[1], batch=logp.shape[0])
    ce_true = -logp[np.arange(len(y)), y]
    ce_uniform = -logp.mean(axis=1)
    return (1.0 - eps) * ce_true + eps * ce_uniform


def optimal_logit_gap(n_classes: int, eps: float) -> float:
    """Gap ``z_true - z_other`` at the minimum of the mixed loss: ``log(1 + n (1 - eps) / eps)``.

    For ``eps = 0`` (plain cross-entropy) there is no finite minimiser and the
    result is ``inf``.
    """
    eps = check_eps(eps)
    if int(n_classes) < 2:
        raise ValueError(f"need at least 2 classes, got {n_classes}")
    if eps == 0.0:
        return float("inf")
    return float(np.log1p(n_classes * (1.0 - eps) / eps))


def min_mixed_loss(n_classes: int, eps: float) -> float:
    """Minimum of the mixed loss over all logits: the entropy of the smoothed target."""
    eps = check_eps(eps)
    if int(n_classes) < 2:
        raise ValueError(f"need at least 2 classes, got {n_classes}")
    a, b = 1.0 - eps + eps / n_classes, eps / n_classes
    return float(-(a * np.log(a) + ((n_classes - 1) * b * np.log(b) if b > 0 else 0.0)))


# ----------------------------------------------------------------------------- center loss
def _center_inputs(features, labels, centers):
    x = _check_2d(features, "features")
    c = _check_2d(centers, "centers")
    if x.shape[1] != c.shape[1]:
        raise ValueError(_validate.FEATURES_DIM.format(x.shape[1], c.shape[1]))
    y = check_labels(labels, c.shape[0], batch=x.shape[0])
    return x, y, c


def center_loss(features, labels, centers) -> np.ndarray:
    """Per-sample center loss ``||x_i - c_{y_i}||^2`` (a plain sum of squares, no 1/2)."""
    x, y, c = _center_inputs(features, labels, centers)
    return ((x - c[y]) ** 2).sum(axis=1)


def center_loss_grad(features, labels, centers) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form gradients of the batch mean ``L = mean_i ||x_i - c_{y_i}||^2``.

    Returns ``(dL/dfeatures, dL/dcenters)``: ``dL/dx_i = 2 (x_i - c_{y_i}) / B`` and
    ``dL/dc_k = -2/B * sum_{i: y_i = k} (x_i - c_k)`` (zero for classes absent from the batch).
    """
    x, y, c = _center_inputs(features, labels, centers)
    batch = x.shape[0]
    diff = x - c[y]
    d_x = 2.0 * diff / batch
    d_c = np.zeros_like(c)
    np.add.at(d_c, y, -2.0 * diff / batch)
    return d_x, d_c


def compactness(features, labels) -> float:
    """Mean intra-class distance divided by the mean distance between class means.

    Intra: the average over samples of ``||x_i - mu_{y_i}||`` (``mu_k`` the mean
    feature of class k).  Inter: the average of ``||mu_k - mu_l||`` over pairs of
    classes present.  Smaller means tighter, better separated clusters; the ratio
    does not change when all features are scaled.
    """
    x = _check_2d(features, "features")
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"shape mismatch: {y.shape} labels for {len(x)} features")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("compactness needs at least two classes")
    mu = np.stack([x[y == k].mean(axis=0) for k in classes])
    index = np.searchsorted(classes, y)
    intra = np.linalg.norm(x - mu[index], axis=1).mean()
    d = np.linalg.norm(mu[:, None, :] - mu[None, :, :], axis=-1)
    inter = d[np.triu_indices(len(classes), 1)].mean()
    return float(intra / inter)
