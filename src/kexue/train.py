"""The book's one PyTorch training loop: :func:`fit`, its batch samplers and :func:`predict`.

Used by every chapter that trains in PyTorch: ``chapters/01-keras-custom-loss.md``
(:mod:`kexue.losses.experiment`), ``chapters/02-rnn-saliency.md`` (:mod:`kexue.saliency.torch`),
``chapters/03-activation-design.md`` (:mod:`kexue.activations.experiment`),
``chapters/04-pmi-word-vectors.md`` (:mod:`kexue.pmi.torch`),
``chapters/05-crf.md`` (:mod:`kexue.crf.experiment`), ``chapters/06-attention.md``
(:mod:`kexue.attention.experiment`), ``chapters/07-capsule.md`` and
``chapters/08-kmeans-capsule.md`` (:mod:`kexue.capsule.experiment`).  Keras chapters use
``model.fit``.  Importing this module imports PyTorch.

**The seeding rule.**  Two things are random in training, and each has one source:

1. *Everything PyTorch draws* (initial weights, dropout masks) comes from torch's global
   generator.  It is seeded once, by whoever *builds* the model, right before building it:
   a helper that builds a model takes ``seed`` and calls ``kexue.seed_everything(seed)``
   itself (so a chapter does not seed again before calling it), builds the model on the CPU
   (``with torch.device("cpu")``: the same initial weights whatever the training device or
   the default device) and lets :func:`fit` move it; a helper that *receives* a model never
   reseeds the weights and trains where the model is (:func:`place_model`).  :func:`fit` never reseeds torch, so dropout continues
   the stream that initialisation began.
2. *The batch order* (and anything else a sampler draws) comes from one
   ``np.random.default_rng(seed)`` that :func:`fit` creates when it starts.  At the start of
   every epoch the sampler draws that epoch's batches from it (:meth:`Batches.draw`); nothing
   else draws from it, so evaluating the model between epochs cannot change the training.

So the same initial weights, data and ``seed`` give the same losses, step for step.

A batch is an ``int64`` array of example indices; ``loss_fn(idx)`` builds the tensors it
needs from them and returns the batch's mean loss (optionally with per-batch sums of other
statistics, see :func:`fit`).  ``loss_fn`` builds its tensors on the model's device
(``fit(..., device=...)`` moves the model there first).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from kexue._validate import int_at_least
from kexue.progress import progress

__all__ = ["Batches", "shuffled", "bucketed", "in_order", "by_length", "fit", "History", "predict",
           "predict_proba", "model_device", "place_model"]

POOL = 50
"""Batches per bucketing pool: sorting inside pools of 50 batches keeps most of the padding
away while the batches still mix examples of neighbouring lengths."""


# ----------------------------------------------------------------------------- samplers
@dataclass(frozen=True, eq=False)
class Batches:
    """How the batches of one epoch are drawn: a fixed recipe, random only through ``rng``.

    Build it with :func:`shuffled`, :func:`bucketed`, :func:`in_order` or :func:`by_length`.
    ``len(batches)`` is the number of batches per epoch.

    Parameters
    ----------
    n : int
        Number of examples.
    batch_size : int
        Examples per batch (the last batch of an epoch may be smaller).
    lengths : numpy.ndarray of int, shape (n,), optional
        Length of each example, for bucketing or sorting by length.
    shuffle : bool, optional
        Draw a new random order every epoch (``False``: a fixed order, for prediction).
    pool : int, optional
        Batches sorted together when bucketing (``None``: the whole set).
    """

    n: int
    batch_size: int
    lengths: np.ndarray | None = field(default=None, repr=False)
    shuffle: bool = True
    pool: int | None = POOL

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def draw(self, rng: np.random.Generator | None) -> list[np.ndarray]:
        """The index batches of one epoch; each index ``0..n-1`` appears exactly once.

        Shuffled without lengths: one ``rng.permutation(n)`` cut into consecutive batches
        (the last one may be smaller).  Bucketed: ``rng.permutation(n)``, cut into pools of
        ``pool`` batches; inside each pool the indices are sorted by length (stable) and cut
        into batches; then the order of all batches is shuffled with ``rng.permutation``.
        Not shuffled: ``0..n-1`` in order, or sorted by length (stable) if lengths are given.

        Parameters
        ----------
        rng : numpy.random.Generator or None
            The batch-order generator; ``None`` only for a sampler that does not shuffle.

        Returns
        -------
        list of numpy.ndarray
            The batches, each an int64 index array of shape (b,), b <= ``batch_size``.

        Raises
        ------
        TypeError
            If a shuffling sampler gets no generator.
        """
        bs = self.batch_size
        if not self.shuffle:
            order = np.arange(self.n) if self.lengths is None else np.argsort(self.lengths, kind="stable")
            return [order[i:i + bs] for i in range(0, self.n, bs)]
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"a shuffled sampler needs a numpy Generator, got {type(rng).__name__}")
        perm = rng.permutation(self.n)
        if self.lengths is None:
            return [perm[i:i + bs] for i in range(0, self.n, bs)]
        chunk = self.n if self.pool is None else self.pool * bs
        out = []
        for i in range(0, self.n, chunk):
            part = perm[i:i + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]     # similar lengths together
            out.extend(part[j:j + bs] for j in range(0, len(part), bs))
        return [out[i] for i in rng.permutation(len(out))]


def _lengths(lengths) -> np.ndarray:
    arr = np.asarray(lengths)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValueError(f"lengths must be a non-empty 1-d sequence, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer) or (arr < 0).any():
        raise ValueError("lengths must be non-negative integers")
    return arr


def shuffled(n: int, batch_size: int) -> Batches:
    """A fresh random permutation of ``n`` examples every epoch, in batches of ``batch_size``.

    Parameters
    ----------
    n : int
        Number of examples (>= 1).
    batch_size : int
        Examples per batch (>= 1).

    Returns
    -------
    Batches
        The sampler, for :func:`fit`.
    """
    return Batches(int_at_least(n, "n", 1), int_at_least(batch_size, "batch_size", 1))


def bucketed(lengths: Sequence[int] | np.ndarray, batch_size: int, pool: int | None = POOL) -> Batches:
    """Batches of similar length in a random order (less padding).

    Parameters
    ----------
    lengths : sequence of int, shape (n,)
        Length of each example (non-negative).
    batch_size : int
        Examples per batch (>= 1).
    pool : int or None, optional
        Batches sorted together (``None``: the whole set at once); see :meth:`Batches.draw`.

    Returns
    -------
    Batches
        The sampler, for :func:`fit`.
    """
    arr = _lengths(lengths)
    if pool is not None:
        int_at_least(pool, "pool", 1)
    return Batches(len(arr), int_at_least(batch_size, "batch_size", 1), arr, True, pool)


def in_order(n: int, batch_size: int) -> Batches:
    """``0..n-1`` in consecutive batches (for :func:`predict`).

    Parameters
    ----------
    n : int
        Number of examples (>= 1).
    batch_size : int
        Examples per batch (>= 1).

    Returns
    -------
    Batches
        A sampler that does not shuffle.
    """
    return Batches(int_at_least(n, "n", 1), int_at_least(batch_size, "batch_size", 1), shuffle=False)


def by_length(lengths: Sequence[int] | np.ndarray, batch_size: int) -> Batches:
    """Indices sorted by length (stable) in consecutive batches (for :func:`predict` on padded data).

    Parameters
    ----------
    lengths : sequence of int, shape (n,)
        Length of each example (non-negative).
    batch_size : int
        Examples per batch (>= 1).

    Returns
    -------
    Batches
        A sampler that does not shuffle.
    """
    arr = _lengths(lengths)
    return Batches(len(arr), int_at_least(batch_size, "batch_size", 1), arr, shuffle=False)


# ----------------------------------------------------------------------------- training
@dataclass
class History:
    """What :func:`fit` measured.

    Attributes
    ----------
    epochs : list of dict
        One row per completed epoch: ``{"epoch": 1-based, "loss": mean over the epoch's
        examples, <statistic>: per-batch sums / examples, <evaluate's keys>...}``.
    steps : list of float
        The loss of every update, in order.
    """

    epochs: list[dict[str, float]] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)

    def column(self, key: str) -> list[float]:
        """One value per epoch, e.g. ``history.column("loss")``.

        Parameters
        ----------
        key : str
            A key of the epoch rows.

        Returns
        -------
        list of float
            The value of ``key`` in each epoch's row, in order (empty before the first epoch).

        Raises
        ------
        KeyError
            If an epoch's row has no ``key``, naming the keys it has.
        """
        missing = [row for row in self.epochs if key not in row]
        if missing:
            raise KeyError(f"no column {key!r} in epoch {missing[0].get('epoch')}; "
                           f"the rows have {sorted(missing[0])}")
        return [row[key] for row in self.epochs]


def _value(x) -> float:
    """A loss or statistic as a Python float; NaN for a meta tensor (it has no value)."""
    if isinstance(x, torch.Tensor):
        return math.nan if x.is_meta else float(x.detach())
    return float(x)


LossFn = Callable[[np.ndarray], "torch.Tensor | tuple[torch.Tensor, Mapping[str, float]]"]


def fit(model: nn.Module, loss_fn: LossFn, batches: Batches, *, epochs: int, seed: int,
        optimizer: torch.optim.Optimizer | None = None, lr: float = 1e-3,
        evaluate: Callable[[nn.Module, int], Mapping[str, float] | None] | None = None,
        on_epoch_end: Callable[[nn.Module, int, dict[str, float]], None] | None = None,
        device: str | torch.device | None = None,
        desc: str | None = None, bar: bool = True, max_steps: int | None = None,
        time_limit: float | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs over ``batches``; one progress bar over all updates.

    The book's one PyTorch training loop (every PyTorch chapter trains with it).

    Parameters
    ----------
    model : torch.nn.Module
        The module to train; put in train mode at the start of every epoch and in eval
        mode at the end.  Its weights are not reseeded (see the module's seeding rule).
    loss_fn : callable
        ``loss_fn(idx)`` for an index batch ``idx`` (int64 array, shape (b,)) returns the
        batch's mean loss (a scalar tensor), or ``(loss, stats)`` where ``stats`` maps names
        to per-batch *sums* (e.g. the number of correct predictions); each epoch reports
        ``sum / examples`` for them.  It builds its tensors on the model's device.
    batches : Batches
        The sampler (:func:`shuffled`, :func:`bucketed`, ...).
    epochs : int
        Number of passes (>= 0).
    seed : int
        Seeds the ``numpy`` generator of the batch order (see the module's seeding rule).
    optimizer : torch.optim.Optimizer, optional
        Default ``torch.optim.Adam(model.parameters(), lr=lr)``, built after the model has
        moved to ``device``.  Pass your own to train only some parameters.
    lr : float, optional
        Learning rate of the default optimizer.
    evaluate : callable, optional
        ``evaluate(model, epoch)`` (epoch 0-based) after every completed epoch, with the
        weights after that epoch; the mapping it returns is merged into the epoch's row.
        It must not draw from the batch generator (it cannot reach it).
    on_epoch_end : callable, optional
        ``on_epoch_end(model, epoch, row)`` after ``evaluate``, with the epoch's finished
        row (read-only by convention); for a learning-rate schedule or a checkpoint.
    device : str or torch.device, optional
        Moves the model there (``model.to(device)``) before training; ``None`` leaves it
        where it is.  On ``"meta"`` (no values, only shapes and devices) the whole loop runs
        as a dry run that checks every tensor is made on the model's device; its losses
        are NaN.
    desc : str, optional
        The progress bar's label.
    bar : bool, optional
        ``False`` draws no progress bar.
    max_steps : int, optional
        Stop after this many updates (a partial last epoch gets no row).
    time_limit : float, optional
        Stop after this many seconds (makes a run depend on the machine's speed).

    Returns
    -------
    History
        One row per completed epoch and the loss of every update.

    Raises
    ------
    FloatingPointError
        If a batch's loss is not finite; raised before the update, so the weights stay
        those of the last finite step.
    TypeError, ValueError
        If an argument has the wrong type or value.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if not isinstance(batches, Batches):
        raise TypeError(f"batches must be a kexue.train.Batches (from shuffled, bucketed, ...), "
                        f"got {type(batches).__name__}")
    epochs = int_at_least(epochs, "epochs", 0)
    seed = int_at_least(seed, "seed", 0)
    if max_steps is not None:
        max_steps = int_at_least(max_steps, "max_steps", 1)
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    for name, hook in (("evaluate", evaluate), ("on_epoch_end", on_epoch_end)):
        if hook is not None and not callable(hook):
            raise TypeError(f"{name} must be callable, got {type(hook).__name__}")
    if device is not None:
        if not isinstance(device, (str, torch.device)):
            raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
        model.to(torch.device(device))
    if optimizer is None:
        if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")

    rng = np.random.default_rng(seed)
    total = epochs * len(batches) if max_steps is None else min(max_steps, epochs * len(batches))
    history = History()
    t0 = time.perf_counter()
    pbar = progress(total=total, desc=desc, unit="batch") if bar else None
    try:
        for epoch in range(epochs):
            model.train()
            loss_sum, seen, sums = 0.0, 0, {}
            for idx in batches.draw(rng):
                if len(history.steps) >= total or (
                        time_limit is not None and time.perf_counter() - t0 > time_limit):
                    return history
                optimizer.zero_grad()
                out = loss_fn(idx)
                loss, stats = out if isinstance(out, tuple) else (out, {})
                if not (isinstance(loss, torch.Tensor) and loss.ndim == 0):
                    raise TypeError("loss_fn must return a scalar tensor (or a (loss, stats) tuple)")
                value = _value(loss)
                if not (loss.is_meta or math.isfinite(value)):   # before the update: weights stay finite
                    raise FloatingPointError(f"the loss is {value} at epoch {epoch + 1}, "
                                             f"update {len(history.steps) + 1}")
                loss.backward()
                optimizer.step()
                history.steps.append(value)
                loss_sum += value * len(idx)
                seen += len(idx)
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + _value(v)
                if pbar is not None:
                    pbar.update(1)
            row = {"epoch": epoch + 1, "loss": loss_sum / seen, **{k: v / seen for k, v in sums.items()}}
            if evaluate is not None:
                row.update(evaluate(model, epoch) or {})
            history.epochs.append(row)
            if on_epoch_end is not None:
                on_epoch_end(model, epoch, row)
    finally:
        if pbar is not None:
            pbar.close()
        model.eval()
    return history


# ----------------------------------------------------------------------------- devices
def model_device(model: nn.Module) -> torch.device:
    """The device a model computes on: that of its first parameter (or buffer); CPU if it has none.

    Parameters
    ----------
    model : torch.nn.Module
        Any module.

    Returns
    -------
    torch.device
        Where the helpers that receive this model build their tensors.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def place_model(model: nn.Module, device: str | torch.device | None = None) -> torch.device:
    """Move ``model`` to ``device`` (``None``: leave it where it is) and return the device it is on.

    The rule of every helper that *receives* a model: ``device=None`` trains where the model
    already is, so a model on a GPU is never moved back to the CPU by a default.

    Parameters
    ----------
    model : torch.nn.Module
        The model.
    device : str or torch.device, optional
        Target device.

    Returns
    -------
    torch.device
        :func:`model_device` after the move.
    """
    if device is not None:
        if not isinstance(device, (str, torch.device)):
            raise TypeError(f"device must be a str or torch.device, got {type(device).__name__}")
        model.to(torch.device(device))
    return model_device(model)


# ----------------------------------------------------------------------------- prediction
def predict(model: nn.Module, inputs: Callable[[np.ndarray], object], batches: Batches,
            output: Callable[[torch.Tensor], torch.Tensor] | None = None) -> np.ndarray:
    """Run ``model`` in eval mode without gradients over ``batches``; float64, original order.

    Parameters
    ----------
    model : torch.nn.Module
        The model (put in eval mode).
    inputs : callable
        ``inputs(idx)`` gives the model's input for an index batch ``idx`` (int64, shape (b,)):
        a tensor on the model's device, or a tuple of arguments.
    batches : Batches
        A deterministic sampler: :func:`in_order` or :func:`by_length`.
    output : callable, optional
        Maps the model's output tensor before it becomes numpy (e.g. ``torch.sigmoid``).

    Returns
    -------
    numpy.ndarray of float64, shape (n, ...)
        The outputs, first axis in the examples' original order.

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``batches`` shuffles.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(batches, Batches) or batches.shuffle:
        raise TypeError("batches must be a deterministic sampler: kexue.train.in_order or by_length")
    model.eval()
    parts, order = [], []
    with torch.inference_mode():
        for idx in batches.draw(None):
            args = inputs(idx)
            y = model(*args) if isinstance(args, tuple) else model(args)
            if output is not None:
                y = output(y)
            parts.append(y.double().cpu().numpy())
            order.append(idx)
    out = np.empty((batches.n, *parts[0].shape[1:]), dtype=np.float64)
    out[np.concatenate(order)] = np.concatenate(parts)
    return out


def predict_proba(model: nn.Module, inputs: Callable[[np.ndarray], object], batches: Batches) -> np.ndarray:
    """P(positive) of a one-logit binary classifier: :func:`predict` with ``torch.sigmoid``.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier whose output is one logit per example, shape (b,).
    inputs : callable
        As in :func:`predict`.
    batches : Batches
        A deterministic sampler: :func:`in_order` or :func:`by_length`.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        The probability of the positive class per example.
    """
    return predict(model, inputs, batches, output=torch.sigmoid)
