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


@pytest.mark.parametrize("unknown", [-1, 1.0, True, "1", None])
def test_unknown_must_be_a_non_negative_integer(unknown):
    vocab = text.build_vocab(["ab"])
    for call in (lambda: text.encode("ab", vocab, unknown=unknown),
                 lambda: text.encode_batch(["ab"], vocab, 2, unknown=unknown)):
        with pytest.raises(ValueError, match="unknown must be an integer id >= 0"):
            call()


@pytest.mark.parametrize("vocab,bad", [({"a": 0, "b": 2}, "'a' has id 0"), ({"a": -2}, "'a' has id -2"),
                                      ({"a": 2.0}, "'a' has id 2.0"), ({"a": True}, "'a' has id True")])
def test_vocabulary_ids_start_at_one(vocab, bad):
    for call in (lambda: text.encode("ab", vocab), lambda: text.encode_batch(["ab"], vocab, 2)):
        with pytest.raises(ValueError, match="vocabulary ids must be integers >= 1 \\(0 is padding\\): " + bad):
            call()


def test_unknown_id_may_not_be_a_token_id():
    no_unk = text.build_vocab(["aab"], reserve_unknown=False)         # a -> 1, b -> 2
    assert no_unk == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="unknown id 1 is also the id of 'a'"):
        text.encode("az", no_unk)                                      # default unknown=UNK=1
    with pytest.raises(ValueError, match="unknown id 1 is also the id of 'a'"):
        text.encode_batch(["az"], no_unk, 2)
    assert text.encode("az", no_unk, unknown=text.PAD).tolist() == [1, 0]


def test_the_docstring_convention_holds():
    """0 = padding only, 1 = unknown, kept tokens from 2 by falling count, ties by sorted token."""
    vocab = text.build_vocab(["cab", "ba"])
    assert vocab == {"a": 2, "b": 3, "c": 4}
    ids = text.encode_batch(["abz", "c"], vocab, 4, truncating="post")
    np.testing.assert_array_equal(ids, [[2, 3, text.UNK, text.PAD], [4, text.PAD, text.PAD, text.PAD]])
    assert text.PAD == 0 and text.UNK == 1 and 0 not in vocab.values()


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: text.encode(3, {}), TypeError, "tokens must be a string or a list of tokens"),
    (lambda: text.encode(["a", 3], {}), TypeError, "tokens must be strings"),
    (lambda: text.encode("a", [("a", 2)]), TypeError, "vocab must be a dict"),
    (lambda: text.build_vocab([["a", 1]]), TypeError, "tokens must be strings"),
    (lambda: text.build_vocab(["a"], reserve_unknown=None), TypeError, "reserve_unknown must be True or False"),
])
def test_more_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()
