"""Property-based equivalence: numpy reference ≡ PyTorch ≡ Keras on drawn shapes, masks, dtypes and magnitudes.

Hypothesis draws the inputs; the numpy reference in float64 is the oracle; each
framework runs in the drawn dtype and is compared with a tolerance for that dtype.
Profile ``kexue`` (the default here): few examples per test, no deadline, so that the
whole file stays well under two minutes on one core; ``HYPOTHESIS_PROFILE=thorough``
runs ten times more.
"""
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ops = keras.ops

from kexue import text  # noqa: E402,F401
from kexue.activations import keras as act_keras  # noqa: E402
from kexue.activations import numpy_ref as act_ref  # noqa: E402
from kexue.activations import torch as act_torch  # noqa: E402
from kexue.attention import keras as att_keras  # noqa: E402
from kexue.attention import numpy_ref as att_ref  # noqa: E402
from kexue.attention import torch as att_torch  # noqa: E402
from kexue.capsule import keras as caps_keras  # noqa: E402
from kexue.capsule import numpy_ref as caps_ref  # noqa: E402
from kexue.capsule import torch as caps_torch  # noqa: E402
from kexue.crf import numpy_ref as crf_ref  # noqa: E402
from kexue.crf.keras import CRF as KerasCRF  # noqa: E402
from kexue.crf.torch import CRF as TorchCRF  # noqa: E402
from kexue.kmeans import numpy_ref as km_ref  # noqa: E402
from kexue.kmeans import torch as km_torch  # noqa: E402
from kexue.losses import keras as loss_keras  # noqa: E402
from kexue.losses import numpy_ref as loss_ref  # noqa: E402
from kexue.losses import torch as loss_torch  # noqa: E402
from kexue.pmi import numpy_ref as pmi_ref  # noqa: E402
from kexue.pmi import torch as pmi_torch  # noqa: E402
from kexue.saliency import numpy_ref as sal_ref  # noqa: E402

settings.register_profile("kexue", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=120, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "kexue"))

pytestmark = [pytest.mark.hypothesis,
              pytest.mark.filterwarnings("ignore:You are using a softmax over axis:UserWarning")]  # k = 1 or Tk = 1 is drawn on purpose

TOL = {"float16": 2e-2, "float32": 2e-5, "float64": 1e-10}
DTYPES = st.sampled_from(["float32", "float64"])


def arrays(draw, shape, scale=1.0, seed_max=2**31 - 1):
    """A normal array of ``shape`` from a drawn seed (hypothesis shrinks the seed, not each number)."""
    rng = np.random.default_rng(draw(st.integers(0, seed_max)))
    return rng.normal(size=shape) * scale


def assert_close(got, want, dtype, what=""):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    tol = TOL[dtype]
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max(initial=0))),
                               err_msg=what)


def keras_np(x):
    return np.asarray(ops.convert_to_numpy(x))


