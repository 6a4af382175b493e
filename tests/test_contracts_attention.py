"""Chapter 06 contracts: one signature per twin, one message per bad input, serialisation, devices.

The numpy reference (:mod:`kexue.attention.numpy_ref`) is the specification; the PyTorch
and Keras twins must take the same arguments, refuse the same inputs with the same
message, and compute the same values.
"""
from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from kexue import _validate
from kexue.attention import numpy_ref as ref

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
from kexue.attention import experiment as ae  # noqa: E402
from kexue.attention import keras as ak  # noqa: E402
from kexue.attention import torch as at  # noqa: E402

TWIN_FUNCTIONS = ["check_mask", "masked_logits", "length_mask", "causal_mask", "scaled_dot_product_attention",
                  "sinusoidal_position_embedding"]
TORCH_ONLY_KEYWORDS = {"dtype", "device"}          # allowed torch-only keyword-only extras


def _params(fn, drop=()):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()
            if p.name not in drop and p.name != "self" and p.kind is not p.VAR_KEYWORD]


# ----------------------------------------------------------------------------- signatures
@pytest.mark.parametrize("name", TWIN_FUNCTIONS)
def test_function_twins_share_their_signature(name):
    spec = _params(getattr(ref, name))
    torch_extra = [p for p in _params(getattr(at, name)) if p[0] in TORCH_ONLY_KEYWORDS]
    assert all(kind is inspect.Parameter.KEYWORD_ONLY for _, kind, _ in torch_extra)
    assert _params(getattr(at, name), TORCH_ONLY_KEYWORDS) == spec
    assert _params(getattr(ak, name)) == spec


def test_layer_twins_share_their_signatures():
    # constructors: torch needs in_dim (PyTorch sizes layers at construction) and has the fused switch
    assert _params(at.MultiHeadAttention.__init__, {"in_dim", "fused"}) == _params(ak.MultiHeadAttention.__init__)
    fused = inspect.signature(at.MultiHeadAttention.__init__).parameters["fused"]
    assert fused.kind is inspect.Parameter.KEYWORD_ONLY
    assert _params(at.MultiHeadAttention.forward) == _params(ak.MultiHeadAttention.call)
    assert _params(at.MultiHeadAttention.load_numpy) == _params(ak.MultiHeadAttention.load_numpy)
    assert _params(at.PositionEmbedding.__init__) == _params(ak.PositionEmbedding.__init__)
    assert _params(at.PositionEmbedding.forward) == _params(ak.PositionEmbedding.call)


def test_experiment_names_and_keywords():
    assert not hasattr(ae, "predict_proba") and not hasattr(ae, "train_classifier")
    assert "train_lib" not in vars(ae)
    # a helper that builds its model trains on the CPU by default; one that receives a model
    # trains where the model is (device=None, kexue.train.place_model)
    for fn, default in ((ae.train_review_classifier, None), (ae.train_order_task, None),
                        (ae.run_review_config, "cpu")):
        p = inspect.signature(fn).parameters["device"]
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default == default


# ----------------------------------------------------------------------------- sinusoidal position embedding
@pytest.mark.parametrize("layout", ref.LAYOUTS)
@pytest.mark.parametrize("start", [0, 7, -3, 5000])
def test_position_embedding_three_frameworks_agree(layout, start):
    spec = ref.sinusoidal_position_embedding(13, 10, layout, 100.0, start)
    # an independent formula: position p, frequency i
    p = np.arange(start, start + 13)[:, None]
    w = 100.0 ** (-2 * np.arange(5) / 10)
    inter = np.empty((13, 10))
    inter[:, 0::2], inter[:, 1::2] = np.sin(p * w), np.cos(p * w)
    perm = {"interleaved": np.arange(10), "cos_sin": np.r_[1:10:2, 0:10:2], "sin_cos": np.r_[0:10:2, 1:10:2]}
    np.testing.assert_allclose(spec, inter[:, perm[layout]], atol=1e-12)
    assert spec.dtype == np.float64
    t64 = at.sinusoidal_position_embedding(13, 10, layout, 100.0, start, dtype=torch.float64)
    np.testing.assert_allclose(t64.numpy(), spec, atol=1e-12)
    t = at.sinusoidal_position_embedding(13, 10, layout, 100.0, start)
    assert t.dtype == torch.get_default_dtype()
    k = ak.sinusoidal_position_embedding(13, 10, layout, 100.0, start)
    assert keras.backend.standardize_dtype(k.dtype) == keras.config.floatx()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(k), spec, atol=1e-6)   # computed in float64, then cast
    np.testing.assert_allclose(t.numpy(), spec, atol=1e-6)


