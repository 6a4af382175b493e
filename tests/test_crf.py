"""Chapter 05: the numpy reference CRF against brute force, and the PyTorch layer against both."""
from __future__ import annotations

import numpy as np
import pytest

from kexue.crf import numpy_ref as R

torch = pytest.importorskip("torch")
from kexue.crf.torch import CRF  # noqa: E402

SIZES = [(n, k) for n in range(1, 5) for k in range(1, 5)]


def _random(rng, T, K, scale=2.0):
    return rng.normal(size=(T, K)) * scale, rng.normal(size=(K, K)), rng.normal(size=K), rng.normal(size=K)


# ----------------------------------------------------------------------------- numpy reference
@pytest.mark.parametrize("n,k", SIZES)
@pytest.mark.parametrize("start_end", [False, True])
def test_recursion_matches_brute_force(n, k, start_end):
    rng = np.random.default_rng(100 * n + k)
    h, tr, s, e = _random(rng, n, k)
    s, e = (s, e) if start_end else (None, None)
    assert abs(R.log_partition(h, tr, s, e) - R.brute_force_log_z(h, tr, s, e)) <= 1e-10
    best, score = R.viterbi(h, tr, s, e)
    bbest, bscore = R.brute_force_best_path(h, tr, s, e)
    np.testing.assert_array_equal(best, bbest)
    assert abs(score - bscore) <= 1e-10
    np.testing.assert_allclose(R.marginals(h, tr, s, e), R.brute_force_marginals(h, tr, s, e), atol=1e-12)


def test_probability_space_recursion_and_paths_sum_to_one():
    rng = np.random.default_rng(1)
    h, tr, _, _ = _random(rng, 5, 4, scale=1.0)
    logz = R.log_partition(h, tr)
    assert abs(R.log_partition_prob_space(h, tr) - logz) <= 1e-12
    total = sum(np.exp(R.path_score(h, p, tr) - logz) for p in R.all_paths(5, 4))
    assert abs(total - 1.0) <= 1e-12


from _timing import best_time as _best_time  # noqa: E402


def test_recursion_cost_linear_brute_force_exponential():
    """Claim: the recursion costs O(n k²), enumeration O(kⁿ). Measured with wide margins
    (k = 4: brute force should grow 16× over two positions, the recursion about 1.3×)."""
    rng = np.random.default_rng(2)
    tr = rng.normal(size=(4, 4))
    h7, h9 = rng.normal(size=(7, 4)), rng.normal(size=(9, 4))
    brute7, brute9 = _best_time(lambda: R.brute_force_log_z(h7, tr)), _best_time(lambda: R.brute_force_log_z(h9, tr))
    rec9 = _best_time(lambda: R.log_partition(h9, tr))
    rec_long = _best_time(lambda: R.log_partition(rng.normal(size=(90, 4)), tr))
    assert brute9 > 8 * brute7
    assert brute9 > 20 * rec9
    assert rec_long < 40 * rec9          # ten times longer: about ten times the work, far from 4^81


def test_transposed_transition_is_caught():
    """Reducing over the wrong axis (to instead of from) gives a different log Z."""
    rng = np.random.default_rng(2)
    h, tr, _, _ = _random(rng, 4, 3)
    assert abs(R.log_partition(h, tr.T) - R.brute_force_log_z(h, tr)) > 1e-3


def test_zero_transitions_is_per_label_softmax():
    rng = np.random.default_rng(3)
    h = rng.normal(size=(6, 4))
    y = rng.integers(0, 4, size=6)
    nll = R.log_partition(h, np.zeros((4, 4))) - R.path_score(h, y, np.zeros((4, 4)))
    ce = -np.sum(h[np.arange(6), y] - R.logsumexp(h, axis=1))
    assert abs(nll - ce) <= 1e-12


