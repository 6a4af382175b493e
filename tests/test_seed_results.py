"""Tests of kexue.seed, kexue.results, kexue.checks and kexue.progress."""
import json
import random

import numpy as np
import pytest

import kexue
from kexue import checks, results
from kexue.progress import Timer, progress, wall


def _draws():
    return random.random(), float(np.random.rand())


def test_seed_repeats_python_and_numpy():
    kexue.seed_everything(7)
    a = _draws()
    kexue.seed_everything(7)
    assert _draws() == a
    kexue.seed_everything(8)
    assert _draws() != a


def test_seed_torch_and_tensorflow():
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    seeded = kexue.seed_everything(3, frameworks=["torch", "tensorflow"])
    assert seeded == ["python", "numpy", "torch", "tensorflow"]
    t1, f1 = torch.rand(3), tf.random.uniform((3,)).numpy()
    kexue.seed_everything(3, frameworks=["torch", "tensorflow"])
    assert torch.equal(torch.rand(3), t1)
    assert np.array_equal(tf.random.uniform((3,)).numpy(), f1)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.utils.deterministic.fill_uninitialized_memory is False


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError):
        kexue.seed_everything(bad)


def test_seed_rejects_unknown_framework():
    with pytest.raises(ValueError, match="jax"):
        kexue.seed_everything(0, frameworks=["jax"])


@pytest.fixture
def book(tmp_path, monkeypatch):
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text("root: x\n")
    sub = tmp_path / "chapters"
    sub.mkdir()
    monkeypatch.chdir(sub)
    return tmp_path


def test_record_writes_under_book_root(book, capsys):
    out = kexue.record("03", acc=0.98765, loss=np.float32(0.5))
    path = book / "_build" / "results" / "03.json"
    assert json.loads(path.read_text())["metrics"] == out == {"acc": 0.98765, "loss": 0.5}
    assert results.load("03") == out
    assert "0.9877" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs,err", [({"acc": float("nan")}, ValueError), ({"acc": "high"}, TypeError),
                                        ({}, ValueError)])
def test_record_rejects_bad_metrics(book, kwargs, err):
    with pytest.raises(err):
        kexue.record("03", **kwargs)


def test_record_rejects_bad_chapter(book):
    with pytest.raises(ValueError, match="two-digit"):
        kexue.record("3", acc=1.0)


def test_book_root_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError):
        results.book_root()


def test_checks_pass_and_fail(capsys):
    checks.assert_close([1.0, 2.0], [1.0, 2.0 + 1e-9], atol=1e-8, what="near")
    assert "✓ near" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="exceeds"):
        checks.assert_close([1.0], [1.1], atol=1e-3, what="far")
    with pytest.raises(AssertionError, match="shapes"):
        checks.assert_close([1.0], [1.0, 2.0], atol=1, what="shape")
    with pytest.raises(AssertionError, match="non-finite"):
        checks.assert_close([np.nan], [1.0], atol=1, what="nan")
    with pytest.raises(AssertionError):
        checks.check(False, "false claim")


def test_progress_and_timer(capsys):
    with Timer() as t:
        total = sum(progress(range(5), desc="count"))
    assert total == 10 and t.seconds >= 0
    out = capsys.readouterr().out
    assert "count" in out and "5/5" in out
    assert wall(12.34) == "wall 12.3 s"


def test_run_info_fields_and_no_framework_import():
    import subprocess
    import sys

    code = ("import sys, kexue.results as r; i = r.run_info('experiments/x.py', ['--a', '1'], 12.345, threads=1);"
            "assert i['command'] == 'python experiments/x.py --a 1', i; assert i['seconds'] == 12.3, i;"
            "assert i['date'].endswith('Z') and len(i['date']) == 20, i; assert '1 torch thread' in i['machine'], i;"
            "assert 'torch' not in i['versions'] and 'torch' not in sys.modules, i")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_assert_within_spread(capsys):
    checks.assert_within_spread(0.80, [0.81, 0.83], margin=0.02, what="live vs recorded")
    assert "within [0.7900, 0.8500]" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="outside"):
        checks.assert_within_spread(0.78, [0.81, 0.83], margin=0.02, what="live vs recorded")
    with pytest.raises(AssertionError, match="outside"):
        checks.assert_within_spread(0.86, [0.81, 0.83], margin=0.02, what="live vs recorded")
    with pytest.raises(ValueError, match="no recorded values"):
        checks.assert_within_spread(0.8, [], margin=0.02, what="x")
    with pytest.raises(ValueError, match="margin"):
        checks.assert_within_spread(0.8, [0.8], margin=-1, what="x")
    with pytest.raises(AssertionError, match="non-finite"):
        checks.assert_within_spread(float("nan"), [0.8], margin=0.1, what="x")


def test_record_outside_a_book_falls_back_to_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(results.RESULTS_ENV, raising=False)
    out = kexue.record("05", f1=0.9)
    assert json.loads((tmp_path / "_build" / "results" / "05.json").read_text())["metrics"] == out
    assert results.load("05") == out


def test_record_honours_the_results_variable(book, tmp_path, monkeypatch):
    target = tmp_path / "elsewhere"
    monkeypatch.setenv(results.RESULTS_ENV, str(target))
    kexue.record("05", f1=0.5)
    assert json.loads((target / "05.json").read_text())["metrics"] == {"f1": 0.5}
    assert not (book / "_build" / "results" / "05.json").exists()


def test_load_recorded(book):
    folder = book / "experiments" / "results"
    folder.mkdir(parents=True)
    (folder / "09-full.json").write_text('{"metrics": {"acc": 0.5}}')
    assert results.load_recorded("09-full.json") == {"metrics": {"acc": 0.5}}
    with pytest.raises(FileNotFoundError, match="experiments/results/09-none.json not found at"):
        results.load_recorded("09-none.json")
    with pytest.raises(ValueError, match="file name"):
        results.load_recorded("../x.json")


def test_load_recorded_outside_a_book(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="07-full-post-seed0.json not found: no book repository"):
        results.load_recorded("07-full-post-seed0.json")
