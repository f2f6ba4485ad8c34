"""One progress bar per run of requests: bytes received, and requests finished."""

import threading

__all__ = ["TransferProgress"]


class TransferProgress:
    """A tqdm bar of bytes for a run of requests, shared safely between threads.

    Parameters
    ----------
    show : bool
        Show the bar at all; even when true it stays hidden when the output
        is not a terminal (tqdm's own rule).
    requests : int
        Requests in the run, for the "done/total" count.
    description : str
        Label of the bar.
    """

    def __init__(self, *, show, requests, description="TESScut"):
        from tqdm.auto import tqdm

        self._lock = threading.Lock()
        self._requests = requests
        self._done = 0
        self._bar = tqdm(
            total=0,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=description,
            disable=None if show else True,
            leave=False,
        )
        self._bar.set_postfix_str(self._count(), refresh=False)

    def expect(self, nbytes):
        """A response announced ``nbytes`` (negative to withdraw a failed attempt's)."""
        with self._lock:
            self._bar.total += nbytes
            self._bar.refresh()

    def advance(self, nbytes):
        """``nbytes`` arrived (negative to take back a failed attempt's bytes)."""
        with self._lock:
            self._bar.update(nbytes)

    def finished_one(self):
        """One request of the run has finished."""
        with self._lock:
            self._done += 1
            self._bar.set_postfix_str(self._count())

    def close(self):
        """Remove the bar."""
        self._bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _count(self):
        return f"{self._done}/{self._requests} requests"