def test_position_embedding_start_shifts_positions():
    full = ref.sinusoidal_position_embedding(20, 8)
    np.testing.assert_allclose(ref.sinusoidal_position_embedding(5, 8, start=15), full[15:], atol=1e-12)
    np.testing.assert_allclose(at.sinusoidal_position_embedding(5, 8, start=15, dtype=torch.float64).numpy(),
                               full[15:], atol=1e-12)
    assert at.sinusoidal_position_embedding(0, 8).shape == (0, 8)
    assert ref.sinusoidal_position_embedding(0, 8).shape == (0, 8)


def test_torch_position_embedding_dtype_and_device():
    pe = at.sinusoidal_position_embedding(4, 6, dtype=torch.float16, device="meta")
    assert pe.dtype == torch.float16 and pe.device.type == "meta" and pe.shape == (4, 6)
    with pytest.raises(TypeError, match="dtype must be floating-point, got dtype torch.int64"):
        at.sinusoidal_position_embedding(4, 6, dtype=torch.int64)


# ----------------------------------------------------------------------------- one message per bad input
X = np.ones((2, 3, 4))
XI = np.ones((2, 3, 4), dtype=np.int64)


def _torch(a):
    return torch.tensor(a)


def _mha(fw):
    if fw == "torch":
        return at.MultiHeadAttention(2, 2, 4).double()
    layer = ak.MultiHeadAttention(2, 2, dtype="float64")
    layer(X)                                   # built for 4 input features, like the torch layer
    return layer


