"""kexue: the shared package behind *kexue-book*.

Each chapter of the book keeps its code in one topic module (``kexue.<topic>``):
a numpy reference that is the specification, plus ``torch`` and ``keras``
versions tested against it.  Importing :mod:`kexue` (or any numpy reference)
never imports TensorFlow or PyTorch; only the framework module you ask for does.

The environment variables below silence TensorFlow's C++ logging; they must be
set before TensorFlow is imported, and a chapter imports :mod:`kexue` first.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from kexue.results import record  # noqa: E402
from kexue.seed import seed_everything  # noqa: E402

__all__ = ["record", "seed_everything"]
__version__ = "0.1.0"
