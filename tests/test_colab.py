"""The chapters' Colab set-up cell and the notebook twins the Colab and Binder buttons open."""
import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))


def _sync():
    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "scripts" / "sync_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SYNC = _sync()


def setup_source(md: Path) -> str:
    first = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
    assert first.metadata.get("tags") == ["remove-cell"], f"{md.name}: the first code cell must be tagged remove-cell"
    return first.source


def test_eight_chapters():
    assert len(CHAPTERS) == 8


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem[:2])
def test_notebook_twin_matches_the_chapter(md):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} missing: run python scripts/sync_notebooks.py"
    assert ipynb.read_text() == SYNC.notebook_text(md.read_text()), \
        f"{ipynb.name} is out of date with {md.name}: run python scripts/sync_notebooks.py"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem[:2])
def test_notebook_twin_has_no_outputs_and_same_cells(md):
    nb, twin = jupytext.read(md), jupytext.read(md.with_suffix(".ipynb"))
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in twin.cells]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in twin.cells if c.cell_type == "code")


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem[:2])
def test_setup_cell_is_the_canonical_one(md):
    assert setup_source(md) == SYNC.setup_cell(), f"{md.name}: run python scripts/sync_notebooks.py"
    assert SYNC.NOTE in md.read_text()


def test_setup_cell_fetches_the_release_tag():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    cell = SYNC.setup_cell()
    assert f'"KEXUE_REF", "v{version}"' in cell
    import kexue
    assert kexue.__version__ == version


def _run_cell(tmp_path, colab: bool, env: dict) -> subprocess.CompletedProcess:
    """Execute the set-up cell in a fresh interpreter; pip is recorded, not run."""
    driver = f"""
import os, subprocess, sys, types
calls = []
real_run = subprocess.run
def run(cmd, **kw):
    calls.append(cmd)
    if cmd[0] == "git":
        return real_run(cmd, **kw)
    return subprocess.CompletedProcess(cmd, 0)
subprocess.run = run
if {colab!r}:
    sys.modules["google.colab"] = types.ModuleType("google.colab")
exec(compile(open({str(tmp_path / 'cell.py')!r}).read(), "cell", "exec"))
print("CWD", os.getcwd())
for c in calls:
    print("CALL", " ".join(map(str, c)))
"""
    (tmp_path / "cell.py").write_text(SYNC.setup_cell())
    return subprocess.run([sys.executable, "-c", driver], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_setup_cell_does_nothing_outside_colab(tmp_path):
    out = _run_cell(tmp_path, colab=False, env={"KEXUE_HOME": str(tmp_path / "book")})
    assert out.returncode == 0, out.stderr
    assert f"CWD {tmp_path}" in out.stdout and "CALL" not in out.stdout
    assert not (tmp_path / "book").exists()


def test_setup_cell_on_colab_fetches_installs_and_enters_the_chapters(tmp_path):
    home = tmp_path / "content" / "kexue-book"
    out = _run_cell(tmp_path, colab=True, env={"KEXUE_HOME": str(home), "KEXUE_REPO": str(ROOT),
                                               "KEXUE_REF": "HEAD"})
    assert out.returncode == 0, out.stderr
    assert f"CWD {home / 'chapters'}" in out.stdout
    # the fetched tree holds the code, the chapters and the recorded runs
    for path in ("pyproject.toml", "src/kexue/__init__.py", "experiments/results/08-live-seeds.json", "_toc.yml"):
        assert (home / path).is_file(), path
    pip = [l for l in out.stdout.splitlines() if l.startswith("CALL") and " pip install " in l]
    assert len(pip) == 1 and "--no-deps" in pip[0] and str(home) in pip[0]
    # Colab's frameworks are never touched
    assert not any(name in pip[0] for name in ("torch==", "tensorflow", "keras"))
    # a second run of the cell (the chapter re-run) does not fetch again
    again = _run_cell(tmp_path, colab=True, env={"KEXUE_HOME": str(home), "KEXUE_REPO": "/nonexistent"})
    assert again.returncode == 0, again.stderr
    assert "CALL git" not in again.stdout
