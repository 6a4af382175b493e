"""The simpler-GloVe trainer in PyTorch (chapter 04, ``chapters/04-pmi-word-vectors.md``).

The same algorithm, initialisation and mini-batches as
:func:`kexue.pmi.numpy_ref.train_simpler_glove`, trained by the book's one loop,
:func:`kexue.train.fit`: the gradient comes from autograd and the update from
``torch.optim.Adagrad`` (``initial_accumulator_value=g0``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from kexue.pmi.numpy_ref import Pairs, _check_training, _loss, glove_weight, init_vectors
from kexue.train import fit, in_order, shuffled

__all__ = ["SimplerGlove", "train_simpler_glove"]


class SimplerGlove(nn.Module):
    """One vector per word; ``<v_i, v_j>`` estimates ``PMI(i, j)`` (chapter 04).

    Parameters
    ----------
    vectors : Tensor, shape (n_words, dim)
        The initial vectors (copied into a parameter, on their device and in their dtype).
    """

    def __init__(self, vectors: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(vectors, torch.Tensor) or vectors.ndim != 2 or not vectors.is_floating_point():
            raise TypeError("vectors must be a floating-point torch.Tensor of shape (n_words, dim)")
        self.vectors = nn.Parameter(vectors.detach().clone())

    def forward(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """The dot products ``<v_i, v_j>`` of a batch of pairs (chapter 04).

        Parameters
        ----------
        i, j : Tensor of int64, shape (P,)
            Word indices, on the module's device.

        Returns
        -------
        Tensor, shape (P,)
            One dot product per pair.
        """
        return (self.vectors[i] * self.vectors[j]).sum(dim=-1)


def train_simpler_glove(pairs: Pairs, n_words: int, dim: int, *, epochs: int = 10, batch_size: int | None = 8192,
                        lr: float = 0.1, g0: float = 1.0, eps: float = 1e-8, x_max: float = 100.0,
                        alpha: float = 0.75, truncate: bool = False, seed: int = 0, weight: np.ndarray | None = None,
                        bar: object | None = None, dtype: torch.dtype = torch.float32,
                        device: str | torch.device = "cpu") -> tuple[np.ndarray, list[float]]:
    """Fit ``<v_i, v_j> ≈ PMI_ij`` with autograd, Adagrad and :func:`kexue.train.fit` (chapter 04).

    The twin of :func:`kexue.pmi.numpy_ref.train_simpler_glove`: the same initial vectors
    (:func:`kexue.pmi.numpy_ref.init_vectors` with ``seed``; torch's generator is not used)
    and the same batches, because :func:`kexue.train.shuffled` under ``fit(seed=seed + 1)``
    draws exactly :func:`kexue.pmi.numpy_ref.batch_orders` (a full batch is
    :func:`kexue.train.in_order`).  Each batch's loss is the *sum*
    ``Σ λ (<v_i, v_j> - PMI)^2 / 2`` over its pairs, as in the numpy reference (Adagrad is
    not invariant to rescaling the loss), so ``fit``'s per-epoch ``loss`` column is not
    used; the history is the loss over all pairs after each epoch, as in numpy.

    Parameters
    ----------
    pairs : Pairs
        The pairs to fit (P of them), indices in ``[0, n_words)``.
    n_words : int
        Number of words (rows of the result).
    dim : int
        Vector size, in ``[1, n_words]``.
    epochs : int, optional
        Passes over the pairs, >= 1.
    batch_size : int or None, optional
        Pairs per update; ``None`` for full-batch training.
    lr : float, optional
        Learning rate, > 0.
    g0 : float, optional
        Adagrad's initial accumulator, >= 0.
    eps : float, optional
        Added to ``sqrt(G)``, >= 0.
    x_max, alpha, truncate : optional
        The weight ``λ(x)`` (:func:`kexue.pmi.numpy_ref.glove_weight`).
    seed : int, optional
        Seeds the initial vectors and the batch order.
    weight : numpy.ndarray, shape (P,), optional
        Overrides ``λ(x)``; finite and non-negative.
    bar : object, optional
        A progress bar whose ``update(1)`` is called once per epoch.
    dtype : torch.dtype, optional
        The parameters' dtype (``torch.float64`` reproduces numpy to rounding).
    device : str or torch.device, optional
        Where the vectors and the pairs live during training.

    Returns
    -------
    V : numpy.ndarray of float64, shape (n_words, dim)
        The vectors.
    history : list of float
        The loss over all pairs after each epoch.

    Raises
    ------
    ValueError
        If a pair index is out of range (negative ones included), a size or rate is out of
        range, or the pairs are not finite (the same checks and messages as numpy).
    FloatingPointError
        If a batch's loss overflows (from :func:`kexue.train.fit`, before the update).
    """
    _check_training(pairs, n_words, dim, epochs, batch_size, weight, lr, g0, eps)
    device = torch.device(device)
    lam_np = glove_weight(pairs.x, x_max, alpha, truncate) if weight is None else np.asarray(weight, np.float64)
    model = SimplerGlove(torch.tensor(init_vectors(n_words, dim, seed), dtype=dtype, device=device))
    with torch.device(device):           # Adagrad makes its step counters now, on the default device
        opt = torch.optim.Adagrad(model.parameters(), lr=lr, initial_accumulator_value=g0, eps=eps)
    ii = torch.from_numpy(pairs.i).to(device)                       # (P,)
    jj = torch.from_numpy(pairs.j).to(device)
    pmi = torch.tensor(pairs.pmi, dtype=dtype, device=device)
    lam = torch.tensor(lam_np, dtype=dtype, device=device)

    def batch_loss(idx: np.ndarray) -> torch.Tensor:
        b = torch.from_numpy(idx).to(device)                        # (batch,)
        diff = model(ii[b], jj[b]) - pmi[b]
        return 0.5 * (lam[b] * diff * diff).sum()

    history: list[float] = []

    def full_loss(model: nn.Module, _epoch: int, _row: dict[str, float]) -> None:
        V = model.vectors.detach().to(torch.float64).cpu().numpy()
        history.append(_loss(V, pairs.i, pairs.j, pairs.pmi, lam_np))
        if bar is not None:
            bar.update(1)

    n = len(pairs)
    batches = in_order(n, n) if batch_size is None or batch_size >= n else shuffled(n, batch_size)
    fit(model, batch_loss, batches, epochs=epochs, seed=seed + 1, optimizer=opt, on_epoch_end=full_loss, bar=False)
    return model.vectors.detach().to(torch.float64).cpu().numpy().copy(), history
