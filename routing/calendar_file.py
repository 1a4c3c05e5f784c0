"""Reading a working-time calendar file (``calendar.toml``) into a :class:`~routing.calendar.WorkCalendar`.

Every problem raises :class:`~routing.errors.CalendarDataError` naming the file, the
year and holiday, the field and the bad value (the file's header documents the fields).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from routing.calendar import (
    DEFAULT_INTERVALS,
    DEFAULT_TIMEZONE,
    Holiday,
    Season,
    WorkCalendar,
    WorkingHours,
    check_intervals,
)
from routing.errors import CalendarDataError

# A holiday range longer than this is a typo (the longest real one is 9 days).
_MAX_HOLIDAY_DAYS = 31
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def calendar_from_dict(cls: type[WorkCalendar], data: dict[str, Any], source: str) -> WorkCalendar:
    """Build a calendar (of class ``cls``) from the parsed TOML structure (see ``calendar.toml``)."""
    _only_keys(data, {"schema", "timezone", "working_hours", "year"}, source, "top level")
    schema = data.get("schema", 1)
    if schema != 1:
        raise CalendarDataError(
            f"{source}: field 'schema': {schema!r} is not supported; allowed: 1",
            file=source,
            field="schema",
            value=repr(schema),
        )
    timezone = data.get("timezone", DEFAULT_TIMEZONE)
    if not isinstance(timezone, str):
        raise CalendarDataError(
            f"{source}: field 'timezone': {timezone!r} is not an IANA zone name like 'Asia/Shanghai'",
            file=source,
            field="timezone",
            value=repr(timezone),
        )
    hours = _parse_hours(data.get("working_hours", {}), source)
    holidays: list[Holiday] = []
    years: list[int] = []
    entries = data.get("year", [])
    if not isinstance(entries, list):
        raise CalendarDataError(
            f"{source}: field 'year' must be an array of tables ([[year]])", file=source, field="year"
        )
    for entry in entries:
        year, year_holidays = _parse_year(entry, source)
        if year in years:
            raise CalendarDataError(
                f"{source}: year {year} is listed twice; allowed: one [[year]] table per year",
                file=source,
                field="year",
                value=year,
            )
        years.append(year)
        holidays.extend(year_holidays)
    return cls(holidays, hours=hours, timezone=timezone, years=years, source=source)


def _only_keys(table: object, allowed: set[str], source: str, where: str) -> None:
    if not isinstance(table, dict):
        raise CalendarDataError(f"{source}: {where} must be a table", file=source, where=where)
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CalendarDataError(
            f"{source}: {where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
            file=source,
            where=where,
            field=unknown[0],
            allowed=sorted(allowed),
        )


def _parse_time(value: object, source: str, where: str) -> time:
    found = _HHMM.match(value) if isinstance(value, str) else None
    if found is None:
        raise CalendarDataError(
            f"{source}: {where}: time {value!r} is not allowed; allowed: 'HH:MM' from 00:00 to 23:59",
            file=source,
            where=where,
            value=repr(value),
        )
    return time(int(found[1]), int(found[2]))


def _parse_intervals(value: object, source: str, where: str) -> tuple[tuple[time, time], ...]:
    if not isinstance(value, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in value):
        raise CalendarDataError(
            f"{source}: {where}: intervals {value!r} are not allowed; allowed: a list of "
            '["HH:MM", "HH:MM"] pairs',
            file=source,
            where=where,
            value=repr(value),
        )
    intervals = tuple((_parse_time(a, source, where), _parse_time(b, source, where)) for a, b in value)
    check_intervals(intervals, f"{source}: {where}")
    return intervals


def _parse_month_day(value: object, source: str, where: str) -> tuple[int, int]:
    found = _MMDD.match(value) if isinstance(value, str) else None
    if found is None:
        raise CalendarDataError(
            f"{source}: {where}: {value!r} is not allowed; allowed: 'MM-DD', e.g. '05-01'",
            file=source,
            where=where,
            value=repr(value),
        )
    return int(found[1]), int(found[2])


def _parse_hours(table: object, source: str) -> WorkingHours:
    _only_keys(table, {"intervals", "season"}, source, "working_hours")
    assert isinstance(table, dict)  # checked by _only_keys; narrows the type
    intervals = (
        _parse_intervals(table["intervals"], source, "working_hours.intervals")
        if "intervals" in table
        else DEFAULT_INTERVALS
    )
    seasons = []
    for index, entry in enumerate(table.get("season", []), start=1):
        where = f"working_hours.season #{index}"
        _only_keys(entry, {"name", "from", "to", "intervals"}, source, where)
        if "intervals" not in entry:
            raise CalendarDataError(
                f"{source}: {where}: field 'intervals' is missing", file=source, where=where
            )
        seasons.append(
            Season(
                name=str(entry.get("name", f"season {index}")),
                start=_parse_month_day(entry.get("from"), source, f"{where}, field 'from'"),
                end=_parse_month_day(entry.get("to"), source, f"{where}, field 'to'"),
                intervals=_parse_intervals(entry["intervals"], source, f"{where}, field 'intervals'"),
            )
        )
    return WorkingHours(intervals, tuple(seasons))


def _date_field(value: object, source: str, where: str, field: str) -> date:
    # TOML local dates come back as datetime.date; a datetime (with a time) is a mistake
    if not isinstance(value, date) or isinstance(value, datetime):
        raise CalendarDataError(
            f"{source}: {where}: field {field!r}: {value!r} is not allowed; allowed: a TOML local "
            "date like 2025-10-01 (unquoted)",
            file=source,
            where=where,
            field=field,
            value=repr(value),
        )
    return value


def _parse_year(entry: object, source: str) -> tuple[int, list[Holiday]]:
    _only_keys(entry, {"year", "notice", "url", "holiday"}, source, "[[year]]")
    assert isinstance(entry, dict)  # checked by _only_keys; narrows the type
    year = entry.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1949 <= year <= 2200:
        raise CalendarDataError(
            f"{source}: [[year]]: field 'year': {year!r} is not allowed; allowed: an integer year "
            "from 1949 to 2200",
            file=source,
            field="year",
            value=repr(year),
        )
    holidays = []
    for index, item in enumerate(entry.get("holiday", []), start=1):
        where = f"year {year}, holiday #{index}"
        _only_keys(item, {"name", "from", "to", "makeup_workdays"}, source, where)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise CalendarDataError(
                f"{source}: {where}: field 'name': {name!r} is not allowed; allowed: a non-empty "
                "Chinese holiday name like '春节'",
                file=source,
                where=where,
                field="name",
                value=repr(name),
            )
        where = f"year {year}, holiday {name!r}"
        start = _date_field(item.get("from"), source, where, "from")
        end = _date_field(item.get("to"), source, where, "to")
        makeup = item.get("makeup_workdays", [])
        if not isinstance(makeup, list):
            raise CalendarDataError(
                f"{source}: {where}: field 'makeup_workdays' must be a list of dates",
                file=source,
                where=where,
                field="makeup_workdays",
            )
        makeup_days = tuple(_date_field(day, source, where, "makeup_workdays") for day in makeup)
        for day in (start, end, *makeup_days):
            # a notice may reach into a neighbouring year (2012's 元旦 had a 2011 make-up day)
            if abs(day.year - year) > 1:
                raise CalendarDataError(
                    f"{source}: {where}: date {day} is not allowed in year {year}; allowed: dates "
                    f"from {year - 1} to {year + 1}",
                    file=source,
                    where=where,
                    value=day.isoformat(),
                )
        if not 0 <= (end - start).days < _MAX_HOLIDAY_DAYS:
            raise CalendarDataError(
                f"{source}: {where}: range {start}..{end} is not allowed; allowed: 'to' on or after "
                f"'from', at most {_MAX_HOLIDAY_DAYS} days",
                file=source,
                where=where,
                value=f"{start}..{end}",
            )
        holidays.append(Holiday(name.strip(), year, start, end, makeup_days))
    return year, holidays
