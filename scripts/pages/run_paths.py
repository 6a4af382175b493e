"""Writes ``_generated/run_paths.md``: each chapter's time and peak memory on every way of running it.

Run by ``scripts/build-book.sh`` (see ``scripts/pages/README.md``) with the output folder as argument.
Columns: this build (``_build/timings.json``, the chapters executed two at a time) and the recorded
run paths in ``book/run_paths/*.json`` (written by ``scripts/colab-check.sh`` and
``scripts/binder-check.sh``, one chapter at a time), each with its framework versions.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from execute_chapters import load_timings  # noqa: E402

RUN_PATHS = ROOT / "book" / "run_paths"
ORDER = ["local", "colab-latest", "colab-pinned", "binder"]     # columns, left to right
SHOWN_VERSIONS = ["python", "torch", "tensorflow", "keras", "numpy"]
# The memory bounds "Running the book" states in its prose (group 1: GB), which the tests keep true
# against the recorded runs (tests/test_run_paths.py) and the built table (tests/book/test_running_page.py)
BINDER_CLAIM = r"On Binder every chapter stays below (\d+(?:\.\d+)?) GB"
ANY_PATH_CLAIM = r"no chapter needs more than (\d+(?:\.\d+)?) GB on any path"


def load_run_paths(folder: Path = RUN_PATHS) -> list[dict]:
    """The recorded run paths, in :data:`ORDER` (others after, by name)."""
    found = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))}
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    return [found[n] for n in names]


def _cell(entry: dict | None) -> str:
    if not entry:
        return "—"
    if entry.get("status") != "passed":
        return str(entry.get("status", "?"))
    # no-break spaces keep a number with its unit in a narrow column (HTML and PDF)
    return f"{entry['seconds']:.0f}\u00a0s, {entry['peak_rss_mb'] / 1000:.2f}\u00a0GB"


def _peak(entries: list[dict | None]) -> str:
    mbs = [e["peak_rss_mb"] for e in entries if e and "peak_rss_mb" in e]
    return f"{max(mbs) / 1000:.2f}\u00a0GB" if mbs else "—"


def _pdf_columns(n: int) -> str:
    """The table's columns in the PDF (HTML ignores it): a narrow first one, the others equal and
    ragged-right, so that "166 s, 1.28 GB" stays on one line in every column."""
    first = 0.10
    col = r">{\raggedright\arraybackslash}\Y{%.3f}"
    spec = col % first + (col % ((1 - first) / (n - 1))) * (n - 1)
    return "```{tabularcolumns} " + spec + "\n```\n"


def render(timings: dict, paths: list[dict]) -> str:
    built = timings.get("chapters", {})
    names = sorted(set(built) | {n for p in paths for n in p.get("chapters", {})})
    head = ["chapter", "this build"] + [p["label"] for p in paths]
    rows = []
    for n in names:
        b = built.get(n, {}).get("build")
        rows.append([n, _cell(dict(b, status="passed") if b else None)]
                    + [_cell(p.get("chapters", {}).get(n)) for p in paths])
    lines = [_pdf_columns(len(head)), "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    peaks = [_peak([b.get("build") for b in built.values()])] + [
        _peak(list(p.get("chapters", {}).values())) for p in paths]
    lines.append("| highest peak | " + " | ".join(peaks) + " |")
    text = "\n".join(lines) + "\n\n"
    if paths:
        text += "Versions on each path:\n\n"
        for p in paths:
            v = p.get("versions", {})
            shown = ", ".join(f"{k} {v[k]}" for k in SHOWN_VERSIONS if v.get(k))
            text += f"- **{p['label']}**: {shown}.\n"
        text += "\n"
    return text


def main(out: Path) -> None:
    text = render(load_timings(), load_run_paths())
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_paths.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
