"""Speed of chapter 06's PyTorch multi-head attention against ``torch.nn.MultiheadAttention`` (CPU).

Forward + backward of self-attention at B=32, T=128, d=128, 8 heads × 16, with an output
projection and no biases on both sides (so the work is identical), no mask.  Each timing is the
median over ``repeats`` rounds; the implementations alternate inside a round so that load from
other processes hits them alike.

    python benchmarks/attention_speed.py   # writes benchmarks/results/attention_speed.json
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from kexue.results import cpu_name

from kexue.attention.torch import MultiHeadAttention




def _step(layer, x, **kw):
    out = layer(x, x, x, **kw)
    out = out[0] if isinstance(out, tuple) else out
    out.sum().backward()


def bench(batch: int = 32, length: int = 128, dim: int = 128, heads: int = 8, repeats: int = 15,
          inner: int = 5, threads: int = 1) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(batch, length, dim, requires_grad=True)
    ref = torch.nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
    impls = {
        "torch.nn.MultiheadAttention": (ref, dict(need_weights=False)),
        "ours, fused (F.scaled_dot_product_attention)": (MultiHeadAttention(heads, dim // heads, dim, out_dim=dim,
                                                                          fused=True), {}),
        "ours, explicit (einsum + softmax)": (MultiHeadAttention(heads, dim // heads, dim, out_dim=dim,
                                                              fused=False), {}),
    }
    times: dict[str, list[float]] = {k: [] for k in impls}
    for layer, kw in impls.values():          # warm-up
        _step(layer, x, **kw)
    for _ in range(repeats):
        for name, (layer, kw) in impls.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                _step(layer, x, **kw)
            times[name].append((time.perf_counter() - t0) / inner * 1000)
    base = statistics.median(times["torch.nn.MultiheadAttention"])
    rows = [{"implementation": k, "median_ms": round(statistics.median(v), 2),
             "ratio": round(statistics.median(v) / base, 3)} for k, v in times.items()]
    return {"setting": dict(batch=batch, length=length, dim=dim, heads=heads, threads=threads,
                            repeats=repeats, inner=inner, pass_="forward+backward"),
            "rows": rows, "torch": torch.__version__,
            "machine": f"{cpu_name()} ({os.cpu_count()} cores, shared with other jobs), "
                       f"{torch.get_num_threads()} torch thread(s), python {sys.version.split()[0]}"}


if __name__ == "__main__":
    result = bench()
    for r in result["rows"]:
        print(f"{r['implementation']:<48} {r['median_ms']:8.2f} ms  x{r['ratio']:.3f}")
    path = Path(__file__).parent / "results" / "attention_speed.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print("wrote", path)
