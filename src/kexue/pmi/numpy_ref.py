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
   word and no biases.  :func:`kexue.pmi.torch.train_simpler_glove` is the same
   algorithm in PyTorch, trained by :func:`kexue.train.fit`.
4. :func:`svd_vectors`: the PPMI + truncated eigendecomposition baseline.
5. Applications: :func:`neighbours`, :func:`analogy`, :func:`keywords`.
"""
from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from kexue import _validate

__all__ = [
    "Vocab", "Pairs", "build_counted_vocab", "corpus_ids", "cooccurrence", "cooccurrence_loop", "pmi_pairs",
    "ppmi_matrix", "glove_weight", "init_vectors", "batch_orders", "simpler_glove_loss", "simpler_glove_grad", "train_simpler_glove",
    "svd_vectors", "glove_loss", "glove_translate", "neighbours", "analogy", "keywords",
    "planted_pmi", "topic_corpus", "pair_correlation", "pearson_map", "norm_vs_logp", "UPDATES",
    "POST_SMALLEST_NORMS", "POST_ANALOGIES", "POST_KEYWORDS",
]


def _real_number(value, name: str, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or (positive and not value > 0) or (nonnegative and not value >= 0):
        need = " > 0" if positive else " >= 0" if nonnegative else ""
        raise ValueError(f"{name} must be a finite number{need}, got {value!r}")
    return float(value)


def _vectors(V, name: str = "V") -> np.ndarray:
    """Word vectors ``(n_words, dim)`` as finite float64."""
    a = np.asarray(V)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise TypeError(_validate.REAL_ARRAY.format(name, a.dtype))
    a = a.astype(np.float64, copy=False)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must have shape (n_words, dim) with n_words, dim >= 1, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(_validate.NONFINITE.format(name))
    return a


def _pair_arrays(n_words: int, i, j, *rest: tuple[str, object]) -> tuple[np.ndarray, ...]:
    """Checked pair indices ``i, j`` (P,) in ``[0, n_words)`` and float64 per-pair arrays (P,)."""
    i = _validate.word_indices(i, n_words, "i")
    j = _validate.word_indices(j, n_words, "j")
    if i.ndim != 1 or i.shape != j.shape:
        raise ValueError(f"i and j must be 1-d of the same length, got shapes {i.shape} and {j.shape}")
    out = [i, j]
    for name, a in rest:
        a = np.asarray(a, dtype=np.float64)
        if a.shape != i.shape:
            raise ValueError(f"{name} must have one value per pair, shape {i.shape}, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(_validate.NONFINITE.format(name))
        out.append(a)
    return tuple(out)


# ----------------------------------------------------------------------------- vocabulary
@dataclass
class Vocab:
    """Words sorted by decreasing count (ties by the word itself), with their counts (chapter 04).

    Build it with :func:`build_counted_vocab`.  ``len(vocab)`` is the number of words,
    ``word in vocab`` a membership test and ``vocab.index[word]`` a word's index.

    Parameters
    ----------
    words : list of str, length n_words
        Distinct words; index ``k`` is ``words[k]``.
    counts : numpy.ndarray of int, shape (n_words,)
        Non-negative corpus counts.

    Raises
    ------
    ValueError
        If the lengths differ, a word is not a string or repeats, or a count is negative
        or not an integer.
    """

    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.words, str):
            raise ValueError("words must be a list of words, not one string")
        self.words = list(self.words)
        counts = np.asarray(self.counts)
        if counts.ndim != 1 or len(self.words) != len(counts):
            raise ValueError("words and counts must have the same length")
        if counts.size and (counts.dtype == np.bool_ or not np.issubdtype(counts.dtype, np.number)
                            or not np.all(np.isfinite(counts)) or np.any(np.mod(counts, 1) != 0)
                            or np.any(counts < 0)):
            raise ValueError("counts must be non-negative integers")
        self.counts = counts.astype(np.int64)
        bad = next((w for w in self.words if not isinstance(w, str)), None)
        if bad is not None:
            raise ValueError(f"words must be strings, got {type(bad).__name__} {bad!r}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            dup = next(w for w in self.words if self.words.count(w) > 1)
            raise ValueError(f"words must be distinct, {dup!r} appears more than once")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def ids(self, words: Iterable[str]) -> np.ndarray:
        """Indices of the in-vocabulary words among ``words``, others dropped (chapter 04).

        Parameters
        ----------
        words : iterable of str
            Words in order.

        Returns
        -------
        numpy.ndarray of int64, shape (m,)
            The indices of the words found, in order.
        """
        if isinstance(words, str):
            raise TypeError("words must be an iterable of words, not one string")
        return np.array([self.index[w] for w in words if w in self.index], dtype=np.int64)

    @property
    def log_prob(self) -> np.ndarray:
        """``log P(w)`` from the in-vocabulary counts, shape (n_words,) (chapter 04)."""
        return np.log(self.counts) - np.log(self.counts.sum())


def _check_corpus(sentences: Sequence[Sequence[str]]) -> None:
    if isinstance(sentences, str) or not hasattr(sentences, "__len__"):
        raise ValueError("the corpus must be a list of sentences, each a list of words")
    if len(sentences) == 0 or all(len(s) == 0 for s in sentences):
        raise ValueError("the corpus is empty: no sentence contains a word")
    for s in sentences:
        if isinstance(s, str):
            raise ValueError("each sentence must be a list of words, not a string")


def _check_vocab(vocab: Vocab) -> Vocab:
    if not isinstance(vocab, Vocab):
        raise TypeError(f"vocab must be a kexue.pmi.Vocab (from build_counted_vocab), got {type(vocab).__name__}")
    return vocab


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, numbers.Real) or int(window) != window or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window}")
    return int(window)


def build_counted_vocab(sentences: Sequence[Sequence[str]], min_count: int = 1) -> Vocab:
    """The words occurring at least ``min_count`` times, most frequent first (chapter 04).

    Parameters
    ----------
    sentences : sequence of sequence of str
        The tokenised corpus, one list of words per sentence.
    min_count : int, optional
        The smallest count kept, >= 1.

    Returns
    -------
    Vocab
        Sorted by decreasing count, ties by the word.

    Raises
    ------
    ValueError
        If the corpus is empty or not a list of word lists, a word is not a string,
        ``min_count`` is not an integer >= 1, or no word is frequent enough.
    """
    _check_corpus(sentences)
    if isinstance(min_count, bool) or not isinstance(min_count, numbers.Integral) or min_count < 1:
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
    """The corpus as word indices with their sentence numbers, out-of-vocabulary words removed (chapter 04).

    As in GloVe's ``cooccur``, a dropped word does not occupy a window slot.

    Parameters
    ----------
    sentences : sequence of sequence of str
        The tokenised corpus.
    vocab : Vocab
        The vocabulary.

    Returns
    -------
    ids : numpy.ndarray of int64, shape (n_tokens,)
        The in-vocabulary tokens' indices, sentence after sentence.
    sentence_ids : numpy.ndarray of int64, shape (n_tokens,)
        The sentence each token comes from.

    Raises
    ------
    TypeError
        If ``vocab`` is not a :class:`Vocab`.
    ValueError
        If the corpus is empty or not a list of word lists.
    """
    _check_corpus(sentences)
    index = _check_vocab(vocab).index
    ids: list[int] = []
    sid: list[int] = []
    for k, s in enumerate(sentences):
        row = [index[w] for w in s if w in index]
        ids.extend(row)
        sid.extend([k] * len(row))
    return np.asarray(ids, dtype=np.int64), np.asarray(sid, dtype=np.int64)


# ----------------------------------------------------------------------------- counting
def cooccurrence(sentences: Sequence[Sequence[str]], vocab: Vocab, window: int) -> sparse.csr_matrix:
    """Symmetric co-occurrence counts of a corpus, vectorised over window offsets (chapter 04).

    Every pair of in-vocabulary tokens of one sentence at distance ``1..window`` adds 1 to
    ``X[a, b]`` and to ``X[b, a]`` (unweighted, unlike GloVe's 1/distance); pairs of a word
    with itself are skipped.  One pass per offset ``d`` over the concatenated corpus.

    Parameters
    ----------
    sentences : sequence of sequence of str
        The tokenised corpus.
    vocab : Vocab
        The vocabulary (other words are removed first, see :func:`corpus_ids`).
    window : int
        The largest distance counted, >= 1.

    Returns
    -------
    scipy.sparse.csr_matrix of float64, shape (n_words, n_words)
        The counts ``X``, symmetric with a zero diagonal.

    Raises
    ------
    TypeError
        If ``vocab`` is not a :class:`Vocab`.
    ValueError
        If ``window`` is not an integer >= 1 or the corpus is empty.
    """
    window = _check_window(window)
    ids, sid = corpus_ids(sentences, vocab)
    n = len(vocab)
    rows, cols = [], []
    for d in range(1, window + 1):
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
    """The counts of :func:`cooccurrence` by the literal double loop, for checking (chapter 04).

    Parameters
    ----------
    sentences : sequence of sequence of str
        The tokenised corpus (small: the loop is slow).
    vocab : Vocab
        The vocabulary.
    window : int
        The largest distance counted, >= 1.

    Returns
    -------
    dict of (int, int) to int
        ``(a, b) -> X[a, b]`` for every non-zero count, both orders.

    Raises
    ------
    TypeError
        If ``vocab`` is not a :class:`Vocab`.
    ValueError
        If ``window`` is not an integer >= 1 or the corpus is empty.
    """
    window = _check_window(window)
    _check_corpus(sentences)
    index = _check_vocab(vocab).index
    counts: dict[tuple[int, int], int] = {}
    for s in sentences:
        toks = [index[w] for w in s if w in index]
        for j in range(len(toks)):
            for k in range(max(0, j - window), j):
                if toks[k] != toks[j]:
                    for key in ((toks[k], toks[j]), (toks[j], toks[k])):
                        counts[key] = counts.get(key, 0) + 1
    return counts


@dataclass
class Pairs:
    """The co-occurring pairs, each unordered pair ``i < j`` once, with count and PMI (chapter 04).

    ``len(pairs)`` is the number of pairs P.

    Parameters
    ----------
    i, j : numpy.ndarray of int64, shape (P,)
        The two words' indices (checked against ``[0, n_words)`` by the trainers).
    x : numpy.ndarray of float64, shape (P,)
        The co-occurrence count.
    pmi : numpy.ndarray of float64, shape (P,)
        The pointwise mutual information.

    Raises
    ------
    TypeError
        If ``i`` or ``j`` is not integer.
    ValueError
        If the four arrays are not 1-d of one length.
    """

    i: np.ndarray
    j: np.ndarray
    x: np.ndarray
    pmi: np.ndarray

    def __post_init__(self) -> None:
        for name in ("i", "j"):
            a = np.asarray(getattr(self, name))
            if a.size and (a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer)):
                raise TypeError(_validate.WORD_INDEX_INT.format(f"pairs.{name}", a.dtype))
            setattr(self, name, a.astype(np.int64))
        self.x = np.asarray(self.x, dtype=np.float64)
        self.pmi = np.asarray(self.pmi, dtype=np.float64)
        shapes = {a.shape for a in (self.i, self.j, self.x, self.pmi)}
        if len(shapes) != 1 or self.i.ndim != 1:
            raise ValueError(f"i, j, x and pmi must be 1-d of one length, got shapes "
                             f"{self.i.shape}, {self.j.shape}, {self.x.shape}, {self.pmi.shape}")

    def __len__(self) -> int:
        return len(self.i)

    def subset(self, mask: np.ndarray) -> Pairs:
        """The pairs selected by a boolean mask or an index array (chapter 04).

        Parameters
        ----------
        mask : numpy.ndarray of bool, shape (P,), or of int, shape (m,)
            Which pairs to keep.

        Returns
        -------
        Pairs
            The selected pairs, in order.
        """
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
    """PMI of the co-occurring pairs: ``log X_ij - log TC - log f_i - log f_j + 2 log TW`` (chapter 04).

    ``P(i, j) = X_ij / TC`` with ``TC = X.sum()`` (both orders, no self-pairs);
    ``P(i) = f_i / TW`` from the in-vocabulary counts ``f``.

    Parameters
    ----------
    X : scipy.sparse matrix, shape (n_words, n_words)
        Symmetric co-occurrence counts (:func:`cooccurrence`).
    counts : numpy.ndarray, shape (n_words,)
        The words' corpus counts (``vocab.counts``).

    Returns
    -------
    Pairs
        Each pair with ``i < j`` and ``X_ij > 0`` once, sorted by ``(i, j)``.

    Raises
    ------
    ValueError
        If the shapes disagree, a count is negative or not finite, a co-occurring word has
        count 0, or there is no pair.
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
    """Positive PMI, ``max(PMI, 0)`` on the co-occurring pairs, as a sparse matrix (chapter 04).

    Parameters
    ----------
    X : scipy.sparse matrix, shape (n_words, n_words)
        Symmetric co-occurrence counts.
    counts : numpy.ndarray, shape (n_words,)
        The words' corpus counts.

    Returns
    -------
    scipy.sparse.csr_matrix of float64, shape (n_words, n_words)
        Symmetric, zeros not stored.

    Raises
    ------
    ValueError
        As :func:`pmi_pairs`.
    """
    C = sparse.coo_matrix(X)
    C.eliminate_zeros()
    counts = _check_counts(C, counts)
    vals = np.maximum(_pmi_values(C, counts, float(C.sum())), 0.0)
    M = sparse.coo_matrix((vals, (C.row, C.col)), shape=C.shape).tocsr()
    M.eliminate_zeros()
    return M


def glove_weight(x: np.ndarray, x_max: float = 100.0, alpha: float = 0.75, truncate: bool = False) -> np.ndarray:
    """The loss weight ``λ(x) = (x / x_max)^α``, capped at 1 if ``truncate`` (chapter 04).

    Parameters
    ----------
    x : numpy.ndarray, shape (P,)
        Co-occurrence counts, finite and non-negative.
    x_max : float, optional
        The count of weight 1, > 0.
    alpha : float, optional
        The exponent, >= 0.
    truncate : bool, optional
        Cap the weight at 1 (Stanford GloVe's default; the chapter does not).

    Returns
    -------
    numpy.ndarray of float64, shape (P,)
        The weights.

    Raises
    ------
    ValueError
        If a count is negative or not finite, or ``x_max`` / ``alpha`` is out of range.
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError("co-occurrence counts x must be finite and non-negative")
    x_max = _real_number(x_max, "x_max", positive=True)
    alpha = _real_number(alpha, "alpha", nonnegative=True)
    w = (x / x_max) ** alpha
    return np.minimum(w, 1.0) if truncate else w


# ----------------------------------------------------------------------------- training
def init_vectors(n_words: int, dim: int, seed: int) -> np.ndarray:
    """GloVe's initialisation ``Uniform(-0.5, 0.5) / dim`` from ``default_rng(seed)`` (chapter 04).

    Parameters
    ----------
    n_words : int
        Number of words, >= 1.
    dim : int
        Vector size, in ``[1, n_words]``.
    seed : int
        Seeds the generator.

    Returns
    -------
    numpy.ndarray of float64, shape (n_words, dim)
        The initial vectors.

    Raises
    ------
    ValueError
        If ``dim`` is not in ``[1, n_words]``.
    """
    n_words = _validate.int_at_least(n_words, "n_words", 1)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    if dim > n_words:
        raise ValueError(f"dim={dim} exceeds the vocabulary size {n_words}")
    return (np.random.default_rng(seed).random((n_words, int(dim))) - 0.5) / dim


def _pair_dots(A: np.ndarray, B: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """``<A[i_p], B[j_p]>`` for every pair p (P,), gathered ``chunk`` pairs at a time.

    Gathering all rows at once would hold two (P, dim) float64 copies (over 1 GB for the
    chapter's million pairs); row by row the result is bit-identical.
    """
    # shape: (P,)
    return np.concatenate([np.einsum("pd,pd->p", A[i[k:k + chunk]], B[j[k:k + chunk]])
                           for k in range(0, max(len(i), 1), chunk)])


def _loss(V: np.ndarray, i: np.ndarray, j: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    diff = _pair_dots(V, V, i, j) - target
    return float(0.5 * np.sum(weight * diff * diff))


def _grad(V: np.ndarray, i: np.ndarray, j: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    n = V.shape[0]
    fd = weight * (np.einsum("pd,pd->p", V[i], V[j]) - target)     # (P,)
    S = sparse.coo_matrix((fd, (i, j)), shape=(n, n)).tocsr()
    return S @ V + S.T @ V


def simpler_glove_loss(V: np.ndarray, i: np.ndarray, j: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    """The simpler-GloVe loss ``Σ_p λ_p (<v_i, v_j> - PMI_ij)^2 / 2`` over the given pairs (chapter 04).

    Parameters
    ----------
    V : numpy.ndarray, shape (n_words, dim)
        The word vectors.
    i, j : numpy.ndarray of int, shape (P,)
        The pairs' word indices, in ``[0, n_words)``.
    target : numpy.ndarray, shape (P,)
        The PMI to fit.
    weight : numpy.ndarray, shape (P,)
        The loss weights ``λ``.

    Returns
    -------
    float
        The loss.

    Raises
    ------
    ValueError
        If an index is out of range (negative ones included), a shape disagrees or an input
        is not finite.
    """
    V = _vectors(V)
    i, j, target, weight = _pair_arrays(len(V), i, j, ("target", target), ("weight", weight))
    return _loss(V, i, j, target, weight)


def simpler_glove_grad(V: np.ndarray, i: np.ndarray, j: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Gradient of :func:`simpler_glove_loss` with respect to ``V`` (chapter 04).

    Pair ``(i, j)`` contributes ``λ·diff·v_j`` to row ``i`` and ``λ·diff·v_i`` to row ``j``;
    the scatter-add is one sparse matrix product ``S V + Sᵀ V``.

    Parameters
    ----------
    V : numpy.ndarray, shape (n_words, dim)
        The word vectors.
    i, j : numpy.ndarray of int, shape (P,)
        The pairs' word indices, in ``[0, n_words)``.
    target : numpy.ndarray, shape (P,)
        The PMI to fit.
    weight : numpy.ndarray, shape (P,)
        The loss weights ``λ``.

    Returns
    -------
    numpy.ndarray of float64, shape (n_words, dim)
        The gradient.

    Raises
    ------
    ValueError
        As :func:`simpler_glove_loss`.
    """
    V = _vectors(V)
    i, j, target, weight = _pair_arrays(len(V), i, j, ("target", target), ("weight", weight))
    return _grad(V, i, j, target, weight)


def _check_batch_size(batch_size: int | None) -> int | None:
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be >= 1 or None (full batch), got {batch_size}")
    return None if batch_size is None else int(batch_size)


def batch_orders(n_pairs: int, epochs: int, batch_size: int | None, seed: int) -> list[list[np.ndarray]]:
    """The mini-batches of every epoch of :func:`train_simpler_glove` (chapter 04).

    Each epoch draws ``rng.permutation(n_pairs)`` from one ``np.random.default_rng(seed + 1)``
    and cuts it into consecutive batches, which is what :func:`kexue.train.shuffled` draws in
    :func:`kexue.train.fit` with ``seed=seed + 1``; a full batch (``batch_size`` None or
    ``>= n_pairs``) is ``0..n_pairs-1`` in order and draws nothing.

    Parameters
    ----------
    n_pairs : int
        Number of pairs, >= 1.
    epochs : int
        Number of epochs, >= 1.
    batch_size : int or None
        Pairs per batch; ``None`` for one full batch.
    seed : int
        The trainer's seed.

    Returns
    -------
    list of list of numpy.ndarray of int64
        Per epoch, the index batches, each of shape (b,), b <= ``batch_size``.

    Raises
    ------
    ValueError
        If a count is not a positive integer.
    """
    n_pairs = _validate.int_at_least(n_pairs, "n_pairs", 1)
    epochs = _validate.int_at_least(epochs, "epochs", 1)
    batch_size = _check_batch_size(batch_size)
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(epochs):
        if batch_size is None or batch_size >= n_pairs:
            out.append([np.arange(n_pairs)])
        else:
            order = rng.permutation(n_pairs)
            out.append([order[k:k + batch_size] for k in range(0, n_pairs, batch_size)])
    return out


def _check_training(pairs: Pairs, n_words: int, dim: int, epochs: int, batch_size: int | None,
                    weight: np.ndarray | None = None, lr: float = 0.1, g0: float = 1.0,
                    eps: float = 1e-8) -> None:
    """The checks both simpler-GloVe trainers (numpy and PyTorch) make, with one set of messages."""
    if not isinstance(pairs, Pairs):
        raise TypeError(f"pairs must be a kexue.pmi.Pairs (from pmi_pairs), got {type(pairs).__name__}")
    if len(pairs) == 0:
        raise ValueError("no pairs to train on")
    n_words = _validate.int_at_least(n_words, "n_words", 1)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1 or dim > n_words:
        raise ValueError(f"dim must be in [1, {n_words}] (the vocabulary size), got {dim}")
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    _check_batch_size(batch_size)
    _validate.word_indices(pairs.i, n_words, "pairs.i")
    _validate.word_indices(pairs.j, n_words, "pairs.j")
    if not np.all(np.isfinite(pairs.pmi)) or not np.all(np.isfinite(pairs.x)):
        raise ValueError("the pairs' PMI or counts contain NaN or infinite values (a word with count 0?)")
    if weight is not None:
        w = np.asarray(weight, dtype=np.float64)
        if w.shape != (len(pairs),):
            raise ValueError(f"weight must have one value per pair, shape ({len(pairs)},), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weight must be finite and non-negative")
    _real_number(lr, "lr", positive=True)
    _real_number(g0, "g0", nonnegative=True)
    _real_number(eps, "eps", nonnegative=True)


UPDATES = ("adagrad", "sgd", "no_sqrt", "glove")
"""The update rules :func:`train_simpler_glove` (numpy) can compare; ``"adagrad"`` is the chapter's."""


def train_simpler_glove(pairs: Pairs, n_words: int, dim: int, *, epochs: int = 10, batch_size: int | None = 8192,
                        lr: float = 0.1, g0: float = 1.0, eps: float = 1e-8, x_max: float = 100.0,
                        alpha: float = 0.75, truncate: bool = False, seed: int = 0, weight: np.ndarray | None = None,
                        bar: object | None = None, update: str = "adagrad") -> tuple[np.ndarray, list[float]]:
    """Fit ``<v_i, v_j> ≈ PMI_ij`` by weighted least squares with Adagrad (chapter 04, numpy).

    Gradient of ``λ (<v_i, v_j> - PMI)^2 / 2``: ``g_i = λ·diff·v_j``, ``g_j = λ·diff·v_i``,
    summed over a mini-batch (scattered with a sparse matrix product).  Adagrad as in
    PyTorch: ``G += g²``, ``v -= lr·g / (sqrt(G) + eps)``, ``G`` starting at ``g0``.  The
    initial vectors are :func:`init_vectors` with ``seed``; the batches are
    :func:`batch_orders` with ``seed``.

    Parameters
    ----------
    pairs : Pairs
        The pairs to fit (P of them), indices in ``[0, n_words)``.
    n_words : int
        Number of words (rows of the result).
    dim : int
        Vector size, in ``[1, n_words]``.
    epochs : int, optional
        Passes over the pairs, >= 1.
    batch_size : int or None, optional
        Pairs per update; ``None`` for full-batch training.
    lr : float, optional
        Learning rate, > 0.
    g0 : float, optional
        Adagrad's initial accumulator, >= 0.
    eps : float, optional
        Added to ``sqrt(G)``, >= 0.
    x_max, alpha, truncate : optional
        The weight ``λ(x)`` (:func:`glove_weight`).
    seed : int, optional
        Seeds the initial vectors and the batch order.
    weight : numpy.ndarray, shape (P,), optional
        Overrides ``λ(x)``; finite and non-negative.
    bar : object, optional
        A progress bar whose ``update(1)`` is called once per epoch.
    update : {"adagrad", "sgd", "no_sqrt", "glove"}, optional
        The step, for comparison only: ``"sgd"`` (``v -= lr·g``), ``"no_sqrt"``
        (``v -= lr·g / G``) or ``"glove"`` (Stanford GloVe's variant: ``u = lr·g``,
        ``v -= u / sqrt(G_old)``, then ``G += u²``).  A step that overflows leaves
        non-finite vectors and an infinite or NaN loss, which is returned as is.

    Returns
    -------
    V : numpy.ndarray of float64, shape (n_words, dim)
        The vectors.
    history : list of float
        The loss over all pairs after each epoch.

    Raises
    ------
    ValueError
        If a pair index is out of range (negative ones included), a size or rate is out of
        range, or the pairs are not finite.
    """
    _check_training(pairs, n_words, dim, epochs, batch_size, weight, lr, g0, eps)
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
    V = init_vectors(n_words, dim, seed)
    G = np.full_like(V, g0)
    lam = glove_weight(pairs.x, x_max, alpha, truncate) if weight is None else np.asarray(weight, np.float64)
    history = []
    for batches in batch_orders(len(pairs), epochs, batch_size, seed):
        for b in batches:
            with np.errstate(over="ignore", invalid="ignore"):
                grad = _grad(V, pairs.i[b], pairs.j[b], pairs.pmi[b], lam[b])
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
            history.append(_loss(V, pairs.i, pairs.j, pairs.pmi, lam))
        if bar is not None:
            bar.update(1)
    return V, history


# ----------------------------------------------------------------------------- baseline
def _one_blas_thread() -> AbstractContextManager:
    """Run BLAS/LAPACK single-threaded: when other work holds the cores, a threaded QR can be far slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        from contextlib import nullcontext
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def svd_vectors(M: sparse.spmatrix, dim: int, seed: int = 0, oversample: int = 24, power_iters: int = 6) -> np.ndarray:
    """Vectors ``Q·sqrt(Λ)`` from the ``dim`` largest eigenpairs of a symmetric matrix (chapter 04).

    Then ``<v_i, v_j>`` approximates ``M_ij`` by the best rank-``dim`` positive-semidefinite
    part (negative eigenvalues are dropped).  The eigenpairs come from a seeded randomized
    range finder with power iterations (Halko et al. 2011), much faster than ARPACK here.

    Parameters
    ----------
    M : scipy.sparse matrix, shape (n, n)
        Symmetric, e.g. :func:`ppmi_matrix`.
    dim : int
        Vector size, in ``[1, n - oversample]``.
    seed : int, optional
        Seeds the random range finder.
    oversample : int, optional
        Extra columns of the range finder, >= 0.
    power_iters : int, optional
        Power iterations, >= 0.

    Returns
    -------
    numpy.ndarray of float64, shape (n, dim)
        The vectors; each eigenvector's sign is fixed (largest entry positive).

    Raises
    ------
    ValueError
        If ``M`` is not square or ``dim`` is out of range.
    """
    n = M.shape[0]
    if M.shape != (n, n):
        raise ValueError(f"M must be square, got {M.shape}")
    oversample = _validate.int_at_least(oversample, "oversample", 0)
    power_iters = _validate.int_at_least(power_iters, "power_iters", 0)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1 or dim + oversample > n:
        raise ValueError(f"dim must be in [1, {n - oversample}] for a {n}×{n} matrix, got {dim}")
    M = sparse.csr_matrix(M, dtype=np.float64)
    if not np.all(np.isfinite(M.data)):
        raise ValueError(_validate.NONFINITE.format("M"))
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
    """GloVe's loss ``Σ λ (<w_i, w̃_j> + b_i + b̃_j - log X_ij)^2 / 2`` (chapter 04).

    Parameters
    ----------
    W, Wc : numpy.ndarray, shape (n_words, dim)
        Word and context vectors.
    b, bc : numpy.ndarray, shape (n_words,)
        Word and context biases.
    i, j : numpy.ndarray of int, shape (P,)
        The pairs' word indices, in ``[0, n_words)``.
    logx : numpy.ndarray, shape (P,)
        ``log X_ij``.
    weight : numpy.ndarray, shape (P,)
        The loss weights ``λ``.

    Returns
    -------
    float
        The loss.

    Raises
    ------
    ValueError
        If an index is out of range or a shape disagrees.
    """
    W, Wc = _vectors(W, "W"), _vectors(Wc, "Wc")
    b, bc = np.asarray(b, dtype=np.float64), np.asarray(bc, dtype=np.float64)
    if Wc.shape != W.shape or b.shape != (len(W),) or bc.shape != (len(W),):
        raise ValueError(f"W, Wc must share a shape and b, bc have one entry per word, got "
                         f"{W.shape}, {Wc.shape}, {b.shape}, {bc.shape}")
    i, j, logx, weight = _pair_arrays(len(W), i, j, ("logx", logx), ("weight", weight))
    diff = _pair_dots(W, Wc, i, j) + b[i] + bc[j] - logx
    return float(0.5 * np.sum(weight * diff * diff))


def glove_translate(W: np.ndarray, Wc: np.ndarray, b: np.ndarray, bc: np.ndarray,
                    c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shift every vector by ``c`` and compensate in the biases: GloVe's loss does not change (chapter 04).

    ``<w+c, w̃+c> = <w, w̃> + <w, c> + <w̃, c> + |c|²``, so ``b -= <w, c> + |c|²/2`` and
    ``b̃ -= <w̃, c> + |c|²/2`` restore every term.

    Parameters
    ----------
    W, Wc : numpy.ndarray, shape (n_words, dim)
        Word and context vectors.
    b, bc : numpy.ndarray, shape (n_words,)
        Word and context biases.
    c : numpy.ndarray, shape (dim,)
        The shift.

    Returns
    -------
    W, Wc : numpy.ndarray, shape (n_words, dim)
        The shifted vectors.
    b, bc : numpy.ndarray, shape (n_words,)
        The compensated biases.

    Raises
    ------
    ValueError
        If the shapes disagree.
    """
    W, Wc = _vectors(W, "W"), _vectors(Wc, "Wc")
    c = np.asarray(c, dtype=np.float64)
    b, bc = np.asarray(b, dtype=np.float64), np.asarray(bc, dtype=np.float64)
    if Wc.shape != W.shape or c.shape != (W.shape[1],) or b.shape != (len(W),) or bc.shape != (len(W),):
        raise ValueError(f"shapes do not fit: W {W.shape}, Wc {Wc.shape}, b {b.shape}, bc {bc.shape}, c {c.shape}")
    half = 0.5 * float(c @ c)
    return W + c, Wc + c, b - W @ c - half, bc - Wc @ c - half


# ----------------------------------------------------------------------------- applications
def _unit(V: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), without overflow or underflow."""
    top = np.max(np.abs(V), axis=-1, keepdims=True)
    top = np.where(top > 0, top, 1.0)
    W = V / top                                          # entries in [-1, 1]: the norm cannot overflow
    norms = np.linalg.norm(W, axis=-1, keepdims=True)
    return W / np.maximum(norms, 1e-300)


def _topn(topn: int) -> int:
    if isinstance(topn, bool) or not isinstance(topn, numbers.Integral) or topn < 1:
        raise ValueError(_validate.TOPN.format(topn))
    return int(topn)


def neighbours(V: np.ndarray, query: np.ndarray | int, topn: int = 10,
               exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The ``topn`` words most similar (cosine) to a word or a vector (chapter 04).

    A word never is its own neighbour; ``exclude`` removes more words.  Fewer than ``topn``
    results come back when fewer words are left.

    Parameters
    ----------
    V : numpy.ndarray, shape (n_words, dim)
        The word vectors.
    query : int or numpy.ndarray, shape (dim,)
        A word index in ``[0, n_words)`` (excluded from the result) or a query vector.
    topn : int, optional
        The most results, >= 1.
    exclude : iterable of int, optional
        Word indices never returned.

    Returns
    -------
    indices : numpy.ndarray of int64, shape (k,)
        ``k = min(topn, words left)``, most similar first (ties by index).
    cosines : numpy.ndarray of float64, shape (k,)
        Their cosine with the query (0 for a zero vector).

    Raises
    ------
    ValueError
        If ``topn`` is not an integer >= 1, an index is out of range (negative ones
        included), or the query vector has the wrong shape.
    """
    V = _vectors(V)
    n = len(V)
    topn = _topn(topn)
    banned = _validate.word_indices(np.asarray(list(exclude), dtype=np.int64), n, "exclude").ravel()
    if np.ndim(query) == 0:
        q_idx = int(_validate.word_indices(query, n, "query"))
        q = V[q_idx]
        banned = np.append(banned, q_idx)
    else:
        q = np.asarray(query, dtype=np.float64)
        if q.shape != (V.shape[1],):
            raise ValueError(f"the query vector must have shape ({V.shape[1]},), got {q.shape}")
        if not np.all(np.isfinite(q)):
            raise ValueError(_validate.NONFINITE.format("query"))
    sims = _unit(V) @ _unit(q[None])[0]                               # (n_words,)
    allowed = np.ones(n, dtype=bool)
    allowed[banned] = False
    candidates = np.flatnonzero(allowed)
    top = candidates[np.argsort(-sims[candidates], kind="stable")[:topn]]
    return top.astype(np.int64), sims[top]


def analogy(V: np.ndarray, a: int, b: int, c: int, topn: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``a : b :: c : ?``, the words nearest to ``u_b - u_a + u_c`` of unit vectors (chapter 04).

    The three input words are excluded.

    Parameters
    ----------
    V : numpy.ndarray, shape (n_words, dim)
        The word vectors.
    a, b, c : int
        Word indices in ``[0, n_words)``.
    topn : int, optional
        The most results, >= 1.

    Returns
    -------
    indices : numpy.ndarray of int64, shape (k,)
        ``k = min(topn, n_words - 3)`` answers, best first.
    cosines : numpy.ndarray of float64, shape (k,)
        Their cosine with ``u_b - u_a + u_c``.

    Raises
    ------
    ValueError
        If an index is out of range (negative ones included) or ``topn`` < 1.
    """
    V = _vectors(V)
    a, b, c = (int(_validate.word_indices(w, len(V), name)) for w, name in ((a, "a"), (b, "b"), (c, "c")))
    U = _unit(V)
    return neighbours(V, U[b] - U[a] + U[c], topn=topn, exclude=(a, b, c))


def keywords(V: np.ndarray, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """A sentence's distinct words ranked by ``<Σ_k v_k, v_w>``, its PMI with ``w`` (chapter 04).

    Parameters
    ----------
    V : numpy.ndarray, shape (n_words, dim)
        The word vectors.
    ids : sequence of int, length m
        The sentence's word indices in ``[0, n_words)``, repeats counted.

    Returns
    -------
    words : numpy.ndarray of int64, shape (k,)
        The distinct words, best first (ties by index).
    scores : numpy.ndarray of float64, shape (k,)
        Their scores.

    Raises
    ------
    ValueError
        If the sentence is empty or an index is out of range (negative ones included).
    """
    V = _vectors(V)
    ids = np.asarray(ids)
    if ids.size == 0:
        raise ValueError("the sentence has no in-vocabulary word")
    if ids.ndim != 1:
        raise ValueError(f"ids must be 1-d, got shape {ids.shape}")
    ids = _validate.word_indices(ids, len(V), "ids")
    uniq = np.unique(ids)
    scores = V[uniq] @ V[ids].sum(axis=0)
    order = np.argsort(-scores, kind="stable")
    return uniq[order], scores[order]


def pearson_map(V: np.ndarray, top_n: int) -> np.ndarray:
    """The ``dim × dim`` map that turns Pearson similarity into a cosine (chapter 04, eqs. 31–39).

    Pearson correlation of the PMI profiles ``(<v_i, v_k>)_k`` and ``(<v_j, v_k>)_k`` over
    the ``top_n`` first (most frequent) words equals the cosine of ``v_i U`` and ``v_j U``,
    with ``U Uᵀ = Cᵀ C`` for the centred rows ``C``.

    Parameters
    ----------
    V : numpy.ndarray, shape (n_words, dim)
        The word vectors, most frequent word first.
    top_n : int
        Words in the profiles, in ``[2, n_words]``; the centred rows must have rank ``dim``.

    Returns
    -------
    numpy.ndarray of float64, shape (dim, dim)
        The lower-triangular Cholesky factor ``U``.

    Raises
    ------
    ValueError
        If ``top_n`` is out of range.
    numpy.linalg.LinAlgError
        If ``Cᵀ C`` is singular (fewer than ``dim + 1`` independent words).
    """
    V = _vectors(V)
    if isinstance(top_n, bool) or not isinstance(top_n, numbers.Integral) or not 1 < top_n <= len(V):
        raise ValueError(f"top_n must be in [2, {len(V)}], got {top_n}")
    C = V[:top_n] - V[:top_n].mean(axis=0)
    with _one_blas_thread():
        return np.linalg.cholesky(C.T @ C)


def norm_vs_logp(V: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``-log P(w)``, ``‖v_w‖²`` and their Spearman correlation: eq. (26) says they rise together (chapter 04).

    Parameters
    ----------
    V : numpy.ndarray, shape (n_words, dim)
        The word vectors.
    counts : numpy.ndarray, shape (n_words,)
        Positive corpus counts.

    Returns
    -------
    neglogp : numpy.ndarray of float64, shape (n_words,)
        ``-log P(w)``.
    sq_norms : numpy.ndarray of float64, shape (n_words,)
        ``‖v_w‖²``.
    rho : float
        Spearman's correlation of the two.

    Raises
    ------
    ValueError
        If there is not one positive, finite count per vector.
    """
    from scipy.stats import spearmanr

    V = _vectors(V)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (len(V),):
        raise ValueError(f"need one count per vector: {counts.size} counts for {len(V)} vectors")
    if not np.all(np.isfinite(counts)) or np.any(counts <= 0):
        raise ValueError("counts must be finite and > 0 (log P(w) of a word never seen is -inf)")
    neglogp = np.log(counts.sum()) - np.log(counts)
    sq = np.einsum("nd,nd->n", V, V)
    return neglogp, sq, float(spearmanr(sq, neglogp).statistic)


def pair_correlation(V: np.ndarray, i: np.ndarray, j: np.ndarray, target: np.ndarray) -> float:
    """Pearson correlation between ``<v_i, v_j>`` and a target, e.g. held-out PMI (chapter 04).

    Parameters
    ----------
    V : numpy.ndarray, shape (n_words, dim)
        The word vectors.
    i, j : numpy.ndarray of int, shape (P,)
        The pairs' word indices, in ``[0, n_words)``; P >= 2.
    target : numpy.ndarray, shape (P,)
        The values to correlate with.

    Returns
    -------
    float
        The correlation (``nan`` if either side is constant).

    Raises
    ------
    ValueError
        If an index is out of range, a shape disagrees or there are fewer than 2 pairs.
    """
    V = _vectors(V)
    i, j, target = _pair_arrays(len(V), i, j, ("target", target))
    if len(i) < 2:
        raise ValueError("a correlation needs at least 2 pairs")
    pred = _pair_dots(V, V, i, j)
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.corrcoef(pred, target)[0, 1])


# ----------------------------------------------------------------------------- synthetic data
def planted_pmi(n_words: int, rank: int, seed: int, scale: float = 0.5) -> tuple[np.ndarray, Pairs]:
    """Planted vectors and every off-diagonal pair with ``PMI = <v*_i, v*_j>`` (chapter 04).

    Counts ``x`` are set to 100 so that ``λ = 1``.

    Parameters
    ----------
    n_words : int
        Number of words, >= 2.
    rank : int
        Vector size, >= 1.
    seed : int
        Seeds the planted vectors.
    scale : float, optional
        Standard deviation of the planted entries.

    Returns
    -------
    V_true : numpy.ndarray of float64, shape (n_words, rank)
        The planted vectors.
    pairs : Pairs
        All ``n_words (n_words - 1) / 2`` pairs ``i < j``.
    """
    n_words = _validate.int_at_least(n_words, "n_words", 2)
    rank = _validate.int_at_least(rank, "rank", 1)
    scale = _real_number(scale, "scale", nonnegative=True)
    rng = np.random.default_rng(seed)
    Vt = rng.standard_normal((n_words, rank)) * scale
    i, j = np.triu_indices(n_words, k=1)
    pmi = np.einsum("pd,pd->p", Vt[i], Vt[j])
    return Vt, Pairs(i.astype(np.int64), j.astype(np.int64), np.full(len(i), 100.0), pmi)


def topic_corpus(n_sentences: int = 4000, length: int = 20, n_stop: int = 20, n_topics: int = 10,
                 words_per_topic: int = 28, p_stop: float = 0.4, seed: int = 0) -> tuple[list[list[str]], set[str]]:
    """A synthetic corpus of topic-free stop words mixed into topical sentences (chapter 04).

    Each sentence picks one topic; each token is a stop word with probability ``p_stop``
    (Zipf over ``n_stop`` words) and otherwise a content word of the topic (Zipf ``r^-0.7``).

    Parameters
    ----------
    n_sentences, length, n_stop, n_topics, words_per_topic : int, optional
        Sizes, each >= 1.
    p_stop : float, optional
        Probability of a stop word, in [0, 1].
    seed : int, optional
        Seeds the generator.

    Returns
    -------
    sentences : list of list of str
        The corpus.
    stop_words : set of str
        The stop words.
    """
    for name, v in (("n_sentences", n_sentences), ("length", length), ("n_stop", n_stop),
                    ("n_topics", n_topics), ("words_per_topic", words_per_topic)):
        _validate.int_at_least(v, name, 1)
    if not 0.0 <= _real_number(p_stop, "p_stop") <= 1.0:
        raise ValueError(f"p_stop must lie in [0, 1], got {p_stop!r}")
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
