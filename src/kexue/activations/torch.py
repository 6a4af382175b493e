"""PyTorch versions of chapter 03's activations (``chapters/03-activation-design.md``), tested against ``numpy_ref``.

Every function takes a floating-point ``torch.Tensor`` (integer input raises
``TypeError``, as in the numpy reference) and keeps its dtype and device.  The
chapter's MNIST experiment is in :mod:`kexue.activations.experiment`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from kexue import _validate
from kexue.activations.numpy_ref import NAMES

__all__ = ["xmin", "xmin_naive", "softplus", "get", "activation", "derivative", "Activation", "mlp",
           "mlp_layer_gradients"]


def _as_float(x: torch.Tensor) -> torch.Tensor:
    """The numpy reference's dtype check on a tensor: floating point only."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(_validate.ACT_FLOAT.format(f"{type(x).__name__} (pass a torch.Tensor)"))
    if not x.is_floating_point():
        raise TypeError(_validate.ACT_FLOAT.format(f"dtype {x.dtype}"))
    return x


def xmin(x: torch.Tensor) -> torch.Tensor:
    """x·min(1, eˣ) as ``max(x, x·e^{-|x|})``: finite value and gradient for any finite x (chapter 03).

    Parameters
    ----------
    x : torch.Tensor, any shape
        Floating-point input.

    Returns
    -------
    torch.Tensor, same shape, dtype and device as ``x``
        x·min(1, eˣ).

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    """
    x = _as_float(x)
    return torch.maximum(x, x * torch.exp(-x.abs()))


def xmin_naive(x: torch.Tensor) -> torch.Tensor:
    """The literal x·min(1, eˣ): its gradient is NaN where eˣ overflows (chapter 03).

    The unselected branch computes 0·∞ in the backward pass.

    Parameters
    ----------
    x : torch.Tensor, any shape
        Floating-point input.

    Returns
    -------
    torch.Tensor, same shape, dtype and device as ``x``
        x·min(1, eˣ).

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    """
    x = _as_float(x)
    return x * torch.minimum(torch.ones_like(x), torch.exp(x))


def softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + eˣ)`` accurate in float64 too (chapter 03).

    ``F.softplus`` returns ``x`` itself above ``threshold=20``, an error of
    ``e^-20 ≈ 2e-9`` that float32 cannot see but float64 can; in float64 the switch
    moves to 40.

    Parameters
    ----------
    x : torch.Tensor, any shape
        Floating-point input.

    Returns
    -------
    torch.Tensor, same shape, dtype and device as ``x``
        softplus(x).

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    """
    x = _as_float(x)
    return F.softplus(x, threshold=40.0 if x.dtype == torch.float64 else 20.0)


_FUNCS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu, "softplus": softplus,
    "swish": F.silu, "xmin": xmin}


def get(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation ``name`` as a function of a tensor (chapter 03).

    Parameters
    ----------
    name : str
        One of :data:`kexue.activations.numpy_ref.NAMES`.

    Returns
    -------
    callable
        ``f(x)`` for a tensor ``x`` of any shape.

    Raises
    ------
    ValueError
        For an unknown activation.
    """
    if not isinstance(name, str) or name not in _FUNCS:
        raise ValueError(_validate.ACT_NAME.format(name, ", ".join(NAMES)))
    return _FUNCS[name]


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    """Value of activation ``name`` at ``x`` (chapter 03).

    Parameters
    ----------
    name : str
        One of :data:`kexue.activations.numpy_ref.NAMES`.
    x : torch.Tensor, any shape
        Floating-point input; dtype and device are kept.

    Returns
    -------
    torch.Tensor, same shape, dtype and device as ``x``
        f(x).

    Raises
    ------
    ValueError
        For an unknown activation.
    TypeError
        If ``x`` is not a floating-point tensor.
    """
    fn = get(name)
    return fn(_as_float(x))


def derivative(name: str, x: torch.Tensor) -> torch.Tensor:
    """Elementwise derivative of activation ``name`` at ``x``, by autograd (chapter 03).

    Parameters
    ----------
    name : str
        One of :data:`kexue.activations.numpy_ref.NAMES`.
    x : torch.Tensor, any shape
        Floating-point input.

    Returns
    -------
    torch.Tensor, same shape, dtype and device as ``x``
        f'(x) (the activations act elementwise, so the gradient of the sum is f').

    Raises
    ------
    ValueError
        For an unknown activation.
    TypeError
        If ``x`` is not a floating-point tensor.
    """
    get(name)
    x = _as_float(x).detach().clone().requires_grad_(True)
    y = activation(name, x)
    (g,) = torch.autograd.grad(y.sum(), x)
    return g


