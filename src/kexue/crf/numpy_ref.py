"""The linear-chain CRF in plain numpy: the specification for chapter 05 (``chapters/05-crf.md``).

Conventions used throughout the package
---------------------------------------
* ``emissions`` ``h`` has shape ``(T, K)`` for one sequence (``(B, T, K)`` batched):
  raw per-position label scores, **not** softmax outputs.
* ``trans[i, j]`` is the score of label ``i`` at step ``t`` followed by label ``j`` at
  step ``t + 1`` (row = *from*, column = *to*).
* ``start`` / ``end`` (optional, shape ``(K,)``) are scores added to the first / last label;
  ``None`` means zero, as in the original post.
* Batched inputs are right-padded: ``mask[b, t]`` is 1 for a real step, 0 for padding, every
  row starts with 1 and has no gap.
* Hard constraints ``allowed`` (K, K), ``allowed_start`` (K,), ``allowed_end`` (K,) are boolean
  masks, ``True`` = allowed; a forbidden move scores ``-inf``.

The brute-force functions enumerate all ``K**T`` paths and are only meant for tiny sizes;
they are the independent check of the recursions.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from kexue import _validate

__all__ = [
    "SBME", "SBME_ALLOWED", "SBME_START", "SBME_END", "sbme_constraints", "count_illegal", "mask_lengths",
    "logsumexp", "path_score", "all_paths", "brute_force_log_z", "brute_force_best_path",
    "brute_force_marginals", "forward_log_alpha", "log_partition", "log_partition_prob_space", "marginals",
    "viterbi", "batch_nll", "batch_viterbi",
]

SBME = "sbme"
"""The four segmentation tags in id order: s (single), b (begin), m (middle), e (end)."""
#: allowed s/b/m/e transitions (row = from, column = to), in the order s, b, m, e
SBME_ALLOWED = np.array([
    # s  b  m  e      (to)
    [1, 1, 0, 0],   # from s
    [0, 0, 1, 1],   # from b
    [0, 0, 1, 1],   # from m
    [1, 1, 0, 0],   # from e
], dtype=bool)
SBME_START = np.array([1, 1, 0, 0], dtype=bool)   # a sentence starts with s or b
SBME_END = np.array([1, 0, 0, 1], dtype=bool)     # ... and ends with s or e


def sbme_constraints() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hard constraints of the s/b/m/e tagging grammar (chapter 05).

    Returns
    -------
    allowed : ndarray of bool, shape (4, 4)
        ``allowed[i, j]``: tag ``i`` may be followed by tag ``j`` (order s, b, m, e).
    allowed_start : ndarray of bool, shape (4,)
        Tags a sentence may start with (s, b).
    allowed_end : ndarray of bool, shape (4,)
        Tags a sentence may end with (s, e).
    """
    return SBME_ALLOWED.copy(), SBME_START.copy(), SBME_END.copy()


def count_illegal(tags: str | Sequence[int] | np.ndarray, allowed: np.ndarray | None = None,
                  allowed_start: np.ndarray | None = None, allowed_end: np.ndarray | None = None) -> int:
    """Number of illegal transitions in one tag sequence (chapter 05).

    Illegal starts (first tag not allowed) and ends (last tag not allowed) count as one each.

    Parameters
    ----------
    tags : str or array_like of int, shape (T,)
        An s/b/m/e string, or tag ids.
    allowed : array_like of bool, shape (K, K), optional
        Allowed transitions (row = from).  Default: the s/b/m/e grammar, with its start and
        end constraints.
    allowed_start, allowed_end : array_like of bool, shape (K,), optional
        Allowed first and last tags; ``None`` (with ``allowed`` given) checks none.

    Returns
    -------
    int
        The number of forbidden moves.

    Raises
    ------
    ValueError
        If a tag string holds a letter other than s/b/m/e, or a tag id lies outside ``[0, K)``.
    """
    if isinstance(tags, str):
        if set(tags) - set(SBME):
            raise ValueError(_validate.SBME_TAGS.format(tags))
        tags = [SBME.index(c) for c in tags]
    if allowed is None:
        allowed, allowed_start, allowed_end = sbme_constraints()
    allowed = np.asarray(allowed)
    K = allowed.shape[0] if allowed.ndim == 2 else -1
    allowed = _validate.constraint(allowed, (K, K), "allowed")
    if allowed_start is not None:
        allowed_start = _validate.constraint(allowed_start, (K,), "allowed_start")
    if allowed_end is not None:
        allowed_end = _validate.constraint(allowed_end, (K,), "allowed_end")
    y = np.asarray(tags)
    if y.size == 0:
        return 0
    y = _check_tags(y, len(y), K)
    n = int(np.sum(~allowed[y[:-1], y[1:]]))
    if allowed_start is not None:
        n += int(not allowed_start[y[0]])
    if allowed_end is not None:
        n += int(not allowed_end[y[-1]])
    return n


