"""Tests for chapter 06 (attention): the numpy reference and the PyTorch layers."""
from __future__ import annotations

import numpy as np
import pytest

from kexue.attention import numpy_ref as ref

ATOL = 1e-5     # float32 comparisons


def _weights(rng, d, width, d_out=None):
    w = [rng.normal(0, d ** -0.5, (d, width)) for _ in range(3)]
    wo = rng.normal(0, width ** -0.5, (width, d_out)) if d_out else None
    return w, wo


# ----------------------------------------------------------------------------- numpy reference
def test_sdpa_shapes_and_rows_sum_to_one():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(5, 4)), rng.normal(size=(7, 4)), rng.normal(size=(7, 3))
    out, w = ref.scaled_dot_product_attention(q, k, v)
    assert out.shape == (5, 3) and w.shape == (5, 7)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-12)
    # per-query formula of the post
    t = 2
    e = np.exp(k @ q[t] / 2.0)
    np.testing.assert_allclose(out[t], (e / e.sum()) @ v, atol=1e-12)


def test_mha_equals_loop_over_heads():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 8))
    (wq, wk, wv), wo = _weights(rng, 8, 12, 5)
    out = ref.multi_head_attention(x, x, x, wq, wk, wv, heads=3, wo=wo)
    heads = []
    for h in range(3):
        s = slice(4 * h, 4 * h + 4)
        heads.append(ref.scaled_dot_product_attention(x @ wq[:, s], x @ wk[:, s], x @ wv[:, s])[0])
    np.testing.assert_allclose(out, np.concatenate(heads, -1) @ wo, atol=1e-12)


def test_padded_batch_matches_unpadded_sequences():
    rng = np.random.default_rng(2)
    lengths = np.array([6, 3, 1])
    x = rng.normal(size=(3, 6, 8))
    (wq, wk, wv), _ = _weights(rng, 8, 8)
    out = ref.multi_head_attention(x, x, x, wq, wk, wv, heads=2, key_mask=ref.length_mask(lengths, 6))
    for i, n in enumerate(lengths):
        alone = ref.multi_head_attention(x[i:i + 1, :n], x[i:i + 1, :n], x[i:i + 1, :n], wq, wk, wv, heads=2)
        np.testing.assert_allclose(out[i, :n], alone[0], atol=1e-12)


def test_fully_masked_row_is_finite():
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 4))
    mask = np.ones((2, 3, 5), bool)
    mask[1, 2] = False
    out, w = ref.scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(w[1, 2], 0.2, atol=1e-12)       # uniform over the keys


@pytest.mark.parametrize("mask, msg", [(np.ones((2, 5)), "boolean"), (np.ones((2, 4), bool), "broadcast"),
                                       (np.ones((3, 2, 5), bool), "broadcast")])
def test_bad_masks_are_rejected(mask, msg):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 4))
    (wq, wk, wv), _ = _weights(rng, 4, 4)
    with pytest.raises(ValueError, match=msg):
        ref.multi_head_attention(x, x, x, wq, wk, wv, heads=2, key_mask=mask)


def test_causal_mask_blocks_the_future():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 6, 4))
    (wq, wk, wv), _ = _weights(rng, 4, 4)
    out = ref.multi_head_attention(x, x, x, wq, wk, wv, heads=1, causal=True)
    y = x.copy()
    y[0, 4:] = rng.normal(size=(2, 4))                            # change the future
    out2 = ref.multi_head_attention(y, y, y, wq, wk, wv, heads=1, causal=True)
    np.testing.assert_allclose(out[0, :4], out2[0, :4], atol=1e-12)
    assert not np.allclose(out[0, 4:], out2[0, 4:])


