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
    assert ec.lower_isa("auto", {"sse4_2", "avx", "avx2", "avx512f"}, env={})[0] == "avx2"
    assert ec.lower_isa("auto", {"sse4_2", "avx", "avx2"}, env={})[0] == "mixed"
    assert ec.lower_isa("auto", {"sse4_2", "avx"}, env={})[0] == "sse41"
    assert ec.lower_isa("auto", set(), env={})[0] == "sse41"
    name, env = ec.lower_isa("sse41")
    assert name == "sse41" and env["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    with pytest.raises(ValueError, match="unknown instruction set 'avx9'"):
        ec.lower_isa("avx9")


def test_auto_reads_a_cap_already_in_effect():
    """Run under scripts/with-isa.sh avx2 on an AVX-512 machine, the pass caps one level below AVX2."""
    avx512 = {"sse4_2", "avx", "avx2", "avx512f"}
    assert ec.machine_level(avx512, env=ec.ISA_PROFILES["avx2"]) == "avx2"
    assert ec.lower_isa("auto", avx512, env=ec.ISA_PROFILES["avx2"])[0] == "mixed"
    assert ec.ISA_PROFILES["mixed"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"      # fast convolutions kept
    assert ec.ISA_PROFILES["mixed"]["ATEN_CPU_CAPABILITY"] == "default"  # PyTorch's own kernels lowered
    assert ec.lower_isa("auto", avx512, env=ec.ISA_PROFILES["avx"])[0] == "sse41"
    assert ec.machine_level(avx512, env={"ONEDNN_MAX_CPU_ISA": "SSE41"}) == "sse41"
    # a cap above the machine's best changes nothing
    assert ec.machine_level({"sse4_2", "avx", "avx2"}, env={"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}) == "avx2"


def test_with_isa_exports_the_profile(tmp_path):
    import subprocess
    out = subprocess.run(["bash", str(ec.ROOT / "scripts" / "with-isa.sh"), "avx", "env"],
                         capture_output=True, text=True, check=True)
    env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    for key, value in ec.ISA_PROFILES["avx"].items():
        assert env[key] == value


def test_profiles_set_the_same_knobs_and_lower_each():
    avx2, avx, sse = ec.ISA_PROFILES["avx2"], ec.ISA_PROFILES["avx"], ec.ISA_PROFILES["sse41"]
    assert set(avx2) == set(avx) == set(sse)
    assert [avx2["ONEDNN_MAX_CPU_ISA"], avx["ONEDNN_MAX_CPU_ISA"], sse["ONEDNN_MAX_CPU_ISA"]] == ["AVX2", "AVX", "SSE41"]
    # the SSE profile disables every numpy feature group the AVX2 one does, and more
    assert set(avx2["NPY_DISABLE_CPU_FEATURES"].split()) < set(sse["NPY_DISABLE_CPU_FEATURES"].split())


def test_table_names_the_instruction_set():
    timings = {"chapters": {"01": {"build": {"seconds": 30.4, "peak_rss_mb": 1200},
                                   "isa": {"seconds": 47.6, "peak_rss_mb": 1250}}},
               "isa_settings": {"profile": "avx2"}}
    table = ec.format_table(timings)
    assert "lowered ISA (AVX2) s" in table and "peak MB (lowered ISA (AVX2))" in table
    assert table.splitlines()[1].split() == ["01", "30", "48", "1200", "1250"]
