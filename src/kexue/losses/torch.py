"""PyTorch versions of chapter 01's losses (``chapters/01-keras-custom-loss.md``).

Post: <https://kexue.fm/archives/4493>.  Tested against :mod:`kexue.losses.numpy_ref`;
the chapter's MNIST experiment is in :mod:`kexue.losses.experiment`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kexue import _validate
from kexue.losses.numpy_ref import check_eps


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
    if reduction == "mean":
        return loss.mean()
    if reduction == "none":
        return loss
    raise ValueError(_validate.REDUCTION.format(reduction))


def mixed_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, eps: float = 0.1,
                        reduction: str = "mean") -> torch.Tensor:
    """``(1 - eps) * CE(onehot, p) + eps * CE(uniform, p)``, written as the post's mixture."""
    eps = check_eps(eps)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (batch, n_classes), got {tuple(logits.shape)}")
    _validate.torch_tensor(logits, "logits", floating=True)
    labels = _check_labels(labels, logits.shape[1], logits.shape[0])
    logp = F.log_softmax(logits, dim=1)
    ce_true = -logp.gather(1, labels[:, None])[:, 0]
    ce_uniform = -logp.mean(dim=1)
    return _reduce((1.0 - eps) * ce_true + eps * ce_uniform, reduction)


def center_loss(features: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor,
                reduction: str = "mean") -> torch.Tensor:
    """``||x_i - c_{y_i}||^2`` (sum of squares, no 1/2), averaged over the batch by default."""
    _validate.torch_tensor(features, "features", floating=True)
    _validate.torch_tensor(centers, "centers", floating=True)
    if features.ndim != 2 or centers.ndim != 2:
        raise ValueError(f"features and centers must be 2-D, got {tuple(features.shape)} "
                         f"and {tuple(centers.shape)}")
    if features.shape[1] != centers.shape[1]:
        raise ValueError(_validate.FEATURES_DIM.format(features.shape[1], centers.shape[1]))
    labels = _check_labels(labels, centers.shape[0], features.shape[0])
    return _reduce(((features - centers[labels]) ** 2).sum(dim=1), reduction)


class CenterLoss(nn.Module):
    """Class centres in an ``nn.Embedding`` looked up with the label (as the post does in Keras)."""

    def __init__(self, n_classes: int, feat_dim: int) -> None:
        super().__init__()
        self.centers = nn.Embedding(n_classes, feat_dim)

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return center_loss(features, labels, self.centers.weight)
