"""PyTorch versions of chapter 01's losses (``chapters/01-keras-custom-loss.md``).

Post: <https://kexue.fm/archives/4493>.  Tested against :mod:`kexue.losses.numpy_ref`,
with the same arguments, the same ``reduction="none"`` default and the same error
messages; the chapter's MNIST experiment is in :mod:`kexue.losses.experiment`.
Integer input is cast to PyTorch's default floating dtype (the numpy reference casts
it to float64); floating input keeps its dtype and device.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kexue import _validate
from kexue.losses.numpy_ref import check_eps

__all__ = ["mixed_cross_entropy", "center_loss", "CenterLoss"]


def _matrix(x: torch.Tensor, name: str, shape: str) -> torch.Tensor:
    """The numpy reference's ``_matrix`` checks on a tensor: real numbers, 2-D, finite."""
    _validate.torch_tensor(x, name)
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(_validate.REAL_DTYPE.format(name, x.dtype))
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if x.ndim != 2:
        raise ValueError(_validate.MATRIX_SHAPE.format(name, shape, tuple(x.shape)))
    if x.device.type != "meta" and not bool(torch.isfinite(x).all()):
        raise ValueError(_validate.NONFINITE.format(name))
    return x


def _check_labels(labels: torch.Tensor, n_classes: int, batch: int) -> torch.Tensor:
    """The checks of :func:`kexue._validate.class_labels` on a tensor; returns int64 labels ``(batch,)``."""
    _validate.torch_tensor(labels, "labels")
    if labels.dim() == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dim() != 1:
        raise ValueError(_validate.LABELS_VECTOR.format(tuple(labels.shape)))
    if labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(_validate.LABELS_INT)
    if labels.is_floating_point():
        if labels.numel() and not bool((torch.isfinite(labels) & (labels == labels.round())).all()):
            raise ValueError(_validate.LABELS_INT)
        labels = labels.long()
    if len(labels) != batch:
        raise ValueError(_validate.LABELS_BATCH.format(len(labels), batch))
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ValueError(_validate.LABELS_RANGE.format(n_classes, int(labels.min()), int(labels.max())))
    return labels.long()


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Per-sample ``loss`` (batch,) as it is (``"none"``) or its mean (``"mean"``, non-empty only)."""
    if reduction == "none":
        return loss
    if loss.numel() == 0:
        raise ValueError(_validate.EMPTY_MEAN)
    return loss.mean()


def mixed_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, eps: float = 0.1,
                        reduction: str = "none") -> torch.Tensor:
    """The post's mixed loss ``(1 - eps) CE(onehot, p) + eps CE(uniform, p)`` (chapter 01, eq. mixed).

    Written as the mixture of two cross-entropies with ``p = softmax(logits)``; it equals
    ``F.cross_entropy(logits, labels, label_smoothing=eps)``.

    Parameters
    ----------
    logits : torch.Tensor, shape (batch, n_classes)
        Finite scores; integer tensors are cast to the default floating dtype.
    labels : torch.Tensor of int, shape (batch,)
        Class indices in ``[0, n_classes)``.
    eps : float, optional
        Weight of the uniform target, ``0 <= eps < 1``.
    reduction : {"none", "mean"}, optional
        ``"none"``: one loss per sample; ``"mean"``: their average.

    Returns
    -------
    torch.Tensor, shape (batch,) or ()
        Per-sample losses in the dtype of ``logits`` (``"none"``; shape (0,) for an empty
        batch), or their mean (``"mean"``).

    Raises
    ------
    TypeError
        If ``logits`` or ``labels`` is not a tensor, or ``logits`` does not hold real numbers.
    ValueError
        For a bad ``eps``, label, shape or reduction, non-finite logits, or
        ``reduction="mean"`` on an empty batch.
    """
    eps = check_eps(eps)
    _validate.reduction(reduction)
    logits = _matrix(logits, "logits", "(batch, n_classes)")
    if logits.shape[1] == 0:
        raise ValueError(_validate.NONEMPTY.format("logits", tuple(logits.shape), "class column"))
    labels = _check_labels(labels, logits.shape[1], logits.shape[0])
    logp = F.log_softmax(logits, dim=1)                        # shape (batch, n_classes)
    ce_true = -logp.gather(1, labels[:, None])[:, 0]           # shape (batch,)
    ce_uniform = -logp.mean(dim=1)                             # shape (batch,)
    return _reduce((1.0 - eps) * ce_true + eps * ce_uniform, reduction)


def center_loss(features: torch.Tensor, labels: torch.Tensor, centres: torch.Tensor,
                reduction: str = "none") -> torch.Tensor:
    """Center loss ``||x_i - c_{y_i}||^2``, a plain sum of squares with no 1/2 (chapter 01, eq. center).

    Parameters
    ----------
    features : torch.Tensor, shape (batch, dim)
        The feature vectors ``x_i`` (finite; integer tensors are cast to the default
        floating dtype).
    labels : torch.Tensor of int, shape (batch,)
        Class indices in ``[0, n_classes)``.
    centres : torch.Tensor, shape (n_classes, dim)
        One centre per class.
    reduction : {"none", "mean"}, optional
        ``"none"``: one loss per sample; ``"mean"``: their average.

    Returns
    -------
    torch.Tensor, shape (batch,) or ()
        Per-sample losses (``"none"``), or their mean (``"mean"``).

    Raises
    ------
    TypeError
        If an argument is not a tensor, or ``features``/``centres`` do not hold real numbers.
    ValueError
        For a bad shape, label or reduction, non-finite input, or ``reduction="mean"`` on an
        empty batch.
    """
    _validate.reduction(reduction)
    features = _matrix(features, "features", "(batch, dim)")
    centres = _matrix(centres, "centres", "(n_classes, dim)")
    if features.shape[1] != centres.shape[1]:
        raise ValueError(_validate.FEATURES_DIM.format(features.shape[1], centres.shape[1]))
    labels = _check_labels(labels, centres.shape[0], features.shape[0])
    return _reduce(((features - centres[labels]) ** 2).sum(dim=1), reduction)


class CenterLoss(nn.Module):
    """Center loss with trainable class centres in an ``nn.Embedding`` (chapter 01).

    The centres are looked up with the label, as the post does in Keras, and learned by
    gradient descent together with the network.

    Parameters
    ----------
    n_classes : int
        Number of classes (rows of the centre matrix, >= 1).
    feat_dim : int
        Dimension of the features (>= 1).
    reduction : {"none", "mean"}, optional
        As in :func:`center_loss`.

    Attributes
    ----------
    centres : torch.nn.Embedding
        The centre matrix, ``centres.weight`` of shape (n_classes, feat_dim).
    """

    def __init__(self, n_classes: int, feat_dim: int, reduction: str = "none") -> None:
        super().__init__()
        n_classes = _validate.int_at_least(n_classes, "n_classes", 1)
        feat_dim = _validate.int_at_least(feat_dim, "feat_dim", 1)
        self.reduction = _validate.reduction(reduction)
        self.centres = nn.Embedding(n_classes, feat_dim)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Center loss of ``features`` against the centres of their ``labels``.

        Parameters
        ----------
        features : torch.Tensor, shape (batch, feat_dim)
            The feature vectors.
        labels : torch.Tensor of int, shape (batch,)
            Class indices in ``[0, n_classes)``.

        Returns
        -------
        torch.Tensor, shape (batch,) or ()
            :func:`center_loss` with the module's ``reduction``.
        """
        return center_loss(features, labels, self.centres.weight, self.reduction)

    def extra_repr(self) -> str:
        """The reduction, shown by ``repr``."""
        return f"reduction={self.reduction!r}"
