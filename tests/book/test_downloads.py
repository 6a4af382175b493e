"""The downloads of the built book: each chapter page links its clean notebook and its script,
the theme's ".ipynb" menu entry gives the same clean notebook, and "Running the book" links a zip
of all eight. Every downloaded file is compared byte for byte with the committed one."""
import os
import re
import zipfile
from pathlib import Path
from urllib.parse import unquote, urljoin

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("KEXUE_BUILT_HTML", ROOT / "_build" / "html"))
CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]-*.md"))

pytestmark = pytest.mark.skipif(not (HTML / "index.html").is_file(), reason="build the book first (make book)")


def hrefs(page: Path) -> list[str]:
    return re.findall(r'href="([^"#]+)"', page.read_text(encoding="utf-8"))


def resolve(page: Path, href: str) -> Path:
    """The file a relative link of ``page`` points to in the built book."""
    return Path(unquote(urljoin(page.resolve().as_uri(), href)).removeprefix("file://"))


def test_eight_chapters_found():
    assert len(CHAPTERS) == 8


@pytest.mark.parametrize("stem", CHAPTERS)
@pytest.mark.parametrize("suffix", [".ipynb", ".py"])
def test_chapter_page_links_its_download(stem, suffix):
    page = HTML / "chapters" / f"{stem}.html"
    links = [h for h in hrefs(page) if "_downloads/" in h and h.endswith(stem + suffix)]
    assert links, f"{page.name}: no download link to {stem}{suffix}"
    for href in links:
        got = resolve(page, href)
        assert got.is_file(), f"{page.name}: {href} does not resolve"
        assert got.read_bytes() == (ROOT / "chapters" / f"{stem}{suffix}").read_bytes(), \
            f"{page.name}: the downloaded {stem}{suffix} differs from chapters/{stem}{suffix}"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_theme_download_menu_gives_the_clean_notebook(stem):
    page = HTML / "chapters" / f"{stem}.html"
    links = [h for h in hrefs(page) if h.endswith(f"_sources/chapters/{stem}.ipynb")]
    assert links, f"{page.name}: the download menu has no .ipynb entry"
    got = resolve(page, links[0]).read_bytes()
    assert got == (ROOT / "chapters" / f"{stem}.ipynb").read_bytes(), \
        f"{page.name}: the menu's notebook is not the committed clean one (outputs or MyST-NB's rendering)"
    assert b'"outputs": []' in got and b'"execution_count": null' in got


def test_running_page_links_the_zip_of_all_notebooks():
    page = HTML / "book" / "running.html"
    links = [h for h in hrefs(page) if h.endswith("kexue-book-notebooks.zip")]
    assert links, "running.html: no link to kexue-book-notebooks.zip"
    with zipfile.ZipFile(resolve(page, links[0])) as z:
        names = sorted(z.namelist())
        assert names == [f"kexue-book-notebooks/{s}.ipynb" for s in CHAPTERS]
        for name in names:
            committed = (ROOT / "chapters" / Path(name).name).read_bytes()
            assert z.read(name) == committed, f"{name} in the zip differs from the committed notebook"
