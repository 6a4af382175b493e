""""Running the book" as built: the memory bound its prose states for every path holds for each
column of the table it shows (this build's column included, which no recorded file holds)."""
import html
import importlib.util
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("run_paths", ROOT / "scripts" / "pages" / "run_paths.py")
RP = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(RP)
HTML = Path(os.environ.get("KEXUE_BUILT_HTML", ROOT / "_build" / "html"))
PAGE = HTML / "book" / "running.html"

pytestmark = pytest.mark.skipif(not PAGE.is_file(), reason="build the book first (make book)")


def page_text() -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", PAGE.read_text(encoding="utf-8")))
    return " ".join(text.replace("\u00a0", " ").split())


def highest_peaks_gb() -> list[float]:
    """The "highest peak" row of the run-paths table: one value per column."""
    row = re.search(r"<tr[^>]*>\s*<td><p>highest peak</p></td>(.*?)</tr>",
                    PAGE.read_text(encoding="utf-8"), flags=re.S)
    assert row, "the run-paths table has no 'highest peak' row"
    cells = re.findall(r"<td><p>([^<]*)</p></td>", row.group(1))
    return [float(c.replace("\u00a0", " ").removesuffix(" GB")) for c in cells]


def test_every_column_is_within_the_bound_the_page_states():
    m = re.search(RP.ANY_PATH_CLAIM, page_text())
    assert m, "the page no longer states a bound for every path"
    peaks = highest_peaks_gb()
    assert len(peaks) >= 4, f"expected this build, two Colab profiles and Binder: {peaks}"
    assert all(0 < p <= float(m.group(1)) for p in peaks), (peaks, m.group(0))


def test_binder_bound_on_the_page_is_within_mybinders_limit():
    m = re.search(RP.BINDER_CLAIM, page_text())
    assert m and float(m.group(1)) <= 2, "the page must keep Binder's chapters below its 2 GB"
