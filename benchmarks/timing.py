"""Timing for the benchmarks: the median of repeated runs, with set-up kept out of it."""

import statistics
import time

__all__ = ["timed"]


def timed(work, repeat, before=None):
    """Median seconds of ``work()`` over ``repeat`` runs, and its last result.

    ``before()``, when given, runs before each call, outside the timing.
    """
    times, result = [], None
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result
