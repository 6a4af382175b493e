"""Chapters 02 and 04: one contract per name, bad input, devices and serialisation.

The numpy reference is the specification; the PyTorch and Keras twins must give the same
values and raise the same messages (from :mod:`kexue._validate`).
"""
from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from kexue import _validate
from kexue import pmi
from kexue.saliency import numpy_ref as R

torch = pytest.importorskip("torch")

from kexue.pmi import torch as PT  # noqa: E402
from kexue.saliency import torch as T  # noqa: E402


def _err(fn, *args, **kwargs) -> tuple[type, str]:
    """The exception type and message ``fn`` raises (fails the test if it returns)."""
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    return type(info.value), str(info.value)


@pytest.fixture(scope="module")
def lstm():
    torch.manual_seed(3)
    m = T.SentimentLSTM(20, embed_dim=6, units=5)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(3.0)
    return m.eval()


# ----------------------------------------------------------------------------- trajectory scores at any scale
def _states(n=9, d=5, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.mark.parametrize("factor", [1e160, 1e-200, 1e300, 1e-310])
def test_trajectory_scores_are_scale_invariant(factor):
    h = _states()
    ref = R.trajectory_scores(h)
    got = R.trajectory_scores(h * factor)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    # unnormalised: scores in the states' own units, summing to |h_n| (computed without overflow)
    raw = R.trajectory_scores(h * factor, normalize=False)
    assert np.all(np.isfinite(raw))
    np.testing.assert_allclose(raw / factor, R.trajectory_scores(h, normalize=False), rtol=1e-9)


def test_trajectory_scores_power_of_two_scale_is_exact():
    h = _states(seed=4)
    mask = np.array([1, 1, 0, 1, 1, 0, 1, 1, 1], dtype=bool)
    for k in (-1000, -600, 600, 1000):
        np.testing.assert_array_equal(R.trajectory_scores(h * 2.0 ** k, mask), R.trajectory_scores(h, mask))


def test_trajectory_scores_tiny_final_state_is_not_zero():
    h = _states() * 1e-200
    assert np.linalg.norm(h[-1]) == 0.0                          # the naive norm underflows ...
    assert R.trajectory_scores(h).sum() == pytest.approx(1.0)  # ... the score does not
    with pytest.raises(ValueError, match="h_n is zero"):
        R.trajectory_scores(np.array([[1e-200, 0.0], [0.0, 0.0]]))


def test_trajectory_scores_mask_and_dtype_checks():
    h = _states(3)
    with pytest.raises(ValueError, match="boolean"):
        R.trajectory_scores(h, mask=[0.5, 1, 1])
    with pytest.raises(TypeError, match="real-valued"):
        R.trajectory_scores(np.array([["a", "b"]]))
    # integer states behave as the same floats
    hi = np.array([[1, 2], [3, -1], [2, 2]])
    np.testing.assert_array_equal(R.trajectory_scores(hi), R.trajectory_scores(hi.astype(float)))


def test_numpy_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="one score per token"):
        R.occurrences(["a", "b"], [0.1], "a")                   # zip used to truncate silently
    with pytest.raises(ValueError, match="NaN"):
        R.rank_words(["a", "b"], [0.1, np.nan])
    with pytest.raises(ValueError, match="NaN"):
        R.spearman([1.0, np.nan, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="scale"):
        R.colored_html(["a"], [0.5], scale=-1.0)
    with pytest.raises(TypeError, match="one string"):
        R.rank_words("ab", [0.1, 0.2])
    with pytest.raises(ValueError, match="mask must have shape"):
        R.lstm_states(np.ones((3, 2)), np.ones((2, 8)), np.ones((2, 8)), np.ones(8), mask=[1, 1])
    with pytest.raises(ValueError, match="NaN"):
        R.lstm_states(np.full((3, 2), np.nan), np.ones((2, 8)), np.ones((2, 8)), np.ones(8))


# ----------------------------------------------------------------------------- saliency: renames and twins
def test_old_saliency_names_are_gone():
    keras_mod = pytest.importorskip("kexue.saliency.keras")
    for mod, name in ((T, "predict_proba"), (T, "train_classifier"), (keras_mod, "predict_proba")):
        assert not hasattr(mod, name), f"{mod.__name__}.{name} should be renamed"
    for path in ("saliency/torch.py", "pmi/torch.py"):
        src = (R.__file__.rsplit("saliency", 1)[0] + path)
        assert "train_lib" not in open(src, encoding="utf-8").read()


@pytest.mark.parametrize("name", ["sentiment_probabilities", "hidden_states"])
def test_saliency_twins_share_signature(name):
    KS = pytest.importorskip("kexue.saliency.keras")
    st, sk = inspect.signature(getattr(T, name)), inspect.signature(getattr(KS, name))
    assert [(p.name, p.kind, p.default) for p in st.parameters.values()] == \
           [(p.name, p.kind, p.default) for p in sk.parameters.values()]


def test_pmi_trainer_twins_share_signature():
    sn, st = inspect.signature(pmi.train_simpler_glove), inspect.signature(PT.train_simpler_glove)
    numpy_only, torch_only = {"update"}, {"dtype", "device"}
    pn = [(p.name, p.kind, p.default) for p in sn.parameters.values() if p.name not in numpy_only]
    pt = [(p.name, p.kind, p.default) for p in st.parameters.values() if p.name not in torch_only]
    assert pn == pt
    assert all(st.parameters[k].kind is inspect.Parameter.KEYWORD_ONLY for k in torch_only)
    assert not hasattr(PT, "train_simpler_glove_torch")


def test_sentiment_probabilities_contract(lstm):
    seqs = [np.array([3, 0, 5, 7]), np.array([], dtype=np.int64), np.array([0, 0]), np.array([9, 1, 1, 2, 19])]
    p = T.sentiment_probabilities(lstm, seqs)
    assert p.dtype == np.float64 and p.shape == (4,)
    # id 0 is skipped: the same as the compressed sentence; empty and all-zero read h = 0
    np.testing.assert_allclose(p[0], T.sentiment_probabilities(lstm, [np.array([3, 5, 7])])[0], atol=1e-7)
    assert p[1] == pytest.approx(p[2]) == pytest.approx(float(torch.sigmoid(lstm.dense.bias).item()))
    np.testing.assert_allclose(T.sentiment_probabilities(lstm, seqs, batch_size=1), p, atol=1e-7)
    assert T.sentiment_probabilities(lstm, []).shape == (0,)


def test_sentiment_probabilities_keras_equals_torch(lstm):
    KS = pytest.importorskip("kexue.saliency.keras")
    clf, _ = KS.build_models(20, embed_dim=6, units=5)
    KS.load_weights(clf, T.export_weights(lstm))
    seqs = [np.array([3, 0, 5, 7]), np.array([], dtype=np.int64), np.array([0, 0]), np.array([9, 1, 1, 2, 19])]
    pk = KS.sentiment_probabilities(clf, seqs, batch_size=3)
    assert pk.dtype == np.float64 and pk.shape == (4,)
    np.testing.assert_allclose(pk, T.sentiment_probabilities(lstm, seqs), atol=2e-6)


@pytest.mark.parametrize("bad,exc", [([1, -1], ValueError), ([1, 20], ValueError), ([1.0, 2.0], TypeError),
                                     ([], ValueError), ([0, 0], ValueError), ([[1, 2]], ValueError)])
def test_hidden_states_same_error_in_both_frameworks(lstm, bad, exc):
    KS = pytest.importorskip("kexue.saliency.keras")
    _, states = KS.build_models(20, embed_dim=6, units=5)
    et, mt = _err(T.hidden_states, lstm, bad)
    ek, mk = _err(KS.hidden_states, states, bad)
    assert et is ek is exc and mt == mk
    if bad == [1, -1]:                                     # the case: -1 used to read the last step
        assert mt == _validate.IDS_RANGE.format("ids", 20, -1, 1)


def test_sentiment_probabilities_same_error_in_both_frameworks(lstm):
    KS = pytest.importorskip("kexue.saliency.keras")
    clf, _ = KS.build_models(20, embed_dim=6, units=5)
    for bad in ([np.array([1, -1])], [np.array([25])], [np.array([1.5])], np.array([1, 2])):
        et, mt = _err(T.sentiment_probabilities, lstm, bad)
        ek, mk = _err(KS.sentiment_probabilities, clf, bad)
        assert et is ek and mt == mk


@pytest.mark.parametrize("labels", [[2, 1], [-1, 0], [0.5, 1.0]])
def test_train_sentiment_lstm_rejects_labels_outside_0_1(labels):
    torch.manual_seed(0)
    m = T.SentimentLSTM(10, embed_dim=4, units=3)
    before = [p.detach().clone() for p in m.parameters()]
    with pytest.raises(ValueError, match=r"label out of range|labels must be integer"):
        T.train_sentiment_lstm(m, [np.array([1, 2]), np.array([3])], labels, epochs=1)
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))   # nothing was trained


