"""Chapter 04's sentence-vector experiment: summed word vectors as features for sentiment.

See ``chapters/04-pmi-word-vectors.md``. The post sums its word vectors over a review and
feeds the sum to logistic regression and to a small MLP; this module does the same with
scikit-learn, on any labelled texts and any vectors.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from kexue import _validate
from kexue.pmi.numpy_ref import Vocab

__all__ = ["sentence_vectors", "sentiment_accuracy"]


def sentence_vectors(texts: Sequence[str], segment: Callable[[str], list[str]], vocab: Vocab,
                     V: np.ndarray) -> tuple[np.ndarray, float]:
    """Sum of the vectors of each text's in-vocabulary words, the post's sentence vector (chapter 04).

    Parameters
    ----------
    texts : sequence of str, length n
        The texts.
    segment : callable
        ``segment(text) -> list of str``, e.g. :func:`kexue.saliency.numpy_ref.segmenter`.
    vocab : Vocab
        The vocabulary of ``V``; other words are skipped (a text with none gets the zero vector).
    V : numpy.ndarray, shape (len(vocab), dim)
        The word vectors.

    Returns
    -------
    features : numpy.ndarray of float64, shape (n, dim)
        One summed vector per text.
    coverage : float
        The share of word tokens found in the vocabulary.

    Raises
    ------
    TypeError
        If ``vocab`` is not a :class:`kexue.pmi.numpy_ref.Vocab` or ``texts`` is one string.
    ValueError
        If ``V`` does not have one row per word or ``texts`` is empty.
    """
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a kexue.pmi.Vocab, got {type(vocab).__name__}")
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of texts, not one string")
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != len(vocab):
        raise ValueError(f"V must have shape ({len(vocab)}, dim), got {V.shape}")
    if len(texts) == 0:
        raise ValueError("texts is empty")
    out = np.zeros((len(texts), V.shape[1]))
    found = total = 0
    for n, text in enumerate(texts):
        words = segment(text)
        ids = [vocab.index[w] for w in words if w in vocab.index]
        found, total = found + len(ids), total + len(words)
        if ids:
            out[n] = V[ids].sum(axis=0)
    return out, found / max(total, 1)


def sentiment_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                       seed: int = 0, mlp_epochs: int = 30) -> dict[str, float]:
    """Test accuracy of logistic regression and of a 64-unit ReLU MLP on standardised features (chapter 04).

    The post's models: logistic regression, and ``Dense(64, relu) → Dense(1, sigmoid)``
    trained with Adam (scikit-learn's ``MLPClassifier``).  Features are standardised with
    the training set's mean and standard deviation.

    Parameters
    ----------
    x_train : numpy.ndarray, shape (n_train, dim)
        Training features.
    y_train : numpy.ndarray of int, shape (n_train,)
        Training labels.
    x_test : numpy.ndarray, shape (n_test, dim)
        Test features.
    y_test : numpy.ndarray of int, shape (n_test,)
        Test labels.
    seed : int, optional
        The MLP's ``random_state``.
    mlp_epochs : int, optional
        The MLP's epochs (``max_iter``).

    Returns
    -------
    dict of str to float
        ``{"lr": accuracy, "mlp": accuracy}`` on the test set.

    Raises
    ------
    ValueError
        If the shapes disagree or the features are not finite.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    x_train, x_test = np.asarray(x_train, np.float64), np.asarray(x_test, np.float64)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"features must be 2-D with the same width, got {x_train.shape} and {x_test.shape}")
    if len(y_train) != len(x_train) or len(y_test) != len(x_test):
        raise ValueError("each feature row needs one label")
    if not (np.all(np.isfinite(x_train)) and np.all(np.isfinite(x_test))):
        raise ValueError(_validate.NONFINITE.format("the features"))
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-12
    x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
    lr = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    with warnings.catch_warnings():
        # a fixed number of epochs, as the post trains for a fixed number: not converging is expected
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(64,), max_iter=mlp_epochs, random_state=seed).fit(x_train, y_train)
    return {"lr": float(lr.score(x_test, y_test)), "mlp": float(mlp.score(x_test, y_test))}
