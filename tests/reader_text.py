"""Phrases that speak about how the book was made rather than to its reader.

Shared by `tests/test_reader_text.py` (the Markdown sources) and
`tests/book/test_built_book.py` (the built HTML). Each pattern is narrow enough not to
match ordinary machine-learning vocabulary: "target" alone (a label), "budget" alone
(the score budget of chapter 02), "issue" alone, "machine" alone ("machine learning",
"machine translation", "a machine like the one that built the pages") and "probe" as a
word of code (``for run in probes["probes"]``) are allowed; only their uses about how the
book was made are not.
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
    # the machine the book was built on, not the reader's
    r"\bshared (?:(?:\d+|two)[- ]core )?(?:machine|cpu|computer)\b",       # "Time and the shared machine"
    r"\b(?:2|two)[- ]core\b",                                             # "on the 2-core machine"
    r"\bbusy\b[^.\n]{0,30}\bmachine\b",                                  # "on the busy 2-core machine"
    r"\b(?:this|our|the development|the build) machine\b",                # "on this two-core machine"
    # experiments run while writing, outside the page
    r"\bin (?:a |the |our |these )?probes?\b(?=[ ,;:)]|\.(?:\s|$)|$)",   # "in a probe", "In probes outside"
    r"\bprobes? outside\b",
    r"(?<!of )\bthe book keeps\b",                                      # "the book keeps the post's recipe"
    r"\bfor chapter authors\b",
]
PROCESS_RE = re.compile("|".join(f"(?:{p})" for p in PROCESS_PATTERNS), re.IGNORECASE)


def process_phrases(text):
    """Every match of a process phrase in `text`, with 40 characters of context on each side."""
    return [text[max(m.start() - 40, 0):m.end() + 40].replace("\n", " ") for m in PROCESS_RE.finditer(text)]
