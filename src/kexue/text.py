"""Vocabularies and token ids for the chapters that read text: 02 (``chapters/02-rnn-saliency.md``),
05 (``chapters/05-crf.md``) and 06 (``chapters/06-attention.md``).

One id convention: ``0`` is padding (:data:`PAD`), ``1`` the unknown token
(:data:`UNK`), and the kept tokens follow from ``2`` by falling count (ties in
sorted token order).  Every vocabulary id is an integer >= 1: :func:`encode` and
:func:`encode_batch` refuse a vocabulary that maps a token to ``0`` (it would read as
padding), and an ``unknown`` id that a vocabulary token also has.  Chapter 02's
classifier has no unknown slot: with ``reserve_unknown=False`` rare words share id 0
with padding (``encode(..., unknown=PAD)``; the model skips them, as if masked) and the
kept words start at 1.  A token is whatever the
sequences hold: the characters of a string, or the words of a list.
Chapter 04's counted vocabulary (words with their counts, no padding) is a
different object, :func:`kexue.pmi.numpy_ref.build_counted_vocab`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from kexue import _validate

__all__ = ["PAD", "UNK", "build_vocab", "encode", "encode_batch"]

PAD = 0
"""Id of padding (and nothing else)."""
UNK = 1
"""Id of a token outside the vocabulary (when the vocabulary reserves it)."""


def _check_sequences(sequences: object) -> list:
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Iterable):
        raise TypeError(f"sequences must be a list of strings or of token lists, got {type(sequences).__name__}")
    sequences = list(sequences)
    for s in sequences:
        _check_tokens(s, "each sequence")
    return sequences


def _check_tokens(tokens: object, name: str = "tokens") -> None:
    if isinstance(tokens, str):
        return
    if isinstance(tokens, bytes) or not isinstance(tokens, Sequence):
        raise TypeError(f"{name} must be a string or a list of tokens, got {type(tokens).__name__}")
    for t in tokens:
        if not isinstance(t, str):
            raise TypeError(f"tokens must be strings, got {type(t).__name__} {t!r}")


def _check_unknown(unknown: object) -> int:
    if isinstance(unknown, bool) or not isinstance(unknown, (int, np.integer)) or unknown < 0:
        raise ValueError(_validate.UNKNOWN_ID.format(unknown))
    return int(unknown)


_CHECKED: list = [None, -1, None]      # (vocabulary, its length, unknown) of the last full check


def _check_vocab(vocab: object, unknown: int) -> None:
    """Every id an integer >= 1, and ``unknown`` (if not padding) no token's id.

    The full scan runs once per vocabulary (and ``unknown``): :func:`encode` is called once
    per sentence with the same dictionary.
    """
    if not isinstance(vocab, Mapping):
        raise TypeError(f"vocab must be a dict of token -> id, got {type(vocab).__name__}")
    if _CHECKED[0] is vocab and _CHECKED[1] == len(vocab) and _CHECKED[2] == unknown:
        return
    for tok, i in vocab.items():
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 1:
            raise ValueError(_validate.VOCAB_ID.format(tok, i))
        if i == unknown:
            raise ValueError(_validate.UNKNOWN_COLLIDES.format(unknown, tok))
    _CHECKED[:] = [vocab, len(vocab), unknown]


def build_vocab(sequences: Iterable[Sequence[str]], min_count: int = 1, *,
                reserve_unknown: bool = True) -> dict[str, int]:
    """Tokens seen at least ``min_count`` times, with ids by falling count (chapters 02, 05, 06).

    Ties are broken by sorted token order.

    Parameters
    ----------
    sequences : iterable of str or of list of str
        The training texts: strings (tokens = characters) or token lists.
    min_count : int, optional
        Keep tokens seen at least this often (>= 1).
    reserve_unknown : bool, optional
        ``True``: ids from 2 (0 = padding, 1 = unknown).  ``False``: ids from 1 (0 = padding
        and every rarer token, with ``encode(..., unknown=PAD)``).

    Returns
    -------
    dict of str to int
        Token -> id; the ids are consecutive.

    Raises
    ------
    TypeError
        If ``sequences`` is a single string or holds something other than strings / token lists.
    ValueError
        If ``min_count`` is not an integer >= 1.
    """
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"min_count must be an integer >= 1, got {min_count!r}")
    if not isinstance(reserve_unknown, (bool, np.bool_)):
        raise TypeError(f"reserve_unknown must be True or False, got {reserve_unknown!r}")
    counts = Counter(tok for seq in _check_sequences(sequences) for tok in seq)
    kept = sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t))
    first = UNK + 1 if reserve_unknown else PAD + 1
    return {t: i + first for i, t in enumerate(kept)}


def _truncate(ids: list[int], maxlen: int | None, truncating: str) -> list[int]:
    if maxlen is None:
        return ids
    return ids[-maxlen:] if truncating == "pre" else ids[:maxlen]


def _check_options(maxlen: object, truncating: object) -> None:
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 1):
        raise ValueError(f"maxlen must be a positive integer or None, got {maxlen!r}")
    if truncating not in ("pre", "post"):
        raise ValueError(f"truncating must be 'pre' or 'post', got {truncating!r}")


def _encode(tokens: Sequence[str], vocab: Mapping[str, int], maxlen: int | None, truncating: str,
            unknown: int) -> np.ndarray:
    ids = _truncate([vocab.get(t, unknown) for t in tokens], maxlen, truncating)
    return np.asarray(ids, dtype=np.int64)


def encode(tokens: Sequence[str], vocab: Mapping[str, int], maxlen: int | None = None, *,
           truncating: str = "post", unknown: int = UNK) -> np.ndarray:
    """Ids of one sequence (chapters 02, 05, 06).

    Parameters
    ----------
    tokens : str or list of str
        A string (tokens = characters) or a token list.
    vocab : dict of str to int
        Token -> id, every id >= 1 (:func:`build_vocab`).
    maxlen : int, optional
        Keep the first (``truncating="post"``) or last (``"pre"``) ``maxlen`` tokens.
    truncating : {"post", "pre"}, optional
        Which end to keep.
    unknown : int, optional
        Id of a token outside ``vocab``: :data:`UNK` (1), or :data:`PAD` (0) to drop it
        like padding; no token of ``vocab`` may have it.

    Returns
    -------
    ndarray of int64, shape (min(len(tokens), maxlen),)
        The ids.

    Raises
    ------
    TypeError
        If ``tokens`` or ``vocab`` has the wrong type.
    ValueError
        If an option is out of range, a vocabulary id is < 1, or ``unknown`` is negative or
        a vocabulary token's id.
    """
    _check_options(maxlen, truncating)
    _check_tokens(tokens)
    unknown = _check_unknown(unknown)
    _check_vocab(vocab, unknown)
    return _encode(tokens, vocab, maxlen, truncating, unknown)


def encode_batch(sequences: Iterable[Sequence[str]], vocab: Mapping[str, int], maxlen: int, *,
                 truncating: str = "pre", unknown: int = UNK) -> np.ndarray:
    """Ids of many sequences, padded with :data:`PAD` at the end (chapters 02, 06).

    Parameters
    ----------
    sequences : iterable of str or of list of str
        The texts.
    vocab : dict of str to int
        Token -> id, every id >= 1 (:func:`build_vocab`).
    maxlen : int
        Length of every row (>= 1).
    truncating : {"pre", "post"}, optional
        ``"pre"`` keeps the last ``maxlen`` tokens (Keras' ``pad_sequences`` default);
        ``"post"`` keeps the first ones.
    unknown : int, optional
        Id of a token outside ``vocab`` (see :func:`encode`).

    Returns
    -------
    ndarray of int64, shape (n_sequences, maxlen)
        The ids, :data:`PAD` after the end of each sequence.

    Raises
    ------
    TypeError, ValueError
        As :func:`encode`; ``maxlen=None`` is refused.
    """
    if maxlen is None:
        raise ValueError("maxlen must be a positive integer, got None")
    _check_options(maxlen, truncating)
    sequences = _check_sequences(sequences)
    unknown = _check_unknown(unknown)
    _check_vocab(vocab, unknown)
    out = np.full((len(sequences), maxlen), PAD, dtype=np.int64)
    for i, seq in enumerate(sequences):
        ids = _encode(seq, vocab, maxlen, truncating, unknown)
        out[i, :len(ids)] = ids
    return out
