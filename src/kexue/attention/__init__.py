"""Attention: scaled dot-product, multi-head, sinusoidal position embeddings (chapter 06).

The numpy reference (:mod:`kexue.attention.numpy_ref`) is the specification;
:mod:`kexue.attention.torch` and :mod:`kexue.attention.keras` implement the same
layers and are tested against it and against the frameworks' own attention.
Importing this package does not import PyTorch or TensorFlow.

Mask convention everywhere in this package: a boolean mask with ``True`` = keep
(attend to this key), ``False`` = masked out; a row with every key masked attends
uniformly to all keys.
"""
from kexue.attention.numpy_ref import (  # noqa: F401
    LAYOUTS,
    build_vocab,
    causal_mask,
    check_mask,
    encode,
    frequencies,
    length_mask,
    masked_logits,
    multi_head_attention,
    order_task,
    pe_rotation,
    scaled_dot_product_attention,
    sinusoidal_position_embedding,
    softmax,
)

__all__ = ["LAYOUTS", "build_vocab", "causal_mask", "check_mask", "encode", "frequencies", "length_mask", "masked_logits",
           "multi_head_attention", "order_task", "pe_rotation", "scaled_dot_product_attention",
           "sinusoidal_position_embedding", "softmax"]
