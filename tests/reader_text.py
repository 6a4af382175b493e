"""Phrases that speak about how the book was made rather than to its reader.

Shared by `tests/test_reader_text.py` (the Markdown sources) and
`tests/book/test_built_book.py` (the built HTML). Each pattern is narrow enough not to
match ordinary machine-learning vocabulary: "target" alone (a label), "budget" alone
(the score budget of chapter 02) and "issue" alone are allowed; only their
project-management uses are not.
"""
import re

PROCESS_PATTERNS = [
    r"(?<!hash )(?<!message )\bdigest(?:s|'s)?\b",                                  # the notes the chapters were written from
    r"\bissue(?:'s|\s*#\s*\d+)",                              # "the target", "issue #14"
    r"\bchapter's issue\b",
    r"\baimed (?:for|at)\b",
    r"\b(?:cpu|time|live|short|chapter's|page's|device|\d+[- ](?:second|minute)) budget\b",
    r"\b(?:issue's|live|full-scale|chapter's|page's) target\b",
    r"\btarget\s*[≤≥]",                                       # "(target ≤ 1.3×)"
    r"\bdone when\b",
    r"\bacceptance criteri",
    r"\bdigest writer\b",
]
PROCESS_RE = re.compile("|".join(f"(?:{p})" for p in PROCESS_PATTERNS), re.IGNORECASE)


def process_phrases(text):
    """Every match of a process phrase in `text`, with 40 characters of context on each side."""
    return [text[max(m.start() - 40, 0):m.end() + 40].replace("\n", " ") for m in PROCESS_RE.finditer(text)]