def test_constrained_viterbi_fixes_the_illegal_argmax():
    p = np.array([[.1, .6, .1, .2], [.1, .5, .2, .2], [.3, .2, .1, .4]])
    argmax = "".join(R.SBME[i] for i in p.argmax(1))
    assert argmax == "bbe" and R.count_illegal(argmax) == 1
    A, As, Ae = R.sbme_constraints()
    best, _ = R.viterbi(np.log(p), np.zeros((4, 4)), None, None, A, As, Ae)
    assert "".join(R.SBME[i] for i in best) == "bme"


def test_count_illegal():
    assert R.count_illegal("sbes") == 0
    assert R.count_illegal("bbbb") == 4        # b→b three times, ends in b
    assert R.count_illegal("m") == 2           # illegal start and end
    with pytest.raises(ValueError, match="s/b/m/e"):
        R.count_illegal("sx")


@pytest.mark.parametrize("bad,match", [
    (dict(h=np.zeros((0, 3))), "zero-length"),
    (dict(h=np.array([[0.0, np.nan, 0.0]])), "non-finite"),
    (dict(tr=np.zeros((2, 2))), "trans must have shape"),
    (dict(tags=np.array([0, 3])), "out of range"),
    (dict(tags=np.array([0])), "tags must have shape"),
])
def test_numpy_bad_input(bad, match):
    args = dict(h=np.zeros((2, 3)), tags=np.array([0, 1]), tr=np.zeros((3, 3)))
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        R.path_score(args["h"], args["tags"], args["tr"])


@pytest.mark.parametrize("mask,match", [
    ([[1, 0, 1]], "gap"), ([[0, 1, 1]], "left padding"), ([[0, 0, 0]], "zero-length"),
    ([[1, 1]], "mask must have shape"), ([[1, 2, 0]], "0/1"),
])
def test_numpy_bad_mask(mask, match):
    with pytest.raises(ValueError, match=match):
        R.mask_lengths(np.array(mask), (1, 3))


# ----------------------------------------------------------------------------- PyTorch
def _batch(seed, B=5, T=6, K=4):
    rng = np.random.default_rng(seed)
    em = rng.normal(size=(B, T, K)) * 2
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    mask = np.arange(T)[None] < lengths[:, None]
    tags = np.where(mask, rng.integers(0, K, size=(B, T)), -1)
    return em, tags, mask


def _crf(K, start_end, seed=0):
    torch.manual_seed(seed)
    crf = CRF(K, start_end).double()
    if start_end:
        with torch.no_grad():
            crf.start.normal_()
            crf.end.normal_()
    p = lambda x: None if x is None else x.detach().numpy()  # noqa: E731
    return crf, p(crf.trans), p(crf.start), p(crf.end)


@pytest.mark.parametrize("start_end", [False, True])
def test_torch_matches_numpy_loss_and_decode(start_end):
    em, tags, mask = _batch(0)
    crf, tr, s, e = _crf(4, start_end)
    got = crf.nll(torch.tensor(em), torch.tensor(tags), torch.tensor(mask)).detach().numpy()
    np.testing.assert_allclose(got, R.batch_nll(em, tags, mask, tr, s, e), atol=1e-10)
    loss = crf(torch.tensor(em), torch.tensor(tags), torch.tensor(mask))
    assert abs(loss.item() - got.mean()) <= 1e-12
    for cons in [(None, None, None), R.sbme_constraints()]:
        tc = [None if c is None else torch.tensor(c) for c in cons]
        dec = crf.decode(torch.tensor(em), torch.tensor(mask), allowed=tc[0], allowed_start=tc[1], allowed_end=tc[2])
        np.testing.assert_array_equal(dec.numpy(), R.batch_viterbi(em, mask, tr, s, e, *cons))


def test_torch_decode_equals_brute_force():
    rng = np.random.default_rng(5)
    crf, tr, _, _ = _crf(3, False)
    em = rng.normal(size=(8, 4, 3)) * 2
    dec = crf.decode(torch.tensor(em)).numpy()
    for b in range(8):
        np.testing.assert_array_equal(dec[b], R.brute_force_best_path(em[b], tr)[0])


