"""Tests of kexue.train: the seeding rule, the samplers, the per-epoch callback, predict, bad input."""
from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from kexue import train as T  # noqa: E402
from kexue.seed import seed_everything  # noqa: E402

X = np.random.default_rng(0).normal(size=(50, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.1


def make_model(seed: int = 0) -> nn.Module:
    seed_everything(seed, frameworks=["torch"])
    return nn.Linear(3, 1).double()


def mse(model, seen=None):
    xt, yt = torch.from_numpy(X), torch.from_numpy(Y)

    def loss_fn(idx):
        if seen is not None:
            seen.append(idx.copy())
        return ((model(xt[idx])[:, 0] - yt[idx]) ** 2).mean()
    return loss_fn


def test_same_seed_gives_identical_losses_and_weights():
    runs = []
    for _ in range(2):
        model = make_model(0)
        hist = T.fit(model, mse(model), T.shuffled(len(X), 8), epochs=3, seed=5, lr=0.05, bar=False)
        runs.append((hist.steps, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0] and len(runs[0][0]) == 3 * 7
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_batch_order_comes_from_default_rng_of_the_seed():
    orders = {}
    for seed in (1, 1, 2):
        model, seen = make_model(0), []
        T.fit(model, mse(model, seen), T.shuffled(len(X), 8), epochs=2, seed=seed, bar=False)
        orders.setdefault(seed, []).append(np.concatenate(seen))
    np.testing.assert_array_equal(orders[1][0], orders[1][1])
    assert not np.array_equal(orders[1][0], orders[2][0])
    # the rule written out: one generator, one permutation per epoch
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(orders[1][0], np.concatenate([rng.permutation(50), rng.permutation(50)]))


def test_fit_is_the_plain_loop_and_evaluate_sees_each_epoch():
    """Independent oracle: the same Adam loop written out by hand, snapshotted after each epoch."""
    model = make_model(3)
    oracle = copy.deepcopy(model)
    snapshots, calls = [], []

    def evaluate(m, epoch):
        calls.append(epoch)
        snapshots.append(copy.deepcopy(m.state_dict()))
        np.random.random(10)          # drawing from other generators must not change the training
        return {"w0": float(m.weight[0, 0].detach())}

    hist = T.fit(model, mse(model), T.shuffled(len(X), 16), epochs=3, seed=7, lr=0.01, evaluate=evaluate,
                 bar=False)
    assert calls == [0, 1, 2] and [r["epoch"] for r in hist.epochs] == [1, 2, 3]

    opt = torch.optim.Adam(oracle.parameters(), lr=0.01)
    rng = np.random.default_rng(7)
    xt, yt = torch.from_numpy(X), torch.from_numpy(Y)
    for epoch in range(3):
        order = rng.permutation(len(X))
        total = 0.0
        for i in range(0, len(X), 16):
            idx = order[i:i + 16]
            loss = ((oracle(xt[idx])[:, 0] - yt[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        for k, v in oracle.state_dict().items():
            assert torch.equal(snapshots[epoch][k], v), (epoch, k)
        assert hist.epochs[epoch]["loss"] == total / len(X)
        assert hist.epochs[epoch]["w0"] == float(oracle.weight[0, 0].detach())
    assert not model.training                       # fit leaves the model in eval mode


def test_stats_are_sums_divided_by_examples_and_max_steps_stops():
    model = make_model(0)
    xt = torch.from_numpy(X)

    def loss_fn(idx):
        return (model(xt[idx]) ** 2).mean(), {"count": len(idx), "first": float(idx[0] == idx[0])}
    hist = T.fit(model, loss_fn, T.shuffled(len(X), 8), epochs=2, seed=0, bar=False)
    assert [r["count"] for r in hist.epochs] == [1.0, 1.0]
    assert hist.epochs[0]["first"] == pytest.approx(7 / 50)            # 7 batches, one per batch
    hist = T.fit(model, loss_fn, T.shuffled(len(X), 8), epochs=5, seed=0, bar=False, max_steps=10)
    assert len(hist.steps) == 10 and len(hist.epochs) == 1               # the partial 2nd epoch has no row


@pytest.mark.parametrize("pool", [None, 2, 50])
def test_bucketed_covers_every_index_once_per_epoch(pool):
    lengths = np.random.default_rng(1).integers(1, 40, size=203)
    b = T.bucketed(lengths, 10, pool=pool)
    rng = np.random.default_rng(0)
    epochs = [b.draw(rng) for _ in range(3)]
    for batches in epochs:
        assert len(batches) == len(b) == 21
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(203))
        assert all(1 <= len(x) <= 10 for x in batches)
    assert not np.array_equal(np.concatenate(epochs[0]), np.concatenate(epochs[1]))


def test_bucketed_batches_have_similar_lengths():
    lengths = np.random.default_rng(2).integers(1, 200, size=1000)
    rng = np.random.default_rng(0)
    spread = lambda batches: np.mean([np.ptp(lengths[x]) for x in batches])  # noqa: E731
    one_pool = T.bucketed(lengths, 20, pool=None).draw(rng)
    # one pool: sorted by length, so the batches' length ranges do not overlap
    ranges = sorted((lengths[x].min(), lengths[x].max()) for x in one_pool)
    assert all(hi <= lo_next for (_, hi), (lo_next, _) in zip(ranges, ranges[1:]))
    random = T.shuffled(1000, 20).draw(rng)
    assert spread(T.bucketed(lengths, 20, pool=10).draw(rng)) < 0.2 * spread(random)
    assert spread(one_pool) < 0.05 * spread(random)


def test_deterministic_samplers():
    np.testing.assert_array_equal(np.concatenate(T.in_order(7, 3).draw(None)), np.arange(7))
    assert [len(x) for x in T.in_order(7, 3).draw(None)] == [3, 3, 1]
    lengths = np.array([3, 1, 2, 1, 3])
    np.testing.assert_array_equal(np.concatenate(T.by_length(lengths, 2).draw(None)), [1, 3, 2, 0, 4])


def test_predict_returns_the_original_order():
    model = make_model(0)
    lengths = np.random.default_rng(0).integers(1, 9, size=len(X))
    want = model(torch.from_numpy(X)).detach().numpy()
    for batches in (T.in_order(len(X), 7), T.by_length(lengths, 7)):
        got = T.predict(model, lambda idx: torch.from_numpy(X[idx]), batches)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    p = T.predict_proba(model, lambda idx: (torch.from_numpy(X[idx]),), T.in_order(len(X), 16))
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-want)), rtol=0, atol=1e-12)


def test_bad_input_is_rejected():
    model = make_model(0)
    ok = dict(epochs=1, seed=0, bar=False)
    b = T.shuffled(len(X), 8)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        T.fit(lambda x: x, mse(model), b, **ok)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        T.fit(model, 3.0, b, **ok)
    with pytest.raises(TypeError, match="batches must be a kexue.train.Batches"):
        T.fit(model, mse(model), [np.arange(3)], **ok)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got -1"):
        T.fit(model, mse(model), b, epochs=-1, seed=0)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0, got 2.0"):
        T.fit(model, mse(model), b, epochs=2.0, seed=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        T.fit(model, mse(model), b, epochs=1, seed=-1)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got True"):
        T.fit(model, mse(model), b, epochs=1, seed=True)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        T.fit(model, mse(model), b, lr=0.0, **ok)
    with pytest.raises(ValueError, match="max_steps must be an integer >= 1, got 0"):
        T.fit(model, mse(model), b, max_steps=0, **ok)
    with pytest.raises(ValueError, match="time_limit must be a positive"):
        T.fit(model, mse(model), b, time_limit=0, **ok)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        T.fit(model, mse(model), b, optimizer="adam", **ok)
    with pytest.raises(TypeError, match="evaluate must be callable"):
        T.fit(model, mse(model), b, evaluate=1, **ok)
    with pytest.raises(TypeError, match="scalar tensor"):
        T.fit(model, lambda idx: model(torch.from_numpy(X[idx])), b, **ok)
    with pytest.raises(FloatingPointError, match="the loss is nan at epoch 1, update 1"):
        T.fit(model, lambda idx: model(torch.from_numpy(X[idx])).sum() * float("nan"), b, **ok)
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        T.shuffled(0, 4)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        T.shuffled(10, 0)
    with pytest.raises(ValueError, match="lengths must be a non-empty 1-d"):
        T.bucketed(np.ones((2, 2), dtype=int), 4)
    with pytest.raises(ValueError, match="lengths must be non-negative integers"):
        T.bucketed([1.5, 2.0], 4)
    with pytest.raises(ValueError, match="pool must be an integer >= 1, got 0"):
        T.bucketed([1, 2], 4, pool=0)
    with pytest.raises(TypeError, match="needs a numpy Generator"):
        b.draw(None)
    with pytest.raises(TypeError, match="deterministic sampler"):
        T.predict(model, lambda idx: torch.from_numpy(X[idx]), b)
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        T.fit(model, mse(model), b, on_epoch_end="decay", **ok)
    with pytest.raises(TypeError, match="device must be a str or torch.device"):
        T.fit(model, mse(model), b, device=0, **ok)


def test_a_non_finite_loss_raises_before_the_update():
    """The weights after the failing batch equal those after the last finite update (a copy taken then)."""
    model = make_model(0)
    xt, yt = torch.from_numpy(X), torch.from_numpy(Y)
    snapshots = []

    def loss_fn(idx):
        snapshots.append(copy.deepcopy(model.state_dict()))
        loss = ((model(xt[idx])[:, 0] - yt[idx]) ** 2).mean()
        return loss * float("inf") if len(snapshots) == 3 else loss

    with pytest.raises(FloatingPointError, match="the loss is inf at epoch 1, update 3"):
        T.fit(model, loss_fn, T.shuffled(len(X), 8), epochs=1, seed=0, lr=0.1, bar=False)
    for name, value in model.state_dict().items():
        assert torch.isfinite(value).all()
        assert torch.equal(value, snapshots[2][name])        # untouched by the failing batch
        assert not torch.equal(value, snapshots[0][name])    # the two finite updates did move it


def test_on_epoch_end_sees_each_row_after_evaluate_and_can_change_the_rate():
    """A x0.5 step-decay schedule through the hook equals the hand-written loop with the same schedule."""
    calls = []

    def evaluate(m, epoch):
        calls.append(("evaluate", epoch))
        return {"w0": float(m.weight[0, 0].detach())}

    def decay(m, epoch, row):
        calls.append(("end", epoch, row["epoch"], "w0" in row))
        for group in opt.param_groups:
            group["lr"] *= 0.5

    model = make_model(2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = T.fit(model, mse(model), T.shuffled(len(X), 10), epochs=3, seed=4, optimizer=opt,
                 evaluate=evaluate, on_epoch_end=decay, bar=False)
    assert calls == [("evaluate", 0), ("end", 0, 1, True), ("evaluate", 1), ("end", 1, 2, True),
                     ("evaluate", 2), ("end", 2, 3, True)]
    # oracle: the same SGD loop by hand
    ref = make_model(2)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    rng = np.random.default_rng(4)
    xt, yt = torch.from_numpy(X), torch.from_numpy(Y)
    for _ in range(3):
        perm = rng.permutation(len(X))
        for i in range(0, len(X), 10):
            idx = perm[i:i + 10]
            ref_opt.zero_grad()
            ((ref(xt[idx])[:, 0] - yt[idx]) ** 2).mean().backward()
            ref_opt.step()
        for group in ref_opt.param_groups:
            group["lr"] *= 0.5
    assert torch.equal(model.weight, ref.weight) and torch.equal(model.bias, ref.bias)
    assert len(hist.epochs) == 3


def test_device_meta_is_a_dry_run_that_moves_the_model_first():
    """``device="meta"``: the model moves before the default optimizer is built, and a loss_fn
    that makes its tensors on the model's device runs every update (losses NaN: meta has no values);
    one that makes a CPU tensor fails (CPU and meta tensors do not mix)."""
    model = make_model(0).float()
    seen = []

    def loss_fn(idx):
        w = next(model.parameters())
        seen.append(w.device.type)
        x = torch.zeros(len(idx), 3, device=w.device)
        return model(x).pow(2).mean(), {"n": torch.tensor(float(len(idx)), device=w.device)}

    hist = T.fit(model, loss_fn, T.shuffled(len(X), 8), epochs=2, seed=0, device="meta", bar=False)
    assert seen == ["meta"] * 14 and all(p.device.type == "meta" for p in model.parameters())
    assert len(hist.steps) == 14 and all(np.isnan(hist.steps)) and len(hist.epochs) == 2

    cpu_model = make_model(0).float()
    with pytest.raises((RuntimeError, NotImplementedError)):
        T.fit(cpu_model, lambda idx: cpu_model(torch.zeros(len(idx), 3)).pow(2).mean(),
              T.shuffled(len(X), 8), epochs=1, seed=0, device="meta", bar=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_on_cuda_equals_cpu_within_float_tolerance():
    runs = {}
    for device in ("cpu", "cuda"):
        model = make_model(0)
        xt, yt = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)

        def loss_fn(idx):
            return ((model(xt[idx])[:, 0] - yt[idx]) ** 2).mean()
        hist = T.fit(model, loss_fn, T.shuffled(len(X), 8), epochs=2, seed=1, lr=0.05, device=device, bar=False)
        runs[device] = hist.steps
    np.testing.assert_allclose(runs["cuda"], runs["cpu"], rtol=1e-9)


def test_history_column_names_the_missing_key():
    hist = T.History(epochs=[{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}])
    assert hist.column("loss") == [0.5, 0.25] and T.History().column("loss") == []
    with pytest.raises(KeyError, match=r"no column 'acc' in epoch 1; the rows have \['epoch', 'loss'\]"):
        hist.column("acc")
