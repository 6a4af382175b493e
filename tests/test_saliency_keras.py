"""Chapter 02: the Keras hidden-state helper agrees with PyTorch and numpy for the same weights."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")

from kexue.saliency import numpy_ref as R  # noqa: E402
from kexue.saliency import torch as T  # noqa: E402
from kexue.saliency import keras as KS  # noqa: E402

IDS = np.array([3, 0, 5, 7, 0, 2, 9, 11, 0, 0])


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(1)
    tm = T.SentimentLSTM(20, embed_dim=12, units=10)
    with torch.no_grad():
        for p in tm.parameters():
            p.mul_(3.0)
    tm.eval()
    clf, states = KS.build_models(20, embed_dim=12, units=10)
    KS.load_weights(clf, T.export_weights(tm))
    return tm, clf, states


def test_keras_states_equal_torch_states(pair):
    tm, _, states = pair
    hk = KS.hidden_states(states, IDS)
    np.testing.assert_allclose(hk, T.hidden_states(tm, IDS), atol=2e-6)   # float32 in both
    np.testing.assert_array_equal(hk[1], hk[0])                            # masked step: state carried


def test_keras_scores_equal_torch_scores(pair):
    tm, _, states = pair
    sk = R.trajectory_scores(KS.hidden_states(states, IDS))                 # no mask passed: carry-over alone
    st = R.trajectory_scores(T.hidden_states(tm, IDS), mask=IDS != 0)
    np.testing.assert_allclose(sk, st, atol=1e-5)
    assert np.all(sk[IDS == 0] == 0.0)
    assert abs(sk.sum() - 1) < 1e-9


def test_keras_probability_equals_torch(pair):
    tm, clf, _ = pair
    assert KS.sentiment_probabilities(clf, [IDS])[0] == pytest.approx(T.sentiment_probabilities(tm, [T.compress(IDS)])[0], abs=1e-6)


def test_keras_bad_input(pair):
    _, clf, states = pair
    with pytest.raises(ValueError, match="ids is empty"):
        KS.hidden_states(states, [])
    with pytest.raises(ValueError, match="id 0"):
        KS.hidden_states(states, [0, 0])
    with pytest.raises(ValueError, match="1-d"):
        KS.sentiment_probabilities(clf, [np.ones((2, 2), dtype=int)])
    with pytest.raises(ValueError, match="vocab_size"):
        KS.build_models(1)
