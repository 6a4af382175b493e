"""Tests for kexue.pmi (chapter 04, PMI word vectors / "simpler GloVe")."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.stats import spearmanr

from kexue import pmi


def random_corpus(seed: int, n_sent: int = 40, vocab_size: int = 15) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"w{k}" for k in range(vocab_size)]
    p = 1.0 / np.arange(1, vocab_size + 1)
    p /= p.sum()
    return [[words[k] for k in rng.choice(vocab_size, size=rng.integers(0, 12), p=p)] for _ in range(n_sent)]


# ----------------------------------------------------------------------------- counting
def test_tiny_corpus_by_hand():
    voc = pmi.build_counted_vocab([["a", "b", "a", "c"]])
    assert voc.words == ["a", "b", "c"]
    X = pmi.cooccurrence([["a", "b", "a", "c"]], voc, window=2).toarray()
    # pairs within distance 2: (a,b) twice, (a,a) skipped, (b,c) once, (a,c) once
    expected = np.array([[0, 2, 1], [2, 0, 1], [1, 1, 0]], dtype=float)
    np.testing.assert_array_equal(X, expected)


def test_window_edges():
    sent = [["x", "y", "z", "u"]]
    voc = pmi.build_counted_vocab(sent)
    for window, n_pairs in ((1, 3), (2, 5), (3, 6), (10, 6)):
        X = pmi.cooccurrence(sent, voc, window)
        assert X.sum() == 2 * n_pairs, window
    X = pmi.cooccurrence(sent, voc, 2).toarray()
    assert X[voc.index["x"], voc.index["z"]] == 1
    assert X[voc.index["x"], voc.index["u"]] == 0  # distance 3 is outside window 2


def test_sentences_do_not_mix():
    sents = [["a", "b"], ["c", "d"]]
    voc = pmi.build_counted_vocab(sents)
    X = pmi.cooccurrence(sents, voc, 5).toarray()
    assert X[voc.index["b"], voc.index["c"]] == 0
    assert X.sum() == 4


@pytest.mark.parametrize("seed,window,min_count", [(0, 1, 1), (1, 2, 2), (2, 4, 3), (3, 7, 1)])
def test_counts_match_brute_force(seed, window, min_count):
    corpus = random_corpus(seed)
    voc = pmi.build_counted_vocab(corpus, min_count)
    X = pmi.cooccurrence(corpus, voc, window)
    loop = pmi.cooccurrence_loop(corpus, voc, window)
    dense = np.zeros((len(voc), len(voc)))
    for (a, b), c in loop.items():
        dense[a, b] = c
    np.testing.assert_array_equal(X.toarray(), dense)
    assert np.all(X.diagonal() == 0)
    assert (abs(X - X.T)).nnz == 0


def test_oov_words_are_removed_before_windowing():
    corpus = [["a", "rare", "b"], ["a", "b"]]
    voc = pmi.build_counted_vocab(corpus, min_count=2)
    X = pmi.cooccurrence(corpus, voc, window=1).toarray()
    assert X[voc.index["a"], voc.index["b"]] == 2


# ----------------------------------------------------------------------------- PMI
def test_pmi_matches_dense_formula():
    corpus = random_corpus(5, n_sent=80)
    voc = pmi.build_counted_vocab(corpus)
    X = pmi.cooccurrence(corpus, voc, 3)
    P = pmi.pmi_pairs(X, voc.counts)
    D = X.toarray()
    pj = D / D.sum()
    pw = voc.counts / voc.counts.sum()
    expected = np.log(pj[P.i, P.j] / (pw[P.i] * pw[P.j]))
    np.testing.assert_allclose(P.pmi, expected, atol=1e-12)
    assert np.all(P.i < P.j) and len(P) == X.nnz // 2
    M = pmi.ppmi_matrix(X, voc.counts).toarray()
    np.testing.assert_allclose(M[P.i, P.j], np.maximum(expected, 0), atol=1e-12)
    np.testing.assert_allclose(M, M.T, atol=1e-12)


def test_weight():
    x = np.array([1.0, 50.0, 100.0, 1000.0])
    np.testing.assert_allclose(pmi.glove_weight(x), (x / 100) ** 0.75)
    np.testing.assert_allclose(pmi.glove_weight(x, truncate=True), np.minimum((x / 100) ** 0.75, 1))


# ----------------------------------------------------------------------------- training
def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    V = rng.standard_normal((7, 3))
    i = np.array([0, 1, 2, 0, 5, 0])
    j = np.array([1, 2, 3, 4, 6, 1])  # a repeated pair
    t, w = rng.standard_normal(6), rng.random(6)
    g = pmi.simpler_glove_grad(V, i, j, t, w)
    num = np.zeros_like(V)
    h = 1e-6
    for idx in np.ndindex(V.shape):
        e = np.zeros_like(V)
        e[idx] = h
        num[idx] = (pmi.simpler_glove_loss(V + e, i, j, t, w) - pmi.simpler_glove_loss(V - e, i, j, t, w)) / (2 * h)
    np.testing.assert_allclose(g, num, atol=1e-7)


def test_planted_pmi_is_recovered():
    Vt, P = pmi.planted_pmi(120, rank=6, seed=0)
    V, hist = pmi.train_simpler_glove(P, 120, 6, epochs=300, batch_size=None, seed=1)
    assert hist[-1] < hist[0] * 1e-3
    assert pmi.pair_correlation(V, P.i, P.j, P.pmi) > 0.999
    # self-pairs were never fitted, yet the squared norms follow the planted diagonal
    rho = spearmanr((V * V).sum(1), (Vt * Vt).sum(1)).statistic
    assert rho > 0.9


def test_minibatch_training_decreases_loss_and_is_seeded():
    Vt, P = pmi.planted_pmi(60, rank=4, seed=2)
    V1, h1 = pmi.train_simpler_glove(P, 60, 4, epochs=5, batch_size=256, seed=3)
    V2, h2 = pmi.train_simpler_glove(P, 60, 4, epochs=5, batch_size=256, seed=3)
    np.testing.assert_array_equal(V1, V2)
    assert h1[-1] < h1[0]


def test_torch_trainer_matches_numpy():
    pytest.importorskip("torch")
    import torch

    from kexue.pmi import torch as pmi_torch

    corpus = random_corpus(7, n_sent=60, vocab_size=25)
    voc = pmi.build_counted_vocab(corpus)
    P = pmi.pmi_pairs(pmi.cooccurrence(corpus, voc, 3), voc.counts)
    kw = dict(epochs=3, batch_size=32, seed=4, lr=0.1)
    Vn, hn = pmi.train_simpler_glove(P, len(voc), 5, **kw)
    Vt, ht = pmi_torch.train_simpler_glove(P, len(voc), 5, dtype=torch.float64, **kw)
    np.testing.assert_allclose(Vt, Vn, atol=1e-10)
    np.testing.assert_allclose(ht, hn, rtol=1e-10)


def test_norms_track_importance_on_topic_corpus():
    corpus, stop = pmi.topic_corpus(n_sentences=1500, seed=0)
    voc = pmi.build_counted_vocab(corpus, 1)
    P = pmi.pmi_pairs(pmi.cooccurrence(corpus, voc, 5), voc.counts)
    V, _ = pmi.train_simpler_glove(P, len(voc), 16, epochs=300, batch_size=None, seed=0)
    norms = np.linalg.norm(V, axis=1)
    is_stop = np.array([w in stop for w in voc.words])
    assert norms[is_stop].mean() < 0.6 * norms[~is_stop].mean()
    smallest = np.argsort(norms)[:20]
    assert is_stop[smallest].sum() >= 15


# ----------------------------------------------------------------------------- GloVe's degeneracy
def test_glove_translation_invariance():
    rng = np.random.default_rng(0)
    n, d = 30, 4
    W, Wc = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    b, bc = rng.standard_normal(n), rng.standard_normal(n)
    i, j = np.triu_indices(n, 1)
    logx, lam = rng.standard_normal(len(i)), rng.random(len(i))
    base = pmi.glove_loss(W, Wc, b, bc, i, j, logx, lam)
    cos_prev = None
    for scale in (1.0, 10.0, 100.0):
        c = scale * rng.standard_normal(d)
        W2, Wc2, b2, bc2 = pmi.glove_translate(W, Wc, b, bc, c)
        assert abs(pmi.glove_loss(W2, Wc2, b2, bc2, i, j, logx, lam) - base) <= 1e-9 * max(1.0, scale**2) * base
        U = W2 / np.linalg.norm(W2, axis=1, keepdims=True)
        cos = (U @ U.T)[np.triu_indices(n, 1)].mean()
        if cos_prev is not None:
            assert cos > cos_prev
        cos_prev = cos
    assert cos_prev > 0.99
    # without biases the same shift changes the simpler-GloVe loss
    c = rng.standard_normal(d)
    assert pmi.simpler_glove_loss(W + c, i, j, logx, lam) != pytest.approx(pmi.simpler_glove_loss(W, i, j, logx, lam))


# ----------------------------------------------------------------------------- baseline and applications
def test_svd_vectors_recover_a_psd_low_rank_matrix():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((200, 5))
    M = sparse.csr_matrix(A @ A.T)
    V = pmi.svd_vectors(M, 5, seed=1)
    np.testing.assert_allclose(V @ V.T, A @ A.T, atol=1e-8)
    np.testing.assert_array_equal(V, pmi.svd_vectors(M, 5, seed=1))


def test_neighbours_analogy_keywords():
    V = np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.9, 0.2], [0, 0, 1]])
    top, sims = pmi.neighbours(V, 0, topn=2)
    assert top[0] == 1 and 0 not in top and sims[0] > sims[1]
    top, _ = pmi.analogy(V, 0, 1, 2, topn=2)
    assert not set(top) & {0, 1, 2}
    ids = [0, 2, 2, 4]
    words, scores = pmi.keywords(V, ids)
    assert sorted(words) == [0, 2, 4]
    np.testing.assert_allclose(scores, [sum(V[k] @ V[w] for k in ids) for w in words])


# ----------------------------------------------------------------------------- bad input
def test_bad_input():
    corpus = [["a", "b", "c"], ["a", "b"]]
    voc = pmi.build_counted_vocab(corpus)
    with pytest.raises(ValueError, match="window"):
        pmi.cooccurrence(corpus, voc, 0)
    with pytest.raises(ValueError, match="window"):
        pmi.cooccurrence_loop(corpus, voc, 0)
    with pytest.raises(ValueError, match="empty"):
        pmi.build_counted_vocab([])
    with pytest.raises(ValueError, match="empty"):
        pmi.build_counted_vocab([[], []])
    with pytest.raises(ValueError, match="not a string"):
        pmi.build_counted_vocab(["a b c"])
    with pytest.raises(ValueError, match="min_count"):
        pmi.build_counted_vocab(corpus, min_count=5)
    P = pmi.pmi_pairs(pmi.cooccurrence(corpus, voc, 2), voc.counts)
    with pytest.raises(ValueError, match="vocabulary size"):
        pmi.train_simpler_glove(P, len(voc), 4)
    with pytest.raises(ValueError, match="vocabulary size"):
        pmi.init_vectors(3, 4, 0)
    with pytest.raises(ValueError, match="epochs"):
        pmi.train_simpler_glove(P, len(voc), 2, epochs=0)
    with pytest.raises(ValueError, match="no co-occurring"):
        pmi.pmi_pairs(pmi.cooccurrence([["a"], ["b"]], pmi.build_counted_vocab([["a"], ["b"]]), 2), np.array([1, 1]))
    with pytest.raises(ValueError, match="in-vocabulary"):
        pmi.keywords(np.ones((3, 2)), [])


def test_norm_vs_logp():
    V = np.array([[3.0, 0.0], [0.0, 2.0], [1.0, 0.0]])
    counts = np.array([1, 10, 100])
    neglogp, sq, rho = pmi.norm_vs_logp(V, counts)
    np.testing.assert_allclose(neglogp, -np.log(counts / counts.sum()))
    np.testing.assert_allclose(sq, [9.0, 4.0, 1.0])
    assert rho == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one count per vector"):
        pmi.norm_vs_logp(V, counts[:2])


# ----------------------------------------------------------------------------- claims of the post
@pytest.fixture(scope="module")
def planted_fit():
    Vt, P = pmi.planted_pmi(120, rank=6, seed=0)
    V, _ = pmi.train_simpler_glove(P, 120, 6, epochs=300, batch_size=None, seed=1)
    return P, V


def test_pmi_zero_iff_orthogonal(planted_fit):
    P, V = planted_fit
    cos = np.einsum("pd,pd->p", V[P.i], V[P.j]) / (np.linalg.norm(V[P.i], axis=1) * np.linalg.norm(V[P.j], axis=1))
    near_zero = np.abs(P.pmi) < 0.02
    assert near_zero.sum() > 20
    assert np.abs(cos[near_zero]).mean() < min(0.02, 0.1 * np.abs(cos).mean())
    assert np.all(np.abs(P.pmi[np.abs(cos) < 0.005]) < 0.05)


def test_adagrad_insensitive_to_loss_scale_sgd_is_not(planted_fit):
    P, V = planted_fit
    ten = np.full(len(P), 10.0)
    V10, _ = pmi.train_simpler_glove(P, 120, 6, epochs=300, batch_size=None, seed=1, weight=ten)
    np.testing.assert_allclose(V10 @ V10.T, V @ V.T, atol=1e-3)       # same fit, up to a rotation
    _, h1 = pmi.train_simpler_glove(P, 120, 6, epochs=300, batch_size=None, seed=1, update="sgd", lr=0.01)
    _, h10 = pmi.train_simpler_glove(P, 120, 6, epochs=300, batch_size=None, seed=1, update="sgd", lr=0.01, weight=ten)
    assert h1[-1] < 1e-3
    assert not np.isfinite(h10[-1]) or h10[-1] > 1e6


def test_no_sqrt_and_glove_variants_fail_where_adagrad_converges(planted_fit):
    P, _ = planted_fit
    final = {u: pmi.train_simpler_glove(P, 120, 6, epochs=300, batch_size=None, seed=1, update=u)[1][-1]
             for u in ("adagrad", "no_sqrt", "glove")}
    assert final["adagrad"] < 1e-3
    assert final["no_sqrt"] > 1e3 * final["adagrad"]
    assert not np.isfinite(final["glove"]) or final["glove"] > 1e6


def test_sgd_step_is_plain_gradient_descent():
    """One full-batch step of each update rule, written out by hand."""
    Vt, P = pmi.planted_pmi(20, rank=3, seed=2)
    V0 = pmi.init_vectors(20, 3, seed=0)
    g = pmi.simpler_glove_grad(V0, P.i, P.j, P.pmi, np.ones(len(P)))
    expected = {"sgd": V0 - 0.1 * g,
                "adagrad": V0 - 0.1 * g / (np.sqrt(1 + g * g) + 1e-8),
                "no_sqrt": V0 - 0.1 * g / (1 + g * g + 1e-8),
                "glove": V0 - 0.1 * g / np.sqrt(1 + 1e-8)}
    for u, want in expected.items():
        got, _ = pmi.train_simpler_glove(P, 20, 3, epochs=1, batch_size=None, seed=0, update=u)
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=u)
    with pytest.raises(ValueError, match="update must be one of"):
        pmi.train_simpler_glove(P, 20, 3, epochs=1, batch_size=None, update="adam")


def test_post_results_fixtures():
    assert len(pmi.POST_SMALLEST_NORMS) == 30 and pmi.POST_SMALLEST_NORMS[:3] == ["。", "，", "的"]
    assert len(pmi.POST_ANALOGIES) == 9 and all(len(a) == 6 for _, a in pmi.POST_ANALOGIES)
    assert all(len(k) == 10 and all(w in s for w in k if w != "炖牛肉") for s, k in pmi.POST_KEYWORDS)


def test_sentence_vectors_and_sentiment_accuracy():
    from kexue.pmi.experiment import sentence_vectors, sentiment_accuracy
    vocab = pmi.Vocab(["好", "差", "的"], np.array([3, 2, 1]))
    V = np.array([[1.0, 0.0], [-1.0, 0.5], [0.1, 0.1]])
    x, cov = sentence_vectors(["好 的 好", "差 未知", "未知"], str.split, vocab, V)
    np.testing.assert_allclose(x, [[2.1, 0.1], [-1.0, 0.5], [0.0, 0.0]])
    assert cov == pytest.approx(4 / 6)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    feats = rng.normal(size=(600, 5)) + 2.0 * y[:, None]          # separable by construction
    acc = sentiment_accuracy(feats[:400], y[:400], feats[400:], y[400:], seed=0)
    assert acc["lr"] > 0.95 and acc["mlp"] > 0.95
    noise = rng.normal(size=(600, 5))                               # no signal: chance level
    acc0 = sentiment_accuracy(noise[:400], y[:400], noise[400:], y[400:], seed=0)
    assert max(acc0.values()) < 0.65
    with pytest.raises(ValueError, match="V must have shape"):
        sentence_vectors(["好"], str.split, vocab, V[:2])
    with pytest.raises(ValueError, match="same width"):
        sentiment_accuracy(feats[:10], y[:10], feats[:10, :3], y[:10])


def test_pmi_additivity_holds_under_independence_only():
    """Eq. (7): PMI(Q, A) = Σ PMI(q_i, a_j) when (q1, a1) is independent of (q2, a2); not in general."""
    rng = np.random.default_rng(0)
    P1, P2 = rng.random((2, 2)), rng.random((2, 2))
    P1, P2 = P1 / P1.sum(), P2 / P2.sum()
    naive = np.einsum("ac,bd->abcd", P1, P2)                        # axes q1, q2, a1, a2
    generic = rng.random((2, 2, 2, 2))
    generic /= generic.sum()
    q, a = (1, 0), (0, 1)

    def joint(P):
        return np.log(P[q[0], q[1], a[0], a[1]] / (P[q[0], q[1]].sum() * P[:, :, a[0], a[1]].sum()))

    def pairwise(P):
        total = 0.0
        for i in range(2):
            for j in range(2):
                M = P.sum(axis=tuple(k for k in range(4) if k not in (i, 2 + j)))   # (q_i, a_j)
                total += np.log(M[q[i], a[j]] / (M[q[i]].sum() * M[:, a[j]].sum()))
        return total

    assert joint(naive) == pytest.approx(pairwise(naive), abs=1e-12)
    assert abs(joint(generic) - pairwise(generic)) > 0.05


def test_exponential_is_the_solution_of_the_functional_equation():
    rng = np.random.default_rng(1)
    x, y, z = rng.normal(size=(3, 1000))
    f = lambda t: 0.7 * np.exp(1.3 * t)  # noqa: E731
    g = lambda t: 1 + t ** 2  # noqa: E731
    np.testing.assert_allclose(f(x + y - z), f(x) * f(y) / f(z), rtol=1e-12)
    assert np.max(np.abs(g(x + y - z) - g(x) * g(y) / g(z))) > 1.0


def test_pearson_of_pmi_profiles_is_cosine_after_cholesky_map():
    rng = np.random.default_rng(2)
    V = rng.normal(size=(300, 8))
    U = pmi.pearson_map(V, 200)
    for i, j in ((0, 1), (5, 17), (3, 250)):
        profiles = V[[i, j]] @ V[:200].T
        mapped = V[[i, j]] @ U
        cos = mapped[0] @ mapped[1] / np.linalg.norm(mapped, axis=1).prod()
        assert cos == pytest.approx(np.corrcoef(profiles)[0, 1], abs=1e-10)
    # a different N gives a different map, hence different neighbour lists
    assert np.abs(pmi.pearson_map(V, 20) - U).max() > 1e-3
    with pytest.raises(ValueError, match="top_n must be in"):
        pmi.pearson_map(V, 1)


def _functional_equation_null_space(n_grid: int) -> np.ndarray:
    """Orthonormal basis of {h on 0..n_grid-1 : h(x+y-z) - h(x) - h(y) + h(z) = 0 for all grid triples}."""
    t = np.arange(n_grid)
    x, y, z = (a.ravel() for a in np.meshgrid(t, t, t, indexing="ij"))
    keep = (x + y - z >= 0) & (x + y - z < n_grid)
    A = np.zeros((keep.sum(), n_grid))
    rows = np.arange(keep.sum())
    for col, sign in ((x + y - z, 1.0), (x, -1.0), (y, -1.0), (z, 1.0)):
        np.add.at(A, (rows, col[keep]), sign)
    _, sv, Vt = np.linalg.svd(A, full_matrices=False)
    return Vt[int((sv > 1e-9 * sv[0]).sum()):].T


@pytest.mark.parametrize("n_grid", [9, 25])
def test_functional_equation_solved_numerically_gives_exponentials(n_grid):
    """Eqs. (10)-(14): the solutions of log f(x+y-z) = log f(x) + log f(y) - log f(z) on a grid are a + b t."""
    N = _functional_equation_null_space(n_grid)
    assert N.shape[1] == 2
    t = np.linspace(-1.5, 2.5, n_grid)

    def distance(h):
        return np.linalg.norm(h - N @ (N.T @ h)) / np.linalg.norm(h)

    assert distance(np.ones(n_grid)) < 1e-10 and distance(t) < 1e-10
    assert distance(np.log(0.3 * np.exp(-2.0 * t))) < 1e-10
    for f in (lambda s: 1 + s ** 2, np.cosh, lambda s: 1 / (1 + np.exp(-s))):
        assert distance(np.log(f(t))) > 0.05


@pytest.fixture(scope="module")
def news_vectors():
    """Simpler-GloVe vectors trained briefly on the first 3,000 lines of People's Daily (chapter 04's corpus)."""
    from kexue.data import load_peoples_daily
    sents = load_peoples_daily()[:3000]
    vocab = pmi.build_counted_vocab(sents, 5)
    pairs = pmi.pmi_pairs(pmi.cooccurrence(sents, vocab, 5), vocab.counts)
    V, _ = pmi.train_simpler_glove(pairs, len(vocab), 16, epochs=2, batch_size=8192, seed=0)
    return sents, vocab, V


def test_keywords_rank_by_summed_pairwise_model_pmi(news_vectors):
    """keywords() (summed vectors) = ranking by Σ_i PMI_model(w_i, w), PMI_model = <v_i, v_w> looked up pair by pair."""
    sents, vocab, V = news_vectors
    for sent in sents[100:110]:
        ids = vocab.ids(sent)
        if len(ids) == 0:
            continue
        table = V[ids] @ V.T
        score = {int(w): float(sum(table[r, w] for r in range(len(ids)))) for w in np.unique(ids)}
        kw, _ = pmi.keywords(V, ids)
        assert list(kw) == sorted(score, key=lambda w: (-score[w], w))


def test_sentences_rank_by_summed_pairwise_model_pmi_as_by_summed_vectors(news_vectors):
    """Ranking real sentences by Σ_i Σ_j PMI_model(q_i, s_j) equals ranking by <Σ v_q, Σ v_s>."""
    sents, vocab, V = news_vectors
    query = vocab.ids(sents[7])
    table = V[query] @ V.T
    cands = [s for s in sents[200:400] if len(vocab.ids(s)) > 0]
    by_pairs = np.array([sum(table[r, c] for r in range(len(query)) for c in vocab.ids(s)) for s in cands])
    by_vectors = np.array([V[query].sum(0) @ V[vocab.ids(s)].sum(0) for s in cands])
    np.testing.assert_allclose(by_pairs, by_vectors, rtol=1e-10, atol=1e-8)
    assert np.array_equal(np.argsort(-by_pairs, kind="stable"), np.argsort(-by_vectors, kind="stable"))