# --------------------------------------------------------------------------- validation
def _check_single(h, trans, start=None, end=None) -> tuple[np.ndarray, ...]:
    """Emissions (T, K), trans (K, K), start and end (K,) as float64, after every check."""
    h = np.asarray(h, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    if h.ndim != 2:
        raise ValueError(_validate.CRF_EM_SINGLE.format(h.shape))
    T, K = h.shape
    if T == 0:
        raise ValueError(_validate.CRF_ZERO_LENGTH)
    if trans.shape != (K, K):
        raise ValueError(_validate.CRF_TRANS_SHAPE.format((K, K), trans.shape))
    if not np.all(np.isfinite(h)):
        raise ValueError(_validate.CRF_NONFINITE.format("emissions"))
    s = np.zeros(K) if start is None else np.asarray(start, dtype=np.float64)
    e = np.zeros(K) if end is None else np.asarray(end, dtype=np.float64)
    if s.shape != (K,) or e.shape != (K,):
        raise ValueError(_validate.CRF_START_END_SHAPE.format((K,), s.shape, e.shape))
    _validate.crf_params(trans, s, e)
    return h, trans, s, e


def _check_tags(tags, T: int, K: int) -> np.ndarray:
    """Integer tags (T,) in ``[0, K)`` as int64."""
    y = np.asarray(tags)
    if y.shape != (T,):
        raise ValueError(_validate.TAGS_SHAPE.format((T,), y.shape))
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(_validate.TAGS_INT.format(y.dtype))
    if y.size and (y.min() < 0 or y.max() >= K):
        raise ValueError(_validate.TAGS_RANGE.format(K, y.min(), y.max()))
    return y.astype(np.int64)


def _check_batch(emissions) -> np.ndarray:
    em = np.asarray(emissions, dtype=np.float64)
    if em.ndim != 3:
        raise ValueError(_validate.CRF_EM_BATCH.format(em.shape))
    return em


def mask_lengths(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Validate a right-padding mask and return the sequence lengths (chapter 05).

    Parameters
    ----------
    mask : array_like of bool or 0/1, shape (B, T)
        True = a real step; padding only at the end of a row.
    shape : tuple of int
        The expected ``(B, T)``.

    Returns
    -------
    ndarray of int, shape (B,)
        The number of real steps of each row.

    Raises
    ------
    ValueError
        If the mask has the wrong shape, values other than 0/1, a row starting with padding
        (or no steps at all), or a gap.
    """
    m = np.asarray(mask)
    if m.shape != tuple(shape):
        raise ValueError(_validate.CRF_MASK_SHAPE.format(tuple(shape), m.shape))
    if not np.all((m == 0) | (m == 1)):
        raise ValueError(_validate.CRF_MASK_01)
    m = m.astype(bool)
    if m.shape[1] == 0 or not np.all(m[:, 0]):
        raise ValueError(_validate.CRF_MASK_START)
    if np.any(~m[:, :-1] & m[:, 1:]):
        raise ValueError(_validate.CRF_MASK_GAP)
    return m.sum(axis=1)


# --------------------------------------------------------------------------- scores
def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """``log(sum(exp(a)))`` along ``axis`` with the max-shift trick (chapter 05).

    Parameters
    ----------
    a : ndarray
        Finite scores, any shape.
    axis : int
        The axis to reduce.

    Returns
    -------
    ndarray
        ``a``'s shape without ``axis``; stable for scores of any size.
    """
    A = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(A, axis) + np.log(np.sum(np.exp(a - A), axis=axis))


def path_score(h: np.ndarray, tags: Sequence[int] | np.ndarray, trans: np.ndarray,
               start: np.ndarray | None = None, end: np.ndarray | None = None) -> float:
    """Score of one label path, ``sum_t h[t, y_t] + sum_t trans[y_t, y_{t+1}]`` (chapter 05).

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence.
    tags : array_like of int, shape (T,)
        The path, tag ids in ``[0, K)``.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).

    Returns
    -------
    float
        The path's score (plus ``start[y_0] + end[y_{T-1}]``).

    Raises
    ------
    ValueError
        If a shape does not match, a score is not finite, or a tag is not an integer in ``[0, K)``.
    """
    h, trans, s, e = _check_single(h, trans, start, end)
    y = _check_tags(tags, *h.shape)
    return float(h[np.arange(len(y)), y].sum() + trans[y[:-1], y[1:]].sum() + s[y[0]] + e[y[-1]])


def all_paths(T: int, K: int) -> np.ndarray:
    """Every label path of length ``T`` over ``K`` labels (chapter 05; tiny sizes only).

    Parameters
    ----------
    T : int
        Sequence length (>= 1).
    K : int
        Number of labels (>= 1).

    Returns
    -------
    ndarray of int64, shape (K**T, T)
        The paths in lexicographic order.

    Raises
    ------
    ValueError
        If ``T`` or ``K`` is not a positive integer, or ``K**T`` exceeds two million.
    """
    T, K = _validate.positive_int(T, "T"), _validate.positive_int(K, "K")
    if K ** T > 2_000_000:
        raise ValueError(f"K**T = {K ** T} paths is too many to enumerate")
    return np.array(list(itertools.product(range(K), repeat=T)), dtype=np.int64).reshape(-1, T)


def _all_scores(h, trans, s, e) -> tuple[np.ndarray, np.ndarray]:
    T, K = h.shape
    paths = all_paths(T, K)                                                 # (K**T, T)
    scores = h[np.arange(T), paths].sum(1) + trans[paths[:, :-1], paths[:, 1:]].sum(1)
    return paths, scores + s[paths[:, 0]] + e[paths[:, -1]]


def brute_force_log_z(h: np.ndarray, trans: np.ndarray, start: np.ndarray | None = None,
                      end: np.ndarray | None = None) -> float:
    """``log Z`` by enumerating every path: the CRF as one softmax over ``K**T`` classes (chapter 05).

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).

    Returns
    -------
    float
        ``log`` of the sum of ``exp(score)`` over all paths.
    """
    h, trans, s, e = _check_single(h, trans, start, end)
    _, scores = _all_scores(h, trans, s, e)
    return float(logsumexp(scores, axis=0))


def brute_force_best_path(h: np.ndarray, trans: np.ndarray, start: np.ndarray | None = None,
                          end: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """The highest-scoring path and its score, by enumerating every path (chapter 05).

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).

    Returns
    -------
    path : ndarray of int64, shape (T,)
        The best path (the first one in lexicographic order on ties).
    score : float
        Its score.
    """
    h, trans, s, e = _check_single(h, trans, start, end)
    paths, scores = _all_scores(h, trans, s, e)
    i = int(np.argmax(scores))
    return paths[i], float(scores[i])


def brute_force_marginals(h: np.ndarray, trans: np.ndarray, start: np.ndarray | None = None,
                          end: np.ndarray | None = None) -> np.ndarray:
    """Posterior marginals ``P(y_t = j | x)`` by summing path probabilities (chapter 05).

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).

    Returns
    -------
    ndarray, shape (T, K)
        Each row sums to 1.
    """
    h, trans, s, e = _check_single(h, trans, start, end)
    paths, scores = _all_scores(h, trans, s, e)
    p = np.exp(scores - logsumexp(scores, axis=0))
    T, K = h.shape
    out = np.zeros((T, K))
    for t in range(T):
        np.add.at(out[t], paths[:, t], p)
    return out


# --------------------------------------------------------------------------- recursions
def forward_log_alpha(h: np.ndarray, trans: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """Forward variables ``alpha[t, j] = log Z_t^(j)`` (chapter 05).

    ``alpha[t, j]`` is the log-sum of ``exp(score)`` over the partial paths of steps ``0..t``
    that end in label ``j``.

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start : array_like, shape (K,), optional
        Scores of the first tag (``None``: zero).

    Returns
    -------
    ndarray, shape (T, K)
        The forward variables.
    """
    h, trans, s, _ = _check_single(h, trans, start, None)
    T, K = h.shape
    alpha = np.empty((T, K))
    alpha[0] = s + h[0]
    for t in range(1, T):
        # cand[i, j] = alpha[t-1, i] + trans[i, j]: reduce over the *from* axis i (axis 0)
        cand = alpha[t - 1][:, None] + trans                                # (from, to)
        alpha[t] = logsumexp(cand, axis=0) + h[t]
    return alpha


def log_partition(h: np.ndarray, trans: np.ndarray, start: np.ndarray | None = None,
                  end: np.ndarray | None = None) -> float:
    """``log Z`` by the forward recursion in log space, ``O(T K^2)`` (chapter 05).

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).

    Returns
    -------
    float
        ``log Z``, equal to :func:`brute_force_log_z`.

    Raises
    ------
    ValueError
        If a shape does not match or a score is not finite.
    """
    h, trans, s, e = _check_single(h, trans, start, end)
    alpha = forward_log_alpha(h, trans, s)
    return float(logsumexp(alpha[-1] + e, axis=0))


def log_partition_prob_space(h: np.ndarray, trans: np.ndarray) -> float:
    """``log Z`` from the probability-space recursion ``Z_{t+1} = (Z_t G) * H_{t+1}`` (chapter 05).

    Overflows for large scores; the log-space :func:`log_partition` does not.

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence (small).
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag (small).

    Returns
    -------
    float
        ``log Z``.
    """
    h, trans, _, _ = _check_single(h, trans)
    G, H = np.exp(trans), np.exp(h)
    Z = H[0]
    for t in range(1, len(H)):
        Z = (Z @ G) * H[t]
    return float(np.log(Z.sum()))


def marginals(h: np.ndarray, trans: np.ndarray, start: np.ndarray | None = None,
              end: np.ndarray | None = None) -> np.ndarray:
    """Posterior marginals ``P(y_t = j | x)`` by the forward–backward algorithm (chapter 05).

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).

    Returns
    -------
    ndarray, shape (T, K)
        Each row sums to 1; equal to the gradient of ``log Z`` with respect to ``h``.
    """
    h, trans, s, e = _check_single(h, trans, start, end)
    T, K = h.shape
    alpha = forward_log_alpha(h, trans, s)
    beta = np.empty((T, K))
    beta[-1] = e
    for t in range(T - 2, -1, -1):
        # beta[t, i] = logsumexp_j trans[i, j] + h[t+1, j] + beta[t+1, j]: reduce over *to* axis
        beta[t] = logsumexp(trans + (h[t + 1] + beta[t + 1])[None, :], axis=1)
    log_z = logsumexp(alpha[-1] + e, axis=0)
    return np.exp(alpha + beta - log_z)


def viterbi(h: np.ndarray, trans: np.ndarray, start: np.ndarray | None = None, end: np.ndarray | None = None,
            allowed: np.ndarray | None = None, allowed_start: np.ndarray | None = None,
            allowed_end: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Best path and its score: the forward recursion with ``max`` for ``logsumexp`` (chapter 05).

    Parameters
    ----------
    h : array_like, shape (T, K)
        Emission scores of one sequence.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).
    allowed : array_like of bool, shape (K, K), optional
        Hard constraints on transitions, ``True`` = allowed; a forbidden move scores ``-inf``.
    allowed_start, allowed_end : array_like of bool, shape (K,), optional
        Hard constraints on the first and last tag.

    Returns
    -------
    path : ndarray of int64, shape (T,)
        The best path.
    score : float
        Its score (finite).

    Raises
    ------
    ValueError
        If an input is malformed, or the constraints leave no legal path.
    """
    h, trans, s, e = _check_single(h, trans, start, end)
    T, K = h.shape
    trans = trans.copy()
    s, e = s.copy(), e.copy()
    if allowed is not None:
        trans[~_validate.constraint(allowed, (K, K), "allowed")] = -np.inf
    if allowed_start is not None:
        s[~_validate.constraint(allowed_start, (K,), "allowed_start")] = -np.inf
    if allowed_end is not None:
        e[~_validate.constraint(allowed_end, (K,), "allowed_end")] = -np.inf
    delta = s + h[0]                                                        # (K,)
    back = np.zeros((T, K), dtype=np.int64)
    for t in range(1, T):
        cand = delta[:, None] + trans                                       # (from, to)
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(K)] + h[t]
    delta = delta + e
    best = np.empty(T, dtype=np.int64)
    best[-1] = int(np.argmax(delta))
    if not np.isfinite(delta[best[-1]]):            # every path takes a forbidden move
        raise ValueError(_validate.CRF_NO_PATH.format(T))
    for t in range(T - 1, 0, -1):
        best[t - 1] = back[t, best[t]]
    return best, float(delta[best[-1]])


