"""kexue.capsule.seeds: gathering the recorded full-scale capsule runs (chapters 07 and 08)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kexue.capsule import seeds as S


def _write(folder, name, routing, curve, final=None, per_epoch=True, lr_decay=None):
    final = final or curve[-1]
    models = {"caps": {"loss_per_epoch": [0.1] * len(curve), "seconds_train": 1.0}}
    if per_epoch:
        models["caps"]["per_epoch"] = [{"mnist_acc": 0.99, "acc1": a, "acc2": a} for a in curve]
    config = {"routing": routing} if lr_decay is None else {"routing": routing, "lr_decay": lr_decay}
    rec = {"config": config, "metrics": {"mnist_acc_caps": 0.99, "acc1_caps": final, "acc2_caps": final},
           "models": models, "command": "python x.py", "date": "2026-12-02T00:00:00Z"}
    (folder / name).write_text(json.dumps(rec))


def test_seeds_are_gathered_and_summarised(tmp_path):
    _write(tmp_path, "07-full-post-seed1.json", "post", [0.5, 0.7])
    _write(tmp_path, "07-full-post-seed2.json", "post", [0.6, 0.9])
    _write(tmp_path, "07-full-post-seed0.json", "post", [0.4, 0.8])       # seed 0 is named like the others
    _write(tmp_path, "08-full-kmeans-seed1.json", "kmeans", [0.9, 0.95])
    runs = S.recorded_seeds("post", tmp_path)
    assert list(runs) == [0, 1, 2] and runs[0]["file"] == "07-full-post-seed0.json"
    mean, sd, seeds = S.per_epoch_stats(runs, "acc1")
    np.testing.assert_allclose(mean, [0.5, 0.8])
    np.testing.assert_allclose(sd, [np.std([0.4, 0.5, 0.6], ddof=1), np.std([0.8, 0.7, 0.9], ddof=1)])
    assert seeds == [0, 1, 2]
    assert S.final_stats(runs, "acc1") == pytest.approx((0.8, 0.1, 3))
    assert list(S.recorded_seeds("kmeans", tmp_path)) == [1]


def test_a_capsule_run_without_routing_and_seed_in_its_name_is_refused(tmp_path):
    """One naming scheme: the old first recording `07-full.json` would be a seed-0 run outside its group."""
    _write(tmp_path, "07-full-post-seed1.json", "post", [0.3, 0.6])
    _write(tmp_path, "07-full.json", "post", [0.4, 0.8])
    with pytest.raises(ValueError, match=r"07-full\.json is a capsule run without its routing and seed"):
        S.recorded_seeds("post", tmp_path)
    (tmp_path / "07-full.json").write_text(json.dumps({"metrics": {"f1": 0.5}}))   # not a capsule run: no routing
    assert list(S.recorded_seeds("post", tmp_path)) == [1]


def test_runs_without_a_curve_count_only_for_the_final_numbers(tmp_path):
    _write(tmp_path, "08-full-kmeans-seed0.json", "kmeans", [0.9], final=0.95, per_epoch=False)
    _write(tmp_path, "08-full-kmeans-seed1.json", "kmeans", [0.9, 0.97])
    runs = S.recorded_seeds("kmeans", tmp_path)
    assert S.per_epoch_stats(runs, "acc1")[2] == [1]
    assert S.final_stats(runs, "acc1")[0] == pytest.approx(0.96)


def test_a_variant_is_gathered_apart_from_the_recipe(tmp_path):
    _write(tmp_path, "07-full-post-seed1.json", "post", [0.5, 0.7], lr_decay=1.0)
    _write(tmp_path, "07-full-post-lrdecay-seed1.json", "post", [0.6, 0.9], lr_decay=0.7)
    assert [r["file"] for r in S.recorded_seeds("post", tmp_path).values()] == ["07-full-post-seed1.json"]
    variant = S.recorded_seeds("post", tmp_path, variant="lrdecay")
    assert [r["file"] for r in variant.values()] == ["07-full-post-lrdecay-seed1.json"]
    # a decayed run filed under the recipe's name is refused, not silently averaged in
    _write(tmp_path, "07-full-post-seed2.json", "post", [0.6, 0.9], lr_decay=0.7)
    with pytest.raises(ValueError, match="lr_decay 0.7"):
        S.recorded_seeds("post", tmp_path)
    with pytest.raises(ValueError, match="variant must be"):
        S.recorded_seeds("post", tmp_path, variant="LR decay")


def test_plot_bands_draws_the_mean_and_the_band(tmp_path):
    import matplotlib
    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    _write(tmp_path, "07-full-post-seed1.json", "post", [0.5, 0.7])
    _write(tmp_path, "07-full-post-seed2.json", "post", [0.7, 0.9])
    fig, ax = plt.subplots()
    seeds = S.plot_bands(ax, S.recorded_seeds("post", tmp_path), "acc1", label="acc1")
    assert seeds == [1, 2]
    mean_line = ax.lines[-1]
    np.testing.assert_allclose(mean_line.get_ydata(), [0.6, 0.8])
    assert mean_line.get_label() == "acc1 (2 seeds)" and len(ax.lines) == 3
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    sd = np.std([0.5, 0.7], ddof=1)
    assert band.min() == pytest.approx(0.6 - sd) and band.max() == pytest.approx(0.8 + sd)
    plt.close(fig)


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="routing 'hinton'"):
        S.recorded_seeds("hinton", tmp_path)
    with pytest.raises(ValueError, match="metric"):
        S.per_epoch_stats({}, "loss")
    with pytest.raises(ValueError, match="evaluated every epoch"):
        S.per_epoch_stats({}, "acc1")


def test_other_variants_and_kinds_are_left_out(tmp_path):
    _write(tmp_path, "07-full-post-seed1.json", "post", [0.5, 0.7])
    _write(tmp_path, "07-full-post-long-seed3.json", "post", [0.6, 0.9])
    _write(tmp_path, "07-full-hinton-seed4.json", "hinton", [0.2, 0.3])
    (tmp_path / "07-live-cnn-seeds.json").write_text("{}")            # another kind: never read
    assert list(S.recorded_seeds("post", tmp_path)) == [1]
    assert list(S.recorded_seeds("post", tmp_path, variant="long")) == [3]


def test_a_misnamed_file_is_refused(tmp_path):
    _write(tmp_path, "07-full-post-seed1.json", "post", [0.5, 0.7])
    _write(tmp_path, "07-full-post-seed1-copy.json", "post", [0.5, 0.7])
    with pytest.raises(ValueError, match="not a recorded-run file name"):
        S.recorded_seeds("post", tmp_path)
