"""Numpy reference (the specification) for chapter 01: custom losses.

See ``chapters/01-keras-custom-loss.md`` and the original post
<https://kexue.fm/archives/4493>.  Everything here is plain numpy in float64;
the Keras 3 and PyTorch versions are tested against these functions.

Conventions: ``logits`` has shape ``(batch, n_classes)``; ``labels`` holds
integer class indices of shape ``(batch,)``; per-sample losses are returned
(average them yourself, as the frameworks do by default).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kexue import _validate

__all__ = [
    "check_eps", "check_labels", "log_softmax", "smoothed_targets", "mixed_cross_entropy",
    "optimal_logit_gap", "min_mixed_loss", "center_loss", "center_loss_grad", "compactness",
    "cosine", "triplet_hinge_loss", "triplet_hinge_grad", "FaqData", "make_faq", "wrong_answers", "top1_retrieval",
]


# ----------------------------------------------------------------------------- validation
def check_eps(eps: float) -> float:
    """Return ``eps`` as a float after checking ``0 <= eps < 1``."""
    eps = float(eps)
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"the smoothing weight eps must lie in [0, 1), got {eps}")
    return eps


def check_labels(labels, n_classes: int, batch: int | None = None) -> np.ndarray:
    """Return ``labels`` as an int64 vector after checking shape and range ``[0, n_classes)``.

    Integer-valued floats are accepted; the PyTorch and Keras versions make the same checks
    with the same messages (:func:`kexue._validate.class_labels`).
    """
    return _validate.class_labels(labels, n_classes, batch)


def _check_2d(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, dim), got {a.shape}")
    return a


# ----------------------------------------------------------------------------- mixed cross-entropy
def log_softmax(logits) -> np.ndarray:
    """Row-wise ``log softmax`` of a ``(batch, n)`` array, computed stably."""
    z = _check_2d(logits, "logits")
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def smoothed_targets(labels, n_classes: int, eps: float) -> np.ndarray:
    """Label-smoothed targets ``(1 - eps) * onehot(labels) + eps / n_classes``."""
    eps = check_eps(eps)
    y = check_labels(labels, n_classes)
    return (1.0 - eps) * np.eye(n_classes)[y] + eps / n_classes


def mixed_cross_entropy(logits, labels, eps: float = 0.1) -> np.ndarray:
    """Per-sample ``(1 - eps) * CE(onehot, p) + eps * CE(uniform, p)`` with ``p = softmax(logits)``.

    This is the post's loss written as the mixture of two cross-entropies (not
    through smoothed targets, so that the identity with label smoothing is a check).
    """
    eps = check_eps(eps)
    logp = log_softmax(logits)
    y = check_labels(labels, logp.shape[1], batch=logp.shape[0])
    ce_true = -logp[np.arange(len(y)), y]
    ce_uniform = -logp.mean(axis=1)
    return (1.0 - eps) * ce_true + eps * ce_uniform


def optimal_logit_gap(n_classes: int, eps: float) -> float:
    """Gap ``z_true - z_other`` at the minimum of the mixed loss: ``log(1 + n (1 - eps) / eps)``.

    For ``eps = 0`` (plain cross-entropy) there is no finite minimiser and the
    result is ``inf``.
    """
    eps = check_eps(eps)
    if int(n_classes) < 2:
        raise ValueError(f"need at least 2 classes, got {n_classes}")
    if eps == 0.0:
        return float("inf")
    return float(np.log1p(n_classes * (1.0 - eps) / eps))


def min_mixed_loss(n_classes: int, eps: float) -> float:
    """Minimum of the mixed loss over all logits: the entropy of the smoothed target."""
    eps = check_eps(eps)
    if int(n_classes) < 2:
        raise ValueError(f"need at least 2 classes, got {n_classes}")
    a, b = 1.0 - eps + eps / n_classes, eps / n_classes
    return float(-(a * np.log(a) + ((n_classes - 1) * b * np.log(b) if b > 0 else 0.0)))


# ----------------------------------------------------------------------------- center loss
def _center_inputs(features, labels, centers):
    x = _check_2d(features, "features")
    c = _check_2d(centers, "centers")
    if x.shape[1] != c.shape[1]:
        raise ValueError(_validate.FEATURES_DIM.format(x.shape[1], c.shape[1]))
    y = check_labels(labels, c.shape[0], batch=x.shape[0])
    return x, y, c


def center_loss(features, labels, centers) -> np.ndarray:
    """Per-sample center loss ``||x_i - c_{y_i}||^2`` (a plain sum of squares, no 1/2)."""
    x, y, c = _center_inputs(features, labels, centers)
    return ((x - c[y]) ** 2).sum(axis=1)


def center_loss_grad(features, labels, centers) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form gradients of the batch mean ``L = mean_i ||x_i - c_{y_i}||^2``.

    Returns ``(dL/dfeatures, dL/dcenters)``: ``dL/dx_i = 2 (x_i - c_{y_i}) / B`` and
    ``dL/dc_k = -2/B * sum_{i: y_i = k} (x_i - c_k)`` (zero for classes absent from the batch).
    """
    x, y, c = _center_inputs(features, labels, centers)
    batch = x.shape[0]
    diff = x - c[y]
    d_x = 2.0 * diff / batch
    d_c = np.zeros_like(c)
    np.add.at(d_c, y, -2.0 * diff / batch)
    return d_x, d_c


