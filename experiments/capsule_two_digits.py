"""Full-scale run of chapter 07's experiment: train on single MNIST digits, test on two-digit images.

Same code path as the chapter (``kexue.capsule.experiment``); the defaults are the
post's scale (all 60,000 training images, full-width trunk, CNN 20 epochs,
capsule 10 epochs, Adam 1e-3, batch 128, routing "post").  Writes a JSON file
with the chapter's metric names plus the command, date, seconds and versions::

    python experiments/capsule_two_digits.py                   # -> experiments/results/07-full-post-seed0.json
    python experiments/capsule_two_digits.py --routing kmeans --kinds caps --seed 1 \
        --out experiments/results/08-full-kmeans-seed1.json
    python experiments/capsule_two_digits.py --n-train 512 --n-test 200 --width 0.25 \\
        --epochs-cnn 1 --epochs-caps 1 --out /tmp/07-tiny.json       # a smoke test

The two models train independently (each is seeded on its own), so they can run as two
processes, one per core, and be merged afterwards; the merged file lists both commands::

    python experiments/capsule_two_digits.py --threads 1 --kinds cnn --out /tmp/07-cnn.json &
    python experiments/capsule_two_digits.py --threads 1 --kinds caps --out /tmp/07-caps.json
    python experiments/capsule_two_digits.py --merge /tmp/07-cnn.json /tmp/07-caps.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from kexue.capsule.experiment import KINDS, Config, config_dict, load_data, run  # noqa: E402
from kexue.capsule.numpy_ref import ROUTINGS  # noqa: E402
from kexue.results import run_info  # noqa: E402

MODEL_SPECIFIC = {"epochs_cnn", "epochs_caps", "routing"}
RESULTS = Path(__file__).resolve().parent / "results"


def default_out(routing: str, seed: int) -> Path:
    """``experiments/results/07-full-<routing>-seed<S>.json``: the naming scheme of kexue.results.parse_run_name."""
    return RESULTS / f"07-full-{routing}-seed{seed}.json"


def merge(parts: list[dict]) -> dict:
    """One results file from runs of different models with the same configuration and data.

    The metrics and models are united; ``command`` joins the parts' commands with ``&&``,
    ``seconds`` is the sum of the parts' wall times and ``parts`` keeps each one's command,
    date and seconds.  Raises ``ValueError`` if the parts disagree on the configuration
    (other than :data:`MODEL_SPECIFIC` settings) or the data, or if two parts trained the same model.
    """
    if len(parts) < 2:
        raise ValueError(f"merge needs at least two parts, got {len(parts)}")
    first = parts[0]
    out = json.loads(json.dumps({k: v for k, v in first.items() if k not in ("metrics", "models", "parts")}))
    out["metrics"], out["models"] = {}, {}
    for part in parts:
        overlap = set(part["models"]) & set(out["models"])
        if overlap:
            raise ValueError(f"parts overlap in models {sorted(overlap)}")
        for key in ("n_train", "n_test", "n_pairs"):
            if part[key] != first[key]:
                raise ValueError(f"parts differ in {key}: {part[key]} vs {first[key]}")
        for key, value in part["config"].items():
            # a model's epochs and the capsule routing matter only to the part that trained it
            if key not in MODEL_SPECIFIC and value != first["config"][key]:
                raise ValueError(f"parts differ in config {key!r}: {value!r} vs {first['config'][key]!r}")
        out["metrics"].update(part["metrics"])
        out["models"].update(part["models"])
    for kind in out["models"]:      # each model's settings from the part that trained it
        owner = next(p for p in parts if kind in p["models"])
        out["config"][f"epochs_{kind}"] = owner["config"][f"epochs_{kind}"]
        if kind == "caps":
            out["config"]["routing"] = owner["config"]["routing"]
    out["parts"] = [{k: p[k] for k in ("command", "date", "seconds")} for p in parts]
    out["command"] = " && ".join(p["command"] for p in parts)
    out["date"] = max(p["date"] for p in parts)
    out["seconds"] = round(sum(p["seconds"] for p in parts), 1)
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=None, help="training subset (default: all 60,000)")
    p.add_argument("--n-test", type=int, default=None, help="test subset (default: all 10,000)")
    p.add_argument("--width", type=float, default=1.0, help="trunk channel multiplier (1.0 = 64/128)")
    p.add_argument("--epochs-cnn", type=int, default=20)
    p.add_argument("--epochs-caps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", type=float, default=1.0,
                   help="multiply the learning rate by this after every epoch (1.0: constant, the post's recipe)")
    p.add_argument("--routing", choices=sorted(ROUTINGS), default="post")
    p.add_argument("--routings", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--out", type=Path, default=None,
                   help="results file (default: experiments/results/07-full-<routing>-seed<S>.json)")
    p.add_argument("--per-epoch", action="store_true",
                   help="also evaluate after every epoch (same training and final numbers; slower)")
    p.add_argument("--merge", type=Path, nargs="+", metavar="PART",
                   help="merge results files of separately trained models into --out (no training)")
    a = p.parse_args(argv)
    if a.out is None:
        a.out = default_out(a.routing, a.seed)
    if a.merge:
        out = merge([json.loads(f.read_text()) for f in a.merge])
        a.out.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {a.out}: {', '.join(out['models'])}")
        return out
    cfg = Config(n_train=a.n_train, n_test=a.n_test, width=a.width, epochs_cnn=a.epochs_cnn,
                 epochs_caps=a.epochs_caps, batch_size=a.batch_size, lr=a.lr, lr_decay=a.lr_decay,
                 routing=a.routing, routings=a.routings, seed=a.seed, threads=a.threads)
    start = time.perf_counter()
    data = load_data(cfg)
    results = run(cfg, kinds=tuple(a.kinds), data=data, per_epoch=a.per_epoch)
    metrics, models = {}, {}
    for kind, r in results.items():
        for m in ("mnist_acc", "acc1", "acc2"):
            metrics[f"{m}_{kind}"] = r[m]
        models[kind] = dict(params=r["params"], loss_per_epoch=[round(x, 6) for x in r["loss"]],
                            seconds_train=round(r["seconds_train"], 1), seconds_eval=round(r["seconds_eval"], 1))
        if a.per_epoch:
            models[kind]["per_epoch"] = r["per_epoch"]
    out = dict(chapter="07", metrics=metrics, models=models, config=config_dict(cfg),
               n_train=int(len(data["x_train"])), n_test=int(len(data["x_test"])), n_pairs=int(len(data["pairs"])),
               **run_info("experiments/capsule_two_digits.py", sys.argv[1:] if argv is None else argv,
                          time.perf_counter() - start, threads=cfg.threads))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    for k, v in metrics.items():
        print(f"{k:14s} {v:.4f}")
    print(f"wrote {a.out} ({out['seconds']} s)")
    return out


if __name__ == "__main__":
    main()
