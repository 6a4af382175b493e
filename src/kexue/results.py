"""Headline numbers of each chapter, and the recorded runs of ``experiments/results``.

Every chapter ends with one call ``record("NN", metric=value, ...)``; the
numbers land in ``_build/results/NN.json`` under the book root (the folder with
``_config.yml``, found from the working directory upwards). Outside a book (a chapter
notebook opened on its own) they land in the folder named by ``KEXUE_RESULTS_DIR``, or
else in ``./_build/results``.  Used by every chapter (``chapters/01-keras-custom-loss.md``
to ``chapters/08-kmeans-capsule.md``) and by the scripts in ``experiments/``.

Recorded full-scale runs are read with :func:`load_recorded`; their file names follow one
pattern, read by :func:`parse_run_name` (the results page and :mod:`kexue.capsule.seeds`
use it); every experiment script stores its provenance with :func:`run_info`.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from kexue.progress import wall

__all__ = ["RESULTS_ENV", "ROUTING_NAMES", "RunName", "book_root", "results_dir", "results_path", "parse_run_name",
           "load_recorded", "record", "load", "cpu_name", "run_info"]


def book_root(start: str | os.PathLike | None = None) -> Path:
    """The book's root folder: the nearest folder at or above ``start`` holding ``_config.yml`` and ``_toc.yml``.

    Parameters
    ----------
    start : str or os.PathLike, optional
        Where to start looking; the working directory by default.

    Returns
    -------
    pathlib.Path
        The book root, resolved.

    Raises
    ------
    FileNotFoundError
        If no folder at or above ``start`` holds both files.
    """
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(f"no book root (_config.yml + _toc.yml) at or above {here}")


#: the environment variable naming where :func:`record` writes outside a book
RESULTS_ENV = "KEXUE_RESULTS_DIR"


def results_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder :func:`record` writes into.

    Parameters
    ----------
    root : str or os.PathLike, optional
        A book root. Without it: the folder named by ``$KEXUE_RESULTS_DIR``, else the
        book root's ``_build/results`` (found from the working directory), else
        ``./_build/results``.

    Returns
    -------
    pathlib.Path
        ``<root>/_build/results`` or the folder chosen as above (it may not exist yet).
    """
    if root is not None:
        return Path(root) / "_build" / "results"
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    try:
        return book_root() / "_build" / "results"
    except FileNotFoundError:
        return Path.cwd() / "_build" / "results"


def results_path(chapter: str, root: str | os.PathLike | None = None) -> Path:
    """The file :func:`record` writes the numbers of ``chapter`` into.

    Parameters
    ----------
    chapter : str
        Two-digit chapter number, e.g. ``"03"``.
    root : str or os.PathLike, optional
        A book root, as for :func:`results_dir`.

    Returns
    -------
    pathlib.Path
        ``results_dir(root) / "<chapter>.json"``.
    """
    return results_dir(root) / f"{chapter}.json"


# ----------------------------------------------------------------------------- recorded-run file names
#: capsule routings that may appear in a recorded run's name (the keys of ``kexue.capsule.numpy_ref.ROUTINGS``)
ROUTING_NAMES = ("hinton", "post", "kmeans")
_WORD = r"(?!seed\d*(?![a-z0-9]))[a-z0-9]+"      # a lower-case word other than seed or seed<S>
_RUN_NAME = re.compile(
    rf"(?P<chapter>\d\d)-(?P<kind>[a-z]+)"
    rf"(?:-(?P<routing>{'|'.join(ROUTING_NAMES)}))?"
    rf"(?:-(?P<variant>{_WORD}(?:-{_WORD})*))?"
    rf"(?:-seed(?P<seed>\d+))?\.json")


@dataclass(frozen=True)
class RunName:
    """What a recorded run's file name in ``experiments/results`` says about the run.

    Two forms: one run of one seed of a capsule routing, ``NN-<kind>-<routing>[-<variant>]-seed<S>.json``
    (``07-full-post-seed0.json``, ``07-full-post-lrdecay-seed0.json``, ``08-full-kmeans-seed2.json``:
    every seed of a routing, seed 0 included, is named so, and the seeds of one name without its
    seed form one group), and any other run, ``NN-<kind>[-<variant>][-seed<S>].json``
    (``05-full.json``, ``06-full-keeplast.json``, ``02-probes.json``, ``07-live-cnn-seeds.json``).

    Parameters
    ----------
    chapter : str
        Two-digit chapter number (``"07"``).
    kind : str
        ``"full"`` (the post's scale), ``"live"`` (the chapter's scale, several seeds in one
        file), or another lower-case word (``"probes"``).
    routing : str or None
        A capsule routing from :data:`ROUTING_NAMES` (its runs always name their seed), or ``None``.
    variant : str or None
        A lower-case label of a variant of the recipe (``"lrdecay"``, ``"keeplast"``,
        ``"cnn-seeds"``), or ``None`` for the recipe itself.
    seed : int or None
        The seed of a one-seed run (``-seed<S>``); ``None`` when the name carries none (a
        file holding several seeds, or a run without seeds).
    """

    chapter: str
    kind: str
    routing: str | None = None
    variant: str | None = None
    seed: int | None = None

    @property
    def file_name(self) -> str:
        """The file name this run is recorded under (the inverse of :func:`parse_run_name`)."""
        parts = [self.chapter, self.kind, self.routing, self.variant,
                 None if self.seed is None else f"seed{self.seed}"]
        return "-".join(p for p in parts if p is not None) + ".json"


