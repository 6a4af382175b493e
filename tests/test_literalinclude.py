"""Every code listing in the book resolves: each `literalinclude` names an existing file and,
with `:pyobject:`, a function, class or method defined in it (parsed with `ast`)."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r"```\{literalinclude\} (?P<path>\S+)\n(?P<options>(?::[^\n]*\n)*)")


def _includes():
    for page in sorted(ROOT.glob("chapters/*.md")) + sorted(ROOT.glob("book/*.md")):
        for m in INCLUDE.finditer(page.read_text()):
            obj = re.search(r"^:pyobject:\s*(\S+)", m["options"], re.M)
            yield pytest.param(page, m["path"], obj.group(1) if obj else None, id=f"{page.name}:{m['path']}:{obj and obj.group(1)}")


def _defined(tree: ast.Module, dotted: str) -> bool:
    body = tree.body
    for part in dotted.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return False
        body = node.body
    return True


def test_there_are_listings():
    assert len(list(_includes())) > 20


@pytest.mark.parametrize("page,path,obj", list(_includes()))
def test_literalinclude_resolves(page, path, obj):
    target = (page.parent / path).resolve()
    assert target.is_file(), f"{page.name}: {path} does not exist"
    if obj:
        assert _defined(ast.parse(target.read_text()), obj), f"{page.name}: {obj} is not defined in {path}"


def test_resolver_rejects_a_missing_object():
    tree = ast.parse("class A:\n    def f(self):\n        pass\n\ndef g():\n    pass\n")
    assert _defined(tree, "A.f") and _defined(tree, "g")
    assert not _defined(tree, "A.g") and not _defined(tree, "f")
