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

The brute-force functions enumerate all ``K**T`` paths and are only meant for tiny sizes;
they are the independent check of the recursions.
"""
from __future__ import annotations

import itertools

import numpy as np

from kexue import _validate

__all__ = [
    "SBME", "SBME_ALLOWED", "SBME_START", "SBME_END", "sbme_constraints", "count_illegal", "mask_lengths",
    "logsumexp", "path_score", "all_paths", "brute_force_log_z", "brute_force_best_path",
    "brute_force_marginals", "forward_log_alpha", "log_partition", "log_partition_prob_space", "marginals",
    "viterbi", "batch_nll", "batch_viterbi",
]

SBME = "sbme"
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
    """``(allowed, allowed_start, allowed_end)`` boolean masks of the s/b/m/e tagging grammar."""
    return SBME_ALLOWED.copy(), SBME_START.copy(), SBME_END.copy()


def count_illegal(tags, allowed: np.ndarray | None = None, allowed_start: np.ndarray | None = None,
                  allowed_end: np.ndarray | None = None) -> int:
    """Number of illegal transitions in one tag sequence (ints or an s/b/m/e string).

    Illegal starts (first tag not allowed) and ends (last tag not allowed) count as one each;
    the defaults are the s/b/m/e grammar.
    """
    if isinstance(tags, str):
        if set(tags) - set(SBME):
            raise ValueError(f"tag string may only contain s/b/m/e, got {tags!r}")
        tags = [SBME.index(c) for c in tags]
    tags = np.asarray(tags, dtype=np.int64)
    if allowed is None:
        allowed, allowed_start, allowed_end = sbme_constraints()
    if len(tags) == 0:
        return 0
    n = int(np.sum(~allowed[tags[:-1], tags[1:]]))
    if allowed_start is not None:
        n += int(not allowed_start[tags[0]])
    if allowed_end is not None:
        n += int(not allowed_end[tags[-1]])
    return n


# --------------------------------------------------------------------------- validation
def _check_single(h: np.ndarray, trans: np.ndarray, start=None, end=None) -> tuple[np.ndarray, ...]:
    h = np.asarray(h, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    if h.ndim != 2:
        raise ValueError(f"emissions must have shape (T, K), got {h.shape}")
    T, K = h.shape
    if T == 0:
        raise ValueError("zero-length sequence: emissions have T = 0 steps")
    if trans.shape != (K, K):
        raise ValueError(f"trans must have shape ({K}, {K}) to match emissions, got {trans.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("emissions contain non-finite values (nan or inf)")
    s = np.zeros(K) if start is None else np.asarray(start, dtype=np.float64)
    e = np.zeros(K) if end is None else np.asarray(end, dtype=np.float64)
    if s.shape != (K,) or e.shape != (K,):
        raise ValueError(f"start/end must have shape ({K},), got {s.shape} and {e.shape}")
    return h, trans, s, e


def _check_tags(tags, T: int, K: int) -> np.ndarray:
    y = np.asarray(tags)
    if y.shape != (T,):
        raise ValueError(_validate.TAGS_SHAPE.format((T,), y.shape))
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(_validate.TAGS_INT.format(y.dtype))
    if y.size and (y.min() < 0 or y.max() >= K):
        raise ValueError(_validate.TAGS_RANGE.format(K, y.min(), y.max()))
    return y.astype(np.int64)


def mask_lengths(mask, shape: tuple[int, int]) -> np.ndarray:
    """Validate a right-padding mask of shape ``(B, T)`` and return its lengths ``(B,)``."""
    m = np.asarray(mask)
    if m.shape != tuple(shape):
        raise ValueError(f"mask must have shape {tuple(shape)} to match emissions, got {m.shape}")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("mask must contain only 0/1 (or booleans)")
    m = m.astype(bool)
    if m.shape[1] == 0 or not np.all(m[:, 0]):
        raise ValueError("every sequence needs at least one step and the mask must start with 1 "
                         "(zero-length sequence or left padding)")
    if np.any(~m[:, :-1] & m[:, 1:]):
        raise ValueError("mask has a gap (a 0 followed by a 1): only right padding is supported")
    return m.sum(axis=1)


# --------------------------------------------------------------------------- scores
def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    """``log(sum(exp(a)))`` along ``axis`` with the max-shift trick (stable for large scores)."""
    A = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(A, axis) + np.log(np.sum(np.exp(a - A), axis=axis))


def path_score(h, tags, trans, start=None, end=None) -> float:
    """Score of one label path: ``sum_t h[t, y_t] + sum_t trans[y_t, y_{t+1}]`` (+ start/end)."""
    h, trans, s, e = _check_single(h, trans, start, end)
    y = _check_tags(tags, *h.shape)
    return float(h[np.arange(len(y)), y].sum() + trans[y[:-1], y[1:]].sum() + s[y[0]] + e[y[-1]])


def all_paths(T: int, K: int) -> np.ndarray:
    """All ``K**T`` label paths as an int array ``(K**T, T)`` (tiny sizes only)."""
    if K ** T > 2_000_000:
        raise ValueError(f"K**T = {K ** T} paths is too many to enumerate")
    return np.array(list(itertools.product(range(K), repeat=T)), dtype=np.int64).reshape(-1, T)


def _all_scores(h, trans, s, e) -> tuple[np.ndarray, np.ndarray]:
    T, K = h.shape
    paths = all_paths(T, K)
    scores = h[np.arange(T), paths].sum(1) + trans[paths[:, :-1], paths[:, 1:]].sum(1)
    return paths, scores + s[paths[:, 0]] + e[paths[:, -1]]


def brute_force_log_z(h, trans, start=None, end=None) -> float:
    """``log Z`` by enumerating every path: the CRF as one softmax over ``K**T`` classes."""
    h, trans, s, e = _check_single(h, trans, start, end)
    _, scores = _all_scores(h, trans, s, e)
    return float(logsumexp(scores, axis=0))


def brute_force_best_path(h, trans, start=None, end=None) -> tuple[np.ndarray, float]:
    """The highest-scoring path (and its score) by enumerating every path."""
    h, trans, s, e = _check_single(h, trans, start, end)
    paths, scores = _all_scores(h, trans, s, e)
    i = int(np.argmax(scores))
    return paths[i], float(scores[i])


def brute_force_marginals(h, trans, start=None, end=None) -> np.ndarray:
    """``P(y_t = j | x)`` ``(T, K)`` by summing path probabilities over all paths."""
    h, trans, s, e = _check_single(h, trans, start, end)
    paths, scores = _all_scores(h, trans, s, e)
    p = np.exp(scores - logsumexp(scores, axis=0))
    T, K = h.shape
    out = np.zeros((T, K))
    for t in range(T):
        np.add.at(out[t], paths[:, t], p)
    return out


# --------------------------------------------------------------------------- recursions
def forward_log_alpha(h, trans, start=None) -> np.ndarray:
    """Forward variables ``alpha[t, j] = log Z_t^(j)`` (log-sum over partial paths ending in j)."""
    h, trans, s, _ = _check_single(h, trans, start, None)
    T, K = h.shape
    alpha = np.empty((T, K))
    alpha[0] = s + h[0]
    for t in range(1, T):
        # cand[i, j] = alpha[t-1, i] + trans[i, j]: reduce over the *from* axis i (axis 0)
        cand = alpha[t - 1][:, None] + trans
        alpha[t] = logsumexp(cand, axis=0) + h[t]
    return alpha


def log_partition(h, trans, start=None, end=None) -> float:
    """``log Z`` by the forward recursion in log space, ``O(T K^2)``."""
    h, trans, s, e = _check_single(h, trans, start, end)
    alpha = forward_log_alpha(h, trans, s)
    return float(logsumexp(alpha[-1] + e, axis=0))


def log_partition_prob_space(h, trans) -> float:
    """``log Z`` from the probability-space recursion ``Z_{t+1} = (Z_t G) * H_{t+1}`` (small scores only)."""
    h, trans, _, _ = _check_single(h, trans)
    G, H = np.exp(trans), np.exp(h)
    Z = H[0]
    for t in range(1, len(H)):
        Z = (Z @ G) * H[t]
    return float(np.log(Z.sum()))


def marginals(h, trans, start=None, end=None) -> np.ndarray:
    """Posterior marginals ``P(y_t = j | x)`` ``(T, K)`` by the forward–backward algorithm."""
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


def viterbi(h, trans, start=None, end=None, allowed=None, allowed_start=None, allowed_end=None
            ) -> tuple[np.ndarray, float]:
    """Best path and its score: the forward recursion with ``max`` in place of ``logsumexp``.

    ``allowed`` (K, K), ``allowed_start`` (K,), ``allowed_end`` (K,) are optional boolean masks of
    hard constraints; forbidden moves get a score of ``-inf``.
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
    delta = s + h[0]
    back = np.zeros((T, K), dtype=np.int64)
    for t in range(1, T):
        cand = delta[:, None] + trans          # (from, to)
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(K)] + h[t]
    delta = delta + e
    best = np.empty(T, dtype=np.int64)
    best[-1] = int(np.argmax(delta))
    for t in range(T - 1, 0, -1):
        best[t - 1] = back[t, best[t]]
    return best, float(delta[best[-1]])


