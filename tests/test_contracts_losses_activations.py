"""Chapters 01 and 03: one contract per name across numpy, PyTorch and Keras; bad input; devices; docs."""
import inspect
import re

import numpy as np
import pytest

from kexue import _validate
from kexue.activations import numpy_ref as act_ref
from kexue.losses import numpy_ref as ref

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
from kexue.activations import experiment as act_exp  # noqa: E402
from kexue.activations import keras as act_keras  # noqa: E402
from kexue.activations import torch as act_torch  # noqa: E402
from kexue.losses import experiment as lx  # noqa: E402
from kexue.losses import keras as kl  # noqa: E402
from kexue.losses import torch as tl  # noqa: E402

torch.set_num_threads(1)
T = torch.tensor
msg = re.escape


def _batch(b=5, n=4, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(b, n)), rng.integers(0, n, b), rng.normal(size=(b, d)), rng.normal(size=(n, d))


# ----------------------------------------------------------------------------- signatures
def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", ["mixed_cross_entropy", "center_loss"])
def test_loss_twins_share_signature(name):
    sigs = {m.__name__: _params(getattr(m, name)) for m in (ref, tl, kl)}
    assert len({tuple(s) for s in sigs.values()}) == 1, sigs
    assert dict((n, d) for n, _, d in sigs["kexue.losses.numpy_ref"])["reduction"] == "none"


def test_activation_twins_share_signature():
    for name in ("activation", "derivative", "xmin", "xmin_naive"):
        assert _params(getattr(act_ref, name)) == _params(getattr(act_torch, name)) == _params(getattr(act_keras, name))
    assert _params(act_ref.mlp_layer_gradients) == _params(act_torch.mlp_layer_gradients)
    assert [p[0] for p in _params(act_ref.mlp_layer_gradients)] == ["name", "weights", "x"]


# ----------------------------------------------------------------------------- reduction
def test_reduction_none_is_per_sample_in_all_three():
    z, y, x, c = _batch()
    expect_m, expect_c = ref.mixed_cross_entropy(z, y), ref.center_loss(x, y, c)
    assert expect_m.shape == expect_c.shape == (5,)
    np.testing.assert_allclose(tl.mixed_cross_entropy(T(z), T(y)).numpy(), expect_m, atol=1e-12)
    np.testing.assert_allclose(np.asarray(kl.mixed_cross_entropy(z, y)), expect_m, atol=1e-12)
    np.testing.assert_allclose(tl.center_loss(T(x), T(y), T(c)).numpy(), expect_c, atol=1e-12)
    np.testing.assert_allclose(np.asarray(kl.center_loss(x, y, c)), expect_c, atol=1e-12)
    np.testing.assert_allclose(tl.CenterLoss(4, 3).double()(T(x), T(y)).shape, (5,))
    for mod in (tl, kl):
        assert float(mod.center_loss(*((T(a) for a in (x, y, c)) if mod is tl else (x, y, c)), reduction="mean")) \
            == pytest.approx(expect_c.mean(), abs=1e-12)
    assert ref.center_loss(x, y, c, reduction="mean") == pytest.approx(expect_c.mean(), abs=1e-15)


@pytest.mark.parametrize("bad", ["sum", None, "MEAN"])
def test_bad_reduction_same_message(bad):
    z, y, x, c = _batch()
    text = msg(_validate.REDUCTION.format(bad))
    for call in (lambda: ref.mixed_cross_entropy(z, y, reduction=bad),
                 lambda: tl.mixed_cross_entropy(T(z), T(y), reduction=bad),
                 lambda: kl.mixed_cross_entropy(z, y, reduction=bad),
                 lambda: ref.center_loss(x, y, c, reduction=bad),
                 lambda: tl.center_loss(T(x), T(y), T(c), reduction=bad),
                 lambda: kl.center_loss(x, y, c, reduction=bad),
                 lambda: ref.triplet_hinge_loss(x, x + 1, x - 1, reduction=bad),
                 lambda: tl.CenterLoss(3, 2, reduction=bad)):
        with pytest.raises(ValueError, match=text):
            call()


