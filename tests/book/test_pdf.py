"""The PDF of the whole book (`make pdf`, scripts/build-pdf.sh), checked against the built HTML.

It reads `_build/latex/kexue-book.pdf`, its LaTeX log and `_build/html`, so it runs after
`scripts/build-pdf.sh` (`make test` builds the PDF before the built-book checks when XeLaTeX is
installed). Without XeLaTeX and without a PDF the module is skipped; with XeLaTeX installed a
missing PDF fails. The text of the PDF comes from `pdftotext`, its fonts from `pdffonts`
(poppler-utils, installed with TeX Live by scripts/install-tex.sh).
"""
import re
import shutil
import subprocess
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LATEX = ROOT / "_build" / "latex"
PDF = LATEX / "kexue-book.pdf"
LOG = LATEX / "kexue-book.log"
HTML = ROOT / "_build" / "html"
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))

# Pages of the whole book (chapters, "About the book", API reference): 340 when measured, in A4
# at 10 pt; the range allows the text to grow or shrink by a quarter.
PAGES = (255, 425)

if not PDF.is_file() and shutil.which("xelatex") is None:
    pytest.skip("PDF checks skipped: no _build/latex/kexue-book.pdf and no XeLaTeX (scripts/install-tex.sh, then make pdf)",
                allow_module_level=True)


@pytest.fixture(autouse=True)
def _pdf_built():
    assert PDF.is_file(), f"XeLaTeX is installed but {PDF} is missing: run `make pdf` (scripts/build-pdf.sh)"


def _run(*cmd) -> str:
    if shutil.which(cmd[0]) is None:
        pytest.fail(f"{cmd[0]} not found: install poppler-utils (scripts/install-tex.sh)")
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@lru_cache(maxsize=None)
def pdf_text() -> str:
    return _run("pdftotext", "-enc", "UTF-8", str(PDF), "-")


def compact(text: str) -> str:
    """Text without whitespace and without the marks LaTeX sets where it wraps a code line,
    so a phrase is found whatever the line breaks."""
    return re.sub(r"[\s\u21aa\u21a9]+", "", text)


@lru_cache(maxsize=None)
def pdf_compact() -> str:
    return compact(pdf_text())


def _html(name: str) -> str:
    page = HTML / name
    if not page.is_file():
        pytest.skip(f"no built HTML page {page}: run `make book` first")
    return page.read_text(encoding="utf-8")


class _Table(HTMLParser):
    """Rows of the HTML tables of a page, each cell's text, and the glued values (pasted-text)."""

    def __init__(self):
        super().__init__()
        self.rows, self.pasted = [], []
        self._cell = self._pasted = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "span" and "pasted-text" in (dict(attrs).get("class") or "").split():
            self._pasted = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "span" and self._pasted is not None:
            self.pasted.append("".join(self._pasted).strip())
            self._pasted = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._pasted is not None:
            self._pasted.append(data)


def _parse(html: str) -> _Table:
    p = _Table()
    p.feed(html)
    return p


def test_page_count():
    out = _run("pdfinfo", str(PDF))
    pages = int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    assert PAGES[0] <= pages <= PAGES[1], f"{pages} pages, expected {PAGES[0]}–{PAGES[1]}"


def test_log_has_no_missing_glyphs_or_font_substitutions():
    assert LOG.is_file(), f"no LaTeX log {LOG}"
    log = LOG.read_text(encoding="utf-8", errors="replace")
    bad = [line for line in log.splitlines()
           if "Missing character" in line
           or re.search(r"Font shape `[^']*' undefined", line)
           or re.search(r"using `[^']*' instead", line)]
    assert not bad, "LaTeX log reports missing glyphs or substituted fonts:\n" + "\n".join(bad[:20])


