"""Chapter 03: activations agree across numpy (closed form), PyTorch and Keras (autodiff)."""
import numpy as np
import pytest

from kexue.activations import numpy_ref as R

torch = pytest.importorskip("torch")
K = pytest.importorskip("kexue.activations.keras")
T = pytest.importorskip("kexue.activations.torch")

GRID = np.linspace(-8, 8, 161)
TOL = {np.float32: 1e-6, np.float64: 1e-12}


@pytest.mark.parametrize("name", R.NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_and_derivatives_agree(name, dtype):
    x = GRID.astype(dtype)
    tol = TOL[dtype]
    ref, dref = R.activation(name, x), R.derivative(name, x)
    assert ref.dtype == dtype
    np.testing.assert_allclose(T.activation(name, torch.tensor(x)).numpy(), ref, atol=tol, rtol=tol)
    np.testing.assert_allclose(np.asarray(K.activation(name, x)), ref, atol=tol, rtol=tol)
    np.testing.assert_allclose(T.derivative(name, torch.tensor(x)).numpy(), dref, atol=tol, rtol=tol)
    np.testing.assert_allclose(np.asarray(K.derivative(name, x)), dref, atol=tol, rtol=tol)


def test_derivative_matches_finite_differences():
    x = np.linspace(-5, 5, 41) + 0.013  # avoid the kink of relu at 0
    h = 1e-6
    for name in R.NAMES:
        fd = (R.activation(name, x + h) - R.activation(name, x - h)) / (2 * h)
        np.testing.assert_allclose(R.derivative(name, x), fd, atol=1e-7)


def test_xmin_forms_agree_and_shape_facts():
    x = np.linspace(-20, 20, 4001)
    naive = x * np.minimum(1, np.exp(x))
    alt = x + np.maximum(x * np.exp(-np.abs(x)) - x, 0)
    np.testing.assert_allclose(R.xmin(x), naive, atol=2e-15)
    np.testing.assert_allclose(R.xmin(x), alt, atol=2e-15)
    fine = np.linspace(-3, 0, 300001)
    i = np.argmin(R.xmin(fine))
    assert abs(fine[i] + 1) < 1e-5 and abs(R.xmin(fine)[i] + np.exp(-1)) < 1e-9
    assert R.derivative("xmin", np.array([0.0]))[0] == 1.0
    assert R.derivative("swish", np.array([0.0]))[0] == 0.5
    # C^1 at 0: the one-sided slopes agree, the second derivatives do not (2 vs 0)
    h = 1e-5
    left = (R.xmin(np.array(0.0)) - R.xmin(np.array(-h))) / h
    right = (R.xmin(np.array(h)) - R.xmin(np.array(0.0))) / h
    assert abs(left - right) < 1e-4
    second_left = (R.xmin(np.array(0.0)) - 2 * R.xmin(np.array(-h)) + R.xmin(np.array(-2 * h))) / h**2
    assert abs(second_left - 2) < 1e-3


@pytest.mark.parametrize("x0", [-1000.0, 100.0, 1000.0])
def test_safe_xmin_finite_gradient_torch(x0):
    x = torch.tensor([x0], dtype=torch.float32, requires_grad=True)
    y = T.xmin(x)
    y.backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert x.grad.item() == (1.0 if x0 > 0 else 0.0)


@pytest.mark.parametrize("x0", [-1000.0, 100.0, 1000.0])
def test_safe_xmin_finite_gradient_keras(x0):
    g = np.asarray(K.derivative("xmin", np.array([x0], dtype=np.float32)))
    v = np.asarray(K.activation("xmin", np.array([x0], dtype=np.float32)))
    assert np.isfinite(g).all() and np.isfinite(v).all()


def test_naive_xmin_gives_nan_gradient():
    x = torch.tensor([100.0], requires_grad=True)
    y = T.xmin_naive(x)
    y.backward()
    assert y.item() == 100.0 and torch.isnan(x.grad).all()
    import tensorflow as tf

    xt = tf.constant([100.0])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = K.xmin_naive(xt)
    assert np.isnan(tape.gradient(yt, xt).numpy()).all()


def test_bad_input_errors():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        R.activation("gelu", np.zeros(3))
    with pytest.raises(ValueError, match="unknown activation"):
        T.get("gelu")
    with pytest.raises(ValueError, match="unknown activation"):
        K.get("gelu")
    with pytest.raises(TypeError, match="float32 or float64"):
        R.activation("relu", np.arange(3))
    with pytest.raises(TypeError, match="floating-point"):
        T.activation("relu", torch.arange(3))
    with pytest.raises(TypeError, match="floating-point"):
        K.activation("relu", np.arange(3))


def test_sigmoid_derivative_bound_and_chain():
    x = np.linspace(-10, 10, 20001)
    d = R.derivative("sigmoid", x)
    assert abs(d.max() - 0.25) < 1e-12 and abs(x[np.argmax(d)]) < 1e-9
    rng = np.random.default_rng(0)
    assert np.prod(R.derivative("sigmoid", rng.standard_normal(10))) <= 4.0 ** -10


def test_swish_is_tied_glu():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    np.testing.assert_allclose(R.glu(x, w, b, w, b), R.activation("swish", x @ w + b), atol=1e-14)
    w2 = rng.standard_normal((4, 3))
    assert np.abs(R.glu(x, w, b, w2, b) - R.activation("swish", x @ w + b)).max() > 1e-3


def test_float_roundtrip_is_not_additive():
    g = R.float32_roundtrip
    assert g(np.float32(0.3)) == np.float32(0.30078125)
    assert g(np.float32(1e-4)) == 0
    assert g(np.float32(0.3)) + g(np.float32(0.3)) != g(np.float32(0.6))


@pytest.mark.parametrize("name", R.NAMES)
def test_layer_gradients_numpy_vs_autograd(name):
    ws, x = R.random_mlp(depth=6, width=16, batch=32, seed=0)
    ours = R.mlp_layer_gradients(name, ws, x)
    theirs = T.mlp_layer_gradients(name, [torch.tensor(w) for w in ws], torch.tensor(x))
    assert isinstance(ours, np.ndarray) and ours.shape == (6,) and ours.dtype == np.float64
    assert isinstance(theirs, torch.Tensor) and theirs.shape == (6,) and theirs.dtype == torch.float64
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10)