def compactness(features, labels) -> float:
    """Mean intra-class distance divided by the mean distance between class means.

    Intra: the average over samples of ``||x_i - mu_{y_i}||`` (``mu_k`` the mean
    feature of class k).  Inter: the average of ``||mu_k - mu_l||`` over pairs of
    classes present.  Smaller means tighter, better separated clusters; the ratio
    does not change when all features are scaled.
    """
    x = _check_2d(features, "features")
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"shape mismatch: {y.shape} labels for {len(x)} features")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("compactness needs at least two classes")
    mu = np.stack([x[y == k].mean(axis=0) for k in classes])
    index = np.searchsorted(classes, y)
    intra = np.linalg.norm(x - mu[index], axis=1).mean()
    d = np.linalg.norm(mu[:, None, :] - mu[None, :, :], axis=-1)
    inter = d[np.triu_indices(len(classes), 1)].mean()
    return float(intra / inter)


# ----------------------------------------------------------------------------- the triplet loss
def cosine(a, b) -> np.ndarray:
    """Row-wise cosine similarity of two ``(batch, dim)`` arrays, shape ``(batch,)``.

    A zero row has no direction: it is refused rather than given a NaN.
    """
    a, b = _check_2d(a, "a"), _check_2d(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} and {b.shape}")
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    if np.any(na == 0) or np.any(nb == 0):
        raise ValueError("cosine is undefined for a zero vector")
    return (a * b).sum(axis=1) / (na * nb)


def _cosine_grad(a, b) -> np.ndarray:
    """``d cos(a_i, b_i) / d a_i`` row by row: ``(b/|b| - cos * a/|a|) / |a|``."""
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    cos = (a * b).sum(axis=1, keepdims=True) / (na * nb)
    return (b / nb - cos * a / na) / na


def triplet_hinge_loss(question, right, wrong, margin: float = 0.1) -> np.ndarray:
    """The post's question-answer loss ``max(0, m + cos(q, a_wrong) - cos(q, a_right))`` per triplet.

    ``question``, ``right``, ``wrong``: encoder outputs, shape ``(batch, dim)``.
    Returns shape ``(batch,)``; it is exactly 0 once ``cos(q, a_right)`` exceeds
    ``cos(q, a_wrong)`` by more than ``margin``.
    """
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"the margin must be a finite number >= 0, got {margin}")
    return np.maximum(0.0, margin + cosine(question, wrong) - cosine(question, right))


