"""The results-page generator (`scripts/pages/results.py`): on small fake books, and on this
book's own recorded runs and labels (without a book build)."""
import importlib.util
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name, rel):
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


results_page = _load("results_page", "scripts/pages/results.py")
execute_chapters = _load("execute_chapters", "scripts/execute_chapters.py")

POST = {
    "07": {"post": "https://example.org/7", "note": "fake note", "values": [
        {"what": "acc1, capsule", "metric": "acc1_caps", "value": 0.9, "relation": ">", "text": "over 90%", "where": "here"},
        {"what": "something else", "metric": None, "value": 0.5, "relation": "=", "text": "50%", "where": "there"},
    ]},
}
LABELS = {
    "07": {"labels": {"acc1_caps": "two-digit acc1, capsule", "mnist_acc_caps": "MNIST accuracy, capsule",
                      "illegal": "illegal transitions", "train_seconds": "training time", "mnist_acc": "MNIST accuracy",
                      "acc1": "acc1", "acc2": "acc2"},
           "units": {"illegal": "count", "train_seconds": "seconds"},
           "full": {"acc1_caps": "07-full-post-seed*.json#acc1_caps"},
           "post": {"something else": {"not_rerun": "the fake chapter has no such model"}},
           "variants": {"lrdecay": "variant: decaying learning rate"}},
    "routing_names": {"post": "routing of the post", "kmeans": "k-means routing"},
}


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture
def book(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "07-capsule.md").write_text("---\n---\n# 07 · Capsules\n\ntext\n")
    _write(tmp_path / "book" / "post_numbers.json", POST)
    _write(tmp_path / "book" / "metric_labels.json", LABELS)
    return tmp_path


def _row(page, first):
    return next(line for line in page.splitlines() if line.startswith(f"| {first} |"))


def test_seed_files_give_the_full_scale_mean_and_a_verdict(book):
    accs = [0.61, 0.95, 0.66]
    for seed, acc in enumerate(accs):
        _write(book / "experiments" / "results" / f"07-full-post-seed{seed}.json",
               {"command": f"python x.py --seed {seed} --out /abs/dir/07-full-post-seed{seed}.json",
                "date": "2026-12-02T00:00:00Z", "config": {"seed": seed}, "metrics": {"acc1_caps": acc}})
    page = results_page.render(book, live={"07": {"acc1_caps": 0.5}})
    mean, sd = statistics.mean(accs), statistics.stdev(accs)
    assert _row(page, "acc1, capsule") == (f"| acc1, capsule | over 90% | 0.5000 | {mean:.4f} ± {sd:.4f} (3 seeds) "
                                          f"| partly ({mean - 0.9:+.4f}, full scale) |")
    # the post's number the book does not re-run: the reason instead of ours
    assert _row(page, "something else") == "| something else | 50% | not re-run: the fake chapter has no such model | — | — |"
    # the seeds' files and their command as a reader runs it, seed 0 in its group
    assert ("`07-full-post-seed0.json`, `07-full-post-seed1.json`, `07-full-post-seed2.json`: "
            "`python x.py --seed S --out experiments/results/07-full-post-seed<S>.json` (S = 0, 1, 2)") in page
    assert "/abs/dir" not in page


def test_live_numbers_without_a_post_number_have_their_label_and_unit(book):
    page = results_page.render(book, live={"07": {"acc1_caps": 0.95, "illegal": 5142.0, "train_seconds": 754.2}})
    assert _row(page, "illegal transitions") == "| illegal transitions | — | 5,142 | — | — |"
    assert _row(page, "training time") == "| training time | — | 12 min 34 s | — | — |"
    assert _row(page, "acc1, capsule").endswith("| yes (+0.0500, this build) |")


def test_unexecuted_chapter_says_so(book):
    page = results_page.render(book, live={"07": None})
    assert "has not been executed in this build" in page
    assert _row(page, "acc1, capsule").startswith("| acc1, capsule | over 90% | not re-run: the chapter was not executed")


