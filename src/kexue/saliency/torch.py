"""PyTorch side of chapter 02 (``chapters/02-rnn-saliency.md``, https://kexue.fm/archives/4582).

The post's classifier rebuilt (its code is lost; see the chapter):
Embedding(256) → LSTM(128) → Dropout(0.5) → Dense(1, sigmoid), with the
Keras 2 default initialisers.  Id 0 is padding *and* every word outside the
vocabulary; the model skips such tokens, which is what Keras' ``mask_zero=True``
does (the state is carried over), so they score exactly 0 under every method.

Besides training (:func:`train_sentiment_lstm`, through :func:`kexue.train.fit`), this
module provides the hidden-state trajectory of one sentence (for
:func:`kexue.saliency.numpy_ref.trajectory_scores`) and three attributions to compare it
with: leave-one-out occlusion, gradient × input on the embeddings, and integrated
gradients (own implementation, midpoint or Gauss–Legendre rule).  Every function that
receives a model computes on the model's device and returns numpy arrays.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kexue import _validate
from kexue.memory import release_freed_memory
from kexue.train import bucketed, by_length, fit, model_device, place_model, predict

__all__ = ["SentimentLSTM", "compress", "batch_ids", "train_sentiment_lstm", "sentiment_probabilities",
           "hidden_states", "batch_hidden_states", "occlusion_scores", "grad_x_input", "integrated_gradients",
           "IGResult", "quadrature", "captum_integrated_gradients", "export_weights"]


class SentimentLSTM(nn.Module):
    """Embedding → unidirectional LSTM → dropout → one logit, read from the last real step (chapter 02).

    The LSTM starts from ``h_0 = c_0 = 0``; the weights start from the Keras 2 defaults
    (:meth:`keras_init_`), drawn from torch's global generator (seed it before building).

    Parameters
    ----------
    vocab_size : int
        Rows of the embedding, counting id 0 (padding / unknown word); at least 2.
    embed_dim : int, optional
        Embedding width.
    units : int, optional
        LSTM units.
    dropout : float, optional
        Dropout rate on the final state, in [0, 1).

    Raises
    ------
    ValueError
        If a size is not a positive integer or ``dropout`` is outside [0, 1).
    """

    def __init__(self, vocab_size: int, embed_dim: int = 256, units: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 2:
            raise ValueError(_validate.VOCAB_SIZE.format(vocab_size))
        _validate.int_at_least(embed_dim, "embed_dim", 1)
        _validate.int_at_least(units, "units", 1)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(_validate.DROPOUT.format(dropout))
        self.embedding = nn.Embedding(int(vocab_size), int(embed_dim), padding_idx=0)
        self.lstm = nn.LSTM(int(embed_dim), int(units), batch_first=True)
        self.dropout = nn.Dropout(float(dropout))
        self.dense = nn.Linear(int(units), 1)
        self.keras_init_()

    @torch.no_grad()
    def keras_init_(self) -> None:
        """Reset the weights to the Keras 2 defaults (chapter 02).

        Uniform(±0.05) embeddings (row 0 zero), Glorot-uniform input and dense kernels, an
        orthogonal recurrent kernel, zero biases except 1 on the forget gate.
        """
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
        """The logit of each sequence from its embedded, right-padded tokens (chapter 02).

        Parameters
        ----------
        emb : Tensor, shape (batch, time, embed_dim)
            Embedded tokens; rows past a sequence's length are ignored.
        lengths : Tensor of int, shape (batch,)
            Real tokens per sequence (0 gives the empty sentence: ``h = h_0 = 0``).

        Returns
        -------
        Tensor, shape (batch,)
            One logit (log-odds of the positive class) per sequence.
        """
        out, _ = self.lstm(emb)                                     # (batch, time, units)
        lengths = lengths.to(out.device)
        idx = (lengths.clamp(min=1) - 1).to(torch.long)             # (batch,)
        last = out[torch.arange(out.shape[0], device=out.device), idx]   # (batch, units)
        last = torch.where((lengths > 0)[:, None], last, torch.zeros_like(last))  # empty: h = h_0 = 0
        return self.dense(self.dropout(last)).squeeze(-1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The logit of each right-padded id sequence (chapter 02).

        Parameters
        ----------
        ids : Tensor of int64, shape (batch, time)
            Compressed ids (no id 0 inside a sequence), right-padded with 0; see :func:`batch_ids`.
        lengths : Tensor of int64, shape (batch,)
            Real tokens per sequence.

        Returns
        -------
        Tensor, shape (batch,)
            One logit per sequence.
        """
        return self.logits_from_embeddings(self.embedding(ids), lengths)


