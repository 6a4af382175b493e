"""The recorded full-scale capsule runs, several seeds per routing (``chapters/07-capsule.md``, ``chapters/08-kmeans-capsule.md``).

``experiments/capsule_two_digits.py --per-epoch --seed S --routing R`` writes one file per run;
this module gathers them per routing and summarises them per epoch (mean ± sd over seeds),
without importing any framework::

    runs = recorded_seeds("post")           # {seed: {"file", "per_epoch", "final", "loss"}}
    mean, sd = per_epoch_stats(runs, "acc1")

Files: ``07-full-post-seed<S>.json`` and ``08-full-kmeans-seed<S>.json`` in ``experiments/results``;
the first recordings, ``07-full.json`` (routing ``"post"``, seed 0, evaluated every epoch) and
``08-full.json`` (routing ``"kmeans"``, seed 0, final numbers only), count as seed 0 where no
newer seed-0 file exists.  A labelled variant of the recipe (e.g. a decaying learning rate,
``--lr-decay``) is filed as ``<prefix>-<variant>-seed<S>.json`` and gathered only on request
(``recorded_seeds("post", variant="lrdecay")``), never averaged in with the post's recipe.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from kexue.results import book_root

PREFIX = {"post": "07-full-post", "kmeans": "08-full-kmeans"}
LEGACY = {"post": "07-full.json", "kmeans": "08-full.json"}
METRICS = ("mnist_acc", "acc1", "acc2")


def _run(path: Path) -> dict | None:
    rec = json.loads(path.read_text())
    caps = rec.get("models", {}).get("caps")
    if caps is None:
        return None
    final = {m: rec["metrics"][f"{m}_caps"] for m in METRICS}
    config = {"lr_decay": 1.0, **rec["config"]}     # runs recorded before the option trained at a constant rate
    return dict(file=path.name, per_epoch=caps.get("per_epoch"), final=final, loss=caps["loss_per_epoch"],
                config=config, seconds_train=caps.get("seconds_train"), machine=rec.get("machine"),
                command=rec["command"], date=rec["date"])


def recorded_seeds(routing: str, folder: str | Path | None = None, variant: str | None = None) -> dict[int, dict]:
    """Every recorded full-scale run of the capsule model with ``routing``, by seed.

    ``variant=None``: the post's recipe (constant learning rate); a variant's runs, e.g.
    ``variant="lrdecay"``, are the files ``<prefix>-<variant>-seed<S>.json``.

    Each value has ``file``, ``per_epoch`` (a list of per-epoch evaluations, or ``None``),
    ``final`` (``mnist_acc``, ``acc1``, ``acc2`` of the final model), ``loss`` (training loss per
    epoch), ``config``, ``seconds_train``, ``machine``, ``command`` and ``date``.
    """
    if routing not in PREFIX:
        raise ValueError(f"no recorded full-scale runs for routing {routing!r}; choose one of {sorted(PREFIX)}")
    if variant is not None and not (isinstance(variant, str) and re.fullmatch(r"[a-z0-9]+", variant)):
        raise ValueError(f"variant must be a lower-case name such as 'lrdecay', got {variant!r}")
    folder = Path(folder) if folder is not None else book_root() / "experiments" / "results"
    prefix = PREFIX[routing] if variant is None else f"{PREFIX[routing]}-{variant}"
    runs: dict[int, dict] = {}
    for path in sorted(folder.glob(f"{prefix}-seed*.json")):
        seed = int(re.fullmatch(rf"{prefix}-seed(\d+)\.json", path.name).group(1))
        run = _run(path)
        if run is None:
            continue
        if variant is None and run["config"]["lr_decay"] != 1.0:
            raise ValueError(f"{path.name} was trained with lr_decay {run['config']['lr_decay']}, "
                             f"not the post's constant rate; name it {prefix}-<variant>-seed{seed}.json")
        runs[seed] = run
    legacy = folder / LEGACY[routing]
    if variant is None and 0 not in runs and legacy.is_file():
        run = _run(legacy)
        if run is not None and run["config"].get("routing") == routing:
            runs[0] = run
    return dict(sorted(runs.items()))


def per_epoch_stats(runs: dict[int, dict], metric: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """``(mean, sd, seeds)`` of ``metric`` per epoch over the runs evaluated every epoch.

    ``sd`` is the sample standard deviation (``ddof=1``; zero for a single run).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    seeds = [s for s, r in runs.items() if r["per_epoch"]]
    if not seeds:
        raise ValueError("none of the runs was evaluated every epoch")
    curves = np.array([[e[metric] for e in runs[s]["per_epoch"]] for s in seeds], dtype=np.float64)
    sd = curves.std(axis=0, ddof=1) if len(seeds) > 1 else np.zeros(curves.shape[1])
    return curves.mean(axis=0), sd, seeds


def final_stats(runs: dict[int, dict], metric: str) -> tuple[float, float, int]:
    """``(mean, sd, n)`` of ``metric`` of the final models over all runs (``ddof=1``)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    values = np.array([r["final"][metric] for r in runs.values()], dtype=np.float64)
    if values.size == 0:
        raise ValueError("no runs")
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0, int(values.size)


def plot_bands(ax, runs: dict[int, dict], metric: str = "acc1", label: str = "", color: str = "C1",
               ls: str = "-", lines: bool = True) -> list[int]:
    """Draw ``metric`` per epoch on the matplotlib axes ``ax``: the mean over the runs evaluated
    every epoch, a band of mean ± one sd, and (``lines=True``) each seed as a thin line.

    ``label`` gets " (N seeds)" appended.  Returns the seeds drawn.
    """
    mean, sd, seeds = per_epoch_stats(runs, metric)
    epochs = np.arange(1, len(mean) + 1)
    if lines:
        for s in seeds:
            ax.plot(epochs, [e[metric] for e in runs[s]["per_epoch"]], lw=0.8, color=color, ls=ls, alpha=0.5)
    ax.fill_between(epochs, mean - sd, mean + sd, color=color, alpha=0.22)
    ax.plot(epochs, mean, marker="o", ms=3, color=color, ls=ls, label=f"{label} ({len(seeds)} seeds)")
    return seeds
