"""Working time for report deadlines: weekends, official holidays, make-up workdays, office hours.

A :class:`WorkCalendar` answers two questions for the closed loop of a report:

* when is it due? :meth:`WorkCalendar.add` moves an instant forward by a time limit in
  one of :data:`TIME_UNITS`;
* how much working time did handling take? :meth:`WorkCalendar.working_seconds_between`.

Days
    A day is a *workday* when it is a make-up workday (调休上班, a Saturday or Sunday
    announced as a working day), else when it is Monday..Friday and not a public
    holiday.  The shipped ``calendar.toml`` holds the State Council schedules for 2024,
    2025 and 2026; other years fall back to Monday..Friday (see :meth:`WorkCalendar.covers`).
Hours
    Each workday has office-hour intervals in local time, half-open ``[start, end)``:
    by default 08:30-12:00 and 13:30-17:30 Asia/Shanghai (7.5 h), optionally with
    seasonal schedules.

Units (``amount`` may be fractional; 0 returns ``start`` unchanged)
    ``hours``
        Wall-clock hours, day and night, holidays included (emergencies).
    ``calendar_days``
        Wall-clock days of 24 h in local time.  No extension when the deadline falls
        on a holiday.
    ``working_hours``
        Only time inside office hours counts.  The deadline is the *earliest* instant
        by which that much working time has passed, so a limit that ends exactly at a
        closing time is due at 12:00 or 17:30, not at the next opening.
    ``working_days``
        The deadline keeps the report's position inside the working day: N working
        days after a report received at 16:00 on a workday is 16:00 on the N-th
        following workday (Friday 16:00 + 1 working day = Monday 16:00 when Monday is a
        workday).  A report received outside office hours (night, lunch break, weekend,
        holiday) starts counting at the next opening; if that is the start of a
        working day, the deadline is the close of the (N-1)-th following workday, so
        Friday 18:00 + 1 working day = Monday 17:30.  When days have different lengths
        (seasons) the position is kept as a fraction of the day's working time; a
        fractional N moves along the same axis.  With one schedule all year this is
        the same instant as ``N * 7.5`` working hours.

All instants must be timezone-aware; results are in the calendar's time zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo.errors import InvalidInputError
from routing._toml import read_toml
from routing.errors import (
    CalendarDataError,
    InvalidAmountError,
    NaiveDatetimeError,
    UnknownTimeUnitError,
)

TIME_UNITS: tuple[str, ...] = ("hours", "working_hours", "working_days", "calendar_days")
"""The units of a time limit, as written in the catalog and accepted by :meth:`WorkCalendar.add`."""
WORKING_UNITS: frozenset[str] = frozenset({"working_hours", "working_days"})
MAX_AMOUNT = 100_000
"""Largest amount :meth:`WorkCalendar.add` accepts in any unit (far beyond any real time limit)."""
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_INTERVALS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))

_ONE_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_US_PER_SECOND = 1_000_000
# Scanning for the next workday gives up after this many days without one: the longest
# real break (Spring Festival) is 9 days, so only a broken calendar can get there, and
# the loops stay bounded.
_MAX_IDLE_DAYS = 60
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --------------------------------------------------------------------------- checks
def parse_unit(unit: object) -> str:
    """Return ``unit`` if it is one of :data:`TIME_UNITS`, else raise.

    Examples
    --------
    >>> parse_unit("working_days")
    'working_days'
    >>> parse_unit("days")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    routing.errors.UnknownTimeUnitError: unknown time unit 'days'; allowed: hours, working_hours, ...
    """
    if isinstance(unit, str) and unit in TIME_UNITS:
        return unit
    raise UnknownTimeUnitError(
        f"unknown time unit {unit!r}; allowed: {', '.join(TIME_UNITS)}",
        field="unit",
        value=repr(unit),
        allowed=list(TIME_UNITS),
    )


def check_amount(amount: object, *, field: str = "amount") -> Fraction:
    """Return ``amount`` as an exact fraction if it is a number in ``0..MAX_AMOUNT``, else raise.

    Exact fractions keep ``add`` free of float drift: ``0.1`` working days is converted
    once, then rounded once to whole microseconds.

    Examples
    --------
    >>> check_amount(1.5)
    Fraction(3, 2)
    >>> check_amount(-2)
    Traceback (most recent call last):
    ...
    routing.errors.InvalidAmountError: amount=-2 is not allowed; allowed: a number from 0 to 100000
    """
    allowed = f"a number from 0 to {MAX_AMOUNT}"
    # bool is an int subclass, but True as "1 hour" is always a mistake
    if isinstance(amount, bool) or not isinstance(amount, int | float | Fraction | Decimal):
        raise InvalidAmountError(
            f"{field}={amount!r} is not a number; allowed: {allowed}", field=field, value=repr(amount)
        )
    if (isinstance(amount, float) and not math.isfinite(amount)) or (
        isinstance(amount, Decimal) and not amount.is_finite()
    ):
        raise InvalidAmountError(
            f"{field}={amount} is not allowed; allowed: {allowed}", field=field, value=str(amount)
        )
    exact = Fraction(amount)
    if not 0 <= exact <= MAX_AMOUNT:
        raise InvalidAmountError(
            f"{field}={amount} is not allowed; allowed: {allowed}", field=field, value=str(amount)
        )
    return exact


def aware_utc(moment: object, name: str) -> datetime:
    """``moment`` in UTC, refused (naming ``name`` and the value) unless it is a
    timezone-aware datetime; arithmetic in UTC is right even in zones with DST.

    Examples
    --------
    >>> from zoneinfo import ZoneInfo
    >>> aware_utc(datetime(2025, 10, 9, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")), "start").isoformat()
    '2025-10-09T01:00:00+00:00'
    >>> try:
    ...     aware_utc(datetime(2025, 10, 9), "start")
    ... except NaiveDatetimeError as exc:
    ...     print(str(exc).split(";")[0])
    start=2025-10-09T00:00:00 has no time zone
    """
    if not isinstance(moment, datetime):
        raise InvalidInputError(
            f"{name}={moment!r} is not a datetime; pass a timezone-aware datetime.datetime",
            field=name,
            value=repr(moment),
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name}={moment.isoformat()} has no time zone; pass a timezone-aware datetime, "
            "e.g. datetime(2025, 10, 9, 9, 0, tzinfo=ZoneInfo('Asia/Shanghai'))",
            field=name,
            value=moment.isoformat(),
        )
    return moment.astimezone(UTC)


def _us(delta: timedelta) -> int:
    return delta // _MICROSECOND


def _round_us(seconds: Fraction) -> int:
    return round(seconds * _US_PER_SECOND)


def check_intervals(intervals: tuple[tuple[time, time], ...], where: str) -> None:
    if not intervals:
        raise CalendarDataError(
            f"{where}: no office-hour intervals; allowed: one or more [start, end) pairs like "
            '["08:30", "12:00"]',
            where=where,
        )
    previous_end: time | None = None
    for start, end in intervals:
        if start >= end:
            raise CalendarDataError(
                f"{where}: interval {start:%H:%M}-{end:%H:%M} does not end after it starts; "
                "allowed: start < end within one day",
                where=where,
                value=f"{start:%H:%M}-{end:%H:%M}",
            )
        if previous_end is not None and start < previous_end:
            raise CalendarDataError(
                f"{where}: interval {start:%H:%M}-{end:%H:%M} starts before the previous one ends "
                f"({previous_end:%H:%M}); allowed: sorted, non-overlapping intervals",
                where=where,
                value=f"{start:%H:%M}-{end:%H:%M}",
            )
        previous_end = end


# --------------------------------------------------------------------------- data
@dataclass(frozen=True, slots=True)
class Season:
    """Office hours for part of the year, e.g. a later summer afternoon.

    ``start`` and ``end`` are inclusive ``(month, day)`` pairs; a season with
    ``start > end`` wraps around the new year.

    Examples
    --------
    >>> winter = Season("winter", (11, 1), (2, 28), ((time(9), time(17)),))
    >>> winter.contains(date(2026, 1, 15)), winter.contains(date(2026, 6, 1))
    (True, False)
    """

    name: str
    start: tuple[int, int]
    end: tuple[int, int]
    intervals: tuple[tuple[time, time], ...]

    def __post_init__(self) -> None:
        check_intervals(self.intervals, f"season {self.name!r}")

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls in this season."""
        month_day = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= month_day <= self.end
        return month_day >= self.start or month_day <= self.end


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Office hours of a workday: default intervals and optional seasons (first match wins).

    Examples
    --------
    >>> WorkingHours().hours_on(date(2025, 3, 10))
    7.5
    """

    intervals: tuple[tuple[time, time], ...] = DEFAULT_INTERVALS
    seasons: tuple[Season, ...] = ()

    def __post_init__(self) -> None:
        check_intervals(self.intervals, "working_hours")

    def on(self, day: date) -> tuple[tuple[time, time], ...]:
        """The intervals that apply on ``day`` (whether or not it is a workday)."""
        for season in self.seasons:
            if season.contains(day):
                return season.intervals
        return self.intervals

    def hours_on(self, day: date) -> float:
        """Length of the working day ``day`` would have, in hours."""
        base = date(2000, 1, 1)
        return sum(
            (datetime.combine(base, end) - datetime.combine(base, start)).total_seconds() / 3600
            for start, end in self.on(day)
        )


@dataclass(frozen=True, slots=True)
class Holiday:
    """One announced holiday period and its make-up workdays.

    Attributes
    ----------
    name : str
        Chinese name as in the notice, e.g. ``"国庆节、中秋节"``.
    year : int
        The year of the notice that announced it.
    start, end : date
        First and last day off, inclusive (weekend days in the range included).
    makeup_workdays : tuple of date
        Saturdays or Sundays worked in exchange (调休上班).
    """

    name: str
    year: int
    start: date
    end: date
    makeup_workdays: tuple[date, ...] = ()

    def days(self) -> list[date]:
        """Every day off of the period, in order."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


# --------------------------------------------------------------------------- calendar
class WorkCalendar:
    """Workdays, office hours and deadline arithmetic in one time zone.

    Parameters
    ----------
    holidays : iterable of Holiday
        Official holiday periods with their make-up workdays.
    hours : WorkingHours, optional
        Office hours; default 08:30-12:00 and 13:30-17:30.
    timezone : str or tzinfo, optional
        Local time zone of the office hours; default Asia/Shanghai.
    years : iterable of int, optional
        Years whose official schedule is complete; default the years of ``holidays``.
    source : str, optional
        Name used for this calendar in error messages.

    Examples
    --------
    >>> cal = WorkCalendar.load()
    >>> cal.is_workday(date(2025, 10, 11))  # a Saturday, worked in exchange for National Day
    True
    >>> tz = ZoneInfo("Asia/Shanghai")
    >>> cal.add(datetime(2025, 9, 30, 16, 0, tzinfo=tz), 1, "working_days").isoformat()
    '2025-10-09T16:00:00+08:00'
    """

    def __init__(
        self,
        holidays: Iterable[Holiday] = (),
        *,
        hours: WorkingHours | None = None,
        timezone: str | tzinfo = DEFAULT_TIMEZONE,
        years: Iterable[int] | None = None,
        source: str = "<WorkCalendar>",
    ) -> None:
        self.source = source
        self.tz: tzinfo = _zone(timezone, source) if isinstance(timezone, str) else timezone
        self.hours = hours or WorkingHours()
        self.holidays: tuple[Holiday, ...] = tuple(sorted(holidays, key=lambda h: h.start))
        self._off: dict[date, str] = {}
        self._makeup: dict[date, str] = {}
        for holiday in self.holidays:
            where = f"{source}: holiday {holiday.name!r} of {holiday.year}"
            for day in holiday.days():
                if day in self._off:
                    raise CalendarDataError(
                        f"{where}: {day} is already a day off of {self._off[day]!r}; "
                        "allowed: non-overlapping holiday ranges",
                        file=source,
                        value=day.isoformat(),
                    )
                self._off[day] = holiday.name
            for day in holiday.makeup_workdays:
                if day.weekday() < 5:
                    raise CalendarDataError(
                        f"{where}: make-up workday {day} is a {_WEEKDAYS[day.weekday()]}; "
                        "allowed: a Saturday or Sunday (调休上班 turns a weekend day into a workday)",
                        file=source,
                        value=day.isoformat(),
                    )
                if day in self._makeup:
                    raise CalendarDataError(
                        f"{where}: make-up workday {day} is already listed for {self._makeup[day]!r}",
                        file=source,
                        value=day.isoformat(),
                    )
                self._makeup[day] = holiday.name
        both = sorted(set(self._off) & set(self._makeup))
        if both:
            raise CalendarDataError(
                f"{source}: {both[0]} is both a holiday ({self._off[both[0]]!r}) and a make-up workday "
                f"({self._makeup[both[0]]!r}); allowed: one or the other",
                file=source,
                value=both[0].isoformat(),
            )
        self.years: frozenset[int] = (
            frozenset(years) if years is not None else frozenset(h.year for h in self.holidays)
        )
        # UTC spans per local day: deadline loops revisit the same few weeks constantly.
        self._spans_cache: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path | None = None) -> WorkCalendar:
        """Load a calendar file; ``None`` loads the packaged ``routing/calendar.toml``.

        Raises :class:`~routing.errors.CalendarDataError` naming the file, the year and
        holiday, the field and the bad value for any problem, and the line for a TOML
        syntax error.

        Examples
        --------
        >>> sorted(WorkCalendar.load().years)
        [2024, 2025, 2026]
        """
        data, source = read_toml(path, resource="calendar.toml", error=CalendarDataError, what="calendar")
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> WorkCalendar:
        """Build a calendar from the parsed TOML structure (see ``calendar.toml``).

        Examples
        --------
        >>> cal = WorkCalendar.from_dict({"year": [{"year": 2030, "holiday": []}]})
        >>> cal.covers(date(2030, 5, 1)), cal.is_workday(date(2030, 5, 1))
        (True, True)
        """
        from routing.calendar_file import calendar_from_dict

        return calendar_from_dict(cls, data, source)

    # ------------------------------------------------------------------ days
    def covers(self, day: date) -> bool:
        """Whether the official schedule of ``day``'s year is in this calendar.

        For other years :meth:`is_workday` falls back to Monday..Friday, which is wrong
        around holidays: check this to warn before the next year's notice is added.

        Examples
        --------
        >>> cal = WorkCalendar.load()
        >>> cal.covers(date(2026, 12, 31)), cal.covers(date(2027, 1, 4))
        (True, False)
        """
        return self._local_date(day).year in self.years

    @property
    def last_covered_day(self) -> date | None:
        """The last day of the last year whose official schedule is in this calendar.

        Examples
        --------
        >>> WorkCalendar.load().last_covered_day
        datetime.date(2026, 12, 31)
        """
        return date(max(self.years), 12, 31) if self.years else None

    def covers_span(self, a: datetime, b: datetime) -> bool:
        """Whether every day from ``a`` to ``b`` (local dates) has its official schedule.

        A deadline computed over days this calendar does not cover counts weekends
        only, so it is an estimate: the routing service flags it.

        Examples
        --------
        >>> tz = ZoneInfo("Asia/Shanghai")
        >>> cal = WorkCalendar.load()
        >>> cal.covers_span(datetime(2026, 12, 6, tzinfo=tz), datetime(2026, 12, 31, tzinfo=tz))
        True
        >>> cal.covers_span(datetime(2026, 12, 6, tzinfo=tz), datetime(2027, 1, 15, tzinfo=tz))
        False
        """
        first, last = self._local_date(a).year, self._local_date(b).year
        return all(year in self.years for year in range(min(first, last), max(first, last) + 1))

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` (a date, or an aware datetime taken in local time) is a workday.

        Examples
        --------
        >>> cal = WorkCalendar.load()
        >>> [cal.is_workday(date(2025, 9, d)) for d in (26, 27, 28)]  # Fri, Sat, Sun (make-up)
        [True, False, True]
        """
        local = self._local_date(day)
        if local in self._makeup:
            return True
        if local in self._off:
            return False
        return local.weekday() < 5

    def holiday_name(self, day: date) -> str | None:
        """Name of the holiday ``day`` belongs to, or None.

        Examples
        --------
        >>> WorkCalendar.load().holiday_name(date(2024, 2, 12))
        '春节'
        """
        return self._off.get(self._local_date(day))

    def is_makeup_workday(self, day: date) -> bool:
        """Whether ``day`` is a weekend day worked in exchange for a holiday (调休上班).

        Examples
        --------
        >>> WorkCalendar.load().is_makeup_workday(date(2024, 2, 18))
        True
        """
        return self._local_date(day) in self._makeup

    def working_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """Office-hour intervals of ``day`` as aware local datetimes; empty on a day off.

        Examples
        --------
        >>> [f"{a:%H:%M}-{b:%H:%M}" for a, b in WorkCalendar.load().working_intervals(date(2025, 3, 10))]
        ['08:30-12:00', '13:30-17:30']
        """
        return [(start.astimezone(self.tz), end.astimezone(self.tz)) for start, end in self._spans(day)]

    # ------------------------------------------------------------------ instants
    def is_working_time(self, moment: datetime) -> bool:
        """Whether ``moment`` is inside office hours of a workday (``[start, end)``).

        Examples
        --------
        >>> tz = ZoneInfo("Asia/Shanghai")
        >>> cal = WorkCalendar.load()
        >>> cal.is_working_time(datetime(2025, 3, 10, 12, 30, tzinfo=tz))  # lunch break
        False
        """
        t = aware_utc(moment, "moment")
        return any(start <= t < end for start, end in self._spans(self._local_date(t)))

    def next_working_time(self, moment: datetime) -> datetime:
        """The first instant at or after ``moment`` inside office hours.

        Examples
        --------
        >>> tz = ZoneInfo("Asia/Shanghai")
        >>> WorkCalendar.load().next_working_time(datetime(2025, 10, 1, 9, 0, tzinfo=tz)).isoformat()
        '2025-10-09T08:30:00+08:00'
        """
        return self._next_working(aware_utc(moment, "moment")).astimezone(self.tz)

    def add(self, start: datetime, amount: float | Fraction | Decimal, unit: str) -> datetime:
        """The instant ``amount`` ``unit`` after ``start`` (a deadline).

        See the module docstring for the exact meaning of each unit.

        Parameters
        ----------
        start : datetime
            Timezone-aware instant; naive datetimes raise :class:`~routing.errors.NaiveDatetimeError`.
        amount : int, float, Fraction or Decimal
            ``0 <= amount <= MAX_AMOUNT``; 0 returns ``start`` in the calendar's zone.
        unit : str
            One of :data:`TIME_UNITS`.

        Returns
        -------
        datetime
            Aware, in the calendar's time zone.  For working units it is always inside
            or at the closing edge of office hours of a workday.

        Examples
        --------
        >>> tz = ZoneInfo("Asia/Shanghai")
        >>> cal = WorkCalendar.load()
        >>> friday_evening = datetime(2025, 3, 7, 19, 0, tzinfo=tz)
        >>> cal.add(friday_evening, 2, "working_hours").isoformat()
        '2025-03-10T10:30:00+08:00'
        >>> cal.add(friday_evening, 1, "working_days").isoformat()
        '2025-03-10T17:30:00+08:00'
        >>> cal.add(friday_evening, 2, "hours").isoformat()
        '2025-03-07T21:00:00+08:00'
        """
        t = aware_utc(start, "start")
        unit = parse_unit(unit)
        exact = check_amount(amount)
        if exact == 0:
            return t.astimezone(self.tz)
        if unit == "hours":
            return (t + timedelta(microseconds=_round_us(exact * 3600))).astimezone(self.tz)
        if unit == "calendar_days":
            # local wall-clock arithmetic: one calendar day is the same clock time tomorrow
            local = t.astimezone(self.tz) + timedelta(microseconds=_round_us(exact * 86400))
            return local.astimezone(UTC).astimezone(self.tz)
        if unit == "working_hours":
            return self._add_working(t, _round_us(exact * 3600)).astimezone(self.tz)
        return self._add_working_days(t, exact).astimezone(self.tz)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Office time between two instants (negative when ``b`` is before ``a``).

        Examples
        --------
        >>> tz = ZoneInfo("Asia/Shanghai")
        >>> cal = WorkCalendar.load()
        >>> before_holiday = datetime(2025, 9, 30, 17, 0, tzinfo=tz)
        >>> cal.working_time_between(before_holiday, datetime(2025, 10, 9, 9, 0, tzinfo=tz))
        datetime.timedelta(seconds=3600)
        """
        start, end = aware_utc(a, "a"), aware_utc(b, "b")
        if end < start:
            return -timedelta(microseconds=self._working_us(end, start))
        return timedelta(microseconds=self._working_us(start, end))

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Office time between two instants in seconds (negative when ``b`` is before ``a``).

        The measure of "handling time in working hours": it is additive
        (``ws(a, b) + ws(b, c) == ws(a, c)``) and inverts :meth:`add` for working hours,
        ``working_seconds_between(s, add(s, h, "working_hours")) == h * 3600``.

        Examples
        --------
        >>> tz = ZoneInfo("Asia/Shanghai")
        >>> cal = WorkCalendar.load()
        >>> friday = datetime(2025, 3, 7, 16, 0, tzinfo=tz)
        >>> cal.working_seconds_between(friday, datetime(2025, 3, 10, 9, 0, tzinfo=tz))
        7200.0
        """
        return self.working_time_between(a, b).total_seconds()

    # ------------------------------------------------------------------ internals
    def _local_date(self, day: date) -> date:
        if isinstance(day, datetime):
            return aware_utc(day, "day").astimezone(self.tz).date()
        if isinstance(day, date):
            return day
        raise InvalidInputError(
            f"day={day!r} is not a date; pass a datetime.date or an aware datetime.datetime",
            field="day",
            value=repr(day),
        )

    def _spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        day = self._local_date(day)
        spans = self._spans_cache.get(day)
        if spans is None:
            spans = ()
            if self.is_workday(day):
                spans = tuple(
                    (
                        datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC),
                        datetime.combine(day, end, tzinfo=self.tz).astimezone(UTC),
                    )
                    for start, end in self.hours.on(day)
                )
            self._spans_cache[day] = spans
        return spans

    def _stuck(self, since: date) -> CalendarDataError:
        return CalendarDataError(
            f"{self.source}: no workday in the {_MAX_IDLE_DAYS} days after {since}; "
            "allowed: a calendar with at least one workday every few weeks",
            file=self.source,
            value=since.isoformat(),
        )

    def _next_working(self, t: datetime) -> datetime:
        day = self._local_date(t)
        for _ in range(_MAX_IDLE_DAYS):
            for start, end in self._spans(day):
                if t < end:
                    return max(start, t)
            day += _ONE_DAY
        raise self._stuck(self._local_date(t))

    def _add_working(self, t: datetime, remaining_us: int) -> datetime:
        day, idle = self._local_date(t), 0
        while idle < _MAX_IDLE_DAYS:
            spans = self._spans(day)
            for start, end in spans:
                if end <= t:
                    continue
                begin = max(start, t)
                available = _us(end - begin)
                # "<=": a limit that runs out exactly at a closing time is due then, not
                # at the next opening (the earliest instant with enough working time)
                if remaining_us <= available:
                    return begin + timedelta(microseconds=remaining_us)
                remaining_us -= available
            idle = 0 if spans else idle + 1
            day += _ONE_DAY
        raise self._stuck(day - timedelta(days=idle))

    def _nth_workday(self, day: date, n: int) -> date:
        """The n-th workday after the workday ``day`` (``n == 0`` is ``day``)."""
        idle = 0
        while n > 0:
            day += _ONE_DAY
            if self.is_workday(day):
                n, idle = n - 1, 0
            else:
                idle += 1
                if idle >= _MAX_IDLE_DAYS:
                    raise self._stuck(day - timedelta(days=idle))
        return day

    def _day_us(self, day: date) -> int:
        return sum(_us(end - start) for start, end in self._spans(day))

    def _add_working_days(self, t: datetime, amount: Fraction) -> datetime:
        first = self._next_working(t)
        day0 = self._local_date(first)
        done = sum(_us(min(end, first) - start) for start, end in self._spans(day0) if start < first)
        # position on an axis where workday k after day0 spans [k, k + 1)
        target = Fraction(done, self._day_us(day0)) + amount
        whole = math.floor(target)
        part = target - whole
        if part == 0:
            # exactly a whole number of days from an opening: the close of the day before
            # is the same working instant and the earlier deadline
            return self._spans(self._nth_workday(day0, whole - 1))[-1][1]
        day = self._nth_workday(day0, whole)
        remaining = round(part * self._day_us(day))
        for start, end in self._spans(day):
            available = _us(end - start)
            if remaining <= available:
                return start + timedelta(microseconds=remaining)
            remaining -= available
        return self._spans(day)[-1][1]  # pragma: no cover - part < 1 always lands inside

    def _working_us(self, a: datetime, b: datetime) -> int:
        total = 0
        day, last = self._local_date(a), self._local_date(b)
        while day <= last:
            for start, end in self._spans(day):
                low, high = max(start, a), min(end, b)
                if high > low:
                    total += _us(high - low)
            day += _ONE_DAY
        return total


@lru_cache(maxsize=1)
def default_calendar() -> WorkCalendar:
    """The packaged calendar, loaded once.

    Examples
    --------
    >>> default_calendar() is default_calendar()
    True
    """
    return WorkCalendar.load()


# --------------------------------------------------------------------------- parsing
def _zone(name: str, source: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarDataError(
            f"{source}: field 'timezone': unknown time zone {name!r}; allowed: an IANA zone name "
            "like 'Asia/Shanghai'",
            file=source,
            field="timezone",
            value=name,
        ) from exc
