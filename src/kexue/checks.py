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
