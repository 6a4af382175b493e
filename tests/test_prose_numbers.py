"""No run number typed into the prose of a chapter or book page.

A number a run produced must reach the reader printed by a code cell or glued into the
text (``{glue:text}`ch05_f1:.4f` ``), so that the page always says what its own execution
computed.  This test reads the *prose* of every ``chapters/*.md`` and ``book/*.md`` page
(``book/results.md`` is generated, and skipped) and fails on every number in it that is
not accounted for by one of the allow-rules below.

What counts as prose
--------------------
Everything the reader reads as running text, after removing: the YAML front matter;
code cells and every fenced code block (```` ``` ```` or ``~~~``); the bodies of
directives other than the prose ones (admonitions, notes, figures' captions, dropdowns,
...), and the option lines (``:class: tip``) and path arguments of all directives;
math (``$...$``, ``$$...$$`` with its ``(label)``, ``{math}`` blocks); inline code;
MyST roles with their content (``{glue:text}`...` ``, ``{eq}`...` ``, ``{doc}`...` ``);
link targets and bare URLs (the link *text* stays); HTML comments and tags; ISO dates.

The allow-rules (a number in prose passes if one holds)
-------------------------------------------------------
1. **Glued.**  It is inside a ``{glue:...}`` role (removed with the roles, see above).
2. **The post's number.**  Its value appears under the chapter's key in
   ``book/post_numbers.json``: a result in ``values`` (its ``value``), or a set-up number
   the post states (sizes, hyper-parameters) in ``quoted``.  A percentage ``95%`` matches
   95 or 0.95.
3. **A set-up constant the chapter defines in its own code.**  The same numeric value is
   written as a literal in a code cell of the same page (``EPOCHS = 8``, ``maxlen=80``,
   ``n_train=10_000``, ``lr=3e-3``): a size, seed, threshold or hyper-parameter the reader
   can see being set; a split written "80/20" passes when 0.2 (or 0.8) is such a literal.
   A run's output is never a literal in a code cell, so this tells
   set-up constants from results.  Values defined in library code rather than in a cell
   go in the small explicit allow-list ``ALLOWED`` below, one entry per value, each naming
   the constant (module attribute, data set, standard) it comes from.
4. **Structural.**  Integers 0 to 10; years 1990 to 2030 (the years of titles and
   citations) and ISO dates; version numbers with two or more dots (``0.42.1``); a number
   right after "eq."/"equation", "chapter", "section", "part", "figure"/"fig.", "table",
   "listing", "Python", "version", "arXiv" or a framework's name (Keras, TensorFlow,
   PyTorch, numpy, jieba, MathJax); the number of a numbered list item ("1. ..."); a
   number joined to a name by a hyphen (AVX-512, Apache-2.0).  Not "epoch" or "seed":
   which epoch or seed did best is a run's result.

Everything else fails: glue it, print it, or reword.  The failure message lists each
offending number with 40 characters of context on each side.

The same module checks that no chapter source or book page holds a tab or a
carriage-return character (a Python ``"\\t"`` written into a LaTeX string eats ``\\text``).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATED = {"results.md"}
PAGES = sorted(ROOT.glob("chapters/*.md")) + sorted(p for p in ROOT.glob("book/*.md") if p.name not in GENERATED)

# Rule 3, the explicit part: values the prose states that come from library code or from a
# data set, not from a code cell of the page.  Key: the chapter number ("01") or the book
# page's stem ("intro").  Value: {number as written in the prose: where it comes from}.
ALLOWED: dict[str, dict[str, str]] = {
    "intro": {
        "60,000": "MNIST's training set (kexue.data.load_mnist: 60,000 images)",
        "10,000": "MNIST's test set (kexue.data.load_mnist: 10,000 images)",
        "1.1": "the version of the SIL Open Font License (the CJK font's licence)",
    },
    "running": {
        "2.5": "the memory bound (GB) the page promises on every path: a promise, not a run's number; "
               "tests/test_run_paths.py and tests/book/test_running_page.py check every recorded run "
               "and the built table against it",
    },
    "01": {
        "784": "kexue.losses.experiment.FeatureNet: 28 × 28 = 784 input pixels",
        "128": "kexue.losses.experiment.FeatureNet: first hidden layer, hidden=128",
        "64": "kexue.losses.experiment.FeatureNet: second hidden layer, nn.Linear(hidden, 64)",
    },
}

# ---------------------------------------------------------------------------------------
# prose extraction

PROSE_DIRECTIVES = {
    "admonition", "note", "tip", "hint", "important", "warning", "caution", "attention",
    "danger", "error", "seealso", "dropdown", "topic", "sidebar", "margin", "epigraph",
    "figure", "table", "list-table", "card", "tab-item", "rubric",
}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,}|:{3,})\s*(?P<info>.*)$")
OPTION = re.compile(r"^\s*:[\w-]+:.*$")
MATH_BLOCK = re.compile(r"\$\$.*?\$\$(?:[ \t]*\([^)\n]*\))?", re.S)
MATH_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(?:[^$\n]|\n(?!\s*\n))+?(?<!\\)\$")
ROLE = re.compile(r"\{[\w:.+-]+\}(`+)(?:(?!\1).)*?\1", re.S)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
COMMENT = re.compile(r"<!--.*?-->", re.S)
LINK = re.compile(r"(!?)\[([^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M)
AUTOLINK = re.compile(r"<(?:https?|mailto|ftp):[^>\s]+>")
URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+|\b[\w.-]+\.(?:org|com|fm|io|ac\.cn|net)/\S*")
HTML_TAG = re.compile(r"</?[a-zA-Z][^>\n]*>")
DATE = re.compile(r"\b(?:19|20)\d\d-\d\d(?:-\d\d)?\b")
FOOTNOTE = re.compile(r"\[\^[^\]]+\]")
TARGET = re.compile(r"^\s*\([\w:.-]+\)=\s*$", re.M)


def _front_matter(lines: list[str]) -> int:
    """Index of the first line after the YAML front matter (0 if there is none)."""
    if lines and lines[0].strip() == "---":
        for k in range(1, len(lines)):
            if lines[k].strip() in ("---", "..."):
                return k + 1
    return 0


def _strip_blocks(text: str) -> str:
    """Drop front matter, code blocks, non-prose directives and directive options, line by line.

    Removed lines become empty lines, so paragraphs stay apart."""
    lines = text.split("\n")
    out = [""] * len(lines)
    stack: list[tuple[str, bool, bool]] = []     # (closing fence, keep body, still in the option lines)
    for k in range(_front_matter(lines), len(lines)):
        line = lines[k]
        m = FENCE.match(line)
        if stack:
            closing, keep, in_options = stack[-1]
            if m and m["fence"][0] == closing[0] and len(m["fence"]) >= len(closing) and not m["info"].strip():
                stack.pop()
                continue
            if not keep:
                continue
            if in_options:
                if OPTION.match(line):
                    continue
                stack[-1] = (closing, keep, False)
        if m and (not stack or stack[-1][1]):
            info = m["info"].strip()
            d = re.match(r"\{([\w:.-]+)\}\s*(.*)", info)
            if d is None:
                keep, argument = False, ""           # a plain fenced code block (```bash, ~~~)
            else:
                keep = d[1] in PROSE_DIRECTIVES
                argument = d[2] if d[1] in PROSE_DIRECTIVES - {"figure"} else ""
            stack.append((m["fence"], keep, True))
            out[k] = argument
            continue
        if stack and not stack[-1][1]:
            continue
        out[k] = line
    return "\n".join(out)


def prose(text: str) -> str:
    """The text of a MyST page as a reader reads it, without code, math, roles and links."""
    text = COMMENT.sub(" ", text)
    text = _strip_blocks(text)
    text = MATH_BLOCK.sub(" ", text)
    text = ROLE.sub(" ", text)                    # before inline code: a role carries backticks
    text = INLINE_CODE.sub(" ", text)
    text = MATH_INLINE.sub(" ", text)
    text = LINK.sub(lambda m: "" if m[1] else m[2], text)
    text = REF_DEF.sub(" ", text)
    text = AUTOLINK.sub(" ", text)
    text = URL.sub(" ", text)
    text = HTML_TAG.sub(" ", text)
    text = FOOTNOTE.sub(" ", text)
    text = TARGET.sub(" ", text)
    text = DATE.sub(" ", text)
    return text


def code_cells(text: str) -> list[str]:
    """The sources of the page's ``{code-cell}`` blocks."""
    cells, body, closing = [], None, None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if body is None:
            if m and m["info"].strip().startswith("{code-cell}"):
                body, closing = [], m["fence"]
        elif m and m["fence"] == closing and not m["info"].strip():
            cells.append("\n".join(body))
            body = None
        else:
            body.append(line)
    return cells


