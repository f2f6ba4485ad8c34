"""Making many cutouts at once: a few ahead on threads, in order, within a budget of memory.

Reads, copies and writes release the GIL, so threads overlap a cutout's
waiting (on a disk or a network) with another's work. How many run at once
depends on the work: a few for a local cube (the CPU is the limit), more for
a remote one (the answers are); and on memory: a cutout of a long sector
holds hundreds of megabytes (its pixels, then its file), so the work in
flight in a process holds at most `budget` bytes, whatever the threads, and
a cutout that alone would hold more is refused before anything is read
(`check_room`).
"""

import collections
import contextlib
import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..config import conf
from ..exceptions import InvalidQueryError
from ..interrupt import carrying, check

__all__ = ["ahead", "budget", "check_room", "holding"]

LOCAL_WORKERS = 3
REMOTE_WORKERS = 8
_LEAST_BUDGET = 2**30
# What making a cutout holds, per byte of its pixels: the pixels, the runs
# they were read in when shared, and the file (five image columns of four bytes
# for each eight of pixels and uncertainty).
HELD_PER_PIXEL_BYTE = 4


def ahead(function, items, *, remote=False):
    """``function(item)`` for each item, a few computed ahead in threads, yielded in order.

    ``remote`` work (waiting on a network) runs more at once. The lookahead
    bounds the results held.
    """
    workers = REMOTE_WORKERS if remote else LOCAL_WORKERS
    pending = collections.deque()
    try:
        for item in items:
            pending.append(_pool(workers).submit(carrying(_unless_interrupted), function, item))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # stopped early (an error, an interrupt): what has not started never will
        for future in pending:
            future.cancel()


def budget():
    """Bytes the cutouts being made in a process may hold together: ``conf.memory_budget``,
    or by default a quarter of this machine's memory (1 GiB at least)."""
    configured = int(conf.memory_budget)
    if configured > 0:
        return configured
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: assume a small machine
        memory = 0
    return max(memory // 4, _LEAST_BUDGET)


def check_room(columns, rows, frames, what):
    """Refuse, before anything is read, a cutout of ``columns`` x ``rows`` pixels of a cube
    of ``frames`` FFIs that alone would hold more memory than `budget` (``what`` names it).

    Raises
    ------
    InvalidQueryError
        Naming the memory it needs, the budget, and the largest square cutout of
        that cube the budget allows.
    """
    per_pixel = frames * 8 * HELD_PER_PIXEL_BYTE
    need, limit = columns * rows * per_pixel, budget()
    if need > limit:
        side = math.isqrt(limit // per_pixel)
        raise InvalidQueryError(
            f"size: {what} of {columns} x {rows} pixels and {frames:,} frames needs about "
            f"{_gib(need)} of memory, more than the {_gib(limit)} cutouts may use "
            f"(conf.memory_budget); ask for at most {side} x {side} pixels of this sector, "
            "or raise conf.memory_budget"
        )


def _gib(size):
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def _unless_interrupted(function, item):
    check()
    return function(item)


def submit(function, *args):
    """Run ``function(*args)`` on a thread of the local pool (for work started early)."""
    return _pool(LOCAL_WORKERS).submit(function, *args)


@contextlib.contextmanager
def holding(pixel_bytes):
    """Wait until the cutouts in flight leave room for ones of ``pixel_bytes`` pixels,
    and count them in while the block runs (one always may: `check_room` refuses what
    alone would not fit)."""
    need, limit = pixel_bytes * HELD_PER_PIXEL_BYTE, budget()
    with _ROOM:
        while not _ROOM.wait_for(lambda: _HELD[0] == 0 or _HELD[0] + need <= limit, 0.2):
            check()
        _HELD[0] += need
    try:
        yield
    finally:
        with _ROOM:
            _HELD[0] -= need
            _ROOM.notify_all()


_ROOM = threading.Condition()
_HELD = [0]  # bytes held by the cutouts in flight


@functools.cache
def _pool(count):
    return ThreadPoolExecutor(count, thread_name_prefix="astro_tesscut-cutout")