def test_a_variant_goes_below_labelled_and_apart_from_the_recipe(book):
    for seed, acc in ((1, 0.6), (2, 0.8)):
        _write(book / "experiments" / "results" / f"07-full-post-seed{seed}.json", {"metrics": {"acc1_caps": acc}})
    _write(book / "experiments" / "results" / "07-full-post-lrdecay-seed0.json", {"metrics": {"acc1_caps": 0.1}})
    page = results_page.render(book, live={"07": None})
    assert f"{statistics.mean([0.6, 0.8]):.4f} ± {statistics.stdev([0.6, 0.8]):.4f} (2 seeds)" in _row(page, "acc1, capsule")
    head, below = page.split("Other recorded runs")
    assert "lrdecay" not in head
    assert "*routing of the post; variant: decaying learning rate*: `07-full-post-lrdecay-seed0.json`" in below
    assert "| two-digit acc1, capsule | 0.1000 |" in below


def test_a_misnamed_recorded_file_fails_the_page(book):
    _write(book / "experiments" / "results" / "07-Full_run.json", {"metrics": {"acc1_caps": 0.5}})
    with pytest.raises(ValueError, match="'07-Full_run.json' is not a recorded-run file name"):
        results_page.render(book, live={})


def test_a_metric_without_a_label_fails_the_page(book):
    with pytest.raises(KeyError, match="no label for 'acc_new'"):
        results_page.render(book, live={"07": {"acc_new": 0.5}})


@pytest.mark.parametrize("rel,ours,word", [
    (">", [0.95, 0.97], "yes"), (">", [0.85, 0.95], "partly"), (">", [0.8, 0.85], "no"), (">", [0.9], "no"),
    ("≥", [0.9], "yes"), ("≈", [0.89], "yes"), ("≈", [0.86], "partly"), ("≈", [0.8, 0.89, 0.7], "partly"),
    ("≈", [0.8], "no"),
])
def test_verdict(rel, ours, word):
    got = results_page.verdict({"value": 0.9, "relation": rel}, ours, "full scale")
    assert got == f"{word} ({statistics.mean(ours) - 0.9:+.4f}, full scale)"


def test_reader_command_strips_absolute_folders():
    cmd = "python e.py --out /work/runs/07-full-post-seed2.json && python e.py --out /tmp/runs/07-cnn.json"
    assert results_page.reader_command(cmd) == ("python e.py --out experiments/results/07-full-post-seed2.json && "
                                                "python e.py --out experiments/results/07-cnn.json")
    assert results_page.reader_command("python e.py --out 06-full.json") == "python e.py --out 06-full.json"


def test_formats():
    assert results_page.fmt(0.0, "count") == "0" and results_page.fmt(1865.0, "count") == "1,865"
    assert results_page.fmt_time(7.04) == "7.0 s" and results_page.fmt_time(3725) == "1 h 2 min"
    assert results_page.fmt(0.123456) == "0.1235"


# ----------------------------------------------------------------------------- live numbers keyed to the execution
def _cache_chapter(root, chapter_md, recorded):
    """Store `chapter_md` in the book's notebook cache as an execution that recorded `recorded`,
    as the build pass of scripts/execute_chapters.py does (without executing it)."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(root / "_build" / ".jupyter_cache"))
    nb = execute_chapters.read_notebook(chapter_md)
    cache.cache_notebook_bundle(CacheBundleIn(nb, str(chapter_md), data={"execution_seconds": 1.0, "recorded": recorded}),
                                check_validity=False, overwrite=True)


def _generate(root, out):
    """The generator, run as scripts/build-book.sh runs it."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "pages" / "results.py"), str(out), "--root", str(root)],
                          check=True, capture_output=True, text=True)
    return (out / "results.md").read_text(), done.stderr


