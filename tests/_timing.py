"""Shared by the tests that measure a cost (chapters 05 and 06): the best of a few wall times."""
import time


def best_time(f, repeats: int = 3) -> float:
    """The shortest of ``repeats`` wall-clock timings of ``f()``, in seconds."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return min(out)