# ----------------------------------------------------------------------------- empty batches
def test_empty_batch_none_is_empty_mean_raises():
    z, y = np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    x, c = np.zeros((0, 3)), np.ones((4, 3))
    nones = [ref.mixed_cross_entropy(z, y), tl.mixed_cross_entropy(T(z), T(y)), kl.mixed_cross_entropy(z, y),
             ref.center_loss(x, y, c), tl.center_loss(T(x), T(y), T(c)), kl.center_loss(x, y, c),
             ref.triplet_hinge_loss(x, x, x)]
    for out in nones:
        assert tuple(out.shape) == (0,)
    means = [lambda: ref.mixed_cross_entropy(z, y, reduction="mean"),
             lambda: tl.mixed_cross_entropy(T(z), T(y), reduction="mean"),
             lambda: kl.mixed_cross_entropy(z, y, reduction="mean"),
             lambda: ref.center_loss(x, y, c, reduction="mean"),
             lambda: tl.center_loss(T(x), T(y), T(c), reduction="mean"),
             lambda: kl.center_loss(x, y, c, reduction="mean"),
             lambda: tl.CenterLoss(4, 3, reduction="mean").double()(T(x), T(y)),
             lambda: ref.triplet_hinge_loss(x, x, x, reduction="mean"),
             lambda: ref.center_loss_grad(x, y, c)]
    for call in means:
        with pytest.raises(ValueError, match=msg(_validate.EMPTY_MEAN)):
            call()


# ----------------------------------------------------------------------------- types and dtypes
def test_torch_checks_the_tensor_type_first():
    z, y, x, c = _batch()
    with pytest.raises(TypeError, match="logits must be a torch.Tensor, got list"):
        tl.mixed_cross_entropy(z.tolist(), T(y))
    with pytest.raises(TypeError, match="labels must be a torch.Tensor, got list"):
        tl.mixed_cross_entropy(T(z), y.tolist())
    with pytest.raises(TypeError, match="features must be a torch.Tensor, got ndarray"):
        tl.center_loss(x, T(y), T(c))
    with pytest.raises(TypeError, match="centres must be a torch.Tensor, got list"):
        tl.center_loss(T(x), T(y), c.tolist())


def test_integer_input_to_losses_is_cast_in_all_three():
    rng = np.random.default_rng(1)
    z, y = rng.integers(-3, 4, (6, 4)), rng.integers(0, 4, 6)
    x, c = rng.integers(-2, 3, (6, 2)), rng.integers(-2, 3, (4, 2))
    m, cl = ref.mixed_cross_entropy(z, y), ref.center_loss(x, y, c)
    got_t = tl.mixed_cross_entropy(T(z), T(y))
    got_k = kl.mixed_cross_entropy(z, y)
    assert got_t.is_floating_point() and "float" in keras.backend.standardize_dtype(got_k.dtype)
    np.testing.assert_allclose(got_t.numpy(), m, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(got_k), m, rtol=1e-6)
    np.testing.assert_allclose(tl.center_loss(T(x), T(y), T(c)).numpy(), cl, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(kl.center_loss(x, y, c)), cl, rtol=1e-6)


def test_boolean_input_to_losses_is_refused_in_all_three():
    b = np.ones((3, 2), dtype=bool)
    y = np.array([0, 1, 1])
    for call in (lambda: ref.mixed_cross_entropy(b, y), lambda: tl.mixed_cross_entropy(T(b), T(y)),
                 lambda: kl.mixed_cross_entropy(b, y)):
        with pytest.raises(TypeError, match="logits must hold real numbers .* got dtype (torch.)?bool"):
            call()


@pytest.mark.parametrize("fn", ["xmin", "xmin_naive"])
def test_integer_input_to_activations_is_refused_in_all_three(fn):
    ints = np.arange(3)
    pattern = r"activations take floating-point input, got dtype (torch\.)?int"
    with pytest.raises(TypeError, match=pattern):
        getattr(act_ref, fn)(ints)
    with pytest.raises(TypeError, match=pattern):
        getattr(act_torch, fn)(torch.arange(3))
    with pytest.raises(TypeError, match=pattern):
        getattr(act_keras, fn)(keras.ops.convert_to_tensor(ints))
    with pytest.raises(TypeError, match=pattern):
        act_torch.Activation("relu")(torch.arange(3))
    with pytest.raises(TypeError, match=pattern):
        act_torch.derivative("relu", torch.arange(3))
    with pytest.raises(TypeError, match="got list"):
        act_torch.derivative("relu", [1.0, 2.0])


