"""How long retries wait: backoff and its jitter, Retry-After (seconds and dates), the budget,
and waits that an interrupt cuts short. Pure functions and fake clocks: no real waiting."""

import email.utils
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from astro_tesscut import interrupt, retries
from astro_tesscut.retries import RetryPolicy, parse_retry_after, retry


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


def failing(times, then="done"):
    """A call that raises `Transient` ``times`` times, then returns ``then``; it counts calls."""
    calls = []

    def call():
        calls.append(len(calls))
        if len(calls) <= times:
            raise Transient(f"failure {len(calls)}")
        return then

    call.calls = calls
    return call


@pytest.fixture
def call():
    """A call of the test's own, which it interrupts with ``call.stop()`` as Ctrl-C would."""
    with interrupt.stopping_on_interrupt() as running:
        yield running


def test_default_policy():
    # Four retries, waits from one second doubling, a minute at most, five minutes in all.
    assert RetryPolicy() == RetryPolicy(retries=4, backoff=1.0, max_wait=60.0, budget=300.0)


# backoff and jitter


@pytest.fixture
def jitter_bounds(monkeypatch):
    """``random.uniform`` replaced by a record of the bounds each wait is drawn between;
    the wait is the upper bound."""
    drawn = []

    def uniform(low, high):
        drawn.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    return drawn


def test_backoff_doubles_with_each_retry_up_to_the_longest_wait(jitter_bounds):
    policy = RetryPolicy(backoff=0.5, max_wait=10.0)
    assert [policy.wait(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    # "Full jitter": each wait is drawn from zero to its cap.
    assert jitter_bounds == [(0, 0.5), (0, 1.0), (0, 2.0), (0, 4.0), (0, 8.0), (0, 10.0), (0, 10.0)]


def test_jitter_spreads_waits_over_the_whole_range():
    policy = RetryPolicy(backoff=2.0, max_wait=100.0)
    random.seed(16)
    waits = [policy.wait(1) for _ in range(2000)]  # drawn from [0, 4]
    assert 0 <= min(waits) < 0.05
    assert 3.95 < max(waits) <= 4.0
    assert 1.9 < sum(waits) / len(waits) < 2.1


def test_retry_after_is_taken_as_given_within_zero_and_the_longest_wait():
    policy = RetryPolicy(backoff=1.0, max_wait=30.0)
    assert policy.wait(0, retry_after=7.5) == 7.5
    assert policy.wait(3, retry_after=0.0) == 0.0
    assert policy.wait(0, retry_after=-5.0) == 0.0  # a date in the past: go now
    assert policy.wait(0, retry_after=30.0) == 30.0
    assert policy.wait(0, retry_after=3600.0) == 30.0


# Retry-After headers


def http_date(when):
    return email.utils.format_datetime(when, usegmt=True)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("  30 ", 30.0),
        ("0", 0.0),
        ("", None),
        (None, None),
        ("-5", None),  # not delta-seconds, nor a date
        ("1.5", None),
        ("in a minute", None),
    ],
)
def test_retry_after_in_seconds(header, seconds):
    assert parse_retry_after(header) == seconds


def test_retry_after_a_date_to_come_is_the_seconds_until_it():
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=90)
    assert parse_retry_after(http_date(later)) == pytest.approx(90, abs=2)


def test_retry_after_a_date_in_another_time_zone():
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=600)
    header = email.utils.format_datetime(later.astimezone(timezone(timedelta(hours=-5))))
    assert header.endswith("-0500")
    assert parse_retry_after(header) == pytest.approx(600, abs=2)


def test_retry_after_a_date_without_a_time_zone_is_read_as_gmt():
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=300)
    header = later.strftime("%a, %d %b %Y %H:%M:%S")  # no zone at all
    assert parse_retry_after(header) == pytest.approx(300, abs=2)
    header = later.strftime("%a, %d %b %Y %H:%M:%S -0000")  # RFC 5322's "zone unknown"
    assert parse_retry_after(header) == pytest.approx(300, abs=2)


def test_retry_after_a_date_gone_by_is_no_wait():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    earlier = datetime.now(UTC) - timedelta(seconds=30)
    assert parse_retry_after(http_date(earlier)) == 0.0


# the retry loop


def test_transient_failures_are_retried_until_one_succeeds(instant_retries, jitter_bounds):
    call = failing(3)
    policy = RetryPolicy(retries=3, backoff=1.0, max_wait=60.0)
    assert retry(call, policy, is_transient=lambda exc: True) == ("done", 4)
    assert instant_retries == [1.0, 2.0, 4.0]


def test_retries_end_after_the_last_one(instant_retries):
    call = failing(10)
    with pytest.raises(Transient, match="failure 3") as info:
        retry(call, RetryPolicy(retries=2), is_transient=lambda exc: True)
    assert info.value.attempts == 3
    assert len(call.calls) == 3
    assert len(instant_retries) == 2


