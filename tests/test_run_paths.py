"""The ways of running the book (book/run_paths/*.json, recorded by scripts/colab-check.sh and
scripts/binder-check.sh) and the table "Running the book" shows from them: every path covers all
eight chapters, every chapter passed, and the page's memory claims (on Binder; on any path) hold
for every recorded run."""
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_paths", ROOT / "scripts" / "pages" / "run_paths.py")
RP = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(RP)
CHAPTERS = sorted(p.name[:2] for p in (ROOT / "chapters").glob("[0-9][0-9]-*.md"))
PATHS = sorted((ROOT / "book" / "run_paths").glob("*.json"))


def memory_claim_gb(pattern: str) -> float:
    """A memory bound "Running the book" states, as the number in ``pattern``'s group."""
    text = " ".join((ROOT / "book" / "running.md").read_text(encoding="utf-8").split())
    m = re.search(pattern, text)
    assert m, f"running.md no longer states the memory bound this test keeps true: {pattern!r}"
    return float(m.group(1))




def test_the_colab_and_binder_paths_are_recorded():
    assert {p.stem for p in PATHS} >= {"colab-latest", "colab-pinned", "binder"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_path_covers_every_chapter_and_all_passed(path):
    rec = json.loads(path.read_text())
    assert rec["path"] == path.stem and rec["label"]
    assert sorted(rec["chapters"]) == CHAPTERS, f"{path.name}: chapters {sorted(rec['chapters'])}"
    for nn, entry in rec["chapters"].items():
        assert entry["status"] == "passed", f"{path.name}: chapter {nn} {entry['status']}"
        assert entry["seconds"] > 0 and entry["peak_rss_mb"] > 100
    assert {"torch", "numpy", "python"} <= set(rec["versions"])
    assert rec["run_info"]["seconds"] >= 0 and rec["run_info"]["machine"] and rec["run_info"]["date"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_page_memory_claim_holds_on_every_path(path):
    limit_mb = memory_claim_gb(RP.ANY_PATH_CLAIM) * 1000
    rec = json.loads(path.read_text())
    over = {nn: e["peak_rss_mb"] for nn, e in rec["chapters"].items() if e["peak_rss_mb"] > limit_mb}
    assert not over, f"{path.name}: above the {limit_mb:.0f} MB the page promises: {over}"


def test_page_binder_claim_holds_and_is_within_binders_limit():
    limit_mb = memory_claim_gb(RP.BINDER_CLAIM) * 1000
    assert limit_mb <= 2000, "the page's Binder bound must be within mybinder.org's 2 GB"
    rec = json.loads((ROOT / "book" / "run_paths" / "binder.json").read_text())
    over = {nn: max(e["peak_rss_mb"], e.get("watchdog_peak_mb", 0))
            for nn, e in rec["chapters"].items()
            if max(e["peak_rss_mb"], e.get("watchdog_peak_mb", 0)) >= limit_mb}
    assert not over, f"binder.json: at or above the {limit_mb:.0f} MB the page promises: {over}"


def test_binder_watchdog_never_came_near_its_kill_line():
    rec = json.loads((ROOT / "book" / "run_paths" / "binder.json").read_text())
    over = {nn: e.get("watchdog_peak_mb") for nn, e in rec["chapters"].items()
            if not 0 < e.get("watchdog_peak_mb", 0) < 2000}
    assert not over, f"binder watchdog peaks missing or at/above 2000 MB: {over}"


def test_table_renders_each_path_as_a_column():
    timings = {"chapters": {"01": {"build": {"seconds": 30.4, "peak_rss_mb": 1200.0}}}}
    paths = [{"label": "Colab (x)", "versions": {"torch": "2.11.0", "python": "3.12.1"},
              "chapters": {"01": {"status": "passed", "seconds": 61.6, "peak_rss_mb": 1430.0},
                           "02": {"status": "failed", "seconds": 3.0, "peak_rss_mb": 500.0}}}]
    text = RP.render(timings, paths)
    lines = text.replace("\u00a0", " ").splitlines()      # cells keep number and unit together
    assert lines[0].startswith("```{tabularcolumns} ") and lines[0].count(r"\Y{") == 3   # PDF widths
    assert lines[1] == "```"
    lines = lines[3:]
    assert lines[0] == "| chapter | this build | Colab (x) |"
    assert lines[2] == "| 01 | 30 s, 1.20 GB | 62 s, 1.43 GB |"
    assert lines[3] == "| 02 | — | failed |"
    assert lines[4] == "| highest peak | 1.20 GB | 1.43 GB |"
    assert "- **Colab (x)**: python 3.12.1, torch 2.11.0." in text