# ----------------------------------------------------------------------------- non-finite input
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_raises_in_all_three(bad):
    z, y, x, c = _batch()
    z[1, 2] = x[0, 0] = bad
    for call in (lambda: ref.mixed_cross_entropy(z, y), lambda: tl.mixed_cross_entropy(T(z), T(y)),
                 lambda: kl.mixed_cross_entropy(z, y)):
        with pytest.raises(ValueError, match=msg(_validate.NONFINITE.format("logits"))):
            call()
    for call in (lambda: ref.center_loss(x, y, c), lambda: tl.center_loss(T(x), T(y), T(c)),
                 lambda: kl.center_loss(x, y, c)):
        with pytest.raises(ValueError, match=msg(_validate.NONFINITE.format("features"))):
            call()
    q = np.ones((2, 3))
    w = q.copy()
    w[1, 1] = bad
    for call in (lambda: ref.triplet_hinge_loss(q, q, w), lambda: ref.triplet_hinge_grad(q, q, w),
                 lambda: kl.TripletHinge()([q, q, w])):
        with pytest.raises(ValueError, match=msg(_validate.NONFINITE.format("wrong"))):
            call()


def test_matrix_shape_message_is_shared():
    y = np.array([0, 1])
    text = msg(_validate.MATRIX_SHAPE.format("features", "(batch, dim)", (2,)))
    for call in (lambda: ref.center_loss(np.zeros(2), y, np.zeros((2, 2))),
                 lambda: tl.center_loss(torch.zeros(2), T(y), torch.zeros(2, 2)),
                 lambda: kl.center_loss(np.zeros(2), y, np.zeros((2, 2)))):
        with pytest.raises(ValueError, match=text):
            call()


# ----------------------------------------------------------------------------- the triplet code
@pytest.mark.parametrize("margin", [-0.1, np.nan, np.inf, True, "0.1"])
def test_triplet_margin_same_message(margin):
    q = np.ones((2, 3))
    text = msg(_validate.HINGE_MARGIN.format(margin))
    for call in (lambda: ref.triplet_hinge_loss(q, q, q, margin), lambda: ref.triplet_hinge_grad(q, q, q, margin),
                 lambda: kl.TripletHinge(margin), lambda: kl.build_triplet_models(5, 3, margin=margin)):
        with pytest.raises(ValueError, match=text):
            call()


def test_triplet_shapes_and_zero_rows():
    q = np.ones((2, 3))
    for call in (lambda: ref.triplet_hinge_loss(q, q[:, :2], q), lambda: kl.TripletHinge()([q, q[:, :2], q])):
        with pytest.raises(ValueError, match="shape mismatch: question and right must have the same shape"):
            call()
    with pytest.raises(ValueError, match=msg(_validate.MATRIX_SHAPE.format("question", "(batch, dim)", (3,)))):
        ref.triplet_hinge_loss(q[0], q[0], q[0])
    z = q.copy()
    z[1] = 0
    for call in (lambda: ref.triplet_hinge_loss(q, z, q), lambda: kl.TripletHinge()([q, z, q])):
        with pytest.raises(ValueError, match=msg(_validate.ZERO_VECTOR.format("right"))):
            call()


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_triplet_is_finite_for_tiny_and_huge_vectors(scale):
    rng = np.random.default_rng(3)
    q, r, w = (rng.normal(size=(8, 4)) for _ in range(3))
    loss = ref.triplet_hinge_loss(q, r, w, 0.2)
    np.testing.assert_allclose(ref.triplet_hinge_loss(scale * q, scale * r, scale * w, 0.2), loss, atol=1e-12)
    np.testing.assert_allclose(ref.cosine(scale * q, r), ref.cosine(q, r), atol=1e-12)
    grads = ref.triplet_hinge_grad(scale * q, scale * r, scale * w, 0.2)
    for g, g1 in zip(grads, ref.triplet_hinge_grad(q, r, w, 0.2)):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g * scale, g1, rtol=1e-10, atol=1e-14)   # d cos / d a scales as 1/|a|


