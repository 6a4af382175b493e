"""PMI word vectors ("simpler GloVe"): the numpy reference (the specification).

Chapter 04 of the book (``chapters/04-pmi-word-vectors.md``), after Su Jianlin's
series 更别致的词向量模型 (https://kexue.fm/archives/4669 and parts 4667–4681).

Pipeline:

1. :func:`build_counted_vocab` and :func:`cooccurrence`: symmetric, unweighted window
   counts over a tokenised corpus into a sparse matrix, self-pairs excluded
   (vectorised over window offsets, no Python loop over pairs);
   :func:`cooccurrence_loop` is the literal loop, for checking.
2. :func:`pmi_pairs`: PMI of every co-occurring pair (each unordered pair once),
   :func:`ppmi_matrix` for the SVD baseline.
3. :func:`train_simpler_glove`: weighted least squares
   ``sum λ(x) (<v_i, v_j> - PMI_ij)^2 / 2`` with Adagrad, one shared vector per
   word and no biases.  :mod:`kexue.pmi.torch` is the same algorithm in PyTorch.
4. :func:`svd_vectors`: the PPMI + truncated eigendecomposition baseline.
5. Applications: :func:`neighbours`, :func:`analogy`, :func:`keywords`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

__all__ = [
    "Vocab", "Pairs", "build_counted_vocab", "corpus_ids", "cooccurrence", "cooccurrence_loop", "pmi_pairs",
    "ppmi_matrix", "glove_weight", "init_vectors", "batch_orders", "simpler_glove_loss", "simpler_glove_grad", "train_simpler_glove",
    "svd_vectors", "glove_loss", "glove_translate", "neighbours", "analogy", "keywords",
    "planted_pmi", "topic_corpus", "pair_correlation", "pearson_map", "norm_vs_logp", "UPDATES",
    "POST_SMALLEST_NORMS", "POST_ANALOGIES", "POST_KEYWORDS",
]


# ----------------------------------------------------------------------------- vocabulary
@dataclass
class Vocab:
    """Words sorted by decreasing count (ties by the word itself), with their counts."""

    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise ValueError("words and counts must have the same length")
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def ids(self, words: Iterable[str]) -> np.ndarray:
        """Indices of the in-vocabulary words among ``words`` (others are dropped)."""
        return np.array([self.index[w] for w in words if w in self.index], dtype=np.int64)

    @property
    def log_prob(self) -> np.ndarray:
        """``log P(w)`` from the in-vocabulary counts."""
        return np.log(self.counts) - np.log(self.counts.sum())


def _check_corpus(sentences: Sequence[Sequence[str]]) -> None:
    if isinstance(sentences, str) or not hasattr(sentences, "__len__"):
        raise ValueError("the corpus must be a list of sentences, each a list of words")
    if len(sentences) == 0 or all(len(s) == 0 for s in sentences):
        raise ValueError("the corpus is empty: no sentence contains a word")
    for s in sentences:
        if isinstance(s, str):
            raise ValueError("each sentence must be a list of words, not a string")


def build_counted_vocab(sentences: Sequence[Sequence[str]], min_count: int = 1) -> Vocab:
    """Words occurring at least ``min_count`` times, most frequent first."""
    _check_corpus(sentences)
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    counts = Counter(w for s in sentences for w in s)
    bad = next((w for w in counts if not isinstance(w, str)), None)
    if bad is not None:
        raise ValueError(f"words must be strings, got {type(bad).__name__} {bad!r}")
    kept = sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
    if not kept:
        raise ValueError(f"no word occurs at least min_count={min_count} times")
    return Vocab([w for w, _ in kept], np.array([c for _, c in kept]))


def corpus_ids(sentences: Sequence[Sequence[str]], vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """The corpus as ``(ids, sentence_ids)``; out-of-vocabulary words are removed first.

    As in GloVe's ``cooccur``, a dropped word does not occupy a window slot.
    """
    _check_corpus(sentences)
    index = vocab.index
    ids: list[int] = []
    sid: list[int] = []
    for k, s in enumerate(sentences):
        row = [index[w] for w in s if w in index]
        ids.extend(row)
        sid.extend([k] * len(row))
    return np.asarray(ids, dtype=np.int64), np.asarray(sid, dtype=np.int64)


# ----------------------------------------------------------------------------- counting
def cooccurrence(sentences: Sequence[Sequence[str]], vocab: Vocab, window: int) -> sparse.csr_matrix:
    """Symmetric co-occurrence counts ``X`` (float64 CSR, zero diagonal).

    Every pair of in-vocabulary tokens of one sentence at distance
    ``1..window`` adds 1 to ``X[a, b]`` and to ``X[b, a]`` (unweighted, unlike
    GloVe's 1/distance); pairs of a word with itself are skipped.  Vectorised:
    one pass per offset ``d`` over the concatenated corpus.
    """
    if int(window) != window or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window}")
    ids, sid = corpus_ids(sentences, vocab)
    n = len(vocab)
    rows, cols = [], []
    for d in range(1, int(window) + 1):
        same = sid[d:] == sid[:-d]
        a, b = ids[:-d][same], ids[d:][same]
        keep = a != b
        rows += [a[keep], b[keep]]
        cols += [b[keep], a[keep]]
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    X = sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)).tocsr()
    X.sum_duplicates()
    X.sort_indices()
    return X


def cooccurrence_loop(sentences: Sequence[Sequence[str]], vocab: Vocab, window: int) -> dict[tuple[int, int], int]:
    """The same counts by the literal double loop (slow; for checking on small corpora)."""
    if int(window) != window or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window}")
    counts: dict[tuple[int, int], int] = {}
    for s in sentences:
        toks = [vocab.index[w] for w in s if w in vocab.index]
        for j in range(len(toks)):
            for k in range(max(0, j - window), j):
                if toks[k] != toks[j]:
                    for key in ((toks[k], toks[j]), (toks[j], toks[k])):
                        counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass
class Pairs:
    """Each co-occurring unordered pair ``i < j`` once: count ``x`` and its ``pmi``."""

    i: np.ndarray
    j: np.ndarray
    x: np.ndarray
    pmi: np.ndarray

    def __len__(self) -> int:
        return len(self.i)

    def subset(self, mask: np.ndarray) -> "Pairs":
        return Pairs(self.i[mask], self.j[mask], self.x[mask], self.pmi[mask])


def _check_counts(X: sparse.spmatrix, counts) -> np.ndarray:
    """Word counts as float64 after checking them: one per row of ``X``, finite, and positive for every
    word that co-occurs (a zero count would make its PMI ``+inf``)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1:
        raise ValueError(f"counts must be a vector with one count per word, got shape {counts.shape}")
    if X.shape[0] != X.shape[1] or X.shape[0] != len(counts):
        raise ValueError(f"X must be square with one row per word: {X.shape} vs {len(counts)} counts")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("counts must be finite and non-negative")
    C = sparse.coo_matrix(X)
    if not np.all(np.isfinite(C.data)) or np.any(C.data < 0):
        raise ValueError("co-occurrence counts X must be finite and non-negative")
    used = np.unique(np.concatenate([C.row[C.data > 0], C.col[C.data > 0]]))
    zero = used[counts[used] <= 0]
    if len(zero):
        raise ValueError(f"word {int(zero[0])} co-occurs but has count 0: its PMI would be infinite "
                         f"({len(zero)} such word(s); counts must come from the same corpus as X)")
    return counts


def _pmi_values(X: sparse.coo_matrix, counts: np.ndarray, total_pairs: float) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    log_tw = np.log(counts.sum())
    return (np.log(X.data) - np.log(total_pairs) - np.log(counts[X.row]) - np.log(counts[X.col]) + 2 * log_tw)


def pmi_pairs(X: sparse.spmatrix, counts: np.ndarray) -> Pairs:
    """PMI of the co-occurring pairs: ``log X_ij - log TC - log f_i - log f_j + 2 log TW``.

    ``P(i, j) = X_ij / TC`` with ``TC = X.sum()`` (both orders, no self-pairs);
    ``P(i) = f_i / TW`` from the in-vocabulary counts ``f``.
    """
    X = sparse.csr_matrix(X)
    X.eliminate_zeros()
    counts = _check_counts(X, counts)
    if X.nnz == 0:
        raise ValueError("no co-occurring pairs: the corpus is too small for this window")
    total = float(X.sum())
    U = sparse.triu(X, k=1).tocoo()
    order = np.lexsort((U.col, U.row))
    U = sparse.coo_matrix((U.data[order], (U.row[order], U.col[order])), shape=U.shape)
    return Pairs(U.row.astype(np.int64), U.col.astype(np.int64), U.data.copy(), _pmi_values(U, counts, total))


def ppmi_matrix(X: sparse.spmatrix, counts: np.ndarray) -> sparse.csr_matrix:
    """Positive PMI, ``max(PMI, 0)`` on the co-occurring pairs, as a symmetric sparse matrix."""
    C = sparse.coo_matrix(X)
    C.eliminate_zeros()
    counts = _check_counts(C, counts)
    vals = np.maximum(_pmi_values(C, counts, float(C.sum())), 0.0)
    M = sparse.coo_matrix((vals, (C.row, C.col)), shape=C.shape).tocsr()
    M.eliminate_zeros()
    return M


def glove_weight(x: np.ndarray, x_max: float = 100.0, alpha: float = 0.75, truncate: bool = False) -> np.ndarray:
    """The loss weight ``λ(x) = (x / x_max)^α``, capped at 1 if ``truncate``."""
    w = (np.asarray(x, dtype=np.float64) / x_max) ** alpha
    return np.minimum(w, 1.0) if truncate else w


# ----------------------------------------------------------------------------- training
def init_vectors(n_words: int, dim: int, seed: int) -> np.ndarray:
    """GloVe's initialisation: ``Uniform(-0.5, 0.5) / dim``, float64."""
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    if dim > n_words:
        raise ValueError(f"dim={dim} exceeds the vocabulary size {n_words}")
    return (np.random.default_rng(seed).random((n_words, dim)) - 0.5) / dim


def _pair_dots(A: np.ndarray, B: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """``<A[i_p], B[j_p]>`` for every pair p (P,), gathered ``chunk`` pairs at a time.

    Gathering all rows at once would hold two (P, dim) float64 copies (over 1 GB for the
    chapter's million pairs); row by row the result is bit-identical.
    """
    # shape: (P,)
    return np.concatenate([np.einsum("pd,pd->p", A[i[k:k + chunk]], B[j[k:k + chunk]])
                           for k in range(0, max(len(i), 1), chunk)])


def simpler_glove_loss(V: np.ndarray, i: np.ndarray, j: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    """``Σ λ (<v_i, v_j> - PMI_ij)^2 / 2`` over the given pairs."""
    diff = _pair_dots(V, V, i, j) - target
    return float(0.5 * np.sum(weight * diff * diff))


def simpler_glove_grad(V: np.ndarray, i: np.ndarray, j: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Gradient of :func:`simpler_glove_loss` with respect to ``V`` (same shape as ``V``).

    Pair ``(i, j)`` contributes ``λ·diff·v_j`` to row ``i`` and ``λ·diff·v_i`` to
    row ``j``; the scatter-add is one sparse matrix product ``S V + Sᵀ V``.
    """
    n = V.shape[0]
    fd = weight * (np.einsum("pd,pd->p", V[i], V[j]) - target)
    S = sparse.coo_matrix((fd, (i, j)), shape=(n, n)).tocsr()
    return S @ V + S.T @ V


def batch_orders(n_pairs: int, epochs: int, batch_size: int | None, seed: int) -> list[list[np.ndarray]]:
    """The shuffled mini-batches of every epoch (shared by the numpy and PyTorch trainers)."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(epochs):
        if batch_size is None or batch_size >= n_pairs:
            out.append([np.arange(n_pairs)])
        else:
            order = rng.permutation(n_pairs)
            out.append([order[k:k + batch_size] for k in range(0, n_pairs, batch_size)])
    return out


def _check_training(pairs: Pairs, n_words: int, dim: int, epochs: int, batch_size: int | None) -> None:
    if len(pairs) == 0:
        raise ValueError("no pairs to train on")
    if dim < 1 or dim > n_words:
        raise ValueError(f"dim must be in [1, {n_words}] (the vocabulary size), got {dim}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None (full batch), got {batch_size}")
    if max(pairs.i.max(), pairs.j.max()) >= n_words:
        raise ValueError("a pair index exceeds the vocabulary size")
    if not np.all(np.isfinite(pairs.pmi)) or not np.all(np.isfinite(pairs.x)):
        raise ValueError("the pairs' PMI or counts contain NaN or infinite values (a word with count 0?)")


UPDATES = ("adagrad", "sgd", "no_sqrt", "glove")


def train_simpler_glove(pairs: Pairs, n_words: int, dim: int, *, epochs: int = 10, batch_size: int | None = 8192,
                        lr: float = 0.1, g0: float = 1.0, eps: float = 1e-8, x_max: float = 100.0,
                        alpha: float = 0.75, truncate: bool = False, seed: int = 0, weight: np.ndarray | None = None,
                        bar=None, update: str = "adagrad") -> tuple[np.ndarray, list[float]]:
    """Fit ``<v_i, v_j> ≈ PMI_ij`` by weighted least squares with Adagrad (numpy).

    Gradient of ``λ (<v_i, v_j> - PMI)^2 / 2``: ``g_i = λ·diff·v_j``, ``g_j = λ·diff·v_i``,
    summed over a mini-batch (scattered with a sparse matrix product).  Adagrad
    as in PyTorch: ``G += g²``, ``v -= lr·g / (sqrt(G) + eps)``, ``G`` starting
    at ``g0``.  ``weight`` overrides ``λ(x)``.  ``bar`` is an optional progress
    bar updated once per epoch.  Returns the vectors and the loss (over all
    pairs) after each epoch.

    ``update`` selects the step, for comparison only: ``"adagrad"`` (the above),
    ``"sgd"`` (``v -= lr·g``), ``"no_sqrt"`` (``v -= lr·g / G``, Adagrad without
    the square root) or ``"glove"`` (Stanford GloVe's variant: ``u = lr·g``,
    ``v -= u / sqrt(G_old)``, then ``G += u²``).  A step that overflows leaves
    non-finite vectors and an infinite or NaN loss, which is returned as is.
    """
    _check_training(pairs, n_words, dim, epochs, batch_size)
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    V = init_vectors(n_words, dim, seed)
    G = np.full_like(V, g0)
    lam = glove_weight(pairs.x, x_max, alpha, truncate) if weight is None else np.asarray(weight, np.float64)
    history = []
    for batches in batch_orders(len(pairs), epochs, batch_size, seed):
        for b in batches:
            with np.errstate(over="ignore", invalid="ignore"):
                grad = simpler_glove_grad(V, pairs.i[b], pairs.j[b], pairs.pmi[b], lam[b])
                if update == "adagrad":
                    G += grad * grad
                    V -= lr * grad / (np.sqrt(G) + eps)
                elif update == "sgd":
                    V -= lr * grad
                elif update == "no_sqrt":
                    G += grad * grad
                    V -= lr * grad / (G + eps)
                else:                                              # "glove"
                    u = lr * grad
                    V -= u / np.sqrt(G + eps)
                    G += u * u
        with np.errstate(over="ignore", invalid="ignore"):
            history.append(simpler_glove_loss(V, pairs.i, pairs.j, pairs.pmi, lam))
        if bar is not None:
            bar.update(1)
    return V, history


# ----------------------------------------------------------------------------- baseline
def _one_blas_thread():
    """Run BLAS/LAPACK single-threaded: on a shared 2-core machine a threaded QR can be 30× slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        from contextlib import nullcontext
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def svd_vectors(M: sparse.spmatrix, dim: int, seed: int = 0, oversample: int = 24, power_iters: int = 6) -> np.ndarray:
    """Vectors ``Q·sqrt(Λ)`` from the ``dim`` largest eigenpairs of a symmetric matrix (e.g. PPMI).

    Then ``<v_i, v_j>`` approximates ``M_ij`` by the best rank-``dim``
    positive-semidefinite part (negative eigenvalues are dropped).  The
    eigenpairs come from a seeded randomized range finder with power
    iterations (Halko et al. 2011), which is much faster than ARPACK here.
    """
    n = M.shape[0]
    if M.shape != (n, n):
        raise ValueError(f"M must be square, got {M.shape}")
    if dim < 1 or dim + oversample > n:
        raise ValueError(f"dim must be in [1, {n - oversample}] for a {n}×{n} matrix, got {dim}")
    M = sparse.csr_matrix(M, dtype=np.float64)
    rng = np.random.default_rng(seed)
    with _one_blas_thread():
        Q, _ = np.linalg.qr(M @ rng.standard_normal((n, dim + oversample)))
        for _ in range(power_iters):
            Q, _ = np.linalg.qr(M @ Q)
        B = Q.T @ (M @ Q)
        vals, W = np.linalg.eigh(0.5 * (B + B.T))
    order = np.argsort(-vals)[:dim]
    vals, vecs = vals[order], Q @ W[:, order]
    # fix the sign of each eigenvector (largest |component| positive) so that runs agree
    signs = np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(dim)])
    return vecs * signs * np.sqrt(np.maximum(vals, 0.0))


# ----------------------------------------------------------------------------- GloVe's degeneracy
def glove_loss(W: np.ndarray, Wc: np.ndarray, b: np.ndarray, bc: np.ndarray, i: np.ndarray, j: np.ndarray,
               logx: np.ndarray, weight: np.ndarray) -> float:
    """GloVe's ``Σ λ (<w_i, w̃_j> + b_i + b̃_j - log X_ij)^2 / 2``."""
    diff = _pair_dots(W, Wc, i, j) + b[i] + bc[j] - logx
    return float(0.5 * np.sum(weight * diff * diff))


def glove_translate(W: np.ndarray, Wc: np.ndarray, b: np.ndarray, bc: np.ndarray, c: np.ndarray):
    """Shift every vector by ``c`` and compensate in the biases; GloVe's loss does not change.

    ``<w+c, w̃+c> = <w, w̃> + <w, c> + <w̃, c> + |c|²``, so
    ``b -= <w, c> + |c|²/2`` and ``b̃ -= <w̃, c> + |c|²/2`` restore every term.
    """
    c = np.asarray(c, dtype=np.float64)
    half = 0.5 * float(c @ c)
    return W + c, Wc + c, b - W @ c - half, bc - Wc @ c - half


# ----------------------------------------------------------------------------- applications
def _unit(V: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    return V / np.maximum(norms, 1e-12)


def neighbours(V: np.ndarray, query: np.ndarray | int, topn: int = 10, exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosines of the ``topn`` words most similar to a word index or a vector."""
    U = _unit(V)
    q = V[query] if np.isscalar(query) else np.asarray(query, dtype=np.float64)
    sims = U @ (q / max(np.linalg.norm(q), 1e-12))
    banned = set(exclude) | ({int(query)} if np.isscalar(query) else set())
    if banned:
        sims = sims.copy()
        sims[list(banned)] = -np.inf
    top = np.argsort(-sims, kind="stable")[:topn]
    return top, sims[top]


def analogy(V: np.ndarray, a: int, b: int, c: int, topn: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``a : b :: c : ?`` — nearest words (cosine) to ``u_b - u_a + u_c`` of unit vectors, inputs excluded."""
    U = _unit(V)
    return neighbours(V, U[b] - U[a] + U[c], topn=topn, exclude=(a, b, c))


def keywords(V: np.ndarray, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct words of a sentence ranked by ``<Σ_k v_k, v_w>`` (the sentence's PMI with ``w``)."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size == 0:
        raise ValueError("the sentence has no in-vocabulary word")
    uniq = np.unique(ids)
    scores = V[uniq] @ V[ids].sum(axis=0)
    order = np.argsort(-scores, kind="stable")
    return uniq[order], scores[order]


def pearson_map(V: np.ndarray, top_n: int) -> np.ndarray:
    """The ``dim × dim`` map ``U`` that turns Pearson similarity into a cosine (the post's eqs. 31–39).

    Pearson correlation of the PMI profiles ``(<v_i, v_k>)_k`` and ``(<v_j, v_k>)_k``
    over the ``top_n`` first (most frequent) words equals the cosine of
    ``v_i U`` and ``v_j U``, with ``U Uᵀ = Cᵀ C`` for the centred rows ``C``.
    """
    if not 1 < top_n <= len(V):
        raise ValueError(f"top_n must be in [2, {len(V)}], got {top_n}")
    C = V[:top_n] - V[:top_n].mean(axis=0)
    with _one_blas_thread():
        return np.linalg.cholesky(C.T @ C)


def norm_vs_logp(V: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(-log P(w), ‖v_w‖², Spearman correlation)``: the post's eq. (26) says they rise together."""
    from scipy.stats import spearmanr

    counts = np.asarray(counts, dtype=np.float64)
    if len(counts) != len(V):
        raise ValueError(f"need one count per vector: {len(counts)} counts for {len(V)} vectors")
    neglogp = np.log(counts.sum()) - np.log(counts)
    sq = np.einsum("nd,nd->n", V, V)
    return neglogp, sq, float(spearmanr(sq, neglogp).statistic)


def pair_correlation(V: np.ndarray, i: np.ndarray, j: np.ndarray, target: np.ndarray) -> float:
    """Pearson correlation between ``<v_i, v_j>`` and a target (e.g. held-out PMI)."""
    pred = _pair_dots(V, V, i, j)
    return float(np.corrcoef(pred, target)[0, 1])


# ----------------------------------------------------------------------------- synthetic data
def planted_pmi(n_words: int, rank: int, seed: int, scale: float = 0.5) -> tuple[np.ndarray, Pairs]:
    """Planted vectors ``V*`` (n_words × rank) and all off-diagonal pairs with ``PMI = <v*_i, v*_j>``.

    Counts ``x`` are set to 100 so that ``λ = 1``.
    """
    rng = np.random.default_rng(seed)
    Vt = rng.standard_normal((n_words, rank)) * scale
    i, j = np.triu_indices(n_words, k=1)
    pmi = np.einsum("pd,pd->p", Vt[i], Vt[j])
    return Vt, Pairs(i.astype(np.int64), j.astype(np.int64), np.full(len(i), 100.0), pmi)


def topic_corpus(n_sentences: int = 4000, length: int = 20, n_stop: int = 20, n_topics: int = 10,
                 words_per_topic: int = 28, p_stop: float = 0.4, seed: int = 0) -> tuple[list[list[str]], set[str]]:
    """A synthetic corpus: topic-free stop words (Zipf 1/r) mixed into topical sentences.

    Each sentence picks one topic; each token is a stop word with probability
    ``p_stop`` (Zipf over ``n_stop`` words) and otherwise a content word of the
    topic (Zipf ``r^-0.7``).  Returns the sentences and the set of stop words.
    """
    rng = np.random.default_rng(seed)
    stop = [f"s{k:02d}" for k in range(n_stop)]
    ps = 1.0 / np.arange(1, n_stop + 1)
    ps /= ps.sum()
    pc = np.arange(1, words_per_topic + 1) ** -0.7
    pc /= pc.sum()
    out = []
    for _ in range(n_sentences):
        t = rng.integers(n_topics)
        is_stop = rng.random(length) < p_stop
        s_idx = rng.choice(n_stop, size=length, p=ps)
        c_idx = rng.choice(words_per_topic, size=length, p=pc)
        out.append([stop[s] if st else f"t{t}w{c:02d}" for st, s, c in zip(is_stop, s_idx, c_idx)])
    return out, set(stop)


# ----------------------------------------------------------------------------- the post's own results
# Copied from the post's part 5 (https://kexue.fm/archives/4677), Baidu Baike vectors,
# shown beside ours in chapter 04.
POST_SMALLEST_NORMS = ("。 ， 的 和 同样 也 1 3 并且 另外 同时 是 2 6 总之 在 以及 5 因此 4 "
                       "7 8 等等 又 并 ； 与此同时 然而 当中 事实上").split()   # ascending norm, no truncation
POST_ANALOGIES = (                                                            # (A, B, C) -> answers of A + B − C
    (("机场", "火车", "飞机"), "火车站 直达 东站 高铁站 南站 客运站".split()),
    (("国王", "女人", "男人"), "二世 一世 王后 王国 三世 四世".split()),
    (("北京", "英国", "中国"), "伦敦 巴黎 寓所 搬到 爱丁堡 布鲁塞尔".split()),
    (("伦敦", "美国", "英国"), "纽约 洛杉矶 伦敦 芝加哥 旧金山 亚特兰大".split()),
    (("广州", "浙江", "广东"), "杭州 宁波 嘉兴 金华 湖州 上海".split()),
    (("广州", "江苏", "广东"), "常州 无锡 苏州 南京 镇江 扬州".split()),
    (("中学", "大学生", "大学"), "中学生 中小学生 青少年 电子设计 村官 二中".split()),
    (("人民币", "美国", "中国"), "美元 港币 约合 美金 贬值 万美元".split()),
    (("兵马俑", "敦煌", "西安"), "莫高窟 卷子 写本 藏经洞 精美绝伦 千佛洞".split()),
)
POST_KEYWORDS = (                                                             # (sentence, the post's top 10)
    ("勃艮第炖牛肉是一道经典的法国名菜，被称为“人类所能烹饪出的最美味的牛肉”。这道菜酒香浓郁，色泽诱人，"
     "制作过程也不算麻烦。它的背后有着什么样的故事？怎样做出美味的勃艮第炖牛肉？",
     "炖牛肉 酒香 名菜 美味 诱人 勃艮第 浓郁 菜 烹饪 一道".split()),
    ("天文专家介绍，今年该流星雨将于18日零时30分前后迎来极大，每小时天顶流量在10颗左右，不乏明亮的火流星，"
     "我国各地乃至北半球大部分地区都可凭借肉眼观测到。今年最佳观测时间在17日至19日凌晨，幸运的是，"
     "届时没有月光干扰，利于观测。",
     "流星雨 火流星 北半球 天顶 观测 零时 肉眼 届时 颗 凌晨".split()),
    ("浙江省义乌市环保局表示，因合金原材料镉含量普遍较高，为控制镉污染，现责令本市部分电镀企业实施停产整治的通知，"
     "被通知企业即日起停产整治。据悉，义乌低温锌合金(锌镉合金)基本停产，另外，温州市瓯海区的未经验收的电镀企业"
     "也接到通知，自8月18日起无条件停止生产，在验收后方准予生产。新一轮的环保在浙江锌下游企业展开。",
     "锌合金 环保局 停产 瓯海区 准予 镉 电镀 责令 义乌市 原材料".split()),
)
