"""A linear-chain CRF layer in PyTorch (chapter 05, ``chapters/05-crf.md``).

Same conventions as :mod:`kexue.crf.numpy_ref`: ``trans[i, j]`` scores label ``i`` followed by
label ``j``; emissions are ``(B, T, K)`` raw scores; masks are right-padding masks ``(B, T)``.
"""
from __future__ import annotations

from typing import List, Optional

import torch
from torch import nn

from kexue import _validate


def _shape(shape: List[int]) -> str:
    """A shape written as Python writes a tuple, ``(2, 3)`` or ``(3,)`` (TorchScript has no ``tuple(shape)``)."""
    if len(shape) == 1:
        return "(" + str(shape[0]) + ",)"
    return "(" + ", ".join([str(d) for d in shape]) + ")"


def _validate_inputs(emissions: torch.Tensor, tags: Optional[torch.Tensor], mask: Optional[torch.Tensor],
                     num_tags: int) -> torch.Tensor:
    """Check shapes and values (the numpy reference's checks and messages); return a boolean mask ``(B, T)``."""
    if not torch.jit.is_scripting():     # scripted code is typed already; eager code may get lists or arrays
        _validate.torch_tensor(emissions, "emissions")
        for name, x in (("tags", tags), ("mask", mask)):
            if x is not None:
                _validate.torch_tensor(x, name)
    if emissions.dim() != 3:
        raise ValueError("emissions must have shape (B, T, K), got " + _shape(emissions.shape))
    if not emissions.is_floating_point():
        raise ValueError("emissions must be a floating-point tensor, got dtype " + str(emissions.dtype))
    B, T, K = emissions.shape[0], emissions.shape[1], emissions.shape[2]
    if K != num_tags:
        raise ValueError("emissions have K = " + str(K) + " labels but the CRF has num_tags = " + str(num_tags))
    if T == 0:
        raise ValueError("zero-length sequence: emissions have T = 0 steps")
    if not bool(torch.isfinite(emissions).all()):
        raise ValueError("emissions contain non-finite values (nan or inf)")
    if tags is not None:
        if tags.dim() != 2 or tags.shape[0] != B or tags.shape[1] != T:
            raise ValueError(_validate.TAGS_SHAPE.format(_shape([B, T]), _shape(tags.shape)))
        if tags.is_floating_point() or tags.is_complex() or tags.dtype == torch.bool:
            raise ValueError(_validate.TAGS_INT.format(str(tags.dtype)))
    if mask is None:
        mask = torch.ones(B, T, dtype=torch.bool, device=emissions.device)
    else:
        if mask.dim() != 2 or mask.shape[0] != B or mask.shape[1] != T:
            raise ValueError("mask must have shape " + _shape([B, T]) + " to match emissions, got " + _shape(mask.shape))
        if mask.dtype != torch.bool:
            if not bool(((mask == 0) | (mask == 1)).all()):
                raise ValueError("mask must contain only 0/1 (or booleans)")
            mask = mask != 0
        if not bool(mask[:, 0].all()):
            raise ValueError("every sequence needs at least one step and the mask must start with 1 "
                             "(zero-length sequence or left padding)")
        if bool((~mask[:, :-1] & mask[:, 1:]).any()):
            raise ValueError("mask has a gap (a 0 followed by a 1): only right padding is supported")
    if tags is not None:
        real = tags[mask]
        if real.numel() > 0:
            lo, hi = int(real.min()), int(real.max())
            if lo < 0 or hi >= num_tags:
                raise ValueError(_validate.TAGS_RANGE.format(num_tags, lo, hi))
    return mask


def _constraint(a: Optional[torch.Tensor], size: List[int], name: str, device: torch.device) -> Optional[torch.Tensor]:
    """A boolean hard-constraint mask of exactly ``size`` on ``device`` (``None`` passes through)."""
    if a is None:
        return None
    if a.dtype != torch.bool:
        if not bool(((a == 0) | (a == 1)).all()):
            raise ValueError(name + " must contain only booleans (or 0/1)")
        a = a != 0
    if list(a.shape) != size:
        raise ValueError(_validate.CONSTRAINT_SHAPE.format(name, _shape(size), _shape(a.shape)))
    return a.to(device)


