"""Keras 3 side of chapter 02 (``chapters/02-rnn-saliency.md``, https://kexue.fm/archives/4582).

The same classifier as :class:`kexue.saliency.torch.SentimentLSTM`, built the
Keras way: ``Embedding(mask_zero=True)`` (id 0 = padding or unknown word, whose
step carries the state over) → ``LSTM(return_sequences=True, return_state=True)``.
The classifier reads the final state; a second model on the same layers returns
every step's output state, which is all the trajectory score needs.  Both are
functional models of built-in layers, so they save to and load from ``.keras``
files without custom objects.
"""
from __future__ import annotations

import numpy as np
import keras

from kexue import _validate

__all__ = ["build_models", "load_weights", "hidden_states", "sentiment_probabilities"]


def build_models(vocab_size: int, embed_dim: int = 256, units: int = 128,
                 dropout: float = 0.5) -> tuple[keras.Model, keras.Model]:
    """The classifier and its states model, sharing one Embedding and one LSTM layer (chapter 02).

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

    Returns
    -------
    classifier : keras.Model
        Int ids, shape (batch, time) → P(positive), shape (batch, 1).
    states_model : keras.Model
        Int ids, shape (batch, time) → the state after each step, shape (batch, time, units);
        masked (id 0) steps repeat the previous state.

    Raises
    ------
    ValueError
        If a size is not a positive integer or ``dropout`` is outside [0, 1).
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 2:
        raise ValueError(_validate.VOCAB_SIZE.format(vocab_size))
    _validate.int_at_least(embed_dim, "embed_dim", 1)
    _validate.int_at_least(units, "units", 1)
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(_validate.DROPOUT.format(dropout))
    inp = keras.Input(shape=(None,), dtype="int32")
    emb = keras.layers.Embedding(int(vocab_size), int(embed_dim), mask_zero=True, name="embedding")(inp)
    seq, h, _ = keras.layers.LSTM(int(units), return_sequences=True, return_state=True, name="lstm")(emb)
    out = keras.layers.Dense(1, activation="sigmoid", name="dense")(keras.layers.Dropout(float(dropout))(h))
    return keras.Model(inp, out), keras.Model(inp, seq)


def load_weights(classifier: keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Set the weights exported by :func:`kexue.saliency.torch.export_weights` (chapter 02).

    Parameters
    ----------
    classifier : keras.Model
        The classifier from :func:`build_models` (the states model shares its layers).
    weights : dict of str to numpy.ndarray
        ``embedding``, ``kernel``, ``recurrent_kernel``, ``bias``, ``dense_kernel``,
        ``dense_bias``, already in the Keras layout.
    """
    classifier.get_layer("embedding").set_weights([weights["embedding"]])
    classifier.get_layer("lstm").set_weights([weights["kernel"], weights["recurrent_kernel"], weights["bias"]])
    classifier.get_layer("dense").set_weights([weights["dense_kernel"], weights["dense_bias"]])


def _numpy(x) -> np.ndarray:
    """A concrete Keras output as numpy (TensorFlow's eager ``.numpy()``; other backends convert)."""
    if keras.backend.backend() == "tensorflow" and hasattr(x, "numpy"):
        return np.asarray(x.numpy())
    return keras.ops.convert_to_numpy(x)


def _vocab_size(model: keras.Model) -> int:
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model from build_models, got {type(model).__name__}")
    return int(model.get_layer("embedding").input_dim)


def hidden_states(model: keras.Model, ids: np.ndarray) -> np.ndarray:
    """The LSTM's output state after each token of one sentence, ``h_0 = 0`` (chapter 02).

    Tokens with id 0 are masked, so their row repeats the previous state (zeros before the
    first real token).

    Parameters
    ----------
    model : keras.Model
        The states model from :func:`build_models`.
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
    a = _validate.token_ids(ids, _vocab_size(model))
    if not (a != 0).any():
        raise ValueError(_validate.IDS_ALL_PAD)
    states = model(a[None].astype(np.int32), training=False)            # (1, n, units)
    return _numpy(states)[0].astype(np.float64)


def sentiment_probabilities(model: keras.Model, seqs: list[np.ndarray], batch_size: int = 512) -> np.ndarray:
    """P(positive) of each sentence, in inference mode (no dropout), batched by length (chapter 02).

    Parameters
    ----------
    model : keras.Model
        The classifier from :func:`build_models`.
    seqs : sequence of numpy.ndarray of int, each shape (n_k,)
        Token ids per sentence; id 0 (padding / unknown word) is masked.  An empty (or
        all-zero) sentence is read as ``h = h_0 = 0``.
    batch_size : int, optional
        Sentences per forward pass.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        The probability of the positive class, in the order of ``seqs``.

    Raises
    ------
    TypeError
        If the ids are not integers or ``seqs`` is one array.
    ValueError
        If a sequence is not 1-d or holds an id outside ``[0, vocab_size)``.
    """
    if isinstance(seqs, (str, np.ndarray)) and np.ndim(seqs) < 2:
        raise TypeError(f"seqs must be a sequence of id arrays (one per sentence), got {type(seqs).__name__}")
    n = _vocab_size(model)
    reals = []
    for s in seqs:
        a = _validate.token_ids(s, n, allow_empty=True)
        reals.append(a[a != 0])                     # masked steps change nothing: drop them, less padding
    batch_size = _validate.int_at_least(batch_size, "batch_size", 1)
    out = np.zeros(len(reals), dtype=np.float64)
    order = np.argsort([len(r) for r in reals], kind="stable")
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        width = max(1, max(len(reals[j]) for j in idx))
        x = np.zeros((len(idx), width), dtype=np.int32)          # right-padded with id 0 (masked)
        for row, j in enumerate(idx):
            x[row, :len(reals[j])] = reals[j]
        out[idx] = _numpy(model(x, training=False)).astype(np.float64)[:, 0]
    return out