# ----------------------------------------------------------------------------- attention
@given(st.data(), st.sampled_from(["float16", "float32", "float64"]))
def test_attention_numpy_torch_keras(data, dtype):
    b, tq, tk, d = (data.draw(st.integers(1, n)) for n in (3, 5, 6, 8))
    heads = data.draw(st.sampled_from([1, 2]))
    scale = data.draw(st.sampled_from([0.1, 1.0, 10.0]))
    x = arrays(data.draw, (b, tq, 4 * heads)) * scale
    lengths = np.array(data.draw(st.lists(st.integers(0, tq), min_size=b, max_size=b)))
    key_mask = att_ref.length_mask(lengths, tq)              # length 0: a fully masked row
    causal = data.draw(st.booleans())
    w = [arrays(data.draw, (4 * heads, 2 * heads)) / 2 for _ in range(3)]
    ref = att_ref.multi_head_attention(x, x, x, *w, heads, key_mask=key_mask, causal=causal)
    xd = x.astype(dtype)
    for fused in (False, True):
        lt = att_torch.MultiHeadAttention(heads, 2, 4 * heads, fused=fused).to(getattr(torch, dtype))
        lt.load_numpy(*w)
        out = lt(torch.tensor(xd), key_mask=torch.tensor(key_mask), causal=causal).detach()
        assert torch.isfinite(out).all()
        assert_close(out.numpy(), ref, dtype, f"torch fused={fused}")
    lk = att_keras.MultiHeadAttention(heads, 2, dtype=dtype)
    lk(xd)
    lk.load_numpy(*w)
    out = keras_np(lk(xd, key_mask=key_mask, causal=causal))
    assert np.all(np.isfinite(out))
    assert_close(out, ref, dtype, "keras")
    # the core op on its own, with an arbitrary (broadcast) mask
    q, k, v = (arrays(data.draw, (b, t, d)) * scale for t in (tq, tk, tk))
    mask = np.random.default_rng(data.draw(st.integers(0, 99))).random((b, tq, tk)) < 0.6
    ref_o, ref_w = att_ref.scaled_dot_product_attention(q, k, v, mask=mask)
    o, wt = att_torch.scaled_dot_product_attention(*(torch.tensor(a.astype(dtype)) for a in (q, k, v)),
                                                   mask=torch.tensor(mask))
    assert_close(wt.numpy(), ref_w, dtype, "torch weights")
    assert_close(o.numpy(), ref_o, dtype, "torch output")


# ----------------------------------------------------------------------------- capsule routing and squash
@given(st.data(), st.sampled_from(["float16", "float32", "float64"]))
def test_squash_numpy_torch_keras(data, dtype):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    top = {"float16": 4, "float32": 30, "float64": 250}[dtype]
    exponent = data.draw(st.integers(-3, top))
    x = arrays(data.draw, shape) * 10.0**exponent
    x = np.clip(x, -np.finfo(dtype).max / 4, np.finfo(dtype).max / 4).astype(dtype)
    c = data.draw(st.sampled_from([0.5, 1.0, 3.0]))
    ref = caps_ref.squash(x.astype(np.float64), c)
    outs = {"numpy": caps_ref.squash(x, c), "torch": caps_torch.squash(torch.tensor(x), c).numpy(),
            "keras": keras_np(caps_keras.squash(ops.convert_to_tensor(x), c))}
    for name, out in outs.items():
        assert out.dtype == np.dtype(dtype) and np.all(np.isfinite(out)), name
        assert np.all(np.linalg.norm(out.astype(np.float64), axis=-1) < 1 + TOL[dtype]), name
        assert_close(out, ref, dtype, name)


@given(st.data(), DTYPES, st.sampled_from(sorted(caps_ref.ROUTINGS)))
def test_dynamic_routing_numpy_torch_keras(data, dtype, routing):
    b, k, n, d = (data.draw(st.integers(1, m)) for m in (2, 4, 6, 5))
    routings = data.draw(st.integers(1, 4))
    u_hat = arrays(data.draw, (b, k, n, d)) * data.draw(st.sampled_from([0.01, 1.0, 100.0]))
    v_ref, c_ref = caps_ref.dynamic_routing(u_hat, routings, routing)
    v_t, c_t = caps_torch.dynamic_routing(torch.tensor(u_hat.astype(dtype)), routings, routing)
    v_k, c_k = caps_keras.dynamic_routing(ops.convert_to_tensor(u_hat.astype(dtype)), routings, routing)
    for name, v, c in (("torch", v_t.numpy(), c_t.numpy()), ("keras", keras_np(v_k), keras_np(c_k))):
        # float32 routing amplifies rounding through the softmax of large agreements: looser tolerance
        tol_dtype = "float16" if dtype == "float32" and np.abs(u_hat).max() > 10 else dtype
        assert_close(v, v_ref, tol_dtype, f"{name} v")
        assert_close(c, c_ref, tol_dtype, f"{name} c")


