"""Headline numbers of each chapter, written where tests and the results page find them.

Every chapter ends with one call ``record("NN", metric=value, ...)``; the
numbers land in ``_build/results/NN.json`` under the book root (the folder with
``_config.yml``, found from the working directory upwards).
"""
from __future__ import annotations

import json
import math
import numbers
import os
import platform
from pathlib import Path

from kexue.progress import wall


def book_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``_config.yml``."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no book root (_config.yml + _toc.yml) at or above {here}")


def results_path(chapter: str, root: str | os.PathLike | None = None) -> Path:
    """Where ``record`` writes the numbers of ``chapter``."""
    base = Path(root) if root is not None else book_root()
    return base / "_build" / "results" / f"{chapter}.json"


def record(chapter: str, /, *, root: str | os.PathLike | None = None, **metrics: float) -> dict[str, float]:
    """Write a chapter's headline metrics to ``_build/results/<chapter>.json``.

    ``chapter`` is the two-digit chapter number as a string (``"03"``); every
    metric must be a finite real number.  Returns the metrics as floats and
    prints them as a small table.
    """
    if not (isinstance(chapter, str) and len(chapter) == 2 and chapter.isdigit()):
        raise ValueError(f"chapter must be a two-digit string such as '03', got {chapter!r}")
    if not metrics:
        raise ValueError("record() needs at least one metric")
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"metric {name!r} must be a real number, got {type(value).__name__}")
        if not math.isfinite(float(value)):
            raise ValueError(f"metric {name!r} is not finite: {value!r}")
        clean[name] = float(value)
    path = results_path(chapter, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"chapter": chapter, "metrics": clean}, indent=2, sort_keys=True) + "\n")
    width = max(len(k) for k in clean)
    print(f"recorded for chapter {chapter}:")
    for k, v in clean.items():
        # durations are printed in the book's timing format, which the reproducibility test masks
        print(f"  {k:<{width}}  {wall(v) if k.endswith('seconds') else f'{v:.4f}'}")
    return clean


def load(chapter: str, root: str | os.PathLike | None = None) -> dict[str, float]:
    """Read back what ``record`` wrote for ``chapter``."""
    return json.loads(results_path(chapter, root).read_text())["metrics"]


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo), or the machine type where that is unavailable."""
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        return names[0] if names else platform.machine()
    except OSError:
        return platform.machine()



def run_info(script: str, argv: list[str], seconds: float, threads: int | None = None) -> dict:
    """Provenance for a recorded run in ``experiments/results``: command, date, wall seconds, machine, versions.

    ``script`` is the path of the experiment script relative to the book root and
    ``argv`` its arguments; library versions are read only for modules already imported
    (so this never imports TensorFlow or PyTorch itself).
    """
    import datetime as dt
    import sys

    mods = {"numpy": "numpy", "torch": "torch", "tensorflow": "tensorflow", "keras": "keras", "sklearn": "sklearn"}
    versions = {"python": platform.python_version()}
    versions.update({name: sys.modules[m].__version__ for name, m in mods.items() if m in sys.modules})
    machine = f"{cpu_name()}, {os.cpu_count()} CPUs"
    if threads is not None:
        machine += f", {threads} torch thread(s)"
    return {"command": " ".join(["python", script, *argv]),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(float(seconds), 1), "machine": machine, "versions": versions}