def test_no_retries_means_one_attempt(instant_retries):
    with pytest.raises(Transient) as info:
        retry(failing(1), RetryPolicy(retries=0), is_transient=lambda exc: True)
    assert info.value.attempts == 1
    assert instant_retries == []


def test_a_failure_that_is_not_transient_is_raised_at_once(instant_retries):
    def call():
        raise Permanent("no")

    seen = []

    def is_transient(exc):
        seen.append(exc)
        return isinstance(exc, Transient)

    with pytest.raises(Permanent) as info:
        retry(call, RetryPolicy(retries=5), is_transient=is_transient)
    assert info.value.attempts == 1
    assert [type(exc) for exc in seen] == [Permanent]
    assert instant_retries == []


def test_retry_after_of_the_failure_sets_the_wait(instant_retries):
    asked = []

    def retry_after(exc):
        asked.append(str(exc))
        return 12.0

    result = retry(
        failing(2), RetryPolicy(retries=4), is_transient=lambda e: True, retry_after=retry_after
    )
    assert result == ("done", 3)
    assert instant_retries == [12.0, 12.0]
    assert asked == ["failure 1", "failure 2"]


def test_waits_may_use_the_whole_budget_but_not_more(instant_retries):
    policy = RetryPolicy(retries=10, budget=100.0)
    # Two waits of 50 s fill the budget exactly: allowed.
    result = retry(failing(2), policy, is_transient=lambda e: True, retry_after=lambda e: 50.0)
    assert result == ("done", 3)
    assert instant_retries == [50.0, 50.0]
    # A third would overrun it: the failure is raised instead, without waiting.
    instant_retries.clear()
    with pytest.raises(Transient, match="failure 3") as info:
        retry(failing(5), policy, is_transient=lambda e: True, retry_after=lambda e: 50.0)
    assert info.value.attempts == 3
    assert instant_retries == [50.0, 50.0]
    # A first wait longer than the budget: no retry at all.
    instant_retries.clear()
    with pytest.raises(Transient) as info:
        retry(
            failing(1),
            RetryPolicy(budget=10.0),
            is_transient=lambda e: True,
            retry_after=lambda e: 11.0,
        )
    assert info.value.attempts == 1
    assert instant_retries == []


def test_what_a_failed_attempt_left_is_undone_before_each_retry(monkeypatch):
    events = []

    def call():
        events.append("call")
        if events.count("call") < 3:
            raise Transient("again")
        return "done"

    monkeypatch.setattr(retries, "_sleep", lambda seconds: events.append("wait"))
    result = retry(
        call,
        RetryPolicy(retries=5),
        is_transient=lambda e: True,
        before_retry=lambda: events.append("undo"),
    )
    assert result == ("done", 3)
    assert events == ["call", "wait", "undo", "call", "wait", "undo", "call"]


def test_an_interrupt_stops_the_retries_before_the_wait(instant_retries, call):
    attempt = failing(5)
    call.stop()
    with pytest.raises(KeyboardInterrupt):
        retry(attempt, RetryPolicy(retries=5), is_transient=lambda e: True)
    assert len(attempt.calls) == 1
    assert instant_retries == []


# waiting in slices


class FakeClock:
    """``time.monotonic`` and ``time.sleep`` of a clock that moves only when slept on."""

    def __init__(self, *, on_sleep=None):
        self.now = 1000.0
        self.naps = []
        self.on_sleep = on_sleep

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        # A nap of nothing, or a wait that never ends, would hang the test: fail it instead.
        assert seconds > 0, "a nap of no time"
        assert len(self.naps) < 10_000, "a wait that never ends"
        self.naps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.naps))


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(retries.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(retries.time, "sleep", fake.sleep)
    return fake


# The module's own wait (the autouse fixture ``instant_retries`` replaces it in each test).
_ORIGINAL_SLEEP = retries._sleep


def test_a_wait_is_slept_in_slices_of_a_tenth_of_a_second(clock, call):
    _ORIGINAL_SLEEP(0.35)
    assert clock.naps == pytest.approx([0.1, 0.1, 0.1, 0.05])
    assert clock.now == pytest.approx(1000.35)


def test_no_wait_sleeps_not_at_all(clock, call):
    _ORIGINAL_SLEEP(0)
    _ORIGINAL_SLEEP(-3)
    assert clock.naps == []


def test_an_interrupt_cuts_a_wait_short_within_a_slice(clock, call):
    clock.on_sleep = lambda naps: call.stop() if naps == 2 else None
    with pytest.raises(KeyboardInterrupt):
        _ORIGINAL_SLEEP(60)
    assert len(clock.naps) == 2  # 0.2 s of the minute


def test_an_interrupt_before_a_wait_skips_it(clock, call):
    call.stop()
    with pytest.raises(KeyboardInterrupt):
        _ORIGINAL_SLEEP(5)
    assert clock.naps == []
