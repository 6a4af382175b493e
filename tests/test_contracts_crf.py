"""Chapter 05: one contract for the CRF in numpy, PyTorch and Keras (signatures, checks, messages)."""
from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from kexue import _validate  # noqa: E402
from kexue.crf import keras as KC  # noqa: E402
from kexue.crf import numpy_ref as R  # noqa: E402
from kexue.crf import torch as TC  # noqa: E402


def _params(fn, drop=("self", "kwargs")):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values() if p.name not in drop]


# ----------------------------------------------------------------------------- signatures
@pytest.mark.parametrize("name", ["__init__", "path_score", "log_partition", "nll", "decode"])
def test_torch_and_keras_methods_are_twins(name):
    assert _params(getattr(TC.CRF, name)) == _params(getattr(KC.CRF, name))


def test_constructors_have_no_num_tags_default_and_nll_defaults_to_none():
    for cls in (TC.CRF, KC.CRF):
        sig = inspect.signature(cls.__init__)
        assert sig.parameters["num_tags"].default is inspect.Parameter.empty
        assert sig.parameters["start_end"].default is False
        assert inspect.signature(cls.nll).parameters["reduction"].default == "none"
    assert inspect.signature(R.batch_nll).parameters["reduction"].default == "none"


def test_the_signature_check_can_fail():
    def a(self, emissions, mask=None):
        pass

    def b(self, emissions, mask=None, *, pad=-1):
        pass

    assert _params(a) != _params(b)


# ----------------------------------------------------------------------------- num_tags
@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_num_tags_must_be_a_positive_integer(bad):
    msg = re.escape(_validate.CRF_NUM_TAGS.format(bad))
    for cls in (TC.CRF, KC.CRF):
        with pytest.raises(ValueError, match=msg):
            cls(bad)


def test_numpy_integer_num_tags_is_accepted():
    assert TC.CRF(np.int64(3)).num_tags == 3 and KC.CRF(np.int64(3)).num_tags == 3


# ----------------------------------------------------------------------------- helpers
def _layers(trans, start=None, end=None):
    K = len(trans)
    se = start is not None
    tc = TC.CRF(K, start_end=se).double()
    kc = KC.CRF(K, start_end=se, dtype="float64")
    kc.build((None, None, K))
    with torch.no_grad():
        tc.trans.copy_(torch.tensor(trans))
        if se:
            tc.start.copy_(torch.tensor(start))
            tc.end.copy_(torch.tensor(end))
    kc.trans.assign(trans)
    if se:
        kc.start.assign(start)
        kc.end.assign(end)
    return tc, kc


def _np(x):
    return keras.ops.convert_to_numpy(x) if not isinstance(x, torch.Tensor) else x.detach().numpy()


# ----------------------------------------------------------------------------- case 1: no legal path
def _no_path_cases():
    """(emissions (B, T, K), mask, allowed, allowed_start, allowed_end, length of the dead sequence)"""
    em = np.random.default_rng(0).normal(size=(2, 3, 2))
    mask = np.array([[1, 1, 1], [1, 1, 0]], bool)
    none = np.zeros((2, 2), bool)
    yes2 = np.ones(2, bool)
    return [
        ("nothing allowed", em, mask, none, None, None, 3),
        ("only 0 -> 0, start at 1", em, mask, np.array([[1, 0], [0, 0]], bool), np.array([0, 1], bool), None, 3),
        ("start 0 must end 1, no move to 1", em, mask, np.array([[1, 0], [1, 1]], bool), np.array([1, 0], bool),
         np.array([0, 1], bool), 3),
        ("no first tag", em, mask, None, np.zeros(2, bool), yes2, 3),
    ]


@pytest.mark.parametrize("case", _no_path_cases(), ids=lambda c: c[0])
def test_case01_no_legal_path_raises_everywhere(case):
    _, em, mask, allowed, a_start, a_end, n = case
    trans = np.random.default_rng(1).normal(size=(2, 2))
    # brute force agrees that no path is legal
    assert all(R.count_illegal(p, allowed if allowed is not None else np.ones((2, 2), bool), a_start, a_end) > 0
               for p in R.all_paths(n, 2))
    msg = re.escape(_validate.CRF_NO_PATH.format(n))
    tc, kc = _layers(trans)
    t = lambda a: None if a is None else torch.tensor(a)  # noqa: E731
    calls = {
        "numpy viterbi": lambda: R.viterbi(em[0], trans, None, None, allowed, a_start, a_end),
        "numpy batch": lambda: R.batch_viterbi(em, mask, trans, None, None, allowed, a_start, a_end),
        "torch": lambda: tc.decode(torch.tensor(em), torch.tensor(mask), t(allowed), t(a_start), t(a_end)),
        "keras": lambda: kc.decode(em, mask, allowed, a_start, a_end),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=msg):
            call()
            pytest.fail(name)


