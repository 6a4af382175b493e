"""The built API reference: every topic page documents its modules, links its chapter, and every
code listing in a chapter links to the object it shows.

Reads `_build/html` (after the book build, as `make test` orders it).
"""
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("KEXUE_BUILT_HTML", ROOT / "_build" / "html"))
TOPICS = {"losses": "01", "saliency": "02", "activations": "03", "pmi": "04", "crf": "05",
          "attention": "06", "capsule": "07", "kmeans": "08"}

pytestmark = pytest.mark.skipif(not (HTML / "book" / "api").is_dir(), reason="build the book first (make book)")


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_topic_page_documents_its_modules_and_links_its_chapter(topic):
    page = (HTML / "book" / "api" / f"{topic}.html").read_text()
    assert re.search(rf'href="[^"]*chapters/{TOPICS[topic]}-[^"]*\.html', page), f"{topic}: no link to its chapter"
    for module in ("numpy_ref", "torch"):
        assert f'id="kexue.{topic}.{module}.' in page or f'id="module-kexue.{topic}.{module}"' in page, \
            f"{topic}: kexue.{topic}.{module} is not documented"


def test_every_chapter_listing_links_into_the_api_reference():
    """Each code-block caption made by scripts/api_links.py is a resolved link to book/api/..#kexue.<object>."""
    missing = []
    n = 0
    for page in sorted((HTML / "chapters").glob("*.html")):
        html = page.read_text()
        for caption in re.findall(r'<div class="code-block-caption">(.*?)</div>', html, re.S):
            n += 1
            link = re.search(r'<a class="reference internal" href="([^"]*book/api/[^"#]+\.html#kexue\.[^"]+)"', caption)
            if not link:
                missing.append(f"{page.name}: {re.sub('<[^>]+>', '', caption).strip()[:80]}")
                continue
            target = (page.parent / link.group(1).split("#")[0]).resolve()
            anchor = link.group(1).split("#")[1]
            if not target.is_file() or f'id="{anchor}"' not in target.read_text():
                missing.append(f"{page.name}: {anchor} not found in {target.name}")
    assert n > 20, f"only {n} captioned listings found"
    assert not missing, "\n".join(missing)
