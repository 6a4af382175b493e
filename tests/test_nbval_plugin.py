"""The nbval plugin drops glue values, which the book build removes from stored notebooks."""
import pytest

pytest.importorskip("nbval")
from kexue.nbval_plugin import normalise_outputs  # noqa: E402


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
