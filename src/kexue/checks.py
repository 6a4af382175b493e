"""Executed checks for the chapters: assert, then say what was compared.

A chapter's check cell compares two independent computations.  These helpers
raise ``AssertionError`` on failure (which fails the notebook under nbval and
the book build) and print one line on success.  The measured difference is
printed as ``max|Δ| = …``; the reproducibility test masks that number, since
the last bits of a float difference are not part of the claim.
"""
from __future__ import annotations

import numpy as np


def assert_close(actual, expected, *, atol: float, rtol: float = 0.0, what: str) -> None:
    """Assert ``|actual - expected| <= atol + rtol*|expected|`` elementwise and print max|Δ|.

    Returns nothing, so a check as a cell's last line displays only its printed line.
    """
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shapes differ, {a.shape} vs {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise AssertionError(f"{what}: non-finite values")
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    ok = np.all(np.abs(a - b) <= atol + rtol * np.abs(b))
    tol = f"atol {atol:g}" + (f", rtol {rtol:g}" if rtol else "")
    if not ok:
        raise AssertionError(f"{what}: max|Δ| = {diff:.3e} exceeds {tol}")
    print(f"✓ {what}: max|Δ| = {diff:.1e} ({tol})")


def check(condition: bool, what: str) -> None:
    """Assert a boolean claim and print it."""
    if not bool(condition):
        raise AssertionError(f"claim failed: {what}")
    print(f"✓ {what}")


def assert_within_spread(live: float, recorded, *, margin: float, what: str) -> None:
    """Assert that a live training result lies within the recorded runs' range widened by ``margin``.

    This is how a chapter compares a number it trains live with runs recorded on another
    machine: a different CPU dispatches other vector kernels (AVX-512, AVX2, SSE), so after
    thousands of steps a trained number is in effect another draw, not the recorded one.
    ``recorded`` holds the recorded runs' values (e.g. one per seed); ``margin`` must be
    stated and wide enough that another CPU cannot break the check. Prints the interval.
    """
    values = np.asarray(recorded, dtype=np.float64).ravel()
    live = float(live)
    if values.size == 0:
        raise ValueError(f"{what}: no recorded values to compare with")
    if not (np.all(np.isfinite(values)) and np.isfinite(live)):
        raise AssertionError(f"{what}: non-finite values")
    if not (isinstance(margin, (int, float)) and margin >= 0):
        raise ValueError(f"margin must be a non-negative number, got {margin!r}")
    lo, hi = float(values.min()) - margin, float(values.max()) + margin
    interval = (f"recorded {values.min():.4f} to {values.max():.4f} over {values.size} run(s), "
                f"± margin {margin:g}")
    if not lo <= live <= hi:
        raise AssertionError(f"{what}: {live:.4f} lies outside [{lo:.4f}, {hi:.4f}] ({interval})")
    print(f"✓ {what}: {live:.4f} within [{lo:.4f}, {hi:.4f}] ({interval})")
