"""The results-page generator (`scripts/pages/results.py`) on small fake result files."""
import importlib.util
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("results_page", ROOT / "scripts" / "pages" / "results.py")
results_page = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results_page)

POST = {
    "07": {"post": "https://example.org/7", "note": "fake note", "values": [
        {"what": "acc1, capsule", "metric": "acc1_caps", "value": 0.9, "relation": ">", "text": "over 90%", "where": "here"},
        {"what": "something else", "metric": None, "value": 0.5, "relation": "=", "text": "50%", "where": "there"},
    ]},
}


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture
def book(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "07-capsule.md").write_text("---\n---\n# 07 · Capsules\n\ntext\n")
    _write(tmp_path / "book" / "post_numbers.json", POST)
    return tmp_path


def test_seed_files_grouped_into_mean_and_sd(book):
    accs = [0.61, 0.72, 0.66]
    for seed, acc in enumerate(accs):
        _write(book / "experiments" / "results" / f"07-full-post-seed{seed}.json",
               {"command": f"run --seed {seed}", "config": {"seed": seed}, "metrics": {"acc1_caps": acc, "mnist_acc_caps": 0.99}})
    page = results_page.render(book)
    expected = f"{statistics.mean(accs):.4f} ± {statistics.stdev(accs):.4f} (3 seeds)"
    row = next(line for line in page.splitlines() if line.startswith("| acc1_caps"))
    assert row == f"| acc1_caps | {expected} | over 90% |"
    assert "seeds 0, 1, 2" in page
    for seed in range(3):
        assert f"`experiments/results/07-full-post-seed{seed}.json`" in page
    # a grouped file is not also listed as a single run
    assert "Recorded run `experiments/results/07-full-post-seed0.json`" not in page


def test_two_routings_make_two_groups(book):
    for routing, acc in (("post", 0.6), ("kmeans", 0.9)):
        for seed in range(2):
            _write(book / "experiments" / "results" / f"07-full-{routing}-seed{seed}.json",
                   {"metrics": {"acc1_caps": acc + 0.01 * seed}})
    page = results_page.render(book)
    assert "routing `kmeans`" in page and "routing `post`" in page
    assert f"{statistics.mean([0.9, 0.91]):.4f} ± {statistics.stdev([0.9, 0.91]):.4f} (2 seeds)" in page


def test_live_numbers_beside_the_posts(book):
    _write(book / "_build" / "results" / "07.json", {"chapter": "07", "metrics": {"acc1_caps": 0.123456, "acc2_caps": 0.5}})
    page = results_page.render(book)
    assert "| `acc1_caps` | 0.1235 | over 90% (acc1, capsule) |" in page
    assert "| `acc2_caps` | 0.5000 | — |" in page
    # the post's number without a metric of ours is listed with where it is stated
    assert "| something else | 50% | there |" in page
    assert "fake note" in page


def test_unexecuted_chapter_says_so(book):
    page = results_page.render(book)
    assert "has not been executed" in page
    assert "| acc1, capsule | over 90% | here |" in page


def test_recorded_file_labelled_with_its_configuration(book):
    _write(book / "experiments" / "results" / "07-full.json",
           {"command": "python experiments/x.py --epochs 3", "config": {"epochs": 3, "out": "/tmp/a"},
            "metrics": {"acc1_caps": 0.25}})
    page = results_page.render(book)
    assert "Recorded run `experiments/results/07-full.json`: `python experiments/x.py --epochs 3`; epochs=3" in page
    assert "out=/tmp/a" not in page
    assert "| acc1_caps | 0.2500 | over 90% |" in page


def test_runs_with_seeds_per_configuration(book):
    runs = [{"config": "pe", "seed": s, "val_acc": [0.5, 0.6 + 0.01 * s, 0.55]} for s in range(3)]
    _write(book / "experiments" / "results" / "07-full-x.json", {"settings": {"maxlen": 80}, "runs": runs})
    page = results_page.render(book)
    best = [0.6, 0.61, 0.62]
    assert f"| pe: best validation accuracy over the epochs | {statistics.mean(best):.4f} ± {statistics.stdev(best):.4f} (3 seeds) |" in page
    assert "| pe: validation accuracy after the last epoch | 0.5500 ± 0.0000 (3 seeds) |" in page


def test_command_line_writes_into_the_given_folder(tmp_path):
    out = tmp_path / "gen"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "pages" / "results.py"), str(out)], check=True)
    text = (out / "results.md").read_text()
    assert text.count("## {doc}") == len(list((ROOT / "chapters").glob("[0-9][0-9]-*.md")))


def test_command_line_needs_the_folder():
    with pytest.raises(SystemExit, match="usage"):
        results_page.main(["results.py"])


def test_post_numbers_name_real_metrics():
    """Every metric the post-numbers file names is one its chapter records."""
    post = json.loads((ROOT / "book" / "post_numbers.json").read_text())
    for nn, info in post.items():
        if not nn[:2].isdigit():
            continue
        chapter = next((ROOT / "chapters").glob(f"{nn}-*.md")).read_text()
        record = chapter[chapter.rindex("kexue.record("):]
        for v in info["values"]:
            assert set(v) >= {"what", "metric", "value", "relation", "text", "where"}, v
            assert v["relation"] in ("=", "≈", ">", "≥"), v
            if v["metric"]:
                assert re.search(rf"\b{v['metric']}\s*=", record), f"chapter {nn} records no metric {v['metric']}"


def test_a_variant_is_grouped_apart_from_the_recipe(book):
    for seed, acc in ((1, 0.6), (2, 0.8)):
        _write(book / "experiments" / "results" / f"07-full-post-seed{seed}.json", {"metrics": {"acc1_caps": acc}})
    _write(book / "experiments" / "results" / "07-full-post-lrdecay-seed0.json", {"metrics": {"acc1_caps": 0.1}})
    page = results_page.render(book)
    assert f"| acc1_caps | {statistics.mean([0.6, 0.8]):.4f} ± {statistics.stdev([0.6, 0.8]):.4f} (2 seeds) | over 90% |" in page
    assert "Recorded run, routing `post`, variant `lrdecay`, seed 0 (`experiments/results/07-full-post-lrdecay-seed0.json`)" in page
    assert "| acc1_caps | 0.1000 | over 90% |" in page


def test_a_misnamed_recorded_file_fails_the_page(book):
    _write(book / "experiments" / "results" / "07-Full_run.json", {"metrics": {"acc1_caps": 0.5}})
    with pytest.raises(ValueError, match="'07-Full_run.json' is not a recorded-run file name"):
        results_page.render(book)
