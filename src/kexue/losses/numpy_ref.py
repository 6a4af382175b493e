"""Numpy reference (the specification) for chapter 01: custom losses.

See ``chapters/01-keras-custom-loss.md`` and the original post
<https://kexue.fm/archives/4493>.  Everything here is plain numpy in float64
(integer input is cast); the Keras 3 and PyTorch versions are tested against
these functions.

Conventions: ``logits`` has shape ``(batch, n_classes)``; ``labels`` holds
integer class indices of shape ``(batch,)``; every loss takes
``reduction="none"`` (per-sample values, shape ``(batch,)``) or ``"mean"``
(a scalar; an empty batch then raises ``ValueError``).
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
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
    """Check the smoothing weight of the mixed cross-entropy (chapter 01).

    Parameters
    ----------
    eps : float
        The weight of the uniform target, ``0 <= eps < 1``.

    Returns
    -------
    float
        ``eps`` as a Python float.

    Raises
    ------
    ValueError
        If ``eps`` is not a real number in ``[0, 1)``.
    """
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0.0 <= eps < 1.0:
        raise ValueError(_validate.SMOOTHING_EPS.format(eps))
    return float(eps)


def check_labels(labels: np.ndarray | Sequence[int], n_classes: int, batch: int | None = None) -> np.ndarray:
    """Check integer class labels (chapter 01); the frameworks make the same checks.

    Parameters
    ----------
    labels : array_like, shape (batch,) or (batch, 1)
        Class indices; integer-valued floats are accepted.
    n_classes : int
        Labels must lie in ``[0, n_classes)``.
    batch : int, optional
        The expected number of labels.

    Returns
    -------
    numpy.ndarray of int64, shape (batch,)
        The labels.

    Raises
    ------
    ValueError
        If a label is not an integer, out of range, or the shape is wrong
        (:func:`kexue._validate.class_labels`).
    """
    return _validate.class_labels(labels, n_classes, batch)


def _matrix(x, name: str, shape: str) -> np.ndarray:
    """``x`` as a finite float64 matrix; ``shape`` names the expected axes in the message."""
    a = _validate.real_array(x, name)
    if a.ndim != 2:
        raise ValueError(_validate.MATRIX_SHAPE.format(name, shape, a.shape))
    return _validate.finite(a, name)


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray | float:
    """Per-sample ``loss`` (batch,) as it is (``"none"``) or its mean (``"mean"``, non-empty only)."""
    if _validate.reduction(reduction) == "none":
        return loss
    if loss.size == 0:
        raise ValueError(_validate.EMPTY_MEAN)
    return loss.mean()


# ----------------------------------------------------------------------------- mixed cross-entropy
def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, computed stably (chapter 01).

    Parameters
    ----------
    logits : array_like, shape (batch, n_classes)
        Finite scores; integers are cast to float64.

    Returns
    -------
    numpy.ndarray, shape (batch, n_classes)
        ``log softmax(logits)`` in float64.

    Raises
    ------
    ValueError
        If ``logits`` is not a finite matrix with at least one class column.
    """
    z = _matrix(logits, "logits", "(batch, n_classes)")
    if z.shape[1] == 0:
        raise ValueError(_validate.NONEMPTY.format("logits", z.shape, "class column"))
    z = z - z.max(axis=1, keepdims=True)                      # shape (batch, n_classes), max 0 per row
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def smoothed_targets(labels: np.ndarray | Sequence[int], n_classes: int, eps: float) -> np.ndarray:
    """Label-smoothed targets ``(1 - eps) * onehot(labels) + eps / n_classes`` (chapter 01, eq. mixed).

    Parameters
    ----------
    labels : array_like of int, shape (batch,)
        Class indices in ``[0, n_classes)``.
    n_classes : int
        Number of classes (>= 1).
    eps : float
        Smoothing weight in ``[0, 1)``.

    Returns
    -------
    numpy.ndarray, shape (batch, n_classes)
        The target distributions, one row per label.

    Raises
    ------
    ValueError
        For a bad ``eps``, ``n_classes`` or label.
    """
    eps = check_eps(eps)
    n_classes = _validate.int_at_least(n_classes, "n_classes", 1)
    y = check_labels(labels, n_classes)
    return (1.0 - eps) * np.eye(n_classes)[y] + eps / n_classes


