"""Full-scale run of chapter 07's experiment: train on single MNIST digits, test on two-digit images.

Same code path as the chapter (``kexue.capsule.experiment``); the defaults are the
post's scale (all 60,000 training images, full-width trunk, CNN 20 epochs,
capsule 10 epochs, Adam 1e-3, batch 128, routing "post").  Writes a JSON file
with the chapter's metric names plus the command, date, seconds and versions::

    python experiments/capsule_two_digits.py                         # -> experiments/results/07-full.json
    python experiments/capsule_two_digits.py --routing kmeans --kinds caps --out experiments/results/08-full.json
    python experiments/capsule_two_digits.py --n-train 512 --n-test 200 --width 0.25 \\
        --epochs-cnn 1 --epochs-caps 1 --out /tmp/07-tiny.json       # a smoke test
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from kexue.capsule.experiment import KINDS, Config, config_dict, load_data, run, versions  # noqa: E402
from kexue.capsule.numpy_ref import ROUTINGS  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "07-full.json"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=None, help="training subset (default: all 60,000)")
    p.add_argument("--n-test", type=int, default=None, help="test subset (default: all 10,000)")
    p.add_argument("--width", type=float, default=1.0, help="trunk channel multiplier (1.0 = 64/128)")
    p.add_argument("--epochs-cnn", type=int, default=20)
    p.add_argument("--epochs-caps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--routing", choices=sorted(ROUTINGS), default="post")
    p.add_argument("--routings", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args(argv)
    cfg = Config(n_train=a.n_train, n_test=a.n_test, width=a.width, epochs_cnn=a.epochs_cnn,
                 epochs_caps=a.epochs_caps, batch_size=a.batch_size, lr=a.lr, routing=a.routing,
                 routings=a.routings, seed=a.seed, threads=a.threads)
    start = time.perf_counter()
    data = load_data(cfg)
    results = run(cfg, kinds=tuple(a.kinds), data=data)
    metrics, models = {}, {}
    short = {"cnn": "cnn", "caps": "caps"}
    for kind, r in results.items():
        s = short[kind]
        metrics[f"mnist_acc_{s}"] = r["mnist_acc"]
        metrics[f"acc1_{s}"] = r["acc1"]
        metrics[f"acc2_{s}"] = r["acc2"]
        models[kind] = dict(params=r["params"], loss_per_epoch=[round(x, 6) for x in r["loss"]],
                            seconds_train=round(r["seconds_train"], 1), seconds_eval=round(r["seconds_eval"], 1))
    out = dict(chapter="07", metrics=metrics, models=models, config=config_dict(cfg),
               n_train=int(len(data["x_train"])), n_test=int(len(data["x_test"])), n_pairs=int(len(data["pairs"])),
               command="python " + " ".join(["experiments/capsule_two_digits.py",
                                             *(sys.argv[1:] if argv is None else argv)]),
               date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
               seconds=round(time.perf_counter() - start, 1), versions=versions(), cpu_count=os.cpu_count())
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    for k, v in metrics.items():
        print(f"{k:14s} {v:.4f}")
    print(f"wrote {a.out} ({out['seconds']} s)")
    return out


if __name__ == "__main__":
    main()
