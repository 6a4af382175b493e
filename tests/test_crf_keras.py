"""Chapter 05: the Keras 3 CRF layer against the numpy reference (and PyTorch)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from kexue.crf import numpy_ref as R  # noqa: E402
from kexue.crf.keras import CRF  # noqa: E402


def _batch(seed, B=5, T=6, K=4):
    rng = np.random.default_rng(seed)
    em = rng.normal(size=(B, T, K)) * 2
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    mask = np.arange(T)[None] < lengths[:, None]
    tags = np.where(mask, rng.integers(0, K, size=(B, T)), -1)
    return em, tags, mask


def _layer(K, start_end, seed=0):
    rng = np.random.default_rng(seed)
    crf = CRF(K, start_end=start_end, dtype="float64")
    crf.build((None, None, K))
    tr = rng.normal(size=(K, K))
    crf.trans.assign(tr)
    s = e = None
    if start_end:
        s, e = rng.normal(size=K), rng.normal(size=K)
        crf.start.assign(s)
        crf.end.assign(e)
    return crf, tr, s, e


@pytest.mark.parametrize("start_end", [False, True])
def test_keras_matches_numpy(start_end):
    em, tags, mask = _batch(0)
    crf, tr, s, e = _layer(4, start_end)
    got = keras.ops.convert_to_numpy(crf.nll(em, tags, mask))
    np.testing.assert_allclose(got, R.batch_nll(em, tags, mask, tr, s, e), atol=1e-10)
    loss = keras.ops.convert_to_numpy(crf.loss(tags, em))           # padding marked by tag -1
    np.testing.assert_allclose(loss, got, atol=1e-10)
    mean = keras.ops.convert_to_numpy(crf.nll(em, tags, mask, reduction="mean"))
    assert abs(float(mean) - got.mean()) <= 1e-10
    for cons in [(None, None, None), R.sbme_constraints()]:
        dec = crf.decode(em, mask, allowed=cons[0], allowed_start=cons[1], allowed_end=cons[2])
        np.testing.assert_array_equal(dec, R.batch_viterbi(em, mask, tr, s, e, *cons))


@pytest.mark.parametrize("n,k", [(n, k) for n in range(1, 5) for k in (1, 2, 4)])
def test_keras_log_z_matches_brute_force(n, k):
    rng = np.random.default_rng(10 * n + k)
    em = rng.normal(size=(1, n, k)) * 2
    crf, tr, _, _ = _layer(k, False, seed=n)
    got = float(keras.ops.convert_to_numpy(crf.log_partition(keras.ops.convert_to_tensor(em), keras.ops.ones((1, n), "float64")))[0])
    assert abs(got - R.brute_force_log_z(em[0], tr)) <= 1e-10


@pytest.mark.parametrize("start_end", [False, True])
def test_keras_grad_of_log_z_is_marginals(start_end):
    em, _, mask = _batch(2)
    crf, tr, s, e = _layer(4, start_end)
    x = tf.Variable(em)
    with tf.GradientTape() as tape:
        logz = tf.reduce_sum(crf.log_partition(x, tf.constant(mask, tf.float64)))
    g = tape.gradient(logz, x).numpy()
    for b in range(len(em)):
        n = int(mask[b].sum())
        np.testing.assert_allclose(g[b, :n], R.marginals(em[b, :n], tr, s, e), atol=1e-10)
        assert np.all(g[b, n:] == 0)


def test_keras_equals_torch():
    torch = pytest.importorskip("torch")
    from kexue.crf.torch import CRF as TorchCRF

    em, tags, mask = _batch(3)
    crf, tr, s, e = _layer(4, True)
    tc = TorchCRF(4, start_end=True).double()
    with torch.no_grad():
        tc.trans.copy_(torch.tensor(tr))
        tc.start.copy_(torch.tensor(s))
        tc.end.copy_(torch.tensor(e))
    a = keras.ops.convert_to_numpy(crf.nll(em, tags, mask))
    b = tc.nll(torch.tensor(em), torch.tensor(tags), torch.tensor(mask)).detach().numpy()
    np.testing.assert_allclose(a, b, atol=1e-10)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(crf.decode(em, mask)), tc.decode(torch.tensor(em), torch.tensor(mask)).numpy())


def test_keras_extreme_scores_are_finite():
    em, tags, mask = _batch(4)
    crf, tr, _, _ = _layer(4, False)
    crf.trans.assign(tr * 1e4)
    x = tf.Variable(np.sign(em) * 1e4)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(crf.nll(x, tags, mask))
    gx, gt = tape.gradient(loss, [x, crf.trans])
    assert np.isfinite(loss.numpy()) and np.all(np.isfinite(gx.numpy())) and np.all(np.isfinite(gt.numpy()))


def test_keras_layer_trains_in_a_model():
    """The loss works inside compiled (graph-mode) training with a variable sequence length."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(32, 7))
    y = np.where(np.arange(7)[None] < rng.integers(1, 8, size=(32, 1)), x % 4, -1)
    inp = keras.Input(shape=(None,), dtype="int32")
    crf = CRF(4)
    out = crf(keras.layers.Dense(4)(keras.layers.Embedding(20, 8)(inp)))
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=crf.loss)
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    losses = hist.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.parametrize("change,match", [
    (lambda em, t, m: (em[:, :, :3], t, m), "num_tags"),
    (lambda em, t, m: (em[:, :0], t[:, :0], m[:, :0]), "zero-length"),
    (lambda em, t, m: (em, t[:, :3], m), "tags must have shape"),
    (lambda em, t, m: (em, t, m[:, :3]), "mask must have shape"),
    (lambda em, t, m: (em, t + 4 * m, m), "out of range"),
    (lambda em, t, m: (np.where(np.arange(4) == 1, np.inf, em), t, m), "non-finite"),
    (lambda em, t, m: (em, t, np.concatenate([m[:, :1] & False, m[:, 1:]], 1)), "left padding"),
    (lambda em, t, m: (em, t, np.array([[1, 0, 1, 1, 1, 1]] * 5, bool)), "gap"),
])
def test_keras_bad_input(change, match):
    em, tags, mask = _batch(6)
    crf, _, _, _ = _layer(4, False)
    with pytest.raises(ValueError, match=match):
        crf.nll(*change(em, tags, mask))


