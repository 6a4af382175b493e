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

from kexue import _validate
from kexue.losses.numpy_ref import check_eps, compactness
from kexue.losses.torch import CenterLoss, mixed_cross_entropy
from kexue.seed import seed_everything
from kexue.train import fit, shuffled

__all__ = ["KINDS", "FeatureNet", "RunResult", "loss_for", "train_feature_net"]

#: the chapter's three training losses
KINDS = ("ce", "mixed", "center")
KIND = "kind must be one of {}, got {!r}"


class FeatureNet(nn.Module):
    """MLP ``n_in -> hidden -> 64 -> feat_dim`` (linear feature layer) and a linear classifier (chapter 01).

    Parameters
    ----------
    n_in : int, optional
        Input size (flattened image).
    hidden : int, optional
        Width of the first hidden layer.
    feat_dim : int, optional
        Dimension of the feature layer (2 in the chapter, so that it can be drawn).
    n_classes : int, optional
        Number of classes.
    """

    def __init__(self, n_in: int = 784, hidden: int = 128, feat_dim: int = 2, n_classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 64), nn.ReLU(),
                                  nn.Linear(64, feat_dim))
        self.head = nn.Linear(feat_dim, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and logits of a batch of flattened images.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, n_in)
            Flattened images.

        Returns
        -------
        features : torch.Tensor, shape (batch, feat_dim)
            The feature layer's output.
        logits : torch.Tensor, shape (batch, n_classes)
            The classifier's scores.
        """
        features = self.body(x)
        return features, self.head(features)


@dataclass
class RunResult:
    """Outcome of :func:`train_feature_net` (chapter 01).

    Attributes
    ----------
    kind : str
        The loss, one of :data:`KINDS`.
    seed : int
        The seed of the initial weights and the batch order.
    accuracy : float
        Test accuracy.
    compactness : float
        :func:`kexue.losses.numpy_ref.compactness` of the test features.
    features : numpy.ndarray, shape (n_test, feat_dim)
        The test features, float64.
    losses : list of float
        The mean training loss of every epoch.
    """

    kind: str
    seed: int
    accuracy: float
    compactness: float
    features: np.ndarray = field(repr=False)
    losses: list[float] = field(default_factory=list, repr=False)


def loss_for(kind: str, logits: torch.Tensor, features: torch.Tensor, labels: torch.Tensor,
             centres: CenterLoss | None, *, eps: float, lam: float) -> torch.Tensor:
    """The batch-mean training loss of one of the chapter's three set-ups (chapter 01).

    Parameters
    ----------
    kind : {"ce", "mixed", "center"}
        Softmax cross-entropy, mixed cross-entropy, or cross-entropy + ``lam`` * center loss.
    logits : torch.Tensor, shape (batch, n_classes)
        The classifier's scores.
    features : torch.Tensor, shape (batch, feat_dim)
        The feature layer's output.
    labels : torch.Tensor of int64, shape (batch,)
        Class indices.
    centres : CenterLoss or None
        The centres (needed for ``"center"`` only).
    eps : float
        Smoothing weight of the mixed cross-entropy.
    lam : float
        Weight of the center loss.

    Returns
    -------
    torch.Tensor, shape ()
        The mean loss over the batch.

    Raises
    ------
    ValueError
        For an unknown ``kind``, or ``"center"`` without ``centres``.
    """
    if kind == "ce":
        return F.cross_entropy(logits, labels)
    if kind == "mixed":
        return mixed_cross_entropy(logits, labels, eps, reduction="mean")
    if kind == "center":
        if centres is None:
            raise ValueError("kind 'center' needs a CenterLoss module")
        return F.cross_entropy(logits, labels) + lam * centres(features, labels).mean()
    raise ValueError(KIND.format(KINDS, kind))


def train_feature_net(kind: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                      y_test: np.ndarray, *, seed: int, epochs: int = 12, batch_size: int = 100,
                      lr: float = 1e-3, eps: float = 0.1, lam: float = 0.2, feat_dim: int = 2,
                      desc: str | None = None, device: str | torch.device = "cpu") -> RunResult:
    """Train a :class:`FeatureNet` with Adam under one loss; report test accuracy and compactness (chapter 01).

    The network (and, for ``"center"``, the centres) is built here, right after
    ``seed_everything(seed)``; the centres are trained by the same Adam optimiser, i.e. by
    gradient descent as in the post.  ``seed`` also fixes the batch order
    (:func:`kexue.train.fit`).

    Parameters
    ----------
    kind : {"ce", "mixed", "center"}
        The training loss (:func:`loss_for`).
    x_train, x_test : numpy.ndarray of uint8, shape (n, height, width)
        Images; flattened and scaled to [0, 1].
    y_train, y_test : numpy.ndarray of int, shape (n,)
        Class indices.
    seed : int
        Seeds the initial weights and the batch order.
    epochs, batch_size : int, optional
        Training length and batch size.
    lr : float, optional
        Adam's learning rate.
    eps : float, optional
        Smoothing weight of the mixed cross-entropy.
    lam : float, optional
        Weight of the center loss.
    feat_dim : int, optional
        Dimension of the feature layer.
    desc : str, optional
        Label of the progress bar.
    device : str or torch.device, optional
        Where the model and the data live during training.

    Returns
    -------
    RunResult
        Test accuracy, compactness and features, and the per-epoch training losses.

    Raises
    ------
    ValueError
        For an unknown ``kind``, a bad ``eps`` or ``lam``, or inconsistent data.
    """
    if kind not in KINDS:
        raise ValueError(KIND.format(KINDS, kind))
    eps = check_eps(eps)
    lam = _validate.nonneg_number(lam, _validate.CENTER_LAM)
    y_tr, y_te, n_classes = _validate.labelled_split(x_train, y_train, x_test, y_test)
    device = torch.device(device)

    def to_x(a: np.ndarray) -> torch.Tensor:                    # (n, ...) uint8 -> (n, n_in) float32
        return torch.tensor(np.asarray(a).reshape(len(a), -1) / 255.0, dtype=torch.float32, device=device)

    xtr, ytr, xte = to_x(x_train), torch.as_tensor(y_tr, device=device), to_x(x_test)
    seed_everything(seed, frameworks=["torch"])
    with torch.device("cpu"):            # the initial weights come from the CPU generator (kexue.train)
        net = FeatureNet(xtr.shape[1], feat_dim=feat_dim, n_classes=n_classes)
        centres = CenterLoss(n_classes, feat_dim) if kind == "center" else None
    trained = nn.ModuleList([net] if centres is None else [net, centres])   # what fit moves and Adam updates

    def batch_loss(idx: np.ndarray) -> torch.Tensor:
        idx = torch.as_tensor(idx, device=device)
        features, logits = net(xtr[idx])
        return loss_for(kind, logits, features, ytr[idx], centres, eps=eps, lam=lam)

    hist = fit(trained, batch_loss, shuffled(len(xtr), batch_size), epochs=epochs, seed=seed, lr=lr,
               device=device, desc=desc or f"{kind} seed {seed}")
    with torch.no_grad():
        features, logits = net(xte)
    acc = float((logits.argmax(1).cpu().numpy() == y_te).mean())
    feats = features.cpu().numpy().astype(np.float64)
    return RunResult(kind, seed, acc, compactness(feats, y_te), feats, hist.column("loss"))
