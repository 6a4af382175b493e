"""scripts/binder-check.sh: what it installs, what it checks, and what it recorded.

The script builds Binder's environment from binder/ (with the CPU torch wheel from disk in
place of PyTorch's index), runs binder/postBuild, checks the JupyterLab setting that opens
.md chapters as notebooks, and runs the chapters under Binder's 2 GB limit
(book/run_paths/binder.json)."""
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "binder-check.sh"
POST_BUILD = ROOT / "binder" / "postBuild"
REQUIREMENTS = ROOT / "binder" / "requirements.txt"
RECORD = ROOT / "book" / "run_paths" / "binder.json"
LIMIT_MB = 2000.0  # mybinder.org's memory limit, 2 GB


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


binder_requirements = _load("binder_requirements")
binder_lab = _load("binder_lab")


def _requirement_lines(lines):
    return [l.split("#", 1)[0].strip() for l in lines if l.split("#", 1)[0].strip()]


def test_filtered_requirements_are_binder_requirements_minus_index_and_torch(tmp_path):
    text = REQUIREMENTS.read_text()
    # independent reading: every requirement line but the option lines and torch's pin
    expected = [l for l in _requirement_lines(text.splitlines())
                if not l.startswith("-") and not re.match(r"torch\s*==", l)]
    out = tmp_path / "requirements.txt"
    assert binder_requirements.main([str(REQUIREMENTS), str(out)]) == 0
    got = _requirement_lines(out.read_text().splitlines())
    assert got == expected
    assert "download.pytorch.org" not in out.read_text()
    # and nothing else was dropped: only the index line and the torch line
    dropped = set(_requirement_lines(text.splitlines())) - set(got)
    assert dropped == {"--extra-index-url https://download.pytorch.org/whl/cpu",
                       f"torch=={binder_requirements.torch_pin(text)}"}


def test_torch_pin_is_the_cpu_build_of_the_wheel_the_script_installs():
    pin = binder_requirements.torch_pin(REQUIREMENTS.read_text())
    assert pin and pin.endswith("+cpu")
    assert binder_requirements.torch_pin("numpy==1\n") is None
    text = SCRIPT.read_text()
    # the wheel is chosen by the pin, for the Python of runtime.txt
    assert "/opt/wheels/torch-${torch_pin}-cp311-cp311-" in text
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_filter_keeps_lookalikes():
    text = ("--extra-index-url https://download.pytorch.org/whl/cpu\n"
            "torch == 2.13.0+cpu  # the CPU build\n"
            "torchvision==0.28.0\npytorch-crf==0.7.2\n# torch==1 in a comment\n"
            "--extra-index-url https://example.org/simple\n")
    assert binder_requirements.filter_requirements(text) == [
        "torchvision==0.28.0", "pytorch-crf==0.7.2", "# torch==1 in a comment",
        "--extra-index-url https://example.org/simple"]
    assert binder_requirements.torch_pin(text) == "2.13.0+cpu"


def test_script_installs_through_the_filter():
    text = SCRIPT.read_text()
    calls = re.findall(r'binder_requirements\.py"([^\n]*)', text)
    assert any('--torch "$repo/binder/requirements.txt"' in c for c in calls)
    assert any('"$repo/binder/requirements.txt" "$tmp/requirements.txt"' in c for c in calls)
    assert re.search(r'pipi -q "\$wheel"\n', text) and 'pipi -q -r "$tmp/requirements.txt"' in text
    assert text.index('pipi -q "$wheel"') < text.index('pipi -q -r "$tmp/requirements.txt"')
    # postBuild runs from the repository copy, the venv first on PATH
    assert 'export PATH=$venv/bin:$PATH' in text and '(cd "$home" && ./binder/postBuild)' in text


def _post_build_viewer_args():
    for line in POST_BUILD.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:2] == ["jupytext-config", "set-default-viewer"]:
            return words[2:]
    pytest.fail("binder/postBuild does not run jupytext-config set-default-viewer")