# ---------------------------------------------------------------------------------------
# numbers

NUMBER = re.compile(r"(?<![\w.,/\\])(?<![A-Za-z]-)(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?%)?(?![\w]|\.\d|,\d{3})")
VERSION = re.compile(r"(?<![\w.])v?\d+(?:\.\d+){2,}(?![\w.]\w)")
CODE_NUMBER = re.compile(r"(?<![\w.])(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?(?![\w.])")
KEYWORDS = (r"eqs?\.|equations?|chapters?|sections?|parts?|figures?|figs?\.|tables?|listings?|"
            r"python|versions?|arxiv:?|keras|tensorflow|pytorch|torch|numpy|jieba|mathjax")
AFTER_KEYWORD = re.compile(rf"(?:\b(?:{KEYWORDS})|§)\s*\(?$", re.I)


def _value(token: str) -> tuple[float, bool]:
    pct = token.endswith("%")
    return float(token.rstrip("% ").replace(",", "")), pct


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _matches(token: str, values: set[float]) -> bool:
    v, pct = _value(token)
    candidates = {v, v / 100} if pct else {v}
    return any(_close(c, abs(w)) for c in candidates for w in values)


def post_values(key: str) -> set[float]:
    """Rule 2: the post's numbers for a chapter (``values`` and ``quoted``)."""
    info = json.loads((ROOT / "book" / "post_numbers.json").read_text()).get(key, {})
    return {float(v["value"]) for group in ("values", "quoted") for v in info.get(group, [])
            if isinstance(v.get("value"), (int, float))}