def mixed_cross_entropy(logits: np.ndarray, labels: np.ndarray | Sequence[int], eps: float = 0.1,
                        reduction: str = "none") -> np.ndarray:
    """The post's mixed loss ``(1 - eps) CE(onehot, p) + eps CE(uniform, p)`` (chapter 01, eq. mixed).

    Written as the mixture of two cross-entropies with ``p = softmax(logits)`` (not
    through smoothed targets, so that the identity with label smoothing is a check).

    Parameters
    ----------
    logits : array_like, shape (batch, n_classes)
        Finite scores; integers are cast to float64.
    labels : array_like of int, shape (batch,)
        Class indices in ``[0, n_classes)``.
    eps : float, optional
        Weight of the uniform target, ``0 <= eps < 1``.
    reduction : {"none", "mean"}, optional
        ``"none"``: one loss per sample; ``"mean"``: their average.

    Returns
    -------
    numpy.ndarray, shape (batch,) or ()
        Per-sample losses in float64 (``"none"``; shape (0,) for an empty batch), or their
        mean (``"mean"``).

    Raises
    ------
    ValueError
        For a bad ``eps``, label, shape or reduction, non-finite logits, or
        ``reduction="mean"`` on an empty batch.
    TypeError
        If ``logits`` does not hold real numbers.
    """
    eps = check_eps(eps)
    _validate.reduction(reduction)
    logp = log_softmax(logits)                                  # shape (batch, n_classes)
    y = check_labels(labels, logp.shape[1], batch=logp.shape[0])
    ce_true = -logp[np.arange(len(y)), y]                       # shape (batch,)
    ce_uniform = -logp.mean(axis=1)                             # shape (batch,)
    return _reduce((1.0 - eps) * ce_true + eps * ce_uniform, reduction)


def optimal_logit_gap(n_classes: int, eps: float) -> float:
    """Gap ``z_true - z_other`` at the minimum of the mixed loss (chapter 01, eq. gap).

    Parameters
    ----------
    n_classes : int
        Number of classes (>= 2).
    eps : float
        Smoothing weight in ``[0, 1)``.

    Returns
    -------
    float
        ``log(1 + n (1 - eps) / eps)``; ``inf`` for ``eps = 0`` (plain cross-entropy has no
        finite minimiser).

    Raises
    ------
    ValueError
        For a bad ``eps`` or fewer than 2 classes.
    """
    eps = check_eps(eps)
    n_classes = _validate.int_at_least(n_classes, "n_classes", 2)
    if eps == 0.0:
        return float("inf")
    return float(np.log1p(n_classes * (1.0 - eps) / eps))


def min_mixed_loss(n_classes: int, eps: float) -> float:
    """Minimum of the mixed loss over all logits: the entropy of the smoothed target (chapter 01, eq. gap).

    Parameters
    ----------
    n_classes : int
        Number of classes (>= 2).
    eps : float
        Smoothing weight in ``[0, 1)``.

    Returns
    -------
    float
        ``H((1 - eps) onehot + eps / n)``.

    Raises
    ------
    ValueError
        For a bad ``eps`` or fewer than 2 classes.
    """
    eps = check_eps(eps)
    n_classes = _validate.int_at_least(n_classes, "n_classes", 2)
    a, b = 1.0 - eps + eps / n_classes, eps / n_classes
    return float(-(a * np.log(a) + ((n_classes - 1) * b * np.log(b) if b > 0 else 0.0)))