def test_train_sentiment_lstm_rejects_out_of_range_ids():
    m = T.SentimentLSTM(10, embed_dim=4, units=3)
    with pytest.raises(ValueError, match="token id out of range"):
        T.train_sentiment_lstm(m, [np.array([1, 12]), np.array([3])], [0, 1], epochs=1)


def test_train_sentiment_lstm_does_not_reseed_the_weights():
    torch.manual_seed(5)
    m = T.SentimentLSTM(10, embed_dim=4, units=3, dropout=0.0)
    w0 = m.embedding.weight.detach().clone()
    hist = T.train_sentiment_lstm(m, [np.array([1, 2]), np.array([3, 4, 5])], [0, 1], epochs=1, batch_size=2,
                                  seed=123, desc="tiny")
    assert len(hist) == 1 and {"epoch", "loss", "train_acc"} <= set(hist[0])
    torch.manual_seed(5)
    assert torch.equal(T.SentimentLSTM(10, embed_dim=4, units=3, dropout=0.0).embedding.weight, w0)
    assert not torch.equal(m.embedding.weight.detach(), w0)               # it trained


def test_sentiment_lstm_runs_on_meta():
    m = T.SentimentLSTM(12, embed_dim=4, units=3).to("meta")
    ids, lens = T.batch_ids([np.array([1, 2, 3]), np.array([4])], device="meta")
    assert ids.device.type == lens.device.type == "meta"
    out = m(ids, lens)
    assert out.device.type == "meta" and out.shape == (2,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_saliency_helpers_on_cuda(lstm):
    import copy
    g = copy.deepcopy(lstm).cuda()
    ids = np.array([3, 0, 5, 7])
    np.testing.assert_allclose(T.hidden_states(g, ids), T.hidden_states(lstm, ids), atol=1e-5)
    np.testing.assert_allclose(T.sentiment_probabilities(g, [ids]), T.sentiment_probabilities(lstm, [ids]), atol=1e-5)
    np.testing.assert_allclose(T.grad_x_input(g, ids), T.grad_x_input(lstm, ids), atol=1e-4)
    np.testing.assert_allclose(T.integrated_gradients(g, ids, 8).scores,
                               T.integrated_gradients(lstm, ids, 8).scores, atol=1e-4)
    np.testing.assert_allclose(T.occlusion_scores(g, ids), T.occlusion_scores(lstm, ids), atol=1e-5)
    hist = T.train_sentiment_lstm(g, [np.array([1, 2]), np.array([3])], [0, 1], epochs=1)
    assert len(hist) == 1 and next(g.parameters()).is_cuda


def test_keras_models_round_trip_through_keras_file(tmp_path):
    keras = pytest.importorskip("keras")
    KS = pytest.importorskip("kexue.saliency.keras")
    clf, states = KS.build_models(20, embed_dim=6, units=5, dropout=0.3)
    x = np.array([[3, 0, 5, 7, 0], [1, 2, 0, 0, 0]], dtype=np.int32)
    for name, model in (("clf", clf), ("states", states)):
        path = tmp_path / f"{name}.keras"
        model.save(path)
        back = keras.models.load_model(path)
        np.testing.assert_allclose(np.asarray(back(x, training=False)),
                                   np.asarray(model(x, training=False)), rtol=1e-6)
    back = keras.models.load_model(tmp_path / "states.keras")
    np.testing.assert_allclose(KS.hidden_states(back, [3, 0, 5]), KS.hidden_states(states, [3, 0, 5]), rtol=1e-6)


def test_constructors_reject_bad_sizes():
    with pytest.raises(ValueError, match="vocab_size"):
        T.SentimentLSTM(1)
    with pytest.raises(ValueError, match="units"):
        T.SentimentLSTM(5, units=0)
    with pytest.raises(ValueError, match="dropout"):
        T.SentimentLSTM(5, dropout=1.0)
    with pytest.raises(ValueError, match="n_steps"):
        T.quadrature(2.5)


# ----------------------------------------------------------------------------- PMI: neighbours, analogy, keywords
V4 = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.2]])


