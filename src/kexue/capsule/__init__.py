"""Capsules and dynamic routing: chapter 07 (``chapters/07-capsule.md``), reused by chapter 08.

Public API (stable; chapter 08 depends on it):

``kexue.capsule.numpy_ref`` (imported here; numpy only)
    ``ROUTINGS`` (name → squash constant: ``"hinton"`` 1.0, ``"post"`` 0.5,
    ``"kmeans"`` 0.5), ``squash(x, c)``, ``l2_normalize``, ``softmax``,
    ``dynamic_routing(u_hat, routings, routing) -> (v, c)``,
    ``predictions(u, W, k)``, ``capsule(u, W, k, routings, routing)``,
    ``margin_loss(y, p)``, ``mean_max_coupling(u_hat, routings, routing)``.
``kexue.capsule.torch``
    ``Capsule(input_dim_capsule, num_capsule, dim_capsule, routings=3,
    share_weights=True, routing="post", squash_c=None, *, input_num_capsule=None)``,
    ``dynamic_routing``, ``squash``, ``l2_normalize``, ``margin_loss``.
``kexue.capsule.keras``
    ``Capsule(num_capsule, dim_capsule, routings=3, share_weights=True,
    routing="post", squash_c=None)`` (Keras 3 layer, registered for ``.keras`` files),
    ``dynamic_routing``, ``squash``, ``l2_normalize``, ``margin_loss``.
``kexue.capsule.experiment`` (PyTorch)
    the single-digit-train / two-digit-test experiment: ``Config``,
    ``load_data(cfg)``, ``two_digit_set``, ``two_digit_metrics``,
    ``build_model(kind, cfg)``, ``train_capsule_net``, ``capsule_lengths``,
    ``evaluate_two_digits``, ``run_model(kind, cfg, data)``,
    ``run(cfg, kinds=("cnn", "caps"))``.  ``Config(routing="kmeans")``
    reruns the capsule model with another routing.

Routing variants: ``"hinton"`` accumulates the logits (b += <û, v>) and
squashes with constant 1 in every pass; ``"post"`` (this chapter) replaces
them (b = <û, v>) and squashes with 0.5 in every pass; ``"kmeans"``
(chapter 08) L2-normalises inside the loop and squashes (0.5) only at the end.
"""
from kexue.capsule.numpy_ref import *  # noqa: F401,F403
from kexue.capsule.numpy_ref import __all__  # noqa: F401