class CRF(nn.Module):
    """Linear-chain CRF: a trainable transition matrix (and optional start/end scores).

    ``forward(emissions, tags, mask)`` returns the mean negative log-likelihood;
    :meth:`decode` returns Viterbi paths.  ``start_end=False`` (the default) follows the
    original post: no start/end scores.  The module compiles with ``torch.jit.script``
    and ``torch.compile``; every tensor it creates lives on the input's device.
    """

    def __init__(self, num_tags: int, start_end: bool = False) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        limit = (6.0 / (2 * num_tags)) ** 0.5   # glorot_uniform, as in the original Keras layer
        self.trans = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-limit, limit))
        if start_end:
            self.start = nn.Parameter(torch.zeros(num_tags))
            self.end = nn.Parameter(torch.zeros(num_tags))
        else:
            self.register_parameter("start", None)
            self.register_parameter("end", None)

    # ------------------------------------------------------------------ scores
    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Score of the given paths ``(B,)`` (mask must already be validated, boolean)."""
        m = mask.to(emissions.dtype)
        tags = tags.long().masked_fill(~mask, 0)
        point = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)                 # (B, T)
        score = (point * m).sum(1)
        pair = self.trans[tags[:, :-1], tags[:, 1:]]                              # (B, T-1)
        score = score + (pair * m[:, 1:]).sum(1)
        if self.start is not None:
            last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
            score = score + self.start[tags[:, 0]] + self.end[last]
        return score

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``log Z`` ``(B,)`` by the forward recursion; padded steps keep the previous state."""
        alpha = emissions[:, 0]
        if self.start is not None:
            alpha = alpha + self.start
        trans = self.trans.unsqueeze(0)                                            # (1, from, to)
        for t in range(1, emissions.shape[1]):
            new = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]  # over *from*
            alpha = torch.where(mask[:, t:t + 1], new, alpha)
        if self.end is not None:
            alpha = alpha + self.end
        return torch.logsumexp(alpha, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Per-sequence negative log-likelihood ``(B,)``."""
        mask = _validate_inputs(emissions, tags, mask, self.num_tags)
        return self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mean negative log-likelihood over the batch (the training loss)."""
        return self.nll(emissions, tags, mask).mean()

    # ------------------------------------------------------------------ decoding
    @torch.jit.export
    def decode(self, emissions: torch.Tensor, mask: Optional[torch.Tensor] = None,
               allowed: Optional[torch.Tensor] = None, allowed_start: Optional[torch.Tensor] = None,
               allowed_end: Optional[torch.Tensor] = None, pad: int = -1) -> torch.Tensor:
        """Viterbi paths ``(B, T)`` (padded with ``pad``), vectorised over the batch; no gradient.

        One Python loop over time (the max-recursion, storing back-pointers).  The back-tracking
        is not a second loop over time: it composes the back-pointer maps by pointer doubling
        (``ceil(log2 T)`` batched gathers).  Optional boolean constraints: ``allowed`` (K, K)
        transitions, ``allowed_start`` / ``allowed_end`` (K,) first and last labels.  A forbidden
        move scores ``-inf``, as in :func:`kexue.crf.numpy_ref.viterbi`, so no emission can buy it.
        """
        mask = _validate_inputs(emissions, None, mask, self.num_tags)
        emissions = emissions.detach()
        B, T, K = emissions.shape[0], emissions.shape[1], emissions.shape[2]
        dev, dt = emissions.device, emissions.dtype
        trans = self.trans.detach().to(device=dev, dtype=dt)
        start = torch.zeros(K, dtype=dt, device=dev)
        end = torch.zeros(K, dtype=dt, device=dev)
        s, e = self.start, self.end
        if s is not None:
            start = s.detach().to(device=dev, dtype=dt)
        if e is not None:
            end = e.detach().to(device=dev, dtype=dt)
        allowed = _constraint(allowed, [K, K], "allowed", dev)
        allowed_start = _constraint(allowed_start, [K], "allowed_start", dev)
        allowed_end = _constraint(allowed_end, [K], "allowed_end", dev)
        if allowed is not None:
            trans = trans.masked_fill(~allowed, float("-inf"))
        if allowed_start is not None:
            start = start.masked_fill(~allowed_start, float("-inf"))
        if allowed_end is not None:
            end = end.masked_fill(~allowed_end, float("-inf"))
        score = emissions[:, 0] + start                                            # (B, K)
        labels = torch.arange(K, device=dev).expand(B, K)
        back = torch.empty(B, T, K, dtype=torch.long, device=dev)
        for t in range(1, T):
            best, arg = (score.unsqueeze(2) + trans).max(dim=1)                    # over *from*
            real = mask[:, t:t + 1]
            score = torch.where(real, best + emissions[:, t], score)
            back[:, t - 1] = torch.where(real, arg, labels)    # label at t-1 given label at t
        back[:, T - 1] = labels                                 # padding steps: identity maps
        # maps[:, t] sends the last label to the label at t: compose back[t] ∘ back[t+1] ∘ ...
        maps, d = back, 1
        while d < T:
            maps = torch.cat([maps[:, :T - d].gather(2, maps[:, d:]), maps[:, T - d:]], dim=1)
            d *= 2
        last = (score + end).argmax(dim=1)                                         # (B,)
        out = maps.gather(2, last.view(B, 1, 1).expand(B, T, 1)).squeeze(2)        # (B, T)
        return out.masked_fill(~mask, pad)