def test_neighbours_never_returns_the_query_and_caps_topn():
    top, sims = pmi.neighbours(V4, 0, topn=10)
    assert len(top) == 3 and 0 not in top
    assert np.all(np.isfinite(sims))
    assert list(top) == [1, 2, 3]
    top, _ = pmi.neighbours(V4, 0, topn=10, exclude=[1, 2, 3])
    assert len(top) == 0


@pytest.mark.parametrize("topn", [0, -1, 1.5, True])
def test_neighbours_rejects_bad_topn(topn):
    with pytest.raises(ValueError, match=re.escape(_validate.TOPN.format(topn))):
        pmi.neighbours(V4, 0, topn=topn)


@pytest.mark.parametrize("query", [-1, 4])
def test_neighbours_rejects_out_of_range_query(query):
    with pytest.raises(ValueError, match="word index out of range"):
        pmi.neighbours(V4, query)
    with pytest.raises(ValueError, match="word index out of range"):
        pmi.neighbours(V4, 0, exclude=[query])


def test_neighbours_scale_invariant():
    top, sims = pmi.neighbours(V4, 1, topn=3)
    for f in (1e200, 1e-200):
        t2, s2 = pmi.neighbours(V4 * f, 1, topn=3)
        np.testing.assert_array_equal(t2, top)
        np.testing.assert_allclose(s2, sims, rtol=1e-12)