def test_permutation_equivariance_and_pooled_invariance():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(1, 9, 8))
    (wq, wk, wv), _ = _weights(rng, 8, 8)
    perm = rng.permutation(9)
    f = lambda z: ref.multi_head_attention(z, z, z, wq, wk, wv, heads=2)  # noqa: E731
    np.testing.assert_allclose(f(x[:, perm]), f(x)[:, perm], atol=1e-12)
    np.testing.assert_allclose(f(x[:, perm]).mean(1), f(x).mean(1), atol=1e-12)
    pe = ref.sinusoidal_position_embedding(9, 8)[None]
    assert not np.allclose(f(x[:, perm] + pe).mean(1), f(x + pe).mean(1), atol=1e-6)


@pytest.mark.parametrize("layout", ref.LAYOUTS)
def test_pe_rotation_identity(layout):
    pe = ref.sinusoidal_position_embedding(60, 16, layout)
    for k in (1, 3, 10):
        m = ref.pe_rotation(k, 16, layout)
        np.testing.assert_allclose(pe[k:] , pe[:-k] @ m.T, atol=1e-12)
        dots = np.sum(pe[:-k] * pe[k:], axis=1)
        np.testing.assert_allclose(dots, dots[0], atol=1e-12)       # depends on k only
    assert not np.allclose(ref.pe_rotation(1, 16, layout), np.eye(16))


def test_pe_layouts_are_permutations_and_paper_formula():
    p = np.arange(20)[:, None]
    inter = ref.sinusoidal_position_embedding(20, 8, "interleaved")
    i = np.arange(4)
    np.testing.assert_allclose(inter[:, 0::2], np.sin(p / 10000 ** (2 * i / 8)), atol=1e-12)
    np.testing.assert_allclose(inter[:, 1::2], np.cos(p / 10000 ** (2 * i / 8)), atol=1e-12)
    cs = ref.sinusoidal_position_embedding(20, 8, "cos_sin")
    np.testing.assert_allclose(cs, inter[:, [1, 3, 5, 7, 0, 2, 4, 6]], atol=1e-12)
    with pytest.raises(ValueError, match="even"):
        ref.sinusoidal_position_embedding(4, 7)
    with pytest.raises(ValueError, match="layout"):
        ref.sinusoidal_position_embedding(4, 8, "zigzag")


def test_interleaving_irrelevant_under_concatenation():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(12, 6))
    w = rng.normal(size=(8 + 6, 5))
    inter = ref.sinusoidal_position_embedding(12, 8, "interleaved")
    cs = ref.sinusoidal_position_embedding(12, 8, "cos_sin")
    perm = np.array([1, 3, 5, 7, 0, 2, 4, 6])          # cs = inter[:, perm]
    w2 = w.copy()
    w2[:8] = w[perm]
    np.testing.assert_allclose(np.concatenate([inter, x], 1) @ w, np.concatenate([cs, x], 1) @ w2, atol=1e-12)


def test_interleaving_irrelevant_under_addition():
    """Added PE: permuting the embedding columns and the rows of W_Q, W_K, W_V like the PE
    layout gives identical self-attention outputs."""
    rng = np.random.default_rng(9)
    inter = ref.sinusoidal_position_embedding(12, 8, "interleaved")
    cs = ref.sinusoidal_position_embedding(12, 8, "cos_sin")
    perm = np.array([1, 3, 5, 7, 0, 2, 4, 6])
    ids, emb = rng.integers(0, 30, size=12), rng.normal(size=(30, 8))
    wq, wk, wv = (rng.normal(size=(8, 8)) for _ in range(3))
    a, b = (emb[ids] + inter)[None], (emb[:, perm][ids] + cs)[None]
    out_a = ref.multi_head_attention(a, a, a, wq, wk, wv, heads=2)
    out_b = ref.multi_head_attention(b, b, b, wq[perm], wk[perm], wv[perm], heads=2)
    np.testing.assert_allclose(out_b, out_a, atol=1e-10)
    # without permuting the weights the two layouts do differ
    assert np.abs(ref.multi_head_attention(b, b, b, wq, wk, wv, heads=2) - out_a).max() > 1e-3


