"""Generate the results page's tables: ``python scripts/pages/results.py OUT_DIR``.

Writes ``OUT_DIR/results.md``, included by ``book/results.md``. Per chapter:

- the live numbers the chapter recorded when it executed (``_build/results/NN.json``),
  beside the post's numbers for the same metric (``book/post_numbers.json``);
- the post's other numbers, with where the post states them;
- every recorded run ``experiments/results/NN-*.json``, labelled with its file and
  configuration. The file names are read with :func:`kexue.results.parse_run_name`; one-seed
  runs (``NN-<kind>[-<routing>][-<variant>]-seed<S>.json``) are grouped into one table per
  kind, routing and variant: mean ± sd over the seeds.

No number is typed into the page: every one comes from these files.
"""
from __future__ import annotations

import fnmatch
import json
import statistics
import sys
from pathlib import Path

from kexue.results import RunName, parse_run_name

ROOT = Path(__file__).resolve().parents[2]


def fmt(x) -> str:
    if isinstance(x, bool) or x is None:
        return "—" if x is None else str(x)
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.4f}"


def mean_sd(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f} (1 seed)"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} ({len(values)} seeds)"


def chapter_titles(root: Path) -> dict[str, str]:
    titles = {}
    for path in sorted((root / "chapters").glob("[0-9][0-9]-*.md")):
        head = next((l for l in path.read_text().splitlines() if l.startswith("# ")), f"# {path.stem}")
        titles[path.name[:2]] = (head[2:].strip(), path.stem)
    return titles


def config_label(data: dict) -> str:
    """One line naming a recorded run's configuration: its command and its settings."""
    parts = []
    if data.get("command"):
        parts.append(f"`{data['command']}`")
    cfg = data.get("config") or data.get("settings")
    if isinstance(cfg, dict):
        parts.append(", ".join(f"{k}={v}" for k, v in cfg.items() if v is not None and k != "out"))
    if data.get("date"):
        parts.append(f"recorded {data['date']}")
    return "; ".join(parts)


def recorded_rows(data: dict) -> list[tuple[str, str]]:
    """(metric, value) rows of one recorded file, whichever of the known layouts it has."""
    rows = []
    if isinstance(data.get("metrics"), dict):
        rows += [(k, fmt(v)) for k, v in data["metrics"].items()]
    runs = data.get("runs")
    if isinstance(runs, list) and runs:
        # several seeds per configuration: final-epoch validation accuracy, or the named metrics
        group_key = "routing" if "routing" in runs[0] else "config"
        groups: dict[str, list[dict]] = {}
        for run in runs:
            groups.setdefault(str(run.get(group_key)), []).append(run)
        for name, group in groups.items():
            if "val_acc" in group[0]:
                rows.append((f"{name}: validation accuracy after the last epoch",
                             mean_sd([r["val_acc"][-1] for r in group])))
                rows.append((f"{name}: best validation accuracy over the epochs",
                             mean_sd([max(r["val_acc"]) for r in group])))
            for key in ("mnist_acc", "acc1", "acc2"):
                if key in group[0]:
                    rows.append((f"{name}: {key}", mean_sd([r[key] for r in group])))
    probes = data.get("probes")
    if isinstance(probes, dict):
        for name, probe in probes.items():
            acc = probe.get("val_acc") or []
            if acc:
                rows.append((f"{name}: validation accuracy, last / best epoch", f"{acc[-1]:.4f} / {max(acc):.4f}"))
    return rows


def seed_groups(files: list[Path]) -> dict[RunName, list[tuple[int, Path, dict]]]:
    """One-seed runs grouped by chapter, kind, routing and variant (the name without its seed):
    group -> [(seed, path, data)], in increasing seed order."""
    groups: dict[RunName, list[tuple[int, Path, dict]]] = {}
    for path in files:
        name = parse_run_name(path)
        if name.seed is not None:
            key = RunName(name.chapter, name.kind, name.routing, name.variant)
            groups.setdefault(key, []).append((name.seed, path, json.loads(path.read_text())))
    return {k: sorted(v, key=lambda m: m[0]) for k, v in groups.items()}


def group_label(group: RunName) -> str:
    """``routing `post`, variant `lrdecay```: what the seeds of a group share besides chapter and kind."""
    parts = [f"routing `{group.routing}`"] if group.routing else []
    parts += [f"variant `{group.variant}`"] if group.variant else []
    if group.kind != "full":
        parts.insert(0, f"kind `{group.kind}`")
    return ", ".join(parts) or f"kind `{group.kind}`"


