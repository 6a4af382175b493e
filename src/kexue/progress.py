"""Progress bars and wall-clock timing with one output format for the whole book.

Bars go to standard output (not stderr, which the book renders like a warning).
Timings are printed as ``wall 12.3 s``: the test suite masks exactly that
pattern (and the bar's rate/eta bracket) when it checks that a second run of a
chapter prints the same output as the first.  See ``CONTRIBUTING.md``.
"""
from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from tqdm import tqdm

if TYPE_CHECKING:
    import keras

__all__ = ["BAR_FORMAT", "progress", "wall", "Timer", "keras_bar"]

T = TypeVar("T")

#: a fixed-width bar; the bracket holds everything that varies between runs
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


class _FinalLineOnly(tqdm):
    """A bar that draws nothing while running and prints its final state as one line."""

    def close(self) -> None:
        if self.disable:
            return
        line = str(self)
        super().close()
        print(line, file=sys.stdout, flush=True)


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str | None = None,
             unit: str = "it", **kwargs: Any) -> tqdm:
    """A ``tqdm`` progress bar on stdout, 20 columns wide, refreshed at most once a second (every chapter).

    The bar's width does not depend on the length of the rate text, so two runs
    draw the same bar and differ only inside the masked ``[elapsed<remaining, rate]``.
    When the environment sets ``KEXUE_PROGRESS=final`` (the book build and the
    test suite do), the bar prints only its final state, as one line, so the
    rendered page shows a finished bar instead of every intermediate redraw.

    Parameters
    ----------
    iterable : Iterable, optional
        What to iterate over; ``None`` for a bar advanced with ``update``.
    total : int, optional
        The number of steps, where ``len(iterable)`` does not give it.
    desc : str, optional
        The label in front of the bar.
    unit : str, default "it"
        The name of one step.
    **kwargs : Any
        Further ``tqdm`` options, overriding the book's.

    Returns
    -------
    tqdm.tqdm
        The bar (iterate over it, or call ``update`` and ``close``).
    """
    options = dict(file=sys.stdout, mininterval=1.0, leave=True, unit=unit, desc=desc,
                   total=total, ascii=False, bar_format=BAR_FORMAT)
    options.update(kwargs)
    if os.environ.get("KEXUE_PROGRESS") == "final":
        options["file"] = io.StringIO()
        return _FinalLineOnly(iterable, **options)
    return tqdm(iterable, **options)


def wall(seconds: float) -> str:
    """Format a duration the book's way, ``'wall 12.3 s'``, which the reproducibility test masks.

    Parameters
    ----------
    seconds : float
        The duration.

    Returns
    -------
    str
        ``f"wall {seconds:.1f} s"``.
    """
    return f"wall {seconds:.1f} s"


class Timer:
    """Context manager measuring wall-clock seconds: ``with Timer() as t: ...; t.seconds`` (every chapter).

    Attributes
    ----------
    seconds : float
        The seconds the ``with`` block took (0.0 before it ends); ``str(timer)`` formats them with :func:`wall`.
    """

    def __init__(self) -> None:
        self.start = 0.0
        self.seconds = 0.0

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start

    def __str__(self) -> str:
        return wall(self.seconds)


def keras_bar(epochs: int, desc: str | None = None) -> keras.callbacks.Callback:
    """A Keras callback showing one :func:`progress` bar over the epochs of ``model.fit`` (Keras chapters).

    Use it with ``verbose=0``.

    Parameters
    ----------
    epochs : int
        The number of epochs ``fit`` runs.
    desc : str, optional
        The label in front of the bar.

    Returns
    -------
    keras.callbacks.Callback
        A callback for ``model.fit(..., callbacks=[...])``.
    """
    import keras

    class _EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress(total=epochs, desc=desc, unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return _EpochBar()
