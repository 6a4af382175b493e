"""Every recorded run in ``experiments/results`` says how it was made (foundation convention)."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "experiments" / "results").glob("*.json"))


def test_there_are_recorded_runs():
    assert len(FILES) >= 5


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_recorded_run_provenance(path):
    rec = json.loads(path.read_text())
    for command in rec["command"].split(" && "):
        words = shlex.split(command)
        assert words[0] == "python" and (ROOT / words[1]).is_file(), f"{path.name}: command {command!r}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?( ?UTC|Z)", rec["date"]), rec["date"]
    seconds = rec.get("seconds", rec.get("wall_seconds"))
    assert isinstance(seconds, (int, float)) and seconds > 0
    assert rec["versions"]["python"].startswith("3.")


CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]-*.md"))
# a recorded run's values, as the chapters name them when they read experiments/results
RECORDED_NAMES = re.compile(r"(?<![\w.])(rec|recorded|probes|full|full_run|seeds_rec|base)\b\s*[\[.(]")


def _assert_close_calls(text: str):
    """Each ``assert_close(...)`` call in the chapter's code cells, with balanced parentheses."""
    for m in re.finditer(r"\bassert_close\(", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield text[m.start():i]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_no_chapter_asserts_a_live_run_equals_a_recorded_one(path):
    """CONTRIBUTING.md: across machines a live training run is compared statistically or not at all."""
    offending = [call for call in _assert_close_calls(path.read_text()) if RECORDED_NAMES.search(call)]
    assert not offending, f"{path.name}: assert_close against a recorded run: {offending[0][:200]}"


def test_the_live_vs_recorded_scan_can_fail():
    bad = 'assert_close(base[EPOCHS - 1], val_acc, atol=2e-3, what="x")'
    good = 'assert_close(H, H_ref, atol=1e-10, what="states")'
    assert [RECORDED_NAMES.search(c) is not None for c in _assert_close_calls(bad + "\n" + good)] == [True, False]


def test_chapter08_routing_is_ahead_on_every_recorded_live_scale_seed():
    """Chapter 08's claim on its recorded seeds: the normalise-inside routing beats chapter 07's in acc1,
    seed by seed (paired: same data, initial weights and batch order)."""
    rec = json.loads((ROOT / "experiments" / "results" / "08-live-seeds.json").read_text())
    acc1 = {(r["routing"], r["seed"]): r["acc1"] for r in rec["runs"]}
    seeds = sorted({s for _, s in acc1})
    assert len(seeds) >= 3
    assert all(acc1["kmeans", s] > acc1["post", s] for s in seeds)


# ----------------------------------------------------------------------------- one parser for recorded-run names
from kexue.results import ROUTING_NAMES, RunName, parse_run_name  # noqa: E402


@pytest.mark.parametrize("name,expected", [
    ("07-full.json", RunName("07", "full")),                               # a run of no routing (05-full.json)
    ("07-full-post-seed0.json", RunName("07", "full", "post", None, 0)),
    ("07-full-post-seed1.json", RunName("07", "full", "post", None, 1)),
    ("07-full-post-lrdecay-seed0.json", RunName("07", "full", "post", "lrdecay", 0)),
    ("07-full-post-long-seed1.json", RunName("07", "full", "post", "long", 1)),
    ("08-full-kmeans-seed2.json", RunName("08", "full", "kmeans", None, 2)),
    ("08-full-kmeans-seed12.json", RunName("08", "full", "kmeans", None, 12)),
    ("06-full-keeplast.json", RunName("06", "full", None, "keeplast")),
    ("06-full-maxlen200.json", RunName("06", "full", None, "maxlen200")),
    ("02-probes.json", RunName("02", "probes")),
    ("07-live-cnn-seeds.json", RunName("07", "live", None, "cnn-seeds")),
    ("08-live-seeds.json", RunName("08", "live", None, "seeds")),
    ("06-full-postfix.json", RunName("06", "full", None, "postfix")),      # a routing only as a whole word
])
def test_parse_run_name(name, expected):
    assert parse_run_name(name) == expected
    assert parse_run_name(Path("experiments/results") / name) == expected
    assert expected.file_name == name


@pytest.mark.parametrize("name", ["7-full.json", "07-Full.json", "07-full.jsonx", "07-full--x.json", "07_full.json",
                                  "07-full-post-seed1-x.json", "07-full-post-seed.json.bak", "07.json", "07-full-seed-1.json",
                                  "07-full-seed.json", "07-full-post.json", "08-full-kmeans-lrdecay.json"])
def test_parse_run_name_refuses_other_names(name):
    with pytest.raises(ValueError, match="is not a recorded-run file name"):
        parse_run_name(name)


def test_parse_run_name_refuses_a_non_path():
    with pytest.raises(TypeError, match="path must be a file name or a path, got int"):
        parse_run_name(7)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_recorded_file_name_parses_and_agrees_with_its_configuration(path):
    name = parse_run_name(path)
    assert name.file_name == path.name
    config = json.loads(path.read_text()).get("config")
    if isinstance(config, dict):
        if "routing" in config:       # one scheme: a run of a routing is NN-<kind>-<routing>[-<variant>]-seed<S>.json
            assert name.routing is not None and name.seed is not None, \
                f"{path.name}: name it {name.chapter}-{name.kind}-{config['routing']}-seed{config.get('seed', 0)}.json"
        if name.routing is not None:
            assert config.get("routing") == name.routing, path.name
        if name.seed is not None:
            assert config.get("seed") == name.seed, path.name


def test_the_routing_names_are_the_capsule_routings():
    from kexue.capsule.numpy_ref import ROUTINGS

    assert sorted(ROUTING_NAMES) == sorted(ROUTINGS)


def test_recorded_names_are_parsed_in_one_place():
    """The results page and kexue.capsule.seeds read file names with parse_run_name, not with patterns of their own."""
    for rel in ("scripts/pages/results.py", "src/kexue/capsule/seeds.py"):
        text = (ROOT / rel).read_text()
        assert "parse_run_name" in text, rel
        assert not re.search(r"seed\(\\d\+\)|-seed\*|re\.(compile|fullmatch|match)\([^)]*seed", text), rel


EXPERIMENT_SCRIPTS = sorted((ROOT / "experiments").glob("*.py"))


@pytest.mark.parametrize("path", EXPERIMENT_SCRIPTS, ids=[p.name for p in EXPERIMENT_SCRIPTS])
def test_every_experiment_script_records_its_provenance_with_run_info(path):
    """One source of provenance: each script calls kexue.results.run_info and spells no date or version itself."""
    text = path.read_text()
    assert re.search(r"from kexue\.results import [^\n]*\brun_info\b", text) and "run_info(" in text, path.name
    assert not re.search(r"\.strftime\(|platform\.python_version\(", text), path.name
