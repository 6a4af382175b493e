"""A linear-chain CRF layer in PyTorch (chapter 05, ``chapters/05-crf.md``).

Same conventions as :mod:`kexue.crf.numpy_ref`: ``trans[i, j]`` scores label ``i`` followed by
label ``j``; emissions are ``(B, T, K)`` raw scores; masks are right-padding masks ``(B, T)``
(``True`` = a real step).  The twin of :class:`kexue.crf.keras.CRF`: the same constructor, the
same methods with the same parameters, the same checks and messages.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import nn

from kexue import _validate


def _shape(shape: List[int]) -> str:
    """A shape written as Python writes a tuple, ``(2, 3)`` or ``(3,)`` (TorchScript has no ``tuple(shape)``)."""
    if len(shape) == 1:
        return "(" + str(shape[0]) + ",)"
    return "(" + ", ".join([str(d) for d in shape]) + ")"


def _validate_inputs(emissions: torch.Tensor, tags: Optional[torch.Tensor], mask: Optional[torch.Tensor],
                     num_tags: int, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
    """Check shapes and values (the numpy reference's checks and messages).

    Returns the emissions (integer or boolean ones cast to ``dtype``, as numpy casts them) and
    a boolean mask ``(B, T)``.
    """
    if not torch.jit.is_scripting():     # scripted code is typed already; eager code may get lists or arrays
        _validate.torch_tensor(emissions, "emissions")
        for name, x in (("tags", tags), ("mask", mask)):
            if x is not None:
                _validate.torch_tensor(x, name)
    if emissions.dim() != 3:
        raise ValueError(_validate.CRF_EM_BATCH.format(_shape(emissions.shape)))
    if emissions.is_complex():
        raise ValueError(_validate.CRF_EM_FLOAT.format(str(emissions.dtype)))
    if not emissions.is_floating_point():
        emissions = emissions.to(dtype)
    B, T, K = emissions.shape[0], emissions.shape[1], emissions.shape[2]
    if K != num_tags:
        raise ValueError(_validate.CRF_K.format(K, num_tags))
    if T == 0:
        raise ValueError(_validate.CRF_ZERO_LENGTH)
    if not bool(torch.isfinite(emissions).all()):
        raise ValueError(_validate.CRF_NONFINITE.format("emissions"))
    if tags is not None:
        if tags.dim() != 2 or tags.shape[0] != B or tags.shape[1] != T:
            raise ValueError(_validate.TAGS_SHAPE.format(_shape([B, T]), _shape(tags.shape)))
        if tags.is_floating_point() or tags.is_complex() or tags.dtype == torch.bool:
            raise ValueError(_validate.TAGS_INT.format(str(tags.dtype)))
    if mask is None:
        mask = torch.ones(B, T, dtype=torch.bool, device=emissions.device)
    else:
        if mask.dim() != 2 or mask.shape[0] != B or mask.shape[1] != T:
            raise ValueError(_validate.CRF_MASK_SHAPE.format(_shape([B, T]), _shape(mask.shape)))
        if mask.dtype != torch.bool:
            if not bool(((mask == 0) | (mask == 1)).all()):
                raise ValueError(_validate.CRF_MASK_01)
            mask = mask != 0
        if not bool(mask[:, 0].all()):
            raise ValueError(_validate.CRF_MASK_START)
        if bool((~mask[:, :-1] & mask[:, 1:]).any()):
            raise ValueError(_validate.CRF_MASK_GAP)
    if tags is not None:
        real = tags[mask]
        if real.numel() > 0:
            lo, hi = int(real.min()), int(real.max())
            if lo < 0 or hi >= num_tags:
                raise ValueError(_validate.TAGS_RANGE.format(num_tags, lo, hi))
    return emissions, mask


def _constraint(a: Optional[torch.Tensor], size: List[int], name: str, device: torch.device) -> Optional[torch.Tensor]:
    """A boolean hard-constraint mask of exactly ``size`` on ``device`` (``None`` passes through)."""
    if a is None:
        return None
    if not torch.jit.is_scripting():
        _validate.torch_tensor(a, name)
    if a.dtype != torch.bool:
        if not bool(((a == 0) | (a == 1)).all()):
            raise ValueError(_validate.CONSTRAINT_BOOL.format(name))
        a = a != 0
    if list(a.shape) != size:
        raise ValueError(_validate.CONSTRAINT_SHAPE.format(name, _shape(size), _shape(a.shape)))
    return a.to(device)


class CRF(nn.Module):
    """Linear-chain CRF: a trainable transition matrix and optional start/end scores (chapter 05).

    ``forward(emissions, tags, mask)`` returns the mean negative log-likelihood (the training
    loss); :meth:`nll` the per-sequence values; :meth:`decode` the Viterbi paths.  The module
    compiles with ``torch.jit.script`` and ``torch.compile``; every tensor it creates lives on
    the input's device.

    Parameters
    ----------
    num_tags : int
        Number of labels ``K`` (>= 1).
    start_end : bool, optional
        ``False`` (the default) follows the original post: no start/end scores.  ``True``
        adds trainable scores of the first and last label, initialised at zero.

    Attributes
    ----------
    trans : torch.nn.Parameter, shape (num_tags, num_tags)
        Transition scores, row = previous tag; Glorot-uniform initial values (as Keras).
    start, end : torch.nn.Parameter, shape (num_tags,), or None
        Scores of the first and last tag (``None`` unless ``start_end``).

    Raises
    ------
    ValueError
        If ``num_tags`` is not an integer >= 1.
    """

    def __init__(self, num_tags: int, start_end: bool = False) -> None:
        super().__init__()
        num_tags = _validate.crf_num_tags(num_tags)
        self.num_tags = num_tags
        self.start_end = bool(start_end)
        limit = (6.0 / (2 * num_tags)) ** 0.5   # glorot_uniform, as in the original Keras layer
        self.trans = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-limit, limit))
        if start_end:
            self.start = nn.Parameter(torch.zeros(num_tags))
            self.end = nn.Parameter(torch.zeros(num_tags))
        else:
            self.register_parameter("start", None)
            self.register_parameter("end", None)

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        """Refuse NaN or infinite transition / start / end scores (the numpy reference's check)."""
        if not bool(torch.isfinite(self.trans).all()):
            raise ValueError(_validate.CRF_NONFINITE.format("transition scores trans"))
        s, e = self.start, self.end
        if s is not None:
            if not bool(torch.isfinite(s).all()):
                raise ValueError(_validate.CRF_NONFINITE.format("start scores"))
        if e is not None:
            if not bool(torch.isfinite(e).all()):
                raise ValueError(_validate.CRF_NONFINITE.format("end scores"))

    def _prepare(self, emissions: torch.Tensor, tags: Optional[torch.Tensor],
                 mask: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        self._check_params()
        return _validate_inputs(emissions, tags, mask, self.num_tags, self.trans.dtype)

    # ------------------------------------------------------------------ scores
    def _path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.to(emissions.dtype)                                               # (B, T)
        tags = tags.long().masked_fill(~mask, 0)                                   # (B, T)
        point = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)                  # (B, T)
        score = (point * m).sum(1)                                                 # (B,)
        pair = self.trans[tags[:, :-1], tags[:, 1:]]                               # (B, T-1)
        score = score + (pair * m[:, 1:]).sum(1)
        s, e = self.start, self.end
        if s is not None and e is not None:
            last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)       # (B,)
            score = score + s[tags[:, 0]] + e[last]
        return score

    @torch.jit.export
    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: Optional[torch.Tensor] = None
                   ) -> torch.Tensor:
        """Scores of the given tag paths (chapter 05).

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores ``h(y_t | x)``.
        tags : Tensor of int, shape (batch, length)
            The paths, tags in ``[0, num_tags)`` on real steps (padded steps are ignored).
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step; padding only at the end of a row.  Default: no padding.

        Returns
        -------
        Tensor, shape (batch,)
            ``sum_t h[t, y_t] + sum_t trans[y_t, y_{t+1}]`` (+ start/end scores) per sequence.

        Raises
        ------
        ValueError
            If a shape or value is malformed (see :func:`kexue.crf.numpy_ref.path_score`).
        """
        emissions, mask = self._prepare(emissions, tags, mask)
        return self._path_score(emissions, tags, mask)

    @torch.jit.export
    def log_partition(self, emissions: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``log Z`` of every sequence by the forward recursion (chapter 05, log space).

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores ``h(y_t | x)``.
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step; padding only at the end of a row.  Default: no padding.

        Returns
        -------
        Tensor, shape (batch,)
            ``log Z`` per sequence; padded steps keep the previous state.

        Raises
        ------
        ValueError
            If a shape or value is malformed.
        """
        emissions, mask = self._prepare(emissions, None, mask)
        alpha = emissions[:, 0]                                                    # (B, K)
        s, e = self.start, self.end
        if s is not None:
            alpha = alpha + s
        trans = self.trans.unsqueeze(0)                                            # (1, from, to)
        for t in range(1, emissions.shape[1]):
            new = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]  # over *from*: (B, to)
            alpha = torch.where(mask[:, t:t + 1], new, alpha)                      # padded step: keep state
        if e is not None:
            alpha = alpha + e
        return torch.logsumexp(alpha, dim=1)                                       # (B,)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: Optional[torch.Tensor] = None,
            reduction: str = "none") -> torch.Tensor:
        """Negative log-likelihood of the gold paths (chapter 05).

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores ``h(y_t | x)``.
        tags : Tensor of int, shape (batch, length)
            Gold tags in ``[0, num_tags)`` on real steps (padded steps are ignored).
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step; padding only at the end of a row.  Default: no padding.
        reduction : {"none", "mean"}, optional
            ``"none"``: one value per sequence; ``"mean"``: their mean.

        Returns
        -------
        Tensor, shape (batch,) or ()
            ``log Z - score(tags)`` per sequence, or its mean.

        Raises
        ------
        ValueError
            If a shape or value is malformed, or ``reduction="mean"`` gets an empty batch.
        """
        if reduction != "none" and reduction != "mean":
            raise ValueError(_validate.REDUCTION.format(reduction))
        emissions, mask = self._prepare(emissions, tags, mask)
        out = self.log_partition(emissions, mask) - self._path_score(emissions, tags, mask)
        if reduction == "mean":
            if out.shape[0] == 0:
                raise ValueError(_validate.CRF_EMPTY_BATCH)
            return out.mean()
        return out

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """The training loss: the mean negative log-likelihood over the batch (chapter 05).

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores.
        tags : Tensor of int, shape (batch, length)
            Gold tags.
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step.

        Returns
        -------
        Tensor, shape ()
            ``nll(emissions, tags, mask, reduction="mean")``.
        """
        return self.nll(emissions, tags, mask, "mean")

    # ------------------------------------------------------------------ decoding
    @torch.jit.export
    def decode(self, emissions: torch.Tensor, mask: Optional[torch.Tensor] = None,
               allowed: Optional[torch.Tensor] = None, allowed_start: Optional[torch.Tensor] = None,
               allowed_end: Optional[torch.Tensor] = None, pad: int = -1) -> torch.Tensor:
        """Viterbi paths, vectorised over the batch, without gradient (chapter 05).

        One Python loop over time (the max-recursion, storing back-pointers).  The back-tracking
        is not a second loop over time: it composes the back-pointer maps by pointer doubling
        (``ceil(log2 T)`` batched gathers).  A forbidden move scores ``-inf``, as in
        :func:`kexue.crf.numpy_ref.viterbi`, so no emission can buy it.

        Parameters
        ----------
        emissions : Tensor, shape (batch, length, num_tags)
            Emission scores.
        mask : Tensor of bool, shape (batch, length), optional
            True = a real step; padding only at the end of a row.  Default: no padding.
        allowed : Tensor of bool, shape (num_tags, num_tags), optional
            Allowed transitions (``True`` = allowed, row = previous tag).
        allowed_start, allowed_end : Tensor of bool, shape (num_tags,), optional
            Allowed first and last tags.
        pad : int, optional
            Written on padded steps.

        Returns
        -------
        Tensor of int64, shape (batch, length)
            The best path of every sequence, ``pad`` on padded steps.

        Raises
        ------
        ValueError
            If an input is malformed, or the constraints leave a sequence no legal path.
        """
        emissions, mask = self._prepare(emissions, None, mask)
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
            best, arg = (score.unsqueeze(2) + trans).max(dim=1)                    # over *from*: (B, to)
            real = mask[:, t:t + 1]
            score = torch.where(real, best + emissions[:, t], score)
            back[:, t - 1] = torch.where(real, arg, labels)    # label at t-1 given label at t
        back[:, T - 1] = labels                                 # padding steps: identity maps
        final = score + end                                                        # (B, K)
        if B > 0:
            dead = torch.isinf(final.max(dim=1)[0])                                # (B,): no legal path
            if bool(dead.any()):
                row = int(dead.nonzero()[0, 0])
                raise ValueError(_validate.CRF_NO_PATH.format(int(mask[row].sum())))
        # maps[:, t] sends the last label to the label at t: compose back[t] ∘ back[t+1] ∘ ...
        maps, d = back, 1
        while d < T:
            maps = torch.cat([maps[:, :T - d].gather(2, maps[:, d:]), maps[:, T - d:]], dim=1)
            d *= 2
        last = final.argmax(dim=1)                                                 # (B,)
        out = maps.gather(2, last.view(B, 1, 1).expand(B, T, 1)).squeeze(2)        # (B, T)
        return out.masked_fill(~mask, pad)
