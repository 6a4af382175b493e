"""Chapter 02: which words decided?  Saliency for RNN classifiers from the hidden-state trajectory.

See ``chapters/02-rnn-saliency.md`` and https://kexue.fm/archives/4582.  This
package imports only the numpy reference; the framework helpers live in
:mod:`kexue.saliency.torch` and :mod:`kexue.saliency.keras`.
"""
from kexue.saliency.numpy_ref import *  # noqa: F401,F403
from kexue.saliency.numpy_ref import __all__  # noqa: F401
