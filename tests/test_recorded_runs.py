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
