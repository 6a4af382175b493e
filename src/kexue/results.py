"""Headline numbers of each chapter, written where tests and the results page find them.

Every chapter ends with one call ``record("NN", metric=value, ...)``; the
numbers land in ``_build/results/NN.json`` under the book root (the folder with
``_config.yml``, found from the working directory upwards). Outside a book (a chapter
notebook opened on its own) they land in the folder named by ``KEXUE_RESULTS_DIR``, or
else in ``./_build/results``.

Recorded full-scale runs are read with :func:`load_recorded` (``experiments/results``).
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


RESULTS_ENV = "KEXUE_RESULTS_DIR"


def results_dir(root: str | os.PathLike | None = None) -> Path:
    """Where ``record`` writes: ``<root>/_build/results``; without ``root``, the folder named by
    ``$KEXUE_RESULTS_DIR``, else the book root's ``_build/results``, else ``./_build/results``."""
    if root is not None:
        return Path(root) / "_build" / "results"
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    try:
        return book_root() / "_build" / "results"
    except FileNotFoundError:
        return Path.cwd() / "_build" / "results"


def results_path(chapter: str, root: str | os.PathLike | None = None) -> Path:
    """Where ``record`` writes the numbers of ``chapter``."""
    return results_dir(root) / f"{chapter}.json"


def load_recorded(name: str, root: str | os.PathLike | None = None) -> dict:
    """A recorded run, ``experiments/results/<name>`` in the book's repository, as a dict.

    Raises ``FileNotFoundError`` naming the file (and where it was looked for) when the
    notebook runs outside a clone of the book or the file is missing.
    """
    if not isinstance(name, str) or not name.endswith(".json") or "/" in name:
        raise ValueError(f"name must be a file name in experiments/results such as '07-full.json', got {name!r}")
    try:
        base = Path(root) if root is not None else book_root()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"recorded results file experiments/results/{name} not found: no book repository "
            f"(_config.yml + _toc.yml) at or above {Path.cwd()}; run the chapter inside a clone of the book") from None
    path = base / "experiments" / "results" / name
    if not path.is_file():
        raise FileNotFoundError(f"recorded results file experiments/results/{name} not found at {path}")
    return json.loads(path.read_text())


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
