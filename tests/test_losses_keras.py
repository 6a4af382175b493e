"""Tests for chapter 01 (kexue.losses.keras): Keras 3 losses and the three center-loss models."""
import numpy as np
import pytest

from kexue.losses import numpy_ref as ref

keras = pytest.importorskip("keras")
import kexue  # noqa: E402
from kexue.losses import keras as kl  # noqa: E402


def _probs_batch(seed=0, b=16, n=6):
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=(b, n))
    return z, rng.integers(0, n, b)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.4])
def test_keras_mixed_equals_label_smoothing_and_numpy(eps):
    z, y = _probs_batch()
    onehot = np.eye(z.shape[1])[y].astype("float32")
    p = np.exp(ref.log_softmax(z)).astype("float32")
    ours = np.asarray(kl.make_mixed_crossentropy(eps)(onehot, p))
    ours_logits = np.asarray(kl.make_mixed_crossentropy(eps, from_logits=True)(onehot, z.astype("float32")))
    builtin = np.asarray(keras.losses.CategoricalCrossentropy(label_smoothing=eps, reduction=None)(onehot, p))
    expected = ref.mixed_cross_entropy(z, y, eps)
    np.testing.assert_allclose(ours, builtin, atol=1e-5)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    np.testing.assert_allclose(ours_logits, expected, atol=1e-5)


def test_bad_eps_keras():
    for eps in (1.0, -0.01):
        with pytest.raises(ValueError, match="eps must lie in"):
            kl.make_mixed_crossentropy(eps)


def test_keras_center_loss_value_and_gradients():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("gradient check uses tf.GradientTape")
    rng = np.random.default_rng(4)
    x, y, c = rng.normal(size=(10, 3)), rng.integers(0, 3, 10), rng.normal(size=(4, 3))
    xv, cv = tf.Variable(x), tf.Variable(c)
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(kl.center_loss(xv, y, cv))
    gx, gc = tape.gradient(loss, [xv, cv])
    ex, ec = ref.center_loss_grad(x, y, c)
    assert float(loss) == pytest.approx(ref.center_loss(x, y, c).mean(), abs=1e-12)
    np.testing.assert_allclose(gx.numpy(), ex, atol=1e-12)
    np.testing.assert_allclose(tf.convert_to_tensor(gc).numpy(), ec, atol=1e-12)
    assert np.all(ec[3] == 0)


@pytest.fixture(scope="module")
def models():
    kexue.seed_everything(0)
    m = kl.build_center_loss_models(input_shape=(6, 6), n_classes=4, feat_dim=2, hidden=16)
    kl.compile_center_loss(m.train, lam=0.2)
    return m


def _data(b=32):
    rng = np.random.default_rng(1)
    return rng.random((b, 6, 6)).astype("float32"), rng.integers(0, 4, b)


def test_three_center_loss_versions_agree(models):
    x, y = _data()
    yy = y[:, None].astype("int32")
    trick = models.train.evaluate([x, yy], {"softmax": y, "l2_loss": np.zeros((len(y), 1))},
                                  batch_size=len(y), verbose=0, return_dict=True)
    added = kl.build_add_loss_model(models, lam=0.2)
    added.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    via_add_loss = added.evaluate([x, yy], y, batch_size=len(y), verbose=0, return_dict=True)["loss"]
    cl = kl.CenterLossModel(models.features, models.centres, lam=0.2)
    cl.compile(optimizer="adam")
    via_compute_loss = cl.evaluate(x, y, batch_size=len(y), verbose=0, return_dict=True)
    # independent numpy computation from the features and the centre weights
    feats, probs = (np.asarray(a, dtype=np.float64) for a in models.features(x))
    centres = np.asarray(models.centres.embeddings, dtype=np.float64)
    ce = -np.log(probs[np.arange(len(y)), y]).mean()
    cen = ref.center_loss(feats, y, centres).mean()
    assert trick["loss"] == pytest.approx(ce + 0.2 * cen, abs=1e-5)
    assert trick["l2_loss_center"] == pytest.approx(cen, abs=1e-5)
    assert trick["softmax_ce"] == pytest.approx(ce, abs=1e-5)
    assert via_add_loss == pytest.approx(trick["loss"], abs=1e-5)
    assert via_compute_loss["loss"] == pytest.approx(trick["loss"], abs=1e-5)
    assert via_compute_loss["center"] == pytest.approx(cen, abs=1e-5)


def test_inference_model_shares_weights(models):
    x, y = _data(8)
    before = np.asarray(models.train([x, y[:, None].astype("int32")])[0])
    np.testing.assert_allclose(np.asarray(models.inference(x)), before, atol=1e-6)
    layer = models.inference.get_layer("softmax")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + np.arange(len(bias), dtype="float32")])
    after = np.asarray(models.train([x, y[:, None].astype("int32")])[0])
    assert np.max(np.abs(after - before)) > 1e-3
    np.testing.assert_allclose(np.asarray(models.inference(x)), after, atol=1e-6)
    layer.set_weights([kernel, bias])


def test_trick_training_lowers_loss_and_moves_centres():
    kexue.seed_everything(2)
    m = kl.build_center_loss_models(input_shape=(6, 6), n_classes=4, feat_dim=2, hidden=16)
    kl.compile_center_loss(m.train, lam=0.2, lr=1e-2)
    x, y = _data(64)
    c0 = np.asarray(m.centres.embeddings).copy()
    hist = m.train.fit([x, y[:, None].astype("int32")], {"softmax": y, "l2_loss": np.zeros((64, 1))},
                       batch_size=16, epochs=5, verbose=0).history
    assert hist["loss"][-1] < hist["loss"][0]
    assert np.max(np.abs(np.asarray(m.centres.embeddings) - c0)) > 1e-3


