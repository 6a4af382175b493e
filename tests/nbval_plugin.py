"""pytest plugin for running the chapters under nbval against the book build's notebooks.

The test suite (``scripts/test.sh``) compares each chapter's second execution (nbval)
with the notebook the book build stored in ``_build/jupyter_execute``.  The build
removes ``myst_nb.glue`` values from the stored outputs (they are pasted into the
page's text instead), while a live kernel sends them as display data.  This plugin
drops glue-only display data before nbval compares, so only real differences in
output fail.  (nbval itself merges a cell's stream messages on both sides.)
Load it from the repository root with ``python -m pytest -p tests.nbval_plugin --nbval ...``.
It lives with the tests, not in the installed package, which never imports nbval.
"""
from __future__ import annotations

import nbval.plugin as _nbval

GLUE_MIME_PREFIX = "application/papermill.record/"
_original = _nbval.transform_streams_for_comparison


def normalise_outputs(outputs: list) -> list:
    """The outputs without glue values (display data whose every MIME type is a glue record)."""
    kept: list = []
    for out in outputs:
        if out.get("output_type") in ("display_data", "execute_result"):
            data = {k: v for k, v in out.get("data", {}).items() if not k.startswith(GLUE_MIME_PREFIX)}
            if not data:
                continue
            out = type(out)(out)
            out["data"] = data
        kept.append(out)
    return kept


class _Output(dict):
    """A dict that also answers attribute access, as nbformat's NotebookNode does."""

    __getattr__ = dict.__getitem__


def _transform(outputs):
    return _original([o if hasattr(o, "output_type") else _Output(o) for o in normalise_outputs(outputs)])


_nbval.transform_streams_for_comparison = _transform


# ----------------------------------------------------------------------------- per-chapter timings
# The test suite's table of execution times (``_build/timings.json``, see
# ``scripts/execute_chapters.py``) gets the nbval pass's seconds per notebook from here:
# the sum of its cells' setup, call and teardown durations (the kernel start included).
_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] = _seconds.get(path, 0.0) + float(report.duration)


def pytest_sessionfinish(session) -> None:
    import json
    import os
    from pathlib import Path

    if hasattr(session.config, "workerinput") or not _seconds:   # xdist workers report to the controller
        return
    target = Path(os.environ.get("KEXUE_TIMINGS", "_build/timings.json"))
    try:
        timings = json.loads(target.read_text())
    except (OSError, ValueError):
        timings = {"chapters": {}}
    for path, seconds in _seconds.items():
        name = Path(path).stem
        if name[:2].isdigit():
            timings.setdefault("chapters", {}).setdefault(name[:2], {})["nbval"] = {"seconds": round(seconds, 1)}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")
