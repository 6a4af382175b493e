"""kexue.memory: freed heap pages go back to the operating system."""
import subprocess
import sys
import textwrap

import pytest

from kexue.memory import release_freed_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc_trim")


def test_release_returns_true_on_linux():
    assert release_freed_memory() is True


def test_freed_small_objects_leave_the_resident_set():
    # 200 MB in 1 kB strings (heap, not mmap), all freed but the last, which pins the heap's
    # top so glibc cannot shrink it by itself; only malloc_trim gives the pages back
    code = textwrap.dedent("""
        import gc
        from kexue.memory import release_freed_memory
        def rss_mb():
            return int(open("/proc/self/statm").read().split()[1]) * 4096 / 1e6
        blocks = [bytes(1000) + bytes([i % 256]) for i in range(200_000)]
        last = bytes(1000) + b"x"
        del blocks
        gc.collect()
        before = rss_mb()
        assert release_freed_memory()
        print(before, rss_mb())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = map(float, out.stdout.split())
    assert before - after > 100, f"RSS {before:.0f} MB -> {after:.0f} MB: fewer than 100 MB returned"
