"""Our code runs on Python 3.11 (the book's pins) and on Colab's 3.12 and 3.13.

Each source (src/, scripts/, tests/ and the chapters' code cells) must not import a module that
Python 3.12 or 3.13 removed (PEP 594's dead batteries, distutils, imp, asyncore, ...), nor use
an API those versions removed that a name lookup can find.  Where a Python 3.12 or 3.13
interpreter is installed, every source is also compiled by it with warnings as errors (an
invalid escape sequence is a SyntaxWarning from 3.12 on).
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]

# modules gone in 3.12 (distutils, imp, asynchat, asyncore, smtpd) and 3.13 (PEP 594, lib2to3)
REMOVED_MODULES = {
    "aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "mailcap", "msilib", "nis",
    "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib",
    "lib2to3", "distutils", "imp", "asynchat", "asyncore", "smtpd", "tkinter.tix",
}
# module attributes gone in 3.12 / 3.13, found as `module.attr` or `from module import attr`
REMOVED_ATTRIBUTES = {
    "locale": {"getdefaultlocale", "resetlocale"},  # getdefaultlocale: deprecated, gone in 3.15
    "unittest": {"makeSuite", "findTestCases", "getTestCaseNames"},
    "configparser": {"SafeConfigParser", "LegacyInterpolation"},
    "pkgutil": {"ImpImporter", "ImpLoader"},
    "ssl": {"wrap_socket", "match_hostname", "RAND_pseudo_bytes"},
    "typing": {"io", "re"},
    "re": {"template", "TEMPLATE", "T"},
    "ctypes": {"SetPointerType", "ARRAY"},
    "importlib": {"find_loader"},
    "importlib.util": {"set_package", "set_loader", "module_for_loader"},
}
# methods gone in 3.12 whose names are distinctive enough to look for anywhere
REMOVED_METHODS = {
    "assertEquals", "assertNotEquals", "assertAlmostEquals", "assertNotAlmostEquals", "failUnless",
    "failIf", "failUnlessEqual", "failIfEqual", "failUnlessRaises", "assert_", "assertRegexpMatches",
    "assertRaisesRegexp", "assertNotRegexpMatches", "assertDictContainsSubset", "readfp", "link_to",
}


def python_sources() -> list[Path]:
    files = [p for d in ("src", "scripts", "tests") for p in (ROOT / d).rglob("*.py")]
    return sorted(p for p in files if ".ipynb_checkpoints" not in p.parts)


def chapter_code(md: Path) -> str:
    """The chapter's code cells as one Python text, IPython magics and shell lines blanked."""
    cells = [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]
    lines = [("" if ln.lstrip().startswith(("%", "!")) else ln)
             for src in cells for ln in (src.splitlines() + [""])]
    return "\n".join(lines)


SOURCES = python_sources() + sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))


def source_text(path: Path) -> str:
    return chapter_code(path) if path.suffix == ".md" else path.read_text()


