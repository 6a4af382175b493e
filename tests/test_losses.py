"""Tests for chapter 01 (kexue.losses): numpy reference and PyTorch versions."""
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import minimize, minimize_scalar

from kexue.losses import numpy_ref as ref

torch = pytest.importorskip("torch")
from kexue.losses import experiment as lx  # noqa: E402
from kexue.losses import torch as tl  # noqa: E402

torch.set_num_threads(1)  # tiny tensors: threads only add contention


def _batch(seed=0, b=16, n=5):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=3.0, size=(b, n)), rng.integers(0, n, b)


def test_import_is_framework_free():
    code = "import sys, kexue.losses, kexue.losses.numpy_ref; print('torch' in sys.modules or 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.37])
def test_mixture_equals_smoothed_targets(eps):
    z, y = _batch()
    direct = -(ref.smoothed_targets(y, z.shape[1], eps) * ref.log_softmax(z)).sum(1)
    np.testing.assert_allclose(ref.mixed_cross_entropy(z, y, eps), direct, atol=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_torch_mixed_equals_label_smoothing_and_numpy(eps):
    z, y = _batch(1)
    zt, yt = torch.tensor(z), torch.tensor(y)
    ours = tl.mixed_cross_entropy(zt, yt, eps, reduction="none").numpy()
    builtin = torch.nn.functional.cross_entropy(zt, yt, label_smoothing=eps, reduction="none").numpy()
    np.testing.assert_allclose(ours, builtin, atol=1e-10)
    np.testing.assert_allclose(ours, ref.mixed_cross_entropy(z, y, eps), atol=1e-10)


@pytest.mark.parametrize("n,eps", [(2, 0.2), (3, 0.1), (10, 0.1), (10, 0.01), (100, 0.3)])
def test_optimal_gap_matches_numerical_optimum(n, eps):
    def loss(t):  # logits t * e_1, label 0
        z = np.zeros((1, n))
        z[0, 0] = t
        return ref.mixed_cross_entropy(z, [0], eps)[0]

    res = minimize_scalar(loss, bounds=(0.0, 40.0), method="bounded", options={"xatol": 1e-10})
    assert abs(res.x - ref.optimal_logit_gap(n, eps)) < 1e-4
    assert abs(res.fun - ref.min_mixed_loss(n, eps)) < 1e-9


def test_known_numbers():
    assert ref.optimal_logit_gap(3, 0.1) == pytest.approx(np.log(28))
    assert ref.optimal_logit_gap(10, 0.1) == pytest.approx(np.log(91))
    assert ref.min_mixed_loss(3, 0.1) == pytest.approx(0.29114, abs=1e-5)
    assert ref.min_mixed_loss(10, 0.1) == pytest.approx(0.50029, abs=1e-5)
    assert ref.optimal_logit_gap(10, 0.0) == np.inf


def test_free_logits_optimum_is_smoothed_target():
    n, eps = 4, 0.2
    res = minimize(lambda z: ref.mixed_cross_entropy(z[None], [2], eps)[0], np.zeros(n), method="BFGS",
                   options={"gtol": 1e-10})
    p = np.exp(ref.log_softmax(res.x[None]))[0]
    np.testing.assert_allclose(p, ref.smoothed_targets([2], n, eps)[0], atol=1e-5)


def test_plain_ce_has_no_finite_minimum():
    z, _ = _batch(2, b=1, n=6)
    z = z / (z.max() - z.min())  # logit range 1 at t = 1
    y = [int(np.argmax(z))]
    ts = np.linspace(0.1, 30, 300)
    vals = np.array([ref.mixed_cross_entropy(t * z, y, 0.0)[0] for t in ts])
    assert np.all(np.diff(vals) < 0) and vals[-1] < 0.01 * vals[0]
    mixed = np.array([ref.mixed_cross_entropy(t * z, y, 0.1)[0] for t in ts])
    assert 0 < np.argmin(mixed) < len(ts) - 1  # interior minimum


def _center_batch(seed=3, b=12, k=4, d=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, b)
    y[:2] = [0, 0]  # a repeated class
    y[y == k - 1] = 0  # and an absent one (gradient must be 0 there)
    return rng.normal(size=(b, d)), y, rng.normal(size=(k, d))


def test_center_grad_closed_form_vs_finite_differences():
    x, y, c = _center_batch()
    gx, gc = ref.center_loss_grad(x, y, c)
    h = 1e-6
    for arr, g in ((x, gx), (c, gc)):
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            a1, a2 = arr.copy(), arr.copy()
            a1[idx] += h
            a2[idx] -= h
            f = (lambda a: ref.center_loss(a, y, c).mean()) if arr is x else (lambda a: ref.center_loss(x, y, a).mean())
            num[idx] = (f(a1) - f(a2)) / (2 * h)
        np.testing.assert_allclose(g, num, atol=1e-7)
    assert np.all(gc[3] == 0)


def test_center_torch_autograd_vs_closed_form():
    x, y, c = _center_batch()
    module = tl.CenterLoss(4, 3, reduction="mean").double()
    with torch.no_grad():
        module.centres.weight.copy_(torch.tensor(c))
    xt = torch.tensor(x, requires_grad=True)
    loss = module(xt, torch.tensor(y))
    loss.backward()
    gx, gc = ref.center_loss_grad(x, y, c)
    assert float(loss.detach()) == pytest.approx(ref.center_loss(x, y, c).mean(), abs=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), gx, atol=1e-12)
    np.testing.assert_allclose(module.centres.weight.grad.numpy(), gc, atol=1e-12)


