"""Activation functions of chapter 03, ``chapters/03-activation-design.md`` (浅谈神经网络中激活函数的设计, kexue.fm/archives/4647).

``kexue.activations.numpy_ref`` is the specification (values and closed-form
derivatives); ``kexue.activations.torch`` and ``kexue.activations.keras`` are
tested against it.  Only the numpy reference is imported here.
"""
from kexue.activations.numpy_ref import *  # noqa: F401,F403
from kexue.activations.numpy_ref import __all__  # noqa: F401
