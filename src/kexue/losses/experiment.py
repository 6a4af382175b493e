"""Chapter 01's MNIST experiment in PyTorch (``chapters/01-keras-custom-loss.md``).

An MLP with a 2-D feature layer trained under three losses (softmax cross-entropy, mixed
cross-entropy, cross-entropy + center loss) through :func:`kexue.train.fit`; the losses
themselves are in :mod:`kexue.losses.torch`.  Importing this module imports PyTorch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue import train as train_lib
from kexue.losses.numpy_ref import compactness
from kexue.losses.torch import CenterLoss, mixed_cross_entropy
from kexue.seed import seed_everything

__all__ = ["KINDS", "FeatureNet", "RunResult", "loss_for", "train_classifier"]

KINDS = ("ce", "mixed", "center")


class FeatureNet(nn.Module):
    """MLP ``784 → hidden → 64 → feat_dim`` (linear feature layer) followed by a linear classifier."""

    def __init__(self, n_in: int = 784, hidden: int = 128, feat_dim: int = 2, n_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 64), nn.ReLU(),
                                  nn.Linear(64, feat_dim))
        self.head = nn.Linear(feat_dim, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B, n_in) → ``(features (B, feat_dim), logits (B, n_classes))``."""
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

    Images (N, H, W) uint8 are flattened and scaled to [0, 1]; labels (N,) are class indices.
    The centres (for ``center``) are trained by the same Adam optimiser, i.e. by gradient
    descent as in the post.  ``seed`` seeds the initialisation (``seed_everything``) and the
    batch order (:func:`kexue.train.fit`).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    to_x = lambda a: torch.tensor(a.reshape(len(a), -1) / 255.0, dtype=torch.float32)  # noqa: E731
    xtr, ytr = to_x(x_train), torch.as_tensor(y_train, dtype=torch.int64)
    xte = to_x(x_test)
    seed_everything(seed, frameworks=["torch"])
    net = FeatureNet(xtr.shape[1], feat_dim=feat_dim, n_classes=n_classes)
    centers = CenterLoss(n_classes, feat_dim) if kind == "center" else None
    params = list(net.parameters()) + (list(centers.parameters()) if centers is not None else [])

    def batch_loss(idx: np.ndarray) -> torch.Tensor:
        idx = torch.as_tensor(idx)
        features, logits = net(xtr[idx])
        return loss_for(kind, logits, features, ytr[idx], centers, eps=eps, lam=lam)

    hist = train_lib.fit(net, batch_loss, train_lib.shuffled(len(xtr), batch_size), epochs=epochs, seed=seed,
                         optimizer=torch.optim.Adam(params, lr=lr), desc=desc or f"{kind} seed {seed}")
    with torch.no_grad():
        features, logits = net(xte)
    acc = float((logits.argmax(1).numpy() == y_test).mean())
    feats = features.numpy().astype(np.float64)
    return RunResult(kind, seed, acc, compactness(feats, y_test), feats, hist.column("loss"))
