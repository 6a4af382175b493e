"""The environment has one source of truth (requirements.txt); the other files must agree."""
import re
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


def test_environment_yml_matches_requirements():
    text = (ROOT / "environment.yml").read_text()
    pip_lines = [l.strip()[2:] for l in text.splitlines() if l.startswith("      - ")]
    assert "python=3.11" in text
    assert _pins(pip_lines) == requirements()


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
