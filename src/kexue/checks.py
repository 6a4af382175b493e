"""Executed checks for the chapters: assert, then say what was compared.

A chapter's check cell compares two independent computations.  These helpers
raise ``AssertionError`` on failure (which fails the notebook under nbval and
the book build) and print one line on success.  The measured difference is
printed as ``max|Δ| = …``; the reproducibility test masks that number, since
the last bits of a float difference are not part of the claim.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["assert_close", "check", "assert_within_spread"]


def assert_close(actual: ArrayLike, expected: ArrayLike, *, atol: float, rtol: float = 0.0, what: str) -> None:
    """Assert that two computations agree elementwise, and print the largest difference (every chapter).

    The check is ``|actual - expected| <= atol + rtol * |expected|``.  It returns nothing, so a
    check as a cell's last line displays only its printed line.

    Parameters
    ----------
    actual : array_like, any shape
        The computation under test.
    expected : array_like, the shape of ``actual``
        The independent computation it must match.
    atol : float
        Absolute tolerance.
    rtol : float, default 0.0
        Relative tolerance, times ``|expected|``.
    what : str
        What is compared, printed in the line and in the error.

    Raises
    ------
    AssertionError
        If the shapes differ, a value is not finite, or a difference exceeds the tolerance.
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
    """Assert a boolean claim and print it as a checked line (every chapter).

    Parameters
    ----------
    condition : bool
        The claim's truth value.
    what : str
        The claim in words, printed after a check mark.

    Raises
    ------
    AssertionError
        If ``condition`` is false.
    """
    if not bool(condition):
        raise AssertionError(f"claim failed: {what}")
    print(f"✓ {what}")


def assert_within_spread(live: float, recorded: ArrayLike, *, margin: float, what: str) -> None:
    """Assert that a live training result lies within the recorded runs' range widened by ``margin`` (chapters 02, 06-08).

    This is how a chapter compares a number it trains live with runs recorded on another
    machine: a different CPU dispatches other vector kernels (AVX-512, AVX2, SSE), so after
    thousands of steps a trained number is in effect another draw, not the recorded one.
    Prints the interval.

    Parameters
    ----------
    live : float
        The number the chapter just trained.
    recorded : array_like, shape (runs,)
        The recorded runs' values (e.g. one per seed).
    margin : float
        How far beyond the recorded range the live number may lie; stated, and wide
        enough that another CPU cannot break the check.
    what : str
        What is compared, printed in the line and in the error.

    Raises
    ------
    ValueError
        If ``recorded`` is empty or ``margin`` is negative or not a number.
    AssertionError
        If a value is not finite or ``live`` lies outside the widened range.
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