def test_softmax_saturation_without_scaling():
    """Mean largest weight over 10 keys: unscaled it tends to 1 as d_k grows, scaled it stays near 0.3."""
    rng = np.random.default_rng(11)
    unscaled, scaled = [], []
    for dk in (4, 64, 512):
        q, k = rng.normal(size=(5000, dk)), rng.normal(size=(5000, 10, dk))
        dots = np.einsum("nd,nkd->nk", q, k)
        unscaled.append(ref.softmax(dots).max(1).mean())
        scaled.append(ref.softmax(dots / np.sqrt(dk)).max(1).mean())
    assert unscaled[0] < unscaled[1] < unscaled[2] and unscaled[2] > 0.9
    assert max(scaled) - min(scaled) < 0.05 and max(scaled) < 0.4


def test_variance_of_dot_products_grows_with_dk():
    rng = np.random.default_rng(8)
    for dk in (4, 64, 256):
        q, k = rng.normal(size=(20000, dk)), rng.normal(size=(20000, dk))
        var = np.var(np.sum(q * k, 1))
        assert abs(var / dk - 1) < 0.06, (dk, var)
        assert abs(np.var(np.sum(q * k, 1) / np.sqrt(dk)) - 1) < 0.06


def test_order_task_labels_balanced_and_bag_uninformative():
    x, y = ref.order_task(4000, 16, 18, np.random.default_rng(0))
    assert x.shape == (4000, 16) and abs(y.mean() - 0.5) < 0.03
    assert np.all((x == 20).sum(1) == 1) and np.all((x == 21).sum(1) == 1)
    # the label says whether A (20) comes before B (21)
    a = np.argmax(x == 20, 1) < np.argmax(x == 21, 1)
    np.testing.assert_array_equal(a.astype(int), y)


def test_vocab_and_encode():
    from kexue import text

    vocab = text.build_vocab(["abca", "bd"])
    assert vocab == {"a": 2, "b": 3, "c": 4, "d": 5}
    x = text.encode_batch(["abcab", "zd"], vocab, maxlen=3, truncating="pre")
    np.testing.assert_array_equal(x, [[4, 2, 3], [1, 5, 0]])
    np.testing.assert_array_equal(text.encode_batch(["abcab"], vocab, maxlen=3, truncating="post"), [[2, 3, 4]])


# ----------------------------------------------------------------------------- PyTorch
torch = pytest.importorskip("torch")
F = torch.nn.functional
from kexue.attention import experiment as ae  # noqa: E402
from kexue.attention import torch as at  # noqa: E402


def _batch(seed=0, b=3, t=7, d=16, lengths=(7, 4, 2)):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(b, t, d)).astype(np.float32)
    return x, ref.length_mask(np.array(lengths), t)


@pytest.mark.parametrize("causal", [False, True])
def test_torch_attention_matches_sdpa(causal):
    rng = np.random.default_rng(10)
    q, k, v = (torch.tensor(rng.normal(size=(2, 3, 6, 8)), dtype=torch.float32) for _ in range(3))
    mask = torch.tensor(ref.length_mask(np.array([6, 3]), 6))[:, None, None, :]
    if causal:
        mask = mask & torch.ones(6, 6, dtype=torch.bool).tril()
    ours, _ = at.scaled_dot_product_attention(q, k, v, mask=mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    np_out, _ = ref.scaled_dot_product_attention(q.numpy(), k.numpy(), v.numpy(), mask=mask.numpy())
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=ATOL)
    np.testing.assert_allclose(np_out, theirs.numpy(), atol=ATOL)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("fused", [False, True])
