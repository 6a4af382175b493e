"""Every ``literalinclude`` of a chapter shows an existing file and, with ``:pyobject:``, an object defined there."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.md"))
BLOCK = re.compile(r"^```\{literalinclude\}\s+(\S+)\s*\n((?::[\w-]+:.*\n)*)", re.MULTILINE)


def _blocks():
    for chapter in CHAPTERS:
        text = chapter.read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", m.group(2), re.MULTILINE))
            line = text.count("\n", 0, m.start()) + 1
            yield pytest.param(chapter, m.group(1), options.get("pyobject"), id=f"{chapter.stem}:{line}")


def _defined(tree: ast.Module, dotted: str) -> bool:
    """Whether ``Name`` or ``Class.method`` is defined at the top of ``tree`` (as Sphinx' ``:pyobject:`` finds it)."""
    body = tree.body
    for part in dotted.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return False
        body = node.body
    return True


def test_the_chapters_have_literalincludes():
    assert len(list(_blocks())) > 20


@pytest.mark.parametrize("chapter,target,pyobject", list(_blocks()))
def test_literalinclude_resolves(chapter, target, pyobject):
    path = (chapter.parent / target).resolve()
    assert path.is_file(), f"{chapter.name}: {target} does not exist"
    if pyobject:
        assert _defined(ast.parse(path.read_text(encoding="utf-8")), pyobject), \
            f"{chapter.name}: {pyobject} is not defined in {target}"
