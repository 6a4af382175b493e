"""The built HTML book: complete, offline-renderable, and every chapter recorded its numbers.

These tests read `_build/html` and the build's notebook cache (each chapter's executed notebook
and the numbers that execution recorded), so they run after the book build (`make test` orders it so).
"""
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# KEXUE_BUILT_HTML: check a book built elsewhere (e.g. without execution, into /tmp)
HTML = Path(os.environ.get("KEXUE_BUILT_HTML", ROOT / "_build" / "html"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO = CONFIG["repository"]["url"]

# metric names each chapter's issue asks for
METRICS = {
    "01": {"acc_ce", "acc_mixed", "acc_center", "compactness_ce", "compactness_center"},
    "02": {"val_acc", "spearman_traj_occlusion", "spearman_traj_ig"},
    "03": {"acc_relu", "acc_swish", "acc_xmin"},
    "04": {"pmi_fit_corr", "svd_fit_corr", "train_seconds"},
    "05": {"f1_crf", "f1_softmax", "illegal_crf", "illegal_softmax"},
    "06": {"acc_pe", "acc_nope", "acc_unscaled", "order_task_acc_pe", "order_task_acc_nope"},
    "07": {"mnist_acc_cnn", "mnist_acc_caps", "acc1_cnn", "acc2_cnn", "acc1_caps", "acc2_caps"},
    "08": {"acc1_kmeans", "acc1_prev", "acc2_kmeans", "acc2_prev"},
}
# off-site links a page may carry: cited sources, and the launch/repository buttons
ALLOWED_LINK_HOSTS = {"kexue.fm", "spaces.ac.cn", "mybinder.org", "colab.research.google.com", "github.com"}


def toc_chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]
    return [f for f in files if f.startswith("chapters/")]


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.loads, self.links = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("src"):
            self.loads.append(a["src"])
        if tag == "link" and a.get("href"):
            self.loads.append(a["href"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])


def _pages():
    pages = sorted(HTML.rglob("*.html"))
    assert pages, "no built HTML: run `make book` first"
    return pages


def test_index_exists():
    assert (HTML / "index.html").is_file()


@pytest.mark.parametrize("chapter", toc_chapters())
def test_chapter_page_built_with_outputs(chapter):
    page = HTML / (chapter + ".html")
    text = page.read_text()
    assert "cell_output" in text, f"{page} has no executed outputs"
    assert "kexue.fm/archives" in text or "spaces.ac.cn/archives" in text
    assert "Differences from the original" in text
    assert re.search(r'<img[^>]+src="[^"]*_images/[^"]+\.(png|svg)"', text), f"{page} has no figure"


def _load_script(name, rel):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cached_results():
    """Each chapter's numbers as its cached execution (the one the book shows) recorded them."""
    ex = _load_script("execute_chapters", "scripts/execute_chapters.py")
    return ex.cached_results(sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md")))


@pytest.mark.parametrize("chapter", toc_chapters())
def test_chapter_recorded_its_metrics(chapter):
    nn = Path(chapter).name[:2]
    metrics = cached_results()[nn]
    assert metrics, f"chapter {nn}'s cached execution recorded no numbers (kexue.record)"
    assert set(metrics) >= METRICS[nn]


def test_nothing_loads_from_off_site():
    bad = []
    for page in _pages():
        refs = _Refs()
        refs.feed(page.read_text())
        bad += [(page.name, u) for u in refs.loads if urlparse(u).scheme in ("http", "https") or u.startswith("//")]
    assert not bad, bad[:10]


def test_off_site_links_are_citations_or_launch_buttons():
    bad = []
    for page in _pages():
        refs = _Refs()
        refs.feed(page.read_text())
        for u in refs.links:
            host = urlparse(u).hostname
            if urlparse(u).scheme in ("http", "https") and host not in ALLOWED_LINK_HOSTS:
                bad.append((page.name, u))
            if host == "github.com" and not u.startswith(REPO):
                bad.append((page.name, u))
    assert not bad, bad[:10]


def test_mathjax_is_served_locally():
    page = HTML / "chapters" / "03-activation-design.html"
    if not page.exists():
        pytest.skip("chapter 03 not in the book")
    text = page.read_text()
    m = re.search(r'<script[^>]+src="([^"]*tex-chtml\.js[^"]*)"', text)
    assert m, "no MathJax script on a page with math"
    local = (page.parent / m.group(1).split("?")[0]).resolve()
    assert local.is_file() and local.is_relative_to(HTML)
    fonts = HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("*.woff")), "MathJax fonts missing"


class _Outputs(HTMLParser):
    """Collects the text inside cell-output blocks, and whether any is a stderr stream."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.skip_at = 0  # depth at which an expected-error traceback began (0: none)
        self.text = []
        self.stderr = False

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if self.depth:
            self.depth += tag == "div"
            self.stderr |= "stderr" in cls
            if tag == "div" and "traceback" in cls and not self.skip_at:
                self.skip_at = self.depth
        elif tag == "div" and "cell_output" in cls:
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth and tag == "div":
            if self.skip_at == self.depth:
                self.skip_at = 0
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and not self.skip_at:
            self.text.append(data)


def test_no_warnings_or_tf_logs_in_pages():
    """No warning, log line or unexpected traceback in any output (expected errors, tagged
    raises-exception, render as traceback blocks and are exempt)."""
    patterns = ["Warning:", "WARNING", "oneDNN", "cuda", "tensorflow/core", "Traceback", "DeprecationWarning",
                "UserWarning"]
    bad = []
    for chapter in toc_chapters():
        out = _Outputs()
        out.feed((HTML / (chapter + ".html")).read_text())
        joined = "".join(out.text)
        assert joined, f"{chapter}: no outputs found"
        assert not out.stderr, f"{chapter}: a stderr stream is rendered in the page"
        bad += [(chapter, p) for p in patterns if p in joined]
    assert not bad, bad


def test_launch_and_download_buttons():
    chapters = toc_chapters()
    if not chapters:
        pytest.skip("no chapters yet")
    text = (HTML / (chapters[0] + ".html")).read_text()
    assert "mybinder.org" in text and "colab.research.google.com" in text
    assert "download" in text.lower()
    assert REPO in text


def test_footer_copyright():
    text = (HTML / "book" / "intro.html").read_text()
    assert "kexue-book authors" in text and "2026" in text


class _Text(HTMLParser):
    """The visible text of a page: everything but <script>, <style> and the head."""

    def __init__(self):
        super().__init__()
        self.skip = 0
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "head")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style", "head") and self.skip > 0

    def handle_data(self, data):
        if not self.skip:
            self.text.append(data)


def _process_words():
    import importlib.util
    spec = importlib.util.spec_from_file_location("reader_text", ROOT / "tests" / "reader_text.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.process_phrases


def test_no_process_words_in_pages():
    """The pages speak to the reader: no word about how the book was made (digests, issues,
    targets, budgets; patterns in `tests/reader_text.py`, narrow enough to spare ordinary ML words)."""
    process_phrases = _process_words()
    bad = []
    for page in _pages():
        if "_static" in page.parts or page.name in ("genindex.html", "search.html"):
            continue
        parser = _Text()
        parser.feed(page.read_text())
        bad += [(str(page.relative_to(HTML)), s) for s in process_phrases("".join(parser.text))]
    assert not bad, bad[:10]


def test_results_page_shows_every_chapters_live_numbers():
    """The generated results page carries, per chapter, the numbers the chapter's cached execution recorded."""
    page = (HTML / "book" / "results.html").read_text()
    live = cached_results()
    labels = json.loads((ROOT / "book" / "metric_labels.json").read_text())
    for chapter in toc_chapters():
        nn = Path(chapter).name[:2]
        assert f"chapters/{Path(chapter).name}.html" in page, f"results page has no link to chapter {nn}"
        for name, value in (live[nn] or {}).items():
            unit = labels[nn].get("units", {}).get(name, "seconds" if name.endswith("seconds") else None)
            shown = {"count": f"{round(value):,}", "seconds": None}.get(unit, f"{value:.4f}")
            if shown is not None:
                assert shown in page, f"results page lacks chapter {nn}'s {name} = {shown}"


def test_results_page_rules():
    """The built results page: no snake_case keys, no absolute paths, counts as integers, ours or a reason
    beside every number of the post (the rules of tests/test_results_page.py, on the page's text)."""
    rules = _load_script("test_results_page_rules", "tests/test_results_page.py")
    html = (HTML / "book" / "results.html").read_text()
    m = re.search(r"<article.*?</article>", html, flags=re.S)         # the page's own text, not the navigation
    html = re.sub(r"<code[^>]*>.*?</code>", "", m.group(0) if m else html, flags=re.S)   # commands and file names
    parser = _Text()
    parser.feed(html)
    text = "".join(parser.text)
    rules.check_page_rules(re.sub(r"[ \t]*\n[ \t]*", "\n", text))
    assert "(3 seeds)" in text


def _launch_links(chapter: str, host: str) -> list[str]:
    refs = _Refs()
    refs.feed((HTML / (chapter + ".html")).read_text())
    return [u for u in refs.links if urlparse(u).hostname == host]


@pytest.mark.parametrize("chapter", toc_chapters())
def test_colab_and_binder_links_open_a_committed_notebook(chapter):
    """Colab parses what it opens as JSON: the link must name the .ipynb twin, which must be
    in the repository at that path (the theme switches to it only when it exists)."""
    branch = CONFIG["repository"].get("branch", "main")
    (colab,) = _launch_links(chapter, "colab.research.google.com")
    prefix = "https://colab.research.google.com/github/" + REPO.split("github.com/")[1] + f"/blob/{branch}/"
    assert colab.startswith(prefix), colab
    path = colab[len(prefix):]
    assert path == chapter + ".ipynb", colab
    (binder,) = _launch_links(chapter, "mybinder.org")
    assert urlparse(binder).query.endswith("/" + path), binder
    assert (ROOT / path).is_file(), f"{path} is not in the repository"
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", path], cwd=ROOT, capture_output=True)
    assert tracked.returncode == 0, f"{path} exists but is not committed"


def _search_index() -> dict:
    text = (HTML / "searchindex.js").read_text()
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def _pages_with(index: dict, term: str) -> set[str]:
    hits = set()
    for table in ("terms", "titleterms"):
        found = index[table].get(term, [])
        hits |= {index["docnames"][i] for i in ([found] if isinstance(found, int) else found)}
    return hits


def test_search_finds_english_and_chinese_words():
    """html_search_language zh: jieba segments the Chinese text, English words are stemmed."""
    index = _search_index()
    assert "chapters/05-crf" in _pages_with(index, "segment"), "English: 'segmentation' (stem 'segment')"
    # the post's title 果壳中的条件随机场: only a segmenting indexer makes 条件 a term of its own
    assert "chapters/05-crf" in _pages_with(index, "条件"), "Chinese: 条件 (from 条件随机场)"