# --------------------------------------------------------------------------- batched helpers
def batch_nll(emissions, tags, mask, trans, start=None, end=None) -> np.ndarray:
    """Per-sequence negative log-likelihoods ``(B,)`` of a right-padded batch (loops over the batch)."""
    em = np.asarray(emissions, dtype=np.float64)
    if em.ndim != 3:
        raise ValueError(f"emissions must have shape (B, T, K), got {em.shape}")
    y = np.asarray(tags)
    if y.shape != em.shape[:2]:
        raise ValueError(f"tags must have shape {em.shape[:2]} to match emissions, got {y.shape}")
    lengths = mask_lengths(mask, em.shape[:2])
    out = np.empty(len(em))
    for b, n in enumerate(lengths):
        out[b] = log_partition(em[b, :n], trans, start, end) - path_score(em[b, :n], y[b, :n], trans, start, end)
    return out


def batch_viterbi(emissions, mask, trans, start=None, end=None, allowed=None, allowed_start=None,
                  allowed_end=None, pad: int = -1) -> np.ndarray:
    """Best paths ``(B, T)`` of a right-padded batch, padded with ``pad``."""
    em = np.asarray(emissions, dtype=np.float64)
    if em.ndim != 3:
        raise ValueError(f"emissions must have shape (B, T, K), got {em.shape}")
    lengths = mask_lengths(mask, em.shape[:2])
    out = np.full(em.shape[:2], pad, dtype=np.int64)
    for b, n in enumerate(lengths):
        out[b, :n] = viterbi(em[b, :n], trans, start, end, allowed, allowed_start, allowed_end)[0]
    return out
