"""A linear-chain CRF layer in PyTorch (chapter 05, ``chapters/05-crf.md``).

Same conventions as :mod:`kexue.crf.numpy_ref`: ``trans[i, j]`` scores label ``i`` followed by
label ``j``; emissions are ``(B, T, K)`` raw scores; masks are right-padding masks ``(B, T)``.
"""
from __future__ import annotations

import torch
from torch import nn

NEG = -1e9  # score of a forbidden move in constrained decoding


def _validate(emissions: torch.Tensor, tags: torch.Tensor | None, mask: torch.Tensor | None,
              num_tags: int) -> torch.Tensor:
    """Check shapes and values; return a boolean mask ``(B, T)``."""
    if emissions.dim() != 3:
        raise ValueError(f"emissions must have shape (B, T, K), got {tuple(emissions.shape)}")
    B, T, K = emissions.shape
    if K != num_tags:
        raise ValueError(f"emissions have K = {K} labels but the CRF has num_tags = {num_tags}")
    if T == 0:
        raise ValueError("zero-length sequence: emissions have T = 0 steps")
    if not torch.isfinite(emissions).all():
        raise ValueError("emissions contain non-finite values (nan or inf)")
    if tags is not None:
        if tags.shape != (B, T):
            raise ValueError(f"tags must have shape {(B, T)} to match emissions, got {tuple(tags.shape)}")
        if tags.dtype.is_floating_point or tags.dtype == torch.bool:
            raise ValueError(f"tags must be integers, got dtype {tags.dtype}")
    if mask is None:
        mask = torch.ones(B, T, dtype=torch.bool, device=emissions.device)
    else:
        if mask.shape != (B, T):
            raise ValueError(f"mask must have shape {(B, T)} to match emissions, got {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            if not ((mask == 0) | (mask == 1)).all():
                raise ValueError("mask must contain only 0/1 (or booleans)")
            mask = mask.bool()
        if not mask[:, 0].all():
            raise ValueError("every sequence needs at least one step and the mask must start with 1 "
                             "(zero-length sequence or left padding)")
        if (~mask[:, :-1] & mask[:, 1:]).any():
            raise ValueError("mask has a gap (a 0 followed by a 1): only right padding is supported")
    if tags is not None:
        real = tags[mask]
        if real.numel() and (real.min() < 0 or real.max() >= num_tags):
            raise ValueError(f"tag out of range: tags must lie in [0, {num_tags}), got min "
                             f"{int(real.min())}, max {int(real.max())}")
    return mask


class CRF(nn.Module):
    """Linear-chain CRF: a trainable transition matrix (and optional start/end scores).

    ``forward(emissions, tags, mask)`` returns the mean negative log-likelihood;
    :meth:`decode` returns Viterbi paths.  ``start_end=False`` (the default) follows the
    original post: no start/end scores.
    """

    def __init__(self, num_tags: int, start_end: bool = False) -> None:
        super().__init__()
        if num_tags < 1:
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

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sequence negative log-likelihood ``(B,)``."""
        mask = _validate(emissions, tags, mask, self.num_tags)
        return self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean negative log-likelihood over the batch (the training loss)."""
        return self.nll(emissions, tags, mask).mean()

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None, *,
               allowed: torch.Tensor | None = None, allowed_start: torch.Tensor | None = None,
               allowed_end: torch.Tensor | None = None, pad: int = -1) -> torch.Tensor:
        """Viterbi paths ``(B, T)`` (padded with ``pad``), vectorised over the batch.

        One Python loop over time (the max-recursion, storing back-pointers).  The back-tracking
        is not a second loop over time: it composes the back-pointer maps by pointer doubling
        (``ceil(log2 T)`` batched gathers).  Optional boolean constraints: ``allowed`` (K, K)
        transitions, ``allowed_start`` / ``allowed_end`` (K,) first and last labels.
        """
        mask = _validate(emissions, None, mask, self.num_tags)
        B, T, K = emissions.shape
        trans = self.trans.detach().to(emissions.dtype)
        start = torch.zeros(K, dtype=emissions.dtype) if self.start is None else self.start.detach().to(emissions.dtype)
        end = torch.zeros(K, dtype=emissions.dtype) if self.end is None else self.end.detach().to(emissions.dtype)
        if allowed is not None:
            trans = trans.masked_fill(~torch.as_tensor(allowed, dtype=torch.bool), NEG)
        if allowed_start is not None:
            start = start.masked_fill(~torch.as_tensor(allowed_start, dtype=torch.bool), NEG)
        if allowed_end is not None:
            end = end.masked_fill(~torch.as_tensor(allowed_end, dtype=torch.bool), NEG)
        score = emissions[:, 0] + start                                            # (B, K)
        labels = torch.arange(K, device=emissions.device).expand(B, K)
        back = torch.empty(B, T, K, dtype=torch.long, device=emissions.device)
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