def _vocab_size(model: SentimentLSTM) -> int:
    if not isinstance(model, SentimentLSTM):
        raise TypeError(f"model must be a SentimentLSTM, got {type(model).__name__}")
    return model.embedding.num_embeddings


def compress(ids: np.ndarray) -> np.ndarray:
    """The ids the LSTM actually reads: id 0 (padding / unknown word) removed (chapter 02).

    Parameters
    ----------
    ids : numpy.ndarray of int, shape (n,)
        One sentence's token ids (non-negative).

    Returns
    -------
    numpy.ndarray of int64, shape (m,)
        The non-zero ids in order, ``m <= n``.

    Raises
    ------
    TypeError
        If the ids are not integers.
    ValueError
        If ``ids`` is not 1-d or holds a negative id.
    """
    a = _validate.token_ids(ids, np.iinfo(np.int64).max, allow_empty=True)
    return a[a != 0]


def batch_ids(seqs: Sequence[np.ndarray], *, device: str | torch.device = "cpu"
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad compressed id sequences into ``(ids, lengths)`` tensors (chapter 02).

    Parameters
    ----------
    seqs : sequence of numpy.ndarray of int, each shape (n_k,)
        Compressed ids (see :func:`compress`); an empty sequence gets length 0.
    device : str or torch.device, optional
        Where the tensors are built.

    Returns
    -------
    ids : Tensor of int64, shape (batch, max(1, max n_k))
        The sequences, right-padded with 0.
    lengths : Tensor of int64, shape (batch,)
        ``n_k`` per sequence.
    """
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.zeros((len(seqs), max(1, int(lengths.max(initial=0)))), dtype=np.int64)
    for row, s in zip(out, seqs):
        row[:len(s)] = s
    return torch.from_numpy(out).to(device), torch.from_numpy(lengths).to(device)


def _compressed(model: SentimentLSTM, seqs: Sequence[np.ndarray], name: str = "seqs") -> list[np.ndarray]:
    if isinstance(seqs, (str, np.ndarray)) and np.ndim(seqs) < 2:
        raise TypeError(f"{name} must be a sequence of id arrays (one per sentence), got {type(seqs).__name__}")
    n = _vocab_size(model)
    out = []
    for s in seqs:
        a = _validate.token_ids(s, n, allow_empty=True)
        out.append(a[a != 0])
    return out


def sentiment_probabilities(model: SentimentLSTM, seqs: Sequence[np.ndarray], batch_size: int = 512) -> np.ndarray:
    """P(positive) of each sentence, in eval mode (no dropout), batched by length (chapter 02).

    Parameters
    ----------
    model : SentimentLSTM
        The classifier; it runs on its own device.
    seqs : sequence of numpy.ndarray of int, each shape (n_k,)
        Token ids per sentence; id 0 (padding / unknown word) is skipped, as Keras masks it.
        An empty (or all-zero) sentence is read as ``h = h_0 = 0``.
    batch_size : int, optional
        Sentences per forward pass.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        The probability of the positive class, in the order of ``seqs``.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`SentimentLSTM` or the ids are not integers.
    ValueError
        If a sequence is not 1-d or holds an id outside ``[0, vocab_size)``.
    """
    reals = _compressed(model, seqs)
    batch_size = _validate.int_at_least(batch_size, "batch_size", 1)
    if not reals:
        return np.zeros(0, dtype=np.float64)
    device = model_device(model)
    lengths = np.array([len(s) for s in reals])
    return predict(model, lambda idx: batch_ids([reals[j] for j in idx], device=device),
                   by_length(lengths, batch_size), output=torch.sigmoid)


def train_sentiment_lstm(model: SentimentLSTM, seqs: Sequence[np.ndarray], labels: np.ndarray, *, epochs: int = 5,
                         batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                         val: tuple[Sequence[np.ndarray], np.ndarray] | None = None,
                         desc: str = "train", device: str | torch.device | None = None) -> list[dict[str, float]]:
    """Train a :class:`SentimentLSTM` with Adam on binary cross-entropy (chapter 02).

    Uses :func:`kexue.train.fit` with length-bucketed batches.  The model is received, so its
    weights are not reseeded (seed torch before building it); ``seed`` fixes the batch order.

    Parameters
    ----------
    model : SentimentLSTM
        The classifier, trained in place.
    seqs : sequence of numpy.ndarray of int, each shape (n_k,)
        Compressed ids (see :func:`compress`), none empty.
    labels : numpy.ndarray of int, shape (n,)
        0 (negative) or 1 (positive) per sequence.
    epochs : int, optional
        Passes over the data.
    batch_size : int, optional
        Sequences per update.
    lr : float, optional
        Adam's learning rate.
    seed : int, optional
        Seeds the batch order.
    val : (sequence of numpy.ndarray, numpy.ndarray), optional
        Held-out ``(seqs, labels)``; adds ``val_acc`` to each epoch's row.
    desc : str, optional
        The progress bar's label.
    device : str or torch.device, optional
        Move the model there first (``None``: train where it is); every batch is built on
        the model's device.

    Returns
    -------
    list of dict
        One row per epoch: ``epoch``, mean training ``loss``, ``train_acc`` (running, with
        dropout) and, with ``val``, ``val_acc``.

    Raises
    ------
    ValueError
        If a label is not 0 or 1, the counts differ, a sequence is empty or an id is out of range.
    """
    if not isinstance(model, SentimentLSTM):
        raise TypeError(f"model must be a SentimentLSTM, got {type(model).__name__}")
    if len(seqs) != len(labels) or len(seqs) == 0:
        raise ValueError(_validate.SEQS_LABELS.format(len(seqs), len(labels)))
    if any(len(s) == 0 for s in seqs):
        raise ValueError(_validate.SEQS_EMPTY_TRAIN)
    seqs = _compressed(model, seqs)
    if any(len(s) == 0 for s in seqs):
        raise ValueError(_validate.SEQS_EMPTY_TRAIN)
    y = _validate.class_labels(labels, 2, batch=len(seqs)).astype(np.float32)
    val_pos = None
    if val is not None:
        val_seqs = _compressed(model, val[0], "val[0]")
        if len(val_seqs) != len(val[1]):
            raise ValueError(_validate.SEQS_LABELS.format(len(val_seqs), len(val[1])))
        val_pos = _validate.class_labels(val[1], 2) == 1
    dev = place_model(model, device)
    lengths = np.array([len(s) for s in seqs])
    loss_fn = nn.BCEWithLogitsLoss()

    def batch_loss(idx: np.ndarray) -> tuple[torch.Tensor, dict[str, float]]:
        ids, lens = batch_ids([seqs[j] for j in idx], device=dev)
        target = torch.from_numpy(y[idx]).to(dev)
        logits = model(ids, lens)
        correct = int(((logits.detach() > 0).float() == target).sum())
        return loss_fn(logits, target), {"train_acc": correct}

    evaluate = None
    if val_pos is not None:
        def evaluate(model: nn.Module, _epoch: int) -> dict[str, float]:
            return {"val_acc": float(np.mean((sentiment_probabilities(model, val_seqs) > 0.5) == val_pos))}

    hist = fit(model, batch_loss, bucketed(lengths, batch_size), epochs=epochs, seed=seed,
               lr=lr, evaluate=evaluate, desc=desc)
    model.eval()
    release_freed_memory()  # the freed batches would otherwise stay in the process (~0.25 GB)
    return hist.epochs


# ----------------------------------------------------------------------------- one sentence
def _real(model: SentimentLSTM, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = _validate.token_ids(ids, _vocab_size(model))
    keep = a != 0
    if not keep.any():
        raise ValueError(_validate.IDS_ALL_PAD)
    return a[keep], keep


def hidden_states(model: SentimentLSTM, ids: np.ndarray) -> np.ndarray:
    """The LSTM's output state after each token of one sentence, ``h_0 = 0`` (chapter 02).

    Tokens with id 0 are skipped by the model, so their row repeats the previous state
    (zeros before the first real token), exactly like Keras masking.

    Parameters
    ----------
    model : SentimentLSTM
        The classifier (put in eval mode); it runs on its own device.
    ids : numpy.ndarray of int, shape (n,)
        The sentence's token ids, with at least one non-zero id.

    Returns
    -------
    numpy.ndarray of float64, shape (n, units)
        The state after each token.

    Raises
    ------
    TypeError
        If the ids are not integers.
    ValueError
        If ``ids`` is empty, not 1-d, all zero, or holds an id outside ``[0, vocab_size)``.
    """
    real, keep = _real(model, ids)
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(real).to(model_device(model))
        out, _ = model.lstm(model.embedding(x)[None])               # (1, n_real, units)
    out = out[0].double().cpu().numpy()
    pos = np.cumsum(keep) - 1                                       # the real step each token ends on
    states = np.zeros((len(keep), out.shape[1]))
    states[pos >= 0] = out[pos[pos >= 0]]
    return states


def batch_hidden_states(model: SentimentLSTM, id_arrays: Sequence[np.ndarray], batch_size: int = 256
                        ) -> list[np.ndarray]:
    """:func:`hidden_states` for many sentences at once, in padded batches (chapter 02).

    Same numbers as one sentence at a time, up to float32 rounding.  Each array is float32,
    the LSTM's own precision (half the memory of float64 for a whole test set); the numpy
    reference converts it to float64 exactly.

    Parameters
    ----------
    model : SentimentLSTM
        The classifier (put in eval mode); it runs on its own device.
    id_arrays : sequence of numpy.ndarray of int, each shape (n_k,)
        Token ids per sentence, each with at least one non-zero id.
    batch_size : int, optional
        Sentences per forward pass.

    Returns
    -------
    list of numpy.ndarray of float32, each shape (n_k, units)
        The states of each sentence, in the order of ``id_arrays``.

    Raises
    ------
    ValueError
        As :func:`hidden_states`, for any of the sentences.
    """
    batch_size = _validate.int_at_least(batch_size, "batch_size", 1)
    model.eval()
    reals, keeps = zip(*(_real(model, ids) for ids in id_arrays)) if len(id_arrays) else ((), ())
    order = np.argsort([len(r) for r in reals], kind="stable")
    out: list[np.ndarray] = [np.empty(0)] * len(reals)
    device = model_device(model)
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            ids, lens = batch_ids([reals[j] for j in idx], device=device)
            seq, _ = model.lstm(model.embedding(ids))               # (b, time, units)
            seq = seq.float().cpu().numpy()
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


def occlusion_scores(model: SentimentLSTM, ids: np.ndarray) -> np.ndarray:
    """Leave-one-out occlusion of each token toward the predicted class (chapter 02).

    ``p(predicted class)`` minus the same with the token removed.

    Parameters
    ----------
    model : SentimentLSTM
        The classifier; it runs on its own device.
    ids : numpy.ndarray of int, shape (n,)
        The sentence's token ids, with at least one non-zero id.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        One score per token; id-0 tokens score 0.

    Raises
    ------
    ValueError
        As :func:`hidden_states`.
    """
    real, keep = _real(model, ids)
    n = len(real)
    variants = [real] + [np.delete(real, i) for i in range(n)]
    p = sentiment_probabilities(model, variants)
    sign = 1.0 if p[0] >= 0.5 else -1.0
    return _spread(sign * (p[0] - p[1:]), keep)


def _embed(model: SentimentLSTM, real: np.ndarray) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model.embedding(torch.from_numpy(real).to(model_device(model))).clone()


def grad_x_input(model: SentimentLSTM, ids: np.ndarray) -> np.ndarray:
    """Gradient × input on the embeddings, summed over the embedding axis (chapter 02).

    Parameters
    ----------
    model : SentimentLSTM
        The classifier (put in eval mode); it runs on its own device.
    ids : numpy.ndarray of int, shape (n,)
        The sentence's token ids, with at least one non-zero id.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        One score per token toward the predicted class; id-0 tokens score 0.

    Raises
    ------
    ValueError
        As :func:`hidden_states`.
    """
    real, keep = _real(model, ids)
    e = _embed(model, real)[None].requires_grad_(True)              # (1, n_real, embed_dim)
    z = model.logits_from_embeddings(e, torch.tensor([len(real)], device=e.device))[0]
    (g,) = torch.autograd.grad(z, e)
    sign = 1.0 if float(z.detach()) >= 0 else -1.0
    return _spread(sign * (g * e).sum(-1)[0].detach().double().cpu().numpy(), keep)


@dataclass
class IGResult:
    """Integrated gradients of the logit for one sentence, baseline all-zero embeddings (chapter 02).

    Attributes
    ----------
    scores : numpy.ndarray of float64, shape (n,)
        Per token (id 0 → 0), summed over the embedding axis, toward the predicted class.
    attributions : numpy.ndarray of float64, shape (n_real, embed_dim)
        Of the logit itself (not signed), one row per non-zero token.
    logit : float
        The logit of the sentence.
    baseline_logit : float
        The logit of the all-zero embeddings.
    """

    scores: np.ndarray
    attributions: np.ndarray
    logit: float
    baseline_logit: float

    @property
    def completeness_gap(self) -> float:
        """``|sum of attributions − (logit − baseline logit)|``: 0 for exact integration."""
        return abs(float(self.attributions.sum()) - (self.logit - self.baseline_logit))


def quadrature(n_steps: int, rule: str = "midpoint") -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of a quadrature rule on [0, 1] (chapter 02).

    ``"midpoint"``: ``alpha_k = (k + 1/2) / n``, weights ``1/n``; ``"gausslegendre"``: the
    Gauss–Legendre nodes mapped to [0, 1].  These are Captum's ``riemann_middle`` and
    ``gausslegendre`` rules.

    Parameters
    ----------
    n_steps : int
        Number of points, >= 1.
    rule : {"midpoint", "gausslegendre"}, optional
        The rule.

    Returns
    -------
    alphas : numpy.ndarray of float64, shape (n_steps,)
        Points in (0, 1).
    weights : numpy.ndarray of float64, shape (n_steps,)
        Weights summing to 1.

    Raises
    ------
    ValueError
        If ``n_steps`` is not an integer >= 1 or ``rule`` is unknown.
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    if rule == "midpoint":
        return (np.arange(n_steps) + 0.5) / n_steps, np.full(n_steps, 1.0 / n_steps)
    if rule == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(int(n_steps))
        return 0.5 * (x + 1.0), 0.5 * w
    raise ValueError(f"unknown quadrature rule {rule!r}; use 'midpoint' or 'gausslegendre'")


def integrated_gradients(model: SentimentLSTM, ids: np.ndarray, n_steps: int = 32,
                         rule: str = "midpoint") -> IGResult:
    """Integrated gradients of the logit w.r.t. the embeddings, from zero embeddings (chapter 02).

    ``IG = (e - 0) * ∫_0^1 ∂z/∂e(α e) dα``, the integral by ``rule`` (see :func:`quadrature`)
    with ``n_steps`` points, in one batched backward pass.  Completeness: the attributions
    sum to ``z(e) - z(0)`` up to the integration error.

    Parameters
    ----------
    model : SentimentLSTM
        The classifier (put in eval mode); it runs on its own device.
    ids : numpy.ndarray of int, shape (n,)
        The sentence's token ids, with at least one non-zero id.
    n_steps : int, optional
        Quadrature points.
    rule : {"midpoint", "gausslegendre"}, optional
        The quadrature rule.

    Returns
    -------
    IGResult
        Scores per token, attributions per embedding entry, and the two logits.

    Raises
    ------
    ValueError
        As :func:`hidden_states` and :func:`quadrature`.
    """
    real, keep = _real(model, ids)
    alphas, w = quadrature(n_steps, rule)
    e = _embed(model, real)                                         # (n_real, embed_dim)
    a = torch.from_numpy(np.concatenate([alphas, [0.0, 1.0]])).to(e.device, e.dtype)[:, None, None]
    path = (a * e[None]).requires_grad_(True)                       # (n_steps + 2, n_real, embed_dim)
    z = model.logits_from_embeddings(path, torch.full((n_steps + 2,), len(real), device=e.device))
    (g,) = torch.autograd.grad(z[:n_steps].sum(), path)
    avg = (torch.from_numpy(w).to(e.device, e.dtype)[:, None, None] * g[:n_steps]).sum(0)
    attr = (e * avg).double().cpu().numpy()
    base, logit = (float(v) for v in z[n_steps:].detach().cpu())
    sign = 1.0 if logit >= 0 else -1.0
    return IGResult(_spread(sign * attr.sum(-1), keep), attr, logit, base)


def captum_integrated_gradients(model: SentimentLSTM, ids: np.ndarray, n_steps: int = 32,
                                method: str = "riemann_middle") -> np.ndarray:
    """Captum's ``IntegratedGradients`` on the same logit, baseline and path (chapter 02).

    The independent reference for :func:`integrated_gradients` (``"riemann_middle"`` is the
    midpoint rule, ``"gausslegendre"`` the Gauss–Legendre rule).  Captum is needed only here.

    Parameters
    ----------
    model : SentimentLSTM
        The classifier (put in eval mode); it runs on its own device.
    ids : numpy.ndarray of int, shape (n,)
        The sentence's token ids, with at least one non-zero id.
    n_steps : int, optional
        Quadrature points.
    method : str, optional
        Captum's name of the rule.

    Returns
    -------
    numpy.ndarray of float64, shape (n_real, embed_dim)
        The attributions, one row per non-zero token.

    Raises
    ------
    ValueError
        As :func:`hidden_states`.
    """
    with warnings.catch_warnings():   # captum imports tqdm.auto, which warns once outside widgets
        warnings.filterwarnings("ignore", message="IProgress not found")
        from captum.attr import IntegratedGradients
    real, _ = _real(model, ids)
    e = _embed(model, real)[None]
    lengths = torch.tensor([len(real)], device=e.device)

    def logit(x: torch.Tensor) -> torch.Tensor:
        return model.logits_from_embeddings(x, lengths.expand(x.shape[0]))

    attr = IntegratedGradients(logit).attribute(e, baselines=torch.zeros_like(e), n_steps=n_steps, method=method)
    return attr[0].detach().double().cpu().numpy()


def export_weights(model: SentimentLSTM) -> dict[str, np.ndarray]:
    """The weights in the Keras layout, for :func:`kexue.saliency.keras.load_weights` (chapter 02).

    Parameters
    ----------
    model : SentimentLSTM
        The classifier (on any device).

    Returns
    -------
    dict of str to numpy.ndarray of float64
        ``embedding`` (vocab_size, embed_dim), ``kernel`` (embed_dim, 4 units),
        ``recurrent_kernel`` (units, 4 units), ``bias`` (4 units,), ``dense_kernel``
        (units, 1), ``dense_bias`` (1,); gates ordered i, f, c, o in both frameworks.
    """
    sd = {k: v.detach().double().cpu().numpy() for k, v in model.state_dict().items()}
    return {
        "embedding": sd["embedding.weight"],
        "kernel": sd["lstm.weight_ih_l0"].T.copy(),
        "recurrent_kernel": sd["lstm.weight_hh_l0"].T.copy(),
        "bias": sd["lstm.bias_ih_l0"] + sd["lstm.bias_hh_l0"],
        "dense_kernel": sd["dense.weight"].T.copy(),
        "dense_bias": sd["dense.bias"],
    }