class Activation(torch.nn.Module):
    """An activation by name, as a module for ``nn.Sequential`` (chapter 03).

    Parameters
    ----------
    name : str
        One of :data:`kexue.activations.numpy_ref.NAMES`.

    Raises
    ------
    ValueError
        For an unknown activation.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.fn = get(name)
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the activation elementwise.

        Parameters
        ----------
        x : torch.Tensor, any shape
            Floating-point input.

        Returns
        -------
        torch.Tensor, same shape as ``x``
            f(x).

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point tensor.
        """
        return self.fn(_as_float(x))

    def extra_repr(self) -> str:
        """The activation's name, shown by ``repr``."""
        return self.name


def mlp(name: str, sizes: Sequence[int]) -> torch.nn.Sequential:
    """An MLP with activation ``name`` between its linear layers, logits out (chapter 03).

    Parameters
    ----------
    name : str
        One of :data:`kexue.activations.numpy_ref.NAMES`.
    sizes : sequence of int
        Layer sizes, input first and output last (at least two, each >= 1).

    Returns
    -------
    torch.nn.Sequential
        ``Flatten``, then ``Linear`` layers with the activation between them; maps
        (batch, ...) inputs with ``sizes[0]`` values each to (batch, sizes[-1]) logits.

    Raises
    ------
    ValueError
        For an unknown activation or bad sizes.
    """
    get(name)
    if isinstance(sizes, (str, bytes)) or len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output size, got {sizes!r}")
    sizes = [_validate.int_at_least(s, "every layer size", 1) for s in sizes]
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(Activation(name))
    return torch.nn.Sequential(*layers)


def mlp_layer_gradients(name: str, weights: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Weight-gradient norm of every layer of a bias-free MLP, by autograd (chapter 03).

    The twin of :func:`kexue.activations.numpy_ref.mlp_layer_gradients`: ``h_k = f(h_{k-1} W_k)``
    with ``h_0 = x``, loss = mean of the last layer's activated outputs.

    Parameters
    ----------
    name : str
        The activation, one of :data:`kexue.activations.numpy_ref.NAMES`.
    weights : sequence of torch.Tensor, shape (fan_in_k, fan_out_k) each
        The weight matrices, first layer first; ``fan_out_k = fan_in_{k+1}``.  They are not
        modified (the gradients are taken with respect to detached copies).
    x : torch.Tensor, shape (batch, fan_in_0)
        Floating-point inputs, at least one row.

    Returns
    -------
    torch.Tensor, shape (depth,)
        ``||dloss/dW_k||`` for each layer, first layer first, in the dtype and on the
        device of ``x``.

    Raises
    ------
    ValueError
        For an unknown activation, an empty or non-chaining list of weights, an empty
        batch, or non-finite input.
    TypeError
        If ``x`` or a weight is not a floating-point tensor.
    """
    get(name)
    if not isinstance(weights, (list, tuple)) or not weights:
        raise ValueError(_validate.MLP_WEIGHTS.format(type(weights).__name__ if not isinstance(weights, (list, tuple))
                                                      else "an empty sequence"))
    x = _as_float(x)
    if x.ndim != 2:
        raise ValueError(_validate.MATRIX_SHAPE.format("x", "(batch, width)", tuple(x.shape)))
    if x.shape[0] == 0:
        raise ValueError(_validate.NONEMPTY.format("x", tuple(x.shape), "row of a matrix (batch, width)"))
    if x.device.type != "meta" and not bool(torch.isfinite(x).all()):
        raise ValueError(_validate.NONFINITE.format("x"))
    ws, cols, what = [], x.shape[1], "x"
    for k, w in enumerate(weights):
        w = _as_float(w)
        if w.ndim != 2:
            raise ValueError(_validate.MATRIX_SHAPE.format(f"weights[{k}]", "(fan_in, fan_out)", tuple(w.shape)))
        if w.shape[0] != cols:
            raise ValueError(_validate.MLP_CHAIN.format(what, cols, f"weights[{k}]", w.shape[0]))
        if w.device.type != "meta" and not bool(torch.isfinite(w).all()):
            raise ValueError(_validate.NONFINITE.format(f"weights[{k}]"))
        ws.append(w.detach().clone().requires_grad_(True))
        cols, what = w.shape[1], f"weights[{k}]"
    with torch.enable_grad():
        h = x.detach()
        for w in ws:
            h = activation(name, h @ w)                         # shape (batch, fan_out_k)
        grads = torch.autograd.grad(h.mean(), ws)
    return torch.stack([g.norm() for g in grads]).to(x.dtype)
