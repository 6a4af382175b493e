"""Whether pip's package index can be reached: the steps of the tests that need it skip otherwise.

    python scripts/index_reachable.py     # exit 0 when reachable; else prints why and exits 1

Used by ``scripts/test.sh`` (the chapter run as on Colab installs its data packages from the
index) and by ``tests/test_environment.py`` (the resolver test), so that after installation
everything else passes with the network cut.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.parse


def index_url() -> str:
    """The index pip would ask: ``PIP_INDEX_URL``, pip's configuration, or PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    out = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "https://pypi.org/simple"


def index_unreachable(timeout: float = 5.0) -> str | None:
    """Why the package index cannot be asked, or ``None`` when it can (a TCP connection to its
    host opens within ``timeout`` seconds). ``KEXUE_OFFLINE=1`` says so without trying."""
    if os.environ.get("KEXUE_OFFLINE") == "1":
        return "KEXUE_OFFLINE=1"
    parts = urllib.parse.urlsplit(index_url())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        return f"package index {parts.hostname}:{port} unreachable ({type(exc).__name__})"
    return None


if __name__ == "__main__":
    why = index_unreachable()
    if why:
        print(why)
    sys.exit(1 if why else 0)
