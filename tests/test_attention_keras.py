"""Tests for chapter 06 (attention): the Keras 3 layers against the numpy reference and Keras' own MHA."""
from __future__ import annotations

import numpy as np
import pytest

from kexue.attention import numpy_ref as ref

keras = pytest.importorskip("keras")
from kexue.attention import keras as ak  # noqa: E402

ATOL = 1e-5


def _batch(seed=0, b=3, t=7, d=16, lengths=(7, 4, 2)):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(b, t, d)).astype(np.float32), ref.length_mask(np.array(lengths), t)


@pytest.mark.parametrize("causal", [False, True])
def test_keras_mha_matches_keras_multiheadattention(causal):
    x, keep = _batch(20)
    keras.utils.set_random_seed(0)
    theirs = keras.layers.MultiHeadAttention(num_heads=4, key_dim=4, use_bias=False)
    mask = np.broadcast_to(keep[:, None, :], (3, 7, 7))
    ref_out = np.asarray(theirs(x, x, x, attention_mask=mask, use_causal_mask=causal))
    ours = ak.MultiHeadAttention(4, 4, out_dim=16)
    ours(x, x, x)
    wq, wk, wv = (np.asarray(d.kernel).reshape(16, 16) for d in (theirs._query_dense, theirs._key_dense,
                                                               theirs._value_dense))
    wo = np.asarray(theirs._output_dense.kernel).reshape(16, 16)
    ours.load_numpy(wq, wk, wv, wo)
    out = np.asarray(ours(x, x, x, key_mask=keep, causal=causal))
    np.testing.assert_allclose(out, ref_out, atol=ATOL)
    np_out = ref.multi_head_attention(x, x, x, wq, wk, wv, 4, wo=wo, key_mask=keep, causal=causal)
    np.testing.assert_allclose(np_out, ref_out, atol=ATOL)


@pytest.mark.parametrize("scale", [True, False])
def test_keras_su_layer_matches_numpy(scale):
    x, keep = _batch(21)
    layer = ak.MultiHeadAttention(2, 8, scale=scale)
    out, w = layer(x, key_mask=keep, query_mask=keep, return_weights=True)
    np_out, np_w = ref.multi_head_attention(x, x, x, np.asarray(layer.wq), np.asarray(layer.wk),
                                            np.asarray(layer.wv), 2, key_mask=keep, query_mask=keep, scale=scale,
                                            return_weights=True)
    np.testing.assert_allclose(np.asarray(out), np_out, atol=ATOL)
    np.testing.assert_allclose(np.asarray(w), np_w, atol=ATOL)


def test_keras_matches_torch_with_the_same_weights():
    torch = pytest.importorskip("torch")
    from kexue.attention import torch as at

    x, keep = _batch(22)
    tl = at.MultiHeadAttention(4, 4, 16, out_dim=8)
    w = [p.weight.detach().numpy().T for p in (tl.q_proj, tl.k_proj, tl.v_proj, tl.o_proj)]
    kl = ak.MultiHeadAttention(4, 4, out_dim=8)
    kl(x)
    kl.load_numpy(*w)
    a = tl(torch.tensor(x), key_mask=torch.tensor(keep), causal=True).detach().numpy()
    b = np.asarray(kl(x, key_mask=keep, causal=True))
    np.testing.assert_allclose(a, b, atol=ATOL)


def test_keras_padded_and_fully_masked():
    import tensorflow as tf

    x, keep = _batch(23, lengths=(7, 0, 3))
    layer = ak.MultiHeadAttention(4, 4, out_dim=16)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = layer(xv, key_mask=keep, causal=True)
        loss = tf.reduce_sum(out ** 2)
    grads = tape.gradient(loss, [xv, *layer.trainable_weights])
    assert np.all(np.isfinite(np.asarray(out)))
    assert all(np.all(np.isfinite(np.asarray(g))) for g in grads)
    out = np.asarray(layer(x, key_mask=keep))
    alone = np.asarray(layer(x[2:3, :3]))
    np.testing.assert_allclose(out[2, :3], alone[0], atol=ATOL)


def test_keras_bad_masks():
    x, keep = _batch(24)
    layer = ak.MultiHeadAttention(4, 4)
    with pytest.raises(ValueError, match="boolean"):
        layer(x, key_mask=keep.astype("float32"))
    with pytest.raises(ValueError, match="shape"):
        layer(x, key_mask=keep[:, :5])


@pytest.mark.parametrize("layout", ref.LAYOUTS)
def test_keras_position_embedding(layout):
    x = np.zeros((2, 9, 8), np.float32)
    out = np.asarray(ak.PositionEmbedding("sum", layout=layout)(x))
    np.testing.assert_allclose(out[1], ref.sinusoidal_position_embedding(9, 8, layout), atol=1e-5)
    cat = np.asarray(ak.PositionEmbedding("concat", size=4, layout=layout)(x))
    assert cat.shape == (2, 9, 12)
    np.testing.assert_allclose(cat[1, :, :4], ref.sinusoidal_position_embedding(9, 4, layout), atol=1e-5)