def test_post_build_sets_what_the_script_checks():
    args = _post_build_viewer_args()
    assert binder_lab.FILE_TYPE in args, f"postBuild maps {args}, the check reads {binder_lab.FILE_TYPE!r}"
    assert binder_lab.FACTORY == "Jupytext Notebook"
    assert binder_lab.PLUGIN == "@jupyterlab/docmanager-extension:plugin"


@pytest.mark.skipif(not shutil.which("jupytext-config", path=os.path.dirname(sys.executable)),
                    reason="jupytext-config is not installed")
def test_post_build_line_writes_the_setting_the_check_reads(tmp_path):
    """Run postBuild's jupytext-config line into an empty config dir; the check must accept it,
    and must reject the file jupytext-config writes for another file type."""
    exe = os.path.join(os.path.dirname(sys.executable), "jupytext-config")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "ok"), "HOME": str(tmp_path)}
    subprocess.run([exe, "set-default-viewer", *_post_build_viewer_args()], env=env, check=True)
    viewers = binder_lab.overrides_file(str(tmp_path / "ok"))
    assert viewers[binder_lab.FILE_TYPE] == binder_lab.FACTORY
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "other")
    subprocess.run([exe, "set-default-viewer", "myst"], env=env, check=True)
    assert binder_lab.overrides_file(str(tmp_path / "other")).get(binder_lab.FILE_TYPE) != binder_lab.FACTORY


def test_watchdog_counts_children_and_kills_above_the_limit():
    binder_run = _load("binder_run")
    # a kernel stand-in in its own session whose child holds ~300 MB
    code = ("import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', 'b = bytearray(300 * 10**6); import time; time.sleep(60)'])\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.time() + 30
        while binder_run.tree_rss(proc.pid) < 250e6 and time.time() < deadline:
            time.sleep(0.2)
        assert binder_run.tree_rss(proc.pid) > 250e6, "the child's memory is not counted"
        assert binder_run._proc_rss(proc.pid) < 150e6  # the parent alone is small
        dog = binder_run.Watchdog(proc.pid, int(200e6))
        dog.start()
        dog.join(10)
        assert dog.killed and dog.peak > 200e6
        assert proc.wait(10) == -9
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)


def _chapters():
    return sorted(p.name[:2] for p in (ROOT / "chapters").glob("[0-9][0-9]-*.md"))


@pytest.mark.skipif(not RECORD.exists(), reason="no recorded Binder run (BINDER_RECORD=1 scripts/binder-check.sh)")
def test_recorded_binder_run_passes_every_chapter_under_2_gb():
    data = json.loads(RECORD.read_text())
    assert data["path"] == "binder"
    assert data["versions"]["python"].startswith("3.11.")
    assert data["versions"]["torch"] == binder_requirements.torch_pin(REQUIREMENTS.read_text())
    binder_pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", REQUIREMENTS.read_text(), re.M))
    for name, key in (("keras", "keras"), ("numpy", "numpy"), ("tensorflow-cpu", "tensorflow")):
        assert data["versions"][key] == binder_pins[name], name
    assert set(data["chapters"]) == set(_chapters())
    for nn, entry in data["chapters"].items():
        assert entry["status"] == "passed", f"{nn}: {entry}"
        assert 0 < entry["peak_rss_mb"] < LIMIT_MB, f"{nn}: ru_maxrss {entry['peak_rss_mb']} MB"
        assert 0 < entry["watchdog_peak_mb"] < LIMIT_MB, f"{nn}: watchdog {entry['watchdog_peak_mb']} MB"
        # the watchdog samples kernel + children every 0.2 s: it can miss a short spike but
        # never sees less than most of the kernel's own high-water mark
        assert entry["watchdog_peak_mb"] > 0.8 * entry["peak_rss_mb"], nn
        assert entry["seconds"] > 0
    assert data["run_info"]["command"].startswith("python scripts/binder-check.sh")