@pytest.mark.parametrize("start_end", [False, True])
def test_keras_crf_round_trips_through_a_keras_file(tmp_path, start_end):
    """A model holding the CRF saves as .keras and reloads with the same weights, outputs and losses."""
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(None, 3))
    crf = CRF(4, start_end=start_end, name="crf")
    model = keras.Model(inp, crf(keras.layers.Dense(4)(inp)))
    if start_end:
        crf.start.assign(np.arange(4.0))
        crf.end.assign(-np.arange(4.0))
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    tags = np.array([[0, 1, 2, 3, 0], [1, 1, 0, -1, -1]])
    path = tmp_path / "crf.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    lc = loaded.get_layer("crf")
    assert isinstance(lc, CRF) and lc.get_config() == crf.get_config()
    em, em2 = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    np.testing.assert_allclose(em2, em, rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(lc.trans), keras.ops.convert_to_numpy(crf.trans), rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(lc.loss(tags, em2)),
                               keras.ops.convert_to_numpy(crf.loss(tags, em)), rtol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(lc.decode(em2)), keras.ops.convert_to_numpy(crf.decode(em)))
    assert keras.saving.get_registered_name(CRF) == "kexue>CRF"


def test_keras_crf_build_refuses_a_different_width():
    with pytest.raises(ValueError, match="emissions have K = 5 labels but the CRF has num_tags = 4"):
        CRF(4).build((None, None, 5))
