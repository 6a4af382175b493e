"""Deployment: tensors stay on the input's device, ``torch.compile`` = eager, the CRF scripts with TorchScript.

No GPU is needed for the device check: every call runs with the *default* device set
to ``meta`` while its inputs and parameters live on the CPU.  A tensor created
without ``device=`` then lands on ``meta``, and the call either fails (CPU and meta
tensors do not mix) or returns a meta result; both fail the test.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from kexue.activations import torch as act  # noqa: E402
from kexue.attention import torch as att  # noqa: E402
from kexue.capsule import torch as caps  # noqa: E402
from kexue.crf import numpy_ref as crf_ref  # noqa: E402
from kexue.crf.torch import CRF  # noqa: E402
from kexue.kmeans import torch as km  # noqa: E402
from kexue.losses import torch as losses  # noqa: E402


def _cases():
    """``name -> (function of no arguments, returning a tensor or a tuple of tensors)``, inputs built now, on the CPU."""
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    q, k, v = r(2, 3, 5, 4), r(2, 3, 6, 4), r(2, 3, 6, 2)
    mask = torch.tensor([[True] * 6, [True, True, False, False, False, False]])[:, None, None, :]
    empty = torch.zeros(2, 1, 5, 6, dtype=torch.bool)
    x = r(2, 6, 8)
    key_mask = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    mha = {f: att.MultiHeadAttention(2, 3, 8, out_dim=5, fused=f).double() for f in (False, True)}
    pos = att.PositionEmbedding("concat", size=4)
    clf = att.AttentionClassifier(20, dim=8, heads=2, size_per_head=4, dropout=0.0).eval()
    tokens = torch.tensor([[3, 4, 5, 0], [6, 0, 0, 0]])
    u_hat, u = r(2, 3, 5, 4), r(2, 5, 6)
    layer = caps.Capsule(6, 3, 4, routing="kmeans").double()
    y = torch.eye(3, dtype=torch.float64)[[0, 2]]
    p = torch.rand(2, 3, generator=g, dtype=torch.float64)
    em, tags = r(2, 5, 4), torch.randint(0, 4, (2, 5), generator=g)
    crf_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    crf = CRF(4, start_end=True).double()
    allowed, a_start, a_end = (torch.tensor(a) for a in crf_ref.sbme_constraints())
    logits, labels = r(4, 3), torch.tensor([0, 2, 1, 2])
    feats, centers = r(4, 2), r(3, 2)
    pts, cent = r(7, 2), r(3, 2)
    return {
        "attention.scaled_dot_product_attention": lambda: att.scaled_dot_product_attention(q, k, v, mask=mask),
        "attention.scaled_dot_product_attention (fully masked rows)":
            lambda: att.scaled_dot_product_attention(q, k, v, mask=empty),
        "attention.MultiHeadAttention explicit": lambda: mha[False](x, key_mask=key_mask, causal=True),
        "attention.MultiHeadAttention fused": lambda: mha[True](x, key_mask=key_mask, causal=True),
        "attention.PositionEmbedding": lambda: pos(x),
        "attention.AttentionClassifier": lambda: clf(tokens),
        "capsule.squash": lambda: caps.squash(1e3 * u_hat, 0.5),
        "capsule.dynamic_routing": lambda: caps.dynamic_routing(u_hat, 3, "hinton"),
        "capsule.Capsule": lambda: layer(u, return_couplings=True),
        "capsule.margin_loss": lambda: caps.margin_loss(y, p),
        "crf.CRF.nll": lambda: crf.nll(em, tags, crf_mask),
        "crf.CRF.decode": lambda: crf.decode(em, crf_mask, allowed=allowed, allowed_start=a_start, allowed_end=a_end),
        "kmeans.kmeans_routing": lambda: km.kmeans_routing(u_hat, 3, K=2.0),
        "kmeans.routing_clustering_loss": lambda: km.routing_clustering_loss(u_hat, u_hat.sum(-2), 2.0),
        "kmeans.soft_kmeans_step": lambda: km.soft_kmeans_step(pts, cent, 3.0),
        "kmeans.soft_kmeans_loss": lambda: km.soft_kmeans_loss(pts, cent, 3.0),
        "losses.mixed_cross_entropy": lambda: losses.mixed_cross_entropy(logits, labels, 0.1, reduction="none"),
        "losses.center_loss": lambda: losses.center_loss(feats, labels, centers, reduction="none"),
        "activations.xmin": lambda: act.activation("xmin", 100 * logits),
        "activations.derivative": lambda: act.derivative("swish", logits),
    }


CASES = _cases()


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("name", list(CASES))
def test_tensors_are_created_on_the_input_device(name):
    expected = [t.detach().clone() for t in _flat(CASES[name]())]
    with torch.device("meta"):
        got = _flat(CASES[name]())
    assert [t.device.type for t in got] == ["cpu"] * len(got)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.detach(), b, rtol=0, atol=0)


def test_the_device_check_can_fail():
    def creates_on_default_device(x):
        return x + torch.zeros(x.shape[-1])            # no device=: the bug this file looks for

    x = torch.ones(3)
    with torch.device("meta"), pytest.raises(RuntimeError):
        out = creates_on_default_device(x)
        assert out.device.type == "cpu"                 # meta result: also a failure
        raise AssertionError("unreachable")


# ----------------------------------------------------------------------------- torch.compile
@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("activations.derivative")])
def test_torch_compile_matches_eager(name):
    """``torch.compile`` (backend ``aot_eager``: the compiled graph without inductor's codegen) = eager.

    Tolerance 1e-12 in float64 (the graphs run the same kernels; only fusion order may differ).
    """
    torch._dynamo.reset()
    fn = CASES[name]
    expected = _flat(fn())
    got = _flat(torch.compile(fn, backend="aot_eager")())
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- TorchScript
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_crf_scripts_and_matches_eager():
    g = torch.Generator().manual_seed(3)
    crf = CRF(4, start_end=True)
    scripted = torch.jit.script(crf)
    em = torch.randn(3, 6, 4, generator=g)
    tags = torch.randint(0, 4, (3, 6), generator=g)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] + [0] * 5], dtype=torch.bool)
    allowed, a_start, a_end = (torch.tensor(a) for a in crf_ref.sbme_constraints())
    torch.testing.assert_close(scripted(em, tags, mask), crf(em, tags, mask), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(scripted.nll(em, tags, mask), crf.nll(em, tags, mask), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(scripted.decode(em, mask), crf.decode(em, mask), rtol=0, atol=0)
    torch.testing.assert_close(scripted.decode(em, mask, allowed, a_start, a_end),
                               crf.decode(em, mask, allowed=allowed, allowed_start=a_start, allowed_end=a_end),
                               rtol=0, atol=0)
    # the scripted module is differentiable and validates its input like the eager one
    scripted(em, tags, mask).backward()
    assert crf.trans.grad is not None and torch.isfinite(crf.trans.grad).all()
    with pytest.raises(Exception, match="tags must be integers"):
        scripted.nll(em, tags.float(), mask)
    with pytest.raises(Exception, match="mask has a gap"):
        scripted.nll(em, tags, torch.tensor([[1, 0, 1, 1, 1, 1]] * 3, dtype=torch.bool))


def test_crf_decode_matches_numpy_viterbi_with_constraints():
    rng = np.random.default_rng(5)
    crf = CRF(4, start_end=True).double()
    em = rng.normal(size=(4, 7, 4)) * np.array([1, 1, 1e6, 1])     # huge emissions for "m"
    mask = np.arange(7)[None] < np.array([7, 5, 2, 1])[:, None]
    allowed, a_start, a_end = crf_ref.sbme_constraints()
    ref = crf_ref.batch_viterbi(em, mask, crf.trans.detach().numpy(), crf.start.detach().numpy(),
                                crf.end.detach().numpy(), allowed, a_start, a_end)
    got = crf.decode(torch.tensor(em), torch.tensor(mask), allowed=torch.tensor(allowed),
                     allowed_start=torch.tensor(a_start), allowed_end=torch.tensor(a_end)).numpy()
    np.testing.assert_array_equal(got, ref)


# ----------------------------------------------------------------------------- experiment helpers
def _tiny_experiments():
    """``name -> function of no arguments`` running one experiment helper at a tiny scale on the CPU.

    A helper that builds its model seeds it itself; for a helper that receives a model, the
    model is built (seeded) inside the function, so every call starts from the same weights.
    """
    from kexue.activations import experiment as act_ex
    from kexue.attention import experiment as att_ex
    from kexue.capsule import experiment as caps_ex
    from kexue.crf import experiment as crf_ex
    from kexue.losses import experiment as loss_ex
    from kexue.pmi import numpy_ref as pmi_ref
    from kexue.pmi import torch as pmi_torch
    from kexue.saliency import torch as sal
    from kexue.seed import seed_everything

    rng = np.random.default_rng(0)
    img, lab = rng.integers(0, 256, size=(16, 28, 28), dtype=np.uint8), rng.integers(0, 3, size=16)
    small, small_lab = rng.normal(size=(16, 8, 8)).astype(np.float32), rng.integers(0, 3, size=16)
    chunks = [(rng.integers(1, 20, size=n), rng.integers(0, 4, size=n)) for n in (5, 3, 4, 6)]
    ids = np.zeros((8, 6), dtype=np.int64)
    for i, n in enumerate([6, 3, 4, 2, 5, 6, 1, 3]):
        ids[i, :n] = rng.integers(1, 30, size=n)
    y01 = np.array([0, 1] * 4)
    seqs = [row[row > 0] for row in ids]
    cfg = caps_ex.Config(n_train=16, n_test=8, width=0.125, epochs_cnn=1, epochs_caps=1, batch_size=8,
                         lr=1e-3, routing="post", seed=0, threads=1)
    pairs = pmi_ref.Pairs(i=np.array([0, 1, 2, 3]), j=np.array([1, 2, 3, 4]), x=np.array([5.0, 3.0, 2.0, 1.0]),
                          pmi=np.array([0.5, -0.2, 0.1, 0.3]))

    def lstm():                                   # a caller builds its model on the CPU
        seed_everything(0, frameworks=["torch"])
        with torch.device("cpu"):
            return sal.SentimentLSTM(30, embed_dim=4, units=4, dropout=0.0)

    def tagger():
        seed_everything(0, frameworks=["torch"])
        with torch.device("cpu"):
            return crf_ex.Tagger(20, use_crf=True, dim=4, channels=4, layers=1)

    def attention():
        seed_everything(0, frameworks=["torch"])
        with torch.device("cpu"):
            return att.AttentionClassifier(30, dim=8, heads=2, size_per_head=4, dropout=0.0)

    def capsule_net():
        model = caps_ex.build_model("caps", cfg)
        caps_ex.train_capsule_net(model, img[:, :, :].astype(np.float32) / 255, lab, 1, cfg)
        return caps_ex.capsule_lengths(model, img[:8].astype(np.float32) / 255)

    def review():
        model = attention()
        hist = att_ex.train_review_classifier(model, ids, y01, ids, y01, epochs=1, batch_size=4)
        return hist.steps, att_ex.review_probabilities(model, ids)

    def sentiment():
        model = lstm()
        rows = sal.train_sentiment_lstm(model, seqs, y01, epochs=1, batch_size=4, desc=None)
        return rows, sal.sentiment_probabilities(model, seqs)

    def saliency_scores():
        model = lstm()
        return (sal.hidden_states(model, seqs[0]), sal.occlusion_scores(model, seqs[0]),
                sal.grad_x_input(model, seqs[0]), sal.integrated_gradients(model, seqs[0], n_steps=4).scores,
                sal.batch_hidden_states(model, seqs))

    def tags():
        model = tagger()
        losses_ = crf_ex.train_tagger(model, chunks, epochs=1, batch_size=2, desc=None)
        return losses_, crf_ex.segment(model, ["天天向上", "好"], {ch: i + 2 for i, ch in enumerate("天向上好")})

    return {
        "losses.experiment.train_feature_net": lambda: loss_ex.train_feature_net(
            "center", img, lab, img, lab, seed=0, epochs=1, batch_size=8).features,
        "activations.experiment.train_mlp": lambda: act_ex.train_mlp(
            "xmin", small, small_lab, small, small_lab, hidden=(4,), epochs=1, batch_size=8),
        "crf.experiment.train_tagger + segment": tags,
        "attention.experiment.train_review_classifier + review_probabilities": review,
        "capsule.experiment.train_capsule_net + capsule_lengths": capsule_net,
        "saliency.torch.train_sentiment_lstm + sentiment_probabilities": sentiment,
        "saliency.torch hidden states and scores": saliency_scores,
        "pmi.torch.train_simpler_glove": lambda: pmi_torch.train_simpler_glove(pairs, 5, 3, epochs=2, batch_size=2),
    }


EXPERIMENTS = _tiny_experiments()


def _equal(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _equal(x, y)
    elif isinstance(a, str):
        assert a == b
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_experiment_helpers_create_their_tensors_on_the_models_device(name):
    """Run once normally, once with the default device set to ``meta``: a tensor made without
    ``device=`` would land on meta and fail (or change the result); the results must be identical."""
    expected = EXPERIMENTS[name]()
    with torch.device("meta"):
        got = EXPERIMENTS[name]()
    _equal(got, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_experiment_helpers_run_on_cuda():
    from kexue.saliency import torch as sal

    model = sal.SentimentLSTM(30, embed_dim=4, units=4, dropout=0.0)
    seqs = [np.array([1, 2, 3]), np.array([4, 5])]
    sal.train_sentiment_lstm(model, seqs, np.array([0, 1]), epochs=1, batch_size=2, desc=None, device="cuda")
    assert next(model.parameters()).device.type == "cuda"
    assert sal.sentiment_probabilities(model, seqs).shape == (2,)
