"""Chapter 03's MNIST experiment in PyTorch (``chapters/03-activation-design.md``).

One small MLP per activation, trained with :func:`kexue.train.fit`; the activations and the
MLP are in :mod:`kexue.activations.torch`.  Importing this module imports PyTorch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from kexue import _validate
from kexue.activations.torch import get, mlp
from kexue.seed import seed_everything
from kexue.train import fit, shuffled

__all__ = ["train_mlp"]


def train_mlp(name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
              hidden: tuple[int, ...] = (128, 128, 128), epochs: int = 5, batch_size: int = 128, lr: float = 1e-3,
              seed: int = 0, device: str | torch.device = "cpu") -> dict[str, list[float]]:
    """Train an MLP with activation ``name`` on flattened images: the chapter 03 experiment.

    The MLP is built here, right after ``seed_everything(seed)``; ``seed`` also fixes the
    batch order.  Adam, cross-entropy; pixels of uint8 images are scaled to [0, 1].

    Parameters
    ----------
    name : str
        The activation, one of :data:`kexue.activations.numpy_ref.NAMES`.
    x_train, x_test : numpy.ndarray, shape (n, ...)
        Images, uint8 (scaled by 1/255) or float (used as they are).
    y_train, y_test : numpy.ndarray of int, shape (n,)
        Class indices.
    hidden : tuple of int, optional
        Widths of the hidden layers.
    epochs, batch_size : int, optional
        Training length and batch size.
    lr : float, optional
        Adam's learning rate.
    seed : int, optional
        Seeds the initial weights and the batch order.
    device : str or torch.device, optional
        Where the model and the data live during training.

    Returns
    -------
    dict
        ``{"test_acc": [...], "train_loss": [...]}``, one float per epoch each.

    Raises
    ------
    ValueError
        For an unknown activation or inconsistent data.
    """
    get(name)
    y_tr, y_te, n_classes = _validate.labelled_split(x_train, y_train, x_test, y_test)
    device = torch.device(device)

    def to_x(a: np.ndarray) -> torch.Tensor:                    # (n, ...) -> (n, n_in) float32
        scale = 255.0 if np.asarray(a).dtype == np.uint8 else 1.0
        return torch.tensor(np.asarray(a, dtype=np.float32).reshape(len(a), -1) / scale, device=device)

    xtr, xte = to_x(x_train), to_x(x_test)
    ytr, yte = torch.as_tensor(y_tr, device=device), torch.as_tensor(y_te, device=device)
    seed_everything(seed, frameworks=["torch"])
    with torch.device("cpu"):            # the initial weights come from the CPU generator (kexue.train)
        model = mlp(name, [xtr.shape[1], *hidden, n_classes])

    def batch_loss(idx: np.ndarray) -> torch.Tensor:
        idx = torch.as_tensor(idx, device=device)
        return F.cross_entropy(model(xtr[idx]), ytr[idx])

    def test_accuracy(model: torch.nn.Module, _epoch: int) -> dict[str, float]:
        with torch.no_grad():
            return {"test_acc": float((model.eval()(xte).argmax(1) == yte).float().mean())}

    hist = fit(model, batch_loss, shuffled(len(xtr), batch_size), epochs=epochs, seed=seed,
               lr=lr, evaluate=test_accuracy, device=device, bar=False)
    return {"test_acc": hist.column("test_acc"), "train_loss": hist.column("loss")}