def test_case01_the_dead_sequence_is_named_by_its_length():
    """Only the second, shorter sequence has no path: the message gives its length, 1."""
    em = np.zeros((2, 2, 2))
    mask = np.array([[1, 1], [1, 0]], bool)
    allowed = np.array([[0, 1], [0, 0]], bool)          # only 0 -> 1
    a_start, a_end = np.array([1, 0], bool), np.array([0, 1], bool)
    msg = re.escape(_validate.CRF_NO_PATH.format(1))
    tc, kc = _layers(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=msg):
        R.batch_viterbi(em, mask, np.zeros((2, 2)), None, None, allowed, a_start, a_end)
    with pytest.raises(ValueError, match=msg):
        tc.decode(torch.tensor(em), torch.tensor(mask), torch.tensor(allowed), torch.tensor(a_start),
                  torch.tensor(a_end))
    with pytest.raises(ValueError, match=msg):
        kc.decode(em, mask, allowed, a_start, a_end)
    # each framework decodes the first sequence alone to the one legal path, 0 -> 1
    ok = R.batch_viterbi(em[:1], mask[:1], np.zeros((2, 2)), None, None, allowed, a_start, a_end)
    np.testing.assert_array_equal(ok, [[0, 1]])
    np.testing.assert_array_equal(tc.decode(torch.tensor(em[:1]), None, torch.tensor(allowed), torch.tensor(a_start),
                                            torch.tensor(a_end)).numpy(), ok)
    np.testing.assert_array_equal(_np(kc.decode(em[:1], None, allowed, a_start, a_end)), ok)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_case01_scripted_decode_raises_too():
    tc, _ = _layers(np.zeros((2, 2)))
    scripted = torch.jit.script(tc)
    with pytest.raises(Exception, match="no tag path of length 2"):
        scripted.decode(torch.zeros(1, 2, 2, dtype=torch.float64), None, torch.zeros(2, 2, dtype=torch.bool))


# ----------------------------------------------------------------------------- case 5: transitions checked
@pytest.mark.parametrize("where,bad", [("trans", np.nan), ("trans", np.inf), ("trans", -np.inf),
                                       ("start", np.nan), ("end", np.inf)])
def test_case05_non_finite_transitions_raise_everywhere(where, bad):
    rng = np.random.default_rng(2)
    trans, start, end = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)
    {"trans": trans, "start": start, "end": end}[where].flat[1] = bad
    name = {"trans": "transition scores trans", "start": "start scores", "end": "end scores"}[where]
    msg = re.escape(_validate.CRF_NONFINITE.format(name))
    em = rng.normal(size=(2, 4, 3))
    tags = rng.integers(0, 3, size=(2, 4))
    mask = np.ones((2, 4), bool)
    tc, kc = _layers(trans, start, end)
    T = torch.tensor
    calls = {
        "numpy path_score": lambda: R.path_score(em[0], tags[0], trans, start, end),
        "numpy log_partition": lambda: R.log_partition(em[0], trans, start, end),
        "numpy viterbi": lambda: R.viterbi(em[0], trans, start, end),
        "numpy marginals": lambda: R.marginals(em[0], trans, start, end),
        "numpy batch_nll": lambda: R.batch_nll(em, tags, mask, trans, start, end),
        "torch nll": lambda: tc.nll(T(em), T(tags), T(mask)),
        "torch forward": lambda: tc(T(em), T(tags), T(mask)),
        "torch log_partition": lambda: tc.log_partition(T(em), T(mask)),
        "torch path_score": lambda: tc.path_score(T(em), T(tags), T(mask)),
        "torch decode": lambda: tc.decode(T(em), T(mask)),
        "keras nll": lambda: kc.nll(em, tags, mask),
        "keras log_partition": lambda: kc.log_partition(em, mask),
        "keras path_score": lambda: kc.path_score(em, tags, mask),
        "keras decode": lambda: kc.decode(em, mask),
    }
    for label, call in calls.items():
        with pytest.raises(ValueError, match=msg):
            call()
            pytest.fail(label)


def test_case05_finite_transitions_give_finite_values():
    """The check is not a false alarm: the same inputs with finite scores agree across frameworks."""
    rng = np.random.default_rng(3)
    trans, start, end = rng.normal(size=(3, 3)) * 50, rng.normal(size=3), rng.normal(size=3)
    em = rng.normal(size=(2, 4, 3))
    tags = rng.integers(0, 3, size=(2, 4))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
    tc, kc = _layers(trans, start, end)
    ref = R.batch_nll(em, tags, mask, trans, start, end)
    assert np.all(np.isfinite(ref))
    np.testing.assert_allclose(_np(tc.nll(torch.tensor(em), torch.tensor(tags), torch.tensor(mask))), ref, atol=1e-9)
    np.testing.assert_allclose(_np(kc.nll(em, tags, mask)), ref, atol=1e-9)