def test_analogy_and_keywords_reject_negative_indices():
    top, sims = pmi.analogy(V4, 0, 1, 2, topn=5)
    assert list(top) == [3] and np.all(np.isfinite(sims))
    with pytest.raises(ValueError, match="word index out of range"):
        pmi.analogy(V4, 0, 1, -1)
    with pytest.raises(ValueError, match="word index out of range"):
        pmi.keywords(V4, [0, -1])
    with pytest.raises(TypeError, match="integer word indices"):
        pmi.keywords(V4, [0.0, 1.0])


def test_pmi_value_checks():
    with pytest.raises(ValueError, match="distinct"):
        pmi.Vocab(["a", "a"], [1, 2])
    with pytest.raises(ValueError, match="non-negative integers"):
        pmi.Vocab(["a", "b"], [1, -2])
    with pytest.raises(ValueError, match="non-negative integers"):
        pmi.Vocab(["a", "b"], [1.5, 2])
    with pytest.raises(TypeError, match="integer word indices"):
        pmi.Pairs([0.0], [1.0], [1.0], [0.5])
    with pytest.raises(ValueError, match="non-negative"):
        pmi.glove_weight([-1.0, 2.0])
    with pytest.raises(TypeError, match="Vocab"):
        pmi.cooccurrence([["a", "b"]], {"a": 0, "b": 1}, 2)
    with pytest.raises(ValueError, match="word index out of range"):
        pmi.simpler_glove_loss(V4, [0, -1], [1, 2], [0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="one value per pair"):
        pmi.simpler_glove_grad(V4, [0, 1], [1, 2], [0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="counts must be finite and > 0"):
        pmi.norm_vs_logp(V4, [1, 2, 0, 4])


# ----------------------------------------------------------------------------- PMI trainer through fit
def _small_pairs(seed=7):
    rng = np.random.default_rng(seed)
    words = [f"w{k}" for k in range(12)]
    corpus = [[words[k] for k in rng.integers(0, 12, size=8)] for _ in range(40)]
    voc = pmi.build_counted_vocab(corpus)
    return pmi.pmi_pairs(pmi.cooccurrence(corpus, voc, 2), voc.counts), len(voc)


def test_pmi_batches_are_the_fit_sampler():
    from kexue.train import shuffled
    for n, b, seed in ((50, 7, 0), (64, 8, 3)):
        ref = pmi.batch_orders(n, 3, b, seed)
        rng = np.random.default_rng(seed + 1)
        ours = [shuffled(n, b).draw(rng) for _ in range(3)]
        assert len(ref) == len(ours)
        for e1, e2 in zip(ref, ours):
            assert len(e1) == len(e2) and all(np.array_equal(x, y) for x, y in zip(e1, e2))


def test_torch_trainer_goes_through_fit(monkeypatch):
    calls = []
    real_fit = PT.fit

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(PT, "fit", spy)
    P, n = _small_pairs()
    PT.train_simpler_glove(P, n, 3, epochs=2, batch_size=16, dtype=torch.float64)
    assert len(calls) == 1 and calls[0]["epochs"] == 2 and calls[0]["on_epoch_end"] is not None


@pytest.mark.parametrize("batch_size", [16, None, 10 ** 6])
def test_torch_trainer_equals_numpy(batch_size):
    P, n = _small_pairs()
    kw = dict(epochs=3, batch_size=batch_size, seed=2, lr=0.1)
    Vn, hn = pmi.train_simpler_glove(P, n, 4, **kw)
    Vt, ht = PT.train_simpler_glove(P, n, 4, dtype=torch.float64, **kw)
    np.testing.assert_allclose(Vt, Vn, atol=1e-10)
    np.testing.assert_allclose(ht, hn, rtol=1e-10)
    assert ht[-1] < ht[0]


def test_torch_trainer_float32_close_to_numpy():
    P, n = _small_pairs()
    Vn, hn = pmi.train_simpler_glove(P, n, 4, epochs=3, batch_size=16, seed=2)
    Vt, ht = PT.train_simpler_glove(P, n, 4, epochs=3, batch_size=16, seed=2)
    assert Vt.dtype == np.float64
    np.testing.assert_allclose(ht, hn, rtol=1e-4)


def test_negative_pair_index_raises_in_both_trainers():
    P = pmi.Pairs([0, -1], [1, 2], [3.0, 4.0], [0.5, 0.25])
    en, mn = _err(pmi.train_simpler_glove, P, 4, 2)
    et, mt = _err(PT.train_simpler_glove, P, 4, 2)
    assert en is et is ValueError and mn == mt == _validate.WORD_INDEX.format("pairs.i", 4, -1, 0)
    P = pmi.Pairs([0, 1], [1, 4], [3.0, 4.0], [0.5, 0.25])
    assert _err(pmi.train_simpler_glove, P, 4, 2) == _err(PT.train_simpler_glove, P, 4, 2)


@pytest.mark.parametrize("kw", [dict(epochs=0), dict(batch_size=0), dict(lr=-0.1), dict(weight=np.ones(3)),
                                dict(epochs=1.5)])
def test_trainer_argument_errors_match(kw):
    P, n = _small_pairs()
    assert _err(pmi.train_simpler_glove, P, n, 3, **kw) == _err(PT.train_simpler_glove, P, n, 3, **kw)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_trainer_on_cuda():
    P, n = _small_pairs()
    kw = dict(epochs=2, batch_size=16, seed=2)
    Vn, hn = pmi.train_simpler_glove(P, n, 4, **kw)
    Vt, ht = PT.train_simpler_glove(P, n, 4, dtype=torch.float64, device="cuda", **kw)
    np.testing.assert_allclose(Vt, Vn, atol=1e-8)
    np.testing.assert_allclose(ht, hn, rtol=1e-8)


def test_simpler_glove_module_on_meta():
    m = PT.SimplerGlove(torch.zeros(5, 2, device="meta"))
    out = m(torch.tensor([0, 1], device="meta"), torch.tensor([2, 3], device="meta"))
    assert out.device.type == "meta" and out.shape == (2,)
