"""scripts/execute_chapters.py: the lowered instruction set of the third pass and the timings table."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "execute_chapters", Path(__file__).resolve().parents[1] / "scripts" / "execute_chapters.py")
ec = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ec)


def test_auto_caps_one_level_below_the_machine():
    assert ec.lower_isa("auto", {"sse4_2", "avx2", "avx512f"})[0] == "avx2"
    assert ec.lower_isa("auto", {"sse4_2", "avx2"})[0] == "sse41"
    assert ec.lower_isa("auto", set())[0] == "sse41"
    name, env = ec.lower_isa("sse41")
    assert name == "sse41" and env["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    with pytest.raises(ValueError, match="unknown instruction set 'avx9'"):
        ec.lower_isa("avx9")


def test_profiles_set_the_same_knobs_and_lower_each():
    avx2, sse = ec.ISA_PROFILES["avx2"], ec.ISA_PROFILES["sse41"]
    assert set(avx2) == set(sse)
    # the SSE profile disables every numpy feature group the AVX2 one does, and more
    assert set(avx2["NPY_DISABLE_CPU_FEATURES"].split()) < set(sse["NPY_DISABLE_CPU_FEATURES"].split())


def test_table_names_the_instruction_set():
    timings = {"chapters": {"01": {"build": {"seconds": 30.4, "peak_rss_mb": 1200},
                                   "isa": {"seconds": 47.6, "peak_rss_mb": 1250}}},
               "isa_settings": {"profile": "avx2"}}
    table = ec.format_table(timings)
    assert "lowered ISA (AVX2) s" in table and "peak MB (lowered ISA (AVX2))" in table
    assert table.splitlines()[1].split() == ["01", "30", "48", "1200", "1250"]
