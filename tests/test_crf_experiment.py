"""Chapter 05: the word-segmentation helpers (data preparation, metrics, a few training steps)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from kexue.crf import experiment as S  # noqa: E402


def test_chunk_cuts_at_word_boundaries():
    chars, tags = "今天天气不错啊", "bebesss"
    pieces = S.chunk(chars, tags, 3)
    assert "".join(c for c, _ in pieces) == chars
    assert all(len(c) <= 3 for c, _ in pieces)
    assert all(t[-1] in "es" for _, t in pieces)
    with pytest.raises(ValueError, match="max_len"):
        S.chunk(chars, tags, 0)


def test_segmentation_scores_count_words_and_illegal_transitions():
    gold = [("今天天气不错", "bebess")]
    perfect = S.segmentation_scores(gold, ["bebess"])
    assert perfect == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "illegal": 0}
    # 今天/天气不错 (one word right of two predicted, four gold) and one illegal pair (b→s)
    r = S.segmentation_scores(gold, ["bebmme"])
    assert r["precision"] == 0.5 and r["recall"] == 0.25 and r["illegal"] == 0
    assert S.segmentation_scores(gold, ["bbbbbb"])["illegal"] == 6
    with pytest.raises(ValueError, match="gold sentences"):
        S.segmentation_scores(gold, [])


def test_encode_tags_rejects_unknown():
    np.testing.assert_array_equal(S.encode_tags("sbme"), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="s/b/m/e"):
        S.encode_tags("sx")


@pytest.mark.parametrize("gold,pred,msg", [
    ([("ab", "be")], ["bx"], "tags may only contain s/b/m/e"),
    ([("ab", "be")], ["b"], "a prediction has 1 tags for a sentence of 2 characters"),
    ([("ab", "b")], ["be"], "chars and tags must have the same length, got 2 characters and 1 tags"),
    ([], [], "no sentences to score"),
])
def test_segmentation_scores_bad_input(gold, pred, msg):
    with pytest.raises(ValueError, match=msg):
        S.segmentation_scores(gold, pred)


def test_renamed_names_are_gone():
    assert not hasattr(S, "evaluate") and not hasattr(S, "train") and not hasattr(S.Tagger, "predict")
    assert not hasattr(S, "train_lib")


def test_helpers_refuse_bad_arguments():
    with pytest.raises(ValueError, match="num_tags must be an integer >= 1, got 0"):
        S.Tagger(10, use_crf=True, num_tags=0)
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 2"):
        S.Tagger(10.0, use_crf=True)
    model = S.Tagger(10, use_crf=False, dim=4, channels=4)
    with pytest.raises(ValueError, match=r"tag out of range: tags must lie in \[0, 4\)"):
        S.train_tagger(model, [(np.array([2, 3]), np.array([0, 4]))], desc=None)
    with pytest.raises(ValueError, match="same, non-zero length"):
        S.train_tagger(model, [(np.array([2, 3]), np.array([0]))], desc=None)
    with pytest.raises(ValueError, match="zero-length"):
        S.pad_batch([np.array([1]), np.array([], np.int64)], 0)
    assert S.segment(model, ["", "ab"], {"a": 2, "b": 3})[0] == ""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("use_crf", [False, True])
def test_train_and_segment_on_cuda(use_crf):
    torch.manual_seed(0)
    chunks = [(np.array([2, 3, 4]), S.encode_tags("bes"))] * 8
    model = S.Tagger(6, use_crf=use_crf, dim=4, channels=4)
    losses = S.train_tagger(model, chunks, epochs=1, batch_size=4, desc=None, device="cuda")
    assert len(losses) == 2 and next(model.parameters()).is_cuda
    assert len(S.segment(model, ["abc", "a"], {"a": 2, "b": 3, "c": 4})[0]) == 3


def test_train_tagger_moves_the_model_to_the_device_and_keeps_batches_there(monkeypatch):
    """``device`` reaches kexue.train.fit and every batch tensor is built there."""
    seen = {}
    real_fit = S.fit

    def spy(model, loss_fn, batches, **kw):
        seen["device"] = kw["device"]
        return real_fit(model, loss_fn, batches, **kw)

    monkeypatch.setattr(S, "fit", spy)
    built = []
    real_pad = S.pad_batch
    monkeypatch.setattr(S, "pad_batch", lambda *a, **kw: built.append(kw.get("device")) or real_pad(*a, **kw))
    model = S.Tagger(6, use_crf=True, dim=4, channels=4)
    S.train_tagger(model, [(np.array([2, 3]), S.encode_tags("be"))] * 4, batch_size=2, desc=None, device="cpu")
    assert seen["device"] == torch.device("cpu") and built and all(d == torch.device("cpu") for d in built)


@pytest.mark.parametrize("use_crf", [False, True])
def test_a_few_steps_reduce_the_loss_and_decode_legally(use_crf):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    # synthetic corpus: words of length 1-3 drawn from a tiny vocabulary
    chunks = []
    for _ in range(64):
        lens = rng.integers(1, 4, size=8)
        tags = "".join("s" if n == 1 else "b" + "m" * (n - 2) + "e" for n in lens)
        ids = np.array([2 + "sbme".index(t) * 3 + rng.integers(0, 3) for t in tags])
        chunks.append((ids, S.encode_tags(tags)))
    model = S.Tagger(16, use_crf=use_crf, dim=16, channels=16)
    losses = S.train_tagger(model, chunks, epochs=6, batch_size=16, lr=1e-2, crf_lr=5e-2, seed=0, desc=None)
    assert len(losses) == 24 and np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4])
    ids, mask = S.pad_batch([c[0] for c in chunks[:8]], S.PAD)
    pred = model.tag(ids, mask)
    assert pred.shape == ids.shape and bool((pred[~mask] == -1).all())


def test_crf_learns_low_scores_for_illegal_transitions():
    """Trained on legal s/b/m/e sequences, the CRF's transition matrix puts every illegal
    transition below every legal one (the chapter's live run checks the same on real data)."""
    from kexue.crf import numpy_ref as R
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    chunks = []
    for _ in range(96):
        lens = rng.integers(1, 5, size=8)
        tags = "".join("s" if n == 1 else "b" + "m" * (n - 2) + "e" for n in lens)
        ids = rng.integers(2, 14, size=len(tags))          # characters carry no tag information:
        chunks.append((ids, S.encode_tags(tags)))          # only the transitions can explain the tags
    model = S.Tagger(16, use_crf=True, dim=16, channels=16)
    S.train_tagger(model, chunks, epochs=8, batch_size=16, lr=1e-2, crf_lr=5e-2, seed=0, desc=None)
    allowed = R.sbme_constraints()[0]
    trans = model.crf.trans.detach().numpy()
    # seed 0: highest illegal -0.60, lowest legal 0.60
    assert trans[~allowed].max() < trans[allowed].min() - 0.5