BAD = [
    # (case, exception, expected message, {framework: call})
    ("layout", ValueError, _validate.ATT_LAYOUT.format(ref.LAYOUTS, "zigzag"), {
        fw: (lambda m=m: m.sinusoidal_position_embedding(4, 8, "zigzag")) for fw, m in
        (("numpy", ref), ("torch", at), ("keras", ak))}),
    ("odd dim", ValueError, "dim must be a positive even integer, got 7", {
        fw: (lambda m=m: m.sinusoidal_position_embedding(4, 7)) for fw, m in
        (("numpy", ref), ("torch", at), ("keras", ak))}),
    ("negative length", ValueError, "length must be an integer >= 0, got -1", {
        fw: (lambda m=m: m.sinusoidal_position_embedding(-1, 8)) for fw, m in
        (("numpy", ref), ("torch", at), ("keras", ak))}),
    ("float start", ValueError, "start must be an integer, got 1.5", {
        fw: (lambda m=m: m.sinusoidal_position_embedding(4, 8, start=1.5)) for fw, m in
        (("numpy", ref), ("torch", at), ("keras", ak))}),
    ("base 0", ValueError, "base must be a finite number > 0, got 0.0", {
        fw: (lambda m=m: m.sinusoidal_position_embedding(4, 8, base=0.0)) for fw, m in
        (("numpy", ref), ("torch", at), ("keras", ak))}),
    ("causal size 0", ValueError, "n_query must be an integer >= 1, got 0", {
        fw: (lambda m=m: m.causal_mask(0)) for fw, m in (("numpy", ref), ("torch", at), ("keras", ak))}),
    ("causal n_key float", ValueError, "n_key must be an integer >= 1, got 2.0", {
        fw: (lambda m=m: m.causal_mask(2, 2.0)) for fw, m in (("numpy", ref), ("torch", at), ("keras", ak))}),
    ("lengths float", ValueError, "lengths must be a 1-D integer array, got shape (2,), dtype float32", {
        "numpy": lambda: ref.length_mask(np.array([1.0, 2.0], np.float32), 3),
        "torch": lambda: at.length_mask(torch.tensor([1.0, 2.0]), 3),
        "keras": lambda: ak.length_mask(np.array([1.0, 2.0], np.float32), 3)}),
    ("lengths negative", ValueError, "lengths must lie in [0, 3], got min -1 and max 2", {
        "numpy": lambda: ref.length_mask(np.array([-1, 2]), 3),
        "torch": lambda: at.length_mask(torch.tensor([-1, 2]), 3),
        "keras": lambda: ak.length_mask(keras.ops.convert_to_tensor(np.array([-1, 2])), 3)}),
    ("max_len 0", ValueError, "max_len must be an integer >= 1, got 0", {
        "numpy": lambda: ref.length_mask(np.array([0]), 0),
        "torch": lambda: at.length_mask(torch.tensor([0]), 0),
        "keras": lambda: ak.length_mask(np.array([0]), 0)}),
    ("integer q", TypeError, "q must be floating-point, got dtype int64", {
        "numpy": lambda: ref.scaled_dot_product_attention(XI, X, X),
        "torch": lambda: at.scaled_dot_product_attention(_torch(XI), _torch(X), _torch(X)),
        "keras": lambda: ak.scaled_dot_product_attention(XI, X, X)}),
    ("bool v", TypeError, "v must be floating-point, got dtype bool", {
        "numpy": lambda: ref.scaled_dot_product_attention(X, X, X > 0),
        "torch": lambda: at.scaled_dot_product_attention(_torch(X), _torch(X), _torch(X > 0)),
        "keras": lambda: ak.scaled_dot_product_attention(X, X, X > 0)}),
    ("negative scale", ValueError, "scale must be True, False or a finite number > 0, got -1", {
        "numpy": lambda: ref.scaled_dot_product_attention(X, X, X, scale=-1),
        "torch": lambda: at.scaled_dot_product_attention(_torch(X), _torch(X), _torch(X), scale=-1),
        "keras": lambda: ak.scaled_dot_product_attention(X, X, X, scale=-1)}),
    ("integer logits", TypeError, "logits must be floating-point, got dtype int64", {
        "numpy": lambda: ref.masked_logits(XI, X > 0),
        "torch": lambda: at.masked_logits(_torch(XI), _torch(X > 0)),
        "keras": lambda: ak.masked_logits(XI, X > 0)}),
    ("float mask", ValueError, "mask must be a boolean array (True = keep), got dtype float64", {
        "numpy": lambda: ref.masked_logits(X, X),
        "torch": lambda: at.masked_logits(_torch(X), _torch(X)),
        "keras": lambda: ak.masked_logits(X, X)}),
    ("mask shape", ValueError, "mask has shape (2, 5), which does not broadcast to (2, 3, 3)", {
        "numpy": lambda: ref.scaled_dot_product_attention(X[..., :3], X[..., :3], X, mask=np.ones((2, 5), bool)),
        "torch": lambda: at.scaled_dot_product_attention(_torch(X[..., :3]), _torch(X[..., :3]), _torch(X),
                                                         mask=torch.ones(2, 5, dtype=torch.bool)),
        "keras": lambda: ak.scaled_dot_product_attention(X[..., :3], X[..., :3], X, mask=np.ones((2, 5), bool))}),
    ("heads 0", ValueError, "heads must be an integer >= 1, got 0", {
        "torch": lambda: at.MultiHeadAttention(0, 2, 4), "keras": lambda: ak.MultiHeadAttention(0, 2)}),
    ("heads float", ValueError, "heads must be an integer >= 1, got 2.5", {
        "torch": lambda: at.MultiHeadAttention(2.5, 2, 4), "keras": lambda: ak.MultiHeadAttention(2.5, 2)}),
    ("heads bool", ValueError, "heads must be an integer >= 1, got True", {
        "numpy": lambda: ref.multi_head_attention(X, X, X, *[np.eye(4)] * 3, True),
        "torch": lambda: at.MultiHeadAttention(True, 2, 4), "keras": lambda: ak.MultiHeadAttention(True, 2)}),
    ("size_per_head 0", ValueError, "size_per_head must be an integer >= 1, got 0", {
        "torch": lambda: at.MultiHeadAttention(2, 0, 4), "keras": lambda: ak.MultiHeadAttention(2, 0)}),
    ("out_dim -1", ValueError, "out_dim must be an integer >= 1, got -1", {
        "torch": lambda: at.MultiHeadAttention(2, 2, 4, out_dim=-1), "keras": lambda: ak.MultiHeadAttention(2, 2, -1)}),
    ("scale nan", ValueError, "scale must be True, False or a finite number > 0, got nan", {
        "numpy": lambda: ref.multi_head_attention(X, X, X, *[np.eye(4)] * 3, 2, scale=float("nan")),
        "torch": lambda: at.MultiHeadAttention(2, 2, 4, scale=float("nan")),
        "keras": lambda: ak.MultiHeadAttention(2, 2, scale=float("nan"))}),
    ("integer input to the layer", TypeError, "q must be floating-point, got dtype int64", {
        "torch": lambda: _mha("torch")(_torch(XI)), "keras": lambda: _mha("keras")(XI)}),
    ("integer input to the numpy layer", TypeError, "xq must be floating-point, got dtype int64", {
        "numpy": lambda: ref.multi_head_attention(XI, XI, XI, *[np.eye(4)] * 3, 2)}),
    ("features", ValueError, "k has 3 features, but the layer expects 4", {
        "torch": lambda: _mha("torch")(_torch(X), _torch(X[..., :3])),
        "keras": lambda: _mha("keras")(X, X[..., :3])}),
    ("batch", ValueError, "q, k and v must have the same batch size, got 2, 1 and 1", {
        "numpy": lambda: ref.multi_head_attention(X, X[:1], X[:1], *[np.eye(4)] * 3, 2),
        "torch": lambda: _mha("torch")(_torch(X), _torch(X[:1])),
        "keras": lambda: _mha("keras")(X, X[:1])}),
    ("2-D input", ValueError, "q must have shape (batch, time, features), got shape (3, 4)", {
        "torch": lambda: _mha("torch")(_torch(X[0])), "keras": lambda: _mha("keras")(X[0])}),
    ("load_numpy shape", ValueError, "wk has shape (3, 4), expected (4, 4)", {
        "torch": lambda: _mha("torch").load_numpy(np.eye(4), np.ones((3, 4)), np.eye(4)),
        "keras": lambda: _mha("keras").load_numpy(np.eye(4), np.ones((3, 4)), np.eye(4))}),
    ("load_numpy wo", ValueError, _validate.ATT_NO_WO, {
        "torch": lambda: _mha("torch").load_numpy(*[np.eye(4)] * 4),
        "keras": lambda: _mha("keras").load_numpy(*[np.eye(4)] * 4)}),
    ("mode", ValueError, "mode must be 'sum' or 'concat', got 'mul'", {
        "torch": lambda: at.PositionEmbedding("mul"), "keras": lambda: ak.PositionEmbedding("mul")}),
    ("concat without size", ValueError, "mode='concat' needs a size (a positive even integer), got None", {
        "torch": lambda: at.PositionEmbedding("concat"), "keras": lambda: ak.PositionEmbedding("concat")}),
    ("odd size", ValueError, "dim must be a positive even integer, got 3", {
        "torch": lambda: at.PositionEmbedding("concat", 3), "keras": lambda: ak.PositionEmbedding("concat", 3)}),
    ("layer layout", ValueError, _validate.ATT_LAYOUT.format(ref.LAYOUTS, "zz"), {
        "torch": lambda: at.PositionEmbedding(layout="zz"), "keras": lambda: ak.PositionEmbedding(layout="zz")}),
    ("sum size", ValueError, "mode='sum' needs size == input features (4), got 6", {
        "torch": lambda: at.PositionEmbedding("sum", 6)(_torch(X)),
        "keras": lambda: ak.PositionEmbedding("sum", 6)(X)}),
    ("integer input to PositionEmbedding", TypeError, "x must be floating-point, got dtype int64", {
        "torch": lambda: at.PositionEmbedding()(_torch(XI)), "keras": lambda: ak.PositionEmbedding()(XI)}),
]

