"""Give every code listing of a `kexue` object a caption that links to the object in the API reference.

    python scripts/api_links.py          # add or update the captions in chapters/*.md and book/*.md
    python scripts/api_links.py --check  # exit 1 if a listing lacks its caption

A listing ```{literalinclude} ../src/kexue/crf/torch.py`` with ``:pyobject: CRF.log_partition``
gets ``:caption: {py:obj}`kexue.crf.torch.CRF.log_partition``` (the reference pages are in
book/api/; tests/test_literalinclude.py checks the captions).
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


def rewrite(page: Path) -> str:
    def fix(m: re.Match) -> str:
        obj = re.search(r"^:pyobject:\s*(\S+)", m["options"], re.M)
        name = obj and dotted(page, m["path"], obj.group(1))
        if not name:
            return m.group(0)
        options = "".join(line for line in m["options"].splitlines(keepends=True)
                          if not line.startswith(":caption:"))
        return m["head"] + options + caption(name)
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
        print(("listings without their API caption: " if "--check" in argv else "updated: ")
              + ", ".join(map(str, stale)))
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
