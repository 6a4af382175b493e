"""Recorded probes for chapter 02 (``chapters/02-rnn-saliency.md``): can the LSTM reach 0.85?

The chapter trains one configuration for 2 epochs.  This script trains the same
classifier (``kexue.saliency.torch.SentimentLSTM`` / ``train_sentiment_lstm``, the same data,
split and vocabulary code as the chapter) in the variations we tried, 5 epochs each, and
writes every run's per-epoch validation accuracy to ``experiments/results/02-probes.json``
with the command, date, wall seconds, machine and versions::

    python experiments/saliency_probes.py              # all probes, about 6 minutes on 1 thread
    python experiments/saliency_probes.py --only base  # one probe

The chapter reads the file and shows the table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import kexue
from kexue import text
from kexue.data import load_reviews
from kexue.results import run_info
from kexue.saliency import numpy_ref as R
from kexue.saliency import torch as T

BASE = dict(min_count=5, maxlen=100, embed_dim=256, units=128, lr=1e-3, batch_size=128, seed=0)
"""The chapter's configuration (it stops after epoch 2)."""

PROBES = {
    "base": {},
    "seed 1": dict(seed=1),
    "seed 2": dict(seed=2),
    "all words (maxlen 400)": dict(maxlen=400),
    "vocabulary min count 2": dict(min_count=2),
    "learning rate 5e-4": dict(lr=5e-4),
    "learning rate 2e-3": dict(lr=2e-3),
    "batch 32": dict(batch_size=32),
    "smaller (128 / 64)": dict(embed_dim=128, units=64),
    "larger LSTM (256 units)": dict(units=256),
}
"""Name → changes from :data:`BASE`."""


def segmented_split(seed: int = 0) -> tuple[list[list[str]], np.ndarray, list[list[str]], np.ndarray]:
    """jieba words of the chapter's 80/20 split of the deduplicated reviews."""
    seg = R.segmenter()
    tr_x, tr_y, te_x, te_y = load_reviews().split(test_size=0.2, seed=seed)
    return [seg(s) for s in tr_x], tr_y, [seg(s) for s in te_x], te_y


def run_probe(changes: dict, data, epochs: int) -> dict:
    cfg = {**BASE, **changes}
    tr_tok, tr_y, te_tok, te_y = data
    vocab = text.build_vocab(tr_tok, min_count=cfg["min_count"], reserve_unknown=False)
    tr = [T.compress(text.encode(t, vocab, cfg["maxlen"], unknown=text.PAD)) for t in tr_tok]
    te = [T.compress(text.encode(t, vocab, cfg["maxlen"], unknown=text.PAD)) for t in te_tok]
    keep = [i for i, r in enumerate(tr) if len(r)]
    kexue.seed_everything(cfg["seed"])
    model = T.SentimentLSTM(len(vocab) + 1, embed_dim=cfg["embed_dim"], units=cfg["units"], dropout=0.5)
    t0 = time.perf_counter()
    hist = T.train_sentiment_lstm(model, [tr[i] for i in keep], tr_y[keep], epochs=epochs, batch_size=cfg["batch_size"],
                              lr=cfg["lr"], seed=cfg["seed"], val=(te, te_y))
    return dict(config=cfg, val_acc=[round(h["val_acc"], 6) for h in hist],
                train_loss=[round(h["loss"], 6) for h in hist], seconds=round(time.perf_counter() - t0, 1))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--only", nargs="+", choices=list(PROBES), default=list(PROBES))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "02-probes.json")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = segmented_split()
    probes = {}
    for name in a.only:
        probes[name] = run_probe(PROBES[name], data, a.epochs)
        acc = probes[name]["val_acc"]
        print(f"{name:<26} " + " ".join(f"{x:.4f}" for x in acc) + f"  best {max(acc):.4f}", flush=True)
    out = dict(chapter="02", epochs=a.epochs, base=BASE, probes=probes,
               **run_info("experiments/saliency_probes.py", sys.argv[1:] if argv is None else argv,
                          time.perf_counter() - start, threads=1))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {a.out} ({out['seconds']} s)")
    return out


if __name__ == "__main__":
    main()
