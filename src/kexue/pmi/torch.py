"""The simpler-GloVe trainer in PyTorch (chapter 04, ``chapters/04-pmi-word-vectors.md``).

Same algorithm, initialisation and mini-batch order as
:func:`kexue.pmi.numpy_ref.train_simpler_glove`; the gradient comes from
autograd and the update from ``torch.optim.Adagrad`` (``initial_accumulator_value=g0``).
"""
from __future__ import annotations

import numpy as np
import torch

from kexue.pmi.numpy_ref import Pairs, _check_training, batch_orders, glove_weight, init_vectors, simpler_glove_loss


def train_simpler_glove_torch(pairs: Pairs, n_words: int, dim: int, *, epochs: int = 10, batch_size: int | None = 8192,
                              lr: float = 0.1, g0: float = 1.0, eps: float = 1e-8, x_max: float = 100.0,
                              alpha: float = 0.75, truncate: bool = False, seed: int = 0,
                              weight: np.ndarray | None = None, dtype: torch.dtype = torch.float32,
                              bar=None) -> tuple[np.ndarray, list[float]]:
    """Fit ``<v_i, v_j> ≈ PMI_ij`` with autograd and ``torch.optim.Adagrad``; returns float64 vectors and losses."""
    _check_training(pairs, n_words, dim, epochs, batch_size)
    lam_np = glove_weight(pairs.x, x_max, alpha, truncate) if weight is None else np.asarray(weight, np.float64)
    V = torch.nn.Parameter(torch.tensor(init_vectors(n_words, dim, seed), dtype=dtype))
    opt = torch.optim.Adagrad([V], lr=lr, initial_accumulator_value=g0, eps=eps)
    ii = torch.from_numpy(pairs.i)
    jj = torch.from_numpy(pairs.j)
    pmi = torch.tensor(pairs.pmi, dtype=dtype)
    lam = torch.tensor(lam_np, dtype=dtype)
    history = []
    for batches in batch_orders(len(pairs), epochs, batch_size, seed):
        for b in batches:
            bt = torch.from_numpy(b)
            i, j = ii[bt], jj[bt]
            diff = (V[i] * V[j]).sum(dim=1) - pmi[bt]
            loss = 0.5 * (lam[bt] * diff * diff).sum()
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
        Vn = V.detach().to(torch.float64).numpy().copy()
        history.append(simpler_glove_loss(Vn, pairs.i, pairs.j, pairs.pmi, lam_np))
        if bar is not None:
            bar.update(1)
    return V.detach().to(torch.float64).numpy().copy(), history