def _message(exc: BaseException) -> str:
    """The error's own message (Keras wraps errors raised in ``call`` with the call's arguments)."""
    text = str(exc)
    found = re.search("\x1b\\[1m(.*?)\x1b\\[0m", text, re.S)
    return found.group(1) if found else text


@pytest.mark.parametrize("case, exc, message, calls", BAD, ids=[row[0] for row in BAD])
def test_bad_input_same_message_everywhere(case, exc, message, calls):
    got = {}
    for fw, call in calls.items():
        with pytest.raises(exc) as info:
            call()
        got[fw] = _message(info.value)
    assert got == {fw: message for fw in calls}, case


def test_keras_layer_refuses_a_list_of_inputs():
    with pytest.raises(TypeError, match="separate arguments"):
        _mha("keras")([X, X, X])


def test_torch_classifier_refuses_out_of_range_and_float_ids():
    model = at.AttentionClassifier(10, dim=8, heads=2, size_per_head=4)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 10\), got min -1 and max 3"):
        model(torch.tensor([[3, -1]]))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 10\), got min 0 and max 10"):
        model(torch.tensor([[10, 0]]))
    with pytest.raises(ValueError, match="tokens must be integer ids of shape"):
        model(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="dropout"):
        at.AttentionClassifier(10, dropout=1.0)


