"""kexue: the shared package behind *kexue-book*.

Each chapter of the book keeps its code in one topic module (``kexue.<topic>``):
a numpy reference that is the specification, plus ``torch`` and ``keras``
versions tested against it.  Importing :mod:`kexue` (or any numpy reference)
never imports TensorFlow or PyTorch; only the framework module you ask for does.

Importing :mod:`kexue` has no side effects: it does not touch ``os.environ``.
The chapters' kernels get ``TF_CPP_MIN_LOG_LEVEL``, ``KERAS_BACKEND`` and
``PYTHONHASHSEED`` from ``scripts/env.sh`` (set them before Python starts).
"""
from __future__ import annotations

from kexue.results import record
from kexue.seed import seed_everything

__all__ = ["record", "seed_everything"]
__version__ = "0.1.0"