def test_vanishing_gradient_ratio():
    for seed in range(3):
        r = {n: (lambda g: g[0] / g[-1])(R.mlp_layer_gradients(n, *R.random_mlp(depth=15, width=64, seed=seed)))
             for n in ("sigmoid", "relu", "swish", "xmin")}
        assert r["sigmoid"] < 1e-6
        assert min(r["relu"], r["swish"], r["xmin"]) > 1e-2


def test_zero_gradient_fraction():
    z = np.random.default_rng(0).standard_normal(200_000)
    assert abs(R.zero_gradient_fraction("relu", z) - 0.5) < 0.005
    assert R.zero_gradient_fraction("swish", z) == 0 and R.zero_gradient_fraction("xmin", z) == 0
    assert abs(R.zero_gradient_fraction("swish", z, 0.05) - 0.081) < 0.005
    assert abs(R.zero_gradient_fraction("xmin", z, 0.05) - 0.066) < 0.005


def test_two_linear_layers_collapse_to_one():
    """Eq. (affine-collapse), with PyTorch's Linear layers as the independent computation."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    l1, l2 = torch.nn.Linear(10, 20).double(), torch.nn.Linear(20, 5).double()
    x = torch.randn(32, 10, dtype=torch.float64)
    W1, b1 = l1.weight.detach().numpy().T, l1.bias.detach().numpy()
    W2, b2 = l2.weight.detach().numpy().T, l2.bias.detach().numpy()
    np.testing.assert_allclose(l2(l1(x)).detach().numpy(), x.numpy() @ (W1 @ W2) + (b1 @ W2 + b2), atol=1e-12)
    # with a non-linearity in between it no longer collapses
    assert np.abs(l2(torch.relu(l1(x))).detach().numpy() - (x.numpy() @ (W1 @ W2) + (b1 @ W2 + b2))).max() > 1e-2


def test_keras_dense_with_xmin_roundtrips_through_dot_keras(tmp_path):
    """``xmin`` is a registered Keras object: a model using it saves to ``.keras`` and loads with equal outputs."""
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation=K.xmin)])
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    out = np.asarray(model(x))
    model.save(tmp_path / "xmin.keras")
    back = keras.models.load_model(tmp_path / "xmin.keras")
    assert back.layers[-1].activation is K.xmin
    np.testing.assert_allclose(np.asarray(back(x)), out, rtol=1e-6)
    np.testing.assert_allclose(out, R.xmin(x @ np.asarray(model.layers[-1].kernel) + np.asarray(model.layers[-1].bias)),
                               rtol=1e-5, atol=1e-6)


def test_two_torch_linear_layers_equal_one_linear_with_product_weights():
    """Eq. (affine-collapse) with real layers: Linear∘Linear = one Linear(W2 W1, W2 b1 + b2); not with a ReLU between."""
    torch.manual_seed(1)
    layer1, layer2 = torch.nn.Linear(7, 11).double(), torch.nn.Linear(11, 3).double()
    merged = torch.nn.Linear(7, 3).double()
    with torch.no_grad():
        merged.weight.copy_(layer2.weight @ layer1.weight)
        merged.bias.copy_(layer2.weight @ layer1.bias + layer2.bias)
        x = torch.randn(64, 7, dtype=torch.float64)
        torch.testing.assert_close(layer2(layer1(x)), merged(x), atol=1e-12, rtol=0)
        assert (layer2(torch.relu(layer1(x))) - merged(x)).abs().max() > 0.1


def test_tied_glu_is_torch_silu_and_untied_is_not():
    """GLU with W1 = W2, b1 = b2 equals torch's SiLU and torch's own GLU; an untied GLU does not."""
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((32, 6)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    w2, b2 = rng.standard_normal((6, 5)), rng.standard_normal(5)
    h = torch.tensor(x @ w + b)
    silu = F.silu(h).numpy()
    np.testing.assert_allclose(R.glu(x, w, b, w, b), silu, atol=1e-13, rtol=0)
    np.testing.assert_allclose(F.glu(torch.cat([h, h], dim=1), dim=1).numpy(), silu, atol=1e-13, rtol=0)
    untied = F.glu(torch.cat([h, torch.tensor(x @ w2 + b2)], dim=1), dim=1).numpy()
    np.testing.assert_allclose(R.glu(x, w, b, w2, b2), untied, atol=1e-13, rtol=0)
    assert np.abs(untied - silu).max() > 0.1
