"""Soft K-Means and capsule routing as clustering: chapter 08 (``chapters/08-kmeans-capsule.md``).

:mod:`kexue.kmeans.numpy_ref` is the specification and is re-exported here;
:mod:`kexue.kmeans.torch` holds the PyTorch versions (importing this package
does not import PyTorch).
"""
from kexue.kmeans.numpy_ref import *  # noqa: F401,F403
from kexue.kmeans.numpy_ref import __all__  # noqa: F401