# --------------------------------------------------------------------------- batched helpers
def batch_nll(emissions: np.ndarray, tags: np.ndarray, mask: np.ndarray, trans: np.ndarray,
              start: np.ndarray | None = None, end: np.ndarray | None = None,
              reduction: str = "none") -> np.ndarray:
    """Negative log-likelihoods of a right-padded batch, one sequence at a time (chapter 05).

    The reference for ``CRF.nll`` of :mod:`kexue.crf.torch` and :mod:`kexue.crf.keras`.

    Parameters
    ----------
    emissions : array_like, shape (B, T, K)
        Emission scores.
    tags : array_like of int, shape (B, T)
        Gold tags in ``[0, K)`` on real steps; padded steps are ignored.
    mask : array_like of bool, shape (B, T)
        True = a real step; padding only at the end of a row.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).
    reduction : {"none", "mean"}, optional
        ``"none"``: one value per sequence; ``"mean"``: their mean.

    Returns
    -------
    ndarray, shape (B,) or ()
        ``log Z - score(tags)`` per sequence (``"none"``) or its mean (``"mean"``).

    Raises
    ------
    ValueError
        If an input is malformed, or ``reduction="mean"`` gets an empty batch.
    """
    if reduction not in ("none", "mean"):
        raise ValueError(_validate.REDUCTION.format(reduction))
    em = _check_batch(emissions)
    y = np.asarray(tags)
    if y.shape != em.shape[:2]:
        raise ValueError(_validate.TAGS_SHAPE.format(em.shape[:2], y.shape))
    lengths = mask_lengths(mask, em.shape[:2])
    out = np.empty(len(em))
    for b, n in enumerate(lengths):
        out[b] = log_partition(em[b, :n], trans, start, end) - path_score(em[b, :n], y[b, :n], trans, start, end)
    if reduction == "mean":
        if len(out) == 0:
            raise ValueError(_validate.CRF_EMPTY_BATCH)
        return np.asarray(out.mean())
    return out