def test_compactness():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 50)
    mu = np.array([[0, 0], [10, 0], [0, 10]], float)
    tight = mu[y] + rng.normal(scale=0.1, size=(150, 2))
    loose = mu[y] + rng.normal(scale=3.0, size=(150, 2))
    assert ref.compactness(tight, y) < 0.02 < ref.compactness(loose, y)
    assert ref.compactness(7.0 * loose, y) == pytest.approx(ref.compactness(loose, y))


@pytest.mark.parametrize("eps", [1.0, -0.1, 1.5])
def test_bad_eps(eps):
    z, y = _batch()
    with pytest.raises(ValueError, match="eps must lie in"):
        ref.mixed_cross_entropy(z, y, eps)
    with pytest.raises(ValueError, match="eps must lie in"):
        tl.mixed_cross_entropy(torch.tensor(z), torch.tensor(y), eps)


def test_bad_labels_and_shapes():
    z, y = _batch(n=5)
    bad = y.copy()
    bad[0] = 5
    with pytest.raises(ValueError, match="label out of range"):
        ref.mixed_cross_entropy(z, bad)
    with pytest.raises(ValueError, match="label out of range"):
        tl.mixed_cross_entropy(torch.tensor(z), torch.tensor(-1 - 0 * y))
    with pytest.raises(ValueError, match="shape mismatch"):
        ref.mixed_cross_entropy(z, y[:-1])
    with pytest.raises(ValueError, match="shape mismatch"):
        tl.mixed_cross_entropy(torch.tensor(z), torch.tensor(y[:-1]))
    x, yc, c = _center_batch()
    with pytest.raises(ValueError, match="shape mismatch"):
        ref.center_loss(x[:, :2], yc, c)
    with pytest.raises(ValueError, match="shape mismatch"):
        tl.center_loss(torch.tensor(x), torch.tensor(yc), torch.tensor(c[:, :2]))
    with pytest.raises(ValueError, match="label out of range"):
        ref.center_loss(x, yc + 4, c)


def test_train_feature_net_is_seeded_and_learns():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    patterns = rng.random((3, 16)) > 0.5
    x = (rng.random((300, 16)) * 60 + 150 * patterns[y]).astype(np.uint8).reshape(300, 4, 4)
    runs = [lx.train_feature_net("center", x[:200], y[:200], x[200:], y[200:], seed=1, epochs=8,
                                 batch_size=20, lr=3e-3, device="cpu") for _ in range(2)]
    assert runs[0].accuracy == runs[1].accuracy and runs[0].losses == runs[1].losses
    assert runs[0].losses[-1] < runs[0].losses[0]
    assert runs[0].accuracy > 0.6
    with pytest.raises(ValueError, match="kind must be one of"):
        lx.train_feature_net("hinge", x, y, x, y, seed=0)