def code_values(text: str) -> set[float]:
    """Rule 3: the numeric literals written in the page's code cells."""
    found = set()
    for cell in code_cells(text):
        for tok in CODE_NUMBER.findall(cell):
            try:
                found.add(float(tok.replace("_", "")))
            except ValueError:
                pass
    return found


def _structural(token: str, before: str) -> bool:
    """Rule 4: small integers, years, and numbers named by the word before them."""
    v, pct = _value(token)
    is_int = re.fullmatch(r"[\d,]+", token) is not None
    if is_int and 0 <= v <= 10:
        return True
    if is_int and "," not in token and 1990 <= v <= 2030:
        return True
    return not pct and AFTER_KEYWORD.search(before) is not None


def offenders(text: str, key: str) -> list[str]:
    """Every number in the prose of page `text` (chapter/page `key`) that no allow-rule admits,
    with 40 characters of context on each side."""
    allowed_values = post_values(key) | code_values(text)
    explicit = ALLOWED.get(key, {})
    body = VERSION.sub(" ", prose(text))
    bad = []
    for m in NUMBER.finditer(body):
        token = m[0]
        if token.rstrip("% ") in explicit or token in explicit:
            continue
        line_start = body[body.rfind("\n", 0, m.start()) + 1:m.start()]
        after = body[m.end():m.end() + 2]
        if not line_start.strip() and re.match(r"\.\s", after) and "," not in token:
            continue                                              # "1. Title" of a numbered list
        if _structural(token, body[max(0, m.start() - 40):m.start()]):
            continue
        if _matches(token, allowed_values):
            continue
        split = re.match(r"/(\d+)\b", body[m.end():m.end() + 4])
        if split and _close(_value(token)[0] + float(split[1]), 100) and \
                (_matches(split[1] + "%", allowed_values) or _matches(token + "%", allowed_values)):
            continue                                              # "80/20" with test_size=0.2 in code
        context = body[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
        bad.append(f"{token!r} in …{context}…")
    return bad


def page_key(path: Path) -> str:
    return path.name[:2] if path.parent.name == "chapters" else path.stem


# ---------------------------------------------------------------------------------------
# the tests over the book


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_run_number_typed_into_prose(path):
    bad = offenders(path.read_text(), page_key(path))
    assert not bad, (f"{path.relative_to(ROOT)}: {len(bad)} number(s) in prose neither glued, nor the post's, "
                     "nor a constant set in a code cell (tests/test_prose_numbers.py lists the rules):\n  "
                     + "\n  ".join(bad))


def test_allow_list_entries_name_their_source():
    for key, entries in ALLOWED.items():
        for number, source in entries.items():
            assert NUMBER.fullmatch(number), f"{key}: {number!r} is not a number as the prose writes it"
            assert len(source.split()) >= 2, f"{key}: {number!r} must say where it comes from"


CONTROL_SOURCES = (sorted(ROOT.glob("chapters/*.md")) + sorted(ROOT.glob("chapters/*.ipynb"))
                   + sorted(ROOT.glob("book/*.md")))


@pytest.mark.parametrize("path", CONTROL_SOURCES, ids=lambda p: p.name)
def test_no_tab_or_carriage_return(path):
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        texts = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in nb["cells"]]
    else:
        texts = [path.read_text()]
    bad = [(f"line {t.count(chr(10), 0, m.start()) + 1}", repr(t[max(0, m.start() - 30):m.end() + 30]))
           for t in texts for m in re.finditer(r"[\t\r]", t)]
    assert not bad, f"{path.name}: tab or carriage return (an eaten escape such as \\t or \\r?): {bad[:5]}"


