"""PyTorch versions of chapter 01's losses, and the small 2-D-feature classifier.

See ``chapters/01-keras-custom-loss.md`` (post: <https://kexue.fm/archives/4493>).
Tested against :mod:`kexue.losses.numpy_ref`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue import _validate
from kexue.losses.numpy_ref import check_eps, compactness
from kexue.progress import progress

KINDS = ("ce", "mixed", "center")


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


class FeatureNet(nn.Module):
    """MLP ``784 → hidden → 64 → feat_dim`` (linear feature layer) followed by a linear classifier."""

    def __init__(self, n_in: int = 784, hidden: int = 128, feat_dim: int = 2, n_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 64), nn.ReLU(),
                                  nn.Linear(64, feat_dim))
        self.head = nn.Linear(feat_dim, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return features, self.head(features)


@dataclass
class RunResult:
    """Outcome of :func:`train_classifier`: test accuracy, compactness and test features."""

    kind: str
    seed: int
    accuracy: float
    compactness: float
    features: np.ndarray = field(repr=False)
    losses: list[float] = field(default_factory=list, repr=False)


def loss_for(kind: str, logits: torch.Tensor, features: torch.Tensor, labels: torch.Tensor,
             centers: CenterLoss | None, *, eps: float, lam: float) -> torch.Tensor:
    """The training loss of one of the chapter's three set-ups: ``ce``, ``mixed`` or ``center``."""
    if kind == "ce":
        return F.cross_entropy(logits, labels)
    if kind == "mixed":
        return mixed_cross_entropy(logits, labels, eps)
    if kind == "center":
        if centers is None:
            raise ValueError("kind 'center' needs a CenterLoss module")
        return F.cross_entropy(logits, labels) + lam * centers(features, labels)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def train_classifier(kind: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                     y_test: np.ndarray, *, seed: int, epochs: int = 12, batch_size: int = 100,
                     lr: float = 1e-3, eps: float = 0.1, lam: float = 0.2, feat_dim: int = 2,
                     desc: str | None = None) -> RunResult:
    """Train :class:`FeatureNet` with Adam under one loss; report test accuracy and compactness.

    Images are flattened and scaled to [0, 1].  The centres (for ``center``) are
    trained by the same Adam optimiser, i.e. by gradient descent as in the post.
    Call :func:`kexue.seed_everything` first; ``seed`` also drives the shuffling.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    to_x = lambda a: torch.tensor(a.reshape(len(a), -1) / 255.0, dtype=torch.float32)  # noqa: E731
    xtr, ytr = to_x(x_train), torch.as_tensor(y_train, dtype=torch.int64)
    xte = to_x(x_test)
    torch.manual_seed(seed)
    net = FeatureNet(xtr.shape[1], feat_dim=feat_dim, n_classes=n_classes)
    centers = CenterLoss(n_classes, feat_dim) if kind == "center" else None
    params = list(net.parameters()) + (list(centers.parameters()) if centers is not None else [])
    opt = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in progress(range(epochs), desc=desc or f"{kind} seed {seed}", unit="epoch"):
        total = 0.0
        for idx in np.array_split(rng.permutation(len(xtr)), max(1, len(xtr) // batch_size)):
            idx = torch.as_tensor(idx)
            features, logits = net(xtr[idx])
            loss = loss_for(kind, logits, features, ytr[idx], centers, eps=eps, lam=lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(xtr))
    net.eval()
    with torch.no_grad():
        features, logits = net(xte)
    acc = float((logits.argmax(1).numpy() == y_test).mean())
    feats = features.numpy().astype(np.float64)
    return RunResult(kind, seed, acc, compactness(feats, y_test), feats, losses)
