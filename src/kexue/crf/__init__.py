"""The linear-chain CRF of chapter 05 (``chapters/05-crf.md``).

``kexue.crf`` exposes only the numpy reference; the framework layers live in
:mod:`kexue.crf.torch` and :mod:`kexue.crf.keras`, imported on demand.
"""
from kexue.crf.numpy_ref import *  # noqa: F401,F403
from kexue.crf.numpy_ref import __all__  # noqa: F401