# ---------------------------------------------------------------------------------------
# the mechanism itself: it can fail, and it spares what it should

PAGE = """\
---
jupytext:
  format_version: 0.13
---
# 09 · A test page

Eq. 12 and chapter 05; Python 3.11; `jieba` 0.42.1; 2017-07-22; see [the post](https://example.org/4493).

```{code-cell} ipython3
EPOCHS = 8
lr = 3e-3
n_train = 20_000
check(acc > 0.85, "the model learns")
train, test = reviews.split(test_size=0.2, seed=0)
```

$$
a = 0.5 \\cdot 137
$$ (eq-137)

:::{admonition} Differences from the original
:class: tip
We train for 8 epochs on 20,000 reviews with a learning rate $3\\times10^{-3}$ and `maxlen=173`.
:::
"""


def test_a_clean_page_passes():
    assert offenders(PAGE, "09") == []


@pytest.mark.parametrize("typed", [
    "The model reaches 0.9312 on the test set.",
    "It makes about 1,865 mistakes.",
    "about a third slower (1.314 times)",
    "accuracy 87.5% after training",
    "The first case scores 137.",
])
def test_a_typed_run_number_is_caught(typed):
    bad = offenders(PAGE + "\n" + typed + "\n", "09")
    assert len(bad) == 1, bad


def test_the_message_gives_context():
    bad = offenders(PAGE + "\nWith dropout the model reaches 0.9312 on the test set, a fine result.\n", "09")
    assert len(bad) == 1 and bad[0].startswith("'0.9312' in …")
    assert "With dropout the model reaches 0.9312 on the test set, a fine result." in bad[0]


@pytest.mark.parametrize("passing", [
    "The model reaches {glue:text}`ch09_acc:.4f` on the test set.",          # glued
    "The model reaches {glue:text}`ch09_acc:.1f`% on the test set.",         # glued, with a unit
    "We train for 8 epochs on 20,000 reviews.",                              # constants set in code
    "As eq. 137 shows, and equation 12 too.",                                # equation numbers
    "The code writes `acc = 0.9312`.",                                       # inline code
    "Its value is $0.9312$ in math.",                                        # inline math
    "{eq}`eq-137` gives it.",                                                # a role
    "<!-- 0.9312 in a comment -->",                                          # an HTML comment
    "In 2017 the post used Keras 2.0.8 and TensorFlow 1.4.",                 # a year, versions
    "CPUs with AVX-512 and licences such as Apache-2.0.",                   # names with a number
    "The data are split 80/20, and the post's 2 classes.",                  # a split, a small integer
    "Read [the 2018 post](https://kexue.fm/archives/5112).",                 # a link target
])
def test_allowed_numbers_pass(passing):
    assert offenders(PAGE + "\n" + passing + "\n", "09") == []


def test_a_post_number_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.post_values", lambda key: {0.993, 0.91} if key == "09" else set())
    assert offenders(PAGE + "\nThe post reports 99.3% and 91% on the test set.\n", "09") == []
    assert offenders(PAGE + "\nThe post reports 99.1% on the test set.\n", "09") != []


def test_a_constant_set_in_a_code_cell_passes_and_only_there():
    assert offenders(PAGE + "\nIt must exceed 0.85.\n", "09") == []
    assert offenders(PAGE.replace("acc > 0.85", "acc > 0.8") + "\nIt must exceed 0.85.\n", "09") != []


def test_prose_keeps_admonition_text_and_drops_its_options():
    text = prose(PAGE)
    assert "Differences from the original" in text and "We train for 8 epochs" in text
    assert ":class:" not in text and "EPOCHS" not in text and "137" not in text and "example.org" not in text
