"""Generate the results page's tables: ``python scripts/pages/results.py OUT_DIR [--root BOOK]``.

Writes ``OUT_DIR/results.md``, included by ``book/results.md``. Per chapter, first the post's
claims and our verdict, one row per number of the post or headline number of ours:

- *the post*: ``book/post_numbers.json``;
- *ours, this build*: the numbers the chapter recorded (``kexue.record``) in the execution the
  build shows, read from that execution's entry in the notebook cache
  (``execute_chapters.cached_results``), never from ``_build/results/NN.json``, which any
  ``record()`` call in the repository may overwrite (such a file is named and ignored);
- *ours, full scale*: the recorded runs ``experiments/results/*.json`` that
  ``book/metric_labels.json`` names for the metric, mean ± sd over their seeds;
- *holds?*: computed from the post's relation (see :func:`verdict`).

Then, for the capsule chapters, the full-scale seeds of both routings (final model and best
epoch), and below, labelled, every other recorded run: variants of the recipe, runs at the
chapter's scale, probes. Every label comes from ``book/metric_labels.json``; no number is
typed into the page.
"""
from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import json
import re
import statistics
import sys
from pathlib import Path

from kexue.results import parse_run_name

ROOT = Path(__file__).resolve().parents[2]
CAPSULE_METRICS = ("mnist_acc", "acc1", "acc2")
#: "holds?" for a post's "about"/"=" number: ours within HOLDS_WITHIN of it holds, within PARTLY_WITHIN partly
HOLDS_WITHIN, PARTLY_WITHIN = 0.02, 0.05


# ----------------------------------------------------------------------------- formatting
def fmt_time(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def fmt(x: float, unit: str | None = None) -> str:
    if unit == "count":
        return f"{round(x):,}"
    if unit == "seconds":
        return fmt_time(x)
    return f"{x:.4f}"


def fmt_values(values: list[float], unit: str | None = None, one: str = "") -> str:
    """One value (followed by ``one``), or mean ± sd (n seeds)."""
    if len(values) == 1:
        return fmt(values[0], unit) + one
    mean, sd = statistics.mean(values), statistics.stdev(values)
    if unit == "count":
        return f"{mean:,.0f} ± {sd:,.0f} ({len(values)} seeds)"
    if unit == "seconds":
        return f"{fmt_time(mean)} ± {fmt_time(sd)} ({len(values)} seeds)"
    return f"{mean:.4f} ± {sd:.4f} ({len(values)} seeds)"


def reader_command(command: str) -> str:
    """A recorded command as a reader runs it: absolute output paths become ``experiments/results/<file>``."""
    return re.sub(r"(?<![\w.])/(?:[^\s/]+/)*([^\s/]+\.json)\b", r"experiments/results/\1", command)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    clean = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in rows]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in clean), ""]


