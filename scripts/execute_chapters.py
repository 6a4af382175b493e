"""Execute the book's chapters, two at a time, and record each one's time and peak memory.

Used by ``scripts/build-book.sh`` and ``scripts/test.sh``::

    python scripts/execute_chapters.py                  # the build pass: fills the build's notebook cache
    python scripts/execute_chapters.py --pass isa       # again with the CPU kernels capped at a lower ISA
    python scripts/execute_chapters.py 03 05            # only these chapters

**build pass.** Each chapter is read exactly as the book build reads it (myst-nb's reader),
executed in ``chapters/`` and stored in the jupyter-cache that ``jupyter-book build``
(``execute_notebooks: cache``) then reads, so the build itself executes nothing. The cache is
keyed on the notebook's code (jupyter-cache's own key) *and* on everything a chapter reads
besides its own text: ``src/kexue``, the recorded results, the requirements and
``scripts/env.sh``. When any of those changes the whole cache is dropped, so it never serves
outputs made with other code.

**live numbers.** In the build pass each chapter's ``kexue.record("NN", ...)`` writes into a
folder of its own execution (``KEXUE_RESULTS_DIR``); the numbers are stored in the chapter's
cache entry (its ``data["recorded"]``), so they belong to the executed notebook the book shows.
The results page reads them from there (:func:`cached_results`), never from
``_build/results``, which any ``record()`` call in the repository may overwrite. The build
pass copies each chapter's cached numbers to ``_build/results/NN.json`` and restores a file
there that does not match its chapter's cached execution, saying so.

**isa pass.** Every chapter runs again with PyTorch's, oneDNN's, MKL's, OpenBLAS' and numpy's
CPU kernels capped one level below what the machine offers (see :data:`ISA_PROFILES`; on an
AVX-512 machine: AVX2, as on most laptops; on an AVX2 machine: ``mixed``, every library below
AVX2 except oneDNN's convolutions; ``--isa avx`` and ``--isa sse41`` cap lower still): a stand-in for a reader's other
CPU. ``scripts/with-isa.sh avx2 make test`` runs everything as on an AVX2 machine. It compares no outputs, but every chapter must run to the end with all
its checks passing; it then reports which printed outputs changed compared with the build
pass, which shows that the settings do change trained numbers.

Both passes write ``_build/timings.json``: per chapter and pass, the wall seconds and the
kernel's peak resident memory (``VmHWM``). Every kernel runs one thread
(``scripts/env.sh``); two kernels run at once (``--jobs``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
CACHE = BUILD / ".jupyter_cache"
TIMINGS = BUILD / "timings.json"
TIMEOUT = 900          # seconds per cell, as in _config.yml

# Inputs of a chapter other than its own text: a change to any of them invalidates the cache.
KEYED = ["src/kexue/**/*.py", "experiments/results/*.json", "benchmarks/results/*.json",
         "requirements.txt", "requirements-nodeps.txt", "requirements-lock.txt", "scripts/env.sh"]

# The lowered instruction sets: every knob below is documented by its library.
ISA_PROFILES = {
    # an AVX2 machine (most laptops): the default on machines with AVX-512
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",             # PyTorch's own kernels: AVX2 code paths at most
        "ONEDNN_MAX_CPU_ISA": "AVX2",              # oneDNN (PyTorch's convolutions, matmuls)
        "DNNL_MAX_CPU_ISA": "AVX2",                # the same, older spelling
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",         # MKL (PyTorch's BLAS)
        "OPENBLAS_CORETYPE": "Haswell",            # OpenBLAS (numpy's, scipy's BLAS): AVX2 kernels
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",     # numpy 2.4's AVX-512 loops
    },
    # the level below AVX2 on an AVX2 machine: every library below AVX2 except oneDNN, whose
    # convolutions keep their AVX2 kernels (capped at AVX they take about twice as long); the
    # arithmetic still changes everywhere else (PyTorch's own elementwise and reduction kernels,
    # MKL, OpenBLAS, numpy), which moves the chapters' trained numbers
    "mixed": {
        "ATEN_CPU_CAPABILITY": "default",          # PyTorch's own kernels: no AVX2/AVX-512 code paths
        "ONEDNN_MAX_CPU_ISA": "AVX2",              # oneDNN: AVX2 convolutions kept
        "DNNL_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX",          # MKL: AVX at most
        "OPENBLAS_CORETYPE": "Sandybridge",        # OpenBLAS: AVX kernels without FMA
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",  # numpy's AVX2/AVX-512 loops
    },
    # a machine with AVX but no AVX2/FMA (Sandy Bridge, Ivy Bridge), ``--isa avx``: every library
    # at AVX, oneDNN included (the capsule chapters take about twice as long as at AVX2)
    "avx": {
        "ATEN_CPU_CAPABILITY": "default",          # PyTorch's own kernels: no AVX2/AVX-512 code paths
        "ONEDNN_MAX_CPU_ISA": "AVX",               # oneDNN: AVX at most (no FMA)
        "DNNL_MAX_CPU_ISA": "AVX",
        "MKL_ENABLE_INSTRUCTIONS": "AVX",          # MKL: AVX at most
        "OPENBLAS_CORETYPE": "Sandybridge",        # OpenBLAS: AVX kernels without FMA
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",  # numpy's AVX2/AVX-512 loops
    },
    # a machine without AVX (``--isa sse41``): the capsule chapters run about four times slower,
    # because oneDNN's convolutions have no fast SSE path
    "sse41": {
        "ATEN_CPU_CAPABILITY": "default",          # PyTorch's own kernels: no AVX2/AVX-512 code paths
        "ONEDNN_MAX_CPU_ISA": "SSE41",             # oneDNN: SSE4.1 at most
        "DNNL_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",       # MKL: SSE4.2 at most
        "OPENBLAS_CORETYPE": "Nehalem",            # OpenBLAS: SSE4.2-era kernels
        "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",  # numpy's AVX2/AVX-512 loops
    },
}


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = re.search(r"^flags\s*:(.*)$", text, flags=re.M)
    return set(line.group(1).split()) if line else set()


#: the machine's levels, best first; the isa pass runs one level below the best one in effect
LEVELS = ("avx512", "avx2", "avx", "sse41")
#: the level each library cap in the environment stands for (a cap set by the user, e.g. to stand
#: in for an AVX2 machine: ``scripts/with-isa.sh avx2 make test``)
_CAP_LEVELS = {"ONEDNN_MAX_CPU_ISA": {"AVX2": "avx2", "AVX": "avx", "SSE41": "sse41"},
               "ATEN_CPU_CAPABILITY": {"avx2": "avx2", "default": "avx"}}   # ATen has no AVX level


def machine_level(flags: set[str] | None = None, env: dict[str, str] | None = None) -> str:
    """The best instruction set in effect: the CPU's (``/proc/cpuinfo`` flags), lowered to any
    cap already set in ``env`` (oneDNN's ``ONEDNN_MAX_CPU_ISA``, PyTorch's ``ATEN_CPU_CAPABILITY``)."""
    flags = cpu_flags() if flags is None else flags
    env = os.environ if env is None else env
    level = ("avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else
             "avx" if "avx" in flags else "sse41")
    for var, levels in _CAP_LEVELS.items():
        capped = levels.get(env.get(var, ""))
        if capped and LEVELS.index(capped) > LEVELS.index(level):
            level = capped
    return level


def lower_isa(choice: str = "auto", flags: set[str] | None = None,
              env: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """``(name, environment)`` of the lowered instruction set: ``"auto"`` picks the level just
    below the best one in effect (:func:`machine_level`): AVX-512 -> ``"avx2"``, AVX2 -> ``"mixed"``,
    AVX or less -> ``"sse41"``. ``"mixed"`` keeps oneDNN's AVX2 convolutions and lowers everything
    else, which changes the arithmetic at close to full speed."""
    if choice == "auto":
        level = machine_level(flags, env)
        choice = LEVELS[min(LEVELS.index(level) + 1, len(LEVELS) - 1)]
        choice = "mixed" if choice == "avx" else choice
    if choice not in ISA_PROFILES:
        raise ValueError(f"unknown instruction set {choice!r}; choose auto or one of {sorted(ISA_PROFILES)}")
    return choice, ISA_PROFILES[choice]


def sanitize_patterns() -> list[re.Pattern]:
    """The patterns nbval masks (``tests/nbval_sanitize.cfg``): wall times, progress-bar rates, ..."""
    text = (ROOT / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8")
    return [re.compile(m) for m in re.findall(r"^regex: (.*)$", text, flags=re.M)]


def chapters(selected: list[str]) -> list[Path]:
    found = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))
    if selected:
        found = [p for p in found if p.name[:2] in selected]
        missing = set(selected) - {p.name[:2] for p in found}
        if missing:
            raise SystemExit(f"no chapter file for {sorted(missing)} in chapters/")
    return found


def inputs_key() -> str:
    h = hashlib.sha256()
    for pattern in KEYED:
        for path in sorted(ROOT.glob(pattern)):
            h.update(str(path.relative_to(ROOT)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def read_notebook(path: Path):
    """The notebook exactly as ``jupyter-book build`` reads ``path`` (myst-nb's reader)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"), config=MdParserConfig(),
                                       add_source_map=True, path=str(path))


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def execute(path: str, extra_env: dict[str, str]) -> dict:
    """Run one chapter in a fresh kernel (in this worker process); returns the notebook and measurements."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    os.environ.update(extra_env)
    own = "KEXUE_RESULTS_DIR" not in extra_env       # the build pass: record() writes into this execution's folder
    if own:
        os.environ["KEXUE_RESULTS_DIR"] = tempfile.mkdtemp(prefix=f"kexue-{Path(path).stem[:2]}-")
    results_dir = Path(os.environ["KEXUE_RESULTS_DIR"]) if own else None
    nb = read_notebook(Path(path))
    client = NotebookClient(nb, timeout=TIMEOUT, allow_errors=False, kernel_name="python3", record_timing=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],   # no "running over TCP" notice
                            resources={"metadata": {"path": str(Path(path).parent)}})
    peak: list[float] = []

    def measure(**_):
        pid = getattr(client.km.provisioner, "pid", None) if client.km is not None else None
        value = _peak_rss_mb(pid) if pid else None
        if value is not None:
            peak.append(value)

    client.on_cell_executed = measure
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc)[-3000:]
    except Exception as exc:  # timeouts, dead kernels
        error = f"{type(exc).__name__}: {exc}"[-3000:]
    seconds = time.perf_counter() - start
    recorded = None
    if results_dir is not None:
        own_file = results_dir / f"{Path(path).name[:2]}.json"
        if own_file.is_file():
            recorded = json.loads(own_file.read_text())["metrics"]
        shutil.rmtree(results_dir, ignore_errors=True)
        del os.environ["KEXUE_RESULTS_DIR"]
    return dict(path=path, nb=nb, seconds=round(seconds, 1), peak_rss_mb=round(max(peak), 1) if peak else None,
                error=error, recorded=recorded)


def cached_results(paths: list[Path], cache_dir: Path = CACHE) -> dict[str, dict | None]:
    """The live numbers of each chapter, as its cached execution recorded them: ``{"NN": metrics}``.

    A chapter's entry is ``None`` when the cache holds no execution of its current code, or one
    made before executions stored their numbers; ``{}`` when its execution recorded nothing."""
    out: dict[str, dict | None] = {p.name[:2]: None for p in paths}
    if not (Path(cache_dir) / "global.db").is_file():
        return out
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_dir))
    for p in paths:
        try:
            record = cache.match_cache_notebook(read_notebook(p))
        except KeyError:
            continue
        data = record.data or {}
        if "recorded" in data:
            out[p.name[:2]] = data["recorded"] or {}
    return out


def results_file_text(chapter: str, metrics: dict) -> str:
    """``_build/results/NN.json`` as :func:`kexue.record` writes it."""
    return json.dumps({"chapter": chapter, "metrics": metrics}, indent=2, sort_keys=True) + "\n"


def restore_results(paths: list[Path], cache_dir: Path = CACHE, folder: Path = BUILD / "results") -> list[str]:
    """Write each cached chapter's numbers to ``folder/NN.json`` where that file differs from them
    (a ``record()`` call outside the build overwrote it); returns the chapters restored."""
    restored = []
    for nn, metrics in cached_results(paths, cache_dir).items():
        if not metrics:
            continue
        path = folder / f"{nn}.json"
        try:
            same = json.loads(path.read_text())["metrics"] == metrics
        except (OSError, ValueError, KeyError, TypeError):
            same = False
        if not same:
            folder.mkdir(parents=True, exist_ok=True)
            if path.is_file():
                print(f"execute: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} does not match "
                      f"chapter {nn}'s cached execution (a kexue.record call outside the build?): restored")
            path.write_text(results_file_text(nn, metrics))
            restored.append(nn)
    return restored


def text_outputs(nb) -> dict[str, str]:
    """The printed text of each code cell, keyed by the cell's source, with nbval's masked patterns removed
    (the build's stored notebooks leave out cells tagged ``remove-cell``, so cells are matched by source)."""
    out = {}
    patterns = sanitize_patterns()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                parts.append(o.get("text", ""))
            elif "data" in o and "text/plain" in o["data"]:
                parts.append(o["data"]["text/plain"])
        text = "".join(parts)
        for pattern in patterns:
            text = pattern.sub("", text)
        out[cell.source] = text
    return out


def compare_with_build(name: str, nb) -> dict:
    """How many code cells print something else than in the build pass, and one example."""
    import nbformat

    built = BUILD / "jupyter_execute" / "chapters" / f"{name}.ipynb"
    if not built.is_file():
        return {"compared": False}
    a, b = text_outputs(nbformat.read(built, as_version=4)), text_outputs(nb)
    common = [src for src in b if src in a]
    changed = [src for src in common if a[src] != b[src]]
    example = None
    if changed:
        x, y = a[changed[0]].splitlines(), b[changed[0]].splitlines()
        pair = next(((p, q) for p, q in zip(x, y) if p != q), (x[:1], y[:1]))
        example = {"build": str(pair[0])[:160], "lowered": str(pair[1])[:160]}
    return {"compared": True, "cells": len(common), "changed_cells": len(changed), "example": example}


def export(paths: list[Path], folder: Path) -> int:
    """Write the cached executed notebook of each chapter to ``folder/<name>.ipynb``: the reference
    outputs the nbval pass compares with (the build's own stored copies carry no outputs in cache mode)."""
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(str(CACHE))
    folder.mkdir(parents=True, exist_ok=True)
    for p in paths:
        try:
            record = cache.match_cache_notebook(read_notebook(p))
        except KeyError:
            print(f"execute: {p.stem} is not in the cache: run the build pass first", file=sys.stderr)
            return 1
        nbformat.write(cache.get_cache_bundle(record.pk).nb, folder / f"{p.stem}.ipynb")
    print(f"execute: wrote {len(paths)} executed notebook(s) to {folder}")
    return 0


def load_timings() -> dict:
    try:
        return json.loads(TIMINGS.read_text())
    except (OSError, ValueError):
        return {"chapters": {}}


PASSES = (("build", "book build"), ("nbval", "nbval (2nd run)"), ("isa", "lowered ISA"))


def format_table(timings: dict, markdown: bool = False, passes=PASSES) -> str:
    """Per chapter: seconds (and peak memory) of each pass present in ``timings``."""
    present = [(k, label) for k, label in passes if any(k in t for t in timings.get("chapters", {}).values())]
    profile = timings.get("isa_settings", {}).get("profile")
    if profile:           # name the instruction set the isa pass ran at
        present = [(k, f"{label} ({profile.upper()})" if k == "isa" else label) for k, label in present]
    head = ["chapter"] + [f"{label} s" for _, label in present] + \
        [f"peak MB ({label})" for k, label in present if k != "nbval"]
    rows = []
    for name, t in sorted(timings.get("chapters", {}).items()):
        cells = [name] + [f"{t[k]['seconds']:.0f}" if k in t else "" for k, _ in present]
        cells += [f"{t[k]['peak_rss_mb']:.0f}" if t.get(k, {}).get("peak_rss_mb") else ""
                  for k, _ in present if k != "nbval"]
        rows.append(cells)
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        lines = ["  ".join(str(x).rjust(w) for x, w in zip(r, widths)) for r in [head, *rows]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chapters", nargs="*", help="two-digit chapter numbers (default: all)")
    ap.add_argument("--pass", dest="which", choices=("build", "isa"), default="build")
    ap.add_argument("--isa", choices=("auto", *ISA_PROFILES), default="auto",
                    help="the isa pass's instruction set (auto: one level below the machine's)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("KEXUE_JOBS", "2")))
    ap.add_argument("--table", action="store_true", help="print the timings table of _build/timings.json and stop")
    ap.add_argument("--print-env", choices=tuple(ISA_PROFILES), metavar="ISA",
                    help="print the environment that caps every library at ISA (KEY=VALUE lines) and stop")
    ap.add_argument("--export", type=Path, metavar="DIR",
                    help="write each chapter's executed notebook from the cache into DIR and stop")
    a = ap.parse_args(argv)
    if a.table:
        print(format_table(load_timings()))
        return 0
    if a.print_env:
        print("\n".join(f"{k}={v}" for k, v in ISA_PROFILES[a.print_env].items()))
        return 0
    if a.export:
        return export(chapters(a.chapters), a.export)
    paths = chapters(a.chapters)
    BUILD.mkdir(exist_ok=True)
    timings = load_timings()
    todo = paths
    cache = None
    if a.which == "build":
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn

        key, stamp = inputs_key(), CACHE / "kexue-inputs.key"
        if CACHE.exists() and (not stamp.is_file() or stamp.read_text() != key):
            print("execute: src/kexue, recorded results or requirements changed: dropping the notebook cache")
            shutil.rmtree(CACHE)
        cache = get_cache(str(CACHE))
        CACHE.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key)
        todo = []
        for p in paths:
            try:
                record = cache.match_cache_notebook(read_notebook(p))
            except KeyError:
                todo.append(p)
                continue
            if "recorded" not in (record.data or {}):     # cached before executions stored their numbers
                todo.append(p)
                continue
            print(f"execute: {p.stem}: cached (code and inputs unchanged)")
    # longest first (by the last timings; the capsule chapters at the end of the book are the longest)
    previous = {n: max(t.get(k, {}).get("seconds", 0) for k in ("build", "isa")) for n, t in timings["chapters"].items()}
    todo = sorted(todo, key=lambda p: (previous.get(p.name[:2], 0), p.name), reverse=True)
    # the isa pass records its numbers apart, so _build/results keeps the numbers the pages show
    isa, isa_env = lower_isa(a.isa)
    env = dict(isa_env, KEXUE_RESULTS_DIR=str(BUILD / "isa-results")) if a.which == "isa" else {}
    failed = []
    t0 = time.perf_counter()
    if todo:
        print(f"execute: {len(todo)} chapter(s), {a.jobs} at a time ({a.which} pass"
              + (f", kernels capped at {isa.upper()})" if a.which == "isa" else ")"), flush=True)
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futures = [pool.submit(execute, str(p), env) for p in todo]
        for fut in as_completed(futures):
            r = fut.result()
            name = Path(r["path"]).stem
            entry = {"seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"]}
            if r["error"]:
                failed.append(name)
                print(f"execute: {name}: FAILED after {r['seconds']} s\n{r['error']}", flush=True)
                continue
            if a.which == "build":
                cache.cache_notebook_bundle(CacheBundleIn(r["nb"], r["path"], data={"execution_seconds": r["seconds"],
                                                                                   "recorded": r["recorded"]}),
                                            check_validity=False, overwrite=True)
            else:
                entry["vs_build"] = compare_with_build(name, r["nb"])
            timings["chapters"].setdefault(name[:2], {})[a.which] = entry
            mem = f"{r['peak_rss_mb']:.0f} MB" if r["peak_rss_mb"] else "? MB"
            print(f"execute: {name}: {r['seconds']:.1f} s, peak {mem}", flush=True)
    timings[f"{a.which}_wall_seconds"] = round(time.perf_counter() - t0, 1)
    timings[f"{a.which}_jobs"] = a.jobs
    if a.which == "isa":
        timings["isa_settings"] = dict(isa_env, profile=isa)
    TIMINGS.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")
    if a.which == "build":
        restore_results(paths)
    if failed:
        print(f"execute: {len(failed)} chapter(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    if a.which == "isa":
        changed = {n: t["isa"]["vs_build"] for n, t in sorted(timings["chapters"].items())
                   if "isa" in t and t["isa"].get("vs_build", {}).get("compared")}
        print(f"lowered instruction set ({isa.upper()}): printed outputs that differ from the build pass")
        for n, v in changed.items():
            ex = v["example"]
            print(f"  {n}: {v['changed_cells']} of {v['cells']} code cells"
                  + (f"; e.g. {ex['build']!r} -> {ex['lowered']!r}" if ex else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
