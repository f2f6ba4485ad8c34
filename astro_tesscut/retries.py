"""When and how long to wait before trying a failed request again.

urllib3's ``Retry`` covers failures before a response starts; a TESScut
download can also break in the middle of its body, so one loop here retries
both, with the same backoff and the same bounded budget.
"""

import email.utils
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from . import interrupt

__all__ = ["RetryPolicy", "parse_retry_after", "retry"]

# Longest nap of a wait between two looks at whether the user interrupted.
_SLICE = 0.1


def _sleep(seconds):
    """Wait ``seconds``, or raise `KeyboardInterrupt` within ``_SLICE`` of an interrupt.

    Tests replace it, to watch the waits without waiting.
    """
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        interrupt.check()
        time.sleep(min(left, _SLICE))


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed request is retried.

    Parameters
    ----------
    retries : int
        Retries after the first attempt.
    backoff : float
        Seconds of the first wait; the n-th wait is drawn uniformly from
        ``[0, backoff * 2**n]`` ("full jitter", so that many clients that
        failed together do not come back together).
    max_wait : float
        Longest single wait, Retry-After included.
    budget : float
        Most seconds spent waiting in total.
    """

    retries: int = 4
    backoff: float = 1.0
    max_wait: float = 60.0
    budget: float = 300.0

    def wait(self, retry_number, retry_after=None):
        """Seconds to wait before retry ``retry_number`` (0 for the first)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        return random.uniform(0, min(self.max_wait, self.backoff * 2**retry_number))


def retry(call, policy, *, is_transient, retry_after=lambda exc: None, before_retry=None):
    """Run ``call()`` until it succeeds, retrying transient failures.

    Parameters
    ----------
    call : callable
        The work; it raises on failure.
    policy : `RetryPolicy`
        How often and how long to wait.
    is_transient : callable
        ``is_transient(exc)`` is true for a failure worth another try.
    retry_after : callable, optional
        Seconds the failure asks to wait (from a Retry-After header), or `None`.
    before_retry : callable, optional
        Called before each retry, to reset what a failed attempt left behind.

    Returns
    -------
    result, attempts
        What ``call()`` returned and how many attempts it took.

    Raises
    ------
    Exception
        The last failure, with ``attempts`` set on it, once the failure is not
        transient, the retries are used up, or the next wait would overrun
        the budget.
    KeyboardInterrupt
        The user interrupted the call (see `astro_tesscut.interrupt`) before
        or during a wait.
    """
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return call(), attempt
        except Exception as exc:
            exc.attempts = attempt
            if not is_transient(exc) or attempt > policy.retries:
                raise
            wait = policy.wait(attempt - 1, retry_after(exc))
            if waited + wait > policy.budget:
                raise
            interrupt.check()
            _sleep(wait)
            waited += wait
            if before_retry is not None:
                before_retry()


def parse_retry_after(value):
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or `None`."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
