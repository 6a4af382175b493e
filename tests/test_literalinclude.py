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


def test_every_listing_of_a_kexue_object_links_to_its_api_entry():
    """``scripts/api_links.py --check``: each `:pyobject:` listing from src/kexue has the caption
    ``{py:obj}`kexue.<module>.<object>``` (the built-book test checks that the link resolves)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "api_links.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_api_caption_names_the_module_and_object():
    import importlib.util

    spec = importlib.util.spec_from_file_location("api_links", ROOT / "scripts" / "api_links.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    page = ROOT / "chapters" / "05-crf.md"
    assert mod.dotted(page, "../src/kexue/crf/torch.py", "CRF.log_partition") == "kexue.crf.torch.CRF.log_partition"
    assert mod.dotted(page, "../scripts/env.sh", "x") is None


def test_listings_show_the_code_without_the_docstring():
    """Applied the way Sphinx applies ``:pyobject:`` then ``:lines:``, each kexue listing keeps its
    ``def``/``class`` line and its last line and drops the docstring (which the API page renders)."""
    import ast

    from sphinx.pycode import ModuleAnalyzer
    from sphinx.util import parselinenos

    checked = 0
    for page in sorted(ROOT.glob("chapters/*.md")):
        for m in INCLUDE.finditer(page.read_text()):
            obj = re.search(r"^:pyobject:\s*(\S+)", m["options"], re.M)
            spec = re.search(r"^:lines:\s*(\S+)", m["options"], re.M)
            path = (page.parent / m["path"]).resolve()
            if not obj or "src/kexue" not in str(path) or not spec:
                continue
            start, end = ModuleAnalyzer.for_file(str(path), "").find_tags()[obj.group(1)][1:]
            lines = path.read_text().splitlines()[start - 1:end]
            shown = [lines[i] for i in parselinenos(spec.group(1), len(lines))]
            node = ast.parse(path.read_text())
            for part in obj.group(1).split("."):
                node = next(n for n in node.body if getattr(n, "name", None) == part)
            doc = ast.get_docstring(node)
            assert doc and doc.splitlines()[0].strip() not in "\n".join(shown), f"{page.name}: {obj.group(1)}"
            assert any(s.lstrip().startswith(("def ", "class ", "async def ")) for s in shown)
            assert shown[-1] == lines[-1]
            checked += 1
    assert checked > 20
