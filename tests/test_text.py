"""kexue.text: one vocabulary convention (0 = padding, 1 = unknown), checked against a hand count."""
from collections import Counter

import numpy as np
import pytest

from kexue import text


def test_ids_follow_falling_counts_from_two():
    seqs = [["b", "a", "a"], ["c", "a", "b"], ["d"]]
    counts = Counter(t for s in seqs for t in s)
    vocab = text.build_vocab(seqs)
    assert sorted(vocab, key=vocab.get) == sorted(counts, key=lambda t: (-counts[t], t))
    assert min(vocab.values()) == text.UNK + 1 and len(set(vocab.values())) == len(vocab)
    no_unk = text.build_vocab(seqs, reserve_unknown=False)
    assert {t: i - 1 for t, i in vocab.items()} == no_unk


def test_strings_are_sequences_of_characters():
    assert text.build_vocab(["abca", "bd"]) == text.build_vocab([list("abca"), list("bd")])


def test_encode_and_encode_batch_agree():
    vocab = text.build_vocab(["abcab", "zzd"], min_count=2)
    for trunc in ("pre", "post"):
        batch = text.encode_batch(["abcab", "qd", ""], vocab, 3, truncating=trunc)
        for row, s in zip(batch, ["abcab", "qd", ""]):
            ids = text.encode(s, vocab, 3, truncating=trunc)
            np.testing.assert_array_equal(row[:len(ids)], ids)
            assert np.all(row[len(ids):] == text.PAD)
    assert text.encode("q", vocab).tolist() == [text.UNK]
    assert text.encode("q", vocab, unknown=text.PAD).tolist() == [text.PAD]


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: text.build_vocab("abc"), TypeError, "sequences must be a list"),
    (lambda: text.build_vocab([["a"], 3]), TypeError, "each sequence must be a string or a list of tokens"),
    (lambda: text.build_vocab([["a"]], min_count=0), ValueError, "min_count must be an integer >= 1"),
    (lambda: text.encode("ab", {}, maxlen=0), ValueError, "maxlen must be a positive integer"),
    (lambda: text.encode("ab", {}, truncating="middle"), ValueError, "truncating must be 'pre' or 'post'"),
    (lambda: text.encode_batch(["ab"], {}, None), ValueError, "maxlen must be a positive integer"),
])
def test_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()