# ----------------------------------------------------------------------------- kmeans routing
@given(st.data())
def test_kmeans_routing_numpy_torch(data):
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 6)),
             data.draw(st.integers(1, 4)))
    u_hat = arrays(data.draw, shape) * data.draw(st.sampled_from([1e-3, 1.0, 1e3]))
    r = data.draw(st.integers(0, 4))
    K = data.draw(st.sampled_from([0.5, 1.0, 4.0]))
    ref = km_ref.kmeans_routing(u_hat, r, K)
    got = km_torch.kmeans_routing(torch.tensor(u_hat), r, K).numpy()
    assert_close(got, ref, "float64")
    if K == 1.0:
        assert_close(km_ref.kmeans_routing_code(u_hat, r + 1), ref, "float64", "code form = derived form (K = 1)")


# ----------------------------------------------------------------------------- CRF
@given(st.data())
def test_crf_nll_and_decode_numpy_torch_keras(data):
    b, t, k = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    scale = data.draw(st.sampled_from([0.1, 1.0, 30.0]))
    em = arrays(data.draw, (b, t, k)) * scale
    lengths = np.array(data.draw(st.lists(st.integers(1, t), min_size=b, max_size=b)))
    mask = np.arange(t)[None] < lengths[:, None]
    rng = np.random.default_rng(data.draw(st.integers(0, 999)))
    tags = rng.integers(0, k, size=(b, t))
    trans = rng.normal(size=(k, k))
    allowed = rng.random((k, k)) < 0.7
    np.fill_diagonal(allowed, True)     # staying on one tag is legal: a legal path always exists
    ref_nll = crf_ref.batch_nll(em, tags, mask, trans)
    ref_path = crf_ref.batch_viterbi(em, mask, trans, allowed=allowed)
    tc = TorchCRF(k).double()
    with torch.no_grad():
        tc.trans.copy_(torch.tensor(trans))
    kc = KerasCRF(k, dtype="float64")
    kc.build((None, None, k))
    kc.trans.assign(trans)
    assert_close(tc.nll(torch.tensor(em), torch.tensor(tags), torch.tensor(mask)).detach().numpy(), ref_nll,
                 "float64", "torch nll")
    assert_close(keras_np(kc.nll(em, tags, mask)), ref_nll, "float64", "keras nll")
    np.testing.assert_array_equal(tc.decode(torch.tensor(em), torch.tensor(mask), allowed=torch.tensor(allowed)).numpy(),
                                  ref_path)
    np.testing.assert_array_equal(keras_np(kc.decode(em, mask, allowed=allowed)), ref_path)
    for i, n in enumerate(lengths):     # no forbidden move in any decoded path
        assert crf_ref.count_illegal(ref_path[i, :n], allowed) == 0


# ----------------------------------------------------------------------------- losses
@given(st.data(), DTYPES)
def test_losses_numpy_torch_keras(data, dtype):
    b, n, d = data.draw(st.integers(1, 6)), data.draw(st.integers(2, 5)), data.draw(st.integers(1, 4))
    logits = arrays(data.draw, (b, n)) * data.draw(st.sampled_from([0.1, 1.0, 50.0]))
    rng = np.random.default_rng(data.draw(st.integers(0, 999)))
    labels = rng.integers(0, n, size=b)
    eps = data.draw(st.sampled_from([0.0, 0.1, 0.5]))
    ref = loss_ref.mixed_cross_entropy(logits, labels, eps)
    got_t = loss_torch.mixed_cross_entropy(torch.tensor(logits.astype(dtype)), torch.tensor(labels), eps,
                                           reduction="none")
    got_k = loss_keras.make_mixed_crossentropy(eps, from_logits=True)(np.eye(n, dtype=dtype)[labels],
                                                                       ops.convert_to_tensor(logits.astype(dtype)))
    assert_close(got_t.numpy(), ref, dtype, "torch mixed CE")
    assert_close(keras_np(got_k), ref, dtype, "keras mixed CE")
    feats, centres = arrays(data.draw, (b, d)), arrays(data.draw, (n, d))
    ref = loss_ref.center_loss(feats, labels, centres)
    got_t = loss_torch.center_loss(torch.tensor(feats.astype(dtype)), torch.tensor(labels),
                                   torch.tensor(centres.astype(dtype)), reduction="none")
    got_k = loss_keras.center_loss(ops.convert_to_tensor(feats.astype(dtype)), labels,
                                   ops.convert_to_tensor(centres.astype(dtype)))
    assert_close(got_t.numpy(), ref, dtype, "torch center loss")
    assert_close(keras_np(got_k), ref, dtype, "keras center loss")


