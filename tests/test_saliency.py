"""Chapter 02: the trajectory score and its numpy helpers (no framework needed)."""
import sys

import numpy as np
import pytest

from kexue.saliency import numpy_ref as R


def random_states(n, d=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_scores_sum_to_one(n):
    s = R.trajectory_scores(random_states(n, seed=n))
    assert s.shape == (n,)
    assert abs(s.sum() - 1.0) < 1e-12


def test_unnormalised_sum_is_norm_of_last_state():
    h = random_states(9)
    s = R.trajectory_scores(h, normalize=False)
    assert abs(s.sum() - np.linalg.norm(h[-1])) < 1e-12


def test_matches_a_plain_loop():
    h = random_states(11, seed=3)
    hn = h[-1]
    prev = np.zeros_like(hn)
    expected = []
    for t in range(len(h)):
        expected.append((np.linalg.norm(hn - prev) - np.linalg.norm(hn - h[t])) / np.linalg.norm(hn))
        prev = h[t]
    np.testing.assert_allclose(R.trajectory_scores(h), expected, atol=1e-14)


def test_last_step_nonnegative_and_step_bound():
    h = random_states(15, seed=5)
    s = R.trajectory_scores(h, normalize=False)
    assert s[-1] >= 0
    steps = np.linalg.norm(np.diff(np.vstack([np.zeros((1, h.shape[1])), h]), axis=0), axis=1)
    assert np.all(np.abs(s) <= steps + 1e-12)


def test_masked_steps_score_zero_and_equal_dropping_them():
    h = random_states(8, seed=7)
    mask = np.array([1, 0, 1, 1, 0, 1, 1, 0], dtype=bool)
    garbage = h.copy()
    garbage[~mask] = 1e3                      # values at masked rows must not matter
    s = R.trajectory_scores(garbage, mask=mask)
    assert np.all(s[~mask] == 0.0)
    np.testing.assert_allclose(s[mask], R.trajectory_scores(h[mask]), atol=1e-14)
    assert abs(s.sum() - 1.0) < 1e-12


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        R.trajectory_scores(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="rank"):
        R.trajectory_scores(np.ones(5))
    with pytest.raises(ValueError, match="rank"):
        R.trajectory_scores(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="h_n is zero"):
        R.trajectory_scores(np.array([[1.0, 2.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="every step is masked"):
        R.trajectory_scores(random_states(3), mask=[0, 0, 0])
    with pytest.raises(ValueError, match="mask must have shape"):
        R.trajectory_scores(random_states(3), mask=[1, 0])
    with pytest.raises(ValueError, match="NaN"):
        R.trajectory_scores(np.array([[np.nan, 1.0]]))
    # the unnormalised score is defined even when h_n = 0
    assert R.trajectory_scores(np.array([[1.0, 0.0], [0.0, 0.0]]), normalize=False).sum() == 0.0


# ----------------------------------------------------------------------------- the post's listings
LISTINGS = R.post_listings()


def test_nine_listings():
    assert len(LISTINGS) == 9


@pytest.mark.parametrize("k", range(9))
def test_post_listing_sums_to_one(k):
    p = LISTINGS[k]
    assert len(p.ranking) == len(p.tokens)                         # one score per position
    assert sorted(i for i, _, _ in p.ranking) == list(range(len(p.tokens)))
    assert "".join(p.tokens) == p.text                              # positions reassemble the sentence
    assert abs(p.scores.sum() - 1.0) < 1e-6
    assert p.scores[-1] > 0                                         # the last token cannot be negative


def test_post_first_word_can_be_negative_and_position_effect():
    assert LISTINGS[5].tokens[0] == "总的来说" and LISTINGS[5].scores[0] == pytest.approx(-0.35771555)
    occ = [s for _, s in R.occurrences(LISTINGS[7].tokens, LISTINGS[7].scores, "糟糕")]
    assert len(occ) == 3 and occ[0] > occ[1] > occ[2]
    occ = [s for _, s in R.occurrences(LISTINGS[8].tokens, LISTINGS[8].scores, "快乐")]
    assert len(occ) == 3 and occ[0] > occ[1] > occ[2]


# ----------------------------------------------------------------------------- helpers
def test_reference_lstm_mask_carries_state():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3))
    W, U, b = rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), rng.normal(size=8)
    mask = np.array([1, 1, 0, 1, 0, 1], dtype=bool)
    h = R.lstm_states(x, W, U, b, mask)
    np.testing.assert_array_equal(h[2], h[1])
    np.testing.assert_allclose(h[mask], R.lstm_states(x[mask], W, U, b), atol=1e-15)
    with pytest.raises(ValueError, match="weight shapes"):
        R.lstm_states(x, W[:2], U, b)


def test_spearman_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    for _ in range(20):
        a = rng.integers(0, 5, size=12).astype(float)           # with ties
        b = a + rng.normal(size=12)
        assert R.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert np.isnan(R.spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError):
        R.spearman([1.0], [2.0])


def test_vocab_encode_rank_html():
    from kexue import text

    vocab = text.build_vocab([["a", "b", "a"], ["c", "a", "b"]], min_count=2, reserve_unknown=False)
    assert vocab == {"a": 1, "b": 2}
    np.testing.assert_array_equal(text.encode(["a", "z", "b"], vocab, unknown=text.PAD), [1, 0, 2])
    assert R.rank_words(["x", "y", "z"], [0.1, 0.5, -0.2])[0] == (1, "y", 0.5)
    html = R.colored_html(["<b>", "y"], [0.5, -0.25])
    assert "&lt;b&gt;" in html and "rgba(0,150,60,1.000)" in html and "rgba(210,40,40,0.500)" in html
    assert html == R.colored_html(["<b>", "y"], [0.5, -0.25])
    with pytest.raises(ValueError, match="one score per token"):
        R.colored_html(["a"], [0.1, 0.2])


def test_segmenter_matches_post_tokens():
    pytest.importorskip("jieba")
    seg = R.segmenter()
    p = LISTINGS[7]
    assert seg(p.text) == list(p.tokens)


def test_reference_imports_no_framework():
    import subprocess
    code = "import kexue.saliency, sys; print('torch' in sys.modules or 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