def test_faq_and_retrieval_validation():
    for kwargs, text in [({"n_per_topic": 0}, "n_per_topic must be an integer >= 1, got 0"),
                         ({"length": 2.5}, "length must be an integer >= 1, got 2.5"),
                         ({"n_shared": True}, "n_shared must be an integer >= 0, got True"),
                         ({"seed": -1}, "seed must be an integer >= 0, got -1"),
                         ({"topic_share": np.nan}, "topic_share must lie in"),
                         ({"topic_share": 1.5}, "topic_share must lie in")]:
        with pytest.raises(ValueError, match=msg(text)):
            ref.make_faq(**kwargs)
    data = ref.make_faq(n_per_topic=2, n_topics=3, n_shared=0, topic_share=0.3, seed=1)
    assert data.questions.max() <= 18 and data.questions.min() >= 1     # no filler ids without fillers
    s = np.eye(3)
    with pytest.raises(ValueError, match=msg(_validate.INDEX_RANGE.format("correct", 3, -1, 1))):
        ref.top1_retrieval(s, [0, 1, -1])
    with pytest.raises(ValueError, match=msg(_validate.INDEX_RANGE.format("correct", 3, 0, 3))):
        ref.top1_retrieval(s, [0, 1, 3])
    with pytest.raises(ValueError, match=msg(_validate.LABELS_INT)):
        ref.top1_retrieval(s, [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=msg(_validate.NONFINITE.format("scores"))):
        ref.top1_retrieval(np.full((3, 3), np.nan), [0, 1, 2])
    with pytest.raises(ValueError, match="scores is empty"):
        ref.top1_retrieval(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        ref.wrong_answers([0, 1], seed=-2)
    assert ref.top1_retrieval(s, [0, 1, 2]) == 1.0


def test_constructor_validation():
    for call, text in [(lambda: tl.CenterLoss(0, 2), "n_classes must be an integer >= 1, got 0"),
                       (lambda: tl.CenterLoss(3, 2.0), "feat_dim must be an integer >= 1, got 2.0"),
                       (lambda: kl.build_center_loss_models((4, 4), 1), "n_classes must be an integer >= 2, got 1"),
                       (lambda: kl.CenterLossPenalty(keras.layers.Embedding(3, 2), lam=np.nan),
                        "the center-loss weight lam must be a finite number >= 0, got nan"),
                       (lambda: act_torch.mlp("relu", [4]), "sizes must list at least"),
                       (lambda: act_torch.mlp("relu", [4, 0]), "every layer size must be an integer >= 1, got 0"),
                       (lambda: act_torch.Activation("gelu"), "unknown activation 'gelu'")]:
        with pytest.raises(ValueError, match=msg(text)):
            call()


# ----------------------------------------------------------------------------- mlp_layer_gradients
def test_mlp_layer_gradients_validation_same_messages():
    ws, x = act_ref.random_mlp(depth=3, width=4, batch=5, seed=0)
    tw, tx = [T(w) for w in ws], T(x)
    cases = [
        (lambda: act_ref.mlp_layer_gradients("relu", [], x), lambda: act_torch.mlp_layer_gradients("relu", [], tx),
         _validate.MLP_WEIGHTS.format("an empty sequence")),
        (lambda: act_ref.mlp_layer_gradients("relu", [ws[0], ws[1][:3]], x),
         lambda: act_torch.mlp_layer_gradients("relu", [tw[0], tw[1][:3]], tx),
         _validate.MLP_CHAIN.format("weights[0]", 4, "weights[1]", 3)),
        (lambda: act_ref.mlp_layer_gradients("relu", ws, x[:0]), lambda: act_torch.mlp_layer_gradients("relu", tw, tx[:0]),
         _validate.NONEMPTY.format("x", (0, 4), "row of a matrix (batch, width)")),
        (lambda: act_ref.mlp_layer_gradients("relu", ws, x * np.nan),
         lambda: act_torch.mlp_layer_gradients("relu", tw, tx * np.nan), _validate.NONFINITE.format("x")),
    ]
    for numpy_call, torch_call, text in cases:
        for call in (numpy_call, torch_call):
            with pytest.raises(ValueError, match=msg(text)):
                call()
    with pytest.raises(TypeError, match="activations take floating-point input"):
        act_torch.mlp_layer_gradients("relu", tw, torch.ones(5, 4, dtype=torch.int64))
    before = [w.clone() for w in tw]
    act_torch.mlp_layer_gradients("tanh", tw, tx)
    assert all(torch.equal(a, b) and b.grad is None for a, b in zip(before, tw))


def test_mlp_layer_gradients_float32_twins():
    ws, x = act_ref.random_mlp(depth=4, width=8, batch=16, seed=2)
    ws32, x32 = [w.astype(np.float32) for w in ws], x.astype(np.float32)
    ours = act_ref.mlp_layer_gradients("swish", ws32, x32)
    theirs = act_torch.mlp_layer_gradients("swish", [T(w) for w in ws32], T(x32))
    assert ours.dtype == np.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4)


def test_zero_gradient_fraction_validation():
    with pytest.raises(ValueError, match="z is empty"):
        act_ref.zero_gradient_fraction("relu", np.zeros(0))
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        act_ref.zero_gradient_fraction("relu", np.zeros(3), -1.0)


# ----------------------------------------------------------------------------- experiment helpers
def test_experiment_helpers_pass_device_to_fit(monkeypatch):
    seen = []
    real_fit = lx.fit

    def spy(*args, **kwargs):
        seen.append(kwargs.get("device"))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(lx, "fit", spy)
    monkeypatch.setattr(act_exp, "fit", spy)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (40, 2, 2)).astype(np.uint8), np.arange(40) % 3
    r = lx.train_feature_net("mixed", x, y, x, y, seed=0, epochs=1, batch_size=20, device="cpu")
    assert r.features.shape == (40, 2) and r.features.dtype == np.float64
    out = act_exp.train_mlp("xmin", x, y, x, y, hidden=(4,), epochs=1, batch_size=20, seed=0, device="cpu")
    assert len(out["test_acc"]) == 1
    assert seen == [torch.device("cpu")] * 2
    for fn in (lx.train_feature_net, act_exp.train_mlp):
        assert inspect.signature(fn).parameters["device"].kind is inspect.Parameter.KEYWORD_ONLY