# ----------------------------------------------------------------------------- finite output for finite input
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_and_fully_masked_inputs_stay_finite(dtype):
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3, 4)).astype(dtype) * 1e3 for _ in range(3))
    mask = np.ones((2, 3, 3), bool)
    mask[1, 1] = False                                           # a fully masked row
    out_np, w_np = ref.scaled_dot_product_attention(q, k, v, mask=mask)
    out_t, w_t = at.scaled_dot_product_attention(*(torch.tensor(a) for a in (q, k, v)), mask=torch.tensor(mask))
    out_k, w_k = ak.scaled_dot_product_attention(q, k, v, mask=mask)
    for out, w in ((out_np, w_np), (out_t.numpy(), w_t.numpy()), (keras.ops.convert_to_numpy(out_k),
                                                                 keras.ops.convert_to_numpy(w_k))):
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(w))
        np.testing.assert_allclose(w[1, 1], 1 / 3, rtol=1e-6)
        np.testing.assert_allclose(out, out_np, rtol=1e-4, atol=1e-2)


def test_masks_agree_across_frameworks():
    lengths = np.array([0, 2, 5])
    spec = ref.length_mask(lengths, 5)
    np.testing.assert_array_equal(spec, np.arange(5)[None] < lengths[:, None])
    np.testing.assert_array_equal(at.length_mask(torch.tensor(lengths), 5).numpy(), spec)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ak.length_mask(lengths, 5)), spec)
    causal = ref.causal_mask(3, 4)
    np.testing.assert_array_equal(causal, np.arange(3)[:, None] >= np.arange(4)[None])
    np.testing.assert_array_equal(at.causal_mask(3, 4).numpy(), causal)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ak.causal_mask(3, 4)), causal)


def test_keras_scaled_dot_product_attention_matches_numpy():
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 6, 4)), rng.normal(size=(2, 6, 3))
    mask = rng.random((2, 5, 6)) < 0.6
    for scale in (True, False, 0.3):
        o, w = ref.scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
        ok, wk = ak.scaled_dot_product_attention(q, k, v, mask=mask, scale=scale)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ok), o, atol=1e-12)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(wk), w, atol=1e-12)


# ----------------------------------------------------------------------------- Keras serialisation
def _roundtrip(model, inputs, tmp_path):
    expected = keras.ops.convert_to_numpy(model(inputs))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(inputs)), expected, rtol=1e-6)
    return loaded


def test_keras_multi_head_attention_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    x = keras.Input((7, 16))
    y = keras.Input((5, 12))
    self_att = ak.MultiHeadAttention(4, 4, out_dim=8, name="self_att")(x, causal=True)
    cross = ak.MultiHeadAttention(2, 3, scale=False, name="cross")(self_att, y, y)
    model = keras.Model([x, y], cross)
    rng = np.random.default_rng(0)
    data = [rng.normal(size=(3, 7, 16)).astype("float32"), rng.normal(size=(3, 5, 12)).astype("float32")]
    loaded = _roundtrip(model, data, tmp_path)
    layer = loaded.get_layer("cross")
    assert isinstance(layer, ak.MultiHeadAttention)
    assert (layer.heads, layer.size_per_head, layer.out_dim, layer.scale) == (2, 3, None, False)


def test_keras_position_embedding_round_trips(tmp_path):
    x = keras.Input((None, 6))
    h = ak.PositionEmbedding("concat", size=4, layout="interleaved", name="pe")(x)
    h = ak.PositionEmbedding(name="pe_sum")(h)
    model = keras.Model(x, keras.layers.Dense(3)(h))
    data = np.random.default_rng(1).normal(size=(2, 9, 6)).astype("float32")
    loaded = _roundtrip(model, data, tmp_path)
    layer = loaded.get_layer("pe")
    assert (layer.mode, layer.size, layer.layout) == ("concat", 4, "interleaved")


