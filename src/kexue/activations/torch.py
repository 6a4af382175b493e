"""PyTorch versions of chapter 03's activations (``chapters/03-activation-design.md``), tested against ``numpy_ref``.

The chapter's MNIST experiment is in :mod:`kexue.activations.experiment`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from kexue import _validate
from kexue.activations.numpy_ref import NAMES


def xmin(x: torch.Tensor) -> torch.Tensor:
    """x·min(1, eˣ) as max(x, x·e^{-|x|}): finite value and gradient for any finite x."""
    return torch.maximum(x, x * torch.exp(-x.abs()))


def xmin_naive(x: torch.Tensor) -> torch.Tensor:
    """The literal form: its gradient is NaN where eˣ overflows (0·∞ in the unselected branch)."""
    return x * torch.minimum(torch.ones_like(x), torch.exp(x))


def softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + eˣ)``.  ``F.softplus`` returns ``x`` itself above ``threshold=20``, an error of
    ``e^-20 ≈ 2e-9`` that float32 cannot see but float64 can; in float64 the switch moves to 40."""
    return F.softplus(x, threshold=40.0 if x.dtype == torch.float64 else 20.0)


_FUNCS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu, "softplus": softplus,
          "swish": F.silu, "xmin": xmin}


def get(name: str):
    """The activation ``name`` as a function of a tensor."""
    if name not in _FUNCS:
        raise ValueError(_validate.ACT_NAME.format(name, ", ".join(NAMES)))
    return _FUNCS[name]


def activation(name: str, x: torch.Tensor) -> torch.Tensor:
    """Value of activation ``name`` at a floating-point tensor ``x``."""
    fn = get(name)
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
        raise TypeError(_validate.ACT_FLOAT.format(f"dtype {x.dtype}" if isinstance(x, torch.Tensor)
                                                     else f"{type(x).__name__} (pass a torch.Tensor)"))
    return fn(x)


def derivative(name: str, x: torch.Tensor) -> torch.Tensor:
    """Elementwise derivative by autograd (the activations act elementwise)."""
    x = x.detach().clone().requires_grad_(True)
    y = activation(name, x)
    (g,) = torch.autograd.grad(y.sum(), x)
    return g


class Activation(torch.nn.Module):
    """An activation by name, as a module (for ``nn.Sequential``)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.fn = get(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def mlp(name: str, sizes: list[int]) -> torch.nn.Sequential:
    """An MLP with the given layer sizes and activation ``name`` between layers (logits out)."""
    layers: list[torch.nn.Module] = [torch.nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(Activation(name))
    return torch.nn.Sequential(*layers)


def mlp_layer_gradients(name: str, weights: list, x) -> list[float]:
    """Autograd counterpart of ``numpy_ref.mlp_layer_gradients`` for given weights and input (float64)."""
    ws = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    h = torch.tensor(x, dtype=torch.float64)
    for w in ws:
        h = activation(name, h @ w)
    h.mean().backward()
    return [float(w.grad.norm()) for w in ws]