def problems(text: str, name: str = "<snippet>") -> list[str]:
    """What in ``text`` would break on Python 3.12 or 3.13 (an empty list when nothing)."""
    tree = ast.parse(text, name)
    aliases: dict[str, str] = {}  # local name -> module it names
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in REMOVED_MODULES or a.name.split(".")[0] in REMOVED_MODULES:
                    found.append(f"line {node.lineno}: import {a.name} (removed module)")
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in REMOVED_MODULES or node.module.split(".")[0] in REMOVED_MODULES:
                found.append(f"line {node.lineno}: from {node.module} import ... (removed module)")
            for a in node.names:
                if f"{node.module}.{a.name}" in REMOVED_MODULES:
                    found.append(f"line {node.lineno}: from {node.module} import {a.name} (removed module)")
                if a.name in REMOVED_ATTRIBUTES.get(node.module, ()):
                    found.append(f"line {node.lineno}: from {node.module} import {a.name} (removed)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in REMOVED_METHODS:
                found.append(f"line {node.lineno}: .{node.attr} (removed method)")
            dotted, base = [node.attr], node.value
            while isinstance(base, ast.Attribute):
                dotted.insert(0, base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in aliases:
                module = ".".join([aliases[base.id], *dotted[:-1]])
                if node.attr in REMOVED_ATTRIBUTES.get(module, ()):
                    found.append(f"line {node.lineno}: {module}.{node.attr} (removed)")
    return sorted(set(found))


def test_sources_found():
    assert ROOT / "src" / "kexue" / "results.py" in SOURCES
    assert ROOT / "scripts" / "sync_notebooks.py" in SOURCES
    assert sum(p.suffix == ".md" for p in SOURCES) == 8
    assert len(SOURCES) > 30


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_removed_in_312_or_313(path):
    assert problems(source_text(path), str(path)) == []


@pytest.mark.parametrize("snippet, expected", [
    ("import imp\n", "import imp"),
    ("import distutils.util\n", "import distutils.util"),
    ("from telnetlib import Telnet\n", "from telnetlib import"),
    ("from tkinter import tix\n", "from tkinter import tix"),
    ("import locale\nlocale.getdefaultlocale()\n", "locale.getdefaultlocale"),
    ("import locale as L\nL.getdefaultlocale()\n", "locale.getdefaultlocale"),
    ("import unittest\nunittest.makeSuite(object)\n", "unittest.makeSuite"),
    ("from configparser import SafeConfigParser\n", "import SafeConfigParser"),
    ("import pkgutil\npkgutil.ImpImporter\n", "pkgutil.ImpImporter"),
    ("import importlib.util\nimportlib.util.set_package\n", "importlib.util.set_package"),
    ("self.assertEquals(1, 1)\n", ".assertEquals"),
])
def test_the_checker_finds_removed_things(snippet, expected):
    found = problems(snippet)
    assert len(found) == 1 and expected in found[0], found


def test_the_checker_passes_current_code():
    assert problems("import locale, os, pkgutil\nlocale.getlocale()\nos.path.join('a')\n"
                    "pkgutil.iter_modules()\nx = {'imp': 1}\nx.get('imp')\n") == []


def test_chapter_code_drops_magics(tmp_path):
    md = tmp_path / "01-x.md"
    header = (ROOT / "chapters" / "01-keras-custom-loss.md").read_text().split("\n---\n")[0]
    md.write_text(header + "\n---\n\n# x\n\n"
                  "```{code-cell} ipython3\n%matplotlib inline\nimport imp\n!pip list\n```\n")
    code = chapter_code(md)
    assert "%matplotlib" not in code and "!pip" not in code
    assert problems(code) and "import imp" in problems(code)[0]


def newer_pythons() -> list[str]:
    found = []
    for minor in ("3.12", "3.13"):
        cands = [shutil.which(f"python{minor}"), *sorted(Path("/root/.pyenv/versions").glob(f"{minor}.*/bin/python{minor}")),
                 *sorted(Path.home().joinpath(".pyenv/versions").glob(f"{minor}.*/bin/python{minor}"))]
        for c in filter(None, cands):
            if subprocess.run([str(c), "-c", "pass"], capture_output=True).returncode == 0:
                found.append(str(c))
                break
    return found


COMPILE = """
import sys, warnings
warnings.simplefilter("error")
bad = []
for path in sys.argv[1:]:
    try:
        compile(open(path, encoding="utf-8").read(), path, "exec")
    except (SyntaxError, SyntaxWarning) as e:
        bad.append(f"{path}: {e!r}")
print("\\n".join(bad))
sys.exit(1 if bad else 0)
"""


@pytest.mark.parametrize("python", newer_pythons() or [None], ids=lambda p: Path(p).name if p else "none")
def test_sources_compile_on_newer_python(python, tmp_path):
    if python is None:
        pytest.skip("no Python 3.12 or 3.13 installed here")
    paths = []
    for src in SOURCES:
        if src.suffix == ".md":
            paths.append(tmp_path / f"{src.stem}.py")
            paths[-1].write_text(chapter_code(src))
        else:
            paths.append(src)
    out = subprocess.run([python, "-c", COMPILE, *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    # and the check can fail: an invalid escape sequence is a SyntaxWarning from 3.12 on
    (tmp_path / "bad.py").write_text('x = "\\d"\n')
    bad = subprocess.run([python, "-c", COMPILE, str(tmp_path / "bad.py")], capture_output=True, text=True)
    assert bad.returncode == 1 and "bad.py" in bad.stdout