def parse_run_name(path: str | os.PathLike) -> RunName:
    """Read a recorded run's file name: chapter, kind, routing, variant and seed.

    Parameters
    ----------
    path : str or os.PathLike
        The file or its name, e.g. ``"experiments/results/07-full-post-seed1.json"``.

    Returns
    -------
    RunName
        The parts of the name; ``parse_run_name(p).file_name == Path(p).name``.

    Raises
    ------
    ValueError
        If the name does not follow ``NN-<kind>-<routing>[-<variant>]-seed<S>.json`` or
        ``NN-<kind>[-<variant>][-seed<S>].json`` (a routing without a seed is refused).
    TypeError
        If ``path`` is not a string or a path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name or a path, got {type(path).__name__}")
    name = Path(path).name
    m = _RUN_NAME.fullmatch(name)
    if m is not None and m["routing"] is not None and m["seed"] is None:
        raise ValueError(f"{name!r} is not a recorded-run file name: a run of the {m['routing']!r} routing names its "
                         f"seed, e.g. '{m['chapter']}-{m['kind']}-{m['routing']}-seed0.json'")
    if m is None:
        raise ValueError(f"{name!r} is not a recorded-run file name: expected "
                         "NN-<kind>-<routing>[-<variant>]-seed<S>.json or NN-<kind>[-<variant>][-seed<S>].json "
                         "in lower case, "
                         "e.g. '07-full-post-seed1.json' or '06-full-keeplast.json'")
    return RunName(chapter=m["chapter"], kind=m["kind"], routing=m["routing"], variant=m["variant"],
                   seed=None if m["seed"] is None else int(m["seed"]))


def load_recorded(name: str, root: str | os.PathLike | None = None) -> dict:
    """A recorded run, ``experiments/results/<name>`` in the book's repository, as a dict.

    Parameters
    ----------
    name : str
        The file's name, e.g. ``"07-full-post-seed0.json"`` (no folder).
    root : str or os.PathLike, optional
        The book root; found from the working directory by default.

    Returns
    -------
    dict
        The file's JSON content.

    Raises
    ------
    ValueError
        If ``name`` is not a file name ending in ``.json``.
    FileNotFoundError
        Naming the file (and where it was looked for) when the notebook runs outside a
        clone of the book or the file is missing.
    """
    if not isinstance(name, str) or not name.endswith(".json") or "/" in name:
        raise ValueError(f"name must be a file name in experiments/results such as '07-full-post-seed0.json', got {name!r}")
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
    """Write a chapter's headline metrics to ``_build/results/<chapter>.json`` and print them.

    Parameters
    ----------
    chapter : str
        The two-digit chapter number as a string (``"03"``).
    root : str or os.PathLike, optional
        A book root, as for :func:`results_dir`.
    **metrics : float
        The metrics by name; each a finite real number (durations end in ``seconds``).

    Returns
    -------
    dict of str to float
        The metrics as floats, as written.

    Raises
    ------
    ValueError
        If ``chapter`` is not two digits, no metric is given, or a metric is not finite.
    TypeError
        If a metric is not a real number.
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
    """Read back what :func:`record` wrote for ``chapter``.

    Parameters
    ----------
    chapter : str
        Two-digit chapter number.
    root : str or os.PathLike, optional
        A book root, as for :func:`results_dir`.

    Returns
    -------
    dict of str to float
        The recorded metrics.
    """
    return json.loads(results_path(chapter, root).read_text())["metrics"]


def cpu_name() -> str:
    """The processor's model name, for a recorded run's provenance.

    Returns
    -------
    str
        The ``model name`` of ``/proc/cpuinfo``, or the machine type (``platform.machine()``)
        where that is unavailable.
    """
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        return names[0] if names else platform.machine()
    except OSError:
        return platform.machine()


def run_info(script: str, argv: list[str], seconds: float, threads: int | None = None) -> dict:
    """Provenance of a recorded run in ``experiments/results``: command, date, wall seconds, machine, versions.

    Every script in ``experiments/`` adds these keys to the file it writes.

    Parameters
    ----------
    script : str
        The experiment script's path relative to the book root (``"experiments/crf_segmentation.py"``).
    argv : list of str
        Its command-line arguments.
    seconds : float
        The run's wall-clock seconds.
    threads : int, optional
        The number of PyTorch threads, named in ``machine`` when given.

    Returns
    -------
    dict
        ``command`` (``"python <script> <argv...>"``), ``date`` (UTC, ISO 8601), ``seconds``
        (rounded to 0.1), ``machine`` (CPU name and count) and ``versions`` (Python, and numpy,
        torch, tensorflow, keras, sklearn where already imported: this never imports a
        framework itself).
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
