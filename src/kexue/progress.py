"""Progress bars and wall-clock timing with one output format for the whole book.

Bars go to standard output (not stderr, which the book renders like a warning).
Timings are printed as ``wall 12.3 s``: the test suite masks exactly that
pattern (and the bar's rate/eta bracket) when it checks that a second run of a
chapter prints the same output as the first.  See ``book/conventions.md``.
"""
from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

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
             unit: str = "it", **kwargs) -> tqdm:
    """A ``tqdm`` bar on stdout with a fixed 20-column bar, refreshed at most once a second.

    The bar's width does not depend on the length of the rate text, so two runs
    draw the same bar and differ only inside the masked ``[elapsed<remaining, rate]``.

    When the environment sets ``KEXUE_PROGRESS=final`` (the book build and the
    test suite do), the bar prints only its final state, as one line, so the
    rendered page shows a finished bar instead of every intermediate redraw.
    """
    options = dict(file=sys.stdout, mininterval=1.0, leave=True, unit=unit, desc=desc,
                   total=total, ascii=False, bar_format=BAR_FORMAT)
    options.update(kwargs)
    if os.environ.get("KEXUE_PROGRESS") == "final":
        options["file"] = io.StringIO()
        return _FinalLineOnly(iterable, **options)
    return tqdm(iterable, **options)


def wall(seconds: float) -> str:
    """The book's format for a duration: ``'wall 12.3 s'``."""
    return f"wall {seconds:.1f} s"


class Timer:
    """Context manager measuring wall-clock seconds: ``with Timer() as t: ...; t.seconds``."""

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


def keras_bar(epochs: int, desc: str | None = None):
    """A Keras callback showing one :func:`progress` bar over epochs (use with ``verbose=0``)."""
    import keras

    class _EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress(total=epochs, desc=desc, unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return _EpochBar()