def batch_viterbi(emissions: np.ndarray, mask: np.ndarray, trans: np.ndarray, start: np.ndarray | None = None,
                  end: np.ndarray | None = None, allowed: np.ndarray | None = None,
                  allowed_start: np.ndarray | None = None, allowed_end: np.ndarray | None = None,
                  pad: int = -1) -> np.ndarray:
    """Best paths of a right-padded batch, one sequence at a time (chapter 05).

    The reference for ``CRF.decode`` of :mod:`kexue.crf.torch` and :mod:`kexue.crf.keras`.

    Parameters
    ----------
    emissions : array_like, shape (B, T, K)
        Emission scores.
    mask : array_like of bool, shape (B, T)
        True = a real step; padding only at the end of a row.
    trans : array_like, shape (K, K)
        Transition scores, row = previous tag.
    start, end : array_like, shape (K,), optional
        Scores of the first and last tag (``None``: zero).
    allowed : array_like of bool, shape (K, K), optional
        Allowed transitions (``True`` = allowed).
    allowed_start, allowed_end : array_like of bool, shape (K,), optional
        Allowed first and last tags.
    pad : int, optional
        Written on padded steps.

    Returns
    -------
    ndarray of int64, shape (B, T)
        The best path of every sequence, ``pad`` on padded steps.

    Raises
    ------
    ValueError
        If an input is malformed, or the constraints leave a sequence no legal path.
    """
    em = _check_batch(emissions)
    lengths = mask_lengths(mask, em.shape[:2])
    out = np.full(em.shape[:2], pad, dtype=np.int64)
    for b, n in enumerate(lengths):
        out[b, :n] = viterbi(em[b, :n], trans, start, end, allowed, allowed_start, allowed_end)[0]
    return out