def test_keras_layers_are_registered():
    for cls in (ak.MultiHeadAttention, ak.PositionEmbedding):
        assert keras.saving.get_registered_name(cls) == f"kexue>{cls.__name__}"
        assert keras.saving.get_registered_object(f"kexue>{cls.__name__}") is cls


# ----------------------------------------------------------------------------- devices
@pytest.mark.parametrize("fused", [False, True])
def test_torch_layers_run_on_meta(fused):
    dev = torch.device("meta")
    x = torch.empty(2, 5, 8, device=dev)
    keep = at.length_mask(torch.tensor([5, 2], device=dev), 5)
    assert keep.device == dev
    mha = at.MultiHeadAttention(2, 4, 8, out_dim=6, fused=fused).to(dev)
    out = mha(x, key_mask=keep, causal=True, query_mask=keep)
    assert out.device == dev and out.shape == (2, 5, 6)
    pe = at.PositionEmbedding("concat", size=4)(x)
    assert pe.device == dev and pe.shape == (2, 5, 12)
    clf = at.AttentionClassifier(20, dim=8, heads=2, size_per_head=4).to(dev)
    assert clf(torch.zeros(2, 5, dtype=torch.long, device=dev)).shape == (2,)
    assert at.causal_mask(3, device=dev).device == dev


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_layers_on_cuda_match_cpu():
    x, keep = torch.randn(2, 5, 8, dtype=torch.float64), at.length_mask(torch.tensor([5, 2]), 5)
    mha = at.MultiHeadAttention(2, 4, 8, out_dim=6).double()
    cpu = mha(x, key_mask=keep, causal=True)
    gpu = mha.cuda()(x.cuda(), key_mask=keep.cuda(), causal=True)
    np.testing.assert_allclose(gpu.cpu().detach().numpy(), cpu.detach().numpy(), atol=1e-10)


# ----------------------------------------------------------------------------- experiment helpers
def _toy_reviews(n=40, t=6, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, t), np.int64)
    for i, m in enumerate(rng.integers(1, t + 1, n)):
        x[i, :m] = rng.integers(2, 10, m)
    return x, (x == 3).any(1).astype(np.int64)


def test_review_probabilities_match_the_model_row_by_row():
    torch.manual_seed(0)
    x, _ = _toy_reviews()
    model = at.AttentionClassifier(10, dim=8, heads=2, size_per_head=4).eval()
    got = ae.review_probabilities(model, x, batch_size=7)
    assert got.dtype == np.float64 and got.shape == (40,)
    with torch.no_grad():
        want = [torch.sigmoid(model(torch.from_numpy(row[None, :max(1, int((row != 0).sum()))]))).item()
                for row in x]
    np.testing.assert_allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match="tokens must be integer ids"):
        ae.review_probabilities(model, x.astype(float))


def test_train_review_classifier_returns_a_history_and_checks_labels():
    from kexue.train import History

    torch.manual_seed(0)
    x, y = _toy_reviews()
    model = at.AttentionClassifier(10, dim=8, heads=2, size_per_head=4)
    hist = ae.train_review_classifier(model, x, y, x, y, epochs=2, batch_size=8, device=torch.device("cpu"))
    assert isinstance(hist, History) and [r["epoch"] for r in hist.epochs] == [1, 2]
    assert all(np.isfinite(r["loss"]) and 0 <= r["val_acc"] <= 1 for r in hist.epochs)
    bad = y.copy()
    bad[0] = 2
    with pytest.raises(ValueError, match="label out of range"):
        ae.train_review_classifier(model, x, bad, x, y, epochs=1)
    bad[0] = -1
    with pytest.raises(ValueError, match="label out of range"):
        ae.train_review_classifier(model, x, y, x, bad, epochs=1)


def test_run_review_config_seeds_once_and_ignores_the_callers_seed():
    x, y = _toy_reviews(n=24, t=5)
    vocab = {str(i): i for i in range(2, 10)}
    data = (x, y, x, y, vocab)
    torch.manual_seed(123)
    a = ae.run_review_config("pe", 3, data, epochs=1)
    torch.manual_seed(456)
    np.random.default_rng(9)
    b = ae.run_review_config("pe", 3, data, epochs=1)
    assert a["train_loss"] == b["train_loss"] and a["val_acc"] == b["val_acc"]
    c = ae.run_review_config("pe", 4, data, epochs=1)
    assert c["train_loss"] != a["train_loss"]
    assert set(a) == {"config", "seed", "train_loss", "val_acc", "model"}
