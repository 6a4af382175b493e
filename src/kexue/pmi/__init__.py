"""PMI word vectors ("simpler GloVe"), chapter 04 (``chapters/04-pmi-word-vectors.md``).

The numpy reference is re-exported here; :mod:`kexue.pmi.torch` holds the
PyTorch trainer (importing this package does not import PyTorch).
"""
from kexue.pmi.numpy_ref import *  # noqa: F401,F403
from kexue.pmi.numpy_ref import __all__  # noqa: F401