def test_torch_mha_matches_nn_multiheadattention(causal, fused):
    x, keep = _batch(11)
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(16, 4, bias=False, batch_first=True)
    ours = at.MultiHeadAttention(4, 4, 16, out_dim=16, fused=fused)
    wq, wk, wv = (w.detach().numpy().T for w in theirs.in_proj_weight.chunk(3))
    ours.load_numpy(wq, wk, wv, theirs.out_proj.weight.detach().numpy().T)
    xt, kt = torch.tensor(x), torch.tensor(keep)
    cm = torch.ones(7, 7, dtype=torch.bool).tril()
    ref_out, _ = theirs(xt, xt, xt, key_padding_mask=~kt, attn_mask=~cm if causal else None, need_weights=False)
    out = ours(xt, key_mask=kt, causal=causal)
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), atol=ATOL)
    np_out = ref.multi_head_attention(x, x, x, wq, wk, wv, 4, wo=theirs.out_proj.weight.detach().numpy().T,
                                      key_mask=keep, causal=causal)
    np.testing.assert_allclose(np_out, ref_out.detach().numpy(), atol=ATOL)


def test_torch_su_layer_matches_numpy_unscaled_and_query_mask():
    x, keep = _batch(12)
    torch.manual_seed(1)
    for scale in (True, False):
        for fused in (False, True):
            layer = at.MultiHeadAttention(2, 8, 16, scale=scale, fused=fused)
            w = [p.weight.detach().numpy().T for p in (layer.q_proj, layer.k_proj, layer.v_proj)]
            out = layer(torch.tensor(x), key_mask=torch.tensor(keep), query_mask=torch.tensor(keep))
            np_out = ref.multi_head_attention(x, x, x, *w, heads=2, key_mask=keep, query_mask=keep, scale=scale)
            np.testing.assert_allclose(out.detach().numpy(), np_out, atol=ATOL)


@pytest.mark.parametrize("fused", [False, True])
def test_torch_fully_masked_rows_finite_output_and_gradient(fused):
    x, _ = _batch(13)
    keep = torch.tensor(ref.length_mask(np.array([7, 0, 2]), 7))        # row 1 fully masked
    layer = at.MultiHeadAttention(4, 4, 16, out_dim=16, fused=fused)
    xt = torch.tensor(x, requires_grad=True)
    out = layer(xt, key_mask=keep, causal=True)
    out.square().sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(xt.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


def test_torch_padded_batch_matches_unpadded():
    x, keep = _batch(14)
    layer = at.MultiHeadAttention(4, 4, 16)
    out = layer(torch.tensor(x), key_mask=torch.tensor(keep)).detach().numpy()
    for i, n in enumerate((7, 4, 2)):
        alone = layer(torch.tensor(x[i:i + 1, :n])).detach().numpy()
        np.testing.assert_allclose(out[i, :n], alone[0], atol=ATOL)


def test_torch_bad_masks():
    x, keep = _batch(15)
    layer = at.MultiHeadAttention(4, 4, 16)
    with pytest.raises(ValueError, match="boolean"):
        layer(torch.tensor(x), key_mask=torch.tensor(keep).float())
    with pytest.raises(ValueError, match="broadcast"):
        layer(torch.tensor(x), key_mask=torch.tensor(keep[:, :5]))


@pytest.mark.parametrize("layout", ref.LAYOUTS)
def test_torch_position_embedding(layout):
    x = torch.zeros(2, 11, 8)
    pe = at.PositionEmbedding("sum", layout=layout)(x)
    np.testing.assert_allclose(pe[1].numpy(), ref.sinusoidal_position_embedding(11, 8, layout), atol=1e-6)
    cat = at.PositionEmbedding("concat", size=4, layout=layout)(x)
    assert cat.shape == (2, 11, 12)
    np.testing.assert_allclose(cat[0, :, :4].numpy(), ref.sinusoidal_position_embedding(11, 4, layout), atol=1e-6)
    with pytest.raises(ValueError, match="mode"):
        at.PositionEmbedding("mul")


def test_classifier_is_order_blind_without_pe():
    torch.manual_seed(0)
    tokens = torch.tensor([[5, 6, 7, 8, 9, 0, 0], [3, 4, 5, 0, 0, 0, 0]])
    perm = torch.tensor([[4, 2, 0, 3, 1, 5, 6], [1, 2, 0, 3, 4, 5, 6]])
    shuffled = torch.gather(tokens, 1, perm)
    for position in (False, True):
        model = at.AttentionClassifier(12, dim=16, heads=2, size_per_head=8, position=position).eval()
        a, b = model(tokens), model(shuffled)
        if position:
            assert not torch.allclose(a, b, atol=1e-6)
        else:
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=ATOL)
        # padding is masked: appending more padding changes nothing
        more = torch.cat([tokens, torch.zeros(2, 3, dtype=torch.long)], 1)
        np.testing.assert_allclose(model(more).detach().numpy(), a.detach().numpy(), atol=ATOL)


