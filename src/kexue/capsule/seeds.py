"""The recorded full-scale capsule runs, several seeds per routing (``chapters/07-capsule.md``, ``chapters/08-kmeans-capsule.md``).

``experiments/capsule_two_digits.py --per-epoch --seed S --routing R`` writes one file per run;
this module gathers them per routing and summarises them per epoch (mean ± sd over seeds),
without importing any framework::

    runs = recorded_seeds("post")           # {seed: {"file", "per_epoch", "final", "loss", ...}}
    mean, sd, seeds = per_epoch_stats(runs, "acc1")

Files (named as :func:`kexue.results.parse_run_name` reads them): ``07-full-post-seed<S>.json``
and ``08-full-kmeans-seed<S>.json`` in ``experiments/results``, seed 0 included.  A labelled
variant of the recipe (e.g. a decaying learning rate, ``--lr-decay``) is filed as
``<prefix>-<variant>-seed<S>.json`` and gathered only on request
(``recorded_seeds("post", variant="lrdecay")``), never averaged in with the post's recipe.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kexue.results import book_root, parse_run_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: the chapter whose experiment recorded each routing's full-scale runs
CHAPTER = {"post": "07", "kmeans": "08"}
#: file-name prefix of each routing's one-seed runs
PREFIX = {routing: f"{nn}-full-{routing}" for routing, nn in CHAPTER.items()}
#: the metrics of a run, for the final model and per epoch
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
    """Every recorded full-scale run of the capsule model with ``routing``, by seed (chapters 07 and 08).

    Parameters
    ----------
    routing : str
        ``"post"`` (chapter 07) or ``"kmeans"`` (chapter 08).
    folder : str or pathlib.Path, optional
        Where the runs are; ``experiments/results`` of the book by default.
    variant : str, optional
        ``None``: the post's recipe (constant learning rate). A variant's label, e.g.
        ``"lrdecay"``: only the files ``<prefix>-<variant>-seed<S>.json``.

    Returns
    -------
    dict of int to dict
        By seed, in increasing order: ``file``, ``per_epoch`` (a list of per-epoch evaluations,
        or ``None``), ``final`` (``mnist_acc``, ``acc1``, ``acc2`` of the final model), ``loss``
        (training loss per epoch), ``config``, ``seconds_train``, ``machine``, ``command`` and ``date``.

    Raises
    ------
    ValueError
        If ``routing`` has no recorded runs, ``variant`` is not a lower-case word, a run
        filed under the recipe's name was trained with a decaying learning rate, or a capsule
        run's file name lacks its routing and seed (the old ``07-full.json``).
    """
    if routing not in PREFIX:
        raise ValueError(f"no recorded full-scale runs for routing {routing!r}; choose one of {sorted(PREFIX)}")
    if variant is not None and not (isinstance(variant, str) and re.fullmatch(r"[a-z0-9]+", variant)):
        raise ValueError(f"variant must be a lower-case name such as 'lrdecay', got {variant!r}")
    folder = Path(folder) if folder is not None else book_root() / "experiments" / "results"
    prefix = PREFIX[routing] if variant is None else f"{PREFIX[routing]}-{variant}"
    runs: dict[int, dict] = {}
    for path in sorted(folder.glob(f"{CHAPTER[routing]}-full*.json")):
        name = parse_run_name(path)
        if name.kind == "full" and name.routing is None and "routing" in json.loads(path.read_text()).get("config", {}):
            raise ValueError(f"{path.name} is a capsule run without its routing and seed in its name; name it "
                             f"{name.chapter}-full-<routing>-seed<S>.json as its configuration says")
        if name.kind != "full" or name.routing != routing or name.variant != variant or name.seed is None:
            continue
        run = _run(path)
        if run is None:
            continue
        if variant is None and run["config"]["lr_decay"] != 1.0:
            raise ValueError(f"{path.name} was trained with lr_decay {run['config']['lr_decay']}, "
                             f"not the post's constant rate; name it {prefix}-<variant>-seed{name.seed}.json")
        runs[name.seed] = run
    return dict(sorted(runs.items()))


def per_epoch_stats(runs: dict[int, dict], metric: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Mean and standard deviation of ``metric`` per epoch over the runs evaluated every epoch (chapters 07, 08).

    Parameters
    ----------
    runs : dict of int to dict
        Runs by seed, as :func:`recorded_seeds` returns them.
    metric : str
        One of :data:`METRICS`.

    Returns
    -------
    mean : ndarray, shape (epochs,)
        The mean over the runs with a per-epoch curve.
    sd : ndarray, shape (epochs,)
        The sample standard deviation (``ddof=1``; zero for a single run).
    seeds : list of int
        The seeds averaged.

    Raises
    ------
    ValueError
        If ``metric`` is unknown or no run was evaluated every epoch.
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
    """Mean and standard deviation of ``metric`` of the final models over all runs (chapters 07, 08).

    Parameters
    ----------
    runs : dict of int to dict
        Runs by seed, as :func:`recorded_seeds` returns them.
    metric : str
        One of :data:`METRICS`.

    Returns
    -------
    mean : float
        The mean over the runs.
    sd : float
        The sample standard deviation (``ddof=1``; zero for a single run).
    n : int
        The number of runs.

    Raises
    ------
    ValueError
        If ``metric`` is unknown or ``runs`` is empty.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    values = np.array([r["final"][metric] for r in runs.values()], dtype=np.float64)
    if values.size == 0:
        raise ValueError("no runs")
    return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0, int(values.size)


def plot_bands(ax: Axes, runs: dict[int, dict], metric: str = "acc1", label: str = "", color: str = "C1",
               ls: str = "-", lines: bool = True) -> list[int]:
    """Draw ``metric`` per epoch: the mean over the seeds, a band of mean ± one sd, each seed thin (chapters 07, 08).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    runs : dict of int to dict
        Runs by seed, as :func:`recorded_seeds` returns them; those evaluated every epoch are drawn.
    metric : str, default "acc1"
        One of :data:`METRICS`.
    label : str, default ""
        The legend label of the mean; " (N seeds)" is appended.
    color : str, default "C1"
        Matplotlib colour of the lines and the band.
    ls : str, default "-"
        Line style of the mean and the seeds' lines.
    lines : bool, default True
        Also draw each seed's curve as a thin line.

    Returns
    -------
    list of int
        The seeds drawn.
    """
    mean, sd, seeds = per_epoch_stats(runs, metric)
    epochs = np.arange(1, len(mean) + 1)
    if lines:
        for s in seeds:
            ax.plot(epochs, [e[metric] for e in runs[s]["per_epoch"]], lw=0.8, color=color, ls=ls, alpha=0.5)
    ax.fill_between(epochs, mean - sd, mean + sd, color=color, alpha=0.22)
    ax.plot(epochs, mean, marker="o", ms=3, color=color, ls=ls, label=f"{label} ({len(seeds)} seeds)")
    return seeds