# ----------------------------------------------------------------------------- center loss
def _center_inputs(features, labels, centres) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = _matrix(features, "features", "(batch, dim)")
    c = _matrix(centres, "centres", "(n_classes, dim)")
    if x.shape[1] != c.shape[1]:
        raise ValueError(_validate.FEATURES_DIM.format(x.shape[1], c.shape[1]))
    y = check_labels(labels, c.shape[0], batch=x.shape[0])
    return x, y, c


def center_loss(features: np.ndarray, labels: np.ndarray | Sequence[int], centres: np.ndarray,
                reduction: str = "none") -> np.ndarray:
    """Center loss ``||x_i - c_{y_i}||^2``, a plain sum of squares with no 1/2 (chapter 01, eq. center).

    Parameters
    ----------
    features : array_like, shape (batch, dim)
        The feature vectors ``x_i`` (finite; integers are cast to float64).
    labels : array_like of int, shape (batch,)
        Class indices in ``[0, n_classes)``.
    centres : array_like, shape (n_classes, dim)
        One centre per class.
    reduction : {"none", "mean"}, optional
        ``"none"``: one loss per sample; ``"mean"``: their average.

    Returns
    -------
    numpy.ndarray, shape (batch,) or ()
        Per-sample losses in float64 (``"none"``), or their mean (``"mean"``).

    Raises
    ------
    ValueError
        For a bad shape, label or reduction, non-finite input, or ``reduction="mean"`` on an
        empty batch.
    TypeError
        If ``features`` or ``centres`` does not hold real numbers.
    """
    _validate.reduction(reduction)
    x, y, c = _center_inputs(features, labels, centres)
    return _reduce(((x - c[y]) ** 2).sum(axis=1), reduction)


