"""Attention: scaled dot-product, multi-head, sinusoidal position embeddings (chapter 06, ``chapters/06-attention.md``).

The numpy reference (:mod:`kexue.attention.numpy_ref`) is the specification;
:mod:`kexue.attention.torch` and :mod:`kexue.attention.keras` implement the same
layers and are tested against it and against the frameworks' own attention.
Importing this package does not import PyTorch or TensorFlow.

Mask convention everywhere in this package: a boolean mask with ``True`` = keep
(attend to this key), ``False`` = masked out; a row with every key masked attends
uniformly to all keys.
"""
from kexue.attention.numpy_ref import *  # noqa: F401,F403
from kexue.attention.numpy_ref import __all__  # noqa: F401
