"""The chapters' script twins (chapters/NN-slug.py, the page's "Python script" download): in step
with their chapter, and one of them runs to the end with plain ``python``, checks included."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
SYNC = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(SYNC)
CHAPTERS = SYNC.chapters()


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_script_is_in_step_with_its_chapter(md):
    script = md.with_suffix(".py")
    assert script.is_file(), f"{script.name} missing: run python scripts/sync_notebooks.py"
    assert script.read_text() == SYNC.script_text(md.read_text(), md.stem), \
        f"{script.name} is out of date with {md.name}: run python scripts/sync_notebooks.py"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_script_keeps_every_code_cell(md):
    """Every code cell of the chapter appears in the script, uncommented (runs as code)."""
    import jupytext

    nb = jupytext.reads(md.read_text(), fmt="md:myst")
    script = md.with_suffix(".py").read_text()
    for cell in nb.cells:
        if cell.cell_type == "code" and not cell.source.lstrip().startswith(("%", "!")):
            assert cell.source in script, f"{md.stem}: a code cell is missing from the script"


def test_the_note_links_both_downloads():
    for md in CHAPTERS:
        line = SYNC.note(md)
        assert f"<{md.stem}.ipynb>" in line and f"<{md.stem}.py>" in line and line in md.read_text()


def test_chapter_04_script_runs_with_python(tmp_path):
    """The fastest chapter's script, run as a reader would (from chapters/, ``python NN.py``):
    it exits 0 with every check line printed, and records its numbers."""
    env = dict(os.environ, KEXUE_RESULTS_DIR=str(tmp_path), MPLBACKEND="agg", PYTHONHASHSEED="0")
    script = ROOT / "chapters" / "04-pmi-word-vectors.py"
    out = subprocess.run([sys.executable, script.name], cwd=script.parent, env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    checks = [line for line in out.stdout.splitlines() if line.startswith("✓")]
    assert len(checks) >= 3, out.stdout[-2000:]
    recorded = json.loads((tmp_path / "04.json").read_text())
    assert recorded["chapter"] == "04" and {"pmi_fit_corr", "svd_fit_corr"} <= set(recorded["metrics"])
