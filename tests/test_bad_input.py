"""The ten bad-input cases of the API review: finite input must give a finite, correct answer or a clear error.

Each test names its case.  Oracles: the numpy reference, closed forms (the length of
``squash(x)`` is ``|x|²/(c+|x|²)``), or the definition (a mask, a hard constraint).
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
ops = keras.ops

from kexue.attention import keras as att_keras  # noqa: E402
from kexue.attention import numpy_ref as att_ref  # noqa: E402
from kexue.attention import torch as att_torch  # noqa: E402
from kexue.capsule import keras as caps_keras  # noqa: E402
from kexue.capsule import numpy_ref as caps_ref  # noqa: E402
from kexue.capsule import torch as caps_torch  # noqa: E402
from kexue.crf import numpy_ref as crf_ref  # noqa: E402
from kexue.crf.keras import CRF as KerasCRF  # noqa: E402
from kexue.crf.torch import CRF as TorchCRF  # noqa: E402
from kexue.kmeans import torch as km_torch  # noqa: E402
from kexue.losses import keras as loss_keras  # noqa: E402
from kexue.pmi import numpy_ref as pmi  # noqa: E402


# ----------------------------------------------------------------------------- case 1
def test_case01_kmeans_routing_gradient_is_finite_at_zero():
    u_hat = torch.zeros(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    km_torch.kmeans_routing(u_hat, 3).sum().backward()
    assert torch.isfinite(u_hat.grad).all()
    # and it is the derivative: compare with a central difference in one direction
    d = torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    h = 1e-6
    fd = (km_torch.kmeans_routing(h * d, 3).sum() - km_torch.kmeans_routing(-h * d, 3).sum()) / (2 * h)
    np.testing.assert_allclose(float((u_hat.grad * d).sum()), float(fd), rtol=1e-5, atol=1e-9)


# ----------------------------------------------------------------------------- case 2
def _half_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 8)).astype(np.float16)
    keep = att_ref.length_mask(np.array([5, 0]), 5)          # the second sequence is fully masked
    return x, keep


def test_case02_float16_fully_masked_row_is_finite_torch():
    x, keep = _half_inputs()
    for fused in (False, True):
        layer = att_torch.MultiHeadAttention(2, 4, 8, fused=fused).half()
        out = layer(torch.tensor(x), key_mask=torch.tensor(keep), causal=True)
        assert out.dtype == torch.float16 and torch.isfinite(out).all(), f"fused={fused}"
    q = torch.tensor(x)[:, None]
    out, w = att_torch.scaled_dot_product_attention(q, q, q, mask=torch.tensor(keep)[:, None, None, :])
    assert torch.isfinite(out).all()
    torch.testing.assert_close(w[1].float(), torch.full((1, 5, 5), 0.2), atol=1e-3, rtol=0)  # uniform


def test_case02_float16_fully_masked_row_is_finite_keras():
    x, keep = _half_inputs()
    layer = att_keras.MultiHeadAttention(2, 4, dtype="float16")
    out, w = layer(ops.convert_to_tensor(x), key_mask=ops.convert_to_tensor(keep), return_weights=True)
    out, w = ops.convert_to_numpy(out), ops.convert_to_numpy(w)
    assert out.dtype == np.float16 and np.all(np.isfinite(out))
    np.testing.assert_allclose(w[1].astype(np.float32), 0.2, atol=1e-3)                   # uniform


# ----------------------------------------------------------------------------- case 3
def _unit(a):
    a = a.astype(np.float64)
    m = np.abs(a).max(axis=-1, keepdims=True)
    return (a / m) / np.linalg.norm(a / m, axis=-1, keepdims=True), m[..., 0] * np.linalg.norm(a / m, axis=-1)


@pytest.mark.parametrize("dtype,big", [("float16", 300.0), ("float32", 1e20), ("float64", 1e200)])
def test_case03_squash_does_not_overflow(dtype, big):
    x = np.array([[big, -big, 0.5 * big], [3.0, 4.0, 0.0]], dtype=dtype)
    direction, norm = _unit(x)
    # the length |x|·sqrt(|x|²+eps)/(c+|x|²) (≈ |x|²/(c+|x|²)), c = 0.5, written without |x|²
    expected = np.sqrt(1.0 + caps_ref.EPS / norm / norm) / (1.0 + 0.5 / norm / norm)
    tol = {"float16": 2e-3, "float32": 1e-6, "float64": 1e-12}[dtype]
    outs = {"numpy": caps_ref.squash(x, 0.5),
            "torch": caps_torch.squash(torch.tensor(x), 0.5).numpy(),
            "keras": ops.convert_to_numpy(caps_keras.squash(ops.convert_to_tensor(x), 0.5))}
    for name, out in outs.items():
        assert out.dtype == np.dtype(dtype), name
        assert np.all(np.isfinite(out)), name
        out_dir, length = _unit(out)
        np.testing.assert_allclose(length, expected, rtol=tol, err_msg=name)
        np.testing.assert_allclose(np.sum(out_dir * direction, axis=-1), 1.0, rtol=tol, err_msg=name)


# ----------------------------------------------------------------------------- case 4
def test_case04_keras_center_loss_checks_labels():
    feats = ops.convert_to_tensor(np.zeros((3, 2), np.float32))
    centres = ops.convert_to_tensor(np.arange(8, dtype=np.float32).reshape(4, 2))
    with pytest.raises(ValueError, match=r"label out of range: labels must lie in \[0, 4\), got min -1 and max 1"):
        loss_keras.center_loss(feats, np.array([0, 1, -1]), centres)
    with pytest.raises(ValueError, match="labels must be integer class indices"):
        loss_keras.center_loss(feats, np.array([0.0, 1.7, 2.0]), centres)
    with pytest.raises(ValueError, match="shape mismatch: 2 labels for a batch of 3"):
        loss_keras.center_loss(feats, np.array([0, 1]), centres)


# ----------------------------------------------------------------------------- case 5
def test_case05_zero_word_count_is_refused():
    sentences = [["a", "b", "c"], ["a", "c"]]
    vocab = pmi.build_counted_vocab(sentences)
    X = pmi.cooccurrence(sentences, vocab, window=2)
    counts = vocab.counts.copy()
    counts[vocab.index["b"]] = 0
    with pytest.raises(ValueError, match="co-occurs but has count 0"):
        pmi.pmi_pairs(X, counts)
    with pytest.raises(ValueError, match="co-occurs but has count 0"):
        pmi.ppmi_matrix(X, counts)
    good = pmi.pmi_pairs(X, vocab.counts)
    bad = pmi.Pairs(good.i, good.j, good.x, np.where(np.arange(len(good)) == 0, np.inf, good.pmi))
    with pytest.raises(ValueError, match="NaN or infinite"):
        pmi.train_simpler_glove(bad, len(vocab), 2, epochs=1)


# ----------------------------------------------------------------------------- case 6
def test_case06_crf_decode_never_takes_a_forbidden_move():
    allowed, a_start, a_end = crf_ref.sbme_constraints()
    em = np.zeros((1, 6, 4), np.float32)
    em[0, :, 2] = 3e9                      # m everywhere: every move to/from m from s/e is forbidden
    mask = np.ones((1, 6), bool)
    ref = crf_ref.batch_viterbi(em, mask, np.zeros((4, 4)), allowed=allowed, allowed_start=a_start,
                                allowed_end=a_end)
    assert crf_ref.count_illegal(ref[0]) == 0
    tc = TorchCRF(4)
    with torch.no_grad():
        tc.trans.zero_()
    kc = KerasCRF(4)
    kc.build((None, None, 4))
    kc.trans.assign(np.zeros((4, 4), np.float32))
    paths = {"torch": tc.decode(torch.tensor(em), allowed=torch.tensor(allowed), allowed_start=torch.tensor(a_start),
                                allowed_end=torch.tensor(a_end)).numpy(),
             "keras": kc.decode(em, allowed=allowed, allowed_start=a_start, allowed_end=a_end)}
    for name, p in paths.items():
        assert crf_ref.count_illegal(p[0]) == 0, name
        np.testing.assert_array_equal(p, ref, err_msg=name)


# ----------------------------------------------------------------------------- case 7
def test_case07_mask_holds_against_very_negative_logits():
    rng = np.random.default_rng(1)
    q = np.abs(rng.normal(size=(1, 3, 4))) + 0.1                  # positive, so <q_i, k_0> < 0 below
    k = rng.normal(size=(1, 3, 4))
    v = rng.normal(size=(1, 3, 2))
    k[0, 0] = -1e12                                                # the kept key's real logits: about -1e12
    mask = np.broadcast_to(np.array([True, False, False]), (1, 3, 3))
    expected = np.broadcast_to(v[0, 0], (3, 2))                    # only key 0 is kept
    out_np, _ = att_ref.scaled_dot_product_attention(q, k, v, mask=mask)
    out_t, _ = att_torch.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                                      mask=torch.tensor(mask))
    np.testing.assert_allclose(out_np[0], expected, atol=1e-12)
    np.testing.assert_allclose(out_t.numpy()[0], expected, atol=1e-12)
    x = np.abs(rng.normal(size=(1, 3, 4))) + 0.1
    key_mask = np.array([[True, False, False]])
    lt = att_torch.MultiHeadAttention(1, 4, 4, fused=True).double()
    lk = att_keras.MultiHeadAttention(1, 4, dtype="float64")
    lk(x)
    for layer in (lt, lk):
        layer.load_numpy(np.eye(4), -1e12 * np.eye(4), np.eye(4))
    # every query sees key 0 only, so every output row is v_0 = x_0
    outs = {"torch fused": lt(torch.tensor(x), key_mask=torch.tensor(key_mask)).detach().numpy(),
            "keras": ops.convert_to_numpy(lk(x, key_mask=key_mask))}
    for name, out in outs.items():
        np.testing.assert_allclose(out[0], np.broadcast_to(x[0, 0], (3, 4)), atol=1e-9, err_msg=name)


# ----------------------------------------------------------------------------- case 8
@pytest.mark.parametrize("c", [0.0, -1.0, float("nan")])
def test_case08_squash_constant_must_be_positive(c):
    x = np.ones((2, 3, 4, 5))
    msg = "the squash constant c must be a finite number > 0"
    calls = [lambda: caps_ref.squash(x, c), lambda: caps_ref.dynamic_routing(x, 3, "post", squash_c=c),
             lambda: caps_torch.squash(torch.tensor(x), c),
             lambda: caps_torch.dynamic_routing(torch.tensor(x), 3, "post", squash_c=c),
             lambda: caps_keras.squash(ops.convert_to_tensor(x), c),
             lambda: caps_keras.dynamic_routing(ops.convert_to_tensor(x), 3, "post", squash_c=c),
             lambda: caps_torch.Capsule(5, 2, 3, squash_c=c), lambda: caps_keras.Capsule(2, 3, squash_c=c),
             lambda: km_torch.kmeans_routing(torch.tensor(x), 2, squash_c=c)]
    for call in calls:
        with pytest.raises(ValueError, match=msg):
            call()


# ----------------------------------------------------------------------------- case 9
def test_case09_keras_crf_nll_refuses_float_tags():
    crf = KerasCRF(3)
    em = np.zeros((2, 4, 3), np.float32)
    with pytest.raises(ValueError, match="tags must be integers, got dtype float32"):
        crf.nll(em, np.full((2, 4), 1.5, np.float32))
    with pytest.raises(ValueError, match="tags must be integers, got dtype float"):
        crf_ref.path_score(em[0], np.full(4, 1.5), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="tags must be integers, got dtype torch.float32"):
        TorchCRF(3).nll(torch.tensor(em), torch.full((2, 4), 1.5))


# ----------------------------------------------------------------------------- case 10
def test_case10_build_vocab_checks_every_sentence():
    sentences = [["a", "b"]] * 6 + ["a sentence given as a string"]
    with pytest.raises(ValueError, match="each sentence must be a list of words, not a string"):
        pmi.build_counted_vocab(sentences)
    with pytest.raises(ValueError, match="words must be strings"):
        pmi.build_counted_vocab([["a", "b"]] * 6 + [["a", 3]])
