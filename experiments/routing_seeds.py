"""Chapter 08's paired routing comparison over several seeds, at chapter 07's live scale.

The chapter can afford one seed live (``chapters/08-kmeans-capsule.md``); this script
repeats the same comparison, through the same code (``kexue.capsule.experiment``), for
more seeds: for each seed, both routings start from the same initial weights and see the
same data subset, pairs and batch order.  It writes
``experiments/results/08-live-seeds.json`` (configuration: ``kexue.capsule.experiment.LIVE``)
with every run's metrics plus the command,
date, wall seconds, machine and versions::

    python experiments/routing_seeds.py                  # seeds 0-4, about 12 minutes on one thread
    python experiments/routing_seeds.py --seeds 0 1 --out /tmp/seeds.json

Chapter 07 uses the same script for the spread of its live CNN over seeds (no capsule model)::

    python experiments/routing_seeds.py --routings --cnn --chapter 07 --out experiments/results/07-live-cnn-seeds.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from kexue.capsule.experiment import LIVE, load_data, run_model  # noqa: E402
from kexue.results import run_info  # noqa: E402

ROUTINGS = ("kmeans", "post")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--routings", nargs="*", choices=ROUTINGS, default=list(ROUTINGS),
                    help="capsule routings to train per seed (none: no capsule model)")
    ap.add_argument("--cnn", action="store_true", help="also train the CNN per seed (recorded as routing 'cnn')")
    ap.add_argument("--chapter", default="08", help="the chapter the recorded file belongs to")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the chapters use 1; results depend on it)")
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "08-live-seeds.json")
    a = ap.parse_args(argv)
    start = time.perf_counter()
    runs = []
    for seed in a.seeds:
        data = load_data(replace(LIVE, seed=seed, threads=a.threads))
        for routing in a.routings + (["cnn"] if a.cnn else []):
            kind = "cnn" if routing == "cnn" else "caps"
            cfg = replace(LIVE, routing="post" if kind == "cnn" else routing, seed=seed, threads=a.threads)
            r = run_model(kind, cfg, data)                  # seeds the weights with cfg.seed itself
            runs.append(dict(seed=seed, routing=routing, mnist_acc=r["mnist_acc"], acc1=r["acc1"], acc2=r["acc2"],
                             n_pairs=int(len(data["pairs"])), seconds=round(r["seconds_train"] + r["seconds_eval"], 1)))
            print(f"seed {seed} {routing:>6}: MNIST {r['mnist_acc']:.4f}  acc1 {r['acc1']:.4f}  acc2 {r['acc2']:.4f}",
                  flush=True)
    config = {k: v for k, v in asdict(replace(LIVE, threads=a.threads)).items() if k not in ("routing", "seed")}
    out = dict(chapter=a.chapter, config=config, runs=runs,
               **run_info("experiments/routing_seeds.py", sys.argv[1:] if argv is None else argv,
                          time.perf_counter() - start, threads=a.threads))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {a.out} ({out['seconds']} s)")
    return out


if __name__ == "__main__":
    main()
