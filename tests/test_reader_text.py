"""The chapters and book pages speak to the reader only: no words about how the book was made.

The quick twin of `tests/book/test_built_book.py::test_no_process_words_in_pages`, over the
Markdown sources (including the code the pages show from `src/kexue`).
"""
from pathlib import Path

import pytest

from reader_text import PROCESS_RE, process_phrases

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(ROOT.glob("chapters/*.md")) + sorted(p for p in ROOT.glob("book/*.md"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_process_words(path):
    found = process_phrases(path.read_text())
    assert not found, f"{path.name} speaks about how the book was made: {found}"


def test_code_shown_in_pages_has_no_process_words():
    found = {str(p.relative_to(ROOT)): process_phrases(p.read_text()) for p in sorted((ROOT / "src").rglob("*.py"))}
    found = {k: v for k, v in found.items() if v}
    assert not found, found


@pytest.mark.parametrize("text", [
    "stays below the 0.85 this chapter aimed for",
    "The issue's target (best model ≥ 0.85) is not met",
    "as in the digest's probe",
    "the chapter has a 150-second budget",
    "does not fit in this chapter's CPU budget",
    "torch.nn.MultiheadAttention (target ≤ 1.3×)",
    "full-scale target acc1: met",
    "Time and the shared machine limit us to 8 epochs.",
    "one thread: faster than two on a shared 2-core machine",
    "it is slower on the busy 2-core machine",
    "On this two-core machine that is about 45 minutes",
    "measured on our machine",
    "as seen in a probe with three seeds",
    "In probes outside this page, with 3 to 5 epochs",
    "larger batches did not help in probes.",
    "so the book keeps the post's recipe",
    "# Conventions for chapter authors",
    "the models are tiny: one thread is fastest on a shared CPU",
])
def test_patterns_catch_process_words(text):
    assert PROCESS_RE.search(text), text


@pytest.mark.parametrize("text", [
    "the target y is one-hot, and the loss compares it with the prediction",
    "cross-entropy with smoothed targets",
    "the normalised score distributes a fixed budget of 1 over the words",
    "a dummy target of the right shape",
    "A brief discussion of activation-function design",
    "one issue with unscaled attention is saturation",
    "the SHA-256 hash digest of the file",
    "machine learning and machine translation",
    "a statistical machine translation system",
    "on a machine like the one that built the pages",
    "a linear probe on the frozen features",
    "for name, run in probes[\"probes\"].items():",
    "best_probe = max(max(r) for r in probes.values())",
    "the score budget is shared out over the words",
    "Each chapter of the book keeps its code in one module",
    "a four-core laptop CPU",
])
def test_patterns_spare_ordinary_vocabulary(text):
    assert not PROCESS_RE.search(text), text