def test_train_feature_net_seeds_its_own_weights():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (30, 2, 2)).astype(np.uint8), np.arange(30) % 3
    runs = []
    for outside in (1, 99):
        torch.manual_seed(outside)                          # the caller's torch state does not matter
        runs.append(lx.train_feature_net("center", x, y, x, y, seed=4, epochs=2, batch_size=10))
    assert runs[0].losses == runs[1].losses
    np.testing.assert_array_equal(runs[0].features, runs[1].features)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_experiment_helpers_run_on_cuda():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (40, 2, 2)).astype(np.uint8), np.arange(40) % 3
    r = lx.train_feature_net("center", x, y, x, y, seed=0, epochs=1, batch_size=20, device="cuda")
    assert np.isfinite(r.accuracy)
    act_exp.train_mlp("relu", x, y, x, y, hidden=(4,), epochs=1, batch_size=20, device="cuda")


# ----------------------------------------------------------------------------- docstrings and hints
MODULES = [ref, tl, kl, lx, act_ref, act_torch, act_keras, act_exp]


def _public(module):
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj
        elif inspect.isclass(obj):
            yield f"{module.__name__}.{name}", obj
            for meth in ("__init__", "forward", "call", "build", "get_config", "compute_loss"):
                fn = obj.__dict__.get(meth)
                if fn is not None:
                    yield f"{module.__name__}.{name}.{meth}", fn


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_public_objects_have_numpydoc_and_hints(module):
    assert "chapters/0" in module.__doc__
    for qual, obj in _public(module):
        if qual.endswith("__init__"):
            params = [p for p in inspect.signature(obj).parameters.values() if p.name != "self"]
            assert all(p.annotation is not inspect.Parameter.empty for p in params), qual
            continue
        doc = inspect.getdoc(obj) or ""
        assert doc, f"{qual} has no docstring"
        if inspect.isfunction(obj):
            sig = inspect.signature(obj)
            params = [p for n, p in sig.parameters.items() if n not in ("self", "cls")]
            assert all(p.annotation is not inspect.Parameter.empty for p in params), qual
            assert sig.return_annotation is not inspect.Signature.empty, qual
            assert "Args:" not in doc, qual
            if params and not qual.rsplit(".", 1)[-1] in ("get_config", "build"):
                assert "Parameters\n----------" in doc, qual
        if "." not in qual.split(module.__name__ + ".")[1]:      # top-level objects name their chapter
            assert re.search(r"\(chapter 0[13]", doc) or "chapter 0" in doc, qual
