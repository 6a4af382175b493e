"""The nbval plugin (``tests/nbval_plugin.py``) drops glue values, which the book build removes from stored notebooks."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbval")
ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("kexue_nbval_plugin", ROOT / "tests" / "nbval_plugin.py")
_plugin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_plugin)
normalise_outputs = _plugin.normalise_outputs


def test_glue_is_dropped_and_the_rest_kept():
    outs = [
        {"output_type": "stream", "name": "stdout", "text": "a\n"},
        {"output_type": "display_data", "data": {"application/papermill.record/text/plain": "0.5"}, "metadata": {}},
        {"output_type": "display_data", "data": {"text/plain": "<Figure>", "image/png": "x"}, "metadata": {}},
    ]
    got = normalise_outputs(outs)
    assert [o["output_type"] for o in got] == ["stream", "display_data"]
    assert got[1]["data"] == {"text/plain": "<Figure>", "image/png": "x"}


def test_differences_survive():
    a = normalise_outputs([{"output_type": "stream", "name": "stdout", "text": "acc 0.91\n"}])
    b = normalise_outputs([{"output_type": "stream", "name": "stdout", "text": "acc 0.92\n"}])
    assert a != b


def test_the_scripts_load_the_plugin_by_its_test_path():
    """``-p tests.nbval_plugin`` resolves from the repository root, where the scripts run pytest."""
    for script in ("scripts/test.sh", "scripts/run_chapter.sh"):
        text = (ROOT / script).read_text()
        assert "-p tests.nbval_plugin" in text and "kexue.nbval_plugin" not in text, script
    out = subprocess.run([sys.executable, "-c", "import tests.nbval_plugin as p; print(p.GLUE_MIME_PREFIX)"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == _plugin.GLUE_MIME_PREFIX, out.stderr[-1000:]


def test_the_installed_package_has_no_nbval_plugin():
    assert not (ROOT / "src" / "kexue" / "nbval_plugin.py").exists()
    assert importlib.util.find_spec("kexue.nbval_plugin") is None