def center_loss_grad(features: np.ndarray, labels: np.ndarray | Sequence[int],
                     centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form gradients of the batch mean ``L = mean_i ||x_i - c_{y_i}||^2`` (chapter 01, eq. center-grad).

    Parameters
    ----------
    features : array_like, shape (batch, dim)
        The feature vectors (batch >= 1).
    labels : array_like of int, shape (batch,)
        Class indices in ``[0, n_classes)``.
    centres : array_like, shape (n_classes, dim)
        One centre per class.

    Returns
    -------
    d_features : numpy.ndarray, shape (batch, dim)
        ``dL/dx_i = 2 (x_i - c_{y_i}) / B``.
    d_centres : numpy.ndarray, shape (n_classes, dim)
        ``dL/dc_k = -2/B sum_{i: y_i = k} (x_i - c_k)``, zero for classes absent from the batch.

    Raises
    ------
    ValueError
        As :func:`center_loss`; also for an empty batch (the mean is undefined).
    """
    x, y, c = _center_inputs(features, labels, centres)
    batch = x.shape[0]
    if batch == 0:
        raise ValueError(_validate.EMPTY_MEAN)
    diff = x - c[y]                                             # shape (batch, dim)
    d_x = 2.0 * diff / batch
    d_c = np.zeros_like(c)
    np.add.at(d_c, y, -2.0 * diff / batch)
    return d_x, d_c


def compactness(features: np.ndarray, labels: np.ndarray | Sequence[int]) -> float:
    """Mean intra-class distance divided by the mean distance between class means (chapter 01).

    Intra: the average over samples of ``||x_i - mu_{y_i}||`` (``mu_k`` the mean feature of
    class k).  Inter: the average of ``||mu_k - mu_l||`` over pairs of classes present.
    Smaller means tighter, better separated clusters; the ratio does not change when all
    features are scaled.

    Parameters
    ----------
    features : array_like, shape (n, dim)
        Finite feature vectors.
    labels : array_like, shape (n,)
        The class of each row (any values; at least two different ones).

    Returns
    -------
    float
        The ratio intra / inter.

    Raises
    ------
    ValueError
        If the shapes disagree, fewer than two classes are present, or two class means
        coincide (the ratio would be infinite).
    """
    x = _matrix(features, "features", "(n, dim)")
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(_validate.LABELS_BATCH.format(y.shape, len(x)))
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("compactness needs at least two classes")
    mu = np.stack([x[y == k].mean(axis=0) for k in classes])  # shape (n_classes, dim)
    index = np.searchsorted(classes, y)
    intra = np.linalg.norm(x - mu[index], axis=1).mean()
    d = np.linalg.norm(mu[:, None, :] - mu[None, :, :], axis=-1)
    inter = d[np.triu_indices(len(classes), 1)].mean()
    if inter == 0:
        raise ValueError("compactness is undefined when all class means coincide")
    return float(intra / inter)


# ----------------------------------------------------------------------------- the triplet loss
def _unit_scale(a: np.ndarray, name: str) -> np.ndarray:
    """Rows of ``a`` divided by their largest absolute entry: same directions, no overflow in a norm."""
    scale = np.abs(a).max(axis=1, keepdims=True) if a.shape[1] else np.zeros((len(a), 1))
    if np.any(scale == 0):
        raise ValueError(_validate.ZERO_VECTOR.format(name))
    return a / scale


def _pair(a, b, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a, b = _matrix(a, names[0], "(batch, dim)"), _matrix(b, names[1], "(batch, dim)")
    if a.shape != b.shape:
        raise ValueError(_validate.SAME_SHAPE.format(" and ".join(names), f"{a.shape} and {b.shape}"))
    return a, b


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity (chapter 01, the triplet loss).

    Each row is first divided by its largest absolute entry, so very large or very small
    finite vectors give the cosine, not NaN.

    Parameters
    ----------
    a, b : array_like, shape (batch, dim)
        Finite, non-zero rows.

    Returns
    -------
    numpy.ndarray, shape (batch,)
        ``cos(a_i, b_i)`` in float64.

    Raises
    ------
    ValueError
        If the shapes differ, a value is not finite, or a row is zero (it has no direction).
    """
    a, b = _pair(a, b, ("a", "b"))
    a, b = _unit_scale(a, "a"), _unit_scale(b, "b")
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _cosine_grad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``d cos(a_i, b_i) / d a_i`` row by row: ``(b/|b| - cos * a/|a|) / |a|``, computed on rescaled rows."""
    sa = np.abs(a).max(axis=1, keepdims=True)                   # shape (batch, 1)
    a_u, b_u = a / sa, b / np.abs(b).max(axis=1, keepdims=True)
    na = np.linalg.norm(a_u, axis=1, keepdims=True)
    nb = np.linalg.norm(b_u, axis=1, keepdims=True)
    cos = (a_u * b_u).sum(axis=1, keepdims=True) / (na * nb)
    return (b_u / nb - cos * a_u / na) / (na * sa)


def _triplets(question, right, wrong, margin) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    margin = _validate.nonneg_number(margin, _validate.HINGE_MARGIN)
    q, r = _pair(question, right, ("question", "right"))
    q, w = _pair(question, wrong, ("question", "wrong"))
    for v, name in ((q, "question"), (r, "right"), (w, "wrong")):
        _unit_scale(v, name)
    return q, r, w, margin


def triplet_hinge_loss(question: np.ndarray, right: np.ndarray, wrong: np.ndarray, margin: float = 0.1,
                       reduction: str = "none") -> np.ndarray:
    """The post's question-answer loss ``max(0, m + cos(q, a_wrong) - cos(q, a_right))`` (chapter 01, eq. triplet).

    Parameters
    ----------
    question, right, wrong : array_like, shape (batch, dim)
        Encoder outputs of the question, its right answer and a wrong one; finite,
        non-zero rows.
    margin : float, optional
        The margin ``m >= 0``.
    reduction : {"none", "mean"}, optional
        ``"none"``: one loss per triplet; ``"mean"``: their average.

    Returns
    -------
    numpy.ndarray, shape (batch,) or ()
        Per-triplet losses (``"none"``), exactly 0 once ``cos(q, a_right)`` exceeds
        ``cos(q, a_wrong)`` by more than ``margin``; or their mean (``"mean"``).

    Raises
    ------
    ValueError
        For a bad margin, shape or reduction, non-finite input, a zero row, or
        ``reduction="mean"`` on an empty batch.
    """
    _validate.reduction(reduction)
    q, r, w, margin = _triplets(question, right, wrong, margin)
    return _reduce(np.maximum(0.0, margin + cosine(q, w) - cosine(q, r)), reduction)


def triplet_hinge_grad(question: np.ndarray, right: np.ndarray, wrong: np.ndarray,
                       margin: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form gradients of ``sum_i triplet_hinge_loss`` (chapter 01, eq. triplet).

    Parameters
    ----------
    question, right, wrong : array_like, shape (batch, dim)
        As in :func:`triplet_hinge_loss`.
    margin : float, optional
        The margin ``m >= 0``.

    Returns
    -------
    d_question, d_right, d_wrong : numpy.ndarray, shape (batch, dim)
        The gradients; rows of triplets past the margin (zero loss) are exactly 0.

    Raises
    ------
    ValueError
        As :func:`triplet_hinge_loss`.
    """
    q, r, w, margin = _triplets(question, right, wrong, margin)
    active = (triplet_hinge_loss(q, r, w, margin) > 0)[:, None].astype(np.float64)   # shape (batch, 1)
    d_q = active * (_cosine_grad(q, w) - _cosine_grad(q, r))
    d_r = -active * _cosine_grad(r, q)
    d_w = active * _cosine_grad(w, q)
    return d_q, d_r, d_w


class FaqData(NamedTuple):
    """A synthetic FAQ of ``n_topics`` topics, from :func:`make_faq` (chapter 01).

    Fields: ``questions`` and ``answers``, int64 token ids of shape (n, length) (0 = padding;
    ids start at 1; ``answers[i]`` answers ``questions[i]``), ``topics``, shape (n,), the topic
    of each row, and ``vocab_size``, one more than the largest token id.
    """

    questions: np.ndarray
    answers: np.ndarray
    topics: np.ndarray
    vocab_size: int


def make_faq(n_per_topic: int = 40, n_topics: int = 20, words_per_topic: int = 6, n_shared: int = 30,
             length: int = 8, topic_share: float = 0.5, seed: int = 0) -> FaqData:
    """Questions and answers that share a topic but no words: retrieval must learn the mapping (chapter 01).

    Each topic owns ``words_per_topic`` question words and as many *different* answer
    words; ``n_shared`` filler words belong to every topic.  A sentence of ``length``
    tokens draws each token from its topic's words with probability ``topic_share``,
    else from the fillers.  Token ids start at 1.

    Parameters
    ----------
    n_per_topic : int, optional
        Question-answer pairs per topic (>= 1).
    n_topics : int, optional
        Number of topics (>= 2).
    words_per_topic : int, optional
        Question words (and answer words) of each topic (>= 1).
    n_shared : int, optional
        Filler words common to all topics (>= 0; with 0 every token is a topic word).
    length : int, optional
        Tokens per sentence (>= 1).
    topic_share : float, optional
        Probability that a token is a topic word, in ``(0, 1]``.
    seed : int, optional
        Seed of the ``numpy`` generator (>= 0).

    Returns
    -------
    FaqData
        ``questions`` and ``answers`` of shape (n_per_topic * n_topics, length), ``topics``
        of shape (n_per_topic * n_topics,), and ``vocab_size``.

    Raises
    ------
    ValueError
        If an argument is out of range or not an integer where one is needed.
    """
    n_per_topic = _validate.int_at_least(n_per_topic, "n_per_topic", 1)
    n_topics = _validate.int_at_least(n_topics, "n_topics", 2)
    words_per_topic = _validate.int_at_least(words_per_topic, "words_per_topic", 1)
    n_shared = _validate.int_at_least(n_shared, "n_shared", 0)
    length = _validate.int_at_least(length, "length", 1)
    seed = _validate.int_at_least(seed, "seed", 0)
    if isinstance(topic_share, bool) or not isinstance(topic_share, numbers.Real) or not 0 < topic_share <= 1:
        raise ValueError(f"topic_share must lie in (0, 1], got {topic_share!r}")
    rng = np.random.default_rng(seed)
    q_words = 1 + np.arange(n_topics * words_per_topic).reshape(n_topics, words_per_topic)
    a_words = q_words + n_topics * words_per_topic
    fillers = 1 + 2 * n_topics * words_per_topic + np.arange(n_shared)
    vocab_size = 1 + 2 * n_topics * words_per_topic + n_shared
    topics = np.repeat(np.arange(n_topics), n_per_topic)
    rng.shuffle(topics)

    def sentences(own: np.ndarray) -> np.ndarray:              # own: (n_topics, words_per_topic)
        n = len(topics)
        topic_tok = own[topics[:, None], rng.integers(own.shape[1], size=(n, length))]   # (n, length)
        if not n_shared:
            return topic_tok
        filler_tok = fillers[rng.integers(n_shared, size=(n, length))]
        return np.where(rng.random((n, length)) < topic_share, topic_tok, filler_tok)

    return FaqData(sentences(q_words), sentences(a_words), topics, vocab_size)


def top1_retrieval(scores: np.ndarray, correct: np.ndarray | Sequence[int]) -> float:
    """Share of questions whose highest-scoring candidate is the right one (chapter 01).

    Parameters
    ----------
    scores : array_like, shape (n_questions, n_candidates)
        Finite scores, at least one question and one candidate.
    correct : array_like of int, shape (n_questions,)
        The column of the right candidate of each question, in ``[0, n_candidates)``.

    Returns
    -------
    float
        The top-1 accuracy in ``[0, 1]`` (ties go to the first column).

    Raises
    ------
    ValueError
        For non-finite or empty scores, or a bad shape or index in ``correct``.
    """
    s = _matrix(scores, "scores", "(n_questions, n_candidates)")
    if s.size == 0:
        raise ValueError(_validate.NONEMPTY.format("scores", s.shape, "question and one candidate"))
    c = np.asarray(correct)
    if c.shape != (s.shape[0],):
        raise ValueError(f"correct must have shape ({s.shape[0]},), got {c.shape}")
    if not np.issubdtype(c.dtype, np.integer) or c.dtype == np.bool_:
        raise ValueError(_validate.LABELS_INT)
    if c.min() < 0 or c.max() >= s.shape[1]:
        raise ValueError(_validate.INDEX_RANGE.format("correct", s.shape[1], c.min(), c.max()))
    return float(np.mean(np.argmax(s, axis=1) == c))


def wrong_answers(topics: np.ndarray | Sequence[int], seed: int = 0) -> np.ndarray:
    """For each row, the index of a random row of a *different* topic: the wrong answer (chapter 01).

    Parameters
    ----------
    topics : array_like, shape (n,)
        The topic of each row; at least two different topics.
    seed : int, optional
        Seed of the ``numpy`` generator (>= 0).

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        Row indices ``j`` with ``topics[j] != topics[i]``.

    Raises
    ------
    ValueError
        If ``topics`` is not a vector with at least two different topics, or ``seed`` is bad.
    """
    t = np.asarray(topics)
    seed = _validate.int_at_least(seed, "seed", 0)
    if t.ndim != 1 or len(np.unique(t)) < 2:
        raise ValueError("topics must be a vector holding at least two different topics")
    rng = np.random.default_rng(seed)
    out = np.empty(len(t), dtype=np.int64)
    for i, topic in enumerate(t):
        others = np.flatnonzero(t != topic)
        out[i] = others[rng.integers(len(others))]
    return out