# ----------------------------------------------------------------------------- the public methods agree
def test_path_score_and_log_partition_agree_with_numpy():
    rng = np.random.default_rng(4)
    trans, start, end = rng.normal(size=(3, 3)), rng.normal(size=3), rng.normal(size=3)
    em = rng.normal(size=(3, 5, 3))
    tags = rng.integers(0, 3, size=(3, 5))
    lengths = np.array([5, 2, 1])
    mask = np.arange(5)[None] < lengths[:, None]
    tc, kc = _layers(trans, start, end)
    ps = [R.path_score(em[b, :n], tags[b, :n], trans, start, end) for b, n in enumerate(lengths)]
    lz = [R.log_partition(em[b, :n], trans, start, end) for b, n in enumerate(lengths)]
    T = torch.tensor
    np.testing.assert_allclose(_np(tc.path_score(T(em), T(tags), T(mask))), ps, atol=1e-10)
    np.testing.assert_allclose(_np(kc.path_score(em, tags, mask)), ps, atol=1e-10)
    np.testing.assert_allclose(_np(tc.log_partition(T(em), T(mask))), lz, atol=1e-10)
    np.testing.assert_allclose(_np(kc.log_partition(em, mask)), lz, atol=1e-10)
    # mask defaults to "no padding" everywhere
    full = [R.log_partition(em[b], trans, start, end) for b in range(3)]
    np.testing.assert_allclose(_np(tc.log_partition(T(em))), full, atol=1e-10)
    np.testing.assert_allclose(_np(kc.log_partition(em)), full, atol=1e-10)


def test_reduction_and_empty_batch():
    rng = np.random.default_rng(5)
    trans = rng.normal(size=(3, 3))
    em = rng.normal(size=(4, 3, 3))
    tags = rng.integers(0, 3, size=(4, 3))
    mask = np.ones((4, 3), bool)
    tc, kc = _layers(trans)
    T = torch.tensor
    ref = R.batch_nll(em, tags, mask, trans)
    assert float(R.batch_nll(em, tags, mask, trans, reduction="mean")) == pytest.approx(ref.mean(), abs=1e-12)
    assert float(tc.nll(T(em), T(tags), T(mask), reduction="mean").detach()) == pytest.approx(ref.mean(), abs=1e-10)
    assert float(tc(T(em), T(tags), T(mask)).detach()) == pytest.approx(ref.mean(), abs=1e-10)
    assert float(_np(kc.nll(em, tags, mask, reduction="mean"))) == pytest.approx(ref.mean(), abs=1e-10)
    msg = re.escape(_validate.REDUCTION.format("sum"))
    for call in (lambda: R.batch_nll(em, tags, mask, trans, reduction="sum"),
                 lambda: tc.nll(T(em), T(tags), T(mask), reduction="sum"),
                 lambda: kc.nll(em, tags, mask, reduction="sum")):
        with pytest.raises(ValueError, match=msg):
            call()
    e0, t0, m0 = em[:0], tags[:0], mask[:0]
    assert R.batch_nll(e0, t0, m0, trans).shape == (0,)
    assert tuple(tc.nll(T(e0), T(t0), T(m0)).shape) == (0,)
    assert tuple(kc.nll(e0, t0, m0).shape) == (0,)
    msg = re.escape(_validate.CRF_EMPTY_BATCH)
    for call in (lambda: R.batch_nll(e0, t0, m0, trans, reduction="mean"),
                 lambda: tc.nll(T(e0), T(t0), T(m0), reduction="mean"),
                 lambda: kc.nll(e0, t0, m0, reduction="mean")):
        with pytest.raises(ValueError, match=msg):
            call()


def test_integer_emissions_are_cast_like_numpy():
    em = np.arange(24).reshape(2, 4, 3) % 5
    tags = np.zeros((2, 4), np.int64)
    trans = np.zeros((3, 3))
    tc, kc = _layers(trans)
    ref = R.batch_nll(em, tags, np.ones((2, 4), bool), trans)
    np.testing.assert_allclose(_np(tc.nll(torch.tensor(em), torch.tensor(tags))), ref, atol=1e-10)
    np.testing.assert_allclose(_np(kc.nll(em, tags)), ref, atol=1e-10)


def test_decode_returns_int64_tensors_in_both_frameworks():
    em = np.random.default_rng(6).normal(size=(2, 3, 3))
    tc, kc = _layers(np.zeros((3, 3)))
    a, b = tc.decode(torch.tensor(em)), kc.decode(em)
    assert a.dtype == torch.int64 and keras.backend.standardize_dtype(b.dtype) == "int64"
    assert not isinstance(b, np.ndarray) and tuple(b.shape) == (2, 3)
    np.testing.assert_array_equal(a.numpy(), _np(b))
