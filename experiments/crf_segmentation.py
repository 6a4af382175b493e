"""Full run of chapter 05's word-segmentation experiment (``chapters/05-crf.md``).

    nice -n 10 python experiments/crf_segmentation.py --epochs 6 --time-limit 1500

Trains the CNN encoder with a CRF and with a per-character softmax on the whole training
split (the same code path as the chapter: :mod:`kexue.crf.experiment`), evaluates word-level
P/R/F1 and illegal transitions on the same 2,000 held-out sentences, and writes
``experiments/results/05-full.json`` with the chapter's metric names plus the configuration
and the provenance of :func:`kexue.results.run_info` (command, date, seconds, machine,
library versions).  ``--device cuda`` trains on a GPU.  ``--time-limit`` (seconds per
model) stops training early; the JSON then records how many steps were actually done.
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
from kexue.crf import experiment as S
from kexue.results import run_info


def main(argv: list[str] | None = None) -> dict:
    """Train and evaluate both taggers; write and return the results (chapter 05)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--max-steps", type=int, default=None, help="cap on updates per model")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds of training per model")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-len", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--crf-lr", type=float, default=3e-2)
    ap.add_argument("--n-train", type=int, default=None, help="training sentences (default: all)")
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "05-full.json"))
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    corpus = S.load_corpus(n_test=args.n_test, seed=args.seed, max_len=args.max_len, n_train=args.n_train)
    test_chars = [c for c, _ in corpus.test_sentences]
    metrics, details = {}, {}
    for name, use_crf in (("crf", True), ("softmax", False)):
        kexue.seed_everything(args.seed)                # the one seeding, right before building the model
        model = S.Tagger(len(corpus.vocab) + 2, use_crf=use_crf)
        t1 = time.perf_counter()
        losses = S.train_tagger(model, corpus.train, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                crf_lr=args.crf_lr, seed=args.seed, max_steps=args.max_steps,
                                time_limit=args.time_limit, desc=name, device=args.device)
        train_s = time.perf_counter() - t1
        res = S.segmentation_scores(corpus.test_sentences, S.segment(model, test_chars, corpus.vocab))
        metrics[f"f1_{name}"] = round(res["f1"], 4)
        metrics[f"illegal_{name}"] = res["illegal"]
        details[name] = {"precision": round(res["precision"], 4), "recall": round(res["recall"], 4),
                         "f1": round(res["f1"], 4), "illegal": res["illegal"], "steps": len(losses),
                         "epochs_done": round(len(losses) * args.batch_size / len(corpus.train), 2),
                         "final_loss": round(float(np.mean(losses[-50:])), 4), "train_seconds": round(train_s, 1)}
        if use_crf:
            details[name]["trans"] = [[round(float(v), 3) for v in row] for row in model.crf.trans.detach().cpu().numpy()]
        print(name, details[name] | {"trans": "..."} if use_crf else details[name], flush=True)
    out = {
        "chapter": "05", "metrics": metrics, "details": details, "config": vars(args),
        "data": {"train_sentences": corpus.n_train_sentences, "train_chunks": len(corpus.train),
                 "test_sentences": len(corpus.test_sentences), "vocab": len(corpus.vocab)},
        **run_info("experiments/crf_segmentation.py", sys.argv[1:] if argv is None else list(argv),
                   time.perf_counter() - t0, threads=args.threads),
    }
    if args.device != "cpu":
        out["machine"] += f", trained on {args.device}"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(metrics))
    return out


if __name__ == "__main__":
    main()
