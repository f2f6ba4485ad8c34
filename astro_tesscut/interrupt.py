"""Ctrl-C reaches the main thread only: this tells the package's worker threads to stop.

Top-level calls run inside `stopping_on_interrupt`; when the user interrupts
one, every loop of the package's threads (streaming an answer, waiting to
retry, making the next cutout) calls `check`, which raises
`KeyboardInterrupt` there too, so the work stops within a chunk or a cutout
instead of running to its end.
"""

import contextlib
import threading

__all__ = ["check", "stopping_on_interrupt"]

_STOP = threading.Event()


def check():
    """Raise `KeyboardInterrupt` if the user has interrupted the call this work is for."""
    if _STOP.is_set():
        raise KeyboardInterrupt("interrupted")


def stop():
    """Ask every worker thread to stop at its next `check`."""
    _STOP.set()


@contextlib.contextmanager
def stopping_on_interrupt():
    """Run a top-level call: on `KeyboardInterrupt`, tell the worker threads to stop too."""
    _STOP.clear()
    try:
        yield
    except KeyboardInterrupt:
        stop()
        raise
