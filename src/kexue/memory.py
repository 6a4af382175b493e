"""Give memory that Python and the frameworks have freed back to the operating system.

glibc's allocator keeps freed heap pages for reuse; after training a model on many
variable-sized batches a process can hold hundreds of MB it no longer uses, which counts
against the memory limit of a hosted notebook (Binder restarts a kernel above 2 GB).
Used at the end of the book's training loops (chapter 02).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from functools import lru_cache

__all__ = ["release_freed_memory"]


@lru_cache(maxsize=1)
def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_freed_memory() -> bool:
    """Collect garbage, then return free heap pages to the OS with glibc's ``malloc_trim`` (chapter 02).

    Changes no value anywhere.

    Returns
    -------
    bool
        ``True`` when pages could be trimmed (Linux with glibc), ``False`` where the call
        does not exist (macOS, Windows, musl).
    """
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
