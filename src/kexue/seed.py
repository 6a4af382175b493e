"""One call to seed every random number generator the book uses.

Used by every chapter; see ``CONTRIBUTING.md``.
Frameworks are seeded only if they are already imported (or named explicitly),
so calling this never pulls in TensorFlow or PyTorch by itself.
"""
from __future__ import annotations

import random
import sys
from collections.abc import Iterable

import numpy as np

__all__ = ["seed_everything"]

_KNOWN = ("torch", "tensorflow")


def seed_everything(
    seed: int, *, frameworks: Iterable[str] | None = None, deterministic: bool = True
) -> list[str]:
    """Seed Python, numpy and (optionally) PyTorch and TensorFlow/Keras (every chapter).

    Parameters
    ----------
    seed : int
        A non-negative integer.
    frameworks : Iterable of str, optional
        Names among ``"torch"`` and ``"tensorflow"`` to seed (importing them if
        needed).  ``None`` (the default) seeds those already imported.
    deterministic : bool, default True
        Also switch on the frameworks' deterministic modes
        (``torch.use_deterministic_algorithms`` and TensorFlow's op determinism).

    Returns
    -------
    list of str
        The generators that were seeded, e.g. ``["python", "numpy", "torch"]``.

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative integer or a framework name is unknown.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    if frameworks is None:
        names = [n for n in _KNOWN if n in sys.modules or (n == "tensorflow" and "keras" in sys.modules)]
    else:
        names = list(frameworks)
        unknown = [n for n in names if n not in _KNOWN]
        if unknown:
            raise ValueError(f"unknown framework(s) {unknown}; choose from {list(_KNOWN)}")
    # PYTHONHASHSEED only acts when the interpreter starts (scripts/env.sh sets it); setting it
    # here would change nothing in this process, so it is not touched
    random.seed(seed)
    np.random.seed(seed)
    seeded = ["python", "numpy"]
    if "torch" in names:
        import torch

        torch.manual_seed(seed)
        if deterministic:
            torch.use_deterministic_algorithms(True)
            # deterministic mode also fills every new tensor with NaN by default, which slows
            # routing-style code several-fold and changes no result of correct code
            torch.utils.deterministic.fill_uninitialized_memory = False
        seeded.append("torch")
    if "tensorflow" in names:
        import keras
        import tensorflow as tf

        keras.utils.set_random_seed(seed)
        if deterministic:
            tf.config.experimental.enable_op_determinism()
        seeded.append("tensorflow")
    return seeded
