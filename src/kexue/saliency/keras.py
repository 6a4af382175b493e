"""Keras 3 side of chapter 02 (``chapters/02-rnn-saliency.md``, https://kexue.fm/archives/4582).

The same classifier as :class:`kexue.saliency.torch.SentimentLSTM`, built the
Keras way: ``Embedding(mask_zero=True)`` (id 0 = padding or unknown word, whose
step carries the state over) → ``LSTM(return_sequences=True, return_state=True)``.
The classifier reads the final state; a second model on the same layers returns
every step's output state, which is all the trajectory score needs.
"""
from __future__ import annotations

import numpy as np
import keras

__all__ = ["build_models", "load_weights", "hidden_states", "predict_proba"]


def build_models(vocab_size: int, embed_dim: int = 256, units: int = 128,
                 dropout: float = 0.5) -> tuple[keras.Model, keras.Model]:
    """``(classifier, states_model)`` sharing one Embedding and one LSTM layer."""
    if vocab_size < 2:
        raise ValueError(f"vocab_size must count id 0 and at least one word, got {vocab_size}")
    inp = keras.Input(shape=(None,), dtype="int32")
    emb = keras.layers.Embedding(vocab_size, embed_dim, mask_zero=True, name="embedding")(inp)
    seq, h, _ = keras.layers.LSTM(units, return_sequences=True, return_state=True, name="lstm")(emb)
    out = keras.layers.Dense(1, activation="sigmoid", name="dense")(keras.layers.Dropout(dropout)(h))
    return keras.Model(inp, out), keras.Model(inp, seq)


def load_weights(classifier: keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Set the weights from :func:`kexue.saliency.torch.export_weights` (Keras layout already)."""
    classifier.get_layer("embedding").set_weights([weights["embedding"]])
    classifier.get_layer("lstm").set_weights([weights["kernel"], weights["recurrent_kernel"], weights["bias"]])
    classifier.get_layer("dense").set_weights([weights["dense_kernel"], weights["dense_bias"]])


def _ids(ids) -> np.ndarray:
    a = np.asarray(ids, dtype=np.int32)
    if a.ndim != 1 or len(a) == 0:
        raise ValueError(f"ids must be a non-empty 1-d sequence, got shape {a.shape}")
    return a


def hidden_states(states_model: keras.Model, ids) -> np.ndarray:
    """The output state after each token, ``(n, units)`` float64; masked (id 0) steps repeat the state."""
    a = _ids(ids)
    if not (a != 0).any():
        raise ValueError("every token is padding / unknown (id 0): nothing to score")
    return np.asarray(states_model(a[None], training=False))[0].astype(np.float64)


def predict_proba(classifier: keras.Model, ids) -> float:
    """P(positive) for one sentence (id 0 tokens are masked)."""
    return float(np.asarray(classifier(_ids(ids)[None], training=False))[0, 0])