def test_importing_the_package_does_not_import_frameworks():
    import subprocess
    import sys

    code = ("import sys, kexue.attention, kexue.attention.numpy_ref; "
            "print(any(m in sys.modules for m in ('torch', 'tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_order_task_needs_position_embedding():
    torch.set_num_threads(1)
    acc = {}
    for position in (True, False):
        torch.manual_seed(0)
        model = at.AttentionClassifier(22, dim=32, heads=4, size_per_head=8, position=position, dropout=0.0)
        acc[position] = ae.train_order_task(model, steps=250, seed=0, n_test=2000)["test_acc"]
    assert acc[True] > 0.95, acc
    assert abs(acc[False] - 0.5) < 0.04, acc


def test_train_review_classifier_runs_and_rejects_bad_input():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = np.zeros((40, 6), np.int64)
    lengths = rng.integers(1, 7, 40)
    for i, n in enumerate(lengths):
        x[i, :n] = rng.integers(2, 10, n)
    y = (x == 3).any(1).astype(np.int64)
    model = at.AttentionClassifier(10, dim=8, heads=2, size_per_head=4)
    hist = ae.train_review_classifier(model, x, y, x, y, epochs=2, batch_size=8).column("val_acc")
    assert len(hist) == 2 and all(0 <= a <= 1 for a in hist)
    with pytest.raises(ValueError, match="shape mismatch"):
        ae.train_review_classifier(model, x, y[:-1], x, y, epochs=1)
    with pytest.raises(ValueError, match="config"):
        ae.run_review_config("bogus", 0, None)


def test_feed_forward_is_conv1d_kernel_one():
    torch.manual_seed(0)
    x = torch.randn(3, 11, 16)
    ffn, conv = torch.nn.Linear(16, 24), torch.nn.Conv1d(16, 24, kernel_size=1)
    with torch.no_grad():
        conv.weight.copy_(ffn.weight[:, :, None])
        conv.bias.copy_(ffn.bias)
        np.testing.assert_allclose(conv(x.transpose(1, 2)).transpose(1, 2).numpy(), ffn(x).numpy(), atol=1e-6)


@pytest.mark.parametrize("r", [1, 3])
def test_restricted_attention_is_local(r):
    n = 10
    x = torch.randn(n, 6, dtype=torch.float64, requires_grad=True)
    band = (torch.arange(n)[:, None] - torch.arange(n)[None, :]).abs() <= r
    out, _ = at.scaled_dot_product_attention(x, x, x, mask=band)
    for t in range(n):
        g = torch.autograd.grad(out[t].sum(), x, retain_graph=True)[0].abs().sum(1)
        np.testing.assert_array_equal((g > 0).numpy(), band[t].numpy())


def test_logits_cost_grows_quadratically():
    from _timing import best_time
    torch.set_num_threads(1)

    def best(f):
        return best_time(f, repeats=5)

    d = 64
    w = torch.randn(d, 3 * d)
    times = {}
    with torch.no_grad():
        for n in (1024, 2048):
            x = torch.randn(n, d)
            q, k = x @ w[:, :d], x @ w[:, d:2 * d]
            times[n] = (best(lambda: x @ w), best(lambda: q @ k.T))
    growth_proj, growth_qk = times[2048][0] / times[1024][0], times[2048][1] / times[1024][1]
    assert growth_qk > 2.8 and growth_qk > 1.3 * growth_proj