def post_text(info: dict, source: str, metric: str) -> str:
    """The post's number for `metric` of the recorded file (or seed group) `source`, or "—".

    A post value matches when its `metric` is the row's metric, or when its `recorded_as`
    maps a file-name pattern matching `source` to the row's label."""
    for v in info.get("values", []):
        if v.get("metric") == metric:
            return v["text"]
        for pattern, label in (v.get("recorded_as") or {}).items():
            if fnmatch.fnmatch(source, pattern) and label == metric:
                return v["text"]
    return "—"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    clean = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in rows]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in clean), ""]


def render(root: Path) -> str:
    post = json.loads((root / "book" / "post_numbers.json").read_text())
    titles = chapter_titles(root)
    live_dir = root / "_build" / "results"
    exp_dir = root / "experiments" / "results"
    exp_files = sorted(exp_dir.glob("[0-9][0-9]-*.json")) if exp_dir.is_dir() else []
    groups = seed_groups(exp_files)
    out = []
    for nn in sorted(set(titles) | {k for k in post if k[:2].isdigit()}):
        title, stem = titles.get(nn, (nn, None))
        out.append(f"## {{doc}}`{title} <../chapters/{stem}>`" if stem else f"## {title}")
        out.append("")
        info = post.get(nn, {"values": [], "note": "", "post": ""})
        by_metric = {v["metric"]: v for v in info["values"] if v.get("metric")}

        live_path = live_dir / f"{nn}.json"
        if live_path.is_file():
            metrics = json.loads(live_path.read_text())["metrics"]
            rows = []
            for name, value in metrics.items():
                p = by_metric.get(name)
                rows.append([f"`{name}`", fmt(value), f"{p['text']} ({p['what']})" if p else "—"])
            out.append(f"Live run, executed with the chapter (`_build/results/{nn}.json`):")
            out.append("")
            out += table(["metric", "ours (live)", "the post"], rows)
        else:
            out += ["The chapter has not been executed in this build, so there are no live numbers.", ""]

        others = [v for v in info["values"] if not v.get("metric") or not live_path.is_file()
                  or v["metric"] not in json.loads(live_path.read_text())["metrics"]]
        if others:
            out.append(f"The post's numbers ({info['post']}):")
            out.append("")
            out += table(["what", "the post", "where"], [[v["what"], v["text"], v["where"]] for v in others])
        if info.get("note"):
            out += [info["note"], ""]

        for path in exp_files:
            name = parse_run_name(path)
            if name.chapter != nn or name.seed is not None:
                continue
            data = json.loads(path.read_text())
            rows = recorded_rows(data)
            if not rows:
                continue
            out.append(f"Recorded run `experiments/results/{path.name}`: {config_label(data)}")
            out.append("")
            out += table(["metric", "ours (recorded)", "the post"],
                         [[m, v, post_text(info, path.name, m)] for m, v in rows])
        for group, members in sorted(groups.items(), key=lambda g: g[1][0][1].name):
            if group.chapter != nn:
                continue
            seeds = [s for s, _, _ in members]
            names = [f"experiments/results/{p.name}" for _, p, _ in members]
            first = members[0][2]
            metric_names = [k for k in first.get("metrics", {}) if all(k in d.get("metrics", {}) for _, _, d in members)]
            many = len(seeds) > 1
            out.append(f"Recorded run{'s' if many else ''}, {group_label(group)}, seed{'s' if many else ''} "
                       f"{', '.join(map(str, seeds))} ({', '.join(f'`{n}`' for n in names)}): {config_label(first)}")
            out.append("")
            values = {m: [float(d["metrics"][m]) for _, _, d in members] for m in metric_names}
            out += table(["metric", "ours (recorded, mean ± sd)" if many else "ours (recorded)", "the post"],
                         [[m, mean_sd(values[m]) if many else fmt(values[m][0]),
                           post_text(info, members[0][1].name, m)] for m in metric_names])
    return "\n".join(out)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python scripts/pages/results.py OUT_DIR")
    out_dir = Path(argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text(render(ROOT) + "\n")


if __name__ == "__main__":
    main(sys.argv)