@pytest.fixture
def cached_book(tmp_path):
    (tmp_path / "chapters").mkdir()
    md = tmp_path / "chapters" / "03-act.md"
    md.write_text("---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n  name: python3\n"
                  "  display_name: Python 3\n---\n# 03 · Activations\n\n```{code-cell} ipython3\nx = 1\n```\n")
    _write(tmp_path / "book" / "post_numbers.json", {})
    _write(tmp_path / "book" / "metric_labels.json",
           {"03": {"labels": {"acc_relu": "test accuracy, ReLU"}}, "routing_names": {}})
    _cache_chapter(tmp_path, md, {"acc_relu": 0.9194})
    return tmp_path


def test_a_stray_record_call_leaves_the_page_unchanged(cached_book, tmp_path_factory):
    from kexue.results import record

    before, _ = _generate(cached_book, tmp_path_factory.mktemp("gen1"))
    assert "| test accuracy, ReLU | — | 0.9194 | — | — |" in before
    record("03", root=cached_book, x=1.0)        # e.g. a reader trying the API from the project root
    after, stderr = _generate(cached_book, tmp_path_factory.mktemp("gen2"))
    assert after == before
    assert "ignoring _build/results/03.json: it does not match chapter 03's cached execution" in stderr
    # the build pass restores the file from the cached execution, saying so
    paths = sorted((cached_book / "chapters").glob("*.md"))
    assert execute_chapters.restore_results(paths, cached_book / "_build" / ".jupyter_cache",
                                            cached_book / "_build" / "results") == ["03"]
    assert json.loads((cached_book / "_build" / "results" / "03.json").read_text())["metrics"] == {"acc_relu": 0.9194}


def test_an_edited_chapter_has_no_live_numbers_until_executed(cached_book, tmp_path_factory):
    md = cached_book / "chapters" / "03-act.md"
    md.write_text(md.read_text().replace("x = 1", "x = 2"))
    page, _ = _generate(cached_book, tmp_path_factory.mktemp("gen"))
    assert "has not been executed in this build" in page and "0.9194" not in page


# ----------------------------------------------------------------------------- this book's page
def _recorded_keys(nn):
    text = next((ROOT / "chapters").glob(f"{nn}-*.md")).read_text()
    call = text[text.rindex(f'kexue.record("{nn}"'):]
    call = call[:call.index("\n```")]
    return re.findall(r"(\w+)\s*=(?!=)", call.split(",", 1)[1])


CHAPTERS = sorted(p.name[:2] for p in (ROOT / "chapters").glob("[0-9][0-9]-*.md"))


def _fake_live():
    """Every metric each chapter records, with made-up values (integers where the label file says count)."""
    labels = json.loads((ROOT / "book" / "metric_labels.json").read_text())
    return {nn: {k: 3.0 if labels[nn].get("units", {}).get(k) == "count" else 0.625 for k in _recorded_keys(nn)}
            for nn in CHAPTERS}


@pytest.fixture(scope="module")
def page():
    return results_page.render(ROOT, live=_fake_live())


@pytest.mark.parametrize("nn", CHAPTERS)
def test_every_recorded_metric_has_a_label(nn):
    labels = json.loads((ROOT / "book" / "metric_labels.json").read_text())
    missing = [k for k in _recorded_keys(nn) if k not in labels.get(nn, {}).get("labels", {})]
    assert not missing, f"book/metric_labels.json lacks labels for chapter {nn}'s {missing}"


