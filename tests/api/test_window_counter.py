"""SlidingWindowCounter: the sliding window counter of the rate limiter, on a fake clock."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.window_counter import SlidingWindowCounter

WINDOW_S = 60.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def counter_at(now: float = 0.0) -> tuple[SlidingWindowCounter, Clock]:
    clock = Clock(now)
    return SlidingWindowCounter(WINDOW_S, clock=clock), clock


def two_windows(previous: int, current: int, progress: float) -> tuple[SlidingWindowCounter, Clock]:
    """``previous`` requests of key "k" in the first window, ``current`` at the start of
    the second, and the clock ``progress`` (a share) into the second."""
    counter, clock = counter_at(0.0)
    for _ in range(previous):
        counter.hit("k", 1000)
    clock.now = WINDOW_S
    for _ in range(current):
        counter.hit("k", 1000)
    clock.now = WINDOW_S * (1 + progress)
    return counter, clock


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_counts_up_to_the_limit_then_refuses(limit: int) -> None:
    counter, _ = counter_at(12.0)
    assert [counter.hit("a", limit) for _ in range(limit + 2)] == [True] * limit + [False, False]
    assert counter.count("a") == limit  # refused requests are not counted
    assert counter.hit("b", limit)  # another key is unaffected


@pytest.mark.parametrize(
    ("previous", "current", "progress", "expected"),
    [
        (10, 0, 0.0, 10.0),  # the previous window wholly inside the sliding one
        (10, 0, 0.5, 5.0),
        (10, 3, 0.25, 10.5),
        (10, 3, 0.999, 3.01),
        (0, 4, 0.7, 4.0),
    ],
)
def test_previous_window_is_weighted_by_its_overlap(
    previous: int, current: int, progress: float, expected: float
) -> None:
    counter, _ = two_windows(previous, current, progress)
    assert counter.count("k") == pytest.approx(expected)


def test_a_window_with_no_requests_forgets_the_older_one() -> None:
    counter, clock = counter_at(0.0)
    for _ in range(5):
        counter.hit("k", 5)
    clock.now = 2 * WINDOW_S + 1  # a whole window later than the one counted
    assert counter.count("k") == 0
    assert counter.hit("k", 5)
    assert counter.count("k") == 1


def test_allows_counts_nothing() -> None:
    counter, _ = counter_at()
    assert counter.allows("k", 1)
    assert counter.allows("k", 1)
    assert counter.count("k") == 0
    counter.hit("k", 1)
    assert not counter.allows("k", 1)


@pytest.mark.parametrize(
    ("before", "during", "at"),
    [
        (6, 0, 5.0),  # over the limit in the previous window, waiting in this one
        (4, 1, 10.0),
        (10, 2, 0.0),
        (1, 3, 59.0),  # at the limit in this window: not before the next
        (0, 3, 0.0),
        (0, 8, 30.0),
    ],
)
def test_retry_after_is_exactly_when_the_next_request_is_counted(before: int, during: int, at: float) -> None:
    limit = 3
    counter, clock = two_windows(before, during, at / WINDOW_S)
    wait = counter.retry_after("k", limit)
    assert wait > 0
    assert not counter.allows("k", limit)
    clock.now += wait - 1e-6
    assert not counter.allows("k", limit)
    clock.now += 2e-6
    assert counter.allows("k", limit)


def test_retry_after_is_zero_when_allowed() -> None:
    counter, _ = counter_at()
    assert counter.retry_after("k", 3) == 0.0
    counter.hit("k", 3)
    assert counter.retry_after("k", 3) == 0.0


def test_old_keys_are_dropped_once_per_window() -> None:
    counter, clock = counter_at(0.0)
    for n in range(1000):
        counter.hit(f"client-{n}", 10)
    assert len(counter) == 1000
    clock.now = WINDOW_S + 1  # the keys still weigh in the sliding window: kept
    counter.hit("late", 10)
    assert len(counter) == 1001
    assert counter.count("client-7") == pytest.approx(1 - 1 / WINDOW_S)
    clock.now = 2 * WINDOW_S + 1  # their window is now two windows back: gone
    counter.hit("later", 10)
    assert len(counter) == 2  # "late" (previous window) and "later"


@pytest.mark.parametrize("window_s", [0, -1, math.nan])
def test_window_must_be_positive(window_s: float) -> None:
    with pytest.raises(ValueError, match=r"window_s must be > 0 seconds, got"):
        SlidingWindowCounter(window_s)


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(1, 20),
    gaps=st.lists(st.floats(0.0, 2 * WINDOW_S, allow_nan=False), min_size=1, max_size=200),
)
def test_never_more_than_the_limit_in_any_window(limit: int, gaps: list[float]) -> None:
    """A request is counted only while the weighted count is below the limit; so any
    span of one window holds at most twice the limit (the approximation's known
    bound), and every fixed window at most the limit."""
    counter, clock = counter_at(0.0)
    counted: list[float] = []
    for gap in gaps:
        clock.now += gap
        if counter.hit("k", limit):
            counted.append(clock.now)
            assert counter.count("k") < limit + 1  # it was below the limit before this one
    for start in counted:
        in_span = [t for t in counted if start <= t < start + WINDOW_S]
        assert len(in_span) <= 2 * limit
    windows: dict[int, int] = {}
    for t in counted:
        windows[math.floor(t / WINDOW_S)] = windows.get(math.floor(t / WINDOW_S), 0) + 1
    assert max(windows.values()) <= limit
