"""PyTorch side of chapter 02 (``chapters/02-rnn-saliency.md``, https://kexue.fm/archives/4582).

The post's classifier rebuilt (its code is lost; see the chapter):
Embedding(256) → LSTM(128) → Dropout(0.5) → Dense(1, sigmoid), with the
Keras 2 default initialisers.  Id 0 is padding *and* every word outside the
vocabulary; the model skips such tokens, which is what Keras' ``mask_zero=True``
does (the state is carried over), so they score exactly 0 under every method.

Besides training, this module provides the hidden-state trajectory of one
sentence (for :func:`kexue.saliency.numpy_ref.trajectory_scores`) and three
attributions to compare it with: leave-one-out occlusion, gradient × input on
the embeddings, and integrated gradients (own implementation, midpoint or Gauss–Legendre rule).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kexue import train as train_lib
from kexue.memory import release_freed_memory

__all__ = ["SentimentLSTM", "compress", "batch_ids", "train_classifier", "predict_proba",
           "hidden_states", "batch_hidden_states", "occlusion_scores", "grad_x_input", "integrated_gradients",
           "IGResult", "quadrature", "captum_integrated_gradients", "export_weights"]


class SentimentLSTM(nn.Module):
    """Embedding → unidirectional LSTM → dropout → one logit, read from the last real step.

    ``vocab_size`` counts id 0.  :meth:`forward` takes right-padded ids and their
    lengths (see :func:`batch_ids`); the LSTM starts from ``h_0 = c_0 = 0``.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 256, units: int = 128, dropout: float = 0.5):
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must count id 0 and at least one word, got {vocab_size}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, units, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(units, 1)
        self.keras_init_()

    @torch.no_grad()
    def keras_init_(self) -> None:
        """Keras 2 defaults: uniform(±0.05) embeddings, Glorot kernels, orthogonal recurrent kernel, forget bias 1."""
        u = self.lstm.hidden_size
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.embedding.weight[0].zero_()
        nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
        nn.init.orthogonal_(self.lstm.weight_hh_l0.T)   # Keras: orthogonal on the (u, 4u) matrix
        self.lstm.bias_ih_l0.zero_()
        self.lstm.bias_hh_l0.zero_()
        self.lstm.bias_ih_l0[u:2 * u] = 1.0
        nn.init.xavier_uniform_(self.dense.weight)
        self.dense.bias.zero_()

    def logits_from_embeddings(self, emb: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits from embedded, right-padded sequences ``(batch, time, embed_dim)``."""
        out, _ = self.lstm(emb)
        idx = (lengths.clamp(min=1) - 1).to(torch.long)
        last = out[torch.arange(out.shape[0]), idx]
        last = torch.where((lengths > 0)[:, None], last, torch.zeros_like(last))  # empty: h = h_0 = 0
        return self.dense(self.dropout(last)).squeeze(-1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.logits_from_embeddings(self.embedding(ids), lengths)


def compress(ids) -> np.ndarray:
    """The ids the LSTM actually reads: id 0 (padding / unknown word) removed."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1:
        raise ValueError(f"ids must be a 1-d sequence, got rank {ids.ndim}")
    return ids[ids != 0]


def batch_ids(seqs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad compressed id sequences into ``(ids, lengths)`` tensors."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.zeros((len(seqs), max(1, int(lengths.max(initial=0)))), dtype=np.int64)
    for row, s in zip(out, seqs):
        row[:len(s)] = s
    return torch.from_numpy(out), torch.from_numpy(lengths)


def predict_proba(model: SentimentLSTM, seqs: Sequence[np.ndarray], batch_size: int = 512) -> np.ndarray:
    """P(positive) (N,) for compressed id sequences, in eval mode (no dropout), batched by length."""
    lengths = np.array([len(s) for s in seqs])
    return train_lib.predict_proba(model, lambda idx: batch_ids([seqs[j] for j in idx]),
                                   train_lib.by_length(lengths, batch_size))


def train_classifier(model: SentimentLSTM, seqs: Sequence[np.ndarray], labels, *, epochs: int = 5,
                     batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                     val: tuple[Sequence[np.ndarray], np.ndarray] | None = None,
                     desc: str = "train") -> list[dict[str, float]]:
    """Adam on binary cross-entropy with :func:`kexue.train.fit`, length-bucketed batches.

    Returns one row per epoch: ``epoch``, mean training ``loss``, ``train_acc`` (running, with
    dropout) and, if ``val = (seqs, labels)`` is given, ``val_acc``.
    """
    y = np.asarray(labels, dtype=np.float32)
    if len(seqs) != len(y) or len(y) == 0:
        raise ValueError(f"need one label per sequence, got {len(seqs)} sequences and {len(y)} labels")
    if any(len(s) == 0 for s in seqs):
        raise ValueError("drop empty sequences (no known word) before training")
    lengths = np.array([len(s) for s in seqs])
    loss_fn = nn.BCEWithLogitsLoss()

    def batch_loss(idx: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        ids, lens = batch_ids([seqs[j] for j in idx])
        target = torch.from_numpy(y[idx])
        logits = model(ids, lens)
        correct = int(((logits.detach() > 0).float() == target).sum())
        return loss_fn(logits, target), {"train_acc": correct}

    evaluate = None
    if val is not None:
        val_pos = np.asarray(val[1]) == 1

        def evaluate(model: nn.Module, _epoch: int) -> dict[str, float]:
            return {"val_acc": float(np.mean((predict_proba(model, val[0]) > 0.5) == val_pos))}

    hist = train_lib.fit(model, batch_loss, train_lib.bucketed(lengths, batch_size), epochs=epochs, seed=seed,
                         lr=lr, evaluate=evaluate, desc=desc)
    model.eval()
    release_freed_memory()  # the freed batches would otherwise stay in the process (~0.25 GB)
    return hist.epochs


# ----------------------------------------------------------------------------- one sentence
def _real(ids) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or len(ids) == 0:
        raise ValueError(f"ids must be a non-empty 1-d sequence, got shape {ids.shape}")
    keep = ids != 0
    if not keep.any():
        raise ValueError("every token is padding / unknown (id 0): nothing to score")
    return ids[keep], keep


def hidden_states(model: SentimentLSTM, ids) -> np.ndarray:
    """The LSTM output state after each token, ``(n, units)`` float64; ``h_0 = 0``.

    Tokens with id 0 are skipped by the model, so their row repeats the previous
    state (zeros before the first real token), exactly like Keras masking.
    """
    real, keep = _real(ids)
    model.eval()
    with torch.no_grad():
        out, _ = model.lstm(model.embedding(torch.from_numpy(real))[None])
    out = out[0].double().numpy()
    pos = np.cumsum(keep) - 1
    states = np.zeros((len(keep), out.shape[1]))
    states[pos >= 0] = out[pos[pos >= 0]]
    return states


def batch_hidden_states(model: SentimentLSTM, id_arrays: Sequence[np.ndarray], batch_size: int = 256
                        ) -> list[np.ndarray]:
    """:func:`hidden_states` for many sentences at once (padded batches; same numbers, up to float32 rounding).

    Each array is float32, the LSTM's own precision (half the memory of float64 for a whole
    test set); the numpy reference converts it to float64 exactly.
    """
    model.eval()
    reals, keeps = zip(*(_real(ids) for ids in id_arrays)) if len(id_arrays) else ((), ())
    order = np.argsort([len(r) for r in reals], kind="stable")
    out: list[np.ndarray] = [np.empty(0)] * len(reals)
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            ids, lens = batch_ids([reals[j] for j in idx])
            seq, _ = model.lstm(model.embedding(ids))
            seq = seq.numpy()
            for row, j in enumerate(idx):
                pos = np.cumsum(keeps[j]) - 1
                states = np.zeros((len(keeps[j]), seq.shape[2]), dtype=np.float32)
                states[pos >= 0] = seq[row, pos[pos >= 0]]
                out[j] = states
    return out


def _spread(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.zeros(len(keep))
    out[keep] = values
    return out


def occlusion_scores(model: SentimentLSTM, ids) -> np.ndarray:
    """Leave-one-out: p(predicted class) minus the same with the token removed; id-0 tokens score 0."""
    real, keep = _real(ids)
    n = len(real)
    variants = [real] + [np.delete(real, i) for i in range(n)]
    p = predict_proba(model, variants)
    sign = 1.0 if p[0] >= 0.5 else -1.0
    return _spread(sign * (p[0] - p[1:]), keep)


def _embed(model: SentimentLSTM, real: np.ndarray) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model.embedding(torch.from_numpy(real)).clone()


def grad_x_input(model: SentimentLSTM, ids) -> np.ndarray:
    """Gradient × input on the embeddings, summed over the embedding axis, toward the predicted class."""
    real, keep = _real(ids)
    e = _embed(model, real)[None].requires_grad_(True)
    z = model.logits_from_embeddings(e, torch.tensor([len(real)]))[0]
    (g,) = torch.autograd.grad(z, e)
    sign = 1.0 if float(z.detach()) >= 0 else -1.0
    return _spread(sign * (g * e).sum(-1)[0].detach().double().numpy(), keep)


@dataclass
class IGResult:
    """Integrated gradients of the logit for one sentence (baseline: all-zero embeddings)."""

    scores: np.ndarray        # per token (id 0 → 0), toward the predicted class
    attributions: np.ndarray  # (n_real, embed_dim), of the logit itself (not signed)
    logit: float
    baseline_logit: float

    @property
    def completeness_gap(self) -> float:
        """|sum of attributions − (logit − baseline logit)|: 0 for exact integration."""
        return abs(float(self.attributions.sum()) - (self.logit - self.baseline_logit))


def quadrature(n_steps: int, rule: str = "midpoint") -> tuple[np.ndarray, np.ndarray]:
    """Points ``alpha_k`` in (0, 1) and weights (summing to 1) of a quadrature rule on [0, 1].

    ``"midpoint"``: ``alpha_k = (k + 1/2) / n``, weights ``1/n``; ``"gausslegendre"``:
    the Gauss–Legendre nodes mapped to [0, 1].  These are Captum's ``riemann_middle``
    and ``gausslegendre`` rules.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    if rule == "midpoint":
        return (np.arange(n_steps) + 0.5) / n_steps, np.full(n_steps, 1.0 / n_steps)
    if rule == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(n_steps)
        return 0.5 * (x + 1.0), 0.5 * w
    raise ValueError(f"unknown quadrature rule {rule!r}; use 'midpoint' or 'gausslegendre'")


def integrated_gradients(model: SentimentLSTM, ids, n_steps: int = 32, rule: str = "midpoint") -> IGResult:
    """Integrated gradients of the logit w.r.t. the embeddings, straight path from zero embeddings.

    ``IG = (e - 0) * ∫_0^1 ∂z/∂e(α e) dα``, the integral by ``rule`` (see
    :func:`quadrature`) with ``n_steps`` points, in one batched backward pass.
    Completeness: the attributions sum to ``z(e) - z(0)`` up to the integration error.
    """
    real, keep = _real(ids)
    e = _embed(model, real)
    alphas, w = quadrature(n_steps, rule)
    a = torch.from_numpy(np.concatenate([alphas, [0.0, 1.0]])).to(e.dtype)[:, None, None]
    path = (a * e[None]).requires_grad_(True)
    z = model.logits_from_embeddings(path, torch.full((n_steps + 2,), len(real)))
    (g,) = torch.autograd.grad(z[:n_steps].sum(), path)
    avg = (torch.from_numpy(w).to(e.dtype)[:, None, None] * g[:n_steps]).sum(0)
    attr = (e * avg).double().numpy()
    base, logit = (float(v) for v in z[n_steps:].detach())
    sign = 1.0 if logit >= 0 else -1.0
    return IGResult(_spread(sign * attr.sum(-1), keep), attr, logit, base)


def captum_integrated_gradients(model: SentimentLSTM, ids, n_steps: int = 32,
                                method: str = "riemann_middle") -> np.ndarray:
    """Captum's ``IntegratedGradients`` on the same logit, baseline and path: ``(n_real, embed_dim)``.

    The independent reference for :func:`integrated_gradients` (``"riemann_middle"``
    is the midpoint rule, ``"gausslegendre"`` the Gauss–Legendre rule).
    Captum is needed only for this check.
    """
    with warnings.catch_warnings():   # captum imports tqdm.auto, which warns once outside widgets
        warnings.filterwarnings("ignore", message="IProgress not found")
        from captum.attr import IntegratedGradients
    real, _ = _real(ids)
    e = _embed(model, real)[None]
    lengths = torch.tensor([len(real)])

    def logit(x: torch.Tensor) -> torch.Tensor:
        return model.logits_from_embeddings(x, lengths.expand(x.shape[0]))

    attr = IntegratedGradients(logit).attribute(e, baselines=torch.zeros_like(e), n_steps=n_steps, method=method)
    return attr[0].detach().double().numpy()


def export_weights(model: SentimentLSTM) -> dict[str, np.ndarray]:
    """The trained weights in the Keras layout (gates i, f, c, o in both frameworks)."""
    sd = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    return {
        "embedding": sd["embedding.weight"],
        "kernel": sd["lstm.weight_ih_l0"].T.copy(),
        "recurrent_kernel": sd["lstm.weight_hh_l0"].T.copy(),
        "bias": sd["lstm.bias_ih_l0"] + sd["lstm.bias_hh_l0"],
        "dense_kernel": sd["dense.weight"].T.copy(),
        "dense_bias": sd["dense.bias"],
    }
