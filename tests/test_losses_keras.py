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
    m = kl.build_center_loss_models(input_shape=(6, 6), n_classes=4, feat_dim=2, hidden=16, seed=0)
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
    m = kl.build_center_loss_models(input_shape=(6, 6), n_classes=4, feat_dim=2, hidden=16, seed=2)
    kl.compile_center_loss(m.train, lam=0.2, lr=1e-2)
    x, y = _data(64)
    c0 = np.asarray(m.centres.embeddings).copy()
    hist = m.train.fit([x, y[:, None].astype("int32")], {"softmax": y, "l2_loss": np.zeros((64, 1))},
                       batch_size=16, epochs=5, verbose=0).history
    assert hist["loss"][-1] < hist["loss"][0]
    assert np.max(np.abs(np.asarray(m.centres.embeddings) - c0)) > 1e-3


def test_bad_lambda():
    with pytest.raises(ValueError, match="the center-loss weight lam must be a finite number >= 0, got -1.0"):
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
    with pytest.raises(ValueError, match="the margin must be a finite number >= 0, got -1.0"):
        kl.TripletHinge(margin=-1.0)
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 2, got 1"):
        kl.build_triplet_models(1, 8)


def test_triplet_training_lowers_loss_and_improves_retrieval():
    """The post's recipe: loss as the output, y_pred as the loss, dummy targets, an inference
    model on the shared encoders. Training lowers the loss and ranks right answers first more often."""
    faq = ref.make_faq(n_per_topic=40, n_topics=20, topic_share=0.5, seed=0)
    train = np.arange(len(faq.topics)) < 600
    held = np.flatnonzero(~train)
    answers = np.array([held[faq.topics[held] == k][0] for k in range(20)])
    questions = np.setdiff1d(held, answers)
    wrong = ref.wrong_answers(faq.topics[train], seed=0)
    x = [faq.questions[train], faq.answers[train], faq.answers[train][wrong]]
    dummy = np.zeros((int(train.sum()), 1))
    m = kl.build_triplet_models(faq.vocab_size, 8, dim=32, margin=0.2, seed=0)
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


# ----------------------------------------------------------------------------- the twin of the numpy loss
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.4])
def test_keras_mixed_cross_entropy_is_the_numpy_twin(eps):
    z, y = _probs_batch(3)
    ours = np.asarray(kl.mixed_cross_entropy(z, y, eps))
    np.testing.assert_allclose(ours, ref.mixed_cross_entropy(z, y, eps), atol=1e-12)
    assert ours.shape == (len(y),)
    mean = float(kl.mixed_cross_entropy(z, y, eps, reduction="mean"))
    assert mean == pytest.approx(ref.mixed_cross_entropy(z, y, eps, reduction="mean"), abs=1e-12)
    compile_loss = kl.make_mixed_crossentropy(eps, from_logits=True)(np.eye(z.shape[1])[y], z)
    np.testing.assert_allclose(np.asarray(compile_loss), ours, atol=1e-10)


# ----------------------------------------------------------------------------- .keras round trips
def _roundtrip(model, inputs, tmp_path, name):
    out = model(inputs)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    back = keras.models.load_model(path)
    got = back(inputs)
    flat = lambda o: [np.asarray(a) for a in (o if isinstance(o, (list, tuple)) else [o])]  # noqa: E731
    assert len(flat(got)) == len(flat(out))
    for a, b in zip(flat(got), flat(out)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    return back


def test_roundtrip_center_distance_model(tmp_path):
    m = kl.build_center_loss_models(input_shape=(6, 6), n_classes=4, feat_dim=2, hidden=16, seed=5)
    x, y = _data(8)
    back = _roundtrip(m.train, [x, y[:, None].astype("int32")], tmp_path, "train")
    assert type(back.get_layer("l2_loss")) is kl.CenterDistance


def test_roundtrip_center_loss_penalty(tmp_path):
    m = kl.build_center_loss_models(input_shape=(6, 6), n_classes=4, feat_dim=2, hidden=16, seed=6)
    added = kl.build_add_loss_model(m, lam=0.3)
    x, y = _data(8)
    inputs = [x, y[:, None].astype("int32")]
    back = _roundtrip(added, inputs, tmp_path, "add_loss")
    layer = back.get_layer("center_penalty")
    assert type(layer) is kl.CenterLossPenalty and layer.lam == 0.3
    np.testing.assert_array_equal(np.asarray(layer.centres.embeddings), np.asarray(m.centres.embeddings))
    added(inputs)
    np.testing.assert_allclose([float(v) for v in back.losses], [float(v) for v in added.losses], rtol=1e-6)


def test_roundtrip_center_loss_model(tmp_path):
    m = kl.build_center_loss_models(input_shape=(6, 6), n_classes=4, feat_dim=2, hidden=16, seed=7)
    x, y = _data(8)
    model = kl.CenterLossModel(m.features, m.centres, lam=0.4, name="cl")
    back = _roundtrip(model, x, tmp_path, "compute_loss")
    assert type(back) is kl.CenterLossModel and back.lam == 0.4
    np.testing.assert_array_equal(np.asarray(back.centres.embeddings), np.asarray(m.centres.embeddings))
    probs, feats = model(x)
    loss = back.compute_loss(x, y, back(x))
    expected = (-np.log(np.asarray(probs, np.float64)[np.arange(8), y]).mean()
                + 0.4 * ref.center_loss(np.asarray(feats), y, np.asarray(m.centres.embeddings)).mean())
    assert float(loss) == pytest.approx(expected, abs=1e-5)


def test_roundtrip_triplet_hinge(tmp_path):
    t = kl.build_triplet_models(12, 5, dim=4, margin=0.3, seed=0)
    ids = np.random.default_rng(1).integers(0, 12, (6, 5))
    ids[:, 0] = 1 + ids[:, 0] % 11                                  # no all-padding row
    back = _roundtrip(t.train, [ids, ids[::-1], ids[:, ::-1]], tmp_path, "triplet")
    layer = back.get_layer("triplet_loss")
    assert type(layer) is kl.TripletHinge and layer.margin == 0.3
    assert kl.TripletHinge.from_config(kl.TripletHinge(0.7).get_config()).margin == 0.7


def test_keras_builders_seed_their_weights():
    w = [np.asarray(kl.build_center_loss_models((4, 4), 3, 2, 8, seed=s).centres.embeddings) for s in (3, 3, 4)]
    np.testing.assert_array_equal(w[0], w[1])
    assert np.abs(w[0] - w[2]).max() > 0
    t = [kl.build_triplet_models(9, 3, dim=2, seed=s).question_encoder.get_weights()[0] for s in (1, 1)]
    np.testing.assert_array_equal(t[0], t[1])
