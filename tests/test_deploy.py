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
