"""Ctrl-C reaches the main thread only: this tells the worker threads of that call to stop.

Each top-level call runs inside `stopping_on_interrupt`, which gives it a
stop flag of its own. Work it hands to threads is wrapped with `carrying`,
so that it runs under the same flag; every loop there (streaming an answer,
waiting to retry, making the next cutout) calls `check`, which raises
`KeyboardInterrupt` once the call has been interrupted, so the work stops
within a chunk or a cutout instead of running to its end. The flag ends
with its call: the next call, or a call on another thread, is not stopped
by it.
"""

import contextlib
import contextvars
import threading

__all__ = ["Call", "carrying", "check", "stopping_on_interrupt"]


class Call:
    """The stop flag of one top-level call."""

    def __init__(self):
        self._stopped = threading.Event()

    def stop(self):
        """Ask every thread working for this call to stop at its next `check`."""
        self._stopped.set()

    @property
    def stopped(self):
        return self._stopped.is_set()


_CURRENT = contextvars.ContextVar("astro_tesscut_call", default=None)


def check():
    """Raise `KeyboardInterrupt` if the call this work is for has been interrupted."""
    call = _CURRENT.get()
    if call is not None and call.stopped:
        raise KeyboardInterrupt("interrupted")


@contextlib.contextmanager
def stopping_on_interrupt():
    """Run a top-level call under a stop flag of its own (a `Call`, yielded); on
    `KeyboardInterrupt`, its worker threads stop too. A call made inside another
    is part of it and shares its flag."""
    outer = _CURRENT.get()
    if outer is not None:
        yield outer
        return
    call = Call()
    token = _CURRENT.set(call)
    try:
        yield call
    except KeyboardInterrupt:
        call.stop()
        raise
    finally:
        _CURRENT.reset(token)


def carrying(function):
    """``function``, to run on a worker thread under the stop flag of the call submitting it."""
    call = _CURRENT.get()

    def run(*args, **kwargs):
        token = _CURRENT.set(call)
        try:
            return function(*args, **kwargs)
        finally:
            _CURRENT.reset(token)

    return run