def triplet_hinge_grad(question, right, wrong, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form gradients of ``sum_i triplet_hinge_loss`` with respect to the three encoder outputs.

    Returns ``(d/dquestion, d/dright, d/dwrong)``, each ``(batch, dim)``; rows of
    triplets past the margin (zero loss) are exactly 0.
    """
    active = (triplet_hinge_loss(question, right, wrong, margin) > 0)[:, None].astype(np.float64)
    q, r, w = (np.asarray(v, dtype=np.float64) for v in (question, right, wrong))
    d_q = active * (_cosine_grad(q, w) - _cosine_grad(q, r))
    d_r = -active * _cosine_grad(r, q)
    d_w = active * _cosine_grad(w, q)
    return d_q, d_r, d_w


class FaqData(NamedTuple):
    """A synthetic FAQ: token-id questions and answers of ``n_topics`` topics (0 = padding)."""

    questions: np.ndarray   # (n, length) int token ids
    answers: np.ndarray     # (n, length) int token ids, answers[i] answers questions[i]
    topics: np.ndarray      # (n,) topic of row i
    vocab_size: int


def make_faq(n_per_topic: int = 40, n_topics: int = 20, words_per_topic: int = 6, n_shared: int = 30,
             length: int = 8, topic_share: float = 0.5, seed: int = 0) -> FaqData:
    """Questions and answers that share a topic but no words: retrieval must learn the mapping.

    Each topic owns ``words_per_topic`` question words and as many *different*
    answer words; ``n_shared`` filler words belong to every topic. A sentence of
    ``length`` tokens draws each token from its topic's words with probability
    ``topic_share``, else from the fillers. Token ids start at 1.
    """
    if n_per_topic < 1 or n_topics < 2 or words_per_topic < 1 or n_shared < 0 or length < 1:
        raise ValueError("need n_per_topic >= 1, n_topics >= 2, words_per_topic >= 1, n_shared >= 0, length >= 1")
    if not 0 < topic_share <= 1:
        raise ValueError(f"topic_share must lie in (0, 1], got {topic_share}")
    rng = np.random.default_rng(seed)
    q_words = 1 + np.arange(n_topics * words_per_topic).reshape(n_topics, words_per_topic)
    a_words = q_words + n_topics * words_per_topic
    fillers = 1 + 2 * n_topics * words_per_topic + np.arange(n_shared)
    vocab_size = 1 + 2 * n_topics * words_per_topic + n_shared
    topics = np.repeat(np.arange(n_topics), n_per_topic)
    rng.shuffle(topics)

    def sentences(own):                                   # own: (n_topics, words_per_topic)
        n = len(topics)
        topic_tok = own[topics[:, None], rng.integers(own.shape[1], size=(n, length))]   # (n, length)
        if not n_shared:
            return topic_tok
        filler_tok = fillers[rng.integers(n_shared, size=(n, length))]
        return np.where(rng.random((n, length)) < topic_share, topic_tok, filler_tok)

    return FaqData(sentences(q_words), sentences(a_words), topics, vocab_size)


def top1_retrieval(scores, correct) -> float:
    """Share of rows whose highest score is at the column ``correct[i]``; ``scores`` is ``(n_questions, n_candidates)``."""
    s = _check_2d(scores, "scores")
    c = np.asarray(correct)
    if c.shape != (s.shape[0],):
        raise ValueError(f"correct must have shape ({s.shape[0]},), got {c.shape}")
    return float(np.mean(np.argmax(s, axis=1) == c))


def wrong_answers(topics, seed: int = 0) -> np.ndarray:
    """For each row ``i``, the index of a random row of a *different* topic (the wrong answer)."""
    t = np.asarray(topics)
    if t.ndim != 1 or len(np.unique(t)) < 2:
        raise ValueError("topics must be a vector holding at least two different topics")
    rng = np.random.default_rng(seed)
    out = np.empty(len(t), dtype=np.int64)
    for i, topic in enumerate(t):
        others = np.flatnonzero(t != topic)
        out[i] = others[rng.integers(len(others))]
    return out