# ----------------------------------------------------------------------------- recorded runs
def file_values(data: dict) -> dict[str, list[float]]:
    """The values of one recorded file by key, one per seed it holds (see book/metric_labels.json's keys)."""
    out: dict[str, list[float]] = {}
    for k, v in (data.get("metrics") or {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = [float(v)]
    caps = (data.get("models") or {}).get("caps") or {}
    if caps.get("per_epoch"):
        for m in CAPSULE_METRICS:
            out[f"best:{m}"] = [max(e[m] for e in caps["per_epoch"])]
    for run in data.get("runs") or []:
        if "val_acc" in run:
            out.setdefault(f"{run['config']}:best", []).append(max(run["val_acc"]))
            out.setdefault(f"{run['config']}:last", []).append(run["val_acc"][-1])
        elif "routing" in run:
            for m in CAPSULE_METRICS:
                if m in run:
                    out.setdefault(f"{run['routing']}:{m}", []).append(run[m])
    probes = data.get("probes") or {}
    base = {k: v for k, v in (data.get("base") or {}).items() if k != "seed"}
    for name, probe in probes.items():
        if probe.get("val_acc"):
            out[f"{name}:last"] = [probe["val_acc"][-1]]
            if base and {k: v for k, v in probe.get("config", {}).items() if k != "seed"} == base:
                out.setdefault("same:last", []).append(probe["val_acc"][-1])
    return out


class Recorded:
    """The recorded runs of ``experiments/results``, read once."""

    def __init__(self, folder: Path):
        self.files = sorted(folder.glob("[0-9][0-9]-*.json")) if folder.is_dir() else []
        self.names = {p.name: parse_run_name(p) for p in self.files}
        self.data = {p.name: json.loads(p.read_text()) for p in self.files}
        self.used: set[str] = set()

    def source(self, spec: str) -> tuple[list[float], list[str]]:
        """``"<pattern>#<key>"`` -> (the values over the seeds, the files they come from)."""
        pattern, key = spec.split("#", 1)
        values, files = [], []
        for name in self.names:
            if fnmatch.fnmatch(name, pattern):
                got = file_values(self.data[name]).get(key)
                if got:
                    values += got
                    files.append(name)
        return values, files

    def describe(self, files: list[str]) -> str:
        """The files, and the command as a reader runs it (for several seeds: the last seed's, with ``S`` for the seed)."""
        last = self.data[files[-1]]
        text = ", ".join(f"`{f}`" for f in files)
        command = reader_command(last.get("command", ""))
        if command and len(files) > 1:
            seed = self.names[files[-1]].seed          # read from the name by parse_run_name
            if seed is not None:
                command = command.replace(f"--seed {seed}", "--seed S").replace(f"seed{seed}.json", "seed<S>.json")
            seeds = [str(self.names[f].seed) for f in files if self.names[f].seed is not None]
            text += f": `{command}` (S = {', '.join(seeds)})" if seeds else f": `{command}`"
        elif command:
            text += f": `{command}`"
        dates = sorted(self.data[f]["date"][:10] for f in files if self.data[f].get("date"))
        if dates:
            text += f", recorded {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "")
        return text


# ----------------------------------------------------------------------------- live numbers
def _execute_chapters():
    spec = importlib.util.spec_from_file_location("execute_chapters", ROOT / "scripts" / "execute_chapters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_live(root: Path) -> dict[str, dict | None]:
    """Each chapter's numbers as its cached execution recorded them; a ``_build/results/NN.json``
    that differs from them is named on stderr and ignored."""
    paths = sorted((root / "chapters").glob("[0-9][0-9]-*.md"))
    live = _execute_chapters().cached_results(paths, root / "_build" / ".jupyter_cache")
    for nn, metrics in live.items():
        stray = root / "_build" / "results" / f"{nn}.json"
        if metrics and stray.is_file():
            try:
                differs = json.loads(stray.read_text()).get("metrics") != metrics
            except ValueError:
                differs = True
            if differs:
                print(f"results page: ignoring _build/results/{nn}.json: it does not match chapter {nn}'s cached "
                      "execution (written by a kexue.record call outside the build?); the page shows the "
                      "numbers that execution recorded", file=sys.stderr)
    return live


# ----------------------------------------------------------------------------- verdicts
def verdict(value: dict, ours: list[float], scale: str) -> str:
    """Does the post's number hold for ours (the seeds' values)?

    ``>``/``≥``: yes when every seed reaches it, partly when some do, no when none does.
    ``≈``/``=``: yes when the mean is within HOLDS_WITHIN, partly within PARTLY_WITHIN or when
    some seed is within HOLDS_WITHIN, otherwise no. The margin is our mean minus the post's number."""
    target, rel = float(value["value"]), value["relation"]
    mean = statistics.mean(ours)
    if rel in (">", "≥"):
        reach = [x > target if rel == ">" else x >= target for x in ours]
        word = "yes" if all(reach) else "partly" if any(reach) else "no"
    else:
        near = [abs(x - target) <= HOLDS_WITHIN for x in ours]
        word = ("yes" if abs(mean - target) <= HOLDS_WITHIN else
                "partly" if abs(mean - target) <= PARTLY_WITHIN or any(near) else "no")
    return f"{word} ({mean - target:+.4f}, {scale})"


# ----------------------------------------------------------------------------- the page
def chapter_titles(root: Path) -> dict[str, tuple[str, str]]:
    titles = {}
    for path in sorted((root / "chapters").glob("[0-9][0-9]-*.md")):
        head = next((l for l in path.read_text().splitlines() if l.startswith("# ")), f"# {path.stem}")
        titles[path.name[:2]] = (head[2:].strip(), path.stem)
    return titles


def label_of(labels: dict, key: str) -> str:
    if key in labels.get("labels", {}):
        return labels["labels"][key]
    raise KeyError(f"book/metric_labels.json has no label for {key!r}")


def claims_rows(nn: str, info: dict, labels: dict, live: dict | None, rec: Recorded) -> tuple[list[list[str]], list[str]]:
    """The claims table of a chapter, and the recorded files it reads."""
    rows, sources, covered = [], [], set()
    units = labels.get("units", {})
    for v in info.get("values", []):
        link = labels.get("post", {}).get(v["what"], {})
        key = v.get("metric") or link.get("live")
        covered.add(key)
        spec = link.get("full") or labels.get("full", {}).get(key)
        full, files = rec.source(spec) if spec else ([], [])
        live_value = live.get(key) if live and key else None
        unit = units.get(key)
        ours_live = fmt(live_value, unit) if live_value is not None else "—"
        ours_full = fmt_values(full, unit, " (1 run)") if full else "—"
        if files:
            sources.append(files)
            rec.used.update(files)
        if full:
            holds = verdict(v, full, "full scale")
        elif live_value is not None:
            holds = verdict(v, [live_value], "this build")
        else:
            reason = link.get("not_rerun") or ("the chapter was not executed in this build" if key and live is None
                                               else "the book does not re-run this number")
            ours_live, holds = f"not re-run: {reason}", "—"
        rows.append([v["what"], v["text"], ours_live, ours_full, holds])
    # our other headline numbers: the live ones, or (chapter not executed) those recorded at full scale
    for key, value in (live if live is not None else dict.fromkeys(labels.get("full", {}))).items():
        if key in covered:
            continue
        spec = labels.get("full", {}).get(key)
        full, files = rec.source(spec) if spec else ([], [])
        if files:
            sources.append(files)
            rec.used.update(files)
        unit = labels.get("units", {}).get(key, "seconds" if key.endswith("seconds") else None)
        rows.append([label_of(labels, key), "—", "—" if value is None else fmt(value, unit),
                     fmt_values(full, unit, " (1 run)") if full else "—", "—"])
    return rows, sources


def routing_rows(labels: dict, all_labels: dict, rec: Recorded) -> tuple[list[list[str]], list[str]]:
    rows, sources = [], []
    for pattern in labels.get("routings", []):
        files = [n for n in rec.names if fnmatch.fnmatch(n, pattern)]
        if not files:
            continue
        routing = rec.names[files[0]].routing
        cells = [all_labels["routing_names"].get(routing, routing)]
        for m in ("acc1", "acc2"):
            final, _ = rec.source(f"{pattern}#{m}_caps")
            best, _ = rec.source(f"{pattern}#best:{m}")
            cells += [fmt_values(final) if final else "—", fmt_values(best) if best else "—"]
        rows.append(cells)
        sources.append(files)
        rec.used.update(files)
    return rows, sources


def other_runs(nn: str, labels: dict, all_labels: dict, rec: Recorded) -> list[str]:
    """Every recorded run of the chapter not read above, grouped by name without its seed, labelled."""
    groups: dict[tuple, list[str]] = {}
    for name, run in rec.names.items():
        if run.chapter == nn and name not in rec.used:
            groups.setdefault((run.kind, run.routing, run.variant), []).append(name)
    out = []
    for (kind, routing, variant), files in sorted(groups.items(), key=lambda g: g[1][0]):
        what = []
        if routing:
            what.append(all_labels["routing_names"].get(routing, routing))
        if variant in labels.get("variants", {}):
            what.append(labels["variants"][variant])
        elif kind == "live":
            what.append("recorded at the chapter's own (reduced) scale, several seeds")
        elif kind == "probes":
            what.append("probes: the chapter's configuration and variations of it")
        elif variant:
            what.append(f"variant {variant}")
        values: dict[str, list[float]] = {}
        for f in files:
            for k, v in file_values(rec.data[f]).items():
                values.setdefault(k, []).extend(v)
        rows = []
        for k, v in values.items():
            base = k.split(":", 1)
            label = labels.get("labels", {}).get(k)
            if label is None and len(base) == 2:
                head = all_labels["routing_names"].get(base[0], base[0])
                tail = {"best": "best validation accuracy over the epochs",
                        "last": "validation accuracy after the last epoch"}.get(base[1]) \
                    or labels.get("labels", {}).get(base[1], base[1])
                label = f"{tail}, {head}" if base[0] != "best" else f"{labels['labels'].get(base[1], base[1])}, best epoch"
            if label is None:
                label = label_of(labels, k)
            rows.append([label, fmt_values(v, labels.get("units", {}).get(k))])
        if not rows:
            continue
        out += [f"*{'; '.join(what) or kind}*: {rec.describe(files)}", ""]
        out += table(["", "ours"], rows)
    return out


def render(root: Path, live: dict[str, dict | None] | None = None) -> str:
    """The page; ``live`` (chapter -> its recorded numbers, or None) defaults to the cached executions'."""
    post = json.loads((root / "book" / "post_numbers.json").read_text())
    all_labels = json.loads((root / "book" / "metric_labels.json").read_text())
    live = load_live(root) if live is None else live
    titles = chapter_titles(root)
    rec = Recorded(root / "experiments" / "results")
    out = ["*holds?* compares the post's number with our full-scale mean where the book has one, "
           "otherwise with this build's number. A number the post gives as a lower bound holds when "
           "every seed reaches it, partly when some do; a number it gives as its result holds when "
           f"ours is within {HOLDS_WITHIN} of it, partly within {PARTLY_WITHIN}. The margin in brackets "
           "is ours minus the post's. *This build* is the chapter's own run, at the reduced scale the "
           "chapter states; *full scale* is the recorded runs, with the number of seeds.", ""]
    for nn in sorted(set(titles) | {k for k in post if k[:2].isdigit()}):
        title, stem = titles.get(nn, (nn, None))
        out += [f"## {{doc}}`{title} <../chapters/{stem}>`" if stem else f"## {title}", ""]
        info = post.get(nn, {"values": [], "note": "", "post": ""})
        labels = all_labels.get(nn, {})
        if info.get("post"):
            out += [f"The post: <{info['post']}>. {info.get('note', '')}".rstrip(), ""]
        rows, sources = claims_rows(nn, info, labels, live.get(nn), rec)
        if live.get(nn) is None:
            out += ["The chapter has not been executed in this build, so there is no live column.", ""]
        if rows:
            out += table(["", "the post", "ours, this build", "ours, full scale", "holds?"], rows)
        routes, route_sources = routing_rows(labels, all_labels, rec)
        if routes:
            out += ["Full-scale runs of the capsule model, per routing: the final model and the best "
                    "epoch of each seed, mean ± sd over the seeds.", ""]
            out += table(["routing", "acc1, final", "acc1, best epoch", "acc2, final", "acc2, best epoch"], routes)
        groups = list(dict.fromkeys(tuple(f) for f in sources + route_sources))
        groups = [g for g in groups if not any(set(g) < set(h) for h in groups)]    # a seed inside its group
        if groups:
            out += ["Full-scale runs read above: " + "; ".join(rec.describe(list(g)) for g in groups) + ".", ""]
        others = other_runs(nn, labels, all_labels, rec)
        if others:
            out += ["Other recorded runs (not the post's recipe at full scale):", ""] + others
    return "\n".join(out)


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="results.py", description="write OUT_DIR/results.md")
    ap.add_argument("out_dir", type=Path, nargs="?")
    ap.add_argument("--root", type=Path, default=ROOT, help="the book's root (default: this repository)")
    a = ap.parse_args(argv[1:])
    if a.out_dir is None:
        raise SystemExit("usage: python scripts/pages/results.py OUT_DIR [--root BOOK]")
    a.out_dir.mkdir(parents=True, exist_ok=True)
    (a.out_dir / "results.md").write_text(render(a.root) + "\n")


if __name__ == "__main__":
    main(sys.argv)
