"""A case's clock: the due time its category gives, paused and resumed, and when it is an estimate.

The rules (the README's "Deadlines" has them for users):

* the first dispatch starts the clock: the due time is the category's time limit after
  it (原定期限), in the working time of the calendar; nothing but an approved extension
  moves it afterwards (escalation keeps its own supervision deadline);
* a deferral (挂账) stops the clock; resuming continues with the time that was left,
  measured in the category's kind of time (office time for working units, wall time
  otherwise), and a case already late when it was deferred stays late;
* a due time computed over days the calendar does not cover counts weekends only, and
  is marked estimated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from routing.calendar import WORKING_UNITS, WorkCalendar
from routing.catalog import Category

_US = 1_000_000
WARN_BEFORE_END = dt.timedelta(days=60)
"""How long before the calendar's last covered day the service starts warning."""


@dataclass(frozen=True, slots=True)
class Due:
    """A due time (aware, UTC) and whether the calendar could only estimate it."""

    at: dt.datetime
    estimated: bool


def due_after(category: Category, calendar: WorkCalendar, start: dt.datetime) -> Due:
    """The due time of a case of ``category`` whose clock starts at ``start``.

    Examples
    --------
    >>> from routing.calendar import default_calendar
    >>> from routing.catalog import default_catalog
    >>> china = dt.timezone(dt.timedelta(hours=8))
    >>> days30 = default_catalog().get("B-04-05")  # 绿地缺失: 30 working days to an answer
    >>> due_after(days30, default_calendar(), dt.datetime(2026, 12, 7, 9, 0, tzinfo=china))
    Due(at=datetime.datetime(2027, 1, 18, 1, 0, tzinfo=datetime.timezone.utc), estimated=True)
    """
    at = category.due(start, calendar).astimezone(dt.UTC)
    return Due(at, _estimated(category, calendar, start, at))


def resumed_due(
    category: Category,
    calendar: WorkCalendar,
    paused_at: dt.datetime,
    due_at: dt.datetime,
    now: dt.datetime,
) -> Due:
    """The due time of a case paused at ``paused_at`` (due at ``due_at``) and resumed ``now``.

    The time that was left is measured in the category's kind of time and added to
    ``now``; a case that was already late when paused keeps its due time.

    Examples
    --------
    >>> from routing.calendar import default_calendar
    >>> from routing.catalog import default_catalog
    >>> china = dt.timezone(dt.timedelta(hours=8))
    >>> garbage = default_catalog().get("S-01-01")  # 4 working hours
    >>> at = lambda day, hour: dt.datetime(2025, 3, day, hour, tzinfo=china)
    >>> resumed_due(garbage, default_calendar(), at(3, 9), at(3, 14), at(5, 9)).at.astimezone(china).hour
    14
    """
    if due_at <= paused_at:
        return Due(due_at, False)
    unit = category.time_limit.unit
    if unit in WORKING_UNITS:
        left = calendar.working_time_between(paused_at, due_at)
        hours = Fraction(left // dt.timedelta(microseconds=1), 3600 * _US)
        at = calendar.add(now, hours, "working_hours").astimezone(dt.UTC)
    else:
        at = (now + (due_at - paused_at)).astimezone(dt.UTC)
    return Due(at, _estimated(category, calendar, now, at))


def _estimated(category: Category, calendar: WorkCalendar, start: dt.datetime, end: dt.datetime) -> bool:
    return category.time_limit.unit in WORKING_UNITS and not calendar.covers_span(start, end)


def calendar_warning(calendar: WorkCalendar, today: dt.date | None = None) -> str | None:
    """A warning when the calendar's last covered day is less than 60 days away (or past).

    Examples
    --------
    >>> from routing.calendar import default_calendar
    >>> calendar_warning(default_calendar(), dt.date(2026, 6, 1)) is None
    True
    >>> print(calendar_warning(default_calendar(), dt.date(2026, 12, 6)))  # doctest: +NORMALIZE_WHITESPACE
    the working-time calendar routing/calendar.toml has official holidays up to 2026-12-31 (25 days
    from today); deadlines after that count weekends only and are flagged estimated: add 2027's
    holidays (README, "Adding a year of holidays")
    """
    last = calendar.last_covered_day
    today = today or dt.datetime.now(calendar.tz).date()
    if last is not None and today < last - WARN_BEFORE_END:
        return None
    if last is None:
        when, year = "no official holidays at all", today.year
    elif today > last:
        when, year = f"official holidays up to {last} ({(today - last).days} days ago)", today.year
    else:
        when, year = f"official holidays up to {last} ({(last - today).days} days from today)", last.year + 1
    return (
        f"the working-time calendar {calendar.source} has {when}; deadlines after that count weekends "
        f'only and are flagged estimated: add {year}\'s holidays (README, "Adding a year of holidays")'
    )
