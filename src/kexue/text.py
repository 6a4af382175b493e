"""Vocabularies and token ids for the chapters that read text: 02 (``chapters/02-rnn-saliency.md``),
05 (``chapters/05-crf.md``) and 06 (``chapters/06-attention.md``).

One id convention: ``0`` is padding (:data:`PAD`), ``1`` the unknown token
(:data:`UNK`), and the kept tokens follow from ``2`` by falling count (ties in
token order).  Chapter 02's classifier has no unknown slot: with
``reserve_unknown=False`` rare words share id 0 with padding (the model skips
them, as if masked) and the kept words start at 1.  A token is whatever the
sequences hold: the characters of a string, or the words of a list.
Chapter 04's counted vocabulary (words with their counts, no padding) is a
different object, :func:`kexue.pmi.numpy_ref.build_counted_vocab`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["PAD", "UNK", "build_vocab", "encode", "encode_batch"]

PAD = 0
"""Id of padding."""
UNK = 1
"""Id of a token outside the vocabulary (when the vocabulary reserves it)."""


def _check_sequences(sequences) -> list:
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise TypeError(f"sequences must be a list of strings or of token lists, got {type(sequences).__name__}")
    sequences = list(sequences)
    for s in sequences:
        if not isinstance(s, (str, Sequence)) or isinstance(s, bytes):
            raise TypeError(f"each sequence must be a string or a list of tokens, got {type(s).__name__}")
    return sequences


def build_vocab(sequences: Iterable[Sequence[str]], min_count: int = 1, *,
                reserve_unknown: bool = True) -> dict[str, int]:
    """Tokens seen at least ``min_count`` times -> ids by falling count (ties: token order).

    ``reserve_unknown=True``: ids from 2 (0 = padding, 1 = unknown).
    ``reserve_unknown=False``: ids from 1 (0 = padding and every rarer token).
    """
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
    counts = Counter(tok for seq in _check_sequences(sequences) for tok in seq)
    kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
    first = UNK + 1 if reserve_unknown else PAD + 1
    return {t: i + first for i, t in enumerate(kept)}


def _truncate(ids: list[int], maxlen: int | None, truncating: str) -> list[int]:
    if truncating not in ("pre", "post"):
        raise ValueError(f"truncating must be 'pre' or 'post', got {truncating!r}")
    if maxlen is None:
        return ids
    return ids[-maxlen:] if truncating == "pre" else ids[:maxlen]


def _check_maxlen(maxlen) -> None:
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 1):
        raise ValueError(f"maxlen must be a positive integer or None, got {maxlen!r}")


def encode(tokens: Sequence[str], vocab: dict[str, int], maxlen: int | None = None, *,
           truncating: str = "post", unknown: int = UNK) -> np.ndarray:
    """Ids (int64, 1-D) of one sequence; tokens outside ``vocab`` get ``unknown``.

    ``maxlen`` keeps the first (``truncating="post"``) or last (``"pre"``) ``maxlen`` tokens.
    """
    _check_maxlen(maxlen)
    ids = _truncate([vocab.get(t, unknown) for t in tokens], maxlen, truncating)
    return np.asarray(ids, dtype=np.int64)


def encode_batch(sequences: Iterable[Sequence[str]], vocab: dict[str, int], maxlen: int, *,
                 truncating: str = "pre", unknown: int = UNK) -> np.ndarray:
    """Ids ``(N, maxlen)``, int64, padded with :data:`PAD` at the end.

    ``truncating="pre"`` keeps the last ``maxlen`` tokens (Keras' ``pad_sequences``
    default); ``"post"`` keeps the first ones.
    """
    if maxlen is None:
        raise ValueError("maxlen must be a positive integer, got None")
    _check_maxlen(maxlen)
    sequences = _check_sequences(sequences)
    out = np.full((len(sequences), maxlen), PAD, dtype=np.int64)
    for i, seq in enumerate(sequences):
        ids = encode(seq, vocab, maxlen, truncating=truncating, unknown=unknown)
        out[i, :len(ids)] = ids
    return out
