"""Sphinx extension of kexue-book: the notebook a chapter page offers is the clean one.

MyST-NB writes each executed chapter into ``_sources/chapters/NN-slug.ipynb``, and the theme's
download menu (".ipynb") links that file. After the HTML build this extension puts the committed
notebook in its place (``chapters/NN-slug.ipynb``: no outputs, the Colab set-up cell kept, what
the Colab button opens), so the menu, the page's own download link and the zip on "Running the
book" all give the same file.
"""
from __future__ import annotations

import shutil
from pathlib import Path


def _use_clean_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources" / "chapters"
    for clean in sorted((Path(app.srcdir) / "chapters").glob("[0-9][0-9]-*.ipynb")):
        target = sources / clean.name
        if target.parent.is_dir():
            shutil.copyfile(clean, target)


def setup(app):
    app.connect("build-finished", _use_clean_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