# ----------------------------------------------------------------------------- the triplet loss
def _triplets(seed=0, n=40, d=6):
    rng = np.random.default_rng(seed)
    q, r, w = (rng.normal(size=(n, d)) for _ in range(3))
    r[: n // 2] = q[: n // 2] + 0.1 * r[: n // 2]     # these are past the margin
    return q, r, w


def test_cosine_against_scipy():
    from scipy.spatial.distance import cosine as cos_distance
    q, r, _ = _triplets()
    np.testing.assert_allclose(ref.cosine(q, r), [1 - cos_distance(a, b) for a, b in zip(q, r)], atol=1e-12)


def test_triplet_loss_zero_past_the_margin_and_positive_inside():
    q, r, w = _triplets()
    gap = ref.cosine(q, r) - ref.cosine(q, w)
    loss = ref.triplet_hinge_loss(q, r, w, margin=0.2)
    assert np.all(loss[gap > 0.2] == 0.0) and np.all(loss[gap < 0.2] > 0)
    np.testing.assert_allclose(loss[gap < 0.2], 0.2 - gap[gap < 0.2], atol=1e-12)
    assert (gap > 0.2).any() and (gap < 0.2).any()


def test_triplet_gradient_by_finite_differences():
    q, r, w = _triplets(seed=1, n=12)
    grads = ref.triplet_hinge_grad(q, r, w, margin=0.2)
    h = 1e-6
    for k, x in enumerate((q, r, w)):
        num = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            args_p = [v.copy() for v in (q, r, w)]
            args_m = [v.copy() for v in (q, r, w)]
            args_p[k][idx] += h
            args_m[k][idx] -= h
            num[idx] = (ref.triplet_hinge_loss(*args_p, margin=0.2).sum()
                        - ref.triplet_hinge_loss(*args_m, margin=0.2).sum()) / (2 * h)
        np.testing.assert_allclose(grads[k], num, atol=1e-6)
    past = ref.triplet_hinge_loss(q, r, w, margin=0.2) == 0
    assert past.any() and all(np.all(g[past] == 0.0) for g in grads)


def test_triplet_bad_input():
    q, r, w = _triplets()
    with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
        ref.triplet_hinge_loss(q, r, w, margin=-0.1)
    with pytest.raises(ValueError, match="shape mismatch"):
        ref.triplet_hinge_loss(q, r[:, :3], w)
    with pytest.raises(ValueError, match="zero vector"):
        ref.cosine(np.zeros((1, 3)), np.ones((1, 3)))


def test_faq_questions_and_answers_share_topics_not_words():
    data = ref.make_faq(n_per_topic=10, n_topics=5, seed=3)
    assert data.questions.shape == data.answers.shape == (50, 8)
    assert data.questions.min() >= 1 and data.answers.max() < data.vocab_size
    for k in range(5):
        q_words = set(data.questions[data.topics == k].ravel())
        a_words = set(data.answers[data.topics == k].ravel())
        other_a = set(data.answers[data.topics != k].ravel())
        fillers = q_words & a_words
        assert fillers and fillers <= other_a        # only filler words are common to questions and answers
    wrong = ref.wrong_answers(data.topics, seed=0)
    assert np.all(data.topics[wrong] != data.topics)


def test_faq_and_retrieval_bad_input():
    with pytest.raises(ValueError, match="topic_share"):
        ref.make_faq(topic_share=0)
    with pytest.raises(ValueError, match="n_topics must be an integer >= 2, got 1"):
        ref.make_faq(n_topics=1)
    with pytest.raises(ValueError, match="two different topics"):
        ref.wrong_answers(np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="correct must have shape"):
        ref.top1_retrieval(np.zeros((3, 4)), [0, 1])
    assert ref.top1_retrieval(np.eye(3), [0, 1, 0]) == pytest.approx(2 / 3)


def test_center_loss_gives_more_compact_features_on_digits():
    """The post's claim for center loss, on scikit-learn's 8×8 digits (offline): with λ > 0 the
    2-D features are more compact (intra / inter distance) than with plain CE, over 2 seeds."""
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x = (x * 255 / 16).astype(np.uint8).reshape(-1, 8, 8)           # train_feature_net scales by 1/255
    comp = {"ce": [], "center": []}
    for seed in (0, 1):
        for kind in comp:
            r = lx.train_feature_net(kind, x[:1400], y[:1400], x[1400:], y[1400:], seed=seed, epochs=30,
                                    batch_size=50, lr=3e-3, lam=0.2)
            assert r.accuracy > 0.75, (kind, seed, r.accuracy)
            comp[kind].append(r.compactness)
    # seeds 0, 1: CE 0.203, 0.243; center 0.178, 0.193
    assert np.mean(comp["center"]) < 0.95 * np.mean(comp["ce"])
