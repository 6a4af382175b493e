"""Writes ``_generated/timings.md``: each chapter's execution time and peak memory in the last build.

Run by ``scripts/build-book.sh`` (see ``scripts/pages/README.md``) with the output folder as argument.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from execute_chapters import TIMINGS, format_table, load_timings  # noqa: E402


def main(out: Path) -> None:
    timings = load_timings()
    if not timings.get("chapters"):
        text = "*(No timings: the chapters have not been executed by `scripts/execute_chapters.py`.)*\n"
    else:
        jobs = timings.get("build_jobs", 2)
        text = (format_table(timings, markdown=True, passes=(("build", "execution"),)) + "\n\n"
                f"Measured in the build that made these pages ({TIMINGS.name}): each chapter in its own kernel "
                f"with one thread, {jobs} chapters at a time; peak memory is the kernel's peak resident set.\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / "timings.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