def test_nothing_runs_into_the_margin():
    """Wide tables, long code lines and formulas fit the text width: LaTeX reports every line that
    sticks out ("Overfull \\hbox (Xpt too wide)"); none may stick out by more than 30 pt (about
    1 cm, well inside the page's margin)."""
    log = LOG.read_text(encoding="utf-8", errors="replace")
    over = [(float(m.group(1)), m.group(0)) for m in
            re.finditer(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)[^\n]*", log)]
    wide = sorted((o for o in over if o[0] > 30), reverse=True)
    assert not wide, "lines running into the margin:\n" + "\n".join(text for _, text in wide[:10])


def test_every_font_embedded_and_a_cjk_one_among_them():
    rows = []
    for line in _run("pdffonts", str(PDF)).splitlines()[2:]:
        m = re.match(r"(\S+)\s.*\s(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", line)
        assert m, f"unexpected pdffonts line: {line!r}"
        rows.append((m.group(1), m.group(2)))
    not_embedded = [name for name, emb in rows if emb != "yes"]
    assert not not_embedded, f"fonts not embedded: {not_embedded}"
    assert any(re.search(r"Noto(Serif|Sans|SansMono)CJK", name) for name, _ in rows), \
        f"no Noto CJK font in the PDF: {[name for name, _ in rows]}"


def test_no_output_prints_as_an_object_placeholder():
    """An output with only HTML to show prints in LaTeX as its repr (``<IPython.core.display.HTML
    object>``): every rich output needs a text form the PDF can print."""
    found = re.findall(r"<[\w.]+ object(?: at 0x[0-9a-f]+)?>", pdf_text())
    assert not found, f"outputs printed as object placeholders in the PDF: {found[:5]}"


def test_chapter_02_coloured_sentences_print_as_words_with_scores():
    """Chapter 02's coloured sentences (HTML spans in the page) print as words with their scores."""
    assert re.search(r"1\.\s*post:", pdf_text()), "chapter 02's first scored sentence is not in the PDF"


def test_chinese_table_of_chapter_02_matches_the_html():
    """The results table of chapter 02: each row that names a Chinese word, with the numbers this
    build measured for it, reads the same in the PDF (its physical layout: one table row, one
    line) as on the HTML page."""
    rows = [r for r in _parse(_html("chapters/02-rnn-saliency.html")).rows
            if r and re.search(r"[\u4e00-\u9fff]", r[0])]
    assert len(rows) >= 2, f"expected rows naming Chinese words in chapter 02's table, got {rows}"
    lines = [compact(line) for line in _run("pdftotext", "-layout", "-enc", "UTF-8", str(PDF), "-").splitlines()]
    for row in rows:
        label = compact(row[0])
        found = [i for i, line in enumerate(lines) if line.startswith(label)]
        assert found, f"row {row[0]!r} of chapter 02's table is not in the PDF"
        numbers = [n for cell in row[1:] for n in re.findall(r"[-−]?\d+(?:[.,]\d+)*", cell)]
        assert numbers, f"no number in row {row}"
        # the row as printed: its line and the next (a cell may wrap)
        assert any(all(n in "".join(lines[i:i + 2])[len(label):] for n in numbers) for i in found), \
            f"row {row} of chapter 02's table reads otherwise in the PDF: {[lines[i] for i in found]}"


@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_glued_numbers_in_the_pdf(chapter):
    """Every number a chapter glues into its text (as the HTML page shows it) is in the PDF."""
    pasted = _parse(_html(f"chapters/{chapter}.html")).pasted
    if not pasted:
        pytest.skip(f"{chapter} glues no value into its text")
    text = pdf_compact()
    missing = sorted({v for v in pasted if compact(v) not in text})
    assert not missing, f"glued values of {chapter} missing from the PDF: {missing}"


def _cells(md: str):
    """(tags, source) of every code cell of a MyST chapter."""
    for m in re.finditer(r"^```\{code-cell\}[^\n]*\n(.*?)^```", md, re.S | re.M):
        body = m.group(1)
        tags = re.search(r"^:tags:\s*\[(.*?)\]", body, re.M)
        source = re.sub(r"^:[a-z-]+:.*\n", "", body, flags=re.M)
        yield ({t.strip() for t in tags.group(1).split(",")} if tags else set()), source


def _lines(source: str) -> set[str]:
    return {compact(line) for line in source.splitlines() if len(compact(line)) >= 30}


def test_hidden_cells_stay_hidden_and_shown_code_is_there():
    text = pdf_compact()
    hidden, shown = set(), set()
    for path in CHAPTERS:
        for tags, source in _cells(path.read_text(encoding="utf-8")):
            (hidden if tags & {"remove-cell", "remove-input"} else shown).update(_lines(source))
    hidden -= shown
    assert hidden and shown
    leaked = sorted(line for line in hidden if line in text)
    assert not leaked, f"lines of hidden cells printed in the PDF: {leaked[:5]}"
    found = sum(line in text for line in shown)
    assert found >= 0.9 * len(shown), f"only {found} of {len(shown)} lines of the shown code cells are in the PDF"


def test_tab_sets_print_every_tab_with_its_label():
    """A tab set (numpy | PyTorch | Keras) prints all its tabs one after another, each under
    its label: the label lies between the previous tab's listing and this tab's listing."""
    text = pdf_compact()
    sets = 0
    for path in CHAPTERS:
        md = path.read_text(encoding="utf-8")
        for block in re.findall(r"^::::\{tab-set\}\n(.*?)^::::\s*$", md, re.S | re.M):
            tabs = re.findall(r"^:::\{tab-item\} (.+?)\n(.*?)^:::\s*$", block, re.S | re.M)
            assert len(tabs) >= 2, f"{path.name}: a tab set without tabs"
            sets += 1
            pos = 0
            for label, body in tabs:
                cap = re.search(r":caption: \{py:obj\}`([^`]+)`", body)
                assert cap, f"{path.name}: tab {label!r} has no listing caption"
                at = text.find(compact(cap.group(1)), pos)
                assert at >= 0, f"{path.name}: the {label} listing ({cap.group(1)}) is not in the PDF after the previous tab"
                assert compact(label) in text[pos:at], f"{path.name}: no label {label!r} before its listing {cap.group(1)}"
                pos = at + len(compact(cap.group(1)))
    assert sets, "no tab set found in the chapters"


def test_html_pages_link_the_pdf():
    """The landing page and "Running the book" link the PDF, and the link resolves in the HTML
    build to this PDF."""
    for page, href in (("book/intro.html", "kexue-book.pdf"), ("book/running.html", "kexue-book.pdf")):
        html = _html(page)
        links = re.findall(r'href="([^"#]*kexue-book\.pdf)"', html)
        assert links, f"{page} does not link the PDF"
        for link in links:
            target = ((HTML / page).parent / link).resolve()
            assert target == (HTML / href).resolve(), f"{page}: {link} points to {target}"
    copy = HTML / "kexue-book.pdf"
    assert copy.is_file(), f"{copy} missing: scripts/build-pdf.sh copies the PDF there"
    assert copy.read_bytes() == PDF.read_bytes(), f"{copy} is not the PDF of this build"
