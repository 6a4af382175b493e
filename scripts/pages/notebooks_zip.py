"""Writes ``_generated/kexue-book-notebooks.zip``: the eight chapters' notebooks (the committed
``chapters/NN-slug.ipynb``, as the Colab button opens them), for the download on "Running the book".

Run by ``scripts/build-book.sh`` (see ``scripts/pages/README.md``) with the output folder as argument.
The archive is byte-for-byte the same for the same notebooks (fixed timestamps, sorted names).
"""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = "kexue-book-notebooks.zip"


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    notebooks = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.ipynb"))
    if not notebooks:
        raise SystemExit("no chapters/NN-*.ipynb: run python scripts/sync_notebooks.py")
    with zipfile.ZipFile(out / NAME, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for nb in notebooks:
            info = zipfile.ZipInfo(f"kexue-book-notebooks/{nb.name}", date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, nb.read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
