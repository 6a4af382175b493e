"""Custom losses: the mixed ("softened") cross-entropy and center loss.

Chapter 01 of the book (``chapters/01-keras-custom-loss.md``), after Su Jianlin's
post <https://kexue.fm/archives/4493>.  This package imports only the numpy
reference; the framework versions live in :mod:`kexue.losses.torch` and
:mod:`kexue.losses.keras`.
"""
from kexue.losses.numpy_ref import *  # noqa: F401,F403
from kexue.losses.numpy_ref import __all__  # noqa: F401