# ----------------------------------------------------------------------------- activations
@given(st.data(), DTYPES, st.sampled_from(act_ref.NAMES))
def test_activations_numpy_torch_keras(data, dtype, name):
    shape = tuple(data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=2)))
    x = (arrays(data.draw, shape) * 10.0 ** data.draw(st.integers(-2, 3))).astype(dtype)
    ref = act_ref.activation(name, x.astype(np.float64))
    dref = act_ref.derivative(name, x.astype(np.float64))
    assert_close(act_torch.activation(name, torch.tensor(x)).numpy(), ref, dtype, "torch value")
    assert_close(keras_np(act_keras.activation(name, ops.convert_to_tensor(x))), ref, dtype, "keras value")
    assert_close(act_torch.derivative(name, torch.tensor(x)).numpy(), dref, dtype, "torch derivative")


# ----------------------------------------------------------------------------- PMI trainer
@given(st.data())
def test_simpler_glove_numpy_torch(data):
    n_words, rank = data.draw(st.integers(3, 8)), data.draw(st.integers(1, 2))
    _, pairs = pmi_ref.planted_pmi(n_words, rank, seed=data.draw(st.integers(0, 99)))
    batch = data.draw(st.sampled_from([None, 4]))
    kwargs = dict(epochs=3, batch_size=batch, lr=0.1, seed=data.draw(st.integers(0, 9)))
    V, hist = pmi_ref.train_simpler_glove(pairs, n_words, rank, **kwargs)
    Vt, hist_t = pmi_torch.train_simpler_glove(pairs, n_words, rank, dtype=torch.float64, **kwargs)
    assert_close(Vt, V, "float64", "vectors")
    assert_close(hist_t, hist, "float64", "losses")


# ----------------------------------------------------------------------------- saliency
@given(st.data())
def test_lstm_states_numpy_torch(data):
    n, d_in, u = data.draw(st.integers(1, 7)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = arrays(data.draw, (n, d_in)) * data.draw(st.sampled_from([0.1, 1.0, 10.0]))
    W, U, b = arrays(data.draw, (d_in, 4 * u)), arrays(data.draw, (u, 4 * u)), arrays(data.draw, (4 * u,))
    mask = np.random.default_rng(data.draw(st.integers(0, 99))).random(n) < 0.8
    mask[-1] = True
    ref = sal_ref.lstm_states(x, W, U, b, mask=mask)
    lstm = torch.nn.LSTM(d_in, u, batch_first=True).double()
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(W.T))
        lstm.weight_hh_l0.copy_(torch.tensor(U.T))
        lstm.bias_ih_l0.copy_(torch.tensor(b))
        lstm.bias_hh_l0.zero_()
        real, _ = lstm(torch.tensor(x[mask])[None])            # the states at the kept steps
    assert_close(real[0].numpy(), ref[mask], "float64", "torch LSTM = numpy LSTM at kept steps")
    scores = sal_ref.trajectory_scores(ref, mask=mask, normalize=False)
    assert_close(scores.sum(), np.linalg.norm(ref[mask][-1]), "float64", "scores telescope to |h_n|")
