"""Chapter 03's MNIST experiment in PyTorch (``chapters/03-activation-design.md``).

One small MLP per activation, trained with :func:`kexue.train.fit`; the activations and the
MLP are in :mod:`kexue.activations.torch`.  Importing this module imports PyTorch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from kexue import train as train_lib
from kexue.activations.torch import mlp
from kexue.seed import seed_everything

__all__ = ["train_mlp"]


def train_mlp(name: str, x_train, y_train, x_test, y_test, *, hidden: tuple[int, ...] = (128, 128, 128),
              epochs: int = 5, batch_size: int = 128, lr: float = 1e-3, seed: int = 0) -> dict:
    """Train an MLP with activation ``name`` on flattened images; the chapter 03 experiment.

    Inputs are numpy arrays: images (N, ...) uint8 or float, labels (N,) int; pixels are
    scaled to [0, 1].  Adam, cross-entropy, ``seed`` for the initialisation and the batch order.
    Returns ``{"test_acc": [...per epoch], "train_loss": [...per epoch]}``.
    """
    to_x = lambda a: torch.tensor(np.asarray(a, dtype=np.float32).reshape(len(a), -1) / (255.0 if np.asarray(a).dtype == np.uint8 else 1.0))  # noqa: E731
    xtr, xte = to_x(x_train), to_x(x_test)
    ytr, yte = torch.tensor(y_train), torch.tensor(y_test)
    seed_everything(seed, frameworks=["torch"])
    model = mlp(name, [xtr.shape[1], *hidden, int(ytr.max()) + 1])

    def batch_loss(idx: np.ndarray) -> torch.Tensor:
        idx = torch.as_tensor(idx)
        return F.cross_entropy(model(xtr[idx]), ytr[idx])

    def evaluate(model: torch.nn.Module, _epoch: int) -> dict[str, float]:
        with torch.no_grad():
            return {"test_acc": float((model.eval()(xte).argmax(1) == yte).float().mean())}

    hist = train_lib.fit(model, batch_loss, train_lib.shuffled(len(xtr), batch_size), epochs=epochs, seed=seed,
                         lr=lr, evaluate=evaluate, bar=False)
    return {"test_acc": hist.column("test_acc"), "train_loss": hist.column("loss")}
