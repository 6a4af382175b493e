"""Give every code listing of a `kexue` object a caption that links to the object in the API reference,
and show the code without its docstring (the reference renders the docstring).

    python scripts/api_links.py          # add or update the options in chapters/*.md and book/*.md
    python scripts/api_links.py --check  # exit 1 if a listing's options are missing or stale

A listing ```{literalinclude} ../src/kexue/crf/torch.py`` with ``:pyobject: CRF.log_partition``
gets ``:caption: {py:obj}`kexue.crf.torch.CRF.log_partition``` (the reference pages are in
book/api/) and ``:lines:`` that leave out the object's docstring, counted the way Sphinx counts
the lines of a ``:pyobject:`` (decorators included).  tests/test_literalinclude.py runs the check,
so a docstring that grows or shrinks cannot leave a listing cut in the wrong place.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r"(?P<head>```\{literalinclude\} (?P<path>\S+)\n)(?P<options>(?::[^\n]*\n)*)")


def dotted(page: Path, path: str, obj: str) -> str | None:
    """``kexue.<module>.<object>`` for a listing of ``obj`` from ``path`` (relative to ``page``), else None."""
    target = (page.parent / path).resolve()
    try:
        rel = target.relative_to(ROOT / "src")
    except ValueError:
        return None
    return ".".join(rel.with_suffix("").parts) + "." + obj


def caption(name: str) -> str:
    return f":caption: {{py:obj}}`{name}`\n"


def docstring_lines(path: Path, obj: str) -> str | None:
    """The ``:lines:`` option that drops ``obj``'s docstring from its listing (None: it has none).

    Line numbers are relative to the object's first line as Sphinx's ``:pyobject:`` finds it.
    """
    import ast

    from sphinx.pycode import ModuleAnalyzer

    tags = ModuleAnalyzer.for_file(str(path), "").find_tags()
    start, end = tags[obj][1], tags[obj][2]
    body = ast.parse(path.read_text()).body
    node = None
    for part in obj.split("."):
        node = next(n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    and n.name == part)
        body = node.body
    first = node.body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return None
    before, after = first.lineno - start, first.end_lineno - start + 2      # 1-based, relative
    if after > end - start + 1:                                             # nothing after the docstring
        return None
    return f":lines: 1-{before},{after}-\n"


def rewrite(page: Path) -> str:
    def fix(m: re.Match) -> str:
        obj = re.search(r"^:pyobject:\s*(\S+)", m["options"], re.M)
        name = obj and dotted(page, m["path"], obj.group(1))
        if not name:
            return m.group(0)
        options = "".join(line for line in m["options"].splitlines(keepends=True)
                          if not line.startswith((":caption:", ":lines:")))
        lines = docstring_lines((page.parent / m["path"]).resolve(), obj.group(1)) or ""
        return m["head"] + options + caption(name) + lines
    return INCLUDE.sub(fix, page.read_text())


def main(argv: list[str]) -> int:
    stale = []
    for page in sorted(ROOT.glob("chapters/*.md")) + sorted(ROOT.glob("book/*.md")):
        new = rewrite(page)
        if new != page.read_text():
            stale.append(page.relative_to(ROOT))
            if "--check" not in argv:
                page.write_text(new)
    if stale:
        print(("listings whose API caption or :lines: are missing or stale: " if "--check" in argv else "updated: ")
              + ", ".join(map(str, stale)))
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
