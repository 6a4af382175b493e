"""Speed of kexue's PyTorch CRF against pytorch-crf (chapter 05, ``chapters/05-crf.md``).

    python benchmarks/crf_speed.py [--repeats 20] [--threads 1]

Times, on the same random inputs (B=64, T=100, K=4 and K=20, float32, CPU, variable lengths):
negative log-likelihood forward+backward, and Viterbi decoding.  Also checks that both
libraries give the same log-likelihood when their start/end scores agree.  Writes
``benchmarks/results/crf_speed.json`` and prints a markdown table.  ``pytorch-crf`` is a
benchmark-only dependency.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torchcrf

from kexue.crf.torch import CRF
from kexue.results import cpu_name


def _time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(repeats: int = 20, B: int = 64, T: int = 100, tags_list: Sequence[int] = (4, 20), seed: int = 0
        ) -> list[dict]:
    """Time both CRFs on the same random batch, one row per number of tags (chapter 05).

    Parameters
    ----------
    repeats : int, optional
        Timed calls per measurement.
    B, T : int, optional
        Batch size and longest length (lengths are drawn in ``[T // 2, T]``).
    tags_list : sequence of int, optional
        Numbers of tags ``K`` to time.
    seed : int, optional
        Seed of the inputs and of both layers' initial weights.

    Returns
    -------
    list of dict
        Milliseconds per call, ratios, the largest log-likelihood difference and whether
        the decoded paths agree.
    """
    rows = []
    for K in tags_list:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        lengths = rng.integers(T // 2, T + 1, size=B)
        lengths[0] = T
        mask = torch.from_numpy(np.arange(T)[None] < lengths[:, None])
        em = torch.randn(B, T, K, requires_grad=True)
        tags = torch.randint(0, K, (B, T))
        ref = torchcrf.CRF(K, batch_first=True)
        ours = CRF(K, start_end=True)
        with torch.no_grad():
            ours.trans.copy_(ref.transitions)
            ours.start.copy_(ref.start_transitions)
            ours.end.copy_(ref.end_transitions)
        ll_ref = ref(em, tags, mask, reduction="none")
        ll_ours = -ours.nll(em, tags, mask)
        ll_diff = float((ll_ref - ll_ours).abs().max().detach())
        dec_ref = ref.decode(em, mask)
        dec_ours = ours.decode(em, mask)
        same_paths = all(dec_ours[b, :len(p)].tolist() == p for b, p in enumerate(dec_ref))

        def nll_ref():
            em.grad = None
            (-ref(em, tags, mask, reduction="mean")).backward()

        def nll_ours():
            em.grad = None
            ours(em, tags, mask).backward()

        t = {
            "nll_ours": _time(nll_ours, repeats), "nll_pytorch_crf": _time(nll_ref, repeats),
            "decode_ours": _time(lambda: ours.decode(em, mask), repeats),
            "decode_pytorch_crf": _time(lambda: ref.decode(em, mask), repeats),
        }
        rows.append({"B": B, "T": T, "K": K, **{k: round(v * 1e3, 3) for k, v in t.items()},
                     "nll_ratio": round(t["nll_ours"] / t["nll_pytorch_crf"], 3),
                     "decode_speedup": round(t["decode_pytorch_crf"] / t["decode_ours"], 3),
                     "max_abs_loglik_diff": ll_diff, "same_paths": same_paths})
    return rows


def table(rows: list[dict]) -> str:
    """The rows of :func:`run` as a markdown table (chapter 05)."""
    lines = ["| K | NLL fwd+bwd ours (ms) | pytorch-crf (ms) | ours / theirs | decode ours (ms) | pytorch-crf (ms) "
             "| speed-up | max abs log-lik diff | same paths |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['K']} | {r['nll_ours']:.2f} | {r['nll_pytorch_crf']:.2f} | {r['nll_ratio']:.2f} | "
                     f"{r['decode_ours']:.2f} | {r['decode_pytorch_crf']:.2f} | {r['decode_speedup']:.1f}× | "
                     f"{r['max_abs_loglik_diff']:.1e} | {r['same_paths']} |")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and write ``benchmarks/results/crf_speed.json`` (chapter 05)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "crf_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    rows = run(args.repeats)
    out = {"rows": rows, "table": table(rows), "repeats": args.repeats, "threads": args.threads,
           "timing": "median wall time of repeats after one warm-up",
           "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": f"{cpu_name()}, {os.cpu_count()} vCPUs shared with other jobs (load ~5-10), "
                      f"{torch.get_num_threads()} torch thread(s)",
           "versions": {"python": platform.python_version(), "torch": torch.__version__,
                        "pytorch-crf": getattr(torchcrf, "__version__", "unknown")},
           "wall_seconds": round(time.perf_counter() - t0, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(out["table"])


if __name__ == "__main__":
    main()