def test_bad_lambda():
    with pytest.raises(ValueError, match="lam must be >= 0"):
        kl.compile_center_loss(kl.build_center_loss_models((4, 4), 3, 2, 8).train, lam=-1.0)


# ----------------------------------------------------------------------------- the triplet loss
def test_dot_normalize_is_cosine():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20, 7)), rng.normal(size=(20, 7))
    out = keras.ops.convert_to_numpy(keras.layers.Dot(axes=-1, normalize=True)([a, b]))[:, 0]
    np.testing.assert_allclose(out, ref.cosine(a, b), atol=1e-6)


def test_embedding_is_one_hot_dense_without_bias():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(1)
    E, ids, upstream = rng.normal(size=(9, 4)), np.array([2, 2, 5, 0, 8, 1]), rng.normal(size=(6, 4))
    emb, dense = keras.layers.Embedding(9, 4), keras.layers.Dense(4, use_bias=False)
    emb.build((None,))
    dense.build((None, 9))
    emb.set_weights([E])
    dense.set_weights([E])
    with tf.GradientTape(persistent=True) as tape:
        out_e, out_d = emb(ids), dense(tf.one_hot(ids, 9))
        l_e, l_d = tf.reduce_sum(out_e * upstream), tf.reduce_sum(out_d * upstream)
    np.testing.assert_allclose(out_e.numpy(), out_d.numpy(), atol=1e-6)
    np.testing.assert_allclose(E[ids], out_d.numpy(), atol=1e-6)       # and both are the rows of E
    g_e = tf.convert_to_tensor(tape.gradient(l_e, emb.trainable_weights[0])).numpy()
    g_d = tape.gradient(l_d, dense.trainable_weights[0]).numpy()
    np.testing.assert_allclose(g_e, g_d, atol=1e-6)
    assert np.all(g_e[[3, 4, 6, 7]] == 0)


def test_triplet_layer_value_and_gradients_equal_numpy():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(2)
    q, r, w = (rng.normal(size=(30, 5)) for _ in range(3))
    r[:15] = q[:15] + 0.1 * r[:15]
    vs = [tf.Variable(v) for v in (q, r, w)]
    with tf.GradientTape() as tape:
        loss = kl.TripletHinge(margin=0.2)(vs)[:, 0]
        total = tf.reduce_sum(loss)
    # Keras layers compute in float32 (inputs are autocast), hence the tolerances
    np.testing.assert_allclose(loss.numpy(), ref.triplet_hinge_loss(q, r, w, margin=0.2), atol=1e-6)
    grads = tape.gradient(total, vs)
    for g, g_ref in zip(grads, ref.triplet_hinge_grad(q, r, w, margin=0.2)):
        np.testing.assert_allclose(g.numpy(), g_ref, atol=1e-5)
    past = loss.numpy() == 0
    assert past.any() and (~past).any()
    assert all(np.all(g.numpy()[past] == 0.0) for g in grads)


def test_triplet_bad_input_keras():
    with pytest.raises(ValueError, match="margin must be >= 0"):
        kl.TripletHinge(margin=-1.0)
    with pytest.raises(ValueError, match="vocab_size >= 2"):
        kl.build_triplet_models(1, 8)


def test_triplet_training_lowers_loss_and_improves_retrieval():
    """The post's recipe: loss as the output, y_pred as the loss, dummy targets, an inference
    model on the shared encoders. Training lowers the loss and ranks right answers first more often."""
    kexue.seed_everything(0)
    faq = ref.make_faq(n_per_topic=40, n_topics=20, topic_share=0.5, seed=0)
    train = np.arange(len(faq.topics)) < 600
    held = np.flatnonzero(~train)
    answers = np.array([held[faq.topics[held] == k][0] for k in range(20)])
    questions = np.setdiff1d(held, answers)
    wrong = ref.wrong_answers(faq.topics[train], seed=0)
    x = [faq.questions[train], faq.answers[train], faq.answers[train][wrong]]
    dummy = np.zeros((int(train.sum()), 1))
    m = kl.build_triplet_models(faq.vocab_size, 8, dim=32, margin=0.2)
    m.train.compile(optimizer=keras.optimizers.Adam(1e-2), loss=kl.identity_loss)

    def top1():
        n = len(questions)
        s = m.score.predict([np.repeat(faq.questions[questions], 20, axis=0), np.tile(faq.answers[answers], (n, 1))],
                            verbose=0).reshape(n, 20)
        # the inference model's cosine = cosine of the two encoders' outputs, computed in numpy
        qv = m.question_encoder.predict(faq.questions[questions[:3]], verbose=0)
        av = m.answer_encoder.predict(faq.answers[answers], verbose=0)
        np.testing.assert_allclose(s[:3], [ref.cosine(np.repeat(v[None], 20, 0), av) for v in qv], atol=1e-5)
        return ref.top1_retrieval(s, faq.topics[questions])

    before_loss, before = m.train.evaluate(x, dummy, verbose=0), top1()
    m.train.fit(x, dummy, epochs=5, batch_size=32, verbose=0)
    after_loss, after = m.train.evaluate(x, dummy, verbose=0), top1()
    assert after_loss < 0.5 * before_loss
    # seed 0: 0.04 before (chance 0.05), 0.79 after
    assert after > max(3 * before, 0.5)


def test_only_the_retracing_notice_is_filtered():
    import logging
    logger = logging.getLogger("tensorflow")
    notice = logging.makeLogRecord({"msg": "5 out of the last 5 calls to <function f at 0x7f00> triggered "
                                           "tf.function retracing. Tracing is expensive"})
    assert not logger.filter(notice)
    assert logger.filter(logging.makeLogRecord({"msg": "Some other TensorFlow warning"}))