def check_page_rules(text: str):
    """The rules of the results page, on its Markdown or its HTML's text."""
    prose = re.sub(r"`[^`\n]*`|<https?://[^>\s]+>|https?://\S+", "", text)      # commands, files, links
    snake = sorted(set(re.findall(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b", prose)))
    assert not snake, f"snake_case metric keys on the results page: {snake}"
    absolute = re.findall(r"(?<![\w.:/<])/(?:work|tmp|home|root|Users|mnt|var)/\S*", text)
    assert not absolute, f"absolute paths on the results page: {absolute[:3]}"
    assert not re.search(r"\b\d{2,}\.0000\b", text), "a count printed as a float"
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 5 and cells[1] not in ("—", "the post", "---|---|---|---|---") and not set(cells[1]) <= {"-"}:
            assert cells[2] != "—" or cells[3] != "—", f"a number of the post without ours or a reason: {line}"


def test_page_rules(page):
    check_page_rules(page)


def test_page_rules_catch_what_they_should():
    for bad in ("| acc1_caps | — | 0.5 | — | — |", "run --out /work/runs/x.json", "| illegal | — | 5142.0000 | — | — |",
                "| acc1 | over 90% | — | — | — |"):
        with pytest.raises(AssertionError):
            check_page_rules(bad)


def test_chapter07_headline_is_the_three_seed_mean_of_the_post_routing(page):
    """Computed apart from the page: kexue.capsule.seeds over the recorded seeds of the post's routing."""
    from kexue.capsule import seeds

    runs = seeds.recorded_seeds("post", ROOT / "experiments" / "results")
    assert list(runs) == [0, 1, 2]
    section = page[page.index("chapters/07-"):page.index("chapters/08-")]
    for metric, what in (("acc1", "two-digit acc1, capsule model"), ("acc2", "two-digit acc2, capsule model")):
        mean, sd, n = seeds.final_stats(runs, metric)
        assert f"| {mean:.4f} ± {sd:.4f} (3 seeds) |" in _row(section, what)
    # both routings, final and best epoch, three seeds each
    for routing in ("post", "kmeans"):
        runs = seeds.recorded_seeds(routing, ROOT / "experiments" / "results")
        best = [max(e["acc1"] for e in r["per_epoch"]) for r in runs.values()]
        mean, sd, n = seeds.final_stats(runs, "acc1")
        assert f"| {mean:.4f} ± {sd:.4f} (3 seeds) | {statistics.mean(best):.4f} ± {statistics.stdev(best):.4f} (3 seeds) |" \
            in section


def test_variants_and_reduced_scale_runs_are_below_the_claims(page):
    section = page[page.index("chapters/07-"):page.index("chapters/08-")]
    head, below = section.split("Other recorded runs")
    for name in ("07-full-post-lrdecay-seed0.json", "07-full-post-long-seed1.json", "07-live-cnn-seeds.json"):
        assert name not in head and name in below


def test_command_line_writes_into_the_given_folder(tmp_path):
    out = tmp_path / "gen"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "pages" / "results.py"), str(out)], check=True,
                   capture_output=True)
    text = (out / "results.md").read_text()
    assert text.count("## {doc}") == len(CHAPTERS)


def test_command_line_needs_the_folder():
    with pytest.raises(SystemExit, match="usage"):
        results_page.main(["results.py"])


def test_post_numbers_name_real_metrics():
    """Every metric the post-numbers file names is one its chapter records."""
    post = json.loads((ROOT / "book" / "post_numbers.json").read_text())
    for nn, info in post.items():
        if not nn[:2].isdigit():
            continue
        for v in info["values"]:
            assert set(v) >= {"what", "metric", "value", "relation", "text", "where"}, v
            assert v["relation"] in ("=", "≈", ">", "≥"), v
            if v["metric"]:
                assert v["metric"] in _recorded_keys(nn), f"chapter {nn} records no metric {v['metric']}"


def test_label_links_name_real_post_numbers_and_sources():
    """The label file's links point at numbers the post gives and at recorded files that exist."""
    post = json.loads((ROOT / "book" / "post_numbers.json").read_text())
    labels = json.loads((ROOT / "book" / "metric_labels.json").read_text())
    rec = results_page.Recorded(ROOT / "experiments" / "results")
    for nn, entry in labels.items():
        if not nn[:2].isdigit():
            continue
        whats = {v["what"] for v in post.get(nn, {}).get("values", [])}
        for what, link in entry.get("post", {}).items():
            assert what in whats, f"{nn}: the post gives no number {what!r}"
            assert link.get("full") or link.get("live") or link.get("not_rerun"), (nn, what)
        for spec in [*entry.get("full", {}).values(), *(l["full"] for l in entry.get("post", {}).values() if "full" in l)]:
            assert rec.source(spec)[0], f"{nn}: {spec} reads nothing"