def test_torch_padding_equals_unpadded():
    em, tags, mask = _batch(1, B=6, T=7)
    em[~mask] = 1e3                         # garbage on padded steps must not matter
    crf, _, _, _ = _crf(4, True)
    batched = crf.nll(torch.tensor(em), torch.tensor(tags), torch.tensor(mask))
    for b in range(6):
        n = int(mask[b].sum())
        alone = crf.nll(torch.tensor(em[b:b + 1, :n]), torch.tensor(tags[b:b + 1, :n]))
        assert abs(batched[b].item() - alone.item()) <= 1e-10


@pytest.mark.parametrize("start_end", [False, True])
def test_torch_grad_of_log_z_is_marginals(start_end):
    em, _, mask = _batch(2)
    crf, tr, s, e = _crf(4, start_end)
    x = torch.tensor(em, requires_grad=True)
    crf.log_partition(x, torch.tensor(mask)).sum().backward()
    g = x.grad.numpy()
    for b in range(len(em)):
        n = int(mask[b].sum())
        np.testing.assert_allclose(g[b, :n], R.marginals(em[b, :n], tr, s, e), atol=1e-10)
        assert np.all(g[b, n:] == 0)


def test_torch_extreme_scores_are_finite():
    em, tags, mask = _batch(3)
    crf, _, _, _ = _crf(4, True)
    with torch.no_grad():
        crf.trans.mul_(1e4)
    x = torch.tensor(np.sign(em) * 1e4, requires_grad=True)
    loss = crf(x, torch.tensor(tags), torch.tensor(mask))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and torch.isfinite(crf.trans.grad).all()


def test_torch_agrees_with_pytorch_crf_when_start_end_match():
    torchcrf = pytest.importorskip("torchcrf")
    em, tags, mask = _batch(4)
    ref = torchcrf.CRF(4, batch_first=True).double()
    crf = CRF(4, start_end=True).double()
    with torch.no_grad():
        crf.trans.copy_(ref.transitions)
        crf.start.copy_(ref.start_transitions)
        crf.end.copy_(ref.end_transitions)
    t = torch.tensor(np.where(mask, tags, 0))
    ll = ref(torch.tensor(em), t, torch.tensor(mask), reduction="none")
    ours = -crf.nll(torch.tensor(em), torch.tensor(tags), torch.tensor(mask))
    np.testing.assert_allclose(ours.detach().numpy(), ll.detach().numpy(), atol=1e-10)


@pytest.mark.parametrize("change,match", [
    (lambda em, t, m: (em[:, :, :3], t, m), "num_tags"),
    (lambda em, t, m: (em[:, :0], t[:, :0], m[:, :0]), "zero-length"),
    (lambda em, t, m: (em, t[:, :3], m), "tags must have shape"),
    (lambda em, t, m: (em, t, m[:, :3]), "mask must have shape"),
    (lambda em, t, m: (em, t + 4 * m, m), "out of range"),
    (lambda em, t, m: (em.index_fill(1, torch.tensor([0]), float("inf")), t, m), "non-finite"),
    (lambda em, t, m: (em, t, torch.cat([m[:, :1] & False, m[:, 1:]], 1)), "left padding"),
    (lambda em, t, m: (em, t, torch.tensor([[1, 0, 1, 1, 1, 1]] * 5).bool()), "gap"),
    (lambda em, t, m: (em, t.double(), m), "integers"),
])
def test_torch_bad_input(change, match):
    em, tags, mask = _batch(6)
    crf, _, _, _ = _crf(4, False)
    args = change(torch.tensor(em), torch.tensor(tags), torch.tensor(mask))
    with pytest.raises(ValueError, match=match):
        crf.nll(*args)
